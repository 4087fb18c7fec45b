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

#ifdef __cplusplus
}
#endif
#endif
