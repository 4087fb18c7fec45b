/* Converters for ops that only rearrange: Reshape, Flatten, Squeeze,
 * Unsqueeze, Transpose, Concat, Expand, DepthToSpace, SpaceToDepth. On constants (shape arithmetic,
 * weights) they fold at import, carrying the batch symbol OX_BATCH through;
 * on activations they become shrink reshape / transpose / concat nodes, and
 * refuse to move the batch out of dim 0. */
#include <string.h>

#include "core/checked.h"
#include "io/onnx/onnx_internal.h"

/* The ONNX shape of input i (activation or constant). */
static shr_status in_shape(ox_ctx *c, const ox_node *n, int i, int *rank, int64_t *dims, ox_entry **e) {
    *e = ox_in(c, n, i);
    if (!*e) return ox_bad(c, "input %d is missing", i);
    if ((*e)->kind == OX_ACT) {
        ox_act_shape(c, (*e)->value, rank, dims);
    } else {
        *rank = (*e)->c->ndim;
        memcpy(dims, (*e)->c->shape, sizeof(int64_t) * (size_t)*rank);
    }
    return SHR_OK;
}

/* Output 0 = input entry e with ONNX dims (a reshape: same elements). */
static shr_status reshape_to(ox_ctx *c, const ox_node *n, ox_entry *e, int rank, const int64_t *dims) {
    if (rank > SHR_MAX_DIMS) return ox_unsupported(c, "rank %d exceeds %d", rank, SHR_MAX_DIMS);
    if (e->kind == OX_ACT) {
        int v;
        SHR_TRY(ox_reshape(c, n, e->value, rank, dims, &v));
        return ox_out_act(c, n, 0, v);
    }
    const ox_const *s = e->c;
    ox_const *k;
    SHR_TRY(ox_const_new(s->is_int, s->onnx_type, rank, dims, &k));
    if (k->numel != s->numel) {
        ox_const_free(k);
        return ox_bad(c, "reshape changes the element count");
    }
    if (s->numel) memcpy(s->is_int ? (void *)k->i : (void *)k->f, s->is_int ? (void *)s->i : (void *)s->f,
                         (size_t)s->numel * (s->is_int ? sizeof *s->i : sizeof *s->f));
    k->trainable = s->trainable;
    k->name = s->name;
    return ox_out_const(c, n, 0, k);
}

/* Elements per sample of ONNX dims (the batch symbol excluded). */
static int64_t known_numel(int rank, const int64_t *dims) {
    int64_t p = 1;
    for (int d = 0; d < rank; d++)
        if (dims[d] != OX_BATCH) p *= dims[d];
    return p;
}

static shr_status conv_reshape(ox_ctx *c, const ox_node *n) {
    int rank;
    int64_t dims[SHR_MAX_DIMS], allowzero = 0, t[SHR_MAX_DIMS];
    ox_entry *e;
    SHR_TRY(in_shape(c, n, 0, &rank, dims, &e));
    ox_const *sh;
    if (c->opset < 5) return ox_unsupported(c, "Reshape before opset 5");
    SHR_TRY(ox_in_const(c, n, 1, &sh));
    if (c->opset >= 14) SHR_TRY(ox_attr_int(n, "allowzero", 0, &allowzero));
    if (!sh->is_int || sh->ndim != 1) return ox_bad(c, "shape must be a 1-D int64 tensor");
    const int r = (int)sh->numel;
    if (sh->numel > SHR_MAX_DIMS) return ox_unsupported(c, "rank %lld exceeds %d", (long long)sh->numel, SHR_MAX_DIMS);
    int hole = -1, batch_at = -1;
    int64_t known = 1;
    for (int d = 0; d < r; d++) {
        int64_t v = sh->i[d];
        if (v == 0 && !allowzero) {
            if (d >= rank) return ox_bad(c, "shape copies dim %d of a rank-%d input", d, rank);
            v = dims[d];
        }
        if (v == -1) {
            if (hole >= 0) return ox_bad(c, "more than one -1 in the shape");
            hole = d;
        } else if (v == OX_BATCH) {
            if (batch_at >= 0) return ox_unsupported(c, "the batch size appears twice in the shape");
            batch_at = d;
        } else if (v < 0) {
            return ox_bad(c, "shape entry %lld", (long long)v);
        } else if (shr_mul_overflow_i64(known, v, &known)) {
            return ox_bad(c, "shape too large");
        }
        t[d] = v;
    }
    const int has_batch = rank > 0 && dims[0] == OX_BATCH;
    const int64_t total = known_numel(rank, dims); /* per sample when the input has the batch */
    if (!has_batch && batch_at >= 0) return ox_unsupported(c, "a shape holding the batch size for a constant");
    if (has_batch && batch_at < 0) {
        /* The batch must stay dim 0: inferred (-1 while the rest is the sample),
         * or the static batch size the model was exported with. */
        if (hole == 0 && known == total) {
            hole = -1;
            batch_at = 0;
        } else if (r > 0 && c->static_batch > 0 && t[0] == c->static_batch) {
            known /= c->static_batch;
            batch_at = 0;
        } else {
            return ox_unsupported(c, "reshape that merges or moves the batch (dim 0)");
        }
    }
    if (batch_at > 0) return ox_unsupported(c, "reshape that moves the batch out of dim 0");
    if (batch_at == 0) t[0] = OX_BATCH;
    if (hole >= 0) {
        if (known == 0 || total % known) return ox_bad(c, "cannot infer the -1 dim");
        t[hole] = total / known;
    } else if (known != total) {
        return ox_bad(c, "shape has %lld elements%s, the input %lld", (long long)known, has_batch ? " per sample" : "",
                      (long long)total);
    }
    return reshape_to(c, n, e, r, t);
}

