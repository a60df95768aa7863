/*
 * pz-load: load profiles (or catalog items) into an ngx_personalize store.
 *
 *     pz-load -d STORE [-s SCHEMA] [-c] [-R] [-b ROWS] [-x REJECTS]
 *             [-F json|csv] [FILE ...]
 *     pz-load -d STORE -D [-c] [FILE ...]        delete by id or alias
 *     pz-load -d STORE -r DAYS                   drop stale profiles
 *
 * Modes:
 *   upsert (default)  rows go into the live store; each batch (-b ROWS, by
 *                     default the whole run) is one write transaction, so
 *                     readers see all of a batch or none of it.
 *   replace (-R)      a new generation STORE.gen-N is built beside the
 *                     live one, checked, and swapped in by renaming a
 *                     symlink over STORE; the old generation is removed
 *                     after a grace period (-G SECONDS).
 *   delete (-D)       input lines are ids or aliases; the profiles and all
 *                     their aliases go in one commit.
 *   retention (-r N)  profiles whose _updated_at is older than N days go,
 *                     with their aliases, in one commit.
 *
 * Bad input names file, line and reason and commits nothing of its batch,
 * unless -x FILE is given: then bad rows go to FILE and are counted.
 * SIGINT and SIGTERM abort the transaction; the store stays as it was.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <csv.h>

#include "pz_tool.h"
#include "pz_walk.h"


#define PZ_MODE_UPSERT          0
#define PZ_MODE_REPLACE         1
#define PZ_MODE_DELETE          2
#define PZ_MODE_RETAIN          3

/* a replace build commits this often; readers do not see it anyway */
#define PZ_REPLACE_TXN_ROWS     100000

#define PZ_LINE_MAX             (16 * 1024 * 1024)

#define PZ_ROW_OK               0
#define PZ_ROW_BAD              1
#define PZ_ROW_FATAL            -1


typedef struct {
    /* options */
    const char           *store;
    const char           *schema_file;
    const char           *reject_file;
    int                   mode;
    int                   kind;
    int                   format;       /* -1 by file name, 0 JSON, 1 CSV */
    size_t                batch;
    size_t                mapsize;
    long                  grace;
    long                  days;
    int                   quiet;

    char                  store_path[PATH_MAX - 64];
    int                   lock_fd;

    pz_store_t            st;
    int                   st_open;
    MDB_txn              *txn;
    pz_meta_t             meta;
    pz_schema_t          *schema;       /* &meta.schema or &meta.catalog */
    pz_row_t              row;
    int64_t               now;

    size_t                rows;         /* written */
    size_t                batch_rows;
    size_t                txn_rows;
    size_t                batches;      /* committed */
    size_t                committed_rows;
    size_t                rejected;
    size_t                deleted;
    size_t                missing;
    FILE                 *reject;

    /* replace */
    pz_meta_t             live_meta;
    int                   have_live_meta;
    int64_t               gen;
    int                   catalog_replace;
    char                  gen_dir[PATH_MAX];
    char                  old_dir[2 * PATH_MAX + 2];
    int                   has_old;
    int                   built;

    /* sorted input goes in with MDB_APPEND until the first step back */
    unsigned char         prev[PZ_ID_MAX];
    size_t                prev_len;
    int                   have_prev;
    int                   append;
    size_t                appended;

    /* hashes of the ids written in this batch (upsert) */
    uint64_t             *seen;
    size_t                seen_cap;
    size_t                seen_n;

    /* a scratch record for an alias moved away from its old profile */
    unsigned char        *scratch;
    size_t                scratch_cap;
    pz_bytes_t           *scratch_items;
    size_t                scratch_items_cap;
    unsigned char         old_aliases[PZ_RECORD_MAX];
    size_t                old_aliases_len;

    /* input position */
    const char           *file;
    unsigned long         line;

    /* CSV */
    struct csv_parser     csv;
    char                **cells;
    size_t               *cell_lens;
    size_t                ncells;
    size_t                cells_cap;
    char                **header;
    size_t                nheader;
    unsigned long         row_line;
    int                   csv_state;    /* PZ_ROW_* of the last row */
} pz_load_t;


static void usage(FILE *f);
static int pz_lock(pz_load_t *ld);
static int pz_schema_setup(pz_load_t *ld);
static int pz_begin(pz_load_t *ld);
static int pz_commit(pz_load_t *ld, int final);
static void pz_abort(pz_load_t *ld);
static int pz_input(pz_load_t *ld, const char *name);
static int pz_input_json(pz_load_t *ld, FILE *in);
static int pz_input_csv(pz_load_t *ld, FILE *in);
static int pz_input_ids(pz_load_t *ld, FILE *in);
static int pz_row(pz_load_t *ld, json_t *obj, const char *raw,
    size_t raw_len);
