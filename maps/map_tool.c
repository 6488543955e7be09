/*
 * NAME
 *	map_tool - the postmap, postalias and newaliases commands
 * SYNOPSIS
 *	postmap [-firsv] [-c config_dir] [-d key] [-q key] [type:]file ...
 *	postalias (same options), newaliases [-c config_dir]
 * DESCRIPTION
 *	Without -q/-d/-s/-i, each [type:]file is built: the source text
 *	"file" is read (postmap: "key value" lines; postalias: aliases(5)
 *	"name: value, value" lines; both with comments and continuation
 *	lines) and "file.lmdb" is replaced atomically. type defaults to
 *	default_database_type; lmdb, hash and btree all mean an LMDB file.
 *	Keys are folded to lower case unless -f. Duplicate keys: the
 *	first wins with a warning (-r: the last wins, no warning).
 *	postalias refuses ":include:" entries with a message naming the
 *	file and line, and builds the rest.
 *
 *	-q key	look key up in each table in order, print the first value.
 *	-q -	read keys from stdin, one per line, print "key<TAB>value"
 *		for each key found (flushed at once, so a pipe or fifo can
 *		hold a long-lived session). Lookups are never answered from
 *		the daemons' lookup cache (lookup_cache_time is 0 here).
 *	-d key	delete key (several -d allowed; "-d -" reads keys from
 *		stdin); the table is rewritten atomically.
 *	-i	add entries from stdin (replacing existing keys).
 *	-s	print every entry ("key<TAB>value"; postalias: "key: value").
 *	-c dir	the config directory (else $MAIL_CONFIG, else
 *		config_directory's default; a missing main.cf is then
 *		not an error).
 *	-v	verbose. -N, -n, -o, -p, -u, -w, -b, -h, -m are accepted and
 *		ignored for compatibility.
 *
 *	Exit status: 0 success / found; 1 not found (-q, -d) and fatal
 *	errors (bad usage, unreadable source, cannot write), as Postfix;
 *	75 (EX_TEMPFAIL) when a lookup failed temporarily (a database
 *	down, a table that cannot be opened): never confused with "not
 *	found".
 * DIAGNOSTICS
 *	Messages go to stderr as "postmap: warning: ..." / "fatal: ...".
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "map.h"
#include "map_int.h"
#include "map_lmdb.h"
#include "map_tool.h"
#include "str.h"
#include "xalloc.h"

struct map_tool {
	int	 how;			/* MAP_TEXT_KV or MAP_TEXT_ALIAS */
	int	 fold;
	int	 replace;
	const char *prog;
};

/* The entries of a table being built, in order, keys unique. */
struct map_tool_set {
	struct map_tool *tool;
	struct strv *keys;
	struct strv *vals;
	struct map_kv *index;		/* key -> position */
	int	 warn_dups;
};

/* map_tool_set_new - an empty entry set */
static struct map_tool_set *
map_tool_set_new(struct map_tool *tool)
{
	struct map_tool_set *s = xcalloc(1, sizeof(*s));

	s->tool = tool;
	s->keys = strv_new();
	s->vals = strv_new();
	s->index = map_kv_new();
	return (s);
}

/* map_tool_set_free - release an entry set */
static void
map_tool_set_free(struct map_tool_set *s)
{
	strv_free(s->keys);
	strv_free(s->vals);
	map_kv_free(s->index);
	free(s);
}

/* map_tool_set_put - add or replace one entry */
static void
map_tool_set_put(struct map_tool_set *s, const char *key, const char *val,
    int replace)
{
	const char *pos = map_kv_get(s->index, key);
	char	 num[32];

	if (pos == NULL) {
		snprintf(num, sizeof(num), "%zu", s->keys->argc);
		map_kv_put(s->index, key, num, 0);
		strv_add(s->keys, key);
		strv_add(s->vals, val);
	} else if (replace) {
		size_t	 i = strtoul(pos, NULL, 10);

		free(s->vals->argv[i]);
		s->vals->argv[i] = xstrdup(val);
	}
}

/* map_tool_entry - map_text_read callback: one source entry */
static int
map_tool_entry(const char *file, int line, char *key, char *value,
    void *ctx)
{
	struct map_tool_set *s = ctx;

	if (s->tool->fold)
		str_lower(key);
	if (s->tool->how == MAP_TEXT_ALIAS
	    && strcasestr(value, ":include:") != NULL) {
		log_warn("%s, line %d: alias \"%s\": :include: files are not "
		    "supported by postern; list the addresses in the alias "
		    "itself or use virtual_alias_maps. Entry skipped.", file,
		    line, log_safe(key));
		return (0);
	}
	if (strlen(key) > 511) {
		log_warn("%s, line %d: key longer than 511 bytes, skipped",
		    file, line);
		return (0);
	}
	if (s->warn_dups && !s->tool->replace
	    && map_kv_get(s->index, key) != NULL) {
		log_warn("%s, line %d: duplicate entry: \"%s\", ignored", file,
		    line, log_safe(key));
		return (0);
	}
	map_tool_set_put(s, key, value, 1);
	return (0);
}

