/*
 * ngx_http_personalize_module: who the visitor is.
 *
 * Identity sources are tried in the order of their "personalize_identity"
 * directives; the first that yields a valid id wins.  A device fingerprint
 * is the last resort, and only with consent.  A bad id (forged, expired,
 * malformed) makes the visitor anonymous, logged at info level: it is a
 * client's doing, never a reason for an error page.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_personalize_core.h"


#define NGX_HTTP_PERSONALIZE_FP_DOMAIN  "pzfp1:"
#define NGX_HTTP_PERSONALIZE_FP_PREFIX  "fp:"


static ngx_int_t ngx_http_personalize_source_id(ngx_http_request_t *r,
    ngx_http_personalize_main_conf_t *pmcf,
    ngx_http_personalize_source_t *src, ngx_str_t *id);
static ngx_int_t ngx_http_personalize_fingerprint_id(ngx_http_request_t *r,
    ngx_http_personalize_main_conf_t *pmcf,
    ngx_http_personalize_fingerprint_t *fp, ngx_str_t *id,
    ngx_uint_t *consent);
static ngx_uint_t ngx_http_personalize_consent(ngx_http_request_t *r,
    ngx_http_personalize_fingerprint_t *fp);
static size_t ngx_http_personalize_addr_prefix(ngx_http_request_t *r,
    ngx_http_personalize_fingerprint_t *fp, u_char *buf);


static ngx_str_t  ngx_http_personalize_source_names[] = {
    ngx_string("none"),
    ngx_string("login"),
    ngx_string("cookie"),
    ngx_string("fingerprint")
};


/*
 * personalize_identity login|cookie VALUE [signed];
 * personalize_identity off;
 */

