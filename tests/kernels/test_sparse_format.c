/* Sparse weight storage: dense -> sparse -> dense round trips for every format and value type,
 * int8 quantization, byte sizes and nonzero counts, allocation limits, and the validator
 * rejecting each kind of corruption of data that would come from a file. */
#include "test_sparse_common.h"

static const shr_sp_format all_formats[7] = {SHR_SP_DENSE, SHR_SP_CSR, SHR_SP_1X4, SHR_SP_4X1,
                                             SHR_SP_8X1,   SHR_SP_NM24, SHR_SP_NM14};

static int64_t count_nz(const float *W, int N, int K) {
    int64_t c = 0;
    for (int64_t i = 0; i < (int64_t)N * K; i++) c += W[i] != 0.0f;
    return c;
}

static void test_round_trip(void) {
    const int shapes[][2] = {{1, 1}, {1, 5}, {7, 3}, {9, 13}, {16, 16}, {17, 67}, {67, 30}, {3, 70000}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int f = 0; f < 7; f++)
            for (int sp = 0; sp < 4; sp++) {
                int N = shapes[s][0], K = shapes[s][1], br, bc, keep;
                sp_shape(all_formats[f], &br, &bc, &keep);
                size_t nw = (size_t)N * K;
                float *W = shr_alloc(nw * 4), *back = shr_alloc(nw * 4 + 4), *Wq = shr_alloc(nw * 4);
                int8_t *Q = shr_alloc(nw), *Qb = shr_alloc(nw);
                float *scale = shr_alloc((size_t)N * 4);
                if (!W || !back || !Q || !Qb || !scale || !Wq) {
                    CHECK(0);
                } else {
                    sp_pruned(W, N, K, K, sp / 3.0, keep < 4 ? PAT_NM : PAT_RANDOM, br, bc, keep);
                    shr_spmat A;
                    CHECK_OK(shr_spmat_from_dense(&A, all_formats[f], SHR_SP_F32, N, K, W, K));
                    CHECK_OK(shr_spmat_validate(&A));
                    back[nw] = 77.0f;
                    CHECK_OK(shr_spmat_to_dense(&A, back, K));
                    CHECK_MSG(memcmp(W, back, nw * 4) == 0 && back[nw] == 77.0f, "%s %dx%d",
                              shr_sp_format_name(all_formats[f]), N, K);
                    CHECK(shr_spmat_nnz(&A) == count_nz(W, N, K));
                    if (all_formats[f] == SHR_SP_CSR)
                        CHECK(shr_spmat_bytes(&A) == (size_t)(N + 1) * 4 + (size_t)A.nblocks * (K <= 65536 ? 6 : 8));
                    if (all_formats[f] == SHR_SP_DENSE) CHECK(shr_spmat_bytes(&A) == nw * 4);
                    shr_spmat_free(&A);
                    if (all_formats[f] == SHR_SP_DENSE) {
                        CHECK_STATUS(shr_spmat_from_dense(&A, SHR_SP_DENSE, SHR_SP_I8, N, K, W, K), SHR_ERR_UNSUPPORTED);
                    } else {
                        /* int8 given: exact round trip of values and scales */
                        for (size_t i = 0; i < nw; i++) {
                            int v = (int)(sp_next() >> 24) % 255 - 127;
                            Q[i] = (int8_t)(W[i] == 0.0f ? 0 : v ? v : 1);
                        }
                        for (int n = 0; n < N; n++) scale[n] = 0.01f * (float)(n + 1);
                        CHECK_OK(shr_spmat_from_dense_q(&A, all_formats[f], N, K, Q, K, scale));
                        CHECK_OK(shr_spmat_validate(&A));
                        CHECK_OK(shr_spmat_to_dense_q(&A, Qb, K));
                        CHECK(memcmp(Q, Qb, nw) == 0);
                        CHECK(memcmp(scale, A.scale, (size_t)N * 4) == 0);
                        CHECK_OK(shr_spmat_to_dense(&A, back, K));
                        int deq = 1;
                        for (size_t i = 0; i < nw; i++) deq &= back[i] == (float)Q[i] * scale[i / K];
                        CHECK(deq);
                        shr_spmat_free(&A);
                        /* int8 quantized from f32: within half a step, zeros stay zero */
                        CHECK_OK(shr_spmat_from_dense(&A, all_formats[f], SHR_SP_I8, N, K, W, K));
                        CHECK_OK(shr_spmat_to_dense(&A, Wq, K));
                        int close = 1;
                        for (size_t i = 0; i < nw; i++)
                            close &= fabsf(Wq[i] - W[i]) <= 0.5001f * A.scale[i / K] && (W[i] != 0.0f || Wq[i] == 0.0f);
                        CHECK_MSG(close, "%s quantized", shr_sp_format_name(all_formats[f]));
                        shr_spmat_free(&A);
                    }
                }
                shr_free(W), shr_free(back), shr_free(Q), shr_free(Qb), shr_free(scale), shr_free(Wq);
            }
}

