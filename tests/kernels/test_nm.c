/* N:M (2:4, 1:4) compressed weights: conversion (groups with fewer kept values, K not a
 * multiple of 4, too many nonzeros refused), the kernels against a dense reference for f32
 * weights, int8 weight-only and int8 x s8 / u8 activations over the 1..67 sweep, 1 vs 2
 * threads bit-identical, and the storage size (values + 2 bits per kept value). */
#include "test_sparse_common.h"

static const shr_sp_format nm[2] = {SHR_SP_NM24, SHR_SP_NM14};

static void test_convert(void) {
    /* 2:4 row: groups {a,0,b,0} {0,0,0,0} {0,0,0,c} and a tail of 1: {d} */
    float W[13] = {1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 3, 4};
    shr_spmat A;
    CHECK_OK(shr_spmat_from_dense(&A, SHR_SP_NM24, SHR_SP_F32, 1, 13, W, 13));
    CHECK_OK(shr_spmat_validate(&A));
    CHECK(A.nblocks == 4 && A.pos_stride == 2 && shr_spmat_nnz(&A) == 4);
    CHECK(shr_spmat_bytes(&A) == 8 * 4 + 2);
    const float *v = A.values;
    CHECK(v[0] == 1 && v[1] == 2 && v[2] == 0 && v[3] == 0 && v[4] == 0 && v[5] == 3 && v[6] == 4 && v[7] == 0);
    CHECK(A.pos[0] == (0 | 2 << 2 | 0 << 4 | 1 << 6)); /* (0,2) (0,1) */
    CHECK(A.pos[1] == (0 | 3 << 2 | 0 << 4 | 0 << 6)); /* (0,3) filled with a zero at 0; (0,0): the tail repeats 0 */
    float back[13];
    CHECK_OK(shr_spmat_to_dense(&A, back, 13));
    CHECK(memcmp(back, W, sizeof W) == 0);
    shr_spmat_free(&A);
    CHECK_STATUS(shr_spmat_from_dense(&A, SHR_SP_NM14, SHR_SP_F32, 1, 13, W, 13), SHR_ERR_INVALID_ARG);
    CHECK(strstr(shr_last_error(), "row 0, columns 0..3") != NULL);
    W[1] = 5;
    CHECK_STATUS(shr_spmat_from_dense(&A, SHR_SP_NM24, SHR_SP_I8, 1, 13, W, 13), SHR_ERR_INVALID_ARG);
    /* 1:4 with K % 4 == 2: a group of two in the tail */
    float W2[6] = {0, 0, 0, 7, 0, 8};
    CHECK_OK(shr_spmat_from_dense(&A, SHR_SP_NM14, SHR_SP_I8, 1, 6, W2, 6));
    CHECK_OK(shr_spmat_validate(&A));
    const int8_t *q = A.values;
    CHECK(A.pos[0] == (3 | 1 << 2) && q[0] == 111 && q[1] == 127 && A.scale[0] == 8.0f / 127.0f);
    shr_spmat_free(&A);
}

static void test_kernels(void) {
    for (int f = 0; f < 2; f++)
        for (int kind = 0; kind <= 3; kind++)
            CHECK_MSG(sp_sweep(nm[f], kind, PAT_NM), "%s kind %d", shr_sp_format_name(nm[f]), kind);
    for (int f = 0; f < 2; f++)
        for (int kind = 0; kind <= 3; kind++) {
            CHECK(sp_case(nm[f], kind, 1024, 1024, 1, 0.0, PAT_NM, 0, 0, 1));
            CHECK(sp_case(nm[f], kind, 256, 1000, 64, 0.2, PAT_NM, 3, 1, 2));
            CHECK(sp_case(nm[f], kind, 33, 514, 130, 0.0, PAT_NM, 1, 3, 3));
        }
    sp_kn = 1; /* the convolution layout */
    for (int f = 0; f < 2; f++) CHECK(sp_sweep(nm[f], f == 0 ? 0 : 2, PAT_NM));
    sp_kn = 0;
}

static void test_threads_bit_identical(void) {
    int N = 777, K = 1030, M = 70;
    float *W = shr_alloc((size_t)N * K * 4), *X = shr_alloc((size_t)M * K * 4);
    float *y1 = shr_alloc((size_t)M * N * 4), *y2 = shr_alloc((size_t)M * N * 4);
    int8_t *Xq = shr_alloc((size_t)M * K);
    CHECK(W && X && y1 && y2 && Xq);
    if (W && X && y1 && y2 && Xq) {
        for (size_t i = 0; i < (size_t)M * K; i++) X[i] = sp_frand(), Xq[i] = (int8_t)(sp_next() >> 24);
        for (int f = 0; f < 2; f++)
            for (int dt = 0; dt < 2; dt++) {
                sp_pruned(W, N, K, K, 0.0, PAT_NM, 1, 1, f == 0 ? 2 : 1);
                shr_spmat A;
                CHECK_OK(shr_spmat_from_dense(&A, nm[f], (shr_sp_dtype)dt, N, K, W, K));
                shr_sp_qinput q = {1, -3, 0.02f};
                for (int Mi = 1; Mi <= M; Mi += M - 1)
                    for (int q8 = 0; q8 <= dt; q8++) CHECK(sp_threads_same(&A, Mi, X, Xq, q8, &q, y1, y2));
                shr_spmat_free(&A);
            }
        shr_set_threads(0);
    }
    shr_free(W), shr_free(X), shr_free(y1), shr_free(y2), shr_free(Xq);
}

int main(void) {
    RUN(test_convert);
    RUN(test_kernels);
    RUN(test_threads_bit_identical);
    return test_summary();
}
