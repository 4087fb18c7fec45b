/* libFuzzer target for the IDX dataset reader. The input becomes the files
 * train-images-idx3-ubyte and train-labels-idx1-ubyte in a per-process scratch
 * folder (gzip or plain: the reader sniffs the content), then the folder is
 * loaded whole and with a limit.
 *
 * Byte 0 picks how the input is split:
 *   even: bytes 1..2 (u16 LE) are a split point k; the labels file is the next
 *         k bytes, the images file the rest (both fully fuzzed);
 *   odd:  the images file is bytes 1..; the labels file is a valid IDX1 file
 *         whose count is the images header's count (when readable and small),
 *         so mutations of the images file get past the label checks. */
#include <stdint.h>

#include "fuzz_common.h"
#include "shrink/data.h"

static void check_dataset(const shr_dataset *d, int64_t limit) {
    FUZZ_REQUIRE(d->n >= 1 && (limit == 0 || d->n <= limit));
    FUZZ_REQUIRE(d->c == 1 && d->h >= 1 && d->w >= 1 && d->sample_size == (int64_t)d->h * d->w);
    FUZZ_REQUIRE(d->n_classes >= 1 && d->n_classes <= 256);
    for (int64_t i = 0; i < d->n; i++) FUZZ_REQUIRE(d->y[i] >= 0 && d->y[i] < d->n_classes);
    for (int64_t i = 0; i < d->n * d->sample_size; i++) FUZZ_REQUIRE(d->x[i] >= 0.0f && d->x[i] <= 255.0f);
}

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    const char *dir = fuzz_tmpdir();
    char img[400], lbl[400];
    snprintf(img, sizeof img, "%s/train-images-idx3-ubyte", dir);
    snprintf(lbl, sizeof lbl, "%s/train-labels-idx1-ubyte", dir);
    if ((data[0] & 1) == 0) {
        size_t k = (size_t)data[1] | (size_t)data[2] << 8;
        if (k > size - 3) k = size - 3;
        fuzz_write(lbl, data + 3, k);
        fuzz_write(img, data + 3 + k, size - 3 - k);
    } else {
        const uint8_t *im = data + 1;
        size_t n_im = size - 1;
        uint32_t count = n_im >= 8 ? be32(im + 4) : 1;
        if (count == 0 || count > 4096) count = 1;
        static uint8_t labels[8 + 4096];
        labels[0] = labels[1] = 0;
        labels[2] = 8;
        labels[3] = 1;
        for (int i = 0; i < 4; i++) labels[4 + i] = (uint8_t)(count >> (24 - 8 * i));
        for (uint32_t i = 0; i < count; i++) labels[8 + i] = (uint8_t)(i % 10);
        fuzz_write(lbl, labels, 8 + (size_t)count);
        fuzz_write(img, im, n_im);
    }
    /* Plain files: at most a small multiple of their bytes may be allocated
     * (floats are 4 bytes per u8, buffers double). Gzip expands, so unchecked. */
    uint8_t head[2][2] = {{0}};
    FILE *f;
    for (int i = 0; i < 2; i++)
        if ((f = fopen(i ? img : lbl, "rb")) != NULL) {
            if (fread(head[i], 1, 2, f) != 2) head[i][0] = 0;
            fclose(f);
        }
    int gz = (head[0][0] == 0x1f && head[0][1] == 0x8b) || (head[1][0] == 0x1f && head[1][1] == 0x8b);
    const int64_t limits[2] = {0, 2};
    for (int i = 0; i < 2; i++) {
        shr_dataset *d = NULL;
        shr_clear_error();
        fuzz_mem_begin();
        shr_status st = shr_dataset_load(dir, SHR_SPLIT_TRAIN, limits[i], &d);
        fuzz_mem_end(gz ? (size_t)1 << 40 : size + 4096, 8, 2 << 20); /* + the fixed labels file */
        fuzz_check_status(st);
        if (st == SHR_OK) check_dataset(d, limits[i]);
        else FUZZ_REQUIRE(d == NULL);
        shr_dataset_free(d);
    }
    return 0;
}