static int pz_bad_row(pz_load_t *ld, const char *raw, size_t raw_len);
static int pz_put_profile(pz_load_t *ld);
static int pz_put_catalog(pz_load_t *ld);
static int pz_alias_unlink(pz_load_t *ld, MDB_val *owner, MDB_val *alias);
static int pz_delete_profile(pz_load_t *ld, MDB_val *id);
static int pz_delete_one(pz_load_t *ld, const char *id, size_t len);
static int pz_retain(pz_load_t *ld);
static int pz_seen(pz_load_t *ld, const void *id, size_t len, int add);
static int pz_replace_prepare(pz_load_t *ld);
static int pz_replace_finish(pz_load_t *ld);
static int pz_remove_generation(const char *dir);
static int pz_copy_db(MDB_txn *from, MDB_dbi fdbi, MDB_txn *to,
    MDB_dbi tdbi);
static const char *pz_base(const char *path);
static void pz_csv_cell(void *s, size_t len, void *data);
static void pz_csv_row(int c, void *data);
static int pz_csv_header(pz_load_t *ld);


static void
usage(FILE *f)
{
    fprintf(f,
        "usage: %s -d store [-s schema.json] [-c] [-R [-G seconds]] "
        "[-b rows] [-x rejects]\n"
        "               [-F json|csv] [-m mapsize] [-q] [file ...]\n"
        "       %s -d store -D [-c] [file ...]\n"
        "       %s -d store -r days\n"
        "  -d store    the store directory (or symlink to one)\n"
        "  -s schema   JSON object of field types: {\"clv\":\"decimal\"}\n"
        "  -c          load catalog items instead of profiles\n"
        "  -R          full replace: build a new generation and swap it in\n"
        "  -G seconds  keep the old generation this long (default 30)\n"
        "  -D          delete the profiles (or -c items) listed by id\n"
        "  -r days     drop profiles not updated for that many days\n"
        "  -b rows     commit every that many rows (default: one batch)\n"
        "  -x file     write bad rows to file instead of failing\n"
        "  -F format   json (JSON lines) or csv; default by file name\n"
        "  -m size     map size (default 64G)\n"
        "  -q          quiet\n"
        "  -V          version\n",
        pz_prog, pz_prog, pz_prog);
}


