/*
 * pz-load: a full replace.  A new generation STORE.gen-N is prepared
 * beside the live one, checked (its profiles by a thread while the aliases
 * go in) and swapped in by renaming a symlink over STORE.
 */


#include "pz-load.h"


static int pz_copy_db(MDB_txn *from, MDB_dbi fdbi, MDB_txn *to,
    MDB_dbi tdbi);
static const char *pz_base(const char *path);
static void *pz_check_thread(void *arg);


int
pz_replace_prepare(pz_load_t *ld)
{
    int             rc, live_open;
    char            target[PATH_MAX], dir[PATH_MAX], err[PZ_ERRLEN];
    char            path[PATH_MAX + 300];
    char           *parent;
    size_t          blen;
    ssize_t         n;
    MDB_txn        *ltxn, *txn;
    pz_store_t      live;
    struct stat     sb;
    DIR            *d;
    struct dirent  *de;
    const char     *base;

    strcpy(dir, ld->store_path);
    parent = dirname(dir);
    base = pz_base(ld->store_path);
    blen = strlen(base);
    live_open = 0;
    ld->gen = 1;

    if (lstat(ld->store_path, &sb) != 0) {
        if (errno != ENOENT) {
            pz_msg("%s: %s", ld->store, strerror(errno));
            return -1;
        }

    } else if (S_ISLNK(sb.st_mode)) {
        n = readlink(ld->store_path, target, sizeof(target) - 1);

        if (n == -1) {
            pz_msg("%s: readlink() failed: %s", ld->store, strerror(errno));
            return -1;
        }

        target[n] = '\0';

        if (target[0] == '/') {
            snprintf(ld->old_dir, sizeof(ld->old_dir), "%s", target);

        } else {
            snprintf(ld->old_dir, sizeof(ld->old_dir), "%s/%s", parent,
                     target);
        }

        ld->has_old = 1;

        /* the live store gives the next generation number, the schemas
         * and the catalog */

        if (stat(ld->old_dir, &sb) == 0) {
            if (pz_store_open(&live, ld->store_path, PZ_OPEN_RDONLY, 0) != 0)
            {
                return -1;
            }

            live_open = 1;

            rc = mdb_txn_begin(live.env, NULL, MDB_RDONLY, &ltxn);
            if (rc != 0) {
                pz_msg("%s: mdb_txn_begin() failed: %s", ld->store,
                       mdb_strerror(rc));
                goto failed;
            }

            rc = pz_meta_get(ltxn, &live, &ld->live_meta, err, sizeof(err));
            mdb_txn_abort(ltxn);

            if (rc < 0) {
                pz_msg("%s: %s", ld->store, err);
                goto failed;
            }

            if (rc == 0) {
                ld->have_live_meta = 1;
                ld->gen = ld->live_meta.generation + 1;
            }
        }

    } else if (S_ISDIR(sb.st_mode)) {
        pz_msg("%s: is a directory; a replace swaps a symlink: move the "
               "store to %s.gen-1 and make %s a symlink to it (mv %s "
               "%s.gen-1 && ln -s %s.gen-1 %s), then run the replace "
               "again", ld->store, ld->store, ld->store, ld->store,
               ld->store, base, ld->store);
        return -1;

    } else {
        pz_msg("%s: not a directory nor a symlink", ld->store);
        return -1;
    }

    /* leftovers of interrupted runs and generations past their grace
     * period: every STORE.gen-* that is not live (we hold the lock) */

    d = opendir(parent);

    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strncmp(de->d_name, base, blen) != 0
                || strncmp(de->d_name + blen, ".gen-", 5) != 0)
            {
                continue;
            }

            if (ld->has_old && strcmp(de->d_name, pz_base(ld->old_dir)) == 0)
            {
                continue;
            }

            snprintf(path, sizeof(path), "%s/%s", parent, de->d_name);

            /* a retired generation's mtime is its retirement */

            if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)
                && time(NULL) - sb.st_mtime >= ld->grace)
            {
                pz_remove_generation(path);
            }
        }

        closedir(d);
    }

    /* a number not taken */

    for ( ;; ) {
        snprintf(ld->gen_dir, sizeof(ld->gen_dir), "%s.gen-%lld",
                 ld->store_path, (long long) ld->gen);

        if (lstat(ld->gen_dir, &sb) != 0) {
            break;
        }

        ld->gen++;
    }

    if (pz_store_open(&ld->st, ld->gen_dir, PZ_OPEN_CREATE | PZ_OPEN_BULK,
                      ld->mapsize)
        != 0)
    {
        ld->gen_dir[0] = '\0';
        goto failed;
    }

    ld->st_open = 1;

    /* a profile replace keeps the live catalog */

    if (live_open) {
        rc = mdb_txn_begin(live.env, NULL, MDB_RDONLY, &ltxn);

        if (rc == 0) {
            rc = mdb_txn_begin(ld->st.env, NULL, 0, &txn);

            if (rc == 0) {
                rc = pz_copy_db(ltxn, live.dbi[PZ_CATALOG], txn,
                                ld->st.dbi[PZ_CATALOG]);

                if (rc == 0) {
                    rc = mdb_txn_commit(txn);

                } else {
                    mdb_txn_abort(txn);
                }
            }

            mdb_txn_abort(ltxn);
        }

        if (rc != 0) {
            pz_msg("%s: copying the catalog failed: %s", ld->store,
                   mdb_strerror(rc));
            goto failed;
        }

        pz_store_close(&live);
    }

    return 0;

