/* QuantizeLinear / DequantizeLinear, so models in QDQ form import:
 *   - on constants (quantized weights) both fold: DequantizeLinear of int8 /
 *     uint8 codes, per tensor or per axis, becomes a float weight that stays
 *     trainable when it came from an initializer;
 *   - QuantizeLinear on an activation, read by a DequantizeLinear with the same
 *     per-tensor scale and zero point, becomes shrink's fake_quant (round half
 *     to even, saturation to the type's range), which keeps the quantization
 *     error in the float model and trains with a straight-through gradient.
 * Codes read by anything else are refused by the driver. */
#include <math.h>
#include <string.h>

#include "io/onnx/onnx_internal.h"

enum { T_UINT8 = 2, T_INT8 = 3, T_INT32 = 6 };

/* The scale (positive, finite) and zero point inputs; per axis only when
 * per_axis (constant codes, which may also be int32: a QDQ bias). *type: the
 * codes' type, from the zero point if there is one (else it keeps the caller's
 * default). */
static shr_status qparams(ox_ctx *c, const ox_node *n, int per_axis, ox_const **s, ox_const **z, int *type) {
    SHR_TRY(ox_in_const(c, n, 1, s));
    *z = NULL;
    if (ox_in(c, n, 2)) SHR_TRY(ox_in_const(c, n, 2, z));
    if (*z) *type = (*z)->onnx_type; /* else the caller's default */
    if (*type != T_UINT8 && *type != T_INT8 && !(per_axis && *type == T_INT32 && !strcmp(n->op_type, "DequantizeLinear")))
        return ox_unsupported(c, "codes of element type %d", *type);
    if ((*s)->is_int || ((*z) && (*z)->numel != (*s)->numel)) return ox_bad(c, "scale and zero point do not match");
    if ((*s)->numel != 1 && !per_axis) return ox_unsupported(c, "per-axis quantization of a computed value");
    for (int64_t i = 0; i < (*s)->numel; i++)
        if (!((*s)->f[i] > 0.0f) || !isfinite((*s)->f[i])) return ox_bad(c, "scale %g", (double)(*s)->f[i]);
    return SHR_OK;
}

static float zero_of(const ox_const *z, int64_t i) { return z ? (float)ox_const_get_i(z, i) : 0.0f; }

/* Index into the scale of element e of k for per-axis parameters. */
static int64_t axis_index(const ox_const *k, int axis, int64_t e) {
    int64_t inner = 1;
    for (int d = axis + 1; d < k->ndim; d++) inner *= k->shape[d];
    return (e / inner) % k->shape[axis];
}

static shr_status get_axis(ox_ctx *c, const ox_node *n, const ox_const *k, const ox_const *s, int *axis) {
    int64_t a = 1;
    if (c->opset >= 13) SHR_TRY(ox_attr_int(n, "axis", 1, &a));
    if (s->numel == 1 && s->ndim <= 1) {
        *axis = -1;
        return SHR_OK;
    }
    if (a < -k->ndim || a >= k->ndim) return ox_bad(c, "axis %lld out of range", (long long)a);
    *axis = (int)(a < 0 ? a + k->ndim : a);
    if (s->ndim != 1 || s->numel != k->shape[*axis]) return ox_bad(c, "per-axis scale does not match dim %d", *axis);
    return SHR_OK;
}

static shr_status conv_quantize(ox_ctx *c, const ox_node *n) {
    ox_entry *e = ox_in(c, n, 0);
    ox_const *s, *z;
    int type, axis;
    if (!e) return ox_bad(c, "input is missing");
    type = T_UINT8;
    SHR_TRY(qparams(c, n, e->kind == OX_CONST, &s, &z, &type));
    const float lo = type == T_UINT8 ? 0.0f : -128.0f, hi = type == T_UINT8 ? 255.0f : 127.0f;
    if (e->kind == OX_ACT) {
        ox_quant q = {s->f[0], zero_of(z, 0), lo, hi, type};
        return ox_out_quant(c, n, 0, e->value, &q);
    }
    if (e->kind != OX_CONST || e->c->is_int) return ox_bad(c, "quantizes a non-float value");
    SHR_TRY(get_axis(c, n, e->c, s, &axis));
    ox_const *k;
    SHR_TRY(ox_const_new(1, type, e->c->ndim, e->c->shape, &k));
    for (int64_t i = 0; i < k->numel; i++) {
        int64_t j = axis < 0 ? 0 : axis_index(e->c, axis, i);
        float v = nearbyintf(e->c->f[i] / s->f[j]) + zero_of(z, j);
        k->i[i] = (int64_t)(v < lo ? lo : (v > hi ? hi : v));
    }
    k->trainable = e->c->trainable;
    k->name = e->c->name;
    return ox_out_const(c, n, 0, k);
}

static shr_status conv_dequantize(ox_ctx *c, const ox_node *n) {
    ox_entry *e = ox_in(c, n, 0);
    ox_const *s, *z;
    int type, axis;
    if (!e) return ox_bad(c, "input is missing");
    type = e->kind == OX_QUANT ? e->q.type : e->kind == OX_CONST ? e->c->onnx_type : T_UINT8;
    SHR_TRY(qparams(c, n, e->kind == OX_CONST, &s, &z, &type));
    if (e->kind == OX_QUANT) {
        const ox_quant *q = &e->q;
        if (q->scale != s->f[0] || q->zero != zero_of(z, 0) || q->type != type)
            return ox_unsupported(c, "DequantizeLinear with other parameters than its QuantizeLinear");
        int sv, zv;
        float zero = q->zero;
        SHR_TRY(ox_buffer(c, "qdq_scale", 1, (int64_t[]){1}, &q->scale, &sv));
        SHR_TRY(ox_buffer(c, "qdq_zero_point", 1, (int64_t[]){1}, &zero, &zv));
        shr_attrs a = shr_attrs_default();
        a.alpha = q->lo;
        a.eps = q->hi;
        return ox_emit_out(c, n, 0, SHR_OP_FAKE_QUANT, &a, 3, (int[]){e->value, sv, zv});
    }
    if (e->kind != OX_CONST || !e->c->is_int) return ox_bad(c, "dequantizes a value that is not integer codes");
    if (e->c->onnx_type != type) return ox_unsupported(c, "codes of element type %d", e->c->onnx_type);
    SHR_TRY(get_axis(c, n, e->c, s, &axis));
    ox_const *k;
    SHR_TRY(ox_const_new(0, 1, e->c->ndim, e->c->shape, &k));
    for (int64_t i = 0; i < k->numel; i++) {
        int64_t j = axis < 0 ? 0 : axis_index(e->c, axis, i);
        k->f[i] = (float)(e->c->i[i] - (int64_t)zero_of(z, j)) * s->f[j];
    }
    k->trainable = e->c->trainable;
    k->name = e->c->name;
    return ox_out_const(c, n, 0, k);
}

const ox_op ox_ops_quant[] = {
    {"QuantizeLinear", 10, conv_quantize},
    {"DequantizeLinear", 10, conv_dequantize},
};
const int ox_ops_quant_n = (int)(sizeof ox_ops_quant / sizeof ox_ops_quant[0]);
