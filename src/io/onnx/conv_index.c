/* Converters for ops that select or pad elements, and the reductions: Slice,
 * Gather, Tile, Split (all as shrink gathers with index lists on activations, folded
 * on constants), Pad (shrink pad on the last two dims), and ReduceSum / Mean /
 * Max / Min / Prod / L1 / L2 / SumSquare / LogSum / LogSumExp. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "io/onnx/onnx_internal.h"

/* out = k with dim `axis` replaced by the index list idx (shape ishape, rank ir). */
static shr_status gather_const(const ox_const *k, int axis, const int64_t *idx, int ir, const int64_t *ishape,
                               ox_const **out) {
    int64_t shape[SHR_MAX_DIMS], outer = 1, inner = 1, cnt = 1;
    int r = 0;
    if (k->ndim - 1 + ir > SHR_MAX_DIMS) return shr_fail(SHR_ERR_UNSUPPORTED, "gather result of rank > %d", SHR_MAX_DIMS);
    for (int d = 0; d < axis; d++) outer *= (shape[r++] = k->shape[d]);
    for (int d = 0; d < ir; d++) cnt *= (shape[r++] = ishape[d]);
    for (int d = axis + 1; d < k->ndim; d++) inner *= (shape[r++] = k->shape[d]);
    SHR_TRY(ox_const_new(k->is_int, k->onnx_type, r, shape, out));
    const int64_t len = k->shape[axis];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < cnt; j++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t dst = (o * cnt + j) * inner + i, src = (o * len + idx[j]) * inner + i;
                if (k->is_int) (*out)->i[dst] = k->i[src];
                else (*out)->f[dst] = k->f[src];
            }
    (*out)->trainable = k->trainable;
    (*out)->name = k->name;
    return SHR_OK;
}

/* Applies a 1-D index list along ONNX axis `axis` to the entry *e (activation:
 * a gather node; constant: folded). *e is updated; owned constants are freed. */
static shr_status select_axis(ox_ctx *c, const ox_node *n, ox_entry *e, int rank, int axis, const int64_t *idx,
                              int ir, const int64_t *ishape, ox_const **owned) {
    int64_t cnt = 1;
    for (int d = 0; d < ir; d++) cnt *= ishape[d];
    if (e->kind == OX_CONST) {
        ox_const *k;
        SHR_TRY(gather_const(e->c, axis, idx, ir, ishape, &k));
        ox_const_free(*owned);
        *owned = k;
        e->c = k;
        return SHR_OK;
    }
    int sa;
    SHR_TRY(ox_axis(c, axis, rank, &sa));
    float *fi = malloc((size_t)(cnt ? cnt : 1) * sizeof *fi);
    if (!fi) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int64_t j = 0; j < cnt; j++) fi[j] = (float)idx[j];
    int iv;
    shr_status st = ox_buffer(c, "indices", ir, ishape, fi, &iv);
    free(fi);
    SHR_TRY(st);
    shr_attrs a = shr_attrs_default();
    a.axis = sa;
    return ox_emit(c, n, SHR_OP_GATHER, &a, 2, (int[]){e->value, iv}, &e->value);
}

static shr_status entry_shape(ox_ctx *c, const ox_entry *e, int *rank, int64_t *dims) {
    if (e->kind == OX_ACT) {
        ox_act_shape(c, e->value, rank, dims);
    } else {
        *rank = e->c->ndim;
        memcpy(dims, e->c->shape, sizeof(int64_t) * (size_t)*rank);
    }
    return SHR_OK;
}

/* Binds output 0 to the (possibly updated) entry e, taking ownership of owned. */
static shr_status finish(ox_ctx *c, const ox_node *n, ox_entry *e, ox_const *owned) {
    if (e->kind == OX_CONST && owned) return ox_out_const(c, n, 0, owned);
    shr_status st = ox_out_alias(c, n, 0, e);
    ox_const_free(owned);
    return st;
}

