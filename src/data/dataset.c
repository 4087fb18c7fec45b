/* Datasets: load dispatch (Fashion-MNIST folder, IDX folder, CSV file),
 * datasets from memory, seeded train/validation splits, and the default
 * preprocessing (scale to [0,1], then per-channel mean/std normalization). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/checked.h"
#include "core/error.h"
#include "data/data_internal.h"

/* Checks n, c, h, w against the dataset limits. */
static shr_status check_shape(const char *what, int64_t n, int c, int h, int w) {
    if (n < 1 || c < 1 || h < 1 || w < 1)
        return shr_fail(SHR_ERR_INVALID_ARG, "%s: dataset shape %lld x %d x %d x %d has an empty dimension", what,
                        (long long)n, c, h, w);
    if (n > SHR_DATA_MAX_SAMPLES)
        return shr_fail(SHR_ERR_LIMIT, "%s: %lld samples exceed the limit of %lld", what, (long long)n,
                        (long long)SHR_DATA_MAX_SAMPLES);
    int64_t per, total;
    if (shr_mul_overflow_i64(c, h, &per) || shr_mul_overflow_i64(per, w, &per) ||
        shr_mul_overflow_i64(per, n, &total) || total > SHR_DATA_MAX_VALUES)
        return shr_fail(SHR_ERR_LIMIT, "%s: dataset %lld x %d x %d x %d exceeds the limit of %lld values", what,
                        (long long)n, c, h, w, (long long)SHR_DATA_MAX_VALUES);
    return SHR_OK;
}

shr_status shr_dataset_wrap(const char *what, int64_t n, int c, int h, int w, float *x, int32_t *y,
                            float raw_max, shr_dataset **out) {
    shr_status st = check_shape(what, n, c, h, w);
    int32_t max_label = -1;
    for (int64_t i = 0; st == SHR_OK && i < n; i++) {
        if (y[i] < 0 || y[i] >= SHR_DATA_MAX_CLASSES)
            st = shr_fail(SHR_ERR_FORMAT, "%s: label %ld of sample %lld is outside 0..%d", what, (long)y[i],
                          (long long)i, SHR_DATA_MAX_CLASSES - 1);
        else if (y[i] > max_label)
            max_label = y[i];
    }
    shr_dataset *d = NULL;
    if (st == SHR_OK) {
        d = calloc(1, sizeof *d);
        if (!d) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    if (st != SHR_OK) {
        free(x);
        free(y);
        return st;
    }
    d->n = n;
    d->c = c;
    d->h = h;
    d->w = w;
    d->sample_size = (int64_t)c * h * w;
    d->x = x;
    d->y = y;
    d->n_classes = max_label + 1;
    d->raw_max = raw_max;
    *out = d;
    return SHR_OK;
}

static int ends_with_csv(const char *s) {
    size_t n = strlen(s);
    return n >= 4 && strcasecmp(s + n - 4, ".csv") == 0;
}

int shr_dataset_is_csv(const char *spec) { return spec && ends_with_csv(spec); }

shr_status shr_dataset_load(const char *spec, shr_split split, int64_t limit, shr_dataset **out) {
    if (!out) return shr_fail(SHR_ERR_INVALID_ARG, "shr_dataset_load: out is NULL");
    *out = NULL;
    if (!spec || !*spec) return shr_fail(SHR_ERR_INVALID_ARG, "no dataset given");
    if (split != SHR_SPLIT_TRAIN && split != SHR_SPLIT_TEST)
        return shr_fail(SHR_ERR_INVALID_ARG, "unknown dataset split %d", (int)split);
    if (limit < 0) return shr_fail(SHR_ERR_INVALID_ARG, "negative sample limit %lld", (long long)limit);
    int named = strcmp(spec, "fashion-mnist") == 0;
    const char *path = named ? SHR_FASHION_MNIST_DIR : spec;
    struct stat sb;
    errno = 0;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            return shr_fail(SHR_ERR_IO, "cannot access dataset %s: %s", path, strerror(errno));
        if (named)
            return shr_fail(SHR_ERR_IO,
                            "dataset folder %s not found (for Fashion-MNIST install the Debian package "
                            "dataset-fashion-mnist)",
                            path);
        if (ends_with_csv(path)) return shr_fail(SHR_ERR_IO, "dataset file %s not found", path);
        return shr_fail(SHR_ERR_IO,
                        "dataset folder %s not found (give a folder of IDX files, a .csv file or fashion-mnist; "
                        "for Fashion-MNIST install the Debian package dataset-fashion-mnist)",
                        path);
    }
    if (S_ISDIR(sb.st_mode)) return shr_idx_load_dir(path, split, limit, out);
    if (ends_with_csv(path)) return shr_csv_load(path, limit, out);
    return shr_fail(SHR_ERR_INVALID_ARG, "dataset %s is neither a folder of IDX files nor a .csv file", path);
}

