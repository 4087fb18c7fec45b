/* Thread count for all kernels (OpenMP). Results are deterministic for a given
 * thread count: no kernel reduces floats in an order that depends on timing. */
#ifndef SHRINK_THREADS_H
#define SHRINK_THREADS_H

#ifdef __cplusplus
extern "C" {
#endif

/* n <= 0 means "all cores". */
void shr_set_threads(int n);
int shr_get_threads(void);
/* "avx2+fma" or "generic": the kernel family chosen at run time (the
 * environment variable SHRINK_KERNELS=generic forces the plain-C kernels). */
const char *shr_cpu_features(void);
/* Force the plain-C reference kernels (for tests and comparisons). */
void shr_force_reference_kernels(int on);

#ifdef __cplusplus
}
#endif
#endif
