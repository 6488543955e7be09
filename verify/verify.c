/*
 * NAME
 *	verify - the address verification service (Postfix's verify(8))
 * SYNOPSIS
 *	verify [-c config_dir] [-o name=value] [-d] [-v] [-l path]
 * DESCRIPTION
 *	master runs it as the master.cf service "verify" (unix, one
 *	process; the seed's "verify unix - - - - 1 verify"). It keeps
 *	what is known about addresses in address_verify_map
 *	(verify_cache.h) and answers smtpd's reject_unverified_recipient
 *	and reject_unverified_sender queries and qmgr's updates
 *	(lib/verify_clnt.h has the protocol).
 *
 *	A query of an unknown or stale address sends a probe: a message
 *	written into incoming/ with the attribute verify_probe=1, from
 *	address_verify_sender ($double_bounce_sender, qualified with
 *	$myorigin; "<>" or empty: the null sender) to the address, never
 *	notifying anybody (NOTIFY=NEVER). qmgr routes it like any mail;
 *	a virtual or alias recipient is decided from the tables, a remote
 *	one by the smtp client, which ends the session after RCPT TO; the
 *	outcome comes back as an update and the probe is removed (see
 *	qmgr/qmgr_verify.c). A probe never reaches a mailbox and never
 *	bounces.
 *
 *	Every address_verify_cache_cleanup_interval (12h; 0: never) the
 *	expired entries are dropped and logged as Postfix does ("cache
 *	btree:... full cleanup: retained=N dropped=M entries").
 *
 *	Requests run on the event loop: LMDB reads and writes of one
 *	short entry and one small queue file per probe.
 * DIAGNOSTICS
 *	A malformed request costs that connection. A cache file that cannot
 *	be opened is a warning, and the cache then lives in memory (Postfix
 *	exits fatal; master.cf files that name a verify service would
 *	otherwise throttle it in a loop where data_directory is missing).
 * SEE ALSO
 *	verify_cache.h, lib/verify_clnt.h, Postfix's verify(8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "attr.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "queue.h"
#include "server.h"
#include "trigger.h"
#include "verify_cache.h"
#include "xalloc.h"

static struct verify_cache *verify_cache;
static struct verify_policy verify_pol;
static char *verify_queue_dir;
static char *verify_sender;
static struct event *verify_cleanup_timer;
static char *verify_map_spec;

/* verify_probe - a probe message for addr into incoming/; 0 or -1 */
static int
verify_probe(const char *addr)
{
	struct queue_writer *w;
	struct buf *body;
	char	 err[256], id[QUEUE_ID_MAX + 1];
	int	 rc = -1;

	if ((w = queue_writer_new(verify_queue_dir, "incoming", err,
	    sizeof(err))) == NULL) {
		log_warn("cannot create address verification probe for "
		    "<%s>: %s", addr, err);
		return (-1);
	}
	snprintf(id, sizeof(id), "%s", queue_writer_id(w));
	queue_writer_sender(w, verify_sender);
	queue_writer_attr(w, "verify_probe", "1");
	queue_writer_attr(w, "origin", "verify");
	queue_writer_rcpt(w, addr, NULL, QUEUE_NOTIFY_NEVER);
	queue_writer_warn(w, 0);
	body = buf_new(256);
	buf_printf(body, "Subject: address verification probe\n"
	    "To: <%s>\n\n", addr);
	if (queue_writer_body(w, BUF_STR(body), BUF_LEN(body)) < 0
	    || queue_writer_finish(w, err, sizeof(err)) < 0) {
		log_warn("%s: cannot write address verification probe: %s",
		    id, err);
		queue_writer_abort(w);
	} else if (queue_writer_commit(w, err, sizeof(err)) < 0)
		log_warn("%s: cannot commit address verification probe: %s",
		    id, err);
	else
		rc = 0;
	buf_free(body);
	if (rc == 0) {
		log_info("%s: address verification probe for <%s> from <%s>",
		    id, log_safe(addr), verify_sender);
		if (trigger_qmgr(verify_queue_dir, TRIGGER_REQ_WAKEUP, 0, err,
		    sizeof(err)) < 0)
			log_debug("cannot wake qmgr: %s", err);
	}
	return (rc);
}

/* verify_query - answer a query; probe when the rule says so */
static void
verify_query(const char *addr, struct buf *out)
{
	struct verify_entry e;
	int	 found;

	memset(&e, 0, sizeof(e));
	found = verify_cache_get(verify_cache, addr, &e);
	if (verify_query_decide(&verify_pol, found == 1, &e, time(NULL))
	    == VERIFY_PROBE) {
		if (verify_probe(addr) < 0)
			e.probed = 0;		/* try again next query */
		(void)verify_cache_put(verify_cache, addr, &e);
	} else if (found != 1)
		(void)verify_cache_put(verify_cache, addr, &e);
	log_debug("query <%s>: status %d, %s", addr, e.status, e.text);
	attr_put(out, "status", "0");
	attr_put_long(out, "addr_status", e.status);
	attr_put(out, "reason", e.text);
	attr_end(out);
}

/* verify_update - a probe's result */
static void
verify_update(const char *addr, long status, const char *text,
    struct buf *out)
{
	struct verify_entry old, e;
	int	 found;

	memset(&old, 0, sizeof(old));
	found = verify_cache_get(verify_cache, addr, &old) == 1;
	if (verify_update_decide(found, &old, (int)status)) {
		memset(&e, 0, sizeof(e));
		e.status = (int)status;
		e.probed = 0;
		e.updated = (long)time(NULL);
		snprintf(e.text, sizeof(e.text), "%s", text);
		(void)verify_cache_put(verify_cache, addr, &e);
	}
	attr_put(out, "status", "0");
	attr_end(out);
}

