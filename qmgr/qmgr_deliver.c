/*
 * NAME
 *	qmgr_deliver - the event-driven delivery agent client
 * SYNOPSIS
 *	#include "qmgr.h"
 *
 *	void	qmgr_deliver_start(struct qmgr_req *req);
 * DESCRIPTION
 *	Requests go over connections to queue_directory/private/<transport>
 *	(lib/deliver.h): write the request, read one attribute list back
 *	within <transport>_time_limit (of silence), turn it into per-recipient
 *	outcomes (qmgr_active_answer()), then end the request
 *	(qmgr_sched_done()). Never blocks the loop. As in Postfix, the
 *	agent logs the "to=" line of each recipient it answers for; qmgr
 *	logs the ones it decides itself (agent failure, no agent).
 *
 *	Connections are kept: when the answer says reuse=1, the connection
 *	goes on its transport's stack of idle ones (at most the transport's
 *	limit minus its requests in flight), and the next request of that
 *	transport takes the newest idle one before it connects anew: no
 *	socket(), connect(), close() per delivery, nor accept4() and close()
 *	in the agent (issue 13). Postfix's qmgr connects per delivery. A
 *	connection idle for QMGR_IDLE_TIME seconds, or closed by the agent
 *	(drain, restart), is closed.
 *
 *	Each connection has one persistent event for its whole life: EV_READ
 *	with the request's time limit as timeout while a request waits for
 *	its answer, with QMGR_IDLE_TIME while idle (the one timer of an idle
 *	connection; no epoll_ctl per request). The request is sent with one
 *	send() (a unix socket takes it whole) and the answer read with recv()
 *	when the event fires: no bufferevent, so no FIONREAD ioctl and no
 *	buffer chains per request. A request the socket does not take at
 *	once waits for EV_WRITE for the rest.
 *
 *	A kept connection that fails before any byte of the answer came
 *	(send: EPIPE, ECONNRESET; recv: EOF, ECONNRESET) was closed by the
 *	agent while idle, maybe with the request unread: the request is sent
 *	once more on a new connection, with rcpt.N.retry=1 for every
 *	recipient (the agent may have delivered before it went away; virtual
 *	then finds its earlier copy, QUEUE.md), logged with -v only.
 *
 *	A failure to reach the agent that passes by itself (socket():
 *	EMFILE, ENFILE, ENOBUFS, ENOMEM; connect(): EAGAIN, the agent's
 *	listen queue is full) does not defer: the request is tried again
 *	every QMGR_CONNECT_DELAY seconds, at most QMGR_CONNECT_TRIES times
 *	and within <transport>_time_limit of its start, without blocking
 *	the loop; the request keeps its place in the concurrency window
 *	meanwhile.
 * DIAGNOSTICS
 *	No socket (the service is not in master.cf, or master is not
 *	running), or a transient failure that outlasted its retries:
 *	every recipient deferred, "mail transport unavailable", with a
 *	warning that names the error. Retries are logged at most once
 *	every QMGR_CONNECT_NOTE seconds.
 *	A connection error, EOF, timeout or malformed answer (except the
 *	one failure of a kept connection above): every recipient of the
 *	request deferred ("delivery agent failed"), never bounced, never
 *	lost.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "attr.h"
#include "buf.h"
#include "deliver.h"
#include "log.h"
#include "qmgr.h"
#include "qmgr_verify.h"
#include "xalloc.h"

#define QMGR_CONNECT_DELAY	1	/* seconds between tries */
#define QMGR_CONNECT_TRIES	30	/* then defer as unavailable */
#define QMGR_CONNECT_NOTE	60	/* seconds between retry warnings */
#define QMGR_IDLE_TIME		5	/* seconds a connection is kept idle */

struct qmgr_conn {
	int	 fd;
	struct event *ev;		/* its one event, persistent */
	short	 what;			/* EV_READ or EV_WRITE; 0: not added */
	struct qmgr_req *req;		/* NULL: idle, on tp->idle */
	struct qmgr_transport *tp;
	int	 reused;		/* it carried a request before */
};

