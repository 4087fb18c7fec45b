/* Observers and calibration methods: from the values a tensor took on calibration samples to
 * the real range its codes cover.
 *
 * Pass 1 records min / max and their moving average over batches; pass 2 histograms over that
 * range: the values themselves (two-sided, for percentile and MSE) and the magnitudes of the
 * positive and of the negative values (for the entropy method, which like TensorRT searches a
 * threshold on magnitudes). 2048 bins: a bin is ~1/8 of an 8-bit step, fine enough for the
 * searches below. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "shrink/quant.h"

#define BINS 2048
#define EMA_FACTOR 0.01

struct shr_observer {
    double min, max;         /* over everything seen in pass 1 */
    double ema_min, ema_max; /* per-batch min / max, moving average */
    int64_t batches, count;
    double hlo, hhi;         /* two-sided histogram range (0 included) */
    double habs;             /* magnitude histogram range [0, habs] */
    double hist[BINS], pos[BINS], neg[BINS]; /* pos: x >= 0, neg: -x for x < 0, both over [0, habs] */
    double total;            /* values in the histograms */
};

static const char *const calib_names[] = {"minmax", "ema", "percentile", "entropy", "mse"};

shr_status shr_calib_parse(const char *name, shr_calib_method *out) {
    for (int i = 0; i < 5; i++)
        if (strcmp(name, calib_names[i]) == 0) {
            *out = (shr_calib_method)i;
            return SHR_OK;
        }
    return shr_fail(SHR_ERR_INVALID_ARG, "unknown calibration method '%s' (minmax, ema, percentile, entropy, mse)", name);
}

const char *shr_calib_name(shr_calib_method m) { return (unsigned)m < 5 ? calib_names[m] : "?"; }

shr_status shr_observer_create(shr_observer **out) {
    shr_observer *o = calloc(1, sizeof *o);
    if (!o) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    o->min = INFINITY;
    o->max = -INFINITY;
    *out = o;
    return SHR_OK;
}

void shr_observer_free(shr_observer *o) { free(o); }

void shr_observer_range(shr_observer *o, const float *x, size_t n) {
    double mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) continue;
        if (x[i] < mn) mn = x[i];
        if (x[i] > mx) mx = x[i];
    }
    if (mn > mx) return;
    if (mn < o->min) o->min = mn;
    if (mx > o->max) o->max = mx;
    if (o->batches++ == 0) {
        o->ema_min = mn;
        o->ema_max = mx;
    } else {
        o->ema_min += EMA_FACTOR * (mn - o->ema_min);
        o->ema_max += EMA_FACTOR * (mx - o->ema_max);
    }
    o->count += (int64_t)n;
}

void shr_observer_hist(shr_observer *o, const float *x, size_t n) {
    if (o->batches == 0) return;
    if (o->total == 0.0) { /* the first histogram batch fixes the ranges */
        o->hlo = o->min < 0.0 ? o->min : 0.0;
        o->hhi = o->max > 0.0 ? o->max : 0.0;
        if (o->hhi - o->hlo <= 0.0) o->hhi = o->hlo + 1e-30;
        o->habs = -o->hlo > o->hhi ? -o->hlo : o->hhi;
    }
    double w = (o->hhi - o->hlo) / BINS, wa = o->habs / BINS;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        if (!isfinite(v)) continue;
        long b = (long)((v - o->hlo) / w), a = (long)(fabs(v) / wa);
        o->hist[b < 0 ? 0 : b >= BINS ? BINS - 1 : b] += 1.0;
        (v < 0.0 ? o->neg : o->pos)[a < 0 ? 0 : a >= BINS ? BINS - 1 : a] += 1.0;
        o->total += 1.0;
    }
}

/* The value below which a fraction q of the histogram lies (linear inside a bin). */
static double quantile(const double *h, double lo, double w, double total, double q) {
    double want = q * total, acc = 0.0;
    for (int b = 0; b < BINS; b++) {
        if (acc + h[b] >= want && h[b] > 0.0) return lo + w * (b + (want - acc) / h[b]);
        acc += h[b];
    }
    return lo + w * BINS;
}

