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

#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <pthread.h>
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
#define PZ_REPLACE_TXN_ROWS     10000

#define PZ_LINE_MAX             (16 * 1024 * 1024)

#define PZ_ROW_OK               0
#define PZ_ROW_BAD              1
#define PZ_ROW_FATAL            -1


/* the JSON pipeline */

#define PZ_PIPE_BLOCKS          8
#define PZ_PIPE_CHUNK           (1024 * 1024)
#define PZ_PIPE_THREADS         8

typedef struct {
    uint64_t              seq;
    int                   full;         /* parsed, for the writer */
    unsigned long         first_line;
    char                 *in;
    size_t                in_len;
    size_t                in_cap;
    unsigned char        *out;
    size_t                out_len;
    size_t                out_cap;
} pz_block_t;

typedef struct pz_load_s  pz_load_t;

/*
 * Two locks: "rmu" lets one parser at a time read the input (it may block
 * on a pipe), "mu" guards the ring.  The writer takes only "mu", so a read
 * blocked on a quiet pipe never keeps it from noticing a signal.
 */

typedef struct {
    pthread_mutex_t       rmu;
    pthread_mutex_t       mu;
    pthread_cond_t        cv_slot;      /* the writer freed a block */
    pthread_cond_t        cv_full;      /* a parser filled a block */
    pz_block_t            blocks[PZ_PIPE_BLOCKS];
    uint64_t              next_seq;     /* next block to read, under rmu */
    uint64_t              total;        /* blocks in all, once known */
    int                   total_known;
    uint64_t              consumed;     /* next block to write */
    FILE                 *in;
    unsigned long         line;         /* lines read */
    char                 *carry;        /* a line cut by a chunk */
    size_t                carry_len;
    size_t                carry_cap;
    int                   eof;
    int                   stop;
    int                   error;
    int                   read_errno;
    unsigned long         too_long;
    pz_load_t            *ld;
} pz_pipe_t;


/* the alias sorter of a replace */

#define PZ_SORT_MEM             (64 * 1024 * 1024)
#define PZ_SORT_ENTS            (PZ_SORT_MEM / 32)
#define PZ_SORT_IO              (1024 * 1024)
#define PZ_SORT_RUNS            256
#define PZ_SENT_HDR             12      /* u16 alias, u16 id, u32 line,
                                           u16 file, u16 lines */
#define PZ_CLAIMS_MAX           100000

typedef struct {
    uint64_t              k0;           /* alias bytes 0-7, big end */
    uint64_t              k1;           /* alias bytes 8-15 */
    uint32_t              off;          /* in the buffer: input order */
    uint32_t              len;          /* of the alias */
} pz_sent_t;

/* a row's claim on an alias that other rows claim too (-x) */
typedef struct {
    uint32_t              group;        /* the alias, numbered */
    uint32_t              line;
    uint16_t              lines;        /* of a CSV row */
    uint16_t              file;
    uint16_t              alias_len;
    uint16_t              id_len;
    unsigned char         alias[PZ_ID_MAX];
    unsigned char         id[PZ_ID_MAX];
} pz_claim_t;

typedef struct {
    unsigned char        *buf;
    size_t                len;
    pz_sent_t            *ents;
    size_t                n;
    size_t                ents_cap;
    unsigned char        *wbuf;         /* a spill's writes */
    int                   runs[PZ_SORT_RUNS];       /* unlinked files */
    int                   nruns;
    size_t                slice;        /* of buf, for each run's reads */
    size_t                rpos[PZ_SORT_RUNS];
    size_t                rlen[PZ_SORT_RUNS];
    unsigned char        *heads[PZ_SORT_RUNS];
    unsigned char         prev[PZ_ID_MAX];
    size_t                prev_len;
    unsigned char         prev_id[PZ_ID_MAX];
    size_t                prev_id_len;
    pz_claim_t            owner;        /* the first claim on prev */
    int                   prev_claimed;
    pz_claim_t           *claims;
    size_t                nclaims;
    size_t                claims_cap;
    uint32_t              groups;
} pz_sorter_t;

static const unsigned char  *pz_sort_base;


struct pz_load_s {
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
    long                  threads;      /* parsers; 0: no pipeline */

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
    int                   fresh;        /* upsert into an empty store */
    uintptr_t             map_base;
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

    /* the record to write: the row's own or a pipeline result */
    const unsigned char  *rec;
    size_t                rec_len;

    /* input files by index, for messages about sorted aliases */
    const char          **files;
    size_t                file_idx;
    int                   from_stdin;
    int                   in_csv;
    size_t                alias_rejects;

