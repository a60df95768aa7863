/*
 * ngx_personalize record format: encoder, validator and field reader.
 *
 * Plain C, no nginx includes and no allocation: the nginx module reads
 * records with it inside a read transaction, the lmdb-tools write them.
 * Every reading function is safe on arbitrary bytes: offsets are checked
 * before they are followed, so a corrupt record yields an error, never a
 * read outside the record.
 *
 * pz_record_check() accepts only the canonical layout that
 * pz_record_build() writes (names and values back to back, in index
 * order, reserved bytes zero), so a checked record rebuilds to the same
 * bytes.
 */

#include <stdlib.h>
#include <string.h>

#include "ngx_personalize_record.h"


typedef struct {
    uint32_t              name_off;
    uint32_t              name_len;
    uint32_t              type;
    uint32_t              reserved;
    uint32_t              value_off;
} pz_index_t;


static uint16_t pz_get16(const unsigned char *p);
static uint32_t pz_get32(const unsigned char *p);
static void pz_put16(unsigned char *p, uint16_t v);
static void pz_put32(unsigned char *p, uint32_t v);
static void pz_put64(unsigned char *p, uint64_t v);
static void pz_index_read(const unsigned char *rec, size_t i, pz_index_t *ix);
static int pz_header(const unsigned char *rec, size_t len, size_t *nfields);
static int pz_entry(const unsigned char *rec, size_t len, size_t n, size_t i,
    pz_field_t *f);
static int pz_value_check(int type, const unsigned char *v, size_t len);
static int pz_name_cmp(const unsigned char *a, size_t alen,
    const unsigned char *b, size_t blen);
static int pz_field_in_cmp(const void *a, const void *b);
static int64_t pz_days_from_civil(int64_t y, unsigned m, unsigned d);
static void pz_civil_from_days(int64_t z, int64_t *y, unsigned *m,
    unsigned *d);


static const char  *pz_type_names[] = {
    NULL, "string", "int", "decimal", "time", "list"
};


static uint16_t
pz_get16(const unsigned char *p)
{
    return (uint16_t) (p[0] | (p[1] << 8));
}


static uint32_t
pz_get32(const unsigned char *p)
{
    return (uint32_t) p[0] | ((uint32_t) p[1] << 8)
           | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}


static void
pz_put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char) v;
    p[1] = (unsigned char) (v >> 8);
}


static void
pz_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) v;
    p[1] = (unsigned char) (v >> 8);
    p[2] = (unsigned char) (v >> 16);
    p[3] = (unsigned char) (v >> 24);
}


static void
pz_put64(unsigned char *p, uint64_t v)
{
    int  i;

    for (i = 0; i < 8; i++) {
        p[i] = (unsigned char) (v >> (8 * i));
    }
}


static void
pz_index_read(const unsigned char *rec, size_t i, pz_index_t *ix)
{
    const unsigned char  *p;

    p = rec + PZ_RECORD_HEADER_SIZE + i * PZ_RECORD_INDEX_SIZE;

    ix->name_off = pz_get32(p);
    ix->name_len = p[4];
    ix->type = p[5];
    ix->reserved = pz_get16(p + 6);
    ix->value_off = pz_get32(p + 8);
}


/* the header and the presence of the whole index */

static int
pz_header(const unsigned char *rec, size_t len, size_t *nfields)
{
    size_t  n;

    if (rec == NULL || len < PZ_RECORD_HEADER_SIZE) {
        return PZ_ERR_SHORT;
    }

    if (rec[0] != 'P' || rec[1] != 'Z') {
        return PZ_ERR_MAGIC;
    }

    /* flags and reserved bytes are part of the version contract */
    if (rec[2] != PZ_RECORD_VERSION || rec[3] != 0
        || pz_get16(rec + 6) != 0)
    {
        return PZ_ERR_VERSION;
    }

    if (len > PZ_RECORD_MAX) {
        return PZ_ERR_BOUNDS;
    }

    n = pz_get16(rec + 4);

    if (n > PZ_FIELDS_MAX) {
        return PZ_ERR_BOUNDS;
    }

    if (len < PZ_RECORD_HEADER_SIZE + n * PZ_RECORD_INDEX_SIZE) {
        return PZ_ERR_SHORT;
    }

    *nfields = n;

    return PZ_OK;
}


