/* .shrk round trip: every field survives save/load, re-saving is byte-identical,
 * tensors are 64-byte aligned in the file, and failed saves leave the old file. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/shrk_format.h"
#include "nn/op.h"
#include "shrink/io.h"
#include "shrk_test_util.h"
#include "test.h"

static const shr_op_def *const used_ops[] = {&shr_op_conv2d, &shr_op_batchnorm, &shr_op_leaky_relu, &shr_op_add,
                                             &shr_op_dropout, &shr_op_flatten, &shr_op_linear};

static char tmpdir[1024];

static void tmp_path(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tmpdir, name); }

/* Deterministic, non-trivial data, with a few special floats whose bits must survive. */
static void fill(shr_graph *g, int v, float seed) {
    shr_tensor *t = g->values[v].data;
    float *p = shr_f32(t);
    for (int64_t i = 0; i < t->numel; i++) p[i] = sinf(seed + (float)i * 0.37f) * 0.5f;
    if (t->numel > 2) {
        p[0] = -0.0f;
        p[1] = NAN;
    }
}

/* x(1,3,3) -> conv(pad 1) -> bn -> leaky_relu -> add(conv) -> dropout -> flatten -> linear */
static shr_graph *build_model(void) {
    shr_graph *g = NULL;
    CHECK_OK(shr_graph_create(&g));
    int c, bn, act, sum, drop, flat, y;
    const int64_t in_shape[3] = {1, 3, 3};
    tiny_params p;
    add_tiny_params(g, in_shape, 2, 3, 18, 3, &p);
    fill(g, p.conv_w, 1.0f);
    fill(g, p.conv_b, 2.0f);
    fill(g, p.gamma, 3.0f);
    fill(g, p.beta, 4.0f);
    fill(g, p.mean, 5.0f);
    for (int i = 0; i < 2; i++) shr_f32(g->values[p.var].data)[i] = 1.0f + (float)i;
    fill(g, p.fc_w, 6.0f);
    fill(g, p.fc_b, 7.0f);

    shr_attrs a = shr_attrs_default();
    a.kernel[0] = a.kernel[1] = 3;
    a.pad[0] = a.pad[1] = a.pad[2] = a.pad[3] = 1;
    int conv_in[3] = {p.x, p.conv_w, p.conv_b};
    CHECK_OK(shr_graph_add_node(g, "conv", SHR_OP_CONV2D, &a, 3, conv_in, &c));
    a = shr_attrs_default();
    a.eps = 1e-3f;
    a.momentum = 0.05f;
    int bn_in[5] = {c, p.gamma, p.beta, p.mean, p.var};
    CHECK_OK(shr_graph_add_node(g, "bn", SHR_OP_BATCHNORM, &a, 5, bn_in, &bn));
    a = shr_attrs_default();
    a.alpha = 0.125f;
    CHECK_OK(shr_graph_add_node(g, "act", SHR_OP_LEAKY_RELU, &a, 1, &bn, &act));
    int add_in[2] = {act, c};
    CHECK_OK(shr_graph_add_node(g, "sum", SHR_OP_ADD, NULL, 2, add_in, &sum));
    a = shr_attrs_default();
    a.alpha = 0.25f;
    a.shape[3] = 77; /* unused by dropout, but every attrs field must survive */
    CHECK_OK(shr_graph_add_node(g, "drop", SHR_OP_DROPOUT, &a, 1, &sum, &drop));
    CHECK_OK(shr_graph_add_node(g, "flat", SHR_OP_FLATTEN, NULL, 1, &drop, &flat));
    int fc_in[3] = {flat, p.fc_w, p.fc_b};
    CHECK_OK(shr_graph_add_node(g, "fc", SHR_OP_LINEAR, NULL, 3, fc_in, &y));

    g->preproc.scale = 1.0f / 255.0f;
    g->preproc.channels = 3;
    for (int i = 0; i < SHR_MAX_CHANNELS; i++) {
        g->preproc.mean[i] = 0.1f * (float)(i + 1);
        g->preproc.std[i] = 0.2f * (float)(i + 1);
    }
    g->arch = strdup("tiny-cnn\nconv 2 3x3\nlinear 3");
    CHECK_OK(shr_graph_add_lineage(g, "train epochs=1 seed=7"));
    CHECK_OK(shr_graph_add_lineage(g, "prune magnitude 50%"));
    return g;
}

