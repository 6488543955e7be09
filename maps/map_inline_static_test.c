/*
 * NAME
 *	map_inline_static_test - static:, inline:, memory:, surrogates,
 *	map lists and map_spec_local()
 */
#include "conf.h"
#include "map_testutil.h"

static const struct {
	const char *name;
	const char *spec;
	const char *key;
	int	 want;
	const char *value;
} vec[] = {
	{"static value", "static:OK", "anything", MAP_FOUND, "OK"},
	{"static with braces", "static:{text with spaces}", "k", MAP_FOUND,
	"text with spaces"},
	{"static with empty key", "static:5000", "", MAP_FOUND, "5000"},
	{"inline simple", "inline:{a=1, b=2}", "b", MAP_FOUND, "2"},
	{"inline folds keys", "inline:{Key=V}", "KEY", MAP_FOUND, "V"},
	{"inline braced item", "inline:{ a=1, { b = x, y z } }", "b",
	MAP_FOUND, "x, y z"},
	{"inline missing key", "inline:{a=1}", "c", MAP_NOTFOUND, NULL},
	{"inline empty value", "inline:{a=}", "a", MAP_FOUND, ""},
	{"inline empty table", "inline:{}", "a", MAP_NOTFOUND, NULL},
	{"inline 8-bit", "inline:{\xc3\xa9=e}", "\xc3\xa9", MAP_FOUND, "e"},
	{"inline without braces", "inline:a=1", "a", MAP_RETRY, NULL},
	{"inline unbalanced", "inline:{a=1, {b=2}", "a", MAP_RETRY, NULL},
	{"inline stray close brace", "inline:{a=1}, {b=2}", "a", MAP_RETRY,
	    NULL},
	{"inline unclosed inner group", "inline:{a=1, {b=2 }", "a", MAP_RETRY,
	    NULL},
	{"inline item without =", "inline:{a}", "a", MAP_RETRY, NULL},
	{"inline empty key", "inline:{=v}", "", MAP_RETRY, NULL},
	{"static unbalanced", "static:{x", "a", MAP_RETRY, NULL},
	{"unknown type", "nosuch:/etc/x", "a", MAP_RETRY, NULL},
	{"no type", "/etc/postfix/virtual", "a", MAP_RETRY, NULL},
	{"empty spec", "", "a", MAP_RETRY, NULL},
	{"proxy: prefix ignored", "proxy:static:P", "a", MAP_FOUND, "P"},
	{"unix:passwd.byname root", "unix:passwd.byname", "root", MAP_FOUND,
	NULL},
	{"unix:passwd.byname unknown", "unix:passwd.byname",
	"no-such-user-xyz", MAP_NOTFOUND, NULL},
	{"unix: unknown table", "unix:shadow", "root", MAP_RETRY, NULL},
};

/* map_spec_local(): len 0 means strlen(spec) */
static const struct {
	const char *name;
	const char *spec;
	size_t	 len;
	int	 want;
} local_vec[] = {
	{"hash: is local", "hash:/etc/postfix/access", 0, 1},
	{"lmdb: is local", "lmdb:/x", 0, 1},
	{"btree: is local", "btree:/x", 0, 1},
	{"texthash: is local", "texthash:/x", 0, 1},
	{"cidr: is local", "cidr:/x.cidr", 0, 1},
	{"regexp: is local", "regexp:/x", 0, 1},
	{"pcre: is local", "pcre:/x", 0, 1},
	{"inline: is local", "inline:{a=b}", 0, 1},
	{"static: is local", "static:OK", 0, 1},
	{"memory: is local", "memory:t", 0, 1},
	{"proxy:hash: is hash:", "proxy:hash:/x", 0, 1},
	{"proxy:mysql: is a server", "proxy:mysql:/x.cf", 0, 0},
	{"only one proxy: is stripped", "proxy:proxy:hash:/x", 0, 0},
	{"proxy: alone", "proxy:", 0, 0},
	{"mysql: is a server", "mysql:/etc/postfix/m.cf", 0, 0},
	{"unix: may ask NSS", "unix:passwd.byname", 0, 0},
	{"unknown type", "nosuch:/x", 0, 0},
	{"no type", "/etc/postfix/access", 0, 0},
	{"type without a name", "hash:", 0, 0},
	{"proxy: type without a name", "proxy:hash:", 0, 0},
	{"type is case-sensitive", "HASH:/x", 0, 0},
	{"type must start the spec", " hash:/x", 0, 0},
	{"prefix of a type name", "has:/x", 0, 0},
	{"first spec of a list", "hash:/x, mysql:/y.cf", 7, 1},
	{"len ends inside the type", "hash:/x", 4, 0},
	{"len ends at the colon", "hash:/x", 5, 0},
	{"len ends inside proxy:", "proxy:hash:/x", 6, 0},
	{"len at the name's first byte", "hash:/x", 6, 1},
};

