/*
 * ngx_http_personalize_module: the LMDB profile store.
 *
 * Every worker opens the environment read-only in init_process (an LMDB
 * environment must not be opened before fork) and keeps one read
 * transaction that is renewed for a lookup and reset right after it, so no
 * snapshot lives across the event loop and the next request sees the last
 * commit.  What a request needs is copied into its pool.
 *
 * A replaced store (a new environment renamed over the configured path) is
 * noticed by stat()ing PATH/data.mdb every "check" seconds and reopened;
 * the old environment serves until the new one opened.  A missing or
 * broken store leaves pages unpersonalized and is retried, and logged,
 * once per interval.
 *
 * A lookup at a page of the map that this worker has not touched yet
 * costs a page fault, and in a virtual machine with shadow page tables a
 * trip to the hypervisor even when the page table entry is there: about
 * 1.7 us a page on the bench machine, against 0.2 us for a page touched
 * before.  With millions of profiles nearly every lookup would pay that
 * until the worker has touched the whole store.  So each worker maps the
 * used part of the store up front (MADV_POPULATE_READ, Linux 5.14) and
 * reads a byte of every page, a slice per timer tick between requests,
 * after every open and reopen.  The map asks for 2 MB pages, which the
 * kernel reads 2 MB at a time; without them the next slice is read ahead
 * meanwhile, so a store that is not in the page cache yet does not stall
 * the worker either.  "populate=off" turns it off, for a store much
 * larger than the memory.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <lmdb.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>

#if (NGX_LINUX && defined MADV_HUGEPAGE)
#define NGX_HAVE_MADV_HUGEPAGE  1
#endif

#include "ngx_http_personalize_core.h"


enum {
    NGX_HTTP_PERSONALIZE_DB_PROFILES = 0,
    NGX_HTTP_PERSONALIZE_DB_ALIASES,
    NGX_HTTP_PERSONALIZE_DB_CATALOG,
    NGX_HTTP_PERSONALIZE_DB_META,
    NGX_HTTP_PERSONALIZE_DB_N
};


struct ngx_http_personalize_store_s {
    ngx_str_t                   path;       /* the store directory */
    ngx_str_t                   data;       /* PATH/data.mdb, NUL ended */
    time_t                      check;      /* seconds */
    ngx_flag_t                  populate;   /* map the pages up front */

    /* per worker, from init_process on */
    MDB_env                    *env;
    MDB_txn                    *txn;        /* reset between lookups */
    MDB_dbi                     dbi[NGX_HTTP_PERSONALIZE_DB_N];
    ngx_uint_t                  has[NGX_HTTP_PERSONALIZE_DB_N];
    dev_t                       dev;
    ino_t                       ino;
    time_t                      error_logged;   /* last request-time error */
    ngx_event_t                 timer;          /* the periodic check */
    ngx_event_t                 populate_ev;    /* the next slice */
    u_char                     *map;            /* LMDB's map of data.mdb */
    size_t                      map_size;
    size_t                      populated;      /* bytes mapped so far */
    ngx_uint_t                  huge;           /* MADV_HUGEPAGE is set */
    ngx_msec_t                  populate_start;
    ngx_log_t                  *log;
};


static ngx_int_t ngx_http_personalize_store_env_open(
    ngx_http_personalize_store_t *st, ngx_http_personalize_store_t *tmp);
static void ngx_http_personalize_store_env_close(MDB_env *env, MDB_txn *txn);
static void ngx_http_personalize_store_refresh(
    ngx_http_personalize_store_t *st);
static void ngx_http_personalize_store_timer(ngx_event_t *ev);
static void ngx_http_personalize_store_populate_start(
    ngx_http_personalize_store_t *st);
static void ngx_http_personalize_store_populate(ngx_event_t *ev);
#if (NGX_LINUX && defined MADV_POPULATE_READ)
static ngx_int_t ngx_http_personalize_store_find_map(
    ngx_http_personalize_store_t *st);
#endif
static MDB_txn *ngx_http_personalize_store_begin(ngx_http_request_t *r,
    ngx_http_personalize_store_t *st);
