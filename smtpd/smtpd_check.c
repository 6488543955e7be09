/*
 * NAME
 *	smtpd_check - the smtpd access policy (smtpd_*_restrictions)
 * SYNOPSIS
 *	See smtpd_check.h.
 * DESCRIPTION
 *	Postfix's restriction engine (src/smtpd/smtpd_check.c) for the
 *	restrictions the seed configuration uses, with Postfix's reply
 *	codes, enhanced status codes and texts, so that logs and clients
 *	see what they would see from Postfix.
 *
 *	A checker holds one thread's map handles; a check context holds
 *	what one smtpd_check() call accumulates: the pending
 *	warn_if_reject, defer_if_permit and defer_if_reject, the final
 *	reply. Restriction lists are tokenized once (maplist-style, so
 *	inline:{a=b, c=d} stays one token).
 *
 *	Implemented restrictions: permit, reject, defer, defer_if_permit,
 *	defer_if_reject, warn_if_reject, permit_mynetworks,
 *	permit_sasl_authenticated, reject_unauth_pipelining,
 *	reject_unknown_client_hostname (reject_unknown_client),
 *	reject_unknown_reverse_client_hostname, check_client_access,
 *	reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname,
 *	reject_unknown_helo_hostname (and the pre-2.3 names without
 *	"helo_"), check_helo_access, reject_non_fqdn_sender,
 *	reject_unknown_sender_domain, reject_unlisted_sender,
 *	check_sender_access, reject_sender_login_mismatch and its
 *	authenticated/unauthenticated variants, reject_non_fqdn_recipient,
 *	reject_unknown_recipient_domain, reject_unlisted_recipient,
 *	check_recipient_access, permit_auth_destination,
 *	reject_unauth_destination, defer_unauth_destination,
 *	reject_rbl_client, permit_dnswl_client, reject_rhsbl_client,
 *	reject_rhsbl_reverse_client, reject_rhsbl_helo,
 *	reject_rhsbl_sender, reject_rhsbl_recipient, permit_tls_clientcerts
 *	and permit_tls_all_clientcerts (relay_clientcerts fingerprints),
 *	check_ccert_access, check_{client,reverse_client_hostname,helo,
 *	sender,recipient}_{mx,ns,a}_access, check_reverse_client_hostname_access,
 *	permit_mx_backup (permit_mx_backup_networks: address/prefix only),
 *	reject_multi_recipient_bounce, reject_plaintext_session,
 *	check_sasl_access, permit_rhswl_client, permit_inet_interfaces,
 *	check_recipient_maps, sleep, check_policy_service
 *	(smtpd_policy.c: the server's action is taken as an access table
 *	result; smtpd_policy_service_default_action when it cannot answer),
 *	and the names of smtpd_restriction_classes.
 *
 *	reject_unverified_sender and reject_unverified_recipient ask the
 *	verify service (smtpd_verify.c). sc_unimplemented() lists the
 *	Postfix restrictions postern does not implement (none since issue
 *	11): one there is logged once as a warning and acts as "dunno".
 *
 *	A domain's class (local, virtual alias, virtual mailbox, relay,
 *	default) comes from resolve/resolve.h, the resolver qmgr routes
 *	with: what smtpd accepts as ours is what qmgr delivers as ours.
 *	mysql: answers come from the process's lookup cache
 *	(maps/map_cache.h), shared by its threads: a row added to or
 *	removed from such a table is seen by a running smtpd within
 *	lookup_cache_time (5 s). Table errors are never remembered.
 * DIAGNOSTICS
 *	Map trouble: "451 4.3.0 <name>: Temporary lookup failure" at once.
 *	DNS trouble: 450 (defer_if_permit), never 5xx. An unknown
 *	restriction: warning, "451 4.3.5 Server configuration error".
 *	A *_reject_code / *_defer_code parameter that is not a number from
 *	400 to 599 is fatal with Postfix's wording (conf_table.h); it used
 *	to be replaced by the built-in default without a word.
 */
#include <sys/types.h>
#include <ctype.h>
#include <stddef.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "conf.h"
#include "conf_table.h"
#include "dns.h"
#include "dsn.h"
#include "log.h"
#include "metrics.h"
#include "map.h"
#include "map_cache.h"
#include "resolve.h"
#include "smtpd_check.h"
#include "smtpd_check_inline.h"
#include "smtpd_override.h"
#include "smtpd_check_dns.h"
#include "smtpd_policy.h"
#include "smtpd_verify.h"
#include "str.h"
#include "xalloc.h"

/*
 * A try on the event loop (smtpd_check_inline.c) logs nothing while it
 * runs: what it would log (sc_log()'s lines with their metrics_reject,
 * warnings) is kept in order in its pending list, logged by
 * smtpd_check_inline_log(1) when the try ends without a miss, and
 * dropped by smtpd_check_inline_log(0) when it missed: the worker runs
 * the stage again from the start and logs it then. One line, once.
 */
struct sc_pend {
	int	 warn;			/* log_warn(), else log_info() */
	char	*text;
	char	*verb, *reply;		/* metrics_reject(), or NULL */
};

static __thread struct sc_pend *sc_pend;
static __thread size_t sc_npend, sc_pend_size;

static void sc_pend_add(int, const char *, const char *, const char *);
static void __attribute__((format(printf, 1, 2))) sc_pend_warn(const char *,
    ...);

#define log_warn(...) do { \
	if (map_cache_only_active()) \
		sc_pend_warn(__VA_ARGS__); \
	else \
		(log_warn)(__VA_ARGS__); \
} while (0)

#define SC_DUNNO	0
#define SC_PERMIT	1
#define SC_FINAL	2	/* reply is set: reject or defer */

#define SC_MAX_DEPTH	10
#define POLICY_ACTION_MAX 1024	/* action=... of a policy reply */

/* restriction list classes, in smtpd_delay_reject order */
enum sc_list {
	SC_LIST_CLIENT, SC_LIST_HELO, SC_LIST_SENDER, SC_LIST_RELAY,
	SC_LIST_RCPT, SC_LIST_DATA, SC_LIST_COUNT
};

static const char *sc_list_param[SC_LIST_COUNT] = {
	"smtpd_client_restrictions", "smtpd_helo_restrictions",
	"smtpd_sender_restrictions", "smtpd_relay_restrictions",
	"smtpd_recipient_restrictions", "smtpd_data_restrictions",
};

struct sc_access_map {
	char	*spec;
	struct map *map;
};

struct sc_policy_svc {
	char	*spec;			/* the restriction's argument */
	struct smtpd_policy *p;
	char	*def_action, *context;	/* { ..., name=value } or main.cf */
};

struct sc_class_def {
	char	*name;
	struct strv *list;
};

struct smtpd_checker {
	struct strv *lists[SC_LIST_COUNT];
	int	 delay_reject;
	int	 rej_unl_rcpt;
	int	 rej_unl_from;
	int	 peername_lookup;
	struct resolve *resolve;	/* domain classes (resolve/) */
	struct maplist *valias_maps, *vmbox_maps, *relay_rcpt_maps;
	struct maplist *rcpt_canon_maps, *canon_maps;
	struct maplist *local_rcpt_maps, *login_maps;
	int	 local_rcpt_on;
	struct strv *mynet_cidrs;
	struct maplist *mynet_maps;
	char	*delims, *null_key;
	char	*unv_sender_reason, *unv_rcpt_reason;
	int	 unk_addr_code, unk_client_code, unk_name_code;
	int	 invalid_name_code, non_fqdn_code, local_rcpt_code;
	int	 vmbox_code, valias_code, relay_rcpt_code, relay_code;
	int	 access_reject_code, access_defer_code, defer_code;
	int	 reject_code, rbl_code;
	struct sc_access_map *amaps;
	size_t	 namaps;
	struct sc_class_def *classes;
	size_t	 nclasses;
	struct strv *warned;
	int	 relay_safe;		/* a relay-blocking restriction */
	struct smtpd_policy_conf pconf;	/* check_policy_service */
	struct sc_policy_svc *pols;	/* this thread's clients */
	size_t	 npols;
	char	*pol_default, *pol_context, *compat_level, *mail_version;
	char	*stress;
	struct smtpd_verify *verify;	/* reject_unverified_* */
	/* sc_more_init(): issue 11's restrictions */
	struct maplist *relay_ccerts;	/* relay_clientcerts */
	char	*mx_nets;		/* permit_mx_backup_networks */
	int	 plaintext_code, mul_rcpt_code, ask_ccert, sasl_enable;
};

struct sc_ctx {
	struct smtpd_checker *c;
	struct smtpd_check_state *st;
	const char *verb;
	struct buf *reply;
	int	 result;		/* SMTPD_CHECK_* when SC_FINAL */
	int	 warn_next;		/* warn_if_reject pending */
	int	 defer_if_reject;
	int	 dip_set;
	char	 dip[512];		/* defer_if_permit reply */
	int	 depth;
	int	 rcpt_checked;		/* reject_unlisted_recipient ran */
	int	 from_checked;		/* reject_unlisted_sender ran */
	struct {
		const char *addr;	/* sender or recipient of this call */
		int	 cls;
	}	 resolved[2];		/* saves repeated domain lookups */
};

static pthread_mutex_t sc_conf_lock = PTHREAD_MUTEX_INITIALIZER;

static int sc_list_eval(struct sc_ctx *, const struct strv *, int);
static struct map *sc_access_map(struct smtpd_checker *, const char *);
static int sc_takes_arg(const char *);
static int sc_policy(struct sc_ctx *, const char *, const char *,
    const char *, int);
static void sc_more_init(struct smtpd_checker *);
static void sc_more_free(struct smtpd_checker *);

/* sc_split - split a restriction list, keeping {...} groups whole */
static struct strv *
sc_split(const char *text)
{
	struct strv *v = strv_new();
	const char *p = text, *start;
	int	 depth;
	char	*tok;

	while (*p) {
		while (*p && strchr(STR_LIST_DELIMS, *p))
			p++;
		if (*p == 0)
			break;
		start = p;
		depth = 0;
		while (*p && (depth > 0 || !strchr(STR_LIST_DELIMS, *p))) {
			if (*p == '{')
				depth++;
			else if (*p == '}' && depth > 0)
				depth--;
			p++;
		}
		tok = xstrndup(start, (size_t)(p - start));
		strv_add(v, tok);
		free(tok);
	}
	return (v);
}

/* sc_maplist - open a list parameter, NULL when empty */
static struct maplist *
sc_maplist(const char *param)
{
	const char *v = conf_str(param);

	if (v == NULL || v[strspn(v, STR_LIST_DELIMS)] == 0)
		return (NULL);
	return (maplist_open(v, 0));
}

/* sc_is_table - "type:name" rather than an IPv6 network */
static int
sc_is_table(const char *t)
{
	size_t	 n = strcspn(t, ":");

	return (t[n] == ':' && n > 0 && *t != '['
	    && strspn(t, "0123456789abcdefABCDEF") < n);
}

/* sc_init_networks - mynetworks */
static void
sc_init_networks(struct smtpd_checker *c)
{
	struct strv *v = conf_mynetworks();
	struct buf *maps = buf_new(64);
	size_t	 i;
	char	*t;

	c->mynet_cidrs = strv_new();
	for (i = 0; v && i < v->argc; i++) {
		t = v->argv[i];
		if (sc_is_table(t))
			buf_printf(maps, "%s%s", BUF_LEN(maps) ? " " : "", t);
		else
			strv_add(c->mynet_cidrs, t);
	}
	strv_free(v);
	if (BUF_LEN(maps))
		c->mynet_maps = maplist_open(BUF_STR(maps), 0);
	buf_free(maps);
}

/* sc_init_classes - smtpd_restriction_classes */
static void
sc_init_classes(struct smtpd_checker *c)
{
	struct strv *v = sc_split(conf_str("smtpd_restriction_classes"));
	size_t	 i;

	c->classes = xcalloc(v->argc + 1, sizeof(*c->classes));
	for (i = 0; i < v->argc; i++) {
		c->classes[c->nclasses].name = xstrdup(v->argv[i]);
		c->classes[c->nclasses].list = sc_split(conf_str(v->argv[i]));
		c->nclasses++;
	}
	strv_free(v);
}

/* sc_init_codes - reply codes and texts */
static void
sc_init_codes(struct smtpd_checker *c)
{
	/* A reply code outside 4xx/5xx is fatal (it used to be ignored). */
	const struct conf_table codes[] = {
		CONF_INT("unknown_address_reject_code",
		    &c->unk_addr_code, 400, 599),
		CONF_INT("unknown_client_reject_code",
		    &c->unk_client_code, 400, 599),
		CONF_INT("unknown_hostname_reject_code",
		    &c->unk_name_code, 400, 599),
		CONF_INT("invalid_hostname_reject_code",
		    &c->invalid_name_code, 400, 599),
		CONF_INT("non_fqdn_reject_code", &c->non_fqdn_code, 400, 599),
		CONF_INT("unknown_local_recipient_reject_code",
		    &c->local_rcpt_code, 400, 599),
		CONF_INT("unknown_virtual_mailbox_reject_code",
		    &c->vmbox_code, 400, 599),
		CONF_INT("unknown_virtual_alias_reject_code",
		    &c->valias_code, 400, 599),
		CONF_INT("unknown_relay_recipient_reject_code",
		    &c->relay_rcpt_code, 400, 599),
		CONF_INT("relay_domains_reject_code", &c->relay_code, 400, 599),
		CONF_INT("access_map_reject_code",
		    &c->access_reject_code, 400, 599),
		CONF_INT("access_map_defer_code",
		    &c->access_defer_code, 400, 599),
		CONF_INT("defer_code", &c->defer_code, 400, 599),
		CONF_INT("reject_code", &c->reject_code, 400, 599),
		CONF_INT("maps_rbl_reject_code", &c->rbl_code, 400, 599),
		CONF_END,
	};

	conf_table_load(codes);
	c->delims = xstrdup(conf_str("recipient_delimiter"));
	c->null_key = xstrdup(conf_str("smtpd_null_access_lookup_key"));
	c->unv_sender_reason =
	    xstrdup(conf_str("unverified_sender_reject_reason"));
	c->unv_rcpt_reason =
	    xstrdup(conf_str("unverified_recipient_reject_reason"));
}

