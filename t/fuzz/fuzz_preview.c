/*
 * libFuzzer target for the preview payload parser: it must never read
 * outside its input, and what it accepts points into the input and holds
 * only name characters.
 */

#include <stdlib.h>
#include <string.h>

#include "ngx_personalize_preview.h"


static void
check(const unsigned char *base, size_t size, pz_bytes_t *b)
{
    if (b->len && (b->data < base || b->data + b->len > base + size)) {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    size_t          i;
    pz_preview_t    pv;
    unsigned char  *copy;

    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);

    if (pz_preview_parse(copy, size, &pv) == 0) {
        check(copy, size, &pv.profile_id);

        if (pv.nsegments > PZ_PREVIEW_SEGMENTS_MAX
            || pv.nvariants > PZ_PREVIEW_VARIANTS_MAX)
        {
            abort();
        }

        for (i = 0; i < pv.nsegments; i++) {
            check(copy, size, &pv.segments[i]);
            if (pv.segments[i].len == 0) {
                abort();
            }
        }

        for (i = 0; i < pv.nvariants; i++) {
            check(copy, size, &pv.experiments[i]);
            check(copy, size, &pv.variants[i]);
        }
    }

    free(copy);

    return 0;
}
