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
 *	trigger_parse()). A connection is read until EOF, or until it is
 *	quiet for WAKEUP_IDLE seconds: master and the commands connect,
 *	write and close, while smtpd keeps one connection per process
 *	(trigger_keep()) and writes a "W" per group commit. The requests
 *	of one read are coalesced: any number of "W" start one incoming/
 *	scan, any number of "F" one flush (and the scans themselves
 *	coalesce in qmgr_scan.c: one in flight, one more after it). A
 *	connection counts as a session (lib/server.h) only until its
 *	first bytes arrive, so that a draining qmgr (reload) waits for a
 *	trigger in flight but not for smtpd's kept connections, which
 *	then see EOF and connect to the next qmgr. Besides, it polls
 *	incoming/ and maildrop/ every QMGR_POLL seconds as a safety net
 *	and scans deferred/ every queue_run_delay. One qmgr runs per
 *	queue: it holds an flock() on the active/ directory, and a second
 *	one waits (up to QMGR_LOCK_WAIT seconds) for the first to exit.
 * DIAGNOSTICS
 *	Problems are logged; nothing here exits except through the
 *	skeleton (configuration errors).
 */
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "qmgr.h"
#include "server.h"
#include "trigger.h"
#include "xalloc.h"

#define QMGR_POLL	5		/* seconds, incoming safety net */
#define QMGR_LOCK_WAIT	120		/* seconds for a draining qmgr */
#define WAKEUP_IDLE	10		/* seconds a quiet connection lives */

struct workq *qmgr_io;
struct workq *qmgr_resolver;
struct event_base *qmgr_base;

static struct event *poll_ev, *deferred_ev, *lock_ev;
static int qmgr_started, lock_fd = -1, lock_tries;

/* the requests of one read, coalesced */
struct wakeup_todo {
	int	 wakeup;		/* "W" seen */
	int	 flush;			/* "F" seen */
};

/* one connection to public/qmgr */
struct wakeup_conn {
	struct event *ev;
	int	 fd;
	int	 counted;		/* a session until its first bytes */
};

/* wakeup_request - note one request of lib/trigger.h's grammar */
static void
wakeup_request(int request, const char *id, void *ctx)
{
	struct wakeup_todo *todo = ctx;

	switch (request) {
	case TRIGGER_WAKEUP:
		todo->wakeup = 1;
		break;
	case TRIGGER_FLUSH:
		todo->flush = 1;
		break;
	case TRIGGER_FLUSH_ID:
		qmgr_scan_flush_one(id);
		break;
	}
}

/* wakeup_act - act on the requests of one read */
static void
wakeup_act(const char *data, size_t len)
{
	struct wakeup_todo todo = {0, 0};

	if (!qmgr_started)	/* the first scan will see everything */
		return;
	/* an id never spans two reads in practice; act on what came */
	(void)trigger_parse(data, len, wakeup_request, &todo);
	if (todo.wakeup || todo.flush)
		qmgr_scan_incoming();
	if (todo.flush)
		qmgr_scan_deferred(1);
}

/* wakeup_close - EOF, error or idle: forget the connection */
static void
wakeup_close(struct wakeup_conn *wc)
{
	event_free(wc->ev);
	close(wc->fd);
	if (wc->counted)
		server_session_end();
	free(wc);
}

/* wakeup_read - the requests that came, until EOF */
static void
wakeup_read(evutil_socket_t fd, short what, void *arg)
{
	struct wakeup_conn *wc = arg;
	char	 buf[TRIGGER_MAX];
	ssize_t	 n;

	/* Idle (EV_TIMEOUT) too: one last look before closing. */
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n > 0) {
		wakeup_act(buf, (size_t)n);
		if (wc->counted) {
			wc->counted = 0;
			server_session_end();
		}
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR)
	    && (what & EV_READ))
		return;
	wakeup_close(wc);
}

/* qmgr_accept - a wakeup connection */
static void
qmgr_accept(const struct server_conn *conn)
{
	struct wakeup_conn *wc = xcalloc(1, sizeof(*wc));
	struct timeval tv = {WAKEUP_IDLE, 0};

	wc->fd = conn->fd;
	wc->counted = 1;
	server_session_begin();
	/* EV_PERSIST: each read re-arms the idle timeout */
	wc->ev = event_new(qmgr_base, conn->fd, EV_READ | EV_PERSIST,
	    wakeup_read, wc);
	event_add(wc->ev, &tv);
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
