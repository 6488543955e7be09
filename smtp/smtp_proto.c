/*
 * NAME
 *	smtp_proto - one blocking SMTP or LMTP session to one server
 * SYNOPSIS
 *	See smtp.h.
 * DESCRIPTION
 *	smtp_session() connects to s->dest and runs: greeting, EHLO (HELO
 *	if EHLO is refused; LHLO for LMTP), STARTTLS per the TLS level,
 *	EHLO again, AUTH (PLAIN or LOGIN) when smtp_sasl_auth_enable is
 *	set and the password maps have credentials, MAIL FROM (SIZE,
 *	BODY=8BITMIME, RET, ENVID, SMTPUTF8 when offered, REQUIRETLS;
 *	smtp_ext.c says when a next hop cannot take the message), RCPT TO
 *	(NOTIFY, ORCPT when DSN is offered), DATA with dot-stuffing and
 *	LF -> CRLF, then QUIT. MAIL, RCPT and DATA go out in one write
 *	when the server offers PIPELINING. LMTP without TLS, with
 *	lmtp_connection_cache_time_limit > 0 (cfg->conn_cache_limit): a
 *	session that ended cleanly skips QUIT and goes to the cache
 *	(smtp_cache.c) with what LHLO offered; the next session to the
 *	same server takes it, checks it with RSET (250), and starts at
 *	MAIL FROM, or connects afresh when the RSET fails.
 *
 *	To a server that offers CHUNKING (RFC 3030; SMTP, not LMTP) and
 *	with smtp_use_bdat = yes (postern's own; Postfix's client has no
 *	BDAT) the message goes as BDAT chunks of about 64 KB instead of
 *	DATA, the last one "BDAT n LAST": the same octets DATA carries
 *	without the dot-stuffing and the final dot (CRLF line ends, lines
 *	folded at smtp_line_length_limit, no stray CR). With PIPELINING
 *	the chunks follow MAIL and RCPT at once and the replies are read
 *	at the end; without it each chunk waits for its 250.
 *
 *	Results: a failure before MAIL FROM is a session failure
 *	(s->status/s->reason, recipients undecided: the caller tries the
 *	next address). From MAIL FROM on, every recipient gets its
 *	result here: 2xx delivered, 4xx deferred, 5xx bounced, with
 *	Postfix's "host NAME[ADDR] said: REPLY (in reply to CMD command)";
 *	a lost connection or timeout defers the recipients still open.
 *
 *	TLS, at the nexthop's level (s->tls_level: smtp_tls_policy_maps
 *	or the service's, smtp_policy.c): "may" uses STARTTLS when
 *	offered; "encrypt" and up defers
 *	(4.7.4) when it is not offered; "verify"/"secure" also check the
 *	certificate (tls_verify_peer()) against the names of
 *	smtp_tls_verify_cert_match (default: the MX host name) or
 *	smtp_tls_secure_cert_match (the nexthop and its subdomains), and
 *	defer 4.7.5 with Postfix's reason
 *	"Server certificate not trusted" (chain) or "... not verified"
 *	(name); the names are a policy's match= when it has one.
 *	"fingerprint" instead compares the SHA-256 digest of the
 *	certificate or its public key with match= (4.7.5 "Server
 *	certificate not verified" when none matches). A policy's
 *	protocols= applies to that connection. After the handshake, anything the
 *	server sent before it is discarded. With "may", a failed
 *	handshake sets s->tls_failed; the caller then connects again with
 *	s->no_tls (plaintext), as Postfix does.
 * DIAGNOSTICS
 *	Results only; TLS connections are logged as Postfix does.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "deliver.h"
#include "deliver_log.h"
#include "log.h"
#include "map.h"
#include "mime_conv.h"
#include "queue.h"
#include "smtp.h"
#include "smtp_cache.h"
#include "smtp_sts.h"
#include "str.h"
#include "tls.h"
#include "xalloc.h"

#define OUT_CHUNK	(64 * 1024)

struct conn {
	int	 fd;
	SSL	*ssl;
	struct buf *in;		/* unparsed bytes from the server */
	struct buf *out;	/* pending commands or body */
	int	 eof;
	int	 timedout;
	struct bdat_out *bdat;	/* NULL: DATA */
	int	 keep;		/* clean end: cache it, no QUIT (lmtp) */
};

/* BDAT (RFC 3030): the text in chunks, not dot-stuffed */
struct bdat_out {
	struct buf *chunk;	/* text not yet sent */
	size_t	 unread;	/* BDAT commands whose reply is unread */
	int	 pipe;		/* PIPELINING: the replies are read at the end */
	long	 timeout;
	int	 refused;	/* a chunk was refused: send no more */
	int	 bad;		/* the reply was malformed */
	struct smtp_reply r;	/* the refusal, or the reply to LAST */
};

struct features {
	int	 esmtp;
	int	 chunking;	/* CHUNKING: BDAT */
	int	 starttls;
	int	 pipelining;
	int	 dsn;
	int	 eightbit;
	int	 smtputf8;
	int	 requiretls;
	long	 size;		/* -1: SIZE not offered */
	char	 auth[256];	/* offered mechanisms, space separated */
};

/* now_float - wall clock in seconds */
static double
now_float(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return ((double)tv.tv_sec + (double)tv.tv_usec / 1e6);
}

/* smtp_reply_parse - one complete reply from data */
int
smtp_reply_parse(const char *data, size_t len, size_t *used,
    struct smtp_reply *r)
{
	size_t	 pos = 0, n, tl, i, nlines = 0;
	const char *nl, *line;
	int	 code;
	char	 sep;

