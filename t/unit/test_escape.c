/*
 * Unit tests of ngx_personalize_escape.c: placeholder contexts in HTML,
 * escaping for each context, URL schemes, experiment buckets.
 */

#include "unit.h"
#include "ngx_personalize_escape.h"


/* the context of a placeholder after the text s, or -1 */
static int
ctx_after(const char *s)
{
    pz_html_t    h;
    const char  *err;

    pz_html_init(&h);
    pz_html_feed(&h, (const unsigned char *) s, strlen(s));

    return pz_html_context(&h, &err);
}


static int
final_ok(const char *s)
{
    pz_html_t    h;
    const char  *err;

    pz_html_init(&h);
    pz_html_feed(&h, (const unsigned char *) s, strlen(s));

    return pz_html_final(&h, &err) == 0;
}


static const char *
esc(int ctx, const char *s)
{
    static unsigned char  buf[4096];
    size_t                n, m;

    n = pz_escape(ctx, NULL, (const unsigned char *) s, strlen(s));
    m = pz_escape(ctx, buf, (const unsigned char *) s, strlen(s));
    buf[m] = '\0';

    return n == m ? (const char *) buf : "length mismatch";
}


static void
test_contexts(void)
{
    CHECK_EQ_INT(ctx_after(""), PZ_CTX_TEXT, "empty: text");
    CHECK_EQ_INT(ctx_after("<p>Hi "), PZ_CTX_TEXT, "text in p");
    CHECK_EQ_INT(ctx_after("<p title=\""), PZ_CTX_ATTR, "dq attr");
    CHECK_EQ_INT(ctx_after("<p title='x "), PZ_CTX_ATTR, "sq attr");
    CHECK_EQ_INT(ctx_after("<p title=x>"), PZ_CTX_TEXT, "after uq attr");
    CHECK_EQ_INT(ctx_after("<p title="), -1, "unquoted value refused");
    CHECK_EQ_INT(ctx_after("<p title=ab"), -1, "inside unquoted refused");
    CHECK_EQ_INT(ctx_after("<p "), -1, "attribute name refused");
    CHECK_EQ_INT(ctx_after("<"), -1, "tag name refused");
    CHECK_EQ_INT(ctx_after("<a href=\""), PZ_CTX_URL, "href start");
    CHECK_EQ_INT(ctx_after("<a HREF=\"  "), PZ_CTX_URL,
                 "href start after blanks");
    CHECK_EQ_INT(ctx_after("<a href=\"/p/"), PZ_CTX_URL_REST, "href rest");
    CHECK_EQ_INT(ctx_after("<img alt=\"x\" src='"), PZ_CTX_URL, "src");
    CHECK_EQ_INT(ctx_after("<form action=\""), PZ_CTX_URL, "action");
    CHECK_EQ_INT(ctx_after("<script src=\""), -1, "script src start refused");
    CHECK_EQ_INT(ctx_after("<script src=\"https://cdn.example/"),
                 PZ_CTX_URL_REST, "script src after a fixed host");
    CHECK_EQ_INT(ctx_after("<iframe src='"), -1, "iframe src refused");
    CHECK_EQ_INT(ctx_after("<base href=\""), -1, "base href refused");
    CHECK_EQ_INT(ctx_after("<link rel=stylesheet href=\""), -1,
                 "link href refused");
    CHECK_EQ_INT(ctx_after("<object data=\""), -1, "object data refused");
    CHECK_EQ_INT(ctx_after("<meta http-equiv=refresh content=\"0;url="), -1,
                 "meta content refused");
    CHECK_EQ_INT(ctx_after("<meta name=x content=y><p title=\""),
                 PZ_CTX_ATTR, "after meta");
    CHECK_EQ_INT(ctx_after("<a href=\"javascript:go('"), -1,
                 "inside a javascript: url refused");
    CHECK_EQ_INT(ctx_after("<a href=\" JavaScript:go('"), -1,
                 "inside a JavaScript: url with a blank refused");
    CHECK_EQ_INT(ctx_after("<a href=\"java\tscript:go('"), -1,
                 "inside a java<tab>script: url refused");
    CHECK_EQ_INT(ctx_after("<img src=\"data:image/png;base64,"), -1,
                 "inside a data: url refused");
    CHECK_EQ_INT(ctx_after("<a href=\"https://shop.example/?q="),
                 PZ_CTX_URL_REST, "inside an https url");
    CHECK_EQ_INT(ctx_after("<a href=\"/search?q=a:b&x="), PZ_CTX_URL_REST,
                 "colon after the path");
    CHECK_EQ_INT(ctx_after("<svg><animate attributeName=href values=\""),
                 -1, "svg animation refused");
    CHECK_EQ_INT(ctx_after("<svg><set to=\""), -1, "svg set refused");
    CHECK_EQ_INT(ctx_after("<a title=\"javascript:"), PZ_CTX_ATTR,
                 "javascript: text in a title is text");

    {
        pz_html_t    h;
        const char  *err;

        pz_html_init(&h);
        pz_html_feed(&h, (const unsigned char *) "<a href=\"", 9);
        CHECK_EQ_INT(pz_html_context(&h, &err), PZ_CTX_URL, "hole first");
        pz_html_hole(&h);
        pz_html_feed(&h, (const unsigned char *) ":alert(1)\">x</a>", 16);
        CHECK_EQ_INT(pz_html_final(&h, &err), -1,
                     "a scheme made by a placeholder refused at the end");

        pz_html_init(&h);
        pz_html_feed(&h, (const unsigned char *) "<a href=\"", 9);
        pz_html_hole(&h);
        pz_html_feed(&h, (const unsigned char *) "/x\">x</a>", 9);
        CHECK_EQ_INT(pz_html_final(&h, &err), 0,
                     "a placeholder then a path is fine");
    }
    CHECK_EQ_INT(ctx_after("<a onclick=\""), -1, "onclick refused");
    CHECK_EQ_INT(ctx_after("<a onmouseoverandmore=\""), -1,
                 "long on* refused");
    CHECK_EQ_INT(ctx_after("<a style=\""), -1, "style attr refused");
    CHECK_EQ_INT(ctx_after("<img srcset=\""), -1, "srcset refused");
    CHECK_EQ_INT(ctx_after("<style>p { color: "), -1, "style refused");
    CHECK_EQ_INT(ctx_after("<style>p{}</style><p>"), PZ_CTX_TEXT,
                 "after style");
    CHECK_EQ_INT(ctx_after("<script>var a = \""), PZ_CTX_SCRIPT,
                 "script dq string");
    CHECK_EQ_INT(ctx_after("<script>var a = '"), PZ_CTX_SCRIPT,
                 "script sq string");
    CHECK_EQ_INT(ctx_after("<script>var a = "), -1, "script code refused");
    CHECK_EQ_INT(ctx_after("<script>var a = `"), -1,
                 "script template literal refused");
    CHECK_EQ_INT(ctx_after("<script>var a = \"x\"; // "), -1,
                 "script comment refused");
    CHECK_EQ_INT(ctx_after("<script>/* \" */ var a = \""), PZ_CTX_SCRIPT,
                 "quote in block comment ignored");
    CHECK_EQ_INT(ctx_after("<script>var a = \"\\\"x"), PZ_CTX_SCRIPT,
                 "escaped quote stays in string");
    CHECK_EQ_INT(ctx_after("<script>var r = /\"/; var a = \""), -1,
                 "after a regex refused");
    CHECK_EQ_INT(ctx_after("<script>var a = 1 / 2; var b = \""), -1,
                 "after a division refused");
    CHECK_EQ_INT(ctx_after("<script><!-- var a = \""), -1,
                 "script with <!-- refused");
    CHECK_EQ_INT(ctx_after("<script>var a = \"</script><p>"), PZ_CTX_TEXT,
                 "</script> ends the script even in a string");
    CHECK_EQ_INT(ctx_after("<SCRIPT type=x>a</ScRiPt ><b>"), PZ_CTX_TEXT,
                 "script end tag case");
    CHECK_EQ_INT(ctx_after("<script>\"</scripty"), PZ_CTX_SCRIPT,
                 "not an end tag");
    CHECK_EQ_INT(ctx_after("<!-- <a href=\" "), PZ_CTX_TEXT,
                 "comment is text");
    CHECK_EQ_INT(ctx_after("<!-- x --><a href=\""), PZ_CTX_URL,
                 "after comment");
    CHECK_EQ_INT(ctx_after("<!doctype html><p>"), PZ_CTX_TEXT, "doctype");
    CHECK_EQ_INT(ctx_after("<!doctype "), -1, "inside doctype refused");
    CHECK_EQ_INT(ctx_after("</p "), -1, "end tag refused");
    CHECK_EQ_INT(ctx_after("a < b "), PZ_CTX_TEXT, "lone < is text");
    CHECK_EQ_INT(ctx_after("<a href=\"x\" title=\""), PZ_CTX_ATTR,
                 "second attribute");

    {
        pz_html_t    h;
        const char  *err;

        pz_html_init(&h);
        pz_html_feed(&h, (const unsigned char *) "<a href=\"", 9);
        CHECK_EQ_INT(pz_html_context(&h, &err), PZ_CTX_URL, "first hole");
        pz_html_hole(&h);
        CHECK_EQ_INT(pz_html_context(&h, &err), -1,
                     "second hole at url start refused");
        pz_html_feed(&h, (const unsigned char *) "/", 1);
        CHECK_EQ_INT(pz_html_context(&h, &err), PZ_CTX_URL_REST,
                     "after text: rest");
    }

    CHECK(final_ok("<p>x</p>"), "final ok");
    CHECK(!final_ok("<p"), "final in tag");
    CHECK(!final_ok("<script>x"), "final in script");
    CHECK(!final_ok("<!-- x"), "final in comment");
    CHECK(final_ok("<script>x</script>"), "final after script");
}


