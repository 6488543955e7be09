/*
 * NAME
 *	map_lmdb - lmdb:, hash: and btree: tables (LMDB files built by
 *	postmap)
 * SYNOPSIS
 *	map_lmdb_ops, map_hash_ops, map_btree_ops (map_int.h)
 *
 *	int	map_lmdb_write(const char *file, const struct strv *keys,
 *	    const struct strv *values, char *err, size_t errlen);
 *	int	map_lmdb_walk(const char *file, map_lmdb_walk_fn *fn,
 *	    void *ctx, char *err, size_t errlen);
 * DESCRIPTION
 *	The table for "lmdb:/etc/postfix/x" is the single file
 *	/etc/postfix/x.lmdb (MDB_NOSUBDIR). A database file is never
 *	modified in place: map_lmdb_write() writes file.lmdb.tmp.PID,
 *	commits (LMDB fsyncs it), fsyncs the directory after rename()ing
 *	it over file.lmdb. Readers therefore open the file read-only
 *	without a lock file (MDB_RDONLY | MDB_NOLOCK), each handle its own
 *	environment, and keep the old (unlinked) file mapped until map.c
 *	notices the new inode and reopens. Anything else that writes a
 *	.lmdb file must also rename() it into place: truncating or
 *	rewriting a mapped file in place makes readers fault (SIGBUS).
 *
 *	Keys are stored without a trailing NUL. map_lmdb_walk() calls fn
 *	for every entry in key order (postmap -s, -i, -d).
 *
 *	map_lmdb_write() gives the table its source's owner (as root)
 *	and permission bits (map_lmdb_perms(), Postfix's rule: the source's
 *	mode masked with 0644); opening a table older than its source file
 *	logs Postfix's "database X.lmdb is older than source file X".
 * DIAGNOSTICS
 *	Lookup errors are MAP_RETRY with the LMDB error text. The build
 *	and walk functions return -1 with a message in err.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "log.h"
#include "map_int.h"
#include "map_lmdb.h"
#include "str.h"
#include "xalloc.h"

struct map_lmdb {
	MDB_env	*env;
	MDB_dbi	 dbi;
};

/* map_lmdb_env - open file.lmdb read-only */
static int
map_lmdb_env(const char *file, MDB_env **envp, MDB_dbi *dbi, char *err,
    size_t errlen)
{
	char	*path = xasprintf("%s.lmdb", file);
	MDB_env	*env = NULL;
	MDB_txn	*txn = NULL;
	int	 rc;

	if ((rc = mdb_env_create(&env)) != 0
	    || (rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOSUBDIR
	    | MDB_NOLOCK | MDB_NOTLS, 0644)) != 0
	    || (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0
	    || (rc = mdb_dbi_open(txn, NULL, 0, dbi)) != 0) {
		snprintf(err, errlen, "open database %s: %s", path,
		    rc == ENOENT || rc == EACCES ? strerror(rc)
		    : mdb_strerror(rc));
		if (txn)
			mdb_txn_abort(txn);
		if (env)
			mdb_env_close(env);
		free(path);
		return (-1);
	}
	mdb_txn_abort(txn);
	free(path);
	*envp = env;
	return (0);
}

/* map_lmdb_stale - warn, as Postfix, when the source is newer */
static void
map_lmdb_stale(const char *file)
{
	char	*path = xasprintf("%s.lmdb", file);
	struct stat src, db;

	if (stat(file, &src) == 0 && stat(path, &db) == 0
	    && (src.st_mtim.tv_sec > db.st_mtim.tv_sec
	    || (src.st_mtim.tv_sec == db.st_mtim.tv_sec
	    && src.st_mtim.tv_nsec > db.st_mtim.tv_nsec)))
		log_warn("database %s is older than source file %s", path,
		    file);
	free(path);
}

