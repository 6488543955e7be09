/*
 * NAME
 *	map_cache - the process's short-lived cache of network map answers
 * SYNOPSIS
 *	See map_cache.h.
 * DESCRIPTION
 *	One hash table (chained, power-of-two buckets, grown with the
 *	bound) and one doubly linked list in recency order, both under
 *	one mutex. An entry's key is "spec NUL key"; its age is measured
 *	on CLOCK_MONOTONIC (a wall-clock step neither extends nor cuts an
 *	answer's life). The bound and TTL come from the last
 *	map_cache_config(); each lookup passes the TTL of its map, so a
 *	map opened after a reload with another TTL uses its own.
 * DIAGNOSTICS
 *	None.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "map.h"
#include "map_cache.h"
#include "xalloc.h"

struct map_cache_ent {
	struct map_cache_ent *hnext;		/* bucket chain */
	struct map_cache_ent *prev, *next;	/* recency, newest first */
	uint32_t hash;
	size_t	 klen;				/* spec NUL key, with NULs */
	char	*key;
	int	 status;
	char	*value;
	long	 stored;			/* ms, CLOCK_MONOTONIC */
};

static pthread_mutex_t map_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct map_cache_ent **map_cache_tab;
static size_t map_cache_nbuckets;
static struct map_cache_ent *map_cache_newest, *map_cache_oldest;
static size_t map_cache_max;
static struct map_cache_stats map_cache_st;

static __thread int map_cache_only_flag;
static __thread int map_cache_missed_flag;

/* map_cache_now - milliseconds on the monotonic clock */
static long
map_cache_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* map_cache_key - "spec NUL key NUL" and its FNV-1a hash */
static char *
map_cache_key(const char *spec, const char *key, size_t *len,
    uint32_t *hash)
{
	size_t	 sl = strlen(spec), kl = strlen(key), i;
	char	*k = xmalloc(sl + kl + 2);
	uint32_t h = 2166136261u;

	memcpy(k, spec, sl + 1);
	memcpy(k + sl + 1, key, kl + 1);
	*len = sl + kl + 2;
	for (i = 0; i < *len; i++)
		h = (h ^ (unsigned char) k[i]) * 16777619u;
	*hash = h;
	return (k);
}

/* map_cache_unlink - take e out of its chain and the recency list */
static void
map_cache_unlink(struct map_cache_ent *e)
{
	struct map_cache_ent **pp;

	for (pp = &map_cache_tab[e->hash & (map_cache_nbuckets - 1)];
	    *pp != e; pp = &(*pp)->hnext)
		;
	*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		map_cache_newest = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		map_cache_oldest = e->prev;
	map_cache_st.entries--;
}

/* map_cache_drop - unlink and free */
static void
map_cache_drop(struct map_cache_ent *e)
{
	map_cache_unlink(e);
	free(e->key);
	free(e->value);
	free(e);
}

/* map_cache_front - make e the most recently used */
static void
map_cache_front(struct map_cache_ent *e)
{
	if (map_cache_newest == e)
		return;
	e->prev->next = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		map_cache_oldest = e->prev;
	e->prev = NULL;
	e->next = map_cache_newest;
	map_cache_newest->prev = e;
	map_cache_newest = e;
}

/* map_cache_find - the entry for key, or NULL (lock held) */
static struct map_cache_ent *
map_cache_find(const char *k, size_t len, uint32_t hash)
{
	struct map_cache_ent *e;

	if (map_cache_tab == NULL)
		return (NULL);
	for (e = map_cache_tab[hash & (map_cache_nbuckets - 1)]; e;
	    e = e->hnext)
		if (e->hash == hash && e->klen == len
		    && memcmp(e->key, k, len) == 0)
			return (e);
	return (NULL);
}

/* map_cache_resize - buckets for the bound (lock held) */
static void
map_cache_resize(size_t want)
{
	struct map_cache_ent **tab, *e;
	size_t	 n = 16;

	while (n < want && n < ((size_t) 1 << 24))
		n <<= 1;
	if (n <= map_cache_nbuckets)
		return;
	tab = xcalloc(n, sizeof(*tab));
	for (e = map_cache_newest; e; e = e->next) {
		e->hnext = tab[e->hash & (n - 1)];
		tab[e->hash & (n - 1)] = e;
	}
	free(map_cache_tab);
	map_cache_tab = tab;
	map_cache_nbuckets = n;
}

