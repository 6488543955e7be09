/*
 * NAME
 *	map - lookup tables: type registry, surrogates, lists, addresses
 * SYNOPSIS
 *	See map.h.
 * DESCRIPTION
 *	map_open() splits "type:name", finds the type in a registry and
 *	calls its open function. When that fails (unknown type, missing
 *	file, bad .cf file) the caller still gets a map: a surrogate that
 *	answers every lookup with MAP_RETRY and the open error, and that
 *	tries to open the real map again at most once a second, so a map
 *	built after the daemon started is picked up without a restart.
 *
 *	File-based types are reopened when their file is replaced
 *	(inode, size or mtime changed; checked at most once a second).
 *	If the new file cannot be opened the old contents keep serving.
 *
 *	maplist_lookup_addr() implements Postfix's mail_addr_find() order
 *	(see map.h). The recipient_delimiter is read from conf when the
 *	list is opened (so open lists from a thread that may read conf).
 * DIAGNOSTICS
 *	Lookups never log; errors are returned through map_error().
 *	Open failures are logged by the caller (postern check, daemons)
 *	from map_error().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "map.h"
#include "map_cache.h"
#include "map_int.h"
#include "str.h"
#include "xalloc.h"

static const struct map_ops *map_types[] = {
	&map_lmdb_ops, &map_hash_ops, &map_btree_ops, &map_texthash_ops,
	&map_cidr_ops, &map_regexp_ops, &map_pcre_ops, &map_static_ops,
	&map_inline_ops, &map_memory_ops, &map_mysql_ops, &map_unix_ops,
	NULL,
};

/* map_ops_find - look up a type by name */
const struct map_ops *
map_ops_find(const char *type)
{
	int	 i;

	for (i = 0; map_types[i]; i++)
		if (strcmp(map_types[i]->type, type) == 0)
			return (map_types[i]);
	return (NULL);
}

/* map_set_error - record why the last operation failed */
void
map_set_error(struct map *m, const char *fmt, ...)
{
	va_list	 ap;
	struct buf *b = buf_new(128);

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
	free(m->error);
	m->error = buf_steal(b);
}

/* map_file_stat - remember the identity of a file-based map's file */
static int
map_file_stat(struct map *m, struct stat *st)
{
	char	*path;
	int	 ret;

	path = xasprintf("%s%s", m->name, m->ops->suffix ? m->ops->suffix
	    : "");
	ret = stat(path, st);
	free(path);
	return (ret);
}

/* map_file_same - does st describe the file we have open? */
static int
map_file_same(const struct map *m, const struct stat *st)
{
	return (st->st_dev == m->dev && st->st_ino == m->ino
	    && st->st_size == m->size
	    && st->st_mtim.tv_sec == m->mtime.tv_sec
	    && st->st_mtim.tv_nsec == m->mtime.tv_nsec);
}

/* map_file_keep - record st as the identity of the open file */
static void
map_file_keep(struct map *m, const struct stat *st)
{
	m->dev = st->st_dev;
	m->ino = st->st_ino;
	m->size = st->st_size;
	m->mtime = st->st_mtim;
}

/* map_try_open - open the backend; on failure keep the reason */
static int
map_try_open(struct map *m)
{
	struct stat st;
	int	 have_st = 0;

	if ((m->ops->flags & MAP_OPS_FILE) && map_file_stat(m, &st) == 0)
		have_st = 1;
	free(m->error);
	m->error = NULL;
	if (m->ops->open(m) < 0) {
		if (m->error == NULL)
			m->error = xasprintf("%s: open failed", m->spec);
		free(m->open_error);
		m->open_error = xstrdup(m->error);
		return (-1);
	}
	free(m->open_error);
	m->open_error = NULL;
	if (have_st)
		map_file_keep(m, &st);
	return (0);
}

/* map_cache_setup - a network map's TTL; the process's cache bound */
static void
map_cache_setup(struct map *m)
{
	long	 ttl = conf_time("lookup_cache_time");
	long	 size = conf_int("lookup_cache_size");

	m->cache_ttl = ttl > 0 && size > 0 ? ttl * 1000 : 0;
	map_cache_config(m->cache_ttl, size > 0 ? (size_t) size : 0);
}

