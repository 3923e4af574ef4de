/* json.c: a small recursive-descent JSON reader and a streaming writer. */
#include "json.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 200

struct parser {
    const char *s;
    size_t n, pos;
    int depth;
    char *err;
    size_t errlen;
    int failed;
};

static void fail(struct parser *p, const char *what)
{
    if (p->failed)
        return;
    p->failed = 1;
    if (p->pos >= p->n)
        snprintf(p->err, p->errlen, "%s at end of input (offset %zu)", what, p->pos);
    else
        snprintf(p->err, p->errlen, "%s at offset %zu", what, p->pos);
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->n) {
        char c = p->s[p->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            p->pos++;
        else
            break;
    }
}

static int match(struct parser *p, const char *lit)
{
    size_t l = strlen(lit);
    if (p->n - p->pos >= l && memcmp(p->s + p->pos, lit, l) == 0) {
        p->pos += l;
        return 1;
    }
    return 0;
}

static struct json *new_value(struct parser *p, enum json_type t)
{
    struct json *v = calloc(1, sizeof *v);
    if (v == NULL)
        fail(p, "out of memory");
    else
        v->type = t;
    return v;
}

static int hex4(struct parser *p, unsigned *out)
{
    unsigned v = 0;
    if (p->n - p->pos < 4) {
        fail(p, "truncated \\u escape");
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos++];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else {
            p->pos--;
            fail(p, "bad hex digit in \\u escape");
            return -1;
        }
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses a string literal at p->pos (which is at the opening quote). */
static char *parse_string_raw(struct parser *p)
{
    p->pos++; /* opening quote */
    size_t start = p->pos;
    /* the decoded string is never longer than the literal */
    size_t end = start;
    while (end < p->n && p->s[end] != '"') {
        if (p->s[end] == '\\')
            end++;
        end++;
    }
    if (end >= p->n) {
        fail(p, "unterminated string");
        return NULL;
    }
    char *out = malloc(end - start + 1);
    if (out == NULL) {
        fail(p, "out of memory");
        return NULL;
    }
    size_t o = 0;
    while (p->s[p->pos] != '"') {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c < 0x20) {
            fail(p, "control character in string");
            free(out);
            return NULL;
        }
        if (c != '\\') {
            out[o++] = (char)c;
            p->pos++;
            continue;
        }
        p->pos++;
        char e = p->s[p->pos++];
        switch (e) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (hex4(p, &cp) != 0) {
                free(out);
                return NULL;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (!match(p, "\\u") || hex4(p, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF) {
                    fail(p, "unpaired surrogate in \\u escape");
                    free(out);
                    return NULL;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail(p, "unpaired surrogate in \\u escape");
                free(out);
                return NULL;
            }
            /* 6 escape chars (or 12 for a pair) always cover the UTF-8 bytes */
            o += put_utf8(out + o, cp);
            break;
        }
        default:
            p->pos--;
            fail(p, "bad escape in string");
            free(out);
            return NULL;
        }
    }
    p->pos++; /* closing quote */
    out[o] = '\0';
    return out;
}

static struct json *parse_value(struct parser *p);

static int push(struct parser *p, struct json *c, struct json *item, char *key, size_t *cap)
{
    if (c->len == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct json **ni = realloc(c->items, nc * sizeof *ni);
        if (ni == NULL) {
            fail(p, "out of memory");
            return -1;
        }
        c->items = ni;
        if (c->type == JSON_OBJECT) {
            char **nk = realloc(c->keys, nc * sizeof *nk);
            if (nk == NULL) {
                fail(p, "out of memory");
                return -1;
            }
            c->keys = nk;
        }
        *cap = nc;
    }
    c->items[c->len] = item;
    if (c->type == JSON_OBJECT)
        c->keys[c->len] = key;
    c->len++;
    return 0;
}

