/*
 * NAME
 *	smtpd_milter - smtpd_milters: the milters of an SMTP session
 * SYNOPSIS
 *	See smtpd_milter.h.
 * DESCRIPTION
 *	Postfix's before-queue milters (MILTER_README) over lib/milter.c.
 *	Everything that talks to a milter runs on a worker thread while
 *	the session is busy; only smtpd_milter_end() runs on the event
 *	loop, and it never waits.
 *
 *	smtpd_milter_init() reads smtpd_milters (a list of "unix:/path",
 *	"unix:relative/to/queue_directory", "inet:host:port", each
 *	optionally as "{ endpoint, default_action=accept }"),
 *	milter_protocol, milter_default_action, milter_*_timeout,
 *	milter_*_macros, milter_macro_daemon_name and milter_macro_v;
 *	none with receive_override_options = no_milters.
 *
 *	smtpd_milter_stage() runs after the session's restriction check
 *	of a stage succeeded (session_check_job): at CONNECT it opens one
 *	connection per milter for the whole session (as Postfix) and
 *	sends the connect event; HELO, MAIL (after SMFIC_ABORT when the
 *	previous transaction ended without end of message), RCPT and DATA
 *	send theirs. A milter's reject or tempfail (its own SMFIR_REPLYCODE
 *	text, or "550 5.7.1 Command rejected" / "451 4.7.1 Service
 *	unavailable - try again later") is the command's reply and is
 *	logged as Postfix does ("NOQUEUE: milter-reject: MAIL from ...").
 *	Accept at CONNECT or HELO ends that milter's part in the session;
 *	at MAIL or DATA its part in the transaction. Discard makes the
 *	transaction an access-table DISCARD.
 *
 *	The message: smtpd_milter_message() (on the loop at DATA) says
 *	whether a milter still takes it. Then smtpd_queue's jobs call
 *	smtpd_milter_open_job() instead of opening the queue file,
 *	smtpd_milter_chunk_job() for each chunk (kept in an unlinked spool
 *	file in incoming/ and sent as header, end-of-header and body
 *	events, the body with CRLF line ends in packets of at most 64 KB),
 *	and smtpd_milter_eom_job() at the final dot: end of message to each
 *	milter, its modification requests collected, then the queue file
 *	is written from the spool through cleanup's stream (envelope
 *	rewriting, header/body checks, the Received: header, commit; the
 *	250 still waits for smtpd's group commit) with the changes
 *	applied: header add, insert, change, delete; body replacement;
 *	recipient add and delete; sender change; quarantine, which puts
 *	the message in hold/. Nothing is in the queue before every milter
 *	has answered, so a rejected, discarded or failed message leaves no
 *	file, and an accepted one is written once.
 *
 *	A milter that cannot be reached, times out or breaks the protocol
 *	gets milter_default_action for the rest of the session: tempfail
 *	(451 4.7.1 for the command or message), reject (550 5.7.1),
 *	accept (as if it were not there), quarantine (accept, then hold).
 *
 *	The spool and the changes are dropped at the end of the message
 *	job; smtpd_milter_end() (the session ends) sends SMFIC_QUIT and
 *	closes the connections. A transaction that ended without end of
 *	message (RSET, a refused RCPT or DATA) is aborted (SMFIC_ABORT)
 *	before the next MAIL.
 * DIAGNOSTICS
 *	"warning: milter ENDPOINT: ..." for a failed milter.
 * SEE ALSO
 *	lib/milter.h, Postfix's MILTER_README.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "cleanup.h"
#include "cleanup_milter.h"
#include "conf.h"
#include "log.h"
#include "milter.h"
#include "smtpd.h"
#include "smtpd_milter.h"
#include "smtpd_override.h"
#include "xalloc.h"

#define SM_MAX		8		/* milters in smtpd_milters */
#define SM_BODY_PKT	65535		/* body bytes per SMFIC_BODY */
#define SM_HDR_MAX	(100 * 1024)	/* one header, as sent */

#define SM_DEF_ACCEPT		MILTER_DEF_ACCEPT
#define SM_DEF_REJECT		MILTER_DEF_REJECT
#define SM_DEF_QUARANTINE	MILTER_DEF_QUARANTINE

/* one milter's state in a session */
#define SM_OPEN		0
#define SM_ACCEPTED	1		/* accepted the session */
#define SM_FAILED	2		/* default action from now on */