static void conn_cb(evutil_socket_t, short, void *);

/* conn_new - a connected socket becomes a connection */
static struct qmgr_conn *
conn_new(int fd, struct qmgr_transport *tp)
{
	struct qmgr_conn *c = xcalloc(1, sizeof(*c));

	c->fd = fd;
	c->tp = tp;
	c->ev = event_new(qmgr_base, fd, EV_READ | EV_PERSIST, conn_cb, c);
	return (c);
}

/* conn_close - the end of a connection */
static void
conn_close(struct qmgr_conn *c)
{
	event_free(c->ev);
	(void)close(c->fd);
	free(c);
}

/* conn_watch - wait for what, timeout seconds of silence at most */
static void
conn_watch(struct qmgr_conn *c, short what, long timeout)
{
	struct timeval tv = {timeout, 0};

	/* the same event pending already: only its timeout moves */
	if (c->what != what) {
		if (c->what)
			(void)event_del(c->ev);
		(void)event_assign(c->ev, qmgr_base, c->fd, what | EV_PERSIST,
		    conn_cb, c);
		c->what = what;
	}
	(void)event_add(c->ev, &tv);
}

/* idle_put - keep a connection whose answer offered it; 0: no room */
static int
idle_put(struct qmgr_conn *c)
{
	struct qmgr_transport *tp = c->tp;

	/* tp->active still counts the request that used it */
	if (tp->nidle + tp->active > tp->limit)
		return (0);
	if (tp->idle == NULL)
		tp->idle = xcalloc((size_t)tp->limit, sizeof(*tp->idle));
	c->req = NULL;
	c->reused = 1;
	conn_watch(c, EV_READ, QMGR_IDLE_TIME);
	tp->idle[tp->nidle++] = c;
	return (1);
}

/* idle_drop - an idle connection closed by the agent, or unused */
static void
idle_drop(struct qmgr_conn *c)
{
	struct qmgr_transport *tp = c->tp;
	int	 i;

	for (i = 0; i < tp->nidle; i++)
		if (tp->idle[i] == c) {
			memmove(tp->idle + i, tp->idle + i + 1,
			    (size_t)(tp->nidle - i - 1) * sizeof(*tp->idle));
			tp->nidle--;
			break;
		}
	conn_close(c);
}

/* fail_all - every recipient of the request deferred */
static void
fail_all(struct qmgr_req *r, const char *status, const char *why)
{
	struct qmgr_outcome *o = xcalloc(r->n, sizeof(*o));
	size_t	 i;

	for (i = 0; i < r->n; i++) {
		o[i].index = r->idx[i];
		o[i].action = QMGR_OUT_DEFERRED;
		o[i].status = xstrdup(status);
		o[i].reason = xstrdup(why);
		o[i].relay = xstrdup(r->dest->transport);
	}
	qmgr_active_answer(r->msg, o, r->n, r->dest->transport,
	    r->dest->nexthop);
}

/* req_end - keep or close the connection, end the request */
static void
req_end(struct qmgr_req *r, int ok, int keep)
{
	struct qmgr_conn *c = r->conn;

	r->conn = NULL;
	if (c && !(keep && idle_put(c)))
		conn_close(c);
	buf_free(r->io);
	r->io = NULL;
	qmgr_sched_done(r, ok);
}

