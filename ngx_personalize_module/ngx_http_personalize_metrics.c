/*
 * ngx_http_personalize_realtime_module: metrics and personalize_status.
 *
 * Counters live in a shared-memory zone so that every worker adds to the
 * same numbers: a red-black tree of series ("family{label="value"}") to
 * atomic values.  Series are never freed; their number is bounded by the
 * configuration (slots, rules, experiments, events, error kinds), and
 * label values are cut to a safe alphabet.  A finished main request is
 * counted from the variables that the core and rules modules expose, so
 * those modules need no changes for it.
 */

#include "ngx_http_personalize_realtime.h"


#define NGX_HTTP_PZ_LABEL_MAX      64      /* bytes of one label value */
#define NGX_HTTP_PZ_CACHE_SIZE     256     /* a power of two */


/* follows an ngx_str_node_t whose str points to series */
typedef struct {
    ngx_atomic_t                   value;
    u_short                        len;
    u_char                         series[1];
} ngx_http_pz_metric_node_t;


struct ngx_http_pz_metrics_s {
    ngx_rbtree_t                   rbtree;
    ngx_rbtree_node_t              sentinel;
    ngx_atomic_t                   nseries;
    ngx_atomic_t                   dropped;   /* series that did not fit */
    time_t                         started;
};


typedef struct {
    ngx_http_pz_metrics_t         *sh;
    ngx_slab_pool_t               *shpool;
} ngx_http_pz_metrics_zone_t;


/* a series copied out of the zone for the status page */
typedef struct {
    ngx_str_t                      series;
    ngx_atomic_uint_t              value;
} ngx_http_pz_sample_t;


typedef struct {
    char                          *family;
    char                          *type;
    char                          *help;
} ngx_http_pz_family_t;


static ngx_int_t ngx_http_pz_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_atomic_t *ngx_http_pz_metric_find(ngx_http_pz_rt_main_conf_t *rmcf,
    u_char *series, size_t len);
static u_char *ngx_http_pz_label(u_char *p, u_char *last, char *name,
    ngx_str_t *value);
static void ngx_http_pz_metric_list(ngx_http_request_t *r,
    ngx_http_pz_rt_main_conf_t *rmcf, ngx_int_t index, char *family,
    char *l1, char *l2, u_char sep, u_char pair);
static ngx_int_t ngx_http_pz_var(ngx_http_request_t *r, ngx_int_t index,
    ngx_str_t *s);
static ngx_int_t ngx_http_pz_status_handler(ngx_http_request_t *r);
static u_char *ngx_http_pz_json_labels(u_char *dst, u_char *p, u_char *end);
static int ngx_libc_cdecl ngx_http_pz_sample_cmp(const void *one,
    const void *two);
static ngx_http_pz_family_t *ngx_http_pz_family(ngx_str_t *series);
static ngx_int_t ngx_http_pz_var_index(ngx_conf_t *cf, char *name);


static ngx_str_t  ngx_http_pz_metrics_name = ngx_string("personalize_status");


/*
 * Per worker: the series this worker has used, direct mapped by hash, so
 * that a request's updates need no lock.  The zone never frees a series
 * and outlives the worker, so the pointers stay valid.
 */
static ngx_http_pz_metric_node_t  *ngx_http_pz_cache[NGX_HTTP_PZ_CACHE_SIZE];

static ngx_str_t  ngx_http_pz_sources[] = {
    ngx_string("none"),
    ngx_string("login"),
    ngx_string("cookie"),
    ngx_string("fingerprint")
};


