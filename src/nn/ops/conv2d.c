/* 2-D convolution (cross-correlation, like PyTorch / ONNX Conv).
 *   x (N, C, H, W), W (OC, C/G, KH, KW), optional b (OC) -> y (N, OC, OH, OW)
 *   OH = (H + PT + PB - DH*(KH-1) - 1) / SH + 1   (same for OW)
 * Forward with equal strides S (not 1x1 stride 1 unpadded, not depthwise): an implicit
 * convolution (kernels/convt*.c). The input planes are copied once with their zero padding,
 * split into S x S phase planes (rows h = S*hq + ph, columns w = S*wq + pw; Hq x Wq each, one
 * plane per channel when S = 1), and tap (c, kh, kw) of output pixel (oh, ow) is phase plane
 * (c, kh*DH % S, kw*DW % S) at (oh + kh*DH / S) * Wq + ow + kw*DW / S: a fixed offset per tap
 * plus one per pixel, read in place — no im2col matrix (K times the output plane), 16 output
 * channels in the vector lanes (no partial tiles for 16/32/64 channels).
 * Otherwise (and for every backward pass), per group, im2col (or x itself for 1x1/stride 1/no
 * pad) then one GEMM
 *   y_g (OC/G, nb*OH*OW) = W_g (OC/G, C/G*KH*KW) * col (C/G*KH*KW, nb*OH*OW),
 * where small planes put nb images side by side so the GEMM stays wide.
 * Depthwise path (G == C == OC): the direct plane kernel (kernels/depthwise*.c).
 *
 * Threading: images are split into `parts` contiguous static chunks, one OpenMP
 * thread each (GEMM then runs single-threaded inside); with one part the GEMM
 * threads itself. dW is accumulated into one partial buffer per part and the
 * partials are summed in part order, so results depend only on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "nn/ops/ops_util.h"

static const char *const OP = "conv2d";

typedef struct conv_cfg {
    int C, H, W, OC, KH, KW, SH, SW, PT, PL, DH, DW, G, Cg, OCg, OH, OW;
    int K, P;       /* Cg*KH*KW (GEMM depth), OH*OW (output plane) */
    int direct_col; /* 1x1, stride 1, no padding: x's group slice is the column matrix */
    int implicit;   /* forward as an implicit convolution over padded planes (top comment) */
    int implicit_dx; /* dx as an implicit convolution of dy (stride 1; see conv_bx_geom) */
    int depthwise;  /* G == C == OC: one KHxKW filter per channel */
} conv_cfg;

/* Per-node scratch kept across steps: one column buffer and one dW partial per part. */
typedef struct conv_state {
    float *col;
    size_t col_cap;
    float *part;
    size_t part_cap;
    float *wpk; /* implicit forward: the weights packed per group */
    size_t wpk_cap;
} conv_state;

static void conv_free_state(void *p) {
    conv_state *s = p;
    if (!s) return;
    shr_free(s->col);
    shr_free(s->part);
    shr_free(s->wpk);
    free(s);
}

/* Validates shapes and attrs (xs/ws/bs: input, weight, optional bias shapes) and
 * fills the geometry. Shared by infer and forward/backward. */
