/*
 * lmdb-tools: the check walker.  Reads every record and alias of a store,
 * decodes and validates them.  pz-check runs it on a live store; pz-load
 * runs it on a freshly built generation before swapping it in.
 */

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pz_tool.h"
#include "pz_walk.h"


static void pz_problem(pz_walk_t *w, const char *db, MDB_val *key,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int pz_walk_record(pz_walk_t *w, const char *db, MDB_val *key,
    MDB_val *val, const pz_schema_t *s, int kind, MDB_txn *txn,
    pz_store_t *st);
static int pz_list_has(pz_field_t *f, const void *data, size_t len);
static void pz_walk_release(pz_store_t *st, size_t n, const void *data);
static int pz_walk_profiles(pz_store_t *st, MDB_txn *txn, pz_walk_t *w);
static int pz_walk_aliases(pz_store_t *st, MDB_txn *txn, pz_walk_t *w);
static int pz_walk_catalog(pz_store_t *st, MDB_txn *txn, pz_walk_t *w);


/*
 * A walk touches every page of the map; left alone they all count in the
 * resident set.  The map is a read-only shared file mapping, so dropping
 * our page table entries now and then costs only a page fault from the
 * page cache on the next touch.  LMDB does not tell where its map starts
 * (me_mapaddr is only set with MDB_FIXEDMAP), but a value lies in a page
 * whose header starts with the page number (format 0.9, frozen): that
 * gives the base.  Only for the sequential walk of a new generation: the
 * full cross-check of pz-check reads pages at random and would fault them
 * in again and again.
 */

/* every this many records: the pages of a store built from unsorted
 * input lie all over the file, and each fault maps 16 neighbours */
#define PZ_WALK_RELEASE         8192


static void
pz_walk_release(pz_store_t *st, size_t n, const void *data)
{
    uintptr_t  base;

    if (n % PZ_WALK_RELEASE != 0) {
        return;
    }

    base = pz_map_base_of(st, data);

    if (base != 0) {
        pz_map_release(st, base);
    }
}


uintptr_t
pz_map_base_of(pz_store_t *st, const void *data)
{
    size_t       pgno;
    uintptr_t    page;
    MDB_stat     ms;
    MDB_envinfo  info;

    if (data == NULL || mdb_env_info(st->env, &info) != 0
        || mdb_env_stat(st->env, &ms) != 0
        || ms.ms_psize == 0 || (ms.ms_psize & (ms.ms_psize - 1)) != 0)
    {
        return 0;
    }

    page = (uintptr_t) data & ~((uintptr_t) ms.ms_psize - 1);
    memcpy(&pgno, (const void *) page, sizeof(size_t));

    if (pgno > info.me_last_pgno || pgno * ms.ms_psize > page) {
        return 0;
    }

    return page - pgno * ms.ms_psize;
}


/* with no transaction of this thread open */

uintptr_t
pz_map_base(pz_store_t *st)
{
    int          i;
    MDB_val      key, val;
    MDB_txn     *txn;
    uintptr_t    base;
    MDB_cursor  *cur;

    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0) {
        return 0;
    }

    base = 0;

    for (i = 0; i < PZ_DB_MAX && base == 0; i++) {
        if (mdb_cursor_open(txn, st->dbi[i], &cur) != 0) {
            continue;
        }

        if (mdb_cursor_get(cur, &key, &val, MDB_FIRST) == 0) {
            base = pz_map_base_of(st, val.mv_data);
        }

        mdb_cursor_close(cur);
    }

    mdb_txn_abort(txn);

    return base;
}


void
pz_map_release(pz_store_t *st, uintptr_t base)
{
    MDB_stat     ms;
    MDB_envinfo  info;

    if (mdb_env_info(st->env, &info) != 0 || mdb_env_stat(st->env, &ms) != 0)
    {
        return;
    }

    (void) madvise((void *) base, (info.me_last_pgno + 1) * ms.ms_psize,
                   MADV_DONTNEED);
}


static void
pz_problem(pz_walk_t *w, const char *db, MDB_val *key, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    w->problems++;

    if (w->report == NULL || w->problems > w->max_report) {
        return;
    }

    n = key ? (int) (key->mv_size > 80 ? 80 : key->mv_size) : 0;

    fprintf(w->report, "%s: %s: \"%.*s\": ", pz_prog, db, n,
            key ? (char *) key->mv_data : "");

    va_start(ap, fmt);
    vfprintf(w->report, fmt, ap);
    va_end(ap);

    fputc('\n', w->report);
}


static int
pz_list_has(pz_field_t *f, const void *data, size_t len)
{
    size_t      pos;
    pz_bytes_t  item;

    pos = 0;

    while (pz_list_next(f, &pos, &item)) {
        if (item.len == len && memcmp(item.data, data, len) == 0) {
            return 1;
        }
    }

    return 0;
}


