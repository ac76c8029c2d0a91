/*
 * file.c: the few filesystem operations the server needs (small files written atomically
 * and durably: keys, the operator's credentials). Bulk data lives in the store.
 */
#include "util/compat.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/banned.h"

enum err file_read(const char *path, size_t max, char **out, size_t *len, struct errbuf *err)
{
    ASSERT(path != NULL && out != NULL);
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return err_set(err, e == ENOENT ? ERR_NOT_FOUND : ERR_IO, "", "cannot open '%s': %s", path,
                       strerror(e));
    }
    struct buf b;
    buf_init(&b, max);
    enum err rc = ERR_OK;
    for (;;) {
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = err_set(err, ERR_IO, "", "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        if (n == 0) {
            break;
        }
        rc = buf_append(&b, chunk, (size_t)n);
        if (rc != ERR_OK) {
            rc = err_set(err, rc, "", "cannot read '%s': %s", path,
                         rc == ERR_LIMIT ? "file too large" : "out of memory");
            break;
        }
    }
    close(fd);
    if (rc != ERR_OK) {
        buf_release(&b);
        return rc;
    }
    if (b.data == NULL) {
        rc = buf_append(&b, "", 0);
        if (rc != ERR_OK) {
            return err_set(err, rc, "", "out of memory");
        }
    }
    *out = buf_detach(&b, len);
    return ERR_OK;
}

static enum err fsync_dir_of(const char *path, struct errbuf *err)
{
    char *copy = mem_strdup(path);
    if (copy == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    enum err rc = ERR_OK;
    if (fd < 0 || fsync(fd) != 0) {
        rc = err_set(err, ERR_IO, "", "cannot sync directory of '%s': %s", path, strerror(errno));
    }
    if (fd >= 0) {
        close(fd);
    }
    mem_free(copy);
    return rc;
}

enum err file_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
                           unsigned flags, struct errbuf *err)
{
    ASSERT(path != NULL);
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return err_set(err, ERR_LIMIT, "", "path '%s' is too long", path);
    }
    if ((flags & FILE_EXCL) && access(path, F_OK) == 0) {
        return err_set(err, ERR_CONFLICT, "", "'%s' exists already", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        return err_set(err, ERR_IO, "", "cannot create '%s': %s", tmp, strerror(errno));
    }
    const char *p = data;
    size_t left = len;
    enum err rc = ERR_OK;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            rc = err_set(err, ERR_IO, "", "cannot write '%s': %s", tmp, strerror(errno));
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (rc == ERR_OK && (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0)) {
        rc = err_set(err, ERR_IO, "", "cannot sync '%s': %s", tmp, strerror(errno));
    }
    close(fd);
    if (rc == ERR_OK && rename(tmp, path) != 0) {
        rc = err_set(err, ERR_IO, "", "cannot rename to '%s': %s", path, strerror(errno));
    }
    if (rc != ERR_OK) {
        unlink(tmp);
        return rc;
    }
    return fsync_dir_of(path, err);
}

enum err file_mkdirs(const char *path, unsigned mode, struct errbuf *err)
{
    char buf[4096];
    int n = snprintf(buf, sizeof(buf), "%s", path);
    if (n < 0 || (size_t)n >= sizeof(buf)) {
        return err_set(err, ERR_LIMIT, "", "path '%s' is too long", path);
    }
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST) {
            return err_set(err, ERR_IO, "", "cannot create '%s': %s", buf, strerror(errno));
        }
        *p = '/';
    }
    if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST) {
        return err_set(err, ERR_IO, "", "cannot create '%s': %s", buf, strerror(errno));
    }
    return ERR_OK;
}