static shr_status conv_config(const shr_node *n, int xnd, const int64_t *xs, int wnd, const int64_t *ws, int bnd,
                              const int64_t *bs, conv_cfg *c) {
    const shr_attrs *a = &n->attrs;
    if (xnd != 4 || !shr_dims_ok(4, xs, 1))
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "input must be rank 4 (N, C, H, W), got %s",
                             shr_shape_text_of(xnd, xs).s);
    if (wnd != 4 || !shr_dims_ok(4, ws, 0))
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "weight must be rank 4 (OC, C/groups, KH, KW), got %s",
                             shr_shape_text_of(wnd, ws).s);
    if (a->kernel[0] <= 0 || a->kernel[1] <= 0)
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "kernel %dx%d must be positive", a->kernel[0], a->kernel[1]);
    if (a->kernel[0] != ws[2] || a->kernel[1] != ws[3])
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "kernel %dx%d does not match weight shape %s", a->kernel[0],
                             a->kernel[1], shr_shape_text_of(wnd, ws).s);
    int SH = shr_attr_or1(a->stride[0]), SW = shr_attr_or1(a->stride[1]);
    int DH = shr_attr_or1(a->dilation[0]), DW = shr_attr_or1(a->dilation[1]);
    int G = shr_attr_or1(a->groups);
    if (SH < 0 || SW < 0) return shr_node_fail(SHR_ERR_SHAPE, n, OP, "stride %dx%d must be positive", SH, SW);
    if (DH < 0 || DW < 0) return shr_node_fail(SHR_ERR_SHAPE, n, OP, "dilation %dx%d must be positive", DH, DW);
    for (int i = 0; i < 4; i++)
        if (a->pad[i] < 0)
            return shr_node_fail(SHR_ERR_SHAPE, n, OP, "padding [%d, %d, %d, %d] must not be negative", a->pad[0],
                                 a->pad[1], a->pad[2], a->pad[3]);
    int64_t C = xs[1], OC = ws[0];
    if (G < 0 || C % G || OC % G)
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "groups %d must divide input channels %lld and output channels %lld",
                             G, (long long)C, (long long)OC);
    if (ws[1] * G != C) {
        if (G == 1)
            return shr_node_fail(SHR_ERR_SHAPE, n, OP, "weight shape %s does not match input channels %lld",
                                 shr_shape_text_of(wnd, ws).s, (long long)C);
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "weight shape %s does not match input channels %lld / groups %d",
                             shr_shape_text_of(wnd, ws).s, (long long)C, G);
    }
    if (bnd >= 0 && (bnd != 1 || bs[0] != OC))
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "bias shape %s does not match output channels %lld",
                             shr_shape_text_of(bnd, bs).s, (long long)OC);
    int64_t OH = (xs[2] + a->pad[0] + a->pad[2] - (int64_t)DH * (ws[2] - 1) - 1) / SH + 1;
    int64_t OW = (xs[3] + a->pad[1] + a->pad[3] - (int64_t)DW * (ws[3] - 1) - 1) / SW + 1;
    /* Integer division truncates toward zero, so check the numerator sign too. */
    if (xs[2] + a->pad[0] + a->pad[2] - (int64_t)DH * (ws[2] - 1) - 1 < 0 ||
        xs[3] + a->pad[1] + a->pad[3] - (int64_t)DW * (ws[3] - 1) - 1 < 0 || OH < 1 || OW < 1)
        return shr_node_fail(SHR_ERR_SHAPE, n, OP,
                             "output would be empty: input %lldx%lld, kernel %lldx%lld, dilation %dx%d, "
                             "padding [%d, %d, %d, %d]",
                             (long long)xs[2], (long long)xs[3], (long long)ws[2], (long long)ws[3], DH, DW,
                             a->pad[0], a->pad[1], a->pad[2], a->pad[3]);
    if (!shr_fits_int(ws[1], ws[2], ws[3]) || !shr_fits_int(ws[1] * ws[2] * ws[3], OH, OW) ||
        !shr_fits_int(OC, OH, OW) || !shr_fits_int(C, xs[2], xs[3]))
        return shr_node_fail(SHR_ERR_LIMIT, n, OP, "per-sample sizes are too large");
    int64_t K = ws[1] * ws[2] * ws[3], P = OH * OW;
    c->C = (int)C;
    c->H = (int)xs[2];
    c->W = (int)xs[3];
    c->OC = (int)OC;
    c->KH = (int)ws[2];
    c->KW = (int)ws[3];
    c->SH = SH;
    c->SW = SW;
    c->PT = a->pad[0];
    c->PL = a->pad[1];
    c->DH = DH;
    c->DW = DW;
    c->G = G;
    c->Cg = (int)C / G;
    c->OCg = (int)OC / G;
    c->OH = (int)OH;
    c->OW = (int)OW;
    c->K = (int)K;
    c->P = (int)P;
    c->direct_col = c->KH == 1 && c->KW == 1 && SH == 1 && SW == 1 && a->pad[0] == 0 && a->pad[1] == 0 &&
                    a->pad[2] == 0 && a->pad[3] == 0;
    c->depthwise = G == C && G == OC;
    /* The phase planes' size (shr_convt_dims) must fit an int. */
    int64_t Hq = OH + (int64_t)DH * (ws[2] - 1) / SH, Wq = OW + (int64_t)DW * (ws[3] - 1) / SW;
    c->implicit = !c->direct_col && !c->depthwise && SH == SW && SH <= 4 && shr_fits_int(ws[1] * SH * SH, Hq, Wq) &&
                  shr_convt_worth((int)K, c->OCg);
    /* dx of a stride-1 convolution is the convolution of dy (padded by the kernel extent
     * minus the padding, which must not be negative) with the flipped, transposed filters.
     * Its taps also run over that zero border: worth it only while dy fills at least 3/4 of
     * its padded planes (a 3x3 "same" layer on 28x28: 87 %; lenet5's 5x5 on 10x10: 31 %,
     * where it was 7 % slower than W^T dy + col2im). */
    int64_t Kx = OC / G * ws[2] * ws[3], Hd = xs[2] + DH * (ws[2] - 1), Wd = xs[3] + DW * (ws[3] - 1);
    c->implicit_dx = !c->direct_col && !c->depthwise && SH == 1 && SW == 1 && a->pad[0] <= DH * (ws[2] - 1) &&
                     a->pad[1] <= DW * (ws[3] - 1) && shr_fits_int(OC / G, Hd, Wd) && shr_fits_int(Kx, 1, 1) &&
                     4 * OH * OW >= 3 * Hd * Wd && shr_convt_worth((int)Kx, c->Cg);
    return SHR_OK;
}

