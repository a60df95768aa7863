/*
 * ngx_http_personalize_realtime_module: sense and respond in real time.
 *
 * A shared-memory zone (personalize_zone) holds, per visitor, the counters
 * and recent values of the events that operators declare (personalize_event)
 * and the showings of capped rules (personalize_cap).  Events are counted
 * once per main request in the log phase, when the response status and the
 * upstream headers are known.  The rules module reads them through
 * ngx_http_personalize_counter() and ngx_http_personalize_recent().
 *
 * Visitors live in a red-black tree keyed by a hash of the visitor key and
 * in a queue ordered by last use; a full zone evicts the least recently
 * used visitors.  The zone is reused across reloads, like limit_req's.
 */

#include "ngx_http_personalize_realtime.h"


#define NGX_HTTP_PZ_RT_COUNTER     1
#define NGX_HTTP_PZ_RT_RECENT      2
#define NGX_HTTP_PZ_RT_CAP         3

#define NGX_HTTP_PZ_RT_NAME_MAX    64      /* event and rule names */
#define NGX_HTTP_PZ_RT_KEY_MAX     255     /* bytes of a visitor key */
#define NGX_HTTP_PZ_RT_VALUE_MAX   64      /* bytes of one recent value */
#define NGX_HTTP_PZ_RT_KEEP_MAX    32      /* recent values kept */
#define NGX_HTTP_PZ_RT_KEEP        5
#define NGX_HTTP_PZ_RT_CAP_MAX     100     /* showings of a capped rule */
#define NGX_HTTP_PZ_RT_EVICT       16      /* visitors evicted at once */
#define NGX_HTTP_PZ_RT_EVICT_ROUNDS  32
#define NGX_HTTP_PZ_RT_EVICT_LOG   60      /* seconds between log lines */


/* one counter, recent list or cap record of a visitor, in the zone */
typedef struct ngx_http_pz_rt_item_s  ngx_http_pz_rt_item_t;

struct ngx_http_pz_rt_item_s {
    ngx_http_pz_rt_item_t         *next;
    uint32_t                       hash;      /* of the name */
    uint16_t                       type;      /* NGX_HTTP_PZ_RT_* */
    uint16_t                       n;         /* slots in data */
    uint16_t                       count;     /* slots in use */
    uint16_t                       reserved;
    int64_t                        value;     /* a counter */
    u_char                         data[1];   /* recent: n * (1 + VALUE_MAX)
                                                 bytes, most recent first;
                                                 cap: n time_t, oldest
                                                 first */
};


/* a visitor; overlays ngx_rbtree_node_t from its color field on */
typedef struct {
    u_char                         color;
    u_char                         len;
    u_short                        dummy;
    ngx_queue_t                    queue;
    time_t                         last;
    ngx_http_pz_rt_item_t         *items;
    u_char                         key[1];
} ngx_http_pz_rt_node_t;


struct ngx_http_pz_rt_shctx_s {
    ngx_rbtree_t                   rbtree;
    ngx_rbtree_node_t              sentinel;
    ngx_queue_t                    queue;     /* most recently used first */
    ngx_atomic_t                   visitors;
    ngx_atomic_t                   evictions;
    time_t                         evict_logged;
};


/* a name that the zone stores: an event counter, a recent list, a cap */
typedef struct {
    ngx_str_t                      name;
    uint32_t                       hash;
    ngx_uint_t                     type;
    ngx_uint_t                     n;         /* keep, or the cap's count */
    time_t                         period;    /* of a cap */
    ngx_str_t                      file;      /* where declared first */
    ngx_uint_t                     line;
} ngx_http_pz_rt_name_t;


typedef struct {
    ngx_uint_t                     counter;   /* index in names */
    ngx_uint_t                     recent;    /* index, or NGX_CONF_UNSET */
    ngx_http_complex_value_t      *cond;      /* if=, or NULL */
    ngx_http_complex_value_t      *push;      /* push=, or NULL */
    ngx_str_t                      file;
    ngx_uint_t                     line;
} ngx_http_pz_rt_event_t;


typedef struct {
    ngx_array_t                   *events;    /* ngx_http_pz_rt_event_t */
} ngx_http_pz_rt_loc_conf_t;


static ngx_int_t ngx_http_pz_rt_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_pz_rt_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_pz_rt_node_t *ngx_http_pz_rt_lookup(
    ngx_http_pz_rt_zone_t *z, ngx_str_t *key, uint32_t hash, time_t now);
static ngx_http_pz_rt_node_t *ngx_http_pz_rt_create(ngx_http_pz_rt_zone_t *z,
    ngx_str_t *key, uint32_t hash, time_t now, ngx_log_t *log);
static ngx_http_pz_rt_node_t *ngx_http_pz_rt_touch(ngx_http_pz_rt_zone_t *z,
    ngx_str_t *key, uint32_t hash, time_t now, ngx_log_t *log);
static void *ngx_http_pz_rt_alloc(ngx_http_pz_rt_zone_t *z, size_t size,
    ngx_http_pz_rt_node_t *keep, time_t now, ngx_log_t *log);
static void ngx_http_pz_rt_free_node(ngx_http_pz_rt_zone_t *z,
    ngx_http_pz_rt_node_t *vn);
static void ngx_http_pz_rt_expire(ngx_http_pz_rt_zone_t *z, time_t now);
static ngx_http_pz_rt_item_t *ngx_http_pz_rt_item(ngx_http_pz_rt_node_t *vn,
    ngx_http_pz_rt_name_t *nm);
static ngx_http_pz_rt_item_t *ngx_http_pz_rt_item_add(
    ngx_http_pz_rt_zone_t *z, ngx_http_pz_rt_node_t *vn,
    ngx_http_pz_rt_name_t *nm, time_t now, ngx_log_t *log);
static void ngx_http_pz_rt_push(ngx_http_pz_rt_item_t *it, ngx_str_t *value);

static ngx_int_t ngx_http_pz_rt_key(ngx_http_request_t *r,
    ngx_http_pz_rt_zone_t *z, ngx_str_t *key);
static ngx_http_pz_rt_name_t *ngx_http_pz_rt_name_find(
    ngx_http_pz_rt_main_conf_t *rmcf, ngx_uint_t type, u_char *name,
    size_t len, ngx_uint_t var);
