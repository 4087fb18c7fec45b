/* Status codes and error text. Every library function that can fail returns a
 * shr_status; on failure a one-line human-readable message is kept per thread
 * and can be read with shr_last_error(). The library never prints or exits. */
#ifndef SHRINK_STATUS_H
#define SHRINK_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum shr_status {
    SHR_OK = 0,
    SHR_ERR_INVALID_ARG, /* caller passed something meaningless */
    SHR_ERR_SHAPE,       /* tensor shapes do not fit together */
    SHR_ERR_NOMEM,       /* allocation failed */
    SHR_ERR_IO,          /* open/read/write/rename failed */
    SHR_ERR_FORMAT,      /* file or text content is malformed or corrupt */
    SHR_ERR_UNSUPPORTED, /* valid but not implemented (op, version, dtype) */
    SHR_ERR_LIMIT,       /* a size exceeds a limit or overflows */
    SHR_ERR_INTERNAL     /* broken invariant inside the library */
} shr_status;

/* The message of the last failure on this thread ("" if none). */
const char *shr_last_error(void);
/* Short name of a status code, e.g. "format error". */
const char *shr_status_name(shr_status s);
/* Clear the thread's error message. */
void shr_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
