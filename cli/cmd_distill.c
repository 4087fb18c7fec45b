/* shrink distill: train a student (zoo, arch-file or an existing .shrk) from a
 * teacher's soft targets and optional feature hints, evaluate both, save the
 * student atomically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "shrink/distill.h"

typedef struct distill_args {
    cli_train_opts t;
    const char *teacher, *arch, *arch_file, *student, *data, *out;
    const char *features[SHR_DISTILL_MAX_HINTS];
    int n_features, threads, no_cache, json;
    int64_t train_limit, test_limit;
    double temperature, alpha, beta, adapter_lr, val_split;
} distill_args;

/* --feature may repeat, which cli_parse does not do: take those pairs out first. */
static int take_features(distill_args *a, int *argc, char **argv) {
    int w = 0;
    for (int i = 0; i < *argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--feature") == 0) {
            if (i + 1 >= *argc) return cli_usage("distill", "--feature needs a value TEACHER_LAYER:STUDENT_LAYER");
            v = argv[++i];
        } else if (strncmp(argv[i], "--feature=", 10) == 0) {
            v = argv[i] + 10;
        } else {
            argv[w++] = argv[i];
            continue;
        }
        const char *colon = strchr(v, ':');
        if (!colon || colon == v || !strrchr(v, ':')[1])
            return cli_usage("distill", "--feature expects TEACHER_LAYER:STUDENT_LAYER, got '%s'", v);
        if (a->n_features >= SHR_DISTILL_MAX_HINTS)
            return cli_usage("distill", "at most %d --feature pairs", SHR_DISTILL_MAX_HINTS);
        a->features[a->n_features++] = v;
    }
    *argc = w;
    return CLI_OK;
}

