/*
 * pz-load: the alias sorter of a build.
 */


#include "pz-load.h"


static const unsigned char  *pz_sort_base;


static int pz_sent_cmp(const pz_sent_t *a, const pz_sent_t *b);
static int pz_sent_order(const unsigned char *a, const unsigned char *b);
static int pz_sort_cmp(const void *a, const void *b);
static void pz_sent_key(pz_sent_t *e, const unsigned char *key, size_t len);
static unsigned pz_sent_digit(const pz_sent_t *e, unsigned depth);
static void pz_sort_radix(pz_sent_t *a, size_t n, unsigned depth);
static void *pz_sort_alloc(size_t size);
static void pz_sort_buffer(unsigned char *buf, pz_sent_t *ents, size_t n);
static int pz_sort_run(pz_sorter_t *s, unsigned char *buf, pz_sent_t *ents,
    size_t n);
static void *pz_sort_thread(void *arg);
static int pz_sort_wait(pz_sorter_t *s, int stop);
static size_t pz_sent_size(const pz_sorter_t *s, const unsigned char *p,
    size_t have);
static int pz_sort_next(pz_sorter_t *s, int r);
static int pz_head_cmp(pz_sorter_t *s, int a, int b);
static int pz_sort_emit(pz_load_t *ld, pz_sorter_t *s,
    const unsigned char *e);
static void pz_heap_down(pz_sorter_t *s, int *heap, int n, int i);


/*
 * Aliases of a replace: sorted apart and appended at the end.  Aliases
 * arrive in random order (e-mail hashes, cookie ids); inserting them one
 * by one into the B-tree costs more than the whole rest of a load.  So
 * they are gathered in a buffer of PZ_SORT_MEM bytes, sorted, spilled as
 * runs into unlinked files beside the new generation, and merged into the
 * aliases database with MDB_APPEND.  Memory stays flat.  Two rows
 * claiming one alias show up as neighbours in the merge, the earlier row
 * first: entries that tie sort by file and line (pz_sent_order()).
 *
 * The buffer is sorted by a radix sort on the first 16 bytes of the
 * aliases, kept in the index entries: a comparison sort through qsort()
 * spent most of its time in calls and in cache misses on the buffer.
 */

static int
pz_sent_cmp(const pz_sent_t *a, const pz_sent_t *b)
{
    int       rc;
    uint32_t  n;

    if (a->k0 != b->k0) {
        return a->k0 < b->k0 ? -1 : 1;
    }

    if (a->k1 != b->k1) {
        return a->k1 < b->k1 ? -1 : 1;
    }

    if (a->len > 16 && b->len > 16) {
        n = (a->len < b->len ? a->len : b->len) - 16;

        rc = memcmp(pz_sort_base + a->off + PZ_SENT_HDR + 16,
                    pz_sort_base + b->off + PZ_SENT_HDR + 16, n);

        if (rc != 0) {
            return rc;
        }
    }

    if (a->len != b->len) {
        return a->len < b->len ? -1 : 1;
    }

    rc = pz_sent_order(pz_sort_base + a->off, pz_sort_base + b->off);

    return rc != 0 ? rc : (a->off > b->off) - (a->off < b->off);
}


/*
 * Of two entries with one key, the earlier row comes first: by file, then
 * line (rows of a build with unsorted input reach the alias sorter in the
 * order of their ids, not of the input); 0 for one row.
 */

static int
pz_sent_order(const unsigned char *a, const unsigned char *b)
{
    uint16_t  fa, fb;
    uint32_t  la, lb;

    memcpy(&fa, a + 8, 2);
    memcpy(&fb, b + 8, 2);

    if (fa != fb) {
        return fa < fb ? -1 : 1;
    }

    memcpy(&la, a + 4, 4);
    memcpy(&lb, b + 4, 4);

    return (la > lb) - (la < lb);
}


static int
pz_sort_cmp(const void *a, const void *b)
{
    return pz_sent_cmp(a, b);
}


static unsigned
pz_sent_digit(const pz_sent_t *e, unsigned depth)
{
    return depth < 8 ? (e->k0 >> (56 - 8 * depth)) & 0xff
                     : (e->k1 >> (56 - 8 * (depth - 8))) & 0xff;
}


/* an in-place MSD radix sort (American flag sort) on byte "depth" */

