/*
 * NAME
 *	dcache_test - domain-class cache: TTL expiry, errors never cached
 * DESCRIPTION
 *	Every step is a check: a put is followed at once by a get at the
 *	same time, which must give back the stored answer (0 or 1) or, for
 *	a value that must not be stored or a key that is too long, a miss.
 *	Four threads then share one cache with more keys than slots; each
 *	key has one fixed answer, so any hit with another answer, a lost
 *	or duplicated slot, or no hit at all fails.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcache.h"
#include "tap.h"

/*
 * Steps against one cache of 4 entries, TTL 5: op 'p' puts val at t and
 * checks that a get at t then gives val (a miss, -1, for a value other
 * than 0 or 1); 'g' expects want from a get at t.
 */
static const struct {
	const char *name;
	char	 op;
	const char *key;
	int	 val;
	time_t	 t;
	int	 want;
} vec[] = {
	{"empty cache misses", 'g', "example.org", 0, 100, -1},
	{"store a match", 'p', "example.org", 1, 100, 0},
	{"fresh match", 'g', "example.org", 0, 100, 1},
	{"case-insensitive", 'g', "EXAMPLE.Org", 0, 101, 1},
	{"still fresh at ttl-1", 'g', "example.org", 0, 104, 1},
	{"expired at ttl", 'g', "example.org", 0, 105, -1},
	{"clock stepped back: stale", 'g', "example.org", 0, 99, -1},
	{"store a non-match", 'p', "other.example", 0, 200, 0},
	{"non-match is cached", 'g', "other.example", 0, 201, 0},
	{"RETRY (-1) not stored", 'p', "retry.example", -1, 200, 0},
	{"RETRY leaves a miss", 'g', "retry.example", 0, 200, -1},
	{"RETRY (2) not stored", 'p', "retry.example", 2, 200, 0},
	{"odd value leaves a miss", 'g', "retry.example", 0, 200, -1},
	{"RETRY drops a cached answer", 'p', "other.example", -1, 202, 0},
	{"dropped answer misses", 'g', "other.example", 0, 202, -1},
	{"empty key stored", 'p', "", 1, 300, 0},
	{"empty key", 'g', "", 0, 300, 1},
	{"8-bit key stored", 'p', "\xc3\xa9t\xc3\xa9.example", 0, 300, 0},
	{"8-bit key", 'g', "\xc3\xa9t\xc3\xa9.example", 0, 300, 0},
	{"8-bit key differs from ASCII", 'g', "ete.example", 0, 300, -1},
	{"bare LF key stored", 'p', "a\nb", 1, 300, 0},
	{"bare LF key", 'g', "a\nb", 0, 300, 1},
	{"unbalanced <> key stored", 'p', "<example.org", 0, 300, 0},
	{"unbalanced <> key is its own", 'g', "example.org", 0, 300, -1},
	{"refresh extends life", 'p', "", 1, 303, 0},
	{"refreshed entry", 'g', "", 0, 307, 1},
	/* 4 slots: "", 8-bit, a\nb, <example.org; the oldest goes */
	{"full cache replaces oldest", 'p', "new.example", 1, 310, 0},
	{"new entry present", 'g', "new.example", 0, 310, 1},
	{"refreshed entry survives", 'g', "", 0, 307, 1},
};

#define HAMMER_KEYS	50	/* more than DCACHE_SIZE: constant eviction */

/* hammer_want - the one answer key number k ever gets */
static int
hammer_want(int k)
{
	return ((k * 7 / 3) & 1);
}

struct hammer {
	struct dcache *dc;
	int	 seed;
	int	 hits;
	int	 wrong;
};

/* hammer - get, put on a miss; count hits and hits with a wrong answer */
static void *
hammer(void *arg)
{
	struct hammer *h = arg;
	char	 key[32];
	int	 i, k, g;

	for (i = 0; i < 20000; i++) {
		k = (i * 13 + h->seed) % HAMMER_KEYS;
		snprintf(key, sizeof(key), "d%d.example", k);
		if ((g = dcache_get(h->dc, key, 1000)) < 0)
			dcache_put(h->dc, key, hammer_want(k), 1000);
		else if (g == hammer_want(k))
			h->hits++;
		else
			h->wrong++;
	}
	return (NULL);
}

