/* int4 weight-only GEMM Y = X W^T + bias: reference and dispatch against the exact double
 * product with M, N, K each swept over 1..67 while the other two take {1, 7, 16, 67}
 * (G cycling through 32/64/128, symmetric and asymmetric) and larger shapes for each path
 * (GEMV kernel for small M, whole-W and tiled dequantization), padded row strides of X and Y,
 * padded rows of W, misaligned buffers; dyadic data must match exactly, random floats within
 * the bound of test_int4_util.h; the AVX2 tile dequantizer equals the reference bit for bit;
 * 1 and 2 threads bit-identical. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/int4.h"
#include "shrink/tensor.h"
#include "shrink/threads.h"
#include "test.h"
#include "test_int4_util.h"

/* A matrix: dyadic (random nibbles, zero points, scales in {1/2, 1, 2}) or random floats
 * quantized. */
static shr_i4_mat *make_mat(int N, int K, int G, int asym, int dyadic) {
    shr_i4_mat *m = NULL;
    if (dyadic) {
        if (shr_i4_mat_create(&m, N, K, G, asym) != SHR_OK) return NULL;
        for (long n = 0; n < N; n++) {
            for (int k = 0; k < K; k++) shr_i4_set(m->q + n * m->ldq, k, (int)(i4_frand() * 8.0f + 8.0f) - 8);
            for (long g = n * m->ngroups; g < (n + 1) * m->ngroups; g++) {
                m->scale[g] = ldexpf(1.0f, (int)(i4_frand() * 1.5f + 1.5f) - 1);
                if (m->zero) m->zero[g] = (int8_t)((int)(i4_frand() * 8.0f + 8.0f) - 8);
            }
        }
        return m;
    }
    float *W = shr_alloc(((size_t)N * K + 1) * sizeof(float));
    if (!W) return NULL;
    for (long i = 0; i < (long)N * K; i++) W[i] = i4_frand() * (1.0f + (float)(i % 5));
    if (shr_i4_quantize(W, K, N, K, G, asym, &m) != SHR_OK) m = NULL;
    shr_free(W);
    return m;
}

static int check_gemm(int use_ref, int dyadic, int M, int N, int K, int G, int asym, int pad, int off, int with_bias) {
    shr_i4_mat *m = make_mat(N, K, G, asym, dyadic);
    long ldx = K + pad, ldy = N + pad;
    float *bx = shr_alloc(((size_t)M * ldx + 8) * sizeof(float)), *by = shr_alloc(((size_t)M * ldy + 16) * sizeof(float));
    float *bias = shr_alloc((size_t)N * sizeof(float));
    i4_view v;
    memset(&v, 0, sizeof v);
    int ok = m && bx && by && bias && i4_view_make(&v, m, 16 * (pad & 1), off);
    if (ok) {
        float *X = bx + off % 8, *Y = by + off % 8;
        for (long i = 0; i < (long)M * ldx; i++) X[i] = dyadic ? (float)(int)(i4_frand() * 4.5f) / 4.0f : i4_frand();
        for (int n = 0; n < N; n++) bias[n] = dyadic ? (float)(int)(i4_frand() * 40.0f) / 4.0f : i4_frand();
        for (long i = 0; i < (long)M * ldy + 8; i++) Y[i] = 12345.0f;
        const float *b = with_bias ? bias : NULL;
        if (use_ref)
            shr_i4_gemm_ref(M, X, ldx, &v.m, b, Y, ldy);
        else
            ok = shr_i4_gemm(M, X, ldx, &v.m, b, Y, ldy) == SHR_OK;
        for (int r = 0; r < M && ok; r++) {
            for (int n = 0; n < N; n++) {
                double e, tol;
                i4_exact(m, n, X + r * ldx, b, &e, &tol);
                if (!(fabs(Y[r * ldy + n] - e) <= (dyadic ? 0.0 : tol))) ok = 0;
            }
            for (long j = N; j < ldy && r + 1 < M; j++) ok &= Y[r * ldy + j] == 12345.0f; /* stride padding */
        }
        for (long i = (M - 1) * ldy + N; i < (long)M * ldy + 8; i++) ok &= Y[i] == 12345.0f;
    }
    if (!ok)
        fprintf(stderr, "gemm ref=%d dyadic=%d mismatch M=%d N=%d K=%d G=%d asym=%d pad=%d off=%d bias=%d\n", use_ref,
                dyadic, M, N, K, G, asym, pad, off, with_bias);
    i4_view_free(&v);
    shr_i4_mat_free(m);
    shr_free(bx), shr_free(by), shr_free(bias);
    return ok;
}

