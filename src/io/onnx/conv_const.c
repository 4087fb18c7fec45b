/* Converters for the ops that produce or pass through values without
 * computing on them: Constant, ConstantOfShape, Shape, Size, Identity,
 * Dropout (inference: identity), Cast, CastLike, Range; and the binary
 * arithmetic on constants that shape computations use (ox_fold_binary). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "io/onnx/onnx_internal.h"

enum { T_FLOAT = 1, T_INT64 = 7, T_BOOL = 9, T_FLOAT16 = 10, T_DOUBLE = 11, T_BFLOAT16 = 16 };

static int float_type(int t) { return t == T_FLOAT || t == T_DOUBLE || t == T_FLOAT16 || t == T_BFLOAT16; }

static shr_status conv_constant(ox_ctx *c, const ox_node *n) {
    const Onnx__AttributeProto *a = NULL;
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strncmp(n->attribute[i]->name, "value", 5) == 0) a = n->attribute[i];
    if (!a || n->n_attribute != 1) return ox_bad(c, "needs exactly one value attribute");
    ox_const *k = NULL;
    if (!strcmp(a->name, "value")) {
        if (!a->t) return ox_bad(c, "attribute 'value' holds no tensor");
        SHR_TRY(ox_const_from_tensor(a->t, c->base_dir, &k));
    } else if (!strcmp(a->name, "value_float") || !strcmp(a->name, "value_int")) {
        int is_int = a->name[6] == 'i';
        SHR_TRY(ox_const_new(is_int, is_int ? T_INT64 : T_FLOAT, 0, NULL, &k));
        if (is_int) k->i[0] = a->i;
        else k->f[0] = a->f;
    } else if (!strcmp(a->name, "value_floats") || !strcmp(a->name, "value_ints")) {
        int is_int = a->name[6] == 'i';
        int64_t len = is_int ? (int64_t)a->n_ints : (int64_t)a->n_floats;
        SHR_TRY(ox_const_new(is_int, is_int ? T_INT64 : T_FLOAT, 1, &len, &k));
        for (int64_t e = 0; e < len; e++) {
            if (is_int) k->i[e] = a->ints[e];
            else k->f[e] = a->floats[e];
        }
    } else {
        return ox_unsupported(c, "constant attribute '%s' is not supported", a->name);
    }
    return ox_out_const(c, n, 0, k);
}

static shr_status conv_constant_of_shape(ox_ctx *c, const ox_node *n) {
    ox_const *sh, *k = NULL, *v = NULL;
    SHR_TRY(ox_in_const(c, n, 0, &sh));
    if (!sh->is_int || sh->ndim != 1) return ox_bad(c, "shape input must be a 1-D int64 tensor");
    if (ox_const_has_batch(sh)) return ox_unsupported(c, "a tensor whose size depends on the batch");
    if (sh->numel > SHR_MAX_DIMS) return ox_unsupported(c, "rank %lld exceeds %d", (long long)sh->numel, SHR_MAX_DIMS);
    const Onnx__AttributeProto *a = ox_attr(n, "value");
    if (a && a->t) {
        SHR_TRY(ox_const_from_tensor(a->t, c->base_dir, &v));
        if (v->numel != 1) {
            ox_const_free(v);
            return ox_bad(c, "value must hold one element");
        }
    }
    shr_status st = ox_const_new(v ? v->is_int : 0, v ? v->onnx_type : T_FLOAT, (int)sh->numel, sh->i, &k);
    for (int64_t e = 0; st == SHR_OK && e < k->numel; e++) {
        if (k->is_int) k->i[e] = v->i[0];
        else k->f[e] = v ? v->f[0] : 0.0f;
    }
    ox_const_free(v);
    SHR_TRY(st);
    return ox_out_const(c, n, 0, k);
}

/* The ONNX shape of input 0 (activation or constant). */
static void input_shape(ox_ctx *c, const ox_node *n, int *rank, int64_t *dims) {
    ox_entry *e = ox_in(c, n, 0);
    if (e->kind == OX_ACT) {
        ox_act_shape(c, e->value, rank, dims);
        return;
    }
    *rank = e->c->ndim;
    memcpy(dims, e->c->shape, sizeof(int64_t) * (size_t)e->c->ndim);
}

static shr_status conv_shape(ox_ctx *c, const ox_node *n) {
    if (!ox_in(c, n, 0)) return ox_bad(c, "input is missing");
    int rank;
    int64_t dims[SHR_MAX_DIMS], start = 0, end = SHR_MAX_DIMS + 1;
    input_shape(c, n, &rank, dims);
    if (c->opset >= 15) {
        SHR_TRY(ox_attr_int(n, "start", 0, &start));
        SHR_TRY(ox_attr_int(n, "end", rank, &end));
    }
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = start < 0 ? 0 : (start > rank ? rank : start);
    end = end < start ? start : (end > rank ? rank : end);
    int64_t len = end - start;
    ox_const *k;
    SHR_TRY(ox_const_new(1, T_INT64, 1, &len, &k));
    for (int64_t i = 0; i < len; i++) k->i[i] = dims[start + i];
    return ox_out_const(c, n, 0, k);
}

