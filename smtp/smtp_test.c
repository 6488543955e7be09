/*
 * NAME
 *	smtp_test - unit tests for the smtp agent's parsers and rewriting
 * SYNOPSIS
 *	smtp_test
 * DESCRIPTION
 *	Table-driven: smtp_reply_parse() with good and hostile replies
 *	(multi-line, bare LF, missing code, code mismatch, overlong line,
 *	NUL and 8-bit text, incomplete input), enhanced status extraction;
 *	smtp_nexthop_parse() forms; smtp_generic_headers() and
 *	smtp_generic_addr() with a memory: map (display names, comments,
 *	quoted commas, groups, folding, unbalanced <, untouched headers);
 *	base64 and the SASL PLAIN encoding; mechanism choice.
 * DIAGNOSTICS
 *	TAP on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "map.h"
#include "smtp.h"
#include "tap.h"
#include "xalloc.h"

static const struct reply_case {
	const char *name;
	const char *in;
	size_t	 len;		/* 0: strlen */
	int	 rc;
	int	 code;
	const char *esc;
	const char *text;
	size_t	 used;		/* 0: whole input */
} reply_cases[] = {
	{"one line", "250 2.0.0 Ok\r\n", 0, 1, 250, "2.0.0", "250 2.0.0 Ok", 0},
	{"multi-line", "250-mx.example\r\n250-PIPELINING\r\n250 DSN\r\n", 0, 1,
	    250, "", "250 mx.example PIPELINING DSN", 0},
	{"bare LF", "550 5.1.1 <a@b>: no\n", 0, 1, 550, "5.1.1",
	    "550 5.1.1 <a@b>: no", 0},
	{"code only", "354\r\n", 0, 1, 354, "", "354", 0},
	{"incomplete line", "250 Ok", 0, 0, 0, "", "", 0},
	{"incomplete multi-line", "250-a\r\n250-b\r\n", 0, 0, 0, "", "", 0},
	{"missing code", "Ok\r\n", 0, -1, 0, "", "", 0},
	{"two digits", "25 Ok\r\n", 0, -1, 0, "", "", 0},
	{"bad separator", "250_Ok\r\n", 0, -1, 0, "", "", 0},
	{"code out of range", "999 what\r\n", 0, -1, 0, "", "", 0},
	{"multi-line code mismatch", "250-a\r\n251 b\r\n", 0, -1, 0, "", "", 0},
	{"empty line", "\r\n", 0, -1, 0, "", "", 0},
	{"wrong-class esc ignored", "550 2.0.0 odd\r\n", 0, 1, 550, "",
	    "550 2.0.0 odd", 0},
	{"malformed esc ignored", "450 4.x.1 odd\r\n", 0, 1, 450, "",
	    "450 4.x.1 odd", 0},
	{"control and 8-bit text", "421 a\tb\xff" "c\r\n", 0, 1, 421, "",
	    "421 a?b?c", 0},
	{"NUL in text", "421 a\0b\r\n", 9, 1, 421, "", "421 a?b", 0},
	{"two replies: first only", "220 hi\r\n250 Ok\r\n", 0, 1, 220, "",
	    "220 hi", 8},
};

/* test_replies - the reply parser table */
static void
test_replies(void)
{
	struct smtp_reply r = {0};
	size_t	 i, used, len;
	int	 rc;
	char	*big;

	for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
		const struct reply_case *c = &reply_cases[i];

		len = c->len ? c->len : strlen(c->in);
		used = 0;
		rc = smtp_reply_parse(c->in, len, &used, &r);
		tap_is_int(rc, c->rc, c->name);
		if (rc == 1) {
			tap_is_int(r.code, c->code, "  code");
			tap_is_str(r.esc, c->esc, "  enhanced status");
			tap_is_str(r.text, c->text, "  text");
			tap_is_int((long)used, (long)(c->used ? c->used : len),
			    "  bytes used");
		}
	}
	/* Lines kept for EHLO. */
	r.lines = strv_new();
	big = "250-mx\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 10\r\n";
	rc = smtp_reply_parse(big, strlen(big), &used, &r);
	tap_ok(rc == 1 && r.lines->argc == 3
	    && strcmp(r.lines->argv[1], "AUTH PLAIN LOGIN") == 0,
	    "EHLO lines kept");
	strv_free(r.lines);
	r.lines = NULL;
	/* Overlong: a huge line without LF is an error, with LF truncated. */
	big = xmalloc(SMTP_LINE_MAX + 100);
	memcpy(big, "250 ", 4);
	memset(big + 4, 'x', SMTP_LINE_MAX + 90);
	rc = smtp_reply_parse(big, SMTP_LINE_MAX + 94, &used, &r);
	tap_is_int(rc, -1, "overlong line without LF: malformed");
	big[SMTP_LINE_MAX / 2] = '\n';
	rc = smtp_reply_parse(big, SMTP_LINE_MAX + 94, &used, &r);
	tap_ok(rc == 1 && strlen(r.text) == SMTP_REPLY_MAX - 1
	    && used == SMTP_LINE_MAX / 2 + 1, "long line: text truncated");
	free(big);
	/* Too many lines. */
	{
		struct buf *b = buf_new(8192);

		for (i = 0; i < SMTP_REPLY_LINES + 5; i++)
			buf_puts(b, "250-x\r\n");
		buf_puts(b, "250 end\r\n");
		rc = smtp_reply_parse(BUF_STR(b), BUF_LEN(b), &used, &r);
		tap_is_int(rc, -1, "more than SMTP_REPLY_LINES lines");
		buf_free(b);
	}
}

