/*
 * pz-load: input.  JSON lines (without parser threads), CSV through
 * libcsv, the ids of -D; a row into a record and the store, and a bad row
 * into the reject file or a failure.
 */


#include "pz-load.h"


static int pz_input_json(pz_load_t *ld, FILE *in);
static int pz_input_csv(pz_load_t *ld, FILE *in);
static void pz_csv_cell(void *s, size_t len, void *data);
static void pz_csv_row(int c, void *data);
static int pz_csv_header(pz_load_t *ld);
static void pz_csv_put(FILE *f, const char *cell, size_t len);
static int pz_input_ids(pz_load_t *ld, FILE *in);
static int pz_next_line(pz_load_t *ld, FILE *in, char **buf, size_t *cap,
    ssize_t *len);
static int pz_row(pz_load_t *ld, json_t *obj, const char *raw,
    size_t raw_len);
static FILE *pz_input_copy(pz_load_t *ld, FILE *in);


int
pz_input(pz_load_t *ld, const char *name)
{
    int          rc, csv;
    FILE        *in;
    size_t       len;

    if (strcmp(name, "-") == 0) {
        in = stdin;
        ld->file = "stdin";

    } else {
        in = fopen(name, "r");
        if (in == NULL) {
            pz_msg("%s: %s", name, strerror(errno));
            return -1;
        }

        ld->file = name;
    }

    if (ld->reject != NULL && ld->kind == PZ_ROW_PROFILE
        && (ld->mode == PZ_MODE_REPLACE || ld->fresh)
        && !pz_rereadable(ld, ld->file_idx))
    {
        in = pz_input_copy(ld, in);
        if (in == NULL) {
            return -1;
        }
    }

    ld->line = 0;

    len = strlen(name);
    csv = ld->format == 1
          || (ld->format == -1 && len > 4
              && strcasecmp(name + len - 4, ".csv") == 0);

    if (ld->mode == PZ_MODE_DELETE) {
        rc = pz_input_ids(ld, in);

    } else if (csv) {
        rc = pz_input_csv(ld, in);

    } else if (ld->threads) {
        rc = pz_input_pipe(ld, in);

    } else {
        rc = pz_input_json(ld, in);
    }

    if (in != stdin) {
        fclose(in);
    }

    return rc;
}


/*
 * Rows rejected for an alias claimed twice (-x) are known only once all
 * rows are in, and go to the reject file as they were: read again from
 * their file.  Input that cannot be read again (stdin, a pipe) is first
 * copied into an unlinked file beside the new store, and read from there.
 */

static FILE *
pz_input_copy(pz_load_t *ld, FILE *in)
{
    int             fd, *fds;
    char            path[PATH_MAX + 32], *buf;
    size_t          n;
    ssize_t         r;
    FILE           *copy;
    struct pollfd   pfd;

    snprintf(path, sizeof(path), "%s/input-XXXXXX",
             ld->fresh ? ld->st.dir : ld->gen_dir);

    fd = mkostemp(path, O_CLOEXEC);
    if (fd == -1) {
        pz_msg("%s: %s", path, strerror(errno));
        goto failed;
    }

    (void) unlink(path);

    if (ld->file_idx >= ld->ncopies) {
        fds = realloc(ld->copy_fds, (ld->file_idx + 1) * sizeof(int));
        if (fds == NULL) {
            goto nomem;
        }

        for (n = ld->ncopies; n <= ld->file_idx; n++) {
            fds[n] = -1;
        }

        ld->copy_fds = fds;
        ld->ncopies = ld->file_idx + 1;
    }

    buf = malloc(PZ_SORT_IO);
    if (buf == NULL) {
        goto nomem;
    }

    /* a quiet pipe must not keep a signal waiting (an fread() there did
     * not come back): poll() looks at pz_interrupted ten times a second */

    pfd.fd = fileno(in);
    pfd.events = POLLIN;

    for ( ;; ) {
        if (pz_interrupted) {
            free(buf);
            goto failed;
        }

        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }

        r = read(pfd.fd, buf, PZ_SORT_IO);

        if (r == 0) {
            break;
        }

        if (r == -1) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }

            pz_msg("%s: read failed: %s", ld->file, strerror(errno));
            free(buf);
            goto failed;
        }

        if (pz_write_all(fd, (unsigned char *) buf, (size_t) r) != 0) {
            pz_msg("%s: %s", path, strerror(errno));
            free(buf);
            goto failed;
        }
    }

    free(buf);

    if (in != stdin) {
        fclose(in);
    }

    ld->copy_fds[ld->file_idx] = fd;

    copy = fopen(pz_reread_path(ld, ld->file_idx), "r");
    if (copy == NULL) {
        pz_msg("%s: %s", pz_reread_path(ld, ld->file_idx), strerror(errno));
    }

    return copy;

