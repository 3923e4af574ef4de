/* framework.c: registry of checks, one forked child per check with a time
   limit, verdict classification, and the helpers checks share. */
#define _GNU_SOURCE
#include "conf.h"
#include "framework.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void *(*volatile conf_malloc)(size_t) = malloc;
void (*volatile conf_free)(void *) = free;
void *(*volatile conf_calloc)(size_t, size_t) = calloc;
void *(*volatile conf_realloc)(void *, size_t) = realloc;

/* --- registry ---------------------------------------------------------------- */
#define CONF_MAX_CHECKS 256
static const struct conf_check *registry[CONF_MAX_CHECKS];
static size_t registry_n;
static int registry_overflow;

void conf_register(const struct conf_check *c)
{
    if (registry_n < CONF_MAX_CHECKS)
        registry[registry_n++] = c;
    else
        registry_overflow = 1;
}

/* areas in catalogue order; the id's number orders checks inside an area */
static const char *const area_order[] = {
    "alignment", "zero-size", "realloc", "in-place", "partial-free", "calloc",
    "limits", "usable-size", "threads", "fork", "memory-return", "sized-free",
    "interposition", "hardening", "selftest",
};

static int area_rank(const char *area)
{
    for (size_t i = 0; i < sizeof area_order / sizeof area_order[0]; i++)
        if (strcmp(area, area_order[i]) == 0)
            return (int)i;
    return 100;
}

static int check_cmp(const void *a, const void *b)
{
    const struct conf_check *x = *(const struct conf_check *const *)a;
    const struct conf_check *y = *(const struct conf_check *const *)b;
    int d = area_rank(x->area) - area_rank(y->area);
    return d != 0 ? d : strcmp(x->id, y->id);
}

const struct conf_check *const *conf_checks(size_t *n)
{
    if (registry_overflow) {
        fprintf(stderr, "conformance: more than %d checks registered\n", CONF_MAX_CHECKS);
        exit(2);
    }
    qsort(registry, registry_n, sizeof registry[0], check_cmp);
    *n = registry_n;
    return registry;
}

const char *conf_kind_name(enum conf_kind k)
{
    static const char *const names[] = {"STD", "EXT", "REP", "CAP", "OWN"};
    return (unsigned)k < 5 ? names[k] : "?";
}

