/* Integer GEMM: weight packing (with the zero-point fold and the overflow contract), argument
 * checks, dispatch (AVX2 or reference) and OpenMP threads over row or panel bands. Every
 * output element is an exact integer function of its row of X and its channel of W, so the
 * split (and so the thread count) cannot change a bit of the result. Layout: qgemm_internal.h. */
#ifdef _OPENMP
#include <omp.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/error.h"
#include "kernels/qgemm_internal.h"

/* Below this many multiply-adds a second thread costs more than it saves. */
#define PAR_MIN_WORK 4.0e5
#define MAX_PARTS 64

const char *shr_qpath_name(shr_qpath p) {
    switch (p) {
    case SHR_QPATH_AUTO: return "auto";
    case SHR_QPATH_EXACT: return "exact";
    case SHR_QPATH_REDUCED: return "reduced";
    case SHR_QPATH_I16ACC: return "i16acc";
    case SHR_QPATH_S16: return "s16";
    }
    return "?";
}

void shr_qgemm_packed_free(shr_qgemm_packed *p) {
    if (!p) return;
    shr_free(p->w);
    free(p->colsum);
    free(p->ubias);
    free(p->abssum);
    free(p->comp);
    free(p);
}

/* Refolds comp = ubias - (zx + off) * colsum and checks that no accumulator can overflow:
 * |sum_k u w| <= umax * sum|w| (the kernels' partial sums), comp fits int32, and the true
 * result sum_k (x - zx) w + bias fits int32 (then the final int32 add cannot wrap). */
static shr_status fold_bias(shr_qgemm_packed *p, int zero_point) {
    int64_t xlo, xhi; /* activation code range */
    if (p->act.type == SHR_I16) xlo = -p->act.max_abs, xhi = p->act.max_abs;
    else if (p->act.type == SHR_U8) xlo = 0, xhi = p->act.bits == 8 ? 255 : 127;
    else xlo = p->act.bits == 8 ? -128 : -64, xhi = p->act.bits == 8 ? 127 : 63;
    int64_t dev = xhi - zero_point > zero_point - xlo ? xhi - zero_point : zero_point - xlo;
    for (int n = 0; n < p->N; n++) {
        int64_t comp = p->ubias[n] - ((int64_t)zero_point + p->off) * p->colsum[n];
        int64_t partial = p->umax * p->abssum[n], total = dev * p->abssum[n] + llabs((long long)p->ubias[n]);
        if (partial > INT32_MAX || llabs((long long)comp) > INT32_MAX || total > INT32_MAX)
            return shr_fail(SHR_ERR_INVALID_ARG,
                            "qgemm: output channel %d could overflow int32 (sum |w| = %lld, zero point %d, bias %d)", n,
                            (long long)p->abssum[n], zero_point, (int)p->ubias[n]);
        p->comp[n] = (int32_t)comp;
    }
    p->act.zero_point = zero_point;
    return SHR_OK;
}

static shr_status check_act(const shr_qact *a, int want16) {
    if (!a) return shr_fail(SHR_ERR_INVALID_ARG, "qgemm: no activation contract");
    if (want16) {
        if (a->type != SHR_I16 || a->zero_point != 0 || a->max_abs < 1 || a->max_abs > 32768)
            return shr_fail(SHR_ERR_INVALID_ARG, "qgemm s16: activations must be i16, zero point 0, max_abs 1..32768");
        return SHR_OK;
    }
    if (a->type != SHR_U8 && a->type != SHR_I8)
        return shr_fail(SHR_ERR_INVALID_ARG, "qgemm s8: activations must be u8 or i8");
    if (a->bits != 7 && a->bits != 8) return shr_fail(SHR_ERR_INVALID_ARG, "qgemm: activation bits must be 7 or 8");
    int lo = a->type == SHR_U8 ? 0 : -128, hi = a->type == SHR_U8 ? 255 : 127;
    if (a->zero_point < lo || a->zero_point > hi)
        return shr_fail(SHR_ERR_INVALID_ARG, "qgemm: activation zero point %d outside the %s range", a->zero_point,
                        shr_dtype_name(a->type));
    return SHR_OK;
}