static void test_gemm_grid(void) {
    const int others[] = {1, 7, 16, 67};
    for (int use_ref = 0; use_ref < 2; use_ref++)
        for (int dy = 0; dy < 2; dy++) {
            int ok = 1, cases = 0;
            for (int a = 1; a <= 67; a++)
                for (int o1 = 0; o1 < 4; o1++)
                    for (int o2 = 0; o2 < 4; o2++) {
                        if (use_ref && (a + o1 + o2) % 4) continue; /* the plain loops: a quarter of the grid */
                        int i = a * 16 + o1 * 4 + o2, G = 32 << (i % 3), b = others[o1], c = others[o2];
                        int asym = (i >> 2) & 1, pad = i % 3, off = i % 7, bias = (i >> 1) & 1;
                        ok &= check_gemm(use_ref, dy, a, b, c, G, asym, pad, off, bias); /* sweep M */
                        ok &= check_gemm(use_ref, dy, b, a, c, G, !asym, pad, off, !bias); /* sweep N */
                        ok &= check_gemm(use_ref, dy, b, c, a, G, asym, !pad, off + 1, bias); /* sweep K */
                        cases += 3;
                    }
            /* several N tiles and K blocks, the last ones partial; small M with K slices */
            const int big[][4] = {{70, 300, 600, 32}, {5, 1000, 1100, 128}, {150, 40, 300, 64}, {2, 129, 513, 256},
                                  {3, 50, 5000, 32},  {6, 40, 3100, 1024}, {9, 21, 2100, 64}, {16, 9, 4097, 128}};
            for (size_t i = 0; i < sizeof big / sizeof big[0] && !use_ref; i++) /* paths of the dispatch */
                ok &= check_gemm(use_ref, dy, big[i][0], big[i][1], big[i][2], big[i][3], (int)i & 1, 3, 5, 1);
            /* W too large to dequantize whole: the tiled path with odd shapes */
            const int Ms[] = {17, 33, 67}, Ns[] = {67, 131}, Ks[] = {1000, 1025};
            for (int a = 0; a < 3 && !use_ref; a++)
                for (int b = 0; b < 2; b++)
                    for (int c = 0; c < 2; c++) {
                        int i = a * 4 + b * 2 + c;
                        ok &= check_gemm(use_ref, dy, Ms[a], Ns[b], Ks[c], 32 << (i % 3), i & 1, i % 3, i % 7, (i >> 1) & 1);
                    }
            CHECK_MSG(ok, "ref %d dyadic %d", use_ref, dy);
            CHECK(cases > (use_ref ? 700 : 3000));
        }
}

