/*
 * NAME
 *	verify_cache - the address verification cache (verify(8)'s map)
 * SYNOPSIS
 *	#include "verify_cache.h"
 *
 *	int	verify_entry_parse(const char *raw, struct verify_entry *e);
 *	void	verify_entry_format(const struct verify_entry *e,
 *	    char *out, size_t len);
 *	int	verify_query_decide(const struct verify_policy *p, int found,
 *	    struct verify_entry *e, long now);
 *	int	verify_update_decide(int found, const struct verify_entry *old,
 *	    int status);
 *
 *	char	*verify_cache_path(const char *spec);
 *	struct verify_cache *verify_cache_open(const char *path, char *err,
 *	    size_t errlen);
 *	int	verify_cache_get(struct verify_cache *c, const char *addr,
 *	    struct verify_entry *e);
 *	int	verify_cache_put(struct verify_cache *c, const char *addr,
 *	    const struct verify_entry *e);
 *	void	verify_cache_close(struct verify_cache *c);
 *	int	verify_entry_expired(const struct verify_policy *p,
 *	    const struct verify_entry *e, long now);
 *	long	verify_cache_cleanup(struct verify_cache *c,
 *	    const struct verify_policy *p, long now, long *retained);
 * DESCRIPTION
 *	An entry is Postfix's "status:probed:updated:text": the address
 *	status (VERIFY_STAT_*), the time the last probe was sent (0: none
 *	outstanding), the time of the last result (0: never) and the
 *	text of the last result.
 *
 *	verify_query_decide() is Postfix's verify_query_service() rule
 *	for one query at time now, given the stored entry (found) or none:
 *	- no entry, or an expired one (a positive result older than
 *	  positive_expire_time, a negative one older than
 *	  negative_expire_time): the address is unknown (TODO);
 *	- TODO: a probe is sent unless one went out less than
 *	  VERIFY_PROBE_TTL seconds ago;
 *	- a positive result older than positive_refresh_time, a negative
 *	  one older than negative_refresh_time (or any negative one when
 *	  address_verify_negative_cache is off): the stored answer is
 *	  given and a probe refreshes it, again at most once per
 *	  VERIFY_PROBE_TTL.
 *	It updates *e (status TODO when unknown, probed = now when a probe
 *	goes out) and returns VERIFY_PROBE (send a probe and store *e) or
 *	0 (answer *e, store nothing).
 *
 *	verify_update_decide() says whether a probe's result replaces the
 *	stored entry: a positive result always does; a negative one does
 *	unless the stored entry is positive (Postfix: a failed probe does
 *	not clobber an address known good until that entry expires).
 *
 *	verify_entry_expired() says whether cleanup may drop an entry: a
 *	positive one past positive_expire_time, a negative one past
 *	negative_expire_time, an "in progress" one whose probe is older
 *	than VERIFY_PROBE_TTL. verify_cache_cleanup() drops those and the
 *	malformed entries, returns how many (-1 on an LMDB error, logged)
 *	and sets *retained (Postfix's address_verify_cache_cleanup_interval
 *	pass: "cache ... full cleanup: retained=N dropped=M entries").
 *
 *	The map: address_verify_map names it the Postfix way
 *	("btree:$data_directory/verify_cache"); btree:, hash: and lmdb:
 *	mean the LMDB file NAME.lmdb. verify_cache_path() returns that
 *	path or NULL (empty spec: the cache lives in memory only and is
 *	lost at restart, as in Postfix). The file is written with LMDB
 *	directly (the maps library is read-only), by the one verify
 *	process.
 * DIAGNOSTICS
 *	verify_entry_parse() returns -1 for a malformed entry.
 *	verify_cache_open() returns NULL with err set; verify_cache_get()
 *	returns 1 (found), 0 (not found or malformed: logged) or -1 (LMDB
 *	error, logged); verify_cache_put() returns 0 or -1 (logged).
 */
#ifndef VERIFY_CACHE_H
#define VERIFY_CACHE_H

#include <stddef.h>

#define VERIFY_STAT_OK		0	/* deliverable */
#define VERIFY_STAT_DEFER	1	/* temporary failure */
#define VERIFY_STAT_BOUNCE	2	/* undeliverable */
#define VERIFY_STAT_TODO	3	/* unknown: probe in progress */

#define VERIFY_PROBE_TTL	1000	/* Postfix's PROBE_TTL, seconds */
#define VERIFY_PROBE		1
#define VERIFY_TEXT_MAX		1024

struct verify_entry {
	int	 status;
	long	 probed;
	long	 updated;
	char	 text[VERIFY_TEXT_MAX];
};

struct verify_policy {
	long	 pos_expire, pos_refresh;
	long	 neg_expire, neg_refresh;
	int	 neg_cache;
};

struct verify_cache;

int	 verify_entry_parse(const char *, struct verify_entry *);
void	 verify_entry_format(const struct verify_entry *, char *, size_t);
int	 verify_query_decide(const struct verify_policy *, int,
	    struct verify_entry *, long);
int	 verify_update_decide(int, const struct verify_entry *, int);

char	*verify_cache_path(const char *);
struct verify_cache *verify_cache_open(const char *, char *, size_t);
int	 verify_cache_get(struct verify_cache *, const char *,
	    struct verify_entry *);
int	 verify_cache_put(struct verify_cache *, const char *,
	    const struct verify_entry *);
void	 verify_cache_close(struct verify_cache *);
int	 verify_entry_expired(const struct verify_policy *,
	    const struct verify_entry *, long);
long	 verify_cache_cleanup(struct verify_cache *,
	    const struct verify_policy *, long, long *);

#endif
