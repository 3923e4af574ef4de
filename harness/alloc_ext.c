/* alloc_ext.c: which extension table is in force, and which library really
   serves malloc in this process. */
#define _GNU_SOURCE
#include "alloc_ext.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *version_unknown(void) { return "unknown"; }

/* Under LD_PRELOAD the binary was linked with glibc: only the standard API
   is known to be the preloaded library's, so every extension is unsupported. */
static struct alloc_ext preload_ext = {
    .name = NULL,
    .library = NULL,
    .version = version_unknown,
};

const struct alloc_ext *alloc_ext_get(void)
{
    const char *lib = getenv("HEAPMARK_PRELOAD");
    if (lib == NULL || *lib == '\0')
        return &alloc_ext_native;
    if (preload_ext.name == NULL) {
        const char *name = getenv("HEAPMARK_ALLOCATOR");
        preload_ext.library = lib;
        preload_ext.name = (name && *name) ? name : lib;
    }
    return &preload_ext;
}

void alloc_identify(struct alloc_identity *id)
{
    const struct alloc_ext *ext = alloc_ext_get();
    memset(id, 0, sizeof *id);
    id->name = ext->name;
    id->version = ext->version ? ext->version() : "unknown";
    id->expected = ext->library;

    /* the malloc that every caller in this process binds to */
    void *sym = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info;
    if (sym != NULL && dladdr(sym, &info) != 0 && info.dli_fname != NULL)
        snprintf(id->library, sizeof id->library, "%s", info.dli_fname);
    else
        snprintf(id->library, sizeof id->library, "?");

    /* The preloaded path may be given relative or through a link: compare
       the file names only. */
    const char *want = id->expected;
    if (getenv("HEAPMARK_PRELOAD") != NULL && want != NULL) {
        const char *slash = strrchr(want, '/');
        want = slash ? slash + 1 : want;
    }
    id->verified = want != NULL && *want != '\0' && strstr(id->library, want) != NULL;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int alloc_identity_print(void)
{
    struct alloc_identity id;
    alloc_identify(&id);
    printf("{\"allocator\": ");
    json_string(stdout, id.name);
    printf(", \"version\": ");
    json_string(stdout, id.version);
    printf(", \"library\": ");
    json_string(stdout, id.library);
    printf(", \"expected\": ");
    json_string(stdout, id.expected);
    printf(", \"verified\": %s}\n", id.verified ? "true" : "false");
    fflush(stdout);
    if (!id.verified) {
        fprintf(stderr, "heapmark: malloc in this process comes from %s, not from %s (%s)\n",
                id.library, id.expected ? id.expected : "?", id.name ? id.name : "?");
        return 1;
    }
    return 0;
}
