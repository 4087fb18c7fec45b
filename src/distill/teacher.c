/* The teacher side of distillation: eval-mode logits through the runtime plan
 * (or an eval-mode tape when hints need inner activations), batches converted
 * from the student's preprocessing to the teacher's, and the logit cache. */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "distill/distill_internal.h"

/* The (scale, mean, std) preprocessing applies to channel c. */
static void channel_pp(const shr_preproc *pp, int c, double *scale, double *mean, double *sd) {
    int pch = pp->channels < SHR_MAX_CHANNELS ? pp->channels : SHR_MAX_CHANNELS;
    if (pch <= 0) {
        *scale = 1.0, *mean = 0.0, *sd = 1.0;
        return;
    }
    int k = c < pch ? c : pch - 1;
    *scale = pp->scale, *mean = pp->mean[k], *sd = pp->std[k];
}

/* raw = (x_s sd_s + m_s) / sc_s and x_t = (raw sc_t - m_t) / sd_t, folded into
 * x_t = a x_s + b per channel. */
static shr_status plan_conversion(shr_teacher *t, const shr_preproc *ps, const shr_preproc *pt) {
    t->same_preproc = 1;
    for (int c = 0; c < SHR_MAX_CHANNELS; c++) {
        double sc_s, m_s, sd_s, sc_t, m_t, sd_t;
        channel_pp(ps, c, &sc_s, &m_s, &sd_s);
        channel_pp(pt, c, &sc_t, &m_t, &sd_t);
        if (sc_s == 0.0 || sd_s == 0.0 || sd_t == 0.0)
            return shr_fail(SHR_ERR_INVALID_ARG, "a preprocessing with a zero scale or std cannot be converted");
        if (sc_s != sc_t || m_s != m_t || sd_s != sd_t) t->same_preproc = 0;
        t->conv_a[c] = (float)(sd_s * sc_t / (sc_s * sd_t));
        t->conv_b[c] = (float)((m_s * sc_t / sc_s - m_t) / sd_t);
    }
    return SHR_OK;
}

static int data_channels(const shr_graph *g) {
    const shr_value *in = &g->values[g->input];
    return in->ndim == 4 ? (int)in->shape[1] : 1;
}

shr_status shr_teacher_init(shr_teacher *t, const shr_graph *teacher, const shr_graph *student, int max_batch,
                            int need_tape) {
    memset(t, 0, sizeof *t);
    t->max_batch = max_batch;
    const shr_value *tin = &teacher->values[teacher->input], *sin = &student->values[student->input];
    t->sample_size = shr_value_sample_numel(sin);
    if (shr_value_sample_numel(tin) != t->sample_size || data_channels(teacher) != data_channels(student))
        return shr_fail(SHR_ERR_SHAPE, "the teacher takes %lld values per sample (%d channels), the student %lld (%d)",
                        (long long)shr_value_sample_numel(tin), data_channels(teacher), (long long)t->sample_size,
                        data_channels(student));
    const shr_value *tout = &teacher->values[teacher->output], *sout = &student->values[student->output];
    if (tout->ndim != 2 || sout->ndim != 2 || tout->shape[1] != sout->shape[1])
        return shr_fail(SHR_ERR_SHAPE, "the teacher has %lld outputs and the student %lld; distillation needs the same",
                        (long long)(tout->ndim == 2 ? tout->shape[1] : -1),
                        (long long)(sout->ndim == 2 ? sout->shape[1] : -1));
    t->k = (int)tout->shape[1];
    t->channels = data_channels(student);
    SHR_TRY(plan_conversion(t, &student->preproc, &teacher->preproc));
    SHR_TRY(shr_graph_clone(&t->g, teacher));
    shr_status st = need_tape ? shr_tape_create_ex(t->g, max_batch, SHR_TAPE_NO_GRAD, &t->tape)
                              : shr_plan_create(t->g, max_batch, &t->plan);
    if (st != SHR_OK) return st;
    t->xt = shr_alloc((size_t)max_batch * (size_t)t->sample_size * sizeof(float));
    t->zt = shr_alloc((size_t)max_batch * (size_t)t->k * sizeof(float));
    if (!t->xt || !t->zt) return shr_fail(SHR_ERR_NOMEM, "out of memory for the teacher's batch");
    return SHR_OK;
}

void shr_teacher_release(shr_teacher *t) {
    shr_plan_free(t->plan);
    shr_tape_free(t->tape);
    shr_graph_free(t->g);
    shr_free(t->xt);
    shr_free(t->zt);
    free(t->cache.h1);
    free(t->cache.h2);
    free(t->cache.row);
    shr_free(t->cache.logits);
    memset(t, 0, sizeof *t);
}

/* FNV-1a over the 32-bit words, and a multiply-rotate hash seeded differently:
 * a false match needs both 64-bit values to collide. */
void shr_sample_hash(const float *x, int64_t size, uint64_t *h1, uint64_t *h2) {
    uint64_t a = 1469598103934665603ULL, b = 0x9E3779B97F4A7C15ULL;
    for (int64_t i = 0; i < size; i++) {
        uint32_t w;
        memcpy(&w, x + i, sizeof w);
        a = (a ^ w) * 1099511628211ULL;
        b = (b ^ (w + 0x7F4A7C15U)) * 0xBF58476D1CE4E5B9ULL;
        b ^= b >> 31;
    }
    *h1 = a;
    *h2 = b ^ (uint64_t)size;
}

