/* CSV reader: headers, blank lines, CRLF, limits, and malformed files. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shrink/data.h"
#include "test.h"

static char tmpdir[4096];
static char csv_path[4200];

static void make_tmpdir(void) {
    const char *base = getenv("SHR_TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/shr_csv_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(csv_path, sizeof csv_path, "%s/data.csv", tmpdir);
}

static void write_csv(const char *text, size_t len) {
    FILE *f = fopen(csv_path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    if (len) CHECK(fwrite(text, 1, len, f) == len);
    fclose(f);
}

static shr_dataset *load_ok(const char *text, int64_t limit) {
    write_csv(text, strlen(text));
    shr_dataset *d = NULL;
    CHECK_OK(shr_dataset_load(csv_path, SHR_SPLIT_TRAIN, limit, &d));
    return d;
}

static void expect_fail_len(const char *text, size_t len, shr_status want, const char *needle) {
    write_csv(text, len);
    shr_dataset *d = (shr_dataset *)1;
    shr_clear_error();
    CHECK_STATUS(shr_dataset_load(csv_path, SHR_SPLIT_TRAIN, 0, &d), want);
    CHECK(d == NULL);
    CHECK(shr_last_error()[0] != '\0');
    if (needle) CHECK_MSG(strstr(shr_last_error(), needle) != NULL, "'%s' not in '%s'", needle, shr_last_error());
    if (d != (shr_dataset *)1) shr_dataset_free(d);
}

static void expect_fail(const char *text, shr_status want, const char *needle) {
    expect_fail_len(text, strlen(text), want, needle);
}

static void test_basic(void) {
    shr_dataset *d = load_ok("label,a,b,c\n2,1.5,-3,0\n0, 4 ,5e1,\t-0.25\n\n7,0,0,1\n", 0);
    if (d) {
        CHECK(d->n == 3 && d->c == 1 && d->h == 1 && d->w == 3 && d->sample_size == 3);
        CHECK(d->y[0] == 2 && d->y[1] == 0 && d->y[2] == 7);
        CHECK(d->n_classes == 8);
        const float want[9] = {1.5f, -3, 0, 4, 50, -0.25f, 0, 0, 1};
        int ok = 1;
        for (int i = 0; i < 9; i++) ok &= d->x[i] == want[i];
        CHECK(ok);
        CHECK(d->raw_max == 50.0f);
    }
    shr_dataset_free(d);
    /* no header, CRLF line ends, no final newline, whole-number label "1.0" */
    d = load_ok("1.0,0.5\r\n0,-2\r\n3,1", 0);
    if (d) {
        CHECK(d->n == 3 && d->w == 1 && d->n_classes == 4);
        CHECK(d->y[0] == 1 && d->x[0] == 0.5f && d->x[1] == -2.0f && d->raw_max == 2.0f);
    }
    shr_dataset_free(d);
    /* limit keeps the first samples; the test split reads the same file */
    d = load_ok("h,x\n1,10\n2,20\n3,30\n4,40\n", 2);
    if (d) CHECK(d->n == 2 && d->x[1] == 20.0f && d->n_classes == 3);
    shr_dataset_free(d);
    d = NULL;
    CHECK_OK(shr_dataset_load(csv_path, SHR_SPLIT_TEST, 0, &d));
    if (d) CHECK(d->n == 4 && d->x[3] == 40.0f);
    shr_dataset_free(d);
    /* a big regular file: 2000 rows x 50 features */
    size_t cap = 2000 * 50 * 8 + 4096, len = 0;
    char *big = malloc(cap);
    for (int i = 0; i < 2000; i++) {
        len += (size_t)snprintf(big + len, cap - len, "%d", i % 10);
        for (int j = 0; j < 50; j++) len += (size_t)snprintf(big + len, cap - len, ",%d", (i * 50 + j) % 997);
        big[len++] = '\n';
    }
    big[len] = '\0';
    d = load_ok(big, 0);
    if (d) {
        CHECK(d->n == 2000 && d->w == 50 && d->n_classes == 10);
        int ok = 1;
        for (int64_t k = 0; k < 2000 * 50; k++) ok &= d->x[k] == (float)(k % 997);
        CHECK(ok);
    }
    shr_dataset_free(d);
    free(big);
}