static shr_status conv_flatten(ox_ctx *c, const ox_node *n) {
    int rank;
    int64_t dims[SHR_MAX_DIMS], axis;
    ox_entry *e;
    SHR_TRY(in_shape(c, n, 0, &rank, dims, &e));
    SHR_TRY(ox_attr_int(n, "axis", 1, &axis));
    if (axis < -rank || axis > rank) return ox_bad(c, "axis %lld out of range", (long long)axis);
    if (axis < 0) axis += rank;
    const int batched = rank > 0 && dims[0] == OX_BATCH;
    if (batched && axis != 1) return ox_unsupported(c, "Flatten at axis %lld merges the batch (dim 0)", (long long)axis);
    int64_t t[2] = {1, 1};
    for (int d = 0; d < rank; d++) t[d >= axis] *= dims[d];
    if (batched) {
        t[0] = OX_BATCH;
        t[1] = known_numel(rank, dims);
        if (rank > 2) {
            shr_attrs a = shr_attrs_default();
            return ox_emit_out(c, n, 0, SHR_OP_FLATTEN, &a, 1, &e->value);
        }
    }
    return reshape_to(c, n, e, 2, t);
}

/* Axes from the attribute (before opset 13) or input 1; *count -1 if none. */
static shr_status axes_arg(ox_ctx *c, const ox_node *n, int64_t *axes, int *count) {
    if (c->opset < 13) return ox_attr_ints(n, "axes", axes, SHR_MAX_DIMS, count);
    *count = -1;
    if (!ox_in(c, n, 1)) return SHR_OK;
    ox_const *k;
    SHR_TRY(ox_in_const(c, n, 1, &k));
    if (!k->is_int || k->ndim > 1 || k->numel > SHR_MAX_DIMS) return ox_bad(c, "axes must be a short int64 list");
    for (int64_t i = 0; i < k->numel; i++) axes[i] = k->i[i];
    *count = (int)k->numel;
    return SHR_OK;
}

static shr_status conv_squeeze(ox_ctx *c, const ox_node *n) {
    int rank, cnt;
    int64_t dims[SHR_MAX_DIMS], axes[SHR_MAX_DIMS], t[SHR_MAX_DIMS];
    ox_entry *e;
    SHR_TRY(in_shape(c, n, 0, &rank, dims, &e));
    SHR_TRY(axes_arg(c, n, axes, &cnt));
    int drop[SHR_MAX_DIMS] = {0};
    if (cnt < 0) { /* every dim of size 1 (the batch only if fixed at 1) */
        for (int d = 0; d < rank; d++) {
            if (dims[d] == OX_BATCH && c->static_batch == 1) return ox_unsupported(c, "squeezing the batch dim");
            drop[d] = dims[d] == 1;
        }
    }
    for (int i = 0; i < cnt; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (a < 0 || a >= rank) return ox_bad(c, "axis %lld out of range", (long long)axes[i]);
        if (dims[a] == OX_BATCH) return ox_unsupported(c, "squeezing dim 0, the batch in shrink");
        if (dims[a] != 1) return ox_bad(c, "squeezing dim %lld of size %lld", (long long)a, (long long)dims[a]);
        drop[a] = 1;
    }
    int r = 0;
    for (int d = 0; d < rank; d++)
        if (!drop[d]) t[r++] = dims[d];
    return reshape_to(c, n, e, r, t);
}

