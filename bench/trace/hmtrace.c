/* hmtrace.c: records the allocation trace of a program (LD_PRELOAD). Built
 * as build/lib/libhmtrace.so (bench/trace.mk); run by `build/heapmark trace`.
 *
 * It wraps whatever allocator is underneath (the next malloc in the search
 * order) and writes every successful malloc, calloc, realloc, free and
 * aligned allocation to HEAPMARK_TRACE_OUT, in the format of
 * bench/trace/FORMAT.md: block ids instead of addresses (ids of freed blocks
 * are reused, so the largest id is about the peak number of live blocks), and
 * the index of the thread that made each call. Events are written in the
 * order they happened (one lock), so a replay can keep cross-thread
 * dependencies.
 *
 * HEAPMARK_TRACE_OUT may contain "%p" (replaced by the process id): then every
 * process started under it (exec) writes its own file. Without "%p" only the
 * first process records; the variable is removed from its environment. A
 * forked child never records.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hmtrace_format.h"


static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);

/* Allocations made while dlsym itself runs (it may call calloc) come from
   here and are never freed for real. */
static char boot_arena[1 << 16] __attribute__((aligned(64)));
static size_t boot_used;

static void *boot_alloc(size_t n)
{
    n = (n + 63) & ~(size_t)63;
    if (boot_used + n > sizeof boot_arena)
        return NULL;
    void *p = boot_arena + boot_used;
    boot_used += n;
    return p;
}

static int is_boot(const void *p)
{
    return (const char *)p >= boot_arena && (const char *)p < boot_arena + sizeof boot_arena;
}

/* --- recorder state (all under `lock`) -------------------------------------- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int recording; /* 1 while this process writes a trace */
static int fd = -1;
static unsigned char buf[1 << 20];
static size_t buf_used;
static int last_thread = -1;
static int nthreads;
static __thread int my_thread __attribute__((tls_model("initial-exec"))) = -1;
static __thread int busy __attribute__((tls_model("initial-exec")));

/* address -> id: open addressing, linear probing, tombstones */
struct entry {
    uintptr_t addr; /* 0 empty, 1 tombstone */
    uint32_t id;
};
static struct entry *table;
static size_t table_cap, table_used; /* used counts tombstones too */
static uint32_t *free_ids;
static size_t free_ids_len, free_ids_cap;
static uint32_t next_id;

