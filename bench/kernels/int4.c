/* int4 weight-only section: shr_i4_gemv / shr_i4_gemm against shrink's fp32 GEMV / GEMM
 * on the dequantized weights, interleaved in one measurement per shape.
 *   GEMV (batch 1) at 1024x1024, 4096x1024, 4096x4096 (N x K, out x in), G = 32/64/128,
 *   symmetric, plus asymmetric at G = 128. GB/s counts the bytes read (packed weights,
 *   scales, zero points, x); the % is of the memory bandwidth measured in the same run.
 *   A 4096x4096 int4 matrix (8.5 MiB) stays in L3 between calls; the "6 layers" row cycles
 *   through six such matrices (51 MiB > 32 MiB L3), which is the DRAM regime of a real model.
 *   GEMM Y[M,N] = X[M,K] W^T at M = 4, 16, 64, 256 (1024x1024, 4096x1024) and the zoo's
 *   Linear layers at batch 1 and 64. */
#include <stdio.h>

#include "bench_common.h"
#include "kernels/int4.h"
#include "kernels/kernels.h"
#include "shrink/tensor.h"

#define ROT 6 /* matrices cycled through by the DRAM-regime contender */

typedef struct job {
    int M, N, K;
    const float *W, *X; /* f32 weights (dequantized), input */
    float *Y;
    shr_i4_mat *q[ROT];
    int nq, next;
} job;

static void run_f32(void *p) {
    job *j = p;
    if (j->M == 1)
        shr_gemv_f32(j->N, j->K, j->W, j->K, j->X, NULL, j->Y);
    else
        shr_gemm_f32(0, 1, j->M, j->N, j->K, 1.0f, j->X, j->K, j->W, j->K, 0.0f, j->Y, j->N);
}

static void run_i4(void *p) {
    job *j = p;
    const shr_i4_mat *m = j->q[j->next];
    j->next = (j->next + 1) % j->nq;
    if (j->M == 1)
        shr_i4_gemv(m, j->X, NULL, j->Y);
    else
        shr_i4_gemm(j->M, j->X, j->K, m, NULL, j->Y, j->N);
}

/* Bytes one call reads: packed weights, scales, zero points, x. */
static double i4_bytes(const shr_i4_mat *m) {
    double ng = (double)m->N * m->ngroups;
    return (double)m->N * m->ldq + ng * 4.0 + (m->zero ? ng : 0.0) + 4.0 * m->K;
}

typedef struct variant {
    int group, asym, rot;
} variant;

/* Times fp32 and each int4 variant on one shape, interleaved; one row each. */
static void one(bench_ctx *c, const char *shape, int M, int N, int K, const variant *v, int nv) {
    size_t nw = (size_t)N * K, nx = (size_t)M * K, ny = (size_t)M * N;
    float *W = shr_alloc(nw * sizeof(float)), *X = shr_alloc(nx * sizeof(float)), *Y = shr_alloc(ny * sizeof(float));
    job jobs[8] = {{0}};
    bench_case cs[9];
    double sec[9] = {0};
    int ok = W && X && Y && nv <= 8;
    if (ok) {
        bench_fill_f32(W, nw, 11);
        bench_fill_f32(X, nx, 12);
    }
    for (int i = 0; ok && i < nv; i++) {
        jobs[i] = (job){M, N, K, NULL, X, Y, {NULL}, v[i].rot ? ROT : 1, 0};
        for (int r = 0; ok && r < jobs[i].nq; r++) {
            if (r) bench_fill_f32(W, nw, 100u + (unsigned)r);
            ok = shr_i4_quantize(W, K, N, K, v[i].group, v[i].asym, &jobs[i].q[r]) == SHR_OK;
        }
        cs[i + 1] = (bench_case){"int4", run_i4, &jobs[i]};
    }
    if (ok) {
        /* fp32 baseline: the dequantized weights of the first variant */
        shr_i4_dequantize(jobs[0].q[0], W, K);
        job f = {M, N, K, W, X, Y, {NULL}, 0, 0};
        cs[0] = (bench_case){"f32", run_f32, &f};
        bench_time_interleaved(c, cs, nv + 1, sec);
        double ops = 2.0 * M * N * K;
        const char *base = M == 1 ? "shrink sgemv" : "shrink sgemm";
        bench_row(c, "int4", base, shape, ops, "GFLOP/s", M == 1 ? 4.0 * (double)nw + 4.0 * K : 0, sec[0], NULL, 0);
        for (int i = 0; i < nv; i++) {
            char name[48];
            snprintf(name, sizeof name, "int4 g%d%s%s", v[i].group, v[i].asym ? " asym" : "",
                     v[i].rot ? " 6 layers" : "");
            bench_row(c, "int4", name, shape, ops, "GFLOP/s", M == 1 ? i4_bytes(jobs[i].q[0]) : 0, sec[i + 1], base,
                      sec[0]);
        }
    } else {
        fprintf(stderr, "int4 bench: out of memory for %s\n", shape);
    }
    for (int i = 0; i < nv; i++)
        for (int r = 0; r < jobs[i].nq; r++) shr_i4_mat_free(jobs[i].q[r]);
    shr_free(W), shr_free(X), shr_free(Y);
}

void bench_section_int4(bench_ctx *c) {
    const variant gemv_v[] = {{32, 0, 0}, {64, 0, 0}, {128, 0, 0}, {128, 1, 0}};
    const variant big_v[] = {{32, 0, 0}, {64, 0, 0}, {128, 0, 0}, {128, 1, 0}, {128, 0, 1}};
    one(c, "gemv 1024x1024", 1, 1024, 1024, gemv_v, 4);
    one(c, "gemv 4096x1024", 1, 4096, 1024, gemv_v, 4);
    one(c, "gemv 4096x4096", 1, 4096, 4096, big_v, c->quick ? 4 : 5);
    const variant gemm_v[] = {{32, 0, 0}, {128, 0, 0}};
    const int Ms[] = {4, 16, 64, 256};
    for (int i = 0; i < 4; i++) {
        if (c->quick && Ms[i] != 64) continue;
        char shape[64];
        snprintf(shape, sizeof shape, "gemm %dx1024x1024", Ms[i]);
        one(c, shape, Ms[i], 1024, 1024, gemm_v, 2);
        snprintf(shape, sizeof shape, "gemm %dx4096x1024", Ms[i]);
        one(c, shape, Ms[i], 4096, 1024, gemm_v, 2);
    }
    const int batches[2] = {1, 64};
    for (int b = 0; b < 2; b++) {
        bench_layer L[64];
        int n = bench_zoo_layers(batches[b], L, 64);
        for (int i = 0; i < n; i++) {
            if (L[i].C != 0 || L[i].depthwise) continue; /* int4 weight-only serves Linear layers */
            char shape[96];
            snprintf(shape, sizeof shape, "%.63s b%d", L[i].name, L[i].batch);
            one(c, shape, L[i].M, L[i].N, L[i].K, gemm_v, 2);
        }
    }
}
