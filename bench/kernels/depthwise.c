/* Depthwise section: the direct plane kernel (AVX2) against its plain-C reference at the
 * zoo's depthwise layers, batch 1 and 64, planes split over the threads like the op does.
 * (OpenBLAS has no depthwise convolution; im2col + GEMM would run a K = 9 GEMM per channel.) */
#include <math.h>
#include <stdio.h>

#include "bench_common.h"
#include "kernels/kernels.h"
#include "shrink/tensor.h"

typedef struct dw_job {
    shr_conv_geom g;
    int planes, C;
    const float *x, *w;
    float *y;
    int ref;
} dw_job;

static void run(void *p) {
    dw_job *j = p;
    long xs = (long)j->g.H * j->g.W, ys = (long)j->g.OH * j->g.OW;
#pragma omp parallel for schedule(static)
    for (int q = 0; q < j->planes; q++) {
        const float *w = j->w + (long)(q % j->C) * j->g.KH * j->g.KW;
        if (j->ref)
            shr_dwconv_plane_f32_ref(&j->g, j->x + q * xs, w, 0.1f, 0.0f, INFINITY, j->y + q * ys);
        else
            shr_dwconv_plane_f32(&j->g, j->x + q * xs, w, 0.1f, 0.0f, INFINITY, j->y + q * ys);
    }
}

void bench_section_depthwise(bench_ctx *c) {
    const int batches[2] = {64, 1};
    for (int b = 0; b < 2; b++) {
        bench_layer L[64];
        int n = bench_zoo_layers(batches[b], L, 64);
        for (int i = 0; i < n; i++) {
            if (!L[i].depthwise) continue;
            shr_conv_geom g = {1, L[i].H, L[i].W, L[i].KH, L[i].KW, L[i].stride, L[i].stride, L[i].pad, L[i].pad,
                               1, 1, 0, 0};
            g.OH = (g.H + 2 * g.PT - g.KH) / g.SH + 1;
            g.OW = (g.W + 2 * g.PL - g.KW) / g.SW + 1;
            int planes = L[i].batch * L[i].C;
            size_t nx = (size_t)planes * g.H * g.W, ny = (size_t)planes * g.OH * g.OW;
            float *x = shr_alloc(nx * 4), *w = shr_alloc((size_t)L[i].C * g.KH * g.KW * 4), *y = shr_alloc(ny * 4);
            if (x && w && y) {
                bench_fill_f32(x, nx, 3);
                bench_fill_f32(w, (size_t)L[i].C * g.KH * g.KW, 4);
                dw_job fast = {g, planes, L[i].C, x, w, y, 0}, ref = fast;
                ref.ref = 1;
                bench_case cs[2] = {{"avx2", run, &fast}, {"ref", run, &ref}};
                double sec[2];
                bench_time_interleaved(c, cs, 2, sec);
                double ops = 2.0 * ny * g.KH * g.KW;
                char shape[96];
                snprintf(shape, sizeof shape, "%.63s b%d", L[i].name, L[i].batch);
                bench_row(c, "dw", "shrink depthwise", shape, ops, "GFLOP/s", 0, sec[0], "reference", sec[1]);
            }
            shr_free(x), shr_free(w), shr_free(y);
        }
    }
}
