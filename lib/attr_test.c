/*
 * NAME
 *	attr_test - table-driven tests for attr.c
 * DESCRIPTION
 *	Encoding round trip (%, CR, LF, 8-bit), incomplete input, malformed
 *	input (raw NUL/CR, bad names, bad escapes), the size limit, and
 *	attr_read()/attr_write() over a socketpair including a timeout.
 */
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "tap.h"
#include "xalloc.h"

static const struct {
	const char *name;
	const char *value;
} rt_vec[] = {
	{"plain", "hello world"},
	{"percent", "100% sure %41"},
	{"crlf", "line1\r\nline2\r\n"},
	{"bare lf", "\n\n"},
	{"bare cr", "\r"},
	{"empty", ""},
	{"8-bit", "\xc3\xa9t\xc3\xa9 \xff\x80"},
	{"equals and spaces", "a=b = c"},
	{"escape-looking", "%0A%25%zz"},
};

static const struct {
	const char *name;
	const char *in;
	size_t	 len;		/* 0 = strlen */
	int	 want;		/* 1 list, 0 need more, -1 error */
} parse_vec[] = {
	{"empty input needs more", "", 0, 0},
	{"no terminator", "version=1\n", 0, 0},
	{"half a line", "version=1\nqueue_id=AB", 0, 0},
	{"empty list", "\n", 0, 1},
	{"simple", "version=1\n\n", 0, 1},
	{"line without =", "version\n\n", 0, -1},
	{"empty name", "=x\n\n", 0, -1},
	{"upper-case name", "Version=1\n\n", 0, -1},
	{"space in name", "ver sion=1\n\n", 0, -1},
	{"8-bit name", "v\xe9=1\n\n", 0, -1},
	{"raw CR in value", "a=b\r\n\n", 0, -1},
	{"raw NUL in value", "a=b\0c\n\n", 8, -1},
	{"raw NUL in incomplete data", "a=b\0", 4, -1},
	{"truncated escape", "a=%4\n\n", 0, -1},
	{"bad hex escape", "a=%zz\n\n", 0, -1},
	{"escape at end", "a=%\n\n", 0, -1},
	{"escaped NUL", "a=%00\n\n", 0, -1},
	{"lower-case hex ok", "a=%0a\n\n", 0, 1},
	{"bad line before end", "a\nb=1\n", 0, -1},
	{"crlf list end", "a=1\r\n\r\n", 0, -1},
};

/* test_roundtrip - every value survives put + parse */
static void
test_roundtrip(void)
{
	struct buf *b = buf_new(0);
	struct attr_list *l;
	size_t	 i, used;
	char	 err[100], key[32];
	long	 n;

	attr_put(b, "version", ATTR_VERSION);
	for (i = 0; i < sizeof(rt_vec) / sizeof(rt_vec[0]); i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		attr_put(b, key, rt_vec[i].value);
	}
	attr_put_long(b, "count", -42);
	attr_put(b, "dup", "first");
	attr_put(b, "dup", "second");
	attr_put(b, "n_space", " 5");
	attr_put(b, "n_plus", "+5");
	attr_put(b, "n_junk", "5x");
	attr_put(b, "n_empty", "");
	attr_put(b, "n_huge", "99999999999999999999");
	attr_put(b, "n_max", "9223372036854775807");
	attr_end(b);
	buf_append(b, "next=1\n", 7);	/* start of the next list */
	l = attr_parse(BUF_STR(b), BUF_LEN(b), &used, err, sizeof(err));
	tap_ok(l != NULL, "round trip parses");
	tap_is_int((long)used, (long)BUF_LEN(b) - 7, "used stops at list end");
	for (i = 0; l && i < sizeof(rt_vec) / sizeof(rt_vec[0]); i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		tap_is_str(attr_get(l, key), rt_vec[i].value, rt_vec[i].name);
	}
	tap_is_str(attr_get(l, "version"), "1", "version");
	tap_ok(attr_get_long(l, "count", &n) == 0 && n == -42, "long value");
	tap_ok(attr_get_long(l, "k0", &n) < 0, "non-number is not a long");
	tap_ok(attr_get_long(l, "missing", &n) < 0, "missing long");
	n = 7;
	tap_ok(attr_get_long(l, "n_space", &n) < 0 && attr_get_long(l,
	    "n_plus", &n) < 0 && attr_get_long(l, "n_junk", &n) < 0
	    && attr_get_long(l, "n_empty", &n) < 0 && attr_get_long(l,
	    "n_huge", &n) < 0 && n == 7,
	    "long: leading space, '+', junk, empty, overflow refused");
	tap_ok(attr_get_long(l, "n_max", &n) == 0 && n == 9223372036854775807L,
	    "long: LONG_MAX");
	tap_ok(attr_get(l, "missing") == NULL, "missing name");
	tap_is_str(attr_get(l, "dup"), "first", "duplicate: first wins");
	tap_ok(strstr(BUF_STR(b), "\r") == NULL, "no raw CR on the wire");
	attr_list_free(l);
	attr_list_free(NULL);
	buf_free(b);
}