static int
pz_walk_record(pz_walk_t *w, const char *db, MDB_val *key, MDB_val *val,
    const pz_schema_t *s, int kind, MDB_txn *txn, pz_store_t *st)
{
    int              rc;
    size_t           i, j, n, pos;
    MDB_val          akey, aval;
    pz_field_t       f;
    pz_bytes_t       item;
    const pz_col_t  *c;

    if (key->mv_size == 0 || key->mv_size > PZ_ID_MAX) {
        pz_problem(w, db, key, "id of %zu bytes, expected 1 to %d",
                   key->mv_size, PZ_ID_MAX);
    }

    rc = pz_record_check(val->mv_data, val->mv_size);

    if (rc != PZ_OK) {
        pz_problem(w, db, key, "record: %s", pz_strerror(rc));
        return 0;
    }

    n = pz_record_nfields(val->mv_data, val->mv_size);

    /* the checked record's names are sorted as the schema's columns are:
     * one pass over both finds the columns */
    j = 0;

    for (i = 0; i < n; i++) {
        (void) pz_record_field_at(val->mv_data, val->mv_size, i, &f);

        if (kind == PZ_ROW_PROFILE
            && f.name.len == sizeof(PZ_FIELD_UPDATED_AT) - 1
            && memcmp(f.name.data, PZ_FIELD_UPDATED_AT, f.name.len) == 0)
        {
            if (f.type != PZ_T_TIME) {
                pz_problem(w, db, key, "field \"%s\": %s, expected time",
                           PZ_FIELD_UPDATED_AT, pz_type_name(f.type));
            }

            continue;
        }

        if (kind == PZ_ROW_PROFILE
            && f.name.len == sizeof(PZ_FIELD_ALIASES) - 1
            && memcmp(f.name.data, PZ_FIELD_ALIASES, f.name.len) == 0)
        {
            if (f.type != PZ_T_LIST) {
                pz_problem(w, db, key, "field \"%s\": %s, expected list",
                           PZ_FIELD_ALIASES, pz_type_name(f.type));
                continue;
            }

            w->alias_refs += pz_list_count(&f);

            if (!w->full) {
                continue;
            }

            /* every alias the profile names points back to it */

            pos = 0;

            while (pz_list_next(&f, &pos, &item)) {
                akey.mv_data = (void *) item.data;
                akey.mv_size = item.len;

                rc = mdb_get(txn, st->dbi[PZ_ALIASES], &akey, &aval);

                if (rc != 0) {
                    pz_problem(w, db, key, "alias \"%.*s\": %s",
                               (int) item.len, item.data,
                               rc == MDB_NOTFOUND ? "not in the aliases "
                               "database" : mdb_strerror(rc));

                } else if (aval.mv_size != key->mv_size
                           || memcmp(aval.mv_data, key->mv_data,
                                     key->mv_size) != 0)
                {
                    pz_problem(w, db, key, "alias \"%.*s\" points to "
                               "\"%.*s\"", (int) item.len, item.data,
                               (int) aval.mv_size, (char *) aval.mv_data);
                }
            }

            continue;
        }

        while (j < s->n
               && pz_id_cmp(s->cols[j].name, s->cols[j].len, f.name.data,
                            f.name.len) < 0)
        {
            j++;
        }

        c = (j < s->n && s->cols[j].len == f.name.len
             && memcmp(s->cols[j].name, f.name.data, f.name.len) == 0)
            ? &s->cols[j] : NULL;

        if (c == NULL) {
            pz_problem(w, db, key, "field \"%.*s\": not in the schema",
                       (int) f.name.len, f.name.data);

        } else if (c->type != f.type) {
            pz_problem(w, db, key, "field \"%s\": %s, the schema says %s",
                       c->name, pz_type_name(f.type),
                       pz_type_name(c->type));
        }
    }

    return 0;
}


int
pz_walk(pz_store_t *st, MDB_txn *txn, pz_walk_t *w)
{
    int        rc;
    char       err[PZ_ERRLEN];
    MDB_val    key;
    unsigned   parts;

    parts = w->parts ? w->parts : PZ_WALK_META | PZ_WALK_PROFILES
                                  | PZ_WALK_ALIASES | PZ_WALK_CATALOG;

    w->problems = 0;

    if (parts & PZ_WALK_META) {
        rc = pz_meta_get(txn, st, &w->meta, err, sizeof(err));

        if (rc != 0) {
            key.mv_data = PZ_META_KEY;
            key.mv_size = sizeof(PZ_META_KEY) - 1;
            pz_problem(w, "meta", &key, "%s",
                       rc == 1 ? "no meta record" : err);
        }
    }

    if (parts & PZ_WALK_PROFILES) {
        if (pz_walk_profiles(st, txn, w) != 0) {
            return -1;
        }
    }

    if (parts & PZ_WALK_ALIASES) {
        if (pz_walk_aliases(st, txn, w) != 0) {
            return -1;
        }
    }

    if ((parts & PZ_WALK_PROFILES) && (parts & PZ_WALK_ALIASES)
        && w->alias_refs != w->aliases)
    {
        key.mv_data = "aliases";
        key.mv_size = 7;
        pz_problem(w, "aliases", &key, "profiles list %zu aliases, the "
                   "aliases database holds %zu", w->alias_refs, w->aliases);
    }

    if (parts & PZ_WALK_CATALOG) {
        if (pz_walk_catalog(st, txn, w) != 0) {
            return -1;
        }
    }

    if (pz_interrupted) {
        pz_msg("interrupted");
        return -1;
    }

    return 0;
}


