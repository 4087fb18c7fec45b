/* ONNX backend-test conformance: runs every test of ONNX's own test data
 * (Debian libonnx-testdata, /usr/share/libonnx-testdata/data/{node,
 * pytorch-converted, pytorch-operator, simple}) whose model shrink imports, and
 * compares each output with ONNX's default tolerances (rtol 1e-3, atol 1e-7).
 *
 * Per test: the model is imported with dim 0 of its first input as the batch;
 * if shrink reports that unsupported, once more with the whole input as one
 * sample (SHR_ONNX_BATCH_NONE). The other graph inputs are fixed to their test
 * values (shrink models have one input). Each graph output is imported and
 * checked on its own. A test is "skipped" when the import reports
 * SHR_ERR_UNSUPPORTED (an op, attribute, type or batch layout shrink lacks),
 * "attempted" otherwise; an attempted test passes when every output of every
 * test_data_set matches, and fails on any other import error, run error or
 * mismatch.
 *
 * The tests expected to pass are listed in tests/onnx/conformance_expected.txt;
 * any of them not passing is a regression and fails this test. Passes not on
 * the list are printed, to be added.
 *
 *   test_onnx_conformance [-v] [--list-passing] [--export DIR] [FOLDER/TEST ...]
 * --export writes every passing model back out with shrink's ONNX exporter, with
 * its input and shrink's output, for tests/onnx/ort_check.py (the interop test).
 * SHR_ONNX_TESTDATA overrides the data folder; without it the test is skipped. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx/onnx_test_util.h"

#define RTOL 1e-3
#define ATOL 1e-7
#define MAX_TESTS 4096

static const char *const folders[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};
enum { N_FOLDERS = 4 };
enum { R_SKIP, R_PASS, R_FAIL };

static int verbose;
static const char *export_dir; /* --export DIR: write each passing model back out as ONNX */

/* A tensor file with n samples of value v's shape (the batch first). */
static int write_values(const char *path, const shr_value *v, int n, const float *data) {
    int64_t shape[SHR_MAX_DIMS];
    for (int d = 0; d < v->ndim; d++) shape[d] = d ? v->shape[d] : n;
    shr_tensor *t = NULL;
    void *buf = NULL;
    size_t size = 0;
    int ok = shr_tensor_view(&t, SHR_F32, v->ndim, shape, (void *)data) == SHR_OK &&
             shr_onnx_tensor_encode(t, v->name, &buf, &size) == SHR_OK && shr_write_file_atomic(path, buf, size) == SHR_OK;
    shr_tensor_free(t);
    free(buf);
    return ok;
}

