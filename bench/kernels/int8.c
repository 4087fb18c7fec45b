/* int8 section: shrink's integer GEMM (src/kernels/qgemm.h), path by path, against shrink's
 * own fp32 GEMM in the same layout, Y[M,N] = X[M,K] W[N,K]^T = shr_gemm_f32(0, 1, M, N, K),
 * timed interleaved in one bench_time_interleaved call (A B C A B C ...):
 *   - 512^3 and 1024^3: every path (exact u8 x s8, reduced u7 x s8, i16acc u8 x s4, s16), raw
 *     s32 output and requantized u8 (gemmlowp fixed point; float scale for "u8f");
 *   - every non-depthwise zoo layer at batch 64 and 1: the three 8-bit paths with s32 output
 *     and with u8 output (what the int8 runtime writes), one row each, and per path the summed
 *     time of all layers for each;
 *     a batch-1 Linear is compared with shr_gemv_f32, which is what shrink runs for it;
 *   - GEMV 1024x1024, 4096x1024, 4096x4096 at batch 1 vs shr_gemv_f32 (memory-bound: GB/s of
 *     weights read).
 * Once (1-thread pass) it also prints each path's accuracy cost: the SQNR of the quantized
 * product against the float product on ReLU(N(0,1)) activations and N(0, 1/K) weights with
 * per-channel weight scales (bench_int8_accuracy). Data are random codes in each path's
 * range: speed does not depend on the values. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench_common.h"
#include "kernels/kernels.h"
#include "kernels/qgemm.h"
#include "shrink/tensor.h"

enum { P_EXACT, P_REDUCED, P_I16ACC, P_S16, NPATH };
static const char *const path_name[NPATH] = {"exact u8s8", "reduced u7s8", "i16acc u8s4", "s16"};

/* Operands of one shape: fp32 and every path's codes and packed weights. */
typedef struct shape_data {
    int M, N, K;
    float *xf, *wf, *yf;
    uint8_t *x8, *x7;
    int16_t *x16;
    int32_t *y32;
    uint8_t *y8;
    shr_qgemm_packed *p[NPATH];
    int32_t mult, shift;
    float rq, wscale;
} shape_data;

typedef struct job {
    shape_data *d;
    int path, gemv;
    shr_qout_kind kind;
} job;

static void run_f32(void *a) {
    job *j = a;
    shape_data *d = j->d;
    if (j->gemv) shr_gemv_f32(d->N, d->K, d->wf, d->K, d->xf, NULL, d->yf);
    else shr_gemm_f32(0, 1, d->M, d->N, d->K, 1.0f, d->xf, d->K, d->wf, d->K, 0.0f, d->yf, d->N);
}

static void run_q(void *a) {
    job *j = a;
    shape_data *d = j->d;
    shr_qout o = {.kind = j->kind, .ldy = d->N, .multiplier = &d->mult, .shift = &d->shift, .rq_scale = &d->rq,
                  .qmax = 255, .x_scale = 1.0f, .w_scale = &d->wscale};
    o.y = j->kind == SHR_QOUT_S32 ? (void *)d->y32 : (void *)d->y8;
    const void *x = j->path == P_S16 ? (const void *)d->x16 : j->path == P_REDUCED ? d->x7 : d->x8;
    (void)shr_qgemm(d->p[j->path], d->M, x, d->K, &o);
}

static void shape_free(shape_data *d) {
    shr_free(d->xf), shr_free(d->wf), shr_free(d->yf), shr_free(d->x8), shr_free(d->x7), shr_free(d->x16);
    shr_free(d->y32), shr_free(d->y8);
    for (int i = 0; i < NPATH; i++) shr_qgemm_packed_free(d->p[i]);
    memset(d, 0, sizeof *d);
}

