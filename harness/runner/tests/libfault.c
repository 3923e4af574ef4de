/* libfault.c: a malloc replacement for LD_PRELOAD that forwards to glibc and
 * misbehaves on request, to test the runner with the real bench binaries.
 *
 *   HEAPMARK_FAULT=crash:N | hang:N | exit:N   at the Nth malloc call
 *   HEAPMARK_FAULT_MATCH=S  only in processes whose command line contains S
 *                           (e.g. one benchmark instance's name)
 *
 * Without HEAPMARK_FAULT (or in other processes) it is a plain, working
 * malloc: the `name=/path/libfault.so` preload path is exercised as well. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static enum { NONE, CRASH, HANG, EXIT } mode;
static unsigned long at, calls;

/* No malloc may be used here: plain system calls and fixed buffers. */
__attribute__((constructor)) static void fault_init(void)
{
    const char *f = getenv("HEAPMARK_FAULT");
    if (f == NULL)
        return;
    const char *colon = strchr(f, ':');
    if (colon == NULL)
        return;
    at = strtoul(colon + 1, NULL, 10);
    const char *match = getenv("HEAPMARK_FAULT_MATCH");
    if (match && *match) {
        static char cmd[8192];
        int fd = open("/proc/self/cmdline", O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, cmd, sizeof cmd - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (n <= 0)
            return;
        for (ssize_t i = 0; i < n; i++)
            if (cmd[i] == '\0')
                cmd[i] = ' ';
        cmd[n] = '\0';
        if (strstr(cmd, match) == NULL)
            return;
    }
    if (strncmp(f, "crash:", 6) == 0)
        mode = CRASH;
    else if (strncmp(f, "hang:", 5) == 0)
        mode = HANG;
    else if (strncmp(f, "exit:", 5) == 0)
        mode = EXIT;
}

static void maybe_fault(void)
{
    if (mode == NONE || __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) != at)
        return;
    static const char msg[] = "libfault: misbehaving as asked\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* nothing to do */
    }
    switch (mode) {
    case CRASH:
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
        break;
    case HANG:
        alarm(120); /* never forever, even if nobody kills it */
        for (;;)
            pause();
    case EXIT:
        _exit(7);
    case NONE:
        break;
    }
}

void *malloc(size_t n)
{
    maybe_fault();
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m) { return __libc_calloc(n, m); }
void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