static shr_status conv_unsqueeze(ox_ctx *c, const ox_node *n) {
    int rank, cnt;
    int64_t dims[SHR_MAX_DIMS], axes[SHR_MAX_DIMS], t[SHR_MAX_DIMS];
    ox_entry *e;
    SHR_TRY(in_shape(c, n, 0, &rank, dims, &e));
    SHR_TRY(axes_arg(c, n, axes, &cnt));
    if (cnt < 0) return ox_bad(c, "axes are required");
    const int r = rank + cnt;
    if (r > SHR_MAX_DIMS) return ox_unsupported(c, "rank %d exceeds %d", r, SHR_MAX_DIMS);
    int ins[SHR_MAX_DIMS] = {0};
    for (int i = 0; i < cnt; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
        if (a < 0 || a >= r || ins[a]) return ox_bad(c, "axis %lld out of range or repeated", (long long)axes[i]);
        ins[a] = 1;
    }
    for (int d = 0, s = 0; d < r; d++) t[d] = ins[d] ? 1 : dims[s++];
    if (rank > 0 && dims[0] == OX_BATCH && t[0] != OX_BATCH)
        return ox_unsupported(c, "a new dim in front of the batch (dim 0)");
    return reshape_to(c, n, e, r, t);
}

/* Copies const s permuted by perm into a new constant. */
static shr_status fold_transpose(const ox_const *s, const int64_t *perm, ox_const **out) {
    int64_t shape[SHR_MAX_DIMS], str[SHR_MAX_DIMS], idx[SHR_MAX_DIMS] = {0}, st = 1;
    for (int d = s->ndim - 1; d >= 0; d--) {
        str[d] = st;
        st *= s->shape[d];
    }
    for (int d = 0; d < s->ndim; d++) shape[d] = s->shape[perm[d]];
    SHR_TRY(ox_const_new(s->is_int, s->onnx_type, s->ndim, shape, out));
    for (int64_t e = 0; e < s->numel; e++) {
        int64_t src = 0;
        for (int d = 0; d < s->ndim; d++) src += idx[d] * str[perm[d]];
        if (s->is_int) (*out)->i[e] = s->i[src];
        else (*out)->f[e] = s->f[src];
        for (int d = s->ndim - 1; d >= 0; d--) {
            if (++idx[d] < shape[d]) break;
            idx[d] = 0;
        }
    }
    (*out)->trainable = s->trainable;
    (*out)->name = s->name;
    return SHR_OK;
}

static shr_status conv_transpose(ox_ctx *c, const ox_node *n) {
    int rank, cnt;
    int64_t dims[SHR_MAX_DIMS], perm[SHR_MAX_DIMS];
    ox_entry *e;
    SHR_TRY(in_shape(c, n, 0, &rank, dims, &e));
    SHR_TRY(ox_attr_ints(n, "perm", perm, SHR_MAX_DIMS, &cnt));
    if (cnt < 0)
        for (int d = 0; d < rank; d++) perm[d] = rank - 1 - d;
    else if (cnt != rank) return ox_bad(c, "perm has %d entries for rank %d", cnt, rank);
    int seen[SHR_MAX_DIMS] = {0};
    for (int d = 0; d < rank; d++) {
        if (perm[d] < 0 || perm[d] >= rank || seen[perm[d]]) return ox_bad(c, "perm is not a permutation");
        seen[perm[d]] = 1;
    }
    if (e->kind == OX_CONST) {
        ox_const *k;
        SHR_TRY(fold_transpose(e->c, perm, &k));
        return ox_out_const(c, n, 0, k);
    }
    if (!c->lift && perm[0] != 0) return ox_unsupported(c, "a permutation that moves dim 0, the batch in shrink");
    if (rank + c->lift > SHR_MAX_DIMS) return ox_unsupported(c, "rank %d", rank);
    shr_attrs a = shr_attrs_default();
    a.ndim = rank + c->lift;
    a.shape[0] = 0;
    for (int d = 0; d < rank; d++) a.shape[d + c->lift] = perm[d] + c->lift;
    int identity = 1;
    for (int d = 0; d < rank; d++) identity &= perm[d] == d;
    if (identity) return ox_out_act(c, n, 0, e->value);
    return ox_emit_out(c, n, 0, SHR_OP_TRANSPOSE, &a, 1, &e->value);
}