static void
pz_sort_radix(pz_sent_t *a, size_t n, unsigned depth)
{
    size_t     i, j, b, d, count[256], next[256], end[256];
    pz_sent_t  t, u;

    for ( ;; ) {
        if (n < 32) {
            for (i = 1; i < n; i++) {
                t = a[i];

                for (j = i; j > 0 && pz_sent_cmp(&t, &a[j - 1]) < 0; j--) {
                    a[j] = a[j - 1];
                }

                a[j] = t;
            }

            return;
        }

        if (depth == 16) {
            qsort(a, n, sizeof(pz_sent_t), pz_sort_cmp);
            return;
        }

        memset(count, 0, sizeof(count));

        for (i = 0; i < n; i++) {
            count[pz_sent_digit(&a[i], depth)]++;
        }

        if (count[pz_sent_digit(&a[0], depth)] != n) {
            break;
        }

        /* one byte shared by all: on to the next */
        depth++;
    }

    for (i = 0, b = 0; b < 256; b++) {
        next[b] = i;
        i += count[b];
        end[b] = i;
    }

    for (b = 0; b < 256; b++) {
        while (next[b] < end[b]) {
            t = a[next[b]];
            d = pz_sent_digit(&t, depth);

            while (d != b) {
                u = a[next[d]];
                a[next[d]++] = t;
                t = u;
                d = pz_sent_digit(&t, depth);
            }

            a[next[b]++] = t;
        }
    }

    for (i = 0, b = 0; b < 256; b++) {
        if (count[b] > 1) {
            pz_sort_radix(a + i, count[b], depth + 1);
        }

        i += count[b];
    }
}


/*
 * Room for an entry of "need" bytes in s, a sorter of "mem" bytes: the
 * buffers on first use, a spill when full.  PZ_TEST_SORT_MEM makes them
 * small, so that the test suite sees runs and merges.
 */

int
pz_sort_reserve(pz_load_t *ld, pz_sorter_t *s, size_t mem, size_t need)
{
    const char  *test;

    if (s->buf == NULL) {
        test = getenv("PZ_TEST_SORT_MEM");

        if (test != NULL && atol(test) >= 4096) {
            mem = (size_t) atol(test);
        }

        s->mem = mem;
        s->ents_cap = mem / (s->profiles ? PZ_ORDER_ENT_MIN : 32);
        s->buf = pz_sort_alloc(mem);
        s->ents = pz_sort_alloc(s->ents_cap * sizeof(pz_sent_t));
        s->dir = ld->fresh ? ld->st.dir : ld->gen_dir;

        if (s->buf == NULL || s->ents == NULL) {
            pz_msg("out of memory");
            return -1;
        }
    }

    if (need > s->mem) {
        /* not with the real sizes: a record and its raw line fit */
        pz_msg("an entry of %zu bytes is larger than the sort buffer",
               need);
        return -1;
    }

    if (need > s->max_ent) {
        s->max_ent = need;
    }

    if (s->len + need > s->mem || s->n == s->ents_cap) {
        if (pz_sort_spill(ld, s) != 0) {
            return -1;
        }
    }

    return 0;
}


/*
 * An entry's size; of a profile entry (pz-load-order.c) only once "have"
 * bytes show its lengths, else the bytes needed to see them.
 */

static size_t
pz_sent_size(const pz_sorter_t *s, const unsigned char *p, size_t have)
{
    size_t    n;
    uint16_t  la, li;
    uint32_t  len[2];

    memcpy(&la, p, 2);
    memcpy(&li, p + 2, 2);
    n = PZ_SENT_HDR + la + li;

    if (!s->profiles) {
        return n;
    }

    if (have < n + PZ_OENT_LENS) {
        return n + PZ_OENT_LENS;
    }

    memcpy(len, p + n, 8);

    return n + PZ_OENT_LENS + len[0] + len[1];
}


int
pz_sort_add(pz_load_t *ld, const pz_bytes_t *alias)
{
    size_t          need;
    pz_sorter_t    *s;
    unsigned char  *p;

    s = &ld->sorter;

    need = PZ_SENT_HDR + alias->len + ld->row.id_len;

    if (pz_sort_reserve(ld, s, PZ_SORT_MEM, need) != 0) {
        return -1;
    }

    p = pz_sort_entry(ld, s, alias->data, alias->len, ld->row.id_len,
                      need, 0);
    memcpy(p, ld->row.id, ld->row.id_len);

    return 0;
}


