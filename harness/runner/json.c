/* json.c: reading and writing JSON through jansson (see json.h). */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The length of the bare literal (NaN, Infinity, -Infinity) at s, or 0. */
static size_t nonfinite_at(const char *s, size_t left)
{
    static const char *const words[] = {"NaN", "Infinity", "-Infinity"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t k = strlen(words[i]);
        if (left >= k && memcmp(s, words[i], k) == 0)
            return k;
    }
    return 0;
}

json_t *json_read(const char *text, size_t n, char *err, size_t errlen)
{
    /* null is at most one byte longer than a literal it replaces (NaN) */
    char *buf = malloc(n + n / 3 + 1);
    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    size_t o = 0;
    int in_string = 0;
    for (size_t i = 0; i < n;) {
        char c = text[i];
        size_t k;
        if (in_string) {
            if (c == '\\' && i + 1 < n)
                buf[o++] = text[i++];
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if ((k = nonfinite_at(text + i, n - i)) > 0) {
            memcpy(buf + o, "null", 4);
            o += 4;
            i += k;
            continue;
        }
        buf[o++] = text[i++];
    }
    json_error_t e;
    json_t *v = json_loadb(buf, o, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    free(buf);
    if (v == NULL)
        snprintf(err, errlen, "%s at line %d column %d", e.text, e.line, e.column);
    return v;
}

void jw_init(struct json_writer *w, FILE *f, int pretty)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    w->pretty = pretty;
    w->precision = 6;
}

/* Puts v (a new reference, NULL when jansson ran out of memory) in the open
   object under the pending key, at the end of the open array, or makes it the
   outermost value. */
static void add(struct json_writer *w, json_t *v)
{
    if (v == NULL) {
        fprintf(stderr, "heapmark: out of memory\n");
        exit(1);
    }
    json_t *top = w->depth > 0 ? w->open[w->depth - 1] : NULL;
    if (top && json_is_object(top)) {
        json_object_set_new(top, w->key ? w->key : "", v);
        free(w->key);
        w->key = NULL;
    } else if (top) {
        json_array_append_new(top, v);
    } else {
        json_decref(v); /* a bare scalar at the top: the runner writes none */
    }
}

static void begin(struct json_writer *w, json_t *v)
{
    if (v == NULL || w->depth >= JW_MAX_DEPTH) {
        fprintf(stderr, "heapmark: JSON nested too deep or out of memory\n");
        exit(1);
    }
    if (w->depth > 0)
        add(w, json_incref(v));
    w->open[w->depth++] = v;
}

static void end(struct json_writer *w)
{
    if (w->depth == 0)
        return;
    json_t *v = w->open[--w->depth];
    if (w->depth == 0) {
        size_t flags = JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(w->precision) |
                       (w->pretty ? JSON_INDENT(2) : 0);
        json_dumpf(v, w->f, flags);
        if (w->pretty)
            fputc('\n', w->f);
        w->precision = 6;
    }
    json_decref(v);
}

void jw_begin_object(struct json_writer *w) { begin(w, json_object()); }
void jw_end_object(struct json_writer *w) { end(w); }
void jw_begin_array(struct json_writer *w) { begin(w, json_array()); }
void jw_end_array(struct json_writer *w) { end(w); }

void jw_key(struct json_writer *w, const char *key)
{
    free(w->key);
    w->key = strdup(key);
    if (w->key == NULL) {
        fprintf(stderr, "heapmark: out of memory\n");
        exit(1);
    }
}

void jw_string(struct json_writer *w, const char *s)
{
    add(w, s ? json_string(s) : json_null());
}

/* The number printed as buf: an integer when it has no point or exponent. */
static void add_printed(struct json_writer *w, const char *buf)
{
    if (strpbrk(buf, ".eEni") == NULL)
        add(w, json_integer(strtoll(buf, NULL, 10)));
    else
        add(w, json_real(strtod(buf, NULL)));
}

void jw_number(struct json_writer *w, double d)
{
    if (!isfinite(d)) {
        jw_null(w);
        return;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%.6g", d);
    add_printed(w, buf);
}

void jw_fixed(struct json_writer *w, double d, int decimals)
{
    if (!isfinite(d)) {
        jw_null(w);
        return;
    }
    char buf[400];
    snprintf(buf, sizeof buf, "%.*f", decimals, d);
    /* print this document with enough digits for every one of these */
    int digits = 0, leading = 1;
    for (const char *p = buf; *p; p++)
        if (*p >= '0' && *p <= '9' && !(leading && *p == '0')) {
            digits++;
            leading = 0;
        }
    if (digits > w->precision)
        w->precision = digits > 17 ? 17 : digits;
    add_printed(w, buf);
}

void jw_int(struct json_writer *w, long long i) { add(w, json_integer(i)); }
void jw_bool(struct json_writer *w, int b) { add(w, json_boolean(b)); }
void jw_null(struct json_writer *w) { add(w, json_null()); }
