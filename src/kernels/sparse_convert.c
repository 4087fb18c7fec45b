/* Dense pruned weight -> sparse format (done once per layer). Both passes (count, fill) walk
 * the same blocks so the row pointers and the values always agree. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "kernels/sparse_internal.h"
#include "shrink/tensor.h"

/* The source: f32 weights or int8 ones (exactly one set). */
typedef struct src {
    const float *W;
    const int8_t *Q;
    long ld;
} src;

static int is_nz(const src *s, int n, int k) {
    return s->W ? s->W[(size_t)n * s->ld + k] != 0.0f : s->Q[(size_t)n * s->ld + k] != 0;
}

static void put(const src *s, shr_spmat *A, int64_t i, int n, int k) {
    if (s->W)
        ((float *)A->values)[i] = s->W[(size_t)n * s->ld + k];
    else
        ((int8_t *)A->values)[i] = s->Q[(size_t)n * s->ld + k];
}

/* Does block (block row ib, block column jb) hold a nonzero? */
static int block_nz(const src *s, const shr_spmat *A, int ib, int jb) {
    for (int r = 0; r < A->br; r++)
        for (int c = 0; c < A->bc; c++) {
            int n = ib * A->br + r, k = jb * A->bc + c;
            if (n < A->N && k < A->K && is_nz(s, n, k)) return 1;
        }
    return 0;
}

static shr_status build_blocks(shr_spmat *A, shr_sp_format format, shr_sp_dtype dtype, int N, int K, const src *s) {
    int br, bc, keep;
    shr_sp_block_shape(format, K, &br, &bc, &keep);
    int nbrow = (int)(((int64_t)N + br - 1) / br), nbcol = (int)(((int64_t)K + bc - 1) / bc);
    shr_spmat shape = {.N = N, .K = K, .br = br, .bc = bc};
    int64_t count = 0;
    for (int ib = 0; ib < nbrow; ib++)
        for (int jb = 0; jb < nbcol; jb++) count += block_nz(s, &shape, ib, jb);
    SHR_TRY(shr_spmat_alloc(A, format, dtype, N, K, count));
    int64_t b = 0;
    for (int ib = 0; ib < nbrow; ib++) {
        A->rowptr[ib] = (int32_t)b;
        for (int jb = 0; jb < nbcol; jb++) {
            if (!block_nz(s, A, ib, jb)) continue;
            if (A->col16)
                A->col16[b] = (uint16_t)(jb * bc);
            else
                A->col32[b] = jb * bc;
            for (int r = 0; r < br; r++)
                for (int c = 0; c < bc; c++) {
                    int n = ib * br + r, k = jb * bc + c;
                    if (n < N && k < K) put(s, A, (b * br + r) * bc + c, n, k);
                }
            b++;
        }
    }
    A->rowptr[nbrow] = (int32_t)b;
    return SHR_OK;
}

/* N:M: the group's nonzero positions, completed to `keep` slots with zero-valued positions
 * (ascending; a group shorter than `keep` repeats its last position). */
static shr_status build_nm(shr_spmat *A, shr_sp_format format, shr_sp_dtype dtype, int N, int K, const src *s) {
    SHR_TRY(shr_spmat_alloc(A, format, dtype, N, K, 0));
    int keep = A->nm_keep, groups = (K + 3) / 4;
    for (int n = 0; n < N; n++) {
        uint8_t *pr = A->pos + (int64_t)n * A->pos_stride;
        for (int g = 0; g < groups; g++) {
            int len = K - 4 * g < 4 ? K - 4 * g : 4, p[4], np = 0, used[4] = {0, 0, 0, 0};
            for (int t = 0; t < len; t++)
                if (is_nz(s, n, 4 * g + t)) {
                    if (np == keep) {
                        shr_spmat_free(A);
                        return shr_fail(SHR_ERR_INVALID_ARG,
                                        "sparse weight: row %d, columns %d..%d hold more than %d nonzeros (not %s)", n,
                                        4 * g, 4 * g + len - 1, keep, shr_sp_format_name(format));
                    }
                    p[np++] = t, used[t] = 1;
                }
            for (int t = 0; t < len && np < keep; t++)
                if (!used[t]) p[np++] = t;
            while (np < keep) p[np++] = len - 1;
            for (int a = 1; a < keep; a++) /* sort (keep <= 2 here, but stay general) */
                for (int c = a; c > 0 && p[c] < p[c - 1]; c--) {
                    int t = p[c];
                    p[c] = p[c - 1], p[c - 1] = t;
                }
            for (int j = 0; j < keep; j++) {
                int64_t slot = (int64_t)g * keep + j;
                pr[slot >> 2] |= (uint8_t)(p[j] << (2 * (slot & 3)));
                int repeat = j > 0 && p[j] == p[j - 1]; /* stays zero */
                if (!repeat) put(s, A, (int64_t)n * groups * keep + slot, n, 4 * g + p[j]);
            }
        }
    }
    return SHR_OK;
}

