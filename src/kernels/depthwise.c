/* Depthwise plane dispatch: AVX2 when available, else the reference. */
#include "core/cpu.h"
#include "kernels/kernels.h"

void shr_dwconv_plane_f32(const shr_conv_geom *g, const float *x, const float *w, float bias, float lo, float hi,
                          float *y) {
    if (shr_cpu_has_avx2_fma())
        shr_dwconv_plane_f32_avx2(g, x, w, bias, lo, hi, y);
    else
        shr_dwconv_plane_f32_ref(g, x, w, bias, lo, hi, y);
}
