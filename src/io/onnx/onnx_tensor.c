/* Decoding ONNX TensorProto values into host constants: element types, the
 * typed repeated fields or raw little-endian bytes, and external data files.
 * Every size is checked against the declared shape before anything is
 * allocated or read, and external paths may not leave the model's folder. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "io/onnx/onnx_internal.h"

enum { T_FLOAT = 1, T_UINT8, T_INT8, T_UINT16, T_INT16, T_INT32, T_INT64, T_STRING, T_BOOL, T_FLOAT16, T_DOUBLE,
       T_UINT32, T_UINT64, T_COMPLEX64, T_COMPLEX128, T_BFLOAT16 };

void ox_const_free(ox_const *k) {
    if (!k) return;
    free(k->f);
    free(k->i);
    free(k);
}

shr_status ox_const_new(int is_int, int onnx_type, int ndim, const int64_t *shape, ox_const **out) {
    if (ndim < 0 || ndim > SHR_MAX_DIMS)
        return shr_fail(SHR_ERR_UNSUPPORTED, "tensor of rank %d (shrink supports up to %d)", ndim, SHR_MAX_DIMS);
    int64_t numel;
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0) return shr_fail(SHR_ERR_FORMAT, "tensor with a negative dimension %lld", (long long)shape[d]);
    SHR_TRY(shr_shape_numel(ndim, shape, &numel));
    if (numel > SHR_MAX_PARAMS)
        return shr_fail(SHR_ERR_LIMIT, "tensor of %lld elements exceeds the limit of %lld", (long long)numel,
                        (long long)SHR_MAX_PARAMS);
    ox_const *k = calloc(1, sizeof *k);
    if (!k) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    k->is_int = is_int;
    k->onnx_type = onnx_type;
    k->ndim = ndim;
    for (int d = 0; d < ndim; d++) k->shape[d] = shape[d];
    k->numel = numel;
    k->value = -1;
    size_t n = (size_t)(numel ? numel : 1);
    if (is_int) k->i = calloc(n, sizeof *k->i);
    else k->f = calloc(n, sizeof *k->f);
    if (!k->i && !k->f) {
        free(k);
        return shr_fail(SHR_ERR_NOMEM, "out of memory for a %lld-element tensor", (long long)numel);
    }
    *out = k;
    return SHR_OK;
}

double ox_const_get_f(const ox_const *k, int64_t e) { return k->is_int ? (double)k->i[e] : (double)k->f[e]; }
int64_t ox_const_get_i(const ox_const *k, int64_t e) { return k->is_int ? k->i[e] : (int64_t)k->f[e]; }

int ox_const_has_batch(const ox_const *k) {
    if (!k->is_int) return 0;
    for (int64_t e = 0; e < k->numel; e++)
        if (k->i[e] == OX_BATCH) return 1;
    return 0;
}

/* Bytes per element in raw_data; 0 for unsupported types. */
static int elem_size(int t) {
    switch (t) {
    case T_FLOAT: case T_INT32: case T_UINT32: return 4;
    case T_UINT8: case T_INT8: case T_BOOL: return 1;
    case T_UINT16: case T_INT16: case T_FLOAT16: case T_BFLOAT16: return 2;
    case T_INT64: case T_DOUBLE: case T_UINT64: return 8;
    default: return 0;
    }
}

static int is_float_type(int t) { return t == T_FLOAT || t == T_DOUBLE || t == T_FLOAT16 || t == T_BFLOAT16; }