static int64_t cache_find(const shr_logit_cache *c, uint64_t h1, uint64_t h2) {
    for (int64_t s = (int64_t)(h1 & (uint64_t)(c->cap - 1));; s = (s + 1) & (c->cap - 1)) {
        if (c->row[s] < 0) return -s - 1; /* empty: where it would go */
        if (c->h1[s] == h1 && c->h2[s] == h2) return s;
    }
}

/* Runs the teacher on n rows already in its preprocessing (t->xt). */
static shr_status run_teacher(shr_teacher *t, int n, const float **z) {
    if (t->tape) {
        const shr_tensor *out;
        SHR_TRY(shr_tape_forward(t->tape, t->xt, n, 0, NULL, &out));
        *z = shr_f32(out);
        return SHR_OK;
    }
    return shr_plan_run(t->plan, t->xt, n, z);
}

static void to_teacher_preproc(shr_teacher *t, const float *x, int n) {
    int64_t plane = t->sample_size / t->channels;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < t->channels; c++) {
            int k = c < SHR_MAX_CHANNELS ? c : SHR_MAX_CHANNELS - 1;
            const float a = t->conv_a[k], b = t->conv_b[k];
            const float *src = x + (int64_t)i * t->sample_size + c * plane;
            float *dst = t->xt + (int64_t)i * t->sample_size + c * plane;
            for (int64_t j = 0; j < plane; j++) dst[j] = a * src[j] + b;
        }
}

shr_status shr_teacher_build_cache(shr_teacher *t, const shr_dataset *train, const shr_preproc *student_pp) {
    shr_logit_cache *c = &t->cache;
    if (train->sample_size != t->sample_size)
        return shr_fail(SHR_ERR_SHAPE, "the training set has %lld values per sample, the models %lld",
                        (long long)train->sample_size, (long long)t->sample_size);
    int64_t cap = 16;
    while (cap < 2 * train->n + 1) cap *= 2;
    size_t bytes;
    if (shr_mul_overflow_size((size_t)train->n, (size_t)t->k * sizeof(float), &bytes))
        return shr_fail(SHR_ERR_LIMIT, "the logit cache is too large");
    c->cap = cap;
    c->h1 = malloc((size_t)cap * sizeof *c->h1);
    c->h2 = malloc((size_t)cap * sizeof *c->h2);
    c->row = malloc((size_t)cap * sizeof *c->row);
    c->logits = shr_alloc(bytes ? bytes : 1);
    float *xs = shr_alloc((size_t)t->max_batch * (size_t)t->sample_size * sizeof(float));
    int64_t *idx = malloc((size_t)t->max_batch * sizeof *idx);
    shr_status st = (c->h1 && c->h2 && c->row && c->logits && xs && idx)
                        ? SHR_OK
                        : shr_fail(SHR_ERR_NOMEM, "out of memory for the teacher's logit cache");
    for (int64_t s = 0; st == SHR_OK && s < cap; s++) c->row[s] = -1;
    for (int64_t s0 = 0; st == SHR_OK && s0 < train->n; s0 += t->max_batch) {
        int n = (int)(train->n - s0 < t->max_batch ? train->n - s0 : t->max_batch);
        for (int i = 0; i < n; i++) idx[i] = s0 + i;
        /* Keys from exactly what the trainer will pass (shr_batch_fill, no augmentation);
         * the teacher reads the raw data in its own preprocessing. */
        shr_batch_fill(train, idx, n, student_pp, NULL, NULL, xs, NULL);
        shr_batch_fill(train, idx, n, &t->g->preproc, NULL, NULL, t->xt, NULL);
        const float *z;
        if ((st = run_teacher(t, n, &z)) != SHR_OK) break;
        memcpy(c->logits + s0 * t->k, z, (size_t)n * (size_t)t->k * sizeof(float));
        for (int i = 0; i < n; i++) {
            uint64_t h1, h2;
            shr_sample_hash(xs + (int64_t)i * t->sample_size, t->sample_size, &h1, &h2);
            int64_t s = cache_find(c, h1, h2);
            if (s >= 0) continue; /* the same sample again: the same logits */
            s = -s - 1;
            c->h1[s] = h1, c->h2[s] = h2, c->row[s] = s0 + i;
        }
    }
    shr_free(xs);
    free(idx);
    if (st == SHR_OK) c->n = train->n;
    return st;
}

shr_status shr_teacher_logits(shr_teacher *t, const float *x, int n, const float **zt) {
    if (n < 1 || n > t->max_batch)
        return shr_fail(SHR_ERR_INVALID_ARG, "teacher batch of %d outside 1..%d", n, t->max_batch);
    const shr_logit_cache *c = &t->cache;
    if (c->n > 0 && !t->tape) {
        int hits = 0;
        for (int i = 0; i < n; i++, hits++) {
            uint64_t h1, h2;
            shr_sample_hash(x + (int64_t)i * t->sample_size, t->sample_size, &h1, &h2);
            int64_t s = cache_find(c, h1, h2);
            if (s < 0) break;
            memcpy(t->zt + (int64_t)i * t->k, c->logits + c->row[s] * t->k, (size_t)t->k * sizeof(float));
        }
        if (hits == n) {
            *zt = t->zt;
            return SHR_OK;
        }
    }
    if (t->same_preproc) memcpy(t->xt, x, (size_t)n * (size_t)t->sample_size * sizeof(float));
    else to_teacher_preproc(t, x, n);
    const float *z;
    SHR_TRY(run_teacher(t, n, &z));
    memcpy(t->zt, z, (size_t)n * (size_t)t->k * sizeof(float));
    *zt = t->zt;
    return SHR_OK;
}
