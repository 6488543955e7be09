/*
 * NAME
 *	qmgr - the queue manager daemon
 * SYNOPSIS
 *	qmgr [-c confdir] [-o name=value] [-d] [-v] [-l path]
 * DESCRIPTION
 *	Postfix's qmgr, with pickup, trivial-rewrite and bounce folded in
 *	(see qmgr.h for the modules). It serves the unix socket
 *	public/qmgr (or -l path): each connection may carry wakeup
 *	requests, whose grammar is in lib/trigger.h ("W" new mail, "F"
 *	flush the deferred queue, "I<id>" flush one message; read with
 *	trigger_parse()). Besides, it polls incoming/ and maildrop/
 *	every QMGR_POLL seconds as a safety net and scans
 *	deferred/ every queue_run_delay. One qmgr runs per queue: it holds
 *	an flock() on the active/ directory, and a second one waits (up to
 *	QMGR_LOCK_WAIT seconds) for the first to exit.
 * DIAGNOSTICS
 *	Problems are logged; nothing here exits except through the
 *	skeleton (configuration errors).
 */
#include <sys/file.h>
#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "qmgr.h"
#include "server.h"
#include "trigger.h"
#include "xalloc.h"

#define QMGR_POLL	5		/* seconds, incoming safety net */
#define QMGR_LOCK_WAIT	120		/* seconds for a draining qmgr */

struct workq *qmgr_io;
struct workq *qmgr_resolver;
struct event_base *qmgr_base;

static struct event *poll_ev, *deferred_ev, *lock_ev;
static int qmgr_started, lock_fd = -1, lock_tries;

/* wakeup_request - act on one request of lib/trigger.h's grammar */
static void
wakeup_request(int request, const char *id, void *ctx)
{
	switch (request) {
	case TRIGGER_WAKEUP:
		qmgr_scan_incoming();
		break;
	case TRIGGER_FLUSH:
		qmgr_scan_incoming();
		qmgr_scan_deferred(1);
		break;
	case TRIGGER_FLUSH_ID:
		qmgr_scan_flush_one(id);
		break;
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
	if (qmgr_started)	/* else the first scan will see everything */
		(void)trigger_parse(data, len > TRIGGER_MAX ? TRIGGER_MAX
		    : len, wakeup_request, NULL);
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

/* qmgr_pre_init - the parameter snapshot, descriptors */
static void
qmgr_pre_init(void)
{
	struct rlimit rl;

	qmgr_conf_load();
	/* one descriptor per delivery in flight: take what we may */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* qmgr_start - pools, timers, the first scans (lock held) */
static void
qmgr_start(void)
{
	struct timeval tv;

	qmgr_scan_init();
	tv.tv_sec = QMGR_POLL;
	tv.tv_usec = 0;
	poll_ev = event_new(qmgr_base, -1, EV_PERSIST, poll_cb, NULL);
	event_add(poll_ev, &tv);
	tv.tv_sec = qmgr_conf.queue_run_delay;
	deferred_ev = event_new(qmgr_base, -1, EV_PERSIST, deferred_cb, NULL);
	event_add(deferred_ev, &tv);
	qmgr_started = 1;
	qmgr_active_life_start();
	qmgr_scan_active_at_start();
}

/* qmgr_try_lock - 1 when this process holds the queue lock */
static int
qmgr_try_lock(void)
{
	if (flock(lock_fd, LOCK_EX | LOCK_NB) == 0)
		return (1);
	if (errno != EWOULDBLOCK)
		log_fatal("lock %s/active: %m", qmgr_conf.queue_dir);
	return (0);
}

/* lock_cb - retry the lock while another qmgr drains */
static void
lock_cb(evutil_socket_t fd, short what, void *arg)
{
	if (!qmgr_try_lock()) {
		if (++lock_tries >= QMGR_LOCK_WAIT * 10)
			log_fatal("another qmgr holds %s/active",
			    qmgr_conf.queue_dir);
		return;
	}
	event_free(lock_ev);
	lock_ev = NULL;
	log_info("queue lock acquired");
	qmgr_start();
}

/*
 * qmgr_post_init - one queue manager per queue: it holds an flock() on
 * the active/ directory. A draining qmgr (reload) may still finish
 * deliveries when master starts the next one; the new one retries the
 * lock from a timer (so that SIGTERM still works) instead of delivering
 * the same files twice.
 */
static void
qmgr_post_init(struct event_base *base)
{
	char	*path = xasprintf("%s/active", qmgr_conf.queue_dir);
	struct timeval tv = {0, 100000};

	qmgr_base = base;
	if ((lock_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		log_fatal("open %s: %m", path);
	free(path);
	if (qmgr_try_lock()) {
		qmgr_start();
		return;
	}
	log_info("waiting for another qmgr to finish (lock on %s/active)",
	    qmgr_conf.queue_dir);
	lock_ev = event_new(base, -1, EV_PERSIST, lock_cb, NULL);
	event_add(lock_ev, &tv);
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
