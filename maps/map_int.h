/*
 * NAME
 *	map_int - what map backends share with map.c (private to maps/)
 * SYNOPSIS
 *	#include "map_int.h"
 *
 *	void	map_set_error(struct map *m, const char *fmt, ...);
 *	const struct map_ops *map_ops_find(const char *type);
 *
 *	struct map_kv *map_kv_new(void);
 *	int	map_kv_put(struct map_kv *t, const char *k, const char *v,
 *	    int replace);
 *	const char *map_kv_get(const struct map_kv *t, const char *k);
 *	int	map_kv_del(struct map_kv *t, const char *k);
 *	void	map_kv_free(struct map_kv *t);
 *
 *	typedef int map_text_fn(const char *file, int line, char *key,
 *	    char *value, void *ctx);
 *	int	map_text_read(FILE *fp, const char *file, int how,
 *	    map_text_fn *fn, void *ctx);
 *	int	map_text_logical(FILE *fp, struct buf *out, int *lineno,
 *	    int *first);
 * DESCRIPTION
 *	A backend is a struct map_ops: a type name, open/lookup/close and
 *	optional update/delete. open() gets the map with m->name set and
 *	fills m->priv; it returns -1 with map_set_error() on failure.
 *	lookup() gets the key already folded when the type asks for
 *	folding (MAP_OPS_FOLD) and the caller did not say MAP_NO_FOLD.
 *	Types with MAP_OPS_NET (a database over a socket) have their
 *	answers cached for lookup_cache_time (map_cache.h).
 *	Types with MAP_OPS_FILE are reopened by map.c when the file
 *	(m->name plus ops->suffix) is replaced: it checks inode, size and
 *	mtime at most once per second.
 *
 *	map_kv is a small string hash table (texthash, inline, memory).
 *
 *	map_text_read() reads Postfix's map source text: '#' comment lines,
 *	empty lines, continuation lines that start with whitespace. With
 *	MAP_TEXT_KV it splits "key whitespace value", with MAP_TEXT_ALIAS
 *	"name: value" (aliases(5)); malformed lines are logged with
 *	file:line and skipped. The callback returns 0 to go on. The
 *	result is the number of malformed lines. map_text_logical() just
 *	returns the next logical line (1) or 0 at EOF.
 */
#ifndef MAP_INT_H
#define MAP_INT_H

#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "map.h"

#define MAP_OPS_FOLD	(1 << 0)	/* fold keys to lower case */
#define MAP_OPS_FILE	(1 << 1)	/* reopen when the file changes */
#define MAP_OPS_PATTERN	(1 << 2)	/* full-key only in address lookups */
#define MAP_OPS_NET	(1 << 3)	/* answers cached (map_cache.h) */

struct map_ops {
	const char *type;
	int	 flags;
	const char *suffix;		/* file name suffix for MAP_OPS_FILE */
	int	(*open)(struct map *);
	int	(*lookup)(struct map *, const char *, char **);
	int	(*update)(struct map *, const char *, const char *);
	void	(*close)(struct map *);
};

struct map {
	const struct map_ops *ops;	/* the real type */
	char	*spec;			/* "type:name" as given */
	char	*name;			/* after "type:" */
	int	 flags;
	void	*priv;
	char	*error;			/* last error, or NULL */
	char	*open_error;		/* surrogate: why open failed */
	time_t	 checked;		/* last file or reopen check */
	dev_t	 dev;
	ino_t	 ino;
	off_t	 size;
	struct timespec mtime;
	long	 cache_ttl;		/* ms; 0: lookups not cached */
};

void	 map_set_error(struct map *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
const struct map_ops *map_ops_find(const char *);

extern const struct map_ops map_static_ops, map_inline_ops, map_memory_ops;
extern const struct map_ops map_texthash_ops, map_lmdb_ops, map_hash_ops,
	map_btree_ops;
extern const struct map_ops map_cidr_ops, map_regexp_ops, map_pcre_ops;
extern const struct map_ops map_mysql_ops, map_unix_ops;

struct map_kv;
struct map_kv *map_kv_new(void);
int	 map_kv_put(struct map_kv *, const char *, const char *, int);
const char *map_kv_get(const struct map_kv *, const char *);
int	 map_kv_del(struct map_kv *, const char *);
size_t	 map_kv_count(const struct map_kv *);
void	 map_kv_free(struct map_kv *);

#define MAP_TEXT_KV	1
#define MAP_TEXT_ALIAS	2

typedef int map_text_fn(const char *, int, char *, char *, void *);
int	 map_text_read(FILE *, const char *, int, map_text_fn *, void *);
int	 map_text_logical(FILE *, struct buf *, int *, int *);

#endif
