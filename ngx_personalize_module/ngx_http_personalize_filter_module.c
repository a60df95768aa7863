/*
 * ngx_http_personalize_filter_module: the streaming HTML body filter.
 *
 * For a response it processes (personalize on, a configured type, a main
 * request with a body), the header filter asks the rules module for the
 * decisions once and adjusts the caching headers; the body filter runs
 * every buffer through the scanner (ngx_personalize_scan.c), which
 * removes the markers, replaces slot defaults, places the prompts and
 * prefills <input> values.  Nothing is buffered beyond a candidate tag
 * and the default of a slot being replaced.
 *
 * Bytes of the page pass on as buffers that point into the input
 * buffers (which are released, as in sub_filter, through b->shadow once
 * sent); bytes the scanner held are copied into a few buffers of our own
 * that are reused through free and busy lists.  The markup is described
 * in docs/markup.md.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_personalize.h"
#include "ngx_personalize_scan.h"
#include "ngx_personalize_escape.h"


/*
 * r->buffered has four bits and the stock filters use all of them; the
 * image filter's bit is safe here: it never handles a text type.
 */
#define NGX_HTTP_PERSONALIZE_BUFFERED    0x08

#define NGX_HTTP_PERSONALIZE_COPY_SIZE   4096
#define NGX_HTTP_PERSONALIZE_COPIES      16


typedef struct {
    ngx_flag_t                 enable;
    ngx_hash_t                 types;
    ngx_array_t               *types_keys;
    ngx_str_t                  cache_control;  /* len 0: off */
    size_t                     slot_size;
} ngx_http_personalize_filter_conf_t;


typedef struct {
    pz_scan_t                  scan;
    ngx_http_request_t        *request;
    ngx_http_personalize_decisions_t  *decisions;
    ngx_str_t                 *attrs;          /* ' value="..."' of each
                                                  prefill, made lazily */

    ngx_chain_t               *in;
    ngx_chain_t               *out;
    ngx_chain_t              **last_out;
    ngx_chain_t               *added;          /* the last link added */
    ngx_chain_t               *busy;
    ngx_chain_t               *free_copy;      /* buffers of our own */
    ngx_chain_t               *free_ref;       /* buffers without memory */
    ngx_chain_t               *copy;           /* the one being filled */
    ngx_uint_t                 copies;

    ngx_uint_t                 logged;         /* events logged, a bit each */
    unsigned                   done:1;
} ngx_http_personalize_filter_ctx_t;


#if (NGX_HTTP_GZIP)
static ngx_int_t ngx_http_personalize_gunzip_handler(ngx_http_request_t *r);
#endif
static ngx_int_t ngx_http_personalize_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_personalize_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_personalize_scan_buf(ngx_http_request_t *r,
    ngx_http_personalize_filter_ctx_t *ctx, ngx_buf_t *b);
static ngx_int_t ngx_http_personalize_output(ngx_http_request_t *r,
    ngx_http_personalize_filter_ctx_t *ctx);
static ngx_int_t ngx_http_personalize_set_cache_control(ngx_http_request_t *r,
    ngx_str_t *value);

static ngx_chain_t *ngx_http_personalize_get_copy(
    ngx_http_personalize_filter_ctx_t *ctx);
static ngx_chain_t *ngx_http_personalize_get_ref(
    ngx_http_personalize_filter_ctx_t *ctx);
static void ngx_http_personalize_close_copy(
    ngx_http_personalize_filter_ctx_t *ctx);
static void ngx_http_personalize_add(ngx_http_personalize_filter_ctx_t *ctx,
    ngx_chain_t *cl);

static int ngx_http_personalize_emit(void *data, const u_char *p, size_t len,
    int transient);
static int ngx_http_personalize_open(void *data, const u_char *name,
    size_t len);
static int ngx_http_personalize_replace(void *data, const u_char *name,
    size_t len, const u_char **p, size_t *plen);
static int ngx_http_personalize_input(void *data, const u_char *tag,
    size_t len, pz_scan_edit_t *edit);
