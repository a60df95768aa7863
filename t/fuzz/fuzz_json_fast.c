/*
 * libFuzzer target of pz-load's fast JSON path against the jansson path:
 * every line pz_json_fast_row() takes, pz_json_to_row() takes too, and
 * both build the very same record, id and aliases.  The first byte picks
 * the kind (profile or catalog), the rest is the line.  Seeds are in
 * t/fuzz/seed-json_fast/.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pz_json_fast.h"


#define FUZZ_NOW  1795000000


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static pz_schema_t      profiles, catalog;
static pz_json_fast_t  *fast;
static pz_row_t         a, b;


static void
fuzz_init(void)
{
    char         err[PZ_ERRLEN];
    size_t       i;
    static const struct { const char *name; int type; } cols[] = {
        { "segments", PZ_T_LIST }, { "first_name", PZ_T_STRING },
        { "orders", PZ_T_INT }, { "clv", PZ_T_DECIMAL },
        { "seen_at", PZ_T_TIME }, { "favourites", PZ_T_LIST },
        { "city", PZ_T_STRING }
    };

    for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        if (pz_schema_add(&profiles, cols[i].name, strlen(cols[i].name),
                          cols[i].type, err, sizeof(err))
            != 0)
        {
            fprintf(stderr, "fuzz_json_fast: %s\n", err);
            abort();
        }
    }

    pz_schema_sort(&profiles);
    pz_schema_catalog_default(&catalog);

    fast = pz_json_fast_new();
    if (fast == NULL) {
        abort();
    }

    pz_row_init(&a);
    pz_row_init(&b);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            kind, rc, jrc;
    size_t         i;
    json_t        *obj;
    json_error_t   jerr;
    const char    *line;
    const pz_schema_t  *s;

    if (fast == NULL) {
        fuzz_init();
    }

    if (size == 0) {
        return 0;
    }

    kind = (data[0] & 1) ? PZ_ROW_CATALOG : PZ_ROW_PROFILE;
    s = kind == PZ_ROW_CATALOG ? &catalog : &profiles;
    line = (const char *) data + 1;
    size--;

    rc = pz_json_fast_row(fast, &a, line, size, s, kind, FUZZ_NOW);

    obj = json_loadb(line, size, JSON_REJECT_DUPLICATES, &jerr);
    jrc = obj ? pz_json_to_row(&b, obj, s, kind, 0, FUZZ_NOW) : -1;

    if (rc != 0 && rc != 1) {
        abort();
    }

    if (rc == 0) {
        if (jrc != 0) {
            fprintf(stderr, "fast path took a line jansson refuses: %s\n",
                    obj ? b.err : jerr.text);
            abort();
        }

        if (a.id_len != b.id_len || memcmp(a.id, b.id, a.id_len) != 0
            || a.naliases != b.naliases
            || a.rec_len != b.rec_len
            || memcmp(a.rec, b.rec, a.rec_len) != 0
            || a.updated_at != b.updated_at)
        {
            fprintf(stderr, "fast path and jansson differ\n");
            abort();
        }

        for (i = 0; i < a.naliases; i++) {
            if (a.aliases[i].len != b.aliases[i].len
                || memcmp(a.aliases[i].data, b.aliases[i].data,
                          a.aliases[i].len) != 0)
            {
                fprintf(stderr, "fast path and jansson differ: alias %zu\n",
                        i);
                abort();
            }
        }
    }

    json_decref(obj);

    return 0;
}
