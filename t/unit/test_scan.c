/*
 * Unit tests of the scanner (ngx_personalize_scan.c): slot markers,
 * prompt positions and <input> prefills, each case fed whole, in 1-byte
 * pieces, split at every offset, split at every pair of offsets (short
 * cases) and in random pieces, which must all give the same output and
 * the same events.
 *
 * The decisions come from a test double below.  The sink copies transient
 * bytes at once but reads the others only after pz_scan_feed() returned,
 * before the piece (an exact-size heap copy) is freed, and refuses
 * non-transient bytes in the scanner's buffers: ASan and the comparison
 * catch any pointer that breaks the emit() contract.
 */

#include <stdlib.h>

#include "unit.h"
#include "ngx_personalize_scan.h"


#define OUT_MAX     (1024 * 1024)
#define PARTS_MAX   65536
#define EV_MAX      4096


typedef struct {
    const unsigned char  *p;
    size_t                len;
} part_t;


typedef struct {
    unsigned char  *out;
    size_t          out_len;
    part_t          parts[PARTS_MAX];
    size_t          nparts;
    unsigned char  *stage;
    size_t          stage_len;
    char            ev[EV_MAX];
    size_t          ev_len;
    int             fail_emit;      /* emit fails after this many calls */
    int             emits;
} sink_t;


static sink_t          sink;
static unsigned char   tagbuf[PZ_SCAN_TAG_MAX];
static unsigned char   holdbuf[4096];


/* the test double of the decisions */

static const char  vip[] = "<b>VIP</b>";
static const char  prompt[] = "<div id=p>help</div>";
static const char  coupon_attr[] = " value=\"SAVE10\"";
static const char  email_attr[] = " value=\"a&amp;b\"";


static int
t_emit(void *data, const unsigned char *p, size_t len, int transient)
{
    sink_t  *k = data;

    if (k->fail_emit && ++k->emits >= k->fail_emit) {
        return -1;
    }

    if (k->nparts == PARTS_MAX || k->stage_len + len > OUT_MAX) {
        return -1;
    }

    if (!transient
        && ((p >= tagbuf && p < tagbuf + sizeof(tagbuf))
            || (p >= holdbuf && p < holdbuf + sizeof(holdbuf))))
    {
        fprintf(stderr, "scanner memory passed as not transient\n");
        return -1;
    }

    if (transient) {
        memcpy(k->stage + k->stage_len, p, len);
        p = k->stage + k->stage_len;
        k->stage_len += len;
    }

    k->parts[k->nparts].p = p;
    k->parts[k->nparts].len = len;
    k->nparts++;

    return 0;
}


static int
t_open(void *data, const unsigned char *name, size_t len)
{
    (void) data;

    if ((len == 4 && memcmp(name, "hero", 4) == 0)
        || (len == 5 && memcmp(name, "empty", 5) == 0)
        || (len == 4 && memcmp(name, "back", 4) == 0))
    {
        return PZ_SCAN_REPLACE;
    }

    return PZ_SCAN_KEEP;
}


static int
t_replace(void *data, const unsigned char *name, size_t len,
    const unsigned char **p, size_t *plen)
{
    (void) data;

    if (len == 4 && memcmp(name, "hero", 4) == 0) {
        *p = (const unsigned char *) vip;
        *plen = sizeof(vip) - 1;
        return 1;
    }

    if (len == 5 && memcmp(name, "empty", 5) == 0) {
        *p = (const unsigned char *) "";
        *plen = 0;
        return 1;
    }

    /* "back": changed its mind, the default stays */
    return 0;
}


static int
t_input(void *data, const unsigned char *tag, size_t len,
    pz_scan_edit_t *edit)
{
    pz_input_t  in;

    (void) data;

    if (pz_input_parse(tag, len, &in) != 0 || !in.has_name) {
        return 0;
    }

    if (in.name_len == 6 && memcmp(in.name, "coupon", 6) == 0) {
        return pz_input_edit(&in, 0, (const unsigned char *) coupon_attr,
                             sizeof(coupon_attr) - 1, edit);
    }

    if (in.name_len == 5 && memcmp(in.name, "email", 5) == 0) {
        return pz_input_edit(&in, 1, (const unsigned char *) email_attr,
                             sizeof(email_attr) - 1, edit);
    }

    return 0;
}


