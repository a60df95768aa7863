/*
 * Unit tests of pz-load's fast JSON path (lmdb-tools/pz_json_fast.cc):
 * the plain lines of an export take it and build the record the jansson
 * path builds; every line that needs jansson's judgement is handed back.
 */

#include <stdio.h>
#include <string.h>

#include "pz_json_fast.h"
#include "unit.h"


#define NOW  1795000000

static pz_schema_t      schema;
static pz_json_fast_t  *fast;
static pz_row_t         a, b;


/* 0 or 1 from the fast path; when 0, the jansson path must agree */

static int
fast_row(const char *line)
{
    int           rc, jrc;
    json_t       *obj;
    json_error_t  jerr;

    rc = pz_json_fast_row(fast, &a, line, strlen(line), &schema,
                          PZ_ROW_PROFILE, NOW);

    if (rc != 0) {
        return rc;
    }

    obj = json_loadb(line, strlen(line), JSON_REJECT_DUPLICATES, &jerr);
    CHECK(obj != NULL, line);

    jrc = obj ? pz_json_to_row(&b, obj, &schema, PZ_ROW_PROFILE, 0, NOW) : -1;
    CHECK_EQ_INT(jrc, 0, line);

    if (jrc == 0) {
        CHECK_EQ_MEM(a.rec, a.rec_len, b.rec, b.rec_len, line);
        CHECK_EQ_MEM(a.id, a.id_len, b.id, b.id_len, line);
        CHECK_EQ_INT(a.naliases, b.naliases, line);
    }

    json_decref(obj);

    return rc;
}


int
main(void)
{
    char         err[PZ_ERRLEN], line[2048];
    size_t       i;
    pz_field_t   f;
    static const struct { const char *name; int type; } cols[] = {
        { "segments", PZ_T_LIST }, { "first_name", PZ_T_STRING },
        { "orders", PZ_T_INT }, { "clv", PZ_T_DECIMAL },
        { "seen_at", PZ_T_TIME }
    };
    static const char *handed_back[] = {
        "",
        "[]",
        "\xef\xbb\xbf{\"id\":\"c1\"}",                  /* byte-order mark */
        "{\"id\":\"c\\u00e9\"}",                        /* an escape */
        "{\"id\":\"c1\",\"first_name\":\"a\tb\"}",      /* raw control */
        "{\"id\":\"c1\",\"clv\":1.5}",                  /* a JSON real */
        "{\"id\":\"c1\",\"orders\":1e3}",
        "{\"id\":\"c1\",\"orders\":9223372036854775808}",
        "{\"id\":\"c1\",\"orders\":\"x\"}",
        "{\"id\":\"c1\",\"id\":\"c2\"}",                /* duplicate key */
        "{\"id\":\"c1\",\"orders\":1,\"orders\":2}",
        "{\"id\":\"c1\",\"colour\":\"red\"}",           /* unknown field */
        "{\"id\":\"\"}",
        "{\"id\":1}",
        "{\"id\":null}",
        "{\"first_name\":\"no id\"}",
        "{\"id\":\"c1\",\"aliases\":[\"c1\"]}",         /* its own id */
        "{\"id\":\"c1\",\"aliases\":[\"a\",\"a\"]}",
        "{\"id\":\"c1\",\"aliases\":[\"\"]}",
        "{\"id\":\"c1\",\"aliases\":\"a\"}",
        "{\"id\":\"c1\",\"segments\":[1]}",
        "{\"id\":\"c1\",\"segments\":\"vip\"}",
        "{\"id\":\"c1\",\"first_name\":3}",
        "{\"id\":\"c1\",\"seen_at\":\"yesterday\"}",
        "{\"id\":\"c1\",\"seen_at\":-1000000000000000000}",
        "{\"id\":\"c1\",\"_updated_at\":true}",
        "{\"id\":\"c1\"} x",
        "{\"id\":\"c1\",}",
    };

    for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        CHECK_EQ_INT(pz_schema_add(&schema, cols[i].name,
                                   strlen(cols[i].name), cols[i].type, err,
                                   sizeof(err)),
                     0, cols[i].name);
    }

    pz_schema_sort(&schema);

    fast = pz_json_fast_new();
    CHECK(fast != NULL, "a parser");
    pz_row_init(&a);
    pz_row_init(&b);

    /* an export's line takes the fast path, with the record jansson's */

    CHECK_EQ_INT(fast_row("{\"id\":\"c0000000001\",\"aliases\":[\"login:1\","
                          "\"email:9f2c\",\"cookie:2f00\"],\"segments\":"
                          "[\"runner\",\"app_user\",\"loyal\"],"
                          "\"first_name\":\"Milan\",\"orders\":24,"
                          "\"clv\":\"8684.41\",\"seen_at\":"
                          "\"2026-03-04T10:00:00Z\"}"),
                 0, "a typical line");

    CHECK_EQ_MEM(a.id, a.id_len, "c0000000001", 11, "its id");
    CHECK_EQ_INT(a.naliases, 3, "its aliases");
    CHECK_EQ_INT(a.updated_at, NOW, "no _updated_at: now");
    CHECK_EQ_INT(pz_record_find(a.rec, a.rec_len, "clv", 3, &f), PZ_OK,
                 "clv stored");
    CHECK_EQ_INT(pz_field_num(&f), 86844100, "clv scaled by 10^4");

    CHECK_EQ_INT(fast_row("  {\"id\":\"c2\",\"clv\":12,\"orders\":\"-4\","
                          "\"seen_at\":1700000000,\"first_name\":null,"
                          "\"aliases\":null,\"segments\":[],"
                          "\"_updated_at\":\"2026-01-01T00:00:00Z\"}  "),
                 0, "integers, nulls, an empty list, _updated_at");
    CHECK_EQ_INT(a.updated_at, 1767225600, "_updated_at from the line");

    CHECK_EQ_INT(fast_row("{\"id\":\"c3\",\"first_name\":\"J\xc3\xa9r\xc3\xb4me\"}"),
                 0, "UTF-8 in a string");

    /* a list longer than the item array was */
    i = (size_t) snprintf(line, sizeof(line), "{\"id\":\"c4\",\"segments\":[");
    while (i < sizeof(line) - 16) {
        i += (size_t) snprintf(line + i, sizeof(line) - i, "\"s%zu\",", i);
    }
    snprintf(line + i - 1, sizeof(line) - i + 1, "]}");
    CHECK_EQ_INT(fast_row(line), 0, "a long list");

    for (i = 0; i < sizeof(handed_back) / sizeof(handed_back[0]); i++) {
        CHECK_EQ_INT(fast_row(handed_back[i]), 1, handed_back[i]);
    }

    pz_json_fast_free(fast);
    pz_row_free(&a);
    pz_row_free(&b);

    return UNIT_DONE();
}