/* Allocates and fills a shape; with_s16 also packs the 16-bit path. Returns 0 on failure. */
static int shape_init(shape_data *d, int M, int N, int K, int with_s16) {
    memset(d, 0, sizeof *d);
    d->M = M, d->N = N, d->K = K;
    size_t mk = (size_t)M * K, nk = (size_t)N * K, mn = (size_t)M * N;
    d->xf = shr_alloc(mk * 4), d->wf = shr_alloc(nk * 4), d->yf = shr_alloc(mn * 4);
    d->x8 = shr_alloc(mk), d->x7 = shr_alloc(mk), d->x16 = shr_alloc(mk * 2);
    d->y32 = shr_alloc(mn * 4), d->y8 = shr_alloc(mn);
    int8_t *w8 = shr_alloc(nk), *w4 = shr_alloc(nk);
    int16_t *w16 = shr_alloc(nk * 2);
    int ok = d->xf && d->wf && d->yf && d->x8 && d->x7 && d->x16 && d->y32 && d->y8 && w8 && w4 && w16;
    if (ok) {
        bench_fill_f32(d->xf, mk, 11);
        bench_fill_f32(d->wf, nk, 12);
        bench_fill_u8(d->x8, mk, 0, 255, 13);
        bench_fill_u8(d->x7, mk, 0, 127, 14);
        bench_fill_i8((signed char *)w8, nk, -127, 127, 15);
        bench_fill_i8((signed char *)w4, nk, -8, 7, 16);
        /* 16-bit: |x| <= 1024 and |w| small enough that 1024 * sum|w| < 2^31 */
        int wmax = (int)(2147483647LL / (1024LL * K));
        wmax = wmax > 32767 ? 32767 : wmax;
        for (size_t i = 0; i < mk; i++) d->x16[i] = (int16_t)((int)(d->x8[i] * 8) - 1020);
        for (size_t i = 0; i < nk; i++) w16[i] = (int16_t)((long)w8[i] * wmax / 128);
        shr_qact a8 = {SHR_U8, 128, 8, 0}, a7 = {SHR_U8, 64, 7, 0}, a16 = {SHR_I16, 0, 16, 1024};
        ok = shr_qgemm_pack_s8(&d->p[P_EXACT], SHR_QPATH_EXACT, N, K, w8, K, &a8, NULL) == SHR_OK &&
             shr_qgemm_pack_s8(&d->p[P_REDUCED], SHR_QPATH_REDUCED, N, K, w8, K, &a7, NULL) == SHR_OK &&
             shr_qgemm_pack_s8(&d->p[P_I16ACC], SHR_QPATH_I16ACC, N, K, w4, K, &a8, NULL) == SHR_OK &&
             (!with_s16 || shr_qgemm_pack_s16(&d->p[P_S16], N, K, w16, K, &a16, NULL) == SHR_OK);
    }
    /* a realistic requantization: about 1 / (K * 128) */
    d->wscale = 1.0f;
    d->rq = (float)(1.0 / (128.0 * K));
    if (ok) ok = shr_quant_multiplier(d->rq, &d->mult, &d->shift) == SHR_OK;
    shr_free(w8), shr_free(w4), shr_free(w16);
    if (!ok) {
        fprintf(stderr, "int8 bench: cannot set up %dx%dx%d: %s\n", M, N, K, shr_last_error());
        shape_free(d);
    }
    return ok;
}

static const char *kind_name(shr_qout_kind k) {
    return k == SHR_QOUT_S32 ? "s32" : k == SHR_QOUT_U8 ? "u8" : k == SHR_QOUT_U8F ? "u8f" : "?";
}

/* Square shapes: every path, s32 and u8 output, and i16acc with the float requantization. */
static void square(bench_ctx *c, int n) {
    shape_data d;
    if (!shape_init(&d, n, n, n, 1)) return;
    job jobs[1 + 2 * NPATH + 1];
    bench_case cs[1 + 2 * NPATH + 1];
    char names[1 + 2 * NPATH + 1][48];
    int nc = 0;
    jobs[nc] = (job){&d, 0, 0, SHR_QOUT_S32};
    cs[nc] = (bench_case){"shrink f32", run_f32, &jobs[nc]};
    nc++;
    for (int pth = 0; pth < NPATH; pth++)
        for (int k = 0; k < 2; k++) {
            jobs[nc] = (job){&d, pth, 0, k ? SHR_QOUT_U8 : SHR_QOUT_S32};
            snprintf(names[nc], sizeof names[nc], "%s %s", path_name[pth], kind_name(jobs[nc].kind));
            cs[nc] = (bench_case){names[nc], run_q, &jobs[nc]};
            nc++;
        }
    jobs[nc] = (job){&d, P_I16ACC, 0, SHR_QOUT_U8F};
    snprintf(names[nc], sizeof names[nc], "%s u8f", path_name[P_I16ACC]);
    cs[nc] = (bench_case){names[nc], run_q, &jobs[nc]};
    nc++;
    double sec[1 + 2 * NPATH + 1];
    bench_time_interleaved(c, cs, nc, sec);
    char shape[32];
    snprintf(shape, sizeof shape, "%dx%dx%d", n, n, n);
    double ops = 2.0 * n * n * n;
    bench_row(c, "int8", "shrink sgemm", shape, ops, "GFLOP/s", 0, sec[0], NULL, 0);
    for (int i = 1; i < nc; i++) bench_row(c, "int8", names[i], shape, ops, "GOP/s", 0, sec[i], "shrink f32", sec[0]);
    shape_free(&d);
}

