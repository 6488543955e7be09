/*
 * NAME
 *	milter_test - lib/milter.c against recorded milter packets
 * DESCRIPTION
 *	Table-driven: each vector writes the milter's side (the packets a
 *	milter sends, as hex) into one end of a socketpair, runs one call
 *	of the MTA side on the other end, and compares what the MTA sent
 *	(hex), the result, the reply text and the collected modifications.
 *	The negotiation replies are OpenDKIM's shape (version 6, its
 *	actions, its steps) and libmilter's; the packets follow sendmail's
 *	mfdef.h.
 */
#include <sys/socket.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "milter.h"
#include "tap.h"

/* hex_to - "00 00 00 01 63" (spaces ignored; 'c' quotes a char) */
static size_t
hex_to(const char *h, char *out)
{
	size_t	 n = 0;
	unsigned v;

	while (*h) {
		if (isspace((unsigned char)*h)) {
			h++;
			continue;
		}
		if (*h == '\'') {	/* 'text' */
			for (h++; *h && *h != '\''; h++)
				out[n++] = *h;
			if (*h)
				h++;
			continue;
		}
		sscanf(h, "%2x", &v);
		out[n++] = (char)v;
		h += 2;
	}
	return (n);
}

/* to_hex - bytes as "00 01 'ab' ..." is hard to compare: plain hex */
static void
to_hex(const char *p, size_t n, char *out)
{
	size_t	 i;

	out[0] = 0;
	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", (unsigned char)p[i]);
}

/* norm - a vector's expected bytes as plain hex */
static void
norm(const char *h, char *out)
{
	char	 raw[4096];
	size_t	 n = hex_to(h, raw);

	to_hex(raw, n, out);
}

static const char *test_j = "mx.example";

/* macro - j and {daemon_name} have values, nothing else */
static const char *
macro(void *ctx, const char *name)
{
	if (strcmp(name, "j") == 0)
		return (test_j);
	if (strcmp(name, "{daemon_name}") == 0)
		return ("ORIGINATING");
	return (NULL);
}

struct pair {
	int	 mta, mil;
	struct milter *m;
};

/* pair_new - a socketpair and an MTA side on it */
static void
pair_new(struct pair *p, int protocol, int timeout)
{
	int	 sv[2];
	struct milter_conf c;

	memset(&c, 0, sizeof(c));
	c.protocol = protocol;
	c.connect_timeout = c.command_timeout = c.content_timeout = timeout;
	c.macros[MILTER_MAC_CONNECT] = "j {daemon_name} {unset}";
	c.macros[MILTER_MAC_HELO] = "{unset}";
	c.macro = macro;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("socketpair");
		exit(1);
	}
	p->mta = sv[0];
	p->mil = sv[1];
	p->m = milter_new("test", p->mta, &c);
}

/* pair_sent - what the MTA wrote so far, as hex */
static void
pair_sent(struct pair *p, char *hex)
{
	char	 raw[4096];
	ssize_t	 n, got = 0;

	while ((n = recv(p->mil, raw + got, sizeof(raw) - (size_t)got,
	    MSG_DONTWAIT)) > 0)
		got += n;
	to_hex(raw, (size_t)got, hex);
}

/* pair_feed - the milter's packets */
static void
pair_feed(struct pair *p, const char *h)
{
	char	 raw[4096];
	size_t	 n = hex_to(h, raw);

	if (n && write(p->mil, raw, n) != (ssize_t)n)
		perror("write");
}

/* pair_free - close both ends */
static void
pair_free(struct pair *p)
{
	milter_free(p->m);		/* closes mta */
	close(p->mil);
}

/* a negotiation reply: version 6, ADDHDRS, every step with replies */
#define NEG_ALL	"00 00 00 0d 'O' 00 00 00 06 00 00 00 01 00 00 00 00"