/* parse_answer - the agent's list into outcomes; -1 if malformed */
static int
parse_answer(struct qmgr_req *r, const struct attr_list *l)
{
	struct qmgr_outcome *o;
	const char *v, *act, *st, *why, *relay;
	char	 name[64];
	long	 n;
	size_t	 i;

	if ((v = attr_get(l, "version")) == NULL || strcmp(v, "1") != 0
	    || attr_get_long(l, "rcpt_count", &n) < 0 || n != (long)r->n)
		return (-1);
	o = xcalloc(r->n, sizeof(*o));
	for (i = 0; i < r->n; i++) {
		snprintf(name, sizeof(name), "rcpt.%zu.action", i);
		act = attr_get(l, name);
		snprintf(name, sizeof(name), "rcpt.%zu.status", i);
		st = attr_get(l, name);
		snprintf(name, sizeof(name), "rcpt.%zu.reason", i);
		why = attr_get(l, name);
		snprintf(name, sizeof(name), "rcpt.%zu.relay", i);
		relay = attr_get(l, name);
		o[i].index = r->idx[i];
		if (act && strcmp(act, DELIVER_ACTION_DELIVERED) == 0) {
			o[i].action = QMGR_OUT_DELIVERED;
			/* smtp: "relayed", or "none" when the next hop took
			 * NOTIFY over (RFC 3461 5.2) */
			snprintf(name, sizeof(name), "rcpt.%zu.dsn_action", i);
			v = attr_get(l, name);
			if (v && strcmp(v, "relayed") == 0)
				o[i].dsn_action = "relayed";
			else if (v && strcmp(v, "none") == 0)
				o[i].dsn_action = "none";
			/* virtual's Maildir: a retry cannot deliver twice */
			snprintf(name, sizeof(name), "rcpt.%zu.exactly_once",
			    i);
			v = attr_get(l, name);
			o[i].exactly_once = v && strcmp(v, "1") == 0;
		} else if (act && strcmp(act, DELIVER_ACTION_BOUNCED) == 0
		    && st && st[0] == '5')
			o[i].action = QMGR_OUT_BOUNCED;
		else
			o[i].action = QMGR_OUT_DEFERRED;
		if (act == NULL || st == NULL) {
			st = "4.3.0";
			why = "delivery agent answer incomplete";
		}
		o[i].status = xstrdup(st);
		o[i].reason = xstrdup(why ? why : "");
		o[i].relay = xstrdup(relay ? relay : r->dest->transport);
		o[i].agent = 1;
	}
	qmgr_active_answer(r->msg, o, r->n, r->dest->transport,
	    r->dest->nexthop);
	return (0);
}

/* agent_failed - connection error, EOF or timeout: defer the request */
static void
agent_failed(struct qmgr_req *r, int timeout)
{
	char	 why[256];

	if (timeout)
		snprintf(why, sizeof(why), "delivery temporarily suspended: "
		    "%s agent timed out", r->dest->transport);
	else
		snprintf(why, sizeof(why), "delivery temporarily suspended: "
		    "%s agent failed", r->dest->transport);
	log_warn("%s: %s", r->msg->id, why);
	fail_all(r, "4.3.0", why);
	req_end(r, 0, 0);
}

/*
 * send_again - a kept connection failed before any byte of the answer:
 * the agent closed it while idle (drain, restart), perhaps with the
 * request unread. Once more on a new connection, every recipient with
 * retry=1: the agent may have delivered before it went away.
 */
static void
send_again(struct qmgr_req *r)
{
	log_debug("%s: %s agent closed a kept connection: sending again "
	    "on a new one", r->msg->id, r->dest->transport);
	conn_close(r->conn);
	r->conn = NULL;
	buf_free(r->io);
	r->io = NULL;
	r->again = 1;
	qmgr_deliver_start(r);
}