nomem:

    pz_msg("out of memory");

failed:

    if (fd != -1) {
        close(fd);
    }

    if (in != stdin) {
        fclose(in);
    }

    return NULL;
}


static int
pz_input_json(pz_load_t *ld, FILE *in)
{
    int            rc;
    char          *buf, *p;
    size_t         cap;
    ssize_t        n;
    json_t        *obj;
    json_error_t   jerr;

    buf = NULL;
    cap = 0;
    rc = 0;

    for ( ;; ) {
        rc = pz_next_line(ld, in, &buf, &cap, &n);
        if (rc <= 0) {
            break;
        }

        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
            buf[--n] = '\0';
        }

        for (p = buf; *p == ' ' || *p == '\t'; p++) { /* void */ }

        if (*p == '\0') {
            continue;
        }

        if (n > PZ_LINE_MAX) {
            snprintf(ld->row.err, sizeof(ld->row.err), "line longer than "
                     "%d bytes", PZ_LINE_MAX);

            if (pz_bad_row(ld, buf, n) != PZ_ROW_OK) {
                rc = -1;
                break;
            }

            continue;
        }

        pz_json_arena_reset();

        obj = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);

        if (obj == NULL) {
            snprintf(ld->row.err, sizeof(ld->row.err), "malformed JSON: %s "
                     "(column %d)", jerr.text, jerr.column);

            if (pz_bad_row(ld, buf, n) != PZ_ROW_OK) {
                rc = -1;
                break;
            }

            continue;
        }

        rc = pz_row(ld, obj, buf, n);

        json_decref(obj);
        pz_json_arena_reset();

        if (rc != PZ_ROW_OK) {
            rc = -1;
            break;
        }
    }

    free(buf);

    return rc;
}


/*
 * CSV through libcsv (RFC 4180 quoting, embedded newlines).  The first row
 * names the columns: id, aliases, _updated_at and schema fields, each
 * optionally annotated with its type ("clv:decimal").  List cells hold
 * their items separated by "|"; an empty cell leaves the field out.
 */

static int
pz_input_csv(pz_load_t *ld, FILE *in)
{
    int       rc;
    char     *buf;
    size_t    cap, i;
    ssize_t   n;

    if (csv_init(&ld->csv, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)
        != 0)
    {
        pz_msg("csv_init() failed");
        return -1;
    }

    buf = NULL;
    cap = 0;
    rc = 0;
    ld->row_line = 1;
    ld->csv_state = PZ_ROW_OK;
    ld->ncells = 0;
    ld->in_csv = 1;

    for (i = 0; i < ld->nheader; i++) {
        free(ld->header[i]);
    }

    free(ld->header);
    ld->header = NULL;
    ld->nheader = 0;

    for ( ;; ) {
        rc = pz_next_line(ld, in, &buf, &cap, &n);
        if (rc <= 0) {
            break;
        }

        if ((size_t) n != csv_parse(&ld->csv, buf, n, pz_csv_cell,
                                    pz_csv_row, ld))
        {
            pz_msg("%s:%lu: malformed CSV: %s", ld->file, ld->line,
                   csv_strerror(csv_error(&ld->csv)));
            rc = -1;
            break;
        }

        if (ld->csv_state != PZ_ROW_OK) {
            rc = -1;
            break;
        }
    }

    if (rc == 0) {
        if (csv_fini(&ld->csv, pz_csv_cell, pz_csv_row, ld) != 0) {
            pz_msg("%s:%lu: malformed CSV: %s", ld->file, ld->row_line,
                   csv_strerror(csv_error(&ld->csv)));
            rc = -1;

        } else if (ld->csv_state != PZ_ROW_OK) {
            rc = -1;
        }
    }

    csv_free(&ld->csv);
    free(buf);
    ld->in_csv = 0;

    for (i = 0; i < ld->cells_cap; i++) {
        free(ld->cells[i]);
    }

    free(ld->cells);
    free(ld->cell_lens);
    ld->cells = NULL;
    ld->cell_lens = NULL;
    ld->cells_cap = 0;

    return rc;
}


