/*
 * NAME
 *	map_mysql_test - mysql: .cf parsing and failure modes without a
 *	server (tests/20-mysql-maps.t runs against a real MariaDB)
 */
#include <time.h>

#include "map_testutil.h"

static const struct {
	const char *name;
	const char *cf;
	const char *error;	/* substring of map_error() after open */
} bad[] = {
	{"line without =", "user = u\nthis is not a setting\n", "line 2"},
	{"no query", "hosts = 127.0.0.1\ndbname = d\n", "no query"},
	{"no dbname", "query = SELECT 1\n", "no dbname"},
	{"unknown % in query", "dbname = d\nquery = SELECT '%x'\n",
	"unknown %"},
	{"unknown % in result_format",
	"dbname = d\nquery = SELECT 1\nresult_format = %q\n", "unknown %"},
	{"trailing % in query", "dbname = d\nquery = SELECT '%'\n",
	"unknown %"},
	{"NUL byte in a line", "dbname = d\nquery = SELECT\0 1\n", "line 2"},
	{"empty file", "", "no query"},
};

int
main(void)
{
	char	*dir = tu_dir(), *path, *spec, *v;
	struct map *m;
	size_t	 i;
	time_t	 start;
	const char *cf;

	log_init("map_mysql_test", 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t	 len = strlen(bad[i].cf);

		if (strstr(bad[i].name, "NUL"))
			len = sizeof("dbname = d\nquery = SELECT\0 1\n") - 1;
		path = tu_write(dir, "bad.cf", bad[i].cf, len);
		spec = xasprintf("mysql:%s", path);
		m = map_open(spec, 0);
		tap_ok(map_error(m) && strstr(map_error(m), bad[i].error),
		    "%s: open error mentions \"%s\" (%s)", bad[i].name,
		    bad[i].error, map_error(m) ? map_error(m) : "no error");
		tu_lookup(m, "john@example.org", MAP_RETRY, NULL, bad[i].name);
		map_close(m);
		free(spec);
		free(path);
	}

	spec = xasprintf("mysql:%s/missing.cf", dir);
	m = map_open(spec, 0);
	tu_lookup(m, "x", MAP_RETRY, NULL, "missing .cf: RETRY");
	map_close(m);
	free(spec);

	/* Nobody listens on port 1: a quick RETRY, never NOTFOUND. */
	cf = "# comment\nhosts = inet:127.0.0.1:1, 127.0.0.1:1\n"
	    "user = u\npassword = p\ndbname = d\n"
	    "query = SELECT 1 FROM t WHERE\n  x='%s'\nconnect_timeout = 2\n";
	path = tu_write(dir, "dead.cf", cf, strlen(cf));
	spec = xasprintf("mysql:%s", path);
	m = map_open(spec, 0);
	tap_ok(map_error(m) == NULL, "valid .cf opens without connecting");
	start = time(NULL);
	tu_lookup(m, "john@example.org", MAP_RETRY, NULL,
	    "server down: RETRY");
	tap_ok(strstr(map_error(m), "no database server available") != NULL,
	    "server down: error says so (%s)", map_error(m));
	tu_lookup(m, "x' OR '1'='1", MAP_RETRY, NULL,
	    "server down, hostile key: RETRY");
	tap_ok(time(NULL) - start < 10, "server down: failure is quick");
	v = NULL;
	tap_is_int(map_lookup(m, "\xff\xfe", &v), MAP_NOTFOUND,
	    "invalid UTF-8 key: not found without a query");
	map_close(m);
	free(spec);
	free(path);

	/* domain restriction: keys outside it never reach the server. */
	cf = "hosts = 127.0.0.1:1\ndbname = d\nquery = SELECT '%s'\n"
	    "domain = example.org, inline:{example.net=yes}\n";
	path = tu_write(dir, "dom.cf", cf, strlen(cf));
	spec = xasprintf("mysql:%s", path);
	m = map_open(spec, 0);
	tu_lookup(m, "a@example.com", MAP_NOTFOUND, NULL,
	    "domain list: other domain not looked up");
	tu_lookup(m, "bare-user", MAP_NOTFOUND, NULL,
	    "domain list: key without @ not looked up");
	tu_lookup(m, "a@EXAMPLE.org", MAP_RETRY, NULL,
	    "domain list: listed domain is looked up");
	tu_lookup(m, "a@example.net", MAP_RETRY, NULL,
	    "domain list: domain from a map is looked up");
	map_close(m);
	free(spec);
	free(path);

	/* %d without a domain, %3 beyond the labels: no query at all. */
	cf = "hosts = 127.0.0.1:1\ndbname = d\nquery = SELECT '%d' '%3'\n";
	path = tu_write(dir, "sup.cf", cf, strlen(cf));
	spec = xasprintf("mysql:%s", path);
	m = map_open(spec, 0);
	tu_lookup(m, "nodomain", MAP_NOTFOUND, NULL,
	    "%d of a key without domain: no query, not found");
	tu_lookup(m, "a@example.org", MAP_NOTFOUND, NULL,
	    "%3 beyond the labels: no query, not found");
	tu_lookup(m, "a@mail.example.org", MAP_RETRY, NULL,
	    "enough labels: query tried (server down: RETRY)");
	map_close(m);
	free(spec);
	free(path);

	tu_rmdir(dir);
	free(dir);
	return (tap_done());
}