failed:

    if (live_open) {
        pz_store_close(&live);
    }

    return -1;
}


static int
pz_copy_db(MDB_txn *from, MDB_dbi fdbi, MDB_txn *to, MDB_dbi tdbi)
{
    int          rc;
    MDB_val      key, val;
    MDB_cursor  *cur;

    rc = mdb_cursor_open(from, fdbi, &cur);
    if (rc != 0) {
        return rc;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        rc = mdb_put(to, tdbi, &key, &val, MDB_APPEND);
        if (rc != 0) {
            break;
        }
    }

    mdb_cursor_close(cur);

    return rc == MDB_NOTFOUND ? 0 : rc;
}


static const char *
pz_base(const char *path)
{
    const char  *p;

    p = strrchr(path, '/');

    return p ? p + 1 : path;
}


/*
 * The profiles of a new generation are committed: a thread checks them
 * in a read-only transaction while the main one writes the aliases.
 * Without the thread, pz_replace_finish() checks everything itself.
 */

void
pz_check_start(pz_load_t *ld)
{
    memset(&ld->check, 0, sizeof(pz_walk_t));
    ld->check.parts = PZ_WALK_PROFILES;
    ld->check.max_report = 10;
    ld->check.report = stderr;

    /* the schemas the final commit stores in the meta record */
    ld->check.meta = ld->meta;

    ld->check_running = pthread_create(&ld->check_tid, NULL,
                                       pz_check_thread, ld)
                        == 0;
}


static void *
pz_check_thread(void *arg)
{
    int         rc;
    MDB_txn    *txn;
    pz_load_t  *ld = arg;

    rc = mdb_txn_begin(ld->st.env, NULL, MDB_RDONLY, &txn);

    if (rc != 0) {
        pz_msg("%s: mdb_txn_begin() failed: %s", ld->gen_dir,
               mdb_strerror(rc));
        ld->check_rc = -1;
        return NULL;
    }

    ld->check_rc = pz_walk(&ld->st, txn, &ld->check);
    mdb_txn_abort(txn);

    return NULL;
}


int
pz_check_join(pz_load_t *ld)
{
    if (!ld->check_running) {
        return 0;
    }

    pthread_join(ld->check_tid, NULL);
    ld->check_running = 0;

    return ld->check_rc;
}


/*
 * The new generation is complete and committed: sync it once, check it
 * with the walker, give it the owner and mode of the live store's files
 * (nginx workers must be able to write lock.mdb), and swap the symlink.
 */

