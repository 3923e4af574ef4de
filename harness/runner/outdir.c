/* outdir.c: a new results folder per run, never reusing an old one, checked
 * for space and writability before anything runs; the `latest` link. */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#define DEFAULT_MIN_FREE_MB 16ULL

int outdir_min_free(unsigned long long *bytes)
{
    const char *s = getenv("HEAPMARK_MIN_FREE_MB");
    long v;
    *bytes = DEFAULT_MIN_FREE_MB << 20;
    if (s == NULL || *s == '\0')
        return 0;
    if (parse_int(s, &v) != 0 || v < 0 || (unsigned long)v > (~0ULL >> 21)) {
        errmsg("HEAPMARK_MIN_FREE_MB must be a whole number of megabytes, not '%s'", s);
        return -1;
    }
    *bytes = (unsigned long long)v << 20;
    return 0;
}

static char *host_part(void)
{
    struct utsname u;
    char *h = xstrdup(uname(&u) == 0 && u.nodename[0] ? u.nodename : "host");
    for (char *c = h; *c; c++)
        if (!(strchr("_.-", *c) || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
              (*c >= 'A' && *c <= 'Z')))
            *c = '_';
    return h;
}

char *outdir_create(const char *parent, char **name)
{
    if (mkdir_p(parent, 0755) != 0) {
        errmsg("cannot create the results folder %s: %s", parent, strerror(errno));
        return NULL;
    }
    /* absolute from here on: children get paths that do not depend on
       their working directory, and messages say where things are */
    char *abs_parent = realpath(parent, NULL);
    if (abs_parent == NULL) {
        errmsg("cannot resolve the results folder %s: %s", parent, strerror(errno));
        return NULL;
    }
    parent = abs_parent;
    struct statvfs vfs;
    if (statvfs(parent, &vfs) != 0) {
        errmsg("cannot check free space in %s: %s", parent, strerror(errno));
        return NULL;
    }
    unsigned long long avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
    unsigned long long need;
    if (outdir_min_free(&need) != 0)
        return NULL;
    if (avail < need) {
        errmsg("only %llu MB free in %s; a run needs at least %llu MB (HEAPMARK_MIN_FREE_MB)",
               avail >> 20, parent, need >> 20);
        return NULL;
    }
    if (access(parent, W_OK | X_OK) != 0) {
        errmsg("cannot write to the results folder %s: %s", parent, strerror(errno));
        return NULL;
    }
    char stamp[32];
    utc_stamp(stamp, sizeof stamp);
    char *host = host_part();
    char *path = NULL;
    for (int n = 1; n < 1000; n++) {
        free(path);
        path = n == 1 ? xasprintf("%s/%s-%s", parent, stamp, host)
                      : xasprintf("%s/%s-%s-%d", parent, stamp, host, n);
        if (mkdir(path, 0755) == 0)
            break;
        if (errno != EEXIST) {
            errmsg("cannot create the run folder %s: %s", path, strerror(errno));
            free(path);
            free(host);
            return NULL;
        }
    }
    free(host);
    /* prove that a file can be written there (read-only mounts, quotas) */
    char *probe = xasprintf("%s/.write-test", path);
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int ok = fd >= 0 && write(fd, "heapmark\n", 9) == 9;
    int e = errno;
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    unlink(probe);
    free(probe);
    if (!ok) {
        errmsg("cannot write in the run folder %s: %s", path, strerror(e));
        rmdir(path);
        free(path);
        return NULL;
    }
    const char *slash = strrchr(path, '/');
    *name = xstrdup(slash ? slash + 1 : path);
    return path;
}

int outdir_link(const char *parent, const char *name, const char *link)
{
    char *tmp = xasprintf("%s/.%s.%ld.tmp", parent, link, (long)getpid());
    char *dst = xasprintf("%s/%s", parent, link);
    unlink(tmp);
    int r = symlink(name, tmp);
    if (r == 0 && rename(tmp, dst) != 0) {
        r = -1;
        int e = errno;
        unlink(tmp);
        errno = e;
    }
    if (r != 0)
        errmsg("warning: cannot point %s at %s: %s", dst, name, strerror(errno));
    free(tmp);
    free(dst);
    return r;
}
