/*
 * NAME
 *	str_test - table-driven tests for str.c and buf.c
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "str.h"
#include "tap.h"
#include "xalloc.h"

static const struct {
	const char *name;
	const char *in;
	int	 unit;
	int	 ret;
	long	 want;
} time_vec[] = {
	{"bare number uses default unit", "300", 's', 0, 300},
	{"seconds", "300s", 's', 0, 300},
	{"minutes", "5m", 's', 0, 300},
	{"hours", "6h", 's', 0, 21600},
	{"days", "5d", 's', 0, 432000},
	{"weeks", "1w", 's', 0, 604800},
	{"default unit days", "5", 'd', 0, 432000},
	{"empty", "", 's', -1, 0},
	{"unit only", "s", 's', -1, 0},
	{"bad unit", "5x", 's', -1, 0},
	{"trailing junk", "5ss", 's', -1, 0},
	{"negative", "-5", 's', -1, 0},
	{"overflow", "99999999999999999999w", 's', -1, 0},
};

static const struct {
	const char *name;
	const char *in;
	const char *want;	/* joined with | */
} split_vec[] = {
	{"commas and spaces", "a, b,c  d", "a|b|c|d"},
	{"newlines and tabs", "\n\ta\n\tb\n", "a|b"},
	{"empty", "", ""},
	{"only separators", " , ,\t", ""},
	{"8-bit bytes kept", "\xc3\xa9t\xc3\xa9, x", "\xc3\xa9t\xc3\xa9|x"},
};

/* Postfix's mystrtokq() test cases first, then the copies' differences */
static const struct {
	const char *name;
	const char *in;
	const char *want;	/* joined with | */
} splitq_vec[] = {
	{"q: empty", "", ""},
	{"q: only separators", " ,\t,\r\n ", ""},
	{"q: plain words", "foo bar", "foo|bar"},
	{"q: group alone", "{ bar }  ", "{ bar }"},
	{"q: group between words", "foo { bar } baz", "foo|{ bar }|baz"},
	{"q: group glued before", "foo{ bar } baz", "foo{ bar }|baz"},
	{"q: group glued after", "foo { bar }baz", "foo|{ bar }baz"},
	{"q: commas inside a group", "a, {b, c}, d", "a|{b, c}|d"},
	{"q: empty items", ",,a,, ,b,", "a|b"},
	{"q: empty group is an item", "a {} b", "a|{}|b"},
	{"q: nested groups", "x {a {b c} d} y", "x|{a {b c} d}|y"},
	{"q: inline table", "inline:{ a=1, { b = 2 3 } } z",
	    "inline:{ a=1, { b = 2 3 } }|z"},
	{"q: stray close brace is a character", "a} b }c", "a}|b|}c"},
	{"q: close before open", "} {a b}", "}|{a b}"},
	{"q: unclosed group runs to the end", "a {b c, d", "a|{b c, d"},
	{"q: unclosed nested group", "a {b {c} d", "a|{b {c} d"},
	{"q: 8-bit bytes kept", "\xc3\xa9 {\xff \x80}", "\xc3\xa9|{\xff \x80}"},
	{"q: bare LF separates", "a\nb\n", "a|b"},
	{"q: quotes are not special", "\"a b\" c", "\"a|b\"|c"},
};

static const struct {
	const char *name;
	const char *in;
	int	 want;
} balanced_vec[] = {
	{"balanced: empty", "", 1},
	{"balanced: no braces", "a b", 1},
	{"balanced: one group", "{a}", 1},
	{"balanced: nested", "{a {b} {c {d}}}", 1},
	{"balanced: two groups", "{a} {b}", 1},
	{"balanced: unclosed", "{a", 0},
	{"balanced: unclosed nested", "{a {b}", 0},
	{"balanced: stray close", "a}", 0},
	{"balanced: close before open", "}{", 0},
	{"balanced: closes too early", "{a}}{b", 0},
};

