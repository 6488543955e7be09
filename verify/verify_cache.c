/*
 * NAME
 *	verify_cache - the address verification cache (verify(8)'s map)
 * SYNOPSIS
 *	See verify_cache.h.
 * DESCRIPTION
 *	The decision rules are pure functions (verify_cache_test.c drives
 *	them with a table); the store is an LMDB file written directly
 *	(lib/lmdb_kv.c, as postscreen_cache.c), or an in-memory list when
 *	address_verify_map is empty.
 * DIAGNOSTICS
 *	See verify_cache.h.
 * SEE ALSO
 *	Postfix's verify(8), ADDRESS_VERIFICATION_README.
 */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmdb_kv.h"
#include "log.h"
#include "str.h"
#include "verify_cache.h"
#include "xalloc.h"

#define VERIFY_CACHE_MAPSIZE	(256UL * 1024 * 1024)
#define VERIFY_RAW_MAX		(VERIFY_TEXT_MAX + 64)

struct verify_cache {
	struct lmdb_kv kv;		/* kv.env NULL: memory only */
	struct strv *keys, *vals;	/* memory only */
};

/* verify_entry_parse - "status:probed:updated:text" */
int
verify_entry_parse(const char *raw, struct verify_entry *e)
{
	long	 v[3];
	char	*end;
	const char *s = raw;
	int	 i;

	for (i = 0; i < 3; i++) {
		if (*s < '0' || *s > '9')
			return (-1);
		errno = 0;
		v[i] = strtol(s, &end, 10);
		if (errno != 0 || *end != ':')
			return (-1);
		s = end + 1;
	}
	if (v[0] > VERIFY_STAT_TODO)
		return (-1);
	e->status = (int)v[0];
	e->probed = v[1];
	e->updated = v[2];
	snprintf(e->text, sizeof(e->text), "%s", s);
	return (0);
}

/* verify_entry_format - the stored form */
void
verify_entry_format(const struct verify_entry *e, char *out, size_t len)
{
	snprintf(out, len, "%d:%ld:%ld:%s", e->status, e->probed, e->updated,
	    e->text);
}

/* verify_query_decide - Postfix's query rule; VERIFY_PROBE or 0 */
int
verify_query_decide(const struct verify_policy *p, int found,
    struct verify_entry *e, long now)
{
	int	 refresh = 0, negative;

	if (found && e->status == VERIFY_STAT_OK
	    && e->updated + p->pos_expire < now)
		found = 0;
	if (found && (e->status == VERIFY_STAT_DEFER
	    || e->status == VERIFY_STAT_BOUNCE)
	    && e->updated + p->neg_expire < now)
		found = 0;
	if (!found) {
		e->status = VERIFY_STAT_TODO;
		e->probed = 0;
		e->updated = 0;
	}
	if (e->status == VERIFY_STAT_TODO) {
		snprintf(e->text, sizeof(e->text),
		    "Address verification in progress");
		refresh = 1;
	}
	else if (e->status == VERIFY_STAT_OK)
		refresh = e->updated + p->pos_refresh < now;
	else
		refresh = !p->neg_cache || e->updated + p->neg_refresh < now;
	if (!refresh)
		return (0);
	negative = e->status == VERIFY_STAT_BOUNCE
	    || e->status == VERIFY_STAT_DEFER;
	/* a probe is on its way (without the negative cache: every query) */
	if (e->probed != 0 && e->probed + VERIFY_PROBE_TTL > now
	    && !(negative && !p->neg_cache))
		return (0);
	e->probed = now;
	return (VERIFY_PROBE);
}

/* verify_update_decide - does a probe's result replace the entry? */
int
verify_update_decide(int found, const struct verify_entry *old, int status)
{
	return (status == VERIFY_STAT_OK || !found
	    || old->status != VERIFY_STAT_OK);
}

/* verify_cache_path - "btree:/x/verify_cache" -> "/x/verify_cache.lmdb" */
char *
verify_cache_path(const char *spec)
{
	if (spec == NULL || spec[strspn(spec, " \t")] == '\0')
		return (NULL);
	return (lmdb_kv_path(spec));
}

/* verify_cache_open - the LMDB file read-write, or memory (path NULL) */
struct verify_cache *
verify_cache_open(const char *path, char *err, size_t errlen)
{
	struct verify_cache *c = xcalloc(1, sizeof(*c));

	if (path == NULL) {
		c->keys = strv_new();
		c->vals = strv_new();
		return (c);
	}
	if (lmdb_kv_open(&c->kv, path, VERIFY_CACHE_MAPSIZE, err, errlen)
	    < 0) {
		free(c);
		return (NULL);
	}
	return (c);
}

