/* allocators.c: which allocators take part, the binary each one runs, who
 * really serves malloc in it (--heapmark-info), and its benchmark list. */
#define _GNU_SOURCE
#include "runner.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Child processes that only answer a question get this long. */
#define QUERY_TIMEOUT_S 60.0

static const char *kind_file(enum binary_kind kind)
{
    return kind == BIN_BENCH ? "bench" : "conformance";
}

static int valid_name(const char *s)
{
    if (*s == '\0' || strlen(s) > 64 || *s == '.' || *s == '-')
        return 0;
    for (; *s; s++)
        if (!(strchr("_.+-", *s) || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z')))
            return 0;
    return 1;
}

static int cmp_built(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    /* glibc first: it is the reference the report normalises to */
    int gx = strcmp(x, "glibc") == 0, gy = strcmp(y, "glibc") == 0;
    if (gx != gy)
        return gy - gx;
    return strcmp(x, y);
}

/* Names of <root>/build/<A>/<kind> that exist, glibc first. */
static void built_allocators(const char *root, enum binary_kind kind, struct strv *out)
{
    char *dir = xasprintf("%s/build", root);
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char *p = xasprintf("%s/%s/%s", dir, e->d_name, kind_file(kind));
            if (is_executable_file(p) && valid_name(e->d_name))
                strv_push(out, e->d_name);
            free(p);
        }
        closedir(d);
    }
    free(dir);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, cmp_built);
}

static char *joined(const struct strv *s)
{
    size_t len = 1;
    for (size_t i = 0; i < s->n; i++)
        len += strlen(s->v[i]) + 2;
    char *r = xmalloc(len);
    r[0] = '\0';
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            strcat(r, ", ");
        strcat(r, s->v[i]);
    }
    return r;
}

static void add(struct allocator_set *set, const char *name, const char *root, const char *built,
                enum binary_kind kind, const char *preload)
{
    set->v = xrealloc(set->v, (set->n + 1) * sizeof *set->v);
    struct allocator *a = &set->v[set->n++];
    memset(a, 0, sizeof *a);
    a->name = xstrdup(name);
    a->binary_rel = xasprintf("build/%s/%s", built, kind_file(kind));
    a->binary = xasprintf("%s/%s", root, a->binary_rel);
    a->preload = preload ? xstrdup(preload) : NULL;
}

int allocators_resolve(const char *root, const char *spec, enum binary_kind kind,
                       struct allocator_set *set)
{
    struct strv built = {0}, names = {0};
    int rc = -1;
    memset(set, 0, sizeof *set);
    built_allocators(root, kind, &built);

    if (spec == NULL) {
        if (built.n == 0) {
            errmsg("no allocator is built: build/<allocator>/%s is missing; run `make` first",
                   kind_file(kind));
            goto out;
        }
        for (size_t i = 0; i < built.n; i++)
            add(set, built.v[i], root, built.v[i], kind, NULL);
        rc = 0;
        goto out;
    }

