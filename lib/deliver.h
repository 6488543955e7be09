/*
 * NAME
 *	deliver - the qmgr <-> delivery agent protocol
 * SYNOPSIS
 *	#include "deliver.h"
 *
 *	const char *deliver_request_check(const struct attr_list *req,
 *	    int need_nexthop, long *count);
 *	const char *deliver_rcpt_attr(const struct attr_list *req, long i,
 *	    const char *what);
 *	int	deliver_msg_open(struct deliver_msg *msg, const char *queue_dir,
 *	    const struct attr_list *req, char *err, size_t errlen);
 *	void	deliver_msg_close(struct deliver_msg *msg);
 * DESCRIPTION
 *	qmgr connects to the agent's unix socket, private/<transport>
 *	(virtual, smtp, relay, lmtp, ...), and writes one delivery request,
 *	an attribute list (lib/attr.h):
 *
 *	  version=1
 *	  queue_name=active		directory under queue_directory
 *	  queue_id=<id>
 *	  transport=<name>		master.cf service name (smtp, relay)
 *	  nexthop=<nexthop>		domain, [host]:port, or inet:host:port
 *	  sender=<envelope sender>	"" for the null sender
 *	  [verify_probe=1]		an address verification probe: an
 *					smtp/lmtp agent ends the session
 *					after RCPT TO (no DATA) and answers
 *					each RCPT reply as the outcome
 *	  rcpt_count=<n>
 *	  rcpt.<i>.addr=<address>	i = 0..n-1
 *	  rcpt.<i>.index=<k>		the recipient's index in the queue file
 *	  rcpt.<i>.orig=<address>	original recipient (before aliases)
 *	  rcpt.<i>.notify=<bits>	QUEUE_NOTIFY_* bits
 *	  rcpt.<i>.retry=0|1		0: a first attempt (QUEUE.md, retries)
 *
 *	The agent opens the queue file itself (read-only) for the message
 *	(msg_offset/msg_len from queue_file_open()), delivers, and answers
 *	with one attribute list:
 *
 *	  version=1
 *	  rcpt_count=<n>
 *	  rcpt.<i>.status=<enhanced status, e.g. 2.0.0, 4.4.1, 5.1.1>
 *	  rcpt.<i>.action=delivered | deferred | bounced
 *	  rcpt.<i>.reason=<text for logs and DSNs, e.g. "delivered to
 *	      maildir" or "host x[1.2.3.4] said: 550 5.1.1 ...">
 *	  rcpt.<i>.relay=<name[addr]:port or "virtual">
 *	  [rcpt.<i>.exactly_once=1]	a retry cannot duplicate it (QUEUE.md)
 *	  [reuse=1]			the agent reads another request on
 *					this connection
 *
 *	Connections: after an answer with reuse=1 qmgr may keep the
 *	connection and write its next request for that transport there,
 *	one request at a time, never before the answer; without reuse=1 it
 *	closes the connection (lib/agent.c offers reuse unless it is
 *	draining; each request counts toward max_use). qmgr closes a connection idle for 5 s; the agent closes one
 *	idle for its max_idle, and all of its idle ones when it drains
 *	(reload, max_use, master gone) or exits. So a kept connection may
 *	be closed under a request qmgr just wrote: when it fails before any
 *	byte of the answer arrived (send: EPIPE, ECONNRESET; recv: EOF,
 *	ECONNRESET), qmgr sends the request once more on a new connection,
 *	every rcpt.<i>.retry=1 (the agent may have delivered before it went
 *	away). A connection the agent closes between requests is not an
 *	error on either side.
 *
 *	qmgr records the outcome: delivered or bounced recipients are
 *	marked done in the queue file (bounced ones first logged to
 *	bounce/<id> for the DSN), deferred ones are retried later. A
 *	missing answer, a timeout or a malformed list means every
 *	recipient of the request is deferred ("delivery agent failed"),
 *	never lost and never bounced. An answer with rcpt_count=0 means
 *	the agent refused a malformed request (logged by the agent).
 *
 *	deliver_msg_open() is that step for an agent: it opens the
 *	request's queue file read-only and maps it; msg->text and msg->len
 *	are the message, msg->arrival the queue file's arrival time (the
 *	time of the call when the file cannot be opened). It returns -1
 *	with the reason in err when the file cannot be opened or mapped
 *	(msg->text NULL; the agent defers every recipient 4.3.0).
 *	deliver_msg_close() releases what the open got, either way.
 *
 *	Logging (one line per outcome, never two): the agent logs each
 *	recipient it answers for in Postfix's form, "QUEUEID: to=<addr>,
 *	[orig_to=<orig>, ]relay=..., delay=..., delays=a/b/c/d, dsn=X.Y.Z,
 *	status=sent|deferred|bounced (reason)", written by deliver_log()
 *	(lib/deliver_log.h) in agents and qmgr alike. qmgr logs "from=<...>,
 *	size=N, nrcpt=M (queue active)", "removed", DSN creation, and the
 *	to= lines only for outcomes it decides itself (no answer from the
 *	agent, error/discard transports, unavailable transport, expiry,
 *	resolution failures).
 */
#ifndef DELIVER_H
#define DELIVER_H

#define DELIVER_ACTION_DELIVERED	"delivered"
#define DELIVER_ACTION_DEFERRED		"deferred"
#define DELIVER_ACTION_BOUNCED		"bounced"

#define DELIVER_RCPT_MAX	10000	/* recipients per request */

#include <stddef.h>

struct attr_list;
struct queue_file;

struct deliver_msg {
	struct queue_file *qf;		/* NULL: not open */
	const char *text;		/* the message; NULL: unreadable */
	size_t	 len;
	double	 arrival;		/* seconds since the epoch */
	void	*map;			/* private */
	size_t	 maplen;
};

const char *deliver_request_check(const struct attr_list *, int, long *);
const char *deliver_rcpt_attr(const struct attr_list *, long, const char *);
int	 deliver_msg_open(struct deliver_msg *, const char *,
	    const struct attr_list *, char *, size_t);
void	 deliver_msg_close(struct deliver_msg *);

#endif
