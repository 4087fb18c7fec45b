/* Internal: the on-disk layout of a .shrk model file (format version 1).
 * docs/shrk-format.md is the user-facing copy of this description.
 *
 * All integers are little-endian, floats are IEEE-754 binary32 stored as their
 * u32 bit pattern (so NaN payloads and -0 survive a round trip). Strings are
 * u32 byte length + bytes, no terminator, and may not contain NUL.
 *
 * File:
 *   offset 0   header (24 bytes)
 *     u8[8]  magic "SHRK\0\r\n\x1a"   (NUL, CR, LF, ^Z catch text-mode mangling)
 *     u32    version  (1; a larger value is rejected as newer than this reader)
 *     u32    flags    (none defined in v1; must be 0)
 *     u32    section count (1..SHRK_MAX_SECTIONS)
 *     u32    header CRC32: zlib crc32 of header bytes 0..19 followed by the
 *            whole section table
 *   offset 24  section table, one 32-byte entry per section
 *     u32 type, u32 flags (bit 0 = required; other bits must be 0),
 *     u64 offset, u64 size (payload position in the file),
 *     u32 CRC32 of the payload, u32 reserved (0)
 *   payloads: each starts at a 64-byte aligned offset after the table; they do
 *   not overlap; bytes not covered by the header, table or a payload are zero
 *   and the file ends where the last payload ends. So every byte is checked.
 *
 * A reader rejects an unknown section type whose required bit is set and skips
 * (after checking bounds and CRC) an unknown optional one. Each known type may
 * appear once; META, GRAPH and TENSORS must all be present in v1, SPARSE may be.
 *
 * META (type 1):
 *   u32 arch_present (0/1), u32 len, bytes     graph.arch (absent = NULL, len 0)
 *   u32 lineage_present (0/1), u32 len, bytes  graph.lineage
 *   f32 scale, u32 channels (1..4), f32 mean[4], f32 std[4]   graph.preproc
 * GRAPH (type 2):
 *   u32 n_values (<= SHRK_MAX_VALUES), u32 n_nodes (<= SHRK_MAX_NODES),
 *   i32 input, i32 output (value indices)
 *   n_values x value: string name (1..255 bytes), u32 kind (shr_value_kind),
 *     u32 dtype (shr_dtype; f32 for INPUT/ACT), u32 ndim (0..8), i64 shape[ndim]
 *     (>= 0; INPUT/ACT may have -1 in dim 0), i32 producer (node index for ACT,
 *     -1 otherwise)
 *   n_nodes x node: string name (1..255 bytes), u32 op (shr_op), attrs field by
 *     field: i32 kernel[2], i32 stride[2], i32 pad[4], i32 dilation[2],
 *     i32 groups, f32 alpha, f32 eps, f32 momentum, i32 axis,
 *     i32 count_include_pad, i32 ndim, i64 shape[8];
 *     u32 n_inputs (<= SHRK_MAX_NODE_INPUTS), i32 inputs[n_inputs] (-1 = absent),
 *     i32 output
 * TENSORS (type 3), the data of every PARAM/BUFFER value:
 *   u32 count, u32 reserved (0)
 *   count x entry (24 bytes): u32 value index (strictly increasing), u32 dtype,
 *     u64 offset (from the start of this payload), u64 nbytes
 *   tensor bytes, each at a 64-byte aligned FILE offset (mmap-friendly), in
 *   entry order, nbytes == storage of (dtype, numel of the value's shape).
 * SPARSE (type 5), written only when some f32 / i16 / i8 PARAM of >= 64 elements
 * is smaller encoded (io/shrk_sparse.h); such a value is then absent from TENSORS:
 *   u32 count (>= 1), u32 reserved (0)
 *   count x entry (32 bytes): u32 value index (strictly increasing, such a PARAM),
 *     u32 encoding (1 bitmask, 2 CSR, 3 block), u32 p0, u32 p1,
 *     u64 offset (from the start of this payload), u64 nbytes
 *   encoded tensors back to back in entry order (the first right after the
 *   entries, the section ends with the last). The 2-D view of a tensor is
 *   R = dim 0 rows by C = numel / R columns; "zero" is the bit pattern of +0.0.
 *   bitmask (p0 = p1 = 0): ceil(numel/8) mask bytes (bit i of byte i/8 = element
 *     i is stored; padding bits 0), then the stored f32 values in element order.
 *   CSR (p0 = column index width 2 or 4, 2 only if C <= 65536; p1 = 0):
 *     u32 row_ptr[R + 1] (0 .. nnz, ascending), column indices (strictly
 *     ascending within a row, < C), f32 values; nnz = (nbytes - 4(R+1)) / (p0+4).
 *   block (p0 = bh, p1 = bw, 1..64, dividing R and C): ceil(nblocks/8) mask bytes
 *     over the row-major grid of bh x bw blocks, then each kept block's values
 *     row by row; a kept block holds a nonzero.
 *   Stored bitmask/CSR values are never +0.0, so an encoding is canonical, and
 *   numel <= 64 * nbytes + 4096 (a reader allocates the dense tensor).
 * Reserved, not written yet: QUANT (type 4) quantization parameters. */
