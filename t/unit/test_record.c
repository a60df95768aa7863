/*
 * Unit tests of the record format (ngx_personalize_record.c): round trip
 * of every type, every error code, truncation at every length, bounds,
 * and the text forms of decimals, times and ints.
 */

#include <stdlib.h>

#include "unit.h"
#include "ngx_personalize_record.h"


#define B(s)  { (const unsigned char *) (s), sizeof(s) - 1 }


static unsigned char  rec[PZ_RECORD_MAX + 64];


static size_t
build_sample(unsigned char *out, size_t cap)
{
    int            err;
    size_t         n;
    pz_field_in_t  f[6];

    static const pz_bytes_t  segs[] = { B("vip"), B("cart_abandoned"),
                                        B("") };

    memset(f, 0, sizeof(f));

    /* deliberately unsorted: build sorts */
    f[0].name = (pz_bytes_t) B("segments");
    f[0].type = PZ_T_LIST;
    f[0].items = segs;
    f[0].nitems = 3;

    f[1].name = (pz_bytes_t) B("first_name");
    f[1].type = PZ_T_STRING;
    f[1].str = (pz_bytes_t) B("Anna");

    f[2].name = (pz_bytes_t) B("clv");
    f[2].type = PZ_T_DECIMAL;
    f[2].num = 12345000;

    f[3].name = (pz_bytes_t) B("orders");
    f[3].type = PZ_T_INT;
    f[3].num = -42;

    f[4].name = (pz_bytes_t) B("cart_abandoned_at");
    f[4].type = PZ_T_TIME;
    f[4].num = 1795341600;

    f[5].name = (pz_bytes_t) B("empty");
    f[5].type = PZ_T_STRING;
    f[5].str.data = NULL;
    f[5].str.len = 0;

    n = pz_record_build(f, 6, out, cap, &err, NULL);

    CHECK_EQ_INT(err, PZ_OK, "sample builds");

    return n;
}