static const struct nh_case {
	const char *in;
	int	 lmtp;
	int	 ok;
	const char *host;
	int	 port;
	int	 no_mx;
} nh_cases[] = {
	{"example.com", 0, 1, "example.com", 25, 0},
	{"[mail.example.com]:587", 0, 1, "mail.example.com", 587, 1},
	{"[127.0.0.1]:2525", 0, 1, "127.0.0.1", 2525, 1},
	{"smtp.myisp.com:587", 0, 1, "smtp.myisp.com", 587, 0},
	{"[smtp.myisp.com]", 0, 1, "smtp.myisp.com", 25, 1},
	{"inet:[::1]:24", 1, 1, "::1", 24, 1},
	{"127.0.0.1", 0, 1, "127.0.0.1", 25, 1},
	{"host:smtp", 0, 1, "host", 25, 0},
	{"lmtp.example", 1, 1, "lmtp.example", 24, 0},
	{"", 0, 0, "", 0, 0},
	{"[unclosed:25", 0, 0, "", 0, 0},
	{"[a]x", 0, 0, "", 0, 0},
	{"host:", 0, 0, "", 0, 0},
	{"host:99999", 0, 0, "", 0, 0},
	{"bad host", 0, 0, "", 0, 0},
	{"unix:/tmp/x", 0, 0, "", 0, 0},
	{"a\377b", 0, 0, "", 0, 0},
};

/* test_nexthop - nexthop forms */
static void
test_nexthop(void)
{
	struct smtp_nexthop nh;
	char	 err[256];
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(nh_cases) / sizeof(nh_cases[0]); i++) {
		const struct nh_case *c = &nh_cases[i];

		rc = smtp_nexthop_parse(c->in, c->lmtp, &nh, err, sizeof(err));
		tap_ok((rc == 0) == c->ok, "nexthop \"%s\": %s",
		    log_safe(c->in), c->ok ? "accepted" : "rejected");
		if (rc == 0 && c->ok) {
			tap_is_str(nh.host, c->host, "  host");
			tap_is_int(nh.port, c->port, "  port");
			tap_is_int(nh.no_mx, c->no_mx, "  no MX lookup");
		}
	}
	rc = smtp_nexthop_parse("unix:/run/lmtp", 1, &nh, err, sizeof(err));
	tap_ok(rc == 0 && strcmp(nh.unix_path, "/run/lmtp") == 0,
	    "lmtp unix: path");
	rc = smtp_nexthop_parse("unix:private/dovecot-lmtp", 1, &nh, err,
	    sizeof(err));
	tap_ok(rc == 0 && strcmp(nh.unix_path, "private/dovecot-lmtp") == 0,
	    "lmtp unix: a path relative to queue_directory");
	rc = smtp_nexthop_parse("unix:", 1, &nh, err, sizeof(err));
	tap_ok(rc < 0, "lmtp unix: an empty path is rejected");
	rc = smtp_nexthop_parse("unix:private/x", 0, &nh, err, sizeof(err));
	tap_ok(rc < 0, "smtp: unix: is LMTP's only");
}

static const struct hdr_case {
	const char *name;
	const char *in;
	const char *out;
} hdr_cases[] = {
	{"display name", "From: Me <me@local.lan>\n",
	    "From: Me <me@public.example>\n"},
	{"bare address", "To: me@local.lan\n", "To: me@public.example\n"},
	{"list with quoted comma",
	    "To: \"Doe, J\" <me@local.lan>, x@other.example, me@local.lan\n",
	    "To: \"Doe, J\" <me@public.example>, x@other.example, "
	    "me@public.example\n"},
	{"comment before", "Cc: (hi, there) me@local.lan\n",
	    "Cc: (hi, there) me@public.example\n"},
	{"comment after", "Cc: me@local.lan (Me)\n",
	    "Cc: me@public.example (Me)\n"},
	{"folded", "To: a@b.example,\n\tme@local.lan\n",
	    "To: a@b.example,\n\tme@public.example\n"},
	{"domain map", "Reply-To: <anyone@corp.lan>\n",
	    "Reply-To: <catch@public.example>\n"},
	{"case-insensitive name", "FROM: <me@local.lan>\n",
	    "FROM: <me@public.example>\n"},
	{"other header untouched", "Subject: me@local.lan\n",
	    "Subject: me@local.lan\n"},
	{"group untouched", "To: undisclosed-recipients:;\n",
	    "To: undisclosed-recipients:;\n"},
	{"unbalanced <", "To: <me@local.lan\n", "To: <me@local.lan\n"},
	{"unbalanced quote", "To: \"me <me@local.lan>\n",
	    "To: \"me <me@local.lan>\n"},
	{"empty value", "To:\n", "To:\n"},
	{"no colon", "garbage line\n", "garbage line\n"},
	{"8-bit name", "From: J\xc3\xb6rg <me@local.lan>\n",
	    "From: J\xc3\xb6rg <me@public.example>\n"},
	{"CRLF kept", "To: me@local.lan\r\n", "To: me@public.example\r\n"},
	{"empty <>", "From: <>\n", "From: <>\n"},
	{"no trailing newline", "To: me@local.lan", "To: me@public.example"},
	{"two headers", "From: me@local.lan\nTo: me@local.lan\n\n",
	    "From: me@public.example\nTo: me@public.example\n\n"},
};