/* The AVX2 dequantizer writes exactly the reference's floats. */
static void test_dequant_tile(void) {
    if (!shr_cpu_has_avx2_fma()) return;
    int ok = 1;
    for (int asym = 0; asym < 2; asym++) {
        shr_i4_mat *m = make_mat(45, 300, asym ? 32 : 64, asym, 0);
        float A[300 * 48], B[300 * 48];
        ok &= m != NULL;
        const int tiles[][4] = {{0, 45, 0, 300}, {3, 9, 32, 17}, {40, 5, 256, 44}, {8, 8, 64, 1}, {0, 1, 0, 300}};
        for (size_t t = 0; m && t < sizeof tiles / sizeof tiles[0]; t++) {
            memset(A, 0, sizeof A), memset(B, 0, sizeof B);
            shr_i4_dequant_t_ref(m, tiles[t][0], tiles[t][1], tiles[t][2], tiles[t][3], A, 48);
            shr_i4_dequant_t_avx2(m, tiles[t][0], tiles[t][1], tiles[t][2], tiles[t][3], B, 48);
            for (int k = 0; k < tiles[t][3]; k++)
                ok &= memcmp(A + k * 48, B + k * 48, (size_t)tiles[t][1] * sizeof(float)) == 0;
            for (int k = tiles[t][3]; k < 300; k++) ok &= B[k * 48] == 0.0f; /* no rows past kb */
        }
        shr_i4_mat_free(m);
    }
    CHECK(ok);
}

/* Every path: N tiles (and 16-column bands when N has fewer tiles than threads), the GEMV
 * kernel's row blocks (small M, with and without K slices), the whole-W fp32 GEMM (small W):
 * 1 and 2 threads agree bit for bit. */
static void test_threads_bit_identical(void) {
    const int shapes[][4] = {{40, 600, 700, 128}, {100, 40, 2000, 32}, {3, 500, 1000, 64}, {5, 300, 4000, 32}, {40, 30, 300, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        shr_i4_mat *m = make_mat(N, K, shapes[s][3], (int)s & 1, 0);
        float *X = shr_alloc((size_t)M * K * sizeof(float)), *bias = shr_alloc((size_t)N * sizeof(float));
        float *y1 = shr_alloc((size_t)M * N * sizeof(float)), *y2 = shr_alloc((size_t)M * N * sizeof(float));
        CHECK(m && X && bias && y1 && y2);
        if (m && X && bias && y1 && y2) {
            for (long i = 0; i < (long)M * K; i++) X[i] = i4_frand();
            for (int i = 0; i < N; i++) bias[i] = i4_frand();
            shr_set_threads(1);
            CHECK_OK(shr_i4_gemm(M, X, K, m, bias, y1, N));
            shr_set_threads(2);
            CHECK_OK(shr_i4_gemm(M, X, K, m, bias, y2, N));
            CHECK(memcmp(y1, y2, (size_t)M * N * sizeof(float)) == 0);
        }
        shr_set_threads(0);
        shr_i4_mat_free(m);
        shr_free(X), shr_free(bias), shr_free(y1), shr_free(y2);
    }
}

/* K = 0: every path writes bias (or 0); N = 0 writes nothing. */
static void test_empty(void) {
    float x[4] = {1, 2, 3, 4}, bias[3] = {0.5f, -1.0f, 2.0f}, Y[20 * 3];
    const int Ms[] = {1, 5, 20};
    for (int i = 0; i < 3; i++) {
        shr_i4_mat *m = NULL;
        CHECK_OK(shr_i4_quantize(x, 0, 3, 0, 64, i & 1, &m));
        if (!m) continue;
        for (int j = 0; j < 20 * 3; j++) Y[j] = 7.0f;
        CHECK_OK(shr_i4_gemm(Ms[i], x, 0, m, i == 1 ? NULL : bias, Y, 3));
        int ok = 1;
        for (int j = 0; j < Ms[i] * 3; j++) ok &= Y[j] == (i == 1 ? 0.0f : bias[j % 3]);
        CHECK(ok);
        shr_i4_mat_free(m);
    }
    shr_i4_mat *m = NULL;
    CHECK_OK(shr_i4_quantize(x, 4, 0, 4, 32, 0, &m));
    if (m) {
        Y[0] = 7.0f;
        CHECK_OK(shr_i4_gemm(20, x, 4, m, NULL, Y, 1));
        CHECK(Y[0] == 7.0f);
    }
    shr_i4_mat_free(m);
}

int main(void) {
    RUN(test_empty);
    RUN(test_dequant_tile);
    RUN(test_gemm_grid);
    RUN(test_threads_bit_identical);
    return test_summary();
}
