/* selftest.c: checks of the framework itself, linked only into the test binary
   build/conformance-tests/conformance-selftest (conformance/conformance.mk), never
   into a shipped build/<A>/conformance; hidden there too unless
   HEAPMARK_CONFORMANCE_SELFTEST=1 (conformance/selftest.py runs them and compares
   the verdicts with what each one is built to produce). */
#define _GNU_SOURCE
#include "conf.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

CONF_SELFTEST(st01_pass, "ST-01", CONF_STD, 0, "returns normally: pass")
{
    conf_free(conf_malloc(10));
}

CONF_SELFTEST(st02_fail, "ST-02", CONF_STD, 0, "calls conf_fail: fail with its detail")
{
    conf_fail("expected 1, got %d", 2);
}

CONF_SELFTEST(st03_segv, "ST-03", CONF_STD, 0, "dereferences NULL: crash SIGSEGV")
{
    volatile int *volatile p = NULL;
    *p = 1;
}

CONF_SELFTEST(st04_abort, "ST-04", CONF_STD, 0, "calls abort: crash SIGABRT")
{
    abort();
}

CONF_SELFTEST(st05_hang, "ST-05", CONF_STD, 1, "sleeps forever (1 s limit): timeout")
{
    for (;;)
        pause();
}

CONF_SELFTEST(st06_rep_fail, "ST-06", CONF_REP, 0, "a REP check calling conf_fail: observed")
{
    conf_fail("this is a report, not a failure");
}

CONF_SELFTEST(st07_rep_crash, "ST-07", CONF_REP, 0, "a REP check that crashes: observed")
{
    raise(SIGSEGV);
}

CONF_SELFTEST(st08_rep_hang, "ST-08", CONF_REP, 1, "a REP check that hangs: observed")
{
    for (;;)
        pause();
}

CONF_SELFTEST(st09_unsupported, "ST-09", CONF_EXT, 0,
              "needs a symbol nobody defines: unsupported")
{
    conf_need("heapmark_no_such_function");
    conf_fail("conf_need returned for an undefined symbol");
}

static void st10_probe(void *arg)
{
    (void)arg;
    abort();
}

CONF_SELFTEST(st10_cap_probe, "ST-10", CONF_CAP, 0, "a probe that aborts: present")
{
    struct conf_sub s;
    conf_sub_run(&s, st10_probe, NULL, 2);
    if (s.signo == SIGABRT)
        conf_present("%s", conf_sub_describe(&s));
    conf_absent("%s", conf_sub_describe(&s));
}

CONF_SELFTEST(st11_cap_fail, "ST-11", CONF_CAP, 0, "a CAP check calling conf_fail: never fail")
{
    conf_fail("a CAP check cannot fail");
}

static void st12_probe(void *arg)
{
    (void)arg;
    for (;;)
        pause();
}

CONF_SELFTEST(st12_sub_hang, "ST-12", CONF_STD, 5, "a probe that hangs, carried over: timeout")
{
    struct conf_sub s;
    conf_sub_run(&s, st12_probe, NULL, 0.5);
    conf_sub_verdict(&s, "hanging probe");
}

CONF_SELFTEST(st13_exit, "ST-13", CONF_STD, 0, "exits 3 without a verdict: fail")
{
    exit(3);
}

CONF_SELFTEST(st14_grandchild, "ST-14", CONF_STD, 1,
              "leaves a hanging grandchild: timeout, and the grandchild is killed with it")
{
    pid_t pid = fork();
    if (pid == 0)
        for (;;)
            pause();
    /* selftest.py checks that this pid is gone after the time limit */
    const char *pidfile = getenv("HEAPMARK_SELFTEST_PIDFILE");
    if (pidfile != NULL) {
        FILE *f = fopen(pidfile, "w");
        if (f != NULL) {
            fprintf(f, "%d\n", (int)pid);
            fclose(f);
        }
    }
    for (;;)
        pause();
}
