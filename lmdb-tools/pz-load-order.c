/*
 * pz-load: the unsorted profiles of a build.
 *
 * A build appends profiles with MDB_APPEND while their ids come in order.
 * From the first id out of order on, inserting them one by one would
 * rewrite pages all over the B-tree: every commit of 10,000 random rows
 * dirties about as many pages, and the time grows faster than the input
 * (767 s for 10M profiles).  So the rest of the rows go through a sorter
 * of their own (the alias sorter's runs, radix sort and merge, with
 * entries that carry the record) and, once the input is read, come back
 * sorted to the ordinary write path: ids past the last one are appended,
 * ids that fall between the rows written before are inserted.
 *
 * Nothing changes for the rows themselves: the same checks, duplicates
 * found (as neighbours now) with file and line, the same reject file.
 */


#include "pz-load.h"


#define PZ_OENT_CSV             0x01
#define PZ_OENT_MOVED           0x02    /* its aliases are sorted already */


static int pz_order_entry(pz_load_t *ld, const MDB_val *id,
    const MDB_val *rec, const char *raw, size_t raw_len, unsigned flags);
static int pz_order_move(pz_load_t *ld);


int
pz_order_wanted(pz_load_t *ld)
{
    if (ld->kind != PZ_ROW_PROFILE || ld->ordered
        || (ld->mode != PZ_MODE_REPLACE && !ld->fresh))
    {
        return 0;
    }

    if (!ld->ordering && ld->have_prev
        && pz_id_cmp(ld->row.id, ld->row.id_len, ld->prev, ld->prev_len) <= 0)
    {
        ld->ordering = 1;

        if (ld->appended <= PZ_ORDER_MOVE_MAX && pz_order_move(ld) != 0) {
            return -1;
        }
    }

    return ld->ordering;
}


/*
 * The rows appended before the first step back join the sorter too: the
 * rows that fall between them would go in by search, and B-tree pages
 * split that way stay half empty (a third more file, and slower).
 */

static int
pz_order_move(pz_load_t *ld)
{
    int          rc;
    size_t       n;
    MDB_val      key, val;
    MDB_cursor  *cur;

    rc = mdb_cursor_open(ld->txn, ld->st.dbi[PZ_PROFILES], &cur);
    if (rc != 0) {
        pz_msg("mdb_cursor_open() failed: %s", mdb_strerror(rc));
        return -1;
    }

    n = 0;

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (pz_order_entry(ld, &key, &val, NULL, 0, PZ_OENT_MOVED) != 0) {
            mdb_cursor_close(cur);
            return -1;
        }

        n++;
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND) {
        pz_msg("mdb_cursor_get(profiles) failed: %s", mdb_strerror(rc));
        return -1;
    }

    rc = mdb_drop(ld->txn, ld->st.dbi[PZ_PROFILES], 0);
    if (rc != 0) {
        pz_msg("mdb_drop(profiles) failed: %s", mdb_strerror(rc));
        return -1;
    }

    /* they are written, and counted, once more */
    ld->rows -= n;
    ld->batch_rows -= n;
    ld->txn_rows = ld->txn_rows > n ? ld->txn_rows - n : 0;
    ld->appended -= n;
    ld->have_prev = 0;

    return 0;
}


/* the row of ld into the sorter; raw (NULL for CSV) is kept for -x */

int
pz_order_add(pz_load_t *ld, const char *raw, size_t raw_len)
{
    int      rc;
    char    *text;
    size_t   text_len;
    MDB_val  id, rec;
    FILE    *f;

    text = NULL;
    text_len = 0;

    if (ld->reject == NULL) {
        raw_len = 0;

    } else if (raw == NULL) {
        /* a CSV row, as the reject file would have it */
        f = open_memstream(&text, &text_len);
        if (f == NULL) {
            pz_msg("out of memory");
            return PZ_ROW_FATAL;
        }

        pz_csv_row_put(ld, f);

        if (fclose(f) != 0) {
            free(text);
            pz_msg("out of memory");
            return PZ_ROW_FATAL;
        }

        raw = text;
        raw_len = text_len;
    }

    id.mv_data = (void *) ld->row.id;
    id.mv_size = ld->row.id_len;
    rec.mv_data = (void *) ld->rec;
    rec.mv_size = ld->rec_len;

    rc = pz_order_entry(ld, &id, &rec, raw, raw_len,
                        ld->in_csv ? PZ_OENT_CSV : 0);

    free(text);

    if (rc != 0) {
        return PZ_ROW_FATAL;
    }

    ld->order_rows++;

    return PZ_ROW_OK;
}