const char *conf_status_name(enum conf_status s)
{
    static const char *const names[] = {"none", "pass", "fail", "unsupported", "crash",
                                        "timeout", "observed", "present", "absent"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

/* --- verdicts: written by the child into a shared page ------------------------ */
static struct conf_result *shared_result;
static const struct conf_check *current_check;

__attribute__((noreturn)) static void verdict(enum conf_status s, const char *fmt, va_list ap)
{
    if (shared_result != NULL) {
        vsnprintf(shared_result->detail, sizeof shared_result->detail, fmt, ap);
        __atomic_store_n(&shared_result->status, (int)s, __ATOMIC_SEQ_CST);
        _exit(0);
    }
    /* in a probe (conf_sub_run): the verdict is its exit status, the detail
       its first line on stderr */
    char line[480];
    vsnprintf(line, sizeof line, fmt, ap);
    dprintf(2, "%s\n", line);
    _exit(CONF_SUB_VERDICT + (int)s);
}

#define VERDICT_FN(name, status)                                                   \
    void name(const char *fmt, ...)                                                \
    {                                                                              \
        va_list ap;                                                                \
        va_start(ap, fmt);                                                         \
        verdict(status, fmt, ap);                                                  \
    }
VERDICT_FN(conf_fail, CONF_FAIL)
VERDICT_FN(conf_unsupported, CONF_UNSUPPORTED)
VERDICT_FN(conf_observe, CONF_OBSERVED)
VERDICT_FN(conf_present, CONF_PRESENT)
VERDICT_FN(conf_absent, CONF_ABSENT)
VERDICT_FN(conf_pass, CONF_PASS)
VERDICT_FN(conf_crash, CONF_CRASH)
VERDICT_FN(conf_timeout, CONF_TIMEOUT)

void conf_sub_verdict(const struct conf_sub *s, const char *what)
{
    if (s->exited && s->code >= CONF_SUB_VERDICT && s->code <= CONF_SUB_VERDICT + CONF_ABSENT) {
        enum conf_status st = (enum conf_status)(s->code - CONF_SUB_VERDICT);
        if (st == CONF_PASS)
            return;
        if (st == CONF_FAIL)
            conf_fail("%s: %s", what, s->err);
        if (st == CONF_UNSUPPORTED)
            conf_unsupported("%s: %s", what, s->err);
    }
    if (s->exited && s->code == 0)
        return;
    if (s->timed_out)
        conf_timeout("%s: %s", what, conf_sub_describe(s));
    if (s->signo)
        conf_crash("%s: %s", what, conf_sub_describe(s));
    conf_fail("%s: %s", what, conf_sub_describe(s));
}

/* --- symbols ------------------------------------------------------------------- */
static const char *expected_library(void)
{
    const struct alloc_ext *ext = alloc_ext_get();
    const char *want = ext->library;
    if (want != NULL && getenv("HEAPMARK_PRELOAD") != NULL) {
        const char *slash = strrchr(want, '/');
        want = slash ? slash + 1 : want;
    }
    return want != NULL ? want : "?";
}

static void *symbol_lookup(const char *name, char *lib, size_t libsize, int *own)
{
    void *sym = dlsym(RTLD_DEFAULT, name);
    Dl_info info;
    *own = -1;
    if (libsize > 0)
        lib[0] = '\0';
    if (sym == NULL)
        return NULL;
    if (dladdr(sym, &info) == 0 || info.dli_fname == NULL) {
        snprintf(lib, libsize, "?");
        *own = 0;
        return sym;
    }
    snprintf(lib, libsize, "%s", info.dli_fname);
    *own = strstr(info.dli_fname, expected_library()) != NULL;
    return sym;
}

int conf_symbol_owner(const char *name, char *lib, size_t libsize)
{
    int own;
    symbol_lookup(name, lib, libsize, &own);
    return own;
}

void *conf_need(const char *name)
{
    char lib[512];
    int own;
    void *sym = symbol_lookup(name, lib, sizeof lib, &own);
    if (own < 0)
        conf_unsupported("%s is not defined in this process", name);
    if (own == 0) {
        const char *base = strrchr(lib, '/');
        conf_unsupported("%s is not %s's own: it resolves to %s", name,
                         alloc_ext_get()->name, base ? base + 1 : lib);
    }
    return sym;
}

const struct alloc_ext *conf_ext(void) { return alloc_ext_get(); }

size_t conf_usable(void *p)
{
    size_t (*fn)(void *) = CONF_EXT_NEED(usable_size);
    return fn(p);
}

/* --- processes ----------------------------------------------------------------- */
const char *conf_signame(int sig)
{
    static char buf[32];
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev != NULL)
        snprintf(buf, sizeof buf, "SIG%s", abbrev);
    else
        snprintf(buf, sizeof buf, "signal %d", sig);
    return buf;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* keeps the first line of what fd delivers in buf */
static void drain(int fd, char *buf, size_t size, size_t *len, int *open)
{
    char tmp[4096];
    for (;;) {
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r > 0) {
            size_t take = (size_t)r;
            if (*len + 1 < size) {
                if (take > size - 1 - *len)
                    take = size - 1 - *len;
                memcpy(buf + *len, tmp, take);
                *len += take;
                buf[*len] = '\0';
            }
            continue;
        }
        if (r == 0)
            *open = 0;
        return;
    }
}

static void first_line(char *s)
{
    char *nl = strchr(s, '\n');
    if (nl != NULL)
        *nl = '\0';
}

/* Waits for pid (the leader of its own process group) until the deadline,
   collecting its stderr from fd; kills the whole group at the end. */
static int wait_child(pid_t pid, int group, int fd, double timeout_s, int *timed_out,
                      char *err, size_t errsize)
{
    double deadline = now_s() + timeout_s;
    size_t len = 0;
    int open = 1, status = 0, waited = 0, pause_ms = 0;
    err[0] = '\0';
    *timed_out = 0;
    while (!waited) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (open) {
            if (poll(&pfd, 1, pause_ms) > 0)
                drain(fd, err, errsize, &len, &open);
        } else {
            conf_sleep_ms(pause_ms);
        }
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            waited = 1;
            break;
        }
        if (now_s() > deadline) {
            if (group)
                kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            *timed_out = 1;
            waited = 1;
        }
        pause_ms = pause_ms < 5 ? pause_ms + 1 : 5;
    }
    if (group)
        kill(-pid, SIGKILL); /* leftovers: grandchildren of a fork check */
    if (open)
        drain(fd, err, errsize, &len, &open);
    close(fd);
    first_line(err);
    return status;
}

