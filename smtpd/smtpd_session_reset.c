/*
 * NAME
 *	smtpd_session_reset - forget the mail transaction
 * SYNOPSIS
 *	#include "smtpd.h"
 *
 *	void	smtpd_session_reset(struct smtpd_session *s);
 * DESCRIPTION
 *	Frees and clears everything MAIL FROM, RCPT TO and DATA left in
 *	a session: sender, recipients, ENVID, RET, BODY, SIZE, the count
 *	of RCPT commands tried, the policy state of the transaction and
 *	a DATA reader. What belongs to the session (HELO, TLS, AUTH) stays.
 *	Called on RSET, after a refused MAIL, after the message is queued
 *	and when the session ends.
 *
 *	A file of its own, without libevent, so that smtpd_cmd_test
 *	links the function smtpd runs rather than a copy of it.
 * DIAGNOSTICS
 *	None.
 */
#include <stdlib.h>

#include "smtpd.h"

/* smtpd_session_reset - forget the mail transaction */
void
smtpd_session_reset(struct smtpd_session *s)
{
	size_t	 i;

	for (i = 0; i < s->nrcpts; i++) {
		free(s->rcpts[i].addr);
		free(s->rcpts[i].orcpt);
	}
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpts = s->rcpts_cap = 0;
	free(s->sender);
	s->sender = NULL;
	free(s->dsn_envid);
	s->dsn_envid = NULL;
	s->dsn_ret = s->body_8bit = 0;
	s->size_hint = 0;
	s->rcpt_tried = 0;
	s->cs.sender = NULL;
	s->cs.recipient = NULL;
	s->cs.rcpt_count = 0;
	s->cs.queue_id = NULL;
	if (s->data) {
		smtpd_data_free(s->data);
		free(s->data);
		s->data = NULL;
	}
}
