/*
 * ngx_personalize escaping: see ngx_personalize_escape.h.
 *
 * The HTML tokenizer follows the HTML5 tokenizer closely enough to know
 * where a placeholder stands: text, a quoted attribute value (which
 * attribute), or the inside of <script> or <style>.  Inside <script> it
 * tracks JavaScript strings and comments, and gives up (a refusal at
 * configuration time, never a guess) where a "/" could start a regular
 * expression.  Anything it cannot place safely is refused.
 */

#include <string.h>

#include "ngx_personalize_escape.h"


enum {
    S_DATA = 0,
    S_TAG_OPEN,
    S_TAG_NAME,
    S_END_TAG,
    S_BEFORE_ATTR,
    S_ATTR_NAME,
    S_AFTER_ATTR,
    S_BEFORE_VALUE,
    S_VALUE_DQ,
    S_VALUE_SQ,
    S_VALUE_UQ,
    S_MARKUP,
    S_MARKUP_DASH,
    S_COMMENT,
    S_RAW
};

enum {
    RAW_NONE = 0,
    RAW_SCRIPT,
    RAW_STYLE
};

/* JavaScript state inside <script>, kept in the high bits of raw */
enum {
    JS_CODE = 0,
    JS_DQ,
    JS_SQ,
    JS_TPL,
    JS_LINE_COMMENT,
    JS_BLOCK_COMMENT
};

#define JS_SHIFT        4
#define JS_MASK         0x0f
#define JS_ESCAPE       0x100       /* after a backslash in a string */
#define JS_SLASH        0x200       /* after a "/" in code */
#define JS_STAR         0x400       /* after a "*" in a block comment */
#define JS_UNSURE       0x800       /* a "/" that was not a comment */
#define JS_HTMLCOMMENT  0x1000      /* "<!--" seen: script escape states */

/* the scheme of a quoted attribute value */
#define URL_SCHEME      0           /* still reading it */
#define URL_OK          1           /* http(s) or relative */
#define URL_BAD         2           /* another scheme, or one a
                                       placeholder helped to make */
#define URL_DYNAMIC     3           /* a placeholder before the first "/",
                                       "?" or "#": checked when rendered */

#define raw_kind(h)     ((h)->raw & 0x0f)
#define js_state(h)     (((h)->raw >> JS_SHIFT) & JS_MASK)
#define js_set(h, s)                                                         \
    (h)->raw = ((h)->raw & ~(JS_MASK << JS_SHIFT)) | ((s) << JS_SHIFT)

#define is_blank(c)     ((c) == ' ' || (c) == '\t' || (c) == '\n'            \
                         || (c) == '\r' || (c) == '\f')
#define lower(c)        (((c) >= 'A' && (c) <= 'Z') ? (c) | 0x20 : (c))


static const char  *url_attrs[] = {
    "href", "src", "action", "formaction", "poster", "cite", "background",
    "data", "codebase", "longdesc", "usemap", "manifest", "icon", "ping",
    "xlink:href", "profile", "classid", "archive", "lowsrc", "dynsrc",
    NULL
};

static const char  *refused_attrs[] = {
    "style", "srcset", "srcdoc", "imagesrcset", NULL
};

/* elements whose address loads code or changes every other address: a
 * profile value may not choose the host */
static const char  *active_tags[] = {
    "script", "iframe", "frame", "embed", "object", "applet", "link", "base",
    NULL
};

/* SVG animations can set any attribute, href included, to their values */
static const char  *animation_tags[] = {
    "animate", "set", "animatemotion", "animatetransform", "handler", NULL
};


static int
name_is(const unsigned char *name, size_t len, const char *s)
{
    size_t  n;

    n = strlen(s);

    return n == len && memcmp(name, s, n) == 0;
}


static int
name_in(const unsigned char *name, size_t len, const char **list)
{
    for ( /* void */ ; *list; list++) {
        if (name_is(name, len, *list)) {
            return 1;
        }
    }

    return 0;
}


