/* IDX reader: the real Fashion-MNIST files (when installed), synthetic
 * round trips (plain and gzip), and hostile / broken files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "shrink/data.h"
#include "test.h"

static char tmpdir[4096];

static void make_tmpdir(void) {
    const char *base = getenv("SHR_TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/shr_idx_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(1);
    }
}

static char *path_in(const char *name) {
    static char buf[4200];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* Writes an IDX file `base` (e.g. "train-images-idx3-ubyte") after removing
 * both of its variants. mode 0: plain; 1: gzip-compressed to base.gz;
 * 2: the bytes as they are, to base.gz (for damaged gzip files);
 * 3: plain, keeping base.gz. */
static void put(const char *base, const unsigned char *b, size_t n, int mode) {
    char name[64];
    snprintf(name, sizeof name, "%s.gz", base);
    if (mode != 3) unlink(path_in(name));
    unlink(path_in(base));
    const char *p = path_in(mode == 1 || mode == 2 ? name : base);
    if (mode == 1) {
        gzFile g = gzopen(p, "wb");
        CHECK(g != NULL);
        if (!g) return;
        if (n) CHECK(gzwrite(g, b, (unsigned)n) == (int)n);
        CHECK(gzclose(g) == Z_OK);
    } else {
        FILE *f = fopen(p, "wb");
        CHECK(f != NULL);
        if (!f) return;
        if (n) CHECK(fwrite(b, 1, n, f) == n);
        fclose(f);
    }
}

