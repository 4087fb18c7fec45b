/* shrink prune: prune a model (mask-based or structured), fine-tune it with the
 * masks held, evaluate before and after, save atomically with the lineage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nn/train_hooks.h"
#include "shrink/distill.h"
#include "shrink/prune.h"
#include "shrink/report.h"

#define MAX_EXCLUDE 64

typedef struct prune_args {
    const char *model, *method, *sparsity, *importance, *nm, *block, *schedule, *data, *out, *optimizer, *teacher;
    const char *exclude[MAX_EXCLUDE];
    char *exclude_buf[MAX_EXCLUDE];
    int n_exclude, n_exclude_buf, epochs, batch, cycles, start_epoch, end_epoch, frequency, exclude_first,
        exclude_last, data_batches, threads, json;
    int64_t seed, train_limit, test_limit;
    double lr, max_drop, max_layer_sparsity, initial_sparsity, weight_decay, temperature, alpha;
} prune_args;

static void free_args(prune_args *a) {
    for (int i = 0; i < a->n_exclude_buf; i++) free(a->exclude_buf[i]);
}

/* --exclude may repeat and take comma lists, which cli_parse does not do: take them out first. */
static int take_excludes(prune_args *a, int *argc, char **argv) {
    int w = 0;
    for (int i = 0; i < *argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--exclude") == 0) {
            if (i + 1 >= *argc) return cli_usage("prune", "--exclude needs a layer name");
            v = argv[++i];
        } else if (strncmp(argv[i], "--exclude=", 10) == 0) {
            v = argv[i] + 10;
        } else {
            argv[w++] = argv[i];
            continue;
        }
        char *copy = strdup(v);
        if (!copy || a->n_exclude_buf >= MAX_EXCLUDE) {
            free(copy);
            return cli_usage("prune", "too many --exclude options (at most %d)", MAX_EXCLUDE);
        }
        a->exclude_buf[a->n_exclude_buf++] = copy;
        for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (a->n_exclude >= MAX_EXCLUDE) return cli_usage("prune", "at most %d excluded layers", MAX_EXCLUDE);
            a->exclude[a->n_exclude++] = tok;
        }
    }
    *argc = w;
    return CLI_OK;
}

/* Parses the method options into cfg and sched (usage errors exit 2). */
static int configure(const prune_args *a, shr_prune_config *cfg, shr_prune_schedule *sched, int *auto_sp) {
    *cfg = shr_prune_default();
    *sched = shr_prune_schedule_default();
    if (shr_prune_method_parse(a->method, &cfg->method) != SHR_OK) return cli_usage("prune", "%s", shr_last_error());
    if (a->importance && shr_prune_importance_parse(a->importance, &cfg->importance) != SHR_OK)
        return cli_usage("prune", "%s", shr_last_error());
    if (shr_prune_schedule_parse(a->schedule, &sched->kind) != SHR_OK) return cli_usage("prune", "%s", shr_last_error());
    *auto_sp = a->sparsity && strcmp(a->sparsity, "auto") == 0;
    if (cfg->method == SHR_PRUNE_NM) {
        int n = 0, m = 0;
        char tail = 0;
        if (a->nm && (sscanf(a->nm, "%d:%d%c", &n, &m, &tail) != 2 || n < 1 || m > 256 || n >= m))
            return cli_usage("prune", "--nm expects N:M with 1 <= N < M <= 256, e.g. 2:4, got '%s'", a->nm);
        if (a->nm) {
            cfg->nm_n = n;
            cfg->nm_m = m;
        }
    } else if (a->nm) {
        return cli_usage("prune", "--nm goes with --method nm");
    } else if (!a->sparsity) {
        return cli_usage("prune", "--sparsity is required (a fraction in 0..1, or auto with --method magnitude)");
    } else if (*auto_sp) {
        if (cfg->method != SHR_PRUNE_MAGNITUDE) return cli_usage("prune", "--sparsity auto goes with --method magnitude");
    } else {
        char *end;
        double s = strtod(a->sparsity, &end);
        int structured = shr_prune_is_structured(cfg->method) && cfg->method != SHR_PRUNE_LAYER;
        if (end == a->sparsity || *end || !(s >= 0.0 && (structured ? s < 1.0 : s <= 1.0)))
            return cli_usage("prune", "--sparsity expects a number in 0..1%s or auto, got '%s'",
                             structured ? " (below 1 for structured methods)" : "", a->sparsity);
        cfg->sparsity = (float)s;
    }
    if (a->max_drop >= 0 && !*auto_sp) return cli_usage("prune", "--max-drop goes with --sparsity auto");
    if (a->block) {
        int r = 0, c = 0;
        char tail = 0;
        if (sscanf(a->block, "%dx%d%c", &r, &c, &tail) != 2 || r < 1 || c < 1 || r > 256 || c > 256)
            return cli_usage("prune", "--block expects RxC with sides 1..256, e.g. 8x1 or 4x1, got '%s'", a->block);
        if (cfg->method != SHR_PRUNE_MAGNITUDE && cfg->method != SHR_PRUNE_GLOBAL)
            return cli_usage("prune", "--block goes with --method magnitude or global");
        cfg->block_rows = r;
        cfg->block_cols = c;
    }
    cfg->exclude = a->exclude;
    cfg->n_exclude = a->n_exclude;
    cfg->exclude_first = a->exclude_first;
    cfg->exclude_last = a->exclude_last;
    cfg->max_layer_sparsity = (float)a->max_layer_sparsity;
    cfg->data_batches = a->data_batches;
    cfg->batch = a->batch;
    cfg->seed = (uint64_t)a->seed;
    sched->cycles = a->cycles;
    sched->start_epoch = a->start_epoch;
    sched->end_epoch = a->end_epoch;
    sched->frequency = a->frequency;
    sched->initial_sparsity = (float)a->initial_sparsity;
    return CLI_OK;
}

