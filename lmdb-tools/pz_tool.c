/*
 * lmdb-tools: store, schema, meta record and JSON conversion shared by the
 * pz-* tools.  See pz_tool.h.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "pz_tool.h"


const char             *pz_prog = "pz";
volatile sig_atomic_t   pz_interrupted;


static int pz_col_cmp(const void *a, const void *b);
static int pz_name_ok(const char *name, size_t len);
static void pz_json_brief(json_t *v, char *buf, size_t size);
static int pz_value(pz_row_t *row, pz_field_in_t *f, const pz_col_t *col,
    json_t *v, int csv);
static const char *pz_num_text(pz_row_t *row, json_t *v);
static pz_field_in_t *pz_row_reserved(pz_row_t *row, const char *name,
    int type);
static void pz_on_signal(int signo);


void
pz_msg(const char *fmt, ...)
{
    va_list  ap;

    fprintf(stderr, "%s: ", pz_prog);

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);

    fputc('\n', stderr);
}


static void
pz_on_signal(int signo)
{
    (void) signo;

    pz_interrupted = 1;
}


/*
 * No SA_RESTART: a read blocked on a pipe returns EINTR, so the loader
 * notices the signal, aborts its transaction and leaves the store as it was.
 */

void
pz_signals(void)
{
    struct sigaction  sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = pz_on_signal;
    sigemptyset(&sa.sa_mask);

    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}


/* "64G", "512M", "1048576" */

int
pz_parse_size(const char *s, size_t *size)
{
    char                *end;
    unsigned long long   v;

    errno = 0;
    v = strtoull(s, &end, 10);

    if (errno || end == s) {
        return -1;
    }

    switch (*end) {
    case 'k': case 'K':
        v <<= 10;
        end++;
        break;
    case 'm': case 'M':
        v <<= 20;
        end++;
        break;
    case 'g': case 'G':
        v <<= 30;
        end++;
        break;
    case 't': case 'T':
        v <<= 40;
        end++;
        break;
    }

    if (*end != '\0' || v == 0 || v > (unsigned long long) SIZE_MAX) {
        return -1;
    }

    *size = (size_t) v;

    return 0;
}


int
pz_id_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    int  rc;

    /* the order of LMDB's default key comparison */

    rc = memcmp(a, b, alen < blen ? alen : blen);

    if (rc != 0) {
        return rc;
    }

    return (alen > blen) - (alen < blen);
}


/* schema */

static int
pz_col_cmp(const void *a, const void *b)
{
    const pz_col_t  *ca = a, *cb = b;

    return pz_id_cmp(ca->name, ca->len, cb->name, cb->len);
}


/* names become nginx variable suffixes: $personalize_field_<name> */

static int
pz_name_ok(const char *name, size_t len)
{
    size_t  i;

    if (len == 0 || len > PZ_NAME_MAX) {
        return 0;
    }

    if (!((name[0] >= 'a' && name[0] <= 'z')
          || (name[0] >= 'A' && name[0] <= 'Z')))
    {
        return 0;
    }

    for (i = 1; i < len; i++) {
        if (!((name[i] >= 'a' && name[i] <= 'z')
              || (name[i] >= 'A' && name[i] <= 'Z')
              || (name[i] >= '0' && name[i] <= '9')
              || name[i] == '_'))
        {
            return 0;
        }
    }

    return 1;
}


int
pz_schema_add(pz_schema_t *s, const char *name, size_t len, int type,
    char *err, size_t errlen)
{
    size_t  i;

    if (!pz_name_ok(name, len)) {
        snprintf(err, errlen, "field \"%.*s\": invalid name (a letter, then "
                 "letters, digits or \"_\", at most %d)",
                 (int) (len > 80 ? 80 : len), name, PZ_NAME_MAX);
        return -1;
    }

    if ((len == 2 && memcmp(name, "id", 2) == 0)
        || (len == 7 && memcmp(name, "aliases", 7) == 0))
    {
        snprintf(err, errlen, "field \"%.*s\": reserved name", (int) len,
                 name);
        return -1;
    }

    if (type < PZ_T_STRING || type > PZ_T_LIST) {
        snprintf(err, errlen, "field \"%.*s\": unknown type", (int) len,
                 name);
        return -1;
    }

    for (i = 0; i < s->n; i++) {
        if (s->cols[i].len == len && memcmp(s->cols[i].name, name, len) == 0)
        {
            snprintf(err, errlen, "field \"%.*s\": declared twice",
                     (int) len, name);
            return -1;
        }
    }

    /* two slots stay free for the reserved fields of a profile */

    if (s->n >= PZ_FIELDS_MAX - 2) {
        snprintf(err, errlen, "more than %d fields", PZ_FIELDS_MAX - 2);
        return -1;
    }

    memcpy(s->cols[s->n].name, name, len);
    s->cols[s->n].name[len] = '\0';
    s->cols[s->n].len = len;
    s->cols[s->n].type = type;
    s->n++;

    return 0;
}


void
pz_schema_sort(pz_schema_t *s)
{
    qsort(s->cols, s->n, sizeof(pz_col_t), pz_col_cmp);
}


