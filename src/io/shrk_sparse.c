/* The SPARSE section: encoder (smallest of bitmask, CSR and block encodings) and
 * a validating decoder, for f32 params and the i8 / i16 weights of quantized models
 * (element sizes 4, 1, 2). A stored element is "zero" when all its bytes are zero
 * (+0.0 for f32), so -0.0 and NaN payloads survive bit for bit. The decoder treats every byte as
 * hostile: sizes are derived and cross-checked before any loop, indices are range-
 * and order-checked, and an encoding must be canonical (no stored zero values,
 * no set padding bits), so a file has exactly one valid reading. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/shrk_format.h"
#include "io/shrk_sparse.h"

/* Bytes per element of a dtype the section may hold; 0 for the others. */
static int elem_size(shr_dtype t) { return t == SHR_F32 ? 4 : t == SHR_I16 ? 2 : t == SHR_I8 ? 1 : 0; }

static int bytes_nz(const uint8_t *p, int esz) {
    uint8_t any = 0;
    for (int b = 0; b < esz; b++) any |= p[b];
    return any != 0;
}
static int is_nz(const uint8_t *w, int esz, int64_t i) { return bytes_nz(w + (size_t)i * esz, esz); }

/* The 2-D (rows, cols) view: dim 0 by the rest. */
static void view2d(const shr_tensor *t, int64_t *R, int64_t *C) {
    *R = t->ndim >= 1 ? t->shape[0] : 1;
    *C = *R > 0 ? t->numel / *R : 0;
}

static const int block_shapes[][2] = {{1, 4}, {4, 1}, {8, 1}, {4, 4}};

static int block_any(const uint8_t *w, int esz, int64_t C, int64_t r0, int64_t c0, int bh, int bw) {
    for (int i = 0; i < bh; i++)
        for (int j = 0; j < bw; j++)
            if (is_nz(w, esz, (r0 + i) * C + c0 + j)) return 1;
    return 0;
}

static int64_t kept_blocks(const uint8_t *w, int esz, int64_t R, int64_t C, int bh, int bw) {
    int64_t kept = 0;
    for (int64_t br = 0; br < R; br += bh)
        for (int64_t bc = 0; bc < C; bc += bw) kept += block_any(w, esz, C, br, bc, bh, bw);
    return kept;
}

/* A reader allocates the dense tensor: an encoding may not expand more than this
 * (a bitmask, at most 8 elements per byte, always qualifies). */
static int expansion_ok(int64_t numel, uint64_t nbytes) {
    return (uint64_t)numel <= SHRK_SPARSE_MAX_EXPANSION * nbytes + 4096;
}

shrk_enc shrk_sparse_choose(const shr_value *v) {
    shrk_enc best = {SHRK_ENC_DENSE, 0, 0, 0};
    const shr_tensor *t = v->data;
    int esz = t ? elem_size(t->dtype) : 0;
    if (v->kind != SHR_VALUE_PARAM || !esz || t->numel < SHRK_SPARSE_MIN_NUMEL) return best;
    const uint8_t *w = t->data;
    int64_t n = t->numel, nnz = 0, R, C;
    for (int64_t i = 0; i < n; i++) nnz += is_nz(w, esz, i);
    view2d(t, &R, &C);
    best.nbytes = (size_t)n * esz;
    shrk_enc c = {SHRK_ENC_BITMASK, 0, 0, (size_t)((n + 7) / 8 + esz * nnz)};
    if (c.nbytes < best.nbytes) best = c;
    uint32_t wd = C <= 65536 ? 2 : 4;
    c = (shrk_enc){SHRK_ENC_CSR, wd, 0, (size_t)(4 * (R + 1) + (int64_t)(wd + esz) * nnz)};
    if (R >= 1 && R < UINT32_MAX && c.nbytes < best.nbytes && expansion_ok(n, c.nbytes)) best = c;
    for (size_t s = 0; s < sizeof block_shapes / sizeof *block_shapes; s++) {
        int bh = block_shapes[s][0], bw = block_shapes[s][1];
        if (R < 1 || R % bh || C % bw) continue;
        int64_t nb = (R / bh) * (C / bw);
        c = (shrk_enc){SHRK_ENC_BLOCK, (uint32_t)bh, (uint32_t)bw,
                       (size_t)((nb + 7) / 8 + kept_blocks(w, esz, R, C, bh, bw) * bh * bw * esz)};
        if (c.nbytes < best.nbytes && expansion_ok(n, c.nbytes)) best = c;
    }
    if (best.kind == SHRK_ENC_DENSE) best.nbytes = 0;
    return best;
}

