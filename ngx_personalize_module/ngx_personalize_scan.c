/*
 * ngx_personalize scanner: see ngx_personalize_scan.h and docs/markup.md.
 */

#include <string.h>
#if (defined __SSE2__)
#include <emmintrin.h>
#endif
#if (defined __x86_64__ && (defined __GNUC__ || defined __clang__))
#include <immintrin.h>
#define PZ_HAVE_AVX2  1
#endif

#include "ngx_personalize_scan.h"


typedef unsigned char  u_char_t;


/* scanner states; the ones from sw_lt to sw_tag are candidates */
enum {
    sw_text = 0,
    sw_lt,              /* "<" */
    sw_bang,            /* "<!", then "--" */
    sw_c_space,         /* "<!--", blanks */
    sw_c_key,           /* "personalize:" */
    sw_c_name,          /* the slot name */
    sw_c_name_dash,     /* a '-' after the name: "-->" or more name */
    sw_c_space2,        /* blanks after the name */
    sw_c_dash,          /* "-" of "-->" */
    sw_c_end,           /* "--" of "-->" */
    sw_slash,           /* "</" */
    sw_end_body,        /* "</body" */
    sw_raw_close,       /* "</script", "</textarea" */
    sw_raw_open,        /* "<script", "<textarea" */
    sw_input,           /* "<input" */
    sw_tag,             /* the attributes of an <input> tag */
    sw_tag_skip,        /* an over-long <input> tag, passed to its '>' */
    sw_comment          /* an ordinary comment, passed to its "-->" */
};


/* the elements whose content is no markup, s->raw */
enum {
    raw_none = 0,
    raw_script,
    raw_textarea
};


/* the candidates that the scanner wants in its current state */
typedef struct {
    int    in;              /* "<in" */
    int    open;            /* "<sc", "<te" */
    int    close;           /* "</" and close_name */
    char   close_name[2];   /* "bo" for "</body", or of "</script" ... */
} pz_want_t;


/* attribute states inside a tag */
enum {
    a_space = 0,
    a_name,
    a_after_name,
    a_before_value,
    a_dq,
    a_sq,
    a_unq
};


#define SLOT_KEEP      (1 + PZ_SCAN_KEEP)
#define SLOT_REPLACE   (1 + PZ_SCAN_REPLACE)

#define pz_blank(c)                                                          \
    ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r' || (c) == '\f')

#define pz_lower(c)                                                          \
    (u_char_t) (((c) >= 'A' && (c) <= 'Z') ? (c) | 0x20 : (c))

#define pz_name_char(c)                                                      \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z')                \
     || ((c) >= '0' && (c) <= '9') || (c) == '_' || (c) == '.')


static int pz_scan_out(pz_scan_t *s, const u_char_t *p, size_t len,
    int transient);
static int pz_scan_marker(pz_scan_t *s);
static void pz_scan_want(pz_scan_t *s, pz_want_t *w);
static const u_char_t *pz_find_candidate(pz_scan_t *s, const u_char_t *p,
    const u_char_t *end);
#if (PZ_HAVE_AVX2)
static int pz_find_candidate_avx2(pz_scan_t *s, const u_char_t **pp,
    const u_char_t *end);
#endif
static int pz_scan_skip(pz_scan_t *s, const u_char_t *q,
    const u_char_t *end);
static int pz_attr_step(int *attr, u_char_t ch);
static const u_char_t *pz_tag_end(int *attr, const u_char_t *p,
    const u_char_t *last);
static int pz_strcaseeq(const u_char_t *p, size_t len, const char *lit);


int  pz_scan_simd = PZ_SCAN_SIMD_AUTO;


static const char  pz_key[] = "personalize:";
static const char  pz_body[] = "body";
static const char  *pz_raw[] = { "", "script", "textarea" };
static const char  pz_input[] = "input";
static const char  pz_prompts[] = "prompts";


void
pz_scan_init(pz_scan_t *s, const pz_scan_handler_t *h, void *data,
    unsigned flags, unsigned char *tag, size_t tag_max)
{
    memset(s, 0, sizeof(pz_scan_t));

    s->handler = h;
    s->data = data;
    s->flags = flags;
    s->tag = tag;
    s->tag_max = tag_max;
}


void
pz_scan_set_hold(pz_scan_t *s, unsigned char *hold, size_t size)
{
    s->hold = hold;
    s->hold_size = size;
}


int
pz_scan_holding(const pz_scan_t *s)
{
    return s->tag_len != 0 || (s->slot == SLOT_REPLACE && s->hold_len != 0);
}


