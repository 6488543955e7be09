/*
 * NAME
 *	map - lookup tables: one interface, many backends
 * SYNOPSIS
 *	#include "map.h"
 *
 *	struct map *map_open(const char *spec, int flags);
 *	int	map_lookup(struct map *m, const char *key, char **value);
 *	const char *map_error(const struct map *m);
 *	const char *map_spec(const struct map *m);
 *	int	map_update(struct map *m, const char *key,
 *	    const char *value);
 *	void	map_close(struct map *m);
 *	int	map_spec_local(const char *spec, size_t len);
 *
 *	struct maplist *maplist_open(const char *specs, int flags);
 *	int	maplist_lookup(struct maplist *l, const char *key,
 *	    char **value);
 *	int	maplist_lookup_addr(struct maplist *l, const char *addr,
 *	    int flags, char **value);
 *	const char *maplist_error(const struct maplist *l);
 *	size_t	maplist_count(const struct maplist *l);
 *	struct map *maplist_map(const struct maplist *l, size_t i);
 *	void	maplist_close(struct maplist *l);
 * DESCRIPTION
 *	A spec is "type:name": lmdb:, hash: and btree: (all three mean an
 *	LMDB file "name.lmdb" built by postmap), texthash:, cidr:,
 *	regexp:, pcre:, static:, inline:{k=v, ...}, mysql:, memory: (an
 *	in-process table for tests, filled with map_update()),
 *	unix:passwd.byname and unix:group.byname. "proxy:type:name" is
 *	read as "type:name" (postern has no proxymap process).
 *
 *	Every lookup has three outcomes, never merged:
 *	MAP_FOUND (value set, caller frees), MAP_NOTFOUND, and MAP_RETRY
 *	(file unreadable, database down: the caller answers 4xx or defers,
 *	never "user unknown"). map_error() says why the last lookup was
 *	MAP_RETRY. If a map cannot be opened, map_open() still returns a
 *	map: a surrogate whose every lookup is MAP_RETRY with the reason,
 *	so the daemon keeps running and defers mail (Postfix's contract);
 *	map_error() gives the open error right after map_open(). The
 *	surrogate tries to open the real map again at most once a second,
 *	so a table built after the daemon started is picked up.
 *
 *	Keys are folded to lower case for the file-based and
 *	fixed-string types unless MAP_NO_FOLD is set; regexp/pcre match
 *	the key as given (with their own i flag), cidr takes an address.
 *	A handle is used by one thread at a time; worker threads open
 *	their own handles (and so their own database connections).
 *	File-based maps notice a rebuilt file (new inode, size or mtime;
 *	checked at most once a second per handle) and reopen it; if the
 *	new file is broken the old contents keep serving, with a warning.
 *	postmap replaces .lmdb files by rename(): never truncate or edit a
 *	mapped .lmdb file in place (readers would fault).
 *
 *	mysql: answers (found with the value, or not found; never an
 *	error) are cached per process, shared by its threads' handles,
 *	for lookup_cache_time (default 5s; 0 disables) with at most
 *	lookup_cache_size entries (least recently used go first): a row
 *	added, changed or removed is seen within lookup_cache_time. See
 *	map_cache.h (also its cache-only mode for event-loop callers).
 *
 *	map_spec_local() tells whether the first len bytes of a spec (len
 *	may end before a NUL, as in a list) name a table read in this
 *	process, from a local file or memory, so that a lookup waits on no
 *	server: hash:, lmdb:, btree:, texthash:, cidr:, regexp:, pcre:,
 *	inline:, static: and memory:, also behind one "proxy:", each with a
 *	non-empty name. Not mysql: (a server; a caller that looks it up
 *	through map_cache's cache-only mode adds it) nor unix: (NSS may
 *	ask a directory server). It only reads the spec: 1 or 0.
 *
 *	map_update() adds or replaces an entry in a memory: table (0, or
 *	-1 with map_error() for types that cannot be updated). memory:NAME
 *	tables are shared by name within the process, so a test can fill
 *	memory:x and a daemon's maplist "memory:x" sees the same entries.
 *
 *	A maplist is a comma/whitespace-separated list of specs searched
 *	in order; the first FOUND wins, a RETRY from an earlier map is
 *	returned at once (a later map must not answer for a map that is
 *	down). Map specs may contain {...} with commas and spaces
 *	(inline:{a=b, c=d}). maplist_map() returns the i-th map, so
 *	postern check can report each map's map_error() after opening.
 *
 *	maplist_lookup_addr() applies Postfix's lookup order for an
 *	address with recipient_delimiter (from conf): user+ext@domain,
 *	user@domain, then (MAP_ADDR_USER: only when the domain is local,
 *	the caller decides by setting the flag) user+ext and user, then
 *	@domain unless MAP_ADDR_NO_DOMAIN. For regexp/pcre maps only the
 *	full address is tried. Without MAP_ADDR_NO_EXT_APPEND, a result
 *	found through the stripped form gets "+ext" put back in front of
 *	its '@' as Postfix does for virtual_alias_maps/canonical_maps
 *	(to every member of a comma list; not for the @domain form); set
 *	the flag for results that are not addresses (mailbox paths, "1",
 *	access actions, SASL logins). maplist_open() reads
 *	recipient_delimiter with conf_str(): do not call it concurrently
 *	with conf_load().
 * DIAGNOSTICS
 *	map_lookup() returns MAP_RETRY with map_error() set on any
 *	backend failure. Malformed lines in map files are logged with
 *	file:line at open time and skipped.
 */
#ifndef MAP_H
#define MAP_H

#include <stddef.h>

#define MAP_FOUND	1
#define MAP_NOTFOUND	0
#define MAP_RETRY	(-1)

/* map_open() flags */
#define MAP_NO_FOLD	(1 << 0)	/* do not lower-case keys */

/* maplist_lookup_addr() flags */
#define MAP_ADDR_USER		(1 << 0)	/* try bare user part too */
#define MAP_ADDR_NO_DOMAIN	(1 << 1)	/* skip @domain */
#define MAP_ADDR_NO_EXT_APPEND	(1 << 2)	/* do not re-append +ext */

struct map;
struct maplist;

struct map *map_open(const char *, int);
int	 map_lookup(struct map *, const char *, char **);
int	 map_update(struct map *, const char *, const char *);
const char *map_error(const struct map *);
const char *map_spec(const struct map *);
void	 map_close(struct map *);
int	 map_spec_local(const char *, size_t);

struct maplist *maplist_open(const char *, int);
int	 maplist_lookup(struct maplist *, const char *, char **);
int	 maplist_lookup_addr(struct maplist *, const char *, int, char **);
const char *maplist_error(const struct maplist *);
size_t	 maplist_count(const struct maplist *);
struct map *maplist_map(const struct maplist *, size_t);
void	 maplist_close(struct maplist *);

#endif
