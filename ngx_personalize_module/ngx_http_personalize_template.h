/*
 * ngx_personalize templates: block and prompt files and prefill values,
 * compiled at configuration time, rendered per request.  Used only by the
 * rules module (ngx_http_personalize_rules.c).
 */

#ifndef NGX_HTTP_PERSONALIZE_TEMPLATE_H_INCLUDED_
#define NGX_HTTP_PERSONALIZE_TEMPLATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_personalize_record.h"


typedef struct ngx_http_personalize_tpl_s  ngx_http_personalize_tpl_t;


/*
 * Compiles the template file at path (already a full name).  On error
 * returns NULL with *err set to "FILE:LINE: message" in cf->pool.
 */
ngx_http_personalize_tpl_t *ngx_http_personalize_tpl_file(ngx_conf_t *cf,
    ngx_str_t *path, ngx_str_t *err);

/*
 * Compiles an inline template of a prefill value: no markup, values are
 * not escaped here (the filter escapes the whole value for the attribute).
 */
ngx_http_personalize_tpl_t *ngx_http_personalize_tpl_inline(ngx_conf_t *cf,
    ngx_str_t *text, ngx_str_t *err);

/* once the http block is read: NGX_OK, or NGX_ERROR with *err set when
 * the template loops over an event that personalize_event does not keep */
ngx_int_t ngx_http_personalize_tpl_check(ngx_conf_t *cf,
    ngx_http_personalize_tpl_t *tpl, ngx_str_t *err);

/* NGX_OK with *out in r->pool, or NGX_ERROR (logged) */
ngx_int_t ngx_http_personalize_tpl_render(ngx_http_request_t *r,
    ngx_http_personalize_tpl_t *tpl, ngx_str_t *out);

/* a profile field as text into r->pool: numbers and times in their
 * canonical form ("12.5", "2026-11-23T10:00:00Z"), lists joined with ", " */
ngx_int_t ngx_http_personalize_field_text(ngx_http_request_t *r,
    pz_field_t *f, ngx_str_t *out);


#endif /* NGX_HTTP_PERSONALIZE_TEMPLATE_H_INCLUDED_ */