static void ngx_http_personalize_store_end(ngx_http_personalize_store_t *st);
static ngx_int_t ngx_http_personalize_store_get(ngx_http_request_t *r,
    ngx_http_personalize_store_t *st, MDB_txn *txn, ngx_uint_t db,
    u_char *key, size_t len, MDB_val *val);
static void ngx_http_personalize_store_meta(ngx_http_request_t *r,
    ngx_http_personalize_store_t *st, MDB_txn *txn,
    ngx_http_personalize_visitor_t *v);


static const char  *ngx_http_personalize_db_names[] = {
    PZ_DB_PROFILES,
    PZ_DB_ALIASES,
    PZ_DB_CATALOG,
    PZ_DB_META
};


/* personalize_store PATH [check=TIME] [populate=on|off]; */

char *
ngx_http_personalize_store_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_personalize_main_conf_t *pmcf = conf;

    u_char                        *p;
    time_t                         check;
    ngx_str_t                     *value, s;
    ngx_flag_t                     populate;
    ngx_uint_t                     i;
    ngx_file_info_t                fi;
    ngx_http_personalize_store_t  *st;

    if (pmcf->store != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    check = NGX_HTTP_PERSONALIZE_STORE_CHECK;
    populate = 1;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "check=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            check = ngx_parse_time(&s, 1);

            if (check == (time_t) NGX_ERROR || check < 1) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid check interval \"%V\" in "
                                   "personalize_store, expected a time of "
                                   "at least 1s", &s);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "populate=on") == 0) {
            populate = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "populate=off") == 0) {
            populate = 0;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in personalize_store",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    st = ngx_pcalloc(cf->pool, sizeof(ngx_http_personalize_store_t));
    if (st == NULL) {
        return NGX_CONF_ERROR;
    }

    st->path = value[1];

    if (st->path.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty path in personalize_store");
        return NGX_CONF_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &st->path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* mdb_env_open() wants a C string */

    p = ngx_pnalloc(cf->pool, st->path.len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(p, st->path.data, st->path.len);
    p[st->path.len] = '\0';
    st->path.data = p;

    st->data.len = st->path.len + sizeof("/data.mdb") - 1;
    st->data.data = ngx_pnalloc(cf->pool, st->data.len + 1);
    if (st->data.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(st->data.data, "%V/data.mdb%Z", &st->path);

    st->check = check;
    st->populate = populate;

    /* a store that appears later is fine: warn, never fail */

    if (ngx_file_info(st->data.data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, ngx_errno,
                           "personalize_store \"%V\" is not usable yet: "
                           ngx_file_info_n " \"%s\" failed; pages stay "
                           "unpersonalized until it appears",
                           &st->path, st->data.data);
    }

    pmcf->store = st;

    return NGX_CONF_OK;
}


/* init_process: open in this worker; a failure is retried later */

ngx_int_t
ngx_http_personalize_store_open(ngx_cycle_t *cycle,
    ngx_http_personalize_store_t *st)
{
    int                           rc, dead;
    ngx_http_personalize_store_t  tmp;

    st->log = cycle->log;

    /*
     * the check runs on a timer, not on the request path: no stat() per
     * request, and a worker without requests lets go of a replaced
     * generation (and its disk space) too; cancelable: it does not hold up
     * a graceful shutdown
     */

    st->timer.handler = ngx_http_personalize_store_timer;
    st->timer.data = st;
    st->timer.log = cycle->log;
    st->timer.cancelable = 1;

    ngx_add_timer(&st->timer, (ngx_msec_t) st->check * 1000);

    st->populate_ev.handler = ngx_http_personalize_store_populate;
    st->populate_ev.data = st;
    st->populate_ev.log = cycle->log;
    st->populate_ev.cancelable = 1;

    if (ngx_http_personalize_store_env_open(st, &tmp) != NGX_OK) {
        return NGX_DECLINED;
    }

    /* slots of readers that died without closing (a crashed worker) */

    rc = mdb_reader_check(tmp.env, &dead);

    if (rc != MDB_SUCCESS) {
        ngx_log_error(NGX_LOG_WARN, st->log, 0,
                      "mdb_reader_check(\"%s\") failed (%d: %s)",
                      st->path.data, rc, mdb_strerror(rc));

    } else if (dead) {
        ngx_log_error(NGX_LOG_INFO, st->log, 0,
                      "personalize store \"%s\": cleared %d stale readers",
                      st->path.data, dead);
    }

    st->env = tmp.env;
    st->txn = NULL;
    ngx_memcpy(st->dbi, tmp.dbi, sizeof(st->dbi));
    ngx_memcpy(st->has, tmp.has, sizeof(st->has));
    st->dev = tmp.dev;
    st->ino = tmp.ino;

    ngx_http_personalize_store_populate_start(st);

    return NGX_OK;
}


void
ngx_http_personalize_store_close(ngx_http_personalize_store_t *st)
{
    if (st->timer.timer_set) {
        ngx_del_timer(&st->timer);
    }

    if (st->populate_ev.timer_set) {
        ngx_del_timer(&st->populate_ev);
    }

    ngx_http_personalize_store_env_close(st->env, st->txn);

    st->env = NULL;
    st->txn = NULL;
}


/*
 * Opens st->path into tmp: environment, named databases, the file identity
 * of data.mdb and a check of the meta record.  Logs at warn level.
 */

static ngx_int_t
ngx_http_personalize_store_env_open(ngx_http_personalize_store_t *st,
    ngx_http_personalize_store_t *tmp)
{
    int               rc, fd;
    int64_t           gen;
    MDB_txn          *txn;
    MDB_val           key, val;
    pz_field_t        f;
    ngx_uint_t        i;
    const char       *call;
    ngx_file_info_t   fi;

    ngx_memzero(tmp, sizeof(ngx_http_personalize_store_t));

    txn = NULL;

    if (ngx_file_info(st->data.data, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_WARN, st->log, ngx_errno,
                      "personalize store unavailable: "
                      ngx_file_info_n " \"%s\" failed", st->data.data);
        return NGX_ERROR;
    }

    call = "mdb_env_create";
    rc = mdb_env_create(&tmp->env);
    if (rc != MDB_SUCCESS) {
        tmp->env = NULL;
        goto failed;
    }

    call = "mdb_env_set_maxdbs";
    rc = mdb_env_set_maxdbs(tmp->env, PZ_DB_MAX);
    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    /*
     * MDB_NOTLS: the reader slot belongs to our transaction object, which
     * is reset and renewed; MDB_NORDAHEAD: lookups are random reads
     */

    call = "mdb_env_open";
    rc = mdb_env_open(tmp->env, (char *) st->path.data,
                      MDB_RDONLY | MDB_NOTLS | MDB_NORDAHEAD, 0644);
    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    /* the file actually opened, not what the path names by now */

    call = "mdb_env_get_fd";
    rc = mdb_env_get_fd(tmp->env, &fd);
    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, st->log, ngx_errno,
                      ngx_fd_info_n " \"%s\" failed", st->data.data);
        goto closed;
    }

    tmp->dev = fi.st_dev;
    tmp->ino = fi.st_ino;

    call = "mdb_txn_begin";
    rc = mdb_txn_begin(tmp->env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS) {
        txn = NULL;
        goto failed;
    }

    for (i = 0; i < NGX_HTTP_PERSONALIZE_DB_N; i++) {
        rc = mdb_dbi_open(txn, ngx_http_personalize_db_names[i], 0,
                          &tmp->dbi[i]);

        if (rc == MDB_NOTFOUND
            && i != NGX_HTTP_PERSONALIZE_DB_PROFILES
            && i != NGX_HTTP_PERSONALIZE_DB_META)
        {
            continue;
        }

        if (rc != MDB_SUCCESS) {
            ngx_log_error(NGX_LOG_WARN, st->log, 0,
                          "personalize store \"%s\" unusable: "
                          "mdb_dbi_open(\"%s\") failed (%d: %s)",
                          st->path.data, ngx_http_personalize_db_names[i],
                          rc, mdb_strerror(rc));
            goto closed;
        }

        tmp->has[i] = 1;
    }

    /* a store of another format version is not read at all */

    key.mv_data = PZ_META_KEY;
    key.mv_size = sizeof(PZ_META_KEY) - 1;

    rc = mdb_get(txn, tmp->dbi[NGX_HTTP_PERSONALIZE_DB_META], &key, &val);

    if (rc != MDB_SUCCESS
        || pz_record_check(val.mv_data, val.mv_size) != PZ_OK
        || pz_record_find(val.mv_data, val.mv_size, PZ_META_FORMAT,
                          sizeof(PZ_META_FORMAT) - 1, &f) != PZ_OK
        || pz_field_num(&f) != PZ_RECORD_VERSION)
    {
        ngx_log_error(NGX_LOG_WARN, st->log, 0,
                      "personalize store \"%s\" unusable: no meta record "
                      "of format version %d", st->path.data,
                      PZ_RECORD_VERSION);
        goto closed;
    }

    gen = -1;

    if (pz_record_find(val.mv_data, val.mv_size, PZ_META_GENERATION,
                       sizeof(PZ_META_GENERATION) - 1, &f) == PZ_OK)
    {
        gen = pz_field_num(&f);
    }

    /* commit, not abort: the database handles stay open */

    call = "mdb_txn_commit";
    rc = mdb_txn_commit(txn);
    txn = NULL;

    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    ngx_log_error(NGX_LOG_INFO, st->log, 0,
                  "personalize store \"%s\" opened (generation %L)",
                  st->path.data, gen);

    return NGX_OK;

failed:

    ngx_log_error(NGX_LOG_WARN, st->log, 0,
                  "personalize store \"%s\" unusable: %s() failed (%d: %s)",
                  st->path.data, call, rc, mdb_strerror(rc));

closed:

    ngx_http_personalize_store_env_close(tmp->env, txn);
    tmp->env = NULL;

    return NGX_ERROR;
}


static void
ngx_http_personalize_store_env_close(MDB_env *env, MDB_txn *txn)
{
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }

    if (env != NULL) {
        mdb_env_close(env);
    }
}


