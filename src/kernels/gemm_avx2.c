/* AVX2+FMA GEMM, single-threaded (shr_gemm_f32 splits the output across threads).
 * C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, row-major, layout as in kernels.h.
 *
 * BLIS-style blocking: K is cut into equal blocks of kc <= KC (chosen from K alone); for
 * each block a panel of op(B) (kc x nc) is packed into NR-wide strips (b[k*NR + j]) and
 * op(A) is packed in MC-row blocks of MR-row panels (a[k*MR + i]); a 6x16 register-blocked
 * micro-kernel multiplies one A panel by one B strip. Edge panels are zero-padded and edge
 * tiles use narrower instances of the same kernel. When op(A) fits one MC block and B is not
 * transposed, full strips of B are read in place instead of packed (gemm_internal.h).
 *
 * Determinism: every C element is computed as acc = 0; acc = fma(a_ik, b_kj, acc) for k
 * ascending within each K block, then C = fma(alpha, acc, beta' * C) (first block
 * beta' = beta, or C = alpha * acc when beta == 0; later blocks beta' = 1). That sequence
 * does not depend on M, N, the output sub-rectangle or whether B was packed, so splitting
 * C over threads never changes a bit of the result. The epilogue (bias, clamp) is applied
 * by the micro-kernel's store of the last K block, while the tile is still in registers. */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "kernels/gemm_internal.h"
#include "kernels/kernels.h"
#include "kernels/simd_avx2.h"
#include "shrink/tensor.h"

#define MR SHR_GEMM_MR
#define NR SHR_GEMM_NR
/* kc * NR floats of B (16 KiB) stay in L1d while MC * kc floats of A (144 KiB) stay in L2. */
#define KC 256
#define MC SHR_GEMM_MC
/* A kc x NC panel of B (2 MiB) lives in L3. */
#define NC 2048
/* Floats of slack after the packed A block: the 6-row transposing packer stores 8 lanes. */
#define A_SLACK 16

/* ---- micro-kernels ----
 * C[mr, 8*nv] (row stride ldc) from a (kc x 6, packed a[k*6 + i]) and b (kc rows of at least
 * 8*nv floats, row stride rsb). mr and nv are compile-time constants in each instance, so the
 * accumulators live in registers (6x16: 12 of the 16 ymm). Rows past mr and columns past
 * 8*nv are not computed; the ones computed follow the same FMA sequence in every instance. */
#define UKR_ROW(i, x0, x1)                                                                     \
    if (mr > i) {                                                                              \
        __m256 av = _mm256_broadcast_ss(a + i);                                                \
        x0 = _mm256_fmadd_ps(av, b0, x0);                                                      \
        if (nv > 1) x1 = _mm256_fmadd_ps(av, b1, x1);                                          \
    }

/* Epilogue of one tile (last K block only): bc = 16 readable column-bias floats for this
 * tile or NULL; br = the tile's first row bias or NULL; then clamp to [lo, hi]. */
typedef struct tile_ep {
    const float *bc, *br;
    float lo, hi;
} tile_ep;

/* max(lo, x) / min(hi, x) return x when x is NaN (the second operand), like the reference. */
static inline __attribute__((always_inline)) __m256 ep_apply(__m256 r, const tile_ep *te, int i, int v) {
    if (te->bc) r = _mm256_add_ps(r, _mm256_loadu_ps(te->bc + 8 * v));
    if (te->br) r = _mm256_add_ps(r, _mm256_set1_ps(te->br[i]));
    r = _mm256_max_ps(_mm256_set1_ps(te->lo), r);
    return _mm256_min_ps(_mm256_set1_ps(te->hi), r);
}

/* C row i = alpha * acc (beta == 0: C is not read) or fma(alpha, acc, beta * C), then the
 * epilogue when te != NULL. */
static inline __attribute__((always_inline)) void ukr_store(const int nv, float *c, __m256 x0, __m256 x1,
                                                            __m256 va, __m256 vb, int beta0, const tile_ep *te,
                                                            int i) {
    __m256 r0, r1 = x1;
    if (beta0) {
        r0 = _mm256_mul_ps(va, x0);
        if (nv > 1) r1 = _mm256_mul_ps(va, x1);
    } else {
        r0 = _mm256_fmadd_ps(va, x0, _mm256_mul_ps(vb, _mm256_loadu_ps(c)));
        if (nv > 1) r1 = _mm256_fmadd_ps(va, x1, _mm256_mul_ps(vb, _mm256_loadu_ps(c + 8)));
    }
    if (te) {
        r0 = ep_apply(r0, te, i, 0);
        if (nv > 1) r1 = ep_apply(r1, te, i, 1);
    }
    _mm256_storeu_ps(c, r0);
    if (nv > 1) _mm256_storeu_ps(c + 8, r1);
}