    char *copy = xstrdup(spec), *save = NULL;
    for (char *item = strtok_r(copy, ", \t", &save); item; item = strtok_r(NULL, ", \t", &save)) {
        char *eq = strchr(item, '=');
        char *name = item, *path = NULL;
        if (eq) {
            *eq = '\0';
            path = eq + 1;
        }
        if (!valid_name(name)) {
            errmsg("bad allocator name '%s': use letters, digits, '_', '.', '+', '-'", name);
            free(copy);
            goto out;
        }
        if (strv_find(&names, name) >= 0) {
            errmsg("allocator '%s' is given twice", name);
            free(copy);
            goto out;
        }
        strv_push(&names, name);
        if (path == NULL) {
            if (strv_find(&built, name) < 0) {
                char *list = joined(&built);
                errmsg("unknown allocator '%s': there is no build/%s/%s (built: %s; any other "
                       "malloc replacement can be given as %s=/path/to/lib.so)",
                       name, name, kind_file(kind), built.n ? list : "none", name);
                free(list);
                free(copy);
                goto out;
            }
            add(set, name, root, name, kind, NULL);
            continue;
        }
        /* name=/path/lib.so: glibc's binary under LD_PRELOAD */
        if (*path == '\0' || strpbrk(path, " :") != NULL) {
            errmsg("allocator '%s': bad library path '%s'", name, path);
            free(copy);
            goto out;
        }
        char *abs = NULL;
        if (path[0] == '/') {
            abs = xstrdup(path);
        } else {
            char *cwd = getcwd(NULL, 0);
            abs = xasprintf("%s/%s", cwd ? cwd : ".", path);
            free(cwd);
        }
        if (!is_regular_file(abs) || access(abs, R_OK) != 0) {
            errmsg("allocator '%s': library %s: %s", name, abs,
                   access(abs, F_OK) != 0 ? strerror(errno) : "not a readable file");
            free(abs);
            free(copy);
            goto out;
        }
        if (strv_find(&built, "glibc") < 0) {
            errmsg("allocator '%s' runs glibc's %s binary under LD_PRELOAD, but build/glibc/%s "
                   "is missing; run `make` first",
                   name, kind_file(kind), kind_file(kind));
            free(abs);
            free(copy);
            goto out;
        }
        add(set, name, root, "glibc", kind, abs);
        free(abs);
    }
    free(copy);
    if (set->n == 0) {
        errmsg("--allocators names no allocator");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        allocators_free(set);
    strv_free(&built);
    strv_free(&names);
    return rc;
}

struct child_env allocator_env(const struct allocator *a, const char *profile)
{
    struct child_env env = {.preload = a->preload, .allocator = a->name, .profile = profile};
    return env;
}

/* First line of a child's stderr, for error messages. */
static const char *first_line(char *s)
{
    while (*s == '\n')
        s++;
    s[strcspn(s, "\n")] = '\0';
    return s;
}

static void describe_failure(const struct allocator *a, const char *what,
                             const struct child_status *st, char *err)
{
    const char *line = first_line(err);
    if (st->timed_out)
        errmsg("allocator '%s': %s %s did not answer within %.0f s", a->name, a->binary_rel,
               what, QUERY_TIMEOUT_S);
    else if (st->signaled)
        errmsg("allocator '%s': %s %s was killed by %s%s%s", a->name, a->binary_rel, what,
               signal_name(st->sig), *line ? ": " : "", line);
    else
        errmsg("allocator '%s': %s %s failed (exit status %d)%s%s", a->name, a->binary_rel, what,
               st->exit_code, *line ? ": " : "", line);
}

#define DPKG_QUERY "/usr/bin/dpkg-query"

/* Runs dpkg-query with args; its first output line, or NULL. */
static char *dpkg_query(char *a1, char *a2, char *a3)
{
    char *argv[] = {DPKG_QUERY, a1, a2, a3, NULL};
    char *out = NULL, *err = NULL, *r = NULL;
    struct child_status st;
    int sig;
    int rc = proc_capture(argv, NULL, 10, &out, &err, &st, &sig);
    if (rc == 0 && st.exited && st.exit_code == 0) {
        out[strcspn(out, "\n")] = '\0';
        if (*out)
            r = xstrdup(out);
    }
    free(out);
    free(err);
    return rc == -2 ? (free(r), NULL) : r;
}

/* "libjemalloc2 5.3.0-1": the Debian package that holds the library file,
   or NULL (not from a package, no dpkg). /lib and /usr/lib are tried both
   ways (merged /usr), and the file behind a symlink. */
static char *package_of(const char *library)
{
    if (library[0] != '/' || access(library, F_OK) != 0 || !is_executable_file(DPKG_QUERY))
        return NULL;
    char *real = realpath(library, NULL);
    const char *bases[] = {library, real};
    char *pkg = NULL;
    for (size_t b = 0; b < 2 && pkg == NULL; b++) {
        const char *p = bases[b];
        if (p == NULL)
            continue;
        char *cands[2] = {xstrdup(p), NULL};
        if (strncmp(p, "/usr/", 5) == 0)
            cands[1] = xstrdup(p + 4);
        else
            cands[1] = xasprintf("/usr%s", p);
        for (int c = 0; c < 2 && pkg == NULL; c++) {
            char *line = dpkg_query("-S", cands[c], NULL);
            char *colon = line ? strstr(line, ": ") : NULL;
            if (colon && !memchr(line, ',', (size_t)(colon - line))) {
                *colon = '\0';
                pkg = xstrdup(line);
            }
            free(line);
        }
        free(cands[0]);
        free(cands[1]);
    }
    free(real);
    if (pkg == NULL)
        return NULL;
    char *version = dpkg_query("-W", "-f=${Version}", pkg);
    char *arch = strchr(pkg, ':');
    if (arch)
        *arch = '\0';
    char *r = version ? xasprintf("%s %s", pkg, version) : NULL;
    free(version);
    free(pkg);
    return r;
}

void allocators_packages(struct allocator_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->v[i].library && set->v[i].package == NULL)
            set->v[i].package = package_of(set->v[i].library);
}