int
pz_scan_feed(pz_scan_t *s, const unsigned char *start, size_t len)
{
    int                    state, rc;
    size_t                 n, tlen;
    u_char_t               ch;
    const u_char_t        *p, *end, *run, *cand, *q, *tag, *rp;
    pz_scan_edit_t         edit;
    const pz_scan_handler_t  *h;

    h = s->handler;
    p = start;
    end = start + len;
    run = start;          /* the start of the text not passed on yet */
    cand = start;         /* the start of the candidate in this piece */
    state = s->state;

    while (p < end) {

        if (state == sw_text) {

            if (s->flags == 0) {

                /*
                 * Markers only: every candidate starts with "<!", and '!'
                 * is much rarer in HTML than '<'.  A '<' at the end of
                 * the piece is kept, its '!' may come next.
                 */

                q = memchr(p, '!', end - p);

                if (q == NULL) {
                    p = end;

                    if (end[-1] == '<') {
                        cand = end - 1;
                        state = sw_lt;
                    }

                    break;
                }

                if (q > p && q[-1] == '<') {
                    cand = q - 1;
                    p = q + 1;
                    s->match = 0;
                    state = sw_bang;
                    continue;
                }

                p = q + 1;
                continue;
            }

            /* the tight loop: most tags are no candidates */

            q = pz_find_candidate(s, p, end);
            if (q == NULL) {
                p = end;
                break;
            }

            cand = q;
            p = q + 1;
            state = sw_lt;
            continue;
        }

        if (state == sw_comment) {

            /*
             * An ordinary comment: only the "-->" that ends it matters,
             * and a marker (whose "-->" ends the comment too: markers
             * count in comments as they do for an anonymous visitor).
             * s->match counts the '-' right before p, from the candidate
             * or from earlier pieces.
             */

            q = memchr(p, '>', end - p);
            rp = (q != NULL) ? q : end;

            tag = memchr(p, '<', rp - p);

            if (tag != NULL) {
                cand = tag;

                if (tag + 1 == end) {
                    p = end;
                    state = sw_lt;
                    break;
                }

                if (tag[1] == '!') {
                    p = tag + 2;
                    s->match = 0;
                    state = sw_bang;
                    continue;
                }

                /* the '<' ends a run of '-' */

                p = tag + 1;
                s->match = 0;
                continue;
            }

            for (n = 0; n < 2 && rp - n > p && rp[-1 - (long) n] == '-'; n++) {
                /* void */
            }

            if ((size_t) (rp - p) == n) {
                n += s->match;
            }

            if (q == NULL) {
                s->match = (n < 2) ? n : 2;
                p = end;
                continue;
            }

            p = q + 1;

            if (n >= 2) {
                s->comment = 0;
                state = sw_text;

            } else {
                s->match = 0;
            }

            continue;
        }

        ch = *p;

        if (state == sw_tag_skip) {
            if (pz_attr_step(&s->attr, ch)) {
                state = sw_text;
            }

            p++;
            continue;
        }

        /* the lookahead is bounded */

        n = s->tag_len + (p - cand) + 1;

        if (state == sw_tag) {
            if (n > s->tag_max) {
                goto long_tag;
            }

            /*
             * The attributes are walked in a tight loop of their own, up
             * to where the lookahead cap would be passed, so an over-long
             * tag is found at the same byte whatever the chunking.
             */

            rp = cand + (s->tag_max - s->tag_len);
            if (rp > end) {
                rp = end;
            }

            q = pz_tag_end(&s->attr, p, rp);

            if (q == NULL) {
                p = rp;
                continue;
            }

            p = q + 1;
            goto input;

        } else if (n > PZ_SCAN_MARKER_MAX) {
            goto long_marker;
        }

        switch (state) {

        case sw_lt:
            if (ch == '!') {
                s->match = 0;
                state = sw_bang;
                break;
            }

            if (s->comment) {
                goto pass;
            }

            if (ch == '/') {
                if (s->raw
                    || ((s->flags & PZ_SCAN_PROMPTS) && !s->prompted
                        && s->slot == 0))
                {
                    state = sw_slash;
                    break;
                }

                goto pass;
            }

            if (s->raw) {
                goto pass;
            }

            if (ch == 'i' || ch == 'I') {
                if (s->flags & PZ_SCAN_INPUTS) {
                    s->match = 1;
                    state = sw_input;
                    break;
                }

                goto pass;
            }

            if (ch == 's' || ch == 'S') {
                s->raw_cand = raw_script;

            } else if (ch == 't' || ch == 'T') {
                s->raw_cand = raw_textarea;

            } else {
                goto pass;
            }

            if (s->flags & (PZ_SCAN_INPUTS|PZ_SCAN_PROMPTS)) {
                s->match = 1;
                state = sw_raw_open;
                break;
            }

            goto pass;

        case sw_bang:
            if (ch != '-') {
                goto pass;
            }

            if (++s->match == 2) {
                s->close = 0;
                state = sw_c_space;
            }

            break;

        case sw_c_space:
            if (pz_blank(ch)) {
                break;
            }

            if (ch == '/' && !s->close) {
                s->close = 1;
                s->match = 0;
                state = sw_c_key;
                break;
            }

            if (ch == 'p' || ch == 'P') {
                s->match = 1;
                state = sw_c_key;
                break;
            }

            goto pass;

        case sw_c_key:
            if (pz_lower(ch) != (u_char_t) pz_key[s->match]) {
                goto pass;
            }

            if (++s->match == sizeof(pz_key) - 1) {
                s->name_len = 0;
                state = sw_c_name;
            }

            break;

        case sw_c_name:
            if (pz_name_char(ch)) {
                if (s->name_len == PZ_SCAN_NAME_MAX) {
                    goto long_marker;
                }
                s->name[s->name_len++] = ch;
                break;
            }

            if (s->name_len == 0) {
                goto pass;
            }

            if (ch == '-') {
                state = sw_c_name_dash;
                break;
            }

            if (pz_blank(ch)) {
                state = sw_c_space2;
                break;
            }

            goto pass;

        case sw_c_name_dash:
            if (ch == '-') {
                state = sw_c_end;
                break;
            }

            if (pz_name_char(ch) || pz_blank(ch)) {
                if (s->name_len + 1 >= PZ_SCAN_NAME_MAX) {
                    goto long_marker;
                }

                s->name[s->name_len++] = '-';

                if (pz_blank(ch)) {
                    state = sw_c_space2;

                } else {
                    s->name[s->name_len++] = ch;
                    state = sw_c_name;
                }

                break;
            }

            goto pass;

        case sw_c_space2:
            if (pz_blank(ch)) {
                break;
            }

            if (ch == '-') {
                state = sw_c_dash;
                break;
            }

            goto pass;

        case sw_c_dash:
            if (ch != '-') {
                goto pass;
            }

            state = sw_c_end;
            break;

        case sw_c_end:
            if (ch != '>') {
                goto pass;
            }

            p++;

            /* a marker: it never reaches the output */

            if (cand > run) {
                if (pz_scan_out(s, run, cand - run, 0) != 0) {
                    return PZ_SCAN_ERROR;
                }
            }

            s->tag_len = 0;
            run = p;
            state = sw_text;
            s->comment = 0;

            if (pz_scan_marker(s) != 0) {
                return PZ_SCAN_ERROR;
            }

            continue;

        case sw_slash:
            if ((ch == 'b' || ch == 'B') && !s->raw) {
                s->match = 1;
                state = sw_end_body;
                break;
            }

            if (s->raw && pz_lower(ch) == (u_char_t) pz_raw[s->raw][0]) {
                s->match = 1;
                state = sw_raw_close;
                break;
            }

            goto pass;

        case sw_end_body:
            if (s->match < sizeof(pz_body) - 1) {
                if (pz_lower(ch) != (u_char_t) pz_body[s->match]) {
                    goto pass;
                }

                s->match++;
                break;
            }

            if (!(pz_blank(ch) || ch == '>' || ch == '/')) {
                goto pass;
            }

            /* the prompts go before "</body" */

            s->prompted = 1;

            if (h->prompts == NULL) {
                goto pass;
            }

            rc = h->prompts(s->data, &rp, &n);
            if (rc < 0) {
                return PZ_SCAN_ERROR;
            }

            if (rc == 0 || n == 0) {
                goto pass;
            }

            if (cand > run) {
                if (pz_scan_out(s, run, cand - run, 0) != 0) {
                    return PZ_SCAN_ERROR;
                }
            }

            run = cand;

            if (pz_scan_out(s, rp, n, 0) != 0) {
                return PZ_SCAN_ERROR;
            }

            goto pass;

        case sw_raw_close:
        case sw_raw_open:
            rp = (const u_char_t *) pz_raw[state == sw_raw_open ? s->raw_cand
                                                                : s->raw];

            if (rp[s->match] != '\0') {
                if (pz_lower(ch) != rp[s->match]) {
                    goto pass;
                }

                s->match++;
                break;
            }

            if (pz_blank(ch) || ch == '>' || ch == '/') {
                s->raw = (state == sw_raw_open) ? s->raw_cand : raw_none;
            }

            goto pass;

        case sw_input:
            if (s->match < sizeof(pz_input) - 1) {
                if (pz_lower(ch) != (u_char_t) pz_input[s->match]) {
                    goto pass;
                }

                s->match++;
                break;
            }

            if (ch == '>') {
                p++;
                goto input;
            }

            if (pz_blank(ch) || ch == '/') {
                s->attr = a_space;
                state = sw_tag;
                break;
            }

            goto pass;

        default:
            /* unreachable */
            return PZ_SCAN_ERROR;
        }

        p++;
        continue;

    input:

        /* a complete <input> tag, up to p */

        state = sw_text;

        if (h->input == NULL) {
            goto tag_pass;
        }

        if (s->tag_len) {
            n = p - cand;
            memcpy(s->tag + s->tag_len, cand, n);
            tag = s->tag;
            tlen = s->tag_len + n;

        } else {
            tag = cand;
            tlen = p - cand;
        }

        rc = h->input(s->data, tag, tlen, &edit);
        if (rc < 0) {
            return PZ_SCAN_ERROR;
        }

        if (rc == 0 || edit.cut_start > edit.cut_end || edit.cut_end > tlen) {
            goto tag_pass;
        }

        if (cand > run) {
            if (pz_scan_out(s, run, cand - run, 0) != 0) {
                return PZ_SCAN_ERROR;
            }
        }

        if (pz_scan_out(s, tag, edit.cut_start, tag == s->tag) != 0
            || pz_scan_out(s, edit.data, edit.len, 0) != 0
            || pz_scan_out(s, tag + edit.cut_end, tlen - edit.cut_end,
                           tag == s->tag)
               != 0)
        {
            return PZ_SCAN_ERROR;
        }

        s->tag_len = 0;
        run = p;
        continue;

    tag_pass:

        if (s->tag_len) {
            /* the whole tag is in the tag buffer now */
            n = p - cand;
            memcpy(s->tag + s->tag_len, cand, n);

            if (pz_scan_out(s, s->tag, s->tag_len + n, 1) != 0) {
                return PZ_SCAN_ERROR;
            }

            s->tag_len = 0;
            run = p;
        }

        continue;

    long_tag:

        /* the tag is passed through up to its end */

        if (h->event) {
            h->event(s->data, PZ_SCAN_EV_LONG_TAG, NULL, 0);
        }

        if (s->tag_len) {
            if (pz_scan_out(s, s->tag, s->tag_len, 1) != 0) {
                return PZ_SCAN_ERROR;
            }
            s->tag_len = 0;
        }

        state = sw_tag_skip;
        continue;

    long_marker:

        if (h->event) {
            h->event(s->data, PZ_SCAN_EV_LONG_MARKER, NULL, 0);
        }

        /* fall through */

    pass:

        /*
         * Not a candidate after all: its bytes are ordinary text, and the
         * current byte is looked at again as text; or as a comment, when
         * the candidate was a comment that is no marker (the '-' right
         * before the current byte may begin its "-->", as in "<!-->").
         */

        n = 0;

        if ((state >= sw_c_space && state <= sw_c_end && s->flags && !s->raw)
            || s->comment)
        {

            for (q = p; n < 2 && q > cand && q[-1] == '-'; q--) {
                n++;
            }

            for (tlen = s->tag_len;
                 q == cand && n < 2 && tlen > 0 && s->tag[tlen - 1] == '-';
                 tlen--)
            {
                n++;
            }

            s->comment = 1;
            state = sw_comment;

        } else {
            state = sw_text;
        }

        if (s->tag_len) {
            if (pz_scan_out(s, s->tag, s->tag_len, 1) != 0) {
                return PZ_SCAN_ERROR;
            }
            s->tag_len = 0;
        }

        s->match = n;
    }

    s->state = state;

    if (state != sw_text && state != sw_tag_skip && state != sw_comment) {

        /* a candidate continues in the next piece */

        if (cand > run) {
            if (pz_scan_out(s, run, cand - run, 0) != 0) {
                return PZ_SCAN_ERROR;
            }
        }

        n = end - cand;
        memcpy(s->tag + s->tag_len, cand, n);
        s->tag_len += n;

        return 0;
    }

    if (end > run) {
        if (pz_scan_out(s, run, end - run, 0) != 0) {
            return PZ_SCAN_ERROR;
        }
    }

    return 0;
}


