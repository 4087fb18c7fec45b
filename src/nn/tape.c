#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "nn/tape.h"

void shr_tape_free(shr_tape *t) {
    if (!t) return;
    if (t->g) {
        for (int v = 0; v < t->g->n_values; v++) {
            if (t->act_buf) shr_free(t->act_buf[v]);
            if (t->grad_buf) shr_free(t->grad_buf[v]);
            if (t->param_grad) shr_tensor_free(t->param_grad[v]);
            if (t->seed_buf) shr_free(t->seed_buf[v]);
        }
        shr_exec_free_states(t->g, t->state);
    }
    shr_value_table_free(&t->act);
    shr_value_table_free(&t->grad);
    free(t->act_buf);
    free(t->grad_buf);
    free(t->param_grad);
    free(t->state);
    free(t->seed_buf);
    free(t->seeded);
    free(t);
}

/* An ACT value needs a gradient if its producer has any input that needs one;
 * PARAMs always do. The model input does only with SHR_TAPE_INPUT_GRAD; nothing
 * does with SHR_TAPE_NO_GRAD. */
static void mark_needs_grad(const shr_graph *g, unsigned flags, unsigned char *needs) {
    if (flags & SHR_TAPE_NO_GRAD) {
        memset(needs, 0, (size_t)g->n_values);
        return;
    }
    for (int v = 0; v < g->n_values; v++) needs[v] = g->values[v].kind == SHR_VALUE_PARAM;
    if (flags & SHR_TAPE_INPUT_GRAD) needs[g->input] = 1;
    for (int k = 0; k < g->n_nodes; k++) {
        const shr_node *n = &g->nodes[k];
        for (int i = 0; i < n->n_inputs; i++)
            if (n->inputs[i] >= 0 && needs[n->inputs[i]]) needs[n->output] = 1;
    }
}

static shr_status alloc_act(const shr_value *v, int max_batch, float **out) {
    size_t bytes;
    if (shr_mul_overflow_size((size_t)shr_value_sample_numel(v), (size_t)max_batch, &bytes) ||
        shr_mul_overflow_size(bytes, sizeof(float), &bytes) || bytes > SHR_MAX_ACTIVATION_BYTES)
        return shr_fail(SHR_ERR_LIMIT, "activation '%s' needs more than %zu GiB at batch %d", v->name,
                        SHR_MAX_ACTIVATION_BYTES >> 30, max_batch);
    *out = shr_alloc(bytes);
    if (!*out) return shr_fail(SHR_ERR_NOMEM, "out of memory for activation '%s' (%zu bytes)", v->name, bytes);
    return SHR_OK;
}

shr_status shr_tape_create(shr_graph *g, int max_batch, shr_tape **out) {
    return shr_tape_create_ex(g, max_batch, 0, out);
}

shr_status shr_tape_create_ex(shr_graph *g, int max_batch, unsigned flags, shr_tape **out) {
    if (max_batch < 1) return shr_fail(SHR_ERR_INVALID_ARG, "batch size must be at least 1");
    shr_tape *t = calloc(1, sizeof *t);
    if (!t) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    t->g = g;
    t->max_batch = max_batch;
    t->flags = flags;
    size_t nv = (size_t)g->n_values + 1;
    t->act_buf = calloc(nv, sizeof *t->act_buf);
    t->grad_buf = calloc(nv, sizeof *t->grad_buf);
    t->param_grad = calloc(nv, sizeof *t->param_grad);
    t->state = calloc((size_t)g->n_nodes + 1, sizeof *t->state);
    t->seed_buf = calloc(nv, sizeof *t->seed_buf);
    t->seeded = calloc(nv, 1);
    unsigned char *needs = calloc(nv, 1);
    shr_status st = (t->act_buf && t->grad_buf && t->param_grad && t->state && t->seed_buf && t->seeded && needs)
                        ? SHR_OK
                        : shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) st = shr_value_table_init(&t->act, g);
    if (st == SHR_OK) st = shr_value_table_init(&t->grad, g);
    if (st == SHR_OK) mark_needs_grad(g, flags, needs);
    for (int v = 0; st == SHR_OK && v < g->n_values; v++) {
        const shr_value *val = &g->values[v];
        if (val->kind == SHR_VALUE_INPUT || val->kind == SHR_VALUE_ACT) {
            st = alloc_act(val, max_batch, &t->act_buf[v]);
            if (st == SHR_OK && needs[v]) st = alloc_act(val, max_batch, &t->grad_buf[v]);
            t->grad.t[v] = needs[v] ? &t->grad.headers[v] : NULL;
        } else if (val->kind == SHR_VALUE_PARAM && needs[v]) {
            st = shr_tensor_create(&t->param_grad[v], SHR_F32, val->ndim, val->shape);
            t->grad.t[v] = t->param_grad[v];
        } else {
            t->grad.t[v] = NULL; /* buffers are not trained, nor anything on a NO_GRAD tape */
        }
    }
    free(needs);
    if (st != SHR_OK) {
        shr_tape_free(t);
        return st;
    }
    *out = t;
    return SHR_OK;
}

