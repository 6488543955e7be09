/*
 * NAME
 *	map_testutil - helpers shared by the maps/ unit tests
 * SYNOPSIS
 *	#include "map_testutil.h"
 *
 *	char	*tu_dir(void);
 *	char	*tu_write(const char *dir, const char *name,
 *	    const char *text, size_t len);
 *	void	tu_capture(void);
 *	int	tu_logged(const char *needle);
 *	void	tu_rmdir(const char *dir);
 *	void	tu_lookup(struct map *m, const char *key, int want,
 *	    const char *want_value, const char *name);
 * DESCRIPTION
 *	tu_dir() makes a temporary directory under /tmp. tu_write()
 *	writes a file there (len bytes, so NUL can be written) and
 *	returns its path. tu_capture() records every log line;
 *	tu_logged() counts captured lines containing needle.
 *	tu_lookup() checks one lookup's status and value as TAP.
 */
#ifndef MAP_TESTUTIL_H
#define MAP_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "map.h"
#include "str.h"
#include "tap.h"
#include "xalloc.h"

static struct strv *tu_log;

/* tu_dir - a fresh temporary directory */
static __attribute__((unused)) char *
tu_dir(void)
{
	char	*d = xstrdup("/tmp/postern-maptest.XXXXXX");

	if (mkdtemp(d) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	return (d);
}

/* tu_write - write a file in dir; returns the path (caller frees) */
static __attribute__((unused)) char *
tu_write(const char *dir, const char *name, const char *text, size_t len)
{
	char	*path = xasprintf("%s/%s", dir, name);
	FILE	*fp = fopen(path, "w");

	if (fp == NULL || fwrite(text, 1, len, fp) != len || fclose(fp)) {
		perror(path);
		exit(1);
	}
	return (path);
}

/* tu_hook - log hook: remember the line */
static __attribute__((unused)) void
tu_hook(int level, const char *text, void *ctx)
{
	strv_add(tu_log, text);
}

/* tu_capture - start (or restart) capturing log lines */
static __attribute__((unused)) void
tu_capture(void)
{
	strv_free(tu_log);
	tu_log = strv_new();
	log_set_hook(tu_hook, NULL);
}

/* tu_logged - how many captured lines contain needle */
static __attribute__((unused)) int
tu_logged(const char *needle)
{
	size_t	 i;
	int	 n = 0;

	for (i = 0; tu_log && i < tu_log->argc; i++)
		if (strstr(tu_log->argv[i], needle))
			n++;
	return (n);
}

/* tu_rmdir - remove the directory and its files */
static __attribute__((unused)) void
tu_rmdir(const char *dir)
{
	char	*cmd = xasprintf("rm -rf '%s'", dir);

	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	free(cmd);
	strv_free(tu_log);
	tu_log = NULL;
	log_set_hook(NULL, NULL);
}

/* tu_lookup - one lookup checked against status and value */
static __attribute__((unused)) void
tu_lookup(struct map *m, const char *key, int want, const char *want_value,
    const char *name)
{
	char	*v = NULL;
	int	 ret = map_lookup(m, key, &v);

	tap_is_int(ret, want, name);
	if (want == MAP_FOUND)
		tap_is_str(v, want_value, name);
	free(v);
}

#endif
