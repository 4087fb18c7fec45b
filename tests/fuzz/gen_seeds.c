/* Writes the seed corpora for the fuzz targets into OUT/{shrk,arch,idx,csv}/
 * (scripts/fuzz.sh runs it; the corpora are generated, not committed):
 * small models saved by the library (dense, and pruned into each sparse encoding),
 * arch specs covering every layer keyword, tiny IDX sets (plain and gzip, in
 * fuzz_idx's two input layouts), tiny CSVs.
 * Usage: gen_seeds OUT [arch files to add as seeds...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "shrink/io.h"
#include "shrink/zoo.h"

static const char *out_dir;

static void put(const char *sub, const char *name, const void *data, size_t size) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_dir, sub);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        fprintf(stderr, "gen_seeds: cannot write %s\n", path);
        exit(1);
    }
}

static void die(const char *what) {
    fprintf(stderr, "gen_seeds: %s: %s\n", what, shr_last_error());
    exit(1);
}

/* Arch specs for a 1x8x8 input and 4 classes (fuzz_arch's setting). */
static const char *const specs[] = {
    "flatten\nlinear 4\n",
    "# mlp\nflatten\nlinear 16\nrelu\nlinear 8 bias=0\ntanh\nlinear 4\nsoftmax\n",
    "stem: conv 4 k=3 bias=0\nbn\nrelu\nconv 4 k=3\nbn\nadd stem\nrelu6\nmaxpool k=2\ngap\nflatten\nlinear 4\n",
    ("a: conv 2 k=1\nb: conv 2 k=3 p=1 in=a\nc: conv 2 k=5 p=2 d=1 in=a\nconcat a b\ndwconv k=3 s=2\n"
     "avgpool k=2 s=1 p=1\nflatten\ndropout p=0.25\nlinear 4\nlog_softmax\n"),
    "conv 4 k=3 s=2 g=1\nleaky_relu alpha=0.2\nconv 4 k=3 g=2 d=2 p=2\ngelu\nsigmoid\nflatten\nbn\nlinear 4\n",
    "x.1: conv 6 k=2 s=2 p=0\ny_2: conv 6 k=1 g=3\nadd x.1\ngap\nflatten\nlinear 4\n",
};

/* Small graphs for .shrk seeds: every arch spec, plus reshape (not in the arch syntax). */
static void shrk_seeds(void) {
    char name[32];
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        shr_graph *g = NULL;
        if (shr_arch_parse(specs[i], 1, 8, 8, 4, 1 + i, &g) != SHR_OK) die("arch seed");
        if (i == 1) g->preproc = (shr_preproc){1.0f / 255.0f, 1, {0.5f}, {0.25f, 1, 1, 1}};
        if (i == 2 && shr_graph_add_lineage(g, "seed: trained 0 epochs") != SHR_OK) die("lineage");
        void *buf = NULL;
        size_t size = 0;
        if (shr_model_to_memory(g, &buf, &size) != SHR_OK) die("save");
        snprintf(name, sizeof name, "arch%zu.shrk", i);
        put("shrk", name, buf, size);
        free(buf);
        shr_graph_free(g);
    }
    shr_graph *g = NULL;
    int x = -1, r = -1, w = -1, y = -1;
    int64_t in[3] = {2, 2, 2}, ws[2] = {3, 8};
    if (shr_graph_create(&g) != SHR_OK || shr_graph_add_input(g, "x", 3, in, &x) != SHR_OK ||
        shr_graph_add_tensor(g, "w", SHR_VALUE_PARAM, 2, ws, &w) != SHR_OK)
        die("reshape seed");
    shr_attrs a = shr_attrs_default();
    a.ndim = 1;
    a.shape[0] = -1;
    int lin[3] = {-1, w, -1};
    if (shr_graph_add_node(g, "flat", SHR_OP_RESHAPE, &a, 1, &x, &r) != SHR_OK) die("reshape node");
    lin[0] = r;
    if (shr_graph_add_node(g, "fc", SHR_OP_LINEAR, NULL, 3, lin, &y) != SHR_OK) die("linear node");
    for (int i = 0; i < 24; i++) shr_f32(g->values[w].data)[i] = (float)i / 8.0f - 1.0f;
    void *buf = NULL;
    size_t size = 0;
    if (shr_model_to_memory(g, &buf, &size) != SHR_OK) die("save reshape");
    put("shrk", "reshape.shrk", buf, size);
    free(buf);
    shr_graph_free(g);
}

/* Pruned models whose largest weight lands in each SPARSE encoding (CSR, bitmask, 4x4 blocks). */
static int keep_csr(int64_t r, int64_t c, int64_t cols) { return (r * cols + c) % 67 == 0; }
static int keep_bitmask(int64_t r, int64_t c, int64_t cols) { (void)cols; return (r + c) % 2 == 0; }
static int keep_block(int64_t r, int64_t c, int64_t cols) { (void)cols; return (r / 4 + c / 4) % 2 == 0; }

