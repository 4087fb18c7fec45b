/* Internal: sparse quantized weights — shared-codebook non-zeros with gap-coded positions,
 * optionally Huffman-coded (sparse_code.c has the layout). */
#ifndef SHR_QUANT_SPARSE_CODE_H
#define SHR_QUANT_SPARSE_CODE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/sparse.h"
#include "shrink/status.h"

typedef struct shr_spq_info {
    uint32_t N, K, stored, nnz;
    int value_bits, gap_bits, huffman;
    size_t bytes;       /* the whole blob */
    size_t fixed_bytes; /* the entries at fixed width + codebook: before entropy coding */
    size_t csr_bytes;   /* the same non-zeros as f32 CSR (u16/u32 columns, i32 row pointers) */
} shr_spq_info;

/* Encodes the pruned W (N x K): value_bits-bit codes into 2^bits - 1 k-means centroids (shared)
 * or, unshared, an int8 grid (value_bits 8); gaps at the narrowest total width; huffman: entropy
 * coded when the codes fit. *blob is malloc'ed. */
shr_status shr_spq_encode(const float *W, int N, int K, int value_bits, int shared, int huffman, uint8_t **blob,
                          size_t *size);
/* k shared values for the sorted non-zeros sorted[0..n): the values themselves when there are at
 * most k distinct ones, else 1-D k-means centroids from a linear spread. */
void shr_spq_codebook(const float *sorted, int64_t n, int k, float *c);
/* Checks the header and sizes (not the stream). */
shr_status shr_spq_header(const uint8_t *b, size_t size, shr_spq_info *info);
/* Decodes (checking everything) into an f32 CSR matrix for shr_spmm_f32. */
shr_status shr_spq_decode(const uint8_t *b, size_t size, shr_spmat *A);

#endif