static const struct neg_vec {
	const char *name;
	int	 protocol;
	const char *reply;
	const char *want_sent;
	int	 want_rc;
} neg_vecs[] = {
	{ "v6 offer: every action, every step postern implements", 6, NEG_ALL,
	  "00 00 00 0d 'O' 00 00 00 06 00 00 01 ff 00 1d f7 ff", 0 },
	{ "v2 offer: the old actions and the seven NO steps", 2, NEG_ALL,
	  "00 00 00 0d 'O' 00 00 00 02 00 00 00 3f 00 00 00 7f", 0 },
	{ "v4 offer: NR_HDR, NOUNKNOWN, NODATA too", 4, NEG_ALL,
	  "00 00 00 0d 'O' 00 00 00 04 00 00 00 3f 00 00 03 ff", 0 },
	{ "a reply asking for an action not offered fails", 2,
	  "00 00 00 0d 'O' 00 00 00 06 00 00 00 40 00 00 00 00",
	  "00 00 00 0d 'O' 00 00 00 02 00 00 00 3f 00 00 00 7f", -1 },
	{ "a reply that is not OPTNEG fails", 6, "00 00 00 01 'c'",
	  "00 00 00 0d 'O' 00 00 00 06 00 00 01 ff 00 1d f7 ff", -1 },
	{ "a short OPTNEG fails", 6, "00 00 00 05 'O' 00 00 00 06",
	  "00 00 00 0d 'O' 00 00 00 06 00 00 01 ff 00 1d f7 ff", -1 },
	{ "a truncated macro list fails", 6,
	  "00 00 00 12 'O' 00 00 00 06 00 00 00 01 00 00 00 00"
	  " 00 00 00 00 'j'",
	  "00 00 00 0d 'O' 00 00 00 06 00 00 01 ff 00 1d f7 ff", -1 },
	{ "v6 macro list, well formed", 6,
	  "00 00 00 13 'O' 00 00 00 06 00 00 00 01 00 00 00 00"
	  " 00 00 00 00 'j' 00",
	  "00 00 00 0d 'O' 00 00 00 06 00 00 01 ff 00 1d f7 ff", 0 },
};

/* test_negotiate - the OPTNEG vectors */
static void
test_negotiate(void)
{
	char	 got[8192], want[8192], err[256];
	size_t	 i;
	int	 rc;
	struct pair p;

	for (i = 0; i < sizeof(neg_vecs) / sizeof(neg_vecs[0]); i++) {
		const struct neg_vec *v = &neg_vecs[i];

		pair_new(&p, v->protocol, 2);
		pair_feed(&p, v->reply);
		rc = milter_negotiate(p.m, err, sizeof(err));
		pair_sent(&p, got);
		norm(v->want_sent, want);
		tap_is_str(got, want, v->name);
		tap_is_int(rc, v->want_rc, v->name);
		pair_free(&p);
	}
}

static const struct ev_vec {
	const char *name;
	const char *neg;		/* the milter's OPTNEG reply */
	int	 cmd;
	const char *data;		/* hex */
	const char *reply;		/* the milter's packets */
	const char *want_sent;		/* after the negotiation */
	int	 want_rc;
	const char *want_text;
} ev_vecs[] = {
	{ "connect: macros with a value, then the event; continue", NEG_ALL,
	  MILTER_CMD_CONNECT, "'h' 00 '4' 30 39 '1.2.3.4' 00",
	  "00 00 00 01 'c'",
	  "00 00 00 29 'D' 'C' 'j' 00 'mx.example' 00 '{daemon_name}' 00"
	  " 'ORIGINATING' 00"
	  " 00 00 00 0e 'C' 'h' 00 '4' 30 39 '1.2.3.4' 00",
	  MILTER_CONTINUE, "" },
	{ "helo: no macro has a value: no SMFIC_MACRO; accept", NEG_ALL,
	  MILTER_CMD_HELO, "'x.example' 00", "00 00 00 01 'a'",
	  "00 00 00 0b 'H' 'x.example' 00", MILTER_ACCEPT, "" },
	{ "mail: SMFIR_REJECT is Postfix's default text", NEG_ALL,
	  MILTER_CMD_MAIL, "'<a@b>' 00", "00 00 00 01 'r'",
	  "00 00 00 07 'M' '<a@b>' 00", MILTER_REJECT,
	  "550 5.7.1 Command rejected" },
	{ "rcpt: SMFIR_TEMPFAIL", NEG_ALL,
	  MILTER_CMD_RCPT, "'<a@b>' 00", "00 00 00 01 't'",
	  "00 00 00 07 'R' '<a@b>' 00", MILTER_TEMPFAIL,
	  "451 4.7.1 Service unavailable - try again later" },
	{ "rcpt: SMFIR_REPLYCODE: the milter's own reply", NEG_ALL,
	  MILTER_CMD_RCPT, "'<a@b>' 00",
	  "00 00 00 15 'y' '554 5.7.1 no thanks' 00",
	  "00 00 00 07 'R' '<a@b>' 00", MILTER_REJECT,
	  "554 5.7.1 no thanks" },
	{ "replycode 4xx is a tempfail", NEG_ALL,
	  MILTER_CMD_MAIL, "'<>' 00", "00 00 00 13 'y' '452 4.3.1 full up' 00",
	  "00 00 00 04 'M' '<>' 00", MILTER_TEMPFAIL, "452 4.3.1 full up" },
	{ "replycode that is no SMTP code: the default reject", NEG_ALL,
	  MILTER_CMD_MAIL, "'<>' 00", "00 00 00 05 'y' 'oops' 00",
	  "00 00 00 04 'M' '<>' 00", MILTER_REJECT,
	  "550 5.7.1 Command rejected" },
	{ "data: progress, then discard", NEG_ALL,
	  MILTER_CMD_DATA, "", "00 00 00 01 'p' 00 00 00 01 'd'",
	  "00 00 00 01 'T'", MILTER_DISCARD, "" },
	{ "body: skip", NEG_ALL, MILTER_CMD_BODY, "'x' 0d 0a",
	  "00 00 00 01 's'", "00 00 00 04 'B' 'x' 0d 0a", MILTER_SKIP, "" },
	{ "skip outside the body is continue", NEG_ALL, MILTER_CMD_EOH, "",
	  "00 00 00 01 's'", "00 00 00 01 'N'", MILTER_CONTINUE, "" },
	{ "NOHELO: helo is not sent", 
	  "00 00 00 0d 'O' 00 00 00 06 00 00 00 01 00 00 00 02",
	  MILTER_CMD_HELO, "'x' 00", "", "", MILTER_CONTINUE, "" },
	{ "NR_MAIL: sent, no reply read",
	  "00 00 00 0d 'O' 00 00 00 06 00 00 00 01 00 00 40 00",
	  MILTER_CMD_MAIL, "'<>' 00", "", "00 00 00 04 'M' '<>' 00",
	  MILTER_CONTINUE, "" },
	{ "an unexpected reply is a protocol error", NEG_ALL,
	  MILTER_CMD_HELO, "'x' 00", "00 00 00 05 'h' 'a' 00 'b' 00",
	  "00 00 00 03 'H' 'x' 00", MILTER_ERROR,
	  "unexpected reply 'h' to 'H'" },
	{ "a zero packet length is a protocol error", NEG_ALL,
	  MILTER_CMD_HELO, "'x' 00", "00 00 00 00",
	  "00 00 00 03 'H' 'x' 00", MILTER_ERROR, "bad packet length 0" },
	{ "no reply within the timeout", NEG_ALL,
	  MILTER_CMD_HELO, "'x' 00", "", "00 00 00 03 'H' 'x' 00",
	  MILTER_ERROR, "read error: timeout" },
};

