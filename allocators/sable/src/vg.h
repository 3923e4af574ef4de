/* vg.h: Valgrind's client requests (hooks.c, secure.c) where its headers are
 * installed, and stand-ins that do nothing but use their arguments where they are not: sable then
 * never runs under memcheck's requests (RUNNING_ON_VALGRIND is 0). */
#ifndef SABLE_VG_H
#define SABLE_VG_H

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#define SBL_HAVE_VALGRIND 1
#endif
#endif

#ifndef SBL_HAVE_VALGRIND
#define RUNNING_ON_VALGRIND 0
#define VALGRIND_MALLOCLIKE_BLOCK(p, n, rz, z) ((void)(p), (void)(n), (void)(rz), (void)(z))
#define VALGRIND_FREELIKE_BLOCK(p, rz) ((void)(p), (void)(rz))
#define VALGRIND_RESIZEINPLACE_BLOCK(p, o, n, rz) ((void)(p), (void)(o), (void)(n), (void)(rz))
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#define VALGRIND_MAKE_MEM_NOACCESS(p, n) ((void)(p), (void)(n))
#define VALGRIND_MAKE_MEM_UNDEFINED(p, n) ((void)(p), (void)(n))
#define VALGRIND_DISABLE_ADDR_ERROR_REPORTING_IN_RANGE(p, n) ((void)(p), (void)(n))
#define VALGRIND_ENABLE_ADDR_ERROR_REPORTING_IN_RANGE(p, n) ((void)(p), (void)(n))
#endif

#endif
