/* fp32 section: shrink's GEMM and GEMV against OpenBLAS sgemm / sgemv, interleaved, at
 * 512^3, 1024^3 and every non-depthwise zoo layer in the layout shrink's ops call it:
 *   Linear  Y[B,out] = X[B,in] W[out,in]^T        -> gemm(0, 1, B, out, in); batch 1: GEMV
 *   Conv    Y[OC, B*P] = W[OC, K] col[K, B*P]     -> gemm(0, 0, OC, B*P, K)
 * plus a "zoo total" row: the summed time of all those layers. */
#include <stdio.h>

#include "bench_common.h"
#include "bench_peer.h"
#include "kernels/kernels.h"
#include "shrink/tensor.h"

typedef struct gemm_job {
    int tA, tB, M, N, K, lda, ldb;
    const float *A, *B;
    float *C;
} gemm_job;

static void run_shrink(void *p) {
    gemm_job *j = p;
    shr_gemm_f32(j->tA, j->tB, j->M, j->N, j->K, 1.0f, j->A, j->lda, j->B, j->ldb, 0.0f, j->C, j->N);
}
static void run_peer(void *p) {
    gemm_job *j = p;
    bench_peer_sgemm(j->tA, j->tB, j->M, j->N, j->K, j->A, j->lda, j->B, j->ldb, j->C, j->N);
}
static void run_gemv_shrink(void *p) {
    gemm_job *j = p; /* A = W (N x K), B = x */
    shr_gemv_f32(j->N, j->K, j->A, j->K, j->B, NULL, j->C);
}
static void run_gemv_peer(void *p) {
    gemm_job *j = p;
    bench_peer_sgemv(j->N, j->K, j->A, j->K, j->B, j->C);
}

/* Times shrink (and the peer) on one GEMM; adds the seconds to the totals. */
static void one(bench_ctx *c, const char *shape, int tA, int tB, int M, int N, int K, double *tot_s, double *tot_p) {
    size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    float *A = shr_alloc(na * sizeof *A), *B = shr_alloc(nb * sizeof *B), *C = shr_alloc(nc * sizeof *C);
    if (!A || !B || !C) goto out;
    bench_fill_f32(A, na, 1);
    bench_fill_f32(B, nb, 2);
    gemm_job j = {tA, tB, M, N, K, tA ? M : K, tB ? K : N, A, B, C};
    int gemv = M == 1 && tB && !tA; /* a batch-1 Linear: shrink runs it as a GEMV */
    if (gemv) j = (gemm_job){0, 0, 1, N, K, K, 0, B, A, C};
    bench_case cs[2] = {{"shrink", gemv ? run_gemv_shrink : run_shrink, &j},
                        {"openblas", gemv ? run_gemv_peer : run_peer, &j}};
    double sec[2] = {0, 0};
    bench_time_interleaved(c, cs, bench_have_peer() ? 2 : 1, sec);
    double ops = 2.0 * M * N * K, bytes = gemv ? 4.0 * N * K : 0;
    const char *kern = gemv ? "sgemv" : "sgemm";
    char name[48];
    snprintf(name, sizeof name, "shrink %s", kern);
    bench_row(c, "fp32", name, shape, ops, "GFLOP/s", bytes, sec[0], bench_have_peer() ? "openblas" : NULL, sec[1]);
    if (bench_have_peer()) {
        snprintf(name, sizeof name, "openblas %s", kern);
        bench_row(c, "fp32", name, shape, ops, "GFLOP/s", bytes, sec[1], NULL, 0);
    }
    if (tot_s) *tot_s += sec[0];
    if (tot_p) *tot_p += sec[1];
out:
    shr_free(A);
    shr_free(B);
    shr_free(C);
}

void bench_section_fp32(bench_ctx *c) {
    one(c, "512x512x512", 0, 0, 512, 512, 512, NULL, NULL);
    one(c, "1024x1024x1024", 0, 0, 1024, 1024, 1024, NULL, NULL);
    one(c, "gemv 1024x1024", 0, 1, 1, 1024, 1024, NULL, NULL);
    one(c, "gemv 4096x1024", 0, 1, 1, 4096, 1024, NULL, NULL);
    if (!c->quick) one(c, "gemv 4096x4096", 0, 1, 1, 4096, 4096, NULL, NULL);
    const int batches[2] = {64, 1};
    for (int b = 0; b < 2; b++) {
        bench_layer L[64];
        int n = bench_zoo_layers(batches[b], L, 64);
        double ts = 0, tp = 0, ops = 0;
        for (int i = 0; i < n; i++) {
            if (L[i].depthwise) continue;
            char shape[96];
            snprintf(shape, sizeof shape, "%.63s b%d", L[i].name, L[i].batch);
            if (L[i].C == 0) /* Linear */
                one(c, shape, 0, 1, L[i].M, L[i].N, L[i].K, &ts, &tp);
            else
                one(c, shape, 0, 0, L[i].N, L[i].M, L[i].K, &ts, &tp);
            ops += 2.0 * L[i].M * L[i].N * L[i].K;
        }
        char shape[32];
        snprintf(shape, sizeof shape, "zoo total b%d", batches[b]);
        bench_row(c, "fp32", "shrink (sum of layers)", shape, ops, "GFLOP/s", 0, ts,
                  bench_have_peer() ? "openblas" : NULL, tp);
    }
}