char *
ngx_http_personalize_identity_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_personalize_loc_conf_t *plcf = conf;

    ngx_str_t                         *value;
    ngx_uint_t                         source;
    ngx_http_personalize_source_t     *src;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (plcf->sources == NULL) {
        plcf->sources = ngx_array_create(cf->pool, 2,
                                         sizeof(ngx_http_personalize_source_t));
        if (plcf->sources == NULL) {
            return NGX_CONF_ERROR;
        }

    } else if (plcf->sources->nelts == 0) {
        return "cannot follow \"personalize_identity off\"";
    }

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        if (plcf->sources->nelts) {
            return "\"off\" cannot follow another personalize_identity";
        }

        return NGX_CONF_OK;
    }

    if (cf->args->nelts < 3) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "personalize_identity needs a source and a value, "
                           "as in \"personalize_identity cookie "
                           "$cookie_pzid signed;\"");
        return NGX_CONF_ERROR;
    }

    if (ngx_strcmp(value[1].data, "login") == 0) {
        source = NGX_HTTP_PERSONALIZE_SRC_LOGIN;

    } else if (ngx_strcmp(value[1].data, "cookie") == 0) {
        source = NGX_HTTP_PERSONALIZE_SRC_COOKIE;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown identity source \"%V\", expected "
                           "\"login\" or \"cookie\" (a fingerprint is "
                           "configured with personalize_fingerprint)",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    src = ngx_array_push(plcf->sources);
    if (src == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(src, sizeof(ngx_http_personalize_source_t));

    src->source = source;
    src->file = cf->conf_file->file.name;
    src->line = cf->conf_file->line;

    if (cf->args->nelts == 4) {
        if (ngx_strcmp(value[3].data, "signed") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in "
                               "personalize_identity, expected \"signed\"",
                               &value[3]);
            return NGX_CONF_ERROR;
        }

        src->sign = 1;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = &src->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (src->value.lengths == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "personalize_identity %V \"%V\" has no variables: "
                           "every visitor would get the same id",
                           &value[1], &value[2]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * personalize_fingerprint consent=VALUE [headers=NAME,NAME]
 *     [ipv4_prefix=N] [ipv6_prefix=N];
 */

char *
ngx_http_personalize_fingerprint_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_personalize_loc_conf_t *plcf = conf;

    u_char                              *p, *last, *start;
    ngx_int_t                            n;
    ngx_str_t                           *value, s, *h;
    ngx_uint_t                           i;
    ngx_http_personalize_fingerprint_t  *fp;
    ngx_http_compile_complex_value_t     ccv;

    if (plcf->fingerprint != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        plcf->fingerprint = NULL;
        return NGX_CONF_OK;
    }

    fp = ngx_pcalloc(cf->pool, sizeof(ngx_http_personalize_fingerprint_t));
    if (fp == NULL) {
        return NGX_CONF_ERROR;
    }

    fp->ipv4_prefix = 24;
    fp->ipv6_prefix = 48;
    fp->file = cf->conf_file->file.name;
    fp->line = cf->conf_file->line;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "headers=", 8) == 0) {

            if (fp->headers != NULL) {
                goto duplicate;
            }

            fp->headers = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
            if (fp->headers == NULL) {
                return NGX_CONF_ERROR;
            }

            p = value[i].data + 8;
            last = value[i].data + value[i].len;

            while (p <= last) {
                start = p;

                while (p < last && *p != ',') {
                    p++;
                }

                if (p == start) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "empty header name in \"%V\"",
                                       &value[i]);
                    return NGX_CONF_ERROR;
                }

                h = ngx_array_push(fp->headers);
                if (h == NULL) {
                    return NGX_CONF_ERROR;
                }

                h->len = p - start;
                h->data = ngx_pnalloc(cf->pool, h->len);
                if (h->data == NULL) {
                    return NGX_CONF_ERROR;
                }

                ngx_strlow(h->data, start, h->len);

                p++;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "consent=", 8) == 0) {

            if (fp->consent != NULL) {
                goto duplicate;
            }

            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            fp->consent = ngx_palloc(cf->pool,
                                     sizeof(ngx_http_complex_value_t));
            if (fp->consent == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

            ccv.cf = cf;
            ccv.value = &s;
            ccv.complex_value = fp->consent;

            if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            if (fp->consent->lengths == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "consent \"%V\" has no variables: "
                                   "consent is the visitor's, use a "
                                   "cookie such as $cookie_consent", &s);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "ipv4_prefix=", 12) == 0) {
            n = ngx_atoi(value[i].data + 12, value[i].len - 12);

            if (n == NGX_ERROR || n > 32) {
                goto invalid;
            }

            fp->ipv4_prefix = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "ipv6_prefix=", 12) == 0) {
            n = ngx_atoi(value[i].data + 12, value[i].len - 12);

            if (n == NGX_ERROR || n > 128) {
                goto invalid;
            }

            fp->ipv6_prefix = n;
            continue;
        }

        goto invalid;
    }

    if (fp->consent == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "personalize_fingerprint needs \"consent=\", "
                           "as in consent=$cookie_consent: fingerprinting "
                           "without consent is not offered");
        return NGX_CONF_ERROR;
    }

    if (fp->headers == NULL) {
        fp->headers = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
        if (fp->headers == NULL) {
            return NGX_CONF_ERROR;
        }

        h = ngx_array_push_n(fp->headers, 2);
        if (h == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_str_set(&h[0], "user-agent");
        ngx_str_set(&h[1], "accept-language");
    }

    plcf->fingerprint = fp;

    return NGX_CONF_OK;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "duplicate parameter \"%V\" in personalize_fingerprint",
                       &value[i]);
    return NGX_CONF_ERROR;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in personalize_fingerprint",
                       &value[i]);
    return NGX_CONF_ERROR;
}


/*
 * Reads an HMAC key file at configuration time: one key, raw or hex, with
 * trailing white space trimmed.  Shared by personalize_key and the realtime
 * module's personalize_preview_key; "what" names the directive's key in
 * messages.
 */