void
pz_html_init(pz_html_t *h)
{
    memset(h, 0, sizeof(pz_html_t));
}


/* follows the scheme of an attribute value as a browser reads it */

static void
pz_html_scheme(pz_html_t *h, unsigned char c)
{
    if (h->url_phase != URL_SCHEME) {
        return;
    }

    if (c == '\t' || c == '\n' || c == '\r'
        || (c <= ' ' && h->scheme_len == 0 && !h->hole_in_scheme))
    {
        return;
    }

    if (c == '/' || c == '?' || c == '#') {
        h->url_phase = h->hole_in_scheme ? URL_DYNAMIC : URL_OK;
        return;
    }

    if (c == ':') {
        h->url_phase = (!h->hole_in_scheme
                        && ((h->scheme_len == 4
                             && memcmp(h->scheme, "http", 4) == 0)
                            || (h->scheme_len == 5
                                && memcmp(h->scheme, "https", 5) == 0)))
                       ? URL_OK : URL_BAD;
        return;
    }

    if (h->scheme_len < sizeof(h->scheme)) {
        h->scheme[h->scheme_len] = lower(c);
    }

    h->scheme_len++;
}


static void
pz_html_tag_end(pz_html_t *h)
{
    if (name_is(h->tag, h->tag_len, "script")) {
        h->raw = RAW_SCRIPT;
        h->raw_match = 0;
        h->dashes = 0;
        h->state = S_RAW;
        return;
    }

    if (name_is(h->tag, h->tag_len, "style")) {
        h->raw = RAW_STYLE;
        h->raw_match = 0;
        h->dashes = 0;
        h->state = S_RAW;
        return;
    }

    h->state = S_DATA;
}


static void
pz_js_feed(pz_html_t *h, unsigned char c)
{
    int  s;

    s = js_state(h);

    switch (s) {

    case JS_CODE:
        if (h->raw & JS_SLASH) {
            h->raw &= ~JS_SLASH;

            if (c == '/') {
                js_set(h, JS_LINE_COMMENT);
                return;
            }

            if (c == '*') {
                js_set(h, JS_BLOCK_COMMENT);
                h->raw &= ~JS_STAR;
                return;
            }

            /* division or a regular expression: no telling */
            h->raw |= JS_UNSURE;
        }

        switch (c) {
        case '"':
            js_set(h, JS_DQ);
            break;
        case '\'':
            js_set(h, JS_SQ);
            break;
        case '`':
            js_set(h, JS_TPL);
            break;
        case '/':
            h->raw |= JS_SLASH;
            break;
        }

        return;

    case JS_DQ:
    case JS_SQ:
    case JS_TPL:
        if (h->raw & JS_ESCAPE) {
            h->raw &= ~JS_ESCAPE;
            return;
        }

        if (c == '\\') {
            h->raw |= JS_ESCAPE;
            return;
        }

        if ((s == JS_DQ && c == '"') || (s == JS_SQ && c == '\'')
            || (s == JS_TPL && c == '`')
            || (s != JS_TPL && (c == '\n' || c == '\r')))
        {
            js_set(h, JS_CODE);
        }

        return;

    case JS_LINE_COMMENT:
        if (c == '\n' || c == '\r') {
            js_set(h, JS_CODE);
        }

        return;

    default: /* JS_BLOCK_COMMENT */
        if ((h->raw & JS_STAR) && c == '/') {
            js_set(h, JS_CODE);
        }

        if (c == '*') {
            h->raw |= JS_STAR;

        } else {
            h->raw &= ~JS_STAR;
        }

        return;
    }
}


