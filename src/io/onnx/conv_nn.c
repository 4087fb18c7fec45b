/* Converters for the layer ops: Conv (1-D and 2-D, groups, dilations,
 * explicit or auto padding), Gemm, MatMul, BatchNormalization (inference),
 * MaxPool / AveragePool (1-D and 2-D, ceil mode), GlobalAveragePool,
 * GlobalMaxPool, Softmax and LogSoftmax (both opset conventions).
 * 1-D convolutions and pools run as 2-D ones over a (N, C, 1, L) view. */
#include <math.h>
#include <string.h>

#include "io/onnx/onnx_internal.h"

/* ---- window geometry shared by Conv and the pools ---- */

typedef struct win {
    int nd;                 /* spatial dims: 1 or 2 */
    int64_t in[2], k[2], s[2], d[2], pb[2], pe[2]; /* input, kernel, stride, dilation, pads begin/end */
} win;

/* Reads kernel_shape (or kernel from the weight), strides, dilations, pads
 * and auto_pad for nd spatial dims of sizes in[]. */
static shr_status read_window(ox_ctx *c, const ox_node *n, int nd, const int64_t *in, const int64_t *kw, win *w) {
    int64_t v[4];
    int cnt;
    memset(w, 0, sizeof *w);
    w->nd = nd;
    for (int i = 0; i < nd; i++) {
        w->in[i] = in[i];
        w->k[i] = kw ? kw[i] : 0;
        w->s[i] = w->d[i] = 1;
    }
    SHR_TRY(ox_attr_ints(n, "kernel_shape", v, 2, &cnt));
    if (cnt >= 0 && cnt != nd) return ox_bad(c, "kernel_shape has %d entries for %d spatial dims", cnt, nd);
    for (int i = 0; cnt > 0 && i < nd; i++) {
        if (kw && v[i] != kw[i]) return ox_bad(c, "kernel_shape does not match the weight");
        w->k[i] = v[i];
    }
    SHR_TRY(ox_attr_ints(n, "strides", v, 2, &cnt));
    if (cnt >= 0 && cnt != nd) return ox_bad(c, "strides has %d entries", cnt);
    for (int i = 0; cnt > 0 && i < nd; i++) w->s[i] = v[i];
    SHR_TRY(ox_attr_ints(n, "dilations", v, 2, &cnt));
    if (cnt >= 0 && cnt != nd) return ox_bad(c, "dilations has %d entries", cnt);
    for (int i = 0; cnt > 0 && i < nd; i++) w->d[i] = v[i];
    for (int i = 0; i < nd; i++)
        if (w->k[i] < 1 || w->s[i] < 1 || w->d[i] < 1 || w->k[i] > INT32_MAX || w->s[i] > INT32_MAX || w->d[i] > INT32_MAX)
            return ox_bad(c, "kernel, strides and dilations must be positive");
    char ap[32];
    SHR_TRY(ox_attr_string(n, "auto_pad", ap, sizeof ap));
    if (!ap[0] || !strcmp(ap, "NOTSET")) {
        SHR_TRY(ox_attr_ints(n, "pads", v, 4, &cnt));
        if (cnt >= 0 && cnt != 2 * nd) return ox_bad(c, "pads has %d entries for %d spatial dims", cnt, nd);
        for (int i = 0; cnt > 0 && i < nd; i++) {
            w->pb[i] = v[i];
            w->pe[i] = v[i + nd];
            if (w->pb[i] < 0 || w->pe[i] < 0 || w->pb[i] > INT32_MAX || w->pe[i] > INT32_MAX)
                return ox_unsupported(c, "negative or huge pads");
        }
    } else if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
        for (int i = 0; i < nd; i++) {
            int64_t out = (w->in[i] + w->s[i] - 1) / w->s[i];
            int64_t total = (out - 1) * w->s[i] + (w->k[i] - 1) * w->d[i] + 1 - w->in[i];
            if (total < 0) total = 0;
            w->pb[i] = ap[5] == 'U' ? total / 2 : total - total / 2;
            w->pe[i] = total - w->pb[i];
        }
    } else if (strcmp(ap, "VALID")) {
        return ox_bad(c, "unknown auto_pad '%s'", ap);
    }
    return SHR_OK;
}