/* sc_has_required - does a list (or a class it names) block relaying? */
static int
sc_has_required(struct smtpd_checker *c, const struct strv *v, int depth)
{
	static const char *const req[] = {"reject", "defer",
	    "defer_if_permit", "reject_unauth_destination",
	    "defer_unauth_destination", NULL};
	size_t	 i, k;
	int	 j;

	for (i = 0; v && i < v->argc && depth < SC_MAX_DEPTH; i++) {
		for (j = 0; req[j]; j++)
			if (strcmp(v->argv[i], req[j]) == 0)
				return (1);
		for (k = 0; k < c->nclasses; k++)
			if (strcmp(v->argv[i], c->classes[k].name) == 0
			    && sc_has_required(c, c->classes[k].list,
			    depth + 1))
				return (1);
	}
	return (0);
}

/* sc_open_list_maps - open the tables a restriction list names */
static void
sc_open_list_maps(struct smtpd_checker *c, const struct strv *v)
{
	size_t	 i;

	for (i = 0; i + 1 < v->argc; i++) {
		if (!sc_takes_arg(v->argv[i]))
			continue;
		if (strncmp(v->argv[i], "check_", 6) == 0
		    && str_ends_with(v->argv[i], "_access"))
			sc_access_map(c, v->argv[i + 1]);
		i++;
	}
}

/* sc_open_access_maps - all check_*_access tables, at start-up (an
 * access table result that names another table opens it on use) */
static void
sc_open_access_maps(struct smtpd_checker *c)
{
	size_t	 i;

	for (i = 0; i < SC_LIST_COUNT; i++)
		sc_open_list_maps(c, c->lists[i]);
	for (i = 0; i < c->nclasses; i++)
		sc_open_list_maps(c, c->classes[i].list);
}

/* smtpd_check_new - a checker with this thread's map handles */
struct smtpd_checker *
smtpd_check_new(void)
{
	struct smtpd_checker *c = xcalloc(1, sizeof(*c));
	struct resolve_conf rc;
	char	 err[256];
	int	 i;

	pthread_mutex_lock(&sc_conf_lock);
	if (!dns_initialized()
	    && dns_init(conf_str("resolver_nameservers"), err, sizeof(err)) < 0)
		log_warn("%s (using /etc/resolv.conf)", err);
	for (i = 0; i < SC_LIST_COUNT; i++)
		c->lists[i] = sc_split(conf_str(sc_list_param[i]));
	c->delay_reject = conf_bool("smtpd_delay_reject");
	c->rej_unl_rcpt = conf_bool("smtpd_reject_unlisted_recipient");
	c->rej_unl_from = conf_bool("smtpd_reject_unlisted_sender");
	c->peername_lookup = conf_bool("smtpd_peername_lookup");
	resolve_conf_load(&rc);
	c->resolve = resolve_new(&rc);
	resolve_conf_free(&rc);
	c->valias_maps = sc_maplist("virtual_alias_maps");
	c->rcpt_canon_maps = sc_maplist("recipient_canonical_maps");
	c->canon_maps = sc_maplist("canonical_maps");
	c->vmbox_maps = sc_maplist("virtual_mailbox_maps");
	c->relay_rcpt_maps = sc_maplist("relay_recipient_maps");
	c->login_maps = sc_maplist("smtpd_sender_login_maps");
	c->local_rcpt_maps = sc_maplist("local_recipient_maps");
	c->local_rcpt_on = c->local_rcpt_maps != NULL;
	sc_init_networks(c);
	sc_init_classes(c);
	sc_init_codes(c);
	sc_open_access_maps(c);
	smtpd_policy_conf_load(&c->pconf);
	c->pol_default =
	    xstrdup(conf_str("smtpd_policy_service_default_action"));
	c->pol_context =
	    xstrdup(conf_str("smtpd_policy_service_policy_context"));
	c->compat_level = xstrdup(conf_str("compatibility_level"));
	c->mail_version = xstrdup(conf_str("mail_version"));
	c->stress = xstrdup(conf_str("stress"));
	sc_more_init(c);
	c->verify = smtpd_verify_new();
	c->relay_safe = sc_has_required(c, c->lists[SC_LIST_RELAY], 0)
	    || sc_has_required(c, c->lists[SC_LIST_RCPT], 0);
	pthread_mutex_unlock(&sc_conf_lock);
	if (!c->relay_safe)
		log_warn("in parameters smtpd_relay_restrictions and "
		    "smtpd_recipient_restrictions, specify at least one "
		    "working instance of: reject, defer, defer_if_permit, "
		    "reject_unauth_destination, defer_unauth_destination "
		    "(every recipient is deferred until then: no open relay)");
	c->warned = strv_new();
	return (c);
}

/* smtpd_check_free - close the checker's maps */
void
smtpd_check_free(struct smtpd_checker *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < SC_LIST_COUNT; i++)
		strv_free(c->lists[i]);
	resolve_free(c->resolve);
	maplist_close(c->valias_maps);
	maplist_close(c->rcpt_canon_maps);
	maplist_close(c->canon_maps);
	maplist_close(c->vmbox_maps);
	maplist_close(c->relay_rcpt_maps);
	maplist_close(c->local_rcpt_maps);
	maplist_close(c->login_maps);
	maplist_close(c->mynet_maps);
	strv_free(c->mynet_cidrs);
	for (i = 0; i < c->namaps; i++) {
		free(c->amaps[i].spec);
		map_close(c->amaps[i].map);
	}
	free(c->amaps);
	for (i = 0; i < c->nclasses; i++) {
		free(c->classes[i].name);
		strv_free(c->classes[i].list);
	}
	free(c->classes);
	strv_free(c->warned);
	free(c->delims);
	free(c->null_key);
	free(c->unv_sender_reason);
	free(c->unv_rcpt_reason);
	for (i = 0; i < c->npols; i++) {
		smtpd_policy_free(c->pols[i].p);
		free(c->pols[i].spec);
		free(c->pols[i].def_action);
		free(c->pols[i].context);
	}
	free(c->pols);
	free(c->pol_default);
	free(c->pol_context);
	free(c->compat_level);
	free(c->mail_version);
	free(c->stress);
	sc_more_free(c);
	smtpd_verify_free(c->verify);
	free(c);
}

/* sc_warn_once - log a configuration warning once per checker */
static void
sc_warn_once(struct smtpd_checker *c, const char *what, const char *text)
{
	size_t	 i;

	for (i = 0; i < c->warned->argc; i++)
		if (strcmp(c->warned->argv[i], what) == 0)
			return;
	strv_add(c->warned, what);
	log_warn("%s", text);
}

/* sc_pend_add - keep a line (and its metrics_reject) of a loop try */
static void
sc_pend_add(int warn, const char *text, const char *verb, const char *reply)
{
	struct sc_pend *p;

	if (sc_npend == sc_pend_size) {
		sc_pend_size = sc_pend_size ? 2 * sc_pend_size : 4;
		sc_pend = xrealloc(sc_pend, sc_pend_size * sizeof(*sc_pend));
	}
	p = sc_pend + sc_npend++;
	p->warn = warn;
	p->text = xstrdup(text);
	p->verb = verb ? xstrdup(verb) : NULL;
	p->reply = verb ? xstrdup(reply) : NULL;
}

/* sc_pend_warn - log_warn() during a loop try: kept, unless it missed */
static void
sc_pend_warn(const char *fmt, ...)
{
	char	 text[2048];		/* log_emit()'s bound */
	va_list	 ap;

	if (map_cache_missed())		/* the worker will say it */
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	sc_pend_add(1, text, NULL, NULL);
}

/* smtpd_check_inline_log - the end of a loop try: log (keep) or drop */
void
smtpd_check_inline_log(int keep)
{
	size_t	 i;

	for (i = 0; i < sc_npend; i++) {
		if (keep && sc_pend[i].warn)
			(log_warn)("%s", sc_pend[i].text);
		else if (keep)
			log_info("%s", sc_pend[i].text);
		if (keep && sc_pend[i].verb)
			metrics_reject(sc_pend[i].verb, sc_pend[i].reply);
		free(sc_pend[i].text);
		free(sc_pend[i].verb);
		free(sc_pend[i].reply);
	}
	sc_npend = 0;
}

/* sc_client - "name[addr]" */
static void
sc_client(const struct smtpd_check_state *st, char *out, size_t len)
{
	snprintf(out, len, "%s[%s]",
	    st->client_name[0] ? st->client_name : "unknown",
	    st->client_addr ? st->client_addr : "unknown");
}

/* sc_log - Postfix's "NOQUEUE: reject: RCPT from ..." line */
static void
sc_log(struct sc_ctx *x, const char *what, const char *reply)
{
	const struct smtpd_check_state *st = x->st;
	struct buf *b;
	char	 client[300];

	/* A try on the event loop the lookup cache could not answer. */
	if (map_cache_only_active() && map_cache_missed())
		return;
	b = buf_new(256);
	sc_client(st, client, sizeof(client));
	buf_printf(b, "%s: %s: %s from %s: %s;", st->queue_id ? st->queue_id
	    : "NOQUEUE", what, x->verb, log_safe(client), reply);
	if (st->sender)
		buf_printf(b, " from=<%s>", log_safe(st->sender));
	if (st->recipient)
		buf_printf(b, " to=<%s>", log_safe(st->recipient));
	buf_printf(b, " proto=%s", st->protocol ? st->protocol : "SMTP");
	if (st->helo_name)
		buf_printf(b, " helo=<%s>", log_safe(st->helo_name));
	/* On the event loop: kept until the try is known to stand. */
	if (map_cache_only_active())
		sc_pend_add(0, BUF_STR(b), strcmp(what, "reject") == 0
		    ? x->verb : NULL, reply);
	else {
		log_info("%s", BUF_STR(b));
		if (strcmp(what, "reject") == 0)
			metrics_reject(x->verb, reply);
	}
	buf_free(b);
}