/* test_events - one event each */
static void
test_events(void)
{
	char	 got[8192], want[8192], err[256], data[1024];
	size_t	 i, n;
	int	 rc;
	struct pair p;
	struct milter_reply r;

	for (i = 0; i < sizeof(ev_vecs) / sizeof(ev_vecs[0]); i++) {
		const struct ev_vec *v = &ev_vecs[i];

		pair_new(&p, 6, 1);
		pair_feed(&p, v->neg);
		if (milter_negotiate(p.m, err, sizeof(err)) < 0)
			tap_ok(0, "%s: negotiation: %s", v->name, err);
		pair_sent(&p, got);	/* the OPTNEG: not this vector's */
		pair_feed(&p, v->reply);
		n = hex_to(v->data, data);
		rc = milter_event(p.m, v->cmd, data, n, &r);
		pair_sent(&p, got);
		norm(v->want_sent, want);
		tap_is_str(got, want, v->name);
		tap_is_int(rc, v->want_rc, v->name);
		tap_is_str(r.text, v->want_text, v->name);
		pair_free(&p);
	}
}

/* test_header - one leading space eaten unless HDR_LEADSPC */
static void
test_header(void)
{
	char	 got[8192], want[8192], err[256];
	struct pair p;
	struct milter_reply r;

	pair_new(&p, 6, 1);
	pair_feed(&p, NEG_ALL);
	milter_negotiate(p.m, err, sizeof(err));
	pair_sent(&p, got);
	pair_feed(&p, "00 00 00 01 'c'");
	tap_is_int(milter_header(p.m, "Subject", " hi\n\tthere", &r),
	    MILTER_CONTINUE, "header: continue");
	pair_sent(&p, got);
	norm("00 00 00 13 'L' 'Subject' 00 'hi' 0a 09 'there' 00", want);
	tap_is_str(got, want, "header: name, value without the space, LF "
	    "inside a folded value");
	pair_free(&p);

	pair_new(&p, 6, 1);
	pair_feed(&p, "00 00 00 0d 'O' 00 00 00 06 00 00 00 01 00 10 00 00");
	milter_negotiate(p.m, err, sizeof(err));
	pair_sent(&p, got);
	pair_feed(&p, "00 00 00 01 'c'");
	milter_header(p.m, "X", " v", &r);
	pair_sent(&p, got);
	norm("00 00 00 06 'L' 'X' 00 ' v' 00", want);
	tap_is_str(got, want, "header: HDR_LEADSPC keeps the space");
	pair_free(&p);
}