static ngx_int_t ngx_http_pz_rt_name_add(ngx_conf_t *cf,
    ngx_http_pz_rt_main_conf_t *rmcf, ngx_uint_t type, ngx_str_t *name,
    ngx_uint_t n, time_t period);
static ngx_uint_t ngx_http_pz_rt_true(ngx_str_t *v);

static ngx_int_t ngx_http_pz_rt_log_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_pz_rt_counter_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_pz_rt_recent_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static char *ngx_http_pz_rt_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_pz_rt_event(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_pz_rt_cap(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_pz_rt_check_name(ngx_conf_t *cf, ngx_str_t *name,
    const char *what);
static ngx_int_t ngx_http_pz_rt_add_variables(ngx_conf_t *cf);
static void *ngx_http_pz_rt_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_pz_rt_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_pz_rt_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_pz_rt_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_personalize_realtime_commands[] = {

    { ngx_string("personalize_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_pz_rt_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("personalize_event"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_pz_rt_event,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("personalize_cap"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE3,
      ngx_http_pz_rt_cap,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("personalize_preview_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_pz_preview_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("personalize_status"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_pz_status,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_personalize_realtime_module_ctx = {
    ngx_http_pz_rt_add_variables,          /* preconfiguration */
    ngx_http_pz_rt_init,                   /* postconfiguration */

    ngx_http_pz_rt_create_main_conf,       /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_pz_rt_create_loc_conf,        /* create location configuration */
    ngx_http_pz_rt_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_personalize_realtime_module = {
    NGX_MODULE_V1,
    &ngx_http_personalize_realtime_module_ctx,  /* module context */
    ngx_http_personalize_realtime_commands,     /* module directives */
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


static ngx_str_t  ngx_http_pz_rt_counter_prefix =
    ngx_string("personalize_counter_");
static ngx_str_t  ngx_http_pz_rt_recent_prefix =
    ngx_string("personalize_recent_");
static ngx_str_t  ngx_http_pz_rt_preview_var =
    ngx_string("personalize_preview");


/* the zone */

static ngx_int_t
ngx_http_pz_rt_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_pz_rt_zone_t  *oz = data;

    size_t                  len;
    ngx_http_pz_rt_zone_t  *z;

    z = shm_zone->data;

    if (oz) {
        /* a reload: keep the visitors of the running configuration */
        z->sh = oz->sh;
        z->shpool = oz->shpool;
        return NGX_OK;
    }

    z->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        z->sh = z->shpool->data;
        return NGX_OK;
    }

    z->sh = ngx_slab_alloc(z->shpool, sizeof(ngx_http_pz_rt_shctx_t));
    if (z->sh == NULL) {
        return NGX_ERROR;
    }

    z->shpool->data = z->sh;

    ngx_rbtree_init(&z->sh->rbtree, &z->sh->sentinel,
                    ngx_http_pz_rt_rbtree_insert_value);
    ngx_queue_init(&z->sh->queue);
    z->sh->visitors = 0;
    z->sh->evictions = 0;
    z->sh->evict_logged = 0;

    len = sizeof(" in personalize_zone \"\"") + shm_zone->shm.name.len;

    z->shpool->log_ctx = ngx_slab_alloc(z->shpool, len);
    if (z->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(z->shpool->log_ctx, " in personalize_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone evicts visitors and says so itself */
    z->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_http_pz_rt_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t      **p;
    ngx_http_pz_rt_node_t   *vn, *vnt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            vn = (ngx_http_pz_rt_node_t *) &node->color;
            vnt = (ngx_http_pz_rt_node_t *) &temp->color;

            p = (ngx_memn2cmp(vn->key, vnt->key, vn->len, vnt->len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* the visitor's node, or NULL; called with the zone locked */

static ngx_http_pz_rt_node_t *
ngx_http_pz_rt_lookup(ngx_http_pz_rt_zone_t *z, ngx_str_t *key, uint32_t hash,
    time_t now)
{
    ngx_int_t               rc;
    ngx_rbtree_node_t      *node, *sentinel;
    ngx_http_pz_rt_node_t  *vn;

    node = z->sh->rbtree.root;
    sentinel = z->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        vn = (ngx_http_pz_rt_node_t *) &node->color;

        rc = ngx_memn2cmp(key->data, vn->key, key->len, (size_t) vn->len);

        if (rc == 0) {
            if (now - vn->last > z->expire) {
                /* the session is over: its state counts no more */
                ngx_http_pz_rt_free_node(z, vn);
                return NULL;
            }

            return vn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* the visitor's node, found or created, and made the most recently used;
 * called with the zone locked */

static ngx_http_pz_rt_node_t *
ngx_http_pz_rt_touch(ngx_http_pz_rt_zone_t *z, ngx_str_t *key, uint32_t hash,
    time_t now, ngx_log_t *log)
{
    ngx_http_pz_rt_node_t  *vn;

    vn = ngx_http_pz_rt_lookup(z, key, hash, now);

    if (vn == NULL) {
        return ngx_http_pz_rt_create(z, key, hash, now, log);
    }

    vn->last = now;
    ngx_queue_remove(&vn->queue);
    ngx_queue_insert_head(&z->sh->queue, &vn->queue);

    return vn;
}


static ngx_http_pz_rt_node_t *
ngx_http_pz_rt_create(ngx_http_pz_rt_zone_t *z, ngx_str_t *key,
    uint32_t hash, time_t now, ngx_log_t *log)
{
    size_t                  size;
    ngx_rbtree_node_t      *node;
    ngx_http_pz_rt_node_t  *vn;

    ngx_http_pz_rt_expire(z, now);

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_pz_rt_node_t, key)
           + key->len;

    node = ngx_http_pz_rt_alloc(z, size, NULL, now, log);
    if (node == NULL) {
        return NULL;
    }

    node->key = hash;

    vn = (ngx_http_pz_rt_node_t *) &node->color;

    vn->len = (u_char) key->len;
    vn->last = now;
    vn->items = NULL;
    ngx_memcpy(vn->key, key->data, key->len);

    ngx_rbtree_insert(&z->sh->rbtree, node);
    ngx_queue_insert_head(&z->sh->queue, &vn->queue);

    (void) ngx_atomic_fetch_add(&z->sh->visitors, 1);

    return vn;
}


/*
 * Slab memory for a node or an item; when the zone is full, the least
 * recently used visitors (never "keep", the one being written) make room.
 */

static void *
ngx_http_pz_rt_alloc(ngx_http_pz_rt_zone_t *z, size_t size,
    ngx_http_pz_rt_node_t *keep, time_t now, ngx_log_t *log)
{
    void                   *p;
    ngx_uint_t              n, total, round;
    ngx_queue_t            *q;
    ngx_http_pz_rt_node_t  *vn;

    p = ngx_slab_alloc_locked(z->shpool, size);
    if (p != NULL) {
        return p;
    }

    /*
     * Visitors of other slab sizes may free no page of the size asked
     * for: a few rounds, each of NGX_HTTP_PZ_RT_EVICT visitors.
     */

    total = 0;

    for (round = 0; round < NGX_HTTP_PZ_RT_EVICT_ROUNDS && p == NULL;
         round++)
    {
        for (n = 0; n < NGX_HTTP_PZ_RT_EVICT; n++) {

            if (ngx_queue_empty(&z->sh->queue)) {
                break;
            }

            q = ngx_queue_last(&z->sh->queue);
            vn = ngx_queue_data(q, ngx_http_pz_rt_node_t, queue);

            if (vn == keep) {
                break;
            }

            ngx_http_pz_rt_free_node(z, vn);
        }

        total += n;

        if (n == 0) {
            break;
        }

        p = ngx_slab_alloc_locked(z->shpool, size);
    }

    (void) ngx_atomic_fetch_add(&z->sh->evictions, total);

    if (total && now - z->sh->evict_logged >= NGX_HTTP_PZ_RT_EVICT_LOG) {
        z->sh->evict_logged = now;
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "personalize_zone \"%V\" is full, evicted %ui least "
                      "recently used visitors (more may follow without "
                      "a log line for %d seconds)",
                      &z->name, total, NGX_HTTP_PZ_RT_EVICT_LOG);
    }

    return p;
}


static void
ngx_http_pz_rt_free_node(ngx_http_pz_rt_zone_t *z, ngx_http_pz_rt_node_t *vn)
{
    ngx_rbtree_node_t      *node;
    ngx_http_pz_rt_item_t  *it, *next;

    for (it = vn->items; it; it = next) {
        next = it->next;
        ngx_slab_free_locked(z->shpool, it);
    }

    ngx_queue_remove(&vn->queue);

    node = (ngx_rbtree_node_t *)
               ((u_char *) vn - offsetof(ngx_rbtree_node_t, color));

    ngx_rbtree_delete(&z->sh->rbtree, node);
    ngx_slab_free_locked(z->shpool, node);

    (void) ngx_atomic_fetch_add(&z->sh->visitors, (ngx_atomic_int_t) -1);
}


/* drops up to two visitors whose session ended, as limit_req does */

static void
ngx_http_pz_rt_expire(ngx_http_pz_rt_zone_t *z, time_t now)
{
    ngx_uint_t              n;
    ngx_queue_t            *q;
    ngx_http_pz_rt_node_t  *vn;

    for (n = 0; n < 2; n++) {

        if (ngx_queue_empty(&z->sh->queue)) {
            return;
        }

        q = ngx_queue_last(&z->sh->queue);
        vn = ngx_queue_data(q, ngx_http_pz_rt_node_t, queue);

        if (now - vn->last <= z->expire) {
            return;
        }

        ngx_http_pz_rt_free_node(z, vn);
    }
}


static ngx_http_pz_rt_item_t *
ngx_http_pz_rt_item(ngx_http_pz_rt_node_t *vn, ngx_http_pz_rt_name_t *nm)
{
    ngx_http_pz_rt_item_t  *it;

    for (it = vn->items; it; it = it->next) {
        if (it->hash == nm->hash && it->type == nm->type) {
            return it;
        }
    }

    return NULL;
}


static ngx_http_pz_rt_item_t *
ngx_http_pz_rt_item_add(ngx_http_pz_rt_zone_t *z, ngx_http_pz_rt_node_t *vn,
    ngx_http_pz_rt_name_t *nm, time_t now, ngx_log_t *log)
{
    size_t                   size;
    ngx_http_pz_rt_item_t   *it, **pit;

    it = ngx_http_pz_rt_item(vn, nm);

    if (it != NULL) {
        if (nm->type == NGX_HTTP_PZ_RT_COUNTER || it->n == nm->n) {
            return it;
        }

        /* keep= or the cap's count changed with a reload: start afresh */
        for (pit = &vn->items; *pit != it; pit = &(*pit)->next) {
            /* void */
        }

        *pit = it->next;
        ngx_slab_free_locked(z->shpool, it);
    }

    size = offsetof(ngx_http_pz_rt_item_t, data);

    switch (nm->type) {

    case NGX_HTTP_PZ_RT_RECENT:
        size += nm->n * (1 + NGX_HTTP_PZ_RT_VALUE_MAX);
        break;

    case NGX_HTTP_PZ_RT_CAP:
        size += nm->n * sizeof(time_t);
        break;
    }

    it = ngx_http_pz_rt_alloc(z, size, vn, now, log);
    if (it == NULL) {
        return NULL;
    }

    it->hash = nm->hash;
    it->type = (uint16_t) nm->type;
    it->n = (uint16_t) nm->n;
    it->count = 0;
    it->reserved = 0;
    it->value = 0;

    it->next = vn->items;
    vn->items = it;

    return it;
}


/* a recent value goes first; an older copy of it and the oldest go away */

static void
ngx_http_pz_rt_push(ngx_http_pz_rt_item_t *it, ngx_str_t *value)
{
    size_t       len, slot;
    u_char      *p;
    ngx_uint_t   i, last;

    slot = 1 + NGX_HTTP_PZ_RT_VALUE_MAX;
    len = ngx_min(value->len, NGX_HTTP_PZ_RT_VALUE_MAX);

    last = it->count;

    for (i = 0; i < it->count; i++) {
        p = it->data + i * slot;

        if (p[0] == len && ngx_memcmp(p + 1, value->data, len) == 0) {
            last = i;
            break;
        }
    }

    if (last == it->count) {
        if (it->count < it->n) {
            it->count++;

        } else {
            last = it->count - 1;
        }
    }

    /* slots 0 .. last-1 move one down, over the dropped one */
    ngx_memmove(it->data + slot, it->data, last * slot);

    it->data[0] = (u_char) len;
    ngx_memcpy(it->data + 1, value->data, len);
}


/* the request side */

ngx_http_pz_rt_ctx_t *
ngx_http_pz_rt_get_ctx(ngx_http_request_t *r)
{
    return ngx_http_personalize_main_ctx(r,
                                         &ngx_http_personalize_realtime_module,
                                         sizeof(ngx_http_pz_rt_ctx_t));
}


/* the visitor key of the request: NGX_OK, or NGX_DECLINED without one */

static ngx_int_t
ngx_http_pz_rt_key(ngx_http_request_t *r, ngx_http_pz_rt_zone_t *z,
    ngx_str_t *key)
{
    ngx_str_t                        v;
    ngx_http_pz_rt_ctx_t            *ctx;
    ngx_http_personalize_visitor_t  *vis;

    ctx = ngx_http_pz_rt_get_ctx(r);
    if (ctx == NULL) {
        return NGX_DECLINED;
    }

    if (!ctx->key_done) {
        ctx->key_done = 1;
        ngx_str_null(&v);

        if (z->key) {
            if (ngx_http_complex_value(r->main, z->key, &v) != NGX_OK) {
                ngx_str_null(&v);
            }

        } else {
            vis = ngx_http_personalize_visitor(r->main);

            if (vis != NULL && vis->source != NGX_HTTP_PERSONALIZE_SRC_NONE)
            {
                v = vis->profile_id.len ? vis->profile_id : vis->id;
            }
        }

        if (v.len > NGX_HTTP_PZ_RT_KEY_MAX) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "personalize realtime: key of %uz bytes ignored",
                           v.len);
            ngx_str_null(&v);
        }

        ctx->key = v;
    }

    if (ctx->key.len == 0) {
        return NGX_DECLINED;
    }

    *key = ctx->key;

    return NGX_OK;
}


/*
 * A name of the given type; with var set, "_" in the name asked for
 * also matches "-" in the declared name (variable names have no "-").
 */

static ngx_http_pz_rt_name_t *
ngx_http_pz_rt_name_find(ngx_http_pz_rt_main_conf_t *rmcf, ngx_uint_t type,
    u_char *name, size_t len, ngx_uint_t var)
{
    u_char                 a, b;
    size_t                 k;
    ngx_uint_t             i;
    ngx_http_pz_rt_name_t *nm;

    nm = rmcf->names.elts;

    for (i = 0; i < rmcf->names.nelts; i++) {

        if (nm[i].type != type || nm[i].name.len != len) {
            continue;
        }

        for (k = 0; k < len; k++) {
            a = nm[i].name.data[k];
            b = name[k];

            if (a != b && !(var && a == '-' && b == '_')) {
                break;
            }
        }

        if (k == len) {
            return &nm[i];
        }
    }

    return NULL;
}


static ngx_uint_t
ngx_http_pz_rt_true(ngx_str_t *v)
{
    return v->len && !(v->len == 1 && v->data[0] == '0');
}


/* counts the events of the request's location, once per main request */

static ngx_int_t
ngx_http_pz_rt_log_handler(ngx_http_request_t *r)
{
    time_t                       now;
    uint32_t                     hash;
    ngx_str_t                    key, v, *values;
    ngx_uint_t                   i, nfired, preview;
    ngx_flag_t                  *fired;
    ngx_http_pz_rt_item_t       *it;
    ngx_http_pz_rt_node_t       *vn;
    ngx_http_pz_rt_zone_t       *z;
    ngx_http_pz_rt_name_t       *names;
    ngx_http_pz_rt_event_t      *ev;
    ngx_http_pz_rt_loc_conf_t   *rlcf;
    ngx_http_pz_rt_main_conf_t  *rmcf;

    if (r != r->main) {
        return NGX_OK;
    }

    rmcf = ngx_http_get_module_main_conf(r,
                                         ngx_http_personalize_realtime_module);
    rlcf = ngx_http_get_module_loc_conf(r,
                                        ngx_http_personalize_realtime_module);

    preview = (ngx_http_personalize_preview(r) != NULL);

    if (rmcf->metrics) {
        ngx_http_pz_metrics_log(r, rmcf, preview);
    }

    if (preview) {
        /* an editor's preview is not the visitor's behaviour */
        return NGX_OK;
    }

    if (rmcf->shm_zone == NULL || rlcf->events == NULL
        || rlcf->events->nelts == 0)
    {
        return NGX_OK;
    }

    z = rmcf->shm_zone->data;

    if (ngx_http_pz_rt_key(r, z, &key) != NGX_OK) {
        return NGX_OK;
    }

    /* complex values first: they allocate, and the zone lock is short */

    ev = rlcf->events->elts;

    fired = ngx_pcalloc(r->pool, rlcf->events->nelts * sizeof(ngx_flag_t));
    values = ngx_pcalloc(r->pool, rlcf->events->nelts * sizeof(ngx_str_t));
    if (fired == NULL || values == NULL) {
        return NGX_OK;
    }

    nfired = 0;

    for (i = 0; i < rlcf->events->nelts; i++) {

        if (ev[i].cond) {
            if (ngx_http_complex_value(r, ev[i].cond, &v) != NGX_OK
                || !ngx_http_pz_rt_true(&v))
            {
                continue;
            }
        }

        if (ev[i].push) {
            if (ngx_http_complex_value(r, ev[i].push, &values[i]) != NGX_OK
                || values[i].len == 0)
            {
                continue;
            }
        }

        fired[i] = 1;
        nfired++;
    }

    if (nfired == 0) {
        return NGX_OK;
    }

    names = rmcf->names.elts;

    if (rmcf->metrics) {
        for (i = 0; i < rlcf->events->nelts; i++) {
            if (fired[i]) {
                ngx_http_pz_metric(r, "personalize_events_total", "event",
                                   &names[ev[i].counter].name, NULL, NULL, 1);
            }
        }
    }
    hash = ngx_crc32_short(key.data, key.len);
    now = ngx_time();

    ngx_shmtx_lock(&z->shpool->mutex);

    vn = ngx_http_pz_rt_touch(z, &key, hash, now, r->connection->log);
    if (vn == NULL) {
        goto failed;
    }

    for (i = 0; i < rlcf->events->nelts; i++) {

        if (!fired[i]) {
            continue;
        }

        it = ngx_http_pz_rt_item_add(z, vn, &names[ev[i].counter], now,
                                     r->connection->log);
        if (it == NULL) {
            goto failed;
        }

        it->value++;

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "personalize realtime: \"%V\" of \"%V\" is %L",
                       &names[ev[i].counter].name, &key, it->value);

        if (ev[i].push) {
            it = ngx_http_pz_rt_item_add(z, vn, &names[ev[i].recent], now,
                                         r->connection->log);
            if (it == NULL) {
                goto failed;
            }

            ngx_http_pz_rt_push(it, &values[i]);
        }
    }

    ngx_shmtx_unlock(&z->shpool->mutex);

    return NGX_OK;

failed:

    ngx_shmtx_unlock(&z->shpool->mutex);

    /* the zone holds not even this visitor: the page was served anyway */
    ngx_http_personalize_count_error(r, "zone_full");

    return NGX_OK;
}


ngx_int_t
ngx_http_personalize_counter(ngx_http_request_t *r, u_char *name, size_t len,
    int64_t *value)
{
    uint32_t                     hash;
    ngx_str_t                    key;
    ngx_http_pz_rt_item_t       *it;
    ngx_http_pz_rt_node_t       *vn;
    ngx_http_pz_rt_zone_t       *z;
    ngx_http_pz_rt_name_t       *nm;
    ngx_http_pz_rt_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r,
                                         ngx_http_personalize_realtime_module);
    if (rmcf == NULL || rmcf->shm_zone == NULL) {
        return NGX_DECLINED;
    }

    nm = ngx_http_pz_rt_name_find(rmcf, NGX_HTTP_PZ_RT_COUNTER, name, len, 0);
    if (nm == NULL) {
        return NGX_DECLINED;
    }

    z = rmcf->shm_zone->data;

    if (ngx_http_pz_rt_key(r, z, &key) != NGX_OK) {
        return NGX_DECLINED;
    }

    *value = 0;
    hash = ngx_crc32_short(key.data, key.len);

    ngx_shmtx_lock(&z->shpool->mutex);

    vn = ngx_http_pz_rt_lookup(z, &key, hash, ngx_time());

    if (vn != NULL) {
        it = ngx_http_pz_rt_item(vn, nm);

        if (it != NULL) {
            *value = it->value;
        }
    }

    ngx_shmtx_unlock(&z->shpool->mutex);

    return NGX_OK;
}


static ngx_int_t
ngx_http_pz_rt_recent_find(ngx_http_request_t *r, ngx_http_pz_rt_name_t *nm,
    ngx_array_t **values)
{
    u_char                      *p, *slot;
    uint32_t                     hash;
    ngx_str_t                    key, *s;
    ngx_uint_t                   i;
    ngx_array_t                 *a;
    ngx_http_pz_rt_item_t       *it;
    ngx_http_pz_rt_node_t       *vn;
    ngx_http_pz_rt_zone_t       *z;
    ngx_http_pz_rt_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r,
                                         ngx_http_personalize_realtime_module);
    z = rmcf->shm_zone->data;

    if (ngx_http_pz_rt_key(r, z, &key) != NGX_OK) {
        return NGX_DECLINED;
    }

    a = ngx_array_create(r->pool, nm->n, sizeof(ngx_str_t));
    if (a == NULL) {
        return NGX_DECLINED;
    }

    /* copied into the pool under the lock; the pool may not be touched
     * with the lock held, so the copy goes into one preallocated buffer */
    p = ngx_pnalloc(r->pool, nm->n * NGX_HTTP_PZ_RT_VALUE_MAX + 1);
    if (p == NULL) {
        return NGX_DECLINED;
    }

    hash = ngx_crc32_short(key.data, key.len);

    ngx_shmtx_lock(&z->shpool->mutex);

    vn = ngx_http_pz_rt_lookup(z, &key, hash, ngx_time());

    it = (vn != NULL) ? ngx_http_pz_rt_item(vn, nm) : NULL;

    if (it != NULL) {
        for (i = 0; i < it->count && i < nm->n; i++) {
            slot = it->data + i * (1 + NGX_HTTP_PZ_RT_VALUE_MAX);

            s = ngx_array_push(a);   /* within the preallocated nelts */
            s->len = slot[0];
            s->data = p;
            p = ngx_cpymem(p, slot + 1, slot[0]);
        }
    }

    ngx_shmtx_unlock(&z->shpool->mutex);

    *values = a;

    return NGX_OK;
}


ngx_int_t
ngx_http_personalize_recent(ngx_http_request_t *r, u_char *name, size_t len,
    ngx_array_t **values)
{
    ngx_http_pz_rt_name_t       *nm;
    ngx_http_pz_rt_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r,
                                         ngx_http_personalize_realtime_module);
    if (rmcf == NULL || rmcf->shm_zone == NULL) {
        return NGX_DECLINED;
    }

    nm = ngx_http_pz_rt_name_find(rmcf, NGX_HTTP_PZ_RT_RECENT, name, len, 0);
    if (nm == NULL) {
        return NGX_DECLINED;
    }

    return ngx_http_pz_rt_recent_find(r, nm, values);
}


ngx_int_t
ngx_http_personalize_event_declared(ngx_conf_t *cf, ngx_str_t *name,
    ngx_uint_t recent)
{
    ngx_http_pz_rt_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf,
                                         ngx_http_personalize_realtime_module);

    if (rmcf == NULL
        || ngx_http_pz_rt_name_find(rmcf, recent ? NGX_HTTP_PZ_RT_RECENT
                                                 : NGX_HTTP_PZ_RT_COUNTER,
                                    name->data, name->len, 0)
           == NULL)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_personalize_caps_check(ngx_conf_t *cf, ngx_str_t *rules,
    size_t stride, ngx_uint_t nrules)
{
    ngx_str_t                   *rn;
    ngx_uint_t                   i, k;
    ngx_http_pz_rt_name_t       *nm;
    ngx_http_pz_rt_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf,
                                         ngx_http_personalize_realtime_module);
    if (rmcf == NULL) {
        return NGX_OK;
    }

    nm = rmcf->names.elts;

    for (i = 0; i < rmcf->names.nelts; i++) {

        if (nm[i].type != NGX_HTTP_PZ_RT_CAP) {
            continue;
        }

        for (k = 0; k < nrules; k++) {
            rn = (ngx_str_t *) ((u_char *) rules + k * stride);

            if (rn->len == nm[i].name.len
                && ngx_strncmp(rn->data, nm[i].name.data, rn->len) == 0)
            {
                break;
            }
        }

        if (k == nrules) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "personalize_cap names the unknown rule \"%V\" "
                          "in %V:%ui", &nm[i].name, &nm[i].file, nm[i].line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_uint_t
ngx_http_personalize_cap_allows(ngx_http_request_t *r, u_char *rule,
    size_t len)
{
    time_t                       now, *t;
    uint32_t                     hash;
    ngx_str_t                    key;
    ngx_uint_t                   i, shown, allows;
    ngx_http_pz_rt_item_t       *it;
    ngx_http_pz_rt_node_t       *vn;
    ngx_http_pz_rt_zone_t       *z;
    ngx_http_pz_rt_name_t       *nm;
    ngx_http_pz_rt_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r,
                                         ngx_http_personalize_realtime_module);
    if (rmcf == NULL || rmcf->shm_zone == NULL) {
        return 1;
    }

    nm = ngx_http_pz_rt_name_find(rmcf, NGX_HTTP_PZ_RT_CAP, rule, len, 0);
    if (nm == NULL) {
        return 1;
    }

    if (ngx_http_personalize_preview(r) != NULL) {
        /* an editor sees what the rules give, caps aside */
        return 1;
    }

    z = rmcf->shm_zone->data;

    if (ngx_http_pz_rt_key(r, z, &key) != NGX_OK) {
        return 1;
    }

    hash = ngx_crc32_short(key.data, key.len);
    now = ngx_time();
    allows = 1;

    ngx_shmtx_lock(&z->shpool->mutex);

    vn = ngx_http_pz_rt_lookup(z, &key, hash, now);
    it = (vn != NULL) ? ngx_http_pz_rt_item(vn, nm) : NULL;

    if (it != NULL && it->n == nm->n) {
        t = (time_t *) it->data;
        shown = 0;

        for (i = 0; i < it->count; i++) {
            if (now - t[i] < nm->period) {
                shown++;
            }
        }

        allows = (shown < nm->n);
    }

    ngx_shmtx_unlock(&z->shpool->mutex);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "personalize realtime: cap of \"%*s\" allows: %ui",
                   len, rule, allows);

    if (!allows && rmcf->metrics) {
        ngx_http_pz_metric(r, "personalize_capped_total", "rule", &nm->name,
                           NULL, NULL, 1);
    }

    return allows;
}


void
ngx_http_personalize_cap_record(ngx_http_request_t *r, u_char *rule,
    size_t len)
{
    time_t                       now, *t;
    uint32_t                     hash;
    ngx_str_t                    key;
    ngx_http_pz_rt_item_t       *it;
    ngx_http_pz_rt_node_t       *vn;
    ngx_http_pz_rt_zone_t       *z;
    ngx_http_pz_rt_name_t       *nm;
    ngx_http_pz_rt_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r,
                                         ngx_http_personalize_realtime_module);
    if (rmcf == NULL || rmcf->shm_zone == NULL) {
        return;
    }

    nm = ngx_http_pz_rt_name_find(rmcf, NGX_HTTP_PZ_RT_CAP, rule, len, 0);
    if (nm == NULL || ngx_http_personalize_preview(r) != NULL) {
        return;
    }

    z = rmcf->shm_zone->data;

    if (ngx_http_pz_rt_key(r, z, &key) != NGX_OK) {
        return;
    }

    hash = ngx_crc32_short(key.data, key.len);
    now = ngx_time();

    ngx_shmtx_lock(&z->shpool->mutex);

    vn = ngx_http_pz_rt_touch(z, &key, hash, now, r->connection->log);
    if (vn == NULL) {
        goto failed;
    }

    it = ngx_http_pz_rt_item_add(z, vn, nm, now, r->connection->log);
    if (it == NULL) {
        goto failed;
    }

    t = (time_t *) it->data;

    if (it->count == it->n) {
        /* the oldest showing makes room */
        ngx_memmove(t, t + 1, (it->n - 1) * sizeof(time_t));
        it->count--;
    }

    t[it->count++] = now;

    ngx_shmtx_unlock(&z->shpool->mutex);

    return;

failed:

    ngx_shmtx_unlock(&z->shpool->mutex);

    ngx_http_personalize_count_error(r, "zone_full");
}


void
ngx_http_personalize_count_error(ngx_http_request_t *r, char *kind)
{
    ngx_str_t  k;

    k.data = (u_char *) kind;
    k.len = ngx_strlen(kind);

    ngx_http_pz_metric(r, "personalize_errors_total", "kind", &k, NULL, NULL,
                       1);
}


void
ngx_http_pz_rt_zone_stats(ngx_http_pz_rt_zone_t *z, ngx_uint_t *visitors,
    ngx_uint_t *evictions, ngx_uint_t *pages, ngx_uint_t *free)
{
    ngx_shmtx_lock(&z->shpool->mutex);

    *visitors = z->sh->visitors;
    *evictions = z->sh->evictions;
    *pages = (z->shpool->end - z->shpool->start) / ngx_pagesize;
    *free = z->shpool->pfree;

    ngx_shmtx_unlock(&z->shpool->mutex);
}


/* variables */

static ngx_int_t
ngx_http_pz_rt_counter_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t  *name = (ngx_str_t *) data;

    u_char                      *p;
    int64_t                      value;
    ngx_http_pz_rt_name_t       *nm;
    ngx_http_pz_rt_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r,
                                         ngx_http_personalize_realtime_module);

    nm = NULL;

    if (rmcf->shm_zone) {
        nm = ngx_http_pz_rt_name_find(rmcf, NGX_HTTP_PZ_RT_COUNTER,
                                 name->data + ngx_http_pz_rt_counter_prefix.len,
                                 name->len - ngx_http_pz_rt_counter_prefix.len,
                                 1);
    }

    if (nm == NULL
        || ngx_http_personalize_counter(r, nm->name.data, nm->name.len,
                                        &value)
           != NGX_OK)
    {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%L", value) - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_pz_rt_recent_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t  *name = (ngx_str_t *) data;

    u_char                      *p;
    size_t                       len;
    ngx_str_t                   *s;
    ngx_uint_t                   i;
    ngx_array_t                 *values;
    ngx_http_pz_rt_name_t       *nm;
    ngx_http_pz_rt_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r,
                                         ngx_http_personalize_realtime_module);

    nm = NULL;

    if (rmcf->shm_zone) {
        nm = ngx_http_pz_rt_name_find(rmcf, NGX_HTTP_PZ_RT_RECENT,
                                  name->data + ngx_http_pz_rt_recent_prefix.len,
                                  name->len - ngx_http_pz_rt_recent_prefix.len,
                                  1);
    }

    if (nm == NULL || ngx_http_pz_rt_recent_find(r, nm, &values) != NGX_OK) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = values->elts;
    len = 0;

    for (i = 0; i < values->nelts; i++) {
        len += s[i].len + 1;
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;

    for (i = 0; i < values->nelts; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, s[i].data, s[i].len);
    }

    v->len = p - v->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* configuration */

static char *
ngx_http_pz_rt_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_pz_rt_main_conf_t *rmcf = conf;

    u_char                            *p;
    ssize_t                            size;
    ngx_str_t                         *value, name, s;
    ngx_int_t                          expire;
    ngx_uint_t                         i;
    ngx_http_pz_rt_zone_t             *z;
    ngx_http_compile_complex_value_t   ccv;

    if (rmcf->shm_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = (u_char *) ngx_strchr(value[1].data, ':');

    if (p == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "personalize_zone \"%V\" has no size, "
                           "write for example \"rt:10m\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (name.len == 0 || size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid personalize_zone \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "personalize_zone \"%V\" is too small, "
                           "the minimum is %uzk",
                           &value[1], 8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    z = ngx_pcalloc(cf->pool, sizeof(ngx_http_pz_rt_zone_t));
    if (z == NULL) {
        return NGX_CONF_ERROR;
    }

    z->expire = 30 * 60;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "expire=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            expire = ngx_parse_time(&s, 1);
            if (expire == NGX_ERROR || expire == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid expire time \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            z->expire = (time_t) expire;
            continue;
        }

        if (ngx_strncmp(value[i].data, "key=", 4) == 0) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            z->key = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
            if (z->key == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

            ccv.cf = cf;
            ccv.value = &s;
            ccv.complex_value = z->key;

            if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    rmcf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                       &ngx_http_personalize_realtime_module);
    if (rmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (rmcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "shared memory zone \"%V\" is already used",
                           &name);
        return NGX_CONF_ERROR;
    }

    z->name = name;

    rmcf->shm_zone->init = ngx_http_pz_rt_init_zone;
    rmcf->shm_zone->data = z;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_pz_rt_check_name(ngx_conf_t *cf, ngx_str_t *name, const char *what)
{
    size_t  i;
    u_char  c;

    if (name->len == 0 || name->len > NGX_HTTP_PZ_RT_NAME_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s name \"%V\" must have 1 to %d characters",
                           what, name, NGX_HTTP_PZ_RT_NAME_MAX);
        return NGX_ERROR;
    }

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '_' || c == '-')
        {
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s name \"%V\" may hold only letters, digits, "
                           "\"_\" and \"-\"", what, name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the index of the name in rmcf->names, added if new */

static ngx_int_t
ngx_http_pz_rt_name_add(ngx_conf_t *cf, ngx_http_pz_rt_main_conf_t *rmcf,
    ngx_uint_t type, ngx_str_t *name, ngx_uint_t n, time_t period)
{
    uint32_t                hash;
    ngx_uint_t              i;
    ngx_http_pz_rt_name_t  *nm;

    hash = ngx_crc32_short(name->data, name->len);
    nm = rmcf->names.elts;

    for (i = 0; i < rmcf->names.nelts; i++) {

        if (nm[i].type != type) {
            continue;
        }

        if (nm[i].name.len == name->len
            && ngx_strncmp(nm[i].name.data, name->data, name->len) == 0)
        {
            if (type == NGX_HTTP_PZ_RT_RECENT && nm[i].n != n) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "event \"%V\" keeps %ui values elsewhere, "
                                   "not %ui", name, nm[i].n, n);
                return NGX_ERROR;
            }

            if (type == NGX_HTTP_PZ_RT_CAP) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "rule \"%V\" is already capped", name);
                return NGX_ERROR;
            }

            return i;
        }

        if (nm[i].hash == hash) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "name \"%V\" has the same hash as \"%V\", "
                               "please rename one", name, &nm[i].name);
            return NGX_ERROR;
        }
    }

    nm = ngx_array_push(&rmcf->names);
    if (nm == NULL) {
        return NGX_ERROR;
    }

    nm->name = *name;
    nm->hash = hash;
    nm->type = type;
    nm->n = n;
    nm->period = period;
    nm->file = cf->conf_file->file.name;
    nm->line = cf->conf_file->line;

    return rmcf->names.nelts - 1;
}


