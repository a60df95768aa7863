/*
 * pz-load: a row into the store.  An upsert moves aliases between
 * profiles; a build (replace or first load) appends the profile and hands
 * its aliases to the sorter; catalog items.
 */


#include "pz-load.h"


static int pz_seen(pz_load_t *ld, const void *id, size_t len, int add);
static int pz_alias_unlink(pz_load_t *ld, MDB_val *owner, MDB_val *alias);


/* FNV-1a; 0 marks a free slot */

static int
pz_seen(pz_load_t *ld, const void *id, size_t len, int add)
{
    size_t                i, j, cap, mask;
    uint64_t              h, *tab;
    const unsigned char  *p;

    h = 0xcbf29ce484222325ULL;

    for (p = id, i = 0; i < len; i++) {
        h = (h ^ p[i]) * 0x100000001b3ULL;
    }

    h |= (h == 0);

    if (add && (ld->seen_n + 1) * 2 > ld->seen_cap) {
        cap = ld->seen_cap ? ld->seen_cap * 2 : 65536;

        tab = calloc(cap, sizeof(uint64_t));
        if (tab == NULL) {
            return -1;
        }

        mask = cap - 1;

        for (i = 0; i < ld->seen_cap; i++) {
            if (ld->seen[i] == 0) {
                continue;
            }

            for (j = ld->seen[i] & mask; tab[j]; j = (j + 1) & mask) {
                /* void */
            }

            tab[j] = ld->seen[i];
        }

        free(ld->seen);
        ld->seen = tab;
        ld->seen_cap = cap;
    }

    if (ld->seen_cap == 0) {
        return 0;
    }

    mask = ld->seen_cap - 1;

    for (i = h & mask; ld->seen[i]; i = (i + 1) & mask) {
        if (ld->seen[i] == h) {
            return 1;
        }
    }

    if (add) {
        ld->seen[i] = h;
        ld->seen_n++;
    }

    return 0;
}


