/*
 * pz-load: aliases claimed by two rows of a build, under -x.
 */


#include "pz-load.h"


static int pz_claim_cmp(const void *a, const void *b);
static int pz_claim_reject(pz_load_t *ld, pz_claim_t *c);
static int pz_claims_reread(pz_load_t *ld, pz_claim_t *c, size_t n);


/*
 * Under -x, two rows claiming one alias reject the later one, as an
 * upsert does: rows are taken in input order, and a row goes when an
 * alias of it belongs to an earlier row that stayed.  The merge meets the
 * claims in alias order, so it only notes them (and gives each alias to
 * its first claimant); pz_claims_settle() decides once the merge is done.
 */

void
pz_claim_set(pz_claim_t *c, const unsigned char *e)
{
    memcpy(&c->alias_len, e, 2);
    memcpy(&c->id_len, e + 2, 2);
    memcpy(&c->line, e + 4, 4);
    memcpy(&c->file, e + 8, 2);
    memcpy(&c->lines, e + 10, 2);
    memcpy(c->alias, e + PZ_SENT_HDR, c->alias_len);
    memcpy(c->id, e + PZ_SENT_HDR + c->alias_len, c->id_len);
}


int
pz_claim_add(pz_load_t *ld, const pz_claim_t *c)
{
    size_t        cap;
    pz_claim_t   *claims;
    pz_sorter_t  *s;

    s = &ld->sorter;

    if (s->nclaims == s->claims_cap) {
        if (s->claims_cap == PZ_CLAIMS_MAX) {
            pz_msg("more than %d rows claim aliases of other rows",
                   PZ_CLAIMS_MAX);
            return -1;
        }

        cap = s->claims_cap ? s->claims_cap * 2 : 64;
        cap = cap > PZ_CLAIMS_MAX ? PZ_CLAIMS_MAX : cap;

        claims = realloc(s->claims, cap * sizeof(pz_claim_t));
        if (claims == NULL) {
            pz_msg("out of memory");
            return -1;
        }

        s->claims = claims;
        s->claims_cap = cap;
    }

    s->claims[s->nclaims++] = *c;

    return 0;
}


/* input order: file, line */

static int
pz_claim_cmp(const void *a, const void *b)
{
    const pz_claim_t  *ca = a, *cb = b;

    if (ca->file != cb->file) {
        return ca->file < cb->file ? -1 : 1;
    }

    if (ca->line != cb->line) {
        return ca->line < cb->line ? -1 : 1;
    }

    return (ca->group > cb->group) - (ca->group < cb->group);
}


int
pz_claims_settle(pz_load_t *ld)
{
    int            rc, rejected;
    size_t         i, j, k, n, nrej;
    ssize_t       *owner;
    MDB_val        key, val;
    pz_claim_t    *c, *block, *rej;
    pz_sorter_t   *s;

    s = &ld->sorter;
    n = s->nclaims;

    qsort(s->claims, n, sizeof(pz_claim_t), pz_claim_cmp);

    /* owner[group]: the claim of the row that keeps the alias */

    owner = malloc(s->groups * sizeof(ssize_t));
    rej = malloc(n * sizeof(pz_claim_t));

    if (owner == NULL || rej == NULL) {
        free(owner);
        free(rej);
        pz_msg("out of memory");
        return -1;
    }

    for (i = 0; i < s->groups; i++) {
        owner[i] = -1;
    }

    nrej = 0;
    rc = 0;

    for (i = 0; i < n; i = j) {

        /* the claims of one row */

        block = NULL;

        for (j = i;
             j < n && s->claims[j].file == s->claims[i].file
             && s->claims[j].line == s->claims[i].line;
             j++)
        {
            if (block == NULL && owner[s->claims[j].group] != -1) {
                block = &s->claims[j];
            }
        }

        if (block == NULL) {
            for (k = i; k < j; k++) {
                owner[s->claims[k].group] = k;
            }

            continue;
        }

        c = &s->claims[owner[block->group]];

        pz_msg("%s:%lu: alias \"%.*s\" of \"%.*s\" already belongs to "
               "\"%.*s\"", ld->files[block->file], (unsigned long) block->line,
               (int) block->alias_len, block->alias, (int) block->id_len,
               block->id, (int) c->id_len, c->id);

        rej[nrej++] = *block;
    }

    /* the rejected rows go with all their aliases */

    for (i = 0; i < nrej && rc == 0; i++) {
        rc = pz_claim_reject(ld, &rej[i]);
    }

    /* each contested alias to the row that keeps it */

    for (i = 0; i < n && rc == 0; i++) {
        c = &s->claims[i];

        if (owner[c->group] != (ssize_t) i) {
            continue;
        }

        key.mv_data = c->alias;
        key.mv_size = c->alias_len;
        val.mv_data = c->id;
        val.mv_size = c->id_len;

        rc = mdb_put(ld->txn, ld->st.dbi[PZ_ALIASES], &key, &val, 0);

        if (rc != 0) {
            pz_msg("mdb_put(aliases) failed: %s", mdb_strerror(rc));
            rc = -1;
        }
    }

    rejected = (int) nrej;

    /* the rows of files that can be read again, in input order */

    for (i = 0, k = 0; i < nrej; i++) {
        if (pz_rereadable(ld, rej[i].file)) {
            rej[k++] = rej[i];
        }
    }

    if (rc == 0) {
        rc = pz_claims_reread(ld, rej, k);
    }

    ld->alias_rejects += rejected;

    free(owner);
    free(rej);

    return rc;
}