static void *map(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void stop(const char *why)
{
    if (recording) {
        char msg[160];
        int n = snprintf(msg, sizeof msg, "hmtrace: recording stopped: %s\n", why);
        if (n > 0 && write(2, msg, (size_t)n) < 0) {
            /* nothing more to do */
        }
    }
    recording = 0;
}

static void flush(void)
{
    size_t off = 0;
    while (off < buf_used) {
        ssize_t n = write(fd, buf + off, buf_used - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            stop("cannot write the trace file");
            break;
        }
        off += (size_t)n;
    }
    buf_used = 0;
}

static void put_byte(unsigned char c)
{
    if (buf_used == sizeof buf)
        flush();
    buf[buf_used++] = c;
}

static void put_varint(uint64_t v)
{
    unsigned char b[10];
    size_t n = hmt_put_varint(b, v);
    for (size_t i = 0; i < n; i++)
        put_byte(b[i]);
}

static size_t hash(uintptr_t a, size_t cap) { return (size_t)((a >> 4) * 0x9e3779b97f4a7c15ull) & (cap - 1); }

static int table_grow(void)
{
    size_t cap = table_cap ? table_cap * 2 : 1 << 16;
    struct entry *t = map(cap * sizeof *t);
    if (t == NULL)
        return -1;
    size_t used = 0;
    for (size_t i = 0; i < table_cap; i++) {
        if (table[i].addr > 1) {
            size_t h = hash(table[i].addr, cap);
            while (t[h].addr != 0)
                h = (h + 1) & (cap - 1);
            t[h] = table[i];
            used++;
        }
    }
    if (table)
        munmap(table, table_cap * sizeof *table);
    table = t, table_cap = cap, table_used = used;
    return 0;
}

/* New id for address a; -1 on failure. */
static int64_t id_insert(uintptr_t a)
{
    if ((table_used + 1) * 4 >= table_cap * 3 && table_grow() != 0)
        return -1;
    uint32_t id = free_ids_len ? free_ids[--free_ids_len] : next_id++;
    size_t h = hash(a, table_cap);
    while (table[h].addr > 1)
        h = (h + 1) & (table_cap - 1);
    if (table[h].addr == 0)
        table_used++;
    table[h].addr = a;
    table[h].id = id;
    return id;
}

/* Removes address a; its id, or -1 when a is unknown (allocated before the
   recording started). The id is not yet reusable (see id_release). */
static int64_t id_remove(uintptr_t a)
{
    if (table_cap == 0)
        return -1;
    size_t h = hash(a, table_cap);
    while (table[h].addr != 0) {
        if (table[h].addr == a) {
            table[h].addr = 1;
            return table[h].id;
        }
        h = (h + 1) & (table_cap - 1);
    }
    return -1;
}

static void id_release(uint32_t id)
{
    if (free_ids_len == free_ids_cap) {
        size_t cap = free_ids_cap ? free_ids_cap * 2 : 1 << 16;
        uint32_t *f = map(cap * sizeof *f);
        if (f == NULL)
            return; /* the id is simply not reused */
        if (free_ids) {
            memcpy(f, free_ids, free_ids_len * sizeof *f);
            munmap(free_ids, free_ids_cap * sizeof *f);
        }
        free_ids = f, free_ids_cap = cap;
    }
    free_ids[free_ids_len++] = id;
}

static void put_head(int op, uint32_t id)
{
    if (my_thread < 0)
        my_thread = nthreads++;
    if (my_thread != last_thread) {
        put_byte((unsigned char)(op | HMT_THREAD_FLAG));
        put_varint((uint64_t)my_thread);
        last_thread = my_thread;
    } else {
        put_byte((unsigned char)op);
    }
    put_varint(id);
}

/* --- events ---------------------------------------------------------------- */

static void record_alloc(int op, void *p, size_t align, size_t size)
{
    if (!recording || busy || p == NULL)
        return;
    busy = 1;
    pthread_mutex_lock(&lock);
    if (recording) {
        int64_t id = id_insert((uintptr_t)p);
        if (id < 0) {
            stop("out of memory for the address table");
        } else {
            put_head(op, (uint32_t)id);
            if (op == HMT_MEMALIGN)
                put_varint(align);
            put_varint(size);
        }
    }
    pthread_mutex_unlock(&lock);
    busy = 0;
}

static void record_free(void *p)
{
    if (!recording || busy || p == NULL)
        return;
    busy = 1;
    pthread_mutex_lock(&lock);
    if (recording) {
        int64_t id = id_remove((uintptr_t)p);
        if (id >= 0) {
            put_head(HMT_FREE, (uint32_t)id);
            id_release((uint32_t)id);
        }
    }
    pthread_mutex_unlock(&lock);
    busy = 0;
}

/* realloc(old) -> p: the block keeps its id. Called with the lock held
   (across the real realloc, so no other thread can be handed `old` before
   it is renamed). */
static void record_realloc(void *old, void *p, size_t size)
{
    if (recording) {
        int64_t id = old ? id_remove((uintptr_t)old) : -1;
        if (p == NULL) { /* realloc(old, 0) that freed the block */
            if (id >= 0) {
                put_head(HMT_FREE, (uint32_t)id);
                id_release((uint32_t)id);
            }
        } else if (id < 0) { /* from NULL or from a block we never saw */
            id = id_insert((uintptr_t)p);
            if (id < 0) {
                stop("out of memory for the address table");
            } else {
                put_head(HMT_MALLOC, (uint32_t)id);
                put_varint(size);
            }
        } else {
            size_t h = hash((uintptr_t)p, table_cap); /* same id, new address */
            while (table[h].addr > 1)
                h = (h + 1) & (table_cap - 1);
            if (table[h].addr == 0)
                table_used++;
            table[h].addr = (uintptr_t)p;
            table[h].id = (uint32_t)id;
            put_head(HMT_REALLOC, (uint32_t)id);
            put_varint(size);
        }
    }
}

/* --- set-up ---------------------------------------------------------------- */

static void in_child(void)
{
    /* the child must not write into the parent's file, nor flush its buffer */
    recording = 0;
    fd = -1;
    buf_used = 0;
}

static int resolving;

static void resolve(void)
{
    if (real_malloc != NULL || resolving)
        return;
    resolving = 1;
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    real_free = dlsym(RTLD_NEXT, "free");
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = dlsym(RTLD_NEXT, "memalign");
    resolving = 0;
    if (!real_malloc || !real_free || !real_calloc || !real_realloc || !real_posix_memalign ||
        !real_aligned_alloc || !real_memalign) {
        static const char msg[] = "hmtrace: cannot find the allocator underneath\n";
        if (write(2, msg, sizeof msg - 1) < 0) {
            /* nothing more to do */
        }
        _exit(127);
    }
}

__attribute__((constructor)) static void hmtrace_start(void)
{
    resolve();
    const char *out = getenv("HEAPMARK_TRACE_OUT");
    if (out == NULL || *out == '\0')
        return;
    char path[4096];
    const char *pp = strstr(out, "%p");
    if (pp != NULL)
        snprintf(path, sizeof path, "%.*s%d%s", (int)(pp - out), out, (int)getpid(), pp + 2);
    else
        snprintf(path, sizeof path, "%s", out);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        char msg[4200];
        int n = snprintf(msg, sizeof msg, "hmtrace: cannot create %s: %s\n", path, strerror(errno));
        if (n > 0 && write(2, msg, (size_t)n) < 0) {
            /* nothing more to do */
        }
        return;
    }
    if (pp == NULL)
        unsetenv("HEAPMARK_TRACE_OUT"); /* exec'd children do not record */
    pthread_atfork(NULL, NULL, in_child);
    memcpy(buf, HMT_MAGIC, HMT_MAGIC_LEN);
    buf_used = HMT_MAGIC_LEN;
    recording = 1;
}