/* sorted by family */
static ngx_http_pz_family_t  ngx_http_pz_families[] = {
    { "personalize_capped_total", "counter",
      "Rules that would have won but were capped, by rule" },
    { "personalize_errors_total", "counter",
      "Failures that left the default content in place, by kind" },
    { "personalize_events_total", "counter",
      "Events counted by personalize_event, by event" },
    { "personalize_exposures_total", "counter",
      "Visitors served a variant of an experiment, by experiment and "
      "variant" },
    { "personalize_identified_total", "counter",
      "Requests whose visitor was identified, by identity source" },
    { "personalize_metrics_dropped_total", "counter",
      "Series that did not fit into the metrics zone" },
    { "personalize_prefills_total", "counter",
      "Input fields prefilled, by input and rule" },
    { "personalize_preview_rejected_total", "counter",
      "Preview tokens ignored, by reason: expired, forged, malformed, "
      "payload" },
    { "personalize_preview_requests_total", "counter",
      "Requests with a valid preview token (not in the other counts)" },
    { "personalize_profile_lookups_total", "counter",
      "Profile lookups of identified visitors, by result" },
    { "personalize_prompts_total", "counter",
      "Chat prompts shown, by rule" },
    { "personalize_requests_total", "counter",
      "Main requests seen" },
    { "personalize_rule_wins_total", "counter",
      "Slots filled, by slot and winning rule" },
    { "personalize_store_age_seconds", "gauge",
      "Seconds since the profile store in use was built" },
    { "personalize_store_build_time_seconds", "gauge",
      "Build time of the profile store in use, Unix time" },
    { "personalize_store_generation", "gauge",
      "Generation of the profile store in use" },
    { "personalize_zone_evictions_total", "counter",
      "Visitors evicted from the full personalize_zone" },
    { "personalize_zone_pages", "gauge",
      "Pages of the personalize_zone" },
    { "personalize_zone_pages_free", "gauge",
      "Free pages of the personalize_zone" },
    { "personalize_zone_visitors", "gauge",
      "Visitors held in the personalize_zone" },
};


char *
ngx_http_pz_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_pz_rt_main_conf_t *rmcf = conf;

    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_pz_metrics_zone_t  *mz;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_pz_status_handler;

    if (rmcf->metrics) {
        return NGX_CONF_OK;
    }

    rmcf->metrics = ngx_shared_memory_add(cf, &ngx_http_pz_metrics_name,
                                          NGX_HTTP_PZ_METRICS_SIZE,
                                        &ngx_http_personalize_realtime_module);
    if (rmcf->metrics == NULL) {
        return NGX_CONF_ERROR;
    }

    if (rmcf->metrics->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "shared memory zone \"%V\" is already used",
                           &ngx_http_pz_metrics_name);
        return NGX_CONF_ERROR;
    }

    mz = ngx_pcalloc(cf->pool, sizeof(ngx_http_pz_metrics_zone_t));
    if (mz == NULL) {
        return NGX_CONF_ERROR;
    }

    rmcf->metrics->init = ngx_http_pz_metrics_init_zone;
    rmcf->metrics->data = mz;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_pz_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_pz_metrics_zone_t  *omz = data;

    ngx_http_pz_metrics_zone_t  *mz;

    mz = shm_zone->data;

    if (omz) {
        /* a reload: the counters go on */
        mz->sh = omz->sh;
        mz->shpool = omz->shpool;
        return NGX_OK;
    }

    mz->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        mz->sh = mz->shpool->data;
        return NGX_OK;
    }

    mz->sh = ngx_slab_calloc(mz->shpool, sizeof(ngx_http_pz_metrics_t));
    if (mz->sh == NULL) {
        return NGX_ERROR;
    }

    mz->shpool->data = mz->sh;

    ngx_rbtree_init(&mz->sh->rbtree, &mz->sh->sentinel,
                    ngx_str_rbtree_insert_value);

    mz->sh->started = ngx_time();

    /* a full zone drops new series and counts them */
    mz->shpool->log_nomem = 0;

    return NGX_OK;
}


/* the indexes of the other modules' variables, where they exist */

ngx_int_t
ngx_http_pz_metrics_init(ngx_conf_t *cf, ngx_http_pz_rt_main_conf_t *rmcf)
{
    rmcf->var_slots = NGX_ERROR;
    rmcf->var_prompts = NGX_ERROR;
    rmcf->var_prefills = NGX_ERROR;
    rmcf->var_experiments = NGX_ERROR;

    /* $personalize_decisions also serves the trace */
    rmcf->var_slots = ngx_http_pz_var_index(cf, "personalize_decisions");
    rmcf->var_prompts = ngx_http_pz_var_index(cf, "personalize_prompts");
    rmcf->var_prefills = ngx_http_pz_var_index(cf, "personalize_prefills");
    rmcf->var_experiments = ngx_http_pz_var_index(cf,
                                                "personalize_experiments");

    return NGX_OK;
}