/* map_tool_walk_add - map_lmdb_walk callback: keep an existing entry */
static void
map_tool_walk_add(const char *key, const char *value, void *ctx)
{
	map_tool_set_put(ctx, key, value, 0);
}

/* map_tool_split - "type:name" with the default type; caller frees */
static void
map_tool_split(const char *arg, char **type, char **name)
{
	const char *colon = strchr(arg, ':'), *slash = strchr(arg, '/');

	if (colon && colon != arg && (slash == NULL || colon < slash)) {
		*type = xstrndup(arg, colon - arg);
		*name = xstrdup(colon + 1);
	} else {
		*type = xstrdup(conf_str("default_database_type"));
		*name = xstrdup(arg);
	}
}

/* map_tool_is_lmdb - does the type mean an LMDB file? */
static int
map_tool_is_lmdb(const char *type)
{
	return (strcmp(type, "lmdb") == 0 || strcmp(type, "hash") == 0
	    || strcmp(type, "btree") == 0);
}

/*
 * The operations below return -1 with a message in err instead of
 * exiting, so that the caller frees everything before log_fatal() (the
 * sanitizer build checks for leaks at exit).
 */
#define ERRLEN	1024

/* map_tool_lmdb_name - the LMDB file name of a buildable table */
static char *
map_tool_lmdb_name(const char *arg, char *err)
{
	char	*type, *name;

	map_tool_split(arg, &type, &name);
	if (!map_tool_is_lmdb(type)) {
		snprintf(err, ERRLEN, "%s: unsupported map type for this "
		    "operation: %s (only lmdb, hash and btree tables are "
		    "built)", arg, type);
		free(name);
		name = NULL;
	}
	free(type);
	return (name);
}

/* map_tool_build - build one table from its source file */
static int
map_tool_build(struct map_tool *tool, const char *arg, char *err)
{
	char	*name = map_tool_lmdb_name(arg, err);
	struct map_tool_set *s;
	FILE	*fp;
	int	 ret = 0;

	if (name == NULL)
		return (-1);
	if ((fp = fopen(name, "r")) == NULL) {
		snprintf(err, ERRLEN, "open %s: %s", name, strerror(errno));
		free(name);
		return (-1);
	}
	s = map_tool_set_new(tool);
	s->warn_dups = 1;
	(void) map_text_read(fp, name, tool->how, map_tool_entry, s);
	if (ferror(fp)) {
		snprintf(err, ERRLEN, "read %s: %s", name, strerror(errno));
		ret = -1;
	}
	fclose(fp);
	if (ret == 0)
		ret = map_lmdb_write(name, s->keys, s->vals, err, ERRLEN);
	map_tool_set_free(s);
	free(name);
	return (ret);
}

/* map_tool_existing - the current entries of name.lmdb (if any) */
static struct map_tool_set *
map_tool_existing(struct map_tool *tool, const char *name, char *err)
{
	struct map_tool_set *s = map_tool_set_new(tool);
	char	*path = xasprintf("%s.lmdb", name);
	struct stat st;

	if (stat(path, &st) == 0
	    && map_lmdb_walk(name, map_tool_walk_add, s, err, ERRLEN) < 0) {
		map_tool_set_free(s);
		s = NULL;
	}
	free(path);
	return (s);
}

/* map_tool_incremental - -i: add entries from stdin */
static int
map_tool_incremental(struct map_tool *tool, const char *arg, char *err)
{
	char	*name = map_tool_lmdb_name(arg, err);
	struct map_tool_set *s;
	int	 ret = -1;

	if (name && (s = map_tool_existing(tool, name, err)) != NULL) {
		(void) map_text_read(stdin, "stdin", tool->how, map_tool_entry,
		    s);
		ret = map_lmdb_write(name, s->keys, s->vals, err, ERRLEN);
		map_tool_set_free(s);
	}
	free(name);
	return (ret);
}

