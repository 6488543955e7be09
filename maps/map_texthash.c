/*
 * NAME
 *	map_texthash - texthash: tables read from postmap source text
 * SYNOPSIS
 *	map_texthash_ops (map_int.h)
 * DESCRIPTION
 *	The whole file is read into a hash table at open time, in
 *	postmap's "key whitespace value" format; keys are folded to lower
 *	case unless MAP_NO_FOLD. The first of duplicate keys wins (as
 *	postmap). map.c reopens the table when the file changes.
 * DIAGNOSTICS
 *	A file that cannot be read fails the open (surrogate: MAP_RETRY).
 *	Malformed lines and duplicates are logged with file:line and
 *	skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "map_int.h"
#include "str.h"
#include "xalloc.h"

struct map_texthash_ctx {
	struct map *m;
	struct map_kv *kv;
};

/* map_texthash_add - one entry from the file */
static int
map_texthash_add(const char *file, int line, char *key, char *value,
    void *ctx)
{
	struct map_texthash_ctx *c = ctx;

	if (!(c->m->flags & MAP_NO_FOLD))
		str_lower(key);
	if (map_kv_put(c->kv, key, value, 0))
		log_warn("%s, line %d: duplicate entry: \"%s\", skipped",
		    file, line, log_safe(key));
	return (0);
}

/* map_texthash_open - read the file */
static int
map_texthash_open(struct map *m)
{
	struct map_texthash_ctx c;
	FILE	*fp;

	if ((fp = fopen(m->name, "r")) == NULL) {
		map_set_error(m, "%s: open %s: %s", m->spec, m->name,
		    strerror(errno));
		return (-1);
	}
	c.m = m;
	c.kv = map_kv_new();
	(void) map_text_read(fp, m->name, MAP_TEXT_KV, map_texthash_add, &c);
	if (ferror(fp)) {
		map_set_error(m, "%s: read %s: %s", m->spec, m->name,
		    strerror(errno));
		fclose(fp);
		map_kv_free(c.kv);
		return (-1);
	}
	fclose(fp);
	m->priv = c.kv;
	return (0);
}

/* map_texthash_lookup - fixed-string lookup */
static int
map_texthash_lookup(struct map *m, const char *key, char **value)
{
	const char *v = map_kv_get(m->priv, key);

	if (v == NULL)
		return (MAP_NOTFOUND);
	*value = xstrdup(v);
	return (MAP_FOUND);
}

/* map_texthash_close - free the table */
static void
map_texthash_close(struct map *m)
{
	map_kv_free(m->priv);
	m->priv = NULL;
}

const struct map_ops map_texthash_ops = {
	"texthash", MAP_OPS_FOLD | MAP_OPS_FILE, NULL, map_texthash_open,
	map_texthash_lookup, NULL, map_texthash_close,
};
