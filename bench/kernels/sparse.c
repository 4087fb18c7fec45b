/* sparse section: each sparse format against our dense kernels, timed interleaved in one call,
 *   batch 1:  y = W x        dense = shr_gemv_f32
 *   batch 64: Y = X W^T      dense = shr_gemm_f32(0, 1, ...)
 * at 1024x1024 and 4096x1024 (N x K), sparsity 50/70/90/95 %. Each format gets the zero
 * pattern it is made for: CSR unstructured (random) zeros; 1x4 / 4x1 / 8x1 whole blocks of
 * zeros; "8x1 on random" shows a block format fed unstructured zeros. int8 rows: "i8" =
 * int8 weights with f32 activations (weight-only), "q8" = int8 weights x uint8 activations
 * (s32 sums). Then 2:4 and 1:4 against dense; batch 1 at 4096x4096 (64 MB: from memory, not
 * cache); the zoo's layers at batch 64 (conv layers in the convolution layout, W x col); and
 * the per-layer format choice (SHR_BENCH_MODEL=FILE.shrk instead: that model's layers and plan
 * at batch 1, see model_profile; SHR_BENCH_FIT=1: the sweep behind the runtime's cost model,
 * fit_sweep). Rates count
 * the stored nonzeros only (2 ops each); ratio = dense time / this time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "kernels/kernels.h"
#include "kernels/sparse.h"
#include "shrink/shrink.h"

typedef struct sp_run {
    const shr_spmat *A; /* NULL: the dense kernel on W */
    const float *W;
    int q8, M, N, K, kn; /* kn: convolution layout, Y[N,M] = W X[K,M] */
    const float *X;
    const unsigned char *Xq;
    float *Y;
} sp_run;

static void run_one(void *p) {
    const sp_run *r = p;
    static const shr_sp_qinput q = {0, 128, 0.02f};
    if (r->kn) {
        if (!r->A)
            shr_gemm_f32(0, 0, r->N, r->M, r->K, 1.0f, r->W, r->K, r->X, r->M, 0.0f, r->Y, r->M);
        else if (r->q8)
            shr_spmm_q8_kn(r->A, r->M, r->Xq, r->M, &q, NULL, r->Y, r->M);
        else
            shr_spmm_f32_kn(r->A, r->M, r->X, r->M, NULL, r->Y, r->M);
    } else if (!r->A) {
        if (r->M == 1)
            shr_gemv_f32(r->N, r->K, r->W, r->K, r->X, NULL, r->Y);
        else
            shr_gemm_f32(0, 1, r->M, r->N, r->K, 1.0f, r->X, r->K, r->W, r->K, 0.0f, r->Y, r->N);
    } else if (r->q8) {
        shr_spmm_q8(r->A, r->M, r->Xq, r->K, &q, NULL, r->Y, r->N);
    } else {
        shr_spmm_f32(r->A, r->M, r->X, r->K, NULL, r->Y, r->N);
    }
}

static unsigned rng = 99u;
static double unif(void) { return (double)((rng = rng * 1664525u + 1013904223u) >> 8) / 16777216.0; }

/* W random in [-1, 1), then aligned br x bc blocks zeroed with probability s (1x1: unstructured);
 * keep > 0: only the `keep` largest of every 4 consecutive k survive. */
static void prune(float *W, int N, int K, double s, int br, int bc, int keep) {
    bench_fill_f32(W, (size_t)N * K, (unsigned)(N * 31 + K + (int)(s * 1000) + br * 7 + bc));
    for (int n0 = 0; n0 < N; n0 += br)
        for (int k0 = 0; k0 < K; k0 += bc)
            if (!keep && unif() < s)
                for (int n = n0; n < n0 + br && n < N; n++)
                    for (int k = k0; k < k0 + bc && k < K; k++) W[(size_t)n * K + k] = 0.0f;
    if (keep)
        for (int n = 0; n < N; n++) /* keep the largest `keep` of every 4 */
            for (int g = 0; g < K; g += 4) {
                float *w = W + (size_t)n * K + g;
                int len = K - g < 4 ? K - g : 4;
                for (int drop = 0; drop < len - keep; drop++) {
                    int best = -1;
                    for (int t = 0; t < len; t++)
                        if (w[t] != 0.0f && (best < 0 || w[t] * w[t] < w[best] * w[best])) best = t;
                    if (best >= 0) w[best] = 0.0f;
                }
            }
}