/* Reads an int list from input i (opset >= 10 style) or attribute `attr`. */
static shr_status int_list(ox_ctx *c, const ox_node *n, int i, const char *attr, int64_t *out, int *count) {
    if (attr) return ox_attr_ints(n, attr, out, SHR_MAX_DIMS, count);
    *count = -1;
    if (!ox_in(c, n, i)) return SHR_OK;
    ox_const *k;
    SHR_TRY(ox_in_const(c, n, i, &k));
    if (!k->is_int || k->ndim != 1 || k->numel > SHR_MAX_DIMS) return ox_bad(c, "input %d must be a short int64 list", i);
    if (ox_const_has_batch(k)) return ox_unsupported(c, "input %d depends on the batch size", i);
    memcpy(out, k->i, sizeof(int64_t) * (size_t)k->numel);
    *count = (int)k->numel;
    return SHR_OK;
}

static shr_status conv_slice(ox_ctx *c, const ox_node *n) {
    ox_entry e = *ox_in(c, n, 0);
    int rank, ns, ne, na, nst;
    int64_t dims[SHR_MAX_DIMS], st[SHR_MAX_DIMS], en[SHR_MAX_DIMS], ax[SHR_MAX_DIMS], sp[SHR_MAX_DIMS];
    SHR_TRY(entry_shape(c, &e, &rank, dims));
    const int old = c->opset < 10;
    SHR_TRY(int_list(c, n, 1, old ? "starts" : NULL, st, &ns));
    SHR_TRY(int_list(c, n, 2, old ? "ends" : NULL, en, &ne));
    SHR_TRY(int_list(c, n, 3, old ? "axes" : NULL, ax, &na));
    nst = -1;
    if (!old) SHR_TRY(int_list(c, n, 4, NULL, sp, &nst));
    if (ns < 0 || ns != ne || (na >= 0 && na != ns) || (nst >= 0 && nst != ns)) return ox_bad(c, "starts/ends/axes/steps differ in length");
    ox_const *owned = NULL;
    int done[SHR_MAX_DIMS] = {0};
    shr_status s = SHR_OK;
    for (int i = 0; i < ns && s == SHR_OK; i++) {
        int64_t a = na >= 0 ? ax[i] : i, step = nst >= 0 ? sp[i] : 1;
        if (a < 0) a += rank;
        if (a < 0 || a >= rank || done[a] || step == 0) {
            s = ox_bad(c, "bad axis or step");
            break;
        }
        done[a] = 1;
        int64_t d = dims[a], b = st[i], t = en[i];
        if (d == OX_BATCH) { /* only the whole batch */
            if (b == 0 && step == 1 && t >= INT32_MAX) continue;
            s = ox_unsupported(c, "slicing dim 0, the batch in shrink");
            break;
        }
        if (b < 0) b += d;
        if (t < 0) t += d;
        if (step > 0) {
            b = b < 0 ? 0 : (b > d ? d : b);
            t = t < 0 ? 0 : (t > d ? d : t);
        } else {
            b = b < 0 ? -1 : (b > d - 1 ? d - 1 : b);
            t = t < -1 ? -1 : (t > d - 1 ? d - 1 : t);
        }
        int64_t cnt = step > 0 ? (t - b + step - 1) / step : (b - t + (-step) - 1) / (-step);
        if (cnt < 0) cnt = 0;
        if (cnt == d && step == 1) continue; /* the whole dim */
        if (cnt == 0 && e.kind == OX_ACT) {
            s = ox_unsupported(c, "an empty slice of a computed value");
            break;
        }
        int64_t *idx = malloc((size_t)(cnt ? cnt : 1) * sizeof *idx);
        if (!idx) {
            s = shr_fail(SHR_ERR_NOMEM, "out of memory");
            break;
        }
        for (int64_t j = 0; j < cnt; j++) idx[j] = b + j * step;
        s = select_axis(c, n, &e, rank, (int)a, idx, 1, &cnt, &owned);
        free(idx);
        if (s == SHR_OK) dims[a] = cnt;
    }
    if (s != SHR_OK) {
        ox_const_free(owned);
        return s;
    }
    return finish(c, n, &e, owned);
}

