/* Recipe parsing (see pipeline.h): JSON by jansson, validated once here so the
 * runner only executes argvs. Options are emitted sorted by name, so the argv,
 * and with it the step hash, does not depend on the order keys were written in. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "pipeline/pipeline.h"

typedef struct strvec {
    char **v;
    int n, cap;
} strvec;

static shr_status vec_push(strvec *s, const char *str) {
    if (s->n + 2 > s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        char **v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) return shr_fail(SHR_ERR_NOMEM, "out of memory");
        s->v = v, s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(str))) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    s->v[++s->n] = NULL;
    return SHR_OK;
}

static void vec_free(strvec *s) {
    for (int i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static const char *const RUNS[] = {"train", "distill", "prune", "quantize", "export"};

/* Steps that read a dataset and get the recipe's data and defaults. */
static int uses_data(const char *run) { return strcmp(run, "export") != 0; }
static int takes_input(const char *run) {
    return strcmp(run, "prune") == 0 || strcmp(run, "quantize") == 0 || strcmp(run, "export") == 0;
}

static int valid_word(const char *s, const char *extra) {
    size_t n = strlen(s);
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || strchr(extra, s[i]))) return 0;
    return s[0] != '-' && s[0] != '.';
}

/* Shortest decimal that reads back as the same double (0.9, not 0.90000000000000002). */
static void format_real(double x, char *buf, size_t size) {
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, size, "%.*g", p, x);
        if (strtod(buf, NULL) == x) return;
    }
}

typedef struct parse_ctx {
    shr_recipe *r;
    int step; /* index of the step being parsed (its outputs before it can be referenced) */
    const char *where;
} parse_ctx;

/* One scalar option value as argv text; "@name" names an earlier step's output. */
static shr_status scalar_text(const parse_ctx *c, const char *key, const json_t *v, char *buf, size_t size,
                              const char **out) {
    if (json_is_integer(v)) {
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
        *out = buf;
    } else if (json_is_real(v)) {
        format_real(json_real_value(v), buf, size);
        *out = buf;
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strlen(s) > 4096) return shr_fail(SHR_ERR_LIMIT, "%s: value of '%s' is too long", c->where, key);
        if (s[0] != '@') {
            *out = s;
            return SHR_OK;
        }
        for (int i = 0; i < c->step; i++)
            if (strcmp(c->r->steps[i].name, s + 1) == 0) {
                *out = c->r->steps[i].output;
                return SHR_OK;
            }
        return shr_fail(SHR_ERR_INVALID_ARG, "%s: '%s' of '%s' names no earlier step", c->where, s, key);
    } else {
        return shr_fail(SHR_ERR_INVALID_ARG, "%s: option '%s' must be a string, a number, a boolean or a list of those",
                        c->where, key);
    }
    return SHR_OK;
}

static shr_status push_option(const parse_ctx *c, strvec *argv, const char *key, const json_t *v) {
    if (!valid_word(key, "-"))
        return shr_fail(SHR_ERR_INVALID_ARG, "%s: '%s' is not an option name (lower-case words joined by '-')",
                        c->where, key);
    if (json_is_false(v) || json_is_null(v)) return SHR_OK;
    char flag[80], buf[64];
    snprintf(flag, sizeof flag, "--%s", key);
    if (json_is_true(v)) return vec_push(argv, flag);
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (n > 64) return shr_fail(SHR_ERR_LIMIT, "%s: option '%s' repeats more than 64 times", c->where, key);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        const char *text;
        SHR_TRY(scalar_text(c, key, e, buf, sizeof buf, &text));
        SHR_TRY(vec_push(argv, flag));
        SHR_TRY(vec_push(argv, text));
    }
    return SHR_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Options of step (or the compare block) merged over defaults, sorted by name. */
static shr_status push_options(const parse_ctx *c, strvec *argv, const json_t *step, const json_t *defaults,
                               const char *data) {
    static const char *const reserved[] = {"name", "run", "input", "output"};
    const char *keys[256];
    int nk = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)step, key, v) {
        int skip = 0;
        for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) skip |= strcmp(key, reserved[i]) == 0;
        if (!skip && nk < 256) keys[nk++] = key;
    }
    if (defaults)
        json_object_foreach((json_t *)defaults, key, v) if (!json_object_get(step, key) && nk < 256) keys[nk++] = key;
    if (nk >= 256) return shr_fail(SHR_ERR_LIMIT, "%s: too many options", c->where);
    qsort(keys, (size_t)nk, sizeof keys[0], cmp_str);
    int has_data = 0;
    for (int i = 0; i < nk; i++) {
        const json_t *val = json_object_get(step, keys[i]);
        SHR_TRY(push_option(c, argv, keys[i], val ? val : json_object_get(defaults, keys[i])));
        has_data |= strcmp(keys[i], "data") == 0;
    }
    if (data && !has_data) {
        SHR_TRY(vec_push(argv, "--data"));
        SHR_TRY(vec_push(argv, data));
    }
    return SHR_OK;
}

