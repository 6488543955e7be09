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

/* the %XX codec: the queue's and the IPC's escape sets */
#define Q_ALSO	"\r\n \t="
#define A_ALSO	"\r\n"

static const struct {
	const char *name;
	const char *in;
	const char *also;
	const char *want;
} pct_put_vec[] = {
	{"pct: empty", "", Q_ALSO, ""},
	{"pct: plain", "user@example.com", Q_ALSO, "user@example.com"},
	{"pct: queue set", "a b\tc=d%e\r\n", Q_ALSO,
	    "a%20b%09c%3Dd%25e%0D%0A"},
	{"pct: ipc set keeps space, tab, =", "a b\tc=d%e\r\n", A_ALSO,
	    "a b\tc=d%25e%0D%0A"},
	{"pct: '%' always", "%%", "", "%25%25"},
	{"pct: 8-bit kept", "\xc3\xa9\xff", Q_ALSO, "\xc3\xa9\xff"},
	{"pct: upper-case hex", "\n=", Q_ALSO, "%0A%3D"},
};

static const struct {
	const char *name;
	const char *in;
	const char *want;	/* NULL: malformed */
	size_t	 wantlen;
} pct_get_vec[] = {
	{"pct get: empty", "", "", 0},
	{"pct get: plain", "abc", "abc", 3},
	{"pct get: escapes", "a%20b%3d%3Dc%25", "a b==c%", 7},
	{"pct get: lower-case hex", "%0d%0a", "\r\n", 2},
	{"pct get: any byte may be escaped", "%41%ff", "A\xff", 2},
	{"pct get: %00 is a NUL byte", "a%00b", "a\0b", 3},
	{"pct get: lone %", "%", NULL, 0},
	{"pct get: one digit", "ab%4", NULL, 0},
	{"pct get: bad digit", "%4g", NULL, 0},
	{"pct get: sign is no digit", "%+1", NULL, 0},
	{"pct get: space is no digit", "% 1", NULL, 0},
	{"pct get: escaped percent not re-read", "%2541", "%41", 3},
};

/* test_pct - vectors, then every byte value round trip */
static void
test_pct(void)
{
	size_t	 i, n;
	char	*got, all[256];
	struct buf *b;

	for (i = 0; i < sizeof(pct_put_vec) / sizeof(pct_put_vec[0]); i++) {
		b = buf_new(8);
		str_pct_put(b, pct_put_vec[i].in, pct_put_vec[i].also);
		tap_is_str(BUF_STR(b), pct_put_vec[i].want, pct_put_vec[i].name);
		buf_free(b);
	}
	for (i = 0; i < sizeof(pct_get_vec) / sizeof(pct_get_vec[0]); i++) {
		n = 12345;
		got = str_pct_get(pct_get_vec[i].in, strlen(pct_get_vec[i].in),
		    &n);
		if (pct_get_vec[i].want == NULL)
			tap_ok(got == NULL, "%s", pct_get_vec[i].name);
		else
			tap_ok(got != NULL && n == pct_get_vec[i].wantlen
			    && memcmp(got, pct_get_vec[i].want, n + 1) == 0,
			    "%s", pct_get_vec[i].name);
		free(got);
	}
	/* len bounds the input: "%41" cut after "%4" is malformed */
	tap_ok(str_pct_get("%41", 2, NULL) == NULL, "pct get: len is honoured");
	for (i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = 0;
	b = buf_new(8);
	str_pct_put(b, all, Q_ALSO);
	tap_ok(strpbrk(BUF_STR(b), Q_ALSO) == NULL,
	    "pct: no byte of the set left raw");
	got = str_pct_get(BUF_STR(b), BUF_LEN(b), &n);
	tap_ok(got != NULL && n == 255 && strcmp(got, all) == 0,
	    "pct: bytes 1..255 round trip");
	free(got);
	buf_free(b);
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
	test_pct();
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
