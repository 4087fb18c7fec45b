/* AVX2 batched sparse matmul on one K-major activation tile, for every sparse format:
 *   Y[m, n] = sum_k W[n, k] X[m, k],  m in [m0, m0 + mt), column k of the tile at xt + k ldt
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

/* Stage rows [0, nr) x columns [0, mt) -> Y (m0 + i, n0 + r), with the epilogue: transposed
 * 8x8 into Y rows, or (conv layout) row r straight into Y row n0 + r. */
static void flush(const sp_job *j, const stage *st, int nr, int n0, int m0, int mt) {
    if (j->kn) {
        for (int r = 0; r < nr; r++) {
            float *y = j->Y + sp_yat(j, m0, n0 + r);
            int i = 0;
            for (; i + 8 <= mt; i += 8) _mm256_storeu_ps(y + i, v_epilogue_at(j, 1, n0 + r, _mm256_load_ps(&st->v[r][i])));
            for (; i < mt; i++) y[i] = sp_epilogue(j, n0 + r, st->v[r][i]);
        }
        return;
    }
    int i = 0;
    if (nr == 8)
        for (; i + 8 <= mt; i += 8) {
            __m256 c[8];
            for (int q = 0; q < 8; q++) c[q] = _mm256_load_ps(&st->v[q][i]);
            v_transpose8(c);
            for (int q = 0; q < 8; q++)
                _mm256_storeu_ps(j->Y + (size_t)(m0 + i + q) * j->ldy + n0, v_epilogue(j, n0, c[q]));
        }
    for (; i < mt; i++)
        for (int r = 0; r < nr; r++) j->Y[(size_t)(m0 + i) * j->ldy + n0 + r] = sp_epilogue(j, n0 + r, st->v[r][i]);
}

/* One output row of a row format (CSR, 1x4, N:M) against CH chunks of the tile. The stored
 * weights go round-robin to U = 8 / CH accumulator sets, so 8 FMA chains are always in flight
 * (one set of CH < 8 chains would wait on the FMA latency); the sets are added in a fixed
 * order at the end. */
SP_AI void row_1(int vt, const int CH, const sp_job *j, const int32_t *xt, long ldt, int n, float *out) {
    const shr_spmat *A = j->A;
    enum { U_MAX = 8 };
    const int U = 8 / CH;
    V acc[U_MAX][8];
    for (int u = 0; u < U; u++)
        for (int c = 0; c < CH; c++) acc[u][c] = v_zero();
    /* acc[u] += weight vi * xt[k][0 .. 8 CH) */
#define STEP(u, k, vi)                                                                             \
    do {                                                                                           \
        const int32_t *xk_ = xt + (size_t)(k) * ldt;                                               \
        V w_ = v_w1(vt, A->values, (vi));                                                          \
        for (int c_ = 0; c_ < CH; c_++) acc[u][c_] = v_mac(vt, acc[u][c_], w_, v_load(xk_ + 8 * c_)); \
    } while (0)
    if (A->format == SHR_SP_CSR) {
        int64_t b = A->rowptr[n], end = A->rowptr[n + 1];
        for (; b + U <= end; b += U)
            for (int u = 0; u < U; u++) STEP(u, sp_col(A, b + u), b + u);
        for (int u = 0; b < end; b++, u++) STEP(u, sp_col(A, b), b);
    } else if (A->format == SHR_SP_1X4) { /* value index 4 b + c picks the set */
        int64_t b = A->rowptr[n], end = A->rowptr[n + 1], full = end;
        if (full > b && sp_col(A, full - 1) + 4 > A->K) full--; /* a last block past K */
        for (; b < full; b++)
            for (int c = 0, k0 = sp_col(A, b); c < 4; c++) STEP((4 * b + c) % U, k0 + c, 4 * b + c);
        for (int c = 0, k0 = b < end ? sp_col(A, b) : A->K; k0 + c < A->K; c++) STEP((4 * b + c) % U, k0 + c, 4 * b + c);
    } else {
        const int lg = A->nm_keep == 2; /* log2 of the kept values per group */
        int64_t slots = (((int64_t)A->K + 3) / 4) << lg, base = (int64_t)n * slots, s = 0;
        const uint8_t *pr = A->pos + (int64_t)n * A->pos_stride;
#define SLOT_K(s) ((int)((((s) >> lg) << 2) + ((pr[(s) >> 2] >> (2 * ((s) & 3))) & 3)))
        for (; s + U <= slots; s += U)
            for (int u = 0; u < U; u++) STEP(u, SLOT_K(s + u), base + s + u);
        for (int u = 0; s < slots; s++, u++) STEP(u, SLOT_K(s), base + s);
#undef SLOT_K
    }
#undef STEP
    for (int u = 1; u < U; u++)
        for (int c = 0; c < CH; c++) acc[0][c] = v_add(vt, acc[0][c], acc[u][c]);
    for (int c = 0; c < CH; c++) _mm256_store_ps(out + 8 * c, v_float(vt, acc[0][c]));
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

/* Rows r0..r0+3 of block row ib (4x1 or 8x1) against tile columns [i0, i0 + 8 C2) (tile
 * row stride ldt): 4 x C2 accumulators, each block's x vectors loaded once for the four rows. With
 * one column chunk, blocks alternate between two accumulator sets (8 FMA chains). */
SP_AI void rows_4(int vt, const int br, const int C2, long ldt, const sp_job *j, const int32_t *xt, int ib, int r0,
                  int i0, stage *st, int s0) {
    const shr_spmat *A = j->A;
    V a[2][4][2];
    for (int u = 0; u < 2; u++)
        for (int r = 0; r < 4; r++) a[u][r][0] = a[u][r][1] = v_zero();
#define BLOCK(u, b)                                                                                \
    do {                                                                                           \
        const int32_t *xk_ = xt + (size_t)sp_col(A, b) * ldt + i0;                                  \
        V x_[2] = {v_load(xk_), C2 > 1 ? v_load(xk_ + 8) : v_zero()}, w_[4];                       \
        w_bcast4(vt, A->values, br * (b) + r0, w_);                                                \
        for (int r_ = 0; r_ < 4; r_++)                                                             \
            for (int c_ = 0; c_ < C2; c_++) a[u][r_][c_] = v_mac(vt, a[u][r_][c_], w_[r_], x_[c_]); \
    } while (0)
    int64_t b = A->rowptr[ib], end = A->rowptr[ib + 1];
    if (C2 == 1)
        for (; b + 2 <= end; b += 2) {
            BLOCK(0, b);
            BLOCK(1, b + 1);
        }
    for (; b < end; b++) BLOCK(0, b);
#undef BLOCK
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < C2; c++)
            _mm256_store_ps(&st->v[s0 + r][i0 + 8 * c], v_float(vt, C2 == 1 ? v_add(vt, a[0][r][c], a[1][r][c]) : a[0][r][c]));
}

