/* Sparse weight storage: allocation (every size overflow-checked), sizes, names and the way
 * back to dense. Layouts are described in sparse.h. */
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "kernels/sparse_internal.h"
#include "shrink/graph.h"
#include "shrink/tensor.h"

const char *shr_sp_format_name(shr_sp_format format) {
    static const char *const names[SHR_SP_NFORMATS] = {"dense", "csr", "1x4", "4x1", "8x1", "2:4", "1:4"};
    return (int)format >= 0 && format < SHR_SP_NFORMATS ? names[format] : "?";
}

void shr_sp_block_shape(shr_sp_format f, int K, int *br, int *bc, int *keep) {
    static const int rows[SHR_SP_NFORMATS] = {1, 1, 1, 4, 8, 1, 1};
    static const int cols[SHR_SP_NFORMATS] = {0, 1, 4, 1, 1, 4, 4};
    *br = rows[f];
    *bc = f == SHR_SP_DENSE ? K : cols[f];
    *keep = f == SHR_SP_NM24 ? 2 : f == SHR_SP_NM14 ? 1 : 0;
}

void shr_spmat_free(shr_spmat *A) {
    if (!A) return;
    shr_free(A->rowptr);
    shr_free(A->col16);
    shr_free(A->col32);
    shr_free(A->values);
    shr_free(A->pos);
    shr_free(A->scale);
    memset(A, 0, sizeof *A);
}

/* *out = a * b * c, 1 on overflow. */
static int mul3(size_t a, size_t b, size_t c, size_t *out) {
    return shr_mul_overflow_size(a, b, out) || shr_mul_overflow_size(*out, c, out);
}

shr_status shr_spmat_alloc(shr_spmat *A, shr_sp_format format, shr_sp_dtype dtype, int N, int K, int64_t nblocks) {
    if (!A) return shr_fail(SHR_ERR_INVALID_ARG, "sparse weight: NULL matrix");
    memset(A, 0, sizeof *A);
    if ((int)format < 0 || format >= SHR_SP_NFORMATS)
        return shr_fail(SHR_ERR_INVALID_ARG, "sparse weight: unknown format %d", (int)format);
    if (dtype != SHR_SP_F32 && dtype != SHR_SP_I8)
        return shr_fail(SHR_ERR_INVALID_ARG, "sparse weight: unknown value type %d", (int)dtype);
    if (format == SHR_SP_DENSE && dtype == SHR_SP_I8)
        return shr_fail(SHR_ERR_UNSUPPORTED, "sparse weight: the dense format holds f32 values only");
    if (N < 1 || K < 1) return shr_fail(SHR_ERR_SHAPE, "sparse weight: shape %d x %d must be positive", N, K);
    A->format = format;
    A->dtype = dtype;
    A->N = N;
    A->K = K;
    shr_sp_block_shape(format, K, &A->br, &A->bc, &A->nm_keep);
    A->nbrow = (int)(((int64_t)N + A->br - 1) / A->br);
    size_t esize = dtype == SHR_SP_F32 ? sizeof(float) : 1, nval = 0, npos = 0;
    int64_t groups = ((int64_t)K + 3) / 4;
    if (format == SHR_SP_DENSE) {
        A->nblocks = N;
    } else if (A->nm_keep) {
        A->nblocks = (int64_t)N * groups;
        A->pos_stride = (groups * A->nm_keep + 3) / 4;
    } else {
        int64_t most = (int64_t)A->nbrow * (((int64_t)K + A->bc - 1) / A->bc);
        if (nblocks < 0 || nblocks > INT32_MAX || nblocks > most)
            return shr_fail(SHR_ERR_LIMIT, "sparse weight: %lld blocks for a %d x %d %s matrix (at most %lld)",
                            (long long)nblocks, N, K, shr_sp_format_name(format),
                            (long long)(most < INT32_MAX ? most : INT32_MAX));
        A->nblocks = nblocks;
    }
    size_t per_block = (size_t)A->br * (A->nm_keep ? (size_t)A->nm_keep : (size_t)A->bc);
    if (mul3((size_t)A->nblocks, per_block, esize, &nval) || nval / esize > (size_t)SHR_MAX_PARAMS ||
        (A->nm_keep && shr_mul_overflow_size((size_t)N, (size_t)A->pos_stride, &npos))) {
        memset(A, 0, sizeof *A);
        return shr_fail(SHR_ERR_LIMIT, "sparse weight: %d x %d %s stores more than %lld values", N, K,
                        shr_sp_format_name(format), (long long)SHR_MAX_PARAMS);
    }
    int fail = !(A->values = shr_alloc(nval));
    if (format != SHR_SP_DENSE && !A->nm_keep) {
        fail |= !(A->rowptr = shr_alloc(((size_t)A->nbrow + 1) * sizeof(int32_t)));
        if (K <= 65536)
            fail |= !(A->col16 = shr_alloc((size_t)A->nblocks * sizeof(uint16_t)));
        else
            fail |= !(A->col32 = shr_alloc((size_t)A->nblocks * sizeof(int32_t)));
    }
    if (A->nm_keep) fail |= !(A->pos = shr_alloc(npos));
    if (dtype == SHR_SP_I8) fail |= !(A->scale = shr_alloc((size_t)N * sizeof(float)));
    if (fail) {
        shr_spmat_free(A);
        return shr_fail(SHR_ERR_NOMEM, "sparse weight: out of memory for a %d x %d %s matrix (%zu value bytes)", N, K,
                        shr_sp_format_name(format), nval);
    }
    return SHR_OK;
}