static void
test_round_trip(void)
{
    size_t       len, pos, i;
    pz_field_t   f;
    pz_bytes_t   item;
    const char  *names[] = { "cart_abandoned_at", "clv", "empty",
                             "first_name", "orders", "segments" };

    len = build_sample(rec, sizeof(rec));

    CHECK(len > 0, "sample has a size");
    CHECK_EQ_INT(pz_record_check(rec, len), PZ_OK, "sample checks");
    CHECK_EQ_INT(pz_record_nfields(rec, len), 6, "six fields");

    for (i = 0; i < 6; i++) {
        CHECK_EQ_INT(pz_record_field_at(rec, len, i, &f), PZ_OK,
                     "field_at");
        CHECK_EQ_MEM(f.name.data, f.name.len, names[i], strlen(names[i]),
                     "fields sorted by name");
    }

    CHECK_EQ_INT(pz_record_field_at(rec, len, 6, &f), PZ_ERR_NOT_FOUND,
                 "field_at past the end");

    CHECK_EQ_INT(pz_record_find(rec, len, "first_name", 10, &f), PZ_OK,
                 "find string");
    CHECK_EQ_INT(f.type, PZ_T_STRING, "string type");
    CHECK_EQ_MEM(f.value.data, f.value.len, "Anna", 4, "string value");
    CHECK_EQ_INT(pz_field_num(&f), 0, "num of a string is 0");
    CHECK_EQ_INT(pz_list_count(&f), 0, "count of a string is 0");

    CHECK_EQ_INT(pz_record_find(rec, len, "clv", 3, &f), PZ_OK,
                 "find decimal");
    CHECK_EQ_INT(f.type, PZ_T_DECIMAL, "decimal type");
    CHECK_EQ_INT(pz_field_num(&f), 12345000, "decimal value");

    CHECK_EQ_INT(pz_record_find(rec, len, "orders", 6, &f), PZ_OK,
                 "find int");
    CHECK_EQ_INT(f.type, PZ_T_INT, "int type");
    CHECK_EQ_INT(pz_field_num(&f), -42, "negative int value");

    CHECK_EQ_INT(pz_record_find(rec, len, "cart_abandoned_at", 17, &f),
                 PZ_OK, "find time");
    CHECK_EQ_INT(f.type, PZ_T_TIME, "time type");
    CHECK_EQ_INT(pz_field_num(&f), 1795341600, "time value");

    CHECK_EQ_INT(pz_record_find(rec, len, "empty", 5, &f), PZ_OK,
                 "find empty string");
    CHECK_EQ_INT(f.value.len, 0, "empty string value");

    CHECK_EQ_INT(pz_record_find(rec, len, "segments", 8, &f), PZ_OK,
                 "find list");
    CHECK_EQ_INT(f.type, PZ_T_LIST, "list type");
    CHECK_EQ_INT(pz_list_count(&f), 3, "list count");
    CHECK_EQ_INT(pz_field_num(&f), 0, "num of a list is 0");

    pos = 0;
    CHECK_EQ_INT(pz_list_next(&f, &pos, &item), 1, "list item 1");
    CHECK_EQ_MEM(item.data, item.len, "vip", 3, "list item 1 value");
    CHECK_EQ_INT(pz_list_next(&f, &pos, &item), 1, "list item 2");
    CHECK_EQ_MEM(item.data, item.len, "cart_abandoned", 14,
                 "list item 2 value");
    CHECK_EQ_INT(pz_list_next(&f, &pos, &item), 1, "list item 3");
    CHECK_EQ_INT(item.len, 0, "list item 3 empty");
    CHECK_EQ_INT(pz_list_next(&f, &pos, &item), 0, "list end");
    CHECK_EQ_INT(pz_list_next(&f, &pos, &item), 0, "list stays at end");

    CHECK_EQ_INT(pz_record_find(rec, len, "nope", 4, &f), PZ_ERR_NOT_FOUND,
                 "find missing");
    CHECK_EQ_INT(pz_record_find(rec, len, "a", 1, &f), PZ_ERR_NOT_FOUND,
                 "find before first");
    CHECK_EQ_INT(pz_record_find(rec, len, "zz", 2, &f), PZ_ERR_NOT_FOUND,
                 "find after last");
    CHECK_EQ_INT(pz_record_find(rec, len, "clvx", 4, &f), PZ_ERR_NOT_FOUND,
                 "find prefix-longer name");
    CHECK_EQ_INT(pz_record_find(rec, len, "cl", 2, &f), PZ_ERR_NOT_FOUND,
                 "find prefix-shorter name");
}


static void
test_empty_record(void)
{
    int         err;
    size_t      len;
    pz_field_t  f;

    len = pz_record_build(NULL, 0, rec, sizeof(rec), &err, NULL);

    CHECK_EQ_INT(len, PZ_RECORD_HEADER_SIZE, "empty record is a header");
    CHECK_EQ_INT(pz_record_check(rec, len), PZ_OK, "empty record checks");
    CHECK_EQ_INT(pz_record_nfields(rec, len), 0, "no fields");
    CHECK_EQ_INT(pz_record_find(rec, len, "x", 1, &f), PZ_ERR_NOT_FOUND,
                 "nothing found in an empty record");
}


static void
test_truncation(void)
{
    int         rc, bad;
    size_t      len, i, j;
    pz_field_t  f;

    len = build_sample(rec, sizeof(rec));

    /* every shorter prefix fails the check and never reads past it */

    bad = 0;

    for (i = 0; i < len; i++) {
        unsigned char  *copy = malloc(i ? i : 1);

        memcpy(copy, rec, i);

        if (pz_record_check(copy, i) == PZ_OK) {
            bad++;
        }

        for (j = 0; j < 8; j++) {
            (void) pz_record_field_at(copy, i, j, &f);
        }

        rc = pz_record_find(copy, i, "segments", 8, &f);
        if (rc == PZ_OK) {
            size_t      pos = 0;
            pz_bytes_t  item;

            while (pz_list_next(&f, &pos, &item)) {
                /* void */
            }
        }

        free(copy);
    }

    CHECK_EQ_INT(bad, 0, "no truncation of the sample checks");
    CHECK_EQ_INT(pz_record_check(rec, 0), PZ_ERR_SHORT, "empty is short");
    CHECK_EQ_INT(pz_record_check(rec, 7), PZ_ERR_SHORT, "7 bytes short");
    CHECK_EQ_INT(pz_record_check(rec, 8 + 12 * 6 - 1), PZ_ERR_SHORT,
                 "index cut short");
    CHECK_EQ_INT(pz_record_check(NULL, 100), PZ_ERR_SHORT, "NULL is short");
    CHECK_EQ_INT(pz_record_nfields(rec, 5), 0, "nfields of a short record");
    CHECK_EQ_INT(pz_record_check(rec, len - 1), PZ_ERR_LIST,
                 "last list cut by one byte");
}


