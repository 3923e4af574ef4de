/* os.c: the only file that talks to the kernel. Every function keeps errno
 * as it was, so that free() never clobbers it and callers set ENOMEM
 * themselves.
 *
 * Reserving and committing: memory that blocks are carved from is mapped
 * read-write without MAP_NORESERVE (sbl_os_map), so the kernel's overcommit
 * policy, RLIMIT_AS and RLIMIT_DATA judge every request when it is made,
 * and a refusal comes back here as a failed mmap (then NULL and ENOMEM to
 * the caller, after the OOM handlers). Address space kept for later growth
 * is reserved with PROT_NONE (sbl_os_reserve: the kernel charges a private
 * mapping only once it is writable) and committed with mprotect
 * (sbl_os_commit), which the same policy and limits may refuse. Only the
 * chunk registry, sparse metadata that no block lives in, is mapped
 * MAP_NORESERVE (sbl_os_map_sparse). */
#define _GNU_SOURCE
#include "internal.h"

#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* sbl_os_as_limited's last answer and when it was read (ms; UINT64_MAX:
   read again) */
static uint64_t as_read_at = UINT64_MAX; /* ms; UINT64_MAX: read again */
bool sbl_os_limited;                     /* its last answer (internal.h: sbl_os_as_limited_last) */

static void *os_mmap(size_t size, int prot, int flags)
{
    int e = errno;
    void *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    errno = e;
    if (p == MAP_FAILED) {
        __atomic_store_n(&as_read_at, UINT64_MAX, __ATOMIC_RELEASE); /* a limit may be why */
        return NULL;
    }
    sbl_stat_reserved((int64_t)size);
    return p;
}

/* read-write, charged against the commit limit now */
void *sbl_os_map(size_t size) { return os_mmap(size, PROT_READ | PROT_WRITE, 0); }

/* address space only: no access, no charge, until sbl_os_commit */
void *sbl_os_reserve(size_t size) { return os_mmap(size, PROT_NONE, 0); }

/* read-write, never charged: for sparse metadata only, never for blocks */
void *sbl_os_map_sparse(size_t size)
{
    return os_mmap(size, PROT_READ | PROT_WRITE, MAP_NORESERVE);
}

/* Makes reserved pages read-write (charged); false when the kernel's
 * overcommit policy or RLIMIT_DATA refuses. Committed pages may be passed
 * again: they are not charged twice. */
bool sbl_os_commit(void *p, size_t size)
{
    if (size == 0)
        return true;
    int e = errno;
    int r = mprotect(p, size, PROT_READ | PROT_WRITE);
    errno = e;
    return r == 0;
}

void sbl_os_unmap(void *p, size_t size)
{
    if (size == 0)
        return;
    int e = errno;
    if (munmap(p, size) == 0)
        sbl_stat_reserved(-(int64_t)size);
    errno = e;
}

/* Maps `size` bytes at an address A with (A + lead) % align == 0 (align a
 * power of two >= 4 KiB, lead < align or a multiple of it); trims the rest.
 * Read-write (sbl_os_map), or reserved only (sbl_os_reserve_aligned). */
static void *os_map_aligned(size_t size, size_t align, size_t lead, bool rw)
{
    if (size > SIZE_MAX - align)
        return NULL;
    uint8_t *raw = rw ? sbl_os_map(size + align) : sbl_os_reserve(size + align);
    if (raw == NULL)
        return NULL;
    uintptr_t want = ((uintptr_t)raw + lead + align - 1) & ~(uintptr_t)(align - 1);
    uint8_t *p = (uint8_t *)(want - lead);
    if (p < raw)
        p += align;
    size_t before = (size_t)(p - raw);
    size_t after = align - before;
    sbl_os_unmap(raw, before);
    sbl_os_unmap(p + size, after);
    return p;
}

void *sbl_os_map_aligned(size_t size, size_t align, size_t lead)
{
    return os_map_aligned(size, align, lead, true);
}

void *sbl_os_reserve_aligned(size_t size, size_t align, size_t lead)
{
    return os_map_aligned(size, align, lead, false);
}

