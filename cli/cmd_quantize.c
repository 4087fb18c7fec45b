/* shrink quantize: static / dynamic / weight-only quantization (and QAT) of a model, evaluated
 * before and after, saved atomically with the lineage; per-layer SQNR and quantization
 * parameters in the report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "shrink/quant.h"

#define MAX_LIST 64

typedef struct quant_args {
    const char *model, *mode, *data, *out, *calib, *granularity, *teacher, *requant;
    const char *exclude[MAX_LIST], *keep16[MAX_LIST];
    char *bufs[2 * MAX_LIST];
    int n_exclude, n_keep16, n_bufs;
    int bits, per_channel, per_tensor, symmetric, asymmetric, act_bits, calib_samples, group_size, int4_zero, gptq;
    int epochs, epochs_given, lsq, auto_mp, threads, json, batch, weight_bits, bn_freeze, share_bits, huffman;
    int64_t train_limit, test_limit, seed;
    double percentile, max_drop, lr;
} quant_args;

static void free_args(quant_args *a) {
    for (int i = 0; i < a->n_bufs; i++) free(a->bufs[i]);
}

/* --exclude / --keep-int16 may repeat and take comma lists: taken out before cli_parse. */
static int take_lists(quant_args *a, int *argc, char **argv) {
    static const char *const flags[2] = {"--exclude", "--keep-int16"};
    int w = 0;
    for (int i = 0; i < *argc; i++) {
        int which = -1;
        const char *v = NULL;
        for (int f = 0; f < 2 && which < 0; f++) {
            size_t len = strlen(flags[f]);
            if (strcmp(argv[i], flags[f]) == 0) {
                if (i + 1 >= *argc) return cli_usage("quantize", "%s needs a layer name", flags[f]);
                which = f, v = argv[++i];
            } else if (strncmp(argv[i], flags[f], len) == 0 && argv[i][len] == '=') {
                which = f, v = argv[i] + len + 1;
            }
        }
        if (which < 0) {
            argv[w++] = argv[i];
            continue;
        }
        char *copy = strdup(v);
        if (!copy || a->n_bufs >= 2 * MAX_LIST) {
            free(copy);
            return cli_usage("quantize", "too many %s options", flags[which]);
        }
        a->bufs[a->n_bufs++] = copy;
        const char **list = which == 0 ? a->exclude : a->keep16;
        int *n = which == 0 ? &a->n_exclude : &a->n_keep16;
        for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (*n >= MAX_LIST) return cli_usage("quantize", "at most %d layers in %s", MAX_LIST, flags[which]);
            list[(*n)++] = tok;
        }
    }
    *argc = w;
    return CLI_OK;
}

