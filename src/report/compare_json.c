/* The comparison as a JSON array, one object per model. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "shrink/report.h"

/* NaN/inf are not JSON: unknown numbers are null. */
static json_t *real_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }
static json_t *int_or_null(int64_t v) { return v >= 0 ? json_integer((json_int_t)v) : json_null(); }

static json_t *lineage_steps(const char *lineage) {
    json_t *a = json_array();
    for (const char *s = lineage; s && *s;) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len) json_array_append_new(a, json_stringn(s, len));
        s += len + (e ? 1 : 0);
    }
    return a;
}

static int set(json_t *o, const char *key, json_t *v) { return v ? json_object_set_new(o, key, v) : -1; }

static json_t *model_json(const shr_compare *c, int i) {
    const shr_compare_model *m = &c->models[i];
    const shr_model_metrics *mm = &m->metrics;
    char *chain = NULL;
    if (shr_lineage_summary(m->graph ? m->graph->lineage : NULL, &chain) != SHR_OK) return NULL;
    json_t *o = json_object();
    int bad = !o;
    bad |= set(o, "name", json_string(m->name ? m->name : "?"));
    bad |= set(o, "path", m->path ? json_string(m->path) : json_null());
    bad |= set(o, "reference", json_boolean(i == c->reference));
    bad |= set(o, "lineage", json_string(chain));
    bad |= set(o, "lineage_steps", lineage_steps(m->graph ? m->graph->lineage : NULL));
    bad |= set(o, "file_bytes", int_or_null(m->file_bytes));
    bad |= set(o, "size_ratio", real_or_null(m->size_ratio));
    bad |= set(o, "params", json_integer(mm->params));
    bad |= set(o, "nonzero_params", json_integer(mm->nonzero_params));
    bad |= set(o, "sparsity", real_or_null(mm->params ? 1.0 - (double)mm->nonzero_params / (double)mm->params : NAN));
    bad |= set(o, "flops", json_integer(mm->effective_flops));
    bad |= set(o, "dense_flops", json_integer(mm->flops));
    bad |= set(o, "weight_bytes", json_integer(mm->weight_bytes));
    bad |= set(o, "peak_rss_bytes", int_or_null(m->peak_rss_bytes));
    bad |= set(o, "accuracy", real_or_null(m->accuracy));
    bad |= set(o, "accuracy_delta_pt", real_or_null(m->delta_pt));
    bad |= set(o, "loss", real_or_null(m->loss));
    bad |= set(o, "eval_samples", json_integer(m->eval_samples));
    /* null: not measured (the reference) or infinite (identical outputs). */
    bad |= set(o, "output_sqnr_db", real_or_null(m->output_samples ? m->output_sqnr_db : NAN));
    bad |= set(o, "top1_agreement", real_or_null(m->output_samples ? m->top1_agreement : NAN));
    bad |= set(o, "output_samples", json_integer(m->output_samples));
    bad |= set(o, "pareto_size", json_boolean(m->pareto_size));
    bad |= set(o, "pareto_latency", json_boolean(m->pareto_latency));
    for (int b = 0; b < c->n_batches; b++) {
        const shr_bench_result *l = &m->lat[b];
        int bs = c->batches[b];
        char key[64];
#define SETB(fmt, v)                                 \
    do {                                             \
        snprintf(key, sizeof key, fmt "%d", bs);     \
        bad |= set(o, key, v);                       \
    } while (0)
        SETB("latency_ms_b", real_or_null(l->runs ? l->p50_ms : NAN));
        SETB("latency_p99_ms_b", real_or_null(l->runs ? l->p99_ms : NAN));
        SETB("latency_noise_pct_b", real_or_null(l->runs ? l->noise_pct : NAN));
        SETB("speedup_b", real_or_null(m->speedup[b]));
        SETB("samples_per_s_b", real_or_null(l->runs ? l->samples_per_s : NAN));
        SETB("arena_bytes_b", int_or_null(l->runs ? (int64_t)l->arena_bytes : -1));
        SETB("runs_b", json_integer(l->runs));
#undef SETB
    }
    free(chain);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

shr_status shr_compare_json(const shr_compare *c, char **out) {
    *out = NULL;
    json_t *arr = json_array();
    for (int i = 0; arr && i < c->n; i++) {
        json_t *o = model_json(c, i);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    char *s = arr ? json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8)) : NULL;
    json_decref(arr);
    if (!s) return shr_fail(SHR_ERR_NOMEM, "compare: out of memory while writing JSON");
    *out = s; /* jansson allocates with malloc by default: free() releases it */
    return SHR_OK;
}