/* sc_format - "CODE D.S.N text", printable, enhanced class fixed */
static void
sc_format(char *out, size_t len, int code, const char *dsn,
    const char *fmt, va_list ap)
{
	char	 text[400], d[16];
	char	*p;

	vsnprintf(text, sizeof(text), fmt, ap);
	for (p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	snprintf(d, sizeof(d), "%s", dsn);
	d[0] = (char)('0' + code / 100);
	snprintf(out, len, "%d %s %s", code, d, text);
}

/* sc_reject - reject (or defer) with a complete reply; honours
 * warn_if_reject and defer_if_reject */
static int __attribute__((format(printf, 4, 5)))
sc_reject(struct sc_ctx *x, int code, const char *dsn, const char *fmt, ...)
{
	char	 line[512];
	va_list	 ap;

	if (x->defer_if_reject && code >= 500)
		code = x->c->defer_code;
	va_start(ap, fmt);
	sc_format(line, sizeof(line), code, dsn, fmt, ap);
	va_end(ap);
	if (x->warn_next) {
		sc_log(x, "reject_warning", line);
		return (SC_DUNNO);
	}
	sc_log(x, "reject", line);
	buf_reset(x->reply);
	buf_puts(x->reply, line);
	x->result = code >= 500 ? SMTPD_CHECK_REJECT : SMTPD_CHECK_DEFER;
	return (SC_FINAL);
}

/* sc_defer_if_permit - remember a 4xx that applies unless rejected */
static int __attribute__((format(printf, 4, 5)))
sc_defer_if_permit(struct sc_ctx *x, int code, const char *dsn,
    const char *fmt, ...)
{
	char	 line[512];
	va_list	 ap;

	va_start(ap, fmt);
	sc_format(line, sizeof(line), code, dsn, fmt, ap);
	va_end(ap);
	if (x->warn_next) {
		sc_log(x, "reject_warning", line);
		return (SC_DUNNO);
	}
	if (!x->dip_set) {
		snprintf(x->dip, sizeof(x->dip), "%s", line);
		x->dip_set = 1;
	}
	return (SC_DUNNO);
}

/* sc_retry - a table or DNS problem that must not become a 5xx */
static int
sc_retry(struct sc_ctx *x, const char *name)
{
	int	 warn = x->warn_next;
	int	 rc;

	x->warn_next = 0;		/* never downgrade a 4xx to a warning */
	x->defer_if_reject = 0;
	rc = sc_reject(x, 451, "4.3.0", "<%s>: Temporary lookup failure",
	    name);
	x->warn_next = warn;
	return (rc);
}

/* sc_config_error - Postfix's answer to a broken restriction list */
static int
sc_config_error(struct sc_ctx *x)
{
	x->warn_next = 0;
	return (sc_reject(x, 451, "4.3.5", "Server configuration error"));
}

/* sc_strip_dot - a copy of a name without one trailing dot */
static char *
sc_strip_dot(const char *name)
{
	size_t	 len = strlen(name);

	if (len > 1 && name[len - 1] == '.')
		len--;
	return (xstrndup(name, len));
}

/* sc_resolve - the address class of addr's domain (resolve/resolve.h);
 * -1 on table trouble */
static int
sc_resolve(struct sc_ctx *x, const char *addr, int *cls)
{
	char	 why[512];
	int	 i;

	for (i = 0; i < 2; i++)
		if (x->resolved[i].addr
		    && strcmp(x->resolved[i].addr, addr) == 0) {
			*cls = x->resolved[i].cls;
			return (0);
		}
	if ((*cls = resolve_class(x->c->resolve, addr_domain(addr), why,
	    sizeof(why))) == RESOLVE_RETRY) {
		log_warn("%s", why + 6);
		return (-1);
	}
	/* Only the session's own strings are cached: they outlive the call. */
	i = addr == x->st->sender ? 0 : addr == x->st->recipient ? 1 : -1;
	if (i >= 0) {
		x->resolved[i].addr = addr;
		x->resolved[i].cls = *cls;
	}
	return (0);
}

/* sc_mynetworks - 1 if the client is in mynetworks, -1 table trouble */
static int
sc_mynetworks(struct sc_ctx *x)
{
	const char *a = x->st->client_addr;
	char	*val;
	size_t	 i;
	int	 st;

	if (a == NULL || *a == 0)
		return (0);
	/* First match wins; "!net" excludes, as in Postfix's mynetworks. */
	for (i = 0; i < x->c->mynet_cidrs->argc; i++) {
		const char *n = x->c->mynet_cidrs->argv[i];

		if (addr_match_cidr(a, n + (*n == '!')) == 1)
			return (*n != '!');
	}
	if (x->c->mynet_maps == NULL)
		return (0);
	st = maplist_lookup(x->c->mynet_maps, a, &val);
	if (st == MAP_FOUND) {
		free(val);
		return (1);
	}
	if (st == MAP_RETRY) {
		log_warn("mynetworks: table lookup problem: %s",
		    maplist_error(x->c->mynet_maps));
		return (-1);
	}
	return (0);
}

/* sc_access_map - the cached handle of a check_*_access table */
static struct map *
sc_access_map(struct smtpd_checker *c, const char *spec)
{
	size_t	 i;

	for (i = 0; i < c->namaps; i++)
		if (strcmp(c->amaps[i].spec, spec) == 0)
			return (c->amaps[i].map);
	c->amaps = xrealloc(c->amaps, (c->namaps + 1) * sizeof(*c->amaps));
	c->amaps[c->namaps].spec = xstrdup(spec);
	c->amaps[c->namaps].map = map_open(spec, 0);
	return (c->amaps[c->namaps++].map);
}

/* sc_is_code - "4NN" or "5NN" followed by space or end */
static int
sc_is_code(const char *v)
{
	return ((v[0] == '4' || v[0] == '5') && isdigit((unsigned char)v[1])
	    && isdigit((unsigned char)v[2]) && (v[3] == 0 || v[3] == ' '
	    || v[3] == '\t'));
}

/* sc_text_dsn - split an optional "X.Y.Z " off the front of text */
static const char *
sc_text_dsn(const char *text, char *dsn, size_t len, const char *def)
{
	return (dsn_split(text, dsn, len, def));
}

/* sc_is_header - "name: value" with a printable name (Postfix's is_header) */
static int
sc_is_header(const char *p)
{
	size_t	 n = 0;

	while (p[n] > 32 && p[n] < 127 && p[n] != ':')
		n++;
	return (n > 0 && p[n] == ':');
}

/* sc_add_line - append "text\n" to a fixed list; 0 when it does not fit */
static int
sc_add_line(char *list, size_t size, const char *text)
{
	size_t	 have = strlen(list), len = strlen(text);

	if (have + len + 2 > size)
		return (0);
	memcpy(list + have, text, len);
	list[have + len] = '\n';
	list[have + len + 1] = 0;
	return (1);
}

/*
 * sc_filter_action - FILTER transport:destination: the message goes to
 * that after-queue content filter (cleanup's "A content_filter"); the
 * last FILTER of the transaction wins, as in Postfix
 */
static int
sc_filter_action(struct sc_ctx *x, const char *text, const char *name,
    const char *what)
{
	struct smtpd_check_state *st = x->st;
	char	 line[600];

	if (*text == 0 || strchr(text, ':') == NULL) {
		log_warn("access table entry for %s \"FILTER %s\" requires "
		    "transport:destination", log_safe(name), log_safe(text));
		return (SC_DUNNO);
	}
	if (strlen(text) >= sizeof(st->filter)) {
		log_warn("FILTER %s: too long; ignored", log_safe(text));
		return (SC_DUNNO);
	}
	snprintf(line, sizeof(line), "<%s>: %s triggers FILTER %s", name,
	    what, text);
	sc_log(x, "filter", line);
	snprintf(st->filter, sizeof(st->filter), "%s", text);
	return (SC_DUNNO);
}

/*
 * sc_message_action - HOLD, DISCARD, REDIRECT, BCC and PREPEND, which
 * apply to the whole message (Postfix's check_table_result): recorded
 * in the check state for cleanup, logged "NOQUEUE: hold: RCPT from
 * ...". Returns -2 when word is none of them.
 */
static int
sc_message_action(struct sc_ctx *x, const char *word, const char *text,
    const char *name, const char *what)
{
	struct smtpd_check_state *st = x->st;
	char	 line[600], msg[300];
	int	 hold = !strcasecmp(word, "HOLD");
	int	 discard = !strcasecmp(word, "DISCARD");
	int	 redirect = !strcasecmp(word, "REDIRECT");
	int	 bcc = !strcasecmp(word, "BCC");
	int	 prepend = !strcasecmp(word, "PREPEND");
	int	 filter = !strcasecmp(word, "FILTER");

	if (!hold && !discard && !redirect && !bcc && !prepend && !filter)
		return (-2);
	if (st->sender == NULL) {	/* client/helo list before MAIL */
		snprintf(msg, sizeof(msg), "access table: with "
		    "smtpd_delay_reject=no, action %s is always skipped in "
		    "client or helo restrictions", word);
		sc_warn_once(x->c, word, msg);
		return (SC_DUNNO);
	}
	if (hold || discard) {
		int	 bit = hold ? SMTPD_ACT_HOLD : SMTPD_ACT_DISCARD;

		if (hold && (st->actions & bit))
			return (SC_DUNNO);
		snprintf(line, sizeof(line), "<%s>: %s %s", name, what,
		    *text ? text : hold ? "triggers HOLD action"
		    : "triggers DISCARD action");
		sc_log(x, hold ? "hold" : "discard", line);
		st->actions |= bit;
		return (hold ? SC_DUNNO : SC_PERMIT);
	}
	if (prepend) {
		if (*text == 0 || !sc_is_header(text)) {
			log_warn("access table entry for %s \"PREPEND %s\" "
			    "requires header: text", log_safe(name),
			    log_safe(text));
			return (SC_DUNNO);
		}
		if (!sc_add_line(st->prepend, sizeof(st->prepend), text))
			log_warn("PREPEND %s: too many headers for one "
			    "message; ignored", log_safe(text));
		return (SC_DUNNO);
	}
	if (filter)			/* after-queue content filter */
		return (sc_filter_action(x, text, name, what));
	if (strchr(text, '@') == NULL) {
		log_warn("access table entry for %s \"%s %s\" requires "
		    "user@domain target", log_safe(name), word,
		    log_safe(text));
		return (SC_DUNNO);
	}
	snprintf(line, sizeof(line), "<%s>: %s triggers %s %s", name, what,
	    redirect ? "REDIRECT" : "BCC", text);
	sc_log(x, redirect ? "redirect" : "bcc", line);
	if (redirect) {
		if (strlen(text) >= sizeof(st->redirect))
			log_warn("REDIRECT target too long; ignored");
		else
			snprintf(st->redirect, sizeof(st->redirect), "%s",
			    text);
	} else if (!sc_add_line(st->bcc, sizeof(st->bcc), text))
		log_warn("BCC %s: too many BCC recipients for one message; "
		    "ignored", log_safe(text));
	return (SC_DUNNO);
}

/* sc_access_action - act on an access(5) table result */
static int
sc_access_action(struct sc_ctx *x, const char *value, const char *name,
    const char *what, int list)
{
	char	 word[32], dsn[16];
	const char *text;
	size_t	 n;
	struct strv *v;
	int	 rc;

	value += strspn(value, " \t");
	n = strcspn(value, " \t");
	snprintf(word, sizeof(word), "%.*s", (int)(n < 31 ? n : 31), value);
	text = value + n;
	text += strspn(text, " \t");
	if (sc_is_code(value)) {
		text = sc_text_dsn(value + 3 + strspn(value + 3, " \t"), dsn,
		    sizeof(dsn), value[0] == '4' ? "4.7.1" : "5.7.1");
		return (sc_reject(x, atoi(value), dsn, "<%s>: %s rejected: %s",
		    name, what, *text ? text : "Access denied"));
	}
	/* OK, or an all-numerical value (Postfix compatibility) */
	if (strcasecmp(word, "OK") == 0 || strspn(word, "0123456789") == n)
		return (n ? SC_PERMIT : SC_DUNNO);
	if (strcasecmp(word, "DUNNO") == 0)
		return (SC_DUNNO);
	if (strcasecmp(word, "REJECT") == 0) {
		text = sc_text_dsn(text, dsn, sizeof(dsn), "5.7.1");
		return (sc_reject(x, x->c->access_reject_code, dsn,
		    "<%s>: %s rejected: %s", name, what, *text ? text
		    : "Access denied"));
	}
	if (strcasecmp(word, "DEFER") == 0) {
		text = sc_text_dsn(text, dsn, sizeof(dsn), "4.7.1");
		return (sc_reject(x, x->c->access_defer_code, dsn,
		    "<%s>: %s rejected: %s", name, what, *text ? text
		    : "Access denied"));
	}
	if (strcasecmp(word, "DEFER_IF_PERMIT") == 0) {
		text = sc_text_dsn(text, dsn, sizeof(dsn), "4.7.1");
		return (sc_defer_if_permit(x, x->c->defer_code, dsn,
		    "<%s>: %s rejected: %s", name, what, *text ? text
		    : "Service unavailable"));
	}
	if (strcasecmp(word, "DEFER_IF_REJECT") == 0) {
		x->defer_if_reject = 1;
		return (SC_DUNNO);
	}
	if (strcasecmp(word, "WARN") == 0 || strcasecmp(word, "INFO") == 0) {
		char	 line[512];

		snprintf(line, sizeof(line), "<%s>: %s triggers %s%s%s",
		    name, what, word, *text ? " " : "", text);
		sc_log(x, "warn", line);
		return (SC_DUNNO);
	}
	if ((rc = sc_message_action(x, word, text, name, what)) != -2)
		return (rc);
	/* Anything else is a restriction list, e.g. reject_unverified_sender */
	if (x->depth >= SC_MAX_DEPTH) {
		log_warn("access table result nesting too deep: %s",
		    log_safe(value));
		return (sc_config_error(x));
	}
	v = sc_split(value);
	x->depth++;
	rc = sc_list_eval(x, v, list);
	x->depth--;
	strv_free(v);
	return (rc);
}

/* sc_access_key - one lookup; returns SC_* or -2 for "not found" */
static int
sc_access_key(struct sc_ctx *x, struct map *m, const char *key,
    const char *name, const char *what, int list)
{
	char	*val;
	int	 st, rc;

	st = map_lookup(m, key, &val);
	if (st == MAP_NOTFOUND)
		return (-2);
	if (st == MAP_RETRY) {
		log_warn("%s: table lookup problem: %s", map_spec(m),
		    map_error(m));
		return (sc_retry(x, name));
	}
	rc = sc_access_action(x, val, name, what, list);
	free(val);
	return (rc);
}

/* sc_access_domain - the domain and (as Postfix's default
 * parent_domain_matches_subdomains has it) its parents */
static int
sc_access_domain(struct sc_ctx *x, struct map *m, const char *domain,
    const char *name, const char *what, int list)
{
	const char *d;
	int	 rc;

	for (d = domain; d && *d; d = strchr(d, '.')) {
		if (*d == '.')
			d++;
		if ((rc = sc_access_key(x, m, d, name, what, list)) != -2)
			return (rc);
	}
	return (-2);
}

/* sc_check_mail_access - check_sender_access/check_recipient_access */
static int
sc_check_mail_access(struct sc_ctx *x, const char *spec, const char *addr,
    const char *what, int list)
{
	struct map *m = sc_access_map(x->c, spec);
	char	*base = NULL, *ext = NULL, *lp, *key, *domain;
	int	 rc;

	if (*addr == 0)
		return ((rc = sc_access_key(x, m, x->c->null_key, addr, what,
		    list)) == -2 ? SC_DUNNO : rc);
	if ((rc = sc_access_key(x, m, addr, addr, what, list)) != -2)
		return (rc);
	if (addr_split_ext(addr, x->c->delims, &base, &ext)
	    && (rc = sc_access_key(x, m, base, addr, what, list)) != -2)
		goto done;
	domain = sc_strip_dot(addr_domain(addr));
	rc = *domain ? sc_access_domain(x, m, domain, addr, what, list) : -2;
	free(domain);
	if (rc != -2)
		goto done;
	lp = addr_localpart(addr);
	key = xasprintf("%s@", lp);
	rc = sc_access_key(x, m, key, addr, what, list);
	free(key);
	free(lp);
	if (rc == -2 && base) {
		lp = addr_localpart(base);
		key = xasprintf("%s@", lp);
		rc = sc_access_key(x, m, key, addr, what, list);
		free(key);
		free(lp);
	}
done:
	free(base);
	free(ext);
	return (rc == -2 ? SC_DUNNO : rc);
}

/* sc_check_client_access - client name (and parents), then address and
 * its IPv4 class prefixes */
static int
sc_check_client_access(struct sc_ctx *x, const char *spec)
{
	struct map *m = sc_access_map(x->c, spec);
	const char *a = x->st->client_addr ? x->st->client_addr : "unknown";
	char	 client[300], prefix[64];
	char	*dot;
	int	 rc;

	sc_client(x->st, client, sizeof(client));
	if (x->st->client_name[0] && strcmp(x->st->client_name, "unknown")
	    && (rc = sc_access_domain(x, m, x->st->client_name, client,
	    "Client host", SC_LIST_CLIENT)) != -2)
		return (rc);
	if ((rc = sc_access_key(x, m, a, client, "Client host",
	    SC_LIST_CLIENT)) != -2)
		return (rc);
	if (strchr(a, ':') == NULL && strlen(a) < sizeof(prefix)) {
		strcpy(prefix, a);
		while ((dot = strrchr(prefix, '.')) != NULL) {
			*dot = 0;
			if ((rc = sc_access_key(x, m, prefix, client,
			    "Client host", SC_LIST_CLIENT)) != -2)
				return (rc);
		}
	}
	return (SC_DUNNO);
}

/* sc_check_helo_access - the HELO name and its parents */
static int
sc_check_helo_access(struct sc_ctx *x, const char *spec)
{
	struct map *m = sc_access_map(x->c, spec);
	char	*h;
	int	 rc;

	if (x->st->helo_name == NULL || *x->st->helo_name == 0)
		return (SC_DUNNO);
	h = sc_strip_dot(x->st->helo_name);
	rc = sc_access_domain(x, m, h, x->st->helo_name, "Helo command",
	    SC_LIST_HELO);
	free(h);
	return (rc == -2 ? SC_DUNNO : rc);
}

/* sc_lookup_found - maplist address lookup: 1, 0, or -1 (trouble) */
static int
sc_lookup_found(struct maplist *l, const char *addr, int flags)
{
	char	*val;
	int	 st;

	if (l == NULL)
		return (0);
	st = maplist_lookup_addr(l, addr, flags, &val);
	if (st == MAP_FOUND) {
		free(val);
		return (1);
	}
	if (st == MAP_RETRY) {
		log_warn("recipient validation: table lookup problem: %s",
		    maplist_error(l));
		return (-1);
	}
	return (0);
}

/* sc_check_rcpt_maps - reject_unlisted_recipient/sender (Postfix texts) */
static int
sc_check_rcpt_maps(struct sc_ctx *x, const char *addr, int sender)
{
	const char *what = sender ? "Sender address" : "Recipient address";
	const char *dsn = sender ? "5.1.0" : "5.1.1";
	int	 cls, f;

	if (*addr == 0 || smtpd_receive_override("no_unknown_recipient_checks"))
		return (SC_DUNNO);
	if (sc_resolve(x, addr, &cls) < 0)
		return (sc_retry(x, addr));
	if (cls == RESOLVE_CLASS_DEFAULT)
		return (SC_DUNNO);
	/* Postfix's check_rcpt_maps(): what recipient_canonical_maps,
	 * canonical_maps or virtual_alias_maps know is accepted (cleanup
	 * and qmgr rewrite it before delivery). */
	f = sc_lookup_found(x->c->rcpt_canon_maps, addr,
	    cls == RESOLVE_CLASS_LOCAL ? MAP_ADDR_USER : 0);
	if (f == 0)
		f = sc_lookup_found(x->c->canon_maps, addr,
		    cls == RESOLVE_CLASS_LOCAL ? MAP_ADDR_USER : 0);
	if (f == 0)
		f = sc_lookup_found(x->c->valias_maps, addr,
		    cls == RESOLVE_CLASS_LOCAL ? MAP_ADDR_USER : 0);
	if (f < 0)
		return (sc_retry(x, addr));
	if (f > 0)
		return (SC_DUNNO);
	switch (cls) {
	case RESOLVE_CLASS_LOCAL:
		if (!x->c->local_rcpt_on)
			return (SC_DUNNO);
		if ((f = sc_lookup_found(x->c->local_rcpt_maps, addr,
		    MAP_ADDR_USER)) < 0)
			return (sc_retry(x, addr));
		if (f == 0)
			return (sc_reject(x, x->c->local_rcpt_code, dsn,
			    "<%s>: %s rejected: User unknown in local "
			    "recipient table", addr, what));
		return (SC_DUNNO);
	case RESOLVE_CLASS_ALIAS:
		return (sc_reject(x, x->c->valias_code, dsn, "<%s>: %s "
		    "rejected: User unknown in virtual alias table", addr,
		    what));
	case RESOLVE_CLASS_VIRTUAL:
		if ((f = sc_lookup_found(x->c->vmbox_maps, addr, 0)) < 0)
			return (sc_retry(x, addr));
		if (f == 0)
			return (sc_reject(x, x->c->vmbox_code, dsn,
			    "<%s>: %s rejected: User unknown in virtual "
			    "mailbox table", addr, what));
		return (SC_DUNNO);
	case RESOLVE_CLASS_RELAY:
		if (x->c->relay_rcpt_maps == NULL)
			return (SC_DUNNO);
		if ((f = sc_lookup_found(x->c->relay_rcpt_maps, addr, 0)) < 0)
			return (sc_retry(x, addr));
		if (f == 0)
			return (sc_reject(x, x->c->relay_rcpt_code, dsn,
			    "<%s>: %s rejected: User unknown in relay "
			    "recipient table", addr, what));
		return (SC_DUNNO);
	}
	return (SC_DUNNO);
}

/* sc_auth_dest - may we accept mail for this recipient (relay control)?
 * 1 yes, 0 no, -1 table trouble */
static int
sc_auth_dest(struct sc_ctx *x, const char *addr)
{
	char	*lp;
	int	 cls, routed;

	if (sc_resolve(x, addr, &cls) < 0)
		return (-1);
	if (cls == RESOLVE_CLASS_DEFAULT)
		return (0);
	lp = addr_localpart(addr);
	/* Sender-specified routing (user@elsewhere@domain, user%elsewhere,
	 * user!elsewhere) must not turn us into an open relay. */
	if (cls == RESOLVE_CLASS_VIRTUAL || cls == RESOLVE_CLASS_ALIAS)
		routed = strchr(lp, '@') != NULL;
	else
		routed = strpbrk(lp, "@!%") != NULL;
	free(lp);
	return (!routed);
}

/* sc_unknown_domain - reject_unknown_sender/recipient_domain */
static int
sc_unknown_domain(struct sc_ctx *x, const char *addr, int sender)
{
	const char *what = sender ? "Sender address" : "Recipient address";
	const char *dsn = sender ? "4.1.8" : "4.1.2";
	struct dns_mx *mx = NULL;
	struct strv *v;
	size_t	 nmx = 0;
	char	 err[256];
	char	*domain;
	int	 cls, st, nx;

	if (*addr == 0 || *addr_domain(addr) == 0 || *addr_domain(addr) == '[')
		return (SC_DUNNO);
	if (sc_resolve(x, addr, &cls) < 0)
		return (sc_retry(x, addr));
	if (cls == RESOLVE_CLASS_LOCAL || cls == RESOLVE_CLASS_ALIAS
	    || cls == RESOLVE_CLASS_VIRTUAL)
		return (SC_DUNNO);	/* we are the final destination */
	domain = sc_strip_dot(addr_domain(addr));
	st = dns_lookup_mx(domain, &mx, &nmx, err, sizeof(err));
	nx = dns_last_nxdomain();
	if (st == DNS_OK) {
		int	 nullmx = nmx == 1 && *mx[0].host == 0;

		dns_mx_free(mx, nmx);
		free(domain);
		if (nullmx)
			return (sc_reject(x, 556, sender ? "5.7.27" : "5.1.10",
			    "<%s>: %s rejected: Domain %s does not accept mail "
			    "(nullMX)", addr, what, addr_domain(addr)));
		return (SC_DUNNO);
	}
	if (st == DNS_NOTFOUND && !nx) {
		v = strv_new();
		st = dns_lookup_addr(domain, v, err, sizeof(err));
		strv_free(v);
		nx = 0;
	}
	free(domain);
	if (st == DNS_OK)
		return (SC_DUNNO);
	if (st == DNS_RETRY)
		return (sc_defer_if_permit(x, 450, dsn, "<%s>: %s rejected: "
		    "Domain not found", addr, what));
	return (sc_reject(x, nx ? 550 : x->c->unk_addr_code, dsn,
	    "<%s>: %s rejected: Domain not found", addr, what));
}

/* sc_non_fqdn_addr - reject_non_fqdn_sender/recipient */
static int
sc_non_fqdn_addr(struct sc_ctx *x, const char *addr, int sender)
{
	const char *domain;
	char	*d;
	int	 ok;

	if (*addr == 0 || (!sender && strcasecmp(addr, "postmaster") == 0))
		return (SC_DUNNO);
	domain = addr_domain(addr);
	if (*domain == '[')
		return (SC_DUNNO);
	d = sc_strip_dot(domain);
	ok = *d && addr_is_fqdn(d);
	free(d);
	if (ok)
		return (SC_DUNNO);
	return (sc_reject(x, x->c->non_fqdn_code, "5.5.2", "<%s>: %s rejected: "
	    "need fully-qualified address", addr, sender ? "Sender address"
	    : "Recipient address"));
}

/* sc_helo_invalid - reject_invalid_helo_hostname */
static int
sc_helo_invalid(struct sc_ctx *x)
{
	const char *h = x->st->helo_name;
	char	*t;
	int	 ok;

	if (h == NULL)
		return (SC_DUNNO);
	if (*h == '[') {
		if (addr_is_ip_literal(h))
			return (SC_DUNNO);
		return (sc_reject(x, x->c->invalid_name_code, "5.5.2",
		    "<%s>: Helo command rejected: Invalid ip address", h));
	}
	t = sc_strip_dot(h);
	ok = addr_valid_hostname(t) || addr_match_cidr(t, t) == 1;
	free(t);
	if (ok)
		return (SC_DUNNO);
	return (sc_reject(x, x->c->invalid_name_code, "5.5.2",
	    "<%s>: Helo command rejected: Invalid name", h));
}

/* sc_helo_non_fqdn - reject_non_fqdn_helo_hostname */
static int
sc_helo_non_fqdn(struct sc_ctx *x)
{
	const char *h = x->st->helo_name;
	char	*t;
	int	 ok;

	if (h == NULL)
		return (SC_DUNNO);
	if (*h == '[')
		return (sc_helo_invalid(x));
	t = sc_strip_dot(h);
	ok = addr_is_fqdn(t);
	free(t);
	if (ok)
		return (SC_DUNNO);
	return (sc_reject(x, x->c->non_fqdn_code, "5.5.2",
	    "<%s>: Helo command rejected: need fully-qualified hostname", h));
}

/* sc_helo_unknown - reject_unknown_helo_hostname: no A, AAAA or MX */
static int
sc_helo_unknown(struct sc_ctx *x)
{
	const char *h = x->st->helo_name;
	struct strv *v;
	struct dns_mx *mx = NULL;
	size_t	 nmx = 0;
	char	 err[256];
	char	*t;
	int	 st, nx;

	if (h == NULL || *h == '[')
		return (SC_DUNNO);
	t = sc_strip_dot(h);
	v = strv_new();
	st = dns_lookup_addr(t, v, err, sizeof(err));
	nx = dns_last_nxdomain();
	strv_free(v);
	if (st == DNS_NOTFOUND && !nx) {
		st = dns_lookup_mx(t, &mx, &nmx, err, sizeof(err));
		dns_mx_free(mx, nmx);
	}
	free(t);
	if (st == DNS_OK)
		return (SC_DUNNO);
	if (st == DNS_RETRY)
		return (sc_defer_if_permit(x, 450, "4.7.1", "<%s>: Helo "
		    "command rejected: Host not found", h));
	return (sc_reject(x, x->c->unk_name_code, "4.7.1",
	    "<%s>: Helo command rejected: Host not found", h));
}

/* sc_login_mismatch - reject_*sender_login_mismatch */
static int
sc_login_mismatch(struct sc_ctx *x, int want_auth, int want_unauth)
{
	const char *s = x->st->sender, *user = x->st->sasl_username;
	struct strv *owners;
	char	*val = NULL;
	size_t	 i;
	int	 st, owned = 0;

	if (s == NULL || x->c->login_maps == NULL)
		return (SC_DUNNO);
	st = *s ? maplist_lookup_addr(x->c->login_maps, s,
	    MAP_ADDR_NO_EXT_APPEND, &val)
	    : maplist_lookup(x->c->login_maps, x->c->null_key, &val);
	if (st == MAP_RETRY)
		return (sc_retry(x, s));
	if (user && *user) {
		if (!want_auth) {
			free(val);
			return (SC_DUNNO);
		}
		if (st == MAP_FOUND) {
			owners = strv_split(val, STR_LIST_DELIMS);
			for (i = 0; i < owners->argc; i++)
				if (strcasecmp(owners->argv[i], user) == 0)
					owned = 1;
			strv_free(owners);
		}
		free(val);
		if (owned)
			return (SC_DUNNO);
		return (sc_reject(x, 553, "5.7.1", "<%s>: Sender address "
		    "rejected: not owned by user %s", s, user));
	}
	free(val);
	if (want_unauth && st == MAP_FOUND)
		return (sc_reject(x, 553, "5.7.1", "<%s>: Sender address "
		    "rejected: not logged in", s));
	return (SC_DUNNO);
}

/* sc_dnsl - a DNS list lookup: rbl_name under zone[=a.b.c.d] */
static int
sc_dnsl(struct sc_ctx *x, const char *arg, const char *query_base,
    int reverse, int permit, const char *what, const char *shown)
{
	char	*zone = xstrdup(arg), *want, *q = NULL, err[256];
	struct strv *v = strv_new(), *txt;
	size_t	 i;
	int	 st, hit = 0, rc = SC_DUNNO;

	if ((want = strchr(zone, '=')) != NULL)
		*want++ = 0;
	if (query_base && *query_base)
		q = reverse ? dns_reverse_name(query_base, zone)
		    : xasprintf("%s.%s", query_base, zone);
	if (q == NULL)
		goto out;
	st = dns_lookup_addr(q, v, err, sizeof(err));
	for (i = 0; st == DNS_OK && i < v->argc; i++)
		if (want == NULL || strcmp(v->argv[i], want) == 0)
			hit = 1;
	if (st == DNS_RETRY)
		log_warn("%s: DNS list lookup error for %s: %s", zone,
		    log_safe(q), err);
	if (hit && permit)
		rc = SC_PERMIT;
	else if (hit) {
		txt = strv_new();
		st = dns_lookup_txt(q, txt, err, sizeof(err));
		rc = sc_reject(x, x->c->rbl_code, "5.7.1", "Service "
		    "unavailable; %s [%s] blocked using %s%s%s", what, shown,
		    zone, st == DNS_OK && txt->argc ? "; " : "",
		    st == DNS_OK && txt->argc ? txt->argv[0] : "");
		strv_free(txt);
	}
	free(q);
out:
	strv_free(v);
	free(zone);
	return (rc);
}

/* sc_rbl - reject_rbl_client, permit_dnswl_client, reject_rhsbl_* */
static int
sc_rbl(struct sc_ctx *x, const char *r, const char *arg)
{
	const struct smtpd_check_state *st = x->st;
	const char *a = st->client_addr, *d;
	char	*h;
	int	 rc;

	if (!strcmp(r, "reject_rbl_client") || !strcmp(r, "reject_rbl"))
		return (sc_dnsl(x, arg, a, 1, 0, "Client host", a));
	if (!strcmp(r, "permit_dnswl_client"))
		return (sc_dnsl(x, arg, a, 1, 1, "Client host", a));
	if (!strcmp(r, "reject_rhsbl_client")) {
		if (strcmp(st->client_name, "unknown") == 0)
			return (SC_DUNNO);
		return (sc_dnsl(x, arg, st->client_name, 0, 0, "Client host",
		    st->client_name));
	}
	if (!strcmp(r, "reject_rhsbl_reverse_client")) {
		if (strcmp(st->reverse_client_name, "unknown") == 0)
			return (SC_DUNNO);
		return (sc_dnsl(x, arg, st->reverse_client_name, 0, 0,
		    "Unverified Client host", st->reverse_client_name));
	}
	if (!strcmp(r, "reject_rhsbl_helo")) {
		if (st->helo_name == NULL || *st->helo_name == '[')
			return (SC_DUNNO);
		h = sc_strip_dot(st->helo_name);
		rc = sc_dnsl(x, arg, h, 0, 0, "Helo command", h);
		free(h);
		return (rc);
	}
	if (!strcmp(r, "reject_rhsbl_sender")) {
		if (st->sender == NULL || *(d = addr_domain(st->sender)) == 0
		    || *d == '[')
			return (SC_DUNNO);
		return (sc_dnsl(x, arg, d, 0, 0, "Sender address", d));
	}
	/* reject_rhsbl_recipient */
	if (st->recipient == NULL || *(d = addr_domain(st->recipient)) == 0
	    || *d == '[')
		return (SC_DUNNO);
	return (sc_dnsl(x, arg, d, 0, 0, "Recipient address", d));
}

/* sc_list_name - the reply name and class of a restriction list */
static void
sc_list_name(struct sc_ctx *x, int list, char *name, size_t len,
    const char **what)
{
	const struct smtpd_check_state *st = x->st;

	switch (list) {
	case SC_LIST_CLIENT:
		sc_client(st, name, len);
		*what = "Client host";
		break;
	case SC_LIST_HELO:
		snprintf(name, len, "%s", st->helo_name ? st->helo_name : "");
		*what = "Helo command";
		break;
	case SC_LIST_SENDER:
		snprintf(name, len, "%s", st->sender ? st->sender : "");
		*what = "Sender address";
		break;
	case SC_LIST_DATA:
		snprintf(name, len, "DATA");
		*what = "Data command";
		break;
	default:
		snprintf(name, len, "%s", st->recipient ? st->recipient : "");
		*what = "Recipient address";
		break;
	}
}

/* sc_unimplemented - Postfix restrictions postern does not have yet */
static int
sc_unimplemented(const char *name)
{
	static const char *const names[] = {
		NULL,
	};
	int	 i;

	for (i = 0; names[i]; i++)
		if (strcmp(names[i], name) == 0)
			return (1);
	return (0);
}

/* sc_takes_arg - restrictions followed by a table or domain argument */
static int
sc_takes_arg(const char *name)
{
	return ((strncmp(name, "check_", 6) == 0
	    && str_ends_with(name, "_access"))
	    || strcmp(name, "check_policy_service") == 0
	    || strcmp(name, "reject_rbl_client") == 0
	    || strcmp(name, "reject_rbl") == 0
	    || strcmp(name, "permit_dnswl_client") == 0
	    || strcmp(name, "permit_rhswl_client") == 0
	    || strcmp(name, "sleep") == 0
	    || strncmp(name, "reject_rhsbl_", 13) == 0);
}

/* sc_policy_option - one "name=value" of check_policy_service { ... } */
static void
sc_policy_option(struct sc_policy_svc *svc, struct smtpd_policy_conf *pc,
    char *opt)
{
	static const struct {
		const char *name;
		size_t	 off;
		int	 is_time;
	} nums[] = {
		{"timeout", offsetof(struct smtpd_policy_conf, timeout), 1},
		{"max_idle", offsetof(struct smtpd_policy_conf, max_idle), 1},
		{"max_ttl", offsetof(struct smtpd_policy_conf, max_ttl), 1},
		{"request_limit",
		    offsetof(struct smtpd_policy_conf, request_limit), 0},
		{"try_limit", offsetof(struct smtpd_policy_conf, try_limit), 0},
		{"retry_delay",
		    offsetof(struct smtpd_policy_conf, retry_delay), 1},
	};
	char	*name = opt, *value, *end;
	long	 v;
	size_t	 i;

	if (*name == '{') {		/* { name = value with spaces } */
		name++;
		if ((end = strrchr(name, '}')) != NULL)
			*end = 0;
	}
	if ((value = strchr(name, '=')) == NULL) {
		log_warn("check_policy_service %s: missing '=' in \"%s\"",
		    log_safe(svc->spec), log_safe(opt));
		return;
	}
	*value++ = 0;
	name = str_trim(name);
	value = str_trim(value);
	if (strcmp(name, "default_action") == 0) {
		free(svc->def_action);
		svc->def_action = xstrdup(value);
		return;
	}
	if (strcmp(name, "policy_context") == 0) {
		free(svc->context);
		svc->context = xstrdup(value);
		return;
	}
	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (strcmp(name, nums[i].name) != 0)
			continue;
		if (nums[i].is_time ? str_parse_time(value, 's', &v) < 0
		    : (v = strtol(value, &end, 10), *end != 0 || !*value)) {
			log_warn("check_policy_service %s: bad %s value \"%s\"",
			    log_safe(svc->spec), name, log_safe(value));
			return;
		}
		*(int *)((char *)pc + nums[i].off) = (int)v;
		return;
	}
	log_warn("check_policy_service %s: unknown attribute \"%s\"",
	    log_safe(svc->spec), log_safe(name));
}