int
pz_replace_finish(pz_load_t *ld)
{
    int          rc, crc, fd;
    char         tmp[PATH_MAX], dir[PATH_MAX], path[3 * PATH_MAX];
    char        *parent;
    size_t       problems;
    MDB_txn     *txn;
    pz_walk_t    w;
    struct stat  sb;
    unsigned     left;

    rc = mdb_env_sync(ld->st.env, 1);
    if (rc != 0) {
        pz_msg("%s: mdb_env_sync() failed: %s", ld->gen_dir,
               mdb_strerror(rc));
        return -1;
    }

    rc = mdb_txn_begin(ld->st.env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        pz_msg("%s: mdb_txn_begin() failed: %s", ld->gen_dir,
               mdb_strerror(rc));
        return -1;
    }

    memset(&w, 0, sizeof(w));
    w.max_report = 10;
    w.report = stderr;

    problems = 0;

    /* the rest is checked beside the thread that checks the profiles;
     * rows rejected after the thread's snapshot (pz_claims_settle()) have
     * everything walked again */

    if (ld->check_running && ld->alias_rejects == 0) {
        w.parts = PZ_WALK_META | PZ_WALK_ALIASES | PZ_WALK_CATALOG;
    }

    rc = pz_walk(&ld->st, txn, &w);
    mdb_txn_abort(txn);

    if (ld->check_running) {
        crc = pz_check_join(ld);

        if (w.parts != 0) {
            problems = ld->check.problems;

            if (crc != 0) {
                rc = -1;
            }

            if (crc == 0 && ld->check.alias_refs != w.aliases) {
                pz_msg("aliases: \"aliases\": profiles list %zu aliases, "
                       "the aliases database holds %zu",
                       ld->check.alias_refs, w.aliases);
                problems++;
            }
        }
    }

    problems += w.problems;

    if (rc != 0 || problems) {
        pz_msg("%s: the new generation fails its check (%zu problems)",
               ld->gen_dir, problems);
        return -1;
    }

    pz_store_close(&ld->st);
    ld->st_open = 0;

    /*
     * The pages just written are cached in small folios; dropped (they
     * are clean now), nginx reads the new generation back in 2 MB pages
     * where the filesystem can (personalize_store populate=on).
     */

    snprintf(path, sizeof(path), "%s/data.mdb", ld->gen_dir);

    fd = open(path, O_RDONLY);
    if (fd != -1) {
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        (void) close(fd);
    }

    if (ld->has_old) {
        const char  *files[] = { "data.mdb", "lock.mdb" };
        int          i;

        for (i = 0; i < 2; i++) {
            snprintf(path, sizeof(path), "%s/%s", ld->old_dir, files[i]);

            if (stat(path, &sb) != 0) {
                continue;
            }

            snprintf(path, sizeof(path), "%s/%s", ld->gen_dir, files[i]);

            if (chown(path, sb.st_uid, sb.st_gid) != 0
                || chmod(path, sb.st_mode & 07777) != 0)
            {
                pz_msg("%s: warning: cannot copy owner and mode: %s",
                       path, strerror(errno));
            }
        }

        if (stat(ld->old_dir, &sb) == 0
            && (chown(ld->gen_dir, sb.st_uid, sb.st_gid) != 0
                || chmod(ld->gen_dir, sb.st_mode & 07777) != 0))
        {
            pz_msg("%s: warning: cannot copy owner and mode: %s",
                   ld->gen_dir, strerror(errno));
        }
    }

    if (pz_interrupted) {
        return -1;
    }

    /* rename() of a symlink over the old one is atomic: a reader resolves
     * STORE to either the old or the new generation, never to nothing */

    snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", ld->store_path, (long) getpid());
    (void) unlink(tmp);

    if (symlink(pz_base(ld->gen_dir), tmp) != 0) {
        pz_msg("%s: symlink() failed: %s", tmp, strerror(errno));
        return -1;
    }

    if (rename(tmp, ld->store_path) != 0) {
        pz_msg("%s: rename() failed: %s", ld->store, strerror(errno));
        (void) unlink(tmp);
        return -1;
    }

    ld->built = 1;

    strcpy(dir, ld->store_path);
    parent = dirname(dir);

    fd = open(parent, O_RDONLY | O_DIRECTORY);
    if (fd != -1) {
        (void) fsync(fd);
        close(fd);
    }

    if (!ld->has_old) {
        return 0;
    }

    /* mark the retirement (see pz_replace_prepare()) and let other
     * writers in while we wait */

    (void) utimes(ld->old_dir, NULL);

    close(ld->lock_fd);
    ld->lock_fd = -1;

    /* readers that resolved the old generation just before the swap may
     * still be opening it: keep it for the grace period */

    if (ld->grace) {
        if (!ld->quiet) {
            pz_msg("%s: swapped in; removing %s in %ld s", ld->store,
                   ld->old_dir, ld->grace);
        }

        left = (unsigned) ld->grace;

        while (left && !pz_interrupted) {
            left = sleep(left);
        }

        if (pz_interrupted) {
            pz_msg("%s: left in place; the next replace removes it",
                   ld->old_dir);
            pz_interrupted = 0;
            return 0;
        }
    }

    if (pz_remove_generation(ld->old_dir) != 0) {
        return 0;
    }

    return 0;
}


/* only the files LMDB made: anything else there is not ours to delete */

int
pz_remove_generation(const char *dir)
{
    char  path[PATH_MAX + 16];

    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    (void) unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    (void) unlink(path);

    if (rmdir(dir) != 0) {
        pz_msg("%s: warning: not removed: %s", dir, strerror(errno));
        return -1;
    }

    return 0;
}
