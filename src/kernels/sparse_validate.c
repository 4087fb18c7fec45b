/* Validation of sparse weights whose arrays came from outside (a .shrk file): after this the
 * kernels may trust every index. Each failure names the first fault found. */
#include <math.h>

#include "core/checked.h"
#include "core/error.h"
#include "kernels/sparse_internal.h"
#include "shrink/graph.h"

#define BAD(...) shr_fail(SHR_ERR_FORMAT, __VA_ARGS__)

static shr_status check_header(const shr_spmat *A, const char *fmt) {
    if ((int)A->format < 0 || A->format >= SHR_SP_NFORMATS)
        return BAD("sparse weight: unknown format %d", (int)A->format);
    if (A->dtype != SHR_SP_F32 && A->dtype != SHR_SP_I8)
        return BAD("sparse weight: unknown value type %d", (int)A->dtype);
    if (A->format == SHR_SP_DENSE && A->dtype != SHR_SP_F32) return BAD("sparse weight: dense int8 is not a format");
    if (A->N < 1 || A->K < 1) return BAD("sparse weight (%s): shape %d x %d is not positive", fmt, A->N, A->K);
    int br, bc, keep;
    shr_sp_block_shape(A->format, A->K, &br, &bc, &keep);
    int nbrow = (int)(((int64_t)A->N + br - 1) / br);
    if (A->br != br || A->bc != bc || A->nm_keep != keep || A->nbrow != nbrow)
        return BAD("sparse weight (%s %d x %d): block shape %d x %d, keep %d, %d block rows; expected %d x %d, %d, %d",
                   fmt, A->N, A->K, A->br, A->bc, A->nm_keep, A->nbrow, br, bc, keep, nbrow);
    if (!A->values) return BAD("sparse weight (%s): no values", fmt);
    if (A->dtype == SHR_SP_I8) {
        if (!A->scale) return BAD("sparse weight (%s): int8 values without row scales", fmt);
        for (int n = 0; n < A->N; n++)
            if (!(A->scale[n] >= 0.0f && isfinite(A->scale[n])))
                return BAD("sparse weight (%s): scale of row %d is %g (must be finite, >= 0)", fmt, n,
                           (double)A->scale[n]);
    }
    size_t per_block = (size_t)br * (keep ? (size_t)keep : (size_t)bc), nval;
    if (A->nblocks < 0 || shr_mul_overflow_size((size_t)A->nblocks, per_block, &nval) ||
        nval > (size_t)SHR_MAX_PARAMS)
        return BAD("sparse weight (%s): %lld blocks hold more than %lld values", fmt, (long long)A->nblocks,
                   (long long)SHR_MAX_PARAMS);
    return SHR_OK;
}

static int is_zero(const shr_spmat *A, int64_t i) {
    return A->dtype == SHR_SP_F32 ? ((const float *)A->values)[i] == 0.0f : ((const int8_t *)A->values)[i] == 0;
}

