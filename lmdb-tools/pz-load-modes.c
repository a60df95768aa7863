/*
 * pz-load: delete (-D) and retention (-r).
 */


#include "pz-load.h"


/* a profile and the aliases that point to it; an LMDB error code */

int
pz_delete_profile(pz_load_t *ld, MDB_val *id)
{
    int         rc;
    size_t      pos;
    MDB_val     val, akey, aval;
    pz_field_t  f;
    pz_bytes_t  item;

    rc = mdb_get(ld->txn, ld->st.dbi[PZ_PROFILES], id, &val);

    if (rc != 0) {
        return rc;
    }

    if (pz_record_find(val.mv_data, val.mv_size, PZ_FIELD_ALIASES,
                       sizeof(PZ_FIELD_ALIASES) - 1, &f) == PZ_OK
        && f.value.len <= sizeof(ld->old_aliases))
    {
        memcpy(ld->old_aliases, f.value.data, f.value.len);
        f.value.data = ld->old_aliases;
        pos = 0;

        while (pz_list_next(&f, &pos, &item)) {
            akey.mv_data = (void *) item.data;
            akey.mv_size = item.len;

            rc = mdb_get(ld->txn, ld->st.dbi[PZ_ALIASES], &akey, &aval);

            if (rc == 0 && aval.mv_size == id->mv_size
                && memcmp(aval.mv_data, id->mv_data, id->mv_size) == 0)
            {
                rc = mdb_del(ld->txn, ld->st.dbi[PZ_ALIASES], &akey, NULL);
            }

            if (rc != 0 && rc != MDB_NOTFOUND) {
                return rc;
            }
        }
    }

    return mdb_del(ld->txn, ld->st.dbi[PZ_PROFILES], id, NULL);
}


int
pz_delete_one(pz_load_t *ld, const char *id, size_t len)
{
    int      rc;
    char     canon[PZ_ID_MAX];
    MDB_val  key, val;

    if (len == 0 || len > PZ_ID_MAX) {
        pz_msg("%s:%lu: id of %zu bytes, expected 1 to %d", ld->file,
               ld->line, len, PZ_ID_MAX);
        return -1;
    }

    key.mv_data = (void *) id;
    key.mv_size = len;

    if (ld->kind == PZ_ROW_CATALOG) {
        rc = mdb_del(ld->txn, ld->st.dbi[PZ_CATALOG], &key, NULL);

    } else {
        rc = pz_delete_profile(ld, &key);

        if (rc == MDB_NOTFOUND) {
            /* an alias names the profile to erase */
            rc = mdb_get(ld->txn, ld->st.dbi[PZ_ALIASES], &key, &val);

            if (rc == 0) {
                memcpy(canon, val.mv_data, val.mv_size);
                key.mv_data = canon;
                key.mv_size = val.mv_size;

                rc = pz_delete_profile(ld, &key);

                if (rc == MDB_NOTFOUND) {
                    /* a dangling alias: it goes too */
                    key.mv_data = (void *) id;
                    key.mv_size = len;
                    rc = mdb_del(ld->txn, ld->st.dbi[PZ_ALIASES], &key,
                                 NULL);
                }
            }
        }
    }

    if (rc == MDB_NOTFOUND) {
        ld->missing++;
        return 0;
    }

    if (rc != 0) {
        pz_msg("%s:%lu: delete failed: %s", ld->file, ld->line,
               mdb_strerror(rc));
        return -1;
    }

    ld->deleted++;

    return 0;
}


int
pz_retain(pz_load_t *ld)
{
    int          rc;
    char         id[PZ_ID_MAX];
    int64_t      cutoff;
    MDB_val      key, val;
    MDB_cursor  *cur;
    pz_field_t   f;

    cutoff = ld->now - (int64_t) ld->days * 86400;

    rc = mdb_cursor_open(ld->txn, ld->st.dbi[PZ_PROFILES], &cur);
    if (rc != 0) {
        pz_msg("mdb_cursor_open() failed: %s", mdb_strerror(rc));
        return -1;
    }

    rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);

    while (rc == 0) {
        if (pz_interrupted) {
            mdb_cursor_close(cur);
            return -1;
        }

        if (pz_record_find(val.mv_data, val.mv_size, PZ_FIELD_UPDATED_AT,
                           sizeof(PZ_FIELD_UPDATED_AT) - 1, &f) != PZ_OK
            || f.type != PZ_T_TIME || pz_field_num(&f) >= cutoff
            || key.mv_size > PZ_ID_MAX)
        {
            rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
            continue;
        }

        memcpy(id, key.mv_data, key.mv_size);
        key.mv_data = id;

        rc = pz_delete_profile(ld, &key);

        if (rc != 0) {
            mdb_cursor_close(cur);
            pz_msg("delete failed: %s", mdb_strerror(rc));
            return -1;
        }

        ld->deleted++;

        /* the tree changed under the cursor: on to the successor afresh */

        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND) {
        pz_msg("mdb_cursor_get() failed: %s", mdb_strerror(rc));
        return -1;
    }

    return 0;
}
