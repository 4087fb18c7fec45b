/* shrink export: a model as an ONNX file (float, or QDQ for static int8 models; the input
 * preprocessing goes into metadata_props), optionally with a test vector
 * (input_0.pb / output_0.pb as in ONNX's test data) computed by shrink, so any
 * runtime can be checked against shrink's outputs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static int write_pb(const char *cmd, const char *dir, const char *file, const shr_tensor *t, const char *name) {
    char path[4096];
    void *buf = NULL;
    size_t size = 0;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    shr_status st = shr_onnx_tensor_encode(t, name, &buf, &size);
    if (st == SHR_OK) st = shr_write_file_atomic(path, buf, size);
    free(buf);
    return st == SHR_OK ? CLI_OK : cli_fail(cmd, st);
}

/* Input: from an ONNX tensor file, else n pixel-like samples (uniform in
 * [0, 1), then the model's normalization) from seed. */
static int make_input(const shr_graph *g, const char *file, int n, int64_t seed, shr_tensor **x) {
    const shr_value *in = &g->values[g->input];
    int64_t shape[SHR_MAX_DIMS];
    for (int d = 1; d < in->ndim; d++) shape[d] = in->shape[d];
    shape[0] = n;
    if (file) {
        FILE *f = fopen(file, "rb");
        long len = -1;
        void *buf = NULL;
        if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
            (buf = malloc((size_t)len + 1)) && fread(buf, 1, (size_t)len, f) != (size_t)len)
            len = -1;
        if (f) fclose(f);
        shr_status st = (buf && len >= 0) ? shr_onnx_tensor_decode(buf, (size_t)len, x, NULL) : SHR_ERR_IO;
        free(buf);
        if (st == SHR_ERR_IO) {
            fprintf(stderr, "shrink export: error: cannot read '%s'\n", file);
            return CLI_FAIL;
        }
        if (st != SHR_OK) return cli_fail("export", st);
        int ok = (*x)->ndim == in->ndim && (*x)->shape[0] >= 1 && (*x)->shape[0] <= 65536;
        for (int d = 1; ok && d < in->ndim; d++) ok = (*x)->shape[d] == in->shape[d];
        if (!ok) {
            char want[160], have[160];
            shr_shape_str(in->ndim, in->shape, want, sizeof want);
            shr_shape_str((*x)->ndim, (*x)->shape, have, sizeof have);
            fprintf(stderr, "shrink export: error: --test-input has shape %s, the model takes %s\n", have, want);
            shr_tensor_free(*x);
            return CLI_FAIL;
        }
        return CLI_OK;
    }
    shr_status st = shr_tensor_create(x, SHR_F32, in->ndim, shape);
    if (st != SHR_OK) return cli_fail("export", st);
    shr_rng r;
    shr_rng_seed(&r, (uint64_t)seed);
    const shr_preproc *p = &g->preproc;
    const int64_t C = in->ndim == 4 ? in->shape[1] : 1, plane = (*x)->numel / (n * C);
    float *v = shr_f32(*x);
    for (int64_t i = 0; i < (*x)->numel; i++) {
        int c = (int)((i / plane) % C), pc = c < p->channels ? c : p->channels - 1;
        v[i] = (shr_rng_uniform(&r) - p->mean[pc]) / p->std[pc];
    }
    return CLI_OK;
}

static int test_data(const shr_graph *g, const char *dir, const char *input, int n, int64_t seed) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "shrink export: error: cannot create '%s': %s\n", dir, strerror(errno));
        return CLI_FAIL;
    }
    shr_tensor *x = NULL, *y = NULL;
    int rc = make_input(g, input, n, seed, &x);
    if (rc != CLI_OK) return rc;
    n = (int)x->shape[0];
    shr_plan *p = NULL;
    const float *out;
    shr_status st = shr_plan_create(g, n, &p);
    if (st == SHR_OK) st = shr_plan_run(p, shr_f32(x), n, &out);
    const shr_value *ov = &g->values[g->output];
    int64_t shape[SHR_MAX_DIMS];
    for (int d = 1; d < ov->ndim; d++) shape[d] = ov->shape[d];
    shape[0] = n;
    if (st == SHR_OK) st = shr_tensor_create(&y, SHR_F32, ov->ndim, shape);
    if (st == SHR_OK) memcpy(y->data, out, y->nbytes);
    if (st != SHR_OK) rc = cli_fail("export", st);
    if (rc == CLI_OK) rc = write_pb("export", dir, "input_0.pb", x, g->values[g->input].name);
    if (rc == CLI_OK) rc = write_pb("export", dir, "output_0.pb", y, ov->name);
    shr_plan_free(p);
    shr_tensor_free(x);
    shr_tensor_free(y);
    return rc;
}

int cmd_export(int argc, char **argv) {
    const char *out = NULL, *format = "onnx", *tdir = NULL, *tin = NULL, *pos[1];
    int json = 0, samples = 4, n_pos;
    int64_t seed = 1;
    cli_opt opts[] = {
        {"-o", OPT_STR, &out, 0, 0},           {"--output", OPT_STR, &out, 0, 0},
        {"--format", OPT_STR, &format, 0, 0},  {"--test-data", OPT_STR, &tdir, 0, 0},
        {"--test-input", OPT_STR, &tin, 0, 0}, {"--samples", OPT_INT, &samples, 1, 4096},
        {"--seed", OPT_I64, &seed, 0, 9e18},   {"--json", OPT_FLAG, &json, 0, 0},
    };
    int rc = cli_parse("export", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &n_pos);
    if (rc != CLI_OK) return rc;
    if (n_pos != 1) return cli_usage("export", "give one MODEL file");
    if (!out) return cli_usage("export", "-o OUT is required");
    if (strcmp(format, "onnx") != 0) return cli_usage("export", "--format '%s' is not supported (onnx)", format);
    if (tin && !tdir) return cli_usage("export", "--test-input needs --test-data DIR");
    shr_graph *g = NULL;
    if ((rc = cli_load_model("export", pos[0], &g)) != CLI_OK) return rc;
    shr_status st = shr_onnx_export(g, out);
    if (st != SHR_OK) rc = cli_fail("export", st);
    if (rc == CLI_OK && tdir) rc = test_data(g, tdir, tin, samples, seed);
    if (rc == CLI_OK) {
        if (json) {
            json_t *j = json_object();
            json_object_set_new(j, "model", json_string(pos[0]));
            json_object_set_new(j, "format", json_string(format));
            json_object_set_new(j, "output_file", json_string(out));
            json_object_set_new(j, "file_bytes", json_integer(cli_file_size(out)));
            json_object_set_new(j, "test_data", tdir ? json_string(tdir) : json_null());
            rc = cli_print_json("export", j);
        } else {
            int qdq = 0; /* integer ops are written as QuantizeLinear / DequantizeLinear */
            for (int k = 0; k < g->n_nodes; k++) qdq |= g->nodes[k].op >= SHR_OP_QUANTIZE && g->nodes[k].op != SHR_OP_FAKE_QUANT;
            printf("exported %s to %s (ONNX opset 13%s, %lld bytes)%s%s\n", pos[0], out, qdq ? ", QDQ int8" : "",
                   (long long)cli_file_size(out), tdir ? "; test data in " : "", tdir ? tdir : "");
        }
    }
    shr_graph_free(g);
    return rc;
}
