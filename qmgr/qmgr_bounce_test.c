/*
 * NAME
 *	qmgr_bounce_test - table-driven tests of DSN formatting
 * DESCRIPTION
 *	Each case formats a notification and checks for lines that must
 *	(or must not) be in it; hostile input (CR/LF in a reason, 8-bit,
 *	an empty message, a message without a header/body separator, a
 *	message that looks like a MIME boundary) must not break the
 *	structure: exactly one closing boundary, every part introduced.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "qmgr_bounce.h"
#include "tap.h"

struct dsn_case {
	const char *name;
	int	 kind;
	const char *sender;
	const char *addr;
	const char *orcpt;
	const char *status;
	const char *reason;
	const char *msg;
	int	 full;
	const char *want[8];
	const char *reject[4];
};

#define DATE	"Date: Tue, 25 Nov 2025 19:46:40 +0000 (UTC)\n"
#define BND	"QID1.1764100000/mx.example.com"

static const struct dsn_case cases[] = {
	{"failure, full message", QMGR_DSN_FAILURE, "alice@example.org",
	"bob@example.com", NULL, "5.1.1", "host x said: 550 5.1.1 unknown",
	"Subject: hi\nFrom: alice@example.org\n\nbody text\n", 1,
	{"\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example.com>\n",
	"\nSubject: Undelivered Mail Returned to Sender\n",
	"\nContent-Type: multipart/report; report-type=delivery-status;\n"
	"\tboundary=\"" BND "\"\n",
	"\nReporting-MTA: dns; mx.example.com\nX-Postfix-Queue-ID: QID1\n"
	"X-Postfix-Sender: rfc822; alice@example.org\n",
	"\nFinal-Recipient: rfc822; bob@example.com\nOriginal-Recipient: "
	"rfc822;bob@example.com\nAction: failed\n"
	"Status: 5.1.1\nDiagnostic-Code: X-Postfix; host x said: 550 5.1.1"
	" unknown\n",
	"\nContent-Type: message/rfc822\n",
	"\n\nSubject: hi\nFrom: alice@example.org\n\nbody text\n",
	"\n--" BND "--\n"},
	{"Original-Recipient: rfc822; ", "text/rfc822-headers"}},
	{"failure, headers only", QMGR_DSN_FAILURE, "alice@example.org",
	"bob@example.com", "list@example.com", "5.0.0", "no",
	"Subject: hi\n\nsecret body\n", 0,
	{"Content-Type: text/rfc822-headers\n",
	"Original-Recipient: rfc822;list@example.com\n",
	"\nSubject: hi\n"},
	{"secret body", "message/rfc822"}},
	{"DSN ORCPT: its own addr-type, once", QMGR_DSN_FAILURE,
	"alice@example.org", "bob@example.com", "rfc822;orig@client.test",
	"5.0.0", "no", "Subject: hi\n\nbody\n", 0,
	{"Original-Recipient: rfc822;orig@client.test\n"},
	{"rfc822; rfc822;", "rfc822;rfc822"}},
	{"DSN ORCPT of another addr-type", QMGR_DSN_FAILURE,
	"alice@example.org", "bob@example.com", "x-local;orig",
	"5.0.0", "no", "Subject: hi\n\nbody\n", 0,
	{"Original-Recipient: x-local;orig\n"}, {"rfc822; x-local"}},
	{"a remote reply: Remote-MTA dns, Diagnostic-Code smtp",
	QMGR_DSN_FAILURE, "alice@example.org", "bob@example.com", NULL,
	"5.1.1", "host mx.example.com[192.0.2.1] said: 550 5.1.1 <bob@"
	"example.com>: no such user (in reply to RCPT TO command)",
	"Subject: hi\n\nbody\n", 0,
	{"Status: 5.1.1\nRemote-MTA: dns; mx.example.com\nDiagnostic-Code:"
	" smtp; 550 5.1.1 <bob@example.com>: no such user\n"},
	{"X-Postfix; host", "user (in reply to RCPT TO command)\nAction"}},
	{"delay warning", QMGR_DSN_DELAY, "alice@example.org",
	"bob@example.com", NULL, "4.4.1", "connection refused",
	"Subject: hi\n\nbody\n", 1,
	{"Subject: Delayed Mail (still being retried)\n",
	"Action: delayed\nStatus: 4.4.1\nWill-Retry-Until: ",
	"THIS IS A WARNING ONLY",
	"Content-Description: Undelivered Message Headers\n"},
	{"Action: failed", "\nbody\n"}},
	{"success report", QMGR_DSN_SUCCESS, "alice@example.org",
	"bob@example.com", NULL, "2.0.0", "delivered to maildir",
	"Subject: hi\n\nbody\n", 1,
	{"Subject: Successful Mail Delivery Report\n",
	"Action: delivered\nStatus: 2.0.0\n",
	"\nContent-Description: Message Headers\n"
	"Content-Type: text/rfc822-headers\n"},
	{"Action: failed", "\nbody\n", "Will-Retry-Until", "Undelivered"}},
	{"success relayed (RFC 3461 5.2)", QMGR_DSN_SUCCESS,
	"alice@example.org", "bob@example.com", NULL, "2.0.0",
	"250 2.0.0 Ok: queued as X", "Subject: hi\n\nbody\n", 1,
	{"\nAction: relayed\nStatus: 2.0.0\n",
	"\nContent-Description: Message Headers\n"},
	{"Action: delivered", "Undelivered"}},
	{"CR LF in reason cannot start a header", QMGR_DSN_FAILURE,
	"alice@example.org", "bob@example.com", NULL, "5.1.1",
	"bad\r\nX-Injected: yes\n\n--" BND "--", "Subject: x\n\nb\n", 1,
	{"Diagnostic-Code: X-Postfix; bad  X-Injected: yes  --" BND "--\n"},
	{"\nX-Injected: yes"}},
	{"LF in the sender", QMGR_DSN_FAILURE, "a@b\nBcc: evil@x",
	"bob@example.com", NULL, "5.1.1", "x", "Subject: x\n\nb\n", 1,
	{"To: a@b Bcc: evil@x\n"},
	{"\nBcc: evil@x"}},
	{"8-bit text passes", QMGR_DSN_FAILURE, "j\xc3\xb6rg@example.org",
	"b\xc3\xa4r@example.com", NULL, "5.1.1", "unbekannt \xc3\xbc",
	"Subject: \xc3\xa4\n\nb\n", 1,
	{"Final-Recipient: rfc822; b\xc3\xa4r@example.com\n"},
	{NULL}},
	{"empty message", QMGR_DSN_FAILURE, "a@example.org",
	"b@example.com", NULL, "5.1.1", "x", "", 1,
	{"Content-Type: message/rfc822\n", "\n--" BND "--\n"},
	{NULL}},
	{"message without body separator", QMGR_DSN_FAILURE, "a@example.org",
	"b@example.com", NULL, "5.1.1", "x", "Subject: no end", 0,
	{"text/rfc822-headers\nContent-Transfer-Encoding: 8bit\n\n"
	"Subject: no end\n"},
	{NULL}},
	{"empty reason and address", QMGR_DSN_FAILURE, "a@example.org",
	"", NULL, "5.1.1", "", "Subject: x\n\nb\n", 1,
	{"Final-Recipient: rfc822; \n", "<>: \n"},
	{NULL}},
	{NULL},
};

/* flat - a test name on one line */
static void
flat(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r' || *s == '\t')
			*s = ' ';
}