static struct milter_spec sm_specs[SM_MAX];
static int sm_count;
static struct milter_conf sm_conf;
static char *sm_daemon_name;
static char *sm_macro_v;
static char *sm_myhostname;
static char *sm_queue_dir;

struct sm_one {
	struct milter *m;
	const struct milter_spec *spec;
	int	 state;
	int	 msg_done;		/* no more events for this message */
	int	 skip_body;		/* SMFIR_SKIP */
	struct milter_mods mods;
};

struct smtpd_milter {
	struct sm_one v[SM_MAX];
	int	 n;
	int	 txn;			/* MAIL sent, EOM not */
	int	 msg;			/* the message goes through milters */
	int	 hold;			/* quarantine (default action) */
	int	 verdict;		/* content: MILTER_REJECT/TEMPFAIL/DISCARD */
	char	 reply[1024];
	char	 client[600];		/* the "_" macro */
	int	 spool;			/* the message as received, or -1 */
	int	 spool_err;
	int	 in_body;
	struct buf *line;		/* header mode: the partial line */
	struct buf *hdr;		/* the header being collected */
	struct buf *body;		/* CRLF body not yet sent */
};

/* smtpd_milter_init - the milter parameters (main thread, at start) */
void
smtpd_milter_init(void)
{
	static const char *lists[MILTER_MAC_COUNT] = {
		"milter_connect_macros", "milter_helo_macros",
		"milter_mail_macros", "milter_rcpt_macros",
		"milter_data_macros", "milter_end_of_data_macros",
		"milter_end_of_header_macros",
	};
	int	 i;

	/* A content filter's re-injection port (receive_override_options). */
	if (smtpd_receive_override("no_milters"))
		return;
	sm_count = (int)milter_list_parse("smtpd_milters",
	    conf_str("smtpd_milters"),
	    milter_default_action(conf_str("milter_default_action")),
	    sm_specs, SM_MAX);
	if (sm_count == 0)
		return;
	sm_conf.protocol = (int)conf_int("milter_protocol");
	if (sm_conf.protocol < 2 || sm_conf.protocol > 6) {
		log_warn("milter_protocol %d: using 6", sm_conf.protocol);
		sm_conf.protocol = 6;
	}
	sm_conf.connect_timeout = (int)conf_time("milter_connect_timeout");
	sm_conf.command_timeout = (int)conf_time("milter_command_timeout");
	sm_conf.content_timeout = (int)conf_time("milter_content_timeout");
	for (i = 0; i < MILTER_MAC_COUNT; i++)
		sm_conf.macros[i] = xstrdup(conf_str(lists[i]));
	sm_daemon_name = xstrdup(conf_str("milter_macro_daemon_name"));
	sm_macro_v = xstrdup(conf_str("milter_macro_v"));
	sm_myhostname = xstrdup(conf_str("myhostname"));
	sm_queue_dir = xstrdup(conf_str("queue_directory"));
}

/* smtpd_milter_active - any smtpd_milters? */
int
smtpd_milter_active(void)
{
	return (sm_count > 0);
}

/* sm_is - macro name with or without braces */
static int
sm_is(const char *name, const char *want)
{
	size_t	 n = strlen(want);

	if (name[0] == '{')
		return (strncmp(name + 1, want, n) == 0 && name[n + 1] == '}'
		    && name[n + 2] == 0);
	return (strcmp(name, want) == 0);
}

/* sm_nz - NULL for an empty value */
static const char *
sm_nz(const char *v)
{
	return (v && *v ? v : NULL);
}

/* sm_macro - a macro's value for the session (milter_*_macros) */
static const char *
sm_macro(void *ctx, const char *name)
{
	struct smtpd_session *s = ctx;

	if (sm_is(name, "j"))
		return (sm_myhostname);
	if (sm_is(name, "_"))
		return (s->milter->client);
	if (sm_is(name, "daemon_name"))
		return (sm_daemon_name);
	if (sm_is(name, "daemon_addr"))
		return (sm_nz(s->server_addr));
	if (sm_is(name, "daemon_port"))
		return (sm_nz(s->server_port));
	if (sm_is(name, "v"))
		return (sm_macro_v);
	if (sm_is(name, "client_addr"))
		return (sm_nz(s->client_addr));
	if (sm_is(name, "client_port"))
		return (sm_nz(s->client_port));
	if (sm_is(name, "client_name"))
		return (s->cs.client_name[0] ? s->cs.client_name : "unknown");
	if (sm_is(name, "i"))
		return (sm_nz(s->queue_id));
	if (sm_is(name, "auth_type"))
		return (s->sasl_user ? sm_nz(s->sasl_method) : NULL);
	if (sm_is(name, "auth_authen"))
		return (sm_nz(s->sasl_user));
	if (sm_is(name, "mail_addr"))
		return (s->sender);
	if (sm_is(name, "rcpt_addr"))
		return (s->cs.recipient);
	return (NULL);
}