/* shrink attrs for a 2-D window (1-D: height 1). */
static void window_attrs(const win *w, shr_attrs *a) {
    const int o = w->nd == 1; /* the 1-D dim is the width */
    a->kernel[0] = o ? 1 : (int)w->k[0];
    a->kernel[1] = (int)w->k[1 - o];
    a->stride[0] = o ? 1 : (int)w->s[0];
    a->stride[1] = (int)w->s[1 - o];
    a->dilation[0] = o ? 1 : (int)w->d[0];
    a->dilation[1] = (int)w->d[1 - o];
    a->pad[0] = o ? 0 : (int)w->pb[0];
    a->pad[1] = (int)w->pb[1 - o];
    a->pad[2] = o ? 0 : (int)w->pe[0];
    a->pad[3] = (int)w->pe[1 - o];
}

/* The NCHW input of a window op: rank 3 or 4 in batch mode, viewed as 4-D. */
static shr_status window_input(ox_ctx *c, const ox_node *n, int *v, int *rank, int64_t *dims) {
    SHR_TRY(ox_in_act(c, n, 0, v));
    ox_act_shape(c, *v, rank, dims);
    if (c->lift) return ox_unsupported(c, "needs dim 0 as the batch (import with the batch in dim 0)");
    if (*rank != 3 && *rank != 4) return ox_unsupported(c, "%d-D windows (shrink has 1-D and 2-D)", *rank - 2);
    if (*rank == 3) {
        int64_t d4[4] = {OX_BATCH, dims[1], 1, dims[2]};
        SHR_TRY(ox_reshape(c, n, *v, 4, d4, v));
    }
    return SHR_OK;
}

/* Emits op on the 4-D view and binds output 0 in the input's rank. */
static shr_status window_output(ox_ctx *c, const ox_node *n, int rank, shr_op op, const shr_attrs *a, int n_in,
                                const int *ins) {
    if (rank == 4) return ox_emit_out(c, n, 0, op, a, n_in, ins);
    int v, r4;
    int64_t d4[SHR_MAX_DIMS];
    SHR_TRY(ox_emit(c, n, op, a, n_in, ins, &v));
    ox_act_shape(c, v, &r4, d4);
    int64_t d3[3] = {OX_BATCH, d4[1], d4[3]};
    SHR_TRY(ox_reshape(c, n, v, 3, d3, &v));
    return ox_out_act(c, n, 0, v);
}

static shr_status conv_conv(ox_ctx *c, const ox_node *n) {
    int x, rank;
    int64_t dims[SHR_MAX_DIMS];
    SHR_TRY(window_input(c, n, &x, &rank, dims));
    ox_const *w, *b = NULL;
    SHR_TRY(ox_in_const(c, n, 1, &w));
    if (ox_in(c, n, 2)) SHR_TRY(ox_in_const(c, n, 2, &b));
    const int nd = rank - 2;
    if (w->ndim != rank) return ox_bad(c, "weight rank %d does not match the input rank %d", w->ndim, rank);
    int64_t group;
    SHR_TRY(ox_attr_int(n, "group", 1, &group));
    if (group < 1 || group > INT32_MAX || dims[1] % group || w->shape[0] % group || w->shape[1] * group != dims[1])
        return ox_bad(c, "group %lld does not fit %lld input channels and weight [%lld, %lld, ...]", (long long)group,
                      (long long)dims[1], (long long)w->shape[0], (long long)w->shape[1]);
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0])) return ox_bad(c, "bias does not match the output channels");
    win wi;
    SHR_TRY(read_window(c, n, nd, dims + 2, w->shape + 2, &wi));
    shr_attrs a = shr_attrs_default();
    window_attrs(&wi, &a);
    a.groups = (int)group;
    int64_t ws[4] = {w->shape[0], w->shape[1], a.kernel[0], a.kernel[1]};
    int ins[3] = {x, -1, -1};
    SHR_TRY(ox_const_value(c, w, 1, nd == 1 ? 4 : -1, nd == 1 ? ws : NULL, &ins[1]));
    if (b) SHR_TRY(ox_const_value(c, b, 1, -1, NULL, &ins[2]));
    return window_output(c, n, rank, SHR_OP_CONV2D, &a, b ? 3 : 2, ins);
}

