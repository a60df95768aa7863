/*
 * libFuzzer target of the scanner: arbitrary bodies, fed whole and in
 * pieces chosen from the input itself, never crash and give the same
 * output and the same events; the scanner never passes its own buffers
 * as stable memory and holds nothing after pz_scan_finish().  With
 * flags 0 the pieces run takes the general path (PZ_SCAN_PROMPTS without
 * a prompts callback) and must match the '!' fast path of the whole run.
 *
 * The first byte picks the flags and the hold buffer size, the second
 * seeds the chunking; the rest is the body, in which bytes from 0xf0 up
 * stand for the tokens of fz_tokens[] so that the fuzzer reaches deep
 * states without a dictionary.
 */

#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "ngx_personalize_scan.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


typedef struct {
    unsigned char  *out;
    size_t          len;
    size_t          size;
    char            ev[4096];
    size_t          ev_len;
    int             bad;
} fz_sink_t;


static const char  *fz_tokens[16] = {
    "<!-- personalize:", "<!--/personalize:", " -->", "-->",
    "<input ", "name=", "value=", "</body>",
    "<script>", "</script>", "\"", "personalize:prompts",
    "<textarea>", "</textarea>", "o", "<!--"
};

static unsigned char  tagbuf[PZ_SCAN_TAG_MAX];
static unsigned char  holdbuf[512];


static int
fz_emit(void *data, const unsigned char *p, size_t len, int transient)
{
    fz_sink_t  *k = data;

    if (!transient
        && ((p >= tagbuf && p < tagbuf + sizeof(tagbuf))
            || (p >= holdbuf && p < holdbuf + sizeof(holdbuf))))
    {
        k->bad = 1;
    }

    if (k->len + len > k->size) {
        k->size = (k->len + len) * 2;
        k->out = realloc(k->out, k->size);
        if (k->out == NULL) {
            abort();
        }
    }

    memcpy(k->out + k->len, p, len);
    k->len += len;

    return 0;
}


static int
fz_open(void *data, const unsigned char *name, size_t len)
{
    (void) data;

    return (len == 1 && (name[0] == 'a' || name[0] == 'c'))
           ? PZ_SCAN_REPLACE : PZ_SCAN_KEEP;
}


static int
fz_replace(void *data, const unsigned char *name, size_t len,
    const unsigned char **p, size_t *plen)
{
    (void) data;
    (void) len;

    if (name[0] == 'c') {
        return 0;
    }

    *p = (const unsigned char *) "[R]";
    *plen = 3;

    return 1;
}


static int
fz_input(void *data, const unsigned char *tag, size_t len,
    pz_scan_edit_t *edit)
{
    pz_input_t  in;

    (void) data;

    if (pz_input_parse(tag, len, &in) != 0) {
        abort();    /* the scanner passes <input> tags only */
    }

    if (!in.has_name || in.name_len != 1) {
        return 0;
    }

    if (in.value_end > len || in.value_start > in.value_end
        || (in.has_value && in.value + in.value_len > tag + len))
    {
        abort();
    }

    return pz_input_edit(&in, in.name[0] == 'o',
                         (const unsigned char *) " value=\"V\"", 10, edit);
}


static int
fz_prompts(void *data, const unsigned char **p, size_t *plen)
{
    (void) data;

    *p = (const unsigned char *) "[P]";
    *plen = 3;

    return 1;
}


static void
fz_event(void *data, int event, const unsigned char *name, size_t len)
{
    fz_sink_t  *k = data;

    if (k->ev_len + len + 16 < sizeof(k->ev)) {
        k->ev_len += snprintf(k->ev + k->ev_len, sizeof(k->ev) - k->ev_len,
                              "%d:%.*s;", event, (int) len,
                              name ? (const char *) name : "");
    }
}


static const pz_scan_handler_t  fz_handler = {
    fz_emit, fz_open, fz_replace, fz_input, fz_prompts, fz_event
};

/* with PZ_SCAN_PROMPTS and no prompts this must act like flags 0, which
 * takes the '!' fast path: a differential check of that path */
static const pz_scan_handler_t  fz_no_prompts = {
    fz_emit, fz_open, fz_replace, fz_input, NULL, fz_event
};


static void
fz_run(fz_sink_t *k, const pz_scan_handler_t *h, const uint8_t *body,
    size_t len, unsigned flags, size_t hold, unsigned seed)
{
    size_t          from, n;
    pz_scan_t       s;
    unsigned char  *piece;

    memset(k, 0, sizeof(fz_sink_t));

    pz_scan_init(&s, h, k, flags, tagbuf, sizeof(tagbuf));
    pz_scan_set_hold(&s, holdbuf, hold);

    for (from = 0; from < len; from += n) {

        if (seed == 0) {
            n = len;

        } else {
            seed = seed * 1103515245 + 12345;
            n = 1 + (seed >> 16) % ((seed & 0x100) ? 3 : 64);
            if (n > len - from) {
                n = len - from;
            }
        }

        /* an exact-size heap copy lets ASan see any overread */
        piece = malloc(n);
        if (piece == NULL) {
            abort();
        }

        memcpy(piece, body + from, n);

        if (pz_scan_feed(&s, piece, n) != 0) {
            abort();
        }

        free(piece);
    }

    if (pz_scan_finish(&s) != 0 || pz_scan_holding(&s)) {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned        flags, seed;
    size_t          hold, i, len, n;
    fz_sink_t       whole, pieces;
    unsigned char  *body;

    if (size < 2) {
        return 0;
    }

    body = malloc((size - 2) * 20 + 1);
    if (body == NULL) {
        return 0;
    }

    len = 0;

    for (i = 2; i < size; i++) {
        if (data[i] >= 0xf0) {
            n = strlen(fz_tokens[data[i] - 0xf0]);
            memcpy(body + len, fz_tokens[data[i] - 0xf0], n);
            len += n;

        } else {
            body[len++] = data[i];
        }
    }

    flags = data[0] & (PZ_SCAN_INPUTS|PZ_SCAN_PROMPTS);
    hold = (data[0] & 0x80) ? 16 : sizeof(holdbuf);
    seed = data[1] | 1;

    /*
     * The whole body is read the widest way the processor has, the pieces
     * byte by byte, 16 or 32 bytes at a time, as the first byte says:
     * every way gives the same output.
     */

    pz_scan_simd = PZ_SCAN_SIMD_AUTO;
    fz_run(&whole, &fz_handler, body, len, flags, hold, 0);

    pz_scan_simd = (data[0] >> 2) % 3;

    if (flags == 0) {
        fz_run(&pieces, &fz_no_prompts, body, len, PZ_SCAN_PROMPTS, hold,
               seed);
    } else {
        fz_run(&pieces, &fz_handler, body, len, flags, hold, seed);
    }

    if (whole.bad || pieces.bad
        || whole.len != pieces.len
        || (whole.len && memcmp(whole.out, pieces.out, whole.len) != 0)
        || strcmp(whole.ev, pieces.ev) != 0)
    {
        abort();
    }

    free(whole.out);
    free(pieces.out);
    free(body);

    return 0;
}
