/*
 * NAME
 *	postscreen_cache - the temporary allow-list of clients that passed
 * SYNOPSIS
 *	#include "postscreen.h"
 *
 *	char	*psc_cache_path(const char *spec);
 *	struct psc_cache *psc_cache_open(const char *path, char *err,
 *	    size_t errlen);
 *	int	psc_cache_get(struct psc_cache *c, const char *addr,
 *	    long *stamps);
 *	int	psc_cache_put(struct psc_cache *c, const char *addr,
 *	    const long *stamps);
 *	long	psc_cache_cleanup(struct psc_cache *c, time_t now,
 *	    long retention, long *retained);
 *	void	psc_cache_close(struct psc_cache *c);
 *
 *	void	psc_stamps_format(const long *stamps, char *out, size_t len);
 *	int	psc_stamps_parse(const char *text, long *stamps);
 * DESCRIPTION
 *	postscreen_cache_map names the cache the Postfix way
 *	("btree:$data_directory/postscreen_cache"); btree:, hash: and
 *	lmdb: all mean an LMDB file "NAME.lmdb", as everywhere in postern.
 *	psc_cache_path() turns the spec into that path (NULL for an empty
 *	spec: no cache, every client is tested every time). The maps
 *	library is read-only, so this module opens the file read-write
 *	with LMDB directly. Several postscreen processes may share it
 *	(LMDB's lock file serialises writers). Writes skip fsync
 *	(MDB_NOSYNC): losing the newest entries in a crash only means
 *	those clients are tested again.
 *
 *	The key is the client address; the value is Postfix's record,
 *	one time stamp per test in enum psc_test order separated by ';':
 *	the time the test's pass expires, PSC_STAMP_NEW (0: never
 *	passed) or PSC_STAMP_DISABLED (1: the test was off).
 *
 *	psc_cache_cleanup() deletes entries whose every pass expired more
 *	than retention seconds ago, and malformed entries; it returns how
 *	many it deleted and sets *retained (if not NULL) to how many it
 *	kept (Postfix's postscreen_cache_retention_time).
 * DIAGNOSTICS
 *	psc_cache_open() returns NULL with err set. psc_cache_get()
 *	returns 1 (found), 0 (not found or malformed) or -1 (LMDB error,
 *	logged); psc_cache_put() returns 0 or -1 (logged). The cache is
 *	an optimisation: callers treat errors as "not cached".
 */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "postscreen.h"
#include "xalloc.h"

#define PSC_CACHE_MAPSIZE	(256UL * 1024 * 1024)

struct psc_cache {
	MDB_env	*env;
	MDB_dbi	 dbi;
	char	*path;
};

/* psc_cache_path - "btree:/x/postscreen_cache" -> "/x/postscreen_cache.lmdb" */
char *
psc_cache_path(const char *spec)
{
	const char *colon;

	if (spec == NULL || *spec == '\0')
		return (NULL);
	if ((colon = strchr(spec, ':')) != NULL) {
		if (strncmp(spec, "btree:", 6) != 0 &&
		    strncmp(spec, "hash:", 5) != 0 &&
		    strncmp(spec, "lmdb:", 5) != 0)
			return (NULL);
		spec = colon + 1;
	}
	if (*spec == '\0')
		return (NULL);
	return (xasprintf("%s.lmdb", spec));
}

/* psc_cache_open - open or create the LMDB file read-write */
struct psc_cache *
psc_cache_open(const char *path, char *err, size_t errlen)
{
	struct psc_cache *c = xcalloc(1, sizeof(*c));
	MDB_txn	*txn;
	int	 rc;

	if ((rc = mdb_env_create(&c->env)) != 0 ||
	    (rc = mdb_env_set_mapsize(c->env, PSC_CACHE_MAPSIZE)) != 0 ||
	    (rc = mdb_env_open(c->env, path, MDB_NOSUBDIR | MDB_NOSYNC |
	    MDB_NOMETASYNC | MDB_NOTLS, 0600)) != 0)
		goto fail;
	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &c->dbi)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	c->path = xstrdup(path);
	return (c);
fail:
	snprintf(err, errlen, "open %s: %s", path, mdb_strerror(rc));
	if (c->env)
		mdb_env_close(c->env);
	free(c);
	return (NULL);
}