static ngx_int_t
ngx_http_pz_var_index(ngx_conf_t *cf, char *name)
{
    ngx_str_t                   n;
    ngx_uint_t                  i;
    ngx_hash_key_t             *key;
    ngx_http_core_main_conf_t  *cmcf;

    n.data = (u_char *) name;
    n.len = ngx_strlen(name);

    /* only a variable that some module added: no "unknown variable" */

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    if (cmcf->variables_keys == NULL) {
        return NGX_ERROR;
    }

    key = cmcf->variables_keys->keys.elts;

    for (i = 0; i < cmcf->variables_keys->keys.nelts; i++) {
        if (key[i].key.len == n.len
            && ngx_strncmp(key[i].key.data, n.data, n.len) == 0)
        {
            return ngx_http_get_variable_index(cf, &n);
        }
    }

    return NGX_ERROR;
}


/* the value of a series, created if new; NULL when the zone is full */

static ngx_atomic_t *
ngx_http_pz_metric_find(ngx_http_pz_rt_main_conf_t *rmcf, u_char *series,
    size_t len)
{
    size_t                       size;
    uint32_t                     hash;
    ngx_str_t                    s;
    ngx_str_node_t              *sn;
    ngx_rbtree_node_t           *node;
    ngx_http_pz_metric_node_t   *mn;
    ngx_http_pz_metrics_zone_t  *mz;

    mz = rmcf->metrics->data;

    s.data = series;
    s.len = len;
    hash = ngx_crc32_short(series, len);

    mn = ngx_http_pz_cache[hash & (NGX_HTTP_PZ_CACHE_SIZE - 1)];

    if (mn != NULL && mn->len == len
        && ngx_memcmp(mn->series, series, len) == 0)
    {
        return &mn->value;
    }

    ngx_shmtx_lock(&mz->shpool->mutex);

    sn = ngx_str_rbtree_lookup(&mz->sh->rbtree, &s, hash);

    if (sn != NULL) {
        ngx_shmtx_unlock(&mz->shpool->mutex);
        mn = (ngx_http_pz_metric_node_t *) ((u_char *) sn
                                            + sizeof(ngx_str_node_t));
        ngx_http_pz_cache[hash & (NGX_HTTP_PZ_CACHE_SIZE - 1)] = mn;
        return &mn->value;
    }

    /* an ngx_str_node_t, then the value and the name */
    size = sizeof(ngx_str_node_t) + sizeof(ngx_http_pz_metric_node_t) + len;

    node = ngx_slab_alloc_locked(mz->shpool, size);

    if (node == NULL) {
        (void) ngx_atomic_fetch_add(&mz->sh->dropped, 1);
        ngx_shmtx_unlock(&mz->shpool->mutex);
        return NULL;
    }

    sn = (ngx_str_node_t *) node;
    mn = (ngx_http_pz_metric_node_t *) ((u_char *) sn
                                        + sizeof(ngx_str_node_t));

    mn->len = (u_short) len;
    mn->value = 0;
    ngx_memcpy(mn->series, series, len);

    sn->node.key = hash;
    sn->str.data = mn->series;
    sn->str.len = len;

    ngx_rbtree_insert(&mz->sh->rbtree, &sn->node);
    mz->sh->nseries++;

    ngx_shmtx_unlock(&mz->shpool->mutex);

    ngx_http_pz_cache[hash & (NGX_HTTP_PZ_CACHE_SIZE - 1)] = mn;

    return &mn->value;
}


/* appends name="value" with the value cut to [A-Za-z0-9_.:-] */