/* map_lmdb_open - one read-only environment per handle */
static int
map_lmdb_open(struct map *m)
{
	struct map_lmdb *db = xcalloc(1, sizeof(*db));
	char	 err[512];

	if (map_lmdb_env(m->name, &db->env, &db->dbi, err, sizeof(err)) < 0) {
		map_set_error(m, "%s: %s", m->spec, err);
		free(db);
		return (-1);
	}
	map_lmdb_stale(m->name);
	m->priv = db;
	return (0);
}

/* map_lmdb_lookup - one read transaction per lookup */
static int
map_lmdb_lookup(struct map *m, const char *key, char **value)
{
	struct map_lmdb *db = m->priv;
	MDB_txn	*txn;
	MDB_val	 k, v;
	int	 rc;

	k.mv_size = strlen(key);
	k.mv_data = (void *) key;
	if (k.mv_size == 0
	    || k.mv_size > (size_t) mdb_env_get_maxkeysize(db->env))
		return (MAP_NOTFOUND);
	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != 0) {
		map_set_error(m, "%s: %s", m->spec, mdb_strerror(rc));
		return (MAP_RETRY);
	}
	rc = mdb_get(txn, db->dbi, &k, &v);
	if (rc == 0)
		*value = xstrndup(v.mv_data, v.mv_size);
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return (MAP_NOTFOUND);
	if (rc != 0) {
		map_set_error(m, "%s: %s", m->spec, mdb_strerror(rc));
		return (MAP_RETRY);
	}
	return (MAP_FOUND);
}

/* map_lmdb_close - close the environment */
static void
map_lmdb_close(struct map *m)
{
	struct map_lmdb *db = m->priv;

	if (db) {
		mdb_env_close(db->env);
		free(db);
	}
	m->priv = NULL;
}

const struct map_ops map_lmdb_ops = {
	"lmdb", MAP_OPS_FOLD | MAP_OPS_FILE, ".lmdb", map_lmdb_open,
	map_lmdb_lookup, NULL, map_lmdb_close,
};
const struct map_ops map_hash_ops = {
	"hash", MAP_OPS_FOLD | MAP_OPS_FILE, ".lmdb", map_lmdb_open,
	map_lmdb_lookup, NULL, map_lmdb_close,
};
const struct map_ops map_btree_ops = {
	"btree", MAP_OPS_FOLD | MAP_OPS_FILE, ".lmdb", map_lmdb_open,
	map_lmdb_lookup, NULL, map_lmdb_close,
};

/* map_lmdb_fill - write all entries into a fresh environment */
static int
map_lmdb_fill(const char *tmp, size_t mapsize, const struct strv *keys,
    const struct strv *values)
{
	MDB_env	*env;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
	MDB_val	 k, v;
	size_t	 i;
	int	 rc;

	(void) unlink(tmp);
	if ((rc = mdb_env_create(&env)) != 0)
		return (rc);
	if ((rc = mdb_env_set_mapsize(env, mapsize)) != 0
	    || (rc = mdb_env_open(env, tmp, MDB_NOSUBDIR | MDB_NOLOCK,
	    0644)) != 0
	    || (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		mdb_env_close(env);
		return (rc);
	}
	if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi)) == 0)
		for (i = 0; i < keys->argc; i++) {
			k.mv_data = keys->argv[i];
			k.mv_size = strlen(keys->argv[i]);
			v.mv_data = values->argv[i];
			v.mv_size = strlen(values->argv[i]);
			if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
				break;
		}
	if (rc == 0)
		rc = mdb_txn_commit(txn);	/* fsyncs the file */
	else
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return (rc);
}

/* map_lmdb_sync_dir - make the rename durable */
static void
map_lmdb_sync_dir(const char *path)
{
	char	*copy = xstrdup(path);
	int	 fd;

	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY)) >= 0) {
		(void) fsync(fd);
		close(fd);
	}
	free(copy);
}

