/*
 * NAME
 *	map_cache_test - the cache of network map answers: hit, miss, TTL,
 *	errors never stored, the size bound (least recently used goes),
 *	0 disables, cache-only mode, threads; and through map_lookup(): a
 *	mysql: table whose server is down is MAP_RETRY every time (never a
 *	cached answer), and cache-only mode never asks the server.
 *	tests/62-mysql-queries.t counts the SELECTs against a real MariaDB.
 */
#include <pthread.h>
#include <time.h>

#include "conf.h"
#include "map_cache.h"
#include "map_testutil.h"

#define SPEC	"mysql:/x.cf"

/* get - the cached status of key under SPEC (value freed) */
static int
get(const char *key, long ttl, const char *want_value)
{
	char	*v;
	int	 r = map_cache_get(SPEC, key, ttl, &v);

	if (want_value && (v == NULL || strcmp(v, want_value) != 0))
		r = 99;
	free(v);
	return (r);
}

/* hammer - look up and store from several threads */
static void *
hammer(void *arg)
{
	char	 key[32], *v;
	int	 i, bad = 0;

	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "k%d", i % 300);
		if (map_cache_get(SPEC, key, 60000, &v) == MAP_FOUND
		    && strcmp(v, key) != 0)
			bad++;
		free(v);
		map_cache_put(SPEC, key, MAP_FOUND, key);
	}
	return ((void *) (long) bad);
}

/* test_basic - hit, miss, negative answers, errors, TTL */
static void
test_basic(void)
{
	struct map_cache_stats st;

	map_cache_config(200, 100);
	tap_is_int(get("a@example.org", 200, NULL), MAP_CACHE_NONE,
	    "empty cache: miss");
	map_cache_put(SPEC, "a@example.org", MAP_FOUND, "/var/mail/a/");
	map_cache_put(SPEC, "b@example.org", MAP_NOTFOUND, NULL);
	map_cache_put(SPEC, "c@example.org", MAP_RETRY, NULL);
	tap_is_int(get("a@example.org", 200, "/var/mail/a/"), MAP_FOUND,
	    "stored FOUND: hit with its value");
	tap_is_int(get("b@example.org", 200, NULL), MAP_NOTFOUND,
	    "stored NOTFOUND: hit, not found");
	tap_is_int(get("c@example.org", 200, NULL), MAP_CACHE_NONE,
	    "MAP_RETRY is never stored");
	tap_is_int(map_cache_get("mysql:/other.cf", "a@example.org", 200,
	    &(char *){NULL}), MAP_CACHE_NONE,
	    "another map's answer is not this map's");
	map_cache_put(SPEC, "a@example.org", MAP_RETRY, NULL);
	tap_is_int(get("a@example.org", 200, NULL), MAP_CACHE_NONE,
	    "a later error drops the stored answer");
	map_cache_put(SPEC, "a@example.org", MAP_FOUND, "/var/mail/a/");
	usleep(250000);
	tap_is_int(get("a@example.org", 200, NULL), MAP_CACHE_NONE,
	    "past the TTL: miss (asked again)");
	map_cache_stats(&st);
	tap_is_int(st.hits, 2, "stats: 2 hits");
	tap_is_int(st.stores, 3, "stats: 3 stores (not the errors)");
	map_cache_clear();
}

