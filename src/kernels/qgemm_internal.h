/* Internal: the packed-weight layout and the band kernels shared by qgemm.c (packing,
 * validation, threads), qgemm_ref.c and qgemm_avx2.c.
 *
 * Panel layout: N is cut into panels of 16 output channels (zero-padded), K is padded with
 * zeros to Kp = a multiple of 4 (a "quad"). Element (n, k) of W lives at index
 *     ((n / 16 * Q + k / 4) * 16 + n % 16) * 4 + k % 4,      Q = Kp / 4,
 * of an int8 (s16 path: int16) array: per panel and quad, 16 channels x 4 consecutive k.
 * The 4 bytes of one channel are what one vpmaddubsw lane-pair (then vpmaddwd) sums, and the
 * 32 bytes of channels 0-7 (8-15) form one ymm, multiplied by a broadcast of 4 activations. */
#ifndef SHR_KERNELS_QGEMM_INTERNAL_H
#define SHR_KERNELS_QGEMM_INTERNAL_H

#include <stdint.h>

#include "kernels/qgemm.h"

#define SHR_QG_NR 16 /* channels per panel */
#define SHR_QG_MR 6  /* rows per AVX2 micro-tile */

struct shr_qgemm_packed {
    shr_qpath path;
    int N, K, Kp, npanels;
    shr_qact act;
    int off;       /* kernel operand u = x + off (maddubs paths: unsigned); 0 for EXACT/S16 */
    int umax;      /* largest |u| the contract allows */
    int max_abs_w;
    int steps;     /* I16ACC: quads summed in int16 before widening */
    void *w;       /* npanels * Q * 64 elements, int8 or int16 */
    int32_t *colsum;   /* N: sum_k w[n,k] */
    int32_t *ubias;    /* N: the caller's bias (zeros if none) */
    int64_t *abssum;   /* N: sum_k |w[n,k]| (overflow contract) */
    int32_t *comp;     /* npanels*16: ubias - (zx + off) * colsum, zero past N */
};

static inline long shr_qg_index(const struct shr_qgemm_packed *p, int n, int k) {
    return (((long)(n / SHR_QG_NR) * (p->Kp / 4) + k / 4) * SHR_QG_NR + n % SHR_QG_NR) * 4 + k % 4;
}

/* One call's output parameters for the 16 channels of a panel (zero-filled past N). */
typedef struct shr_qg_epi {
    int32_t comp[SHR_QG_NR];
    int32_t mult[SHR_QG_NR], lshift[SHR_QG_NR], rshift[SHR_QG_NR];
    float scale[SHR_QG_NR], bias[SHR_QG_NR]; /* f32; u8f/s8f: scale = rq_scale */
} shr_qg_epi;

static inline int shr_qout_is_u8(shr_qout_kind k) { return k == SHR_QOUT_U8 || k == SHR_QOUT_U8F; }
static inline int shr_qout_bytes(shr_qout_kind k) { return k == SHR_QOUT_S32 || k == SHR_QOUT_F32 ? 4 : 1; }
void shr_qg_epi_fill(const struct shr_qgemm_packed *p, const shr_qout *o, int panel, shr_qg_epi *e);

/* The first activation that breaks the contract (row, col), or row = -1. */
typedef struct shr_qg_bad {
    int row, col, value;
} shr_qg_bad;
/* 1 if the activation code x is within the declared contract. */
static inline int shr_qg_act_ok(const struct shr_qgemm_packed *p, int x) {
    if (p->act.type == SHR_I16) return x >= -p->act.max_abs && x <= p->act.max_abs;
    if (p->act.bits == 8) return 1;
    return p->act.type == SHR_U8 ? x <= 127 : x >= -64 && x <= 63;
}

/* Computes rows [m0, m1) x panels [p0, p1) of the output. scratch: shr_qg_scratch_bytes(p)
 * bytes, 64-byte aligned (unused by the reference). On a contract violation records it in
 * *bad and returns early. */
typedef void (*shr_qg_band_fn)(const struct shr_qgemm_packed *p, int m0, int m1, int p0, int p1, const void *X,
                               long ldx, const shr_qout *o, void *scratch, shr_qg_bad *bad);
void shr_qg_band_ref(const struct shr_qgemm_packed *p, int m0, int m1, int p0, int p1, const void *X, long ldx,
                     const shr_qout *o, void *scratch, shr_qg_bad *bad);
void shr_qg_band_avx2(const struct shr_qgemm_packed *p, int m0, int m1, int p0, int p1, const void *X, long ldx,
                      const shr_qout *o, void *scratch, shr_qg_bad *bad);

/* Tests and benchmarks: 0 keeps the AVX2 driver off its AVX-512 VNNI kernel (default 1: used
 * when the CPU has it). Results are the same integers either way. */
void shr_qg_vnni_enable(int on);

/* Whether the VNNI kernel serves p; shr_qgemm_taps's driver (arguments checked): returns the
 * offset from x->lo of the first code breaking a 7-bit contract (nothing written), or -1. */
int shr_qg_vnni_ok_for(const struct shr_qgemm_packed *p);
long shr_qg_vnni_taps(const struct shr_qgemm_packed *p, int M, const shr_qtaps *x, const shr_qout *o);

/* Rows of X packed per block by the AVX2 driver (a multiple of SHR_QG_MR) and the scratch
 * that needs. */
int shr_qg_block_rows(const struct shr_qgemm_packed *p);
size_t shr_qg_scratch_bytes(const struct shr_qgemm_packed *p);

#endif
