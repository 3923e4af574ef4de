/* json.h: the runner's thin layer over jansson.
 *
 * Reading: json_read() parses a document with jansson after turning the bare
 * literals NaN, Infinity and -Infinity (which Google Benchmark 1.7.1 writes
 * for non-finite doubles, and jansson refuses) into null; every reader of the
 * runner treats a non-finite figure as missing, so null says the same thing.
 * Members are then read with jansson's own json_object_get and friends, and
 * the tree is freed with json_decref.
 *
 * Writing: a json_writer builds one value (object or array) with jansson,
 * member by member in call order, and prints it to its FILE when the outermost
 * object or array closes: pretty (two-space indents, then a newline) for
 * meta.json, on one line for a runs.jsonl record. Numbers keep the look the
 * results have always had: jw_number rounds to 6 significant digits and a
 * whole number prints as an integer; non-finite numbers become null.
 */
#ifndef HEAPMARK_RUNNER_JSON_H
#define HEAPMARK_RUNNER_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* Parses text[0..n) (any JSON value; a \u0000 inside a string cuts the C
   string short). On success returns the tree (json_decref it); on failure
   returns NULL and writes a one-line reason with its position into err. */
json_t *json_read(const char *text, size_t n, char *err, size_t errlen);

#define JW_MAX_DEPTH 16

struct json_writer {
    FILE *f;
    int pretty;
    int depth;                      /* open objects/arrays */
    json_t *open[JW_MAX_DEPTH];     /* open[0] is the outermost */
    char *key;                      /* the member name given by jw_key, not yet used */
    int precision;                  /* significant digits of reals (6, more for jw_fixed) */
};

void jw_init(struct json_writer *w, FILE *f, int pretty);
void jw_begin_object(struct json_writer *w);
void jw_end_object(struct json_writer *w);   /* the outermost one prints */
void jw_begin_array(struct json_writer *w);
void jw_end_array(struct json_writer *w);    /* the outermost one prints */
void jw_key(struct json_writer *w, const char *key);
void jw_string(struct json_writer *w, const char *s); /* NULL writes null */
void jw_number(struct json_writer *w, double d);      /* 6 significant digits; non-finite: null */
/* d rounded to <decimals> places, every digit before the point kept. */
void jw_fixed(struct json_writer *w, double d, int decimals);
void jw_int(struct json_writer *w, long long i);
void jw_bool(struct json_writer *w, int b);
void jw_null(struct json_writer *w);

#endif