static void
pz_html_raw(pz_html_t *h, unsigned char c)
{
    const char  *end;
    size_t       n;

    end = (raw_kind(h) == RAW_SCRIPT) ? "</script" : "</style";
    n = strlen(end);

    if (h->raw_match == n) {
        if (is_blank(c) || c == '/' || c == '>') {
            h->raw = RAW_NONE;
            h->state = (c == '>') ? S_DATA : S_END_TAG;
            h->raw_match = 0;
            return;
        }

        h->raw_match = 0;
    }

    if (lower(c) == (unsigned char) end[h->raw_match]) {
        h->raw_match++;

    } else {
        h->raw_match = (c == '<') ? 1 : 0;
    }

    if (raw_kind(h) != RAW_SCRIPT) {
        return;
    }

    /* "<!--" in a script switches HTML into states we do not follow */
    if (c == '<') {
        h->dashes = 1;

    } else if ((c == '!' && h->dashes == 1)
               || (c == '-' && (h->dashes == 2 || h->dashes == 3)))
    {
        h->dashes++;

        if (h->dashes == 4) {
            h->raw |= JS_HTMLCOMMENT;
        }

    } else {
        h->dashes = 0;
    }

    pz_js_feed(h, c);
}


void
pz_html_feed(pz_html_t *h, const unsigned char *p, size_t len)
{
    unsigned char  c;
    size_t         i;

    for (i = 0; i < len; i++) {
        c = p[i];

        switch (h->state) {

        case S_DATA:
            if (c == '<') {
                h->state = S_TAG_OPEN;
            }
            break;

        case S_TAG_OPEN:
            if (c == '/') {
                h->state = S_END_TAG;

            } else if (c == '!' || c == '?') {
                h->state = S_MARKUP;
                h->dashes = 0;

            } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
                h->state = S_TAG_NAME;
                h->tag[0] = lower(c);
                h->tag_len = 1;

            } else if (c != '<') {
                h->state = S_DATA;
            }
            break;

        case S_TAG_NAME:
            if (is_blank(c) || c == '/') {
                h->state = S_BEFORE_ATTR;

            } else if (c == '>') {
                pz_html_tag_end(h);

            } else if (h->tag_len < PZ_HTML_NAME_MAX) {
                h->tag[h->tag_len++] = lower(c);

            } else {
                h->tag[0] = '?';    /* too long for any name we know */
            }
            break;

        case S_END_TAG:
            if (c == '>') {
                h->state = S_DATA;
            }
            break;

        case S_BEFORE_ATTR:
            if (c == '>') {
                pz_html_tag_end(h);

            } else if (!is_blank(c) && c != '/') {
                h->state = S_ATTR_NAME;
                h->attr[0] = lower(c);
                h->attr_len = 1;
            }
            break;

        case S_ATTR_NAME:
        case S_AFTER_ATTR:
            if (c == '>') {
                pz_html_tag_end(h);

            } else if (c == '=') {
                h->state = S_BEFORE_VALUE;

            } else if (is_blank(c)) {
                h->state = S_AFTER_ATTR;

            } else if (c == '/') {
                h->state = S_BEFORE_ATTR;

            } else if (h->state == S_AFTER_ATTR) {
                h->state = S_ATTR_NAME;
                h->attr[0] = lower(c);
                h->attr_len = 1;

            } else if (h->attr_len < PZ_HTML_NAME_MAX) {
                h->attr[h->attr_len++] = lower(c);

            } else if (!(h->attr[0] == 'o' && h->attr[1] == 'n')) {
                h->attr[0] = '?';
            }
            break;

        case S_BEFORE_VALUE:
            h->value_text = 0;
            h->value_holes = 0;
            h->url_phase = URL_SCHEME;
            h->scheme_len = 0;
            h->hole_in_scheme = 0;

            if (c == '"') {
                h->state = S_VALUE_DQ;

            } else if (c == '\'') {
                h->state = S_VALUE_SQ;

            } else if (c == '>') {
                pz_html_tag_end(h);

            } else if (!is_blank(c)) {
                h->state = S_VALUE_UQ;
                h->value_text = 1;
            }
            break;

        case S_VALUE_DQ:
        case S_VALUE_SQ:
            if ((h->state == S_VALUE_DQ && c == '"')
                || (h->state == S_VALUE_SQ && c == '\''))
            {
                /* "{{x}}:alert(1)": the placeholder made the scheme */

                if (h->value_holes && h->url_phase == URL_BAD
                    && name_in(h->attr, h->attr_len, url_attrs)
                    && h->bad == NULL)
                {
                    h->bad = "an address with a placeholder must be http:, "
                             "https: or relative, and a placeholder cannot "
                             "come before the \":\" of a scheme";
                }

                h->state = S_BEFORE_ATTR;
                break;
            }

            if (c > ' ') {
                h->value_text = 1;
            }

            pz_html_scheme(h, c);
            break;

        case S_VALUE_UQ:
            if (is_blank(c)) {
                h->state = S_BEFORE_ATTR;

            } else if (c == '>') {
                pz_html_tag_end(h);
            }
            break;

        case S_MARKUP:
            if (c == '-' && h->dashes == 0) {
                h->state = S_MARKUP_DASH;

            } else if (c == '>') {
                h->state = S_DATA;

            } else {
                h->dashes = 1;
            }
            break;

        case S_MARKUP_DASH:
            if (c == '-') {
                h->state = S_COMMENT;
                h->dashes = 0;

            } else {
                h->state = (c == '>') ? S_DATA : S_MARKUP;
                h->dashes = 1;
            }
            break;

        case S_COMMENT:
            if (c == '>' && h->dashes >= 2) {
                h->state = S_DATA;

            } else if (c == '-') {
                h->dashes++;

            } else {
                h->dashes = 0;
            }
            break;

        default: /* S_RAW */
            pz_html_raw(h, c);
            break;
        }

        if (!is_blank(c)) {
            h->last = c;
        }
    }
}