/* a rejected row leaves the new store; stdin and pipes were copied
 * (pz_input_copy()), but a file removed during the load cannot be read
 * again: the reject file gets the row as the store had it, a JSON line */

static int
pz_claim_reject(pz_load_t *ld, pz_claim_t *c)
{
    int          rc;
    json_t      *obj;
    MDB_val      key, val;

    key.mv_data = c->id;
    key.mv_size = c->id_len;

    rc = mdb_get(ld->txn, ld->st.dbi[PZ_PROFILES], &key, &val);

    if (rc != 0) {
        pz_msg("mdb_get(profiles) failed: %s", mdb_strerror(rc));
        return -1;
    }

    if (!pz_rereadable(ld, c->file)) {
        obj = pz_record_to_json((const char *) c->id, c->id_len, val.mv_data,
                                val.mv_size, PZ_ROW_PROFILE);

        rc = obj != NULL ? pz_print_json(ld->reject, obj) : -1;
        json_decref(obj);
        pz_json_arena_reset();

        if (rc != 0) {
            pz_msg("%s: %s", ld->reject_file, strerror(errno));
            return -1;
        }
    }

    /* it goes with the aliases that point to it */

    rc = pz_delete_profile(ld, &key);

    if (rc != 0) {
        pz_msg("%.*s: deleting the profile failed: %s", (int) c->id_len,
               c->id, mdb_strerror(rc));
        return -1;
    }

    ld->rows--;
    ld->rejected++;

    if (ld->appended > ld->rows) {
        ld->appended = ld->rows;
    }

    return 0;
}


int
pz_rereadable(pz_load_t *ld, unsigned file)
{
    struct stat  sb;

    if (file < ld->ncopies && ld->copy_fds[file] != -1) {
        return 1;
    }

    return !ld->from_stdin && strcmp(ld->files[file], "-") != 0
           && stat(ld->files[file], &sb) == 0 && S_ISREG(sb.st_mode);
}


/* the file to read a row of input "file" again from: it or its copy */

const char *
pz_reread_path(pz_load_t *ld, unsigned file)
{
    if (file < ld->ncopies && ld->copy_fds[file] != -1) {
        snprintf(ld->copy_path, sizeof(ld->copy_path), "/proc/self/fd/%d",
                 ld->copy_fds[file]);
        return ld->copy_path;
    }

    return ld->files[file];
}


/* the rejected rows as they were: their lines read again from the files */

static int
pz_claims_reread(pz_load_t *ld, pz_claim_t *c, size_t n)
{
    int            rc;
    char          *buf;
    FILE          *in;
    size_t         i, cap;
    ssize_t        len;
    unsigned long  line;

    qsort(c, n, sizeof(pz_claim_t), pz_claim_cmp);

    buf = NULL;
    cap = 0;
    rc = 0;

    for (i = 0; i < n && rc == 0; /* void */ ) {
        in = fopen(pz_reread_path(ld, c[i].file), "r");

        if (in == NULL) {
            pz_msg("%s: %s", ld->files[c[i].file], strerror(errno));
            rc = -1;
            break;
        }

        line = 0;

        while (i < n && (len = getline(&buf, &cap, in)) != -1) {
            line++;

            if (line < c[i].line) {
                continue;
            }

            if (fwrite(buf, 1, len, ld->reject) != (size_t) len
                || (buf[len - 1] != '\n' && fputc('\n', ld->reject) == EOF))
            {
                pz_msg("%s: %s", ld->reject_file, strerror(errno));
                rc = -1;
                break;
            }

            if (line >= c[i].line + c[i].lines - 1) {
                i++;

                /* the next file */
                if (i < n && c[i].file != c[i - 1].file) {
                    break;
                }
            }
        }

        fclose(in);

        if (rc == 0 && i < n && (i == 0 || c[i].file == c[i - 1].file)) {
            pz_msg("%s: shorter than it was", ld->files[c[i].file]);
            rc = -1;
        }
    }

    free(buf);

    return rc;
}