int
pz_scan_finish(pz_scan_t *s)
{
    const pz_scan_handler_t  *h;

    h = s->handler;

    if (s->state != sw_text && s->state != sw_tag_skip
        && s->state != sw_comment && s->tag_len)
    {
        /* an unfinished candidate is text */
        if (pz_scan_out(s, s->tag, s->tag_len, 1) != 0) {
            return PZ_SCAN_ERROR;
        }
    }

    s->tag_len = 0;
    s->state = sw_text;
    s->comment = 0;

    if (s->slot == 0) {
        return 0;
    }

    if (h->event) {
        if (s->overflow) {
            h->event(s->data, PZ_SCAN_EV_LONG_SLOT, s->slot_name,
                     s->slot_len);
        }

        h->event(s->data, PZ_SCAN_EV_UNCLOSED, s->slot_name, s->slot_len);
    }

    s->overflow = 0;

    if (s->slot == SLOT_REPLACE) {
        s->slot = 0;

        if (s->hold_len) {
            if (h->emit(s->data, s->hold, s->hold_len, 1) != 0) {
                return PZ_SCAN_ERROR;
            }
            s->hold_len = 0;
        }
    }

    s->slot = 0;

    return 0;
}


/*
 * The next '<' that may start a candidate.  In HTML a '<' is a few dozen
 * bytes away, too close for memchr() to pay off its call, and most tags
 * are no candidates.  Where SSE2 is there, a block of 16 bytes is matched
 * at once against the first bytes of every candidate the scanner wants in
 * its current state: "<!" always; outside <script> and <textarea> "<in",
 * "<sc", "<te" and, until the prompts are placed, "</bo"; inside them the
 * first two letters of their end tag.  Only those positions go on to
 * pz_scan_skip().  This only drops a '<' that the state machine would pass
 * as text, so the output does not depend on it.
 */

