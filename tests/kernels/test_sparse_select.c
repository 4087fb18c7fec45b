/* Per-layer format choice: the decision rule on given timings (fastest; within 5 % the smaller
 * one; dense only for f32; unavailable formats skipped), and shr_spmat_choose end to end: the
 * winner is a valid matrix equal to the pruned weight, every candidate's size is reported,
 * N:M is offered only when the weight fits it, int8 never falls back to f32 dense. */
#include "kernels/sparse_internal.h"
#include "test_sparse_common.h"

static shr_sp_candidate cand(shr_sp_format f, double sec, size_t bytes) {
    shr_sp_candidate c = {f, SHR_SP_F32, 1, sec, bytes};
    return c;
}

static void test_pick_rule(void) {
    shr_sp_candidate c[4] = {cand(SHR_SP_DENSE, 10.0, 4000), cand(SHR_SP_CSR, 5.0, 600),
                             cand(SHR_SP_1X4, 4.0, 1500), cand(SHR_SP_8X1, 4.1, 1200)};
    CHECK(shr_sp_pick(c, 4, 1) == 3); /* 4.1 <= 1.05 * 4.0 and smaller than 1x4 */
    c[3].seconds = 4.3;
    CHECK(shr_sp_pick(c, 4, 1) == 2); /* outside 5 %: the fastest */
    c[1].seconds = 4.19;
    CHECK(shr_sp_pick(c, 4, 1) == 1); /* the smallest of those within 5 % */
    c[2].available = 0;
    CHECK(shr_sp_pick(c, 4, 1) == 1);
    c[0].seconds = 1.0;
    CHECK(shr_sp_pick(c, 4, 1) == 0);
    CHECK(shr_sp_pick(c, 4, 0) == 1); /* int8: dense is only the baseline */
    c[3].bytes = 600, c[3].seconds = 4.0;
    CHECK(shr_sp_pick(c, 4, 0) == 3); /* equal size: the faster */
    for (int i = 0; i < 4; i++) c[i].available = 0;
    CHECK(shr_sp_pick(c, 4, 1) == -1);
}

static void check_choice(int N, int K, int M, shr_sp_dtype dt, int q8, int pat, int keep) { /* keep: N:M pattern */
    float *W = shr_alloc((size_t)N * K * 4), *back = shr_alloc((size_t)N * K * 4);
    if (!W || !back) {
        CHECK(0);
        goto out;
    }
    sp_pruned(W, N, K, K, 0.9 * (pat != PAT_NM), pat, 1, 1, keep);
    shr_spmat A;
    shr_sp_candidate rep[SHR_SP_NFORMATS];
    CHECK_OK(shr_spmat_choose(&A, dt, q8, N, K, W, K, M, 5.0, rep));
    CHECK_OK(shr_spmat_validate(&A));
    CHECK(A.dtype == dt || (dt == SHR_SP_F32 && A.format == SHR_SP_DENSE));
    CHECK(dt == SHR_SP_F32 || A.format != SHR_SP_DENSE);
    if (dt == SHR_SP_F32) {
        CHECK_OK(shr_spmat_to_dense(&A, back, K));
        CHECK(memcmp(W, back, (size_t)N * K * 4) == 0);
    }
    CHECK(rep[A.format].available && rep[A.format].bytes == shr_spmat_bytes(&A));
    int most = 0; /* most nonzeros in a group of 4 */
    for (int n = 0; n < N; n++)
        for (int g = 0; g < K; g += 4) {
            int c = 0;
            for (int t = g; t < g + 4 && t < K; t++) c += W[(size_t)n * K + t] != 0.0f;
            most = c > most ? c : most;
        }
    for (int f = 0; f < SHR_SP_NFORMATS; f++) {
        int fits = f == SHR_SP_NM24 ? most <= 2 : f == SHR_SP_NM14 ? most <= 1 : 1;
        CHECK_MSG(rep[f].available == fits, "%s available %d", shr_sp_format_name((shr_sp_format)f), rep[f].available);
        if (!rep[f].available) continue;
        shr_spmat B;
        CHECK_OK(shr_spmat_from_dense(&B, (shr_sp_format)f, f == SHR_SP_DENSE ? SHR_SP_F32 : dt, N, K, W, K));
        CHECK(rep[f].bytes == shr_spmat_bytes(&B) && rep[f].seconds > 0.0);
        for (int g = 0; g < SHR_SP_NFORMATS; g++) /* the rule holds for what was measured */
            if (rep[g].available && (dt == SHR_SP_F32 || g != SHR_SP_DENSE) && g != (int)A.format)
                CHECK(rep[A.format].seconds <= 1.05 * rep[g].seconds || rep[A.format].bytes < rep[g].bytes);
        shr_spmat_free(&B);
    }
    shr_spmat_free(&A);
out:
    shr_free(W), shr_free(back);
}

static void test_choose(void) {
    check_choice(64, 96, 1, SHR_SP_F32, 0, PAT_RANDOM, 4);
    check_choice(40, 70, 9, SHR_SP_F32, 0, PAT_NM, 2);
    check_choice(33, 64, 1, SHR_SP_I8, 0, PAT_NM, 1);
    check_choice(48, 50, 16, SHR_SP_I8, 1, PAT_RANDOM, 4);
    shr_spmat A;
    float W[4] = {1, 0, 0, 1};
    CHECK_STATUS(shr_spmat_choose(&A, SHR_SP_F32, 1, 2, 2, W, 2, 1, 1.0, NULL), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_spmat_choose(&A, SHR_SP_F32, 0, 2, 2, W, 2, 0, 1.0, NULL), SHR_ERR_SHAPE);
    CHECK_OK(shr_spmat_choose(&A, SHR_SP_F32, 0, 2, 2, W, 2, 1, 1.0, NULL));
    shr_spmat_free(&A);
}

int main(void) {
    RUN(test_pick_rule);
    RUN(test_choose);
    return test_summary();
}
