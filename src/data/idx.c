/* IDX reader (the MNIST / Fashion-MNIST format), gzip-compressed or plain:
 * zlib's gzread reads both (plain files pass through unchanged).
 *
 * File layout: magic {0, 0, dtype, ndim}, then ndim big-endian u32 dims, then
 * the payload in row-major order. Only dtype 0x08 (u8) is accepted: images are
 * (count, rows, cols), labels are (count).
 *
 * The header is not trusted: its sizes are checked against limits before
 * anything is allocated, and buffers grow only as payload bytes actually
 * arrive, so a lying header costs at most the data really present. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/checked.h"
#include "core/error.h"
#include "data/data_internal.h"

#define IDX_CHUNK (64 * 1024)

typedef struct idx_file {
    gzFile gz;
    const char *path;
    int ndim;
    uint32_t dims[3];
} idx_file;

/* Names the gzip/IO failure behind a short read. */
static shr_status idx_read_error(idx_file *f, const char *what, int64_t want, int64_t got) {
    int err = Z_OK;
    const char *msg = gzerror(f->gz, &err);
    if (err == Z_ERRNO)
        return shr_fail(SHR_ERR_IO, "%s: read error in %s: %s", f->path, what, strerror(errno));
    if (err != Z_OK && err != Z_BUF_ERROR)
        return shr_fail(SHR_ERR_FORMAT, "%s: corrupt gzip data in %s: %s", f->path, what, msg ? msg : "?");
    return shr_fail(SHR_ERR_FORMAT, "%s: truncated: %s needs %lld bytes but only %lld are there", f->path, what,
                    (long long)want, (long long)got);
}

/* Reads exactly n (<= IDX_CHUNK) bytes. */
static shr_status idx_read_exact(idx_file *f, void *buf, unsigned n, const char *what, int64_t done,
                                 int64_t total) {
    unsigned got = 0;
    while (got < n) {
        int r = gzread(f->gz, (unsigned char *)buf + got, n - got);
        if (r <= 0) return idx_read_error(f, what, total, done + got);
        got += (unsigned)r;
    }
    return SHR_OK;
}

static uint32_t be32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static const char *idx_dtype_name(int t) {
    switch (t) {
    case 0x09: return "i8";
    case 0x0B: return "i16";
    case 0x0C: return "i32";
    case 0x0D: return "f32";
    case 0x0E: return "f64";
    }
    return NULL;
}

static shr_status idx_open(idx_file *f, const char *path, int want_ndim, const char *kind) {
    memset(f, 0, sizeof *f);
    f->path = path;
    errno = 0;
    f->gz = gzopen(path, "rb");
    if (!f->gz) return shr_fail(SHR_ERR_IO, "cannot open %s: %s", path, errno ? strerror(errno) : "out of memory");
    gzbuffer(f->gz, 128 * 1024);
    unsigned char hdr[4 + 4 * 3];
    SHR_TRY(idx_read_exact(f, hdr, 4, "the IDX header", 0, 4));
    if (hdr[0] != 0 || hdr[1] != 0)
        return shr_fail(SHR_ERR_FORMAT, "%s is not an IDX file (magic bytes %02x %02x %02x %02x, want 00 00 08 0%d)",
                        path, hdr[0], hdr[1], hdr[2], hdr[3], want_ndim);
    if (hdr[2] != 0x08) {
        const char *name = idx_dtype_name(hdr[2]);
        if (name)
            return shr_fail(SHR_ERR_UNSUPPORTED, "%s: IDX element type %s (0x%02x) is not supported, only u8 (0x08)",
                            path, name, hdr[2]);
        return shr_fail(SHR_ERR_FORMAT, "%s: unknown IDX element type byte 0x%02x (want 0x08 for u8)", path, hdr[2]);
    }
    if (hdr[3] != want_ndim)
        return shr_fail(SHR_ERR_FORMAT, "%s: IDX %s must have %d dimension%s, the header says %d", path, kind,
                        want_ndim, want_ndim == 1 ? "" : "s", hdr[3]);
    f->ndim = want_ndim;
    SHR_TRY(idx_read_exact(f, hdr + 4, (unsigned)(4 * want_ndim), "the IDX header", 4, 4 + 4 * want_ndim));
    for (int i = 0; i < want_ndim; i++) {
        f->dims[i] = be32(hdr + 4 + 4 * i);
        if (f->dims[i] == 0) return shr_fail(SHR_ERR_FORMAT, "%s: IDX dimension %d is 0", path, i);
    }
    if (f->dims[0] > SHR_DATA_MAX_SAMPLES)
        return shr_fail(SHR_ERR_LIMIT, "%s: %u samples exceed the limit of %lld", path, f->dims[0],
                        (long long)SHR_DATA_MAX_SAMPLES);
    for (int i = 1; i < want_ndim; i++)
        if (f->dims[i] > SHR_DATA_MAX_SIDE)
            return shr_fail(SHR_ERR_LIMIT, "%s: image side %u exceeds the limit of %d", path, f->dims[i],
                            SHR_DATA_MAX_SIDE);
    int64_t total = 1;
    for (int i = 0; i < want_ndim; i++)
        if (shr_mul_overflow_i64(total, (int64_t)f->dims[i], &total) || total > SHR_DATA_MAX_VALUES)
            return shr_fail(SHR_ERR_LIMIT, "%s: IDX payload %u x %u x %u exceeds the limit of %lld bytes", path,
                            f->dims[0], want_ndim > 1 ? f->dims[1] : 1, want_ndim > 2 ? f->dims[2] : 1,
                            (long long)SHR_DATA_MAX_VALUES);
    return SHR_OK;
}

static void idx_close(idx_file *f) {
    if (f->gz) gzclose(f->gz);
    f->gz = NULL;
}

