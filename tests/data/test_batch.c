/* Datasets from memory, splits, default preprocessing and batch assembly
 * (normalization, crop/flip geometry, determinism). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shrink/data.h"
#include "test.h"

static void test_from_arrays(void) {
    float x[6] = {1, -2, 3, 4, 5, 6};
    int32_t y[3] = {0, 4, 1};
    shr_dataset *d = NULL;
    CHECK_OK(shr_dataset_from_arrays(3, 1, 1, 2, x, y, &d));
    if (d) {
        CHECK(d->n == 3 && d->sample_size == 2 && d->n_classes == 5 && d->raw_max == 6.0f);
        CHECK(d->x != x && d->x[1] == -2.0f && d->y[1] == 4);
    }
    shr_dataset_free(d);
    shr_dataset_free(NULL);
    d = (shr_dataset *)1;
    CHECK_STATUS(shr_dataset_from_arrays(0, 1, 1, 2, x, y, &d), SHR_ERR_INVALID_ARG);
    CHECK(d == NULL);
    CHECK_STATUS(shr_dataset_from_arrays(3, 1, 0, 2, x, y, &d), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_dataset_from_arrays(3, 1, 1, 2, NULL, y, &d), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_dataset_from_arrays(3, 1, 1, 2, x, NULL, &d), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_dataset_from_arrays(3, 65535, 65535, 65535, x, y, &d), SHR_ERR_LIMIT);
    CHECK_STATUS(shr_dataset_from_arrays(INT64_MAX, 1, 1, 2, x, y, &d), SHR_ERR_LIMIT);
    x[2] = NAN;
    CHECK_STATUS(shr_dataset_from_arrays(3, 1, 1, 2, x, y, &d), SHR_ERR_INVALID_ARG);
    x[2] = 3;
    y[2] = -1;
    CHECK_STATUS(shr_dataset_from_arrays(3, 1, 1, 2, x, y, &d), SHR_ERR_INVALID_ARG);
    y[2] = 1000;
    CHECK_STATUS(shr_dataset_from_arrays(3, 1, 1, 2, x, y, &d), SHR_ERR_INVALID_ARG);
    CHECK(shr_last_error()[0] != '\0');
}

/* n samples of 1x1x2: x = {i, -i}, label i % 5. */
static shr_dataset *indexed(int64_t n) {
    float *x = malloc((size_t)n * 2 * sizeof *x);
    int32_t *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; i < n; i++) {
        x[2 * i] = (float)i;
        x[2 * i + 1] = (float)-i;
        y[i] = (int32_t)(i % 5);
    }
    shr_dataset *d = NULL;
    CHECK_OK(shr_dataset_from_arrays(n, 1, 1, 2, x, y, &d));
    free(x);
    free(y);
    return d;
}