typedef struct contender {
    const char *name;
    shr_sp_format format;
    shr_sp_dtype dtype;
    int q8, br, bc, keep; /* pattern */
} contender;

#define MAX_C 14

/* Times dense and each contender on its own pruned weight; one row each, ratio vs dense.
 * kn: the convolution layout; tag (or "") names the layer. */
static void compare(bench_ctx *c, int N, int K, int M, double s, const contender *cs, int n, const char *tag, int kn) {
    size_t nw = (size_t)N * K;
    float *Wd = shr_alloc(nw * 4), *W = shr_alloc(nw * 4), *X = shr_alloc((size_t)M * K * 4);
    float *Y = shr_alloc((size_t)M * N * 4);
    unsigned char *Xq = shr_alloc((size_t)M * K);
    shr_spmat A[MAX_C];
    memset(A, 0, sizeof A);
    sp_run runs[MAX_C + 1];
    bench_case bc[MAX_C + 1];
    double sec[MAX_C + 1], nnz[MAX_C];
    int ok = Wd && W && X && Y && Xq && n <= MAX_C;
    if (ok) {
        bench_fill_f32(Wd, nw, 5);
        bench_fill_f32(X, (size_t)M * K, 6);
        bench_fill_u8(Xq, (size_t)M * K, 0, 255, 7);
        runs[0] = (sp_run){NULL, Wd, 0, M, N, K, kn, X, Xq, Y};
        bc[0] = (bench_case){"dense", run_one, &runs[0]};
    }
    for (int i = 0; i < n && ok; i++) {
        prune(W, N, K, s, cs[i].br, cs[i].bc, cs[i].keep);
        ok = shr_spmat_from_dense(&A[i], cs[i].format, cs[i].dtype, N, K, W, K) == SHR_OK;
        nnz[i] = (double)shr_spmat_nnz(&A[i]);
        runs[i + 1] = (sp_run){&A[i], NULL, cs[i].q8, M, N, K, kn, X, Xq, Y};
        bc[i + 1] = (bench_case){cs[i].name, run_one, &runs[i + 1]};
    }
    if (ok) {
        bench_time_interleaved(c, bc, n + 1, sec);
        char shape[96], kern[64];
        if (tag[0])
            snprintf(shape, sizeof shape, "%.60s s%.0f", tag, s * 100);
        else
            snprintf(shape, sizeof shape, "%dx%d s%.0f b%d", N, K, s * 100, M);
        bench_row(c, "sparse", M == 1 && !kn ? "dense sgemv" : "dense sgemm", shape, 2.0 * N * K * M, "GFLOP/s",
                  M == 1 ? 4.0 * nw : 0, sec[0], NULL, 0);
        for (int i = 0; i < n; i++) {
            snprintf(kern, sizeof kern, "%s%s", cs[i].name, kn ? " (conv)" : "");
            double bytes = M == 1 ? (double)shr_spmat_bytes(&A[i]) : 0;
            bench_row(c, "sparse", kern, shape, 2.0 * nnz[i] * M, cs[i].dtype == SHR_SP_F32 ? "GFLOP/s" : "GOP/s",
                      bytes, sec[i + 1], "dense", sec[0]);
        }
    } else {
        fprintf(stderr, "sparse bench: setup failed for %dx%d\n", N, K);
    }
    for (int i = 0; i < MAX_C; i++) shr_spmat_free(&A[i]);
    shr_free(Wd), shr_free(W), shr_free(X), shr_free(Y), shr_free(Xq);
}

/* The per-layer choice on an unstructured pruned weight: the winner and every format's size. */
static void choose(bench_ctx *c, int N, int K, int M, double s, shr_sp_dtype dt) {
    float *W = shr_alloc((size_t)N * K * 4);
    if (!W) return;
    prune(W, N, K, s, 1, 1, 0);
    shr_spmat A;
    shr_sp_candidate rep[SHR_SP_NFORMATS];
    if (shr_spmat_choose(&A, dt, 0, N, K, W, K, M, 0, rep) == SHR_OK) {
        char kern[64], shape[96];
        snprintf(kern, sizeof kern, "choose %s -> %s", dt == SHR_SP_F32 ? "f32" : "i8", shr_sp_format_name(A.format));
        snprintf(shape, sizeof shape, "%dx%d s%.0f b%d", N, K, s * 100, M);
        bench_row(c, "sparse", kern, shape, 2.0 * (double)shr_spmat_nnz(&A) * M, "GFLOP/s", 0,
                  rep[A.format].seconds, "dense", rep[SHR_SP_DENSE].seconds);
        FILE *f = c->json ? stderr : stdout;
        fprintf(f, "         candidates:");
        for (int i = 0; i < SHR_SP_NFORMATS; i++)
            if (rep[i].available)
                fprintf(f, " %s %.1fus %zuKB;", shr_sp_format_name((shr_sp_format)i), rep[i].seconds * 1e6,
                        rep[i].bytes >> 10);
        fprintf(f, "\n");
        shr_spmat_free(&A);
    }
    shr_free(W);
}

