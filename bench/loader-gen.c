/*
 * loader-gen: N synthetic profiles as JSON lines for bench/loader.sh.
 *
 *     loader-gen N [shuffle-seed]
 *
 * Each profile: an id (sorted order unless a seed shuffles them), three
 * aliases (login id, e-mail hash, old cookie), five segments and twelve
 * scalar fields (strings, ints, decimals, times).  The output is
 * deterministic for a given N and seed.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>


static uint64_t
mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;

    return x;
}


int
main(int argc, char **argv)
{
    unsigned long   n, i, k, seed, step;
    uint64_t        h;

    static const char  *segs[] = {
        "vip", "new", "cart_abandoned", "loyal", "churn_risk", "bargain",
        "parent", "runner", "gardener", "student", "b2b", "returns_many",
        "moved", "newsletter", "app_user", "replenish"
    };
    static const char  *names[] = {
        "Anna", "Bram", "Chloe", "Daan", "Emma", "Finn", "Gijs", "Hanna",
        "Iris", "Jan", "Kees", "Lotte", "Milan", "Noor", "Olaf", "Pien"
    };
    static const char  *cities[] = {
        "Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Eindhoven",
        "Groningen", "Tilburg", "Almere"
    };
    static const char  *sizes[] = { "S", "M", "L", "XL" };

    if (argc < 2) {
        fprintf(stderr, "usage: loader-gen N [shuffle-seed]\n");
        return EXIT_FAILURE;
    }

    n = strtoul(argv[1], NULL, 10);
    seed = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;

    /* a stride coprime to n visits every id once, out of order */
    step = 1;

    if (seed) {
        step = (unsigned long) (mix(seed) % n) | 1;

        while (1) {
            unsigned long  a = n, b = step, t;

            while (b) {
                t = a % b;
                a = b;
                b = t;
            }

            if (a == 1) {
                break;
            }

            step += 2;
        }
    }

    for (k = 0, i = 0; k < n; k++, i = (i + step) % n) {
        h = mix(i + 1);

        printf("{\"id\":\"c%010lu\",\"aliases\":[\"login:%lu\","
               "\"email:%016llx\",\"cookie:%016llx\"],"
               "\"segments\":[\"%s\",\"%s\",\"%s\",\"%s\",\"%s\"],"
               "\"first_name\":\"%s\",\"last_name\":\"Jansen-%lu\","
               "\"city\":\"%s\",\"favourite_size\":\"%s\","
               "\"orders\":%lu,\"points\":%lu,"
               "\"clv\":\"%lu.%02lu\",\"avg_order\":\"%lu.%02lu\","
               "\"last_order_at\":\"2026-%02lu-%02luT10:00:00Z\","
               "\"first_seen_at\":%lu,"
               "\"cart_abandoned_at\":\"2026-11-%02luT%02lu:00:00Z\","
               "\"nearest_store\":\"store-%lu\"}\n",
               i, 1000000 + i,
               (unsigned long long) h, (unsigned long long) mix(h),
               segs[h & 15], segs[(h >> 4) & 15], segs[(h >> 8) & 15],
               segs[(h >> 12) & 15], segs[(h >> 16) & 15],
               names[(h >> 20) & 15], i % 9973, cities[(h >> 24) & 7],
               sizes[(h >> 27) & 3],
               (unsigned long) (h >> 30) % 200, (unsigned long) (h >> 38)
               % 5000,
               (unsigned long) (h >> 40) % 10000, (unsigned long) (h >> 50)
               % 100, (unsigned long) (h >> 44) % 300, (unsigned long)
               (h >> 52) % 100,
               (unsigned long) (h >> 33) % 12 + 1, (unsigned long) (h >> 37)
               % 28 + 1,
               1600000000UL + (unsigned long) (h >> 20) % 100000000,
               (unsigned long) (h >> 41) % 22 + 1, (unsigned long) (h >> 46)
               % 24,
               (unsigned long) (h >> 55) % 40);
    }

    return ferror(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
}
