/*
 * NAME
 *	anvil - client connection counts and request rates for smtpd
 * SYNOPSIS
 *	anvil [-c config_dir] [-o name=value] [-d] [-v] [-l path]
 * DESCRIPTION
 *	Postfix's anvil(8): master runs it as the master.cf service
 *	"anvil" (unix, one process). The counts it keeps (how many
 *	connections a client has open and how often it connected, sent
 *	MAIL, RCPT, STARTTLS or AUTH in the current window of
 *	anvil_rate_time_unit) live in a table in memory that master shares
 *	with anvil and every smtpd process (lib/anvil_shm.c): smtpd counts
 *	and checks its clients there itself, without a request to anvil
 *	(issue 13). anvil logs the statistics, answers the protocol below
 *	from the same table (for tools and tests), and uncounts the
 *	connections of an smtpd that died: each smtpd keeps an idle
 *	connection to $queue_directory/private/anvil, and when one closes,
 *	and every few seconds, anvil looks for processes that died holding
 *	counts. Run by hand, without master, it keeps a table of its own.
 *
 *	Protocol (lib/attr.h lists; one reply per request):
 *	  version=1, request=connect|disconnect|message|recipient|
 *	  newtls|auth, ident=SERVICE:ADDRESS
 *	  reply: status=0, count=N (open connections), rate=N (events of
 *	  that kind in this window, this one included).
 *	  postern's per-login sending limits use request=sasl_message|
 *	  sasl_recipient, ident=sasl:LOGIN, whose window is
 *	  smtpd_sasl_rate_time_unit (default 1h).
 *	A connection counted through one connection to anvil is uncounted
 *	when its client says disconnect or when that connection closes.
 *	A connection an smtpd counted itself is uncounted when that smtpd
 *	says so or exits, or, when it crashed or was killed, by anvil
 *	(above): a killed smtpd does not leave its clients counted forever.
 *
 *	Every anvil_status_update_time, and at exit, the maxima since the
 *	last report are logged as Postfix's anvil does: "statistics: max
 *	connection rate 5/60s for (smtp:1.2.3.4) at Dec 28 13:19:23",
 *	"statistics: max connection count 5 for (...) at ...", and the
 *	message, recipient, newtls and auth rates.
 * DIAGNOSTICS
 *	A malformed request ends that smtpd's connection (it reconnects).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "anvil_shm.h"
#include "attr.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "server.h"
#include "str.h"
#include "xalloc.h"

/* One connection to anvil: the client connections counted through it. */
struct anvil_peer {
	struct bufferevent *bev;
	struct strv *held;		/* "TICKET IDENT" per open connection */
};

static struct anvil_shm *anvil_tab;
static long anvil_unit;
static struct event *anvil_timer;
static time_t anvil_last_stats;
static long anvil_stats_every;

/* anvil_log_stat - one statistics line */
static void
anvil_log_stat(const char *what, int value, const char *ident, time_t when,
    void *ctx)
{
	char	 at[32];
	struct tm tm;

	localtime_r(&when, &tm);
	strftime(at, sizeof(at), "%b %e %H:%M:%S", &tm);
	if (strcmp(what, "connection count") == 0)
		log_info("statistics: max %s %d for (%s) at %s", what, value,
		    ident, at);
	else
		log_info("statistics: max %s %d/%lds for (%s) at %s", what,
		    value, anvil_unit, ident, at);
}

/* anvil_reap - uncount the connections of processes that died */
static void
anvil_reap(void)
{
	int	 n;

	if ((n = anvil_shm_reap(anvil_tab)) > 0)
		log_info("uncounted %d client connection%s of an smtpd that "
		    "exited", n, n == 1 ? "" : "s");
}

/* anvil_tick - dead processes' counts; the statistics when due */
static void
anvil_tick(evutil_socket_t fd, short what, void *ctx)
{
	time_t	 now = time(NULL);

	anvil_reap();
	if (now - anvil_last_stats >= anvil_stats_every) {
		anvil_shm_stats(anvil_tab, anvil_log_stat, NULL);
		anvil_last_stats = now;
	}
}

/* anvil_held_ident - the ident of a "TICKET IDENT" entry */
static const char *
anvil_held_ident(const char *held, unsigned *ticket)
{
	char	*end;

	*ticket = (unsigned)strtoul(held, &end, 10);
	return (*end == ' ' ? end + 1 : end);
}

/* anvil_peer_free - uncount what this peer still holds, then free it */
static void
anvil_peer_free(struct anvil_peer *p)
{
	time_t	 now = time(NULL);
	const char *ident;
	unsigned ticket;
	size_t	 i;

	for (i = 0; i < p->held->argc; i++) {
		ident = anvil_held_ident(p->held->argv[i], &ticket);
		anvil_shm_disconnect(anvil_tab, ident, ticket, now);
	}
	strv_free(p->held);
	bufferevent_free(p->bev);
	free(p);
	server_session_end();
	/* an smtpd's idle connection: it may have died */
	anvil_reap();
}

/* anvil_unhold - forget one connection of ident held by this peer */
static int
anvil_unhold(struct anvil_peer *p, const char *ident, unsigned *ticket)
{
	size_t	 i;

	for (i = 0; i < p->held->argc; i++)
		if (strcmp(anvil_held_ident(p->held->argv[i], ticket),
		    ident) == 0) {
			free(p->held->argv[i]);
			p->held->argv[i] = p->held->argv[--p->held->argc];
			p->held->argv[p->held->argc] = NULL;
			return (1);
		}
	return (0);
}

