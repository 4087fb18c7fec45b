/* Integer GEMM: every path and output kind of the AVX2 kernel and the threaded dispatch,
 * bit-exact against the reference, and the reference's s32 against a direct int64 sum over
 * the caller's W and X (so packing errors cannot hide). Shapes: each of M, N, K over 1..67
 * with the others from {1, 7, 16, 67}, plus random triples; padded strides, misaligned
 * pointers, extreme codes, zero points 0/128/255, 1 vs 2 threads, pack and run refusals.
 * On a CPU with AVX-512 VNNI the kernel tests run twice: with the VNNI micro-kernel and with
 * the AVX2 ones alone. */
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/qgemm.h"
#include "kernels/qgemm_avx2.h"
#include "shrink/tensor.h"
#include "shrink/threads.h"
#include "test.h"

static uint32_t rng = 12345u;
static uint32_t rnd(void) {
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}
static int rint_in(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

static int have_avx2(void) { return shr_cpu_has_avx2_fma(); }

/* One problem: weights, activations, contract, path. */
typedef struct qcase {
    shr_qpath path;
    shr_qact act;
    int M, N, K, pad, off; /* pad: extra stride elements; off: base offset (bytes for 8-bit) */
    int wlo, whi, xlo, xhi;
    int with_bias;
} qcase;

typedef struct qdata {
    void *wbuf, *xbuf;
    const void *W, *X;
    long ldw, ldx;
    int32_t *bias;
} qdata;

static int esz_of(const qcase *c) { return c->path == SHR_QPATH_S16 ? 2 : 1; }

static int x_at(const qcase *c, const qdata *d, int m, int k) {
    long i = (long)m * d->ldx + k;
    if (c->act.type == SHR_U8) return ((const uint8_t *)d->X)[i];
    if (c->act.type == SHR_I8) return ((const int8_t *)d->X)[i];
    return ((const int16_t *)d->X)[i];
}
static int w_at(const qcase *c, const qdata *d, int n, int k) {
    long i = (long)n * d->ldw + k;
    return esz_of(c) == 2 ? ((const int16_t *)d->W)[i] : ((const int8_t *)d->W)[i];
}

static void make_data(const qcase *c, qdata *d) {
    int e = esz_of(c), xe = c->act.type == SHR_I16 ? 2 : 1;
    d->ldw = c->K + c->pad;
    d->ldx = c->K + c->pad;
    d->wbuf = shr_alloc((size_t)c->N * d->ldw * e + 8);
    d->xbuf = shr_alloc((size_t)c->M * d->ldx * xe + 8);
    d->bias = shr_alloc((size_t)c->N * sizeof(int32_t));
    d->W = (char *)d->wbuf + (e == 1 ? c->off : 2 * c->off);
    d->X = (char *)d->xbuf + (xe == 1 ? c->off : 2 * c->off);
    for (long i = 0; i < (long)c->N * d->ldw; i++) {
        int v = rint_in(c->wlo, c->whi);
        if (e == 1) ((int8_t *)d->W)[i] = (int8_t)v;
        else ((int16_t *)d->W)[i] = (int16_t)v;
    }
    for (long i = 0; i < (long)c->M * d->ldx; i++) {
        int v = rint_in(c->xlo, c->xhi);
        if (c->act.type == SHR_U8) ((uint8_t *)d->X)[i] = (uint8_t)v;
        else if (c->act.type == SHR_I8) ((int8_t *)d->X)[i] = (int8_t)v;
        else ((int16_t *)d->X)[i] = (int16_t)v;
    }
    for (int n = 0; n < c->N; n++) d->bias[n] = c->with_bias ? rint_in(-100000, 100000) : 0;
}

static void free_data(qdata *d) {
    shr_free(d->wbuf);
    shr_free(d->xbuf);
    shr_free(d->bias);
}

static shr_status pack(const qcase *c, const qdata *d, shr_qgemm_packed **p) {
    if (c->path == SHR_QPATH_S16) return shr_qgemm_pack_s16(p, c->N, c->K, d->W, d->ldw, &c->act, d->bias);
    return shr_qgemm_pack_s8(p, c->path, c->N, c->K, d->W, d->ldw, &c->act, d->bias);
}

#define QMAXN 4096
/* Output parameters for `kind` with per-channel (or not) multipliers near realistic scales. */
typedef struct qoutbuf {
    shr_qout o;
    int32_t mult[QMAXN], shift[QMAXN];
    float ws[QMAXN], fb[QMAXN], rq[QMAXN];
} qoutbuf;

static void make_out(qoutbuf *b, shr_qout_kind kind, int N, int per_channel, int K) {
    memset(b, 0, sizeof *b);
    if (N > QMAXN) N = QMAXN, per_channel = 0;
    b->o.kind = kind;
    b->o.per_channel = per_channel;
    int nc = per_channel ? N : 1;
    for (int i = 0; i < nc; i++) {
        double scale = (double)rint_in(1, 1000) / (1000.0 * (20.0 + K * 30.0)); /* typical: ~1/(K*max) */
        int v = rint_in(0, 19);
        if (v == 0) scale *= 4096.0;                              /* some with a left shift */
        if (v == 1) scale = 0.5 + rint_in(0, 999) * 0.0005;       /* no shift at all */
        if (v == 2) scale = 1.0 / (double)(1 << rint_in(1, 20)); /* multiplier 2^30: exact ties */
        CHECK_OK(shr_quant_multiplier(scale, &b->mult[i], &b->shift[i]));
        b->ws[i] = (float)rint_in(1, 1000) * 1e-4f;
        b->rq[i] = (float)scale;
    }
    for (int i = 0; i < N; i++) b->fb[i] = (float)rint_in(-1000, 1000) * 0.01f;
    b->o.rq_scale = b->rq;
    b->o.multiplier = b->mult;
    b->o.shift = b->shift;
    int u8 = kind == SHR_QOUT_U8 || kind == SHR_QOUT_U8F;
    b->o.zero_point = u8 ? rint_in(0, 255) : rint_in(-128, 127);
    b->o.qmin = u8 ? 0 : -128;
    b->o.qmax = u8 ? 255 : 127;
    if (rint_in(0, 3) == 0) b->o.qmin = b->o.zero_point; /* fused ReLU */
    if (rint_in(0, 3) == 0) b->o.qmax = b->o.qmin + rint_in(0, (u8 ? 255 : 127) - b->o.qmin); /* ReLU6-like */
    b->o.x_scale = 0.0125f;
    b->o.w_scale = b->ws;
    b->o.bias = rint_in(0, 1) ? b->fb : NULL;
    b->o.relu = rint_in(0, 1);
}

static size_t out_esz(shr_qout_kind k) { return k == SHR_QOUT_S32 || k == SHR_QOUT_F32 ? 4 : 1; }
#define NKINDS 6
#define ALL_KINDS 0x3Fu

/* Runs fn into a fresh buffer (misaligned by `off` bytes for 8-bit outputs, padded stride,
 * sentinels around) and returns it; *st gets the status. */
static unsigned char *run_into(shr_status (*fn)(const shr_qgemm_packed *, int, const void *, long, const shr_qout *),
                               const shr_qgemm_packed *p, const qcase *c, const qdata *d, qoutbuf *b,
                               shr_status *st) {
    size_t e = out_esz(b->o.kind);
    long ldy = c->N + c->pad;
    size_t off = e == 1 ? (size_t)c->off : 0, bytes = (size_t)c->M * ldy * e + off + 64;
    unsigned char *buf = shr_alloc(bytes);
    if (!buf) return NULL;
    memset(buf, 0xA5, bytes);
    b->o.y = buf + off;
    b->o.ldy = ldy;
    *st = fn(p, c->M, d->X, d->ldx, &b->o);
    return buf;
}

/* Compares ref, AVX2 and dispatch for one output kind; s32 also against the int64 oracle. */
static int check_kind(const shr_qgemm_packed *p, const qcase *c, const qdata *d, shr_qout_kind kind) {
    static qoutbuf b;
    make_out(&b, kind, c->N, rint_in(0, 1), c->K);
    shr_status s1, s2 = SHR_OK, s3;
    size_t e = out_esz(kind), bytes = (size_t)c->M * (c->N + c->pad) * e + (e == 1 ? c->off : 0) + 64;
    unsigned char *r = run_into(shr_qgemm_ref, p, c, d, &b, &s1);
    unsigned char *a = have_avx2() ? run_into(shr_qgemm_avx2, p, c, d, &b, &s2) : NULL;
    unsigned char *t = run_into(shr_qgemm, p, c, d, &b, &s3);
    int ok = r && t && s1 == SHR_OK && s2 == SHR_OK && s3 == SHR_OK && memcmp(r, t, bytes) == 0;
    if (a) ok = ok && memcmp(r, a, bytes) == 0;
    if (ok && kind == SHR_QOUT_S32) {
        const int32_t *y = (const int32_t *)r;
        for (int m = 0; m < c->M && ok; m++)
            for (int n = 0; n < c->N && ok; n++) {
                int64_t s = d->bias[n];
                for (int k = 0; k < c->K; k++) s += (int64_t)(x_at(c, d, m, k) - c->act.zero_point) * w_at(c, d, n, k);
                ok = s == y[(long)m * (c->N + c->pad) + n];
            }
    }
    if (!ok)
        fprintf(stderr, "qgemm mismatch: path %s act %s/%d zp %d M=%d N=%d K=%d pad %d off %d kind %d (st %d %d %d)\n",
                shr_qpath_name(c->path), shr_dtype_name(c->act.type), c->act.bits, c->act.zero_point, c->M, c->N,
                c->K, c->pad, c->off, (int)kind, s1, s2, s3);
    shr_free(r);
    shr_free(a);
    shr_free(t);
    return ok;
}

/* Packs and checks `kinds` output kinds (bit mask of 1 << kind). */
static int run_case(const qcase *c, unsigned kinds) {
    qdata d;
    make_data(c, &d);
    shr_qgemm_packed *p = NULL;
    int ok = d.wbuf && d.xbuf && d.bias && pack(c, &d, &p) == SHR_OK;
    if (!ok) fprintf(stderr, "pack failed: %s\n", shr_last_error());
    if (ok) {
        shr_qgemm_info info;
        shr_qgemm_get_info(p, &info);
        ok = c->path == SHR_QPATH_AUTO || info.path == c->path;
    }
    for (int k = 0; k < NKINDS && ok; k++)
        if (kinds & (1u << k)) ok = check_kind(p, c, &d, (shr_qout_kind)k);
    shr_qgemm_packed_free(p);
    free_data(&d);
    return ok;
}

/* A case of `path` with random in-contract ranges for it; `variant` picks the activations. */
static qcase make_case(shr_qpath path, int variant, int M, int N, int K) {
    qcase c;
    memset(&c, 0, sizeof c);
    c.path = path;
    c.M = M, c.N = N, c.K = K;
    c.pad = variant % 3;
    c.off = variant % 4;
    c.with_bias = variant & 1;
    if (path == SHR_QPATH_S16) {
        c.act = (shr_qact){SHR_I16, 0, 16, 1000};
        int wmax = (int)(2147483647LL / (1000LL * K)); /* 1000 * sum|w| < 2^31 */
        if (wmax > 30000) wmax = 30000;
        c.xlo = -1000, c.xhi = 1000, c.wlo = -wmax, c.whi = wmax;
        return c;
    }
    static const int zps[] = {0, 128, 255, 3};
    int u8 = variant % 2 == 0, bits = variant % 5 == 0 ? 7 : 8;
    c.act.type = u8 ? SHR_U8 : SHR_I8;
    c.act.bits = bits;
    c.act.zero_point = u8 ? zps[variant % 4] % (bits == 7 ? 128 : 256) : rint_in(-20, 20);
    c.xlo = u8 ? 0 : bits == 7 ? -64 : -128;
    c.xhi = u8 ? (bits == 7 ? 127 : 255) : (bits == 7 ? 63 : 127);
    c.wlo = -128, c.whi = 127;
    if (path == SHR_QPATH_REDUCED && bits == 8) c.wlo = -64, c.whi = 64;
    if (path == SHR_QPATH_I16ACC) {
        int lim = variant % 3 == 0 ? 8 : bits == 7 ? 64 : 32; /* S = 8 or the smallest S = 2 */
        c.wlo = -lim, c.whi = lim - (variant % 3 == 0);
    }
    return c;
}

static const shr_qpath all_paths[] = {SHR_QPATH_EXACT, SHR_QPATH_REDUCED, SHR_QPATH_I16ACC, SHR_QPATH_S16,
                                      SHR_QPATH_AUTO};

/* Each of M, N, K over 1..67 with the other two from {1, 7, 16, 67}: every combination runs two
 * of the five paths (rotating) with one output kind (rotating), so each path and each kind meets
 * every value of every dimension. */
static void test_shape_sweep(void) {
    static const int others[] = {1, 7, 16, 67};
    const int npaths = sizeof all_paths / sizeof *all_paths;
    int ok = 1, idx = 0;
    for (int dim = 0; dim < 3; dim++)
        for (int v = 1; v <= 67; v++)
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4 && ok; b++, idx++) {
                    int s[3];
                    s[dim] = v;
                    s[(dim + 1) % 3] = others[a];
                    s[(dim + 2) % 3] = others[b];
                    for (int t = 0; t < 2 && ok; t++) {
                        int pi = (2 * idx + t) % npaths;
                        qcase c = make_case(all_paths[pi], idx + pi, s[0], s[1], s[2]);
                        ok = run_case(&c, 1u << ((idx + 3 * t) % NKINDS));
                    }
                }
    CHECK(ok);
}