static float half_to_float(uint16_t h) {
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, bits;
    if (e == 0) {
        if (m == 0) bits = s;
        else { /* subnormal: normalize */
            int sh = 0;
            while (!(m & 1024)) {
                m <<= 1;
                sh++;
            }
            bits = s | ((uint32_t)(113 - sh) << 23) | ((m & 1023) << 13);
        }
    } else if (e == 31) {
        bits = s | 0x7F800000u | (m << 13);
    } else {
        bits = s | ((e + 112) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Stores element e from little-endian bytes p of type t. */
static shr_status store_raw(ox_const *k, int t, int64_t e, const uint8_t *p) {
    uint64_t u = 0;
    int sz = elem_size(t);
    for (int b = sz - 1; b >= 0; b--) u = (u << 8) | p[b];
    switch (t) {
    case T_FLOAT: { uint32_t w = (uint32_t)u; memcpy(&k->f[e], &w, 4); break; }
    case T_DOUBLE: { double d; memcpy(&d, &u, 8); k->f[e] = (float)d; break; }
    case T_FLOAT16: k->f[e] = half_to_float((uint16_t)u); break;
    case T_BFLOAT16: { uint32_t w = (uint32_t)u << 16; memcpy(&k->f[e], &w, 4); break; }
    case T_INT8: k->i[e] = (int8_t)u; break;
    case T_INT16: k->i[e] = (int16_t)u; break;
    case T_INT32: k->i[e] = (int32_t)u; break;
    case T_INT64: k->i[e] = (int64_t)u; break;
    case T_UINT64:
        if (u > INT64_MAX) return shr_fail(SHR_ERR_UNSUPPORTED, "uint64 value beyond the int64 range");
        k->i[e] = (int64_t)u;
        break;
    case T_BOOL: k->i[e] = u != 0; break;
    default: k->i[e] = (int64_t)u; break; /* uint8/16/32 */
    }
    return SHR_OK;
}

static shr_status from_bytes(ox_const *k, int t, const uint8_t *p, size_t n, const char *name) {
    size_t want;
    if (shr_mul_overflow_size((size_t)k->numel, (size_t)elem_size(t), &want) || n != want)
        return shr_fail(SHR_ERR_FORMAT, "tensor '%s': %zu data bytes for %lld elements", name, n, (long long)k->numel);
    for (int64_t e = 0; e < k->numel; e++) SHR_TRY(store_raw(k, t, e, p + (size_t)e * (size_t)elem_size(t)));
    return SHR_OK;
}

/* Path of an external data file: relative, without "..", under base_dir. */
static shr_status external_path(const char *base, const char *loc, char *buf, size_t size) {
    if (!loc || !loc[0] || loc[0] == '/' || strstr(loc, ".."))
        return shr_fail(SHR_ERR_FORMAT, "external data location '%s' must be a relative path inside the model's folder",
                        loc ? loc : "");
    int n = snprintf(buf, size, "%s/%s", base && base[0] ? base : ".", loc);
    if (n < 0 || (size_t)n >= size) return shr_fail(SHR_ERR_LIMIT, "external data path too long");
    return SHR_OK;
}

static shr_status parse_u64(const char *s, const char *what, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') return shr_fail(SHR_ERR_FORMAT, "external data %s '%s' is not a number", what, s);
    *out = v;
    return SHR_OK;
}

static shr_status read_external(ox_const *k, int t, const Onnx__TensorProto *tp, const char *base) {
    const char *loc = NULL;
    uint64_t offset = 0, length = 0;
    int has_len = 0;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *kv = tp->external_data[i];
        if (!kv->key || !kv->value) continue;
        if (strcmp(kv->key, "location") == 0) loc = kv->value;
        else if (strcmp(kv->key, "offset") == 0) SHR_TRY(parse_u64(kv->value, "offset", &offset));
        else if (strcmp(kv->key, "length") == 0) {
            SHR_TRY(parse_u64(kv->value, "length", &length));
            has_len = 1;
        }
    }
    char path[4096];
    SHR_TRY(external_path(base, loc, path, sizeof path));
    size_t want;
    if (shr_mul_overflow_size((size_t)k->numel, (size_t)elem_size(t), &want) || (has_len && length != want))
        return shr_fail(SHR_ERR_FORMAT, "tensor '%s': external length does not match its shape", tp->name);
    FILE *f = fopen(path, "rb");
    if (!f) return shr_fail(SHR_ERR_IO, "cannot open external data '%s': %s", path, strerror(errno));
    shr_status st = SHR_OK;
    uint8_t *buf = NULL;
    if (fseeko(f, 0, SEEK_END) != 0) st = shr_fail(SHR_ERR_IO, "cannot seek in '%s'", path);
    off_t end = st == SHR_OK ? ftello(f) : -1;
    if (st == SHR_OK && (end < 0 || offset > (uint64_t)end || want > (uint64_t)end - offset))
        st = shr_fail(SHR_ERR_FORMAT, "tensor '%s': external data past the end of '%s'", tp->name, path);
    if (st == SHR_OK && fseeko(f, (off_t)offset, SEEK_SET) != 0) st = shr_fail(SHR_ERR_IO, "cannot seek in '%s'", path);
    if (st == SHR_OK && !(buf = malloc(want ? want : 1))) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK && want && fread(buf, 1, want, f) != want) st = shr_fail(SHR_ERR_IO, "short read from '%s'", path);
    fclose(f);
    if (st == SHR_OK) st = from_bytes(k, t, buf, want, tp->name);
    free(buf);
    return st;
}

/* The typed repeated field that holds type t, as a count and an element reader. */
static shr_status from_fields(ox_const *k, int t, const Onnx__TensorProto *tp) {
    size_t have;
    switch (t) {
    case T_FLOAT: have = tp->n_float_data; break;
    case T_DOUBLE: have = tp->n_double_data; break;
    case T_INT64: have = tp->n_int64_data; break;
    case T_UINT32: case T_UINT64: have = tp->n_uint64_data; break;
    default: have = tp->n_int32_data; break;
    }
    if (have != (size_t)k->numel)
        return shr_fail(SHR_ERR_FORMAT, "tensor '%s': %zu values for %lld elements", tp->name ? tp->name : "",
                        have, (long long)k->numel);
    for (int64_t e = 0; e < k->numel; e++) {
        switch (t) {
        case T_FLOAT: k->f[e] = tp->float_data[e]; break;
        case T_DOUBLE: k->f[e] = (float)tp->double_data[e]; break;
        case T_FLOAT16: k->f[e] = half_to_float((uint16_t)tp->int32_data[e]); break;
        case T_BFLOAT16: {
            uint32_t w = (uint32_t)(uint16_t)tp->int32_data[e] << 16;
            memcpy(&k->f[e], &w, 4);
            break;
        }
        case T_INT64: k->i[e] = tp->int64_data[e]; break;
        case T_UINT32: case T_UINT64:
            if (tp->uint64_data[e] > INT64_MAX) return shr_fail(SHR_ERR_UNSUPPORTED, "uint64 value beyond the int64 range");
            k->i[e] = (int64_t)tp->uint64_data[e];
            break;
        case T_BOOL: k->i[e] = tp->int32_data[e] != 0; break;
        default: k->i[e] = tp->int32_data[e]; break;
        }
    }
    return SHR_OK;
}

shr_status ox_const_from_tensor(const Onnx__TensorProto *tp, const char *base_dir, ox_const **out) {
    const char *name = tp->name ? tp->name : "";
    int t = tp->has_data_type ? tp->data_type : 0;
    if (!elem_size(t))
        return shr_fail(SHR_ERR_UNSUPPORTED, "tensor '%s' has element type %d (shrink reads numeric tensors only)", name, t);
    if (tp->n_dims > SHR_MAX_DIMS)
        return shr_fail(SHR_ERR_UNSUPPORTED, "tensor '%s' has rank %zu (shrink supports up to %d)", name, tp->n_dims,
                        SHR_MAX_DIMS);
    if (tp->segment) return shr_fail(SHR_ERR_UNSUPPORTED, "tensor '%s' is segmented", name);
    ox_const *k;
    shr_status st = ox_const_new(!is_float_type(t), t, (int)tp->n_dims, tp->dims, &k);
    if (st != SHR_OK) return shr_fail(st, "tensor '%s': %s", name, shr_last_error());
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        st = read_external(k, t, tp, base_dir);
    else if (tp->has_raw_data)
        st = from_bytes(k, t, tp->raw_data.data, tp->raw_data.len, name);
    else
        st = from_fields(k, t, tp);
    if (st != SHR_OK) {
        ox_const_free(k);
        return st;
    }
    *out = k;
    return SHR_OK;
}