static void
test_errors(void)
{
    size_t          len;
    pz_field_t      f;
    unsigned char   c[512];

    len = build_sample(rec, sizeof(rec));

    memcpy(c, rec, len);
    c[0] = 'X';
    CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_MAGIC, "bad magic");
    CHECK_EQ_INT(pz_record_find(c, len, "clv", 3, &f), PZ_ERR_MAGIC,
                 "find with bad magic");

    memcpy(c, rec, len);
    c[2] = 2;
    CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_VERSION, "bad version");

    memcpy(c, rec, len);
    c[3] = 1;
    CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_VERSION, "flags set");

    memcpy(c, rec, len);
    c[6] = 1;
    CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_VERSION,
                 "header reserved set");

    /* nfields beyond the limit */
    memcpy(c, rec, len);
    c[4] = 0xff;
    c[5] = 0xff;
    CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_BOUNDS, "too many fields");

    /* name offset outside */
    memcpy(c, rec, len);
    c[8 + 3] = 0x7f;
    CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_BOUNDS,
                 "name offset outside");
    CHECK_EQ_INT(pz_record_field_at(c, len, 0, &f), PZ_ERR_BOUNDS,
                 "field_at name offset outside");

    /* name offset into the index */
    memcpy(c, rec, len);
    c[8] = 0;
    CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_BOUNDS,
                 "name offset into the index");

    /* empty name */
    memcpy(c, rec, len);
    c[8 + 4] = 0;
    CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_NAME, "empty name");

    memcpy(c, rec, len);
    c[8 + 4] = PZ_NAME_MAX + 1;
    CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_NAME, "name too long");

    /* unknown type */
    memcpy(c, rec, len);
    c[8 + 5] = 9;
    CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_TYPE, "unknown type");

    memcpy(c, rec, len);
    c[8 + 5] = 0;
    CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_TYPE, "type zero");

    /* index reserved bytes */
    memcpy(c, rec, len);
    c[8 + 6] = 1;
    CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_TYPE,
                 "index reserved set");

    /* an int with a string's value: wrong size for the type */
    memcpy(c, rec, len);
    c[8 + 12 * 3 + 5] = PZ_T_INT;          /* first_name: 4 bytes */
    CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_TYPE, "int of 4 bytes");
    CHECK_EQ_INT(pz_record_find(c, len, "first_name", 10, &f), PZ_ERR_TYPE,
                 "find int of 4 bytes");

    /* a string as a list: items do not add up */
    memcpy(c, rec, len);
    c[8 + 12 * 3 + 5] = PZ_T_LIST;
    CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_LIST, "string as list");

    /* list count too high */
    memcpy(c, rec, len);
    c[len - 1 - 2 - 14 - 2 - 3 - 2 - 3] = 4;
    CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_LIST, "list count 4 of 3");

    /* value offsets out of order */
    memcpy(c, rec, len);
    c[8 + 12 + 8] = 0xff;
    c[8 + 12 + 9] = 0x7f;
    CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_BOUNDS, "value offset out");

    /* names out of order: swap the first two names' letters */
    memcpy(c, rec, len);
    {
        size_t  noff = 8 + 12 * 6;

        c[noff] = 'd';                     /* "dart_abandoned_at" > "clv" */
        CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_ORDER,
                     "names unsorted");

        c[noff] = 'c';
        memcpy(c + noff + 17, "car", 3);   /* "car" < "cart_abandoned_at" */
        CHECK_EQ_INT(pz_record_check(c, len), PZ_ERR_ORDER,
                     "name prefix sorts first");
    }

    /* a record with bytes after the last value but a short last list */
    memcpy(c, rec, len);
    c[len] = 0;
    CHECK_EQ_INT(pz_record_check(c, len + 1), PZ_ERR_LIST,
                 "trailing byte after the list");

    CHECK_EQ_INT(pz_record_check(rec, PZ_RECORD_MAX + 1), PZ_ERR_BOUNDS,
                 "over the record maximum");
}