static void test_alloc_limits(void) {
    shr_spmat A;
    CHECK_STATUS(shr_spmat_alloc(&A, SHR_SP_CSR, SHR_SP_F32, 4, 4, 17), SHR_ERR_LIMIT);
    CHECK_STATUS(shr_spmat_alloc(&A, SHR_SP_CSR, SHR_SP_F32, 4, 4, -1), SHR_ERR_LIMIT);
    CHECK_STATUS(shr_spmat_alloc(&A, SHR_SP_8X1, SHR_SP_F32, 1 << 30, 1 << 30, (int64_t)INT32_MAX + 1), SHR_ERR_LIMIT);
    CHECK_STATUS(shr_spmat_alloc(&A, SHR_SP_CSR, SHR_SP_F32, 0, 4, 0), SHR_ERR_SHAPE);
    CHECK_STATUS(shr_spmat_alloc(&A, (shr_sp_format)99, SHR_SP_F32, 4, 4, 0), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_spmat_alloc(&A, SHR_SP_CSR, (shr_sp_dtype)5, 4, 4, 0), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_spmat_alloc(&A, SHR_SP_DENSE, SHR_SP_F32, INT32_MAX, INT32_MAX, 0), SHR_ERR_LIMIT);
    CHECK(A.values == NULL);
    CHECK_STATUS(shr_spmat_alloc(&A, SHR_SP_NM24, SHR_SP_I8, 1 << 16, 1 << 14, 0), SHR_ERR_LIMIT); /* 2^29 kept */
    CHECK_OK(shr_spmat_alloc(&A, SHR_SP_1X4, SHR_SP_I8, 5, 9, 6));
    CHECK(A.nbrow == 5 && A.rowptr && A.col16 && A.scale && shr_spmat_bytes(&A) == 6 * 4 + 6 * 2 + 6 * 4 + 5 * 4);
    shr_spmat_free(&A);
    shr_spmat_free(&A); /* zeroed: a no-op */
    shr_spmat_free(NULL);
    float W[4] = {1, 2, 3, 4};
    CHECK_STATUS(shr_spmat_from_dense(&A, SHR_SP_CSR, SHR_SP_F32, 2, 2, W, 1), SHR_ERR_SHAPE);
    CHECK_STATUS(shr_spmat_from_dense(&A, SHR_SP_CSR, SHR_SP_F32, 2, 2, NULL, 2), SHR_ERR_INVALID_ARG);
    W[3] = NAN;
    CHECK_STATUS(shr_spmat_from_dense(&A, SHR_SP_CSR, SHR_SP_I8, 2, 2, W, 2), SHR_ERR_INVALID_ARG);
    int8_t Q[4] = {1, 0, 0, 1};
    float bad_scale[2] = {1.0f, -1.0f};
    CHECK_STATUS(shr_spmat_from_dense_q(&A, SHR_SP_CSR, 2, 2, Q, 2, bad_scale), SHR_ERR_INVALID_ARG);
}