/* Random shapes up to 150 x 150 x 700, every path, two output kinds each. */
static void test_random_triples(void) {
    int ok = 1;
    for (int t = 0; t < 30 && ok; t++) {
        int M = rint_in(1, 150), N = rint_in(1, 150), K = rint_in(1, 700);
        for (size_t pi = 0; pi < sizeof all_paths / sizeof *all_paths && ok; pi++) {
            qcase c = make_case(all_paths[pi], t * 7 + (int)pi, M, N, K);
            ok = run_case(&c, (1u << ((t + pi) % NKINDS)) | (1u << ((t + pi + 3) % NKINDS)));
        }
    }
    CHECK(ok);
}

/* Constant extremes: every product at its largest magnitude, zero points 0/128/255. */
static void test_extremes(void) {
    static const int zps[] = {0, 128, 255};
    int ok = 1;
    for (int z = 0; z < 3; z++)
        for (int ws = 0; ws < 2; ws++)
            for (int K = 1; K <= 1100 && ok; K = K * 3 + 2) {
                qcase c = make_case(SHR_QPATH_EXACT, 2, 13, 19, K); /* u8 8-bit */
                c.act.zero_point = zps[z];
                c.xlo = c.xhi = 255;
                c.wlo = c.whi = ws ? -128 : 127;
                ok = run_case(&c, ALL_KINDS);
                c.xlo = c.xhi = 0;
                ok = ok && run_case(&c, 1);
                /* i8 -128 x -128 */
                c.act = (shr_qact){SHR_I8, 0, 8, 0};
                c.xlo = c.xhi = -128;
                c.wlo = c.whi = -128;
                ok = ok && run_case(&c, ALL_KINDS);
                /* reduced: u7 127 x -128 / 127 */
                c = make_case(SHR_QPATH_REDUCED, 10, 13, 19, K); /* u8 7-bit */
                c.act.zero_point = zps[z] / 2;
                c.xlo = c.xhi = 127;
                c.wlo = c.whi = ws ? -128 : 127;
                ok = ok && run_case(&c, ALL_KINDS);
                /* reduced with 8-bit activations: 255 x -64 / 64 */
                c = make_case(SHR_QPATH_REDUCED, 2, 13, 19, K);
                c.act.zero_point = zps[z];
                c.xlo = c.xhi = 255;
                c.wlo = c.whi = ws ? -64 : 64;
                ok = ok && run_case(&c, ALL_KINDS);
                /* i16acc at its bound: 255 x -8 (S = 8), 255 x 32 (S = 2) */
                c = make_case(SHR_QPATH_I16ACC, 2, 13, 19, K);
                c.act.zero_point = zps[z];
                c.xlo = c.xhi = 255;
                c.wlo = c.whi = ws ? -8 : 7;
                ok = ok && run_case(&c, ALL_KINDS);
                c.wlo = c.whi = ws ? -32 : 32;
                ok = ok && run_case(&c, ALL_KINDS);
            }
    /* s16: +-max_abs x +-32767 where K * max_abs * 32767 < 2^31 */
    for (int sgn = 0; sgn < 4 && ok; sgn++) {
        qcase c = make_case(SHR_QPATH_S16, 0, 9, 21, 2);
        c.act.max_abs = 32768;
        c.xlo = c.xhi = sgn & 1 ? -32768 : 32767;
        c.wlo = c.whi = sgn & 2 ? -32767 : 32767;
        c.with_bias = 0;
        ok = run_case(&c, ALL_KINDS);
    }
    CHECK(ok);
}

