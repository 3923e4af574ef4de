/* json_test.c: unit tests of the runner's JSON reader and writer. */
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

static struct json *parse(const char *s, char *err, size_t errlen)
{
    return json_parse(s, strlen(s), err, errlen);
}

static void test_values(void)
{
    char err[128];
    struct json *v = parse(" {\"a\": 1, \"b\": [true, false, null, -2.5e3, 0], \"c\": \"x\"} ",
                           err, sizeof err);
    CHECK(v != NULL);
    if (v == NULL)
        return;
    CHECK(v->type == JSON_OBJECT && v->len == 3);
    CHECK(json_get(v, "a")->number == 1);
    const struct json *b = json_get(v, "b");
    CHECK(b->type == JSON_ARRAY && b->len == 5);
    CHECK(b->items[0]->type == JSON_BOOL && b->items[0]->boolean == 1);
    CHECK(b->items[1]->type == JSON_BOOL && b->items[1]->boolean == 0);
    CHECK(b->items[2]->type == JSON_NULL);
    CHECK(b->items[3]->number == -2500.0);
    CHECK(b->items[4]->number == 0);
    CHECK(strcmp(json_get_string(v, "c"), "x") == 0);
    CHECK(json_get_string(v, "a") == NULL);  /* not a string */
    CHECK(json_get(v, "missing") == NULL);
    CHECK(json_get_true(v, "a") == 0);
    json_free(v);
}

static void test_nonfinite(void)
{
    char err[128];
    struct json *v = parse("[NaN, Infinity, -Infinity, 1e400]", err, sizeof err);
    CHECK(v != NULL);
    if (v == NULL)
        return;
    CHECK(isnan(v->items[0]->number));
    CHECK(isinf(v->items[1]->number) && v->items[1]->number > 0);
    CHECK(isinf(v->items[2]->number) && v->items[2]->number < 0);
    CHECK(isinf(v->items[3]->number));
    json_free(v);
}

static void test_strings(void)
{
    char err[128];
    struct json *v = parse("\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\u20ac\\ud83d\\ude00\"", err, sizeof err);
    CHECK(v != NULL);
    if (v == NULL)
        return;
    CHECK(strcmp(v->string, "a\"b\\c/d\n\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") == 0);
    json_free(v);
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
        struct json *v = parse(bad[i], err, sizeof err);
        if (v != NULL) {
            fprintf(stderr, "accepted bad JSON: %s\n", bad[i]);
            failures++;
            json_free(v);
        }
        CHECK(strstr(err, "offset") != NULL);
    }
    /* the offset points at the problem */
    char err[128];
    CHECK(parse("[1, 2, ?]", err, sizeof err) == NULL);
    CHECK(strstr(err, "offset 7") != NULL);
    /* deep nesting is refused, not a stack overflow */
    size_t depth = 100000;
    char *deep = malloc(depth * 2 + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[depth * 2] = '\0';
    CHECK(json_parse(deep, depth * 2, err, sizeof err) == NULL);
    CHECK(strstr(err, "deep") != NULL);
    free(deep);
}

static void test_writer(void)
{
    char *buf = NULL;
    size_t len = 0;
    for (int pretty = 0; pretty < 2; pretty++) {
        FILE *f = open_memstream(&buf, &len);
        struct json_writer w;
        jw_init(&w, f, pretty);
        jw_begin_object(&w);
        jw_key(&w, "s"); jw_string(&w, "q\"\\\n\x01 end");
        jw_key(&w, "n"); jw_number(&w, 1.25);
        jw_key(&w, "nan"); jw_number(&w, NAN);
        jw_key(&w, "i"); jw_int(&w, -42);
        jw_key(&w, "empty"); jw_begin_array(&w); jw_end_array(&w);
        jw_key(&w, "eo"); jw_begin_object(&w); jw_end_object(&w);
        jw_key(&w, "arr"); jw_begin_array(&w); jw_bool(&w, 1); jw_null(&w); jw_string(&w, NULL);
        jw_end_array(&w);
        jw_end_object(&w);
        fclose(f);
        char err[128];
        struct json *v = json_parse(buf, len, err, sizeof err);
        CHECK(v != NULL);
        if (v == NULL) {
            fprintf(stderr, "writer output does not parse (%s): %s\n", err, buf);
        } else {
            CHECK(strcmp(json_get_string(v, "s"), "q\"\\\n\x01 end") == 0);
            CHECK(json_get(v, "n")->number == 1.25);
            CHECK(json_get(v, "nan")->type == JSON_NULL);
            CHECK(json_get(v, "i")->number == -42);
            CHECK(json_get(v, "empty")->type == JSON_ARRAY && json_get(v, "empty")->len == 0);
            CHECK(json_get(v, "eo")->type == JSON_OBJECT && json_get(v, "eo")->len == 0);
            CHECK(json_get(v, "arr")->len == 3);
            /* copying a parsed tree gives the same text */
            char *buf2 = NULL;
            size_t len2 = 0;
            FILE *f2 = open_memstream(&buf2, &len2);
            struct json_writer w2;
            jw_init(&w2, f2, pretty);
            jw_value(&w2, v);
            fclose(f2);
            if (strcmp(buf, buf2) != 0) {
                fprintf(stderr, "copy differs:\n%s\n%s\n", buf, buf2);
                failures++;
            }
            free(buf2);
            json_free(v);
        }
        if (!pretty)
            CHECK(strchr(buf, '\n') == NULL); /* one line: runs.jsonl */
        free(buf);
        buf = NULL;
    }
}

/* jw_fixed keeps every digit before the point (instruction counts). */
static void test_fixed(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct json_writer w;
    jw_init(&w, f, 0);
    jw_begin_array(&w);
    jw_fixed(&w, 1234567.891, 2);
    jw_fixed(&w, 141.0359, 2);
    jw_fixed(&w, INFINITY, 2);
    jw_end_array(&w);
    fclose(f);
    CHECK(strstr(buf, "1234567.89") != NULL && strstr(buf, "141.04") != NULL);
    char err[128];
    struct json *v = json_parse(buf, len, err, sizeof err);
    CHECK(v != NULL && v->len == 3);
    if (v != NULL && v->len == 3) {
        CHECK(v->items[0]->number == 1234567.89);
        CHECK(v->items[2]->type == JSON_NULL);
    }
    json_free(v);
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