/* Allocates p and its arrays, computes the row statistics of W (elements w(n, k)). */
static shr_status pack_common(shr_qgemm_packed **out, int N, int K, long ldw, const void *W, int esz,
                              const shr_qact *act, const int32_t *bias) {
    *out = NULL;
    if (N < 1 || K < 1 || ldw < K || !W)
        return shr_fail(SHR_ERR_INVALID_ARG, "qgemm pack: bad shape N=%d K=%d ldw=%ld", N, K, ldw);
    if (K > (1 << 28)) return shr_fail(SHR_ERR_LIMIT, "qgemm pack: K=%d too large", K);
    shr_qgemm_packed *p = calloc(1, sizeof *p);
    if (!p) return shr_fail(SHR_ERR_NOMEM, "qgemm pack: out of memory");
    p->N = N;
    p->K = K;
    p->Kp = (K + 3) / 4 * 4;
    p->npanels = (N + SHR_QG_NR - 1) / SHR_QG_NR;
    p->act = *act;
    size_t nel = (size_t)p->npanels * SHR_QG_NR * p->Kp;
    p->w = shr_alloc(nel * esz);
    p->colsum = calloc((size_t)N, sizeof *p->colsum);
    p->ubias = calloc((size_t)N, sizeof *p->ubias);
    p->abssum = calloc((size_t)N, sizeof *p->abssum);
    p->comp = calloc((size_t)p->npanels * SHR_QG_NR, sizeof *p->comp);
    if (!p->w || !p->colsum || !p->ubias || !p->abssum || !p->comp) {
        shr_qgemm_packed_free(p);
        return shr_fail(SHR_ERR_NOMEM, "qgemm pack: out of memory for %d x %d weights", N, K);
    }
    for (int n = 0; n < N; n++) {
        int64_t s = 0, a = 0;
        for (int k = 0; k < K; k++) {
            long src = (long)n * ldw + k, dst = shr_qg_index(p, n, k);
            int v;
            if (esz == 1) v = ((int8_t *)p->w)[dst] = ((const int8_t *)W)[src];
            else v = ((int16_t *)p->w)[dst] = ((const int16_t *)W)[src];
            s += v;
            a += v < 0 ? -v : v;
            if ((v < 0 ? -v : v) > p->max_abs_w) p->max_abs_w = v < 0 ? -v : v;
        }
        p->colsum[n] = (int32_t)s; /* |s| <= 32768 * 2^28 is checked by fold_bias via abssum */
        p->abssum[n] = a;
        p->ubias[n] = bias ? bias[n] : 0;
    }
    *out = p;
    return SHR_OK;
}

/* Largest S with 2 * S * umax * max|w| <= 32767 (0 if even one vpmaddubsw could saturate). */
static int i16_steps(int umax, int max_abs_w) {
    int per = 2 * umax * (max_abs_w > 0 ? max_abs_w : 1);
    return 32767 / per;
}

shr_status shr_qgemm_pack_s8(shr_qgemm_packed **out, shr_qpath path, int N, int K, const int8_t *W, long ldw,
                             const shr_qact *act, const int32_t *bias) {
    if (out) *out = NULL;
    if (!out) return shr_fail(SHR_ERR_INVALID_ARG, "qgemm pack: no output");
    if (path == SHR_QPATH_S16) return shr_fail(SHR_ERR_INVALID_ARG, "qgemm pack: the s16 path takes s16 weights");
    if (path < SHR_QPATH_AUTO || path > SHR_QPATH_S16) return shr_fail(SHR_ERR_INVALID_ARG, "qgemm pack: bad path");
    SHR_TRY(check_act(act, 0));
    shr_qgemm_packed *p;
    SHR_TRY(pack_common(&p, N, K, ldw, W, 1, act, bias));
    int ubits_max = act->bits == 8 ? 255 : 127; /* vpmaddubsw operand u = x + off */
    int S = i16_steps(ubits_max, p->max_abs_w);
    if (path == SHR_QPATH_AUTO) path = S >= 2 ? SHR_QPATH_I16ACC : S >= 1 ? SHR_QPATH_REDUCED : SHR_QPATH_EXACT;
    shr_status st = SHR_OK;
    if (path == SHR_QPATH_I16ACC && S < 2)
        st = shr_fail(SHR_ERR_INVALID_ARG,
                      "qgemm pack: i16acc needs 4 * %d * max|w| <= 32767, but max|w| = %d (at most %d for %d-bit "
                      "activations)",
                      ubits_max, p->max_abs_w, 32767 / (4 * ubits_max), act->bits);
    if (path == SHR_QPATH_REDUCED && S < 1)
        st = shr_fail(SHR_ERR_INVALID_ARG,
                      "qgemm pack: reduced range needs 2 * %d * max|w| <= 32767, but max|w| = %d (use 7-bit "
                      "activations or |w| <= %d)",
                      ubits_max, p->max_abs_w, 32767 / (2 * ubits_max));
    p->path = path;
    if (path == SHR_QPATH_EXACT) { /* signed int16 operands: x itself */
        p->off = 0;
        p->umax = act->type == SHR_U8 ? ubits_max : act->bits == 8 ? 128 : 64;
    } else {
        p->off = act->type == SHR_U8 ? 0 : act->bits == 8 ? 128 : 64;
        p->umax = ubits_max;
        p->steps = path == SHR_QPATH_I16ACC ? S : 0;
    }
    if (st == SHR_OK) st = fold_bias(p, act->zero_point);
    if (st != SHR_OK) {
        shr_qgemm_packed_free(p);
        return st;
    }
    *out = p;
    return SHR_OK;
}