/* sc_policy_client - this thread's client of "endpoint" or of Postfix's
 * "{ endpoint, name=value, ... }" (per-service settings) */
static struct sc_policy_svc *
sc_policy_client(struct smtpd_checker *c, const char *spec)
{
	struct sc_policy_svc *svc;
	struct smtpd_policy_conf pc = c->pconf;
	struct strv *v = NULL;
	char	*inner, *end;
	const char *endpoint = spec;
	size_t	 i;

	for (i = 0; i < c->npols; i++)
		if (strcmp(c->pols[i].spec, spec) == 0)
			return (&c->pols[i]);
	c->pols = xrealloc(c->pols, (c->npols + 1) * sizeof(*c->pols));
	svc = &c->pols[c->npols++];
	svc->spec = xstrdup(spec);
	svc->def_action = xstrdup(c->pol_default);
	svc->context = xstrdup(c->pol_context);
	if (spec[0] == '{') {
		inner = xstrdup(spec + 1);
		if ((end = strrchr(inner, '}')) != NULL)
			*end = 0;
		v = conf_split(inner);
		free(inner);
		endpoint = v->argc ? v->argv[0] : "";
		for (i = 1; i < v->argc; i++)
			sc_policy_option(svc, &pc, v->argv[i]);
		if (pc.timeout < 1)
			pc.timeout = 1;
		if (pc.try_limit < 1)
			pc.try_limit = 1;
	}
	svc->p = smtpd_policy_new(endpoint, &pc);
	strv_free(v);
	return (svc);
}

