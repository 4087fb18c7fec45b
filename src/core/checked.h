/* Internal: overflow-checked size arithmetic for everything read from outside. */
#ifndef SHR_CORE_CHECKED_H
#define SHR_CORE_CHECKED_H

#include <stddef.h>
#include <stdint.h>

/* Each returns 1 on overflow (and leaves *out unspecified), 0 on success. */
static inline int shr_mul_overflow_size(size_t a, size_t b, size_t *out) {
    return __builtin_mul_overflow(a, b, out);
}
static inline int shr_add_overflow_size(size_t a, size_t b, size_t *out) {
    return __builtin_add_overflow(a, b, out);
}
static inline int shr_mul_overflow_i64(int64_t a, int64_t b, int64_t *out) {
    return __builtin_mul_overflow(a, b, out);
}
static inline int shr_add_overflow_i64(int64_t a, int64_t b, int64_t *out) {
    return __builtin_add_overflow(a, b, out);
}

#endif