static void
ngx_http_personalize_store_timer(ngx_event_t *ev)
{
    ngx_http_personalize_store_t  *st = ev->data;

    if (ngx_exiting || ngx_quit) {
        return;
    }

    ngx_http_personalize_store_refresh(st);

    ngx_add_timer(ev, (ngx_msec_t) st->check * 1000);
}


/* once per interval: reopen when data.mdb is another file (or was none) */

static void
ngx_http_personalize_store_refresh(ngx_http_personalize_store_t *st)
{
    ngx_file_info_t               fi;
    ngx_http_personalize_store_t  tmp;

    if (st->env != NULL) {

        if (ngx_file_info(st->data.data, &fi) == NGX_FILE_ERROR) {
            /* gone: the open environment still holds the last data */
            ngx_log_error(NGX_LOG_WARN, st->log, ngx_errno,
                          ngx_file_info_n " \"%s\" failed, still serving "
                          "the store opened before", st->data.data);
            return;
        }

        if (fi.st_dev == st->dev && fi.st_ino == st->ino) {
            return;
        }
    }

    if (ngx_http_personalize_store_env_open(st, &tmp) != NGX_OK) {
        return;
    }

    ngx_http_personalize_store_env_close(st->env, st->txn);

    st->env = tmp.env;
    st->txn = NULL;
    ngx_memcpy(st->dbi, tmp.dbi, sizeof(st->dbi));
    ngx_memcpy(st->has, tmp.has, sizeof(st->has));
    st->dev = tmp.dev;
    st->ino = tmp.ino;

    ngx_http_personalize_store_populate_start(st);
}