/* map_tool_delete - -d: remove keys; 0 if any was there, 1 if none, -1 */
static int
map_tool_delete(struct map_tool *tool, const char *arg, struct strv *keys,
    char *err)
{
	char	*name = map_tool_lmdb_name(arg, err);
	struct map_tool_set *old, *s;
	size_t	 i, j;
	int	 deleted = 0, ret;

	if (name == NULL)
		return (-1);
	if ((old = map_tool_existing(tool, name, err)) == NULL) {
		free(name);
		return (-1);
	}
	s = map_tool_set_new(tool);

	for (i = 0; i < old->keys->argc; i++) {
		for (j = 0; j < keys->argc; j++)
			if (strcmp(old->keys->argv[i], keys->argv[j]) == 0)
				break;
		if (j < keys->argc)
			deleted = 1;
		else
			map_tool_set_put(s, old->keys->argv[i],
			    old->vals->argv[i], 0);
	}
	ret = deleted ? 0 : 1;
	if (deleted && map_lmdb_write(name, s->keys, s->vals, err, ERRLEN) < 0)
		ret = -1;
	map_tool_set_free(s);
	map_tool_set_free(old);
	free(name);
	return (ret);
}

/* map_tool_dump_one - print one entry for -s */
static void
map_tool_dump_one(const char *key, const char *value, void *ctx)
{
	struct map_tool *tool = ctx;

	printf(tool->how == MAP_TEXT_ALIAS ? "%s: %s\n" : "%s\t%s\n", key,
	    value);
}

/* map_tool_dump - -s: print every entry */
static int
map_tool_dump(struct map_tool *tool, const char *arg, char *err)
{
	char	*name = map_tool_lmdb_name(arg, err);
	int	 ret = -1;

	if (name)
		ret = map_lmdb_walk(name, map_tool_dump_one, tool, err, ERRLEN);
	free(name);
	return (ret);
}

/* map_tool_open_all - open each named table with the default type */
static struct map **
map_tool_open_all(struct map_tool *tool, int n, char **args)
{
	struct map **maps = xcalloc(n + 1, sizeof(*maps));
	int	 i;

	/* postmap -q asks the table itself: the cache is the daemons'. */
	conf_set("lookup_cache_time", "0");
	for (i = 0; i < n; i++) {
		char	*type, *name, *spec;

		map_tool_split(args[i], &type, &name);
		spec = xasprintf("%s:%s", type, name);
		maps[i] = map_open(spec, tool->fold ? 0 : MAP_NO_FOLD);
		free(spec);
		free(type);
		free(name);
	}
	return (maps);
}

/* map_tool_query - look up one key: MAP_FOUND/NOTFOUND/RETRY */
static int
map_tool_query(struct map **maps, const char *key, char **value)
{
	int	 i, ret;

	for (i = 0; maps[i]; i++) {
		ret = map_lookup(maps[i], key, value);
		if (ret == MAP_RETRY)
			log_warn("%s: temporary lookup failure for \"%s\": %s",
			    map_spec(maps[i]), log_safe(key),
			    map_error(maps[i]));
		if (ret != MAP_NOTFOUND)
			return (ret);
	}
	return (MAP_NOTFOUND);
}

/* map_tool_queries - -q - : keys from stdin */
static int
map_tool_queries(struct map **maps)
{
	char	*line = NULL, *value;
	size_t	 cap = 0;
	ssize_t	 len;
	int	 found = 0, retry = 0, ret;

	while ((len = getline(&line, &cap, stdin)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n'
		    || line[len - 1] == '\r'))
			line[--len] = 0;
		ret = map_tool_query(maps, line, &value);
		if (ret == MAP_FOUND) {
			printf("%s\t%s\n", line, value);
			fflush(stdout);
			free(value);
			found = 1;
		} else if (ret == MAP_RETRY)
			retry = 1;
	}
	free(line);
	return (retry ? EX_TEMPFAIL : found ? 0 : 1);
}

/* map_tool_config - load main.cf from -c, $MAIL_CONFIG or the default */
static int
map_tool_config(const char *dir, char *err)
{
	if (dir == NULL)
		dir = getenv("MAIL_CONFIG");
	if (dir)
		return (conf_load(dir, err, ERRLEN));
	(void) conf_load(conf_str("config_directory"), err, ERRLEN);
	return (0);
}

/* map_tool_usage - print usage and exit */
static void
map_tool_usage(const char *prog, struct strv *dkeys)
{
	strv_free(dkeys);
	fprintf(stderr, "usage: %s [-firsvNnouwbhm] [-c config_dir] "
	    "[-d key] [-q key] [type:]file ...\n", prog);
	exit(1);
}

