/*
 * NAME
 *	smtp_deliver - one lib/deliver.h request to the smtp/lmtp agent
 * SYNOPSIS
 *	See smtp.h.
 * DESCRIPTION
 *	smtp_cfg_load() copies the parameters (main thread, at start):
 *	smtp_helo_name, smtp_connect_timeout (lmtp_connect_timeout when
 *	set, for lmtp), smtp_{helo,mail,rcpt,data_init,data_xfer,
 *	data_done,quit,starttls}_timeout, smtp_mx_address_limit,
 *	smtp_skip_5xx_greeting, smtp_line_length_limit (longer lines
 *	are folded with CRLF SP, as Postfix), disable_mime_output_conversion
 *	(8-bit MIME goes raw to a server without 8BITMIME), smtp_bind_address(6) (ignored with a
 *	warning when not an address of this host), smtp_sasl_auth_enable
 *	(lmtp_sasl_auth_enable), smtp_sasl_password_maps,
 *	smtp_sasl_mechanism_filter, smtp_sasl_security_options and
 *	smtp_sasl_tls_security_options (only "noplaintext" matters to
 *	PLAIN/LOGIN), smtp_generic_maps, smtp_tls_policy_maps, and the TLS
 *	client context (tls_client_ctx_new("smtp"), also at level none
 *	when smtp_tls_policy_maps is set; the level is
 *	lmtp_tls_security_level for lmtp). A level that is no level is
 *	fatal: 'Invalid TLS level "X"', as Postfix.
 *
 *	Each delivery first takes the nexthop's TLS policy
 *	(smtp_policy.c): a failing table or a bad entry defers every
 *	recipient before any connection; dane and dane-only are decided
 *	per address by smtp_dane_dest() (smtp_dane.c); only level may
 *	retries in plaintext after a failed handshake.
 *
 *	smtp_request() checks the request, opens and maps the queue file,
 *	rewrites sender, recipients and address headers through
 *	smtp_generic_maps, resolves the nexthop and tries its addresses in
 *	order until one session reaches MAIL FROM; then it logs one
 *	Postfix line per recipient ("to=<...>, relay=host[addr]:port,
 *	delay=, delays=a/b/c/d, dsn=, status=sent|deferred|bounced (...)")
 *	and writes the answer.
 * DIAGNOSTICS
 *	A timeout below its minimum (1 s; 0 for smtp_connect_timeout) or
 *	a negative smtp_mx_address_limit is fatal at start, with
 *	Postfix's wording (conf_table.h).
 *	A malformed request is answered with rcpt_count=0; every other
 *	problem is a recipient result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "buf.h"
#include "conf.h"
#include "conf_table.h"
#include "deliver.h"
#include "deliver_log.h"
#include "log.h"
#include "map.h"
#include "queue.h"
#include "smtp.h"
#include "smtp_cache.h"
#include "smtp_capture.h"
#include "smtp_sts.h"
#include "tls.h"
#include "xalloc.h"


/* cfg_dup - expanded parameter, copied */
static char *
cfg_dup(const char *name)
{
	return (xstrdup(conf_str(name)));
}

/* has_word - does list parameter contain word? */
static int
has_word(const char *name, const char *word)
{
	struct strv *v = conf_list(name);
	size_t	 i;
	int	 found = 0;

	for (i = 0; v && i < v->argc; i++)
		if (strcasecmp(v->argv[i], word) == 0)
			found = 1;
	strv_free(v);
	return (found);
}

/* bind_addr - a usable bind address or NULL */
static char *
bind_addr(const char *name)
{
	const char *v = conf_str(name);

	if (v == NULL || *v == 0)
		return (NULL);
	if (!smtp_bind_usable(v)) {
		log_warn("%s = %s is not an address of this host: connecting "
		    "without binding", name, log_safe(v));
		return (NULL);
	}
	return (xstrdup(v));
}

