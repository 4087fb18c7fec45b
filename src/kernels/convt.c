/* Implicit convolution with the output channels in the vector lanes (kernels.h): the input's
 * zero-padded phase planes and the tap / pixel offsets into them, weight packing, the plain-C
 * reference, and the dispatch that splits the output pixels over threads. Every output element is one FMA chain over k ascending in both kernels, so
 * results are bit-identical between them and across any split. */
#ifdef _OPENMP
#include <omp.h>
#endif
#include <math.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/kernels.h"

#define TC 16 /* channels per packed strip */
#define TP 6  /* pixels per AVX2 tile: thread bands are cut at multiples of it */
/* Below this many multiply-adds a second thread costs more than it saves. */
#define PAR_MIN_WORK 2.0e5

/* ---- the input side: phase planes and offsets ---- */

void shr_convt_dims(const shr_conv_geom *g, int *Hq, int *Wq) {
    *Hq = g->OH + g->DH * (g->KH - 1) / g->SH; /* the rows and columns some tap reads */
    *Wq = g->OW + g->DW * (g->KW - 1) / g->SW;
}

size_t shr_convt_planes_floats(const shr_conv_geom *g) {
    int Hq, Wq;
    shr_convt_dims(g, &Hq, &Wq);
    return (size_t)g->C * g->SH * g->SH * Hq * Wq;
}

void shr_convt_offsets(const shr_conv_geom *g, long *boff, int *pix) {
    const int S = g->SH;
    int Hq, Wq;
    shr_convt_dims(g, &Hq, &Wq);
    const long plane = (long)Hq * Wq;
    int k = 0;
    for (int ch = 0; ch < g->C; ch++)
        for (int kh = 0; kh < g->KH; kh++)
            for (int kw = 0; kw < g->KW; kw++) {
                int dh = kh * g->DH, dw = kw * g->DW;
                boff[k++] = (((long)ch * S + dh % S) * S + dw % S) * plane + (long)(dh / S) * Wq + dw / S;
            }
    for (int oh = 0, p = 0; oh < g->OH; oh++)
        for (int ow = 0; ow < g->OW; ow++) pix[p++] = oh * Wq + ow;
}

void shr_convt_row_ref(float *dst, const float *src, int q0, int q1, int Wq, int S, int avail) {
    (void)avail;
    for (int q = 0; q < q0; q++) dst[q] = 0.0f;
    for (int q = q0; q < q1; q++, src += S) dst[q] = *src;
    for (int q = q1; q < Wq; q++) dst[q] = 0.0f;
}

void shr_convt_planes_f32(const shr_conv_geom *g, const float *x, float *xp) {
    void (*row_fn)(float *, const float *, int, int, int, int, int) =
        shr_cpu_has_avx2_fma() ? shr_convt_row_avx2 : shr_convt_row_ref;
    const int S = g->SH;
    int Hq, Wq;
    shr_convt_dims(g, &Hq, &Wq);
    const size_t plane = (size_t)Hq * Wq;
    unsigned used_h = 0, used_w = 0; /* the row / column phases some tap reads */
    for (int kh = 0; kh < g->KH; kh++) used_h |= 1u << (kh * g->DH % S);
    for (int kw = 0; kw < g->KW; kw++) used_w |= 1u << (kw * g->DW % S);
    int q0[4], q1[4]; /* per column phase pw: the columns wq with 0 <= wq*S + pw - PL < W */
    for (int pw = 0; pw < S; pw++) {
        q0[pw] = g->PL > pw ? (g->PL - pw + S - 1) / S : 0;
        q0[pw] = q0[pw] < Wq ? q0[pw] : Wq;
        q1[pw] = (g->W + g->PL - pw + S - 1) / S;
        q1[pw] = q1[pw] < Wq ? q1[pw] : Wq;
        q1[pw] = q1[pw] > q0[pw] ? q1[pw] : q0[pw];
    }
    for (int ch = 0; ch < g->C; ch++) {
        const float *src = x + (size_t)ch * g->H * g->W;
        for (int ph = 0; ph < S; ph++)
            for (int pw = 0; pw < S; pw++) {
                if (!(used_h >> ph & 1) || !(used_w >> pw & 1)) continue; /* no tap reads it (1x1, stride 2) */
                float *row = xp + (((size_t)ch * S + ph) * S + pw) * plane;
                int c0 = q0[pw] * S + pw - g->PL; /* the source column of q0 */
                for (int hq = 0, h = ph - g->PT; hq < Hq; hq++, h += S, row += Wq) {
                    if (h < 0 || h >= g->H) row_fn(row, NULL, 0, 0, Wq, S, 0);
                    else row_fn(row, src + (size_t)h * g->W + c0, q0[pw], q1[pw], Wq, S, g->W - c0);
                }
            }
    }
}

