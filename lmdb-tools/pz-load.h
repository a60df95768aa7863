/*
 * pz-load: what its files share.  The loader state, the JSON pipeline, the
 * alias sorter, and the functions one file calls in another:
 *
 *   pz-load.c          options, main(), the lock, transactions
 *   pz-load-input.c    JSON lines, CSV, ids for -D; rows and bad rows
 *   pz-load-put.c      a row into the store (upsert, build, catalog)
 *   pz-load-pipe.c     the JSON pipeline: parser threads, one writer
 *   pz-load-sort.c     the alias sorter of a build: runs, radix, merge
 *   pz-load-order.c    unsorted profiles of a build, through a sorter
 *   pz-load-claims.c   aliases claimed by two rows under -x
 *   pz-load-modes.c    delete (-D) and retention (-r)
 *   pz-load-replace.c  a new generation: prepare, check, swap
 *
 * It comes first in each of them: it defines _GNU_SOURCE.
 */

#ifndef PZ_LOAD_H_INCLUDED_
#define PZ_LOAD_H_INCLUDED_

#define _GNU_SOURCE

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <csv.h>

#include "pz_json_fast.h"
#include "pz_tool.h"
#include "pz_walk.h"


#define PZ_MODE_UPSERT          0
#define PZ_MODE_REPLACE         1
#define PZ_MODE_DELETE          2
#define PZ_MODE_RETAIN          3

/* a replace build commits this often; readers do not see it anyway */
#define PZ_REPLACE_TXN_ROWS     10000

/* and unsorted input drops the mapped pages this often; sorted input
 * every so many commits */
#define PZ_RELEASE_ROWS         1000
#define PZ_APPEND_RELEASE       16

#define PZ_LINE_MAX             (16 * 1024 * 1024)

#define PZ_ROW_OK               0
#define PZ_ROW_BAD              1
#define PZ_ROW_FATAL            -1


/* the JSON pipeline */

#define PZ_PIPE_BLOCKS          8
#define PZ_PIPE_CHUNK           (1024 * 1024)
#define PZ_PIPE_THREADS         8
#define PZ_DROP_STEP            (64 * 1024 * 1024)

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
    int                   drop_fd;      /* a file: its cache, read, dropped */
    off_t                 read_bytes;
    off_t                 dropped;
    pz_load_t            *ld;
} pz_pipe_t;


/* the alias sorter of a replace */

#define PZ_SORT_MEM             (64 * 1024 * 1024)
#define PZ_SORT_IO              (1024 * 1024)
#define PZ_SORT_ALIGN           (2 * 1024 * 1024)
#define PZ_SORT_RUNS            256
#define PZ_SENT_HDR             12      /* u16 alias, u16 id, u32 line,
                                           u16 file, u16 lines */
#define PZ_CLAIMS_MAX           100000

/* the profile sorter of a build with unsorted input (pz-load-order.c):
 * an entry is the header, the id, u32 record length, u32 raw length,
 * u8 from CSV, then the record and the raw row (kept for -x) */
