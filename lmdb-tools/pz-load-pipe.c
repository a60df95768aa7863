/*
 * pz-load: the JSON pipeline.
 */


#include "pz-load.h"


static int pz_pipe_read(pz_pipe_t *p, pz_block_t *b);
static void *pz_pipe_parser(void *arg);
static int pz_out_put(pz_block_t *b, const void *data, size_t len);
static int pz_pipe_parse(pz_load_t *ld, pz_block_t *b, pz_row_t *row,
    pz_json_fast_t *fast);
static int pz_pipe_write(pz_load_t *ld, pz_block_t *b);


/*
 * The JSON pipeline.  Parsing a JSON line costs more than writing its
 * record, so parser threads (one per CPU) take chunks of about 1 MiB of
 * whole lines from the input, parse and encode them, and the main thread
 * writes the results in input order: the transaction stays in one thread
 * and the order of rows (and so of errors and MDB_APPEND) is the input's.
 * A ring of PZ_PIPE_BLOCKS chunks bounds the memory.
 */

int
pz_input_pipe(pz_load_t *ld, FILE *in)
{
    int              rc;
    long             ncpu;
    size_t           i, nthreads;
    struct stat      sb;
    struct timespec  ts;
    static pz_pipe_t p;
    pthread_t   tids[PZ_PIPE_THREADS];
    pz_block_t *b;

    memset(&p, 0, sizeof(pz_pipe_t));
    p.ld = ld;
    p.in = in;
    p.drop_fd = -1;

    if (fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode)) {
        p.drop_fd = fileno(in);
    }

    pthread_mutex_init(&p.rmu, NULL);
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv_slot, NULL);
    pthread_cond_init(&p.cv_full, NULL);

    ncpu = ld->threads > 0 ? ld->threads : sysconf(_SC_NPROCESSORS_ONLN);
    nthreads = ncpu < 1 ? 1 : ncpu > PZ_PIPE_THREADS ? PZ_PIPE_THREADS
                                                      : (size_t) ncpu;

    for (i = 0; i < nthreads; i++) {
        if (pthread_create(&tids[i], NULL, pz_pipe_parser, &p) != 0) {
            pz_msg("pthread_create() failed");
            p.stop = 1;
            nthreads = i;
            break;
        }
    }

    rc = p.stop ? -1 : 0;

    while (rc == 0) {
        pthread_mutex_lock(&p.mu);

        b = &p.blocks[p.consumed % PZ_PIPE_BLOCKS];

        while (!(b->full && b->seq == p.consumed)
               && !(p.total_known && p.consumed == p.total)
               && !p.error && !pz_interrupted)
        {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100000000;

            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }

            (void) pthread_cond_timedwait(&p.cv_full, &p.mu, &ts);
        }

        if (p.error || pz_interrupted || !(b->full && b->seq == p.consumed))
        {
            rc = (p.error || pz_interrupted) ? -1 : 0;
            pthread_mutex_unlock(&p.mu);
            break;
        }

        pthread_mutex_unlock(&p.mu);

        rc = pz_pipe_write(ld, b);

        pthread_mutex_lock(&p.mu);
        b->full = 0;
        p.consumed++;
        pthread_cond_broadcast(&p.cv_slot);
        pthread_mutex_unlock(&p.mu);

        if (pz_interrupted) {
            rc = -1;
        }
    }

    pthread_mutex_lock(&p.mu);
    p.stop = 1;
    pthread_cond_broadcast(&p.cv_slot);
    pthread_mutex_unlock(&p.mu);

    if (pz_interrupted) {
        /* a parser may sit in a read of a quiet pipe: the process exits
         * without waiting for it, the transaction is aborted by then */
        return -1;
    }

    for (i = 0; i < nthreads; i++) {
        pthread_join(tids[i], NULL);
    }

    if (p.read_errno) {
        pz_msg("%s: read failed: %s", ld->file, strerror(p.read_errno));
        rc = -1;
    }

    if (p.too_long) {
        pz_msg("%s:%lu: line longer than %d bytes", ld->file, p.too_long,
               PZ_LINE_MAX);
        rc = -1;
    }

    for (i = 0; i < PZ_PIPE_BLOCKS; i++) {
        free(p.blocks[i].in);
        free(p.blocks[i].out);
    }

    free(p.carry);

    pthread_mutex_destroy(&p.rmu);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv_slot);
    pthread_cond_destroy(&p.cv_full);

    return rc;
}


/* under p->rmu: the next chunk of whole lines into b */