/* map_open - open "type:name"; a surrogate if that fails */
struct map *
map_open(const char *spec, int flags)
{
	struct map *m = xcalloc(1, sizeof(*m));
	const char *colon = strchr(spec, ':');
	char	*type;

	m->spec = xstrdup(spec);
	m->flags = flags;
	/* proxy:type:name is type:name here: no proxymap process. */
	while (strncmp(spec, "proxy:", 6) == 0)
		colon = strchr(spec += 6, ':');
	m->checked = time(NULL);
	if (colon == NULL || colon == spec) {
		m->name = xstrdup(spec);
		m->open_error = xasprintf("%s: need a type:name map spec",
		    spec);
		m->error = xstrdup(m->open_error);
		return (m);
	}
	type = xstrndup(spec, colon - spec);
	m->name = xstrdup(colon + 1);
	m->ops = map_ops_find(type);
	if (m->ops && (m->ops->flags & MAP_OPS_NET))
		map_cache_setup(m);
	if (m->ops == NULL) {
		m->open_error = xasprintf("%s: unsupported map type \"%s\"",
		    spec, type);
		m->error = xstrdup(m->open_error);
	} else
		(void) map_try_open(m);
	free(type);
	return (m);
}

/*
 * map_spec_local - spec (its first len bytes) names a table that this
 * process reads from a local file or from memory: no server, no NSS
 */
int
map_spec_local(const char *spec, size_t len)
{
	static const char *const types[] = {
		"hash:", "lmdb:", "btree:", "texthash:", "cidr:", "regexp:",
		"pcre:", "inline:", "static:", "memory:", NULL,
	};
	size_t	 i, n;

	/* proxy:type:name is opened as type:name (map_open) */
	if (len > 6 && strncmp(spec, "proxy:", 6) == 0) {
		spec += 6;
		len -= 6;
	}
	for (i = 0; types[i]; i++)
		if (len > (n = strlen(types[i]))
		    && strncmp(spec, types[i], n) == 0)
			return (1);
	return (0);
}

/* map_refresh - reopen a surrogate or a replaced file (once a second) */
static void
map_refresh(struct map *m)
{
	struct stat st;
	void	*old;
	time_t	 now = time(NULL);

	if (m->ops == NULL || now == m->checked)
		return;
	m->checked = now;
	if (m->open_error) {
		(void) map_try_open(m);
		return;
	}
	if (!(m->ops->flags & MAP_OPS_FILE) || map_file_stat(m, &st) < 0
	    || map_file_same(m, &st))
		return;
	old = m->priv;
	m->priv = NULL;
	if (m->ops->open(m) < 0) {
		/* Keep serving the old contents; try again next second. */
		log_warn("%s: cannot reopen changed map: %s", m->spec,
		    m->error ? m->error : "unknown error");
		m->priv = old;
		return;
	}
	map_file_keep(m, &st);
	{
		void	*fresh = m->priv;

		m->priv = old;
		m->ops->close(m);
		m->priv = fresh;
	}
}

/* map_fold - ASCII lower-case copy of a key (8-bit bytes unchanged) */
static char *
map_fold(const char *key)
{
	char	*k = xstrdup(key), *cp;

	for (cp = k; *cp; cp++)
		if (*cp >= 'A' && *cp <= 'Z')
			*cp += 'a' - 'A';
	return (k);
}

/* map_fold_key - the key as the type looks it up */
static char *
map_fold_key(const struct map *m, const char *key)
{
	if ((m->ops->flags & MAP_OPS_FOLD) && !(m->flags & MAP_NO_FOLD))
		return (map_fold(key));
	return (xstrdup(key));
}

/* map_lookup_cached - a network map: the cache, then the server */
static int
map_lookup_cached(struct map *m, const char *key, char **value)
{
	char	*k = map_fold_key(m, key);
	int	 ret;

	ret = map_cache_get(m->spec, k, m->cache_ttl, value);
	if (ret == MAP_CACHE_NONE && map_cache_only_active()) {
		/* The caller will ask again from a thread that may block. */
		map_cache_set_missed();
		free(k);
		m->error = xasprintf("%s: not in the lookup cache", m->spec);
		return (MAP_RETRY);
	}
	if (ret != MAP_CACHE_NONE) {
		free(k);
		return (ret);
	}
	map_refresh(m);
	if (m->open_error) {
		free(k);
		m->error = xstrdup(m->open_error);
		return (MAP_RETRY);
	}
	ret = m->ops->lookup(m, k, value);
	if (ret == MAP_RETRY && m->error == NULL)
		m->error = xasprintf("%s: lookup failed", m->spec);
	if (ret != MAP_FOUND) {
		free(*value);
		*value = NULL;
	}
	if (m->cache_ttl > 0)
		map_cache_put(m->spec, k, ret, *value);
	free(k);
	return (ret);
}

