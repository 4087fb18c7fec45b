/* Mini-batch assembly: gather samples, preprocess, augment.
 *
 * Layout: d->x is n x (C,H,W) raw values; the batch x is (N,C,H,W) with
 * x = (raw * scale - mean[c]) / std[c]  (the formula of shr_preproc).
 *
 * Augmentation (images), per sample and in this order of rng draws:
 *   crop_pad > 0: dy = below(2p+1) - p, then dx = below(2p+1) - p; output
 *                 pixel (i, j) takes input (i + dy, j + dx), and pixels from
 *                 outside the image get the value a raw 0 maps to, (0 - mean)/std,
 *                 so the padding looks like background;
 *   hflip:        flip = below(2); if 1 the (cropped) image is mirrored, so
 *                 output (i, j) takes input (i + dy, W-1-j + dx).
 * The draws happen for every sample whether or not they change it, so the same
 * seed always gives the same batch. Indices and preprocessing are trusted
 * (validated by the caller): this is a hot path. */

#include "data/data_internal.h"

void shr_batch_fill(const shr_dataset *d, const int64_t *idx, int n, const shr_preproc *pp,
                    const shr_augment *aug, shr_rng *rng, float *x, int32_t *y) {
    const int C = d->c, H = d->h, W = d->w;
    const int64_t plane = (int64_t)H * W;
    const int pad = aug && rng && aug->crop_pad > 0 ? aug->crop_pad : 0;
    const int flip_on = aug && rng && aug->hflip;
    float scale = 1.0f, mean[SHR_MAX_CHANNELS] = {0}, sd[SHR_MAX_CHANNELS] = {1, 1, 1, 1};
    int pch = 0;
    if (pp && pp->channels > 0) {
        scale = pp->scale;
        pch = pp->channels < SHR_MAX_CHANNELS ? pp->channels : SHR_MAX_CHANNELS;
        for (int c = 0; c < pch; c++) {
            mean[c] = pp->mean[c];
            sd[c] = pp->std[c];
        }
    }
    for (int b = 0; b < n; b++) {
        const float *src = d->x + idx[b] * d->sample_size;
        float *dst = x + (int64_t)b * d->sample_size;
        if (y) y[b] = d->y[idx[b]];
        int dy = 0, dx = 0, flip = 0;
        if (pad) {
            dy = (int)shr_rng_below(rng, (uint64_t)(2 * pad + 1)) - pad;
            dx = (int)shr_rng_below(rng, (uint64_t)(2 * pad + 1)) - pad;
        }
        if (flip_on) flip = (int)shr_rng_below(rng, 2);
        for (int c = 0; c < C; c++) {
            /* A preproc with fewer channels than the data repeats its last one
             * (a single-channel preproc applies to every channel). */
            int k = pch == 0 ? 0 : (c < pch ? c : pch - 1);
            const float m = mean[k], s = sd[k];
            const float *sp = src + c * plane;
            float *dp = dst + c * plane;
            if (!pad && !flip) {
                for (int64_t j = 0; j < plane; j++) dp[j] = (sp[j] * scale - m) / s;
                continue;
            }
            const float bg = (0.0f * scale - m) / s;
            for (int i = 0; i < H; i++) {
                int si = i + dy;
                float *row = dp + (int64_t)i * W;
                if (si < 0 || si >= H) {
                    for (int j = 0; j < W; j++) row[j] = bg;
                    continue;
                }
                const float *srow = sp + (int64_t)si * W;
                for (int j = 0; j < W; j++) {
                    int sj = (flip ? W - 1 - j : j) + dx;
                    row[j] = (sj < 0 || sj >= W) ? bg : (srow[sj] * scale - m) / s;
                }
            }
        }
    }
}