int allocators_identify(struct allocator_set *set, const char *profile, int *sig)
{
    for (size_t i = 0; i < set->n; i++) {
        struct allocator *a = &set->v[i];
        char *argv[] = {a->binary, "--heapmark-info", NULL};
        struct child_env env = allocator_env(a, profile);
        struct child_status st;
        char *out = NULL, *err = NULL;
        int r = proc_capture(argv, &env, QUERY_TIMEOUT_S, &out, &err, &st, sig);
        if (r == -2)
            return -2;
        if (r != 0)
            return -1;
        char perr[160];
        struct json *info = json_parse(out, strlen(out), perr, sizeof perr);
        const char *lib = json_get_string(info, "library");
        const char *ver = json_get_string(info, "version");
        int verified = json_get_true(info, "verified");
        if (info != NULL && lib != NULL && !verified) {
            const char *exp = json_get_string(info, "expected");
            errmsg("allocator '%s': malloc in %s comes from %s, not from %s", a->name,
                   a->binary_rel, lib, exp ? exp : "the expected library");
        } else if (!st.exited || st.exit_code != 0) {
            describe_failure(a, "--heapmark-info", &st, err);
        } else if (info == NULL || lib == NULL || ver == NULL) {
            errmsg("allocator '%s': %s --heapmark-info printed no identity JSON (%s)", a->name,
                   a->binary_rel, info == NULL ? perr : "no library/version");
        } else {
            a->version = xstrdup(ver);
            a->library = xstrdup(lib);
        }
        json_free(info);
        free(out);
        free(err);
        if (a->library == NULL)
            return -1;
    }
    return 0;
}

int allocators_list_benchmarks(struct allocator_set *set, const char *profile, int *sig)
{
    for (size_t i = 0; i < set->n; i++) {
        struct allocator *a = &set->v[i];
        char *argv[] = {a->binary, "--benchmark_list_tests=true", NULL};
        struct child_env env = allocator_env(a, profile);
        struct child_status st;
        char *out = NULL, *err = NULL;
        int r = proc_capture(argv, &env, QUERY_TIMEOUT_S, &out, &err, &st, sig);
        if (r == -2)
            return -2;
        if (r != 0)
            return -1;
        if (!st.exited || st.exit_code != 0) {
            describe_failure(a, "--benchmark_list_tests", &st, err);
            free(out);
            free(err);
            return -1;
        }
        char *save = NULL;
        for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            line[strcspn(line, "\r")] = '\0';
            if (*line != '\0' && strv_find(&a->benchmarks, line) < 0)
                strv_push(&a->benchmarks, line);
        }
        free(out);
        free(err);
    }
    return 0;
}

void allocators_free(struct allocator_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        struct allocator *a = &set->v[i];
        free(a->name);
        free(a->binary);
        free(a->binary_rel);
        free(a->preload);
        free(a->version);
        free(a->library);
        free(a->package);
        strv_free(&a->benchmarks);
    }
    free(set->v);
    memset(set, 0, sizeof *set);
}
