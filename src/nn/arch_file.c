/* The --arch-file text spec (documented in docs/arch-file.md):
 *
 *   # comment
 *   [label:] op [positional] [key=value ...]
 *
 * Each layer reads the previous layer's output unless in=LABEL is given; `add
 * LABEL` adds the previous output and LABEL's; `concat LABEL...` concatenates
 * the previous output with the labelled ones along channels. The last layer is
 * the model output and must produce one value per class. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "nn/builder.h"
#include "shrink/zoo.h"

#define MAX_LINE 1024
#define MAX_TOKENS 32
#define MAX_TEXT (1 << 20)
#define MAX_LAYERS 10000
/* Layer sizes come from a few bytes of text ("linear 1048576"): the whole
 * network may hold at most SHR_MAX_PARAMS parameter and buffer elements. */

typedef struct label {
    char name[64];
    int value;
} label;

typedef struct parse_state {
    shr_builder b;
    int line_no;
    int prev;
    label *labels;
    int n_labels;
    int64_t params; /* parameter + buffer elements so far */
} parse_state;

static shr_status syntax(const parse_state *p, const char *what, const char *tok) {
    return shr_fail(SHR_ERR_FORMAT, "arch file line %d: %s%s%s%s", p->line_no, what, tok ? " '" : "", tok ? tok : "",
                    tok ? "'" : "");
}

static int find_label(const parse_state *p, const char *name) {
    for (int i = 0; i < p->n_labels; i++)
        if (strcmp(p->labels[i].name, name) == 0) return p->labels[i].value;
    return -1;
}

/* Reserves outs * per_out elements for a layer's tensors, before the builder
 * allocates them; fails once the network would exceed SHR_MAX_PARAMS. */
static shr_status reserve_params(parse_state *p, int64_t outs, int64_t per_out) {
    int64_t n;
    if (shr_mul_overflow_i64(outs, per_out, &n) || n > SHR_MAX_PARAMS - p->params)
        return shr_fail(SHR_ERR_LIMIT, "arch file line %d: the network would have more than %lld parameters",
                        p->line_no, (long long)SHR_MAX_PARAMS);
    p->params += n;
    return SHR_OK;
}

/* Integer option "key=value" (or default); returns 0 on a bad value. */
static int opt_int(parse_state *p, char **tok, int n, const char *key, long lo, long hi, int def, int *out) {
    size_t kl = strlen(key);
    *out = def;
    for (int i = 1; i < n; i++) {
        if (strncmp(tok[i], key, kl) != 0 || tok[i][kl] != '=') continue;
        char *end;
        errno = 0;
        long v = strtol(tok[i] + kl + 1, &end, 10);
        if (errno || *end || end == tok[i] + kl + 1 || v < lo || v > hi) {
            syntax(p, "bad value in", tok[i]);
            return 0;
        }
        *out = (int)v;
    }
    return 1;
}

static int opt_float(parse_state *p, char **tok, int n, const char *key, float lo, float hi, float def, float *out) {
    size_t kl = strlen(key);
    *out = def;
    for (int i = 1; i < n; i++) {
        if (strncmp(tok[i], key, kl) != 0 || tok[i][kl] != '=') continue;
        char *end;
        float v = strtof(tok[i] + kl + 1, &end);
        if (*end || end == tok[i] + kl + 1 || !(v >= lo && v <= hi)) {
            syntax(p, "bad value in", tok[i]);
            return 0;
        }
        *out = v;
    }
    return 1;
}

/* First positional argument (a token without '=') as an integer. */
static int positional_int(parse_state *p, char **tok, int n, long lo, long hi, int *out) {
    for (int i = 1; i < n; i++) {
        if (strchr(tok[i], '=')) continue;
        char *end;
        errno = 0;
        long v = strtol(tok[i], &end, 10);
        if (errno || *end || v < lo || v > hi) return syntax(p, "expected a count, got", tok[i]) == SHR_OK;
        *out = (int)v;
        return 1;
    }
    syntax(p, "missing size for", tok[0]);
    return 0;
}

/* The options each layer type accepts (besides in=LABEL) and how many
 * positional words it takes (-1: any number of labels). */
static const struct {
    const char *op, *keys;
    int max_pos;
} layer_syntax[] = {
    {"conv", " k s p d g bias ", 1}, {"dwconv", " k s p bias ", 0}, {"linear", " bias ", 1},
    {"maxpool", " k s p ", 0},       {"avgpool", " k s p ", 0},     {"leaky_relu", " alpha ", 0},
    {"dropout", " p ", 0},           {"add", " ", -1},              {"concat", " ", -1},
};

