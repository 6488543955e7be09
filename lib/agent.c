/*
 * NAME
 *	agent - the skeleton of a delivery agent (virtual, smtp, lmtp)
 * DESCRIPTION
 *	See agent.h. One session per qmgr connection: read a request, run
 *	it on the pool, write the answer, then wait for the next request
 *	on the same connection until qmgr closes it (lib/deliver.h).
 *
 *	qmgr writes its request as soon as it is connected (or as soon as
 *	it takes an idle connection), so the request is usually in the
 *	socket when the loop looks: it is read then (recv until EAGAIN),
 *	the answer is sent with one send(), and the loop watches the
 *	socket with one persistent EV_READ that stays in epoll for the
 *	connection's life, idle or busy: no epoll_ctl per request. Only a
 *	request that has not arrived whole, or an answer the socket does
 *	not take at once, gets a bufferevent (with ipc_timeout) for the
 *	rest. The direct path saves the 6 epoll_ctl, the FIONREAD ioctl
 *	and the bufferevent of each delivery, and the kept connection the
 *	socket(), connect(), accept4() and two close() (issue 13).
 *
 *	A connection counts as a server session (server_session_begin)
 *	only while a request is open on it, from its first byte to the
 *	end of the answer. An idle one does not: a draining process
 *	(max_use, reload, master gone, max_idle) leaves its loop once no
 *	request is open, and the exit closes the idle connections; qmgr
 *	sends the request it may have just written there again on a new
 *	connection. A request that arrives on an idle connection once the
 *	loop was told to exit is not read (the connection is closed), so
 *	nothing is delivered without an answer. An idle connection silent
 *	for max_idle is closed.
 *
 *	Every request is one use toward max_use: the skeleton counts a
 *	connection's first when it accepts it, the agent each later one
 *	on a kept connection (server_use()) when it is complete. The
 *	request that reaches max_use is served and its answer, like every
 *	answer of a draining process, offers no reuse; a complete request
 *	on a kept connection of a draining process is not started (the
 *	connection is closed, qmgr sends it again elsewhere). So a process
 *	serves at most max_use requests, then exits; master starts another.
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
static long idle_timeout;	/* max_idle: silence between two requests */

/* worker threads started with the pool; more on demand */
#define AGENT_THREADS_START	4

/* bytes read per recv() of the direct path */
#define AGENT_RECV_CHUNK	8192

struct session {
	int	 fd;
	struct bufferevent *bev;	/* NULL: the direct path */
	struct event *ev;		/* the persistent EV_READ, or NULL */
	struct attr_list *req;
	struct buf *resp;
	int	 busy;		/* a job is running */
	int	 answering;	/* the answer is being written */
	int	 closing;	/* close when the job is done */
	int	 keep;		/* nothing followed the request: may reuse */
	int	 kept;		/* it carried a request before */
	int	 counted;	/* a request is open: a server session */
	struct session *prev, *next;	/* every session: agent_stop() */
};

/* every open session, so that an exit with a job running (SIGTERM:
 * the pool's completions are dropped) frees them all */
static struct session *sessions;

/* request_begin - a request is open on the connection */
static void
request_begin(struct session *s)
{
	s->counted = 1;
	server_session_begin();
}

/* request_end - no request open (a draining process may exit now) */
static void
request_end(struct session *s)
{
	s->counted = 0;
	server_session_end();
}

/* session_free - end of a connection */
static void
session_free(struct session *s)
{
	int	 counted = s->counted;

	if (s->prev)
		s->prev->next = s->next;
	else
		sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->bev)
		bufferevent_free(s->bev);
	if (s->ev)
		event_free(s->ev);
	(void)close(s->fd);
	attr_list_free(s->req);
	buf_free(s->resp);
	free(s);
	if (counted)
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
static void on_idle(evutil_socket_t, short, void *);

