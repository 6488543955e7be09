/*
 * NAME
 *	dcache - short-lived cache of domain-class answers (per list, locked)
 * SYNOPSIS
 *	#include "dcache.h"
 *
 *	struct dcache *dcache_create(int ttl, size_t size);
 *	struct dcache *dcache_shared(const char *id, int ttl, size_t size);
 *	int	dcache_get(struct dcache *dc, const char *domain, time_t now);
 *	void	dcache_put(struct dcache *dc, const char *domain, int hit,
 *	    time_t now);
 *	void	dcache_free(struct dcache *dc);
 * DESCRIPTION
 *	Remembers, for a few seconds, whether a domain matched one domain
 *	list (mydestination, virtual_alias_domains, virtual_mailbox_domains,
 *	relay_domains): the answer "is example.org a virtual mailbox
 *	domain" is then asked of MySQL once per TTL and process instead of
 *	once per stage and message. This is the role of Postfix's
 *	trivial-rewrite resolve cache and its clients' last-result cache: a
 *	domain added to or removed from a table takes effect after at most
 *	ttl seconds (DCACHE_TTL, 5) in a running process.
 *
 *	dcache_create() makes a private cache. dcache_shared() returns the
 *	process's one cache named id (created on first use, counted): the
 *	threads of a daemon each open their own tables but share answers.
 *	Callers name a cache by the list's parameter and its value, so a
 *	configuration reload that changes the list gets a new cache.
 *	dcache_free() releases a private cache, or drops one reference to a
 *	shared one (the last frees it). Only domain-class answers belong
 *	here: never a per-user answer.
 *
 *	dcache_get() returns 1 (matched) or 0 (did not) for a fresh entry,
 *	-1 when there is none or it is older than ttl at now. Domains
 *	compare ASCII case-insensitively (the maps fold keys too).
 *	dcache_put() stores hit (0 or 1) for domain at now; any other value
 *	(a temporary lookup error, MAP_RETRY) is not stored, and drops a
 *	cached answer for that domain. When all size slots are in use the
 *	oldest entry is replaced. Domains longer than DCACHE_MAXKEY bytes
 *	are never cached. A NULL cache or ttl <= 0 caches nothing.
 *
 *	All functions are safe to call from several threads at once.
 * DIAGNOSTICS
 *	None; the cache can only miss.
 */
#ifndef DCACHE_H
#define DCACHE_H

#include <stddef.h>
#include <time.h>

#define DCACHE_TTL	5
#define DCACHE_SIZE	32
#define DCACHE_MAXKEY	255

struct dcache;

struct dcache *dcache_create(int, size_t);
struct dcache *dcache_shared(const char *, int, size_t);
int	 dcache_get(struct dcache *, const char *, time_t);
void	 dcache_put(struct dcache *, const char *, int, time_t);
void	 dcache_free(struct dcache *);

#endif