shr_status shr_qgemm_pack_s16(shr_qgemm_packed **out, int N, int K, const int16_t *W, long ldw, const shr_qact *act,
                              const int32_t *bias) {
    if (out) *out = NULL;
    if (!out) return shr_fail(SHR_ERR_INVALID_ARG, "qgemm pack: no output");
    SHR_TRY(check_act(act, 1));
    shr_qgemm_packed *p;
    SHR_TRY(pack_common(&p, N, K, ldw, W, 2, act, bias));
    p->path = SHR_QPATH_S16;
    p->umax = act->max_abs;
    shr_status st = p->max_abs_w > 32767
                        ? shr_fail(SHR_ERR_INVALID_ARG, "qgemm pack s16: weight -32768 not allowed (|w| <= 32767)")
                        : fold_bias(p, 0);
    if (st != SHR_OK) {
        shr_qgemm_packed_free(p);
        return st;
    }
    *out = p;
    return SHR_OK;
}

void shr_qgemm_get_info(const shr_qgemm_packed *p, shr_qgemm_info *info) {
    memset(info, 0, sizeof *info);
    if (!p) return;
    info->path = p->path;
    info->N = p->N;
    info->K = p->K;
    info->max_abs_w = p->max_abs_w;
    info->i16_steps = p->steps;
    size_t esz = p->path == SHR_QPATH_S16 ? 2 : 1;
    info->bytes = sizeof *p + (size_t)p->npanels * SHR_QG_NR * ((size_t)p->Kp * esz + 4) +
                  (size_t)p->N * (4 + 4 + 8);
}

shr_status shr_qgemm_set_zero_point(shr_qgemm_packed *p, int zero_point) {
    if (!p) return shr_fail(SHR_ERR_INVALID_ARG, "qgemm: no packed weights");
    shr_qact a = p->act;
    a.zero_point = zero_point;
    SHR_TRY(check_act(&a, p->path == SHR_QPATH_S16));
    int32_t old = p->act.zero_point;
    shr_status st = fold_bias(p, zero_point);
    if (st != SHR_OK) (void)fold_bias(p, old); /* leave p as it was */
    return st;
}

void shr_qg_epi_fill(const shr_qgemm_packed *p, const shr_qout *o, int panel, shr_qg_epi *e) {
    memset(e, 0, sizeof *e);
    for (int j = 0; j < SHR_QG_NR; j++) {
        int n = panel * SHR_QG_NR + j;
        if (n >= p->N) break;
        int c = o->per_channel ? n : 0;
        e->comp[j] = p->comp[n];
        if (o->kind == SHR_QOUT_U8 || o->kind == SHR_QOUT_S8) {
            e->mult[j] = o->multiplier[c];
            e->lshift[j] = o->shift[c] > 0 ? o->shift[c] : 0;
            e->rshift[j] = o->shift[c] < 0 ? -o->shift[c] : 0;
        } else if (o->kind == SHR_QOUT_F32) {
            e->scale[j] = o->x_scale * o->w_scale[c];
            e->bias[j] = o->bias ? o->bias[n] : 0.0f;
        } else if (o->kind == SHR_QOUT_U8F || o->kind == SHR_QOUT_S8F) {
            e->scale[j] = o->rq_scale[c];
        }
    }
}

