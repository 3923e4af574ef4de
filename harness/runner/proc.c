/* proc.c: child processes. The runner keeps SIGCHLD, SIGINT, SIGTERM and
 * SIGHUP blocked and takes them synchronously with sigtimedwait(), so a
 * Ctrl-C can never land between "is the child done?" and "sleep". Each child
 * gets its own process group, so a timeout kills everything it started, and
 * a Ctrl-C on the terminal reaches only the runner, which then decides. */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static sigset_t blocked, original;

void proc_block_signals(void)
{
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGCHLD);
    /* a signal ignored on entry (nohup's SIGHUP, SIGINT of a background job
       of a script) stays ignored */
    const int stops[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof stops / sizeof *stops; i++) {
        struct sigaction sa;
        if (sigaction(stops[i], NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
            continue;
        sigaddset(&blocked, stops[i]);
    }
    sigprocmask(SIG_BLOCK, &blocked, &original);
    /* a closed pipe on our stdout must not kill a run half-way */
    signal(SIGPIPE, SIG_IGN);
}

static void child_setenv(const struct child_env *env)
{
    if (env == NULL)
        return;
    if (env->preload) {
        setenv("LD_PRELOAD", env->preload, 1);
        setenv("HEAPMARK_PRELOAD", env->preload, 1);
        setenv("HEAPMARK_ALLOCATOR", env->allocator ? env->allocator : "", 1);
    } else {
        unsetenv("LD_PRELOAD");
        unsetenv("HEAPMARK_PRELOAD");
        unsetenv("HEAPMARK_ALLOCATOR");
    }
    if (env->profile)
        setenv("HEAPMARK_PROFILE", env->profile, 1);
    if (env->count_ops)
        setenv("HEAPMARK_COUNT_OPS", env->count_ops, 1);
    else
        unsetenv("HEAPMARK_COUNT_OPS");
    for (size_t i = 0; env->vars && i < env->vars->n; i++) {
        char *kv = env->vars->v[i], *eq = strchr(kv, '=');
        *eq = '\0'; /* the forked child's own copy */
        setenv(kv, eq + 1, 1);
        *eq = '=';
    }
    if (env->cwd && chdir(env->cwd) != 0) {
        fprintf(stderr, "heapmark: cannot enter %s: %s\n", env->cwd, strerror(errno));
        _exit(127);
    }
}

/* fork with our stdio flushed (nothing printed twice); in the child, the
   signal state the runner started with. -1 (reported) when fork fails. */
static pid_t fork_child(const char *what)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        errmsg("cannot start %s: %s", what, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        sigprocmask(SIG_SETMASK, &original, NULL);
    }
    return pid;
}

static __attribute__((noreturn)) void exec_child(char *const argv[])
{
    execv(argv[0], argv);
    fprintf(stderr, "heapmark: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

pid_t proc_spawn(char *const argv[], const struct child_env *env, int out_fd, int err_fd)
{
    pid_t pid = fork_child(argv[0]);
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setpgid(0, 0);
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0 && in != 0) {
            dup2(in, 0);
            close(in);
        }
        if (out_fd >= 0) {
            dup2(out_fd, 1);
            dup2(err_fd >= 0 ? err_fd : out_fd, 2);
            if (out_fd > 2)
                close(out_fd);
            if (err_fd > 2)
                close(err_fd);
        }
        child_setenv(env);
        exec_child(argv);
    }
    setpgid(pid, pid); /* both sides, so neither can race the other */
    return pid;
}

pid_t proc_spawn_fg(char *const argv[], const char *const *env, int out_fd)
{
    pid_t pid = fork_child(argv[0]);
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (out_fd >= 0) {
            dup2(out_fd, 1);
            if (out_fd > 2)
                close(out_fd);
        }
        for (const char *const *e = env; e && e[0]; e += 2)
            setenv(e[0], e[1], 1);
        exec_child(argv);
    }
    return pid;
}

static void fill(struct child_status *st, int status, const struct rusage *ru);

void proc_wait_fg(pid_t pid, struct child_status *st)
{
    double t0 = mono_now();
    for (;;) {
        int status;
        struct rusage ru;
        pid_t r = wait4(pid, &status, WNOHANG, &ru);
        if (r == pid) {
            memset(st, 0, sizeof *st);
            fill(st, status, &ru);
            st->wall_s = mono_now() - t0;
            return;
        }
        if (r < 0 && errno != EINTR) { /* cannot happen for our own child */
            memset(st, 0, sizeof *st);
            st->exited = 1;
            st->exit_code = 127;
            return;
        }
        struct timespec ts = {.tv_sec = 1, .tv_nsec = 0};
        siginfo_t info;
        int s = sigtimedwait(&blocked, &info, &ts);
        /* the terminal's signals reach the child by themselves (same process
           group); one sent to heapmark alone is passed on */
        if ((s == SIGINT || s == SIGTERM || s == SIGHUP) && info.si_code <= 0)
            kill(pid, s);
    }
}

