/* The .shrk model file: magic, format version, a section table with a CRC32 per
 * section, the graph, named tensors (64-byte aligned, mmap-friendly), the
 * preprocessing, and a lineage record. Sections later issues fill (quantization
 * parameters, sparse encodings) have reserved type codes; a reader skips
 * optional sections it does not know and rejects unknown required ones. */
#ifndef SHRINK_IO_H
#define SHRINK_IO_H

#include <stddef.h>
#include "shrink/graph.h"
#include "shrink/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHR_FILE_VERSION 1

/* Atomic: writes PATH.tmp.XXXXXX in the same folder, fsyncs, renames over PATH.
 * On failure the previous file at PATH is untouched and no temporary remains. */
shr_status shr_model_save(const shr_graph *g, const char *path);
/* Reads and fully validates a model; any truncation, corruption, bad CRC, wrong
 * version or hostile size is a clear SHR_ERR_FORMAT / SHR_ERR_UNSUPPORTED / SHR_ERR_LIMIT. */
shr_status shr_model_load(const char *path, shr_graph **out);
/* The same on a buffer in memory (used by load, and by tests and fuzzers). */
shr_status shr_model_from_memory(const void *buf, size_t size, shr_graph **out);
/* Serializes into a malloc'ed buffer (caller frees with free()). */
shr_status shr_model_to_memory(const shr_graph *g, void **buf, size_t *size);

/* Atomically replaces `path` with `size` bytes (temporary + fsync + rename). */
shr_status shr_write_file_atomic(const char *path, const void *data, size_t size);

/* ---- ONNX (src/io/onnx/) ----
 * Import reads an ONNX model (opsets 1..17; IR 3+; external data files next to
 * the model) into an ordinary shrink graph: it evaluates, trains, prunes like a
 * zoo model. An operator or attribute shrink cannot express fails at import with
 * SHR_ERR_UNSUPPORTED naming the node, its op and the opset; malformed or hostile
 * files fail with SHR_ERR_FORMAT / SHR_ERR_LIMIT. The imported preprocessing
 * scales pixels to [0, 1] (scale 1/255, mean 0, std 1). */
typedef enum shr_onnx_batch {
    SHR_ONNX_BATCH_DIM0 = 0, /* dim 0 of the ONNX input is the batch (what exporters write) */
    SHR_ONNX_BATCH_NONE = 1  /* the whole ONNX input is one sample; shrink adds the batch dim */
} shr_onnx_batch;

/* A graph input fixed to a value: a serialized ONNX TensorProto (as in the
 * input_N.pb files of ONNX's test data). It becomes a constant of the model. */
typedef struct shr_onnx_binding {
    const char *name;
    const void *tensor;
    size_t size;
} shr_onnx_binding;

typedef struct shr_onnx_import_options {
    shr_onnx_batch batch;
    const char *input;  /* the graph input shrink feeds (NULL: the only one not bound) */
    const char *output; /* the graph output shrink returns (NULL: the only one) */
    const shr_onnx_binding *bind; /* other graph inputs fixed to values */
    int n_bind;
    const char *base_dir; /* folder of external data for shr_onnx_import_memory (NULL: ".") */
    const char *source_sha256; /* recorded in the lineage (shr_onnx_import: the file's own) */
} shr_onnx_import_options;

shr_onnx_import_options shr_onnx_import_default(void);
/* opt may be NULL (defaults). External data is read from the model's folder. */
shr_status shr_onnx_import(const char *path, const shr_onnx_import_options *opt, shr_graph **out);
shr_status shr_onnx_import_memory(const void *buf, size_t size, const shr_onnx_import_options *opt, shr_graph **out);
/* Decodes a serialized ONNX TensorProto of a numeric type into an f32 tensor of
 * its shape; *name (may be NULL) gets a malloc'ed copy of the tensor's name. */
shr_status shr_onnx_tensor_decode(const void *buf, size_t size, shr_tensor **out, char **name);
/* The names of a model's graph inputs (initializers excluded) and outputs, in
 * order; free each list with shr_onnx_names_free. */
shr_status shr_onnx_io_names(const void *buf, size_t size, char ***inputs, int *n_inputs, char ***outputs,
                             int *n_outputs);
void shr_onnx_names_free(char **names, int n);
/* 1 when path ends in ".onnx" (any case). */
int shr_is_onnx_path(const char *path);

/* Export writes a float model as ONNX (opset 13, IR 7) with a dynamic batch dim;
 * onnx.checker accepts the file and ONNX Runtime reproduces shrink's outputs.
 * Atomic like shr_model_save. Ops without an ONNX form fail with SHR_ERR_UNSUPPORTED. */
shr_status shr_onnx_export(const shr_graph *g, const char *path);
shr_status shr_onnx_export_memory(const shr_graph *g, void **buf, size_t *size);
/* Serializes an f32 tensor as an ONNX TensorProto (malloc'ed; caller frees). */
shr_status shr_onnx_tensor_encode(const shr_tensor *t, const char *name, void **buf, size_t *size);

#ifdef __cplusplus
}
#endif
#endif