int
pz_put_profile(pz_load_t *ld)
{
    int          rc, flags;
    size_t       i, j, pos;
    MDB_val      key, val, akey, aval;
    pz_row_t    *row;
    pz_field_t   f;
    pz_bytes_t   item;

    row = &ld->row;

    key.mv_data = (void *) row->id;
    key.mv_size = row->id_len;

    if (ld->mode == PZ_MODE_REPLACE || ld->fresh) {

        /* MDB_APPEND for an id past the last one; rows out of order come
         * sorted from pz-load-order.c, those that fall before the last
         * id go in by search */

        ld->append = !ld->have_prev
                     || pz_id_cmp(row->id, row->id_len, ld->prev,
                                  ld->prev_len) > 0;

        flags = MDB_NOOVERWRITE | (ld->append ? MDB_APPEND : 0);

        val.mv_data = (void *) ld->rec;
        val.mv_size = ld->rec_len;

        rc = ld->append
             ? pz_append(ld, PZ_PROFILES, &key, &val, flags)
             : mdb_put(ld->txn, ld->st.dbi[PZ_PROFILES], &key, &val, flags);

        if (rc == MDB_KEYEXIST) {
            snprintf(row->err, sizeof(row->err), "duplicate id \"%.*s\"%s",
                     (int) row->id_len, row->id,
                     ld->fresh ? " in this batch" : "");
            return PZ_ROW_BAD;
        }

        if (rc != 0) {
            pz_msg("%s:%lu: mdb_put(profiles) failed: %s", ld->file,
                   ld->line, mdb_strerror(rc));
            return PZ_ROW_FATAL;
        }

        if (ld->append) {
            ld->appended++;
            memcpy(ld->prev, row->id, row->id_len);
            ld->prev_len = row->id_len;
            ld->have_prev = 1;
        }

        for (i = 0; i < row->naliases; i++) {
            if (pz_sort_add(ld, &row->aliases[i]) != 0) {
                return PZ_ROW_FATAL;
            }
        }

        return PZ_ROW_OK;
    }

    /* upsert */

    rc = pz_seen(ld, row->id, row->id_len, 0);

    if (rc == 1) {
        snprintf(row->err, sizeof(row->err), "duplicate id \"%.*s\" in this "
                 "batch", (int) row->id_len, row->id);
        return PZ_ROW_BAD;
    }

    /* an alias may move from another profile, but not from one loaded in
     * this very batch: that is two rows claiming one alias */

    for (i = 0; i < row->naliases; i++) {
        akey.mv_data = (void *) row->aliases[i].data;
        akey.mv_size = row->aliases[i].len;

        rc = mdb_get(ld->txn, ld->st.dbi[PZ_ALIASES], &akey, &aval);

        if (rc == MDB_NOTFOUND) {
            continue;
        }

        if (rc != 0) {
            pz_msg("mdb_get(aliases) failed: %s", mdb_strerror(rc));
            return PZ_ROW_FATAL;
        }

        if (pz_id_cmp(aval.mv_data, aval.mv_size, row->id, row->id_len) != 0
            && pz_seen(ld, aval.mv_data, aval.mv_size, 0) == 1)
        {
            snprintf(row->err, sizeof(row->err), "alias \"%.*s\" also "
                     "given to \"%.*s\" in this batch", (int) akey.mv_size,
                     (char *) akey.mv_data, (int) aval.mv_size,
                     (char *) aval.mv_data);
            return PZ_ROW_BAD;
        }
    }

    /* the aliases the profile had before */

    ld->old_aliases_len = 0;

    rc = mdb_get(ld->txn, ld->st.dbi[PZ_PROFILES], &key, &val);

    if (rc == 0) {
        if (pz_record_find(val.mv_data, val.mv_size, PZ_FIELD_ALIASES,
                           sizeof(PZ_FIELD_ALIASES) - 1, &f) == PZ_OK
            && f.type == PZ_T_LIST && f.value.len <= sizeof(ld->old_aliases))
        {
            memcpy(ld->old_aliases, f.value.data, f.value.len);
            ld->old_aliases_len = f.value.len;
        }

    } else if (rc != MDB_NOTFOUND) {
        pz_msg("mdb_get(profiles) failed: %s", mdb_strerror(rc));
        return PZ_ROW_FATAL;
    }

    val.mv_data = (void *) ld->rec;
    val.mv_size = ld->rec_len;

    rc = mdb_put(ld->txn, ld->st.dbi[PZ_PROFILES], &key, &val, 0);

    if (rc != 0) {
        pz_msg("%s:%lu: mdb_put(profiles) failed: %s", ld->file, ld->line,
               mdb_strerror(rc));
        return PZ_ROW_FATAL;
    }

    /* aliases dropped from the profile */

    f.type = PZ_T_LIST;
    f.value.data = ld->old_aliases;
    f.value.len = ld->old_aliases_len;
    pos = 0;

    while (pz_list_next(&f, &pos, &item)) {
        for (j = 0; j < row->naliases; j++) {
            if (row->aliases[j].len == item.len
                && memcmp(row->aliases[j].data, item.data, item.len) == 0)
            {
                break;
            }
        }

        if (j < row->naliases) {
            continue;
        }

        akey.mv_data = (void *) item.data;
        akey.mv_size = item.len;

        rc = mdb_get(ld->txn, ld->st.dbi[PZ_ALIASES], &akey, &aval);

        if (rc == 0
            && pz_id_cmp(aval.mv_data, aval.mv_size, row->id, row->id_len)
               == 0)
        {
            rc = mdb_del(ld->txn, ld->st.dbi[PZ_ALIASES], &akey, NULL);
        }

        if (rc != 0 && rc != MDB_NOTFOUND) {
            pz_msg("mdb_del(aliases) failed: %s", mdb_strerror(rc));
            return PZ_ROW_FATAL;
        }
    }

    /* aliases now pointing here */

    for (i = 0; i < row->naliases; i++) {
        akey.mv_data = (void *) row->aliases[i].data;
        akey.mv_size = row->aliases[i].len;

        rc = mdb_get(ld->txn, ld->st.dbi[PZ_ALIASES], &akey, &aval);

        if (rc == 0) {
            if (pz_id_cmp(aval.mv_data, aval.mv_size, row->id, row->id_len)
                == 0)
            {
                continue;
            }

            if (pz_alias_unlink(ld, &aval, &akey) != 0) {
                return PZ_ROW_FATAL;
            }

        } else if (rc != MDB_NOTFOUND) {
            pz_msg("mdb_get(aliases) failed: %s", mdb_strerror(rc));
            return PZ_ROW_FATAL;
        }

        rc = mdb_put(ld->txn, ld->st.dbi[PZ_ALIASES], &akey, &key, 0);

        if (rc != 0) {
            pz_msg("%s:%lu: mdb_put(aliases) failed: %s", ld->file,
                   ld->line, mdb_strerror(rc));
            return PZ_ROW_FATAL;
        }
    }

    if (pz_seen(ld, row->id, row->id_len, 1) < 0) {
        pz_msg("out of memory");
        return PZ_ROW_FATAL;
    }

    return PZ_ROW_OK;
}


/* an alias moved to another profile leaves the list of its old one */