/* the pages of a newly opened environment, from its start */

static void
ngx_http_personalize_store_populate_start(ngx_http_personalize_store_t *st)
{
    if (!st->populate) {
        return;
    }

    st->populated = 0;
    st->populate_start = ngx_current_msec;
    st->map = NULL;

    if (!st->populate_ev.timer_set) {
        ngx_add_timer(&st->populate_ev, 1);
    }
}


static void
ngx_http_personalize_store_populate(ngx_event_t *ev)
{
#if (NGX_LINUX && defined MADV_POPULATE_READ)

    ngx_http_personalize_store_t *st = ev->data;

    int               fd;
    u_char           *map, *p, *last;
    size_t            used, n;
    MDB_stat          ms;
    MDB_envinfo       info;
    ngx_file_info_t   fi;

    if (ngx_exiting || ngx_quit || st->env == NULL) {
        return;
    }

    if (mdb_env_info(st->env, &info) != MDB_SUCCESS
        || mdb_env_stat(st->env, &ms) != MDB_SUCCESS
        || mdb_env_get_fd(st->env, &fd) != MDB_SUCCESS
        || ngx_fd_info(fd, &fi) == NGX_FILE_ERROR)
    {
        return;
    }

    /* the map may have grown, and moved, since the last slice */

    if (st->map == NULL || st->map_size != info.me_mapsize) {
        if (ngx_http_personalize_store_find_map(st) != NGX_OK) {
            return;
        }

        /*
         * 2 MB pages where the filesystem caches the file in folios that
         * large (xfs, ext4 since Linux 6.16) and the pages are not cached
         * in small ones already: a lookup then costs no TLB miss of its
         * own.  The faults read 2 MB at a time.
         */

        st->huge = 0;

#if (NGX_HAVE_MADV_HUGEPAGE)
        st->huge = (madvise(st->map, st->map_size, MADV_HUGEPAGE) == 0);
#endif
    }

    map = st->map;
    used = (size_t) (info.me_last_pgno + 1) * ms.ms_psize;

    /* a page past the end of the file would be SIGBUS */

    used = ngx_min(used, st->map_size);
    used = ngx_min(used, (size_t) ngx_file_size(&fi));

    if (st->populated >= used) {
        ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                      "personalize store \"%s\": %uz MB mapped in %M ms",
                      st->path.data, used >> 20,
                      ngx_current_msec - st->populate_start);
        return;
    }

    n = ngx_min(used - st->populated, NGX_HTTP_PERSONALIZE_POPULATE_SLICE);

    /* else the slice after this one is read from the disk meanwhile */

    if (!st->huge && st->populated + n < used) {
        (void) madvise(map + st->populated + n,
                       ngx_min(used - st->populated - n,
                               NGX_HTTP_PERSONALIZE_POPULATE_SLICE),
                       MADV_WILLNEED);
    }

    /* EINVAL: a kernel before 5.14; reading the pages maps them too */

    if (madvise(map + st->populated, n, MADV_POPULATE_READ) == -1
        && ngx_errno != EINVAL)
    {
        ngx_log_error(NGX_LOG_WARN, ev->log, ngx_errno,
                      "personalize store \"%s\": "
                      "madvise(MADV_POPULATE_READ) failed, pages are mapped "
                      "as lookups touch them", st->path.data);
        return;
    }

    last = map + st->populated + n;

    for (p = map + st->populated; p < last; p += ngx_pagesize) {
        (void) *(volatile u_char *) p;
    }

    st->populated += n;

    ngx_add_timer(ev, 1);