    pz_sorter_t           sorter;

    /* a replace checks its profiles while the aliases go in */
    pthread_t             check_tid;
    int                   check_running;
    int                   check_rc;
    pz_walk_t             check;
};


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
static int pz_row_write(pz_load_t *ld, const char *raw, size_t raw_len);
static int pz_input_pipe(pz_load_t *ld, FILE *in);
static int pz_pipe_read(pz_pipe_t *p, pz_block_t *b);
static void *pz_pipe_parser(void *arg);
static int pz_out_put(pz_block_t *b, const void *data, size_t len);
static int pz_pipe_parse(pz_load_t *ld, pz_block_t *b, pz_row_t *row);
static int pz_pipe_write(pz_load_t *ld, pz_block_t *b);
static int pz_sent_cmp(const pz_sent_t *a, const pz_sent_t *b);
static int pz_sort_cmp(const void *a, const void *b);
static unsigned pz_sent_digit(const pz_sent_t *e, unsigned depth);
static void pz_sort_radix(pz_sent_t *a, size_t n, unsigned depth);
static int pz_sort_add(pz_load_t *ld, const pz_bytes_t *alias);
static void pz_sort_buffer(pz_sorter_t *s);
static int pz_write_all(int fd, const unsigned char *p, size_t len);
static int pz_sort_spill(pz_load_t *ld);
static int pz_sort_next(pz_sorter_t *s, int r);
static int pz_head_cmp(pz_sorter_t *s, int a, int b);
static int pz_sort_emit(pz_load_t *ld, const unsigned char *e);
static int pz_claim_add(pz_load_t *ld, const pz_claim_t *c);
static void pz_claim_set(pz_claim_t *c, const unsigned char *e);
static int pz_claim_cmp(const void *a, const void *b);
static int pz_claims_settle(pz_load_t *ld);
static int pz_claim_reject(pz_load_t *ld, pz_claim_t *c);
static int pz_claims_reread(pz_load_t *ld, pz_claim_t *c, size_t n);
static int pz_rereadable(pz_load_t *ld, unsigned file);
static void pz_heap_down(pz_sorter_t *s, int *heap, int n, int i);
static int pz_sort_finish(pz_load_t *ld);
static void pz_sort_free(pz_sorter_t *s);
static int pz_put_profile(pz_load_t *ld);
static int pz_put_catalog(pz_load_t *ld);
static int pz_alias_unlink(pz_load_t *ld, MDB_val *owner, MDB_val *alias);
static int pz_delete_profile(pz_load_t *ld, MDB_val *id);
static int pz_delete_one(pz_load_t *ld, const char *id, size_t len);
static int pz_retain(pz_load_t *ld);
static int pz_seen(pz_load_t *ld, const void *id, size_t len, int add);
static int pz_replace_prepare(pz_load_t *ld);
static void pz_check_start(pz_load_t *ld);
static void *pz_check_thread(void *arg);
static int pz_check_join(pz_load_t *ld);
static int pz_replace_finish(pz_load_t *ld);
static int pz_remove_generation(const char *dir);
static int pz_copy_db(MDB_txn *from, MDB_dbi fdbi, MDB_txn *to,
    MDB_dbi tdbi);