static int same_str(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static void check_same_attrs(const shr_attrs *a, const shr_attrs *b) {
    for (int i = 0; i < 2; i++) {
        CHECK(a->kernel[i] == b->kernel[i]);
        CHECK(a->stride[i] == b->stride[i]);
        CHECK(a->dilation[i] == b->dilation[i]);
    }
    for (int i = 0; i < 4; i++) CHECK(a->pad[i] == b->pad[i]);
    CHECK(a->groups == b->groups);
    CHECK(shrk_f32_bits(a->alpha) == shrk_f32_bits(b->alpha));
    CHECK(shrk_f32_bits(a->eps) == shrk_f32_bits(b->eps));
    CHECK(shrk_f32_bits(a->momentum) == shrk_f32_bits(b->momentum));
    CHECK(a->axis == b->axis);
    CHECK(a->count_include_pad == b->count_include_pad);
    CHECK(a->ndim == b->ndim);
    for (int i = 0; i < SHR_MAX_DIMS; i++) CHECK(a->shape[i] == b->shape[i]);
}

static void check_same_graph(const shr_graph *a, const shr_graph *b) {
    CHECK(a->n_values == b->n_values);
    CHECK(a->n_nodes == b->n_nodes);
    CHECK(a->input == b->input);
    CHECK(a->output == b->output);
    CHECK(same_str(a->arch, b->arch));
    CHECK(same_str(a->lineage, b->lineage));
    CHECK(shrk_f32_bits(a->preproc.scale) == shrk_f32_bits(b->preproc.scale));
    CHECK(a->preproc.channels == b->preproc.channels);
    for (int c = 0; c < SHR_MAX_CHANNELS; c++) {
        CHECK(shrk_f32_bits(a->preproc.mean[c]) == shrk_f32_bits(b->preproc.mean[c]));
        CHECK(shrk_f32_bits(a->preproc.std[c]) == shrk_f32_bits(b->preproc.std[c]));
    }
    if (a->n_values != b->n_values || a->n_nodes != b->n_nodes) return;
    for (int i = 0; i < a->n_values; i++) {
        const shr_value *u = &a->values[i], *v = &b->values[i];
        CHECK_MSG(strcmp(u->name, v->name) == 0, "value %d: '%s' vs '%s'", i, u->name, v->name);
        CHECK(u->kind == v->kind);
        CHECK(u->ndim == v->ndim);
        for (int d = 0; d < u->ndim; d++) CHECK(u->shape[d] == v->shape[d]);
        CHECK(u->producer == v->producer);
        CHECK((u->data == NULL) == (v->data == NULL));
        if (u->data && v->data) {
            CHECK(u->data->dtype == v->data->dtype);
            CHECK(u->data->ndim == v->data->ndim);
            CHECK(u->data->numel == v->data->numel);
            CHECK(u->data->nbytes == v->data->nbytes);
            CHECK_MSG(memcmp(u->data->data, v->data->data, u->data->nbytes) == 0, "tensor '%s' differs", u->name);
            CHECK(((uintptr_t)v->data->data % SHR_ALIGN) == 0);
        }
    }
    for (int k = 0; k < a->n_nodes; k++) {
        const shr_node *m = &a->nodes[k], *n = &b->nodes[k];
        CHECK(strcmp(m->name, n->name) == 0);
        CHECK(m->op == n->op);
        check_same_attrs(&m->attrs, &n->attrs);
        CHECK(m->n_inputs == n->n_inputs);
        for (int i = 0; i < m->n_inputs && i < n->n_inputs; i++) CHECK(m->inputs[i] == n->inputs[i]);
        CHECK(m->output == n->output);
    }
}

static void test_memory_roundtrip(void) {
    shr_graph *g = build_model(), *h = NULL, *h2 = NULL;
    void *buf = NULL, *buf2 = NULL;
    size_t size = 0, size2 = 0;
    CHECK_OK(shr_model_to_memory(g, &buf, &size));
    CHECK(size > SHRK_HEADER_SIZE && memcmp(buf, SHRK_MAGIC, SHRK_MAGIC_LEN) == 0);
    CHECK_OK(shr_model_from_memory(buf, size, &h));
    if (h) {
        check_same_graph(g, h);
        CHECK_OK(shr_model_to_memory(h, &buf2, &size2));
        CHECK(size2 == size && buf2 && memcmp(buf, buf2, size) == 0);
        CHECK_OK(shr_model_from_memory(buf2, size2, &h2));
        if (h2) check_same_graph(g, h2);
    }
    /* Serializing the same graph twice is deterministic. */
    void *buf3 = NULL;
    size_t size3 = 0;
    CHECK_OK(shr_model_to_memory(g, &buf3, &size3));
    CHECK(size3 == size && buf3 && memcmp(buf, buf3, size) == 0);
    free(buf);
    free(buf2);
    free(buf3);
    shr_graph_free(g);
    shr_graph_free(h);
    shr_graph_free(h2);
}

/* Every tensor's bytes begin at a 64-byte aligned file offset, and match the graph. */
static void test_tensor_alignment(void) {
    shr_graph *g = build_model();
    void *buf = NULL;
    size_t size = 0;
    CHECK_OK(shr_model_to_memory(g, &buf, &size));
    const uint8_t *b = buf;
    uint32_t nsec = shrk_get_u32(b + 16);
    int found = 0;
    for (uint32_t s = 0; s < nsec; s++) {
        const uint8_t *e = b + SHRK_HEADER_SIZE + s * SHRK_ENTRY_SIZE;
        CHECK(shrk_get_u64(e + 8) % SHRK_ALIGN == 0);
        CHECK(shrk_get_u32(e + 4) == SHRK_SEC_REQUIRED);
        if (shrk_get_u32(e) != SHRK_SEC_TENSORS) continue;
        found = 1;
        uint64_t sec = shrk_get_u64(e + 8);
        uint32_t count = shrk_get_u32(b + sec);
        CHECK(count == 8);
        for (uint32_t t = 0; t < count; t++) {
            const uint8_t *ent = b + sec + 8 + t * SHRK_TENSOR_ENTRY_SIZE;
            uint32_t vi = shrk_get_u32(ent);
            uint64_t off = sec + shrk_get_u64(ent + 8), nbytes = shrk_get_u64(ent + 16);
            CHECK(off % SHRK_ALIGN == 0);
            CHECK(shrk_get_u32(ent + 4) == SHR_F32);
            CHECK(vi < (uint32_t)g->n_values && g->values[vi].data && nbytes == g->values[vi].data->nbytes);
            if (vi < (uint32_t)g->n_values && g->values[vi].data && off + nbytes <= size)
                CHECK(memcmp(b + off, g->values[vi].data->data, (size_t)nbytes) == 0);
        }
    }
    CHECK(found);
    free(buf);
    shr_graph_free(g);
}

/* NULL arch/lineage stay NULL; an empty arch stays an empty string. */
static void test_optional_strings(void) {
    shr_graph *g = build_model(), *h = NULL;
    free(g->arch);
    free(g->lineage);
    g->arch = NULL;
    g->lineage = NULL;
    void *buf = NULL;
    size_t size = 0;
    CHECK_OK(shr_model_to_memory(g, &buf, &size));
    CHECK_OK(shr_model_from_memory(buf, size, &h));
    CHECK(h && h->arch == NULL && h->lineage == NULL);
    shr_graph_free(h);
    free(buf);
    g->arch = strdup("");
    CHECK_OK(shr_model_to_memory(g, &buf, &size));
    CHECK_OK(shr_model_from_memory(buf, size, &h));
    CHECK(h && h->arch && h->arch[0] == '\0' && h->lineage == NULL);
    shr_graph_free(h);
    free(buf);
    shr_graph_free(g);
}

static int read_whole(const char *path, uint8_t **data, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    uint8_t *p = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            p = realloc(p, cap);
        }
        size_t r = fread(p + n, 1, cap - n, f);
        if (r == 0) break;
        n += r;
    }
    fclose(f);
    *data = p;
    *size = n;
    return 0;
}

