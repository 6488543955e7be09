/*
 * NAME
 *	postscreen_smtp_test - the dummy SMTP engine, without a network
 * DESCRIPTION
 *	Each case configures the after-220 tests, feeds the engine input
 *	chunks over a socketpair (one write per chunk, the loop run in
 *	between), and checks the transcript it answered, whether it
 *	closed the connection, and a log line it must have written.
 *	Hostile input (NUL, 8-bit, bare LF, bare CR, overlong lines,
 *	empty lines, too many commands) is part of the table. Then the
 *	postscreen_forbidden_commands parser on Postfix's default value.
 */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "postscreen.h"
#include "tap.h"
#include "xalloc.h"

static struct buf *logbuf;

/* hook - keep every log line */
static void
hook(int level, const char *text, void *ctx)
{
	(void)level;
	(void)ctx;
	buf_puts(logbuf, text);
	buf_putc(logbuf, '\n');
}

/* stubs of the modules this test does not link */
void
psc_send_socket(struct psc_state *s)
{
	psc_state_free(s);
}

struct smtp_case {
	const char *name;
	int	 pipel, nsmtp, barlf;	/* 0 off, else action + 1 */
	const char *enforce;		/* enforce reply, or NULL */
	const char *chunks[6];
	const char *want_reply;		/* regex over the transcript */
	int	 want_closed;
	const char *want_log;		/* regex over the log, or NULL */
};

#define IGN	(PSC_ACT_IGNORE + 1)
#define ENF	(PSC_ACT_ENFORCE + 1)
#define DRP	(PSC_ACT_DROP + 1)