/* group: the child leads a new process group (a top-level check), so that
   killing it takes its own children along */
static pid_t spawn(int *fd, int group)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        if (group)
            setpgid(0, 0);
        close(p[0]);
        dup2(p[1], 2);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        signal(SIGALRM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        return 0;
    }
    if (group)
        setpgid(pid, pid);
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    *fd = p[0];
    return pid;
}

void conf_sub_run(struct conf_sub *r, void (*fn)(void *), void *arg, double timeout_s)
{
    memset(r, 0, sizeof *r);
    int fd;
    struct conf_result *saved = shared_result;
    pid_t pid = spawn(&fd, 0);
    if (pid < 0)
        conf_unsupported("probe not run: fork failed (%s)", strerror(errno));
    if (pid == 0) {
        shared_result = NULL; /* a verdict call in the probe only ends it */
        fn(arg);
        _exit(0);
    }
    shared_result = saved;
    int status = wait_child(pid, 0, fd, timeout_s, &r->timed_out, r->err, sizeof r->err);
    if (r->timed_out)
        return;
    if (WIFEXITED(status)) {
        r->exited = 1;
        r->code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        r->signo = WTERMSIG(status);
    }
}

const char *conf_sub_describe(const struct conf_sub *r)
{
    static char buf[320];
    if (r->timed_out)
        snprintf(buf, sizeof buf, "hang (killed at the time limit)");
    else if (r->signo)
        snprintf(buf, sizeof buf, "%s%s%s%s", conf_signame(r->signo), r->err[0] ? " (" : "",
                 r->err, r->err[0] ? ")" : "");
    else
        snprintf(buf, sizeof buf, "exit %d%s%s%s", r->code, r->err[0] ? " (" : "", r->err,
                 r->err[0] ? ")" : "");
    return buf;
}

/* REP and CAP checks never end as fail: whatever happened is what they report. */
static void conf_finalize(const struct conf_check *c, struct conf_result *r)
{
    char tmp[sizeof r->detail];
    if (c->kind == CONF_REP) {
        if (r->status == CONF_OBSERVED || r->status == CONF_UNSUPPORTED)
            return;
        if (r->status == CONF_PASS || r->status == CONF_NONE) {
            if (r->detail[0] == '\0')
                snprintf(r->detail, sizeof r->detail, "completed without a report");
        } else {
            snprintf(tmp, sizeof tmp, "%s: %s", conf_status_name(r->status), r->detail);
            memcpy(r->detail, tmp, sizeof tmp);
        }
        r->status = CONF_OBSERVED;
    } else if (c->kind == CONF_CAP) {
        if (r->status == CONF_FAIL || r->status == CONF_PASS || r->status == CONF_OBSERVED ||
            r->status == CONF_NONE) {
            snprintf(tmp, sizeof tmp, "probe could not decide: %s", r->detail);
            memcpy(r->detail, tmp, sizeof tmp);
            r->status = CONF_UNSUPPORTED;
        }
    } else {
        /* STD, EXT, OWN: observed/present/absent are not their verdicts */
        if (r->status == CONF_OBSERVED || r->status == CONF_PRESENT || r->status == CONF_ABSENT)
            r->status = CONF_PASS;
    }
}

