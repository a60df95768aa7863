/*
 * ngx_personalize preview tokens: the payload parser (see the header).
 */

#include <string.h>

#include "ngx_personalize_preview.h"


static int pz_preview_name_char(unsigned char c);
static int pz_preview_item(const unsigned char *s, size_t len,
    pz_preview_t *pv);


static int
pz_preview_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}


/* splits s at ":" into parts of name characters; -1 on an empty part */

static size_t
pz_preview_split(const unsigned char *s, size_t len, pz_bytes_t *parts,
    size_t max)
{
    size_t  i, n, start;

    n = 0;
    start = 0;

    for (i = 0; i <= len; i++) {

        if (i < len && s[i] != ':') {
            if (!pz_preview_name_char(s[i])) {
                return (size_t) -1;
            }

            continue;
        }

        if (i == start || n == max) {
            return (size_t) -1;
        }

        parts[n].data = s + start;
        parts[n].len = i - start;
        n++;
        start = i + 1;
    }

    return n;
}


static int
pz_preview_item(const unsigned char *s, size_t len, pz_preview_t *pv)
{
    size_t      i, n;
    pz_bytes_t  parts[PZ_PREVIEW_SEGMENTS_MAX];

    if (len > 3 && memcmp(s, "id:", 3) == 0) {

        if (pv->profile_id.len) {
            return -1;
        }

        for (i = 3; i < len; i++) {
            if (!pz_preview_name_char(s[i]) && s[i] != ':') {
                return -1;
            }
        }

        pv->profile_id.data = s + 3;
        pv->profile_id.len = len - 3;

        return 0;
    }

    if (len >= 3 && memcmp(s, "seg", 3) == 0) {

        if (pv->has_segments) {
            return -1;
        }

        pv->has_segments = 1;

        if (len == 3) {
            /* "@seg": no segments at all */
            return 0;
        }

        if (s[3] != ':') {
            return -1;
        }

        n = pz_preview_split(s + 4, len - 4, pv->segments,
                             PZ_PREVIEW_SEGMENTS_MAX);
        if (n == (size_t) -1) {
            return -1;
        }

        pv->nsegments = n;

        return 0;
    }

    if (len > 4 && memcmp(s, "exp:", 4) == 0) {

        if (pv->nvariants == PZ_PREVIEW_VARIANTS_MAX) {
            return -1;
        }

        n = pz_preview_split(s + 4, len - 4, parts, 2);
        if (n != 2) {
            return -1;
        }

        pv->experiments[pv->nvariants] = parts[0];
        pv->variants[pv->nvariants] = parts[1];
        pv->nvariants++;

        return 0;
    }

    return -1;
}


int
pz_preview_parse(const unsigned char *s, size_t len, pz_preview_t *pv)
{
    size_t  i, start;

    memset(pv, 0, sizeof(pz_preview_t));

    if (len < 3 || s[0] != 'p' || s[1] != 'v' || s[2] != '@') {
        return -1;
    }

    start = 3;

    for (i = 3; i <= len; i++) {

        if (i < len && s[i] != '@') {
            continue;
        }

        if (i == start || pz_preview_item(s + start, i - start, pv) != 0) {
            return -1;
        }

        start = i + 1;
    }

    if (pv->profile_id.len == 0 && !pv->has_segments && pv->nvariants == 0) {
        return -1;
    }

    return 0;
}
