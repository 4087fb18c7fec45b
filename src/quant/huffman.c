/* Canonical Huffman codes over small alphabets (at most 256 symbols) and an LSB-first bit
 * stream, for the entropy coding of sparse quantized weights (sparse_code.c).
 *
 * Code lengths come from the usual merge of the two lightest subtrees (ties broken by symbol
 * order, so the result is deterministic); codes are then assigned canonically by (length,
 * symbol), so only the lengths are stored. Lengths are at most SHR_HUFF_MAX_LEN; a frequency
 * table that would need longer codes is refused (the caller stores fixed-width symbols). */
#include <stdlib.h>
#include <string.h>

#include "quant/huffman.h"

int shr_huff_lengths(const uint64_t *freq, int n, uint8_t *len) {
    int parent[2 * SHR_HUFF_MAX_SYMBOLS], alive[2 * SHR_HUFF_MAX_SYMBOLS];
    uint64_t w[2 * SHR_HUFF_MAX_SYMBOLS];
    int nodes = 0, used = 0;
    memset(len, 0, (size_t)n);
    for (int s = 0; s < n; s++) {
        w[s] = freq[s];
        parent[s] = -1;
        alive[s] = freq[s] > 0;
        used += freq[s] > 0;
    }
    nodes = n;
    if (used == 0) return 1;
    if (used == 1) { /* one symbol still needs one bit */
        for (int s = 0; s < n; s++)
            if (freq[s]) len[s] = 1;
        return 1;
    }
    for (int merges = 0; merges < used - 1; merges++) {
        int a = -1, b = -1;
        for (int i = 0; i < nodes; i++) {
            if (!alive[i]) continue;
            if (a < 0 || w[i] < w[a]) b = a, a = i;
            else if (b < 0 || w[i] < w[b]) b = i;
        }
        w[nodes] = w[a] + w[b];
        parent[nodes] = -1;
        alive[nodes] = 1;
        alive[a] = alive[b] = 0;
        parent[a] = parent[b] = nodes;
        nodes++;
    }
    for (int s = 0; s < n; s++) {
        if (!freq[s]) continue;
        int d = 0;
        for (int p = parent[s]; p >= 0; p = parent[p]) d++;
        if (d > SHR_HUFF_MAX_LEN) return 0;
        len[s] = (uint8_t)d;
    }
    return 1;
}

/* Canonical codes from lengths; 0 when the lengths do not form a prefix code (over-full). */
static int canonical(const uint8_t *len, int n, uint32_t *code, int *count) {
    memset(count, 0, sizeof(int) * (SHR_HUFF_MAX_LEN + 1));
    for (int s = 0; s < n; s++) count[len[s]]++;
    count[0] = 0;
    uint32_t next[SHR_HUFF_MAX_LEN + 2], c = 0;
    int64_t room = 1;
    for (int l = 1; l <= SHR_HUFF_MAX_LEN; l++) {
        room = room * 2 - count[l];
        if (room < 0) return 0;
        c = (c + (uint32_t)(l > 1 ? count[l - 1] : 0)) << (l > 1 ? 1 : 0);
        next[l] = c;
    }
    for (int s = 0; s < n; s++)
        if (len[s]) code[s] = next[len[s]]++;
    return 1;
}

int shr_huff_init(shr_huff *h, const uint8_t *len, int n) {
    if (n < 1 || n > SHR_HUFF_MAX_SYMBOLS) return 0;
    for (int s = 0; s < n; s++)
        if (len[s] > SHR_HUFF_MAX_LEN) return 0;
    h->n = n;
    memcpy(h->len, len, (size_t)n);
    if (!canonical(len, n, h->code, h->count)) return 0;
    /* symbols sorted by (length, symbol): the decoder's table */
    int at = 0;
    for (int l = 1; l <= SHR_HUFF_MAX_LEN; l++)
        for (int s = 0; s < n; s++)
            if (len[s] == l) h->sorted[at++] = (uint16_t)s;
    h->used = at;
    return 1;
}

void shr_bits_put(shr_bitw *b, uint32_t v, int nbits) {
    for (int i = 0; i < nbits; i++, b->pos++)
        if (b->buf && (v >> i) & 1u) b->buf[b->pos >> 3] |= (uint8_t)(1u << (b->pos & 7));
}

void shr_huff_put(shr_bitw *b, const shr_huff *h, int s) {
    /* canonical codes are read most-significant bit first */
    for (int i = h->len[s] - 1; i >= 0; i--, b->pos++)
        if (b->buf && (h->code[s] >> i) & 1u) b->buf[b->pos >> 3] |= (uint8_t)(1u << (b->pos & 7));
}

int shr_bits_get(shr_bitr *b, int nbits, uint32_t *v) {
    if (b->pos + (uint64_t)nbits > b->nbits) return 0;
    uint32_t x = 0;
    for (int i = 0; i < nbits; i++, b->pos++) x |= (uint32_t)((b->buf[b->pos >> 3] >> (b->pos & 7)) & 1u) << i;
    *v = x;
    return 1;
}

int shr_huff_get(shr_bitr *b, const shr_huff *h, int *sym) {
    uint32_t code = 0, first = 0;
    int index = 0;
    for (int l = 1; l <= SHR_HUFF_MAX_LEN; l++) {
        if (b->pos >= b->nbits) return 0;
        code |= (b->buf[b->pos >> 3] >> (b->pos & 7)) & 1u;
        b->pos++;
        int cnt = h->count[l];
        if (code - first < (uint32_t)cnt) {
            *sym = h->sorted[index + (int)(code - first)];
            return 1;
        }
        index += cnt;
        first = (first + (uint32_t)cnt) << 1;
        code <<= 1;
    }
    return 0;
}
