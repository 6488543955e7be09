/*
 * NAME
 *	map_lmdb_test - lmdb: tables built through postmap's code path
 * DESCRIPTION
 *	Builds tables with map_tool_main() (what postmap runs), looks
 *	keys up, rebuilds while a handle is open and checks that the
 *	handle sees the new contents after map.c's once-a-second check,
 *	and that a broken replacement keeps the old contents serving.
 */
#include <getopt.h>
#include <sys/stat.h>

#include "map_lmdb.h"
#include "map_testutil.h"
#include "map_tool.h"

/* postmap - run the postmap code path with up to five arguments */
static int
postmap5(int how, const char *a, const char *b, const char *c,
    const char *d, const char *e)
{
	char	*argv[8];
	int	 argc = 0;

	argv[argc++] = how == MAP_TOOL_POSTALIAS ? "postalias" : "postmap";
	if (a) argv[argc++] = (char *) a;
	if (b) argv[argc++] = (char *) b;
	if (c) argv[argc++] = (char *) c;
	if (d) argv[argc++] = (char *) d;
	if (e) argv[argc++] = (char *) e;
	argv[argc] = NULL;
	optind = 0;
	return (map_tool_main(argc, argv, how));
}

/* postmap - up to four arguments */
static int
postmap(int how, const char *a, const char *b, const char *c,
    const char *d)
{
	return (postmap5(how, a, b, c, d, NULL));
}

static const char source[] =
	"# a comment\n"
	"John@Example.COM  john.doe@example.org\n"
	"\n"
	"multi first\n"
	"\tsecond line\n"
	"   # indented comment\n"
	"key-without-value\n"			/* line 7: bad */
	"\xc3\xa9t\xc3\xa9@example.com 8bit\n"
	"dup one\n"
	"dup two\n"				/* line 10: duplicate */
	"trail\tvalue with spaces   \r\n";

static const struct {
	const char *name;
	const char *key;
	int	 want;
	const char *value;
} vec[] = {
	{"folded key found", "john@example.com", MAP_FOUND,
	"john.doe@example.org"},
	{"lookup folds the key", "JOHN@EXAMPLE.COM", MAP_FOUND,
	"john.doe@example.org"},
	{"continuation line joined", "multi", MAP_FOUND, "first\tsecond line"},
	{"8-bit key", "\xc3\xa9t\xc3\xa9@example.com", MAP_FOUND, "8bit"},
	{"first duplicate wins", "dup", MAP_FOUND, "one"},
	{"trailing CR and blanks trimmed", "trail", MAP_FOUND,
	"value with spaces"},
	{"malformed line not loaded", "key-without-value", MAP_NOTFOUND, NULL},
	{"unknown key", "nobody@example.com", MAP_NOTFOUND, NULL},
	{"empty key", "", MAP_NOTFOUND, NULL},
	{"comment is not a key", "#", MAP_NOTFOUND, NULL},
};

