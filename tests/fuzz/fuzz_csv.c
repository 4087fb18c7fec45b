/* libFuzzer target for the CSV dataset reader: the input is written to a .csv
 * file in a per-process scratch folder and loaded whole and with a limit. */
#include <math.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "shrink/data.h"

/* A loaded dataset must be what data.h promises. */
static void check_dataset(const shr_dataset *d, int64_t limit) {
    FUZZ_REQUIRE(d->n >= 1 && (limit == 0 || d->n <= limit));
    FUZZ_REQUIRE(d->c == 1 && d->h == 1 && d->w >= 1 && d->sample_size == d->w);
    FUZZ_REQUIRE(d->n_classes >= 1 && d->n_classes <= 1000);
    for (int64_t i = 0; i < d->n; i++) FUZZ_REQUIRE(d->y[i] >= 0 && d->y[i] < d->n_classes);
    for (int64_t i = 0; i < d->n * d->sample_size; i++)
        FUZZ_REQUIRE(isfinite(d->x[i]) && fabsf(d->x[i]) <= d->raw_max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[400];
    snprintf(path, sizeof path, "%s/data.csv", fuzz_tmpdir());
    fuzz_write(path, data, size);
    const int64_t limits[2] = {0, 3};
    for (int i = 0; i < 2; i++) {
        shr_dataset *d = NULL;
        shr_clear_error();
        fuzz_mem_begin();
        shr_status st = shr_dataset_load(path, SHR_SPLIT_TRAIN, limits[i], &d);
        /* 4-byte floats per 2-byte field "0,", the field table, the line buffer. */
        fuzz_mem_end(size, 16, 1 << 20);
        fuzz_check_status(st);
        if (st == SHR_OK) check_dataset(d, limits[i]);
        else FUZZ_REQUIRE(d == NULL);
        shr_dataset_free(d);
    }
    return 0;
}
