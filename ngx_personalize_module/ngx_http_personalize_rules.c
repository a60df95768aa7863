/*
 * ngx_http_personalize_rules_module: what a request gets.
 *
 * Content teams write top-level "personalize_rule" and
 * "personalize_experiment" blocks (docs/rules.md).  They are compiled
 * while the configuration is read: conditions into typed structures,
 * regular expressions through ngx_regex, templates into node lists, so
 * every mistake is an "nginx -t" error with file and line.  Per main
 * request the rules are evaluated once, the winners rendered into the pool
 * and kept in the module's ctx of r->main, where the filter and the
 * variables find them.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_personalize.h"
#include "ngx_http_personalize_template.h"
#include "ngx_personalize_escape.h"


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


static ngx_int_t ngx_http_personalize_rules_add_variables(ngx_conf_t *cf);
static void *ngx_http_personalize_rules_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_personalize_rules_init_main_conf(ngx_conf_t *cf,
    void *conf);

static char *ngx_http_personalize_rule_block(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_personalize_rule(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf);
static char *ngx_http_personalize_rule_when(ngx_conf_t *cf,
    ngx_http_personalize_rule_t *rule);
static ngx_int_t ngx_http_personalize_cond_parse(ngx_conf_t *cf,
    ngx_http_personalize_cond_t *c, ngx_str_t *args, ngx_uint_t n);
static ngx_int_t ngx_http_personalize_cond_operand(ngx_conf_t *cf,
    ngx_http_personalize_cond_t *c, ngx_str_t *args, ngx_uint_t n,
    ngx_uint_t durations);
static ngx_int_t ngx_http_personalize_op(ngx_str_t *s);
static ngx_array_t *ngx_http_personalize_split(ngx_conf_t *cf,
    ngx_str_t *s);
static ngx_int_t ngx_http_personalize_name_ok(ngx_str_t *s);
static ngx_int_t ngx_http_personalize_slot_name_ok(ngx_str_t *s);
static ngx_uint_t ngx_http_personalize_name_index(ngx_array_t *a,
    ngx_str_t *name);
static char *ngx_http_personalize_rule_template(ngx_conf_t *cf,
    ngx_http_personalize_rule_t *rule, ngx_str_t *value);
static char *ngx_http_personalize_rule_done(ngx_conf_t *cf,
    ngx_http_personalize_rules_main_conf_t *rmcf,
    ngx_http_personalize_rule_t *rule);

static char *ngx_http_personalize_experiment_block(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_personalize_experiment(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);

static ngx_http_personalize_rules_ctx_t *ngx_http_personalize_rules_ctx(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_personalize_bucket(ngx_http_request_t *r,
    ngx_http_personalize_rules_ctx_t *ctx);
static ngx_int_t ngx_http_personalize_decide_all(ngx_http_request_t *r,
    ngx_http_personalize_rules_main_conf_t *rmcf,
    ngx_http_personalize_rules_ctx_t *ctx);
static ngx_int_t ngx_http_personalize_rule_match(ngx_http_request_t *r,
    ngx_http_personalize_rules_ctx_t *ctx, ngx_http_personalize_rule_t *rule,
    ngx_str_t *why);
static ngx_int_t ngx_http_personalize_cond_eval(ngx_http_request_t *r,
    ngx_http_personalize_rules_ctx_t *ctx, ngx_http_personalize_cond_t *c);
static ngx_int_t ngx_http_personalize_cond_segment(ngx_http_request_t *r,
    ngx_http_personalize_cond_t *c);
static ngx_int_t ngx_http_personalize_cond_field(ngx_http_request_t *r,
    ngx_http_personalize_cond_t *c);
static ngx_int_t ngx_http_personalize_cond_string(ngx_http_request_t *r,
    ngx_http_personalize_cond_t *c, ngx_str_t *s);
static ngx_int_t ngx_http_personalize_cond_number(
    ngx_http_personalize_cond_t *c, int64_t v, int64_t operand);
static ngx_int_t ngx_http_personalize_search_term(ngx_http_request_t *r,
    ngx_http_personalize_rules_ctx_t *ctx);
static ngx_int_t ngx_http_personalize_rule_cmp(const void *one,
    const void *two);
static ngx_int_t ngx_http_personalize_render(ngx_http_request_t *r,
    ngx_http_personalize_rule_t *rule, ngx_str_t *out);

static ngx_int_t ngx_http_personalize_name_eq(ngx_str_t *a, u_char *p,
    size_t len);
static ngx_int_t ngx_http_personalize_variant_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_personalize_slot_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_personalize_list_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_personalize_search_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_command_t  ngx_http_personalize_rules_commands[] = {

    { ngx_string("personalize_rule"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_personalize_rule_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("personalize_experiment"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_personalize_experiment_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("personalize_max_blocks"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_personalize_rules_main_conf_t, max_blocks),
      NULL },

    { ngx_string("personalize_max_prompts"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_personalize_rules_main_conf_t, max_prompts),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_personalize_rules_module_ctx = {
    ngx_http_personalize_rules_add_variables,   /* preconfiguration */
    NULL,                                       /* postconfiguration */

    ngx_http_personalize_rules_create_main_conf, /* create main conf */
    ngx_http_personalize_rules_init_main_conf,  /* init main conf */

    NULL,                                       /* create server conf */
    NULL,                                       /* merge server conf */

    NULL,                                       /* create location conf */
    NULL                                        /* merge location conf */
};


ngx_module_t  ngx_http_personalize_rules_module = {
    NGX_MODULE_V1,
    &ngx_http_personalize_rules_module_ctx,     /* module context */
    ngx_http_personalize_rules_commands,        /* module directives */
    NGX_HTTP_MODULE,                            /* module type */
    NULL,                                       /* init master */
    NULL,                                       /* init module */
    NULL,                                       /* init process */
    NULL,                                       /* init thread */
    NULL,                                       /* exit thread */
    NULL,                                       /* exit process */
    NULL,                                       /* exit master */
    NGX_MODULE_V1_PADDING
};


/* data of ngx_http_personalize_slot_variable() */
#define NGX_HTTP_PZ_VAR_SLOT_RULE     0
#define NGX_HTTP_PZ_VAR_SLOT_BLOCK    1
#define NGX_HTTP_PZ_VAR_PREFILL       2
#define NGX_HTTP_PZ_VAR_PROMPT_HTML   3

/* data of ngx_http_personalize_list_variable() */
#define NGX_HTTP_PZ_VAR_EXPERIMENTS   0
#define NGX_HTTP_PZ_VAR_PROMPTS       1
#define NGX_HTTP_PZ_VAR_PREFILLS      2
#define NGX_HTTP_PZ_VAR_DECISIONS     3


static ngx_http_variable_t  ngx_http_personalize_rules_vars[] = {

    { ngx_string("personalize_variant_"), NULL,
      ngx_http_personalize_variant_variable, 0, NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("personalize_slot_"), NULL,
      ngx_http_personalize_slot_variable, NGX_HTTP_PZ_VAR_SLOT_RULE,
      NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("personalize_block_"), NULL,
      ngx_http_personalize_slot_variable, NGX_HTTP_PZ_VAR_SLOT_BLOCK,
      NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("personalize_prefill_"), NULL,
      ngx_http_personalize_slot_variable, NGX_HTTP_PZ_VAR_PREFILL,
      NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("personalize_prompt_html"), NULL,
      ngx_http_personalize_slot_variable, NGX_HTTP_PZ_VAR_PROMPT_HTML,
      0, 0 },

    { ngx_string("personalize_experiments"), NULL,
      ngx_http_personalize_list_variable, NGX_HTTP_PZ_VAR_EXPERIMENTS, 0, 0 },

    { ngx_string("personalize_prompts"), NULL,
      ngx_http_personalize_list_variable, NGX_HTTP_PZ_VAR_PROMPTS, 0, 0 },

    { ngx_string("personalize_prefills"), NULL,
      ngx_http_personalize_list_variable, NGX_HTTP_PZ_VAR_PREFILLS, 0, 0 },

    { ngx_string("personalize_decisions"), NULL,
      ngx_http_personalize_list_variable, NGX_HTTP_PZ_VAR_DECISIONS, 0, 0 },

    { ngx_string("personalize_search_term"), NULL,
      ngx_http_personalize_search_variable, 0, 0, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_personalize_source_names[] = {
    ngx_string("none"),             /* NGX_HTTP_PERSONALIZE_SRC_NONE */
    ngx_string("login"),            /* NGX_HTTP_PERSONALIZE_SRC_LOGIN */
    ngx_string("cookie"),           /* NGX_HTTP_PERSONALIZE_SRC_COOKIE */
    ngx_string("fingerprint"),      /* NGX_HTTP_PERSONALIZE_SRC_FINGERPRINT */
    ngx_string("identified"),       /* any but none */
    ngx_null_string
};

#define NGX_HTTP_PZ_SRC_IDENTIFIED    4


static ngx_str_t  ngx_http_personalize_ops[] = {
    ngx_string("="), ngx_string("!="), ngx_string("<"), ngx_string("<="),
    ngx_string(">"), ngx_string(">="), ngx_string("~"), ngx_string("!~"),
    ngx_null_string
};


/* configuration */

static ngx_int_t
ngx_http_personalize_rules_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_personalize_rules_vars; v->name.len; v++) {
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
ngx_http_personalize_rules_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_personalize_rules_main_conf_t  *rmcf;

    rmcf = ngx_pcalloc(cf->pool,
                       sizeof(ngx_http_personalize_rules_main_conf_t));
    if (rmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&rmcf->rules, cf->pool, 8,
                       sizeof(ngx_http_personalize_rule_t))
        != NGX_OK
        || ngx_array_init(&rmcf->experiments, cf->pool, 2,
                          sizeof(ngx_http_personalize_experiment_t))
           != NGX_OK
        || ngx_array_init(&rmcf->slots, cf->pool, 4, sizeof(ngx_str_t))
           != NGX_OK
        || ngx_array_init(&rmcf->inputs, cf->pool, 2, sizeof(ngx_str_t))
           != NGX_OK
        || ngx_array_init(&rmcf->pending, cf->pool, 2,
                          sizeof(ngx_http_personalize_cond_t *))
           != NGX_OK)
    {
        return NULL;
    }

    rmcf->max_blocks = NGX_CONF_UNSET;
    rmcf->max_prompts = NGX_CONF_UNSET;

    return rmcf;
}