int
main(void)
{
	struct map *m, *m2;
	struct maplist *l;
	char	*v;
	size_t	 i;
	int	 ret;

	log_init("map_inline_static_test", 0);
	conf_set("recipient_delimiter", "+");
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		m = map_open(vec[i].spec, 0);
		v = NULL;
		ret = map_lookup(m, vec[i].key, &v);
		tap_is_int(ret, vec[i].want, vec[i].name);
		if (vec[i].value)
			tap_is_str(v, vec[i].value, vec[i].name);
		if (ret == MAP_RETRY)
			tap_ok(map_error(m) != NULL && *map_error(m),
			    "%s: has an error text", vec[i].name);
		free(v);
		map_close(m);
	}

	for (i = 0; i < sizeof(local_vec) / sizeof(local_vec[0]); i++)
		tap_is_int(map_spec_local(local_vec[i].spec, local_vec[i].len ?
		    local_vec[i].len : strlen(local_vec[i].spec)),
		    local_vec[i].want, local_vec[i].name);

	/* memory: tables are shared by name. */
	m = map_open("memory:t1", 0);
	tap_is_int(map_update(m, "Key", "value"), 0, "memory: update");
	m2 = map_open("memory:t1", 0);
	tu_lookup(m2, "KEY", MAP_FOUND, "value", "memory: shared by name");
	tap_is_int(map_update(m2, "key", "v2"), 0, "memory: replace");
	tu_lookup(m, "key", MAP_FOUND, "v2", "memory: replaced value");
	map_close(m2);
	m2 = map_open("memory:t2", 0);
	tu_lookup(m2, "key", MAP_NOTFOUND, NULL, "memory: other name empty");
	map_close(m2);
	m2 = map_open("static:x", 0);
	tap_is_int(map_update(m2, "k", "v"), -1, "static: no updates");
	map_close(m2);

	/* Lists: order, first FOUND wins, RETRY returned at once. */
	l = maplist_open("memory:t1, inline:{key=second, other=o}\t"
	    "static:last", 0);
	tap_is_int((long) maplist_count(l), 3, "list of three maps");
	ret = maplist_lookup(l, "key", &v);
	tap_is_int(ret, MAP_FOUND, "list: first map answers");
	tap_is_str(v, "v2", "list: first map's value");
	free(v);
	ret = maplist_lookup(l, "other", &v);
	tap_is_str(v, "o", "list: second map answers");
	free(v);
	ret = maplist_lookup(l, "zzz", &v);
	tap_is_str(v, "last", "list: static catch-all last");
	free(v);
	maplist_close(l);
	l = maplist_open("inline:{a=1} texthash:/nonexistent/file static:x", 0);
	ret = maplist_lookup(l, "a", &v);
	tap_is_int(ret, MAP_FOUND, "list: found before the broken map");
	free(v);
	ret = maplist_lookup(l, "b", &v);
	tap_is_int(ret, MAP_RETRY,
	    "list: broken map RETRY, later map not asked");
	tap_ok(v == NULL, "list: no value on RETRY");
	tap_ok(maplist_error(l) && strstr(maplist_error(l), "/nonexistent"),
	    "list: error names the broken map");
	tap_ok(maplist_map(l, 1) && map_error(maplist_map(l, 1)) != NULL,
	    "list: maplist_map gives the map and its open error");
	tap_ok(maplist_map(l, 3) == NULL, "list: maplist_map past the end");
	maplist_close(l);
	l = maplist_open("", 0);
	tap_is_int(maplist_lookup(l, "a", &v), MAP_NOTFOUND,
	    "empty list: not found");
	maplist_close(l);
	l = maplist_open(" , ,\t", 0);
	tap_is_int((long) maplist_count(l), 0, "list of separators only");
	maplist_close(l);
	map_close(m);
	map_close(NULL);
	maplist_close(NULL);
	return (tap_done());
}