/* field i of n: bounds checked, value extent up to the next value */

static int
pz_entry(const unsigned char *rec, size_t len, size_t n, size_t i,
    pz_field_t *f)
{
    size_t      start, end;
    pz_index_t  ix, next;

    pz_index_read(rec, i, &ix);

    if (ix.name_len == 0 || ix.name_len > PZ_NAME_MAX) {
        return PZ_ERR_NAME;
    }

    if (ix.name_off < PZ_RECORD_HEADER_SIZE + n * PZ_RECORD_INDEX_SIZE
        || (size_t) ix.name_off + ix.name_len > len)
    {
        return PZ_ERR_BOUNDS;
    }

    if (ix.type < PZ_T_STRING || ix.type > PZ_T_LIST || ix.reserved != 0) {
        return PZ_ERR_TYPE;
    }

    start = ix.value_off;

    if (i + 1 < n) {
        pz_index_read(rec, i + 1, &next);
        end = next.value_off;

    } else {
        end = len;
    }

    if (start > end || end > len
        || start < PZ_RECORD_HEADER_SIZE + n * PZ_RECORD_INDEX_SIZE)
    {
        return PZ_ERR_BOUNDS;
    }

    f->name.data = rec + ix.name_off;
    f->name.len = ix.name_len;
    f->type = (int) ix.type;
    f->value.data = rec + start;
    f->value.len = end - start;

    return PZ_OK;
}


static int
pz_value_check(int type, const unsigned char *v, size_t len)
{
    size_t    pos, ilen;
    uint32_t  count, i;

    switch (type) {

    case PZ_T_STRING:
        return len > PZ_VALUE_MAX ? PZ_ERR_TYPE : PZ_OK;

    case PZ_T_INT:
    case PZ_T_DECIMAL:
    case PZ_T_TIME:
        return len == 8 ? PZ_OK : PZ_ERR_TYPE;

    case PZ_T_LIST:
        if (len < 4) {
            return PZ_ERR_LIST;
        }

        count = pz_get32(v);

        if (count > PZ_LIST_MAX) {
            return PZ_ERR_LIST;
        }

        pos = 4;

        for (i = 0; i < count; i++) {
            if (len - pos < 2) {
                return PZ_ERR_LIST;
            }

            ilen = pz_get16(v + pos);
            pos += 2;

            if (ilen > PZ_ITEM_MAX || len - pos < ilen) {
                return PZ_ERR_LIST;
            }

            pos += ilen;
        }

        return pos == len ? PZ_OK : PZ_ERR_LIST;
    }

    return PZ_ERR_TYPE;
}


static int
pz_name_cmp(const unsigned char *a, size_t alen, const unsigned char *b,
    size_t blen)
{
    int  rc;

    rc = memcmp(a, b, alen < blen ? alen : blen);

    if (rc != 0) {
        return rc;
    }

    return (alen > blen) - (alen < blen);
}


int
pz_record_check(const void *rec, size_t len)
{
    int                   rc;
    size_t                n, i, expect;
    pz_field_t            f, prev;
    pz_index_t            ix;
    const unsigned char  *p;

    p = rec;

    rc = pz_header(p, len, &n);
    if (rc != PZ_OK) {
        return rc;
    }

    /* names follow the index back to back, values follow the names */

    expect = PZ_RECORD_HEADER_SIZE + n * PZ_RECORD_INDEX_SIZE;

    for (i = 0; i < n; i++) {
        rc = pz_entry(p, len, n, i, &f);
        if (rc != PZ_OK) {
            return rc;
        }

        pz_index_read(p, i, &ix);

        if (ix.name_off != expect) {
            return PZ_ERR_BOUNDS;
        }

        expect += ix.name_len;

        if (i > 0
            && pz_name_cmp(prev.name.data, prev.name.len,
                           f.name.data, f.name.len) >= 0)
        {
            return PZ_ERR_ORDER;
        }

        prev = f;
    }

    for (i = 0; i < n; i++) {
        pz_index_read(p, i, &ix);

        if (ix.value_off != expect) {
            return PZ_ERR_BOUNDS;
        }

        (void) pz_entry(p, len, n, i, &f);

        rc = pz_value_check(f.type, f.value.data, f.value.len);
        if (rc != PZ_OK) {
            return rc;
        }

        expect += f.value.len;
    }

    if (expect != len) {
        return PZ_ERR_BOUNDS;
    }

    return PZ_OK;
}