static ngx_inline int ngx_http_personalize_tag_has(const u_char *tag,
    size_t len, ngx_str_t *name);
static int ngx_http_personalize_prompts(void *data, const u_char **p,
    size_t *plen);
static void ngx_http_personalize_event(void *data, int event,
    const u_char *name, size_t len);

static char *ngx_http_personalize_cache_control(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static void *ngx_http_personalize_filter_create_conf(ngx_conf_t *cf);
static char *ngx_http_personalize_filter_merge_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_personalize_filter_init(ngx_conf_t *cf);


static ngx_conf_num_bounds_t  ngx_http_personalize_slot_size_bounds = {
    ngx_conf_check_num_bounds, 256, 16 * 1024 * 1024
};


static ngx_command_t  ngx_http_personalize_filter_commands[] = {

    { ngx_string("personalize"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LIF_CONF
                        |NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_personalize_filter_conf_t, enable),
      NULL },

    { ngx_string("personalize_types"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_types_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_personalize_filter_conf_t, types_keys),
      &ngx_http_html_default_types[0] },

    { ngx_string("personalize_cache_control"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_personalize_cache_control,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_personalize_filter_conf_t, cache_control),
      NULL },

    { ngx_string("personalize_slot_buffer_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_personalize_filter_conf_t, slot_size),
      &ngx_http_personalize_slot_size_bounds },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_personalize_filter_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_personalize_filter_init,      /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_personalize_filter_create_conf,  /* create location conf */
    ngx_http_personalize_filter_merge_conf    /* merge location conf */
};


ngx_module_t  ngx_http_personalize_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_personalize_filter_module_ctx,  /* module context */
    ngx_http_personalize_filter_commands,  /* module directives */
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


static const pz_scan_handler_t  ngx_http_personalize_scan_handler = {
    ngx_http_personalize_emit,
    ngx_http_personalize_open,
    ngx_http_personalize_replace,
    ngx_http_personalize_input,
    ngx_http_personalize_prompts,
    ngx_http_personalize_event
};


/* the formats of the scanner events that name a slot */
static const char  *ngx_http_personalize_events[] = {
    NULL,
    "personalize: marker \"%*s\" inside a slot, removed",
    "personalize: close marker \"%*s\" without open marker, removed",
    "personalize: slot \"%*s\" not closed, default kept",
    NULL,
    NULL,
    "personalize: default of slot \"%*s\" longer than "
        "personalize_slot_buffer_size, kept"
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


#if (NGX_HTTP_GZIP)

/*
 * The gunzip filter decompresses only for clients that do not accept
 * gzip, and it runs before this filter.  Where personalize is on, it is
 * told that this client does not accept gzip, so that an upstream's gzip
 * body reaches the scanner as HTML (with "gunzip on"); the header filter
 * below forgets that answer again, so that the gzip filter after us
 * compresses for the client that does accept it.
 */

static ngx_int_t
ngx_http_personalize_gunzip_handler(ngx_http_request_t *r)
{
    ngx_http_personalize_filter_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_http_personalize_filter_module);

    if (conf->enable && r == r->main) {
        r->gzip_tested = 1;
        r->gzip_ok = 0;
    }

    return NGX_DECLINED;
}

#endif


static ngx_int_t
ngx_http_personalize_header_filter(ngx_http_request_t *r)
{
    unsigned                             flags;
    u_char                              *tag;
    ngx_str_t                            cc;
    ngx_http_personalize_filter_ctx_t   *ctx;
    ngx_http_personalize_filter_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_http_personalize_filter_module);

#if (NGX_HTTP_GZIP)
    if (r->gzip_tested && !r->gzip_ok && r == r->main) {
        /*
         * See ngx_http_personalize_gunzip_handler(), which may have run in
         * another location before an internal redirect: the gzip filter
         * asks again.
         */
        r->gzip_tested = 0;
    }
#endif

    if (!conf->enable
        || r != r->main
        || r->header_only
        || r->method == NGX_HTTP_HEAD
        || r->headers_out.status < NGX_HTTP_OK
        || r->headers_out.status == NGX_HTTP_NO_CONTENT
        || r->headers_out.status == NGX_HTTP_PARTIAL_CONTENT
        || (r->headers_out.status >= NGX_HTTP_SPECIAL_RESPONSE
            && r->headers_out.status < NGX_HTTP_BAD_REQUEST)
        || r->headers_out.content_length_n == 0
        || (r->headers_out.content_encoding
            && r->headers_out.content_encoding->value.len)
        || ngx_http_test_content_type(r, &conf->types) == NULL)
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_personalize_filter_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    tag = ngx_pnalloc(r->pool, PZ_SCAN_TAG_MAX);
    if (tag == NULL) {
        return NGX_ERROR;
    }

    ctx->request = r;
    ctx->last_out = &ctx->out;

    /* NULL: nothing for this visitor; the markers still go */
    ctx->decisions = ngx_http_personalize_decide(r);

    flags = 0;

    if (ctx->decisions) {
        if (ctx->decisions->prefills.nelts) {
            flags |= PZ_SCAN_INPUTS;
        }

        if (ctx->decisions->prompts.len) {
            flags |= PZ_SCAN_PROMPTS;
        }
    }

    pz_scan_init(&ctx->scan, &ngx_http_personalize_scan_handler, ctx, flags,
                 tag, PZ_SCAN_TAG_MAX);

    ngx_http_set_ctx(r, ctx, ngx_http_personalize_filter_module);

    /*
     * The body changes, and may differ per visitor: no length, no
     * validators (a weak ETag would let a browser revalidate one visitor's
     * page into another state), no ranges, no shared caching.
     */

    ngx_http_clear_content_length(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);
    ngx_http_clear_accept_ranges(r);

    r->allow_ranges = 0;
    r->filter_need_in_memory = 1;

    cc = conf->cache_control;

    if (ngx_http_personalize_preview(r) != NULL) {
        ngx_str_set(&cc, "no-store");
    }

    if (cc.len) {
        if (ngx_http_personalize_set_cache_control(r, &cc) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_personalize_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                           rc;
    ngx_chain_t                        *cl;
    ngx_http_personalize_filter_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_personalize_filter_module);

    if (ctx == NULL
        || (in == NULL && ctx->in == NULL && ctx->busy == NULL))
    {
        return ngx_http_next_body_filter(r, in);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "personalize filter in:%p copies:%ui", in, ctx->copies);

    if (in) {
        if (ngx_chain_add_copy(r->pool, &ctx->in, in) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    for ( ;; ) {

        /*
         * When our own buffers are all on their way to the client, wait
         * until some come back, so that a slow client does not make us
         * copy the whole page into memory.
         */

        while (ctx->in
               && (ctx->free_copy
                   || ctx->copies < NGX_HTTP_PERSONALIZE_COPIES))
        {
            cl = ctx->in;
            ctx->in = cl->next;

            rc = ngx_http_personalize_scan_buf(r, ctx, cl->buf);

            ngx_free_chain(r->pool, cl);

            if (rc != NGX_OK) {
                return NGX_ERROR;
            }
        }

        rc = ngx_http_personalize_output(r, ctx);

        if (rc == NGX_ERROR || ctx->in == NULL) {
            return rc;
        }

        if (ctx->free_copy == NULL) {
            /* the client is slow: its write event calls again */
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "personalize filter waits for buffers");
            return rc;
        }
    }
}


static ngx_int_t
ngx_http_personalize_scan_buf(ngx_http_request_t *r,
    ngx_http_personalize_filter_ctx_t *ctx, ngx_buf_t *b)
{
    ngx_buf_t    *ob;
    ngx_chain_t  *cl;

    ctx->added = NULL;

    if (ctx->done) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "personalize: buffer after the last one");
        return NGX_ERROR;
    }

    if (ngx_buf_in_memory(b)) {
        if (b->pos < b->last
            && pz_scan_feed(&ctx->scan, b->pos, b->last - b->pos) != 0)
        {
            return NGX_ERROR;
        }

    } else if (ngx_buf_size(b)) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "personalize: buffer not in memory");
        return NGX_ERROR;
    }

    if (b->last_buf) {
        ctx->done = 1;

        if (pz_scan_finish(&ctx->scan) != 0) {
            return NGX_ERROR;
        }
    }

    ngx_http_personalize_close_copy(ctx);

    /*
     * The last buffer made of this one carries it as its shadow: it is
     * released (pos = last) when that buffer was sent, and carries its
     * flags on.
     */

    cl = ctx->added;

    if (cl == NULL) {
        cl = ngx_http_personalize_get_ref(ctx);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf->sync = 1;
        ngx_http_personalize_add(ctx, cl);
    }

    ob = cl->buf;
    ob->shadow = b;
    ob->recycled = b->recycled;
    ob->flush |= b->flush;
    ob->last_buf = b->last_buf;
    ob->last_in_chain = b->last_in_chain;

    return NGX_OK;
}