/* sm_new - the session's milter state */
static struct smtpd_milter *
sm_new(struct smtpd_session *s)
{
	struct smtpd_milter *sm = xcalloc(1, sizeof(*sm));
	int	 i;

	sm->spool = -1;
	sm->n = sm_count;
	for (i = 0; i < sm_count; i++)
		sm->v[i].spec = &sm_specs[i];
	snprintf(sm->client, sizeof(sm->client), "%s [%s]",
	    s->cs.client_name[0] ? s->cs.client_name : "unknown",
	    s->client_addr);
	return (sm);
}

/* sm_log_reject - Postfix's "NOQUEUE: milter-reject: CMD from ..." */
static void
sm_log_reject(struct smtpd_session *s, const char *what, const char *text)
{
	struct buf *b = buf_new(128);

	if (s->sender)
		buf_printf(b, " from=<%s>", log_safe(s->sender));
	if (s->cs.recipient)
		buf_printf(b, " to=<%s>", log_safe(s->cs.recipient));
	if (s->namaddr[0] == 0)		/* CONNECT: before the greeting */
		snprintf(s->namaddr, sizeof(s->namaddr), "%s[%s]",
		    s->cs.client_name[0] ? s->cs.client_name : "unknown",
		    s->client_addr);
	log_info("NOQUEUE: milter-reject: %s from %s: %s;%s proto=%s "
	    "helo=<%s>", what, s->namaddr, log_safe(text), BUF_STR(b),
	    s->cs.protocol ? s->cs.protocol : "SMTP",
	    log_safe(s->helo ? s->helo : ""));
	buf_free(b);
}

/* sm_fail - the milter broke: log, close, and its default action */
static int
sm_fail(struct smtpd_session *s, struct sm_one *o, const char *why,
    struct milter_reply *r)
{
	if (o->state != SM_FAILED)
		log_warn("milter %s: %s", o->spec->endpoint, log_safe(why));
	o->state = SM_FAILED;
	milter_free(o->m);
	o->m = NULL;
	switch (o->spec->def_action) {
	case SM_DEF_ACCEPT:
		return (MILTER_CONTINUE);
	case SM_DEF_QUARANTINE:
		s->milter->hold = 1;
		return (MILTER_CONTINUE);
	case SM_DEF_REJECT:
		snprintf(r->text, sizeof(r->text), "550 5.7.1 Command rejected");
		return (MILTER_REJECT);
	default:
		snprintf(r->text, sizeof(r->text),
		    "451 4.7.1 Service unavailable - try again later");
		return (MILTER_TEMPFAIL);
	}
}

/* sm_open - connect and negotiate; MILTER_ERROR with r->text */
static int
sm_open(struct smtpd_session *s, struct sm_one *o, struct milter_reply *r)
{
	struct milter_conf c = sm_conf;
	int	 fd;

	c.macro = sm_macro;
	c.macro_ctx = s;
	fd = milter_connect_fd(o->spec->endpoint, sm_queue_dir,
	    c.connect_timeout, r->text, sizeof(r->text));
	if (fd < 0)
		return (MILTER_ERROR);
	o->m = milter_new(o->spec->endpoint, fd, &c);
	if (milter_negotiate(o->m, r->text, sizeof(r->text)) < 0)
		return (MILTER_ERROR);
	return (MILTER_CONTINUE);
}

/* sm_smtp_event - one SMTP event to every milter that takes it */
static int
sm_smtp_event(struct smtpd_session *s, int cmd, const struct buf *data,
    struct milter_reply *r)
{
	struct smtpd_milter *sm = s->milter;
	struct sm_one *o;
	int	 i, rc, txn = cmd == MILTER_CMD_MAIL || cmd == MILTER_CMD_RCPT
	    || cmd == MILTER_CMD_DATA;

