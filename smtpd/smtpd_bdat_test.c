/*
 * NAME
 *	smtpd_bdat_test - BDAT commands and chunks, no network
 * DESCRIPTION
 *	Each vector is what a client sends (commands and chunk octets in
 *	one stream, as a pipelining client does), the replies it must get
 *	(first 9 characters each, "|"-separated) and the message that must
 *	reach the queue (LF line ends, as the queue stores it). A small
 *	driver plays the session: command lines go through the real
 *	smtpd_cmd_dispatch(), chunk octets through smtpd_bdat_feed(), the
 *	end of a chunk through smtpd_bdat_end(); a message it says is
 *	whole is "queued" with a 250. Every vector runs twice: the stream
 *	whole, and one byte at a time (the network may cut anywhere, a
 *	CRLF may straddle two chunks). The policy check refuses DATA when
 *	the HELO name holds "reject"; message_size_limit is 100.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "reply.h"
#include "smtpd.h"
#include "smtpd_cmd_harness.h"
#include "tap.h"
#include "xalloc.h"

#define S(x)	x, sizeof(x) - 1

/* smtpd_session_check - fake: DATA refused for HELO names with "reject" */
void
smtpd_session_check(struct smtpd_session *s, int stage, smtpd_cont_fn *cont)
{
	if (stage == SMTPD_STAGE_DATA && s->helo && strstr(s->helo, "reject"))
		cont(s, SMTPD_CHECK_REJECT, "554 5.7.1 <DATA>: Data command "
		    "rejected");
	else
		cont(s, SMTPD_CHECK_OK, "");
}

/* smtpd_session_start_data - fake: the reader's state, no queue file */
void
smtpd_session_start_data(struct smtpd_session *s)
{
	if (s->data == NULL) {
		s->data = xmalloc(sizeof(*s->data));
		smtpd_data_init(s->data, smtpd_params.size_limit,
		    s->bare_mode);
	}
	s->state = s->data->bdat ? SMTPD_ST_BDAT : SMTPD_ST_DATA;
}

#define OK3	"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"
#define OK3R	"250|250 2.1.0|250 2.1.5"