static shr_status conv_gather(ox_ctx *c, const ox_node *n) {
    ox_entry e = *ox_in(c, n, 0);
    int rank;
    int64_t dims[SHR_MAX_DIMS], axis;
    ox_const *ik, *owned = NULL;
    SHR_TRY(entry_shape(c, &e, &rank, dims));
    SHR_TRY(ox_in_const(c, n, 1, &ik));
    SHR_TRY(ox_attr_int(n, "axis", 0, &axis));
    if (axis < -rank || axis >= rank) return ox_bad(c, "axis %lld out of range", (long long)axis);
    if (axis < 0) axis += rank;
    if (!ik->is_int || ox_const_has_batch(ik)) return ox_bad(c, "indices must be integers");
    if (dims[axis] == OX_BATCH) return ox_unsupported(c, "gathering along dim 0, the batch in shrink");
    int64_t *idx = malloc((size_t)(ik->numel ? ik->numel : 1) * sizeof *idx);
    if (!idx) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    shr_status s = SHR_OK;
    for (int64_t j = 0; j < ik->numel && s == SHR_OK; j++) {
        idx[j] = ik->i[j] < 0 ? ik->i[j] + dims[axis] : ik->i[j];
        if (idx[j] < 0 || idx[j] >= dims[axis]) s = ox_bad(c, "index %lld out of range", (long long)ik->i[j]);
    }
    if (s == SHR_OK) s = select_axis(c, n, &e, rank, (int)axis, idx, ik->ndim, ik->shape, &owned);
    free(idx);
    if (s != SHR_OK) {
        ox_const_free(owned);
        return s;
    }
    return finish(c, n, &e, owned);
}

static shr_status conv_tile(ox_ctx *c, const ox_node *n) {
    ox_entry e = *ox_in(c, n, 0);
    int rank, cnt;
    int64_t dims[SHR_MAX_DIMS], rep[SHR_MAX_DIMS];
    SHR_TRY(entry_shape(c, &e, &rank, dims));
    SHR_TRY(int_list(c, n, 1, NULL, rep, &cnt));
    if (cnt != rank) return ox_bad(c, "repeats has %d entries for rank %d", cnt, rank);
    ox_const *owned = NULL;
    shr_status s = SHR_OK;
    for (int a = 0; a < rank && s == SHR_OK; a++) {
        if (rep[a] < 1 || rep[a] > INT32_MAX) {
            s = rep[a] == 0 ? ox_unsupported(c, "zero repeats") : ox_bad(c, "repeats %lld", (long long)rep[a]);
            break;
        }
        if (rep[a] == 1) continue;
        if (dims[a] == OX_BATCH) {
            s = ox_unsupported(c, "repeating dim 0, the batch in shrink");
            break;
        }
        int64_t total = dims[a] * rep[a];
        if (total > OX_MAX_FOLD) {
            s = shr_fail(SHR_ERR_LIMIT, "Tile result too large");
            break;
        }
        int64_t *idx = malloc((size_t)total * sizeof *idx);
        if (!idx) {
            s = shr_fail(SHR_ERR_NOMEM, "out of memory");
            break;
        }
        for (int64_t j = 0; j < total; j++) idx[j] = j % dims[a];
        s = select_axis(c, n, &e, rank, a, idx, 1, &total, &owned);
        free(idx);
        dims[a] = total;
    }
    if (s != SHR_OK) {
        ox_const_free(owned);
        return s;
    }
    return finish(c, n, &e, owned);
}

