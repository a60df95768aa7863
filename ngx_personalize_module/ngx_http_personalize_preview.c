/*
 * ngx_http_personalize_realtime_module: preview and decision trace.
 *
 * A content editor sends a preview token (query argument or cookie
 * "pz_preview"), signed with a key from personalize_preview_key: a signed
 * id (ngx_personalize_sign.h) whose id is a preview payload
 * (ngx_personalize_preview.h).  Such a request sees the site as a given
 * profile id, set of segments or experiment variants; it is left out of
 * every count and cap, its response gets "Cache-Control: no-store" and an
 * X-Personalize-Trace header.  Without a valid token none of this is
 * reachable: a forged, expired or malformed token is ignored.
 *
 * The trace lists each rule that the rules module considered, whether it
 * matched and why, then the decisions; for any request it also goes to
 * the debug log.
 */

#include "ngx_http_personalize_realtime.h"
#include "ngx_http_personalize_core.h"
#include "ngx_personalize_sign.h"
#include "ngx_personalize_preview.h"


#define NGX_HTTP_PZ_TRACE_MAX      4096    /* bytes of the trace header */


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


static ngx_int_t ngx_http_pz_preview_token(ngx_http_request_t *r,
    ngx_http_pz_rt_main_conf_t *rmcf, ngx_str_t *token);
static ngx_http_personalize_preview_t *ngx_http_pz_preview_make(
    ngx_http_request_t *r, pz_preview_t *pp, int64_t expires);