shr_status shr_dataset_from_arrays(int64_t n, int c, int h, int w, const float *x, const int32_t *y,
                                   shr_dataset **out) {
    if (!out) return shr_fail(SHR_ERR_INVALID_ARG, "shr_dataset_from_arrays: out is NULL");
    *out = NULL;
    SHR_TRY(check_shape("shr_dataset_from_arrays", n, c, h, w));
    if (!x || !y) return shr_fail(SHR_ERR_INVALID_ARG, "shr_dataset_from_arrays: x or y is NULL");
    int64_t total = n * c * h * w; /* checked by check_shape */
    float raw_max = 0.0f;
    for (int64_t i = 0; i < total; i++) {
        if (!isfinite(x[i]))
            return shr_fail(SHR_ERR_INVALID_ARG, "shr_dataset_from_arrays: value %lld is not finite",
                            (long long)i);
        if (fabsf(x[i]) > raw_max) raw_max = fabsf(x[i]);
    }
    for (int64_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= SHR_DATA_MAX_CLASSES)
            return shr_fail(SHR_ERR_INVALID_ARG, "shr_dataset_from_arrays: label %ld of sample %lld is outside 0..%d",
                            (long)y[i], (long long)i, SHR_DATA_MAX_CLASSES - 1);
    float *xc = malloc((size_t)total * sizeof *xc);
    int32_t *yc = malloc((size_t)n * sizeof *yc);
    if (!xc || !yc) {
        free(xc);
        free(yc);
        return shr_fail(SHR_ERR_NOMEM, "out of memory copying a dataset of %lld values", (long long)total);
    }
    memcpy(xc, x, (size_t)total * sizeof *xc);
    memcpy(yc, y, (size_t)n * sizeof *yc);
    return shr_dataset_wrap("shr_dataset_from_arrays", n, c, h, w, xc, yc, raw_max, out);
}

void shr_dataset_free(shr_dataset *d) {
    if (!d) return;
    free(d->x);
    free(d->y);
    free(d);
}

/* Copies the samples whose mask byte equals `pick`, in their original order.
 * The part keeps the parent's n_classes and raw_max, so a validation part that
 * happens to miss the top class still matches the model's output width. */
static shr_status subset(const shr_dataset *d, const unsigned char *mask, unsigned char pick, int64_t count,
                         shr_dataset **out) {
    int64_t ss = d->sample_size;
    float *x = malloc((size_t)(count * ss) * sizeof *x);
    int32_t *y = malloc((size_t)count * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return shr_fail(SHR_ERR_NOMEM, "out of memory splitting a dataset");
    }
    int64_t k = 0;
    for (int64_t i = 0; i < d->n; i++) {
        if (mask[i] != pick) continue;
        memcpy(x + k * ss, d->x + i * ss, (size_t)ss * sizeof *x);
        y[k++] = d->y[i];
    }
    SHR_TRY(shr_dataset_wrap("dataset split", count, d->c, d->h, d->w, x, y, d->raw_max, out));
    (*out)->n_classes = d->n_classes;
    return SHR_OK;
}

