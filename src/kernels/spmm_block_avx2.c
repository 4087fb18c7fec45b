/* AVX2 sparse x dense vector for the column-block formats (4x1, 8x1: br consecutive output rows
 * at one k), for each of the (few) activation rows m; xr is row-major [M][K] activations (f32,
 * or s32 lanes for int8 activations).
 * (The batched case runs on K-major tiles: spmm_xt_avx2.c.)
 * 8x1 multiplies each block's 8 weights by its broadcast x[k] (four accumulators); 4x1 puts
 * two blocks in one vector (weights contiguous, x[k] of each broadcast into its half) and
 * folds the halves at the end. The accumulators are 8 consecutive outputs: no reduction. */
#include "kernels/sparse_avx2.h"

/* Writes the 8 sums of block row ib for one Y row (only rows < hi). */
SP_AI void store8(const sp_job *j, float *y, int n0, int hi, __m256 s) {
    if (n0 + 8 <= hi) {
        _mm256_storeu_ps(y + n0, v_epilogue(j, n0, s));
        return;
    }
    float tmp[8];
    _mm256_storeu_ps(tmp, s);
    for (int r = 0; n0 + r < hi; r++) y[n0 + r] = sp_epilogue(j, n0 + r, tmp[r]);
}

SP_AI void spmv_8x1(int vt, const sp_job *j, const int32_t *x, float *y, int lo, int hi) {
    const shr_spmat *A = j->A;
    for (int ib = lo / 8; ib * 8 < hi; ib++) {
        V a0 = v_zero(), a1 = a0, a2 = a0, a3 = a0;
        int64_t b = A->rowptr[ib], end = A->rowptr[ib + 1];
        for (; b + 4 <= end; b += 4) {
            a0 = v_mac(vt, a0, v_w8(vt, A->values, 8 * b), v_x1(x, sp_col(A, b)));
            a1 = v_mac(vt, a1, v_w8(vt, A->values, 8 * b + 8), v_x1(x, sp_col(A, b + 1)));
            a2 = v_mac(vt, a2, v_w8(vt, A->values, 8 * b + 16), v_x1(x, sp_col(A, b + 2)));
            a3 = v_mac(vt, a3, v_w8(vt, A->values, 8 * b + 24), v_x1(x, sp_col(A, b + 3)));
        }
        for (; b < end; b++) a0 = v_mac(vt, a0, v_w8(vt, A->values, 8 * b), v_x1(x, sp_col(A, b)));
        V s = v_add(vt, v_add(vt, a0, a1), v_add(vt, a2, a3));
        store8(j, y, ib * 8, hi, v_float(vt, s));
    }
}

SP_AI void spmv_4x1(int vt, const sp_job *j, const int32_t *x, float *y, int lo, int hi) {
    const shr_spmat *A = j->A;
    for (int ib = lo / 8; ib * 8 < hi; ib++) { /* two block rows: 8 outputs */
        V s[2];
        for (int h = 0; h < 2; h++) {
            int row = 2 * ib + h;
            s[h] = row < A->nbrow ? v_blocks4(vt, 0, A, x, A->rowptr[row], A->rowptr[row + 1]) : v_zero();
        }
        /* fold: rows 0-3 = low + high half of s[0], rows 4-7 the same of s[1] */
        V lo2 = _mm256_permute2f128_ps(s[0], s[1], 0x20), hi2 = _mm256_permute2f128_ps(s[0], s[1], 0x31);
        store8(j, y, ib * 8, hi, v_float(vt, v_add(vt, lo2, hi2)));
    }
}

SP_AI void spmv(int vt, const sp_job *j, int lo, int hi) {
    for (int m = 0; m < j->M; m++) {
        const int32_t *x = (const int32_t *)j->xr + (size_t)m * j->ldxr;
        float *y = j->Y + (size_t)m * j->ldy;
        if (j->A->format == SHR_SP_8X1)
            spmv_8x1(vt, j, x, y, lo, hi);
        else
            spmv_4x1(vt, j, x, y, lo, hi);
    }
}

void shr_spmv_block_avx2(const sp_job *j, int lo, int hi) { SP_BY_VT(spmv, j, lo, hi); }
