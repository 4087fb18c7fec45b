/* Internal: the SPARSE section of a .shrk file (layout in io/shrk_format.h and
 * docs/shrk-format.md): pruned f32 parameters, and the i8 / i16 weights of quantized
 * pruned models, stored in the smallest of a bitmask, CSR or block encoding instead of
 * densely in TENSORS. The layouts are the f32 ones with 1- or 2-byte values (the
 * element size follows from the value's dtype in GRAPH); zero = all bytes zero. */
#ifndef SHR_IO_SHRK_SPARSE_H
#define SHR_IO_SHRK_SPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "shrink/graph.h"

enum {
    SHRK_ENC_DENSE = 0,   /* not in SPARSE: stored in TENSORS */
    SHRK_ENC_BITMASK = 1, /* one bit per element, then the nonzero values */
    SHRK_ENC_CSR = 2,     /* row pointers, u16/u32 column indices, values */
    SHRK_ENC_BLOCK = 3,   /* one bit per bh x bw block, then the kept blocks */
};

#define SHRK_SPARSE_ENTRY_SIZE 32
#define SHRK_SPARSE_MIN_NUMEL 64 /* smaller params stay dense (and mmap-friendly) */
#define SHRK_SPARSE_MAX_BLOCK 64 /* bh, bw */
/* Elements per encoded byte at most (plus 4096): bounds what a reader allocates. */
#define SHRK_SPARSE_MAX_EXPANSION 64

typedef struct shrk_enc {
    uint32_t kind, p0, p1; /* CSR: p0 = index width (2 or 4); BLOCK: p0 = bh, p1 = bw */
    size_t nbytes;         /* encoded size */
} shrk_enc;

/* The smallest encoding of value v's data (SHRK_ENC_DENSE when nothing beats the
 * dense bytes, or v is not an f32 / i16 / i8 PARAM of at least SHRK_SPARSE_MIN_NUMEL elements). */
shrk_enc shrk_sparse_choose(const shr_value *v);

/* SPARSE payload for the values whose enc[v].kind is not dense: *count of them,
 * *size bytes (0 and 0 when none). */
shr_status shrk_sparse_section_size(const shr_graph *g, const shrk_enc *enc, uint32_t *count, size_t *size);
void shrk_sparse_section_fill(uint8_t *dst, const shr_graph *g, const shrk_enc *enc, uint32_t count);

/* Parses and validates a SPARSE payload: creates the data tensor of every value it
 * holds (each an f32 / i16 / i8 PARAM of the graph, listed once, in increasing order). */
shr_status shrk_sparse_section_parse(const uint8_t *p, size_t len, shr_graph *g, const uint8_t *dtypes);

#endif
