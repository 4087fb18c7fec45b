/* Converters for element-wise ONNX ops: the unary math and activation ops,
 * Clip, the broadcasting binary ops (Add, Sub, Mul, Div, Pow, Max, Min,
 * PRelu) and the variadic Sum / Mean / Max / Min. Constant-only inputs are
 * folded at import; the batch never takes part in broadcasting. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/onnx/onnx_internal.h"
#include "nn/op.h"

/* Runs a shrink element-wise op on a constant (as a batch of one). */
static shr_status fold_unary(ox_ctx *c, shr_op op, const shr_attrs *a, const ox_const *k, ox_const **out) {
    if (k->is_int && !ox_const_has_batch(k) && (op == SHR_OP_NEG || op == SHR_OP_ABS)) { /* index arithmetic */
        SHR_TRY(ox_const_new(1, k->onnx_type, k->ndim, k->shape, out));
        for (int64_t i = 0; i < k->numel; i++) {
            if (k->i[i] == INT64_MIN) {
                ox_const_free(*out);
                *out = NULL;
                return ox_unsupported(c, "negating INT64_MIN");
            }
            (*out)->i[i] = op == SHR_OP_NEG || k->i[i] < 0 ? -k->i[i] : k->i[i];
        }
        return SHR_OK;
    }
    if (k->is_int || ox_const_has_batch(k)) return ox_unsupported(c, "element-wise math on an integer tensor");
    if (k->ndim + 1 > SHR_MAX_DIMS) return ox_unsupported(c, "constant of rank %d", k->ndim);
    int64_t shape[SHR_MAX_DIMS];
    shape[0] = 1;
    memcpy(shape + 1, k->shape, sizeof(int64_t) * (size_t)k->ndim);
    SHR_TRY(ox_const_new(0, k->onnx_type, k->ndim, k->shape, out));
    shr_tensor *tin = NULL, *tout = NULL;
    shr_status st = shr_tensor_view(&tin, SHR_F32, k->ndim + 1, shape, k->f);
    if (st == SHR_OK) st = shr_tensor_view(&tout, SHR_F32, k->ndim + 1, shape, (*out)->f);
    if (st == SHR_OK) {
        int dummy = 0;
        shr_node node = {(char *)"fold", op, *a, 1, &dummy, 0};
        shr_tensor *ins[1] = {tin};
        shr_op_io io = {.g = c->g, .node = &node, .in = ins, .out = tout};
        st = shr_op_def_get(op)->forward(&io);
    }
    shr_tensor_free(tin);
    shr_tensor_free(tout);
    if (st != SHR_OK) {
        ox_const_free(*out);
        *out = NULL;
    }
    return st;
}

/* Applies op to input 0 (activation or constant) and binds output 0. */
static shr_status unary(ox_ctx *c, const ox_node *n, shr_op op, const shr_attrs *a) {
    ox_entry *e = ox_in(c, n, 0);
    if (!e) return ox_bad(c, "input is missing");
    if (e->kind == OX_CONST) {
        ox_const *k;
        SHR_TRY(fold_unary(c, op, a, e->c, &k));
        return ox_out_const(c, n, 0, k);
    }
    return ox_emit_out(c, n, 0, op, a, 1, &e->value);
}

typedef struct unary_map {
    const char *name;
    shr_op op;
    int min_opset;
} unary_map;

static const unary_map plain[] = {
    {"Abs", SHR_OP_ABS, 6},        {"Neg", SHR_OP_NEG, 6},        {"Exp", SHR_OP_EXP, 6},
    {"Log", SHR_OP_LOG, 6},        {"Sqrt", SHR_OP_SQRT, 6},      {"Reciprocal", SHR_OP_RECIPROCAL, 6},
    {"Sin", SHR_OP_SIN, 7},        {"Cos", SHR_OP_COS, 7},        {"Tan", SHR_OP_TAN, 7},
    {"Asin", SHR_OP_ASIN, 7},      {"Acos", SHR_OP_ACOS, 7},      {"Atan", SHR_OP_ATAN, 7},
    {"Sinh", SHR_OP_SINH, 9},      {"Cosh", SHR_OP_COSH, 9},      {"Asinh", SHR_OP_ASINH, 9},
    {"Acosh", SHR_OP_ACOSH, 9},    {"Atanh", SHR_OP_ATANH, 9},    {"Erf", SHR_OP_ERF, 9},
    {"Ceil", SHR_OP_CEIL, 6},      {"Floor", SHR_OP_FLOOR, 6},    {"Round", SHR_OP_ROUND, 11},
    {"Sign", SHR_OP_SIGN, 9},      {"Softplus", SHR_OP_SOFTPLUS, 1}, {"Softsign", SHR_OP_SOFTSIGN, 1},
    {"HardSwish", SHR_OP_HARD_SWISH, 14}, {"Relu", SHR_OP_RELU, 6}, {"Sigmoid", SHR_OP_SIGMOID, 6},
    {"Tanh", SHR_OP_TANH, 6},
};

