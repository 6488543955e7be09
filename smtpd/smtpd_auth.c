/*
 * NAME
 *	smtpd_auth - the AUTH command (RFC 4954) on top of smtpd_sasl
 * SYNOPSIS
 *	#include "smtpd.h"
 *
 *	void	smtpd_auth_init(void);
 *	const char *smtpd_auth_offer(const struct smtpd_session *s);
 *	void	smtpd_auth_cmd(struct smtpd_session *s, char *arg);
 *	void	smtpd_auth_response(struct smtpd_session *s, char *line);
 *	void	smtpd_auth_reset(struct smtpd_session *s);
 * DESCRIPTION
 *	smtpd_sasl.c decides the exchange (PLAIN, LOGIN, the password
 *	backends); this module is the session's side of it.
 *	smtpd_auth_init() reads smtpd_sasl_auth_enable, smtpd_tls_auth_only,
 *	broken_sasl_auth_clients and the mechanism lists (at start-up:
 *	conf is single-threaded). smtpd_auth_offer() is what EHLO
 *	advertises after "AUTH " (NULL: nothing): only with
 *	smtpd_sasl_auth_enable, and with smtpd_tls_auth_only only after
 *	STARTTLS.
 *
 *	smtpd_auth_cmd() checks the AUTH command (enabled, after EHLO,
 *	TLS when required, not yet authenticated, no mail transaction, a
 *	mechanism), then runs smtpd_sasl_start() on a worker (the backends
 *	block: map queries, crypt, Dovecot). A "334" challenge makes the
 *	session hand the next line to smtpd_auth_response(), which runs
 *	smtpd_sasl_step() the same way. Success sets the SASL login
 *	(smtpd_check_state.sasl_username, the queue file's sasl_username
 *	and sasl_method attributes, ESMTPA/ESMTPSA).
 *
 *	Failures: each 535 is delayed by one more second than the last
 *	(up to 5s; a timer, the loop never sleeps) and counts as an error
 *	(smtpd_soft/hard_error_limit). Per client address, more than
 *	smtpd_sasl_failure_limit failures (postern; 0 = no limit) within
 *	anvil_rate_time_unit end the session with 421 4.7.0 and refuse
 *	AUTH from that address until the window passes. The table is per
 *	smtpd process (Postfix's anvil would share it between processes).
 * DIAGNOSTICS
 *	Replies as Postfix: 503 5.5.1 (not enabled, already authenticated,
 *	transaction in progress, no EHLO), 501 5.5.4 (syntax), 530 5.7.0
 *	(TLS required), and smtpd_sasl's 235/334/454/501/535 lines.
 *	smtpd_sasl logs every failure in Postfix's form for fail2ban.
 *	anvil_rate_time_unit below 1 s (it used to become 60 s without a
 *	word) and a negative smtpd_sasl_failure_limit are fatal at start,
 *	with Postfix's wording (conf_table.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "conf.h"
#include "conf_table.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "smtpd.h"
#include "smtpd_sasl.h"
#include "str.h"
#include "xalloc.h"

#define AUTH_TABLE	256		/* failure table slots (per process) */
#define AUTH_DELAY_MAX	5		/* seconds */

static int auth_enable;
static int auth_tls_only;
static int auth_broken;
static char *auth_mechs[2];		/* without, with TLS */
static long auth_fail_limit;
static long auth_window;

static struct auth_fail {
	char	 addr[64];
	time_t	 since;
	long	 count;
} auth_fails[AUTH_TABLE];

/* smtpd_sasl_failure_limit 0: no limit; anvil_rate_time_unit as Postfix */
static const struct conf_table auth_table[] = {
	CONF_BOOL("smtpd_sasl_auth_enable", &auth_enable),
	CONF_BOOL("smtpd_tls_auth_only", &auth_tls_only),
	CONF_BOOL("broken_sasl_auth_clients", &auth_broken),
	CONF_LONG("smtpd_sasl_failure_limit", &auth_fail_limit, 0, CONF_NOMAX),
	CONF_TIME("anvil_rate_time_unit", &auth_window, 1, CONF_NOMAX),
	CONF_END,
};

/* smtpd_auth_init - read the parameters once */
void
smtpd_auth_init(void)
{
	conf_table_load(auth_table);
	auth_mechs[0] = xstrdup(smtpd_sasl_mechs(0));
	auth_mechs[1] = xstrdup(smtpd_sasl_mechs(1));
	smtpd_params.sasl_enable = auth_enable;
}

/* smtpd_auth_offer - the mechanisms EHLO lists, or NULL */
const char *
smtpd_auth_offer(const struct smtpd_session *s)
{
	const char *m;

	if (!auth_enable || (auth_tls_only && !s->tls))
		return (NULL);
	m = auth_mechs[s->tls ? 1 : 0];
	return (m && *m ? m : NULL);
}

/* smtpd_auth_broken - also list "AUTH=..." for old Outlook clients */
int
smtpd_auth_broken(void)
{
	return (auth_broken);
}

