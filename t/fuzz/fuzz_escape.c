/*
 * libFuzzer target for ngx_personalize_escape.c: the HTML tokenizer on
 * random templates fed in random pieces, and the escapers on random values.
 * Checks that escaped output never holds a byte that could leave its
 * context, and that the length pass and the write pass agree.
 */

#include <stdlib.h>
#include <string.h>

#include "ngx_personalize_escape.h"


static void
check_escape(int ctx, const unsigned char *data, size_t size)
{
    unsigned char  *out;
    size_t          n, m, i;

    n = pz_escape(ctx, NULL, data, size);
    out = malloc(n + 1);
    m = pz_escape(ctx, out, data, size);

    if (n != m) {
        abort();
    }

    for (i = 0; i < m; i++) {
        switch (ctx) {

        case PZ_CTX_TEXT:
        case PZ_CTX_ATTR:
        case PZ_CTX_URL:
        case PZ_CTX_URL_REST:
            if (out[i] == '<' || out[i] == '>' || out[i] == '"'
                || out[i] == '\'' || out[i] == '\0')
            {
                abort();
            }
            break;

        case PZ_CTX_SCRIPT:
            if (out[i] == '<' || out[i] == '"' || out[i] == '\''
                || out[i] == '`' || out[i] < 0x20
                || (out[i] == 0xe2 && i + 2 < m && out[i + 1] == 0x80
                    && (out[i + 2] == 0xa8 || out[i + 2] == 0xa9)))
            {
                abort();
            }

            if (out[i] == '\\') {
                i++;            /* an escape: the next byte is safe */
            }
            break;
        }
    }

    if (ctx == PZ_CTX_URL && !(m == 1 && out[0] == '#')
        && !pz_url_safe(data, size))
    {
        abort();
    }

    if (ctx == PZ_CTX_URL_REST && memchr(out, ':', m) != NULL) {
        abort();
    }

    free(out);
}


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    pz_html_t    h, whole;
    const char  *err;
    size_t       i, step;
    int          a, b;

    for (a = PZ_CTX_TEXT; a <= PZ_CTX_RAW; a++) {
        check_escape(a, data, size);
    }

    /* split feeding gives the same state as one piece */

    pz_html_init(&whole);
    pz_html_feed(&whole, data, size);

    step = size ? (data[0] % 7) + 1 : 1;
    pz_html_init(&h);

    for (i = 0; i < size; i += step) {
        pz_html_feed(&h, data + i, (size - i < step) ? size - i : step);

        err = NULL;
        a = pz_html_context(&h, &err);

        if ((a < 0) != (err != NULL)) {
            abort();
        }
    }

    err = NULL;
    a = pz_html_context(&h, &err);
    b = pz_html_context(&whole, &err);

    if (a != b || memcmp(&h, &whole, sizeof(pz_html_t)) != 0) {
        abort();
    }

    (void) pz_html_final(&h, &err);

    return 0;
}