/* session_bev - the bufferevent of a session that needs the loop */
static void
session_bev(struct session *s)
{
	struct timeval tv = {ipc_timeout, 0};

	if (s->ev)
		(void)event_del(s->ev);	/* the bufferevent reads now */
	s->bev = bufferevent_socket_new(server_base(), s->fd, 0);
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

/* session_idle - the answer is out: wait for the next request */
static void
session_idle(struct session *s)
{
	struct timeval tv = {idle_timeout, 0};

	attr_list_free(s->req);
	s->req = NULL;
	buf_reset(s->resp);
	s->answering = 0;
	s->kept = 1;
	if (s->bev) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	if (s->ev == NULL)
		s->ev = event_new(server_base(), s->fd, EV_READ | EV_PERSIST,
		    on_idle, s);
	/* pending already (the direct path): only the timeout moves */
	(void)event_add(s->ev, &tv);
	request_end(s);
}

/* answer_done - the answer is written: next request, or close */
static void
answer_done(struct session *s)
{
	if (s->keep)
		session_idle(s);
	else
		session_free(s);
}

/* offer_reuse - add reuse=1 to the answer: qmgr may send another */
static int
offer_reuse(struct buf *resp)
{
	size_t	 len = BUF_LEN(resp);

	if (len < 2 || memcmp(BUF_STR(resp) + len - 2, "\n\n", 2) != 0)
		return (0);
	buf_truncate(resp, len - 1);
	attr_put(resp, "reuse", "1");
	attr_end(resp);
	return (1);
}

/* job_done - loop thread: send the answer */
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
	/* no reuse once the process drains: it exits when idle */
	s->keep = s->keep && server_use(0) && offer_reuse(s->resp);
	s->answering = 1;
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
			answer_done(s);
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

/* on_write - the answer is out */
static void
on_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->answering && !s->busy
	    && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		answer_done(s);
}

/* job_start - the request is complete: hand it to the pool */
static void
job_start(struct session *s)
{
	/* one use (the first was counted at accept), none when draining */
	if (s->kept && !server_use(1)) {
		session_free(s);
		return;
	}
	s->busy = 1;
	if (s->resp == NULL)
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

	if (s->busy || s->answering)
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
	/* qmgr sends nothing after a request before its answer */
	s->keep = evbuffer_get_length(in) == 0;
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
			s->keep = used == BUF_LEN(got);
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

/* session_read - read a request now, or start the loop on the rest */
static void
session_read(struct session *s, int idle)
{
	struct buf *got = buf_new(AGENT_RECV_CHUNK);

	if (read_now(s, got) == 0) {
		if (idle && BUF_LEN(got) == 0) {
			request_end(s);	/* woken for nothing: still idle */
			buf_free(got);
			return;
		}
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

/* on_idle - the persistent read event: the next request, EOF, or silence */
static void
on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->busy) {
		/* qmgr sends nothing while it waits: EOF, or a broken peer */
		if (what & EV_READ) {
			(void)event_del(s->ev);
			s->closing = 1;
		}
		return;
	}
	/*
	 * Silent for max_idle, or the process is leaving its loop (drain):
	 * a request that may be waiting is not started, qmgr sends it again
	 * on a new connection.
	 */
	if ((what & EV_TIMEOUT) || event_base_got_exit(server_base())) {
		session_free(s);
		return;
	}
	request_begin(s);
	session_read(s, 1);
}

/* agent_accept - one connection from qmgr */
void
agent_accept(const struct server_conn *conn)
{
	struct session *s = xcalloc(1, sizeof(*s));

	s->fd = conn->fd;
	if ((s->next = sessions) != NULL)
		sessions->prev = s;
	sessions = s;
	log_debug("new connection from qmgr");
	request_begin(s);
	session_read(s, 0);
}

/* agent_start - the timeouts and the pool */
void
agent_start(struct event_base *base, const struct agent_spec *spec)
{
	agent_spec = spec;
	ipc_timeout = conf_time("ipc_timeout");
	if (ipc_timeout <= 0 || ipc_timeout > 3600)
		ipc_timeout = 3600;
	idle_timeout = conf_time("max_idle");
	if (idle_timeout <= 0 || idle_timeout > 3600)
		idle_timeout = 3600;
	pool = workq_new(base, spec->threads < AGENT_THREADS_START ?
	    spec->threads : AGENT_THREADS_START, spec->thread_init,
	    spec->thread_fini);
	if (spec->threads > AGENT_THREADS_START)
		workq_set_max_now(pool, spec->threads);
}

/* agent_stop - wait for running jobs, stop the pool, close every
 * session (a job's answer is not sent: qmgr sees the connection lost
 * and tries the request again) */
void
agent_stop(void)
{
	if (pool)
		workq_free(pool);
	pool = NULL;
	while (sessions)
		session_free(sessions);
}
