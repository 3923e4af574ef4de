/* trace.c: `heapmark trace [--out FILE] -- CMD [ARG...]`.
 *
 * Runs CMD with the allocation-trace recorder build/lib/libhmtrace.so
 * preloaded (bench/trace/hmtrace.c; format bench/trace/FORMAT.md) in front of
 * whatever allocator CMD uses, so that its trace lands in FILE. CMD runs in
 * the foreground like a plain command (same terminal, same process group,
 * stdin/stdout/stderr inherited); heapmark then reads the trace back, prints
 * a summary on stderr and exits with CMD's exit status.
 *
 * The output never replaces a file: the name is claimed with O_EXCL before
 * CMD starts. The recording goes to a private folder next to it, then is
 * renamed into place, or compressed with `gzip -9` when FILE ends in .gz.
 * With --follow, every process that CMD execs (directly or in a forked
 * child) records its own file (HEAPMARK_TRACE_OUT with %p) and the one
 * with the most events is kept: the program behind a wrapper script or a
 * compiler driver.
 */
#define _GNU_SOURCE
#include "runner.h"
#include "hmtrace_format.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TRACE_THREADS (1u << 20) /* beyond this a thread index is corruption */


/* ---- reading a trace back --------------------------------------------------- */

int trace_summarize(const char *path, struct trace_summary *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    size_t n;
    unsigned char *p = (unsigned char *)read_file(path, &n);
    if (p == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    s->bytes = n;
    int rc = -1;
    if (n < HMT_MAGIC_LEN || memcmp(p, HMT_MAGIC, HMT_MAGIC_LEN) != 0) {
        snprintf(err, errlen, "%s is not a heapmark trace (%s)", path,
                 n == 0 ? "empty" : "bad magic");
        goto out;
    }
    size_t pos = HMT_MAGIC_LEN;
    uint64_t thread = 0, max_thread = 0;
    int any = 0;
    while (pos < n) {
        size_t at = pos;
        unsigned char head = p[pos++];
        unsigned op = head & HMT_OP_MASK;
        if (op == HMT_END) {
            s->complete = 1;
            if (pos != n) {
                snprintf(err, errlen, "%s: %zu bytes after the end mark", path, n - pos);
                goto out;
            }
            break;
        }
        if (op < HMT_MALLOC || op > HMT_FREE || (head & ~(unsigned)(HMT_OP_MASK | HMT_THREAD_FLAG)) != 0) {
            snprintf(err, errlen, "%s: bad event 0x%02x at byte %zu", path, head, at);
            goto out;
        }
        uint64_t id, v;
        if ((head & HMT_THREAD_FLAG) && hmt_varint(p, n, &pos, &thread) != 0)
            goto truncated;
        if (thread >= MAX_TRACE_THREADS) {
            snprintf(err, errlen, "%s: thread index %llu at byte %zu is not plausible", path,
                     (unsigned long long)thread, at);
            goto out;
        }
        if (hmt_varint(p, n, &pos, &id) != 0)
            goto truncated;
        if (op == HMT_MEMALIGN && hmt_varint(p, n, &pos, &v) != 0)
            goto truncated;
        if (op != HMT_FREE && hmt_varint(p, n, &pos, &v) != 0)
            goto truncated;
        s->ops[op]++;
        s->events++;
        if (thread > max_thread)
            max_thread = thread;
        any = 1;
    }
    s->threads = any ? (unsigned long)max_thread + 1 : 0;
    rc = 0;
    goto out;
truncated:
    snprintf(err, errlen, "%s: truncated at byte %zu", path, pos);
out:
    free(p);
    return rc;
}

/* ---- the command ---------------------------------------------------------- */

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

/* Claims a new file: FILE itself (error when it exists), or by default
   ./<command>-<stamp>.hmt, -2, -3 ... until one is free. */
static char *claim_output(const char *out, const char *cmd)
{
    if (out != NULL) {
        int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            if (errno == EEXIST)
                errmsg("%s already exists; not overwriting it (choose another --out)", out);
            else
                errmsg("cannot create %s: %s", out, strerror(errno));
            return NULL;
        }
        close(fd);
        return xstrdup(out);
    }
    char stamp[32], name[96];
    utc_stamp(stamp, sizeof stamp);
    /* a name safe for a file and a replay instance: letters, digits, - _ . */
    snprintf(name, sizeof name, "%.48s", base_name(cmd));
    for (char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.'))
            *c = '_';
    for (int k = 1; k < 1000; k++) {
        char *path = k == 1 ? xasprintf("%s-%s.hmt", name, stamp)
                            : xasprintf("%s-%s-%d.hmt", name, stamp, k);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            close(fd);
            return path;
        }
        if (errno != EEXIST) {
            errmsg("cannot create %s in the current folder: %s", path, strerror(errno));
            free(path);
            return NULL;
        }
        free(path);
    }
    errmsg("no free name for the trace in the current folder");
    return NULL;
}

