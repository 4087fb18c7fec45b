/* Learning-rate schedules: a linear warm-up from 0, then constant, step decay
 * or cosine decay. Steps count optimizer updates from 0. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "shrink/train.h"

shr_status shr_sched_parse(const char *name, shr_sched_kind *out) {
    static const char *const names[] = {"none", "step", "cosine"};
    for (int i = 0; name && i < 3; i++) {
        if (strcmp(name, names[i]) == 0) {
            if (out) *out = (shr_sched_kind)i;
            return SHR_OK;
        }
    }
    return shr_fail(SHR_ERR_INVALID_ARG, "unknown lr schedule '%s' (valid: none, step, cosine)",
                    name ? name : "(null)");
}

float shr_schedule_lr(const shr_schedule *s, float base_lr, int64_t step) {
    if (!s) return base_lr;
    if (step < 0) step = 0;
    const int64_t warm = s->warmup_steps > 0 ? s->warmup_steps : 0;
    /* Warm-up reaches base_lr on its last step (step + 1 == warm), so the
     * first update already moves the weights. */
    if (step < warm) return (float)((double)base_lr * (double)(step + 1) / (double)warm);
    const int64_t t = step - warm;
    switch (s->kind) {
    case SHR_SCHED_STEP:
        if (s->step_size <= 0) return base_lr;
        return (float)((double)base_lr * pow((double)s->gamma, (double)(t / s->step_size)));
    case SHR_SCHED_COSINE: {
        const int64_t T = s->total_steps - warm;
        if (T <= 0 || t >= T) return s->min_lr;
        const double pi = 3.14159265358979323846;
        return (float)((double)s->min_lr +
                       ((double)base_lr - (double)s->min_lr) * (1.0 + cos(pi * (double)t / (double)T)) * 0.5);
    }
    case SHR_SCHED_NONE:
    default:
        return base_lr;
    }
}
