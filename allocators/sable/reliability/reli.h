/* reli.h: what the standalone reliability programs (soak.c, exhaust.c)
 * share. Define RELI_PROGRAM (their name, a string) before including it. */
#ifndef SABLE_RELI_H
#define SABLE_RELI_H

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

/* "<program>: FAIL: <message>" on stderr, then _exit(1): no atexit
   handlers, no stdio flush of a possibly forked copy */
static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, RELI_PROGRAM ": FAIL: %s\n", msg);
    fflush(stderr);
    _exit(1);
}

#endif
