/*
 * ngx_http_personalize_realtime_module: what its files share.
 *   ngx_http_personalize_realtime_module.c  zone, events, caps, directives
 *   ngx_http_personalize_metrics.c          metrics and the status handler
 */

#ifndef NGX_HTTP_PERSONALIZE_REALTIME_H_INCLUDED_
#define NGX_HTTP_PERSONALIZE_REALTIME_H_INCLUDED_


#include "ngx_http_personalize.h"


#define NGX_HTTP_PZ_METRICS_SIZE   (1024 * 1024)
#define NGX_HTTP_PZ_SERIES_MAX     256     /* bytes of one series name */


typedef struct ngx_http_pz_rt_shctx_s  ngx_http_pz_rt_shctx_t;
typedef struct ngx_http_pz_metrics_s   ngx_http_pz_metrics_t;


/* shm_zone->data of personalize_zone */
typedef struct {
    ngx_http_pz_rt_shctx_t        *sh;
    ngx_slab_pool_t               *shpool;
    ngx_str_t                      name;
    time_t                         expire;
    ngx_http_complex_value_t      *key;       /* key=, or NULL: the visitor */
} ngx_http_pz_rt_zone_t;


typedef struct {
    ngx_shm_zone_t                *shm_zone;  /* personalize_zone, or NULL */
    ngx_array_t                    names;     /* ngx_http_pz_rt_name_t */
    ngx_str_t                      event_file;   /* of the first event */
    ngx_uint_t                     event_line;

    ngx_shm_zone_t                *metrics;   /* personalize_status, or NULL */

    /* of the other modules' variables, or NGX_ERROR when not there */
    ngx_int_t                      var_slots;       /* $personalize_decisions */
    ngx_int_t                      var_prompts;
    ngx_int_t                      var_prefills;
    ngx_int_t                      var_experiments;

    ngx_array_t                   *preview_keys;    /* pz_bytes_t, or NULL */
    ngx_str_t                      preview_file;    /* of the first key */
    ngx_uint_t                     preview_line;
    ngx_int_t                      var_preview_arg;
    ngx_int_t                      var_preview_cookie;
} ngx_http_pz_rt_main_conf_t;


/* one rule the rules module considered, for the trace */
typedef struct {
    ngx_str_t                      slot;
    ngx_str_t                      rule;
    ngx_str_t                      why;
    ngx_uint_t                     matched;
} ngx_http_pz_trace_t;


/*
 * Per main request.  "decided": the rules module asked
 * ngx_http_personalize_tracing(), that is, it decided for this request.
 */
typedef struct {
    ngx_str_t                        key;
    ngx_http_personalize_preview_t  *preview;
    ngx_str_t                        payload; /* of the preview token */
    ngx_array_t                     *trace;   /* ngx_http_pz_trace_t */
    unsigned                         key_done:1;
    unsigned                         preview_done:1;
    unsigned                         decided:1;
} ngx_http_pz_rt_ctx_t;


extern ngx_module_t  ngx_http_personalize_module;
extern ngx_module_t  ngx_http_personalize_realtime_module;
extern ngx_module_t  ngx_http_personalize_rules_module;


/* ngx_http_personalize_realtime_module.c */

ngx_http_pz_rt_ctx_t *ngx_http_pz_rt_get_ctx(ngx_http_request_t *r);

void ngx_http_pz_rt_zone_stats(ngx_http_pz_rt_zone_t *z,
    ngx_uint_t *visitors, ngx_uint_t *evictions, ngx_uint_t *pages,
    ngx_uint_t *free);


/* ngx_http_personalize_metrics.c */

char *ngx_http_pz_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_pz_metrics_init(ngx_conf_t *cf,
    ngx_http_pz_rt_main_conf_t *rmcf);

/* adds delta to the series family{l1="v1",l2="v2"}; labels may be NULL */
void ngx_http_pz_metric(ngx_http_request_t *r, char *family, char *l1,
    ngx_str_t *v1, char *l2, ngx_str_t *v2, ngx_atomic_int_t delta);
void ngx_http_pz_metric_set(ngx_http_request_t *r, char *family,
    ngx_atomic_int_t value);

/* the metrics of a finished main request */
void ngx_http_pz_metrics_log(ngx_http_request_t *r,
    ngx_http_pz_rt_main_conf_t *rmcf, ngx_uint_t preview);


/* ngx_http_personalize_preview.c */

char *ngx_http_pz_preview_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_pz_preview_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_pz_preview_init(ngx_conf_t *cf,
    ngx_http_pz_rt_main_conf_t *rmcf);


#endif /* NGX_HTTP_PERSONALIZE_REALTIME_H_INCLUDED_ */
