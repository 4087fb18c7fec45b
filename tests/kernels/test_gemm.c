/* GEMM: the AVX2 kernel and the threaded dispatch against the plain-C reference on awkward
 * shapes (1..67, K across the K-block boundary, all four transpose combinations), padded
 * leading dimensions, misaligned base pointers, alpha/beta variants, beta == 0 over NaN;
 * plus bit-identical results for 1 vs 2 threads.
 *
 * Tolerance per element: |c - c_ref| <= 1e-6 * (sqrt(K) + 2) * (|alpha| sum_k |a_ik b_kj|
 * + |beta c0_ij|) + 1e-30. Both sides round each of the K products and partial sums (fp32,
 * u = 6e-8); the two summation orders (FMA, K blocks) differ, and random-sign rounding grows
 * like sqrt(K) u, so 1e-6 sqrt(K) leaves a wide margin without hiding a wrong index. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/kernels.h"
#include "shrink/tensor.h"
#include "shrink/threads.h"
#include "test.h"

#define SENTINEL 12345.0f

typedef enum { KERN_AVX2, KERN_DISPATCH } kern;

static uint32_t rng_state = 12345u;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

/* One problem: operands laid out with padded leading dimensions at misaligned offsets. */
typedef struct prob {
    int tA, tB, M, N, K, lda, ldb, ldc, off;
    float alpha, beta;
    int nan_c; /* fill C with NaN (only meaningful with beta == 0) */
} prob;

static int prob_rows_a(const prob *p) { return p->tA ? p->K : p->M; }
static int prob_rows_b(const prob *p) { return p->tB ? p->N : p->K; }

/* Runs `which` and the reference on the same inputs; checks the tolerance above and that C's
 * padding (columns N..ldc-1 and the guard after the last row) is untouched. */
static void check_prob(const prob *p, kern which) {
    size_t na = (size_t)prob_rows_a(p) * p->lda + 4, nb = (size_t)prob_rows_b(p) * p->ldb + 4;
    size_t nc = (size_t)p->M * p->ldc + 4;
    float *ba = shr_alloc(na * sizeof(float)), *bb = shr_alloc(nb * sizeof(float));
    float *bc = shr_alloc(nc * sizeof(float)), *br = shr_alloc(nc * sizeof(float));
    float *c0 = shr_alloc(nc * sizeof(float));
    CHECK(ba && bb && bc && br && c0);
    if (!ba || !bb || !bc || !br || !c0) goto out;
    float *A = ba + p->off, *B = bb + p->off, *C = bc + p->off, *R = br + p->off;
    for (size_t i = 0; i + p->off < na; i++) A[i] = frand();
    for (size_t i = 0; i + p->off < nb; i++) B[i] = frand();
    for (size_t i = 0; i + p->off < nc; i++) C[i] = SENTINEL;
    for (int i = 0; i < p->M; i++)
        for (int j = 0; j < p->N; j++) C[(size_t)i * p->ldc + j] = p->nan_c ? NAN : frand();
    memcpy(c0, bc, nc * sizeof(float));
    memcpy(br, bc, nc * sizeof(float));

    shr_gemm_f32_ref(p->tA, p->tB, p->M, p->N, p->K, p->alpha, A, p->lda, B, p->ldb, p->beta, R, p->ldc);
    if (which == KERN_AVX2)
        shr_gemm_f32_avx2(p->tA, p->tB, p->M, p->N, p->K, p->alpha, A, p->lda, B, p->ldb, p->beta, C, p->ldc);
    else
        shr_gemm_f32(p->tA, p->tB, p->M, p->N, p->K, p->alpha, A, p->lda, B, p->ldb, p->beta, C, p->ldc);

    const float *C0 = c0 + p->off;
    int bad = 0;
    for (int i = 0; i < p->M && !bad; i++) {
        for (int j = 0; j < p->ldc && !bad; j++) {
            size_t ij = (size_t)i * p->ldc + j;
            if (j >= p->N) {
                if (C[ij] != SENTINEL) bad = 1;
                continue;
            }
            double bound = 0.0;
            for (int k = 0; k < p->K; k++) {
                double a = p->tA ? A[(size_t)k * p->lda + i] : A[(size_t)i * p->lda + k];
                double b = p->tB ? B[(size_t)j * p->ldb + k] : B[(size_t)k * p->ldb + j];
                bound += fabs(a * b);
            }
            bound = fabs(p->alpha) * bound + (p->beta != 0.0f ? fabs(p->beta * C0[ij]) : 0.0);
            double tol = 1e-6 * (sqrt((double)p->K) + 2.0) * bound + 1e-30;
            if (!(fabs((double)C[ij] - (double)R[ij]) <= tol)) bad = 1;
            if (bad)
                fprintf(stderr, "  C[%d][%d] = %.9g, ref %.9g, tol %.3g\n", i, j, (double)C[ij], (double)R[ij], tol);
        }
    }
    for (size_t i = (size_t)p->M * p->ldc; i + p->off < nc; i++)
        if (C[i] != SENTINEL) bad = 1;
    CHECK_MSG(!bad, "%s tA=%d tB=%d M=%d N=%d K=%d lda=%d ldb=%d ldc=%d off=%d alpha=%g beta=%g nan=%d",
              which == KERN_AVX2 ? "avx2" : "dispatch", p->tA, p->tB, p->M, p->N, p->K, p->lda, p->ldb, p->ldc,
              p->off, (double)p->alpha, (double)p->beta, p->nan_c);
out:
    shr_free(ba);
    shr_free(bb);
    shr_free(bc);
    shr_free(br);
    shr_free(c0);
}