/* Gives the pages back; the range stays mapped and reads as zero. false
   when the kernel refused (locked pages, for one): the bytes are as they
   were. */
bool sbl_os_purge(void *p, size_t size)
{
    int e = errno;
    int rc = madvise(p, size, MADV_DONTNEED);
    errno = e;
    return rc == 0;
}

/* Maps the pages of [p, p + size) in, written (zero), with one system call
   instead of a page fault each; false when the kernel cannot (before Linux
   5.14, or out of memory: the pages then fault in as they are used). After
   one EINVAL it is not tried again. */
#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23 /* (older headers) */
#endif

bool sbl_os_populate(void *p, size_t size)
{
#ifdef MADV_POPULATE_WRITE
    static bool unsupported;
    if (__atomic_load_n(&unsupported, __ATOMIC_RELAXED))
        return false;
    int e = errno;
    int rc = madvise(p, size, MADV_POPULATE_WRITE);
    if (rc != 0 && errno == EINVAL)
        __atomic_store_n(&unsupported, true, __ATOMIC_RELAXED);
    errno = e;
    return rc == 0;
#else
    (void)p, (void)size;
    return false;
#endif
}

/* Whether the kernel gives transparent huge pages of SBL_HUGE_PAGE bytes
   to a range that asks for them (their size is that, and the setting is
   not "never"): read once, from sysfs. */
#define THP_DIR "/sys/kernel/mm/transparent_hugepage/"

static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return n;
}

bool sbl_os_huge_pages(void)
{
    static int state = -1; /* -1: not read yet; 0: no; 1: yes */
    int st = __atomic_load_n(&state, __ATOMIC_RELAXED);
    if (st < 0) {
        char on[64], size[32];
        int e = errno;
        /* "always [madvise] never": the word in brackets is the setting */
        st = read_small(THP_DIR "enabled", on, sizeof on) > 0 && strstr(on, "[never]") == NULL &&
             read_small(THP_DIR "hpage_pmd_size", size, sizeof size) > 0 &&
             strtoull(size, NULL, 10) == SBL_HUGE_PAGE;
        errno = e;
        __atomic_store_n(&state, st, __ATOMIC_RELAXED);
    }
    return st == 1;
}

/* Maps the SBL_HUGE_PAGE bytes at p (aligned to that, holding no RAM) in,
   written (zero), as one transparent huge page when the kernel has one to
   give: one fault and one clear of 2 MiB instead of 512 of each. The range
   asks for a huge page only for the call (MADV_HUGEPAGE, then
   MADV_NOHUGEPAGE), so that khugepaged never gathers the small pages that
   are left in it after a part of it is purged back into a huge one. false
   when nothing was mapped in (no transparent huge pages, or a refusal:
   the pages then fault in as they are used). */
bool sbl_os_populate_huge(void *p)
{
#if defined(MADV_HUGEPAGE) && defined(MADV_NOHUGEPAGE)
    if (!sbl_os_huge_pages())
        return false;
    int e = errno;
    bool ok = madvise(p, SBL_HUGE_PAGE, MADV_HUGEPAGE) == 0;
    if (ok) {
        ok = sbl_os_populate(p, SBL_HUGE_PAGE);
        madvise(p, SBL_HUGE_PAGE, MADV_NOHUGEPAGE);
    }
    errno = e;
    return ok;
#else
    (void)p;
    return false;
#endif
}

/* Which pages of [p, p + size) hold RAM (mincore: bit 0 of vec[i] for the
   i-th page; p page-aligned); false when the kernel does not say. */
bool sbl_os_resident(void *p, size_t size, unsigned char *vec)
{
    int e = errno;
    int rc = mincore(p, size, vec);
    errno = e;
    return rc == 0;
}

/* Resizes a mapping in place; NULL when it cannot. */
void *sbl_os_remap(void *p, size_t old_size, size_t new_size)
{
    int e = errno;
    void *q = mremap(p, old_size, new_size, 0);
    errno = e;
    if (q == MAP_FAILED)
        return NULL;
    sbl_stat_reserved((int64_t)new_size - (int64_t)old_size);
    return q;
}

/* Moves a mapping's pages to `to` (which the caller has reserved) without
 * copying them. */