static int
t_prompts(void *data, const unsigned char **p, size_t *plen)
{
    (void) data;

    *p = (const unsigned char *) prompt;
    *plen = sizeof(prompt) - 1;

    return 1;
}


static void
t_event(void *data, int event, const unsigned char *name, size_t len)
{
    sink_t  *k = data;

    if (k->ev_len + len + 16 < EV_MAX) {
        k->ev_len += snprintf(k->ev + k->ev_len, EV_MAX - k->ev_len,
                              "%d:%.*s;", event, (int) len,
                              name ? (const char *) name : "");
    }
}


static const pz_scan_handler_t  handler = {
    t_emit, t_open, t_replace, t_input, t_prompts, t_event
};


static void
sink_reset(void)
{
    sink.out_len = 0;
    sink.nparts = 0;
    sink.stage_len = 0;
    sink.ev_len = 0;
    sink.ev[0] = '\0';
    sink.emits = 0;
}


static int
sink_flush(void)
{
    size_t  i;

    for (i = 0; i < sink.nparts; i++) {
        if (sink.out_len + sink.parts[i].len > OUT_MAX) {
            return -1;
        }

        memcpy(sink.out + sink.out_len, sink.parts[i].p, sink.parts[i].len);
        sink.out_len += sink.parts[i].len;
    }

    sink.nparts = 0;
    sink.stage_len = 0;

    return 0;
}


/*
 * Feeds in[0, len) cut at the sorted offsets cuts[0, ncuts); the output is
 * in sink.out, the events in sink.ev.  Returns 0 or -1.
 */

static int
run(const char *in, size_t len, const size_t *cuts, size_t ncuts,
    unsigned flags, size_t hold)
{
    int             rc;
    size_t          i, from, to;
    pz_scan_t       s;
    unsigned char  *piece;

    sink_reset();
    pz_scan_init(&s, &handler, &sink, flags, tagbuf, sizeof(tagbuf));
    pz_scan_set_hold(&s, holdbuf, hold);

    from = 0;

    for (i = 0; i <= ncuts; i++) {
        to = (i < ncuts) ? cuts[i] : len;

        piece = malloc(to - from ? to - from : 1);
        if (piece == NULL) {
            return -1;
        }

        memcpy(piece, in + from, to - from);
        rc = pz_scan_feed(&s, piece, to - from);

        if (rc == 0) {
            rc = sink_flush();
        }

        free(piece);

        if (rc != 0) {
            return -1;
        }

        from = to;
    }

    if (pz_scan_finish(&s) != 0 || pz_scan_holding(&s)) {
        return -1;
    }

    return sink_flush();
}


static size_t  cuts[65536];


static int
same(const char *name, const char *want, const char *want_ev,
    const char *how)
{
    if (sink.out_len == strlen(want)
        && memcmp(sink.out, want, sink.out_len) == 0
        && strcmp(sink.ev, want_ev) == 0)
    {
        return 1;
    }

    fprintf(stderr, "not ok: %s, %s:\n  got  \"%.*s\" [%s]\n"
            "  want \"%s\" [%s]\n", name, how, (int) sink.out_len,
            (const char *) sink.out, sink.ev, want, want_ev);

    return 0;
}


/* every chunking of in gives want and the events want_ev */