static const int sizes[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 47, 64, 67};
#define NSIZES ((int)(sizeof sizes / sizeof sizes[0]))
static const float alphas[] = {1.0f, -0.5f};
static const float betas[] = {0.0f, 1.0f, 0.3f};

/* Fills in padding, offset, alpha and beta by cycling through the variants with a counter,
 * so every combination is hit many times across the grid. */
static prob make_prob(int tA, int tB, int M, int N, int K, unsigned variant) {
    prob p = {tA, tB, M, N, K, 0, 0, 0, 0, 0.0f, 0.0f, 0};
    int pad = (int)(variant % 3) * 3; /* 0, 3, 6 extra floats per row */
    p.lda = (tA ? M : K) + pad;
    p.ldb = (tB ? K : N) + (int)((variant / 3) % 2) * 5;
    p.ldc = N + (int)((variant / 2) % 3) * 2;
    if (p.lda < 1) p.lda = 1;
    if (p.ldb < 1) p.ldb = 1;
    p.off = (int)(variant % 4); /* 0..3 floats off the 64-byte alignment */
    p.alpha = alphas[(variant / 5) % 2];
    p.beta = betas[(variant / 7) % 3];
    p.nan_c = p.beta == 0.0f && (variant / 11) % 2 == 0;
    return p;
}

static void run_kern(const prob *p, kern which, int threads) {
    if (which == KERN_DISPATCH) shr_set_threads(threads);
    check_prob(p, which);
}

static int have_avx2(void) {
    static int noted;
    int ok = shr_cpu_has_avx2_fma();
    if (!ok && !noted) {
        fprintf(stderr, "note: CPU lacks AVX2/FMA; skipping direct shr_gemm_f32_avx2 comparisons\n");
        noted = 1;
    }
    return ok;
}

/* Every (M, N) in the size set at a few K, every transpose combination. */
static void test_grid_mn(void) {
    static const int ks[] = {1, 7, 17, 64};
    unsigned v = 0;
    for (int t = 0; t < 4; t++)
        for (int ki = 0; ki < 4; ki++)
            for (int mi = 0; mi < NSIZES; mi++)
                for (int ni = 0; ni < NSIZES; ni++) {
                    prob p = make_prob(t & 1, t >> 1, sizes[mi], sizes[ni], ks[ki], v++);
                    if (have_avx2()) run_kern(&p, KERN_AVX2, 1);
                    /* dispatch on a cheaper subsample: its kernels are the ones checked above */
                    if ((mi + ni + ki) % 4 == 0) run_kern(&p, KERN_DISPATCH, 1 + (int)(v % 2));
                }
}

