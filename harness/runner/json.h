/* json.h: the runner's small JSON reader (a tree of values) and writer.
 *
 * The reader accepts RFC 8259 JSON plus the bare literals NaN, Infinity and
 * -Infinity that Google Benchmark 1.7.1 writes for non-finite doubles. The
 * writer produces strict JSON (non-finite numbers become null).
 */
#ifndef HEAPMARK_RUNNER_JSON_H
#define HEAPMARK_RUNNER_JSON_H

#include <stddef.h>
#include <stdio.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
    enum json_type type;
    int boolean;
    double number;
    char *string;          /* JSON_STRING: NUL-terminated UTF-8 (may hold \u0000 cut short) */
    size_t len;            /* JSON_ARRAY/JSON_OBJECT: number of items */
    struct json **items;   /* values */
    char **keys;           /* JSON_OBJECT: keys, parallel to items */
};

/* Parses text[0..n). On success returns the tree; on failure returns NULL
   and writes a one-line reason with the byte offset into err. */
struct json *json_parse(const char *text, size_t n, char *err, size_t errlen);
void json_free(struct json *v);

/* Member of an object (NULL if absent or v is not an object). */
const struct json *json_get(const struct json *v, const char *key);
/* The string of member key, or NULL when absent or not a string. */
const char *json_get_string(const struct json *v, const char *key);
/* 1 when member key is the literal true. */
int json_get_true(const struct json *v, const char *key);

/* Writer: keeps track of commas; pretty = newlines and two-space indents. */
struct json_writer {
    FILE *f;
    int pretty;
    int depth;
    int after_key;
    unsigned char count[64]; /* items written so far at each depth (saturating) */
};

void jw_init(struct json_writer *w, FILE *f, int pretty);
void jw_begin_object(struct json_writer *w);
void jw_end_object(struct json_writer *w);
void jw_begin_array(struct json_writer *w);
void jw_end_array(struct json_writer *w);
void jw_key(struct json_writer *w, const char *key);
void jw_string(struct json_writer *w, const char *s); /* NULL writes null */
void jw_number(struct json_writer *w, double d);      /* %.6g; non-finite: null */
/* %.<decimals>f: all the digits before the point (jw_number keeps 6 in all). */
void jw_fixed(struct json_writer *w, double d, int decimals);
void jw_int(struct json_writer *w, long long i);
void jw_bool(struct json_writer *w, int b);
void jw_null(struct json_writer *w);
/* Writes a whole parsed value (e.g. to copy a child's JSON into meta.json). */
void jw_value(struct json_writer *w, const struct json *v);

/* Writes s as a JSON string literal (quotes included). */
void json_write_string(FILE *f, const char *s);

#endif
