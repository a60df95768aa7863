/*
 * ngx_personalize scanner: finds slot markers, prompt positions and
 * <input> tags in HTML that arrives in pieces.
 *
 * Plain C, no nginx includes, no allocation: the body filter drives it,
 * and so do the unit tests (t/unit/test_scan.c) and the fuzz target
 * (t/fuzz/fuzz_scan.c).  The page markup is described in docs/markup.md.
 *
 * The scanner is an explicit state machine.  Outside a candidate it jumps
 * to the next '<' that may start a candidate (a marker, an <input> tag,
 * "</body", "<script", "<textarea" and their end tags), matches it byte by
 * byte and, when it straddles two pieces, keeps its bytes in the caller's
 * tag buffer.  <input> and "</body" count only outside ordinary comments,
 * <script> and <textarea>; markers count everywhere but in comments.
 * The output (the concatenation of everything passed to emit()) and the
 * order of the callbacks do not depend on how the input is split.
 *
 * Everything the scanner passes on goes through handler->emit():
 * transient is 1 when the bytes live in the scanner's buffers (the caller
 * must copy them before the next call), 0 when they point into the piece
 * being fed or into memory that a callback returned (which must stay
 * valid until the caller has sent it).
 */

#ifndef NGX_PERSONALIZE_SCAN_H_INCLUDED_
#define NGX_PERSONALIZE_SCAN_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>


#define PZ_SCAN_NAME_MAX      64        /* a slot name */
#define PZ_SCAN_MARKER_MAX    256       /* a marker, from '<' to '>' */
#define PZ_SCAN_TAG_MAX       4096      /* an <input> tag, default cap */

/* what to look for besides markers (pz_scan_init() flags) */
#define PZ_SCAN_INPUTS        0x01      /* <input> tags: handler->input */
#define PZ_SCAN_PROMPTS       0x02      /* "</body": handler->prompts */

/* handler->open() results */
#define PZ_SCAN_KEEP          0         /* stream the default content */
#define PZ_SCAN_REPLACE       1         /* hold it; replace() at the close */

/* handler->event() kinds, for a log line */
#define PZ_SCAN_EV_NESTED     1         /* a marker inside a slot, removed */
#define PZ_SCAN_EV_STRAY      2         /* a close marker without its open,
                                           removed */
#define PZ_SCAN_EV_UNCLOSED   3         /* the body ended inside a slot: its
                                           default was kept */
#define PZ_SCAN_EV_LONG_MARKER 4        /* a marker-like comment over the
                                           cap: passed through */
#define PZ_SCAN_EV_LONG_TAG   5         /* an <input> tag over the cap:
                                           passed through */
#define PZ_SCAN_EV_LONG_SLOT  6         /* the default of a replaced slot
                                           outgrew the hold buffer: the
                                           default was kept */

#define PZ_SCAN_ERROR         (-1)


/* a change of an <input> tag: tag[cut_start, cut_end) becomes data */
typedef struct {
    size_t                cut_start;
    size_t                cut_end;
    const unsigned char  *data;        /* stable memory */
    size_t                len;
} pz_scan_edit_t;


/*
 * Callbacks; each returns 0 or a result described above, or PZ_SCAN_ERROR
 * to stop the scan (pz_scan_feed() then returns PZ_SCAN_ERROR).  Only
 * emit is required.  Their results go where the scanner puts them (an
 * input edit inside a replaced slot goes to the held default).  Events
 * come in body order, whatever the chunking.
 */
typedef struct {
    int   (*emit)(void *data, const unsigned char *p, size_t len,
              int transient);

    /* <!-- personalize:NAME -->: PZ_SCAN_KEEP or PZ_SCAN_REPLACE */
    int   (*open)(void *data, const unsigned char *name, size_t len);

    /* the close marker of a replaced slot: 1 with *p, *len set to the
     * replacement, or 0 to keep the default after all */
    int   (*replace)(void *data, const unsigned char *name, size_t len,
              const unsigned char **p, size_t *plen);

    /* a complete <input ...> tag: 1 with *edit set, or 0 to keep it */
    int   (*input)(void *data, const unsigned char *tag, size_t len,
              pz_scan_edit_t *edit);

    /* the prompt position: 1 with *p, *len set, or 0 */
    int   (*prompts)(void *data, const unsigned char **p, size_t *plen);

    /* PZ_SCAN_EV_*, with the slot name when there is one */
    void  (*event)(void *data, int event, const unsigned char *name,
              size_t len);
} pz_scan_handler_t;