/* Per-layer sparsity from the sensitivity analysis on a tenth of the training set. */
static int pick_auto(const prune_args *a, const shr_graph *g, const shr_dataset *train, shr_sensitivity **sens,
                     shr_prune_layer_target **targets, shr_prune_config *cfg) {
    static const float grid[] = {0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 0.95f};
    shr_dataset *rest = NULL, *held = NULL;
    shr_status st = shr_dataset_split(train, 0.1, (uint64_t)a->seed, &rest, &held);
    if (st == SHR_OK) {
        fprintf(stderr, "sensitivity analysis on %lld held-out training samples...\n", (long long)held->n);
        st = shr_prune_auto(g, held, grid, (int)(sizeof grid / sizeof *grid), a->max_drop < 0 ? 0.01 : a->max_drop,
                            256, sens);
    }
    shr_dataset_free(rest);
    shr_dataset_free(held);
    if (st != SHR_OK) return cli_fail("prune", st);
    *targets = malloc(((size_t)(*sens)->n_layers + 1) * sizeof **targets);
    if (!*targets) {
        fprintf(stderr, "shrink prune: error: out of memory\n");
        return CLI_FAIL;
    }
    for (int i = 0; i < (*sens)->n_layers; i++) {
        (*targets)[i] = (shr_prune_layer_target){(*sens)->layer[i], (*sens)->chosen[i]};
        fprintf(stderr, "  %-24s sparsity %.2f\n", (*sens)->layer[i], (double)(*sens)->chosen[i]);
    }
    cfg->sparsity = 0.0f;
    cfg->layers = *targets;
    cfg->n_layers = (*sens)->n_layers;
    return CLI_OK;
}

