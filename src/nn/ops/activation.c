/* Element-wise activations: relu, relu6, leaky_relu, gelu (exact erf form),
 * sigmoid, tanh.
 *
 * Layout: x and y are f32 tensors of identical shape (any rank, dim 0 = batch),
 * processed as flat arrays of numel elements. Every element is independent, so
 * splitting the loop across OpenMP threads never changes a result.
 * FLOPs: these return 0; shrink counts only GEMM/conv multiply-adds (like the
 * usual per-layer counters), so activations do not change the model's total. */
#include <math.h>

#include "core/error.h"
#include "nn/op.h"

/* Below this many elements a thread team costs more than it saves. */
#define PAR_MIN ((int64_t)1 << 15)

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

static const char *node_name(const shr_node *n) { return n->name ? n->name : "?"; }

/* Output = input shape; the input must be a batched activation. */
static shr_status infer_same(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0);
    if (n->n_inputs != 1 || !x)
        return shr_fail(SHR_ERR_INVALID_ARG, "node '%s' (%s): expects exactly one input", node_name(n),
                        shr_op_name(n->op));
    *ndim = x->ndim;
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    return SHR_OK;
}

static shr_status infer_leaky(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    if (!isfinite(n->attrs.alpha))
        return shr_fail(SHR_ERR_INVALID_ARG, "node '%s' (leaky_relu): slope must be finite", node_name(n));
    return infer_same(g, n, ndim, shape);
}

/* Guards the flat loops against an executor handing over mismatched buffers. */
static shr_status fwd_args(shr_op_io *io, const float **x, float **y, int64_t *n) {
    const shr_tensor *in = io->in[0];
    if (!in || !io->out || in->numel != io->out->numel)
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (%s): input and output sizes differ", node_name(io->node),
                        shr_op_name(io->node->op));
    *x = shr_f32(in);
    *y = shr_f32(io->out);
    *n = in->numel;
    return SHR_OK;
}

static shr_status bwd_args(shr_op_io *io, const shr_tensor *dout, const shr_tensor *dx, const float **x,
                           const float **y, const float **gy, float **gx, int64_t *n) {
    const shr_tensor *in = io->in[0];
    if (!in || !io->out || !dout || in->numel != io->out->numel || dout->numel != in->numel ||
        dx->numel != in->numel)
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (%s): gradient sizes differ from the forward tensors",
                        node_name(io->node), shr_op_name(io->node->op));
    *x = shr_f32(in);
    *y = shr_f32(io->out);
    *gy = shr_f32(dout);
    *gx = shr_f32(dx);
    *n = in->numel;
    return SHR_OK;
}

static int64_t no_flops(const shr_graph *g, const shr_node *n) { return 0; }

static float leaky_slope(const shr_node *n) { return n->attrs.alpha == 0.0f ? 0.01f : n->attrs.alpha; }

/* The forward/backward bodies below differ only in the per-element formula.
 * Comparisons are written so that NaN inputs propagate (training should see them). */
#define FWD_LOOP(EXPR)                                                \
    const float *x;                                                   \
    float *y;                                                         \
    int64_t n;                                                        \
    SHR_TRY(fwd_args(io, &x, &y, &n));                                \
    _Pragma("omp parallel for simd schedule(static) if (parallel: n >= PAR_MIN)")    \
    for (int64_t i = 0; i < n; i++) {                                 \
        float v = x[i];                                               \
        y[i] = (EXPR);                                                \
    }                                                                 \
    return SHR_OK

#define BWD_LOOP(EXPR)                                                \
    if (!din[0]) return SHR_OK;                                       \
    const float *x, *y, *gy;                                          \
    float *gx;                                                        \
    int64_t n;                                                        \
    SHR_TRY(bwd_args(io, dout, din[0], &x, &y, &gy, &gx, &n));        \
    _Pragma("omp parallel for simd schedule(static) if (parallel: n >= PAR_MIN)")    \
    for (int64_t i = 0; i < n; i++) {                                 \
        float v = x[i], o = y[i], g = gy[i];                          \
        (void)v;                                                      \
        (void)o;                                                      \
        gx[i] += (EXPR);                                              \
    }                                                                 \
    return SHR_OK