static struct json *parse_container(struct parser *p, enum json_type t)
{
    char close = t == JSON_ARRAY ? ']' : '}';
    if (++p->depth > JSON_MAX_DEPTH) {
        fail(p, "nesting too deep");
        return NULL;
    }
    struct json *c = new_value(p, t);
    if (c == NULL)
        return NULL;
    size_t cap = 0;
    p->pos++; /* [ or { */
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == close) {
        p->pos++;
        p->depth--;
        return c;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(p);
        if (t == JSON_OBJECT) {
            if (p->pos >= p->n || p->s[p->pos] != '"') {
                fail(p, "expected a string key");
                goto bad;
            }
            key = parse_string_raw(p);
            if (key == NULL)
                goto bad;
            skip_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != ':') {
                free(key);
                fail(p, "expected ':'");
                goto bad;
            }
            p->pos++;
        }
        struct json *item = parse_value(p);
        if (item == NULL) {
            free(key);
            goto bad;
        }
        if (push(p, c, item, key, &cap) != 0) {
            free(key);
            json_free(item);
            goto bad;
        }
        skip_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->n && p->s[p->pos] == close) {
            p->pos++;
            break;
        }
        fail(p, t == JSON_ARRAY ? "expected ',' or ']'" : "expected ',' or '}'");
        goto bad;
    }
    p->depth--;
    return c;
bad:
    json_free(c);
    return NULL;
}

static struct json *parse_number(struct parser *p)
{
    size_t start = p->pos;
    if (match(p, "NaN")) {
        struct json *v = new_value(p, JSON_NUMBER);
        if (v)
            v->number = NAN;
        return v;
    }
    int neg = p->s[p->pos] == '-';
    if (neg)
        p->pos++;
    if (match(p, "Infinity")) {
        struct json *v = new_value(p, JSON_NUMBER);
        if (v)
            v->number = neg ? -INFINITY : INFINITY;
        return v;
    }
    /* JSON grammar: int [frac] [exp] */
    size_t digits = 0;
    if (p->pos < p->n && p->s[p->pos] == '0') {
        p->pos++;
        digits = 1;
    } else {
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            p->pos++;
            digits++;
        }
    }
    if (digits == 0) {
        fail(p, "bad number");
        return NULL;
    }
    if (p->pos < p->n && p->s[p->pos] == '.') {
        p->pos++;
        digits = 0;
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            p->pos++;
            digits++;
        }
        if (digits == 0) {
            fail(p, "bad number");
            return NULL;
        }
    }
    if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->n && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        digits = 0;
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            p->pos++;
            digits++;
        }
        if (digits == 0) {
            fail(p, "bad number");
            return NULL;
        }
    }
    char buf[64];
    size_t len = p->pos - start;
    if (len >= sizeof buf) {
        /* absurdly long literal: still a number, parse from a heap copy */
        char *tmp = malloc(len + 1);
        if (tmp == NULL) {
            fail(p, "out of memory");
            return NULL;
        }
        memcpy(tmp, p->s + start, len);
        tmp[len] = '\0';
        struct json *v = new_value(p, JSON_NUMBER);
        if (v)
            v->number = strtod(tmp, NULL);
        free(tmp);
        return v;
    }
    memcpy(buf, p->s + start, len);
    buf[len] = '\0';
    struct json *v = new_value(p, JSON_NUMBER);
    if (v)
        v->number = strtod(buf, NULL);
    return v;
}

static struct json *parse_value(struct parser *p)
{
    skip_ws(p);
    if (p->pos >= p->n) {
        fail(p, "expected a value");
        return NULL;
    }
    char c = p->s[p->pos];
    if (c == '{')
        return parse_container(p, JSON_OBJECT);
    if (c == '[')
        return parse_container(p, JSON_ARRAY);
    if (c == '"') {
        char *s = parse_string_raw(p);
        if (s == NULL)
            return NULL;
        struct json *v = new_value(p, JSON_STRING);
        if (v == NULL) {
            free(s);
            return NULL;
        }
        v->string = s;
        return v;
    }
    int truth = match(p, "true");
    if (truth || match(p, "false")) {
        struct json *v = new_value(p, JSON_BOOL);
        if (v)
            v->boolean = truth;
        return v;
    }
    if (match(p, "null"))
        return new_value(p, JSON_NULL);
    if (c == '-' || c == 'N' || c == 'I' || (c >= '0' && c <= '9'))
        return parse_number(p);
    fail(p, "unexpected character");
    return NULL;
}

struct json *json_parse(const char *text, size_t n, char *err, size_t errlen)
{
    char dummy[8];
    struct parser p = {.s = text, .n = n, .err = err ? err : dummy,
                       .errlen = err ? errlen : sizeof dummy};
    if (p.errlen > 0)
        p.err[0] = '\0';
    struct json *v = parse_value(&p);
    if (v == NULL)
        return NULL;
    skip_ws(&p);
    if (p.pos != p.n) {
        fail(&p, "trailing characters after the value");
        json_free(v);
        return NULL;
    }
    return v;
}

