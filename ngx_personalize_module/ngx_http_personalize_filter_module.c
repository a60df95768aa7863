/* placeholder until its owner lands it */
#include "ngx_http_personalize.h"

static ngx_http_module_t  ngx_http_personalize_filter_module_ctx = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

ngx_module_t  ngx_http_personalize_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_personalize_filter_module_ctx,
    NULL,
    NGX_HTTP_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NGX_MODULE_V1_PADDING
};
