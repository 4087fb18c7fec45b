/* Sparse matmul (dense, CSR, 1x4, 4x1, 8x1) against a dense reference built from the same
 * pruned (and for int8, quantized) weights: f32 weights, int8 weight-only, int8 x s8 and
 * int8 x u8 activations; shapes swept 1..67, sparsity 0/50/90/100 %, padded strides,
 * misaligned pointers, every epilogue; larger shapes; 32-bit column indices (K > 65536);
 * the convolution layout; 1 vs 2 threads bit-identical; argument errors. Tolerances: see
 * test_sparse_common.h. */
#include "core/cpu.h"
#include "test_sparse_common.h"

static const shr_sp_format blocky[4] = {SHR_SP_CSR, SHR_SP_1X4, SHR_SP_4X1, SHR_SP_8X1};

static void test_dense_f32(void) { CHECK(sp_sweep(SHR_SP_DENSE, 0, PAT_RANDOM)); }

static void test_formats_f32(void) {
    for (int f = 0; f < 4; f++) CHECK_MSG(sp_sweep(blocky[f], 0, PAT_BLOCKS), "%s", shr_sp_format_name(blocky[f]));
}

/* Block formats on unstructured zeros: partly filled blocks. */
static void test_formats_unstructured(void) {
    for (int f = 1; f < 4; f++) CHECK_MSG(sp_sweep(blocky[f], 0, PAT_RANDOM), "%s", shr_sp_format_name(blocky[f]));
}

static void test_formats_int8(void) {
    for (int kind = 1; kind <= 3; kind++)
        for (int f = 0; f < 4; f++)
            CHECK_MSG(sp_sweep(blocky[f], kind, PAT_BLOCKS), "%s kind %d", shr_sp_format_name(blocky[f]), kind);
}

/* The convolution layout (X [K][M], Y [N][M]): every format, f32 and int8 x u8. */
static void test_conv_layout(void) {
    sp_kn = 1;
    const shr_sp_format all[5] = {SHR_SP_DENSE, SHR_SP_CSR, SHR_SP_1X4, SHR_SP_4X1, SHR_SP_8X1};
    for (int f = 0; f < 5; f++)
        for (int kind = 0; kind <= 3; kind += 3)
            if (f > 0 || kind == 0)
                CHECK_MSG(sp_sweep(all[f], kind, f > 1 ? PAT_BLOCKS : PAT_RANDOM), "%s kind %d",
                          shr_sp_format_name(all[f]), kind);
    CHECK(sp_case(SHR_SP_8X1, 1, 64, 300, 784, 0.9, PAT_BLOCKS, 5, 1, 2)); /* a conv layer's plane */
    sp_kn = 0;
}

static void test_larger(void) {
    const int shapes[][3] = {{1024, 1024, 1}, {1024, 1024, 64}, {300, 784, 1}, {300, 784, 200}, {10, 300, 67}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int f = 0; f < 4; f++)
            for (int kind = 0; kind <= 3; kind += 1 + (s > 1)) {
                int N = shapes[s][0], K = shapes[s][1], M = shapes[s][2];
                CHECK_MSG(sp_case(blocky[f], kind, N, K, M, 0.9, PAT_RANDOM, 3, 1, 2), "%s %dx%d M=%d kind %d",
                          shr_sp_format_name(blocky[f]), N, K, M, kind);
            }
}

/* K > 65536: 32-bit column indices. int8 activations refuse it (s32 sums could overflow). */
static void test_wide_k(void) {
    for (int f = 0; f < 4; f++)
        for (int kind = 0; kind <= 1; kind++) {
            CHECK(sp_case(blocky[f], kind, 9, 70001, 1, 0.95, PAT_RANDOM, 1, 1, 1));
            CHECK(sp_case(blocky[f], kind, 9, 70001, 5, 0.95, PAT_RANDOM, 0, 2, 2));
        }
    int K = 70001;
    float *W = shr_alloc((size_t)2 * K * sizeof(float)), y[2];
    uint8_t *x = shr_alloc((size_t)K);
    shr_spmat A;
    CHECK(W && x);
    if (W && x) {
        W[5] = 1.0f, W[K + 70000] = -2.0f;
        CHECK_OK(shr_spmat_from_dense(&A, SHR_SP_CSR, SHR_SP_I8, 2, K, W, K));
        CHECK(A.col32 && !A.col16);
        shr_sp_qinput q = {0, 0, 1.0f};
        CHECK_STATUS(shr_spmm_q8(&A, 1, x, K, &q, NULL, y, 2), SHR_ERR_LIMIT);
        shr_spmat_free(&A);
    }
    shr_free(W), shr_free(x);
}

