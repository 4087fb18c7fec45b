#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "shrink %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'shrink help %s')\n", cmd);
    return CLI_USAGE;
}

int cli_fail(const char *cmd, shr_status st) {
    const char *msg = shr_last_error();
    fprintf(stderr, "shrink %s: error: %s\n", cmd, msg[0] ? msg : shr_status_name(st));
    return CLI_FAIL;
}

static int parse_value(const char *cmd, const cli_opt *o, const char *v) {
    char *end;
    errno = 0;
    switch (o->kind) {
    case OPT_INT:
    case OPT_I64: {
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end || (double)x < o->lo || (double)x > o->hi)
            return cli_usage(cmd, "%s expects an integer in %.0f..%.0f, got '%s'", o->name, o->lo, o->hi, v);
        if (o->kind == OPT_INT) *(int *)o->dst = (int)x;
        else *(int64_t *)o->dst = (int64_t)x;
        return CLI_OK;
    }
    case OPT_FLOAT: {
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x) || x < o->lo || x > o->hi)
            return cli_usage(cmd, "%s expects a number in %g..%g, got '%s'", o->name, o->lo, o->hi, v);
        *(double *)o->dst = x;
        return CLI_OK;
    }
    case OPT_STR: *(const char **)o->dst = v; return CLI_OK;
    case OPT_FLAG: break;
    }
    return CLI_OK;
}

int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts, int n_opts, const char **pos, int max_pos,
              int *n_pos) {
    *n_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0') {
            if (*n_pos >= max_pos) return cli_usage(cmd, "unexpected argument '%s'", a);
            pos[(*n_pos)++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
        const cli_opt *o = NULL;
        for (int k = 0; k < n_opts; k++)
            if (strlen(opts[k].name) == name_len && strncmp(opts[k].name, a, name_len) == 0) o = &opts[k];
        if (!o) return cli_usage(cmd, "unknown option '%.*s'", (int)name_len, a);
        if (o->kind == OPT_FLAG) {
            if (eq) return cli_usage(cmd, "%s takes no value", o->name);
            *(int *)o->dst = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) return cli_usage(cmd, "%s needs a value", o->name);
        int rc = parse_value(cmd, o, v);
        if (rc != CLI_OK) return rc;
    }
    return CLI_OK;
}

int cli_print_json(const char *cmd, json_t *obj) {
    char *s = obj ? json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8)) : NULL;
    json_decref(obj);
    if (!s) {
        fprintf(stderr, "shrink %s: error: could not build the JSON output (out of memory)\n", cmd);
        return CLI_FAIL;
    }
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
    return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

int cli_parse_int_list(const char *s, int *out, int max) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < 1 || v > 1000000 || n >= max) return -1;
        out[n++] = (int)v;
        if (*end == ',' && end[1]) end++; /* no empty entries, no trailing comma */
        else if (*end) return -1;
        p = end;
    }
    return n ? n : -1;
}

static void fmt_duration(double s, char *buf, size_t n) {
    if (s < 0 || !isfinite(s)) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

void cli_progress(const shr_train_progress *p, void *user) {
    (void)user;
    static int tty = -1;
    if (tty < 0) tty = isatty(fileno(stderr));
    char eta[32];
    fmt_duration(p->eta_s, eta, sizeof eta);
    if (tty) {
        double frac = p->steps_total ? (double)p->step / (double)p->steps_total : 1.0;
        int width = 24, fill_n = (int)(frac * width);
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill_n ? '=' : (i == fill_n ? '>' : ' ');
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] epoch %d/%d  loss %.4f  acc %5.2f%%  %.0f samples/s  ETA %s ", bar,
                p->epoch_done ? p->epoch : p->epoch + 1, p->epochs, (double)p->loss, 100.0 * p->accuracy,
                p->samples_per_s, eta);
        if (p->epoch_done) {
            if (p->val_accuracy >= 0) fprintf(stderr, " val %5.2f%%", 100.0 * p->val_accuracy);
            fputc('\n', stderr);
        }
    } else if (p->epoch_done) {
        fprintf(stderr, "epoch %d/%d  loss %.4f  train acc %.4f", p->epoch, p->epochs, (double)p->loss,
                (double)p->accuracy);
        if (p->val_accuracy >= 0) fprintf(stderr, "  val acc %.4f", (double)p->val_accuracy);
        fprintf(stderr, "  %.0f samples/s  lr %.3g  ETA %s\n", p->samples_per_s, (double)p->lr, eta);
    }
    fflush(stderr);
}

int64_t cli_file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

int64_t cli_peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return (int64_t)ru.ru_maxrss * 1024;
}

