/*
 * NAME
 *	smtpd_bdat - BDAT (RFC 3030 CHUNKING): the command and the chunk reader
 * SYNOPSIS
 *	#include "smtpd.h"
 *
 *	void	smtpd_bdat_cmd(struct smtpd_session *s, char *arg);
 *	size_t	smtpd_bdat_feed(struct smtpd_data *d, const char *p,
 *	    size_t len);
 *	int	smtpd_bdat_end(struct smtpd_session *s);
 * DESCRIPTION
 *	smtpd_bdat_cmd() runs "BDAT count [LAST]" as Postfix 3.7's smtpd
 *	does. The first BDAT of a transaction is the DATA of the
 *	transaction: it needs recipients and passes smtpd_data_restrictions
 *	(smtpd_session_check(), SMTPD_STAGE_DATA), then the queue file is
 *	begun (smtpd_session_start_data()) and the session reads the chunk
 *	(state SMTPD_ST_BDAT). Every refused BDAT still consumes its
 *	octets, so the session stays in step with a pipelining client, and
 *	is answered only after them:
 *	  bad syntax			521 5.5.4 (then disconnect: what
 *					follows is not a command)
 *	  BDAT 0 without LAST		551 5.7.1 Null BDAT request
 *	  no MAIL or no RCPT		503 5.5.1 / 554 5.5.1
 *	  smtpd_data_restrictions	the restriction's reply
 *	  over message_size_limit	552 5.3.4 Chunk exceeds message size
 *					limit (the chunk announced would pass
 *					the limit; nothing is read into the
 *					queue file)
 *	  after one of these		551 5.0.0 Discarded N bytes after
 *					earlier error
 *	A refused BDAT n LAST ends the transaction; a refused BDAT n
 *	without LAST makes every further BDAT of the transaction a
 *	discard, until BDAT LAST or RSET. Other chunks get "250 2.0.0 Ok:
 *	N bytes"; BDAT LAST gets the queue's reply once the file is
 *	durable, as DATA's final dot does.
 *
 *	smtpd_bdat_feed() takes the chunk octets (at most the bytes still
 *	announced, d->bdat_left) and returns how many it used; the rest is
 *	the next command. There is no end-of-data sequence and no
 *	dot-stuffing: "\r\n.\r\n" and lines that start with "." are
 *	content. Line ends get DATA's treatment (smtpd_data.c): CRLF and,
 *	except with smtpd_forbid_bare_newline = yes (d->bare_lf: the
 *	session answers 521 and disconnects), a bare LF become the queue's
 *	LF; a CR not followed by LF stays a CR (cleanup turns it into a
 *	space). A CRLF may straddle two chunks. Bytes go to d->msg, which
 *	the session drains into the queue file every SMTPD_DATA_CHUNK
 *	bytes, whatever the chunk size.
 *
 *	smtpd_bdat_end() runs when a chunk has been read: it sends the
 *	chunk's reply and returns 1 when the message is complete (BDAT
 *	LAST accepted; a CR left at the end is content and a missing last
 *	line end is added, as Postfix does) and must be queued.
 * DIAGNOSTICS
 *	Postfix's warnings: "malformed BDAT command syntax", "null BDAT
 *	request", "BDAT request from ... exceeds message size limit".
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "log.h"
#include "reply.h"
#include "str.h"
#include "smtpd.h"
#include "xalloc.h"

/* bdat_parse - "count [LAST]"; -1 on bad syntax */
static int
bdat_parse(char *arg, unsigned long long *count, int *last)
{
	char	*cp = arg, *n, *l;

	if ((n = str_token(&cp, " \t")) == NULL)
		return (-1);
	l = str_token(&cp, " \t");
	if (str_token(&cp, " \t") != NULL)
		return (-1);
	if (strspn(n, "0123456789") != strlen(n) || strlen(n) > 18)
		return (-1);
	if (l && strcasecmp(l, "LAST") != 0)
		return (-1);
	*count = strtoull(n, NULL, 10);
	*last = l != NULL;
	return (0);
}

/* bdat_data - the transaction's chunk reader, made at the first BDAT */
static struct smtpd_data *
bdat_data(struct smtpd_session *s)
{
	if (s->data == NULL) {
		s->data = xmalloc(sizeof(*s->data));
		smtpd_data_init(s->data, smtpd_params.size_limit, s->bare_mode);
		s->data->bdat_bol = 1;
	}
	return (s->data);
}

/* bdat_skip - consume the chunk, then answer line (without CRLF) */
static void
bdat_skip(struct smtpd_session *s, unsigned long long n, int last,
    const char *line)
{
	struct smtpd_data *d = bdat_data(s);

	/* The message is lost: no queue file to keep. */
	if (d->queue && d->drop)
		d->drop(d->queue);
	d->queue = NULL;
	if (d->msg)
		buf_reset(d->msg);
	d->bdat = SMTPD_BDAT_ERROR;	/* until BDAT LAST or RSET */
	d->bdat_skip = 1;
	d->bdat_chunk = d->bdat_left = n;
	d->bdat_last = last;
	free(d->bdat_reply);
	d->bdat_reply = xstrdup(line);
	s->state = SMTPD_ST_BDAT;
}

/* bdat_skip_status - bdat_skip() with a reply from the table */
static void
bdat_skip_status(struct smtpd_session *s, unsigned long long n, int last,
    int status, const char *text)
{
	struct buf *b = buf_new(128);

	if (text)
		reply_custom(b, status, text);
	else
		reply_build(b, status, NULL);
	buf_truncate(b, BUF_LEN(b) - 2);	/* CRLF */
	bdat_skip(s, n, last, BUF_STR(b));
	buf_free(b);
}