static shr_status conv_plain(ox_ctx *c, const ox_node *n) {
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (!strcmp(plain[i].name, n->op_type)) {
            shr_attrs a = shr_attrs_default();
            return unary(c, n, plain[i].op, &a);
        }
    return shr_fail(SHR_ERR_INTERNAL, "no mapping for %s", n->op_type);
}

static shr_status conv_leaky_relu(ox_ctx *c, const ox_node *n) {
    shr_attrs a = shr_attrs_default();
    SHR_TRY(ox_attr_float(n, "alpha", 0.01f, &a.alpha));
    /* leaky_relu reads a slope of 0 as its default 0.01: a zero slope is relu. */
    return unary(c, n, a.alpha == 0.0f ? SHR_OP_RELU : SHR_OP_LEAKY_RELU, &a);
}

/* Ops with scalar attributes: alpha into attrs.alpha, the second into attrs.eps. */
static shr_status conv_param(ox_ctx *c, const ox_node *n) {
    static const struct {
        const char *name;
        shr_op op;
        const char *p1, *p2;
        float d1, d2;
    } t[] = {
        {"Elu", SHR_OP_ELU, "alpha", NULL, 1.0f, 0},
        {"Celu", SHR_OP_CELU, "alpha", NULL, 1.0f, 0},
        {"Selu", SHR_OP_SELU, "alpha", "gamma", 1.67326319217681884765625f, 1.05070102214813232421875f},
        {"HardSigmoid", SHR_OP_HARD_SIGMOID, "alpha", "beta", 0.2f, 0.5f},
        {"ThresholdedRelu", SHR_OP_THRESHOLDED_RELU, "alpha", NULL, 1.0f, 0},
        {"Shrink", SHR_OP_SHRINK, "lambd", "bias", 0.5f, 0.0f},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (strcmp(t[i].name, n->op_type)) continue;
        shr_attrs a = shr_attrs_default();
        SHR_TRY(ox_attr_float(n, t[i].p1, t[i].d1, &a.alpha));
        a.eps = t[i].d2;
        if (t[i].p2) SHR_TRY(ox_attr_float(n, t[i].p2, t[i].d2, &a.eps));
        if (t[i].op == SHR_OP_CELU && a.alpha == 0.0f) return ox_bad(c, "alpha must not be 0");
        return unary(c, n, t[i].op, &a);
    }
    return shr_fail(SHR_ERR_INTERNAL, "no mapping for %s", n->op_type);
}

/* Clip: bounds from attributes (before opset 11) or constant inputs. */
static shr_status conv_clip(ox_ctx *c, const ox_node *n) {
    float lo = -INFINITY, hi = INFINITY;
    if (c->opset < 11) {
        SHR_TRY(ox_attr_float(n, "min", -INFINITY, &lo));
        SHR_TRY(ox_attr_float(n, "max", INFINITY, &hi));
    } else {
        for (int i = 1; i <= 2; i++) {
            if (!ox_in(c, n, i)) continue;
            ox_const *k;
            SHR_TRY(ox_in_const(c, n, i, &k));
            if (k->numel != 1 || ox_const_has_batch(k)) return ox_bad(c, "bound %d must be a scalar", i);
            *(i == 1 ? &lo : &hi) = (float)ox_const_get_f(k, 0);
        }
    }
    if (isnan(lo) || isnan(hi)) return ox_bad(c, "NaN bound");
    shr_attrs a = shr_attrs_default();
    a.alpha = lo;
    a.eps = hi;
    ox_entry *e = ox_in(c, n, 0);
    shr_op op = SHR_OP_CLIP;
    if (e && e->kind == OX_ACT && lo == 0.0f && hi == 6.0f) op = SHR_OP_RELU6;
    else if (e && e->kind == OX_ACT && lo == 0.0f && hi == INFINITY) op = SHR_OP_RELU;
    return unary(c, n, op, &a);
}

