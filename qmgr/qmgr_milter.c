/*
 * NAME
 *	qmgr_milter - non_smtpd_milters for mail from sendmail (pickup)
 * SYNOPSIS
 *	#include "qmgr_milter.h"
 *
 *	int	qmgr_milter_message(struct cleanup_maps *m,
 *	    const struct cleanup_input *in, struct cleanup_result *out);
 * DESCRIPTION
 *	cleanup_message() for a maildrop file (qmgr_pickup.c, on a resolve
 *	thread), with Postfix's non_smtpd_milters first: each milter gets
 *	its own connection for the message and the events Postfix's
 *	cleanup emulates for local mail: connect from "localhost"
 *	(127.0.0.1), HELO localhost, MAIL, one RCPT per recipient, DATA,
 *	each header, end of headers, the body (CRLF, at most 64 KB a
 *	packet), end of message; then SMFIC_QUIT. Macros: milter_*_macros
 *	as in smtpd ({daemon_name} is milter_macro_daemon_name, {mail_addr},
 *	{rcpt_addr}, j, v, "_" is "localhost [127.0.0.1]").
 *	A reject or tempfail ends in CLEANUP_REJECT or CLEANUP_DEFER with
 *	the milter's reply (pickup returns a rejected file to its sender,
 *	keeps a deferred one for the next scan), discard in
 *	CLEANUP_DISCARD; otherwise the changes are applied as for smtpd
 *	(cleanup_milter_queue()). A milter that fails gets
 *	milter_default_action. Without non_smtpd_milters this is
 *	cleanup_message().
 * DIAGNOSTICS
 *	"warning: milter ENDPOINT: ..." for a failed milter; "maildrop:
 *	milter-reject: ..." as the reject is logged by pickup.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cleanup.h"
#include "cleanup_milter.h"
#include "conf.h"
#include "log.h"
#include "milter.h"
#include "qmgr_milter.h"
#include "xalloc.h"

#define QM_MAX		8
#define QM_BODY_PKT	65535

struct qm_ctx {
	const struct cleanup_input *in;
	const char *rcpt;		/* {rcpt_addr} */
	int	 verdict;		/* MILTER_REJECT/TEMPFAIL/DISCARD */
	int	 hold;
	char	 reply[512];
};

/* qm_is - macro name with or without braces */
static int
qm_is(const char *name, const char *want)
{
	size_t	 n = strlen(want);

	if (name[0] == '{')
		return (strncmp(name + 1, want, n) == 0 && name[n + 1] == '}'
		    && name[n + 2] == 0);
	return (strcmp(name, want) == 0);
}

/* qm_macro - a macro's value for a local message */
static const char *
qm_macro(void *arg, const char *name)
{
	struct qm_ctx *c = arg;

	if (qm_is(name, "j"))
		return (conf_str("myhostname"));
	if (qm_is(name, "_"))
		return ("localhost [127.0.0.1]");
	if (qm_is(name, "daemon_name"))
		return (conf_str("milter_macro_daemon_name"));
	if (qm_is(name, "v"))
		return (conf_str("milter_macro_v"));
	if (qm_is(name, "mail_addr"))
		return (c->in->sender);
	if (qm_is(name, "rcpt_addr"))
		return (c->rcpt);
	return (NULL);
}

/* qm_conf - the milter parameters */
static void
qm_conf(struct milter_conf *mc, struct qm_ctx *c)
{
	static const char *lists[MILTER_MAC_COUNT] = {
		"milter_connect_macros", "milter_helo_macros",
		"milter_mail_macros", "milter_rcpt_macros",
		"milter_data_macros", "milter_end_of_data_macros",
		"milter_end_of_header_macros",
	};
	int	 i;

	memset(mc, 0, sizeof(*mc));
	mc->protocol = (int)conf_int("milter_protocol");
	mc->connect_timeout = (int)conf_time("milter_connect_timeout");
	mc->command_timeout = (int)conf_time("milter_command_timeout");
	mc->content_timeout = (int)conf_time("milter_content_timeout");
	for (i = 0; i < MILTER_MAC_COUNT; i++)
		mc->macros[i] = conf_str(lists[i]);
	mc->macro = qm_macro;
	mc->macro_ctx = c;
}

