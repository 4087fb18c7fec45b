/* FitNets hints: a small adapter graph maps a student activation onto the shape
 * of a teacher activation; the MSE between them trains the adapter (its own Adam
 * state, never part of the student) and, through the adapter's input gradient
 * seeded into the student's tape, the student layers below the hint. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "distill/distill_internal.h"
#include "nn/builder.h"

static shr_status find_act(const shr_graph *g, const char *name, const char *who, int *out) {
    int v = shr_graph_find_value(g, name);
    if (v < 0 || g->values[v].kind != SHR_VALUE_ACT)
        return shr_fail(SHR_ERR_INVALID_ARG, "the %s has no layer output named '%s'", who, name ? name : "(null)");
    *out = v;
    return SHR_OK;
}

/* Adapter from the student's (per-sample) shape to the teacher's:
 *   (C,H,W) -> (C',H,W):        1x1 conv
 *   (C,fH,fW) -> (C',H,W):      f x f average pool, 1x1 conv
 *   anything -> (F):            flatten, linear
 * The adapter's input is the student activation's memory as it is. */
static shr_status build_adapter(shr_hint_adapter *a, const shr_value *tv, const shr_value *sv, uint64_t seed) {
    char ts[96], ss[96];
    shr_shape_str(tv->ndim - 1, tv->shape + 1, ts, sizeof ts);
    shr_shape_str(sv->ndim - 1, sv->shape + 1, ss, sizeof ss);
    shr_builder b;
    if (tv->ndim == 2) {
        if (a->s_numel > INT32_MAX) return shr_fail(SHR_ERR_LIMIT, "student layer '%s' is too large", sv->name);
        SHR_TRY(shr_builder_init(&b, (int)a->s_numel, 1, 1, seed));
        int x = shr_b_unary(&b, "flatten", SHR_OP_FLATTEN, b.g->input, NULL);
        shr_b_linear(&b, "adapter", x, (int)tv->shape[1], 1);
        return shr_builder_finish(&b, &a->g);
    }
    if (tv->ndim != 4 || sv->ndim != 4)
        return shr_fail(SHR_ERR_SHAPE,
                        "hint %s:%s: shapes %s and %s do not fit an adapter (need (C,H,W) on both sides, or a flat "
                        "teacher layer)",
                        a->teacher_name, a->student_name, ts, ss);
    int64_t th = tv->shape[2], tw = tv->shape[3], sh = sv->shape[2], sw = sv->shape[3];
    int64_t f = th > 0 ? sh / th : 0;
    if (f < 1 || sh != f * th || sw != f * tw || f > 64)
        return shr_fail(SHR_ERR_SHAPE,
                        "hint %s:%s: the student map %s must have the teacher map's size %s or an integer multiple of it",
                        a->teacher_name, a->student_name, ss, ts);
    SHR_TRY(shr_builder_init(&b, (int)sv->shape[1], (int)sh, (int)sw, seed));
    int x = b.g->input;
    if (f > 1) x = shr_b_pool(&b, "pool", SHR_OP_AVGPOOL2D, x, (int)f, (int)f, 0);
    shr_b_conv(&b, "adapter", x, (int)tv->shape[1], 1, 1, 0, 1, 1, 1);
    return shr_builder_finish(&b, &a->g);
}

shr_status shr_hint_init(shr_hint_adapter *a, const shr_graph *teacher, const shr_graph *student, const shr_hint *h,
                         int max_batch, float lr, uint64_t seed) {
    memset(a, 0, sizeof *a);
    if (!h->teacher || !h->student) return shr_fail(SHR_ERR_INVALID_ARG, "a hint needs a teacher and a student layer");
    a->teacher_name = strdup(h->teacher);
    a->student_name = strdup(h->student);
    if (!a->teacher_name || !a->student_name) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    SHR_TRY(find_act(teacher, h->teacher, "teacher", &a->teacher_value));
    SHR_TRY(find_act(student, h->student, "student", &a->student_value));
    const shr_value *tv = &teacher->values[a->teacher_value], *sv = &student->values[a->student_value];
    a->t_numel = shr_value_sample_numel(tv);
    a->s_numel = shr_value_sample_numel(sv);
    if (a->t_numel > INT32_MAX) return shr_fail(SHR_ERR_LIMIT, "teacher layer '%s' is too large", tv->name);
    SHR_TRY(build_adapter(a, tv, sv, seed));
    if (shr_value_sample_numel(&a->g->values[a->g->output]) != a->t_numel)
        return shr_fail(SHR_ERR_SHAPE, "hint %s:%s: the adapter does not reach the teacher's shape", a->teacher_name,
                        a->student_name);
    SHR_TRY(shr_tape_create_ex(a->g, max_batch, SHR_TAPE_INPUT_GRAD, &a->tape));
    shr_optim_config oc = shr_optim_default(SHR_OPTIM_ADAM);
    oc.lr = lr;
    oc.weight_decay = 0.0f;
    SHR_TRY(shr_optim_create(a->g, &oc, &a->opt));
    a->dout = shr_alloc((size_t)max_batch * (size_t)a->t_numel * sizeof(float));
    if (!a->dout) return shr_fail(SHR_ERR_NOMEM, "out of memory for hint %s:%s", a->teacher_name, a->student_name);
    return SHR_OK;
}

void shr_hint_release(shr_hint_adapter *a) {
    free(a->teacher_name);
    free(a->student_name);
    shr_tape_free(a->tape);
    shr_optim_free(a->opt);
    shr_graph_free(a->g);
    shr_free(a->dout);
    memset(a, 0, sizeof *a);
}

shr_status shr_hint_step(shr_hint_adapter *a, shr_tape *student, const shr_tape *teacher, float beta, float lr,
                         float *mse) {
    const shr_tensor *hs = shr_tape_act(student, a->student_value);
    const shr_tensor *ht = shr_tape_act(teacher, a->teacher_value);
    int n = student->batch;
    if (!hs || !ht || teacher->batch != n || hs->numel != (int64_t)n * a->s_numel)
        return shr_fail(SHR_ERR_INVALID_ARG, "hint %s:%s: the activations of this batch are missing",
                        a->teacher_name, a->student_name);
    const shr_tensor *pred;
    SHR_TRY(shr_tape_forward(a->tape, shr_f32(hs), n, 1, NULL, &pred));
    SHR_TRY(shr_loss_mse(shr_f32(pred), shr_f32(ht), n, (int)a->t_numel, mse, a->dout));
    int64_t m = (int64_t)n * a->t_numel;
    for (int64_t i = 0; i < m; i++) a->dout[i] *= beta;
    shr_tape_zero_grad(a->tape);
    SHR_TRY(shr_tape_backward(a->tape, a->dout));
    const shr_tensor *gin = shr_tape_act_grad(a->tape, a->g->input);
    if (!gin) return shr_fail(SHR_ERR_INVALID_ARG, "hint %s:%s: no input gradient", a->teacher_name, a->student_name);
    /* Seed with the gradient through the adapter as it was in the forward pass, then move it. */
    SHR_TRY(shr_tape_add_act_grad(student, a->student_value, shr_f32(gin)));
    return shr_optim_step(a->opt, a->g, a->tape->grad.t, lr, NULL);
}