/* anvil_request - one request; -1 when it is malformed */
static int
anvil_request(struct anvil_peer *p, const struct attr_list *l,
    struct buf *out)
{
	const char *req = attr_get(l, "request");
	const char *ident = attr_get(l, "ident");
	time_t	 now = time(NULL);
	int	 count = 0, rate = 0, ev = -1;
	unsigned ticket;
	char	*held;

	if (req == NULL || ident == NULL || *ident == 0
	    || strchr(ident, ':') == NULL)
		return (-1);
	if (strcmp(req, "connect") == 0) {
		if (anvil_shm_connect(anvil_tab, ident, now, &count, &rate,
		    &ticket) == 0) {
			held = xasprintf("%u %s", ticket, ident);
			strv_add(p->held, held);
			free(held);
		}
	} else if (strcmp(req, "disconnect") == 0) {
		if (anvil_unhold(p, ident, &ticket))
			anvil_shm_disconnect(anvil_tab, ident, ticket, now);
		count = anvil_shm_count(anvil_tab, ident);
	} else if (strcmp(req, "message") == 0)
		ev = ANVIL_EV_MAIL;
	else if (strcmp(req, "recipient") == 0)
		ev = ANVIL_EV_RCPT;
	else if (strcmp(req, "newtls") == 0)
		ev = ANVIL_EV_NTLS;
	else if (strcmp(req, "auth") == 0)
		ev = ANVIL_EV_AUTH;
	else if (strcmp(req, "sasl_message") == 0
	    || strcmp(req, "sasl_recipient") == 0) {
		rate = anvil_shm_event(anvil_tab, ident,
		    req[5] == 'm' ? ANVIL_EV_MAIL : ANVIL_EV_RCPT, now);
	} else
		return (-1);
	if (ev >= 0) {
		rate = anvil_shm_event(anvil_tab, ident, ev, now);
		count = anvil_shm_count(anvil_tab, ident);
	}
	if (rate < 0)
		rate = 0;
	attr_put(out, "status", "0");
	attr_put_long(out, "count", count);
	attr_put_long(out, "rate", rate);
	attr_end(out);
	return (0);
}

/* anvil_read - every complete request in the input */
static void
anvil_read(struct bufferevent *bev, void *ctx)
{
	struct anvil_peer *p = ctx;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct attr_list *l;
	struct buf *out = buf_new(64);
	char	 err[128];
	size_t	 len, used;
	const char *data;

	for (;;) {
		len = evbuffer_get_length(in);
		if (len == 0)
			break;
		data = (const char *)evbuffer_pullup(in, -1);
		err[0] = 0;
		l = attr_parse(data, len, &used, err, sizeof(err));
		if (l == NULL && err[0] == 0)
			break;			/* need more */
		if (l == NULL || anvil_request(p, l, out) < 0) {
			log_warn("malformed request from an anvil client%s%s",
			    err[0] ? ": " : "", err);
			attr_list_free(l);
			buf_free(out);
			anvil_peer_free(p);
			return;
		}
		attr_list_free(l);
		evbuffer_drain(in, used);
	}
	if (BUF_LEN(out))
		bufferevent_write(bev, BUF_STR(out), BUF_LEN(out));
	buf_free(out);
}

/* anvil_event_cb - the smtpd went away */
static void
anvil_event_cb(struct bufferevent *bev, short what, void *ctx)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		anvil_peer_free(ctx);
}

/* anvil_accept - an smtpd connected */
static void
anvil_accept(const struct server_conn *conn)
{
	struct anvil_peer *p = xcalloc(1, sizeof(*p));

	server_session_begin();
	p->held = strv_new();
	p->bev = bufferevent_socket_new(server_base(), conn->fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (p->bev == NULL)
		log_fatal("cannot create a bufferevent");
	bufferevent_setcb(p->bev, anvil_read, NULL, anvil_event_cb, p);
	bufferevent_enable(p->bev, EV_READ);
}

/* anvil_post_init - the table and the timer */
static void
anvil_post_init(struct event_base *base)
{
	struct timeval tv = {1, 0};
	char	 err[200];
	int	 given;

	anvil_unit = conf_time("anvil_rate_time_unit");
	if (anvil_unit < 1)
		anvil_unit = 1;
	anvil_stats_every = conf_time("anvil_status_update_time");
	/* master's table; run by hand, one of our own */
	given = getenv(ANVIL_SHM_ENV) != NULL;
	if ((anvil_tab = anvil_shm_from_env(err, sizeof(err))) == NULL) {
		if (given)
			log_warn("%s: counting in a table of anvil's own; "
			    "smtpd's counts are not seen here", err);
		if ((anvil_tab = anvil_shm_attach(-1, err, sizeof(err)))
		    == NULL)
			log_fatal("cannot make a table: %s", err);
	}
	anvil_shm_units(anvil_tab, anvil_unit,
	    conf_time("smtpd_sasl_rate_time_unit"));
	if (anvil_shm_claim(anvil_tab) < 0)
		log_warn("anvil table: no process slot free");
	anvil_reap();
	anvil_last_stats = time(NULL);
	tv.tv_sec = anvil_unit < 5 ? anvil_unit : 5;
	anvil_timer = event_new(base, -1, EV_PERSIST, anvil_tick, NULL);
	event_add(anvil_timer, &tv);
}

/* anvil_pre_exit - the last statistics */
static void
anvil_pre_exit(void)
{
	anvil_shm_stats(anvil_tab, anvil_log_stat, NULL);
	if (anvil_timer)
		event_free(anvil_timer);
	anvil_shm_detach(anvil_tab);
	anvil_tab = NULL;
}

int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
		.program = "anvil",
		.post_init = anvil_post_init,
		.accept = anvil_accept,
		.pre_exit = anvil_pre_exit,
		.long_lived = 1,
	};

	return (server_main(argc, argv, &spec));
}