/* tls_level - the configured client level (without a context) */
static int
tls_level(const char *name, const char *use, const char *enforce)
{
	const char *v = conf_str(name);
	char	 err[300];
	int	 lev;

	if ((v == NULL || *v == 0) && use == NULL)
		return (TLS_LEV_NONE);
	if (v == NULL || *v == 0)
		return (conf_bool(enforce) ? TLS_LEV_ENCRYPT : conf_bool(use)
		    ? TLS_LEV_MAY : TLS_LEV_NONE);
	if ((lev = tls_level_check(name, v, err, sizeof(err))) < 0)
		log_fatal("%s", err);	/* Postfix's words; postern check */
	return (lev);
}

/* smtp_cfg_load - copy the parameters (main thread) */
void
smtp_cfg_load(struct smtp_cfg *cfg, const char *service)
{
	/* Minimums are Postfix's: 0 connect timeout or MX limit is none. */
	const struct conf_table table[] = {
		CONF_TIME("smtp_connect_timeout", &cfg->connect_timeout, 0,
		    CONF_NOMAX),
		CONF_TIME("smtp_helo_timeout", &cfg->helo_timeout, 1,
		    CONF_NOMAX),
		CONF_TIME("smtp_mail_timeout", &cfg->mail_timeout, 1,
		    CONF_NOMAX),
		CONF_TIME("smtp_rcpt_timeout", &cfg->rcpt_timeout, 1,
		    CONF_NOMAX),
		CONF_TIME("smtp_data_init_timeout", &cfg->data_init_timeout, 1,
		    CONF_NOMAX),
		CONF_TIME("smtp_data_xfer_timeout", &cfg->data_xfer_timeout, 1,
		    CONF_NOMAX),
		CONF_TIME("smtp_data_done_timeout", &cfg->data_done_timeout, 1,
		    CONF_NOMAX),
		CONF_TIME("smtp_quit_timeout", &cfg->quit_timeout, 1,
		    CONF_NOMAX),
		CONF_TIME("smtp_starttls_timeout", &cfg->starttls_timeout, 1,
		    CONF_NOMAX),
		CONF_LONG("smtp_mx_address_limit", &cfg->mx_address_limit, 0,
		    CONF_NOMAX),
		CONF_BOOL("smtp_skip_5xx_greeting", &cfg->skip_5xx_greeting),
		CONF_BOOL("smtp_use_bdat", &cfg->use_bdat),
		CONF_LONG("smtp_line_length_limit", &cfg->line_limit, 0,
		    CONF_NOMAX),
		CONF_BOOL("disable_mime_output_conversion",
		    &cfg->mime_oconv_off),
		CONF_END,
	};
	char	 err[512];
	long	 t;

	memset(cfg, 0, sizeof(*cfg));
	cfg->service = xstrdup(service && *service ? service : "smtp");
	cfg->lmtp = strcmp(cfg->service, "lmtp") == 0;
	cfg->queue_dir = cfg_dup("queue_directory");
	cfg->helo_name = cfg_dup("smtp_helo_name");
	if (*cfg->helo_name == 0) {
		free(cfg->helo_name);
		cfg->helo_name = cfg_dup("myhostname");
	}
	conf_table_load(table);
	if (cfg->lmtp && (t = conf_time("lmtp_connect_timeout")) > 0)
		cfg->connect_timeout = t;
	/* LMTP connections are reused (Dovecot: one session, many mails) */
	if (cfg->lmtp && conf_bool("lmtp_connection_cache_on_demand"))
		cfg->conn_cache_limit = conf_time(
		    "lmtp_connection_cache_time_limit");
	smtp_cache_init(cfg->conn_cache_limit);
	if (!cfg->lmtp) {
		cfg->bind4 = bind_addr("smtp_bind_address");
		cfg->bind6 = bind_addr("smtp_bind_address6");
	}
	cfg->sasl_enable = conf_bool(cfg->lmtp ? "lmtp_sasl_auth_enable"
	    : "smtp_sasl_auth_enable");
	cfg->sasl_maps = cfg_dup("smtp_sasl_password_maps");
	cfg->sasl_filter = cfg_dup("smtp_sasl_mechanism_filter");
	cfg->sasl_noplain = has_word("smtp_sasl_security_options",
	    "noplaintext");
	cfg->sasl_tls_noplain = has_word("smtp_sasl_tls_security_options",
	    "noplaintext");
	cfg->generic_maps = cfg_dup("smtp_generic_maps");
	if (cfg->sasl_enable && *cfg->sasl_maps == 0)
		log_warn("smtp_sasl_auth_enable = yes but "
		    "smtp_sasl_password_maps is empty: no AUTH");
	cfg->tls_level = cfg->lmtp ? tls_level("lmtp_tls_security_level",
	    NULL, NULL) : tls_level(
	    "smtp_tls_security_level", "smtp_use_tls", "smtp_enforce_tls");
	cfg->policy_maps = cfg_dup("smtp_tls_policy_maps");
	/* a policy (or MTA-STS) may require TLS where the level is none */
	if (cfg->tls_level > TLS_LEV_NONE || *cfg->policy_maps
	    || (!cfg->lmtp && conf_bool("smtp_mta_sts_enable"))) {
		if ((cfg->tls = tls_client_ctx_new("smtp", err,
		    sizeof(err))) == NULL) {
			cfg->tls_error = xstrdup(err);
			log_warn("TLS client: %s: %s", err, cfg->tls_level
			    >= TLS_LEV_ENCRYPT ? "deliveries will be "
			    "deferred" : "delivering without TLS");
		} else if (!cfg->lmtp)
			cfg->tls_level = tls_ctx_level(cfg->tls);
	}
	cfg->verify_match = cfg_dup("smtp_tls_verify_cert_match");
	cfg->secure_match = cfg_dup("smtp_tls_secure_cert_match");
	smtp_capture_init();
}