/* A typo such as kernel=5 must not be silently ignored. */
static shr_status check_words(parse_state *p, char **tok, int n) {
    const char *keys = " ";
    int max_pos = 0;
    for (size_t i = 0; i < sizeof layer_syntax / sizeof layer_syntax[0]; i++)
        if (strcmp(tok[0], layer_syntax[i].op) == 0) {
            keys = layer_syntax[i].keys;
            max_pos = layer_syntax[i].max_pos;
        }
    int pos = 0;
    for (int i = 1; i < n; i++) {
        const char *eq = strchr(tok[i], '=');
        if (!eq) {
            if (max_pos >= 0 && ++pos > max_pos) return syntax(p, "unexpected word", tok[i]);
            continue;
        }
        char key[40];
        size_t kl = (size_t)(eq - tok[i]);
        if (kl == 2 && strncmp(tok[i], "in", 2) == 0) continue;
        if (kl == 0 || kl + 3 > sizeof key) return syntax(p, "unknown option", tok[i]);
        snprintf(key, sizeof key, " %.*s ", (int)kl, tok[i]);
        if (!strstr(keys, key)) return syntax(p, "unknown option", tok[i]);
    }
    return SHR_OK;
}

static shr_status parse_layer(parse_state *p, char *lbl, char **tok, int n, int *out) {
    shr_builder *b = &p->b;
    const char *op = tok[0];
    char name[80];
    if (lbl) snprintf(name, sizeof name, "%s", lbl);
    else snprintf(name, sizeof name, "%s%d", op, p->line_no);
    SHR_TRY(check_words(p, tok, n));
    int x = p->prev;
    for (int i = 1; i < n; i++)
        if (strncmp(tok[i], "in=", 3) == 0) {
            x = find_label(p, tok[i] + 3);
            if (x < 0) return syntax(p, "unknown label", tok[i] + 3);
        }
    int k, s, pd, d, g, bias, units;
    float alpha;
    shr_attrs a = shr_attrs_default();
    if (strcmp(op, "conv") == 0) {
        if (!positional_int(p, tok, n, 1, 1 << 16, &units) || !opt_int(p, tok, n, "k", 1, 64, 3, &k) ||
            !opt_int(p, tok, n, "s", 1, 64, 1, &s) || !opt_int(p, tok, n, "p", 0, 64, k / 2, &pd) ||
            !opt_int(p, tok, n, "d", 1, 64, 1, &d) || !opt_int(p, tok, n, "g", 1, 1 << 16, 1, &g) ||
            !opt_int(p, tok, n, "bias", 0, 1, 1, &bias))
            return SHR_ERR_FORMAT;
        SHR_TRY(reserve_params(p, units, shr_b_channels(b, x) / g * k * k + bias));
        *out = shr_b_conv(b, name, x, units, k, s, pd, d, g, bias);
    } else if (strcmp(op, "dwconv") == 0) {
        if (!opt_int(p, tok, n, "k", 1, 64, 3, &k) || !opt_int(p, tok, n, "s", 1, 64, 1, &s) ||
            !opt_int(p, tok, n, "p", 0, 64, k / 2, &pd) || !opt_int(p, tok, n, "bias", 0, 1, 0, &bias))
            return SHR_ERR_FORMAT;
        SHR_TRY(reserve_params(p, shr_b_channels(b, x), (int64_t)k * k + bias));
        int c = (int)shr_b_channels(b, x);
        *out = shr_b_conv(b, name, x, c, k, s, pd, 1, c, bias);
    } else if (strcmp(op, "linear") == 0) {
        if (!positional_int(p, tok, n, 1, 1 << 20, &units) || !opt_int(p, tok, n, "bias", 0, 1, 1, &bias))
            return SHR_ERR_FORMAT;
        const shr_value *xv = &b->g->values[x];
        SHR_TRY(reserve_params(p, units, (xv->ndim == 2 ? xv->shape[1] : 0) + bias));
        *out = shr_b_linear(b, name, x, units, bias);
    } else if (strcmp(op, "bn") == 0) {
        SHR_TRY(reserve_params(p, shr_b_channels(b, x), 4)); /* weight, bias, running mean and var */
        *out = shr_b_batchnorm(b, name, x);
    } else if (strcmp(op, "maxpool") == 0 || strcmp(op, "avgpool") == 0) {
        if (!opt_int(p, tok, n, "k", 1, 64, 2, &k) || !opt_int(p, tok, n, "s", 1, 64, k, &s) ||
            !opt_int(p, tok, n, "p", 0, 32, 0, &pd))
            return SHR_ERR_FORMAT;
        *out = shr_b_pool(b, name, op[0] == 'm' ? SHR_OP_MAXPOOL2D : SHR_OP_AVGPOOL2D, x, k, s, pd);
    } else if (strcmp(op, "leaky_relu") == 0 || strcmp(op, "dropout") == 0) {
        int leaky = op[0] == 'l';
        if (!opt_float(p, tok, n, leaky ? "alpha" : "p", 0.0f, leaky ? 1.0f : 0.99f, leaky ? 0.01f : 0.5f, &alpha))
            return SHR_ERR_FORMAT;
        a.alpha = alpha;
        *out = shr_b_unary(b, name, leaky ? SHR_OP_LEAKY_RELU : SHR_OP_DROPOUT, x, &a);
    } else if (strcmp(op, "add") == 0 || strcmp(op, "concat") == 0) {
        int ins[MAX_TOKENS], m = 0;
        ins[m++] = x;
        for (int i = 1; i < n; i++) {
            if (strchr(tok[i], '=')) continue;
            int v = find_label(p, tok[i]);
            if (v < 0) return syntax(p, "unknown label", tok[i]);
            ins[m++] = v;
        }
        if (op[0] == 'a' && m != 2) return syntax(p, "add takes exactly one label", NULL);
        if (m < 2) return syntax(p, "concat needs at least one label", NULL);
        *out = op[0] == 'a' ? shr_b_add(b, name, ins[0], ins[1]) : shr_b_concat(b, name, m, ins);
    } else {
        static const struct {
            const char *word;
            shr_op op;
        } unary[] = {{"relu", SHR_OP_RELU},       {"relu6", SHR_OP_RELU6},      {"gelu", SHR_OP_GELU},
                     {"sigmoid", SHR_OP_SIGMOID}, {"tanh", SHR_OP_TANH},        {"gap", SHR_OP_GLOBAL_AVGPOOL},
                     {"flatten", SHR_OP_FLATTEN}, {"softmax", SHR_OP_SOFTMAX}, {"log_softmax", SHR_OP_LOG_SOFTMAX}};
        for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++)
            if (strcmp(op, unary[i].word) == 0) {
                *out = shr_b_unary(b, name, unary[i].op, x, NULL);
                return b->st;
            }
        return syntax(p, "unknown layer type", op);
    }
    return b->st;
}