	r->code = 0;
	r->esc[0] = 0;
	r->text[0] = 0;
	tl = 0;
	if (r->lines) {
		strv_free(r->lines);
		r->lines = strv_new();
	}
	for (;;) {
		nl = memchr(data + pos, '\n', len - pos);
		if (nl == NULL)
			return (len - pos > SMTP_LINE_MAX ? -1 : 0);
		line = data + pos;
		n = (size_t)(nl - line);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n < 3 || !isdigit((unsigned char)line[0])
		    || !isdigit((unsigned char)line[1])
		    || !isdigit((unsigned char)line[2])
		    || (n > 3 && line[3] != ' ' && line[3] != '-'))
			return (-1);
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10
		    + (line[2] - '0');
		if (code < 200 || code > 599)
			return (-1);
		if (nlines > 0 && code != r->code)
			return (-1);
		if (++nlines > SMTP_REPLY_LINES)
			return (-1);
		r->code = code;
		sep = n > 3 ? line[3] : ' ';
		/* "550 text" for the first line, " text" for the others. */
		if (nlines == 1) {
			snprintf(r->text, sizeof(r->text), "%d", code);
			tl = 3;
		}
		for (i = 3; i < n && tl + 1 < sizeof(r->text); i++) {
			char	 ch = line[i];

			if (i == 3)
				ch = ' ';
			else if ((unsigned char)ch < 32 || (unsigned char)ch > 126)
				ch = '?';
			r->text[tl++] = ch;
		}
		r->text[tl] = 0;
		if (r->lines) {
			char	*t = xstrndup(n > 4 ? line + 4 : "",
			    n > 4 ? n - 4 : 0);

			strv_add(r->lines, t);
			free(t);
		}
		pos = (size_t)(nl - data) + 1;
		if (sep != '-')
			break;
	}
	*used = pos;
	/* Enhanced status code: "X.Y.Z " with X the reply's class. */
	if (tl > 4 && r->text[4] - '0' == code / 100 && r->text[5] == '.') {
		const char *p = r->text + 6;
		int	 dots = 0, digits = 0;

		for (; *p && *p != ' '; p++) {
			if (*p == '.') {
				if (digits == 0 || digits > 3)
					break;
				dots++;
				digits = 0;
			} else if (isdigit((unsigned char)*p))
				digits++;
			else
				break;
		}
		if ((*p == ' ' || *p == 0) && dots == 1 && digits >= 1
		    && digits <= 3 && (size_t)(p - (r->text + 4))
		    < sizeof(r->esc))
			snprintf(r->esc, sizeof(r->esc), "%.*s",
			    (int)(p - (r->text + 4)), r->text + 4);
	}
	return (1);
}

/* conn_flush - write out everything pending */
static int
conn_flush(struct conn *c, long timeout)
{
	size_t	 done = 0;
	ssize_t	 n;
	struct pollfd pfd;
	time_t	 deadline = time(NULL) + (timeout > 0 ? timeout : 300);
	int	 rc;

	if (BUF_LEN(c->out) == 0)
		return (0);
	if (c->ssl) {
		rc = tls_write(c->ssl, BUF_STR(c->out), BUF_LEN(c->out),
		    (int)timeout);
		if (rc < 0 && errno == ETIMEDOUT)
			c->timedout = 1;
		buf_reset(c->out);
		return (rc);
	}
	while (done < BUF_LEN(c->out)) {
		n = send(c->fd, BUF_STR(c->out) + done, BUF_LEN(c->out) - done,
		    MSG_NOSIGNAL);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		pfd.fd = c->fd;
		pfd.events = POLLOUT;
		if (time(NULL) >= deadline
		    || poll(&pfd, 1, (int)(deadline - time(NULL)) * 1000) == 0) {
			c->timedout = 1;
			break;
		}
	}
	rc = done == BUF_LEN(c->out) ? 0 : -1;
	buf_reset(c->out);
	return (rc);
}

/* conn_fill - read more bytes from the server */
static int
conn_fill(struct conn *c, long timeout)
{
	char	 tmp[8192];
	ssize_t	 n;
	struct pollfd pfd;
	int	 rc;

	if (c->ssl) {
		n = tls_read(c->ssl, tmp, sizeof(tmp), (int)timeout);
		if (n < 0 && errno == ETIMEDOUT)
			c->timedout = 1;
	} else {
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		do
			rc = poll(&pfd, 1, timeout > 0 ? (int)timeout * 1000
			    : 300000);
		while (rc < 0 && errno == EINTR);
		if (rc == 0) {
			c->timedout = 1;
			return (-1);
		}
		do
			n = recv(c->fd, tmp, sizeof(tmp), 0);
		while (n < 0 && errno == EINTR);
	}
	if (n <= 0) {
		c->eof = 1;
		return (-1);
	}
	buf_append(c->in, tmp, (size_t)n);
	return (0);
}

/* read_reply - the next reply: 0, or -1 (lost, timeout, malformed) */
static int
read_reply(struct conn *c, long timeout, struct smtp_reply *r,
    int *malformed)
{
	size_t	 used = 0;
	int	 rc;

	*malformed = 0;
	for (;;) {
		rc = smtp_reply_parse(BUF_STR(c->in), BUF_LEN(c->in), &used, r);
		if (rc == 1) {
			memmove(c->in->data, c->in->data + used,
			    BUF_LEN(c->in) - used);
			buf_truncate(c->in, BUF_LEN(c->in) - used);
			return (0);
		}
		if (rc < 0 || BUF_LEN(c->in) > SMTP_REPLY_BYTES) {
			*malformed = 1;
			return (-1);
		}
		if (conn_fill(c, timeout) < 0)
			return (-1);
	}
}

/* cmd - queue one command line */
static void
cmd(struct conn *c, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	buf_vprintf(c->out, fmt, ap);
	va_end(ap);
	buf_puts(c->out, "\r\n");
}

/* dest_name - "host[addr]" for reasons */
static void
dest_name(const struct smtp_dest *d, char *out, size_t len)
{
	if (*d->unix_path)
		snprintf(out, len, "%.190s[%.190s]", d->host, d->unix_path);
	else
		snprintf(out, len, "%.200s[%.63s]", d->host, d->addr);
}

/* sess_fail - a session-level failure (recipients stay open) */
static void
sess_fail(struct smtp_sess *s, const char *status, const char *fmt, ...)
{
	va_list	 ap;

	snprintf(s->status, sizeof(s->status), "%s", status);
	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
}