/*
 * An entry of "need" bytes (pz_sort_reserve() made room) for the row of
 * ld: the header, the key, and its index entry; the rest is the caller's,
 * from the pointer returned.  A row moved from the store (pz-load-order.c)
 * has no line, and comes before every row read after it.
 */

unsigned char *
pz_sort_entry(pz_load_t *ld, pz_sorter_t *s, const void *key,
    size_t key_len, size_t id_len, size_t need, int moved)
{
    uint16_t        u16;
    uint32_t        u32;
    pz_sent_t      *e;
    unsigned char  *p;
    unsigned long   first, lines;

    /* a CSV row may span lines: -x may have to copy them all */
    first = moved ? 0 : ld->in_csv ? ld->row_line : ld->line;
    lines = moved ? 0 : ld->line - first + 1;

    p = s->buf + s->len;

    u16 = (uint16_t) key_len;
    memcpy(p, &u16, 2);
    u16 = (uint16_t) id_len;
    memcpy(p + 2, &u16, 2);
    u32 = (uint32_t) first;
    memcpy(p + 4, &u32, 4);
    u16 = (uint16_t) ld->file_idx;
    memcpy(p + 8, &u16, 2);
    u16 = (uint16_t) (lines > 0xffff ? 0xffff : lines);
    memcpy(p + 10, &u16, 2);
    memcpy(p + PZ_SENT_HDR, key, key_len);

    e = &s->ents[s->n++];
    pz_sent_key(e, p + PZ_SENT_HDR, key_len);
    e->off = (uint32_t) s->len;
    s->len += need;

    return p + PZ_SENT_HDR + key_len;
}


/*
 * The sort buffers are filled page by page: in huge pages (where the
 * kernel has them for madvise()) that is a few hundred page faults
 * instead of some 30,000, which a virtual machine makes dear.
 */

/* the first 16 bytes, zero padded, as two big-endian numbers */

static void
pz_sent_key(pz_sent_t *e, const unsigned char *alias, size_t len)
{
    uint64_t       k[2];
    unsigned char  pre[16];

    memset(pre, 0, sizeof(pre));
    memcpy(pre, alias, len < 16 ? len : 16);
    memcpy(&k[0], pre, 8);
    memcpy(&k[1], pre + 8, 8);

    e->k0 = be64toh(k[0]);
    e->k1 = be64toh(k[1]);
    e->len = (uint32_t) len;
}


static void *
pz_sort_alloc(size_t size)
{
    void  *p;

    if (posix_memalign(&p, PZ_SORT_ALIGN, size) != 0) {
        return NULL;
    }

    (void) madvise(p, size, MADV_HUGEPAGE);

    return p;
}


static void
pz_sort_buffer(unsigned char *buf, pz_sent_t *ents, size_t n)
{
    pz_sort_base = buf;
    pz_sort_radix(ents, n, 0);
}


int
pz_write_all(int fd, const unsigned char *p, size_t len)
{
    ssize_t  n;

    while (len) {
        n = write(fd, p, len);

        if (n == -1) {
            if (errno == EINTR && !pz_interrupted) {
                continue;
            }

            return -1;
        }

        p += n;
        len -= n;
    }

    return 0;
}


/* a sorted run of the buffer into an unlinked file of s->dir: its fd */

static int
pz_sort_run(pz_sorter_t *s, unsigned char *buf, pz_sent_t *ents, size_t n)
{
    int             fd;
    char            path[PATH_MAX + 32];
    size_t          i, len, wlen;
    unsigned char  *p;

    pz_sort_buffer(buf, ents, n);

    snprintf(path, sizeof(path), "%s/sort-%d.tmp", s->dir, s->nruns);

    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1) {
        pz_msg("%s: %s", path, strerror(errno));
        return -1;
    }

    (void) unlink(path);

    wlen = 0;

    for (i = 0; i < n; i++) {
        /* the entries lie in the buffer in input order, not sorted */
        if (i + 16 < n) {
            __builtin_prefetch(buf + ents[i + 16].off);
        }

        p = buf + ents[i].off;
        len = pz_sent_size(s, p, SIZE_MAX);

        if (wlen + len > PZ_SORT_IO) {
            if (pz_write_all(fd, s->wbuf, wlen) != 0) {
                goto failed;
            }

            wlen = 0;
        }

        if (len > PZ_SORT_IO) {
            /* a big record goes on its own */
            if (pz_write_all(fd, p, len) != 0) {
                goto failed;
            }

            continue;
        }

        memcpy(s->wbuf + wlen, p, len);
        wlen += len;
    }

    if (pz_write_all(fd, s->wbuf, wlen) != 0
        || lseek(fd, 0, SEEK_SET) != 0)
    {
        goto failed;
    }

    return fd;