/* ---- binary ---- */

static shr_status emit_step(ox_ctx *c, const ox_node *n, int final, shr_op op, const shr_attrs *a, int n_in,
                            const int *ins, int *out) {
    if (!final) return ox_emit(c, n, op, a, n_in, ins, out);
    SHR_TRY(ox_emit_out(c, n, 0, op, a, n_in, ins));
    *out = -1;
    return SHR_OK;
}

/* An activation brought to ONNX rank r by leading 1s (lifted mode only). */
static shr_status widen(ox_ctx *c, const ox_node *n, int v, int r, int *out) {
    int rank;
    int64_t dims[SHR_MAX_DIMS], want[SHR_MAX_DIMS];
    ox_act_shape(c, v, &rank, dims);
    if (rank == r) {
        *out = v;
        return SHR_OK;
    }
    if (!c->lift) return ox_unsupported(c, "operands of ranks %d and %d would move the batch dim", rank, r);
    if (r + 1 > SHR_MAX_DIMS) return ox_unsupported(c, "rank %d exceeds shrink's limit", r);
    for (int d = 0; d < r; d++) want[d] = d < r - rank ? 1 : dims[d - (r - rank)];
    return ox_reshape(c, n, v, r, want, out);
}

/* y = a op b for ONNX op name `on` and shrink op; either may be a constant. */
shr_status ox_binary(ox_ctx *c, const ox_node *n, const char *on, shr_op op, ox_entry *ea, ox_entry *eb, int final,
                         int *out) {
    if (ea->kind == OX_CONST && eb->kind == OX_CONST) {
        ox_const *k;
        SHR_TRY(ox_fold_binary(c, on, ea->c, eb->c, &k));
        if (!final) return ox_unsupported(c, "constant intermediate"); /* callers fold whole chains */
        *out = -1;
        return ox_out_const(c, n, 0, k);
    }
    const int commutes = op == SHR_OP_ADD_BCAST || op == SHR_OP_MUL || op == SHR_OP_MAX || op == SHR_OP_MIN;
    if (ea->kind == OX_CONST) {
        if (commutes) return ox_binary(c, n, on, op, eb, ea, final, out);
        int v;
        shr_attrs none = shr_attrs_default();
        if (op == SHR_OP_SUB) { /* k - x = (-x) + k */
            SHR_TRY(ox_emit(c, n, SHR_OP_NEG, &none, 1, &eb->value, &v));
            ox_entry tmp = {.name = eb->name, .kind = OX_ACT, .value = v, .c = NULL};
            return ox_binary(c, n, "Add", SHR_OP_ADD_BCAST, &tmp, ea, final, out);
        }
        if (op == SHR_OP_DIV) { /* k / x = (1/x) * k */
            SHR_TRY(ox_emit(c, n, SHR_OP_RECIPROCAL, &none, 1, &eb->value, &v));
            ox_entry tmp = {.name = eb->name, .kind = OX_ACT, .value = v, .c = NULL};
            return ox_binary(c, n, "Mul", SHR_OP_MUL, &tmp, ea, final, out);
        }
        return ox_unsupported(c, "a constant first operand of %s", on);
    }
    int ra, rb;
    int64_t da[SHR_MAX_DIMS], db[SHR_MAX_DIMS];
    ox_act_shape(c, ea->value, &ra, da);
    int va = ea->value, vb;
    if (eb->kind == OX_ACT) {
        ox_act_shape(c, eb->value, &rb, db);
        int r = ra > rb ? ra : rb;
        SHR_TRY(widen(c, n, ea->value, r, &va));
        SHR_TRY(widen(c, n, eb->value, r, &vb));
        const shr_value *x = &c->g->values[va], *y = &c->g->values[vb];
        int same = x->ndim == y->ndim;
        for (int d = 0; same && d < x->ndim; d++) same = x->shape[d] == y->shape[d];
        if (same && op == SHR_OP_ADD_BCAST) op = SHR_OP_ADD; /* the plain residual add */
    } else {
        const ox_const *k = eb->c;
        if (k->ndim > ra) {
            if (!c->lift) return ox_unsupported(c, "a constant of rank %d against a value of rank %d would move the batch", k->ndim, ra);
            SHR_TRY(widen(c, n, va, k->ndim, &va));
        } else if (!c->lift && k->ndim == ra && k->shape[0] != 1) {
            return ox_unsupported(c, "the constant operand varies along dim 0, the batch in shrink");
        }
        SHR_TRY(ox_const_value(c, eb->c, op != SHR_OP_POW, -1, NULL, &vb));
    }
    const int ins[2] = {va, vb};
    return emit_step(c, n, final, op, NULL, 2, ins, out);
}