int
pz_html_context(const pz_html_t *h, const char **err)
{
    if (h->bad) {
        *err = h->bad;
        return -1;
    }

    switch (h->state) {

    case S_DATA:
    case S_COMMENT:
        return PZ_CTX_TEXT;

    case S_VALUE_DQ:
    case S_VALUE_SQ:
        if (h->attr_len >= 2 && h->attr[0] == 'o' && h->attr[1] == 'n') {
            *err = "a placeholder cannot stand in an event handler "
                   "attribute (on...)";
            return -1;
        }

        if (name_in(h->attr, h->attr_len, refused_attrs)) {
            *err = "a placeholder cannot stand in a style, srcset or "
                   "srcdoc attribute";
            return -1;
        }

        if (name_in(h->tag, h->tag_len, animation_tags)) {
            *err = "a placeholder cannot stand in an SVG animation";
            return -1;
        }

        if (name_is(h->tag, h->tag_len, "meta")
            && name_is(h->attr, h->attr_len, "content"))
        {
            *err = "a placeholder cannot stand in <meta content>";
            return -1;
        }

        if (!name_in(h->attr, h->attr_len, url_attrs)) {
            return PZ_CTX_ATTR;
        }

        if (h->url_phase == URL_BAD) {
            *err = "a placeholder cannot stand in a javascript:, data: or "
                   "other address that is not http:, https: or relative";
            return -1;
        }

        if (h->value_text) {
            return PZ_CTX_URL_REST;
        }

        if (name_in(h->tag, h->tag_len, active_tags)) {
            *err = "a placeholder cannot begin the address of a <script>, "
                   "<iframe>, <object>, <embed>, <link> or <base>; write "
                   "the fixed part first: src=\"https://cdn.example/{{...}}\"";
            return -1;
        }

        if (h->value_holes) {
            *err = "only one placeholder may begin a link or source "
                   "address";
            return -1;
        }

        return PZ_CTX_URL;

    case S_BEFORE_VALUE:
    case S_VALUE_UQ:
        *err = "an attribute value with a placeholder must be in quotes";
        return -1;

    case S_RAW:
        if (raw_kind(h) == RAW_STYLE) {
            *err = "placeholders are not allowed inside <style>";
            return -1;
        }

        if (h->raw & JS_HTMLCOMMENT) {
            *err = "placeholders are not allowed in a <script> that "
                   "contains \"<!--\"";
            return -1;
        }

        if (h->raw & (JS_UNSURE | JS_SLASH)) {
            *err = "inside <script>, a placeholder cannot follow a \"/\" "
                   "that is not a comment (a division or a regular "
                   "expression); move the value into a data attribute";
            return -1;
        }

        switch (js_state(h)) {
        case JS_DQ:
        case JS_SQ:
            return PZ_CTX_SCRIPT;
        case JS_TPL:
            *err = "inside <script>, put a placeholder in \"...\" or "
                   "'...' quotes, not in `...`";
            return -1;
        case JS_CODE:
            *err = "inside <script>, a placeholder must stand inside a "
                   "quoted string: \"{{...}}\"";
            return -1;
        default:
            *err = "a placeholder cannot stand in a script comment";
            return -1;
        }

    default:
        *err = "a placeholder must stand in text or inside a quoted "
               "attribute value";
        return -1;
    }
}


