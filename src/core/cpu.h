/* Internal: run-time CPU feature detection for kernel dispatch. */
#ifndef SHR_CORE_CPU_H
#define SHR_CORE_CPU_H

/* 1 when AVX2 and FMA kernels may run (and reference kernels are not forced). */
int shr_cpu_has_avx2_fma(void);

#endif