/* qm_verdict - a milter's answer: 1 go on, 0 this milter is done */
static int
qm_verdict(struct qm_ctx *c, const struct milter_spec *sp, int rc,
    const struct milter_reply *r)
{
	switch (rc) {
	case MILTER_ERROR:
		log_warn("milter %s: %s", sp->endpoint, log_safe(r->text));
		if (sp->def_action == MILTER_DEF_ACCEPT)
			return (0);
		if (sp->def_action == MILTER_DEF_QUARANTINE) {
			c->hold = 1;
			return (0);
		}
		c->verdict = sp->def_action == MILTER_DEF_REJECT
		    ? MILTER_REJECT : MILTER_TEMPFAIL;
		snprintf(c->reply, sizeof(c->reply), "%s",
		    c->verdict == MILTER_REJECT ? "550 5.7.1 Command rejected"
		    : "451 4.7.1 Service unavailable - try again later");
		return (0);
	case MILTER_ACCEPT:
		return (0);
	case MILTER_REJECT:
	case MILTER_TEMPFAIL:
	case MILTER_DISCARD:
		c->verdict = rc;
		snprintf(c->reply, sizeof(c->reply), "%.500s", r->text);
		return (0);
	default:
		return (1);
	}
}

/* qm_event - one event with a string argument list */
static int
qm_event(struct milter *m, int cmd, const char *a, const char *b,
    struct milter_reply *r)
{
	struct buf *d = buf_new(64);
	int	 rc;

	if (a)
		buf_append(d, a, strlen(a) + 1);
	if (b)
		buf_append(d, b, strlen(b) + 1);
	rc = milter_event(m, cmd, BUF_STR(d), BUF_LEN(d), r);
	buf_free(d);
	return (rc);
}

/* qm_envelope - connect, helo, mail, rcpt, data: 1 go on */
static int
qm_envelope(struct qm_ctx *c, const struct milter_spec *sp,
    struct milter *m)
{
	static const char conn[] = "localhost\0" "4\0\0" "127.0.0.1";
	struct milter_reply r;
	char	*arg;
	size_t	 i;
	int	 rc;

	rc = milter_event(m, MILTER_CMD_CONNECT, conn, sizeof(conn), &r);
	if (!qm_verdict(c, sp, rc, &r))
		return (0);
	rc = qm_event(m, MILTER_CMD_HELO, "localhost", NULL, &r);
	if (!qm_verdict(c, sp, rc, &r))
		return (0);
	arg = xasprintf("<%s>", c->in->sender);
	rc = qm_event(m, MILTER_CMD_MAIL, arg, NULL, &r);
	free(arg);
	if (!qm_verdict(c, sp, rc, &r))
		return (0);
	for (i = 0; i < c->in->nrcpts; i++) {
		c->rcpt = c->in->rcpts[i].addr;
		arg = xasprintf("<%s>", c->rcpt);
		rc = qm_event(m, MILTER_CMD_RCPT, arg, NULL, &r);
		free(arg);
		if (!qm_verdict(c, sp, rc, &r))
			return (0);
	}
	c->rcpt = NULL;
	rc = milter_event(m, MILTER_CMD_DATA, "", 0, &r);
	return (qm_verdict(c, sp, rc, &r));
}

/* qm_headers - each header, then end of headers: 1 go on */
static int
qm_headers(struct qm_ctx *c, const struct milter_spec *sp,
    struct milter *m, const struct milter_hdrs *h)
{
	struct milter_reply r;
	char	*name, *colon, *e;
	size_t	 i;
	int	 rc;

	for (i = 0; i < h->n; i++) {
		name = xstrdup(h->v[i]);
		colon = strchr(name, ':');
		for (e = colon; e > name && (e[-1] == ' ' || e[-1] == '\t');)
			e--;
		*e = 0;
		rc = milter_header(m, name, colon + 1, &r);
		free(name);
		if (!qm_verdict(c, sp, rc, &r))
			return (0);
	}
	rc = milter_event(m, MILTER_CMD_EOH, "", 0, &r);
	return (qm_verdict(c, sp, rc, &r));
}

/* qm_body - the body with CRLF line ends: 1 go on */
static int
qm_body(struct qm_ctx *c, const struct milter_spec *sp, struct milter *m,
    const char *p, size_t len)
{
	struct buf *b = buf_new(QM_BODY_PKT + 2);
	struct milter_reply r;
	size_t	 i;
	int	 rc = MILTER_CONTINUE, go = 1;

	for (i = 0; i <= len && go; i++) {
		if (i < len) {
			if (p[i] == '\n')
				buf_putc(b, '\r');
			buf_putc(b, p[i]);
		}
		if (BUF_LEN(b) >= QM_BODY_PKT - 1 || (i == len && BUF_LEN(b))) {
			rc = milter_event(m, MILTER_CMD_BODY, BUF_STR(b),
			    BUF_LEN(b), &r);
			buf_reset(b);
			if (rc == MILTER_SKIP)
				break;
			go = qm_verdict(c, sp, rc, &r);
		}
	}
	buf_free(b);
	return (go);
}

