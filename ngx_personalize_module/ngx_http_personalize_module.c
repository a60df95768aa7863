/*
 * ngx_http_personalize_module: who the visitor is and what their profile
 * says, as variables and as functions for the rules and filter modules.
 *
 * The visitor of a main request is resolved once, lazily, on the first
 * use of a variable or of ngx_http_personalize_visitor(), into the ctx of
 * r->main.  Identity lives in ngx_http_personalize_identity.c, the LMDB
 * store in ngx_http_personalize_store.c.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_personalize_core.h"


/* which value a variable shows: its data */
enum {
    NGX_HTTP_PERSONALIZE_VAR_ID = 0,
    NGX_HTTP_PERSONALIZE_VAR_PROFILE_ID,
    NGX_HTTP_PERSONALIZE_VAR_SOURCE,
    NGX_HTTP_PERSONALIZE_VAR_PROFILE,
    NGX_HTTP_PERSONALIZE_VAR_SEGMENTS,
    NGX_HTTP_PERSONALIZE_VAR_GENERATION,
    NGX_HTTP_PERSONALIZE_VAR_BUILT,
    NGX_HTTP_PERSONALIZE_VAR_SIGNED_ID
};


static ngx_int_t ngx_http_personalize_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *vv, uintptr_t data);
static ngx_int_t ngx_http_personalize_field_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *vv, uintptr_t data);
static ngx_int_t ngx_http_personalize_field_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *vv, u_char *name, size_t len);
static ngx_int_t ngx_http_personalize_signed_id(ngx_http_request_t *r,
    ngx_http_personalize_ctx_t *ctx, ngx_str_t *out);
static ngx_http_personalize_ctx_t *ngx_http_personalize_get_ctx(
    ngx_http_request_t *r);
static void ngx_http_personalize_ctx_mark(void *data);

static ngx_int_t ngx_http_personalize_add_variables(ngx_conf_t *cf);
static void *ngx_http_personalize_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_personalize_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_personalize_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_personalize_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_personalize_init_process(ngx_cycle_t *cycle);
static void ngx_http_personalize_exit_process(ngx_cycle_t *cycle);


static char *ngx_http_personalize_check_ttl(ngx_conf_t *cf, void *post,
    void *data);


static ngx_conf_post_t  ngx_http_personalize_ttl_post = {
    ngx_http_personalize_check_ttl
};