static void test_split(void) {
    shr_dataset *d = indexed(101), *tr = NULL, *va = NULL, *tr2 = NULL, *va2 = NULL, *tr3 = NULL, *va3 = NULL;
    if (!d) return;
    CHECK_OK(shr_dataset_split(d, 0.2, 42, &tr, &va));
    CHECK_OK(shr_dataset_split(d, 0.2, 42, &tr2, &va2));
    CHECK_OK(shr_dataset_split(d, 0.2, 43, &tr3, &va3));
    if (tr && va && tr2 && va2 && tr3 && va3) {
        CHECK(va->n == 20 && tr->n == 81);
        CHECK(tr->sample_size == 2 && va->c == 1 && va->w == 2);
        /* disjoint, covering, samples intact, original order kept */
        int seen[101] = {0}, ok = 1;
        const shr_dataset *parts[2] = {tr, va};
        for (int p = 0; p < 2; p++)
            for (int64_t i = 0; i < parts[p]->n; i++) {
                int k = (int)parts[p]->x[2 * i];
                ok &= k >= 0 && k < 101 && parts[p]->x[2 * i + 1] == (float)-k && parts[p]->y[i] == k % 5;
                if (k >= 0 && k < 101) seen[k]++;
                if (i > 0) ok &= parts[p]->x[2 * i] > parts[p]->x[2 * i - 2];
            }
        for (int k = 0; k < 101; k++) ok &= seen[k] == 1;
        CHECK(ok);
        /* same seed, same split; another seed, another split */
        CHECK(memcmp(va->x, va2->x, 20 * 2 * sizeof(float)) == 0 && memcmp(tr->y, tr2->y, 81 * sizeof(int32_t)) == 0);
        CHECK(memcmp(va->x, va3->x, 20 * 2 * sizeof(float)) != 0);
        CHECK(tr->n_classes == 5 && va->n_classes == 5);
    }
    shr_dataset_free(tr);
    shr_dataset_free(va);
    shr_dataset_free(tr2);
    shr_dataset_free(va2);
    shr_dataset_free(tr3);
    shr_dataset_free(va3);
    /* validation keeps the parent's class count even if it misses the top class */
    shr_dataset *small = indexed(5);
    tr = va = NULL;
    CHECK_OK(shr_dataset_split(small, 0.01, 1, &tr, &va)); /* rounds up to 1 sample */
    if (tr && va) CHECK(va->n == 1 && tr->n == 4 && va->n_classes == 5 && tr->n_classes == 5);
    shr_dataset_free(tr);
    shr_dataset_free(va);
    CHECK_STATUS(shr_dataset_split(small, 0.0, 1, &tr, &va), SHR_ERR_INVALID_ARG);
    CHECK(tr == NULL && va == NULL);
    CHECK_STATUS(shr_dataset_split(small, 1.0, 1, &tr, &va), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_dataset_split(small, NAN, 1, &tr, &va), SHR_ERR_INVALID_ARG);
    shr_dataset_free(small);
    small = indexed(1);
    CHECK_STATUS(shr_dataset_split(small, 0.5, 1, &tr, &va), SHR_ERR_INVALID_ARG);
    shr_dataset_free(small);
    shr_dataset_free(d);
}

/* n samples of 2x4x5 "pixels" 0..255 with different statistics per channel. */
static shr_dataset *images(int64_t n) {
    int64_t ss = 2 * 4 * 5;
    float *x = malloc((size_t)(n * ss) * sizeof *x);
    int32_t *y = malloc((size_t)n * sizeof *y);
    uint32_t s = 99;
    for (int64_t i = 0; i < n * ss; i++) {
        s = s * 1103515245u + 12345u;
        int c = (int)((i % ss) / 20);
        x[i] = (float)(c == 0 ? (s >> 16) % 256 : 200 + (s >> 16) % 56);
    }
    for (int64_t i = 0; i < n; i++) y[i] = (int32_t)(i % 3);
    shr_dataset *d = NULL;
    CHECK_OK(shr_dataset_from_arrays(n, 2, 4, 5, x, y, &d));
    free(x);
    free(y);
    return d;
}

