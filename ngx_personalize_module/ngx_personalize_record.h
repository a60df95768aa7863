/*
 * ngx_personalize record format: the on-disk layout of a profile (and of a
 * catalog item and of the store's meta record) in the LMDB store.
 *
 * Plain C, no nginx includes: shared by the nginx module (reader) and by
 * lmdb-tools (writer and reader).  Nothing here allocates memory.
 *
 * Layout, all integers little endian:
 *
 *     header   8 bytes   "PZ", version (1), flags (0), nfields (u16),
 *                        reserved (u16, 0)
 *     index    nfields * 12 bytes, sorted by name (bytewise), unique:
 *                        name_off (u32, from record start), name_len (u8),
 *                        type (u8), reserved (u16, 0),
 *                        value_off (u32, from record start)
 *     names    the field names, back to back
 *     values   the field values, back to back, in index order; a value
 *              ends where the next one starts (the last at the record end)
 *
 * Value encodings:
 *     string     raw bytes (UTF-8 by convention, not checked)
 *     int        int64
 *     decimal    int64, the value times 10^4 (four fixed decimals)
 *     time       int64, seconds since the Unix epoch (UTC)
 *     list       u32 count, then per item: u16 length, bytes
 *
 * A reader finds one field by binary search over the index without
 * decoding the others; pz_record_check() validates a whole record once.
 */

#ifndef NGX_PERSONALIZE_RECORD_H_INCLUDED_
#define NGX_PERSONALIZE_RECORD_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>


#define PZ_RECORD_VERSION       1
#define PZ_RECORD_HEADER_SIZE   8
#define PZ_RECORD_INDEX_SIZE    12

#define PZ_NAME_MAX             64      /* field name length */
#define PZ_ID_MAX               128     /* profile id, alias, product id */
#define PZ_FIELDS_MAX           256     /* fields in one record */
#define PZ_ITEM_MAX             1024    /* one list item */
#define PZ_LIST_MAX             1000    /* items in one list */
#define PZ_VALUE_MAX            65535   /* one string value */
#define PZ_RECORD_MAX           (1024 * 1024)

#define PZ_DECIMAL_SCALE        10000

/* LMDB named databases of a store environment */
#define PZ_DB_PROFILES          "profiles"   /* id -> record */
#define PZ_DB_ALIASES           "aliases"    /* alias -> canonical id */
#define PZ_DB_CATALOG           "catalog"    /* product id -> record */
#define PZ_DB_META              "meta"       /* PZ_META_KEY -> record */
#define PZ_DB_MAX               4

#define PZ_META_KEY             "meta"
/* fields of the meta record */
#define PZ_META_FORMAT          "format_version"     /* int */
#define PZ_META_GENERATION      "generation"         /* int */
#define PZ_META_BUILD_TIME      "build_time"         /* time */
#define PZ_META_SCHEMA          "schema"             /* list "name:type" */
#define PZ_META_CATALOG_SCHEMA  "catalog_schema"     /* list "name:type" */
#define PZ_FORMAT_VERSION       1

/*
 * Fields the loader adds to every profile record.  Field names that start
 * with "_" are reserved for the tools; a schema cannot declare them.
 */
#define PZ_FIELD_ALIASES        "_aliases"           /* list of alias ids */
#define PZ_FIELD_UPDATED_AT     "_updated_at"        /* time of the load */


typedef enum {
    PZ_T_STRING = 1,
    PZ_T_INT = 2,
    PZ_T_DECIMAL = 3,
    PZ_T_TIME = 4,
    PZ_T_LIST = 5
} pz_type_e;


typedef enum {
    PZ_OK = 0,
    PZ_ERR_SHORT,           /* record shorter than its header or index */
    PZ_ERR_MAGIC,           /* not "PZ" */
    PZ_ERR_VERSION,         /* unknown format version */
    PZ_ERR_BOUNDS,          /* an offset or length points outside */
    PZ_ERR_ORDER,           /* index not sorted or names not unique */
    PZ_ERR_TYPE,            /* unknown type, or value size wrong for type */
    PZ_ERR_NAME,            /* empty or too long field name */
    PZ_ERR_LIST,            /* list items do not add up */
    PZ_ERR_NOT_FOUND,       /* pz_record_find(): no such field */
    PZ_ERR_SPACE,           /* pz_record_build(): output buffer too small */
    PZ_ERR_LIMIT            /* pz_record_build(): a PZ_*_MAX exceeded */
} pz_error_e;


typedef struct {
    const unsigned char  *data;
    size_t                len;
} pz_bytes_t;


/* a field read from a record; pointers into the record */
typedef struct {
    pz_bytes_t            name;
    int                   type;         /* pz_type_e */
    pz_bytes_t            value;        /* encoded value */
} pz_field_t;


/* a field to write; used by pz_record_build() */
typedef struct {
    pz_bytes_t            name;
    int                   type;         /* pz_type_e */
    int64_t               num;          /* int, decimal (scaled), time */
    pz_bytes_t            str;          /* string */
    const pz_bytes_t     *items;        /* list */
    size_t                nitems;
} pz_field_in_t;


/* reading */

int pz_record_check(const void *rec, size_t len);
size_t pz_record_nfields(const void *rec, size_t len);
int pz_record_field_at(const void *rec, size_t len, size_t i, pz_field_t *f);
int pz_record_find(const void *rec, size_t len, const char *name,
    size_t name_len, pz_field_t *f);

/* scalar value of an int, decimal or time field; 0 for other types */
int64_t pz_field_num(const pz_field_t *f);

/* list items: *pos starts at 0; returns 1 with *item set, 0 at the end */
uint32_t pz_list_count(const pz_field_t *f);
int pz_list_next(const pz_field_t *f, size_t *pos, pz_bytes_t *item);

/* writing: sorts fields[] by name in place; returns the encoded size, or 0
 * with *err set (PZ_ERR_SPACE: *needed tells the size) */
size_t pz_record_build(pz_field_in_t *fields, size_t n, unsigned char *out,
    size_t cap, int *err, size_t *needed);

/* text forms */

const char *pz_type_name(int type);     /* "string", "int", ... */
int pz_type_parse(const char *s, size_t len);   /* 0 if unknown */
const char *pz_strerror(int err);

/* "-12.5" -> -125000; returns 0 on success, -1 on bad syntax or range */
int pz_decimal_parse(const char *s, size_t len, int64_t *out);
/* writes the shortest form ("12.5", "-3", "0.0001"); returns its length;
 * buf holds at least PZ_DECIMAL_LEN bytes */
#define PZ_DECIMAL_LEN          24
size_t pz_decimal_format(int64_t v, char *buf);

/* "2026-11-23T10:00:00Z" or a plain integer of epoch seconds; -1 on error */
int pz_time_parse(const char *s, size_t len, int64_t *out);
/* writes "2026-11-23T10:00:00Z"; buf holds at least PZ_TIME_LEN bytes */
#define PZ_TIME_LEN             24
size_t pz_time_format(int64_t t, char *buf);

/* decimal integer, optional sign; -1 on bad syntax or overflow */
int pz_int_parse(const char *s, size_t len, int64_t *out);


#endif /* NGX_PERSONALIZE_RECORD_H_INCLUDED_ */
