/*
 * A tiny unit test harness for the plain-C parts.
 *
 *     #include "unit.h"
 *
 *     int
 *     main(void)
 *     {
 *         CHECK(1 + 1 == 2, "addition");
 *         CHECK_EQ_INT(pz_foo(), 3, "foo is three");
 *         CHECK_EQ_MEM(buf, len, "abc", 3, "buffer holds abc");
 *         return UNIT_DONE();
 *     }
 *
 * Each failing check prints "not ok: <name> (file:line)"; UNIT_DONE()
 * prints "N passed, M failed" and returns the exit status (1 on failure).
 */

#ifndef UNIT_H_INCLUDED_
#define UNIT_H_INCLUDED_

#include <stdio.h>
#include <stdint.h>
#include <string.h>


static int  unit_passed;
static int  unit_failed;


#define CHECK(cond, name)                                                    \
    do {                                                                     \
        if (cond) {                                                          \
            unit_passed++;                                                   \
        } else {                                                             \
            unit_failed++;                                                   \
            fprintf(stderr, "not ok: %s (%s:%d: %s)\n", (name), __FILE__,    \
                    __LINE__, #cond);                                        \
        }                                                                    \
    } while (0)

#define CHECK_EQ_INT(got, want, name)                                        \
    do {                                                                     \
        long long  unit_g_ = (long long) (got);                              \
        long long  unit_w_ = (long long) (want);                             \
                                                                             \
        if (unit_g_ == unit_w_) {                                            \
            unit_passed++;                                                   \
        } else {                                                             \
            unit_failed++;                                                   \
            fprintf(stderr, "not ok: %s (%s:%d: got %lld, want %lld)\n",     \
                    (name), __FILE__, __LINE__, unit_g_, unit_w_);           \
        }                                                                    \
    } while (0)

#define CHECK_EQ_MEM(got, got_len, want, want_len, name)                     \
    do {                                                                     \
        size_t  unit_gl_ = (size_t) (got_len);                               \
        size_t  unit_wl_ = (size_t) (want_len);                              \
                                                                             \
        if (unit_gl_ == unit_wl_                                             \
            && memcmp((got), (want), unit_gl_) == 0)                         \
        {                                                                    \
            unit_passed++;                                                   \
        } else {                                                             \
            unit_failed++;                                                   \
            fprintf(stderr, "not ok: %s (%s:%d: got \"%.*s\", want "         \
                    "\"%.*s\")\n", (name), __FILE__, __LINE__,               \
                    (int) unit_gl_, (const char *) (got), (int) unit_wl_,    \
                    (const char *) (want));                                  \
        }                                                                    \
    } while (0)

#define CHECK_EQ_STR(got, want, name)                                        \
    CHECK_EQ_MEM((got), strlen(got), (want), strlen(want), name)

#define UNIT_DONE()                                                          \
    (printf("%d passed, %d failed\n", unit_passed, unit_failed),             \
     unit_failed ? 1 : 0)


#endif /* UNIT_H_INCLUDED_ */