static char *
ngx_http_pz_rt_event(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_pz_rt_loc_conf_t *rlcf = conf;

    ngx_str_t                         *value, s;
    ngx_int_t                          n, keep;
    ngx_uint_t                         i;
    ngx_http_pz_rt_name_t             *nm;
    ngx_http_pz_rt_event_t            *ev;
    ngx_http_pz_rt_main_conf_t        *rmcf;
    ngx_http_compile_complex_value_t   ccv;

    rmcf = ngx_http_conf_get_module_main_conf(cf,
                                         ngx_http_personalize_realtime_module);

    value = cf->args->elts;

    if (ngx_http_pz_rt_check_name(cf, &value[1], "event") != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (rlcf->events == NULL) {
        rlcf->events = ngx_array_create(cf->pool, 4,
                                        sizeof(ngx_http_pz_rt_event_t));
        if (rlcf->events == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    ev = rlcf->events->elts;
    nm = rmcf->names.elts;

    for (i = 0; i < rlcf->events->nelts; i++) {

        if (nm[ev[i].counter].name.len == value[1].len
            && ngx_strncmp(nm[ev[i].counter].name.data, value[1].data,
                           value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "event \"%V\" is duplicate here", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    ev = ngx_array_push(rlcf->events);
    if (ev == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(ev, sizeof(ngx_http_pz_rt_event_t));

    ev->recent = NGX_CONF_UNSET_UINT;
    ev->file = cf->conf_file->file.name;
    ev->line = cf->conf_file->line;

    if (rmcf->event_line == 0) {
        rmcf->event_file = ev->file;
        rmcf->event_line = ev->line;
    }

    keep = NGX_CONF_UNSET;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "keep=", 5) == 0) {
            keep = ngx_atoi(value[i].data + 5, value[i].len - 5);

            if (keep < 1 || keep > NGX_HTTP_PZ_RT_KEEP_MAX) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\", keep 1 to %d values",
                                   &value[i], NGX_HTTP_PZ_RT_KEEP_MAX);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "if=", 3) == 0
            || ngx_strncmp(value[i].data, "push=", 5) == 0)
        {
            n = (value[i].data[0] == 'i') ? 3 : 5;

            s.data = value[i].data + n;
            s.len = value[i].len - n;

            if (s.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "empty \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

            ccv.cf = cf;
            ccv.value = &s;
            ccv.complex_value = ngx_palloc(cf->pool,
                                           sizeof(ngx_http_complex_value_t));
            if (ccv.complex_value == NULL) {
                return NGX_CONF_ERROR;
            }

            if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            if (n == 3) {
                if (ev->cond) {
                    return "has a duplicate \"if=\"";
                }

                ev->cond = ccv.complex_value;

            } else {
                if (ev->push) {
                    return "has a duplicate \"push=\"";
                }

                ev->push = ccv.complex_value;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" of event \"%V\", "
                           "expected if=, push= or keep=",
                           &value[i], &value[1]);
        return NGX_CONF_ERROR;
    }

    if (keep != NGX_CONF_UNSET && ev->push == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "event \"%V\" has \"keep=\" without \"push=\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    n = ngx_http_pz_rt_name_add(cf, rmcf, NGX_HTTP_PZ_RT_COUNTER, &value[1],
                                0, 0);
    if (n == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    ev->counter = n;

    if (ev->push) {
        if (keep == NGX_CONF_UNSET) {
            keep = NGX_HTTP_PZ_RT_KEEP;
        }

        n = ngx_http_pz_rt_name_add(cf, rmcf, NGX_HTTP_PZ_RT_RECENT,
                                    &value[1], keep, 0);
        if (n == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        ev->recent = n;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_pz_rt_cap(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_pz_rt_main_conf_t *rmcf = conf;

    ngx_str_t  *value;
    ngx_int_t   n, period;

    value = cf->args->elts;

    if (ngx_http_pz_rt_check_name(cf, &value[1], "rule") != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    n = ngx_atoi(value[2].data, value[2].len);

    if (n < 1 || n > NGX_HTTP_PZ_RT_CAP_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid cap \"%V\" of rule \"%V\", "
                           "write 1 to %d showings",
                           &value[2], &value[1], NGX_HTTP_PZ_RT_CAP_MAX);
        return NGX_CONF_ERROR;
    }

    period = ngx_parse_time(&value[3], 1);

    if (period == NGX_ERROR || period == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid cap period \"%V\" of rule \"%V\", "
                           "write for example 30m, 1d",
                           &value[3], &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_pz_rt_name_add(cf, rmcf, NGX_HTTP_PZ_RT_CAP, &value[1], n,
                                (time_t) period)
        == NGX_ERROR)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_pz_rt_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_http_pz_rt_counter_prefix,
                                NGX_HTTP_VAR_NOCACHEABLE
                                |NGX_HTTP_VAR_PREFIX);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_pz_rt_counter_variable;

    var = ngx_http_add_variable(cf, &ngx_http_pz_rt_recent_prefix,
                                NGX_HTTP_VAR_NOCACHEABLE
                                |NGX_HTTP_VAR_PREFIX);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_pz_rt_recent_variable;

    var = ngx_http_add_variable(cf, &ngx_http_pz_rt_preview_var,
                                NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_pz_preview_variable;

    return NGX_OK;
}


static void *
ngx_http_pz_rt_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_pz_rt_main_conf_t  *rmcf;

    rmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_pz_rt_main_conf_t));
    if (rmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rmcf->shm_zone = NULL;
     *     rmcf->event_line = 0;
     */

    if (ngx_array_init(&rmcf->names, cf->pool, 8,
                       sizeof(ngx_http_pz_rt_name_t))
        != NGX_OK)
    {
        return NULL;
    }

    return rmcf;
}


static void *
ngx_http_pz_rt_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_pz_rt_loc_conf_t  *rlcf;

    rlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_pz_rt_loc_conf_t));
    if (rlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rlcf->events = NULL;
     */

    return rlcf;
}


static char *
ngx_http_pz_rt_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_pz_rt_loc_conf_t  *prev = parent;
    ngx_http_pz_rt_loc_conf_t  *conf = child;

    /* like add_header: a level without events inherits all of them */
    if (conf->events == NULL) {
        conf->events = prev->events;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_pz_rt_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt         *h;
    ngx_http_core_main_conf_t   *cmcf;
    ngx_http_pz_rt_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf,
                                         ngx_http_personalize_realtime_module);

    if (ngx_http_pz_metrics_init(cf, rmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_pz_preview_init(cf, rmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (rmcf->shm_zone == NULL) {

        if (rmcf->event_line) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "personalize_event needs a personalize_zone "
                          "in the http block in %V:%ui",
                          &rmcf->event_file, rmcf->event_line);
            return NGX_ERROR;
        }

        if (rmcf->names.nelts) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "personalize_cap needs a personalize_zone "
                          "in the http block");
            return NGX_ERROR;
        }

        if (rmcf->metrics == NULL) {
            return NGX_OK;
        }
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_pz_rt_log_handler;

    return NGX_OK;
}