void json_free(struct json *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->len; i++) {
        json_free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
    free(v);
}

const struct json *json_get(const struct json *v, const char *key)
{
    if (v == NULL || v->type != JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < v->len; i++)
        if (strcmp(v->keys[i], key) == 0)
            return v->items[i];
    return NULL;
}

const char *json_get_string(const struct json *v, const char *key)
{
    const struct json *m = json_get(v, key);
    return m && m->type == JSON_STRING ? m->string : NULL;
}

int json_get_true(const struct json *v, const char *key)
{
    const struct json *m = json_get(v, key);
    return m && m->type == JSON_BOOL && m->boolean;
}

/* ---- writer ------------------------------------------------------------ */

void json_write_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*c < 0x20 || *c == 0x7f)
                fprintf(f, "\\u%04x", *c);
            else
                fputc(*c, f);
        }
    }
    fputc('"', f);
}

void jw_init(struct json_writer *w, FILE *f, int pretty)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    w->pretty = pretty;
}

static void newline(struct json_writer *w)
{
    fputc('\n', w->f);
    for (int i = 0; i < w->depth; i++)
        fputs("  ", w->f);
}

/* Separator before a value or key at the current depth. */
static void before_item(struct json_writer *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth == 0)
        return;
    if (w->count[w->depth] > 0)
        fputs(w->pretty ? "," : ", ", w->f);
    if (w->pretty)
        newline(w);
    if (w->count[w->depth] < 255)
        w->count[w->depth]++;
}

static void begin(struct json_writer *w, char c)
{
    before_item(w);
    fputc(c, w->f);
    if (w->depth < 63)
        w->depth++;
    w->count[w->depth] = 0;
}

static void end(struct json_writer *w, char c)
{
    int had = w->count[w->depth] > 0;
    if (w->depth > 0)
        w->depth--;
    if (w->pretty && had)
        newline(w);
    fputc(c, w->f);
    if (w->depth == 0 && w->pretty)
        fputc('\n', w->f);
}

void jw_begin_object(struct json_writer *w) { begin(w, '{'); }
void jw_end_object(struct json_writer *w) { end(w, '}'); }
void jw_begin_array(struct json_writer *w) { begin(w, '['); }
void jw_end_array(struct json_writer *w) { end(w, ']'); }

void jw_key(struct json_writer *w, const char *key)
{
    before_item(w);
    json_write_string(w->f, key);
    fputs(": ", w->f);
    w->after_key = 1;
}

void jw_string(struct json_writer *w, const char *s)
{
    before_item(w);
    if (s == NULL)
        fputs("null", w->f);
    else
        json_write_string(w->f, s);
}

void jw_number(struct json_writer *w, double d)
{
    before_item(w);
    if (isfinite(d))
        fprintf(w->f, "%.6g", d);
    else
        fputs("null", w->f);
}

void jw_fixed(struct json_writer *w, double d, int decimals)
{
    before_item(w);
    if (isfinite(d))
        fprintf(w->f, "%.*f", decimals, d);
    else
        fputs("null", w->f);
}

void jw_int(struct json_writer *w, long long i)
{
    before_item(w);
    fprintf(w->f, "%lld", i);
}

void jw_bool(struct json_writer *w, int b)
{
    before_item(w);
    fputs(b ? "true" : "false", w->f);
}

void jw_null(struct json_writer *w)
{
    before_item(w);
    fputs("null", w->f);
}

void jw_value(struct json_writer *w, const struct json *v)
{
    switch (v->type) {
    case JSON_NULL: jw_null(w); break;
    case JSON_BOOL: jw_bool(w, v->boolean); break;
    case JSON_NUMBER:
        if (isfinite(v->number) && v->number == (double)(long long)v->number &&
            fabs(v->number) < 9e15)
            jw_int(w, (long long)v->number);
        else
            jw_number(w, v->number);
        break;
    case JSON_STRING: jw_string(w, v->string); break;
    case JSON_ARRAY:
        jw_begin_array(w);
        for (size_t i = 0; i < v->len; i++)
            jw_value(w, v->items[i]);
        jw_end_array(w);
        break;
    case JSON_OBJECT:
        jw_begin_object(w);
        for (size_t i = 0; i < v->len; i++) {
            jw_key(w, v->keys[i]);
            jw_value(w, v->items[i]);
        }
        jw_end_object(w);
        break;
    }
}