static shr_status conv_pad(ox_ctx *c, const ox_node *n) {
    int x, rank, cnt;
    int64_t dims[SHR_MAX_DIMS], pads[2 * SHR_MAX_DIMS];
    SHR_TRY(ox_in_act(c, n, 0, &x));
    ox_act_shape(c, x, &rank, dims);
    char mode[32];
    SHR_TRY(ox_attr_string(n, "mode", mode, sizeof mode));
    float value = 0.0f;
    if (c->opset < 11) {
        SHR_TRY(ox_attr_ints(n, "pads", pads, 2 * SHR_MAX_DIMS, &cnt));
        SHR_TRY(ox_attr_float(n, "value", 0.0f, &value));
    } else {
        ox_const *k;
        SHR_TRY(ox_in_const(c, n, 1, &k));
        if (!k->is_int || k->ndim != 1 || k->numel > 2 * SHR_MAX_DIMS) return ox_bad(c, "pads must be an int64 list");
        cnt = (int)k->numel;
        memcpy(pads, k->i, sizeof(int64_t) * (size_t)cnt);
        if (ox_in(c, n, 2)) {
            ox_const *v;
            SHR_TRY(ox_in_const(c, n, 2, &v));
            if (v->numel != 1) return ox_bad(c, "constant_value must be a scalar");
            value = (float)ox_const_get_f(v, 0);
        }
        if (ox_in(c, n, 3)) return ox_unsupported(c, "the axes input");
    }
    if (cnt != 2 * rank) return ox_bad(c, "pads has %d entries for rank %d", cnt, rank);
    shr_attrs a = shr_attrs_default();
    a.groups = !mode[0] || !strcmp(mode, "constant") ? 0 : !strcmp(mode, "reflect") ? 1 : !strcmp(mode, "edge") ? 2 : -1;
    if (a.groups < 0) return ox_unsupported(c, "pad mode '%s'", mode);
    a.alpha = value;
    for (int d = 0; d < rank; d++) {
        if (pads[d] < 0 || pads[d + rank] < 0) return ox_unsupported(c, "negative pads (cropping)");
        if (pads[d] > INT32_MAX || pads[d + rank] > INT32_MAX) return ox_bad(c, "pads too large");
        if (d < rank - 2 && (pads[d] || pads[d + rank])) return ox_unsupported(c, "padding other than the last two dims");
    }
    if (rank + c->lift < 3) return ox_unsupported(c, "padding a rank-%d value", rank);
    if (rank == 1) return ox_unsupported(c, "padding a rank-1 value");
    a.pad[0] = (int)pads[rank - 2];
    a.pad[1] = (int)pads[rank - 1];
    a.pad[2] = (int)pads[2 * rank - 2];
    a.pad[3] = (int)pads[2 * rank - 1];
    if (!a.pad[0] && !a.pad[1] && !a.pad[2] && !a.pad[3]) return ox_out_act(c, n, 0, x);
    return ox_emit_out(c, n, 0, SHR_OP_PAD, &a, 1, &x);
}

static const struct {
    const char *name;
    shr_op op;
} reduces[] = {
    {"ReduceSum", SHR_OP_REDUCE_SUM}, {"ReduceMean", SHR_OP_REDUCE_MEAN},   {"ReduceMax", SHR_OP_REDUCE_MAX},
    {"ReduceMin", SHR_OP_REDUCE_MIN}, {"ReduceProd", SHR_OP_REDUCE_PROD},   {"ReduceL1", SHR_OP_REDUCE_L1},
    {"ReduceL2", SHR_OP_REDUCE_L2},   {"ReduceSumSquare", SHR_OP_REDUCE_SUM_SQUARE},
    {"ReduceLogSum", SHR_OP_REDUCE_LOG_SUM}, {"ReduceLogSumExp", SHR_OP_REDUCE_LOG_SUM_EXP},
};

static shr_status conv_reduce(ox_ctx *c, const ox_node *n) {
    shr_op op = SHR_OP_COUNT;
    for (size_t i = 0; i < sizeof reduces / sizeof reduces[0]; i++)
        if (!strcmp(reduces[i].name, n->op_type)) op = reduces[i].op;
    int x, rank, cnt;
    int64_t dims[SHR_MAX_DIMS], axes[SHR_MAX_DIMS], keep, noop = 0;
    SHR_TRY(ox_in_act(c, n, 0, &x));
    ox_act_shape(c, x, &rank, dims);
    const int axes_input = op == SHR_OP_REDUCE_SUM && c->opset >= 13;
    SHR_TRY(int_list(c, n, 1, axes_input ? NULL : "axes", axes, &cnt));
    SHR_TRY(ox_attr_int(n, "keepdims", 1, &keep));
    if (axes_input) SHR_TRY(ox_attr_int(n, "noop_with_empty_axes", 0, &noop));
    if (cnt <= 0 && noop) return ox_out_act(c, n, 0, x);
    shr_attrs a = shr_attrs_default();
    a.count_include_pad = keep != 0;
    if (cnt <= 0) {
        cnt = rank;
        for (int d = 0; d < rank; d++) axes[d] = d;
    }
    int seen[SHR_MAX_DIMS] = {0};
    a.ndim = 0;
    for (int i = 0; i < cnt; i++) {
        int sa;
        SHR_TRY(ox_axis(c, axes[i], rank, &sa));
        if (seen[sa]) return ox_bad(c, "axis %lld repeated", (long long)axes[i]);
        seen[sa] = 1;
        a.shape[a.ndim++] = sa;
    }
    if (a.ndim == 0) return ox_out_act(c, n, 0, x);
    return ox_emit_out(c, n, 0, op, &a, 1, &x);
}

