/*
 * NAME
 *	smtp - the smtp(8)/lmtp(8) delivery agent
 * SYNOPSIS
 *	smtp [-c confdir] [-o name=value] [-d] [-v] [-l path] [-s service]
 * DESCRIPTION
 *	A unix service (master.cf: smtp, relay, lmtp; one program, the
 *	service name "lmtp" selects LMTP) speaking lib/deliver.h: each
 *	connection from qmgr carries one request, answered with one
 *	status per recipient.
 *
 *	Concurrency: a pool of smtp_worker_threads blocking sessions
 *	(default 20). An SMTP session is a strict lock-step dialogue with
 *	long waits, DNS lookups are blocking (lib/dns.h), map lookups
 *	may block (MySQL), and TLS over blocking sockets is simple and
 *	hard to get wrong: one thread per delivery keeps the protocol
 *	code linear and readable (as Postfix's smtp process is), while
 *	the event loop only moves the request and the answer. qmgr's
 *	per-destination concurrency limits stay far below the pool in
 *	practice; requests beyond it wait in the queue of lib/workq.h.
 *
 *	Parameters: see smtp_cfg_load() in smtp_deliver.c (smtp_* or
 *	lmtp_*: connect and command timeouts, helo name, bind addresses,
 *	MX limits, TLS, SASL, generic maps), ipc_timeout.
 * DIAGNOSTICS
 *	Problems with the destination defer or bounce recipients; a TLS
 *	configuration error defers mail that needs TLS (logged once).
 * SEE ALSO
 *	smtp_deliver.c, smtp_proto.c, smtp_addr.c, smtp_sasl.c,
 *	smtp_generic.c, lib/deliver.h, tls/tls.h.
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
#include "dns.h"
#include "log.h"
#include "server.h"
#include "smtp.h"
#include "workq.h"
#include "xalloc.h"


static struct smtp_cfg cfg;
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

	smtp_request(&cfg, thread_ctx, s->req, s->resp);
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

/* smtp_accept - one connection from qmgr */
static void
smtp_accept(const struct server_conn *conn)
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
	return (smtp_maps_open(&cfg));
}

/* thread_fini - close them */
static void
thread_fini(void *ctx)
{
	smtp_maps_close(ctx);
}

/* smtp_post_init - configuration, the resolver and the pool */
static void
smtp_post_init(struct event_base *base)
{
	char	 err[256];
	long	 threads;

	smtp_cfg_load(&cfg, server_service());
	ipc_timeout = conf_time("ipc_timeout");
	if (ipc_timeout <= 0 || ipc_timeout > 3600)
		ipc_timeout = 3600;
	if (!dns_initialized() && dns_init(conf_str("resolver_nameservers"),
	    err, sizeof(err)) < 0)
		log_warn("resolver: %s", err);
	threads = conf_int("smtp_worker_threads");
	if (threads < 1 || threads > 256)
		threads = 20;
	pool = workq_new(base, (int)threads, thread_init, thread_fini);
}

/* smtp_pre_exit - stop the pool */
static void
smtp_pre_exit(void)
{
	if (pool)
		workq_free(pool);
	pool = NULL;
	smtp_cfg_free(&cfg);
}

int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
		.program = "smtp",
		.post_init = smtp_post_init,
		.accept = smtp_accept,
		.pre_exit = smtp_pre_exit,
	};

	return (server_main(argc, argv, &spec));
}
