/*
 * ngx_http_personalize_rules_module, the request side: once per main
 * request the compiled rules are evaluated, the winners per slot, the
 * prompts and the prefills chosen and rendered into the pool, and kept in
 * the module's ctx of r->main, where the filter
 * (ngx_http_personalize_decide() and the *_find() functions) and the
 * decision variables find them.  Experiments bucket visitors here.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_personalize_rules.h"
#include "ngx_personalize_escape.h"


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
static void ngx_http_personalize_rules_sort(ngx_http_personalize_rule_t **a,
    ngx_uint_t n);
static ngx_int_t ngx_http_personalize_rule_before(
    ngx_http_personalize_rule_t *a, ngx_http_personalize_rule_t *b);
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


ngx_int_t
ngx_http_personalize_rules_add_variables(ngx_conf_t *cf)
{
    return ngx_http_personalize_register_variables(cf,
                                             ngx_http_personalize_rules_vars);
}


static ngx_http_personalize_rules_ctx_t *
ngx_http_personalize_rules_ctx(ngx_http_request_t *r)
{
    return ngx_http_personalize_main_ctx(r, &ngx_http_personalize_rules_module,
                                 sizeof(ngx_http_personalize_rules_ctx_t));
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

    ngx_http_personalize_rules_sort(best, rmcf->slots.nelts);

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

    ngx_http_personalize_rules_sort(win, nwin);

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


/*
 * Higher priority first, then the order of declaration, NULLs last.  An
 * insertion sort of a few pointers: ngx_sort() would malloc() per call.
 */

static void
ngx_http_personalize_rules_sort(ngx_http_personalize_rule_t **a,
    ngx_uint_t n)
{
    ngx_uint_t                    i, k;
    ngx_http_personalize_rule_t  *x;

    for (i = 1; i < n; i++) {
        x = a[i];

        for (k = i; k > 0 && ngx_http_personalize_rule_before(x, a[k - 1]);
             k--)
        {
            a[k] = a[k - 1];
        }

        a[k] = x;
    }
}


static ngx_int_t
ngx_http_personalize_rule_before(ngx_http_personalize_rule_t *a,
    ngx_http_personalize_rule_t *b)
{
    if (a == NULL || b == NULL) {
        return b == NULL && a != NULL;
    }

    if (a->priority != b->priority) {
        return a->priority > b->priority;
    }

    return a->index < b->index;
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
