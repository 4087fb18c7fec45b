/* libFuzzer target for what a hostile .shrk can express but byte mutations of
 * a file rarely reach: graphs whose stored shapes agree with shape inference
 * yet whose attributes, wiring and shapes are hostile. The input is decoded
 * into graph-building calls (op, attributes, inputs, parameter shapes); every
 * node that shr_graph_add_node accepts is one a file could hold. The graph is
 * then saved, loaded back through shr_model_from_memory, compiled and run at
 * batch 2, like fuzz_shrk does with the models it loads. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_model.h"
#include "shrink/io.h"

#define MAX_NODES 12
#define MAX_PARAM_NUMEL 4096

typedef struct reader {
    const uint8_t *p;
    size_t n, at;
} reader;

static uint8_t rd_u8(reader *r) { return r->at < r->n ? r->p[r->at++] : 0; }
static int32_t rd_i32(reader *r) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)rd_u8(r) << (8 * i);
    return (int32_t)v;
}
/* Mostly small numbers; a byte >= 0xF0 is followed by any 32-bit value. */
static int32_t rd_int(reader *r) {
    uint8_t b = rd_u8(r);
    return b >= 0xF0 ? rd_i32(r) : (int32_t)(b % 16) - (b >= 0xE0 ? 17 : 0);
}
static float rd_float(reader *r) {
    uint8_t b = rd_u8(r);
    if (b < 0xF0) return (float)(b % 16) / 8.0f;
    uint32_t u = (uint32_t)rd_i32(r);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* A parameter of the given shape, each dim nudged by the input now and then
 * (so shapes that almost fit are tried too), filled with small numbers. */
static int add_param(shr_graph *g, reader *r, const char *name, int ndim, int64_t *shape) {
    uint8_t nudge = rd_u8(r);
    if (nudge >= 0xC0) shape[nudge % (ndim ? ndim : 1)] += (nudge & 1) ? 1 : -1;
    if (nudge == 0xBF) ndim = ndim > 0 ? ndim - 1 : 1;
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || shape[d] > MAX_PARAM_NUMEL) return -1;
        numel *= shape[d];
        if (numel > MAX_PARAM_NUMEL) return -1;
    }
    int v = -1;
    if (shr_graph_add_tensor(g, name, (nudge & 2) ? SHR_VALUE_BUFFER : SHR_VALUE_PARAM, ndim, shape, &v) != SHR_OK)
        return -1;
    float *w = shr_f32(g->values[v].data);
    for (int64_t i = 0; i < numel; i++) w[i] = (float)((i * 7 + v) % 11) / 8.0f - 0.5f;
    if (shape[0] > 0 && ndim == 1 && (nudge & 4)) w[0] = 2.0f; /* e.g. a running variance */
    return v;
}

/* Picks an existing value: usually the last activation, sometimes any value. */
static int pick_value(const shr_graph *g, reader *r, int last) {
    uint8_t b = rd_u8(r);
    if (b < 0xA0) return last;
    if (b == 0xFF) return -1;
    return b % g->n_values;
}