/* Builds a valid matrix, applies one corruption, expects SHR_ERR_FORMAT, and frees it. */
typedef void (*corrupt_fn)(shr_spmat *A);
static void expect_rejected(shr_sp_format f, shr_sp_dtype dt, int N, int K, corrupt_fn corrupt, const char *what) {
    float *W = shr_alloc((size_t)N * K * 4);
    int br, bc, keep;
    sp_shape(f, &br, &bc, &keep);
    sp_pruned(W, N, K, K, 0.3, keep < 4 ? PAT_NM : PAT_RANDOM, br, bc, keep);
    for (int k = 0; k < K; k++) W[k] = k % 4 == 0 ? 1.0f : 0.0f; /* row 0: blocks in every block column */
    shr_spmat A;
    CHECK_OK(shr_spmat_from_dense(&A, f, dt, N, K, W, K));
    CHECK_OK(shr_spmat_validate(&A));
    shr_spmat B = A; /* corrupt a copy of the header (arrays shared): A frees cleanly */
    corrupt(&B);
    shr_status st = shr_spmat_validate(&B);
    CHECK_MSG(st == SHR_ERR_FORMAT && shr_last_error()[0], "%s: %s not rejected", shr_sp_format_name(f), what);
    if (st == SHR_ERR_FORMAT) fprintf(stderr, "  rejected %-28s %s\n", what, shr_last_error());
    shr_spmat_free(&A);
    shr_free(W);
}

static void c_rowptr0(shr_spmat *A) { A->rowptr[0] = 1; }
static void c_rowptr_down(shr_spmat *A) { A->rowptr[2] = A->rowptr[1] - 1; }
static void c_rowptr_end(shr_spmat *A) { A->rowptr[A->nbrow] = (int32_t)A->nblocks - 1; }
static void c_rowptr_past(shr_spmat *A) { A->rowptr[1] = (int32_t)A->nblocks + 5; }
static void c_col_range(shr_spmat *A) { A->col16[A->rowptr[1] - 1] = (uint16_t)(A->K + A->bc); }
static void c_col_order(shr_spmat *A) { A->col16[1] = A->col16[0]; }
static void c_col_align(shr_spmat *A) { A->col16[0] += 1; }
static void c_pad_k(shr_spmat *A) { ((float *)A->values)[(A->rowptr[1] - 1) * 4 + 3] = 1.0f; }
static void c_pad_n(shr_spmat *A) {
    ((int8_t *)A->values)[(size_t)A->rowptr[A->nbrow - 1] * 8 + 7] = 5; /* row 8 * nbrow - 1 >= N */
}
static void c_scale_nan(shr_spmat *A) { A->scale[1] = NAN; }
static void c_scale_neg(shr_spmat *A) { A->scale[0] = -1.0f; }
static void c_header_br(shr_spmat *A) { A->br = 2; }
static void c_header_nbrow(shr_spmat *A) { A->nbrow++; }
static void c_nblocks(shr_spmat *A) { A->nblocks = (int64_t)INT32_MAX + 7; }
static void c_two_cols(shr_spmat *A) { A->col32 = (int32_t *)A->rowptr; }
static void c_no_rowptr(shr_spmat *A) { A->rowptr = NULL; }
static void c_no_scale(shr_spmat *A) { A->scale = NULL; }
static void c_big_k16(shr_spmat *A) { A->K = 70000; }
static void c_dtype(shr_spmat *A) { A->dtype = (shr_sp_dtype)3; }
static void c_dense_rows(shr_spmat *A) { A->nblocks = A->N + 1; }
static void c_nm_pos_tail(shr_spmat *A) { A->pos[A->pos_stride - 1] |= 0x04; } /* K = 9: slot 5 -> pos 1 */
static void c_nm_order(shr_spmat *A) { A->pos[0] = (uint8_t)((A->pos[0] & 0xf0) | 0x1); } /* (1, 0) */
static void c_nm_repeat(shr_spmat *A) {
    A->pos[0] = (uint8_t)((A->pos[0] & 0xf0) | 0x5); /* (1, 1) with a nonzero second value */
    ((float *)A->values)[1] = 2.0f;
}
static void c_nm_stray(shr_spmat *A) { A->pos[A->pos_stride - 1] |= 0x80; }
static void c_nm_stride(shr_spmat *A) { A->pos_stride++; }
static void c_nm_groups(shr_spmat *A) { A->nblocks--; }

