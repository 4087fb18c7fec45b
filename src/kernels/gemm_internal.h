/* Internal: AVX2 GEMM tiling facts shared by the kernel (gemm_avx2.c) and the threaded
 * dispatch (gemm.c), which sizes each thread's share in whole micro-tiles. */
#ifndef SHR_KERNELS_GEMM_INTERNAL_H
#define SHR_KERNELS_GEMM_INTERNAL_H

/* Micro-tile: 6 rows x 16 columns (a 6 x 8 kernel covers narrow edges). */
#define SHR_GEMM_MR 6
#define SHR_GEMM_NR 16
/* Rows of op(A) packed per block (MC * KC floats stay in L2). */
#define SHR_GEMM_MC 144

/* Whether the AVX2 kernel packs op(B) for an M-row problem: it reads B in place when all of
 * op(A) fits one MC block (packing costs more than the strided loads save), except when the
 * row stride is a multiple of 4 KiB: every row of a strip then maps to one L1 set, so a
 * strip of more than a few rows (K) thrashes that set on every A panel that reuses it. */
static inline int shr_gemm_avx2_packs_b(int transB, int M, int K, int ldb) {
    if (transB) return 1;
    if (ldb % 1024 == 0 && K > 4) return M > SHR_GEMM_MR;
    return M > SHR_GEMM_MC;
}

#endif