/* count - occurrences of needle */
static int
count(const char *hay, const char *needle)
{
	int	 n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return (n);
}

int
main(void)
{
	const struct dsn_case *c;
	char	 name[300];
	int	 i;

	setenv("TZ", "UTC", 1);
	for (c = cases; c->name; c++) {
		/* the "success relayed" case: smtp's action for a next hop
		 * without DSN */
		struct qmgr_dsn_rcpt r = {c->addr, c->orcpt, c->status,
		c->reason, strncmp(c->name, "success relayed", 15) == 0 ?
		"relayed" : NULL};
		struct qmgr_dsn d;
		struct buf *b = buf_new(1024);

		memset(&d, 0, sizeof(d));
		d.kind = c->kind;
		d.queue_id = "QID1";
		d.sender = c->sender;
		d.myhostname = "mx.example.com";
		d.mail_name = "postern";
		d.arrival = 1764090000;
		d.now = 1764100000;
		d.retry_until = 1764090000 + 5 * 86400;
		d.rcpts = &r;
		d.nrcpts = 1;
		d.msg = c->msg;
		d.msg_len = strlen(c->msg);
		d.full = c->full;
		qmgr_dsn_format(&d, b);
		for (i = 0; i < 8 && c->want[i]; i++) {
			snprintf(name, sizeof(name), "%s: has %.40s", c->name,
			    c->want[i]);
			flat(name);
			tap_ok(strstr(BUF_STR(b), c->want[i]) != NULL, "%s",
			    name);
		}
		for (i = 0; i < 4 && c->reject[i]; i++) {
			snprintf(name, sizeof(name), "%s: lacks %.40s",
			    c->name, c->reject[i]);
			flat(name);
			tap_ok(strstr(BUF_STR(b), c->reject[i]) == NULL, "%s",
			    name);
		}
		snprintf(name, sizeof(name), "%s: one closing boundary",
		    c->name);
		tap_is_int(count(BUF_STR(b), "\n--" BND "--\n"), 1, name);
		snprintf(name, sizeof(name), "%s: parts", c->name);
		tap_is_int(count(BUF_STR(b), "\n--" BND "\n"),
		    3, name);
		snprintf(name, sizeof(name), "%s: Date header", c->name);
		tap_ok(strncmp(BUF_STR(b), DATE, strlen(DATE)) == 0, "%s",
		    name);
		tap_ok(BUF_STR(b)[BUF_LEN(b) - 1] == '\n', "%s: ends with LF",
		    c->name);
		buf_free(b);
	}
	return (tap_done());
}