static int count_tmp_files(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    size_t plen = strlen(prefix);
    for (struct dirent *e; (e = readdir(d));)
        if (strncmp(e->d_name, prefix, plen) == 0 && strstr(e->d_name + plen, ".tmp.")) n++;
    closedir(d);
    return n;
}

static void test_file_roundtrip(void) {
    char p1[2048], p2[2048];
    tmp_path(p1, sizeof p1, "a.shrk");
    tmp_path(p2, sizeof p2, "b.shrk");
    shr_graph *g = build_model(), *h = NULL;
    CHECK_OK(shr_model_save(g, p1));
    CHECK_OK(shr_model_load(p1, &h));
    if (h) {
        check_same_graph(g, h);
        CHECK_OK(shr_model_save(h, p2));
    }
    uint8_t *d1 = NULL, *d2 = NULL;
    size_t n1 = 0, n2 = 0;
    CHECK(read_whole(p1, &d1, &n1) == 0 && read_whole(p2, &d2, &n2) == 0);
    CHECK(n1 == n2 && n1 > 0 && d1 && d2 && memcmp(d1, d2, n1) == 0);
    void *mem = NULL;
    size_t nm = 0;
    CHECK_OK(shr_model_to_memory(g, &mem, &nm));
    CHECK(nm == n1 && mem && d1 && memcmp(mem, d1, nm) == 0);
    CHECK(count_tmp_files(tmpdir, "") == 0);
    free(mem);
    free(d1);
    free(d2);
    shr_graph_free(g);
    shr_graph_free(h);
}

