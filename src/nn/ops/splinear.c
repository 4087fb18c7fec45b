/* splinear: a Linear layer whose pruned weight is stored as shared-codebook codes of its
 * non-zeros with gap-coded positions, maybe Huffman-coded (quant/sparse_code.c).
 *   [x f32 (N, in), w u8 param (the encoded weight), bias f32 (out) or -1] -> y (N, out) f32
 * The encoding is decoded (and checked) once into an f32 CSR matrix, then every forward is the
 * sparse kernel y = x W^T + bias (kernels/sparse.h), with a fused ReLU / ReLU6 clamp. */
#include <stdlib.h>

#include "kernels/sparse.h"
#include "nn/ops/ops_quant.h"
#include "quant/sparse_code.h"

static const char *const OP = "splinear";

static shr_status splinear_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0), *w = shr_node_in(g, n, 1), *b = shr_node_in(g, n, 2);
    if (shr_value_dtype(g, n->inputs[0]) != SHR_F32 || x->ndim != 2 || !shr_dims_ok(2, x->shape, 1))
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "input '%s' must be f32 (N, features)", x->name);
    if (w->kind != SHR_VALUE_PARAM || !w->data || w->data->dtype != SHR_U8 || w->ndim != 1)
        return shr_node_fail(SHR_ERR_FORMAT, n, OP, "weight '%s' must be a u8 param (encoded bytes)", w->name);
    shr_spmat A;
    memset(&A, 0, sizeof A);
    shr_status st = shr_spq_decode(w->data->data, (size_t)w->data->numel, &A); /* checks every entry */
    int out = A.N, in = A.K;
    shr_spmat_free(&A);
    if (st != SHR_OK) return shr_node_fail(st, n, OP, "%s", shr_last_error());
    if (in != x->shape[1])
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "weight of %d inputs does not match %lld features", in,
                             (long long)x->shape[1]);
    if (b && (b->kind == SHR_VALUE_INPUT || b->kind == SHR_VALUE_ACT || !b->data || b->data->dtype != SHR_F32 ||
              b->ndim != 1 || b->shape[0] != out))
        return shr_node_fail(SHR_ERR_FORMAT, n, OP, "bias must be f32 of %d elements", out);
    *ndim = 2;
    shape[0] = -1;
    shape[1] = out;
    return SHR_OK;
}

static void free_mat(void *p) {
    shr_spmat_free(p);
    free(p);
}

static shr_status splinear_forward(shr_op_io *io) {
    const shr_tensor *x = io->in[0], *w = io->in[1], *b = io->node->n_inputs > 2 ? io->in[2] : NULL;
    shr_spmat *A = io->state ? *io->state : NULL;
    if (!A) {
        if (!(A = calloc(1, sizeof *A))) return shr_fail(SHR_ERR_NOMEM, "out of memory");
        shr_status st = shr_spq_decode(w->data, (size_t)w->numel, A);
        if (st != SHR_OK) {
            free(A);
            return st;
        }
        if (io->state) *io->state = A;
    }
    shr_gemm_epilogue ep = {b ? shr_f32(b) : NULL, 0, io->act_fused ? io->act_lo : -INFINITY,
                            io->act_fused ? io->act_hi : INFINITY};
    shr_status st = shr_spmm_f32(A, (int)x->shape[0], shr_f32(x), A->K, &ep, shr_f32(io->out), A->N);
    if (!io->state) free_mat(A);
    return st;
}

static int64_t splinear_flops(const shr_graph *g, const shr_node *n) {
    const shr_value *w = shr_node_in(g, n, 1);
    shr_spq_info in;
    if (!w->data || shr_spq_header(w->data->data, (size_t)w->data->numel, &in) != SHR_OK) return 0;
    return 2 * (int64_t)in.N * in.K; /* dense, like every layer; compare scales by density */
}

const shr_op_def shr_op_splinear = {
    .name = "splinear",
    .min_inputs = 2,
    .max_inputs = 3,
    .infer = splinear_infer,
    .forward = splinear_forward,
    .flops = splinear_flops,
    .free_state = free_mat,
};