/* The same in-contract data (u7 activations, |w| <= 8) through every s8 path: identical bits. */
static void test_paths_agree(void) {
    int M = 37, N = 45, K = 300;
    qcase c = make_case(SHR_QPATH_EXACT, 10, M, N, K); /* u8 7-bit */
    c.wlo = -8, c.whi = 7;
    qdata d;
    make_data(&c, &d);
    int32_t *y[4] = {0};
    for (int pi = 0; pi < 4; pi++) {
        shr_qpath path = pi == 3 ? SHR_QPATH_AUTO : all_paths[pi];
        shr_qgemm_packed *p = NULL;
        CHECK_OK(shr_qgemm_pack_s8(&p, path, N, K, d.W, d.ldw, &c.act, d.bias));
        y[pi] = shr_alloc((size_t)M * N * sizeof(int32_t));
        shr_qout o = {.kind = SHR_QOUT_S32, .y = y[pi], .ldy = N};
        if (p && y[pi]) CHECK_OK(shr_qgemm(p, M, d.X, d.ldx, &o));
        if (pi == 3 && p) {
            shr_qgemm_info info;
            shr_qgemm_get_info(p, &info);
            CHECK(info.path == SHR_QPATH_I16ACC && info.i16_steps == 16);
        }
        shr_qgemm_packed_free(p);
    }
    for (int pi = 1; pi < 4; pi++) CHECK(y[0] && y[pi] && memcmp(y[0], y[pi], (size_t)M * N * sizeof(int32_t)) == 0);
    for (int pi = 0; pi < 4; pi++) shr_free(y[pi]);
    free_data(&d);
}

