/* line.c: the one formatter of sable's output: the operation log and the
 * statistics summary (hooks.c), warnings about settings (options.c),
 * misuse reports (secure.c) and failed assertions. A line is built in a
 * fixed buffer (no allocation: sable may be reporting on its own state),
 * cut short if it would overflow, and written with one write(2). */
#include "internal.h"

void sbl_line_str(struct sbl_line *l, const char *s)
{
    while (*s && l->n < sizeof l->buf - 1)
        l->buf[l->n++] = *s++;
}

static void line_num(struct sbl_line *l, uintptr_t v, unsigned base)
{
    char t[24];
    size_t k = 0;
    do {
        t[k++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (k && l->n < sizeof l->buf - 1)
        l->buf[l->n++] = t[--k];
}

void sbl_line_dec(struct sbl_line *l, uintptr_t v) { line_num(l, v, 10); }

void sbl_line_hex(struct sbl_line *l, uintptr_t v)
{
    sbl_line_str(l, "0x");
    line_num(l, v, 16);
}

void sbl_line_write(struct sbl_line *l, int fd)
{
    l->buf[l->n++] = '\n'; /* the last byte is always free for it */
    sbl_os_write(fd, l->buf, l->n);
}
