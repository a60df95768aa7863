/*
 * lmdb-tools: what the pz-* tools share.  Store layout, schema, the meta
 * record, JSON <-> record conversion, messages and signals.
 *
 * The store is a directory holding an LMDB environment with the named
 * databases of ngx_personalize_record.h.  Profiles carry the reserved
 * fields PZ_FIELD_ALIASES and PZ_FIELD_UPDATED_AT next to the schema's.
 */

#ifndef PZ_TOOL_H_INCLUDED_
#define PZ_TOOL_H_INCLUDED_

#include <signal.h>
#include <stdio.h>
#include <limits.h>

#include <lmdb.h>
#include <jansson.h>

#include "ngx_personalize_record.h"


#define PZ_TOOLS_VERSION        "1.0.0"

/* 64 GiB: the file is sparse, only the pages used take room */
#define PZ_MAPSIZE_DEFAULT      ((size_t) 64 << 30)
#define PZ_MAPSIZE_SMALL        ((size_t) 1 << 30)

enum {
    PZ_PROFILES = 0,
    PZ_ALIASES,
    PZ_CATALOG,
    PZ_META
};

/* pz_store_open() flags */
#define PZ_OPEN_RDONLY          0x01
#define PZ_OPEN_CREATE          0x02
#define PZ_OPEN_BULK            0x04    /* a fresh build: no sync per txn */

/* pz_json_to_row() kinds */
#define PZ_ROW_PROFILE          0
#define PZ_ROW_CATALOG          1

#define PZ_ERRLEN               512


typedef struct {
    char                  name[PZ_NAME_MAX + 1];
    size_t                len;
    int                   type;         /* pz_type_e */
} pz_col_t;


typedef struct {
    pz_col_t              cols[PZ_FIELDS_MAX];      /* sorted by name */
    size_t                n;
} pz_schema_t;


typedef struct {
    int64_t               format;
    int64_t               generation;
    int64_t               build_time;
    pz_schema_t           schema;
    pz_schema_t           catalog;
    int                   has_schema;
    int                   has_catalog;
} pz_meta_t;


typedef struct {
    MDB_env              *env;
    MDB_dbi               dbi[PZ_DB_MAX];
    char                  dir[PATH_MAX];
} pz_store_t;


/* one input row turned into a record */
typedef struct {
    const char           *id;
    size_t                id_len;
    pz_bytes_t            aliases[PZ_LIST_MAX];
    size_t                naliases;
    int64_t               updated_at;

    pz_field_in_t         fields[PZ_FIELDS_MAX + 2];
    size_t                nfields;
    pz_bytes_t           *items;
    size_t                items_cap;
    char                 *nums;         /* text of JSON numbers */
    size_t                nums_len;

    unsigned char        *rec;
    size_t                rec_len;
    size_t                rec_cap;

    char                  err[PZ_ERRLEN];
} pz_row_t;


extern const char             *pz_prog;
extern volatile sig_atomic_t   pz_interrupted;


void pz_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pz_signals(void);
int pz_parse_size(const char *s, size_t *size);

int pz_schema_add(pz_schema_t *s, const char *name, size_t len, int type,
    char *err, size_t errlen);
void pz_schema_sort(pz_schema_t *s);
int pz_schema_from_json(pz_schema_t *s, json_t *obj, char *err,
    size_t errlen);
int pz_schema_read(pz_schema_t *s, const char *file);
const pz_col_t *pz_schema_find(const pz_schema_t *s, const char *name,
    size_t len);
json_t *pz_schema_to_json(const pz_schema_t *s);
void pz_schema_catalog_default(pz_schema_t *s);
int pz_schema_merge(pz_schema_t *into, const pz_schema_t *from, char *err,
    size_t errlen);

int pz_fs_check(const char *dir, char *err, size_t errlen);
int pz_store_open(pz_store_t *st, const char *dir, int flags,
    size_t mapsize);
void pz_store_close(pz_store_t *st);

int pz_meta_get(MDB_txn *txn, pz_store_t *st, pz_meta_t *m, char *err,
    size_t errlen);
int pz_meta_put(MDB_txn *txn, pz_store_t *st, pz_meta_t *m);

void pz_json_arena(void);
void pz_json_arena_reset(void);
void pz_json_arena_free(void);

void pz_row_init(pz_row_t *row);
void pz_row_free(pz_row_t *row);
int pz_row_items_reserve(pz_row_t *row, size_t n);
int pz_row_finish(pz_row_t *row, int kind);
int pz_json_to_row(pz_row_t *row, json_t *obj, const pz_schema_t *s,
    int kind, int csv, int64_t now);

json_t *pz_record_to_json(const char *id, size_t id_len,
    const unsigned char *rec, size_t len, int kind);
int pz_print_json(FILE *out, json_t *obj);

int pz_id_cmp(const void *a, size_t alen, const void *b, size_t blen);


#endif /* PZ_TOOL_H_INCLUDED_ */