static ngx_int_t
ngx_http_personalize_output(ngx_http_request_t *r,
    ngx_http_personalize_filter_ctx_t *ctx)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    rc = ngx_http_next_body_filter(r, ctx->out);

    if (ctx->busy == NULL) {
        ctx->busy = ctx->out;

    } else {
        for (cl = ctx->busy; cl->next; cl = cl->next) { /* void */ }
        cl->next = ctx->out;
    }

    ctx->out = NULL;
    ctx->last_out = &ctx->out;

    while (ctx->busy) {

        cl = ctx->busy;
        b = cl->buf;

        if (ngx_buf_size(b) != 0) {
            break;
        }

        if (b->shadow) {
            b->shadow->pos = b->shadow->last;
        }

        ctx->busy = cl->next;

        if (b->start) {
            cl->next = ctx->free_copy;
            ctx->free_copy = cl;

        } else {
            cl->next = ctx->free_ref;
            ctx->free_ref = cl;
        }
    }

    if (ctx->in || pz_scan_holding(&ctx->scan)) {
        r->buffered |= NGX_HTTP_PERSONALIZE_BUFFERED;

    } else {
        r->buffered &= ~NGX_HTTP_PERSONALIZE_BUFFERED;
    }

    return rc;
}


static ngx_int_t
ngx_http_personalize_set_cache_control(ngx_http_request_t *r,
    ngx_str_t *value)
{
    ngx_table_elt_t   *cc;

#if (nginx_version >= 1023000)

    for (cc = r->headers_out.cache_control; cc; cc = cc->next) {
        cc->hash = 0;
    }

    r->headers_out.cache_control = NULL;

    cc = ngx_list_push(&r->headers_out.headers);
    if (cc == NULL) {
        return NGX_ERROR;
    }

    cc->next = NULL;
    r->headers_out.cache_control = cc;

#else

    ngx_uint_t         i;
    ngx_table_elt_t  **ccp;

    ccp = r->headers_out.cache_control.elts;

    if (ccp == NULL) {
        if (ngx_array_init(&r->headers_out.cache_control, r->pool, 1,
                           sizeof(ngx_table_elt_t *))
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    for (i = 0; i < r->headers_out.cache_control.nelts; i++) {
        ccp[i]->hash = 0;
    }

    r->headers_out.cache_control.nelts = 0;

    cc = ngx_list_push(&r->headers_out.headers);
    if (cc == NULL) {
        return NGX_ERROR;
    }

    ccp = ngx_array_push(&r->headers_out.cache_control);
    if (ccp == NULL) {
        return NGX_ERROR;
    }

    *ccp = cc;

#endif

    cc->hash = 1;
    ngx_str_set(&cc->key, "Cache-Control");
    cc->value = *value;

    return NGX_OK;
}


/* the scanner's callbacks */

static int
ngx_http_personalize_emit(void *data, const u_char *p, size_t len,
    int transient)
{
    ngx_http_personalize_filter_ctx_t *ctx = data;

    size_t        n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (transient) {

        /* the scanner reuses this memory: copy */

        while (len) {
            if (ctx->copy == NULL) {
                ctx->copy = ngx_http_personalize_get_copy(ctx);
                if (ctx->copy == NULL) {
                    return PZ_SCAN_ERROR;
                }
            }

            b = ctx->copy->buf;
            n = ngx_min(len, (size_t) (b->end - b->last));

            b->last = ngx_cpymem(b->last, p, n);
            p += n;
            len -= n;

            if (b->last == b->end) {
                ngx_http_personalize_close_copy(ctx);
            }
        }

        return 0;
    }

    /* the input buffer or the decisions: point to them */

    ngx_http_personalize_close_copy(ctx);

    cl = ngx_http_personalize_get_ref(ctx);
    if (cl == NULL) {
        return PZ_SCAN_ERROR;
    }

    b = cl->buf;
    b->memory = 1;
    b->pos = (u_char *) p;
    b->last = (u_char *) p + len;

    ngx_http_personalize_add(ctx, cl);

    return 0;
}


static int
ngx_http_personalize_open(void *data, const u_char *name, size_t len)
{
    ngx_http_personalize_filter_ctx_t *ctx = data;

    u_char                                *hold;
    ngx_http_request_t                    *r;
    ngx_http_personalize_filter_conf_t    *conf;
    ngx_http_personalize_slot_decision_t  *sd;

    if (ctx->decisions == NULL) {
        return PZ_SCAN_KEEP;
    }

    sd = ngx_http_personalize_slot_find(ctx->decisions, (u_char *) name, len);

    if (sd == NULL || sd->content.data == NULL) {
        return PZ_SCAN_KEEP;
    }

    if (ctx->scan.hold == NULL) {
        r = ctx->request;
        conf = ngx_http_get_module_loc_conf(r,
                                            ngx_http_personalize_filter_module);

        hold = ngx_pnalloc(r->pool, conf->slot_size);
        if (hold == NULL) {
            /* the default stays */
            return PZ_SCAN_KEEP;
        }

        pz_scan_set_hold(&ctx->scan, hold, conf->slot_size);
    }

    return PZ_SCAN_REPLACE;
}


static int
ngx_http_personalize_replace(void *data, const u_char *name, size_t len,
    const u_char **p, size_t *plen)
{
    ngx_http_personalize_filter_ctx_t *ctx = data;

    ngx_http_personalize_slot_decision_t  *sd;

    sd = ngx_http_personalize_slot_find(ctx->decisions, (u_char *) name, len);

    if (sd == NULL || sd->content.data == NULL) {
        return 0;
    }

    *p = sd->content.data;
    *plen = sd->content.len;

    return 1;
}


/*
 * 1 when the bytes of a tag hold a name.  memmem() costs more than the
 * short tags it searches: a name's first byte is rare in a tag, so
 * memchr() finds the few places to compare.
 */

static ngx_inline int
ngx_http_personalize_tag_has(const u_char *tag, size_t len, ngx_str_t *name)
{
    const u_char  *p, *last;

    if (name->len == 0 || name->len > len) {
        return 0;
    }

    p = tag;
    last = tag + len - name->len + 1;

    while (p < last) {
        p = memchr(p, name->data[0], last - p);

        if (p == NULL) {
            return 0;
        }

        if (ngx_memcmp(p + 1, name->data + 1, name->len - 1) == 0) {
            return 1;
        }

        p++;
    }

    return 0;
}


static int
ngx_http_personalize_input(void *data, const u_char *tag, size_t len,
    pz_scan_edit_t *edit)
{
    ngx_http_personalize_filter_ctx_t *ctx = data;

    u_char                          *q;
    size_t                           n;
    ngx_uint_t                       i;
    ngx_str_t                       *attr;
    pz_input_t                       in;
    ngx_http_request_t              *r;
    ngx_http_personalize_prefill_t  *pf;

    /*
     * A shop page has dozens of <input> tags and a prefill targets one or
     * two names: a tag whose bytes do not hold any of those names cannot
     * match, so it is not parsed attribute by attribute.
     */

    pf = ctx->decisions->prefills.elts;

    for (i = 0; i < ctx->decisions->prefills.nelts; i++) {
        if (ngx_http_personalize_tag_has(tag, len, &pf[i].input)) {
            break;
        }
    }

    if (i == ctx->decisions->prefills.nelts) {
        return 0;
    }

    if (pz_input_parse(tag, len, &in) != 0 || !in.has_name
        || in.name_len == 0)
    {
        return 0;
    }

    pf = ngx_http_personalize_prefill_find(ctx->decisions, (u_char *) in.name,
                                           in.name_len);

    if (pf == NULL || pf->value.len == 0) {
        return 0;
    }

    r = ctx->request;

    if (ctx->attrs == NULL) {
        ctx->attrs = ngx_pcalloc(r->pool, ctx->decisions->prefills.nelts
                                          * sizeof(ngx_str_t));
        if (ctx->attrs == NULL) {
            return 0;
        }
    }

    i = pf - (ngx_http_personalize_prefill_t *) ctx->decisions->prefills.elts;

    if (i >= ctx->decisions->prefills.nelts) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "personalize: prefill not in the decisions");
        return 0;
    }

    attr = &ctx->attrs[i];

    if (attr->data == NULL) {

        /* ' value="' escaped '"', once per request */

        n = pz_escape(PZ_CTX_ATTR, NULL, pf->value.data, pf->value.len);

        q = ngx_pnalloc(r->pool, n + sizeof(" value=\"\"") - 1);
        if (q == NULL) {
            return 0;
        }

        attr->data = q;
        q = ngx_cpymem(q, " value=\"", sizeof(" value=\"") - 1);
        q += pz_escape(PZ_CTX_ATTR, q, pf->value.data, pf->value.len);
        *q++ = '"';
        attr->len = q - attr->data;
    }

    return pz_input_edit(&in, pf->overwrite, attr->data, attr->len, edit);
}