static void test_write_file_atomic(void) {
    char p[2048];
    tmp_path(p, sizeof p, "raw.bin");
    CHECK_OK(shr_write_file_atomic(p, "hello", 5));
    CHECK_OK(shr_write_file_atomic(p, "hi", 2)); /* replaces, never appends */
    uint8_t *d = NULL;
    size_t n = 0;
    CHECK(read_whole(p, &d, &n) == 0 && n == 2 && d && memcmp(d, "hi", 2) == 0);
    free(d);
    CHECK_OK(shr_write_file_atomic(p, NULL, 0));
    CHECK(read_whole(p, &d, &n) == 0 && n == 0);
    free(d);
    CHECK_STATUS(shr_write_file_atomic("", "x", 1), SHR_ERR_INVALID_ARG);
    CHECK(count_tmp_files(tmpdir, "raw.bin") == 0);
    /* mkstemp makes 0600 files: a new file must get 0666 minus the umask, and a
     * replaced file must keep its mode. */
    struct stat st;
    mode_t old_mask = umask(022);
    char q[2048];
    tmp_path(q, sizeof q, "mode.bin");
    CHECK_OK(shr_write_file_atomic(q, "m", 1));
    CHECK(stat(q, &st) == 0 && (st.st_mode & 07777) == 0644);
    CHECK(chmod(q, 0640) == 0);
    CHECK_OK(shr_write_file_atomic(q, "mm", 2));
    CHECK(stat(q, &st) == 0 && (st.st_mode & 07777) == 0640 && st.st_size == 2);
    umask(old_mask);
}