static void
check_flags(const char *name, const char *in, const char *want,
    const char *want_ev, unsigned flags, size_t hold)
{
    int     ok;
    char    how[64];
    size_t  len, i, j, n;

    len = strlen(in);
    ok = 1;

    ok = ok && run(in, len, NULL, 0, flags, hold) == 0
         && same(name, want, want_ev, "whole");

    for (i = 1; ok && i < len; i++) {
        cuts[0] = i;
        snprintf(how, sizeof(how), "split at %zu", i);
        ok = run(in, len, cuts, 1, flags, hold) == 0
             && same(name, want, want_ev, how);
    }

    for (i = 1; i < len; i++) {
        cuts[i - 1] = i;
    }

    ok = ok && run(in, len, cuts, len ? len - 1 : 0, flags, hold) == 0
         && same(name, want, want_ev, "1-byte pieces");

    if (len <= 160) {
        for (i = 1; ok && i < len; i++) {
            for (j = i + 1; ok && j < len; j++) {
                cuts[0] = i;
                cuts[1] = j;
                snprintf(how, sizeof(how), "split at %zu and %zu", i, j);
                ok = run(in, len, cuts, 2, flags, hold) == 0
                     && same(name, want, want_ev, how);
            }
        }
    }

    srand(7);

    for (i = 0; ok && i < 50; i++) {
        n = 0;
        for (j = 1 + rand() % 7; j < len; j += 1 + rand() % 7) {
            cuts[n++] = j;
        }
        snprintf(how, sizeof(how), "random pieces #%zu", i);
        ok = run(in, len, cuts, n, flags, hold) == 0
             && same(name, want, want_ev, how);
    }

    CHECK(ok, name);
}


static void
check(const char *name, const char *in, const char *want, const char *ev)
{
    check_flags(name, in, want, ev, PZ_SCAN_INPUTS|PZ_SCAN_PROMPTS,
                sizeof(holdbuf));
}


/* marker-only cases: the same with and without inputs and prompts, so
 * that the '!' fast path and the general path are both checked */

static void
check2(const char *name, const char *in, const char *want, const char *ev)
{
    char  name0[128];

    check(name, in, want, ev);

    snprintf(name0, sizeof(name0), "%s (markers only)", name);
    check_flags(name0, in, want, ev, 0, sizeof(holdbuf));
}


static void
test_markers(void)
{
    check2("plain text", "hello <b>world</b> <i>x</i> <",
          "hello <b>world</b> <i>x</i> <", "");
    check2("empty body", "", "", "");
    check2("lone <", "<", "<", "");

    check2("slot replaced",
          "a<!-- personalize:hero -->def<!-- /personalize:hero -->b",
          "a<b>VIP</b>b", "");
    check2("slot kept, markers removed",
          "a<!-- personalize:side -->def<!-- /personalize:side -->b",
          "adefb", "");
    check2("no blanks, mixed case keyword",
          "<!--PERSONALIZE:hero-->x<!--/Personalize:hero-->.",
          "<b>VIP</b>.", "");
    check2("blanks of every kind",
          "<!--\t\r\n personalize:side \n-->x<!--  /personalize:side\t-->",
          "x", "");
    check2("replaced by empty content",
          "[<!-- personalize:empty -->gone<!-- /personalize:empty -->]",
          "[]", "");
    check2("replace callback keeps the default",
          "[<!-- personalize:back -->stays<!-- /personalize:back -->]",
          "[stays]", "");
    check2("names with dashes and dots",
          "<!-- personalize:a-b.c_d -->x<!-- /personalize:a-b.c_d -->"
          "<!-- personalize:e- -->y<!-- /personalize:e- -->",
          "xy", "");
    check2("duplicate slots are each replaced",
          "<!-- personalize:hero -->1<!-- /personalize:hero -->|"
          "<!-- personalize:hero -->2<!-- /personalize:hero -->",
          "<b>VIP</b>|<b>VIP</b>", "");
    check2("nested markers are removed",
          "<!-- personalize:hero -->A<!-- personalize:side -->B"
          "<!-- /personalize:side -->C<!-- /personalize:hero -->D",
          "<b>VIP</b>D", "1:side;1:side;");
    check2("nested slot inside a kept slot is not replaced",
          "<!-- personalize:side -->A<!-- personalize:hero -->B"
          "<!-- /personalize:hero -->C<!-- /personalize:side -->D",
          "ABCD", "1:hero;1:hero;");
    check2("close without open",
          "a<!-- /personalize:hero -->b", "ab", "2:hero;");
    check2("close of another slot",
          "<!-- personalize:side -->a<!-- /personalize:hero -->b"
          "<!-- /personalize:side -->", "ab", "1:hero;");
    check2("unclosed kept slot at the end",
          "text<!-- personalize:side -->", "text", "3:side;");
    check2("unclosed replaced slot keeps its default",
          "a<!-- personalize:hero -->default <i>tail</i>",
          "adefault <i>tail</i>", "3:hero;");
    check2("close marker at the very end",
          "x<!-- personalize:hero -->y<!-- /personalize:hero -->",
          "x<b>VIP</b>", "");
    check2("unfinished marker at the end is text",
          "x<!-- personalize:her", "x<!-- personalize:her", "");
    check2("unfinished marker in a replaced slot",
          "<!-- personalize:hero -->d<!-- /personalize:he",
          "d<!-- /personalize:he", "3:hero;");
    check2("ordinary comments and doctype",
          "<!DOCTYPE html><!-- c --><!--[if IE]>x<![endif]--><!---->"
          "<!-- personalize: hero --><!-- personalize:a--b -->"
          "<!-- personalize:-->",
          "<!DOCTYPE html><!-- c --><!--[if IE]>x<![endif]--><!---->"
          "<!-- personalize: hero --><!-- personalize:a--b -->"
          "<!-- personalize:-->", "");
    check2("a marker right after a near miss",
          "<<!<!--<!-- personalize:hero -->x<!-- /personalize:hero -->",
          "<<!<!--<b>VIP</b>", "");
    check2("markers inside a script are markers",
          "<script>a<!-- personalize:side -->b<!-- /personalize:side -->"
          "</script>", "<script>ab</script>", "");
}