static shr_status check_run(const shr_qgemm_packed *p, int M, const void *X, long ldx, const shr_qout *o) {
    if (!p || !o) return shr_fail(SHR_ERR_INVALID_ARG, "qgemm: no weights or output");
    if (M < 0 || (M > 0 && (!X || ldx < p->K)))
        return shr_fail(SHR_ERR_INVALID_ARG, "qgemm: bad activations M=%d ldx=%ld (K=%d)", M, ldx, p->K);
    if (M > 0 && (!o->y || o->ldy < p->N))
        return shr_fail(SHR_ERR_INVALID_ARG, "qgemm: bad output ldy=%ld (N=%d)", o->ldy, p->N);
    int nc = o->per_channel ? p->N : 1;
    switch (o->kind) {
    case SHR_QOUT_S32: return SHR_OK;
    case SHR_QOUT_U8:
    case SHR_QOUT_S8:
    case SHR_QOUT_U8F:
    case SHR_QOUT_S8F: {
        int lo = shr_qout_is_u8(o->kind) ? 0 : -128, hi = lo + 255;
        if (o->qmin < lo || o->qmax > hi || o->qmin > o->qmax || o->zero_point < lo || o->zero_point > hi)
            return shr_fail(SHR_ERR_INVALID_ARG, "qgemm: output zero point %d / clamp [%d, %d] outside [%d, %d]",
                            o->zero_point, o->qmin, o->qmax, lo, hi);
        if (o->kind == SHR_QOUT_U8F || o->kind == SHR_QOUT_S8F) {
            if (!o->rq_scale) return shr_fail(SHR_ERR_INVALID_ARG, "qgemm: no requantization scale");
            for (int c = 0; c < nc; c++)
                if (!isfinite(o->rq_scale[c]))
                    return shr_fail(SHR_ERR_INVALID_ARG, "qgemm: channel %d requantization scale is not finite", c);
            return SHR_OK;
        }
        if (!o->multiplier || !o->shift) return shr_fail(SHR_ERR_INVALID_ARG, "qgemm: no multiplier or shift");
        for (int c = 0; c < nc; c++)
            if (o->multiplier[c] < 0 || o->shift[c] < -31 || o->shift[c] > 30)
                return shr_fail(SHR_ERR_INVALID_ARG, "qgemm: channel %d multiplier %d / shift %d out of range", c,
                                (int)o->multiplier[c], (int)o->shift[c]);
        return SHR_OK;
    }
    case SHR_QOUT_F32:
        if (!o->w_scale || !isfinite(o->x_scale)) return shr_fail(SHR_ERR_INVALID_ARG, "qgemm: bad f32 scales");
        return SHR_OK;
    }
    return shr_fail(SHR_ERR_INVALID_ARG, "qgemm: unknown output kind %d", (int)o->kind);
}

static shr_status report_bad(const shr_qg_bad *b) {
    return shr_fail(SHR_ERR_INVALID_ARG, "qgemm: activation %d at row %d, column %d breaks the declared contract",
                    b->value, b->row, b->col);
}