int
main(void)
{
	char	*dir = tu_dir(), *conf, *src, *spec, *huge, *lmdb, *text;
	struct map *m, *m2;
	size_t	 i;

	log_init("map_lmdb_test", 0);
	tu_capture();
	conf = tu_write(dir, "main.cf", "", 0);
	*strrchr(conf, '/') = 0;
	src = tu_write(dir, "virtual", source, sizeof(source) - 1);
	tap_is_int(postmap(MAP_TOOL_POSTMAP, "-c", conf, src, NULL), 0,
	    "postmap builds the table");
	tap_is_int(tu_logged("virtual, line 7: expected format"), 1,
	    "malformed line reported with file and line");
	tap_is_int(tu_logged("virtual, line 10: duplicate entry"), 1,
	    "duplicate reported with file and line");
	lmdb = xasprintf("%s.lmdb", src);
	spec = xasprintf("hash:%s", src);
	m = map_open(spec, 0);
	tap_ok(map_error(m) == NULL, "hash: opens the .lmdb file");
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++)
		tu_lookup(m, vec[i].key, vec[i].want, vec[i].value,
		    vec[i].name);
	huge = xmalloc(4097);
	memset(huge, 'k', 4096);
	huge[4096] = 0;
	tu_lookup(m, huge, MAP_NOTFOUND, NULL, "4 KB key: not found, no error");
	free(huge);

	/* Rebuild while the handle is open. */
	m2 = map_open(spec, MAP_NO_FOLD);
	tu_lookup(m2, "JOHN@EXAMPLE.COM", MAP_NOTFOUND, NULL,
	    "MAP_NO_FOLD: key not folded");
	text = "john@example.com new-value\nadded yes\n";
	free(src);
	src = tu_write(dir, "virtual", text, strlen(text));
	tap_is_int(postmap(MAP_TOOL_POSTMAP, "-c", conf, src, NULL), 0,
	    "rebuild while a handle is open");
	sleep(1);
	usleep(100000);
	tu_lookup(m, "john@example.com", MAP_FOUND, "new-value",
	    "open handle sees the rebuilt table");
	tu_lookup(m, "multi", MAP_NOTFOUND, NULL, "removed key is gone");
	tu_lookup(m, "added", MAP_FOUND, "yes", "added key is there");

	/*
	 * A broken replacement (renamed into place, as every tool must:
	 * truncating a mapped LMDB file in place would SIGBUS readers):
	 * the old contents keep serving.
	 */
	text = "this is not an lmdb file";
	{
		char	*junk = tu_write(dir, "junk", text, strlen(text));

		tap_is_int(rename(junk, lmdb), 0, "garbage renamed over .lmdb");
		free(junk);
	}
	sleep(1);
	usleep(100000);
	tu_lookup(m, "added", MAP_FOUND, "yes",
	    "garbage replacement: old contents still served");
	tap_ok(tu_logged("cannot reopen changed map") >= 1,
	    "garbage replacement logged");
	map_close(m2);
	m2 = map_open(spec, 0);
	tu_lookup(m2, "added", MAP_RETRY, NULL,
	    "garbage file opened fresh: RETRY, not NOTFOUND");
	map_close(m2);

	/* -i and -d through the same code path. */
	tap_is_int(postmap(MAP_TOOL_POSTMAP, "-c", conf, src, NULL), 0,
	    "rebuild over the garbage file");
	{
		FILE	*in = freopen(NULL, "r", stdin);
		char	*add = tu_write(dir, "add", "Added replaced\nother x\n",
		    23);

		(void) in;
		if (freopen(add, "r", stdin) == NULL)
			perror(add);
		tap_is_int(postmap(MAP_TOOL_POSTMAP, "-c", conf, "-i", src), 0,
		    "postmap -i");
		free(add);
	}
	sleep(1);
	usleep(100000);
	tu_lookup(m, "added", MAP_FOUND, "replaced", "-i replaced a value");
	tu_lookup(m, "other", MAP_FOUND, "x", "-i added a key");
	tu_lookup(m, "john@example.com", MAP_FOUND, "new-value",
	    "-i kept the other keys");
	tap_is_int(postmap5(MAP_TOOL_POSTMAP, "-c", conf, "-d", "OTHER", src),
	    0, "postmap -d of a present key: 0");
	tap_is_int(postmap5(MAP_TOOL_POSTMAP, "-c", conf, "-d", "other", src),
	    1, "postmap -d of an absent key: 1");
	sleep(1);
	usleep(100000);
	tu_lookup(m, "other", MAP_NOTFOUND, NULL, "-d removed the key");
	tu_lookup(m, "added", MAP_FOUND, "replaced", "-d kept the others");
	map_close(m);

	/* Removing the file: a fresh open is RETRY, never NOTFOUND. */
	unlink(lmdb);
	m = map_open(spec, 0);
	tap_ok(map_error(m) && strstr(map_error(m), "No such file"),
	    "missing .lmdb: open error says why");
	tu_lookup(m, "john@example.com", MAP_RETRY, NULL,
	    "missing .lmdb: RETRY");
	/* ... and the surrogate picks up a table built later. */
	tap_is_int(postmap(MAP_TOOL_POSTMAP, "-c", conf, src, NULL), 0,
	    "build after the surrogate was made");
	sleep(1);
	usleep(100000);
	tu_lookup(m, "john@example.com", MAP_FOUND, "new-value",
	    "surrogate reopens the table once it exists");
	map_close(m);

	free(spec);
	free(lmdb);
	free(src);
	free(conf);
	tu_rmdir(dir);
	free(dir);
	return (tap_done());
}