int
pz_schema_from_json(pz_schema_t *s, json_t *obj, char *err, size_t errlen)
{
    int          type;
    json_t      *v;
    const char  *key, *t;

    s->n = 0;

    if (!json_is_object(obj)) {
        snprintf(err, errlen, "schema: expected a JSON object of "
                 "\"name\": \"type\"");
        return -1;
    }

    json_object_foreach(obj, key, v) {
        if (!json_is_string(v)) {
            snprintf(err, errlen, "field \"%s\": type must be a string",
                     key);
            return -1;
        }

        t = json_string_value(v);
        type = pz_type_parse(t, strlen(t));

        if (type == 0) {
            snprintf(err, errlen, "field \"%s\": unknown type \"%s\" "
                     "(string, int, decimal, time or list)", key, t);
            return -1;
        }

        if (pz_schema_add(s, key, strlen(key), type, err, errlen) != 0) {
            return -1;
        }
    }

    pz_schema_sort(s);

    return 0;
}


int
pz_schema_read(pz_schema_t *s, const char *file)
{
    int            rc;
    char           err[PZ_ERRLEN];
    json_t        *obj;
    json_error_t   jerr;

    obj = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);

    if (obj == NULL) {
        pz_msg("%s:%d: %s", file, jerr.line, jerr.text);
        return -1;
    }

    rc = pz_schema_from_json(s, obj, err, sizeof(err));

    if (rc != 0) {
        pz_msg("%s: %s", file, err);
    }

    json_decref(obj);

    return rc;
}


const pz_col_t *
pz_schema_find(const pz_schema_t *s, const char *name, size_t len)
{
    pz_col_t  key;

    if (len > PZ_NAME_MAX) {
        return NULL;
    }

    memcpy(key.name, name, len);
    key.len = len;

    return bsearch(&key, s->cols, s->n, sizeof(pz_col_t), pz_col_cmp);
}


json_t *
pz_schema_to_json(const pz_schema_t *s)
{
    size_t   i;
    json_t  *obj;

    obj = json_object();
    if (obj == NULL) {
        return NULL;
    }

    for (i = 0; i < s->n; i++) {
        json_object_set_new(obj, s->cols[i].name,
                            json_string(pz_type_name(s->cols[i].type)));
    }

    return obj;
}


void
pz_schema_catalog_default(pz_schema_t *s)
{
    char  err[PZ_ERRLEN];

    s->n = 0;

    (void) pz_schema_add(s, "name", 4, PZ_T_STRING, err, sizeof(err));
    (void) pz_schema_add(s, "url", 3, PZ_T_STRING, err, sizeof(err));
    (void) pz_schema_add(s, "image", 5, PZ_T_STRING, err, sizeof(err));
    (void) pz_schema_add(s, "price", 5, PZ_T_DECIMAL, err, sizeof(err));

    pz_schema_sort(s);
}


/* an upsert may add fields, never change the type of a stored one */

int
pz_schema_merge(pz_schema_t *into, const pz_schema_t *from, char *err,
    size_t errlen)
{
    size_t           i;
    const pz_col_t  *c;

    for (i = 0; i < from->n; i++) {
        c = pz_schema_find(into, from->cols[i].name, from->cols[i].len);

        if (c != NULL) {
            if (c->type != from->cols[i].type) {
                snprintf(err, errlen, "field \"%s\": the store has it as "
                         "%s, the schema says %s (change a type with a full "
                         "replace, -R)", c->name, pz_type_name(c->type),
                         pz_type_name(from->cols[i].type));
                return -1;
            }

            continue;
        }

        if (pz_schema_add(into, from->cols[i].name, from->cols[i].len,
                          from->cols[i].type, err, errlen)
            != 0)
        {
            return -1;
        }
    }

    pz_schema_sort(into);

    return 0;
}


/* store */

/*
 * LMDB's locking relies on POSIX locks and a shared mmap; on network
 * filesystems either may silently not work, which corrupts the store.
 * PZ_TEST_FSTYPE lets the test suite pretend a filesystem type.
 */

int
pz_fs_check(const char *dir, char *err, size_t errlen)
{
    size_t         i;
    const char    *fake;
    struct statfs  sf;

    static const struct {
        long         magic;
        const char  *name;
    } remote[] = {
        { 0x6969, "nfs" },
        { 0x517b, "smb" },
        { (long) 0xff534d42, "cifs" },
        { (long) 0xfe534d42, "smb2" },
        { 0x73757245, "coda" },
        { 0x5346414f, "afs" },
        { 0x01021997, "9p" },
        { 0x00c36400, "ceph" },
        { 0x01161970, "gfs2" },
        { 0x7461636f, "ocfs2" },
        { 0x0bd00bd0, "lustre" },
        { 0x564c, "ncp" },
        { 0x47504653, "gpfs" },
    };

    fake = getenv("PZ_TEST_FSTYPE");

    if (fake != NULL && *fake != '\0') {
        snprintf(err, errlen, "%s: on a network filesystem (%s); LMDB "
                 "needs a local filesystem", dir, fake);
        return -1;
    }

    if (statfs(dir, &sf) != 0) {
        snprintf(err, errlen, "%s: statfs() failed: %s", dir,
                 strerror(errno));
        return -1;
    }

    for (i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
        if ((long) (unsigned int) sf.f_type
            == (long) (unsigned int) remote[i].magic)
        {
            snprintf(err, errlen, "%s: on a network filesystem (%s); LMDB "
                     "needs a local filesystem", dir, remote[i].name);
            return -1;
        }
    }

    return 0;
}