static u_char *
ngx_http_pz_label(u_char *p, u_char *last, char *name, ngx_str_t *value)
{
    u_char  c;
    size_t  i, n;

    n = ngx_strlen(name);

    if (p + n + 3 + NGX_HTTP_PZ_LABEL_MAX + 1 > last) {
        return p;
    }

    p = ngx_cpymem(p, name, n);
    *p++ = '=';
    *p++ = '"';

    for (i = 0; i < value->len && i < NGX_HTTP_PZ_LABEL_MAX; i++) {
        c = value->data[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':'
            || c == '-')
        {
            *p++ = c;

        } else {
            *p++ = '_';
        }
    }

    *p++ = '"';

    return p;
}


void
ngx_http_pz_metric(ngx_http_request_t *r, char *family, char *l1,
    ngx_str_t *v1, char *l2, ngx_str_t *v2, ngx_atomic_int_t delta)
{
    u_char                      *p, *last;
    ngx_atomic_t                *value;
    ngx_http_pz_rt_main_conf_t  *rmcf;
    u_char                       buf[NGX_HTTP_PZ_SERIES_MAX];

    rmcf = ngx_http_get_module_main_conf(r,
                                         ngx_http_personalize_realtime_module);
    if (rmcf == NULL || rmcf->metrics == NULL) {
        return;
    }

    last = buf + sizeof(buf);
    p = ngx_cpymem(buf, family, ngx_strlen(family));

    if (l1) {
        *p++ = '{';
        p = ngx_http_pz_label(p, last - 1, l1, v1);

        if (l2) {
            *p++ = ',';
            p = ngx_http_pz_label(p, last - 1, l2, v2);
        }

        *p++ = '}';
    }

    value = ngx_http_pz_metric_find(rmcf, buf, p - buf);

    if (value != NULL) {
        (void) ngx_atomic_fetch_add(value, delta);
    }
}


void
ngx_http_pz_metric_set(ngx_http_request_t *r, char *family,
    ngx_atomic_int_t v)
{
    ngx_atomic_t                *value;
    ngx_http_pz_rt_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r,
                                         ngx_http_personalize_realtime_module);
    if (rmcf == NULL || rmcf->metrics == NULL) {
        return;
    }

    value = ngx_http_pz_metric_find(rmcf, (u_char *) family,
                                    ngx_strlen(family));
    if (value != NULL) {
        *value = v;
    }
}


static ngx_int_t
ngx_http_pz_var(ngx_http_request_t *r, ngx_int_t index, ngx_str_t *s)
{
    ngx_http_variable_value_t  *vv;

    if (index == NGX_ERROR) {
        return NGX_DECLINED;
    }

    vv = ngx_http_get_indexed_variable(r, index);

    if (vv == NULL || vv->not_found || vv->len == 0
        || (vv->len == 1 && vv->data[0] == '-'))
    {
        return NGX_DECLINED;
    }

    s->data = vv->data;
    s->len = vv->len;

    return NGX_OK;
}


/*
 * Counts each item of a list variable: items end at sep; with pair set,
 * an item is "first<pair>second" and gives two labels, else one.
 */

static void
ngx_http_pz_metric_list(ngx_http_request_t *r,
    ngx_http_pz_rt_main_conf_t *rmcf, ngx_int_t index, char *family,
    char *l1, char *l2, u_char sep, u_char pair)
{
    u_char     *p, *end, *item, *q;
    ngx_str_t   s, a, b;

    if (ngx_http_pz_var(r, index, &s) != NGX_OK) {
        return;
    }

    p = s.data;
    end = s.data + s.len;

    while (p < end) {
        item = p;

        while (p < end && *p != sep) {
            p++;
        }

        a.data = item;
        a.len = p - item;

        if (p < end) {
            p++;
        }

        while (a.len && a.data[0] == ' ') {
            a.data++;
            a.len--;
        }

        if (a.len == 0) {
            continue;
        }

        if (!pair) {
            ngx_http_pz_metric(r, family, l1, &a, NULL, NULL, 1);
            continue;
        }

        q = ngx_strlchr(a.data, a.data + a.len, pair);

        if (q == NULL) {
            continue;
        }

        b.data = q + 1;
        b.len = a.data + a.len - b.data;
        a.len = q - a.data;

        if (a.len && b.len) {
            ngx_http_pz_metric(r, family, l1, &a, l2, &b, 1);
        }
    }
}


