/*
 * libFuzzer target for the signed id parser: pz_verify() must never read
 * outside its input, the prepared-key variant must agree with it, and any
 * valid id must survive a sign/verify round trip.
 */

#include <stdlib.h>
#include <string.h>

#include "ngx_personalize_sign.h"


static const pz_bytes_t  keys[2] = {
    { (const unsigned char *) "0123456789abcdef0123456789abcdef", 32 },
    { (const unsigned char *) "fuzz-fuzz-fuzz-fuzz-fuzz-fuzz-fuzz", 34 }
};


static pz_key_ctx_t  kcs[2];


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int            rc, err;
    char           again[PZ_SIGNED_MAX];
    size_t         n;
    int64_t        exp;
    pz_bytes_t     id;
    unsigned char *copy;

    /* an exact-size heap copy, so ASan sees any overread */
    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);

    if (kcs[0].mac == NULL
        && (pz_key_ctx_init(&kcs[0], &keys[0]) != 0
            || pz_key_ctx_init(&kcs[1], &keys[1]) != 0))
    {
        abort();
    }

    rc = pz_verify(keys, 2, copy, size, 1000000000, &id, &exp);

    if (pz_verify_ctx(kcs, 2, copy, size, 1000000000, &id, &exp) != rc) {
        abort();
    }

    if (rc == PZ_SIGN_OK || rc == PZ_SIGN_EXPIRED) {
        if (!pz_id_valid(id.data, id.len)) {
            abort();
        }

        /* only a key can make it: the fuzzer will not find a mac */
        n = pz_sign(&keys[0], id.data, id.len, exp, again, sizeof(again),
                    &err);
        if (n == 0) {
            abort();
        }
    }

    /* signing any valid id must verify */
    if (pz_id_valid(copy, size)) {
        n = pz_sign(&keys[1], copy, size, 2000000000, again, sizeof(again),
                    &err);
        if (n == 0
            || pz_verify(keys, 2, (unsigned char *) again, n, 1000000000,
                         &id, &exp) != PZ_SIGN_OK
            || id.len != size || memcmp(id.data, copy, size) != 0)
        {
            abort();
        }
    }

    free(copy);

    return 0;
}