static int
pz_alias_unlink(pz_load_t *ld, MDB_val *owner, MDB_val *alias)
{
    int             rc, err;
    char            id[PZ_ID_MAX];
    size_t          i, n, k, pos, id_len, needed;
    MDB_val         key, val;
    pz_field_t      f;
    pz_bytes_t      item;
    pz_field_in_t   in[PZ_FIELDS_MAX];
    unsigned char  *rec, *copy;

    id_len = owner->mv_size;
    memcpy(id, owner->mv_data, id_len);
    key.mv_data = id;
    key.mv_size = id_len;

    rc = mdb_get(ld->txn, ld->st.dbi[PZ_PROFILES], &key, &val);

    if (rc == MDB_NOTFOUND) {
        return 0;
    }

    if (rc != 0) {
        pz_msg("mdb_get(profiles) failed: %s", mdb_strerror(rc));
        return -1;
    }

    if (pz_record_check(val.mv_data, val.mv_size) != PZ_OK) {
        return 0;
    }

    /* the record's memory belongs to LMDB until the next put: copy it */

    copy = malloc(val.mv_size);
    if (copy == NULL) {
        pz_msg("out of memory");
        return -1;
    }

    memcpy(copy, val.mv_data, val.mv_size);
    n = pz_record_nfields(copy, val.mv_size);

    if (ld->scratch_items_cap < PZ_RECORD_MAX / 2) {
        free(ld->scratch_items);
        ld->scratch_items = malloc(PZ_RECORD_MAX / 2 * sizeof(pz_bytes_t));
        ld->scratch_items_cap = ld->scratch_items ? PZ_RECORD_MAX / 2 : 0;

        if (ld->scratch_items == NULL) {
            free(copy);
            pz_msg("out of memory");
            return -1;
        }
    }

    k = 0;

    for (i = 0; i < n; i++) {
        (void) pz_record_field_at(copy, val.mv_size, i, &f);

        memset(&in[i], 0, sizeof(pz_field_in_t));
        in[i].name = f.name;
        in[i].type = f.type;
        in[i].num = pz_field_num(&f);
        in[i].str = f.value;
        in[i].items = &ld->scratch_items[k];

        pos = 0;

        while (pz_list_next(&f, &pos, &item)) {
            if (f.name.len == sizeof(PZ_FIELD_ALIASES) - 1
                && memcmp(f.name.data, PZ_FIELD_ALIASES, f.name.len) == 0
                && item.len == alias->mv_size
                && memcmp(item.data, alias->mv_data, item.len) == 0)
            {
                continue;
            }

            ld->scratch_items[k++] = item;
            in[i].nitems++;
        }
    }

    needed = 0;
    (void) pz_record_build(in, n, NULL, 0, &err, &needed);

    rec = malloc(needed ? needed : 1);
    if (rec == NULL) {
        free(copy);
        pz_msg("out of memory");
        return -1;
    }

    val.mv_size = pz_record_build(in, n, rec, needed, &err, NULL);
    val.mv_data = rec;

    rc = err == PZ_OK ? mdb_put(ld->txn, ld->st.dbi[PZ_PROFILES], &key, &val,
                                0)
                      : EINVAL;

    free(rec);
    free(copy);

    if (rc != 0) {
        pz_msg("mdb_put(profiles) failed: %s", mdb_strerror(rc));
        return -1;
    }

    return 0;
}


int
pz_put_catalog(pz_load_t *ld)
{
    int        rc, flags;
    MDB_val    key, val;
    pz_row_t  *row;

    row = &ld->row;

    key.mv_data = (void *) row->id;
    key.mv_size = row->id_len;
    val.mv_data = (void *) ld->rec;
    val.mv_size = ld->rec_len;

    if (ld->mode == PZ_MODE_REPLACE) {
        flags = MDB_NOOVERWRITE;

        if (ld->append && ld->have_prev
            && pz_id_cmp(row->id, row->id_len, ld->prev, ld->prev_len) <= 0)
        {
            ld->append = 0;
        }

        if (ld->append) {
            flags |= MDB_APPEND;
        }

    } else {
        if (pz_seen(ld, row->id, row->id_len, 0) == 1) {
            snprintf(row->err, sizeof(row->err), "duplicate id \"%.*s\" in "
                     "this batch", (int) row->id_len, row->id);
            return PZ_ROW_BAD;
        }

        flags = 0;
    }

    rc = mdb_put(ld->txn, ld->st.dbi[PZ_CATALOG], &key, &val, flags);

    if (rc == MDB_KEYEXIST) {
        snprintf(row->err, sizeof(row->err), "duplicate id \"%.*s\"",
                 (int) row->id_len, row->id);
        return PZ_ROW_BAD;
    }

    if (rc != 0) {
        pz_msg("%s:%lu: mdb_put(catalog) failed: %s", ld->file, ld->line,
               mdb_strerror(rc));
        return PZ_ROW_FATAL;
    }

    if (ld->mode == PZ_MODE_REPLACE) {
        if (ld->append) {
            ld->appended++;
        }

        memcpy(ld->prev, row->id, row->id_len);
        ld->prev_len = row->id_len;
        ld->have_prev = 1;

    } else if (pz_seen(ld, row->id, row->id_len, 1) < 0) {
        pz_msg("out of memory");
        return PZ_ROW_FATAL;
    }

    return PZ_ROW_OK;
}