size_t
pz_record_nfields(const void *rec, size_t len)
{
    size_t  n;

    if (pz_header(rec, len, &n) != PZ_OK) {
        return 0;
    }

    return n;
}


int
pz_record_field_at(const void *rec, size_t len, size_t i, pz_field_t *f)
{
    int     rc;
    size_t  n;

    rc = pz_header(rec, len, &n);
    if (rc != PZ_OK) {
        return rc;
    }

    if (i >= n) {
        return PZ_ERR_NOT_FOUND;
    }

    rc = pz_entry(rec, len, n, i, f);
    if (rc != PZ_OK) {
        return rc;
    }

    return pz_value_check(f->type, f->value.data, f->value.len);
}


int
pz_record_find(const void *rec, size_t len, const char *name,
    size_t name_len, pz_field_t *f)
{
    int     rc, cmp;
    size_t  n, lo, hi, mid;

    rc = pz_header(rec, len, &n);
    if (rc != PZ_OK) {
        return rc;
    }

    lo = 0;
    hi = n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        rc = pz_entry(rec, len, n, mid, f);
        if (rc != PZ_OK) {
            return rc;
        }

        cmp = pz_name_cmp((const unsigned char *) name, name_len,
                          f->name.data, f->name.len);

        if (cmp == 0) {
            return pz_value_check(f->type, f->value.data, f->value.len);
        }

        if (cmp < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return PZ_ERR_NOT_FOUND;
}


int64_t
pz_field_num(const pz_field_t *f)
{
    uint64_t  v;
    int       i;

    if ((f->type != PZ_T_INT && f->type != PZ_T_DECIMAL
         && f->type != PZ_T_TIME)
        || f->value.len != 8)
    {
        return 0;
    }

    v = 0;

    for (i = 7; i >= 0; i--) {
        v = (v << 8) | f->value.data[i];
    }

    return (int64_t) v;
}


uint32_t
pz_list_count(const pz_field_t *f)
{
    if (f->type != PZ_T_LIST || f->value.len < 4) {
        return 0;
    }

    return pz_get32(f->value.data);
}


int
pz_list_next(const pz_field_t *f, size_t *pos, pz_bytes_t *item)
{
    size_t  p, ilen;

    if (f->type != PZ_T_LIST || f->value.len < 4) {
        return 0;
    }

    /* *pos is the byte offset of the next item; 0 means the first */
    p = *pos < 4 ? 4 : *pos;

    if (p >= f->value.len || f->value.len - p < 2) {
        return 0;
    }

    ilen = pz_get16(f->value.data + p);
    p += 2;

    if (f->value.len - p < ilen) {
        return 0;
    }

    item->data = f->value.data + p;
    item->len = ilen;
    *pos = p + ilen;

    return 1;
}


static int
pz_field_in_cmp(const void *a, const void *b)
{
    const pz_field_in_t  *fa = a, *fb = b;

    return pz_name_cmp(fa->name.data, fa->name.len,
                       fb->name.data, fb->name.len);
}


size_t
pz_record_build(pz_field_in_t *fields, size_t n, unsigned char *out,
    size_t cap, int *err, size_t *needed)
{
    int             e;
    size_t          i, j, size, vlen, names, noff, voff;
    unsigned char  *p;
    pz_field_in_t  *fi;

    e = PZ_OK;
    size = 0;

    if (n > PZ_FIELDS_MAX) {
        e = PZ_ERR_LIMIT;
        goto failed;
    }

    if (n > 1) {
        qsort(fields, n, sizeof(pz_field_in_t), pz_field_in_cmp);
    }

    names = 0;
    size = PZ_RECORD_HEADER_SIZE + n * PZ_RECORD_INDEX_SIZE;

    for (i = 0; i < n; i++) {
        fi = &fields[i];

        if (fi->name.len == 0 || fi->name.len > PZ_NAME_MAX
            || fi->name.data == NULL)
        {
            e = PZ_ERR_NAME;
            goto failed;
        }

        if (i > 0 && pz_field_in_cmp(&fields[i - 1], fi) == 0) {
            e = PZ_ERR_ORDER;
            goto failed;
        }

        switch (fi->type) {

        case PZ_T_STRING:
            if (fi->str.len > PZ_VALUE_MAX) {
                e = PZ_ERR_LIMIT;
                goto failed;
            }

            vlen = fi->str.len;
            break;

        case PZ_T_INT:
        case PZ_T_DECIMAL:
        case PZ_T_TIME:
            vlen = 8;
            break;

        case PZ_T_LIST:
            if (fi->nitems > PZ_LIST_MAX) {
                e = PZ_ERR_LIMIT;
                goto failed;
            }

            vlen = 4;

            for (j = 0; j < fi->nitems; j++) {
                if (fi->items[j].len > PZ_ITEM_MAX) {
                    e = PZ_ERR_LIMIT;
                    goto failed;
                }

                vlen += 2 + fi->items[j].len;
            }

            break;

        default:
            e = PZ_ERR_TYPE;
            goto failed;
        }

        names += fi->name.len;
        size += fi->name.len + vlen;

        if (size > PZ_RECORD_MAX) {
            e = PZ_ERR_LIMIT;
            goto failed;
        }
    }

    if (needed != NULL) {
        *needed = size;
    }

    if (out == NULL || cap < size) {
        e = PZ_ERR_SPACE;
        goto failed;
    }

    p = out;
    p[0] = 'P';
    p[1] = 'Z';
    p[2] = PZ_RECORD_VERSION;
    p[3] = 0;
    pz_put16(p + 4, (uint16_t) n);
    pz_put16(p + 6, 0);

    noff = PZ_RECORD_HEADER_SIZE + n * PZ_RECORD_INDEX_SIZE;
    voff = noff + names;

    for (i = 0; i < n; i++) {
        fi = &fields[i];
        p = out + PZ_RECORD_HEADER_SIZE + i * PZ_RECORD_INDEX_SIZE;

        pz_put32(p, (uint32_t) noff);
        p[4] = (unsigned char) fi->name.len;
        p[5] = (unsigned char) fi->type;
        pz_put16(p + 6, 0);
        pz_put32(p + 8, (uint32_t) voff);

        memcpy(out + noff, fi->name.data, fi->name.len);
        noff += fi->name.len;

        p = out + voff;

        switch (fi->type) {

        case PZ_T_STRING:
            if (fi->str.len) {
                memcpy(p, fi->str.data, fi->str.len);
            }

            voff += fi->str.len;
            break;

        case PZ_T_LIST:
            pz_put32(p, (uint32_t) fi->nitems);
            p += 4;

            for (j = 0; j < fi->nitems; j++) {
                pz_put16(p, (uint16_t) fi->items[j].len);

                if (fi->items[j].len) {
                    memcpy(p + 2, fi->items[j].data, fi->items[j].len);
                }

                p += 2 + fi->items[j].len;
            }

            voff = p - out;
            break;

        default:
            pz_put64(p, (uint64_t) fi->num);
            voff += 8;
            break;
        }
    }

    if (err != NULL) {
        *err = PZ_OK;
    }

    return size;

failed:

    if (err != NULL) {
        *err = e;
    }

    if (e != PZ_ERR_SPACE && needed != NULL) {
        *needed = 0;
    }

    return 0;
}


const char *
pz_type_name(int type)
{
    if (type < PZ_T_STRING || type > PZ_T_LIST) {
        return "unknown";
    }

    return pz_type_names[type];
}


int
pz_type_parse(const char *s, size_t len)
{
    int  t;

    for (t = PZ_T_STRING; t <= PZ_T_LIST; t++) {
        if (strlen(pz_type_names[t]) == len
            && memcmp(pz_type_names[t], s, len) == 0)
        {
            return t;
        }
    }

    return 0;
}


const char *
pz_strerror(int err)
{
    switch (err) {
    case PZ_OK:
        return "ok";
    case PZ_ERR_SHORT:
        return "record truncated";
    case PZ_ERR_MAGIC:
        return "not a record (bad magic)";
    case PZ_ERR_VERSION:
        return "unknown record version";
    case PZ_ERR_BOUNDS:
        return "offset or length out of bounds";
    case PZ_ERR_ORDER:
        return "field names not sorted or not unique";
    case PZ_ERR_TYPE:
        return "unknown type or bad value size";
    case PZ_ERR_NAME:
        return "empty or too long field name";
    case PZ_ERR_LIST:
        return "malformed list";
    case PZ_ERR_NOT_FOUND:
        return "no such field";
    case PZ_ERR_SPACE:
        return "output buffer too small";
    case PZ_ERR_LIMIT:
        return "size limit exceeded";
    }

    return "unknown error";
}


int
pz_int_parse(const char *s, size_t len, int64_t *out)
{
    int       neg;
    size_t    i;
    uint64_t  v, lim;

    if (len == 0) {
        return -1;
    }

    i = 0;
    neg = 0;

    if (s[0] == '-' || s[0] == '+') {
        neg = (s[0] == '-');
        i = 1;

        if (len == 1) {
            return -1;
        }
    }

    lim = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
    v = 0;

    for ( /* void */ ; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        if (v > (lim - (uint64_t) (s[i] - '0')) / 10) {
            return -1;
        }

        v = v * 10 + (uint64_t) (s[i] - '0');
    }

    *out = neg ? (int64_t) (0 - v) : (int64_t) v;

    return 0;
}


int
pz_decimal_parse(const char *s, size_t len, int64_t *out)
{
    int       neg;
    size_t    i, nint, nfrac;
    uint64_t  ip, fp, lim;

    i = 0;
    neg = 0;

    if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = (s[0] == '-');
        i = 1;
    }

    lim = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
    ip = 0;
    nint = 0;

    for ( /* void */ ; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (ip > (lim / PZ_DECIMAL_SCALE - (uint64_t) (s[i] - '0')) / 10) {
            return -1;
        }

        ip = ip * 10 + (uint64_t) (s[i] - '0');
        nint++;
    }

    if (nint == 0) {
        return -1;
    }

    fp = 0;
    nfrac = 0;

    if (i < len && s[i] == '.') {
        i++;

        for ( /* void */ ; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            /* more places than the scale holds must be zeros */
            if (nfrac >= 4) {
                if (s[i] != '0') {
                    return -1;
                }

                continue;
            }

            fp = fp * 10 + (uint64_t) (s[i] - '0');
            nfrac++;
        }

        if (nfrac == 0) {
            return -1;
        }
    }

    if (i != len) {
        return -1;
    }

    for ( /* void */ ; nfrac < 4; nfrac++) {
        fp *= 10;
    }

    ip = ip * PZ_DECIMAL_SCALE;

    if (fp > lim - ip) {
        return -1;
    }

    ip += fp;

    *out = neg ? (int64_t) (0 - ip) : (int64_t) ip;

    return 0;
}


