/*
 * NAME
 *	smtpd_cmd_harness - the session fakes smtpd_cmd_test and
 *	smtpd_bdat_test share
 * SYNOPSIS
 *	#include "smtpd_cmd_harness.h"	(in one test program only)
 * DESCRIPTION
 *	Defines smtpd_params, the reply collector and the fakes of the
 *	session functions smtpd_cmd.c calls that both tests answer the
 *	same way: each reply is recorded in replies as its first 9
 *	characters, "|"-separated (the last line of a multi-line reply;
 *	smtpd_reply_multi() also keeps the EHLO keywords in ehlo_kw),
 *	STARTTLS is never reached, AUTH is not offered, closing marks
 *	the session SMTPD_ST_CLOSING. The test itself defines
 *	smtpd_session_check() and smtpd_session_start_data().
 */
#ifndef SMTPD_CMD_HARNESS_H
#define SMTPD_CMD_HARNESS_H

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "reply.h"
#include "smtpd.h"

struct smtpd_params smtpd_params;
static struct buf *replies;
static char ehlo_kw[512];	/* the last EHLO keywords, space-joined */

/* put - record the first 9 characters of a reply */
static void
put(const char *text)
{
	if (strlen(text) > 3 && text[3] == '-')
		return;		/* multi-line: the last line only */
	buf_printf(replies, "%s%.9s", BUF_LEN(replies) ? "|" : "", text);
	while (BUF_LEN(replies) && strchr("\r\n ",
	    BUF_STR(replies)[BUF_LEN(replies) - 1]))
		buf_truncate(replies, BUF_LEN(replies) - 1);
}

/* smtpd_reply - fake: collect a table reply */
void
smtpd_reply(struct smtpd_session *s, int status, const char *arg)
{
	struct buf *b = buf_new(0);

	reply_build(b, status, arg);
	put(BUF_STR(b));
	buf_free(b);
}

/* smtpd_reply_custom - fake: collect a custom reply */
void
smtpd_reply_custom(struct smtpd_session *s, int status, const char *text)
{
	struct buf *b = buf_new(0);

	reply_custom(b, status, text);
	put(BUF_STR(b));
	buf_free(b);
}

/* smtpd_reply_multi - fake: collect a multi-line reply, keep keywords */
void
smtpd_reply_multi(struct smtpd_session *s, int code, const char *const *l,
    size_t n)
{
	char	 t[8];
	size_t	 i;

	snprintf(t, sizeof(t), "%d", code);
	put(t);
	ehlo_kw[0] = 0;
	for (i = 1; i < n; i++)
		snprintf(ehlo_kw + strlen(ehlo_kw), sizeof(ehlo_kw)
		    - strlen(ehlo_kw), " %s", l[i]);
}

/* smtpd_reply_text - fake: collect a whole reply line */
void
smtpd_reply_text(struct smtpd_session *s, const char *line)
{
	put(line);
}

/* smtpd_session_starttls - fake: never reached (no TLS context) */
void
smtpd_session_starttls(struct smtpd_session *s)
{
	put("220 fake");
}

/* smtpd_auth_offer - fake: AUTH not offered */
const char *
smtpd_auth_offer(const struct smtpd_session *s)
{
	return (NULL);
}

/* smtpd_auth_broken - fake */
int
smtpd_auth_broken(void)
{
	return (0);
}

/* smtpd_auth_cmd - fake: AUTH not enabled */
void
smtpd_auth_cmd(struct smtpd_session *s, char *arg)
{
	put("503 5.5.1 Error: authentication not enabled");
}

/* smtpd_session_close - fake: mark closing */
void
smtpd_session_close(struct smtpd_session *s)
{
	s->state = SMTPD_ST_CLOSING;
}

#endif