static int
ngx_http_personalize_prompts(void *data, const u_char **p, size_t *plen)
{
    ngx_http_personalize_filter_ctx_t *ctx = data;

    if (ctx->decisions == NULL || ctx->decisions->prompts.len == 0) {
        return 0;
    }

    *p = ctx->decisions->prompts.data;
    *plen = ctx->decisions->prompts.len;

    return 1;
}


static void
ngx_http_personalize_event(void *data, int event, const u_char *name,
    size_t len)
{
    ngx_http_personalize_filter_ctx_t *ctx = data;

    ngx_log_t  *log;

    /* a content team's markup mistake: one line per kind and request */

    if (event <= 0 || event > PZ_SCAN_EV_LONG_SLOT
        || (ctx->logged & (1 << event)))
    {
        return;
    }

    ctx->logged |= 1 << event;
    log = ctx->request->connection->log;

    switch (event) {

    case PZ_SCAN_EV_LONG_MARKER:
        ngx_log_error(NGX_LOG_WARN, log, 0, "personalize: "
                      "marker longer than %d bytes or with a name longer "
                      "than %d bytes, passed through",
                      PZ_SCAN_MARKER_MAX, PZ_SCAN_NAME_MAX);
        break;

    case PZ_SCAN_EV_LONG_TAG:
        ngx_log_error(NGX_LOG_WARN, log, 0, "personalize: "
                      "<input> tag longer than %d bytes, passed through",
                      PZ_SCAN_TAG_MAX);
        break;

    default:
        ngx_log_error(NGX_LOG_WARN, log, 0, ngx_http_personalize_events[event],
                      len, name);
        break;
    }
}


