/* Pipeline state: which steps are done, keyed by a hash of what they were run
 * with. The hash covers the argv and the bytes of every input file, so a step
 * re-runs when its options change or when an earlier step produced a different
 * model, and is skipped when an earlier re-run reproduced the same bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "pipeline/pipeline.h"
#include "shrink/io.h"

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

static uint64_t fnv(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

static shr_status hash_file_into(const char *path, uint64_t *h) {
    FILE *f = fopen(path, "rb");
    if (!f) return shr_fail(SHR_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) *h = fnv(*h, buf, n);
    int bad = ferror(f);
    fclose(f);
    return bad ? shr_fail(SHR_ERR_IO, "error reading '%s'", path) : SHR_OK;
}

static void to_hex(uint64_t h, char out[17]) { snprintf(out, 17, "%016llx", (unsigned long long)h); }

static int is_regular_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

shr_status shr_file_hash(const char *path, char out[17]) {
    uint64_t h = FNV_OFFSET;
    SHR_TRY(hash_file_into(path, &h));
    to_hex(h, out);
    return SHR_OK;
}

shr_status shr_step_hash(const shr_recipe_step *s, char out[17]) {
    uint64_t h = fnv(FNV_OFFSET, "shrink-step-v1", 15);
    for (int i = 1; i < s->argc; i++) {
        h = fnv(h, s->argv[i], strlen(s->argv[i]) + 1);
        /* The value after -o is the output, not an input. */
        int is_output = i > 1 && strcmp(s->argv[i - 1], "-o") == 0;
        if (!is_output && s->argv[i][0] != '-' && is_regular_file(s->argv[i])) {
            h = fnv(h, "<file>", 7);
            SHR_TRY(hash_file_into(s->argv[i], &h));
        }
    }
    to_hex(h, out);
    return SHR_OK;
}

shr_status shr_state_load(const char *path, json_t **out) {
    *out = NULL;
    json_t *root = NULL;
    if (is_regular_file(path)) {
        json_error_t e;
        root = json_load_file(path, 0, &e);
        if (!root || !json_is_object(root) || !json_is_object(json_object_get(root, "steps"))) {
            json_decref(root);
            return shr_fail(SHR_ERR_FORMAT,
                            "pipeline state '%s' is damaged (%s); delete it or run with --from-scratch", path,
                            root ? "not a state object" : e.text);
        }
    } else {
        root = json_pack("{s:i, s:{}}", "version", 1, "steps");
        if (!root) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    *out = root;
    return SHR_OK;
}

int shr_state_is_done(json_t *state, const shr_recipe_step *s, const char *hash) {
    const json_t *e = json_object_get(json_object_get(state, "steps"), s->name);
    const char *h = json_string_value(json_object_get(e, "hash"));
    const char *out = json_string_value(json_object_get(e, "output"));
    const char *oh = json_string_value(json_object_get(e, "output_hash"));
    if (!h || !out || !oh || strcmp(h, hash) != 0 || strcmp(out, s->output) != 0) return 0;
    char now[17];
    if (!is_regular_file(s->output) || shr_file_hash(s->output, now) != SHR_OK) return 0;
    return strcmp(now, oh) == 0;
}

shr_status shr_state_mark_done(json_t *state, const shr_recipe_step *s, const char *hash, double seconds) {
    char oh[17];
    SHR_TRY(shr_file_hash(s->output, oh));
    json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:f}", "run", s->run, "hash", hash, "output", s->output,
                          "output_hash", oh, "seconds", seconds);
    if (!e || json_object_set_new(json_object_get(state, "steps"), s->name, e) != 0)
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    return SHR_OK;
}

shr_status shr_state_save(const char *path, json_t *state) {
    char *text = json_dumps(state, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    size_t n = strlen(text);
    text[n] = '\n'; /* json_dumps leaves room for the NUL, which becomes the final newline */
    shr_status st = shr_write_file_atomic(path, text, n + 1);
    free(text);
    return st;
}