SP_AI void tile(int vt, const int CH, const sp_job *j, const int32_t *xt, long ldt, int m0, int mt, int lo, int hi) {
    const shr_spmat *A = j->A;
    stage st __attribute__((aligned(32)));
    for (int n0 = lo; n0 < hi; n0 += 8) {
        int nr = hi - n0 < 8 ? hi - n0 : 8;
        if (A->format == SHR_SP_4X1 || A->format == SHR_SP_8X1) {
            const int C2 = CH > 1 ? 2 : 1;
            for (int h = 0; 4 * h < nr; h++)
                for (int i0 = 0; i0 < 8 * CH; i0 += 8 * C2) {
                    if (A->format == SHR_SP_4X1)
                        rows_4(vt, 4, C2, ldt, j, xt, n0 / 4 + h, 0, i0, &st, 4 * h);
                    else
                        rows_4(vt, 8, C2, ldt, j, xt, n0 / 8, 4 * h, i0, &st, 4 * h);
                }
        } else {
            for (int r = 0; r < nr; r++) row_1(vt, CH, j, xt, ldt, n0 + r, st.v[r]);
        }
        flush(j, &st, nr, n0, m0, mt);
    }
}

SP_AI void run(int vt, const sp_job *j, const int32_t *xt, long ldt, int m0, int lo, int hi) {
    int mt = j->M - m0 < SP_TILE ? j->M - m0 : SP_TILE;
    switch (sp_tile_width(mt)) { /* CH = the tile's width / 8 */
    case 64: tile(vt, 8, j, xt, ldt, m0, mt, lo, hi); break;
    case 32: tile(vt, 4, j, xt, ldt, m0, mt, lo, hi); break;
    case 16: tile(vt, 2, j, xt, ldt, m0, mt, lo, hi); break;
    default: tile(vt, 1, j, xt, ldt, m0, mt, lo, hi);
    }
}

void shr_spmm_xt_avx2(const sp_job *j, const void *xt, long ldt, int m0, int lo, int hi) {
    SP_BY_VT(run, j, xt, ldt, m0, lo, hi);
}
