/* Sparse quantized weights (Deep Compression, Han et al. 2016): the non-zeros of a pruned
 * weight as codes into a small codebook, their positions as gaps, optionally Huffman-coded.
 *
 * Blob layout (little-endian), the data of a splinear node's u8 param:
 *   u32 magic "SQW1", u32 N, u32 K, u32 stored entries, u32 nonzeros
 *   u8 value_bits (1..8), u8 gap_bits (1..8), u8 huffman (0/1), u8 reserved (0)
 *   f32 codebook[2^value_bits]      codebook[0] = 0: the code of filler entries
 *   huffman: u8 value_len[2^value_bits], u8 gap_len[2^gap_bits] (canonical code lengths)
 *   u32 bit count, then the bit stream: per entry a gap symbol g and a value code c; the
 *   entry sits g + 1 positions after the previous one in the row-major N x K order (the first
 *   at g). A gap longer than 2^gap_bits - 1 is bridged by filler entries (maximal gap, code 0).
 * Codebooks: shared weights are 2^b - 1 centroids of 1-D k-means (linear initialization, the
 * choice Deep Compression found best) over the layer's non-zeros; without sharing, a linear grid
 * of 255 levels symmetric around 0 (int8 per layer). Zeros are never stored, so they stay
 * exactly zero. The decoder checks every field and the stream before it trusts anything. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/shrk_format.h"
#include "quant/huffman.h"
#include "quant/sparse_code.h"

#define MAGIC 0x31575153u /* "SQW1" */
#define HEADER 24

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* k centroids of the sorted values v[0..n) (Lloyd iterations from a linear spread). */
static void kmeans(const float *v, int64_t n, int k, float *c) {
    for (int j = 0; j < k; j++) c[j] = k > 1 ? v[0] + (v[n - 1] - v[0]) * (float)j / (float)(k - 1) : v[n / 2];
    double *sum = malloc((size_t)k * sizeof *sum);
    int64_t *cnt = malloc((size_t)k * sizeof *cnt);
    for (int it = 0; it < 50 && sum && cnt; it++) {
        memset(sum, 0, (size_t)k * sizeof *sum);
        memset(cnt, 0, (size_t)k * sizeof *cnt);
        int j = 0;
        for (int64_t i = 0; i < n; i++) { /* sorted values: the nearest centroid only moves right */
            while (j + 1 < k && fabsf(v[i] - c[j + 1]) < fabsf(v[i] - c[j])) j++;
            sum[j] += v[i];
            cnt[j]++;
        }
        int moved = 0;
        for (j = 0; j < k; j++) {
            float m = cnt[j] ? (float)(sum[j] / (double)cnt[j]) : c[j];
            moved |= m != c[j];
            c[j] = m;
        }
        if (!moved) break;
    }
    free(sum);
    free(cnt);
}

void shr_spq_codebook(const float *sorted, int64_t n, int k, float *c) {
    /* weights that already share at most k values (fine-tuned clusters) keep exactly those */
    int distinct = n > 0;
    for (int64_t i = 1; i < n && distinct <= k; i++) distinct += sorted[i] != sorted[i - 1];
    if (distinct <= k) {
        int j = 0;
        for (int64_t i = 0; i < n; i++)
            if (i == 0 || sorted[i] != sorted[i - 1]) c[j++] = sorted[i];
        for (; j < k; j++) c[j] = c[j - 1]; /* unused codes repeat the last value */
        return;
    }
    kmeans(sorted, n, k, c);
}

/* The nearest codebook entry (1..2^b-1) to x. */
static int nearest(const float *cb, int ncodes, float x) {
    int best = 1;
    for (int j = 2; j < ncodes; j++)
        if (fabsf(x - cb[j]) < fabsf(x - cb[best])) best = j;
    return best;
}

typedef struct entry {
    uint16_t gap, code;
} entry;

/* Entries for the non-zeros at positions pos[0..nnz) with fillers for gaps beyond maxgap;
 * NULL out: count only. */
