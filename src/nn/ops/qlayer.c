/* The integer GEMM layer shared by qlinear and qconv2d: input checks at load, the packed weights
 * and requantization constants built on the first forward (kept in the node's state), and one
 * call that runs rows of codes through the packed weights into codes or f32.
 *
 * Inputs of both ops: [x, x_scale, x_zp, W, w_scale, bias, y_scale, y_zp] (see graph.h).
 * u8/i8 codes run the s8 weight paths of qgemm (7-bit codes, as their producer's clamp says,
 * allow its faster REDUCED path); i16 codes the S16 path. i16 outputs are requantized here
 * from the s32 accumulators with the same fixed-point arithmetic (shr_requant). u8/i8 outputs of a
 * node marked for float requantization (shr_q_float_requant) use qgemm's U8F / S8F output stage
 * with rq = (float)x_scale * w_scale / (float)y_scale in float32: ONNX Runtime's QLinearConv /
 * QLinearMatMul arithmetic, so an exported QDQ model gives the same codes there. */
#include <stdlib.h>

#include "nn/ops/ops_quant.h"
#include "nn/ops/qlayer.h"

static shr_status check_w(const shr_graph *g, const shr_node *n, const char *op, shr_dtype xt, int64_t out,
                          int64_t per_out, int xmax) {
    const shr_value *w = shr_node_in(g, n, 3), *ws = shr_node_in(g, n, 4), *b = shr_node_in(g, n, 5);
    shr_dtype want = xt == SHR_I16 ? SHR_I16 : SHR_I8;
    if (w->kind != SHR_VALUE_PARAM || !w->data || (w->data->dtype != want && !(want == SHR_I8 && w->data->dtype == SHR_I4)))
        return shr_node_fail(SHR_ERR_FORMAT, n, op, "weight '%s' must be a %s param for %s codes", w->name,
                             want == SHR_I8 ? "i8 or i4" : "i16", shr_dtype_name(xt));
    want = w->data->dtype;
    if (!ws || (ws->kind != SHR_VALUE_PARAM && ws->kind != SHR_VALUE_BUFFER) || !ws->data ||
        ws->data->dtype != SHR_F32 || ws->ndim != 1 || (ws->shape[0] != out && ws->shape[0] != 1))
        return shr_node_fail(SHR_ERR_FORMAT, n, op, "weight scale must be f32 of %lld or 1 elements", (long long)out);
    for (int64_t i = 0; i < ws->data->numel; i++) {
        float s = shr_f32(ws->data)[i];
        if (!(s > 0.0f) || !isfinite(s))
            return shr_node_fail(SHR_ERR_FORMAT, n, op, "weight scale %lld = %g must be finite and > 0",
                                 (long long)i, (double)s);
    }
    if (b && (b->kind == SHR_VALUE_INPUT || b->kind == SHR_VALUE_ACT || !b->data || b->data->dtype != SHR_I32 ||
              b->ndim != 1 || b->shape[0] != out))
        return shr_node_fail(SHR_ERR_FORMAT, n, op, "bias must be a stored i32 tensor of %lld elements",
                             (long long)out);
    /* The accumulator contract of qgemm.h, checked here so a loaded model cannot fail later. */
    const int32_t *bias = b ? (const int32_t *)b->data->data : NULL;
    for (int64_t o = 0; o < out; o++) {
        int64_t abssum = 0;
        for (int64_t k = 0; k < per_out; k++) {
            int v = shr_q_get(w->data->data, want, (size_t)(o * per_out + k));
            if (v == -32768) return shr_node_fail(SHR_ERR_FORMAT, n, op, "i16 weight -32768 is not allowed");
            abssum += v < 0 ? -v : v;
        }
        int64_t bmag = bias ? llabs((long long)bias[o]) : 0;
        if ((int64_t)xmax * abssum + bmag + 1 >= ((int64_t)1 << 31))
            return shr_node_fail(SHR_ERR_FORMAT, n, op,
                                 "output channel %lld could overflow the int32 accumulator (sum |w| = %lld)",
                                 (long long)o, (long long)abssum);
    }
    return SHR_OK;
}