static void
test_build_errors(void)
{
    int            err;
    size_t         n, needed;
    pz_field_in_t  f[2];
    pz_bytes_t     item;
    static unsigned char  big[PZ_ITEM_MAX + 2];
    static pz_bytes_t     items[PZ_LIST_MAX + 1];

    memset(f, 0, sizeof(f));
    f[0].name = (pz_bytes_t) B("a");
    f[0].type = PZ_T_STRING;
    f[0].str = (pz_bytes_t) B("hello");

    needed = 0;
    n = pz_record_build(f, 1, rec, 10, &err, &needed);
    CHECK_EQ_INT(n, 0, "no space: size 0");
    CHECK_EQ_INT(err, PZ_ERR_SPACE, "no space: error");
    CHECK_EQ_INT(needed, 8 + 12 + 1 + 5, "no space: needed");

    n = pz_record_build(f, 1, rec, needed, &err, NULL);
    CHECK_EQ_INT(n, needed, "exact space builds");

    n = pz_record_build(f, 1, NULL, 0, &err, &needed);
    CHECK_EQ_INT(err, PZ_ERR_SPACE, "size query with NULL");

    f[0].name.len = 0;
    n = pz_record_build(f, 1, rec, sizeof(rec), &err, NULL);
    CHECK_EQ_INT(err, PZ_ERR_NAME, "empty name refused");

    f[0].name.data = big;
    f[0].name.len = PZ_NAME_MAX + 1;
    memset(big, 'n', sizeof(big));
    n = pz_record_build(f, 1, rec, sizeof(rec), &err, NULL);
    CHECK_EQ_INT(err, PZ_ERR_NAME, "long name refused");

    f[0].name.len = PZ_NAME_MAX;
    n = pz_record_build(f, 1, rec, sizeof(rec), &err, NULL);
    CHECK_EQ_INT(err, PZ_OK, "name of the maximum length");
    CHECK_EQ_INT(pz_record_check(rec, n), PZ_OK, "long name checks");

    f[0].name = (pz_bytes_t) B("a");
    f[1] = f[0];
    n = pz_record_build(f, 2, rec, sizeof(rec), &err, NULL);
    CHECK_EQ_INT(err, PZ_ERR_ORDER, "duplicate name refused");

    f[0].type = 77;
    n = pz_record_build(f, 1, rec, sizeof(rec), &err, NULL);
    CHECK_EQ_INT(err, PZ_ERR_TYPE, "unknown type refused");

    f[0].type = PZ_T_LIST;
    item.data = big;
    item.len = PZ_ITEM_MAX + 1;
    f[0].items = &item;
    f[0].nitems = 1;
    n = pz_record_build(f, 1, rec, sizeof(rec), &err, NULL);
    CHECK_EQ_INT(err, PZ_ERR_LIMIT, "item too long refused");

    item.len = PZ_ITEM_MAX;
    n = pz_record_build(f, 1, rec, sizeof(rec), &err, NULL);
    CHECK_EQ_INT(err, PZ_OK, "item of the maximum length");
    CHECK_EQ_INT(pz_record_check(rec, n), PZ_OK, "long item checks");

    f[0].items = items;
    f[0].nitems = PZ_LIST_MAX + 1;
    n = pz_record_build(f, 1, rec, sizeof(rec), &err, NULL);
    CHECK_EQ_INT(err, PZ_ERR_LIMIT, "list too long refused");

    f[0].nitems = PZ_LIST_MAX;
    n = pz_record_build(f, 1, rec, sizeof(rec), &err, NULL);
    CHECK_EQ_INT(err, PZ_OK, "list of the maximum length");
    CHECK_EQ_INT(pz_record_check(rec, n), PZ_OK, "long list checks");

    f[0].type = PZ_T_STRING;
    f[0].str.data = rec;
    f[0].str.len = PZ_VALUE_MAX + 1;
    n = pz_record_build(f, 1, rec + 70000, sizeof(rec) - 70000, &err, NULL);
    CHECK_EQ_INT(err, PZ_ERR_LIMIT, "string too long refused");

    n = pz_record_build(f, PZ_FIELDS_MAX + 1, rec, sizeof(rec), &err, NULL);
    CHECK_EQ_INT(err, PZ_ERR_LIMIT, "too many fields refused");
}


