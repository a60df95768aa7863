/*
 * ngx_personalize templates: compiled at configuration time into a list of
 * nodes (text, profile field, loop over a list field, loop item), each
 * placeholder with the escaping context of where it stands in the HTML
 * (ngx_personalize_escape.c); rendered per request into r->pool.
 *
 * Syntax, see docs/rules.md:
 *     {{field}}  {{field|"fallback"}}
 *     {{#each list limit=4}} {{.}} {{.name}} {{/each}}
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_personalize.h"
#include "ngx_http_personalize_template.h"
#include "ngx_personalize_escape.h"


#define NGX_HTTP_PERSONALIZE_TPL_MAX     (256 * 1024)
#define NGX_HTTP_PERSONALIZE_EACH_MAX    100


typedef enum {
    NGX_HTTP_PZ_NODE_TEXT = 0,
    NGX_HTTP_PZ_NODE_FIELD,
    NGX_HTTP_PZ_NODE_ITEM,
    NGX_HTTP_PZ_NODE_EACH
} ngx_http_personalize_node_e;


typedef struct {
    ngx_uint_t                   kind;      /* ngx_http_personalize_node_e */
    ngx_uint_t                   ctx;       /* pz_ctx_e */
    ngx_str_t                    text;      /* text, field or item field
                                               name ("" for {{.}}) */
    ngx_str_t                    fallback;
    ngx_uint_t                   limit;     /* each */
    ngx_uint_t                   catalog;   /* each: body uses the catalog */
    ngx_uint_t                   recent;    /* each: over recent values of
                                               the realtime module */
    ngx_array_t                 *body;      /* each: ..._node_t */
} ngx_http_personalize_node_t;


struct ngx_http_personalize_tpl_s {
    ngx_array_t                  nodes;     /* ngx_http_personalize_node_t */
    ngx_uint_t                   raw;
    ngx_str_t                    file;
    ngx_array_t                  recent;    /* ..._recent_t, checked once
                                               the http block is read */
};


typedef struct {
    ngx_str_t                    name;
    ngx_uint_t                   line;
} ngx_http_personalize_recent_t;


/* the compiler's state */
typedef struct {
    ngx_conf_t                  *cf;
    ngx_str_t                   *file;      /* NULL: inline */
    ngx_uint_t                   line;
    ngx_str_t                   *err;
    pz_html_t                    html;
    pz_html_t                    each_html;
    ngx_http_personalize_node_t *each;
    ngx_uint_t                   each_line;
    ngx_array_t                 *nodes;     /* where nodes go now */
    ngx_array_t                 *top;       /* the template's nodes */
    ngx_http_personalize_tpl_t  *tpl;
} ngx_http_personalize_tpl_cc_t;


/* the renderer's output */
typedef struct {
    ngx_http_request_t          *r;
    u_char                      *data;
    size_t                       len;
    size_t                       cap;
} ngx_http_personalize_buf_t;


static ngx_http_personalize_tpl_t *ngx_http_personalize_tpl_compile(
    ngx_conf_t *cf, ngx_str_t *text, ngx_str_t *file, ngx_str_t *err);
static ngx_int_t ngx_http_personalize_tpl_text(
    ngx_http_personalize_tpl_cc_t *cc, u_char *p, size_t len);
static ngx_int_t ngx_http_personalize_tpl_tag(
    ngx_http_personalize_tpl_cc_t *cc, u_char *p, size_t len);
static ngx_int_t ngx_http_personalize_tpl_each(
    ngx_http_personalize_tpl_cc_t *cc, u_char *p, u_char *last);
static u_char *ngx_http_personalize_tpl_name(u_char *p, u_char *last,
    ngx_str_t *name);
static ngx_int_t ngx_http_personalize_tpl_error(
    ngx_http_personalize_tpl_cc_t *cc, const char *fmt, ...);

static ngx_int_t ngx_http_personalize_tpl_run(ngx_http_personalize_buf_t *b,
    ngx_array_t *nodes, u_char *item, size_t item_len, u_char *rec,
    size_t rec_len);
static ngx_int_t ngx_http_personalize_tpl_loop(ngx_http_personalize_buf_t *b,
    ngx_http_personalize_node_t *node);
static ngx_int_t ngx_http_personalize_tpl_put(ngx_http_personalize_buf_t *b,
    ngx_uint_t ctx, u_char *p, size_t len);