static void encode(const shr_tensor *t, const shrk_enc *e, uint8_t *dst) {
    const uint8_t *w = t->data;
    int esz = elem_size(t->dtype);
    int64_t n = t->numel, R, C;
    view2d(t, &R, &C);
    memset(dst, 0, e->nbytes);
    if (e->kind == SHRK_ENC_BITMASK) {
        uint8_t *vals = dst + (n + 7) / 8;
        for (int64_t i = 0; i < n; i++)
            if (is_nz(w, esz, i)) {
                dst[i >> 3] |= (uint8_t)(1u << (i & 7));
                memcpy(vals, w + (size_t)i * esz, (size_t)esz);
                vals += esz;
            }
    } else if (e->kind == SHRK_ENC_CSR) {
        int64_t nnz = 0;
        for (int64_t i = 0; i < n; i++) nnz += is_nz(w, esz, i);
        uint8_t *cols = dst + 4 * (R + 1), *vals = cols + (int64_t)e->p0 * nnz;
        uint32_t at = 0;
        for (int64_t r = 0; r < R; r++) {
            shrk_put_u32(dst + 4 * r, at);
            for (int64_t c = 0; c < C; c++) {
                if (!is_nz(w, esz, r * C + c)) continue;
                if (e->p0 == 2) {
                    cols[0] = (uint8_t)c;
                    cols[1] = (uint8_t)(c >> 8);
                } else {
                    shrk_put_u32(cols, (uint32_t)c);
                }
                cols += e->p0;
                memcpy(vals, w + (size_t)(r * C + c) * esz, (size_t)esz);
                vals += esz;
                at++;
            }
        }
        shrk_put_u32(dst + 4 * R, at);
    } else {
        int bh = (int)e->p0, bw = (int)e->p1;
        int64_t nb = (R / bh) * (C / bw), b = 0;
        uint8_t *vals = dst + (nb + 7) / 8;
        for (int64_t br = 0; br < R; br += bh)
            for (int64_t bc = 0; bc < C; bc += bw, b++) {
                if (!block_any(w, esz, C, br, bc, bh, bw)) continue;
                dst[b >> 3] |= (uint8_t)(1u << (b & 7));
                for (int i = 0; i < bh; i++) {
                    memcpy(vals, w + (size_t)((br + i) * C + bc) * esz, (size_t)bw * esz);
                    vals += (size_t)bw * esz;
                }
            }
    }
}

shr_status shrk_sparse_section_size(const shr_graph *g, const shrk_enc *enc, uint32_t *count, size_t *size) {
    uint32_t n = 0;
    size_t at = 0;
    for (int v = 0; v < g->n_values; v++) n += enc[v].kind != SHRK_ENC_DENSE;
    if (n) {
        at = 8 + (size_t)n * SHRK_SPARSE_ENTRY_SIZE;
        for (int v = 0; v < g->n_values; v++)
            if (enc[v].kind != SHRK_ENC_DENSE && __builtin_add_overflow(at, enc[v].nbytes, &at))
                return shr_fail(SHR_ERR_LIMIT, "cannot save: sparse tensor data too large");
    }
    *count = n;
    *size = at;
    return SHR_OK;
}

void shrk_sparse_section_fill(uint8_t *dst, const shr_graph *g, const shrk_enc *enc, uint32_t count) {
    shrk_put_u32(dst, count);
    shrk_put_u32(dst + 4, 0);
    uint8_t *entry = dst + 8;
    size_t at = 8 + (size_t)count * SHRK_SPARSE_ENTRY_SIZE;
    for (int v = 0; v < g->n_values; v++) {
        if (enc[v].kind == SHRK_ENC_DENSE) continue;
        shrk_put_u32(entry, (uint32_t)v);
        shrk_put_u32(entry + 4, enc[v].kind);
        shrk_put_u32(entry + 8, enc[v].p0);
        shrk_put_u32(entry + 12, enc[v].p1);
        shrk_put_u64(entry + 16, at);
        shrk_put_u64(entry + 24, enc[v].nbytes);
        entry += SHRK_SPARSE_ENTRY_SIZE;
        encode(g->values[v].data, &enc[v], dst + at);
        at += enc[v].nbytes;
    }
}