/* sc_policy_attr - one "name=value" line; no newline inside a value */
static void
sc_policy_attr(struct buf *b, const char *name, const char *value)
{
	const char *p;

	buf_printf(b, "%s=", name);
	for (p = value ? value : ""; *p; p++)
		buf_putc(b, *p == '\n' || *p == '\r' ? '?' : *p);
	buf_putc(b, '\n');
}

/* sc_policy_instance - the same value for one mail transaction */
static const char *
sc_policy_instance(struct smtpd_check_state *st)
{
	struct timespec ts;

	if (st->policy_instance[0] == 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(st->policy_instance, sizeof(st->policy_instance),
		    "%x.%lx.%lx.%x", (unsigned)getpid(),
		    (unsigned long)ts.tv_sec,
		    (unsigned long)(ts.tv_nsec / 1000), st->policy_seq++);
	}
	return (st->policy_instance);
}

/* sc_policy_tls - encryption_protocol, _cipher, _keysize from the
 * session's "TLSv1.3 with cipher C (256/256 bits)" */
static void
sc_policy_tls(struct buf *b, const struct smtpd_check_state *st)
{
	const char *info = st->tls && st->tls_info && *st->tls_info
	    ? *st->tls_info : "";
	char	 proto[64] = "", cipher[128] = "";
	int	 bits = 0;

	if (*info)
		(void)sscanf(info, "%63s with cipher %127s (%d/", proto, cipher,
		    &bits);
	sc_policy_attr(b, "encryption_protocol", proto);
	sc_policy_attr(b, "encryption_cipher", cipher);
	buf_printf(b, "encryption_keysize=%d\n", bits);
}

/* sc_policy_request - Postfix's smtpd_access_policy attributes */
static void
sc_policy_request(struct sc_ctx *x, struct buf *b, const char *context)
{
	struct smtpd_check_state *st = x->st;
	int	 data = strcmp(x->verb, "DATA") == 0;
	const char *proto = st->protocol && strncasecmp(st->protocol,
	    "ESMTP", 5) == 0 ? "ESMTP" : "SMTP";
	char	 num[32];

	sc_policy_attr(b, "request", "smtpd_access_policy");
	sc_policy_attr(b, "protocol_state", x->verb);
	sc_policy_attr(b, "protocol_name", proto);
	sc_policy_attr(b, "helo_name", st->helo_name);
	sc_policy_attr(b, "queue_id", st->queue_id);
	sc_policy_attr(b, "sender", st->sender);
	sc_policy_attr(b, "recipient", st->recipient);
	snprintf(num, sizeof(num), "%d", data ? st->rcpt_count : 0);
	sc_policy_attr(b, "recipient_count", num);
	sc_policy_attr(b, "client_address", st->client_addr);
	sc_policy_attr(b, "client_name", st->client_name[0]
	    ? st->client_name : "unknown");
	sc_policy_attr(b, "reverse_client_name", st->reverse_client_name[0]
	    ? st->reverse_client_name : "unknown");
	sc_policy_attr(b, "instance", sc_policy_instance(st));
	sc_policy_attr(b, "sasl_method", st->sasl_username
	    && st->sasl_method ? *st->sasl_method : NULL);
	sc_policy_attr(b, "sasl_username", st->sasl_username);
	sc_policy_attr(b, "sasl_sender", NULL);
	snprintf(num, sizeof(num), "%ld", st->size_hint ? *st->size_hint
	    : 0L);
	sc_policy_attr(b, "size", num);
	sc_policy_attr(b, "ccert_subject", st->ccert_present ? st->ccert_cn
	    : NULL);
	sc_policy_attr(b, "ccert_issuer", NULL);
	sc_policy_attr(b, "ccert_fingerprint", st->ccert_present
	    ? st->ccert_fprint : NULL);
	sc_policy_attr(b, "ccert_pubkey_fingerprint", st->ccert_present
	    ? st->ccert_pkey_fprint : NULL);
	sc_policy_tls(b, st);
	sc_policy_attr(b, "etrn_domain", NULL);
	sc_policy_attr(b, "stress", x->c->stress);
	sc_policy_attr(b, "policy_context", context);
	sc_policy_attr(b, "server_address", st->server_addr);
	sc_policy_attr(b, "server_port", st->server_port);
	sc_policy_attr(b, "client_port", st->client_port);
	sc_policy_attr(b, "compatibility_level", x->c->compat_level);
	sc_policy_attr(b, "mail_version", x->c->mail_version);
}

