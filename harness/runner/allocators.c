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

/* ---- skipped allocators ----------------------------------------------------
 * An allocator whose library is not installed (or not made for this
 * architecture) is not built: `make` writes its reason to build/<A>/skipped
 * instead. One that is built but whose binary cannot load its library any
 * more is found when asked its identity. Either is left out of the run with a
 * one-line notice, and listed in meta.json (skipped_allocators). */
static struct strv skipped; /* "NAME\tREASON" */

static void skip(const char *name, const char *reason)
{
    for (size_t i = 0; i < skipped.n; i++)
        if (strncmp(skipped.v[i], name, strlen(name)) == 0 && skipped.v[i][strlen(name)] == '\t')
            return;
    fprintf(stderr, "heapmark %s: skipping allocator '%s': %s\n", prog_cmd, name, reason);
    char *line = xasprintf("%s\t%s", name, reason);
    strv_push(&skipped, line);
    free(line);
}

const struct strv *allocators_skipped(void) { return &skipped; }

/* The reason in <root>/build/<name>/skipped, or NULL when there is none. */
static char *skipped_reason(const char *root, const char *name)
{
    char *path = xasprintf("%s/build/%s/skipped", root, name);
    char *reason = valid_name(name) ? read_first_line(path) : NULL;
    free(path);
    if (reason != NULL && *reason == '\0') {
        free(reason);
        reason = xstrdup("not built (build/<allocator>/skipped gives no reason)");
    }
    return reason;
}

/* Skips every allocator that make marked as skipped and that is not built. */
static void skip_marked(const char *root, const struct strv *built)
{
    char *dir = xasprintf("%s/build", root);
    DIR *d = opendir(dir);
    struct dirent *e;
    struct strv names = {0};
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && strv_find(built, e->d_name) < 0)
            strv_push(&names, e->d_name);
    if (d)
        closedir(d);
    free(dir);
    if (names.n > 1)
        qsort(names.v, names.n, sizeof *names.v, cmp_built);
    for (size_t i = 0; i < names.n; i++) {
        char *reason = skipped_reason(root, names.v[i]);
        if (reason)
            skip(names.v[i], reason);
        free(reason);
    }
    strv_free(&names);
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

static struct allocator *add(struct allocator_set *set, const char *name, const char *root,
                             const char *built, enum binary_kind kind, const char *preload)
{
    set->v = xrealloc(set->v, (set->n + 1) * sizeof *set->v);
    struct allocator *a = &set->v[set->n++];
    memset(a, 0, sizeof *a);
    a->name = xstrdup(name);
    a->binary_rel = xasprintf("build/%s/%s", built, kind_file(kind));
    a->binary = xasprintf("%s/%s", root, a->binary_rel);
    a->preload = preload ? xstrdup(preload) : NULL;
    a->base = xstrdup(preload ? preload : built);
    return a;
}

/* ---- the --allocators list ------------------------------------------------
 * Items are separated by commas or blanks. Inside an item a backslash makes
 * the next character literal, so that a value can hold ',', ':', '=' or a
 * blank (MALLOC_CONF=dirty_decay_ms\:0\,muzzy_decay_ms\:0). An item is
 *   NAME                              build/NAME/<kind>
 *   NAME=LIB                          glibc's binary with LIB under LD_PRELOAD
 *   NAME=BASE:VAR=VAL[:VAR=VAL...]    a variant: BASE (a built allocator, or a
 *                                     library when it has a '/') with these
 *                                     variables set in every child */

/* Splits spec at unescaped commas and blanks; the items keep their escapes.
   -1 when the list ends in a lone backslash. */
static int split_items(const char *spec, struct strv *items)
{
    size_t n = strlen(spec);
    char *cur = xmalloc(n + 1);
    size_t len = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = spec[i];
        if (c == '\\') {
            if (i + 1 == n) {
                free(cur);
                return -1;
            }
            cur[len++] = c;
            cur[len++] = spec[++i];
            continue;
        }
        if (c == '\0' || c == ',' || c == ' ' || c == '\t' || c == '\n') {
            cur[len] = '\0';
            if (len)
                strv_push(items, cur);
            len = 0;
            continue;
        }
        cur[len++] = c;
    }
    free(cur);
    return 0;
}