static void
pz_scan_want(pz_scan_t *s, pz_want_t *w)
{
    w->in = (s->flags & PZ_SCAN_INPUTS) && !s->raw;
    w->open = (s->flags & (PZ_SCAN_INPUTS|PZ_SCAN_PROMPTS)) && !s->raw;

    if (s->raw) {
        w->close = 1;
        w->close_name[0] = pz_raw[s->raw][0];
        w->close_name[1] = pz_raw[s->raw][1];

    } else {
        w->close = (s->flags & PZ_SCAN_PROMPTS) && !s->prompted
                   && s->slot == 0;
        w->close_name[0] = 'b';
        w->close_name[1] = 'o';
    }
}


static const u_char_t *
pz_find_candidate(pz_scan_t *s, const u_char_t *p, const u_char_t *end)
{
#if (defined __SSE2__)
    unsigned   m;
    __m128i    v0, v1, l1, l2, l3, c, x, lower, k_in, k_open, k_close, c0,
               c1;
    pz_want_t  w;
#endif

    if (pz_scan_simd == PZ_SCAN_SIMD_AUTO) {
        pz_scan_simd = PZ_SCAN_SIMD_SSE2;
#if (PZ_HAVE_AVX2)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2")) {
            pz_scan_simd = PZ_SCAN_SIMD_AVX2;
        }
#endif
    }

