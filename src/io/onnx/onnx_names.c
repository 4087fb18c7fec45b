/* Name -> int map for the importer (open addressing, FNV-1a hash). Keys point
 * at strings that outlive the map (the model message or the graph's values). */
#include <stdlib.h>
#include <string.h>

#include "io/onnx/onnx_internal.h"

struct ox_map {
    const char **keys;
    int *vals;
    size_t cap, count; /* cap is a power of two */
};

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

shr_status ox_map_create(ox_map **out) {
    ox_map *m = calloc(1, sizeof *m);
    if (m) {
        m->cap = 64;
        m->keys = calloc(m->cap, sizeof *m->keys);
        m->vals = calloc(m->cap, sizeof *m->vals);
    }
    if (!m || !m->keys || !m->vals) {
        ox_map_free(m);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    *out = m;
    return SHR_OK;
}

void ox_map_free(ox_map *m) {
    if (!m) return;
    free(m->keys);
    free(m->vals);
    free(m);
}

static size_t slot(const ox_map *m, const char *name) {
    size_t i = (size_t)hash(name) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], name) != 0) i = (i + 1) & (m->cap - 1);
    return i;
}

int ox_map_get(const ox_map *m, const char *name) {
    size_t i = slot(m, name);
    return m->keys[i] ? m->vals[i] : -1;
}

static shr_status grow(ox_map *m) {
    ox_map n = {calloc(m->cap * 2, sizeof *m->keys), calloc(m->cap * 2, sizeof *m->vals), m->cap * 2, 0};
    if (!n.keys || !n.vals) {
        free(n.keys);
        free(n.vals);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            size_t j = slot(&n, m->keys[i]);
            n.keys[j] = m->keys[i];
            n.vals[j] = m->vals[i];
            n.count++;
        }
    free(m->keys);
    free(m->vals);
    *m = n;
    return SHR_OK;
}

shr_status ox_map_put(ox_map *m, const char *name, int value) {
    if ((m->count + 1) * 2 > m->cap) SHR_TRY(grow(m));
    size_t i = slot(m, name);
    if (!m->keys[i]) {
        m->keys[i] = name;
        m->count++;
    }
    m->vals[i] = value;
    return SHR_OK;
}
