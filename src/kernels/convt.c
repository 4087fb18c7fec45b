/* Implicit convolution with the output channels in the vector lanes (kernels.h): weight
 * packing, the plain-C reference, and the dispatch that splits the output pixels over
 * threads. Every output element is one FMA chain over k ascending in both kernels, so
 * results are bit-identical between them and across any split. */
#ifdef _OPENMP
#include <omp.h>
#endif
#include <math.h>

#include "core/cpu.h"
#include "kernels/kernels.h"

#define TC 16 /* channels per packed strip */
#define TP 6  /* pixels per AVX2 tile: thread bands are cut at multiples of it */
/* Below this many multiply-adds a second thread costs more than it saves. */
#define PAR_MIN_WORK 2.0e5

size_t shr_convt_packed_floats(int OC, int K) { return (size_t)((OC + TC - 1) / TC) * TC * (size_t)K; }

void shr_convt_pack_f32(int OC, int K, const float *w, long ldw, float *wp) {
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
