/* fork_new_threads.c: rounds of 4 new threads that malloc/free while the
 * main thread forks 10 times; each child allocates 100 times and exits.
 * Prints how many forks ran, or the first child that did not end within 3 s
 * (deadlocked in the allocator). Standalone: no heapmark code. Confirms
 * FK-01 (POSIX fork: the child must be able to go on; glibc, jemalloc and
 * others make malloc usable in the child of a multi-threaded process). */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>

static atomic_int stop;

static void *churn(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    void *keep[64] = {0};
    while (!stop) {
        seed = seed * 1103515245u + 12345u;
        int slot = (int)((seed >> 8) % 64);
        free(keep[slot]);
        keep[slot] = malloc(1 + (seed >> 12) % 3000);
    }
    for (int i = 0; i < 64; i++)
        free(keep[i]);
    return NULL;
}

/* 0: exited 0; 1: still running after ms (killed) */
static int wait_child(pid_t pid, int ms)
{
    for (int waited = 0; waited < ms; waited += 5) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return 0;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 1;
}

int main(void)
{
    int forks = 0;
    for (int round = 1; round <= 20; round++) {
        pthread_t t[4];
        stop = 0;
        for (int i = 0; i < 4; i++)
            pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(round * 4 + i));
        for (int k = 0; k < 10; k++) {
            pid_t pid = fork();
            if (pid == 0) {
                for (int j = 0; j < 100; j++)
                    free(malloc(64 + (size_t)j));
                _exit(0);
            }
            forks++;
            if (wait_child(pid, 3000)) {
                printf("fork %d (round %d): the child deadlocked (killed after 3 s)\n", forks, round);
                stop = 1;
                for (int i = 0; i < 4; i++)
                    pthread_join(t[i], NULL);
                return 1;
            }
        }
        stop = 1;
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
    }
    printf("fork while new threads allocate: %d forks, every child exited\n", forks);
    return 0;
}