int
pz_store_open(pz_store_t *st, const char *dir, int flags, size_t mapsize)
{
    int            rc, i;
    char           err[PZ_ERRLEN];
    MDB_txn       *txn;
    unsigned int   envflags, dbflags, got;
    struct stat    sb;

    static const char  *names[PZ_DB_MAX] = {
        PZ_DB_PROFILES, PZ_DB_ALIASES, PZ_DB_CATALOG, PZ_DB_META
    };

    memset(st, 0, sizeof(pz_store_t));

    if (strlen(dir) >= sizeof(st->dir)) {
        pz_msg("%s: path too long", dir);
        return -1;
    }

    strcpy(st->dir, dir);

    if (stat(dir, &sb) != 0) {
        if (errno != ENOENT || !(flags & PZ_OPEN_CREATE)) {
            pz_msg("%s: %s", dir, strerror(errno));
            return -1;
        }

        if (mkdir(dir, 0755) != 0) {
            pz_msg("%s: mkdir() failed: %s", dir, strerror(errno));
            return -1;
        }

    } else if (!S_ISDIR(sb.st_mode)) {
        pz_msg("%s: not a directory (a store is a directory holding "
               "data.mdb and lock.mdb)", dir);
        return -1;
    }

    if (!(flags & PZ_OPEN_RDONLY) && pz_fs_check(dir, err, sizeof(err)) != 0)
    {
        pz_msg("%s", err);
        return -1;
    }

    if (!(flags & PZ_OPEN_CREATE)) {
        char  data[PATH_MAX + 16];

        snprintf(data, sizeof(data), "%s/data.mdb", dir);

        if (stat(data, &sb) != 0) {
            pz_msg("%s: not a store: %s: %s", dir, data, strerror(errno));
            return -1;
        }
    }

    rc = mdb_env_create(&st->env);
    if (rc != 0) {
        pz_msg("mdb_env_create() failed: %s", mdb_strerror(rc));
        return -1;
    }

    mdb_env_set_maxdbs(st->env, PZ_DB_MAX);

    if (!(flags & PZ_OPEN_RDONLY)) {
        /* never shrinks: LMDB keeps a larger size of an existing store */
        rc = mdb_env_set_mapsize(st->env, mapsize ? mapsize
                                                  : PZ_MAPSIZE_DEFAULT);
        if (rc != 0) {
            pz_msg("mdb_env_set_mapsize() failed: %s", mdb_strerror(rc));
            goto failed;
        }
    }

    envflags = MDB_NOTLS;

    if (flags & PZ_OPEN_RDONLY) {
        envflags |= MDB_RDONLY;
    }

    if (flags & PZ_OPEN_BULK) {
        envflags |= MDB_NOSYNC;
    }

    rc = mdb_env_open(st->env, dir, envflags, 0644);
    if (rc != 0) {
        pz_msg("%s: mdb_env_open() failed: %s", dir, mdb_strerror(rc));
        goto failed;
    }

    /* the tools never run without LMDB's lock: readers rely on it */

    if (mdb_env_get_flags(st->env, &got) == 0 && (got & MDB_NOLOCK)) {
        pz_msg("%s: refusing to work with MDB_NOLOCK", dir);
        goto failed;
    }

    rc = mdb_txn_begin(st->env, NULL, flags & PZ_OPEN_RDONLY ? MDB_RDONLY : 0,
                       &txn);
    if (rc != 0) {
        pz_msg("%s: mdb_txn_begin() failed: %s", dir, mdb_strerror(rc));
        goto failed;
    }

    dbflags = (flags & PZ_OPEN_RDONLY) ? 0 : MDB_CREATE;

    for (i = 0; i < PZ_DB_MAX; i++) {
        rc = mdb_dbi_open(txn, names[i], dbflags, &st->dbi[i]);

        if (rc != 0) {
            if (rc == MDB_NOTFOUND) {
                pz_msg("%s: not a store: no database \"%s\"", dir, names[i]);

            } else {
                pz_msg("%s: mdb_dbi_open(\"%s\") failed: %s", dir, names[i],
                       mdb_strerror(rc));
            }

            mdb_txn_abort(txn);
            goto failed;
        }
    }

    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        pz_msg("%s: mdb_txn_commit() failed: %s", dir, mdb_strerror(rc));
        goto failed;
    }

    return 0;

failed:

    mdb_env_close(st->env);
    st->env = NULL;

    return -1;
}


void
pz_store_close(pz_store_t *st)
{
    if (st->env != NULL) {
        mdb_env_close(st->env);
        st->env = NULL;
    }
}


/* meta record */

static int
pz_meta_schema(pz_schema_t *s, pz_field_t *f, char *err, size_t errlen)
{
    int          type;
    size_t       pos;
    pz_bytes_t   item;
    const char  *colon;

    s->n = 0;
    pos = 0;

    while (pz_list_next(f, &pos, &item)) {
        colon = memchr(item.data, ':', item.len);

        if (colon == NULL) {
            snprintf(err, errlen, "meta: bad schema item \"%.*s\"",
                     (int) item.len, item.data);
            return -1;
        }

        type = pz_type_parse(colon + 1,
                             item.len - (colon + 1 - (char *) item.data));

        if (pz_schema_add(s, (const char *) item.data,
                          colon - (char *) item.data, type, err, errlen)
            != 0)
        {
            return -1;
        }
    }

    pz_schema_sort(s);

    return 0;
}