/* SHR_BENCH_MODEL=FILE.shrk: where a model's batch-1 time goes instead of the sections below:
 * each Linear layer's weight in dense (GEMV) / CSR / 4x1 / 8x1, then the whole plan as the
 * runtime compiles it (formats by its cost model) and with SHRINK_SPARSE=off, interleaved. */
typedef struct plan_run {
    shr_plan *p;
    const float *x;
} plan_run;

static void run_plan(void *arg) {
    const plan_run *r = arg;
    const float *y;
    shr_plan_run(r->p, r->x, 1, &y);
}

static void model_profile(bench_ctx *c, const char *path) {
    static const contender layer_set[] = {{"csr f32", SHR_SP_CSR, SHR_SP_F32, 0, 1, 1, 0},
                                          {"4x1 f32", SHR_SP_4X1, SHR_SP_F32, 0, 4, 1, 0},
                                          {"8x1 f32", SHR_SP_8X1, SHR_SP_F32, 0, 8, 1, 0}};
    shr_graph *g = NULL;
    shr_plan *p[2] = {NULL, NULL};
    if (shr_model_load(path, &g) != SHR_OK) {
        fprintf(stderr, "sparse bench: %s\n", shr_last_error());
        return;
    }
    float X[4096] = {0}, Y[4096];
    bench_fill_f32(X, 4096, 3);
    for (int k = 0; k < g->n_nodes; k++) {
        const shr_node *n = &g->nodes[k];
        const shr_tensor *w = n->op == SHR_OP_LINEAR && n->n_inputs > 1 ? g->values[n->inputs[1]].data : NULL;
        if (!w || w->ndim != 2 || w->shape[1] > 4096 || w->shape[0] > 4096) continue;
        int N = (int)w->shape[0], K = (int)w->shape[1];
        shr_spmat A[3];
        memset(A, 0, sizeof A);
        sp_run runs[4];
        bench_case bc[4];
        double sec[4];
        runs[0] = (sp_run){NULL, shr_f32(w), 0, 1, N, K, 0, X, NULL, Y};
        bc[0] = (bench_case){"dense", run_one, &runs[0]};
        int ok = 1;
        for (int i = 0; i < 3 && ok; i++) {
            ok = shr_spmat_from_dense(&A[i], layer_set[i].format, SHR_SP_F32, N, K, shr_f32(w), K) == SHR_OK;
            runs[i + 1] = (sp_run){&A[i], NULL, 0, 1, N, K, 0, X, NULL, Y};
            bc[i + 1] = (bench_case){layer_set[i].name, run_one, &runs[i + 1]};
        }
        if (ok) {
            bench_time_interleaved(c, bc, 4, sec);
            char shape[96];
            snprintf(shape, sizeof shape, "%.40s %dx%d nz %lld", n->name, N, K, (long long)shr_tensor_count_nonzero(w));
            bench_row(c, "sparse", "dense sgemv", shape, 2.0 * N * K, "GFLOP/s", 0, sec[0], NULL, 0);
            for (int i = 0; i < 3; i++)
                bench_row(c, "sparse", layer_set[i].name, shape, 2.0 * (double)shr_spmat_nnz(&A[i]), "GFLOP/s", 0,
                          sec[i + 1], "dense", sec[0]);
            fprintf(c->json ? stderr : stdout, "         %s: dense %.2f us, csr %.2f us, 4x1 %.2f us, 8x1 %.2f us\n",
                    n->name, sec[0] * 1e6, sec[1] * 1e6, sec[2] * 1e6, sec[3] * 1e6);
        }
        for (int i = 0; i < 3; i++) shr_spmat_free(&A[i]);
    }
    /* the whole plan: as compiled, and with every layer dense */
    int ok = shr_plan_create(g, 1, &p[0]) == SHR_OK;
    setenv("SHRINK_SPARSE", "off", 1);
    ok = ok && shr_plan_create(g, 1, &p[1]) == SHR_OK;
    unsetenv("SHRINK_SPARSE");
    int64_t in = 1;
    for (int d = 1; d < g->values[g->input].ndim; d++) in *= g->values[g->input].shape[d];
    float *x = shr_alloc((size_t)in * sizeof(float));
    if (ok && x) {
        bench_fill_f32(x, (size_t)in, 4);
        plan_run pr[2] = {{p[0], x}, {p[1], x}};
        bench_case bc[2] = {{"plan", run_plan, &pr[0]}, {"plan SHRINK_SPARSE=off", run_plan, &pr[1]}};
        double sec[2];
        bench_time_interleaved(c, bc, 2, sec);
        bench_row(c, "sparse", "plan SHRINK_SPARSE=off", path, 0, "GFLOP/s", 0, sec[1], NULL, 0);
        bench_row(c, "sparse", "plan", path, 0, "GFLOP/s", 0, sec[0], "SHRINK_SPARSE=off", sec[1]);
        fprintf(c->json ? stderr : stdout, "         plan %.2f us, SHRINK_SPARSE=off %.2f us\n", sec[0] * 1e6,
                sec[1] * 1e6);
    }
    shr_free(x);
    shr_plan_free(p[0]);
    shr_plan_free(p[1]);
    shr_graph_free(g);
}