size_t shr_spmat_bytes(const shr_spmat *A) {
    size_t esize = A->dtype == SHR_SP_F32 ? sizeof(float) : 1;
    size_t per_block = (size_t)A->br * (A->nm_keep ? (size_t)A->nm_keep : (size_t)A->bc);
    size_t b = (size_t)A->nblocks * per_block * esize;
    if (A->rowptr) b += ((size_t)A->nbrow + 1) * sizeof(int32_t);
    if (A->col16) b += (size_t)A->nblocks * sizeof(uint16_t);
    if (A->col32) b += (size_t)A->nblocks * sizeof(int32_t);
    if (A->pos) b += (size_t)A->N * (size_t)A->pos_stride;
    if (A->scale) b += (size_t)A->N * sizeof(float);
    return b;
}

int64_t shr_spmat_nnz(const shr_spmat *A) {
    size_t per_block = (size_t)A->br * (A->nm_keep ? (size_t)A->nm_keep : (size_t)A->bc);
    size_t n = (size_t)A->nblocks * per_block;
    int64_t count = 0;
    if (A->dtype == SHR_SP_F32) {
        const float *v = A->values;
        for (size_t i = 0; i < n; i++) count += v[i] != 0.0f;
    } else {
        const int8_t *v = A->values;
        for (size_t i = 0; i < n; i++) count += v[i] != 0;
    }
    return count;
}

/* Calls put(n, k, i) for every stored value i (index into values) of a valid matrix, with
 * (n, k) inside the matrix; padding past N or K is skipped. */
#define FOR_EACH_STORED(A, BODY)                                                                   \
    do {                                                                                           \
        if ((A)->format == SHR_SP_DENSE) {                                                         \
            for (int n = 0; n < (A)->N; n++)                                                       \
                for (int k = 0; k < (A)->K; k++) {                                                 \
                    int64_t i = (int64_t)n * (A)->K + k;                                           \
                    BODY;                                                                          \
                }                                                                                  \
        } else if ((A)->nm_keep) {                                                                 \
            int64_t slots = (((int64_t)(A)->K + 3) / 4) * (A)->nm_keep;                            \
            for (int n = 0; n < (A)->N; n++)                                                       \
                for (int64_t s = 0; s < slots; s++) {                                              \
                    const uint8_t *pr = (A)->pos + (int64_t)n * (A)->pos_stride;                   \
                    int k = (int)(s / (A)->nm_keep * 4 + ((pr[s >> 2] >> (2 * (s & 3))) & 3));     \
                    int64_t i = (int64_t)n * slots + s;                                            \
                    BODY;                                                                          \
                }                                                                                  \
        } else {                                                                                   \
            for (int ib = 0; ib < (A)->nbrow; ib++)                                                \
                for (int64_t b = (A)->rowptr[ib]; b < (A)->rowptr[ib + 1]; b++)                   \
                    for (int r = 0; r < (A)->br; r++)                                              \
                        for (int c = 0; c < (A)->bc; c++) {                                        \
                            int n = ib * (A)->br + r;                                              \
                            int k = (A)->col16 ? (A)->col16[b] + c : (A)->col32[b] + c;            \
                            int64_t i = (b * (A)->br + r) * (A)->bc + c;                           \
                            if (n >= (A)->N || k >= (A)->K) continue;                              \
                            BODY;                                                                  \
                        }                                                                          \
        }                                                                                          \
    } while (0)

shr_status shr_spmat_to_dense(const shr_spmat *A, float *W, long ldw) {
    if (!A || !W || ldw < A->K) return shr_fail(SHR_ERR_INVALID_ARG, "sparse to dense: NULL output or ldw < K");
    for (int n = 0; n < A->N; n++) memset(W + (size_t)n * ldw, 0, (size_t)A->K * sizeof(float));
    /* N:M repeats carry zeros, so adding keeps every element exact */
    if (A->dtype == SHR_SP_F32) {
        const float *v = A->values;
        FOR_EACH_STORED(A, W[(size_t)n * ldw + k] += v[i]);
    } else {
        const int8_t *v = A->values;
        FOR_EACH_STORED(A, W[(size_t)n * ldw + k] += (float)v[i] * A->scale[n]);
    }
    return SHR_OK;
}

shr_status shr_spmat_to_dense_q(const shr_spmat *A, int8_t *Q, long ldq) {
    if (!A || !Q || ldq < A->K) return shr_fail(SHR_ERR_INVALID_ARG, "sparse to dense: NULL output or ldq < K");
    if (A->dtype != SHR_SP_I8) return shr_fail(SHR_ERR_INVALID_ARG, "sparse to dense int8: the matrix holds f32");
    for (int n = 0; n < A->N; n++) memset(Q + (size_t)n * ldq, 0, (size_t)A->K);
    const int8_t *v = A->values;
    FOR_EACH_STORED(A, if (v[i]) Q[(size_t)n * ldq + k] = v[i]);
    return SHR_OK;
}
