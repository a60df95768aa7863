/*
 * ngx_personalize: the private header shared by the module's files.
 *
 * Three nginx modules live in one shared object:
 *   ngx_http_personalize_module          identity, store, variables
 *   ngx_http_personalize_rules_module    slots, rules, experiments, templates
 *   ngx_http_personalize_filter_module   the streaming body filter
 * They talk only through the functions declared here.
 */

#ifndef NGX_HTTP_PERSONALIZE_H_INCLUDED_
#define NGX_HTTP_PERSONALIZE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_personalize_record.h"


/* where the visitor id came from; $personalize_id_source */
#define NGX_HTTP_PERSONALIZE_SRC_NONE         0
#define NGX_HTTP_PERSONALIZE_SRC_LOGIN        1
#define NGX_HTTP_PERSONALIZE_SRC_COOKIE       2
#define NGX_HTTP_PERSONALIZE_SRC_FINGERPRINT  3


/*
 * The visitor of a request, resolved once per main request and kept in the
 * ctx of r->main.  Everything points into r->main->pool: no LMDB memory
 * survives the read transaction.
 */
typedef struct {
    ngx_str_t                  id;          /* as identified */
    ngx_str_t                  profile_id;  /* after alias resolution */
    ngx_uint_t                 source;      /* NGX_HTTP_PERSONALIZE_SRC_* */

    u_char                    *record;      /* pz record copy, or NULL */
    size_t                     record_len;

    int64_t                    generation;  /* of the store read, or -1 */
    int64_t                    build_time;  /* of the store read, or -1 */

    unsigned                   consent:1;   /* fingerprint consent given */
    unsigned                   profile_found:1;
} ngx_http_personalize_visitor_t;


/* ngx_http_personalize_module.c: identity and profile of the request */

ngx_http_personalize_visitor_t *ngx_http_personalize_visitor(
    ngx_http_request_t *r);

/* a profile field of the request's visitor: NGX_OK, or NGX_DECLINED when
 * there is no profile or no such field */
ngx_int_t ngx_http_personalize_field(ngx_http_request_t *r, u_char *name,
    size_t len, pz_field_t *f);

/* a catalog item copied into r->pool: NGX_OK, NGX_DECLINED if unknown */
ngx_int_t ngx_http_personalize_catalog(ngx_http_request_t *r, u_char *id,
    size_t len, u_char **rec, size_t *rec_len);


/* ngx_http_personalize_rules.c: what this request gets */

typedef struct {
    ngx_str_t                  slot;        /* slot name */
    ngx_str_t                  rule;        /* winning rule, or empty */
    ngx_str_t                  content;     /* rendered block; if .data is
                                               NULL the default stays */
} ngx_http_personalize_slot_decision_t;

typedef struct {
    ngx_str_t                  input;       /* <input name="..."> */
    ngx_str_t                  rule;
    ngx_str_t                  value;       /* raw; the filter escapes it */
    ngx_uint_t                 overwrite;   /* also when not empty */
} ngx_http_personalize_prefill_t;

typedef struct {
    ngx_array_t                slots;       /* ..._slot_decision_t */
    ngx_array_t                prefills;    /* ..._prefill_t */
    ngx_str_t                  prompts;     /* rendered prompts, or empty */
    ngx_uint_t                 nprompts;
} ngx_http_personalize_decisions_t;

/* evaluated once per main request; NULL when the rules module has nothing
 * for this request or on failure (the page then keeps its defaults) */
ngx_http_personalize_decisions_t *ngx_http_personalize_decide(
    ngx_http_request_t *r);

ngx_http_personalize_slot_decision_t *ngx_http_personalize_slot_find(
    ngx_http_personalize_decisions_t *d, u_char *name, size_t len);

ngx_http_personalize_prefill_t *ngx_http_personalize_prefill_find(
    ngx_http_personalize_decisions_t *d, u_char *name, size_t len);


#endif /* NGX_HTTP_PERSONALIZE_H_INCLUDED_ */