static void
test_many_fields(void)
{
    int            err, missing;
    char           names[PZ_FIELDS_MAX][8];
    size_t         i, n;
    pz_field_t     f;
    pz_field_in_t  in[PZ_FIELDS_MAX];

    for (i = 0; i < PZ_FIELDS_MAX; i++) {
        /* reverse order on input */
        snprintf(names[i], sizeof(names[i]), "f%03zu",
                 PZ_FIELDS_MAX - 1 - i);
        memset(&in[i], 0, sizeof(in[i]));
        in[i].name.data = (unsigned char *) names[i];
        in[i].name.len = 4;
        in[i].type = PZ_T_INT;
        in[i].num = (int64_t) (PZ_FIELDS_MAX - 1 - i) * 1000;
    }

    n = pz_record_build(in, PZ_FIELDS_MAX, rec, sizeof(rec), &err, NULL);
    CHECK_EQ_INT(err, PZ_OK, "256 fields build");
    CHECK_EQ_INT(pz_record_check(rec, n), PZ_OK, "256 fields check");

    missing = 0;

    for (i = 0; i < PZ_FIELDS_MAX; i++) {
        char  name[8];

        snprintf(name, sizeof(name), "f%03zu", i);

        if (pz_record_find(rec, n, name, 4, &f) != PZ_OK
            || pz_field_num(&f) != (int64_t) i * 1000)
        {
            missing++;
        }
    }

    CHECK_EQ_INT(missing, 0, "every one of 256 fields found by search");
}


static void
test_decimal(void)
{
    char     buf[PZ_DECIMAL_LEN];
    size_t   i, n;
    int64_t  v;

    static const struct {
        const char  *in;
        int64_t      v;
        const char  *out;
    } ok[] = {
        { "0", 0, "0" },
        { "1234.50", 12345000, "1234.5" },
        { "-12.5", -125000, "-12.5" },
        { "+3", 30000, "3" },
        { "0.0001", 1, "0.0001" },
        { "-0.0001", -1, "-0.0001" },
        { "19.95", 199500, "19.95" },
        { "1.230000", 12300, "1.23" },
        { "922337203685477.5807", INT64_MAX, "922337203685477.5807" },
        { "-922337203685477.5808", INT64_MIN, "-922337203685477.5808" },
    };

    static const char  *bad[] = {
        "", "-", "+", ".5", "1.", "1.2.3", "abc", "1e5", " 1", "1 ",
        "0.00001", "922337203685477.5808", "-922337203685477.5809",
        "99999999999999999999", "1,5", "--1",
    };

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        v = 7;
        CHECK_EQ_INT(pz_decimal_parse(ok[i].in, strlen(ok[i].in), &v), 0,
                     ok[i].in);
        CHECK_EQ_INT(v, ok[i].v, ok[i].in);
        n = pz_decimal_format(v, buf);
        CHECK_EQ_MEM(buf, n, ok[i].out, strlen(ok[i].out), ok[i].in);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ_INT(pz_decimal_parse(bad[i], strlen(bad[i]), &v), -1,
                     bad[i]);
    }
}