/* test_splitq - the table, then long and deeply nested input */
static void
test_splitq(void)
{
	size_t	 i, n = 200000;
	char	*big = xmalloc(n + 1), *cp, *tok;
	struct strv *sv;
	char	*j;

	for (i = 0; i < sizeof(splitq_vec) / sizeof(splitq_vec[0]); i++) {
		sv = strv_splitq(splitq_vec[i].in, STR_LIST_DELIMS);
		j = strv_join(sv, "|");
		tap_is_str(j, splitq_vec[i].want, splitq_vec[i].name);
		free(j);
		strv_free(sv);
	}
	for (i = 0; i < sizeof(balanced_vec) / sizeof(balanced_vec[0]); i++)
		tap_is_int(str_balanced(balanced_vec[i].in),
		    balanced_vec[i].want, balanced_vec[i].name);
	sv = strv_splitq(NULL, STR_LIST_DELIMS);
	tap_is_int((long)sv->argc, 0, "q: NULL is the empty list");
	strv_free(sv);

	/* 100000 nested '{' then as many '}': one token, all of it */
	memset(big, '{', n / 2);
	memset(big + n / 2, '}', n / 2);
	big[n] = 0;
	big[n / 2] = ' ';
	big[n / 2 + 1] = ',';
	sv = strv_splitq(big, STR_LIST_DELIMS);
	tap_ok(sv->argc == 1 && strlen(sv->argv[0]) == n,
	    "q: 100000 nested groups are one token");
	strv_free(sv);
	tap_is_int(str_balanced(big), 0, "balanced: 100000 nested, two short");

	/* 200000 bytes of "x," : 100000 one-letter tokens, in place */
	for (i = 0; i < n; i += 2) {
		big[i] = 'x';
		big[i + 1] = ',';
	}
	for (i = 0, cp = big; (tok = str_tokq(&cp, ",")) != NULL; i++)
		if (strcmp(tok, "x") != 0)
			break;
	tap_is_int((long)i, (long)(n / 2), "q: 100000 items in place");
	tap_ok(*cp == 0, "q: cursor rests at the end");
	tap_ok(str_tokq(&cp, ",") == NULL, "q: NULL again after the end");
	free(big);
}

int
main(void)
{
	size_t	 i;
	long	 v;
	int	 b;

	for (i = 0; i < sizeof(time_vec) / sizeof(time_vec[0]); i++) {
		v = 0;
		tap_is_int(str_parse_time(time_vec[i].in, time_vec[i].unit, &v),
		    time_vec[i].ret, time_vec[i].name);
		if (time_vec[i].ret == 0)
			tap_is_int(v, time_vec[i].want, time_vec[i].name);
	}
	for (i = 0; i < sizeof(split_vec) / sizeof(split_vec[0]); i++) {
		struct strv *sv = strv_split(split_vec[i].in, STR_LIST_DELIMS);
		char	*j = strv_join(sv, "|");

		tap_is_str(j, split_vec[i].want, split_vec[i].name);
		free(j);
		strv_free(sv);
	}
	test_splitq();
	tap_ok(str_parse_bool("Yes", &b) == 0 && b == 1, "bool yes");
	tap_ok(str_parse_bool("off", &b) == 0 && b == 0, "bool off");
	tap_ok(str_parse_bool("maybe", &b) == -1, "bool rejects maybe");
	{
		struct buf *bf = buf_new(1);
		char	 big[5000];

		memset(big, 'x', sizeof(big));
		buf_append(bf, "a\0b", 3);
		tap_is_int((long)BUF_LEN(bf), 3, "buf keeps NUL bytes");
		buf_append(bf, big, sizeof(big));
		buf_printf(bf, "%d-%s", 42, "z");
		tap_is_int((long)BUF_LEN(bf), 3 + 5000 + 4, "buf grows");
		tap_is_str(BUF_STR(bf) + 5003, "42-z", "buf_printf appends");
		buf_free(bf);
	}
	{
		char	 s[] = "  hello world \t\n";

		tap_is_str(str_trim(s), "hello world", "trim");
	}
	return (tap_done());
}
