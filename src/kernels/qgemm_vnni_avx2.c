/* AVX-512 VNNI micro-kernel of the integer GEMM, used by the AVX2 driver (qgemm_avx2.c) when
 * the CPU has it (Zen 4, Ice Lake and later). Same operands as the byte kernels there:
 *   x: u8 operands u = x + off, row i's 4 codes of quad q at x + i * xrs + q * xqs;
 *   w: one panel [q][16 channels][4 k] s8 (qgemm_internal.h) = exactly one zmm per quad;
 *   ct[i * 16 + j] = sum_q sum_k u[i][4q + k] * w[j][4q + k]   (i < mr <= 6, j < 16).
 * vpdpbusd adds the four u8 x s8 products of a lane to its int32 accumulator with no int16
 * intermediate, so it is exact for every u8 operand: the pack-time contract (umax * sum|w| <
 * 2^31) keeps the int32 sums from wrapping, and the results equal the reference's bit for bit
 * on every path it serves (REDUCED, I16ACC, and EXACT with u8 activations). One instruction does
 * the 64 multiply-adds that cost vpmaddubsw + vpmaddwd + vpaddd twice over on AVX2.
 * Codes out (u8 / s8) take the fused kernels of qgemm_vnni_q8_avx2.c instead; this one writes the
 * int32 tile that the AVX2 epilogue turns into s32 / f32.
 * The file is compiled for AVX-512 by the pragma below (the build gives *_avx2.c files only
 * -mavx2); nothing here runs unless shr_qg_vnni_ok(). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")
#endif

#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/qgemm_avx2.h"

#define MR SHR_QG_MR
#define NR SHR_QG_NR

static int vnni_on = 1;

void shr_qg_vnni_enable(int on) { vnni_on = on; }

int shr_qg_vnni_ok(void) {
    static int cached = -1;
    if (!vnni_on || !shr_cpu_has_avx2_fma()) return 0;
    if (cached < 0) {
        const char *env = getenv("SHRINK_KERNELS"); /* "avx2": the AVX2 kernels only */
#if defined(__x86_64__) || defined(__i386__)
        __builtin_cpu_init();
        cached = !(env && strcmp(env, "avx2") == 0) && __builtin_cpu_supports("avx512vnni") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
#else
        (void)env;
        cached = 0;
#endif
    }
    return cached;
}

/* VNNI serves every byte-operand path, and EXACT with u8 codes (its operand is x itself). */
int shr_qg_vnni_ok_for(const shr_qgemm_packed *p) {
    return shr_qg_vnni_ok() && (p->path == SHR_QPATH_REDUCED || p->path == SHR_QPATH_I16ACC ||
                                (p->path == SHR_QPATH_EXACT && p->act.type == SHR_U8));
}

static inline int32_t load_u32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The tile's sums, one zmm per row (16 channels); rows >= mr stay zero. always_inline: the
 * struct lives in registers. */
typedef struct acc6 {
    __m512i c[MR];
} acc6;

static inline __attribute__((always_inline)) acc6 dot_tile(const int mr, const shr_qg_kargs *a) {
    const uint8_t *x = a->x;
    const int8_t *w = a->w;
    const long xrs = a->xrs, xqs = a->xqs;
    acc6 r;
    for (int i = 0; i < MR; i++) r.c[i] = _mm512_setzero_si512();
    for (int q = 0; q < a->Q; q++, x += xqs, w += 4 * NR) {
        __m512i wq = _mm512_load_si512((const void *)w);
        for (int i = 0; i < MR; i++)
            if (mr > i) r.c[i] = _mm512_dpbusd_epi32(r.c[i], _mm512_set1_epi32(load_u32(x + i * xrs)), wq);
    }
    return r;
}

static inline __attribute__((always_inline)) void k_vnni(const int mr, const shr_qg_kargs *a) {
    acc6 r = dot_tile(mr, a);
    for (int i = 0; i < MR; i++)
        if (mr > i) _mm512_store_si512((void *)(a->ct + i * NR), r.c[i]);
}

static void kv1(const shr_qg_kargs *a) { k_vnni(1, a); }
static void kv2(const shr_qg_kargs *a) { k_vnni(2, a); }
static void kv3(const shr_qg_kargs *a) { k_vnni(3, a); }
static void kv4(const shr_qg_kargs *a) { k_vnni(4, a); }
static void kv5(const shr_qg_kargs *a) { k_vnni(5, a); }
static void kv6(const shr_qg_kargs *a) { k_vnni(6, a); }

shr_qg_kern_fn shr_qg_vnni_kernel(int mr) {
    static const shr_qg_kern_fn k[MR] = {kv1, kv2, kv3, kv4, kv5, kv6};
    return k[mr - 1];
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
