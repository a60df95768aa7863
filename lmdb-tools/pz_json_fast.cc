/*
 * lmdb-tools: the fast path of pz-load's JSON lines (pz_json_fast.h).
 *
 * simdjson's DOM parser picks its kernel (AVX-512, AVX2, SSE4.2 or plain)
 * at run time and validates the whole line, UTF-8 included.  The walk
 * below mirrors pz_json_to_row() for csv 0 and takes the jansson path
 * (returns 1) wherever the two could differ; t/fuzz/fuzz_json_fast.cc
 * checks that both build the same record for every line the fast path
 * takes.
 */

#include <string.h>
#include <stdio.h>
#include <new>

#include <simdjson.h>

/* C headers without their own extern "C" */
extern "C" {
#include "pz_tool.h"
}

#include "pz_json_fast.h"


struct pz_json_fast_s {
    simdjson::dom::parser    parser;
    char                    *buf;
    size_t                   cap;
};


/* a list field's items, by index into row->items while it may move */
typedef struct {
    size_t                   field;
    size_t                   first;
} pz_fast_list_t;


static int pz_fast_value(pz_row_t *row, pz_field_in_t *f,
    const pz_col_t *col, simdjson::dom::element v);
static int pz_fast_list(pz_row_t *row, pz_field_in_t *f,
    simdjson::dom::element v, size_t *nitems);
static int pz_fast_aliases(pz_row_t *row, simdjson::dom::element v);


extern "C" pz_json_fast_t *
pz_json_fast_new(void)
{
    return new (std::nothrow) pz_json_fast_s();
}


extern "C" void
pz_json_fast_free(pz_json_fast_t *fp)
{
    if (fp != NULL) {
        free(fp->buf);
        delete fp;
    }
}


extern "C" int
pz_json_fast_row(pz_json_fast_t *fp, pz_row_t *row, const char *line,
    size_t len, const pz_schema_t *s, int kind, int64_t now)
{
    int                      have_id, have_aliases, have_updated;
    char                    *buf;
    size_t                   i, k, n, nlists, nitems;
    unsigned char            bad, seen[PZ_FIELDS_MAX];
    const pz_col_t          *c;
    pz_field_in_t           *f;
    pz_fast_list_t           lists[PZ_FIELDS_MAX];
    simdjson::dom::element   doc;
    simdjson::dom::object    obj;
    std::string_view         key, id;

    /*
     * Escapes and control characters (jansson refuses \u0000 and raw
     * control characters; tabs are rare enough) go the other way; so does
     * anything but an object, a byte-order mark included.
     */

    bad = 0;

    for (i = 0; i < len; i++) {
        bad |= (unsigned char) line[i] < 0x20 || line[i] == '\\';
    }

    for (i = 0; i < len && line[i] == ' '; i++) { /* void */ }

    if (bad || i == len || line[i] != '{') {
        return 1;
    }

    if (fp->cap < len + simdjson::SIMDJSON_PADDING) {
        n = len + simdjson::SIMDJSON_PADDING + 4096;
        buf = (char *) realloc(fp->buf, n);
        if (buf == NULL) {
            return 1;
        }

        fp->buf = buf;
        fp->cap = n;
    }

    memcpy(fp->buf, line, len);
    memset(fp->buf + len, 0, simdjson::SIMDJSON_PADDING);

    if (fp->parser.parse(fp->buf, len, false).get(doc)
        || doc.get_object().get(obj))
    {
        return 1;
    }

    row->err[0] = '\0';
    row->nfields = 0;
    row->naliases = 0;
    row->nums_len = 0;
    row->updated_at = now;

    memset(seen, 0, s->n);
    have_id = 0;
    have_aliases = 0;
    have_updated = 0;
    nlists = 0;
    nitems = 0;

    for (simdjson::dom::key_value_pair kv : obj) {
        key = kv.key;

        if (key == "id") {
            if (have_id++ || kv.value.get_string().get(id)) {
                return 1;
            }

            continue;
        }

        if (kind == PZ_ROW_PROFILE && key == "aliases") {
            if (have_aliases++ || pz_fast_aliases(row, kv.value) != 0) {
                return 1;
            }

            continue;
        }

        if (kind == PZ_ROW_PROFILE && key == PZ_FIELD_UPDATED_AT) {
            pz_col_t  col;

            if (have_updated++) {
                return 1;
            }

            if (kv.value.is_null()) {
                continue;
            }

            col.type = PZ_T_TIME;
            f = &row->fields[row->nfields];

            if (pz_fast_value(row, f, &col, kv.value) != 0) {
                return 1;
            }

            row->updated_at = f->num;
            continue;
        }

        c = pz_schema_find(s, key.data(), key.size());

        if (c == NULL || seen[c - s->cols]++) {
            return 1;
        }

        if (kv.value.is_null()) {
            continue;
        }

        f = &row->fields[row->nfields];
        memset(f, 0, sizeof(pz_field_in_t));
        f->name.data = (const unsigned char *) c->name;
        f->name.len = c->len;
        f->type = c->type;

        if (c->type == PZ_T_LIST) {
            lists[nlists].field = row->nfields;
            lists[nlists].first = nitems;
            nlists++;

            if (pz_fast_list(row, f, kv.value, &nitems) != 0) {
                return 1;
            }

        } else if (pz_fast_value(row, f, c, kv.value) != 0) {
            return 1;
        }

        row->nfields++;
    }

    if (!have_id || id.size() == 0 || id.size() > PZ_ID_MAX) {
        return 1;
    }

    row->id = id.data();
    row->id_len = id.size();

    /* the checks pz_json_to_row() makes of the aliases, which it reads
     * after the id */

    for (i = 0; i < row->naliases; i++) {
        if (row->aliases[i].len == row->id_len
            && memcmp(row->aliases[i].data, row->id, row->id_len) == 0)
        {
            return 1;
        }

        for (k = 0; k < i; k++) {
            if (row->aliases[k].len == row->aliases[i].len
                && memcmp(row->aliases[k].data, row->aliases[i].data,
                          row->aliases[i].len) == 0)
            {
                return 1;
            }
        }
    }

    for (i = 0; i < nlists; i++) {
        row->fields[lists[i].field].items = &row->items[lists[i].first];
    }

    return pz_row_finish(row, kind) == 0 ? 0 : 1;
}