static int tokenize(char *line, char **tok) {
    int n = 0;
    for (char *s = strtok(line, " \t\r"); s && n < MAX_TOKENS; s = strtok(NULL, " \t\r")) tok[n++] = s;
    return n;
}

static shr_status parse_line(parse_state *p, char *line) {
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    char *tok_buf[MAX_TOKENS + 1];
    char **tok = tok_buf;
    int n = tokenize(line, tok);
    if (n == 0) return SHR_OK;
    if (n >= MAX_TOKENS) return syntax(p, "too many words", NULL);
    char *lbl = NULL;
    size_t l0 = strlen(tok[0]);
    if (tok[0][l0 - 1] == ':') {
        tok[0][l0 - 1] = '\0';
        lbl = tok[0];
        if (!lbl[0] || l0 > 60) return syntax(p, "bad label", lbl);
        for (char *c = lbl; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.') return syntax(p, "bad label", lbl);
        if (find_label(p, lbl) >= 0) return syntax(p, "duplicate label", lbl);
        tok++;
        n--;
        if (n == 0) return syntax(p, "label without a layer", lbl);
    }
    if (p->n_labels >= MAX_LAYERS) return syntax(p, "too many layers", NULL);
    int out = -1;
    shr_status st = parse_layer(p, lbl, tok, n, &out);
    if (st != SHR_OK && p->b.st != SHR_OK) { /* the builder's message lacks the line */
        char msg[400];
        snprintf(msg, sizeof msg, "arch file line %d: %s", p->line_no, shr_last_error());
        return shr_fail(p->b.st, "%s", msg);
    }
    SHR_TRY(st);
    p->prev = out;
    if (lbl) {
        snprintf(p->labels[p->n_labels].name, sizeof p->labels[0].name, "%s", lbl);
        p->labels[p->n_labels++].value = out;
    }
    return SHR_OK;
}

shr_status shr_arch_parse(const char *text, int in_c, int in_h, int in_w, int n_classes, uint64_t seed,
                          shr_graph **out) {
    size_t len = strlen(text);
    if (len > MAX_TEXT) return shr_fail(SHR_ERR_LIMIT, "arch file is larger than %d bytes", MAX_TEXT);
    parse_state p;
    memset(&p, 0, sizeof p);
    p.labels = calloc(MAX_LAYERS, sizeof *p.labels);
    if (!p.labels) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    shr_status st = shr_builder_init(&p.b, in_c, in_h, in_w, seed);
    p.prev = st == SHR_OK ? p.b.g->input : -1;
    char line[MAX_LINE + 1];
    const char *s = text;
    while (st == SHR_OK && *s) {
        const char *e = strchr(s, '\n');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        p.line_no++;
        if (l > MAX_LINE) {
            st = syntax(&p, "line too long", NULL);
            break;
        }
        memcpy(line, s, l);
        line[l] = '\0';
        st = parse_line(&p, line);
        s += l + (e ? 1 : 0);
    }
    if (st == SHR_OK && p.prev == p.b.g->input) st = shr_fail(SHR_ERR_FORMAT, "arch file defines no layers");
    if (st == SHR_OK) {
        const shr_value *o = &p.b.g->values[p.prev];
        if (o->ndim != 2 || o->shape[1] != n_classes)
            st = shr_fail(SHR_ERR_FORMAT, "arch file: the last layer must output %d values per sample (one per class)",
                          n_classes);
    }
    free(p.labels);
    if (st != SHR_OK) {
        if (p.b.st == SHR_OK) p.b.st = st;
        shr_builder_finish(&p.b, out);
        return st;
    }
    SHR_TRY(shr_builder_finish(&p.b, out));
    p.b.g = NULL;
    (*out)->output = p.prev;
    if (!((*out)->arch = strdup(text))) {
        shr_graph_free(*out);
        *out = NULL;
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    return SHR_OK;
}
