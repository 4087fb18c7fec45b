#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/exec.h"

int64_t shr_value_sample_numel(const shr_value *v) {
    int64_t n = 1;
    for (int d = 1; d < v->ndim; d++) n *= v->shape[d];
    return n;
}

shr_dtype shr_value_dtype(const shr_graph *g, int v) {
    /* Walks back through pass-through ops; each step goes to an earlier node (validated graphs are
     * topological), and the bound stops a malformed one from looping. */
    for (int steps = 0; steps <= g->n_nodes && v >= 0 && v < g->n_values; steps++) {
        const shr_value *val = &g->values[v];
        if (val->kind == SHR_VALUE_PARAM || val->kind == SHR_VALUE_BUFFER) return val->data ? val->data->dtype : SHR_F32;
        if (val->kind != SHR_VALUE_ACT || val->producer < 0 || val->producer >= g->n_nodes) return SHR_F32;
        const shr_node *n = &g->nodes[val->producer];
        int zp = -1; /* the input whose dtype the output codes take */
        switch (n->op) {
        case SHR_OP_QUANTIZE: zp = 2; break;
        case SHR_OP_QLINEAR:
        case SHR_OP_QCONV2D: zp = 7; break;
        case SHR_OP_QADD: zp = 7; break;
        case SHR_OP_QMAXPOOL2D:
        case SHR_OP_QAVGPOOL2D:
        case SHR_OP_QFLATTEN:
        case SHR_OP_QCLAMP: zp = 0; break;
        default: return SHR_F32;
        }
        if (zp >= n->n_inputs || n->inputs[zp] < 0) return SHR_F32; /* QLINEAR / QCONV2D with f32 output */
        v = n->inputs[zp];
    }
    return SHR_F32;
}

shr_status shr_value_table_init(shr_value_table *vt, const shr_graph *g) {
    vt->g = g;
    vt->headers = calloc((size_t)g->n_values + 1, sizeof *vt->headers);
    vt->t = calloc((size_t)g->n_values + 1, sizeof *vt->t);
    if (!vt->headers || !vt->t) {
        shr_value_table_free(vt);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    for (int v = 0; v < g->n_values; v++) {
        const shr_value *val = &g->values[v];
        if (val->kind == SHR_VALUE_PARAM || val->kind == SHR_VALUE_BUFFER) {
            vt->t[v] = val->data;
        } else {
            shr_tensor *h = &vt->headers[v];
            h->dtype = shr_value_dtype(g, v);
            h->ndim = val->ndim;
            memcpy(h->shape, val->shape, sizeof h->shape);
            h->is_view = 1;
            vt->t[v] = h;
        }
    }
    return SHR_OK;
}

void shr_value_table_free(shr_value_table *vt) {
    free(vt->headers);
    free(vt->t);
    vt->headers = NULL;
    vt->t = NULL;
}

void shr_value_table_bind(shr_value_table *vt, int v, void *data, int n) {
    shr_tensor *h = &vt->headers[v];
    h->shape[0] = n;
    h->numel = n * shr_value_sample_numel(&vt->g->values[v]);
    h->nbytes = (size_t)h->numel * shr_act_elem_size(h->dtype);
    h->data = data;
}

static shr_status exec_node(shr_value_table *vt, int k, int training, void **state, shr_rng *rng, int fused, float lo,
                            float hi) {
    const shr_graph *g = vt->g;
    const shr_node *node = &g->nodes[k];
    shr_tensor *in_small[8];
    shr_tensor **in = node->n_inputs <= 8 ? in_small : malloc((size_t)node->n_inputs * sizeof *in);
    if (!in) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int i = 0; i < node->n_inputs; i++) in[i] = node->inputs[i] >= 0 ? vt->t[node->inputs[i]] : NULL;
    shr_op_io io = {g, node, training, in, vt->t[node->output], state, rng, fused, lo, hi};
    shr_status st = shr_op_def_get(node->op)->forward(&io);
    if (in != in_small) free(in);
    return st;
}

shr_status shr_exec_forward(shr_value_table *vt, int k, int training, void **state, shr_rng *rng) {
    return exec_node(vt, k, training, state, rng, 0, 0.0f, 0.0f);
}

shr_status shr_exec_forward_fused(shr_value_table *vt, int k, void **state, float lo, float hi) {
    return exec_node(vt, k, 0, state, NULL, 1, lo, hi);
}

void shr_exec_free_states(const shr_graph *g, void **states) {
    if (!states) return;
    for (int k = 0; k < g->n_nodes; k++) {
        if (!states[k]) continue;
        const shr_op_def *def = shr_op_def_get(g->nodes[k].op);
        if (def && def->free_state) def->free_state(states[k]);
        else free(states[k]);
        states[k] = NULL;
    }
}
