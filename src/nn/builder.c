#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "nn/builder.h"

shr_status shr_builder_init(shr_builder *b, int in_c, int in_h, int in_w, uint64_t seed) {
    memset(b, 0, sizeof *b);
    shr_rng_seed(&b->rng, seed);
    SHR_TRY(shr_graph_create(&b->g));
    int64_t shape[3] = {in_c, in_h, in_w};
    b->st = shr_graph_add_input(b->g, "input", 3, shape, NULL);
    if (b->st != SHR_OK) {
        shr_graph_free(b->g);
        b->g = NULL;
        return b->st;
    }
    b->g->preproc.channels = in_c <= SHR_MAX_CHANNELS ? in_c : 1;
    return SHR_OK;
}

static int ok(shr_builder *b, shr_status st) {
    if (b->st == SHR_OK) b->st = st;
    return b->st == SHR_OK;
}

static int add_param(shr_builder *b, const char *node, const char *suffix, shr_value_kind kind, int ndim,
                     const int64_t *shape) {
    char name[300];
    snprintf(name, sizeof name, "%s.%s", node, suffix);
    int v = -1;
    if (!ok(b, shr_graph_add_tensor(b->g, name, kind, ndim, shape, &v))) return -1;
    return v;
}

static void init_uniform(shr_builder *b, int v, float bound) {
    shr_tensor *t = b->g->values[v].data;
    float *w = shr_f32(t);
    for (int64_t i = 0; i < t->numel; i++) w[i] = (2.0f * shr_rng_uniform(&b->rng) - 1.0f) * bound;
}

static void fill(shr_builder *b, int v, float value) {
    shr_tensor *t = b->g->values[v].data;
    for (int64_t i = 0; i < t->numel; i++) shr_f32(t)[i] = value;
}

static int node(shr_builder *b, const char *name, shr_op op, const shr_attrs *a, int n, const int *in) {
    int out = -1;
    if (!ok(b, shr_graph_add_node(b->g, name, op, a, n, in, &out))) return -1;
    return out;
}

int64_t shr_b_channels(const shr_builder *b, int x) {
    return (x >= 0 && b->g->values[x].ndim >= 2) ? b->g->values[x].shape[1] : 0;
}

int shr_b_linear(shr_builder *b, const char *name, int x, int out_features, int bias) {
    if (b->st != SHR_OK) return -1;
    const shr_value *xv = &b->g->values[x];
    if (xv->ndim != 2) {
        ok(b, shr_fail(SHR_ERR_SHAPE, "layer '%s': linear needs a flat input (add a flatten layer)", name));
        return -1;
    }
    int64_t in = xv->shape[1];
    int64_t ws[2] = {out_features, in}, bs[1] = {out_features};
    int w = add_param(b, name, "weight", SHR_VALUE_PARAM, 2, ws);
    int bb = bias ? add_param(b, name, "bias", SHR_VALUE_PARAM, 1, bs) : -1;
    if (b->st != SHR_OK) return -1;
    init_uniform(b, w, sqrtf(6.0f / (float)in));
    int ins[3] = {x, w, bb};
    return node(b, name, SHR_OP_LINEAR, NULL, 3, ins);
}

int shr_b_conv(shr_builder *b, const char *name, int x, int out_channels, int k, int stride, int pad, int dilation,
               int groups, int bias) {
    if (b->st != SHR_OK) return -1;
    int64_t c = shr_b_channels(b, x);
    if (groups < 1 || c % groups || out_channels % groups || k < 1) {
        ok(b, shr_fail(SHR_ERR_SHAPE, "layer '%s': %lld input and %d output channels do not split into %d groups",
                       name, (long long)c, out_channels, groups));
        return -1;
    }
    int64_t ws[4] = {out_channels, c / groups, k, k}, bs[1] = {out_channels};
    int w = add_param(b, name, "weight", SHR_VALUE_PARAM, 4, ws);
    int bb = bias ? add_param(b, name, "bias", SHR_VALUE_PARAM, 1, bs) : -1;
    if (b->st != SHR_OK) return -1;
    init_uniform(b, w, sqrtf(6.0f / (float)(c / groups * k * k)));
    shr_attrs a = shr_attrs_default();
    a.kernel[0] = a.kernel[1] = k;
    a.stride[0] = a.stride[1] = stride;
    a.pad[0] = a.pad[1] = a.pad[2] = a.pad[3] = pad;
    a.dilation[0] = a.dilation[1] = dilation;
    a.groups = groups;
    int ins[3] = {x, w, bb};
    return node(b, name, SHR_OP_CONV2D, &a, 3, ins);
}

int shr_b_batchnorm(shr_builder *b, const char *name, int x) {
    if (b->st != SHR_OK) return -1;
    int64_t cs[1] = {shr_b_channels(b, x)};
    int gamma = add_param(b, name, "weight", SHR_VALUE_PARAM, 1, cs);
    int beta = add_param(b, name, "bias", SHR_VALUE_PARAM, 1, cs);
    int mean = add_param(b, name, "running_mean", SHR_VALUE_BUFFER, 1, cs);
    int var = add_param(b, name, "running_var", SHR_VALUE_BUFFER, 1, cs);
    if (b->st != SHR_OK) return -1;
    fill(b, gamma, 1.0f);
    fill(b, var, 1.0f);
    int ins[5] = {x, gamma, beta, mean, var};
    return node(b, name, SHR_OP_BATCHNORM, NULL, 5, ins);
}

int shr_b_unary(shr_builder *b, const char *name, shr_op op, int x, const shr_attrs *attrs) {
    if (b->st != SHR_OK) return -1;
    return node(b, name, op, attrs, 1, &x);
}

int shr_b_pool(shr_builder *b, const char *name, shr_op op, int x, int k, int stride, int pad) {
    shr_attrs a = shr_attrs_default();
    a.kernel[0] = a.kernel[1] = k;
    a.stride[0] = a.stride[1] = stride;
    a.pad[0] = a.pad[1] = a.pad[2] = a.pad[3] = pad;
    return shr_b_unary(b, name, op, x, &a);
}

int shr_b_add(shr_builder *b, const char *name, int a, int c) {
    if (b->st != SHR_OK) return -1;
    int ins[2] = {a, c};
    return node(b, name, SHR_OP_ADD, NULL, 2, ins);
}

int shr_b_concat(shr_builder *b, const char *name, int n, const int *xs) {
    if (b->st != SHR_OK) return -1;
    shr_attrs a = shr_attrs_default();
    a.axis = 1;
    return node(b, name, SHR_OP_CONCAT, &a, n, xs);
}

shr_status shr_builder_finish(shr_builder *b, shr_graph **out) {
    if (b->st != SHR_OK) {
        shr_graph_free(b->g);
        b->g = NULL;
        return b->st;
    }
    *out = b->g;
    b->g = NULL;
    return SHR_OK;
}
