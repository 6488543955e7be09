/*
 * NAME
 *	map_cidr_test - table-driven tests for cidr: tables
 */
#include "map_testutil.h"

static const char table[] =
	"# comment\n"
	"192.168.1.1 exact\n"
	"192.168.0.0/16 net16\n"
	"10.0.0.0/8 ten\n"
	"10.1.0.0/16 shadowed\n"
	"2001:db8::/32 v6\n"
	"[2001:db9::]/32 v6 bracketed\n"
	"::1 v6lo\n"
	"10.0.0.1/8 host bits set\n"		/* line 9: skipped */
	"300.1.1.1 bad address\n"		/* line 10 */
	"172.16.0.0/33 bad prefix\n"		/* line 11 */
	"172.16.0.0/12\n"			/* line 12: no result */
	"garbage\n"				/* line 13 */
	"172.16.0.0/-1 negative\n"		/* line 14 */
	"\xc3\xa9.1.1.1 eight-bit\n"		/* line 15 */
	"203.0.113.0/24 REJECT\n"
	"  continued\n"
	"0.0.0.0/0 default4\n";

static const struct {
	const char *name;
	const char *key;
	int	 want;
	const char *value;
} vec[] = {
	{"exact host", "192.168.1.1", MAP_FOUND, "exact"},
	{"in /16", "192.168.200.9", MAP_FOUND, "net16"},
	{"first match wins", "10.1.2.3", MAP_FOUND, "ten"},
	{"IPv6 network", "2001:db8::1", MAP_FOUND, "v6"},
	{"IPv6 upper case", "2001:DB8:0:0::FFFF", MAP_FOUND, "v6"},
	{"bracketed rule, bracketed key", "[2001:db9::5]", MAP_FOUND,
	"v6 bracketed"},
	{"IPv6 loopback", "::1", MAP_FOUND, "v6lo"},
	{"IPv4-mapped IPv6 key", "::ffff:10.9.9.9", MAP_FOUND, "ten"},
	{"continued result", "203.0.113.77", MAP_FOUND, "REJECT  continued"},
	{"catch-all v4", "1.2.3.4", MAP_FOUND, "default4"},
	{"v6 not covered by v4 default", "2001:dead::1", MAP_NOTFOUND, NULL},
	{"empty key", "", MAP_NOTFOUND, NULL},
	{"hostname key", "mail.example.com", MAP_NOTFOUND, NULL},
	{"address with port", "10.0.0.1:25", MAP_NOTFOUND, NULL},
	{"trailing junk", "10.0.0.1x", MAP_NOTFOUND, NULL},
	{"8-bit key", "10.0.0.\xff", MAP_NOTFOUND, NULL},
	{"unbalanced bracket", "[::1", MAP_NOTFOUND, NULL},
	{"bad line was skipped", "300.1.1.1", MAP_NOTFOUND, NULL},
};

int
main(void)
{
	char	*dir = tu_dir(), *path, *spec, *huge;
	struct map *m;
	size_t	 i;

	log_init("map_cidr_test", 0);
	tu_capture();
	path = tu_write(dir, "t.cidr", table, sizeof(table) - 1);
	spec = xasprintf("cidr:%s", path);
	m = map_open(spec, 0);
	tap_ok(map_error(m) == NULL, "cidr table opens");
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++)
		tu_lookup(m, vec[i].key, vec[i].want, vec[i].value,
		    vec[i].name);
	huge = xmalloc(100001);
	memset(huge, '1', 100000);
	huge[100000] = 0;
	tu_lookup(m, huge, MAP_NOTFOUND, NULL, "100 KB key");
	free(huge);
	tap_is_int(tu_logged("t.cidr, line "), 7, "seven bad lines reported");
	tap_is_int(tu_logged("line 9: non-null host address bits"), 1,
	    "host bits reported with line number");
	tap_is_int(tu_logged("line 11: bad network prefix"), 1,
	    "bad prefix reported");
	tap_is_int(tu_logged("line 12: expected"), 1,
	    "missing result reported");
	map_close(m);

	/* A file with a NUL byte: that line is skipped, the rest loads. */
	free(path);
	path = tu_write(dir, "nul.cidr", "10.0.0.0/8 a\0b\n127.0.0.1 lo\n",
	    28);
	free(spec);
	spec = xasprintf("cidr:%s", path);
	m = map_open(spec, 0);
	tu_lookup(m, "10.1.1.1", MAP_NOTFOUND, NULL, "NUL line skipped");
	tu_lookup(m, "127.0.0.1", MAP_FOUND, "lo", "line after NUL loads");
	map_close(m);

	/* A table that cannot be opened: RETRY, never NOTFOUND. */
	free(spec);
	spec = xasprintf("cidr:%s/missing.cidr", dir);
	m = map_open(spec, 0);
	tap_ok(map_error(m) != NULL && strstr(map_error(m), "missing.cidr")
	    != NULL, "open error available right after map_open");
	tu_lookup(m, "10.0.0.1", MAP_RETRY, NULL, "missing table: MAP_RETRY");
	map_close(m);

	free(spec);
	free(path);
	tu_rmdir(dir);
	free(dir);
	return (tap_done());
}