/* Row bands (M large) and panel bands (M = 1): 1 and 2 threads agree bit for bit. */
static void test_threads(void) {
    static const int shapes[][3] = {{200, 300, 500}, {1, 4096, 256}, {5, 1000, 333}};
    for (int s = 0; s < 3; s++)
        for (int pi = 0; pi < 4; pi++) {
            qcase c = make_case(all_paths[pi], 2, shapes[s][0], shapes[s][1], shapes[s][2]);
            qdata d;
            make_data(&c, &d);
            shr_qgemm_packed *p = NULL;
            CHECK_OK(pack(&c, &d, &p));
            size_t bytes = (size_t)c.M * c.N * sizeof(float);
            float *y1 = shr_alloc(bytes), *y2 = shr_alloc(bytes);
            static qoutbuf b;
            make_out(&b, (shr_qout_kind)((pi + s) % NKINDS), c.N, 1, c.K);
            b.o.ldy = c.N;
            if (p && y1 && y2) {
                shr_set_threads(1);
                b.o.y = y1;
                CHECK_OK(shr_qgemm(p, c.M, d.X, d.ldx, &b.o));
                shr_set_threads(2);
                b.o.y = y2;
                CHECK_OK(shr_qgemm(p, c.M, d.X, d.ldx, &b.o));
                CHECK(memcmp(y1, y2, (size_t)c.M * c.N * out_esz(b.o.kind)) == 0);
            }
            shr_free(y1), shr_free(y2);
            shr_qgemm_packed_free(p);
            free_data(&d);
        }
}