/* test_generic - header and address rewriting */
static void
test_generic(void)
{
	struct map *m = map_open("memory:generic", 0);
	struct maplist *l;
	struct buf *out;
	char	 err[256], *res;
	size_t	 i;
	int	 rc;

	map_update(m, "me@local.lan", "me@public.example");
	map_update(m, "@corp.lan", "catch@public.example");
	l = maplist_open("memory:generic", 0);
	for (i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
		const struct hdr_case *c = &hdr_cases[i];

		out = buf_new(256);
		rc = smtp_generic_headers(l, c->in, strlen(c->in), out, err,
		    sizeof(err));
		tap_ok(rc == 0 && strcmp(BUF_STR(out), c->out) == 0,
		    "headers: %s%s%s", c->name, rc == 0
		    && strcmp(BUF_STR(out), c->out) ? " # got " : "",
		    rc == 0 && strcmp(BUF_STR(out), c->out)
		    ? log_safe(BUF_STR(out)) : "");
		buf_free(out);
	}
	out = buf_new(16);
	rc = smtp_generic_headers(NULL, "To: me@local.lan\n", 17, out, err,
	    sizeof(err));
	tap_ok(rc == 0 && strcmp(BUF_STR(out), "To: me@local.lan\n") == 0,
	    "no maps: copied");
	buf_free(out);
	rc = smtp_generic_addr(l, "ME@local.lan", &res);
	tap_ok(rc == MAP_FOUND && strcmp(res, "me@public.example") == 0,
	    "envelope address, case folded");
	free(res);
	rc = smtp_generic_addr(l, "", &res);
	tap_ok(rc == MAP_NOTFOUND && res == NULL, "null sender untouched");
	rc = smtp_generic_addr(l, "x@elsewhere.example", &res);
	tap_ok(rc == MAP_NOTFOUND, "other address untouched");
	maplist_close(l);
	map_close(m);
}

/* test_sasl - encodings and mechanism choice */
static void
test_sasl(void)
{
	struct smtp_cfg cfg;
	char	*s, *d;

	s = smtp_sasl_plain("user", "pa ss");
	tap_is_str(s, "AHVzZXIAcGEgc3M=", "PLAIN encoding");
	d = smtp_unbase64(s);
	tap_ok(d && strcmp(d, "") == 0, "decodes (starts with NUL)");
	free(d);
	free(s);
	s = smtp_base64("Username:", 9);
	tap_is_str(s, "VXNlcm5hbWU6", "base64");
	d = smtp_unbase64(s);
	tap_is_str(d, "Username:", "unbase64");
	free(d);
	free(s);
	tap_ok(smtp_unbase64("abc") == NULL, "unbase64: bad length");
	tap_ok(smtp_unbase64("a!c=") == NULL, "unbase64: bad character");
	memset(&cfg, 0, sizeof(cfg));
	tap_is_str(smtp_sasl_choose(&cfg, "LOGIN PLAIN CRAM-MD5", 0), "PLAIN",
	    "PLAIN preferred");
	cfg.sasl_filter = "login";
	tap_is_str(smtp_sasl_choose(&cfg, "LOGIN PLAIN", 0), "LOGIN",
	    "filter: login");
	cfg.sasl_filter = "";
	tap_ok(smtp_sasl_choose(&cfg, "CRAM-MD5 GSSAPI", 0) == NULL,
	    "nothing usable offered");
	cfg.sasl_noplain = 1;
	tap_ok(smtp_sasl_choose(&cfg, "PLAIN", 0) == NULL,
	    "noplaintext without TLS");
	tap_is_str(smtp_sasl_choose(&cfg, "PLAIN", 1), "PLAIN",
	    "smtp_sasl_tls_security_options applies with TLS");
}

int
main(void)
{
	log_init("smtp_test", 0);
	test_replies();
	test_nexthop();
	test_generic();
	test_sasl();
	return (tap_done());
}