int
main(int argc, char **argv)
{
    int         c, rc, i;
    char       *end;
    pz_load_t  *ld;

    pz_prog = "pz-load";

    ld = calloc(1, sizeof(pz_load_t));
    if (ld == NULL) {
        pz_msg("out of memory");
        return EXIT_FAILURE;
    }

    ld->format = -1;
    ld->grace = 30;
    ld->lock_fd = -1;
    ld->append = 1;

    while ((c = getopt(argc, argv, "d:s:cRG:Dr:b:x:F:m:qVh")) != -1) {
        switch (c) {
        case 'd':
            ld->store = optarg;
            break;
        case 's':
            ld->schema_file = optarg;
            break;
        case 'c':
            ld->kind = PZ_ROW_CATALOG;
            break;
        case 'R':
            ld->mode = PZ_MODE_REPLACE;
            break;
        case 'G':
            ld->grace = strtol(optarg, &end, 10);
            if (*end != '\0' || ld->grace < 0) {
                pz_msg("-G %s: expected seconds", optarg);
                return EXIT_FAILURE;
            }
            break;
        case 'D':
            ld->mode = PZ_MODE_DELETE;
            break;
        case 'r':
            ld->mode = PZ_MODE_RETAIN;
            ld->days = strtol(optarg, &end, 10);
            if (*end != '\0' || ld->days < 1 || ld->days > 100000) {
                pz_msg("-r %s: expected a number of days", optarg);
                return EXIT_FAILURE;
            }
            break;
        case 'b':
            ld->batch = strtoul(optarg, &end, 10);
            if (*end != '\0' || optarg[0] == '-') {
                pz_msg("-b %s: expected a number of rows", optarg);
                return EXIT_FAILURE;
            }
            break;
        case 'x':
            ld->reject_file = optarg;
            break;
        case 'F':
            if (strcmp(optarg, "json") == 0) {
                ld->format = 0;

            } else if (strcmp(optarg, "csv") == 0) {
                ld->format = 1;

            } else {
                pz_msg("-F %s: expected json or csv", optarg);
                return EXIT_FAILURE;
            }
            break;
        case 'm':
            if (pz_parse_size(optarg, &ld->mapsize) != 0) {
                pz_msg("-m %s: expected a size like 64G", optarg);
                return EXIT_FAILURE;
            }
            break;
        case 'q':
            ld->quiet = 1;
            break;
        case 'V':
            printf("%s %s (record format %d, %s)\n", pz_prog,
                   PZ_TOOLS_VERSION, PZ_RECORD_VERSION, MDB_VERSION_STRING);
            return EXIT_SUCCESS;
        case 'h':
            usage(stdout);
            return EXIT_SUCCESS;
        default:
            usage(stderr);
            return EXIT_FAILURE;
        }
    }

    if (ld->store == NULL) {
        usage(stderr);
        return EXIT_FAILURE;
    }

    if (ld->mode == PZ_MODE_RETAIN && optind < argc) {
        pz_msg("-r takes no input files");
        return EXIT_FAILURE;
    }

    if (ld->mode == PZ_MODE_RETAIN && ld->kind == PZ_ROW_CATALOG) {
        pz_msg("-r applies to profiles, not to the catalog");
        return EXIT_FAILURE;
    }

    /* "store/" and "store" are one store; the lock and generations sit
     * beside it */

    if (strlen(ld->store) >= sizeof(ld->store_path)) {
        pz_msg("%s: path too long", ld->store);
        return EXIT_FAILURE;
    }

    strcpy(ld->store_path, ld->store);

    for (i = (int) strlen(ld->store_path) - 1;
         i > 0 && ld->store_path[i] == '/';
         i--)
    {
        ld->store_path[i] = '\0';
    }

    pz_signals();
    pz_row_init(&ld->row);
    ld->now = time(NULL);
    rc = EXIT_FAILURE;

    if (ld->reject_file != NULL) {
        ld->reject = fopen(ld->reject_file, "w");
        if (ld->reject == NULL) {
            pz_msg("%s: %s", ld->reject_file, strerror(errno));
            goto done;
        }
    }

    if (pz_lock(ld) != 0) {
        goto done;
    }

    /* the catalog is small: its replace empties and refills the database
     * in one transaction of the live store, as atomic as a swap */

    if (ld->mode == PZ_MODE_REPLACE && ld->kind == PZ_ROW_CATALOG) {
        ld->mode = PZ_MODE_UPSERT;
        ld->catalog_replace = 1;
    }

    if (ld->mode == PZ_MODE_REPLACE) {
        if (pz_replace_prepare(ld) != 0) {
            goto failed;
        }

    } else {
        if (pz_store_open(&ld->st, ld->store_path,
                          ld->mode == PZ_MODE_UPSERT ? PZ_OPEN_CREATE : 0,
                          ld->mapsize)
            != 0)
        {
            goto done;
        }

        ld->st_open = 1;
    }

    if (pz_begin(ld) != 0) {
        goto failed;
    }

    if (pz_schema_setup(ld) != 0) {
        goto failed;
    }

    if (ld->catalog_replace) {
        rc = mdb_drop(ld->txn, ld->st.dbi[PZ_CATALOG], 0);

        if (rc != 0) {
            pz_msg("mdb_drop(catalog) failed: %s", mdb_strerror(rc));
            rc = EXIT_FAILURE;
            goto failed;
        }

        rc = EXIT_FAILURE;
    }

    if (ld->mode == PZ_MODE_RETAIN) {
        if (pz_retain(ld) != 0) {
            goto failed;
        }

    } else if (optind == argc) {
        if (pz_input(ld, "-") != 0) {
            goto failed;
        }

    } else {
        for (i = optind; i < argc; i++) {
            if (pz_input(ld, argv[i]) != 0) {
                goto failed;
            }
        }
    }

    if (pz_interrupted) {
        goto interrupted;
    }

    if (pz_commit(ld, 1) != 0) {
        goto failed;
    }

    if (ld->mode == PZ_MODE_REPLACE) {
        if (pz_replace_finish(ld) != 0) {
            goto failed;
        }
    }

    if (!ld->quiet) {
        switch (ld->mode) {
        case PZ_MODE_DELETE:
            fprintf(stderr, "%s: %s: %zu deleted, %zu not found\n", pz_prog,
                    ld->store, ld->deleted, ld->missing);
            break;
        case PZ_MODE_RETAIN:
            fprintf(stderr, "%s: %s: %zu profiles older than %ld days "
                    "dropped\n", pz_prog, ld->store, ld->deleted, ld->days);
            break;
        default:
            fprintf(stderr, "%s: %s: %zu %s loaded in %zu %s, generation "
                    "%lld%s\n", pz_prog, ld->store, ld->rows,
                    ld->kind == PZ_ROW_CATALOG ? "items" : "profiles",
                    ld->batches, ld->batches == 1 ? "commit" : "commits",
                    (long long) ld->meta.generation,
                    ld->mode == PZ_MODE_REPLACE && ld->appended == ld->rows
                    && ld->rows ? " (sorted input)" : "");
        }
    }

    if (ld->rejected) {
        fprintf(stderr, "%s: %zu rows rejected into %s\n", pz_prog,
                ld->rejected, ld->reject_file);
    }

    rc = EXIT_SUCCESS;
    goto done;

interrupted:

    pz_msg("interrupted");

failed:

    pz_abort(ld);

    if (ld->mode == PZ_MODE_REPLACE) {
        if (ld->gen_dir[0] && !ld->built) {
            pz_store_close(&ld->st);
            ld->st_open = 0;
            pz_remove_generation(ld->gen_dir);
        }

        pz_msg("%s: the live store is unchanged", ld->store);

    } else if (ld->batches) {
        pz_msg("%s: nothing of the failed batch was committed; %zu earlier "
               "%s (%zu rows) stay committed", ld->store, ld->batches,
               ld->batches == 1 ? "batch" : "batches", ld->committed_rows);

    } else if (ld->st_open) {
        pz_msg("%s: nothing was committed", ld->store);
    }

done:

    pz_abort(ld);

    if (ld->st_open) {
        pz_store_close(&ld->st);
    }

    if (ld->reject != NULL) {
        if (fclose(ld->reject) != 0) {
            pz_msg("%s: %s", ld->reject_file, strerror(errno));
            rc = EXIT_FAILURE;
        }
    }

    if (ld->lock_fd != -1) {
        close(ld->lock_fd);
    }

    pz_row_free(&ld->row);
    free(ld->seen);
    free(ld->scratch);
    free(ld->scratch_items);

    return rc;
}


