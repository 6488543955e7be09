/*
 * NAME
 *	agent - the skeleton of a delivery agent (virtual, smtp, lmtp)
 * SYNOPSIS
 *	#include "agent.h"
 *
 *	void	agent_start(struct event_base *base,
 *	    const struct agent_spec *spec);
 *	void	agent_accept(const struct server_conn *conn);
 *	void	agent_stop(void);
 * DESCRIPTION
 *	A delivery agent serves lib/deliver.h requests: qmgr connects,
 *	writes a request, reads the answer, and may write the next request
 *	on the same connection (answers say reuse=1) until it closes it.
 *	The event loop only moves bytes; each request runs as one job on a
 *	worker pool (lib/workq.h) of spec->threads threads, each with the
 *	context spec->thread_init() returns (its own map handles and
 *	connections), so many deliveries proceed at once and a slow
 *	destination or database stalls only the requests waiting on it.
 *
 *	agent_start() (from the daemon's post_init) reads ipc_timeout
 *	(the per-request read/write timeout) and max_idle (the most
 *	silence allowed between two requests on a connection) and starts
 *	the pool;
 *	agent_accept() is the daemon's server_spec.accept; agent_stop()
 *	(pre_exit) waits for running jobs and stops the pool.
 *	spec->request(thread_ctx, req, resp) runs on a worker thread and
 *	appends the complete answer (attr_put ... attr_end) to resp.
 *	A connection is a server session (lib/server.h) only while a
 *	request is open on it, so a draining process exits once no request
 *	is open; idle connections close with it. Each request is one use
 *	toward max_use (server_use()), on a kept connection too.
 * DIAGNOSTICS
 *	A malformed request or a timeout costs that connection only (qmgr
 *	then defers its recipients); both are logged as warnings. An idle
 *	connection that qmgr closes or that stays silent for max_idle is
 *	closed without a word; with -v each new connection is logged
 *	("new connection from qmgr").
 */
#ifndef AGENT_H
#define AGENT_H

#include "buf.h"
#include "workq.h"

struct attr_list;
struct event_base;
struct server_conn;

struct agent_spec {
	int	 threads;
	workq_init_fn *thread_init;
	workq_fini_fn *thread_fini;
	void	(*request)(void *thread_ctx, const struct attr_list *req,
		    struct buf *resp);
};

void	 agent_start(struct event_base *, const struct agent_spec *);
void	 agent_accept(const struct server_conn *);
void	 agent_stop(void);

#endif