static void test_preproc_and_fill(void) {
    shr_dataset *d = images(300);
    if (!d) return;
    shr_preproc pp;
    CHECK_OK(shr_dataset_default_preproc(d, &pp));
    CHECK(pp.channels == 2);
    CHECK_NEAR(pp.scale, 1.0 / 255.0, 1e-7);
    CHECK(pp.mean[0] > 0.4f && pp.mean[0] < 0.6f && pp.mean[1] > 0.85f && pp.mean[1] < 0.95f);
    int64_t *idx = malloc(300 * sizeof *idx);
    for (int i = 0; i < 300; i++) idx[i] = i;
    float *x = malloc(300 * 40 * sizeof *x);
    int32_t *y = malloc(300 * sizeof *y);
    shr_batch_fill(d, idx, 300, &pp, NULL, NULL, x, y);
    for (int c = 0; c < 2; c++) {
        double sum = 0, sq = 0;
        for (int i = 0; i < 300; i++)
            for (int j = 0; j < 20; j++) sum += x[i * 40 + c * 20 + j];
        double mean = sum / 6000.0;
        for (int i = 0; i < 300; i++)
            for (int j = 0; j < 20; j++) sq += (x[i * 40 + c * 20 + j] - mean) * (x[i * 40 + c * 20 + j] - mean);
        CHECK_NEAR(mean, 0.0, 1e-4);
        CHECK_NEAR(sqrt(sq / 6000.0), 1.0, 1e-4);
    }
    /* a gather of arbitrary indices: exact formula, labels */
    int64_t pick[3] = {299, 0, 17};
    shr_batch_fill(d, pick, 3, &pp, NULL, NULL, x, y);
    int ok = 1;
    for (int b = 0; b < 3; b++) {
        ok &= y[b] == d->y[pick[b]];
        for (int k = 0; k < 40; k++) {
            int c = k / 20;
            ok &= x[b * 40 + k] == (d->x[pick[b] * 40 + k] * pp.scale - pp.mean[c]) / pp.std[c];
        }
    }
    CHECK(ok);
    /* y may be NULL; aug without rng (or rng without aug) means no augmentation */
    float *x2 = malloc(3 * 40 * sizeof *x2);
    shr_augment aug = {2, 1};
    shr_rng rng;
    shr_rng_seed(&rng, 5);
    shr_batch_fill(d, pick, 3, &pp, &aug, NULL, x2, NULL);
    CHECK(memcmp(x, x2, 3 * 40 * sizeof *x) == 0);
    shr_batch_fill(d, pick, 3, &pp, NULL, &rng, x2, NULL);
    CHECK(memcmp(x, x2, 3 * 40 * sizeof *x) == 0);
    /* same seed, same augmented batch; another seed, another batch */
    float *a1 = malloc(300 * 40 * sizeof *a1), *a2 = malloc(300 * 40 * sizeof *a2);
    shr_rng_seed(&rng, 7);
    shr_batch_fill(d, idx, 300, &pp, &aug, &rng, a1, y);
    shr_rng_seed(&rng, 7);
    shr_batch_fill(d, idx, 300, &pp, &aug, &rng, a2, NULL);
    CHECK(memcmp(a1, a2, 300 * 40 * sizeof *a1) == 0);
    shr_rng_seed(&rng, 8);
    shr_batch_fill(d, idx, 300, &pp, &aug, &rng, a2, NULL);
    CHECK(memcmp(a1, a2, 300 * 40 * sizeof *a1) != 0);
    /* default preproc of a CSV-like dataset scales by 1/max|x|; constant channel gets std 1 */
    float cx[4] = {-4, 2, 2, 2};
    int32_t cy[2] = {0, 0};
    shr_dataset *cd = NULL;
    CHECK_OK(shr_dataset_from_arrays(2, 2, 1, 1, cx, cy, &cd)); /* channel 1 is constant 2 */
    if (cd) {
        CHECK_OK(shr_dataset_default_preproc(cd, &pp));
        CHECK_NEAR(pp.scale, 0.25, 1e-7);
        CHECK_NEAR(pp.mean[1], 0.5, 1e-7);
        CHECK(pp.std[1] == 1.0f && isfinite(pp.std[0]) && pp.std[0] > 0);
    }
    shr_dataset_free(cd);
    float big[5] = {0};
    int32_t by[1] = {0};
    CHECK_OK(shr_dataset_from_arrays(1, 5, 1, 1, big, by, &cd));
    CHECK_STATUS(shr_dataset_default_preproc(cd, &pp), SHR_ERR_UNSUPPORTED);
    shr_dataset_free(cd);
    free(a1);
    free(a2);
    free(x2);
    free(idx);
    free(x);
    free(y);
    shr_dataset_free(d);
}

/* The documented rng order: dy, dx (each below(2p+1) - p), then flip = below(2). */
static void expected_aug(const float *img, int H, int W, int pad, int hflip, shr_rng *r, const shr_preproc *pp,
                         float *out, int *dy_out, int *dx_out, int *flip_out) {
    int dy = 0, dx = 0, flip = 0;
    if (pad) {
        dy = (int)shr_rng_below(r, (uint64_t)(2 * pad + 1)) - pad;
        dx = (int)shr_rng_below(r, (uint64_t)(2 * pad + 1)) - pad;
    }
    if (hflip) flip = (int)shr_rng_below(r, 2);
    float bg = (0.0f - pp->mean[0]) / pp->std[0];
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            int si = i + dy, sj = (flip ? W - 1 - j : j) + dx;
            out[i * W + j] = si < 0 || si >= H || sj < 0 || sj >= W
                                 ? bg
                                 : (img[si * W + sj] * pp->scale - pp->mean[0]) / pp->std[0];
        }
    *dy_out = dy;
    *dx_out = dx;
    *flip_out = flip;
}