/* map_lookup - tri-state lookup */
int
map_lookup(struct map *m, const char *key, char **value)
{
	char	*k;
	int	 ret;

	*value = NULL;
	if (m->ops && (m->ops->flags & MAP_OPS_NET)) {
		free(m->error);
		m->error = NULL;
		return (map_lookup_cached(m, key, value));
	}
	map_refresh(m);
	free(m->error);
	m->error = NULL;
	if (m->ops == NULL || m->open_error) {
		m->error = xstrdup(m->open_error);
		return (MAP_RETRY);
	}
	k = map_fold_key(m, key);
	ret = m->ops->lookup(m, k, value);
	free(k);
	if (ret == MAP_RETRY && m->error == NULL)
		m->error = xasprintf("%s: lookup failed", m->spec);
	if (ret != MAP_FOUND) {
		free(*value);
		*value = NULL;
	}
	return (ret);
}

/* map_update - add or replace an entry (types that support it) */
int
map_update(struct map *m, const char *key, const char *value)
{
	char	*k;
	int	 ret;

	free(m->error);
	m->error = NULL;
	if (m->ops == NULL || m->open_error || m->ops->update == NULL) {
		m->error = xasprintf("%s: map does not support updates",
		    m->spec);
		return (-1);
	}
	if ((m->ops->flags & MAP_OPS_FOLD) && !(m->flags & MAP_NO_FOLD))
		k = map_fold(key);
	else
		k = xstrdup(key);
	ret = m->ops->update(m, k, value);
	free(k);
	return (ret);
}

/* map_error - why the last lookup was MAP_RETRY (or open failed) */
const char *
map_error(const struct map *m)
{
	if (m->error)
		return (m->error);
	return (m->open_error);
}

/* map_spec - the spec the map was opened with */
const char *
map_spec(const struct map *m)
{
	return (m->spec);
}

/* map_close - release a map (NULL is fine) */
void
map_close(struct map *m)
{
	if (m == NULL)
		return;
	if (m->ops && m->open_error == NULL && m->ops->close)
		m->ops->close(m);
	free(m->spec);
	free(m->name);
	free(m->error);
	free(m->open_error);
	free(m);
}

struct maplist {
	struct map **maps;
	size_t	 count;
	char	*delim;			/* recipient_delimiter */
	const struct map *failed;	/* the map of the last RETRY */
};

/* maplist_open - open a comma/whitespace-separated list of maps */
struct maplist *
maplist_open(const char *specs, int flags)
{
	struct maplist *l = xcalloc(1, sizeof(*l));
	struct strv *v = strv_splitq(specs, STR_LIST_DELIMS);
	size_t	 i;

	l->maps = xcalloc(v->argc + 1, sizeof(*l->maps));
	for (i = 0; i < v->argc; i++)
		l->maps[l->count++] = map_open(v->argv[i], flags);
	strv_free(v);
	l->delim = xstrdup(conf_str("recipient_delimiter"));
	return (l);
}

/* maplist_lookup - first FOUND wins; a RETRY is returned at once */
int
maplist_lookup(struct maplist *l, const char *key, char **value)
{
	size_t	 i;
	int	 ret;

	*value = NULL;
	l->failed = NULL;
	for (i = 0; i < l->count; i++) {
		ret = map_lookup(l->maps[i], key, value);
		if (ret == MAP_RETRY)
			l->failed = l->maps[i];
		if (ret != MAP_NOTFOUND)
			return (ret);
	}
	return (MAP_NOTFOUND);
}