ngx_int_t
ngx_http_personalize_read_key(ngx_conf_t *cf, ngx_str_t *file,
    const char *what, pz_bytes_t *key)
{
    int               err;
    u_char           *buf;
    size_t            len;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_int_t         rc;
    ngx_str_t         name;
    ngx_file_info_t   fi;

    name = *file;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%s\" failed", name.data);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%s\" failed", name.data);
        goto done;
    }

    len = (size_t) ngx_file_size(&fi);

    if (len > PZ_KEY_MAX + 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s file \"%s\" is too long (%uz bytes, at most "
                           "%d)", what, name.data, len, PZ_KEY_MAX);
        goto done;
    }

    buf = ngx_pnalloc(cf->pool, len + 1);
    if (buf == NULL) {
        goto done;
    }

    n = ngx_read_fd(fd, buf, len + 1);

    if (n == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_read_fd_n " \"%s\" failed", name.data);
        goto done;
    }

    len = pz_key_trim(buf, (size_t) n, &err);

    if (len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s file \"%s\" holds %s key: %d to %d bytes "
                           "expected (openssl rand -hex 32 > FILE)",
                           what, name.data,
                           err == PZ_SIGN_NO_KEY ? "a too short"
                                                 : "a too long",
                           PZ_KEY_MIN, PZ_KEY_MAX);
        goto done;
    }

    if (fi.st_mode & S_IROTH) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "%s file \"%s\" is readable by every user",
                           what, name.data);
    }

    key->data = buf;
    key->len = len;

    rc = NGX_OK;

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%s\" failed", name.data);
    }

    return rc;
}


/* personalize_key FILE; (the first signs, all verify) */

char *
ngx_http_personalize_key_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_personalize_main_conf_t *pmcf = conf;

    ngx_str_t   *value;
    pz_bytes_t  *key;

    value = cf->args->elts;

    if (pmcf->keys == NULL) {
        pmcf->keys = ngx_array_create(cf->pool, 2, sizeof(pz_bytes_t));
        if (pmcf->keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    key = ngx_array_push(pmcf->keys);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_personalize_read_key(cf, &value[1], "key", key) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* at merge: what needs a key has one; errors name the directive's line */

char *
ngx_http_personalize_identity_check(ngx_conf_t *cf,
    ngx_http_personalize_main_conf_t *pmcf,
    ngx_http_personalize_loc_conf_t *plcf)
{
    ngx_uint_t                      i;
    ngx_http_personalize_source_t  *src;

    if (pmcf->keys != NULL && pmcf->keys->nelts) {
        return NGX_CONF_OK;
    }

    if (plcf->sources != NULL) {
        src = plcf->sources->elts;

        for (i = 0; i < plcf->sources->nelts; i++) {
            if (src[i].sign) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "personalize_identity \"signed\" needs a "
                              "personalize_key in the http block in %V:%ui",
                              &src[i].file, src[i].line);
                return NGX_CONF_ERROR;
            }
        }
    }

    if (plcf->fingerprint != NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "personalize_fingerprint needs a personalize_key in "
                      "the http block in %V:%ui",
                      &plcf->fingerprint->file, plcf->fingerprint->line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * init_process: the keys as prepared HMAC contexts, which make a mac about
 * eight times cheaper than HMAC() with a raw key; without them (OpenSSL
 * failed) the raw keys still work
 */

void
ngx_http_personalize_keys_prepare(ngx_cycle_t *cycle,
    ngx_http_personalize_main_conf_t *pmcf)
{
    ngx_uint_t     i;
    pz_bytes_t    *keys;
    pz_key_ctx_t  *kcs;

    if (pmcf->keys == NULL || pmcf->keys->nelts == 0) {
        return;
    }

    kcs = ngx_pcalloc(cycle->pool, pmcf->keys->nelts * sizeof(pz_key_ctx_t));
    if (kcs == NULL) {
        return;
    }

    keys = pmcf->keys->elts;

    for (i = 0; i < pmcf->keys->nelts; i++) {
        if (pz_key_ctx_init(&kcs[i], &keys[i]) != 0) {
            ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                          "personalize: EVP_MAC_init() failed, using "
                          "HMAC() with the raw keys");

            while (i--) {
                pz_key_ctx_free(&kcs[i]);
            }

            return;
        }
    }

    pmcf->key_ctxs = kcs;
}


void
ngx_http_personalize_keys_release(ngx_http_personalize_main_conf_t *pmcf)
{
    ngx_uint_t  i;

    if (pmcf->key_ctxs == NULL) {
        return;
    }

    for (i = 0; i < pmcf->keys->nelts; i++) {
        pz_key_ctx_free(&pmcf->key_ctxs[i]);
    }

    pmcf->key_ctxs = NULL;
}


/* sets v->id, v->source and v->consent; everything in r->main->pool */

void
ngx_http_personalize_identify(ngx_http_request_t *r,
    ngx_http_personalize_visitor_t *v)
{
    ngx_str_t                          id;
    ngx_uint_t                         i, consent;
    ngx_http_personalize_source_t     *src;
    ngx_http_personalize_loc_conf_t   *plcf;
    ngx_http_personalize_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_personalize_module);
    plcf = ngx_http_get_module_loc_conf(r, ngx_http_personalize_module);

    v->source = NGX_HTTP_PERSONALIZE_SRC_NONE;

    if (plcf->sources != NULL) {
        src = plcf->sources->elts;

        for (i = 0; i < plcf->sources->nelts; i++) {
            if (ngx_http_personalize_source_id(r, pmcf, &src[i], &id)
                == NGX_OK)
            {
                v->id = id;
                v->source = src[i].source;
                return;
            }
        }
    }

    if (plcf->fingerprint != NULL) {
        consent = 0;

        if (ngx_http_personalize_fingerprint_id(r, pmcf, plcf->fingerprint,
                                                &id, &consent)
            == NGX_OK)
        {
            v->id = id;
            v->source = NGX_HTTP_PERSONALIZE_SRC_FINGERPRINT;
        }

        v->consent = consent;
    }
}