/* SHR_BENCH_FIT=1: the sweep the runtime's cost model (runtime/plan_sparse.h) was fitted to,
 * one line per weight and format: N K block-rows-pruned density format blocks block-rows us.
 * Batch 1 and 64, 1 thread; each weight's zeros in br x 1 blocks (br = 1: unstructured). */
static void fit_sweep(bench_ctx *c) {
    static const int shapes[5][2] = {{300, 784}, {100, 300}, {1024, 1024}, {128, 512}, {512, 256}};
    static const int brs[3] = {1, 4, 8}, batches[2] = {1, 64};
    static const double dens[7] = {0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.45};
    static const shr_sp_format F[4] = {SHR_SP_DENSE, SHR_SP_CSR, SHR_SP_4X1, SHR_SP_8X1};
    for (int b = 0; b < 2; b++)
        for (int sh = 0; sh < 5; sh++)
            for (int ib = 0; ib < 3; ib++)
                for (int id = 0; id < 7; id++) {
                    int N = shapes[sh][0], K = shapes[sh][1], M = batches[b];
                    float *W = shr_alloc((size_t)N * K * 4), *X = shr_alloc((size_t)M * K * 4);
                    float *Y = shr_alloc((size_t)M * N * 4);
                    shr_spmat A[4];
                    memset(A, 0, sizeof A);
                    sp_run runs[4];
                    bench_case bc[4];
                    double sec[4];
                    int ok = W && X && Y;
                    if (ok) {
                        prune(W, N, K, 1.0 - dens[id], brs[ib], 1, 0);
                        bench_fill_f32(X, (size_t)M * K, 6);
                    }
                    for (int f = 0; f < 4 && ok; f++) {
                        ok = shr_spmat_from_dense(&A[f], F[f], SHR_SP_F32, N, K, W, K) == SHR_OK;
                        runs[f] = (sp_run){f ? &A[f] : NULL, W, 0, M, N, K, 0, X, NULL, Y};
                        bc[f] = (bench_case){shr_sp_format_name(F[f]), run_one, &runs[f]};
                    }
                    if (ok) bench_time_interleaved(c, bc, 4, sec);
                    for (int f = 0; f < 4 && ok; f++)
                        fprintf(c->json ? stderr : stdout, "fit b%d %d %d %d %.2f %s %lld %d %.4f\n", M, N, K, brs[ib],
                                dens[id], shr_sp_format_name(F[f]), (long long)A[f].nblocks, A[f].nbrow, sec[f] * 1e6);
                    for (int f = 0; f < 4; f++) shr_spmat_free(&A[f]);
                    shr_free(W), shr_free(X), shr_free(Y);
                }
}