/* io_fail - lost connection, timeout or garbage while <stage> */
static void
io_fail(struct smtp_sess *s, struct conn *c, int malformed,
    const char *stage)
{
	char	 name[400];

	dest_name(s->dest, name, sizeof(name));
	if (malformed)
		sess_fail(s, "4.4.2", "host %s sent a malformed reply while %s",
		    name, stage);
	else if (c->timedout)
		sess_fail(s, "4.4.2", "conversation with %s timed out while %s",
		    name, stage);
	else
		sess_fail(s, "4.4.2", "lost connection with %s while %s", name,
		    stage);
}

/* reply_status - enhanced status of a reply (default by class) */
static void
reply_status(const struct smtp_reply *r, char *out, size_t len)
{
	if (r->esc[0])
		snprintf(out, len, "%s", r->esc);
	else
		snprintf(out, len, "%d.0.0", r->code / 100);
}

/* said - "host X[A] said: REPLY (in reply to CMD command)" */
static void
said(struct smtp_sess *s, const struct smtp_reply *r, const char *command,
    char *out, size_t len)
{
	char	 name[400];

	dest_name(s->dest, name, sizeof(name));
	snprintf(out, len, "host %.300s said: %.600s (in reply to %s command)", name,
	    r->text, command);
}

/* sess_reply_fail - a session-level failure from a server reply */
static void
sess_reply_fail(struct smtp_sess *s, const struct smtp_reply *r,
    const char *command)
{
	reply_status(r, s->status, sizeof(s->status));
	said(s, r, command, s->reason, sizeof(s->reason));
}

/* rcpt_result - decide one recipient from a reply */
static void
rcpt_result(struct smtp_sess *s, struct smtp_rcpt *rc,
    const struct smtp_reply *r, const char *command)
{
	reply_status(r, rc->status, sizeof(rc->status));
	if (r->code / 100 == 2) {
		rc->action = DELIVER_ACTION_DELIVERED;
		/* RFC 3461 5.2: a next hop with DSN takes NOTIFY over (no
		 * success DSN here, as Postfix's smtp_rcpt_done); without
		 * it the success is "relayed" (lmtp: "delivered") */
		rc->dsn_action = s->dsn_offered ? "none" : s->cfg->lmtp ?
		    "delivered" : "relayed";
		snprintf(rc->reason, sizeof(rc->reason), "%.1000s", r->text);
	} else {
		rc->action = r->code / 100 == 4 ? DELIVER_ACTION_DEFERRED
		    : DELIVER_ACTION_BOUNCED;
		if (rc->status[0] != (r->code / 100) + '0')
			snprintf(rc->status, sizeof(rc->status), "%d.0.0",
			    r->code / 100);
		said(s, r, command, rc->reason, sizeof(rc->reason));
	}
}

/* open_fail - every undecided recipient gets the session's failure */
static void
open_fail(struct smtp_sess *s)
{
	size_t	 i;

	for (i = 0; i < s->nrcpt; i++)
		if (s->rcpts[i].action == NULL) {
			s->rcpts[i].action = s->status[0] == '5'
			    ? DELIVER_ACTION_BOUNCED : DELIVER_ACTION_DEFERRED;
			snprintf(s->rcpts[i].status, sizeof(s->rcpts[i].status),
			    "%s", s->status);
			snprintf(s->rcpts[i].reason, sizeof(s->rcpts[i].reason),
			    "%s", s->reason);
		}
}

/* parse_ehlo - the extensions of an EHLO/LHLO reply */
static void
parse_ehlo(const struct smtp_reply *r, struct features *f)
{
	size_t	 i;
	char	*line, *cp, *kw, *arg;

	memset(f, 0, sizeof(*f));
	f->esmtp = 1;
	f->size = -1;
	for (i = 1; r->lines && i < r->lines->argc; i++) {
		line = xstrdup(r->lines->argv[i]);
		cp = line;
		kw = str_token(&cp, " \t=");
		if (kw == NULL) {
			free(line);
			continue;
		}
		if (strcasecmp(kw, "STARTTLS") == 0)
			f->starttls = 1;
		else if (strcasecmp(kw, "PIPELINING") == 0)
			f->pipelining = 1;
		else if (strcasecmp(kw, "CHUNKING") == 0)
			f->chunking = 1;
		else if (strcasecmp(kw, "DSN") == 0)
			f->dsn = 1;
		else if (strcasecmp(kw, "8BITMIME") == 0)
			f->eightbit = 1;
		else if (strcasecmp(kw, "SMTPUTF8") == 0)
			f->smtputf8 = 1;
		else if (strcasecmp(kw, "REQUIRETLS") == 0)
			f->requiretls = 1;
		else if (strcasecmp(kw, "SIZE") == 0) {
			arg = str_token(&cp, " \t");
			if (arg == NULL || str_parse_long(arg, &f->size) < 0)
				f->size = 0;
		} else if (strcasecmp(kw, "AUTH") == 0) {
			while ((arg = str_token(&cp, " \t=")) != NULL
			    && strlen(f->auth) + strlen(arg) + 2
			    < sizeof(f->auth)) {
				if (f->auth[0])
					strcat(f->auth, " ");
				strcat(f->auth, arg);
			}
		}
		free(line);
	}
}

/* xtext - RFC 3461 encoding */
static void
xtext(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 33 || ch > 126 || ch == '+' || ch == '=')
			buf_printf(b, "+%02X", ch);
		else
			buf_putc(b, (char)ch);
	}
}

/* has_8bit - any byte >= 128 */
static int
has_8bit(const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] & 0x80)
			return (1);
	return (0);
}

/* bdat_send - the text collected as one BDAT command; 0 or -1 (I/O) */
static int
bdat_send(struct conn *c, int last)
{
	struct bdat_out *b = c->bdat;

	if (b->refused) {		/* the message is refused already */
		buf_reset(b->chunk);
		return (0);
	}
	cmd(c, "BDAT %zu%s", BUF_LEN(b->chunk), last ? " LAST" : "");
	buf_append(c->out, BUF_STR(b->chunk), BUF_LEN(b->chunk));
	buf_reset(b->chunk);
	b->unread++;
	if (b->pipe && !last)
		return (BUF_LEN(c->out) >= OUT_CHUNK ? conn_flush(c, b->timeout)
		    : 0);
	if (conn_flush(c, b->timeout) < 0)
		return (-1);
	if (b->pipe || last)
		return (0);		/* bdat_replies() reads them */
	/* Without PIPELINING each chunk waits for its reply. */
	b->unread--;
	if (read_reply(c, b->timeout, &b->r, &b->bad) < 0)
		return (-1);
	b->refused = b->r.code / 100 != 2;
	return (0);
}

