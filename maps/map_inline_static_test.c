/*
 * NAME
 *	map_inline_static_test - static:, inline:, memory:, surrogates and
 *	map lists
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
