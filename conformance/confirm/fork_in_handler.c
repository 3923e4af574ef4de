/* Standalone view of FK-03 (a REP check): fork() inside a SIGALRM handler
   that interrupted malloc/free in a single-threaded process, 500 times; each
   child allocates 20 times and exits. Prints "500 forks, N children failed";
   a deadlock shows as no output (run.sh stops it after 10 s). The timer is
   one-shot and re-armed by the handler after a random 20-220 us, so that no
   signal is pending during the handler's own fork. fork() is no longer
   async-signal-safe in POSIX.1-2024 (_Fork is): what happens is the
   allocator's choice. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t forks, bad;
static void *(*volatile v_malloc)(size_t) = malloc;
static void (*volatile v_free)(void *) = free;

static void handler(int sig)
{
    (void)sig;
    int saved = errno;
    static unsigned seed = 17;
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 20; i++) {
            char *p = v_malloc((size_t)(i % 50) * 40 + 1);
            if (p == NULL)
                _exit(2);
            p[0] = 1;
            v_free(p);
        }
        _exit(0);
    }
    if (pid > 0) {
        int st;
        if (waitpid(pid, &st, 0) == pid && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
            bad++;
        forks++;
    }
    seed = seed * 1103515245u + 12345u;
    struct itimerval next = {{0, 0}, {0, 20 + (long)((seed >> 8) % 200)}};
    setitimer(ITIMER_REAL, &next, NULL);
    errno = saved;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
    void *keep[32] = {0};
    unsigned seed = 1;
    while (forks < 500) {
        seed = seed * 1103515245u + 12345u;
        int slot = (int)((seed >> 8) % 32);
        v_free(keep[slot]);
        keep[slot] = v_malloc(1 + (seed >> 12) % 2000);
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("%d forks, %d children failed\n", (int)forks, (int)bad);
    return 0;
}