#ifndef SHR_IO_SHRK_FORMAT_H
#define SHR_IO_SHRK_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "shrink/graph.h"

/* Tensor bytes are copied between memory and file as they are. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .shrk reader and writer assume a little-endian host"
#endif

#define SHRK_MAGIC "SHRK\0\r\n\x1a"
#define SHRK_MAGIC_LEN 8
#define SHRK_HEADER_SIZE 24
#define SHRK_HEADER_CRC_AT 20 /* the CRC covers the header bytes before it */
#define SHRK_ENTRY_SIZE 32
#define SHRK_ALIGN 64
#define SHRK_SEC_REQUIRED 1u

enum {
    SHRK_SEC_META = 1,
    SHRK_SEC_GRAPH = 2,
    SHRK_SEC_TENSORS = 3,
    SHRK_SEC_QUANT = 4,  /* reserved: quantization parameters */
    SHRK_SEC_SPARSE = 5, /* sparse encodings of pruned params (io/shrk_sparse.h) */
};

/* Limits a reader enforces before allocating (the graph ones are graph.h's). */
#define SHRK_MAX_SECTIONS 64
#define SHRK_MAX_VALUES SHR_MAX_VALUES
#define SHRK_MAX_NODES SHR_MAX_NODES
#define SHRK_MAX_NODE_INPUTS SHR_MAX_NODE_INPUTS
#define SHRK_MAX_NAME 255
#define SHRK_MAX_TEXT (16u << 20) /* arch and lineage strings */
#define SHRK_MAX_ATTR_INT (1 << 24) /* kernel, stride, pad, dilation, groups */
#define SHRK_MAX_FILE_SIZE ((uint64_t)4 << 30) /* shr_model_load reads at most this */

/* Fixed sizes of records, used to bound counts by the bytes present. */
#define SHRK_TENSOR_ENTRY_SIZE 24
#define SHRK_MIN_VALUE_SIZE (4 + 1 + 4 + 4 + 4 + 4)
#define SHRK_ATTRS_SIZE (4 * 17 + 8 * 8)
#define SHRK_MIN_NODE_SIZE (4 + 1 + 4 + SHRK_ATTRS_SIZE + 4 + 4)

static inline const char *shrk_section_name(uint32_t type) {
    switch (type) {
    case SHRK_SEC_META: return "META";
    case SHRK_SEC_GRAPH: return "GRAPH";
    case SHRK_SEC_TENSORS: return "TENSORS";
    case SHRK_SEC_QUANT: return "QUANT";
    case SHRK_SEC_SPARSE: return "SPARSE";
    default: return NULL;
    }
}

static inline uint32_t shrk_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t shrk_get_u64(const uint8_t *p) {
    return (uint64_t)shrk_get_u32(p) | (uint64_t)shrk_get_u32(p + 4) << 32;
}
static inline void shrk_put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void shrk_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t shrk_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static inline float shrk_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* zlib's crc32 takes a 32-bit length; feed large payloads in pieces. */
static inline uint32_t shrk_crc(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return crc;
}

/* The header CRC: bytes 0..19 of the header, then the section table. */
static inline uint32_t shrk_header_crc(const uint8_t *file, uint32_t n_sections) {
    uint32_t crc = shrk_crc((uint32_t)crc32(0L, Z_NULL, 0), file, SHRK_HEADER_CRC_AT);
    return shrk_crc(crc, file + SHRK_HEADER_SIZE, (size_t)n_sections * SHRK_ENTRY_SIZE);
}

#endif