static void test_pack_refuses(void) {
    int8_t w[4 * 8];
    int32_t bias[4] = {0};
    shr_qgemm_packed *p = (shr_qgemm_packed *)&p;
    shr_qact u8a = {SHR_U8, 128, 8, 0}, u7a = {SHR_U8, 0, 7, 0};
    memset(w, 33, sizeof w);
    CHECK_STATUS(shr_qgemm_pack_s8(&p, SHR_QPATH_I16ACC, 4, 8, w, 8, &u8a, bias), SHR_ERR_INVALID_ARG);
    CHECK(p == NULL);
    memset(w, 32, sizeof w);
    CHECK_OK(shr_qgemm_pack_s8(&p, SHR_QPATH_I16ACC, 4, 8, w, 8, &u8a, bias));
    shr_qgemm_packed_free(p);
    w[5] = 65;
    CHECK_STATUS(shr_qgemm_pack_s8(&p, SHR_QPATH_REDUCED, 4, 8, w, 8, &u8a, bias), SHR_ERR_INVALID_ARG);
    w[5] = -64;
    CHECK_OK(shr_qgemm_pack_s8(&p, SHR_QPATH_REDUCED, 4, 8, w, 8, &u8a, bias));
    shr_qgemm_packed_free(p);
    w[5] = -128;
    CHECK_OK(shr_qgemm_pack_s8(&p, SHR_QPATH_REDUCED, 4, 8, w, 8, &u7a, bias)); /* u7 x s8 */
    shr_qgemm_packed_free(p);
    CHECK_STATUS(shr_qgemm_pack_s8(&p, SHR_QPATH_S16, 4, 8, w, 8, &u8a, bias), SHR_ERR_INVALID_ARG);
    shr_qact badzp = {SHR_U8, 256, 8, 0}, badbits = {SHR_I8, 0, 6, 0};
    CHECK_STATUS(shr_qgemm_pack_s8(&p, SHR_QPATH_EXACT, 4, 8, w, 8, &badzp, bias), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_qgemm_pack_s8(&p, SHR_QPATH_EXACT, 4, 8, w, 8, &badbits, bias), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_qgemm_pack_s8(&p, SHR_QPATH_EXACT, 4, 9, w, 8, &u8a, bias), SHR_ERR_INVALID_ARG); /* ldw < K */
    /* overflow contract: 255 * 127 * K >= 2^31 for K = 66400 */
    int K = 66400;
    int8_t *big = shr_alloc((size_t)K);
    if (big) {
        memset(big, 127, (size_t)K);
        CHECK_STATUS(shr_qgemm_pack_s8(&p, SHR_QPATH_EXACT, 1, K, big, K, &u8a, NULL), SHR_ERR_INVALID_ARG);
        /* a bias that fits with zero point 128 (|x - zx| <= 128) but not with 0 (255): the
         * re-fold is refused and p keeps zero point 128 */
        int32_t b1 = 1200000000;
        CHECK_OK(shr_qgemm_pack_s8(&p, SHR_QPATH_EXACT, 1, K / 2, big, K, &u8a, &b1));
        if (p) {
            int32_t y = 0;
            uint8_t *x = shr_alloc((size_t)K);
            shr_qout o = {.kind = SHR_QOUT_S32, .y = &y, .ldy = 1};
            CHECK_STATUS(shr_qgemm_set_zero_point(p, 0), SHR_ERR_INVALID_ARG);
            CHECK_STATUS(shr_qgemm_set_zero_point(p, 256), SHR_ERR_INVALID_ARG);
            if (x) {
                memset(x, 1, (size_t)K);
                CHECK_OK(shr_qgemm(p, 1, x, K, &o));
                CHECK(y == (int64_t)(1 - 128) * 127 * (K / 2) + b1);
                CHECK_OK(shr_qgemm_set_zero_point(p, 200)); /* |x - zx| <= 200 */
                CHECK_OK(shr_qgemm(p, 1, x, K, &o));
                CHECK(y == (int64_t)(1 - 200) * 127 * (K / 2) + b1);
            }
            shr_free(x);
        }
        shr_qgemm_packed_free(p);
        shr_free(big);
    }
    int16_t w16[8] = {1, 2, 3, -32768, 5, 6, 7, 8};
    shr_qact s16a = {SHR_I16, 0, 16, 100};
    CHECK_STATUS(shr_qgemm_pack_s16(&p, 1, 8, w16, 8, &s16a, NULL), SHR_ERR_INVALID_ARG);
    w16[3] = -32767;
    CHECK_OK(shr_qgemm_pack_s16(&p, 1, 8, w16, 8, &s16a, NULL));
    shr_qgemm_packed_free(p);
    s16a.max_abs = 0;
    CHECK_STATUS(shr_qgemm_pack_s16(&p, 1, 8, w16, 8, &s16a, NULL), SHR_ERR_INVALID_ARG);
}