/* bdat_replies - the replies still unread: the first refusal or the
 * reply to BDAT LAST ends up in c->bdat->r; 0 or -1 (I/O) */
static int
bdat_replies(struct conn *c, long timeout)
{
	struct bdat_out *b = c->bdat;

	while (b->unread > 0 && !b->refused) {
		if (read_reply(c, timeout, &b->r, &b->bad) < 0)
			return (-1);
		b->unread--;
		b->refused = b->r.code / 100 != 2;
	}
	return (0);
}

/* bdat_free - forget the BDAT state */
static void
bdat_free(struct bdat_out *b)
{
	if (b == NULL)
		return;
	buf_free(b->chunk);
	if (b->r.lines)
		strv_free(b->r.lines);
	free(b);
}

/* send_text - CRLF text into the output (dot-stuffed for DATA, BDAT
 * chunks otherwise), flushed in chunks; *col counts the octets of the
 * current line (0: at its start) */
static int
send_text(struct conn *c, const char *p, size_t len, long limit, long *col,
    long timeout)
{
	struct buf *out = c->bdat ? c->bdat->chunk : c->out;
	size_t	 i;
	char	 ch;

	for (i = 0; i < len; i++) {
		ch = p[i];
		if (ch == '\n') {
			buf_puts(out, "\r\n");
			*col = 0;
		} else if (ch == '\r' && i + 1 < len && p[i + 1] == '\n') {
			continue;	/* a stored CRLF: the LF sends it */
		} else {
			/* no bare CR leaves: "<CR>.<CR>" would end DATA at
			 * a receiver that takes CR for a line end (Postfix
			 * 3.9 makes it a space at receipt) */
			if (ch == '\r')
				ch = ' ';
			if (*col == 0 && ch == '.' && c->bdat == NULL)
				buf_putc(out, '.');
			/* Postfix's smtp_line_length_limit: CRLF SP */
			if (limit > 0 && *col >= limit) {
				buf_puts(out, "\r\n ");
				*col = 1;
			}
			buf_putc(out, ch);
			(*col)++;
		}
		if (BUF_LEN(out) >= OUT_CHUNK && (c->bdat ? bdat_send(c, 0)
		    : conn_flush(c, timeout)) < 0)
			return (-1);
	}
	return (0);
}

/* send_body - the message: after DATA's 354 with the final dot, or as
 * BDAT chunks, the last one LAST; 0 or -1 (I/O) */
static int
send_body(struct smtp_sess *s, struct conn *c, long *col)
{
	const struct smtp_cfg *cfg = s->cfg;

	if (send_text(c, s->headers, s->headers_len, cfg->line_limit, col,
	    cfg->data_xfer_timeout) < 0
	    || send_text(c, s->body, s->body_len, cfg->line_limit, col,
	    cfg->data_xfer_timeout) < 0)
		return (-1);
	if (*col)
		buf_puts(c->bdat ? c->bdat->chunk : c->out, "\r\n");
	if (c->bdat)
		return (bdat_send(c, 1));
	buf_puts(c->out, ".\r\n");
	return (conn_flush(c, cfg->data_xfer_timeout));
}

/* bdat_begin - BDAT instead of DATA, when offered and not disabled */
static void
bdat_begin(struct smtp_sess *s, struct conn *c, const struct features *f)
{
	if (!f->chunking || !s->cfg->use_bdat || s->cfg->lmtp)
		return;
	c->bdat = xcalloc(1, sizeof(*c->bdat));
	c->bdat->chunk = buf_new(OUT_CHUNK + 64);
	c->bdat->pipe = f->pipelining;
	c->bdat->timeout = s->cfg->data_xfer_timeout;
}

/* do_helo - EHLO/LHLO (HELO fallback for SMTP); 0 or -1 */
static int
do_helo(struct smtp_sess *s, struct conn *c, struct features *f)
{
	const struct smtp_cfg *cfg = s->cfg;
	struct smtp_reply r = {.lines = strv_new()};
	int	 bad = 0;
	const char *verb = cfg->lmtp ? "LHLO" : "EHLO";

	cmd(c, "%s %s", verb, cfg->helo_name);
	if (conn_flush(c, cfg->helo_timeout) < 0
	    || read_reply(c, cfg->helo_timeout, &r, &bad) < 0) {
		io_fail(s, c, bad, "performing the EHLO handshake");
		strv_free(r.lines);
		return (-1);
	}
	if (r.code / 100 == 2) {
		parse_ehlo(&r, f);
		strv_free(r.lines);
		return (0);
	}
	if (cfg->lmtp) {
		sess_reply_fail(s, &r, verb);
		strv_free(r.lines);
		return (-1);
	}
	cmd(c, "HELO %s", cfg->helo_name);
	if (conn_flush(c, cfg->helo_timeout) < 0
	    || read_reply(c, cfg->helo_timeout, &r, &bad) < 0) {
		io_fail(s, c, bad, "performing the HELO handshake");
		strv_free(r.lines);
		return (-1);
	}
	strv_free(r.lines);
	if (r.code / 100 != 2) {
		sess_reply_fail(s, &r, "HELO");
		return (-1);
	}
	memset(f, 0, sizeof(*f));
	f->size = -1;
	return (0);
}

/*
 * cert_names - the names the server certificate may match at levels
 * verify and secure: smtp_tls_verify_cert_match or _secure_cert_match
 * as Postfix reads them (separated by commas, space or colons):
 * "hostname" the server's name (the MX host or the [host]), "nexthop"
 * the nexthop domain without [] and :port, "dot-nexthop" its
 * subdomains, anything else a literal name (".domain": subdomains).
 */