/* smtp_cfg_free - release it */
void
smtp_cfg_free(struct smtp_cfg *cfg)
{
	free(cfg->service);
	free(cfg->queue_dir);
	free(cfg->helo_name);
	free(cfg->bind4);
	free(cfg->bind6);
	free(cfg->sasl_maps);
	free(cfg->sasl_filter);
	free(cfg->generic_maps);
	free(cfg->tls_error);
	free(cfg->verify_match);
	free(cfg->secure_match);
	free(cfg->policy_maps);
	tls_ctx_free(cfg->tls);
	memset(cfg, 0, sizeof(*cfg));
}

/* smtp_maps_open - this thread's map handles */
struct smtp_maps *
smtp_maps_open(const struct smtp_cfg *cfg)
{
	struct smtp_maps *m = xcalloc(1, sizeof(*m));

	if (*cfg->generic_maps)
		m->generic = maplist_open(cfg->generic_maps, 0);
	if (cfg->sasl_enable && *cfg->sasl_maps)
		m->sasl = maplist_open(cfg->sasl_maps, MAP_NO_FOLD);
	if (*cfg->policy_maps)
		m->tls_policy = maplist_open(cfg->policy_maps, 0);
	return (m);
}

/* smtp_maps_close - close them */
void
smtp_maps_close(struct smtp_maps *m)
{
	if (m == NULL)
		return;
	if (m->generic)
		maplist_close(m->generic);
	if (m->sasl)
		maplist_close(m->sasl);
	if (m->tls_policy)
		maplist_close(m->tls_policy);
	free(m);
}

/* fail_all - every undecided recipient gets status/reason */
static void
fail_all(struct smtp_rcpt *r, size_t n, const char *status,
    const char *reason)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (r[i].action)
			continue;
		r[i].action = status[0] == '5' ? DELIVER_ACTION_BOUNCED
		    : DELIVER_ACTION_DEFERRED;
		snprintf(r[i].status, sizeof(r[i].status), "%s", status);
		snprintf(r[i].reason, sizeof(r[i].reason), "%s", reason);
	}
}