static ngx_int_t ngx_http_pz_preview_header_filter(ngx_http_request_t *r);
static u_char *ngx_http_pz_trace_cpy(u_char *p, u_char *last, ngx_str_t *s);
static ngx_str_t *ngx_http_pz_trace_text(ngx_http_request_t *r,
    ngx_http_pz_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pz_var_lookup(ngx_http_request_t *r,
    ngx_int_t index, ngx_str_t *s);


static ngx_str_t  ngx_http_pz_preview_arg = ngx_string("arg_pz_preview");
static ngx_str_t  ngx_http_pz_preview_cookie =
    ngx_string("cookie_pz_preview");


/* personalize_preview_key FILE; repeatable: the first ones are for
 * signing, all of them verify (rotation) */

char *
ngx_http_pz_preview_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_pz_rt_main_conf_t *rmcf = conf;

    ngx_str_t   *value;
    pz_bytes_t  *key;

    value = cf->args->elts;

    if (rmcf->preview_keys == NULL) {
        rmcf->preview_keys = ngx_array_create(cf->pool, 2,
                                              sizeof(pz_bytes_t));
        if (rmcf->preview_keys == NULL) {
            return NGX_CONF_ERROR;
        }

        rmcf->preview_file = cf->conf_file->file.name;
        rmcf->preview_line = cf->conf_file->line;
    }

    key = ngx_array_push(rmcf->preview_keys);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_personalize_read_key(cf, &value[1], "preview key", key)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_pz_preview_init(ngx_conf_t *cf, ngx_http_pz_rt_main_conf_t *rmcf)
{
    ngx_uint_t                         i, k;
    pz_bytes_t                        *pk, *vk;
    ngx_http_personalize_main_conf_t  *pmcf;

    rmcf->var_preview_arg = NGX_ERROR;
    rmcf->var_preview_cookie = NGX_ERROR;

    /* the header filter also writes the debug trace of any request */
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_pz_preview_header_filter;

    if (rmcf->preview_keys == NULL) {
        return NGX_OK;
    }

    /* a visitor's signed cookie must never open a preview */

    pmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_personalize_module);

    if (pmcf != NULL && pmcf->keys != NULL) {
        pk = rmcf->preview_keys->elts;
        vk = pmcf->keys->elts;

        for (i = 0; i < rmcf->preview_keys->nelts; i++) {
            for (k = 0; k < pmcf->keys->nelts; k++) {
                if (pk[i].len == vk[k].len
                    && ngx_memcmp(pk[i].data, vk[k].data, pk[i].len) == 0)
                {
                    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                                  "a personalize_preview_key is also a "
                                  "personalize_key: preview needs a key "
                                  "of its own in %V:%ui",
                                  &rmcf->preview_file, rmcf->preview_line);
                    return NGX_ERROR;
                }
            }
        }
    }

    rmcf->var_preview_arg = ngx_http_get_variable_index(cf,
                                                    &ngx_http_pz_preview_arg);
    rmcf->var_preview_cookie = ngx_http_get_variable_index(cf,
                                                 &ngx_http_pz_preview_cookie);

    if (rmcf->var_preview_arg == NGX_ERROR
        || rmcf->var_preview_cookie == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_pz_var_lookup(ngx_http_request_t *r, ngx_int_t index, ngx_str_t *s)
{
    ngx_http_variable_value_t  *vv;

    if (index == NGX_ERROR) {
        return NGX_DECLINED;
    }

    vv = ngx_http_get_indexed_variable(r, index);

    if (vv == NULL || vv->not_found || vv->len == 0) {
        return NGX_DECLINED;
    }

    s->data = vv->data;
    s->len = vv->len;

    return NGX_OK;
}


/* the token from the query argument, else the cookie, unescaped */

static ngx_int_t
ngx_http_pz_preview_token(ngx_http_request_t *r,
    ngx_http_pz_rt_main_conf_t *rmcf, ngx_str_t *token)
{
    u_char     *dst, *src;
    ngx_str_t   s;

    if (ngx_http_pz_var_lookup(r, rmcf->var_preview_arg, &s) != NGX_OK
        && ngx_http_pz_var_lookup(r, rmcf->var_preview_cookie, &s) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (s.len > PZ_SIGNED_MAX * 3) {
        return NGX_DECLINED;
    }

    dst = ngx_pnalloc(r->pool, s.len);
    if (dst == NULL) {
        return NGX_DECLINED;
    }

    token->data = dst;
    src = s.data;

    ngx_unescape_uri(&dst, &src, s.len, NGX_UNESCAPE_URI);

    token->len = dst - token->data;

    return NGX_OK;
}


static ngx_http_personalize_preview_t *
ngx_http_pz_preview_make(ngx_http_request_t *r, pz_preview_t *pp,
    int64_t expires)
{
    ngx_str_t                              *seg;
    ngx_uint_t                              i;
    ngx_http_personalize_preview_t         *pv;
    ngx_http_personalize_forced_variant_t  *fv;

    pv = ngx_pcalloc(r->pool, sizeof(ngx_http_personalize_preview_t));
    if (pv == NULL) {
        return NULL;
    }

    /* the payload lives in r->pool (the unescaped token) */

    pv->profile_id.data = (u_char *) pp->profile_id.data;
    pv->profile_id.len = pp->profile_id.len;
    pv->expires = (time_t) expires;

    if (pp->has_segments) {
        pv->segments = ngx_array_create(r->pool, pp->nsegments + 1,
                                        sizeof(ngx_str_t));
        if (pv->segments == NULL) {
            return NULL;
        }

        for (i = 0; i < pp->nsegments; i++) {
            seg = ngx_array_push(pv->segments);
            if (seg == NULL) {
                return NULL;
            }

            seg->data = (u_char *) pp->segments[i].data;
            seg->len = pp->segments[i].len;
        }
    }

    if (pp->nvariants) {
        pv->variants = ngx_array_create(r->pool, pp->nvariants,
                                sizeof(ngx_http_personalize_forced_variant_t));
        if (pv->variants == NULL) {
            return NULL;
        }

        for (i = 0; i < pp->nvariants; i++) {
            fv = ngx_array_push(pv->variants);
            if (fv == NULL) {
                return NULL;
            }

            fv->experiment.data = (u_char *) pp->experiments[i].data;
            fv->experiment.len = pp->experiments[i].len;
            fv->variant.data = (u_char *) pp->variants[i].data;
            fv->variant.len = pp->variants[i].len;
        }
    }

    return pv;
}


ngx_http_personalize_preview_t *
ngx_http_personalize_preview(ngx_http_request_t *r)
{
    int                          rc;
    int64_t                      expires;
    ngx_str_t                    token, reason;
    pz_bytes_t                   id;
    pz_preview_t                 pp;
    ngx_http_pz_rt_ctx_t        *ctx;
    ngx_http_pz_rt_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r,
                                         ngx_http_personalize_realtime_module);
    if (rmcf == NULL || rmcf->preview_keys == NULL) {
        return NULL;
    }

    ctx = ngx_http_pz_rt_get_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }

    if (ctx->preview_done) {
        return ctx->preview;
    }

    ctx->preview_done = 1;

    if (ngx_http_pz_preview_token(r->main, rmcf, &token) != NGX_OK) {
        return NULL;
    }

    rc = pz_verify(rmcf->preview_keys->elts, rmcf->preview_keys->nelts,
                   token.data, token.len, (int64_t) ngx_time(), &id,
                   &expires);

    if (rc != PZ_SIGN_OK) {
        /* a client's doing: never an error page */
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "personalize preview token ignored: %s",
                      pz_sign_strerror(rc));

        ngx_str_set(&reason, "malformed");

        if (rc == PZ_SIGN_EXPIRED) {
            ngx_str_set(&reason, "expired");

        } else if (rc == PZ_SIGN_FORGED) {
            ngx_str_set(&reason, "forged");
        }

        ngx_http_pz_metric(r, "personalize_preview_rejected_total", "reason",
                           &reason, NULL, NULL, 1);
        return NULL;
    }

    if (pz_preview_parse(id.data, id.len, &pp) != 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "personalize preview token ignored: "
                      "not a preview payload");

        ngx_str_set(&reason, "payload");
        ngx_http_pz_metric(r, "personalize_preview_rejected_total", "reason",
                           &reason, NULL, NULL, 1);
        return NULL;
    }

    ctx->preview = ngx_http_pz_preview_make(r->main, &pp, expires);

    if (ctx->preview != NULL) {
        ctx->payload.data = (u_char *) id.data;
        ctx->payload.len = id.len;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "personalize preview \"%*s\"", id.len, id.data);

    return ctx->preview;
}