/* TensorRT's entropy calibration on a magnitude histogram h of `used` bins: the threshold bin i
 * whose clipped distribution P (outliers folded into the last bin) loses least information
 * (KL divergence) when merged into nq levels Q. As NVIDIA's pytorch-quantization does, the
 * first bin counts like its neighbour: the exact zeros a ReLU makes would otherwise dominate
 * the divergence and favour tiny thresholds. Returns the threshold in bins. */
static int entropy_bins(const double *hist, int used, int nq) {
    if (used <= nq) return used;
    double *h = malloc(3 * (size_t)used * sizeof *h);
    if (!h) return used;
    double *p = h + used, *q = p + used, best_kl = INFINITY;
    memcpy(h, hist, (size_t)used * sizeof *h);
    h[0] = h[1];
    int best = used;
    double tail = 0.0;
    for (int b = nq; b < used; b++) tail += h[b];
    for (int i = nq; i <= used; i++) {
        double ptot = 0.0;
        for (int b = 0; b < i; b++) ptot += p[b] = h[b];
        p[i - 1] += tail;
        ptot += tail;
        if (i < used) tail -= h[i];
        if (ptot <= 0.0) continue;
        /* Q: i bins merged into nq chunks, each chunk's mass spread over its non-empty bins */
        for (int c = 0; c < nq; c++) {
            int b0 = (int)((long)c * i / nq), b1 = (int)((long)(c + 1) * i / nq);
            double m = 0.0;
            int nz = 0;
            for (int b = b0; b < b1; b++) {
                m += h[b];
                nz += p[b] > 0.0;
            }
            for (int b = b0; b < b1; b++) q[b] = p[b] > 0.0 && nz ? m / nz : 0.0;
        }
        double qtot = 0.0;
        for (int b = 0; b < i; b++) qtot += q[b];
        double kl = 0.0;
        for (int b = 0; b < i && qtot > 0.0; b++) {
            if (p[b] <= 0.0) continue;
            double pb = p[b] / ptot, qb = q[b] / qtot;
            kl += qb > 0.0 ? pb * log(pb / qb) : pb * 30.0; /* mass Q cannot represent: a large penalty */
        }
        if (kl < best_kl) {
            best_kl = kl;
            best = i;
        }
    }
    free(h);
    return best;
}

/* The entropy range: on |x| when symmetric; else each side of zero on its own, with the levels
 * split in proportion to the side's share of the range. */
static void entropy_range(const shr_observer *o, int levels, int symmetric, double *lo, double *hi) {
    double w = o->habs / BINS;
    int used_p = (int)ceil((o->max > 0.0 ? o->max : 0.0) / w), used_n = (int)ceil((o->min < 0.0 ? -o->min : 0.0) / w);
    used_p = used_p > BINS ? BINS : used_p;
    used_n = used_n > BINS ? BINS : used_n;
    if (symmetric) {
        double m[BINS];
        for (int b = 0; b < BINS; b++) m[b] = o->pos[b] + o->neg[b];
        int nq = (levels + 1) / 2, used = used_p > used_n ? used_p : used_n;
        double t = w * entropy_bins(m, used, nq < 2 ? 2 : nq);
        *lo = -t;
        *hi = t;
        return;
    }
    double span = (o->max > 0.0 ? o->max : 0.0) - (o->min < 0.0 ? o->min : 0.0);
    int nq_p = span > 0.0 ? (int)lround((levels + 1) * (o->max > 0.0 ? o->max : 0.0) / span) : 0;
    int nq_n = levels + 1 - nq_p;
    *hi = used_p > 0 ? w * entropy_bins(o->pos, used_p, nq_p < 2 ? 2 : nq_p) : 0.0;
    *lo = used_n > 0 ? -w * entropy_bins(o->neg, used_n, nq_n < 2 ? 2 : nq_n) : 0.0;
}

