/*
 * pz-stat: what an ngx_personalize store holds: counts, size on disk, map
 * size, schema, generation and build time.
 *
 *     pz-stat -d STORE [-j]
 *
 * -j prints one JSON object instead of "name: value" lines.
 */

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pz_tool.h"


static void usage(FILE *f);


static void
usage(FILE *f)
{
    fprintf(f,
        "usage: %s -d store [-j]\n"
        "  -d store   the store directory (or symlink to one)\n"
        "  -j         print JSON\n"
        "  -V         version\n",
        pz_prog);
}


int
main(int argc, char **argv)
{
    int           c, rc, json, i, status;
    char          err[PZ_ERRLEN], path[PATH_MAX + 16], real[PATH_MAX];
    char          tbuf[PZ_TIME_LEN];
    json_t       *obj, *counts;
    MDB_txn      *txn;
    MDB_stat      ms;
    MDB_envinfo   info;
    pz_meta_t     meta;
    pz_store_t    st;
    struct stat   sb;
    const char   *store;

    static const char  *names[PZ_DB_MAX] = {
        PZ_DB_PROFILES, PZ_DB_ALIASES, PZ_DB_CATALOG, PZ_DB_META
    };

    pz_prog = "pz-stat";
    store = NULL;
    json = 0;

    while ((c = getopt(argc, argv, "d:jVh")) != -1) {
        switch (c) {
        case 'd':
            store = optarg;
            break;
        case 'j':
            json = 1;
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

    if (pz_store_open(&st, store, PZ_OPEN_RDONLY, 0) != 0) {
        return EXIT_FAILURE;
    }

    status = EXIT_FAILURE;

    rc = mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        pz_msg("%s: mdb_txn_begin() failed: %s", store, mdb_strerror(rc));
        goto close;
    }

    obj = json_object();
    counts = json_object();

    if (realpath(store, real) == NULL) {
        snprintf(real, sizeof(real), "%s", store);
    }

    json_object_set_new(obj, "store", json_string(store));
    json_object_set_new(obj, "directory", json_string(real));

    for (i = 0; i < PZ_DB_MAX; i++) {
        rc = mdb_stat(txn, st.dbi[i], &ms);

        if (rc != 0) {
            pz_msg("mdb_stat(%s) failed: %s", names[i], mdb_strerror(rc));
            json_decref(obj);
            json_decref(counts);
            goto abort;
        }

        json_object_set_new(counts, names[i],
                            json_integer((json_int_t) ms.ms_entries));
    }

    json_object_set_new(obj, "entries", counts);

    mdb_env_info(st.env, &info);
    mdb_env_stat(st.env, &ms);

    snprintf(path, sizeof(path), "%s/data.mdb", store);

    if (stat(path, &sb) == 0) {
        json_object_set_new(obj, "file_size",
                            json_integer((json_int_t) sb.st_size));
        json_object_set_new(obj, "disk_usage",
                            json_integer((json_int_t) sb.st_blocks * 512));
    }

    json_object_set_new(obj, "used", json_integer((json_int_t)
                        (info.me_last_pgno + 1) * ms.ms_psize));
    json_object_set_new(obj, "map_size",
                        json_integer((json_int_t) info.me_mapsize));
    json_object_set_new(obj, "page_size", json_integer(ms.ms_psize));
    json_object_set_new(obj, "readers", json_integer(info.me_numreaders));
    json_object_set_new(obj, "max_readers",
                        json_integer(info.me_maxreaders));

    rc = pz_meta_get(txn, &st, &meta, err, sizeof(err));

    if (rc == 0) {
        json_object_set_new(obj, "format_version",
                            json_integer(meta.format));
        json_object_set_new(obj, "generation",
                            json_integer(meta.generation));
        pz_time_format(meta.build_time, tbuf);
        json_object_set_new(obj, "build_time", json_string(tbuf));

        if (!meta.has_catalog) {
            pz_schema_catalog_default(&meta.catalog);
        }

        json_object_set_new(obj, "schema", pz_schema_to_json(&meta.schema));
        json_object_set_new(obj, "catalog_schema",
                            pz_schema_to_json(&meta.catalog));

    } else {
        pz_msg("%s: %s", store, rc == 1 ? "no meta record" : err);
    }

    if (json) {
        pz_print_json(stdout, obj);

    } else {
        const char  *key, *k2;
        json_t      *v, *w;

        json_object_foreach(obj, key, v) {
            if (json_is_object(v)) {
                printf("%s:\n", key);

                json_object_foreach(v, k2, w) {
                    if (json_is_string(w)) {
                        printf("  %s: %s\n", k2, json_string_value(w));

                    } else {
                        printf("  %s: %" JSON_INTEGER_FORMAT "\n", k2,
                               json_integer_value(w));
                    }
                }

            } else if (json_is_string(v)) {
                printf("%s: %s\n", key, json_string_value(v));

            } else {
                printf("%s: %" JSON_INTEGER_FORMAT "\n", key,
                       json_integer_value(v));
            }
        }
    }

    json_decref(obj);

    status = rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;

abort:

    mdb_txn_abort(txn);

close:

    pz_store_close(&st);

    if (fflush(stdout) != 0) {
        status = EXIT_FAILURE;
    }

    return status;
}