failed:

    pz_msg("%s: write failed: %s", s->dir, strerror(errno));
    close(fd);

    return -1;
}


static void *
pz_sort_thread(void *arg)
{
    int           fd;
    pz_sorter_t  *s = arg;

    pthread_mutex_lock(&s->mu);

    for ( ;; ) {
        while (s->job_buf == NULL && !s->quit) {
            pthread_cond_wait(&s->cv, &s->mu);
        }

        if (s->job_buf == NULL) {
            break;
        }

        s->busy = 1;
        pthread_mutex_unlock(&s->mu);

        fd = pz_sort_run(s, s->job_buf, s->job_ents, s->job_n);

        pthread_mutex_lock(&s->mu);
        s->job_buf = NULL;
        s->busy = 0;

        if (fd == -1) {
            s->failed = 1;

        } else {
            s->runs[s->nruns++] = fd;
        }

        pthread_cond_broadcast(&s->cv);
    }

    pthread_mutex_unlock(&s->mu);

    return NULL;
}


/* the spill thread done with its buffer (and gone, with "stop") */

static int
pz_sort_wait(pz_sorter_t *s, int stop)
{
    int  failed;

    if (!s->thread_on) {
        return 0;
    }

    pthread_mutex_lock(&s->mu);

    while (s->job_buf != NULL || s->busy) {
        pthread_cond_wait(&s->cv, &s->mu);
    }

    failed = s->failed;

    if (stop) {
        s->quit = 1;
        pthread_cond_broadcast(&s->cv);
    }

    pthread_mutex_unlock(&s->mu);

    if (stop) {
        pthread_join(s->tid, NULL);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        s->thread_on = 0;
    }

    return failed ? -1 : 0;
}


/*
 * A full buffer goes to the spill thread, and the spare one (spilled
 * before) takes the next aliases: the writer does not stop for a sort.
 * Without the thread the buffer is spilled here.
 */

int
pz_sort_spill(pz_load_t *ld, pz_sorter_t *s)
{
    int            fd;
    void          *t;

    (void) ld;

    if (pz_sort_wait(s, 0) != 0) {
        return -1;
    }

    if (s->nruns >= PZ_SORT_RUNS - 1) {
        pz_msg("more than %d sort runs of %zu MiB: sort the input by id "
               "first", PZ_SORT_RUNS, s->mem >> 20);
        return -1;
    }

    if (s->wbuf == NULL) {
        s->wbuf = malloc(PZ_SORT_IO);
        s->spare_buf = pz_sort_alloc(s->mem);
        s->spare_ents = pz_sort_alloc(s->ents_cap * sizeof(pz_sent_t));

        if (s->wbuf == NULL || s->spare_buf == NULL || s->spare_ents == NULL)
        {
            pz_msg("out of memory");
            return -1;
        }

        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->cv, NULL);

        s->thread_on = pthread_create(&s->tid, NULL, pz_sort_thread, s)
                       == 0;

        if (!s->thread_on) {
            pthread_mutex_destroy(&s->mu);
            pthread_cond_destroy(&s->cv);
        }
    }

    if (!s->thread_on) {
        fd = pz_sort_run(s, s->buf, s->ents, s->n);

        if (fd == -1) {
            return -1;
        }

        s->runs[s->nruns++] = fd;
        s->n = 0;
        s->len = 0;

        return 0;
    }

    pthread_mutex_lock(&s->mu);
    s->job_buf = s->buf;
    s->job_ents = s->ents;
    s->job_n = s->n;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);

    t = s->buf;
    s->buf = s->spare_buf;
    s->spare_buf = t;

    t = s->ents;
    s->ents = s->spare_ents;
    s->spare_ents = t;

    s->n = 0;
    s->len = 0;

    return 0;
}