/* Concatenation of constants (shape lists included) along axis. */
static shr_status fold_concat(ox_ctx *c, const ox_node *n, int axis) {
    const ox_const *k0 = ox_in(c, n, 0)->c;
    int64_t shape[SHR_MAX_DIMS];
    memcpy(shape, k0->shape, sizeof(int64_t) * (size_t)k0->ndim);
    shape[axis] = 0;
    int is_int = k0->is_int;
    for (size_t i = 0; i < n->n_input; i++) {
        const ox_const *k = ox_in(c, n, (int)i)->c;
        if (k->ndim != k0->ndim || k->is_int != is_int) return ox_bad(c, "inputs differ in rank or type");
        for (int d = 0; d < k->ndim; d++)
            if (d != axis && k->shape[d] != k0->shape[d]) return ox_bad(c, "inputs differ outside the axis");
        shape[axis] += k->shape[axis];
    }
    ox_const *out;
    SHR_TRY(ox_const_new(is_int, k0->onnx_type, k0->ndim, shape, &out));
    int64_t outer = 1, inner = 1, off = 0;
    for (int d = 0; d < axis; d++) outer *= shape[d];
    for (int d = axis + 1; d < k0->ndim; d++) inner *= shape[d];
    for (size_t i = 0; i < n->n_input; i++) {
        const ox_const *k = ox_in(c, n, (int)i)->c;
        int64_t blk = k->shape[axis] * inner;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < blk; j++) {
                int64_t dst = o * shape[axis] * inner + off + j, src = o * blk + j;
                if (is_int) out->i[dst] = k->i[src];
                else out->f[dst] = k->f[src];
            }
        off += blk;
    }
    return ox_out_const(c, n, 0, out);
}

static shr_status conv_concat(ox_ctx *c, const ox_node *n) {
    int rank;
    int64_t dims[SHR_MAX_DIMS], axis;
    ox_entry *e0;
    if (n->n_input < 1) return ox_bad(c, "no inputs");
    for (size_t i = 0; i < n->n_input; i++)
        if (!ox_in(c, n, (int)i)) return ox_bad(c, "input %zu is missing", i);
    SHR_TRY(in_shape(c, n, 0, &rank, dims, &e0));
    SHR_TRY(ox_attr_int(n, "axis", c->opset < 4 ? 1 : -1000000, &axis));
    if (axis == -1000000) return ox_bad(c, "axis is required");
    if (axis < -rank || axis >= rank) return ox_bad(c, "axis %lld out of range", (long long)axis);
    if (axis < 0) axis += rank;
    if (ox_all_const(c, n)) return fold_concat(c, n, (int)axis);
    if (n->n_input == 1) return ox_out_alias(c, n, 0, e0);
    int ins[SHR_MAX_NODE_INPUTS], sa;
    if (n->n_input > SHR_MAX_NODE_INPUTS) return ox_unsupported(c, "%zu inputs", n->n_input);
    SHR_TRY(ox_axis(c, axis, rank, &sa));
    for (size_t i = 0; i < n->n_input; i++) {
        ox_entry *e = ox_in(c, n, (int)i);
        if (e->kind == OX_ACT) {
            ins[i] = e->value;
            continue;
        }
        /* A constant joins as a batch of copies; in batch mode it must have 1 in dim 0. */
        const ox_const *k = e->c;
        if (k->is_int) return ox_unsupported(c, "concatenating integers with computed values");
        if (k->ndim != rank || (!c->lift && k->shape[0] != 1))
            return ox_unsupported(c, "a constant input that varies along dim 0, the batch in shrink");
        int cv;
        SHR_TRY(ox_const_value(c, (ox_const *)k, 1, c->lift ? -1 : rank - 1, c->lift ? NULL : k->shape + 1, &cv));
        SHR_TRY(ox_emit(c, n, SHR_OP_BATCH_CONST, NULL, 2, (int[]){c->g->input, cv}, &ins[i]));
    }
    shr_attrs a = shr_attrs_default();
    a.axis = sa;
    return ox_emit_out(c, n, 0, SHR_OP_CONCAT, &a, (int)n->n_input, ins);
}