/* Every K in the size set plus K-block boundaries (K = 0 too) at a few (M, N). */
static void test_grid_k(void) {
    static const int mn[][2] = {{1, 1}, {5, 17}, {7, 33}, {16, 16}, {67, 47}, {13, 2}};
    static const int extra_k[] = {0, 255, 256, 257, 300, 513, 600};
    unsigned v = 7;
    for (int t = 0; t < 4; t++)
        for (int s = 0; s < (int)(sizeof mn / sizeof mn[0]); s++)
            for (int ki = 0; ki < NSIZES + 7; ki++) {
                int K = ki < NSIZES ? sizes[ki] : extra_k[ki - NSIZES];
                prob p = make_prob(t & 1, t >> 1, mn[s][0], mn[s][1], K, v++);
                if (have_avx2()) run_kern(&p, KERN_AVX2, 1);
                run_kern(&p, KERN_DISPATCH, 1);
                run_kern(&p, KERN_DISPATCH, 2);
            }
}

/* Every alpha x beta (and NaN C) at shapes with full and partial tiles. */
static void test_alpha_beta(void) {
    static const int shp[][3] = {{12, 32, 20}, {13, 35, 300}, {67, 67, 67}};
    for (int s = 0; s < 3; s++)
        for (int t = 0; t < 4; t++)
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 3; b++)
                    for (int nan_c = 0; nan_c < (b == 0 ? 2 : 1); nan_c++) {
                        prob p = make_prob(t & 1, t >> 1, shp[s][0], shp[s][1], shp[s][2], (unsigned)(s + t));
                        p.alpha = alphas[a];
                        p.beta = betas[b];
                        p.nan_c = nan_c;
                        if (have_avx2()) run_kern(&p, KERN_AVX2, 1);
                        run_kern(&p, KERN_DISPATCH, 2);
                    }
}

/* Shapes past the cache blocks (several M blocks, several N panels, several K blocks) and
 * both split directions of the threaded dispatch. */
static void test_large(void) {
    static const int shp[][3] = {{150, 40, 100}, {30, 2100, 10}, {40, 300, 100}, {300, 40, 100},
                                 {20, 520, 70}, {149, 37, 513}, {64, 120, 520}, {300, 100, 40}};
    unsigned v = 3;
    for (int s = 0; s < (int)(sizeof shp / sizeof shp[0]); s++)
        for (int t = 0; t < 4; t++) {
            prob p = make_prob(t & 1, t >> 1, shp[s][0], shp[s][1], shp[s][2], v++);
            if (have_avx2()) run_kern(&p, KERN_AVX2, 1);
            run_kern(&p, KERN_DISPATCH, 2);
        }
}

/* Row strides of B that are multiples of 4 KiB: the kernel then packs B when more than one
 * A panel reuses a strip (in place below that, and for very short K). Both sides of each
 * rule must match the reference. */
static void test_page_stride(void) {
    static const int shp[][3] = {{6, 1024, 16}, {7, 1024, 16}, {32, 1024, 16}, {33, 1000, 4}, {20, 2048, 9}};
    unsigned v = 5;
    for (int s = 0; s < (int)(sizeof shp / sizeof shp[0]); s++) {
        prob p = make_prob(0, 0, shp[s][0], shp[s][1], shp[s][2], v++);
        p.ldb = 1024 * ((shp[s][1] + 1023) / 1024);
        if (have_avx2()) run_kern(&p, KERN_AVX2, 1);
        run_kern(&p, KERN_DISPATCH, 2);
    }
}

/* Threads 1 and 2 (and the unsplit AVX2 kernel) give bit-identical C; so does the
 * reference dispatch under forced reference kernels. */
