/* framework.h: what main.c needs from framework.c (checks use conf.h). */
#ifndef HEAPMARK_CONF_FRAMEWORK_H
#define HEAPMARK_CONF_FRAMEWORK_H

#include "conf.h"

struct conf_result {
    int status;        /* enum conf_status */
    char detail[480];
    double seconds;    /* wall time of the child (filled in by the parent) */
};

/* every registered check, in catalogue order */
const struct conf_check *const *conf_checks(size_t *n);
/* runs c in a forked child; 0, or -1 when the child could not be started */
int conf_run_check(const struct conf_check *c, double default_timeout, struct conf_result *out);
const char *conf_kind_name(enum conf_kind k);
const char *conf_status_name(enum conf_status s);

#endif