/* verify_request - one request; -1 when malformed */
static int
verify_request(const struct attr_list *l, struct buf *out)
{
	const char *req = attr_get(l, "request");
	const char *addr = attr_get(l, "address");
	const char *text = attr_get(l, "reason");
	long	 status = -1;

	if (req == NULL || addr == NULL || strlen(addr) > 1000)
		return (-1);
	if (strcmp(req, "query") == 0) {
		verify_query(addr, out);
		return (0);
	}
	if (strcmp(req, "update") == 0
	    && attr_get_long(l, "addr_status", &status) == 0
	    && status >= VERIFY_STAT_OK && status < VERIFY_STAT_TODO) {
		verify_update(addr, status, text ? text : "", out);
		return (0);
	}
	return (-1);
}

/* verify_read - the request, the reply, then close */
static void
verify_read(struct bufferevent *bev, void *ctx)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct attr_list *l;
	struct buf *out;
	char	 err[128];
	size_t	 len = evbuffer_get_length(in), used;
	const char *data = (const char *)evbuffer_pullup(in, -1);

	(void)ctx;
	err[0] = 0;
	l = attr_parse(data, len, &used, err, sizeof(err));
	if (l == NULL && err[0] == 0)
		return;				/* need more */
	out = buf_new(256);
	if (l == NULL || verify_request(l, out) < 0) {
		log_warn("malformed request from a verify client%s%s",
		    err[0] ? ": " : "", err);
		attr_list_free(l);
		buf_free(out);
		bufferevent_free(bev);
		server_session_end();
		return;
	}
	attr_list_free(l);
	evbuffer_drain(in, used);
	bufferevent_write(bev, BUF_STR(out), BUF_LEN(out));
	buf_free(out);
}

/* verify_event_cb - the client went away (or the reply left) */
static void
verify_event_cb(struct bufferevent *bev, short what, void *ctx)
{
	(void)ctx;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		bufferevent_free(bev);
		server_session_end();
	}
}

/* verify_accept - a client connected */
static void
verify_accept(const struct server_conn *conn)
{
	struct bufferevent *bev;

	server_session_begin();
	bev = bufferevent_socket_new(server_base(), conn->fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		log_fatal("cannot create a bufferevent");
	bufferevent_setcb(bev, verify_read, NULL, verify_event_cb, NULL);
	bufferevent_enable(bev, EV_READ);
}

/* verify_cleanup - address_verify_cache_cleanup_interval's pass */
static void
verify_cleanup(evutil_socket_t fd, short what, void *ctx)
{
	long	 retained = 0, dropped;

	(void)fd;
	(void)what;
	(void)ctx;
	dropped = verify_cache_cleanup(verify_cache, &verify_pol,
	    (long)time(NULL), &retained);
	if (dropped >= 0)
		log_info("cache %s full cleanup: retained=%ld dropped=%ld "
		    "entries", verify_map_spec, retained, dropped);
}

/* verify_sender_init - address_verify_sender as an envelope sender */
static char *
verify_sender_init(void)
{
	const char *s = conf_str("address_verify_sender");

	if (s == NULL || *s == 0 || strcmp(s, "<>") == 0)
		return (xstrdup(""));
	if (strchr(s, '@'))
		return (xstrdup(s));
	return (xasprintf("%s@%s", s, conf_str("myorigin")));
}

/* verify_pre_init - the cache, opened before the privilege drop */
static void
verify_pre_init(void)
{
	char	*path = verify_cache_path(conf_str("address_verify_map"));
	char	 err[512];

	if ((verify_cache = verify_cache_open(path, err, sizeof(err)))
	    == NULL) {
		log_warn("address_verify_map: %s; the cache lives in memory "
		    "until a restart", err);
		verify_cache = verify_cache_open(NULL, err, sizeof(err));
	}
	free(path);
}

/* verify_post_init - the rule's parameters */
static void
verify_post_init(struct event_base *base)
{
	struct timeval tv = {0, 0};

	verify_pol.pos_expire = conf_time("address_verify_positive_expire_time");
	verify_pol.pos_refresh =
	    conf_time("address_verify_positive_refresh_time");
	verify_pol.neg_expire = conf_time("address_verify_negative_expire_time");
	verify_pol.neg_refresh =
	    conf_time("address_verify_negative_refresh_time");
	verify_pol.neg_cache = conf_bool("address_verify_negative_cache");
	verify_queue_dir = xstrdup(conf_str("queue_directory"));
	verify_sender = verify_sender_init();
	verify_map_spec = xstrdup(conf_str("address_verify_map"));
	tv.tv_sec = conf_time("address_verify_cache_cleanup_interval");
	if (tv.tv_sec > 0) {
		verify_cleanup_timer = event_new(base, -1, EV_PERSIST,
		    verify_cleanup, NULL);
		event_add(verify_cleanup_timer, &tv);
	}
}

/* verify_pre_exit - close the cache */
static void
verify_pre_exit(void)
{
	if (verify_cleanup_timer)
		event_free(verify_cleanup_timer);
	verify_cleanup_timer = NULL;
	verify_cache_close(verify_cache);
	verify_cache = NULL;
	free(verify_map_spec);
	free(verify_queue_dir);
	free(verify_sender);
}

int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
		.program = "verify",
		.pre_init = verify_pre_init,
		.post_init = verify_post_init,
		.accept = verify_accept,
		.pre_exit = verify_pre_exit,
		.long_lived = 1,
	};

	return (server_main(argc, argv, &spec));
}