/*
 * One writer at a time per store, across the generations of a replace:
 * an upsert running during a replace build would be lost by the swap.
 */

static int
pz_lock(pz_load_t *ld)
{
    char  path[PATH_MAX];

    snprintf(path, sizeof(path), "%s.lock", ld->store_path);

    ld->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (ld->lock_fd == -1) {
        pz_msg("%s: %s", path, strerror(errno));
        return -1;
    }

    if (flock(ld->lock_fd, LOCK_EX | LOCK_NB) == 0) {
        return 0;
    }

    if (!ld->quiet) {
        pz_msg("%s: waiting for another writer", path);
    }

    while (flock(ld->lock_fd, LOCK_EX) != 0) {
        if (errno != EINTR || pz_interrupted) {
            pz_msg("%s: flock() failed: %s", path,
                   pz_interrupted ? "interrupted" : strerror(errno));
            return -1;
        }
    }

    return 0;
}


static int
pz_schema_setup(pz_load_t *ld)
{
    int          rc;
    char         err[PZ_ERRLEN];
    pz_schema_t  given;

    rc = pz_meta_get(ld->txn, &ld->st, &ld->meta, err, sizeof(err));

    if (rc < 0) {
        pz_msg("%s: %s", ld->store, err);
        return -1;
    }

    if (rc == 1) {
        ld->meta.format = PZ_FORMAT_VERSION;
    }

    if (ld->mode == PZ_MODE_REPLACE) {
        /* a new generation: the live store's schemas and the number that
         * pz_replace_prepare() chose */
        if (ld->have_live_meta) {
            ld->meta.schema = ld->live_meta.schema;
            ld->meta.has_schema = ld->live_meta.has_schema;
            ld->meta.catalog = ld->live_meta.catalog;
            ld->meta.has_catalog = ld->live_meta.has_catalog;
        }

        ld->meta.generation = ld->gen;
    }

    if (ld->kind == PZ_ROW_CATALOG) {
        ld->schema = &ld->meta.catalog;

        if (!ld->meta.has_catalog) {
            pz_schema_catalog_default(&ld->meta.catalog);
            ld->meta.has_catalog = 1;
        }

    } else {
        ld->schema = &ld->meta.schema;
    }

    if (ld->schema_file != NULL) {
        if (pz_schema_read(&given, ld->schema_file) != 0) {
            return -1;
        }

        if (ld->mode == PZ_MODE_REPLACE) {
            /* a replace takes the schema as given */
            *ld->schema = given;

        } else if (pz_schema_merge(ld->schema, &given, err, sizeof(err))
                   != 0)
        {
            pz_msg("%s: %s", ld->schema_file, err);
            return -1;
        }

        if (ld->kind == PZ_ROW_CATALOG) {
            ld->meta.has_catalog = 1;

        } else {
            ld->meta.has_schema = 1;
        }
    }

    return 0;
}