static void
test_escape(void)
{
    CHECK_EQ_STR(esc(PZ_CTX_TEXT, "<script>alert('x')&\"</script>"),
                 "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;",
                 "text escaping");
    CHECK_EQ_STR(esc(PZ_CTX_ATTR, "\" onmouseover=\"x"),
                 "&quot; onmouseover=&quot;x", "attr escaping");
    CHECK_EQ_STR(esc(PZ_CTX_URL, "javascript:alert(1)"), "#",
                 "javascript url");
    CHECK_EQ_STR(esc(PZ_CTX_URL, " JaVa\tScript:alert(1)"), "#",
                 "obfuscated javascript url");
    CHECK_EQ_STR(esc(PZ_CTX_URL, "data:text/html,x"), "#", "data url");
    CHECK_EQ_STR(esc(PZ_CTX_URL, "vbscript:x"), "#", "vbscript url");
    CHECK_EQ_STR(esc(PZ_CTX_URL, "https://shop.example/a?b=1&c=\"2\""),
                 "https://shop.example/a?b=1&amp;c=&quot;2&quot;",
                 "https url escaped");
    CHECK_EQ_STR(esc(PZ_CTX_URL, "HTTP://x"), "HTTP://x", "HTTP url");
    CHECK_EQ_STR(esc(PZ_CTX_URL, "/p/1"), "/p/1", "relative url");
    CHECK_EQ_STR(esc(PZ_CTX_URL, "p/a:b"), "p/a:b", "colon after slash");
    CHECK_EQ_STR(esc(PZ_CTX_URL, "shoes"), "shoes", "plain word");
    CHECK_EQ_STR(esc(PZ_CTX_URL_REST, "javascript:x"), "javascript%3Ax",
                 "rest encodes colon");
    CHECK_EQ_STR(esc(PZ_CTX_URL_REST, "@evil.example\\x"),
                 "%40evil.example%5Cx", "rest encodes @ and backslash");
    CHECK_EQ_STR(esc(PZ_CTX_SCRIPT, "</script><b>\"'`\\"),
                 "\\u003c\\u002fscript\\u003e\\u003cb\\u003e\\u0022\\u0027"
                 "\\u0060\\\\", "script escaping");
    CHECK_EQ_STR(esc(PZ_CTX_SCRIPT, "a\xe2\x80\xa8" "b\xe2\x80\xa9" "c\n"),
                 "a\\u2028b\\u2029c\\u000a", "line separators");
    CHECK_EQ_STR(esc(PZ_CTX_SCRIPT, "\xff\xc3"), "\\ufffd\\ufffd",
                 "invalid utf-8");
    CHECK_EQ_STR(esc(PZ_CTX_SCRIPT, "\xc3\xa9t\xc3\xa9"),
                 "\xc3\xa9t\xc3\xa9", "valid utf-8 kept");
    CHECK_EQ_STR(esc(PZ_CTX_SCRIPT, "\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd",
                 "surrogate refused");
    CHECK_EQ_STR(esc(PZ_CTX_RAW, "<x>"), "<x>", "raw");
}


static void
test_bucket(void)
{
    unsigned  counts[10], b, same, i, k;
    char      id[32];

    memset(counts, 0, sizeof(counts));

    for (i = 0; i < 20000; i++) {
        k = snprintf(id, sizeof(id), "visitor-%u", i);
        b = pz_bucket((const unsigned char *) "hero", 4,
                      (const unsigned char *) id, k);
        CHECK(b < PZ_BUCKETS, "bucket in range");
        counts[b / 1000]++;
    }

    for (i = 0; i < 10; i++) {
        CHECK(counts[i] > 1800 && counts[i] < 2200, "buckets uniform");
    }

    same = 0;

    for (i = 0; i < 10000; i++) {
        k = snprintf(id, sizeof(id), "v%u", i);
        if ((pz_bucket((const unsigned char *) "a", 1,
                       (const unsigned char *) id, k) < 5000)
            == (pz_bucket((const unsigned char *) "b", 1,
                          (const unsigned char *) id, k) < 5000))
        {
            same++;
        }
    }

    CHECK(same > 4800 && same < 5200, "experiments independent");

    CHECK_EQ_INT(pz_bucket((const unsigned char *) "x", 1,
                           (const unsigned char *) "id", 2),
                 pz_bucket((const unsigned char *) "x", 1,
                           (const unsigned char *) "id", 2),
                 "deterministic");
}


int
main(void)
{
    test_contexts();
    test_escape();
    test_bucket();

    return UNIT_DONE();
}