void
pz_html_hole(pz_html_t *h)
{
    h->value_holes++;

    if (h->url_phase == URL_SCHEME) {
        h->hole_in_scheme = 1;
    }
}


int
pz_html_same(const pz_html_t *a, const pz_html_t *b)
{
    if (a->state != b->state) {
        return 0;
    }

    switch (a->state) {

    case S_VALUE_DQ:
    case S_VALUE_SQ:
        return a->attr_len == b->attr_len
               && memcmp(a->attr, b->attr, a->attr_len) == 0
               && a->value_text == b->value_text;

    case S_RAW:
        return a->raw == b->raw;

    default:
        return 1;
    }
}


int
pz_html_final(const pz_html_t *h, const char **err)
{
    if (h->bad) {
        *err = h->bad;
        return -1;
    }

    switch (h->state) {

    case S_DATA:
        return 0;

    case S_COMMENT:
        *err = "a <!-- comment is not closed";
        return -1;

    case S_RAW:
        *err = (raw_kind(h) == RAW_SCRIPT) ? "<script> is not closed"
                                           : "<style> is not closed";
        return -1;

    default:
        *err = "the template ends inside a tag";
        return -1;
    }
}


int
pz_url_safe(const unsigned char *s, size_t len)
{
    unsigned char  c, scheme[8];
    size_t         i, n;

    /*
     * Browsers drop leading blanks and control characters and ignore tabs
     * and newlines anywhere, so "java\tscript:" is a scheme as well.
     */

    n = 0;

    for (i = 0; i < len; i++) {
        c = s[i];

        if (c <= ' ' && (n == 0 || c == '\t' || c == '\n' || c == '\r')) {
            continue;
        }

        if (c == '/' || c == '?' || c == '#') {
            return 1;               /* relative */
        }

        if (c == ':') {
            return (n == 4 && memcmp(scheme, "http", 4) == 0)
                   || (n == 5 && memcmp(scheme, "https", 5) == 0);
        }

        if (n < sizeof(scheme)) {
            scheme[n] = lower(c);
        }

        n++;
    }

    return 1;
}


/* the length of a valid UTF-8 sequence at p, or 0 */
static size_t
utf8_len(const unsigned char *p, size_t len)
{
    unsigned char  c;
    uint32_t       u;
    size_t         n, i;

    c = p[0];

    if (c < 0x80) {
        return 1;
    }

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        u = c & 0x1f;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        u = c & 0x0f;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        u = c & 0x07;

    } else {
        return 0;
    }

    if (len < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        u = (u << 6) | (p[i] & 0x3f);
    }

    if ((n == 3 && (u < 0x800 || (u >= 0xd800 && u <= 0xdfff)))
        || (n == 4 && (u < 0x10000 || u > 0x10ffff)))
    {
        return 0;
    }

    return n;
}


