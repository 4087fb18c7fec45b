/* Plain-C reference of every sparse format, Y[m, n] = sum_k W[n, k] X[m, k] with X and Y in
 * either layout (sp_xat, sp_yat): for each activation row m, each output row's sum in storage
 * order (f32, or exact s32 for int8 activations), then the epilogue. Also the fallback the
 * dispatcher threads on CPUs without AVX2 (dense goes to the GEMV / GEMM). */
#include "kernels/sparse_internal.h"

/* Sums of rows [lo, hi) against one activation row: ACC the accumulator type, WV(i) the
 * stored value i, XV(k) the activation at column k; output n at y[n * ys]. */
#define SP_REF_ROWS(ACC, WV, XV)                                                                   \
    do {                                                                                           \
        const shr_spmat *A = j->A;                                                                 \
        if (A->nm_keep) {                                                                   \
            int64_t slots = (((int64_t)A->K + 3) / 4) * A->nm_keep;                                \
            for (int n = lo; n < hi; n++) {                                                        \
                const uint8_t *pr = A->pos + (int64_t)n * A->pos_stride;                           \
                ACC acc = 0;                                                                       \
                for (int64_t s = 0; s < slots; s++) {                                              \
                    int k = (int)(s / A->nm_keep * 4 + ((pr[s >> 2] >> (2 * (s & 3))) & 3));       \
                    acc += WV((int64_t)n * slots + s) * XV(k);                                     \
                }                                                                                  \
                y[(size_t)n * ys] = sp_epilogue(j, n, (float)acc);                                              \
            }                                                                                      \
        } else {                                                                                   \
            for (int ib = lo / A->br; ib * A->br < hi; ib++) {                                     \
                ACC acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                             \
                for (int64_t b = A->rowptr[ib]; b < A->rowptr[ib + 1]; b++) {                      \
                    int k0 = sp_col(A, b);                                                         \
                    for (int r = 0; r < A->br; r++)                                                \
                        for (int c = 0; c < A->bc && k0 + c < A->K; c++)                           \
                            acc[r] += WV((b * A->br + r) * A->bc + c) * XV(k0 + c);                \
                }                                                                                  \
                for (int r = 0; r < A->br && ib * A->br + r < hi; r++)                             \
                    y[(size_t)(ib * A->br + r) * ys] = sp_epilogue(j, ib * A->br + r, (float)acc[r]);             \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static void rows_f32(const sp_job *j, const float *x, size_t xs, float *y, size_t ys, int lo, int hi) {
    const float *wf = j->A->values;
    const int8_t *wq = j->A->values;
    if (j->vt == SP_VF) {
#define WV(i) wf[i]
#define XV(k) x[(size_t)(k) * xs]
        SP_REF_ROWS(float, WV, XV);
#undef WV
    } else {
#define WV(i) (float)wq[i]
        SP_REF_ROWS(float, WV, XV);
#undef WV
#undef XV
    }
}

static void rows_q8(const sp_job *j, const void *xv, size_t xs, float *y, size_t ys, int lo, int hi) {
    const int8_t *wq = j->A->values, *xsg = xv;
    const uint8_t *xu = xv;
    int zero = j->x_zero;
#define WV(i) (int32_t)wq[i]
    if (j->x_signed) {
#define XV(k) ((int32_t)xsg[(size_t)(k) * xs] - zero)
        SP_REF_ROWS(int32_t, WV, XV);
#undef XV
    } else {
#define XV(k) ((int32_t)xu[(size_t)(k) * xs] - zero)
        SP_REF_ROWS(int32_t, WV, XV);
#undef XV
    }
#undef WV
}

void shr_sp_rows_ref(const sp_job *j, int lo, int hi) {
    size_t xs = j->kn ? (size_t)j->ldx : 1, ys = j->kn ? (size_t)j->ldy : 1; /* strides along k, n */
    for (int m = 0; m < j->M; m++) {
        float *y = j->Y + sp_yat(j, m, 0);
        if (j->vt == SP_VQ)
            rows_q8(j, (const int8_t *)j->X + sp_xat(j, m, 0), xs, y, ys, lo, hi);
        else
            rows_f32(j, (const float *)j->X + sp_xat(j, m, 0), xs, y, ys, lo, hi);
    }
}