int
main(void)
{
	struct dcache *dc = dcache_create(5, 4);
	pthread_t t[4];
	struct hammer h[4];
	char	*big, key[32], name[80];
	size_t	 i;
	int	 g, k, hits = 0, wrong = 0, present = 0, bad = 0;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		if (vec[i].op == 'p') {
			dcache_put(dc, vec[i].key, vec[i].val, vec[i].t);
			tap_is_int(dcache_get(dc, vec[i].key, vec[i].t),
			    vec[i].val == 0 || vec[i].val == 1 ? vec[i].val :
			    -1, vec[i].name);
		} else
			tap_is_int(dcache_get(dc, vec[i].key, vec[i].t),
			    vec[i].want, vec[i].name);
	}
	/* the 8-bit entry was the oldest of the four */
	tap_is_int(dcache_get(dc, "\xc3\xa9t\xc3\xa9.example", 310), -1,
	    "oldest entry evicted");

	big = malloc(DCACHE_MAXKEY + 2);
	memset(big, 'a', DCACHE_MAXKEY + 1);
	big[DCACHE_MAXKEY + 1] = 0;
	dcache_put(dc, big, 1, 400);
	tap_is_int(dcache_get(dc, big, 400), -1, "overlong key not cached");
	big[DCACHE_MAXKEY] = 0;
	dcache_put(dc, big, 1, 400);
	tap_is_int(dcache_get(dc, big, 400), 1, "longest key cached");
	free(big);
	tap_is_int(dcache_get(dc, NULL, 400), -1, "NULL key misses");
	dcache_put(dc, NULL, 1, 400);
	dcache_free(dc);

	tap_is_int(dcache_get(NULL, "example.org", 1), -1, "NULL cache misses");
	dcache_put(NULL, "example.org", 1, 1);
	dc = dcache_create(0, 4);
	dcache_put(dc, "example.org", 1, 1);
	tap_is_int(dcache_get(dc, "example.org", 1), -1, "ttl 0 caches nothing");
	dcache_free(dc);

	/* shared: same id, same answers; a different id is separate */
	{
		struct dcache *a = dcache_shared("x:0:mysql:a.cf", 5, 4);
		struct dcache *b = dcache_shared("x:0:mysql:a.cf", 5, 4);
		struct dcache *c = dcache_shared("x:0:mysql:b.cf", 5, 4);

		tap_ok(a == b, "same id: one shared cache");
		tap_ok(a != c, "other id: another cache");
		dcache_put(a, "example.org", 1, 10);
		tap_is_int(dcache_get(b, "example.org", 11), 1,
		    "answer seen through the other handle");
		tap_is_int(dcache_get(c, "example.org", 11), -1,
		    "not seen in another list's cache");
		dcache_free(a);
		tap_is_int(dcache_get(b, "example.org", 12), 1,
		    "still there after one release");
		dcache_free(b);
		a = dcache_shared("x:0:mysql:a.cf", 5, 4);
		tap_is_int(dcache_get(a, "example.org", 12), -1,
		    "last release frees: a reload starts empty");
		dcache_free(a);
		dcache_free(c);
	}

	dc = dcache_shared("threads", DCACHE_TTL, DCACHE_SIZE);
	for (i = 0; i < 4; i++) {
		h[i].dc = dc;
		h[i].seed = (int)i * 11;
		h[i].hits = h[i].wrong = 0;
		pthread_create(&t[i], NULL, hammer, &h[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		hits += h[i].hits;
		wrong += h[i].wrong;
	}
	tap_is_int(wrong, 0, "threads: no hit ever gives another key's answer");
	snprintf(name, sizeof(name), "threads: the shared cache answers (%d "
	    "hits)", hits);
	tap_ok(hits > 0, "%s", name);
	for (k = 0; k < HAMMER_KEYS; k++) {
		snprintf(key, sizeof(key), "d%d.example", k);
		if ((g = dcache_get(dc, key, 1000)) >= 0) {
			present++;
			bad += g != hammer_want(k);
		}
	}
	tap_is_int(bad, 0, "threads: every key left holds its own answer");
	tap_is_int(present, DCACHE_SIZE,
	    "threads: every slot holds a distinct key (none lost or doubled)");
	dcache_free(dc);
	return (tap_done());
}
