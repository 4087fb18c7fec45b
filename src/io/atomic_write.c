/* Atomic file replacement: write PATH.tmp.XXXXXX in the same folder (so the
 * rename stays on one filesystem), fsync it, rename it over PATH, fsync the
 * folder so the rename itself survives a crash. On any failure before the
 * rename the temporary is unlinked and PATH keeps its old content. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/checked.h"
#include "core/error.h"
#include "shrink/io.h"

static const char tmp_suffix[] = ".tmp.XXXXXX";

static shr_status write_all(int fd, const void *data, size_t size, const char *tmp) {
    const unsigned char *p = data;
    while (size > 0) {
        size_t chunk = size > ((size_t)1 << 30) ? ((size_t)1 << 30) : size;
        ssize_t n = write(fd, p, chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            return shr_fail(SHR_ERR_IO, "cannot write '%s': %s", tmp, n < 0 ? strerror(errno) : "no progress");
        p += n;
        size -= (size_t)n;
    }
    return SHR_OK;
}

/* The mode a new file would get (0666 minus the umask); an existing file keeps its mode. */
static mode_t target_mode(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) return st.st_mode & 07777;
    mode_t mask = umask(022); /* umask can only be read by setting it; restore at once */
    umask(mask);
    return 0666 & ~mask;
}

/* fsync the folder holding path; folders that cannot be opened or synced
 * (EINVAL on some filesystems) are skipped, real I/O errors reported. */
static shr_status sync_folder(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) dir = strdup(".");
    else if (slash == path) dir = strdup("/");
    else dir = strndup(path, (size_t)(slash - path));
    if (!dir) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    shr_status st = SHR_OK;
    if (fd >= 0) {
        if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
            st = shr_fail(SHR_ERR_IO, "'%s' was replaced but syncing folder '%s' failed: %s", path, dir,
                          strerror(errno));
        close(fd);
    }
    free(dir);
    return st;
}

shr_status shr_write_file_atomic(const char *path, const void *data, size_t size) {
    if (!path || !path[0]) return shr_fail(SHR_ERR_INVALID_ARG, "cannot write a file with an empty path");
    if (!data && size) return shr_fail(SHR_ERR_INVALID_ARG, "cannot write '%s': no data", path);
    size_t plen = strlen(path), tlen;
    if (path[plen - 1] == '/') return shr_fail(SHR_ERR_IO, "cannot write '%s': path names a folder", path);
    if (shr_add_overflow_size(plen, sizeof tmp_suffix, &tlen))
        return shr_fail(SHR_ERR_LIMIT, "path too long");
    char *tmp = malloc(tlen);
    if (!tmp) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, tmp_suffix, sizeof tmp_suffix);

    mode_t mode = target_mode(path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        shr_status st = shr_fail(SHR_ERR_IO, "cannot create a temporary file for '%s': %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    shr_status st = write_all(fd, data, size, tmp);
    if (st == SHR_OK && fchmod(fd, mode) != 0)
        st = shr_fail(SHR_ERR_IO, "cannot set the mode of '%s': %s", tmp, strerror(errno));
    if (st == SHR_OK && fsync(fd) != 0)
        st = shr_fail(SHR_ERR_IO, "cannot sync '%s': %s", tmp, strerror(errno));
    if (close(fd) != 0 && st == SHR_OK) st = shr_fail(SHR_ERR_IO, "cannot close '%s': %s", tmp, strerror(errno));
    if (st == SHR_OK && rename(tmp, path) != 0)
        st = shr_fail(SHR_ERR_IO, "cannot replace '%s': %s", path, strerror(errno));
    if (st != SHR_OK) {
        unlink(tmp); /* the old PATH was never touched */
        free(tmp);
        return st;
    }
    free(tmp);
    return sync_folder(path);
}