/* sc_policy - check_policy_service: the server's action, as an access
 * table's; smtpd_policy_service_default_action when it cannot answer */
static int
sc_policy(struct sc_ctx *x, const char *spec, const char *name,
    const char *what, int list)
{
	struct sc_policy_svc *svc = sc_policy_client(x->c, spec);
	struct buf *req = buf_new(1024);
	char	 action[POLICY_ACTION_MAX];
	int	 rc;

	sc_policy_request(x, req, svc->context);
	if (smtpd_policy_query(svc->p, BUF_STR(req), action,
	    sizeof(action)) < 0)
		snprintf(action, sizeof(action), "%s", svc->def_action);
	buf_free(req);
	if (x->depth >= SC_MAX_DEPTH)
		return (sc_config_error(x));
	x->depth++;
	rc = sc_access_action(x, action, name, what, list);
	x->depth--;
	return (rc);
}

/* sc_client_unknown - reject_unknown_(reverse_)client_hostname */
static int
sc_client_unknown(struct sc_ctx *x, int reverse)
{
	const struct smtpd_check_state *st = x->st;
	const char *a = st->client_addr ? st->client_addr : "unknown";

	if (reverse) {
		if (st->reverse_client_name[0]
		    && strcmp(st->reverse_client_name, "unknown") != 0)
			return (SC_DUNNO);
		return (sc_reject(x, st->client_name_status
		    == SMTPD_NAME_TEMPFAIL ? 450 : x->c->unk_client_code,
		    "4.7.25", "Client host rejected: cannot find your reverse "
		    "hostname, [%s]", a));
	}
	if (st->client_name_status == SMTPD_NAME_OK && st->client_name[0]
	    && strcmp(st->client_name, "unknown") != 0)
		return (SC_DUNNO);
	return (sc_reject(x, st->client_name_status == SMTPD_NAME_TEMPFAIL
	    ? 450 : x->c->unk_client_code, "4.7.25",
	    "Client host rejected: cannot find your hostname, [%s]", a));
}

/* sc_dest - permit_auth_destination / reject_unauth_destination */
static int
sc_dest(struct sc_ctx *x, int action)
{
	const char *r = x->st->recipient;
	int	 ok;

	if (r == NULL)
		return (SC_DUNNO);
	if ((ok = sc_auth_dest(x, r)) < 0)
		return (sc_retry(x, r));
	if (action == 0)
		return (ok ? SC_PERMIT : SC_DUNNO);
	if (ok)
		return (SC_DUNNO);
	if (action == 1)
		return (sc_reject(x, x->c->relay_code, "5.7.1",
		    "<%s>: Relay access denied", r));
	return (sc_reject(x, x->c->defer_code, "4.7.1",
	    "<%s>: Relay access denied", r));
}

/*
 * The restrictions below were listed as unimplemented until issue 11:
 * Postfix's semantics and reply texts (src/smtpd/smtpd_check.c).
 */

/* sc_more_init - parameters of these restrictions */
static void
sc_more_init(struct smtpd_checker *c)
{
	const struct conf_table codes[] = {
		CONF_INT("plaintext_reject_code", &c->plaintext_code, 400,
		    599),
		CONF_INT("multi_recipient_bounce_reject_code",
		    &c->mul_rcpt_code, 400, 599),
		CONF_END
	};

	conf_table_load(codes);
	c->relay_ccerts = sc_maplist("relay_clientcerts");
	c->mx_nets = xstrdup(conf_str("permit_mx_backup_networks"));
	c->ask_ccert = conf_bool("smtpd_tls_ask_ccert")
	    || conf_bool("smtpd_tls_req_ccert");
	c->sasl_enable = conf_bool("smtpd_sasl_auth_enable");
}

/* sc_more_free - what sc_more_init() opened */
static void
sc_more_free(struct smtpd_checker *c)
{
	maplist_close(c->relay_ccerts);
	free(c->mx_nets);
}

/* sc_access_addr - an address, then (IPv4) its class prefixes */
static int
sc_access_addr(struct sc_ctx *x, struct map *m, const char *a,
    const char *name, const char *what, int list)
{
	char	 prefix[64];
	char	*dot;
	int	 rc;

	if ((rc = sc_access_key(x, m, a, name, what, list)) != -2)
		return (rc);
	if (strchr(a, ':') != NULL || strlen(a) >= sizeof(prefix))
		return (-2);
	strcpy(prefix, a);
	while ((dot = strrchr(prefix, '.')) != NULL) {
		*dot = 0;
		if ((rc = sc_access_key(x, m, prefix, name, what, list)) != -2)
			return (rc);
	}
	return (-2);
}

/* sc_forbid_ok - Postfix's forbid_allowlist: OK from a table keyed by
 * something the client controls is a configuration error */
static int
sc_forbid_ok(struct sc_ctx *x, const char *r, int rc, const char *target)
{
	if (rc != SC_PERMIT || (x->st->actions & SMTPD_ACT_DISCARD))
		return (rc);
	log_warn("restriction %s returns OK for %s", r, log_safe(target));
	log_warn("this is not allowed for security reasons");
	log_warn("use DUNNO instead of OK if you want to make an exception");
	return (sc_config_error(x));
}

/* sc_server_hosts - the host names (then addresses) of one server */
static int
sc_server_host(struct sc_ctx *x, struct map *m, const char *h, int type,
    const char *name, const char *what, int list)
{
	struct strv *addrs;
	char	 err[256];
	char	*host;
	size_t	 i;
	int	 rc = -2;

	if (addr_match_cidr(h, h) == 1)
		return (sc_access_addr(x, m, h, name, what, list));
	host = sc_strip_dot(h);
	if (type != SMTPD_DNS_A
	    && (rc = sc_access_domain(x, m, host, name, what, list)) != -2) {
		free(host);
		return (rc);
	}
	addrs = strv_new();
	if (dns_lookup_addr(host, addrs, err, sizeof(err)) != DNS_OK) {
		if (type != SMTPD_DNS_A)
			log_warn("Unable to look up %s host %s for %s %s: %s",
			    type == SMTPD_DNS_MX ? "MX" : "NS", log_safe(host),
			    what, log_safe(name), err);
	} else
		for (i = 0; i < addrs->argc && rc == -2; i++)
			rc = sc_access_addr(x, m, addrs->argv[i], name, what,
			    list);
	strv_free(addrs);
	free(host);
	return (rc);
}

/* sc_server_access - check_*_{mx,ns,a}_access: the domain's MX, NS or
 * A/AAAA servers, by name then address, in an access table */
static int
sc_server_access(struct sc_ctx *x, const char *r, const char *spec,
    const char *target, int type, const char *name, const char *what,
    int list)
{
	struct map *m = sc_access_map(x->c, spec);
	const char *domain = strrchr(target, '@');
	struct strv *hosts;
	char	 err[256], lit[128];
	char	*d;
	size_t	 i, n;
	int	 rc = -2, st;

	domain = domain ? domain + 1 : target;
	if (*domain == '[') {		/* a literal is its own MX */
		n = strlen(domain);
		if ((type != SMTPD_DNS_A && type != SMTPD_DNS_MX) || n < 3
		    || domain[n - 1] != ']')
			return (SC_DUNNO);
		snprintf(lit, sizeof(lit), "%.*s", (int)(n - 2), domain + 1);
		d = strncasecmp(lit, "IPv6:", 5) == 0 ? lit + 5 : lit;
		if (addr_match_cidr(d, d) == 1)
			rc = sc_access_addr(x, m, d, name, what, list);
		return (sc_forbid_ok(x, r, rc == -2 ? SC_DUNNO : rc, target));
	}
	if (*domain == 0)
		return (SC_DUNNO);
	d = sc_strip_dot(domain);
	hosts = strv_new();
	st = smtpd_check_dns_servers(d, type, hosts, err, sizeof(err));
	if (st != DNS_OK)
		log_warn("Unable to look up %s host for %s: %s", type
		    == SMTPD_DNS_MX ? "MX" : "NS", log_safe(d), err);
	for (i = 0; st == DNS_OK && i < hosts->argc && rc == -2; i++)
		rc = sc_server_host(x, m, hosts->argv[i], type, name, what,
		    list);
	strv_free(hosts);
	free(d);
	return (sc_forbid_ok(x, r, rc == -2 ? SC_DUNNO : rc, target));
}

/* sc_server_restriction - which check_*_{mx,ns,a}_access, on what */
static int
sc_server_restriction(struct sc_ctx *x, const char *r, const char *arg,
    int list, int *known)
{
	const struct smtpd_check_state *st = x->st;
	const char *target = NULL, *name, *what;
	char	 client[300], who[64];
	size_t	 n;
	int	 type;

	*known = 0;
	n = strlen(r);
	if (str_ends_with(r, "_mx_access"))
		type = SMTPD_DNS_MX, n -= 10;
	else if (str_ends_with(r, "_ns_access"))
		type = SMTPD_DNS_NS, n -= 10;
	else if (str_ends_with(r, "_a_access"))
		type = SMTPD_DNS_A, n -= 9;
	else
		return (SC_DUNNO);
	snprintf(who, sizeof(who), "%.*s", (int)n, r);
	*known = 1;
	sc_client(st, client, sizeof(client));
	if (!strcmp(who, "check_client")) {
		if (strcmp(st->client_name, "unknown") != 0
		    && *st->client_name)
			target = st->client_name;
		name = client;
		what = "Client host";
	} else if (!strcmp(who, "check_reverse_client_hostname")) {
		if (strcmp(st->reverse_client_name, "unknown") != 0
		    && *st->reverse_client_name)
			target = st->reverse_client_name;
		name = target;
		what = "Unverified Client host";
	} else if (!strcmp(who, "check_helo")) {
		target = st->helo_name;
		name = target;
		what = "Helo command";
	} else if (!strcmp(who, "check_sender")) {
		target = st->sender && *st->sender ? st->sender : NULL;
		name = target;
		what = "Sender address";
	} else if (!strcmp(who, "check_recipient")) {
		target = st->recipient && *st->recipient ? st->recipient
		    : NULL;
		name = target;
		what = "Recipient address";
	} else {
		*known = 0;
		return (SC_DUNNO);
	}
	if (target == NULL)
		return (SC_DUNNO);
	return (sc_server_access(x, r, arg, target, type, name, what, list));
}

/* sc_reverse_access - check_reverse_client_hostname_access */
static int
sc_reverse_access(struct sc_ctx *x, const char *r, const char *spec)
{
	const struct smtpd_check_state *st = x->st;
	struct map *m = sc_access_map(x->c, spec);
	const char *rev = st->reverse_client_name;
	const char *a = st->client_addr ? st->client_addr : "unknown";
	int	 rc = -2;

	if (*rev == 0)
		rev = "unknown";
	if (strcmp(rev, "unknown") != 0)
		rc = sc_access_domain(x, m, rev, rev, "Unverified Client host",
		    SC_LIST_CLIENT);
	if (rc == -2)
		rc = sc_access_addr(x, m, a, rev, "Unverified Client host",
		    SC_LIST_CLIENT);
	return (sc_forbid_ok(x, r, rc == -2 ? SC_DUNNO : rc, rev));
}

/* sc_ccert_warn - Postfix's warning when no certificate was asked for */
static void
sc_ccert_warn(struct sc_ctx *x, const char *r)
{
	char	 msg[200];

	if (x->c->ask_ccert)
		return;
	snprintf(msg, sizeof(msg), "%s is requested, but "
	    "\"smtpd_tls_ask_ccert = no\"", r);
	sc_warn_once(x->c, r, msg);
}

/* sc_tls_clientcerts - permit_tls_clientcerts, permit_tls_all_clientcerts:
 * a trusted certificate (all), or a fingerprint in relay_clientcerts */
static int
sc_tls_clientcerts(struct sc_ctx *x, const char *r, int all,
    const char *name)
{
	const struct smtpd_check_state *st = x->st;
	const char *prints[2];
	char	*val;
	int	 i, rc;

	if (!st->tls)
		return (SC_DUNNO);
	if (all && st->ccert_present && st->ccert_trusted)
		return (SC_PERMIT);
	if (!st->ccert_present) {
		sc_ccert_warn(x, r);
		return (SC_DUNNO);
	}
	prints[0] = st->ccert_pkey_fprint;
	prints[1] = st->ccert_fprint;
	for (i = 0; i < 2 && x->c->relay_ccerts; i++) {
		if (*prints[i] == 0)
			continue;
		rc = maplist_lookup(x->c->relay_ccerts, prints[i], &val);
		if (rc == MAP_FOUND) {
			free(val);
			return (SC_PERMIT);
		}
		if (rc == MAP_RETRY) {
			log_warn("relay_clientcerts: lookup error for "
			    "fingerprint '%s', pkey fingerprint %s",
			    prints[0], prints[1]);
			return (sc_retry(x, name));
		}
	}
	return (SC_DUNNO);
}

/* sc_ccert_access - check_ccert_access: certificate, then public-key
 * fingerprint; the reply names the certificate's CommonName */
