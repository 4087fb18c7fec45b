/* Helpers shared by the ONNX tests: whole-file reads, decoding ONNX tensor
 * files, running a graph through the inference plan, and comparing with ONNX's
 * backend-test tolerances. */
#ifndef SHR_TEST_ONNX_UTIL_H
#define SHR_TEST_ONNX_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shrink/shrink.h"

/* The whole file in a malloc'ed buffer (NULL if unreadable). */
static inline void *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    void *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) *size = (size_t)n;
    return buf;
}

/* An ONNX TensorProto file as an f32 tensor (NULL on failure). */
static inline shr_tensor *read_pb_tensor(const char *path) {
    size_t size;
    void *buf = read_all(path, &size);
    shr_tensor *t = NULL;
    if (buf && shr_onnx_tensor_decode(buf, size, &t, NULL) != SHR_OK) t = NULL;
    free(buf);
    return t;
}

/* Runs n samples x through g's plan; returns a malloc'ed copy of the output
 * (n * per-sample outputs floats) or NULL with the status in *st. */
static inline float *run_graph(const shr_graph *g, const float *x, int n, shr_status *st) {
    shr_plan *p = NULL;
    const float *y;
    float *out = NULL;
    *st = shr_plan_create(g, n, &p);
    if (*st == SHR_OK) *st = shr_plan_run(p, x, n, &y);
    if (*st == SHR_OK) {
        size_t bytes = (size_t)n * (size_t)shr_plan_output_size(p) * sizeof(float);
        out = malloc(bytes ? bytes : 1);
        if (out) memcpy(out, y, bytes);
    }
    shr_plan_free(p);
    return out;
}

/* ONNX's backend-test check: |got - want| <= atol + rtol * |want| for every
 * element, NaN matching NaN and infinities matching exactly. Returns the number of
 * mismatches; *worst gets the largest |got - want| (finite cases). */
static inline int64_t count_mismatch(const float *got, const float *want, int64_t n, double rtol, double atol,
                                     double *worst) {
    int64_t bad = 0;
    *worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = got[i], b = want[i];
        if (isnan(b) || isnan(a)) {
            bad += isnan(a) != isnan(b);
            continue;
        }
        if (isinf(b) || isinf(a)) {
            bad += a != b;
            continue;
        }
        double d = fabs(a - b);
        if (d > *worst) *worst = d;
        bad += d > atol + rtol * fabs(b);
    }
    return bad;
}

#endif
