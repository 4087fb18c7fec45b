/* shrink import: an ONNX model into a .shrk file. */
#include <stdio.h>

#include "cli.h"

int cmd_import(int argc, char **argv) {
    const char *out = NULL, *normalize = NULL, *input = NULL, *output = NULL, *pos[1];
    int json = 0, no_batch = 0, n_pos;
    cli_opt opts[] = {
        {"-o", OPT_STR, &out, 0, 0},          {"--output", OPT_STR, &out, 0, 0},
        {"--normalize", OPT_STR, &normalize, 0, 0}, {"--input-name", OPT_STR, &input, 0, 0},
        {"--output-name", OPT_STR, &output, 0, 0}, {"--no-batch-dim", OPT_FLAG, &no_batch, 0, 0},
        {"--json", OPT_FLAG, &json, 0, 0},
    };
    int rc = cli_parse("import", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &n_pos);
    if (rc != CLI_OK) return rc;
    if (n_pos != 1) return cli_usage("import", "give one MODEL.onnx file");
    if (!out) return cli_usage("import", "-o OUT.shrk is required");
    shr_preproc norm;
    if (normalize && (rc = cli_parse_normalize("import", normalize, &norm)) != CLI_OK) return rc;
    shr_onnx_import_options o = shr_onnx_import_default();
    o.batch = no_batch ? SHR_ONNX_BATCH_NONE : SHR_ONNX_BATCH_DIM0;
    o.input = input;
    o.output = output;
    shr_graph *g = NULL;
    shr_status st = shr_onnx_import(pos[0], &o, &g);
    if (st != SHR_OK) return cli_fail("import", st);
    if (normalize) {
        norm.scale = g->preproc.scale;
        g->preproc = norm;
    }
    if ((st = shr_model_save(g, out)) != SHR_OK) rc = cli_fail("import", st);
    if (rc == CLI_OK) {
        const shr_value *in = &g->values[g->input], *res = &g->values[g->output];
        char sin[160], sout[160];
        shr_shape_str(in->ndim, in->shape, sin, sizeof sin);
        shr_shape_str(res->ndim, res->shape, sout, sizeof sout);
        if (json) {
            json_t *j = json_object();
            json_object_set_new(j, "model", json_string(pos[0]));
            json_object_set_new(j, "output_file", json_string(out));
            json_object_set_new(j, "nodes", json_integer(g->n_nodes));
            json_object_set_new(j, "params", json_integer(shr_graph_param_count(g)));
            json_object_set_new(j, "flops", json_integer(shr_graph_flops(g)));
            json_object_set_new(j, "input_shape", json_string(sin));
            json_object_set_new(j, "output_shape", json_string(sout));
            json_object_set_new(j, "file_bytes", json_integer(cli_file_size(out)));
            rc = cli_print_json("import", j);
        } else {
            printf("imported %s: %d nodes, %lld params, input %s -> output %s; saved %s\n", pos[0], g->n_nodes,
                   (long long)shr_graph_param_count(g), sin, sout, out);
        }
    }
    shr_graph_free(g);
    return rc;
}