static const char *pz_base(const char *path);
static void pz_csv_cell(void *s, size_t len, void *data);
static void pz_csv_row(int c, void *data);
static int pz_csv_header(pz_load_t *ld);
static void pz_csv_put(FILE *f, const char *cell, size_t len);


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
        "  -j threads  JSON parser threads (default: one per CPU; 0: "
        "none)\n"
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

    /* static: parser threads may outlive main() after a signal */
    static pz_load_t    load;
    static const char  *stdin_names[] = { "stdin" };

    pz_prog = "pz-load";
    ld = &load;

    ld->format = -1;
    ld->grace = 30;
    ld->lock_fd = -1;
    ld->append = 1;

    ld->threads = -1;

    while ((c = getopt(argc, argv, "d:s:cRG:Dr:b:x:F:m:j:qVh")) != -1) {
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
        case 'j':
            ld->threads = strtol(optarg, &end, 10);
            if (*end != '\0' || ld->threads < 0
                || ld->threads > PZ_PIPE_THREADS)
            {
                pz_msg("-j %s: expected 0 to %d parser threads", optarg,
                       PZ_PIPE_THREADS);
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
    pz_json_arena();
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

    /*
     * An upsert of one batch into a store without profiles is a build:
     * it takes the fast path of a replace (MDB_APPEND, sorted aliases)
     * inside its one transaction.
     */

    if (ld->mode == PZ_MODE_UPSERT && ld->kind == PZ_ROW_PROFILE
        && ld->batch == 0)
    {
        MDB_stat  ps, as;

        if (mdb_stat(ld->txn, ld->st.dbi[PZ_PROFILES], &ps) == 0
            && mdb_stat(ld->txn, ld->st.dbi[PZ_ALIASES], &as) == 0
            && ps.ms_entries == 0 && as.ms_entries == 0)
        {
            ld->fresh = 1;
        }
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
        ld->files = stdin_names;
        ld->from_stdin = 1;

        if (pz_input(ld, "-") != 0) {
            goto failed;
        }

    } else {
        ld->files = (const char **) argv;

        for (i = optind; i < argc; i++) {
            ld->file_idx = i;

            if (pz_input(ld, argv[i]) != 0) {
                goto failed;
            }
        }
    }


    /* the profiles are complete: their check runs beside the merge of the
     * aliases, the sync and the check of the rest */

    if (ld->mode == PZ_MODE_REPLACE && !pz_interrupted) {
        if (pz_commit(ld, 0) != 0) {
            goto failed;
        }

        pz_check_start(ld);
    }

    if (ld->sorter.buf != NULL) {
        if (pz_sort_finish(ld) != 0) {
            goto failed;
        }

        if (ld->sorter.nclaims && pz_claims_settle(ld) != 0) {
            goto failed;
        }

        pz_sort_free(&ld->sorter);
    }

    if (pz_interrupted) {
        goto failed;
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

failed:

    pz_abort(ld);
    (void) pz_check_join(ld);

    if (pz_interrupted) {
        pz_msg("interrupted");
    }

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
    (void) pz_check_join(ld);

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

    pz_sort_free(&ld->sorter);
    pz_row_free(&ld->row);
    pz_json_arena_free();
    free(ld->seen);
    free(ld->scratch);
    free(ld->scratch_items);

    for (i = 0; i < (int) ld->nheader; i++) {
        free(ld->header[i]);
    }

    free(ld->header);

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
    int               rc;
    mdb_filehandle_t  fd;

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

    } else {
        /* the new generation is synced once, before the swap: starting the
         * write-back of each commit now leaves little for that sync */

        if (mdb_env_get_fd(ld->st.env, &fd) == 0) {
            (void) sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        }

        /* random inserts of unsorted input touch every page of the map:
         * keep them out of the resident set */

        if (ld->map_base == 0) {
            ld->map_base = pz_map_base(&ld->st);
        }

        if (ld->map_base != 0) {
            pz_map_release(&ld->st, ld->map_base);
        }
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


static int
pz_row_write(pz_load_t *ld, const char *raw, size_t raw_len)
{
    int  rc;

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

            pz_csv_put(ld->reject, ld->cells[i], ld->cell_lens[i]);
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

    if (ld->mode == PZ_MODE_REPLACE || ld->fresh) {

        flags = MDB_NOOVERWRITE;

        if (ld->append && ld->have_prev
            && pz_id_cmp(row->id, row->id_len, ld->prev, ld->prev_len) <= 0)
        {
            ld->append = 0;
        }

        if (ld->append) {
            flags |= MDB_APPEND;
        }

        val.mv_data = (void *) ld->rec;
        val.mv_size = ld->rec_len;

        rc = mdb_put(ld->txn, ld->st.dbi[PZ_PROFILES], &key, &val, flags);

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
        }

        memcpy(ld->prev, row->id, row->id_len);
        ld->prev_len = row->id_len;
        ld->have_prev = 1;

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


static int
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


/*
 * The JSON pipeline.  Parsing a JSON line costs more than writing its
 * record, so parser threads (one per CPU) take chunks of about 1 MiB of
 * whole lines from the input, parse and encode them, and the main thread
 * writes the results in input order: the transaction stays in one thread
 * and the order of rows (and so of errors and MDB_APPEND) is the input's.
 * A ring of PZ_PIPE_BLOCKS chunks bounds the memory.
 */

static int
pz_input_pipe(pz_load_t *ld, FILE *in)
{
    int              rc;
    long             ncpu;
    size_t           i, nthreads;
    struct timespec  ts;
    static pz_pipe_t p;
    pthread_t   tids[PZ_PIPE_THREADS];
    pz_block_t *b;

    memset(&p, 0, sizeof(pz_pipe_t));
    p.ld = ld;
    p.in = in;

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
    pz_row_t    *row;
    uint64_t     seq;

    row = malloc(sizeof(pz_row_t));

    if (row != NULL) {
        pz_row_init(row);
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

        rc = pz_pipe_parse(p->ld, b, row);

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
pz_pipe_parse(pz_load_t *ld, pz_block_t *b, pz_row_t *row)
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

        /* the objects of the last line die here: no json_decref() walks
         * them (pz_json_arena()) */
        pz_json_arena_reset();

        obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);

        if (obj == NULL) {
            snprintf(row->err, sizeof(row->err), "malformed JSON: %s "
                     "(column %d)", jerr.text, jerr.column);
            rc = -1;

        } else {
            rc = pz_json_to_row(row, obj, ld->schema, ld->kind, 0, ld->now);
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


/*
 * Aliases of a replace: sorted apart and appended at the end.  Aliases
 * arrive in random order (e-mail hashes, cookie ids); inserting them one
 * by one into the B-tree costs more than the whole rest of a load.  So
 * they are gathered in a buffer of PZ_SORT_MEM bytes, sorted, spilled as
 * runs into unlinked files beside the new generation, and merged into the
 * aliases database with MDB_APPEND.  Memory stays flat.  Two rows
 * claiming one alias show up as neighbours in the merge, the earlier row
 * first: entries that tie sort by their place in the buffer, and the
 * merge takes the earlier run.
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

    return (a->off > b->off) - (a->off < b->off);
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


static int
pz_sort_add(pz_load_t *ld, const pz_bytes_t *alias)
{
    size_t          need, i;
    uint16_t        u16;
    unsigned long   first, lines;
    uint32_t        u32;
    uint64_t        k[2];
    pz_sorter_t    *s;
    pz_sent_t      *e;
    unsigned char  *p;

    s = &ld->sorter;

    need = PZ_SENT_HDR + alias->len + ld->row.id_len;

    if (s->buf == NULL) {
        s->buf = malloc(PZ_SORT_MEM);
        s->ents = malloc(PZ_SORT_ENTS * sizeof(pz_sent_t));
        s->ents_cap = PZ_SORT_ENTS;

        if (s->buf == NULL || s->ents == NULL) {
            pz_msg("out of memory");
            return -1;
        }
    }

    if (s->len + need > PZ_SORT_MEM || s->n == s->ents_cap) {
        if (pz_sort_spill(ld) != 0) {
            return -1;
        }
    }

    p = s->buf + s->len;

    /* a CSV row may span lines: -x may have to copy them all */
    first = ld->in_csv ? ld->row_line : ld->line;
    lines = ld->line - first + 1;

    u16 = (uint16_t) alias->len;
    memcpy(p, &u16, 2);
    u16 = (uint16_t) ld->row.id_len;
    memcpy(p + 2, &u16, 2);
    u32 = (uint32_t) first;
    memcpy(p + 4, &u32, 4);
    u16 = (uint16_t) ld->file_idx;
    memcpy(p + 8, &u16, 2);
    u16 = (uint16_t) (lines > 0xffff ? 0xffff : lines);
    memcpy(p + 10, &u16, 2);
    memcpy(p + PZ_SENT_HDR, alias->data, alias->len);
    memcpy(p + PZ_SENT_HDR + alias->len, ld->row.id, ld->row.id_len);

    k[0] = 0;
    k[1] = 0;

    for (i = 0; i < 16; i++) {
        k[i / 8] <<= 8;

        if (i < alias->len) {
            k[i / 8] |= alias->data[i];
        }
    }

    e = &s->ents[s->n++];
    e->k0 = k[0];
    e->k1 = k[1];
    e->off = (uint32_t) s->len;
    e->len = (uint32_t) alias->len;
    s->len += need;

    return 0;
}


static void
pz_sort_buffer(pz_sorter_t *s)
{
    pz_sort_base = s->buf;
    pz_sort_radix(s->ents, s->n, 0);
}


static int
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


static int
pz_sort_spill(pz_load_t *ld)
{
    int             fd;
    char            path[PATH_MAX + 32];
    size_t          i, len, wlen;
    uint16_t        la, li;
    pz_sorter_t    *s;
    unsigned char  *p;

    s = &ld->sorter;

    if (s->nruns == PZ_SORT_RUNS) {
        pz_msg("more than %d sort runs", PZ_SORT_RUNS);
        return -1;
    }

    if (s->wbuf == NULL) {
        s->wbuf = malloc(PZ_SORT_IO);

        if (s->wbuf == NULL) {
            pz_msg("out of memory");
            return -1;
        }
    }

    pz_sort_buffer(s);

    snprintf(path, sizeof(path), "%s/sort-%d.tmp",
             ld->fresh ? ld->st.dir : ld->gen_dir, s->nruns);

    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1) {
        pz_msg("%s: %s", path, strerror(errno));
        return -1;
    }

    (void) unlink(path);

    wlen = 0;

    for (i = 0; i < s->n; i++) {
        /* the entries lie in the buffer in input order, not sorted */
        if (i + 16 < s->n) {
            __builtin_prefetch(s->buf + s->ents[i + 16].off);
        }

        p = s->buf + s->ents[i].off;
        memcpy(&la, p, 2);
        memcpy(&li, p + 2, 2);
        len = PZ_SENT_HDR + la + li;

        if (wlen + len > PZ_SORT_IO) {
            if (pz_write_all(fd, s->wbuf, wlen) != 0) {
                goto failed;
            }

            wlen = 0;
        }

        memcpy(s->wbuf + wlen, p, len);
        wlen += len;
    }

    if (pz_write_all(fd, s->wbuf, wlen) != 0
        || lseek(fd, 0, SEEK_SET) != 0)
    {
        goto failed;
    }

    s->runs[s->nruns++] = fd;
    s->n = 0;
    s->len = 0;

    return 0;

failed:

    pz_msg("%s: write failed: %s", ld->gen_dir, strerror(errno));
    close(fd);

    return -1;
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

            want = PZ_SENT_HDR + la + li;

            if (have >= want) {
                s->heads[r] = slice + s->rpos[r];
                s->rpos[r] += want;
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

        if (n == 0) {
            return have == 0 ? 1 : -1;
        }

        s->rlen[r] += n;
    }
}


static int
pz_head_cmp(pz_sorter_t *s, int a, int b)
{
    int       rc;
    uint16_t  la, lb;

    memcpy(&la, s->heads[a], 2);
    memcpy(&lb, s->heads[b], 2);

    rc = pz_id_cmp(s->heads[a] + PZ_SENT_HDR, la, s->heads[b] + PZ_SENT_HDR,
                   lb);

    /* a tie goes to the earlier run: the earlier rows */
    return rc != 0 ? rc : a - b;
}


/* one sorted entry into the aliases database */

static int
pz_sort_emit(pz_load_t *ld, const unsigned char *e)
{
    int         rc;
    uint16_t    la, li, fi;
    uint32_t    line;
    MDB_val     key, val;
    pz_claim_t  claim;

    memcpy(&la, e, 2);
    memcpy(&li, e + 2, 2);
    memcpy(&line, e + 4, 4);
    memcpy(&fi, e + 8, 2);

    key.mv_data = (void *) (e + PZ_SENT_HDR);
    key.mv_size = la;
    val.mv_data = (void *) (e + PZ_SENT_HDR + la);
    val.mv_size = li;

    if (ld->sorter.prev_len == la
        && memcmp(ld->sorter.prev, key.mv_data, la) == 0)
    {
        if (ld->reject == NULL) {
            pz_msg("%s:%lu: alias \"%.*s\" of \"%.*s\" already belongs to "
                   "\"%.*s\"", ld->files[fi], (unsigned long) line, (int) la,
                   (char *) key.mv_data, (int) li, (char *) val.mv_data,
                   (int) ld->sorter.prev_id_len, ld->sorter.prev_id);
            return -1;
        }

        /* -x: which rows go is settled once all claims are known */

        if (!ld->sorter.prev_claimed) {
            ld->sorter.owner.group = ld->sorter.groups++;

            if (pz_claim_add(ld, &ld->sorter.owner) != 0) {
                return -1;
            }

            ld->sorter.prev_claimed = 1;
        }

        pz_claim_set(&claim, e);
        claim.group = ld->sorter.owner.group;

        return pz_claim_add(ld, &claim);
    }

    memcpy(ld->sorter.prev, key.mv_data, la);
    ld->sorter.prev_len = la;
    memcpy(ld->sorter.prev_id, val.mv_data, li);
    ld->sorter.prev_id_len = li;
    ld->sorter.prev_claimed = 0;

    if (ld->reject != NULL) {
        pz_claim_set(&ld->sorter.owner, e);
    }

    rc = mdb_put(ld->txn, ld->st.dbi[PZ_ALIASES], &key, &val, MDB_APPEND);

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


/*
 * Under -x, two rows claiming one alias reject the later one, as an
 * upsert does: rows are taken in input order, and a row goes when an
 * alias of it belongs to an earlier row that stayed.  The merge meets the
 * claims in alias order, so it only notes them (and gives each alias to
 * its first claimant); pz_claims_settle() decides once the merge is done.
 */

static void
pz_claim_set(pz_claim_t *c, const unsigned char *e)
{
    memcpy(&c->alias_len, e, 2);
    memcpy(&c->id_len, e + 2, 2);
    memcpy(&c->line, e + 4, 4);
    memcpy(&c->file, e + 8, 2);
    memcpy(&c->lines, e + 10, 2);
    memcpy(c->alias, e + PZ_SENT_HDR, c->alias_len);
    memcpy(c->id, e + PZ_SENT_HDR + c->alias_len, c->id_len);
}


static int
pz_claim_add(pz_load_t *ld, const pz_claim_t *c)
{
    size_t        cap;
    pz_claim_t   *claims;
    pz_sorter_t  *s;

    s = &ld->sorter;

    if (s->nclaims == s->claims_cap) {
        if (s->claims_cap == PZ_CLAIMS_MAX) {
            pz_msg("more than %d rows claim aliases of other rows",
                   PZ_CLAIMS_MAX);
            return -1;
        }

        cap = s->claims_cap ? s->claims_cap * 2 : 64;
        cap = cap > PZ_CLAIMS_MAX ? PZ_CLAIMS_MAX : cap;

        claims = realloc(s->claims, cap * sizeof(pz_claim_t));
        if (claims == NULL) {
            pz_msg("out of memory");
            return -1;
        }

        s->claims = claims;
        s->claims_cap = cap;
    }

    s->claims[s->nclaims++] = *c;

    return 0;
}


/* input order: file, line */

static int
pz_claim_cmp(const void *a, const void *b)
{
    const pz_claim_t  *ca = a, *cb = b;

    if (ca->file != cb->file) {
        return ca->file < cb->file ? -1 : 1;
    }

    if (ca->line != cb->line) {
        return ca->line < cb->line ? -1 : 1;
    }

    return (ca->group > cb->group) - (ca->group < cb->group);
}


static int
pz_claims_settle(pz_load_t *ld)
{
    int            rc, rejected;
    size_t         i, j, k, n, nrej;
    ssize_t       *owner;
    MDB_val        key, val;
    pz_claim_t    *c, *block, *rej;
    pz_sorter_t   *s;

    s = &ld->sorter;
    n = s->nclaims;

    qsort(s->claims, n, sizeof(pz_claim_t), pz_claim_cmp);

    /* owner[group]: the claim of the row that keeps the alias */

    owner = malloc(s->groups * sizeof(ssize_t));
    rej = malloc(n * sizeof(pz_claim_t));

    if (owner == NULL || rej == NULL) {
        free(owner);
        free(rej);
        pz_msg("out of memory");
        return -1;
    }

    for (i = 0; i < s->groups; i++) {
        owner[i] = -1;
    }

    nrej = 0;
    rc = 0;

    for (i = 0; i < n; i = j) {

        /* the claims of one row */

        block = NULL;

        for (j = i;
             j < n && s->claims[j].file == s->claims[i].file
             && s->claims[j].line == s->claims[i].line;
             j++)
        {
            if (block == NULL && owner[s->claims[j].group] != -1) {
                block = &s->claims[j];
            }
        }

        if (block == NULL) {
            for (k = i; k < j; k++) {
                owner[s->claims[k].group] = k;
            }

            continue;
        }

        c = &s->claims[owner[block->group]];

        pz_msg("%s:%lu: alias \"%.*s\" of \"%.*s\" already belongs to "
               "\"%.*s\"", ld->files[block->file], (unsigned long) block->line,
               (int) block->alias_len, block->alias, (int) block->id_len,
               block->id, (int) c->id_len, c->id);

        rej[nrej++] = *block;
    }

    /* the rejected rows go with all their aliases */

    for (i = 0; i < nrej && rc == 0; i++) {
        rc = pz_claim_reject(ld, &rej[i]);
    }

    /* each contested alias to the row that keeps it */

    for (i = 0; i < n && rc == 0; i++) {
        c = &s->claims[i];

        if (owner[c->group] != (ssize_t) i) {
            continue;
        }

        key.mv_data = c->alias;
        key.mv_size = c->alias_len;
        val.mv_data = c->id;
        val.mv_size = c->id_len;

        rc = mdb_put(ld->txn, ld->st.dbi[PZ_ALIASES], &key, &val, 0);

        if (rc != 0) {
            pz_msg("mdb_put(aliases) failed: %s", mdb_strerror(rc));
            rc = -1;
        }
    }

    rejected = (int) nrej;

    /* the rows of files that can be read again, in input order */

    for (i = 0, k = 0; i < nrej; i++) {
        if (pz_rereadable(ld, rej[i].file)) {
            rej[k++] = rej[i];
        }
    }

    if (rc == 0) {
        rc = pz_claims_reread(ld, rej, k);
    }

    ld->alias_rejects += rejected;

    free(owner);
    free(rej);

    return rc;
}


/* a rejected row leaves the new store; stdin cannot be read again: the
 * reject file gets the row as the store had it, as a JSON line */

static int
pz_claim_reject(pz_load_t *ld, pz_claim_t *c)
{
    int          rc;
    size_t       pos;
    json_t      *obj;
    MDB_val      key, val, akey, aval;
    pz_field_t   f;
    pz_bytes_t   item;

    key.mv_data = c->id;
    key.mv_size = c->id_len;

    rc = mdb_get(ld->txn, ld->st.dbi[PZ_PROFILES], &key, &val);

    if (rc != 0) {
        pz_msg("mdb_get(profiles) failed: %s", mdb_strerror(rc));
        return -1;
    }

    if (!pz_rereadable(ld, c->file)) {
        obj = pz_record_to_json((const char *) c->id, c->id_len, val.mv_data,
                                val.mv_size, PZ_ROW_PROFILE);

        rc = obj != NULL ? pz_print_json(ld->reject, obj) : -1;
        json_decref(obj);
        pz_json_arena_reset();

        if (rc != 0) {
            pz_msg("%s: %s", ld->reject_file, strerror(errno));
            return -1;
        }
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

            if (rc == 0 && aval.mv_size == key.mv_size
                && memcmp(aval.mv_data, key.mv_data, key.mv_size) == 0)
            {
                rc = mdb_del(ld->txn, ld->st.dbi[PZ_ALIASES], &akey, NULL);
            }

            if (rc != 0 && rc != MDB_NOTFOUND) {
                pz_msg("mdb_del(aliases) failed: %s", mdb_strerror(rc));
                return -1;
            }
        }
    }

    rc = mdb_del(ld->txn, ld->st.dbi[PZ_PROFILES], &key, NULL);

    if (rc != 0) {
        pz_msg("mdb_del(profiles) failed: %s", mdb_strerror(rc));
        return -1;
    }

    ld->rows--;
    ld->rejected++;

    if (ld->appended > ld->rows) {
        ld->appended = ld->rows;
    }

    return 0;
}


static int
pz_rereadable(pz_load_t *ld, unsigned file)
{
    struct stat  sb;

    return !ld->from_stdin && strcmp(ld->files[file], "-") != 0
           && stat(ld->files[file], &sb) == 0 && S_ISREG(sb.st_mode);
}


/* the rejected rows as they were: their lines read again from the files */

static int
pz_claims_reread(pz_load_t *ld, pz_claim_t *c, size_t n)
{
    int            rc;
    char          *buf;
    FILE          *in;
    size_t         i, cap;
    ssize_t        len;
    unsigned long  line;

    qsort(c, n, sizeof(pz_claim_t), pz_claim_cmp);

    buf = NULL;
    cap = 0;
    rc = 0;

    for (i = 0; i < n && rc == 0; /* void */ ) {
        in = fopen(ld->files[c[i].file], "r");

        if (in == NULL) {
            pz_msg("%s: %s", ld->files[c[i].file], strerror(errno));
            rc = -1;
            break;
        }

        line = 0;

        while (i < n && (len = getline(&buf, &cap, in)) != -1) {
            line++;

            if (line < c[i].line) {
                continue;
            }

            if (fwrite(buf, 1, len, ld->reject) != (size_t) len
                || (buf[len - 1] != '\n' && fputc('\n', ld->reject) == EOF))
            {
                pz_msg("%s: %s", ld->reject_file, strerror(errno));
                rc = -1;
                break;
            }

            if (line >= c[i].line + c[i].lines - 1) {
                i++;

                /* the next file */
                if (i < n && c[i].file != c[i - 1].file) {
                    break;
                }
            }
        }

        fclose(in);

        if (rc == 0 && i < n && (i == 0 || c[i].file == c[i - 1].file)) {
            pz_msg("%s: shorter than it was", ld->files[c[i].file]);
            rc = -1;
        }
    }

    free(buf);

    return rc;
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


static int
pz_sort_finish(pz_load_t *ld)
{
    int           rc, r, n, heap[PZ_SORT_RUNS];
    size_t        i;
    pz_sorter_t  *s;

    s = &ld->sorter;

    if (s->nruns == 0) {
        pz_sort_buffer(s);

        for (i = 0; i < s->n; i++) {
            if (pz_interrupted || pz_sort_emit(ld, s->buf + s->ents[i].off))
            {
                return -1;
            }
        }

        return 0;
    }

    if (s->n && pz_sort_spill(ld) != 0) {
        return -1;
    }

    /* the buffer is free now: a slice of it reads each run */

    s->slice = PZ_SORT_MEM / s->nruns;
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

        if (pz_interrupted || pz_sort_emit(ld, s->heads[r]) != 0) {
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


static void
pz_sort_free(pz_sorter_t *s)
{
    int  r;

    for (r = 0; r < s->nruns; r++) {
        close(s->runs[r]);
    }

    s->nruns = 0;
    free(s->buf);
    free(s->ents);
    free(s->wbuf);
    free(s->claims);
    s->buf = NULL;
    s->ents = NULL;
    s->wbuf = NULL;
    s->claims = NULL;
    s->nclaims = 0;
    s->claims_cap = 0;
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
 * The profiles of a new generation are committed: a thread checks them
 * in a read-only transaction while the main one writes the aliases.
 * Without the thread, pz_replace_finish() checks everything itself.
 */

static void
pz_check_start(pz_load_t *ld)
{
    memset(&ld->check, 0, sizeof(pz_walk_t));
    ld->check.parts = PZ_WALK_PROFILES;
    ld->check.max_report = 10;
    ld->check.report = stderr;

    /* the schemas the final commit stores in the meta record */
    ld->check.meta = ld->meta;

    ld->check_running = pthread_create(&ld->check_tid, NULL,
                                       pz_check_thread, ld)
                        == 0;
}


static void *
pz_check_thread(void *arg)
{
    int         rc;
    MDB_txn    *txn;
    pz_load_t  *ld = arg;

    rc = mdb_txn_begin(ld->st.env, NULL, MDB_RDONLY, &txn);

    if (rc != 0) {
        pz_msg("%s: mdb_txn_begin() failed: %s", ld->gen_dir,
               mdb_strerror(rc));
        ld->check_rc = -1;
        return NULL;
    }

    ld->check_rc = pz_walk(&ld->st, txn, &ld->check);
    mdb_txn_abort(txn);

    return NULL;
}


static int
pz_check_join(pz_load_t *ld)
{
    if (!ld->check_running) {
        return 0;
    }

    pthread_join(ld->check_tid, NULL);
    ld->check_running = 0;

    return ld->check_rc;
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
    size_t       problems;
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

    problems = 0;

    if (ld->check_running) {
        rc = pz_check_join(ld);

        /* rows rejected after the thread's snapshot: all is walked again */

        if (rc != 0 && ld->alias_rejects == 0) {
            mdb_txn_abort(txn);
            return -1;
        }

        if (ld->alias_rejects == 0) {
            w.parts = PZ_WALK_META | PZ_WALK_ALIASES | PZ_WALK_CATALOG;
            w.alias_refs = ld->check.alias_refs;
            problems = ld->check.problems;
        }
    }

    rc = pz_walk(&ld->st, txn, &w);
    mdb_txn_abort(txn);

    problems += w.problems;

    if (rc != 0 || problems) {
        pz_msg("%s: the new generation fails its check (%zu problems)",
               ld->gen_dir, problems);
        return -1;
    }

    pz_store_close(&ld->st);
    ld->st_open = 0;

    if (ld->has_old) {
        const char  *files[] = { "data.mdb", "lock.mdb" };
        int          i;

        for (i = 0; i < 2; i++) {
            snprintf(path, sizeof(path), "%s/%s", ld->old_dir, files[i]);

            if (stat(path, &sb) != 0) {
                continue;
            }

            snprintf(path, sizeof(path), "%s/%s", ld->gen_dir, files[i]);

            if (chown(path, sb.st_uid, sb.st_gid) != 0
                || chmod(path, sb.st_mode & 07777) != 0)
            {
                pz_msg("%s: warning: cannot copy owner and mode: %s",
                       path, strerror(errno));
            }
        }

        if (stat(ld->old_dir, &sb) == 0
            && (chown(ld->gen_dir, sb.st_uid, sb.st_gid) != 0
                || chmod(ld->gen_dir, sb.st_mode & 07777) != 0))
        {
            pz_msg("%s: warning: cannot copy owner and mode: %s",
                   ld->gen_dir, strerror(errno));
        }
    }

    if (pz_interrupted) {
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