#if (PZ_HAVE_AVX2)
    if (pz_scan_simd == PZ_SCAN_SIMD_AVX2 && __builtin_cpu_supports("avx2")) {
        if (pz_find_candidate_avx2(s, &p, end)) {
            return p;
        }

        /* the last bytes of the piece, if any, go on below */
    }
#endif

#if (defined __SSE2__)
    if (pz_scan_simd == PZ_SCAN_SIMD_NONE) {
        goto bytes;
    }

    pz_scan_want(s, &w);

    k_in = _mm_set1_epi8(w.in ? -1 : 0);
    k_open = _mm_set1_epi8(w.open ? -1 : 0);
    k_close = _mm_set1_epi8(w.close ? -1 : 0);
    c0 = _mm_set1_epi8(w.close_name[0]);
    c1 = _mm_set1_epi8(w.close_name[1]);

    lower = _mm_set1_epi8(0x20);

    /* the bytes after '<' are read too: "</bo" needs three of them */

    while (end - p >= 16 + 3) {
        v0 = _mm_loadu_si128((const __m128i *) p);
        m = (unsigned) _mm_movemask_epi8(_mm_cmpeq_epi8(v0,
                                                   _mm_set1_epi8('<')));
        if (m == 0) {
            p += 16;
            continue;
        }

        v1 = _mm_loadu_si128((const __m128i *) (p + 1));
        l1 = _mm_or_si128(v1, lower);
        l2 = _mm_or_si128(_mm_loadu_si128((const __m128i *) (p + 2)), lower);
        l3 = _mm_or_si128(_mm_loadu_si128((const __m128i *) (p + 3)), lower);

        c = _mm_cmpeq_epi8(v1, _mm_set1_epi8('!'));

        x = _mm_and_si128(_mm_cmpeq_epi8(l1, _mm_set1_epi8('i')),
                          _mm_cmpeq_epi8(l2, _mm_set1_epi8('n')));
        c = _mm_or_si128(c, _mm_and_si128(x, k_in));

        x = _mm_or_si128(_mm_and_si128(_mm_cmpeq_epi8(l1, _mm_set1_epi8('s')),
                                       _mm_cmpeq_epi8(l2, _mm_set1_epi8('c'))),
                         _mm_and_si128(_mm_cmpeq_epi8(l1, _mm_set1_epi8('t')),
                                       _mm_cmpeq_epi8(l2, _mm_set1_epi8('e'))));
        c = _mm_or_si128(c, _mm_and_si128(x, k_open));

        x = _mm_and_si128(_mm_cmpeq_epi8(v1, _mm_set1_epi8('/')),
                          _mm_and_si128(_mm_cmpeq_epi8(l2, c0),
                                        _mm_cmpeq_epi8(l3, c1)));
        c = _mm_or_si128(c, _mm_and_si128(x, k_close));

        m &= (unsigned) _mm_movemask_epi8(c);

        while (m) {
            if (!pz_scan_skip(s, p + __builtin_ctz(m), end)) {
                return p + __builtin_ctz(m);
            }

            m &= m - 1;
        }

        p += 16;
    }

bytes:
#endif

    for ( /* void */ ; p < end; p++) {
        if (*p == '<' && !pz_scan_skip(s, p, end)) {
            return p;
        }
    }

    return NULL;
}


#if (PZ_HAVE_AVX2)

/*
 * The same as the SSE2 loop of pz_find_candidate(), 32 bytes at a time,
 * for the processors that have AVX2 (nearly all x86-64 ones in use).
 * Returns 1 with *pp at a candidate, or 0 with *pp at the last bytes that
 * are too few for a block.
 */