static int64_t make_entries(const int64_t *pos, int64_t nnz, const uint8_t *codes, int maxgap, entry *out) {
    int64_t n = 0, last = -1;
    for (int64_t k = 0; k < nnz; k++) {
        int64_t gap = pos[k] - last - 1;
        while (gap > maxgap) {
            if (out) out[n] = (entry){(uint16_t)maxgap, 0};
            n++;
            gap -= maxgap + 1;
        }
        if (out) out[n] = (entry){(uint16_t)gap, codes[k]};
        n++;
        last = pos[k];
    }
    return n;
}

shr_status shr_spq_encode(const float *W, int N, int K, int value_bits, int shared, int huffman, uint8_t **blob,
                          size_t *size) {
    if (N < 1 || K < 1 || value_bits < 1 || value_bits > 8 || (!shared && value_bits != 8))
        return shr_fail(SHR_ERR_INVALID_ARG, "sparse quantization: bad shape or bits");
    int64_t total = (int64_t)N * K, nnz = 0;
    for (int64_t i = 0; i < total; i++) {
        if (!isfinite(W[i])) return shr_fail(SHR_ERR_INVALID_ARG, "sparse quantization: non-finite weight");
        nnz += W[i] != 0.0f;
    }
    int ncodes = 1 << value_bits;
    float cb[256] = {0};
    float *sorted = malloc((size_t)(nnz + 1) * sizeof *sorted);
    uint8_t *codes = malloc((size_t)nnz + 1);
    if (!sorted || !codes) {
        free(sorted);
        free(codes);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    int64_t k = 0;
    for (int64_t i = 0; i < total; i++)
        if (W[i] != 0.0f) sorted[k++] = W[i];
    if (shared && nnz > 0) {
        qsort(sorted, (size_t)nnz, sizeof *sorted, cmp_float);
        shr_spq_codebook(sorted, nnz, ncodes - 1, cb + 1);
    } else { /* int8 grid: code c is (c - 128) * s; 128 (zero) is never used by a non-zero */
        float mx = 0.0f;
        for (int64_t i = 0; i < nnz; i++) mx = fmaxf(mx, fabsf(sorted[i]));
        float s = mx > 0.0f ? mx / 127.0f : 1.0f;
        for (int c = 1; c < ncodes; c++) cb[c] = (float)(c - 128) * s;
    }
    /* a weight whose code means zero (the int8 grid's 128) is pruned like any other zero */
    int64_t *pos = malloc((size_t)(nnz + 1) * sizeof *pos);
    if (!pos) {
        free(sorted);
        free(codes);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    k = 0;
    for (int64_t i = 0; i < total; i++) {
        if (W[i] == 0.0f) continue;
        int c = nearest(cb, ncodes, W[i]);
        if (cb[c] == 0.0f) continue;
        pos[k] = i;
        codes[k++] = (uint8_t)c;
    }
    nnz = k;
    /* gap width: the one with the fewest fixed-width bits */
    int gap_bits = 8;
    int64_t best = INT64_MAX;
    for (int gb = 1; gb <= 8; gb++) {
        int64_t bits = make_entries(pos, nnz, codes, (1 << gb) - 1, NULL) * (gb + value_bits);
        if (bits < best) best = bits, gap_bits = gb;
    }
    int maxgap = (1 << gap_bits) - 1, ngaps = 1 << gap_bits;
    int64_t stored = make_entries(pos, nnz, codes, maxgap, NULL);
    entry *e = malloc((size_t)(stored + 1) * sizeof *e);
    shr_status st = e ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    shr_huff hv, hg;
    uint8_t lv[256] = {0}, lg[256] = {0};
    if (st == SHR_OK) {
        make_entries(pos, nnz, codes, maxgap, e);
        uint64_t fv[256] = {0}, fg[256] = {0};
        for (int64_t i = 0; i < stored; i++) fv[e[i].code]++, fg[e[i].gap]++;
        huffman = huffman && shr_huff_lengths(fv, ncodes, lv) && shr_huff_lengths(fg, ngaps, lg) &&
                  shr_huff_init(&hv, lv, ncodes) && shr_huff_init(&hg, lg, ngaps);
    }
    /* two passes over the writer: count the bits, then write them */
    shr_bitw w = {NULL, 0};
    for (int pass = 0; pass < 2 && st == SHR_OK; pass++) {
        w.pos = 0;
        for (int64_t i = 0; i < stored; i++) {
            if (huffman) {
                shr_huff_put(&w, &hg, e[i].gap);
                shr_huff_put(&w, &hv, e[i].code);
            } else {
                shr_bits_put(&w, e[i].gap, gap_bits);
                shr_bits_put(&w, e[i].code, value_bits);
            }
        }
        if (pass == 1) break;
        size_t bytes = HEADER + (size_t)ncodes * 4 + (huffman ? (size_t)(ncodes + ngaps) : 0) + 4 + (size_t)((w.pos + 7) / 8);
        uint8_t *b = calloc(bytes, 1);
        if (!b) {
            st = shr_fail(SHR_ERR_NOMEM, "out of memory");
            break;
        }
        shrk_put_u32(b, MAGIC);
        shrk_put_u32(b + 4, (uint32_t)N);
        shrk_put_u32(b + 8, (uint32_t)K);
        shrk_put_u32(b + 12, (uint32_t)stored);
        shrk_put_u32(b + 16, (uint32_t)nnz);
        b[20] = (uint8_t)value_bits, b[21] = (uint8_t)gap_bits, b[22] = (uint8_t)huffman, b[23] = 0;
        uint8_t *p = b + HEADER;
        for (int c = 0; c < ncodes; c++, p += 4) shrk_put_u32(p, shrk_f32_bits(cb[c]));
        if (huffman) {
            memcpy(p, lv, (size_t)ncodes);
            memcpy(p + ncodes, lg, (size_t)ngaps);
            p += ncodes + ngaps;
        }
        shrk_put_u32(p, (uint32_t)w.pos);
        w.buf = p + 4;
        *blob = b;
        *size = bytes;
    }
    free(e);
    free(pos);
    free(sorted);
    free(codes);
    return st;
}

/* ---- reading ---- */

shr_status shr_spq_header(const uint8_t *b, size_t size, shr_spq_info *in) {
    if (size < HEADER || shrk_get_u32(b) != MAGIC) return shr_fail(SHR_ERR_FORMAT, "sparse weights: bad magic or size");
    in->N = shrk_get_u32(b + 4);
    in->K = shrk_get_u32(b + 8);
    in->stored = shrk_get_u32(b + 12);
    in->nnz = shrk_get_u32(b + 16);
    in->value_bits = b[20], in->gap_bits = b[21], in->huffman = b[22];
    if (in->N < 1 || in->K < 1 || in->N > (1u << 24) || in->K > (1u << 24) || in->value_bits < 1 ||
        in->value_bits > 8 || in->gap_bits < 1 || in->gap_bits > 8 || in->huffman > 1 || b[23] != 0 ||
        in->nnz > in->stored || (uint64_t)in->nnz > (uint64_t)in->N * in->K)
        return shr_fail(SHR_ERR_FORMAT, "sparse weights: invalid header");
    size_t ncodes = (size_t)1 << in->value_bits, ngaps = (size_t)1 << in->gap_bits;
    size_t at = HEADER + ncodes * 4 + (in->huffman ? ncodes + ngaps : 0);
    if (size < at + 4) return shr_fail(SHR_ERR_FORMAT, "sparse weights: truncated");
    uint64_t nbits = shrk_get_u32(b + at);
    if ((nbits + 7) / 8 != size - at - 4) return shr_fail(SHR_ERR_FORMAT, "sparse weights: stream size mismatch");
    /* every entry takes at least 2 bits: bounds what a decoder loops over */
    if ((uint64_t)in->stored * 2 > nbits) return shr_fail(SHR_ERR_FORMAT, "sparse weights: too many entries");
    in->bytes = size;
    in->fixed_bytes = (size_t)(((uint64_t)in->stored * (in->value_bits + in->gap_bits) + 7) / 8) + ncodes * 4;
    in->csr_bytes = (size_t)in->nnz * (4 + (in->K <= 65536 ? 2 : 4)) + ((size_t)in->N + 1) * 4;
    return SHR_OK;
}

typedef struct reader {
    shr_spq_info in;
    float cb[256];
    shr_huff hv, hg;
    shr_bitr r;
} reader;

static shr_status open_reader(const uint8_t *b, size_t size, reader *rd) {
    SHR_TRY(shr_spq_header(b, size, &rd->in));
    int ncodes = 1 << rd->in.value_bits, ngaps = 1 << rd->in.gap_bits;
    const uint8_t *p = b + HEADER;
    for (int c = 0; c < ncodes; c++, p += 4) {
        rd->cb[c] = shrk_bits_f32(shrk_get_u32(p));
        if (!isfinite(rd->cb[c])) return shr_fail(SHR_ERR_FORMAT, "sparse weights: codebook entry %d not finite", c);
    }
    if (shrk_f32_bits(rd->cb[0]) != 0) return shr_fail(SHR_ERR_FORMAT, "sparse weights: codebook[0] must be +0");
    if (rd->in.huffman) {
        if (!shr_huff_init(&rd->hv, p, ncodes) || !shr_huff_init(&rd->hg, p + ncodes, ngaps))
            return shr_fail(SHR_ERR_FORMAT, "sparse weights: invalid Huffman code lengths");
        p += ncodes + ngaps;
    }
    rd->r = (shr_bitr){p + 4, 0, shrk_get_u32(p)};
    return SHR_OK;
}

static int next_entry(reader *rd, int *gap, int *code) {
    if (rd->in.huffman) return shr_huff_get(&rd->r, &rd->hg, gap) && shr_huff_get(&rd->r, &rd->hv, code);
    uint32_t g, c;
    if (!shr_bits_get(&rd->r, rd->in.gap_bits, &g) || !shr_bits_get(&rd->r, rd->in.value_bits, &c)) return 0;
    *gap = (int)g, *code = (int)c;
    return 1;
}

/* Walks every entry: fills rowptr counts and, when cols / vals are given, the CSR arrays. */
static shr_status walk(const uint8_t *b, size_t size, int32_t *rowptr, uint16_t *c16, int32_t *c32, float *vals,
                       int64_t *nnz_out) {
    reader rd;
    SHR_TRY(open_reader(b, size, &rd));
    int64_t pos = -1, total = (int64_t)rd.in.N * rd.in.K, nnz = 0;
    for (uint32_t i = 0; i < rd.in.stored; i++) {
        int gap, code;
        if (!next_entry(&rd, &gap, &code)) return shr_fail(SHR_ERR_FORMAT, "sparse weights: stream ends early");
        pos += gap + 1;
        if (pos >= total) return shr_fail(SHR_ERR_FORMAT, "sparse weights: entry %u beyond the matrix", i);
        if (code == 0 || rd.cb[code] == 0.0f) continue; /* a filler or a zero: nothing stored */
        int64_t r = pos / rd.in.K, c = pos % rd.in.K;
        if (vals) {
            int64_t at = rowptr[r]++;
            if (c16) c16[at] = (uint16_t)c;
            else c32[at] = (int32_t)c;
            vals[at] = rd.cb[code];
        } else {
            rowptr[r + 1]++;
        }
        nnz++;
    }
    if (rd.r.nbits - rd.r.pos >= 8) return shr_fail(SHR_ERR_FORMAT, "sparse weights: trailing bits");
    *nnz_out = nnz;
    return SHR_OK;
}

shr_status shr_spq_decode(const uint8_t *b, size_t size, shr_spmat *A) {
    shr_spq_info in;
    SHR_TRY(shr_spq_header(b, size, &in));
    int32_t *cnt = calloc((size_t)in.N + 1, sizeof *cnt);
    if (!cnt) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    int64_t nnz;
    shr_status st = walk(b, size, cnt, NULL, NULL, NULL, &nnz);
    if (st == SHR_OK) st = shr_spmat_alloc(A, SHR_SP_CSR, SHR_SP_F32, (int)in.N, (int)in.K, nnz);
    if (st == SHR_OK) {
        for (uint32_t r = 0; r < in.N; r++) cnt[r + 1] += cnt[r]; /* row starts */
        memcpy(A->rowptr, cnt, ((size_t)in.N + 1) * sizeof *cnt);
        st = walk(b, size, cnt, A->col16, A->col32, A->values, &nnz); /* cnt: fill positions */
    }
    free(cnt);
    if (st == SHR_OK) st = shr_spmat_validate(A);
    if (st != SHR_OK) shr_spmat_free(A);
    return st;
}
