/*
 * NAME
 *	deliver_log_test - the delivery log line and its delay format
 * DESCRIPTION
 *	Delay vectors against Postfix's format_tv(2 significant digits,
 *	resolution 2) as log_adhoc() uses it; whole lines for the stages
 *	qmgr, virtual and smtp log (field order, orig_to, the four
 *	delays); hostile text in the fields; deliver_log() itself through
 *	the log hook.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "deliver.h"
#include "deliver_log.h"
#include "log.h"
#include "tap.h"

static const struct {
	double	 in;
	const char *want;
} delays[] = {
	{0, "0"},
	{0.001, "0"},
	{0.004999, "0"},
	{0.005, "0.01"},
	{0.0051, "0.01"},
	{0.1, "0.1"},
	{0.12, "0.12"},
	{0.125, "0.13"},
	{0.305, "0.31"},
	{0.999, "1"},
	{1, "1"},
	{1.234, "1.2"},
	{1.25, "1.3"},
	{2.04, "2"},
	{9.96, "10"},
	{12.34, "12"},
	{12.5, "13"},
	{123.4, "123"},
	{3600, "3600"},
	{86400.6, "86401"},
	{-1, "0"},
	{-0.001, "0"},
	{1e300, "1000000000000"},
};

#define T0	1700000000.0	/* arrival */

static const struct {
	const char *name;
	struct deliver_log e;
	const char *want;
} lines[] = {
	{"virtual: agent started at handoff, no network",
	    {"4F2A1B3C", "user1@example.com", NULL, "virtual", "2.0.0",
	    "sent", "delivered to maildir", T0, T0 + 0.5, T0 + 0.5, 0,
	    T0 + 1.734},
	    "4F2A1B3C: to=<user1@example.com>, relay=virtual, delay=1.7, "
	    "delays=0.5/0/0/1.2, dsn=2.0.0, status=sent (delivered to "
	    "maildir)"},
	{"smtp: connection set-up and transmission",
	    {"4F2A1B3C", "b@remote.example", "alias@example.com",
	    "mx.remote.example[192.0.2.1]:25", "2.0.0", "sent",
	    "250 2.0.0 Ok: queued as X", T0, T0 + 0.02, T0 + 0.02,
	    T0 + 0.32, T0 + 12.345},
	    "4F2A1B3C: to=<b@remote.example>, orig_to=<alias@example.com>, "
	    "relay=mx.remote.example[192.0.2.1]:25, delay=12, "
	    "delays=0.02/0/0.3/12, dsn=2.0.0, status=sent (250 2.0.0 Ok: "
	    "queued as X)"},
	{"qmgr: decided without an agent (relay none)",
	    {"4F2A1B3C", "list@localhost", NULL, NULL, "5.1.1", "bounced",
	    "unknown user", T0, T0 + 1.234, 0, 0, T0 + 2.5},
	    "4F2A1B3C: to=<list@localhost>, relay=none, delay=2.5, "
	    "delays=1.2/1.3/0/0, dsn=5.1.1, status=bounced (unknown user)"},
	{"no qmgr: everything before the active queue",
	    {"ID", "a@b", NULL, "none", "4.3.0", "deferred", "x", T0, 0, 0, 0,
	    T0 + 0.25},
	    "ID: to=<a@b>, relay=none, delay=0.25, delays=0.25/0/0/0, "
	    "dsn=4.3.0, status=deferred (x)"},
	{"orig_to equal but for case is not logged",
	    {"ID", "User@Example.com", "user@example.com", "virtual", "2.0.0",
	    "sent", "ok", T0, T0, T0, 0, T0},
	    "ID: to=<User@Example.com>, relay=virtual, delay=0, "
	    "delays=0/0/0/0, dsn=2.0.0, status=sent (ok)"},
	{"a DSN ORCPT (type;address) is not orig_to, as in Postfix",
	    {"ID", "x@remote.example", "rfc822;orig@client.test", "virtual",
	    "2.0.0", "sent", "ok", T0, T0, T0, 0, T0},
	    "ID: to=<x@remote.example>, relay=virtual, delay=0, "
	    "delays=0/0/0/0, dsn=2.0.0, status=sent (ok)"},
	{"empty orig_to is not logged",
	    {"ID", "a@b", "", "virtual", "2.0.0", "sent", "ok", T0, T0, T0, 0,
	    T0},
	    "ID: to=<a@b>, relay=virtual, delay=0, delays=0/0/0/0, "
	    "dsn=2.0.0, status=sent (ok)"},
	{"a clock that jumps back gives 0, never a negative delay",
	    {"ID", "a@b", NULL, "virtual", "2.0.0", "sent", "ok", T0, T0 - 5,
	    T0 - 5, 0, T0 - 1},
	    "ID: to=<a@b>, relay=virtual, delay=0, delays=0/0/0/4, "
	    "dsn=2.0.0, status=sent (ok)"},
	{"hostile bytes in every field become '?'",
	    {"ID", "a\r\n@b", "x\001y", "h\n[1.2.3.4]", "5.0\t0", "bounced",
	    "said: 550\r\nfake: to=<z>\033[0m", T0, T0, T0, 0, T0},
	    "ID: to=<a??@b>, orig_to=<x?y>, relay=h?[1.2.3.4], delay=0, "
	    "delays=0/0/0/0, dsn=5.0?0, status=bounced (said: 550??fake: "
	    "to=<z>?[0m)"},
	{"a long reason is kept whole (remote replies)",
	    {"ID", "a@b", NULL, "h[1.2.3.4]:25", "5.1.1", "bounced",
	    "host h[1.2.3.4] said: 550 5.1.1 <a@b>: Recipient address "
	    "rejected: User unknown in virtual mailbox table (in reply to "
	    "RCPT TO command)", T0, T0, T0, T0, T0},
	    "ID: to=<a@b>, relay=h[1.2.3.4]:25, delay=0, delays=0/0/0/0, "
	    "dsn=5.1.1, status=bounced (host h[1.2.3.4] said: 550 5.1.1 "
	    "<a@b>: Recipient address rejected: User unknown in virtual "
	    "mailbox table (in reply to RCPT TO command))"},
};

