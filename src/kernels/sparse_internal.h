/* Internal to the sparse kernels: one call's prepared operands and the row-range kernels that
 * the dispatcher (spmm.c) hands to threads. */
#ifndef SHR_KERNELS_SPARSE_INTERNAL_H
#define SHR_KERNELS_SPARSE_INTERNAL_H

#include "kernels/sparse.h"

/* Value kinds: what a kernel multiplies. */
enum {
    SP_VF = 0, /* f32 weights, f32 activations */
    SP_VI = 1, /* int8 weights (scale per row), f32 activations */
    SP_VQ = 2  /* int8 weights, int8 activations: s32 sums */
};

/* Activation rows per K-major tile (Xt). */
#define SP_TILE 64

/* Stored width of a tile holding mt rows: 8 x the power of two >= mt / 8 (8, 16, 32 or 64),
 * so a small batch reads a narrow tile (column k of a 4-row batch is 32 bytes, not 256). */
static inline int sp_tile_width(int mt) {
    int w = 8;
    while (w < mt) w *= 2;
    return w;
}
/* Output rows are handed out in multiples of this (a multiple of every block height). */
#define SP_ROW_UNIT 8

typedef struct sp_job {
    const shr_spmat *A;
    int vt; /* SP_V* */
    int M;
    int kn; /* convolution layout: X [K][ldx], Y [N][ldy] (else X [M][ldx], Y [M][ldy]) */
    /* raw activations: f32 (VF, VI) or int8/uint8 (VQ), row-major, stride ldx */
    const void *X;
    long ldx;
    int x_signed, x_zero;
    float x_scale;
    /* prepared (AVX2 kernels only):
     * xr: row-major [M][K] activations (linear layout only): f32 (VF, VI: X itself) or, for
     *     VQ, int32 lanes holding (uint16_t)(x - x_zero): zero upper half, so vpmaddwd with a
     *     sign-extended int8 weight yields the exact product;
     * xt: K-major tiles [ceil(M / SP_TILE)][K][SP_TILE] of the same values, columns past M zero
     *     (NULL when the kernel for this format does not use them). */
    const void *xr;
    long ldxr;
    const void *xt;
    const float *bias;
    float lo, hi;
    float *Y;
    long ldy;
} sp_job;

/* Output epilogue of row n: VF y = acc; VI y = acc * scale[n]; VQ y = (float)acc * (x_scale *
 * scale[n]); then + bias[n], then clamp (comparisons keep NaN, as the GEMM epilogue). */
static inline float sp_epilogue(const sp_job *j, int n, float acc) {
    float y = acc;
    if (j->vt == SP_VI) y = y * j->A->scale[n];
    if (j->vt == SP_VQ) y = y * (j->x_scale * j->A->scale[n]);
    if (j->bias) y = y + j->bias[n];
    y = y < j->lo ? j->lo : y;
    return y > j->hi ? j->hi : y;
}

/* Block rows x cols and values kept per N:M group of a format (format in range). */
void shr_sp_block_shape(shr_sp_format format, int K, int *br, int *bc, int *keep);

/* The choice rule of shr_spmat_choose over n measured candidates: the fastest available
 * (dense only if allow_dense), then the smallest within 5 % of it. -1 when none. */
int shr_sp_pick(const shr_sp_candidate *c, int n, int allow_dense);

/* Column of block b. */
static inline int sp_col(const shr_spmat *A, int64_t b) { return A->col16 ? (int)A->col16[b] : (int)A->col32[b]; }

/* Rows [lo, hi) of Y for every m < M (lo a multiple of SP_ROW_UNIT; hi too or N). */
void shr_sp_rows_ref(const sp_job *j, int lo, int hi);
/* AVX2, few activation rows (read xr): CSR / 1x4, 4x1 / 8x1, N:M. */
void shr_spmv_row_avx2(const sp_job *j, int lo, int hi);   /* CSR, 1x4 */
void shr_spmv_block_avx2(const sp_job *j, int lo, int hi); /* 4x1, 8x1 */
void shr_spmv_nm_avx2(const sp_job *j, int lo, int hi);    /* 2:4, 1:4 */
/* AVX2 batched, every sparse format: output rows [lo, hi) for activation rows [m0, m0 + mt)
 * (mt = min(SP_TILE, M - m0)) from their K-major tile xt: column k of X at xt + k * ldt, 8 x
 * the power of two >= mt / 8 values readable (zero past mt). */
void shr_spmm_xt_avx2(const sp_job *j, const void *xt, long ldt, int m0, int lo, int hi);
/* AVX2: packs activation rows [m0, m0 + mt) of X (either layout) into one K-major tile
 * [K][tw] (its k rows [k0, k1)), zero past mt; int8 widened as for xr. */
void shr_sp_pack_tile_avx2(const sp_job *j, int m0, int mt, int tw, int k0, int k1, void *tile);
/* Position of activation (m, k) in X and of output (m, n) in Y, in either layout. */
static inline size_t sp_xat(const sp_job *j, int m, int k) {
    return j->kn ? (size_t)k * j->ldx + m : (size_t)m * j->ldx + k;
}
static inline size_t sp_yat(const sp_job *j, int m, int n) {
    return j->kn ? (size_t)n * j->ldy + m : (size_t)m * j->ldy + n;
}

#endif
