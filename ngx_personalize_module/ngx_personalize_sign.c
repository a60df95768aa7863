/*
 * ngx_personalize signed ids: see ngx_personalize_sign.h for the format.
 *
 * Plain C with OpenSSL: HMAC() for the mac, EVP_EncodeBlock() for base64,
 * CRYPTO_memcmp() so that the time a comparison takes tells an attacker
 * nothing about how much of a forged mac was right.
 */

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "ngx_personalize_sign.h"


#define PZ_SIGN_DOMAIN          "pz1:"
#define PZ_SIGN_DOMAIN_LEN      (sizeof(PZ_SIGN_DOMAIN) - 1)

/* "pz1:" id "." expires */
#define PZ_SIGN_MSG_MAX                                                      \
    (PZ_SIGN_DOMAIN_LEN + PZ_ID_MAX + 1 + PZ_EXPIRES_MAX_LEN)


static size_t pz_sign_any(const pz_bytes_t *key, pz_key_ctx_t *kc,
    const unsigned char *id, size_t len, int64_t expires, char *out,
    size_t cap, int *err);
static int pz_verify_any(const pz_bytes_t *keys, pz_key_ctx_t *kcs,
    size_t nkeys, const unsigned char *s, size_t len, int64_t now,
    pz_bytes_t *id, int64_t *expires);
static int pz_mac(const pz_bytes_t *key, pz_key_ctx_t *kc,
    const unsigned char *msg, size_t len, char *b64);
static size_t pz_sign_message(const unsigned char *id, size_t len,
    const unsigned char *expires, size_t expires_len, unsigned char *msg);
static size_t pz_format_expires(int64_t expires, unsigned char *buf);


/* [A-Za-z0-9._:@-] */
static const unsigned char  pz_id_chars[256] = {
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['.'] = 1, ['_'] = 1, [':'] = 1, ['@'] = 1, ['-'] = 1
};


int
pz_id_valid(const unsigned char *id, size_t len)
{
    size_t  i;

    if (len == 0 || len > PZ_ID_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!pz_id_chars[id[i]]) {
            return 0;
        }
    }

    return 1;
}


size_t
pz_sign(const pz_bytes_t *key, const unsigned char *id, size_t len,
    int64_t expires, char *out, size_t cap, int *err)
{
    if (key == NULL || key->len == 0) {
        *err = PZ_SIGN_NO_KEY;
        return 0;
    }

    return pz_sign_any(key, NULL, id, len, expires, out, cap, err);
}


size_t
pz_sign_ctx(pz_key_ctx_t *kc, const unsigned char *id, size_t len,
    int64_t expires, char *out, size_t cap, int *err)
{
    if (kc == NULL || kc->mac == NULL) {
        *err = PZ_SIGN_NO_KEY;
        return 0;
    }

    return pz_sign_any(NULL, kc, id, len, expires, out, cap, err);
}


static size_t
pz_sign_any(const pz_bytes_t *key, pz_key_ctx_t *kc, const unsigned char *id,
    size_t len, int64_t expires, char *out, size_t cap, int *err)
{
    size_t         n, elen, mlen;
    unsigned char  ebuf[PZ_EXPIRES_MAX_LEN];
    unsigned char  msg[PZ_SIGN_MSG_MAX];

    if (!pz_id_valid(id, len) || expires < 0) {
        *err = PZ_SIGN_BAD_ID;
        return 0;
    }

    elen = pz_format_expires(expires, ebuf);
    n = len + 1 + elen + 1 + PZ_MAC_B64_LEN;

    if (n > cap) {
        *err = PZ_SIGN_SPACE;
        return 0;
    }

    mlen = pz_sign_message(id, len, ebuf, elen, msg);

    memcpy(out, id, len);
    out[len] = '.';
    memcpy(out + len + 1, ebuf, elen);
    out[len + 1 + elen] = '.';

    if (pz_mac(key, kc, msg, mlen, out + len + 1 + elen + 1) != 0) {
        *err = PZ_SIGN_CRYPTO;
        return 0;
    }

    *err = PZ_SIGN_OK;

    return n;
}


int
pz_verify(const pz_bytes_t *keys, size_t nkeys, const unsigned char *s,
    size_t len, int64_t now, pz_bytes_t *id, int64_t *expires)
{
    return pz_verify_any(keys, NULL, nkeys, s, len, now, id, expires);
}