void *sbl_os_remap_to(void *p, size_t old_size, size_t new_size, void *to)
{
    int e = errno;
    void *q = mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, to);
    errno = e;
    if (q == MAP_FAILED)
        return NULL;
    sbl_stat_reserved(-(int64_t)old_size); /* `to` was counted when mapped */
    return q;
}

/* Whether the address space is limited (RLIMIT_AS: a program may set it
 * at any moment). Then sable keeps nothing warm and reserves nothing after
 * huge blocks: address space it holds is address space that thread stacks
 * and other mappings cannot have. getrlimit is a system call (no vDSO), and
 * the huge and segment paths ask on every free: the answer is read again
 * once per tick of the coarse clock, and at once after a mapping failed
 * (the first answer after a limit is set may thus be one tick late; a
 * mapping refused meanwhile is retried without reserve, see huge.c). */

bool sbl_os_as_limited(void) { return sbl_os_as_limited_at(sbl_clock_ms()); }

/* the same, for a caller that has just read the clock (ms) */
bool sbl_os_as_limited_at(uint64_t now)
{
    if (__atomic_load_n(&as_read_at, __ATOMIC_ACQUIRE) == now)
        return __atomic_load_n(&sbl_os_limited, __ATOMIC_RELAXED);
    struct rlimit rl;
    int e = errno;
    int r = getrlimit(RLIMIT_AS, &rl);
    errno = e;
    bool lim = r == 0 && rl.rlim_cur != RLIM_INFINITY;
    __atomic_store_n(&sbl_os_limited, lim, __ATOMIC_RELAXED);
    __atomic_store_n(&as_read_at, now, __ATOMIC_RELEASE);
    return lim;
}

uint64_t sbl_os_clock_last; /* sbl_clock_ms's latest answer, any thread's */

uint64_t sbl_clock_ms(void)
{
    struct timespec ts;
    int e = errno;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    errno = e;
    uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    if (__atomic_load_n(&sbl_os_clock_last, __ATOMIC_RELAXED) != now) /* written once per tick */
        __atomic_store_n(&sbl_os_clock_last, now, __ATOMIC_RELAXED);
    return now;
}

void sbl_os_write(int fd, const char *s, size_t n)
{
    int e = errno;
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            break;
        s += w;
        n -= (size_t)w;
    }
    errno = e;
}

/* a failed sbl_assert (debug builds): "sable: assertion failed: e
   (file:line)" on stderr, then abort */
void sbl_assert_fail(const char *expr, const char *file, int line)
{
    struct sbl_line l = {.n = 0};
    sbl_line_str(&l, "sable: assertion failed: ");
    sbl_line_str(&l, expr);
    sbl_line_str(&l, " (");
    sbl_line_str(&l, file);
    sbl_line_str(&l, ":");
    sbl_line_dec(&l, line > 0 ? (uintptr_t)line : 0);
    sbl_line_str(&l, ")");
    sbl_line_write(&l, 2);
    abort();
}

/* the lock's wait (internal.h) */
void sbl_os_yield(void)
{
    int e = errno;
    sched_yield();
    errno = e;
}

/* a close-on-exec copy of stderr (programs may close theirs before sable's
   last line), or -1 */
int sbl_os_dup_stderr(void)
{
    int e = errno;
    int fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    errno = e;
    return fd;
}

/* path opened for appending (created 0644), close-on-exec, or -1 */
int sbl_os_open_append(const char *path)
{
    int e = errno;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    errno = e;
    return fd;
}

long sbl_os_tid(void)
{
    int e = errno;
    long t = syscall(SYS_gettid);
    errno = e;
    return t;
}

/* a per-process secret: the kernel's random bytes, or (where getrandom
   would block or is missing) the clock, the process id and an address */
uintptr_t sbl_os_random(void)
{
    int e = errno;
    uintptr_t k = 0;
    long r = syscall(SYS_getrandom, &k, sizeof k, 0x1 /* GRND_NONBLOCK */);
    if (r != (long)sizeof k) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        k = (uintptr_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uintptr_t)&k ^ (uintptr_t)getpid();
    }
    errno = e;
    return k;
}
