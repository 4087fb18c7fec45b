/* Internal: canonical Huffman coding and bit streams (huffman.c). */
#ifndef SHR_QUANT_HUFFMAN_H
#define SHR_QUANT_HUFFMAN_H

#include <stdint.h>

#define SHR_HUFF_MAX_SYMBOLS 256
#define SHR_HUFF_MAX_LEN 24

typedef struct shr_huff {
    int n, used;
    uint8_t len[SHR_HUFF_MAX_SYMBOLS];
    uint32_t code[SHR_HUFF_MAX_SYMBOLS];
    int count[SHR_HUFF_MAX_LEN + 1];          /* codes of each length */
    uint16_t sorted[SHR_HUFF_MAX_SYMBOLS];    /* symbols by (length, symbol) */
} shr_huff;

/* Code lengths for symbol frequencies freq[0..n) (0 for absent symbols); 0 when some code
 * would exceed SHR_HUFF_MAX_LEN. */
int shr_huff_lengths(const uint64_t *freq, int n, uint8_t *len);
/* Canonical codes from stored lengths; 0 when they are invalid (too long, over-full). */
int shr_huff_init(shr_huff *h, const uint8_t *len, int n);

/* LSB-first bit writer; buf == NULL only counts (pos). buf must be zero-filled. */
typedef struct shr_bitw {
    uint8_t *buf;
    uint64_t pos;
} shr_bitw;
void shr_bits_put(shr_bitw *b, uint32_t v, int nbits);
void shr_huff_put(shr_bitw *b, const shr_huff *h, int sym);

typedef struct shr_bitr {
    const uint8_t *buf;
    uint64_t pos, nbits;
} shr_bitr;
/* 0 at the end of the stream or on a code that does not exist. */
int shr_bits_get(shr_bitr *b, int nbits, uint32_t *v);
int shr_huff_get(shr_bitr *b, const shr_huff *h, int *sym);

#endif
