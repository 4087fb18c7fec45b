/* Element-wise math ops with ONNX semantics: abs, neg, exp, log, sqrt,
 * reciprocal, trigonometric and hyperbolic functions and their inverses, erf,
 * ceil, floor, round (half to even), sign, softplus, softsign, hard_swish, and
 * the ones with scalar attributes: elu (alpha), celu (alpha), selu (alpha,
 * gamma = eps), hard_sigmoid (alpha, beta = eps), thresholded_relu (alpha),
 * shrink (lambd = alpha, bias = eps), clip (min = alpha, max = eps).
 *
 * Layout: x and y are f32 tensors of identical shape (any rank, dim 0 = batch),
 * processed as flat arrays; every element is independent, so threads never
 * change a result. Backward: dx += dy * f'(x), with f' written in terms of x and
 * the forward output y where that is cheaper. Step functions (ceil, floor,
 * round, sign) have derivative 0; at kinks (abs, clip, ...) the one-sided value
 * PyTorch uses. FLOPs: 0 (element-wise, not counted). */
#include <math.h>

#include "nn/ops/ops_onnx.h"
#include "nn/ops/ops_util.h"

#define PAR_MIN ((int64_t)1 << 15)
#define TWO_OVER_SQRT_PI 1.12837916709551257f

static shr_status unary_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0);
    const char *op = shr_op_name(n->op);
    if (n->n_inputs != 1 || !x) return shr_node_fail(SHR_ERR_INVALID_ARG, n, op, "expects exactly one input");
    const shr_attrs *a = &n->attrs;
    switch (n->op) {
    case SHR_OP_ELU:
    case SHR_OP_THRESHOLDED_RELU:
        if (!isfinite(a->alpha)) return shr_node_fail(SHR_ERR_INVALID_ARG, n, op, "alpha must be finite");
        break;
    case SHR_OP_CELU:
        if (!isfinite(a->alpha) || a->alpha == 0.0f)
            return shr_node_fail(SHR_ERR_INVALID_ARG, n, op, "alpha must be finite and nonzero");
        break;
    case SHR_OP_SELU:
    case SHR_OP_HARD_SIGMOID:
    case SHR_OP_SHRINK:
        if (!isfinite(a->alpha) || !isfinite(a->eps))
            return shr_node_fail(SHR_ERR_INVALID_ARG, n, op, "parameters must be finite");
        break;
    case SHR_OP_CLIP:
        if (isnan(a->alpha) || isnan(a->eps)) return shr_node_fail(SHR_ERR_INVALID_ARG, n, op, "bounds must not be NaN");
        break;
    default: break;
    }
    *ndim = x->ndim;
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    return SHR_OK;
}

static inline float softplus(float v) { return v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v)); }
static inline float sigm(float v) { return 1.0f / (1.0f + expf(-v)); }
static inline float sign_of(float v) { return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : v); }

/* Loops over the flat arrays with the op chosen once, outside the loop. */
#define MAP(EXPR)                                                                   \
    do {                                                                            \
        _Pragma("omp parallel for simd schedule(static) if (parallel: n >= PAR_MIN)") \
        for (int64_t i = 0; i < n; i++) {                                           \
            const float v = x[i];                                                   \
            y[i] = (EXPR);                                                          \
        }                                                                           \
    } while (0)

#define GRAD(EXPR)                                                                  \
    do {                                                                            \
        _Pragma("omp parallel for simd schedule(static) if (parallel: n >= PAR_MIN)") \
        for (int64_t i = 0; i < n; i++) {                                           \
            const float v = x[i], o = y[i];                                         \
            (void)v;                                                                \
            (void)o;                                                                \
            gx[i] += gy[i] * (EXPR);                                                \
        }                                                                           \
    } while (0)