/* 0: read, 1: no meta record, -1: error (err says why) */

int
pz_meta_get(MDB_txn *txn, pz_store_t *st, pz_meta_t *m, char *err,
    size_t errlen)
{
    int         rc;
    MDB_val     key, val;
    pz_field_t  f;

    memset(m, 0, sizeof(pz_meta_t));

    key.mv_data = PZ_META_KEY;
    key.mv_size = sizeof(PZ_META_KEY) - 1;

    rc = mdb_get(txn, st->dbi[PZ_META], &key, &val);

    if (rc == MDB_NOTFOUND) {
        return 1;
    }

    if (rc != 0) {
        snprintf(err, errlen, "mdb_get(meta) failed: %s", mdb_strerror(rc));
        return -1;
    }

    rc = pz_record_check(val.mv_data, val.mv_size);
    if (rc != PZ_OK) {
        snprintf(err, errlen, "meta: %s", pz_strerror(rc));
        return -1;
    }

    if (pz_record_find(val.mv_data, val.mv_size, PZ_META_FORMAT,
                       sizeof(PZ_META_FORMAT) - 1, &f) != PZ_OK
        || f.type != PZ_T_INT)
    {
        snprintf(err, errlen, "meta: no " PZ_META_FORMAT);
        return -1;
    }

    m->format = pz_field_num(&f);

    if (m->format != PZ_FORMAT_VERSION) {
        snprintf(err, errlen, "meta: format version %lld, these tools know "
                 "%d", (long long) m->format, PZ_FORMAT_VERSION);
        return -1;
    }

    if (pz_record_find(val.mv_data, val.mv_size, PZ_META_GENERATION,
                       sizeof(PZ_META_GENERATION) - 1, &f) == PZ_OK
        && f.type == PZ_T_INT)
    {
        m->generation = pz_field_num(&f);
    }

    if (pz_record_find(val.mv_data, val.mv_size, PZ_META_BUILD_TIME,
                       sizeof(PZ_META_BUILD_TIME) - 1, &f) == PZ_OK
        && f.type == PZ_T_TIME)
    {
        m->build_time = pz_field_num(&f);
    }

    if (pz_record_find(val.mv_data, val.mv_size, PZ_META_SCHEMA,
                       sizeof(PZ_META_SCHEMA) - 1, &f) == PZ_OK
        && f.type == PZ_T_LIST)
    {
        if (pz_meta_schema(&m->schema, &f, err, errlen) != 0) {
            return -1;
        }

        m->has_schema = 1;
    }

    if (pz_record_find(val.mv_data, val.mv_size, PZ_META_CATALOG_SCHEMA,
                       sizeof(PZ_META_CATALOG_SCHEMA) - 1, &f) == PZ_OK
        && f.type == PZ_T_LIST)
    {
        if (pz_meta_schema(&m->catalog, &f, err, errlen) != 0) {
            return -1;
        }

        m->has_catalog = 1;
    }

    return 0;
}


int
pz_meta_put(MDB_txn *txn, pz_store_t *st, pz_meta_t *m)
{
    int             rc, err;
    char            buf[2][PZ_FIELDS_MAX][PZ_NAME_MAX + 16];
    size_t          i, j, n, len;
    MDB_val         key, val;
    pz_bytes_t      items[2][PZ_FIELDS_MAX];
    pz_field_in_t   f[5];
    pz_schema_t    *s;
    unsigned char  *rec;

    memset(f, 0, sizeof(f));

    f[0].name.data = (const unsigned char *) PZ_META_FORMAT;
    f[0].name.len = sizeof(PZ_META_FORMAT) - 1;
    f[0].type = PZ_T_INT;
    f[0].num = PZ_FORMAT_VERSION;

    f[1].name.data = (const unsigned char *) PZ_META_GENERATION;
    f[1].name.len = sizeof(PZ_META_GENERATION) - 1;
    f[1].type = PZ_T_INT;
    f[1].num = m->generation;

    f[2].name.data = (const unsigned char *) PZ_META_BUILD_TIME;
    f[2].name.len = sizeof(PZ_META_BUILD_TIME) - 1;
    f[2].type = PZ_T_TIME;
    f[2].num = m->build_time;

    n = 3;

    for (j = 0; j < 2; j++) {
        if (j == 0 ? !m->has_schema : !m->has_catalog) {
            continue;
        }

        s = j == 0 ? &m->schema : &m->catalog;

        for (i = 0; i < s->n; i++) {
            len = snprintf(buf[j][i], sizeof(buf[j][i]), "%s:%s",
                           s->cols[i].name, pz_type_name(s->cols[i].type));
            items[j][i].data = (unsigned char *) buf[j][i];
            items[j][i].len = len;
        }

        f[n].name.data = (const unsigned char *)
                         (j == 0 ? PZ_META_SCHEMA : PZ_META_CATALOG_SCHEMA);
        f[n].name.len = strlen((const char *) f[n].name.data);
        f[n].type = PZ_T_LIST;
        f[n].items = items[j];
        f[n].nitems = s->n;
        n++;
    }

    len = 0;
    (void) pz_record_build(f, n, NULL, 0, &err, &len);

    if (err != PZ_ERR_SPACE) {
        pz_msg("meta: %s", pz_strerror(err));
        return -1;
    }

    rec = malloc(len);
    if (rec == NULL) {
        pz_msg("out of memory");
        return -1;
    }

    len = pz_record_build(f, n, rec, len, &err, NULL);

    key.mv_data = PZ_META_KEY;
    key.mv_size = sizeof(PZ_META_KEY) - 1;
    val.mv_data = rec;
    val.mv_size = len;

    rc = mdb_put(txn, st->dbi[PZ_META], &key, &val, 0);

    free(rec);

    if (rc != 0) {
        pz_msg("mdb_put(meta) failed: %s", mdb_strerror(rc));
        return -1;
    }

    return 0;
}


