/* Shared by the quantized-op tests: graphs whose op under test reads exact integer codes.
 * The model input x (f32) goes through a quantize node with a power-of-two scale, so
 * x = scale * (q - zp) quantizes back to exactly the codes q the test chose. */
#ifndef SHR_TEST_QTEST_UTIL_H
#define SHR_TEST_QTEST_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "nn/tape.h"
#include "quant/quant_internal.h"
#include "shrink/shrink.h"
#include "test.h"

/* Codes entering the op: type, scale (a power of two), zero point, clamp. */
typedef struct qin {
    shr_dtype type;
    float scale;
    int zp, qmin, qmax;
} qin;

/* g with input (sample shape s) quantized by qi; rank-4 inputs become channels-last codes.
 * *codes: the codes value, *s_v / *z_v its scale / zero point buffers. */
static inline shr_graph *qg_begin(int ndim, const int64_t *s, const qin *qi, int *codes, int *s_v, int *z_v) {
    shr_graph *g = NULL;
    CHECK_OK(shr_graph_create(&g));
    int x;
    CHECK_OK(shr_graph_add_input(g, "x", ndim, s, &x));
    CHECK_OK(shr_q_add_scalar_f32(g, "x.scale", qi->scale, s_v));
    CHECK_OK(shr_q_add_zero_point(g, "x.zp", qi->type, qi->zp, z_v));
    shr_attrs a = shr_attrs_default();
    a.alpha = (float)qi->qmin;
    a.eps = (float)qi->qmax;
    if (ndim == 3) {
        a.ndim = 4;
        a.shape[0] = 0, a.shape[1] = 2, a.shape[2] = 3, a.shape[3] = 1;
    }
    int in[3] = {x, *s_v, *z_v};
    CHECK_OK(shr_graph_add_node(g, "q", SHR_OP_QUANTIZE, &a, 3, in, codes));
    return g;
}

/* Random codes in [qmin, qmax] for n samples of the input, laid out NCHW (what x holds);
 * returns x and fills q (the codes as the op sees them: NHWC for rank-4 inputs). */
static inline float *qg_input(const shr_graph *g, const qin *qi, int n, shr_rng *r, int *q) {
    const shr_value *v = &g->values[g->input];
    int64_t per = 1;
    for (int d = 1; d < v->ndim; d++) per *= v->shape[d];
    float *x = malloc((size_t)(n * per) * sizeof *x);
    int C = v->ndim == 4 ? (int)v->shape[1] : 1, HW = v->ndim == 4 ? (int)(v->shape[2] * v->shape[3]) : (int)per;
    for (int b = 0; b < n; b++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < HW; p++) {
                int code = qi->qmin + (int)shr_rng_below(r, (uint64_t)(qi->qmax - qi->qmin + 1));
                x[(b * C + c) * HW + p] = qi->scale * (float)(code - qi->zp);
                q[v->ndim == 4 ? (b * HW + p) * C + c : b * per + p] = code;
            }
    return x;
}

/* Runs g's forward (no gradients) on n samples and copies value v's elements as ints (codes)
 * or floats. */
static inline void qg_run(shr_graph *g, const float *x, int n, int v, int *qi_out, float *f_out) {
    CHECK_OK(shr_graph_validate(g));
    shr_tape *t = NULL;
    CHECK_OK(shr_tape_create_ex(g, n, SHR_TAPE_NO_GRAD, &t));
    if (!t) return;
    CHECK_OK(shr_tape_forward(t, x, n, 0, NULL, NULL));
    const shr_tensor *a = shr_tape_act(t, v);
    for (int64_t i = 0; a && i < a->numel; i++) {
        if (a->dtype == SHR_F32) f_out[i] = shr_f32(a)[i];
        else if (a->dtype == SHR_U8) qi_out[i] = ((const uint8_t *)a->data)[i];
        else if (a->dtype == SHR_I8) qi_out[i] = ((const int8_t *)a->data)[i];
        else qi_out[i] = ((const int16_t *)a->data)[i];
    }
    shr_tape_free(t);
}

/* Appends a dequantize of codes value v (scale s_v, zero z_v) as the graph output; rank-4
 * channels-last codes are transposed back. */
static inline int qg_end(shr_graph *g, int v, int s_v, int z_v) {
    shr_attrs a = shr_attrs_default();
    if (g->values[v].ndim == 4) {
        a.ndim = 4;
        a.shape[0] = 0, a.shape[1] = 3, a.shape[2] = 1, a.shape[3] = 2;
    }
    int in[3] = {v, s_v, z_v}, out;
    CHECK_OK(shr_graph_add_node(g, "dq", SHR_OP_DEQUANTIZE, &a, 3, in, &out));
    return out;
}

/* Outputs (10 per sample) of g on the first n samples of d, through the plan or the tape. */
static inline float *qg_outputs(const shr_graph *g, const shr_dataset *d, int n, int tape) {
    float *x = malloc(sizeof(float) * (size_t)(n * d->sample_size)), *out = malloc(sizeof(float) * 10 * n);
    shr_q_fill(d, &g->preproc, 0, n, x, NULL);
    if (tape) {
        shr_tape *t = NULL;
        CHECK_OK(shr_tape_create_ex((shr_graph *)g, n, SHR_TAPE_NO_GRAD, &t));
        const shr_tensor *o = NULL;
        if (t) CHECK_OK(shr_tape_forward(t, x, n, 0, NULL, &o));
        if (o) memcpy(out, o->data, sizeof(float) * 10 * n);
        shr_tape_free(t);
    } else {
        shr_plan *p = NULL;
        const float *o = NULL;
        CHECK_OK(shr_plan_create(g, n, &p));
        if (p) CHECK_OK(shr_plan_run(p, x, n, &o));
        if (o) memcpy(out, o, sizeof(float) * 10 * n);
        shr_plan_free(p);
    }
    free(x);
    return out;
}

static inline int qg_count_op(const shr_graph *g, shr_op op) {
    int n = 0;
    for (int k = 0; k < g->n_nodes; k++) n += g->nodes[k].op == op;
    return n;
}

#endif