/*
 * map_lmdb_perms - the new table gets the source's owner and permission
 * bits, as Postfix's postmap (which runs as the source's owner with
 * umask 022 | (~source_mode & 077)): a 0600 source gives a 0600 table,
 * group and other never get write permission. Without a source (-i,
 * -d on a table alone) the current table's are kept.
 */
int
map_lmdb_perms(const char *file, const char *path, const char *tmp,
    char *err, size_t errlen)
{
	struct stat st;
	mode_t	 mode;

	if (stat(file, &st) == 0 && S_ISREG(st.st_mode))
		mode = 0644 & ~(022 | (~st.st_mode & 077));
	else if (stat(path, &st) == 0)
		mode = st.st_mode & 0777;
	else
		return (0);	/* neither: LMDB's 0644 less the umask */
	if (geteuid() == 0 && chown(tmp, st.st_uid, st.st_gid) < 0) {
		snprintf(err, errlen, "chown %s: %s", tmp, strerror(errno));
		return (-1);
	}
	if (chmod(tmp, mode) < 0) {
		snprintf(err, errlen, "chmod %s: %s", tmp, strerror(errno));
		return (-1);
	}
	return (0);
}

/* map_lmdb_write - build file.lmdb atomically from keys/values */
int
map_lmdb_write(const char *file, const struct strv *keys,
    const struct strv *values, char *err, size_t errlen)
{
	char	*path = xasprintf("%s.lmdb", file);
	char	*tmp = xasprintf("%s.tmp.%ld", path, (long) getpid());
	size_t	 mapsize = 1 << 20, i;
	int	 rc;

	for (i = 0; i < keys->argc; i++) {
		if (strlen(keys->argv[i]) == 0 || strlen(keys->argv[i]) > 511) {
			snprintf(err, errlen, "%s: key \"%.40s...\": empty "
			    "or longer than 511 bytes", path, keys->argv[i]);
			free(path);
			free(tmp);
			return (-1);
		}
		mapsize += 2 * (strlen(keys->argv[i]) + strlen(values->argv[i])
		    + 64);
	}
	mapsize = (mapsize + 4095) & ~(size_t) 4095;
	while ((rc = map_lmdb_fill(tmp, mapsize, keys, values)) == MDB_MAP_FULL
	    && mapsize < ((size_t) 1 << 40))
		mapsize *= 2;
	if (rc != 0) {
		snprintf(err, errlen, "write %s: %s", tmp, mdb_strerror(rc));
		(void) unlink(tmp);
	} else if (map_lmdb_perms(file, path, tmp, err, errlen) < 0) {
		(void) unlink(tmp);
		rc = -1;
	} else if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "rename %s to %s: %s", tmp, path,
		    strerror(errno));
		(void) unlink(tmp);
		rc = -1;
	} else
		map_lmdb_sync_dir(path);
	free(path);
	free(tmp);
	return (rc == 0 ? 0 : -1);
}

/* map_lmdb_walk - call fn for every entry of file.lmdb, in key order */
int
map_lmdb_walk(const char *file, map_lmdb_walk_fn *fn, void *ctx,
    char *err, size_t errlen)
{
	MDB_env	*env;
	MDB_dbi	 dbi;
	MDB_txn	*txn;
	MDB_cursor *cur;
	MDB_val	 k, v;
	int	 rc;

	if (map_lmdb_env(file, &env, &dbi, err, errlen) < 0)
		return (-1);
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0
	    || (rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		snprintf(err, errlen, "%s.lmdb: %s", file, mdb_strerror(rc));
		mdb_env_close(env);
		return (-1);
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		char	*ks = xstrndup(k.mv_data, k.mv_size);
		char	*vs = xstrndup(v.mv_data, v.mv_size);

		fn(ks, vs, ctx);
		free(ks);
		free(vs);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	if (rc != MDB_NOTFOUND) {
		snprintf(err, errlen, "%s.lmdb: %s", file, mdb_strerror(rc));
		return (-1);
	}
	return (0);
}