static void test_malformed(void) {
    expect_fail("", SHR_ERR_FORMAT, "no samples");
    expect_fail("\n\n  \n", SHR_ERR_FORMAT, "no samples");
    expect_fail("label,a,b\n", SHR_ERR_FORMAT, "no samples");
    expect_fail("1,2,3\n0,1\n", SHR_ERR_FORMAT, ":2:");
    expect_fail("1,2,3\n0,1,2,3\n", SHR_ERR_FORMAT, "fields");
    expect_fail("label,a,b\n1,2,3\n1,2,3,4,5,6\n", SHR_ERR_FORMAT, ":3:");
    expect_fail("1,2,abc\n", SHR_ERR_FORMAT, "not a number");
    expect_fail("1,2,3\n1,1.2.3,3\n", SHR_ERR_FORMAT, "not a number");
    expect_fail("1,2,\"3\"\n", SHR_ERR_FORMAT, "not a number");
    expect_fail("1,2,,3\n", SHR_ERR_FORMAT, "empty");
    expect_fail("1,2,nan\n", SHR_ERR_FORMAT, "finite");
    expect_fail("1,inf,2\n", SHR_ERR_FORMAT, "finite");
    expect_fail("1,-Infinity,2\n", SHR_ERR_FORMAT, "finite");
    expect_fail("1,1e999,2\n", SHR_ERR_FORMAT, "finite");
    expect_fail("1,1e39,2\n", SHR_ERR_FORMAT, "finite"); /* beyond float */
    expect_fail("-1,2,3\n", SHR_ERR_FORMAT, "negative");
    expect_fail("0,1\n1.5,2\n", SHR_ERR_FORMAT, "whole");
    expect_fail("0,1\nnan,2\n", SHR_ERR_FORMAT, "whole");
    expect_fail("0,1\nx,2\n", SHR_ERR_FORMAT, "not a number");
    expect_fail("1000,2\n", SHR_ERR_LIMIT, "1000");
    expect_fail("1e12,2\n", SHR_ERR_LIMIT, "classes");
    expect_fail("3\n", SHR_ERR_FORMAT, "feature");
    expect_fail_len("1,2\n0,3\0,4\n", 11, SHR_ERR_FORMAT, "NUL");
    /* one extremely long line */
    size_t n = 5u << 20;
    char *line = malloc(n + 2);
    line[0] = '1';
    for (size_t i = 1; i < n; i += 2) {
        line[i] = ',';
        line[i + 1] = '7';
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    expect_fail(line, SHR_ERR_LIMIT, "line");
    /* ... and a long run of garbage without any newline */
    memset(line, 'z', n);
    expect_fail(line, SHR_ERR_LIMIT, "line");
    free(line);
    /* binary junk */
    unsigned char junk[512];
    uint32_t s = 7;
    for (size_t i = 0; i < sizeof junk; i++) {
        s = s * 1664525u + 1013904223u;
        junk[i] = (unsigned char)((s >> 24) | 1); /* no NUL bytes: must still fail cleanly */
    }
    write_csv((const char *)junk, sizeof junk);
    shr_dataset *d = NULL;
    CHECK(shr_dataset_load(csv_path, SHR_SPLIT_TRAIN, 0, &d) != SHR_OK);
    CHECK(d == NULL && shr_last_error()[0] != '\0');
}

static void test_paths(void) {
    shr_dataset *d = (shr_dataset *)1;
    char missing[4300];
    snprintf(missing, sizeof missing, "%s/missing.csv", tmpdir);
    CHECK_STATUS(shr_dataset_load(missing, SHR_SPLIT_TRAIN, 0, &d), SHR_ERR_IO);
    CHECK(d == NULL);
    CHECK(strstr(shr_last_error(), missing) != NULL && strstr(shr_last_error(), "not found") != NULL);
    /* an existing file that is neither a folder nor .csv */
    char other[4300];
    snprintf(other, sizeof other, "%s/data.txt", tmpdir);
    FILE *f = fopen(other, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("1,2\n", f);
        fclose(f);
    }
    CHECK_STATUS(shr_dataset_load(other, SHR_SPLIT_TRAIN, 0, &d), SHR_ERR_INVALID_ARG);
    CHECK(strstr(shr_last_error(), other) != NULL);
    unlink(other);
}

int main(void) {
    make_tmpdir();
    RUN(test_basic);
    RUN(test_malformed);
    RUN(test_paths);
    unlink(csv_path);
    rmdir(tmpdir);
    return test_summary();
}