__attribute__((target("avx2")))
static int
pz_find_candidate_avx2(pz_scan_t *s, const u_char_t **pp,
    const u_char_t *end)
{
    unsigned         m;
    __m256i          v0, v1, l1, l2, l3, c, x, lower, k_in, k_open, k_close,
                     c0, c1;
    pz_want_t        w;
    const u_char_t  *p;

    p = *pp;

    pz_scan_want(s, &w);

    k_in = _mm256_set1_epi8(w.in ? -1 : 0);
    k_open = _mm256_set1_epi8(w.open ? -1 : 0);
    k_close = _mm256_set1_epi8(w.close ? -1 : 0);
    c0 = _mm256_set1_epi8(w.close_name[0]);
    c1 = _mm256_set1_epi8(w.close_name[1]);

    lower = _mm256_set1_epi8(0x20);

    while (end - p >= 32 + 3) {
        v0 = _mm256_loadu_si256((const __m256i *) p);
        m = (unsigned) _mm256_movemask_epi8(_mm256_cmpeq_epi8(v0,
                                                  _mm256_set1_epi8('<')));

        v1 = _mm256_loadu_si256((const __m256i *) (p + 1));
        l1 = _mm256_or_si256(v1, lower);
        l2 = _mm256_or_si256(_mm256_loadu_si256((const __m256i *) (p + 2)),
                             lower);
        l3 = _mm256_or_si256(_mm256_loadu_si256((const __m256i *) (p + 3)),
                             lower);

        c = _mm256_cmpeq_epi8(v1, _mm256_set1_epi8('!'));

        x = _mm256_and_si256(_mm256_cmpeq_epi8(l1, _mm256_set1_epi8('i')),
                             _mm256_cmpeq_epi8(l2, _mm256_set1_epi8('n')));
        c = _mm256_or_si256(c, _mm256_and_si256(x, k_in));

        x = _mm256_or_si256(
                _mm256_and_si256(_mm256_cmpeq_epi8(l1, _mm256_set1_epi8('s')),
                                 _mm256_cmpeq_epi8(l2, _mm256_set1_epi8('c'))),
                _mm256_and_si256(_mm256_cmpeq_epi8(l1, _mm256_set1_epi8('t')),
                                 _mm256_cmpeq_epi8(l2, _mm256_set1_epi8('e'))));
        c = _mm256_or_si256(c, _mm256_and_si256(x, k_open));

        x = _mm256_and_si256(_mm256_cmpeq_epi8(v1, _mm256_set1_epi8('/')),
                             _mm256_and_si256(_mm256_cmpeq_epi8(l2, c0),
                                              _mm256_cmpeq_epi8(l3, c1)));
        c = _mm256_or_si256(c, _mm256_and_si256(x, k_close));

        m &= (unsigned) _mm256_movemask_epi8(c);

        while (m) {
            if (!pz_scan_skip(s, p + __builtin_ctz(m), end)) {
                *pp = p + __builtin_ctz(m);
                return 1;
            }

            m &= m - 1;
        }

        p += 32;
    }

    *pp = p;

    return 0;
}

#endif


/*
 * 1 when the tag at q surely starts no candidate, judged by the two bytes
 * after '<' as sw_lt and the states after it would; 0 when it may, or
 * when those bytes are in the next piece (the state machine decides).
 */

static int
pz_scan_skip(pz_scan_t *s, const u_char_t *q, const u_char_t *end)
{
    u_char_t  c;

    if (end - q < 3) {
        return 0;
    }

    c = pz_lower(q[2]);

    switch (q[1]) {

    case '!':
        return 0;

    case '/':
        if (s->raw) {
            return c != (u_char_t) pz_raw[s->raw][0];
        }

        if ((s->flags & PZ_SCAN_PROMPTS) && !s->prompted && s->slot == 0) {
            return c != 'b';
        }

        return 1;

    case 'i':
    case 'I':
        return !((s->flags & PZ_SCAN_INPUTS) && !s->raw && c == 'n');

    case 's':
    case 'S':
        return s->raw || c != 'c';

    case 't':
    case 'T':
        return s->raw || c != 'e';

    default:
        return 1;
    }
}


/* passes bytes on, or holds them while inside a replaced slot */

static int
pz_scan_out(pz_scan_t *s, const u_char_t *p, size_t len, int transient)
{
    const pz_scan_handler_t  *h;

    if (len == 0) {
        return 0;
    }

    h = s->handler;

    if (s->slot == SLOT_REPLACE) {

        if (s->hold_len + len <= s->hold_size) {
            memcpy(s->hold + s->hold_len, p, len);
            s->hold_len += len;
            return 0;
        }

        /*
         * The default is too long to hold: it stays.  The event is told
         * at the end of the slot, where it does not depend on how the
         * body was split.
         */

        s->slot = SLOT_KEEP;
        s->overflow = 1;

        if (s->hold_len) {
            if (h->emit(s->data, s->hold, s->hold_len, 1) != 0) {
                return PZ_SCAN_ERROR;
            }
            s->hold_len = 0;
        }
    }

    return h->emit(s->data, p, len, transient) != 0 ? PZ_SCAN_ERROR : 0;
}