static struct strv *
cert_names(const struct smtp_sess *s)
{
	struct strv *v = strv_new();
	char	*copy = xstrdup(s->tls_match ? s->tls_match : ""),
		*cp = copy, *tok, *nh, *q;

	nh = xstrdup(s->nexthop + (*s->nexthop == '['));
	if ((q = strchr(nh, *s->nexthop == '[' ? ']' : ':')) != NULL)
		*q = 0;
	while ((tok = str_token(&cp, ", \t\r\n:")) != NULL) {
		if (strcasecmp(tok, "hostname") == 0)
			strv_add(v, s->dest->host);
		else if (strcasecmp(tok, "nexthop") == 0)
			strv_add(v, nh);
		else if (strcasecmp(tok, "dot-nexthop") == 0) {
			char	*d = xasprintf(".%s", nh);

			strv_add(v, d);
			free(d);
		} else
			strv_add(v, tok);
	}
	free(nh);
	free(copy);
	return (v);
}

/* peer_check - the certificate per the level; 1 ok, -1 failed */
static int
peer_check(struct smtp_sess *s, struct conn *c, const char *name)
{
	char	 err[256], info[200];
	struct strv *names;
	const char *trust = "Untrusted";
	int	 verified, lev = s->tls_level;

	if (lev == TLS_LEV_DANE)	/* OpenSSL's DANE check (smtp_dane.c) */
		return (smtp_dane_check(s, c->ssl, name));
	if (lev == TLS_LEV_FPRINT)
		verified = tls_fingerprint_match(c->ssl, s->tls_match, err,
		    sizeof(err));
	else {
		names = cert_names(s);
		verified = tls_verify_peer(c->ssl,
		    (const char *const *)names->argv, err, sizeof(err));
		strv_free(names);
	}
	if (verified)
		trust = TLS_NAMES_CHECKED(lev) || lev == TLS_LEV_FPRINT
		    ? "Verified" : "Trusted";
	else if (SSL_get_verify_result(c->ssl) == X509_V_OK
	    && SSL_get0_peer_certificate(c->ssl))
		trust = "Trusted";
	log_info("%s TLS connection established to %s:%d: %s", trust, name,
	    s->dest->port, tls_log_info(c->ssl, info, sizeof(info)));
	if (lev == TLS_LEV_FPRINT && !verified) {
		log_info("server certificate verification failed for %s:%d: "
		    "%s", name, s->dest->port, err);
		sess_fail(s, "4.7.5", "Server certificate not verified");
		return (-1);
	}
	if (TLS_NAMES_CHECKED(lev) && !verified) {
		/* Postfix's reasons: a chain we do not trust, then a name
		 * that does not match; the detail goes to the log. */
		log_info("server certificate verification failed for %s:%d: "
		    "%s", name, s->dest->port, err);
		sess_fail(s, "4.7.5", "Server certificate not %s",
		    strcmp(trust, "Untrusted") == 0 ? "trusted" : "verified");
		return (-1);
	}
	return (1);
}

/* policy_protocols - a policy's protocols= on this connection */
static int
policy_protocols(struct smtp_sess *s, SSL *ssl)
{
	char	*spec, *cp, err[200];
	int	 min, max;
	long	 ops;

	if (s->tls_protocols == NULL)
		return (0);
	/* policy attributes separate list items with ':' */
	spec = xstrdup(s->tls_protocols);
	for (cp = spec; *cp; cp++)
		if (*cp == ':')
			*cp = ' ';
	if (tls_protocols_parse(spec, &min, &max, &ops, err,
	    sizeof(err)) < 0) {
		free(spec);
		sess_fail(s, "4.7.5", "TLS policy protocols=%s: %s",
		    s->tls_protocols, err);
		return (-1);
	}
	free(spec);
	SSL_set_min_proto_version(ssl, min);
	SSL_set_max_proto_version(ssl, max);
	SSL_set_options(ssl, (uint64_t)ops);
	return (0);
}

/* do_starttls - STARTTLS and the handshake per the level; 0/1 or -1 */
static int
do_starttls(struct smtp_sess *s, struct conn *c, struct features *f)
{
	const struct smtp_cfg *cfg = s->cfg;
	struct smtp_reply r = {0};
	char	 name[400], err[256], key[600];
	int	 bad = 0, lev = s->tls_level;

	dest_name(s->dest, name, sizeof(name));
	if (lev == TLS_LEV_NONE || (s->no_tls && lev == TLS_LEV_MAY))
		return (0);
	if (cfg->tls == NULL) {
		if (TLS_REQUIRED(lev)) {
			sess_fail(s, "4.7.5", "TLS is required, but our TLS "
			    "engine is unavailable");
			return (-1);
		}
		return (0);
	}
	if (!f->starttls) {
		if (TLS_REQUIRED(lev)) {
			sess_fail(s, "4.7.4", "TLS is required, but was not "
			    "offered by host %s", name);
			return (-1);
		}
		return (0);
	}
	cmd(c, "STARTTLS");
	if (conn_flush(c, cfg->starttls_timeout) < 0
	    || read_reply(c, cfg->starttls_timeout, &r, &bad) < 0) {
		io_fail(s, c, bad, "sending STARTTLS");
		return (-1);
	}
	if (r.code != 220) {
		if (!TLS_REQUIRED(lev))
			return (0);
		/* the server's own status (454 4.7.0), as Postfix logs it */
		reply_status(&r, s->status, sizeof(s->status));
		snprintf(s->reason, sizeof(s->reason), "TLS is required, but "
		    "host %s refused to start TLS: %.500s", name, r.text);
		return (-1);
	}
	buf_reset(c->in);	/* nothing sent in plaintext survives */
	snprintf(key, sizeof(key), "%s&%s&%s:%d", s->nexthop, s->dest->host,
	    s->dest->addr, s->dest->port);
	/* DANE: no session resumption, every handshake is checked */
	c->ssl = tls_ssl_new(cfg->tls, c->fd, s->dest->host,
	    lev == TLS_LEV_DANE ? NULL : key);
	if (lev == TLS_LEV_DANE && smtp_dane_ssl(s, c->ssl) < 0)
		return (-1);
	if (policy_protocols(s, c->ssl) < 0)
		return (-1);
	if (tls_handshake(c->ssl, (int)cfg->starttls_timeout, err,
	    sizeof(err)) < 0) {
		sess_fail(s, "4.7.5", "Cannot start TLS: handshake failure "
		    "with %s: %s", name, err);
		s->tls_failed = 1;
		return (-1);
	}
	smtp_sts_tls_testing(s, c->ssl);	/* MTA-STS testing: log only */
	return (peer_check(s, c, name));
}