static const struct {
	const char *name;
	const char *in;
	size_t	 inlen;
	const char *want;	/* replies */
	const char *msg;	/* the queued messages, "#" after each */
	int	 mode;		/* smtpd_forbid_bare_newline */
	size_t	 msglen;	/* 0: strlen(msg) */
} vec[] = {
	{"one chunk LAST", S(OK3 "BDAT 11 LAST\r\nA: b\r\n\r\nx\r\n"),
	    OK3R "|250 Q", "A: b\n\nx\n#", 0, 0},
	{"chunks 1, 7, rest", S(OK3 "BDAT 1\r\nABDAT 7\r\n: b\r\n\r\n"
	    "BDAT 3 LAST\r\nx\r\n"), OK3R "|250 2.0.0|250 2.0.0|250 Q",
	    "A: b\n\nx\n#", 0, 0},
	{"BDAT 0 LAST ends the message", S(OK3 "BDAT 3\r\nx\r\nBDAT 0 LAST"
	    "\r\nQUIT\r\n"), OK3R "|250 2.0.0|250 Q|221 2.0.0", "x\n#",
	    0, 0},
	{"BDAT 0 LAST alone: empty message", S(OK3 "BDAT 0 LAST\r\n"),
	    OK3R "|250 Q", "#", 0, 0},
	{"no dot-stuffing, no end of data", S(OK3 "BDAT 22 LAST\r\n"
	    "a\r\n.\r\n..b\r\n.\r\nMAIL x\r\n"), OK3R "|250 Q",
	    "a\n.\n..b\n.\nMAIL x\n#", 0, 0},
	{"CRLF split over two chunks", S(OK3 "BDAT 2\r\na\rBDAT 2 LAST\r\n"
	    "\nb"), OK3R "|250 2.0.0|250 Q", "a\nb\n#", 0, 0},
	{"last line end added, last CR kept", S(OK3 "BDAT 2 LAST\r\na\r"),
	    OK3R "|250 Q", "a\r\n#", 0, 0},
	{"smuggling LF.LF, CR.CR, LF.CRLF inside chunks", S(OK3
	    "BDAT 31 LAST\r\na\n.\nMAIL\r\nb\r.\rRSET\r\nc\n.\r\nQUIT\r\n"),
	    OK3R "|250 Q", "a\n.\nMAIL\nb\r.\rRSET\nc\n.\nQUIT\n#", 0, 0},
	{"bare LF rejected (smtpd_forbid_bare_newline = yes)", S(OK3
	    "BDAT 4 LAST\r\na\nb\r\n"), OK3R "|521 5.5.2", "", SMTPD_BARE_REJECT, 0},
	{"lower-case, pipelined after the message", S(OK3 "bdat 1 last\r\n"
	    "xMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 1 LAST\r\ny"),
	    OK3R "|250 Q|250 2.1.0|250 2.1.5|250 Q", "x\n#y\n#", 0, 0},
	{"bad syntax: 521, disconnect", S(OK3 "BDAT x\r\n"),
	    OK3R "|521 5.5.4", "", 0, 0},
	{"bad syntax: two LASTs", S(OK3 "BDAT 1 LAST LAST\r\n"),
	    OK3R "|521 5.5.4", "", 0, 0},
	{"bad syntax: not LAST", S(OK3 "BDAT 1 FIRST\r\n"),
	    OK3R "|521 5.5.4", "", 0, 0},
	{"bad syntax: no count", S(OK3 "BDAT\r\n"), OK3R "|521 5.5.4", "",
	    0, 0},
	{"bad syntax: huge count", S(OK3 "BDAT 9999999999999999999\r\n"),
	    OK3R "|521 5.5.4", "", 0, 0},
	{"null BDAT", S(OK3 "BDAT 0\r\nBDAT 1 LAST\r\nxNOOP\r\n"),
	    OK3R "|551 5.7.1|551 5.0.0|250 2.0.0", "", 0, 0},
	{"BDAT without MAIL consumes its octets", S("EHLO c\r\n"
	    "BDAT 6 LAST\r\nNOOP\r\nNOOP\r\n"), "250|503 5.5.1|250 2.0.0", "",
	    0, 0},
	{"BDAT without RCPT", S("EHLO c\r\nMAIL FROM:<a@b>\r\nBDAT 4\r\n"
	    "NOOPBDAT 4\r\nRSETBDAT 0 LAST\r\nMAIL FROM:<a@b>\r\n"),
	    "250|250 2.1.0|554 5.5.1|551 5.0.0|551 5.0.0|250 2.1.0", "", 0, 0},
	{"BDAT refused by smtpd_data_restrictions", S("EHLO reject\r\n"
	    "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 4 LAST\r\nRSET"
	    "NOOP\r\n"), "250|250 2.1.0|250 2.1.5|554 5.7.1|250 2.0.0", "", 0, 0},
	{"over message_size_limit: 552, in sync, next transaction",
	    S(OK3 "BDAT 60\r\n" "012345678901234567890123456789012345678901234567890123456789"
	    "BDAT 60\r\n" "012345678901234567890123456789012345678901234567890123456789"
	    "BDAT 5\r\nRCPT BDAT 6 LAST\r\nDATA\r\n"
	    "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 2 LAST\r\nok"),
	    OK3R "|250 2.0.0|552 5.3.4|551 5.0.0|551 5.0.0|250 2.1.0|"
	    "250 2.1.5|250 Q", "ok\n#", 0, 0},
	{"exactly message_size_limit accepted", S(OK3 "BDAT 100 LAST\r\n"
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789"
	    "01234567890123456789"), OK3R "|250 Q",
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789"
	    "01234567890123456789\n#", 0, 0},
	{"one chunk over the limit", S(OK3 "BDAT 101 LAST\r\n"
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789"
	    "012345678901234567890NOOP\r\n"), OK3R "|552 5.3.4|250 2.0.0", "",
	    0, 0},
	{"DATA, RCPT, MAIL after BDAT", S(OK3 "BDAT 1\r\nxDATA\r\n"
	    "RCPT TO:<e@f>\r\nMAIL FROM:<a@b>\r\nBDAT 1 LAST\r\ny"),
	    OK3R "|250 2.0.0|503 5.5.1|503 5.5.1|503 5.5.1|250 Q",
	    "xy\n#", 0, 0},
	{"NUL and 8-bit content kept", S(OK3 "BDAT 4 LAST\r\n\0\xff\r\n"),
	    OK3R "|250 Q", "\0\xff\n#", 0, 4},
};