#endif
}


#if (NGX_LINUX && defined MADV_POPULATE_READ)

/*
 * LMDB does not tell where it mapped the file (mdb_env_info() gives the
 * address only with MDB_FIXEDMAP): the worker's own /proc/self/maps does,
 * as the mapping of data.mdb's device and inode at offset 0.
 */

static ngx_int_t
ngx_http_personalize_store_find_map(ngx_http_personalize_store_t *st)
{
    int            fd;
    char          *buf, *line, *nl;
    size_t         len, size;
    ssize_t        n;
    ngx_int_t      rc;
    unsigned long  start, end, off, maj, mnr, ino;

    size = 256 * 1024;

    buf = ngx_alloc(size + 1, st->log);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    fd = open("/proc/self/maps", O_RDONLY);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_WARN, st->log, ngx_errno,
                      "open(\"/proc/self/maps\") failed, the store's "
                      "pages are mapped as lookups touch them");
        ngx_free(buf);
        return NGX_ERROR;
    }

    len = 0;

    while (len < size) {
        n = read(fd, buf + len, size - len);
        if (n <= 0) {
            break;
        }
        len += n;
    }

    (void) close(fd);

    buf[len] = '\0';
    rc = NGX_DECLINED;

    for (line = buf; line < buf + len; line = nl + 1) {
        nl = strchr(line, '\n');
        if (nl == NULL) {
            break;
        }

        *nl = '\0';

        if (sscanf(line, "%lx-%lx %*s %lx %lx:%lx %lu",
                   &start, &end, &off, &maj, &mnr, &ino) == 6
            && off == 0
            && ino == (unsigned long) st->ino
            && maj == (unsigned long) major(st->dev)
            && mnr == (unsigned long) minor(st->dev))
        {
            st->map = (u_char *) start;
            st->map_size = end - start;
            rc = NGX_OK;
            break;
        }
    }

    ngx_free(buf);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, st->log, 0,
                      "personalize store \"%s\": its map is not in "
                      "/proc/self/maps, the pages are mapped as lookups "
                      "touch them", st->path.data);
    }

    return rc;
}

