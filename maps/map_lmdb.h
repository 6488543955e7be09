/*
 * NAME
 *	map_lmdb - build and walk the LMDB files behind lmdb:/hash:/btree:
 * SYNOPSIS
 *	#include "map_lmdb.h"
 *
 *	int	map_lmdb_write(const char *file, const struct strv *keys,
 *	    const struct strv *values, char *err, size_t errlen);
 *	int	map_lmdb_walk(const char *file, map_lmdb_walk_fn *fn,
 *	    void *ctx, char *err, size_t errlen);
 *	int	map_lmdb_perms(const char *file, const char *path,
 *	    const char *target, char *err, size_t errlen);
 * DESCRIPTION
 *	file is the map name without ".lmdb". map_lmdb_write() replaces
 *	file.lmdb atomically (temporary file, commit, rename, directory
 *	fsync); keys must be unique, non-empty and at most 511 bytes.
 *	map_lmdb_walk() visits every entry in key order.
 *	map_lmdb_perms() gives target (the table being written, or
 *	path = file.lmdb itself: postern set-permissions) the owner (as
 *	root) and the permission bits Postfix's postmap would: the
 *	source file's mode masked with 0644, or, without a source, those
 *	of path.
 * DIAGNOSTICS
 *	They return 0, or -1 with a message in err.
 */
#ifndef MAP_LMDB_H
#define MAP_LMDB_H

#include <stddef.h>

#include "str.h"

typedef void map_lmdb_walk_fn(const char *key, const char *value, void *ctx);

int	 map_lmdb_write(const char *, const struct strv *, const struct strv *,
	    char *, size_t);
int	 map_lmdb_perms(const char *, const char *, const char *, char *,
	    size_t);
int	 map_lmdb_walk(const char *, map_lmdb_walk_fn *, void *, char *,
	    size_t);

#endif