/* export_dir/<id with '/' as '__'>_<k>/{model.onnx, input_0.pb, output_0.pb}. */
static int export_case(const char *id, int k, const shr_graph *g, const float *x, const float *y, int n) {
    char dir[1200], path[1300];
    int len = snprintf(dir, sizeof dir, "%s/", export_dir);
    for (const char *p = id; *p && len < (int)sizeof dir - 16; p++) dir[len++] = *p == '/' ? '_' : *p;
    snprintf(dir + len, sizeof dir - (size_t)len, "_%d", k);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return 0;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (shr_onnx_export(g, path) != SHR_OK) {
        fprintf(stderr, "EXPORT %s: %s\n", id, shr_last_error());
        return 0;
    }
    snprintf(path, sizeof path, "%s/input_0.pb", dir);
    int ok = write_values(path, &g->values[g->input], n, x);
    snprintf(path, sizeof path, "%s/output_0.pb", dir);
    return ok && write_values(path, &g->values[g->output], n, y);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_dir(const char *p) {
    struct stat s;
    return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}

typedef struct test_data {
    shr_tensor *in[16];
    void *in_pb[16];
    size_t in_size[16];
    shr_tensor *out[16];
    int n_in, n_out;
} test_data;

static void data_free(test_data *d) {
    for (int i = 0; i < d->n_in; i++) {
        shr_tensor_free(d->in[i]);
        free(d->in_pb[i]);
    }
    for (int i = 0; i < d->n_out; i++) shr_tensor_free(d->out[i]);
    memset(d, 0, sizeof *d);
}

/* Reads input_K.pb / output_K.pb of one data set. 0 if some file is not a tensor. */
static int data_load(const char *set, test_data *d) {
    char p[1300];
    memset(d, 0, sizeof *d);
    for (int k = 0; k < 16; k++) {
        snprintf(p, sizeof p, "%s/input_%d.pb", set, k);
        void *buf = read_all(p, &d->in_size[k]);
        if (!buf) break;
        d->in_pb[k] = buf;
        d->n_in = k + 1;
        if (shr_onnx_tensor_decode(buf, d->in_size[k], &d->in[k], NULL) != SHR_OK) return 0;
    }
    for (int k = 0; k < 16; k++) {
        snprintf(p, sizeof p, "%s/output_%d.pb", set, k);
        if (access(p, R_OK) != 0) break;
        if (!(d->out[k] = read_pb_tensor(p))) return 0;
        d->n_out = k + 1;
    }
    return d->n_in > 0 && d->n_out > 0;
}

/* Output `out` of the model for the data set, checked against want. */
static int check_output(const void *model, size_t size, char **ins, int n_ins, const char *out, const test_data *d,
                        const shr_tensor *want, const char *id, int k, char *why, size_t wn) {
    shr_onnx_binding bind[16];
    for (int i = 1; i < n_ins && i < d->n_in; i++) bind[i - 1] = (shr_onnx_binding){ins[i], d->in_pb[i], d->in_size[i]};
    shr_onnx_import_options o = shr_onnx_import_default();
    o.input = ins[0];
    o.output = out;
    o.bind = bind;
    o.n_bind = n_ins - 1;
    shr_graph *g = NULL;
    shr_status st = shr_onnx_import_memory(model, size, &o, &g);
    char first[400] = "";
    if (st == SHR_ERR_UNSUPPORTED) {
        snprintf(first, sizeof first, "%s", shr_last_error());
        o.batch = SHR_ONNX_BATCH_NONE;
        st = shr_onnx_import_memory(model, size, &o, &g);
    }
    if (st != SHR_OK) {
        if (first[0] && st == SHR_ERR_UNSUPPORTED && strcmp(first, shr_last_error()))
            snprintf(why, wn, "%s | as one sample: %s", first, shr_last_error());
        else snprintf(why, wn, "%s", shr_last_error());
        return st == SHR_ERR_UNSUPPORTED ? R_SKIP : R_FAIL;
    }
    const shr_tensor *x = d->in[0];
    const int lifted = o.batch == SHR_ONNX_BATCH_NONE, n = lifted ? 1 : (int)x->shape[0];
    float *y = run_graph(g, shr_f32(x), n, &st);
    int res = R_PASS;
    const shr_value *ov = &g->values[g->output];
    /* Shapes: shrink's (batch, sample...) against ONNX's dims (the batch is
     * ONNX dim 0, or an added dim of 1 when the input was one sample). */
    const int rank = ov->ndim - 1;
    int same = want->ndim == rank + !lifted && (lifted || want->shape[0] == n);
    for (int dd = 0; same && dd < rank; dd++) same = ov->shape[dd + 1] == want->shape[dd + !lifted];
    if (!y) {
        snprintf(why, wn, "run: %s", shr_last_error());
        res = R_FAIL;
    } else if (!same) {
        char a[160], b[160];
        shr_shape_str(ov->ndim, ov->shape, a, sizeof a);
        shr_shape_str(want->ndim, want->shape, b, sizeof b);
        snprintf(why, wn, "output shape %s, expected %s", a, b);
        res = R_FAIL;
    } else {
        double worst;
        int64_t bad = count_mismatch(y, shr_f32(want), want->numel, RTOL, ATOL, &worst);
        if (bad) {
            snprintf(why, wn, "%lld of %lld values off (max abs diff %.3g)", (long long)bad, (long long)want->numel, worst);
            res = R_FAIL;
        }
    }
    if (res == R_PASS && export_dir && !export_case(id, k, g, shr_f32(x), y, n)) {
        snprintf(why, wn, "passed, but exporting it failed");
        res = R_FAIL;
    }
    free(y);
    shr_graph_free(g);
    return res;
}

static int run_test(const char *dir, const char *id, char *why, size_t wn) {
    char p[1200];
    size_t size;
    snprintf(p, sizeof p, "%s/model.onnx", dir);
    void *model = read_all(p, &size);
    if (!model) {
        snprintf(why, wn, "no model.onnx");
        return R_SKIP;
    }
    char **ins = NULL, **outs = NULL;
    int n_ins = 0, n_outs = 0, res = R_PASS;
    if (shr_onnx_io_names(model, size, &ins, &n_ins, &outs, &n_outs) != SHR_OK) {
        snprintf(why, wn, "model: %s", shr_last_error());
        free(model);
        return R_FAIL;
    }
    int sets = 0;
    for (int s = 0; res == R_PASS && s < 64; s++) {
        snprintf(p, sizeof p, "%s/test_data_set_%d", dir, s);
        if (!is_dir(p)) break;
        test_data d;
        if (!data_load(p, &d) || d.n_in != n_ins || d.n_out != n_outs || n_ins < 1 || n_ins > 16) {
            snprintf(why, wn, "test data that is not plain tensors or does not match the graph");
            res = R_SKIP;
        }
        for (int k = 0; res == R_PASS && k < n_outs; k++)
            res = check_output(model, size, ins, n_ins, outs[k], &d, d.out[k], id, s * 16 + k, why, wn);
        data_free(&d);
        sets++;
    }
    if (!sets && res == R_PASS) {
        snprintf(why, wn, "no test data");
        res = R_SKIP;
    }
    shr_onnx_names_free(ins, n_ins);
    shr_onnx_names_free(outs, n_outs);
    free(model);
    return res;
}

/* The expected-pass list: "folder/test" per line, '#' comments. */
static char **load_expected(int *n) {
    const char *src = getenv("SHR_SOURCE_DIR");
    char p[700];
    snprintf(p, sizeof p, "%s/tests/onnx/conformance_expected.txt", src ? src : ".");
    FILE *f = fopen(p, "r");
    char **list = calloc(MAX_TESTS, sizeof *list), line[512];
    *n = 0;
    if (!f || !list) {
        if (f) fclose(f);
        fprintf(stderr, "cannot read %s\n", p);
        free(list);
        return NULL;
    }
    while (fgets(line, sizeof line, f) && *n < MAX_TESTS) {
        line[strcspn(line, "\r\n# ")] = '\0';
        if (line[0]) list[(*n)++] = strdup(line);
    }
    fclose(f);
    qsort(list, (size_t)*n, sizeof *list, cmp_str);
    return list;
}

static int listed(char **list, int n, const char *name) {
    return list && bsearch(&name, list, (size_t)n, sizeof *list, cmp_str) != NULL;
}

int main(int argc, char **argv) {
    const char *root = getenv("SHR_ONNX_TESTDATA");
    if (!root) root = "/usr/share/libonnx-testdata/data";
    int list_passing = 0, n_only = 0;
    char **only = calloc((size_t)argc + 1, sizeof *only);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) verbose = 1;
        else if (!strcmp(argv[i], "--list-passing")) list_passing = 1;
        else if (!strcmp(argv[i], "--export") && i + 1 < argc) export_dir = argv[++i];
        else only[n_only++] = argv[i];
    }
    if (!is_dir(root)) {
        fprintf(stderr, "SKIP: no ONNX test data at %s (Debian package libonnx-testdata)\n", root);
        free(only);
        return 77;
    }
    int n_expected = 0;
    char **expected = load_expected(&n_expected);
    int stats[N_FOLDERS][3] = {{0}}, regressions = 0, new_passes = 0;
    for (int f = 0; f < N_FOLDERS; f++) {
        char fd[700];
        snprintf(fd, sizeof fd, "%s/%s", root, folders[f]);
        DIR *dp = opendir(fd);
        if (!dp) continue;
        char **names = calloc(MAX_TESTS, sizeof *names);
        int n = 0;
        for (struct dirent *e; names && (e = readdir(dp)) != NULL && n < MAX_TESTS;)
            if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
        closedir(dp);
        qsort(names, (size_t)n, sizeof *names, cmp_str);
        for (int i = 0; i < n; i++) {
            char full[1100], id[400], why[1000] = "";
            snprintf(id, sizeof id, "%s/%s", folders[f], names[i]);
            int want = n_only == 0;
            for (int k = 0; k < n_only; k++) want |= !strcmp(only[k], id);
            if (!want) continue;
            snprintf(full, sizeof full, "%s/%s", fd, names[i]);
            int r = run_test(full, id, why, sizeof why);
            stats[f][r]++;
            int exp = listed(expected, n_expected, id);
            if (r == R_PASS && list_passing) printf("%s\n", id);
            if (r == R_FAIL) fprintf(stderr, "FAIL %s: %s\n", id, why);
            else if (r == R_SKIP && verbose) fprintf(stderr, "skip %s: %s\n", id, why);
            if (exp && r != R_PASS) {
                fprintf(stderr, "REGRESSION %s is expected to pass: %s\n", id, why);
                regressions++;
            }
            if (!exp && r == R_PASS && n_only == 0) {
                if (verbose) fprintf(stderr, "new pass %s (add it to tests/onnx/conformance_expected.txt)\n", id);
                new_passes++;
            }
        }
        for (int i = 0; i < n; i++) free(names[i]);
        free(names);
    }
    fprintf(stderr, "\n%-20s %9s %7s %7s %8s\n", "folder", "attempted", "passed", "failed", "skipped");
    for (int f = 0; f < N_FOLDERS; f++)
        fprintf(stderr, "%-20s %9d %7d %7d %8d\n", folders[f], stats[f][R_PASS] + stats[f][R_FAIL], stats[f][R_PASS],
                stats[f][R_FAIL], stats[f][R_SKIP]);
    if (new_passes) fprintf(stderr, "%d passing tests are not in conformance_expected.txt (-v lists them)\n", new_passes);
    if (regressions) fprintf(stderr, "%d expected passes regressed\n", regressions);
    for (int i = 0; i < n_expected; i++) free(expected[i]);
    free(expected);
    free(only);
    return (regressions || !expected) ? 1 : 0;
}
