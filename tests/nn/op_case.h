/* Test fixture for op tests: one node of a tiny graph, run through its op's
 * forward/backward with hand-made io tensors (the actual batch in dim 0), and a
 * finite-difference check of backward against L = sum(out * R).
 * Everything is static inline so a test may use any subset. */
#ifndef SHR_TEST_OP_CASE_H
#define SHR_TEST_OP_CASE_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/op.h"
#include "shrink/graph.h"
#include "shrink/rng.h"
#include "test.h"

#define MAX_IN 8

typedef struct op_case {
    shr_graph *g;
    int node;
    int n_in;
    shr_tensor *in[MAX_IN];
    shr_tensor *out;
} op_case;

static inline shr_tensor *act_tensor(const shr_graph *g, int value, int64_t batch) {
    const shr_value *v = &g->values[value];
    int64_t shape[SHR_MAX_DIMS];
    for (int d = 0; d < v->ndim; d++) shape[d] = v->shape[d] < 0 ? batch : v->shape[d];
    shr_tensor *t = NULL;
    CHECK_OK(shr_tensor_create(&t, SHR_F32, v->ndim, shape));
    return t;
}

static inline void case_init(op_case *c, shr_graph *g, int node, int64_t batch) {
    memset(c, 0, sizeof *c);
    c->g = g;
    c->node = node;
    c->n_in = g->nodes[node].n_inputs;
    CHECK(c->n_in <= MAX_IN);
    if (c->n_in > MAX_IN) c->n_in = MAX_IN;
    for (int i = 0; i < c->n_in; i++) c->in[i] = act_tensor(g, g->nodes[node].inputs[i], batch);
    c->out = act_tensor(g, g->nodes[node].output, batch);
}

static inline void case_free(op_case *c) {
    for (int i = 0; i < c->n_in; i++) shr_tensor_free(c->in[i]);
    shr_tensor_free(c->out);
    shr_graph_free(c->g);
}

static inline shr_status run_fwd(op_case *c, int training, shr_rng *rng, void **state) {
    const shr_node *n = &c->g->nodes[c->node];
    shr_op_io io = {c->g, n, training, c->in, c->out, state, rng};
    return shr_op_def_get(n->op)->forward(&io);
}

static inline shr_status run_bwd(op_case *c, int training, void **state, const shr_tensor *dout, shr_tensor **din) {
    const shr_node *n = &c->g->nodes[c->node];
    shr_op_io io = {c->g, n, training, c->in, c->out, state, NULL};
    return shr_op_def_get(n->op)->backward(&io, dout, din);
}

static inline void free_state(op_case *c, void *state) {
    const shr_op_def *def = shr_op_def_get(c->g->nodes[c->node].op);
    if (def->free_state)
        def->free_state(state);
    else
        free(state);
}

static inline void fill(shr_tensor *t, shr_rng *r, float lo, float hi) {
    float *p = shr_f32(t);
    for (int64_t i = 0; i < t->numel; i++) p[i] = lo + (hi - lo) * shr_rng_uniform(r);
}

/* Elements probed per input by grad_check. */
static const int64_t fd_points = 300;

static inline double dot_out(const shr_tensor *out, const shr_tensor *R) {
    double s = 0;
    for (int64_t i = 0; i < out->numel; i++) s += (double)shr_f32(out)[i] * shr_f32(R)[i];
    return s;
}

/* Checks backward against central differences; drop_seed reseeds the rng before
 * every forward so dropout sees the same mask each time. */
static inline void grad_check(op_case *c, int training, uint64_t drop_seed, float h, double tol) {
    shr_rng rng, rr;
    shr_rng_seed(&rr, 1234);
    void *state = NULL;
    shr_tensor *R = NULL, *din[MAX_IN] = {0}, *acc[MAX_IN] = {0}, *pre[MAX_IN] = {0};
    CHECK_OK(shr_tensor_create(&R, SHR_F32, c->out->ndim, c->out->shape));
    fill(R, &rr, -1.0f, 1.0f);
    shr_rng_seed(&rng, drop_seed);
    CHECK_OK(run_fwd(c, training, &rng, &state));
    for (int i = 0; i < c->n_in; i++) {
        CHECK_OK(shr_tensor_create(&din[i], SHR_F32, c->in[i]->ndim, c->in[i]->shape));
        CHECK_OK(shr_tensor_create(&acc[i], SHR_F32, c->in[i]->ndim, c->in[i]->shape));
        fill(acc[i], &rr, -2.0f, 2.0f);
        CHECK_OK(shr_tensor_clone(&pre[i], acc[i]));
    }
    CHECK_OK(run_bwd(c, training, &state, R, din));
    CHECK_OK(run_bwd(c, training, &state, R, acc));
    for (int i = 0; i < c->n_in; i++) {
        int bad = 0;
        for (int64_t e = 0; e < acc[i]->numel; e++) {
            float want = shr_f32(pre[i])[e] + shr_f32(din[i])[e];
            bad += fabsf(shr_f32(acc[i])[e] - want) > 1e-5f * fmaxf(1.0f, fabsf(want));
        }
        CHECK_MSG(bad == 0, "%s: %d gradients of input %d not accumulated", shr_op_name(c->g->nodes[c->node].op),
                  bad, i);
    }
    for (int i = 0; i < c->n_in; i++) {
        float *x = shr_f32(c->in[i]);
        int64_t step = c->in[i]->numel > fd_points ? c->in[i]->numel / fd_points + 1 : 1;
        int bad = 0;
        for (int64_t e = 0; e < c->in[i]->numel; e += step) {
            float v = x[e];
            x[e] = v + h;
            shr_rng_seed(&rng, drop_seed);
            CHECK_OK(run_fwd(c, training, &rng, &state));
            double lp = dot_out(c->out, R);
            x[e] = v - h;
            shr_rng_seed(&rng, drop_seed);
            CHECK_OK(run_fwd(c, training, &rng, &state));
            double lm = dot_out(c->out, R);
            x[e] = v;
            double num = (lp - lm) / (2.0 * (double)h), ana = shr_f32(din[i])[e];
            if (fabs(num - ana) > tol * fmax(1.0, fmax(fabs(num), fabs(ana)))) {
                if (bad++ < 3)
                    fprintf(stderr, "  %s input %d elem %lld: analytic %.6g numeric %.6g (x=%g)\n",
                            shr_op_name(c->g->nodes[c->node].op), i, (long long)e, ana, num, (double)v);
            }
        }
        CHECK_MSG(bad == 0, "%s: %d gradient mismatches on input %d", shr_op_name(c->g->nodes[c->node].op), bad, i);
    }
    for (int i = 0; i < c->n_in; i++) {
        shr_tensor_free(din[i]);
        shr_tensor_free(acc[i]);
        shr_tensor_free(pre[i]);
    }
    shr_tensor_free(R);
    free_state(c, state);
}

/* Graph: input of sample shape `sample` -> one node of `op`. Returns the node index. */
static inline int one_node(shr_graph **g, shr_op op, const shr_attrs *a, int ndim, const int64_t *sample) {
    int x = -1, y = -1;
    CHECK_OK(shr_graph_create(g));
    CHECK_OK(shr_graph_add_input(*g, "x", ndim, sample, &x));
    CHECK_OK(shr_graph_add_node(*g, "n1", op, a, 1, &x, &y));
    return (*g)->n_nodes - 1;
}

#endif