void
ngx_http_pz_metrics_log(ngx_http_request_t *r,
    ngx_http_pz_rt_main_conf_t *rmcf, ngx_uint_t preview)
{
    u_char                          *p, *end, *item, *q;
    ngx_str_t                        s, slot, rule;
    ngx_http_pz_rt_ctx_t            *ctx;
    ngx_http_personalize_visitor_t  *vis;

    ngx_http_pz_metric(r, "personalize_requests_total", NULL, NULL, NULL,
                       NULL, 1);

    if (preview) {
        ngx_http_pz_metric(r, "personalize_preview_requests_total", NULL,
                           NULL, NULL, NULL, 1);
        return;
    }

    /* only when the request asked who the visitor is: no work of our own */

    if (ngx_http_get_module_ctx(r, ngx_http_personalize_module) != NULL) {

        vis = ngx_http_personalize_visitor(r);

        if (vis != NULL) {
            ngx_http_pz_metric(r, "personalize_identified_total", "source",
                               &ngx_http_pz_sources[vis->source & 3], NULL,
                               NULL, 1);

            if (vis->source != NGX_HTTP_PERSONALIZE_SRC_NONE) {
                ngx_str_set(&s, "miss");

                if (vis->profile_found) {
                    ngx_str_set(&s, "hit");
                }

                ngx_http_pz_metric(r, "personalize_profile_lookups_total",
                                   "result", &s, NULL, NULL, 1);
            }

            if (vis->generation >= 0) {
                ngx_http_pz_metric_set(r, "personalize_store_generation",
                                       (ngx_atomic_int_t) vis->generation);
                ngx_http_pz_metric_set(r,
                                      "personalize_store_build_time_seconds",
                                      (ngx_atomic_int_t) vis->build_time);
            }
        }
    }

    /*
     * Only when the rules module decided for this request: reading its
     * variables otherwise would make it decide now, and record caps.
     */

    ctx = ngx_http_get_module_ctx(r, ngx_http_personalize_realtime_module);

    if (ctx == NULL || !ctx->decided) {
        return;
    }

    /* "slots=hero:rule,side:rule;prompts=...": the slots part */

    if (ngx_http_pz_var(r, rmcf->var_slots, &s) == NGX_OK
        && s.len > 6 && ngx_strncmp(s.data, "slots=", 6) == 0)
    {
        p = s.data + 6;
        end = ngx_strlchr(p, s.data + s.len, ';');
        if (end == NULL) {
            end = s.data + s.len;
        }

        while (p < end) {
            item = p;

            while (p < end && *p != ',') {
                p++;
            }

            q = ngx_strlchr(item, p, ':');

            if (q != NULL) {
                slot.data = item;
                slot.len = q - item;
                rule.data = q + 1;
                rule.len = p - rule.data;

                if (slot.len && rule.len
                    && !(rule.len == 1 && rule.data[0] == '-'))
                {
                    ngx_http_pz_metric(r, "personalize_rule_wins_total",
                                       "slot", &slot, "rule", &rule, 1);
                }
            }

            if (p < end) {
                p++;
            }
        }
    }

    ngx_http_pz_metric_list(r, rmcf, rmcf->var_prompts,
                            "personalize_prompts_total", "rule", NULL, ',',
                            0);
    ngx_http_pz_metric_list(r, rmcf, rmcf->var_prefills,
                            "personalize_prefills_total", "input", "rule",
                            ',', '=');
    ngx_http_pz_metric_list(r, rmcf, rmcf->var_experiments,
                            "personalize_exposures_total", "experiment",
                            "variant", ';', '=');
}


/* the status page */