static shr_status parse_step(shr_recipe *r, int i, const json_t *js, const json_t *defaults) {
    shr_recipe_step *s = &r->steps[i];
    char where[96];
    snprintf(where, sizeof where, "recipe step %d", i + 1);
    if (!json_is_object(js)) return shr_fail(SHR_ERR_INVALID_ARG, "%s: a step is a JSON object", where);
    const char *run = json_string_value(json_object_get(js, "run"));
    int known = 0;
    for (size_t k = 0; run && k < sizeof RUNS / sizeof RUNS[0]; k++) known |= strcmp(run, RUNS[k]) == 0;
    if (!known)
        return shr_fail(SHR_ERR_INVALID_ARG, "%s: \"run\" must be one of train, distill, prune, quantize, export",
                        where);
    const json_t *jn = json_object_get(js, "name");
    char name[80];
    snprintf(name, sizeof name, "%d-%s", i + 1, run);
    if (jn && !json_is_string(jn)) return shr_fail(SHR_ERR_INVALID_ARG, "%s: \"name\" must be a string", where);
    if (jn) snprintf(name, sizeof name, "%s", json_string_value(jn));
    if (!valid_word(name, "-_.ABCDEFGHIJKLMNOPQRSTUVWXYZ") || (jn && strlen(json_string_value(jn)) > 64))
        return shr_fail(SHR_ERR_INVALID_ARG, "%s: name '%s' must be 1-64 letters, digits, '-', '_' or '.'", where,
                        name);
    for (int k = 0; k < i; k++)
        if (strcmp(r->steps[k].name, name) == 0)
            return shr_fail(SHR_ERR_INVALID_ARG, "%s: two steps are named '%s'", where, name);
    snprintf(where, sizeof where, "recipe step '%s'", name);
    const json_t *jo = json_object_get(js, "output");
    char file[160];
    snprintf(file, sizeof file, "%.80s.shrk", name);
    if (jo && (!json_is_string(jo) || strchr(json_string_value(jo), '/') || !json_string_value(jo)[0] ||
               strlen(json_string_value(jo)) > 64 || json_string_value(jo)[0] == '.'))
        return shr_fail(SHR_ERR_INVALID_ARG, "%s: \"output\" must be a file name (no folder) in the work folder", where);
    if (jo) snprintf(file, sizeof file, "%s", json_string_value(jo));
    size_t olen = strlen(r->workdir) + strlen(file) + 2;
    s->name = strdup(name);
    s->run = strdup(run);
    s->output = malloc(olen);
    if (!s->name || !s->run || !s->output) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    snprintf(s->output, olen, "%s/%s", r->workdir, file);
    for (int k = 0; k < i; k++)
        if (strcmp(r->steps[k].output, s->output) == 0)
            return shr_fail(SHR_ERR_INVALID_ARG, "%s: writes '%s' like step '%s'", where, file, r->steps[k].name);

    parse_ctx c = {r, i, where};
    strvec argv = {0};
    shr_status st = vec_push(&argv, "shrink");
    if (st == SHR_OK) st = vec_push(&argv, run);
    const json_t *ji = json_object_get(js, "input");
    if (st == SHR_OK && takes_input(run) != (ji != NULL))
        st = shr_fail(SHR_ERR_INVALID_ARG, ji ? "%s: '%s' takes no \"input\" (use its options, e.g. \"teacher\")"
                                              : "%s: '%s' needs an \"input\" model (e.g. \"@teacher\")",
                      where, run);
    if (st == SHR_OK && ji) {
        char buf[64];
        const char *text;
        st = json_is_string(ji) ? scalar_text(&c, "input", ji, buf, sizeof buf, &text)
                                : shr_fail(SHR_ERR_INVALID_ARG, "%s: \"input\" must be a string", where);
        if (st == SHR_OK) st = vec_push(&argv, text);
    }
    if (st == SHR_OK)
        st = push_options(&c, &argv, js, uses_data(run) ? defaults : NULL, uses_data(run) ? r->data : NULL);
    if (st == SHR_OK) st = vec_push(&argv, "-o");
    if (st == SHR_OK) st = vec_push(&argv, s->output);
    if (st != SHR_OK) {
        vec_free(&argv);
        return st;
    }
    s->argc = argv.n;
    s->argv = argv.v;
    return SHR_OK;
}

