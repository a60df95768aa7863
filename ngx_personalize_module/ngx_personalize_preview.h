/*
 * ngx_personalize preview tokens: what a content editor asks to see.
 *
 * Plain C, no nginx includes: shared by the nginx module and the tests.
 * Nothing here allocates memory.
 *
 * A preview token is a signed id (ngx_personalize_sign.h) whose id is a
 * preview payload, signed with a preview key (never the visitor key):
 *
 *     <payload>.<expires>.<mac>
 *
 * The payload is "pv" followed by items, each introduced by "@":
 *
 *     @id:<profile id>               view as this profile
 *     @seg:<segment>[:<segment>...]  with exactly these segments
 *     @exp:<experiment>:<variant>    in this variant (repeatable)
 *
 * for example "pv@id:c1@seg:vip:cart_abandoned@exp:hero-test:b".  Items
 * hold only [A-Za-z0-9._-] (and ":" as the separator, also inside a
 * profile id: everything after "id:" is the id); each kind but exp comes
 * at most once; a payload with none of them, an unknown kind or an empty
 * name is invalid.
 */

#ifndef NGX_PERSONALIZE_PREVIEW_H_INCLUDED_
#define NGX_PERSONALIZE_PREVIEW_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "ngx_personalize_record.h"


#define PZ_PREVIEW_SEGMENTS_MAX  16
#define PZ_PREVIEW_VARIANTS_MAX  8


typedef struct {
    pz_bytes_t            profile_id;   /* len 0: the visitor's own */
    int                   has_segments; /* 1: segments replace the
                                           profile's, maybe none */
    size_t                nsegments;
    pz_bytes_t            segments[PZ_PREVIEW_SEGMENTS_MAX];
    size_t                nvariants;
    pz_bytes_t            experiments[PZ_PREVIEW_VARIANTS_MAX];
    pz_bytes_t            variants[PZ_PREVIEW_VARIANTS_MAX];
} pz_preview_t;


/* parses a payload; 0 with *pv filled (pointers into s), or -1 */
int pz_preview_parse(const unsigned char *s, size_t len, pz_preview_t *pv);


#endif /* NGX_PERSONALIZE_PREVIEW_H_INCLUDED_ */