/* Expand: x broadcast against a shape = x + zeros(shape). */
static shr_status conv_expand(ox_ctx *c, const ox_node *n) {
    ox_entry *e = ox_in(c, n, 0);
    ox_const *sh, *z;
    if (!e) return ox_bad(c, "input is missing");
    SHR_TRY(ox_in_const(c, n, 1, &sh));
    if (!sh->is_int || sh->ndim != 1 || sh->numel > SHR_MAX_DIMS) return ox_bad(c, "shape must be a short 1-D int64 list");
    int64_t t[SHR_MAX_DIMS];
    for (int d = 0; d < sh->numel; d++) {
        t[d] = sh->i[d] == OX_BATCH ? 1 : sh->i[d];
        if (t[d] < 0) return ox_bad(c, "negative dim in the shape");
    }
    SHR_TRY(ox_const_new(0, 1, (int)sh->numel, t, &z));
    ox_entry ez = {.name = "expand_zeros", .kind = OX_CONST, .value = -1, .c = z};
    int v;
    shr_status st = ox_binary(c, n, "Add", SHR_OP_ADD_BCAST, e, &ez, 1, &v);
    ox_const_free(z);
    return st;
}

/* DepthToSpace / SpaceToDepth: reshape to 6-D, permute, reshape back. */
static shr_status space_depth(ox_ctx *c, const ox_node *n, int to_space) {
    int x, rank;
    int64_t d[SHR_MAX_DIMS], bs;
    SHR_TRY(ox_in_act(c, n, 0, &x));
    ox_act_shape(c, x, &rank, d);
    SHR_TRY(ox_attr_int(n, "blocksize", 0, &bs));
    char mode[16];
    SHR_TRY(ox_attr_string(n, "mode", mode, sizeof mode));
    const int crd = to_space && !strcmp(mode, "CRD");
    if (to_space && mode[0] && strcmp(mode, "DCR") && !crd) return ox_bad(c, "unknown mode '%s'", mode);
    if (rank != 4 || bs < 1 || bs > 4096) return ox_bad(c, "needs a 4-D input and a positive blocksize");
    if (rank + 2 + c->lift > SHR_MAX_DIMS) return ox_unsupported(c, "rank too large");
    const int64_t N = d[0], C = d[1], H = d[2], W = d[3];
    int64_t t6[6], perm[6], out[4];
    if (to_space) {
        if (C % (bs * bs)) return ox_bad(c, "channels %lld not divisible by blocksize^2", (long long)C);
        const int64_t cc = C / (bs * bs);
        const int64_t dcr[6] = {N, bs, bs, cc, H, W}, crd6[6] = {N, cc, bs, bs, H, W};
        const int64_t pd[6] = {0, 3, 4, 1, 5, 2}, pc[6] = {0, 1, 4, 2, 5, 3};
        memcpy(t6, crd ? crd6 : dcr, sizeof t6);
        memcpy(perm, crd ? pc : pd, sizeof perm);
        const int64_t o[4] = {N, cc, H * bs, W * bs};
        memcpy(out, o, sizeof out);
    } else {
        if (H % bs || W % bs) return ox_bad(c, "spatial dims not divisible by blocksize");
        const int64_t s6[6] = {N, C, H / bs, bs, W / bs, bs}, ps[6] = {0, 3, 5, 1, 2, 4};
        memcpy(t6, s6, sizeof t6);
        memcpy(perm, ps, sizeof perm);
        const int64_t o[4] = {N, C * bs * bs, H / bs, W / bs};
        memcpy(out, o, sizeof out);
    }
    int v;
    SHR_TRY(ox_reshape(c, n, x, 6, t6, &v));
    shr_attrs a = shr_attrs_default();
    a.ndim = 6 + c->lift;
    a.shape[0] = 0;
    for (int k = 0; k < 6; k++) a.shape[k + c->lift] = perm[k] + c->lift;
    SHR_TRY(ox_emit(c, n, SHR_OP_TRANSPOSE, &a, 1, &v, &v));
    SHR_TRY(ox_reshape(c, n, v, 4, out, &v));
    return ox_out_act(c, n, 0, v);
}
static shr_status conv_depth_to_space(ox_ctx *c, const ox_node *n) { return space_depth(c, n, 1); }
static shr_status conv_space_to_depth(ox_ctx *c, const ox_node *n) { return space_depth(c, n, 0); }

const ox_op ox_ops_shape[] = {
    {"Reshape", 5, conv_reshape},     {"Flatten", 1, conv_flatten},     {"Squeeze", 1, conv_squeeze},
    {"Unsqueeze", 1, conv_unsqueeze}, {"Transpose", 1, conv_transpose}, {"Concat", 4, conv_concat},
    {"Expand", 8, conv_expand},       {"DepthToSpace", 1, conv_depth_to_space}, {"SpaceToDepth", 1, conv_space_to_depth},
};
const int ox_ops_shape_n = (int)(sizeof ox_ops_shape / sizeof ox_ops_shape[0]);
