/*
 * ngx_http_personalize_module: the interface between its own files
 * (module: directives, variables; identity: who the visitor is; store:
 * the LMDB profile store).  The other modules use ngx_http_personalize.h.
 */

#ifndef NGX_HTTP_PERSONALIZE_CORE_H_INCLUDED_
#define NGX_HTTP_PERSONALIZE_CORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_personalize.h"
#include "ngx_personalize_sign.h"


#define NGX_HTTP_PERSONALIZE_STORE_CHECK     5          /* seconds */
#define NGX_HTTP_PERSONALIZE_POPULATE_SLICE  (4 << 20)  /* bytes a tick */
#define NGX_HTTP_PERSONALIZE_SIGN_TTL        (30 * 86400)
#define NGX_HTTP_PERSONALIZE_FP_LEN          22         /* base64url chars */


typedef struct ngx_http_personalize_store_s  ngx_http_personalize_store_t;


/* one "personalize_identity" */
typedef struct {
    ngx_uint_t                  source;     /* _SRC_LOGIN or _SRC_COOKIE */
    ngx_http_complex_value_t    value;
    ngx_uint_t                  sign;       /* "signed" */
    ngx_str_t                   file;       /* where it was declared */
    ngx_uint_t                  line;
} ngx_http_personalize_source_t;


/* "personalize_fingerprint" */
typedef struct {
    ngx_array_t                *headers;    /* ngx_str_t, lower case */
    ngx_http_complex_value_t   *consent;
    ngx_uint_t                  ipv4_prefix;
    ngx_uint_t                  ipv6_prefix;
    ngx_str_t                   file;
    ngx_uint_t                  line;
} ngx_http_personalize_fingerprint_t;


typedef struct {
    ngx_http_personalize_store_t        *store;     /* NULL: none */
    ngx_array_t                         *keys;      /* pz_bytes_t */
    pz_key_ctx_t                        *key_ctxs;  /* the keys prepared,
                                                       per worker, or NULL */
    time_t                               sign_ttl;
} ngx_http_personalize_main_conf_t;


typedef struct {
    ngx_array_t                         *sources;   /* ..._source_t */
    ngx_http_personalize_fingerprint_t  *fingerprint;
} ngx_http_personalize_loc_conf_t;


/* the ctx of r->main */
typedef struct {
    ngx_http_personalize_visitor_t       visitor;
    ngx_str_t                            signed_id;
    unsigned                             done:1;
    unsigned                             signed_done:1;
} ngx_http_personalize_ctx_t;


extern ngx_module_t  ngx_http_personalize_module;


/* ngx_http_personalize_identity.c */

char *ngx_http_personalize_identity_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_personalize_fingerprint_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_personalize_read_key(ngx_conf_t *cf, ngx_str_t *file,
    const char *what, pz_bytes_t *key);
char *ngx_http_personalize_key_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_personalize_identity_check(ngx_conf_t *cf,
    ngx_http_personalize_main_conf_t *pmcf,
    ngx_http_personalize_loc_conf_t *plcf);
void ngx_http_personalize_identify(ngx_http_request_t *r,
    ngx_http_personalize_visitor_t *v);
void ngx_http_personalize_keys_prepare(ngx_cycle_t *cycle,
    ngx_http_personalize_main_conf_t *pmcf);
void ngx_http_personalize_keys_release(
    ngx_http_personalize_main_conf_t *pmcf);


/* ngx_http_personalize_store.c */

char *ngx_http_personalize_store_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_personalize_store_open(ngx_cycle_t *cycle,
    ngx_http_personalize_store_t *st);
void ngx_http_personalize_store_close(ngx_http_personalize_store_t *st);
void ngx_http_personalize_store_lookup(ngx_http_request_t *r,
    ngx_http_personalize_store_t *st, ngx_http_personalize_visitor_t *v);
ngx_int_t ngx_http_personalize_store_catalog(ngx_http_request_t *r,
    ngx_http_personalize_store_t *st, u_char *id, size_t len, u_char **rec,
    size_t *rec_len);


#endif /* NGX_HTTP_PERSONALIZE_CORE_H_INCLUDED_ */