/* unix_path_abs - "unix:private/x" is relative to queue_directory */
static int
unix_path_abs(const struct smtp_cfg *cfg, struct smtp_nexthop *nh,
    char *err, size_t errlen)
{
	char	 path[sizeof(nh->unix_path)];

	if (nh->unix_path[0] == 0 || nh->unix_path[0] == '/')
		return (0);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", cfg->queue_dir,
	    nh->unix_path) >= sizeof(path)) {
		snprintf(err, errlen, "LMTP socket path too long: %s/%s",
		    log_safe(cfg->queue_dir), log_safe(nh->unix_path));
		return (-1);
	}
	memcpy(nh->unix_path, path, sizeof(path));
	return (0);
}

/*
 * tls_session_policy - the nexthop's TLS level, match and protocols into
 * s (strings in pol, released by the caller); -1: every recipient
 * deferred (a policy that fails), nothing sent
 */
static int
tls_session_policy(const struct smtp_cfg *cfg, struct smtp_maps *m,
    struct smtp_sess *s, const char *nexthop, struct tls_policy *pol)
{
	char	 status[16], err[600];

	if (smtp_tls_policy(cfg, m, nexthop, pol, status, err,
	    sizeof(err)) < 0) {
		log_warn("%s: %s", s->queue_id, err);
		fail_all(s->rcpts, s->nrcpt, status, err);
		return (-1);
	}
	s->tls_level = pol->level;
	smtp_ext_level(s);	/* REQUIRETLS, TLS-Required: no */
	s->tls_protocols = pol->protocols;
	s->tls_match = pol->match ? pol->match : pol->level == TLS_LEV_SECURE
	    ? cfg->secure_match : cfg->verify_match;
	return (0);
}

static double deliver_dests(const struct smtp_cfg *, struct smtp_maps *,
    struct smtp_sess *, const char *, char *, size_t);

/* deliver - the nexthop's TLS policy, then its addresses */
static double
deliver(const struct smtp_cfg *cfg, struct smtp_maps *m,
    struct smtp_sess *s, const char *nexthop, char *relay, size_t relaylen)
{
	struct tls_policy pol;
	double	 done;

	snprintf(relay, relaylen, "none");
	if (tls_session_policy(cfg, m, s, nexthop, &pol) < 0)
		return (0);
	if (smtp_capture_dir() != NULL)	/* postern sandbox */
		done = smtp_capture(cfg, m, s, nexthop, relay, relaylen);
	else
		done = deliver_dests(cfg, m, s, nexthop, relay, relaylen);
	s->tls_match = s->tls_protocols = NULL;
	tls_policy_free(&pol);
	return (done);
}

/* deliver_dests - resolve and run sessions until one reaches MAIL */
static double
deliver_dests(const struct smtp_cfg *cfg, struct smtp_maps *m,
    struct smtp_sess *s, const char *nexthop, char *relay, size_t relaylen)
{
	struct smtp_nexthop nh;
	struct smtp_dest *dests = NULL;
	size_t	 n = 0, i;
	char	 err[512], status[16] = "4.3.5";
	double	 conn_done = 0;

