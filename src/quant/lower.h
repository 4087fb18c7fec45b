/* Internal: the state of one lowering (lower.c, lower_layer.c). */
#ifndef SHR_QUANT_LOWER_H
#define SHR_QUANT_LOWER_H

#include "quant/quant_internal.h"

/* Version slots of an F value in Q: f32, 8-bit codes (incl. 7-bit), 16-bit codes. */
enum { SLOT_F32 = 0, SLOT_Q8 = 1, SLOT_Q16 = 2, NSLOT = 3 };
static inline int shr_q_slot(int bits) { return bits == 0 ? SLOT_F32 : bits <= 8 ? SLOT_Q8 : SLOT_Q16; }

typedef struct qver {
    int v;          /* Q value, -1: none yet */
    shr_qparams qp; /* codes (unused for f32) */
    int scale_v, zp_v;
    int nhwc;       /* rank-4 codes channels-last; 2-D codes flattened from channels-last (src4 >= 0) */
    int src4;       /* the F value whose channels-last codes were flattened, or -1 */
} qver;

typedef struct lower_ctx {
    const shr_graph *F;
    shr_graph *Q;
    const shr_q_lowering *L;
    qver *ver;              /* n_values * NSLOT */
    int *pv;                /* F param / buffer -> Q copy (-1) */
    unsigned char *live;    /* per F node */
    int *uses;              /* per F value: live readers */
    unsigned char *absorbed; /* per F node: a ReLU fused into its producer */
    shr_quant_report *rep;
    shr_q_probe *probes;
} lower_ctx;

static inline qver *shr_q_ver(lower_ctx *c, int fv, int slot) { return &c->ver[(size_t)fv * NSLOT + slot]; }

/* "<a><b>" into buf (names are at most 255 bytes: a is cut). */
void shr_q_name(char *buf, size_t size, const char *a, const char *b);
/* The f32 / code version of F value fv, made on first use (dequantize / quantize nodes). */
shr_status shr_q_get_f32(lower_ctx *c, int fv, int *out);
shr_status shr_q_get_codes(lower_ctx *c, int fv, int bits, qver **out);
/* The codes' parameters of F value fv at `bits` (observer or QAT). */
shr_status shr_q_params_for(lower_ctx *c, int fv, int bits, shr_qparams *out);
/* A copy in Q of F's param / buffer fv. */
shr_status shr_q_copy_value(lower_ctx *c, int fv, int *out);
/* The ReLU / ReLU6 node that may be fused into node k (its output's only live reader), or -1. */
int shr_q_fusable_act(lower_ctx *c, int k);
/* 1 when some live reader of F value fv will take codes of this width. */
int shr_q_wants_codes(lower_ctx *c, int fv, int bits);
/* Appends a report row (and probe); returns its index or -1 when the report is full. */
int shr_q_report_add(lower_ctx *c, const shr_node *n, int bits);

/* lower_layer.c: conv2d / linear / add at `bits`. */
shr_status shr_q_emit_layer(lower_ctx *c, int k, int bits);
shr_status shr_q_emit_add(lower_ctx *c, int k, int bits);

#endif