static unsigned char *read_all(const char *name, size_t *n) {
    FILE *f = fopen(path_in(name), "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

/* Builds an IDX file image: magic {0,0,dtype,ndim}, dims, payload, extra bytes. */
static unsigned char *idx_bytes(int dtype, int ndim, const uint32_t *dims, const unsigned char *payload,
                                size_t payload_len, size_t extra, size_t *len) {
    *len = 4 + 4 * (size_t)ndim + payload_len + extra;
    unsigned char *b = calloc(*len, 1);
    b[2] = (unsigned char)dtype;
    b[3] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++) {
        b[4 + 4 * i] = (unsigned char)(dims[i] >> 24);
        b[5 + 4 * i] = (unsigned char)(dims[i] >> 16);
        b[6 + 4 * i] = (unsigned char)(dims[i] >> 8);
        b[7 + 4 * i] = (unsigned char)dims[i];
    }
    if (payload_len) memcpy(b + 4 + 4 * ndim, payload, payload_len);
    for (size_t i = 0; i < extra; i++) b[4 + 4 * ndim + payload_len + i] = (unsigned char)(0xA5 ^ i);
    return b;
}

static void remove_all(void) {
    const char *names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte"};
    for (int i = 0; i < 4; i++) {
        char n[64];
        unlink(path_in(names[i]));
        snprintf(n, sizeof n, "%s.gz", names[i]);
        unlink(path_in(n));
    }
}

/* A small valid set: N samples of HxW, pseudo-random pixels, labels i % 4. */
enum { N = 7, H = 5, W = 6 };
static unsigned char px[N * H * W], lb[N];

static void write_set(const char *prefix, int gz, const uint32_t *img_dims, int img_ndim, const uint32_t *lbl_dims,
                      size_t img_payload, size_t lbl_payload, size_t img_extra) {
    char name[64];
    size_t len;
    uint32_t idims[3] = {N, H, W}, ldims[1] = {N};
    unsigned char *b = idx_bytes(8, img_ndim, img_dims ? img_dims : idims, px, img_payload, img_extra, &len);
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    put(name, b, len, gz);
    free(b);
    b = idx_bytes(8, 1, lbl_dims ? lbl_dims : ldims, lb, lbl_payload, 0, &len);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    put(name, b, len, gz);
    free(b);
}

static void write_good(const char *prefix, int gz) { write_set(prefix, gz, NULL, 3, NULL, sizeof px, N, 0); }

static void check_matches_synthetic(const shr_dataset *d, int64_t n) {
    CHECK(d->n == n && d->c == 1 && d->h == H && d->w == W && d->sample_size == H * W);
    CHECK(d->raw_max == 255.0f);
    int ok = 1, maxl = 0;
    for (int64_t i = 0; i < n * H * W; i++) ok &= d->x[i] == (float)px[i];
    for (int64_t i = 0; i < n; i++) {
        ok &= d->y[i] == lb[i];
        if (lb[i] > maxl) maxl = lb[i];
    }
    CHECK(ok);
    CHECK(d->n_classes == maxl + 1);
}

static void expect_fail(shr_split split, int64_t limit, shr_status want, const char *needle) {
    shr_dataset *d = (shr_dataset *)1;
    shr_clear_error();
    CHECK_STATUS(shr_dataset_load(tmpdir, split, limit, &d), want);
    CHECK(d == NULL);
    CHECK(shr_last_error()[0] != '\0');
    if (needle) CHECK_MSG(strstr(shr_last_error(), needle) != NULL, "'%s' not in '%s'", needle, shr_last_error());
    shr_dataset_free(d == (shr_dataset *)1 ? NULL : d);
}

static void test_real_fashion_mnist(void) {
    struct stat sb;
    if (stat(SHR_FASHION_MNIST_DIR, &sb) != 0) {
        fprintf(stderr, "note: %s not installed; skipping the real-data checks\n", SHR_FASHION_MNIST_DIR);
        return;
    }
    shr_dataset *te = NULL, *tr = NULL, *lim = NULL;
    CHECK_OK(shr_dataset_load("fashion-mnist", SHR_SPLIT_TEST, 0, &te));
    CHECK_OK(shr_dataset_load("fashion-mnist", SHR_SPLIT_TRAIN, 0, &tr));
    CHECK_OK(shr_dataset_load(SHR_FASHION_MNIST_DIR, SHR_SPLIT_TRAIN, 300, &lim));
    if (!te || !tr || !lim) goto done;
    CHECK(te->n == 10000 && tr->n == 60000 && lim->n == 300);
    CHECK(te->c == 1 && te->h == 28 && te->w == 28 && te->sample_size == 784);
    CHECK(tr->n_classes == 10 && te->n_classes == 10 && te->raw_max == 255.0f);
    /* Fashion-MNIST is balanced: 1000 per class in t10k, 6000 in train. */
    int64_t cte[10] = {0}, ctr[10] = {0};
    int range_ok = 1;
    for (int64_t i = 0; i < te->n; i++) {
        range_ok &= te->y[i] >= 0 && te->y[i] < 10;
        if (te->y[i] >= 0 && te->y[i] < 10) cte[te->y[i]]++;
    }
    for (int64_t i = 0; i < tr->n; i++) {
        range_ok &= tr->y[i] >= 0 && tr->y[i] < 10;
        if (tr->y[i] >= 0 && tr->y[i] < 10) ctr[tr->y[i]]++;
    }
    CHECK(range_ok);
    for (int k = 0; k < 10; k++) CHECK(cte[k] == 1000 && ctr[k] == 6000);
    int px_ok = 1;
    int64_t nonzero = 0;
    for (int64_t i = 0; i < te->n * 784; i++) {
        float v = te->x[i];
        px_ok &= v >= 0.0f && v <= 255.0f && v == (float)(int)v;
        nonzero += v != 0.0f;
    }
    CHECK(px_ok);
    CHECK(nonzero > te->n * 100 && nonzero < te->n * 700);
    /* limit keeps exactly the first samples */
    CHECK(memcmp(lim->x, tr->x, 300 * 784 * sizeof(float)) == 0);
    CHECK(memcmp(lim->y, tr->y, 300 * sizeof(int32_t)) == 0);
    shr_dataset_free(lim);
    lim = NULL;
    CHECK_OK(shr_dataset_load("fashion-mnist", SHR_SPLIT_TEST, 20000, &lim)); /* limit above n */
    if (lim) CHECK(lim->n == 10000);
done:
    shr_dataset_free(te);
    shr_dataset_free(tr);
    shr_dataset_free(lim);
}

static void test_roundtrip(void) {
    remove_all();
    write_good("train", 0);
    write_good("t10k", 1);
    shr_dataset *d = NULL;
    CHECK_OK(shr_dataset_load(tmpdir, SHR_SPLIT_TRAIN, 0, &d));
    if (d) check_matches_synthetic(d, N);
    shr_dataset_free(d);
    d = NULL;
    CHECK_OK(shr_dataset_load(tmpdir, SHR_SPLIT_TEST, 0, &d));
    if (d) check_matches_synthetic(d, N);
    shr_dataset_free(d);
    d = NULL;
    CHECK_OK(shr_dataset_load(tmpdir, SHR_SPLIT_TEST, 3, &d));
    if (d) check_matches_synthetic(d, 3);
    shr_dataset_free(d);
    /* plain and .gz side by side: either is read, with the same result */
    write_good("train", 1);
    write_good("train", 3);
    d = NULL;
    CHECK_OK(shr_dataset_load(tmpdir, SHR_SPLIT_TRAIN, 0, &d));
    if (d) check_matches_synthetic(d, N);
    shr_dataset_free(d);
}

static void test_missing(void) {
    shr_dataset *d = (shr_dataset *)1;
    char missing[4300];
    snprintf(missing, sizeof missing, "%s/no_such_folder", tmpdir);
    CHECK_STATUS(shr_dataset_load(missing, SHR_SPLIT_TRAIN, 0, &d), SHR_ERR_IO);
    CHECK(d == NULL);
    CHECK(strstr(shr_last_error(), missing) != NULL && strstr(shr_last_error(), "not found") != NULL);
    CHECK(strstr(shr_last_error(), "dataset-fashion-mnist") != NULL);
    CHECK_STATUS(shr_dataset_load(NULL, SHR_SPLIT_TRAIN, 0, &d), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_dataset_load(tmpdir, SHR_SPLIT_TRAIN, -1, &d), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_dataset_load(tmpdir, (shr_split)7, 0, &d), SHR_ERR_INVALID_ARG);
    remove_all();
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_IO, "train-images-idx3-ubyte");
    write_good("train", 0);
    unlink(path_in("train-labels-idx1-ubyte"));
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_IO, "train-labels-idx1-ubyte");
    expect_fail(SHR_SPLIT_TEST, 0, SHR_ERR_IO, "t10k-images-idx3-ubyte");
}