size_t
pz_decimal_format(int64_t v, char *buf)
{
    char      tmp[PZ_DECIMAL_LEN];
    size_t    n, i;
    uint64_t  u, ip, fp;

    u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
    ip = u / PZ_DECIMAL_SCALE;
    fp = u % PZ_DECIMAL_SCALE;

    n = 0;

    if (v < 0) {
        buf[n++] = '-';
    }

    i = 0;

    do {
        tmp[i++] = (char) ('0' + ip % 10);
        ip /= 10;
    } while (ip);

    while (i) {
        buf[n++] = tmp[--i];
    }

    if (fp) {
        buf[n++] = '.';
        buf[n++] = (char) ('0' + fp / 1000);
        buf[n++] = (char) ('0' + fp / 100 % 10);
        buf[n++] = (char) ('0' + fp / 10 % 10);
        buf[n++] = (char) ('0' + fp % 10);

        while (buf[n - 1] == '0') {
            n--;
        }
    }

    buf[n] = '\0';

    return n;
}


/* proleptic Gregorian calendar, after Howard Hinnant's date algorithms */

static int64_t
pz_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t   era;
    unsigned  yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned) (y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + (int64_t) doe - 719468;
}


static void
pz_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t   era;
    unsigned  doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned) (z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t) yoe + era * 400 + (*m <= 2);
}