static shr_status conv_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0), *w = shr_node_in(g, n, 1), *b = shr_node_in(g, n, 2);
    conv_cfg c;
    SHR_TRY(conv_config(n, x->ndim, x->shape, w->ndim, w->shape, b ? b->ndim : -1, b ? b->shape : NULL, &c));
    *ndim = 4;
    shape[0] = -1;
    shape[1] = c.OC;
    shape[2] = c.OH;
    shape[3] = c.OW;
    return SHR_OK;
}

static shr_status conv_config_io(const shr_op_io *io, conv_cfg *c) {
    const shr_tensor *x = io->in[0], *w = io->in[1];
    const shr_tensor *b = io->node->n_inputs > 2 ? io->in[2] : NULL;
    return conv_config(io->node, x->ndim, x->shape, w->ndim, w->shape, b ? b->ndim : -1, b ? b->shape : NULL, c);
}


static shr_conv_geom conv_geom(const conv_cfg *c) {
    shr_conv_geom g = {c->Cg, c->H, c->W, c->KH, c->KW, c->SH, c->SW, c->PT, c->PL, c->DH, c->DW, c->OH, c->OW};
    return g;
}

/* Contiguous static split of N images into parts; one part when threads are
 * unavailable or there is only one image (the GEMM then threads itself). */
static int conv_parts(int N) {
    int t = shr_op_threads();
    if (t > N) t = N;
    return t < 1 ? 1 : t;
}
static int part_begin(int N, int parts, int t) { return (int)((int64_t)N * t / parts); }

/* Uses the node's state slot, or a caller-local one when the executor gives none. */
static shr_status conv_get_state(shr_op_io *io, conv_state *local, conv_state **out) {
    if (!io->state) {
        memset(local, 0, sizeof *local);
        *out = local;
        return SHR_OK;
    }
    if (!*io->state) {
        *io->state = calloc(1, sizeof(conv_state));
        if (!*io->state) return shr_fail(SHR_ERR_NOMEM, "out of memory allocating conv2d state");
    }
    *out = *io->state;
    return SHR_OK;
}
static void conv_put_state(conv_state *st, conv_state *local) {
    if (st == local) {
        shr_free(local->col);
        shr_free(local->part);
        shr_free(local->wpk);
    }
}

/* ---- general path: im2col + GEMM ---- */

/* Small planes are batched: nb images side by side make the GEMM at least this
 * wide, which keeps its micro-tiles full (a 7x7 plane alone is 49 columns). */
#define CONV_MIN_COLS 384

static int conv_chunk(const conv_cfg *c) {
    int nb = (CONV_MIN_COLS + c->P - 1) / c->P;
    return nb < 1 ? 1 : nb;
}

/* Per-part scratch: the column matrix (K, nb*P) and, when nb > 1, a (OC/G, nb*P)
 * staging matrix for outputs / output gradients. */
static size_t conv_col_floats(const conv_cfg *c, int nb) {
    return (c->direct_col && nb == 1) ? 0 : (size_t)c->K * c->P * nb;
}
static size_t conv_tmp_floats(const conv_cfg *c, int nb) { return nb == 1 ? 0 : (size_t)c->OCg * c->P * nb; }

/* rows x P blocks between the per-image layout (image stride `img`, row stride P)
 * and the side-by-side layout (row stride ld, image i at column i*P). */
static void gather_rows(const float *src, size_t img, int nbc, int rows, int P, float *dst, int ld) {
    for (int i = 0; i < nbc; i++)
        for (int r = 0; r < rows; r++)
            memcpy(dst + (size_t)r * ld + (size_t)i * P, src + i * img + (size_t)r * P, (size_t)P * sizeof *dst);
}

/* Column matrix of group g for nbc images starting at x: (K, nbc*P), row stride nbc*P. */
static const float *conv_columns(const conv_cfg *c, const shr_conv_geom *geo, const float *x, int g, int nbc,
                                 float *col) {
    size_t xs = (size_t)c->C * c->H * c->W, goff = (size_t)g * c->Cg * c->H * c->W;
    int ld = nbc * c->P;
    if (c->direct_col) {
        if (nbc == 1) return x + goff;
        gather_rows(x + goff, xs, nbc, c->Cg, c->P, col, ld);
        return col;
    }
    for (int i = 0; i < nbc; i++) shr_im2col_f32(geo, x + i * xs + goff, col + (size_t)i * c->P, ld);
    return col;
}

/* nbc images: x (nbc, C, H, W) -> y (nbc, OC, OH, OW) = clamp(W * col + b, lo, hi), the
 * bias and clamp applied in the GEMM's epilogue. */