/* test_bound - at most size entries; the least recently used goes */
static void
test_bound(void)
{
	struct map_cache_stats st;
	char	 key[32];
	int	 i;

	map_cache_config(60000, 10);
	for (i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		map_cache_put(SPEC, key, MAP_FOUND, key);
	}
	tap_is_int(get("k0", 60000, "k0"), MAP_FOUND, "k0 used again");
	for (i = 10; i < 15; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		map_cache_put(SPEC, key, MAP_FOUND, key);
	}
	map_cache_stats(&st);
	tap_is_int(st.entries, 10, "size bound: 10 entries after 15 stores");
	tap_is_int(st.evictions, 5, "5 evicted");
	tap_is_int(get("k0", 60000, "k0"), MAP_FOUND,
	    "the recently used k0 stayed");
	tap_is_int(get("k1", 60000, NULL), MAP_CACHE_NONE,
	    "the least recently used k1 went");
	tap_is_int(get("k14", 60000, "k14"), MAP_FOUND, "the newest is in");
	map_cache_config(0, 10);
	map_cache_put(SPEC, "k99", MAP_FOUND, "v");
	map_cache_stats(&st);
	tap_is_int(st.entries, 0, "TTL 0: the cache empties, stores nothing");
	tap_is_int(get("k99", 0, NULL), MAP_CACHE_NONE, "TTL 0: always miss");
}

/* test_threads - concurrent gets and puts see whole values only */
static void
test_threads(void)
{
	pthread_t t[4];
	long	 bad = 0;
	void	*r;
	int	 i;

	map_cache_config(60000, 100);
	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, NULL);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], &r);
		bad += (long) r;
	}
	tap_is_int(bad, 0, "4 threads: every hit had its own key's value");
	map_cache_clear();
}

/* test_mysql_down - map_lookup() on a server that refuses: never cached */
static void
test_mysql_down(const char *dir)
{
	struct map_cache_stats before, after;
	const char *text = "hosts = 127.0.0.1:1\nuser = u\npassword = p\n"
	    "dbname = d\nquery = SELECT 1 FROM t WHERE k='%s'\n"
	    "connect_timeout = 1\n";
	char	*cf = tu_write(dir, "down.cf", text, strlen(text));
	char	*spec = xasprintf("mysql:%s", cf), *v;
	struct map *m;
	int	 r;

	conf_set("lookup_cache_time", "5s");
	conf_set("lookup_cache_size", "100");
	m = map_open(spec, 0);
	map_cache_stats(&before);
	tu_lookup(m, "a@example.org", MAP_RETRY, NULL,
	    "server down: MAP_RETRY");
	tu_lookup(m, "a@example.org", MAP_RETRY, NULL,
	    "server down, asked again: MAP_RETRY, not a cached answer");
	map_cache_stats(&after);
	tap_is_int(after.stores - before.stores, 0, "errors were not stored");
	tap_is_int(after.misses - before.misses, 2,
	    "each lookup went past the cache");

	map_cache_put(spec, "b@example.org", MAP_FOUND, "yes");
	map_cache_only(1);
	r = map_lookup(m, "B@Example.org", &v);
	tap_is_int(r, MAP_FOUND, "cache-only: a cached key is answered "
	    "(folded like the server's key)");
	tap_ok(v && strcmp(v, "yes") == 0, "cache-only: with its value");
	free(v);
	tap_is_int(map_cache_missed(), 0, "cache-only: nothing missed yet");
	r = map_lookup(m, "c@example.org", &v);
	tap_is_int(r, MAP_RETRY, "cache-only: an uncached key is MAP_RETRY");
	tap_ok(map_cache_missed(), "cache-only: the miss is flagged");
	tap_ok(map_error(m) && strstr(map_error(m), "lookup cache"),
	    "cache-only: the error says why (%s)", map_error(m));
	map_cache_only(0);
	tap_is_int(map_cache_missed(), 0, "leaving cache-only clears the flag");

	conf_set("lookup_cache_time", "0");
	map_close(m);
	m = map_open(spec, 0);
	map_cache_only(1);
	r = map_lookup(m, "b@example.org", &v);
	tap_ok(r == MAP_RETRY && map_cache_missed(),
	    "lookup_cache_time = 0: nothing answered from the cache");
	map_cache_only(0);
	map_close(m);
	free(spec);
	free(cf);
}

int
main(void)
{
	char	*dir = tu_dir();

	log_init("map_cache_test", 0);
	test_basic();
	test_bound();
	test_threads();
	test_mysql_down(dir);
	tu_rmdir(dir);
	free(dir);
	return (tap_done());
}
