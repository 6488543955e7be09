/*
 * NAME
 *	postscreen_cache_test - the LMDB temporary allow-list
 * DESCRIPTION
 *	Record format round trips and hostile records (table-driven),
 *	the spec-to-path mapping, then a real LMDB file in a temporary
 *	directory: put/get, overwrite, persistence across reopen, hostile
 *	keys, and cleanup with the retention time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "postscreen.h"
#include "tap.h"
#include "xalloc.h"

struct parse_case {
	const char *name;
	const char *text;
	int	 want_rc;
	long	 want0;
	long	 want4;
};

static const struct parse_case parse_cases[] = {
	{"plain", "100;200;300;400;500", 0, 100, 500},
	{"new and disabled", "0;1;0;1;1", 0, 0, 1},
	{"empty", "", -1, 0, 0},
	{"too few", "1;2;3;4", -1, 0, 0},
	{"too many", "1;2;3;4;5;6", -1, 0, 0},
	{"trailing ;", "1;2;3;4;5;", -1, 0, 0},
	{"negative", "-1;2;3;4;5", -1, 0, 0},
	{"letters", "1;2;x;4;5", -1, 0, 0},
	{"spaces", "1; 2;3;4;5", -1, 0, 0},
	{"bare LF", "1;2;3;4;5\n", -1, 0, 0},
	{"8-bit", "1;2;3;4;5\xff", -1, 0, 0},
	{"overflow", "99999999999999999999999;2;3;4;5", -1, 0, 0},
	{"empty field", "1;;3;4;5", -1, 0, 0},
};

/* test_format - record round trips */
static void
test_format(void)
{
	long	 stamps[PSC_NTESTS], in[PSC_NTESTS] = {1, 0, 1700000000,
	    42, 1};
	char	 text[128];
	size_t	 i;

	psc_stamps_format(in, text, sizeof(text));
	tap_is_str(text, "1;0;1700000000;42;1", "format");
	tap_is_int(psc_stamps_parse(text, stamps), 0, "round trip parses");
	tap_ok(memcmp(in, stamps, sizeof(in)) == 0, "round trip equal");
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];

		memset(stamps, 0, sizeof(stamps));
		tap_is_int(psc_stamps_parse(c->text, stamps), c->want_rc,
		    c->name);
		if (c->want_rc == 0) {
			tap_is_int(stamps[0], c->want0, c->name);
			tap_is_int(stamps[4], c->want4, c->name);
		}
	}
}

/* test_path - spec to LMDB path */
static void
test_path(void)
{
	static const struct {
		const char *spec;
		const char *want;
	} cases[] = {
		{"btree:/var/lib/postern/postscreen_cache",
		    "/var/lib/postern/postscreen_cache.lmdb"},
		{"hash:/x/c", "/x/c.lmdb"},
		{"lmdb:/x/c", "/x/c.lmdb"},
		{"/x/c", "/x/c.lmdb"},
		{"", NULL},
		{"btree:", NULL},
		{"mysql:/etc/x.cf", NULL},
		{"proxy:btree:/x", NULL},
	};
	size_t	 i;
	char	*p;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = psc_cache_path(cases[i].spec);
		tap_is_str(p, cases[i].want, cases[i].spec[0] ?
		    cases[i].spec : "empty spec");
		free(p);
	}
	tap_ok(psc_cache_path(NULL) == NULL, "NULL spec");
}

/* test_lmdb - a real cache file */
static void
test_lmdb(void)
{
	char	 dir[] = "/tmp/psc_cache_test.XXXXXX", path[256], err[256];
	char	 longkey[600];
	struct psc_cache *c;
	long	 a[PSC_NTESTS] = {5000, 1, 6000, 7000, 1};
	long	 b[PSC_NTESTS] = {100, 100, 100, 100, 100};
	long	 dead[PSC_NTESTS] = {10, 1, 0, 20, 1};
	long	 got[PSC_NTESTS], kept = -1;

	tap_ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/postscreen_cache.lmdb", dir);
	c = psc_cache_open(path, err, sizeof(err));
	tap_ok(c != NULL, "open creates the file");
	if (c == NULL)
		return;
	tap_is_int(psc_cache_get(c, "127.0.0.2", got), 0, "missing client");
	tap_is_int(psc_cache_put(c, "127.0.0.2", a), 0, "put");
	tap_is_int(psc_cache_get(c, "127.0.0.2", got), 1, "get after put");
	tap_ok(memcmp(got, a, sizeof(a)) == 0, "stamps equal");
	tap_is_int(psc_cache_put(c, "127.0.0.2", b), 0, "overwrite");
	tap_is_int(psc_cache_get(c, "127.0.0.2", got), 1, "get overwritten");
	tap_is_int(got[0], 100, "overwritten value");
	tap_is_int(psc_cache_put(c, "2001:db8::1", a), 0, "IPv6 key");
	tap_is_int(psc_cache_put(c, "", a), -1, "empty key refused");
	memset(longkey, 'a', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	tap_is_int(psc_cache_put(c, longkey, a), -1, "overlong key refused");
	tap_ok(psc_cache_get(c, longkey, got) != 1, "overlong key not found");
	tap_is_int(psc_cache_put(c, "10.0.0.1", dead), 0, "put dead 1");
	tap_is_int(psc_cache_put(c, "10.0.0.2", dead), 0, "put dead 2");
	tap_is_int(psc_cache_put(c, "10.0.0.3", dead), 0, "put dead 3");
	psc_cache_close(c);

	c = psc_cache_open(path, err, sizeof(err));
	tap_ok(c != NULL, "reopen");
	if (c == NULL)
		return;
	tap_is_int(psc_cache_get(c, "2001:db8::1", got), 1,
	    "persists across reopen");
	/* now=1000, retention 500: "dead" (max 20) and b (100) are gone. */
	tap_is_int(psc_cache_cleanup(c, 1000, 500, &kept), 4,
	    "cleanup deletes 4");
	tap_is_int(kept, 1, "cleanup keeps 1");
	tap_is_int(psc_cache_get(c, "10.0.0.2", got), 0, "dead entry gone");
	tap_is_int(psc_cache_get(c, "127.0.0.2", got), 0, "expired gone");
	tap_is_int(psc_cache_get(c, "2001:db8::1", got), 1, "live kept");
	tap_is_int(psc_cache_cleanup(c, 1000, 500, NULL), 0,
	    "second cleanup no-op");
	tap_is_int(psc_cache_cleanup(c, 100000, 500, NULL), 1,
	    "all expire later");
	psc_cache_close(c);
	psc_cache_close(NULL);

	snprintf(path, sizeof(path), "%s/no/such/dir/c.lmdb", dir);
	c = psc_cache_open(path, err, sizeof(err));
	tap_ok(c == NULL && strstr(err, "no/such/dir") != NULL,
	    "open in a missing directory fails with a message");

	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		tap_ok(0, "cleanup temp dir");
}

int
main(void)
{
	log_init("postscreen_cache_test", 0);
	test_format();
	test_path();
	test_lmdb();
	return (tap_done());
}