/* $personalize_preview: the payload of a valid preview token */

ngx_int_t
ngx_http_pz_preview_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_pz_rt_ctx_t  *ctx;

    if (ngx_http_personalize_preview(r) == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    ctx = ngx_http_pz_rt_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    v->data = ctx->payload.data;
    v->len = ctx->payload.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


ngx_uint_t
ngx_http_personalize_tracing(ngx_http_request_t *r)
{
    ngx_http_pz_rt_ctx_t  *ctx;

    /* asked once per decision: the metrics count this request's */

    ctx = ngx_http_pz_rt_get_ctx(r);

    if (ctx != NULL) {
        ctx->decided = 1;
    }

#if (NGX_DEBUG)
    if (r->connection->log->log_level & NGX_LOG_DEBUG_HTTP) {
        return 1;
    }
#endif

    return ngx_http_personalize_preview(r) != NULL;
}


void
ngx_http_personalize_trace(ngx_http_request_t *r, ngx_str_t *slot,
    ngx_str_t *rule, ngx_uint_t matched, ngx_str_t *why)
{
    ngx_http_pz_trace_t   *t;
    ngx_http_pz_rt_ctx_t  *ctx;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "personalize trace: rule \"%V\" in \"%V\": %s (%V)",
                   rule, slot, matched ? "matched" : "no match",
                   why ? why : rule);

    if (ngx_http_personalize_preview(r) == NULL) {
        return;
    }

    ctx = ngx_http_pz_rt_get_ctx(r);
    if (ctx == NULL) {
        return;
    }

    if (ctx->trace == NULL) {
        ctx->trace = ngx_array_create(r->main->pool, 8,
                                      sizeof(ngx_http_pz_trace_t));
        if (ctx->trace == NULL) {
            return;
        }
    }

    t = ngx_array_push(ctx->trace);
    if (t == NULL) {
        return;
    }

    ngx_memzero(t, sizeof(ngx_http_pz_trace_t));

    if (slot) {
        t->slot = *slot;
    }

    if (rule) {
        t->rule = *rule;
    }

    t->matched = matched;

    if (why && why->len) {
        t->why.data = ngx_pnalloc(r->main->pool, why->len);
        if (t->why.data != NULL) {
            t->why.len = why->len;
            ngx_memcpy(t->why.data, why->data, why->len);
        }
    }
}


/* a header value: no control bytes, no quotes inside the quoted parts */

static u_char *
ngx_http_pz_trace_cpy(u_char *p, u_char *last, ngx_str_t *s)
{
    size_t  i;

    for (i = 0; i < s->len && p < last; i++) {
        *p++ = (s->data[i] < 0x20 || s->data[i] >= 0x7f || s->data[i] == '"')
               ? '_' : s->data[i];
    }

    return p;
}


