/* conf.h: the conformance framework as seen by a check.
 *
 * A check is one function declared with CONF_CHECK in conformance/<area>.c.
 * It runs in its own forked child (framework.c) and ends with one verdict:
 *   returns normally          -> pass (STD, EXT, OWN)
 *   conf_fail(...)            -> fail, with "expected X, got Y"
 *   conf_unsupported(...)     -> the allocator lacks the function or extension
 *   conf_observe(...)         -> REP: the behaviour seen, as a short value
 *   conf_present/absent(...)  -> CAP
 * A signal or the time limit ends it as crash or timeout. REP and CAP checks
 * never end as fail (see conf_finalize in framework.c).
 *
 * The calls under test go through volatile function pointers (conf_malloc,
 * ...), and conformance objects are built with -fno-builtin, so the compiler
 * can neither fold nor drop them. Optional entry points are reached through
 * CONF_NEED, which checks that the symbol is the allocator's own.
 */
#ifndef HEAPMARK_CONF_H
#define HEAPMARK_CONF_H

#include "alloc_ext.h"

#include <stddef.h>
#include <stdint.h>

enum conf_kind { CONF_STD, CONF_EXT, CONF_REP, CONF_CAP, CONF_OWN };

enum conf_status {
    CONF_NONE = 0, /* no verdict recorded */
    CONF_PASS,
    CONF_FAIL,
    CONF_UNSUPPORTED,
    CONF_CRASH,
    CONF_TIMEOUT,
    CONF_OBSERVED,
    CONF_PRESENT,
    CONF_ABSENT,
};

struct conf_check {
    const char *id;     /* "AL-01" */
    const char *area;   /* "alignment" */
    enum conf_kind kind;
    const char *intent; /* one line, citing the source */
    void (*fn)(void);
    double timeout_s;   /* 0: the default (--timeout) */
    int hidden;         /* 1: framework self-test, only with HEAPMARK_CONFORMANCE_SELFTEST=1 */
};

void conf_register(const struct conf_check *c);

#define CONF_CHECK_(fn, hid, id, area, kind, timeout, intent)                          \
    static void fn(void);                                                            \
    static const struct conf_check fn##_check = {id, area, kind, intent, fn, timeout, \
                                                 hid};                               \
    __attribute__((constructor)) static void fn##_register(void)                      \
    {                                                                                \
        conf_register(&fn##_check);                                                  \
    }                                                                                \
    static void fn(void)

#define CONF_CHECK(fn, id, area, kind, timeout, intent) \
    CONF_CHECK_(fn, 0, id, area, kind, timeout, intent)
#define CONF_SELFTEST(fn, id, kind, timeout, intent) \
    CONF_CHECK_(fn, 1, id, "selftest", kind, timeout, intent)

/* --- verdicts (they end the check) ---------------------------------------- */
__attribute__((noreturn, format(printf, 1, 2))) void conf_fail(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void conf_unsupported(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void conf_observe(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void conf_present(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void conf_absent(const char *fmt, ...);
/* the allocator crashed or hung inside a probe (see conf_sub_verdict) */
__attribute__((noreturn, format(printf, 1, 2))) void conf_crash(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void conf_timeout(const char *fmt, ...);
/* pass with a remark (e.g. which of two allowed behaviours was seen) */
__attribute__((noreturn, format(printf, 1, 2))) void conf_pass(const char *fmt, ...);

/* --- the calls under test --------------------------------------------------- */
extern void *(*volatile conf_malloc)(size_t);
extern void (*volatile conf_free)(void *);
extern void *(*volatile conf_calloc)(size_t, size_t);
extern void *(*volatile conf_realloc)(void *, size_t);

/* The allocator's own definition of `name`, or the check ends as unsupported
   ("pvalloc is not provided by jemalloc: it resolves to libc.so.6"). */
void *conf_need(const char *name);
#define CONF_NEED(type, name) ((type)conf_need(#name))
typedef void *(*conf_aligned_alloc_fn)(size_t, size_t);
typedef int (*conf_posix_memalign_fn)(void **, size_t, size_t);
typedef void *(*conf_memalign_fn)(size_t, size_t);
typedef void *(*conf_valloc_fn)(size_t);
typedef void *(*conf_reallocarray_fn)(void *, size_t, size_t);
typedef size_t (*conf_usable_size_fn)(void *);
typedef void (*conf_free_sized_fn)(void *, size_t);
typedef void (*conf_free_aligned_sized_fn)(void *, size_t, size_t);

/* Who defines `name` in this process: 1 the allocator under test, 0 another
   library (its file in lib), -1 nobody. */
int conf_symbol_owner(const char *name, char *lib, size_t libsize);

/* The extension table; conf_ext_need ends the check as unsupported when the
   member is NULL. */
const struct alloc_ext *conf_ext(void);
#define CONF_EXT_NEED(member)                                                        \
    (conf_ext()->member ? conf_ext()->member                                         \
                        : (conf_unsupported("no " #member " extension in %s",        \
                                            conf_ext()->name), conf_ext()->member))

/* usable size through the extension, or the check ends as unsupported */
size_t conf_usable(void *p);

/* --- sub-processes: for probes that may abort, crash or hang ---------------- */
struct conf_sub {
    int exited;      /* 1: exited normally with `code` */
    int code;
    int signo;       /* >0: killed by this signal */
    int timed_out;   /* 1: killed at the time limit */
    char err[200];   /* first line of its stderr */
};
/* A verdict call inside a probe ends the probe with exit status
   CONF_SUB_VERDICT + its enum conf_status, its detail on stderr (err). */
#define CONF_SUB_VERDICT 40
void conf_sub_run(struct conf_sub *r, void (*fn)(void *), void *arg, double timeout_s);
/* "exit 0", "SIGABRT (free(): double free detected in tcache 2)", "hang" */
/* Carries a probe's outcome over to the check: returns when the probe exited
   0 or with a pass verdict; otherwise ends the check with the probe's
   verdict, or as crash (signal), timeout, or fail (other exit), prefixed
   with `what`. */
void conf_sub_verdict(const struct conf_sub *s, const char *what);
const char *conf_sub_describe(const struct conf_sub *r);
const char *conf_signame(int sig);

/* --- small helpers --------------------------------------------------------- */
#define CONF_ERRNO_SENTINEL 1789
long conf_rss_kb(void);           /* resident set from /proc/self/statm */
size_t conf_page(void);
void conf_fill(void *p, size_t n, unsigned seed);               /* pattern */
/* index of the first byte that differs from the pattern, or -1 */
long conf_check_fill(const void *p, size_t n, unsigned seed);
long conf_first_nonzero(const void *p, size_t n);
void conf_touch(void *p); /* keeps p alive for the compiler */
const char *conf_errname(int e); /* "ENOMEM", "EINVAL", "errno unchanged" for the sentinel */
void conf_sleep_ms(long ms);

static inline int conf_aligned(const void *p, size_t a)
{
    return a == 0 || ((uintptr_t)p % a) == 0;
}
/* largest power of two dividing the address (0 for NULL) */
static inline size_t conf_alignment_of(const void *p)
{
    uintptr_t u = (uintptr_t)p;
    return u == 0 ? 0 : (size_t)(u & -u);
}
/* the weakest alignment C allows for a request of n bytes: C23 7.24.3p1 asks
   for a fundamental alignment only for objects that fit in n bytes */
static inline size_t conf_weak_alignment(size_t n)
{
    size_t a = 16;
    while (a > 1 && a > n)
        a >>= 1;
    return a;
}

#endif