shr_status shr_qlayer_check(const shr_graph *g, const shr_node *n, const char *op, int64_t out, int64_t per_out) {
    shr_qparam xq, yq;
    SHR_TRY(shr_q_read_param(g, n, op, 1, 2, &xq));
    SHR_TRY(shr_q_check_codes(g, n, op, 0, &xq));
    int lo, hi;
    shr_q_code_range(g, n->inputs[0], &lo, &hi);
    /* the kernel's largest operand: 8-bit codes are offset into 0..255; i16 codes are bounded
     * by their producer's clamp */
    int xmax = xq.type == SHR_I16 ? (-lo > hi ? -lo : hi) : 256;
    SHR_TRY(check_w(g, n, op, xq.type, out, per_out, xmax < 1 ? 1 : xmax));
    const shr_value *ys = shr_node_in(g, n, 6), *yz = shr_node_in(g, n, 7);
    if (!ys != !yz) return shr_node_fail(SHR_ERR_FORMAT, n, op, "give both y_scale and y_zp, or neither (f32 out)");
    if (ys) {
        int qmin, qmax;
        SHR_TRY(shr_q_read_param(g, n, op, 6, 7, &yq));
        SHR_TRY(shr_q_check_clamp(n, op, yq.type, &qmin, &qmax));
    }
    return SHR_OK;
}

void shr_qlayer_free(shr_qlayer *L) {
    if (!L) return;
    shr_qgemm_packed_free(L->packed);
    free(L->mult);
    free(L->shift);
    free(L->wscale);
    free(L->rq);
    shr_free(L->s32);
    free(L);
}

shr_status shr_qlayer_init(shr_qlayer **out, const shr_op_io *io, int c0, int N, int K) {
    const shr_graph *g = io->g;
    const shr_node *n = io->node;
    shr_qlayer *L = calloc(1, sizeof *L);
    if (!L) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    shr_qparam xq = shr_q_param_io(io, 1, 2);
    int lo, hi;
    shr_q_code_range(g, n->inputs[0], &lo, &hi);
    const shr_tensor *ws = io->in[4], *b = n->n_inputs > 5 ? io->in[5] : NULL;
    L->N = N;
    L->K = K;
    L->xt = xq.type;
    L->x_scale = xq.scale;
    L->per_channel = ws->numel > 1;
    L->yt = n->n_inputs > 7 && io->in[7] ? io->in[7]->dtype : SHR_F32;
    int nc = L->per_channel ? N : 1;
    L->mult = malloc((size_t)nc * sizeof *L->mult);
    L->shift = malloc((size_t)nc * sizeof *L->shift);
    L->wscale = malloc((size_t)nc * sizeof *L->wscale);
    shr_status st = L->mult && L->shift && L->wscale ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int c = 0; st == SHR_OK && c < nc; c++) L->wscale[c] = shr_f32(ws)[L->per_channel ? c0 + c : 0];
    shr_qact act = {xq.type, xq.zero_point, 8, 0};
    const int32_t *bias = b ? (const int32_t *)b->data + c0 : NULL;
    /* rows c0 .. c0+N-1 of the weight; int4 codes are unpacked to int8 for packing */
    const shr_tensor *wt = io->in[3];
    size_t first = (size_t)c0 * K;
    int8_t *w8 = NULL;
    const void *W = (const char *)wt->data + first * (wt->dtype == SHR_I16 ? 2 : 1);
    if (st == SHR_OK && wt->dtype == SHR_I4) {
        if (!(w8 = malloc((size_t)N * K + 1))) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
        for (size_t i = 0; st == SHR_OK && i < (size_t)N * K; i++) w8[i] = (int8_t)shr_i4_get(wt->data, (int64_t)(first + i));
        W = w8;
    }
    if (st == SHR_OK && xq.type == SHR_I16) {
        act.max_abs = -lo > hi ? -lo : hi;
        if (act.max_abs < 1) act.max_abs = 1;
        st = shr_qgemm_pack_s16(&L->packed, N, K, W, K, &act, bias);
    } else if (st == SHR_OK) {
        /* 7-bit codes (a clamp to 0..127, or -64..63) let qgemm multiply in int16 without saturating. */
        act.bits = (xq.type == SHR_U8 && lo >= 0 && hi <= 127) || (xq.type == SHR_I8 && lo >= -64 && hi <= 63) ? 7 : 8;
        st = shr_qgemm_pack_s8(&L->packed, SHR_QPATH_AUTO, N, K, W, K, &act, bias);
    }
    free(w8);
    if (st == SHR_OK && L->yt != SHR_F32) {
        shr_qparam yq = shr_q_param_io(io, 6, 7);
        L->zy = yq.zero_point;
        L->qmin = (int)n->attrs.alpha;
        L->qmax = (int)n->attrs.eps;
        for (int c = 0; st == SHR_OK && c < nc; c++)
            st = shr_quant_multiplier((double)xq.scale * L->wscale[c] / yq.scale, &L->mult[c], &L->shift[c]);
        if (st == SHR_OK && L->yt != SHR_I16 && shr_q_float_requant(n)) {
            if (!(L->rq = malloc((size_t)nc * sizeof *L->rq))) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
            for (int c = 0; st == SHR_OK && c < nc; c++) {
                L->rq[c] = xq.scale * L->wscale[c] / yq.scale; /* float32 throughout, as ORT */
                if (!isfinite(L->rq[c]))
                    st = shr_node_fail(SHR_ERR_FORMAT, n, n->op == SHR_OP_QCONV2D ? "qconv2d" : "qlinear",
                                       "requantization scale of channel %d is not finite", c0 + c);
            }
        }
    }
    if (st != SHR_OK) {
        shr_qlayer_free(L);
        return st;
    }
    *out = L;
    return SHR_OK;
}