static char *
ngx_http_personalize_rules_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_personalize_rules_main_conf_t *rmcf = conf;

    ngx_str_t                           err;
    ngx_uint_t                          i, k, j, *ri;
    ngx_http_personalize_rule_t        *rule;
    ngx_http_personalize_cond_t       **pc, *c;
    ngx_http_personalize_variant_t     *var;
    ngx_http_personalize_experiment_t  *exp;

    ngx_conf_init_value(rmcf->max_blocks, 2);
    ngx_conf_init_value(rmcf->max_prompts, 1);

    rule = rmcf->rules.elts;

    for (i = 0; i < rmcf->rules.nelts; i++) {
        if (ngx_http_personalize_tpl_check(cf, rule[i].tpl, &err)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "%V in %V:%ui",
                          &err, &rule[i].file, rule[i].line);
            return NGX_CONF_ERROR;
        }
    }

    /* personalize_cap must name a rule */

    if (ngx_http_personalize_caps_check(cf, &rule->name,
                                        sizeof(ngx_http_personalize_rule_t),
                                        rmcf->rules.nelts)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* conditions may name experiments declared further down */

    pc = rmcf->pending.elts;
    exp = rmcf->experiments.elts;

    for (i = 0; i < rmcf->pending.nelts; i++) {
        c = pc[i];

        if (c->type == NGX_HTTP_PZ_COND_COUNTER) {
            if (ngx_http_personalize_event_declared(cf, &c->name, 0)
                != NGX_OK)
            {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "unknown counter \"%V\": declare it with "
                              "personalize_event %V in %V:%ui",
                              &c->name, &c->name, &c->file, c->line);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        for (k = 0; k < rmcf->experiments.nelts; k++) {
            if (exp[k].name.len == c->name.len
                && ngx_strncmp(exp[k].name.data, c->name.data, c->name.len)
                   == 0)
            {
                break;
            }
        }

        if (k == rmcf->experiments.nelts) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown experiment \"%V\": declare it with "
                          "personalize_experiment %V { ... } in %V:%ui",
                          &c->name, &c->name, &c->file, c->line);
            return NGX_CONF_ERROR;
        }

        c->experiment = k;

        if (c->type == NGX_HTTP_PZ_COND_HOLDOUT) {
            if (exp[k].holdout < 0) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "experiment \"%V\" has no holdout in %V:%ui",
                              &c->name, &c->file, c->line);
                return NGX_CONF_ERROR;
            }

            c->variant = exp[k].holdout;
            continue;
        }

        var = exp[k].variants.elts;

        for (j = 0; j < exp[k].variants.nelts; j++) {
            if (!var[j].holdout
                && var[j].name.len == c->value.len
                && ngx_strncmp(var[j].name.data, c->value.data, c->value.len)
                   == 0)
            {
                break;
            }
        }

        if (j == exp[k].variants.nelts) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "experiment \"%V\" has no variant \"%V\" in "
                          "%V:%ui", &c->name, &c->value, &c->file, c->line);
            return NGX_CONF_ERROR;
        }

        c->variant = j;
    }

    /*
     * The holdout sees the default wherever the experiment's variants
     * would change the page: in the slots, prompts and prefill inputs of
     * every rule with a "variant" condition of the experiment, no rule
     * wins for a visitor in the holdout.
     */

    rule = rmcf->rules.elts;

    for (i = 0; i < rmcf->pending.nelts; i++) {
        c = pc[i];

        if (c->type != NGX_HTTP_PZ_COND_VARIANT) {
            continue;
        }

        for (j = 0; j < rmcf->rules.nelts; j++) {
            if (rule[j].action != rule[c->rule].action
                || (rule[j].action == NGX_HTTP_PZ_BLOCK
                    && rule[j].slot_index != rule[c->rule].slot_index)
                || (rule[j].action == NGX_HTTP_PZ_PREFILL
                    && rule[j].input_index != rule[c->rule].input_index))
            {
                continue;
            }

            ri = exp[c->experiment].scope.elts;

            for (k = 0; k < exp[c->experiment].scope.nelts; k++) {
                if (ri[k] == j) {
                    break;
                }
            }

            if (k < exp[c->experiment].scope.nelts) {
                continue;
            }

            ri = ngx_array_push(&exp[c->experiment].scope);
            if (ri == NULL) {
                return NGX_CONF_ERROR;
            }

            *ri = j;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_personalize_rule_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_personalize_rules_main_conf_t *rmcf = conf;

    char                         *rv;
    ngx_str_t                    *value;
    ngx_uint_t                    i;
    ngx_conf_t                    save;
    ngx_http_personalize_rule_t  *rule;

    value = cf->args->elts;

    if (!ngx_http_personalize_name_ok(&value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid rule name \"%V\": use letters, digits, "
                           "\"-\" and \"_\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    rule = rmcf->rules.elts;

    for (i = 0; i < rmcf->rules.nelts; i++) {
        if (rule[i].name.len == value[1].len
            && ngx_strncmp(rule[i].name.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate rule \"%V\", the first one is in "
                               "%V:%ui", &value[1], &rule[i].file,
                               rule[i].line);
            return NGX_CONF_ERROR;
        }
    }

    rule = ngx_array_push(&rmcf->rules);
    if (rule == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(rule, sizeof(ngx_http_personalize_rule_t));

    rule->name = value[1];
    rule->index = rmcf->rules.nelts - 1;
    rule->file = cf->conf_file->file.name;
    rule->line = cf->conf_file->line;

    if (ngx_array_init(&rule->whens, cf->pool, 2,
                       sizeof(ngx_http_personalize_when_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    save = *cf;
    cf->handler = ngx_http_personalize_rule;
    cf->handler_conf = (char *) rule;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_personalize_rule_done(cf, rmcf, rule);
}


/* one statement inside "personalize_rule NAME { ... }" */

static char *
ngx_http_personalize_rule(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    ngx_http_personalize_rule_t  *rule = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    value = cf->args->elts;

    if (value[0].len == 7 && ngx_strncmp(value[0].data, "include", 7) == 0) {
        if (cf->args->nelts != 2) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"include\" takes one file name");
            return NGX_CONF_ERROR;
        }

        return ngx_conf_include(cf, dummy, conf);
    }

    if (value[0].len == 4 && ngx_strncmp(value[0].data, "when", 4) == 0) {
        return ngx_http_personalize_rule_when(cf, rule);
    }

    if (value[0].len == 4 && ngx_strncmp(value[0].data, "slot", 4) == 0) {

        if (cf->args->nelts != 2
            || !ngx_http_personalize_slot_name_ok(&value[1]))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "write \"slot NAME;\" with the name of the "
                               "page's slot marker: letters, digits, \"_\", "
                               "\".\" and \"-\" (not \"--\"), and not "
                               "\"prompts\"");
            return NGX_CONF_ERROR;
        }

        if (rule->slot.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "rule \"%V\" already has a slot", &rule->name);
            return NGX_CONF_ERROR;
        }

        rule->slot = value[1];
        return NGX_CONF_OK;
    }

    if (value[0].len == 8 && ngx_strncmp(value[0].data, "priority", 8) == 0) {

        n = (cf->args->nelts == 2) ? ngx_atoi(value[1].data, value[1].len)
                                   : NGX_ERROR;

        if (n == NGX_ERROR || n > NGX_HTTP_PZ_PRIORITY_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the priority must be a whole number from 0 "
                               "to 1000000");
            return NGX_CONF_ERROR;
        }

        rule->priority = n;
        return NGX_CONF_OK;
    }

    if ((value[0].len == 5 && ngx_strncmp(value[0].data, "block", 5) == 0)
        || (value[0].len == 6
            && ngx_strncmp(value[0].data, "prompt", 6) == 0))
    {
        if (rule->action) {
            goto twice;
        }

        if (cf->args->nelts != 2) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "write \"%V FILE;\" with one template file",
                               &value[0]);
            return NGX_CONF_ERROR;
        }

        rule->action = (value[0].len == 5) ? NGX_HTTP_PZ_BLOCK
                                           : NGX_HTTP_PZ_PROMPT;

        return ngx_http_personalize_rule_template(cf, rule, &value[1]);
    }

    if (value[0].len == 7 && ngx_strncmp(value[0].data, "prefill", 7) == 0) {

        if (rule->action) {
            goto twice;
        }

        if ((cf->args->nelts != 3 && cf->args->nelts != 4)
            || (cf->args->nelts == 4
                && (value[3].len != 9
                    || ngx_strncmp(value[3].data, "overwrite", 9) != 0)))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "write \"prefill INPUT VALUE;\" or "
                               "\"prefill INPUT VALUE overwrite;\"");
            return NGX_CONF_ERROR;
        }

        if (value[1].len == 0 || value[1].len > 128
            || ngx_strlchr(value[1].data, value[1].data + value[1].len, '"')
            || ngx_strlchr(value[1].data, value[1].data + value[1].len, '\''))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid input name \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }

        rule->action = NGX_HTTP_PZ_PREFILL;
        rule->input = value[1];
        rule->overwrite = (cf->args->nelts == 4);

        return ngx_http_personalize_rule_template(cf, rule, &value[2]);
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown statement \"%V\" in personalize_rule "
                       "\"%V\"; expected when, slot, priority, block, "
                       "prompt or prefill", &value[0], &rule->name);
    return NGX_CONF_ERROR;