/* drive - play the session over the stream, step bytes at a time */
static void
drive(struct smtpd_session *s, const char *in, size_t len, size_t step,
    struct buf *queued)
{
	size_t	 off = 0, n, eol;
	char	 line[1024];

	while (off <= len && s->state != SMTPD_ST_CLOSING) {
		if (s->state == SMTPD_ST_BDAT) {
			n = len - off < step ? len - off : step;
			if (s->data->bdat_left > 0 && n == 0)
				return;		/* client stopped */
			off += smtpd_bdat_feed(s->data, in + off, n);
			if (s->data->bare_lf) {
				smtpd_reply(s, REPLY_BARE_LF, "mx");
				smtpd_session_reset(s);
				return;
			}
			if (s->data->bdat_left > 0)
				continue;
			s->state = SMTPD_ST_CMD;
			if (smtpd_bdat_end(s)) {
				if (s->data->msg)
					buf_append(queued, BUF_STR(s->data->msg),
					    BUF_LEN(s->data->msg));
				buf_puts(queued, "#");
				put("250 Q");
				smtpd_session_reset(s);
			}
			continue;
		}
		for (eol = off; eol + 1 < len && !(in[eol] == '\r'
		    && in[eol + 1] == '\n'); eol++)
			;
		if (eol + 1 >= len || eol - off >= sizeof(line))
			return;
		memcpy(line, in + off, eol - off);
		line[eol - off] = 0;
		off = eol + 2;
		smtpd_cmd_dispatch(s, line, strlen(line));
	}
}

/* run - one vector, whole and byte by byte */
static void
run(size_t i, size_t step)
{
	struct smtpd_session *s = xcalloc(1, sizeof(*s));
	struct buf *queued = buf_new(0);
	char	 name[200];
	size_t	 n;

	buf_reset(replies);
	s->state = SMTPD_ST_CMD;
	s->bare_mode = vec[i].mode;
	snprintf(s->namaddr, sizeof(s->namaddr), "c[127.0.0.1]");
	drive(s, vec[i].in, vec[i].inlen, step, queued);
	snprintf(name, sizeof(name), "%s (%s): replies", vec[i].name,
	    step == 1 ? "byte by byte" : "whole");
	tap_is_str(BUF_STR(replies), vec[i].want, name);
	snprintf(name, sizeof(name), "%s (%s): queued", vec[i].name,
	    step == 1 ? "byte by byte" : "whole");
	n = vec[i].msglen ? vec[i].msglen : strlen(vec[i].msg);
	tap_ok(BUF_LEN(queued) == n && memcmp(BUF_STR(queued), vec[i].msg,
	    n) == 0, name);
	smtpd_session_reset(s);
	free(s->helo);
	free(s);
	buf_free(queued);
}

int
main(void)
{
	size_t	 i;

	replies = buf_new(0);
	smtpd_params.myhostname = "mx.example.com";
	smtpd_params.size_limit = 100;
	smtpd_params.rcpt_limit = 10;
	smtpd_params.junk_limit = 100;
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		run(i, (size_t)-1);
		run(i, 1);
	}
	buf_free(replies);
	return (tap_done());
}