typedef struct {
    const pz_scan_handler_t  *handler;
    void                     *data;
    unsigned                  flags;

    int                       state;
    int                       attr;       /* attribute state in a tag */
    size_t                    match;      /* bytes of a literal matched */
    unsigned                  close:1;    /* the marker is a close one */
    unsigned                  raw:2;      /* inside <script> or <textarea> */
    unsigned                  raw_cand:2; /* the one being matched */
    unsigned                  comment:1;  /* inside an ordinary comment */
    unsigned                  prompted:1; /* prompts were placed */
    unsigned                  overflow:1; /* the slot outgrew the hold */

    /* the bytes of a candidate kept from earlier pieces */
    unsigned char            *tag;
    size_t                    tag_len;
    size_t                    tag_max;    /* the <input> cap */

    /* the name of the marker being matched */
    unsigned char             name[PZ_SCAN_NAME_MAX];
    size_t                    name_len;

    /* the open slot */
    int                       slot;       /* 0, or 1 + PZ_SCAN_KEEP/REPLACE */
    unsigned char             slot_name[PZ_SCAN_NAME_MAX];
    size_t                    slot_len;

    /* the default content of a replaced slot, held until its close */
    unsigned char            *hold;
    size_t                    hold_len;
    size_t                    hold_size;
} pz_scan_t;


/*
 * How the candidate search reads the body: PZ_SCAN_SIMD_AUTO picks the
 * widest the processor has (the default); the others are for the tests,
 * which check that every way gives the same output.  An unsupported
 * choice falls back to a narrower one.
 */
#define PZ_SCAN_SIMD_AUTO     (-1)
#define PZ_SCAN_SIMD_NONE     0         /* byte by byte */
#define PZ_SCAN_SIMD_SSE2     1         /* 16 bytes at a time */
#define PZ_SCAN_SIMD_AVX2     2         /* 32 bytes at a time */

extern int  pz_scan_simd;


/*
 * tag is the caller's buffer of tag_max bytes (at least
 * PZ_SCAN_MARKER_MAX; PZ_SCAN_TAG_MAX is a good value): the cap of an
 * <input> tag.
 */
void pz_scan_init(pz_scan_t *s, const pz_scan_handler_t *h, void *data,
    unsigned flags, unsigned char *tag, size_t tag_max);

/* the buffer for the default of a replaced slot; a slot is replaced only
 * when one is set (the open callback may set it lazily) */
void pz_scan_set_hold(pz_scan_t *s, unsigned char *hold, size_t size);

/* one piece of the body: 0 or PZ_SCAN_ERROR */
int pz_scan_feed(pz_scan_t *s, const unsigned char *p, size_t len);

/* the end of the body: passes on what is held; 0 or PZ_SCAN_ERROR */
int pz_scan_finish(pz_scan_t *s);

/* 1 while the scanner holds bytes that it has not passed on */
int pz_scan_holding(const pz_scan_t *s);


/* the attributes of an <input> tag that prefill cares about */
typedef struct {
    const unsigned char  *name;        /* the name attribute's value */
    size_t                name_len;
    const unsigned char  *value;       /* the value attribute's value */
    size_t                value_len;
    size_t                value_start; /* the value attribute, from its */
    size_t                value_end;   /* name to the end of its value */
    unsigned              has_name:1;
    unsigned              has_value:1;
} pz_input_t;

/* parses a complete tag as passed to handler->input(); 0, or -1 when it
 * is not an <input> tag */
int pz_input_parse(const unsigned char *tag, size_t len, pz_input_t *in);

/*
 * The edit that sets the value: attr is the text ' value="..."' (with the
 * leading space and the value escaped for an attribute).  Returns 1 with
 * *edit set, or 0 when the tag keeps its value (it has a non-empty one
 * and overwrite is 0).
 */
int pz_input_edit(const pz_input_t *in, int overwrite,
    const unsigned char *attr, size_t attr_len, pz_scan_edit_t *edit);


#endif /* NGX_PERSONALIZE_SCAN_H_INCLUDED_ */
