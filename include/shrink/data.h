/* Datasets: IDX (MNIST format, optionally gzip) and CSV readers, splits, and
 * mini-batch assembly with preprocessing and augmentation. */
#ifndef SHRINK_DATA_H
#define SHRINK_DATA_H

#include <stdint.h>
#include "shrink/graph.h"
#include "shrink/rng.h"
#include "shrink/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where `--data fashion-mnist` points (Debian package dataset-fashion-mnist). */
#define SHR_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

typedef struct shr_dataset {
    int64_t n;       /* number of samples */
    int c, h, w;     /* sample shape; CSV data is c = 1, h = 1, w = features */
    int64_t sample_size; /* c*h*w */
    float *x;        /* n * sample_size raw values (pixels as 0..255, CSV as written) */
    int32_t *y;      /* n labels in 0..n_classes-1 */
    int n_classes;   /* max label + 1 */
    float raw_max;   /* 255 for IDX u8 images; the largest |value| for CSV */
} shr_dataset;

typedef enum shr_split { SHR_SPLIT_TRAIN = 0, SHR_SPLIT_TEST = 1 } shr_split;

/* spec: "fashion-mnist" (the Debian package's folder), a folder holding
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz], or a CSV file (one sample
 * per line: label,feature,...; a header line is skipped if its first field is
 * not a number; for CSV both splits read the same file). limit > 0 keeps the first
 * `limit` samples. Malformed input fails with one clear message. */
shr_status shr_dataset_load(const char *spec, shr_split split, int64_t limit, shr_dataset **out);
/* 1 when spec names a CSV file (whose two splits are the same file). */
int shr_dataset_is_csv(const char *spec);
/* Build a dataset from memory (copies; x finite, labels 0..999). A dataset
 * built by hand must malloc x and y: shr_dataset_free frees them. */
shr_status shr_dataset_from_arrays(int64_t n, int c, int h, int w, const float *x, const int32_t *y,
                                   shr_dataset **out);
void shr_dataset_free(shr_dataset *d);
/* Split by seed into two new datasets: `val_fraction` (strictly between 0 and 1)
 * of the samples go to *val. Each part keeps the original sample order and the
 * parent's n_classes. */
shr_status shr_dataset_split(const shr_dataset *d, double val_fraction, uint64_t seed, shr_dataset **train,
                             shr_dataset **val);
/* The preprocessing to train with: scale to [0,1] (1/255 for IDX) and normalize each
 * channel with the dataset's mean/std (computed over the data after scaling). */
shr_status shr_dataset_default_preproc(const shr_dataset *d, shr_preproc *out);

typedef struct shr_augment {
    int crop_pad; /* random crop with this much zero padding (0 = off) */
    int hflip;    /* random horizontal flip with probability 1/2 */
} shr_augment;

/* A preproc with fewer channels than the data reuses its last channel.
 * Writes n preprocessed samples idx[0..n) into x (n * sample_size floats, NCHW) and
 * their labels into y (may be NULL). aug/rng may be NULL (no augmentation). */
void shr_batch_fill(const shr_dataset *d, const int64_t *idx, int n, const shr_preproc *pp,
                    const shr_augment *aug, shr_rng *rng, float *x, int32_t *y);

#ifdef __cplusplus
}
#endif
#endif
