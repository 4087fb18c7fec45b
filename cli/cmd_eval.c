/* shrink eval: accuracy and loss of a model on a dataset's test split. */
#include <stdio.h>

#include "cli.h"

int cmd_eval(int argc, char **argv) {
    const char *data = NULL, *pos[1];
    int json = 0, threads = 0, batch = 256, n_pos;
    int64_t limit = 0;
    cli_opt opts[] = {
        {"--data", OPT_STR, &data, 0, 0},           {"--json", OPT_FLAG, &json, 0, 0},
        {"--threads", OPT_INT, &threads, 0, 1024},  {"--batch", OPT_INT, &batch, 1, 65536},
        {"--test-limit", OPT_I64, &limit, 0, 1e12},
    };
    int rc = cli_parse("eval", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &n_pos);
    if (rc != CLI_OK) return rc;
    if (n_pos != 1) return cli_usage("eval", "give one MODEL file");
    if (!data) return cli_usage("eval", "--data is required");
    shr_set_threads(threads);
    shr_graph *g;
    shr_status st = cli_model_open(pos[0], &g);
    if (st != SHR_OK) return cli_fail("eval", st);
    shr_dataset *d = NULL;
    rc = cli_load_data_for_model("eval", data, SHR_SPLIT_TEST, limit, g, &d);
    shr_eval_result r;
    if (rc == CLI_OK && (st = shr_evaluate(g, d, batch, &r)) != SHR_OK) rc = cli_fail("eval", st);
    if (rc == CLI_OK) {
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "model", json_string(pos[0]));
            json_object_set_new(o, "accuracy", json_real(r.accuracy));
            json_object_set_new(o, "loss", json_real(r.loss));
            json_object_set_new(o, "samples", json_integer(r.samples));
            json_object_set_new(o, "seconds", json_real(r.seconds));
            rc = cli_print_json("eval", o);
        } else {
            printf("accuracy %.4f  loss %.4f  samples %lld  (%.2f s)\n", r.accuracy, r.loss, (long long)r.samples,
                   r.seconds);
        }
    }
    shr_dataset_free(d);
    shr_graph_free(g);
    return rc;
}
