/*
 * bench/scan-bench.c: the scanner alone, on a page, in CPU time.
 *
 *     cc -O2 -I ngx_personalize_module -o scan-bench bench/scan-bench.c \
 *         ngx_personalize_module/ngx_personalize_scan.c
 *     ./scan-bench page.html [rounds] [piece]
 *
 * Feeds the page to the scanner rounds times (default 20000) in pieces of
 * piece bytes (default the whole page) with the callbacks the filter
 * uses in scenario 4 of make bench: three slots replaced, one prompt, a
 * prefill of the input named "coupon", and prints nanoseconds per page
 * for that and for markers only (an anonymous visitor): the best of ten
 * batches, as a busy machine only ever makes a batch slower.  A profile of the
 * whole request tells where the time goes; this tells whether a change
 * to the scanner made it faster, undisturbed by anything else running.
 */

#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_personalize_scan.h"


static size_t  out_bytes;


static int
emit(void *data, const unsigned char *p, size_t len, int transient)
{
    (void) data;
    (void) p;
    (void) transient;

    out_bytes += len;

    return 0;
}


static int
open_slot(void *data, const unsigned char *name, size_t len)
{
    (void) data;
    (void) name;
    (void) len;

    return PZ_SCAN_REPLACE;
}


static int
replace(void *data, const unsigned char *name, size_t len,
    const unsigned char **p, size_t *plen)
{
    (void) data;
    (void) name;
    (void) len;

    *p = (const unsigned char *) "<div class=\"block\">personal</div>";
    *plen = sizeof("<div class=\"block\">personal</div>") - 1;

    return 1;
}


static int
input(void *data, const unsigned char *tag, size_t len, pz_scan_edit_t *edit)
{
    pz_input_t  in;

    static const unsigned char  attr[] = " value=\"SAVE10\"";

    (void) data;

    /* as ngx_http_personalize_input(): parse only a tag holding the name */

    if (memchr(tag, 'c', len) == NULL
        || memmem(tag, len, "coupon", 6) == NULL)
    {
        return 0;
    }

    if (pz_input_parse(tag, len, &in) != 0 || !in.has_name
        || in.name_len != 6 || memcmp(in.name, "coupon", 6) != 0)
    {
        return 0;
    }

    return pz_input_edit(&in, 0, attr, sizeof(attr) - 1, edit);
}


static double batch(const unsigned char *page, size_t len, size_t piece,
    long rounds, unsigned flags);


static int
prompts(void *data, const unsigned char **p, size_t *plen)
{
    (void) data;

    *p = (const unsigned char *) "<div class=\"prompt\">Can I help?</div>";
    *plen = sizeof("<div class=\"prompt\">Can I help?</div>") - 1;

    return 1;
}


static double
run(const unsigned char *page, size_t len, size_t piece, long rounds,
    unsigned flags)
{
    int     b;
    double  t, best;

    best = 0;

    for (b = 0; b < 10; b++) {
        t = batch(page, len, piece, rounds / 10 + 1, flags);
        if (b == 0 || t < best) {
            best = t;
        }
    }

    return best;
}


static double
batch(const unsigned char *page, size_t len, size_t piece, long rounds,
    unsigned flags)
{
    long              i;
    size_t            off, n;
    pz_scan_t         s;
    struct timespec   t0, t1;
    unsigned char     tag[PZ_SCAN_TAG_MAX];
    static unsigned char  hold[65536];

    static const pz_scan_handler_t  h = {
        emit, open_slot, replace, input, prompts, NULL
    };

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);

    for (i = 0; i < rounds; i++) {
        pz_scan_init(&s, &h, NULL, flags, tag, sizeof(tag));
        pz_scan_set_hold(&s, hold, sizeof(hold));

        for (off = 0; off < len; off += n) {
            n = len - off < piece ? len - off : piece;

            if (pz_scan_feed(&s, page + off, n) != 0) {
                fprintf(stderr, "scan-bench: feed failed\n");
                exit(1);
            }
        }

        if (pz_scan_finish(&s) != 0) {
            fprintf(stderr, "scan-bench: finish failed\n");
            exit(1);
        }
    }

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);

    return ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec))
           / rounds;
}


int
main(int argc, char **argv)
{
    long            rounds;
    size_t          len, piece;
    FILE           *f;
    unsigned char  *page;

    if (argc < 2) {
        fprintf(stderr, "usage: scan-bench page.html [rounds] [piece]\n");
        return 2;
    }

    f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }

    page = malloc(1 << 24);
    if (page == NULL) {
        return 1;
    }

    len = fread(page, 1, 1 << 24, f);
    fclose(f);

    rounds = argc > 2 ? atol(argv[2]) : 20000;
    piece = argc > 3 ? (size_t) atol(argv[3]) : len;

    if (rounds <= 0 || piece == 0) {
        fprintf(stderr, "scan-bench: bad rounds or piece\n");
        return 2;
    }

    printf("page %zu bytes, pieces of %zu\n", len, piece);
    printf("markers only:                  %8.0f ns/page\n",
           run(page, len, piece, rounds, 0));
    printf("markers, prompts, prefill:     %8.0f ns/page\n",
           run(page, len, piece, rounds, PZ_SCAN_INPUTS|PZ_SCAN_PROMPTS));
    printf("output %zu bytes\n", out_bytes / (2 * 10 * (rounds / 10 + 1)));

    return 0;
}
