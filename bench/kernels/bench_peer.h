/* The peer library for side-by-side rows: OpenBLAS when the benchmark was built with it
 * (HAVE_OPENBLAS), else nothing (rows against the peer are skipped). */
#ifndef SHR_BENCH_PEER_H
#define SHR_BENCH_PEER_H

int bench_have_peer(void);
const char *bench_peer_name(void);
void bench_peer_set_threads(int n);
/* Row-major C[M,N] = op(A) op(B) (beta 0), as cblas_sgemm. */
void bench_peer_sgemm(int tA, int tB, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float *C, int ldc);
/* y[N] = W[N,K] x (row-major), as cblas_sgemv. */
void bench_peer_sgemv(int N, int K, const float *W, int ldw, const float *x, float *y);

#endif