static void test_bad_headers(void) {
    size_t len;
    unsigned char *b;
    uint32_t d3[3] = {N, H, W};
    remove_all();
    write_good("train", 0);
    /* empty file, header cut short */
    put("train-images-idx3-ubyte", (const unsigned char *)"", 0, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "truncated");
    put("train-images-idx3-ubyte", (const unsigned char *)"\0\0\x08\x03\0\0", 6, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "truncated");
    /* wrong magic (e.g. a PNG) */
    b = idx_bytes(8, 3, d3, px, sizeof px, 0, &len);
    b[0] = 0x89;
    b[1] = 'P';
    put("train-images-idx3-ubyte", b, len, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "not an IDX file");
    free(b);
    /* f32 images: valid IDX, not supported; an unknown dtype byte: malformed */
    b = idx_bytes(0x0D, 3, d3, px, sizeof px, 0, &len);
    put("train-images-idx3-ubyte", b, len, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_UNSUPPORTED, "f32");
    free(b);
    b = idx_bytes(0x42, 3, d3, px, sizeof px, 0, &len);
    put("train-images-idx3-ubyte", b, len, 1);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "0x42");
    free(b);
    /* wrong number of dims: images with 2 or 4, labels with 3, 255 */
    uint32_t d2[2] = {N, H * W}, d4[4] = {N, 1, H, W};
    write_set("train", 0, d2, 2, NULL, sizeof px, N, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "3 dimensions");
    write_set("train", 0, d4, 4, NULL, sizeof px, N, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "3 dimensions");
    write_good("train", 0);
    b = idx_bytes(8, 3, d3, lb, N, 0, &len);
    put("train-labels-idx1-ubyte", b, len, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "1 dimension");
    free(b);
    b = idx_bytes(8, 1, d3, lb, N, 0, &len);
    b[3] = 255;
    put("train-labels-idx1-ubyte", b, len, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "255");
    free(b);
    /* zero, huge and overflowing dims (checked before any allocation) */
    uint32_t zero[3] = {N, 0, W}, many[3] = {100000001u, 1, 1}, side[3] = {1, 70000, 1},
             big[3] = {100000000u, 65535, 65535}, maxed[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu},
             gib[3] = {10000000u, 100, 100};
    uint32_t nmany[1] = {100000001u}, nbig[1] = {100000000u}, nmaxed[1] = {0xFFFFFFFFu}, ngib[1] = {10000000u};
    write_set("train", 0, zero, 3, NULL, sizeof px, N, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "is 0");
    write_set("train", 0, many, 3, nmany, sizeof px, N, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_LIMIT, "limit");
    write_set("train", 0, side, 3, NULL, sizeof px, N, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_LIMIT, "limit");
    write_set("train", 0, big, 3, nbig, sizeof px, N, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_LIMIT, "limit");
    write_set("train", 1, maxed, 3, nmaxed, sizeof px, N, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_LIMIT, "limit");
    write_set("train", 0, gib, 3, ngib, sizeof px, N, 0); /* 1e11 bytes > 2^31 */
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_LIMIT, "limit");
    /* image count != label count */
    uint32_t fewer[1] = {N - 1};
    write_set("train", 0, NULL, 3, fewer, sizeof px, N - 1, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "labels");
}