static ngx_int_t
ngx_http_personalize_source_id(ngx_http_request_t *r,
    ngx_http_personalize_main_conf_t *pmcf,
    ngx_http_personalize_source_t *src, ngx_str_t *id)
{
    int          rc;
    u_char      *p;
    int64_t      expires;
    ngx_str_t    val;
    pz_bytes_t   sid;

    if (ngx_http_complex_value(r, &src->value, &val) != NGX_OK) {
        return NGX_ERROR;
    }

    if (val.len == 0) {
        return NGX_DECLINED;
    }

    /* the userid module's $uid_got and $uid_set read "uid=<id>" */

    if (src->source == NGX_HTTP_PERSONALIZE_SRC_COOKIE) {
        p = ngx_strlchr(val.data, val.data + val.len, '=');

        if (p != NULL) {
            val.len -= p + 1 - val.data;
            val.data = p + 1;
        }
    }

    if (src->sign) {

        if (val.len > PZ_SIGNED_MAX) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "personalize: %V id ignored: too long (%uz bytes)",
                          &ngx_http_personalize_source_names[src->source],
                          val.len);
            return NGX_DECLINED;
        }

        if (pmcf->key_ctxs != NULL) {
            rc = pz_verify_ctx(pmcf->key_ctxs, pmcf->keys->nelts, val.data,
                               val.len, (int64_t) ngx_time(), &sid,
                               &expires);

        } else {
            rc = pz_verify(pmcf->keys->elts, pmcf->keys->nelts, val.data,
                           val.len, (int64_t) ngx_time(), &sid, &expires);
        }

        if (rc != PZ_SIGN_OK) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "personalize: %V id ignored: %s",
                          &ngx_http_personalize_source_names[src->source],
                          pz_sign_strerror(rc));
            return NGX_DECLINED;
        }

        val.data = (u_char *) sid.data;
        val.len = sid.len;

    } else if (!pz_id_valid(val.data, val.len)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "personalize: %V id ignored: invalid id",
                      &ngx_http_personalize_source_names[src->source]);
        return NGX_DECLINED;
    }

    id->data = ngx_pnalloc(r->main->pool, val.len);
    if (id->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(id->data, val.data, val.len);
    id->len = val.len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_personalize_fingerprint_id(ngx_http_request_t *r,
    ngx_http_personalize_main_conf_t *pmcf,
    ngx_http_personalize_fingerprint_t *fp, ngx_str_t *id,
    ngx_uint_t *consent)
{
    int               rc;
    u_char           *msg, *p;
    size_t            len, mlen;
    ngx_str_t        *names;
    ngx_uint_t        i, j, k;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (!ngx_http_personalize_consent(r, fp)) {
        return NGX_DECLINED;
    }

    *consent = 1;

    /* "pzfp1:" (name ":" value "\n")* address-prefix */

    msg = NULL;
    p = NULL;
    names = fp->headers->elts;
    len = sizeof(NGX_HTTP_PERSONALIZE_FP_DOMAIN) - 1 + 1 + 16 + 1;

    for (k = 0; k < 2; k++) {

        if (k == 1) {
            msg = ngx_pnalloc(r->pool, len);
            if (msg == NULL) {
                return NGX_ERROR;
            }

            p = ngx_cpymem(msg, NGX_HTTP_PERSONALIZE_FP_DOMAIN,
                           sizeof(NGX_HTTP_PERSONALIZE_FP_DOMAIN) - 1);
        }

        for (i = 0; i < fp->headers->nelts; i++) {

            part = &r->headers_in.headers.part;
            h = part->elts;

            for (j = 0; /* void */; j++) {

                if (j >= part->nelts) {
                    if (part->next == NULL) {
                        break;
                    }

                    part = part->next;
                    h = part->elts;
                    j = 0;
                }

                if (h[j].key.len != names[i].len
                    || ngx_strncasecmp(h[j].key.data, names[i].data,
                                       names[i].len) != 0)
                {
                    continue;
                }

                if (k == 0) {
                    len += names[i].len + 1 + h[j].value.len + 1;
                    continue;
                }

                p = ngx_cpymem(p, names[i].data, names[i].len);
                *p++ = ':';
                p = ngx_cpymem(p, h[j].value.data, h[j].value.len);
                *p++ = '\n';
            }
        }
    }

    *p++ = '|';
    p += ngx_http_personalize_addr_prefix(r, fp, p);

    mlen = p - msg;

    len = sizeof(NGX_HTTP_PERSONALIZE_FP_PREFIX) - 1
          + NGX_HTTP_PERSONALIZE_FP_LEN;

    id->data = ngx_pnalloc(r->main->pool, len);
    if (id->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(id->data, NGX_HTTP_PERSONALIZE_FP_PREFIX,
                   sizeof(NGX_HTTP_PERSONALIZE_FP_PREFIX) - 1);

    if (pmcf->key_ctxs != NULL) {
        rc = pz_mac_b64_ctx(&pmcf->key_ctxs[0], msg, mlen, (char *) p,
                            NGX_HTTP_PERSONALIZE_FP_LEN);

    } else {
        rc = pz_mac_b64(pmcf->keys->elts, msg, mlen, (char *) p,
                        NGX_HTTP_PERSONALIZE_FP_LEN);
    }

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "personalize: HMAC() failed for a fingerprint");
        return NGX_ERROR;
    }

    id->len = len;

    return NGX_OK;
}