/*
 * The next entry of run r: s->heads[r] points to it inside the run's
 * slice of the buffer; 0, 1 at the end, -1 on error.
 */

static int
pz_sort_next(pz_sorter_t *s, int r)
{
    size_t          have, want;
    ssize_t         n;
    uint16_t        la, li;
    unsigned char  *slice;

    want = 0;

    slice = s->buf + (size_t) r * s->slice;

    for ( ;; ) {
        have = s->rlen[r] - s->rpos[r];
        want = PZ_SENT_HDR;

        if (have >= PZ_SENT_HDR) {
            memcpy(&la, slice + s->rpos[r], 2);
            memcpy(&li, slice + s->rpos[r] + 2, 2);

            if (la > PZ_ID_MAX || li > PZ_ID_MAX) {
                return -1;
            }

            want = pz_sent_size(s, slice + s->rpos[r], have);

            if (have >= want) {
                s->heads[r] = slice + s->rpos[r];
                s->rpos[r] += want;
                pz_sent_key(&s->keys[r], s->heads[r] + PZ_SENT_HDR, la);
                return 0;
            }
        }

        /* the rest to the front, then fill up */

        memmove(slice, slice + s->rpos[r], have);
        s->rpos[r] = 0;
        s->rlen[r] = have;

        do {
            n = read(s->runs[r], slice + have, s->slice - have);
        } while (n == -1 && errno == EINTR && !pz_interrupted);

        if (n == -1) {
            return -1;
        }

        if (n == 0 || want > s->slice) {
            return have == 0 && n == 0 ? 1 : -1;
        }

        s->rlen[r] += n;
    }
}


static int
pz_head_cmp(pz_sorter_t *s, int a, int b)
{
    int              rc;
    const pz_sent_t  *ka, *kb;

    /* the 16 first bytes decide most comparisons */

    ka = &s->keys[a];
    kb = &s->keys[b];

    if (ka->k0 != kb->k0) {
        return ka->k0 < kb->k0 ? -1 : 1;
    }

    if (ka->k1 != kb->k1) {
        return ka->k1 < kb->k1 ? -1 : 1;
    }

    rc = pz_id_cmp(s->heads[a] + PZ_SENT_HDR, ka->len,
                   s->heads[b] + PZ_SENT_HDR, kb->len);

    if (rc != 0) {
        return rc;
    }

    /* a tie goes to the earlier row, then to the earlier run */
    rc = pz_sent_order(s->heads[a], s->heads[b]);

    return rc != 0 ? rc : a - b;
}


/* one sorted entry into the aliases database */

static int
pz_sort_emit(pz_load_t *ld, pz_sorter_t *s, const unsigned char *e)
{
    int         rc;
    uint16_t    la, li, fi;
    uint32_t    line;
    MDB_val     key, val;
    pz_claim_t  claim;

    if (s->profiles) {
        return pz_order_emit(ld, e);
    }

    memcpy(&la, e, 2);
    memcpy(&li, e + 2, 2);
    memcpy(&line, e + 4, 4);
    memcpy(&fi, e + 8, 2);

    key.mv_data = (void *) (e + PZ_SENT_HDR);
    key.mv_size = la;
    val.mv_data = (void *) (e + PZ_SENT_HDR + la);
    val.mv_size = li;

    if (s->prev_len == la
        && memcmp(s->prev, key.mv_data, la) == 0)
    {
        if (ld->reject == NULL) {
            pz_msg("%s:%lu: alias \"%.*s\" of \"%.*s\" already belongs to "
                   "\"%.*s\"", ld->files[fi], (unsigned long) line, (int) la,
                   (char *) key.mv_data, (int) li, (char *) val.mv_data,
                   (int) s->prev_id_len, s->prev_id);
            return -1;
        }

        /* -x: which rows go is settled once all claims are known */

        if (!s->prev_claimed) {
            s->owner.group = s->groups++;

            if (pz_claim_add(ld, &s->owner) != 0) {
                return -1;
            }

            s->prev_claimed = 1;
        }

        pz_claim_set(&claim, e);
        claim.group = s->owner.group;

        return pz_claim_add(ld, &claim);
    }

    memcpy(s->prev, key.mv_data, la);
    s->prev_len = la;
    memcpy(s->prev_id, val.mv_data, li);
    s->prev_id_len = li;
    s->prev_claimed = 0;

    if (ld->reject != NULL) {
        pz_claim_set(&s->owner, e);
    }

    rc = pz_append(ld, PZ_ALIASES, &key, &val, MDB_APPEND);

    if (rc != 0) {
        pz_msg("mdb_put(aliases) failed: %s", mdb_strerror(rc));
        return -1;
    }

    if (ld->mode == PZ_MODE_REPLACE
        && ++ld->txn_rows >= PZ_REPLACE_TXN_ROWS * 4)
    {
        return pz_commit(ld, 0);
    }

    return 0;
}