static void lineage_text(char *buf, size_t size, const prune_args *a, const shr_prune_config *cfg,
                         const shr_prune_schedule *s, const shr_train_config *tc, int auto_sp) {
    int n = snprintf(buf, size, "prune %s", a->method);
    if (cfg->method == SHR_PRUNE_NM) n += snprintf(buf + n, size - (size_t)n, " %d:%d", cfg->nm_n, cfg->nm_m);
    else if (auto_sp) n += snprintf(buf + n, size - (size_t)n, " auto max_drop=%g", a->max_drop < 0 ? 0.01 : a->max_drop);
    else n += snprintf(buf + n, size - (size_t)n, " %g", (double)cfg->sparsity);
    if (cfg->block_rows * cfg->block_cols > 1)
        n += snprintf(buf + n, size - (size_t)n, " block=%dx%d", cfg->block_rows, cfg->block_cols);
    if (cfg->method == SHR_PRUNE_NEURON || cfg->method == SHR_PRUNE_CHANNEL) {
        shr_prune_importance imp = cfg->importance;
        if (imp == SHR_IMPORTANCE_DEFAULT) imp = cfg->method == SHR_PRUNE_NEURON ? SHR_IMPORTANCE_L2 : SHR_IMPORTANCE_L1;
        n += snprintf(buf + n, size - (size_t)n, " importance=%s", shr_prune_importance_name(imp));
    }
    n += snprintf(buf + n, size - (size_t)n, " schedule=%s finetune_epochs=%d lr=%g data=%s seed=%lld",
                  shr_prune_schedule_name(s->kind), tc->epochs, (double)tc->optim.lr, a->data, (long long)a->seed);
    for (int i = 0; i < a->n_exclude && n < (int)size; i++)
        n += snprintf(buf + n, size - (size_t)n, " exclude=%s", a->exclude[i]);
    if (cfg->exclude_first && n < (int)size) n += snprintf(buf + n, size - (size_t)n, " exclude_first");
    if (cfg->exclude_last && n < (int)size) n += snprintf(buf + n, size - (size_t)n, " exclude_last");
    if (a->teacher && n < (int)size) snprintf(buf + n, size - (size_t)n, " teacher=%s", a->teacher);
}

static json_t *layers_json(const shr_graph *g) {
    json_t *arr = json_array();
    for (int k = 0; k < g->n_nodes; k++) {
        const shr_node *n = &g->nodes[k];
        if ((n->op != SHR_OP_LINEAR && n->op != SHR_OP_CONV2D) || n->n_inputs < 2 || n->inputs[1] < 0) continue;
        const shr_tensor *w = g->values[n->inputs[1]].data;
        if (!w) continue;
        int64_t nz = shr_tensor_count_nonzero(w);
        json_t *l = json_object();
        json_object_set_new(l, "name", json_string(n->name));
        json_object_set_new(l, "op", json_string(shr_op_name(n->op)));
        json_object_set_new(l, "out_channels", json_integer(w->shape[0]));
        json_object_set_new(l, "params", json_integer(w->numel));
        json_object_set_new(l, "nonzero", json_integer(nz));
        json_object_set_new(l, "sparsity", json_real(w->numel ? 1.0 - (double)nz / (double)w->numel : 0.0));
        json_array_append_new(arr, l);
    }
    return arr;
}

typedef struct before_after {
    double acc_before, acc_after;
    int64_t params_before, bytes_before, bytes;
} before_after;

static int report(const prune_args *a, const shr_graph *g, const before_after *r) {
    int64_t params = shr_graph_param_count(g), nz = shr_graph_nonzero_count(g);
    double sp = shr_prune_weight_sparsity(g);
    if (a->json) {
        json_t *o = json_object();
        json_object_set_new(o, "output", json_string(a->out));
        json_object_set_new(o, "method", json_string(a->method));
        json_object_set_new(o, "sparsity", json_real(sp));
        json_object_set_new(o, "params_before", json_integer(r->params_before));
        json_object_set_new(o, "params", json_integer(params));
        json_object_set_new(o, "nonzero_params", json_integer(nz));
        json_object_set_new(o, "accuracy_before", json_real(r->acc_before));
        json_object_set_new(o, "accuracy_after", json_real(r->acc_after));
        json_object_set_new(o, "file_bytes_before", json_integer(r->bytes_before));
        json_object_set_new(o, "file_bytes", json_integer(r->bytes));
        json_object_set_new(o, "layers", layers_json(g));
        return cli_print_json("prune", o);
    }
    printf("model       %s (%s)\n", a->out, a->method);
    printf("accuracy    %.4f -> %.4f\n", r->acc_before, r->acc_after);
    printf("params      %lld -> %lld (non-zero %lld, %.1f%% of before)\n", (long long)r->params_before,
           (long long)params, (long long)nz, r->params_before ? 100.0 * (double)nz / (double)r->params_before : 0.0);
    printf("sparsity    %.4f of the linear/conv weights\n", sp);
    printf("file size   %lld -> %lld bytes\n", (long long)r->bytes_before, (long long)r->bytes);
    return CLI_OK;
}

/* Fine-tuning learns from a teacher's soft targets too (docs/distill.md): a model file,
 * or "self" for the model as it was before pruning. */
typedef struct teacher_run {
    shr_graph *teacher;
    shr_distiller *d;
    shr_train_hooks hooks;
} teacher_run;