/* answer_read - read what the agent sent; 0: wait for more */
static int
answer_read(struct qmgr_req *r)
{
	char	 chunk[4096], err[256];
	struct attr_list *l;
	const char *v;
	size_t	 used;
	ssize_t	 n;
	int	 keep;

	for (;;) {
		if ((n = recv(r->conn->fd, chunk, sizeof(chunk),
		    MSG_DONTWAIT)) < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return (0);
		if (n <= 0 && r->conn->reused && BUF_LEN(r->io) == 0
		    && (n == 0 || errno == ECONNRESET)) {
			send_again(r);
			return (1);
		}
		if (n <= 0) {
			agent_failed(r, 0);
			return (1);
		}
		buf_append(r->io, chunk, (size_t)n);
		err[0] = 0;
		l = attr_parse(BUF_STR(r->io), BUF_LEN(r->io), &used, err,
		    sizeof(err));
		if (l == NULL && *err == 0 && BUF_LEN(r->io) <= ATTR_MAX_LIST)
			continue;
		if (l == NULL || parse_answer(r, l) < 0) {
			log_warn("%s: malformed answer from %s agent: %s",
			    r->msg->id, r->dest->transport,
			    *err ? err : "bad attributes");
			fail_all(r, "4.3.0", "delivery temporarily suspended: "
			    "delivery agent failed");
			if (l)
				attr_list_free(l);
			req_end(r, 0, 0);
			return (1);
		}
		/* the agent reads another request there: keep it */
		keep = (v = attr_get(l, "reuse")) != NULL && strcmp(v, "1") == 0
		    && used == BUF_LEN(r->io);
		attr_list_free(l);
		req_end(r, 1, keep);
		return (1);
	}
}

/* send_rest - send what the socket takes of the request; 0 when all */
static int
send_rest(struct qmgr_req *r)
{
	ssize_t	 n;

	while (r->sent < BUF_LEN(r->io)) {
		if ((n = send(r->conn->fd, BUF_STR(r->io) + r->sent,
		    BUF_LEN(r->io) - r->sent, MSG_NOSIGNAL | MSG_DONTWAIT))
		    < 0) {
			if (errno == EINTR)
				continue;
			return (errno == EAGAIN || errno == EINPROGRESS
			    || errno == ENOTCONN ? 1 : -1);
		}
		r->sent += (size_t)n;
	}
	r->sending = 0;
	buf_reset(r->io);		/* now for the answer */
	return (0);
}

/* send_failed - the request could not be sent */
static void
send_failed(struct qmgr_req *r)
{
	if (r->conn->reused && (errno == EPIPE || errno == ECONNRESET))
		send_again(r);
	else
		agent_failed(r, 0);
}

/* conn_cb - writable (the rest of the request), readable, or timeout */
static void
conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr_conn *c = arg;
	struct qmgr_req *r = c->req;
	int	 n;

	if (r == NULL) {	/* idle: EOF from the agent, or unused */
		idle_drop(c);
		return;
	}
	if (what & EV_TIMEOUT) {
		agent_failed(r, 1);
		return;
	}
	if (r->sending) {
		if ((n = send_rest(r)) < 0)
			send_failed(r);
		else
			conn_watch(c, n ? EV_WRITE : EV_READ,
			    r->dest->time_limit);
		return;
	}
	/* more to come: the time limit counts from the last bytes */
	if (answer_read(r) == 0)
		conn_watch(c, EV_READ, r->dest->time_limit);
}

/* build_request - the lib/deliver.h request */
static void
build_request(struct qmgr_req *r, struct buf *b)
{
	struct queue_file *qf = r->msg->qf;
	char	 name[64];
	size_t	 i;

	attr_put(b, "version", ATTR_VERSION);
	attr_put(b, "queue_name", "active");
	attr_put(b, "queue_id", r->msg->id);
	attr_put(b, "transport", r->dest->transport);
	attr_put(b, "nexthop", r->dest->nexthop);
	attr_put(b, "sender", qf->sender);
	if (qmgr_verify_probe(qf))	/* smtp/lmtp: end after RCPT */
		attr_put(b, "verify_probe", "1");
	attr_put_long(b, "rcpt_count", (long)r->n);
	for (i = 0; i < r->n; i++) {
		struct queue_rcpt *q = &qf->rcpts[r->idx[i]];

		snprintf(name, sizeof(name), "rcpt.%zu.addr", i);
		attr_put(b, name, q->addr);
		snprintf(name, sizeof(name), "rcpt.%zu.index", i);
		attr_put_long(b, name, (long)r->idx[i]);
		snprintf(name, sizeof(name), "rcpt.%zu.orig", i);
		attr_put(b, name, q->orcpt ? q->orcpt : q->addr);
		snprintf(name, sizeof(name), "rcpt.%zu.notify", i);
		attr_put_long(b, name, (long)q->notify);
		/* 0: no agent can have had this recipient (qmgr_active.c) */
		snprintf(name, sizeof(name), "rcpt.%zu.retry", i);
		attr_put(b, name, r->msg->fresh && !r->again ? "0" : "1");
	}
	attr_end(b);
}

