/* shrink train: build a zoo or arch-file model, train it, evaluate it on the
 * test split, save it atomically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct train_args {
    cli_train_opts t;
    const char *arch, *arch_file, *data, *out;
    int threads, step_epochs, json;
    int64_t train_limit, test_limit;
    double l1, label_smoothing, val_split, gamma;
} train_args;

static int build_model(const train_args *a, const shr_dataset *d, shr_graph **g) {
    int classes = d->n_classes < 2 ? 2 : d->n_classes;
    shr_status st;
    if (a->arch_file) {
        char *text = cli_read_arch_file("train", a->arch_file);
        if (!text) return CLI_FAIL;
        st = shr_arch_parse(text, d->c, d->h, d->w, classes, (uint64_t)a->t.seed, g);
        free(text);
    } else {
        st = shr_zoo_build(a->arch, d->c, d->h, d->w, classes, (uint64_t)a->t.seed, g);
    }
    return st == SHR_OK ? CLI_OK : cli_fail("train", st);
}

static int configure(const train_args *a, shr_train_config *cfg) {
    int rc = cli_train_configure("train", &a->t, cfg);
    if (rc != CLI_OK) return rc;
    cfg->step_epochs = a->step_epochs;
    cfg->step_gamma = (float)a->gamma;
    cfg->label_smoothing = (float)a->label_smoothing;
    cfg->optim.l1 = (float)a->l1;
    return CLI_OK;
}

static void lineage_text(char *step, size_t size, const train_args *a, const shr_train_config *cfg) {
    int n = snprintf(step, size,
                     "train arch=%s data=%s epochs=%d batch=%d optimizer=%s lr=%g schedule=%s weight_decay=%g seed=%lld",
                     a->arch_file ? a->arch_file : a->arch, a->data, cfg->epochs, cfg->batch, a->t.optimizer,
                     (double)cfg->optim.lr, a->t.schedule, (double)cfg->optim.weight_decay, (long long)a->t.seed);
    /* A subset trains a different model: say so. */
    if (n > 0 && (size_t)n < size && a->train_limit > 0)
        snprintf(step + n, size - (size_t)n, " train_limit=%lld", (long long)a->train_limit);
}

static int run(train_args *a) {
    shr_set_threads(a->threads);
    shr_dataset *all = NULL, *train = NULL, *val = NULL, *test = NULL;
    shr_graph *g = NULL;
    shr_train_config cfg;
    int rc = configure(a, &cfg);
    if (rc != CLI_OK) return rc;
    char lineage[512];
    lineage_text(lineage, sizeof lineage, a, &cfg);
    shr_status st = shr_dataset_load(a->data, SHR_SPLIT_TRAIN, a->train_limit, &all);
    if (st != SHR_OK) return cli_fail("train", st);
    if (a->val_split > 0) {
        st = shr_dataset_split(all, a->val_split, (uint64_t)a->t.seed, &train, &val);
        if (st != SHR_OK) rc = cli_fail("train", st);
    } else {
        train = all;
        all = NULL;
    }
    if (rc == CLI_OK) rc = build_model(a, train, &g);
    if (rc == CLI_OK && (st = shr_dataset_default_preproc(train, &g->preproc)) != SHR_OK) rc = cli_fail("train", st);
    /* Everything that can fail before training is checked first, and the model is
     * saved last: a failed run never replaces an existing file. */
    if (rc == CLI_OK) rc = cli_load_data_for_model("train", a->data, SHR_SPLIT_TEST, a->test_limit, g, &test);
    if (rc == CLI_OK && (st = shr_graph_add_lineage(g, lineage)) != SHR_OK) rc = cli_fail("train", st);
    shr_train_result tr;
    if (rc == CLI_OK) {
        fprintf(stderr, "training %s (%lld params) on %lld samples for %d epochs, %d thread(s), %s kernels\n",
                a->arch_file ? a->arch_file : a->arch, (long long)shr_graph_param_count(g), (long long)train->n,
                cfg.epochs, shr_get_threads(), shr_cpu_features());
        if (shr_dataset_is_csv(a->data))
            fprintf(stderr, "note: a CSV file has no separate test split; accuracy is measured on the same file\n");
        if ((st = shr_train(g, train, val, &cfg, &tr)) != SHR_OK) rc = cli_fail("train", st);
    }
    shr_eval_result ev = {0, 0, 0, 0};
    if (rc == CLI_OK && (st = shr_evaluate(g, test, 256, &ev)) != SHR_OK) rc = cli_fail("train", st);
    if (rc == CLI_OK && (st = shr_model_save(g, a->out)) != SHR_OK) rc = cli_fail("train", st);
    if (rc == CLI_OK) {
        int64_t bytes = cli_file_size(a->out);
        if (a->json) {
            json_t *o = json_object();
            json_object_set_new(o, "output", json_string(a->out));
            json_object_set_new(o, "accuracy", json_real(ev.accuracy));
            json_object_set_new(o, "loss", json_real(ev.loss));
            json_object_set_new(o, "train_accuracy", json_real(tr.final_accuracy));
            json_object_set_new(o, "train_loss", json_real(tr.final_loss));
            if (val) json_object_set_new(o, "val_accuracy", json_real(tr.val_accuracy));
            json_object_set_new(o, "params", json_integer(shr_graph_param_count(g)));
            json_object_set_new(o, "file_bytes", json_integer(bytes));
            json_object_set_new(o, "seconds", json_real(tr.seconds));
            json_object_set_new(o, "samples_per_s", json_real(tr.samples_per_s));
            json_object_set_new(o, "cpu_seconds", json_real(tr.cpu_seconds));
            rc = cli_print_json("train", o);
        } else {
            printf("model      %s (%s)\n", a->out, a->arch_file ? a->arch_file : a->arch);
            printf("accuracy   %.4f on %lld test samples (loss %.4f)\n", ev.accuracy, (long long)ev.samples, ev.loss);
            printf("params     %lld\n", (long long)shr_graph_param_count(g));
            printf("file size  %lld bytes\n", (long long)bytes);
            printf("training   %.1f s, %.0f samples/s\n", tr.seconds, tr.samples_per_s);
        }
    }
    shr_graph_free(g);
    shr_dataset_free(all);
    shr_dataset_free(train);
    shr_dataset_free(val);
    shr_dataset_free(test);
    return rc;
}

