/*
 * NAME
 *	smtpd_check - the smtpd access policy (smtpd_*_restrictions)
 * SYNOPSIS
 *	#include "smtpd_check.h"
 *
 *	struct smtpd_checker *smtpd_check_new(void);
 *	void	smtpd_check_free(struct smtpd_checker *c);
 *	int	smtpd_check(struct smtpd_checker *c, int stage,
 *	    struct smtpd_check_state *st, struct buf *reply);
 *	int	smtpd_check_client_name(struct smtpd_checker *c,
 *	    struct smtpd_check_state *st);
 *	int	smtpd_check_name_lookup(struct smtpd_check_state *st);
 *	void	smtpd_check_dns_init(void);
 * DESCRIPTION
 *	Blocking code: it runs on a worker thread (lib/workq.h) with the
 *	thread's own checker, which holds that thread's map handles (and
 *	so its own MySQL connection) opened from the current parameters.
 *	smtpd_check_new() reads the parameters itself (conf.h); create
 *	checkers before threads run or from the worker init function
 *	after the main thread has read conf (conf is read-only then).
 *
 *	smtpd_check() evaluates the restriction lists for one stage, as
 *	Postfix does with smtpd_delay_reject=yes: at SMTPD_STAGE_RCPT it
 *	runs smtpd_client_restrictions, smtpd_helo_restrictions,
 *	smtpd_sender_restrictions, then smtpd_relay_restrictions, then
 *	smtpd_recipient_restrictions, then recipient validation
 *	(smtpd_reject_unlisted_recipient); at SMTPD_STAGE_MAIL only
 *	sender validation that needs no delay; at SMTPD_STAGE_DATA
 *	smtpd_data_restrictions; at SMTPD_STAGE_HELO with
 *	smtpd_delay_reject=no the helo list. It returns SMTPD_CHECK_OK
 *	(reply left empty), SMTPD_CHECK_REJECT (5xx) or SMTPD_CHECK_DEFER
 *	(4xx: map or DNS trouble, never a 5xx) with the complete reply
 *	line in reply, e.g. "550 5.1.1 <x@y>: Recipient address
 *	rejected: User unknown in virtual mailbox table". Every reject
 *	and warn_if_reject is logged in Postfix's "NOQUEUE: reject: RCPT
 *	from name[addr]: ...; from=<> to=<> proto=ESMTP helo=<>" form.
 *
 *	Access-table and policy-server actions HOLD, DISCARD, REDIRECT
 *	user@domain, BCC user@domain, FILTER transport:destination and
 *	PREPEND header: text are
 *	logged as Postfix logs them ("NOQUEUE: hold: RCPT from ...: <r>:
 *	Recipient address triggers HOLD action; from=<> ...", likewise
 *	discard, redirect, bcc, filter; PREPEND is not logged) and recorded
 *	in st->actions, st->redirect, st->bcc, st->filter and st->prepend
 *	for the whole
 *	transaction (cleared at SMTPD_STAGE_MAIL); DISCARD also permits,
 *	and once it is set every later RCPT and DATA check says OK. As
 *	in Postfix they are skipped (with a warning) in client and helo
 *	restrictions evaluated before MAIL (smtpd_delay_reject=no).
 *
 *	smtpd_check_client_name() does the PTR and forward lookups at
 *	connect time (unless smtpd_peername_lookup=no), setting
 *	client_name/reverse_client_name/client_name_status in st.
 *	smtpd_check_name_lookup() is the same lookup without a checker
 *	(no maps, no database: what smtpd's DNS workers run), after
 *	smtpd_check_dns_init() has read resolver_nameservers.
 * DIAGNOSTICS
 *	An unknown restriction name is logged as a warning and answered
 *	with a 451 4.3.5 "Server configuration error" (as Postfix does).
 */
#ifndef SMTPD_CHECK_H
#define SMTPD_CHECK_H

#include "buf.h"

#define SMTPD_STAGE_CONNECT	1
#define SMTPD_STAGE_HELO	2
#define SMTPD_STAGE_MAIL	3
#define SMTPD_STAGE_RCPT	4
#define SMTPD_STAGE_DATA	5

#define SMTPD_CHECK_OK		0
#define SMTPD_CHECK_REJECT	1
#define SMTPD_CHECK_DEFER	2

/* client_name_status */
#define SMTPD_NAME_OK		0	/* PTR and forward agree */
#define SMTPD_NAME_UNKNOWN	1	/* no PTR, or forward mismatch */
#define SMTPD_NAME_TEMPFAIL	2	/* DNS trouble */

struct smtpd_check_state {
	/* filled by the session; strings owned by the session */
	const char *client_addr;	/* "1.2.3.4", "::1" */
	const char *client_port;
	const char *server_addr;
	const char *server_port;
	const char *protocol;		/* SMTP, ESMTP, ESMTPS, ESMTPSA */
	const char *helo_name;		/* NULL before HELO/EHLO */
	const char *sender;		/* NULL before MAIL; "" null sender */
	const char *recipient;		/* RCPT being checked */
	const char *sasl_username;	/* NULL when not authenticated */
	const char *queue_id;		/* NULL before a queue file exists */
	int	 tls;			/* TLS is active */
	int	 unauth_pipelining;	/* client sent ahead without PIPELINING */
	int	 rcpt_count;		/* accepted recipients so far */
	/* filled by smtpd_check_client_name() (owned by the checker) */
	char	 client_name[256];	/* "unknown" until verified */
	char	 reverse_client_name[256];
	int	 client_name_status;
	/* for check_policy_service, point into the session (or NULL) */
	const long *size_hint;		/* MAIL ... SIZE= */
	const char *const *sasl_method;	/* PLAIN, LOGIN */
	char	*const *tls_info;	/* "TLSv1.3 with cipher C (256/256 bits)" */
	/* check_policy_service's "instance": the checker sets it at MAIL */
	char	 policy_instance[64];
	unsigned policy_seq;
	/*
	 * Access-table (and policy) actions for the whole transaction:
	 * the checker clears them at MAIL and sets them; smtpd_queue
	 * hands them to cleanup.
	 */
	int	 actions;		/* SMTPD_ACT_HOLD, SMTPD_ACT_DISCARD */
	char	 redirect[256];		/* REDIRECT user@domain, or "" */
	char	 bcc[1024];		/* BCC addresses, each ending in LF */
	char	 prepend[2048];		/* PREPEND headers, each ending in LF */
	/* TLS client certificate, set at STARTTLS (smtpd_check_tls.c) */
	int	 ccert_present;
	int	 ccert_trusted;		/* verified against smtpd_tls_CAfile */
	char	 ccert_fprint[200];	/* "AB:CD:...", fingerprint digest */
	char	 ccert_pkey_fprint[200];
	char	 ccert_cn[256];
	char	 filter[256];		/* FILTER transport:nexthop, or "" */
};

#define SMTPD_ACT_HOLD		(1 << 0)
#define SMTPD_ACT_DISCARD	(1 << 1)

struct smtpd_checker;

struct smtpd_checker *smtpd_check_new(void);
void	 smtpd_check_free(struct smtpd_checker *);
int	 smtpd_check(struct smtpd_checker *, int, struct smtpd_check_state *,
	    struct buf *);
int	 smtpd_check_client_name(struct smtpd_checker *,
	    struct smtpd_check_state *);
int	 smtpd_check_name_lookup(struct smtpd_check_state *);
void	 smtpd_check_dns_init(void);

#endif