/* auth_slot - the failure table entry of an address */
static struct auth_fail *
auth_slot(const char *addr)
{
	unsigned h = 2166136261u;
	const unsigned char *p;
	struct auth_fail *f;

	for (p = (const unsigned char *)addr; *p; p++)
		h = (h ^ *p) * 16777619u;
	f = &auth_fails[h % AUTH_TABLE];
	if (strcmp(f->addr, addr) != 0 || time(NULL) - f->since
	    >= auth_window) {
		snprintf(f->addr, sizeof(f->addr), "%s", addr);
		f->since = time(NULL);
		f->count = 0;
	}
	return (f);
}

/* auth_over_limit - has this client failed too often? */
static int
auth_over_limit(const char *addr)
{
	return (auth_fail_limit > 0 && auth_slot(addr)->count
	    >= auth_fail_limit);
}

/* auth_done - the worker returned: reply, remember, delay */
static void
auth_done(struct smtpd_session *s, int result, const char *reply)
{
	struct auth_fail *f;

	s->auth_wait = (result == SMTPD_SASL_MORE);
	switch (result) {
	case SMTPD_SASL_MORE:
		smtpd_reply_text(s, reply);
		return;
	case SMTPD_SASL_OK:
		free(s->sasl_user);
		s->sasl_user = xstrdup(smtpd_sasl_username(s->sasl));
		s->sasl_method = smtpd_sasl_method(s->sasl);
		smtpd_sasl_limits(s->sasl, &s->sasl_lim_msg,
		    &s->sasl_lim_rcpt);
		s->cs.sasl_username = s->sasl_user;
		s->cs.protocol = s->tls ? "ESMTPSA" : "ESMTPA";
		metrics_service_count(
		    "postern_smtpd_sasl_authentications_total",
		    "result=\"success\"");
		smtpd_reply_text(s, reply);
		return;
	case SMTPD_SASL_FAIL:
		f = auth_slot(s->client_addr);
		f->count++;
		s->auth_failures++;
		metrics_service_count(
		    "postern_smtpd_sasl_authentications_total",
		    "result=\"failure\"");
		smtpd_reply_text(s, reply);
		smtpd_session_delay(s, s->auth_failures < AUTH_DELAY_MAX
		    ? s->auth_failures : AUTH_DELAY_MAX);
		if (auth_fail_limit > 0 && f->count >= auth_fail_limit) {
			log_warn("%s: too many SASL authentication failures "
			    "(%ld in %lds)", s->namaddr, f->count, auth_window);
			smtpd_reply(s, REPLY_TOO_MANY_ERR,
			    smtpd_params.myhostname);
			smtpd_session_close(s);
		}
		return;
	default:
		smtpd_reply_text(s, reply);
		return;
	}
}

/* check_auth - enabled, EHLO seen, TLS if required, state, syntax */
static int
check_auth(struct smtpd_session *s, const char *arg)
{
	if (!auth_enable) {
		smtpd_reply_custom(s, REPLY_NEED_HELO,
		    "Error: authentication not enabled");
		return (-1);
	}
	if (auth_tls_only && !s->tls) {
		smtpd_reply(s, REPLY_NEED_TLS, NULL);
		return (-1);
	}
	if (!s->esmtp) {
		smtpd_reply(s, REPLY_NEED_HELO, NULL);
		return (-1);
	}
	if (s->sasl_user) {
		smtpd_reply_custom(s, REPLY_NEED_HELO,
		    "Error: already authenticated");
		return (-1);
	}
	if (s->sender) {
		smtpd_reply_custom(s, REPLY_NEED_HELO,
		    "Error: MAIL transaction in progress");
		return (-1);
	}
	if (*arg == 0) {
		smtpd_reply(s, REPLY_SYNTAX, "AUTH mechanism");
		return (-1);
	}
	if (auth_over_limit(s->client_addr)) {
		log_warn("%s: AUTH refused: too many authentication failures",
		    s->namaddr);
		smtpd_reply(s, REPLY_TOO_MANY_ERR, smtpd_params.myhostname);
		smtpd_session_close(s);
		return (-1);
	}
	return (0);
}

/* smtpd_auth_cmd - AUTH mechanism [initial-response] */
void
smtpd_auth_cmd(struct smtpd_session *s, char *arg)
{
	char	*cp = arg, *mech, *initial;

	if (check_auth(s, arg) < 0)
		return;
	mech = str_token(&cp, " \t");
	initial = str_token(&cp, " \t");
	if (str_token(&cp, " \t") != NULL) {
		smtpd_reply(s, REPLY_SYNTAX, "AUTH mechanism [initial-response]");
		return;
	}
	if (s->sasl == NULL)
		s->sasl = smtpd_sasl_new(s->cs.client_name, s->client_addr,
		    s->server_addr, s->tls);
	smtpd_session_auth(s, mech, initial, auth_done);
}

/* smtpd_auth_response - a client line during the exchange */
void
smtpd_auth_response(struct smtpd_session *s, char *line)
{
	smtpd_session_auth(s, NULL, line, auth_done);
}

/* smtpd_auth_reset - STARTTLS: forget the exchange and the login */
void
smtpd_auth_reset(struct smtpd_session *s)
{
	smtpd_sasl_free(s->sasl);
	s->sasl = NULL;
	free(s->sasl_user);
	s->sasl_user = NULL;
	s->sasl_method = NULL;
	s->cs.sasl_username = NULL;
	s->auth_wait = 0;
}
