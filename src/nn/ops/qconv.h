/* Internal: qconv2d geometry and its depthwise kernel (qconv2d.c, qconv2d_dw.c). */
#ifndef SHR_NN_OPS_QCONV_H
#define SHR_NN_OPS_QCONV_H

#include "nn/op.h"

typedef struct shr_qconv_cfg {
    int C, H, W, OC, KH, KW, SH, SW, PT, PL, DH, DW, G, Cg, OCg, OH, OW;
    int K, P;      /* KH*KW*Cg (patch length), OH*OW */
    int pointwise; /* 1x1, stride 1, unpadded, one group: x is the patch matrix */
    int depthwise; /* G == C == OC > 1 */
} shr_qconv_cfg;

/* x shape xs = (N, H, W, C), weight (OC, KH, KW, C/G), attrs of n. */
shr_status shr_qconv_config(const shr_node *n, const int64_t *xs, int wnd, const int64_t *ws, shr_qconv_cfg *c);

typedef struct shr_qconv_dw shr_qconv_dw;
shr_status shr_qconv_dw_init(shr_qconv_dw **out, const shr_op_io *io, const shr_qconv_cfg *c);
shr_status shr_qconv_dw_run(shr_qconv_dw *d, const shr_qconv_cfg *c, shr_op_io *io);
void shr_qconv_dw_free(shr_qconv_dw *d);

#endif
