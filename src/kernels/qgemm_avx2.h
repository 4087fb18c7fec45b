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

/* Writes rows [m, m + mr) x channels [n0, n0 + nr) of the output from ct (MR x NR int32 sums
 * without the folded bias). */
void shr_qg_epilogue(const shr_qg_vepi *v, const shr_qout *o, const int32_t *ct, int mr, int nr, int m, int n0);

#endif
