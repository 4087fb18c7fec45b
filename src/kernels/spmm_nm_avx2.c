/* AVX2 N:M (2:4, 1:4) sparse x dense vector: y[m, n] = sum over row n's kept values w_s *
 * x[m, 4 * (s / keep) + pos_s]. Eight slots per step: the x vectors they cover (16 columns for
 * 2:4, 32 for 1:4) are loaded whole and the kept lanes picked with vpermd through a table
 * indexed by the position byte (no gathers: ~2x faster than vpgatherdd measured here), then
 * one FMA with the 8 kept values. xr is row-major [M][K] (f32, or s32 lanes for int8
 * activations). Slots whose vector would reach past K are done in scalar. */
#include "kernels/sparse_avx2.h"

/* Lane tables, one entry per position byte (4 slots of 2 bits):
 * 2:4: a byte covers 2 groups = 8 columns = one x vector; entry = the 4 kept lanes of it.
 * 1:4: a byte covers 4 groups = 16 columns = two x vectors; entry = lanes [p0, 4 + p1] of the
 *      first and [p2, 4 + p3] of the second, at lanes 0-1 and 2-3 of the entry. */
#define E24(b) {(b) & 3, ((b) >> 2) & 3, 4 + (((b) >> 4) & 3), 4 + (((b) >> 6) & 3)}
#define E14(b) {(b) & 3, 4 + (((b) >> 2) & 3), ((b) >> 4) & 3, 4 + (((b) >> 6) & 3)}
#define R4(E, b) E(b), E(b + 1), E(b + 2), E(b + 3)
#define R16(E, b) R4(E, b), R4(E, b + 4), R4(E, b + 8), R4(E, b + 12)
#define R64(E, b) R16(E, b), R16(E, b + 16), R16(E, b + 32), R16(E, b + 48)
static const int32_t lanes24[256][4] __attribute__((aligned(16))) = {R64(E24, 0), R64(E24, 64), R64(E24, 128),
                                                                       R64(E24, 192)};
static const int32_t lanes14[256][4] __attribute__((aligned(16))) = {R64(E14, 0), R64(E14, 64), R64(E14, 128),
                                                                       R64(E14, 192)};

SP_AI __m128 sel(V xv, const int32_t *lanes) {
    return _mm256_castps256_ps128(
        _mm256_permutevar8x32_ps(xv, _mm256_castsi128_si256(_mm_load_si128((const __m128i *)lanes))));
}

/* The x values of the 8 slots from slot s (a multiple of 8: pr[s / 4] and the next byte),
 * in slot order. */
SP_AI V x_slots8(int keep, const uint8_t *pr, int64_t s, const int32_t *x) {
    int b0 = pr[s >> 2], b1 = pr[(s >> 2) + 1];
    if (keep == 2) { /* 16 columns from 4 * (s / 2) */
        const int32_t *xk = x + 2 * s;
        __m128 lo = sel(v_load(xk), lanes24[b0]), hi = sel(v_load(xk + 8), lanes24[b1]);
        return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
    }
    const int32_t *xk = x + 4 * s; /* 32 columns */
    __m128 lo = _mm_blend_ps(sel(v_load(xk), lanes14[b0]), sel(v_load(xk + 8), lanes14[b0]), 0xc);
    __m128 hi = _mm_blend_ps(sel(v_load(xk + 16), lanes14[b1]), sel(v_load(xk + 24), lanes14[b1]), 0xc);
    return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
}

SP_AI float nm_row(int vt, int keep, const shr_spmat *A, const int32_t *x, int n) {
    int64_t slots = (((int64_t)A->K + 3) / 4) * keep, base = (int64_t)n * slots, s = 0;
    const uint8_t *pr = A->pos + (int64_t)n * A->pos_stride;
    V a0 = v_zero(), a1 = a0;
    sp_tail t = {0.0f, 0};
    /* whole vectors only while all their columns lie inside K */
    int64_t vec_end = keep == 2 ? A->K / 16 * 8 : A->K / 32 * 8;
    for (; s + 16 <= vec_end; s += 16) {
        a0 = v_mac(vt, a0, v_w8(vt, A->values, base + s), x_slots8(keep, pr, s, x));
        a1 = v_mac(vt, a1, v_w8(vt, A->values, base + s + 8), x_slots8(keep, pr, s + 8, x));
    }
    if (s + 8 <= vec_end) {
        a0 = v_mac(vt, a0, v_w8(vt, A->values, base + s), x_slots8(keep, pr, s, x));
        s += 8;
    }
    for (; s < slots; s++) {
        int k = (int)(s / keep * 4 + ((pr[s >> 2] >> (2 * (s & 3))) & 3));
        s_mac(vt, &t, A->values, base + s, x, k);
    }
    return v_finish(vt, v_add(vt, a0, a1), t);
}

SP_AI void rows(int vt, const sp_job *j, int lo, int hi) {
    for (int m = 0; m < j->M; m++) {
        const int32_t *x = (const int32_t *)j->xr + (size_t)m * j->ldxr;
        float *y = j->Y + (size_t)m * j->ldy;
        for (int n = lo; n < hi; n++) {
            float s = j->A->nm_keep == 2 ? nm_row(vt, 2, j->A, x, n) : nm_row(vt, 1, j->A, x, n);
            y[n] = sp_epilogue(j, n, s);
        }
    }
}

void shr_spmv_nm_avx2(const sp_job *j, int lo, int hi) { SP_BY_VT(rows, j, lo, hi); }