static shr_status parse_root(shr_recipe *r, const json_t *root) {
    static const char *const keys[] = {"workdir", "data", "defaults", "steps", "compare", "description"};
    if (!json_is_object(root)) return shr_fail(SHR_ERR_INVALID_ARG, "a recipe is a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)root, key, v) {
        int ok = 0;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) ok |= strcmp(key, keys[i]) == 0;
        if (!ok)
            return shr_fail(SHR_ERR_INVALID_ARG, "recipe: unknown key '%s' (workdir, data, defaults, steps, compare)",
                            key);
    }
    const char *wd = json_string_value(json_object_get(root, "workdir"));
    const char *data = json_string_value(json_object_get(root, "data"));
    if (!wd || !wd[0] || strlen(wd) > 1024) return shr_fail(SHR_ERR_INVALID_ARG, "recipe: \"workdir\" (a folder) is required");
    if (!data || !data[0]) return shr_fail(SHR_ERR_INVALID_ARG, "recipe: \"data\" is required");
    const json_t *defaults = json_object_get(root, "defaults"), *steps = json_object_get(root, "steps");
    const json_t *compare = json_object_get(root, "compare");
    if ((defaults && !json_is_object(defaults)) || (compare && !json_is_object(compare)))
        return shr_fail(SHR_ERR_INVALID_ARG, "recipe: \"defaults\" and \"compare\" must be objects of options");
    if (!json_is_array(steps) || json_array_size(steps) < 1 || json_array_size(steps) > SHR_RECIPE_MAX_STEPS)
        return shr_fail(SHR_ERR_INVALID_ARG, "recipe: \"steps\" must list 1 to %d steps", SHR_RECIPE_MAX_STEPS);
    size_t wl = strlen(wd);
    while (wl > 1 && wd[wl - 1] == '/') wl--;
    r->workdir = strndup(wd, wl);
    r->data = strdup(data);
    r->state_path = malloc(wl + 32);
    r->steps = calloc(json_array_size(steps), sizeof *r->steps);
    if (!r->workdir || !r->data || !r->state_path || !r->steps) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    snprintf(r->state_path, wl + 32, "%s/pipeline-state.json", r->workdir);
    for (size_t i = 0; i < json_array_size(steps); i++) {
        r->n_steps = (int)i + 1; /* counted first so a half-parsed step is freed */
        SHR_TRY(parse_step(r, (int)i, json_array_get(steps, i), defaults));
    }
    if (compare) {
        parse_ctx c = {r, 0, "recipe \"compare\""};
        strvec argv = {0};
        shr_status st = push_options(&c, &argv, compare, NULL, NULL);
        r->compare_argc = argv.n;
        r->compare_argv = argv.v;
        SHR_TRY(st);
        const json_t *tl = json_object_get(compare, "test-limit");
        if (tl && (!json_is_integer(tl) || json_integer_value(tl) < 0))
            return shr_fail(SHR_ERR_INVALID_ARG, "recipe \"compare\": test-limit must be a whole number >= 0");
        r->test_limit = tl ? (long long)json_integer_value(tl) : 0;
    }
    return SHR_OK;
}

shr_status shr_recipe_parse(const char *text, shr_recipe **out) {
    *out = NULL;
    json_error_t e;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    if (!root) return shr_fail(SHR_ERR_FORMAT, "recipe line %d, column %d: %s", e.line, e.column, e.text);
    shr_recipe *r = calloc(1, sizeof *r);
    shr_status st = r ? parse_root(r, root) : shr_fail(SHR_ERR_NOMEM, "out of memory");
    json_decref(root);
    if (st != SHR_OK) {
        shr_recipe_free(r);
        return st;
    }
    *out = r;
    return SHR_OK;
}

shr_status shr_recipe_load(const char *path, shr_recipe **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return shr_fail(SHR_ERR_IO, "cannot open recipe '%s'", path);
    char *text = malloc(SHR_RECIPE_MAX_BYTES + 1);
    size_t n = text ? fread(text, 1, SHR_RECIPE_MAX_BYTES + 1, f) : 0;
    fclose(f);
    if (!text) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (n > SHR_RECIPE_MAX_BYTES) {
        free(text);
        return shr_fail(SHR_ERR_LIMIT, "recipe '%s' is larger than 1 MiB", path);
    }
    text[n] = '\0';
    shr_status st = shr_recipe_parse(text, out);
    free(text);
    return st;
}

void shr_recipe_free(shr_recipe *r) {
    if (!r) return;
    for (int i = 0; i < r->n_steps; i++) {
        shr_recipe_step *s = &r->steps[i];
        free(s->name);
        free(s->run);
        free(s->output);
        for (int k = 0; k < s->argc; k++) free(s->argv[k]);
        free(s->argv);
    }
    for (int k = 0; k < r->compare_argc; k++) free(r->compare_argv[k]);
    free(r->compare_argv);
    free(r->steps);
    free(r->workdir);
    free(r->data);
    free(r->state_path);
    free(r);
}