static void human_size(char *buf, size_t n, unsigned long long b)
{
    if (b < 10000)
        snprintf(buf, n, "%llu bytes", b);
    else if (b < 10000000)
        snprintf(buf, n, "%.1f kB", (double)b / 1e3);
    else
        snprintf(buf, n, "%.1f MB", (double)b / 1e6);
}

/* gzip -9 -c src > dst (dst exists, claimed); 0 or -1 (message printed). */
static int compress_into(const char *src, const char *dst)
{
    int fd = open(dst, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) {
        errmsg("cannot write %s: %s", dst, strerror(errno));
        return -1;
    }
    char *gz = find_command("gzip", NULL);
    if (gz == NULL) {
        close(fd);
        errmsg("cannot compress into %s: gzip is not installed", dst);
        return -1;
    }
    char *argv[] = {gz, "-9", "-c", (char *)src, NULL};
    struct child_status st;
    pid_t pid = proc_spawn_fg(argv, NULL, fd);
    close(fd);
    free(gz);
    if (pid < 0)
        return -1;
    proc_wait_fg(pid, &st);
    if (!st.exited || st.exit_code != 0) {
        errmsg("gzip could not compress the trace into %s", dst);
        return -1;
    }
    return 0;
}

/* Removes the private recording folder and what is left in it. */
static void remove_tmpdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = xasprintf("%s/%s", dir, e->d_name);
        unlink(p);
        free(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* The recording to keep among the files of dir: the only one, or (--follow)
   the readable one with the most events; NULL with a message printed. */
static char *pick_recording(const char *dir, const char *cmd, const struct child_status *st,
                            struct trace_summary *best, unsigned *nproc)
{
    char *chosen = NULL, *first_err = NULL;
    int nonempty = 0;
    *nproc = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (!ends_with(e->d_name, ".hmt"))
            continue;
        char *path = xasprintf("%s/%s", dir, e->d_name);
        struct stat sb;
        int empty = stat(path, &sb) != 0 || sb.st_size == 0;
        nonempty += !empty;
        struct trace_summary s;
        char err[512];
        (*nproc)++;
        if (trace_summarize(path, &s, err, sizeof err) != 0) {
            if (first_err == NULL && !empty)
                first_err = xstrdup(err);
            free(path);
            continue;
        }
        if (chosen == NULL || s.events > best->events) {
            free(chosen);
            chosen = path;
            *best = s;
        } else {
            free(path);
        }
    }
    if (d)
        closedir(d);
    if (chosen != NULL) {
        free(first_err);
        return chosen;
    }
    if (nonempty > 0) {
        char *at = first_err ? strstr(first_err, ": ") : NULL; /* drop the temporary path */
        errmsg("the trace is unreadable: %s", at ? at + 2 : "no trace file");
    } else if (!st->exited) {
        errmsg("%s was killed by %s before its trace was written", cmd, signal_name(st->sig));
    } else {
        errmsg("%s wrote no trace (exit status %d): it left by exec (a wrapper script? see "
               "--follow) or _exit before the recorder could write, or LD_PRELOAD does not "
               "apply (static or setuid)", cmd, st->exit_code);
    }
    free(first_err);
    return NULL;
}

