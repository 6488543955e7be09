/*
 * NAME
 *	lmdb_kv - one LMDB file opened read-write, string keys and values
 * SYNOPSIS
 *	See lmdb_kv.h.
 * DESCRIPTION
 *	See lmdb_kv.h; used by postscreen/postscreen_cache.c and
 *	verify/verify_cache.c.
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmdb_kv.h"
#include "log.h"
#include "xalloc.h"

/* lmdb_kv_path - "btree:/x/name" -> "/x/name.lmdb" */
char *
lmdb_kv_path(const char *spec)
{
	const char *colon;

	if (spec == NULL || *spec == '\0')
		return (NULL);
	if ((colon = strchr(spec, ':')) != NULL) {
		if (strncmp(spec, "btree:", 6) != 0
		    && strncmp(spec, "hash:", 5) != 0
		    && strncmp(spec, "lmdb:", 5) != 0)
			return (NULL);
		spec = colon + 1;
	}
	if (*spec == '\0')
		return (NULL);
	return (xasprintf("%s.lmdb", spec));
}

/* lmdb_kv_open - open or create the LMDB file read-write */
int
lmdb_kv_open(struct lmdb_kv *kv, const char *path, size_t mapsize,
    char *err, size_t errlen)
{
	MDB_txn	*txn;
	int	 rc;

	memset(kv, 0, sizeof(*kv));
	if ((rc = mdb_env_create(&kv->env)) != 0
	    || (rc = mdb_env_set_mapsize(kv->env, mapsize)) != 0
	    || (rc = mdb_env_open(kv->env, path, MDB_NOSUBDIR | MDB_NOSYNC
	    | MDB_NOMETASYNC | MDB_NOTLS, 0600)) != 0)
		goto fail;
	if ((rc = mdb_txn_begin(kv->env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &kv->dbi)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	kv->path = xstrdup(path);
	return (0);
fail:
	snprintf(err, errlen, "open %s: %s", path, mdb_strerror(rc));
	if (kv->env)
		mdb_env_close(kv->env);
	kv->env = NULL;
	return (-1);
}

/* lmdb_kv_close - close the file */
void
lmdb_kv_close(struct lmdb_kv *kv)
{
	if (kv->env)
		mdb_env_close(kv->env);
	free(kv->path);
	memset(kv, 0, sizeof(*kv));
}

/* lmdb_kv_get - the value of key, NUL-terminated in out */
int
lmdb_kv_get(struct lmdb_kv *kv, const char *key, char *out, size_t outlen)
{
	MDB_txn	*txn;
	MDB_val	 k, val;
	int	 rc;

	if ((rc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn)) != 0) {
		log_warn("%s: read %s: %s", kv->path, key, mdb_strerror(rc));
		return (-1);
	}
	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	rc = mdb_get(txn, kv->dbi, &k, &val);
	if (rc == 0 && val.mv_size < outlen) {
		memcpy(out, val.mv_data, val.mv_size);
		out[val.mv_size] = '\0';
	} else if (rc == 0)
		out[0] = '\0';		/* too long: malformed */
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return (0);
	if (rc != 0) {
		log_warn("%s: read %s: %s", kv->path, key, mdb_strerror(rc));
		return (-1);
	}
	return (1);
}

/* lmdb_kv_put - store val under key */
int
lmdb_kv_put(struct lmdb_kv *kv, const char *key, const char *val,
    const char *verb)
{
	MDB_txn	*txn;
	MDB_val	 k, v;
	int	 rc;

	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	v.mv_data = (void *)val;
	v.mv_size = strlen(val);
	if ((rc = mdb_txn_begin(kv->env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_put(txn, kv->dbi, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	return (0);
fail:
	log_warn("%s: %s %s: %s", kv->path, verb, key, mdb_strerror(rc));
	return (-1);
}
