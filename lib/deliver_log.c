/*
 * NAME
 *	deliver_log - the one delivery log line
 * SYNOPSIS
 *	See deliver_log.h.
 * DESCRIPTION
 *	Used by qmgr (outcomes it decides), virtual and smtp, so the three
 *	log the same fields with the same delay format.
 * DIAGNOSTICS
 *	None; the line is always written.
 */
#include <sys/time.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "deliver.h"
#include "deliver_log.h"
#include "log.h"
#include "metrics.h"

#define DELAY_MAX	1e12		/* seconds; beyond is a broken clock */

/* deliver_log_now - wall clock in seconds */
double
deliver_log_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return ((double)tv.tv_sec + (double)tv.tv_usec / 1e6);
}

/* deliver_log_orcpt - the addr-type and address of an orcpt field */
const char *
deliver_log_orcpt(const char *orcpt, char *type, size_t len, int *is_dsn)
{
	const char *p;

	/* addr-type is an atom (RFC 3461 4.2); no address starts with one
	 * followed by ';', since ';' is not allowed unquoted */
	for (p = orcpt; *p && (isalnum((unsigned char)*p) || *p == '-'); p++)
		;
	*is_dsn = p > orcpt && *p == ';' && (size_t)(p - orcpt) < len;
	if (!*is_dsn) {
		snprintf(type, len, "rfc822");
		return (orcpt);
	}
	memcpy(type, orcpt, (size_t)(p - orcpt));
	type[p - orcpt] = 0;
	return (p + 1);
}

/* deliver_log_delay - Postfix's format_tv(2 digits, resolution 2) */
const char *
deliver_log_delay(char *out, size_t len, double seconds)
{
	long long usec, whole, scaled, scale;
	int	 decimals, n;

	if (!(seconds > 0))		/* negative, zero or NaN */
		seconds = 0;
	if (seconds > DELAY_MAX)
		seconds = DELAY_MAX;
	usec = (long long)(seconds * 1e6 + 0.5);	/* whole microseconds */
	whole = usec / 1000000;
	/* two significant digits, but never past 1/100 s */
	decimals = whole >= 10 ? 0 : whole >= 1 ? 1 : 2;
	scale = decimals == 2 ? 100 : decimals == 1 ? 10 : 1;
	scaled = (usec * scale + 500000) / 1000000;	/* half up */
	n = snprintf(out, len, "%lld", scaled / scale);
	if (scaled % scale == 0 || n < 0 || (size_t)n >= len)
		return (out);
	snprintf(out + n, len - (size_t)n, ".%0*lld", decimals,
	    scaled % scale);
	for (n = (int)strlen(out); out[n - 1] == '0'; n--)
		out[n - 1] = 0;
	return (out);
}

/* deliver_log_status - DELIVER_ACTION_* to the status= word */
const char *
deliver_log_status(const char *action)
{
	if (action && strcmp(action, DELIVER_ACTION_DELIVERED) == 0)
		return ("sent");
	if (action && strcmp(action, DELIVER_ACTION_BOUNCED) == 0)
		return ("bounced");
	return ("deferred");
}

/* put_printable - append text with non-printable bytes as '?' */
static void
put_printable(struct buf *out, const char *s)
{
	for (; s && *s; s++)
		buf_putc(out, (unsigned char)*s >= 0x20
		    && (unsigned char)*s < 0x7f ? *s : '?');
}

/* put_delay - one delay field after its separator */
static void
put_delay(struct buf *out, const char *sep, double from, double to)
{
	char	 d[32];

	buf_puts(out, sep);
	buf_puts(out, deliver_log_delay(d, sizeof(d), to - from));
}

/* deliver_log_format - the line, into out */
void
deliver_log_format(struct buf *out, const struct deliver_log *e)
{
	double	 now = e->done > 0 ? e->done : deliver_log_now();
	double	 a_end, b_end, c_end, d_from;
	char	 type[64];
	int	 dsn;

	buf_printf(out, "%s: to=<%s>", e->queue_id,
	    log_printable(e->rcpt));
	if (e->orig_rcpt && *e->orig_rcpt && (e->rcpt == NULL
	    || strcasecmp(e->orig_rcpt, e->rcpt) != 0)
	    && (deliver_log_orcpt(e->orig_rcpt, type, sizeof(type), &dsn),
	    !dsn))
		buf_printf(out, ", orig_to=<%s>", log_printable(e->orig_rcpt));
	buf_puts(out, ", relay=");
	put_printable(out, e->relay ? e->relay : "none");
	/* Postfix's log_adhoc(): a missing stage takes the rest */
	a_end = e->active > 0 ? e->active : now;
	b_end = e->active <= 0 ? a_end : e->handoff > 0 ? e->handoff : now;
	c_end = e->active > 0 && e->handoff > 0 && e->conn_done > 0
	    ? e->conn_done : b_end;
	d_from = e->active > 0 && e->handoff > 0 ? c_end : now;
	put_delay(out, ", delay=", e->arrival, now);
	put_delay(out, ", delays=", e->arrival, a_end);
	put_delay(out, "/", a_end, b_end);
	put_delay(out, "/", b_end, c_end);
	put_delay(out, "/", d_from, now);
	buf_puts(out, ", dsn=");
	put_printable(out, e->dsn);
	buf_puts(out, ", status=");
	put_printable(out, e->status);
	buf_puts(out, " (");
	put_printable(out, e->reason);
	buf_puts(out, ")");
}

/* deliver_log - log the line */
void
deliver_log(const struct deliver_log *e)
{
	struct buf *line = buf_new(256);

	char	 status[32], labels[64];
	size_t	 n;

	deliver_log_format(line, e);
	log_info("%s", BUF_STR(line));
	buf_free(line);
	/* the status word ("sent", "deferred", "bounced", "expired") */
	for (n = 0; e->status && isalpha((unsigned char)e->status[n])
	    && n + 1 < sizeof(status); n++)
		status[n] = e->status[n];
	status[n] = 0;
	snprintf(labels, sizeof(labels), "status=\"%s\"",
	    n ? status : "unknown");
	metrics_count("postern_deliveries_total", labels);
	metrics_observe("postern_delivery_delay_seconds", labels,
	    (e->done > 0 ? e->done : deliver_log_now()) - e->arrival);
}