#endif


static MDB_txn *
ngx_http_personalize_store_begin(ngx_http_request_t *r,
    ngx_http_personalize_store_t *st)
{
    int         rc;
    ngx_uint_t  tries;

    if (st->env == NULL) {
        return NULL;
    }

    for (tries = 0; tries < 2; tries++) {

        if (st->txn != NULL) {
            rc = mdb_txn_renew(st->txn);

        } else {
            rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &st->txn);
            if (rc != MDB_SUCCESS) {
                st->txn = NULL;
            }
        }

        if (rc == MDB_SUCCESS) {
            return st->txn;
        }

        if (st->txn != NULL) {
            mdb_txn_abort(st->txn);
            st->txn = NULL;
        }

        if (rc != MDB_MAP_RESIZED) {
            break;
        }

        /* the writer grew the map: adopt its size, then try again */

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "personalize store \"%s\": map resized by the "
                      "writer, adopting the new size", st->path.data);

        rc = mdb_env_set_mapsize(st->env, 0);

        if (rc != MDB_SUCCESS) {
            break;
        }
    }

    /* at most once per interval: this would repeat on every request */

    if (ngx_time() >= st->error_logged + st->check) {
        st->error_logged = ngx_time();

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "personalize store \"%s\": mdb_txn_begin() failed "
                      "(%d: %s)", st->path.data, rc, mdb_strerror(rc));
    }

    return NULL;
}


static void
ngx_http_personalize_store_end(ngx_http_personalize_store_t *st)
{
    if (st->txn != NULL) {
        mdb_txn_reset(st->txn);
    }
}


static ngx_int_t
ngx_http_personalize_store_get(ngx_http_request_t *r,
    ngx_http_personalize_store_t *st, MDB_txn *txn, ngx_uint_t db,
    u_char *key, size_t len, MDB_val *val)
{
    int      rc;
    MDB_val  k;

    if (!st->has[db] || len == 0 || len > PZ_ID_MAX) {
        return NGX_DECLINED;
    }

    k.mv_data = key;
    k.mv_size = len;

    rc = mdb_get(txn, st->dbi[db], &k, val);

    if (rc == MDB_SUCCESS) {
        return NGX_OK;
    }

    if (rc != MDB_NOTFOUND && ngx_time() >= st->error_logged + st->check) {
        st->error_logged = ngx_time();

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "personalize store \"%s\": mdb_get(\"%s\") failed "
                      "(%d: %s)", st->path.data,
                      ngx_http_personalize_db_names[db], rc,
                      mdb_strerror(rc));
    }

    return NGX_DECLINED;
}


static void
ngx_http_personalize_store_meta(ngx_http_request_t *r,
    ngx_http_personalize_store_t *st, MDB_txn *txn,
    ngx_http_personalize_visitor_t *v)
{
    MDB_val     val;
    pz_field_t  f;

    if (ngx_http_personalize_store_get(r, st, txn,
                                       NGX_HTTP_PERSONALIZE_DB_META,
                                       (u_char *) PZ_META_KEY,
                                       sizeof(PZ_META_KEY) - 1, &val)
        != NGX_OK
        || pz_record_check(val.mv_data, val.mv_size) != PZ_OK)
    {
        return;
    }

    if (pz_record_find(val.mv_data, val.mv_size, PZ_META_GENERATION,
                       sizeof(PZ_META_GENERATION) - 1, &f) == PZ_OK
        && f.type == PZ_T_INT)
    {
        v->generation = pz_field_num(&f);
    }

    if (pz_record_find(val.mv_data, val.mv_size, PZ_META_BUILD_TIME,
                       sizeof(PZ_META_BUILD_TIME) - 1, &f) == PZ_OK
        && f.type == PZ_T_TIME)
    {
        v->build_time = pz_field_num(&f);
    }
}