int cli_load_data_for_model(const char *cmd, const char *spec, shr_split split, int64_t limit, const shr_graph *g,
                            shr_dataset **out) {
    shr_status st = shr_dataset_load(spec, split, limit, out);
    if (st != SHR_OK) return cli_fail(cmd, st);
    const shr_value *in = &g->values[g->input];
    int64_t want = 1;
    for (int d = 1; d < in->ndim; d++) want *= in->shape[d];
    if (want != (*out)->sample_size) {
        fprintf(stderr, "shrink %s: error: the model expects %lld values per sample but '%s' has %lld\n", cmd,
                (long long)want, spec, (long long)(*out)->sample_size);
        shr_dataset_free(*out);
        *out = NULL;
        return CLI_FAIL;
    }
    return CLI_OK;
}

shr_status cli_model_open(const char *path, shr_graph **out) {
    return shr_is_onnx_path(path) ? shr_onnx_import(path, NULL, out) : shr_model_load(path, out);
}

int cli_load_model(const char *cmd, const char *path, shr_graph **out) {
    shr_status st = cli_model_open(path, out);
    return st == SHR_OK ? CLI_OK : cli_fail(cmd, st);
}

/* One list of 1..SHR_MAX_CHANNELS ':'-separated numbers in s[0..len); returns the count or -1. */
static int parse_channel_list(const char *s, size_t len, float *out, int positive) {
    int n = 0;
    char buf[256];
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    for (char *tok = buf;;) {
        char *colon = strchr(tok, ':'), *end;
        if (colon) *colon = '\0';
        errno = 0;
        double v = strtod(tok, &end);
        if (errno || end == tok || *end || !isfinite(v) || (positive && !(v > 0)) || n >= SHR_MAX_CHANNELS) return -1;
        out[n++] = (float)v;
        if (!colon) return n;
        tok = colon + 1;
    }
}

int cli_parse_normalize(const char *cmd, const char *spec, shr_preproc *p) {
    const char *comma = strchr(spec, ',');
    float mean[SHR_MAX_CHANNELS], std[SHR_MAX_CHANNELS];
    int nm = comma ? parse_channel_list(spec, (size_t)(comma - spec), mean, 0) : -1;
    int ns = comma ? parse_channel_list(comma + 1, strlen(comma + 1), std, 1) : -1;
    if (nm < 1 || ns != nm)
        return cli_usage(cmd, "--normalize expects MEAN,STD with up to %d ':'-separated values each (STD > 0), got '%s'",
                         SHR_MAX_CHANNELS, spec);
    p->channels = nm;
    for (int c = 0; c < SHR_MAX_CHANNELS; c++) {
        p->mean[c] = c < nm ? mean[c] : 0.0f;
        p->std[c] = c < nm ? std[c] : 1.0f;
    }
    return CLI_OK;
}

int cli_train_configure(const char *cmd, const cli_train_opts *o, shr_train_config *cfg) {
    shr_optim_kind kind;
    if (shr_optim_parse(o->optimizer, &kind) != SHR_OK) return cli_usage(cmd, "%s", shr_last_error());
    *cfg = shr_train_default();
    cfg->optim = shr_optim_default(kind);
    if (shr_sched_parse(o->schedule, &cfg->schedule) != SHR_OK) return cli_usage(cmd, "%s", shr_last_error());
    cfg->epochs = o->epochs;
    cfg->batch = o->batch;
    cfg->seed = (uint64_t)o->seed;
    cfg->warmup_epochs = o->warmup;
    cfg->min_lr = (float)o->min_lr;
    cfg->augment.crop_pad = o->crop_pad;
    cfg->augment.hflip = o->hflip;
    if (o->lr > 0) cfg->optim.lr = (float)o->lr;
    if (o->momentum >= 0) cfg->optim.momentum = (float)o->momentum;
    if (o->weight_decay >= 0) cfg->optim.weight_decay = (float)o->weight_decay;
    cfg->optim.nesterov = o->nesterov;
    cfg->optim.clip_norm = (float)o->clip_norm;
    cfg->progress = cli_progress;
    return CLI_OK;
}

char *cli_read_arch_file(const char *cmd, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "shrink %s: error: cannot open arch file '%s'\n", cmd, path);
        return NULL;
    }
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    if (buf) n = fread(buf, 1, cap + 1, f);
    fclose(f);
    if (!buf || n > cap || memchr(buf, '\0', n)) {
        fprintf(stderr, "shrink %s: error: arch file '%s' is too large or not text\n", cmd, path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

int cli_is_zoo_name(const char *name) {
    size_t n = strlen(name);
    for (const char *p = shr_zoo_names(); n && *p; p += strcspn(p, " "), p += *p == ' ')
        if (strncmp(p, name, n) == 0 && (p[n] == ' ' || p[n] == '\0')) return 1;
    return 0;
}