shr_status shr_tape_forward(shr_tape *t, const float *x, int n, int training, shr_rng *rng, const shr_tensor **out) {
    const shr_graph *g = t->g;
    if (n < 1 || n > t->max_batch)
        return shr_fail(SHR_ERR_INVALID_ARG, "batch of %d samples outside 1..%d", n, t->max_batch);
    t->batch = n;
    t->training = training;
    memset(t->seeded, 0, (size_t)g->n_values); /* seeds belong to the previous batch */
    for (int v = 0; v < g->n_values; v++) {
        if (!t->act_buf[v]) continue;
        shr_value_table_bind(&t->act, v, t->act_buf[v], n);
        if (t->grad_buf[v]) shr_value_table_bind(&t->grad, v, t->grad_buf[v], n);
    }
    const shr_tensor *in = t->act.t[g->input];
    memcpy(in->data, x, in->nbytes);
    for (int k = 0; k < g->n_nodes; k++) SHR_TRY(shr_exec_forward(&t->act, k, training, &t->state[k], rng));
    if (out) *out = t->act.t[g->output];
    return SHR_OK;
}

void shr_tape_zero_grad(shr_tape *t) {
    for (int v = 0; v < t->g->n_values; v++)
        if (t->param_grad[v]) memset(t->param_grad[v]->data, 0, t->param_grad[v]->nbytes);
}

/* Adds the pending seeds into the freshly zeroed activation gradients: every
 * op's backward accumulates, so a seed is summed with what flows back from the
 * consumers before the producer's backward reads it. */
static void apply_seeds(shr_tape *t) {
    for (int v = 0; v < t->g->n_values; v++) {
        if (!t->seeded[v]) continue;
        shr_tensor *gv = t->grad.t[v];
        float *dst = shr_f32(gv);
        const float *src = t->seed_buf[v];
        for (int64_t i = 0; i < gv->numel; i++) dst[i] += src[i];
        t->seeded[v] = 0;
    }
}

shr_status shr_tape_backward(shr_tape *t, const float *dout) {
    const shr_graph *g = t->g;
    if (t->flags & SHR_TAPE_NO_GRAD) return shr_fail(SHR_ERR_INVALID_ARG, "backward on a tape made without gradients");
    for (int v = 0; v < g->n_values; v++)
        if (t->grad_buf[v]) memset(t->grad_buf[v], 0, t->grad.t[v]->nbytes);
    shr_tensor *gout = t->grad.t[g->output];
    if (!gout) return SHR_OK; /* nothing trainable upstream */
    memcpy(gout->data, dout, gout->nbytes);
    apply_seeds(t);

    shr_tensor *din_small[8];
    shr_tensor *in_small[8];
    for (int k = g->n_nodes - 1; k >= 0; k--) {
        const shr_node *node = &g->nodes[k];
        const shr_tensor *dy = t->grad.t[node->output];
        if (!dy) continue;
        const shr_op_def *def = shr_op_def_get(node->op);
        if (!def->backward)
            return shr_fail(SHR_ERR_UNSUPPORTED, "node '%s' (%s) has no backward", node->name, def->name);
        int ni = node->n_inputs;
        shr_tensor **din = ni <= 8 ? din_small : malloc((size_t)ni * sizeof *din);
        shr_tensor **in = ni <= 8 ? in_small : malloc((size_t)ni * sizeof *in);
        if (!din || !in) {
            if (din != din_small) free(din);
            if (in != in_small) free(in);
            return shr_fail(SHR_ERR_NOMEM, "out of memory");
        }
        for (int i = 0; i < ni; i++) {
            int v = node->inputs[i];
            din[i] = v >= 0 ? t->grad.t[v] : NULL;
            in[i] = v >= 0 ? t->act.t[v] : NULL;
        }
        shr_op_io io = {g, node, t->training, in, t->act.t[node->output], &t->state[k], NULL, 0, 0.0f, 0.0f};
        shr_status st = def->backward(&io, dy, din);
        if (din != din_small) free(din);
        if (in != in_small) free(in);
        SHR_TRY(st);
    }
    return SHR_OK;
}

const shr_tensor *shr_tape_act_grad(const shr_tape *t, int value) {
    return (value >= 0 && value < t->g->n_values) ? t->grad.t[value] : NULL;
}

const shr_tensor *shr_tape_act(const shr_tape *t, int value) {
    return (value >= 0 && value < t->g->n_values && t->act_buf[value]) ? t->act.t[value] : NULL;
}

shr_status shr_tape_add_act_grad(shr_tape *t, int value, const float *grad) {
    const shr_graph *g = t->g;
    if (value < 0 || value >= g->n_values || !grad)
        return shr_fail(SHR_ERR_INVALID_ARG, "gradient seed for an invalid value %d", value);
    if (!t->grad_buf[value] || t->batch < 1)
        return shr_fail(SHR_ERR_INVALID_ARG, "activation '%s' has no gradient to add to (nothing trainable before it%s)",
                        g->values[value].name, t->batch < 1 ? ", or no forward pass yet" : "");
    int64_t numel = (int64_t)t->batch * shr_value_sample_numel(&g->values[value]);
    if (!t->seed_buf[value]) SHR_TRY(alloc_act(&g->values[value], t->max_batch, &t->seed_buf[value]));
    float *dst = t->seed_buf[value];
    if (t->seeded[value])
        for (int64_t i = 0; i < numel; i++) dst[i] += grad[i];
    else
        memcpy(dst, grad, (size_t)numel * sizeof *dst);
    t->seeded[value] = 1;
    return SHR_OK;
}