static ngx_int_t ngx_http_personalize_buf_grow(ngx_http_personalize_buf_t *b,
    size_t n);


ngx_http_personalize_tpl_t *
ngx_http_personalize_tpl_file(ngx_conf_t *cf, ngx_str_t *path, ngx_str_t *err)
{
    ssize_t                      n;
    ngx_str_t                    text;
    ngx_file_t                   file;
    ngx_file_info_t              fi;
    ngx_http_personalize_tpl_t  *tpl;

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = *path;
    file.log = cf->log;

    file.fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        err->data = ngx_pnalloc(cf->pool, path->len + 64);
        if (err->data == NULL) {
            return NULL;
        }

        err->len = ngx_sprintf(err->data, "template \"%V\" cannot be read "
                               "(%s)", path, strerror(ngx_errno))
                   - err->data;
        return NULL;
    }

    tpl = NULL;

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR) {
        ngx_str_set(err, "template cannot be read: fstat() failed");
        goto done;
    }

    if (ngx_file_size(&fi) > NGX_HTTP_PERSONALIZE_TPL_MAX) {
        ngx_str_set(err, "template is larger than 256k");
        goto done;
    }

    text.len = (size_t) ngx_file_size(&fi);
    text.data = ngx_pnalloc(cf->pool, text.len + 1);
    if (text.data == NULL) {
        goto done;
    }

    n = ngx_read_file(&file, text.data, text.len, 0);

    if (n == NGX_ERROR || (size_t) n != text.len) {
        ngx_str_set(err, "template cannot be read: read() failed");
        goto done;
    }

    tpl = ngx_http_personalize_tpl_compile(cf, &text, path, err);

done:

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", path);
    }

    return tpl;
}


ngx_http_personalize_tpl_t *
ngx_http_personalize_tpl_inline(ngx_conf_t *cf, ngx_str_t *text,
    ngx_str_t *err)
{
    return ngx_http_personalize_tpl_compile(cf, text, NULL, err);
}


static ngx_http_personalize_tpl_t *
ngx_http_personalize_tpl_compile(ngx_conf_t *cf, ngx_str_t *text,
    ngx_str_t *file, ngx_str_t *err)
{
    u_char                         *p, *last, *open, *close, *q;
    const char                     *msg;
    ngx_http_personalize_tpl_t     *tpl;
    ngx_http_personalize_tpl_cc_t   cc;

    tpl = ngx_pcalloc(cf->pool, sizeof(ngx_http_personalize_tpl_t));
    if (tpl == NULL) {
        return NULL;
    }

    if (ngx_array_init(&tpl->nodes, cf->pool, 8,
                       sizeof(ngx_http_personalize_node_t))
        != NGX_OK
        || ngx_array_init(&tpl->recent, cf->pool, 1,
                          sizeof(ngx_http_personalize_recent_t))
           != NGX_OK)
    {
        return NULL;
    }

    tpl->raw = (file == NULL);

    if (file) {
        tpl->file = *file;
    }

    ngx_memzero(&cc, sizeof(ngx_http_personalize_tpl_cc_t));
    cc.cf = cf;
    cc.file = file;
    cc.line = 1;
    cc.err = err;
    cc.nodes = &tpl->nodes;
    cc.top = &tpl->nodes;
    cc.tpl = tpl;
    pz_html_init(&cc.html);

    ngx_str_null(err);

    p = text->data;
    last = text->data + text->len;

    while (p < last) {
        open = ngx_strlcasestrn(p, last, (u_char *) "{{", 2 - 1);

        if (open == NULL) {
            open = last;
        }

        if (ngx_http_personalize_tpl_text(&cc, p, open - p) != NGX_OK) {
            return NULL;
        }

        if (open == last) {
            break;
        }

        /* the closing "}}", skipping a quoted fallback */

        close = NULL;

        for (q = open + 2; q + 1 < last; q++) {
            if (*q == '"') {
                for (q++; q < last && *q != '"'; q++) {
                    if (*q == '\\') {
                        q++;
                    }
                }

                if (q >= last) {
                    break;
                }

                continue;
            }

            if (*q == '\n') {
                break;
            }

            if (q[0] == '}' && q[1] == '}') {
                close = q;
                break;
            }
        }

        if (close == NULL) {
            (void) ngx_http_personalize_tpl_error(&cc,
                                      "\"{{\" is not closed with \"}}\" on "
                                      "the same line");
            return NULL;
        }

        if (ngx_http_personalize_tpl_tag(&cc, open + 2, close - open - 2)
            != NGX_OK)
        {
            return NULL;
        }

        p = close + 2;
    }

    if (cc.each) {
        cc.line = cc.each_line;
        (void) ngx_http_personalize_tpl_error(&cc, "\"{{#each %V}}\" is not "
                                              "closed with \"{{/each}}\"",
                                              &cc.each->text);
        return NULL;
    }

    if (file && pz_html_final(&cc.html, &msg) != 0) {
        (void) ngx_http_personalize_tpl_error(&cc, "%s", msg);
        return NULL;
    }

    return tpl;
}


