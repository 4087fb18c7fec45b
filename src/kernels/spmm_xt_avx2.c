/* AVX2 batched sparse matmul on K-major activation tiles, for every sparse format:
 *   Y[m, n] = sum_k W[n, k] X[m, k],  xt = [tiles][K][SP_TILE] (column k of X contiguous)
 * For each output row, every stored weight w[n, k] is broadcast and multiplied into up to 64
 * activation rows at once: acc[0..CH) += w * xt[k][0..8*CH), one FMA with a memory operand per
 * 8 rows. 4x1 and 8x1 keep 4 output rows x 16 activation rows in registers per pass (the x
 * vectors of a block serve its 4 rows: 4x more reuse of the tile than one row). The sums of 8
 * output rows collect in a small stage, which is transposed 8x8 into Y rows with the epilogue.
 * Each Y element's order depends only on its row's stored order. */
#include "kernels/sparse_avx2.h"

typedef struct stage {
    float v[8][SP_TILE]; /* [output row in group][activation row in tile] */
} stage;

/* Stage rows [0, nr) x columns [0, mt) -> Y[m0 + i][n0 + r], with the epilogue. */
static void flush(const sp_job *j, const stage *st, int nr, int n0, int m0, int mt) {
    int i = 0;
    if (nr == 8)
        for (; i + 8 <= mt; i += 8) {
            __m256 r0 = _mm256_load_ps(&st->v[0][i]), r1 = _mm256_load_ps(&st->v[1][i]);
            __m256 r2 = _mm256_load_ps(&st->v[2][i]), r3 = _mm256_load_ps(&st->v[3][i]);
            __m256 r4 = _mm256_load_ps(&st->v[4][i]), r5 = _mm256_load_ps(&st->v[5][i]);
            __m256 r6 = _mm256_load_ps(&st->v[6][i]), r7 = _mm256_load_ps(&st->v[7][i]);
            __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
            __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
            __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
            __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
            __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
            __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
            __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
            __m256 c[8] = {_mm256_permute2f128_ps(u0, u4, 0x20), _mm256_permute2f128_ps(u1, u5, 0x20),
                           _mm256_permute2f128_ps(u2, u6, 0x20), _mm256_permute2f128_ps(u3, u7, 0x20),
                           _mm256_permute2f128_ps(u0, u4, 0x31), _mm256_permute2f128_ps(u1, u5, 0x31),
                           _mm256_permute2f128_ps(u2, u6, 0x31), _mm256_permute2f128_ps(u3, u7, 0x31)};
            for (int q = 0; q < 8; q++)
                _mm256_storeu_ps(j->Y + (size_t)(m0 + i + q) * j->ldy + n0, v_epilogue(j, n0, c[q]));
        }
    for (; i < mt; i++)
        for (int r = 0; r < nr; r++) j->Y[(size_t)(m0 + i) * j->ldy + n0 + r] = sp_epilogue(j, n0 + r, st->v[r][i]);
}

/* acc[c] += w * xt[k][8c..8c+8) */
#define AXPY(CH, acc, w, xk)                                                                       \
    for (int c_ = 0; c_ < (CH); c_++) acc[c_] = v_mac(vt, acc[c_], (w), v_load((xk) + 8 * c_))

/* One output row of a row format (CSR, 1x4, N:M) against CH chunks of the tile. */
SP_AI void row_1(int vt, const int CH, const sp_job *j, const int32_t *xt, int n, float *out) {
    const shr_spmat *A = j->A;
    V acc[8];
    for (int c = 0; c < CH; c++) acc[c] = v_zero();
    if (A->format == SHR_SP_CSR) {
        for (int64_t b = A->rowptr[n], end = A->rowptr[n + 1]; b < end; b++) {
            const int32_t *xk = xt + (size_t)sp_col(A, b) * SP_TILE;
            AXPY(CH, acc, v_w1(vt, A->values, b), xk);
        }
    } else if (A->format == SHR_SP_1X4) {
        for (int64_t b = A->rowptr[n], end = A->rowptr[n + 1]; b < end; b++) {
            int k0 = sp_col(A, b), nc = A->K - k0 < 4 ? A->K - k0 : 4;
            for (int c = 0; c < nc; c++) {
                const int32_t *xk = xt + (size_t)(k0 + c) * SP_TILE;
                AXPY(CH, acc, v_w1(vt, A->values, 4 * b + c), xk);
            }
        }
    } else {
        int keep = A->nm_keep;
        int64_t slots = (((int64_t)A->K + 3) / 4) * keep, base = (int64_t)n * slots;
        const uint8_t *pr = A->pos + (int64_t)n * A->pos_stride;
        for (int64_t s = 0; s < slots; s++) {
            int k = (int)(s / keep * 4 + ((pr[s >> 2] >> (2 * (s & 3))) & 3));
            const int32_t *xk = xt + (size_t)k * SP_TILE;
            AXPY(CH, acc, v_w1(vt, A->values, base + s), xk);
        }
    }
    for (int c = 0; c < CH; c++) _mm256_store_ps(out + 8 * c, v_float(vt, acc[c]));
}

/* Four broadcast weights: block b's values r0..r0+3 (blocks of `br` rows). f32 are broadcast
 * straight from memory; int8 are widened once and spread with in-lane shuffles. */
SP_AI void w_bcast4(int vt, const void *vals, int64_t i, V w[4]) {
    if (vt == SP_VF) {
        for (int r = 0; r < 4; r++) w[r] = _mm256_broadcast_ss((const float *)vals + i + r);
        return;
    }
    V q = v_w4(vt, vals, i);
    q = _mm256_insertf128_ps(q, _mm256_castps256_ps128(q), 1);
    w[0] = _mm256_permute_ps(q, 0x00), w[1] = _mm256_permute_ps(q, 0x55);
    w[2] = _mm256_permute_ps(q, 0xaa), w[3] = _mm256_permute_ps(q, 0xff);
}