/* bdat_chunk - a chunk to read into the queue file */
static void
bdat_chunk(struct smtpd_session *s, unsigned long long n, int last)
{
	struct smtpd_data *d = s->data;
	unsigned long long limit = smtpd_params.size_limit > 0
	    ? (unsigned long long)smtpd_params.size_limit : 0;
	int	 first = d->bdat == SMTPD_BDAT_CHECK;

	if (limit && (n > limit || d->size > limit - n)) {
		log_warn("NOQUEUE: BDAT request from %s exceeds message size "
		    "limit", s->namaddr);
		bdat_skip_status(s, n, last, REPLY_SIZE_LIMIT,
		    "Chunk exceeds message size limit");
		return;
	}
	d->size += n;
	d->bdat = SMTPD_BDAT_OK;
	d->bdat_skip = 0;
	d->bdat_chunk = d->bdat_left = n;
	d->bdat_last = last;
	if (first)
		smtpd_session_start_data(s);	/* begins the queue file */
	s->state = SMTPD_ST_BDAT;
}

/* bdat_check_done - smtpd_data_restrictions answered the first BDAT */
static void
bdat_check_done(struct smtpd_session *s, int result, const char *reply)
{
	struct smtpd_data *d = s->data;

	s->cs.recipient = NULL;
	if (result != SMTPD_CHECK_OK) {
		bdat_skip(s, d->bdat_chunk, d->bdat_last, reply && *reply
		    ? reply : "451 4.3.5 Server configuration error");
		return;
	}
	bdat_chunk(s, d->bdat_chunk, d->bdat_last);
}

/* smtpd_bdat_cmd - BDAT count [LAST] */
void
smtpd_bdat_cmd(struct smtpd_session *s, char *arg)
{
	struct smtpd_data *d = s->data;
	unsigned long long n;
	char	 line[100];
	int	 last;

	if (bdat_parse(arg, &n, &last) < 0) {
		log_warn("NOQUEUE: malformed BDAT command syntax from %s: "
		    "%.100s", s->namaddr, log_safe(arg));
		smtpd_reply_text(s, "521 5.5.4 Syntax: BDAT count [LAST]");
		smtpd_session_close(s);
		return;
	}
	if (n == 0 && !last) {
		log_warn("NOQUEUE: null BDAT request from %s", s->namaddr);
		bdat_skip(s, n, last, "551 5.7.1 Null BDAT request");
		return;
	}
	if (d && d->bdat == SMTPD_BDAT_ERROR) {
		snprintf(line, sizeof(line), "551 5.0.0 Discarded %llu bytes "
		    "after earlier error", n);
		bdat_skip(s, n, last, line);
		return;
	}
	if (d && d->bdat == SMTPD_BDAT_OK) {
		bdat_chunk(s, n, last);
		return;
	}
	/* The first BDAT of the transaction: DATA's checks. */
	if (s->nrcpts == 0) {
		bdat_skip_status(s, n, last, s->sender == NULL
		    ? REPLY_NEED_RCPT : REPLY_NO_VALID_RCPT, NULL);
		return;
	}
	d = bdat_data(s);
	d->bdat = SMTPD_BDAT_CHECK;
	d->bdat_chunk = n;
	d->bdat_last = last;
	smtpd_data_recipient(s);
	smtpd_session_check(s, SMTPD_STAGE_DATA, bdat_check_done);
}

/* bdat_put - one byte into the message */
static void
bdat_put(struct smtpd_data *d, int c)
{
	if (d->msg == NULL)
		d->msg = buf_new(4096);
	buf_putc(d->msg, c);
	d->bdat_bol = c == '\n';
}

/* smtpd_bdat_feed - chunk octets: line ends as DATA, no dots, no end */
size_t
smtpd_bdat_feed(struct smtpd_data *d, const char *p, size_t len)
{
	size_t	 i;
	int	 c;

	if (len > d->bdat_left)
		len = d->bdat_left;
	if (d->bdat_skip) {
		d->bdat_left -= len;
		return (len);
	}
	for (i = 0; i < len; i++) {
		c = (unsigned char)p[i];
		if (d->bdat_cr) {
			d->bdat_cr = 0;
			if (c == '\n') {
				bdat_put(d, '\n');
				continue;
			}
			bdat_put(d, '\r');	/* a CR inside a line */
		}
		if (c == '\r') {
			d->bdat_cr = 1;
		} else if (c == '\n') {
			d->nbare_lf++;
			if (d->mode == SMTPD_BARE_REJECT) {
				d->bare_lf = 1;
				d->bdat_left -= i + 1;
				return (i + 1);
			}
			bdat_put(d, '\n');
		} else
			bdat_put(d, c);
	}
	d->bdat_left -= len;
	return (len);
}

/* smtpd_bdat_end - the chunk is read: reply; 1: queue the message */
int
smtpd_bdat_end(struct smtpd_session *s)
{
	struct smtpd_data *d = s->data;
	char	 text[64];

	if (d->bdat_skip) {
		smtpd_reply_text(s, d->bdat_reply);
		free(d->bdat_reply);
		d->bdat_reply = NULL;
		d->bdat_skip = 0;
		if (d->bdat_last)
			smtpd_session_reset(s);
		return (0);
	}
	if (!d->bdat_last) {
		snprintf(text, sizeof(text), "Ok: %llu bytes", d->bdat_chunk);
		smtpd_reply_custom(s, REPLY_OK, text);
		return (0);
	}
	if (d->bdat_cr)
		bdat_put(d, '\r');
	d->bdat_cr = 0;
	if (!d->bdat_bol)
		bdat_put(d, '\n');
	return (1);
}