static void test_geometry(void) {
    enum { H = 3, W = 4 };
    float img[H * W];
    for (int i = 0; i < H * W; i++) img[i] = (float)(i + 1); /* 1..12, row-major */
    int32_t lab[1] = {0};
    shr_dataset *d = NULL;
    CHECK_OK(shr_dataset_from_arrays(1, 1, H, W, img, lab, &d));
    if (!d) return;
    shr_preproc pp = {1.0f, 1, {0.5f}, {2.0f}}; /* background = -0.25 */
    int64_t idx[1] = {0};
    float got[H * W], want[H * W];

    /* flip only: rows reversed */
    shr_augment flip_only = {0, 1};
    int flips[2] = {0, 0};
    for (uint64_t seed = 0; seed < 40; seed++) {
        shr_rng r;
        shr_rng_seed(&r, seed);
        shr_batch_fill(d, idx, 1, &pp, &flip_only, &r, got, NULL);
        int flipped = got[0] == (4.0f - 0.5f) / 2.0f;
        flips[flipped]++;
        int ok = 1;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                float src = img[i * W + (flipped ? W - 1 - j : j)];
                ok &= got[i * W + j] == (src - 0.5f) / 2.0f;
            }
        CHECK(ok);
    }
    CHECK(flips[0] > 5 && flips[1] > 5);

    /* crop + flip: matches the documented draw order; every shift shows up */
    shr_augment both = {1, 1};
    int seen[3][3][2] = {{{0}}};
    for (uint64_t seed = 0; seed < 400; seed++) {
        shr_rng r1, r2;
        shr_rng_seed(&r1, seed);
        shr_rng_seed(&r2, seed);
        int dy, dx, fl;
        shr_batch_fill(d, idx, 1, &pp, &both, &r1, got, NULL);
        expected_aug(img, H, W, 1, 1, &r2, &pp, want, &dy, &dx, &fl);
        CHECK(memcmp(got, want, sizeof got) == 0);
        CHECK(r1.s[0] == r2.s[0] && r1.s[3] == r2.s[3]); /* same number of draws */
        seen[dy + 1][dx + 1][fl]++;
    }
    int all = 1;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (int f = 0; f < 2; f++) all &= seen[a][b][f] > 0;
    CHECK(all);

    /* one case written out by hand: shift down-right by one (dy = -1, dx = -1),
     * no flip. Output (i, j) = input (i-1, j-1), background elsewhere. */
    int found = 0;
    for (uint64_t seed = 0; seed < 1000; seed++) {
        shr_rng r1, r2;
        shr_rng_seed(&r1, seed);
        shr_rng_seed(&r2, seed);
        int dy, dx, fl;
        expected_aug(img, H, W, 1, 1, &r2, &pp, want, &dy, &dx, &fl);
        if (dy != -1 || dx != -1 || fl != 0) continue;
        shr_batch_fill(d, idx, 1, &pp, &both, &r1, got, NULL);
        const float raw[H * W] = {0, 0, 0, 0, 0, 1, 2, 3, 0, 5, 6, 7}; /* 0 = padding */
        int ok = 1;
        for (int k = 0; k < H * W; k++) ok &= got[k] == (raw[k] - 0.5f) / 2.0f;
        CHECK(ok);
        CHECK(got[0] == -0.25f);
        found = 1;
        break;
    }
    CHECK(found);
    shr_dataset_free(d);
}

int main(void) {
    RUN(test_from_arrays);
    RUN(test_split);
    RUN(test_preproc_and_fill);
    RUN(test_geometry);
    return test_summary();
}
