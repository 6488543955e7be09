/*
 * NAME
 *	fuzz_smtpd_cmd - libFuzzer target: SMTP command lines
 * DESCRIPTION
 *	The input is a client's command stream: split at LF (a trailing
 *	CR stays, as smtpd_session.c passes it), each line goes through
 *	smtpd_cmd_dispatch() on one session, the way smtpd reads it:
 *	verb parsing, MAIL/RCPT paths and ESMTP parameters (SIZE, BODY,
 *	RET, ENVID xtext, NOTIFY, ORCPT), HELO/EHLO, VRFY, ETRN, the
 *	state rules. The session functions are the fakes of
 *	smtpd/smtpd_cmd_harness.h, as in smtpd_cmd_test.c: replies are
 *	built (reply.c) and recorded, the record is emptied for each
 *	input; the policy answers at once (a recipient containing "reject" is
 *	refused, "defer" deferred), DATA only changes state. BDAT
 *	(smtpd_bdat.c) is followed as smtpd_session.c does: the announced
 *	octets go to smtpd_bdat_feed(), never to the command parser, and
 *	smtpd_bdat_end() answers each chunk; a whole message is dropped as
 *	if queued. The first byte picks helo_required, disable_vrfy and the
 *	limits, and smtpd_forbid_bare_newline.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "reply.h"
#include "smtpd.h"
#include "smtpd_cmd_harness.h"
#include "xalloc.h"

void
smtpd_session_check(struct smtpd_session *s, int stage, smtpd_cont_fn *cont)
{
	const char *r = s->cs.recipient;

	if (stage == SMTPD_STAGE_RCPT && r && strstr(r, "reject"))
		cont(s, SMTPD_CHECK_REJECT, "550 5.1.1 <x>: Recipient address "
		    "rejected: User unknown");
	else if (stage == SMTPD_STAGE_RCPT && r && strstr(r, "defer"))
		cont(s, SMTPD_CHECK_DEFER, "451 4.3.0 <x>: Temporary lookup "
		    "failure");
	else
		cont(s, SMTPD_CHECK_OK, "");
}

void
smtpd_session_start_data(struct smtpd_session *s)
{
	s->state = SMTPD_ST_DATA;
}

/* bdat - a chunk's octets, then its reply; -1: the input ended first */
static int
bdat(struct smtpd_session *s, char **cp, char *end)
{
	struct smtpd_data *d = s->data;
	size_t	 used;

	used = smtpd_bdat_feed(d, *cp, (size_t)(end - *cp));
	if (used > (size_t)(end - *cp))
		abort();		/* consumed more than it was given */
	*cp += used;
	if (d->bare_lf) {
		smtpd_session_reset(s);
		s->state = SMTPD_ST_CLOSING;
		return (0);
	}
	if (d->bdat_left > 0)
		return (-1);
	s->state = SMTPD_ST_CMD;
	if (smtpd_bdat_end(s))
		smtpd_session_reset(s);	/* "queued" */
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpd_session *s;
	char	*buf, *cp, *line;
	size_t	 len;

	if (size < 1)
		return (0);
	if (replies == NULL) {
		fuzz_quiet();
		replies = buf_new(0);
		smtpd_params.myhostname = "mx.example.com";
		smtpd_params.junk_limit = 100;
	}
	buf_reset(replies);
	smtpd_params.helo_required = data[0] & 1;
	smtpd_params.disable_vrfy = (data[0] >> 1) & 1;
	smtpd_params.size_limit = (data[0] & 4) ? 0 : 1000;
	smtpd_params.rcpt_limit = (data[0] & 8) ? 1000 : 3;
	buf = fuzz_str(data + 1, size - 1);
	len = size - 1;
	s = xcalloc(1, sizeof(*s));
	s->state = SMTPD_ST_CMD;
	s->bare_mode = (data[0] >> 4) % 3;
	for (cp = buf; cp <= buf + len && s->state != SMTPD_ST_CLOSING;) {
		char	*nl;

		if (s->state == SMTPD_ST_BDAT) {
			if (bdat(s, &cp, buf + len) < 0)
				break;		/* the client stopped sending */
			continue;
		}
		if (cp == buf + len)
			break;
		nl = memchr(cp, '\n', (size_t)(buf + len - cp));

		line = cp;
		if (nl) {
			*nl = 0;
			cp = nl + 1;
		} else
			cp = buf + len;
		if (s->state == SMTPD_ST_DATA) {
			/* The DATA reader is another target: end it here. */
			if (strcmp(line, ".\r") == 0 || strcmp(line, ".") == 0)
				smtpd_session_reset(s), s->state = SMTPD_ST_CMD;
			continue;
		}
		smtpd_cmd_dispatch(s, line, strlen(line));
	}
	smtpd_session_reset(s);
	free(s->helo);
	free(s->pend_addr);
	free(s->pend_orcpt);
	free(s);
	free(buf);
	return (0);
}