static void test_validator(void) {
    expect_rejected(SHR_SP_CSR, SHR_SP_F32, 5, 16, c_rowptr0, "first row pointer");
    expect_rejected(SHR_SP_CSR, SHR_SP_F32, 5, 16, c_rowptr_down, "row pointer falling");
    expect_rejected(SHR_SP_CSR, SHR_SP_F32, 5, 16, c_rowptr_end, "last row pointer");
    expect_rejected(SHR_SP_CSR, SHR_SP_F32, 5, 16, c_rowptr_past, "row pointer past nnz");
    expect_rejected(SHR_SP_CSR, SHR_SP_F32, 5, 16, c_col_range, "column out of range");
    expect_rejected(SHR_SP_CSR, SHR_SP_F32, 5, 16, c_col_order, "columns not ascending");
    expect_rejected(SHR_SP_1X4, SHR_SP_F32, 5, 16, c_col_align, "column not aligned");
    expect_rejected(SHR_SP_1X4, SHR_SP_F32, 5, 15, c_pad_k, "nonzero past K");
    expect_rejected(SHR_SP_8X1, SHR_SP_I8, 13, 9, c_pad_n, "nonzero past N");
    expect_rejected(SHR_SP_8X1, SHR_SP_I8, 13, 9, c_scale_nan, "NaN scale");
    expect_rejected(SHR_SP_4X1, SHR_SP_I8, 13, 9, c_scale_neg, "negative scale");
    expect_rejected(SHR_SP_4X1, SHR_SP_F32, 13, 9, c_header_br, "block shape");
    expect_rejected(SHR_SP_4X1, SHR_SP_F32, 13, 9, c_header_nbrow, "block row count");
    expect_rejected(SHR_SP_CSR, SHR_SP_F32, 5, 16, c_nblocks, "block count");
    expect_rejected(SHR_SP_CSR, SHR_SP_F32, 5, 16, c_two_cols, "both index widths");
    expect_rejected(SHR_SP_CSR, SHR_SP_F32, 5, 16, c_no_rowptr, "no row pointers");
    expect_rejected(SHR_SP_CSR, SHR_SP_I8, 5, 16, c_no_scale, "no scales");
    expect_rejected(SHR_SP_CSR, SHR_SP_F32, 5, 16, c_big_k16, "16-bit columns, K > 65536");
    expect_rejected(SHR_SP_CSR, SHR_SP_F32, 5, 16, c_dtype, "value type");
    expect_rejected(SHR_SP_DENSE, SHR_SP_F32, 5, 16, c_dense_rows, "dense row count");
    expect_rejected(SHR_SP_NM24, SHR_SP_F32, 3, 9, c_nm_pos_tail, "N:M position past K");
    expect_rejected(SHR_SP_NM24, SHR_SP_F32, 3, 9, c_nm_order, "N:M positions descending");
    expect_rejected(SHR_SP_NM24, SHR_SP_F32, 3, 9, c_nm_repeat, "N:M repeat with a value");
    expect_rejected(SHR_SP_NM14, SHR_SP_F32, 3, 9, c_nm_stray, "N:M stray bits");
    expect_rejected(SHR_SP_NM14, SHR_SP_I8, 3, 9, c_nm_stride, "N:M position stride");
    expect_rejected(SHR_SP_NM24, SHR_SP_I8, 3, 9, c_nm_groups, "N:M group count");
    CHECK_STATUS(shr_spmat_validate(NULL), SHR_ERR_INVALID_ARG);
}

/* A reader's path: allocate by header, fill arrays, validate. */
static void test_reader_path(void) {
    shr_spmat A;
    CHECK_OK(shr_spmat_alloc(&A, SHR_SP_CSR, SHR_SP_F32, 2, 3, 2));
    A.rowptr[1] = 1, A.rowptr[2] = 2;
    A.col16[0] = 2, A.col16[1] = 0;
    ((float *)A.values)[0] = 5.0f, ((float *)A.values)[1] = -1.0f;
    CHECK_OK(shr_spmat_validate(&A));
    float W[6], x[3] = {1, 2, 3}, y[2];
    CHECK_OK(shr_spmat_to_dense(&A, W, 3));
    CHECK(W[2] == 5.0f && W[3] == -1.0f && W[0] == 0.0f && W[5] == 0.0f);
    CHECK_OK(shr_spmm_f32(&A, 1, x, 3, NULL, y, 2));
    CHECK(y[0] == 15.0f && y[1] == -1.0f);
    shr_spmat_free(&A);
}

int main(void) {
    RUN(test_round_trip);
    RUN(test_alloc_limits);
    RUN(test_validator);
    RUN(test_reader_path);
    return test_summary();
}