/* With fewer than 64 taps the layers are bound by their output stores (a K = 9 first layer
 * writes 4 bytes per 18 flops): the implicit kernels (either tile) do not beat im2col + GEMM
 * there (first layers 0.75-0.88x, 1x1 stride-2 projections 0.4-0.6x of im2col + OpenBLAS in
 * bench_kernels --only conv, where im2col + GEMM gets 0.8-0.9x), unless there are at most 8
 * filters, which leave the GEMM's 6 x 16 tiles mostly empty (lenet5 conv1: 1.5x). */
int shr_convt_worth(int K, int OC) { return K >= 64 || OC <= 8; }

/* ---- the weights and the kernels ---- */

size_t shr_convt_packed_floats(int OC, int K) { return (size_t)((OC + TC - 1) / TC) * TC * (size_t)K; }

void shr_convt_pack_f32(int OC, int K, const float *w, long ldw, float *wp) {
    if (shr_cpu_has_avx2_fma()) {
        shr_convt_pack_f32_avx2(OC, K, w, ldw, wp);
        return;
    }
    shr_convt_pack_f32_ref(OC, K, w, ldw, wp);
}

void shr_convt_pack_f32_ref(int OC, int K, const float *w, long ldw, float *wp) {
    for (int s = 0; s < OC; s += TC)
        for (int k = 0; k < K; k++, wp += TC)
            for (int j = 0; j < TC; j++) wp[j] = s + j < OC ? w[(long)(s + j) * ldw + k] : 0.0f;
}

void shr_convt_f32_ref(int OC, int p0, int p1, int K, const float *wp, const float *x, const int *pix,
                       const long *boff, const float *bias, float lo, float hi, float *y, long ldy) {
    for (int o = 0; o < OC; o++) {
        const float *ws = wp + (long)(o / TC) * TC * K + o % TC;
        for (int p = p0; p < p1; p++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc = fmaf(x[pix[p] + boff[k]], ws[(long)k * TC], acc);
            float v = acc + (bias ? bias[o] : 0.0f);
            v = v < lo ? lo : v; /* comparisons keep NaN */
            v = v > hi ? hi : v;
            y[(long)o * ldy + p] = v;
        }
    }
}

void shr_convt_f32(int OC, int P, int K, const float *wp, const float *x, const int *pix, const long *boff,
                   const float *bias, float lo, float hi, float *y, long ldy) {
    if (OC <= 0 || P <= 0) return;
    if (!shr_cpu_has_avx2_fma()) {
        shr_convt_f32_ref(OC, 0, P, K, wp, x, pix, boff, bias, lo, hi, y, ldy);
        return;
    }
#ifdef _OPENMP
    int tiles = (P + TP - 1) / TP;
    int nthr = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (nthr > tiles) nthr = tiles;
    if (nthr > 1 && (double)OC * P * K >= PAR_MIN_WORK) {
#pragma omp parallel for schedule(static) num_threads(nthr)
        for (int t = 0; t < nthr; t++) {
            int lo_p = (int)((long)tiles * t / nthr) * TP, hi_p = (int)((long)tiles * (t + 1) / nthr) * TP;
            shr_convt_f32_avx2(OC, lo_p, hi_p < P ? hi_p : P, K, wp, x, pix, boff, bias, lo, hi, y, ldy);
        }
        return;
    }
#endif
    shr_convt_f32_avx2(OC, 0, P, K, wp, x, pix, boff, bias, lo, hi, y, ldy);
}

/* Below this many taps the pixel-lanes tile (convp_avx2.c) beats the channel-lanes one. */
#define CONVP_MAX_K 64

void shr_convt_rows_f32(int OC, int OH, int OW, int Wq, int K, const float *wp, const float *x, const int *pix,
                        const long *boff, const float *bias, float lo, float hi, float *y, long ldy) {
    if (OC <= 0 || OH <= 0 || OW <= 0) return;
    if (K >= CONVP_MAX_K || !shr_cpu_has_avx2_fma()) {
        shr_convt_f32(OC, OH * OW, K, wp, x, pix, boff, bias, lo, hi, y, ldy);
        return;
    }
#ifdef _OPENMP
    int nthr = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (nthr > OH) nthr = OH;
    if (nthr > 1 && (double)OC * OH * OW * K >= PAR_MIN_WORK) {
#pragma omp parallel for schedule(static) num_threads(nthr)
        for (int t = 0; t < nthr; t++)
            shr_convp_f32_avx2(OC, (int)((long)OH * t / nthr), (int)((long)OH * (t + 1) / nthr), OW, Wq, K, wp, x,
                               boff, bias, lo, hi, y, ldy);
        return;
    }
#endif
    shr_convp_f32_avx2(OC, 0, OH, OW, Wq, K, wp, x, boff, bias, lo, hi, y, ldy);
}