static const struct {
    const char *name;
    shr_op op;
} binary_ops[] = {{"Add", SHR_OP_ADD_BCAST}, {"Sub", SHR_OP_SUB}, {"Mul", SHR_OP_MUL},   {"Div", SHR_OP_DIV},
                  {"Pow", SHR_OP_POW},       {"Max", SHR_OP_MAX}, {"Min", SHR_OP_MIN},   {"PRelu", SHR_OP_PRELU},
                  {"Sum", SHR_OP_ADD_BCAST}, {"Mean", SHR_OP_ADD_BCAST}};

/* Before opset 7, B broadcast to A only with broadcast=1, aligned at `axis`
 * (default: the trailing dims), and PRelu's slope ran along the channel dim.
 * A constant B is given trailing 1s so numpy's rules say the same. */
static shr_status legacy_binary(ox_ctx *c, const ox_node *n, const char *on, shr_op op) {
    ox_entry *ea = ox_in(c, n, 0), *eb = ox_in(c, n, 1);
    int64_t bc = 0, axis = -1;
    const int prelu = op == SHR_OP_PRELU;
    if (!prelu) {
        SHR_TRY(ox_attr_int(n, "broadcast", 0, &bc));
        SHR_TRY(ox_attr_int(n, "axis", -1, &axis));
    }
    int ra = ea->kind == OX_ACT ? 0 : ea->c->ndim;
    int64_t da[SHR_MAX_DIMS];
    if (ea->kind == OX_ACT) ox_act_shape(c, ea->value, &ra, da);
    if (prelu && eb->kind == OX_CONST && eb->c->ndim == 1 && eb->c->numel > 1 && ra >= 2) axis = 1;
    else if (prelu) return ox_binary(c, n, on, op, ea, eb, 1, &(int){0});
    if (!prelu && !bc) return ox_binary(c, n, on, op, ea, eb, 1, &(int){0}); /* equal shapes */
    if (axis < 0 || eb->kind != OX_CONST) {
        if (axis >= 0 && eb->kind != OX_CONST) return ox_unsupported(c, "legacy broadcasting of a computed value at an axis");
        return ox_binary(c, n, on, op, ea, eb, 1, &(int){0});
    }
    const ox_const *k = eb->c;
    const int r = (int)(ra - axis);
    if (axis > ra || r < k->ndim) return ox_bad(c, "broadcast axis %lld does not fit", (long long)axis);
    int64_t shape[SHR_MAX_DIMS];
    for (int d = 0; d < r; d++) shape[d] = d < k->ndim ? k->shape[d] : 1;
    ox_const *kk;
    SHR_TRY(ox_const_new(k->is_int, k->onnx_type, r, shape, &kk));
    memcpy(k->is_int ? (void *)kk->i : (void *)kk->f, k->is_int ? (void *)k->i : (void *)k->f,
           (size_t)k->numel * (k->is_int ? sizeof *k->i : sizeof *k->f));
    kk->trainable = k->trainable;
    kk->name = k->name;
    ox_entry tmp = {.name = eb->name, .kind = OX_CONST, .value = -1, .c = kk};
    int v;
    shr_status st = ox_binary(c, n, on, op, ea, &tmp, 1, &v);
    ox_const_free(kk);
    return st;
}