/* map_tool_newaliases - build every alias_database */
static int
map_tool_newaliases(struct map_tool *tool, char *err)
{
	struct strv *v = conf_list("alias_database");
	size_t	 i;
	int	 ret = 0;

	for (i = 0; ret == 0 && i < v->argc; i++)
		ret = map_tool_build(tool, v->argv[i], err);
	strv_free(v);
	return (ret);
}

/* map_tool_fatal - free the -d keys, then log_fatal(err) */
static void
map_tool_fatal(struct strv *dkeys, const char *err)
{
	char	 copy[ERRLEN];

	snprintf(copy, sizeof(copy), "%s", err);
	strv_free(dkeys);
	log_fatal("%s", copy);
}

/* map_tool_read_keys - "-d -": the keys to delete from stdin */
static void
map_tool_read_keys(struct strv *dkeys)
{
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 len;

	free(dkeys->argv[0]);
	dkeys->argv[0] = NULL;
	dkeys->argc = 0;
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n'
		    || line[len - 1] == '\r'))
			line[--len] = 0;
		strv_add(dkeys, line);
	}
	free(line);
}

/* map_tool_query_main - -q key or -q -: exit status */
static int
map_tool_query_main(struct map_tool *tool, const char *query, int n,
    char **args)
{
	struct map **maps = map_tool_open_all(tool, n, args);
	char	*value;
	int	 ret, i;

	if (strcmp(query, "-") == 0)
		ret = map_tool_queries(maps);
	else if ((ret = map_tool_query(maps, query, &value)) == MAP_FOUND) {
		printf("%s\n", value);
		free(value);
		ret = 0;
	} else
		ret = ret == MAP_RETRY ? EX_TEMPFAIL : 1;
	for (i = 0; maps[i]; i++)
		map_close(maps[i]);
	free(maps);
	return (ret);
}

/* map_tool_main - postmap / postalias / newaliases */
int
map_tool_main(int argc, char **argv, int how)
{
	struct map_tool tool = {MAP_TEXT_KV, 1, 0, NULL};
	struct strv *dkeys = strv_new();
	const char *query = NULL, *confdir = NULL;
	int	 c, dump = 0, incr = 0, i, ret = 0, r;
	char	 err[ERRLEN];

	tool.prog = basename(argv[0]);
	tool.how = how == MAP_TOOL_POSTALIAS ? MAP_TEXT_ALIAS : MAP_TEXT_KV;
	log_init(tool.prog, LOG_TO_STDERR);
	while ((c = getopt(argc, argv, "bc:d:fhimINnopq:rsuvw")) != -1) {
		switch (c) {
		case 'c': confdir = optarg; break;
		case 'd': strv_add(dkeys, optarg); break;
		case 'f': tool.fold = 0; break;
		case 'i': incr = 1; break;
		case 'q': query = optarg; break;
		case 'r': tool.replace = 1; break;
		case 's': dump = 1; break;
		case 'v': log_verbose++; break;
		case 'b': case 'h': case 'm': case 'I': case 'N': case 'n':
		case 'o': case 'p': case 'u': case 'w':
			break;
		default: map_tool_usage(tool.prog, dkeys);
		}
	}
	if (map_tool_config(confdir, err) < 0)
		map_tool_fatal(dkeys, err);
	if (strcmp(tool.prog, "newaliases") == 0) {
		if (map_tool_newaliases(&tool, err) < 0)
			map_tool_fatal(dkeys, err);
		strv_free(dkeys);
		return (0);
	}
	if (optind >= argc)
		map_tool_usage(tool.prog, dkeys);
	if ((query != NULL) + (dkeys->argc > 0) + dump + incr > 1)
		map_tool_fatal(dkeys, "specify only one of -q, -d, -s, -i");
	if (query)
		ret = map_tool_query_main(&tool, query, argc - optind,
		    argv + optind);
	else if (dkeys->argc > 0) {
		if (dkeys->argc == 1 && strcmp(dkeys->argv[0], "-") == 0)
			map_tool_read_keys(dkeys);
		for (i = 0; tool.fold && i < (int) dkeys->argc; i++)
			str_lower(dkeys->argv[i]);
		ret = 1;
		for (i = optind; i < argc; i++) {
			if ((r = map_tool_delete(&tool, argv[i], dkeys, err)) < 0)
				map_tool_fatal(dkeys, err);
			if (r == 0)
				ret = 0;
		}
	} else
		for (i = optind; i < argc; i++) {
			r = dump ? map_tool_dump(&tool, argv[i], err)
			    : incr ? map_tool_incremental(&tool, argv[i], err)
			    : map_tool_build(&tool, argv[i], err);
			if (r < 0)
				map_tool_fatal(dkeys, err);
		}
	strv_free(dkeys);
	return (ret);
}