/* qm_one - one milter through the whole message */
static void
qm_one(struct qm_ctx *c, const struct milter_spec *sp,
    const struct milter_conf *mc, const struct milter_hdrs *h,
    const char *body, size_t blen, struct milter_mods *mods)
{
	struct milter_reply r;
	struct milter *m;
	int	 fd, rc;

	fd = milter_connect_fd(sp->endpoint, conf_str("queue_directory"),
	    mc->connect_timeout, r.text, sizeof(r.text));
	if (fd < 0) {
		qm_verdict(c, sp, MILTER_ERROR, &r);
		return;
	}
	m = milter_new(sp->endpoint, fd, mc);
	if (milter_negotiate(m, r.text, sizeof(r.text)) < 0)
		qm_verdict(c, sp, MILTER_ERROR, &r);
	else if (qm_envelope(c, sp, m) && qm_headers(c, sp, m, h)
	    && qm_body(c, sp, m, body, blen)) {
		rc = milter_eom(m, &r, mods);
		if (rc == MILTER_ERROR)
			milter_mods_free(mods);
		qm_verdict(c, sp, rc, &r);
		if (c->verdict)
			milter_mods_free(mods);
	}
	milter_quit(m);
	milter_free(m);
}

/* qm_split - the header list and where the body starts */
static size_t
qm_split(const char *msg, size_t len, struct milter_hdrs *h)
{
	size_t	 off = 0, n;
	const char *nl;
	int	 rc;

	while (off < len) {
		nl = memchr(msg + off, '\n', len - off);
		n = nl ? (size_t)(nl - (msg + off)) : len - off;
		rc = milter_hdrs_line(h, msg + off, n);
		if (rc == 2)		/* a body line: the body starts here */
			return (off);
		off += n + (nl != NULL);
		if (rc == 1)
			return (off);
	}
	return (off);
}

/* qmgr_milter_message - non_smtpd_milters, then cleanup */
int
qmgr_milter_message(struct cleanup_maps *cm, const struct cleanup_input *in,
    struct cleanup_result *res)
{
	struct milter_spec specs[QM_MAX];
	struct milter_mods mods[QM_MAX], *mp[QM_MAX];
	struct milter_hdrs h;
	struct milter_conf mc;
	struct qm_ctx c;
	struct cleanup_input in2 = *in;
	size_t	 n, i, boff;
	FILE	*fp;
	int	 rc;

	n = milter_list_parse("non_smtpd_milters",
	    conf_str("non_smtpd_milters"),
	    milter_default_action(conf_str("milter_default_action")),
	    specs, QM_MAX);
	if (n == 0)
		return (cleanup_message(cm, in, res));
	memset(&c, 0, sizeof(c));
	memset(&h, 0, sizeof(h));
	memset(mods, 0, sizeof(mods));
	c.in = in;
	qm_conf(&mc, &c);
	boff = qm_split(in->message, in->message_len, &h);
	for (i = 0; i < n && c.verdict == 0; i++) {
		qm_one(&c, &specs[i], &mc, &h, in->message + boff,
		    in->message_len - boff, &mods[i]);
		mp[i] = &mods[i];
	}
	milter_hdrs_free(&h);
	memset(res, 0, sizeof(*res));
	if (c.verdict == MILTER_REJECT || c.verdict == MILTER_TEMPFAIL) {
		snprintf(res->reply, sizeof(res->reply), "%s", c.reply);
		rc = c.verdict == MILTER_REJECT ? CLEANUP_REJECT : CLEANUP_DEFER;
	} else if (c.verdict == MILTER_DISCARD)
		rc = CLEANUP_DISCARD;
	else if ((fp = in->message_len ? fmemopen((void *)in->message,
	    in->message_len, "r") : fopen("/dev/null", "r")) == NULL) {
		snprintf(res->reply, sizeof(res->reply),
		    "451 4.3.0 Error: queue file write error");
		rc = CLEANUP_DEFER;
	} else {
		if (c.hold)
			in2.flags |= CLEANUP_FLAG_HOLD;
		rc = cleanup_milter_queue(cm, &in2, res, mp, i, fp);
		fclose(fp);
	}
	for (i = 0; i < n; i++) {
		milter_mods_free(&mods[i]);
		free(specs[i].endpoint);
	}
	return (rc);
}
