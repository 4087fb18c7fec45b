/* Test fixture for op tests: one node of a tiny graph, run through its op's
 * forward/backward with hand-made io tensors (the actual batch in dim 0), and a
 * finite-difference check of backward against L = sum(out * R) that also checks
 * backward accumulates (+=) into din. Shared by every tests/nn/test_ops_*.c.
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
    const shr_op_def *def;
    int n_in;
    shr_tensor *in[MAX_IN]; /* NULL for an absent optional input */
    shr_tensor *out;
    void *state;  /* the node's cache slot, kept across calls; case_free frees it */
    int training; /* mode of run_fwd / run_bwd; case_init sets 1 */
    shr_rng *rng; /* handed to forward (dropout) */
} op_case;

/* A tensor of value `value`'s shape with the batch dimension set to `batch`. */
static inline shr_tensor *act_tensor(const shr_graph *g, int value, int64_t batch) {
    const shr_value *v = &g->values[value];
    int64_t shape[SHR_MAX_DIMS];
    for (int d = 0; d < v->ndim; d++) shape[d] = v->shape[d] < 0 ? batch : v->shape[d];
    shr_tensor *t = NULL;
    CHECK_OK(shr_tensor_create(&t, SHR_F32, v->ndim, shape));
    return t;
}

/* Zero-filled io tensors for node `node` of g (which the case then owns). */
static inline void case_init(op_case *c, shr_graph *g, int node, int64_t batch) {
    memset(c, 0, sizeof *c);
    c->g = g;
    c->node = node;
    c->def = shr_op_def_get(g->nodes[node].op);
    c->training = 1;
    c->n_in = g->nodes[node].n_inputs;
    CHECK(c->n_in <= MAX_IN);
    if (c->n_in > MAX_IN) c->n_in = MAX_IN;
    for (int i = 0; i < c->n_in; i++)
        if (g->nodes[node].inputs[i] >= 0) c->in[i] = act_tensor(g, g->nodes[node].inputs[i], batch);
    c->out = act_tensor(g, g->nodes[node].output, batch);
}

static inline void fill(shr_tensor *t, shr_rng *r, float lo, float hi) {
    float *p = shr_f32(t);
    for (int64_t i = 0; i < t->numel; i++) p[i] = lo + (hi - lo) * shr_rng_uniform(r);
}

static inline void fill_normal(shr_tensor *t, shr_rng *r, float scale, float shift) {
    for (int64_t i = 0; i < t->numel; i++) shr_f32(t)[i] = shift + scale * shr_rng_normal(r);
}

/* case_init, then every present input ~ N(0, 1), drawn from r in input order. */
static inline void case_init_normal(op_case *c, shr_graph *g, int node, int64_t batch, shr_rng *r) {
    case_init(c, g, node, batch);
    for (int i = 0; i < c->n_in; i++)
        if (c->in[i]) fill_normal(c->in[i], r, 1.0f, 0.0f);
}

static inline void free_state(op_case *c) {
    if (c->state) {
        if (c->def->free_state)
            c->def->free_state(c->state);
        else
            free(c->state);
    }
    c->state = NULL;
}

/* Frees the io tensors and the state but not the graph (one graph, several cases). */
static inline void case_free_io(op_case *c) {
    free_state(c);
    for (int i = 0; i < c->n_in; i++) shr_tensor_free(c->in[i]);
    shr_tensor_free(c->out);
}

static inline void case_free(op_case *c) {
    case_free_io(c);
    shr_graph_free(c->g);
}

static inline shr_status run_fwd(op_case *c) {
    shr_op_io io = {c->g, &c->g->nodes[c->node], c->training, c->in, c->out, &c->state, c->rng, 0, 0.0f, 0.0f};
    return c->def->forward(&io);
}

static inline shr_status run_bwd(op_case *c, const shr_tensor *dout, shr_tensor *const *din) {
    shr_op_io io = {c->g, &c->g->nodes[c->node], c->training, c->in, c->out, &c->state, NULL, 0, 0.0f, 0.0f};
    return c->def->backward(&io, dout, din);
}