/* do_auth - AUTH PLAIN or LOGIN when configured; 0 or -1 */
static int
do_auth(struct smtp_sess *s, struct conn *c, const struct features *f)
{
	const struct smtp_cfg *cfg = s->cfg;
	struct smtp_reply r = {0};
	char	*user = NULL, *pass = NULL, *b64 = NULL, name[400], err[300];
	const char *mech;
	int	 rc, bad = 0, ret = -1;

	if (!cfg->sasl_enable || f->auth[0] == 0)
		return (0);
	dest_name(s->dest, name, sizeof(name));
	rc = smtp_sasl_lookup(s->maps, s->nexthop, s->dest->host, &user, &pass,
	    err, sizeof(err));
	if (rc == MAP_RETRY) {
		sess_fail(s, "4.3.0", "%s", err);
		return (-1);
	}
	if (rc == MAP_NOTFOUND)
		return (0);
	if ((mech = smtp_sasl_choose(cfg, f->auth, c->ssl != NULL)) == NULL) {
		sess_fail(s, "4.7.0", "SASL authentication failed; cannot "
		    "authenticate to server %s: no mechanism available", name);
		goto out;
	}
	if (strcmp(mech, "PLAIN") == 0) {
		b64 = smtp_sasl_plain(user, pass);
		cmd(c, "AUTH PLAIN %s", b64);
	} else
		cmd(c, "AUTH LOGIN");
	if (conn_flush(c, cfg->helo_timeout) < 0
	    || read_reply(c, cfg->helo_timeout, &r, &bad) < 0)
		goto io;
	if (strcmp(mech, "LOGIN") == 0 && r.code == 334) {
		b64 = smtp_base64(user, strlen(user));
		cmd(c, "%s", b64);
		if (conn_flush(c, cfg->helo_timeout) < 0
		    || read_reply(c, cfg->helo_timeout, &r, &bad) < 0)
			goto io;
		if (r.code == 334) {
			free(b64);
			b64 = smtp_base64(pass, strlen(pass));
			cmd(c, "%s", b64);
			if (conn_flush(c, cfg->helo_timeout) < 0
			    || read_reply(c, cfg->helo_timeout, &r, &bad) < 0)
				goto io;
		}
	}
	if (r.code == 235)
		ret = 0;
	else {
		/* Postfix's smtp_sasl_auth_soft_bounce: always a deferral. */
		reply_status(&r, s->status, sizeof(s->status));
		s->status[0] = '4';
		if (strlen(s->status) < 5)
			snprintf(s->status, sizeof(s->status), "4.7.0");
		snprintf(s->reason, sizeof(s->reason), "SASL authentication "
		    "failed; server %s said: %.500s", name, r.text);
	}
	goto out;
io:
	io_fail(s, c, bad, "authenticating");
out:
	if (pass)
		explicit_bzero(pass, strlen(pass));
	if (b64)
		explicit_bzero(b64, strlen(b64));
	free(user);
	free(pass);
	free(b64);
	return (ret);
}

/* text_ends_open - the message's last line has no LF: DATA adds CRLF */
static int
text_ends_open(const struct smtp_sess *s)
{
	if (s->body_len > 0)
		return (s->body[s->body_len - 1] != '\n');
	return (s->headers_len > 0 && s->headers[s->headers_len - 1] != '\n');
}

/* mail_cmd - MAIL FROM with its parameters */
static void
mail_cmd(struct smtp_sess *s, struct conn *c, const struct features *f)
{
	struct buf *b = buf_new(256);
	size_t	 i, lfs = 0;
	int	 eight = has_8bit(s->headers, s->headers_len)
	    || has_8bit(s->body, s->body_len);

	buf_printf(b, "MAIL FROM:<%s>", s->sender);
	if (f->size >= 0) {
		/* the octets DATA carries: each LF goes out as CRLF */
		for (i = 0; i < s->headers_len; i++)
			lfs += s->headers[i] == '\n'
			    && (i == 0 || s->headers[i - 1] != '\r');
		for (i = 0; i < s->body_len; i++)
			lfs += s->body[i] == '\n'
			    && (i == 0 || s->body[i - 1] != '\r');
		buf_printf(b, " SIZE=%zu", s->headers_len + s->body_len + lfs
		    + (text_ends_open(s) ? 2 : 0));
	}
	if (eight && f->eightbit)
		buf_puts(b, " BODY=8BITMIME");
	if (f->smtputf8 && (s->smtputf8
	    || has_8bit(s->sender, strlen(s->sender))))
		buf_puts(b, " SMTPUTF8");
	if (s->requiretls)	/* smtp_ext_check(): the server offered it */
		buf_puts(b, " REQUIRETLS");
	if (f->dsn && s->ret && *s->ret)
		buf_printf(b, " RET=%s", strcasecmp(s->ret, "HDRS") == 0
		    ? "HDRS" : "FULL");
	if (f->dsn && s->envid && *s->envid) {
		buf_puts(b, " ENVID=");
		xtext(b, s->envid);
	}
	cmd(c, "%s", BUF_STR(b));
	buf_free(b);
}

/* rcpt_cmd - RCPT TO with ORCPT/NOTIFY, in Postfix's order */
static void
rcpt_cmd(struct conn *c, const struct features *f, const struct smtp_rcpt *r)
{
	struct buf *b = buf_new(256);
	const char *sep = "";

	buf_printf(b, "RCPT TO:<%s>", r->sent);
	if (f->dsn) {
		char	 type[64];
		int	 dsn;
		const char *addr = deliver_log_orcpt(r->orig && *r->orig
		    ? r->orig : r->addr, type, sizeof(type), &dsn);

		/*
		 * smtpd keeps a DSN ORCPT as "type;address": one type. With
		 * none, the original recipient goes as rfc822 (Postfix's
		 * cleanup records one for every recipient, RFC 3461 4.2).
		 */
		if (*addr) {
			buf_printf(b, " ORCPT=%s;", type);
			xtext(b, addr);
		}
	}
	if (f->dsn && r->notify) {
		buf_puts(b, " NOTIFY=");
		if (r->notify & QUEUE_NOTIFY_NEVER)
			buf_puts(b, "NEVER");
		else {
			if (r->notify & QUEUE_NOTIFY_SUCCESS) {
				buf_puts(b, "SUCCESS");
				sep = ",";
			}
			if (r->notify & QUEUE_NOTIFY_FAILURE) {
				buf_printf(b, "%sFAILURE", sep);
				sep = ",";
			}
			if (r->notify & QUEUE_NOTIFY_DELAY)
				buf_printf(b, "%sDELAY", sep);
		}
	}
	cmd(c, "%s", BUF_STR(b));
	buf_free(b);
}

