/* trace_prog.c: makes known allocation calls (sizes 1001.. mark them) for
   trace_test.sh, which checks that the recorder wrote exactly these. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *shared;

static void *worker(void *arg)
{
    (void)arg;
    void *p = malloc(1006);   /* thread 1 */
    free(shared);             /* a cross-thread free of 1005 */
    free(p);
    return NULL;
}

int main(void)
{
    void *a = malloc(1001);
    void *b = calloc(7, 143);           /* 1001 bytes, calloc */
    a = realloc(a, 1002);               /* same id as a */
    void *c;
    if (posix_memalign(&c, 64, 1003) != 0)
        return 1;
    free(b);
    void *d = malloc(1004);             /* reuses b's id */
    void *e = realloc(NULL, 1007);      /* a malloc */
    shared = aligned_alloc(128, 1005 + 123); /* 1128 */
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0 || pthread_join(t, NULL) != 0)
        return 1;
    pid_t pid = fork();                 /* the child's calls are not recorded */
    if (pid == 0) {
        free(malloc(1999));
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    e = realloc(e, 0);                  /* glibc frees: a free */
    free(a);
    free(c);
    free(d);
    void *never = malloc(1008);         /* never freed */
    (void)never;
    return 0;
}