/* verify_cache_close - close the file */
void
verify_cache_close(struct verify_cache *c)
{
	if (c == NULL)
		return;
	lmdb_kv_close(&c->kv);
	strv_free(c->keys);
	strv_free(c->vals);
	free(c);
}

/* mem_find - index of addr in the memory cache, -1 if none */
static long
mem_find(const struct verify_cache *c, const char *addr)
{
	size_t	 i;

	for (i = 0; i < c->keys->argc; i++)
		if (strcmp(c->keys->argv[i], addr) == 0)
			return ((long)i);
	return (-1);
}

/* verify_cache_get - the entry of addr */
int
verify_cache_get(struct verify_cache *c, const char *addr,
    struct verify_entry *e)
{
	char	 raw[VERIFY_RAW_MAX];
	long	 i;
	int	 rc;

	if (c->kv.env == NULL) {
		if ((i = mem_find(c, addr)) < 0)
			return (0);
		return (verify_entry_parse(c->vals->argv[i], e) == 0);
	}
	if ((rc = lmdb_kv_get(&c->kv, addr, raw, sizeof(raw))) <= 0)
		return (rc);
	if (verify_entry_parse(raw, e) < 0) {
		log_warn("%s: malformed entry for %s; ignored", c->kv.path,
		    addr);
		return (0);
	}
	return (1);
}

/* verify_cache_put - store the entry of addr */
int
verify_cache_put(struct verify_cache *c, const char *addr,
    const struct verify_entry *e)
{
	char	 raw[VERIFY_RAW_MAX];
	long	 i;

	verify_entry_format(e, raw, sizeof(raw));
	if (c->kv.env == NULL) {
		if ((i = mem_find(c, addr)) >= 0) {
			free(c->vals->argv[i]);
			c->vals->argv[i] = xstrdup(raw);
		} else {
			strv_add(c->keys, addr);
			strv_add(c->vals, raw);
		}
		return (0);
	}
	return (lmdb_kv_put(&c->kv, addr, raw, "write"));
}

/* verify_entry_expired - may cleanup drop this entry? */
int
verify_entry_expired(const struct verify_policy *p, const struct verify_entry *e,
    long now)
{
	switch (e->status) {
	case VERIFY_STAT_OK:
		return (e->updated + p->pos_expire < now);
	case VERIFY_STAT_TODO:		/* a probe that never came back */
		return (e->probed + VERIFY_PROBE_TTL < now);
	default:
		return (e->updated + p->neg_expire < now);
	}
}

/* verify_cache_cleanup - drop expired and malformed entries */
long
verify_cache_cleanup(struct verify_cache *c, const struct verify_policy *p,
    long now, long *retained)
{
	MDB_txn	*txn;
	MDB_cursor *cur;
	MDB_val	 key, val;
	struct verify_entry e;
	char	 raw[VERIFY_RAW_MAX];
	long	 dropped = 0, kept = 0;
	size_t	 i;
	int	 rc;

	if (c->kv.env == NULL) {
		for (i = 0; i < c->keys->argc;) {
			if (verify_entry_parse(c->vals->argv[i], &e) < 0
			    || verify_entry_expired(p, &e, now)) {
				free(c->keys->argv[i]);
				free(c->vals->argv[i]);
				c->keys->argc--;
				c->vals->argc--;
				c->keys->argv[i] = c->keys->argv[c->keys->argc];
				c->vals->argv[i] = c->vals->argv[c->vals->argc];
				c->keys->argv[c->keys->argc] = NULL;
				c->vals->argv[c->vals->argc] = NULL;
				dropped++;
			} else {
				kept++;
				i++;
			}
		}
		goto out;
	}
	if ((rc = mdb_txn_begin(c->kv.env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_cursor_open(txn, c->kv.dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	while ((rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) == 0) {
		int	 bad = val.mv_size >= sizeof(raw);

		if (!bad) {
			memcpy(raw, val.mv_data, val.mv_size);
			raw[val.mv_size] = 0;
			bad = verify_entry_parse(raw, &e) < 0;
		}
		if (bad || verify_entry_expired(p, &e, now)) {
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
			dropped++;
		} else
			kept++;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND && rc != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
out:
	if (retained)
		*retained = kept;
	return (dropped);
fail:
	log_warn("%s: cleanup: %s", c->kv.path, mdb_strerror(rc));
	if (retained)
		*retained = kept;
	return (-1);
}
