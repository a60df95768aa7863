/*
 * ngx_http_personalize_rules_module: what a request gets.
 *
 * Content teams write top-level "personalize_rule" and
 * "personalize_experiment" blocks (docs/rules.md).  They are compiled
 * while the configuration is read: conditions into typed structures,
 * regular expressions through ngx_regex, templates into node lists, so
 * every mistake is an "nginx -t" error with file and line.  This file is
 * the configuration side; ngx_http_personalize_decide.c evaluates the
 * compiled rules once per main request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_personalize_rules.h"
#include "ngx_personalize_escape.h"


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


static ngx_str_t  ngx_http_personalize_source_names[] = {
    ngx_string("none"),             /* NGX_HTTP_PERSONALIZE_SRC_NONE */
    ngx_string("login"),            /* NGX_HTTP_PERSONALIZE_SRC_LOGIN */
    ngx_string("cookie"),           /* NGX_HTTP_PERSONALIZE_SRC_COOKIE */
    ngx_string("fingerprint"),      /* NGX_HTTP_PERSONALIZE_SRC_FINGERPRINT */
    ngx_string("identified"),       /* any but none */
    ngx_null_string
};



static ngx_str_t  ngx_http_personalize_ops[] = {
    ngx_string("="), ngx_string("!="), ngx_string("<"), ngx_string("<="),
    ngx_string(">"), ngx_string(">="), ngx_string("~"), ngx_string("!~"),
    ngx_null_string
};


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