static shr_status build(shr_spmat *A, shr_sp_format format, shr_sp_dtype dtype, int N, int K, const src *s) {
    if ((int)format < 0 || format >= SHR_SP_NFORMATS)
        return shr_fail(SHR_ERR_INVALID_ARG, "sparse weight: unknown format %d", (int)format);
    if (format == SHR_SP_DENSE) {
        SHR_TRY(shr_spmat_alloc(A, format, dtype, N, K, 0));
        for (int n = 0; n < N; n++) memcpy((float *)A->values + (size_t)n * K, s->W + (size_t)n * s->ld, (size_t)K * 4);
        return SHR_OK;
    }
    if (format == SHR_SP_NM24 || format == SHR_SP_NM14) return build_nm(A, format, dtype, N, K, s);
    return build_blocks(A, format, dtype, N, K, s);
}

static shr_status check_args(shr_spmat *A, int N, int K, const void *W, long ld) {
    if (!A) return shr_fail(SHR_ERR_INVALID_ARG, "sparse weight: NULL matrix");
    memset(A, 0, sizeof *A);
    if (!W) return shr_fail(SHR_ERR_INVALID_ARG, "sparse weight: NULL dense weight");
    if (N < 1 || K < 1 || ld < K)
        return shr_fail(SHR_ERR_SHAPE, "sparse weight: shape %d x %d with row stride %ld", N, K, ld);
    return SHR_OK;
}

shr_status shr_spmat_from_dense_q(shr_spmat *A, shr_sp_format format, int N, int K, const int8_t *Q, long ldq,
                                  const float *scale) {
    SHR_TRY(check_args(A, N, K, Q, ldq));
    if (!scale) return shr_fail(SHR_ERR_INVALID_ARG, "sparse weight: NULL int8 scales");
    for (int n = 0; n < N; n++)
        if (!(scale[n] >= 0.0f && scale[n] <= 3.4e38f))
            return shr_fail(SHR_ERR_INVALID_ARG, "sparse weight: scale of row %d is %g (must be finite, >= 0)", n,
                            (double)scale[n]);
    src s = {NULL, Q, ldq};
    SHR_TRY(build(A, format, SHR_SP_I8, N, K, &s));
    memcpy(A->scale, scale, (size_t)N * sizeof(float));
    return SHR_OK;
}

shr_status shr_spmat_from_dense(shr_spmat *A, shr_sp_format format, shr_sp_dtype dtype, int N, int K, const float *W,
                                long ldw) {
    SHR_TRY(check_args(A, N, K, W, ldw));
    if (dtype == SHR_SP_F32) {
        src s = {W, NULL, ldw};
        return build(A, format, dtype, N, K, &s);
    }
    if (dtype != SHR_SP_I8) return shr_fail(SHR_ERR_INVALID_ARG, "sparse weight: unknown value type %d", (int)dtype);
    /* symmetric per-row quantization into a dense int8 copy, then the int8 path */
    int8_t *Q = shr_alloc((size_t)N * K);
    float *scale = shr_alloc((size_t)N * sizeof(float));
    if (!Q || !scale) {
        shr_free(Q), shr_free(scale);
        return shr_fail(SHR_ERR_NOMEM, "sparse weight: out of memory quantizing a %d x %d weight", N, K);
    }
    shr_status st = SHR_OK;
    for (int n = 0; n < N && st == SHR_OK; n++) {
        const float *w = W + (size_t)n * ldw;
        float amax = 0.0f;
        for (int k = 0; k < K; k++) {
            if (!isfinite(w[k])) {
                st = shr_fail(SHR_ERR_INVALID_ARG, "sparse weight: row %d column %d is not finite", n, k);
                break;
            }
            amax = fabsf(w[k]) > amax ? fabsf(w[k]) : amax;
        }
        scale[n] = amax / 127.0f;
        for (int k = 0; k < K && scale[n] > 0.0f; k++) {
            float q = nearbyintf(w[k] / scale[n]);
            Q[(size_t)n * K + k] = (int8_t)(q > 127.0f ? 127 : q < -127.0f ? -127 : (int)q);
        }
    }
    if (st == SHR_OK) st = shr_spmat_from_dense_q(A, format, N, K, Q, K, scale);
    shr_free(Q), shr_free(scale);
    return st;
}
