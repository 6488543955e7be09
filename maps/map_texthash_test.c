/*
 * NAME
 *	map_texthash_test - texthash: tables and the map source parser
 */
#include "map_testutil.h"

static const char source[] =
	"# comment\n"
	"Alpha one\n"
	"beta   two words\n"
	"gamma three\n"
	"\tcontinued\n"
	"\n"
	"   # indented comment between\n"
	"lonely\n"				/* line 8: no value */
	"delta\tfour\r\n"
	"alpha dup\n"				/* line 10: duplicate */
	"\xe4\xf6\xfc latin1\n"
	"<unbalanced value>\n"
	"nul\0byte here\n"			/* line 13: NUL */
	"epsilon five\n"
	"last no-newline";

static const struct {
	const char *name;
	const char *key;
	int	 want;
	const char *value;
} vec[] = {
	{"folded key", "alpha", MAP_FOUND, "one"},
	{"lookup folds", "ALPHA", MAP_FOUND, "one"},
	{"value keeps inner blanks", "beta", MAP_FOUND, "two words"},
	{"continuation", "gamma", MAP_FOUND, "three\tcontinued"},
	{"CRLF line", "delta", MAP_FOUND, "four"},
	{"8-bit key", "\xe4\xf6\xfc", MAP_FOUND, "latin1"},
	{"unbalanced <", "<unbalanced", MAP_FOUND, "value>"},
	{"key without value skipped", "lonely", MAP_NOTFOUND, NULL},
	{"NUL line skipped", "nul", MAP_NOTFOUND, NULL},
	{"line after NUL loads", "epsilon", MAP_FOUND, "five"},
	{"last line without newline", "last", MAP_FOUND, "no-newline"},
	{"empty key", "", MAP_NOTFOUND, NULL},
	{"comment text is no key", "#", MAP_NOTFOUND, NULL},
};

int
main(void)
{
	char	*dir = tu_dir(), *path, *spec, *huge;
	struct map *m;
	size_t	 i;

	log_init("map_texthash_test", 0);
	tu_capture();
	path = tu_write(dir, "t", source, sizeof(source) - 1);
	spec = xasprintf("texthash:%s", path);
	m = map_open(spec, 0);
	tap_ok(map_error(m) == NULL, "texthash opens");
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++)
		tu_lookup(m, vec[i].key, vec[i].want, vec[i].value,
		    vec[i].name);
	huge = xmalloc(1 << 20);
	memset(huge, 'x', (1 << 20) - 1);
	huge[(1 << 20) - 1] = 0;
	tu_lookup(m, huge, MAP_NOTFOUND, NULL, "1 MB key");
	free(huge);
	tap_is_int(tu_logged(", line 8: expected format"), 1,
	    "no-value line reported with its line");
	tap_is_int(tu_logged(", line 10: duplicate entry"), 1,
	    "duplicate reported");
	tap_is_int(tu_logged(", line 13: NUL byte"), 1, "NUL line reported");

	/* The file is replaced: the open handle reloads it. */
	free(tu_write(dir, "t.new", "alpha replaced\n", 15));
	{
		char	*from = xasprintf("%s/t.new", dir);

		tap_is_int(rename(from, path), 0, "replace the file");
		free(from);
	}
	sleep(1);
	usleep(100000);
	tu_lookup(m, "alpha", MAP_FOUND, "replaced", "replaced file reloaded");
	tu_lookup(m, "beta", MAP_NOTFOUND, NULL, "old keys gone");
	map_close(m);

	/* An empty file is an empty table, not an error. */
	free(path);
	path = tu_write(dir, "empty", "", 0);
	free(spec);
	spec = xasprintf("texthash:%s", path);
	m = map_open(spec, 0);
	tu_lookup(m, "x", MAP_NOTFOUND, NULL, "empty file: not found");
	map_close(m);

	/* Unreadable: RETRY. */
	free(spec);
	spec = xasprintf("texthash:%s/missing", dir);
	m = map_open(spec, 0);
	tu_lookup(m, "x", MAP_RETRY, NULL, "missing file: RETRY");
	tap_ok(strstr(map_error(m), "missing") != NULL,
	    "error names the file");
	map_close(m);

	free(spec);
	free(path);
	tu_rmdir(dir);
	free(dir);
	return (tap_done());
}