/* Layer names may hold ':' themselves: split where both halves name layers. */
static int split_feature(const char *spec, const shr_graph *t, const shr_graph *s, char *buf, size_t size,
                         shr_hint *h) {
    if (strlen(spec) >= size) return cli_usage("distill", "--feature '%s' is too long", spec);
    int found = 0;
    for (const char *c = strchr(spec, ':'); c; c = strchr(c + 1, ':')) {
        memcpy(buf, spec, strlen(spec) + 1);
        buf[c - spec] = '\0';
        if (shr_graph_find_value(t, buf) >= 0 && shr_graph_find_value(s, buf + (c - spec) + 1) >= 0) {
            h->teacher = buf;
            h->student = buf + (c - spec) + 1;
            found++;
            break;
        }
    }
    if (!found) {
        fprintf(stderr,
                "shrink distill: error: --feature '%s': no split into a teacher layer and a student layer "
                "('shrink inspect' lists the layers)\n",
                spec);
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* The student: an existing model, or a fresh zoo / arch-file model shaped like
 * the data with the teacher's number of outputs and the training set's
 * preprocessing (what `shrink train` would build with the same seed). */
static int make_student(const distill_args *a, const shr_dataset *d, int outputs, shr_graph **g) {
    shr_status st;
    if (a->student) {
        st = cli_model_open(a->student, g);
        return st == SHR_OK ? CLI_OK : cli_fail("distill", st);
    }
    if (a->arch_file) {
        char *text = cli_read_arch_file("distill", a->arch_file);
        if (!text) return CLI_FAIL;
        st = shr_arch_parse(text, d->c, d->h, d->w, outputs, (uint64_t)a->t.seed, g);
        free(text);
    } else {
        st = shr_zoo_build(a->arch, d->c, d->h, d->w, outputs, (uint64_t)a->t.seed, g);
    }
    if (st == SHR_OK) st = shr_dataset_default_preproc(d, &(*g)->preproc);
    return st == SHR_OK ? CLI_OK : cli_fail("distill", st);
}

static int configure(const distill_args *a, shr_train_config *cfg, shr_distill_config *dc) {
    int rc = cli_train_configure("distill", &a->t, cfg);
    if (rc != CLI_OK) return rc;
    *dc = shr_distill_default();
    dc->temperature = (float)a->temperature;
    dc->alpha = (float)a->alpha;
    dc->beta = (float)a->beta;
    dc->adapter_lr = (float)a->adapter_lr;
    dc->cache_teacher = !a->no_cache;
    dc->seed = (uint64_t)a->t.seed;
    return CLI_OK;
}

static shr_status add_lineage(shr_graph *g, const distill_args *a, const shr_train_config *cfg) {
    char line[2048];
    int n = snprintf(line, sizeof line,
                     "distill teacher=%s student=%s T=%g alpha=%g data=%s epochs=%d batch=%d optimizer=%s lr=%g "
                     "seed=%lld",
                     a->teacher, a->student ? a->student : a->arch_file ? a->arch_file : a->arch, a->temperature,
                     a->alpha, a->data, cfg->epochs, cfg->batch, a->t.optimizer, (double)cfg->optim.lr,
                     (long long)a->t.seed);
    for (int i = 0; i < a->n_features && n > 0 && (size_t)n < sizeof line; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, " feature=%s", a->features[i]);
    if (a->n_features > 0 && n > 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, " beta=%g", a->beta);
    /* Augmentation changes what the teacher labels (each batch's own view), so say so. */
    if (a->t.crop_pad > 0 && n > 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, " crop_pad=%d", a->t.crop_pad);
    if (a->t.hflip && n > 0 && (size_t)n < sizeof line) snprintf(line + n, sizeof line - (size_t)n, " hflip");
    return shr_graph_add_lineage(g, line);
}

typedef struct distill_run {
    shr_graph *teacher, *student;
    shr_dataset *train, *val, *test;
    char names[SHR_DISTILL_MAX_HINTS][512];
} distill_run;

static void free_run(distill_run *r) {
    shr_graph_free(r->teacher);
    shr_graph_free(r->student);
    shr_dataset_free(r->train);
    shr_dataset_free(r->val);
    shr_dataset_free(r->test);
}

static int print_result(const distill_args *a, const distill_run *r, const shr_eval_result *ev,
                        const shr_eval_result *tev, double before, const shr_train_result *tr) {
    int64_t bytes = cli_file_size(a->out), tbytes = cli_file_size(a->teacher);
    int64_t params = shr_graph_param_count(r->student), tparams = shr_graph_param_count(r->teacher);
    if (!a->json) {
        printf("model              %s (student %s)\n", a->out,
               a->student ? a->student : a->arch_file ? a->arch_file : a->arch);
        printf("accuracy           %.4f on %lld test samples (loss %.4f)\n", ev->accuracy, (long long)ev->samples,
               ev->loss);
        if (before >= 0) printf("before distill     %.4f\n", before);
        printf("teacher accuracy   %.4f (%s)\n", tev->accuracy, a->teacher);
        printf("params             %lld (teacher %lld, %.1f%%)\n", (long long)params, (long long)tparams,
               tparams ? 100.0 * (double)params / (double)tparams : 0.0);
        printf("file size          %lld bytes (teacher %lld)\n", (long long)bytes, (long long)tbytes);
        printf("training           %.1f s, %.0f samples/s\n", tr->seconds, tr->samples_per_s);
        return CLI_OK;
    }
    json_t *o = json_object();
    json_object_set_new(o, "output", json_string(a->out));
    json_object_set_new(o, "accuracy", json_real(ev->accuracy));
    json_object_set_new(o, "loss", json_real(ev->loss));
    if (before >= 0) json_object_set_new(o, "accuracy_before", json_real(before));
    json_object_set_new(o, "teacher_accuracy", json_real(tev->accuracy));
    json_object_set_new(o, "train_accuracy", json_real(tr->final_accuracy));
    json_object_set_new(o, "train_loss", json_real(tr->final_loss));
    if (r->val) json_object_set_new(o, "val_accuracy", json_real(tr->val_accuracy));
    json_object_set_new(o, "params", json_integer(params));
    json_object_set_new(o, "teacher_params", json_integer(tparams));
    json_object_set_new(o, "file_bytes", json_integer(bytes));
    json_object_set_new(o, "teacher_file_bytes", json_integer(tbytes));
    json_object_set_new(o, "temperature", json_real(a->temperature));
    json_object_set_new(o, "alpha", json_real(a->alpha));
    json_object_set_new(o, "seconds", json_real(tr->seconds));
    json_object_set_new(o, "samples_per_s", json_real(tr->samples_per_s));
    return cli_print_json("distill", o);
}

/* Models and data, checked before any training so a failure costs nothing. */
static int prepare(const distill_args *a, distill_run *r, shr_distill_config *dc) {
    shr_status st = cli_model_open(a->teacher, &r->teacher);
    if (st != SHR_OK) return cli_fail("distill", st);
    shr_dataset *all = NULL;
    if ((st = shr_dataset_load(a->data, SHR_SPLIT_TRAIN, a->train_limit, &all)) != SHR_OK)
        return cli_fail("distill", st);
    if (a->val_split > 0) {
        st = shr_dataset_split(all, a->val_split, (uint64_t)a->t.seed, &r->train, &r->val);
        shr_dataset_free(all);
        if (st != SHR_OK) return cli_fail("distill", st);
    } else {
        r->train = all;
    }
    const shr_value *tout = &r->teacher->values[r->teacher->output];
    int outputs = tout->ndim == 2 ? (int)tout->shape[1] : 0;
    if (outputs < r->train->n_classes) {
        fprintf(stderr, "shrink distill: error: the teacher has %d outputs but the data has %d classes\n", outputs,
                r->train->n_classes);
        return CLI_FAIL;
    }
    int rc = make_student(a, r->train, outputs, &r->student);
    if (rc == CLI_OK) rc = cli_load_data_for_model("distill", a->data, SHR_SPLIT_TEST, a->test_limit, r->student, &r->test);
    const shr_value *tin = &r->teacher->values[r->teacher->input];
    int64_t tsize = 1;
    for (int d = 1; d < tin->ndim; d++) tsize *= tin->shape[d];
    if (rc == CLI_OK && tsize != r->test->sample_size) {
        fprintf(stderr, "shrink distill: error: the teacher does not take samples of this data (%lld values)\n",
                (long long)r->test->sample_size);
        rc = CLI_FAIL;
    }
    for (int i = 0; rc == CLI_OK && i < a->n_features; i++)
        rc = split_feature(a->features[i], r->teacher, r->student, r->names[i], sizeof r->names[i], &dc->hints[i]);
    dc->n_hints = a->n_features;
    return rc;
}

static int run(const distill_args *a) {
    shr_set_threads(a->threads);
    distill_run r;
    memset(&r, 0, sizeof r);
    shr_train_config cfg;
    shr_distill_config dc;
    int rc = configure(a, &cfg, &dc);
    if (rc == CLI_OK) rc = prepare(a, &r, &dc);
    shr_status st;
    shr_eval_result tev = {0, 0, 0, 0}, ev = {0, 0, 0, 0}, bev = {-1, 0, 0, 0};
    if (rc == CLI_OK && (st = shr_evaluate(r.teacher, r.test, 256, &tev)) != SHR_OK) rc = cli_fail("distill", st);
    if (rc == CLI_OK && a->student && (st = shr_evaluate(r.student, r.test, 256, &bev)) != SHR_OK)
        rc = cli_fail("distill", st);
    if (rc == CLI_OK && (st = add_lineage(r.student, a, &cfg)) != SHR_OK) rc = cli_fail("distill", st);
    shr_train_result tr;
    if (rc == CLI_OK) {
        fprintf(stderr,
                "distilling %s (%lld params, test accuracy %.4f) into %s (%lld params), T=%g alpha=%g, %d hint(s), "
                "%lld samples, %d epochs, %d thread(s)\n",
                a->teacher, (long long)shr_graph_param_count(r.teacher), tev.accuracy,
                a->student ? a->student : a->arch_file ? a->arch_file : a->arch,
                (long long)shr_graph_param_count(r.student), a->temperature, a->alpha, dc.n_hints,
                (long long)r.train->n, cfg.epochs, shr_get_threads());
        if ((st = shr_distill_train(r.student, r.teacher, r.train, r.val, &cfg, &dc, &tr)) != SHR_OK)
            rc = cli_fail("distill", st);
    }
    if (rc == CLI_OK && (st = shr_evaluate(r.student, r.test, 256, &ev)) != SHR_OK) rc = cli_fail("distill", st);
    if (rc == CLI_OK && (st = shr_model_save(r.student, a->out)) != SHR_OK) rc = cli_fail("distill", st);
    if (rc == CLI_OK) rc = print_result(a, &r, &ev, &tev, bev.accuracy, &tr);
    free_run(&r);
    return rc;
}

int cmd_distill(int argc, char **argv) {
    distill_args a = {.t = {.optimizer = "adam", .schedule = "cosine", .epochs = 10, .batch = 64, .seed = 1,
                            .momentum = -1, .weight_decay = -1},
                      .temperature = 2, .alpha = 0.5, .beta = 1, .adapter_lr = 1e-3};
    cli_opt opts[] = {
        {"--teacher", OPT_STR, &a.teacher, 0, 0},    {"--arch", OPT_STR, &a.arch, 0, 0},
        {"--arch-file", OPT_STR, &a.arch_file, 0, 0}, {"--student", OPT_STR, &a.student, 0, 0},
        {"--data", OPT_STR, &a.data, 0, 0},          {"-o", OPT_STR, &a.out, 0, 0},
        {"--output", OPT_STR, &a.out, 0, 0},         {"--temperature", OPT_FLOAT, &a.temperature, 0.01, 1e4},
        {"--alpha", OPT_FLOAT, &a.alpha, 0, 1},      {"--beta", OPT_FLOAT, &a.beta, 0, 1e6},
        {"--adapter-lr", OPT_FLOAT, &a.adapter_lr, 1e-9, 100}, {"--no-cache", OPT_FLAG, &a.no_cache, 0, 0},
        {"--epochs", OPT_INT, &a.t.epochs, 0, 100000}, {"--batch", OPT_INT, &a.t.batch, 1, 65536},
        {"--lr", OPT_FLOAT, &a.t.lr, 1e-9, 100},       {"--optimizer", OPT_STR, &a.t.optimizer, 0, 0},
        {"--momentum", OPT_FLOAT, &a.t.momentum, 0, 0.9999}, {"--nesterov", OPT_FLAG, &a.t.nesterov, 0, 0},
        {"--weight-decay", OPT_FLOAT, &a.t.weight_decay, 0, 10}, {"--clip-norm", OPT_FLOAT, &a.t.clip_norm, 0, 1e6},
        {"--schedule", OPT_STR, &a.t.schedule, 0, 0},  {"--warmup", OPT_INT, &a.t.warmup, 0, 10000},
        {"--min-lr", OPT_FLOAT, &a.t.min_lr, 0, 100},  {"--crop-pad", OPT_INT, &a.t.crop_pad, 0, 16},
        {"--hflip", OPT_FLAG, &a.t.hflip, 0, 0},       {"--val-split", OPT_FLOAT, &a.val_split, 0, 0.9},
        {"--train-limit", OPT_I64, &a.train_limit, 0, 1e12}, {"--test-limit", OPT_I64, &a.test_limit, 0, 1e12},
        {"--seed", OPT_I64, &a.t.seed, 0, 9e18},       {"--threads", OPT_INT, &a.threads, 0, 1024},
        {"--json", OPT_FLAG, &a.json, 0, 0},
    };
    int rc = take_features(&a, &argc, argv);
    if (rc != CLI_OK) return rc;
    const char *pos[1];
    int n_pos;
    rc = cli_parse("distill", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 0, &n_pos);
    if (rc != CLI_OK) return rc;
    if (!a.teacher) return cli_usage("distill", "--teacher T.shrk is required");
    if ((a.arch != NULL) + (a.arch_file != NULL) + (a.student != NULL) != 1)
        return cli_usage("distill", "give exactly one of --arch, --arch-file or --student");
    if (!a.data) return cli_usage("distill", "--data is required");
    if (!a.out) return cli_usage("distill", "-o OUT.shrk is required");
    if (a.arch && !cli_is_zoo_name(a.arch)) /* a usage error, before any data is read */
        return cli_usage("distill", "unknown architecture '%s' (choose one of: %s, or use --arch-file)", a.arch,
                         shr_zoo_names());
    return run(&a);
}