/* buffers */

static ngx_chain_t *
ngx_http_personalize_get_copy(ngx_http_personalize_filter_ctx_t *ctx)
{
    u_char       *start, *end;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (ctx->free_copy) {
        cl = ctx->free_copy;
        ctx->free_copy = cl->next;

        b = cl->buf;
        start = b->start;
        end = b->end;

        ngx_memzero(b, sizeof(ngx_buf_t));

        b->start = start;
        b->end = end;

    } else {
        cl = ngx_alloc_chain_link(ctx->request->pool);
        if (cl == NULL) {
            return NULL;
        }

        b = ngx_create_temp_buf(ctx->request->pool,
                                NGX_HTTP_PERSONALIZE_COPY_SIZE);
        if (b == NULL) {
            return NULL;
        }

        cl->buf = b;
        ctx->copies++;
    }

    b->pos = b->start;
    b->last = b->start;
    b->temporary = 1;
    b->tag = (ngx_buf_tag_t) &ngx_http_personalize_filter_module;
    cl->next = NULL;

    return cl;
}


static ngx_chain_t *
ngx_http_personalize_get_ref(ngx_http_personalize_filter_ctx_t *ctx)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (ctx->free_ref) {
        cl = ctx->free_ref;
        ctx->free_ref = cl->next;
        b = cl->buf;
        ngx_memzero(b, sizeof(ngx_buf_t));

    } else {
        cl = ngx_alloc_chain_link(ctx->request->pool);
        if (cl == NULL) {
            return NULL;
        }

        b = ngx_calloc_buf(ctx->request->pool);
        if (b == NULL) {
            return NULL;
        }

        cl->buf = b;
    }

    b->tag = (ngx_buf_tag_t) &ngx_http_personalize_filter_module;
    cl->next = NULL;

    return cl;
}


