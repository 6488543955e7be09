/*
 * NAME
 *	qmgr - the queue manager daemon
 * SYNOPSIS
 *	qmgr [-c confdir] [-o name=value] [-d] [-v] [-l path]
 * DESCRIPTION
 *	Postfix's qmgr, with pickup, trivial-rewrite and bounce folded in
 *	(see qmgr.h for the modules). It serves the unix socket
 *	public/qmgr (or -l path): each connection may write wakeup bytes:
 *	"W" new mail in incoming/ or maildrop/, "F" flush the deferred
 *	queue now, "I<id>" flush one deferred message (the id ends at a
 *	byte that is not a letter or digit). Besides, it polls incoming/
 *	and maildrop/ every QMGR_POLL seconds as a safety net and scans
 *	deferred/ every queue_run_delay.
 * DIAGNOSTICS
 *	Problems are logged; nothing here exits except through the
 *	skeleton (configuration errors).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "qmgr.h"
#include "server.h"
#include "xalloc.h"

#define QMGR_POLL	5		/* seconds, incoming safety net */
#define QMGR_WAKEUP_MAX	4096		/* bytes per wakeup connection */

struct workq *qmgr_io;
struct workq *qmgr_resolver;
struct event_base *qmgr_base;

static struct event *poll_ev, *deferred_ev;

/* wakeup_apply - act on the bytes of one connection */
static void
wakeup_apply(const char *s, size_t len)
{
	char	 id[QUEUE_ID_MAX + 1];
	size_t	 i, k;

	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case 'W':
			qmgr_scan_incoming();
			break;
		case 'F':
			qmgr_scan_incoming();
			qmgr_scan_deferred(1);
			break;
		case 'I':
			for (k = 0; i + 1 < len && k < QUEUE_ID_MAX
			    && isalnum((unsigned char)s[i + 1]); k++)
				id[k] = s[++i];
			id[k] = 0;
			if (k > 0)
				qmgr_scan_flush_one(id);
			break;
		default:
			break;
		}
	}
}

/* wakeup_read - collect bytes until EOF */
static void
wakeup_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t	 len = evbuffer_get_length(in);
	const char *data;

	if (len == 0)
		return;
	data = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
	/* an id never spans two reads in practice; act on what came */
	wakeup_apply(data, len > QMGR_WAKEUP_MAX ? QMGR_WAKEUP_MAX : len);
	evbuffer_drain(in, len);
}

/* wakeup_event - EOF or error ends the connection */
static void
wakeup_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		bufferevent_free(bev);
		server_session_end();
	}
}

/* qmgr_accept - a wakeup connection */
static void
qmgr_accept(const struct server_conn *conn)
{
	struct bufferevent *bev;
	struct timeval tv = {10, 0};

	bev = bufferevent_socket_new(qmgr_base, conn->fd,
	    BEV_OPT_CLOSE_ON_FREE);
	server_session_begin();
	bufferevent_setcb(bev, wakeup_read, NULL, wakeup_event, NULL);
	bufferevent_set_timeouts(bev, &tv, NULL);
	bufferevent_enable(bev, EV_READ);
}

/* poll_cb - incoming/ safety net */
static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	qmgr_scan_incoming();
}

/* deferred_cb - queue_run_delay */
static void
deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	qmgr_scan_deferred(0);
}

/* qmgr_pre_init - the parameter snapshot */
static void
qmgr_pre_init(void)
{
	qmgr_conf_load();
}

/* qmgr_post_init - pools, timers, the first scans */
static void
qmgr_post_init(struct event_base *base)
{
	struct timeval tv;

	qmgr_base = base;
	qmgr_scan_init();
	tv.tv_sec = QMGR_POLL;
	tv.tv_usec = 0;
	poll_ev = event_new(base, -1, EV_PERSIST, poll_cb, NULL);
	event_add(poll_ev, &tv);
	tv.tv_sec = qmgr_conf.queue_run_delay;
	deferred_ev = event_new(base, -1, EV_PERSIST, deferred_cb, NULL);
	event_add(deferred_ev, &tv);
	qmgr_scan_active_at_start();
}

/* main - hand everything to the skeleton */
int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
		.program = "qmgr",
		.pre_init = qmgr_pre_init,
		.post_init = qmgr_post_init,
		.accept = qmgr_accept,
		.long_lived = 1,
	};

	return (server_main(argc, argv, &spec));
}