/* transaction_run - MAIL, RCPT, DATA, the message, the final reply(s) */
static void
transaction_run(struct smtp_sess *s, struct conn *c, const struct features *f)
{
	const struct smtp_cfg *cfg = s->cfg;
	struct smtp_reply r = {0};
	size_t	 i, accepted = 0;
	/* an address probe (verify_probe) reads each RCPT reply, no DATA */
	int	 bad = 0, mail_ok, pipe = f->pipelining && !s->probe;
	long	 col = 0;
	int	 data_ok = 0;

	s->reached_mail = 1;
	if (f->size > 0 && (long)(s->headers_len + s->body_len) > f->size) {
		char	 name[400];

		dest_name(s->dest, name, sizeof(name));
		sess_fail(s, "5.3.4", "message size %zu exceeds size limit %ld "
		    "of server %s", s->headers_len + s->body_len, f->size, name);
		open_fail(s);
		goto quit;
	}
	bdat_begin(s, c, f);
	mail_cmd(s, c, f);
	if (!pipe) {
		if (conn_flush(c, cfg->mail_timeout) < 0
		    || read_reply(c, cfg->mail_timeout, &r, &bad) < 0)
			goto io_mail;
		if (r.code / 100 != 2) {
			sess_reply_fail(s, &r, "MAIL FROM");
			open_fail(s);
			goto quit;
		}
		mail_ok = 1;
		for (i = 0; i < s->nrcpt; i++) {
			if (s->rcpts[i].action)
				continue;
			rcpt_cmd(c, f, &s->rcpts[i]);
			if (conn_flush(c, cfg->rcpt_timeout) < 0
			    || read_reply(c, cfg->rcpt_timeout, &r, &bad) < 0)
				goto io_rcpt;
			if (r.code / 100 == 2) {
				s->rcpts[i].accepted = 1;
				accepted++;
			}
			if (r.code / 100 != 2 || s->probe)
				rcpt_result(s, &s->rcpts[i], &r, "RCPT TO");
		}
		if (accepted == 0 || s->probe)
			goto quit;
		if (c->bdat == NULL)
			cmd(c, "DATA");
		if (c->bdat == NULL && (conn_flush(c, cfg->data_init_timeout)
		    < 0 || read_reply(c, cfg->data_init_timeout, &r, &bad) < 0))
			goto io_data;
	} else {
		for (i = 0; i < s->nrcpt; i++)
			if (s->rcpts[i].action == NULL)
				rcpt_cmd(c, f, &s->rcpts[i]);
		if (c->bdat == NULL)
			cmd(c, "DATA");
		else if (send_body(s, c, &col) < 0)	/* pipelined BDAT */
			goto io_body;
		if (conn_flush(c, cfg->mail_timeout) < 0
		    || read_reply(c, cfg->mail_timeout, &r, &bad) < 0)
			goto io_mail;
		mail_ok = r.code / 100 == 2;
		if (!mail_ok)
			sess_reply_fail(s, &r, "MAIL FROM");
		for (i = 0; i < s->nrcpt; i++) {
			if (s->rcpts[i].action)
				continue;
			if (read_reply(c, cfg->rcpt_timeout, &r, &bad) < 0)
				goto io_rcpt;
			if (!mail_ok)
				continue;
			if (r.code / 100 == 2) {
				s->rcpts[i].accepted = 1;
				accepted++;
			} else
				rcpt_result(s, &s->rcpts[i], &r, "RCPT TO");
		}
		if (c->bdat == NULL && read_reply(c, cfg->data_init_timeout, &r,
		    &bad) < 0)
			goto io_data;
		if (!mail_ok) {
			if (r.code == 354) {
				cmd(c, ".");
				(void)conn_flush(c, cfg->data_done_timeout);
				(void)read_reply(c, cfg->data_done_timeout, &r,
				    &bad);
			}
			open_fail(s);
			goto quit;
		}
		if (accepted == 0) {
			if (r.code == 354) {
				cmd(c, ".");
				(void)conn_flush(c, cfg->data_done_timeout);
				(void)read_reply(c, cfg->data_done_timeout, &r,
				    &bad);
			}
			goto quit;
		}
	}
	if (c->bdat == NULL && r.code != 354) {
		for (i = 0; i < s->nrcpt; i++)
			if (s->rcpts[i].accepted && s->rcpts[i].action == NULL)
				rcpt_result(s, &s->rcpts[i], &r, "DATA");
		goto quit;
	}
	data_ok = 1;
	if ((c->bdat == NULL || !pipe) && send_body(s, c, &col) < 0)
		goto io_body;
	if (c->bdat) {
		if (bdat_replies(c, cfg->data_done_timeout) < 0) {
			bad = c->bdat->bad;
			goto io_done;
		}
		for (i = 0; i < s->nrcpt; i++)
			if (s->rcpts[i].accepted && s->rcpts[i].action == NULL)
				rcpt_result(s, &s->rcpts[i], &c->bdat->r,
				    "BDAT");
		goto quit;
	}
	for (i = 0; i < s->nrcpt; i++) {
		if (!s->rcpts[i].accepted || s->rcpts[i].action)
			continue;
		if (read_reply(c, cfg->data_done_timeout, &r, &bad) < 0)
			goto io_done;
		if (!cfg->lmtp) {
			size_t	 j;

			for (j = i; j < s->nrcpt; j++)
				if (s->rcpts[j].accepted
				    && s->rcpts[j].action == NULL)
					rcpt_result(s, &s->rcpts[j], &r,
					    "end of DATA");
			break;
		}
		rcpt_result(s, &s->rcpts[i], &r, "end of DATA");
	}
quit:
	if (cfg->conn_cache_limit > 0 && c->ssl == NULL && !c->eof) {
		c->keep = 1;	/* the next message reuses it (smtp_cache.c) */
		return;
	}
	cmd(c, "QUIT");
	if (conn_flush(c, cfg->quit_timeout) == 0)
		(void)read_reply(c, cfg->quit_timeout, &r, &bad);
	(void)data_ok;
	return;
io_mail:
	io_fail(s, c, bad, "sending MAIL FROM");
	open_fail(s);
	return;
io_rcpt:
	io_fail(s, c, bad, "sending RCPT TO");
	open_fail(s);
	return;
io_data:
	io_fail(s, c, bad, "sending DATA command");
	open_fail(s);
	return;
io_body:
	io_fail(s, c, bad = 0, "sending message body");
	open_fail(s);
	return;
io_done:
	io_fail(s, c, bad, "sending end of data -- message may be sent more "
	    "than once");
	open_fail(s);
}

