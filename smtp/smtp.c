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
 *	(default 100, Postfix's default_process_limit: one per request
 *	qmgr may have in flight for the transport with maxproc "-", so a
 *	tarpit destination holds only its own window of threads, never the
 *	pool; 1 to 256, a value outside is fatal at start). An SMTP session is a strict lock-step
 *	dialogue with long waits, DNS lookups are blocking (lib/dns.h),
 *	map lookups may block (MySQL), and TLS over blocking sockets is
 *	simple and hard to get wrong: one thread per delivery keeps the
 *	protocol code linear and readable (as Postfix's smtp process is),
 *	while the event loop only moves the request and the answer.
 *	Requests beyond the pool (a transport whose maxproc is larger)
 *	wait in the queue of lib/workq.h.
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

#include <event2/event.h>

#include "agent.h"
#include "attr.h"
#include "buf.h"
#include "conf.h"
#include "conf_table.h"
#include "dns.h"
#include "log.h"
#include "server.h"
#include "smtp.h"
#include "workq.h"
#include "xalloc.h"


static struct smtp_cfg cfg;

/* smtp_job - worker thread: the whole delivery of one request */
static void
smtp_job(void *thread_ctx, const struct attr_list *req, struct buf *resp)
{
	smtp_request(&cfg, thread_ctx, req, resp);
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

static struct agent_spec agent = {
	.thread_init = thread_init,
	.thread_fini = thread_fini,
	.request = smtp_job,
};

/* smtp_post_init - configuration, the resolver and the pool */
static void
smtp_post_init(struct event_base *base)
{
	static const struct conf_table table[] = {
		CONF_INT("smtp_worker_threads", &agent.threads, 1, 256),
		CONF_END,
	};
	char	 err[256];

	conf_table_load(table);
	smtp_cfg_load(&cfg, server_service());
	if (!dns_initialized() && dns_init(conf_str("resolver_nameservers"),
	    err, sizeof(err)) < 0)
		log_warn("resolver: %s", err);
	agent_start(base, &agent);
}

/* smtp_pre_exit - stop the pool */
static void
smtp_pre_exit(void)
{
	agent_stop();
	smtp_cfg_free(&cfg);
}

int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
		.program = "smtp",
		.post_init = smtp_post_init,
		.accept = agent_accept,
		.pre_exit = smtp_pre_exit,
	};

	return (server_main(argc, argv, &spec));
}
