/*
 * NAME
 *	qmgr_verify - address verification probes in qmgr
 * SYNOPSIS
 *	#include "qmgr_verify.h"
 *
 *	int	qmgr_verify_probe(const struct queue_file *qf);
 *	int	qmgr_verify_local(const struct queue_file *qf,
 *	    const char *transport);
 *	void	qmgr_verify_outcome(const struct queue_file *qf, size_t index,
 *	    int action, const char *reason, const char *relay);
 *	int	qmgr_verify_finish(const struct queue_file *qf,
 *	    const char *myhostname);
 *	const char *qmgr_verify_status(int action);
 *	struct qmgr_resolve_maps *qmgr_verify_maps(
 *	    const struct queue_file *qf, struct qmgr_resolve_maps *mail);
 * DESCRIPTION
 *	A probe is a queue file with "A verify_probe=1" (QUEUE.md),
 *	written by the verify service (verify/verify.c), or with "A
 *	verify_report=1", written by "sendmail -bv". qmgr routes it
 *	like any mail with these differences:
 *	- qmgr_verify_local(): a recipient routed to the virtual (or
 *	  local) transport is decided from the tables that routed it
 *	  ("deliverable", "delivers to mailbox"): no delivery agent runs
 *	  and nothing reaches a mailbox;
 *	- the delivery request says verify_probe=1 (lib/deliver.h): the
 *	  smtp/lmtp client ends the session after RCPT TO;
 *	- qmgr_verify_outcome() (io thread) sends each recipient's outcome
 *	  to the verify service for the address that was probed (the
 *	  root of an alias expansion), and the recipient is then marked
 *	  done whatever the outcome (sendmail -bv: the outcome becomes a
 *	  line of the report instead, "<addr>: delivery via RELAY: TEXT" or
 *	  "<addr>: undeliverable: TEXT", and qmgr_verify_finish(), when
 *	  the message is done, sends the report to the sender from the
 *	  null sender: Postfix's "Mail Delivery Status Report", as plain
 *	  text; it returns 1 when a report was queued): a probe is never retried, never
 *	  bounced, never notified, and is removed after its one round;
 *	- qmgr_verify_maps() (resolve pool) gives the tables that route a
 *	  probe: with address_verify_relayhost, _transport_maps,
 *	  _virtual_transport, _relay_transport, _default_transport equal
 *	  to their mail twins (the defaults), the thread's own (mail);
 *	  otherwise a second set per thread, built from those parameters;
 *	- the status word of the log line is Postfix's for probes
 *	  (qmgr_verify_status(): deliverable, undeliverable, deferred).
 * DIAGNOSTICS
 *	A verify service that cannot be reached is logged (the address
 *	stays "in progress" until the verify service's probe TTL sends a
 *	new probe).
 */
#ifndef QMGR_VERIFY_H
#define QMGR_VERIFY_H

#include <stddef.h>

struct queue_file;
struct qmgr_resolve_maps;

int	 qmgr_verify_probe(const struct queue_file *);
int	 qmgr_verify_local(const struct queue_file *, const char *);
void	 qmgr_verify_outcome(const struct queue_file *, size_t, int,
	    const char *, const char *);
int	 qmgr_verify_finish(const struct queue_file *, const char *);
const char *qmgr_verify_status(int);
struct qmgr_resolve_maps *qmgr_verify_maps(const struct queue_file *,
	    struct qmgr_resolve_maps *);

#endif