/*
 * An arena for jansson while rows are parsed: a JSON line makes some
 * thirty small allocations that all die with the row, so they come from a
 * per-thread bump allocator that is reset after each row.
 */

typedef struct pz_chunk_s  pz_chunk_t;

struct pz_chunk_s {
    pz_chunk_t           *next;
    size_t                size;
    size_t                used;
};

#define PZ_CHUNK_SIZE           (256 * 1024)

static __thread pz_chunk_t  *pz_arena;


static void *
pz_arena_alloc(size_t size)
{
    size_t       n;
    pz_chunk_t  *c;

    size = (size + 15) & ~(size_t) 15;
    c = pz_arena;

    if (c == NULL || c->size - c->used < size) {
        n = size + sizeof(pz_chunk_t) + 16 > PZ_CHUNK_SIZE
            ? size + sizeof(pz_chunk_t) + 16 : PZ_CHUNK_SIZE;

        c = malloc(n);
        if (c == NULL) {
            return NULL;
        }

        c->next = pz_arena;
        c->size = n;
        c->used = (sizeof(pz_chunk_t) + 15) & ~(size_t) 15;
        pz_arena = c;
    }

    c->used += size;

    return (char *) c + c->used - size;
}


static void
pz_arena_free(void *p)
{
    (void) p;
}


void
pz_json_arena(void)
{
    json_set_alloc_funcs(pz_arena_alloc, pz_arena_free);
}


/* keeps the first chunk: a steady state without malloc */

void
pz_json_arena_reset(void)
{
    pz_chunk_t  *c, *next;

    c = pz_arena;

    if (c == NULL) {
        return;
    }

    while (c->next != NULL) {
        next = c->next;
        free(c);
        c = next;
    }

    c->used = (sizeof(pz_chunk_t) + 15) & ~(size_t) 15;
    pz_arena = c;
}


void
pz_json_arena_free(void)
{
    pz_chunk_t  *c, *next;

    for (c = pz_arena; c != NULL; c = next) {
        next = c->next;
        free(c);
    }

    pz_arena = NULL;
}


/* rows */

void
pz_row_init(pz_row_t *row)
{
    memset(row, 0, sizeof(pz_row_t));
}


void
pz_row_free(pz_row_t *row)
{
    free(row->items);
    free(row->nums);
    free(row->rec);
    row->items = NULL;
    row->nums = NULL;
    row->rec = NULL;
}


int
pz_row_items_reserve(pz_row_t *row, size_t n)
{
    pz_bytes_t  *items;

    if (n <= row->items_cap) {
        return 0;
    }

    items = realloc(row->items, n * 2 * sizeof(pz_bytes_t));
    if (items == NULL) {
        return -1;
    }

    row->items = items;
    row->items_cap = n * 2;

    return 0;
}


static void
pz_json_brief(json_t *v, char *buf, size_t size)
{
    char         *s;
    json_free_t   jfree;

    s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

    if (s == NULL) {
        snprintf(buf, size, "?");
        return;
    }

    if (strlen(s) > 60) {
        snprintf(buf, size, "%.57s...", s);

    } else {
        snprintf(buf, size, "%s", s);
    }

    json_get_alloc_funcs(NULL, &jfree);
    jfree(s);
}


/* the text of a JSON number, kept in row->nums until the next row */

static const char *
pz_num_text(pz_row_t *row, json_t *v)
{
    char  *p;

    if (row->nums == NULL) {
        row->nums = malloc(PZ_FIELDS_MAX * 32);
        if (row->nums == NULL) {
            return NULL;
        }
    }

    p = row->nums + row->nums_len;

    if (json_is_integer(v)) {
        row->nums_len += snprintf(p, 32, "%" JSON_INTEGER_FORMAT,
                                  json_integer_value(v)) + 1;

    } else {
        /* a JSON real is a double: four places are what a decimal holds */
        row->nums_len += snprintf(p, 32, "%.4f", json_real_value(v)) + 1;
    }

    return p;
}