static void
pz_csv_cell(void *s, size_t len, void *data)
{
    char       **cells, *cell;
    size_t      *lens, cap;
    pz_load_t   *ld = data;

    if (ld->csv_state != PZ_ROW_OK) {
        return;
    }

    if (ld->ncells == ld->cells_cap) {
        cap = ld->cells_cap ? ld->cells_cap * 2 : 32;

        cells = realloc(ld->cells, cap * sizeof(char *));
        if (cells == NULL) {
            goto nomem;
        }

        ld->cells = cells;

        lens = realloc(ld->cell_lens, cap * sizeof(size_t));
        if (lens == NULL) {
            goto nomem;
        }

        ld->cell_lens = lens;
        memset(ld->cells + ld->cells_cap, 0,
               (cap - ld->cells_cap) * sizeof(char *));
        ld->cells_cap = cap;
    }

    cell = realloc(ld->cells[ld->ncells], len + 1);
    if (cell == NULL) {
        goto nomem;
    }

    memcpy(cell, s, len);
    cell[len] = '\0';
    ld->cells[ld->ncells] = cell;
    ld->cell_lens[ld->ncells] = len;
    ld->ncells++;

    return;

nomem:

    pz_msg("out of memory");
    ld->csv_state = PZ_ROW_FATAL;
}


static void
pz_csv_row(int c, void *data)
{
    size_t      i;
    json_t     *obj, *v;
    pz_load_t  *ld = data;

    (void) c;

    if (ld->csv_state != PZ_ROW_OK) {
        return;
    }

    if (ld->ncells == 0 || (ld->ncells == 1 && ld->cell_lens[0] == 0)) {
        ld->ncells = 0;
        ld->row_line = ld->line + 1;
        return;
    }

    if (ld->nheader == 0) {
        if (pz_csv_header(ld) != 0) {
            ld->csv_state = PZ_ROW_FATAL;
        }

        ld->ncells = 0;
        ld->row_line = ld->line + 1;
        return;
    }

    obj = NULL;

    if (ld->ncells != ld->nheader) {
        snprintf(ld->row.err, sizeof(ld->row.err), "%zu cells, the header "
                 "has %zu", ld->ncells, ld->nheader);
        goto bad;
    }

    obj = json_object();
    if (obj == NULL) {
        ld->csv_state = PZ_ROW_FATAL;
        return;
    }

    for (i = 0; i < ld->ncells; i++) {
        v = json_stringn(ld->cells[i], ld->cell_lens[i]);

        if (v == NULL) {
            snprintf(ld->row.err, sizeof(ld->row.err), "column \"%s\": not "
                     "UTF-8", ld->header[i]);
            goto bad;
        }

        json_object_set_new(obj, ld->header[i], v);
    }

    ld->csv_state = pz_row(ld, obj, NULL, 0);
    json_decref(obj);
    pz_json_arena_reset();

    ld->ncells = 0;
    ld->row_line = ld->line + 1;

    return;

bad:

    json_decref(obj);
    ld->csv_state = pz_bad_row(ld, NULL, 0);
    ld->ncells = 0;
    ld->row_line = ld->line + 1;
}


