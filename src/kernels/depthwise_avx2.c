/* AVX2+FMA depthwise convolution of one plane (kernels.h).
 * The plane is first copied into a zero-padded scratch (small planes — the usual case —
 * would otherwise be mostly border columns); then every output row is computed 8 outputs
 * at a time, kept in one register while all KH*KW taps are added in (kh, kw) order with FMA,
 * clamped and stored (a masked store for the last partial vector). Stride 1 loads 8
 * consecutive inputs per tap; stride 2 loads 16 and keeps the even lanes; larger strides,
 * and planes too big for the scratch, use the reference. */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"

/* Padded plane limit (floats, on the stack: 64 KiB). */
#define DW_SCRATCH 16384

static inline __m256 load_strided(const float *p, int stride) {
    if (stride == 1) return _mm256_loadu_ps(p);
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    __m256 e = _mm256_shuffle_ps(a, b, 0x88); /* a0 a2 b0 b2 | a4 a6 b4 b6 */
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
}

void shr_dwconv_plane_f32_avx2(const shr_conv_geom *g, const float *x, const float *w, float bias, float lo, float hi,
                               float *y) {
    const int SW = g->SW;
    int nvec = (g->OW + 7) / 8;
    /* Columns read: up to (8*nvec - 1)*SW + (KW-1)*DW, plus 8 more for the stride-2 load. */
    long Wp = (long)(8 * nvec - 1) * SW + (long)(g->KW - 1) * g->DW + 1 + (SW == 2 ? 8 : 0);
    long Hp = (long)(g->OH - 1) * g->SH + (long)(g->KH - 1) * g->DH + 1;
    if (SW > 2 || Wp * Hp > DW_SCRATCH) {
        shr_dwconv_plane_f32_ref(g, x, w, bias, lo, hi, y);
        return;
    }
    _Alignas(32) float xp[DW_SCRATCH];
    /* Padded row r holds input row r - PT at columns PL .. PL + W - 1 (clipped to Wp). */
    long c0 = g->PL < Wp ? g->PL : Wp, n = g->W < Wp - c0 ? g->W : Wp - c0;
    for (long r = 0; r < Hp; r++) {
        float *dst = xp + r * Wp;
        long ih = r - g->PT;
        if (ih < 0 || ih >= g->H) {
            memset(dst, 0, (size_t)Wp * sizeof *dst);
            continue;
        }
        memset(dst, 0, (size_t)c0 * sizeof *dst);
        memcpy(dst + c0, x + ih * g->W, (size_t)n * sizeof *dst);
        memset(dst + c0 + n, 0, (size_t)(Wp - c0 - n) * sizeof *dst);
    }
    __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi), vb = _mm256_set1_ps(bias);
    int rem = g->OW - 8 * (nvec - 1);
    __m256i tail_mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int oh = 0; oh < g->OH; oh++) {
        float *yr = y + (long)oh * g->OW;
        const float *xrow = xp + (long)oh * g->SH * Wp;
        for (int v = 0; v < nvec; v++) {
            __m256 acc = vb;
            const float *xv = xrow + (long)v * 8 * SW;
            for (int kh = 0; kh < g->KH; kh++) {
                const float *xr = xv + (long)kh * g->DH * Wp;
                for (int kw = 0; kw < g->KW; kw++)
                    acc = _mm256_fmadd_ps(_mm256_set1_ps(w[kh * g->KW + kw]), load_strided(xr + kw * g->DW, SW), acc);
            }
            acc = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc)); /* NaN stays NaN */
            if (v < nvec - 1)
                _mm256_storeu_ps(yr + 8 * v, acc);
            else
                _mm256_maskstore_ps(yr + 8 * v, tail_mask, acc);
        }
    }
}