/* relu: y = max(x, 0); dy/dx = 1 for x > 0, else 0 (0 at the kink, like PyTorch). */
static shr_status relu_fwd(shr_op_io *io) { FWD_LOOP(v < 0.0f ? 0.0f : v); }
static shr_status relu_bwd(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    BWD_LOOP(v > 0.0f ? g : 0.0f);
}

/* relu6: y = min(max(x, 0), 6); gradient 1 strictly inside (0, 6). */
static shr_status relu6_fwd(shr_op_io *io) { FWD_LOOP(v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v)); }
static shr_status relu6_bwd(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    BWD_LOOP((v > 0.0f && v < 6.0f) ? g : 0.0f);
}

/* leaky_relu: y = x for x > 0, slope * x otherwise. Written as pos + slope * neg
 * with selects against 0, so no multiply sits under a branch and the loop
 * vectorizes (GCC will not if-convert a possibly trapping multiply). */
#define POS(v, a) ((v) > 0.0f ? (a) : 0.0f)
#define NEG(v, a) ((v) > 0.0f ? 0.0f : (a))
static shr_status leaky_fwd(shr_op_io *io) {
    const float s = leaky_slope(io->node);
    FWD_LOOP(POS(v, v) + s * NEG(v, v));
}
static shr_status leaky_bwd(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    const float s = leaky_slope(io->node);
    BWD_LOOP(POS(v, g) + s * NEG(v, g));
}

/* gelu: y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)); dy/dx = Phi(x) + x phi(x). */
static shr_status gelu_fwd(shr_op_io *io) { FWD_LOOP(0.5f * v * (1.0f + erff(v * INV_SQRT2))); }
static shr_status gelu_bwd(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    BWD_LOOP(g * (0.5f * (1.0f + erff(v * INV_SQRT2)) + v * INV_SQRT_2PI * expf(-0.5f * v * v)));
}

/* sigmoid: exp(-|x|) never overflows; y = 1/(1+e) for x >= 0, e/(1+e) below.
 * dy/dx = y (1 - y) from the stored output. */
static inline float sigmoid_f(float v) {
    float e = expf(-fabsf(v));
    float r = 1.0f / (1.0f + e);
    return v >= 0.0f ? r : e * r;
}
static shr_status sigmoid_fwd(shr_op_io *io) { FWD_LOOP(sigmoid_f(v)); }
static shr_status sigmoid_bwd(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    BWD_LOOP(g * o * (1.0f - o));
}

/* tanh: dy/dx = 1 - y^2 from the stored output. */
static shr_status tanh_fwd(shr_op_io *io) { FWD_LOOP(tanhf(v)); }
static shr_status tanh_bwd(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    BWD_LOOP(g * (1.0f - o * o));
}

const shr_op_def shr_op_relu = {"relu", 1, 1, infer_same, relu_fwd, relu_bwd, no_flops, NULL};
const shr_op_def shr_op_relu6 = {"relu6", 1, 1, infer_same, relu6_fwd, relu6_bwd, no_flops, NULL};
const shr_op_def shr_op_leaky_relu = {"leaky_relu", 1, 1, infer_leaky, leaky_fwd, leaky_bwd, no_flops, NULL};
const shr_op_def shr_op_gelu = {"gelu", 1, 1, infer_same, gelu_fwd, gelu_bwd, no_flops, NULL};
const shr_op_def shr_op_sigmoid = {"sigmoid", 1, 1, infer_same, sigmoid_fwd, sigmoid_bwd, no_flops, NULL};
const shr_op_def shr_op_tanh = {"tanh", 1, 1, infer_same, tanh_fwd, tanh_bwd, no_flops, NULL};