/* test_eom - the modification requests, then the verdict */
static void
test_eom(void)
{
	char	 got[8192], want[8192], err[256];
	struct pair p;
	struct milter_reply r;
	struct milter_mods mods;
	int	 rc;

	memset(&mods, 0, sizeof(mods));
	pair_new(&p, 6, 1);
	pair_feed(&p, "00 00 00 0d 'O' 00 00 00 06 00 00 00 ff 00 00 00 00");
	milter_negotiate(p.m, err, sizeof(err));
	pair_sent(&p, got);
	pair_feed(&p,
	    "00 00 00 09 'h' 'X-A' 00 'one' 00"
	    "00 00 00 0d 'i' 00 00 00 00 'X-B' 00 'two' 00"
	    "00 00 00 0e 'm' 00 00 00 01 'Subject' 00 00"
	    "00 00 00 07 '+' '<x@y>' 00"
	    "00 00 00 07 '-' '<a@b>' 00"
	    "00 00 00 06 'b' 'new' 0d 0a"
	    "00 00 00 05 'q' 'why' 00"
	    "00 00 00 01 'a'");
	rc = milter_eom(p.m, &r, &mods);
	pair_sent(&p, got);
	norm("00 00 00 01 'E'", want);
	tap_is_str(got, want, "eom: SMFIC_BODYEOB (no macro has a value)");
	tap_is_int(rc, MILTER_ACCEPT, "eom: the verdict after the changes");
	tap_is_int((long)mods.n, 5, "eom: five header/recipient changes");
	if (mods.n == 5) {
		tap_ok(mods.v[0].type == MILTER_MOD_ADDHDR
		    && strcmp(mods.v[0].name, "X-A") == 0
		    && strcmp(mods.v[0].value, "one") == 0, "eom: add header");
		tap_ok(mods.v[1].type == MILTER_MOD_INSHDR
		    && mods.v[1].index == 0
		    && strcmp(mods.v[1].name, "X-B") == 0, "eom: insert header");
		tap_ok(mods.v[2].type == MILTER_MOD_CHGHDR
		    && mods.v[2].index == 1 && mods.v[2].value[0] == 0,
		    "eom: delete header (change to empty)");
		tap_ok(mods.v[3].type == MILTER_MOD_ADDRCPT
		    && strcmp(mods.v[3].name, "<x@y>") == 0, "eom: add rcpt");
		tap_ok(mods.v[4].type == MILTER_MOD_DELRCPT, "eom: del rcpt");
	}
	tap_ok(mods.body && BUF_LEN(mods.body) == 5
	    && memcmp(BUF_STR(mods.body), "new\r\n", 5) == 0,
	    "eom: replaced body");
	tap_is_str(mods.quarantine ? mods.quarantine : "", "why",
	    "eom: quarantine reason");
	milter_mods_free(&mods);
	pair_free(&p);

	/* A body change without CHGBODY negotiated is refused. */
	pair_new(&p, 6, 1);
	pair_feed(&p, "00 00 00 0d 'O' 00 00 00 06 00 00 00 01 00 00 00 00");
	milter_negotiate(p.m, err, sizeof(err));
	pair_sent(&p, got);
	pair_feed(&p, "00 00 00 04 'b' 'xx' 0d 00 00 00 01 'c'");
	rc = milter_eom(p.m, &r, &mods);
	tap_is_int(rc, MILTER_ERROR, "eom: a body change the milter did not "
	    "ask for is a protocol error");
	milter_mods_free(&mods);
	pair_free(&p);
}

/* test_connect_fd - a refused connection names the endpoint */
static void
test_connect_fd(void)
{
	char	 err[256];
	int	 fd;

	fd = milter_connect_fd("unix:/nonexistent/milter.sock", "/tmp", 1,
	    err, sizeof(err));
	tap_is_int(fd, -1, "connect: a missing unix socket fails");
	tap_ok(strstr(err, "connect to unix:/nonexistent/milter.sock") != NULL,
	    "connect: the error names the endpoint (%s)", err);
	fd = milter_connect_fd("tcp:x:1", "/tmp", 1, err, sizeof(err));
	tap_is_int(fd, -1, "connect: an unknown endpoint type fails");
}