static void conv_fwd_chunk(const conv_cfg *c, const shr_conv_geom *geo, const float *x, const float *w,
                           const float *b, float lo, float hi, float *y, int nbc, float *col, float *tmp) {
    size_t ys = (size_t)c->OC * c->P;
    int ld = nbc * c->P;
    for (int g = 0; g < c->G; g++) {
        const float *B = conv_columns(c, geo, x, g, nbc, col);
        const float *wg = w + (size_t)g * c->OCg * c->K;
        float *yg = y + (size_t)g * c->OCg * c->P;
        shr_gemm_epilogue ep = {b ? b + g * c->OCg : NULL, 1, lo, hi};
        if (nbc == 1) {
            shr_gemm_f32_ex(0, 0, c->OCg, c->P, c->K, 1.0f, wg, c->K, B, c->P, 0.0f, yg, c->P, &ep);
            continue;
        }
        shr_gemm_f32_ex(0, 0, c->OCg, ld, c->K, 1.0f, wg, c->K, B, ld, 0.0f, tmp, ld, &ep);
        for (int i = 0; i < nbc; i++)
            for (int o = 0; o < c->OCg; o++)
                memcpy(yg + i * ys + (size_t)o * c->P, tmp + (size_t)o * ld + (size_t)i * c->P,
                       (size_t)c->P * sizeof *yg);
    }
}

/* Filter counts (per group) up to this use the dot-product form of dw (gemm's narrow path). */
#define DW_DOT_MAX_OC 12
#define DW_DOT_MAX_FLOATS 4096

/* The implicit dx (c->implicit_dx): dx_g = the stride-1 convolution of dy_g's planes with the
 * flipped filters wf[c][(o*KH + kh)*KW + kw] = w[o][c][KH-1-kh][KW-1-kw], packed per group in
 * wpk; geometry, offsets and this part's scratch (dy planes, then one image's dx_g). */
typedef struct conv_bx {
    shr_conv_geom geo;
    const float *wpk;
    size_t wg; /* packed floats per group */
    int Wq;    /* row length of dy's padded planes */
    const long *boff;
    const int *pix;
    float *planes, *dxg;
} conv_bx;

/* dy's geometry for dx: OCg planes of OH x OW, padded by the kernel extent minus the
 * forward padding, read to produce H x W. */
static shr_conv_geom conv_bx_geom(const conv_cfg *c) {
    shr_conv_geom g = {c->OCg, c->OH, c->OW, c->KH, c->KW, 1, 1, c->DH * (c->KH - 1) - c->PT,
                       c->DW * (c->KW - 1) - c->PL, c->DH, c->DW, c->H, c->W};
    return g;
}
static size_t conv_bx_floats(const conv_cfg *c) {
    shr_conv_geom g = conv_bx_geom(c);
    return shr_convt_planes_floats(&g) + (size_t)c->Cg * c->H * c->W;
}

/* dx of nbc images (group g) += the implicit convolution of their dy. */
static void conv_bwd_dx_implicit(const conv_cfg *c, const conv_bx *bx, const float *dy, float *dx, int nbc, int g) {
    size_t xs = (size_t)c->C * c->H * c->W, ys = (size_t)c->OC * c->P, hw = (size_t)c->H * c->W;
    for (int i = 0; i < nbc; i++) {
        shr_convt_planes_f32(&bx->geo, dy + i * ys + (size_t)g * c->OCg * c->P, bx->planes);
        shr_convt_rows_f32(c->Cg, c->H, c->W, bx->Wq, c->OCg * c->KH * c->KW, bx->wpk + g * bx->wg, bx->planes, bx->pix,
                           bx->boff, NULL, -INFINITY, INFINITY, bx->dxg, (long)hw);
        float *d = dx + i * xs + (size_t)g * c->Cg * hw;
        for (size_t j = 0; j < (size_t)c->Cg * hw; j++) d[j] += bx->dxg[j];
    }
}

/* nbc images' gradients: dw (OC, K) += dy col^T; dx (nbc, C, H, W) += col2im(W^T dy), or the
 * implicit convolution of dy when bx != NULL. dx / dw may be NULL. col first holds the input
 * columns, then their gradient. */