static shr_status conv_size(ox_ctx *c, const ox_node *n) {
    if (!ox_in(c, n, 0)) return ox_bad(c, "input is missing");
    int rank;
    int64_t dims[SHR_MAX_DIMS], total = 1;
    input_shape(c, n, &rank, dims);
    for (int d = 0; d < rank; d++) {
        if (dims[d] == OX_BATCH) return ox_unsupported(c, "the size depends on the batch");
        total *= dims[d];
    }
    ox_const *k;
    SHR_TRY(ox_const_new(1, T_INT64, 0, NULL, &k));
    k->i[0] = total;
    return ox_out_const(c, n, 0, k);
}

/* Output 0 is input 0 (an alias; constants are copied). */
static shr_status pass_through(ox_ctx *c, const ox_node *n) {
    ox_entry *e = ox_in(c, n, 0);
    if (!e) return ox_bad(c, "input is missing");
    return ox_out_alias(c, n, 0, e);
}

static shr_status conv_identity(ox_ctx *c, const ox_node *n) { return pass_through(c, n); }

/* Inference only: Dropout is the identity; a training_mode input that is a
 * true constant, or a requested mask, is not supported (the mask output is
 * refused by the driver when something reads it). */
static shr_status conv_dropout(ox_ctx *c, const ox_node *n) {
    ox_entry *tm = ox_in(c, n, 2);
    if (tm && (tm->kind != OX_CONST || (tm->c->numel == 1 && ox_const_get_i(tm->c, 0) != 0)))
        return ox_unsupported(c, "training-mode Dropout");
    return pass_through(c, n);
}

static shr_status cast_to(ox_ctx *c, const ox_node *n, int64_t to) {
    ox_entry *e = ox_in(c, n, 0);
    if (!e) return ox_bad(c, "input is missing");
    if (!float_type((int)to) && !(to >= 2 && to <= 7) && to != T_BOOL && to != 12 && to != 13)
        return ox_unsupported(c, "cast to element type %lld", (long long)to);
    if (e->kind == OX_ACT) {
        if (!float_type((int)to)) return ox_unsupported(c, "cast of a computed value to integer type %lld", (long long)to);
        return ox_out_act(c, n, 0, e->value); /* shrink computes in float throughout */
    }
    const ox_const *s = e->c;
    if (ox_const_has_batch(s) && float_type((int)to)) return ox_unsupported(c, "a shape holding the batch used as data");
    ox_const *k;
    SHR_TRY(ox_const_new(!float_type((int)to), (int)to, s->ndim, s->shape, &k));
    for (int64_t i = 0; i < s->numel; i++) {
        if (!k->is_int) k->f[i] = (float)ox_const_get_f(s, i);
        else if (s->is_int) k->i[i] = to == T_BOOL ? s->i[i] != 0 : s->i[i];
        else {
            double v = s->f[i];
            if (!(fabs(v) < 9.2e18)) {
                ox_const_free(k);
                return ox_unsupported(c, "cast of %g to an integer", v);
            }
            k->i[i] = to == T_BOOL ? v != 0.0 : (int64_t)v; /* truncation, like numpy */
        }
    }
    return ox_out_const(c, n, 0, k);
}

static shr_status conv_cast(ox_ctx *c, const ox_node *n) {
    int64_t to;
    SHR_TRY(ox_attr_int(n, "to", -1, &to));
    return cast_to(c, n, to);
}

static shr_status conv_cast_like(ox_ctx *c, const ox_node *n) {
    ox_entry *e = ox_in(c, n, 1);
    if (!e) return ox_bad(c, "input 1 is missing");
    return cast_to(c, n, e->kind == OX_ACT ? T_FLOAT : e->c->onnx_type);
}

static shr_status conv_range(ox_ctx *c, const ox_node *n) {
    ox_const *s, *l, *d;
    SHR_TRY(ox_in_const(c, n, 0, &s));
    SHR_TRY(ox_in_const(c, n, 1, &l));
    SHR_TRY(ox_in_const(c, n, 2, &d));
    if (s->numel != 1 || l->numel != 1 || d->numel != 1) return ox_bad(c, "inputs must be scalars");
    if (ox_const_has_batch(s) || ox_const_has_batch(l) || ox_const_has_batch(d))
        return ox_unsupported(c, "a range over the batch size");
    double start = ox_const_get_f(s, 0), limit = ox_const_get_f(l, 0), delta = ox_const_get_f(d, 0);
    if (delta == 0 || !isfinite(start) || !isfinite(limit) || !isfinite(delta)) return ox_bad(c, "invalid range");
    double cnt = ceil((limit - start) / delta);
    int64_t len = cnt > 0 ? (int64_t)fmin(cnt, (double)OX_MAX_FOLD + 1) : 0;
    if (len > OX_MAX_FOLD) return shr_fail(SHR_ERR_LIMIT, "Range of more than %lld elements", (long long)OX_MAX_FOLD);
    ox_const *k;
    SHR_TRY(ox_const_new(s->is_int, s->onnx_type, 1, &len, &k));
    for (int64_t i = 0; i < len; i++) {
        if (k->is_int) k->i[i] = s->i[0] + i * d->i[0];
        else k->f[i] = (float)(start + (double)i * delta);
    }
    return ox_out_const(c, n, 0, k);
}