/* test_list - smtpd_milters syntax */
static void
test_list(void)
{
	struct milter_spec v[4];
	size_t	 n, i;

	n = milter_list_parse("smtpd_milters", "inet:127.0.0.1:8891, "
	    "{ unix:/run/x.sock, default_action=accept }\n  unix:private/y "
	    "{inet:[::1]:9,default_action=quarantine}", MILTER_DEF_TEMPFAIL,
	    v, 4);
	tap_is_int((long)n, 4, "list: four milters, groups and plain");
	if (n == 4) {
		tap_is_str(v[0].endpoint, "inet:127.0.0.1:8891", "list: first");
		tap_is_int(v[0].def_action, MILTER_DEF_TEMPFAIL,
		    "list: the global default action");
		tap_is_str(v[1].endpoint, "unix:/run/x.sock", "list: a group");
		tap_is_int(v[1].def_action, MILTER_DEF_ACCEPT,
		    "list: the group's default_action");
		tap_is_str(v[2].endpoint, "unix:private/y", "list: relative");
		tap_is_str(v[3].endpoint, "inet:[::1]:9", "list: no spaces");
		tap_is_int(v[3].def_action, MILTER_DEF_QUARANTINE,
		    "list: quarantine");
	}
	for (i = 0; i < n; i++)
		free(v[i].endpoint);
	n = milter_list_parse("smtpd_milters", "a b c d e", 0, v, 4);
	tap_is_int((long)n, 4, "list: at most max entries");
	for (i = 0; i < n; i++)
		free(v[i].endpoint);
	tap_is_int((long)milter_list_parse("smtpd_milters", " , ", 0, v, 4),
	    0, "list: empty");
}

/* hdrs_of - the header list of a message text */
static void
hdrs_of(struct milter_hdrs *h, const char *msg)
{
	const char *nl;

	memset(h, 0, sizeof(*h));
	while ((nl = strchr(msg, '\n')) != NULL) {
		if (milter_hdrs_line(h, msg, (size_t)(nl - msg)) != 0)
			break;
		msg = nl + 1;
	}
}

/* hdrs_str - the list joined with LF */
static void
hdrs_str(const struct milter_hdrs *h, char *out, size_t len)
{
	size_t	 i;

	out[0] = 0;
	for (i = 0; i < h->n; i++) {
		strncat(out, h->v[i], len - strlen(out) - 1);
		strncat(out, "\n", len - strlen(out) - 1);
	}
}

/* test_hdrs - the header changes as Postfix/Sendmail index them */
static void
test_hdrs(void)
{
	static struct milter_mod m[] = {
		{ MILTER_MOD_CHGHDR, 2, "X-A", "changed\r\n\tfolded" },
		{ MILTER_MOD_CHGHDR, 1, "x-a", "" },
		{ MILTER_MOD_INSHDR, 1, "X-Ins", "at one" },
		{ MILTER_MOD_ADDHDR, 0, "X-Add", " leading space kept" },
		{ MILTER_MOD_CHGHDR, 1, "X-Missing", "added" },
		{ MILTER_MOD_CHGHDR, 5, "X-None", "" },
	};
	struct milter_mods mods = { m, 6, 6, NULL, NULL };
	struct milter_hdrs h;
	char	 got[1024];

	hdrs_of(&h, "From: a\nX-A: one\n more\nX-A: two\nSubject: s\n"
	    "\nbody\n");
	tap_is_int((long)h.n, 4, "hdrs: four headers, a folded one");
	tap_ok(h.blank && h.first == NULL, "hdrs: the empty line ends them");
	milter_hdrs_apply(&h, &mods);
	hdrs_str(&h, got, sizeof(got));
	tap_is_str(got, "From: a\nX-Ins: at one\nX-A: changed\n\tfolded\n"
	    "Subject: s\nX-Add: leading space kept\nX-Missing: added\n",
	    "hdrs: change the 2nd X-A, delete the 1st (any case), insert at "
	    "1, add, change a missing one adds it, delete a missing one");
	milter_hdrs_free(&h);

	hdrs_of(&h, "From: a\nnot a header\nX: y\n");
	tap_ok(h.n == 1 && h.first && strcmp(h.first, "not a header") == 0,
	    "hdrs: a line that is no header starts the body");
	milter_hdrs_free(&h);
	tap_ok(milter_is_header("X-A :v", 6) && !milter_is_header(" X: v", 5)
	    && !milter_is_header(":v", 2) && !milter_is_header("a b: c", 6),
	    "hdrs: what is a header line");
}

int
main(void)
{
	test_list();
	test_hdrs();
	test_negotiate();
	test_events();
	test_header();
	test_eom();
	test_connect_fd();
	return (tap_done());
}
