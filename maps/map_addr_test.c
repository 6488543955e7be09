/*
 * NAME
 *	map_addr_test - Postfix's address lookup order with
 *	recipient_delimiter
 */
#include "conf.h"
#include "map_testutil.h"

static const char *entries[][2] = {
	{"user+ext@example.com", "full"},
	{"bob@example.com", "bob-dest@example.org"},
	{"carol", "carol-local@example.org"},
	{"dave+x", "dave-ext"},
	{"@example.com", "catchall@example.org"},
	{"multi@example.com", "a@x.org, b@y.org, local"},
	{"erin@example.net", "erin@example.org"},
};

static const struct {
	const char *name;
	const char *addr;
	int	 flags;
	int	 want;
	const char *value;
} vec[] = {
	{"full address wins", "user+ext@example.com", 0, MAP_FOUND, "full"},
	{"user@domain, +ext put back", "bob+foo@example.com", 0, MAP_FOUND,
	"bob-dest+foo@example.org"},
	{"NO_EXT_APPEND", "bob+foo@example.com", MAP_ADDR_NO_EXT_APPEND,
	MAP_FOUND, "bob-dest@example.org"},
	{"plain user@domain", "bob@example.com", 0, MAP_FOUND,
	"bob-dest@example.org"},
	{"ext case kept, key folded", "BOB+Foo@EXAMPLE.COM", 0, MAP_FOUND,
	"bob-dest+Foo@example.org"},
	{"bare user not tried without MAP_ADDR_USER", "carol@example.com", 0,
	MAP_FOUND, "catchall@example.org"},
	{"bare user with MAP_ADDR_USER", "carol@example.com", MAP_ADDR_USER,
	MAP_FOUND, "carol-local@example.org"},
	{"bare user, ext stripped, ext put back", "carol+z@example.com",
	MAP_ADDR_USER, MAP_FOUND, "carol-local+z@example.org"},
	{"user+ext form: no ext appended", "dave+x@example.com",
	MAP_ADDR_USER, MAP_FOUND, "dave-ext"},
	{"ext appended to every list member", "multi+t@example.com", 0,
	MAP_FOUND, "a+t@x.org, b+t@y.org, local+t"},
	{"@domain catch-all, no ext appended", "zed+q@example.com", 0,
	MAP_FOUND, "catchall@example.org"},
	{"NO_DOMAIN skips the catch-all", "zed@example.com",
	MAP_ADDR_NO_DOMAIN, MAP_NOTFOUND, NULL},
	{"other domain", "nobody@other.test", 0, MAP_NOTFOUND, NULL},
	{"delimiter first: not an extension", "+foo@example.net", 0,
	MAP_NOTFOUND, NULL},
	{"empty address", "", 0, MAP_NOTFOUND, NULL},
	{"only @", "@", 0, MAP_NOTFOUND, NULL},
	{"no domain, full key found", "carol", 0, MAP_FOUND,
	"carol-local@example.org"},
	{"two @: last one splits", "erin@evil@example.net", 0, MAP_NOTFOUND,
	NULL},
	{"unbalanced <", "<bob@example.com", 0, MAP_FOUND,
	"catchall@example.org"},
	{"8-bit local part", "\xc3\xa9@example.com", 0, MAP_FOUND,
	"catchall@example.org"},
	{"empty extension", "bob+@example.com", 0, MAP_FOUND,
	"bob-dest+@example.org"},
};

int
main(void)
{
	struct map *m = map_open("memory:addr", 0);
	struct maplist *l;
	char	*v, *dir, *path, *spec, *huge;
	size_t	 i;
	int	 ret;

	log_init("map_addr_test", 0);
	conf_set("recipient_delimiter", "+");
	for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
		map_update(m, entries[i][0], entries[i][1]);
	l = maplist_open("memory:addr", 0);
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		v = NULL;
		ret = maplist_lookup_addr(l, vec[i].addr, vec[i].flags, &v);
		tap_is_int(ret, vec[i].want, vec[i].name);
		if (vec[i].want == MAP_FOUND)
			tap_is_str(v, vec[i].value, vec[i].name);
		free(v);
	}
	huge = xmalloc(65537);
	memset(huge, 'a', 65536);
	huge[65536] = 0;
	huge[100] = '+';
	huge[200] = '@';
	tap_is_int(maplist_lookup_addr(l, huge, MAP_ADDR_USER, &v),
	    MAP_NOTFOUND, "64 KB address");
	free(huge);
	maplist_close(l);

	/* No delimiter configured: nothing is stripped. */
	conf_set("recipient_delimiter", "");
	l = maplist_open("memory:addr", 0);
	tap_is_int(maplist_lookup_addr(l, "bob+foo@example.com", 0, &v),
	    MAP_FOUND, "no delimiter: catch-all only");
	tap_is_str(v, "catchall@example.org", "no delimiter: value");
	free(v);
	maplist_close(l);

	/* Several delimiter characters (Postfix 2.11+). */
	conf_set("recipient_delimiter", "+-");
	l = maplist_open("memory:addr", 0);
	tap_is_int(maplist_lookup_addr(l, "bob-foo@example.com", 0, &v),
	    MAP_FOUND, "delimiter set: - splits too");
	tap_is_str(v, "bob-dest-foo@example.org", "delimiter set: value");
	free(v);
	maplist_close(l);
	conf_set("recipient_delimiter", "+");

	/* regexp maps see only the full address. */
	dir = tu_dir();
	spec = "/^(.*)@regex\\.test$/ $1@re.org\n/^z@strip\\.test$/ stripped\n";
	path = tu_write(dir, "re", spec, strlen(spec));
	spec = xasprintf("regexp:%s memory:addr", path);
	l = maplist_open(spec, 0);
	tap_is_int(maplist_lookup_addr(l, "x+y@regex.test", 0, &v), MAP_FOUND,
	    "regexp: full address");
	tap_is_str(v, "x+y@re.org", "regexp: no ext games");
	free(v);
	tap_is_int(maplist_lookup_addr(l, "z+1@strip.test", MAP_ADDR_USER, &v),
	    MAP_NOTFOUND, "regexp: stripped forms not tried");
	maplist_close(l);
	free(spec);

	/* A broken map in the list: RETRY, even if a later map knows. */
	spec = xasprintf("memory:addr texthash:%s/missing", dir);
	l = maplist_open(spec, 0);
	tap_is_int(maplist_lookup_addr(l, "bob+x@example.com", 0, &v),
	    MAP_RETRY, "broken second map: RETRY on the full form");
	tap_ok(maplist_error(l) != NULL, "broken map: error set");
	maplist_close(l);
	free(spec);

	free(path);
	tu_rmdir(dir);
	free(dir);
	map_close(m);
	return (tap_done());
}
