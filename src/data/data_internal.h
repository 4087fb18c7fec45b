/* Internal: what the dataset readers share. Every reader validates its input
 * against these limits before it allocates anything sized by the input. */
#ifndef SHR_DATA_INTERNAL_H
#define SHR_DATA_INTERNAL_H

#include <stdint.h>

#include "shrink/data.h"

#define SHR_DATA_MAX_SAMPLES 100000000LL   /* 1e8 samples */
#define SHR_DATA_MAX_VALUES (1LL << 31)    /* values (pixels, features) in one dataset */
#define SHR_DATA_MAX_SIDE 65535            /* largest image side / channel count */
#define SHR_DATA_MAX_CLASSES 1000          /* labels are 0..999 */

/* Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from folder `dir`. */
shr_status shr_idx_load_dir(const char *dir, shr_split split, int64_t limit, shr_dataset **out);
/* Reads a CSV file: label,feature,... per line (see data.h). */
shr_status shr_csv_load(const char *path, int64_t limit, shr_dataset **out);

/* Wraps malloc'd arrays x (n*c*h*w) and y (n) in a dataset: checks the shape
 * limits and label range, sets n_classes = max label + 1. Takes ownership of
 * x and y on success and on failure (frees them). `what` names the source in
 * error messages. */
shr_status shr_dataset_wrap(const char *what, int64_t n, int c, int h, int w, float *x, int32_t *y,
                            float raw_max, shr_dataset **out);

#endif