	if (smtp_nexthop_parse(nexthop, cfg->lmtp, &nh, err, sizeof(err)) < 0) {
		log_warn("%s: %s", s->queue_id, err);
		fail_all(s->rcpts, s->nrcpt, "4.3.5", err);
		return (0);
	}
	if (unix_path_abs(cfg, &nh, err, sizeof(err)) < 0) {
		log_warn("%s: %s", s->queue_id, err);
		fail_all(s->rcpts, s->nrcpt, "4.3.5", err);
		return (0);
	}
	if (smtp_addr_resolve(cfg, &nh, &dests, &n, status, err,
	    sizeof(err)) < 0) {
		fail_all(s->rcpts, s->nrcpt, status, err);
		return (0);
	}
	(void)smtp_sts_nexthop(s, &nh);	/* MTA-STS policy, if any */
	for (i = 0; i < n; i++) {
		s->dest = &dests[i];
		/* DANE: the level here; then MTA-STS where DANE is not */
		if (smtp_dane_dest(s, &nh) == 0 && smtp_sts_dest(s) == 0)
			smtp_session(s);
		/* only level may falls back to plaintext, never a policy's
		 * encrypt, verify, secure or fingerprint */
		if (s->tls_failed && !s->no_tls && !s->reached_mail
		    && s->tls_level == TLS_LEV_MAY) {
			log_info("%s: %s; trying again without TLS",
			    s->queue_id, s->reason);
			s->no_tls = 1;
			smtp_session(s);
		}
		s->no_tls = 0;
		smtp_sts_after(s);
		/* Postfix names the relay once a connection was made: a 421
		 * greeting or a refused STARTTLS too */
		if (!s->connected)
			snprintf(relay, relaylen, "none");
		else if (*dests[i].unix_path)
			snprintf(relay, relaylen, "%s[%s]",
			    dests[i].host, dests[i].unix_path);
		else
			snprintf(relay, relaylen, "%s[%s]:%d",
			    dests[i].host, dests[i].addr, dests[i].port);
		if (s->status[0] == 0 || s->reached_mail) {
			conn_done = s->conn_done;
			break;
		}
		if (i + 1 < n)
			log_info("%s: %s", s->queue_id, s->reason);
	}
	if (i == n)
		fail_all(s->rcpts, s->nrcpt, s->status, s->reason);
	else
		fail_all(s->rcpts, s->nrcpt, s->status[0] ? s->status : "4.4.2",
		    s->reason[0] ? s->reason : "no reply from server");
	smtp_sts_done(s);
	smtp_dane_done(s);
	free(dests);
	return (conn_done);
}

/* rewrite - generic maps on sender, recipients and headers; -1 retry */
static int
rewrite(struct smtp_maps *m, struct smtp_sess *s, char **sender,
    const char *msg, size_t len, struct buf *hdrs, char *err, size_t errlen)
{
	const char *end;
	char	*out;
	size_t	 i, hlen;
	int	 rc;

	rc = smtp_generic_addr(m->generic, s->sender, &out);
	if (rc == MAP_RETRY)
		goto retry;
	*sender = rc == MAP_FOUND ? out : xstrdup(s->sender);
	for (i = 0; i < s->nrcpt; i++) {
		rc = smtp_generic_addr(m->generic, s->rcpts[i].addr, &out);
		if (rc == MAP_RETRY)
			goto retry;
		s->rcpts[i].sent = rc == MAP_FOUND ? out
		    : xstrdup(s->rcpts[i].addr);
	}
	/* The header block ends with the first empty line (kept). */
	if (len > 0 && msg[0] == '\n')
		hlen = 0;
	else if ((end = memmem(msg, len, "\n\n", 2)) != NULL)
		hlen = (size_t)(end - msg) + 2;
	else
		hlen = len;
	if (smtp_generic_headers(m->generic, msg, hlen, hdrs, err,
	    errlen) < 0)
		return (-1);
	s->headers = BUF_STR(hdrs);
	s->headers_len = BUF_LEN(hdrs);
	s->body = msg + hlen;
	s->body_len = len - hlen;
	return (0);
retry:
	snprintf(err, errlen, "smtp_generic_maps lookup failed: %s",
	    maplist_error(m->generic));
	return (-1);
}

/* probe_status - Postfix's status word for an address probe */
static const char *
probe_status(const char *action)
{
	if (action && strcmp(action, DELIVER_ACTION_DELIVERED) == 0)
		return ("deliverable");
	if (action && strcmp(action, DELIVER_ACTION_BOUNCED) == 0)
		return ("undeliverable");
	return ("deferred");
}