static void sparse_seeds(void) {
    int (*const keep[3])(int64_t, int64_t, int64_t) = {keep_csr, keep_bitmask, keep_block};
    const char *const names[3] = {"sparse_csr.shrk", "sparse_bitmask.shrk", "sparse_block.shrk"};
    for (int k = 0; k < 3; k++) {
        shr_graph *g = NULL;
        if (shr_arch_parse(specs[1], 1, 8, 8, 4, 7, &g) != SHR_OK) die("sparse seed");
        int big = -1;
        for (int v = 0; v < g->n_values; v++)
            if (g->values[v].kind == SHR_VALUE_PARAM && g->values[v].ndim == 2 &&
                (big < 0 || g->values[v].data->numel > g->values[big].data->numel))
                big = v;
        const shr_tensor *t = g->values[big].data;
        int64_t rows = t->shape[0], cols = t->shape[1];
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++)
                if (!keep[k](r, c, cols)) shr_f32(t)[r * cols + c] = 0.0f;
        void *buf = NULL;
        size_t size = 0;
        if (shr_model_to_memory(g, &buf, &size) != SHR_OK) die("save sparse seed");
        put("shrk", names[k], buf, size);
        free(buf);
        shr_graph_free(g);
    }
}

static void arch_seeds(int argc, char **argv) {
    char name[32];
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        snprintf(name, sizeof name, "spec%zu.txt", i);
        put("arch", name, specs[i], strlen(specs[i]));
    }
    for (int i = 0; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) continue;
        static char text[1 << 16];
        size_t n = fread(text, 1, sizeof text, f);
        fclose(f);
        snprintf(name, sizeof name, "example%d.txt", i);
        put("arch", name, text, n);
    }
}

/* An IDX file of u8 values: magic, big-endian dims, payload. */
static size_t idx_file(uint8_t *out, int ndim, const uint32_t *dims, const uint8_t *payload, size_t n) {
    out[0] = out[1] = 0;
    out[2] = 8;
    out[3] = (uint8_t)ndim;
    size_t at = 4;
    for (int d = 0; d < ndim; d++)
        for (int b = 3; b >= 0; b--) out[at++] = (uint8_t)(dims[d] >> (8 * b));
    memcpy(out + at, payload, n);
    return at + n;
}

static size_t gzip_bytes(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) exit(1);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) exit(1);
    size_t got = z.total_out;
    deflateEnd(&z);
    return got;
}

/* fuzz_idx input: byte 0 even = [0, k lo, k hi, labels(k), images]; odd = [1, images]. */
static void idx_seed(const char *name, int odd, const uint8_t *lbl, size_t nl, const uint8_t *img, size_t ni) {
    static uint8_t buf[1 << 16];
    size_t at = 0;
    if (odd) buf[at++] = 1;
    else {
        buf[at++] = 0;
        buf[at++] = (uint8_t)nl;
        buf[at++] = (uint8_t)(nl >> 8);
        memcpy(buf + at, lbl, nl);
        at += nl;
    }
    memcpy(buf + at, img, ni);
    put("idx", name, buf, at + ni);
}

static void idx_seeds(void) {
    uint8_t px[3 * 4 * 5], lb[3] = {0, 2, 1}, img[256], lbl[64], gimg[512], glbl[256];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 37);
    uint32_t idims[3] = {3, 4, 5}, ldims[1] = {3};
    size_t ni = idx_file(img, 3, idims, px, sizeof px), nl = idx_file(lbl, 1, ldims, lb, sizeof lb);
    idx_seed("plain_split", 0, lbl, nl, img, ni);
    idx_seed("plain_fixed_labels", 1, NULL, 0, img, ni);
    size_t gi = gzip_bytes(img, ni, gimg, sizeof gimg), gl = gzip_bytes(lbl, nl, glbl, sizeof glbl);
    idx_seed("gzip_split", 0, glbl, gl, gimg, gi);
    idx_seed("gzip_fixed_labels", 1, NULL, 0, gimg, gi);
    uint32_t one[3] = {1, 1, 1}, lone[1] = {1};
    uint8_t z = 7;
    ni = idx_file(img, 3, one, &z, 1);
    nl = idx_file(lbl, 1, lone, &z, 1);
    idx_seed("one_pixel", 0, lbl, nl, img, ni);
}

static void csv_seeds(void) {
    static const char *const csv[] = {
        "label,a,b,c\n0,1.5,2,3\n1,-4,5e3,0.25\n2,0,0,0\n",
        "3,1,2\r\n0, 4 ,\t5\r\n\r\n1.0,6,7\r\n",
        "0,1\n",
        "y,x\n9,-1e-3\n999,12345678\n",
    };
    char name[32];
    for (size_t i = 0; i < sizeof csv / sizeof csv[0]; i++) {
        snprintf(name, sizeof name, "seed%zu.csv", i);
        put("csv", name, csv[i], strlen(csv[i]));
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: gen_seeds OUT [arch files...]\n");
        return 2;
    }
    out_dir = argv[1];
    mkdir(out_dir, 0777);
    shrk_seeds();
    sparse_seeds();
    arch_seeds(argc - 2, argv + 2);
    idx_seeds();
    csv_seeds();
    return 0;
}
