/* Resize (opsets 10-17) and Upsample (7-9) as separable resampling: for
 * every resized axis an (out x in) matrix of interpolation weights, built at
 * import with the ONNX reference's rules (coordinate transformation, the n
 * nearest neighbours of the source position with edge padding, nearest /
 * linear / cubic coefficients, exclude_outside). Rows with a single weight of
 * 1 (nearest) become a gather; others a matmul along that axis (the axis moved
 * last and back by transposes), so resizing trains like any other op.
 * tf_crop_and_resize (roi, extrapolation) and antialiasing are not supported. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/onnx/onnx_internal.h"

typedef enum { M_NEAREST, M_LINEAR, M_CUBIC } rmode;
typedef enum { C_HALF, C_ASYM, C_ALIGN, C_PYTORCH, C_TF_NN } rcoord;
typedef enum { N_PREFER_FLOOR, N_PREFER_CEIL, N_FLOOR, N_CEIL } rnear;

typedef struct rspec {
    rmode mode;
    rcoord coord;
    rnear near;
    float A;
    int exclude;
} rspec;

/* Coefficients for a source position with fractional part ratio in (0, 1]. */
static int coeffs(const rspec *s, double ratio, int integer, double *c) {
    if (s->mode == M_NEAREST) {
        int hi = integer ? 1 : s->near == N_PREFER_FLOOR ? ratio > 0.5 : s->near == N_PREFER_CEIL ? ratio >= 0.5
                                                              : s->near == N_CEIL;
        c[0] = !hi;
        c[1] = hi;
        return 2;
    }
    if (s->mode == M_LINEAR) {
        c[0] = 1 - ratio;
        c[1] = ratio;
        return 2;
    }
    const double A = s->A, r = ratio, q = 1 - ratio;
    c[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
    c[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
    c[2] = ((A + 2) * q - (A + 3)) * q * q + 1;
    c[3] = ((A * (q + 1) - 5 * A) * (q + 1) + 8 * A) * (q + 1) - 4 * A;
    return 4;
}

/* M (O x I): row o holds the weights of the input positions output o reads. */
static void build_matrix(const rspec *s, int64_t I, int64_t O, double scale, double *M) {
    memset(M, 0, sizeof *M * (size_t)(I * O));
    const double out_w = scale * (double)I;
    for (int64_t o = 0; o < O; o++) {
        double x = (double)o, xo;
        switch (s->coord) {
        case C_ALIGN: xo = out_w == 1 ? 0.0 : x * (double)(I - 1) / (out_w - 1); break;
        case C_ASYM: xo = x / scale; break;
        case C_PYTORCH: xo = out_w == 1 ? -0.5 : (x + 0.5) / scale - 0.5; break;
        case C_TF_NN: xo = (x + 0.5) / scale; break;
        default: xo = (x + 0.5) / scale - 0.5; break;
        }
        const int integer = xo == floor(xo);
        double c[4];
        const int n = coeffs(s, integer ? 1.0 : xo - floor(xo), integer, c);
        /* The n indexes nearest to xo (ties to the smaller), in ascending order. */
        int64_t idx[4], base = (int64_t)floor(xo) - n;
        int taken = 0;
        while (taken < n) {
            int64_t best = 0;
            double bd = INFINITY;
            for (int64_t k = base; k <= base + 2 * n + 1; k++) {
                int used = 0;
                for (int t = 0; t < taken; t++) used |= idx[t] == k;
                double dd = fabs(xo - (double)k);
                if (!used && dd < bd) {
                    bd = dd;
                    best = k;
                }
            }
            idx[taken++] = best;
        }
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++)
                if (idx[b] < idx[a]) {
                    int64_t t = idx[a];
                    idx[a] = idx[b];
                    idx[b] = t;
                }
        double sum = 0;
        for (int k = 0; k < n; k++) {
            if (s->exclude && (idx[k] < 0 || idx[k] >= I)) c[k] = 0;
            sum += c[k];
        }
        for (int k = 0; k < n; k++) {
            int64_t i = idx[k] < 0 ? 0 : (idx[k] >= I ? I - 1 : idx[k]); /* edge padding */
            M[o * I + i] += s->exclude ? c[k] / sum : c[k];
        }
    }
}

/* Resamples shrink axis `ax` of activation v from I to O with matrix M. */
static shr_status resample_axis(ox_ctx *c, const ox_node *n, int v, int ax, int64_t I, int64_t O, const double *M,
                                int *out) {
    const shr_value *x = &c->g->values[v];
    int onehot = 1;
    for (int64_t o = 0; o < O && onehot; o++)
        for (int64_t i = 0; i < I && onehot; i++) onehot = M[o * I + i] == 0.0 || M[o * I + i] == 1.0;
    float *buf = malloc(sizeof *buf * (size_t)(I * O));
    if (!buf) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    shr_status st;
    int bv;
    if (onehot) {
        for (int64_t o = 0; o < O; o++)
            for (int64_t i = 0; i < I; i++)
                if (M[o * I + i] == 1.0) buf[o] = (float)i;
        st = ox_buffer(c, "resize_indices", 1, &O, buf, &bv);
        shr_attrs a = shr_attrs_default();
        a.axis = ax;
        if (st == SHR_OK) st = ox_emit(c, n, SHR_OP_GATHER, &a, 2, (int[]){v, bv}, out);
        free(buf);
        return st;
    }
    for (int64_t i = 0; i < I; i++) /* b = M^T, (I, O) */
        for (int64_t o = 0; o < O; o++) buf[i * O + o] = (float)M[o * I + i];
    st = ox_buffer(c, "resize_weights", 2, (int64_t[]){I, O}, buf, &bv);
    free(buf);
    SHR_TRY(st);
    const int last = x->ndim - 1;
    shr_attrs p = shr_attrs_default();
    p.ndim = x->ndim;
    for (int d = 0; d < x->ndim; d++) p.shape[d] = d;
    p.shape[ax] = last;
    p.shape[last] = ax;
    if (ax != last) SHR_TRY(ox_emit(c, n, SHR_OP_TRANSPOSE, &p, 1, &v, &v));
    SHR_TRY(ox_emit(c, n, SHR_OP_MATMUL, NULL, 2, (int[]){v, bv}, out));
    if (ax != last) SHR_TRY(ox_emit(c, n, SHR_OP_TRANSPOSE, &p, 1, out, out));
    return SHR_OK;
}

static shr_status read_spec(ox_ctx *c, const ox_node *n, int upsample, rspec *s) {
    char mode[32], coord[40], near[32];
    SHR_TRY(ox_attr_string(n, "mode", mode, sizeof mode));
    memset(s, 0, sizeof *s);
    s->mode = !mode[0] || !strcmp(mode, "nearest") ? M_NEAREST : !strcmp(mode, "linear") || !strcmp(mode, "bilinear") ? M_LINEAR
              : !strcmp(mode, "cubic") ? M_CUBIC : (rmode)-1;
    if ((int)s->mode < 0) return ox_unsupported(c, "mode '%s'", mode);
    s->coord = C_ASYM;
    s->near = N_FLOOR; /* before opset 11: asymmetric coordinates, nearest rounds down */
    s->A = -0.75f;
    if (upsample || c->opset < 11) return SHR_OK;
    SHR_TRY(ox_attr_string(n, "coordinate_transformation_mode", coord, sizeof coord));
    SHR_TRY(ox_attr_string(n, "nearest_mode", near, sizeof near));
    SHR_TRY(ox_attr_float(n, "cubic_coeff_a", -0.75f, &s->A));
    int64_t ex;
    SHR_TRY(ox_attr_int(n, "exclude_outside", 0, &ex));
    s->exclude = ex != 0;
    if (!coord[0] || !strcmp(coord, "half_pixel")) s->coord = C_HALF;
    else if (!strcmp(coord, "asymmetric")) s->coord = C_ASYM;
    else if (!strcmp(coord, "align_corners")) s->coord = C_ALIGN;
    else if (!strcmp(coord, "pytorch_half_pixel")) s->coord = C_PYTORCH;
    else if (!strcmp(coord, "tf_half_pixel_for_nn")) s->coord = C_TF_NN;
    else return ox_unsupported(c, "coordinate_transformation_mode '%s'", coord);
    if (!near[0] || !strcmp(near, "round_prefer_floor")) s->near = N_PREFER_FLOOR;
    else if (!strcmp(near, "round_prefer_ceil")) s->near = N_PREFER_CEIL;
    else if (!strcmp(near, "floor")) s->near = N_FLOOR;
    else if (!strcmp(near, "ceil")) s->near = N_CEIL;
    else return ox_bad(c, "nearest_mode '%s'", near);
    return SHR_OK;
}

static shr_status resize(ox_ctx *c, const ox_node *n, int upsample) {
    int x, rank;
    int64_t dims[SHR_MAX_DIMS], out[SHR_MAX_DIMS];
    double scale[SHR_MAX_DIMS];
    rspec s;
    SHR_TRY(ox_in_act(c, n, 0, &x));
    ox_act_shape(c, x, &rank, dims);
    SHR_TRY(read_spec(c, n, upsample, &s));
    ox_const *k = NULL, *sz = NULL;
    if (upsample && c->opset < 9) {
        const Onnx__AttributeProto *a = ox_attr(n, "scales");
        if (!a || a->n_floats != (size_t)rank) return ox_bad(c, "scales must have one value per dim");
        for (int d = 0; d < rank; d++) scale[d] = a->floats[d];
    } else {
        const int si = upsample || c->opset < 11 ? 1 : 2; /* Resize-11+: X, roi, scales, sizes */
        if (ox_in(c, n, si)) SHR_TRY(ox_in_const(c, n, si, &k));
        if (!upsample && c->opset >= 11 && ox_in(c, n, 3)) SHR_TRY(ox_in_const(c, n, 3, &sz));
        if (k && k->numel == 0) k = NULL;
        if (!!k == !!sz) return ox_bad(c, "needs exactly one of scales and sizes");
        if ((k && (k->numel != rank || k->is_int)) || (sz && (sz->numel != rank || !sz->is_int)))
            return ox_bad(c, "scales/sizes must have one value per dim");
        for (int d = 0; d < rank; d++) scale[d] = k ? ox_const_get_f(k, d) : 0;
    }
    for (int d = 0; d < rank; d++) {
        if (dims[d] == OX_BATCH) {
            if ((sz && sz->i[d] != OX_BATCH && sz->i[d] != c->static_batch) || (!sz && scale[d] != 1.0))
                return ox_unsupported(c, "resizing dim 0, the batch in shrink");
            out[d] = dims[d];
            continue;
        }
        double o = sz ? (double)sz->i[d] : floor((double)dims[d] * scale[d]);
        if (!(o >= 1 && o <= (double)((int64_t)1 << 24)) || (!sz && !(scale[d] > 0)))
            return ox_bad(c, "output dim %g of dim %d is invalid or too large", o, d);
        out[d] = (int64_t)o;
        if (sz) scale[d] = (double)out[d] / (double)dims[d];
    }
    int v = x;
    for (int d = rank - 1; d >= 0; d--) {
        if (dims[d] == OX_BATCH) continue;
        if (dims[d] * out[d] > OX_MAX_FOLD) return shr_fail(SHR_ERR_LIMIT, "resize matrix too large");
        double *M = malloc(sizeof *M * (size_t)(dims[d] * out[d]));
        if (!M) return shr_fail(SHR_ERR_NOMEM, "out of memory");
        build_matrix(&s, dims[d], out[d], scale[d], M);
        int identity = out[d] == dims[d];
        for (int64_t i = 0; identity && i < out[d] * dims[d]; i++) identity = M[i] == (i / dims[d] == i % dims[d]);
        shr_status st = identity ? SHR_OK : resample_axis(c, n, v, d + c->lift, dims[d], out[d], M, &v);
        free(M);
        SHR_TRY(st);
    }
    if (v == x) return ox_out_act(c, n, 0, x);
    return ox_out_act(c, n, 0, v);
}

static shr_status conv_resize(ox_ctx *c, const ox_node *n) { return resize(c, n, 0); }
static shr_status conv_upsample(ox_ctx *c, const ox_node *n) { return resize(c, n, 1); }

const ox_op ox_ops_resize[] = {
    {"Resize", 10, conv_resize},
    {"Upsample", 7, conv_upsample},
};
const int ox_ops_resize_n = (int)(sizeof ox_ops_resize / sizeof ox_ops_resize[0]);