/* Rows r0..r0+3 of block row ib (4x1 or 8x1) against tile columns [i0, i0 + 16): 4 x 2
 * accumulators, each block's two x vectors loaded once for the four rows. */
SP_AI void rows_4(int vt, const int br, const sp_job *j, const int32_t *xt, int ib, int r0, int i0, stage *st,
                  int s0) {
    const shr_spmat *A = j->A;
    V a[4][2];
    for (int r = 0; r < 4; r++) a[r][0] = a[r][1] = v_zero();
    for (int64_t b = A->rowptr[ib], end = A->rowptr[ib + 1]; b < end; b++) {
        const int32_t *xk = xt + (size_t)sp_col(A, b) * SP_TILE + i0;
        V x0 = v_load(xk), x1 = v_load(xk + 8), w[4];
        w_bcast4(vt, A->values, br * b + r0, w);
        for (int r = 0; r < 4; r++) {
            a[r][0] = v_mac(vt, a[r][0], w[r], x0);
            a[r][1] = v_mac(vt, a[r][1], w[r], x1);
        }
    }
    for (int r = 0; r < 4; r++) {
        _mm256_store_ps(&st->v[s0 + r][i0], v_float(vt, a[r][0]));
        _mm256_store_ps(&st->v[s0 + r][i0 + 8], v_float(vt, a[r][1]));
    }
}

SP_AI void tile(int vt, const int CH, const sp_job *j, const int32_t *xt, int m0, int mt, int lo, int hi) {
    const shr_spmat *A = j->A;
    stage st __attribute__((aligned(32)));
    for (int n0 = lo; n0 < hi; n0 += 8) {
        int nr = hi - n0 < 8 ? hi - n0 : 8;
        if (A->format == SHR_SP_4X1 || A->format == SHR_SP_8X1) {
            for (int h = 0; 4 * h < nr; h++)
                for (int i0 = 0; i0 < 8 * CH; i0 += 16) {
                    if (A->format == SHR_SP_4X1)
                        rows_4(vt, 4, j, xt, n0 / 4 + h, 0, i0, &st, 4 * h);
                    else
                        rows_4(vt, 8, j, xt, n0 / 8, 4 * h, i0, &st, 4 * h);
                }
        } else {
            for (int r = 0; r < nr; r++) row_1(vt, CH, j, xt, n0 + r, st.v[r]);
        }
        flush(j, &st, nr, n0, m0, mt);
    }
}

SP_AI void run(int vt, const sp_job *j, int lo, int hi) {
    int K = j->A->K;
    for (int m0 = 0; m0 < j->M; m0 += SP_TILE) {
        int mt = j->M - m0 < SP_TILE ? j->M - m0 : SP_TILE;
        const int32_t *xt = (const int32_t *)j->xt + (size_t)(m0 / SP_TILE) * K * SP_TILE;
        if (mt > 32) /* 4x1 steps by 16 columns: CH = 1 still covers 16 (the tile is zero past mt) */
            tile(vt, 8, j, xt, m0, mt, lo, hi);
        else if (mt > 16)
            tile(vt, 4, j, xt, m0, mt, lo, hi);
        else if (mt > 8)
            tile(vt, 2, j, xt, m0, mt, lo, hi);
        else
            tile(vt, 1, j, xt, m0, mt, lo, hi);
    }
}

void shr_spmm_xt_avx2(const sp_job *j, int lo, int hi) { SP_BY_VT(run, j, lo, hi); }

void shr_sp_pack_tile_f32_avx2(const float *X, long ldx, int mt, int k0, int k1, float *tile) {
    int i = 0;
    for (; i + 8 <= mt; i += 8) { /* 8x8 transposes */
        int k = k0;
        for (; k + 8 <= k1; k += 8) {
            __m256 r[8], t[8], u[8];
            for (int q = 0; q < 8; q++) r[q] = _mm256_loadu_ps(X + (size_t)(i + q) * ldx + k);
            for (int q = 0; q < 4; q++) {
                t[2 * q] = _mm256_unpacklo_ps(r[2 * q], r[2 * q + 1]);
                t[2 * q + 1] = _mm256_unpackhi_ps(r[2 * q], r[2 * q + 1]);
            }
            for (int q = 0; q < 2; q++) {
                u[4 * q] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0x44);
                u[4 * q + 1] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0xee);
                u[4 * q + 2] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
                u[4 * q + 3] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xee);
            }
            for (int q = 0; q < 4; q++) {
                _mm256_store_ps(tile + (size_t)(k + q) * SP_TILE + i, _mm256_permute2f128_ps(u[q], u[q + 4], 0x20));
                _mm256_store_ps(tile + (size_t)(k + q + 4) * SP_TILE + i, _mm256_permute2f128_ps(u[q], u[q + 4], 0x31));
            }
        }
        for (; k < k1; k++)
            for (int q = 0; q < 8; q++) tile[(size_t)k * SP_TILE + i + q] = X[(size_t)(i + q) * ldx + k];
    }
    for (int k = k0; k < k1; k++) {
        for (int q = i; q < mt; q++) tile[(size_t)k * SP_TILE + q] = X[(size_t)q * ldx + k];
        for (int q = mt; q < SP_TILE; q++) tile[(size_t)k * SP_TILE + q] = 0.0f;
    }
}
