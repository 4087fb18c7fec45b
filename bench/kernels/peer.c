/* OpenBLAS as the benchmark's peer (Debian libopenblas-dev; the benchmark only). */
#include "bench_peer.h"

#ifdef HAVE_OPENBLAS
#include <cblas.h>

int bench_have_peer(void) { return 1; }
const char *bench_peer_name(void) { return OPENBLAS_VERSION + 1; /* " OpenBLAS 0.3.21 " */ }
void bench_peer_set_threads(int n) { openblas_set_num_threads(n); }
void bench_peer_sgemm(int tA, int tB, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, tA ? CblasTrans : CblasNoTrans, tB ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda,
                B, ldb, 0.0f, C, ldc);
}
void bench_peer_sgemv(int N, int K, const float *W, int ldw, const float *x, float *y) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, W, ldw, x, 1, 0.0f, y, 1);
}
#else
int bench_have_peer(void) { return 0; }
const char *bench_peer_name(void) { return "none (built without OpenBLAS)"; }
void bench_peer_set_threads(int n) { (void)n; }
void bench_peer_sgemm(int tA, int tB, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float *C, int ldc) {
    (void)tA, (void)tB, (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)ldb, (void)C, (void)ldc;
}
void bench_peer_sgemv(int N, int K, const float *W, int ldw, const float *x, float *y) {
    (void)N, (void)K, (void)W, (void)ldw, (void)x, (void)y;
}
#endif