int
pz_time_parse(const char *s, size_t len, int64_t *out)
{
    int                   leap;
    size_t                i;
    unsigned              v[6], mdays;
    const unsigned char  *p;

    static const unsigned  days[] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    /* an all-digit string (optionally signed) is epoch seconds */

    if (len != 20) {
        return pz_int_parse(s, len, out);
    }

    /* YYYY-MM-DDTHH:MM:SSZ */

    p = (const unsigned char *) s;

    if (p[4] != '-' || p[7] != '-' || p[10] != 'T' || p[13] != ':'
        || p[16] != ':' || p[19] != 'Z')
    {
        return pz_int_parse(s, len, out);
    }

    for (i = 0; i < 19; i++) {
        if (i == 4 || i == 7 || i == 10 || i == 13 || i == 16) {
            continue;
        }

        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
    }

    v[0] = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10
           + (p[3] - '0');

    for (i = 1; i < 6; i++) {
        v[i] = (p[2 + 3 * i] - '0') * 10 + (p[3 + 3 * i] - '0');
    }

    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[3] > 23 || v[4] > 59
        || v[5] > 59)
    {
        return -1;
    }

    leap = (v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0;
    mdays = days[v[1] - 1] + (v[1] == 2 && leap);

    if (v[2] > mdays) {
        return -1;
    }

    *out = pz_days_from_civil(v[0], v[1], v[2]) * 86400
           + v[3] * 3600 + v[4] * 60 + v[5];

    return 0;
}