/* a complete marker, its name in s->name */

static int
pz_scan_marker(pz_scan_t *s)
{
    int                       rc;
    size_t                    n;
    const u_char_t           *p;
    const pz_scan_handler_t  *h;

    h = s->handler;

    if (s->slot) {

        if (s->close
            && s->name_len == s->slot_len
            && memcmp(s->name, s->slot_name, s->name_len) == 0)
        {
            if (s->overflow) {
                s->overflow = 0;

                if (h->event) {
                    h->event(s->data, PZ_SCAN_EV_LONG_SLOT, s->slot_name,
                             s->slot_len);
                }
            }

            if (s->slot == SLOT_KEEP) {
                s->slot = 0;
                return 0;
            }

            s->slot = 0;

            rc = 0;
            if (h->replace) {
                rc = h->replace(s->data, s->slot_name, s->slot_len, &p, &n);
                if (rc < 0) {
                    return PZ_SCAN_ERROR;
                }
            }

            if (rc == 0) {
                /* the default after all */
                p = s->hold;
                n = s->hold_len;
            }

            s->hold_len = 0;

            if (n == 0) {
                return 0;
            }

            return h->emit(s->data, p, n, rc == 0) != 0 ? PZ_SCAN_ERROR : 0;
        }

        if (h->event) {
            h->event(s->data, PZ_SCAN_EV_NESTED, s->name, s->name_len);
        }

        return 0;
    }

    if (s->close) {
        if (h->event) {
            h->event(s->data, PZ_SCAN_EV_STRAY, s->name, s->name_len);
        }

        return 0;
    }

    if (s->name_len == sizeof(pz_prompts) - 1
        && memcmp(s->name, pz_prompts, s->name_len) == 0)
    {
        /* the prompt position; later ones are just removed */

        if (!(s->flags & PZ_SCAN_PROMPTS) || s->prompted) {
            return 0;
        }

        s->prompted = 1;

        if (h->prompts == NULL) {
            return 0;
        }

        rc = h->prompts(s->data, &p, &n);
        if (rc < 0) {
            return PZ_SCAN_ERROR;
        }

        if (rc == 0 || n == 0) {
            return 0;
        }

        return h->emit(s->data, p, n, 0) != 0 ? PZ_SCAN_ERROR : 0;
    }

    memcpy(s->slot_name, s->name, s->name_len);
    s->slot_len = s->name_len;
    s->hold_len = 0;

    rc = PZ_SCAN_KEEP;

    if (h->open) {
        rc = h->open(s->data, s->name, s->name_len);
        if (rc < 0) {
            return PZ_SCAN_ERROR;
        }
    }

    s->slot = (rc == PZ_SCAN_REPLACE && s->hold_size) ? SLOT_REPLACE
                                                      : SLOT_KEEP;

    return 0;
}


/*
 * The '>' that ends a tag, from p on but before last, or NULL; *attr is
 * the attribute state, as pz_attr_step() keeps it.  The same steps, in a
 * loop that does not leave for every byte: a tag is mostly names and
 * short quoted values.
 */

static const u_char_t *
pz_tag_end(int *attr, const u_char_t *p, const u_char_t *last)
{
    int       a;
    u_char_t  ch, quote;

    a = *attr;

    while (p < last) {

        if (a == a_dq || a == a_sq) {
            quote = (a == a_dq) ? '"' : '\'';

            while (*p != quote) {
                if (++p == last) {
                    *attr = a;
                    return NULL;
                }
            }

            a = a_space;
            p++;
            continue;
        }

        ch = *p;

        if (ch == '>') {
            *attr = a;
            return p;
        }

        if (a == a_name || a == a_after_name) {
            if (ch == '=') {
                a = a_before_value;

            } else if (ch == '/') {
                a = a_space;

            } else if (pz_blank(ch)) {
                a = a_after_name;

            } else {
                a = a_name;
            }

        } else if (a == a_space) {
            if (!pz_blank(ch) && ch != '/') {
                a = a_name;
            }

        } else if (a == a_before_value) {
            if (ch == '"') {
                a = a_dq;

            } else if (ch == '\'') {
                a = a_sq;

            } else if (!pz_blank(ch)) {
                a = a_unq;
            }

        } else { /* a_unq */
            if (pz_blank(ch)) {
                a = a_space;
            }
        }

        p++;
    }

    *attr = a;

    return NULL;
}


/* one byte of a tag; returns 1 at the '>' that ends it */

