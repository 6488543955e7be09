/*
 * NAME
 *	smtpd_data_test - the DATA reader, including SMTP smuggling vectors
 * DESCRIPTION
 *	Each vector is fed whole and, separately, one byte at a time (the
 *	network may cut anywhere); both must give the same message, the
 *	same "done" and leave the same bytes for the command reader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtpd.h"
#include "tap.h"

#define S(x)	x, sizeof(x) - 1

static const struct {
	const char *name;
	const char *in;
	size_t	 inlen;
	int	 mode;
	size_t	 limit;
	const char *want;	/* message, LF endings */
	size_t	 wantlen;
	int	 done;
	size_t	 rest;		/* bytes left for the command reader */
	int	 bare_lf;
	int	 too_big;
} vec[] = {
	{"simple", S("Subject: x\r\n\r\nhello\r\n.\r\n"), 1, 0,
	    S("Subject: x\n\nhello\n"), 1, 0, 0, 0},
	{"empty message", S(".\r\n"), 1, 0, S(""), 1, 0, 0, 0},
	{"pipelined QUIT left over", S("a\r\n.\r\nQUIT\r\n"), 1, 0,
	    S("a\n"), 1, 6, 0, 0},
	{"dot-stuffing undone", S("..x\r\n..\r\n...\r\n.\r\n"), 1, 0,
	    S(".x\n.\n..\n"), 1, 0, 0, 0},
	{"dot inside a line kept", S("a.b\r\na\r\n.b\r\n.\r\n"), 1, 0,
	    S("a.b\na\nb\n"), 1, 0, 0, 0},
	{"smuggling LF.LF does not end", S("a\n.\nMAIL FROM:<x>\r\n.\r\n"),
	    1, 0, S("a\n\nMAIL FROM:<x>\n"), 1, 0, 0, 0},
	{"smuggling CRLF.LF does not end", S("a\r\n.\nRSET\r\n.\r\n"), 1, 0,
	    S("a\n\nRSET\n"), 1, 0, 0, 0},
	{"smuggling LF.CRLF does not end", S("a\n.\r\nRSET\r\n.\r\n"), 1, 0,
	    S("a\n\nRSET\n"), 1, 0, 0, 0},
	{"smuggling CR.CR does not end", S("a\r.\rRSET\r\n.\r\n"), 1, 0,
	    S("a\r.\rRSET\n"), 1, 0, 0, 0},
	{"smuggling CRLF.CR does not end", S("a\r\n.\rRSET\r\n.\r\n"), 1, 0,
	    S("a\n\rRSET\n"), 1, 0, 0, 0},
	{"smuggling CR.CRLF does not end", S("a\r.\r\nRSET\r\n.\r\n"), 1, 0,
	    S("a\r.\nRSET\n"), 1, 0, 0, 0},
	{"no end yet", S("a\r\n.\n"), 1, 0, S("a\n\n"), 0, 0, 0, 0},
	{"end split CRLF.CR only", S("a\r\n.\r"), 1, 0, S("a\n"), 0, 0, 0,
	    0},
	{"bare CR kept", S("a\rb\r\r\n.\r\n"), 1, 0, S("a\rb\r\n"), 1, 0, 0,
	    0},
	{"bare LF normalized", S("a\nb\r\n.\r\n"), 1, 0, S("a\nb\n"), 1, 0,
	    0, 0},
	{"bare LF under no", S("a\nb\r\n.\r\n"), 0, 0, S("a\nb\n"), 1, 0, 0,
	    0},
	{"bare LF rejected", S("a\nb\r\n.\r\n"), 2, 0, S("a"), 0, 6, 1, 0},
	{"8-bit and NUL kept", S("\xc3\xa9\x00\xff\r\n.\r\n"), 1, 0,
	    S("\xc3\xa9\x00\xff\n"), 1, 0, 0, 0},
	{"size limit: read to end, store nothing more",
	    S("0123456789\r\nabc\r\n.\r\nQUIT\r\n"), 1, 8, S("01234567"), 1,
	    6, 0, 1},
	/* RFC 1870: the octets as transmitted, CRLF counted as two. */
	{"exactly at limit", S("abc\r\n.\r\n"), 1, 5, S("abc\n"), 1, 0, 0,
	    0},
	{"one octet over: CRLF counts two", S("abc\r\n.\r\n"), 1, 4, S("abc"),
	    1, 0, 0, 1},
	{"bare LF counts as CRLF", S("ab\ncd\r\n.\r\n"), 1, 8,
	    S("ab\ncd\n"), 1, 0, 0, 0},
	{"bare LF over by one", S("ab\ncd\r\n.\r\n"), 1, 7, S("ab\ncd"), 1,
	    0, 0, 1},
	{"stuffing dot not counted", S("..ab\r\n.\r\n"), 1, 5, S(".ab\n"),
	    1, 0, 0, 0},
	{"stuffed line one over", S("..ab\r\n.\r\n"), 1, 4, S(".ab"), 1, 0,
	    0, 1},
	{"no trailing CRLF before end is impossible: .CRLF mid-line",
	    S("abc.\r\n.\r\n"), 1, 0, S("abc.\n"), 1, 0, 0, 0},
	{".CR X at line start", S(".\rX\r\n.\r\n"), 1, 0, S("\rX\n"), 1, 0,
	    0, 0},
	{".CRCRLF", S(".\r\r\n.\r\n"), 1, 0, S("\r\n"), 1, 0, 0, 0},
	/* runs of line content, cut anywhere by the network */
	{"bare CRs inside long lines",
	    S("abcdefgh\rijklmnop\r\r\nqrstuvwxyz0123456789\r\n\r\n.\r\n"),
	    1, 0, S("abcdefgh\rijklmnop\r\nqrstuvwxyz0123456789\n\n"), 1, 0,
	    0, 0},
	{"limit inside a run", S("abcdefghijklmnop\r\nxyz\r\n.\r\n"), 1,
	    11, S("abcdefghijk"), 1, 0, 0, 1},
	{"limit inside the second line's run",
	    S("abc\r\ndefghijklmnop\r\n.\r\n"), 1, 9, S("abc\ndefg"), 1,
	    0, 0, 1},
};