/* smtp_request - serve one request, answer into resp */
void
smtp_request(const struct smtp_cfg *cfg, struct smtp_maps *m,
    const struct attr_list *req, struct buf *resp)
{
	struct smtp_sess s;
	struct smtp_rcpt *rc;
	struct deliver_msg msg;
	struct buf *hdrs = buf_new(4096);
	const char *why, *id = attr_get(req, "queue_id");
	char	 err[512], name[64], relay[700];
	char	*sender = NULL;
	long	 count = 0, i, idx;
	double	 start, conn_done = 0, end;

	attr_put(resp, "version", ATTR_VERSION);
	if ((why = deliver_request_check(req, 1, &count)) != NULL) {
		log_warn("malformed delivery request: %s", why);
		attr_put_long(resp, "rcpt_count", 0);
		attr_end(resp);
		buf_free(hdrs);
		return;
	}
	start = deliver_log_now();
	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.maps = m;
	s.queue_id = id;
	s.nexthop = attr_get(req, "nexthop");
	s.nrcpt = (size_t)count;
	s.rcpts = rc = xcalloc(s.nrcpt, sizeof(*rc));
	s.sender = attr_get(req, "sender");
	s.probe = attr_get(req, "verify_probe") != NULL;
	snprintf(relay, sizeof(relay), "none");
	for (i = 0; i < count; i++) {
		rc[i].addr = deliver_rcpt_attr(req, i, "addr");
		rc[i].orig = deliver_rcpt_attr(req, i, "orig");
		snprintf(name, sizeof(name), "rcpt.%ld.notify", i);
		if (attr_get_long(req, name, &rc[i].notify) < 0)
			rc[i].notify = 0;
	}
	(void)deliver_msg_open(&msg, cfg->queue_dir, req, err, sizeof(err));
	for (i = 0; msg.text != NULL && i < count; i++) {
		snprintf(name, sizeof(name), "rcpt.%ld.index", i);
		(void)attr_get_long(req, name, &idx);
		if ((size_t)idx >= msg.qf->nrcpts) {
			rc[i].action = DELIVER_ACTION_DEFERRED;
			strcpy(rc[i].status, "4.3.0");
			snprintf(rc[i].reason, sizeof(rc[i].reason),
			    "recipient index %ld not in queue file", idx);
		}
	}
	if (msg.text == NULL) {
		char	 reason[600];

		snprintf(reason, sizeof(reason), "cannot read queue file: %s",
		    err);
		fail_all(rc, s.nrcpt, "4.3.0", reason);
	} else if (rewrite(m, &s, &sender, msg.text, msg.len, hdrs, err,
	    sizeof(err)) < 0)
		fail_all(rc, s.nrcpt, "4.3.0", err);
	else {
		s.sender = sender;
		s.envid = queue_file_attr(msg.qf, "dsn_envid");
		s.ret = queue_file_attr(msg.qf, "dsn_ret");
		smtp_ext_init(&s, msg.qf);	/* SMTPUTF8, REQUIRETLS */
		conn_done = deliver(cfg, m, &s, s.nexthop, relay,
		    sizeof(relay));
	}
	end = deliver_log_now();
	if (conn_done == 0)
		conn_done = end;
	attr_put_long(resp, "rcpt_count", count);
	for (i = 0; i < count; i++) {
		struct deliver_log e = {
			.queue_id = id, .rcpt = rc[i].addr,
			.orig_rcpt = rc[i].orig, .relay = relay,
			.dsn = rc[i].status,
			.status = s.probe ? probe_status(rc[i].action)
			    : deliver_log_status(rc[i].action),
			.reason = rc[i].reason, .arrival = msg.arrival,
			/* the agent's start stands for qmgr's hand-off */
			.active = start, .handoff = start,
			.conn_done = conn_done, .done = end,
		};

		deliver_log(&e);
		snprintf(name, sizeof(name), "rcpt.%ld.status", i);
		attr_put(resp, name, rc[i].status);
		snprintf(name, sizeof(name), "rcpt.%ld.action", i);
		attr_put(resp, name, rc[i].action);
		snprintf(name, sizeof(name), "rcpt.%ld.reason", i);
		attr_put(resp, name, rc[i].reason);
		snprintf(name, sizeof(name), "rcpt.%ld.relay", i);
		attr_put(resp, name, relay);
		if (rc[i].dsn_action && rc[i].action
		    && strcmp(rc[i].action, DELIVER_ACTION_DELIVERED) == 0) {
			snprintf(name, sizeof(name), "rcpt.%ld.dsn_action", i);
			attr_put(resp, name, rc[i].dsn_action);
		}
		free(rc[i].sent);
	}
	attr_end(resp);
	free(rc);
	free(sender);
	buf_free(hdrs);
	deliver_msg_close(&msg);
}
