/* threads.c: thread churn and fork.
 *  churn: 10,000 short-lived threads (8 at a time), each allocating and
 *         freeing, and leaving one block for the main thread to free;
 *         RSS must stay bounded (heaps of exited threads are reused).
 *  fork:  200 forks from the main thread while two threads allocate and
 *         free; every child allocates (100 blocks, one thread) and exits; a
 *         child that hangs is killed by its alarm and fails the test.
 * --emulated (under qemu-user): the emulator's own memory grows with every
 * thread it ever ran, and it cannot fork a program whose other threads run:
 * 2,000 threads, bounded by the count of heaps instead of RSS, and no fork. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "check.h"
#include "sable.h"

#define CHURN_THREADS 10000
#define CHURN_BATCH 8
#define FORKS 200

static void *churn_thread(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    void *p[64];
    for (int i = 0; i < 64; i++) {
        p[i] = malloc(16 + (id * 31 + (uintptr_t)i * 97) % 3000);
        memset(p[i], (int)i, 16);
    }
    for (int i = 1; i < 64; i++)
        free(p[i]);
    return p[0]; /* freed by the main thread: a remote free into an exited heap */
}

static void test_churn(int threads, int check_rss)
{
    size_t before = 0;
    for (int round = 0; round < threads / CHURN_BATCH; round++) {
        pthread_t t[CHURN_BATCH];
        for (int i = 0; i < CHURN_BATCH; i++)
            CHECK(pthread_create(&t[i], NULL, churn_thread,
                                 (void *)(uintptr_t)(round * CHURN_BATCH + i)) == 0);
        for (int i = 0; i < CHURN_BATCH; i++) {
            void *p = NULL;
            pthread_join(t[i], &p);
            free(p);
        }
        if (round == 50)
            before = rss_bytes();
    }
    size_t after = rss_bytes();
    printf("churn: RSS %zu KiB after 400 threads, %zu KiB after %d\n", before >> 10, after >> 10,
           threads);
    if (check_rss)
        CHECK(after < before + ((size_t)16 << 20));
    /* the heaps of exited threads are reused: the main thread's and one per
       running thread at most */
    struct sable_stats st;
    CHECK(sable_stats(&st) == 0);
    printf("churn: %zu heaps made for %d threads\n", st.heaps, threads);
    CHECK(st.heaps <= CHURN_BATCH + 1);
}

static _Atomic int stop;

static void *alloc_loop(void *arg)
{
    uint64_t s = (uintptr_t)arg;
    void *keep[128] = {0};
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        unsigned i = (unsigned)(s >> 33) % 128;
        free(keep[i]);
        keep[i] = malloc(1 + (s >> 40) % 70000);
    }
    for (int i = 0; i < 128; i++)
        free(keep[i]);
    return NULL;
}

static void *child_thread(void *arg)
{
    (void)arg;
    void *p = malloc(1000);
    free(p);
    return NULL;
}

static void test_fork(void)
{
    pthread_t t[2];
    for (uintptr_t i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, alloc_loop, (void *)(i + 1)) == 0);
    int ok = 0;
    for (int k = 0; k < FORKS; k++) {
        void *mine = malloc(100);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(5);
            void *p[100];
            for (int i = 0; i < 100; i++)
                p[i] = malloc(16 + (size_t)i * 40);
            for (int i = 0; i < 100; i++)
                free(p[i]);
            free(mine); /* allocated before the fork */
            pthread_t ct;
            if (pthread_create(&ct, NULL, child_thread, NULL) != 0)
                _exit(3);
            pthread_join(ct, NULL);
            _exit(0);
        }
        CHECK(pid > 0);
        int st = 0;
        if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            ok++;
        else
            fprintf(stderr, "fork %d: child status %#x\n", k, st);
        free(mine);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("fork: %d of %d children allocated and exited cleanly\n", ok, FORKS);
    CHECK(ok == FORKS);
}

int main(int argc, char **argv)
{
    int emulated = argc > 1 && strcmp(argv[1], "--emulated") == 0;
    test_churn(emulated ? 2000 : CHURN_THREADS, !emulated);
    if (!emulated)
        test_fork();
    return check_done("sable threads");
}