/* map_cache_config - set the bound (entries); 0 empties the cache */
void
map_cache_config(long ttl_ms, size_t size)
{
	pthread_mutex_lock(&map_cache_lock);
	map_cache_max = ttl_ms > 0 ? size : 0;
	while (map_cache_st.entries > map_cache_max)
		map_cache_drop(map_cache_oldest);
	if (map_cache_max)
		map_cache_resize(map_cache_max);
	pthread_mutex_unlock(&map_cache_lock);
}

/* map_cache_get - a fresh answer, or MAP_CACHE_NONE */
int
map_cache_get(const char *spec, const char *key, long ttl_ms, char **value)
{
	struct map_cache_ent *e;
	uint32_t hash;
	size_t	 len;
	char	*k;
	int	 ret = MAP_CACHE_NONE;
	long	 now;

	*value = NULL;
	if (ttl_ms <= 0)
		return (MAP_CACHE_NONE);
	k = map_cache_key(spec, key, &len, &hash);
	now = map_cache_now();
	pthread_mutex_lock(&map_cache_lock);
	if ((e = map_cache_find(k, len, hash)) != NULL) {
		if (now - e->stored >= ttl_ms || now < e->stored) {
			map_cache_drop(e);
		} else {
			map_cache_front(e);
			ret = e->status;
			if (ret == MAP_FOUND)
				*value = xstrdup(e->value);
		}
	}
	if (ret == MAP_CACHE_NONE)
		map_cache_st.misses++;
	else
		map_cache_st.hits++;
	pthread_mutex_unlock(&map_cache_lock);
	free(k);
	return (ret);
}

/* map_cache_put - store a FOUND/NOTFOUND answer; drop on anything else */
void
map_cache_put(const char *spec, const char *key, int status,
    const char *value)
{
	struct map_cache_ent *e;
	uint32_t hash;
	size_t	 len;
	char	*k;
	int	 keep;

	k = map_cache_key(spec, key, &len, &hash);
	keep = (status == MAP_FOUND && value != NULL
	    && len + strlen(value) <= MAP_CACHE_MAXLEN)
	    || (status == MAP_NOTFOUND && len <= MAP_CACHE_MAXLEN);
	pthread_mutex_lock(&map_cache_lock);
	if ((e = map_cache_find(k, len, hash)) != NULL)
		map_cache_drop(e);
	if (!keep || map_cache_max == 0) {
		pthread_mutex_unlock(&map_cache_lock);
		free(k);
		return;
	}
	while (map_cache_st.entries >= map_cache_max) {
		map_cache_drop(map_cache_oldest);
		map_cache_st.evictions++;
	}
	e = xcalloc(1, sizeof(*e));
	e->hash = hash;
	e->klen = len;
	e->key = k;
	e->status = status;
	e->value = status == MAP_FOUND ? xstrdup(value) : NULL;
	e->stored = map_cache_now();
	e->hnext = map_cache_tab[hash & (map_cache_nbuckets - 1)];
	map_cache_tab[hash & (map_cache_nbuckets - 1)] = e;
	e->next = map_cache_newest;
	if (map_cache_newest)
		map_cache_newest->prev = e;
	else
		map_cache_oldest = e;
	map_cache_newest = e;
	map_cache_st.entries++;
	map_cache_st.stores++;
	pthread_mutex_unlock(&map_cache_lock);
}

/* map_cache_stats - counters since the start */
void
map_cache_stats(struct map_cache_stats *st)
{
	pthread_mutex_lock(&map_cache_lock);
	*st = map_cache_st;
	pthread_mutex_unlock(&map_cache_lock);
}

/* map_cache_clear - drop every entry */
void
map_cache_clear(void)
{
	pthread_mutex_lock(&map_cache_lock);
	while (map_cache_oldest)
		map_cache_drop(map_cache_oldest);
	pthread_mutex_unlock(&map_cache_lock);
}

/* map_cache_only - enter (1) or leave (0) cache-only mode; clears missed */
void
map_cache_only(int on)
{
	map_cache_only_flag = on;
	map_cache_missed_flag = 0;
}

/* map_cache_only_active - is this thread in cache-only mode? */
int
map_cache_only_active(void)
{
	return (map_cache_only_flag);
}

/* map_cache_set_missed - a lookup in cache-only mode could not be answered */
void
map_cache_set_missed(void)
{
	map_cache_missed_flag = 1;
}

/* map_cache_missed - did a lookup miss since map_cache_only()? */
int
map_cache_missed(void)
{
	return (map_cache_missed_flag);
}
