/* meta.c: meta.json, the part that a benchmark run folder (run.c) and a
 * conformance run folder (conformance.c) share: the preamble, the machine
 * facts, how an allocator is described, and the atomic write. */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void meta_begin(struct meta_doc *m, const char *kind, const char *started, const char *finished,
                const char *state, const char *cmdline, const struct sysinfo *si)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    if (m->f == NULL) {
        errmsg("out of memory");
        exit(1);
    }
    struct json_writer *w = &m->w;
    jw_init(w, m->f, 1);
    jw_begin_object(w);
    jw_key(w, "schema"); jw_int(w, 1);
    jw_key(w, "tool"); jw_string(w, "heapmark");
    jw_key(w, "kind"); jw_string(w, kind);
    jw_key(w, "started"); jw_string(w, started);
    jw_key(w, "finished"); jw_string(w, finished);
    jw_key(w, "state"); jw_string(w, state);
    jw_key(w, "command_line"); jw_string(w, cmdline);
    sysinfo_write(w, si);
    jw_key(w, "skipped_allocators");
    jw_begin_array(w);
    const struct strv *skipped = allocators_skipped();
    for (size_t i = 0; i < skipped->n; i++) {
        char *line = xstrdup(skipped->v[i]);
        char *tab = strchr(line, '\t');
        *tab = '\0';
        jw_begin_object(w);
        jw_key(w, "name"); jw_string(w, line);
        jw_key(w, "reason"); jw_string(w, tab + 1);
        jw_end_object(w);
        free(line);
    }
    jw_end_array(w);
}

void meta_allocator(struct json_writer *w, const struct allocator *a)
{
    jw_key(w, "name"); jw_string(w, a->name);
    jw_key(w, "version"); jw_string(w, a->version);
    jw_key(w, "library"); jw_string(w, a->library);
    jw_key(w, "package"); jw_string(w, a->package);
    jw_key(w, "binary"); jw_string(w, a->binary_rel);
    jw_key(w, "preload"); jw_string(w, a->preload);
    jw_key(w, "base"); jw_string(w, a->base);
    jw_key(w, "env");
    jw_env_object(w, &a->env);
}

void jw_reason_list(struct json_writer *w, const char *key, const char *item,
                    const struct strv *names, const struct strv *reasons)
{
    jw_key(w, key);
    jw_begin_array(w);
    for (size_t i = 0; i < names->n; i++) {
        jw_begin_object(w);
        jw_key(w, item); jw_string(w, names->v[i]);
        jw_key(w, "reason"); jw_string(w, reasons->v[i]);
        jw_end_object(w);
    }
    jw_end_array(w);
}

void jw_env_object(struct json_writer *w, const struct strv *env)
{
    jw_begin_object(w);
    for (size_t i = 0; i < env->n; i++) {
        char *name = xstrdup(env->v[i]);
        char *eq = strchr(name, '=');
        *eq = '\0';
        jw_key(w, name);
        jw_string(w, eq + 1);
        free(name);
    }
    jw_end_object(w);
}

void meta_commit(struct meta_doc *m, const char *dir)
{
    jw_end_object(&m->w);
    fclose(m->f);
    char *path = xasprintf("%s/meta.json", dir);
    if (atomic_write(path, m->buf, m->len) != 0) {
        errmsg("cannot write %s: %s", path, strerror(errno));
        exit(1);
    }
    free(path);
    free(m->buf);
    m->buf = NULL;
}
