/*
 * libFuzzer target of the record reader: arbitrary bytes never make
 * pz_record_check(), pz_record_find(), pz_record_field_at() or the list
 * walker read outside the input, and a record that checks rebuilds to
 * the very same bytes (the check accepts only the canonical layout).
 */

#include <stdlib.h>
#include <string.h>

#include "ngx_personalize_record.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             rc, err;
    size_t          n, i, pos, out_len, k;
    uint8_t        *copy, *out;
    pz_field_t      f;
    pz_bytes_t      item, *items;
    pz_field_in_t  *in;

    /* an exact-size heap copy lets ASan see any overread */
    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data, size);

    rc = pz_record_check(copy, size);
    n = pz_record_nfields(copy, size);

    for (i = 0; i < n + 1; i++) {
        if (pz_record_field_at(copy, size, i, &f) != PZ_OK) {
            continue;
        }

        (void) pz_field_num(&f);
        (void) pz_list_count(&f);

        pos = 0;
        while (pz_list_next(&f, &pos, &item)) {
            /* void */
        }

        if (pz_record_find(copy, size, (const char *) f.name.data,
                           f.name.len, &f) != PZ_OK
            && rc == PZ_OK)
        {
            abort();
        }
    }

    (void) pz_record_find(copy, size, "segments", 8, &f);

    if (rc != PZ_OK) {
        free(copy);
        return 0;
    }

    /* rebuild from the decoded fields: the same bytes */

    in = calloc(n ? n : 1, sizeof(pz_field_in_t));
    items = calloc(size, sizeof(pz_bytes_t));
    out = malloc(size ? size : 1);

    if (in == NULL || items == NULL || out == NULL) {
        goto done;
    }

    k = 0;

    for (i = 0; i < n; i++) {
        if (pz_record_field_at(copy, size, i, &f) != PZ_OK) {
            abort();
        }

        in[i].name = f.name;
        in[i].type = f.type;
        in[i].num = pz_field_num(&f);
        in[i].str = f.value;
        in[i].items = &items[k];

        pos = 0;
        while (pz_list_next(&f, &pos, &item)) {
            items[k++] = item;
            in[i].nitems++;
        }

        if (f.type == PZ_T_LIST && in[i].nitems != pz_list_count(&f)) {
            abort();
        }
    }

    out_len = pz_record_build(in, n, out, size, &err, NULL);

    if (err != PZ_OK || out_len != size || memcmp(out, copy, size) != 0) {
        abort();
    }

done:

    free(in);
    free(items);
    free(out);
    free(copy);

    return 0;
}