/* Batch-1 GEMV shapes (M = 1): every path vs shr_gemv_f32; GB/s of weights read. */
static void gemv(bench_ctx *c, int N, int K) {
    shape_data d;
    if (!shape_init(&d, 1, N, K, 1)) return;
    job jobs[1 + NPATH];
    bench_case cs[1 + NPATH];
    jobs[0] = (job){&d, 0, 1, SHR_QOUT_S32};
    cs[0] = (bench_case){"shrink f32 gemv", run_f32, &jobs[0]};
    for (int pth = 0; pth < NPATH; pth++) {
        jobs[1 + pth] = (job){&d, pth, 1, SHR_QOUT_U8};
        cs[1 + pth] = (bench_case){path_name[pth], run_q, &jobs[1 + pth]};
    }
    double sec[1 + NPATH];
    bench_time_interleaved(c, cs, 1 + NPATH, sec);
    char shape[48], name[48];
    snprintf(shape, sizeof shape, "gemv %dx%d", N, K);
    double ops = 2.0 * N * K;
    bench_row(c, "int8", "shrink sgemv", shape, ops, "GFLOP/s", 4.0 * N * K, sec[0], NULL, 0);
    for (int pth = 0; pth < NPATH; pth++) {
        snprintf(name, sizeof name, "%s u8", path_name[pth]);
        bench_row(c, "int8", name, shape, ops, "GOP/s", (pth == P_S16 ? 2.0 : 1.0) * N * K, sec[1 + pth],
                  "shrink f32 gemv", sec[0]);
    }
    shape_free(&d);
}

/* Every non-depthwise zoo layer at `batch`: rows for the 8-bit paths with s32 and u8 output,
 * totals per path for each. */
static void zoo(bench_ctx *c, int batch) {
    bench_layer L[64];
    int n = bench_zoo_layers(batch, L, 64);
    enum { NC = 1 + 2 * 3 };
    double tot[NC] = {0}, ops_tot = 0;
    for (int i = 0; i < n; i++) {
        if (L[i].depthwise) continue;
        shape_data d;
        if (!shape_init(&d, L[i].M, L[i].N, L[i].K, 0)) continue;
        int gemv = L[i].M == 1 && L[i].C == 0; /* a batch-1 Linear: shrink runs fp32 as GEMV */
        job jobs[NC];
        bench_case cs[NC];
        jobs[0] = (job){&d, 0, gemv, SHR_QOUT_S32};
        cs[0] = (bench_case){"shrink f32", run_f32, &jobs[0]};
        for (int pth = 0; pth < 3; pth++)
            for (int k = 0; k < 2; k++) {
                int at = 1 + 2 * pth + k;
                jobs[at] = (job){&d, pth, gemv, k ? SHR_QOUT_U8 : SHR_QOUT_S32};
                cs[at] = (bench_case){path_name[pth], run_q, &jobs[at]};
            }
        double sec[NC];
        bench_time_interleaved(c, cs, NC, sec);
        char shape[96], name[48];
        snprintf(shape, sizeof shape, "%.63s b%d", L[i].name, batch);
        double ops = 2.0 * L[i].M * L[i].N * L[i].K;
        for (int pth = 0; pth < 3; pth++)
            for (int k = 0; k < 2; k++) {
                snprintf(name, sizeof name, "%s %s", path_name[pth], k ? "u8" : "s32");
                bench_row(c, "int8", name, shape, ops, "GOP/s", 0, sec[1 + 2 * pth + k],
                          gemv ? "shrink f32 gemv" : "shrink f32", sec[0]);
            }
        for (int k = 0; k < NC; k++) tot[k] += sec[k];
        ops_tot += ops;
        shape_free(&d);
    }
    char shape[48], name[48];
    snprintf(shape, sizeof shape, "zoo total b%d", batch);
    for (int pth = 0; pth < 3; pth++)
        for (int k = 0; k < 2; k++) {
            snprintf(name, sizeof name, "%s %s (sum)", path_name[pth], k ? "u8" : "s32");
            bench_row(c, "int8", name, shape, ops_tot, "GOP/s", 0, tot[1 + 2 * pth + k], "shrink f32", tot[0]);
        }
}

