/* Conv section: whole convolution layers of the zoo (not depthwise, not 1x1 stride-1
 * unpadded, which are plain GEMMs in the fp32 section), batch 64 and 1, timed interleaved:
 *   - "implicit (convt)": the weights packed once per call, then per image the zero-padded
 *     phase planes and the implicit kernel (shr_convt_f32, channels in the lanes, no im2col
 *     matrix); images split over the threads (as the op does) at batch 64, pixels at batch 1;
 *   - "im2col+openblas": per image shrink's im2col then OpenBLAS sgemm (M = OC, N = OH*OW,
 *     K = C*KH*KW), the classic framework recipe;
 *   - "im2col+shrink": the same with shrink's GEMM;
 *   - "shrink conv = ...": the one of the two that conv2d's forward picks (shr_convt_worth).
 * GFLOP/s count 2*OC*OH*OW*K per image; every contender's time includes its own data
 * preparation (planes or im2col). */
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdio.h>

#include "bench_common.h"
#include "bench_peer.h"
#include "kernels/kernels.h"
#include "shrink/tensor.h"

typedef struct conv_job {
    shr_conv_geom g;
    int N, OC, K, P, Wq;
    const float *x, *w;
    float *y, *wp, *col; /* col: im2col (K x P), or the phase planes per thread */
    size_t planes;       /* floats of phase planes per thread */
    long *boff;
    int *pix;
} conv_job;

static void run_implicit(void *p) {
    conv_job *j = p;
    size_t xs = (size_t)j->g.C * j->g.H * j->g.W, ys = (size_t)j->OC * j->P;
    shr_convt_pack_f32(j->OC, j->K, j->w, j->K, j->wp);
    int nthr = 1;
#ifdef _OPENMP
    nthr = j->N > 1 ? omp_get_max_threads() : 1;
#endif
#pragma omp parallel for schedule(static) num_threads(nthr) if (nthr > 1)
    for (int t = 0; t < nthr; t++) {
        float *xp = j->col + (size_t)t * j->planes;
        for (int i = (int)((long)j->N * t / nthr); i < (int)((long)j->N * (t + 1) / nthr); i++) {
            shr_convt_planes_f32(&j->g, j->x + i * xs, xp);
            shr_convt_rows_f32(j->OC, j->g.OH, j->g.OW, j->Wq, j->K, j->wp, xp, j->pix, j->boff, NULL, -1e30f, 1e30f,
                               j->y + i * ys, j->P);
        }
    }
}

static void run_im2col(conv_job *j, int peer) {
    size_t xs = (size_t)j->g.C * j->g.H * j->g.W, ys = (size_t)j->OC * j->P;
    for (int i = 0; i < j->N; i++) {
        shr_im2col_f32(&j->g, j->x + i * xs, j->col, j->P);
        if (peer) bench_peer_sgemm(0, 0, j->OC, j->P, j->K, j->w, j->K, j->col, j->P, j->y + i * ys, j->P);
        else shr_gemm_f32(0, 0, j->OC, j->P, j->K, 1.0f, j->w, j->K, j->col, j->P, 0.0f, j->y + i * ys, j->P);
    }
}
static void run_im2col_peer(void *p) { run_im2col(p, 1); }
static void run_im2col_shrink(void *p) { run_im2col(p, 0); }

static void one(bench_ctx *c, const bench_layer *L) {
    shr_conv_geom g = {L->C, L->H, L->W, L->KH, L->KW, L->stride, L->stride, L->pad, L->pad, 1, 1, 0, 0};
    g.OH = (L->H + 2 * L->pad - L->KH) / L->stride + 1;
    g.OW = (L->W + 2 * L->pad - L->KW) / L->stride + 1;
    int P = g.OH * g.OW, N = L->batch, OC = L->N, K = L->K, thr = c->threads > 1 ? c->threads : 1;
    size_t nx = (size_t)N * L->C * L->H * L->W, planes = shr_convt_planes_floats(&g);
    size_t ncol = (size_t)K * P > planes * thr ? (size_t)K * P : planes * thr;
    int Hq, Wq;
    shr_convt_dims(&g, &Hq, &Wq);
    conv_job j = {g, N, OC, K, P, Wq, NULL, NULL, NULL, NULL, NULL, planes, NULL, NULL};
    float *x = shr_alloc(nx * 4), *w = shr_alloc((size_t)OC * K * 4);
    j.y = shr_alloc((size_t)N * OC * P * 4);
    j.wp = shr_alloc(shr_convt_packed_floats(OC, K) * 4);
    j.col = shr_alloc(ncol * 4);
    j.boff = shr_alloc((size_t)K * sizeof *j.boff);
    j.pix = shr_alloc((size_t)P * sizeof *j.pix);
    if (x && w && j.y && j.wp && j.col && j.boff && j.pix) {
        bench_fill_f32(x, nx, 5);
        bench_fill_f32(w, (size_t)OC * K, 6);
        j.x = x, j.w = w;
        shr_convt_offsets(&g, j.boff, j.pix);
        bench_case cs[3] = {{"shrink conv", run_implicit, &j},
                            {"im2col+shrink", run_im2col_shrink, &j},
                            {"im2col+openblas", run_im2col_peer, &j}};
        int nc = bench_have_peer() ? 3 : 2;
        double sec[3] = {0, 0, 0};
        bench_time_interleaved(c, cs, nc, sec);
        char shape[96];
        snprintf(shape, sizeof shape, "%.63s b%d", L->name, N);
        double ops = 2.0 * N * OC * P * K;
        const char *vs = bench_have_peer() ? "im2col+openblas" : "im2col+shrink";
        double vs_sec = bench_have_peer() ? sec[2] : sec[1];
        bench_row(c, "conv", "implicit (convt)", shape, ops, "GFLOP/s", 0, sec[0], vs, vs_sec);
        bench_row(c, "conv", "im2col+shrink gemm", shape, ops, "GFLOP/s", 0, sec[1], bench_have_peer() ? vs : NULL,
                  vs_sec);
        /* the path conv2d takes for this layer (shr_convt_worth), against the peer */
        int implicit = shr_convt_worth(K, OC);
        bench_row(c, "conv", implicit ? "shrink conv = implicit" : "shrink conv = im2col", shape, ops, "GFLOP/s", 0,
                  sec[implicit ? 0 : 1], vs, vs_sec);
        if (bench_have_peer()) bench_row(c, "conv", "im2col+openblas", shape, ops, "GFLOP/s", 0, sec[2], NULL, 0);
    }
    shr_free(x), shr_free(w), shr_free(j.y), shr_free(j.wp), shr_free(j.col), shr_free(j.boff), shr_free(j.pix);
}

void bench_section_conv(bench_ctx *c) {
    const int batches[2] = {64, 1};
    for (int b = 0; b < 2; b++) {
        bench_layer L[64];
        int n = bench_zoo_layers(batches[b], L, 64);
        for (int i = 0; i < n; i++) {
            if (L[i].C == 0 || L[i].depthwise) continue;                            /* Linear / depthwise */
            if (L[i].KH == 1 && L[i].KW == 1 && L[i].stride == 1 && L[i].pad == 0) continue; /* a GEMM */
            one(c, &L[i]);
        }
    }
}