/* Activations outside the declared 7-bit / max_abs range are an error naming the first one. */
static void test_run_refuses(void) {
    for (int pi = 0; pi < 8; pi++) { /* each path with a padded stride and with rows back to back */
        qcase c = make_case(all_paths[pi % 4], 10, 70, 20, 50); /* 7-bit u8 (or s16 with max_abs 1000) */
        c.pad = pi / 4;
        qdata d;
        make_data(&c, &d);
        if (c.path == SHR_QPATH_S16) ((int16_t *)d.X)[(long)41 * d.ldx + 33] = 1001;
        else ((uint8_t *)d.X)[(long)41 * d.ldx + 33] = 128;
        shr_qgemm_packed *p = NULL;
        CHECK_OK(pack(&c, &d, &p));
        int32_t *y = shr_alloc((size_t)c.M * c.N * sizeof(int32_t));
        int32_t mult = 1 << 30, shift = -8;
        shr_qout o = {.kind = pi % 2 ? SHR_QOUT_U8 : SHR_QOUT_S32, .y = y, .ldy = c.N, .multiplier = &mult,
                      .shift = &shift, .qmax = 255}; /* the fused codes path too */
        shr_status (*fns[3])(const shr_qgemm_packed *, int, const void *, long, const shr_qout *) = {
            shr_qgemm_ref, shr_qgemm_avx2, shr_qgemm};
        for (int f = 0; f < 3 && p && y; f++) {
            if (f == 1 && !have_avx2()) continue;
            for (int t = 1; t <= 2; t++) {
                shr_set_threads(t);
                CHECK_STATUS(fns[f](p, c.M, d.X, d.ldx, &o), SHR_ERR_INVALID_ARG);
                CHECK(strstr(shr_last_error(), "row 41, column 33") != NULL);
            }
        }
        o.ldy = c.N - 1;
        if (p) CHECK_STATUS(shr_qgemm(p, 1, d.X, d.ldx, &o), SHR_ERR_INVALID_ARG);
        shr_free(y);
        shr_qgemm_packed_free(p);
        free_data(&d);
    }
}

/* SHRINK_KERNELS=generic / forced reference: shr_qgemm still gives the same bits. */
static void test_forced_reference(void) {
    qcase c = make_case(SHR_QPATH_I16ACC, 0, 64, 40, 90);
    shr_force_reference_kernels(1);
    CHECK(run_case(&c, ALL_KINDS));
    shr_force_reference_kernels(0);
}

/* The fused VNNI output stage's tiles and stores: N across panel pairs and partial panels,
 * rows contiguous (ldy = N: whole-vector stores for 16 and 32 channels) or not, M not a multiple
 * of the 6-row tile, K = 1..64, every codes kind. */