/* ---- accuracy cost ---- */

static uint64_t acc_rng = 0x9E3779B97F4A7C15ull;
static double gauss(void) { /* Box-Muller on a xorshift stream */
    double u[2];
    for (int i = 0; i < 2; i++) {
        acc_rng ^= acc_rng << 13, acc_rng ^= acc_rng >> 7, acc_rng ^= acc_rng << 17;
        u[i] = ((double)(acc_rng >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* Per-channel symmetric weight codes in [-wq[n], wq[n]] (scale max|w_n| / wq[n]), as int8 or
 * int16; returns the scales in ws. */
static void quant_weights(const float *w, int N, int K, const int *wq, float *ws, int8_t *w8, int16_t *w16) {
    for (int n = 0; n < N; n++) {
        float mx = 0;
        for (int k = 0; k < K; k++) mx = fmaxf(mx, fabsf(w[(long)n * K + k]));
        ws[n] = mx > 0 ? mx / (float)wq[n] : 1.0f;
        for (int k = 0; k < K; k++) {
            float v = nearbyintf(w[(long)n * K + k] / ws[n]);
            v = fminf(fmaxf(v, (float)-wq[n]), (float)wq[n]);
            if (w8) w8[(long)n * K + k] = (int8_t)v;
            else w16[(long)n * K + k] = (int16_t)v;
        }
    }
}

typedef struct acc_cfg {
    const char *name;
    shr_qpath path;
    int xbits, wq; /* activation bits (8/7; 0 = s16), weight code range +-wq */
} acc_cfg;

/* SQNR (dB) and relative RMS error of one configuration against the double-precision product. */
static int accuracy_one(const acc_cfg *cfg, const float *x, const float *w, const double *yr, int M, int N, int K,
                        double *sqnr, double *rel) {
    size_t mk = (size_t)M * K, nk = (size_t)N * K;
    int8_t *w8 = shr_alloc(nk);
    int16_t *w16 = shr_alloc(nk * 2), *x16 = shr_alloc(mk * 2);
    uint8_t *x8 = shr_alloc(mk);
    int32_t *acc = shr_alloc((size_t)M * N * 4);
    int wq[1024];
    float ws[1024];
    int ok = w8 && w16 && x16 && x8 && acc && N <= 1024;
    shr_qgemm_packed *p = NULL;
    float xs = 1.0f;
    int zp = 0;
    if (ok) {
        float lo = 0, hi = 0;
        for (size_t i = 0; i < mk; i++) lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
        if (cfg->xbits) { /* u8 / u7, per-tensor asymmetric (min/max calibration) */
            int qmax = (1 << cfg->xbits) - 1;
            xs = (hi - lo) / (float)qmax;
            zp = (int)nearbyintf(-lo / xs);
            shr_quantize_u8(x, mk, xs, zp, x8);
            for (size_t i = 0; i < mk; i++) x8[i] = x8[i] > qmax ? (uint8_t)qmax : x8[i];
            for (int n = 0; n < N; n++) wq[n] = cfg->wq;
            quant_weights(w, N, K, wq, ws, w8, NULL);
            shr_qact a = {SHR_U8, zp, cfg->xbits, 0};
            ok = shr_qgemm_pack_s8(&p, cfg->path, N, K, w8, K, &a, NULL) == SHR_OK;
        } else { /* 16-bit fixed point: |x| <= 2047, each channel's codes as wide as
                  * 2047 * sum|w| < 2^31 allows */
            const int xq = 2047;
            xs = fmaxf(hi, -lo) / (float)xq;
            for (size_t i = 0; i < mk; i++) x16[i] = (int16_t)nearbyintf(x[i] / xs);
            for (int n = 0; n < N; n++) {
                double sa = 0, mx = 0;
                for (int k = 0; k < K; k++) sa += fabs(w[(long)n * K + k]), mx = fmax(mx, fabs(w[(long)n * K + k]));
                double lim = 0.98 * 2147483647.0 / (xq * (sa / (mx > 0 ? mx : 1)));
                wq[n] = lim > 32767 ? 32767 : (int)lim;
            }
            quant_weights(w, N, K, wq, ws, NULL, w16);
            shr_qact a = {SHR_I16, 0, 16, xq};
            ok = shr_qgemm_pack_s16(&p, N, K, w16, K, &a, NULL) == SHR_OK;
        }
    }
    shr_qout o = {.kind = SHR_QOUT_S32, .y = acc, .ldy = N};
    if (ok) ok = shr_qgemm(p, M, cfg->xbits ? (const void *)x8 : x16, K, &o) == SHR_OK;
    if (ok) {
        double se = 0, sy = 0;
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double yq = (double)acc[(long)m * N + n] * xs * ws[n], y = yr[(long)m * N + n];
                se += (y - yq) * (y - yq);
                sy += y * y;
            }
        *sqnr = 10.0 * log10(sy / (se > 0 ? se : 1e-300));
        *rel = sqrt(se / sy);
    }
    shr_qgemm_packed_free(p);
    shr_free(w8), shr_free(w16), shr_free(x16), shr_free(x8), shr_free(acc);
    return ok;
}

/* Prints each path's SQNR on mlp/fc1 at batch 64: X = ReLU(N(0,1)), W ~ N(0, 1/K). */
static void bench_int8_accuracy(FILE *f) {
    const int M = 64, N = 300, K = 784;
    size_t mk = (size_t)M * K, nk = (size_t)N * K;
    float *x = shr_alloc(mk * 4), *w = shr_alloc(nk * 4);
    double *yr = shr_alloc((size_t)M * N * 8);
    if (x && w && yr) {
        for (size_t i = 0; i < mk; i++) x[i] = (float)fmax(0.0, gauss());
        for (size_t i = 0; i < nk; i++) w[i] = (float)(gauss() / sqrt((double)K));
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double s = 0;
                for (int k = 0; k < K; k++) s += (double)x[(long)m * K + k] * w[(long)n * K + k];
                yr[(long)m * N + n] = s;
            }
        static const acc_cfg cfgs[] = {
            {"exact   u8 x s8 (8-bit act, 8-bit w)", SHR_QPATH_EXACT, 8, 127},
            {"reduced u7 x s8 (7-bit act, 8-bit w)", SHR_QPATH_REDUCED, 7, 127},
            {"reduced u8 x s7 (8-bit act, 7-bit w)", SHR_QPATH_REDUCED, 8, 63},
            {"i16acc  u8 x s4 (8-bit act, 4-bit w)", SHR_QPATH_I16ACC, 8, 7},
            {"i16acc  u7 x s4 (7-bit act, 4-bit w)", SHR_QPATH_I16ACC, 7, 7},
            {"i16acc  u8 x s5 (8-bit act, |w|<=16)", SHR_QPATH_I16ACC, 8, 16},
            {"s16     12-bit act x <=15-bit w", SHR_QPATH_S16, 0, 0},
        };
        fprintf(f, "int8 accuracy: Y = X W^T %dx%dx%d, X = ReLU(N(0,1)) per-tensor asymmetric (min/max), "
                   "W ~ N(0,1/K) per-channel symmetric; product vs float:\n", M, N, K);
        for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++) {
            double db = 0, rel = 0;
            if (accuracy_one(&cfgs[i], x, w, yr, M, N, K, &db, &rel))
                fprintf(f, "  %-40s SQNR %5.1f dB  rel. RMS error %.3f%%\n", cfgs[i].name, db, 100.0 * rel);
            else
                fprintf(f, "  %-40s failed: %s\n", cfgs[i].name, shr_last_error());
        }
    }
    shr_free(x), shr_free(w), shr_free(yr);
}

void bench_section_int8(bench_ctx *c) {
    if (c->threads == 1) bench_int8_accuracy(c->json ? stderr : stdout);
    square(c, 512);
    square(c, 1024);
    gemv(c, 1024, 1024);
    gemv(c, 4096, 1024);
    if (!c->quick) gemv(c, 4096, 4096);
    zoo(c, 64);
    zoo(c, 1);
}
