#ifdef _OPENMP
#include <omp.h>
#endif

#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/qgemm_avx2.h"
#include "shrink/threads.h"

void shr_set_threads(int n) {
#ifdef _OPENMP
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

int shr_get_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static int force_ref;

void shr_force_reference_kernels(int on) { force_ref = on; }

int shr_cpu_has_avx2_fma(void) {
    static int cached = -1;
    if (force_ref) return 0;
    if (cached < 0) {
        /* SHRINK_KERNELS=generic forces the plain-C kernels (to test or compare them). */
        const char *env = getenv("SHRINK_KERNELS");
        if (env && strcmp(env, "generic") == 0) return cached = 0;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
        cached = 0;
#endif
    }
    return cached;
}

/* Names the kernels that run: the float ones, and the int8 micro-kernel when it is VNNI. */
const char *shr_cpu_features(void) {
    if (!shr_cpu_has_avx2_fma()) return "generic";
    return shr_qg_vnni_ok() ? "avx2+fma, int8 avx512-vnni" : "avx2+fma";
}
