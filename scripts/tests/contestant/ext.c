/* fwd: the stand-in contestant of scripts/tests/test_contestants.sh. */
#include "alloc_ext.h"

extern const char *fwd_version(void);

const struct alloc_ext alloc_ext_native = {
    .name = "fwd",
    .library = "libfwd",
    .version = fwd_version,
};