static void
test_time(void)
{
    char     buf[PZ_TIME_LEN];
    size_t   i, n;
    int64_t  t;

    static const struct {
        const char  *in;
        int64_t      t;
        const char  *out;
    } ok[] = {
        { "1970-01-01T00:00:00Z", 0, "1970-01-01T00:00:00Z" },
        { "2026-11-22T10:00:00Z", 1795341600, "2026-11-22T10:00:00Z" },
        { "2000-02-29T23:59:59Z", 951868799, "2000-02-29T23:59:59Z" },
        { "1969-12-31T23:59:59Z", -1, "1969-12-31T23:59:59Z" },
        { "0000-01-01T00:00:00Z", -62167219200LL, "0000-01-01T00:00:00Z" },
        { "9999-12-31T23:59:59Z", 253402300799LL, "9999-12-31T23:59:59Z" },
        { "1795341600", 1795341600, "2026-11-22T10:00:00Z" },
        { "-86400", -86400, "1969-12-31T00:00:00Z" },
        { "253402300800", 253402300800LL, "253402300800" },
    };

    static const char  *bad[] = {
        "", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z", "2026-01-32T00:00:00Z",
        "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:60Z", "2026-01-01 00:00:00Z",
        "2026-01-01T00:00:00", "2026-01-01T00:00:00+01:00",
        "2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z",
        "2O26-01-01T00:00:00Z", "yesterday", "12.5",
    };

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        t = 7;
        CHECK_EQ_INT(pz_time_parse(ok[i].in, strlen(ok[i].in), &t), 0,
                     ok[i].in);
        CHECK_EQ_INT(t, ok[i].t, ok[i].in);
        n = pz_time_format(t, buf);
        CHECK_EQ_MEM(buf, n, ok[i].out, strlen(ok[i].out), ok[i].in);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ_INT(pz_time_parse(bad[i], strlen(bad[i]), &t), -1, bad[i]);
    }

    /* every day of 400 years formats and parses back */
    n = 0;

    for (t = -62167219200LL; t < -62167219200LL + 146097LL * 86400;
         t += 86400 + 3661)
    {
        int64_t  back;
        size_t   len = pz_time_format(t, buf);

        if (pz_time_parse(buf, len, &back) != 0 || back != t) {
            n++;
        }
    }

    CHECK_EQ_INT(n, 0, "400 years of days round trip");

    n = pz_time_format(INT64_MIN, buf);
    CHECK_EQ_STR(buf, "-9223372036854775808", "INT64_MIN as epoch");
}


static void
test_int(void)
{
    int64_t  v;

    CHECK_EQ_INT(pz_int_parse("42", 2, &v), 0, "int 42");
    CHECK_EQ_INT(v, 42, "int 42 value");
    CHECK_EQ_INT(pz_int_parse("-9223372036854775808", 20, &v), 0,
                 "int min");
    CHECK_EQ_INT(v, INT64_MIN, "int min value");
    CHECK_EQ_INT(pz_int_parse("9223372036854775807", 19, &v), 0, "int max");
    CHECK_EQ_INT(v, INT64_MAX, "int max value");
    CHECK_EQ_INT(pz_int_parse("9223372036854775808", 19, &v), -1,
                 "int overflow");
    CHECK_EQ_INT(pz_int_parse("-9223372036854775809", 20, &v), -1,
                 "int underflow");
    CHECK_EQ_INT(pz_int_parse("", 0, &v), -1, "int empty");
    CHECK_EQ_INT(pz_int_parse("-", 1, &v), -1, "int sign only");
    CHECK_EQ_INT(pz_int_parse("1.0", 3, &v), -1, "int with a point");
    CHECK_EQ_INT(pz_int_parse("0x10", 4, &v), -1, "int hex");
}


static void
test_names(void)
{
    int  t;

    for (t = PZ_T_STRING; t <= PZ_T_LIST; t++) {
        const char  *name = pz_type_name(t);

        CHECK_EQ_INT(pz_type_parse(name, strlen(name)), t,
                     "type name round trip");
    }

    CHECK_EQ_STR(pz_type_name(0), "unknown", "type 0 unknown");
    CHECK_EQ_INT(pz_type_parse("float", 5), 0, "float is no type");
    CHECK_EQ_INT(pz_type_parse("str", 3), 0, "prefix is no type");

    for (t = PZ_OK; t <= PZ_ERR_LIMIT; t++) {
        CHECK(strcmp(pz_strerror(t), "unknown error") != 0,
              "every error has a text");
    }

    CHECK_EQ_STR(pz_strerror(999), "unknown error", "unknown error text");
}


int
main(void)
{
    test_round_trip();
    test_empty_record();
    test_truncation();
    test_errors();
    test_build_errors();
    test_many_fields();
    test_decimal();
    test_time();
    test_int();
    test_names();

    return UNIT_DONE();
}
