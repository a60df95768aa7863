/*
 * libFuzzer target of the record reader: arbitrary bytes never make
 * pz_record_check(), pz_record_find(), pz_record_field_at() or the list
 * walker read outside the input, and a record that checks rebuilds to
 * the very same bytes (the check accepts only the canonical layout).
 * Inputs that start with "B" describe fields instead: what
 * pz_record_build() accepts must check clean and read back the same; the
 * text forms of decimals, times and ints parse back what they format.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_personalize_record.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void fuzz_build(const uint8_t *data, size_t size);
static void fuzz_text(const uint8_t *data, size_t size);


/*
 * Field descriptions: type byte, name length byte, name, then a value:
 * int/decimal/time 8 bytes, string a length byte and bytes, list a count
 * byte and per item a length byte and bytes.
 */

static void
fuzz_build(const uint8_t *data, size_t size)
{
    int             err;
    size_t          pos, n, i, j, k, len, ipos;
    uint64_t        v;
    pz_field_t      f;
    pz_bytes_t      items[512], item;
    pz_field_in_t   in[PZ_FIELDS_MAX + 1];
    static uint8_t  out[PZ_RECORD_MAX];

    pos = 0;
    n = 0;
    k = 0;

    while (pos + 2 <= size && n < PZ_FIELDS_MAX + 1) {
        memset(&in[n], 0, sizeof(pz_field_in_t));
        in[n].type = data[pos] % 7;
        len = data[pos + 1];
        pos += 2;

        if (pos + len > size) {
            break;
        }

        in[n].name.data = data + pos;
        in[n].name.len = len;
        pos += len;

        switch (in[n].type) {

        case PZ_T_STRING:
            if (pos >= size) {
                return;
            }

            len = data[pos++];

            if (pos + len > size) {
                return;
            }

            in[n].str.data = data + pos;
            in[n].str.len = len;
            pos += len;
            break;

        case PZ_T_LIST:
            if (pos >= size) {
                return;
            }

            len = data[pos++];
            in[n].items = &items[k];

            for (i = 0; i < len && k < 512; i++) {
                if (pos >= size || pos + 1 + data[pos] > size) {
                    return;
                }

                items[k].len = data[pos];
                items[k].data = data + pos + 1;
                pos += 1 + items[k].len;
                k++;
                in[n].nitems++;
            }

            break;

        default:
            if (pos + 8 > size) {
                return;
            }

            memcpy(&v, data + pos, 8);
            in[n].num = (int64_t) v;
            pos += 8;
            break;
        }

        n++;
    }

    len = pz_record_build(in, n, out, sizeof(out), &err, NULL);

    if (err != PZ_OK) {
        return;
    }

    if (pz_record_check(out, len) != PZ_OK
        || pz_record_nfields(out, len) != n)
    {
        abort();
    }

    for (i = 0; i < n; i++) {
        if (pz_record_find(out, len, (const char *) in[i].name.data,
                           in[i].name.len, &f) != PZ_OK
            || f.type != in[i].type)
        {
            abort();
        }

        if (f.type == PZ_T_STRING
            && (f.value.len != in[i].str.len
                || (f.value.len
                    && memcmp(f.value.data, in[i].str.data, f.value.len))))
        {
            abort();
        }

        if ((f.type == PZ_T_INT || f.type == PZ_T_DECIMAL
             || f.type == PZ_T_TIME)
            && pz_field_num(&f) != in[i].num)
        {
            abort();
        }

        if (f.type == PZ_T_LIST) {
            if (pz_list_count(&f) != in[i].nitems) {
                abort();
            }

            ipos = 0;

            for (j = 0; pz_list_next(&f, &ipos, &item); j++) {
                if (item.len != in[i].items[j].len
                    || (item.len && memcmp(item.data, in[i].items[j].data,
                                           item.len)))
                {
                    abort();
                }
            }

            if (j != in[i].nitems) {
                abort();
            }
        }
    }
}


static void
fuzz_text(const uint8_t *data, size_t size)
{
    char     buf[PZ_DECIMAL_LEN + PZ_TIME_LEN];
    size_t   len;
    int64_t  v, back;

    if (pz_decimal_parse((const char *) data, size, &v) == 0) {
        len = pz_decimal_format(v, buf);

        if (pz_decimal_parse(buf, len, &back) != 0 || back != v) {
            abort();
        }
    }

    if (pz_time_parse((const char *) data, size, &v) == 0) {
        len = pz_time_format(v, buf);

        if (pz_time_parse(buf, len, &back) != 0 || back != v) {
            abort();
        }
    }

    if (pz_int_parse((const char *) data, size, &v) == 0) {
        len = (size_t) snprintf(buf, sizeof(buf), "%lld", (long long) v);

        if (pz_int_parse(buf, len, &back) != 0 || back != v) {
            abort();
        }
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             rc, err;
    size_t          n, i, pos, out_len, k;
    uint8_t        *copy, *out;
    pz_field_t      f;
    pz_bytes_t      item, *items;
    pz_field_in_t  *in;

    if (size > 0 && data[0] == 'B') {
        fuzz_build(data + 1, size - 1);
        return 0;
    }

    if (size > 0 && data[0] == 'T') {
        copy = malloc(size);
        if (copy != NULL) {
            memcpy(copy, data + 1, size - 1);
            fuzz_text((const uint8_t *) copy, size - 1);
            free(copy);
        }

        return 0;
    }

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