twice:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "rule \"%V\" already has an action; a rule has "
                       "exactly one block, prompt or prefill", &rule->name);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_personalize_rule_template(ngx_conf_t *cf,
    ngx_http_personalize_rule_t *rule, ngx_str_t *value)
{
    ngx_str_t  path, err;

    if (rule->action == NGX_HTTP_PZ_PREFILL) {
        rule->tpl = ngx_http_personalize_tpl_inline(cf, value, &err);

    } else {
        path = *value;

        if (ngx_conf_full_name(cf->cycle, &path, 0) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        rule->tpl = ngx_http_personalize_tpl_file(cf, &path, &err);
    }

    if (rule->tpl == NULL) {
        if (err.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V", &err);
        }

        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_personalize_rule_done(ngx_conf_t *cf,
    ngx_http_personalize_rules_main_conf_t *rmcf,
    ngx_http_personalize_rule_t *rule)
{
    if (rule->action == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "rule \"%V\" has no action: add \"block FILE;\", "
                      "\"prompt FILE;\" or \"prefill INPUT VALUE;\" in "
                      "%V:%ui", &rule->name, &rule->file, rule->line);
        return NGX_CONF_ERROR;
    }

    if (rule->action == NGX_HTTP_PZ_BLOCK && rule->slot.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "rule \"%V\" has a block but no slot: add "
                      "\"slot NAME;\" in %V:%ui",
                      &rule->name, &rule->file, rule->line);
        return NGX_CONF_ERROR;
    }

    if (rule->action != NGX_HTTP_PZ_BLOCK && rule->slot.len) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "rule \"%V\" has a slot but no block; prompts and "
                      "prefills need no slot in %V:%ui",
                      &rule->name, &rule->file, rule->line);
        return NGX_CONF_ERROR;
    }

    if (rule->action == NGX_HTTP_PZ_BLOCK) {
        rule->slot_index = ngx_http_personalize_name_index(&rmcf->slots,
                                                           &rule->slot);
        if (rule->slot_index == (ngx_uint_t) NGX_ERROR) {
            return NGX_CONF_ERROR;
        }
    }

    if (rule->action == NGX_HTTP_PZ_PREFILL) {
        rule->input_index = ngx_http_personalize_name_index(&rmcf->inputs,
                                                            &rule->input);
        if (rule->input_index == (ngx_uint_t) NGX_ERROR) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* the index of name in an array of ngx_str_t, added when new */

static ngx_uint_t
ngx_http_personalize_name_index(ngx_array_t *a, ngx_str_t *name)
{
    ngx_str_t   *s;
    ngx_uint_t   i;

    s = a->elts;

    for (i = 0; i < a->nelts; i++) {
        if (s[i].len == name->len
            && ngx_strncmp(s[i].data, name->data, name->len) == 0)
        {
            return i;
        }
    }

    s = ngx_array_push(a);
    if (s == NULL) {
        return (ngx_uint_t) NGX_ERROR;
    }

    *s = *name;

    return a->nelts - 1;
}


static char *
ngx_http_personalize_rule_when(ngx_conf_t *cf,
    ngx_http_personalize_rule_t *rule)
{
    u_char                                  *p;
    size_t                                   len;
    ngx_str_t                               *value;
    ngx_uint_t                               i, start;
    ngx_http_personalize_cond_t             *c, **pc;
    ngx_http_personalize_when_t             *when;
    ngx_http_personalize_rules_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf,
                                            ngx_http_personalize_rules_module);

    value = cf->args->elts;

    if (cf->args->nelts < 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"when\" needs a condition, for example "
                           "\"when segment vip;\"");
        return NGX_CONF_ERROR;
    }

    when = ngx_array_push(&rule->whens);
    if (when == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_array_init(&when->conds, cf->pool, 1,
                       sizeof(ngx_http_personalize_cond_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* the line as written, for the trace */

    len = 0;

    for (i = 1; i < cf->args->nelts; i++) {
        len += value[i].len + 1;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    when->text.data = p;

    for (i = 1; i < cf->args->nelts; i++) {
        if (i > 1) {
            *p++ = ' ';
        }

        p = ngx_cpymem(p, value[i].data, value[i].len);
    }

    when->text.len = p - when->text.data;

    /* conditions joined by "or" */

    start = 1;

    for (i = 1; i <= cf->args->nelts; i++) {

        if (i < cf->args->nelts
            && !(value[i].len == 2 && ngx_strncmp(value[i].data, "or", 2)
                                      == 0))
        {
            continue;
        }

        if (i == start) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"or\" needs a condition on both sides");
            return NGX_CONF_ERROR;
        }

        c = ngx_array_push(&when->conds);
        if (c == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(c, sizeof(ngx_http_personalize_cond_t));
        c->rule = rule->index;
        c->file = cf->conf_file->file.name;
        c->line = cf->conf_file->line;

        if (value[start].len == 3
            && ngx_strncmp(value[start].data, "not", 3) == 0)
        {
            c->negate = 1;
            start++;

            if (start == i) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"not\" needs a condition after it");
                return NGX_CONF_ERROR;
            }
        }

        if (ngx_http_personalize_cond_parse(cf, c, &value[start], i - start)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        start = i + 1;
    }

    /* experiments are looked up when the whole configuration is read; the
     * conditions move no more once every "when" of the rule is parsed, so
     * keep pointers only after the line is complete */

    c = when->conds.elts;

    for (i = 0; i < when->conds.nelts; i++) {
        if (c[i].type == NGX_HTTP_PZ_COND_VARIANT
            || c[i].type == NGX_HTTP_PZ_COND_HOLDOUT
            || c[i].type == NGX_HTTP_PZ_COND_COUNTER)
        {
            pc = ngx_array_push(&rmcf->pending);
            if (pc == NULL) {
                return NGX_CONF_ERROR;
            }

            *pc = &c[i];
        }
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_personalize_cond_parse(ngx_conf_t *cf, ngx_http_personalize_cond_t *c,
    ngx_str_t *args, ngx_uint_t n)
{
    ngx_int_t                          rc;
    ngx_str_t                         *s, *kw;
    const char                        *u;
    ngx_uint_t                         i, k;
    ngx_http_compile_complex_value_t   ccv;

    kw = &args[0];

#define kw_is(w)  (kw->len == sizeof(w) - 1                                 \
                   && ngx_strncmp(kw->data, w, sizeof(w) - 1) == 0)

    if (kw_is("segment")) {
        u = "segment [all|none] NAME,NAME";
        c->type = NGX_HTTP_PZ_COND_SEGMENT;
        c->op = NGX_HTTP_PZ_OP_ANY;

        if (n == 3) {
            if (args[1].len == 3 && ngx_strncmp(args[1].data, "all", 3) == 0)
            {
                c->op = NGX_HTTP_PZ_OP_ALL;

            } else if (args[1].len == 4
                       && ngx_strncmp(args[1].data, "none", 4) == 0)
            {
                c->op = NGX_HTTP_PZ_OP_NONE;

            } else if (!(args[1].len == 3
                         && ngx_strncmp(args[1].data, "any", 3) == 0))
            {
                goto usage;
            }

        } else if (n != 2) {
            goto usage;
        }

        c->list = ngx_http_personalize_split(cf, &args[n - 1]);
        if (c->list == NULL) {
            goto usage;
        }

        return NGX_OK;
    }

    if (kw_is("field") || kw_is("counter")) {
        u = kw_is("field") ? "field NAME OP VALUE, field NAME within|"
                             "older_than DURATION, field NAME exists|missing"
                           : "counter NAME OP NUMBER";
        c->type = kw_is("field") ? NGX_HTTP_PZ_COND_FIELD
                                 : NGX_HTTP_PZ_COND_COUNTER;

        if (n < 3 || !ngx_http_personalize_name_ok(&args[1])
            || args[1].len > PZ_NAME_MAX)
        {
            goto usage;
        }

        c->name = args[1];

        rc = ngx_http_personalize_cond_operand(cf, c, &args[2], n - 2,
                                          c->type == NGX_HTTP_PZ_COND_FIELD);
        if (rc != NGX_OK) {
            return rc == NGX_DECLINED ? NGX_ERROR : rc;
        }

        if (c->type == NGX_HTTP_PZ_COND_COUNTER
            && (c->op > NGX_HTTP_PZ_OP_GE || !c->is_number))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "write \"counter NAME OP NUMBER\" with one of "
                               "= != < <= > >=");
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (kw_is("var")) {
        u = "var $VARIABLE OP VALUE, var $VARIABLE exists|missing";
        c->type = NGX_HTTP_PZ_COND_VAR;

        if (n < 3) {
            goto usage;
        }

        c->cv = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (c->cv == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));
        ccv.cf = cf;
        ccv.value = &args[1];
        ccv.complex_value = c->cv;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_ERROR;
        }

        return ngx_http_personalize_cond_operand(cf, c, &args[2], n - 2, 0)
               == NGX_OK ? NGX_OK : NGX_ERROR;
    }

    if (kw_is("referrer_search")) {
        u = "referrer_search OP VALUE, referrer_search exists|missing";
        c->type = NGX_HTTP_PZ_COND_SEARCH;

        if (n < 2) {
            goto usage;
        }

        return ngx_http_personalize_cond_operand(cf, c, &args[1], n - 1, 0)
               == NGX_OK ? NGX_OK : NGX_ERROR;
    }

    if (kw_is("source")) {
        u = "source login,cookie,fingerprint,none,identified";
        c->type = NGX_HTTP_PZ_COND_SOURCE;

        if (n != 2) {
            goto usage;
        }

        c->list = ngx_http_personalize_split(cf, &args[1]);
        if (c->list == NULL) {
            goto usage;
        }

        s = c->list->elts;

        for (i = 0; i < c->list->nelts; i++) {
            for (k = 0; ngx_http_personalize_source_names[k].len; k++) {
                if (s[i].len == ngx_http_personalize_source_names[k].len
                    && ngx_strncmp(s[i].data,
                                   ngx_http_personalize_source_names[k].data,
                                   s[i].len)
                       == 0)
                {
                    break;
                }
            }

            if (ngx_http_personalize_source_names[k].len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "unknown source \"%V\"; expected login, "
                                   "cookie, fingerprint, none or identified",
                                   &s[i]);
                return NGX_ERROR;
            }

            c->sources |= 1 << k;
        }

        return NGX_OK;
    }

    if (kw_is("profile") || kw_is("consent")) {
        u = kw_is("profile") ? "profile" : "consent";
        c->type = kw_is("profile") ? NGX_HTTP_PZ_COND_PROFILE
                                   : NGX_HTTP_PZ_COND_CONSENT;

        if (n != 1) {
            goto usage;
        }

        return NGX_OK;
    }

    if (kw_is("time")) {
        u = "time 2026-11-20T00:00:00Z 2026-12-01T00:00:00Z";
        c->type = NGX_HTTP_PZ_COND_TIME;

        if (n != 3
            || pz_time_parse((char *) args[1].data, args[1].len, &c->time)
               != 0)
        {
            goto usage;
        }

        c->from = (time_t) c->time;

        if (pz_time_parse((char *) args[2].data, args[2].len, &c->time)
            != 0)
        {
            goto usage;
        }

        c->to = (time_t) c->time;

        if (c->to <= c->from) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the campaign ends (%V) before it starts "
                               "(%V)", &args[2], &args[1]);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (kw_is("variant") || kw_is("holdout")) {
        u = kw_is("variant") ? "variant EXPERIMENT VARIANT"
                             : "holdout EXPERIMENT";
        c->type = kw_is("variant") ? NGX_HTTP_PZ_COND_VARIANT
                                   : NGX_HTTP_PZ_COND_HOLDOUT;

        if (n != (c->type == NGX_HTTP_PZ_COND_VARIANT ? 3u : 2u)) {
            goto usage;
        }

        c->name = args[1];

        if (n == 3) {
            c->value = args[2];
        }

        return NGX_OK;
    }

