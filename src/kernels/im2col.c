/* im2col / col2im dispatch: the AVX2 build when the CPU has it, else the reference
 * (the two are bit-identical: both only copy / add the same values in the same order). */
#include "core/cpu.h"
#include "kernels/kernels.h"

void shr_im2col_f32(const shr_conv_geom *g, const float *x, float *col, int ldcol) {
    if (shr_cpu_has_avx2_fma())
        shr_im2col_f32_avx2(g, x, col, ldcol);
    else
        shr_im2col_f32_ref(g, x, col, ldcol);
}

void shr_col2im_f32(const shr_conv_geom *g, const float *col, int ldcol, float *x) {
    if (shr_cpu_has_avx2_fma())
        shr_col2im_f32_avx2(g, col, ldcol, x);
    else
        shr_col2im_f32_ref(g, col, ldcol, x);
}
