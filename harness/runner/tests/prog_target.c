/* prog_target.c: a stand-in real program for the program-workload tests
 * (programs.sh), misbehaving or allocating on request.
 *
 *   prog_target print N        N deterministic lines on stdout
 *   prog_target uninit         prints the bytes of a fresh malloc(64) block
 *                              without writing them first (0 under glibc)
 *   prog_target crash | hang | garbage | exit CODE
 *   prog_target steps MIB      at 0.3 s touches MIB MiB, holds it 1 s once
 *                              touched, frees it, exits 1 s later; prints
 *                              "touched T1 freed T2" (seconds since its start):
 *                              the RSS sampler's known series
 *   prog_target serve PORT     a line-echo server on 127.0.0.1:PORT until
 *                              killed; prints "server pid N" first
 *   prog_target client PORT N [slow]   N requests to it, then "requests/s X";
 *                              slow: sleeps 60 s before the first
 *
 * print, uninit, crash and garbage first wait 0.2 s, as a real program lives
 * long enough for the runner to read its maps (the preload proof).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_until(double t0, double at)
{
    double left = at - (now() - t0);
    if (left > 0)
        usleep((useconds_t)(left * 1e6));
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

static int serve(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = loopback(port);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0) {
        perror("bind");
        return 1;
    }
    printf("server pid %d\n", (int)getpid());
    fflush(stdout);
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            continue;
        char *buf = malloc(4096);
        ssize_t n = read(c, buf, 4096);
        if (n > 0 && write(c, buf, (size_t)n) != n)
            perror("write");
        free(buf);
        close(c);
    }
}

static int client(int port, long n, int slow)
{
    if (slow)
        sleep(60);
    double t0 = now();
    for (long i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = loopback(port);
        char buf[16];
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || write(fd, "ping\n", 5) != 5 ||
            read(fd, buf, sizeof buf) != 5) {
            perror("request");
            return 1;
        }
        close(fd);
    }
    printf("requests/s %.1f\n", (double)n / (now() - t0));
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strstr(" print uninit crash garbage ", mode) && *mode)
        usleep(200000);
    if (strcmp(mode, "print") == 0 && argc > 2) {
        for (long i = 0; i < atol(argv[2]); i++)
            printf("line %ld value %ld\n", i, i * 7919 % 1000);
        return 0;
    }
    if (strcmp(mode, "uninit") == 0) {
        unsigned char *volatile p = malloc(64);
        unsigned sum = 0;
        for (int i = 0; i < 64; i++)
            sum += p[i];
        printf("sum %u\n", sum);
        free(p);
        return 0;
    }
    if (strcmp(mode, "crash") == 0) {
        puts("about to crash");
        fflush(stdout);
        raise(SIGSEGV);
    }
    if (strcmp(mode, "hang") == 0)
        for (;;)
            pause();
    if (strcmp(mode, "garbage") == 0) {
        puts("\x01\x02 zz ## no figure here ##");
        return 0;
    }
    if (strcmp(mode, "exit") == 0 && argc > 2)
        return atoi(argv[2]);
    if (strcmp(mode, "steps") == 0 && argc > 2) {
        double t0 = now();
        size_t n = (size_t)atol(argv[2]) << 20;
        sleep_until(t0, 0.3);
        char *volatile p = malloc(n);
        memset(p, 1, n);
        double touched = now() - t0;
        sleep_until(t0, touched + 1.0);
        free(p);
        double freed = now() - t0;
        sleep_until(t0, freed + 1.0);
        printf("touched %.3f freed %.3f\n", touched, freed);
        return 0;
    }
    if (strcmp(mode, "serve") == 0 && argc > 2)
        return serve(atoi(argv[2]));
    if (strcmp(mode, "client") == 0 && argc > 3)
        return client(atoi(argv[2]), atol(argv[3]), argc > 4);
    fprintf(stderr, "prog_target: bad arguments\n");
    return 2;
}
