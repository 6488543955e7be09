/*
 * NAME
 *	map_cache - the process's short-lived cache of network map answers
 * SYNOPSIS
 *	#include "map_cache.h"
 *
 *	void	map_cache_config(long ttl_ms, size_t size);
 *	int	map_cache_get(const char *spec, const char *key, long ttl_ms,
 *	    char **value);
 *	void	map_cache_put(const char *spec, const char *key, int status,
 *	    const char *value);
 *	void	map_cache_stats(struct map_cache_stats *st);
 *	void	map_cache_clear(void);
 *	void	map_cache_only(int on);
 *	int	map_cache_missed(void);
 * DESCRIPTION
 *	map_lookup() asks this cache before it asks a network table
 *	(mysql:) and stores the answer after: MAP_FOUND with its value or
 *	MAP_NOTFOUND, keyed by the map's spec and the (folded) key, so the
 *	worker threads of a daemon, each with its own handle and database
 *	connection, share answers. An answer is served for ttl_ms
 *	milliseconds after it was stored (lookup_cache_time), then asked
 *	again: a row added to or removed from a table takes effect in a
 *	running process within that time. MAP_RETRY (a database that is
 *	down, a query that failed) is never stored: the next lookup asks
 *	the server again, and a stored answer is never served past its
 *	time, so an outage is a temporary error once the answers in hand
 *	have expired.
 *
 *	map_cache_config() sets the bound on entries (lookup_cache_size;
 *	the least recently used entry makes room) and the TTL the daemon
 *	configured; map_open() calls it with the configuration's values.
 *	A ttl_ms or size of 0 caches nothing. Entries longer than
 *	MAP_CACHE_MAXLEN bytes (spec, key and value together) are not
 *	stored.
 *
 *	map_cache_get() returns MAP_FOUND (value set, caller frees) or
 *	MAP_NOTFOUND for an answer stored less than ttl_ms ago, and
 *	MAP_CACHE_NONE otherwise (an expired entry is dropped).
 *	map_cache_put() stores MAP_FOUND/MAP_NOTFOUND answers; any other
 *	status drops the entry. map_cache_stats() counts hits, misses,
 *	stores and evictions since the start; map_cache_clear() drops
 *	every entry (tests).
 *
 *	map_cache_only(1) puts the calling thread in cache-only mode:
 *	map_lookup() of a network table that the cache cannot answer
 *	returns MAP_RETRY without asking the server and sets the thread's
 *	missed flag, which map_cache_missed() returns (and map_cache_only()
 *	clears). A caller uses it to try work inline that would otherwise
 *	go to a worker thread, and hands it to the worker when the cache
 *	could not answer everything.
 *
 *	All functions are safe to call from several threads at once (one
 *	mutex: a hit costs a hash, a compare and a value copy under it).
 * DIAGNOSTICS
 *	None: the cache can only miss.
 */
#ifndef MAP_CACHE_H
#define MAP_CACHE_H

#include <stddef.h>

#define MAP_CACHE_NONE		(-2)
#define MAP_CACHE_MAXLEN	8192

struct map_cache_stats {
	unsigned long hits, misses, stores, evictions;
	size_t	 entries;
};

void	 map_cache_config(long, size_t);
int	 map_cache_get(const char *, const char *, long, char **);
void	 map_cache_put(const char *, const char *, int, const char *);
void	 map_cache_stats(struct map_cache_stats *);
void	 map_cache_clear(void);
void	 map_cache_only(int);
int	 map_cache_missed(void);
int	 map_cache_only_active(void);
void	 map_cache_set_missed(void);

#endif