/*
 * transaction - the message as the next hop can take it: to a server
 * without 8BITMIME, entities labelled 8bit or binary go as
 * quoted-printable (RFC 6152 section 3; Postfix's smtp client does the
 * same unless disable_mime_output_conversion = yes). SIZE= then counts
 * the converted octets (Postfix sends no SIZE when it converts).
 */
static void
transaction(struct smtp_sess *s, struct conn *c, const struct features *f)
{
	const char *h = s->headers, *b = s->body;
	size_t	 hl = s->headers_len, bl = s->body_len;
	struct buf *conv = NULL;

	if (!f->eightbit && !s->cfg->mime_oconv_off) {
		struct buf *in = buf_new(hl + bl + 1);

		buf_append(in, h, hl);
		buf_append(in, b, bl);
		conv = buf_new(hl + bl + bl / 8 + 64);
		if (mime_conv_downgrade(BUF_STR(in), BUF_LEN(in), conv) > 0) {
			s->headers = BUF_STR(conv);
			s->headers_len = BUF_LEN(conv);
			s->body = "";
			s->body_len = 0;
		}
		buf_free(in);
	}
	transaction_run(s, c, f);
	s->headers = h;
	s->headers_len = hl;
	s->body = b;
	s->body_len = bl;
	buf_free(conv);
}

/*
 * session_reuse - an idle connection to the same server from the cache
 * (lmtp_connection_cache_time_limit), checked with RSET; 0 when it
 * answered 250, else -1 (closed: the caller connects afresh)
 */
static int
session_reuse(struct smtp_sess *s, struct conn *c, struct features *f,
    const char *name)
{
	struct smtp_reply r = {0};
	int	 bad = 0;

	if ((c->fd = smtp_cache_take(name, f, sizeof(*f))) < 0)
		return (-1);
	c->in = buf_new(1024);
	c->out = buf_new(1024);
	cmd(c, "RSET");
	if (conn_flush(c, s->cfg->mail_timeout) == 0
	    && read_reply(c, s->cfg->mail_timeout, &r, &bad) == 0
	    && r.code == 250) {
		s->connected = 1;
		return (0);
	}
	close(c->fd);
	c->fd = -1;
	buf_free(c->in);
	buf_free(c->out);
	c->in = c->out = NULL;
	c->eof = c->timedout = 0;
	return (-1);
}

/* smtp_session - one connection to s->dest */
void
smtp_session(struct smtp_sess *s)
{
	const struct smtp_cfg *cfg = s->cfg;
	struct conn c = {.fd = -1};
	struct smtp_reply r = {0};
	struct features f;
	char	 err[400], name[400];
	int	 bad = 0, rc;

	s->status[0] = 0;
	s->reason[0] = 0;
	s->reached_mail = 0;
	s->tls_failed = 0;
	s->connected = 0;
	s->dsn_offered = 0;
	dest_name(s->dest, name, sizeof(name));
	if (cfg->conn_cache_limit > 0 && session_reuse(s, &c, &f, name) == 0)
		goto reused;
	if ((c.fd = smtp_connect(cfg, s->dest, err, sizeof(err))) < 0) {
		sess_fail(s, "4.4.1", "%s", err);
		return;
	}
	s->connected = 1;	/* from here on the log names the relay */
	c.in = buf_new(1024);
	c.out = buf_new(1024);
	if (read_reply(&c, cfg->helo_timeout, &r, &bad) < 0) {
		io_fail(s, &c, bad, "receiving the initial server greeting");
		goto out;
	}
	if (r.code / 100 != 2) {
		reply_status(&r, s->status, sizeof(s->status));
		if (r.code / 100 == 5 && cfg->skip_5xx_greeting)
			s->status[0] = '4';
		snprintf(s->reason, sizeof(s->reason), "host %s refused to "
		    "talk to me: %.500s", name, r.text);
		cmd(&c, "QUIT");
		(void)conn_flush(&c, 10);
		goto out;
	}
	if (do_helo(s, &c, &f) < 0)
		goto out;
	if ((rc = do_starttls(s, &c, &f)) < 0) {
		smtp_ext_tls_failed(s, name);	/* REQUIRETLS: 5.7.30 */
		goto out;
	}
	if (rc == 1 && do_helo(s, &c, &f) < 0)
		goto out;
	if (smtp_ext_check(s, f.smtputf8, f.requiretls, name) < 0) {
		cmd(&c, "QUIT");	/* SMTPUTF8 or REQUIRETLS missing */
		(void)conn_flush(&c, 10);
		goto out;
	}
	if (do_auth(s, &c, &f) < 0) {
		cmd(&c, "QUIT");
		(void)conn_flush(&c, 10);
		goto out;
	}
reused:
	s->conn_done = now_float();
	s->dsn_offered = f.dsn;
	transaction(s, &c, &f);
out:
	bdat_free(c.bdat);
	tls_ssl_free(c.ssl);
	if (c.keep)
		smtp_cache_put(name, c.fd, &f, sizeof(f));
	else
		close(c.fd);
	buf_free(c.in);
	buf_free(c.out);
}