/* psc_cache_close - close the file */
void
psc_cache_close(struct psc_cache *c)
{
	if (c == NULL)
		return;
	mdb_env_close(c->env);
	free(c->path);
	free(c);
}

/* psc_stamps_format - the cache record */
void
psc_stamps_format(const long *stamps, char *out, size_t len)
{
	snprintf(out, len, "%ld;%ld;%ld;%ld;%ld", stamps[0], stamps[1],
	    stamps[2], stamps[3], stamps[4]);
}

/* psc_stamps_parse - read a cache record; -1 when malformed */
int
psc_stamps_parse(const char *text, long *stamps)
{
	const char *s = text;
	char	*end;
	int	 i;

	for (i = 0; i < PSC_NTESTS; i++) {
		if (*s < '0' || *s > '9')
			return (-1);
		errno = 0;
		stamps[i] = strtol(s, &end, 10);
		if (errno != 0 || end == s)
			return (-1);
		s = end;
		if (i < PSC_NTESTS - 1 && *s++ != ';')
			return (-1);
	}
	return (*s == '\0' ? 0 : -1);
}

/* psc_cache_get - the stamps of a client */
int
psc_cache_get(struct psc_cache *c, const char *addr, long *stamps)
{
	MDB_txn	*txn;
	MDB_val	 key, val;
	char	 text[128];
	int	 rc;

	if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)) != 0) {
		log_warn("%s: read %s: %s", c->path, addr, mdb_strerror(rc));
		return (-1);
	}
	key.mv_data = (void *)addr;
	key.mv_size = strlen(addr);
	rc = mdb_get(txn, c->dbi, &key, &val);
	if (rc == 0 && val.mv_size < sizeof(text)) {
		memcpy(text, val.mv_data, val.mv_size);
		text[val.mv_size] = '\0';
	}
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return (0);
	if (rc != 0) {
		log_warn("%s: read %s: %s", c->path, addr, mdb_strerror(rc));
		return (-1);
	}
	if (val.mv_size >= sizeof(text) || psc_stamps_parse(text, stamps) < 0) {
		log_warn("%s: malformed entry for %s; ignored", c->path, addr);
		return (0);
	}
	return (1);
}

/* psc_cache_put - store the stamps of a client */
int
psc_cache_put(struct psc_cache *c, const char *addr, const long *stamps)
{
	MDB_txn	*txn;
	MDB_val	 key, val;
	char	 text[128];
	int	 rc;

	psc_stamps_format(stamps, text, sizeof(text));
	key.mv_data = (void *)addr;
	key.mv_size = strlen(addr);
	val.mv_data = text;
	val.mv_size = strlen(text);
	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_put(txn, c->dbi, &key, &val, 0)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	return (0);
fail:
	log_warn("%s: update %s: %s", c->path, addr, mdb_strerror(rc));
	return (-1);
}

/* entry_dead - every pass expired more than retention ago? */
static int
entry_dead(const MDB_val *val, time_t now, long retention)
{
	long	 stamps[PSC_NTESTS];
	char	 text[128];
	int	 i;

	if (val->mv_size >= sizeof(text))
		return (1);
	memcpy(text, val->mv_data, val->mv_size);
	text[val->mv_size] = '\0';
	if (psc_stamps_parse(text, stamps) < 0)
		return (1);
	for (i = 0; i < PSC_NTESTS; i++)
		if (stamps[i] > PSC_STAMP_DISABLED &&
		    stamps[i] + retention > (long)now)
			return (0);
	return (1);
}

/* psc_cache_cleanup - delete dead entries */
long
psc_cache_cleanup(struct psc_cache *c, time_t now, long retention,
    long *retained)
{
	MDB_txn	*txn;
	MDB_cursor *cur;
	MDB_val	 key, val;
	long	 deleted = 0, kept = 0;
	int	 rc;

	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_cursor_open(txn, c->dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		if (entry_dead(&val, now, retention) &&
		    mdb_cursor_del(cur, 0) == 0)
			deleted++;
		else
			kept++;
	}
	mdb_cursor_close(cur);
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	if (retained)
		*retained = kept;
	return (deleted);
fail:
	log_warn("%s: cleanup: %s", c->path, mdb_strerror(rc));
	return (-1);
}