#define PZ_ORDER_MEM            (128 * 1024 * 1024)
#define PZ_ORDER_ENT_MIN        128     /* sizes its index */
#define PZ_OENT_LENS            9
/* rows appended before the first step back that join the sorter */
#define PZ_ORDER_MOVE_MAX       1000000

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
    int                   profiles;     /* of pz-load-order.c */
    size_t                mem;          /* of buf */
    size_t                max_ent;
    unsigned char        *buf;
    size_t                len;
    pz_sent_t            *ents;
    size_t                n;
    size_t                ents_cap;
    unsigned char        *wbuf;         /* a spill's writes */
    const char           *dir;          /* of the runs */
    int                   runs[PZ_SORT_RUNS];       /* unlinked files */
    int                   nruns;

    /* a thread spills a full buffer while the other one fills */
    unsigned char        *spare_buf;
    pz_sent_t            *spare_ents;
    pthread_t             tid;
    int                   thread_on;
    pthread_mutex_t       mu;
    pthread_cond_t        cv;
    unsigned char        *job_buf;      /* under mu: a buffer to spill */
    pz_sent_t            *job_ents;
    size_t                job_n;
    int                   busy;
    int                   quit;
    int                   failed;

    size_t                slice;        /* of buf, for each run's reads */
    size_t                rpos[PZ_SORT_RUNS];
    size_t                rlen[PZ_SORT_RUNS];
    unsigned char        *heads[PZ_SORT_RUNS];
    pz_sent_t             keys[PZ_SORT_RUNS];       /* of the heads */
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
    MDB_cursor           *cur[PZ_DB_MAX];       /* of pz_append(), in txn */
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
    size_t                txns;         /* commits of a replace build */
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

    /* copies of input that cannot be read again (-x), by file index */
    int                  *copy_fds;
    size_t                ncopies;
    char                  copy_path[64];

    pz_sorter_t           sorter;

    /* unsorted profiles of a build: sorted apart, then appended */
    pz_sorter_t           order;
    int                   ordering;     /* rows go to the sorter */
    int                   ordered;      /* rows come from it */
    size_t                order_rows;

    /* a replace checks its profiles while the aliases go in */
    pthread_t             check_tid;
    int                   check_running;
    int                   check_rc;
    pz_walk_t             check;
};


/* pz-load.c */
int pz_commit(pz_load_t *ld, int final);
int pz_append(pz_load_t *ld, int db, MDB_val *key, MDB_val *val,
    unsigned flags);

/* pz-load-input.c */
int pz_input(pz_load_t *ld, const char *name);
int pz_row_write(pz_load_t *ld, const char *raw, size_t raw_len);
int pz_bad_row(pz_load_t *ld, const char *raw, size_t raw_len);
void pz_csv_row_put(pz_load_t *ld, FILE *f);

/* pz-load-put.c */
int pz_put_profile(pz_load_t *ld);
int pz_put_catalog(pz_load_t *ld);

/* pz-load-pipe.c */
int pz_input_pipe(pz_load_t *ld, FILE *in);

/* pz-load-sort.c */
int pz_sort_add(pz_load_t *ld, const pz_bytes_t *alias);
unsigned char *pz_sort_entry(pz_load_t *ld, pz_sorter_t *s, const void *key,
    size_t key_len, size_t id_len, size_t need, int moved);
int pz_sort_reserve(pz_load_t *ld, pz_sorter_t *s, size_t mem, size_t need);
int pz_sort_spill(pz_load_t *ld, pz_sorter_t *s);
int pz_sort_finish(pz_load_t *ld, pz_sorter_t *s);
int pz_write_all(int fd, const unsigned char *p, size_t len);
void pz_sort_free(pz_sorter_t *s);

/* pz-load-order.c */
int pz_order_wanted(pz_load_t *ld);
int pz_order_add(pz_load_t *ld, const char *raw, size_t raw_len);
int pz_order_emit(pz_load_t *ld, const unsigned char *e);
int pz_order_finish(pz_load_t *ld);

/* pz-load-claims.c */
void pz_claim_set(pz_claim_t *c, const unsigned char *e);
int pz_claim_add(pz_load_t *ld, const pz_claim_t *c);
int pz_claims_settle(pz_load_t *ld);
int pz_rereadable(pz_load_t *ld, unsigned file);
const char *pz_reread_path(pz_load_t *ld, unsigned file);

/* pz-load-modes.c */
int pz_delete_profile(pz_load_t *ld, MDB_val *id);
int pz_delete_one(pz_load_t *ld, const char *id, size_t len);
int pz_retain(pz_load_t *ld);

/* pz-load-replace.c */
int pz_replace_prepare(pz_load_t *ld);
void pz_check_start(pz_load_t *ld);
int pz_check_join(pz_load_t *ld);
int pz_replace_finish(pz_load_t *ld);
int pz_remove_generation(const char *dir);


#endif /* PZ_LOAD_H_INCLUDED_ */
