/* Checks shared by the quantization ops: scale / zero-point inputs, code inputs, output clamps. */
#include "nn/ops/ops_quant.h"

shr_status shr_q_read_param(const shr_graph *g, const shr_node *n, const char *op, int i_scale, int i_zp,
                            shr_qparam *out) {
    const shr_value *s = shr_node_in(g, n, i_scale), *z = shr_node_in(g, n, i_zp);
    if (!s || !z) return shr_node_fail(SHR_ERR_FORMAT, n, op, "inputs %d and %d (scale, zero point) are required",
                                       i_scale, i_zp);
    if ((s->kind != SHR_VALUE_PARAM && s->kind != SHR_VALUE_BUFFER) || !s->data || s->data->dtype != SHR_F32 ||
        s->data->numel != 1)
        return shr_node_fail(SHR_ERR_FORMAT, n, op, "scale '%s' must be one f32 stored value", s->name);
    float sc = shr_f32(s->data)[0];
    if (!(sc > 0.0f) || !isfinite(sc) || !isfinite(1.0f / sc))
        return shr_node_fail(SHR_ERR_FORMAT, n, op, "scale '%s' = %g must be finite and > 0", s->name, (double)sc);
    if ((z->kind != SHR_VALUE_PARAM && z->kind != SHR_VALUE_BUFFER) || !z->data || z->data->numel != 1 ||
        !shr_q_is_code(z->data->dtype))
        return shr_node_fail(SHR_ERR_FORMAT, n, op, "zero point '%s' must be one stored u8, i8 or i16 value", z->name);
    out->scale = sc;
    out->type = z->data->dtype;
    out->zero_point = shr_q_get(z->data->data, out->type, 0);
    if (out->type == SHR_I16 && out->zero_point != 0)
        return shr_node_fail(SHR_ERR_FORMAT, n, op, "i16 codes must have zero point 0 (got %d)", out->zero_point);
    return SHR_OK;
}

shr_status shr_q_check_codes(const shr_graph *g, const shr_node *n, const char *op, int i, const shr_qparam *qp) {
    const shr_value *x = shr_node_in(g, n, i);
    if (!x || (x->kind != SHR_VALUE_ACT && x->kind != SHR_VALUE_INPUT) || x->ndim < 1 || x->shape[0] != -1)
        return shr_node_fail(SHR_ERR_FORMAT, n, op, "input %d must be an activation", i);
    shr_dtype t = shr_value_dtype(g, n->inputs[i]);
    if (t != qp->type)
        return shr_node_fail(SHR_ERR_FORMAT, n, op, "input '%s' is %s but its zero point is %s", x->name,
                             shr_dtype_name(t), shr_dtype_name(qp->type));
    return SHR_OK;
}

static int clamp_ok(const shr_node *n, shr_dtype t, int *qmin, int *qmax) {
    int lo, hi;
    shr_q_type_range(t, &lo, &hi);
    float a = n->attrs.alpha, b = n->attrs.eps;
    if (!(a >= (float)lo && b <= (float)hi && a <= b) || a != floorf(a) || b != floorf(b)) return 0;
    *qmin = (int)a;
    *qmax = (int)b;
    return 1;
}

shr_status shr_q_check_clamp(const shr_node *n, const char *op, shr_dtype t, int *qmin, int *qmax) {
    if (!clamp_ok(n, t, qmin, qmax))
        return shr_node_fail(SHR_ERR_FORMAT, n, op, "output clamp [%g, %g] must be integers within the %s range",
                             (double)n->attrs.alpha, (double)n->attrs.eps, shr_dtype_name(t));
    return SHR_OK;
}

void shr_q_code_range(const shr_graph *g, int v, int *lo, int *hi) {
    shr_dtype t = shr_value_dtype(g, v);
    shr_q_type_range(t, lo, hi);
    for (int steps = 0; steps <= g->n_nodes && v >= 0 && v < g->n_values; steps++) {
        const shr_value *val = &g->values[v];
        if (val->kind != SHR_VALUE_ACT || val->producer < 0 || val->producer >= g->n_nodes) return;
        const shr_node *n = &g->nodes[val->producer];
        switch (n->op) {
        case SHR_OP_QUANTIZE:
        case SHR_OP_QLINEAR:
        case SHR_OP_QCONV2D:
        case SHR_OP_QADD:
        case SHR_OP_QCLAMP: {
            int a, b;
            if (clamp_ok(n, t, &a, &b)) {
                *lo = a;
                *hi = b;
            }
            if (n->op != SHR_OP_QCLAMP) return;
            /* a clamp of a narrower input keeps the narrower range */
            int ilo, ihi;
            shr_q_code_range(g, n->inputs[0], &ilo, &ihi);
            if (ilo > *lo) *lo = ilo;
            if (ihi < *hi) *hi = ihi;
            if (*lo > *hi) *lo = *hi;
            return;
        }
        case SHR_OP_QMAXPOOL2D:
        case SHR_OP_QAVGPOOL2D:
        case SHR_OP_QFLATTEN: v = n->inputs[0]; break;
        default: return;
        }
    }
}