	for (i = 0; i < sm->n; i++) {
		o = &sm->v[i];
		if (o->state == SM_ACCEPTED || (txn && o->msg_done))
			continue;
		if (o->state == SM_FAILED)
			rc = sm_fail(s, o, "", r);
		else if (cmd == MILTER_CMD_CONNECT
		    && sm_open(s, o, r) == MILTER_ERROR)
			rc = sm_fail(s, o, r->text, r);
		else if ((rc = milter_event(o->m, cmd, BUF_STR(data),
		    BUF_LEN(data), r)) == MILTER_ERROR)
			rc = sm_fail(s, o, r->text, r);
		switch (rc) {
		case MILTER_ACCEPT:
			if (cmd == MILTER_CMD_CONNECT || cmd == MILTER_CMD_HELO)
				o->state = SM_ACCEPTED;
			else if (cmd != MILTER_CMD_RCPT)
				o->msg_done = 1;
			break;
		case MILTER_DISCARD:
			if (txn)
				s->cs.actions |= SMTPD_ACT_DISCARD;
			break;
		case MILTER_REJECT:
		case MILTER_TEMPFAIL:
			return (rc);
		}
	}
	return (MILTER_CONTINUE);
}

/* sm_abort - a transaction ended without end of message */
static void
sm_abort(struct smtpd_milter *sm)
{
	int	 i;

	for (i = 0; i < sm->n; i++) {
		if (sm->v[i].state == SM_OPEN && sm->txn)
			milter_abort(sm->v[i].m);
		sm->v[i].msg_done = 0;
		sm->v[i].skip_body = 0;
		milter_mods_free(&sm->v[i].mods);
	}
	sm->txn = 0;
	sm->hold = 0;
	sm->verdict = 0;
}

/* sm_addr_arg - "<addr>" and its terminating NUL */
static void
sm_addr_arg(struct buf *b, const char *addr)
{
	buf_printf(b, "<%s>", addr ? addr : "");
	buf_append(b, "", 1);
}

/* smtpd_milter_stage - on a worker: the stage's event to the milters */
int
smtpd_milter_stage(struct smtpd_session *s, int stage, int result,
    struct buf *reply)
{
	static const char *what[] = { "", "CONNECT", "HELO", "MAIL", "RCPT",
		"DATA" };
	struct milter_reply r;
	struct buf *b;
	char	 port[2];
	int	 rc, cmd;
	unsigned p;

	if (sm_count == 0 || result != SMTPD_CHECK_OK || s->stdin_mode
	    || stage < SMTPD_STAGE_CONNECT || stage > SMTPD_STAGE_DATA)
		return (result);
	if (s->milter == NULL) {
		if (stage != SMTPD_STAGE_CONNECT)
			return (result);
		s->milter = sm_new(s);
	}
	b = buf_new(128);
	switch (stage) {
	case SMTPD_STAGE_CONNECT:
		cmd = MILTER_CMD_CONNECT;
		buf_puts(b, s->cs.client_name[0] ? s->cs.client_name
		    : "unknown");
		buf_append(b, "", 1);
		buf_putc(b, strchr(s->client_addr, ':') ? '6' : '4');
		p = (unsigned)atoi(s->client_port);
		port[0] = (char)(p >> 8), port[1] = (char)(p & 0xff);
		buf_append(b, port, 2);
		buf_append(b, s->client_addr, strlen(s->client_addr) + 1);
		break;
	case SMTPD_STAGE_HELO:
		cmd = MILTER_CMD_HELO;
		buf_append(b, s->helo ? s->helo : "", strlen(s->helo
		    ? s->helo : "") + 1);
		break;
	case SMTPD_STAGE_MAIL:
		cmd = MILTER_CMD_MAIL;
		sm_abort(s->milter);
		s->milter->txn = 1;
		sm_addr_arg(b, s->sender);
		break;
	case SMTPD_STAGE_RCPT:
		cmd = MILTER_CMD_RCPT;
		sm_addr_arg(b, s->cs.recipient);
		break;
	default:
		cmd = MILTER_CMD_DATA;
		break;
	}
	rc = sm_smtp_event(s, cmd, b, &r);
	buf_free(b);
	if (rc != MILTER_REJECT && rc != MILTER_TEMPFAIL)
		return (result);
	sm_log_reject(s, what[stage], r.text);
	buf_reset(reply);
	buf_puts(reply, r.text);
	return (rc == MILTER_REJECT ? SMTPD_CHECK_REJECT : SMTPD_CHECK_DEFER);
}

