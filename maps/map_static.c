/*
 * NAME
 *	map_static - static:, inline: and memory: tables
 * SYNOPSIS
 *	map_static_ops, map_inline_ops, map_memory_ops (map_int.h)
 * DESCRIPTION
 *	static:value answers value for every key (static:{text with
 *	spaces} too). inline:{ key=value, { key = value with spaces } }
 *	is a table written in the spec itself. memory:NAME is an
 *	in-process table filled with map_update(); tables are shared by
 *	NAME within the process and live until it exits, so a test can
 *	fill memory:x through one handle and a daemon's list sees it.
 * DIAGNOSTICS
 *	inline: with unbalanced braces or an item without '=' fails to
 *	open (the map becomes a surrogate that answers MAP_RETRY).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "map_int.h"
#include "str.h"
#include "xalloc.h"

/* map_unbrace - text inside {...}, trimmed; NULL if unbalanced */
static char *
map_unbrace(const char *s)
{
	size_t	 len = strlen(s);
	char	*t;

	if (len < 2 || s[0] != '{' || s[len - 1] != '}')
		return (NULL);
	t = xstrndup(s + 1, len - 2);
	memmove(t, str_trim(t), strlen(str_trim(t)) + 1);
	return (t);
}

/* map_static_open - remember the value */
static int
map_static_open(struct map *m)
{
	if (m->name[0] == '{') {
		if ((m->priv = map_unbrace(m->name)) == NULL) {
			map_set_error(m, "%s: unbalanced {}", m->spec);
			return (-1);
		}
	} else
		m->priv = xstrdup(m->name);
	return (0);
}

/* map_static_lookup - every key is found */
static int
map_static_lookup(struct map *m, const char *key, char **value)
{
	*value = xstrdup(m->priv);
	return (MAP_FOUND);
}

/* map_free_priv - close for types whose priv is one allocation */
static void
map_free_priv(struct map *m)
{
	free(m->priv);
	m->priv = NULL;
}

const struct map_ops map_static_ops = {
	"static", 0, NULL, map_static_open, map_static_lookup, NULL,
	map_free_priv,
};

/* map_inline_item - add one "key=value" item */
static int
map_inline_item(struct map *m, struct map_kv *t, char *item)
{
	char	*eq, *key, *val;

	if (*item == '{') {
		char	*inner = map_unbrace(item);

		if (inner == NULL) {
			map_set_error(m, "%s: unbalanced {} in \"%s\"", m->spec,
			    item);
			return (-1);
		}
		memmove(item, inner, strlen(inner) + 1);
		free(inner);
	}
	if ((eq = strchr(item, '=')) == NULL || eq == item) {
		map_set_error(m, "%s: expected key=value, found \"%s\"",
		    m->spec, item);
		return (-1);
	}
	*eq = 0;
	key = str_trim(item);
	val = str_trim(eq + 1);
	if (!(m->flags & MAP_NO_FOLD))
		str_lower(key);
	if (*key == 0) {
		map_set_error(m, "%s: empty key", m->spec);
		return (-1);
	}
	(void) map_kv_put(t, key, val, 1);
	return (0);
}

/* map_inline_open - parse inline:{ k=v, { k = v v } } */
static int
map_inline_open(struct map *m)
{
	char	*body = map_unbrace(m->name), *cp, *item;
	struct map_kv *t;
	int	 ret = 0;

	if (body == NULL) {
		map_set_error(m, "%s: expected inline:{key=value, ...}",
		    m->spec);
		return (-1);
	}
	if (!str_balanced(body)) {
		map_set_error(m, "%s: unbalanced {}", m->spec);
		free(body);
		return (-1);
	}
	t = map_kv_new();
	for (cp = body; ret == 0 && (item = str_tokq(&cp, STR_LIST_DELIMS));)
		ret = map_inline_item(m, t, item);
	free(body);
	if (ret < 0) {
		map_kv_free(t);
		return (-1);
	}
	m->priv = t;
	return (0);
}

/* map_inline_lookup - fixed-string lookup */
static int
map_inline_lookup(struct map *m, const char *key, char **value)
{
	const char *v = map_kv_get(m->priv, key);

	if (v == NULL)
		return (MAP_NOTFOUND);
	*value = xstrdup(v);
	return (MAP_FOUND);
}

/* map_inline_close - free the table */
static void
map_inline_close(struct map *m)
{
	map_kv_free(m->priv);
	m->priv = NULL;
}

const struct map_ops map_inline_ops = {
	"inline", MAP_OPS_FOLD, NULL, map_inline_open, map_inline_lookup,
	NULL, map_inline_close,
};

/* The process-wide memory: tables, by name. */
struct map_memory {
	struct map_memory *next;
	char	*name;
	struct map_kv *kv;
};
static struct map_memory *map_memory_list;
static pthread_mutex_t map_memory_lock = PTHREAD_MUTEX_INITIALIZER;

/* map_memory_open - find or create the named table */
static int
map_memory_open(struct map *m)
{
	struct map_memory *t;

	pthread_mutex_lock(&map_memory_lock);
	for (t = map_memory_list; t; t = t->next)
		if (strcmp(t->name, m->name) == 0)
			break;
	if (t == NULL) {
		t = xcalloc(1, sizeof(*t));
		t->name = xstrdup(m->name);
		t->kv = map_kv_new();
		t->next = map_memory_list;
		map_memory_list = t;
	}
	pthread_mutex_unlock(&map_memory_lock);
	m->priv = t;
	return (0);
}

/* map_memory_lookup - locked lookup */
static int
map_memory_lookup(struct map *m, const char *key, char **value)
{
	struct map_memory *t = m->priv;
	const char *v;

	pthread_mutex_lock(&map_memory_lock);
	if ((v = map_kv_get(t->kv, key)) != NULL)
		*value = xstrdup(v);
	pthread_mutex_unlock(&map_memory_lock);
	return (v ? MAP_FOUND : MAP_NOTFOUND);
}

/* map_memory_update - locked add or replace */
static int
map_memory_update(struct map *m, const char *key, const char *value)
{
	struct map_memory *t = m->priv;

	pthread_mutex_lock(&map_memory_lock);
	(void) map_kv_put(t->kv, key, value, 1);
	pthread_mutex_unlock(&map_memory_lock);
	return (0);
}

/* map_memory_close - the table stays for other handles */
static void
map_memory_close(struct map *m)
{
	m->priv = NULL;
}

const struct map_ops map_memory_ops = {
	"memory", MAP_OPS_FOLD, NULL, map_memory_open, map_memory_lookup,
	map_memory_update, map_memory_close,
};