/* ---- decoding ---- */

typedef struct dec {
    const uint8_t *p;
    uint64_t n;       /* bytes of the encoded tensor */
    const char *name; /* for messages */
    int esz;          /* bytes per element */
} dec;

static shr_status bad(const dec *d, const char *what) {
    return shr_fail(SHR_ERR_FORMAT, "section SPARSE: tensor '%s': %s", d->name, what);
}

/* Counts the set bits of a mask of `bits` bits; fails if a padding bit is set. */
static shr_status mask_count(const dec *d, const uint8_t *m, uint64_t bits, uint64_t *count) {
    uint64_t c = 0, bytes = (bits + 7) / 8;
    for (uint64_t i = 0; i < bytes; i++) c += (uint64_t)__builtin_popcount(m[i]);
    if (bits % 8 && (m[bytes - 1] >> (bits % 8)))
        return bad(d, "padding bits of the mask are set");
    *count = c;
    return SHR_OK;
}

/* Copies one stored value into element i; stored values must not be zero (canonical encoding). */
static shr_status put_value(const dec *d, const uint8_t *src, shr_tensor *t, uint64_t i) {
    if (!bytes_nz(src, d->esz)) return bad(d, "stores a zero value (not canonical)");
    memcpy((uint8_t *)t->data + i * (uint64_t)d->esz, src, (size_t)d->esz);
    return SHR_OK;
}

static shr_status dec_bitmask(const dec *d, shr_tensor *t) {
    uint64_t n = (uint64_t)t->numel, mb = (n + 7) / 8, nnz;
    if (d->n < mb) return bad(d, "shorter than its mask");
    SHR_TRY(mask_count(d, d->p, n, &nnz));
    if (d->n != mb + (uint64_t)d->esz * nnz) return bad(d, "byte size does not match the mask");
    const uint8_t *vals = d->p + mb;
    for (uint64_t i = 0; i < n; i++)
        if (d->p[i >> 3] >> (i & 7) & 1) {
            SHR_TRY(put_value(d, vals, t, i));
            vals += d->esz;
        }
    return SHR_OK;
}

static shr_status dec_csr(const dec *d, uint32_t wd, shr_tensor *t) {
    int64_t R, C;
    view2d(t, &R, &C);
    if (R < 1 || (uint64_t)R >= UINT32_MAX) return bad(d, "CSR needs at least one row");
    if ((wd != 2 && wd != 4) || (wd == 2 && C > 65536)) return bad(d, "invalid CSR index width");
    uint64_t hdr = 4 * ((uint64_t)R + 1);
    if (d->n < hdr || (d->n - hdr) % (wd + d->esz)) return bad(d, "byte size does not fit the CSR layout");
    uint64_t nnz = (d->n - hdr) / (wd + d->esz);
    if (nnz > (uint64_t)t->numel) return bad(d, "more nonzeros than elements");
    const uint8_t *cols = d->p + hdr, *vals = cols + wd * nnz;
    if (shrk_get_u32(d->p) != 0 || shrk_get_u32(d->p + 4 * R) != nnz) return bad(d, "row pointers do not span the nonzeros");
    for (int64_t r = 0; r < R; r++) {
        uint32_t a = shrk_get_u32(d->p + 4 * r), b = shrk_get_u32(d->p + 4 * (r + 1));
        if (b < a || b > nnz) return bad(d, "row pointers are not ascending");
        int64_t prev = -1;
        for (uint32_t k = a; k < b; k++) {
            int64_t c = wd == 2 ? (int64_t)(cols[2 * k] | cols[2 * k + 1] << 8) : (int64_t)shrk_get_u32(cols + 4 * (uint64_t)k);
            if (c <= prev || c >= C) return bad(d, "column index out of range or not ascending");
            prev = c;
            SHR_TRY(put_value(d, vals + (uint64_t)d->esz * k, t, (uint64_t)(r * C + c)));
        }
    }
    return SHR_OK;
}