static void test_codes_tiles(void) {
    static const int Ns[] = {1, 6, 15, 16, 17, 31, 32, 33, 48, 64}, Ms[] = {1, 5, 6, 7, 13, 50}, Ks[] = {1, 9, 25, 64};
    int ok = 1, v = 0;
    for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns && ok; ni++)
        for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms && ok; mi++)
            for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks && ok; ki++, v++) {
                qcase c = make_case(v % 2 ? SHR_QPATH_REDUCED : SHR_QPATH_EXACT, v, Ms[mi], Ns[ni], Ks[ki]);
                c.act = (shr_qact){SHR_U8, rint_in(0, 127), v % 2 ? 7 : 8, 0};
                c.xlo = 0, c.xhi = v % 2 ? 127 : 255, c.wlo = -64, c.whi = 64;
                c.pad = v % 3 == 0, c.off = v % 4;
                ok = run_case(&c, (1u << SHR_QOUT_U8) | (1u << SHR_QOUT_S8) | (1u << SHR_QOUT_U8F) | (1u << SHR_QOUT_S8F));
            }
    CHECK(ok);
}

/* The requantization on accumulators across int32 (K = 1, w = +-1, biases up to +-2^30), every
 * right shift 1..31 (the 64-bit rounding), shifts 0 and left (step by step), multipliers of 2^30
 * (exact ties) and random ones, per channel, u8 and s8 out, full and clamped ranges; and the float
 * multiplier (U8F / S8F) with products past 2^31 and infinite. */
static void test_requant_stage(void) {
    enum { N = 48, M = 64 };
    int8_t W[N];
    int32_t bias[N], mult[N], shift[N];
    float rq[N];
    uint8_t X[M], y0[M * N], y1[M * N];
    for (int t = 0; t < 36; t++) {
        for (int n = 0; n < N; n++) {
            W[n] = (int8_t)(rint_in(0, 1) ? 1 : -1);
            int big = rint_in(0, 2);
            bias[n] = big == 0 ? rint_in(-1000, 1000) : (int32_t)(rnd() << 8 ^ rnd()) % (big == 1 ? (1 << 20) : (1 << 30));
            mult[n] = rint_in(0, 3) == 0 ? (1 << 30) : (int32_t)(0x40000000u + (rnd() & 0x3FFFFFFFu));
            shift[n] = t < 16 ? -1 - (n + t) % 31 : rint_in(-31, 3);
            static const float big_rq[] = {1e-9f, 0.25f, 1.0f, 1e3f, 1e9f, 3e38f}; /* products past 2^31, inf */
            rq[n] = rint_in(0, 1) ? big_rq[rint_in(0, 5)] : (float)rint_in(1, 1 << 20) / (float)(1 << 20);
        }
        for (int m = 0; m < M; m++) X[m] = (uint8_t)rint_in(0, 255);
        shr_qact act = {SHR_U8, rint_in(0, 255), 8, 0};
        shr_qgemm_packed *p = NULL;
        CHECK_OK(shr_qgemm_pack_s8(&p, SHR_QPATH_EXACT, N, 1, W, 1, &act, bias));
        int u8 = t % 2 == 0;
        shr_qout o = {.kind = u8 ? SHR_QOUT_U8 : SHR_QOUT_S8, .ldy = N, .per_channel = 1, .multiplier = mult,
                      .shift = shift, .rq_scale = rq};
        if (t >= 24) o.kind = u8 ? SHR_QOUT_U8F : SHR_QOUT_S8F;
        o.zero_point = u8 ? rint_in(0, 255) : rint_in(-128, 127);
        o.qmin = u8 ? 0 : -128, o.qmax = u8 ? 255 : 127;
        if (t % 4 >= 2) o.qmin = o.zero_point, o.qmax = o.qmin + rint_in(0, (u8 ? 255 : 127) - o.qmin);
        o.y = y0;
        CHECK_OK(shr_qgemm_ref(p, M, X, 1, &o));
        o.y = y1;
        CHECK_OK(shr_qgemm(p, M, X, 1, &o));
        CHECK_MSG(memcmp(y0, y1, sizeof y0) == 0, "requant stage case %d differs", t);
        shr_qgemm_packed_free(p);
    }
}

/* shr_qgemm_taps (convolution rows read in place from a padded channels-last image) against
 * shr_qgemm_ref on the same rows written out: 3x3 kernels, stride 1 and 2, C = 4..12, u8 and s8
 * codes out by fixed point and by the float multiplier (U8F / S8F, some with exact ties), 7-bit (REDUCED) and 8-bit (EXACT) activations; a 7-bit violation anywhere the rows
 * read, and a non-code output, are refused. Without AVX-512 VNNI the call must refuse. */
