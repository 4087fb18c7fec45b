/* Per-layer format choice by measurement: every candidate format is built from the pruned
 * weight and timed with the kernel it would run with, in interleaved rounds (A B C A B C ...,
 * so a burst of load from elsewhere hits every candidate alike); the median decides. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "kernels/sparse_internal.h"
#include "shrink/tensor.h"

#define ROUNDS 5
#define TIE 1.05 /* within 5 % of the fastest: the smaller format wins */

int shr_sp_pick(const shr_sp_candidate *c, int n, int allow_dense) {
    int best = -1;
    for (int i = 0; i < n; i++)
        if (c[i].available && (allow_dense || c[i].format != SHR_SP_DENSE) &&
            (best < 0 || c[i].seconds < c[best].seconds))
            best = i;
    if (best < 0) return -1;
    int pick = best;
    for (int i = 0; i < n; i++)
        if (c[i].available && (allow_dense || c[i].format != SHR_SP_DENSE) && c[i].seconds <= TIE * c[best].seconds &&
            (c[i].bytes < c[pick].bytes || (c[i].bytes == c[pick].bytes && c[i].seconds < c[pick].seconds)))
            pick = i;
    return pick;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bench_in {
    int M, q8;
    const float *X;
    const uint8_t *Xq;
    float *Y;
} bench_in;

static shr_status run_once(const shr_spmat *A, const bench_in *in) {
    static const shr_sp_qinput q = {0, 128, 1.0f / 64};
    if (in->q8 && A->dtype == SHR_SP_I8) return shr_spmm_q8(A, in->M, in->Xq, A->K, &q, NULL, in->Y, A->N);
    return shr_spmm_f32(A, in->M, in->X, A->K, NULL, in->Y, A->N);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds per call of each available candidate. */
static shr_status time_all(shr_spmat *mats, shr_sp_candidate *rep, const bench_in *in, double budget_s) {
    int reps[SHR_SP_NFORMATS] = {0}, avail = 0;
    double t[SHR_SP_NFORMATS][ROUNDS];
    for (int f = 0; f < SHR_SP_NFORMATS; f++)
        if (rep[f].available) {
            SHR_TRY(run_once(&mats[f], in)); /* warm-up (and the first-call costs) */
            double t0 = now();
            SHR_TRY(run_once(&mats[f], in));
            rep[f].seconds = now() - t0;
            avail++;
        }
    double per_sample = budget_s / (ROUNDS * (avail > 0 ? avail : 1));
    for (int f = 0; f < SHR_SP_NFORMATS; f++)
        if (rep[f].available) {
            double once = rep[f].seconds > 1e-7 ? rep[f].seconds : 1e-7;
            reps[f] = once < per_sample ? (int)(per_sample / once) : 1;
        }
    for (int r = 0; r < ROUNDS; r++)
        for (int f = 0; f < SHR_SP_NFORMATS; f++) {
            if (!rep[f].available) continue;
            double t0 = now();
            for (int i = 0; i < reps[f]; i++) SHR_TRY(run_once(&mats[f], in));
            t[f][r] = (now() - t0) / reps[f];
        }
    for (int f = 0; f < SHR_SP_NFORMATS; f++)
        if (rep[f].available) {
            qsort(t[f], ROUNDS, sizeof(double), cmp_double);
            rep[f].seconds = t[f][ROUNDS / 2];
        }
    return SHR_OK;
}

shr_status shr_spmat_choose(shr_spmat *A, shr_sp_dtype dtype, int q8, int N, int K, const float *W, long ldw, int M,
                            double budget_ms, shr_sp_candidate report[SHR_SP_NFORMATS]) {
    if (!A || !W) return shr_fail(SHR_ERR_INVALID_ARG, "sparse format choice: NULL matrix or weight");
    memset(A, 0, sizeof *A);
    if (dtype != SHR_SP_F32 && dtype != SHR_SP_I8)
        return shr_fail(SHR_ERR_INVALID_ARG, "sparse format choice: unknown value type %d", (int)dtype);
    if (q8 && dtype != SHR_SP_I8) return shr_fail(SHR_ERR_INVALID_ARG, "sparse format choice: q8 needs int8 values");
    if (M < 1 || N < 1 || K < 1 || ldw < K)
        return shr_fail(SHR_ERR_SHAPE, "sparse format choice: N = %d, K = %d, ldw = %ld, batch %d", N, K, ldw, M);
    shr_spmat mats[SHR_SP_NFORMATS];
    shr_sp_candidate rep[SHR_SP_NFORMATS];
    memset(mats, 0, sizeof mats);
    memset(rep, 0, sizeof rep);
    bench_in in = {M, q8, NULL, NULL, NULL};
    float *X = shr_alloc((size_t)M * K * sizeof(float)), *Y = shr_alloc((size_t)M * N * sizeof(float));
    uint8_t *Xq = shr_alloc((size_t)M * K);
    shr_status st = X && Y && Xq ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "sparse format choice: out of memory");
    for (size_t i = 0; st == SHR_OK && i < (size_t)M * K; i++) { /* any values do: the timing ignores them */
        X[i] = (float)((i * 37) % 101) * 0.01f - 0.5f;
        Xq[i] = (uint8_t)(i * 91);
    }
    in.X = X, in.Xq = Xq, in.Y = Y;
    for (int f = 0; f < SHR_SP_NFORMATS && st == SHR_OK; f++) {
        rep[f].format = (shr_sp_format)f;
        rep[f].dtype = f == SHR_SP_DENSE ? SHR_SP_F32 : dtype;
        st = shr_spmat_from_dense(&mats[f], (shr_sp_format)f, rep[f].dtype, N, K, W, ldw);
        if (st == SHR_ERR_INVALID_ARG && (f == SHR_SP_NM24 || f == SHR_SP_NM14)) { /* W is not N:M */
            shr_clear_error();
            st = SHR_OK;
            continue;
        }
        if (st == SHR_OK) rep[f].available = 1, rep[f].bytes = shr_spmat_bytes(&mats[f]);
    }
    if (st == SHR_OK) st = time_all(mats, rep, &in, (budget_ms > 0 ? budget_ms : 60.0) * 1e-3);
    int pick = st == SHR_OK ? shr_sp_pick(rep, SHR_SP_NFORMATS, dtype == SHR_SP_F32) : -1;
    if (st == SHR_OK && pick < 0) st = shr_fail(SHR_ERR_INTERNAL, "sparse format choice: no candidate");
    for (int f = 0; f < SHR_SP_NFORMATS; f++) {
        if (f == pick && st == SHR_OK)
            *A = mats[f];
        else
            shr_spmat_free(&mats[f]);
    }
    if (report) memcpy(report, rep, sizeof rep);
    shr_free(X), shr_free(Y), shr_free(Xq);
    return st;
}
