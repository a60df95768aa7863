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


#include "pz-load.h"


static void usage(FILE *f);
static int pz_lock(pz_load_t *ld);
static int pz_schema_setup(pz_load_t *ld);
static int pz_begin(pz_load_t *ld);
static void pz_abort(pz_load_t *ld);


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


    /* rows out of order, sorted apart, go in now */

    if (!pz_interrupted && pz_order_finish(ld) != 0) {
        goto failed;
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
        if (pz_sort_finish(ld, &ld->sorter) != 0) {
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
                    ld->order_rows ? " (unsorted input, sorted on the way)"
                    : ld->mode == PZ_MODE_REPLACE && ld->appended == ld->rows
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
    pz_sort_free(&ld->order);

    for (i = 0; i < (int) ld->ncopies; i++) {
        if (ld->copy_fds[i] != -1) {
            close(ld->copy_fds[i]);
        }
    }

    free(ld->copy_fds);
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
        memset(ld->cur, 0, sizeof(ld->cur));
        return -1;
    }

    ld->txn_rows = 0;

    return 0;
}


/*
 * A commit of a batch carries the meta record: the generation counts
 * commits, so readers can tell that something changed.
 */

int
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
    memset(ld->cur, 0, sizeof(ld->cur));

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
         * write-back of each commit now leaves little for that sync.  Not
         * for unsorted input: its commits rewrite pages all over the file,
         * and a page under write-back holds up the next write to it */

        if (ld->append && mdb_env_get_fd(ld->st.env, &fd) == 0) {
            (void) sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        }

        /* random inserts of unsorted input touch every page of the map:
         * keep them out of the resident set.  Appends map only the last
         * pages (and their neighbours) of each commit, and each release
         * costs the other threads a TLB flush: every so many commits */

        ld->txns++;

        if (ld->map_base == 0) {
            ld->map_base = pz_map_base(&ld->st);
        }

        if (ld->map_base != 0
            && (!ld->append || ld->txns % PZ_APPEND_RELEASE == 0))
        {
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


/*
 * Sorted puts go through one cursor per database and transaction: with
 * MDB_APPEND, LMDB then takes the last leaf from the cursor instead of
 * searching down from the root for each record.  The cursors close with
 * their transaction.
 */

int
pz_append(pz_load_t *ld, int db, MDB_val *key, MDB_val *val, unsigned flags)
{
    int  rc;

    if (ld->cur[db] == NULL) {
        rc = mdb_cursor_open(ld->txn, ld->st.dbi[db], &ld->cur[db]);

        if (rc != 0) {
            ld->cur[db] = NULL;
            return rc;
        }
    }

    return mdb_cursor_put(ld->cur[db], key, val, flags);
}


static void
pz_abort(pz_load_t *ld)
{
    if (ld->txn != NULL) {
        mdb_txn_abort(ld->txn);
        ld->txn = NULL;
        memset(ld->cur, 0, sizeof(ld->cur));
    }
}