int cmd_trace(const char *root, const struct options *o)
{
    if (o->cmd_argc < 1) {
        errmsg("no command to trace: heapmark trace [--out FILE] -- CMD [ARG...]");
        return 2;
    }
    const char *cmd = o->cmd_argv[0];
    char *lib = xasprintf("%s/build/lib/libhmtrace.so", root);
    if (!is_regular_file(lib)) {
        errmsg("the recorder %s is missing: build it with `make build/lib/libhmtrace.so`", lib);
        free(lib);
        return 1;
    }
    int why = 0;
    char *exe = find_command(cmd, &why);
    if (exe == NULL) {
        errmsg("cannot run '%s': %s", cmd,
               why == ENOENT ? "command not found" : strerror(why));
        free(lib);
        return why == ENOENT ? 127 : 126;
    }
    int gz = o->out != NULL && ends_with(o->out, ".gz");
    char *out = claim_output(o->out, cmd);
    if (out == NULL) {
        free(exe);
        free(lib);
        return 1;
    }
    /* the recording goes to a private folder next to the output (the same
       file system, so that it can be renamed into place) */
    char *dir = xstrdup(out);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = '\0';
    else
        dir[0] = '\0';
    char *tmp = xasprintf("%s.heapmark-trace-XXXXXX", dir);
    free(dir);
    if (mkdtemp(tmp) == NULL) {
        errmsg("cannot create a temporary folder next to %s: %s", out, strerror(errno));
        unlink(out);
        free(tmp);
        free(out);
        free(exe);
        free(lib);
        return 1;
    }
    char *abs_tmp = realpath(tmp, NULL);
    char *target = xasprintf("%s/%s", abs_tmp ? abs_tmp : tmp, o->follow ? "%p.hmt" : "trace.hmt");
    const char *old = getenv("LD_PRELOAD");
    char *preload = old && *old ? xasprintf("%s:%s", lib, old) : xstrdup(lib);
    const char *env[] = {"HEAPMARK_TRACE_OUT", target, "LD_PRELOAD", preload, NULL};

    char **argv = xmalloc(((size_t)o->cmd_argc + 1) * sizeof *argv);
    argv[0] = exe;
    for (int i = 1; i < o->cmd_argc; i++)
        argv[i] = o->cmd_argv[i];
    argv[o->cmd_argc] = NULL;
    struct child_status st;
    int rc = 1;
    char *rec = NULL;
    pid_t pid = proc_spawn_fg(argv, env, -1);
    if (pid < 0) {
        unlink(out);
        goto done;
    }
    proc_wait_fg(pid, &st);
    rc = st.exited ? st.exit_code : interrupted_exit_code(st.sig);

    struct trace_summary s;
    unsigned nproc;
    rec = pick_recording(tmp, cmd, &st, &s, &nproc);
    if (rec == NULL) {
        unlink(out);
        if (rc == 0)
            rc = 1;
        goto done;
    }
    unsigned long long size = s.bytes;
    if (gz) {
        if (compress_into(rec, out) != 0) {
            unlink(out);
            if (rc == 0)
                rc = 1;
            goto done;
        }
        struct stat sb;
        size = stat(out, &sb) == 0 ? (unsigned long long)sb.st_size : 0;
    } else if (rename(rec, out) != 0) {
        errmsg("cannot move the trace to %s: %s", out, strerror(errno));
        unlink(out);
        if (rc == 0)
            rc = 1;
        goto done;
    }
    char sz[64], raw[64], procs[96] = "";
    human_size(sz, sizeof sz, size);
    human_size(raw, sizeof raw, s.bytes);
    if (o->follow)
        snprintf(procs, sizeof procs, " (the busiest of %u recorded process%s)", nproc,
                 nproc == 1 ? "" : "es");
    fprintf(stderr,
            "heapmark trace: %s: %llu events (malloc %llu, calloc %llu, aligned %llu, "
            "realloc %llu, free %llu), %lu thread%s, %s%s%s%s%s%s\n",
            out, s.events, s.ops[HMT_MALLOC], s.ops[HMT_CALLOC], s.ops[HMT_MEMALIGN],
            s.ops[HMT_REALLOC], s.ops[HMT_FREE], s.threads, s.threads == 1 ? "" : "s", sz,
            gz ? " (" : "", gz ? raw : "", gz ? " uncompressed)" : "", procs,
            s.complete ? "" : "; no end mark: the program did not exit normally");
    if (!st.exited)
        fprintf(stderr, "heapmark trace: %s was killed by %s\n", cmd, signal_name(st.sig));
    else if (st.exit_code != 0)
        fprintf(stderr, "heapmark trace: %s exited with status %d\n", cmd, st.exit_code);
done:
    remove_tmpdir(tmp);
    free(rec);
    free(argv);
    free(preload);
    free(target);
    free(abs_tmp);
    free(tmp);
    free(out);
    free(exe);
    free(lib);
    return rc;
}