static int setup_teacher(const prune_args *a, const shr_graph *g, const shr_dataset *train, shr_train_config *tc,
                         teacher_run *t) {
    shr_status st = strcmp(a->teacher, "self") == 0 ? shr_graph_clone(&t->teacher, g)
                                                     : cli_model_open(a->teacher, &t->teacher);
    shr_distill_config dc = shr_distill_default();
    if (a->temperature > 0) dc.temperature = (float)a->temperature;
    if (a->alpha >= 0) dc.alpha = (float)a->alpha;
    if (st == SHR_OK) st = shr_distiller_create(t->teacher, g, &dc, tc->batch, train, &tc->augment, &t->d);
    if (st == SHR_OK) st = shr_distill_hooks(t->d, NULL, &t->hooks);
    if (st != SHR_OK) return cli_fail("prune", st);
    tc->hooks = &t->hooks;
    return CLI_OK;
}

static int run(prune_args *a) {
    shr_prune_config cfg;
    shr_prune_schedule sched;
    int auto_sp = 0;
    int rc = configure(a, &cfg, &sched, &auto_sp);
    if (rc != CLI_OK) return rc;
    shr_train_config tc = shr_train_default();
    shr_optim_kind kind;
    if (shr_optim_parse(a->optimizer, &kind) != SHR_OK) return cli_usage("prune", "%s", shr_last_error());
    tc.optim = shr_optim_default(kind);
    tc.epochs = a->epochs;
    tc.batch = a->batch;
    tc.seed = (uint64_t)a->seed;
    if (a->lr > 0) tc.optim.lr = (float)a->lr; /* default: train's (a pruned model has to recover) */
    if (a->weight_decay >= 0) tc.optim.weight_decay = (float)a->weight_decay;
    tc.progress = cli_progress;
    shr_set_threads(a->threads);

    shr_graph *g = NULL;
    shr_dataset *train = NULL, *test = NULL;
    shr_sensitivity *sens = NULL;
    shr_prune_layer_target *targets = NULL;
    teacher_run teach = {NULL, NULL, {0}};
    before_after r = {0, 0, 0, cli_file_size(a->model), 0};
    shr_status st = cli_model_open(a->model, &g);
    if (st != SHR_OK) return cli_fail("prune", st);
    rc = cli_load_data_for_model("prune", a->data, SHR_SPLIT_TRAIN, a->train_limit, g, &train);
    if (rc == CLI_OK) rc = cli_load_data_for_model("prune", a->data, SHR_SPLIT_TEST, a->test_limit, g, &test);
    shr_eval_result ev = {0, 0, 0, 0};
    if (rc == CLI_OK && (st = shr_evaluate(g, test, 256, &ev)) != SHR_OK) rc = cli_fail("prune", st);
    r.acc_before = ev.accuracy;
    r.params_before = shr_graph_param_count(g);
    if (rc == CLI_OK && auto_sp) rc = pick_auto(a, g, train, &sens, &targets, &cfg);
    if (rc == CLI_OK && a->teacher && tc.epochs > 0) rc = setup_teacher(a, g, train, &tc, &teach);
    cfg.data = train;
    char lineage[1024];
    lineage_text(lineage, sizeof lineage, a, &cfg, &sched, &tc, auto_sp);
    if (rc == CLI_OK) {
        fprintf(stderr, "%s: %lld params, accuracy %.4f; %s, then %d fine-tune epoch(s)\n", a->model,
                (long long)r.params_before, r.acc_before, lineage, tc.epochs);
        if ((st = shr_prune_run(&g, &cfg, &sched, train, NULL, &tc)) != SHR_OK) rc = cli_fail("prune", st);
    }
    if (rc == CLI_OK && (st = shr_evaluate(g, test, 256, &ev)) != SHR_OK) rc = cli_fail("prune", st);
    r.acc_after = ev.accuracy;
    char hex[65] = ""; /* the step names the file it started from (as quantize's does) */
    if (rc == CLI_OK && shr_file_sha256(a->model, hex) != SHR_OK) hex[0] = '\0';
    if (rc == CLI_OK && (st = shr_lineage_add_step(g, lineage, hex[0] ? hex : NULL)) != SHR_OK) rc = cli_fail("prune", st);
    if (rc == CLI_OK && (st = shr_model_save(g, a->out)) != SHR_OK) rc = cli_fail("prune", st);
    r.bytes = cli_file_size(a->out);
    if (rc == CLI_OK) rc = report(a, g, &r);
    free(targets);
    shr_sensitivity_free(sens);
    shr_distiller_free(teach.d);
    shr_graph_free(teach.teacher);
    shr_dataset_free(train);
    shr_dataset_free(test);
    shr_graph_free(g);
    return rc;
}