static int
pz_begin(pz_load_t *ld)
{
    int  rc;

    rc = mdb_txn_begin(ld->st.env, NULL, 0, &ld->txn);

    if (rc != 0) {
        pz_msg("%s: mdb_txn_begin() failed: %s", ld->store, mdb_strerror(rc));
        ld->txn = NULL;
        return -1;
    }

    ld->txn_rows = 0;

    return 0;
}


/*
 * A commit of a batch carries the meta record: the generation counts
 * commits, so readers can tell that something changed.
 */

static int
pz_commit(pz_load_t *ld, int final)
{
    int  rc;

    if (ld->mode != PZ_MODE_REPLACE || final) {
        if (ld->mode != PZ_MODE_REPLACE) {
            ld->meta.generation++;
        }

        ld->meta.format = PZ_FORMAT_VERSION;
        ld->meta.build_time = time(NULL);

        if (pz_meta_put(ld->txn, &ld->st, &ld->meta) != 0) {
            return -1;
        }
    }

    if (pz_interrupted) {
        pz_msg("interrupted");
        return -1;
    }

    rc = mdb_txn_commit(ld->txn);
    ld->txn = NULL;

    if (rc != 0) {
        pz_msg("%s: mdb_txn_commit() failed: %s", ld->store,
               mdb_strerror(rc));
        return -1;
    }

    if (ld->mode != PZ_MODE_REPLACE) {
        ld->batches++;
        ld->committed_rows += ld->batch_rows;
        ld->batch_rows = 0;

    } else if (final) {
        ld->batches = 1;
    }

    ld->seen_n = 0;

    if (ld->seen != NULL) {
        memset(ld->seen, 0, ld->seen_cap * sizeof(uint64_t));
    }

    if (!final) {
        return pz_begin(ld);
    }

    return 0;
}


static void
pz_abort(pz_load_t *ld)
{
    if (ld->txn != NULL) {
        mdb_txn_abort(ld->txn);
        ld->txn = NULL;
    }
}


/* input */