static void test_bad_payloads(void) {
    remove_all();
    /* plain payload cut short */
    write_set("train", 0, NULL, 3, NULL, sizeof px - 5, N, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "truncated");
    write_set("train", 0, NULL, 3, NULL, sizeof px, N - 2, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "truncated");
    /* a header that claims 1e8 samples (1.6e9 bytes, within limits) over a
     * tiny payload: a short-read error, not a 6 GB allocation */
    uint32_t lie[3] = {100000000u, 4, 4}, nlie[1] = {100000000u};
    write_set("train", 0, lie, 3, nlie, 16, 1, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "truncated");
    write_set("train", 1, lie, 3, nlie, 16, 1, 0);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "truncated");
    /* labels present for the first 7 but pixels for only 1 sample */
    write_set("train", 1, lie, 3, nlie, 16, N, 0);
    expect_fail(SHR_SPLIT_TRAIN, N, SHR_ERR_FORMAT, "pixel data");
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "truncated");
    /* trailing garbage: rejected when the whole file is read, unread with a limit */
    remove_all();
    write_set("train", 0, NULL, 3, NULL, sizeof px, N, 3);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "trailing");
    shr_dataset *d = NULL;
    CHECK_OK(shr_dataset_load(tmpdir, SHR_SPLIT_TRAIN, 4, &d));
    if (d) check_matches_synthetic(d, 4);
    shr_dataset_free(d);
    write_set("train", 1, NULL, 3, NULL, sizeof px, N, 3);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "trailing");

    /* gzip damage: cut inside the deflate data, cut the 8-byte trailer, flip a byte */
    write_good("train", 1);
    size_t len = 0;
    unsigned char *gz = read_all("train-images-idx3-ubyte.gz", &len);
    CHECK(gz != NULL && len > 40);
    if (!gz) return;
    put("train-images-idx3-ubyte", gz, len / 2, 2);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, NULL);
    put("train-images-idx3-ubyte", gz, len - 6, 2);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, NULL);
    unsigned char *bad = malloc(len);
    memcpy(bad, gz, len);
    bad[len - 6] ^= 0xFF; /* inside the CRC32 */
    put("train-images-idx3-ubyte", bad, len, 2);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, "gzip");
    memcpy(bad, gz, len);
    for (size_t i = 12; i < len - 8; i += 3) bad[i] ^= 0x5A; /* mangle the deflate stream */
    put("train-images-idx3-ubyte", bad, len, 2);
    expect_fail(SHR_SPLIT_TRAIN, 0, SHR_ERR_FORMAT, NULL);
    free(bad);
    /* the intact file still loads */
    put("train-images-idx3-ubyte", gz, len, 2);
    d = NULL;
    CHECK_OK(shr_dataset_load(tmpdir, SHR_SPLIT_TRAIN, 0, &d));
    if (d) check_matches_synthetic(d, N);
    shr_dataset_free(d);
    free(gz);
}

int main(void) {
    make_tmpdir();
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof px; i++) {
        s = s * 1103515245u + 12345u;
        px[i] = (unsigned char)(s >> 16);
    }
    for (int i = 0; i < N; i++) lb[i] = (unsigned char)((i * 3) % 5);
    RUN(test_real_fashion_mnist);
    RUN(test_roundtrip);
    RUN(test_missing);
    RUN(test_bad_headers);
    RUN(test_bad_payloads);
    remove_all();
    rmdir(tmpdir);
    return test_summary();
}