static shr_status unary_forward(shr_op_io *io) {
    const shr_tensor *tx = io->in[0];
    const shr_node *nd = io->node;
    if (!tx || !io->out || tx->numel != io->out->numel)
        return shr_node_fail(SHR_ERR_SHAPE, nd, shr_op_name(nd->op), "input and output sizes differ");
    const float *x = shr_f32(tx);
    float *y = shr_f32(io->out);
    const int64_t n = tx->numel;
    const float al = nd->attrs.alpha, be = nd->attrs.eps;
    switch (nd->op) {
    case SHR_OP_ABS: MAP(fabsf(v)); break;
    case SHR_OP_NEG: MAP(-v); break;
    case SHR_OP_EXP: MAP(expf(v)); break;
    case SHR_OP_LOG: MAP(logf(v)); break;
    case SHR_OP_SQRT: MAP(sqrtf(v)); break;
    case SHR_OP_RECIPROCAL: MAP(1.0f / v); break;
    case SHR_OP_SIN: MAP(sinf(v)); break;
    case SHR_OP_COS: MAP(cosf(v)); break;
    case SHR_OP_TAN: MAP(tanf(v)); break;
    case SHR_OP_ASIN: MAP(asinf(v)); break;
    case SHR_OP_ACOS: MAP(acosf(v)); break;
    case SHR_OP_ATAN: MAP(atanf(v)); break;
    case SHR_OP_SINH: MAP(sinhf(v)); break;
    case SHR_OP_COSH: MAP(coshf(v)); break;
    case SHR_OP_ASINH: MAP(asinhf(v)); break;
    case SHR_OP_ACOSH: MAP(acoshf(v)); break;
    case SHR_OP_ATANH: MAP(atanhf(v)); break;
    case SHR_OP_ERF: MAP(erff(v)); break;
    case SHR_OP_CEIL: MAP(ceilf(v)); break;
    case SHR_OP_FLOOR: MAP(floorf(v)); break;
    case SHR_OP_ROUND: MAP(nearbyintf(v)); break; /* default rounding mode: half to even */
    case SHR_OP_SIGN: MAP(sign_of(v)); break;
    case SHR_OP_SOFTPLUS: MAP(softplus(v)); break;
    case SHR_OP_SOFTSIGN: MAP(v / (1.0f + fabsf(v))); break;
    case SHR_OP_HARD_SWISH: MAP(v * fmaxf(0.0f, fminf(1.0f, v / 6.0f + 0.5f))); break;
    case SHR_OP_ELU: MAP(v < 0.0f ? al * expm1f(v) : v); break;
    case SHR_OP_CELU: MAP(fmaxf(0.0f, v) + fminf(0.0f, al * expm1f(v / al))); break;
    case SHR_OP_SELU: MAP(be * (v > 0.0f ? v : al * expm1f(v))); break;
    case SHR_OP_HARD_SIGMOID: MAP(fmaxf(0.0f, fminf(1.0f, al * v + be))); break;
    case SHR_OP_THRESHOLDED_RELU: MAP(v > al ? v : 0.0f); break;
    case SHR_OP_SHRINK: MAP(v < -al ? v + be : (v > al ? v - be : 0.0f)); break;
    /* NaN stays NaN (comparisons are false), like numpy.clip. */
    case SHR_OP_CLIP: MAP(v < al ? al : (v > be ? be : v)); break;
    default: return shr_node_fail(SHR_ERR_INTERNAL, nd, shr_op_name(nd->op), "not an element-wise op");
    }
    return SHR_OK;
}