static void conv_bwd_chunk(const conv_cfg *c, const shr_conv_geom *geo, const conv_bx *bx, const float *x,
                           const float *w, const float *dy, float *dx, float *dw, int nbc, float *col, float *tmp) {
    size_t xs = (size_t)c->C * c->H * c->W, ys = (size_t)c->OC * c->P;
    int ld = nbc * c->P;
    for (int g = 0; g < c->G; g++) {
        size_t goff = (size_t)g * c->Cg * c->H * c->W;
        const float *wg = w + (size_t)g * c->OCg * c->K;
        const float *D = dy + (size_t)g * c->OCg * c->P;
        if (nbc > 1) {
            gather_rows(D, ys, nbc, c->OCg, c->P, tmp, ld);
            D = tmp;
        }
        if (dw) {
            const float *B = conv_columns(c, geo, x, g, nbc, col);
            float *dwg = dw + (size_t)g * c->OCg * c->K;
            if (c->OCg <= DW_DOT_MAX_OC && (size_t)c->K * c->OCg <= DW_DOT_MAX_FLOATS && ld >= 16) {
                /* Few filters: dw^T = col dy^T runs as dot products along the long pixel
                 * axis (kernels' narrow-output path), without transposing col into panels. */
                float t[DW_DOT_MAX_FLOATS];
                shr_gemm_f32_ex(0, 1, c->K, c->OCg, ld, 1.0f, B, ld, D, ld, 0.0f, t, c->OCg, NULL);
                for (int o = 0; o < c->OCg; o++)
                    for (int k = 0; k < c->K; k++) dwg[(size_t)o * c->K + k] += t[(size_t)k * c->OCg + o];
            } else {
                shr_gemm_f32(0, 1, c->OCg, c->K, ld, 1.0f, D, ld, B, ld, 1.0f, dwg, c->K);
            }
        }
        if (!dx) continue;
        if (bx) {
            conv_bwd_dx_implicit(c, bx, dy, dx, nbc, g);
            continue;
        }
        if (c->direct_col && nbc == 1) {
            shr_gemm_f32(1, 0, c->K, c->P, c->OCg, 1.0f, wg, c->K, D, c->P, 1.0f, dx + goff, c->P);
            continue;
        }
        shr_gemm_f32(1, 0, c->K, ld, c->OCg, 1.0f, wg, c->K, D, ld, 0.0f, col, ld);
        for (int i = 0; i < nbc; i++) {
            float *dxi = dx + i * xs + goff;
            if (c->direct_col) {
                for (int r = 0; r < c->Cg; r++) {
                    const float *src = col + (size_t)r * ld + (size_t)i * c->P;
                    float *dst = dxi + (size_t)r * c->P;
                    for (int p = 0; p < c->P; p++) dst[p] += src[p];
                }
            } else {
                shr_col2im_f32(geo, col + (size_t)i * c->P, ld, dxi);
            }
        }
    }
}

/* ---- implicit forward ---- */

/* The tap (K) and pixel (P) offsets of geometry g into its phase planes (shr_convt_offsets), in
 * two allocations the caller frees (also on failure). */
static shr_status impl_offsets_alloc(const shr_conv_geom *g, int K, int P, long **boff, int **pix) {
    *boff = malloc((size_t)K * sizeof **boff);
    *pix = malloc((size_t)P * sizeof **pix);
    if (!*boff || !*pix) return shr_fail(SHR_ERR_NOMEM, "conv2d: out of memory for %d tap / %d pixel offsets", K, P);
    shr_convt_offsets(g, *boff, *pix);
    return SHR_OK;
}

/* Images [n0, n1): y = clamp(W * implicit columns + b, lo, hi), one image and group at a
 * time (wpk: the packed weights of every group; xp: this part's phase planes). */
static void conv_fwd_implicit(const conv_cfg *c, const shr_conv_geom *geo, const float *wpk, const int *pix,
                              const long *boff, const float *x, const float *b, float lo, float hi, float *y, int n0,
                              int n1, float *xp) {
    size_t xs = (size_t)c->C * c->H * c->W, ys = (size_t)c->OC * c->P, wg = shr_convt_packed_floats(c->OCg, c->K);
    int Hq, Wq;
    shr_convt_dims(geo, &Hq, &Wq);
    for (int i = n0; i < n1; i++)
        for (int g = 0; g < c->G; g++) {
            shr_convt_planes_f32(geo, x + i * xs + (size_t)g * c->Cg * c->H * c->W, xp);
            shr_convt_rows_f32(c->OCg, c->OH, c->OW, Wq, c->K, wpk + g * wg, xp, pix, boff, b ? b + g * c->OCg : NULL,
                               lo, hi, y + i * ys + (size_t)g * c->OCg * c->P, c->P);
        }
}

/* Images [n0, n1) of the batch in chunks of nb; scr is this part's scratch (columns,
 * then the staging matrix), NULL when neither is needed. */
static void conv_fwd_range(const conv_cfg *c, const shr_conv_geom *geo, const float *x, const float *w,
                           const float *b, float lo, float hi, float *y, int n0, int n1, int nb, float *scr,
                           size_t colsz) {
    size_t xs = (size_t)c->C * c->H * c->W, ys = (size_t)c->OC * c->P;
    float *tmp = scr ? scr + colsz : NULL;
    for (int i = n0; i < n1; i += nb)
        conv_fwd_chunk(c, geo, x + i * xs, w, b, lo, hi, y + i * ys, n1 - i < nb ? n1 - i : nb, scr, tmp);
}