static const struct smtp_case cases[] = {
	{"clean dialogue", ENF, DRP, DRP, NULL,
	    {"EHLO c.test\r\n", "MAIL FROM:<a@c.test>\r\n",
	    "RCPT TO:<b@d.test>\r\n", "QUIT\r\n"},
	    "^220 mx ESMTP\r\n250-mx\r\n250-SIZE 1000\r\n250-VRFY\r\n"
	    "250-ETRN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
	    "250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n250 2.1.0 Ok\r\n"
	    "450 4.3.2 Service currently "
	    "unavailable\r\n221 2.0.0 Bye\r\n$", 1,
	    "NOQUEUE: reject: RCPT from \\[192.0.2.1\\]:4711: 450 4.3.2 "
	    "Service currently unavailable; from=<a@c.test>, to=<b@d.test>, "
	    "proto=ESMTP, helo=<c.test>"},
	{"HELO gives SMTP proto", ENF, 0, 0, NULL,
	    {"HELO c.test\r\n", "RCPT TO:<b@d.test>\r\n"},
	    "250 mx\r\n450 4.3.2", 0, "proto=SMTP, helo=<c.test>"},
	{"enforce reply replaces 450", 0, 0, 0,
	    "550 5.3.2 Service currently unavailable\r\n",
	    {"HELO c.test\r\n", "RCPT TO:<b@d.test>\r\n"},
	    "550 5.3.2 Service currently unavailable\r\n$", 0, NULL},
	{"pipelining enforce", ENF, 0, 0, NULL,
	    {"HELO p.test\r\nMAIL FROM:<x@p.test>\r\n",
	    "RCPT TO:<b@d.test>\r\n"},
	    "250 mx\r\n250 2.1.0 Ok\r\n550 5.5.1 Protocol error\r\n$", 0,
	    "COMMAND PIPELINING from \\[192.0.2.1\\]:4711 after HELO: "
	    "MAIL FROM:<x@p.test>\\\\r\\\\n"},
	{"pipelining drop", DRP, 0, 0, NULL,
	    {"HELO p.test\r\nQUIT\r\n"},
	    "^220 mx ESMTP\r\n521 5.5.1 Protocol error\r\n$", 1,
	    "COMMAND PIPELINING"},
	{"pipelining ignored when off", 0, DRP, 0, "550 x\r\n",
	    {"HELO p.test\r\nNOOP\r\n"},
	    "250 mx\r\n250 2.0.0 Ok\r\n$", 0, NULL},
	{"pipelining ignore action", IGN, 0, 0, NULL,
	    {"HELO p.test\r\nRCPT TO:<b@d.test>\r\n"},
	    "250 mx\r\n450 4.3.2", 0, "COMMAND PIPELINING"},
	{"non-SMTP GET dropped", 0, DRP, 0, NULL,
	    {"GET / HTTP/1.1\r\n"},
	    "^220 mx ESMTP\r\n521 5.5.1 Protocol error\r\n$", 1,
	    "NON-SMTP COMMAND from \\[192.0.2.1\\]:4711 after CONNECT: "
	    "GET / HTTP/1.1"},
	{"non-SMTP lower-case connect", 0, DRP, 0, NULL,
	    {"connect mx:25 HTTP/1.0\r\n"}, "521 5.5.1", 1,
	    "NON-SMTP COMMAND"},
	{"non-SMTP non-letter (regexp)", 0, DRP, 0, NULL,
	    {"\x16\x03\x01 tls hello\r\n"}, "521 5.5.1", 1,
	    "NON-SMTP COMMAND from .* after CONNECT: \\?\\?\\? tls hello"},
	{"non-SMTP after EHLO enforce", 0, ENF, 0, NULL,
	    {"EHLO c.test\r\n", "POST /x\r\n", "RCPT TO:<b@d.test>\r\n"},
	    "502 5.5.2 Error: command not recognized\r\n550 5.5.1 Protocol "
	    "error\r\n$", 0, "NON-SMTP COMMAND .* after EHLO: POST /x"},
	{"GETX is not GET", 0, DRP, 0, NULL,
	    {"GETX\r\n"}, "502 5.5.2", 0, NULL},
	{"bare newline drop", 0, 0, DRP, NULL,
	    {"EHLO c.test\n"},
	    "^220 mx ESMTP\r\n521 5.5.1 Protocol error\r\n$", 1,
	    "BARE NEWLINE from \\[192.0.2.1\\]:4711 after CONNECT"},
	{"bare newline after a good line", 0, 0, DRP, NULL,
	    {"HELO c.test\r\n", "NOOP\n"},
	    "250 mx\r\n521 5.5.1 Protocol error\r\n$", 1,
	    "BARE NEWLINE .* after HELO"},
	{"bare newline enforce", 0, 0, ENF, NULL,
	    {"HELO c.test\n", "RCPT TO:<b@d.test>\r\n"},
	    "250 mx\r\n550 5.5.1 Protocol error\r\n$", 0, "BARE NEWLINE"},
	{"bare CR is not a line end", 0, 0, DRP, NULL,
	    {"NOOP\rQUIT\r\n"}, "502 5.5.2", 0, NULL},
	{"empty line", ENF, DRP, DRP, NULL,
	    {"\r\n"}, "500 5.5.2 Error: bad syntax\r\n$", 0, NULL},
	{"NUL and 8-bit", ENF, DRP, DRP, NULL,
	    {"NO\\0OP \xff\r\n"}, "502 5.5.2", 0, NULL},
	{"EHLO without argument", ENF, 0, 0, NULL,
	    {"EHLO\r\n"}, "501 5.5.4 Syntax: EHLO hostname\r\n$", 0, NULL},
	{"MAIL with unbalanced <", ENF, 0, 0, NULL,
	    {"MAIL FROM:<<<a@b\r\n", "RCPT TO:>\r\n"},
	    "250 2.1.0 Ok\r\n450 4.3.2", 0, "from=<a@b>, to=<>"},
	{"DATA refused", ENF, 0, 0, NULL,
	    {"DATA\r\n"}, "554 5.5.1 Error: no valid recipients\r\n$", 0,
	    NULL},
	{"MAIL with SMTPUTF8 and BODY=8BITMIME", ENF, 0, 0, NULL,
	    {"EHLO c.test\r\n", "MAIL FROM:<a@c.test> SMTPUTF8 BODY=8BITMIME"
	    "\r\n", "RCPT TO:<b@d.test>\r\n"}, "250 2.1.0 Ok\r\n450 4.3.2",
	    0, "from=<a@c.test>, to=<b@d.test>"},
	{"BDAT after RCPT: 554, closed, chunk not pipelining", DRP, DRP, DRP,
	    NULL, {"EHLO c.test\r\n", "MAIL FROM:<a@c.test>\r\n",
	    "RCPT TO:<b@d.test>\r\n", "BDAT 12 LAST\r\nSubject: x\r\n"},
	    "450 4.3.2 Service currently unavailable\r\n554 5.5.1 Error: no "
	    "valid recipients\r\n$", 1,
	    "PASS NEW \\[192.0.2.1\\]:4711\n"
	    "(.|\n)*BDAT without valid RCPT from \\[192.0.2.1\\]:4711"},
	{"BDAT without MAIL", ENF, 0, 0, NULL,
	    {"BDAT 1\r\n"}, "554 5.5.1 Error: need MAIL command\r\n$", 1,
	    "BDAT without valid RCPT"},
	{"BDAT without a count", ENF, 0, 0, NULL,
	    {"MAIL FROM:<a@c.test>\r\n", "BDAT\r\n"},
	    "250 2.1.0 Ok\r\n501 5.5.4 Syntax: BDAT count \\[LAST\\]\r\n$", 1,
	    "BDAT without valid RCPT"},
	{"STARTTLS and AUTH not offered", ENF, 0, 0, NULL,
	    {"STARTTLS\r\n", "AUTH PLAIN AGFAYg==\r\n"},
	    "502 5.5.1 Error: command not implemented\r\n502 5.5.1 Error: "
	    "command not implemented\r\n$", 0, NULL},
	{"overlong line", ENF, 0, 0, NULL,
	    {"NOOP xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
	    "521 5.5.2 Error: command line too long\r\n$", 1,
	    "COMMAND LENGTH LIMIT"},
	{"too many commands", ENF, 0, 0, NULL,
	    {"NOOP\r\n", "NOOP\r\n", "NOOP\r\n", "NOOP\r\n", "NOOP\r\n"},
	    "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"
	    "421 4.7.0 Error: too many commands\r\n$", 1,
	    "COMMAND COUNT LIMIT from \\[192.0.2.1\\]:4711 after NOOP"},
	{"EOF ends the session", ENF, 0, 0, NULL,
	    {"HELO c.test\r\n", ""}, "250 mx\r\n$", 1,
	    "DISCONNECT \\[192.0.2.1\\]:4711"},
	{"passing client logs PASS NEW at QUIT", ENF, DRP, DRP, NULL,
	    {"HELO c.test\r\n", "RCPT TO:<b@d.test>\r\n", "QUIT\r\n"},
	    "221 2.0.0 Bye\r\n$", 1, "PASS NEW \\[192.0.2.1\\]:4711"},
};

/* run_loop - let the engine handle what arrived */
static void
run_loop(struct event_base *base)
{
	int	 i;

	for (i = 0; i < 5; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

/* read_all - what the engine wrote so far; *closed on EOF */
static void
read_all(int fd, struct buf *out, int *closed)
{
	char	 data[4096];
	ssize_t	 n;

	while ((n = read(fd, data, sizeof(data))) > 0)
		buf_append(out, data, (size_t)n);
	if (n == 0)
		*closed = 1;
}

/* matches - extended regex search (text without NULs) */
static int
matches(const char *re, const char *text)
{
	regex_t	 r;
	int	 rc;

	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
		return (0);
	rc = regexec(&r, text, 0, NULL, 0);
	regfree(&r);
	return (rc == 0);
}

/* run_case - one dialogue */
static void
run_case(struct event_base *base, const struct smtp_case *c)
{
	struct psc_state *s;
	struct buf *out = buf_new(256);
	int	 sv[2], closed = 0, i;
	char	 name[200];

	psc_var.pipel_action = c->pipel ? c->pipel - 1 : 0;
	psc_var.nsmtp_action = c->nsmtp ? c->nsmtp - 1 : 0;
	psc_var.barlf_action = c->barlf ? c->barlf - 1 : 0;
	psc_var.pipel_enable = c->pipel != 0;
	psc_var.nsmtp_enable = c->nsmtp != 0;
	psc_var.barlf_enable = c->barlf != 0;
	buf_reset(logbuf);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		tap_ok(0, "socketpair");
		return;
	}
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	s = psc_state_new(sv[0], "192.0.2.1", "4711", "192.0.2.25", "25");
	s->todo[PSC_TEST_PIPEL] = c->pipel != 0;
	s->todo[PSC_TEST_NSMTP] = c->nsmtp != 0;
	s->todo[PSC_TEST_BARLF] = c->barlf != 0;
	s->pass[PSC_TEST_PREGR] = 1;	/* as if the early tests passed */
	if (c->enforce)
		s->enforce_reply = xstrdup(c->enforce);
	psc_smtp_tests(s);
	for (i = 0; i < 6 && c->chunks[i] && !closed; i++) {
		char	*chunk = xstrdup(c->chunks[i]), *p;
		size_t	 len = strlen(chunk);

		/* "\\0" in a chunk stands for a NUL byte. */
		while ((p = strstr(chunk, "\\0")) != NULL) {
			*p = '\0';
			memmove(p + 1, p + 2, len - (size_t)(p - chunk) - 1);
			len--;
		}
		if (len == 0)
			shutdown(sv[1], SHUT_WR);
		else if (write(sv[1], chunk, len) != (ssize_t)len)
			tap_ok(0, "write chunk");
		free(chunk);
		run_loop(base);
		read_all(sv[1], out, &closed);
	}
	snprintf(name, sizeof(name), "%s: replies", c->name);
	tap_ok(matches(c->want_reply, BUF_STR(out)), "%s", name);
	if (!matches(c->want_reply, BUF_STR(out)))
		printf("# transcript: %s\n", log_safe(BUF_STR(out)));
	snprintf(name, sizeof(name), "%s: %s", c->name, c->want_closed ?
	    "closed" : "still open");
	tap_is_int(closed, c->want_closed, name);
	if (c->want_log) {
		snprintf(name, sizeof(name), "%s: log", c->name);
		tap_ok(matches(c->want_log, BUF_STR(logbuf)), "%s", name);
		if (!matches(c->want_log, BUF_STR(logbuf)))
			printf("# log: %s\n", log_safe(BUF_STR(logbuf)));
	}
	if (!closed) {
		/* Hang up so the engine frees its state. */
		close(sv[1]);
		run_loop(base);
	} else
		close(sv[1]);
	buf_free(out);
}

struct forbid_case {
	const char *line;
	int	 want;
};

static const struct forbid_case forbid_cases[] = {
	{"CONNECT mx.example:25 HTTP/1.1", 1},
	{"GET / HTTP/1.0", 1},
	{"get /", 1},
	{"POST /cgi", 1},
	{"GETTING", 0},
	{"EHLO client", 0},
	{"MAIL FROM:<a@b>", 0},
	{"", 0},
	{" EHLO", 1},
	{"\x16\x03\x01", 1},
	{"\xff\xfe", 1},
	{"1234", 1},
};

/* test_forbidden - Postfix's default list */
static void
test_forbidden(void)
{
	struct psc_forbidden *f;
	size_t	 i;
	char	 name[100];

	f = psc_forbidden_parse("CONNECT GET POST regexp:{{/^[^A-Z]/ Thrash}}");
	for (i = 0; i < sizeof(forbid_cases) / sizeof(forbid_cases[0]); i++) {
		snprintf(name, sizeof(name), "forbidden: \"%s\"",
		    log_safe(forbid_cases[i].line));
		tap_is_int(psc_forbidden_match(f, forbid_cases[i].line),
		    forbid_cases[i].want, name);
	}
	psc_forbidden_free(f);
	f = psc_forbidden_parse("regexp:{{/(unbalanced/ x}} hash:/x FOO, {");
	tap_is_int(psc_forbidden_match(f, "foo bar"), 1,
	    "bad entries skipped, words kept");
	tap_is_int(psc_forbidden_match(f, "(unbalanced"), 0,
	    "bad regexp ignored");
	psc_forbidden_free(f);
	f = psc_forbidden_parse(NULL);
	tap_is_int(psc_forbidden_match(f, "GET /"), 0, "empty list");
	psc_forbidden_free(f);
}

/* test_random - garbage never crashes the engine (ASan watches) */
static void
test_random(struct event_base *base)
{
	static const char alphabet[] = "HELOMAIRCPTQUDX:<>@. \r\n\0\xff\x80";
	struct psc_state *s;
	char	 data[700], junk[4096];
	int	 sv[2], i, closed_count = 0;
	size_t	 j, n;
	ssize_t	 r;

	srand(4711);
	for (i = 0; i < 300; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			break;
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
		s = psc_state_new(sv[0], "192.0.2.9", "1", "192.0.2.25", "25");
		s->todo[PSC_TEST_PIPEL] = i % 2;
		s->todo[PSC_TEST_NSMTP] = i % 3 == 0;
		s->todo[PSC_TEST_BARLF] = i % 5 == 0;
		psc_smtp_tests(s);
		n = (size_t)rand() % sizeof(data);
		for (j = 0; j < n; j++)
			data[j] = (rand() % 4) ? alphabet[rand() %
			    (int)(sizeof(alphabet) - 1)] : (char)rand();
		if (n > 0 && write(sv[1], data, n) < 0)
			tap_ok(0, "random write");
		run_loop(base);
		while ((r = read(sv[1], junk, sizeof(junk))) > 0)
			;
		if (r == 0)
			closed_count++;
		close(sv[1]);
		run_loop(base);
	}
	tap_ok(i == 300, "300 random sessions ran (%d closed by the engine)",
	    closed_count);
}

static const struct smtp_case utf8_off =
	{"smtputf8_enable = no: EHLO without SMTPUTF8", ENF, 0, 0, NULL,
	    {"EHLO c.test\r\n"}, "250-DSN\r\n250 CHUNKING\r\n$", 0, NULL};

/* main - run the tables */
int
main(void)
{
	struct event_base *base = event_base_new();
	size_t	 i;

	logbuf = buf_new(1024);
	log_init("postscreen_smtp_test", 0);
	log_set_hook(hook, NULL);
	psc_base = base;
	psc_var.greet_banner = "teaser";
	psc_var.smtpd_banner = "mx ESMTP";
	psc_var.myhostname = "mx";
	psc_var.message_size_limit = 1000;
	psc_var.command_time_limit = 300;
	psc_var.command_count_limit = 4;
	psc_var.line_length_limit = 512;
	psc_var.greet_ttl = psc_var.pipel_ttl = psc_var.nsmtp_ttl =
	    psc_var.barlf_ttl = 86400;
	psc_var.forbidden = psc_forbidden_parse(
	    "CONNECT GET POST regexp:{{/^[^A-Z]/ Thrash}}");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(base, &cases[i]);
	conf_set("smtputf8_enable", "no");	/* as smtpd: no SMTPUTF8 */
	run_case(base, &utf8_off);
	test_forbidden();
	test_random(base);
	psc_forbidden_free(psc_var.forbidden);
	buf_free(logbuf);
	event_base_free(base);
	return (tap_done());
}
