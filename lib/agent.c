/*
 * NAME
 *	agent - the skeleton of a delivery agent (virtual, smtp, lmtp)
 * DESCRIPTION
 *	See agent.h. One session per qmgr connection: read one attribute
 *	list, run the request on the pool, write the answer, close.
 *
 *	qmgr writes its request as soon as it is connected, so the request
 *	is usually in the socket when the connection is accepted: it is
 *	read then (recv until EAGAIN), the answer is sent with one send()
 *	and the connection closed, and the loop never watches the socket.
 *	Only a request that has not arrived whole, or an answer the socket
 *	does not take at once, gets a bufferevent (with ipc_timeout) for
 *	the rest. The direct path saves the 6 epoll_ctl, the FIONREAD
 *	ioctl and the bufferevent of each delivery (issue 13).
 *
 *	The pool starts with AGENT_THREADS_START threads and grows at once,
 *	a thread for each request that finds none free, up to spec->threads
 *	(workq_set_max_now()): smtp's hundred threads (smtp_worker_threads)
 *	cost about 1.8 MB of memory per agent process at rest, and most
 *	of them never run a delivery (issue 13).
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "agent.h"
#include "attr.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "server.h"
#include "workq.h"
#include "xalloc.h"

static const struct agent_spec *agent_spec;
static struct workq *pool;
static long ipc_timeout;

/* worker threads started with the pool; more on demand */
#define AGENT_THREADS_START	4

/* bytes read per recv() of the direct path */
#define AGENT_RECV_CHUNK	8192

struct session {
	int	 fd;
	struct bufferevent *bev;	/* NULL: the direct path */
	struct attr_list *req;
	struct buf *resp;
	int	 busy;		/* a job is running */
	int	 closing;
};

/* session_free - end of a connection */
static void
session_free(struct session *s)
{
	if (s->bev)
		bufferevent_free(s->bev);
	else
		(void)close(s->fd);
	attr_list_free(s->req);
	buf_free(s->resp);
	free(s);
	server_session_end();
}

/* job_run - worker thread: the whole delivery */
static void
job_run(void *arg, void *thread_ctx)
{
	struct session *s = arg;

	agent_spec->request(thread_ctx, s->req, s->resp);
}

static void on_read(struct bufferevent *, void *);
static void on_write(struct bufferevent *, void *);
static void on_event(struct bufferevent *, short, void *);

/* session_bev - the bufferevent of a session that needs the loop */
static void
session_bev(struct session *s)
{
	struct timeval tv = {ipc_timeout, 0};

	s->bev = bufferevent_socket_new(server_base(), s->fd,
	    BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

/* job_done - loop thread: send the answer, close when written */
static void
job_done(void *arg)
{
	struct session *s = arg;
	ssize_t	 n;

	s->busy = 0;
	if (s->closing) {
		session_free(s);
		return;
	}
	s->closing = 1;
	if (s->bev == NULL) {
		if ((n = send(s->fd, BUF_STR(s->resp), BUF_LEN(s->resp),
		    MSG_NOSIGNAL | MSG_DONTWAIT)) < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				session_free(s);	/* qmgr went away */
				return;
			}
			n = 0;
		}
		if ((size_t)n == BUF_LEN(s->resp)) {
			session_free(s);
			return;
		}
		/* the socket took part of it: the rest on the loop */
		session_bev(s);
		bufferevent_write(s->bev, BUF_STR(s->resp) + n,
		    BUF_LEN(s->resp) - (size_t)n);
		bufferevent_enable(s->bev, EV_WRITE);
		return;
	}
	bufferevent_write(s->bev, BUF_STR(s->resp), BUF_LEN(s->resp));
}

/* on_write - the answer is out: done */
static void
on_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->closing && !s->busy
	    && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		session_free(s);
}

/* job_start - the request is complete: hand it to the pool */
static void
job_start(struct session *s)
{
	s->busy = 1;
	s->resp = buf_new(512);
	workq_submit(pool, job_run, job_done, s);
}

/* on_read - collect one request, then hand it to the pool */
static void
on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t	 len = evbuffer_get_length(in), used;
	char	 err[128];

	if (s->busy || s->closing)
		return;
	s->req = attr_parse((const char *)evbuffer_pullup(in, -1), len, &used,
	    err, sizeof(err));
	if (s->req == NULL) {
		if (err[0]) {
			log_warn("bad delivery request: %s", err);
			session_free(s);
		}
		return;
	}
	evbuffer_drain(in, used);
	bufferevent_disable(bev, EV_READ);
	job_start(s);
}

/* on_event - EOF, error or timeout */
static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	if (what & BEV_EVENT_TIMEOUT)
		log_warn("delivery request: timeout");
	if (s->busy)
		s->closing = 1;	/* job_done frees */
	else
		session_free(s);
}

/*
 * read_now - the direct path: read what the socket holds; 1 when the
 * request was complete (and submitted) or the session ended, 0 when
 * the rest must be waited for (what was read is in *got)
 */
static int
read_now(struct session *s, struct buf *got)
{
	char	 chunk[AGENT_RECV_CHUNK], err[128];
	size_t	 used;
	ssize_t	 n;

	for (;;) {
		if ((n = recv(s->fd, chunk, sizeof(chunk), MSG_DONTWAIT)) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return (0);
			session_free(s);	/* as on_event() */
			return (1);
		}
		if (n == 0) {
			session_free(s);	/* EOF before a request */
			return (1);
		}
		buf_append(got, chunk, (size_t)n);
		err[0] = 0;
		s->req = attr_parse(BUF_STR(got), BUF_LEN(got), &used, err,
		    sizeof(err));
		if (s->req) {
			job_start(s);
			return (1);
		}
		if (err[0]) {
			log_warn("bad delivery request: %s", err);
			session_free(s);
			return (1);
		}
	}
}

/* agent_accept - one connection from qmgr */
void
agent_accept(const struct server_conn *conn)
{
	struct session *s = xcalloc(1, sizeof(*s));
	struct buf *got = buf_new(AGENT_RECV_CHUNK);

	s->fd = conn->fd;
	server_session_begin();
	if (read_now(s, got) == 0) {
		/*
		 * Not all there yet: the loop reads the rest. What was read
		 * goes in front of the input (a bufferevent's input is frozen
		 * at its end: evbuffer_add() would fail).
		 */
		session_bev(s);
		if (BUF_LEN(got) > 0 && evbuffer_prepend(bufferevent_get_input(
		    s->bev), BUF_STR(got), BUF_LEN(got)) < 0) {
			log_warn("delivery request: out of buffer memory");
			session_free(s);
		} else
			bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	}
	buf_free(got);
}

/* agent_start - the timeout and the pool */
void
agent_start(struct event_base *base, const struct agent_spec *spec)
{
	agent_spec = spec;
	ipc_timeout = conf_time("ipc_timeout");
	if (ipc_timeout <= 0 || ipc_timeout > 3600)
		ipc_timeout = 3600;
	pool = workq_new(base, spec->threads < AGENT_THREADS_START ?
	    spec->threads : AGENT_THREADS_START, spec->thread_init,
	    spec->thread_fini);
	if (spec->threads > AGENT_THREADS_START)
		workq_set_max_now(pool, spec->threads);
}

/* agent_stop - wait for running jobs, stop the pool */
void
agent_stop(void)
{
	if (pool)
		workq_free(pool);
	pool = NULL;
}
