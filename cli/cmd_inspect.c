/* shrink inspect: what a model file holds — layers, parameters, FLOPs, lineage. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nn/ops/ops_quant.h"
#include "shrink/quant.h"
#include "shrink/prune.h"

/* Parameters of a node = elements of its PARAM inputs; dtype = that of the largest (the weight). */
static void node_params(const shr_graph *g, const shr_node *n, int64_t *params, int64_t *nonzero, const char **dtype) {
    *params = *nonzero = 0;
    *dtype = "f32";
    int64_t largest = -1;
    for (int i = 0; i < n->n_inputs; i++) {
        int v = n->inputs[i];
        if (v < 0 || g->values[v].kind != SHR_VALUE_PARAM) continue;
        *params += g->values[v].data->numel;
        *nonzero += shr_tensor_count_nonzero(g->values[v].data);
        if (g->values[v].data->numel > largest) {
            largest = g->values[v].data->numel;
            *dtype = shr_dtype_name(g->values[v].data->dtype);
        }
    }
}

/* Quantization details of a node: SQNR recorded at quantize time, scales and zero points of
 * its codes (shr_quant_layer_sqnr; docs/quant.md). NULL when the node has none. */
static json_t *quant_json(const shr_graph *g, const shr_node *n) {
    double sqnr = shr_quant_layer_sqnr(g, n->name);
    int qlayer = n->op == SHR_OP_QLINEAR || n->op == SHR_OP_QCONV2D, qadd = n->op == SHR_OP_QADD;
    int wonly = n->op == SHR_OP_WLINEAR || n->op == SHR_OP_DLINEAR;
    int64_t b[4];
    int sparse = shr_quant_layer_bytes(g, (int)(n - g->nodes), &b[0], &b[1], &b[2], &b[3]);
    if (!qlayer && !qadd && !wonly && !sparse && n->op != SHR_OP_QUANTIZE && isnan(sqnr)) return NULL;
    json_t *o = json_object();
    json_object_set_new(o, "sqnr_db", isfinite(sqnr) ? json_real(sqnr) : json_null());
    if (sparse) { /* Deep Compression's stages: dense, pruned, quantized / shared, entropy-coded */
        json_t *bytes = json_object();
        json_object_set_new(bytes, "dense_f32", json_integer(b[0]));
        json_object_set_new(bytes, "pruned_csr_f32", json_integer(b[1]));
        json_object_set_new(bytes, "quantized", json_integer(b[2]));
        json_object_set_new(bytes, "entropy_coded", json_integer(b[3]));
        json_object_set_new(o, "bytes", bytes);
    }
    /* (scale, zero point) input pairs: x and y for layers, a, b and y for add, the codes of quantize */
    int pairs[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
    const char *names[3] = {"x", "y", "b"};
    if (qlayer) pairs[0][0] = 1, pairs[0][1] = 2, pairs[1][0] = 6, pairs[1][1] = 7;
    if (qadd) pairs[0][0] = 1, pairs[0][1] = 2, pairs[2][0] = 4, pairs[2][1] = 5, pairs[1][0] = 6, pairs[1][1] = 7;
    if (n->op == SHR_OP_QUANTIZE) pairs[1][0] = 1, pairs[1][1] = 2;
    for (int p = 0; p < 3; p++) {
        if (pairs[p][0] < 0 || pairs[p][1] >= n->n_inputs || n->inputs[pairs[p][0]] < 0) continue;
        const shr_tensor *s = g->values[n->inputs[pairs[p][0]]].data, *z = g->values[n->inputs[pairs[p][1]]].data;
        char key[32];
        snprintf(key, sizeof key, "%s_scale", names[p]);
        json_object_set_new(o, key, json_real(shr_f32(s)[0]));
        snprintf(key, sizeof key, "%s_zero_point", names[p]);
        int zp = z->dtype == SHR_U8 ? ((const uint8_t *)z->data)[0]
                 : z->dtype == SHR_I8 ? ((const int8_t *)z->data)[0] : ((const int16_t *)z->data)[0];
        json_object_set_new(o, key, json_integer(zp));
        snprintf(key, sizeof key, "%s_dtype", names[p]);
        json_object_set_new(o, key, json_string(shr_dtype_name(z->dtype)));
    }
    int ws = qlayer ? 4 : wonly ? 2 : -1;
    if (ws >= 0 && ws < n->n_inputs && n->inputs[ws] >= 0) {
        const shr_tensor *t = g->values[n->inputs[ws]].data;
        float lo = INFINITY, hi = 0.0f;
        for (int64_t i = 0; i < t->numel; i++) {
            lo = shr_f32(t)[i] < lo ? shr_f32(t)[i] : lo;
            hi = shr_f32(t)[i] > hi ? shr_f32(t)[i] : hi;
        }
        json_object_set_new(o, "w_scale_min", json_real(lo));
        json_object_set_new(o, "w_scale_max", json_real(hi));
        json_object_set_new(o, "w_scales", json_integer(t->numel));
        json_object_set_new(o, "w_dtype", json_string(shr_dtype_name(g->values[n->inputs[qlayer ? 3 : 1]].data->dtype)));
    }
    return o;
}

static json_t *shape_json(const shr_value *v) {
    json_t *a = json_array();
    for (int d = 0; d < v->ndim; d++) json_array_append_new(a, json_integer(v->shape[d]));
    return a;
}

/* Lineage: the chain in short, this file's hash (what a model derived from it
 * records as source=sha256:...), then every step with its options. */
static void print_lineage(const shr_graph *g, const char *path) {
    char *chain = NULL, hex[65];
    if (shr_lineage_summary(g->lineage, &chain) == SHR_OK) printf("\nlineage     %s\n", chain);
    free(chain);
    if (shr_file_sha256(path, hex) == SHR_OK) printf("sha256      %s\n", hex);
    int step = 0;
    for (const char *s = g->lineage; s && *s;) {
        const char *e = strchr(s, '\n');
        int len = e ? (int)(e - s) : (int)strlen(s);
        printf("  %d. %.*s\n", ++step, len, s);
        s += len + (e ? 1 : 0);
    }
}

/* The requantization of the model's integer layers that write 8-bit codes (docs/quant.md):
 * "float", "fixed", "mixed", or NULL when there are none. */
static const char *requant_mode(const shr_graph *g) {
    const char *mode = NULL;
    for (int k = 0; k < g->n_nodes; k++) {
        const shr_node *n = &g->nodes[k];
        int zp = n->op == SHR_OP_QAVGPOOL2D ? 2 : n->op == SHR_OP_QLINEAR || n->op == SHR_OP_QCONV2D ? 7 : -1;
        if (zp < 0 || n->n_inputs <= zp || n->inputs[zp] < 0 || !g->values[n->inputs[zp]].data) continue;
        shr_dtype t = g->values[n->inputs[zp]].data->dtype;
        if (t != SHR_U8 && t != SHR_I8) continue;
        const char *m = shr_q_float_requant(n) ? "float" : "fixed";
        if (mode && strcmp(mode, m) != 0) return "mixed";
        mode = m;
    }
    return mode;
}

static void print_text(const shr_graph *g, const char *path, int64_t bytes) {
    printf("model       %s\n", path);
    printf("file bytes  %lld\n", (long long)bytes);
    printf("params      %lld (non-zero %lld)\n", (long long)shr_graph_param_count(g), (long long)shr_graph_nonzero_count(g));
    printf("flops       %lld per sample (multiply-add = 2)\n", (long long)shr_graph_flops(g));
    if (requant_mode(g)) printf("requant     %s\n", requant_mode(g));
    const shr_preproc *p = &g->preproc;
    printf("preprocess  x = (raw * %g - mean) / std, mean", (double)p->scale);
    for (int c = 0; c < p->channels; c++) printf(" %.4f", (double)p->mean[c]);
    printf(", std");
    for (int c = 0; c < p->channels; c++) printf(" %.4f", (double)p->std[c]);
    printf("\n\n%-24s %-15s %-20s %10s %10s %6s %12s %8s\n", "layer", "op", "output shape", "params", "non-zero",
           "dtype", "flops", "SQNR dB");
    for (int k = 0; k < g->n_nodes; k++) {
        const shr_node *n = &g->nodes[k];
        int64_t params, nz;
        const char *dtype;
        node_params(g, n, &params, &nz, &dtype);
        char shape[96];
        shr_shape_str(g->values[n->output].ndim, g->values[n->output].shape, shape, sizeof shape);
        double sqnr = shr_quant_layer_sqnr(g, n->name);
        char db[16] = "";
        if (!isnan(sqnr)) snprintf(db, sizeof db, "%.2f", sqnr);
        printf("%-24s %-15s %-20s %10lld %10lld %6s %12lld %8s\n", n->name, shr_op_name(n->op), shape, (long long)params,
               (long long)nz, params ? dtype : "-", (long long)shr_node_flops(g, k), db);
        int64_t b[4];
        if (shr_quant_layer_bytes(g, k, &b[0], &b[1], &b[2], &b[3]))
            printf("%-24s bytes: dense f32 %lld -> pruned CSR %lld -> quantized %lld -> entropy-coded %lld\n", "",
                   (long long)b[0], (long long)b[1], (long long)b[2], (long long)b[3]);
    }
    print_lineage(g, path);
}

static json_t *to_json(const shr_graph *g, const char *path, int64_t bytes) {
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(path));
    json_object_set_new(o, "params", json_integer(shr_graph_param_count(g)));
    json_object_set_new(o, "nonzero_params", json_integer(shr_graph_nonzero_count(g)));
    json_object_set_new(o, "file_bytes", json_integer(bytes));
    json_object_set_new(o, "flops", json_integer(shr_graph_flops(g)));
    if (requant_mode(g)) json_object_set_new(o, "requant", json_string(requant_mode(g)));
    json_object_set_new(o, "input_shape", shape_json(&g->values[g->input]));
    json_t *pp = json_object(), *mean = json_array(), *std = json_array();
    for (int c = 0; c < g->preproc.channels; c++) {
        json_array_append_new(mean, json_real(g->preproc.mean[c]));
        json_array_append_new(std, json_real(g->preproc.std[c]));
    }
    json_object_set_new(pp, "scale", json_real(g->preproc.scale));
    json_object_set_new(pp, "mean", mean);
    json_object_set_new(pp, "std", std);
    json_object_set_new(o, "preprocess", pp);
    json_t *layers = json_array();
    for (int k = 0; k < g->n_nodes; k++) {
        const shr_node *n = &g->nodes[k];
        int64_t params, nz;
        const char *dtype;
        node_params(g, n, &params, &nz, &dtype);
        json_t *l = json_object();
        json_object_set_new(l, "name", json_string(n->name));
        json_object_set_new(l, "op", json_string(shr_op_name(n->op)));
        json_object_set_new(l, "shape", shape_json(&g->values[n->output]));
        json_object_set_new(l, "params", json_integer(params));
        json_object_set_new(l, "nonzero", json_integer(nz));
        json_object_set_new(l, "dtype", json_string(dtype));
        json_object_set_new(l, "flops", json_integer(shr_node_flops(g, k)));
        json_t *qj = quant_json(g, n);
        if (qj) json_object_set_new(l, "quant", qj);
        json_array_append_new(layers, l);
    }
    json_object_set_new(o, "layers", layers);
    json_t *lin = json_array();
    if (g->lineage) {
        const char *s = g->lineage;
        while (*s) {
            const char *e = strchr(s, '\n');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            json_array_append_new(lin, json_stringn(s, len));
            s += len + (e ? 1 : 0);
        }
    }
    json_object_set_new(o, "lineage", lin);
    char *chain = NULL, hex[65];
    if (shr_lineage_summary(g->lineage, &chain) == SHR_OK) json_object_set_new(o, "lineage_summary", json_string(chain));
    free(chain);
    if (shr_file_sha256(path, hex) == SHR_OK) json_object_set_new(o, "sha256", json_string(hex));
    return o;
}

