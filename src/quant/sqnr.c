/* Per-layer SQNR: the float model F and the quantized Q run side by side on the same samples;
 * each reported layer's output in Q (dequantized, back to NCHW) is compared with the same
 * value in F, summed over all samples. The figure is end to end: it includes the error every
 * layer before it adds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "nn/tape.h"
#include "quant/quant_internal.h"
#include "quant/sparse_code.h"

/* Element i (NCHW order) of a probe's Q activation, in real units. */
static double q_at(const shr_q_probe *p, const shr_tensor *t, int64_t b, int64_t i, const shr_value *fv) {
    int64_t at = b * (t->numel / t->shape[0]) + i;
    if (p->nhwc) { /* F index (c, h, w) -> Q index (h, w, c) */
        int64_t C = fv->shape[1], HW = fv->shape[2] * fv->shape[3], ch = i / HW, hw = i % HW;
        at = b * C * HW + hw * C + ch;
    }
    if (p->qp.scale == 0.0f) return shr_f32(t)[at];
    int q = t->dtype == SHR_U8 ? ((const uint8_t *)t->data)[at]
            : t->dtype == SHR_I8 ? ((const int8_t *)t->data)[at] : ((const int16_t *)t->data)[at];
    return (double)p->qp.scale * (q - p->qp.zero_point);
}

static shr_status accumulate(const shr_tape *tf, const shr_tape *tq, const shr_q_probe *probes, int n, double *sig,
                             double *err) {
    for (int i = 0; i < n; i++) {
        const shr_q_probe *p = &probes[i];
        if (p->f_value < 0 || p->q_value < 0) continue;
        const shr_tensor *a = shr_tape_act(tf, p->f_value), *b = shr_tape_act(tq, p->q_value);
        if (!a || !b || a->numel != b->numel)
            return shr_fail(SHR_ERR_INTERNAL, "sqnr: layer %d has mismatched activations", i);
        const shr_value *fv = &tf->g->values[p->f_value];
        int64_t per = a->numel / a->shape[0];
        for (int64_t s = 0; s < a->shape[0]; s++)
            for (int64_t j = 0; j < per; j++) {
                double r = shr_f32(a)[s * per + j], d = r - q_at(p, b, s, j, fv);
                sig[i] += r * r;
                err[i] += d * d;
            }
    }
    return SHR_OK;
}

shr_status shr_q_measure_sqnr(const shr_graph *F, shr_graph *Q, const shr_dataset *d, int samples,
                              const shr_q_probe *probes, shr_quant_report *rep) {
    int n = rep->n_layers;
    if (!d || d->n < 1 || n == 0) return SHR_OK;
    int64_t ns = samples < 1 || samples > d->n ? d->n : samples;
    int batch = ns < 64 ? (int)ns : 64;
    shr_tape *tf = NULL, *tq = NULL;
    double *sig = calloc((size_t)n, sizeof *sig), *err = calloc((size_t)n, sizeof *err);
    float *x = shr_alloc((size_t)batch * (size_t)d->sample_size * sizeof(float));
    shr_status st = sig && err && x ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) st = shr_tape_create_ex((shr_graph *)F, batch, SHR_TAPE_NO_GRAD, &tf);
    if (st == SHR_OK) st = shr_tape_create_ex(Q, batch, SHR_TAPE_NO_GRAD, &tq);
    for (int64_t s = 0; st == SHR_OK && s < ns; s += batch) {
        int m = (int)(ns - s < batch ? ns - s : batch);
        shr_q_fill(d, &F->preproc, s, m, x, NULL);
        st = shr_tape_forward(tf, x, m, 0, NULL, NULL);
        if (st == SHR_OK) st = shr_tape_forward(tq, x, m, 0, NULL, NULL);
        if (st == SHR_OK) st = accumulate(tf, tq, probes, n, sig, err);
    }
    shr_tape_free(tf);
    shr_tape_free(tq);
    shr_free(x);
    for (int i = 0; st == SHR_OK && i < n; i++) {
        if (probes[i].f_value < 0 || probes[i].q_value < 0) continue;
        double db = err[i] == 0.0 ? INFINITY : sig[i] == 0.0 ? -INFINITY : 10.0 * log10(sig[i] / err[i]);
        rep->layers[i].sqnr_db = db;
        char name[256];
        snprintf(name, sizeof name, "%.200s.sqnr_db", rep->layers[i].name);
        float v = (float)db;
        if (shr_graph_find_value(Q, name) < 0) st = shr_q_add_scalar_f32(Q, name, v, NULL);
    }
    free(sig);
    free(err);
    return st;
}

double shr_quant_layer_sqnr(const shr_graph *g, const char *name) {
    char key[256];
    snprintf(key, sizeof key, "%.200s.sqnr_db", name);
    int v = shr_graph_find_value(g, key);
    if (v < 0 || g->values[v].kind != SHR_VALUE_BUFFER || !g->values[v].data || g->values[v].data->dtype != SHR_F32 ||
        g->values[v].data->numel != 1)
        return NAN;
    return shr_f32(g->values[v].data)[0];
}

int shr_quant_layer_bytes(const shr_graph *g, int node, int64_t *dense, int64_t *csr, int64_t *quantized,
                          int64_t *stored) {
    const shr_node *n = &g->nodes[node];
    shr_spq_info in;
    if (n->op != SHR_OP_SPLINEAR || n->n_inputs < 2 || n->inputs[1] < 0) return 0;
    const shr_tensor *b = g->values[n->inputs[1]].data;
    if (!b || shr_spq_header(b->data, (size_t)b->numel, &in) != SHR_OK) return 0;
    *dense = (int64_t)in.N * in.K * 4;
    *csr = (int64_t)in.csr_bytes;
    *quantized = (int64_t)in.fixed_bytes;
    *stored = (int64_t)in.bytes;
    return 1;
}