/* Reads `count` u8 values, widening each to a float (as_float) or an int32
 * into a malloc'd array (*out). The array grows as bytes arrive. */
static shr_status idx_read_payload(idx_file *f, int64_t count, int as_float, const char *what, void **out) {
    *out = NULL;
    unsigned char *chunk = malloc(IDX_CHUNK);
    int64_t cap = count < IDX_CHUNK ? count : IDX_CHUNK; /* the header's count is only a claim */
    void *buf = malloc((size_t)cap * 4);
    if (!chunk || !buf) {
        free(chunk);
        free(buf);
        return shr_fail(SHR_ERR_NOMEM, "%s: out of memory reading %s", f->path, what);
    }
    shr_status st = SHR_OK;
    int64_t done = 0;
    while (done < count) {
        int64_t n = count - done < IDX_CHUNK ? count - done : IDX_CHUNK;
        if (done + n > cap) {
            int64_t ncap = cap * 2 < count ? cap * 2 : count;
            void *nb = realloc(buf, (size_t)ncap * 4);
            if (!nb) {
                st = shr_fail(SHR_ERR_NOMEM, "%s: out of memory reading %s (%lld values)", f->path, what,
                              (long long)count);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        st = idx_read_exact(f, chunk, (unsigned)n, what, done, count);
        if (st != SHR_OK) break;
        if (as_float) {
            float *dst = (float *)buf + done;
            for (int64_t i = 0; i < n; i++) dst[i] = (float)chunk[i];
        } else {
            int32_t *dst = (int32_t *)buf + done;
            for (int64_t i = 0; i < n; i++) dst[i] = (int32_t)chunk[i];
        }
        done += n;
    }
    free(chunk);
    if (st != SHR_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    return SHR_OK;
}

/* Trailing bytes after the declared payload are rejected: they mean the header
 * does not describe the file (wrong dims, two files glued together). Reading
 * to the end also makes zlib verify the gzip CRC. Only checked when the whole
 * file is read; with a `limit` the rest of the file is never looked at.
 * (Junk after the end of a gzip stream, outside the compressed data, is
 * skipped by zlib itself.) */
static shr_status idx_check_end(idx_file *f, int64_t payload) {
    unsigned char b;
    int r = gzread(f->gz, &b, 1);
    if (r == 1)
        return shr_fail(SHR_ERR_FORMAT, "%s: trailing data after the %lld payload bytes the IDX header declares",
                        f->path, (long long)payload);
    int err = Z_OK;
    const char *msg = gzerror(f->gz, &err);
    if (err == Z_ERRNO) return shr_fail(SHR_ERR_IO, "%s: read error: %s", f->path, strerror(errno));
    if (err == Z_BUF_ERROR) return shr_fail(SHR_ERR_FORMAT, "%s: truncated gzip stream (no end marker)", f->path);
    if (err != Z_OK) return shr_fail(SHR_ERR_FORMAT, "%s: corrupt gzip data: %s", f->path, msg ? msg : "?");
    return SHR_OK;
}

/* Finds dir/name or dir/name.gz (plain first); *out is malloc'd. */
static shr_status idx_find(const char *dir, const char *name, char **out) {
    *out = NULL;
    size_t len = strlen(dir) + strlen(name) + 8;
    char *p = malloc(len);
    if (!p) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    struct stat st;
    const char *ext[2] = {"", ".gz"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, len, "%s/%s%s", dir, name, ext[i]);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            *out = p;
            return SHR_OK;
        }
    }
    free(p);
    return shr_fail(SHR_ERR_IO, "dataset file %s/%s[.gz] not found", dir, name);
}

shr_status shr_idx_load_dir(const char *dir, shr_split split, int64_t limit, shr_dataset **out) {
    const char *prefix = split == SHR_SPLIT_TEST ? "t10k" : "train";
    char name[64];
    char *img_path = NULL, *lbl_path = NULL;
    idx_file img = {0}, lbl = {0};
    float *x = NULL;
    int32_t *y = NULL;
    shr_status st;

    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    st = idx_find(dir, name, &img_path);
    if (st == SHR_OK) {
        snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
        st = idx_find(dir, name, &lbl_path);
    }
    if (st == SHR_OK) st = idx_open(&img, img_path, 3, "images");
    if (st == SHR_OK) st = idx_open(&lbl, lbl_path, 1, "labels");
    if (st == SHR_OK && img.dims[0] != lbl.dims[0])
        st = shr_fail(SHR_ERR_FORMAT, "%s holds %u images but %s holds %u labels", img_path, img.dims[0], lbl_path,
                      lbl.dims[0]);
    /* Past idx_open the dims are within the limits, so these cannot overflow. */
    int64_t n = 0, per = 0;
    if (st == SHR_OK) {
        n = img.dims[0];
        if (limit > 0 && limit < n) n = limit;
        per = (int64_t)img.dims[1] * img.dims[2];
    }
    if (st == SHR_OK) st = idx_read_payload(&lbl, n, 0, "the label data", (void **)&y);
    if (st == SHR_OK) st = idx_read_payload(&img, n * per, 1, "the pixel data", (void **)&x);
    if (st == SHR_OK && n == (int64_t)img.dims[0]) {
        st = idx_check_end(&lbl, n);
        if (st == SHR_OK) st = idx_check_end(&img, n * per);
    }
    idx_close(&img);
    idx_close(&lbl);
    if (st == SHR_OK) {
        st = shr_dataset_wrap(img_path, n, 1, (int)img.dims[1], (int)img.dims[2], x, y, 255.0f, out);
        x = NULL;
        y = NULL;
    }
    free(x);
    free(y);
    free(img_path);
    free(lbl_path);
    return st;
}