/* Options -> config; usage errors exit 2. */
static int configure(const quant_args *a, shr_quant_config *c) {
    *c = shr_quant_default();
    if (shr_quant_mode_parse(a->mode, &c->mode) != SHR_OK) return cli_usage("quantize", "%s", shr_last_error());
    if (a->calib && shr_calib_parse(a->calib, &c->calib) != SHR_OK) return cli_usage("quantize", "%s", shr_last_error());
    if (a->per_channel && a->per_tensor) return cli_usage("quantize", "give --per-channel or --per-tensor, not both");
    if (a->symmetric && a->asymmetric) return cli_usage("quantize", "give --symmetric or --asymmetric, not both");
    c->per_channel = !a->per_tensor;
    if (a->granularity) {
        if (strcmp(a->granularity, "tensor") == 0) c->per_channel = 0;
        else if (strcmp(a->granularity, "channel") != 0)
            return cli_usage("quantize", "--granularity takes tensor or channel, not '%s'", a->granularity);
    }
    c->symmetric = a->symmetric;
    c->int4_asym = a->int4_zero || a->asymmetric;
    c->bits = a->bits ? a->bits : 8;
    c->act_bits = a->act_bits;
    if (a->requant && strcmp(a->requant, "float") != 0 && strcmp(a->requant, "fixed") != 0)
        return cli_usage("quantize", "--requant takes float or fixed, not '%s'", a->requant);
    c->fixed_requant = a->requant && strcmp(a->requant, "fixed") == 0;
    if (a->requant && c->mode != SHR_QUANT_STATIC && c->mode != SHR_QUANT_QAT)
        return cli_usage("quantize", "--requant goes with --mode static or qat");
    c->weight_bits = a->weight_bits;
    c->lsq = a->lsq;
    c->bn_freeze_epoch = a->bn_freeze;
    c->share_bits = a->share_bits;
    c->huffman = a->huffman;
    if (c->mode == SHR_QUANT_SPARSE) {
        c->epochs = a->epochs_given ? a->epochs : 0;
        c->lr = (float)a->lr;
        c->seed = (uint64_t)a->seed;
    }
    if ((a->share_bits || a->huffman) && c->mode != SHR_QUANT_SPARSE && c->mode != SHR_QUANT_WEIGHT_ONLY)
        return cli_usage("quantize", "--share-bits and --huffman go with --mode sparse (or weight-only)");
    c->percentile = a->percentile;
    c->calib_samples = a->calib_samples;
    c->group_size = a->group_size;
    c->gptq = a->gptq;
    c->exclude = a->exclude;
    c->n_exclude = a->n_exclude;
    c->keep16 = a->keep16;
    c->n_keep16 = a->n_keep16;
    if (c->mode == SHR_QUANT_STATIC && c->bits != 8 && c->bits != 16)
        return cli_usage("quantize", "--mode static takes --bits 8 or 16");
    if (c->mode == SHR_QUANT_DYNAMIC && c->bits != 8) return cli_usage("quantize", "--mode dynamic takes --bits 8");
    if (c->mode == SHR_QUANT_WEIGHT_ONLY && c->bits != 8 && c->bits != 4)
        return cli_usage("quantize", "--mode weight-only takes --bits 8 or 4");
    if (c->gptq && !(c->mode == SHR_QUANT_WEIGHT_ONLY && c->bits == 4))
        return cli_usage("quantize", "--gptq goes with --mode weight-only --bits 4");
    if (a->auto_mp && c->mode != SHR_QUANT_STATIC) return cli_usage("quantize", "--auto goes with --mode static");
    if (c->mode == SHR_QUANT_QAT && c->bits != 8) return cli_usage("quantize", "--mode qat takes --bits 8");
    if (c->weight_bits != 8 && c->mode != SHR_QUANT_STATIC && c->mode != SHR_QUANT_QAT)
        return cli_usage("quantize", "--weight-bits goes with --mode static or qat");
    if ((a->lsq || a->teacher || a->bn_freeze) && c->mode != SHR_QUANT_QAT)
        return cli_usage("quantize", "--lsq, --teacher and --bn-freeze-epoch go with --mode qat");
    if (a->max_drop >= 0 && !a->auto_mp) return cli_usage("quantize", "--max-drop goes with --auto");
    return CLI_OK;
}