static shr_status pool(ox_ctx *c, const ox_node *n, shr_op op) {
    int x, rank;
    int64_t dims[SHR_MAX_DIMS], ceil_mode, cip = 0;
    SHR_TRY(window_input(c, n, &x, &rank, dims));
    win wi;
    SHR_TRY(read_window(c, n, rank - 2, dims + 2, NULL, &wi));
    SHR_TRY(ox_attr_int(n, "ceil_mode", 0, &ceil_mode));
    if (op == SHR_OP_AVGPOOL2D) SHR_TRY(ox_attr_int(n, "count_include_pad", 0, &cip));
    for (int i = 0; i < wi.nd; i++) {
        if (wi.d[i] != 1) return ox_unsupported(c, "dilated pooling");
        if (!ceil_mode) continue;
        /* Ceil mode = extra end padding that reaches the last partial window. */
        int64_t span = wi.in[i] + wi.pb[i] + wi.pe[i] - wi.k[i];
        if (span < 0) return ox_bad(c, "kernel larger than the padded input");
        int64_t out = (span + wi.s[i] - 1) / wi.s[i] + 1, extra = (out - 1) * wi.s[i] - span;
        if (extra > 0 && op == SHR_OP_AVGPOOL2D && cip)
            return ox_unsupported(c, "ceil_mode with count_include_pad where the last window overhangs");
        wi.pe[i] += extra;
    }
    shr_attrs a = shr_attrs_default();
    window_attrs(&wi, &a);
    a.count_include_pad = cip != 0;
    return window_output(c, n, rank, op, &a, 1, &x);
}

static shr_status conv_maxpool(ox_ctx *c, const ox_node *n) {
    int64_t so;
    SHR_TRY(ox_attr_int(n, "storage_order", 0, &so));
    return pool(c, n, SHR_OP_MAXPOOL2D);
}
static shr_status conv_avgpool(ox_ctx *c, const ox_node *n) { return pool(c, n, SHR_OP_AVGPOOL2D); }

/* Global pools: the shrink global_avgpool for 4-D averages, else a reduction
 * over every spatial dim with keepdims. */
static shr_status global_pool(ox_ctx *c, const ox_node *n, shr_op reduce) {
    int x, rank;
    int64_t dims[SHR_MAX_DIMS];
    SHR_TRY(ox_in_act(c, n, 0, &x));
    ox_act_shape(c, x, &rank, dims);
    if (rank < 3) return ox_bad(c, "input needs spatial dims");
    shr_attrs a = shr_attrs_default();
    if (!c->lift && rank == 4 && reduce == SHR_OP_REDUCE_MEAN)
        return ox_emit_out(c, n, 0, SHR_OP_GLOBAL_AVGPOOL, &a, 1, &x);
    a.ndim = rank - 2;
    for (int d = 2; d < rank; d++) a.shape[d - 2] = d + c->lift;
    a.count_include_pad = 1;
    return ox_emit_out(c, n, 0, reduce, &a, 1, &x);
}
static shr_status conv_global_avg(ox_ctx *c, const ox_node *n) { return global_pool(c, n, SHR_OP_REDUCE_MEAN); }
static shr_status conv_global_max(ox_ctx *c, const ox_node *n) { return global_pool(c, n, SHR_OP_REDUCE_MAX); }