static int
pz_value(pz_row_t *row, pz_field_in_t *f, const pz_col_t *col, json_t *v,
    int csv)
{
    int          rc;
    char         got[80];
    size_t       i, n, len;
    json_t      *item;
    const char  *s;

    f->name.data = (const unsigned char *) col->name;
    f->name.len = col->len;
    f->type = col->type;

    switch (col->type) {

    case PZ_T_STRING:
        if (!json_is_string(v)) {
            goto wrong;
        }

        if (json_string_length(v) > PZ_VALUE_MAX) {
            snprintf(row->err, sizeof(row->err), "field \"%s\": string of "
                     "%zu bytes, at most %d", col->name,
                     json_string_length(v), PZ_VALUE_MAX);
            return -1;
        }

        f->str.data = (const unsigned char *) json_string_value(v);
        f->str.len = json_string_length(v);
        return 0;

    case PZ_T_INT:
    case PZ_T_DECIMAL:
    case PZ_T_TIME:
        /* a JSON integer needs no trip through text for an int, nor for
         * epoch seconds (of 20 characters it would be no time at all:
         * pz_time_parse() takes those for ISO 8601) */

        if (json_is_integer(v)
            && (col->type == PZ_T_INT
                || (col->type == PZ_T_TIME
                    && json_integer_value(v) > -1000000000000000000LL)))
        {
            f->num = json_integer_value(v);
            return 0;
        }

        if (json_is_string(v)) {
            s = json_string_value(v);
            len = json_string_length(v);

        } else if (json_is_integer(v)
                   || (json_is_real(v) && col->type == PZ_T_DECIMAL))
        {
            s = pz_num_text(row, v);
            if (s == NULL) {
                snprintf(row->err, sizeof(row->err), "out of memory");
                return -1;
            }

            len = strlen(s);

        } else {
            goto wrong;
        }

        if (col->type == PZ_T_INT) {
            rc = pz_int_parse(s, len, &f->num);

        } else if (col->type == PZ_T_DECIMAL) {
            rc = pz_decimal_parse(s, len, &f->num);

        } else {
            rc = pz_time_parse(s, len, &f->num);
        }

        if (rc != 0) {
            goto wrong;
        }

        return 0;

    case PZ_T_LIST:
        if (csv && json_is_string(v)) {
            /* a CSV cell: items separated by "|" */
            s = json_string_value(v);
            len = json_string_length(v);

            n = 1;
            for (i = 0; i < len; i++) {
                n += (s[i] == '|');
            }

            if (n > PZ_LIST_MAX) {
                goto too_many;
            }

            /* items point into the row's item array, filled below */
            f->nitems = 0;
            f->items = NULL;
            f->str.data = (const unsigned char *) s;
            f->str.len = len;
            f->num = (int64_t) n;     /* split by the caller */
            return 1;
        }

        if (!json_is_array(v)) {
            goto wrong;
        }

        n = json_array_size(v);

        if (n > PZ_LIST_MAX) {
            goto too_many;
        }

        f->nitems = n;
        f->num = 0;

        json_array_foreach(v, i, item) {
            if (!json_is_string(item)) {
                pz_json_brief(item, got, sizeof(got));
                snprintf(row->err, sizeof(row->err), "field \"%s\": item "
                         "%zu: expected string, got %s", col->name, i + 1,
                         got);
                return -1;
            }

            if (json_string_length(item) > PZ_ITEM_MAX) {
                snprintf(row->err, sizeof(row->err), "field \"%s\": item "
                         "%zu: %zu bytes, at most %d", col->name, i + 1,
                         json_string_length(item), PZ_ITEM_MAX);
                return -1;
            }
        }

        return 2;
    }

wrong:

    pz_json_brief(v, got, sizeof(got));
    snprintf(row->err, sizeof(row->err), "field \"%s\": expected %s, got %s",
             col->name, pz_type_name(col->type), got);

    return -1;

too_many:

    snprintf(row->err, sizeof(row->err), "field \"%s\": more than %d items",
             col->name, PZ_LIST_MAX);

    return -1;
}


/*
 * A JSON object (a JSON line, or a CSV row turned into one with string
 * values) to a record in row->rec.  "id" is required, "aliases" (profiles
 * only) optional, "_updated_at" optional (else now); every other key is a
 * field of the schema; null and, from CSV, empty values leave a field out.
 * Returns 0, or -1 with row->err set.
 */