static int
pz_attr_step(int *attr, u_char_t ch)
{
    switch (*attr) {

    case a_space:
        if (ch == '>') {
            return 1;
        }

        if (!pz_blank(ch) && ch != '/') {
            *attr = a_name;
        }

        break;

    case a_name:
    case a_after_name:
        if (ch == '>') {
            return 1;
        }

        if (ch == '=') {
            *attr = a_before_value;

        } else if (ch == '/') {
            *attr = a_space;

        } else if (pz_blank(ch)) {
            *attr = a_after_name;

        } else {
            *attr = a_name;
        }

        break;

    case a_before_value:
        if (ch == '>') {
            return 1;
        }

        if (ch == '"') {
            *attr = a_dq;

        } else if (ch == '\'') {
            *attr = a_sq;

        } else if (!pz_blank(ch)) {
            *attr = a_unq;
        }

        break;

    case a_dq:
        if (ch == '"') {
            *attr = a_space;
        }

        break;

    case a_sq:
        if (ch == '\'') {
            *attr = a_space;
        }

        break;

    default: /* a_unq */
        if (ch == '>') {
            return 1;
        }

        if (pz_blank(ch)) {
            *attr = a_space;
        }

        break;
    }

    return 0;
}


int
pz_input_parse(const unsigned char *tag, size_t len, pz_input_t *in)
{
    int        attr, has_val, done;
    size_t     i, ns, ne, vs, ve, end;
    u_char_t   ch;

    memset(in, 0, sizeof(pz_input_t));

    if (len < sizeof("<input>") - 1 || tag[0] != '<'
        || !pz_strcaseeq(tag + 1, 5, pz_input))
    {
        return -1;
    }

    ch = tag[6];
    if (!(pz_blank(ch) || ch == '/' || ch == '>')) {
        return -1;
    }

    attr = a_space;
    ns = ne = vs = ve = 0;

    for (i = 6; i < len; i++) {
        ch = tag[i];
        done = 0;
        has_val = -1;       /* no attribute ends at this byte */
        end = i;

        switch (attr) {

        case a_space:
            if (ch == '>') {
                done = 1;

            } else if (!pz_blank(ch) && ch != '/') {
                ns = i;
                attr = a_name;
            }
            break;

        case a_name:
            if (ch == '=') {
                ne = i;
                attr = a_before_value;

            } else if (ch == '>' || ch == '/' || pz_blank(ch)) {
                ne = i;

                if (pz_blank(ch)) {
                    attr = a_after_name;

                } else {
                    has_val = 0;
                    done = (ch == '>');
                    attr = a_space;
                }
            }
            break;

        case a_after_name:
            if (ch == '=') {
                attr = a_before_value;

            } else if (!pz_blank(ch)) {
                /* a valueless attribute ended at ne */
                has_val = 0;
                end = ne;
                done = (ch == '>');

                if (ch == '>' || ch == '/') {
                    attr = a_space;

                } else {
                    attr = a_name;
                }
            }
            break;

        case a_before_value:
            if (ch == '"' || ch == '\'') {
                vs = i + 1;
                attr = (ch == '"') ? a_dq : a_sq;

            } else if (ch == '>') {
                vs = ve = i;
                has_val = 1;
                done = 1;

            } else if (!pz_blank(ch)) {
                vs = i;
                attr = a_unq;
            }
            break;

        case a_dq:
        case a_sq:
            if (ch == (attr == a_dq ? '"' : '\'')) {
                ve = i;
                end = i + 1;
                has_val = 1;
                attr = a_space;
            }
            break;

        default: /* a_unq */
            if (ch == '>' || pz_blank(ch)) {
                ve = i;
                has_val = 1;
                done = (ch == '>');
                attr = a_space;
            }
            break;
        }

        if (has_val >= 0) {

            if (!in->has_name && pz_strcaseeq(tag + ns, ne - ns, "name")) {
                in->has_name = 1;
                in->name = has_val ? tag + vs : tag + ne;
                in->name_len = has_val ? ve - vs : 0;

            } else if (!in->has_value
                       && pz_strcaseeq(tag + ns, ne - ns, "value"))
            {
                in->has_value = 1;
                in->value = has_val ? tag + vs : tag + ne;
                in->value_len = has_val ? ve - vs : 0;
                in->value_start = ns;
                in->value_end = end;
            }

            if (attr == a_name) {
                /* the next attribute starts at this byte */
                ns = i;
            }
        }

        if (done) {
            break;
        }
    }

    return 0;
}


int
pz_input_edit(const pz_input_t *in, int overwrite, const unsigned char *attr,
    size_t attr_len, pz_scan_edit_t *edit)
{
    if (attr_len < 2 || attr[0] != ' ') {
        return 0;
    }

    if (in->has_value) {
        if (in->value_len && !overwrite) {
            return 0;
        }

        /* the attribute is replaced in place, without the leading space */

        edit->cut_start = in->value_start;
        edit->cut_end = in->value_end;
        edit->data = attr + 1;
        edit->len = attr_len - 1;

        return 1;
    }

    /* right after "<input": no need to care for "/>" */

    edit->cut_start = sizeof("<input") - 1;
    edit->cut_end = edit->cut_start;
    edit->data = attr;
    edit->len = attr_len;

    return 1;
}


static int
pz_strcaseeq(const u_char_t *p, size_t len, const char *lit)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (lit[i] == '\0' || pz_lower(p[i]) != (u_char_t) lit[i]) {
            return 0;
        }
    }

    return lit[len] == '\0';
}