static ngx_int_t
ngx_http_personalize_tpl_text(ngx_http_personalize_tpl_cc_t *cc, u_char *p,
    size_t len)
{
    size_t                        i;
    ngx_http_personalize_node_t  *node;

    if (len == 0) {
        return NGX_OK;
    }

    for (i = 0; i < len; i++) {
        if (p[i] == '\n') {
            cc->line++;
        }
    }

    if (cc->file) {
        pz_html_feed(&cc->html, p, len);
    }

    node = ngx_array_push(cc->nodes);
    if (node == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(node, sizeof(ngx_http_personalize_node_t));
    node->kind = NGX_HTTP_PZ_NODE_TEXT;
    node->text.data = p;
    node->text.len = len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_personalize_tpl_tag(ngx_http_personalize_tpl_cc_t *cc, u_char *p,
    size_t len)
{
    int                           ctx;
    u_char                       *last, *d;
    ngx_str_t                     name;
    ngx_uint_t                    item;
    const char                   *msg;
    ngx_http_personalize_node_t  *node;

    last = p + len;

    while (p < last && *p == ' ') {
        p++;
    }

    while (last > p && last[-1] == ' ') {
        last--;
    }

    if (last - p >= 5 && ngx_strncmp(p, "#each", 5) == 0) {
        return ngx_http_personalize_tpl_each(cc, p + 5, last);
    }

    if (last - p == 5 && ngx_strncmp(p, "/each", 5) == 0) {

        if (cc->each == NULL) {
            return ngx_http_personalize_tpl_error(cc, "\"{{/each}}\" without "
                                                  "\"{{#each ...}}\"");
        }

        if (cc->file && !pz_html_same(&cc->html, &cc->each_html)) {
            return ngx_http_personalize_tpl_error(cc, "a loop must end where "
                                   "it began in the HTML (both in text, or "
                                   "both inside the same attribute)");
        }

        cc->each = NULL;
        cc->nodes = cc->top;
        return NGX_OK;
    }

    item = 0;

    if (p < last && *p == '.') {
        if (cc->each == NULL) {
            return ngx_http_personalize_tpl_error(cc, "\"{{.}}\" and "
                                   "\"{{.name}}\" work only inside "
                                   "\"{{#each ...}}\"");
        }

        item = 1;
        p++;
    }

    p = ngx_http_personalize_tpl_name(p, last, &name);

    if (name.len == 0 && !item) {
        return ngx_http_personalize_tpl_error(cc, "a placeholder needs a "
                                   "field name: \"{{first_name}}\"");
    }

    node = ngx_array_push(cc->nodes);
    if (node == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(node, sizeof(ngx_http_personalize_node_t));
    node->kind = item ? NGX_HTTP_PZ_NODE_ITEM : NGX_HTTP_PZ_NODE_FIELD;
    node->text = name;

    if (item && name.len) {
        cc->each->catalog = 1;
    }

    while (p < last && *p == ' ') {
        p++;
    }

    if (p < last && *p == '|') {
        p++;

        while (p < last && *p == ' ') {
            p++;
        }

        if (p == last || *p != '"' || last - p < 2 || last[-1] != '"') {
            return ngx_http_personalize_tpl_error(cc, "a fallback is written "
                                   "in double quotes: "
                                   "\"{{first_name|\\\"there\\\"}}\"");
        }

        /* the fallback without its quotes and backslashes */

        node->fallback.data = ngx_pnalloc(cc->cf->pool, last - p);
        if (node->fallback.data == NULL) {
            return NGX_ERROR;
        }

        d = node->fallback.data;

        for (p++, last--; p < last; p++) {
            if (*p == '\\' && p + 1 < last) {
                p++;

            } else if (*p == '"') {
                return ngx_http_personalize_tpl_error(cc, "a quote inside a "
                                       "fallback is written \\\"");
            }

            *d++ = *p;
        }

        node->fallback.len = d - node->fallback.data;
        p = last + 1;
        last = p;
    }

    if (p != last) {
        return ngx_http_personalize_tpl_error(cc, "unexpected \"%*s\" in a "
                                              "placeholder",
                                              (size_t) (last - p), p);
    }

    if (cc->file == NULL) {
        node->ctx = PZ_CTX_RAW;
        return NGX_OK;
    }

    ctx = pz_html_context(&cc->html, &msg);

    if (ctx < 0) {
        return ngx_http_personalize_tpl_error(cc, "%s", msg);
    }

    node->ctx = ctx;
    pz_html_hole(&cc->html);

    return NGX_OK;
}


static ngx_int_t
ngx_http_personalize_tpl_each(ngx_http_personalize_tpl_cc_t *cc, u_char *p,
    u_char *last)
{
    ngx_int_t                       n;
    ngx_str_t                       name;
    ngx_uint_t                      recent;
    ngx_http_personalize_node_t    *node;
    ngx_http_personalize_recent_t  *rc;

    if (cc->each) {
        return ngx_http_personalize_tpl_error(cc, "loops cannot be nested");
    }

    if (p == last || *p != ' ') {
        return ngx_http_personalize_tpl_error(cc, "write \"{{#each LIST}}\" "
                                              "with the name of a list "
                                              "field");
    }

    while (p < last && *p == ' ') {
        p++;
    }

    recent = 0;

    if (last - p > 7 && ngx_strncmp(p, "recent:", 7) == 0) {
        recent = 1;
        p += 7;
    }

    p = ngx_http_personalize_tpl_name(p, last, &name);

    if (name.len == 0) {
        return ngx_http_personalize_tpl_error(cc, "write \"{{#each LIST}}\" "
                                              "with the name of a list "
                                              "field, or \"{{#each "
                                              "recent:EVENT}}\"");
    }

    node = ngx_array_push(cc->nodes);
    if (node == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(node, sizeof(ngx_http_personalize_node_t));
    node->kind = NGX_HTTP_PZ_NODE_EACH;
    node->text = name;
    node->recent = recent;
    node->limit = NGX_HTTP_PERSONALIZE_EACH_MAX;

    if (recent) {
        rc = ngx_array_push(&cc->tpl->recent);
        if (rc == NULL) {
            return NGX_ERROR;
        }

        rc->name = name;
        rc->line = cc->line;
    }

    while (p < last && *p == ' ') {
        p++;
    }

    if (p < last) {
        if (last - p < 7 || ngx_strncmp(p, "limit=", 6) != 0) {
            return ngx_http_personalize_tpl_error(cc, "unexpected \"%*s\"; "
                                                  "write \"limit=N\"",
                                                  (size_t) (last - p), p);
        }

        n = ngx_atoi(p + 6, last - p - 6);

        if (n <= 0 || n > NGX_HTTP_PERSONALIZE_EACH_MAX) {
            return ngx_http_personalize_tpl_error(cc, "the limit of a loop "
                                                  "must be a number from 1 "
                                                  "to 100");
        }

        node->limit = n;
    }

    node->body = ngx_array_create(cc->cf->pool, 8,
                                  sizeof(ngx_http_personalize_node_t));
    if (node->body == NULL) {
        return NGX_ERROR;
    }

    cc->each = node;
    cc->each_line = cc->line;
    cc->each_html = cc->html;
    cc->nodes = node->body;

    return NGX_OK;
}


static u_char *
ngx_http_personalize_tpl_name(u_char *p, u_char *last, ngx_str_t *name)
{
    name->data = p;

    while (p < last
           && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
               || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
    {
        p++;
    }

    name->len = p - name->data;

    if (name->len > PZ_NAME_MAX) {
        name->len = 0;
    }

    return p;
}


static ngx_int_t
ngx_http_personalize_tpl_error(ngx_http_personalize_tpl_cc_t *cc,
    const char *fmt, ...)
{
    u_char   *p, *last;
    va_list   args;

    p = ngx_pnalloc(cc->cf->pool, NGX_MAX_ERROR_STR);
    if (p == NULL) {
        return NGX_ERROR;
    }

    cc->err->data = p;
    last = p + NGX_MAX_ERROR_STR;

    if (cc->file) {
        p = ngx_slprintf(p, last, "template %V:%ui: ", cc->file, cc->line);

    } else {
        p = ngx_slprintf(p, last, "in the value: ");
    }

    va_start(args, fmt);
    p = ngx_vslprintf(p, last, fmt, args);
    va_end(args);

    cc->err->len = p - cc->err->data;

    return NGX_ERROR;
}


ngx_int_t
ngx_http_personalize_tpl_check(ngx_conf_t *cf, ngx_http_personalize_tpl_t *tpl,
    ngx_str_t *err)
{
    ngx_uint_t                      i;
    ngx_http_personalize_recent_t  *rc;

    rc = tpl->recent.elts;

    for (i = 0; i < tpl->recent.nelts; i++) {
        if (ngx_http_personalize_event_declared(cf, &rc[i].name, 1)
            == NGX_OK)
        {
            continue;
        }

        err->data = ngx_pnalloc(cf->pool, NGX_MAX_ERROR_STR);
        if (err->data == NULL) {
            return NGX_ERROR;
        }

        err->len = ngx_snprintf(err->data, NGX_MAX_ERROR_STR,
                                "template %V:%ui: unknown event \"%V\": "
                                "declare it with personalize_event %V "
                                "push=...", &tpl->file, rc[i].line,
                                &rc[i].name, &rc[i].name)
                   - err->data;

        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_personalize_tpl_render(ngx_http_request_t *r,
    ngx_http_personalize_tpl_t *tpl, ngx_str_t *out)
{
    ngx_http_personalize_buf_t  b;

    b.r = r;
    b.data = NULL;
    b.len = 0;
    b.cap = 0;

    if (ngx_http_personalize_tpl_run(&b, &tpl->nodes, NULL, 0, NULL, 0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* an empty block still replaces the default: it hides a banner */

    out->data = b.data ? b.data : (u_char *) "";
    out->len = b.len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_personalize_tpl_run(ngx_http_personalize_buf_t *b,
    ngx_array_t *nodes, u_char *item, size_t item_len, u_char *rec,
    size_t rec_len)
{
    ngx_int_t                     rc;
    ngx_str_t                     v;
    ngx_uint_t                    i;
    pz_field_t                    f;
    ngx_http_personalize_node_t  *node;

    node = nodes->elts;

    for (i = 0; i < nodes->nelts; i++) {

        switch (node[i].kind) {

        case NGX_HTTP_PZ_NODE_TEXT:
            rc = ngx_http_personalize_tpl_put(b, PZ_CTX_RAW,
                                              node[i].text.data,
                                              node[i].text.len);
            break;

        case NGX_HTTP_PZ_NODE_EACH:
            rc = ngx_http_personalize_tpl_loop(b, &node[i]);
            break;

        default:
            ngx_str_null(&v);

            if (node[i].kind == NGX_HTTP_PZ_NODE_ITEM
                && node[i].text.len == 0)
            {
                v.data = item;
                v.len = item_len;
                rc = NGX_OK;

            } else if (node[i].kind == NGX_HTTP_PZ_NODE_ITEM) {
                rc = (rec && pz_record_find(rec, rec_len,
                                            (char *) node[i].text.data,
                                            node[i].text.len, &f)
                             == PZ_OK)
                     ? NGX_OK : NGX_DECLINED;

                if (rc == NGX_OK) {
                    rc = ngx_http_personalize_field_text(b->r, &f, &v);
                }

            } else {
                rc = ngx_http_personalize_field(b->r, node[i].text.data,
                                                node[i].text.len, &f);

                if (rc == NGX_OK) {
                    rc = ngx_http_personalize_field_text(b->r, &f, &v);
                }
            }

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (v.len == 0) {
                v = node[i].fallback;
            }

            rc = ngx_http_personalize_tpl_put(b, node[i].ctx, v.data, v.len);
            break;
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_personalize_tpl_loop(ngx_http_personalize_buf_t *b,
    ngx_http_personalize_node_t *node)
{
    u_char       *rec;
    size_t        pos, rec_len;
    ngx_int_t     rc;
    ngx_str_t    *rv;
    ngx_uint_t    n;
    pz_field_t    f;
    pz_bytes_t    it;
    ngx_array_t  *recent;

    rv = NULL;
    recent = NULL;

    if (node->recent) {
        rc = ngx_http_personalize_recent(b->r, node->text.data,
                                         node->text.len, &recent);

        if (rc == NGX_DECLINED || recent == NULL) {
            return NGX_OK;
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        rv = recent->elts;
        f.type = 0;

    } else {
        rc = ngx_http_personalize_field(b->r, node->text.data,
                                        node->text.len, &f);

        if (rc == NGX_DECLINED) {
            return NGX_OK;
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (recent == NULL && f.type != PZ_T_LIST) {
        /* a single string works as a list of one */

        if (f.type != PZ_T_STRING || f.value.len == 0) {
            return NGX_OK;
        }
    }

    pos = 0;
    n = 0;

    while (n < node->limit) {

        if (recent) {
            if (pos == recent->nelts) {
                break;
            }

            it.data = rv[pos].data;
            it.len = rv[pos].len;
            pos++;

        } else if (f.type == PZ_T_LIST) {
            if (!pz_list_next(&f, &pos, &it)) {
                break;
            }

        } else {
            if (pos++) {
                break;
            }

            it = f.value;
        }

        rec = NULL;
        rec_len = 0;

        if (node->catalog) {
            rc = ngx_http_personalize_catalog(b->r, (u_char *) it.data,
                                              it.len, &rec, &rec_len);

            if (rc == NGX_DECLINED) {
                continue;
            }

            if (rc != NGX_OK) {
                return NGX_ERROR;
            }
        }

        if (ngx_http_personalize_tpl_run(b, node->body, (u_char *) it.data,
                                         it.len, rec, rec_len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        n++;
    }

    return NGX_OK;
}


/* a field as text: numbers and times in their canonical form, lists
 * joined with ", " */

ngx_int_t
ngx_http_personalize_field_text(ngx_http_request_t *r, pz_field_t *f,
    ngx_str_t *out)
{
    u_char      *p;
    size_t       pos, len;
    pz_bytes_t   it;

    switch (f->type) {

    case PZ_T_STRING:
        out->data = (u_char *) f->value.data;
        out->len = f->value.len;
        return NGX_OK;

    case PZ_T_INT:
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        out->data = p;
        out->len = ngx_sprintf(p, "%L", pz_field_num(f)) - p;
        return NGX_OK;

    case PZ_T_DECIMAL:
    case PZ_T_TIME:
        p = ngx_pnalloc(r->pool, PZ_DECIMAL_LEN + PZ_TIME_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        out->data = p;
        out->len = (f->type == PZ_T_DECIMAL)
                   ? pz_decimal_format(pz_field_num(f), (char *) p)
                   : pz_time_format(pz_field_num(f), (char *) p);
        return NGX_OK;

    case PZ_T_LIST:
        len = 0;
        pos = 0;

        while (pz_list_next(f, &pos, &it)) {
            len += it.len + 2;
        }

        p = ngx_pnalloc(r->pool, len + 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        out->data = p;
        pos = 0;

        while (pz_list_next(f, &pos, &it)) {
            if (p != out->data) {
                *p++ = ',';
                *p++ = ' ';
            }

            p = ngx_cpymem(p, it.data, it.len);
        }

        out->len = p - out->data;
        return NGX_OK;

    default:
        ngx_str_null(out);
        return NGX_OK;
    }
}


static ngx_int_t
ngx_http_personalize_tpl_put(ngx_http_personalize_buf_t *b, ngx_uint_t ctx,
    u_char *p, size_t len)
{
    size_t  n;

    if (len == 0) {
        return NGX_OK;
    }

    n = (ctx == PZ_CTX_RAW) ? len : pz_escape(ctx, NULL, p, len);

    if (b->len + n > b->cap
        && ngx_http_personalize_buf_grow(b, n) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx == PZ_CTX_RAW) {
        ngx_memcpy(b->data + b->len, p, len);

    } else {
        (void) pz_escape(ctx, b->data + b->len, p, len);
    }

    b->len += n;

    return NGX_OK;
}


static ngx_int_t
ngx_http_personalize_buf_grow(ngx_http_personalize_buf_t *b, size_t n)
{
    u_char  *p;
    size_t   cap;

    cap = ngx_max(b->cap * 2, 1024);

    while (cap < b->len + n) {
        cap *= 2;
    }

    p = ngx_pnalloc(b->r->pool, cap);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (b->len) {
        ngx_memcpy(p, b->data, b->len);
    }

    b->data = p;
    b->cap = cap;

    return NGX_OK;
}