#undef kw_is

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown condition \"%V\"; expected segment, field, "
                       "var, referrer_search, source, profile, consent, "
                       "time, variant, holdout or counter", kw);
    return NGX_ERROR;

usage:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "a \"%V\" condition is written as: %s", kw, u);
    return NGX_ERROR;
}


/* "OP VALUE", "exists", "missing", and for fields "within DURATION",
 * "older_than DURATION" */

static ngx_int_t
ngx_http_personalize_cond_operand(ngx_conf_t *cf,
    ngx_http_personalize_cond_t *c, ngx_str_t *args, ngx_uint_t n,
    ngx_uint_t durations)
{
    u_char               errstr[NGX_MAX_CONF_ERRSTR];
    ngx_int_t            op, t;
    ngx_regex_compile_t  rc;

    if (n == 1 && args[0].len == 6
        && ngx_strncmp(args[0].data, "exists", 6) == 0)
    {
        c->op = NGX_HTTP_PZ_OP_EXISTS;
        return NGX_OK;
    }

    if (n == 1 && args[0].len == 7
        && ngx_strncmp(args[0].data, "missing", 7) == 0)
    {
        c->op = NGX_HTTP_PZ_OP_MISSING;
        return NGX_OK;
    }

    if (n != 2) {
        goto usage;
    }

    if (durations
        && ((args[0].len == 6 && ngx_strncmp(args[0].data, "within", 6) == 0)
            || (args[0].len == 10
                && ngx_strncmp(args[0].data, "older_than", 10) == 0)))
    {
        c->op = (args[0].len == 6) ? NGX_HTTP_PZ_OP_WITHIN
                                   : NGX_HTTP_PZ_OP_OLDER;

        t = ngx_parse_time(&args[1], 1);

        if (t == NGX_ERROR || t <= 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid duration \"%V\"; write for example "
                               "90d, 2d, 12h, 30m or 1w", &args[1]);
            return NGX_ERROR;
        }

        c->time = t;
        return NGX_OK;
    }

    op = ngx_http_personalize_op(&args[0]);

    if (op == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown operator \"%V\"; expected = != < <= > >= "
                           "~ ~* !~ !~*%s", &args[0],
                           durations ? ", within, older_than, exists or "
                                       "missing"
                                     : ", exists or missing");
        return NGX_ERROR;
    }

    c->value = args[1];

    if (op == NGX_HTTP_PZ_OP_RE || op == NGX_HTTP_PZ_OP_NRE) {
        c->op = op;

        ngx_memzero(&rc, sizeof(ngx_regex_compile_t));
        rc.pattern = args[1];
        rc.pool = cf->pool;
        rc.err.len = NGX_MAX_CONF_ERRSTR;
        rc.err.data = errstr;

        if (args[0].data[args[0].len - 1] == '*') {
            rc.options = NGX_REGEX_CASELESS;
        }

        if (ngx_regex_compile(&rc) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "bad regular expression \"%V\": %V",
                               &args[1], &rc.err);
            return NGX_ERROR;
        }

        c->regex = rc.regex;
        return NGX_OK;
    }

    c->op = op;

    if (pz_decimal_parse((char *) args[1].data, args[1].len, &c->number)
        == 0)
    {
        c->is_number = 1;
    }

    if (pz_time_parse((char *) args[1].data, args[1].len, &c->time) == 0) {
        c->is_time = 1;
    }

    if (op >= NGX_HTTP_PZ_OP_LT && op <= NGX_HTTP_PZ_OP_GE
        && !c->is_number && !c->is_time)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" compares numbers or times, and \"%V\" "
                           "is neither", &args[0], &args[1]);
        return NGX_ERROR;
    }

    return NGX_OK;

usage:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "write an operator and one value, for example "
                       "\">= 500\" or \"~* ^shoe\"; quote a value with "
                       "spaces");
    return NGX_ERROR;
}


static ngx_int_t
ngx_http_personalize_op(ngx_str_t *s)
{
    ngx_str_t   t;
    ngx_uint_t  i;

    t = *s;

    /* "~*" and "!~*" are the caseless forms of "~" and "!~" */

    if (t.len >= 2 && t.data[t.len - 1] == '*' && t.data[t.len - 2] == '~') {
        t.len--;
    }

    for (i = 0; ngx_http_personalize_ops[i].len; i++) {
        if (t.len == ngx_http_personalize_ops[i].len
            && ngx_strncmp(t.data, ngx_http_personalize_ops[i].data, t.len)
               == 0)
        {
            return i;
        }
    }

    return NGX_ERROR;
}


/* "a,b,c" into an array of ngx_str_t; NULL when an item is empty */

static ngx_array_t *
ngx_http_personalize_split(ngx_conf_t *cf, ngx_str_t *s)
{
    u_char       *p, *last, *comma;
    ngx_str_t    *item;
    ngx_array_t  *a;

    a = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
    if (a == NULL) {
        return NULL;
    }

    p = s->data;
    last = s->data + s->len;

    for ( ;; ) {
        comma = ngx_strlchr(p, last, ',');

        if (comma == NULL) {
            comma = last;
        }

        if (comma == p) {
            return NULL;
        }

        item = ngx_array_push(a);
        if (item == NULL) {
            return NULL;
        }

        item->data = p;
        item->len = comma - p;

        if (comma == last) {
            return a;
        }

        p = comma + 1;
    }
}