/* The first unescaped c in s, or NULL. */
static char *find_unescaped(char *s, char c)
{
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            continue;
        }
        if (*s == c)
            return s;
    }
    return NULL;
}

/* Removes the escapes of s in place; returns s. */
static char *unescape(char *s)
{
    char *o = s;
    for (char *i = s; *i; i++) {
        if (*i == '\\' && i[1])
            i++;
        *o++ = *i;
    }
    *o = '\0';
    return s;
}

static int valid_var(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

/* what proc.c sets for every child itself */
static const char *const runner_vars[] = {"LD_PRELOAD", "HEAPMARK_PRELOAD", "HEAPMARK_ALLOCATOR",
                                          "HEAPMARK_PROFILE", "HEAPMARK_COUNT_OPS", NULL};

/* Parses "VAR=VAL[:VAR=VAL...]" (escaped) into env (NAME=VALUE strings). */
static int parse_assignments(const char *name, char *list, struct strv *env)
{
    char *rest = list;
    for (;;) {
        char *colon = find_unescaped(rest, ':');
        if (colon)
            *colon = '\0';
        char *eq = find_unescaped(rest, '=');
        if (eq == NULL) {
            errmsg("allocator '%s': '%s' is not VAR=VALUE (a variant is "
                   "NAME=BASE:VAR=VALUE[:VAR=VALUE...])",
                   name, unescape(rest));
            return -1;
        }
        *eq = '\0';
        char *var = unescape(rest), *val = unescape(eq + 1);
        if (!valid_var(var)) {
            errmsg("allocator '%s': bad variable name '%s': use letters, digits and '_', not "
                   "starting with a digit",
                   name, var);
            return -1;
        }
        for (const char *const *r = runner_vars; *r; r++)
            if (strcmp(var, *r) == 0) {
                errmsg("allocator '%s': %s is set by heapmark itself and cannot be given "
                       "(a library to preload is NAME=/path/lib.so)",
                       name, var);
                return -1;
            }
        size_t vl = strlen(var);
        for (size_t i = 0; i < env->n; i++)
            if (strncmp(env->v[i], var, vl) == 0 && env->v[i][vl] == '=') {
                errmsg("allocator '%s': variable %s is given twice", name, var);
                return -1;
            }
        char *kv = xasprintf("%s=%s", var, val);
        strv_push(env, kv);
        free(kv);
        if (colon == NULL)
            return 0;
        rest = colon + 1;
    }
}

/* name=LIB: the absolute path of a readable library, or NULL (message printed). */
static char *library_path(const char *name, const char *path, const struct strv *built,
                          enum binary_kind kind)
{
    if (*path == '\0' || strpbrk(path, " :") != NULL) {
        errmsg("allocator '%s': bad library path '%s'", name, path);
        return NULL;
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
        return NULL;
    }
    if (strv_find(built, "glibc") < 0) {
        errmsg("allocator '%s' runs glibc's %s binary under LD_PRELOAD, but build/glibc/%s "
               "is missing; run `make` first",
               name, kind_file(kind), kind_file(kind));
        free(abs);
        return NULL;
    }
    return abs;
}

/* Adds one item of the list; -1 (message printed) when it is wrong. */
static int add_item(struct allocator_set *set, const char *root, enum binary_kind kind,
                    const struct strv *built, struct strv *names, char *item)
{
    char *eq = find_unescaped(item, '=');
    char *rest = NULL;
    if (eq) {
        *eq = '\0';
        rest = eq + 1;
    }
    const char *name = unescape(item);
    if (!valid_name(name)) {
        errmsg("bad allocator name '%s': use letters, digits, '_', '.', '+', '-'", name);
        return -1;
    }
    if (strv_find(names, name) >= 0) {
        errmsg("allocator '%s' is given twice", name);
        return -1;
    }
    strv_push(names, name);
    if (rest == NULL) {
        char *reason = strv_find(built, name) < 0 ? skipped_reason(root, name) : NULL;
        if (reason != NULL) {
            skip(name, reason);
            free(reason);
            return 0;
        }
        if (strv_find(built, name) < 0) {
            char *list = joined(built);
            errmsg("unknown allocator '%s': there is no build/%s/%s (built: %s; any other "
                   "malloc replacement can be given as %s=/path/to/lib.so)",
                   name, name, kind_file(kind), built->n ? list : "none", name);
            free(list);
            return -1;
        }
        add(set, name, root, name, kind, NULL);
        return 0;
    }
    char *colon = find_unescaped(rest, ':');
    if (colon == NULL) { /* name=LIB */
        char *abs = library_path(name, unescape(rest), built, kind);
        if (abs == NULL)
            return -1;
        add(set, name, root, "glibc", kind, abs);
        free(abs);
        return 0;
    }
    /* a variant: NAME=BASE:VAR=VAL... */
    *colon = '\0';
    const char *base = unescape(rest);
    if (strv_find(built, name) >= 0) {
        errmsg("allocator '%s': a variant may not take the name of a built allocator "
               "(a report would show it as that allocator); name it e.g. %s-variant",
               name, base);
        return -1;
    }
    struct strv env = {0};
    char *reason;
    if (colon[1] == '\0') {
        errmsg("allocator '%s': no VAR=VALUE after '%s:' (a variant is "
               "NAME=BASE:VAR=VALUE[:VAR=VALUE...])",
               name, base);
        return -1;
    }
    if (parse_assignments(name, colon + 1, &env) != 0) {
        strv_free(&env);
        return -1;
    }
    struct allocator *a;
    if (strchr(base, '/')) {
        char *abs = library_path(name, base, built, kind);
        if (abs == NULL) {
            strv_free(&env);
            return -1;
        }
        a = add(set, name, root, "glibc", kind, abs);
        free(abs);
    } else if (strv_find(built, base) >= 0) {
        a = add(set, name, root, base, kind, NULL);
    } else if ((reason = skipped_reason(root, base)) != NULL) {
        char *why = xasprintf("its base %s is skipped: %s", base, reason);
        skip(name, why);
        free(why);
        free(reason);
        strv_free(&env);
        return 0;
    } else {
        char *list = joined(built);
        errmsg("allocator '%s': its base '%s' is not a built allocator: there is no "
               "build/%s/%s (built: %s; a base is a built allocator, or a library path with "
               "a '/', never another variant)",
               name, base, base, kind_file(kind), built->n ? list : "none");
        free(list);
        strv_free(&env);
        return -1;
    }
    a->env = env;
    return 0;
}

int allocators_resolve(const char *root, const char *spec, enum binary_kind kind,
                       struct allocator_set *set)
{
    struct strv built = {0}, names = {0}, items = {0};
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
        skip_marked(root, &built);
        rc = 0;
        goto out;
    }
    if (split_items(spec, &items) != 0) {
        errmsg("--allocators ends in a lone '\\' (a backslash makes the next character literal)");
        goto out;
    }
    for (size_t i = 0; i < items.n; i++)
        if (add_item(set, root, kind, &built, &names, items.v[i]) != 0)
            goto out;
    if (set->n == 0) {
        errmsg(skipped.n ? "every allocator in --allocators was skipped (see above)"
                         : "--allocators names no allocator");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        allocators_free(set);
    strv_free(&built);
    strv_free(&names);
    strv_free(&items);
    return rc;
}

struct child_env allocator_env(const struct allocator *a, const char *profile)
{
    struct child_env env = {.preload = a->preload, .allocator = a->name, .profile = profile,
                            .vars = &a->env};
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

static void allocator_free(struct allocator *a)
{
    free(a->name);
    free(a->binary);
    free(a->binary_rel);
    free(a->preload);
    free(a->version);
    free(a->library);
    free(a->package);
    free(a->base);
    strv_free(&a->env);
    strv_free(&a->benchmarks);
}

/* What one query child answered: 0; 1 when the allocator is to be left out
   (skip() called); or -1 with a message printed. */
typedef int (*answer_fn)(struct allocator *a, const struct child_status *st, char *out, char *err);

/* Runs `<binary> flag` for each allocator (its environment, HEAPMARK_PROFILE
   = profile) and hands the answer to fn. 0, -1 (message printed) when one
   fails, -2 when interrupted (*sig). */
static int query_each(struct allocator_set *set, char *flag, const char *profile, answer_fn fn,
                      int *sig)
{
    for (size_t i = 0; i < set->n; i++) {
        struct allocator *a = &set->v[i];
        char *argv[] = {a->binary, flag, NULL};
        struct child_env env = allocator_env(a, profile);
        struct child_status st;
        char *out = NULL, *err = NULL;
        int r = proc_capture(argv, &env, QUERY_TIMEOUT_S, &out, &err, &st, sig);
        if (r == -2)
            return -2;
        if (r != 0)
            return -1;
        r = fn(a, &st, out, err);
        free(out);
        free(err);
        if (r < 0)
            return -1;
        if (r > 0) {
            allocator_free(a);
            memmove(a, a + 1, (set->n - i - 1) * sizeof *a);
            set->n--;
            i--;
        }
    }
    if (set->n == 0) {
        errmsg("every allocator was skipped (see above)");
        return -1;
    }
    return 0;
}

static int identity_answer(struct allocator *a, const struct child_status *st, char *out,
                           char *err)
{
    char perr[160];
    json_t *info = json_read(out, strlen(out), perr, sizeof perr);
    const char *lib = json_string_value(json_object_get(info, "library"));
    const char *ver = json_string_value(json_object_get(info, "version"));
    int verified = json_is_true(json_object_get(info, "verified"));
    /* the dynamic loader could not load the allocator's library (removed
       since the build, or made for another architecture) */
    char *loader = strstr(err, "error while loading shared libraries");
    if (st->exited && st->exit_code == 127 && loader != NULL) {
        skip(a->name, first_line(loader));
        json_decref(info);
        return 1;
    }
    if (info != NULL && lib != NULL && !verified) {
        const char *exp = json_string_value(json_object_get(info, "expected"));
        errmsg("allocator '%s': malloc in %s comes from %s, not from %s", a->name, a->binary_rel,
               lib, exp ? exp : "the expected library");
    } else if (!st->exited || st->exit_code != 0) {
        describe_failure(a, "--heapmark-info", st, err);
    } else if (info == NULL || lib == NULL || ver == NULL) {
        errmsg("allocator '%s': %s --heapmark-info printed no identity JSON (%s)", a->name,
               a->binary_rel, info == NULL ? perr : "no library/version");
    } else {
        a->version = xstrdup(ver);
        a->library = xstrdup(lib);
    }
    json_decref(info);
    return a->library == NULL ? -1 : 0;
}

static int list_answer(struct allocator *a, const struct child_status *st, char *out, char *err)
{
    if (!st->exited || st->exit_code != 0) {
        describe_failure(a, "--benchmark_list_tests", st, err);
        return -1;
    }
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line[strcspn(line, "\r")] = '\0';
        if (*line != '\0' && strv_find(&a->benchmarks, line) < 0)
            strv_push(&a->benchmarks, line);
    }
    return 0;
}

int allocators_identify(struct allocator_set *set, const char *profile, int *sig)
{
    return query_each(set, "--heapmark-info", profile, identity_answer, sig);
}

int allocators_list_benchmarks(struct allocator_set *set, const char *profile, int *sig)
{
    return query_each(set, "--benchmark_list_tests=true", profile, list_answer, sig);
}

void allocators_free(struct allocator_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        allocator_free(&set->v[i]);
    free(set->v);
    memset(set, 0, sizeof *set);
}