static int
pz_order_entry(pz_load_t *ld, const MDB_val *id, const MDB_val *rec,
    const char *raw, size_t raw_len, unsigned flags)
{
    size_t          need;
    uint32_t        u32[2];
    pz_sorter_t    *s;
    unsigned char  *p;

    s = &ld->order;
    s->profiles = 1;

    need = PZ_SENT_HDR + id->mv_size + PZ_OENT_LENS + rec->mv_size + raw_len;

    if (pz_sort_reserve(ld, s, PZ_ORDER_MEM, need) != 0) {
        return -1;
    }

    p = pz_sort_entry(ld, s, id->mv_data, id->mv_size, 0, need,
                      flags & PZ_OENT_MOVED);

    u32[0] = (uint32_t) rec->mv_size;
    u32[1] = (uint32_t) raw_len;
    memcpy(p, u32, 8);
    p[8] = (unsigned char) flags;
    p += PZ_OENT_LENS;

    memcpy(p, rec->mv_data, rec->mv_size);

    if (raw_len) {
        memcpy(p + rec->mv_size, raw, raw_len);
    }

    return 0;
}


/* one sorted entry back to the write path */

int
pz_order_emit(pz_load_t *ld, const unsigned char *e)
{
    int                   rc;
    size_t                pos;
    unsigned              flags;
    uint16_t              la, fi, lines;
    uint32_t              line, len[2];
    pz_field_t            f;
    pz_bytes_t            item;
    const unsigned char  *p, *raw;

    memcpy(&la, e, 2);
    memcpy(&line, e + 4, 4);
    memcpy(&fi, e + 8, 2);
    memcpy(&lines, e + 10, 2);

    p = e + PZ_SENT_HDR;
    ld->row.id = (const char *) p;
    ld->row.id_len = la;
    p += la;

    memcpy(len, p, 8);
    flags = p[8];
    ld->in_csv = (flags & PZ_OENT_CSV) != 0;
    p += PZ_OENT_LENS;

    ld->rec = p;
    ld->rec_len = len[0];
    raw = p + len[0];

    /* the aliases, for the alias sorter, are the record's own; those of a
     * moved row are in the sorter already */

    ld->row.naliases = 0;

    if (!(flags & PZ_OENT_MOVED)
        && pz_record_find(ld->rec, ld->rec_len, PZ_FIELD_ALIASES,
                       sizeof(PZ_FIELD_ALIASES) - 1, &f) == PZ_OK)
    {
        pos = 0;

        while (ld->row.naliases < PZ_LIST_MAX
               && pz_list_next(&f, &pos, &item))
        {
            ld->row.aliases[ld->row.naliases++] = item;
        }
    }

    ld->file_idx = fi;
    ld->file = ld->files[fi];
    ld->row_line = line;
    ld->line = line + (lines ? lines - 1 : 0);

    rc = pz_row_write(ld, (const char *) raw, len[1]);

    ld->in_csv = 0;

    return rc == PZ_ROW_OK ? 0 : -1;
}


/* once the input is read: the sorted rows into the store */

int
pz_order_finish(pz_load_t *ld)
{
    int  rc;

    if (ld->order.buf == NULL) {
        return 0;
    }

    ld->ordered = 1;
    rc = pz_sort_finish(ld, &ld->order);
    ld->ordered = 0;
    ld->ordering = 0;

    pz_sort_free(&ld->order);

    return rc;
}
