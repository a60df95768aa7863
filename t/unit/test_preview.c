/*
 * Unit tests of the preview payload parser.
 */

#include "unit.h"

#include "ngx_personalize_preview.h"


static int
parse(const char *s, pz_preview_t *pv)
{
    return pz_preview_parse((const unsigned char *) s, strlen(s), pv);
}


int
main(void)
{
    size_t         i;
    pz_preview_t   pv;
    static const char  *bad[] = {
        "", "pv", "pv@", "pv@@id:c1", "pv@id:c1@", "xv@id:c1", "pv@id:",
        "pv@id:c1@id:c2", "pv@seg:", "pv@seg:a::b", "pv@seg:a@seg:b",
        "pv@segx", "pv@exp:e", "pv@exp:e:", "pv@exp::v", "pv@exp:e:v:w",
        "pv@who:x", "pv@id:c 1", "pv@seg:a b", "pv@id:c1@exp:a:b@exp:c:d"
        "@exp:e:f@exp:g:h@exp:i:j@exp:k:l@exp:m:n@exp:o:p@exp:q:r",
        "pv@seg:1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17",
        "PV@id:c1", "pv@id:c1\n"
    };

    CHECK(parse("pv@id:c1", &pv) == 0, "profile id only");
    CHECK_EQ_MEM(pv.profile_id.data, pv.profile_id.len, "c1", 2,
                 "profile id");
    CHECK(!pv.has_segments && pv.nvariants == 0, "nothing else");

    CHECK(parse("pv@id:login:42", &pv) == 0, "a profile id with a colon");
    CHECK_EQ_MEM(pv.profile_id.data, pv.profile_id.len, "login:42", 8,
                 "the whole id after id:");

    CHECK(parse("pv@id:c1@seg:vip:cart_abandoned@exp:hero-test:b", &pv)
          == 0, "all three kinds");
    CHECK(pv.has_segments && pv.nsegments == 2, "two segments");
    CHECK_EQ_MEM(pv.segments[1].data, pv.segments[1].len, "cart_abandoned",
                 14, "second segment");
    CHECK(pv.nvariants == 1, "one variant");
    CHECK_EQ_MEM(pv.experiments[0].data, pv.experiments[0].len, "hero-test",
                 9, "experiment");
    CHECK_EQ_MEM(pv.variants[0].data, pv.variants[0].len, "b", 1,
                 "variant");

    CHECK(parse("pv@seg", &pv) == 0, "no segments at all");
    CHECK(pv.has_segments && pv.nsegments == 0, "an empty segment set");

    CHECK(parse("pv@exp:a:x@exp:b:y", &pv) == 0, "two variants");
    CHECK(pv.nvariants == 2, "both kept");

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(parse(bad[i], &pv) == -1, bad[i]);
    }

    return UNIT_DONE();
}