int
pz_json_to_row(pz_row_t *row, json_t *obj, const pz_schema_t *s, int kind,
    int csv, int64_t now)
{
    int              rc;
    char             got[80];
    size_t           i, k, nitems, len;
    json_t          *v, *item;
    json_t          *lists[PZ_FIELDS_MAX];
    const char      *key, *p, *end, *bar;
    pz_col_t         col;
    pz_bytes_t      *alias;
    pz_field_in_t   *f;
    const pz_col_t  *c;

    row->err[0] = '\0';
    row->nfields = 0;
    row->naliases = 0;
    row->nums_len = 0;
    row->updated_at = now;
    nitems = 0;

    if (!json_is_object(obj)) {
        snprintf(row->err, sizeof(row->err), "expected a JSON object");
        return -1;
    }

    v = json_object_get(obj, "id");

    if (v == NULL || json_is_null(v)) {
        snprintf(row->err, sizeof(row->err), "no \"id\"");
        return -1;
    }

    if (!json_is_string(v)) {
        pz_json_brief(v, got, sizeof(got));
        snprintf(row->err, sizeof(row->err), "\"id\": expected string, "
                 "got %s", got);
        return -1;
    }

    row->id = json_string_value(v);
    row->id_len = json_string_length(v);

    if (row->id_len == 0 || row->id_len > PZ_ID_MAX) {
        snprintf(row->err, sizeof(row->err), "\"id\": %zu bytes, expected "
                 "1 to %d", row->id_len, PZ_ID_MAX);
        return -1;
    }

    json_object_foreach(obj, key, v) {
        len = strlen(key);

        if (strcmp(key, "id") == 0) {
            continue;
        }

        if (kind == PZ_ROW_PROFILE && strcmp(key, "aliases") == 0) {
            if (json_is_null(v) || (csv && json_is_string(v)
                                    && json_string_length(v) == 0))
            {
                continue;
            }

            if (csv && json_is_string(v)) {
                p = json_string_value(v);
                end = p + json_string_length(v);

                while (p <= end) {
                    bar = memchr(p, '|', end - p);
                    if (bar == NULL) {
                        bar = end;
                    }

                    if (row->naliases == PZ_LIST_MAX) {
                        snprintf(row->err, sizeof(row->err), "\"aliases\": "
                                 "more than %d", PZ_LIST_MAX);
                        return -1;
                    }

                    row->aliases[row->naliases].data =
                                                    (const unsigned char *) p;
                    row->aliases[row->naliases].len = bar - p;
                    row->naliases++;
                    p = bar + 1;
                }

            } else if (json_is_array(v)) {
                if (json_array_size(v) > PZ_LIST_MAX) {
                    snprintf(row->err, sizeof(row->err), "\"aliases\": "
                             "more than %d", PZ_LIST_MAX);
                    return -1;
                }

                json_array_foreach(v, i, item) {
                    if (!json_is_string(item)) {
                        pz_json_brief(item, got, sizeof(got));
                        snprintf(row->err, sizeof(row->err), "\"aliases\": "
                                 "expected strings, got %s", got);
                        return -1;
                    }

                    alias = &row->aliases[row->naliases];
                    alias->data = (const unsigned char *)
                                  json_string_value(item);
                    alias->len = json_string_length(item);
                    row->naliases++;
                }

            } else {
                pz_json_brief(v, got, sizeof(got));
                snprintf(row->err, sizeof(row->err), "\"aliases\": expected "
                         "a list, got %s", got);
                return -1;
            }

            for (i = 0; i < row->naliases; i++) {
                if (row->aliases[i].len == 0
                    || row->aliases[i].len > PZ_ID_MAX)
                {
                    snprintf(row->err, sizeof(row->err), "\"aliases\": "
                             "item %zu: %zu bytes, expected 1 to %d", i + 1,
                             row->aliases[i].len, PZ_ID_MAX);
                    return -1;
                }

                if (row->aliases[i].len == row->id_len
                    && memcmp(row->aliases[i].data, row->id, row->id_len)
                       == 0)
                {
                    snprintf(row->err, sizeof(row->err), "\"aliases\": "
                             "the profile's own id");
                    return -1;
                }

                for (k = 0; k < i; k++) {
                    if (row->aliases[k].len == row->aliases[i].len
                        && memcmp(row->aliases[k].data, row->aliases[i].data,
                                  row->aliases[i].len) == 0)
                    {
                        snprintf(row->err, sizeof(row->err), "\"aliases\": "
                                 "\"%.*s\" twice", (int) row->aliases[i].len,
                                 row->aliases[i].data);
                        return -1;
                    }
                }
            }

            continue;
        }

        if (kind == PZ_ROW_PROFILE && strcmp(key, PZ_FIELD_UPDATED_AT) == 0) {
            col.len = sizeof(PZ_FIELD_UPDATED_AT) - 1;
            memcpy(col.name, PZ_FIELD_UPDATED_AT, col.len + 1);
            col.type = PZ_T_TIME;

            if (json_is_null(v)) {
                continue;
            }

            f = &row->fields[row->nfields];
            if (pz_value(row, f, &col, v, csv) < 0) {
                return -1;
            }

            row->updated_at = f->num;
            continue;
        }

        c = pz_schema_find(s, key, len);

        if (c == NULL) {
            snprintf(row->err, sizeof(row->err), "unknown field \"%.*s\" "
                     "(not in the schema)", (int) (len > 80 ? 80 : len), key);
            return -1;
        }

        if (json_is_null(v)
            || (csv && json_is_string(v) && json_string_length(v) == 0))
        {
            continue;
        }

        f = &row->fields[row->nfields];
        memset(f, 0, sizeof(pz_field_in_t));

        rc = pz_value(row, f, c, v, csv);

        if (rc < 0) {
            return -1;
        }

        if (rc == 1) {
            nitems += (size_t) f->num;
            lists[row->nfields] = NULL;

        } else if (rc == 2) {
            nitems += f->nitems;
            lists[row->nfields] = v;

        } else {
            lists[row->nfields] = NULL;
        }

        row->nfields++;
    }

    /* list items into one array */

    if (pz_row_items_reserve(row, nitems + 1) != 0) {
        snprintf(row->err, sizeof(row->err), "out of memory");
        return -1;
    }

    k = 0;

    for (i = 0; i < row->nfields; i++) {
        f = &row->fields[i];

        if (f->type != PZ_T_LIST) {
            continue;
        }

        f->items = &row->items[k];

        if (lists[i] != NULL) {
            json_array_foreach(lists[i], len, item) {
                row->items[k].data =
                                (const unsigned char *) json_string_value(item);
                row->items[k].len = json_string_length(item);
                k++;
            }

            continue;
        }

        /* a CSV cell split at "|" */

        p = (const char *) f->str.data;
        end = p + f->str.len;
        f->nitems = 0;

        while (p <= end) {
            bar = memchr(p, '|', end - p);
            if (bar == NULL) {
                bar = end;
            }

            if (bar - p > PZ_ITEM_MAX) {
                snprintf(row->err, sizeof(row->err), "field \"%.*s\": item "
                         "%zu: %zu bytes, at most %d", (int) f->name.len,
                         f->name.data, f->nitems + 1, (size_t) (bar - p),
                         PZ_ITEM_MAX);
                return -1;
            }

            row->items[k].data = (const unsigned char *) p;
            row->items[k].len = bar - p;
            k++;
            f->nitems++;
            p = bar + 1;
        }

        f->str.data = NULL;
        f->str.len = 0;
        f->num = 0;
    }

    return pz_row_finish(row, kind);
}


