/* main.c: the conformance binary's command line.
   build/<A>/conformance [--list] [--filter SUBSTR] [--json FILE] [--timeout SECONDS]
                         [--heapmark-info]
   Exit 0 when the suite ran (whatever the verdicts); 1 when malloc is not
   served by the allocator this binary was built for; 2 on a usage or
   harness error. */
#define _GNU_SOURCE
#include "framework.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: conformance [--list] [--filter SUBSTR] [--json FILE] [--timeout SECONDS]"
               " [--heapmark-info]\n");
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f) /* bytes from stderr may not be UTF-8 */
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static int selected(const struct conf_check *c, const char *filter, int selftest)
{
    if (c->hidden && !selftest)
        return 0;
    if (filter == NULL)
        return 1;
    return strstr(c->id, filter) != NULL || strstr(c->area, filter) != NULL;
}

int main(int argc, char **argv)
{
    const char *filter = NULL, *json = NULL;
    double timeout = 5.0;
    int list = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--list") == 0) {
            list = 1;
        } else if (strcmp(a, "--heapmark-info") == 0) {
            return alloc_identity_print();
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if ((strcmp(a, "--filter") == 0 || strcmp(a, "--json") == 0 ||
                    strcmp(a, "--timeout") == 0)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "conformance: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--filter") == 0) {
                filter = v;
            } else if (strcmp(a, "--json") == 0) {
                json = v;
            } else {
                char *end;
                errno = 0;
                timeout = strtod(v, &end);
                if (errno != 0 || *end != '\0' || !(timeout > 0 && timeout <= 3600)) {
                    fprintf(stderr, "conformance: --timeout wants seconds in (0, 3600], not '%s'\n",
                            v);
                    return 2;
                }
            }
        } else {
            fprintf(stderr, "conformance: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }

    const char *st = getenv("HEAPMARK_CONFORMANCE_SELFTEST");
    int selftest = st != NULL && strcmp(st, "1") == 0;
    size_t n;
    const struct conf_check *const *checks = conf_checks(&n);

    if (list) {
        for (size_t i = 0; i < n; i++)
            if (selected(checks[i], filter, selftest))
                printf("%-6s %-14s %s  %s\n", checks[i]->id, checks[i]->area,
                       conf_kind_name(checks[i]->kind), checks[i]->intent);
        return 0;
    }

    struct alloc_identity id;
    alloc_identify(&id);
    if (!id.verified) {
        fprintf(stderr, "conformance: malloc in this process comes from %s, not from %s (%s): "
                        "not running the suite\n",
                id.library, id.expected ? id.expected : "?", id.name ? id.name : "?");
        return 1;
    }

    FILE *out = NULL;
    if (json != NULL) {
        out = fopen(json, "w");
        if (out == NULL) {
            fprintf(stderr, "conformance: cannot write %s: %s\n", json, strerror(errno));
            return 2;
        }
        fprintf(out, "{\"allocator\": ");
        json_string(out, id.name);
        fprintf(out, ", \"version\": ");
        json_string(out, id.version);
        fprintf(out, ", \"library\": ");
        json_string(out, id.library);
        fprintf(out, ",\n \"checks\": [");
    } else {
        printf("%s %s (%s)\n", id.name, id.version, id.library);
    }

    size_t ran = 0;
    for (size_t i = 0; i < n; i++) {
        const struct conf_check *c = checks[i];
        if (!selected(c, filter, selftest))
            continue;
        struct conf_result r;
        if (conf_run_check(c, timeout, &r) != 0) {
            if (out != NULL)
                fclose(out);
            return 2;
        }
        if (out != NULL) {
            fprintf(out, "%s\n  {\"id\": ", ran ? "," : "");
            json_string(out, c->id);
            fprintf(out, ", \"area\": ");
            json_string(out, c->area);
            fprintf(out, ", \"kind\": \"%s\", \"intent\": ", conf_kind_name(c->kind));
            json_string(out, c->intent);
            fprintf(out, ",\n   \"status\": \"%s\", \"detail\": ", conf_status_name(r.status));
            json_string(out, r.detail);
            fprintf(out, ", \"seconds\": %.3f}", r.seconds);
        } else {
            printf("%-6s %s %-11s %s\n", c->id, conf_kind_name(c->kind),
                   conf_status_name(r.status), r.detail);
            fflush(stdout);
        }
        ran++;
    }
    if (out != NULL) {
        fprintf(out, "\n ]}\n");
        if (fclose(out) != 0) {
            fprintf(stderr, "conformance: writing %s failed\n", json);
            return 2;
        }
    }
    if (ran == 0 && filter != NULL) {
        fprintf(stderr, "conformance: no check matches '%s'\n", filter);
        return 2;
    }
    return 0;
}