static ngx_http_pz_family_t *
ngx_http_pz_family(ngx_str_t *series)
{
    size_t      len;
    u_char     *p;
    ngx_uint_t  i;

    p = ngx_strlchr(series->data, series->data + series->len, '{');
    len = (p ? p : series->data + series->len) - series->data;

    for (i = 0; i < sizeof(ngx_http_pz_families)
                    / sizeof(ngx_http_pz_family_t); i++)
    {
        if (ngx_strlen(ngx_http_pz_families[i].family) == len
            && ngx_strncmp(ngx_http_pz_families[i].family, series->data, len)
               == 0)
        {
            return &ngx_http_pz_families[i];
        }
    }

    return NULL;
}


static int ngx_libc_cdecl
ngx_http_pz_sample_cmp(const void *one, const void *two)
{
    const ngx_http_pz_sample_t  *a = one;
    const ngx_http_pz_sample_t  *b = two;

    return ngx_memn2cmp(a->series.data, b->series.data, a->series.len,
                        b->series.len);
}


static ngx_int_t
ngx_http_pz_sample_add(ngx_array_t *a, ngx_pool_t *pool, char *series,
    ngx_atomic_uint_t value)
{
    ngx_http_pz_sample_t  *sm;

    sm = ngx_array_push(a);
    if (sm == NULL) {
        return NGX_ERROR;
    }

    sm->series.data = (u_char *) series;
    sm->series.len = ngx_strlen(series);
    sm->value = value;

    return NGX_OK;
}


/* a="x",b="y" -> "a":"x","b":"y"; label values are [A-Za-z0-9_.:-] */

static u_char *
ngx_http_pz_json_labels(u_char *dst, u_char *p, u_char *end)
{
    u_char      *start;
    ngx_uint_t   in;

    in = 0;
    start = p;

    for ( /* void */ ; p < end; p++) {

        if (!in && *p == '=') {
            *dst++ = '"';
            *dst++ = ':';
            continue;
        }

        if (*p == '"') {
            in = !in;

        } else if (!in && (p == start || p[-1] == ',')) {
            *dst++ = '"';
        }

        *dst++ = *p;
    }

    return dst;
}


