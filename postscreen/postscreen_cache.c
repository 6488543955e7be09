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
 *	with LMDB directly (lib/lmdb_kv.c). Several postscreen processes
 *	may share it (LMDB's lock file serialises writers). Writes skip fsync
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

#include "lmdb_kv.h"
#include "log.h"
#include "postscreen.h"
#include "xalloc.h"

#define PSC_CACHE_MAPSIZE	(256UL * 1024 * 1024)

struct psc_cache {
	struct lmdb_kv kv;
};

/* psc_cache_path - "btree:/x/postscreen_cache" -> "/x/postscreen_cache.lmdb" */
char *
psc_cache_path(const char *spec)
{
	return (lmdb_kv_path(spec));
}

/* psc_cache_open - open or create the LMDB file read-write */
struct psc_cache *
psc_cache_open(const char *path, char *err, size_t errlen)
{
	struct psc_cache *c = xcalloc(1, sizeof(*c));

	if (lmdb_kv_open(&c->kv, path, PSC_CACHE_MAPSIZE, err, errlen) < 0) {
		free(c);
		return (NULL);
	}
	return (c);
}

/* psc_cache_close - close the file */
void
psc_cache_close(struct psc_cache *c)
{
	if (c == NULL)
		return;
	lmdb_kv_close(&c->kv);
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
	char	 text[128];
	int	 rc;

	if ((rc = lmdb_kv_get(&c->kv, addr, text, sizeof(text))) <= 0)
		return (rc);
	if (psc_stamps_parse(text, stamps) < 0) {
		log_warn("%s: malformed entry for %s; ignored", c->kv.path,
		    addr);
		return (0);
	}
	return (1);
}

/* psc_cache_put - store the stamps of a client */
int
psc_cache_put(struct psc_cache *c, const char *addr, const long *stamps)
{
	char	 text[128];

	psc_stamps_format(stamps, text, sizeof(text));
	return (lmdb_kv_put(&c->kv, addr, text, "update"));
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

	if ((rc = mdb_txn_begin(c->kv.env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_cursor_open(txn, c->kv.dbi, &cur)) != 0) {
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
	log_warn("%s: cleanup: %s", c->kv.path, mdb_strerror(rc));
	return (-1);
}