/* test_prefixes - every proper prefix of a list asks for more */
static void
test_prefixes(void)
{
	struct buf *b = buf_new(0);
	struct attr_list *l;
	size_t	 i, used;
	char	 err[100];
	int	 bad = 0;

	attr_put(b, "version", "1");
	attr_put(b, "reason", "host said: 550\r\n5.1.1 %");
	attr_end(b);
	for (i = 0; i < BUF_LEN(b); i++) {
		l = attr_parse(BUF_STR(b), i, &used, err, sizeof(err));
		if (l != NULL || err[0] || used != 0)
			bad++;
		attr_list_free(l);
	}
	tap_is_int(bad, 0, "every prefix: need more");
	buf_free(b);
}

/* test_parse - the hostile table */
static void
test_parse(void)
{
	struct attr_list *l;
	size_t	 i, used, len;
	char	 err[100];
	int	 got;

	for (i = 0; i < sizeof(parse_vec) / sizeof(parse_vec[0]); i++) {
		len = parse_vec[i].len ? parse_vec[i].len
		    : strlen(parse_vec[i].in);
		l = attr_parse(parse_vec[i].in, len, &used, err, sizeof(err));
		got = l ? 1 : err[0] ? -1 : 0;
		tap_is_int(got, parse_vec[i].want, parse_vec[i].name);
		attr_list_free(l);
	}
}

/* test_mutations - random bytes in a valid list: never a crash */
static void
test_mutations(void)
{
	struct buf *b = buf_new(0), *m = buf_new(0);
	struct attr_list *l;
	static const char bytes[] = "\n\r\0%=aZ09._\xff";
	unsigned long seed = 42;
	char	 err[100];
	size_t	 used;
	int	 i, j, sane = 0;

	attr_put(b, "version", "1");
	attr_put(b, "rcpt.0.reason", "550 5.1.1 <x@y>: %\r\nno");
	attr_end(b);
	for (i = 0; i < 3000; i++) {
		buf_reset(m);
		buf_append(m, BUF_STR(b), BUF_LEN(b));
		for (j = 0; j < 1 + i % 3; j++) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			BUF_STR(m)[(seed >> 33) % BUF_LEN(m)] =
			    bytes[(seed >> 17) % (sizeof(bytes) - 1)];
		}
		l = attr_parse(BUF_STR(m), BUF_LEN(m), &used, err, sizeof(err));
		sane += l ? used <= BUF_LEN(m) : (used == 0);
		attr_list_free(l);
	}
	tap_is_int(sane, 3000, "3000 mutated lists: parsed, refused or "
	    "incomplete, never past the data");
	buf_free(b);
	buf_free(m);
}

/* test_limit - lists beyond ATTR_MAX_LIST are refused */
static void
test_limit(void)
{
	struct buf *b = buf_new(ATTR_MAX_LIST + 100);
	struct attr_list *l;
	char	 err[100];
	size_t	 used;

	while (BUF_LEN(b) <= ATTR_MAX_LIST)
		buf_puts(b, "filler=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
	l = attr_parse(BUF_STR(b), BUF_LEN(b), &used, err, sizeof(err));
	tap_ok(l == NULL && err[0], "incomplete oversized list is an error");
	buf_putc(b, '\n');
	l = attr_parse(BUF_STR(b), BUF_LEN(b), &used, err, sizeof(err));
	tap_ok(l == NULL && err[0], "complete oversized list is an error");
	buf_free(b);
}

/* test_io - attr_write/attr_read over a socketpair, and a timeout */
static void
test_io(void)
{
	struct buf *b = buf_new(0);
	struct attr_list *l;
	char	 err[100];
	int	 sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		tap_ok(0, "socketpair");
		return;
	}
	attr_put(b, "version", "1");
	attr_put(b, "rcpt.0.reason", "a\nb");
	attr_end(b);
	tap_ok(attr_write(sv[0], b, 5) == 0, "attr_write");
	l = attr_read(sv[1], 5, err, sizeof(err));
	tap_is_str(l ? attr_get(l, "rcpt.0.reason") : err, "a\nb",
	    "attr_read value");
	attr_list_free(l);
	l = attr_read(sv[1], 1, err, sizeof(err));
	tap_ok(l == NULL && strstr(err, "timeout") != NULL,
	    "attr_read times out");
	(void)write(sv[0], "version=1\n", 10);
	close(sv[0]);
	l = attr_read(sv[1], 5, err, sizeof(err));
	tap_ok(l == NULL && strstr(err, "EOF") != NULL, "EOF mid-list");
	close(sv[1]);
	buf_free(b);
}

int
main(void)
{
	test_roundtrip();
	test_prefixes();
	test_parse();
	test_mutations();
	test_limit();
	test_io();
	return (tap_done());
}