static shr_status check_blocks(const shr_spmat *A, const char *fmt) {
    int64_t nbcol = ((int64_t)A->K + A->bc - 1) / A->bc;
    if (A->nblocks > INT32_MAX || A->nblocks > (int64_t)A->nbrow * nbcol)
        return BAD("sparse weight (%s %d x %d): %lld blocks, more than fit", fmt, A->N, A->K, (long long)A->nblocks);
    if (!A->rowptr) return BAD("sparse weight (%s): no row pointers", fmt);
    if (!A->col16 == !A->col32) return BAD("sparse weight (%s): need exactly one of 16- and 32-bit columns", fmt);
    if (A->col16 && A->K > 65536) return BAD("sparse weight (%s): 16-bit columns for K = %d > 65536", fmt, A->K);
    if (A->rowptr[0] != 0) return BAD("sparse weight (%s): first row pointer is %d, not 0", fmt, (int)A->rowptr[0]);
    for (int ib = 0; ib < A->nbrow; ib++) {
        int32_t lo = A->rowptr[ib], hi = A->rowptr[ib + 1];
        if (hi < lo || hi > A->nblocks)
            return BAD("sparse weight (%s): row pointer %d is %d after %d (must rise, at most %lld blocks)", fmt,
                       ib + 1, (int)hi, (int)lo, (long long)A->nblocks);
        int prev = -1;
        for (int32_t b = lo; b < hi; b++) {
            int col = A->col16 ? (int)A->col16[b] : (int)A->col32[b];
            if (col < 0 || col >= A->K || col % A->bc != 0)
                return BAD("sparse weight (%s): block %d of block row %d starts at column %d (K = %d, width %d)", fmt,
                           (int)b, ib, col, A->K, A->bc);
            if (col <= prev)
                return BAD("sparse weight (%s): block row %d columns not ascending (%d after %d)", fmt, ib, col, prev);
            prev = col;
            for (int r = 0; r < A->br; r++)
                for (int c = 0; c < A->bc; c++)
                    if ((ib * A->br + r >= A->N || col + c >= A->K) && !is_zero(A, ((int64_t)b * A->br + r) * A->bc + c))
                        return BAD("sparse weight (%s): block %d holds a nonzero outside the %d x %d matrix", fmt,
                                   (int)b, A->N, A->K);
        }
    }
    if (A->rowptr[A->nbrow] != A->nblocks)
        return BAD("sparse weight (%s): last row pointer is %d, not the block count %lld", fmt,
                   (int)A->rowptr[A->nbrow], (long long)A->nblocks);
    return SHR_OK;
}

static shr_status check_nm(const shr_spmat *A, const char *fmt) {
    int64_t groups = ((int64_t)A->K + 3) / 4, slots = groups * A->nm_keep;
    if (A->nblocks != (int64_t)A->N * groups)
        return BAD("sparse weight (%s): %lld groups, expected %lld", fmt, (long long)A->nblocks,
                   (long long)A->N * groups);
    if (A->pos_stride != (slots + 3) / 4 || !A->pos)
        return BAD("sparse weight (%s): position rows of %lld bytes, expected %lld", fmt, (long long)A->pos_stride,
                   (long long)((slots + 3) / 4));
    for (int n = 0; n < A->N; n++) {
        const uint8_t *pr = A->pos + (int64_t)n * A->pos_stride;
        for (int64_t g = 0; g < groups; g++) {
            int len = A->K - 4 * g < 4 ? (int)(A->K - 4 * g) : 4, prev = -1;
            for (int j = 0; j < A->nm_keep; j++) {
                int64_t s = g * A->nm_keep + j;
                int p = (pr[s >> 2] >> (2 * (s & 3))) & 3;
                if (p >= len || p < prev || (p == prev && !is_zero(A, (int64_t)n * slots + s)))
                    return BAD("sparse weight (%s): row %d group %lld: position %d %s", fmt, n, (long long)g, p,
                               p >= len ? "outside the row" : p < prev ? "not ascending" : "repeated with a value");
                prev = p;
            }
        }
        if ((slots & 3) && (pr[A->pos_stride - 1] >> (2 * (slots & 3))))
            return BAD("sparse weight (%s): row %d has bits set past its last position", fmt, n);
    }
    return SHR_OK;
}

shr_status shr_spmat_validate(const shr_spmat *A) {
    if (!A) return shr_fail(SHR_ERR_INVALID_ARG, "sparse weight: NULL matrix");
    const char *fmt = shr_sp_format_name(A->format);
    SHR_TRY(check_header(A, fmt));
    if (A->format == SHR_SP_DENSE) {
        if (A->nblocks != A->N) return BAD("sparse weight (dense): %lld rows, expected %d", (long long)A->nblocks, A->N);
        return SHR_OK;
    }
    return A->nm_keep ? check_nm(A, fmt) : check_blocks(A, fmt);
}