static void lineage_text(char *buf, size_t size, const quant_args *a, const shr_quant_config *c) {
    int n = c->mode == SHR_QUANT_SPARSE
                ? snprintf(buf, size, "quantize %s%d sparse", c->share_bits ? "shared" : "int", c->share_bits ? c->share_bits : 8)
                : snprintf(buf, size, "quantize int%d %s", c->bits, shr_quant_mode_name(c->mode));
    if (c->mode == SHR_QUANT_STATIC || c->mode == SHR_QUANT_QAT || c->mode == SHR_QUANT_SPARSE) /* sparse: its convs */
        n += snprintf(buf + n, size - (size_t)n, " %s %s %s act_bits=%d weight_bits=%d calib_samples=%d",
                      shr_calib_name(c->calib), c->per_channel ? "per-channel" : "per-tensor",
                      c->symmetric ? "symmetric" : "asymmetric", c->act_bits, c->weight_bits, c->calib_samples);
    if (c->mode == SHR_QUANT_STATIC || c->mode == SHR_QUANT_QAT)
        n += snprintf(buf + n, size - (size_t)n, " requant=%s", c->fixed_requant ? "fixed" : "float");
    if (c->mode == SHR_QUANT_STATIC && c->calib == SHR_CALIB_PERCENTILE)
        n += snprintf(buf + n, size - (size_t)n, " percentile=%g", c->percentile);
    if (c->mode == SHR_QUANT_WEIGHT_ONLY && c->bits == 4)
        n += snprintf(buf + n, size - (size_t)n, " group_size=%d%s%s", c->group_size, c->int4_asym ? " zero_points" : "",
                      c->gptq ? " gptq" : "");
    if (c->share_bits || c->huffman)
        n += snprintf(buf + n, size - (size_t)n, " share_bits=%d%s", c->share_bits, c->huffman ? " huffman" : "");
    if (c->mode == SHR_QUANT_SPARSE && c->epochs)
        n += snprintf(buf + n, size - (size_t)n, " epochs=%d lr=%g", c->epochs, c->lr > 0 ? (double)c->lr : 1e-4);
    if (c->mode == SHR_QUANT_QAT)
        n += snprintf(buf + n, size - (size_t)n, " epochs=%d lr=%g bn_freeze_epoch=%d%s%s", a->epochs, a->lr > 0 ? a->lr : 1e-4,
                      a->bn_freeze, a->lsq ? " lsq" : "", a->teacher ? " teacher" : "");
    if (a->auto_mp) n += snprintf(buf + n, size - (size_t)n, " auto max_drop=%g", a->max_drop < 0 ? 0.01 : a->max_drop);
    for (int i = 0; i < c->n_exclude && n < (int)size; i++)
        n += snprintf(buf + n, size - (size_t)n, " exclude=%s", c->exclude[i]);
    for (int i = 0; i < c->n_keep16 && n < (int)size; i++)
        n += snprintf(buf + n, size - (size_t)n, " keep_int16=%s", c->keep16[i]);
    if (n < (int)size) snprintf(buf + n, size - (size_t)n, " data=%s seed=%lld", a->data, (long long)a->seed);
}

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *layers_json(const shr_quant_report *r) {
    json_t *arr = json_array();
    for (int i = 0; i < r->n_layers; i++) {
        const shr_quant_layer *l = &r->layers[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(l->name));
        json_object_set_new(o, "op", json_string(shr_op_name(l->op)));
        json_object_set_new(o, "bits", json_integer(l->bits));
        json_object_set_new(o, "sqnr_db", num_or_null(l->sqnr_db));
        if (l->x_scale > 0) {
            json_object_set_new(o, "x_scale", json_real(l->x_scale));
            json_object_set_new(o, "x_zero_point", json_integer(l->x_zero_point));
        }
        if (l->y_scale > 0) {
            json_object_set_new(o, "y_scale", json_real(l->y_scale));
            json_object_set_new(o, "y_zero_point", json_integer(l->y_zero_point));
        }
        if (l->bytes_coded > 0) {
            json_t *b = json_object();
            json_object_set_new(b, "dense_f32", json_integer(l->bytes_dense));
            json_object_set_new(b, "pruned_csr_f32", json_integer(l->bytes_csr));
            json_object_set_new(b, "quantized", json_integer(l->bytes_shared));
            json_object_set_new(b, "entropy_coded", json_integer(l->bytes_coded));
            json_object_set_new(o, "bytes", b);
        }
        if (l->w_scale_max > 0) {
            json_object_set_new(o, "w_scale_min", json_real(l->w_scale_min));
            json_object_set_new(o, "w_scale_max", json_real(l->w_scale_max));
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

typedef struct outcome {
    double acc_before, acc_after;
    int64_t bytes_before, bytes;
} outcome;

static json_t *auto_json(const shr_quant_auto_result *ar, double max_drop) {
    json_t *o = json_object(), *layers = json_array(), *kept = json_array();
    json_object_set_new(o, "max_drop_pt", json_real(max_drop));
    json_object_set_new(o, "heldout_accuracy_float", json_real(ar->accuracy_float));
    json_object_set_new(o, "heldout_accuracy", json_real(ar->accuracy));
    json_object_set_new(o, "met", json_boolean(ar->met));
    for (int i = 0; i < ar->n_layers; i++) {
        const shr_quant_sens *l = &ar->layers[i];
        json_t *e = json_object();
        json_object_set_new(e, "name", json_string(l->name));
        json_object_set_new(e, "drop_pt_alone", json_real(l->drop_pt));
        json_object_set_new(e, "sqnr_db_alone", num_or_null(l->sqnr_db));
        json_object_set_new(e, "bits", json_integer(l->bits));
        json_array_append_new(layers, e);
        if (l->bits > 8) json_array_append_new(kept, json_string(l->name));
    }
    json_object_set_new(o, "sensitivity", layers);
    json_object_set_new(o, "kept_wider", kept);
    return o;
}

static int report(const quant_args *a, const shr_quant_config *c, const shr_quant_report *r, const outcome *o,
                  const shr_quant_auto_result *ar) {
    if (a->json) {
        json_t *j = json_object();
        if (ar) json_object_set_new(j, "auto", auto_json(ar, a->max_drop < 0 ? 0.2 : a->max_drop));
        json_object_set_new(j, "output", json_string(a->out));
        json_object_set_new(j, "mode", json_string(shr_quant_mode_name(c->mode)));
        json_object_set_new(j, "bits", json_integer(c->bits));
        if (c->mode == SHR_QUANT_STATIC || c->mode == SHR_QUANT_QAT)
            json_object_set_new(j, "calibration", json_string(shr_calib_name(c->calib)));
        json_object_set_new(j, "granularity", json_string(c->per_channel ? "channel" : "tensor"));
        json_object_set_new(j, "accuracy_before", json_real(o->acc_before));
        json_object_set_new(j, "accuracy_after", json_real(o->acc_after));
        json_object_set_new(j, "accuracy_drop_pt", json_real(100.0 * (o->acc_before - o->acc_after)));
        json_object_set_new(j, "file_bytes_before", json_integer(o->bytes_before));
        json_object_set_new(j, "file_bytes", json_integer(o->bytes));
        json_object_set_new(j, "size_ratio", json_real(o->bytes_before > 0 ? (double)o->bytes / (double)o->bytes_before : 0.0));
        json_object_set_new(j, "bn_folded", json_integer(r->bn_folded));
        json_object_set_new(j, "relu_fused", json_integer(r->relu_fused));
        json_object_set_new(j, "layers", layers_json(r));
        return cli_print_json("quantize", j);
    }
    printf("model       %s (%s, %d-bit)\n", a->out, shr_quant_mode_name(c->mode), c->bits);
    printf("accuracy    %.4f -> %.4f (%+.2f pt)\n", o->acc_before, o->acc_after, 100.0 * (o->acc_after - o->acc_before));
    printf("file size   %lld -> %lld bytes (%.3fx)\n", (long long)o->bytes_before, (long long)o->bytes,
           o->bytes_before > 0 ? (double)o->bytes / (double)o->bytes_before : 0.0);
    printf("folded      %d BatchNorm, %d activation(s) fused\n\n", r->bn_folded, r->relu_fused);
    if (ar) {
        printf("mixed precision: held-out accuracy %.4f (f32 %.4f), budget %.2f pt %s\n", ar->accuracy,
               ar->accuracy_float, a->max_drop < 0 ? 0.2 : a->max_drop, ar->met ? "met" : "NOT met");
        printf("%-24s %12s %14s %5s\n", "layer (most sensitive first)", "drop alone", "SQNR alone dB", "bits");
        for (int i = 0; i < ar->n_layers; i++)
            printf("%-24s %+11.2f %14.2f %5d\n", ar->layers[i].name, ar->layers[i].drop_pt, ar->layers[i].sqnr_db,
                   ar->layers[i].bits);
        printf("\n");
    }
    printf("%-24s %-8s %5s %9s %11s %5s %11s %5s\n", "layer", "op", "bits", "SQNR dB", "x_scale", "x_zp", "y_scale",
           "y_zp");
    for (int i = 0; i < r->n_layers; i++) {
        const shr_quant_layer *l = &r->layers[i];
        printf("%-24s %-8s %5d %9.2f %11.4g %5d %11.4g %5d\n", l->name, shr_op_name(l->op), l->bits, l->sqnr_db,
               (double)l->x_scale, l->x_zero_point, (double)l->y_scale, l->y_zero_point);
        if (l->bytes_coded > 0)
            printf("%-24s bytes: dense f32 %lld -> pruned CSR %lld -> quantized %lld -> stored %lld\n", "",
                   (long long)l->bytes_dense, (long long)l->bytes_csr, (long long)l->bytes_shared,
                   (long long)l->bytes_coded);
    }
    return CLI_OK;
}

static int run(quant_args *a) {
    shr_quant_config cfg;
    int rc = configure(a, &cfg);
    if (rc != CLI_OK) return rc;
    shr_set_threads(a->threads);
    shr_graph *g = NULL, *q = NULL;
    shr_dataset *train = NULL, *test = NULL;
    shr_quant_report *rep = calloc(1, sizeof *rep);
    shr_quant_auto_result *ar = NULL;
    outcome o = {0, 0, cli_file_size(a->model), 0};
    if (!rep) {
        fprintf(stderr, "shrink quantize: error: out of memory\n");
        return CLI_FAIL;
    }
    shr_status st = shr_model_load(a->model, &g);
    if (st != SHR_OK) rc = cli_fail("quantize", st);
    /* training and the mixed-precision search read more than the calibration samples (the search
     * holds out a tenth of 30000: a sample is 0.03 points) */
    int trains = cfg.mode == SHR_QUANT_QAT || cfg.epochs > 0;
    int64_t want = a->train_limit > 0 ? a->train_limit : trains ? 0 : a->auto_mp ? 30000 : cfg.calib_samples;
    if (rc == CLI_OK) rc = cli_load_data_for_model("quantize", a->data, SHR_SPLIT_TRAIN, want, g, &train);
    if (rc == CLI_OK) rc = cli_load_data_for_model("quantize", a->data, SHR_SPLIT_TEST, a->test_limit, g, &test);
    shr_eval_result ev = {0, 0, 0, 0};
    if (rc == CLI_OK && (st = shr_evaluate(g, test, 256, &ev)) != SHR_OK) rc = cli_fail("quantize", st);
    o.acc_before = ev.accuracy;
    shr_graph *teacher = NULL;
    if (rc == CLI_OK && a->teacher && (st = shr_model_load(a->teacher, &teacher)) != SHR_OK) rc = cli_fail("quantize", st);
    if (rc == CLI_OK) {
        fprintf(stderr, "%s: accuracy %.4f; quantizing (%s, %d-bit)...\n", a->model, o.acc_before,
                shr_quant_mode_name(cfg.mode), cfg.bits);
        if (cfg.mode == SHR_QUANT_QAT) {
            shr_train_config tc = shr_train_default();
            tc.epochs = a->epochs;
            tc.batch = a->batch;
            tc.seed = (uint64_t)a->seed;
            tc.optim.lr = a->lr > 0 ? (float)a->lr : 1e-4f; /* fine-tuning a trained model */
            tc.progress = cli_progress;
            st = shr_qat_train(g, train, &cfg, &tc, teacher, &q, rep);
        } else if (a->auto_mp) {
            shr_dataset *rest = NULL, *held = NULL;
            st = shr_dataset_split(train, 0.1, (uint64_t)a->seed, &rest, &held);
            if (st == SHR_OK && !(ar = calloc(1, sizeof *ar))) st = SHR_ERR_NOMEM;
            if (st == SHR_OK) {
                fprintf(stderr, "mixed precision: sensitivity and search on %lld held-out training samples...\n",
                        (long long)held->n);
                st = shr_quant_auto(g, rest, held, &cfg, a->max_drop < 0 ? 0.2 : a->max_drop, &q, rep, ar);
            }
            shr_dataset_free(rest);
            shr_dataset_free(held);
        } else {
            st = shr_quantize(g, train, &cfg, &q, rep);
        }
        if (st != SHR_OK) rc = cli_fail("quantize", st);
    }
    shr_graph_free(teacher);
    if (rc == CLI_OK && (st = shr_evaluate(q, test, 256, &ev)) != SHR_OK) rc = cli_fail("quantize", st);
    o.acc_after = ev.accuracy;
    char step[2048], hex[65];
    lineage_text(step, sizeof step, a, &cfg);
    if (rc == CLI_OK && shr_file_sha256(a->model, hex) != SHR_OK) hex[0] = '\0';
    if (rc == CLI_OK && (st = shr_lineage_add_step(q, step, hex[0] ? hex : NULL)) != SHR_OK) rc = cli_fail("quantize", st);
    if (rc == CLI_OK && (st = shr_model_save(q, a->out)) != SHR_OK) rc = cli_fail("quantize", st);
    o.bytes = cli_file_size(a->out);
    if (rc == CLI_OK) rc = report(a, &cfg, rep, &o, ar);
    free(rep);
    free(ar);
    shr_dataset_free(train);
    shr_dataset_free(test);
    shr_graph_free(q);
    shr_graph_free(g);
    return rc;
}

int cmd_quantize(int argc, char **argv) {
    quant_args a = {.mode = "static", .calib = NULL, .act_bits = 7, .weight_bits = 8, .calib_samples = 1000, .group_size = 32,
                    .percentile = 99.99, .max_drop = -1, .seed = 1, .epochs = 1, .batch = 64};
    int rc = take_lists(&a, &argc, argv);
    const char *pos[1];
    int n_pos = 0;
    cli_opt opts[] = {
        {"--mode", OPT_STR, &a.mode, 0, 0},                 {"--bits", OPT_INT, &a.bits, 1, 32},
        {"--per-channel", OPT_FLAG, &a.per_channel, 0, 0}, {"--per-tensor", OPT_FLAG, &a.per_tensor, 0, 0},
        {"--granularity", OPT_STR, &a.granularity, 0, 0},  {"--symmetric", OPT_FLAG, &a.symmetric, 0, 0},
        {"--asymmetric", OPT_FLAG, &a.asymmetric, 0, 0},   {"--calib", OPT_STR, &a.calib, 0, 0},
        {"--calibration", OPT_STR, &a.calib, 0, 0},        {"--percentile", OPT_FLOAT, &a.percentile, 50, 100},
        {"--calib-samples", OPT_INT, &a.calib_samples, 1, 1000000},
        {"--act-bits", OPT_INT, &a.act_bits, 7, 8},        {"--requant", OPT_STR, &a.requant, 0, 0},
               {"--group-size", OPT_INT, &a.group_size, 32, 128},
        {"--weight-bits", OPT_INT, &a.weight_bits, 4, 8},  {"--bn-freeze-epoch", OPT_INT, &a.bn_freeze, 0, 100000},
        {"--share-bits", OPT_INT, &a.share_bits, 1, 8},    {"--huffman", OPT_FLAG, &a.huffman, 0, 0},
        {"--zero-points", OPT_FLAG, &a.int4_zero, 0, 0},   {"--gptq", OPT_FLAG, &a.gptq, 0, 0},
        {"--epochs", OPT_INT, &a.epochs, 0, 100000},       {"--lsq", OPT_FLAG, &a.lsq, 0, 0},
        {"--lr", OPT_FLOAT, &a.lr, 1e-9, 100},             {"--batch", OPT_INT, &a.batch, 2, 4096},
        {"--teacher", OPT_STR, &a.teacher, 0, 0},          {"--auto", OPT_FLAG, &a.auto_mp, 0, 0},
        {"--max-drop", OPT_FLOAT, &a.max_drop, 0, 100},      {"--data", OPT_STR, &a.data, 0, 0},
        {"-o", OPT_STR, &a.out, 0, 0},                     {"--output", OPT_STR, &a.out, 0, 0},
        {"--train-limit", OPT_I64, &a.train_limit, 0, 1e12}, {"--test-limit", OPT_I64, &a.test_limit, 0, 1e12},
        {"--seed", OPT_I64, &a.seed, 0, 9e18},             {"--threads", OPT_INT, &a.threads, 0, 1024},
        {"--json", OPT_FLAG, &a.json, 0, 0},
    };
    if (rc == CLI_OK) rc = cli_parse("quantize", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &n_pos);
    if (rc == CLI_OK && n_pos != 1) rc = cli_usage("quantize", "give one MODEL file");
    for (int i = 0; i < argc; i++) a.epochs_given |= strcmp(argv[i], "--epochs") == 0 || strncmp(argv[i], "--epochs=", 9) == 0;
    if (rc == CLI_OK && !a.data) rc = cli_usage("quantize", "--data is required");
    if (rc == CLI_OK && !a.out) rc = cli_usage("quantize", "-o OUT.shrk is required");
    if (rc == CLI_OK) {
        a.model = pos[0];
        rc = run(&a);
    }
    free_args(&a);
    return rc;
}
