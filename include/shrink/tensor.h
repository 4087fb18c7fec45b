/* Tensors: a dtype, a shape (row-major, NCHW for images) and a 64-byte aligned
 * buffer. Compute is f32; i32/i16/i8/u8 and packed int4 are storage types for
 * quantized weights. Packed int4 holds two signed 4-bit values per byte, element
 * 2k in the low nibble and 2k+1 in the high nibble. */
#ifndef SHRINK_TENSOR_H
#define SHRINK_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include "shrink/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHR_MAX_DIMS 8
#define SHR_ALIGN 64

typedef enum shr_dtype {
    SHR_F32 = 0,
    SHR_I32 = 1,
    SHR_I16 = 2,
    SHR_I8 = 3,
    SHR_U8 = 4,
    SHR_I4 = 5, /* packed, two per byte */
    SHR_DTYPE_COUNT
} shr_dtype;

typedef struct shr_tensor {
    shr_dtype dtype;
    int ndim;
    int64_t shape[SHR_MAX_DIMS];
    int64_t numel;
    size_t nbytes; /* bytes of storage (int4: ceil(numel/2)) */
    void *data;    /* SHR_ALIGN-aligned; owned unless is_view */
    int is_view;   /* 1: data belongs to someone else, not freed */
} shr_tensor;

/* "f32", "i32", "i16", "i8", "u8", "i4"; NULL for an invalid dtype. */
const char *shr_dtype_name(shr_dtype t);
/* Parse a dtype name; returns SHR_ERR_INVALID_ARG for unknown names. */
shr_status shr_dtype_parse(const char *name, shr_dtype *out);
/* Bits per element: 32, 32, 16, 8, 8, 4. */
int shr_dtype_bits(shr_dtype t);
/* Storage bytes of numel elements, overflow-checked. */
shr_status shr_dtype_storage(shr_dtype t, int64_t numel, size_t *out_bytes);

/* Product of the dims, overflow-checked; every dim must be >= 0 and ndim in 0..SHR_MAX_DIMS. */
shr_status shr_shape_numel(int ndim, const int64_t *shape, int64_t *out);
/* Writes e.g. "[64, 1, 28, 28]" into buf (always NUL-terminated). */
void shr_shape_str(int ndim, const int64_t *shape, char *buf, size_t size);

/* Allocates a zero-filled tensor. */
shr_status shr_tensor_create(shr_tensor **out, shr_dtype dtype, int ndim, const int64_t *shape);
/* A tensor header over someone else's buffer (not freed by shr_tensor_free). */
shr_status shr_tensor_view(shr_tensor **out, shr_dtype dtype, int ndim, const int64_t *shape, void *data);
/* Deep copy. */
shr_status shr_tensor_clone(shr_tensor **out, const shr_tensor *src);
void shr_tensor_free(shr_tensor *t); /* NULL is a no-op */
/* Change the shape without moving data; the element count must not change. */
shr_status shr_tensor_reshape(shr_tensor *t, int ndim, const int64_t *shape);
/* Fails with SHR_ERR_SHAPE and a message naming `what` unless t has exactly this shape. */
shr_status shr_tensor_expect(const shr_tensor *t, int ndim, const int64_t *shape, const char *what);
/* Number of elements that are not zero (for int4, nibbles that are not zero). */
int64_t shr_tensor_count_nonzero(const shr_tensor *t);

static inline float *shr_f32(const shr_tensor *t) { return (float *)t->data; }

/* Packed int4 access; values are in -8..7. */
static inline int shr_i4_get(const uint8_t *p, int64_t i) {
    int v = (i & 1) ? (p[i >> 1] >> 4) : (p[i >> 1] & 0x0F);
    return v >= 8 ? v - 16 : v;
}
static inline void shr_i4_set(uint8_t *p, int64_t i, int v) {
    uint8_t n = (uint8_t)(v & 0x0F);
    p[i >> 1] = (i & 1) ? (uint8_t)((p[i >> 1] & 0x0F) | (n << 4)) : (uint8_t)((p[i >> 1] & 0xF0) | n);
}

/* 64-byte aligned allocation (zero-filled); shr_free(NULL) is a no-op. */
void *shr_alloc(size_t bytes);
void shr_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
