/*
 * NAME
 *	map_regexp_test - table-driven tests for regexp: and pcre: tables
 * DESCRIPTION
 *	The same table text is loaded as regexp: and as pcre: and must
 *	give the same answers; then flavour-specific vectors.
 */
#include "map_testutil.h"

static const char table[] =
	"# header_checks style\n"
	"/^Subject: .*viagra/ REJECT spam\n"
	"/^(.+)@example\\.com$/ $1@example.org\n"
	"/^user-([a-z]+)-([0-9]+)@/ ${2}:$1 $$cost\n"
	"!/@/ no at sign\n"
	"if /@lists\\./\n"
	"/^owner-/ owner\n"
	"if !/^announce/\n"
	"/./ list member\n"
	"endif\n"
	"endif\n"
	"/^CaSe@strict\\.test$/i strict\n"
	"/^(a)@alt\\.test$|^(b)@alt\\.test$/ [$1][$2]\n"
	"/unclosed REJECT\n"				/* line 14 */
	"/(x)/ $2 beyond groups\n"			/* line 15 */
	"!/(y)/ $1 negated\n"				/* line 16 */
	"/z/\n"						/* line 17 */
	"endif\n"					/* line 18 */
	"/[/ bad pattern\n"				/* line 19 */
	"/ok/q unknown flag\n"				/* line 20 */
	"/^multi@line\\.test$/ first\n"
	"  second\n"
	"/\xc3\xa9t\xc3\xa9@/ eight-bit\n"
	"/^$/ empty\n";

static const struct {
	const char *name;
	const char *key;
	int	 want;
	const char *value;
} vec[] = {
	{"plain match, case-insensitive by default",
	"subject: Buy VIAGRA now", MAP_FOUND, "REJECT spam"},
	{"$1 substitution", "john@example.com", MAP_FOUND, "john@example.org"},
	{"${2}, $1 and $$", "user-bob-42@x.test", MAP_FOUND, "42:bob $cost"},
	{"negated rule", "localpart", MAP_FOUND, "no at sign"},
	{"if block taken", "owner-x@lists.test", MAP_FOUND, "owner"},
	{"nested if block", "member@lists.test", MAP_FOUND, "list member"},
	{"nested if !/.../ skips", "announce@lists.test", MAP_NOTFOUND, NULL},
	{"if block not taken", "owner-x@other.test", MAP_NOTFOUND, NULL},
	{"i flag toggles to case-sensitive", "case@strict.test",
	MAP_NOTFOUND, NULL},
	{"i flag exact case", "CaSe@strict.test", MAP_FOUND, "strict"},
	{"unset group expands to nothing", "a", MAP_FOUND, "no at sign"},
	{"alternation with unset group", "b@alt.test", MAP_FOUND, "[][b]"},
	{"continuation line in result", "multi@line.test", MAP_FOUND,
	"first  second"},
	{"8-bit pattern", "\xc3\xa9t\xc3\xa9@x.test", MAP_FOUND, "eight-bit"},
	{"empty key", "", MAP_FOUND, "no at sign"},
	{"bad rule skipped", "x@unclosed.test", MAP_NOTFOUND, NULL},
	{"8-bit key, no match", "\xff\xfe@x.test", MAP_NOTFOUND, NULL},
	{"unbalanced <>", "<john@example.com", MAP_FOUND,
	"<john@example.org"},
};

/* run - one flavour over the shared vectors */
static void
run(const char *dir, const char *type)
{
	char	*path = tu_write(dir, "t.re", table, sizeof(table) - 1);
	char	*spec = xasprintf("%s:%s", type, path), *name, *huge;
	struct map *m;
	size_t	 i;

	tu_capture();
	m = map_open(spec, 0);
	tap_ok(map_error(m) == NULL, "%s: table opens", type);
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		name = xasprintf("%s: %s", type, vec[i].name);
		tu_lookup(m, vec[i].key, vec[i].want, vec[i].value, name);
		free(name);
	}
	huge = xmalloc(200001);
	memset(huge, 'a', 200000);
	huge[200000] = 0;
	name = xasprintf("%s: 200 KB key", type);
	tu_lookup(m, huge, MAP_FOUND, "no at sign", name);
	free(name);
	free(huge);
	tap_is_int(tu_logged("t.re, line "), 7, "seven bad lines reported");
	tap_is_int(tu_logged("line 14: missing closing"), 1,
	    "unclosed pattern reported with its line");
	tap_is_int(tu_logged("line 15: $number beyond"), 1,
	    "$2 beyond the groups reported");
	tap_is_int(tu_logged("line 16: $number in the result of a negated"),
	    1, "$1 in a negated rule reported");
	tap_is_int(tu_logged("line 17: missing result"), 1,
	    "missing result reported");
	tap_is_int(tu_logged("line 18: endif without"), 1,
	    "stray endif reported");
	tap_is_int(tu_logged("line 20: unknown pattern flag"), 1,
	    "unknown flag reported");
	map_close(m);
	free(spec);
	free(path);
}

int
main(void)
{
	char	*dir = tu_dir(), *path, *spec;
	const char *text;
	struct map *m;

	log_init("map_regexp_test", 0);
	run(dir, "regexp");
	run(dir, "pcre");

	/* PCRE-only syntax and a missing endif. */
	text = "/^(?<u>[a-z]+)\\d+@/ $1\nif /x/\n/y/ inner\n";
	path = tu_write(dir, "p.pcre", text, strlen(text));
	spec = xasprintf("pcre:%s", path);
	tu_capture();
	m = map_open(spec, 0);
	tu_lookup(m, "abc123@x", MAP_FOUND, "abc", "pcre: \\w, \\d, named");
	tu_lookup(m, "xy", MAP_FOUND, "inner", "pcre: unterminated if");
	tap_is_int(tu_logged("missing endif"), 1, "missing endif reported");
	map_close(m);
	free(spec);
	free(path);

	/* regexp: x flag turns extended syntax off (basic RE). */
	text = "/a+b/x basic\n/a+b/ ere\n";
	path = tu_write(dir, "b.re", text, strlen(text));
	spec = xasprintf("regexp:%s", path);
	m = map_open(spec, 0);
	tu_lookup(m, "a+b", MAP_FOUND, "basic", "regexp: x flag gives BRE");
	tu_lookup(m, "aab", MAP_FOUND, "ere", "regexp: ERE by default");
	map_close(m);
	free(spec);
	free(path);

	/* Missing file: MAP_RETRY, never NOTFOUND. */
	spec = xasprintf("regexp:%s/none", dir);
	m = map_open(spec, 0);
	tu_lookup(m, "x", MAP_RETRY, NULL, "regexp: missing file is RETRY");
	map_close(m);
	free(spec);
	spec = xasprintf("pcre:%s/none", dir);
	m = map_open(spec, 0);
	tu_lookup(m, "x", MAP_RETRY, NULL, "pcre: missing file is RETRY");
	map_close(m);
	free(spec);

	tu_rmdir(dir);
	free(dir);
	return (tap_done());
}
