/*
 * ngx_personalize signed ids: HMAC-SHA256 (OpenSSL) over an id and an
 * expiry time, for visitor cookies that cannot be forged.
 *
 * Plain C, no nginx includes: shared by the nginx module and by the
 * pz-sign tool.  Nothing here allocates memory.
 *
 * A signed id is
 *
 *     <id>.<expires>.<mac>
 *
 * id       1..PZ_ID_MAX bytes of [A-Za-z0-9._:@-]; it may contain dots,
 *          so a signed id is parsed from the right
 * expires  seconds since the Unix epoch, decimal, no sign
 * mac      base64url without padding (43 characters) of
 *          HMAC-SHA256(key, "pz1:" id "." expires)
 *
 * Several keys verify (rotation: sign with the new key, accept the old one
 * until its cookies expired); the comparison is constant time.
 */

#ifndef NGX_PERSONALIZE_SIGN_H_INCLUDED_
#define NGX_PERSONALIZE_SIGN_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "ngx_personalize_record.h"


#define PZ_KEY_MIN              32      /* bytes of a key */
#define PZ_KEY_MAX              1024
#define PZ_MAC_LEN              32      /* HMAC-SHA256 */
#define PZ_MAC_B64_LEN          43      /* base64url, no padding */
#define PZ_EXPIRES_MAX_LEN      19      /* digits of an int64 */

/* the longest signed id */
#define PZ_SIGNED_MAX                                                        \
    (PZ_ID_MAX + 1 + PZ_EXPIRES_MAX_LEN + 1 + PZ_MAC_B64_LEN)


typedef enum {
    PZ_SIGN_OK = 0,
    PZ_SIGN_MALFORMED,      /* not id.expires.mac, or too long */
    PZ_SIGN_BAD_ID,         /* empty, too long or a forbidden byte */
    PZ_SIGN_FORGED,         /* no key gives this mac */
    PZ_SIGN_EXPIRED,        /* a valid mac, but expires <= now */
    PZ_SIGN_NO_KEY,         /* no key given */
    PZ_SIGN_SPACE,          /* output buffer too small */
    PZ_SIGN_CRYPTO          /* the HMAC computation failed */
} pz_sign_error_e;


/* 1 if id is a valid visitor id: 1..PZ_ID_MAX bytes of [A-Za-z0-9._:@-] */
int pz_id_valid(const unsigned char *id, size_t len);

/*
 * Writes the signed form of id (no terminating NUL) into out; returns its
 * length, or 0 with *err set.
 */
size_t pz_sign(const pz_bytes_t *key, const unsigned char *id, size_t len,
    int64_t expires, char *out, size_t cap, int *err);

/*
 * Verifies a signed id with each of keys[0..nkeys-1]; on PZ_SIGN_OK, *id
 * points into s and *expires is set.  Also *id on PZ_SIGN_EXPIRED.
 */
int pz_verify(const pz_bytes_t *keys, size_t nkeys, const unsigned char *s,
    size_t len, int64_t now, pz_bytes_t *id, int64_t *expires);

/*
 * A keyed hash for ids that must not reveal their input (device
 * fingerprints): base64url of HMAC-SHA256(key, msg), cut to out_len
 * characters (at most PZ_MAC_B64_LEN); returns 0, or -1.  Callers start
 * msg with a domain string of their own ("pzfp1:"), so that a mac of one
 * kind never passes for another.
 */
int pz_mac_b64(const pz_bytes_t *key, const unsigned char *msg, size_t len,
    char *out, size_t out_len);

/*
 * A key from the content of a key file: trailing white space (a final
 * newline) is not part of the key.  Returns the key length, or 0 with
 * *err set (PZ_SIGN_NO_KEY: shorter than PZ_KEY_MIN; PZ_SIGN_SPACE:
 * longer than PZ_KEY_MAX).
 */
size_t pz_key_trim(const unsigned char *data, size_t len, int *err);

const char *pz_sign_strerror(int err);


/*
 * The same with keys prepared once: HMAC() sets up its digest and key on
 * every call (about 5 us with OpenSSL 3); a prepared key is an EVP_MAC_CTX
 * that is only re-initialised (well under 1 us).  OpenSSL allocates it:
 * pz_key_ctx_init() returns 0, or -1; pz_key_ctx_free() releases it.  A
 * prepared key is used by one thread at a time.
 */

typedef struct {
    void                 *mac;          /* EVP_MAC_CTX */
} pz_key_ctx_t;

int pz_key_ctx_init(pz_key_ctx_t *kc, const pz_bytes_t *key);
void pz_key_ctx_free(pz_key_ctx_t *kc);

size_t pz_sign_ctx(pz_key_ctx_t *kc, const unsigned char *id, size_t len,
    int64_t expires, char *out, size_t cap, int *err);
int pz_verify_ctx(pz_key_ctx_t *kcs, size_t nkeys, const unsigned char *s,
    size_t len, int64_t now, pz_bytes_t *id, int64_t *expires);
int pz_mac_b64_ctx(pz_key_ctx_t *kc, const unsigned char *msg, size_t len,
    char *out, size_t out_len);


#endif /* NGX_PERSONALIZE_SIGN_H_INCLUDED_ */
