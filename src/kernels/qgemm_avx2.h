/* Internal to the AVX2 integer GEMM (qgemm_avx2.c, qgemm_epi_avx2.c; both built with -mavx2):
 * the output stage of one micro-tile. */
#ifndef SHR_KERNELS_QGEMM_AVX2_H
#define SHR_KERNELS_QGEMM_AVX2_H

#include <immintrin.h>

#include "kernels/qgemm_internal.h"

/* One panel's output parameters as vectors, [0] for channels 0-7 and [1] for 8-15. */
typedef struct shr_qg_vepi {
    __m256i comp[2];
    __m256i mult[2], mult_odd[2], lshift[2], lsat_lo[2], lsat_hi[2]; /* u8 / s8 */
    __m256i rshift[2], rmask[2], rhalf[2];
    int any_lshift;
    __m256 scale[2], bias[2], flo, fhi; /* f32; u8f/s8f: scale and float clamp bounds */
    __m256i zp, rlo, rhi;
} shr_qg_vepi;

void shr_qg_vepi_prepare(const shr_qgemm_packed *p, const shr_qout *o, int panel, shr_qg_vepi *v);

/* One micro-kernel call: ct (MR x NR int32, 64-byte aligned) = the int32 sums of up to MR rows
 * of X against one panel of W. */
typedef struct shr_qg_kargs {
    int Q, S;       /* quads; i16acc: quads per int16 run */
    const void *x;  /* byte kernels: codes at x + i * xrs + q * xqs; widen: an int16 tile */
    long xrs, xqs;
    const void *w;  /* the panel */
    int32_t *ct;    /* MR x NR int32 out */
} shr_qg_kargs;
typedef void (*shr_qg_kern_fn)(const shr_qg_kargs *a);

/* AVX-512 VNNI (qgemm_vnni_avx2.c): 1 when the CPU has vpdpbusd on ymm/zmm (AVX512-VNNI, -VL,
 * -BW) and it is not switched off (shr_qg_vnni_enable(0), SHRINK_KERNELS=avx2). */
int shr_qg_vnni_ok(void);
/* The byte kernel for mr rows (1..MR): u8 operands x + i * xrs + q * xqs, all 16 channels. */
shr_qg_kern_fn shr_qg_vnni_kernel(int mr);

/* One block of rows of X for the fused VNNI path: rows [m0, m0 + mc), read in place (direct)
 * where a tile's padded last quad stays within the last_ok bytes of X the band may read, else
 * from `packed` (the block in 6-row tiles [q][6][4], tile of row m at (m - m0) * Kp). */
typedef struct shr_qg_xblock {
    const uint8_t *X;
    long ldx;
    const uint8_t *packed;
    int direct;
    long last_ok;
    int m0, mc;
} shr_qg_xblock;
/* Codes out (SHR_QOUT_U8 / S8 / U8F / S8F), bit-exact with shr_qg_epilogue: rows of b x panels
 * [p0, p1) of o, the output stage fused (qgemm_vnni_q8_avx2.c). */
void shr_qg_vnni_codes(const shr_qgemm_packed *p, const shr_qg_xblock *b, int p0, int p1, const shr_qout *o);

/* Writes rows [m, m + mr) x channels [n0, n0 + nr) of the output from ct (MR x NR int32 sums
 * without the folded bias). */
void shr_qg_epilogue(const shr_qg_vepi *v, const shr_qout *o, const int32_t *ct, int mr, int nr, int m, int n0);

#endif