static void fill(struct child_status *st, int status, const struct rusage *ru)
{
    st->exited = WIFEXITED(status);
    st->exit_code = st->exited ? WEXITSTATUS(status) : -1;
    st->signaled = WIFSIGNALED(status);
    st->sig = st->signaled ? WTERMSIG(status) : 0;
    st->ru = *ru;
}

void proc_kill(pid_t pid, struct child_status *st)
{
    int status;
    struct rusage ru;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    if (st) {
        memset(st, 0, sizeof *st);
        fill(st, status, &ru);
    }
}

int proc_wait_any(const pid_t *pids, const double *deadlines, int n, struct child_status *st,
                  void (*tick)(void *), void *arg, int *sig_out)
{
    return proc_wait_every(pids, deadlines, n, st, tick, arg, sig_out, 0.5);
}

int proc_wait_every(const pid_t *pids, const double *deadlines, int n, struct child_status *st,
                    void (*tick)(void *), void *arg, int *sig_out, double period)
{
    for (;;) {
        for (int i = 0; i < n; i++) {
            if (pids[i] <= 0)
                continue;
            int status;
            struct rusage ru;
            pid_t r = wait4(pids[i], &status, WNOHANG, &ru);
            if (r == pids[i]) {
                memset(st, 0, sizeof *st);
                fill(st, status, &ru);
                return i;
            }
        }
        double now = mono_now(), wait_s = period;
        for (int i = 0; i < n; i++) {
            if (pids[i] <= 0)
                continue;
            if (now >= deadlines[i]) {
                proc_kill(pids[i], st);
                st->timed_out = 1;
                return i;
            }
            if (deadlines[i] - now < wait_s)
                wait_s = deadlines[i] - now;
        }
        struct timespec ts = {.tv_sec = (time_t)wait_s,
                              .tv_nsec = (long)((wait_s - (double)(time_t)wait_s) * 1e9)};
        siginfo_t info;
        int s = sigtimedwait(&blocked, &info, &ts);
        if (s == SIGINT || s == SIGTERM || s == SIGHUP) {
            *sig_out = s;
            return WAIT_INTERRUPTED;
        }
        if (s < 0 && errno == EAGAIN && tick)
            tick(arg);
    }
}

int proc_poll(pid_t pid, struct child_status *st)
{
    int status;
    struct rusage ru;
    if (wait4(pid, &status, WNOHANG, &ru) != pid)
        return 0;
    memset(st, 0, sizeof *st);
    fill(st, status, &ru);
    return 1;
}

int proc_pause(double seconds, int *sig_out)
{
    double end = mono_now() + seconds;
    for (;;) {
        double left = end - mono_now();
        if (left <= 0)
            return 0;
        struct timespec ts = {.tv_sec = (time_t)left,
                              .tv_nsec = (long)((left - (double)(time_t)left) * 1e9)};
        siginfo_t info;
        int s = sigtimedwait(&blocked, &info, &ts);
        if (s == SIGINT || s == SIGTERM || s == SIGHUP) {
            *sig_out = s;
            return -1;
        }
    }
}

static char *slurp_fd(int fd)
{
    size_t cap = 1024, n = 0;
    char *buf = xmalloc(cap);
    lseek(fd, 0, SEEK_SET);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    return buf;
}

int proc_capture(char *const argv[], const struct child_env *env, double timeout_s,
                 char **out, char **err, struct child_status *st, int *sig_out)
{
    int ofd = memfd_create("heapmark-stdout", MFD_CLOEXEC);
    int efd = memfd_create("heapmark-stderr", MFD_CLOEXEC);
    if (ofd < 0 || efd < 0) {
        errmsg("cannot create a capture buffer: %s", strerror(errno));
        if (ofd >= 0)
            close(ofd);
        if (efd >= 0)
            close(efd);
        return -1;
    }
    double t0 = mono_now();
    pid_t pid = proc_spawn(argv, env, ofd, efd);
    if (pid < 0) {
        close(ofd);
        close(efd);
        return -1;
    }
    double deadline = t0 + timeout_s;
    int r = proc_wait_any(&pid, &deadline, 1, st, NULL, NULL, sig_out);
    if (r == WAIT_INTERRUPTED) {
        proc_kill(pid, NULL);
        close(ofd);
        close(efd);
        /* left pending (it is blocked), so that a caller that does not
           stop here still meets it at its next wait */
        raise(*sig_out);
        return -2;
    }
    st->wall_s = mono_now() - t0;
    *out = slurp_fd(ofd);
    *err = slurp_fd(efd);
    close(ofd);
    close(efd);
    return 0;
}

const char *signal_name(int sig)
{
    static char buf[32];
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(buf, sizeof buf, "SIG%s", abbrev);
    else
        snprintf(buf, sizeof buf, "SIG%d", sig);
    return buf;
}

int interrupted_exit_code(int sig)
{
    return 128 + sig;
}
