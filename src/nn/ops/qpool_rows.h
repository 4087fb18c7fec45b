/* Internal: one output row of max pooling on channels-last codes, per code type: the plain
 * loops (QPOOL_ROWS, compiled in qpool.c) and the AVX2 ones (qpool_avx2.c); qpool.c picks one at
 * run time. Same results (a max is exact). */
#ifndef SHR_NN_OPS_QPOOL_ROWS_H
#define SHR_NN_OPS_QPOOL_ROWS_H

#include <stdint.h>
#include <string.h>

typedef struct qpool_cfg {
    int H, W, C, KH, KW, SH, SW, PT, PL, OH, OW;
} qpool_cfg;

/* The in-bounds window [*h0, *h1) x [*w0, *w1) of output (oh, ow). */
static inline void shr_qpool_window(const qpool_cfg *c, int oh, int ow, int *h0, int *h1, int *w0, int *w1) {
    int ih = oh * c->SH - c->PT, iw = ow * c->SW - c->PL;
    *h0 = ih < 0 ? 0 : ih;
    *h1 = ih + c->KH > c->H ? c->H : ih + c->KH;
    *w0 = iw < 0 ? 0 : iw;
    *w1 = iw + c->KW > c->W ? c->W : iw + c->KW;
}

/* x: one image (H, W, C); y: output row oh (OW, C). */
void shr_qmax_row_u8_ref(const qpool_cfg *c, const void *x, void *y, int oh);
void shr_qmax_row_i8_ref(const qpool_cfg *c, const void *x, void *y, int oh);
void shr_qmax_row_i16_ref(const qpool_cfg *c, const void *x, void *y, int oh);
void shr_qmax_row_u8_avx2(const qpool_cfg *c, const void *x, void *y, int oh);
void shr_qmax_row_i8_avx2(const qpool_cfg *c, const void *x, void *y, int oh);
void shr_qmax_row_i16_avx2(const qpool_cfg *c, const void *x, void *y, int oh);

#define QPOOL_ROW(NAME, T)                                                                                    \
    void NAME(const qpool_cfg *c, const void *xv, void *yv, int oh) {                                         \
        const T *x = xv;                                                                                      \
        T *y = yv;                                                                                            \
        for (int ow = 0; ow < c->OW; ow++) {                                                                  \
            int h0, h1, w0, w1;                                                                               \
            shr_qpool_window(c, oh, ow, &h0, &h1, &w0, &w1);                                                  \
            T *restrict yp = y + (size_t)ow * c->C;                                                           \
            memcpy(yp, x + ((size_t)h0 * c->W + w0) * c->C, (size_t)c->C * sizeof(T));                       \
            for (int h = h0; h < h1; h++)                                                                     \
                for (int w = w0; w < w1; w++) {                                                               \
                    const T *restrict xp = x + ((size_t)h * c->W + w) * c->C;                                 \
                    for (int ch = 0; ch < c->C; ch++) yp[ch] = xp[ch] > yp[ch] ? xp[ch] : yp[ch];             \
                }                                                                                             \
        }                                                                                                     \
    }

#define QPOOL_ROWS(SUFFIX)                                                                                    \
    QPOOL_ROW(shr_qmax_row_u8_##SUFFIX, uint8_t)                                                              \
    QPOOL_ROW(shr_qmax_row_i8_##SUFFIX, int8_t)                                                               \
    QPOOL_ROW(shr_qmax_row_i16_##SUFFIX, int16_t)

#endif
