/*
 * NAME
 *	agent - the skeleton of a delivery agent (virtual, smtp, lmtp)
 * DESCRIPTION
 *	See agent.h. One session per qmgr connection: read one attribute
 *	list, run the request on the pool, write the answer, close.
 */
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

struct session {
	struct bufferevent *bev;
	struct attr_list *req;
	struct buf *resp;
	int	 busy;		/* a job is running */
	int	 closing;
};

/* session_free - end of a connection */
static void
session_free(struct session *s)
{
	bufferevent_free(s->bev);
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

/* job_done - loop thread: send the answer, close when written */
static void
job_done(void *arg)
{
	struct session *s = arg;

	s->busy = 0;
	if (s->closing) {
		session_free(s);
		return;
	}
	s->closing = 1;
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
	s->busy = 1;
	s->resp = buf_new(512);
	workq_submit(pool, job_run, job_done, s);
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

/* agent_accept - one connection from qmgr */
void
agent_accept(const struct server_conn *conn)
{
	struct session *s = xcalloc(1, sizeof(*s));
	struct timeval tv = {ipc_timeout, 0};

	s->bev = bufferevent_socket_new(server_base(), conn->fd,
	    BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	server_session_begin();
}

/* agent_start - the timeout and the pool */
void
agent_start(struct event_base *base, const struct agent_spec *spec)
{
	agent_spec = spec;
	ipc_timeout = conf_time("ipc_timeout");
	if (ipc_timeout <= 0 || ipc_timeout > 3600)
		ipc_timeout = 3600;
	pool = workq_new(base, spec->threads, spec->thread_init,
	    spec->thread_fini);
}

/* agent_stop - wait for running jobs, stop the pool */
void
agent_stop(void)
{
	if (pool)
		workq_free(pool);
	pool = NULL;
}