/* bx0: the implicit dx's shared parts (NULL: col2im); its scratch is this part's, at bxscr. */
static void conv_bwd_range(const conv_cfg *c, const shr_conv_geom *geo, const conv_bx *bx0, const float *x,
                           const float *w, const float *dy, float *dx, float *dw, int n0, int n1, int nb, float *scr,
                           size_t colsz, float *bxscr) {
    size_t xs = (size_t)c->C * c->H * c->W, ys = (size_t)c->OC * c->P;
    float *tmp = scr ? scr + colsz : NULL;
    conv_bx bx;
    if (bx0) {
        bx = *bx0;
        bx.planes = bxscr;
        bx.dxg = bxscr + shr_convt_planes_floats(&bx.geo);
    }
    for (int i = n0; i < n1; i += nb)
        conv_bwd_chunk(c, geo, bx0 ? &bx : NULL, x + i * xs, w, dy + i * ys, dx ? dx + i * xs : NULL, dw,
                       n1 - i < nb ? n1 - i : nb, scr, tmp);
}

/* ---- depthwise path (G == C == OC): direct loops per (image, channel) plane ----
 * Inner loops run along an output row (omp simd: -O2 alone leaves them scalar). */

/* The adjoint of the forward plane kernel (shr_dwconv_plane_f32) in x: dx (H, W) += taps scattered by dy (OH, OW). */
static void dw_plane_bwd_x(const conv_cfg *c, const float *dy, const float *w, float *dx) {
    const int SW = c->SW;
    for (int kh = 0; kh < c->KH; kh++) {
        int offh = kh * c->DH - c->PT, oh0, oh1;
        shr_win_range(c->H, c->SH, offh, c->OH, &oh0, &oh1);
        for (int kw = 0; kw < c->KW; kw++) {
            int offw = kw * c->DW - c->PL, ow0, ow1;
            shr_win_range(c->W, c->SW, offw, c->OW, &ow0, &ow1);
            float wv = w[kh * c->KW + kw];
            for (int oh = oh0; oh < oh1; oh++) {
                float *xr = dx + (size_t)(oh * c->SH + offh) * c->W;
                const float *yr = dy + (size_t)oh * c->OW;
#pragma omp simd
                for (int ow = ow0; ow < ow1; ow++) xr[ow * SW + offw] += wv * yr[ow];
            }
        }
    }
}

/* dw (KH, KW) of channel ch += sum over images of dy * shifted x. */
static void dw_channel_bwd_w(const conv_cfg *c, int N, const float *x, const float *dy, int ch, float *dw) {
    const int SW = c->SW;
    size_t HW = (size_t)c->H * c->W;
    for (int kh = 0; kh < c->KH; kh++) {
        int offh = kh * c->DH - c->PT, oh0, oh1;
        shr_win_range(c->H, c->SH, offh, c->OH, &oh0, &oh1);
        for (int kw = 0; kw < c->KW; kw++) {
            int offw = kw * c->DW - c->PL, ow0, ow1;
            shr_win_range(c->W, c->SW, offw, c->OW, &ow0, &ow1);
            double s = 0.0;
            for (int i = 0; i < N; i++) {
                const float *xp = x + ((size_t)i * c->C + ch) * HW;
                const float *yp = dy + ((size_t)i * c->C + ch) * c->P;
                for (int oh = oh0; oh < oh1; oh++) {
                    const float *xr = xp + (size_t)(oh * c->SH + offh) * c->W;
                    const float *yr = yp + (size_t)oh * c->OW;
                    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
                    for (int ow = ow0; ow < ow1; ow++) acc += yr[ow] * xr[ow * SW + offw];
                    s += acc;
                }
            }
            dw[kh * c->KW + kw] += (float)s;
        }
    }
}

/* ---- op entry points ---- */

