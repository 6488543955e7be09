/*
 * NAME
 *	reply - the one table of SMTP replies: status, code, enhanced code, text
 * SYNOPSIS
 *	#include "reply.h"
 *
 *	void	reply_build(struct buf *out, int status, const char *arg);
 *	void	reply_custom(struct buf *out, int status, const char *text);
 *	void	reply_multiline(struct buf *out, int code,
 *	    const char *const *lines, size_t n);
 *	int	reply_code(int status);
 *	const char *reply_esc(int status);
 *	const char *reply_text(int status);
 * DESCRIPTION
 *	Every reply a server writes by hand comes from this table (after
 *	Postfix's cleanup_strerror.c), so the same condition never gets two
 *	different answers. Replies made by others (smtpd_check, cleanup)
 *	arrive as complete lines and are passed through as they are.
 *
 *	reply_build() appends "CODE ESC TEXT\r\n" for status. A "%s" in the
 *	table's text is replaced by arg (NULL gives ""); no other printf
 *	processing happens, so arg may be anything. reply_custom() keeps the
 *	code and enhanced code of status and uses text instead. Text that
 *	came from a client must be made printable by the caller.
 *	reply_multiline() appends "CODE-line" ... "CODE line" (EHLO).
 *
 *	Unknown commands get Postfix's "502 5.5.2 Error: command not
 *	recognized" (STYLE.md's baseline says 500 5.5.2; we follow Postfix,
 *	which clients and tests know).
 * DIAGNOSTICS
 *	An unknown status is our bug: log_panic().
 */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>

#include "buf.h"

enum reply_status {
	REPLY_OK,		/* 250 2.0.0 Ok */
	REPLY_MAIL_OK,		/* 250 2.1.0 Ok */
	REPLY_RCPT_OK,		/* 250 2.1.5 Ok */
	REPLY_QUEUED,		/* 250 2.0.0 Ok: queued as %s */
	REPLY_RSET_OK,		/* 250 2.0.0 Ok */
	REPLY_GREETING,		/* 220 %s (banner) */
	REPLY_HELO,		/* 250 %s (myhostname) */
	REPLY_BYE,		/* 221 2.0.0 Bye */
	REPLY_HELP,		/* 214 2.0.0 ... */
	REPLY_VRFY,		/* 252 2.0.0 %s */
	REPLY_DATA,		/* 354 End data with <CR><LF>.<CR><LF> */
	REPLY_UNKNOWN_CMD,	/* 500 5.5.2 Error: command not recognized */
	REPLY_NOT_IMPL,		/* 502 5.5.1 %s command is not implemented */
	REPLY_VRFY_DISABLED,	/* 502 5.5.1 VRFY command is disabled */
	REPLY_TOO_LONG,		/* 500 5.5.2 Error: line too long */
	REPLY_NUL,		/* 500 5.5.2 Error: NUL in command */
	REPLY_SYNTAX,		/* 501 5.5.4 Syntax: %s */
	REPLY_BAD_SENDER,	/* 501 5.1.7 Bad sender address syntax */
	REPLY_BAD_RCPT,		/* 501 5.1.3 Bad recipient address syntax */
	REPLY_BAD_HELO,		/* 501 5.5.4 Syntax: HELO/EHLO hostname */
	REPLY_BAD_PARAM,	/* 555 5.5.4 Unsupported option: %s */
	REPLY_NEED_HELO,	/* 503 5.5.1 Error: send HELO/EHLO first */
	REPLY_NESTED_MAIL,	/* 503 5.5.1 Error: nested MAIL command */
	REPLY_NEED_MAIL,	/* 503 5.5.1 Error: need MAIL command */
	REPLY_NEED_RCPT,	/* 503 5.5.1 Error: need RCPT command */
	REPLY_NO_VALID_RCPT,	/* 554 5.5.1 Error: no valid recipients */
	REPLY_TOO_MANY_RCPT,	/* 452 4.5.3 Error: too many recipients */
	REPLY_SIZE_LIMIT,	/* 552 5.3.4 Message size exceeds fixed limit */
	REPLY_TOO_BIG,		/* 552 5.3.4 Error: message file too big */
	REPLY_TEMP,		/* 451 4.3.0 Error: %s */
	REPLY_QUEUE_ERR,	/* 451 4.3.0 Error: queue file write error */
	REPLY_TIMEOUT,		/* 421 4.4.2 %s Error: timeout exceeded */
	REPLY_TOO_MANY_ERR,	/* 421 4.7.0 %s Error: too many errors */
	REPLY_BARE_LF,		/* 521 5.5.2 %s Error: bare <LF> received */
	REPLY_SHUTDOWN,		/* 421 4.3.2 %s Service shutting down */
	REPLY_NEED_TLS,		/* 530 5.7.0 Must issue a STARTTLS command first */
	REPLY_SYNC,		/* 554 5.5.0 Error: SMTP protocol synchronization */
	REPLY_STARTTLS,		/* 220 2.0.0 Ready to start TLS */
	REPLY_TLS_ACTIVE,	/* 554 5.5.1 Error: TLS already active */
	REPLY_TLS_UNAVAIL,	/* 454 4.7.0 TLS not available due to local problem */
	REPLY_BAD_UTF8,		/* 500 5.5.2 Error: bad UTF-8 syntax */
	REPLY_NEED_SMTPUTF8,	/* 553 5.6.7 Must declare SMTPUTF8 to send unicode address */
	REPLY_COUNT
};

void	 reply_build(struct buf *, int, const char *);
void	 reply_custom(struct buf *, int, const char *);
void	 reply_multiline(struct buf *, int, const char *const *, size_t);
int	 reply_code(int);
const char *reply_esc(int);
const char *reply_text(int);

#endif