static int
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

    ld->line = 0;

    len = strlen(name);
    csv = ld->format == 1
          || (ld->format == -1 && len > 4
              && strcasecmp(name + len - 4, ".csv") == 0);

    if (ld->mode == PZ_MODE_DELETE) {
        rc = pz_input_ids(ld, in);

    } else if (csv) {
        rc = pz_input_csv(ld, in);

    } else {
        rc = pz_input_json(ld, in);
    }

    if (in != stdin) {
        fclose(in);
    }

    return rc;
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
        errno = 0;
        n = getline(&buf, &cap, in);

        if (n == -1) {
            if (errno == EINTR || pz_interrupted) {
                rc = -1;

            } else if (ferror(in)) {
                pz_msg("%s: read failed: %s", ld->file, strerror(errno));
                rc = -1;
            }

            break;
        }

        ld->line++;

        if (pz_interrupted) {
            rc = -1;
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

    for (i = 0; i < ld->nheader; i++) {
        free(ld->header[i]);
    }

    ld->nheader = 0;

    for ( ;; ) {
        errno = 0;
        n = getline(&buf, &cap, in);

        if (n == -1) {
            if (errno == EINTR || pz_interrupted) {
                rc = -1;

            } else if (ferror(in)) {
                pz_msg("%s: read failed: %s", ld->file, strerror(errno));
                rc = -1;
            }

            break;
        }

        ld->line++;

        if (pz_interrupted) {
            rc = -1;
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

            csv_fwrite(ld->reject, ld->header[i], strlen(ld->header[i]));
        }

        fputc('\n', ld->reject);
    }

    return 0;
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
        errno = 0;
        n = getline(&buf, &cap, in);

        if (n == -1) {
            if (errno == EINTR || pz_interrupted) {
                rc = -1;

            } else if (ferror(in)) {
                pz_msg("%s: read failed: %s", ld->file, strerror(errno));
                rc = -1;
            }

            break;
        }

        ld->line++;

        if (pz_interrupted) {
            rc = -1;
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


/* rows */

static int
pz_row(pz_load_t *ld, json_t *obj, const char *raw, size_t raw_len)
{
    int  rc;

    if (pz_json_to_row(&ld->row, obj, ld->schema, ld->kind,
                       raw == NULL, ld->now)
        != 0)
    {
        return pz_bad_row(ld, raw, raw_len);
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

    } else if (ld->batch && ld->batch_rows >= ld->batch) {
        return pz_commit(ld, 0) == 0 ? PZ_ROW_OK : PZ_ROW_FATAL;
    }

    return PZ_ROW_OK;
}


/* a row that cannot go in: fatal, or into the reject file */

static int
pz_bad_row(pz_load_t *ld, const char *raw, size_t raw_len)
{
    size_t  i;

    pz_msg("%s:%lu: %s", ld->file, raw ? ld->line : ld->row_line,
           ld->row.err);

    if (ld->reject == NULL) {
        return PZ_ROW_FATAL;
    }

    if (raw != NULL) {
        fwrite(raw, 1, raw_len, ld->reject);

    } else {
        for (i = 0; i < ld->ncells; i++) {
            if (i) {
                fputc(',', ld->reject);
            }

            csv_fwrite(ld->reject, ld->cells[i], ld->cell_lens[i]);
        }
    }

    if (fputc('\n', ld->reject) == EOF) {
        pz_msg("%s: %s", ld->reject_file, strerror(errno));
        return PZ_ROW_FATAL;
    }

    ld->rejected++;

    return PZ_ROW_OK;
}


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


static int
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

    if (ld->mode == PZ_MODE_REPLACE) {

        /* a fresh store: any alias already there came from another row */

        for (i = 0; i < row->naliases; i++) {
            akey.mv_data = (void *) row->aliases[i].data;
            akey.mv_size = row->aliases[i].len;

            rc = mdb_get(ld->txn, ld->st.dbi[PZ_ALIASES], &akey, &aval);

            if (rc == 0) {
                snprintf(row->err, sizeof(row->err), "alias \"%.*s\" "
                         "already belongs to \"%.*s\"", (int) akey.mv_size,
                         (char *) akey.mv_data, (int) aval.mv_size,
                         (char *) aval.mv_data);
                return PZ_ROW_BAD;
            }

            if (rc != MDB_NOTFOUND) {
                pz_msg("mdb_get(aliases) failed: %s", mdb_strerror(rc));
                return PZ_ROW_FATAL;
            }
        }

        flags = MDB_NOOVERWRITE;

        if (ld->append && ld->have_prev
            && pz_id_cmp(row->id, row->id_len, ld->prev, ld->prev_len) <= 0)
        {
            ld->append = 0;
        }

        if (ld->append) {
            flags |= MDB_APPEND;
        }

        val.mv_data = row->rec;
        val.mv_size = row->rec_len;

        rc = mdb_put(ld->txn, ld->st.dbi[PZ_PROFILES], &key, &val, flags);

        if (rc == MDB_KEYEXIST) {
            snprintf(row->err, sizeof(row->err), "duplicate id \"%.*s\"",
                     (int) row->id_len, row->id);
            return PZ_ROW_BAD;
        }

        if (rc != 0) {
            pz_msg("%s:%lu: mdb_put(profiles) failed: %s", ld->file,
                   ld->line, mdb_strerror(rc));
            return PZ_ROW_FATAL;
        }

        if (ld->append) {
            ld->appended++;
        }

        memcpy(ld->prev, row->id, row->id_len);
        ld->prev_len = row->id_len;
        ld->have_prev = 1;

        for (i = 0; i < row->naliases; i++) {
            akey.mv_data = (void *) row->aliases[i].data;
            akey.mv_size = row->aliases[i].len;

            rc = mdb_put(ld->txn, ld->st.dbi[PZ_ALIASES], &akey, &key,
                         MDB_NOOVERWRITE);

            if (rc != 0) {
                pz_msg("%s:%lu: mdb_put(aliases) failed: %s", ld->file,
                       ld->line, mdb_strerror(rc));
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

    val.mv_data = row->rec;
    val.mv_size = row->rec_len;

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


static int
pz_put_catalog(pz_load_t *ld)
{
    int        rc, flags;
    MDB_val    key, val;
    pz_row_t  *row;

    row = &ld->row;

    key.mv_data = (void *) row->id;
    key.mv_size = row->id_len;
    val.mv_data = row->rec;
    val.mv_size = row->rec_len;

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


/* delete and retention */

static int
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


static int
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


static int
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


/* replace */

static int
pz_replace_prepare(pz_load_t *ld)
{
    int             rc, live_open;
    char            target[PATH_MAX], dir[PATH_MAX], err[PZ_ERRLEN];
    char            path[PATH_MAX + 300];
    char           *parent;
    size_t          blen;
    ssize_t         n;
    MDB_txn        *ltxn, *txn;
    pz_store_t      live;
    struct stat     sb;
    DIR            *d;
    struct dirent  *de;
    const char     *base;

    strcpy(dir, ld->store_path);
    parent = dirname(dir);
    base = pz_base(ld->store_path);
    blen = strlen(base);
    live_open = 0;
    ld->gen = 1;

    if (lstat(ld->store_path, &sb) != 0) {
        if (errno != ENOENT) {
            pz_msg("%s: %s", ld->store, strerror(errno));
            return -1;
        }

    } else if (S_ISLNK(sb.st_mode)) {
        n = readlink(ld->store_path, target, sizeof(target) - 1);

        if (n == -1) {
            pz_msg("%s: readlink() failed: %s", ld->store, strerror(errno));
            return -1;
        }

        target[n] = '\0';

        if (target[0] == '/') {
            snprintf(ld->old_dir, sizeof(ld->old_dir), "%s", target);

        } else {
            snprintf(ld->old_dir, sizeof(ld->old_dir), "%s/%s", parent,
                     target);
        }

        ld->has_old = 1;

        /* the live store gives the next generation number, the schemas
         * and the catalog */

        if (stat(ld->old_dir, &sb) == 0) {
            if (pz_store_open(&live, ld->store_path, PZ_OPEN_RDONLY, 0) != 0)
            {
                return -1;
            }

            live_open = 1;

            rc = mdb_txn_begin(live.env, NULL, MDB_RDONLY, &ltxn);
            if (rc != 0) {
                pz_msg("%s: mdb_txn_begin() failed: %s", ld->store,
                       mdb_strerror(rc));
                goto failed;
            }

            rc = pz_meta_get(ltxn, &live, &ld->live_meta, err, sizeof(err));
            mdb_txn_abort(ltxn);

            if (rc < 0) {
                pz_msg("%s: %s", ld->store, err);
                goto failed;
            }

            if (rc == 0) {
                ld->have_live_meta = 1;
                ld->gen = ld->live_meta.generation + 1;
            }
        }

    } else if (S_ISDIR(sb.st_mode)) {
        pz_msg("%s: is a directory; a replace swaps a symlink: move the "
               "store to %s.gen-1 and make %s a symlink to it (mv %s "
               "%s.gen-1 && ln -s %s.gen-1 %s), then run the replace "
               "again", ld->store, ld->store, ld->store, ld->store,
               ld->store, base, ld->store);
        return -1;

    } else {
        pz_msg("%s: not a directory nor a symlink", ld->store);
        return -1;
    }

    /* leftovers of interrupted runs and generations past their grace
     * period: every STORE.gen-* that is not live (we hold the lock) */

    d = opendir(parent);

    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strncmp(de->d_name, base, blen) != 0
                || strncmp(de->d_name + blen, ".gen-", 5) != 0)
            {
                continue;
            }

            if (ld->has_old && strcmp(de->d_name, pz_base(ld->old_dir)) == 0)
            {
                continue;
            }

            snprintf(path, sizeof(path), "%s/%s", parent, de->d_name);

            /* a retired generation's mtime is its retirement */

            if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)
                && time(NULL) - sb.st_mtime >= ld->grace)
            {
                pz_remove_generation(path);
            }
        }

        closedir(d);
    }

    /* a number not taken */

    for ( ;; ) {
        snprintf(ld->gen_dir, sizeof(ld->gen_dir), "%s.gen-%lld",
                 ld->store_path, (long long) ld->gen);

        if (lstat(ld->gen_dir, &sb) != 0) {
            break;
        }

        ld->gen++;
    }

    if (pz_store_open(&ld->st, ld->gen_dir, PZ_OPEN_CREATE | PZ_OPEN_BULK,
                      ld->mapsize)
        != 0)
    {
        ld->gen_dir[0] = '\0';
        goto failed;
    }

    ld->st_open = 1;

    /* a profile replace keeps the live catalog */

    if (live_open) {
        rc = mdb_txn_begin(live.env, NULL, MDB_RDONLY, &ltxn);

        if (rc == 0) {
            rc = mdb_txn_begin(ld->st.env, NULL, 0, &txn);

            if (rc == 0) {
                rc = pz_copy_db(ltxn, live.dbi[PZ_CATALOG], txn,
                                ld->st.dbi[PZ_CATALOG]);

                if (rc == 0) {
                    rc = mdb_txn_commit(txn);

                } else {
                    mdb_txn_abort(txn);
                }
            }

            mdb_txn_abort(ltxn);
        }

        if (rc != 0) {
            pz_msg("%s: copying the catalog failed: %s", ld->store,
                   mdb_strerror(rc));
            goto failed;
        }

        pz_store_close(&live);
    }

    return 0;

failed:

    if (live_open) {
        pz_store_close(&live);
    }

    return -1;
}


static int
pz_copy_db(MDB_txn *from, MDB_dbi fdbi, MDB_txn *to, MDB_dbi tdbi)
{
    int          rc;
    MDB_val      key, val;
    MDB_cursor  *cur;

    rc = mdb_cursor_open(from, fdbi, &cur);
    if (rc != 0) {
        return rc;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        rc = mdb_put(to, tdbi, &key, &val, MDB_APPEND);
        if (rc != 0) {
            break;
        }
    }

    mdb_cursor_close(cur);

    return rc == MDB_NOTFOUND ? 0 : rc;
}


static const char *
pz_base(const char *path)
{
    const char  *p;

    p = strrchr(path, '/');

    return p ? p + 1 : path;
}


/*
 * The new generation is complete and committed: sync it once, check it
 * with the walker, give it the owner and mode of the live store's files
 * (nginx workers must be able to write lock.mdb), and swap the symlink.
 */

static int
pz_replace_finish(pz_load_t *ld)
{
    int          rc, fd;
    char         tmp[PATH_MAX], dir[PATH_MAX], path[3 * PATH_MAX];
    char        *parent;
    MDB_txn     *txn;
    pz_walk_t    w;
    struct stat  sb;
    unsigned     left;

    rc = mdb_env_sync(ld->st.env, 1);
    if (rc != 0) {
        pz_msg("%s: mdb_env_sync() failed: %s", ld->gen_dir,
               mdb_strerror(rc));
        return -1;
    }

    rc = mdb_txn_begin(ld->st.env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        pz_msg("%s: mdb_txn_begin() failed: %s", ld->gen_dir,
               mdb_strerror(rc));
        return -1;
    }

    memset(&w, 0, sizeof(w));
    w.max_report = 10;
    w.report = stderr;

    rc = pz_walk(&ld->st, txn, &w);
    mdb_txn_abort(txn);

    if (rc != 0 || w.problems) {
        pz_msg("%s: the new generation fails its check (%zu problems)",
               ld->gen_dir, w.problems);
        return -1;
    }

    pz_store_close(&ld->st);
    ld->st_open = 0;

    if (ld->has_old) {
        snprintf(path, sizeof(path), "%s/lock.mdb", ld->old_dir);

        if (stat(path, &sb) == 0) {
            const char  *files[] = { "data.mdb", "lock.mdb" };
            int          i;

            for (i = 0; i < 2; i++) {
                snprintf(path, sizeof(path), "%s/%s", ld->gen_dir, files[i]);

                if (chown(path, sb.st_uid, sb.st_gid) != 0
                    || chmod(path, sb.st_mode & 07777) != 0)
                {
                    pz_msg("%s: warning: cannot copy owner and mode: %s",
                           path, strerror(errno));
                }
            }

            if (chown(ld->gen_dir, sb.st_uid, sb.st_gid) != 0) {
                pz_msg("%s: warning: chown() failed: %s", ld->gen_dir,
                       strerror(errno));
            }
        }
    }

    if (pz_interrupted) {
        pz_msg("interrupted");
        return -1;
    }

    /* rename() of a symlink over the old one is atomic: a reader resolves
     * STORE to either the old or the new generation, never to nothing */

    snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", ld->store_path, (long) getpid());
    (void) unlink(tmp);

    if (symlink(pz_base(ld->gen_dir), tmp) != 0) {
        pz_msg("%s: symlink() failed: %s", tmp, strerror(errno));
        return -1;
    }

    if (rename(tmp, ld->store_path) != 0) {
        pz_msg("%s: rename() failed: %s", ld->store, strerror(errno));
        (void) unlink(tmp);
        return -1;
    }

    ld->built = 1;

    strcpy(dir, ld->store_path);
    parent = dirname(dir);

    fd = open(parent, O_RDONLY | O_DIRECTORY);
    if (fd != -1) {
        (void) fsync(fd);
        close(fd);
    }

    if (!ld->has_old) {
        return 0;
    }

    /* mark the retirement (see pz_replace_prepare()) and let other
     * writers in while we wait */

    (void) utimes(ld->old_dir, NULL);

    close(ld->lock_fd);
    ld->lock_fd = -1;

    /* readers that resolved the old generation just before the swap may
     * still be opening it: keep it for the grace period */

    if (ld->grace) {
        if (!ld->quiet) {
            pz_msg("%s: swapped in; removing %s in %ld s", ld->store,
                   ld->old_dir, ld->grace);
        }

        left = (unsigned) ld->grace;

        while (left && !pz_interrupted) {
            left = sleep(left);
        }

        if (pz_interrupted) {
            pz_msg("%s: left in place; the next replace removes it",
                   ld->old_dir);
            pz_interrupted = 0;
            return 0;
        }
    }

    if (pz_remove_generation(ld->old_dir) != 0) {
        return 0;
    }

    return 0;
}


/* only the files LMDB made: anything else there is not ours to delete */

static int
pz_remove_generation(const char *dir)
{
    char  path[PATH_MAX + 16];

    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    (void) unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    (void) unlink(path);

    if (rmdir(dir) != 0) {
        pz_msg("%s: warning: not removed: %s", dir, strerror(errno));
        return -1;
    }

    return 0;
}