/*
 * The profile of v->id: profiles[id], else aliases[id] -> canonical id ->
 * profiles[canonical].  Sets v->profile_id, v->record, v->profile_found,
 * v->generation and v->build_time; all copied into r->main->pool.
 */

void
ngx_http_personalize_store_lookup(ngx_http_request_t *r,
    ngx_http_personalize_store_t *st, ngx_http_personalize_visitor_t *v)
{
    int         err;
    u_char     *p;
    MDB_txn    *txn;
    MDB_val     val;
    ngx_str_t   id;
    ngx_int_t   rc;

    txn = ngx_http_personalize_store_begin(r, st);
    if (txn == NULL) {
        return;
    }

    ngx_http_personalize_store_meta(r, st, txn, v);

    if (v->id.len == 0) {
        goto done;
    }

    id = v->id;

    rc = ngx_http_personalize_store_get(r, st, txn,
                                        NGX_HTTP_PERSONALIZE_DB_PROFILES,
                                        id.data, id.len, &val);

    if (rc == NGX_DECLINED) {

        if (ngx_http_personalize_store_get(r, st, txn,
                                           NGX_HTTP_PERSONALIZE_DB_ALIASES,
                                           id.data, id.len, &val)
            != NGX_OK)
        {
            goto done;
        }

        if (val.mv_size == 0 || val.mv_size > PZ_ID_MAX) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "personalize store \"%s\": corrupt alias \"%V\"",
                          st->path.data, &id);
            goto done;
        }

        p = ngx_pnalloc(r->main->pool, val.mv_size);
        if (p == NULL) {
            goto done;
        }

        ngx_memcpy(p, val.mv_data, val.mv_size);
        id.data = p;
        id.len = val.mv_size;

        rc = ngx_http_personalize_store_get(r, st, txn,
                                            NGX_HTTP_PERSONALIZE_DB_PROFILES,
                                            id.data, id.len, &val);
        if (rc != NGX_OK) {
            goto done;
        }
    }

    err = pz_record_check(val.mv_data, val.mv_size);

    if (err != PZ_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "personalize store \"%s\": corrupt profile \"%V\" "
                      "(%s), treated as no profile",
                      st->path.data, &id, pz_strerror(err));
        goto done;
    }

    p = ngx_pnalloc(r->main->pool, val.mv_size);
    if (p == NULL) {
        goto done;
    }

    ngx_memcpy(p, val.mv_data, val.mv_size);

    v->record = p;
    v->record_len = val.mv_size;
    v->profile_id = id;
    v->profile_found = 1;

done:

    ngx_http_personalize_store_end(st);
}


ngx_int_t
ngx_http_personalize_store_catalog(ngx_http_request_t *r,
    ngx_http_personalize_store_t *st, u_char *id, size_t len, u_char **rec,
    size_t *rec_len)
{
    int        err;
    u_char    *p;
    MDB_txn   *txn;
    MDB_val    val;
    ngx_int_t  rc;

    txn = ngx_http_personalize_store_begin(r, st);
    if (txn == NULL) {
        return NGX_DECLINED;
    }

    rc = ngx_http_personalize_store_get(r, st, txn,
                                        NGX_HTTP_PERSONALIZE_DB_CATALOG,
                                        id, len, &val);
    if (rc != NGX_OK) {
        goto done;
    }

    err = pz_record_check(val.mv_data, val.mv_size);

    if (err != PZ_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "personalize store \"%s\": corrupt catalog item "
                      "\"%*s\" (%s)", st->path.data, len, id,
                      pz_strerror(err));
        rc = NGX_DECLINED;
        goto done;
    }

    p = ngx_pnalloc(r->pool, val.mv_size);
    if (p == NULL) {
        rc = NGX_DECLINED;
        goto done;
    }

    ngx_memcpy(p, val.mv_data, val.mv_size);

    *rec = p;
    *rec_len = val.mv_size;

done:

    ngx_http_personalize_store_end(st);

    return rc;
}