static shr_status conv_batchnorm(ox_ctx *c, const ox_node *n) {
    int x, rank;
    int64_t dims[SHR_MAX_DIMS], training = 0, spatial = 1;
    SHR_TRY(ox_in_act(c, n, 0, &x));
    ox_act_shape(c, x, &rank, dims);
    if (c->lift) return ox_unsupported(c, "needs dim 0 as the batch (import with the batch in dim 0)");
    if (rank < 2) return ox_bad(c, "input needs a channel dim");
    SHR_TRY(ox_attr_int(n, "training_mode", 0, &training));
    if (c->opset < 9) SHR_TRY(ox_attr_int(n, "spatial", 1, &spatial));
    if (training || !spatial) return ox_unsupported(c, "%s", training ? "training-mode BatchNormalization" : "spatial=0");
    float eps, mom;
    SHR_TRY(ox_attr_float(n, "epsilon", 1e-5f, &eps));
    SHR_TRY(ox_attr_float(n, "momentum", 0.9f, &mom));
    if (!(eps > 0.0f) || !isfinite(eps)) return ox_unsupported(c, "epsilon %g (shrink needs a positive one)", (double)eps);
    int ins[5] = {x, -1, -1, -1, -1};
    for (int i = 1; i <= 4; i++) {
        ox_const *k;
        SHR_TRY(ox_in_const(c, n, i, &k));
        if (k->numel != dims[1] || k->ndim != 1) return ox_bad(c, "input %d must have %lld elements", i, (long long)dims[1]);
        SHR_TRY(ox_const_value(c, k, i <= 2, -1, NULL, &ins[i]));
    }
    shr_attrs a = shr_attrs_default();
    a.eps = eps;
    a.momentum = (mom >= 0.0f && mom < 1.0f) ? 1.0f - mom : 0.1f; /* ONNX keeps `momentum` of the old value */
    if (rank <= 4) return ox_emit_out(c, n, 0, SHR_OP_BATCHNORM, &a, 5, ins);
    /* (N, C, D...) -> (N, C, prod D) -> batchnorm -> back: the statistics are per channel. */
    int64_t flat[3] = {OX_BATCH, dims[1], 1};
    for (int d = 2; d < rank; d++) flat[2] *= dims[d];
    int v;
    SHR_TRY(ox_reshape(c, n, x, 3, flat, &ins[0]));
    SHR_TRY(ox_emit(c, n, SHR_OP_BATCHNORM, &a, 5, ins, &v));
    SHR_TRY(ox_reshape(c, n, v, rank, dims, &v));
    return ox_out_act(c, n, 0, v);
}

/* A float constant transposed in its last two dims and scaled. */
static shr_status const_t(ox_ctx *c, const ox_const *k, int transpose, float scale, ox_const **out) {
    int64_t shape[2] = {transpose ? k->shape[1] : k->shape[0], transpose ? k->shape[0] : k->shape[1]};
    if (k->is_int) return ox_unsupported(c, "integer weights");
    SHR_TRY(ox_const_new(0, k->onnx_type, 2, shape, out));
    for (int64_t i = 0; i < shape[0]; i++)
        for (int64_t j = 0; j < shape[1]; j++)
            (*out)->f[i * shape[1] + j] = scale * k->f[transpose ? j * k->shape[1] + i : i * k->shape[1] + j];
    (*out)->trainable = k->trainable;
    (*out)->name = k->name;
    return SHR_OK;
}

/* y = x @ w (+ bias) for an activation x of ONNX rank r >= 2 and a 2-D constant w
 * (K, P): linear when r == 2 in batch mode, else matmul. bias: (P) or NULL. */