static inline __attribute__((always_inline)) void ukr_body(const int mr, const int nv, int kc, const float *a,
                                                           const float *b, long rsb, float *c, long ldc,
                                                           float alpha, float beta, const tile_ep *te) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int i = 0; i < mr; i++) _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = nv > 1 ? _mm256_loadu_ps(b + 8) : b0;
        UKR_ROW(0, c00, c01)
        UKR_ROW(1, c10, c11)
        UKR_ROW(2, c20, c21)
        UKR_ROW(3, c30, c31)
        UKR_ROW(4, c40, c41)
        UKR_ROW(5, c50, c51)
        a += MR;
        b += rsb;
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    int beta0 = beta == 0.0f;
    if (mr > 0) ukr_store(nv, c, c00, c01, va, vb, beta0, te, 0);
    if (mr > 1) ukr_store(nv, c + ldc, c10, c11, va, vb, beta0, te, 1);
    if (mr > 2) ukr_store(nv, c + 2 * ldc, c20, c21, va, vb, beta0, te, 2);
    if (mr > 3) ukr_store(nv, c + 3 * ldc, c30, c31, va, vb, beta0, te, 3);
    if (mr > 4) ukr_store(nv, c + 4 * ldc, c40, c41, va, vb, beta0, te, 4);
    if (mr > 5) ukr_store(nv, c + 5 * ldc, c50, c51, va, vb, beta0, te, 5);
}

typedef void (*ukr_fn)(int, const float *, const float *, long, float *, long, float, float, const tile_ep *);

#define UKR_INSTANCE(m, nv)                                                                    \
    static void ukr_##m##x##nv(int kc, const float *a, const float *b, long rsb, float *c, long ldc, \
                               float alpha, float beta, const tile_ep *te) {                   \
        ukr_body(m, nv, kc, a, b, rsb, c, ldc, alpha, beta, te);                               \
    }
UKR_INSTANCE(1, 1)
UKR_INSTANCE(2, 1)
UKR_INSTANCE(3, 1)
UKR_INSTANCE(4, 1)
UKR_INSTANCE(5, 1)
UKR_INSTANCE(6, 1)
UKR_INSTANCE(1, 2)
UKR_INSTANCE(2, 2)
UKR_INSTANCE(3, 2)
UKR_INSTANCE(4, 2)
UKR_INSTANCE(5, 2)
UKR_INSTANCE(6, 2)

/* [nv - 1][mr - 1] */
static const ukr_fn ukr_table[2][MR] = {{ukr_1x1, ukr_2x1, ukr_3x1, ukr_4x1, ukr_5x1, ukr_6x1},
                                        {ukr_1x2, ukr_2x2, ukr_3x2, ukr_4x2, ukr_5x2, ukr_6x2}};

/* Any tile up to 6x16: the narrowest kernel that covers it; columns that are not a whole
 * vector go through a scratch copy of C (b is a zero-padded packed strip there). */
static void ukr_tile(int mr, int nr, int kc, const float *a, const float *b, long rsb, float *c, long ldc,
                     float alpha, float beta, const tile_ep *te) {
    int nv = nr > 8 ? 2 : 1;
    ukr_fn f = ukr_table[nv - 1][mr - 1];
    if (nr == 8 * nv) {
        f(kc, a, b, rsb, c, ldc, alpha, beta, te);
        return;
    }
    float bc[NR] = {0};
    tile_ep tp;
    if (te && te->bc) { /* the kernel reads whole vectors of column bias */
        memcpy(bc, te->bc, (size_t)nr * sizeof *bc);
        tp = *te;
        tp.bc = bc;
        te = &tp;
    }
    float t[MR * NR];
    if (beta != 0.0f) { /* the kernel reads whole vectors of t: no indeterminate lanes */
        memset(t, 0, sizeof t);
        for (int i = 0; i < mr; i++) memcpy(t + i * NR, c + i * ldc, (size_t)nr * sizeof *t);
    }
    f(kc, a, b, rsb, t, NR, alpha, beta, te);
    for (int i = 0; i < mr; i++) memcpy(c + i * ldc, t + i * NR, (size_t)nr * sizeof *t);
}

/* ---- packing ---- */

/* op(A)[i0 : i0+mc, k0 : k0+kc] -> ap as ceil(mc/6) panels of kc x 6 (a[k*6 + i]), zero-padded.
 * May write A_SLACK floats past the last panel. */
