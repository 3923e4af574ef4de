/* util.c: strings, files and time for the runner. */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *prog_cmd = NULL;

void errmsg(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    if (prog_cmd)
        fprintf(stderr, "heapmark %s: ", prog_cmd);
    else
        fputs("heapmark: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void oom(void)
{
    errmsg("out of memory");
    exit(1);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        oom();
    return d;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0)
        oom();
    return s;
}

void strv_push(struct strv *s, const char *str)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = xstrdup(str);
}

int strv_find(const struct strv *s, const char *str)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], str) == 0)
            return (int)i;
    return -1;
}

void strv_free(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *read_first_line(const char *path)
{
    char *s = read_file(path, NULL);
    if (s == NULL)
        return NULL;
    s[strcspn(s, "\n")] = '\0';
    return s;
}

char *read_last_line(const char *path, size_t max)
{
    size_t n;
    char *s = read_file(path, &n);
    if (s == NULL)
        return NULL;
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
    if (n == 0) {
        free(s);
        return NULL;
    }
    char *start = s + n;
    while (start > s && start[-1] != '\n')
        start--;
    char *line = xstrdup(start);
    free(s);
    if (strlen(line) > max) {
        line[max] = '\0';
        if (max >= 3)
            memcpy(line + max - 3, "...", 3);
    }
    /* control characters (e.g. terminal escapes) would only confuse readers */
    for (char *c = line; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    return line;
}

int atomic_write(const char *path, const char *data, size_t len)
{
    char *tmp = xasprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        errno = e;
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            free(tmp);
            errno = e;
            return -1;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        errno = e;
        return -1;
    }
    free(tmp);
    return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
    char *p = xstrdup(path);
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/')
        p[--len] = '\0';
    for (char *c = p + 1; *c; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST) {
            int e = errno;
            free(p);
            errno = e;
            return -1;
        }
        *c = '/';
    }
    int r = 0;
    if (mkdir(p, mode) != 0) {
        struct stat sb;
        if (errno != EEXIST)
            r = -1;
        else if (stat(p, &sb) != 0)
            r = -1;
        else if (!S_ISDIR(sb.st_mode)) {
            errno = ENOTDIR;
            r = -1;
        }
    }
    int e = errno;
    free(p);
    errno = e;
    return r;
}

int is_executable_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0;
}

int is_regular_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void utc_iso(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void utc_stamp(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y%m%dT%H%M%SZ", &tm);
}

void format_duration(char *buf, size_t n, double s)
{
    if (!(s >= 0))
        s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

int parse_int(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0)
        return -1;
    *out = v;
    return 0;
}

char *command_line(int argc, char **argv)
{
    size_t cap = 256, n = 0;
    char *s = xmalloc(cap);
    s[0] = '\0';
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int plain = *a != '\0';
        for (const char *c = a; *c; c++)
            if (!(strchr("-_./=:,+@%^", *c) || (*c >= '0' && *c <= '9') ||
                  (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
                plain = 0;
        size_t need = strlen(a) * 4 + 4;
        while (n + need + 1 >= cap) {
            cap *= 2;
            s = xrealloc(s, cap);
        }
        if (i > 0)
            s[n++] = ' ';
        if (plain) {
            n += (size_t)sprintf(s + n, "%s", a);
            continue;
        }
        s[n++] = '\'';
        for (const char *c = a; *c; c++) {
            if (*c == '\'') {
                memcpy(s + n, "'\\''", 4);
                n += 4;
            } else {
                s[n++] = *c;
            }
        }
        s[n++] = '\'';
        s[n] = '\0';
    }
    return s;
}

char *find_command(const char *cmd, int *why)
{
    if (strchr(cmd, '/') != NULL) {
        struct stat st;
        if (stat(cmd, &st) != 0) {
            if (why)
                *why = errno;
            return NULL;
        }
        if (!S_ISREG(st.st_mode) || access(cmd, X_OK) != 0) {
            if (why)
                *why = EACCES;
            return NULL;
        }
        return xstrdup(cmd);
    }
    const char *path = getenv("PATH");
    if (path == NULL || *path == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    int found_unrunnable = 0;
    while (*path) {
        const char *colon = strchrnul(path, ':');
        char *cand = colon == path ? xasprintf("./%s", cmd)
                                   : xasprintf("%.*s/%s", (int)(colon - path), path, cmd);
        struct stat st;
        if (stat(cand, &st) == 0) {
            if (S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
                return cand;
            found_unrunnable = 1;
        }
        free(cand);
        path = *colon ? colon + 1 : colon;
    }
    if (why)
        *why = found_unrunnable ? EACCES : ENOENT;
    return NULL;
}
