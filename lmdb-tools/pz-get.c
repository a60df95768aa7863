/*
 * pz-get: one profile of an ngx_personalize store, by id or alias, as the
 * JSON line that pz-load reads.
 *
 *     pz-get -d STORE [-c] id ...
 *
 * Exit status: 0 when every id was found, 1 otherwise.
 */

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "pz_tool.h"


static void usage(FILE *f);


static void
usage(FILE *f)
{
    fprintf(f,
        "usage: %s -d store [-c] id ...\n"
        "  -d store   the store directory (or symlink to one)\n"
        "  -c         look up catalog items instead of profiles\n"
        "  -V         version\n",
        pz_prog);
}


int
main(int argc, char **argv)
{
    int          c, rc, kind, i, status;
    char         canon[PZ_ID_MAX];
    json_t      *obj;
    MDB_val      key, val, aval;
    MDB_txn     *txn;
    pz_store_t   st;
    const char  *store;

    pz_prog = "pz-get";
    store = NULL;
    kind = PZ_ROW_PROFILE;

    while ((c = getopt(argc, argv, "d:cVh")) != -1) {
        switch (c) {
        case 'd':
            store = optarg;
            break;
        case 'c':
            kind = PZ_ROW_CATALOG;
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

    if (store == NULL || optind == argc) {
        usage(stderr);
        return EXIT_FAILURE;
    }

    if (pz_store_open(&st, store, PZ_OPEN_RDONLY, 0) != 0) {
        return EXIT_FAILURE;
    }

    status = EXIT_FAILURE;

    rc = mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        pz_msg("%s: mdb_txn_begin() failed: %s", store, mdb_strerror(rc));
        goto close;
    }

    status = EXIT_SUCCESS;

    for (i = optind; i < argc; i++) {
        key.mv_data = argv[i];
        key.mv_size = strlen(argv[i]);

        rc = mdb_get(txn, st.dbi[kind == PZ_ROW_CATALOG ? PZ_CATALOG
                                                        : PZ_PROFILES],
                     &key, &val);

        if (rc == MDB_NOTFOUND && kind == PZ_ROW_PROFILE) {
            /* an alias: one step to the canonical id */
            rc = mdb_get(txn, st.dbi[PZ_ALIASES], &key, &aval);

            if (rc == 0 && aval.mv_size <= PZ_ID_MAX) {
                memcpy(canon, aval.mv_data, aval.mv_size);
                key.mv_data = canon;
                key.mv_size = aval.mv_size;

                rc = mdb_get(txn, st.dbi[PZ_PROFILES], &key, &val);
            }
        }

        if (rc == MDB_NOTFOUND) {
            pz_msg("%s: %s: not found", store, argv[i]);
            status = EXIT_FAILURE;
            continue;
        }

        if (rc != 0) {
            pz_msg("%s: mdb_get() failed: %s", store, mdb_strerror(rc));
            status = EXIT_FAILURE;
            break;
        }

        obj = pz_record_to_json(key.mv_data, key.mv_size, val.mv_data,
                                val.mv_size, kind);

        if (obj == NULL) {
            pz_msg("%s: %s: corrupt record: %s", store, argv[i],
                   pz_strerror(pz_record_check(val.mv_data, val.mv_size)));
            status = EXIT_FAILURE;
            continue;
        }

        if (pz_print_json(stdout, obj) != 0) {
            pz_msg("write failed");
            status = EXIT_FAILURE;
        }

        json_decref(obj);
    }

    mdb_txn_abort(txn);

close:

    pz_store_close(&st);

    if (fflush(stdout) != 0) {
        pz_msg("write failed");
        status = EXIT_FAILURE;
    }

    return status;
}
