/*
 * pz-dump: an ngx_personalize store as the JSON lines that pz-load reads,
 * so that load -> dump -> load gives an identical store.
 *
 *     pz-dump -d STORE [-c] [-S] [-o FILE]
 *
 * -S prints the schema (the JSON object that pz-load -s takes) instead.
 */

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "pz_tool.h"


static void usage(FILE *f);


static void
usage(FILE *f)
{
    fprintf(f,
        "usage: %s -d store [-c] [-S] [-o file]\n"
        "  -d store   the store directory (or symlink to one)\n"
        "  -c         dump the catalog instead of the profiles\n"
        "  -S         print the schema instead (for pz-load -s)\n"
        "  -o file    write to file instead of stdout\n"
        "  -V         version\n",
        pz_prog);
}


int
main(int argc, char **argv)
{
    int           c, rc, kind, schema, status;
    char          err[PZ_ERRLEN];
    FILE         *out;
    json_t       *obj;
    size_t        n;
    MDB_val       key, val;
    MDB_txn      *txn;
    MDB_cursor   *cur;
    pz_meta_t     meta;
    pz_store_t    st;
    const char   *store, *file;

    pz_prog = "pz-dump";
    store = NULL;
    file = NULL;
    kind = PZ_ROW_PROFILE;
    schema = 0;

    while ((c = getopt(argc, argv, "d:cSo:Vh")) != -1) {
        switch (c) {
        case 'd':
            store = optarg;
            break;
        case 'c':
            kind = PZ_ROW_CATALOG;
            break;
        case 'S':
            schema = 1;
            break;
        case 'o':
            file = optarg;
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

    if (store == NULL || optind != argc) {
        usage(stderr);
        return EXIT_FAILURE;
    }

    pz_signals();

    if (pz_store_open(&st, store, PZ_OPEN_RDONLY, 0) != 0) {
        return EXIT_FAILURE;
    }

    status = EXIT_FAILURE;
    out = stdout;

    if (file != NULL) {
        out = fopen(file, "w");
        if (out == NULL) {
            pz_msg("%s: %s", file, strerror(errno));
            goto close;
        }
    }

    rc = mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        pz_msg("%s: mdb_txn_begin() failed: %s", store, mdb_strerror(rc));
        goto close;
    }

    if (schema) {
        rc = pz_meta_get(txn, &st, &meta, err, sizeof(err));

        if (rc != 0) {
            pz_msg("%s: %s", store, rc == 1 ? "no meta record" : err);
            goto abort;
        }

        if (kind == PZ_ROW_CATALOG && !meta.has_catalog) {
            pz_schema_catalog_default(&meta.catalog);
        }

        obj = pz_schema_to_json(kind == PZ_ROW_CATALOG ? &meta.catalog
                                                       : &meta.schema);

        if (obj == NULL || pz_print_json(out, obj) != 0) {
            pz_msg("write failed");
            json_decref(obj);
            goto abort;
        }

        json_decref(obj);
        status = EXIT_SUCCESS;
        goto abort;
    }

    rc = mdb_cursor_open(txn, st.dbi[kind == PZ_ROW_CATALOG ? PZ_CATALOG
                                                            : PZ_PROFILES],
                         &cur);
    if (rc != 0) {
        pz_msg("mdb_cursor_open() failed: %s", mdb_strerror(rc));
        goto abort;
    }

    n = 0;

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (pz_interrupted) {
            pz_msg("interrupted");
            goto cursor;
        }

        obj = pz_record_to_json(key.mv_data, key.mv_size, val.mv_data,
                                val.mv_size, kind);

        if (obj == NULL) {
            pz_msg("%s: \"%.*s\": corrupt record: %s", store,
                   (int) (key.mv_size > 80 ? 80 : key.mv_size),
                   (char *) key.mv_data,
                   pz_strerror(pz_record_check(val.mv_data, val.mv_size)));
            goto cursor;
        }

        if (pz_print_json(out, obj) != 0) {
            json_decref(obj);
            pz_msg("write failed: %s", strerror(errno));
            goto cursor;
        }

        json_decref(obj);
        n++;
    }

    if (rc != MDB_NOTFOUND) {
        pz_msg("mdb_cursor_get() failed: %s", mdb_strerror(rc));
        goto cursor;
    }

    status = EXIT_SUCCESS;

cursor:

    mdb_cursor_close(cur);

abort:

    mdb_txn_abort(txn);

close:

    pz_store_close(&st);

    if (out != NULL && fflush(out) != 0) {
        pz_msg("write failed: %s", strerror(errno));
        status = EXIT_FAILURE;
    }

    if (out != NULL && out != stdout && fclose(out) != 0) {
        status = EXIT_FAILURE;
    }

    return status;
}
