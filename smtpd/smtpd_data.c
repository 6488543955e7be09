/*
 * NAME
 *	smtpd_data - the DATA stream reader: end-of-data, dot-stuffing, CRLF
 * SYNOPSIS
 *	#include "smtpd.h"
 *
 *	void	smtpd_data_init(struct smtpd_data *d, size_t limit, int mode);
 *	size_t	smtpd_data_feed(struct smtpd_data *d, const char *p,
 *	    size_t len);
 *	void	smtpd_data_free(struct smtpd_data *d);
 * DESCRIPTION
 *	A byte-at-a-time state machine, so it does not matter how the
 *	network cut the stream; inside a line, the run of bytes up to the
 *	next CR or LF is found with memchr() and stored with one copy (a
 *	100 KB message is some 1,300 copies, not 100,000). smtpd_data_feed() consumes bytes until the
 *	end-of-data sequence and returns how many it used (the rest, if
 *	any, are pipelined commands); d->done tells that the end was seen.
 *
 *	The message ends only at <CR><LF>.<CR><LF> (or .<CR><LF> as the very
 *	first line). A bare LF or a bare CR can never be part of the end
 *	(SMTP smuggling: <LF>.<LF>, <CR>.<CR>, <LF>.<CR><LF>, <CR><LF>.<LF>
 *	and the like are message content), whatever the mode:
 *	  SMTPD_BARE_NO, SMTPD_BARE_NORMALIZE (Postfix 3.9's default, ours):
 *	    a bare LF is accepted as a line end inside the message (and a
 *	    '.' after it is unstuffed like any other line start);
 *	  SMTPD_BARE_REJECT ("yes"): the first bare LF stops the reader
 *	    with d->bare_lf set; the session answers 521 and disconnects.
 *	A bare CR is kept as it is. CRLF becomes LF in d->msg (the queue
 *	stores LF line endings), dot-stuffing is undone, all other bytes
 *	(8-bit, NUL, long lines) are kept exactly.
 *
 *	The caller drains d->msg as it fills (smtpd streams it into the
 *	queue file in chunks of SMTPD_DATA_CHUNK bytes), so a session holds
 *	one chunk whatever the message size.
 *
 *	d->size counts the message as RFC 1870 and Postfix's smtpd do: the
 *	octets as transmitted, each line end as the two octets of CRLF
 *	(also a bare LF accepted as a line end), without the dots removed
 *	by unstuffing and without the final ".CRLF". Past limit bytes
 *	(message_size_limit; 0 = none) the reader keeps consuming to the
 *	end but stores nothing more and sets d->too_big: the client gets
 *	its 552 only after the final dot. So a message of exactly limit
 *	octets (the advertised SIZE) is accepted, one more is not.
 * DIAGNOSTICS
 *	None: every input has a defined outcome.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtpd.h"

/* Where we are in the line structure of the stream. */
#define D_BOL		0	/* line start after CRLF (or DATA start) */
#define D_BOL_LOOSE	1	/* line start after a bare LF */
#define D_DOT		2	/* "." at a D_BOL line start */
#define D_DOT_CR	3	/* ".\r" at a D_BOL line start */
#define D_LINE		4	/* inside a line */
#define D_CR		5	/* inside a line, after CR */

/* data_put - store message bytes, up to the limit; a line end (LF
 * here) counts as the CRLF that carried it (RFC 1870) */
static void
data_put(struct smtpd_data *d, const char *p, size_t len)
{
	size_t	 n = len + (len == 1 && *p == '\n'), before = d->size;

	d->size += n;
	if (d->limit && d->size > d->limit) {
		d->too_big = 1;
		/* a run of content: the bytes that still fit, as one by one */
		if (n != len || before >= d->limit)
			return;
		len = d->limit - before;
	}
	if (d->msg == NULL)
		d->msg = buf_new(4096);
	buf_append(d->msg, p, len);
}

/* smtpd_data_init - start reading a message */
void
smtpd_data_init(struct smtpd_data *d, size_t limit, int mode)
{
	memset(d, 0, sizeof(*d));
	d->state = D_BOL;
	d->limit = limit;
	d->mode = mode;
}

/* data_lf - a LF inside a line: CRLF if after CR, else bare */
static int
data_lf(struct smtpd_data *d, int after_cr)
{
	if (after_cr) {
		data_put(d, "\n", 1);
		d->state = D_BOL;
		return (0);
	}
	d->nbare_lf++;
	if (d->mode == SMTPD_BARE_REJECT) {
		d->bare_lf = 1;
		return (-1);
	}
	data_put(d, "\n", 1);
	d->state = D_BOL_LOOSE;
	return (0);
}

/* line_run - the end of the bytes from i on that are not CR or LF */
static size_t
line_run(const char *p, size_t i, size_t len)
{
	const char *lf, *cr;
	size_t	 end;

	if (i >= len)
		return (len);
	lf = memchr(p + i, '\n', len - i);
	end = lf ? (size_t)(lf - p) : len;
	cr = memchr(p + i, '\r', end - i);
	return (cr ? (size_t)(cr - p) : end);
}

/* smtpd_data_feed - consume stream bytes up to the end of data */
size_t
smtpd_data_feed(struct smtpd_data *d, const char *p, size_t len)
{
	size_t	 i;
	int	 c;

	for (i = 0; i < len && !d->done && !d->bare_lf; i++) {
		c = (unsigned char)p[i];
		switch (d->state) {
		case D_BOL:
		case D_BOL_LOOSE:
			if (c == '.') {
				/* Unstuff; only a CRLF line start may end. */
				d->state = d->state == D_BOL ? D_DOT : D_LINE;
				break;
			}
			/* FALLTHROUGH */
		case D_LINE:
	line:
			if (c == '\r')
				d->state = D_CR;
			else if (c == '\n') {
				if (data_lf(d, 0) < 0)
					return (i + 1);
			} else {
				/* the rest of the line's content in one put */
				size_t	 end = line_run(p, i + 1, len);

				data_put(d, p + i, end - i);
				d->state = D_LINE;
				i = end - 1;
			}
			break;
		case D_CR:
			if (c == '\n') {
				data_lf(d, 1);
				break;
			}
			data_put(d, "\r", 1);	/* bare CR: content */
			d->state = D_LINE;
			goto line;
		case D_DOT:
			if (c == '\r') {
				d->state = D_DOT_CR;
				break;
			}
			d->state = D_LINE;	/* the dot was stuffing */
			goto line;
		case D_DOT_CR:
			if (c == '\n') {
				d->done = 1;
				break;
			}
			data_put(d, "\r", 1);	/* ".\rX": content "\rX" */
			d->state = D_LINE;
			goto line;
		}
	}
	return (i);
}

/* smtpd_data_free - release the message buffer, drop an unfinished
 * queue file (RSET, QUIT, lost client, size or bare LF reject) */
void
smtpd_data_free(struct smtpd_data *d)
{
	if (d->queue && d->drop)
		d->drop(d->queue);
	d->queue = NULL;
	buf_free(d->msg);
	d->msg = NULL;
	free(d->bdat_reply);		/* smtpd_bdat.c */
	d->bdat_reply = NULL;
}
