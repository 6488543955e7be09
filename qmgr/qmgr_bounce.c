/*
 * NAME
 *	qmgr_bounce - RFC 3464 delivery status notifications
 * SYNOPSIS
 *	See qmgr_bounce.h.
 * DESCRIPTION
 *	The layout follows Postfix's bounce(8) templates so that people
 *	and scripts that read Postfix bounces read ours. The boundary is
 *	built from the queue id, the time and the host name, which the
 *	returned message cannot predict.
 * DIAGNOSTICS
 *	None.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "deliver_log.h"
#include "qmgr_bounce.h"

/* qmgr_dsn_date - RFC 5322 date */
void
qmgr_dsn_date(long when, char *out, size_t len)
{
	static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu",
	"Fri", "Sat"};
	static const char *mons[] = {"Jan", "Feb", "Mar", "Apr", "May",
	"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t	 t = (time_t)when;
	struct tm tm;
	long	 off;

	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	snprintf(out, len, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld (%s)",
	    days[tm.tm_wday], tm.tm_mday, mons[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
	    (off < 0 ? -off : off) / 60, (off < 0 ? -off : off) % 60,
	    tm.tm_zone ? tm.tm_zone : "UTC");
}

/* put_clean - append text with CR, LF, NUL turned into spaces */
static void
put_clean(struct buf *b, const char *s)
{
	for (; s && *s; s++)
		buf_putc(b, (*s == '\r' || *s == '\n') ? ' ' : *s);
}

/* put_diagnostic - Remote-MTA and Diagnostic-Code (RFC 3464 2.3.5-6) */
static void
put_diagnostic(struct buf *b, const char *reason)
{
	const char *said, *host, *br, *text, *end;
	size_t	 len;

	/* smtp's "host NAME[ADDR] said: REPLY (in reply to X command)":
	 * the server's own reply is an smtp diagnostic, as in Postfix */
	host = reason ? reason + 5 : NULL;
	if (reason == NULL || strncmp(reason, "host ", 5) != 0
	    || (said = strstr(host, " said: ")) == NULL
	    || (br = memchr(host, '[', (size_t)(said - host))) == NULL
	    || br == host) {
		buf_puts(b, "Diagnostic-Code: X-Postfix; ");
		put_clean(b, reason);
		buf_puts(b, "\n");
		return;
	}
	buf_puts(b, "Remote-MTA: dns; ");
	buf_append(b, host, (size_t)(br - host));
	text = said + 7;
	len = strlen(text);
	if ((end = strstr(text, " (in reply to ")) != NULL
	    && text[len - 1] == ')')
		len = (size_t)(end - text);
	buf_puts(b, "\nDiagnostic-Code: smtp; ");
	for (; len > 0; text++, len--)
		buf_putc(b, (*text == '\r' || *text == '\n') ? ' ' : *text);
	buf_puts(b, "\n");
}

/* header_len - length of the header section incl. the empty line */
static size_t
header_len(const char *msg, size_t len)
{
	size_t	 i;

	if (len > 0 && msg[0] == '\n')
		return (1);
	for (i = 0; i + 1 < len; i++)
		if (msg[i] == '\n' && msg[i + 1] == '\n')
			return (i + 2);
	return (len);
}

/* human_part - the text a person reads */
static void
human_part(const struct qmgr_dsn *d, struct buf *b, const char *bnd)
{
	size_t	 i;

	buf_printf(b, "--%s\nContent-Description: Notification\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n", bnd);
	if (d->to != NULL) {
		/* a postmaster copy: the reasons without the boiler-plate,
		 * as Postfix's bounce_notify_service() */
		buf_puts(b, "\n");
		goto rcpts;
	}
	buf_printf(b, "This is the mail system at host %s.\n\n",
	    d->myhostname);
	if (d->kind == QMGR_DSN_SUCCESS) {
		buf_puts(b, "Your message was successfully delivered to the "
		    "destination(s)\nlisted below. If the message was "
		    "delivered to mailbox you will\nreceive no further "
		    "notifications. Otherwise you may still receive\n"
		    "notifications of mail delivery errors from other "
		    "systems.\n");
	} else if (d->kind == QMGR_DSN_DELAY) {
		buf_puts(b, "####################################"
		    "################################\n"
		    "# THIS IS A WARNING ONLY.  YOU DO NOT "
		    "NEED TO RESEND YOUR MESSAGE. #\n"
		    "####################################"
		    "################################\n\n"
		    "Your message could not be delivered for more than "
		    "a while.\nIt will be retried until it is too old.\n");
	} else {
		buf_puts(b, "I'm sorry to have to inform you that your "
		    "message could not\nbe delivered to one or more "
		    "recipients. It's attached below.\n");
	}
	buf_puts(b, "\nFor further assistance, please send mail to "
	    "postmaster.\n\nIf you do so, please include this problem "
	    "report. You can\ndelete your own text from the attached "
	    "returned message.\n\n");
	buf_printf(b, "                   The mail system\n\n");
rcpts:
	for (i = 0; i < d->nrcpts; i++) {
		buf_putc(b, '<');
		put_clean(b, d->rcpts[i].addr);
		buf_puts(b, ">: ");
		put_clean(b, d->rcpts[i].reason);
		buf_puts(b, "\n");
	}
	buf_puts(b, "\n");
}

/* status_part - the machine-readable message/delivery-status */
static void
status_part(const struct qmgr_dsn *d, struct buf *b, const char *bnd)
{
	char	 date[80];
	size_t	 i;

	buf_printf(b, "--%s\nContent-Description: %s\n"
	    "Content-Type: message/delivery-status\n\n", bnd,
	    d->kind == QMGR_DSN_DELAY ? "Delivery report"
	    : "Delivery report");
	buf_printf(b, "Reporting-MTA: dns; %s\n", d->myhostname);
	buf_printf(b, "X-Postfix-Queue-ID: %s\n", d->queue_id);
	buf_puts(b, "X-Postfix-Sender: rfc822; ");
	put_clean(b, d->sender);
	buf_puts(b, "\n");
	if (d->envid && *d->envid) {
		buf_puts(b, "Original-Envelope-Id: ");
		put_clean(b, d->envid);
		buf_puts(b, "\n");
	}
	qmgr_dsn_date(d->arrival, date, sizeof(date));
	buf_printf(b, "Arrival-Date: %s\n", date);
	for (i = 0; i < d->nrcpts; i++) {
		const struct qmgr_dsn_rcpt *r = &d->rcpts[i];

		buf_puts(b, "\nFinal-Recipient: rfc822; ");
		put_clean(b, r->addr);
		buf_puts(b, "\n");
		if (r->addr && *r->addr) {
			char	 type[64];
			int	 dsn;
			const char *o = r->orcpt && *r->orcpt ? r->orcpt
			    : r->addr, *a = deliver_log_orcpt(o, type,
			    sizeof(type), &dsn);

			/*
			 * A DSN ORCPT verbatim ("rfc822;x"), else the
			 * original recipient (before aliases) as
			 * "rfc822;x": Postfix's cleanup records that
			 * ORCPT for every recipient, and its DSNs always
			 * show one (bounce_notify_util.c explains why,
			 * RFC 3461 5.2.1.d against RFC 3464 6.3.d).
			 */
			buf_puts(b, "Original-Recipient: ");
			if (!dsn)
				buf_puts(b, "rfc822;");
			put_clean(b, dsn ? o : a);
			buf_puts(b, "\n");
		}
		buf_printf(b, "Action: %s\n", r->action ? r->action :
		    d->kind == QMGR_DSN_DELAY ? "delayed" :
		    d->kind == QMGR_DSN_SUCCESS ? "delivered" : "failed");
		buf_puts(b, "Status: ");
		put_clean(b, r->status);
		buf_puts(b, "\n");
		if (d->kind == QMGR_DSN_DELAY && d->retry_until > 0) {
			qmgr_dsn_date(d->retry_until, date, sizeof(date));
			buf_printf(b, "Will-Retry-Until: %s\n", date);
		}
		put_diagnostic(b, r->reason);
	}
	buf_puts(b, "\n");
}

/* qmgr_dsn_format - build the whole notification */
void
qmgr_dsn_format(const struct qmgr_dsn *d, struct buf *b)
{
	char	 bnd[200], date[80];
	size_t	 hlen;

	snprintf(bnd, sizeof(bnd), "%s.%ld/%s", d->queue_id, d->now,
	    d->myhostname);
	qmgr_dsn_date(d->now, date, sizeof(date));
	buf_printf(b, "Date: %s\n", date);
	/* Postfix's template "MAILER-DAEMON (Mail Delivery System)" as its
	 * cleanup rewrites it: qualified with $myorigin, display form */
	buf_printf(b, "From: Mail Delivery System <MAILER-DAEMON@%s>\n",
	    d->myorigin && *d->myorigin ? d->myorigin : d->myhostname);
	buf_printf(b, "Subject: %s\n", d->kind == QMGR_DSN_DELAY ?
	    (d->to ? "Postmaster Warning: Delayed Mail" :
	    "Delayed Mail (still being retried)") :
	    d->kind == QMGR_DSN_SUCCESS ? "Successful Mail Delivery Report" :
	    d->to ? "Postmaster Copy: Undelivered Mail" :
	    "Undelivered Mail Returned to Sender");
	buf_puts(b, "To: ");
	put_clean(b, d->to ? d->to : d->sender);
	buf_puts(b, "\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n");
	buf_printf(b, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\n\tboundary=\"%s\"\n", bnd);
	buf_puts(b, "Content-Transfer-Encoding: 8bit\n");
	buf_printf(b, "Message-Id: <%ld.%s.%s@%s>\n", d->now, d->queue_id,
	    d->kind == QMGR_DSN_DELAY ? "delay" : d->kind == QMGR_DSN_SUCCESS ?
	    "success" : "bounce", d->myhostname);
	buf_puts(b, "\nThis is a MIME-encapsulated message.\n\n");
	human_part(d, b, bnd);
	status_part(d, b, bnd);
	if (d->kind == QMGR_DSN_FAILURE && d->msg != NULL) {
		hlen = header_len(d->msg, d->msg_len);
		if (d->full) {
			buf_printf(b, "--%s\nContent-Description: "
			    "Undelivered Message\nContent-Type: "
			    "message/rfc822\nContent-Transfer-Encoding: 8bit"
			    "\n\n", bnd);
			buf_append(b, d->msg, d->msg_len);
		} else {
			buf_printf(b, "--%s\nContent-Description: "
			    "Undelivered Message Headers\nContent-Type: "
			    "text/rfc822-headers\nContent-Transfer-Encoding: "
			    "8bit\n\n", bnd);
			buf_append(b, d->msg, hlen);
		}
		if (BUF_LEN(b) && BUF_STR(b)[BUF_LEN(b) - 1] != '\n')
			buf_putc(b, '\n');
	} else if (d->msg != NULL) {
		hlen = header_len(d->msg, d->msg_len);
		/* Postfix: "Undelivered " for failure and delay only */
		buf_printf(b, "--%s\nContent-Description: %sMessage "
		    "Headers\nContent-Type: text/rfc822-headers\n"
		    "Content-Transfer-Encoding: 8bit\n\n", bnd,
		    d->kind == QMGR_DSN_SUCCESS ? "" : "Undelivered ");
		buf_append(b, d->msg, hlen);
		if (BUF_LEN(b) && BUF_STR(b)[BUF_LEN(b) - 1] != '\n')
			buf_putc(b, '\n');
	}
	buf_printf(b, "\n--%s--\n", bnd);
}
