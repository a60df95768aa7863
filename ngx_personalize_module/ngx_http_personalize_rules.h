/*
 * ngx_http_personalize_rules_module: the types shared by its two files,
 * ngx_http_personalize_rules.c (directives, compiled at configuration
 * time) and ngx_http_personalize_decide.c (evaluation per request and the
 * decision variables).
 */

#ifndef NGX_HTTP_PERSONALIZE_RULES_H_INCLUDED_
#define NGX_HTTP_PERSONALIZE_RULES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_personalize.h"
#include "ngx_http_personalize_template.h"


#define NGX_HTTP_PZ_PRIORITY_MAX       1000000


typedef enum {
    NGX_HTTP_PZ_COND_SEGMENT = 0,
    NGX_HTTP_PZ_COND_FIELD,
    NGX_HTTP_PZ_COND_VAR,
    NGX_HTTP_PZ_COND_SEARCH,
    NGX_HTTP_PZ_COND_SOURCE,
    NGX_HTTP_PZ_COND_PROFILE,
    NGX_HTTP_PZ_COND_CONSENT,
    NGX_HTTP_PZ_COND_TIME,
    NGX_HTTP_PZ_COND_VARIANT,
    NGX_HTTP_PZ_COND_HOLDOUT,
    NGX_HTTP_PZ_COND_COUNTER
} ngx_http_personalize_cond_e;


typedef enum {
    NGX_HTTP_PZ_OP_EQ = 0,
    NGX_HTTP_PZ_OP_NE,
    NGX_HTTP_PZ_OP_LT,
    NGX_HTTP_PZ_OP_LE,
    NGX_HTTP_PZ_OP_GT,
    NGX_HTTP_PZ_OP_GE,
    NGX_HTTP_PZ_OP_RE,
    NGX_HTTP_PZ_OP_NRE,
    NGX_HTTP_PZ_OP_WITHIN,
    NGX_HTTP_PZ_OP_OLDER,
    NGX_HTTP_PZ_OP_EXISTS,
    NGX_HTTP_PZ_OP_MISSING,
    NGX_HTTP_PZ_OP_ANY,
    NGX_HTTP_PZ_OP_ALL,
    NGX_HTTP_PZ_OP_NONE
} ngx_http_personalize_op_e;


typedef enum {
    NGX_HTTP_PZ_BLOCK = 1,
    NGX_HTTP_PZ_PROMPT,
    NGX_HTTP_PZ_PREFILL
} ngx_http_personalize_action_e;


typedef struct {
    ngx_str_t                      name;
    ngx_uint_t                     from;        /* buckets [from, to) */
    ngx_uint_t                     to;
    ngx_uint_t                     holdout;
} ngx_http_personalize_variant_t;


typedef struct {
    ngx_str_t                      name;
    ngx_array_t                    variants;    /* ..._variant_t */
    ngx_uint_t                     total;       /* buckets in use */
    ngx_int_t                      holdout;     /* variant index, or -1 */
    ngx_array_t                    scope;       /* ngx_uint_t: indices of
                                                   rules held out */
} ngx_http_personalize_experiment_t;


typedef struct {
    ngx_uint_t                     type;        /* ..._cond_e */
    ngx_uint_t                     op;          /* ..._op_e */
    ngx_uint_t                     negate;

    ngx_str_t                      name;        /* field, counter,
                                                   experiment */
    ngx_str_t                      value;       /* operand, variant */
    int64_t                        number;      /* scaled by 10^4 */
    int64_t                        time;        /* epoch, or a duration */
    unsigned                       is_number:1;
    unsigned                       is_time:1;

    ngx_regex_t                   *regex;
    ngx_http_complex_value_t      *cv;
    ngx_array_t                   *list;        /* ngx_str_t */
    ngx_uint_t                     sources;     /* bit per _SRC_*, and
                                                   bit 8: identified */
    time_t                         from;
    time_t                         to;

    ngx_uint_t                     experiment;  /* index, resolved at
                                                   init_main_conf */
    ngx_uint_t                     variant;
    ngx_uint_t                     rule;        /* index of its rule */
    ngx_str_t                      file;
    ngx_uint_t                     line;
} ngx_http_personalize_cond_t;


typedef struct {
    ngx_array_t                    conds;       /* ..._cond_t, any of */
    ngx_str_t                      text;        /* for the trace */
} ngx_http_personalize_when_t;


typedef struct {
    ngx_str_t                      name;
    ngx_uint_t                     index;       /* order of declaration */
    ngx_uint_t                     action;      /* ..._action_e */
    ngx_str_t                      slot;
    ngx_uint_t                     slot_index;
    ngx_str_t                      input;
    ngx_uint_t                     input_index;
    ngx_uint_t                     overwrite;
    ngx_int_t                      priority;
    ngx_array_t                    whens;       /* ..._when_t, all of */
    ngx_http_personalize_tpl_t    *tpl;
    ngx_str_t                      file;
    ngx_uint_t                     line;
} ngx_http_personalize_rule_t;


typedef struct {
    ngx_array_t                    rules;       /* ..._rule_t */
    ngx_array_t                    experiments; /* ..._experiment_t */
    ngx_array_t                    slots;       /* ngx_str_t */
    ngx_array_t                    inputs;      /* ngx_str_t */
    ngx_array_t                    pending;     /* ..._cond_t *, naming
                                                   experiments */
    ngx_int_t                      max_blocks;
    ngx_int_t                      max_prompts;
} ngx_http_personalize_rules_main_conf_t;


typedef struct {
    ngx_http_personalize_decisions_t  *decisions;
    ngx_int_t                         *variants;    /* per experiment:
                                                       variant or -1 */
    ngx_str_t                          search;
    ngx_array_t                        prompt_rules; /* ngx_str_t */
    unsigned                           decided:1;
    unsigned                           bucketed:1;
    unsigned                           searched:1;
    unsigned                           failed:1;
} ngx_http_personalize_rules_ctx_t;


/* "source identified": any source but none */
#define NGX_HTTP_PZ_SRC_IDENTIFIED    4


extern ngx_module_t  ngx_http_personalize_rules_module;


/* ngx_http_personalize_decide.c */
ngx_int_t ngx_http_personalize_rules_add_variables(ngx_conf_t *cf);


#endif /* NGX_HTTP_PERSONALIZE_RULES_H_INCLUDED_ */