static shr_status dec_block(const dec *d, uint32_t bh, uint32_t bw, shr_tensor *t) {
    int64_t R, C;
    view2d(t, &R, &C);
    if (bh < 1 || bw < 1 || bh > SHRK_SPARSE_MAX_BLOCK || bw > SHRK_SPARSE_MAX_BLOCK || R < 1 || R % bh || C % bw)
        return bad(d, "block shape does not tile the tensor");
    uint64_t nb = (uint64_t)(R / bh) * (uint64_t)(C / bw), mb = (nb + 7) / 8, kept;
    if (d->n < mb) return bad(d, "shorter than its block mask");
    SHR_TRY(mask_count(d, d->p, nb, &kept));
    if (d->n != mb + kept * bh * bw * (uint64_t)d->esz) return bad(d, "byte size does not match the block mask");
    const uint8_t *vals = d->p + mb;
    uint64_t b = 0;
    for (int64_t br = 0; br < R; br += bh)
        for (int64_t bc = 0; bc < C; bc += bw, b++) {
            if (!(d->p[b >> 3] >> (b & 7) & 1)) continue;
            int any = 0;
            size_t rowb = (size_t)bw * d->esz;
            for (uint32_t i = 0; i < bh; i++) {
                uint8_t *row = (uint8_t *)t->data + (size_t)((br + i) * C + bc) * d->esz;
                memcpy(row, vals, rowb);
                for (uint32_t j = 0; j < bw; j++) any |= is_nz(row, d->esz, j);
                vals += rowb;
            }
            if (!any) return bad(d, "stores an all-zero block (not canonical)");
        }
    return SHR_OK;
}

shr_status shrk_sparse_section_parse(const uint8_t *p, size_t len, shr_graph *g, const uint8_t *dtypes) {
    if (len < 8) return shr_fail(SHR_ERR_FORMAT, "section SPARSE is truncated (in index)");
    uint32_t count = shrk_get_u32(p), reserved = shrk_get_u32(p + 4);
    if (reserved != 0) return shr_fail(SHR_ERR_FORMAT, "section SPARSE: index: reserved field is not zero");
    if (count == 0 || count > (uint32_t)g->n_values || 8 + (uint64_t)count * SHRK_SPARSE_ENTRY_SIZE > len)
        return shr_fail(SHR_ERR_FORMAT, "section SPARSE declares %u tensors but holds %zu bytes for a graph of %d values",
                        count, len, g->n_values);
    uint64_t at = 8 + (uint64_t)count * SHRK_SPARSE_ENTRY_SIZE;
    int64_t prev = -1;
    for (uint32_t e = 0; e < count; e++) {
        const uint8_t *ent = p + 8 + (size_t)e * SHRK_SPARSE_ENTRY_SIZE;
        uint32_t vi = shrk_get_u32(ent), kind = shrk_get_u32(ent + 4), p0 = shrk_get_u32(ent + 8),
                 p1 = shrk_get_u32(ent + 12);
        uint64_t off = shrk_get_u64(ent + 16), nbytes = shrk_get_u64(ent + 24);
        if ((int64_t)vi <= prev || vi >= (uint32_t)g->n_values)
            return shr_fail(SHR_ERR_FORMAT, "section SPARSE: entry %u: value index out of order or out of range", e);
        prev = vi;
        shr_value *v = &g->values[vi];
        dec d = {p + at, nbytes, v->name, elem_size((shr_dtype)dtypes[vi])};
        if (v->kind != SHR_VALUE_PARAM || !d.esz) return bad(&d, "is not an f32, i16 or i8 param");
        if (off != at || nbytes > len - at) return bad(&d, "data does not follow the previous tensor inside the section");
        if (kind == SHRK_ENC_BITMASK ? (p0 || p1) : kind == SHRK_ENC_CSR ? p1 != 0 : kind != SHRK_ENC_BLOCK)
            return bad(&d, "unknown encoding or parameters");
        int64_t numel;
        SHR_TRY(shr_shape_numel(v->ndim, v->shape, &numel));
        if (!expansion_ok(numel, nbytes)) return bad(&d, "encoding expands more than the format allows");
        SHR_TRY(shr_tensor_create(&v->data, (shr_dtype)dtypes[vi], v->ndim, v->shape));
        if (kind == SHRK_ENC_BITMASK) SHR_TRY(dec_bitmask(&d, v->data));
        else if (kind == SHRK_ENC_CSR) SHR_TRY(dec_csr(&d, p0, v->data));
        else SHR_TRY(dec_block(&d, p0, p1, v->data));
        at += nbytes;
    }
    if (at != len) return shr_fail(SHR_ERR_FORMAT, "section SPARSE has %llu unexpected trailing bytes",
                                   (unsigned long long)(len - at));
    return SHR_OK;
}