static ngx_command_t  ngx_http_personalize_commands[] = {

    { ngx_string("personalize_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE123,
      ngx_http_personalize_store_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("personalize_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_personalize_key_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("personalize_sign_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_personalize_main_conf_t, sign_ttl),
      &ngx_http_personalize_ttl_post },

    { ngx_string("personalize_identity"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF
                        |NGX_CONF_TAKE123,
      ngx_http_personalize_identity_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("personalize_fingerprint"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF
                        |NGX_CONF_1MORE,
      ngx_http_personalize_fingerprint_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_personalize_module_ctx = {
    ngx_http_personalize_add_variables,    /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_personalize_create_main_conf, /* create main configuration */
    ngx_http_personalize_init_main_conf,   /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_personalize_create_loc_conf,  /* create location configuration */
    ngx_http_personalize_merge_loc_conf    /* merge location configuration */
};


ngx_module_t  ngx_http_personalize_module = {
    NGX_MODULE_V1,
    &ngx_http_personalize_module_ctx,      /* module context */
    ngx_http_personalize_commands,         /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_personalize_init_process,     /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_personalize_exit_process,     /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_personalize_vars[] = {

    { ngx_string("personalize_id"), NULL,
      ngx_http_personalize_variable,
      NGX_HTTP_PERSONALIZE_VAR_ID, 0, 0 },

    { ngx_string("personalize_profile_id"), NULL,
      ngx_http_personalize_variable,
      NGX_HTTP_PERSONALIZE_VAR_PROFILE_ID, 0, 0 },

    { ngx_string("personalize_id_source"), NULL,
      ngx_http_personalize_variable,
      NGX_HTTP_PERSONALIZE_VAR_SOURCE, 0, 0 },

    { ngx_string("personalize_profile"), NULL,
      ngx_http_personalize_variable,
      NGX_HTTP_PERSONALIZE_VAR_PROFILE, 0, 0 },

    { ngx_string("personalize_segments"), NULL,
      ngx_http_personalize_variable,
      NGX_HTTP_PERSONALIZE_VAR_SEGMENTS, 0, 0 },

    { ngx_string("personalize_store_generation"), NULL,
      ngx_http_personalize_variable,
      NGX_HTTP_PERSONALIZE_VAR_GENERATION, 0, 0 },

    { ngx_string("personalize_store_built"), NULL,
      ngx_http_personalize_variable,
      NGX_HTTP_PERSONALIZE_VAR_BUILT, 0, 0 },

    { ngx_string("personalize_signed_id"), NULL,
      ngx_http_personalize_variable,
      NGX_HTTP_PERSONALIZE_VAR_SIGNED_ID, 0, 0 },

    { ngx_string("personalize_field_"), NULL,
      ngx_http_personalize_field_variable,
      0, NGX_HTTP_VAR_PREFIX, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_personalize_sources[] = {
    ngx_string("none"),
    ngx_string("login"),
    ngx_string("cookie"),
    ngx_string("fingerprint")
};


ngx_http_personalize_visitor_t *
ngx_http_personalize_visitor(ngx_http_request_t *r)
{
    ngx_http_personalize_ctx_t  *ctx;

    ctx = ngx_http_personalize_get_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }

    return &ctx->visitor;
}


static ngx_http_personalize_ctx_t *
ngx_http_personalize_get_ctx(ngx_http_request_t *r)
{
    ngx_http_personalize_ctx_t        *ctx;
    ngx_http_personalize_preview_t    *pv;
    ngx_http_personalize_visitor_t    *v;
    ngx_http_personalize_main_conf_t  *pmcf;

    ctx = ngx_http_personalize_main_ctx(r, &ngx_http_personalize_module,
                                        sizeof(ngx_http_personalize_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    if (ctx->done) {
        return ctx;
    }

    /* before the work: an identity built from our own variables ends here */
    ctx->done = 1;

    v = &ctx->visitor;
    v->generation = -1;
    v->build_time = -1;

    ngx_http_personalize_identify(r->main, v);

    /* a content editor's preview token views the site as another profile */
    pv = ngx_http_personalize_preview(r->main);

    if (pv != NULL && pv->profile_id.len) {
        v->id = pv->profile_id;
        v->source = NGX_HTTP_PERSONALIZE_SRC_LOGIN;
    }

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_personalize_module);

    if (pmcf->store != NULL) {
        ngx_http_personalize_store_lookup(r->main, pmcf->store, v);
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "personalize visitor \"%V\" source:%ui profile \"%V\" "
                   "generation:%L", &v->id, v->source, &v->profile_id,
                   v->generation);

    return ctx;
}


/*
 * An internal redirect (try_files, error_page, named locations) clears all
 * module ctxs; the visitor and what was decided for it stay the same, so
 * each ctx is found again through a pool cleanup that marks it, as the
 * realip module does.
 */

typedef struct {
    ngx_module_t  *module;
    void          *ctx;
} ngx_http_personalize_mark_t;


void *
ngx_http_personalize_main_ctx(ngx_http_request_t *r, ngx_module_t *module,
    size_t size)
{
    void                         *ctx;
    ngx_pool_cleanup_t           *cln;
    ngx_http_personalize_mark_t  *mark;

    r = r->main;

    ctx = r->ctx[module->ctx_index];
    if (ctx != NULL) {
        return ctx;
    }

    if (r->internal || r->filter_finalize) {
        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler != ngx_http_personalize_ctx_mark) {
                continue;
            }

            mark = cln->data;

            if (mark->module == module) {
                r->ctx[module->ctx_index] = mark->ctx;
                return mark->ctx;
            }
        }
    }

    ctx = ngx_pcalloc(r->pool, size);
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_personalize_mark_t));
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_personalize_ctx_mark;

    mark = cln->data;
    mark->module = module;
    mark->ctx = ctx;

    r->ctx[module->ctx_index] = ctx;

    return ctx;
}


static void
ngx_http_personalize_ctx_mark(void *data)
{
    /* nothing to free: the ctx lives in the pool; this only marks it */
}


ngx_int_t
ngx_http_personalize_field(ngx_http_request_t *r, u_char *name, size_t len,
    pz_field_t *f)
{
    ngx_http_personalize_visitor_t  *v;

    v = ngx_http_personalize_visitor(r);

    if (v == NULL || v->record == NULL) {
        return NGX_DECLINED;
    }

    if (pz_record_find(v->record, v->record_len, (const char *) name, len, f)
        != PZ_OK)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_personalize_catalog(ngx_http_request_t *r, u_char *id, size_t len,
    u_char **rec, size_t *rec_len)
{
    ngx_http_personalize_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_personalize_module);

    if (pmcf->store == NULL) {
        return NGX_DECLINED;
    }

    return ngx_http_personalize_store_catalog(r, pmcf->store, id, len, rec,
                                              rec_len);
}


static ngx_int_t
ngx_http_personalize_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *vv, uintptr_t data)
{
    u_char                          *p;
    ngx_str_t                        s;
    ngx_http_personalize_ctx_t      *ctx;
    ngx_http_personalize_visitor_t  *v;

    ctx = ngx_http_personalize_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    v = &ctx->visitor;

    switch (data) {

    case NGX_HTTP_PERSONALIZE_VAR_ID:
        s = v->id;
        break;

    case NGX_HTTP_PERSONALIZE_VAR_PROFILE_ID:
        if (!v->profile_found) {
            goto not_found;
        }

        s = v->profile_id;
        break;

    case NGX_HTTP_PERSONALIZE_VAR_SOURCE:
        s = ngx_http_personalize_sources[v->source];
        break;

    case NGX_HTTP_PERSONALIZE_VAR_PROFILE:
        if (v->profile_found) {
            ngx_str_set(&s, "1");

        } else {
            ngx_str_set(&s, "0");
        }
        break;

    case NGX_HTTP_PERSONALIZE_VAR_SEGMENTS:
        return ngx_http_personalize_field_value(r, vv, (u_char *) "segments",
                                                sizeof("segments") - 1);

    case NGX_HTTP_PERSONALIZE_VAR_GENERATION:
        if (v->generation < 0) {
            goto not_found;
        }

        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        s.data = p;
        s.len = ngx_sprintf(p, "%L", v->generation) - p;
        break;

    case NGX_HTTP_PERSONALIZE_VAR_BUILT:
        if (v->build_time < 0) {
            goto not_found;
        }

        p = ngx_pnalloc(r->pool, PZ_TIME_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        s.data = p;
        s.len = pz_time_format(v->build_time, (char *) p);
        break;

    case NGX_HTTP_PERSONALIZE_VAR_SIGNED_ID:
        if (ngx_http_personalize_signed_id(r, ctx, &s) != NGX_OK) {
            goto not_found;
        }
        break;

    default:
        goto not_found;
    }

    if (s.len == 0) {
        goto not_found;
    }

    vv->len = s.len;
    vv->valid = 1;
    vv->no_cacheable = 0;
    vv->not_found = 0;
    vv->data = s.data;

    return NGX_OK;

not_found:

    vv->not_found = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_personalize_field_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *vv, uintptr_t data)
{
    ngx_str_t *name = (ngx_str_t *) data;

    size_t   prefix;

    prefix = sizeof("personalize_field_") - 1;

    if (name->len <= prefix) {
        vv->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_personalize_field_value(r, vv, name->data + prefix,
                                            name->len - prefix);
}


/* a field in its text form: lists joined with ",", decimals and times as
 * the record API writes them */

static ngx_int_t
ngx_http_personalize_field_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *vv, u_char *name, size_t len)
{
    u_char      *p;
    size_t       pos, n;
    pz_field_t   f;
    pz_bytes_t   item;

    if (ngx_http_personalize_field(r, name, len, &f) != NGX_OK) {
        vv->not_found = 1;
        return NGX_OK;
    }

    switch (f.type) {

    case PZ_T_STRING:
        p = (u_char *) f.value.data;
        n = f.value.len;
        break;

    case PZ_T_INT:
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        n = ngx_sprintf(p, "%L", pz_field_num(&f)) - p;
        break;

    case PZ_T_DECIMAL:
        p = ngx_pnalloc(r->pool, PZ_DECIMAL_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        n = pz_decimal_format(pz_field_num(&f), (char *) p);
        break;

    case PZ_T_TIME:
        p = ngx_pnalloc(r->pool, PZ_TIME_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        n = pz_time_format(pz_field_num(&f), (char *) p);
        break;

    case PZ_T_LIST:
        n = 0;
        pos = 0;

        while (pz_list_next(&f, &pos, &item)) {
            n += item.len + 1;
        }

        if (n == 0) {
            p = (u_char *) "";
            break;
        }

        p = ngx_pnalloc(r->pool, n);
        if (p == NULL) {
            return NGX_ERROR;
        }

        n = 0;
        pos = 0;

        while (pz_list_next(&f, &pos, &item)) {
            if (n) {
                p[n++] = ',';
            }

            ngx_memcpy(p + n, item.data, item.len);
            n += item.len;
        }

        break;

    default:
        vv->not_found = 1;
        return NGX_OK;
    }

    vv->len = n;
    vv->valid = 1;
    vv->no_cacheable = 0;
    vv->not_found = 0;
    vv->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_personalize_signed_id(ngx_http_request_t *r,
    ngx_http_personalize_ctx_t *ctx, ngx_str_t *out)
{
    int                                err;
    u_char                            *p;
    size_t                             n;
    ngx_http_personalize_main_conf_t  *pmcf;

    if (ctx->signed_done) {
        *out = ctx->signed_id;
        return out->len ? NGX_OK : NGX_DECLINED;
    }

    ctx->signed_done = 1;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_personalize_module);

    if (pmcf->keys == NULL || ctx->visitor.id.len == 0) {
        return NGX_DECLINED;
    }

    p = ngx_pnalloc(r->main->pool, PZ_SIGNED_MAX);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (pmcf->key_ctxs != NULL) {
        n = pz_sign_ctx(&pmcf->key_ctxs[0], ctx->visitor.id.data,
                        ctx->visitor.id.len,
                        (int64_t) (ngx_time() + pmcf->sign_ttl), (char *) p,
                        PZ_SIGNED_MAX, &err);

    } else {
        n = pz_sign(pmcf->keys->elts, ctx->visitor.id.data,
                    ctx->visitor.id.len,
                    (int64_t) (ngx_time() + pmcf->sign_ttl), (char *) p,
                    PZ_SIGNED_MAX, &err);
    }

    if (n == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "personalize: pz_sign() failed (%s)",
                      pz_sign_strerror(err));
        return NGX_DECLINED;
    }

    ctx->signed_id.data = p;
    ctx->signed_id.len = n;
    *out = ctx->signed_id;

    return NGX_OK;
}


static char *
ngx_http_personalize_check_ttl(ngx_conf_t *cf, void *post, void *data)
{
    time_t  *ttl = data;

    if (*ttl < 1 || *ttl > 10 * 365 * 86400) {
        return "must be between 1s and 3650d";
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_personalize_add_variables(ngx_conf_t *cf)
{
    return ngx_http_personalize_register_variables(cf,
                                                   ngx_http_personalize_vars);
}


ngx_int_t
ngx_http_personalize_register_variables(ngx_conf_t *cf,
    ngx_http_variable_t *vars)
{
    ngx_http_variable_t  *var, *v;

    for (v = vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_personalize_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_personalize_main_conf_t  *pmcf;

    pmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_personalize_main_conf_t));
    if (pmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     pmcf->store = NULL;
     *     pmcf->keys = NULL;
     */

    pmcf->sign_ttl = NGX_CONF_UNSET;

    return pmcf;
}


static char *
ngx_http_personalize_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_personalize_main_conf_t *pmcf = conf;

    ngx_conf_init_value(pmcf->sign_ttl, NGX_HTTP_PERSONALIZE_SIGN_TTL);

    return NGX_CONF_OK;
}


static void *
ngx_http_personalize_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_personalize_loc_conf_t  *plcf;

    plcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_personalize_loc_conf_t));
    if (plcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     plcf->sources = NULL;
     */

    plcf->fingerprint = NGX_CONF_UNSET_PTR;

    return plcf;
}


static char *
ngx_http_personalize_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_personalize_loc_conf_t *prev = parent;
    ngx_http_personalize_loc_conf_t *conf = child;

    ngx_http_personalize_main_conf_t  *pmcf;

    if (conf->sources == NULL) {
        conf->sources = prev->sources;
    }

    ngx_conf_merge_ptr_value(conf->fingerprint, prev->fingerprint, NULL);

    pmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_personalize_module);

    return ngx_http_personalize_identity_check(cf, pmcf, conf);
}


static ngx_int_t
ngx_http_personalize_init_process(ngx_cycle_t *cycle)
{
    ngx_http_personalize_main_conf_t  *pmcf;

    if (ngx_process == NGX_PROCESS_HELPER) {
        return NGX_OK;
    }

    pmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_personalize_module);

    if (pmcf == NULL) {
        return NGX_OK;
    }

    ngx_http_personalize_keys_prepare(cycle, pmcf);

    if (pmcf->store != NULL) {
        /* a store that cannot be opened yet is retried every interval */
        (void) ngx_http_personalize_store_open(cycle, pmcf->store);
    }

    return NGX_OK;
}


static void
ngx_http_personalize_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_personalize_main_conf_t  *pmcf;

    pmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_personalize_module);

    if (pmcf == NULL) {
        return;
    }

    ngx_http_personalize_keys_release(pmcf);

    if (pmcf->store != NULL) {
        ngx_http_personalize_store_close(pmcf->store);
    }
}
