/* Graph helpers for building quantized graphs: typed tensors, scalar buffers, liveness, BN folding. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "quant/quant_internal.h"
#include "shrink/runtime.h"

shr_status shr_q_add_tensor(shr_graph *g, const char *name, shr_value_kind kind, shr_dtype dt, int ndim,
                            const int64_t *shape, const void *data, int *out) {
    int v;
    SHR_TRY(shr_graph_add_tensor(g, name, kind, ndim, shape, &v));
    shr_tensor *t;
    SHR_TRY(shr_tensor_create(&t, dt, ndim, shape));
    if (data) memcpy(t->data, data, t->nbytes);
    shr_tensor_free(g->values[v].data);
    g->values[v].data = t;
    if (out) *out = v;
    return SHR_OK;
}

shr_status shr_q_add_scalar_f32(shr_graph *g, const char *name, float v, int *out) {
    int64_t one = 1;
    return shr_q_add_tensor(g, name, SHR_VALUE_BUFFER, SHR_F32, 1, &one, &v, out);
}

shr_status shr_q_add_zero_point(shr_graph *g, const char *name, shr_dtype t, int zp, int *out) {
    int64_t one = 1;
    uint8_t u = (uint8_t)zp;
    int8_t s = (int8_t)zp;
    int16_t h = (int16_t)zp;
    const void *p = t == SHR_U8 ? (const void *)&u : t == SHR_I8 ? (const void *)&s : (const void *)&h;
    return shr_q_add_tensor(g, name, SHR_VALUE_BUFFER, t, 1, &one, p, out);
}

shr_status shr_q_liveness(const shr_graph *F, unsigned char **live_nodes, int **uses) {
    unsigned char *live = calloc((size_t)F->n_nodes + 1, 1), *needed = calloc((size_t)F->n_values + 1, 1);
    int *u = calloc((size_t)F->n_values + 1, sizeof *u);
    if (!live || !needed || !u) {
        free(live);
        free(needed);
        free(u);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    needed[F->output] = 1;
    for (int k = F->n_nodes - 1; k >= 0; k--) {
        const shr_node *n = &F->nodes[k];
        if (!needed[n->output]) continue;
        live[k] = 1;
        for (int i = 0; i < n->n_inputs; i++)
            if (n->inputs[i] >= 0) {
                needed[n->inputs[i]] = 1;
                u[n->inputs[i]]++;
            }
    }
    free(needed);
    *live_nodes = live;
    *uses = u;
    return SHR_OK;
}

shr_status shr_q_folded(const shr_graph *g, shr_graph **out, int *n_folded) {
    shr_graph *c;
    SHR_TRY(shr_graph_clone(&c, g));
    shr_status st = shr_graph_fold_bn(c, n_folded);
    if (st != SHR_OK) {
        shr_graph_free(c);
        return st;
    }
    *out = c;
    return SHR_OK;
}

shr_status shr_q_graph_like(const shr_graph *F, shr_graph **out, int *input) {
    shr_graph *Q;
    SHR_TRY(shr_graph_create(&Q));
    const shr_value *x = &F->values[F->input];
    shr_status st = shr_graph_add_input(Q, x->name, x->ndim - 1, x->shape + 1, input);
    Q->preproc = F->preproc;
    if (st == SHR_OK && F->arch && !(Q->arch = strdup(F->arch))) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK && F->lineage && !(Q->lineage = strdup(F->lineage))) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st != SHR_OK) {
        shr_graph_free(Q);
        return st;
    }
    *out = Q;
    return SHR_OK;
}