/* the runs are merged through a binary heap of run numbers */

static void
pz_heap_down(pz_sorter_t *s, int *heap, int n, int i)
{
    int  c, t;

    for ( ;; ) {
        c = 2 * i + 1;

        if (c >= n) {
            return;
        }

        if (c + 1 < n && pz_head_cmp(s, heap[c + 1], heap[c]) < 0) {
            c++;
        }

        if (pz_head_cmp(s, heap[i], heap[c]) <= 0) {
            return;
        }

        t = heap[i];
        heap[i] = heap[c];
        heap[c] = t;
        i = c;
    }
}


int
pz_sort_finish(pz_load_t *ld, pz_sorter_t *s)
{
    int             rc, r, n, fd, heap[PZ_SORT_RUNS];
    size_t          i;
    unsigned char  *buf;

    if (pz_sort_wait(s, 1) != 0) {
        return -1;
    }

    if (s->nruns == 0) {
        pz_sort_buffer(s->buf, s->ents, s->n);

        for (i = 0; i < s->n; i++) {
            if (pz_interrupted || pz_sort_emit(ld, s, s->buf + s->ents[i].off))
            {
                return -1;
            }
        }

        return 0;
    }

    if (s->n) {
        fd = pz_sort_run(s, s->buf, s->ents, s->n);

        if (fd == -1) {
            return -1;
        }

        s->runs[s->nruns++] = fd;
    }

    /* the buffer is free now: a slice of it reads each run, one that
     * holds the largest entry */

    s->slice = s->mem / s->nruns;

    if (s->slice < s->max_ent) {
        s->slice = s->max_ent;

        buf = pz_sort_alloc(s->slice * s->nruns);
        if (buf == NULL) {
            pz_msg("out of memory");
            return -1;
        }

        free(s->buf);
        s->buf = buf;
    }
    n = 0;

    for (r = 0; r < s->nruns; r++) {
        s->rpos[r] = 0;
        s->rlen[r] = 0;

        rc = pz_sort_next(s, r);

        if (rc < 0) {
            pz_msg("%s: reading a sort run failed", ld->gen_dir);
            return -1;
        }

        if (rc == 0) {
            heap[n++] = r;
        }
    }

    for (r = n / 2 - 1; r >= 0; r--) {
        pz_heap_down(s, heap, n, r);
    }

    while (n) {
        r = heap[0];

        if (pz_interrupted || pz_sort_emit(ld, s, s->heads[r]) != 0) {
            return -1;
        }

        rc = pz_sort_next(s, r);

        if (rc < 0) {
            pz_msg("%s: reading a sort run failed", ld->gen_dir);
            return -1;
        }

        if (rc == 1) {
            heap[0] = heap[--n];
        }

        pz_heap_down(s, heap, n, 0);
    }

    return 0;
}


void
pz_sort_free(pz_sorter_t *s)
{
    int  r;

    (void) pz_sort_wait(s, 1);

    for (r = 0; r < s->nruns; r++) {
        close(s->runs[r]);
    }

    s->nruns = 0;
    free(s->buf);
    free(s->ents);
    free(s->spare_buf);
    free(s->spare_ents);
    free(s->wbuf);
    free(s->claims);
    s->buf = NULL;
    s->ents = NULL;
    s->spare_buf = NULL;
    s->spare_ents = NULL;
    s->wbuf = NULL;
    s->claims = NULL;
    s->nclaims = 0;
    s->claims_cap = 0;
}
