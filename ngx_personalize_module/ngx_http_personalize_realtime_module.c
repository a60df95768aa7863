/*
 * ngx_http_personalize_realtime_module: sense and respond in real time.
 * Work in progress: the exported functions exist so that the other modules
 * link against them.
 */

#include "ngx_http_personalize.h"


static ngx_http_module_t  ngx_http_personalize_realtime_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_personalize_realtime_module = {
    NGX_MODULE_V1,
    &ngx_http_personalize_realtime_module_ctx,  /* module context */
    NULL,                                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


ngx_int_t
ngx_http_personalize_counter(ngx_http_request_t *r, u_char *name, size_t len,
    int64_t *value)
{
    return NGX_DECLINED;
}


ngx_int_t
ngx_http_personalize_recent(ngx_http_request_t *r, u_char *name, size_t len,
    ngx_array_t **values)
{
    return NGX_DECLINED;
}


ngx_uint_t
ngx_http_personalize_cap_allows(ngx_http_request_t *r, u_char *rule,
    size_t len)
{
    return 1;
}


void
ngx_http_personalize_cap_record(ngx_http_request_t *r, u_char *rule,
    size_t len)
{
}


void
ngx_http_personalize_count_error(ngx_http_request_t *r, char *kind)
{
}


ngx_http_personalize_preview_t *
ngx_http_personalize_preview(ngx_http_request_t *r)
{
    return NULL;
}


ngx_uint_t
ngx_http_personalize_tracing(ngx_http_request_t *r)
{
    return 0;
}


void
ngx_http_personalize_trace(ngx_http_request_t *r, ngx_str_t *slot,
    ngx_str_t *rule, ngx_uint_t matched, ngx_str_t *why)
{
}