static void pack_a(int transA, const float *A, long lda, int i0, int mc, int k0, int kc, float *ap) {
    for (int ir = 0; ir < mc; ir += MR, ap += (long)MR * kc) {
        int mr = mc - ir < MR ? mc - ir : MR;
        if (transA) { /* op(A)[i][k] = A[k][i]: MR contiguous floats per k */
            const float *src = A + (long)k0 * lda + i0 + ir;
            for (int k = 0; k < kc; k++, src += lda) {
                for (int i = 0; i < mr; i++) ap[k * MR + i] = src[i];
                for (int i = mr; i < MR; i++) ap[k * MR + i] = 0.0f;
            }
            continue;
        }
        const float *row[MR];
        for (int i = 0; i < MR; i++) row[i] = A + (long)(i0 + ir + (i < mr ? i : 0)) * lda + k0;
        int k = 0;
        if (mr == MR) {
            /* 8 k-values of 6 rows (+2 zero rows), transposed; each 8-lane store spills 2 zeros
             * into the next k (or next panel / slack), overwritten later. */
            for (; k + 8 <= kc; k += 8) {
                __m256 r[8];
                for (int i = 0; i < MR; i++) r[i] = _mm256_loadu_ps(row[i] + k);
                r[6] = r[7] = _mm256_setzero_ps();
                shr_transpose8_avx2(r);
                for (int t = 0; t < 8; t++) _mm256_storeu_ps(ap + (k + t) * MR, r[t]);
            }
        }
        for (; k < kc; k++) {
            for (int i = 0; i < mr; i++) ap[k * MR + i] = row[i][k];
            for (int i = mr; i < MR; i++) ap[k * MR + i] = 0.0f;
        }
    }
}

/* One NR-wide strip of op(B)[k0 : k0+kc, j0 : j0+nr] -> bp[k*16 + j], zero-padded to 16 columns. */
static void pack_b_strip(int transB, const float *B, long ldb, int k0, int kc, int j0, int nr, float *bp) {
    if (!transB) {
        const float *src = B + (long)k0 * ldb + j0;
        if (nr == NR) {
            for (int k = 0; k < kc; k++, src += ldb) {
                _mm256_store_ps(bp + k * NR, _mm256_loadu_ps(src));
                _mm256_store_ps(bp + k * NR + 8, _mm256_loadu_ps(src + 8));
            }
        } else {
            for (int k = 0; k < kc; k++, src += ldb) {
                for (int j = 0; j < nr; j++) bp[k * NR + j] = src[j];
                for (int j = nr; j < NR; j++) bp[k * NR + j] = 0.0f;
            }
        }
        return;
    }
    /* op(B)[k][j] = B[j][k]: 16 rows of B, each contiguous in k, as two halves of 8 lanes. */
    for (int h = 0; h < 2; h++) {
        int rows = nr - 8 * h < 0 ? 0 : nr - 8 * h < 8 ? nr - 8 * h : 8;
        shr_pack_rows8_avx2(B + (long)(j0 + 8 * h) * ldb + k0, ldb, rows, kc, bp + 8 * h, NR);
    }
}

/* ---- per-thread packing buffers ---- */

/* Cached per thread (grow-only) so small calls don't pay for allocation and page faults;
 * freed by the tss destructor when the thread exits. */
typedef struct pack_cache {
    float *p;
    size_t n;
} pack_cache;

static tss_t cache_key;
static int cache_key_ok;
static once_flag cache_once = ONCE_FLAG_INIT;

static void cache_destroy(void *v) {
    pack_cache *pc = v;
    if (!pc) return;
    shr_free(pc->p);
    free(pc);
}

static void cache_key_init(void) { cache_key_ok = tss_create(&cache_key, cache_destroy) == thrd_success; }

/* n floats, 64-byte aligned, or NULL when out of memory. */
static float *cache_get(size_t n) {
    call_once(&cache_once, cache_key_init);
    if (!cache_key_ok) return NULL;
    pack_cache *pc = tss_get(cache_key);
    if (!pc) {
        pc = calloc(1, sizeof *pc);
        if (!pc) return NULL;
        if (tss_set(cache_key, pc) != thrd_success) {
            free(pc);
            return NULL;
        }
    }
    if (pc->n < n) {
        shr_free(pc->p);
        pc->n = 0;
        pc->p = shr_alloc(n * sizeof(float));
        if (!pc->p) return NULL;
        pc->n = n;
    }
    return pc->p;
}

/* ---- driver ---- */

typedef struct gemm_args {
    int transA, transB, M, N, K;
    float alpha, beta;
    const float *A, *B;
    long lda, ldb, ldc;
    float *C;
    const shr_gemm_epilogue *ep;
} gemm_args;

/* Packed strip for columns jr..jr+15 of the current panel; with direct_b only the
 * partial last strip is packed, at the start of bp. */
static inline float *strip(float *bp, int direct_b, int jr, int kc) {
    return direct_b ? bp : bp + (long)(jr / NR) * kc * NR;
}