static shr_status conv_forward(shr_op_io *io) {
    conv_cfg c;
    SHR_TRY(conv_config_io(io, &c));
    const shr_tensor *xt = io->in[0];
    const shr_tensor *bt = io->node->n_inputs > 2 ? io->in[2] : NULL;
    int N = (int)xt->shape[0];
    const float *x = shr_f32(xt), *w = shr_f32(io->in[1]), *b = bt ? shr_f32(bt) : NULL;
    float *y = shr_f32(io->out);
    float lo = io->act_fused ? io->act_lo : -INFINITY, hi = io->act_fused ? io->act_hi : INFINITY;

    if (c.depthwise) {
        int64_t planes = (int64_t)N * c.C;
        shr_conv_geom geo = conv_geom(&c);
#pragma omp parallel for schedule(static)
        for (int64_t q = 0; q < planes; q++) {
            int ch = (int)(q % c.C);
            shr_dwconv_plane_f32(&geo, x + (size_t)q * c.H * c.W, w + (size_t)ch * c.KH * c.KW, b ? b[ch] : 0.0f, lo,
                                 hi, y + (size_t)q * c.P);
        }
        return SHR_OK;
    }

    conv_state local, *st;
    SHR_TRY(conv_get_state(io, &local, &st));
    int parts = conv_parts(N);
    if (c.implicit) {
        shr_conv_geom geo = conv_geom(&c);
        size_t scr = shr_convt_planes_floats(&geo), wg = shr_convt_packed_floats(c.OCg, c.K);
        long *boff;
        int *pix;
        shr_status s = impl_offsets_alloc(&geo, c.K, c.P, &boff, &pix);
        if (s == SHR_OK) s = shr_scratch_reserve(&st->col, &st->col_cap, scr * (size_t)parts);
        if (s == SHR_OK) s = shr_scratch_reserve(&st->wpk, &st->wpk_cap, wg * (size_t)c.G);
        if (s == SHR_OK) {
            for (int g = 0; g < c.G; g++)
                shr_convt_pack_f32(c.OCg, c.K, w + (size_t)g * c.OCg * c.K, c.K, st->wpk + g * wg);
            if (parts == 1) {
                conv_fwd_implicit(&c, &geo, st->wpk, pix, boff, x, b, lo, hi, y, 0, N, st->col);
            } else {
#pragma omp parallel for schedule(static) num_threads(parts)
                for (int t = 0; t < parts; t++)
                    conv_fwd_implicit(&c, &geo, st->wpk, pix, boff, x, b, lo, hi, y, part_begin(N, parts, t),
                                      part_begin(N, parts, t + 1), st->col + (size_t)t * scr);
            }
        }
        free(boff);
        free(pix);
        conv_put_state(st, &local);
        return s;
    }
    int nb = conv_chunk(&c);
    size_t colsz = conv_col_floats(&c, nb), scr = colsz + conv_tmp_floats(&c, nb);
    shr_status s = shr_scratch_reserve(&st->col, &st->col_cap, scr * (size_t)parts);
    if (s == SHR_OK) {
        shr_conv_geom geo = conv_geom(&c);
        /* A serial loop when parts == 1: even an inactive parallel region slows the
         * GEMM inside it measurably. */
        if (parts == 1) {
            conv_fwd_range(&c, &geo, x, w, b, lo, hi, y, 0, N, nb, st->col, colsz);
        } else {
#pragma omp parallel for schedule(static) num_threads(parts)
            for (int t = 0; t < parts; t++)
                conv_fwd_range(&c, &geo, x, w, b, lo, hi, y, part_begin(N, parts, t), part_begin(N, parts, t + 1), nb,
                               scr ? st->col + (size_t)t * scr : NULL, colsz);
        }
    }
    conv_put_state(st, &local);
    return s;
}

