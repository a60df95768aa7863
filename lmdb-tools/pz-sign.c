/*
 * pz-sign: mint and verify signed visitor ids (see ngx_personalize_sign.h)
 * with the key files that nginx's personalize_key directive reads.
 *
 *     pz-sign -k KEYFILE [-t TTL | -e EXPIRES] ID...
 *     pz-sign -v -k KEYFILE [-k OLDKEYFILE ...] SIGNED...
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ngx_personalize_sign.h"


#define PZ_SIGN_KEYS_MAX        16

static const char  *prog = "pz-sign";


static void
usage(FILE *f)
{
    fprintf(f,
        "usage: %s -k KEYFILE [-t TTL | -e EXPIRES] ID...\n"
        "       %s -v -k KEYFILE [-k KEYFILE ...] SIGNED...\n"
        "  -k FILE  key file (at least %d bytes; the first one signs)\n"
        "  -t TTL   lifetime in seconds, or with a suffix s, m, h, d "
        "(default 30d)\n"
        "  -e TIME  expiry as seconds since the epoch\n"
        "  -v       verify: print the id of each valid signed id\n"
        "  -h, -V   help, version\n",
        prog, prog, PZ_KEY_MIN);
}


static int
read_key(const char *path, pz_bytes_t *key)
{
    int             err;
    FILE           *f;
    size_t          n;
    unsigned char  *buf;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return -1;
    }

    buf = malloc(PZ_KEY_MAX + 2);
    if (buf == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        fclose(f);
        return -1;
    }

    n = fread(buf, 1, PZ_KEY_MAX + 2, f);

    if (ferror(f)) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        goto failed;
    }

    n = pz_key_trim(buf, n, &err);

    if (n == 0) {
        fprintf(stderr, "%s: %s: key %s (%d to %d bytes)\n", prog, path,
                err == PZ_SIGN_NO_KEY ? "too short" : "too long",
                PZ_KEY_MIN, PZ_KEY_MAX);
        goto failed;
    }

    fclose(f);

    key->data = buf;
    key->len = n;

    return 0;

failed:

    free(buf);
    fclose(f);

    return -1;
}


static int
parse_ttl(const char *s, int64_t *ttl)
{
    char       *end;
    long long   v, mul;

    errno = 0;
    v = strtoll(s, &end, 10);

    if (errno || end == s || v < 0) {
        return -1;
    }

    switch (*end) {
    case '\0':
    case 's':
        mul = 1;
        break;
    case 'm':
        mul = 60;
        break;
    case 'h':
        mul = 3600;
        break;
    case 'd':
        mul = 86400;
        break;
    default:
        return -1;
    }

    if (*end != '\0' && end[1] != '\0') {
        return -1;
    }

    if (v > INT64_MAX / mul) {
        return -1;
    }

    *ttl = v * mul;

    return 0;
}


int
main(int argc, char **argv)
{
    int          c, i, rc, err, verify, status;
    char         out[PZ_SIGNED_MAX + 1], *end;
    size_t       n, nkeys;
    int64_t      ttl, expires, exp;
    pz_bytes_t   keys[PZ_SIGN_KEYS_MAX], id;

    verify = 0;
    nkeys = 0;
    ttl = 30 * 86400;
    expires = -1;
    status = EXIT_FAILURE;

    while ((c = getopt(argc, argv, "k:t:e:vhV")) != -1) {
        switch (c) {

        case 'k':
            if (nkeys == PZ_SIGN_KEYS_MAX) {
                fprintf(stderr, "%s: more than %d keys\n", prog,
                        PZ_SIGN_KEYS_MAX);
                goto done;
            }

            if (read_key(optarg, &keys[nkeys]) != 0) {
                goto done;
            }

            nkeys++;
            break;

        case 't':
            if (parse_ttl(optarg, &ttl) != 0) {
                fprintf(stderr, "%s: -t %s: invalid lifetime\n", prog,
                        optarg);
                goto done;
            }
            break;

        case 'e':
            errno = 0;
            expires = strtoll(optarg, &end, 10);
            if (errno || end == optarg || *end != '\0' || expires < 0) {
                fprintf(stderr, "%s: -e %s: invalid time\n", prog, optarg);
                goto done;
            }
            break;

        case 'v':
            verify = 1;
            break;

        case 'h':
            usage(stdout);
            status = EXIT_SUCCESS;
            goto done;

        case 'V':
            printf("%s 1 (signed id format pz1)\n", prog);
            status = EXIT_SUCCESS;
            goto done;

        default:
            usage(stderr);
            goto done;
        }
    }

    if (nkeys == 0 || optind == argc) {
        usage(stderr);
        goto done;
    }

    if (expires < 0) {
        if (ttl > INT64_MAX - (int64_t) time(NULL)) {
            fprintf(stderr, "%s: lifetime too long\n", prog);
            goto done;
        }

        expires = (int64_t) time(NULL) + ttl;
    }

    status = EXIT_SUCCESS;

    for (i = optind; i < argc; i++) {

        n = strlen(argv[i]);

        if (verify) {
            rc = pz_verify(keys, nkeys, (unsigned char *) argv[i], n,
                           (int64_t) time(NULL), &id, &exp);

            if (rc != PZ_SIGN_OK) {
                fprintf(stderr, "%s: %s: %s\n", prog, argv[i],
                        pz_sign_strerror(rc));
                status = EXIT_FAILURE;
                continue;
            }

            printf("%.*s\t%lld\n", (int) id.len, (const char *) id.data,
                   (long long) exp);
            continue;
        }

        n = pz_sign(&keys[0], (unsigned char *) argv[i], n, expires, out,
                    sizeof(out), &err);

        if (n == 0) {
            fprintf(stderr, "%s: %s: %s\n", prog, argv[i],
                    pz_sign_strerror(err));
            status = EXIT_FAILURE;
            continue;
        }

        printf("%.*s\n", (int) n, out);
    }

done:

    while (nkeys) {
        free((void *) keys[--nkeys].data);
    }

    return status;
}