void bench_section_sparse(bench_ctx *c) {
    const char *model = getenv("SHR_BENCH_MODEL");
    if (model) {
        model_profile(c, model);
        return;
    }
    if (getenv("SHR_BENCH_FIT")) {
        fit_sweep(c);
        return;
    }
    static const contender main_set[] = {
        {"csr f32", SHR_SP_CSR, SHR_SP_F32, 0, 1, 1, 0},  {"csr i8", SHR_SP_CSR, SHR_SP_I8, 0, 1, 1, 0},
        {"csr q8", SHR_SP_CSR, SHR_SP_I8, 1, 1, 1, 0},    {"1x4 f32", SHR_SP_1X4, SHR_SP_F32, 0, 1, 4, 0},
        {"1x4 i8", SHR_SP_1X4, SHR_SP_I8, 0, 1, 4, 0},    {"1x4 q8", SHR_SP_1X4, SHR_SP_I8, 1, 1, 4, 0},
        {"4x1 f32", SHR_SP_4X1, SHR_SP_F32, 0, 4, 1, 0},  {"4x1 i8", SHR_SP_4X1, SHR_SP_I8, 0, 4, 1, 0},
        {"4x1 q8", SHR_SP_4X1, SHR_SP_I8, 1, 4, 1, 0},    {"8x1 f32", SHR_SP_8X1, SHR_SP_F32, 0, 8, 1, 0},
        {"8x1 i8", SHR_SP_8X1, SHR_SP_I8, 0, 8, 1, 0},    {"8x1 q8", SHR_SP_8X1, SHR_SP_I8, 1, 8, 1, 0},
        {"8x1 f32 on random", SHR_SP_8X1, SHR_SP_F32, 0, 1, 1, 0}};
    static const contender nm_set[] = {
        {"2:4 f32", SHR_SP_NM24, SHR_SP_F32, 0, 1, 1, 2}, {"2:4 i8", SHR_SP_NM24, SHR_SP_I8, 0, 1, 1, 2},
        {"2:4 q8", SHR_SP_NM24, SHR_SP_I8, 1, 1, 1, 2},   {"1:4 f32", SHR_SP_NM14, SHR_SP_F32, 0, 1, 1, 1},
        {"1:4 i8", SHR_SP_NM14, SHR_SP_I8, 0, 1, 1, 1},   {"1:4 q8", SHR_SP_NM14, SHR_SP_I8, 1, 1, 1, 1}};
    static const double sparsity[4] = {0.5, 0.7, 0.9, 0.95};
    const int shapes[2][2] = {{1024, 1024}, {4096, 1024}}, batches[2] = {1, 64};
    int n_main = (int)(sizeof main_set / sizeof main_set[0]), n_nm = (int)(sizeof nm_set / sizeof nm_set[0]);
    for (int sh = 0; sh < (c->quick ? 1 : 2); sh++)
        for (int b = 0; b < 2; b++) {
            for (int s = 0; s < 4; s++)
                compare(c, shapes[sh][0], shapes[sh][1], batches[b], sparsity[s], main_set, n_main, "", 0);
            compare(c, shapes[sh][0], shapes[sh][1], batches[b], 0.0, nm_set, n_nm, "", 0);
        }
    if (!c->quick) { /* batch 1 on a weight larger than the caches: the memory-bound regime */
        compare(c, 4096, 4096, 1, 0.9, main_set, n_main, "", 0);
        compare(c, 4096, 4096, 1, 0.0, nm_set, n_nm, "", 0);
        /* the zoo's layers at batch 64, 90 % sparse: Linear as X W^T, Conv as W col (conv layout) */
        static const contender zoo_set[] = {{"csr f32", SHR_SP_CSR, SHR_SP_F32, 0, 1, 1, 0},
                                            {"8x1 f32", SHR_SP_8X1, SHR_SP_F32, 0, 8, 1, 0},
                                            {"8x1 q8", SHR_SP_8X1, SHR_SP_I8, 1, 8, 1, 0}};
        bench_layer L[64];
        int nl = bench_zoo_layers(64, L, 64);
        for (int i = 0; i < nl; i++)
            if (!L[i].depthwise) compare(c, L[i].N, L[i].K, L[i].M, 0.9, zoo_set, 3, L[i].name, L[i].C != 0);
    }
    for (int b = 0; b < 2; b++)
        for (int s = 0; s < 3; s++) {
            static const double cs[3] = {0.3, 0.7, 0.9};
            choose(c, 1024, 1024, batches[b], cs[s], SHR_SP_F32);
            if (s == 2) choose(c, 1024, 1024, batches[b], cs[s], SHR_SP_I8);
        }
}