static size_t
put(unsigned char *dst, size_t at, const char *s, size_t n)
{
    if (dst) {
        memcpy(dst + at, s, n);
    }

    return n;
}


static size_t
escape_html(unsigned char *dst, const unsigned char *src, size_t len,
    int url_rest)
{
    unsigned char  c;
    size_t         i, n;

    n = 0;

    for (i = 0; i < len; i++) {
        c = src[i];

        switch (c) {
        case '&':
            n += put(dst, n, "&amp;", 5);
            break;
        case '<':
            n += put(dst, n, "&lt;", 4);
            break;
        case '>':
            n += put(dst, n, "&gt;", 4);
            break;
        case '"':
            n += put(dst, n, "&quot;", 6);
            break;
        case '\'':
            n += put(dst, n, "&#39;", 5);
            break;
        case '\0':
            n += put(dst, n, "&#xfffd;", 8);
            break;
        case ':':
        case '@':
        case '\\':
            if (url_rest) {
                n += put(dst, n, c == ':' ? "%3A" : c == '@' ? "%40" : "%5C",
                         3);
                break;
            }
            /* fall through */
        default:
            if (dst) {
                dst[n] = c;
            }
            n++;
        }
    }

    return n;
}


static size_t
escape_js(unsigned char *dst, const unsigned char *src, size_t len)
{
    static const char  hex[] = "0123456789abcdef";
    unsigned char      c, u[6];
    size_t             i, k, n;

    n = 0;
    i = 0;

    while (i < len) {
        c = src[i];

        if (c == '\\') {
            n += put(dst, n, "\\\\", 2);
            i++;
            continue;
        }

        if (c < 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '`'
            || c == '<' || c == '>' || c == '&' || c == '/')
        {
            u[0] = '\\';
            u[1] = 'u';
            u[2] = '0';
            u[3] = '0';
            u[4] = hex[c >> 4];
            u[5] = hex[c & 0x0f];
            n += put(dst, n, (char *) u, 6);
            i++;
            continue;
        }

        k = utf8_len(src + i, len - i);

        if (k == 0) {
            n += put(dst, n, "\\ufffd", 6);
            i++;
            continue;
        }

        if (k == 3 && c == 0xe2 && src[i + 1] == 0x80
            && (src[i + 2] == 0xa8 || src[i + 2] == 0xa9))
        {
            n += put(dst, n, src[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
            i += 3;
            continue;
        }

        n += put(dst, n, (const char *) src + i, k);
        i += k;
    }

    return n;
}


size_t
pz_escape(int ctx, unsigned char *dst, const unsigned char *src, size_t len)
{
    switch (ctx) {

    case PZ_CTX_URL:
        if (!pz_url_safe(src, len)) {
            return put(dst, 0, "#", 1);
        }

        return escape_html(dst, src, len, 0);

    case PZ_CTX_URL_REST:
        return escape_html(dst, src, len, 1);

    case PZ_CTX_SCRIPT:
        return escape_js(dst, src, len);

    case PZ_CTX_RAW:
        if (dst && len) {
            memcpy(dst, src, len);
        }

        return len;

    default: /* PZ_CTX_TEXT, PZ_CTX_ATTR */
        return escape_html(dst, src, len, 0);
    }
}


unsigned
pz_bucket(const unsigned char *exp, size_t exp_len, const unsigned char *id,
    size_t id_len)
{
    uint64_t  h;
    size_t    i;

    /* FNV-1a over "experiment:id", then the splitmix64 finalizer so that
     * every input bit reaches the low bits that the modulo keeps */

    h = 0xcbf29ce484222325ULL;

    for (i = 0; i < exp_len; i++) {
        h = (h ^ exp[i]) * 0x100000001b3ULL;
    }

    h = (h ^ ':') * 0x100000001b3ULL;

    for (i = 0; i < id_len; i++) {
        h = (h ^ id[i]) * 0x100000001b3ULL;
    }

    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;

    return (unsigned) (h % PZ_BUCKETS);
}