static struct buf *logged;

/* hook - keep the info lines */
static void
hook(int level, const char *text, void *ctx)
{
	if (level == LOG_LVL_INFO)
		buf_puts(logged, text);
}

int
main(void)
{
	struct buf *b = buf_new(256);
	struct deliver_log e;
	char	 d[32], name[80];
	size_t	 i;

	for (i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
		snprintf(name, sizeof(name), "delay %g s is %s", delays[i].in,
		    delays[i].want);
		tap_is_str(deliver_log_delay(d, sizeof(d), delays[i].in),
		    delays[i].want, name);
	}
	tap_is_str(deliver_log_delay(d, sizeof(d), NAN), "0", "NaN is 0");
	tap_is_str(deliver_log_delay(d, 3, 1234.5), "12",
	    "a short buffer truncates, never overflows");
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		buf_reset(b);
		deliver_log_format(b, &lines[i].e);
		tap_is_str(BUF_STR(b), lines[i].want, lines[i].name);
	}
	tap_is_str(deliver_log_status(DELIVER_ACTION_DELIVERED), "sent",
	    "delivered is logged as sent");
	tap_is_str(deliver_log_status(DELIVER_ACTION_BOUNCED), "bounced",
	    "bounced is bounced");
	tap_is_str(deliver_log_status(DELIVER_ACTION_DEFERRED), "deferred",
	    "deferred is deferred");
	tap_is_str(deliver_log_status(NULL), "deferred",
	    "no action is deferred, never sent");

	logged = buf_new(256);
	log_init("deliver_log_test", 0);
	log_set_hook(hook, NULL);
	deliver_log(&lines[0].e);
	tap_is_str(BUF_STR(logged), lines[0].want,
	    "deliver_log() logs the formatted line as it is");
	buf_reset(logged);
	memset(&e, 0, sizeof(e));
	e.queue_id = "ID";
	e.rcpt = "a@b";
	e.arrival = deliver_log_now() - 0.5;
	e.active = e.handoff = e.arrival;
	e.status = "sent";
	deliver_log(&e);		/* done 0: now */
	tap_ok(strstr(BUF_STR(logged), ", delay=0.5") != NULL,
	    "done 0 means now: delay=0.5x (%s)", BUF_STR(logged));
	log_set_hook(NULL, NULL);
	buf_free(logged);
	buf_free(b);
	return (tap_done());
}