static int
pz_walk_profiles(pz_store_t *st, MDB_txn *txn, pz_walk_t *w)
{
    int          rc;
    MDB_val      key, val;
    MDB_cursor  *cur;

    w->profiles = 0;
    w->alias_refs = 0;

    rc = mdb_cursor_open(txn, st->dbi[PZ_PROFILES], &cur);
    if (rc != 0) {
        pz_msg("mdb_cursor_open() failed: %s", mdb_strerror(rc));
        return -1;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        w->profiles++;
        if (!w->full) {
            pz_walk_release(st, w->profiles, val.mv_data);
        }
        pz_walk_record(w, "profiles", &key, &val, &w->meta.schema,
                       PZ_ROW_PROFILE, txn, st);

        if (pz_interrupted) {
            break;
        }
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND && rc != 0) {
        pz_msg("mdb_cursor_get(profiles) failed: %s", mdb_strerror(rc));
        return -1;
    }

    return 0;
}


static int
pz_walk_aliases(pz_store_t *st, MDB_txn *txn, pz_walk_t *w)
{
    int          rc;
    MDB_val      key, val, pval;
    MDB_cursor  *cur;
    pz_field_t   f;

    w->aliases = 0;

    rc = mdb_cursor_open(txn, st->dbi[PZ_ALIASES], &cur);
    if (rc != 0) {
        pz_msg("mdb_cursor_open() failed: %s", mdb_strerror(rc));
        return -1;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        w->aliases++;
        if (!w->full) {
            pz_walk_release(st, w->aliases, val.mv_data);
        }

        if (key.mv_size == 0 || key.mv_size > PZ_ID_MAX) {
            pz_problem(w, "aliases", &key, "alias of %zu bytes, expected 1 "
                       "to %d", key.mv_size, PZ_ID_MAX);
        }

        if (val.mv_size == 0 || val.mv_size > PZ_ID_MAX) {
            pz_problem(w, "aliases", &key, "points to an id of %zu bytes",
                       val.mv_size);
            continue;
        }

        if (!w->full) {
            continue;
        }

        rc = mdb_get(txn, st->dbi[PZ_PROFILES], &val, &pval);

        if (rc == MDB_NOTFOUND) {
            pz_problem(w, "aliases", &key, "points to \"%.*s\", no such "
                       "profile", (int) val.mv_size, (char *) val.mv_data);
            continue;
        }

        if (rc != 0) {
            pz_msg("mdb_get(profiles) failed: %s", mdb_strerror(rc));
            mdb_cursor_close(cur);
            return -1;
        }

        if (pz_record_find(pval.mv_data, pval.mv_size, PZ_FIELD_ALIASES,
                           sizeof(PZ_FIELD_ALIASES) - 1, &f) != PZ_OK
            || !pz_list_has(&f, key.mv_data, key.mv_size))
        {
            pz_problem(w, "aliases", &key, "profile \"%.*s\" does not list "
                       "it", (int) val.mv_size, (char *) val.mv_data);
        }

        if (pz_interrupted) {
            break;
        }
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND && rc != 0) {
        pz_msg("mdb_cursor_get(aliases) failed: %s", mdb_strerror(rc));
        return -1;
    }

    return 0;
}


static int
pz_walk_catalog(pz_store_t *st, MDB_txn *txn, pz_walk_t *w)
{
    int          rc;
    MDB_val      key, val;
    MDB_cursor  *cur;
    pz_schema_t  catalog;

    w->catalog = 0;

    if (!w->meta.has_catalog) {
        pz_schema_catalog_default(&catalog);

    } else {
        catalog = w->meta.catalog;
    }

    rc = mdb_cursor_open(txn, st->dbi[PZ_CATALOG], &cur);
    if (rc != 0) {
        pz_msg("mdb_cursor_open() failed: %s", mdb_strerror(rc));
        return -1;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        w->catalog++;
        pz_walk_record(w, "catalog", &key, &val, &catalog, PZ_ROW_CATALOG,
                       txn, st);
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND && rc != 0) {
        pz_msg("mdb_cursor_get(catalog) failed: %s", mdb_strerror(rc));
        return -1;
    }

    return 0;
}