static void
test_caps(void)
{
    char    in[8192], want[8192];
    size_t  n;

    /* a comment with too many blanks is passed through */

    n = (size_t) snprintf(in, sizeof(in), "a<!--%*s/personalize:side -->b",
                          300, "");
    memcpy(want, in, n + 1);
    check("an over-long marker is passed through", in, want, "4:;");

    /* the longest name is a marker, one more is not */

    snprintf(in, sizeof(in), "<!-- personalize:%.64s -->x"
             "<!-- /personalize:%.64s -->",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaa",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaa");
    check("a name of 64 bytes", in, "x", "");

    snprintf(in, sizeof(in), "<!-- personalize:%.65s -->x",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaa");
    memcpy(want, in, strlen(in) + 1);
    check("a name of 65 bytes is not a marker", in, want, "4:;");

    /* an <input> tag over the cap is passed through, the next one works */

    n = (size_t) snprintf(in, sizeof(in),
                          "<input name=coupon title=\"%*s<input name=coupon>"
                          "\"><input name=coupon>", 5000, "");
    (void) n;
    snprintf(want, sizeof(want),
             "<input name=coupon title=\"%*s<input name=coupon>"
             "\"><input value=\"SAVE10\" name=coupon>", 5000, "");
    check_flags("an over-long input tag is passed through", in, want, "5:;",
                PZ_SCAN_INPUTS|PZ_SCAN_PROMPTS, sizeof(holdbuf));

    /* the default of a replaced slot that outgrows the hold buffer stays */

    snprintf(in, sizeof(in), "<!-- personalize:hero -->%s"
             "<!-- /personalize:hero -->!",
             "0123456789012345678901234567890123456789012345678901234567890"
             "123456789");
    check_flags("a default over the hold buffer is kept", in,
                "0123456789012345678901234567890123456789012345678901234567890"
                "123456789!", "6:hero;", PZ_SCAN_INPUTS|PZ_SCAN_PROMPTS, 64);

    snprintf(in, sizeof(in), "<!-- personalize:hero -->%s"
             "<!-- /personalize:hero -->!", "0123456789");
    check_flags("a default within the hold buffer is replaced", in,
                "<b>VIP</b>!", "", PZ_SCAN_INPUTS|PZ_SCAN_PROMPTS, 64);

    check_flags("no hold buffer: no replacement",
                "<!-- personalize:hero -->d<!-- /personalize:hero -->",
                "d", "", PZ_SCAN_INPUTS|PZ_SCAN_PROMPTS, 0);
}


static void
test_prompts(void)
{
    check("prompts before </body>",
          "<html><body>x</body></html>",
          "<html><body>x<div id=p>help</div></body></html>", "");
    check("uppercase </BODY >, only the first",
          "x</BODY ></body>", "x<div id=p>help</div></BODY ></body>", "");
    check("prompt marker wins over </body>",
          "a<!-- personalize:prompts -->b</body>",
          "a<div id=p>help</div>b</body>", "");
    check("a second prompt marker is removed",
          "<!-- personalize:prompts -->a<!-- personalize:prompts -->",
          "<div id=p>help</div>a", "");
    check("</body> inside a script is not the end",
          "<script>w('</body>')</SCRIPT>x</body>",
          "<script>w('</body>')</SCRIPT>x<div id=p>help</div></body>", "");
    check("</body> inside a comment or a textarea is not the end",
          "<!-- </body> --><textarea></body></textarea>x</body>",
          "<!-- </body> --><textarea></body></textarea>x"
          "<div id=p>help</div></body>", "");
    check("</bodyx> is not </body>",
          "</bodyx></body>", "</bodyx><div id=p>help</div></body>", "");
    check("no </body>: no prompts", "<p>fragment</p>", "<p>fragment</p>",
          "");
    check("prompt marker inside a slot is removed",
          "<!-- personalize:side --><!-- personalize:prompts -->"
          "<!-- /personalize:side --></body>",
          "<div id=p>help</div></body>", "1:prompts;");
    check("</body> inside a slot is not a prompt position",
          "<!-- personalize:side --></body><!-- /personalize:side --></body>",
          "</body><div id=p>help</div></body>", "");
    check_flags("without PZ_SCAN_PROMPTS nothing is inserted",
                "<!-- personalize:prompts -->x</body>", "x</body>", "", 0,
                sizeof(holdbuf));
}


static void
test_inputs(void)
{
    check("input without value",
          "<form><input name=\"coupon\"></form>",
          "<form><input value=\"SAVE10\" name=\"coupon\"></form>", "");
    check("empty value is set",
          "<input type=text name=coupon value=\"\">",
          "<input type=text name=coupon value=\"SAVE10\">", "");
    check("valueless value attribute is set",
          "<input name=coupon value>", "<input name=coupon value=\"SAVE10\">",
          "");
    check("value after name is kept",
          "<input name=\"coupon\" value=\"X\">",
          "<input name=\"coupon\" value=\"X\">", "");
    check("value before name is kept",
          "<input value='X' name='coupon'>",
          "<input value='X' name='coupon'>", "");
    check("single quotes, empty value",
          "<input name='coupon' value=''/>",
          "<input name='coupon' value=\"SAVE10\"/>", "");
    check("uppercase tag and attributes",
          "<INPUT NAME=\"coupon\" VALUE=\"\">",
          "<INPUT NAME=\"coupon\" value=\"SAVE10\">", "");
    check("self-closing",
          "<input name=coupon />", "<input value=\"SAVE10\" name=coupon />",
          "");
    check("'>' inside quoted attributes",
          "<input data-x=\"a>b\" data-y='c>d' name=\"coupon\">",
          "<input value=\"SAVE10\" data-x=\"a>b\" data-y='c>d' "
          "name=\"coupon\">", "");
    check("blanks around =",
          "<input\n name = \"coupon\"\tvalue = \"\" >",
          "<input\n name = \"coupon\"\tvalue=\"SAVE10\" >", "");
    check("an unquoted value swallows name=",
          "<input value= name=coupon>", "<input value= name=coupon>", "");
    check("overwrite replaces a value",
          "<input name=email value=\"old\" type=email>",
          "<input name=email value=\"a&amp;b\" type=email>", "");
    check("other names are untouched",
          "<input name=q><input name=coupons><input><input/>",
          "<input name=q><input name=coupons><input><input/>", "");
    check("not an input tag",
          "<inputx name=coupon><inp name=coupon><i name=coupon>",
          "<inputx name=coupon><inp name=coupon><i name=coupon>", "");
    check("first name attribute wins",
          "<input name=coupon name=q>",
          "<input value=\"SAVE10\" name=coupon name=q>", "");
    check("input inside a script is untouched",
          "<script>s = \"<input name=coupon>\";</script><input name=coupon>",
          "<script>s = \"<input name=coupon>\";</script>"
          "<input value=\"SAVE10\" name=coupon>", "");
    check("input inside a comment is untouched",
          "<!-- <input name=coupon> --><input name=coupon>",
          "<!-- <input name=coupon> --><input value=\"SAVE10\" name=coupon>",
          "");
    check("<!--> and <!---> are whole comments",
          "<!--><input name=coupon><!---><input name=coupon>",
          "<!--><input value=\"SAVE10\" name=coupon>"
          "<!---><input value=\"SAVE10\" name=coupon>", "");
    check("---> ends a comment, -- > does not",
          "<!-- a -- > <input name=coupon> ---><input name=coupon>",
          "<!-- a -- > <input name=coupon> --->"
          "<input value=\"SAVE10\" name=coupon>", "");
    check("a comment without its end hides the rest",
          "<!-- a <input name=coupon>", "<!-- a <input name=coupon>", "");
    check("a marker in a comment counts and ends the comment",
          "<!-- old <!-- personalize:hero -->d<!-- /personalize:hero -->"
          "<input name=coupon>",
          "<!-- old <b>VIP</b><input value=\"SAVE10\" name=coupon>", "");
    check("a near miss in a comment stays in the comment",
          "<!-- <!x <!-- y <input name=coupon> --><input name=coupon>",
          "<!-- <!x <!-- y <input name=coupon> -->"
          "<input value=\"SAVE10\" name=coupon>", "");
    check("input inside a textarea is untouched",
          "<TEXTAREA name=t><input name=coupon></textarea >"
          "<input name=coupon>",
          "<TEXTAREA name=t><input name=coupon></textarea >"
          "<input value=\"SAVE10\" name=coupon>", "");
    check("textareax and template are no textarea",
          "<textareax><input name=coupon><template><input name=coupon>",
          "<textareax><input value=\"SAVE10\" name=coupon>"
          "<template><input value=\"SAVE10\" name=coupon>", "");
    check("</script> does not end a textarea",
          "<textarea></script><input name=coupon></textarea>"
          "<input name=coupon>",
          "<textarea></script><input name=coupon></textarea>"
          "<input value=\"SAVE10\" name=coupon>", "");
    check("input in a kept slot is prefilled",
          "<!-- personalize:side --><input name=coupon>"
          "<!-- /personalize:side -->",
          "<input value=\"SAVE10\" name=coupon>", "");
    check("input in a replaced slot goes with the default",
          "<!-- personalize:hero --><input name=coupon>"
          "<!-- /personalize:hero -->", "<b>VIP</b>", "");
    check("unfinished input tag at the end is text",
          "<input name=coupon", "<input name=coupon", "");
    check_flags("without PZ_SCAN_INPUTS inputs are untouched",
                "<input name=coupon>", "<input name=coupon>", "", 0,
                sizeof(holdbuf));
}


static void
test_parse(void)
{
    pz_input_t      in;
    pz_scan_edit_t  e;

    static const char  t1[] = "<input type=text NAME=\"coupon\" value=x>";
    static const char  t2[] = "<input value name='a b'>";
    static const char  t3[] = "<img src=x>";

    CHECK_EQ_INT(pz_input_parse((const unsigned char *) t1, sizeof(t1) - 1,
                                &in), 0, "parse t1");
    CHECK(in.has_name && in.has_value, "t1 has name and value");
    CHECK_EQ_MEM(in.name, in.name_len, "coupon", 6, "t1 name");
    CHECK_EQ_MEM(in.value, in.value_len, "x", 1, "t1 value");
    CHECK_EQ_MEM(t1 + in.value_start, in.value_end - in.value_start,
                 "value=x", 7, "t1 value attribute span");

    CHECK_EQ_INT(pz_input_edit(&in, 0, (const unsigned char *) " value=\"y\"",
                               10, &e), 0, "no edit of a non-empty value");
    CHECK_EQ_INT(pz_input_edit(&in, 1, (const unsigned char *) " value=\"y\"",
                               10, &e), 1, "edit with overwrite");
    CHECK_EQ_MEM(e.data, e.len, "value=\"y\"", 9, "edit data");

    CHECK_EQ_INT(pz_input_parse((const unsigned char *) t2, sizeof(t2) - 1,
                                &in), 0, "parse t2");
    CHECK(in.has_value && in.value_len == 0, "t2 valueless value");
    CHECK_EQ_MEM(in.name, in.name_len, "a b", 3, "t2 quoted name");

    CHECK_EQ_INT(pz_input_parse((const unsigned char *) t3, sizeof(t3) - 1,
                                &in), -1, "img is not an input");
}


static void
test_errors(void)
{
    static const char  in[] = "a<!-- personalize:hero -->d"
                              "<!-- /personalize:hero -->b";

    sink.fail_emit = 1;
    CHECK_EQ_INT(run(in, sizeof(in) - 1, NULL, 0, PZ_SCAN_INPUTS, 64), -1,
                 "an emit error stops the scan");

    sink.fail_emit = 2;
    CHECK_EQ_INT(run(in, sizeof(in) - 1, NULL, 0, PZ_SCAN_INPUTS, 64), -1,
                 "an emit error at the replacement stops the scan");

    sink.fail_emit = 0;
    CHECK_EQ_INT(run(in, sizeof(in) - 1, NULL, 0, PZ_SCAN_INPUTS, 64), 0,
                 "without errors the scan succeeds");
}


static void
test_large(void)
{
    int             ok;
    size_t          i, n, len;
    char           *in;
    pz_scan_t       s;
    unsigned char   piece[1000];

    /* 10 MB of markup without markers: one emit per piece, constant
     * memory, output identical */

    len = 10 * 1024 * 1024;
    in = malloc(len);
    if (in == NULL) {
        CHECK(0, "malloc");
        return;
    }

    for (i = 0; i < len; i++) {
        in[i] = "<p class=x>text</p>\n"[i % 20];
    }

    sink_reset();
    pz_scan_init(&s, &handler, &sink, PZ_SCAN_INPUTS|PZ_SCAN_PROMPTS,
                 tagbuf, sizeof(tagbuf));

    ok = 1;
    n = 0;

    for (i = 0; ok && i < len; i += sizeof(piece)) {
        size_t  k = len - i < sizeof(piece) ? len - i : sizeof(piece);

        memcpy(piece, in + i, k);
        sink.out_len = 0;
        ok = pz_scan_feed(&s, piece, k) == 0 && sink_flush() == 0
             && sink.out_len == k && memcmp(sink.out, in + i, k) == 0;
        n++;
    }

    CHECK(ok, "10 MB without markers pass through unchanged");
    CHECK(pz_scan_finish(&s) == 0 && !pz_scan_holding(&s),
          "nothing held at the end");

    free(in);
}


int
main(void)
{
    int  simd;

    sink.out = malloc(OUT_MAX);
    sink.stage = malloc(OUT_MAX);

    if (sink.out == NULL || sink.stage == NULL) {
        return 1;
    }

    /* every way of reading the body, the widest one last */

    for (simd = PZ_SCAN_SIMD_NONE; simd <= PZ_SCAN_SIMD_AVX2; simd++) {
        pz_scan_simd = simd;

        test_markers();
        test_caps();
        test_prompts();
        test_inputs();
        test_parse();
        test_errors();
        test_large();
    }

    free(sink.out);
    free(sink.stage);

    return UNIT_DONE();
}