/* The output stage for codes out (kind set by the caller). */
static shr_qout codes_out(const shr_qlayer *L, void *Y, long ldy) {
    shr_qout o;
    memset(&o, 0, sizeof o);
    o.y = Y;
    o.ldy = ldy;
    o.per_channel = L->per_channel;
    o.multiplier = L->mult;
    o.shift = L->shift;
    o.rq_scale = L->rq;
    o.zero_point = L->zy;
    o.qmin = L->qmin;
    o.qmax = L->qmax;
    return o;
}

int shr_qlayer_taps_ok(const shr_qlayer *L, int ntaps, int run) {
    return (L->yt == SHR_U8 || L->yt == SHR_I8) && shr_qgemm_taps_ok(L->packed, ntaps, run);
}

shr_status shr_qlayer_run_taps(shr_qlayer *L, int M, const shr_qtaps *x, void *Y, long ldy) {
    shr_qout o = codes_out(L, Y, ldy);
    o.kind = L->yt == SHR_U8 ? (L->rq ? SHR_QOUT_U8F : SHR_QOUT_U8) : (L->rq ? SHR_QOUT_S8F : SHR_QOUT_S8);
    return shr_qgemm_taps(L->packed, M, x, &o);
}

shr_status shr_qlayer_run(shr_qlayer *L, int M, const void *X, long ldx, void *Y, long ldy, int fused, float lo,
                          float hi, int32_t *s32) {
    shr_qout o = codes_out(L, Y, ldy);
    switch (L->yt) {
    case SHR_U8: o.kind = L->rq ? SHR_QOUT_U8F : SHR_QOUT_U8; return shr_qgemm(L->packed, M, X, ldx, &o);
    case SHR_I8: o.kind = L->rq ? SHR_QOUT_S8F : SHR_QOUT_S8; return shr_qgemm(L->packed, M, X, ldx, &o);
    case SHR_F32: {
        o.kind = SHR_QOUT_F32;
        o.x_scale = L->x_scale;
        o.w_scale = L->wscale;
        o.relu = fused && lo == 0.0f;
        SHR_TRY(shr_qgemm(L->packed, M, X, ldx, &o));
        if (fused && (lo != 0.0f || hi != INFINITY))
            for (int m = 0; m < M; m++) shr_clamp_f32((float *)Y + (size_t)m * ldy, L->N, lo, hi);
        return SHR_OK;
    }
    default: break;
    }
    /* i16 codes: s32 accumulators, then the fixed-point requantization row by row */
    size_t need = (size_t)M * L->N;
    if (!s32 && need > L->s32_cap) {
        shr_free(L->s32);
        L->s32_cap = 0;
        if (!(L->s32 = shr_alloc(need * sizeof *L->s32))) return shr_fail(SHR_ERR_NOMEM, "out of memory");
        L->s32_cap = need;
    }
    if (!s32) s32 = L->s32;
    o.kind = SHR_QOUT_S32;
    o.y = s32;
    o.ldy = L->N;
    SHR_TRY(shr_qgemm(L->packed, M, X, ldx, &o));
    for (int m = 0; m < M; m++) {
        int16_t *y = (int16_t *)Y + (size_t)m * ldy;
        const int32_t *acc = s32 + (size_t)m * L->N;
        for (int j = 0; j < L->N; j++) {
            int c = L->per_channel ? j : 0;
            y[j] = (int16_t)shr_requant(acc[j], L->mult[c], L->shift[c], L->zy, L->qmin, L->qmax);
        }
    }
    return SHR_OK;
}