static ngx_int_t
ngx_http_personalize_name_ok(ngx_str_t *s)
{
    size_t  i;
    u_char  c;

    if (s->len == 0 || s->len > 64) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/* a slot is named as in the page's markers (docs/markup.md) */

static ngx_int_t
ngx_http_personalize_slot_name_ok(ngx_str_t *s)
{
    size_t  i;
    u_char  c;

    if (s->len == 0 || s->len > 64
        || (s->len == 7 && ngx_strncmp(s->data, "prompts", 7) == 0))
    {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
        {
            return 0;
        }

        if (c == '-' && i > 0 && s->data[i - 1] == '-') {
            return 0;
        }
    }

    return 1;
}


static char *
ngx_http_personalize_experiment_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_personalize_rules_main_conf_t *rmcf = conf;

    char                               *rv;
    ngx_str_t                          *value;
    ngx_uint_t                          i;
    ngx_conf_t                          save;
    ngx_http_personalize_experiment_t  *exp;

    value = cf->args->elts;

    if (!ngx_http_personalize_name_ok(&value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid experiment name \"%V\": use letters, "
                           "digits, \"-\" and \"_\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    exp = rmcf->experiments.elts;

    for (i = 0; i < rmcf->experiments.nelts; i++) {
        if (exp[i].name.len == value[1].len
            && ngx_strncmp(exp[i].name.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate experiment \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    exp = ngx_array_push(&rmcf->experiments);
    if (exp == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(exp, sizeof(ngx_http_personalize_experiment_t));
    exp->name = value[1];
    exp->holdout = -1;

    if (ngx_array_init(&exp->variants, cf->pool, 2,
                       sizeof(ngx_http_personalize_variant_t))
        != NGX_OK
        || ngx_array_init(&exp->scope, cf->pool, 4, sizeof(ngx_uint_t))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    save = *cf;
    cf->handler = ngx_http_personalize_experiment;
    cf->handler_conf = (char *) exp;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    for (i = 0; i < exp->variants.nelts; i++) {
        if (!((ngx_http_personalize_variant_t *) exp->variants.elts)[i]
            .holdout)
        {
            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "experiment \"%V\" has no variant: add "
                       "\"variant NAME PERCENT%%;\"", &exp->name);
    return NGX_CONF_ERROR;
}


/* one statement inside "personalize_experiment NAME { ... }" */

static char *
ngx_http_personalize_experiment(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf)
{
    ngx_http_personalize_experiment_t  *exp = conf;

    u_char                          *dot;
    ngx_int_t                        n, frac;
    ngx_str_t                       *value, name, pct;
    ngx_uint_t                       i, holdout;
    ngx_http_personalize_variant_t  *var;

    value = cf->args->elts;

    if (value[0].len == 7 && ngx_strncmp(value[0].data, "include", 7) == 0
        && cf->args->nelts == 2)
    {
        return ngx_conf_include(cf, dummy, conf);
    }

    holdout = (value[0].len == 7
               && ngx_strncmp(value[0].data, "holdout", 7) == 0);

    if (holdout && cf->args->nelts == 2) {
        ngx_str_set(&name, "holdout");
        pct = value[1];

    } else if (!holdout && cf->args->nelts == 3 && value[0].len == 7
               && ngx_strncmp(value[0].data, "variant", 7) == 0)
    {
        name = value[1];
        pct = value[2];

        if (!ngx_http_personalize_name_ok(&name)
            || (name.len == 7 && ngx_strncmp(name.data, "holdout", 7) == 0))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid variant name \"%V\"", &name);
            return NGX_CONF_ERROR;
        }

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "an experiment holds \"variant NAME PERCENT%%;\" "
                           "and \"holdout PERCENT%%;\" lines");
        return NGX_CONF_ERROR;
    }

    /* "45%", "12.5%", "0.25%": in buckets of 0.01% */

    n = NGX_ERROR;

    if (pct.len >= 2 && pct.data[pct.len - 1] == '%') {
        pct.len--;
        dot = ngx_strlchr(pct.data, pct.data + pct.len, '.');

        if (dot == NULL) {
            n = ngx_atoi(pct.data, pct.len);
            n = (n == NGX_ERROR || n > 100) ? NGX_ERROR : n * 100;

        } else if (dot > pct.data && pct.data + pct.len - dot - 1 >= 1
                   && pct.data + pct.len - dot - 1 <= 2)
        {
            n = ngx_atoi(pct.data, dot - pct.data);
            frac = ngx_atoi(dot + 1, pct.data + pct.len - dot - 1);

            if (n == NGX_ERROR || frac == NGX_ERROR || n > 100) {
                n = NGX_ERROR;

            } else {
                n = n * 100
                    + (pct.data + pct.len - dot - 1 == 1 ? frac * 10 : frac);
            }
        }
    }

    if (n == NGX_ERROR || n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid percentage \"%V\"; write for example "
                           "45%% or 12.5%%", holdout ? &value[1] : &value[2]);
        return NGX_CONF_ERROR;
    }

    var = exp->variants.elts;

    for (i = 0; i < exp->variants.nelts; i++) {
        if (var[i].name.len == name.len
            && ngx_strncmp(var[i].name.data, name.data, name.len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               holdout ? "experiment \"%V\" has two holdouts"
                                       : "experiment \"%V\" has two "
                                         "variants \"%V\"",
                               &exp->name, &name);
            return NGX_CONF_ERROR;
        }
    }

    if (exp->total + n > PZ_BUCKETS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the percentages of experiment \"%V\" add up to "
                           "more than 100%%", &exp->name);
        return NGX_CONF_ERROR;
    }

    var = ngx_array_push(&exp->variants);
    if (var == NULL) {
        return NGX_CONF_ERROR;
    }

    var->name = name;
    var->from = exp->total;
    var->to = exp->total + n;
    var->holdout = holdout;

    if (holdout) {
        exp->holdout = exp->variants.nelts - 1;
    }

    exp->total += n;

    return NGX_CONF_OK;
}


/* the request path */

static ngx_http_personalize_rules_ctx_t *
ngx_http_personalize_rules_ctx(ngx_http_request_t *r)
{
    ngx_http_personalize_rules_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_personalize_rules_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_personalize_rules_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_personalize_rules_module);
    }

    return ctx;
}


/* the variant of each experiment for the visitor of r->main */

static ngx_int_t
ngx_http_personalize_bucket(ngx_http_request_t *r,
    ngx_http_personalize_rules_ctx_t *ctx)
{
    unsigned                                 b;
    ngx_str_t                               *id;
    ngx_uint_t                               i, j, k;
    ngx_http_personalize_variant_t          *var;
    ngx_http_personalize_preview_t          *pv;
    ngx_http_personalize_experiment_t       *exp;
    ngx_http_personalize_forced_variant_t   *fv;
    ngx_http_personalize_visitor_t          *visitor;
    ngx_http_personalize_rules_main_conf_t  *rmcf;

    if (ctx->bucketed) {
        return NGX_OK;
    }

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_personalize_rules_module);

    ctx->variants = ngx_palloc(r->pool, (rmcf->experiments.nelts + 1)
                                        * sizeof(ngx_int_t));
    if (ctx->variants == NULL) {
        return NGX_ERROR;
    }

    ctx->bucketed = 1;

    /*
     * The canonical profile id when the visitor has a profile, so that a
     * customer is in the same variant on every device; the visitor id
     * otherwise.  Anonymous visitors are in no experiment.
     */

    visitor = ngx_http_personalize_visitor(r);
    id = NULL;

    if (visitor && visitor->profile_id.len) {
        id = &visitor->profile_id;

    } else if (visitor && visitor->id.len) {
        id = &visitor->id;
    }

    pv = ngx_http_personalize_preview(r);
    exp = rmcf->experiments.elts;

    for (i = 0; i < rmcf->experiments.nelts; i++) {
        ctx->variants[i] = -1;
        var = exp[i].variants.elts;

        /* a preview may force a variant */

        fv = (pv && pv->variants) ? pv->variants->elts : NULL;

        for (j = 0; fv && j < pv->variants->nelts; j++) {
            if (!ngx_http_personalize_name_eq(&exp[i].name,
                                              fv[j].experiment.data,
                                              fv[j].experiment.len))
            {
                continue;
            }

            for (k = 0; k < exp[i].variants.nelts; k++) {
                if (var[k].name.len == fv[j].variant.len
                    && ngx_strncmp(var[k].name.data, fv[j].variant.data,
                                   fv[j].variant.len)
                       == 0)
                {
                    ctx->variants[i] = k;
                }
            }
        }

        if (ctx->variants[i] >= 0) {
            continue;
        }

        if (id == NULL) {
            continue;
        }

        b = pz_bucket(exp[i].name.data, exp[i].name.len, id->data, id->len);

        for (k = 0; k < exp[i].variants.nelts; k++) {
            if (b >= var[k].from && b < var[k].to) {
                ctx->variants[i] = k;
                break;
            }
        }
    }

    return NGX_OK;
}


ngx_http_personalize_decisions_t *
ngx_http_personalize_decide(ngx_http_request_t *r)
{
    ngx_http_personalize_rules_ctx_t        *ctx;
    ngx_http_personalize_rules_main_conf_t  *rmcf;

    r = r->main;

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_personalize_rules_module);

    if (rmcf == NULL || rmcf->rules.nelts == 0) {
        return NULL;
    }

    ctx = ngx_http_personalize_rules_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }

    if (ctx->decided) {
        return ctx->decisions;
    }

    ctx->decided = 1;

    if (ngx_http_personalize_decide_all(r, rmcf, ctx) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "personalize: decisions failed, serving the defaults");
        ctx->decisions = NULL;
        ctx->failed = 1;
    }

    return ctx->decisions;
}


