/*
 * Unit tests of the signed id codec (ngx_personalize_sign.c).
 */

#include <stdio.h>
#include <string.h>

#include "ngx_personalize_sign.h"
#include "unit.h"


static const pz_bytes_t  key1 = {
    (const unsigned char *) "0123456789abcdef0123456789abcdef", 32
};
static const pz_bytes_t  key2 = {
    (const unsigned char *) "fedcba9876543210fedcba9876543210-new", 36
};


static size_t
sign(const pz_bytes_t *key, const char *id, int64_t exp, char *out)
{
    int  err;

    return pz_sign(key, (const unsigned char *) id, strlen(id), exp, out,
                   PZ_SIGNED_MAX, &err);
}


static int
verify(const pz_bytes_t *keys, size_t n, const char *s, size_t len,
    int64_t now, pz_bytes_t *id)
{
    int64_t  exp;

    return pz_verify(keys, n, (const unsigned char *) s, len, now, id, &exp);
}


int
main(void)
{
    int          err, rc;
    char         s[PZ_SIGNED_MAX + 16], t[PZ_SIGNED_MAX + 16];
    char         longid[PZ_ID_MAX + 2], fp1[16], fp2[16];
    size_t       n, i, len;
    int64_t      exp;
    pz_bytes_t   id, keys[2];

    /* ids */

    CHECK(pz_id_valid((const unsigned char *) "c1", 2), "simple id");
    CHECK(pz_id_valid((const unsigned char *) "a.b_c:d@e-f", 11),
          "id with every punctuation allowed");
    CHECK(!pz_id_valid((const unsigned char *) "", 0), "empty id");
    CHECK(!pz_id_valid((const unsigned char *) "a b", 3), "space in id");
    CHECK(!pz_id_valid((const unsigned char *) "a=b", 3), "= in id");
    CHECK(!pz_id_valid((const unsigned char *) "a\0b", 3), "NUL in id");
    CHECK(!pz_id_valid((const unsigned char *) "\xc3\xa4", 2),
          "non-ascii id");
    memset(longid, 'x', sizeof(longid));
    CHECK(pz_id_valid((unsigned char *) longid, PZ_ID_MAX),
          "id of PZ_ID_MAX bytes");
    CHECK(!pz_id_valid((unsigned char *) longid, PZ_ID_MAX + 1),
          "id longer than PZ_ID_MAX");

    /* round trip */

    n = sign(&key1, "c1", 2000000000, s);
    CHECK(n == 2 + 1 + 10 + 1 + PZ_MAC_B64_LEN, "signed length");
    CHECK(n > 14 && memcmp(s, "c1.2000000000.", 14) == 0, "signed prefix");

    rc = verify(&key1, 1, s, n, 1000000000, &id);
    CHECK_EQ_INT(rc, PZ_SIGN_OK, "round trip verifies");
    CHECK_EQ_MEM(id.data, id.len, "c1", 2, "round trip id");

    for (i = n - PZ_MAC_B64_LEN; i < n; i++) {
        CHECK(s[i] != '+' && s[i] != '/' && s[i] != '=', "base64url mac");
    }

    /* ids with dots parse from the right */

    n = sign(&key1, "user.42.7", 2000000000, s);
    rc = verify(&key1, 1, s, n, 1000000000, &id);
    CHECK_EQ_INT(rc, PZ_SIGN_OK, "dotted id verifies");
    CHECK_EQ_MEM(id.data, id.len, "user.42.7", 9, "dotted id");

    n = sign(&key1, "123", 2000000000, s);
    rc = verify(&key1, 1, s, n, 1000000000, &id);
    CHECK_EQ_INT(rc, PZ_SIGN_OK, "numeric id verifies");
    CHECK_EQ_MEM(id.data, id.len, "123", 3, "numeric id");

    /* forged: each byte of the signed id changed */

    n = sign(&key1, "c1", 2000000000, s);

    for (i = 0; i < n; i++) {
        memcpy(t, s, n);
        t[i] = (char) (t[i] == 'A' ? 'B' : 'A');
        rc = verify(&key1, 1, t, n, 1000000000, &id);
        CHECK(rc != PZ_SIGN_OK, "a changed byte never verifies");
    }

    memcpy(t, s, n);
    t[0] = 'd';
    CHECK_EQ_INT(verify(&key1, 1, t, n, 1000000000, &id), PZ_SIGN_FORGED,
                 "other id, same mac: forged");

    memcpy(t, s, n);
    t[3] = '3';
    CHECK_EQ_INT(verify(&key1, 1, t, n, 1000000000, &id), PZ_SIGN_FORGED,
                 "extended expiry: forged");

    /* truncated at every length */

    for (len = 0; len < n; len++) {
        rc = verify(&key1, 1, s, len, 1000000000, &id);
        CHECK(rc != PZ_SIGN_OK, "truncated never verifies");
    }

    CHECK_EQ_INT(verify(&key1, 1, "c1.2000000000", 13, 0, &id),
                 PZ_SIGN_MALFORMED, "no mac: malformed");
    CHECK_EQ_INT(verify(&key1, 1, "c1", 2, 0, &id), PZ_SIGN_MALFORMED,
                 "plain id: malformed");

    memcpy(t, s, n);
    t[n] = 'x';
    CHECK(verify(&key1, 1, t, n + 1, 1000000000, &id) != PZ_SIGN_OK,
          "appended byte never verifies");

    /* expired */

    rc = verify(&key1, 1, s, n, 2000000000, &id);
    CHECK_EQ_INT(rc, PZ_SIGN_EXPIRED, "expired at the expiry second");
    rc = verify(&key1, 1, s, n, 2100000000, &id);
    CHECK_EQ_INT(rc, PZ_SIGN_EXPIRED, "expired later");
    CHECK_EQ_INT(verify(&key1, 1, s, n, 1999999999, &id), PZ_SIGN_OK,
                 "valid a second before expiry");

    /* wrong key, rotation */

    CHECK_EQ_INT(verify(&key2, 1, s, n, 1000000000, &id), PZ_SIGN_FORGED,
                 "wrong key: forged");

    keys[0] = key2;
    keys[1] = key1;
    CHECK_EQ_INT(verify(keys, 2, s, n, 1000000000, &id), PZ_SIGN_OK,
                 "old key still verifies after rotation");

    n = sign(&keys[0], "c1", 2000000000, s);
    CHECK_EQ_INT(verify(keys, 2, s, n, 1000000000, &id), PZ_SIGN_OK,
                 "new key verifies");
    CHECK_EQ_INT(verify(&key1, 1, s, n, 1000000000, &id), PZ_SIGN_FORGED,
                 "new key's id fails with the old key alone");
    CHECK_EQ_INT(verify(keys, 0, s, n, 1000000000, &id), PZ_SIGN_NO_KEY,
                 "no keys");

    /* limits */

    CHECK_EQ_INT(pz_sign(&key1, (unsigned char *) "a b", 3, 1, s,
                         sizeof(s), &err), 0, "bad id not signed");
    CHECK_EQ_INT(err, PZ_SIGN_BAD_ID, "bad id error");
    CHECK_EQ_INT(pz_sign(&key1, (unsigned char *) "c1", 2, 1, s, 10, &err),
                 0, "small buffer");
    CHECK_EQ_INT(err, PZ_SIGN_SPACE, "small buffer error");

    n = pz_sign(&key1, (unsigned char *) longid, PZ_ID_MAX, INT64_MAX, s,
                sizeof(s), &err);
    CHECK_EQ_INT(n, PZ_SIGNED_MAX, "longest signed id is PZ_SIGNED_MAX");
    CHECK_EQ_INT(pz_verify(&key1, 1, (unsigned char *) s, n, 0, &id, &exp),
                 PZ_SIGN_OK, "longest signed id verifies");
    CHECK(exp == INT64_MAX, "largest expiry");

    CHECK_EQ_INT(verify(&key1, 1,
        "c1.99999999999999999999.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        66, 0, &id), PZ_SIGN_MALFORMED, "expiry overflow: malformed");

    /* keys */

    CHECK_EQ_INT(pz_key_trim((unsigned char *)
                 "0123456789abcdef0123456789abcdef\n", 33, &err), 32,
                 "key file newline trimmed");
    CHECK_EQ_INT(pz_key_trim((unsigned char *) "short\n", 6, &err), 0,
                 "short key refused");
    CHECK_EQ_INT(err, PZ_SIGN_NO_KEY, "short key error");

    /* fingerprint macs */

    CHECK_EQ_INT(pz_mac_b64(&key1, (unsigned char *) "pzfp1:ua", 8, fp1, 16),
                 0, "mac");
    CHECK_EQ_INT(pz_mac_b64(&key1, (unsigned char *) "pzfp1:ua", 8, fp2, 16),
                 0, "mac again");
    CHECK_EQ_MEM(fp1, 16, fp2, 16, "mac is deterministic");
    pz_mac_b64(&key2, (unsigned char *) "pzfp1:ua", 8, fp2, 16);
    CHECK(memcmp(fp1, fp2, 16) != 0, "mac depends on the key");
    pz_mac_b64(&key1, (unsigned char *) "pzfp1:ub", 8, fp2, 16);
    CHECK(memcmp(fp1, fp2, 16) != 0, "mac depends on the message");

    /* prepared keys give the same results as plain ones */

    {
        char           u[PZ_SIGNED_MAX + 16];
        size_t         m;
        pz_key_ctx_t   kcs[2], none;
        pz_bytes_t     empty = { (const unsigned char *) "", 0 };

        CHECK_EQ_INT(pz_key_ctx_init(&kcs[0], &key2), 0, "prepare key2");
        CHECK_EQ_INT(pz_key_ctx_init(&kcs[1], &key1), 0, "prepare key1");
        CHECK_EQ_INT(pz_key_ctx_init(&none, &empty), -1,
                     "an empty key is not prepared");
        CHECK(none.mac == NULL, "a failed preparation leaves no context");

        for (i = 0; i < 3; i++) {
            n = pz_sign(&key2, (unsigned char *) "c1", 2, 2000000000, s,
                        sizeof(s), &err);
            m = pz_sign_ctx(&kcs[0], (unsigned char *) "c1", 2, 2000000000,
                            u, sizeof(u), &err);
            CHECK_EQ_MEM(u, m, s, n, "pz_sign_ctx equals pz_sign, again");
        }

        n = pz_sign(&key1, (unsigned char *) "c2", 2, 2000000000, s,
                    sizeof(s), &err);
        CHECK_EQ_INT(pz_verify_ctx(kcs, 2, (unsigned char *) s, n,
                                   1000000000, &id, &exp),
                     PZ_SIGN_OK, "pz_verify_ctx: the second key verifies");
        CHECK_EQ_MEM(id.data, id.len, "c2", 2, "pz_verify_ctx id");
        CHECK_EQ_INT(pz_verify_ctx(kcs, 1, (unsigned char *) s, n,
                                   1000000000, &id, &exp),
                     PZ_SIGN_FORGED, "pz_verify_ctx: the other key alone");
        CHECK_EQ_INT(pz_verify_ctx(kcs, 2, (unsigned char *) s, n,
                                   2000000000, &id, &exp),
                     PZ_SIGN_EXPIRED, "pz_verify_ctx: expired");

        pz_mac_b64(&key1, (unsigned char *) "pzfp1:ua", 8, fp1, 16);
        CHECK_EQ_INT(pz_mac_b64_ctx(&kcs[1], (unsigned char *) "pzfp1:ua", 8,
                                    fp2, 16), 0, "pz_mac_b64_ctx");
        CHECK_EQ_MEM(fp2, 16, fp1, 16, "pz_mac_b64_ctx equals pz_mac_b64");

        pz_key_ctx_free(&kcs[0]);
        pz_key_ctx_free(&kcs[0]);
        pz_key_ctx_free(&kcs[1]);
        CHECK(kcs[0].mac == NULL, "freed, twice without harm");

        CHECK_EQ_INT(pz_sign_ctx(&kcs[0], (unsigned char *) "c1", 2, 1, u,
                                 sizeof(u), &err), 0, "freed key: no sign");
        CHECK_EQ_INT(err, PZ_SIGN_NO_KEY, "freed key: no key");
    }

    for (i = 0; i < PZ_SIGN_CRYPTO + 1; i++) {
        CHECK(strlen(pz_sign_strerror((int) i)) > 0, "strerror");
    }

    return UNIT_DONE();
}
