/*
 * pz-check: walk every record and alias of an ngx_personalize store,
 * decode and validate them.
 *
 *     pz-check -d STORE [-n MAX] [-q]
 *
 * Checks: the meta record; every profile and catalog record decodes and
 * its fields match the schema; ids and aliases have valid lengths; every
 * alias points to a profile that lists it and every listed alias points
 * back.  Exit status 0 when clean, 1 with the first problems listed.
 */

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "pz_tool.h"
#include "pz_walk.h"


static void usage(FILE *f);


static void
usage(FILE *f)
{
    fprintf(f,
        "usage: %s -d store [-n max] [-q]\n"
        "  -d store   the store directory (or symlink to one)\n"
        "  -n max     list at most max problems (default 20)\n"
        "  -q         no summary line\n"
        "  -V         version\n",
        pz_prog);
}


int
main(int argc, char **argv)
{
    int          c, rc, quiet, status;
    char        *end;
    MDB_txn     *txn;
    pz_walk_t    w;
    pz_store_t   st;
    const char  *store;

    pz_prog = "pz-check";
    store = NULL;
    quiet = 0;

    memset(&w, 0, sizeof(w));
    w.full = 1;
    w.max_report = 20;
    w.report = stderr;

    while ((c = getopt(argc, argv, "d:n:qVh")) != -1) {
        switch (c) {
        case 'd':
            store = optarg;
            break;
        case 'n':
            w.max_report = strtoul(optarg, &end, 10);
            if (*end != '\0' || optarg[0] == '-') {
                pz_msg("-n %s: expected a number", optarg);
                return EXIT_FAILURE;
            }
            break;
        case 'q':
            quiet = 1;
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

    rc = mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        pz_msg("%s: mdb_txn_begin() failed: %s", store, mdb_strerror(rc));
        goto close;
    }

    rc = pz_walk(&st, txn, &w);

    mdb_txn_abort(txn);

    if (rc != 0) {
        goto close;
    }

    if (w.problems > w.max_report) {
        pz_msg("%s: %zu more problems not listed", store,
               w.problems - w.max_report);
    }

    if (!quiet) {
        printf("%s: %zu profiles, %zu aliases, %zu catalog items, "
               "generation %lld: %s\n", store, w.profiles, w.aliases,
               w.catalog, (long long) w.meta.generation,
               w.problems ? "PROBLEMS" : "ok");
    }

    if (w.problems) {
        pz_msg("%s: %zu problems", store, w.problems);
        goto close;
    }

    status = EXIT_SUCCESS;

close:

    pz_store_close(&st);

    return status;
}
