/*
 * NAME
 *	lmdb_kv - one LMDB file opened read-write, string keys and values
 * SYNOPSIS
 *	#include "lmdb_kv.h"
 *
 *	char	*lmdb_kv_path(const char *spec);
 *	int	lmdb_kv_open(struct lmdb_kv *kv, const char *path,
 *	    size_t mapsize, char *err, size_t errlen);
 *	int	lmdb_kv_get(struct lmdb_kv *kv, const char *key, char *out,
 *	    size_t outlen);
 *	int	lmdb_kv_put(struct lmdb_kv *kv, const char *key,
 *	    const char *val, const char *verb);
 *	void	lmdb_kv_close(struct lmdb_kv *kv);
 * DESCRIPTION
 *	The store under the caches that write their own map (the maps
 *	library is read-only): postscreen_cache and verify_cache.
 *	lmdb_kv_path() turns "btree:/x/name" (hash:, lmdb: or no type)
 *	into "/x/name.lmdb"; NULL for an empty name or another type.
 *	lmdb_kv_open() opens or creates path (MDB_NOSUBDIR, no fsync:
 *	losing the newest entries in a crash only costs a new test).
 *	lmdb_kv_get() copies the value of key into out, NUL-terminated;
 *	a value that does not fit comes back as "" (the callers' parsers
 *	reject it as malformed). kv->env, kv->dbi and kv->path are there
 *	for a caller's own cursor walk.
 * DIAGNOSTICS
 *	lmdb_kv_open() returns 0, or -1 with err set ("open PATH: why").
 *	lmdb_kv_get() returns 1 (found), 0 (not found) or -1 (logged
 *	"PATH: read KEY: why"); lmdb_kv_put() returns 0 or -1 (logged
 *	"PATH: VERB KEY: why").
 */
#ifndef LMDB_KV_H
#define LMDB_KV_H

#include <stddef.h>
#include <lmdb.h>

struct lmdb_kv {
	MDB_env	*env;			/* NULL: not open */
	MDB_dbi	 dbi;
	char	*path;
};

char	*lmdb_kv_path(const char *spec);
int	 lmdb_kv_open(struct lmdb_kv *kv, const char *path, size_t mapsize,
	    char *err, size_t errlen);
int	 lmdb_kv_get(struct lmdb_kv *kv, const char *key, char *out,
	    size_t outlen);
int	 lmdb_kv_put(struct lmdb_kv *kv, const char *key, const char *val,
	    const char *verb);
void	 lmdb_kv_close(struct lmdb_kv *kv);

#endif