/* the copy buffer being filled goes out, so that order is kept */

static void
ngx_http_personalize_close_copy(ngx_http_personalize_filter_ctx_t *ctx)
{
    ngx_chain_t  *cl;

    cl = ctx->copy;

    if (cl == NULL) {
        return;
    }

    ctx->copy = NULL;

    if (cl->buf->last == cl->buf->pos) {
        cl->next = ctx->free_copy;
        ctx->free_copy = cl;
        return;
    }

    ngx_http_personalize_add(ctx, cl);
}


static void
ngx_http_personalize_add(ngx_http_personalize_filter_ctx_t *ctx,
    ngx_chain_t *cl)
{
    cl->next = NULL;
    *ctx->last_out = cl;
    ctx->last_out = &cl->next;
    ctx->added = cl;
}


/* configuration */

static char *
ngx_http_personalize_cache_control(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_personalize_filter_conf_t *pcf = conf;

    ngx_str_t  *value;

    if (pcf->cache_control.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_set(&pcf->cache_control, "");
        return NGX_CONF_OK;
    }

    if (value[1].len == 0
        || ngx_strlchr(value[1].data, value[1].data + value[1].len, '\n')
        || ngx_strlchr(value[1].data, value[1].data + value[1].len, '\r'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid Cache-Control value \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    pcf->cache_control = value[1];

    return NGX_CONF_OK;
}


static void *
ngx_http_personalize_filter_create_conf(ngx_conf_t *cf)
{
    ngx_http_personalize_filter_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_personalize_filter_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->types = { NULL };
     *     conf->types_keys = NULL;
     *     conf->cache_control = { 0, NULL };
     */

    conf->enable = NGX_CONF_UNSET;
    conf->slot_size = NGX_CONF_UNSET_SIZE;

    return conf;
}


static char *
ngx_http_personalize_filter_merge_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_personalize_filter_conf_t *prev = parent;
    ngx_http_personalize_filter_conf_t *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_size_value(conf->slot_size, prev->slot_size, 32 * 1024);
    ngx_conf_merge_str_value(conf->cache_control, prev->cache_control,
                             "private");

    if (ngx_http_merge_types(cf, &conf->types_keys, &conf->types,
                             &prev->types_keys, &prev->types,
                             ngx_http_html_default_types)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_personalize_filter_init(ngx_conf_t *cf)
{
#if (NGX_HTTP_GZIP)
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_personalize_gunzip_handler;
#endif

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_personalize_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_personalize_body_filter;

    return NGX_OK;
}