static inline double dot_out(const shr_tensor *out, const shr_tensor *R) {
    double s = 0;
    for (int64_t i = 0; i < out->numel; i++) s += (double)shr_f32(out)[i] * shr_f32(R)[i];
    return s;
}

/* max |a - b| / max(1, max |b|): float results against a double reference. */
static inline double max_rel_diff(const float *a, const double *b, int64_t n) {
    double m = 0.0, scale = 1.0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]) / scale);
    return m;
}

/* Elements probed per input by a sampled gradient check. */
static const int64_t fd_points = 300;

typedef struct fd_opts {
    float h;            /* central-difference step */
    double tol;
    int n_check;        /* gradients of inputs 0..n_check-1 (0: all); the others are not requested */
    int every;          /* 1: every element, one norm-wise relative error per input (near-zero
                           entries do not flake); 0: up to fd_points elements, each within tol */
    uint64_t drop_seed; /* the rng is reseeded before every forward: dropout sees one mask */
    shr_rng *r;         /* R ~ N(0, 1) drawn from r; NULL: R ~ U(-1, 1) from a fixed seed */
    const char *label;  /* names the case in messages; NULL: the op's name */
} fd_opts;

static inline shr_status fd_fwd(op_case *c, shr_rng *drop, uint64_t seed) {
    shr_rng_seed(drop, seed);
    return run_fwd(c);
}

/* Backward (in c->training mode, on the state of one forward) against central
 * differences. It runs twice: into zeroed din (compared with the differences) and
 * into din pre-filled with noise, which must come back as noise + gradient. */
static inline void grad_check_opts(op_case *c, const fd_opts *o) {
    const char *label = o->label ? o->label : shr_op_name(c->g->nodes[c->node].op);
    const int n_check = o->n_check > 0 && o->n_check < c->n_in ? o->n_check : c->n_in;
    shr_rng drop, rr;
    shr_rng_seed(&rr, 1234);
    shr_rng *saved_rng = c->rng;
    c->rng = &drop;
    shr_tensor *R = NULL, *din[MAX_IN] = {0}, *acc[MAX_IN] = {0}, *pre[MAX_IN] = {0};
    CHECK_OK(shr_tensor_create(&R, SHR_F32, c->out->ndim, c->out->shape));
    if (o->r)
        fill_normal(R, o->r, 1.0f, 0.0f);
    else
        fill(R, &rr, -1.0f, 1.0f);
    CHECK_OK(fd_fwd(c, &drop, o->drop_seed));
    for (int i = 0; i < n_check; i++) {
        if (!c->in[i]) continue;
        CHECK_OK(shr_tensor_create(&din[i], SHR_F32, c->in[i]->ndim, c->in[i]->shape));
        CHECK_OK(shr_tensor_create(&acc[i], SHR_F32, c->in[i]->ndim, c->in[i]->shape));
        fill(acc[i], &rr, -2.0f, 2.0f);
        CHECK_OK(shr_tensor_clone(&pre[i], acc[i]));
    }
    CHECK_OK(run_bwd(c, R, din));
    CHECK_OK(run_bwd(c, R, acc));
    for (int i = 0; i < n_check; i++) {
        if (!c->in[i]) continue;
        int bad = 0;
        for (int64_t e = 0; e < acc[i]->numel; e++) {
            float want = shr_f32(pre[i])[e] + shr_f32(din[i])[e];
            bad += fabsf(shr_f32(acc[i])[e] - want) > 1e-5f * fmaxf(1.0f, fabsf(want));
        }
        CHECK_MSG(bad == 0, "%s: %d gradients of input %d not accumulated", label, bad, i);
    }
    for (int i = 0; i < n_check; i++) {
        if (!c->in[i]) continue;
        float *x = shr_f32(c->in[i]);
        const int64_t n = c->in[i]->numel, step = o->every || n <= fd_points ? 1 : n / fd_points + 1;
        int bad = 0;
        double num = 0.0, den_fd = 0.0, den_an = 0.0;
        for (int64_t e = 0; e < n; e += step) {
            float v = x[e];
            x[e] = v + o->h;
            CHECK_OK(fd_fwd(c, &drop, o->drop_seed));
            double lp = dot_out(c->out, R);
            x[e] = v - o->h;
            CHECK_OK(fd_fwd(c, &drop, o->drop_seed));
            double lm = dot_out(c->out, R);
            x[e] = v;
            double fd = (lp - lm) / (2.0 * (double)o->h), an = shr_f32(din[i])[e];
            num += (an - fd) * (an - fd);
            den_fd += fd * fd;
            den_an += an * an;
            if (!o->every && fabs(fd - an) > o->tol * fmax(1.0, fmax(fabs(fd), fabs(an))) && bad++ < 3)
                fprintf(stderr, "  %s input %d elem %lld: analytic %.6g numeric %.6g (x=%g)\n", label, i,
                        (long long)e, an, fd, (double)v);
        }
        if (o->every) {
            double err = sqrt(num) / fmax(1e-6, fmax(sqrt(den_fd), sqrt(den_an)));
            CHECK_MSG(err <= o->tol, "%s: gradient of input %d: relative error %g", label, i, err);
        } else {
            CHECK_MSG(bad == 0, "%s: %d gradient mismatches on input %d", label, bad, i);
        }
    }
    for (int i = 0; i < n_check; i++) {
        shr_tensor_free(din[i]);
        shr_tensor_free(acc[i]);
        shr_tensor_free(pre[i]);
    }
    shr_tensor_free(R);
    c->rng = saved_rng;
}