static int
pz_pipe_read(pz_pipe_t *p, pz_block_t *b)
{
    char    *nl, *buf;
    size_t   n, want, start;

    b->in_len = 0;

    if (p->carry_len) {
        if (b->in_cap < p->carry_len + PZ_PIPE_CHUNK) {
            buf = realloc(b->in, p->carry_len + PZ_PIPE_CHUNK);
            if (buf == NULL) {
                return -1;
            }

            b->in = buf;
            b->in_cap = p->carry_len + PZ_PIPE_CHUNK;
        }

        memcpy(b->in, p->carry, p->carry_len);
        b->in_len = p->carry_len;
        p->carry_len = 0;
    }

    start = 0;

    for ( ;; ) {
        want = PZ_PIPE_CHUNK;

        if (b->in_cap - b->in_len < want) {
            if (b->in_len > PZ_LINE_MAX + PZ_PIPE_CHUNK) {
                p->too_long = p->line + 1;
                return -1;
            }

            buf = realloc(b->in, b->in_len + want);
            if (buf == NULL) {
                return -1;
            }

            b->in = buf;
            b->in_cap = b->in_len + want;
        }

        n = fread(b->in + b->in_len, 1, want, p->in);
        b->in_len += n;
        p->read_bytes += n;

        if (p->drop_fd != -1 && p->read_bytes - p->dropped >= PZ_DROP_STEP) {
            (void) posix_fadvise(p->drop_fd, 0, p->read_bytes,
                                 POSIX_FADV_DONTNEED);
            p->dropped = p->read_bytes;
        }

        if (n < want) {
            if (ferror(p->in)) {
                p->read_errno = pz_interrupted ? 0 : errno ? errno : EIO;
                return -1;
            }

            p->eof = 1;
            break;
        }

        /* whole lines only: the tail waits for the next chunk */

        nl = memrchr(b->in + start, '\n', b->in_len - start);

        if (nl != NULL) {
            n = b->in + b->in_len - (nl + 1);

            if (p->carry_cap < n) {
                buf = realloc(p->carry, n + PZ_PIPE_CHUNK);
                if (buf == NULL) {
                    return -1;
                }

                p->carry = buf;
                p->carry_cap = n + PZ_PIPE_CHUNK;
            }

            memcpy(p->carry, nl + 1, n);
            p->carry_len = n;
            b->in_len -= n;
            break;
        }

        start = b->in_len;
    }

    b->first_line = p->line + 1;

    for (nl = memchr(b->in, '\n', b->in_len);
         nl != NULL;
         nl = memchr(nl + 1, '\n', b->in + b->in_len - (nl + 1)))
    {
        p->line++;
    }

    if (b->in_len && b->in[b->in_len - 1] != '\n') {
        p->line++;
    }

    return 0;
}


static void *
pz_pipe_parser(void *arg)
{
    int          rc, stop;
    pz_pipe_t   *p = arg;
    pz_block_t  *b;
    pz_row_t        *row;
    uint64_t         seq;
    pz_json_fast_t  *fast;

    row = malloc(sizeof(pz_row_t));

    if (row != NULL) {
        pz_row_init(row);
    }

    fast = pz_json_fast_new();

    if (fast == NULL) {
        pz_row_free(row);
        free(row);
        row = NULL;
    }

    for ( ;; ) {
        pthread_mutex_lock(&p->rmu);

        pthread_mutex_lock(&p->mu);

        seq = p->next_seq;

        /* the slot of seq is free once the writer is past seq - K */
        while (seq - p->consumed >= PZ_PIPE_BLOCKS && !p->stop
               && !p->error)
        {
            pthread_cond_wait(&p->cv_slot, &p->mu);
        }

        stop = p->stop || p->error || p->eof || row == NULL;

        if (row == NULL) {
            p->error = 1;
            pthread_cond_broadcast(&p->cv_full);
        }

        pthread_mutex_unlock(&p->mu);

        if (stop) {
            pthread_mutex_unlock(&p->rmu);
            break;
        }

        b = &p->blocks[seq % PZ_PIPE_BLOCKS];
        b->full = 0;

        rc = pz_pipe_read(p, b);

        p->next_seq++;

        pthread_mutex_lock(&p->mu);

        b->seq = seq;

        if (p->eof) {
            p->total = p->next_seq;
            p->total_known = 1;
        }

        if (rc != 0) {
            p->error = 1;
            pthread_cond_broadcast(&p->cv_full);
        }

        pthread_mutex_unlock(&p->mu);
        pthread_mutex_unlock(&p->rmu);

        if (rc != 0) {
            break;
        }

        rc = pz_pipe_parse(p->ld, b, row, fast);

        pthread_mutex_lock(&p->mu);

        if (rc != 0) {
            p->error = 1;

        } else {
            b->full = 1;
        }

        pthread_cond_broadcast(&p->cv_full);
        pthread_mutex_unlock(&p->mu);

        if (rc != 0) {
            break;
        }
    }

    if (row != NULL) {
        pz_row_free(row);
        free(row);
    }

    pz_json_fast_free(fast);
    pz_json_arena_free();

    return NULL;
}


static int
pz_out_put(pz_block_t *b, const void *data, size_t len)
{
    size_t          cap;
    unsigned char  *out;

    if (b->out_cap - b->out_len < len) {
        cap = (b->out_cap ? b->out_cap * 2 : 2 * PZ_PIPE_CHUNK) + len;

        out = realloc(b->out, cap);
        if (out == NULL) {
            return -1;
        }

        b->out = out;
        b->out_cap = cap;
    }

    memcpy(b->out + b->out_len, data, len);
    b->out_len += len;

    return 0;
}


