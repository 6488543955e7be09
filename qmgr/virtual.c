/*
 * NAME
 *	virtual - the virtual(8) Maildir delivery agent
 * SYNOPSIS
 *	virtual [-c confdir] [-o name=value] [-d] [-v] [-l path]
 * DESCRIPTION
 *	A unix service (master.cf: "virtual unix - n n - - virtual", as
 *	root: unpriv=n) speaking lib/deliver.h: each connection carries one
 *	request; the agent answers with one status per recipient and
 *	closes. The event loop only moves bytes: parsing the queue file,
 *	map lookups and all Maildir file work run on a worker pool
 *	(lib/workq.h), each thread with its own map handles, so many
 *	deliveries proceed at once and a slow database stalls only the
 *	requests waiting on it.
 *
 *	Parameters: queue_directory, virtual_mailbox_base,
 *	virtual_mailbox_maps, virtual_uid_maps, virtual_gid_maps,
 *	virtual_minimum_uid, virtual_mailbox_limit, myhostname,
 *	recipient_delimiter, ipc_timeout (per request read/write).
 * DIAGNOSTICS
 *	Configuration problems defer mail (never bounce) and are logged.
 * SEE ALSO
 *	virtual_deliver.c (the delivery rules), QUEUE.md, deliver.h.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "attr.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "server.h"
#include "virtual.h"
#include "workq.h"
#include "xalloc.h"

#define VIRTUAL_THREADS	16

static struct virtual_cfg cfg;
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

	virtual_request(&cfg, thread_ctx, s->req, s->resp);
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

/* virtual_accept - one connection from qmgr */
static void
virtual_accept(const struct server_conn *conn)
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

/* thread_init - per-thread map handles */
static void *
thread_init(void)
{
	return (virtual_maps_open(&cfg));
}

/* thread_fini - close them */
static void
thread_fini(void *ctx)
{
	virtual_maps_close(ctx);
}

/* virtual_post_init - configuration and the pool */
static void
virtual_post_init(struct event_base *base)
{
	virtual_cfg_load(&cfg);
	ipc_timeout = conf_time("ipc_timeout");
	if (ipc_timeout <= 0 || ipc_timeout > 3600)
		ipc_timeout = 3600;
	if (*cfg.base == 0)
		log_warn("virtual_mailbox_base is not set: all deliveries "
		    "will be deferred");
	pool = workq_new(base, VIRTUAL_THREADS, thread_init, thread_fini);
}

/* virtual_pre_exit - stop the pool */
static void
virtual_pre_exit(void)
{
	if (pool)
		workq_free(pool);
	pool = NULL;
	virtual_cfg_free(&cfg);
}

int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
		.program = "virtual",
		.keep_root = 1,
		.post_init = virtual_post_init,
		.accept = virtual_accept,
		.pre_exit = virtual_pre_exit,
	};

	return (server_main(argc, argv, &spec));
}