static int
sc_ccert_access(struct sc_ctx *x, const char *r, const char *spec, int list)
{
	const struct smtpd_check_state *st = x->st;
	struct map *m;
	int	 rc;

	if (!st->tls || !st->ccert_present) {
		sc_ccert_warn(x, r);
		return (SC_DUNNO);
	}
	m = sc_access_map(x->c, spec);
	if (*st->ccert_fprint && (rc = sc_access_key(x, m, st->ccert_fprint,
	    st->ccert_cn, "Client certificate", list)) != -2)
		return (rc);
	if (*st->ccert_pkey_fprint && (rc = sc_access_key(x, m,
	    st->ccert_pkey_fprint, st->ccert_cn, "Client certificate",
	    list)) != -2)
		return (rc);
	return (SC_DUNNO);
}

/* sc_sasl_access - check_sasl_access: the SASL login name as the key */
static int
sc_sasl_access(struct sc_ctx *x, const char *r, const char *spec, int list)
{
	const char *u = x->st->sasl_username;
	char	 msg[200];
	int	 rc;

	if (!x->c->sasl_enable) {
		snprintf(msg, sizeof(msg), "restriction `%s' ignored: no "
		    "SASL support", r);
		sc_warn_once(x->c, r, msg);
		return (SC_DUNNO);
	}
	if (u == NULL || *u == 0)
		return (SC_DUNNO);
	rc = sc_access_key(x, sc_access_map(x->c, spec), u, u,
	    "SASL login name", list);
	return (rc == -2 ? SC_DUNNO : rc);
}

/* sc_i_am_mx - one of these MX hosts is this machine: by name
 * (mydestination), then by address (inet_interfaces, proxy_interfaces) */
static int
sc_i_am_mx(struct sc_ctx *x, const struct dns_mx *mx, size_t n,
    const char *name, const char *what)
{
	struct strv *addrs;
	char	 err[256], why[512];
	size_t	 i, j;
	int	 st, yes = 0;

	for (i = 0; i < n; i++)
		if (resolve_class(x->c->resolve, mx[i].host, why, sizeof(why))
		    == RESOLVE_CLASS_LOCAL)
			return (1);
	for (i = 0; i < n && !yes; i++) {
		addrs = strv_new();
		st = dns_lookup_addr(mx[i].host, addrs, err, sizeof(err));
		if (st != DNS_OK) {
			log_info("<%s>: %s: Unable to look up mail exchanger "
			    "host %s: %s", log_safe(name), what,
			    log_safe(mx[i].host), err);
			x->defer_if_reject = 1;
		}
		for (j = 0; st == DNS_OK && j < addrs->argc && !yes; j++)
			yes = smtpd_check_dns_own_addr(addrs->argv[j]);
		strv_free(addrs);
	}
	return (yes);
}

/* sc_mx_primary_ok - every address of every primary MX host is in
 * permit_mx_backup_networks */
static int
sc_mx_primary_ok(struct sc_ctx *x, const struct dns_mx *mx, size_t n)
{
	struct strv *addrs;
	char	 err[256];
	size_t	 i, j;
	int	 ok = 1;

	for (i = 0; i < n && ok; i++) {
		addrs = strv_new();
		if (dns_lookup_addr(mx[i].host, addrs, err, sizeof(err))
		    != DNS_OK) {
			x->defer_if_reject = 1;
			ok = 0;
		}
		for (j = 0; ok && j < addrs->argc; j++)
			ok = smtpd_check_dns_in_nets(addrs->argv[j],
			    x->c->mx_nets);
		strv_free(addrs);
	}
	return (ok);
}

/* sc_mx_backup - permit_mx_backup: our own domains, or a domain whose
 * backup (not primary) MX hosts include this machine */
static int
sc_mx_backup(struct sc_ctx *x)
{
	const char *r = x->st->recipient, *domain;
	struct dns_mx *mx = NULL;
	size_t	 nmx = 0, nprim;
	char	 err[256];
	char	*lp;
	int	 cls, st, rc = SC_DUNNO, routed;

	if (r == NULL)
		return (SC_DUNNO);
	if (sc_resolve(x, r, &cls) < 0)
		return (sc_retry(x, r));
	if (*(domain = addr_domain(r)) == 0)
		return (SC_PERMIT);
	lp = addr_localpart(r);
	routed = strpbrk(lp, "@!%") != NULL;
	free(lp);
	if (routed)
		return (SC_DUNNO);
	if (cls != RESOLVE_CLASS_DEFAULT)
		return (SC_PERMIT);
	if (*domain == '[')
		return (SC_DUNNO);
	if ((st = dns_lookup_mx(domain, &mx, &nmx, err, sizeof(err)))
	    != DNS_OK) {
		if (st == DNS_RETRY) {
			log_info("<%s>: Recipient address: Unable to look up "
			    "mail exchanger information: %s", log_safe(r),
			    err);
			x->defer_if_reject = 1;
		}
		return (SC_DUNNO);
	}
	for (nprim = 1; nprim < nmx && mx[nprim].pref == mx[0].pref; nprim++)
		;
	if (!sc_i_am_mx(x, mx, nprim, r, "Recipient address")
	    && nprim < nmx
	    && sc_i_am_mx(x, mx + nprim, nmx - nprim, r, "Recipient address")
	    && (*x->c->mx_nets == 0 || sc_mx_primary_ok(x, mx, nprim)))
		rc = SC_PERMIT;
	dns_mx_free(mx, nmx);
	return (rc);
}

/* sc_restriction_misc - Postfix restrictions outside issue 11's list that
 * postern answered as unknown (451 4.3.5) before */
static int
sc_restriction_misc(struct sc_ctx *x, const char *r, const char *arg,
    int *known)
{
	const struct smtpd_check_state *st = x->st;

	*known = 1;
	if (!strcmp(r, "permit_rhswl_client"))
		return (*st->client_name && strcmp(st->client_name, "unknown")
		    ? sc_dnsl(x, arg, st->client_name, 0, 1, "Client host",
		    st->client_name) : SC_DUNNO);
	if (!strcmp(r, "permit_inet_interfaces"))
		return (st->client_addr
		    && smtpd_check_dns_own_addr(st->client_addr) ? SC_PERMIT
		    : SC_DUNNO);
	if (!strcmp(r, "check_recipient_maps")) {
		x->rcpt_checked = 1;
		return (st->recipient ? sc_check_rcpt_maps(x, st->recipient, 0)
		    : SC_DUNNO);
	}
	if (!strcmp(r, "sleep")) {
		if (*arg == 0 || strspn(arg, "0123456789") != strlen(arg)
		    || strlen(arg) > 4) {
			log_warn("restriction sleep must be followed by number");
			return (sc_config_error(x));
		}
		sleep((unsigned)atoi(arg));	/* a policy worker, not the loop */
		return (SC_DUNNO);
	}
	*known = 0;
	return (SC_DUNNO);
}

/* sc_restriction_more - the restrictions above; *known says if r is one */
static int
sc_restriction_more(struct sc_ctx *x, const char *r, const char *arg,
    int list, const char *name, const char *what, int *known)
{
	const struct smtpd_check_state *st = x->st;
	int	 rc;

	*known = 1;
	if (!strcmp(r, "permit_tls_clientcerts"))
		return (sc_tls_clientcerts(x, r, 0, name));
	if (!strcmp(r, "permit_tls_all_clientcerts"))
		return (sc_tls_clientcerts(x, r, 1, name));
	if (!strcmp(r, "check_ccert_access"))
		return (sc_ccert_access(x, r, arg, list));
	if (!strcmp(r, "check_sasl_access"))
		return (sc_sasl_access(x, r, arg, list));
	if (!strcmp(r, "check_reverse_client_hostname_access"))
		return (sc_reverse_access(x, r, arg));
	if (!strcmp(r, "permit_mx_backup"))
		return (sc_mx_backup(x));
	if (!strcmp(r, "reject_plaintext_session"))
		return (st->tls ? SC_DUNNO : sc_reject(x,
		    x->c->plaintext_code, "4.7.1",
		    "Session encryption is required"));
	if (!strcmp(r, "reject_multi_recipient_bounce")) {
		if (st->sender && *st->sender == 0 && st->rcpt_count
		    > (strcmp(x->verb, "RCPT") != 0))
			return (sc_reject(x, x->c->mul_rcpt_code, "5.5.3",
			    "<%s>: %s rejected: Multi-recipient bounce", name,
			    what));
		return (SC_DUNNO);
	}
	if ((rc = sc_restriction_misc(x, r, arg, known)) != SC_DUNNO
	    || *known)
		return (rc);
	rc = sc_server_restriction(x, r, arg, list, known);
	return (rc);
}

/* sc_restriction_addr - restrictions on the sender or recipient */
static int
sc_restriction_addr(struct sc_ctx *x, const char *r, const char *arg,
    int list, int *known)
{
	const char *s = x->st->sender, *rc = x->st->recipient;

	*known = 1;
	if (!strcmp(r, "reject_non_fqdn_sender"))
		return (s ? sc_non_fqdn_addr(x, s, 1) : SC_DUNNO);
	if (!strcmp(r, "reject_non_fqdn_recipient"))
		return (rc ? sc_non_fqdn_addr(x, rc, 0) : SC_DUNNO);
	if (!strcmp(r, "reject_unknown_sender_domain"))
		return (s ? sc_unknown_domain(x, s, 1) : SC_DUNNO);
	if (!strcmp(r, "reject_unknown_recipient_domain"))
		return (rc ? sc_unknown_domain(x, rc, 0) : SC_DUNNO);
	if (!strcmp(r, "reject_unlisted_sender")) {
		x->from_checked = 1;
		return (s ? sc_check_rcpt_maps(x, s, 1) : SC_DUNNO);
	}
	if (!strcmp(r, "reject_unlisted_recipient")) {
		x->rcpt_checked = 1;
		return (rc ? sc_check_rcpt_maps(x, rc, 0) : SC_DUNNO);
	}
	if (!strcmp(r, "check_sender_access"))
		return (s ? sc_check_mail_access(x, arg, s, "Sender address",
		    list) : SC_DUNNO);
	if (!strcmp(r, "check_recipient_access"))
		return (rc ? sc_check_mail_access(x, arg, rc,
		    "Recipient address", list) : SC_DUNNO);
	if (!strcmp(r, "permit_auth_destination"))
		return (sc_dest(x, 0));
	if (!strcmp(r, "reject_unauth_destination"))
		return (sc_dest(x, 1));
	if (!strcmp(r, "defer_unauth_destination"))
		return (sc_dest(x, 2));
	if (!strcmp(r, "reject_sender_login_mismatch"))
		return (sc_login_mismatch(x, 1, 1));
	if (!strcmp(r, "reject_authenticated_sender_login_mismatch")
	    || !strcmp(r, "reject_known_sender_login_mismatch"))
		return (sc_login_mismatch(x, 1, 0));
	if (!strcmp(r, "reject_unauthenticated_sender_login_mismatch"))
		return (sc_login_mismatch(x, 0, 1));
	*known = 0;
	return (SC_DUNNO);
}

/* sc_unverified - reject_unverified_sender/recipient (smtpd_verify.c) */
static int
sc_unverified(struct sc_ctx *x, int sender)
{
	const char *addr = sender ? x->st->sender : x->st->recipient;
	const char *what = sender ? "Sender address" : "Recipient address";
	struct smtpd_verify_reply r;

	if (addr == NULL || *addr == 0
	    || !smtpd_verify_check(x->c->verify, addr, sender, &r))
		return (SC_DUNNO);
	if (r.dip)
		return (sc_defer_if_permit(x, r.code, r.dsn,
		    "<%s>: %s rejected: %s", addr, what, r.text));
	return (sc_reject(x, r.code, r.dsn, "<%s>: %s rejected: %s", addr,
	    what, r.text));
}

static int sc_inline_restriction(const char *);

