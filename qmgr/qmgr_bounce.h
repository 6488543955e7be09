/*
 * NAME
 *	qmgr_bounce - RFC 3464 delivery status notifications
 * SYNOPSIS
 *	#include "qmgr_bounce.h"
 *
 *	void	qmgr_dsn_format(const struct qmgr_dsn *d, struct buf *out);
 *	void	qmgr_dsn_date(long when, char *out, size_t len);
 * DESCRIPTION
 *	qmgr_dsn_format() writes a complete message (headers and body, LF
 *	line endings) into out: a multipart/report; report-type=
 *	delivery-status from MAILER-DAEMON@$myorigin to the original
 *	sender, in Postfix's layout: a human-readable part, the
 *	message/delivery-status part (Reporting-MTA, X-Postfix-Queue-ID,
 *	X-Postfix-Sender, Arrival-Date, then per recipient
 *	Final-Recipient, Original-Recipient, Action, Status,
 *	Diagnostic-Code) and the original message: message/rfc822 when
 *	full is set (RET=FULL or no RET, message within
 *	bounce_size_limit), else text/rfc822-headers with its headers
 *	only. kind QMGR_DSN_DELAY writes a delay warning ("Delayed Mail
 *	(still being retried)", Action: delayed, Will-Retry-Until), kind
 *	QMGR_DSN_SUCCESS a delivery report for NOTIFY=SUCCESS ("Successful
 *	Mail Delivery Report", Action: delivered); both return the
 *	original headers only.
 *
 *	Text from the network (reasons, addresses) is put in as is, but
 *	CR, LF and NUL are replaced by spaces so that it cannot start a
 *	header or a MIME part.
 *
 *	qmgr_dsn_date() formats an RFC 5322 date in the local time zone.
 * DIAGNOSTICS
 *	None; the caller writes the result with lib/queue.h.
 */
#ifndef QMGR_BOUNCE_H
#define QMGR_BOUNCE_H

#include <stddef.h>

#include "buf.h"

#define QMGR_DSN_FAILURE	0
#define QMGR_DSN_DELAY		1
#define QMGR_DSN_SUCCESS	2

struct qmgr_dsn_rcpt {
	const char *addr;
	const char *orcpt;		/* may be NULL */
	const char *status;		/* "5.1.1" */
	const char *reason;
	const char *action;		/* success: "relayed"; NULL: by kind */
};

struct qmgr_dsn {
	int	 kind;
	const char *queue_id;
	const char *sender;
	const char *myhostname;
	const char *myorigin;		/* From: MAILER-DAEMON@; NULL:
					 * myhostname */
	const char *mail_name;		/* "Postern" */
	const char *envid;		/* DSN ENVID, may be NULL */
	long	 arrival;
	long	 now;
	long	 retry_until;		/* delay: arrival + lifetime */
	const char *to;			/* postmaster copy: its recipient
					 * (To:); NULL: the sender */
	const struct qmgr_dsn_rcpt *rcpts;
	size_t	 nrcpts;
	const char *msg;		/* original message, LF endings */
	size_t	 msg_len;
	int	 full;
};

void	 qmgr_dsn_format(const struct qmgr_dsn *, struct buf *);
void	 qmgr_dsn_date(long, char *, size_t);

#endif