int cmd_prune(int argc, char **argv) {
    prune_args a = {.method = NULL, .schedule = "oneshot", .optimizer = "adam", .batch = 64, .cycles = 3,
                    .end_epoch = -1, .frequency = 1, .data_batches = 4, .seed = 1, .lr = 0, .max_drop = -1,
                    .weight_decay = -1, .alpha = -1};
    int rc = take_excludes(&a, &argc, argv);
    const char *pos[1];
    int n_pos = 0;
    cli_opt opts[] = {
        {"--method", OPT_STR, &a.method, 0, 0},           {"--sparsity", OPT_STR, &a.sparsity, 0, 0},
        {"--importance", OPT_STR, &a.importance, 0, 0},   {"--nm", OPT_STR, &a.nm, 0, 0},
        {"--block", OPT_STR, &a.block, 0, 0},
        {"--schedule", OPT_STR, &a.schedule, 0, 0},       {"--epochs", OPT_INT, &a.epochs, 0, 100000},
        {"--finetune-epochs", OPT_INT, &a.epochs, 0, 100000}, {"--lr", OPT_FLOAT, &a.lr, 1e-9, 100},
        {"--optimizer", OPT_STR, &a.optimizer, 0, 0},     {"--weight-decay", OPT_FLOAT, &a.weight_decay, 0, 10},
        {"--batch", OPT_INT, &a.batch, 2, 4096},          {"--cycles", OPT_INT, &a.cycles, 1, 1000},
        {"--start-epoch", OPT_INT, &a.start_epoch, 0, 100000}, {"--end-epoch", OPT_INT, &a.end_epoch, 0, 100000},
        {"--frequency", OPT_INT, &a.frequency, 1, 100000},
        {"--initial-sparsity", OPT_FLOAT, &a.initial_sparsity, 0, 1},
        {"--exclude-first", OPT_FLAG, &a.exclude_first, 0, 0}, {"--exclude-last", OPT_FLAG, &a.exclude_last, 0, 0},
        {"--max-layer-sparsity", OPT_FLOAT, &a.max_layer_sparsity, 0, 1},
        {"--max-drop", OPT_FLOAT, &a.max_drop, 0, 1},     {"--data-batches", OPT_INT, &a.data_batches, 1, 10000},
        {"--data", OPT_STR, &a.data, 0, 0},               {"-o", OPT_STR, &a.out, 0, 0},
        {"--output", OPT_STR, &a.out, 0, 0},              {"--train-limit", OPT_I64, &a.train_limit, 0, 1e12},
        {"--test-limit", OPT_I64, &a.test_limit, 0, 1e12}, {"--seed", OPT_I64, &a.seed, 0, 9e18},
        {"--threads", OPT_INT, &a.threads, 0, 1024},      {"--json", OPT_FLAG, &a.json, 0, 0},
        {"--teacher", OPT_STR, &a.teacher, 0, 0},         {"--temperature", OPT_FLOAT, &a.temperature, 1e-3, 100},
        {"--alpha", OPT_FLOAT, &a.alpha, 0, 1},
    };
    if (rc == CLI_OK) rc = cli_parse("prune", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &n_pos);
    if (rc == CLI_OK && n_pos != 1) rc = cli_usage("prune", "give one MODEL file");
    if (rc == CLI_OK && !a.method) rc = cli_usage("prune", "--method is required");
    if (rc == CLI_OK && !a.data) rc = cli_usage("prune", "--data is required");
    if (rc == CLI_OK && !a.out) rc = cli_usage("prune", "-o OUT.shrk is required");
    if (rc == CLI_OK && a.teacher && a.epochs < 1) rc = cli_usage("prune", "--teacher needs fine-tuning (--epochs N)");
    if (rc == CLI_OK) {
        a.model = pos[0];
        rc = run(&a);
    }
    free_args(&a);
    return rc;
}