static void add_one_node(shr_graph *g, reader *r, int k, int *last) {
    shr_op op = (shr_op)(rd_u8(r) % SHR_OP_COUNT);
    shr_attrs a = shr_attrs_default();
    uint8_t which = rd_u8(r); /* which attribute groups to fuzz */
    if (which & 1) a.kernel[0] = rd_int(r), a.kernel[1] = rd_int(r);
    if (which & 2) a.stride[0] = rd_int(r), a.stride[1] = rd_int(r);
    if (which & 4)
        for (int i = 0; i < 4; i++) a.pad[i] = rd_int(r);
    if (which & 8) a.dilation[0] = rd_int(r), a.dilation[1] = rd_int(r);
    if (which & 16) a.groups = rd_int(r);
    if (which & 32) a.alpha = rd_float(r), a.eps = rd_float(r), a.momentum = rd_float(r);
    if (which & 64) a.axis = rd_int(r), a.count_include_pad = rd_u8(r) & 1;
    if (which & 128) {
        a.ndim = rd_u8(r) % 5;
        for (int i = 0; i < a.ndim; i++) a.shape[i] = rd_int(r);
    }
    if (op == SHR_OP_CONV2D || op == SHR_OP_MAXPOOL2D || op == SHR_OP_AVGPOOL2D)
        for (int i = 0; i < 2; i++)
            if (!(which & 1)) a.kernel[i] = 1 + rd_u8(r) % 3;

    int in[8], n_in = 1;
    in[0] = pick_value(g, r, *last);
    const shr_value *x = in[0] >= 0 ? &g->values[in[0]] : NULL;
    int64_t C = x && x->ndim >= 2 ? x->shape[1] : 1;
    char name[64];
    int64_t s[4];
    switch (op) {
    case SHR_OP_LINEAR: {
        int64_t out = 1 + rd_u8(r) % 8, feat = x && x->ndim >= 2 ? x->shape[x->ndim - 1] : 1;
        snprintf(name, sizeof name, "n%d.w", k);
        s[0] = out, s[1] = feat;
        in[n_in++] = add_param(g, r, name, 2, s);
        if (rd_u8(r) & 1) {
            snprintf(name, sizeof name, "n%d.b", k);
            s[0] = out;
            in[n_in++] = add_param(g, r, name, 1, s);
        }
        break;
    }
    case SHR_OP_CONV2D: {
        int64_t G = a.groups > 0 ? a.groups : 1, oc = G * (1 + rd_u8(r) % 3);
        snprintf(name, sizeof name, "n%d.w", k);
        s[0] = oc, s[1] = C / G, s[2] = a.kernel[0], s[3] = a.kernel[1];
        in[n_in++] = add_param(g, r, name, 4, s);
        if (rd_u8(r) & 1) {
            snprintf(name, sizeof name, "n%d.b", k);
            s[0] = oc;
            in[n_in++] = add_param(g, r, name, 1, s);
        }
        break;
    }
    case SHR_OP_BATCHNORM:
        for (int i = 0; i < 4; i++) {
            snprintf(name, sizeof name, "n%d.p%d", k, i);
            s[0] = C;
            in[n_in++] = add_param(g, r, name, 1, s);
        }
        break;
    case SHR_OP_ADD:
    case SHR_OP_CONCAT:
        in[n_in++] = pick_value(g, r, *last > 0 ? *last - 1 : *last);
        if (op == SHR_OP_CONCAT)
            for (int extra = rd_u8(r) % 3; extra > 0; extra--) in[n_in++] = pick_value(g, r, *last);
        break;
    default: break;
    }
    snprintf(name, sizeof name, "n%d", k);
    int out = -1;
    shr_clear_error();
    shr_status st = shr_graph_add_node(g, name, op, &a, n_in, in, &out);
    fuzz_check_status(st);
    if (st == SHR_OK) *last = out;
}

/* FUZZ_DUMP=1 prints the graph (to read a crashing input). */
static void dump(const shr_graph *g) {
    if (!getenv("FUZZ_DUMP")) return;
    char sh[160];
    for (int i = 0; i < g->n_values; i++) {
        shr_shape_str(g->values[i].ndim, g->values[i].shape, sh, sizeof sh);
        fprintf(stderr, "value %d %s kind %d %s\n", i, g->values[i].name, (int)g->values[i].kind, sh);
    }
    for (int k = 0; k < g->n_nodes; k++) {
        const shr_node *n = &g->nodes[k];
        const shr_attrs *a = &n->attrs;
        fprintf(stderr, "node %s %s k%dx%d s%dx%d p%d,%d,%d,%d d%dx%d g%d axis %d cip %d ndim %d in", n->name,
                shr_op_name(n->op), a->kernel[0], a->kernel[1], a->stride[0], a->stride[1], a->pad[0], a->pad[1],
                a->pad[2], a->pad[3], a->dilation[0], a->dilation[1], a->groups, a->axis, a->count_include_pad,
                a->ndim);
        for (int i = 0; i < n->n_inputs; i++) fprintf(stderr, " %d", n->inputs[i]);
        fprintf(stderr, " -> %d\n", n->output);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r = {data, size, 0};
    shr_graph *g = NULL;
    FUZZ_REQUIRE(shr_graph_create(&g) == SHR_OK);
    int ndim = 1 + rd_u8(&r) % 3;
    int64_t shape[3];
    for (int d = 0; d < ndim; d++) shape[d] = 1 + rd_u8(&r) % 9;
    int last = -1;
    FUZZ_REQUIRE(shr_graph_add_input(g, "x", ndim, shape, &last) == SHR_OK);
    for (int k = 0; k < MAX_NODES && r.at < r.n; k++) add_one_node(g, &r, k, &last);
    if (g->n_nodes == 0 || g->values[last].kind != SHR_VALUE_ACT) {
        shr_graph_free(g);
        return 0;
    }
    g->output = last;
    /* Whatever add_node accepted must validate, save, and load back. */
    FUZZ_REQUIRE(shr_graph_validate(g) == SHR_OK);
    void *buf = NULL;
    size_t bytes = 0;
    shr_status st = shr_model_to_memory(g, &buf, &bytes);
    fuzz_check_status(st);
    shr_graph_free(g);
    if (st != SHR_OK) return 0; /* attributes beyond the file's ranges */
    g = NULL;
    FUZZ_REQUIRE(shr_model_from_memory(buf, bytes, &g) == SHR_OK);
    free(buf);
    dump(g);
    fuzz_run_model(g);
    shr_graph_free(g);
    return 0;
}