/* Rows are split in whole units, each summed by one thread: 1 and 2 threads agree bit for bit. */
static void test_threads_bit_identical(void) {
    int N = 1000, K = 700, Ms[3] = {1, 3, 64};
    float *W = shr_alloc((size_t)N * K * sizeof(float)), *X = shr_alloc((size_t)64 * K * sizeof(float));
    float *y1 = shr_alloc((size_t)64 * N * sizeof(float)), *y2 = shr_alloc((size_t)64 * N * sizeof(float));
    uint8_t *Xq = shr_alloc((size_t)64 * K);
    CHECK(W && X && y1 && y2 && Xq);
    if (!W || !X || !y1 || !y2 || !Xq) goto out;
    for (size_t i = 0; i < (size_t)64 * K; i++) X[i] = sp_frand(), Xq[i] = (uint8_t)(sp_next() >> 24);
    for (int f = 0; f < 4; f++)
        for (int dt = 0; dt < 2; dt++) {
            int br, bc, keep;
            sp_shape(blocky[f], &br, &bc, &keep);
            sp_pruned(W, N, K, K, 0.8, PAT_BLOCKS, br, bc, keep);
            shr_spmat A;
            CHECK_OK(shr_spmat_from_dense(&A, blocky[f], (shr_sp_dtype)dt, N, K, W, K));
            shr_sp_qinput q = {0, 128, 0.01f};
            for (int mi = 0; mi < 3; mi++)
                for (int q8 = 0; q8 <= dt; q8++)
                    CHECK_MSG(sp_threads_same(&A, Ms[mi], X, Xq, q8, &q, y1, y2), "%s dt %d M %d q8 %d",
                              shr_sp_format_name(blocky[f]), dt, Ms[mi], q8);
            shr_spmat_free(&A);
        }
    shr_set_threads(0);
out:
    shr_free(W), shr_free(X), shr_free(y1), shr_free(y2), shr_free(Xq);
}

static void test_errors(void) {
    float W[12] = {1, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0}, x[8] = {0}, y[8];
    shr_spmat A, Aq;
    CHECK_OK(shr_spmat_from_dense(&A, SHR_SP_CSR, SHR_SP_F32, 3, 4, W, 4));
    CHECK_OK(shr_spmat_from_dense(&Aq, SHR_SP_CSR, SHR_SP_I8, 3, 4, W, 4));
    shr_sp_qinput q = {1, 0, 1.0f};
    CHECK_STATUS(shr_spmm_f32(NULL, 1, x, 4, NULL, y, 3), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_spmm_f32(&A, 1, NULL, 4, NULL, y, 3), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_spmm_f32(&A, 1, x, 3, NULL, y, 3), SHR_ERR_SHAPE);
    CHECK_STATUS(shr_spmm_f32(&A, 1, x, 4, NULL, y, 2), SHR_ERR_SHAPE);
    CHECK_STATUS(shr_spmm_f32(&A, -1, x, 4, NULL, y, 3), SHR_ERR_INVALID_ARG);
    CHECK_OK(shr_spmm_f32(&A, 0, NULL, 4, NULL, NULL, 3));
    shr_gemm_epilogue per_row = {x, 1, -INFINITY, INFINITY}, per_col = {x, 0, -INFINITY, INFINITY};
    CHECK_STATUS(shr_spmm_f32(&A, 1, x, 4, &per_row, y, 3), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_spmm_f32_kn(&A, 1, x, 1, &per_col, y, 1), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_spmm_f32_kn(&A, 2, x, 1, &per_row, y, 2), SHR_ERR_SHAPE);
    CHECK_OK(shr_spmm_f32_kn(&A, 2, x, 2, &per_row, y, 2));
    CHECK_STATUS(shr_spmm_q8(&A, 1, x, 4, &q, NULL, y, 3), SHR_ERR_INVALID_ARG); /* f32 weights */
    CHECK_STATUS(shr_spmm_q8(&Aq, 1, x, 4, NULL, NULL, y, 3), SHR_ERR_INVALID_ARG);
    q.x_zero = 128;
    CHECK_STATUS(shr_spmm_q8(&Aq, 1, x, 4, &q, NULL, y, 3), SHR_ERR_INVALID_ARG);
    q.x_zero = 0, q.x_scale = 0.0f;
    CHECK_STATUS(shr_spmm_q8_ref(&Aq, 1, x, 4, &q, NULL, y, 3), SHR_ERR_INVALID_ARG);
    shr_spmat_free(&A), shr_spmat_free(&Aq);
}

int main(void) {
    fprintf(stderr, "kernels: %s\n", shr_cpu_has_avx2_fma() ? "avx2" : "reference only");
    RUN(test_dense_f32);
    RUN(test_formats_f32);
    RUN(test_formats_unstructured);
    RUN(test_formats_int8);
    RUN(test_conv_layout);
    RUN(test_larger);
    RUN(test_wide_k);
    RUN(test_threads_bit_identical);
    RUN(test_errors);
    return test_summary();
}