/* ---- binary arithmetic on constants, numpy broadcasting ---- */

static int int_op(const char *op, int64_t a, int64_t b, int64_t *out) {
    if (!strcmp(op, "Add")) return shr_add_overflow_i64(a, b, out);
    if (!strcmp(op, "Sub")) return __builtin_sub_overflow(a, b, out);
    if (!strcmp(op, "Mul")) return shr_mul_overflow_i64(a, b, out);
    if (!strcmp(op, "Div")) {
        if (b == 0 || (a == INT64_MIN && b == -1)) return 1;
        *out = a / b; /* truncation, like ONNX integer Div */
        return 0;
    }
    if (!strcmp(op, "Max")) { *out = a > b ? a : b; return 0; }
    if (!strcmp(op, "Min")) { *out = a < b ? a : b; return 0; }
    if (!strcmp(op, "Equal")) { *out = a == b; return 0; }
    if (!strcmp(op, "Less")) { *out = a < b; return 0; }
    if (!strcmp(op, "Greater")) { *out = a > b; return 0; }
    return 1;
}

static double float_op(const char *op, double a, double b) {
    if (!strcmp(op, "Add")) return (float)a + (float)b;
    if (!strcmp(op, "Sub")) return (float)a - (float)b;
    if (!strcmp(op, "Mul")) return (float)a * (float)b;
    if (!strcmp(op, "Div")) return (float)a / (float)b;
    if (!strcmp(op, "Pow")) return powf((float)a, (float)b);
    if (!strcmp(op, "Max")) return a >= b || a != a ? a : b;
    if (!strcmp(op, "Min")) return a <= b || a != a ? a : b;
    if (!strcmp(op, "PRelu")) return a > 0 ? a : (float)a * (float)b;
    if (!strcmp(op, "Equal")) return a == b;
    if (!strcmp(op, "Less")) return a < b;
    if (!strcmp(op, "Greater")) return a > b;
    return NAN;
}

shr_status ox_fold_binary(ox_ctx *c, const char *op, const ox_const *a, const ox_const *b, ox_const **out) {
    const int r = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t shape[SHR_MAX_DIMS];
    for (int d = 0; d < r; d++) {
        int64_t ad = d >= r - a->ndim ? a->shape[d - (r - a->ndim)] : 1, bd = d >= r - b->ndim ? b->shape[d - (r - b->ndim)] : 1;
        if (ad != bd && ad != 1 && bd != 1) return ox_bad(c, "constant shapes do not broadcast");
        shape[d] = ad == 1 ? bd : ad;
    }
    const int is_int = a->is_int && b->is_int;
    const int cmp = !strcmp(op, "Equal") || !strcmp(op, "Less") || !strcmp(op, "Greater");
    if (ox_const_has_batch(a) || ox_const_has_batch(b))
        return ox_unsupported(c, "arithmetic on the batch size (shrink keeps it symbolic)");
    ox_const *k;
    SHR_TRY(ox_const_new(is_int || cmp, cmp ? T_BOOL : (is_int ? a->onnx_type : T_FLOAT), r, shape, &k));
    int64_t idx[SHR_MAX_DIMS] = {0};
    for (int64_t e = 0; e < k->numel; e++) {
        int64_t ia = 0, ib = 0;
        for (int d = 0; d < r; d++) {
            if (d >= r - a->ndim) ia = ia * a->shape[d - (r - a->ndim)] + (a->shape[d - (r - a->ndim)] == 1 ? 0 : idx[d]);
            if (d >= r - b->ndim) ib = ib * b->shape[d - (r - b->ndim)] + (b->shape[d - (r - b->ndim)] == 1 ? 0 : idx[d]);
        }
        if (is_int) {
            int64_t v;
            if (int_op(op, a->i[ia], b->i[ib], &v)) {
                ox_const_free(k);
                return ox_unsupported(c, "integer %s of constants overflows or divides by zero", op);
            }
            k->i[e] = v;
        } else if (cmp) {
            k->i[e] = float_op(op, ox_const_get_f(a, ia), ox_const_get_f(b, ib)) != 0.0;
        } else {
            k->f[e] = (float)float_op(op, ox_const_get_f(a, ia), ox_const_get_f(b, ib));
        }
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < shape[d]) break;
            idx[d] = 0;
        }
    }
    *out = k;
    return SHR_OK;
}

const ox_op ox_ops_const[] = {
    {"Constant", 1, conv_constant}, {"ConstantOfShape", 9, conv_constant_of_shape},
    {"Shape", 1, conv_shape},       {"Size", 1, conv_size},
    {"Identity", 1, conv_identity}, {"Dropout", 6, conv_dropout},
    {"Cast", 6, conv_cast},         {"CastLike", 15, conv_cast_like},
    {"Range", 11, conv_range},
};
const int ox_ops_const_n = (int)(sizeof ox_ops_const / sizeof ox_ops_const[0]);