int cmd_train(int argc, char **argv) {
    train_args a = {.t = {.optimizer = "adam", .schedule = "cosine", .epochs = 10, .batch = 64, .seed = 1, .lr = 0,
                          .momentum = -1, .weight_decay = -1}};
    cli_opt opts[] = {
        {"--arch", OPT_STR, &a.arch, 0, 0},          {"--arch-file", OPT_STR, &a.arch_file, 0, 0},
        {"--data", OPT_STR, &a.data, 0, 0},          {"-o", OPT_STR, &a.out, 0, 0},
        {"--output", OPT_STR, &a.out, 0, 0},         {"--epochs", OPT_INT, &a.t.epochs, 0, 100000},
        {"--batch", OPT_INT, &a.t.batch, 1, 65536},    {"--lr", OPT_FLOAT, &a.t.lr, 1e-9, 100},
        {"--optimizer", OPT_STR, &a.t.optimizer, 0, 0}, {"--momentum", OPT_FLOAT, &a.t.momentum, 0, 0.9999},
        {"--nesterov", OPT_FLAG, &a.t.nesterov, 0, 0}, {"--weight-decay", OPT_FLOAT, &a.t.weight_decay, 0, 10},
        {"--l1", OPT_FLOAT, &a.l1, 0, 10},           {"--clip-norm", OPT_FLOAT, &a.t.clip_norm, 0, 1e6},
        {"--schedule", OPT_STR, &a.t.schedule, 0, 0},  {"--warmup", OPT_INT, &a.t.warmup, 0, 10000},
        {"--step-epochs", OPT_INT, &a.step_epochs, 1, 100000}, {"--gamma", OPT_FLOAT, &a.gamma, 1e-6, 1},
        {"--min-lr", OPT_FLOAT, &a.t.min_lr, 0, 100},
        {"--label-smoothing", OPT_FLOAT, &a.label_smoothing, 0, 0.99},
        {"--crop-pad", OPT_INT, &a.t.crop_pad, 0, 16}, {"--hflip", OPT_FLAG, &a.t.hflip, 0, 0},
        {"--val-split", OPT_FLOAT, &a.val_split, 0, 0.9},
        {"--train-limit", OPT_I64, &a.train_limit, 0, 1e12}, {"--test-limit", OPT_I64, &a.test_limit, 0, 1e12},
        {"--seed", OPT_I64, &a.t.seed, 0, 9e18},       {"--threads", OPT_INT, &a.threads, 0, 1024},
        {"--json", OPT_FLAG, &a.json, 0, 0},
    };
    const char *pos[1];
    int n_pos;
    int rc = cli_parse("train", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 0, &n_pos);
    if (rc != CLI_OK) return rc;
    if (!a.arch == !a.arch_file) return cli_usage("train", "give exactly one of --arch or --arch-file");
    if (!a.data) return cli_usage("train", "--data is required");
    if (a.arch && !cli_is_zoo_name(a.arch))
        return cli_usage("train", "unknown architecture '%s' (choose one of: %s, or use --arch-file)", a.arch,
                         shr_zoo_names());
    if (!a.out) return cli_usage("train", "-o OUT.shrk is required");
    return run(&a);
}
