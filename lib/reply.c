/*
 * NAME
 *	reply - the one table of SMTP replies
 * SYNOPSIS
 *	See reply.h.
 * DESCRIPTION
 *	The table is indexed by enum reply_status with designated
 *	initializers, so an entry cannot drift away from its name.
 * DIAGNOSTICS
 *	log_panic() for a status outside the table (our bug).
 */
#include <string.h>

#include "buf.h"
#include "log.h"
#include "reply.h"

static const struct reply_entry {
	int	 code;
	const char *esc;	/* NULL: no enhanced code (220, 250 EHLO) */
	const char *text;
} reply_table[REPLY_COUNT] = {
	[REPLY_OK] = {250, "2.0.0", "Ok"},
	[REPLY_MAIL_OK] = {250, "2.1.0", "Ok"},
	[REPLY_RCPT_OK] = {250, "2.1.5", "Ok"},
	[REPLY_QUEUED] = {250, "2.0.0", "Ok: queued as %s"},
	[REPLY_RSET_OK] = {250, "2.0.0", "Ok"},
	[REPLY_GREETING] = {220, NULL, "%s"},
	[REPLY_HELO] = {250, NULL, "%s"},
	[REPLY_BYE] = {221, "2.0.0", "Bye"},
	[REPLY_HELP] = {214, "2.0.0",
	    "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP"},
	[REPLY_VRFY] = {252, "2.0.0", "%s"},
	[REPLY_DATA] = {354, NULL, "End data with <CR><LF>.<CR><LF>"},
	[REPLY_UNKNOWN_CMD] = {500, "5.5.2", "Error: command not recognized"},
	[REPLY_NOT_IMPL] = {502, "5.5.1", "Error: %s command not implemented"},
	[REPLY_VRFY_DISABLED] = {502, "5.5.1", "VRFY command is disabled"},
	[REPLY_TOO_LONG] = {500, "5.5.2", "Error: line too long"},
	[REPLY_NUL] = {500, "5.5.2", "Error: NUL character in command"},
	[REPLY_SYNTAX] = {501, "5.5.4", "Syntax: %s"},
	[REPLY_BAD_SENDER] = {501, "5.1.7", "Bad sender address syntax"},
	[REPLY_BAD_RCPT] = {501, "5.1.3", "Bad recipient address syntax"},
	[REPLY_BAD_HELO] = {501, "5.5.4", "Syntax: %s hostname"},
	[REPLY_BAD_PARAM] = {555, "5.5.4", "Unsupported option: %s"},
	[REPLY_NEED_HELO] = {503, "5.5.1", "Error: send HELO/EHLO first"},
	[REPLY_NESTED_MAIL] = {503, "5.5.1", "Error: nested MAIL command"},
	[REPLY_NEED_MAIL] = {503, "5.5.1", "Error: need MAIL command"},
	[REPLY_NEED_RCPT] = {503, "5.5.1", "Error: need RCPT command"},
	[REPLY_NO_VALID_RCPT] = {554, "5.5.1", "Error: no valid recipients"},
	[REPLY_TOO_MANY_RCPT] = {452, "4.5.3", "Error: too many recipients"},
	[REPLY_SIZE_LIMIT] = {552, "5.3.4",
	    "Message size exceeds fixed limit"},
	[REPLY_TOO_BIG] = {552, "5.3.4", "Error: message file too big"},
	[REPLY_TEMP] = {451, "4.3.0", "Error: %s"},
	[REPLY_QUEUE_ERR] = {451, "4.3.0", "Error: queue file write error"},
	[REPLY_TIMEOUT] = {421, "4.4.2", "%s Error: timeout exceeded"},
	[REPLY_TOO_MANY_ERR] = {421, "4.7.0", "%s Error: too many errors"},
	[REPLY_BARE_LF] = {521, "5.5.2", "%s Error: bare <LF> received"},
	[REPLY_SHUTDOWN] = {421, "4.3.2", "%s Service shutting down"},
	[REPLY_NEED_TLS] = {530, "5.7.0",
	    "Must issue a STARTTLS command first"},
	[REPLY_SYNC] = {554, "5.5.0", "Error: SMTP protocol synchronization"},
	[REPLY_STARTTLS] = {220, "2.0.0", "Ready to start TLS"},
	[REPLY_TLS_ACTIVE] = {554, "5.5.1", "Error: TLS already active"},
	[REPLY_TLS_UNAVAIL] = {454, "4.7.0",
	    "TLS not available due to local problem"},
	[REPLY_BAD_UTF8] = {500, "5.5.2", "Error: bad UTF-8 syntax"},
	[REPLY_NEED_SMTPUTF8] = {553, "5.6.7",
	    "Must declare SMTPUTF8 to send unicode address"},
};

/* reply_entry - the table entry of a status */
static const struct reply_entry *
reply_entry(int status)
{
	if (status < 0 || status >= REPLY_COUNT || reply_table[status].code == 0)
		log_panic("reply: unknown status %d", status);
	return (&reply_table[status]);
}

/* reply_head - append "CODE ESC " or "CODE " */
static void
reply_head(struct buf *out, const struct reply_entry *e)
{
	if (e->esc)
		buf_printf(out, "%d %s ", e->code, e->esc);
	else
		buf_printf(out, "%d ", e->code);
}

/* reply_build - append the table's reply for status, %s replaced by arg */
void
reply_build(struct buf *out, int status, const char *arg)
{
	const struct reply_entry *e = reply_entry(status);
	const char *p = strstr(e->text, "%s");

	reply_head(out, e);
	if (p) {
		buf_append(out, e->text, p - e->text);
		if (arg)
			buf_puts(out, arg);
		buf_puts(out, p + 2);
	} else
		buf_puts(out, e->text);
	buf_puts(out, "\r\n");
}

/* reply_custom - status's code and enhanced code with other text */
void
reply_custom(struct buf *out, int status, const char *text)
{
	reply_head(out, reply_entry(status));
	buf_puts(out, text);
	buf_puts(out, "\r\n");
}

/* reply_multiline - a multi-line reply such as EHLO's */
void
reply_multiline(struct buf *out, int code, const char *const *lines,
    size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		buf_printf(out, "%d%c%s\r\n", code, i + 1 < n ? '-' : ' ',
		    lines[i]);
}

/* reply_code - the three-digit code of status */
int
reply_code(int status)
{
	return (reply_entry(status)->code);
}

/* reply_esc - the enhanced status code of status, or NULL */
const char *
reply_esc(int status)
{
	return (reply_entry(status)->esc);
}

/* reply_text - the table's text of status */
const char *
reply_text(int status)
{
	return (reply_entry(status)->text);
}