static ngx_int_t
ngx_http_pz_status_handler(ngx_http_request_t *r)
{
    u_char                      *p, *lb, *end;
    size_t                       size;
    time_t                       built;
    ngx_int_t                    rc;
    ngx_buf_t                   *b;
    ngx_str_t                    fmt, prev, type;
    ngx_uint_t                   i, n, json, visitors, evictions, pages,
                                 free;
    ngx_chain_t                  out;
    ngx_array_t                  samples;
    ngx_rbtree_node_t           *node, *root, *sentinel;
    ngx_http_pz_family_t        *fam;
    ngx_http_pz_sample_t        *sm;
    ngx_http_pz_metric_node_t   *mn;
    ngx_http_pz_metrics_zone_t  *mz;
    ngx_http_pz_rt_main_conf_t  *rmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    rmcf = ngx_http_get_module_main_conf(r,
                                         ngx_http_personalize_realtime_module);
    mz = rmcf->metrics->data;

    json = (ngx_http_arg(r, (u_char *) "format", 6, &fmt) == NGX_OK
            && fmt.len == 4 && ngx_strncmp(fmt.data, "json", 4) == 0);

    /* copy the series out; the lock is not held while writing */

    /* room for every series and the computed ones: no allocation (and no
     * failure) in the loop under the lock */
    n = mz->sh->nseries + 64;

    if (ngx_array_init(&samples, r->pool, n + 8, sizeof(ngx_http_pz_sample_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, n * NGX_HTTP_PZ_SERIES_MAX);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    built = -1;

    ngx_shmtx_lock(&mz->shpool->mutex);

    root = mz->sh->rbtree.root;
    sentinel = mz->sh->rbtree.sentinel;

    if (root != sentinel) {
        for (node = ngx_rbtree_min(root, sentinel);
             node && samples.nelts < n;
             node = ngx_rbtree_next(&mz->sh->rbtree, node))
        {
            mn = (ngx_http_pz_metric_node_t *) ((u_char *) node
                                                + sizeof(ngx_str_node_t));

            /* within the preallocated size: ngx_array_push cannot fail */
            sm = ngx_array_push(&samples);
            sm->series.data = p;
            sm->series.len = mn->len;
            sm->value = mn->value;
            p = ngx_cpymem(p, mn->series, mn->len);

            if (mn->len == sizeof("personalize_store_build_time_seconds") - 1
                && ngx_strncmp(mn->series,
                               "personalize_store_build_time_seconds",
                               mn->len) == 0)
            {
                built = (time_t) mn->value;
            }
        }
    }

    ngx_shmtx_unlock(&mz->shpool->mutex);

    if (ngx_http_pz_sample_add(&samples, r->pool,
                               "personalize_metrics_dropped_total",
                               mz->sh->dropped)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (built >= 0) {
        if (ngx_http_pz_sample_add(&samples, r->pool,
                                   "personalize_store_age_seconds",
                                   (ngx_atomic_uint_t)
                                   ngx_max(ngx_time() - built, 0))
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (rmcf->shm_zone) {
        ngx_http_pz_rt_zone_stats(rmcf->shm_zone->data, &visitors,
                                  &evictions, &pages, &free);

        if (ngx_http_pz_sample_add(&samples, r->pool,
                                   "personalize_zone_visitors", visitors)
            != NGX_OK
            || ngx_http_pz_sample_add(&samples, r->pool,
                                      "personalize_zone_evictions_total",
                                      evictions)
               != NGX_OK
            || ngx_http_pz_sample_add(&samples, r->pool,
                                      "personalize_zone_pages", pages)
               != NGX_OK
            || ngx_http_pz_sample_add(&samples, r->pool,
                                      "personalize_zone_pages_free", free)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_qsort(samples.elts, samples.nelts, sizeof(ngx_http_pz_sample_t),
              ngx_http_pz_sample_cmp);

    sm = samples.elts;

    /* the longest help line, the series, its JSON form and the value */
    size = sizeof("{\"metrics\":[\n]}\n");

    for (i = 0; i < samples.nelts; i++) {
        size += 256 + 2 * sm[i].series.len + NGX_ATOMIC_T_LEN + 64;
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_null(&prev);

    if (json) {
        b->last = ngx_cpymem(b->last, "{\"metrics\":[", 12);
    }

    for (i = 0; i < samples.nelts; i++) {
        end = sm[i].series.data + sm[i].series.len;
        lb = ngx_strlchr(sm[i].series.data, end, '{');

        fam = ngx_http_pz_family(&sm[i].series);

        if (json) {
            /* {"name":"f","labels":{"a":"x","b":"y"},"value":1} */
            b->last = ngx_sprintf(b->last, "%s\n{\"name\":\"%*s\"",
                                  i ? "," : "",
                                  (size_t) ((lb ? lb : end)
                                            - sm[i].series.data),
                                  sm[i].series.data);

            if (fam) {
                b->last = ngx_sprintf(b->last, ",\"type\":\"%s\"",
                                      fam->type);
            }

            b->last = ngx_cpymem(b->last, ",\"labels\":{", 11);

            if (lb) {
                b->last = ngx_http_pz_json_labels(b->last, lb + 1, end - 1);
            }

            b->last = ngx_sprintf(b->last, "},\"value\":%uA}", sm[i].value);
            continue;
        }

        if (fam && (prev.data == NULL
                    || ngx_strcmp(prev.data, fam->family) != 0))
        {
            prev.data = (u_char *) fam->family;
            type.data = (u_char *) fam->type;
            type.len = ngx_strlen(fam->type);

            b->last = ngx_sprintf(b->last, "# HELP %s %s\n# TYPE %s %V\n",
                                  fam->family, fam->help, fam->family, &type);
        }

        b->last = ngx_sprintf(b->last, "%V %uA\n", &sm[i].series,
                              sm[i].value);
    }

    if (json) {
        b->last = ngx_cpymem(b->last, "\n]}\n", 4);
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    if (json) {
        ngx_str_set(&r->headers_out.content_type, "application/json");

    } else {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (b->last == b->pos) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