/* a reserved field added to the row, its value left to the caller */

static pz_field_in_t *
pz_row_reserved(pz_row_t *row, const char *name, int type)
{
    pz_field_in_t  *f;

    f = &row->fields[row->nfields++];
    memset(f, 0, sizeof(pz_field_in_t));
    f->name.data = (const unsigned char *) name;
    f->name.len = strlen(name);
    f->type = type;

    return f;
}


/*
 * The row's fields (items in place) to row->rec, the reserved fields of a
 * profile added: 0, or -1 with row->err set.
 */

int
pz_row_finish(pz_row_t *row, int kind)
{
    int             err;
    size_t          needed;
    pz_field_in_t  *f;
    unsigned char  *rec;

    /* the reserved fields */

    if (kind == PZ_ROW_PROFILE) {
        f = pz_row_reserved(row, PZ_FIELD_UPDATED_AT, PZ_T_TIME);
        f->num = row->updated_at;

        if (row->naliases) {
            f = pz_row_reserved(row, PZ_FIELD_ALIASES, PZ_T_LIST);
            f->items = row->aliases;
            f->nitems = row->naliases;
        }
    }

    needed = 0;
    row->rec_len = pz_record_build(row->fields, row->nfields, row->rec,
                                   row->rec_cap, &err, &needed);

    if (err == PZ_ERR_SPACE) {
        rec = realloc(row->rec, needed + 4096);
        if (rec == NULL) {
            snprintf(row->err, sizeof(row->err), "out of memory");
            return -1;
        }

        row->rec = rec;
        row->rec_cap = needed + 4096;
        row->rec_len = pz_record_build(row->fields, row->nfields, row->rec,
                                       row->rec_cap, &err, &needed);
    }

    if (err != PZ_OK) {
        snprintf(row->err, sizeof(row->err), "record: %s",
                 pz_strerror(err));
        return -1;
    }

    return 0;
}


/* a record to the JSON object that pz-load reads back */

json_t *
pz_record_to_json(const char *id, size_t id_len, const unsigned char *rec,
    size_t len, int kind)
{
    char        buf[PZ_TIME_LEN + PZ_DECIMAL_LEN];
    size_t      i, n, pos;
    json_t     *obj, *v, *aliases;
    pz_field_t  f;
    pz_bytes_t  item;

    if (pz_record_check(rec, len) != PZ_OK) {
        return NULL;
    }

    obj = json_object();
    if (obj == NULL) {
        return NULL;
    }

    json_object_set_new(obj, "id", json_stringn(id, id_len));

    aliases = NULL;

    if (kind == PZ_ROW_PROFILE) {
        aliases = json_array();
        json_object_set_new(obj, "aliases", aliases);
    }

    n = pz_record_nfields(rec, len);

    for (i = 0; i < n; i++) {
        (void) pz_record_field_at(rec, len, i, &f);

        switch (f.type) {

        case PZ_T_STRING:
            v = json_stringn((const char *) f.value.data, f.value.len);
            break;

        case PZ_T_INT:
            v = json_integer(pz_field_num(&f));
            break;

        case PZ_T_DECIMAL:
            pz_decimal_format(pz_field_num(&f), buf);
            v = json_string(buf);
            break;

        case PZ_T_TIME:
            pz_time_format(pz_field_num(&f), buf);
            v = json_string(buf);
            break;

        default:
            v = json_array();
            pos = 0;

            while (pz_list_next(&f, &pos, &item)) {
                json_array_append_new(v, json_stringn(
                                      (const char *) item.data, item.len));
            }

            break;
        }

        if (v == NULL) {
            /* not UTF-8: jansson refuses it */
            json_decref(obj);
            return NULL;
        }

        if (aliases != NULL && f.name.len == sizeof(PZ_FIELD_ALIASES) - 1
            && memcmp(f.name.data, PZ_FIELD_ALIASES, f.name.len) == 0)
        {
            json_array_extend(aliases, v);
            json_decref(v);
            continue;
        }

        json_object_setn_new(obj, (const char *) f.name.data, f.name.len, v);
    }

    return obj;
}


int
pz_print_json(FILE *out, json_t *obj)
{
    if (json_dumpf(obj, out, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0) {
        return -1;
    }

    return fputc('\n', out) == EOF ? -1 : 0;
}