static shr_status dense(ox_ctx *c, const ox_node *n, int x, int r, const ox_const *w, const ox_const *bias, int final,
                        int *out) {
    int ins[3] = {x, -1, -1};
    shr_op op = (!c->lift && r == 2) ? SHR_OP_LINEAR : SHR_OP_MATMUL;
    ox_const *wt = NULL;
    SHR_TRY(const_t(c, w, op == SHR_OP_LINEAR, 1.0f, &wt));
    wt->value = -1;
    shr_status st = ox_const_value(c, wt, 1, -1, NULL, &ins[1]);
    ox_const_free(wt);
    SHR_TRY(st);
    if (bias) SHR_TRY(ox_const_value(c, (ox_const *)bias, 1, 1, (int64_t[]){w->shape[1]}, &ins[2]));
    if (final) {
        *out = -1;
        return ox_emit_out(c, n, 0, op, NULL, bias ? 3 : 2, ins);
    }
    return ox_emit(c, n, op, NULL, bias ? 3 : 2, ins, out);
}

static shr_status conv_gemm(ox_ctx *c, const ox_node *n) {
    int x, r;
    int64_t dims[SHR_MAX_DIMS], ta, tb;
    float alpha, beta;
    SHR_TRY(ox_in_act(c, n, 0, &x));
    ox_act_shape(c, x, &r, dims);
    ox_const *b, *cc = NULL;
    SHR_TRY(ox_in_const(c, n, 1, &b));
    if (ox_in(c, n, 2)) SHR_TRY(ox_in_const(c, n, 2, &cc));
    if (cc && cc->is_int) return ox_unsupported(c, "integer C");
    SHR_TRY(ox_attr_int(n, "transA", 0, &ta));
    SHR_TRY(ox_attr_int(n, "transB", 0, &tb));
    SHR_TRY(ox_attr_float(n, "alpha", 1.0f, &alpha));
    SHR_TRY(ox_attr_float(n, "beta", 1.0f, &beta));
    if (r != 2 || b->ndim != 2) return ox_bad(c, "Gemm takes 2-D operands");
    if (ta) {
        if (!c->lift) return ox_unsupported(c, "transA on an input whose dim 0 is the batch");
        shr_attrs p = shr_attrs_default();
        p.ndim = 3;
        p.shape[0] = 0;
        p.shape[1] = 2;
        p.shape[2] = 1;
        SHR_TRY(ox_emit(c, n, SHR_OP_TRANSPOSE, &p, 1, &x, &x));
        int64_t t = dims[0];
        dims[0] = dims[1];
        dims[1] = t;
    }
    ox_const *w;
    SHR_TRY(const_t(c, b, tb != 0, alpha, &w)); /* (K, P) */
    shr_status st = SHR_OK;
    if (w->shape[0] != dims[1]) st = ox_bad(c, "inner dims differ");
    /* C: a bias vector when it broadcasts over the rows, else a separate add. */
    ox_const *bias = NULL;
    const int64_t P = w->shape[1];
    int vector = cc && (cc->numel == P || cc->numel == 1) && (cc->ndim < 2 || cc->shape[0] == 1);
    if (st == SHR_OK && vector) {
        st = ox_const_new(0, cc->onnx_type, 1, &P, &bias);
        for (int64_t i = 0; st == SHR_OK && i < P; i++) bias->f[i] = beta * cc->f[cc->numel == 1 ? 0 : i];
        if (st == SHR_OK) {
            bias->trainable = cc->trainable;
            bias->name = cc->name;
        }
    }
    int v;
    if (st == SHR_OK) st = dense(c, n, x, 2, w, bias, !cc || bias, &v);
    ox_const_free(w);
    ox_const_free(bias);
    SHR_TRY(st);
    if (!cc || vector) return SHR_OK;
    if (!c->lift) return ox_unsupported(c, "a bias C that varies along dim 0, the batch in shrink");
    ox_const *scaled;
    SHR_TRY(ox_const_new(0, cc->onnx_type, cc->ndim, cc->shape, &scaled));
    for (int64_t i = 0; i < cc->numel; i++) scaled->f[i] = beta * cc->f[i];
    scaled->trainable = cc->trainable;
    scaled->name = cc->name;
    int cv;
    st = ox_const_value(c, scaled, 1, -1, NULL, &cv);
    ox_const_free(scaled);
    SHR_TRY(st);
    return ox_emit_out(c, n, 0, SHR_OP_ADD_BCAST, NULL, 2, (int[]){v, cv});
}