int cmd_inspect(int argc, char **argv) {
    const char *pos[1], *map = NULL;
    int json = 0, n_pos;
    cli_opt opts[] = {{"--json", OPT_FLAG, &json, 0, 0}, {"--sparsity-map", OPT_STR, &map, 0, 0}};
    int rc = cli_parse("inspect", argc, argv, opts, 2, pos, 1, &n_pos);
    if (rc != CLI_OK) return rc;
    if (n_pos != 1) return cli_usage("inspect", "give one MODEL file");
    shr_graph *g;
    shr_status st = cli_model_open(pos[0], &g);
    if (st != SHR_OK) return cli_fail("inspect", st);
    int64_t bytes = cli_file_size(pos[0]);
    char *svg = NULL; /* --sparsity-map: kept / pruned weights per layer (src/prune/sparsity_map.c) */
    if (map && ((st = shr_prune_sparsity_map(g, pos[0], &svg)) != SHR_OK ||
                (st = shr_write_file_atomic(map, svg, strlen(svg))) != SHR_OK))
        rc = cli_fail("inspect", st);
    free(svg);
    if (rc == CLI_OK && json) rc = cli_print_json("inspect", to_json(g, pos[0], bytes));
    else if (rc == CLI_OK) print_text(g, pos[0], bytes);
    shr_graph_free(g);
    return rc;
}