int
pz_verify_ctx(pz_key_ctx_t *kcs, size_t nkeys, const unsigned char *s,
    size_t len, int64_t now, pz_bytes_t *id, int64_t *expires)
{
    return pz_verify_any(NULL, kcs, nkeys, s, len, now, id, expires);
}


static int
pz_verify_any(const pz_bytes_t *keys, pz_key_ctx_t *kcs, size_t nkeys,
    const unsigned char *s, size_t len, int64_t now, pz_bytes_t *id,
    int64_t *expires)
{
    int                   ok;
    size_t                i, elen, ilen, mlen;
    int64_t               t;
    const unsigned char  *mac, *e;
    char                  want[PZ_MAC_B64_LEN + 1];
    unsigned char         msg[PZ_SIGN_MSG_MAX];

    if (nkeys == 0) {
        return PZ_SIGN_NO_KEY;
    }

    if (len > PZ_SIGNED_MAX || len < 1 + 1 + 1 + 1 + PZ_MAC_B64_LEN) {
        return PZ_SIGN_MALFORMED;
    }

    /* from the right: the mac has a fixed length, expires is digits */

    mac = s + len - PZ_MAC_B64_LEN;

    if (mac[-1] != '.') {
        return PZ_SIGN_MALFORMED;
    }

    e = mac - 1;
    elen = 0;

    while (e > s && e[-1] >= '0' && e[-1] <= '9') {
        e--;
        elen++;
    }

    if (elen == 0 || elen > PZ_EXPIRES_MAX_LEN || e == s || e[-1] != '.') {
        return PZ_SIGN_MALFORMED;
    }

    t = 0;

    for (i = 0; i < elen; i++) {
        if (t > (INT64_MAX - (e[i] - '0')) / 10) {
            return PZ_SIGN_MALFORMED;
        }

        t = t * 10 + (e[i] - '0');
    }

    ilen = (size_t) (e - 1 - s);

    if (!pz_id_valid(s, ilen)) {
        return PZ_SIGN_BAD_ID;
    }

    mlen = pz_sign_message(s, ilen, e, elen, msg);

    ok = 0;

    for (i = 0; i < nkeys; i++) {
        if (keys != NULL ? keys[i].len == 0 : kcs[i].mac == NULL) {
            continue;
        }

        if (pz_mac(keys != NULL ? &keys[i] : NULL,
                   kcs != NULL ? &kcs[i] : NULL, msg, mlen, want)
            != 0)
        {
            return PZ_SIGN_CRYPTO;
        }

        /* no early exit: every key costs the same */
        ok |= (CRYPTO_memcmp(want, mac, PZ_MAC_B64_LEN) == 0);
    }

    if (!ok) {
        return PZ_SIGN_FORGED;
    }

    id->data = s;
    id->len = ilen;
    *expires = t;

    if (t <= now) {
        return PZ_SIGN_EXPIRED;
    }

    return PZ_SIGN_OK;
}


int
pz_mac_b64(const pz_bytes_t *key, const unsigned char *msg, size_t len,
    char *out, size_t out_len)
{
    char  b64[PZ_MAC_B64_LEN + 1];

    if (key == NULL || key->len == 0 || out_len > PZ_MAC_B64_LEN) {
        return -1;
    }

    if (pz_mac(key, NULL, msg, len, b64) != 0) {
        return -1;
    }

    memcpy(out, b64, out_len);

    return 0;
}


int
pz_mac_b64_ctx(pz_key_ctx_t *kc, const unsigned char *msg, size_t len,
    char *out, size_t out_len)
{
    char  b64[PZ_MAC_B64_LEN + 1];

    if (kc == NULL || kc->mac == NULL || out_len > PZ_MAC_B64_LEN) {
        return -1;
    }

    if (pz_mac(NULL, kc, msg, len, b64) != 0) {
        return -1;
    }

    memcpy(out, b64, out_len);

    return 0;
}


int
pz_key_ctx_init(pz_key_ctx_t *kc, const pz_bytes_t *key)
{
    EVP_MAC      *mac;
    OSSL_PARAM    params[2];
    EVP_MAC_CTX  *ctx;

    kc->mac = NULL;

    if (key == NULL || key->len == 0 || key->len > PZ_KEY_MAX) {
        return -1;
    }

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        return -1;
    }

    ctx = EVP_MAC_CTX_new(mac);

    /* the context keeps its own reference */
    EVP_MAC_free(mac);

    if (ctx == NULL) {
        return -1;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (!EVP_MAC_init(ctx, key->data, key->len, params)) {
        EVP_MAC_CTX_free(ctx);
        return -1;
    }

    kc->mac = ctx;

    return 0;
}