static shr_status conv_binary(ox_ctx *c, const ox_node *n) {
    shr_op op = SHR_OP_COUNT;
    const char *fold_name = n->op_type;
    for (size_t i = 0; i < sizeof binary_ops / sizeof binary_ops[0]; i++)
        if (!strcmp(binary_ops[i].name, n->op_type)) op = binary_ops[i].op;
    if (op == SHR_OP_COUNT) return shr_fail(SHR_ERR_INTERNAL, "no mapping for %s", n->op_type);
    const int is_mean = !strcmp(n->op_type, "Mean");
    if (is_mean || !strcmp(n->op_type, "Sum")) fold_name = "Add";
    const int count = (int)n->n_input;
    for (int i = 0; i < count; i++)
        if (!ox_in(c, n, i)) return ox_bad(c, "input %d is missing", i);
    if (c->opset < 7 && count == 2) return legacy_binary(c, n, fold_name, op);
    if (count < 1 || (count != 2 && op != SHR_OP_ADD_BCAST && op != SHR_OP_MAX && op != SHR_OP_MIN))
        return ox_bad(c, "%d inputs", count);
    if (count == 1 && !is_mean) return ox_out_alias(c, n, 0, ox_in(c, n, 0));
    /* Fold constants first (left to right), then combine with the activations. */
    ox_entry acc = *ox_in(c, n, 0);
    ox_const *owned = NULL;
    shr_status st = SHR_OK;
    for (int i = 1; i < count && st == SHR_OK; i++) {
        ox_entry *e = ox_in(c, n, i);
        int last = i == count - 1 && !is_mean;
        if (acc.kind == OX_CONST && e->kind == OX_CONST) {
            ox_const *k;
            st = ox_fold_binary(c, fold_name, acc.c, e->c, &k);
            if (st != SHR_OK) break;
            ox_const_free(owned);
            owned = k;
            acc.c = k;
            if (last) {
                owned = NULL;
                st = ox_out_const(c, n, 0, k);
                acc.kind = 0;
            }
            continue;
        }
        int v;
        st = ox_binary(c, n, fold_name, op, &acc, e, last, &v);
        acc.kind = OX_ACT;
        acc.value = v;
        acc.c = NULL;
    }
    if (st == SHR_OK && is_mean) { /* the sum times 1/count */
        ox_const *k = NULL;
        st = ox_const_new(0, 1, 0, NULL, &k);
        if (st == SHR_OK) {
            k->f[0] = 1.0f / (float)count;
            ox_entry ek = {.name = "mean_scale", .kind = OX_CONST, .value = -1, .c = k};
            int v;
            if (acc.kind == OX_CONST) {
                ox_const *r;
                st = ox_fold_binary(c, "Mul", acc.c, k, &r);
                if (st == SHR_OK) st = ox_out_const(c, n, 0, r);
            } else {
                st = ox_binary(c, n, "Mul", SHR_OP_MUL, &acc, &ek, 1, &v);
            }
            ox_const_free(k);
        }
    }
    ox_const_free(owned);
    return st;
}

const ox_op ox_ops_elem[] = {
    {"Abs", 6, conv_plain},      {"Neg", 6, conv_plain},      {"Exp", 6, conv_plain},         {"Log", 6, conv_plain},
    {"Sqrt", 6, conv_plain},     {"Reciprocal", 6, conv_plain}, {"Sin", 7, conv_plain},       {"Cos", 7, conv_plain},
    {"Tan", 7, conv_plain},      {"Asin", 7, conv_plain},     {"Acos", 7, conv_plain},        {"Atan", 7, conv_plain},
    {"Sinh", 9, conv_plain},     {"Cosh", 9, conv_plain},     {"Asinh", 9, conv_plain},       {"Acosh", 9, conv_plain},
    {"Atanh", 9, conv_plain},    {"Erf", 9, conv_plain},      {"Ceil", 6, conv_plain},        {"Floor", 6, conv_plain},
    {"Round", 11, conv_plain},   {"Sign", 9, conv_plain},     {"Softplus", 1, conv_plain},    {"Softsign", 1, conv_plain},
    {"HardSwish", 14, conv_plain}, {"Relu", 6, conv_plain},   {"Sigmoid", 6, conv_plain},     {"Tanh", 6, conv_plain},
    {"LeakyRelu", 6, conv_leaky_relu}, {"Elu", 6, conv_param}, {"Celu", 12, conv_param},      {"Selu", 6, conv_param},
    {"HardSigmoid", 6, conv_param}, {"ThresholdedRelu", 10, conv_param}, {"Shrink", 9, conv_param},
    {"Clip", 6, conv_clip},      {"Add", 6, conv_binary},     {"Sub", 6, conv_binary},        {"Mul", 6, conv_binary},
    {"Div", 6, conv_binary},     {"Pow", 6, conv_binary},     {"Max", 6, conv_binary},        {"Min", 6, conv_binary},
    {"PRelu", 6, conv_binary},   {"Sum", 6, conv_binary},     {"Mean", 6, conv_binary},
};
const int ox_ops_elem_n = (int)(sizeof ox_ops_elem / sizeof ox_ops_elem[0]);