/* run - feed a vector in pieces of step bytes (0: whole) */
static void
run(size_t i, size_t step)
{
	struct smtpd_data d;
	size_t	 off = 0, n, used = 0;
	char	 name[200];
	const char *got;
	size_t	 gotlen;

	smtpd_data_init(&d, vec[i].limit, vec[i].mode);
	while (off < vec[i].inlen && !d.done && !d.bare_lf) {
		n = step ? step : vec[i].inlen;
		if (n > vec[i].inlen - off)
			n = vec[i].inlen - off;
		used = smtpd_data_feed(&d, vec[i].in + off, n);
		off += used;
		if (used < n)
			break;
	}
	snprintf(name, sizeof(name), "%s (%s%zu)", vec[i].name,
	    step ? "bytes at a time: " : "whole", step);
	got = d.msg ? BUF_STR(d.msg) : "";
	gotlen = d.msg ? BUF_LEN(d.msg) : 0;
	tap_ok(gotlen == vec[i].wantlen && memcmp(got, vec[i].want,
	    gotlen) == 0, "%s: message", name);
	tap_ok(d.done == vec[i].done, "%s: done=%d", name, vec[i].done);
	tap_ok(vec[i].inlen - off == vec[i].rest, "%s: %zu bytes left", name,
	    vec[i].rest);
	tap_ok(d.bare_lf == vec[i].bare_lf, "%s: bare_lf=%d", name,
	    vec[i].bare_lf);
	tap_ok(d.too_big == vec[i].too_big, "%s: too_big=%d", name,
	    vec[i].too_big);
	smtpd_data_free(&d);
}

int
main(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		run(i, 0);
		run(i, 1);
		run(i, 3);
		run(i, 7);
	}
	return (tap_done());
}
