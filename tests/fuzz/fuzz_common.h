/* Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c, built by scripts/fuzz.sh,
 * not by CMake): a per-process scratch folder for the readers that take paths,
 * and the check that a failure left a message. A broken library promise is
 * reported with abort(), which libFuzzer records as a crash. */
#ifndef SHR_FUZZ_COMMON_H
#define SHR_FUZZ_COMMON_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sanitizer/allocator_interface.h>

#include "shrink/status.h"

#define FUZZ_REQUIRE(cond)                                                               \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: fuzz check failed: %s (last error: %s)\n", __FILE__, \
                    __LINE__, #cond, shr_last_error());                                  \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* A failing call must set a one-line message. */
static inline void fuzz_check_status(shr_status st) {
    if (st != SHR_OK) FUZZ_REQUIRE(shr_last_error()[0] != '\0');
}

/* Peak live heap bytes between fuzz_mem_begin and fuzz_mem_end, from ASan's
 * malloc/free hooks: a reader may allocate a small multiple of its input, not
 * what a header merely claims. (The hooks count every thread, atomically.) */
static long long fuzz_live, fuzz_peak;
static int fuzz_tracking, fuzz_hooks_installed;

static void fuzz_malloc_hook(const volatile void *p, size_t size) {
    (void)p;
    if (!__atomic_load_n(&fuzz_tracking, __ATOMIC_RELAXED)) return;
    long long now = __atomic_add_fetch(&fuzz_live, (long long)size, __ATOMIC_RELAXED);
    long long peak = __atomic_load_n(&fuzz_peak, __ATOMIC_RELAXED);
    while (now > peak && !__atomic_compare_exchange_n(&fuzz_peak, &peak, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}
static void fuzz_free_hook(const volatile void *p) {
    if (!p || !__atomic_load_n(&fuzz_tracking, __ATOMIC_RELAXED)) return;
    __atomic_sub_fetch(&fuzz_live, (long long)__sanitizer_get_allocated_size((const void *)p), __ATOMIC_RELAXED);
}
static inline void fuzz_mem_begin(void) {
    if (!fuzz_hooks_installed) {
        __sanitizer_install_malloc_and_free_hooks(fuzz_malloc_hook, fuzz_free_hook);
        fuzz_hooks_installed = 1;
    }
    fuzz_live = fuzz_peak = 0;
    __atomic_store_n(&fuzz_tracking, 1, __ATOMIC_SEQ_CST);
}
/* Fails unless the peak stayed within factor * input + slack bytes. */
static inline void fuzz_mem_end(size_t input, long long factor, long long slack) {
    __atomic_store_n(&fuzz_tracking, 0, __ATOMIC_SEQ_CST);
    if (fuzz_peak > factor * (long long)input + slack) {
        fprintf(stderr, "fuzz check failed: %lld bytes allocated at peak for a %zu-byte input\n", fuzz_peak, input);
        abort();
    }
}

static char fuzz_dir[256];

static void fuzz_dir_remove(void) {
    DIR *d = fuzz_dir[0] ? opendir(fuzz_dir) : NULL;
    if (!d) return;
    char path[600];
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", fuzz_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(fuzz_dir);
}

/* mkdtemp under /dev/shm (RAM, fast) or /tmp, removed at exit. */
static inline const char *fuzz_tmpdir(void) {
    if (fuzz_dir[0]) return fuzz_dir;
    const char *bases[2] = {"/dev/shm", "/tmp"};
    for (int i = 0; i < 2; i++) {
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/shrink-fuzz-XXXXXX", bases[i]);
        if (mkdtemp(fuzz_dir)) {
            atexit(fuzz_dir_remove);
            return fuzz_dir;
        }
    }
    fprintf(stderr, "cannot create a scratch folder\n");
    abort();
}

static inline void fuzz_write(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        abort();
    }
}

#endif