void
pz_key_ctx_free(pz_key_ctx_t *kc)
{
    if (kc->mac != NULL) {
        EVP_MAC_CTX_free(kc->mac);
        kc->mac = NULL;
    }
}


size_t
pz_key_trim(const unsigned char *data, size_t len, int *err)
{
    while (len > 0
           && (data[len - 1] == '\n' || data[len - 1] == '\r'
               || data[len - 1] == ' ' || data[len - 1] == '\t'))
    {
        len--;
    }

    if (len < PZ_KEY_MIN) {
        *err = PZ_SIGN_NO_KEY;
        return 0;
    }

    if (len > PZ_KEY_MAX) {
        *err = PZ_SIGN_SPACE;
        return 0;
    }

    *err = PZ_SIGN_OK;

    return len;
}


const char *
pz_sign_strerror(int err)
{
    switch (err) {
    case PZ_SIGN_OK:
        return "ok";
    case PZ_SIGN_MALFORMED:
        return "malformed signed id";
    case PZ_SIGN_BAD_ID:
        return "invalid id";
    case PZ_SIGN_FORGED:
        return "signature mismatch";
    case PZ_SIGN_EXPIRED:
        return "expired";
    case PZ_SIGN_NO_KEY:
        return "no key";
    case PZ_SIGN_SPACE:
        return "too long";
    case PZ_SIGN_CRYPTO:
        return "hmac failed";
    }

    return "unknown error";
}


/*
 * writes PZ_MAC_B64_LEN characters and a NUL into b64; with a prepared
 * key (kc) when given, else with key
 */

static int
pz_mac(const pz_bytes_t *key, pz_key_ctx_t *kc, const unsigned char *msg,
    size_t len, char *b64)
{
    int            i, n;
    size_t         outl;
    unsigned int   mlen;
    unsigned char  md[EVP_MAX_MD_SIZE];
    unsigned char  enc[4 * ((PZ_MAC_LEN + 2) / 3) + 1];

    mlen = 0;

    if (kc != NULL) {
        /* a NULL key: the same key again, only the state is reset */
        outl = 0;

        if (!EVP_MAC_init(kc->mac, NULL, 0, NULL)
            || !EVP_MAC_update(kc->mac, msg, len)
            || !EVP_MAC_final(kc->mac, md, &outl, sizeof(md))
            || outl != PZ_MAC_LEN)
        {
            return -1;
        }

    } else {
        if (key->len > PZ_KEY_MAX) {
            return -1;
        }

        if (HMAC(EVP_sha256(), key->data, (int) key->len, msg, len, md,
                 &mlen)
            == NULL || mlen != PZ_MAC_LEN)
        {
            return -1;
        }
    }

    n = EVP_EncodeBlock(enc, md, PZ_MAC_LEN);

    if (n != (int) sizeof(enc) - 1) {
        return -1;
    }

    /* base64 to base64url, without the padding */

    for (i = 0; i < PZ_MAC_B64_LEN; i++) {
        b64[i] = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : (char) enc[i];
    }

    b64[PZ_MAC_B64_LEN] = '\0';

    return 0;
}


static size_t
pz_sign_message(const unsigned char *id, size_t len,
    const unsigned char *expires, size_t expires_len, unsigned char *msg)
{
    unsigned char  *p;

    p = msg;
    memcpy(p, PZ_SIGN_DOMAIN, PZ_SIGN_DOMAIN_LEN);
    p += PZ_SIGN_DOMAIN_LEN;
    memcpy(p, id, len);
    p += len;
    *p++ = '.';
    memcpy(p, expires, expires_len);
    p += expires_len;

    return (size_t) (p - msg);
}


static size_t
pz_format_expires(int64_t expires, unsigned char *buf)
{
    size_t         n, i;
    unsigned char  tmp[PZ_EXPIRES_MAX_LEN];

    n = 0;

    do {
        tmp[n++] = (unsigned char) ('0' + expires % 10);
        expires /= 10;
    } while (expires > 0 && n < PZ_EXPIRES_MAX_LEN);

    for (i = 0; i < n; i++) {
        buf[i] = tmp[n - 1 - i];
    }

    return n;
}
