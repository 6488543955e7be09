/*
 * NAME
 *	smtpd_verify - reject_unverified_recipient, reject_unverified_sender
 * SYNOPSIS
 *	See smtpd_verify.h.
 * DESCRIPTION
 *	The codes and texts are Postfix's (smtpd_check.c,
 *	reject_unverified_address): the first query of an unknown address
 *	answers "450 4.1.1 <a>: Recipient address rejected: unverified
 *	address: Address verification in progress", a bounced probe
 *	"<code> 5.1.1 ...: undeliverable address: host x[a] said: 550 ...".
 * DIAGNOSTICS
 *	See smtpd_verify.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "smtpd_verify.h"
#include "verify_clnt.h"
#include "xalloc.h"

#define VERIFY_IPC_TIMEOUT	10	/* seconds per query */

struct smtpd_verify_class {
	int	 rcode, dcode;
	int	 tf_defer;		/* tempfail_action is "defer" */
	char	*reason;		/* _reject_reason, "" if none */
};

struct smtpd_verify {
	char	*path;
	int	 poll_count;
	int	 poll_delay;
	struct smtpd_verify_class rcpt, sender;
};

/* verify_code - a reply code parameter; Postfix's default when bad */
static int
verify_code(const char *name, int def)
{
	long	 v = conf_int(name);

	if (v < 200 || v > 599) {
		log_warn("%s: bad value %ld; using %d", name, v, def);
		return (def);
	}
	return ((int)v);
}

/* verify_class - the unverified_<what>_* parameters */
static void
verify_class(struct smtpd_verify_class *c, const char *what)
{
	char	 name[64];
	const char *act;

	snprintf(name, sizeof(name), "unverified_%s_reject_code", what);
	c->rcode = verify_code(name, 450);
	snprintf(name, sizeof(name), "unverified_%s_defer_code", what);
	c->dcode = verify_code(name, 450);
	snprintf(name, sizeof(name), "unverified_%s_reject_reason", what);
	c->reason = xstrdup(conf_str(name) ? conf_str(name) : "");
	snprintf(name, sizeof(name), "unverified_%s_tempfail_action", what);
	act = conf_str(name);
	c->tf_defer = act && strcmp(act, "defer") == 0;
	if (act && strcmp(act, "defer") != 0
	    && strcmp(act, "defer_if_permit") != 0)
		log_warn("%s: unknown action \"%s\"; using defer_if_permit",
		    name, act);
}

/* smtpd_verify_new - the parameters */
struct smtpd_verify *
smtpd_verify_new(void)
{
	struct smtpd_verify *v = xcalloc(1, sizeof(*v));

	v->path = verify_clnt_path();
	v->poll_count = (int)conf_int("address_verify_poll_count");
	v->poll_delay = (int)conf_time("address_verify_poll_delay");
	if (v->poll_count < 1)
		v->poll_count = 1;
	if (v->poll_delay < 0)
		v->poll_delay = 0;
	verify_class(&v->rcpt, "recipient");
	verify_class(&v->sender, "sender");
	return (v);
}

/* smtpd_verify_free - forget the parameters */
void
smtpd_verify_free(struct smtpd_verify *v)
{
	if (v == NULL)
		return;
	free(v->path);
	free(v->rcpt.reason);
	free(v->sender.reason);
	free(v);
}

/* smtpd_verify_check - 0: go on; 1: r says what to answer */
int
smtpd_verify_check(struct smtpd_verify *v, const char *addr, int sender,
    struct smtpd_verify_reply *r)
{
	const struct smtpd_verify_class *c = sender ? &v->sender : &v->rcpt;
	char	 why[1024];
	int	 status = VERIFY_STAT_TODO, count, rc, code = 0;

	memset(r, 0, sizeof(*r));
	snprintf(r->dsn, sizeof(r->dsn), "%s", sender ? "4.1.7" : "4.1.1");
	for (count = 0;;) {
		rc = verify_clnt_query(v->path, addr, &status, why,
		    sizeof(why), VERIFY_IPC_TIMEOUT);
		if (rc < 0 || status != VERIFY_STAT_TODO)
			break;
		if (++count >= v->poll_count)
			break;
		sleep((unsigned)v->poll_delay);
	}
	if (rc < 0) {
		log_warn("verify service failure");
		r->code = 450;
		r->dip = !c->tf_defer;
		snprintf(r->text, sizeof(r->text),
		    "address verification problem");
		return (1);
	}
	switch (status) {
	case VERIFY_STAT_TODO:
	case VERIFY_STAT_DEFER:
		code = c->dcode;
		break;
	case VERIFY_STAT_BOUNCE:
		code = c->rcode;
		break;
	default:
		break;
	}
	if (code < 400)
		return (0);
	if (*c->reason)
		snprintf(why, sizeof(why), "%s", c->reason);
	r->code = code;
	if (code < 500) {
		r->dip = !c->tf_defer;
		snprintf(r->text, sizeof(r->text), "unverified address: %.250s",
		    why);
	} else
		snprintf(r->text, sizeof(r->text), "undeliverable address: %.370s",
		    why);
	return (1);
}
