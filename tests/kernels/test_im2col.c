/* im2col / col2im against their references on random awkward geometries
 * (strides, dilation, asymmetric padding, padded leading dimension): results
 * must be bit-identical; col2im must accumulate. */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "shrink/shrink.h"
#include "test.h"

static int rnd(shr_rng *r, int n) { return (int)shr_rng_below(r, (uint64_t)n); }

static void test_random_geometries(void) {
    shr_rng r;
    shr_rng_seed(&r, 77);
    int tried = 0;
    for (int t = 0; t < 2000; t++) {
        shr_conv_geom g;
        g.C = 1 + rnd(&r, 4);
        g.H = 1 + rnd(&r, 11);
        g.W = 1 + rnd(&r, 11);
        g.KH = 1 + rnd(&r, 4);
        g.KW = 1 + rnd(&r, 4);
        g.SH = 1 + rnd(&r, 3);
        g.SW = 1 + rnd(&r, 3);
        g.PT = rnd(&r, 3);
        g.PL = rnd(&r, 3);
        g.DH = 1 + rnd(&r, 3);
        g.DW = 1 + rnd(&r, 3);
        int pb = rnd(&r, 3), pr = rnd(&r, 3);
        int nh = g.H + g.PT + pb - g.DH * (g.KH - 1) - 1, nw = g.W + g.PL + pr - g.DW * (g.KW - 1) - 1;
        if (nh < 0 || nw < 0) continue;
        g.OH = nh / g.SH + 1;
        g.OW = nw / g.SW + 1;
        int ld = g.OH * g.OW + rnd(&r, 5);
        size_t rows = (size_t)g.C * g.KH * g.KW, xn = (size_t)g.C * g.H * g.W;
        float *x = malloc(xn * sizeof *x), *c1 = malloc(rows * ld * sizeof *c1), *c2 = malloc(rows * ld * sizeof *c2);
        float *x1 = malloc(xn * sizeof *x1), *x2 = malloc(xn * sizeof *x2);
        for (size_t i = 0; i < xn; i++) {
            x[i] = shr_rng_normal(&r);
            x1[i] = x2[i] = shr_rng_normal(&r); /* col2im accumulates onto this */
        }
        for (size_t i = 0; i < rows * ld; i++) c1[i] = c2[i] = -7.0f;
        shr_im2col_f32_ref(&g, x, c1, ld);
        shr_im2col_f32(&g, x, c2, ld);
        CHECK(memcmp(c1, c2, rows * ld * sizeof *c1) == 0); /* padding columns untouched by both */
        shr_col2im_f32_ref(&g, c1, ld, x1);
        shr_col2im_f32(&g, c1, ld, x2);
        CHECK(memcmp(x1, x2, xn * sizeof *x1) == 0);
        free(x), free(c1), free(c2), free(x1), free(x2);
        tried++;
    }
    CHECK(tried > 500);
}

int main(void) {
    RUN(test_random_geometries);
    return test_summary();
}