/* smtpd_milter_message - on the loop at DATA: do milters take it? */
int
smtpd_milter_message(struct smtpd_session *s)
{
	struct smtpd_milter *sm = s->milter;
	int	 i;

	if (sm == NULL)
		return (0);
	sm->msg = 0;
	for (i = 0; i < sm->n; i++)
		if (sm->v[i].state == SM_OPEN && !sm->v[i].msg_done)
			sm->msg = 1;
	if (sm->hold)
		s->cs.actions |= SMTPD_ACT_HOLD;
	return (sm->msg);
}

/* spool_free - drop the spool and the parser */
static void
spool_free(struct smtpd_milter *sm)
{
	if (sm->spool >= 0)
		close(sm->spool);
	sm->spool = -1;
	sm->spool_err = 0;
	sm->in_body = 0;
	buf_free(sm->line);
	buf_free(sm->hdr);
	buf_free(sm->body);
	sm->line = sm->hdr = sm->body = NULL;
}

/* smtpd_milter_open_job - on a worker at DATA: the spool file */
void
smtpd_milter_open_job(struct smtpd_session *s)
{
	struct smtpd_milter *sm = s->milter;
	char	*path = xasprintf("%s/incoming/.milter.XXXXXX", sm_queue_dir);

	spool_free(sm);
	sm->spool = mkstemp(path);
	if (sm->spool < 0) {
		log_warn("%s: cannot create %s: %s", s->namaddr, path,
		    strerror(errno));
		sm->spool_err = 1;
	} else
		(void)unlink(path);
	free(path);
	sm->line = buf_new(256);
	sm->hdr = buf_new(256);
	sm->body = buf_new(SM_BODY_PKT + 2);
	sm->verdict = 0;
}

/* sm_content - a content event to every milter still reading */
static void
sm_content(struct smtpd_session *s, int cmd, const char *name,
    const char *data, size_t len)
{
	struct smtpd_milter *sm = s->milter;
	struct milter_reply r;
	struct sm_one *o;
	int	 i, rc;

	for (i = 0; i < sm->n && sm->verdict == 0; i++) {
		o = &sm->v[i];
		if (o->state != SM_OPEN || o->msg_done
		    || (cmd == MILTER_CMD_BODY && o->skip_body))
			continue;
		if (cmd == MILTER_CMD_HEADER)
			rc = milter_header(o->m, name, data, &r);
		else
			rc = milter_event(o->m, cmd, data, len, &r);
		if (rc == MILTER_ERROR)
			rc = sm_fail(s, o, r.text, &r);
		switch (rc) {
		case MILTER_ACCEPT:
			o->msg_done = 1;
			break;
		case MILTER_SKIP:
			o->skip_body = 1;
			break;
		case MILTER_REJECT:
		case MILTER_TEMPFAIL:
		case MILTER_DISCARD:
			sm->verdict = rc;
			snprintf(sm->reply, sizeof(sm->reply), "%s", r.text);
			break;
		}
	}
}

/* sm_body_flush - the pending body bytes as one SMFIC_BODY */
static void
sm_body_flush(struct smtpd_session *s)
{
	struct smtpd_milter *sm = s->milter;

	if (BUF_LEN(sm->body) == 0)
		return;
	sm_content(s, MILTER_CMD_BODY, NULL, BUF_STR(sm->body),
	    BUF_LEN(sm->body));
	buf_reset(sm->body);
}

/* sm_body - body bytes, LF to CRLF */
static void
sm_body(struct smtpd_session *s, const char *p, size_t len)
{
	struct smtpd_milter *sm = s->milter;
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n')
			buf_putc(sm->body, '\r');
		buf_putc(sm->body, p[i]);
		if (BUF_LEN(sm->body) >= SM_BODY_PKT - 1)
			sm_body_flush(s);
	}
}