static ngx_int_t
ngx_http_personalize_decide_all(ngx_http_request_t *r,
    ngx_http_personalize_rules_main_conf_t *rmcf,
    ngx_http_personalize_rules_ctx_t *ctx)
{
    u_char                                 *p, *held;
    ngx_int_t                               rc;
    ngx_str_t                               why, *s, out;
    ngx_uint_t                              i, k, n, tracing, nwin, *ri;
    ngx_http_personalize_experiment_t      *exp;
    ngx_http_personalize_rule_t            *rule, **best, **input_best,
                                          **win;
    ngx_http_personalize_prefill_t         *pf;
    ngx_http_personalize_decisions_t       *d;
    ngx_http_personalize_slot_decision_t   *sd;

    if (ngx_http_personalize_bucket(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    d = ngx_pcalloc(r->pool, sizeof(ngx_http_personalize_decisions_t));
    if (d == NULL) {
        return NGX_ERROR;
    }

    if (ngx_array_init(&d->slots, r->pool, rmcf->slots.nelts + 1,
                       sizeof(ngx_http_personalize_slot_decision_t))
        != NGX_OK
        || ngx_array_init(&d->prefills, r->pool, rmcf->inputs.nelts + 1,
                          sizeof(ngx_http_personalize_prefill_t))
           != NGX_OK
        || ngx_array_init(&ctx->prompt_rules, r->pool, 1, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    n = rmcf->slots.nelts + rmcf->inputs.nelts + rmcf->rules.nelts + 1;

    best = ngx_pcalloc(r->pool, n * sizeof(ngx_http_personalize_rule_t *));
    if (best == NULL) {
        return NGX_ERROR;
    }

    input_best = best + rmcf->slots.nelts;
    win = input_best + rmcf->inputs.nelts;
    nwin = 0;

    tracing = ngx_http_personalize_tracing(r);
    rule = rmcf->rules.elts;

    /* rules held out for visitors in the holdout of an experiment */

    held = ngx_pcalloc(r->pool, rmcf->rules.nelts);
    if (held == NULL) {
        return NGX_ERROR;
    }

    exp = rmcf->experiments.elts;

    for (i = 0; i < rmcf->experiments.nelts; i++) {
        if (exp[i].holdout < 0 || ctx->variants[i] != exp[i].holdout) {
            continue;
        }

        ri = exp[i].scope.elts;

        for (k = 0; k < exp[i].scope.nelts; k++) {
            held[ri[k]] = 1;
        }
    }

    /* which rules match, the best per slot and input, prompts in order */

    for (i = 0; i < rmcf->rules.nelts; i++) {

        if (held[i]) {
            ngx_str_set(&why, "holdout of an experiment");
            rc = NGX_DECLINED;

        } else {
            rc = ngx_http_personalize_rule_match(r, ctx, &rule[i], &why);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }
        }

        if (rc == NGX_OK && !ngx_http_personalize_cap_allows(r,
                                                          rule[i].name.data,
                                                          rule[i].name.len))
        {
            ngx_str_set(&why, "frequency cap reached");
            rc = NGX_DECLINED;
        }

        if (tracing) {
            ngx_http_personalize_trace(r, &rule[i].slot, &rule[i].name,
                                       rc == NGX_OK, &why);
        }

        if (rc != NGX_OK) {
            continue;
        }

        switch (rule[i].action) {

        case NGX_HTTP_PZ_BLOCK:
            if (best[rule[i].slot_index] == NULL
                || best[rule[i].slot_index]->priority < rule[i].priority)
            {
                best[rule[i].slot_index] = &rule[i];
            }
            break;

        case NGX_HTTP_PZ_PREFILL:
            if (input_best[rule[i].input_index] == NULL
                || input_best[rule[i].input_index]->priority
                   < rule[i].priority)
            {
                input_best[rule[i].input_index] = &rule[i];
            }
            break;

        default: /* NGX_HTTP_PZ_PROMPT */
            win[nwin++] = &rule[i];
            break;
        }
    }

    /* slots: the winners with the highest priorities, up to max_blocks */

    s = rmcf->slots.elts;

    for (i = 0; i < rmcf->slots.nelts; i++) {
        sd = ngx_array_push(&d->slots);
        if (sd == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(sd, sizeof(ngx_http_personalize_slot_decision_t));
        sd->slot = s[i];
    }

    ngx_sort(best, rmcf->slots.nelts, sizeof(ngx_http_personalize_rule_t *),
             ngx_http_personalize_rule_cmp);

    sd = d->slots.elts;
    n = 0;

    for (i = 0; i < rmcf->slots.nelts && best[i]; i++) {

        if (n >= (ngx_uint_t) rmcf->max_blocks) {
            if (tracing) {
                ngx_str_set(&why, "page-wide personalize_max_blocks reached");
                ngx_http_personalize_trace(r, &best[i]->slot, &best[i]->name,
                                           0, &why);
            }

            continue;
        }

        if (ngx_http_personalize_render(r, best[i], &out) != NGX_OK) {
            continue;
        }

        sd[best[i]->slot_index].rule = best[i]->name;
        sd[best[i]->slot_index].content = out;
        ngx_http_personalize_cap_record(r, best[i]->name.data,
                                        best[i]->name.len);
        n++;
    }

    /* prompts: by priority, up to max_prompts, one after another */

    ngx_sort(win, nwin, sizeof(ngx_http_personalize_rule_t *),
             ngx_http_personalize_rule_cmp);

    for (i = 0; i < nwin; i++) {

        if (d->nprompts >= (ngx_uint_t) rmcf->max_prompts) {
            break;
        }

        if (ngx_http_personalize_render(r, win[i], &out) != NGX_OK) {
            continue;
        }

        if (d->prompts.len == 0) {
            d->prompts = out;

        } else {
            p = ngx_pnalloc(r->pool, d->prompts.len + out.len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(p, d->prompts.data, d->prompts.len);
            ngx_memcpy(p + d->prompts.len, out.data, out.len);
            d->prompts.data = p;
            d->prompts.len += out.len;
        }

        d->nprompts++;

        s = ngx_array_push(&ctx->prompt_rules);
        if (s == NULL) {
            return NGX_ERROR;
        }

        *s = win[i]->name;
        ngx_http_personalize_cap_record(r, win[i]->name.data,
                                        win[i]->name.len);
    }

    /* prefills: the best rule per input, when its value is not empty */

    for (i = 0; i < rmcf->inputs.nelts; i++) {

        if (input_best[i] == NULL
            || ngx_http_personalize_render(r, input_best[i], &out) != NGX_OK
            || out.len == 0)
        {
            continue;
        }

        pf = ngx_array_push(&d->prefills);
        if (pf == NULL) {
            return NGX_ERROR;
        }

        pf->input = input_best[i]->input;
        pf->rule = input_best[i]->name;
        pf->value = out;
        pf->overwrite = input_best[i]->overwrite;

        ngx_http_personalize_cap_record(r, input_best[i]->name.data,
                                        input_best[i]->name.len);
    }

    ctx->decisions = d;

    return NGX_OK;
}


/* higher priority first, then the order of declaration; NULLs last */

static ngx_int_t
ngx_http_personalize_rule_cmp(const void *one, const void *two)
{
    ngx_http_personalize_rule_t  *a, *b;

    a = *(ngx_http_personalize_rule_t **) one;
    b = *(ngx_http_personalize_rule_t **) two;

    if (a == NULL || b == NULL) {
        return (a == NULL) - (b == NULL);
    }

    if (a->priority != b->priority) {
        return (a->priority < b->priority) ? 1 : -1;
    }

    return (a->index > b->index) - (a->index < b->index);
}


static ngx_int_t
ngx_http_personalize_render(ngx_http_request_t *r,
    ngx_http_personalize_rule_t *rule, ngx_str_t *out)
{
    if (ngx_http_personalize_tpl_render(r, rule->tpl, out) == NGX_OK) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "personalize: rule \"%V\" skipped, its template failed "
                  "to render", &rule->name);

    ngx_http_personalize_count_error(r, "template");

    return NGX_ERROR;
}


/* NGX_OK: every "when" holds; NGX_DECLINED with *why; NGX_ERROR */

static ngx_int_t
ngx_http_personalize_rule_match(ngx_http_request_t *r,
    ngx_http_personalize_rules_ctx_t *ctx, ngx_http_personalize_rule_t *rule,
    ngx_str_t *why)
{
    ngx_int_t                     rc;
    ngx_uint_t                    i, k;
    ngx_http_personalize_when_t  *when;
    ngx_http_personalize_cond_t  *c;

    when = rule->whens.elts;

    for (i = 0; i < rule->whens.nelts; i++) {
        c = when[i].conds.elts;
        rc = 0;

        for (k = 0; k < when[i].conds.nelts; k++) {
            rc = ngx_http_personalize_cond_eval(r, ctx, &c[k]);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (c[k].negate) {
                rc = !rc;
            }

            if (rc) {
                break;
            }
        }

        if (!rc) {
            *why = when[i].text;
            return NGX_DECLINED;
        }
    }

    ngx_str_set(why, "matched");

    return NGX_OK;
}


/* 1 or 0, or NGX_ERROR */

static ngx_int_t
ngx_http_personalize_cond_eval(ngx_http_request_t *r,
    ngx_http_personalize_rules_ctx_t *ctx, ngx_http_personalize_cond_t *c)
{
    int64_t                          v;
    ngx_str_t                        s;
    ngx_uint_t                       src;
    ngx_http_personalize_visitor_t  *visitor;

    switch (c->type) {

    case NGX_HTTP_PZ_COND_SEGMENT:
        return ngx_http_personalize_cond_segment(r, c);

    case NGX_HTTP_PZ_COND_FIELD:
        return ngx_http_personalize_cond_field(r, c);

    case NGX_HTTP_PZ_COND_VAR:
        if (ngx_http_complex_value(r, c->cv, &s) != NGX_OK) {
            return NGX_ERROR;
        }

        return ngx_http_personalize_cond_string(r, c, &s);

    case NGX_HTTP_PZ_COND_SEARCH:
        if (ngx_http_personalize_search_term(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        return ngx_http_personalize_cond_string(r, c, &ctx->search);

    case NGX_HTTP_PZ_COND_SOURCE:
    case NGX_HTTP_PZ_COND_PROFILE:
    case NGX_HTTP_PZ_COND_CONSENT:
        visitor = ngx_http_personalize_visitor(r);

        if (c->type == NGX_HTTP_PZ_COND_PROFILE) {
            return visitor && visitor->profile_found;
        }

        if (c->type == NGX_HTTP_PZ_COND_CONSENT) {
            return visitor && visitor->consent;
        }

        src = visitor ? visitor->source : NGX_HTTP_PERSONALIZE_SRC_NONE;

        if (src > NGX_HTTP_PERSONALIZE_SRC_FINGERPRINT) {
            src = NGX_HTTP_PERSONALIZE_SRC_NONE;
        }

        return (c->sources & (1 << src))
               || (src != NGX_HTTP_PERSONALIZE_SRC_NONE
                   && (c->sources & (1 << NGX_HTTP_PZ_SRC_IDENTIFIED)));

    case NGX_HTTP_PZ_COND_TIME:
        return ngx_time() >= c->from && ngx_time() < c->to;

    case NGX_HTTP_PZ_COND_VARIANT:
    case NGX_HTTP_PZ_COND_HOLDOUT:
        if (ngx_http_personalize_bucket(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        return ctx->variants[c->experiment] == (ngx_int_t) c->variant;

    default: /* NGX_HTTP_PZ_COND_COUNTER */
        if (ngx_http_personalize_counter(r, c->name.data, c->name.len, &v)
            != NGX_OK)
        {
            return 0;
        }

        if (v > INT64_MAX / PZ_DECIMAL_SCALE
            || v < INT64_MIN / PZ_DECIMAL_SCALE)
        {
            v = (v > 0) ? INT64_MAX / PZ_DECIMAL_SCALE
                        : INT64_MIN / PZ_DECIMAL_SCALE;
        }

        return ngx_http_personalize_cond_number(c, v * PZ_DECIMAL_SCALE,
                                                c->number);
    }
}


static ngx_int_t
ngx_http_personalize_cond_segment(ngx_http_request_t *r,
    ngx_http_personalize_cond_t *c)
{
    size_t                           pos;
    ngx_str_t                       *want, *seg;
    ngx_uint_t                       i, k, found, nseg, from_preview;
    pz_field_t                       f;
    pz_bytes_t                       it;
    ngx_http_personalize_preview_t  *pv;

    want = c->list->elts;
    found = 0;

    pv = ngx_http_personalize_preview(r);
    from_preview = (pv && pv->segments);

    if (!from_preview
        && ngx_http_personalize_field(r, (u_char *) "segments", 8, &f)
           != NGX_OK)
    {
        f.type = 0;
    }

    for (i = 0; i < c->list->nelts; i++) {

        if (from_preview) {
            seg = pv->segments->elts;
            nseg = pv->segments->nelts;

            for (k = 0; k < nseg; k++) {
                if (seg[k].len == want[i].len
                    && ngx_strncmp(seg[k].data, want[i].data, want[i].len)
                       == 0)
                {
                    found++;
                    break;
                }
            }

            continue;
        }

        if (f.type != PZ_T_LIST) {
            continue;
        }

        pos = 0;

        while (pz_list_next(&f, &pos, &it)) {
            if (it.len == want[i].len
                && ngx_memcmp(it.data, want[i].data, it.len) == 0)
            {
                found++;
                break;
            }
        }
    }

    switch (c->op) {
    case NGX_HTTP_PZ_OP_ALL:
        return found == c->list->nelts;
    case NGX_HTTP_PZ_OP_NONE:
        return found == 0;
    default:
        return found > 0;
    }
}


static ngx_int_t
ngx_http_personalize_cond_field(ngx_http_request_t *r,
    ngx_http_personalize_cond_t *c)
{
    size_t      pos;
    int64_t     v;
    ngx_int_t   rc, neg;
    ngx_str_t   s;
    pz_field_t  f;
    pz_bytes_t  it;

    rc = ngx_http_personalize_field(r, c->name.data, c->name.len, &f);

    if (c->op == NGX_HTTP_PZ_OP_EXISTS) {
        return rc == NGX_OK;
    }

    if (c->op == NGX_HTTP_PZ_OP_MISSING) {
        return rc != NGX_OK;
    }

    if (rc != NGX_OK) {
        return 0;
    }

    if (c->op == NGX_HTTP_PZ_OP_WITHIN || c->op == NGX_HTTP_PZ_OP_OLDER) {
        if (f.type != PZ_T_TIME && f.type != PZ_T_INT) {
            return 0;
        }

        v = pz_field_num(&f);

        if (c->op == NGX_HTTP_PZ_OP_WITHIN) {
            return v >= (int64_t) ngx_time() - c->time;
        }

        return v < (int64_t) ngx_time() - c->time;
    }

    switch (f.type) {

    case PZ_T_INT:
    case PZ_T_DECIMAL:
    case PZ_T_TIME:
        if (c->op == NGX_HTTP_PZ_OP_RE || c->op == NGX_HTTP_PZ_OP_NRE) {
            break;
        }

        v = pz_field_num(&f);

        if (f.type == PZ_T_TIME) {
            if (!c->is_time) {
                return c->op == NGX_HTTP_PZ_OP_NE;
            }

            return ngx_http_personalize_cond_number(c, v, c->time);
        }

        if (!c->is_number) {
            return c->op == NGX_HTTP_PZ_OP_NE;
        }

        if (f.type == PZ_T_INT) {
            if (v > INT64_MAX / PZ_DECIMAL_SCALE
                || v < INT64_MIN / PZ_DECIMAL_SCALE)
            {
                v = (v > 0) ? INT64_MAX / PZ_DECIMAL_SCALE
                            : INT64_MIN / PZ_DECIMAL_SCALE;
            }

            v *= PZ_DECIMAL_SCALE;
        }

        return ngx_http_personalize_cond_number(c, v, c->number);

    case PZ_T_LIST:

        /* "=" and "~": some item is equal or matches; "!=" and "!~": every
         * item differs, that is, none is equal or matches */

        neg = (c->op == NGX_HTTP_PZ_OP_NE || c->op == NGX_HTTP_PZ_OP_NRE);
        pos = 0;

        while (pz_list_next(&f, &pos, &it)) {
            s.data = (u_char *) it.data;
            s.len = it.len;

            rc = ngx_http_personalize_cond_string(r, c, &s);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc != neg) {
                return rc;
            }
        }

        return neg;

    default:
        break;
    }

    if (ngx_http_personalize_field_text(r, &f, &s) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_personalize_cond_string(r, c, &s);
}


/* a string against the operand: bytes, a regex, or a number */

static ngx_int_t
ngx_http_personalize_cond_string(ngx_http_request_t *r,
    ngx_http_personalize_cond_t *c, ngx_str_t *s)
{
    int64_t    v;
    ngx_int_t  rc;

    switch (c->op) {

    case NGX_HTTP_PZ_OP_EXISTS:
        return s->len > 0;

    case NGX_HTTP_PZ_OP_MISSING:
        return s->len == 0;

    case NGX_HTTP_PZ_OP_RE:
    case NGX_HTTP_PZ_OP_NRE:
        rc = ngx_regex_exec(c->regex, s, NULL, 0);

        if (rc == NGX_REGEX_NO_MATCHED) {
            return c->op == NGX_HTTP_PZ_OP_NRE;
        }

        if (rc < 0) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          ngx_regex_exec_n " failed: %i on \"%V\" using "
                          "\"%V\"", rc, s, &c->value);
            return 0;
        }

        return c->op == NGX_HTTP_PZ_OP_RE;

    case NGX_HTTP_PZ_OP_EQ:
    case NGX_HTTP_PZ_OP_NE:
        rc = (s->len == c->value.len
              && ngx_strncmp(s->data, c->value.data, s->len) == 0);

        return c->op == NGX_HTTP_PZ_OP_EQ ? rc : !rc;

    default:
        if (!c->is_number
            || pz_decimal_parse((char *) s->data, s->len, &v) != 0)
        {
            return 0;
        }

        return ngx_http_personalize_cond_number(c, v, c->number);
    }
}


static ngx_int_t
ngx_http_personalize_cond_number(ngx_http_personalize_cond_t *c, int64_t v,
    int64_t operand)
{
    switch (c->op) {
    case NGX_HTTP_PZ_OP_EQ:
        return v == operand;
    case NGX_HTTP_PZ_OP_NE:
        return v != operand;
    case NGX_HTTP_PZ_OP_LT:
        return v < operand;
    case NGX_HTTP_PZ_OP_LE:
        return v <= operand;
    case NGX_HTTP_PZ_OP_GT:
        return v > operand;
    case NGX_HTTP_PZ_OP_GE:
        return v >= operand;
    default:
        return 0;
    }
}


/* the search words of the Referer: its q, p, query or text argument */

static ngx_int_t
ngx_http_personalize_search_term(ngx_http_request_t *r,
    ngx_http_personalize_rules_ctx_t *ctx)
{
    u_char           *p, *last, *amp, *eq, *dst, *src;
    size_t            nlen;
    ngx_table_elt_t  *ref;

    if (ctx->searched) {
        return NGX_OK;
    }

    ctx->searched = 1;
    ngx_str_null(&ctx->search);

    ref = r->headers_in.referer;

    if (ref == NULL) {
        return NGX_OK;
    }

    p = ngx_strlchr(ref->value.data, ref->value.data + ref->value.len, '?');

    if (p == NULL) {
        return NGX_OK;
    }

    last = ngx_strlchr(p, ref->value.data + ref->value.len, '#');

    if (last == NULL) {
        last = ref->value.data + ref->value.len;
    }

    for (p++; p < last; p = amp + 1) {
        amp = ngx_strlchr(p, last, '&');

        if (amp == NULL) {
            amp = last;
        }

        eq = ngx_strlchr(p, amp, '=');

        if (eq == NULL || eq + 1 == amp) {
            continue;
        }

        nlen = eq - p;

        if (!((nlen == 1 && (*p == 'q' || *p == 'p'))
              || (nlen == 5 && ngx_strncmp(p, "query", 5) == 0)
              || (nlen == 4 && ngx_strncmp(p, "text", 4) == 0)))
        {
            continue;
        }

        dst = ngx_pnalloc(r->pool, amp - eq);
        if (dst == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(dst, eq + 1, amp - eq - 1);

        for (src = dst; src < dst + (amp - eq - 1); src++) {
            if (*src == '+') {
                *src = ' ';
            }
        }

        ctx->search.data = dst;
        src = dst;
        ngx_unescape_uri(&dst, &src, amp - eq - 1, 0);
        ctx->search.len = dst - ctx->search.data;

        return NGX_OK;
    }

    return NGX_OK;
}


ngx_http_personalize_slot_decision_t *
ngx_http_personalize_slot_find(ngx_http_personalize_decisions_t *d,
    u_char *name, size_t len)
{
    ngx_uint_t                             i;
    ngx_http_personalize_slot_decision_t  *sd;

    if (d == NULL) {
        return NULL;
    }

    sd = d->slots.elts;

    for (i = 0; i < d->slots.nelts; i++) {
        if (sd[i].slot.len == len
            && ngx_strncmp(sd[i].slot.data, name, len) == 0)
        {
            return &sd[i];
        }
    }

    return NULL;
}


ngx_http_personalize_prefill_t *
ngx_http_personalize_prefill_find(ngx_http_personalize_decisions_t *d,
    u_char *name, size_t len)
{
    ngx_uint_t                       i;
    ngx_http_personalize_prefill_t  *pf;

    if (d == NULL) {
        return NULL;
    }

    pf = d->prefills.elts;

    for (i = 0; i < d->prefills.nelts; i++) {
        if (pf[i].input.len == len
            && ngx_strncmp(pf[i].input.data, name, len) == 0)
        {
            return &pf[i];
        }
    }

    return NULL;
}


/* variables */

/* a name from a variable: "-" in a name is written "_" */

static ngx_int_t
ngx_http_personalize_name_eq(ngx_str_t *a, u_char *p, size_t len)
{
    size_t  i;
    u_char  x, y;

    if (a->len != len) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        x = (a->data[i] == '-') ? '_' : a->data[i];
        y = (p[i] == '-') ? '_' : p[i];

        if (x != y) {
            return 0;
        }
    }

    return 1;
}


static ngx_int_t
ngx_http_personalize_variant_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                               *name;
    ngx_uint_t                               i;
    ngx_http_personalize_variant_t          *var;
    ngx_http_personalize_rules_ctx_t        *ctx;
    ngx_http_personalize_experiment_t       *exp;
    ngx_http_personalize_rules_main_conf_t  *rmcf;

    name = (ngx_str_t *) data;
    v->not_found = 1;

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_personalize_rules_module);
    exp = rmcf->experiments.elts;

    for (i = 0; i < rmcf->experiments.nelts; i++) {
        if (ngx_http_personalize_name_eq(&exp[i].name,
                             name->data + sizeof("personalize_variant_") - 1,
                             name->len - (sizeof("personalize_variant_") - 1)))
        {
            break;
        }
    }

    if (i == rmcf->experiments.nelts) {
        return NGX_OK;
    }

    ctx = ngx_http_personalize_rules_ctx(r->main);

    if (ctx == NULL || ngx_http_personalize_bucket(r->main, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx->variants[i] < 0) {
        return NGX_OK;
    }

    var = exp[i].variants.elts;

    v->data = var[ctx->variants[i]].name.data;
    v->len = var[ctx->variants[i]].name.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * $personalize_slot_<slot> (the winning rule), $personalize_block_<slot>
 * (its rendered block), $personalize_prefill_<input> (the raw value) and
 * $personalize_prompt_html: the decisions for logs, headers and SSI
 */

static ngx_int_t
ngx_http_personalize_slot_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                                *p;
    size_t                                 len, skip;
    ngx_str_t                             *name, *val;
    ngx_uint_t                             i;
    ngx_http_personalize_prefill_t        *pf;
    ngx_http_personalize_decisions_t      *d;
    ngx_http_personalize_slot_decision_t  *sd;

    v->not_found = 1;

    d = ngx_http_personalize_decide(r);

    if (d == NULL) {
        return NGX_OK;
    }

    val = NULL;

    if (data == NGX_HTTP_PZ_VAR_PROMPT_HTML) {
        val = &d->prompts;
        goto found;
    }

    name = (ngx_str_t *) data;
    skip = (name->data[12] == 's') ? sizeof("personalize_slot_") - 1
           : (name->data[12] == 'b') ? sizeof("personalize_block_") - 1
           : sizeof("personalize_prefill_") - 1;
    p = name->data + skip;
    len = name->len - skip;

    if (name->data[12] == 'p') {
        pf = d->prefills.elts;

        for (i = 0; i < d->prefills.nelts; i++) {
            if (ngx_http_personalize_name_eq(&pf[i].input, p, len)) {
                val = &pf[i].value;
                break;
            }
        }

        goto found;
    }

    sd = d->slots.elts;

    for (i = 0; i < d->slots.nelts; i++) {
        if (sd[i].rule.len
            && ngx_http_personalize_name_eq(&sd[i].slot, p, len))
        {
            val = (name->data[12] == 's') ? &sd[i].rule : &sd[i].content;
            break;
        }
    }

found:

    if (val == NULL || val->len == 0) {
        return NGX_OK;
    }

    v->data = val->data;
    v->len = val->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* $personalize_experiments, _prompts, _prefills, _decisions */

static ngx_int_t
ngx_http_personalize_list_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                                  *p;
    size_t                                   len;
    ngx_str_t                               *s;
    ngx_uint_t                               i, n;
    ngx_http_personalize_prefill_t          *pf;
    ngx_http_personalize_variant_t          *var;
    ngx_http_personalize_rules_ctx_t        *ctx;
    ngx_http_personalize_decisions_t        *d;
    ngx_http_personalize_experiment_t       *exp;
    ngx_http_personalize_slot_decision_t    *sd;
    ngx_http_personalize_rules_main_conf_t  *rmcf;

    v->not_found = 1;
    r = r->main;

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_personalize_rules_module);

    d = NULL;

    if (data != NGX_HTTP_PZ_VAR_EXPERIMENTS) {
        d = ngx_http_personalize_decide(r);
    }

    ctx = ngx_http_personalize_rules_ctx(r);

    if (ctx == NULL || ngx_http_personalize_bucket(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    exp = rmcf->experiments.elts;

    /* an upper bound of the length */

    len = sizeof("slots=;prompts=;prefills=;exp=") + 4;

    for (i = 0; i < rmcf->experiments.nelts; i++) {
        len += exp[i].name.len + 64 + 2;
    }

    for (i = 0; i < rmcf->rules.nelts; i++) {
        len += ((ngx_http_personalize_rule_t *) rmcf->rules.elts)[i].name.len
               + 2;
    }

    s = rmcf->slots.elts;

    for (i = 0; i < rmcf->slots.nelts; i++) {
        len += s[i].len + 3;
    }

    s = rmcf->inputs.elts;

    for (i = 0; i < rmcf->inputs.nelts; i++) {
        len += s[i].len + 2;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;

    if (data == NGX_HTTP_PZ_VAR_DECISIONS) {
        p = ngx_cpymem(p, "slots=", 6);
        n = 0;

        if (d) {
            sd = d->slots.elts;

            for (i = 0; i < d->slots.nelts; i++) {
                if (n++) {
                    *p++ = ',';
                }

                p = ngx_sprintf(p, "%V:", &sd[i].slot);

                if (sd[i].rule.len) {
                    p = ngx_cpymem(p, sd[i].rule.data, sd[i].rule.len);

                } else {
                    *p++ = '-';
                }
            }
        }

        if (n == 0) {
            *p++ = '-';
        }

        p = ngx_cpymem(p, ";prompts=", 9);
    }

    if (data == NGX_HTTP_PZ_VAR_PROMPTS || data == NGX_HTTP_PZ_VAR_DECISIONS)
    {
        n = 0;

        if (d) {
            s = ctx->prompt_rules.elts;

            for (i = 0; i < ctx->prompt_rules.nelts; i++) {
                if (n++) {
                    *p++ = ',';
                }

                p = ngx_cpymem(p, s[i].data, s[i].len);
            }
        }

        if (n == 0 && data == NGX_HTTP_PZ_VAR_DECISIONS) {
            *p++ = '-';
        }
    }

    if (data == NGX_HTTP_PZ_VAR_DECISIONS) {
        p = ngx_cpymem(p, ";prefills=", 10);
    }

    if (data == NGX_HTTP_PZ_VAR_PREFILLS || data == NGX_HTTP_PZ_VAR_DECISIONS)
    {
        n = 0;

        if (d) {
            pf = d->prefills.elts;

            for (i = 0; i < d->prefills.nelts; i++) {
                if (n++) {
                    *p++ = ',';
                }

                p = ngx_sprintf(p, "%V%c%V", &pf[i].input,
                                data == NGX_HTTP_PZ_VAR_DECISIONS ? ':' : '=',
                                &pf[i].rule);
            }
        }

        if (n == 0 && data == NGX_HTTP_PZ_VAR_DECISIONS) {
            *p++ = '-';
        }
    }

    if (data == NGX_HTTP_PZ_VAR_DECISIONS) {
        p = ngx_cpymem(p, ";exp=", 5);
    }

    if (data == NGX_HTTP_PZ_VAR_EXPERIMENTS
        || data == NGX_HTTP_PZ_VAR_DECISIONS)
    {
        n = 0;

        for (i = 0; i < rmcf->experiments.nelts; i++) {
            if (ctx->variants[i] < 0) {
                continue;
            }

            if (n++) {
                *p++ = (data == NGX_HTTP_PZ_VAR_DECISIONS) ? ',' : ';';
            }

            var = exp[i].variants.elts;
            p = ngx_sprintf(p, "%V%c%V", &exp[i].name,
                            data == NGX_HTTP_PZ_VAR_DECISIONS ? ':' : '=',
                            &var[ctx->variants[i]].name);
        }

        if (n == 0 && data == NGX_HTTP_PZ_VAR_DECISIONS) {
            *p++ = '-';
        }
    }

    v->len = p - v->data;

    if (v->len == 0) {
        return NGX_OK;
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_personalize_search_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_personalize_rules_ctx_t  *ctx;

    v->not_found = 1;

    ctx = ngx_http_personalize_rules_ctx(r->main);

    if (ctx == NULL || ngx_http_personalize_search_term(r->main, ctx)
                       != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->search.len == 0) {
        return NGX_OK;
    }

    v->data = ctx->search.data;
    v->len = ctx->search.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}
