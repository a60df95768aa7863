/*
 * ngx_personalize escaping: where a template placeholder stands in HTML, and
 * how a value is escaped for that place.  Also the experiment bucketing
 * hash.
 *
 * Plain C, no nginx includes, no allocation: the template compiler feeds
 * the static text of a template through pz_html_feed() and asks
 * pz_html_context() at every placeholder; the renderer calls pz_escape().
 * Unit tested in t/unit/test_escape.c, fuzzed in t/fuzz/fuzz_escape.c.
 */

#ifndef NGX_PERSONALIZE_ESCAPE_H_INCLUDED_
#define NGX_PERSONALIZE_ESCAPE_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>


/* where a placeholder stands, decided when the template is compiled */
typedef enum {
    PZ_CTX_TEXT = 0,        /* HTML text, RCDATA, comments */
    PZ_CTX_ATTR,            /* quoted attribute value */
    PZ_CTX_URL,             /* the start of a URL attribute value */
    PZ_CTX_URL_REST,        /* later in a URL attribute value: ":", "@"
                               and "\\" percent-encoded */
    PZ_CTX_SCRIPT,          /* inside <script>: the body of a JSON string */
    PZ_CTX_RAW              /* not markup (prefill values): as is */
} pz_ctx_e;


#define PZ_HTML_NAME_MAX    16


/* the state of the HTML tokenizer; only pz_html_*() look inside */
typedef struct {
    int                   state;
    int                   raw;          /* inside <script> or <style> */
    size_t                raw_match;    /* bytes of "</script" seen */
    unsigned char         tag[PZ_HTML_NAME_MAX];
    size_t                tag_len;
    unsigned char         attr[PZ_HTML_NAME_MAX];
    size_t                attr_len;
    int                   value_text;   /* non-blank text in this value */
    int                   value_holes;  /* placeholders in this value */
    int                   dashes;       /* of "-->" in a comment */
    unsigned char         last;         /* the last non-blank byte */
    int                   url_phase;    /* the scheme of the value */
    unsigned char         scheme[8];
    size_t                scheme_len;
    int                   hole_in_scheme;
    const char           *bad;          /* a refusal found while feeding */
} pz_html_t;


void pz_html_init(pz_html_t *h);
void pz_html_feed(pz_html_t *h, const unsigned char *p, size_t len);

/* the context of a placeholder at the current position: a pz_ctx_e, or -1
 * with *err set to a message for the content team */
int pz_html_context(const pz_html_t *h, const char **err);

/* a placeholder was put at the current position */
void pz_html_hole(pz_html_t *h);

/* 1 when two positions are in the same context (loop start and end) */
int pz_html_same(const pz_html_t *a, const pz_html_t *b);

/* at the end of a template: 0, or -1 with *err set */
int pz_html_final(const pz_html_t *h, const char **err);


/*
 * Escapes src for ctx into dst and returns the length; with dst NULL only
 * returns the length.  PZ_CTX_SCRIPT gives the inside of a JSON string
 * (the caller adds the quotes); PZ_CTX_URL gives "#" for a URL that is
 * neither http(s) nor relative.
 */
size_t pz_escape(int ctx, unsigned char *dst, const unsigned char *src,
    size_t len);

/* 1 when a URL is http:, https: or relative, as a browser would parse it */
int pz_url_safe(const unsigned char *s, size_t len);


/* an experiment bucket 0..9999 from a hash of "experiment:id" */
#define PZ_BUCKETS          10000

unsigned pz_bucket(const unsigned char *exp, size_t exp_len,
    const unsigned char *id, size_t id_len);


#endif /* NGX_PERSONALIZE_ESCAPE_H_INCLUDED_ */