/* sm_header_flush - the collected header as SMFIC_HEADER */
static void
sm_header_flush(struct smtpd_session *s)
{
	struct smtpd_milter *sm = s->milter;
	char	*h, *colon, *e;

	if (BUF_LEN(sm->hdr) == 0)
		return;
	h = BUF_STR(sm->hdr);
	colon = strchr(h, ':');
	for (e = colon; e > h && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	*e = 0;
	sm_content(s, MILTER_CMD_HEADER, h, colon + 1, 0);
	buf_reset(sm->hdr);
}

/* sm_end_headers - end of the header section */
static void
sm_end_headers(struct smtpd_session *s)
{
	sm_header_flush(s);
	sm_content(s, MILTER_CMD_EOH, NULL, "", 0);
	s->milter->in_body = 1;
}

/* sm_hline - one line of the header section (without its LF) */
static void
sm_hline(struct smtpd_session *s, const char *p, size_t len)
{
	struct smtpd_milter *sm = s->milter;

	if (len == 0) {
		sm_end_headers(s);
		return;
	}
	if ((p[0] == ' ' || p[0] == '\t') && BUF_LEN(sm->hdr)) {
		if (BUF_LEN(sm->hdr) + len < SM_HDR_MAX) {
			buf_putc(sm->hdr, '\n');
			buf_append(sm->hdr, p, len);
		}
		return;
	}
	if (milter_is_header(p, len)) {
		sm_header_flush(s);
		buf_append(sm->hdr, p, len < SM_HDR_MAX ? len : SM_HDR_MAX);
		return;
	}
	sm_end_headers(s);		/* not a header: the body begins */
	sm_body(s, p, len);
	sm_body(s, "\n", 1);
}

/* sm_feed - message bytes (LF line ends) to the milters */
static void
sm_feed(struct smtpd_session *s, const char *p, size_t len)
{
	struct smtpd_milter *sm = s->milter;
	const char *nl;
	size_t	 n;

	while (len > 0 && !sm->in_body) {
		if ((nl = memchr(p, '\n', len)) == NULL) {
			if (BUF_LEN(sm->line) < SM_HDR_MAX)
				buf_append(sm->line, p, len);
			return;
		}
		n = (size_t)(nl - p);
		if (BUF_LEN(sm->line) < SM_HDR_MAX)
			buf_append(sm->line, p, n);
		sm_hline(s, BUF_STR(sm->line), BUF_LEN(sm->line));
		buf_reset(sm->line);
		p += n + 1;
		len -= n + 1;
	}
	if (len > 0)
		sm_body(s, p, len);
}

/* smtpd_milter_chunk_job - on a worker: spool and send a chunk */
void
smtpd_milter_chunk_job(struct smtpd_session *s, const char *p, size_t len)
{
	struct smtpd_milter *sm = s->milter;
	const char *q = p;
	size_t	 left = len;
	ssize_t	 n;

	while (left > 0 && !sm->spool_err) {
		if ((n = write(sm->spool, q, left)) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("%s: milter spool write: %s", s->namaddr,
			    strerror(errno));
			sm->spool_err = 1;
			break;
		}
		q += n;
		left -= (size_t)n;
	}
	if (sm->verdict == 0 && !sm->spool_err)
		sm_feed(s, p, len);
}

/* sm_log_hold - Postfix's milter-hold line */
static void
sm_log_hold(struct smtpd_session *s, const char *id)
{
	log_info("%s: milter-hold: END-OF-MESSAGE from %s: milter triggers "
	    "HOLD action; from=<%s> proto=%s helo=<%s>", id, s->namaddr,
	    log_safe(s->sender ? s->sender : ""),
	    s->cs.protocol ? s->cs.protocol : "SMTP",
	    log_safe(s->helo ? s->helo : ""));
}

/* sm_queue - the queue file from the spool with the changes applied */
static int
sm_queue(struct smtpd_session *s, struct cleanup_maps *maps,
    const struct cleanup_input *in, struct cleanup_result *res)
{
	struct smtpd_milter *sm = s->milter;
	struct cleanup_input in2 = *in;
	struct milter_mods *mods[SM_MAX];
	FILE	*fp;
	int	 rc, fd, i, hold = sm->hold;

	if ((fd = dup(sm->spool)) < 0 || lseek(fd, 0, SEEK_SET) < 0
	    || (fp = fdopen(fd, "r")) == NULL) {
		if (fd >= 0)
			close(fd);
		snprintf(res->reply, sizeof(res->reply),
		    "451 4.3.0 Error: queue file write error");
		return (CLEANUP_DEFER);
	}
	for (i = 0; i < sm->n; i++) {
		mods[i] = &sm->v[i].mods;
		hold |= mods[i]->quarantine != NULL;
	}
	if (hold)
		in2.flags |= CLEANUP_FLAG_HOLD;
	rc = cleanup_milter_queue(maps, &in2, res, mods, (size_t)sm->n, fp);
	fclose(fp);
	if (rc == CLEANUP_OK && hold)
		sm_log_hold(s, res->queue_id);
	return (rc);
}

/* sm_eom - end of message to each milter still reading */
static void
sm_eom(struct smtpd_session *s)
{
	struct smtpd_milter *sm = s->milter;
	struct milter_reply r;
	struct sm_one *o;
	int	 i, rc;

	for (i = 0; i < sm->n && sm->verdict == 0; i++) {
		o = &sm->v[i];
		if (o->state != SM_OPEN || o->msg_done)
			continue;
		rc = milter_eom(o->m, &r, &o->mods);
		if (rc == MILTER_ERROR) {
			milter_mods_free(&o->mods);
			rc = sm_fail(s, o, r.text, &r);
		}
		if (rc == MILTER_REJECT || rc == MILTER_TEMPFAIL
		    || rc == MILTER_DISCARD) {
			sm->verdict = rc;
			snprintf(sm->reply, sizeof(sm->reply), "%s", r.text);
		}
	}
}

/* sm_finish - the verdict, then the queue file */
static int
sm_finish(struct smtpd_session *s, struct cleanup_maps *maps,
    const struct cleanup_input *in, struct cleanup_result *res)
{
	struct smtpd_milter *sm = s->milter;
	int	 rc;

	memset(res, 0, sizeof(*res));
	if (sm->verdict == 0 && !sm->spool_err) {
		if (!sm->in_body) {
			if (BUF_LEN(sm->line))
				sm_hline(s, BUF_STR(sm->line),
				    BUF_LEN(sm->line));
			if (!sm->in_body)
				sm_end_headers(s);
		}
		sm_body_flush(s);
		sm_eom(s);
	}
	sm->txn = 0;			/* the milters reset themselves */
	if (sm->spool_err) {
		snprintf(res->reply, sizeof(res->reply),
		    "451 4.3.0 Error: queue file write error");
		return (CLEANUP_DEFER);
	}
	switch (sm->verdict) {
	case MILTER_REJECT:
	case MILTER_TEMPFAIL:
		sm_log_reject(s, "END-OF-MESSAGE", sm->reply);
		snprintf(res->reply, sizeof(res->reply), "%.500s", sm->reply);
		return (sm->verdict == MILTER_REJECT ? CLEANUP_REJECT
		    : CLEANUP_DEFER);
	case MILTER_DISCARD:
		log_info("NOQUEUE: milter-discard: END-OF-MESSAGE from %s: "
		    "milter triggers DISCARD action; from=<%s> proto=%s "
		    "helo=<%s>", s->namaddr, log_safe(s->sender ? s->sender
		    : ""), s->cs.protocol ? s->cs.protocol : "SMTP",
		    log_safe(s->helo ? s->helo : ""));
		return (CLEANUP_DISCARD);
	}
	rc = sm_queue(s, maps, in, res);
	return (rc);
}

/* smtpd_milter_eom_job - on a worker at the final dot: the verdict,
 * the queue file, then the spool and the changes are dropped */
int
smtpd_milter_eom_job(struct smtpd_session *s, struct cleanup_maps *maps,
    const struct cleanup_input *in, struct cleanup_result *res)
{
	struct smtpd_milter *sm = s->milter;
	int	 rc = sm_finish(s, maps, in, res), i;

	spool_free(sm);
	sm->msg = 0;
	for (i = 0; i < sm->n; i++)
		milter_mods_free(&sm->v[i].mods);
	return (rc);
}

/* smtpd_milter_end - on the loop: the session ends */
void
smtpd_milter_end(struct smtpd_session *s)
{
	struct smtpd_milter *sm = s->milter;
	int	 i;

	if (sm == NULL)
		return;
	spool_free(sm);
	for (i = 0; i < sm->n; i++) {
		if (sm->v[i].m)
			milter_quit(sm->v[i].m);
		milter_free(sm->v[i].m);
		milter_mods_free(&sm->v[i].mods);
	}
	free(sm);
	s->milter = NULL;
}
