/* Reference integer GEMM: plain C, one output at a time, straight from the definitions in
 * qgemm.h. It reads W through the panel index (the packing itself is checked against the
 * caller's W by the tests) and is the same for every path: the paths differ only in how the
 * AVX2 kernel reaches the same exact integers. */
#include <math.h>

#include "kernels/qgemm_internal.h"

static int act_at(const shr_qgemm_packed *p, const void *X, long ldx, int m, int k) {
    long i = (long)m * ldx + k;
    switch (p->act.type) {
    case SHR_U8: return ((const uint8_t *)X)[i];
    case SHR_I8: return ((const int8_t *)X)[i];
    default: return ((const int16_t *)X)[i];
    }
}

static int w_at(const shr_qgemm_packed *p, int n, int k) {
    long i = shr_qg_index(p, n, k);
    return p->path == SHR_QPATH_S16 ? ((const int16_t *)p->w)[i] : ((const int8_t *)p->w)[i];
}

void shr_qg_band_ref(const shr_qgemm_packed *p, int m0, int m1, int p0, int p1, const void *X, long ldx,
                     const shr_qout *o, void *scratch, shr_qg_bad *bad) {
    (void)scratch;
    int n0 = p0 * SHR_QG_NR, n1 = p1 * SHR_QG_NR < p->N ? p1 * SHR_QG_NR : p->N;
    for (int m = m0; m < m1; m++) {
        for (int k = 0; k < p->K; k++) {
            int x = act_at(p, X, ldx, m, k);
            if (!shr_qg_act_ok(p, x)) {
                bad->row = m, bad->col = k, bad->value = x;
                return;
            }
        }
        for (int n = n0; n < n1; n++) {
            /* The contract bounds every partial sum, so int32 cannot overflow here. */
            int32_t acc = 0;
            for (int k = 0; k < p->K; k++) acc += (act_at(p, X, ldx, m, k) + p->off) * w_at(p, n, k);
            acc += p->comp[n];
            int c = o->per_channel ? n : 0;
            long yi = (long)m * o->ldy + n;
            switch (o->kind) {
            case SHR_QOUT_S32: ((int32_t *)o->y)[yi] = acc; break;
            case SHR_QOUT_U8:
                ((uint8_t *)o->y)[yi] =
                    (uint8_t)shr_requant(acc, o->multiplier[c], o->shift[c], o->zero_point, o->qmin, o->qmax);
                break;
            case SHR_QOUT_S8:
                ((int8_t *)o->y)[yi] =
                    (int8_t)shr_requant(acc, o->multiplier[c], o->shift[c], o->zero_point, o->qmin, o->qmax);
                break;
            case SHR_QOUT_F32: {
                float v = fmaf((float)acc, o->x_scale * o->w_scale[c], o->bias ? o->bias[n] : 0.0f);
                ((float *)o->y)[yi] = o->relu && !(v > 0.0f) ? 0.0f : v;
                break;
            }
            case SHR_QOUT_U8F:
            case SHR_QOUT_S8F: {
                float lo = (float)(o->qmin - o->zero_point), hi = (float)(o->qmax - o->zero_point);
                float v = (float)acc * o->rq_scale[c];
                v = v < lo ? lo : v > hi ? hi : v;
                int q = (int)nearbyintf(v) + o->zero_point; /* half to even: the default rounding mode */
                if (o->kind == SHR_QOUT_U8F) ((uint8_t *)o->y)[yi] = (uint8_t)q;
                else ((int8_t *)o->y)[yi] = (int8_t)q;
                break;
            }
            }
        }
    }
}