/* unavailable_cb - no agent socket: fail asynchronously */
static void
unavailable_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr_req *r = arg;

	log_warn("%s: connect to %s/private/%s: mail transport unavailable"
	    "%s%s", r->msg->id, qmgr_conf.queue_dir, r->dest->transport,
	    r->err ? ": " : "", r->err ? strerror(r->err) : "");
	fail_all(r, "4.3.0", "mail transport unavailable");
	req_end(r, 0, 0);
}

/* retry_cb - try the connection again */
static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	qmgr_deliver_start(arg);
}

/* transient - a socket() or connect() error that passes by itself */
static int
transient(int err, int in_connect)
{
	if (in_connect)
		return (err == EAGAIN);
	return (err == EMFILE || err == ENFILE || err == ENOBUFS
	    || err == ENOMEM);
}

/* connect_failed - defer now, or try again later */
static void
connect_failed(struct qmgr_req *r, int err, int retry)
{
	static long last_note;
	struct timeval tv = {QMGR_CONNECT_DELAY, 0};
	long	 now = time(NULL);

	r->err = err;
	if (retry && ++r->tries < QMGR_CONNECT_TRIES
	    && now + QMGR_CONNECT_DELAY < r->started + r->dest->time_limit) {
		if (now - last_note >= QMGR_CONNECT_NOTE) {
			last_note = now;
			log_warn("connect to %s/private/%s: %s; retrying "
			    "every %ds", qmgr_conf.queue_dir,
			    r->dest->transport, strerror(err),
			    QMGR_CONNECT_DELAY);
		}
		event_base_once(qmgr_base, -1, EV_TIMEOUT, retry_cb, r, &tv);
		return;
	}
	event_base_once(qmgr_base, -1, EV_TIMEOUT, unavailable_cb, r, NULL);
}

/* deliver_send - send the request on r->conn, then wait for the answer */
static void
deliver_send(struct qmgr_req *r, int connected)
{
	int	 n;

	r->conn->req = r;
	r->io = buf_new(1024);
	r->sent = 0;
	r->sending = 1;
	build_request(r, r->io);
	/*
	 * A unix-socket connect is complete when it returns 0, and a
	 * request fits the socket buffer: send it now, and watch only for
	 * the answer (no write event to add and remove per request).
	 */
	n = connected ? send_rest(r) : 1;
	if (n < 0 && r->conn->reused) {
		send_failed(r);
		return;
	}
	/* a new connection's error shows on the write event: io decides */
	conn_watch(r->conn, n != 0 ? EV_WRITE : EV_READ, r->dest->time_limit);
}

/* qmgr_deliver_start - send one request, on a kept connection if any */
void
qmgr_deliver_start(struct qmgr_req *r)
{
	struct qmgr_transport *tp = r->dest->tp;
	struct sockaddr_un sun;
	int	 fd, connected, err;

	if (!r->again && tp->nidle > 0) {
		r->conn = tp->idle[--tp->nidle];
		deliver_send(r, 1);
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/private/%s",
	    qmgr_conf.queue_dir, r->dest->transport) >=
	    (int)sizeof(sun.sun_path) || strchr(r->dest->transport, '/')) {
		connect_failed(r, 0, 0);
		return;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0) {
		connect_failed(r, errno, transient(errno, 0));
		return;
	}
	connected = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	if (!connected && errno != EINPROGRESS) {
		err = errno;
		close(fd);
		connect_failed(r, err, transient(err, 1));
		return;
	}
	r->conn = conn_new(fd, tp);
	deliver_send(r, connected);
}
