/* libFuzzer target for the --arch-file parser (shr_arch_parse) on a 1x8x8
 * input with 4 classes. A spec that parses must give a valid graph that
 * compiles and runs at batch 2. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_model.h"
#include "shrink/zoo.h"

/* scripts/fuzz.sh lowers the library's limit so that nets at the limit stay fast. */
#ifndef SHR_MAX_PARAMS
#define SHR_MAX_PARAMS (1LL << 28)
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    FUZZ_REQUIRE(text != NULL);
    if (size) memcpy(text, data, size);
    text[size] = '\0';
    shr_graph *g = NULL;
    shr_clear_error();
    fuzz_mem_begin();
    shr_status st = shr_arch_parse(text, 1, 8, 8, 4, 7, &g);
    /* Weights are bounded by the parameter limit, the tables by the text. */
    fuzz_mem_end(size, 1024, 4 * SHR_MAX_PARAMS + (4 << 20));
    fuzz_check_status(st);
    free(text);
    if (st != SHR_OK) return 0;
    FUZZ_REQUIRE(shr_graph_validate(g) == SHR_OK);
    FUZZ_REQUIRE(shr_graph_param_count(g) <= SHR_MAX_PARAMS);
    FUZZ_REQUIRE(g->values[g->output].ndim == 2 && g->values[g->output].shape[1] == 4);
    fuzz_run_model(g);
    shr_graph_free(g);
    return 0;
}
