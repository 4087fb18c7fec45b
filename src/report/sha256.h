/* Internal: SHA-256 (FIPS 180-4), for the source hashes in model lineage. */
#ifndef SHR_REPORT_SHA256_H
#define SHR_REPORT_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct shr_sha256 {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t block[64];
    size_t fill;
} shr_sha256;

void shr_sha256_init(shr_sha256 *c);
void shr_sha256_update(shr_sha256 *c, const void *data, size_t n);
/* Writes the digest as 64 lower-case hex digits and a NUL. */
void shr_sha256_hex(shr_sha256 *c, char hex[65]);

#endif
