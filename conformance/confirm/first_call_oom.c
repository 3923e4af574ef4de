/* Standalone confirmation of TH-03: a thread whose first malloc happens when
   RLIMIT_AS is exhausted must get NULL (ENOMEM), not a crash. Prints one line
   per thread; the exit status tells whether the process survived. */
/* standalone: a thread's first malloc happens when the address space is exhausted */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <sys/resource.h>
static pthread_barrier_t b;
static void *w(void *a) {
  pthread_barrier_wait(&b);
  errno = 0; void *p = malloc(64);
  fprintf(stderr, "thread %ld: malloc(64) = %p errno %d\n", (long)a, p, errno);
  free(p); return NULL;
}
int main(void) {
  pthread_t t[4];
  pthread_barrier_init(&b, NULL, 5);
  for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, w, (void*)i);
  unsigned long pages; FILE *f = fopen("/proc/self/statm","r"); fscanf(f, "%lu", &pages); fclose(f);
  struct rlimit rl = { pages*4096 + (256ul<<20), RLIM_INFINITY }; setrlimit(RLIMIT_AS, &rl);
  void *head = NULL; size_t n = 0;
  for (size_t sz = 1 << 20; sz >= 64; sz /= 4)
    for (;;) { void **p = malloc(sz); if (!p) break; *p = head; head = p; n++; }
  fprintf(stderr, "main holds %zu blocks\n", n);
  pthread_barrier_wait(&b);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  puts("done"); return 0;
}
