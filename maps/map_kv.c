/*
 * NAME
 *	map_kv - a small string-to-string hash table for in-memory maps
 * SYNOPSIS
 *	See map_int.h.
 * DESCRIPTION
 *	Chained hashing (FNV-1a), doubling at load factor 1. Keys and
 *	values are copied. Used by texthash:, inline: and memory:.
 *	map_kv_put() returns 1 when the key already existed (and was
 *	replaced only if replace is set), 0 when it was added.
 * DIAGNOSTICS
 *	None; out of memory is fatal (xalloc).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "map_int.h"
#include "xalloc.h"

struct map_kv_ent {
	struct map_kv_ent *next;
	char	*key;
	char	*value;
};

struct map_kv {
	struct map_kv_ent **slots;
	size_t	 nslots;
	size_t	 count;
};

/* map_kv_hash - FNV-1a */
static size_t
map_kv_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char) *s;
		h *= 1099511628211ULL;
	}
	return ((size_t) h);
}

/* map_kv_new - an empty table */
struct map_kv *
map_kv_new(void)
{
	struct map_kv *t = xcalloc(1, sizeof(*t));

	t->nslots = 16;
	t->slots = xcalloc(t->nslots, sizeof(*t->slots));
	return (t);
}

/* map_kv_grow - double the slot array */
static void
map_kv_grow(struct map_kv *t)
{
	size_t	 n = t->nslots * 2, i;
	struct map_kv_ent **slots = xcalloc(n, sizeof(*slots)), *e, *next;

	for (i = 0; i < t->nslots; i++)
		for (e = t->slots[i]; e; e = next) {
			next = e->next;
			e->next = slots[map_kv_hash(e->key) % n];
			slots[map_kv_hash(e->key) % n] = e;
		}
	free(t->slots);
	t->slots = slots;
	t->nslots = n;
}

/* map_kv_put - add (or replace) an entry */
int
map_kv_put(struct map_kv *t, const char *key, const char *value,
    int replace)
{
	size_t	 h = map_kv_hash(key) % t->nslots;
	struct map_kv_ent *e;

	for (e = t->slots[h]; e; e = e->next)
		if (strcmp(e->key, key) == 0) {
			if (replace) {
				free(e->value);
				e->value = xstrdup(value);
			}
			return (1);
		}
	if (t->count >= t->nslots) {
		map_kv_grow(t);
		h = map_kv_hash(key) % t->nslots;
	}
	e = xmalloc(sizeof(*e));
	e->key = xstrdup(key);
	e->value = xstrdup(value);
	e->next = t->slots[h];
	t->slots[h] = e;
	t->count++;
	return (0);
}

/* map_kv_get - the value for key, or NULL */
const char *
map_kv_get(const struct map_kv *t, const char *key)
{
	struct map_kv_ent *e;

	for (e = t->slots[map_kv_hash(key) % t->nslots]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return (e->value);
	return (NULL);
}

/* map_kv_del - remove an entry; 1 if it was there */
int
map_kv_del(struct map_kv *t, const char *key)
{
	struct map_kv_ent **ep, *e;

	for (ep = &t->slots[map_kv_hash(key) % t->nslots]; (e = *ep);
	    ep = &e->next)
		if (strcmp(e->key, key) == 0) {
			*ep = e->next;
			free(e->key);
			free(e->value);
			free(e);
			t->count--;
			return (1);
		}
	return (0);
}

/* map_kv_count - number of entries */
size_t
map_kv_count(const struct map_kv *t)
{
	return (t->count);
}

/* map_kv_free - release the table (NULL is fine) */
void
map_kv_free(struct map_kv *t)
{
	struct map_kv_ent *e, *next;
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nslots; i++)
		for (e = t->slots[i]; e; e = next) {
			next = e->next;
			free(e->key);
			free(e->value);
			free(e);
		}
	free(t->slots);
	free(t);
}