static int
pz_csv_header(pz_load_t *ld)
{
    int          type;
    char        *name, *colon, err[PZ_ERRLEN];
    size_t       i, j, len;
    pz_schema_t  more;

    ld->header = calloc(ld->ncells, sizeof(char *));
    if (ld->header == NULL) {
        pz_msg("out of memory");
        return -1;
    }

    more.n = 0;

    for (i = 0; i < ld->ncells; i++) {
        name = ld->cells[i];
        ld->cells[i] = NULL;
        ld->header[i] = name;
        ld->nheader++;

        colon = strchr(name, ':');

        if (colon != NULL) {
            *colon = '\0';
            type = pz_type_parse(colon + 1, strlen(colon + 1));

            if (type == 0) {
                pz_msg("%s:%lu: column \"%s\": unknown type \"%s\"",
                       ld->file, ld->row_line, name, colon + 1);
                return -1;
            }

            if (pz_schema_add(&more, name, strlen(name), type, err,
                              sizeof(err))
                != 0)
            {
                pz_msg("%s:%lu: %s", ld->file, ld->row_line, err);
                return -1;
            }
        }

        for (j = 0; j < i; j++) {
            if (strcmp(ld->header[j], name) == 0) {
                pz_msg("%s:%lu: column \"%s\" twice", ld->file,
                       ld->row_line, name);
                return -1;
            }
        }
    }

    pz_schema_sort(&more);

    if (pz_schema_merge(ld->schema, &more, err, sizeof(err)) != 0) {
        pz_msg("%s:%lu: %s", ld->file, ld->row_line, err);
        return -1;
    }

    if (more.n) {
        if (ld->kind == PZ_ROW_CATALOG) {
            ld->meta.has_catalog = 1;

        } else {
            ld->meta.has_schema = 1;
        }
    }

    for (i = 0; i < ld->nheader; i++) {
        name = ld->header[i];
        len = strlen(name);

        if (strcmp(name, "id") == 0
            || (ld->kind == PZ_ROW_PROFILE
                && (strcmp(name, "aliases") == 0
                    || strcmp(name, PZ_FIELD_UPDATED_AT) == 0)))
        {
            continue;
        }

        if (pz_schema_find(ld->schema, name, len) == NULL) {
            pz_msg("%s:%lu: unknown field \"%s\" (not in the schema; "
                   "declare it with -s or as \"%s:type\")", ld->file,
                   ld->row_line, name, name);
            return -1;
        }
    }

    for (i = 0; i < ld->nheader; i++) {
        if (strcmp(ld->header[i], "id") == 0) {
            break;
        }
    }

    if (i == ld->nheader) {
        pz_msg("%s:%lu: no \"id\" column", ld->file, ld->row_line);
        return -1;
    }

    if (ld->reject != NULL && ftell(ld->reject) == 0) {
        for (i = 0; i < ld->nheader; i++) {
            if (i) {
                fputc(',', ld->reject);
            }

            pz_csv_put(ld->reject, ld->header[i], strlen(ld->header[i]));
        }

        fputc('\n', ld->reject);
    }

    return 0;
}


/* a cell of the reject file, quoted only when it needs it */

static void
pz_csv_put(FILE *f, const char *cell, size_t len)
{
    if (strpbrk(cell, ",\"\r\n") == NULL && strlen(cell) == len) {
        fwrite(cell, 1, len, f);
        return;
    }

    csv_fwrite(f, cell, len);
}


/* delete mode: one id (or alias) per line, or a JSON object with "id" */

static int
pz_input_ids(pz_load_t *ld, FILE *in)
{
    int            rc;
    char          *buf, *p;
    size_t         cap;
    ssize_t        n;
    json_t        *obj, *v;
    json_error_t   jerr;

    buf = NULL;
    cap = 0;
    rc = 0;

    for ( ;; ) {
        rc = pz_next_line(ld, in, &buf, &cap, &n);
        if (rc <= 0) {
            break;
        }

        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'
                         || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        {
            buf[--n] = '\0';
        }

        for (p = buf; *p == ' ' || *p == '\t'; p++) { /* void */ }

        n -= p - buf;

        if (n == 0 || *p == '#') {
            continue;
        }

        if (*p == '{') {
            obj = json_loadb(p, n, 0, &jerr);
            v = obj ? json_object_get(obj, "id") : NULL;

            if (!json_is_string(v)) {
                pz_msg("%s:%lu: %s", ld->file, ld->line,
                       obj ? "no \"id\" string" : jerr.text);
                json_decref(obj);
                rc = -1;
                break;
            }

            rc = pz_delete_one(ld, json_string_value(v),
                               json_string_length(v));
            json_decref(obj);

        } else {
            rc = pz_delete_one(ld, p, n);
        }

        if (rc != 0) {
            break;
        }
    }

    free(buf);

    return rc;
}