__attribute__((destructor)) static void hmtrace_finish(void)
{
    pthread_mutex_lock(&lock);
    if (recording) {
        put_byte(HMT_END);
        flush();
        recording = 0;
    }
    if (fd >= 0)
        close(fd);
    fd = -1;
    pthread_mutex_unlock(&lock);
}

/* --- the wrapped API --------------------------------------------------------- */

void *malloc(size_t n)
{
    if (real_malloc == NULL) {
        if (resolving)
            return boot_alloc(n);
        resolve();
    }
    void *p = real_malloc(n);
    record_alloc(HMT_MALLOC, p, 0, n);
    return p;
}

void free(void *p)
{
    if (p == NULL || is_boot(p))
        return;
    if (real_free == NULL)
        resolve();
    record_free(p); /* before the address can be handed out again */
    real_free(p);
}

void *calloc(size_t n, size_t size)
{
    if (real_calloc == NULL) {
        if (resolving)
            return boot_alloc(n * size); /* zeroed: static storage */
        resolve();
    }
    void *p = real_calloc(n, size);
    if (p != NULL)
        record_alloc(HMT_CALLOC, p, 0, n * size);
    return p;
}

void *realloc(void *old, size_t n)
{
    if (real_realloc == NULL)
        resolve();
    if (is_boot(old)) { /* move out of the boot arena */
        void *p = real_malloc(n);
        size_t room = (size_t)(boot_arena + sizeof boot_arena - (char *)old);
        if (p != NULL)
            memcpy(p, old, n < room ? n : room);
        record_alloc(HMT_MALLOC, p, 0, n);
        return p;
    }
    if (!recording || busy)
        return real_realloc(old, n);
    busy = 1;
    pthread_mutex_lock(&lock);
    void *p = real_realloc(old, n);
    if (p != NULL || (old != NULL && n == 0))
        record_realloc(old, p, n);
    pthread_mutex_unlock(&lock);
    busy = 0;
    return p;
}

void *reallocarray(void *old, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(old, total);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (real_posix_memalign == NULL)
        resolve();
    int r = real_posix_memalign(out, align, n);
    if (r == 0)
        record_alloc(HMT_MEMALIGN, *out, align, n);
    return r;
}

void *aligned_alloc(size_t align, size_t n)
{
    if (real_aligned_alloc == NULL)
        resolve();
    void *p = real_aligned_alloc(align, n);
    record_alloc(HMT_MEMALIGN, p, align, n);
    return p;
}

void *memalign(size_t align, size_t n)
{
    if (real_memalign == NULL)
        resolve();
    void *p = real_memalign(align, n);
    record_alloc(HMT_MEMALIGN, p, align, n);
    return p;
}

void *valloc(size_t n)
{
    return memalign((size_t)sysconf(_SC_PAGESIZE), n);
}

void *pvalloc(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return memalign(page, (n + page - 1) & ~(page - 1));
}