size_t
pz_time_format(int64_t t, char *buf)
{
    char      tmp[PZ_TIME_LEN];
    size_t    n, i;
    int64_t   days, secs, y;
    unsigned  m, d;
    uint64_t  u;

    /* years 0000..9999 as ISO 8601, anything else as epoch seconds */

    if (t >= -62167219200LL && t <= 253402300799LL) {
        days = t / 86400;
        secs = t % 86400;

        if (secs < 0) {
            secs += 86400;
            days--;
        }

        pz_civil_from_days(days, &y, &m, &d);

        buf[0] = (char) ('0' + y / 1000);
        buf[1] = (char) ('0' + y / 100 % 10);
        buf[2] = (char) ('0' + y / 10 % 10);
        buf[3] = (char) ('0' + y % 10);
        buf[4] = '-';
        buf[5] = (char) ('0' + m / 10);
        buf[6] = (char) ('0' + m % 10);
        buf[7] = '-';
        buf[8] = (char) ('0' + d / 10);
        buf[9] = (char) ('0' + d % 10);
        buf[10] = 'T';
        buf[11] = (char) ('0' + secs / 36000);
        buf[12] = (char) ('0' + secs / 3600 % 10);
        buf[13] = ':';
        buf[14] = (char) ('0' + secs / 600 % 6);
        buf[15] = (char) ('0' + secs / 60 % 10);
        buf[16] = ':';
        buf[17] = (char) ('0' + secs % 60 / 10);
        buf[18] = (char) ('0' + secs % 10);
        buf[19] = 'Z';
        buf[20] = '\0';

        return 20;
    }

    u = t < 0 ? (uint64_t) 0 - (uint64_t) t : (uint64_t) t;
    n = 0;

    if (t < 0) {
        buf[n++] = '-';
    }

    i = 0;

    do {
        tmp[i++] = (char) ('0' + u % 10);
        u /= 10;
    } while (u);

    while (i) {
        buf[n++] = tmp[--i];
    }

    buf[n] = '\0';

    return n;
}