shr_status shr_dataset_split(const shr_dataset *d, double val_fraction, uint64_t seed, shr_dataset **train,
                             shr_dataset **val) {
    if (!train || !val) return shr_fail(SHR_ERR_INVALID_ARG, "shr_dataset_split: output is NULL");
    *train = NULL;
    *val = NULL;
    if (!d) return shr_fail(SHR_ERR_INVALID_ARG, "shr_dataset_split: dataset is NULL");
    if (!(val_fraction > 0.0 && val_fraction < 1.0))
        return shr_fail(SHR_ERR_INVALID_ARG, "validation fraction %g is not between 0 and 1 (exclusive)",
                        val_fraction);
    if (d->n < 2)
        return shr_fail(SHR_ERR_INVALID_ARG, "cannot split a dataset of %lld sample(s) in two", (long long)d->n);
    int64_t n_val = (int64_t)llround((double)d->n * val_fraction);
    if (n_val < 1) n_val = 1;
    if (n_val > d->n - 1) n_val = d->n - 1;

    int64_t *perm = malloc((size_t)d->n * sizeof *perm);
    unsigned char *mask = calloc((size_t)d->n, 1);
    if (!perm || !mask) {
        free(perm);
        free(mask);
        return shr_fail(SHR_ERR_NOMEM, "out of memory splitting a dataset");
    }
    for (int64_t i = 0; i < d->n; i++) perm[i] = i;
    shr_rng rng;
    shr_rng_seed(&rng, seed);
    shr_rng_shuffle(&rng, perm, d->n);
    for (int64_t i = 0; i < n_val; i++) mask[perm[i]] = 1;
    free(perm);
    shr_status st = subset(d, mask, 0, d->n - n_val, train);
    if (st == SHR_OK) st = subset(d, mask, 1, n_val, val);
    free(mask);
    if (st != SHR_OK) {
        shr_dataset_free(*train);
        *train = NULL;
    }
    return st;
}

shr_status shr_dataset_default_preproc(const shr_dataset *d, shr_preproc *out) {
    if (!d || !out) return shr_fail(SHR_ERR_INVALID_ARG, "shr_dataset_default_preproc: NULL argument");
    if (d->c > SHR_MAX_CHANNELS)
        return shr_fail(SHR_ERR_UNSUPPORTED, "dataset has %d channels; preprocessing supports at most %d", d->c,
                        SHR_MAX_CHANNELS);
    shr_preproc pp;
    memset(&pp, 0, sizeof pp);
    pp.scale = d->raw_max > 0.0f ? 1.0f / d->raw_max : 1.0f;
    pp.channels = d->c;
    for (int c = 0; c < SHR_MAX_CHANNELS; c++) pp.std[c] = 1.0f;
    int64_t plane = (int64_t)d->h * d->w;
    int64_t count = d->n * plane;
    /* Two passes in double, in sample order: exact enough and the same on every run. */
    for (int c = 0; c < d->c; c++) {
        double sum = 0.0, sq = 0.0;
        for (int64_t i = 0; i < d->n; i++) {
            const float *p = d->x + i * d->sample_size + c * plane;
            for (int64_t j = 0; j < plane; j++) sum += (double)(p[j] * pp.scale);
        }
        double mean = sum / (double)count;
        for (int64_t i = 0; i < d->n; i++) {
            const float *p = d->x + i * d->sample_size + c * plane;
            for (int64_t j = 0; j < plane; j++) {
                double t = (double)(p[j] * pp.scale) - mean;
                sq += t * t;
            }
        }
        double sd = sqrt(sq / (double)count);
        pp.mean[c] = (float)mean;
        /* A constant channel carries no information; std 1 keeps it finite. */
        pp.std[c] = sd > 1e-6 ? (float)sd : 1.0f;
    }
    *out = pp;
    return SHR_OK;
}