/* a scalar: 0, or 1 where pz_value() would do more than this */

static int
pz_fast_value(pz_row_t *row, pz_field_in_t *f, const pz_col_t *col,
    simdjson::dom::element v)
{
    int               rc;
    char              text[32];
    int64_t           num;
    std::string_view  str;

    (void) row;

    if (v.is_int64()) {
        num = v.get_int64().value_unsafe();

        if (col->type == PZ_T_INT
            || (col->type == PZ_T_TIME && num > -1000000000000000000LL))
        {
            f->num = num;
            return 0;
        }

        if (col->type != PZ_T_DECIMAL) {
            return 1;
        }

        /* pz_num_text() of a JSON integer */
        rc = snprintf(text, sizeof(text), "%lld", (long long) num);

        return pz_decimal_parse(text, (size_t) rc, &f->num) != 0;
    }

    if (!v.is_string()) {
        return 1;
    }

    str = v.get_string().value_unsafe();

    switch (col->type) {

    case PZ_T_STRING:
        if (str.size() > PZ_VALUE_MAX) {
            return 1;
        }

        f->str.data = (const unsigned char *) str.data();
        f->str.len = str.size();
        return 0;

    case PZ_T_INT:
        return pz_int_parse(str.data(), str.size(), &f->num) != 0;

    case PZ_T_DECIMAL:
        return pz_decimal_parse(str.data(), str.size(), &f->num) != 0;

    case PZ_T_TIME:
        return pz_time_parse(str.data(), str.size(), &f->num) != 0;
    }

    return 1;
}


static int
pz_fast_list(pz_row_t *row, pz_field_in_t *f, simdjson::dom::element v,
    size_t *nitems)
{
    simdjson::dom::array  arr;
    std::string_view      str;

    if (v.get_array().get(arr) || arr.size() > PZ_LIST_MAX) {
        return 1;
    }

    if (pz_row_items_reserve(row, *nitems + arr.size() + 1) != 0) {
        return 1;
    }

    f->nitems = arr.size();

    for (simdjson::dom::element item : arr) {
        if (item.get_string().get(str) || str.size() > PZ_ITEM_MAX) {
            return 1;
        }

        row->items[*nitems].data = (const unsigned char *) str.data();
        row->items[*nitems].len = str.size();
        (*nitems)++;
    }

    return 0;
}


static int
pz_fast_aliases(pz_row_t *row, simdjson::dom::element v)
{
    simdjson::dom::array  arr;
    std::string_view      str;

    if (v.is_null()) {
        return 0;
    }

    if (v.get_array().get(arr) || arr.size() > PZ_LIST_MAX) {
        return 1;
    }

    for (simdjson::dom::element item : arr) {
        if (item.get_string().get(str)
            || str.size() == 0 || str.size() > PZ_ID_MAX)
        {
            return 1;
        }

        row->aliases[row->naliases].data = (const unsigned char *) str.data();
        row->aliases[row->naliases].len = str.size();
        row->naliases++;
    }

    return 0;
}