static void det_case(int tA, int tB, int M, int N, int K, int force_ref) {
    int lda = tA ? M : K, ldb = tB ? K : N;
    size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    float *A = shr_alloc(na * sizeof *A), *B = shr_alloc(nb * sizeof *B);
    float *C1 = shr_alloc(nc * sizeof *C1), *C2 = shr_alloc(nc * sizeof *C2), *C3 = shr_alloc(nc * sizeof *C3);
    CHECK(A && B && C1 && C2 && C3);
    if (A && B && C1 && C2 && C3) {
        for (size_t i = 0; i < na; i++) A[i] = frand();
        for (size_t i = 0; i < nb; i++) B[i] = frand();
        for (size_t i = 0; i < nc; i++) C1[i] = C2[i] = C3[i] = frand();
        shr_force_reference_kernels(force_ref);
        shr_set_threads(1);
        shr_gemm_f32(tA, tB, M, N, K, -0.5f, A, lda, B, ldb, 0.3f, C1, N);
        shr_set_threads(2);
        shr_gemm_f32(tA, tB, M, N, K, -0.5f, A, lda, B, ldb, 0.3f, C2, N);
        shr_force_reference_kernels(0);
        CHECK_MSG(memcmp(C1, C2, nc * sizeof *C1) == 0, "threads 1 vs 2 differ: tA=%d tB=%d %dx%dx%d ref=%d", tA,
                  tB, M, N, K, force_ref);
        if (force_ref)
            shr_gemm_f32_ref(tA, tB, M, N, K, -0.5f, A, lda, B, ldb, 0.3f, C3, N);
        else if (have_avx2())
            shr_gemm_f32_avx2(tA, tB, M, N, K, -0.5f, A, lda, B, ldb, 0.3f, C3, N);
        if (force_ref || have_avx2())
            CHECK_MSG(memcmp(C1, C3, nc * sizeof *C1) == 0, "dispatch vs kernel differ: %dx%dx%d ref=%d", M, N,
                      K, force_ref);
    }
    shr_free(A);
    shr_free(B);
    shr_free(C1);
    shr_free(C2);
    shr_free(C3);
}

static void test_determinism(void) {
    det_case(0, 0, 257, 389, 700, 0); /* split by columns */
    det_case(1, 1, 389, 257, 700, 0); /* split by rows */
    det_case(1, 0, 300, 784, 64, 0);
    det_case(0, 1, 64, 300, 784, 0);
    det_case(0, 0, 67, 129, 300, 1);
    det_case(1, 0, 131, 29, 300, 1);
}

/* A call inside a parallel region runs single-threaded and still matches. */
static void test_nested(void) {
    enum { M = 64, N = 300, K = 100 };
    shr_set_threads(2);
    int ok = 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) reduction(&& : ok)
#endif
    for (int r = 0; r < 2; r++) {
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K);
        float *C = malloc(sizeof(float) * M * N), *R = malloc(sizeof(float) * M * N);
        if (!A || !B || !C || !R) {
            ok = 0;
        } else {
            for (int i = 0; i < M * K; i++) A[i] = (float)((i * 7 + r) % 13) - 6.0f;
            for (int i = 0; i < N * K; i++) B[i] = (float)((i * 5 + r) % 11) - 5.0f;
            /* small integers: every order of summation is exact, so results must be equal */
            shr_gemm_f32(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
            shr_gemm_f32_ref(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, R, N);
            if (memcmp(C, R, sizeof(float) * M * N) != 0) ok = 0;
        }
        free(A);
        free(B);
        free(C);
        free(R);
    }
    CHECK(ok);
}

/* M or N == 0 leaves C alone; K == 0 gives beta * C (zeros over NaN when beta == 0). */
static void test_degenerate(void) {
    float C[6] = {1, 2, 3, 4, 5, 6}, A[1] = {7}, B[1] = {9};
    shr_gemm_f32(0, 0, 0, 3, 4, 1.0f, A, 4, B, 3, 0.0f, C, 3);
    shr_gemm_f32(0, 0, 2, 0, 4, 1.0f, A, 4, B, 3, 0.0f, C, 3);
    CHECK(C[0] == 1 && C[5] == 6);
    shr_gemm_f32(0, 0, 2, 3, 0, 1.0f, A, 1, B, 3, 0.5f, C, 3);
    CHECK(C[0] == 0.5f && C[5] == 3.0f);
    for (int i = 0; i < 6; i++) C[i] = NAN;
    shr_gemm_f32(1, 1, 2, 3, 0, 1.0f, A, 2, B, 1, 0.0f, C, 3);
    CHECK(C[0] == 0.0f && C[5] == 0.0f);
    if (have_avx2()) {
        for (int i = 0; i < 6; i++) C[i] = NAN;
        shr_gemm_f32_avx2(0, 0, 2, 3, 0, 1.0f, A, 1, B, 3, 0.0f, C, 3);
        CHECK(C[0] == 0.0f && C[5] == 0.0f);
    }
}

int main(void) {
    RUN(test_degenerate);
    RUN(test_grid_mn);
    RUN(test_grid_k);
    RUN(test_alpha_beta);
    RUN(test_large);
    RUN(test_page_stride);
    RUN(test_determinism);
    RUN(test_nested);
    return test_summary();
}
