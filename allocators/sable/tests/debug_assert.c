/* debug_assert.c: the debug build's invariants fire. Each case runs in a
 * child that corrupts sable's metadata the way a bug would, then calls the
 * slow path that checks it: the child must abort with sbl_assert's message
 * naming the broken invariant. Linked with the debug build's objects. */
#define _GNU_SOURCE
#include "internal.h"
#include "sable.h"

#include <signal.h>
#include <sys/wait.h>

#include "check.h"

/* 8 KiB blocks: above SBL_DIRECT_MAX, so every malloc takes the slow path */
#define N 8192

/* a page that hands out more blocks than it carved */
static void used_over_reserved(void)
{
    void *a = sable_malloc(N);
    struct sbl_page *pg = sbl_page_of(sbl_segment_of(a), a);
    pg->used = (uint16_t)(pg->reserved + 1);
    sable_malloc(N);
}

/* a free list whose next block lies outside its page's carved blocks */
static void block_outside_page(void)
{
    void *a = sable_malloc(N);
    struct sbl_page *pg = sbl_page_of(sbl_segment_of(a), a);
    pg->free = (struct sbl_block *)(pg->start + (size_t)pg->capacity * pg->block_size);
    sable_malloc(N);
}

/* a slice in use marked dirty: the segment's maps disagree when the next
   page is cut from it */
static void dirty_slice_in_use(void)
{
    void *a = sable_malloc(N);
    struct sbl_segment *s = sbl_segment_of(a);
    struct sbl_page *pg = sbl_page_of(s, a);
    s->dirty_map |= (uint64_t)1 << (pg - sbl_seg_pages(s));
    sable_malloc(16384); /* another class: a new page from the same segment */
}

/* a queue that lost its last page: the page's links no longer match the
   queue it claims when it leaves it */
static void page_not_in_queue(void)
{
    void *a = sable_malloc(N);
    struct sbl_page *pg = sbl_page_of(sbl_segment_of(a), a);
    sbl_tls_heap->queues[pg->cls].last = NULL;
    sable_free(a);
    sable_purge(); /* the empty page leaves its queue */
}

static void expect_abort(const char *name, void (*fn)(void), const char *expect)
{
    int fd[2];
    if (pipe(fd) != 0) {
        CHECK(!"pipe");
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        fn();
        _exit(0); /* no assertion fired */
    }
    close(fd[1]);
    char buf[1024];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fd[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = 0;
    close(fd[0]);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    bool ok = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT &&
              strstr(buf, "sable: assertion failed: ") != NULL && strstr(buf, expect) != NULL;
    if (!ok)
        fprintf(stderr, "%s: expected an abort with \"%s\", got status %#x and \"%s\"\n", name,
                expect, st, buf);
    CHECK(ok);
}

int main(void)
{
    CHECK(SBL_DEBUG == 1);
    expect_abort("used > reserved", used_over_reserved, "sbl_page_counts_ok(pg)");
    expect_abort("block outside its page", block_outside_page, "sbl_block_in_page(pg, b)");
    expect_abort("dirty slice in use", dirty_slice_in_use, "(s->dirty_map & ~s->free_map) == 0");
    expect_abort("page not in its queue", page_not_in_queue, "queue_holds(h, q, pg, cls)");
    return check_done("sable debug assertions");
}
