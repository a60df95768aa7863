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

/*
 * The ctx of a module for r->main, created zeroed on first use; it
 * survives internal redirects: one request, one visitor, one decision.
 */
void *ngx_http_personalize_main_ctx(ngx_http_request_t *r,
    ngx_module_t *module, size_t size);

/* adds a module's variables, a list ended by ngx_http_null_variable */
ngx_int_t ngx_http_personalize_register_variables(ngx_conf_t *cf,
    ngx_http_variable_t *vars);

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


/*
 * ngx_http_personalize_realtime_module.c: per-visitor counters and recent
 * values in a shared-memory zone, frequency caps, metrics, preview, trace.
 * All of these are safe to call when no zone is configured.
 */

/* the value of a counter declared with personalize_event, as counted by
 * the visitor's earlier requests: NGX_OK (0 when the visitor has none yet),
 * NGX_DECLINED when there is no zone, no visitor key or no such event */
ngx_int_t ngx_http_personalize_counter(ngx_http_request_t *r, u_char *name,
    size_t len, int64_t *value);

/* the recent values of a personalize_event with push=, most recent first,
 * copied into r->pool as an array of ngx_str_t: NGX_OK or NGX_DECLINED */
ngx_int_t ngx_http_personalize_recent(ngx_http_request_t *r, u_char *name,
    size_t len, ngx_array_t **values);

/* at configuration time, once the http block is parsed (init main conf,
 * postconfiguration): NGX_OK if personalize_event declares the event NAME
 * (with recent set: with push=), else NGX_DECLINED; lets "when counter"
 * with an unknown name be an nginx -t error */
ngx_int_t ngx_http_personalize_event_declared(ngx_conf_t *cf,
    ngx_str_t *name, ngx_uint_t recent);

/* at configuration time, from the rules module's init main conf: every
 * personalize_cap must name a rule; rules points to the name of the first
 * rule, the next one lies stride bytes further (an array of structs that
 * hold an ngx_str_t name).  NGX_ERROR, logged with the cap's file and line,
 * for an unknown rule */
ngx_int_t ngx_http_personalize_caps_check(ngx_conf_t *cf, ngx_str_t *rules,
    size_t stride, ngx_uint_t nrules);

/* frequency caps (personalize_cap RULE N PERIOD): call cap_allows() before
 * a rule may win (1: yes, 0: capped; 1 for a rule without a cap) and
 * cap_record() when it has won; preview requests record nothing */
ngx_uint_t ngx_http_personalize_cap_allows(ngx_http_request_t *r,
    u_char *rule, size_t len);
void ngx_http_personalize_cap_record(ngx_http_request_t *r, u_char *rule,
    size_t len);

/* metrics: an error of the given kind ("store", "template", ...) */
void ngx_http_personalize_count_error(ngx_http_request_t *r, char *kind);

/* preview: a request with a valid preview token sees the site as a given
 * profile id, set of segments or experiment variants */
typedef struct {
    ngx_str_t                  experiment;
    ngx_str_t                  variant;
} ngx_http_personalize_forced_variant_t;

typedef struct {
    ngx_str_t                  profile_id;  /* view as this id, or empty */
    ngx_array_t               *segments;    /* ngx_str_t, replace the
                                               profile's; or NULL */
    ngx_array_t               *variants;    /* ..._forced_variant_t,
                                               or NULL */
    time_t                     expires;
} ngx_http_personalize_preview_t;

/* NULL unless the request carries a valid, unexpired preview token */
ngx_http_personalize_preview_t *ngx_http_personalize_preview(
    ngx_http_request_t *r);

/* trace: 1 when a trace is collected (preview request, or debug log);
 * the rules module then reports every rule it considers.  The rules
 * module asks once per decision, before it considers the rules: the
 * realtime module counts the decisions of such requests in its metrics */
ngx_uint_t ngx_http_personalize_tracing(ngx_http_request_t *r);
void ngx_http_personalize_trace(ngx_http_request_t *r, ngx_str_t *slot,
    ngx_str_t *rule, ngx_uint_t matched, ngx_str_t *why);


#endif /* NGX_HTTP_PERSONALIZE_H_INCLUDED_ */