/*
 * Results, one per non-blank line:
 *     u32 line offset from b->first_line, u32 raw offset, u32 raw length,
 *     u8 status; then for a good row: u16 id length, id, u16 aliases,
 *     (u16 length, alias)*, u32 record length, record; for a bad row:
 *     u16 length, reason.
 */

static int
pz_pipe_parse(pz_load_t *ld, pz_block_t *b, pz_row_t *row,
    pz_json_fast_t *fast)
{
    int            rc;
    char          *line, *end, *nl;
    size_t         len, i;
    uint8_t        status;
    uint16_t       u16;
    uint32_t       u32[3];
    json_t        *obj;
    json_error_t   jerr;
    unsigned long  lineno;

    b->out_len = 0;
    line = b->in;
    end = b->in + b->in_len;
    lineno = 0;

    for ( /* void */ ; line < end; line = nl + 1, lineno++) {
        nl = memchr(line, '\n', end - line);
        if (nl == NULL) {
            nl = end;
        }

        len = nl - line;

        while (len && line[len - 1] == '\r') {
            len--;
        }

        for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++) {
            /* void */
        }

        if (i == len) {
            continue;
        }

        u32[0] = (uint32_t) lineno;
        u32[1] = (uint32_t) (line - b->in);
        u32[2] = (uint32_t) len;

        /* plain lines take simdjson, the rest jansson (pz_json_fast.h) */

        rc = pz_json_fast_row(fast, row, line, len, ld->schema, ld->kind,
                              ld->now);

        if (rc != 0) {
            /* the objects of the last line die here: no json_decref()
             * walks them (pz_json_arena()) */
            pz_json_arena_reset();

            obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);

            if (obj == NULL) {
                snprintf(row->err, sizeof(row->err), "malformed JSON: %s "
                         "(column %d)", jerr.text, jerr.column);
                rc = -1;

            } else {
                rc = pz_json_to_row(row, obj, ld->schema, ld->kind, 0,
                                    ld->now);
            }
        }

        status = rc == 0 ? 0 : 1;

        if (pz_out_put(b, u32, sizeof(u32)) != 0
            || pz_out_put(b, &status, 1) != 0)
        {
            return -1;
        }

        if (rc != 0) {
            u16 = (uint16_t) strlen(row->err);

            if (pz_out_put(b, &u16, 2) != 0
                || pz_out_put(b, row->err, u16) != 0)
            {
                return -1;
            }

            continue;
        }

        u16 = (uint16_t) row->id_len;

        if (pz_out_put(b, &u16, 2) != 0
            || pz_out_put(b, row->id, row->id_len) != 0)
        {
            return -1;
        }

        u16 = (uint16_t) row->naliases;

        if (pz_out_put(b, &u16, 2) != 0) {
            return -1;
        }

        for (i = 0; i < row->naliases; i++) {
            u16 = (uint16_t) row->aliases[i].len;

            if (pz_out_put(b, &u16, 2) != 0
                || pz_out_put(b, row->aliases[i].data, u16) != 0)
            {
                return -1;
            }
        }

        u32[0] = (uint32_t) row->rec_len;

        if (pz_out_put(b, u32, 4) != 0
            || pz_out_put(b, row->rec, row->rec_len) != 0)
        {
            return -1;
        }
    }

    return 0;
}


/* the main thread: a parsed chunk into the store, in order */

static int
pz_pipe_write(pz_load_t *ld, pz_block_t *b)
{
    int             rc;
    size_t          pos, i;
    uint8_t         status;
    uint16_t        u16;
    uint32_t        u32[3], rec_len;
    const char     *raw;
    unsigned char  *p;

    pos = 0;
    p = b->out;

    while (pos < b->out_len) {
        memcpy(u32, p + pos, sizeof(u32));
        status = p[pos + sizeof(u32)];
        pos += sizeof(u32) + 1;

        ld->line = b->first_line + u32[0];
        raw = b->in + u32[1];

        if (status != 0) {
            memcpy(&u16, p + pos, 2);
            memcpy(ld->row.err, p + pos + 2, u16);
            ld->row.err[u16] = '\0';
            pos += 2 + u16;

            rc = pz_bad_row(ld, raw, u32[2]);

            if (rc != PZ_ROW_OK) {
                return -1;
            }

            continue;
        }

        memcpy(&u16, p + pos, 2);
        ld->row.id = (const char *) p + pos + 2;
        ld->row.id_len = u16;
        pos += 2 + u16;

        memcpy(&u16, p + pos, 2);
        ld->row.naliases = u16;
        pos += 2;

        for (i = 0; i < ld->row.naliases; i++) {
            memcpy(&u16, p + pos, 2);
            ld->row.aliases[i].data = p + pos + 2;
            ld->row.aliases[i].len = u16;
            pos += 2 + u16;
        }

        memcpy(&rec_len, p + pos, 4);
        ld->rec = p + pos + 4;
        ld->rec_len = rec_len;
        pos += 4 + rec_len;

        if (pz_row_write(ld, raw, u32[2]) != PZ_ROW_OK) {
            return -1;
        }
    }

    return 0;
}