/* Split: output k is a slice of the input along axis (sizes from `split`, else equal parts). */
static shr_status conv_split(ox_ctx *c, const ox_node *n) {
    ox_entry *e = ox_in(c, n, 0);
    int rank, cnt;
    int64_t dims[SHR_MAX_DIMS], axis, sizes[64];
    if (!e) return ox_bad(c, "input is missing");
    SHR_TRY(entry_shape(c, e, &rank, dims));
    SHR_TRY(ox_attr_int(n, "axis", 0, &axis));
    if (axis < -rank || axis >= rank) return ox_bad(c, "axis %lld out of range", (long long)axis);
    if (axis < 0) axis += rank;
    const int outs = (int)n->n_output;
    if (outs < 1 || outs > 64) return ox_unsupported(c, "%d outputs", outs);
    if (c->opset < 13) {
        SHR_TRY(ox_attr_ints(n, "split", sizes, 64, &cnt));
    } else {
        cnt = -1;
        if (ox_in(c, n, 1)) {
            ox_const *k;
            SHR_TRY(ox_in_const(c, n, 1, &k));
            if (!k->is_int || k->numel > 64) return ox_bad(c, "split must be an int64 list");
            cnt = (int)k->numel;
            memcpy(sizes, k->i, sizeof(int64_t) * (size_t)cnt);
        }
    }
    if (dims[axis] == OX_BATCH) return ox_unsupported(c, "splitting dim 0, the batch in shrink");
    if (cnt < 0) {
        if (dims[axis] % outs) return ox_bad(c, "dim %lld does not split into %d equal parts", (long long)dims[axis], outs);
        for (int k = 0; k < outs; k++) sizes[k] = dims[axis] / outs;
        cnt = outs;
    }
    int64_t total = 0;
    for (int k = 0; k < cnt; k++) total += sizes[k] < 0 ? -1 : sizes[k];
    if (cnt != outs || total != dims[axis]) return ox_bad(c, "split sizes do not add up to the dim");
    int64_t off = 0;
    for (int k = 0; k < outs; k++) {
        ox_entry part = *e;
        ox_const *owned = NULL;
        int64_t *idx = malloc((size_t)(sizes[k] ? sizes[k] : 1) * sizeof *idx);
        if (!idx) return shr_fail(SHR_ERR_NOMEM, "out of memory");
        for (int64_t j = 0; j < sizes[k]; j++) idx[j] = off + j;
        shr_status st = SHR_OK;
        if (sizes[k] == 0 && part.kind == OX_ACT) st = ox_unsupported(c, "an empty part of a computed value");
        if (st == SHR_OK && !(sizes[k] == dims[axis]))
            st = select_axis(c, n, &part, rank, (int)axis, idx, 1, &sizes[k], &owned);
        free(idx);
        if (st == SHR_OK) {
            if (part.kind == OX_CONST && owned) st = ox_out_const(c, n, k, owned);
            else {
                st = ox_out_alias(c, n, k, &part);
                ox_const_free(owned);
            }
        } else {
            ox_const_free(owned);
        }
        SHR_TRY(st);
        off += sizes[k];
    }
    return SHR_OK;
}

const ox_op ox_ops_index[] = {
    {"Slice", 1, conv_slice},           {"Gather", 1, conv_gather},          {"Tile", 6, conv_tile},
    {"Pad", 2, conv_pad},               {"ReduceSum", 1, conv_reduce},       {"ReduceMean", 1, conv_reduce},
    {"ReduceMax", 1, conv_reduce},      {"ReduceMin", 1, conv_reduce},       {"ReduceProd", 1, conv_reduce},
    {"ReduceL1", 1, conv_reduce},       {"ReduceL2", 1, conv_reduce},        {"ReduceSumSquare", 1, conv_reduce},
    {"ReduceLogSum", 1, conv_reduce},   {"ReduceLogSumExp", 1, conv_reduce}, {"Split", 2, conv_split},
};
const int ox_ops_index_n = (int)(sizeof ox_ops_index / sizeof ox_ops_index[0]);
