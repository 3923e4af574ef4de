/* json_test.c: unit tests of the runner's JSON layer over jansson (json.h):
 * Google Benchmark's bare NaN/Infinity read as null (but not inside strings),
 * clear errors, and the exact text the writer gives meta.json and runs.jsonl
 * (member order, one line or two-space indents, the look of numbers). */
#define _GNU_SOURCE
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static json_t *parse(const char *s, char *err, size_t errlen)
{
    return json_read(s, strlen(s), err, errlen);
}

static void test_values(void)
{
    char err[128];
    json_t *v = parse(" {\"a\": 1, \"b\": [true, false, null, -2.5e3, 0], \"c\": \"x\"} ",
                      err, sizeof err);
    CHECK(v != NULL);
    if (v == NULL)
        return;
    CHECK(json_is_object(v) && json_object_size(v) == 3);
    CHECK(json_number_value(json_object_get(v, "a")) == 1);
    const json_t *b = json_object_get(v, "b");
    CHECK(json_is_array(b) && json_array_size(b) == 5);
    CHECK(json_is_true(json_array_get(b, 0)) && json_is_false(json_array_get(b, 1)));
    CHECK(json_is_null(json_array_get(b, 2)));
    CHECK(json_number_value(json_array_get(b, 3)) == -2500.0);
    CHECK(strcmp(json_string_value(json_object_get(v, "c")), "x") == 0);
    json_decref(v);
}

/* Google Benchmark 1.7.1 writes non-finite doubles as bare NaN, Infinity and
   -Infinity: they read as null; the same words inside strings stay. */
static void test_nonfinite(void)
{
    char err[128];
    json_t *v = parse("{\"load_avg\": [NaN, Infinity, -Infinity, 2],"
                      " \"s\": \"NaN \\\" Infinity\", \"NaN\": -Infinity}", err, sizeof err);
    CHECK(v != NULL);
    if (v == NULL) {
        fprintf(stderr, "refused: %s\n", err);
        return;
    }
    const json_t *l = json_object_get(v, "load_avg");
    CHECK(json_array_size(l) == 4);
    CHECK(json_is_null(json_array_get(l, 0)) && json_is_null(json_array_get(l, 1)) &&
          json_is_null(json_array_get(l, 2)));
    CHECK(json_integer_value(json_array_get(l, 3)) == 2);
    CHECK(strcmp(json_string_value(json_object_get(v, "s")), "NaN \" Infinity") == 0);
    CHECK(json_is_null(json_object_get(v, "NaN")));
    json_decref(v);
}

static void test_strings(void)
{
    char err[128];
    json_t *v = parse("[\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\u20ac\\ud83d\\ude00\", \"x\\u0000y\"]",
                      err, sizeof err);
    CHECK(v != NULL);
    if (v == NULL)
        return;
    CHECK(strcmp(json_string_value(json_array_get(v, 0)),
                 "a\"b\\c/d\n\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") == 0);
    CHECK(strcmp(json_string_value(json_array_get(v, 1)), "x") == 0); /* cut at \u0000 */
    json_decref(v);
}

static void test_errors(void)
{
    const char *bad[] = {
        "",          "{",          "[1,]",        "{\"a\" 1}",  "{\"a\":1,}", "[1 2]",
        "tru",       "nul",        "01",          "1.",         "1e",         "-",
        "\"abc",     "\"\\x\"",    "\"\\u12\"",   "\"\\ud800\"", "\"a\nb\"",   "[1] x",
        "{1: 2}",    "NaNa",       "Infinit",     "[\"a\" : 1]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[128] = "";
        json_t *v = parse(bad[i], err, sizeof err);
        if (v != NULL) {
            fprintf(stderr, "accepted bad JSON: %s\n", bad[i]);
            failures++;
            json_decref(v);
        }
        CHECK(strstr(err, " at line ") != NULL && strchr(err, '\n') == NULL);
    }
    /* the position points at the problem */
    char err[128];
    CHECK(parse("[1, 2,\n ?]", err, sizeof err) == NULL);
    CHECK(strstr(err, "line 2 column 2") != NULL);
    /* deep nesting is refused, not a stack overflow */
    size_t depth = 100000;
    char *deep = malloc(depth * 2);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    err[0] = '\0';
    CHECK(json_read(deep, depth * 2, err, sizeof err) == NULL);
    CHECK(strstr(err, "depth") != NULL);
    free(deep);
}

/* The writer's output for a document with every kind of member. */
static char *write_sample(int pretty)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct json_writer w;
    jw_init(&w, f, pretty);
    jw_begin_object(&w);
    jw_key(&w, "z"); jw_string(&w, "q\"\\\n\x01 end");
    jw_key(&w, "n"); jw_number(&w, 1.25);
    jw_key(&w, "whole"); jw_number(&w, 30);
    jw_key(&w, "six"); jw_number(&w, 0.123456789);
    jw_key(&w, "nan"); jw_number(&w, NAN);
    jw_key(&w, "i"); jw_int(&w, -42);
    jw_key(&w, "empty"); jw_begin_array(&w); jw_end_array(&w);
    jw_key(&w, "eo"); jw_begin_object(&w); jw_end_object(&w);
    jw_key(&w, "arr"); jw_begin_array(&w); jw_bool(&w, 1); jw_null(&w); jw_string(&w, NULL);
    jw_end_array(&w);
    jw_key(&w, "a"); jw_begin_object(&w); jw_key(&w, "b"); jw_bool(&w, 0); jw_end_object(&w);
    jw_end_object(&w);
    fclose(f);
    return buf;
}

static void expect_text(const char *got, const char *want)
{
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "writer gave:\n%s\nexpected:\n%s\n", got, want);
        failures++;
    }
}

static void test_writer(void)
{
    char *one = write_sample(0);
    expect_text(one, "{\"z\": \"q\\\"\\\\\\n\\u0001 end\", \"n\": 1.25, \"whole\": 30, "
                     "\"six\": 0.123457, \"nan\": null, \"i\": -42, \"empty\": [], \"eo\": {}, "
                     "\"arr\": [true, null, null], \"a\": {\"b\": false}}");
    free(one);
    char *pretty = write_sample(1);
    expect_text(pretty, "{\n  \"z\": \"q\\\"\\\\\\n\\u0001 end\",\n  \"n\": 1.25,\n"
                        "  \"whole\": 30,\n  \"six\": 0.123457,\n  \"nan\": null,\n"
                        "  \"i\": -42,\n  \"empty\": [],\n  \"eo\": {},\n"
                        "  \"arr\": [\n    true,\n    null,\n    null\n  ],\n"
                        "  \"a\": {\n    \"b\": false\n  }\n}\n");
    free(pretty);
}

/* jw_fixed keeps every digit before the point (instruction counts), also
   beside the 6-digit numbers of the same record. */
static void test_fixed(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct json_writer w;
    jw_init(&w, f, 0);
    jw_begin_array(&w);
    jw_number(&w, 0.123456789);
    jw_fixed(&w, 1234567.891, 2);
    jw_fixed(&w, 141.0359, 2);
    jw_fixed(&w, 1.2149, 2);
    jw_fixed(&w, INFINITY, 2);
    jw_end_array(&w);
    fclose(f);
    expect_text(buf, "[0.123457, 1234567.89, 141.04, 1.21, null]");
    free(buf);
}

int main(void)
{
    test_values();
    test_nonfinite();
    test_strings();
    test_errors();
    test_writer();
    test_fixed();
    if (failures) {
        fprintf(stderr, "json_test: %d failure(s)\n", failures);
        return 1;
    }
    printf("json_test: all passed\n");
    return 0;
}