/* consent given and no Sec-GPC: 1 */

static ngx_uint_t
ngx_http_personalize_consent(ngx_http_request_t *r,
    ngx_http_personalize_fingerprint_t *fp)
{
    ngx_str_t         val;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Sec-GPC") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Sec-GPC",
                               sizeof("Sec-GPC") - 1) == 0
            && h[i].value.len == 1 && h[i].value.data[0] == '1')
        {
            return 0;
        }
    }

    if (ngx_http_complex_value(r, fp->consent, &val) != NGX_OK) {
        return 0;
    }

    if (val.len == 0
        || (val.len == 1 && val.data[0] == '0')
        || (val.len == 2 && ngx_strncasecmp(val.data, (u_char *) "no", 2)
                            == 0)
        || (val.len == 5 && ngx_strncasecmp(val.data, (u_char *) "false", 5)
                            == 0))
    {
        return 0;
    }

    return 1;
}


/* the client address cut to its prefix; at most 1 + 16 bytes */

static size_t
ngx_http_personalize_addr_prefix(ngx_http_request_t *r,
    ngx_http_personalize_fingerprint_t *fp, u_char *buf)
{
    u_char               *a;
    size_t                n;
    ngx_uint_t            bits, i;
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    switch (r->connection->sockaddr->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) r->connection->sockaddr;
        a = (u_char *) &sin->sin_addr.s_addr;
        n = 4;
        bits = fp->ipv4_prefix;
        break;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) r->connection->sockaddr;
        a = sin6->sin6_addr.s6_addr;
        n = 16;
        bits = fp->ipv6_prefix;
        break;
#endif

    default:
        return 0;
    }

    buf[0] = (u_char) n;

    for (i = 0; i < n; i++) {
        if (bits >= 8) {
            buf[1 + i] = a[i];
            bits -= 8;

        } else {
            buf[1 + i] = (u_char) (a[i] & (0xff00 >> bits));
            bits = 0;
        }
    }

    return 1 + n;
}
