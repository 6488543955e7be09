/*
 * NAME
 *	deliver_log - the one delivery log line (Postfix's log_adhoc)
 * SYNOPSIS
 *	#include "deliver_log.h"
 *
 *	void	deliver_log(const struct deliver_log *e);
 *	void	deliver_log_format(struct buf *out,
 *	    const struct deliver_log *e);
 *	const char *deliver_log_delay(char *out, size_t len,
 *	    double seconds);
 *	const char *deliver_log_status(const char *action);
 *	double	deliver_log_now(void);
 * DESCRIPTION
 *	Every recipient outcome is logged once, by whoever decided it
 *	(lib/deliver.h: the agent, or qmgr for the outcomes it decides
 *	itself), as one line in Postfix's form, field order fixed since
 *	pflogsumm, postfix_exporter and the like parse it:
 *
 *	  ID: to=<rcpt>, [orig_to=<orig>, ]relay=R, delay=D,
 *	      delays=a/b/c/d, dsn=X.Y.Z, status=S (reason)
 *
 *	orig_to appears when orig_rcpt is set, not empty, differs
 *	from rcpt ignoring case, and is an address that alias expansion
 *	replaced: a DSN ORCPT value ("type;address", RFC 3461 section
 *	4.2, as smtpd stores it) is never logged, as in Postfix.
 *	deliver_log_orcpt() splits a recipient's orcpt field: it returns
 *	the address part and sets *type to the addr-type ("rfc822" when
 *	the field is a bare address) and *is_dsn to 1 for an ORCPT value. relay NULL is "none". S is sent,
 *	deferred or bounced (deliver_log_status() turns a DELIVER_ACTION_*
 *	into it).
 *
 *	The times (seconds since the epoch, as doubles) give the delays
 *	as Postfix's log_adhoc() computes them:
 *	  delay	 done - arrival (the whole time in the queue)
 *	  a	 active - arrival (before qmgr); done - arrival when
 *		 active is 0 (no qmgr)
 *	  b	 handoff - active (qmgr latency); done - active when
 *		 handoff is 0 (no delivery agent)
 *	  c	 conn_done - handoff (connection set-up); 0 when
 *		 conn_done is 0 (no network)
 *	  d	 done - conn_done (transmission), or done - handoff
 *	done 0 means now. A negative difference (clock jumps) is 0.
 *
 *	deliver_log_delay() formats one delay as Postfix's format_tv()
 *	with 2 significant digits and delay_logging_resolution_limit = 2
 *	(Postfix's default): under 1 s two decimals at most (0.12), from
 *	1 s one (1.2), from 10 s none (12, 3600); rounded half up at that
 *	precision, trailing zeros dropped (0.1, 2, never 2.0); below
 *	0.005 s it is 0. deliver_log_format() writes the line into out
 *	(for tests); deliver_log() logs it with log_info(). Addresses go
 *	through log_safe(); in relay, dsn, status and reason every
 *	non-printable byte becomes '?'.
 * SEE ALSO
 *	lib/deliver.h (who logs which outcome), Postfix's log_adhoc.c.
 */
#ifndef DELIVER_LOG_H
#define DELIVER_LOG_H

#include <stddef.h>

struct buf;

struct deliver_log {
	const char *queue_id;
	const char *rcpt;		/* to= */
	const char *orig_rcpt;		/* orig_to=, NULL or "": none */
	const char *relay;		/* NULL: "none" */
	const char *dsn;		/* enhanced status, X.Y.Z */
	const char *status;		/* sent, deferred, bounced */
	const char *reason;		/* the text in parentheses */
	double	 arrival;		/* the message entered the queue */
	double	 active;		/* qmgr took it (0: never) */
	double	 handoff;		/* given to an agent (0: never) */
	double	 conn_done;		/* connection set up (0: none) */
	double	 done;			/* delivery done (0: now) */
};

void	 deliver_log(const struct deliver_log *);
void	 deliver_log_format(struct buf *, const struct deliver_log *);
const char *deliver_log_delay(char *, size_t, double);
const char *deliver_log_status(const char *);
double	 deliver_log_now(void);
const char *deliver_log_orcpt(const char *, char *, size_t, int *);

#endif
