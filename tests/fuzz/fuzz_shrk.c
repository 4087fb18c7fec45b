/* libFuzzer target for the .shrk reader (shr_model_from_memory).
 *
 * Each input is loaded twice: as it is (exercises the header, table and CRC
 * checks) and with its CRCs recomputed, so mutations reach the section parsers
 * instead of dying at a checksum. A model that loads must validate, survive a
 * save / reload round trip byte for byte, and compile and run at batch 2. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_model.h"
#include "io/shrk_format.h"
#include "shrink/io.h"

/* Recomputes the CRC of every in-bounds section and of the header. */
static void fix_crcs(uint8_t *b, size_t size) {
    if (size < SHRK_HEADER_SIZE) return;
    uint32_t n = shrk_get_u32(b + 16);
    if (n > SHRK_MAX_SECTIONS) return;
    for (uint32_t i = 0; i < n && SHRK_HEADER_SIZE + (size_t)(i + 1) * SHRK_ENTRY_SIZE <= size; i++) {
        uint8_t *e = b + SHRK_HEADER_SIZE + (size_t)i * SHRK_ENTRY_SIZE;
        uint64_t off = shrk_get_u64(e + 8), len = shrk_get_u64(e + 16);
        if (off <= size && len <= size - off) shrk_put_u32(e + 24, shrk_crc(0, b + off, (size_t)len));
    }
    if (SHRK_HEADER_SIZE + (size_t)n * SHRK_ENTRY_SIZE <= size)
        shrk_put_u32(b + SHRK_HEADER_CRC_AT, shrk_header_crc(b, n));
}

static void check_loaded(shr_graph *g) {
    FUZZ_REQUIRE(shr_graph_validate(g) == SHR_OK);
    (void)shr_graph_param_count(g);
    (void)shr_graph_nonzero_count(g);
    void *buf = NULL, *buf2 = NULL;
    size_t size = 0, size2 = 0;
    /* What the reader accepts, the writer must write and the reader read back. */
    FUZZ_REQUIRE(shr_model_to_memory(g, &buf, &size) == SHR_OK);
    shr_graph *g2 = NULL;
    FUZZ_REQUIRE(shr_model_from_memory(buf, size, &g2) == SHR_OK);
    FUZZ_REQUIRE(shr_model_to_memory(g2, &buf2, &size2) == SHR_OK);
    FUZZ_REQUIRE(size == size2 && memcmp(buf, buf2, size) == 0);
    free(buf);
    free(buf2);
    shr_graph_free(g2);
    fuzz_run_model(g);
}

static void load(const uint8_t *data, size_t size) {
    shr_graph *g = NULL;
    shr_clear_error();
    fuzz_mem_begin();
    shr_status st = shr_model_from_memory(data, size, &g);
    /* Tables and tensors are bounded by the bytes that describe them. */
    fuzz_mem_end(size, 8, 1 << 20);
    fuzz_check_status(st);
    if (st != SHR_OK) {
        FUZZ_REQUIRE(g == NULL);
        return;
    }
    check_loaded(g);
    shr_graph_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A copy of exactly `size` bytes, so ASan catches reads past the end. */
    uint8_t *b = malloc(size ? size : 1);
    FUZZ_REQUIRE(b != NULL);
    if (size) memcpy(b, data, size);
    load(b, size);
    fix_crcs(b, size);
    if (size && memcmp(b, data, size) != 0) load(b, size);
    free(b);
    return 0;
}
