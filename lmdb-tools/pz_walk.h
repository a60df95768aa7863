/*
 * lmdb-tools: the check walker, shared by pz-check and pz-load.
 */

#ifndef PZ_WALK_H_INCLUDED_
#define PZ_WALK_H_INCLUDED_

#include <stdarg.h>
#include <stdint.h>

#include "pz_tool.h"


/* pz_walk_t.parts */
#define PZ_WALK_META            0x01
#define PZ_WALK_PROFILES        0x02
#define PZ_WALK_ALIASES         0x04
#define PZ_WALK_CATALOG         0x08


typedef struct {
    /* in */
    int                   full;         /* cross-check aliases both ways */
    unsigned              parts;        /* PZ_WALK_*, 0 for all of them */
    size_t                max_report;   /* problems printed */
    FILE                 *report;       /* or NULL */

    /* out */
    size_t                problems;
    size_t                profiles;
    size_t                aliases;
    size_t                catalog;
    size_t                alias_refs;   /* aliases listed in profiles */
    pz_meta_t             meta;
} pz_walk_t;


/*
 * 0 after a complete walk (w->problems tells the result), -1 on failure.
 * A walk of some parts leaves the counters of the others as they were:
 * without PZ_WALK_META, w->meta is the caller's (the schemas to check
 * against).  The aliases the profiles list are compared with those of the
 * aliases database when one call walks both; a caller that walks them
 * apart compares w->alias_refs and w->aliases itself.
 */
int pz_walk(pz_store_t *st, MDB_txn *txn, pz_walk_t *w);

/* where the read-only map of the store starts (0 if unknown), and a way
 * to drop its pages from the resident set */
uintptr_t pz_map_base(pz_store_t *st);
uintptr_t pz_map_base_of(pz_store_t *st, const void *data);
void pz_map_release(pz_store_t *st, uintptr_t base);


#endif /* PZ_WALK_H_INCLUDED_ */