static ngx_str_t *
ngx_http_pz_trace_text(ngx_http_request_t *r, ngx_http_pz_rt_ctx_t *ctx)
{
    u_char                          *p, *last;
    ngx_str_t                       *text, s;
    ngx_uint_t                       i;
    ngx_http_pz_trace_t             *t;
    ngx_http_pz_rt_main_conf_t      *rmcf;
    ngx_http_personalize_visitor_t  *vis;

    text = ngx_palloc(r->pool, sizeof(ngx_str_t));
    if (text == NULL) {
        return NULL;
    }

    p = ngx_pnalloc(r->pool, NGX_HTTP_PZ_TRACE_MAX);
    if (p == NULL) {
        return NULL;
    }

    text->data = p;
    last = p + NGX_HTTP_PZ_TRACE_MAX - sizeof("...");

    vis = ngx_http_personalize_visitor(r);

    if (vis != NULL) {
        p = ngx_slprintf(p, last, "visitor=\"");
        p = ngx_http_pz_trace_cpy(p, last,
                                  vis->profile_id.len ? &vis->profile_id
                                                      : &vis->id);
        p = ngx_slprintf(p, last, "\" profile=%s generation=%L",
                         vis->profile_found ? "yes" : "no", vis->generation);
    }

    if (ctx->preview && ctx->preview->profile_id.len) {
        p = ngx_slprintf(p, last, " preview_id=\"");
        p = ngx_http_pz_trace_cpy(p, last, &ctx->preview->profile_id);
        p = ngx_slprintf(p, last, "\"");
    }

    if (ctx->trace) {
        t = ctx->trace->elts;

        for (i = 0; i < ctx->trace->nelts; i++) {
            p = ngx_slprintf(p, last, "; ");
            p = ngx_http_pz_trace_cpy(p, last, &t[i].slot);
            p = ngx_slprintf(p, last, "/");
            p = ngx_http_pz_trace_cpy(p, last, &t[i].rule);
            p = ngx_slprintf(p, last, " %s", t[i].matched ? "yes" : "no");

            if (t[i].why.len) {
                p = ngx_slprintf(p, last, " \"");
                p = ngx_http_pz_trace_cpy(p, last, &t[i].why);
                p = ngx_slprintf(p, last, "\"");
            }
        }
    }

    rmcf = ngx_http_get_module_main_conf(r,
                                         ngx_http_personalize_realtime_module);

    if (ngx_http_pz_var_lookup(r, rmcf->var_slots, &s) == NGX_OK) {
        p = ngx_slprintf(p, last, "; decisions ");
        p = ngx_http_pz_trace_cpy(p, last, &s);
    }

    if (p == last) {
        p = ngx_cpymem(p, "...", 3);
    }

    text->len = p - text->data;

    return text;
}


static ngx_int_t
ngx_http_pz_preview_header_filter(ngx_http_request_t *r)
{
    ngx_str_t             *text;
    ngx_uint_t             i;
    ngx_list_part_t       *part;
    ngx_table_elt_t       *h;
    ngx_http_pz_rt_ctx_t  *ctx;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_personalize_preview(r) == NULL) {

#if (NGX_DEBUG)
        ctx = ngx_http_get_module_ctx(r, ngx_http_personalize_realtime_module);

        if (ctx != NULL && ctx->decided
            && (r->connection->log->log_level & NGX_LOG_DEBUG_HTTP))
        {
            text = ngx_http_pz_trace_text(r, ctx);

            if (text != NULL) {
                ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "personalize trace: %V", text);
            }
        }
#endif

        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_pz_rt_get_ctx(r);
    if (ctx == NULL) {
        return ngx_http_next_header_filter(r);
    }

    /* a preview must not be stored by anyone: drop other Cache-Control */

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash && h[i].key.len == sizeof("Cache-Control") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Cache-Control",
                               sizeof("Cache-Control") - 1) == 0)
        {
            h[i].hash = 0;
        }
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-store");

    text = ngx_http_pz_trace_text(r, ctx);

    if (text != NULL) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "X-Personalize-Trace");
        h->value = *text;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "personalize trace: %V", text);
    }

    return ngx_http_next_header_filter(r);
}