/* Runs the blocked loops with buffers for mcap rows of A and ncap columns of B (multiples
 * of MR / NR); direct_b reads full strips of B in place. */
static void gemm_blocked(const gemm_args *g, int kcb, int mcap, int ncap, int direct_b, float *ap, float *bp) {
    for (int jc = 0; jc < g->N; jc += ncap) {
        int nc = g->N - jc < ncap ? g->N - jc : ncap;
        for (int pc = 0; pc < g->K; pc += kcb) {
            int kc = g->K - pc < kcb ? g->K - pc : kcb;
            float beta = pc == 0 ? g->beta : 1.0f;
            int last = pc + kc >= g->K;
            for (int jr = 0; jr < nc; jr += NR) {
                int nr = nc - jr < NR ? nc - jr : NR;
                if (!direct_b || nr < NR)
                    pack_b_strip(g->transB, g->B, g->ldb, pc, kc, jc + jr, nr, strip(bp, direct_b, jr, kc));
            }
            for (int ic = 0; ic < g->M; ic += mcap) {
                int mc = g->M - ic < mcap ? g->M - ic : mcap;
                pack_a(g->transA, g->A, g->lda, ic, mc, pc, kc, ap);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    const float *b = strip(bp, direct_b, jr, kc);
                    long rsb = NR;
                    if (direct_b && nr == NR) {
                        b = g->B + (long)pc * g->ldb + jc + jr;
                        rsb = g->ldb;
                    }
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = mc - ir < MR ? mc - ir : MR;
                        const float *a = ap + (long)ir * kc;
                        float *c = g->C + (long)(ic + ir) * g->ldc + jc + jr;
                        tile_ep te, *tep = NULL;
                        if (last && g->ep) {
                            const float *bias = g->ep->bias;
                            te.bc = bias && !g->ep->bias_per_row ? bias + jc + jr : NULL;
                            te.br = bias && g->ep->bias_per_row ? bias + ic + ir : NULL;
                            te.lo = g->ep->lo;
                            te.hi = g->ep->hi;
                            tep = &te;
                        }
                        if (mr == MR && nr == NR)
                            ukr_6x2(kc, a, b, rsb, c, g->ldc, g->alpha, beta, tep);
                        else
                            ukr_tile(mr, nr, kc, a, b, rsb, c, g->ldc, g->alpha, beta, tep);
                    }
                }
            }
        }
    }
}

/* K == 0: C = beta * C, then the epilogue. */
static void scale_c(int M, int N, float beta, float *C, long ldc, const shr_gemm_epilogue *ep) {
    for (int i = 0; i < M; i++) {
        float *c = C + (long)i * ldc;
        for (int j = 0; j < N; j++) {
            float v = beta == 0.0f ? 0.0f : c[j] * beta;
            if (ep) {
                if (ep->bias) v += ep->bias[ep->bias_per_row ? i : j];
                v = v < ep->lo ? ep->lo : v;
                v = v > ep->hi ? ep->hi : v;
            }
            c[j] = v;
        }
    }
}

static int round_up(int x, int m) { return (x + m - 1) / m * m; }

void shr_gemm_f32_avx2(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc) {
    shr_gemm_f32_ex_avx2(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}

void shr_gemm_f32_ex_avx2(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                          const float *B, int ldb, float beta, float *C, int ldc, const shr_gemm_epilogue *ep) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        scale_c(M, N, beta, C, ldc, ep);
        return;
    }
    gemm_args g = {transA, transB, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C, ep};
    /* Equal K blocks, from K alone: the summation order must not depend on M or N. */
    int nkb = (K + KC - 1) / KC;
    int kcb = (K + nkb - 1) / nkb;
    int direct_b = !shr_gemm_avx2_packs_b(transB, M, K, ldb);
    int mcap = round_up(M < MC ? M : MC, MR);
    int ncap = direct_b ? round_up(N, NR) : round_up(N < NC ? N : NC, NR);
    size_t a_n = (size_t)mcap * kcb + A_SLACK;
    a_n = (a_n + 15) & ~(size_t)15; /* keep B strips 64-byte aligned */
    size_t b_n = (size_t)kcb * (direct_b ? NR : ncap);
    float *buf = cache_get(a_n + b_n);
    if (buf) {
        gemm_blocked(&g, kcb, mcap, ncap, direct_b, buf, buf + a_n);
        return;
    }
    /* Out of memory: one micro-panel of each on the stack (A is repacked per strip: slower,
     * same arithmetic). */
    _Alignas(64) float ap[MR * KC + A_SLACK];
    _Alignas(64) float bp[KC * NR];
    gemm_blocked(&g, kcb, MR, NR, 0, ap, bp);
}