/* Sampled, element-wise check of every input's gradient. */
static inline void grad_check(op_case *c, uint64_t drop_seed, float h, double tol) {
    const fd_opts o = {h, tol, 0, 0, drop_seed, NULL, NULL};
    grad_check_opts(c, &o);
}

/* Every element of inputs 0..n_check-1 (0: all), norm-wise error, R drawn from r. */
static inline void grad_check_all(op_case *c, shr_rng *r, int n_check, float h, double tol, const char *label) {
    const fd_opts o = {h, tol, n_check, 1, 0, r, label};
    grad_check_opts(c, &o);
}

/* Graph: input of sample shape `sample` -> one node of `op`. Returns the node index. */
static inline int one_node(shr_graph **g, shr_op op, const shr_attrs *a, int ndim, const int64_t *sample) {
    int x = -1, y = -1;
    CHECK_OK(shr_graph_create(g));
    CHECK_OK(shr_graph_add_input(*g, "x", ndim, sample, &x));
    CHECK_OK(shr_graph_add_node(*g, "n1", op, a, 1, &x, &y));
    return (*g)->n_nodes - 1;
}

/* Attrs of a 2-D window op (conv, pools): kernel KH x KW, stride SH x SW, pad
 * (top, left, bottom, right); the rest default. */
static inline shr_attrs window_attrs(int KH, int KW, int SH, int SW, const int pad[4]) {
    shr_attrs a = shr_attrs_default();
    a.kernel[0] = KH;
    a.kernel[1] = KW;
    a.stride[0] = SH;
    a.stride[1] = SW;
    memcpy(a.pad, pad, sizeof a.pad);
    return a;
}

typedef struct op_reg {
    shr_op op;
    const shr_op_def *def;
} op_reg;

/* Each op resolves to its extern definition (this strong reference also links it
 * in: the registry refers to the defs only weakly), under its public name, with
 * every hook set. */
static inline void check_registered(const op_reg *ops, size_t n) {
    for (size_t k = 0; k < n; k++) {
        const shr_op_def *def = shr_op_def_get(ops[k].op);
        CHECK(def == ops[k].def);
        CHECK(def && strcmp(def->name, shr_op_name(ops[k].op)) == 0);
        CHECK(def && def->infer && def->forward && def->backward && def->flops);
    }
}

#endif
