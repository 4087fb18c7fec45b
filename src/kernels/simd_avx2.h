/* Internal: small AVX2 helpers shared by the *_avx2.c kernels (include only from files
 * compiled with -mavx2). */
#ifndef SHR_KERNELS_SIMD_AVX2_H
#define SHR_KERNELS_SIMD_AVX2_H

#include <immintrin.h>

/* Sum of the 8 lanes, in a fixed order. */
static inline float shr_hsum8_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* In-register 8x8 transpose: r[i][j] -> r[j][i]. */
static inline void shr_transpose8_avx2(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* dst[k * ds + j] = src[j * ld + k] for k < K, j < 8, zeros for rows j >= n (n <= 8): up to
 * eight rows of a row-major matrix as K vectors of 8 lanes, 8 x 8 at a time through the
 * register transpose when all eight rows exist (the K % 8 tail and short blocks element by
 * element). dst 32-byte aligned, ds a multiple of 8. The packers of the GEMM's transposed B
 * strips, the narrow-output kernel's Bt and the implicit convolution's weights. */
static inline void shr_pack_rows8_avx2(const float *src, long ld, int n, int K, float *dst, long ds) {
    int k = 0;
    if (n == 8)
        for (; k + 8 <= K; k += 8) {
            __m256 r[8];
            for (int j = 0; j < 8; j++) r[j] = _mm256_loadu_ps(src + j * ld + k);
            shr_transpose8_avx2(r); /* r[t] = column k + t of the eight rows */
            for (int t = 0; t < 8; t++) _mm256_store_ps(dst + (long)(k + t) * ds, r[t]);
        }
    for (; k < K; k++)
        for (int j = 0; j < 8; j++) dst[(long)k * ds + j] = j < n ? src[j * ld + k] : 0.0f;
}

#endif