/* Expected squared error of quantizing the two-sided histogram uniformly over [a, b] with
 * `levels` steps: Δ²/12 inside, the distance to the clip point outside. */
static double range_mse(const shr_observer *o, double a, double b, int levels) {
    double w = (o->hhi - o->hlo) / BINS, d = (b - a) / levels, inside = d * d / 12.0, e = 0.0;
    for (int k = 0; k < BINS; k++) {
        if (o->hist[k] == 0.0) continue;
        double c = o->hlo + w * (k + 0.5);
        double err = c < a ? (a - c) * (a - c) : c > b ? (c - b) * (c - b) : inside;
        e += o->hist[k] * err;
    }
    return e;
}

#define MSE_STEPS 80

static void mse_range(const shr_observer *o, int levels, int symmetric, double *lo, double *hi) {
    double best = INFINITY, L = o->hlo, H = o->hhi, M = o->habs;
    *lo = L;
    *hi = H;
    for (int i = 0; i < MSE_STEPS; i++) {
        double fa = 1.0 - (double)i / MSE_STEPS;
        if (symmetric) {
            double e = range_mse(o, -M * fa, M * fa, levels);
            if (e < best) best = e, *lo = -M * fa, *hi = M * fa;
            continue;
        }
        for (int j = 0; j < MSE_STEPS; j++) {
            double fb = 1.0 - (double)j / MSE_STEPS;
            if (L == 0.0 && i > 0) return; /* one-sided: only the top moves */
            double e = range_mse(o, L * fa, H * fb, levels);
            if (e < best) best = e, *lo = L * fa, *hi = H * fb;
        }
    }
}

void shr_observer_choose(const shr_observer *o, shr_calib_method m, double percentile, int levels, int symmetric,
                         float *lo, float *hi) {
    double l = o->batches ? (o->min < 0.0 ? o->min : 0.0) : 0.0, h = o->batches ? (o->max > 0.0 ? o->max : 0.0) : 0.0;
    if (m == SHR_CALIB_EMA && o->batches) {
        l = o->ema_min < 0.0 ? o->ema_min : 0.0;
        h = o->ema_max > 0.0 ? o->ema_max : 0.0;
    }
    int have_hist = o->total > 0.0;
    if (m == SHR_CALIB_PERCENTILE && have_hist) {
        double q = percentile / 100.0, w = (o->hhi - o->hlo) / BINS;
        if (symmetric) {
            double mag[BINS];
            for (int b = 0; b < BINS; b++) mag[b] = o->pos[b] + o->neg[b];
            h = quantile(mag, 0.0, o->habs / BINS, o->total, q);
            l = -h;
        } else {
            h = o->max > 0.0 ? quantile(o->hist, o->hlo, w, o->total, q) : 0.0;
            l = o->min < 0.0 ? quantile(o->hist, o->hlo, w, o->total, 1.0 - q) : 0.0;
            l = l < 0.0 ? l : 0.0;
            h = h > 0.0 ? h : 0.0;
        }
    } else if (m == SHR_CALIB_ENTROPY && have_hist) {
        entropy_range(o, levels, symmetric, &l, &h);
    } else if (m == SHR_CALIB_MSE && have_hist) {
        mse_range(o, levels, symmetric, &l, &h);
    }
    if (symmetric && m != SHR_CALIB_PERCENTILE && m != SHR_CALIB_ENTROPY && m != SHR_CALIB_MSE) {
        double a = -l > h ? -l : h;
        l = -a;
        h = a;
    }
    *lo = (float)l;
    *hi = (float)h;
}

shr_status shr_calib_array(const float *x, size_t n, shr_calib_method m, double percentile, int levels,
                           int symmetric, float *lo, float *hi) {
    shr_observer *o = NULL;
    SHR_TRY(shr_observer_create(&o));
    shr_observer_range(o, x, n);
    shr_observer_hist(o, x, n);
    shr_observer_choose(o, m, percentile, levels, symmetric, lo, hi);
    shr_observer_free(o);
    return SHR_OK;
}