static void *scratch_alloc(size_t bytes) {
    bytes = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

/* One band over everything, single-threaded. */
static shr_status run_single(shr_qg_band_fn fn, const shr_qgemm_packed *p, int M, const void *X, long ldx,
                             const shr_qout *o) {
    SHR_TRY(check_run(p, M, X, ldx, o));
    if (M == 0) return SHR_OK;
    void *scratch = fn == shr_qg_band_avx2 ? scratch_alloc(shr_qg_scratch_bytes(p)) : NULL;
    if (fn == shr_qg_band_avx2 && !scratch) return shr_fail(SHR_ERR_NOMEM, "qgemm: out of memory");
    shr_qg_bad bad = {-1, 0, 0};
    fn(p, 0, M, 0, p->npanels, X, ldx, o, scratch, &bad);
    free(scratch);
    return bad.row >= 0 ? report_bad(&bad) : SHR_OK;
}

shr_status shr_qgemm_ref(const shr_qgemm_packed *p, int M, const void *X, long ldx, const shr_qout *o) {
    return run_single(shr_qg_band_ref, p, M, X, ldx, o);
}

shr_status shr_qgemm_avx2(const shr_qgemm_packed *p, int M, const void *X, long ldx, const shr_qout *o) {
    return run_single(shr_qg_band_avx2, p, M, X, ldx, o);
}

int shr_qgemm_taps_ok(const shr_qgemm_packed *p, int ntaps, int run) {
    return p && shr_qg_vnni_ok_for(p) && p->off == 0 && run > 0 && run % 4 == 0 && ntaps > 0 &&
           (long)ntaps * run == p->K;
}

shr_status shr_qgemm_taps(const shr_qgemm_packed *p, int M, const shr_qtaps *x, const shr_qout *o) {
    if (!x || !shr_qgemm_taps_ok(p, x->ntaps, x->run))
        return shr_fail(SHR_ERR_INVALID_ARG, "qgemm taps: not available for these weights, taps or this CPU");
    if (!o || (o->kind != SHR_QOUT_U8 && o->kind != SHR_QOUT_S8 && o->kind != SHR_QOUT_U8F && o->kind != SHR_QOUT_S8F))
        return shr_fail(SHR_ERR_INVALID_ARG, "qgemm taps: the output must be u8 or s8 codes");
    SHR_TRY(check_run(p, M, x->rows, p->K, o));
    if (M == 0) return SHR_OK;
    if (!x->tapoff || !x->lo || x->hi < x->lo) return shr_fail(SHR_ERR_INVALID_ARG, "qgemm taps: no taps or range");
    long bad = shr_qg_vnni_taps(p, M, x, o);
    if (bad >= 0)
        return shr_fail(SHR_ERR_INVALID_ARG,
                        "qgemm taps: activation %d at input byte %ld breaks the declared 7-bit contract", x->lo[bad],
                        bad);
    return SHR_OK;
}

static void band(int units, int step, int parts, int i, int len, int *lo, int *hi) {
    *lo = (int)((long)units * i / parts) * step;
    *hi = (int)((long)units * (i + 1) / parts) * step;
    if (*lo > len) *lo = len;
    if (*hi > len) *hi = len;
}

shr_status shr_qgemm(const shr_qgemm_packed *p, int M, const void *X, long ldx, const shr_qout *o) {
    shr_qg_band_fn fn = shr_cpu_has_avx2_fma() ? shr_qg_band_avx2 : shr_qg_band_ref;
#ifdef _OPENMP
    int nthr = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (nthr > MAX_PARTS) nthr = MAX_PARTS;
    if (nthr > 1 && p && (double)M * p->N * p->K >= PAR_MIN_WORK) {
        SHR_TRY(check_run(p, M, X, ldx, o));
        /* Rows in whole micro-tiles, or panels when there are too few row tiles to go round
         * (each thread then packs all of X, which is cheap next to its share of W). */
        int row_units = (M + SHR_QG_MR - 1) / SHR_QG_MR;
        int by_rows = row_units >= 2 * nthr || row_units >= p->npanels * 2;
        int units = by_rows ? row_units : p->npanels;
        int parts = units < nthr ? units : nthr;
        if (parts > 1) {
            size_t sb = (shr_qg_scratch_bytes(p) + 63) / 64 * 64;
            void *scratch = fn == shr_qg_band_avx2 ? scratch_alloc(sb * parts) : NULL;
            if (fn == shr_qg_band_avx2 && !scratch) return shr_fail(SHR_ERR_NOMEM, "qgemm: out of memory");
            shr_qg_bad bad[MAX_PARTS];
#pragma omp parallel for schedule(static) num_threads(parts)
            for (int i = 0; i < parts; i++) {
                int lo, hi;
                bad[i].row = -1;
                void *s = scratch ? (char *)scratch + sb * i : NULL;
                if (by_rows) {
                    band(units, SHR_QG_MR, parts, i, M, &lo, &hi);
                    if (hi > lo) fn(p, lo, hi, 0, p->npanels, X, ldx, o, s, &bad[i]);
                } else {
                    band(units, 1, parts, i, p->npanels, &lo, &hi);
                    if (hi > lo) fn(p, 0, M, lo, hi, X, ldx, o, s, &bad[i]);
                }
            }
            free(scratch);
            for (int i = 0; i < parts; i++) /* the first band that failed: the same message for any split */
                if (bad[i].row >= 0) return report_bad(&bad[i]);
            return SHR_OK;
        }
    }
#endif
    return run_single(fn, p, M, X, ldx, o);
}
