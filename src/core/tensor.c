#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "shrink/tensor.h"

static const char *const dtype_names[SHR_DTYPE_COUNT] = {"f32", "i32", "i16", "i8", "u8", "i4"};
static const int dtype_bits[SHR_DTYPE_COUNT] = {32, 32, 16, 8, 8, 4};

const char *shr_dtype_name(shr_dtype t) {
    return ((unsigned)t < SHR_DTYPE_COUNT) ? dtype_names[t] : NULL;
}

shr_status shr_dtype_parse(const char *name, shr_dtype *out) {
    for (int i = 0; i < SHR_DTYPE_COUNT; i++)
        if (strcmp(name, dtype_names[i]) == 0) {
            *out = (shr_dtype)i;
            return SHR_OK;
        }
    return shr_fail(SHR_ERR_INVALID_ARG, "unknown dtype '%s'", name);
}

int shr_dtype_bits(shr_dtype t) { return ((unsigned)t < SHR_DTYPE_COUNT) ? dtype_bits[t] : 0; }

shr_status shr_dtype_storage(shr_dtype t, int64_t numel, size_t *out_bytes) {
    if ((unsigned)t >= SHR_DTYPE_COUNT) return shr_fail(SHR_ERR_INVALID_ARG, "invalid dtype %d", (int)t);
    if (numel < 0) return shr_fail(SHR_ERR_INVALID_ARG, "negative element count");
    if (t == SHR_I4) {
        *out_bytes = (size_t)(numel / 2 + (numel & 1));
        return SHR_OK;
    }
    if (shr_mul_overflow_size((size_t)numel, (size_t)(dtype_bits[t] / 8), out_bytes))
        return shr_fail(SHR_ERR_LIMIT, "tensor of %lld elements is too large", (long long)numel);
    return SHR_OK;
}

shr_status shr_shape_numel(int ndim, const int64_t *shape, int64_t *out) {
    if (ndim < 0 || ndim > SHR_MAX_DIMS)
        return shr_fail(SHR_ERR_SHAPE, "rank %d is outside 0..%d", ndim, SHR_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return shr_fail(SHR_ERR_SHAPE, "dimension %d is negative (%lld)", i, (long long)shape[i]);
        if (shr_mul_overflow_i64(n, shape[i], &n))
            return shr_fail(SHR_ERR_LIMIT, "shape element count overflows");
    }
    *out = n;
    return SHR_OK;
}

void shr_shape_str(int ndim, const int64_t *shape, char *buf, size_t size) {
    size_t used = 0;
    if (size == 0) return;
    buf[0] = '\0';
    used += (size_t)snprintf(buf + used, size - used, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
}

void *shr_alloc(size_t bytes) {
    size_t rounded;
    if (shr_add_overflow_size(bytes, SHR_ALIGN - 1, &rounded)) return NULL;
    rounded &= ~(size_t)(SHR_ALIGN - 1);
    if (rounded == 0) rounded = SHR_ALIGN;
    void *p = aligned_alloc(SHR_ALIGN, rounded);
    if (p) memset(p, 0, rounded);
    return p;
}

void shr_free(void *p) { free(p); }

static shr_status tensor_header(shr_tensor **out, shr_dtype dtype, int ndim, const int64_t *shape) {
    int64_t numel;
    size_t nbytes;
    SHR_TRY(shr_shape_numel(ndim, shape, &numel));
    SHR_TRY(shr_dtype_storage(dtype, numel, &nbytes));
    shr_tensor *t = calloc(1, sizeof *t);
    if (!t) return shr_fail(SHR_ERR_NOMEM, "out of memory allocating a tensor header");
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = numel;
    t->nbytes = nbytes;
    *out = t;
    return SHR_OK;
}

shr_status shr_tensor_create(shr_tensor **out, shr_dtype dtype, int ndim, const int64_t *shape) {
    shr_tensor *t;
    SHR_TRY(tensor_header(&t, dtype, ndim, shape));
    t->data = shr_alloc(t->nbytes);
    if (!t->data) {
        size_t nbytes = t->nbytes;
        free(t);
        return shr_fail(SHR_ERR_NOMEM, "out of memory allocating %zu bytes for a tensor", nbytes);
    }
    *out = t;
    return SHR_OK;
}

shr_status shr_tensor_view(shr_tensor **out, shr_dtype dtype, int ndim, const int64_t *shape, void *data) {
    shr_tensor *t;
    SHR_TRY(tensor_header(&t, dtype, ndim, shape));
    t->data = data;
    t->is_view = 1;
    *out = t;
    return SHR_OK;
}

shr_status shr_tensor_clone(shr_tensor **out, const shr_tensor *src) {
    shr_tensor *t;
    SHR_TRY(shr_tensor_create(&t, src->dtype, src->ndim, src->shape));
    if (src->nbytes) memcpy(t->data, src->data, src->nbytes);
    *out = t;
    return SHR_OK;
}

void shr_tensor_free(shr_tensor *t) {
    if (!t) return;
    if (!t->is_view) shr_free(t->data);
    free(t);
}

shr_status shr_tensor_reshape(shr_tensor *t, int ndim, const int64_t *shape) {
    int64_t numel;
    SHR_TRY(shr_shape_numel(ndim, shape, &numel));
    if (numel != t->numel) {
        char a[96], b[96];
        shr_shape_str(t->ndim, t->shape, a, sizeof a);
        shr_shape_str(ndim, shape, b, sizeof b);
        return shr_fail(SHR_ERR_SHAPE, "cannot reshape %s to %s: element counts differ", a, b);
    }
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    return SHR_OK;
}

shr_status shr_tensor_expect(const shr_tensor *t, int ndim, const int64_t *shape, const char *what) {
    int same = t && t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (same) return SHR_OK;
    char want[96], got[96] = "(none)";
    shr_shape_str(ndim, shape, want, sizeof want);
    if (t) shr_shape_str(t->ndim, t->shape, got, sizeof got);
    return shr_fail(SHR_ERR_SHAPE, "%s: expected shape %s, got %s", what, want, got);
}

int64_t shr_tensor_count_nonzero(const shr_tensor *t) {
    int64_t nz = 0;
    switch (t->dtype) {
    case SHR_F32: for (int64_t i = 0; i < t->numel; i++) nz += ((const float *)t->data)[i] != 0.0f; break;
    case SHR_I32: for (int64_t i = 0; i < t->numel; i++) nz += ((const int32_t *)t->data)[i] != 0; break;
    case SHR_I16: for (int64_t i = 0; i < t->numel; i++) nz += ((const int16_t *)t->data)[i] != 0; break;
    case SHR_I8: for (int64_t i = 0; i < t->numel; i++) nz += ((const int8_t *)t->data)[i] != 0; break;
    case SHR_U8: for (int64_t i = 0; i < t->numel; i++) nz += ((const uint8_t *)t->data)[i] != 0; break;
    case SHR_I4: for (int64_t i = 0; i < t->numel; i++) nz += shr_i4_get(t->data, i) != 0; break;
    default: break;
    }
    return nz;
}
