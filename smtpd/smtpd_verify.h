/*
 * NAME
 *	smtpd_verify - reject_unverified_recipient, reject_unverified_sender
 * SYNOPSIS
 *	#include "smtpd_verify.h"
 *
 *	struct smtpd_verify *smtpd_verify_new(void);
 *	void	smtpd_verify_free(struct smtpd_verify *v);
 *	int	smtpd_verify_check(struct smtpd_verify *v, const char *addr,
 *	    int sender, struct smtpd_verify_reply *r);
 * DESCRIPTION
 *	Postfix's reject_unverified_address(): ask the verify service
 *	(lib/verify_clnt.h) about addr; while it answers "in progress"
 *	ask again after address_verify_poll_delay, up to
 *	address_verify_poll_count queries in all. Runs on a checker
 *	thread (blocking), never on the event loop.
 *
 *	smtpd_verify_new() reads the parameters (call it where conf may
 *	be read: under the checker's lock): address_verify_poll_count,
 *	_poll_delay, address_verify_service_name, and for recipients
 *	(sender: the unverified_sender_* ones)
 *	unverified_recipient_reject_code (a bounced probe),
 *	_defer_code (in progress or deferred), _reject_reason (replaces
 *	the verification details in both), _tempfail_action (defer:
 *	at once; defer_if_permit: only if nothing else rejects).
 *
 *	smtpd_verify_check() returns 0 (deliverable, or a 2xx code: go on)
 *	or 1 with r filled: the code, the enhanced status (4.1.1, sender
 *	4.1.7; its class follows the code), the text after "<addr>:
 *	Recipient address rejected: " ("unverified address: WHY",
 *	"undeliverable address: WHY" or "address verification problem")
 *	and whether it is a defer_if_permit (r->dip) or final.
 * DIAGNOSTICS
 *	A verify service that cannot be reached: "warning: verify service
 *	failure" and 450 "address verification problem" under the
 *	tempfail action, as Postfix.
 */
#ifndef SMTPD_VERIFY_H
#define SMTPD_VERIFY_H

struct smtpd_verify;

struct smtpd_verify_reply {
	int	 code;
	char	 dsn[16];
	int	 dip;			/* defer_if_permit */
	char	 text[400];
};

struct smtpd_verify *smtpd_verify_new(void);
void	 smtpd_verify_free(struct smtpd_verify *);
int	 smtpd_verify_check(struct smtpd_verify *, const char *, int,
	    struct smtpd_verify_reply *);

#endif