static struct conf_result *result_page(void)
{
    static struct conf_result *page;
    if (page == NULL) {
        void *m = mmap(NULL, sizeof *page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                       -1, 0);
        if (m == MAP_FAILED) {
            fprintf(stderr, "conformance: mmap of the result page failed: %s\n",
                    strerror(errno));
            exit(2);
        }
        page = m;
    }
    return page;
}

int conf_run_check(const struct conf_check *c, double default_timeout, struct conf_result *out)
{
    struct conf_result *page = result_page();
    memset(page, 0, sizeof *page);
    double limit = c->timeout_s > 0 ? c->timeout_s : default_timeout;
    double start = now_s();
    int fd;
    pid_t pid = spawn(&fd, 1);
    if (pid < 0) {
        fprintf(stderr, "conformance: fork failed: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        shared_result = page;
        current_check = c;
        c->fn();
        struct conf_result *r = shared_result;
        if (__atomic_load_n(&r->status, __ATOMIC_SEQ_CST) == CONF_NONE) {
            r->detail[0] = '\0';
            __atomic_store_n(&r->status, (int)CONF_PASS, __ATOMIC_SEQ_CST);
        }
        _exit(0);
    }
    int timed_out;
    char err[200];
    int status = wait_child(pid, 1, fd, limit, &timed_out, err, sizeof err);
    memcpy(out, page, sizeof *out);
    out->seconds = now_s() - start;
    if (timed_out) {
        out->status = CONF_TIMEOUT;
        snprintf(out->detail, sizeof out->detail, "no verdict within %g s%s%s", limit,
                 err[0] ? "; stderr: " : "", err);
    } else if (WIFSIGNALED(status)) {
        /* a verdict already written and then a signal (e.g. in an exit
           handler) still counts as the signal: it is what the user sees */
        out->status = CONF_CRASH;
        snprintf(out->detail, sizeof out->detail, "%s%s%s%s", conf_signame(WTERMSIG(status)),
                 err[0] ? " (" : "", err, err[0] ? ")" : "");
    } else if (out->status == CONF_NONE) {
        out->status = CONF_FAIL;
        snprintf(out->detail, sizeof out->detail,
                 "the process exited with status %d before a verdict%s%s",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, err[0] ? ": " : "", err);
    }
    conf_finalize(c, out);
    return 0;
}

/* --- helpers ------------------------------------------------------------------- */
long conf_rss_kb(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (long)(sysconf(_SC_PAGESIZE) / 1024);
}

size_t conf_page(void) { return (size_t)sysconf(_SC_PAGESIZE); }

static unsigned char pattern_byte(size_t i, unsigned seed)
{
    return (unsigned char)((i * 131u + seed * 7u + (i >> 8)) | 1u);
}

void conf_fill(void *p, size_t n, unsigned seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = pattern_byte(i, seed);
}

long conf_check_fill(const void *p, size_t n, unsigned seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != pattern_byte(i, seed))
            return (long)i;
    return -1;
}

long conf_first_nonzero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return (long)i;
    return -1;
}

void conf_touch(void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

const char *conf_errname(int e)
{
    static char buf[32];
    switch (e) {
    case CONF_ERRNO_SENTINEL: return "errno unchanged";
    case 0: return "0";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    case EOVERFLOW: return "EOVERFLOW";
    case EFAULT: return "EFAULT";
    default:
        snprintf(buf, sizeof buf, "%s", strerrorname_np(e) ? strerrorname_np(e) : "?");
        return buf;
    }
}

void conf_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
