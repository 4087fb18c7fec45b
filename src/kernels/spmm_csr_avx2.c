/* AVX2 sparse x dense vector for the row formats (CSR, 1x4): y[m, n] = sum over row n's stored
 * values w * x[m, k], for each of the (few) activation rows m. xr is row-major [M][K] (f32, or
 * s32 lanes for int8 activations; see sparse_avx2.h).
 * CSR: 8 nonzeros per step, their x collected by column index, two accumulators.
 * 1x4: two blocks per step, each block's 4 x values one 128-bit load; a last block that sticks
 * out past K and odd leftovers are done in scalar. Each row's order depends only on the row. */
#include "kernels/sparse_avx2.h"

/* x at 8 columns: each a broadcast load blended into its lane. Cheaper here than vpgatherdd
 * (measured ~1.6x faster on Zen 3/4): loads and blends issue on many ports, the gather's
 * microcode does not. The 16-bit columns come in two 64-bit loads. */
SP_AI V x_cols8(const int i16, const shr_spmat *A, const void *x, int64_t b) {
    const float *xf = x;
    int c[8];
    if (i16) {
        uint64_t q0, q1;
        memcpy(&q0, A->col16 + b, 8);
        memcpy(&q1, A->col16 + b + 4, 8);
        for (int i = 0; i < 4; i++) c[i] = (int)(q0 >> (16 * i)) & 0xffff, c[i + 4] = (int)(q1 >> (16 * i)) & 0xffff;
    } else {
        for (int i = 0; i < 8; i++) c[i] = A->col32[b + i];
    }
    __m256 a = _mm256_blend_ps(_mm256_broadcast_ss(xf + c[0]), _mm256_broadcast_ss(xf + c[1]), 0x02);
    __m256 d = _mm256_blend_ps(_mm256_broadcast_ss(xf + c[2]), _mm256_broadcast_ss(xf + c[3]), 0x08);
    __m256 e = _mm256_blend_ps(_mm256_broadcast_ss(xf + c[4]), _mm256_broadcast_ss(xf + c[5]), 0x20);
    __m256 f = _mm256_blend_ps(_mm256_broadcast_ss(xf + c[6]), _mm256_broadcast_ss(xf + c[7]), 0x80);
    return _mm256_blend_ps(_mm256_blend_ps(a, d, 0x0c), _mm256_blend_ps(e, f, 0xc0), 0xf0);
}

SP_AI float csr_row(int vt, const int i16, const shr_spmat *A, const void *x, int64_t b, int64_t end) {
    V a0 = v_zero(), a1 = a0;
    sp_tail t = {0.0f, 0};
    for (; b + 16 <= end; b += 16) {
        a0 = v_mac(vt, a0, v_w8(vt, A->values, b), x_cols8(i16, A, x, b));
        a1 = v_mac(vt, a1, v_w8(vt, A->values, b + 8), x_cols8(i16, A, x, b + 8));
    }
    if (b + 8 <= end) {
        a0 = v_mac(vt, a0, v_w8(vt, A->values, b), x_cols8(i16, A, x, b));
        b += 8;
    }
    for (; b < end; b++) s_mac(vt, &t, A->values, b, x, sp_col(A, b));
    return v_finish(vt, v_add(vt, a0, a1), t);
}

SP_AI float b1x4_row(int vt, const shr_spmat *A, const void *x, int64_t b, int64_t end) {
    sp_tail t = {0.0f, 0};
    int64_t full = end; /* blocks [b, full) lie inside K */
    if (full > b && sp_col(A, full - 1) + 4 > A->K) full--;
    V a = v_blocks4(vt, 1, A, x, b, full);
    for (b = full; b < end; b++)
        for (int c = 0, k0 = sp_col(A, b); c < 4 && k0 + c < A->K; c++) s_mac(vt, &t, A->values, 4 * b + c, x, k0 + c);
    return v_finish(vt, a, t);
}

SP_AI void rows(int vt, const sp_job *j, int lo, int hi) {
    const shr_spmat *A = j->A;
    for (int m = 0; m < j->M; m++) {
        const int32_t *x = (const int32_t *)j->xr + (size_t)m * j->ldxr;
        float *y = j->Y + (size_t)m * j->ldy;
        for (int n = lo; n < hi; n++) {
            int64_t b = A->rowptr[n], end = A->rowptr[n + 1];
            float s = A->format != SHR_SP_CSR ? b1x4_row(vt, A, x, b, end)
                      : A->col16              ? csr_row(vt, 1, A, x, b, end)
                                              : csr_row(vt, 0, A, x, b, end);
            y[n] = sp_epilogue(j, n, s);
        }
    }
}

void shr_spmv_row_avx2(const sp_job *j, int lo, int hi) { SP_BY_VT(rows, j, lo, hi); }