static shr_status conv_backward(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    conv_cfg c;
    SHR_TRY(conv_config_io(io, &c));
    int N = (int)io->in[0]->shape[0];
    const float *x = shr_f32(io->in[0]), *w = shr_f32(io->in[1]), *dy = shr_f32(dout);
    float *dx = din[0] ? shr_f32(din[0]) : NULL, *dw = din[1] ? shr_f32(din[1]) : NULL;
    float *db = (io->node->n_inputs > 2 && din[2]) ? shr_f32(din[2]) : NULL;
    size_t ysz = (size_t)c.OC * c.P;

    if (db) {
        /* Per output channel, a fixed summation order over (image, position): the plane sum
         * is an omp simd reduction (lane partials, combined in an order fixed at compile
         * time) — a scalar chain would wait on every add's latency. */
#pragma omp parallel for schedule(static)
        for (int o = 0; o < c.OC; o++) {
            double s = 0.0;
            for (int i = 0; i < N; i++) {
                const float *yr = dy + (size_t)i * ysz + (size_t)o * c.P;
                float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
                for (int p = 0; p < c.P; p++) acc += yr[p];
                s += acc;
            }
            db[o] += (float)s;
        }
    }
    if (!dx && !dw) return SHR_OK;

    if (c.depthwise) {
        if (dx) {
            int64_t planes = (int64_t)N * c.C;
#pragma omp parallel for schedule(static)
            for (int64_t q = 0; q < planes; q++)
                dw_plane_bwd_x(&c, dy + (size_t)q * c.P, w + (size_t)(q % c.C) * c.KH * c.KW, dx + (size_t)q * c.H * c.W);
        }
        if (dw) {
#pragma omp parallel for schedule(static)
            for (int ch = 0; ch < c.C; ch++) dw_channel_bwd_w(&c, N, x, dy, ch, dw + (size_t)ch * c.KH * c.KW);
        }
        return SHR_OK;
    }

    conv_state local, *st;
    SHR_TRY(conv_get_state(io, &local, &st));
    int parts = conv_parts(N), nb = conv_chunk(&c);
    int bxon = dx && c.implicit_dx;
    size_t colsz = conv_col_floats(&c, nb), base = colsz + conv_tmp_floats(&c, nb);
    size_t scr = base + (bxon ? conv_bx_floats(&c) : 0);
    size_t wsz = (size_t)c.OC * c.K;
    shr_status s = shr_scratch_reserve(&st->col, &st->col_cap, scr * (size_t)parts);
    if (s == SHR_OK && dw && parts > 1) s = shr_scratch_reserve(&st->part, &st->part_cap, wsz * (size_t)parts);
    conv_bx bx = {conv_bx_geom(&c), NULL, 0, 0, NULL, NULL, NULL, NULL};
    int bx_hq;
    shr_convt_dims(&bx.geo, &bx_hq, &bx.Wq);
    long *boff = NULL;
    int *pix = NULL;
    float *wf = NULL;
    if (s == SHR_OK && bxon) {
        int Kx = c.OCg * c.KH * c.KW;
        bx.wg = shr_convt_packed_floats(c.Cg, Kx);
        s = impl_offsets_alloc(&bx.geo, Kx, c.H * c.W, &boff, &pix);
        wf = s == SHR_OK ? malloc((size_t)c.Cg * Kx * sizeof *wf) : NULL;
        if (s == SHR_OK && !wf) s = shr_fail(SHR_ERR_NOMEM, "conv2d backward: out of memory for the flipped filters");
        if (s == SHR_OK) s = shr_scratch_reserve(&st->wpk, &st->wpk_cap, bx.wg * (size_t)c.G);
        if (s == SHR_OK) {
            for (int g = 0; g < c.G; g++) { /* wf[ch][(o*KH + kh)*KW + kw] = w[o][ch][KH-1-kh][KW-1-kw] */
                const float *wg = w + (size_t)g * c.OCg * c.K;
                for (int ch = 0; ch < c.Cg; ch++)
                    for (int o = 0; o < c.OCg; o++)
                        for (int t = 0; t < c.KH * c.KW; t++)
                            wf[(size_t)ch * Kx + (size_t)o * c.KH * c.KW + t] =
                                wg[(size_t)o * c.K + (size_t)ch * c.KH * c.KW + (c.KH * c.KW - 1 - t)];
                shr_convt_pack_f32(c.Cg, Kx, wf, Kx, st->wpk + g * bx.wg);
            }
            bx.wpk = st->wpk, bx.boff = boff, bx.pix = pix;
        }
    }
    const conv_bx *bxp = bxon ? &bx : NULL;
    if (s == SHR_OK) {
        shr_conv_geom geo = conv_geom(&c);
        if (parts == 1) {
            conv_bwd_range(&c, &geo, bxp, x, w, dy, dx, dw, 0, N, nb, st->col, colsz, st->col + base);
        } else {
#pragma omp parallel for schedule(static) num_threads(parts)
            for (int t = 0; t < parts; t++) {
                float *dwp = dw ? st->part + (size_t)t * wsz : NULL;
                if (dwp) memset(dwp, 0, wsz * sizeof *dwp);
                float *ps = scr ? st->col + (size_t)t * scr : NULL;
                conv_bwd_range(&c, &geo, bxp, x, w, dy, dx, dwp, part_begin(N, parts, t), part_begin(N, parts, t + 1),
                               nb, ps, colsz, ps ? ps + base : NULL);
            }
        }
        if (dw && parts > 1) {
            /* Partials summed in part order: same result for the same thread count. */
            const float *part = st->part;
#pragma omp parallel for schedule(static)
            for (int64_t j = 0; j < (int64_t)wsz; j++) {
                float acc = 0.0f;
                for (int t = 0; t < parts; t++) acc += part[(size_t)t * wsz + (size_t)j];
                dw[j] += acc;
            }
        }
    }
    free(boff);
    free(pix);
    free(wf);
    conv_put_state(st, &local);
    return s;
}

static int64_t conv_flops(const shr_graph *g, const shr_node *n) {
    const shr_value *x = shr_node_in(g, n, 0), *w = shr_node_in(g, n, 1), *b = shr_node_in(g, n, 2);
    conv_cfg c;
    if (conv_config(n, x->ndim, x->shape, w->ndim, w->shape, b ? b->ndim : -1, b ? b->shape : NULL, &c) != SHR_OK)
        return 0;
    return 2 * (int64_t)c.OC * c.P * c.K;
}

const shr_op_def shr_op_conv2d = {
    .name = "conv2d",
    .min_inputs = 2,
    .max_inputs = 3,
    .infer = conv_infer,
    .forward = conv_forward,
    .backward = conv_backward,
    .flops = conv_flops,
    .free_state = conv_free_state,
};