static shr_status unary_backward(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    if (!din[0]) return SHR_OK;
    const shr_node *nd = io->node;
    const shr_tensor *tx = io->in[0];
    if (!dout || !tx || dout->numel != tx->numel || din[0]->numel != tx->numel || io->out->numel != tx->numel)
        return shr_node_fail(SHR_ERR_SHAPE, nd, shr_op_name(nd->op), "gradient sizes differ");
    const float *x = shr_f32(tx), *y = shr_f32(io->out), *gy = shr_f32(dout);
    float *gx = shr_f32(din[0]);
    const int64_t n = tx->numel;
    const float al = nd->attrs.alpha, be = nd->attrs.eps;
    switch (nd->op) {
    case SHR_OP_ABS: GRAD(v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f)); break;
    case SHR_OP_NEG: GRAD(-1.0f); break;
    case SHR_OP_EXP: GRAD(o); break;
    case SHR_OP_LOG: GRAD(1.0f / v); break;
    case SHR_OP_SQRT: GRAD(0.5f / o); break;
    case SHR_OP_RECIPROCAL: GRAD(-o * o); break;
    case SHR_OP_SIN: GRAD(cosf(v)); break;
    case SHR_OP_COS: GRAD(-sinf(v)); break;
    case SHR_OP_TAN: GRAD(1.0f + o * o); break;
    case SHR_OP_ASIN: GRAD(1.0f / sqrtf(1.0f - v * v)); break;
    case SHR_OP_ACOS: GRAD(-1.0f / sqrtf(1.0f - v * v)); break;
    case SHR_OP_ATAN: GRAD(1.0f / (1.0f + v * v)); break;
    case SHR_OP_SINH: GRAD(coshf(v)); break;
    case SHR_OP_COSH: GRAD(sinhf(v)); break;
    case SHR_OP_ASINH: GRAD(1.0f / sqrtf(v * v + 1.0f)); break;
    case SHR_OP_ACOSH: GRAD(1.0f / sqrtf(v * v - 1.0f)); break;
    case SHR_OP_ATANH: GRAD(1.0f / (1.0f - v * v)); break;
    case SHR_OP_ERF: GRAD(TWO_OVER_SQRT_PI * expf(-v * v)); break;
    case SHR_OP_CEIL:
    case SHR_OP_FLOOR:
    case SHR_OP_ROUND:
    case SHR_OP_SIGN: break; /* derivative 0 almost everywhere */
    case SHR_OP_SOFTPLUS: GRAD(sigm(v)); break;
    case SHR_OP_SOFTSIGN: GRAD(1.0f / ((1.0f + fabsf(v)) * (1.0f + fabsf(v)))); break;
    case SHR_OP_HARD_SWISH: GRAD(v < -3.0f ? 0.0f : (v > 3.0f ? 1.0f : v / 3.0f + 0.5f)); break;
    case SHR_OP_ELU: GRAD(v < 0.0f ? o + al : 1.0f); break;
    case SHR_OP_CELU: GRAD(v < 0.0f ? expf(v / al) : 1.0f); break;
    case SHR_OP_SELU: GRAD(v > 0.0f ? be : be * al * expf(v)); break;
    case SHR_OP_HARD_SIGMOID: GRAD((al * v + be > 0.0f && al * v + be < 1.0f) ? al : 0.0f); break;
    case SHR_OP_THRESHOLDED_RELU: GRAD(v > al ? 1.0f : 0.0f); break;
    case SHR_OP_SHRINK: GRAD((v < -al || v > al) ? 1.0f : 0.0f); break;
    case SHR_OP_CLIP: GRAD((v >= al && v <= be) ? 1.0f : 0.0f); break;
    default: return shr_node_fail(SHR_ERR_INTERNAL, nd, shr_op_name(nd->op), "not an element-wise op");
    }
    return SHR_OK;
}

static int64_t no_flops(const shr_graph *g, const shr_node *n) { return 0; }

#define UNARY_DEF(NAME) const shr_op_def shr_op_##NAME = {#NAME, 1, 1, unary_infer, unary_forward, unary_backward, no_flops, NULL}
UNARY_DEF(abs);
UNARY_DEF(neg);
UNARY_DEF(exp);
UNARY_DEF(log);
UNARY_DEF(sqrt);
UNARY_DEF(reciprocal);
UNARY_DEF(sin);
UNARY_DEF(cos);
UNARY_DEF(tan);
UNARY_DEF(asin);
UNARY_DEF(acos);
UNARY_DEF(atan);
UNARY_DEF(sinh);
UNARY_DEF(cosh);
UNARY_DEF(asinh);
UNARY_DEF(acosh);
UNARY_DEF(atanh);
UNARY_DEF(erf);
UNARY_DEF(ceil);
UNARY_DEF(floor);
UNARY_DEF(round);
UNARY_DEF(sign);
UNARY_DEF(softplus);
UNARY_DEF(softsign);
UNARY_DEF(hard_swish);
UNARY_DEF(elu);
UNARY_DEF(celu);
UNARY_DEF(selu);
UNARY_DEF(hard_sigmoid);
UNARY_DEF(thresholded_relu);
UNARY_DEF(shrink);
UNARY_DEF(clip);