/* sc_restriction - one restriction; arg is its table or domain */
static int
sc_restriction(struct sc_ctx *x, const char *r, const char *arg, int list)
{
	char	 name[300];
	const char *what;
	int	 known, rc;
	size_t	 i;

	sc_list_name(x, list, name, sizeof(name), &what);
	/* on the event loop, what an access table named may block: a worker */
	if (map_cache_only_active() && !sc_inline_restriction(r)) {
		map_cache_set_missed();
		return (SC_DUNNO);
	}
	if (!strcmp(r, "permit"))
		return (SC_PERMIT);
	if (!strcmp(r, "reject"))
		return (sc_reject(x, x->c->reject_code, "5.7.1",
		    "<%s>: %s rejected: Access denied", name, what));
	if (!strcmp(r, "defer"))
		return (sc_reject(x, x->c->defer_code, "4.7.1",
		    "<%s>: %s rejected: Access denied", name, what));
	if (!strcmp(r, "defer_if_permit"))
		return (sc_defer_if_permit(x, x->c->defer_code, "4.7.1",
		    "<%s>: %s rejected: defer_if_permit requested", name,
		    what));
	if (!strcmp(r, "defer_if_reject")) {
		x->defer_if_reject = 1;
		return (SC_DUNNO);
	}
	if (!strcmp(r, "permit_mynetworks")) {
		if ((rc = sc_mynetworks(x)) < 0)
			return (sc_retry(x, name));
		return (rc ? SC_PERMIT : SC_DUNNO);
	}
	if (!strcmp(r, "permit_sasl_authenticated"))
		return (x->st->sasl_username && *x->st->sasl_username
		    ? SC_PERMIT : SC_DUNNO);
	if (!strcmp(r, "reject_unauth_pipelining"))
		return (x->st->unauth_pipelining ? sc_reject(x, 503, "5.5.0",
		    "<%s>: %s rejected: Improper use of SMTP command "
		    "pipelining", name, what) : SC_DUNNO);
	if (!strcmp(r, "reject_unknown_client_hostname")
	    || !strcmp(r, "reject_unknown_client"))
		return (sc_client_unknown(x, 0));
	if (!strcmp(r, "reject_unknown_reverse_client_hostname"))
		return (sc_client_unknown(x, 1));
	if (!strcmp(r, "check_client_access"))
		return (sc_check_client_access(x, arg));
	if (!strcmp(r, "check_policy_service"))
		return (sc_policy(x, arg, name, what, list));
	if (!strcmp(r, "check_helo_access"))
		return (sc_check_helo_access(x, arg));
	if (!strcmp(r, "reject_invalid_helo_hostname")
	    || !strcmp(r, "reject_invalid_hostname"))
		return (sc_helo_invalid(x));
	if (!strcmp(r, "reject_non_fqdn_helo_hostname")
	    || !strcmp(r, "reject_non_fqdn_hostname"))
		return (sc_helo_non_fqdn(x));
	if (!strcmp(r, "reject_unknown_helo_hostname")
	    || !strcmp(r, "reject_unknown_hostname"))
		return (sc_helo_unknown(x));
	if (!strcmp(r, "reject_rbl_client") || !strcmp(r, "reject_rbl")
	    || !strcmp(r, "permit_dnswl_client")
	    || !strcmp(r, "reject_rhsbl_client")
	    || !strcmp(r, "reject_rhsbl_reverse_client")
	    || !strcmp(r, "reject_rhsbl_helo")
	    || !strcmp(r, "reject_rhsbl_sender")
	    || !strcmp(r, "reject_rhsbl_recipient"))
		return (sc_rbl(x, r, arg));
	if (!strcmp(r, "reject_unverified_recipient")
	    || !strcmp(r, "reject_unverified_sender"))
		return (sc_unverified(x, r[18] == 's'));
	rc = sc_restriction_addr(x, r, arg, list, &known);
	if (known)
		return (rc);
	rc = sc_restriction_more(x, r, arg, list, name, what, &known);
	if (known)
		return (rc);
	for (i = 0; i < x->c->nclasses; i++) {
		if (strcmp(x->c->classes[i].name, r) != 0)
			continue;
		if (x->depth >= SC_MAX_DEPTH) {
			log_warn("restriction class %s: nesting too deep", r);
			return (sc_config_error(x));
		}
		x->depth++;
		rc = sc_list_eval(x, x->c->classes[i].list, list);
		x->depth--;
		return (rc);
	}
	if (sc_unimplemented(r)) {
		char	 msg[200];

		snprintf(msg, sizeof(msg), "restriction %s is not implemented "
		    "by postern yet; treated as DUNNO", r);
		sc_warn_once(x->c, r, msg);
		return (SC_DUNNO);
	}
	log_warn("unknown smtpd restriction: \"%s\"", log_safe(r));
	return (sc_config_error(x));
}

/* sc_list_eval - evaluate a restriction list until permit or reject */
static int
sc_list_eval(struct sc_ctx *x, const struct strv *v, int list)
{
	const char *r, *arg;
	size_t	 i;
	int	 rc;

	for (i = 0; i < v->argc; i++) {
		r = v->argv[i];
		arg = NULL;
		if (!strcmp(r, "warn_if_reject")) {
			x->warn_next = 1;
			continue;
		}
		if (sc_takes_arg(r)) {
			if (i + 1 >= v->argc) {
				log_warn("restriction %s needs an argument", r);
				return (sc_config_error(x));
			}
			arg = v->argv[++i];
		}
		rc = sc_restriction(x, r, arg, list);
		x->warn_next = 0;
		if (rc != SC_DUNNO)
			return (rc);
	}
	return (SC_DUNNO);
}

/* sc_run - one list; SC_FINAL ends the check */
static int
sc_run(struct sc_ctx *x, int list)
{
	x->warn_next = 0;
	x->defer_if_reject = 0;
	return (sc_list_eval(x, x->c->lists[list], list));
}

/* sc_stage_rcpt - smtpd_delay_reject order at RCPT */
static int
sc_stage_rcpt(struct sc_ctx *x)
{
	int	 i;

	if (!x->c->relay_safe)		/* Postfix refuses to start */
		return (sc_config_error(x));

	if (x->c->delay_reject)
		for (i = SC_LIST_CLIENT; i <= SC_LIST_SENDER; i++)
			if (sc_run(x, i) == SC_FINAL)
				return (SC_FINAL);
	if (sc_run(x, SC_LIST_RELAY) == SC_FINAL
	    || sc_run(x, SC_LIST_RCPT) == SC_FINAL)
		return (SC_FINAL);
	x->warn_next = 0;
	x->defer_if_reject = 0;
	if (x->c->rej_unl_from && !x->from_checked && x->st->sender
	    && sc_check_rcpt_maps(x, x->st->sender, 1) == SC_FINAL)
		return (SC_FINAL);
	if (x->c->rej_unl_rcpt && !x->rcpt_checked && x->st->recipient
	    && sc_check_rcpt_maps(x, x->st->recipient, 0) == SC_FINAL)
		return (SC_FINAL);
	return (SC_DUNNO);
}

/* sc_verb - the command named in log lines */
static const char *
sc_verb(int stage, const struct smtpd_check_state *st)
{
	switch (stage) {
	case SMTPD_STAGE_CONNECT:
		return ("CONNECT");
	case SMTPD_STAGE_HELO:
		return (st->protocol && strcasecmp(st->protocol, "SMTP") == 0
		    ? "HELO" : "EHLO");
	case SMTPD_STAGE_MAIL:
		return ("MAIL");
	case SMTPD_STAGE_DATA:
		return ("DATA");
	default:
		return ("RCPT");
	}
}

/* smtpd_check - evaluate the restrictions of one stage */
int
smtpd_check(struct smtpd_checker *c, int stage, struct smtpd_check_state *st,
    struct buf *reply)
{
	struct sc_ctx x;
	int	 rc = SC_DUNNO;

	memset(&x, 0, sizeof(x));
	x.c = c;
	x.st = st;
	x.reply = reply;
	x.verb = sc_verb(stage, st);
	buf_reset(reply);
	switch (stage) {
	case SMTPD_STAGE_CONNECT:
		if (!c->delay_reject)
			rc = sc_run(&x, SC_LIST_CLIENT);
		break;
	case SMTPD_STAGE_HELO:
		if (!c->delay_reject)
			rc = sc_run(&x, SC_LIST_HELO);
		break;
	case SMTPD_STAGE_MAIL:
		st->policy_instance[0] = 0;	/* a new transaction */
		st->actions = 0;
		st->redirect[0] = st->bcc[0] = st->prepend[0] = 0;
		st->filter[0] = 0;
		if (!c->delay_reject) {
			rc = sc_run(&x, SC_LIST_SENDER);
			x.warn_next = 0;
			if (rc != SC_FINAL && c->rej_unl_from && !x.from_checked
			    && st->sender)
				rc = sc_check_rcpt_maps(&x, st->sender, 1);
		}
		break;
	case SMTPD_STAGE_RCPT:
		/* DISCARD: the message is dropped anyway; say OK */
		if (!(st->actions & SMTPD_ACT_DISCARD))
			rc = sc_stage_rcpt(&x);
		break;
	case SMTPD_STAGE_DATA:
		if (!(st->actions & SMTPD_ACT_DISCARD))
			rc = sc_run(&x, SC_LIST_DATA);
		break;
	}
	if (rc == SC_FINAL)
		return (x.result);
	if (x.dip_set) {
		sc_log(&x, "reject", x.dip);
		buf_puts(reply, x.dip);
		return (SMTPD_CHECK_DEFER);
	}
	return (SMTPD_CHECK_OK);
}

/* sc_same_addr - numeric comparison of two addresses */
static int
sc_same_addr(const char *a, const char *b)
{
	return (addr_match_cidr(a, b) == 1);
}

/* smtpd_check_client_name - the connect-time name, if configured */
int
smtpd_check_client_name(struct smtpd_checker *c, struct smtpd_check_state *st)
{
	if (!c->peername_lookup) {
		snprintf(st->client_name, sizeof(st->client_name), "unknown");
		snprintf(st->reverse_client_name,
		    sizeof(st->reverse_client_name), "unknown");
		st->client_name_status = SMTPD_NAME_UNKNOWN;
		return (st->client_name_status);
	}
	return (smtpd_check_name_lookup(st));
}

/* smtpd_check_dns_init - resolver_nameservers, once per process */
void
smtpd_check_dns_init(void)
{
	char	 err[256];

	pthread_mutex_lock(&sc_conf_lock);
	if (!dns_initialized()
	    && dns_init(conf_str("resolver_nameservers"), err, sizeof(err)) < 0)
		log_warn("%s (using /etc/resolv.conf)", err);
	pthread_mutex_unlock(&sc_conf_lock);
}

/* smtpd_check_name_lookup - PTR, then forward confirmation (no checker) */
int
smtpd_check_name_lookup(struct smtpd_check_state *st)
{
	struct strv *names, *addrs;
	char	 err[256];
	size_t	 i;
	int	 rc;

	snprintf(st->client_name, sizeof(st->client_name), "unknown");
	snprintf(st->reverse_client_name, sizeof(st->reverse_client_name),
	    "unknown");
	st->client_name_status = SMTPD_NAME_UNKNOWN;
	if (st->client_addr == NULL)
		return (st->client_name_status);
	names = strv_new();
	rc = dns_lookup_ptr(st->client_addr, names, err, sizeof(err));
	if (rc == DNS_RETRY)
		st->client_name_status = SMTPD_NAME_TEMPFAIL;
	if (rc != DNS_OK || !addr_valid_hostname(names->argv[0])
	    || strlen(names->argv[0]) >= sizeof(st->client_name)) {
		strv_free(names);
		return (st->client_name_status);
	}
	snprintf(st->reverse_client_name, sizeof(st->reverse_client_name),
	    "%s", names->argv[0]);
	addrs = strv_new();
	rc = dns_lookup_addr(names->argv[0], addrs, err, sizeof(err));
	if (rc == DNS_RETRY)
		st->client_name_status = SMTPD_NAME_TEMPFAIL;
	for (i = 0; rc == DNS_OK && i < addrs->argc; i++) {
		if (sc_same_addr(st->client_addr, addrs->argv[i])) {
			snprintf(st->client_name, sizeof(st->client_name),
			    "%s", names->argv[0]);
			st->client_name_status = SMTPD_NAME_OK;
			break;
		}
	}
	if (st->client_name_status == SMTPD_NAME_UNKNOWN)
		log_warn("hostname %s does not resolve to address %s",
		    log_safe(names->argv[0]), st->client_addr);
	strv_free(addrs);
	strv_free(names);
	return (st->client_name_status);
}

/* sc_inline_table_ok - a table the event loop may look up: local and
 * in memory or mapped, or a network table the lookup cache answers */
static int
sc_inline_table_ok(const char *spec)
{
	/* memory: and proxy: tables stay with a worker, as they always did */
	if (strncmp(spec, "memory:", 7) == 0 || strncmp(spec, "proxy:", 6) == 0)
		return (0);
	return (strncmp(spec, "mysql:", 6) == 0
	    || map_spec_local(spec, strlen(spec)));
}

/*
 * sc_inline_restriction - never blocks (no DNS, no policy server, no
 * verify) once its tables answer without blocking: check_*_access
 * below looks up only the client's name and address, the HELO name,
 * the sender or the recipient; what a table's answer names is
 * checked again when it runs (sc_restriction)
 */
static int
sc_inline_restriction(const char *r)
{
	static const char *const pure[] = {
		"permit", "dunno", "reject", "defer", "defer_if_permit",
		"defer_if_reject", "permit_mynetworks",
		"permit_sasl_authenticated", "permit_auth_destination",
		"reject_unauth_destination", "reject_non_fqdn_recipient",
		"reject_non_fqdn_sender", "reject_non_fqdn_helo_hostname",
		"reject_invalid_helo_hostname", "reject_unlisted_recipient",
		"reject_unlisted_sender", "reject_unauth_pipelining",
		"check_client_access", "check_helo_access",
		"check_sender_access", "check_recipient_access", NULL,
	};
	size_t	 j;

	for (j = 0; pure[j] && strcmp(pure[j], r) != 0; j++)
		;
	return (pure[j] != NULL);
}

/* sc_inline_list_ok - only restrictions that never block (no DNS, ...) */
static int
sc_inline_list_ok(const struct strv *v)
{
	size_t	 i;

	for (i = 0; i < v->argc; i++) {
		if (!sc_inline_restriction(v->argv[i]))
			return (0);
		if (sc_takes_arg(v->argv[i])
		    && (++i >= v->argc || !sc_inline_table_ok(v->argv[i])))
			return (0);
	}
	return (1);
}

/* smtpd_check_inline_ok - may this stage be tried on the event loop? */
int
smtpd_check_inline_ok(const struct smtpd_checker *c, int stage)
{
	int	 i, first, last;

	switch (stage) {
	case SMTPD_STAGE_MAIL:
		if (c->delay_reject)
			return (1);
		first = last = SC_LIST_SENDER;
		break;
	case SMTPD_STAGE_RCPT:
		first = c->delay_reject ? SC_LIST_CLIENT : SC_LIST_RELAY;
		last = SC_LIST_RCPT;
		break;
	case SMTPD_STAGE_DATA:
		first = last = SC_LIST_DATA;
		break;
	default:
		return (0);
	}
	for (i = first; i <= last; i++)
		if (!sc_inline_list_ok(c->lists[i]))
			return (0);
	return (1);
}