/* maplist_lookup_pattern - one key, pattern maps only or all maps */
static int
maplist_lookup_some(struct maplist *l, const char *key, int patterns,
    char **value)
{
	size_t	 i;
	int	 ret;

	for (i = 0; i < l->count; i++) {
		struct map *m = l->maps[i];
		int	 is_pat = m->ops && (m->ops->flags & MAP_OPS_PATTERN);

		if (patterns == 0 && is_pat)
			continue;
		ret = map_lookup(m, key, value);
		if (ret == MAP_RETRY)
			l->failed = m;
		if (ret != MAP_NOTFOUND)
			return (ret);
	}
	return (MAP_NOTFOUND);
}

/* maplist_append_ext - put "+ext" back in front of each result's '@' */
static char *
maplist_append_ext(const char *result, const char *ext)
{
	struct buf *b = buf_new(strlen(result) + 32);
	struct strv *v = strv_split(result, ",");
	size_t	 i;

	for (i = 0; i < v->argc; i++) {
		char	*item = str_trim(v->argv[i]), *at;

		if (i > 0)
			buf_puts(b, ", ");
		if ((at = strrchr(item, '@')) != NULL) {
			buf_append(b, item, at - item);
			buf_puts(b, ext);
			buf_puts(b, at);
		} else {
			buf_puts(b, item);
			buf_puts(b, ext);
		}
	}
	strv_free(v);
	return (buf_steal(b));
}

/* maplist_lookup_addr - Postfix's address lookup order */
int
maplist_lookup_addr(struct maplist *l, const char *addr, int flags,
    char **value)
{
	const char *at = strrchr(addr, '@');
	char	*user, *ext = NULL, *cp, *key;
	const char *domain = at ? at : NULL;
	int	 ret, stripped = 0;

	*value = NULL;
	l->failed = NULL;
	/* 1. The full address, in every map (regexp/pcre only see this). */
	if ((ret = maplist_lookup_some(l, addr, 1, value)) != MAP_NOTFOUND)
		return (ret);
	user = at ? xstrndup(addr, at - addr) : xstrdup(addr);
	if (*l->delim && *user && (cp = strpbrk(user + 1, l->delim))
	    != NULL) {
		ext = xstrdup(cp);
		*cp = 0;
	}
	ret = MAP_NOTFOUND;
	/* 2. user@domain without the extension. */
	if (ext && domain) {
		key = xasprintf("%s%s", user, domain);
		ret = maplist_lookup_some(l, key, 0, value);
		stripped = 1;
		free(key);
	}
	/* 3. user+ext, then user: only for local domains (caller says). */
	if (ret == MAP_NOTFOUND && (flags & MAP_ADDR_USER) && domain) {
		key = xasprintf("%s%s", user, ext ? ext : "");
		ret = maplist_lookup_some(l, key, 0, value);
		stripped = 0;
		free(key);
		if (ret == MAP_NOTFOUND && ext) {
			ret = maplist_lookup_some(l, user, 0, value);
			stripped = 1;
		}
	}
	if (ret == MAP_FOUND && stripped
	    && !(flags & MAP_ADDR_NO_EXT_APPEND)) {
		char	*with = maplist_append_ext(*value, ext);

		free(*value);
		*value = with;
	}
	/* 4. @domain, the catch-all, lowest precedence. */
	if (ret == MAP_NOTFOUND && domain && !(flags & MAP_ADDR_NO_DOMAIN))
		ret = maplist_lookup_some(l, domain, 0, value);
	free(user);
	free(ext);
	return (ret);
}

/* maplist_error - why the last list lookup was MAP_RETRY */
const char *
maplist_error(const struct maplist *l)
{
	return (l->failed ? map_error(l->failed) : NULL);
}

/* maplist_count - how many maps the list holds */
size_t
maplist_count(const struct maplist *l)
{
	return (l->count);
}

/* maplist_map - the i-th map of a list (postern check reports them) */
struct map *
maplist_map(const struct maplist *l, size_t i)
{
	return (i < l->count ? l->maps[i] : NULL);
}

/* maplist_close - release a list (NULL is fine) */
void
maplist_close(struct maplist *l)
{
	size_t	 i;

	if (l == NULL)
		return;
	for (i = 0; i < l->count; i++)
		map_close(l->maps[i]);
	free(l->maps);
	free(l->delim);
	free(l);
}