/* A failed save leaves the previous file byte for byte and no PATH.tmp.* behind. */
static void test_failed_save_keeps_old_file(void) {
    char p[2048];
    tmp_path(p, sizeof p, "keep.shrk");
    shr_graph *g = build_model();
    CHECK_OK(shr_model_save(g, p));
    uint8_t *before = NULL, *after = NULL;
    size_t nb = 0, na = 0;
    CHECK(read_whole(p, &before, &nb) == 0);

    /* 1. A graph that cannot be serialized: a name over 255 bytes. */
    char *old_name = g->values[1].name;
    char longname[300];
    memset(longname, 'w', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    g->values[1].name = longname;
    CHECK_STATUS(shr_model_save(g, p), SHR_ERR_LIMIT);
    CHECK(strstr(shr_last_error(), p) != NULL);
    g->values[1].name = old_name;

    /* 2. A param without data, and a graph whose shapes no longer fit. */
    shr_tensor *t = g->values[1].data;
    g->values[1].data = NULL;
    void *buf = (void *)1;
    size_t size = 1;
    CHECK_STATUS(shr_model_to_memory(g, &buf, &size), SHR_ERR_INVALID_ARG);
    CHECK(buf == NULL && size == 0);
    CHECK(shr_model_save(g, p) != SHR_OK);
    g->values[1].data = t;
    int fc = g->n_values - 1;
    g->values[fc].shape[1] = 4; /* the linear output says 4 features; its weight says 3 */
    CHECK(shr_model_save(g, p) != SHR_OK);
    g->values[fc].shape[1] = 3;

    CHECK(read_whole(p, &after, &na) == 0);
    CHECK(na == nb && before && after && memcmp(before, after, nb) == 0);
    free(after);
    after = NULL;

    /* 3. The target is an existing folder: the temporary is created, rename fails, it must go. */
    char dirpath[2048];
    tmp_path(dirpath, sizeof dirpath, "adir");
    CHECK(mkdir(dirpath, 0755) == 0);
    CHECK_STATUS(shr_model_save(g, dirpath), SHR_ERR_IO);
    CHECK(strstr(shr_last_error(), dirpath) != NULL);
    CHECK(count_tmp_files(tmpdir, "adir") == 0);

    /* 4. A folder that does not exist, and a path below a regular file. */
    char nodir[2048], underfile[2100];
    tmp_path(nodir, sizeof nodir, "missing/m.shrk");
    snprintf(underfile, sizeof underfile, "%s/sub.shrk", p);
    CHECK_STATUS(shr_model_save(g, nodir), SHR_ERR_IO);
    CHECK(strstr(shr_last_error(), nodir) != NULL);
    CHECK_STATUS(shr_model_save(g, underfile), SHR_ERR_IO);

    /* 5. A read-only folder (root ignores permissions, so only as a normal user). */
    if (geteuid() != 0) {
        char rodir[2048], ropath[2100];
        tmp_path(rodir, sizeof rodir, "ro");
        CHECK(mkdir(rodir, 0755) == 0);
        snprintf(ropath, sizeof ropath, "%s/m.shrk", rodir);
        CHECK_OK(shr_model_save(g, ropath));
        CHECK(chmod(rodir, 0555) == 0);
        CHECK_STATUS(shr_model_save(g, ropath), SHR_ERR_IO);
        CHECK(count_tmp_files(rodir, "m.shrk") == 0);
        chmod(rodir, 0755);
    }

    CHECK(read_whole(p, &after, &na) == 0);
    CHECK(na == nb && before && after && memcmp(before, after, nb) == 0);
    CHECK(count_tmp_files(tmpdir, "keep.shrk") == 0);
    shr_graph *h = NULL;
    CHECK_OK(shr_model_load(p, &h));
    shr_graph_free(h);
    free(before);
    free(after);
    shr_graph_free(g);
}

/* Removes the test folder (files and empty subfolders, one level deep). */
static void remove_tmpdir(void) {
    DIR *d = opendir(tmpdir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        char q[2100];
        snprintf(q, sizeof q, "%s/m.shrk", p);
        unlink(q);
        if (unlink(p) != 0) rmdir(p);
    }
    closedir(d);
    rmdir(tmpdir);
}

int main(void) {
    if (!ops_linked(used_ops, sizeof used_ops / sizeof used_ops[0])) return 1;
    if (!shrk_test_mkdtemp(tmpdir, sizeof tmpdir, "shrk_rt")) return 1;
    RUN(test_memory_roundtrip);
    RUN(test_tensor_alignment);
    RUN(test_optional_strings);
    RUN(test_file_roundtrip);
    RUN(test_write_file_atomic);
    RUN(test_failed_save_keeps_old_file);
    remove_tmpdir();
    return test_summary();
}