/*
 * The next line of in into *buf, its end kept: 1, 0 at the end of the
 * input, -1 on a read error (reported) or a signal.
 */

static int
pz_next_line(pz_load_t *ld, FILE *in, char **buf, size_t *cap,
    ssize_t *len)
{
    errno = 0;
    *len = getline(buf, cap, in);

    if (*len == -1) {
        if (errno == EINTR || pz_interrupted) {
            return -1;
        }

        if (ferror(in)) {
            pz_msg("%s: read failed: %s", ld->file, strerror(errno));
            return -1;
        }

        return 0;
    }

    ld->line++;

    return pz_interrupted ? -1 : 1;
}


/* rows */

static int
pz_row(pz_load_t *ld, json_t *obj, const char *raw, size_t raw_len)
{
    if (pz_json_to_row(&ld->row, obj, ld->schema, ld->kind,
                       raw == NULL, ld->now)
        != 0)
    {
        return pz_bad_row(ld, raw, raw_len);
    }

    ld->rec = ld->row.rec;
    ld->rec_len = ld->row.rec_len;

    return pz_row_write(ld, raw, raw_len);
}


int
pz_row_write(pz_load_t *ld, const char *raw, size_t raw_len)
{
    int  rc;

    rc = pz_order_wanted(ld);

    if (rc != 0) {
        return rc == 1 ? pz_order_add(ld, raw, raw_len) : PZ_ROW_FATAL;
    }

    rc = ld->kind == PZ_ROW_CATALOG ? pz_put_catalog(ld)
                                    : pz_put_profile(ld);

    if (rc == PZ_ROW_BAD) {
        return pz_bad_row(ld, raw, raw_len);
    }

    if (rc != PZ_ROW_OK) {
        return PZ_ROW_FATAL;
    }

    ld->rows++;
    ld->batch_rows++;
    ld->txn_rows++;

    if (ld->mode == PZ_MODE_REPLACE) {
        if (ld->txn_rows >= PZ_REPLACE_TXN_ROWS) {
            return pz_commit(ld, 0) == 0 ? PZ_ROW_OK : PZ_ROW_FATAL;
        }

        /* unsorted input reads pages all over the map, and each fault
         * maps their neighbours too: dropping them (clean pages of the
         * last commit) every so often keeps the resident set flat */

        if (!ld->append && ld->map_base != 0
            && ld->txn_rows % PZ_RELEASE_ROWS == 0)
        {
            pz_map_release(&ld->st, ld->map_base);
        }

    } else if (ld->batch && ld->batch_rows >= ld->batch) {
        return pz_commit(ld, 0) == 0 ? PZ_ROW_OK : PZ_ROW_FATAL;
    }

    return PZ_ROW_OK;
}


/* a row that cannot go in: fatal, or into the reject file */

void
pz_csv_row_put(pz_load_t *ld, FILE *f)
{
    size_t  i;

    for (i = 0; i < ld->ncells; i++) {
        if (i) {
            fputc(',', f);
        }

        pz_csv_put(f, ld->cells[i], ld->cell_lens[i]);
    }
}


int
pz_bad_row(pz_load_t *ld, const char *raw, size_t raw_len)
{
    /* a CSV row is named by its first line; it comes without raw text
     * but from the profile sorter (pz-load-order.c) */
    pz_msg("%s:%lu: %s", ld->file,
           raw != NULL && !ld->in_csv ? ld->line : ld->row_line,
           ld->row.err);

    if (ld->reject == NULL) {
        return PZ_ROW_FATAL;
    }

    if (raw != NULL) {
        fwrite(raw, 1, raw_len, ld->reject);

    } else {
        pz_csv_row_put(ld, ld->reject);
    }

    if (fputc('\n', ld->reject) == EOF) {
        pz_msg("%s: %s", ld->reject_file, strerror(errno));
        return PZ_ROW_FATAL;
    }

    ld->rejected++;

    return PZ_ROW_OK;
}
