/* int4 weight-only matrices: allocation, validation, quantization from f32 and
 * dequantization (layout in int4.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/int4.h"
#include "shrink/tensor.h"

/* Rows and columns are ints in every kernel; this bound keeps N * ldq and N * ngroups far
 * from overflow in size_t and long. */
#define I4_MAX_DIM (1 << 30)

static int group_ok(int g) { return g >= 32 && g <= 1024 && (g & (g - 1)) == 0; }

static shr_status check_dims(int N, int K, int group) {
    if (N < 0 || K < 0 || N > I4_MAX_DIM || K > I4_MAX_DIM)
        return shr_fail(SHR_ERR_INVALID_ARG, "int4 matrix: bad size %d x %d", N, K);
    if (!group_ok(group))
        return shr_fail(SHR_ERR_INVALID_ARG, "int4 matrix: group size %d is not a power of two in 32..1024", group);
    return SHR_OK;
}

static int ngroups_of(int K, int group) { return (int)(((long)K + group - 1) / group); }

shr_status shr_i4_mat_create(shr_i4_mat **out, int N, int K, int group, int asym) {
    *out = NULL;
    SHR_TRY(check_dims(N, K, group));
    shr_i4_mat *m = calloc(1, sizeof *m);
    if (!m) return shr_fail(SHR_ERR_NOMEM, "int4 matrix: out of memory");
    m->N = N, m->K = K, m->group = group, m->ngroups = ngroups_of(K, group);
    m->ldq = shr_i4_row_bytes(K);
    m->owned = 1;
    size_t ng = (size_t)N * (size_t)m->ngroups;
    /* shr_alloc(0) may return NULL: allocate at least one element of each. */
    m->q = shr_alloc((size_t)N * (size_t)m->ldq + 1);
    m->scale = shr_alloc((ng + 1) * sizeof(float));
    m->zero = asym ? shr_alloc(ng + 1) : NULL;
    if (!m->q || !m->scale || (asym && !m->zero)) {
        shr_i4_mat_free(m);
        return shr_fail(SHR_ERR_NOMEM, "int4 matrix: out of memory for %d x %d", N, K);
    }
    *out = m;
    return SHR_OK;
}

void shr_i4_mat_free(shr_i4_mat *m) {
    if (!m) return;
    if (m->owned) {
        shr_free(m->q);
        shr_free(m->scale);
        shr_free(m->zero);
    }
    free(m);
}

shr_status shr_i4_mat_check(const shr_i4_mat *m) {
    SHR_TRY(check_dims(m->N, m->K, m->group));
    if (m->ngroups != ngroups_of(m->K, m->group))
        return shr_fail(SHR_ERR_FORMAT, "int4 matrix: %d groups, want %d for K=%d, G=%d", m->ngroups,
                        ngroups_of(m->K, m->group), m->K, m->group);
    if (m->ldq < shr_i4_row_bytes(m->K))
        return shr_fail(SHR_ERR_FORMAT, "int4 matrix: row stride %ld bytes < %ld for K=%d", m->ldq,
                        shr_i4_row_bytes(m->K), m->K);
    if (m->N > 0 && (!m->q || !m->scale))
        return shr_fail(SHR_ERR_INVALID_ARG, "int4 matrix: missing data");
    size_t ng = (size_t)m->N * (size_t)m->ngroups;
    for (size_t i = 0; i < ng; i++) {
        if (!isfinite(m->scale[i]))
            return shr_fail(SHR_ERR_FORMAT, "int4 matrix: scale %zu is not finite", i);
        if (m->zero && (m->zero[i] < -8 || m->zero[i] > 7))
            return shr_fail(SHR_ERR_FORMAT, "int4 matrix: zero point %d at %zu outside -8..7", m->zero[i], i);
    }
    return SHR_OK;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

/* One group of n weights -> nibbles at element offset k0 of row q, its scale and zero. */
static void quantize_group(const float *w, int n, int asym, uint8_t *q, int k0, float *scale, int8_t *zero) {
    float mn = w[0], mx = w[0];
    for (int i = 1; i < n; i++) {
        mn = w[i] < mn ? w[i] : mn;
        mx = w[i] > mx ? w[i] : mx;
    }
    float s;
    int z = 0; /* stored zero point, -8..7 */
    if (asym) {
        float lo = mn < 0.0f ? mn : 0.0f, hi = mx > 0.0f ? mx : 0.0f;
        s = (float)(((double)hi - lo) / 15.0); /* in double: hi - lo may exceed FLT_MAX */
        if (s > 0.0f) z = (int)clampf(rintf(-lo / s), 0.0f, 15.0f) - 8;
    } else {
        float a = mx / 7.0f, b = -mn / 8.0f;
        s = a > b ? a : b;
        if (s < 0.0f) s = 0.0f;
    }
    *scale = s;
    if (zero) *zero = (int8_t)z;
    for (int i = 0; i < n; i++) {
        /* Divide (not multiply by 1/s): the nearest level is then off by at most an ulp. */
        float r = s > 0.0f ? rintf(w[i] / s) : 0.0f;
        int v = (int)clampf(r + (float)z, -8.0f, 7.0f);
        shr_i4_set(q, k0 + i, v);
    }
}

shr_status shr_i4_quantize(const float *W, long ldw, int N, int K, int group, int asym, shr_i4_mat **out) {
    *out = NULL;
    SHR_TRY(check_dims(N, K, group));
    if (ldw < K) return shr_fail(SHR_ERR_INVALID_ARG, "int4 quantize: row stride %ld < K=%d", ldw, K);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            if (!isfinite(W[(long)n * ldw + k]))
                return shr_fail(SHR_ERR_INVALID_ARG, "int4 quantize: weight [%d, %d] is not finite", n, k);
    shr_i4_mat *m;
    SHR_TRY(shr_i4_mat_create(&m, N, K, group, asym));
    memset(m->q, 0, (size_t)N * (size_t)m->ldq);
    for (int n = 0; n < N; n++) {
        uint8_t *q = m->q + (long)n * m->ldq;
        for (int g = 0; g < m->ngroups; g++) {
            int k0 = g * group, len = K - k0 < group ? K - k0 : group;
            long gi = (long)n * m->ngroups + g;
            quantize_group(W + (long)n * ldw + k0, len, asym, q, k0, m->scale + gi, m->zero ? m->zero + gi : NULL);
        }
    }
    *out = m;
    return SHR_OK;
}

void shr_i4_dequantize(const shr_i4_mat *m, float *W, long ldw) {
    for (int n = 0; n < m->N; n++) {
        const uint8_t *q = m->q + (long)n * m->ldq;
        for (int k = 0; k < m->K; k++) {
            long gi = (long)n * m->ngroups + k / m->group;
            int z = m->zero ? m->zero[gi] : 0;
            W[(long)n * ldw + k] = (float)(shr_i4_get(q, k) - z) * m->scale[gi];
        }
    }
}