static void test_taps(void) {
    for (int v = 0; v < 8; v++) {
        int NB = 2 + v % 2, H = 5 + v, Wd = 9 - v % 3, C = 4 * (1 + v % 3), S = 1 + (v / 2) % 2, N = v < 4 ? 16 : 33 - v;
        int bits = v % 4 == 3 ? 8 : 7, Hp = H + 2, Wp = Wd + 2, OH = (Hp - 3) / S + 1, OW = (Wp - 3) / S + 1;
        int M = NB * OH * OW, K = 9 * C, zp = rint_in(0, bits == 7 ? 127 : 255);
        size_t img = (size_t)NB * Hp * Wp * C;
        uint8_t *xp = malloc(img), *X = malloc((size_t)M * K), *y0 = malloc((size_t)M * N), *y1 = malloc((size_t)M * N);
        int8_t *W = malloc((size_t)N * K);
        const uint8_t **rows = malloc(sizeof *rows * (size_t)M);
        long tapoff[9];
        for (size_t i = 0; i < img; i++) {
            size_t pix = i / C;
            int wp = (int)(pix % Wp), hp = (int)(pix / Wp % Hp);
            int border = hp == 0 || hp == Hp - 1 || wp == 0 || wp == Wp - 1;
            xp[i] = (uint8_t)(border ? zp : rint_in(0, bits == 7 ? 127 : 255));
        }
        for (int i = 0; i < N * K; i++) W[i] = (int8_t)rint_in(-127, 127);
        for (int t = 0; t < 9; t++) tapoff[t] = ((long)(t / 3) * Wp + t % 3) * C;
        for (int m = 0; m < M; m++) {
            int b = m / (OH * OW), oh = m / OW % OH, ow = m % OW;
            rows[m] = xp + (((long)b * Hp + oh * S) * Wp + ow * S) * C;
            for (int t = 0; t < 9; t++) memcpy(X + (size_t)m * K + t * C, rows[m] + tapoff[t], (size_t)C);
        }
        shr_qact act = {SHR_U8, zp, bits, 0};
        shr_qgemm_packed *p = NULL;
        CHECK_OK(shr_qgemm_pack_s8(&p, SHR_QPATH_AUTO, N, K, W, K, &act, NULL));
        shr_qtaps tp = {rows, tapoff, 9, C, xp, xp + img};
        static qoutbuf ob;
        static const shr_qout_kind kinds[4] = {SHR_QOUT_U8, SHR_QOUT_S8, SHR_QOUT_U8F, SHR_QOUT_S8F};
        make_out(&ob, kinds[(v + v / 4) % 4], N, v % 3 != 0, K);
        ob.o.ldy = N;
        if (v >= 4 && (ob.o.kind == SHR_QOUT_U8F || ob.o.kind == SHR_QOUT_S8F))
            for (int i = 0; i < QMAXN; i++) ob.rq[i] = 1.0f / 2048.0f; /* exact products: ties to even happen */
        if (!shr_qgemm_taps_ok(p, 9, C)) {
            ob.o.y = y1;
            CHECK_STATUS(shr_qgemm_taps(p, M, &tp, &ob.o), SHR_ERR_INVALID_ARG);
        } else {
            ob.o.y = y0;
            CHECK_OK(shr_qgemm_ref(p, M, X, K, &ob.o));
            ob.o.y = y1;
            CHECK_OK(shr_qgemm_taps(p, M, &tp, &ob.o));
            CHECK_MSG(memcmp(y0, y1, (size_t)M * N) == 0, "taps case %d (C %d, stride %d, %d-bit) differs", v, C, S, bits);
            CHECK(!shr_qgemm_taps_ok(p, 8, C) && !shr_qgemm_taps_ok(p, 9, C + 1));
            if (bits == 7) {
                xp[img / 2] = 200;
                CHECK_STATUS(shr_qgemm_taps(p, M, &tp, &ob.o), SHR_ERR_INVALID_ARG);
                CHECK(strstr(shr_last_error(), "7-bit") != NULL);
            }
            shr_qout s32 = {.kind = SHR_QOUT_S32, .y = y1, .ldy = N};
            CHECK_STATUS(shr_qgemm_taps(p, M, &tp, &s32), SHR_ERR_INVALID_ARG);
        }
        shr_qgemm_packed_free(p);
        free(xp), free(X), free(y0), free(y1), free(W), free(rows);
    }
}

int main(void) {
    RUN(test_taps);
    RUN(test_pack_refuses);
    RUN(test_run_refuses);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (!shr_qg_vnni_ok()) break;
            fprintf(stderr, "again with the AVX-512 VNNI kernel off\n");
            shr_qg_vnni_enable(0);
            CHECK(!shr_qg_vnni_ok());
        }
        RUN(test_requant_stage);
        RUN(test_codes_tiles);
        RUN(test_extremes);
        RUN(test_paths_agree);
        RUN(test_threads);
        RUN(test_forced_reference);
        RUN(test_random_triples);
        RUN(test_shape_sweep);
    }
    shr_qg_vnni_enable(1);
    return test_summary();
}