static shr_status conv_matmul(ox_ctx *c, const ox_node *n) {
    int x, r;
    int64_t dims[SHR_MAX_DIMS];
    SHR_TRY(ox_in_act(c, n, 0, &x));
    ox_act_shape(c, x, &r, dims);
    ox_entry *eb = ox_in(c, n, 1);
    if (!eb) return ox_bad(c, "input 1 is missing");
    if (r < 2) return ox_unsupported(c, "a 1-D first operand");
    if (eb->kind == OX_ACT) return ox_emit_out(c, n, 0, SHR_OP_MATMUL, NULL, 2, (int[]){x, eb->value});
    ox_const *b = eb->c;
    if (b->ndim == 2) {
        int v;
        return dense(c, n, x, r, b, NULL, 1, &v);
    }
    if (b->ndim == 1) { /* (K) is (K, 1); the 1 is dropped again */
        int64_t k2[2] = {b->shape[0], 1};
        int bv, v;
        SHR_TRY(ox_const_value(c, b, 1, 2, k2, &bv));
        SHR_TRY(ox_emit(c, n, SHR_OP_MATMUL, NULL, 2, (int[]){x, bv}, &v));
        SHR_TRY(ox_reshape(c, n, v, r - 1, dims, &v));
        return ox_out_act(c, n, 0, v);
    }
    int bv;
    SHR_TRY(ox_const_value(c, b, 1, -1, NULL, &bv));
    return ox_emit_out(c, n, 0, SHR_OP_MATMUL, NULL, 2, (int[]){x, bv});
}

/* Softmax / LogSoftmax. From opset 13 along one axis (default -1); before,
 * over all dims from `axis` on (default 1), done on a flattened view. */
static shr_status softmax(ox_ctx *c, const ox_node *n, shr_op op) {
    int x, r, ax;
    int64_t dims[SHR_MAX_DIMS], axis;
    SHR_TRY(ox_in_act(c, n, 0, &x));
    ox_act_shape(c, x, &r, dims);
    SHR_TRY(ox_attr_int(n, "axis", c->opset >= 13 ? -1 : 1, &axis));
    SHR_TRY(ox_axis(c, axis, r, &ax));
    shr_attrs a = shr_attrs_default();
    a.axis = ax;
    int a0 = ax - c->lift;
    if (c->opset >= 13 || a0 == r - 1) return ox_emit_out(c, n, 0, op, &a, 1, &x);
    int64_t flat[SHR_MAX_DIMS];
    for (int d = 0; d < a0; d++) flat[d] = dims[d];
    flat[a0] = 1;
    for (int d = a0; d < r; d++) flat[a0] *= dims[d];
    int v;
    SHR_TRY(ox_reshape(c, n, x, a0 + 1, flat, &v));
    SHR_TRY(ox_emit(c, n, op, &a, 1, &v, &v));
    SHR_TRY(ox_reshape(c, n, v, r, dims, &v));
    return ox_out_act(c, n, 0, v);
}
static shr_status conv_softmax(ox_ctx *c, const ox_node *n) { return softmax(c, n, SHR_OP_SOFTMAX); }
static shr_status conv_log_softmax(ox_ctx *c, const ox_node *n) { return softmax(c, n, SHR_OP_LOG_SOFTMAX); }

const ox_op ox_ops_nn[] = {
    {"Conv", 1, conv_conv},
    {"Gemm", 6, conv_gemm},
    {"MatMul", 1, conv_matmul},
    {"BatchNormalization", 6, conv_batchnorm},
    {"MaxPool", 1, conv_maxpool},
    {"AveragePool", 1, conv_avgpool},
    {"GlobalAveragePool", 1, conv_global_avg},
    {"GlobalMaxPool", 1, conv_global_max},
    {"Softmax", 1, conv_softmax},
    {"LogSoftmax", 1, conv_log_softmax},
};
const int ox_ops_nn_n = (int)(sizeof ox_ops_nn / sizeof ox_ops_nn[0]);
