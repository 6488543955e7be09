/*
 * NAME
 *	postscreen - the port-25 screener in front of smtpd
 * SYNOPSIS
 *	postscreen [-c config_dir] [-o name=value] [-d] [-v] [-l addr:port]
 * DESCRIPTION
 *	Only main(): the configuration and the accept callback, run by
 *	the server skeleton (lib/server.h). The tests and the hand-off
 *	live in the postscreen_*.c modules; postscreen.h shows the order.
 *	One event-driven process screens every connection (master.cf's
 *	"smtp inet n - - - 1 postscreen"); DNSBL queries run on a worker
 *	pool of PSC_DNS_THREADS threads. A process limit above 1 gives
 *	several processes on master's one socket, sharing the cache
 *	(docs/POSTSCREEN.md: how many sessions, and past one process's
 *	descriptor limit). Each idle client holds a descriptor, so
 *	postscreen raises its soft RLIMIT_NOFILE to the hard limit at
 *	start (as far as the hard limit goes: raising that is the
 *	administrator's).
 * DIAGNOSTICS
 *	Bad action values are fatal at start, and so are numbers and
 *	times below their minimum (Postfix's wording, conf_table.h):
 *	postscreen_greet_wait, the TTLs, timeouts and the command count
 *	at least 1, line_length_limit at least 512 (postern used to
 *	raise those two silently); a cache that cannot be
 *	opened is a warning (every client is then tested every time).
 * SEE ALSO
 *	postscreen.h, postscreen(8) and postconf(5) of Postfix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/event.h>

#include "conf.h"
#include "conf_table.h"
#include "dns.h"
#include "log.h"
#include "postscreen.h"
#include "server.h"
#include "str.h"
#include "tls.h"
#include "workq.h"
#include "xalloc.h"

#define PSC_DNS_THREADS	32

static struct event *psc_cleanup_ev;

/* action - an action parameter */
static int
action(const char *name)
{
	return (psc_parse_action(name, conf_str(name)));
}

/*
 * The parameters postscreen reads as they are; defaults are lib/params.c's.
 * Minimums are Postfix's, except the queue limits (Postfix: 10 and 5;
 * postern has always accepted any count, and tests use 1).
 */
static const struct conf_table psc_table[] = {
	CONF_TIME("postscreen_greet_wait", &psc_var.greet_wait, 1, CONF_NOMAX),
	CONF_TIME("postscreen_greet_ttl", &psc_var.greet_ttl, 1, CONF_NOMAX),
	CONF_STR("postscreen_greet_banner", &psc_var.greet_banner),
	CONF_STR("smtpd_banner", &psc_var.smtpd_banner),
	CONF_LONG("postscreen_dnsbl_threshold", &psc_var.dnsbl_threshold,
	    LONG_MIN, CONF_NOMAX),
	CONF_LONG("postscreen_dnsbl_allowlist_threshold",
	    &psc_var.dnsbl_allow_threshold, LONG_MIN, CONF_NOMAX),
	CONF_TIME("postscreen_dnsbl_min_ttl", &psc_var.dnsbl_min_ttl, 1,
	    CONF_NOMAX),
	CONF_TIME("postscreen_dnsbl_max_ttl", &psc_var.dnsbl_max_ttl, 1,
	    CONF_NOMAX),
	CONF_TIME("postscreen_dnsbl_timeout", &psc_var.dnsbl_timeout, 1,
	    CONF_NOMAX),
	CONF_BOOL("postscreen_pipelining_enable", &psc_var.pipel_enable),
	CONF_TIME("postscreen_pipelining_ttl", &psc_var.pipel_ttl, 1,
	    CONF_NOMAX),
	CONF_BOOL("postscreen_non_smtp_command_enable",
	    &psc_var.nsmtp_enable),
	CONF_TIME("postscreen_non_smtp_command_ttl", &psc_var.nsmtp_ttl, 1,
	    CONF_NOMAX),
	CONF_BOOL("postscreen_bare_newline_enable", &psc_var.barlf_enable),
	CONF_TIME("postscreen_bare_newline_ttl", &psc_var.barlf_ttl, 1,
	    CONF_NOMAX),
	CONF_TIME("postscreen_command_time_limit",
	    &psc_var.command_time_limit, 1, CONF_NOMAX),
	CONF_LONG("postscreen_command_count_limit",
	    &psc_var.command_count_limit, 1, CONF_NOMAX),
	CONF_LONG("line_length_limit", &psc_var.line_length_limit, 512,
	    CONF_NOMAX),
	CONF_LONG("postscreen_pre_queue_limit", &psc_var.pre_queue_limit, 0,
	    CONF_NOMAX),
	CONF_LONG("postscreen_client_connection_count_limit",
	    &psc_var.client_conn_limit, 0, CONF_NOMAX),
	CONF_LONG("postscreen_post_queue_limit", &psc_var.post_queue_limit, 0,
	    CONF_NOMAX),
	CONF_TIME("postscreen_cache_cleanup_interval",
	    &psc_var.cache_cleanup_interval, 0, CONF_NOMAX),
	CONF_TIME("postscreen_cache_retention_time",
	    &psc_var.cache_retention_time, 1, CONF_NOMAX),
	CONF_LONG("message_size_limit", &psc_var.message_size_limit, 0,
	    CONF_NOMAX),
	CONF_BOOL("postscreen_disable_vrfy_command", &psc_var.disable_vrfy),
	CONF_STR("myhostname", &psc_var.myhostname),
	CONF_STR("postscreen_cache_map", &psc_var.cache_map),
	CONF_END,
};

/* read_params - copy the configuration */
static void
read_params(void)
{
	struct psc_params *v = &psc_var;

	conf_table_load(psc_table);
	v->greet_action = action("postscreen_greet_action");
	v->blacklist_action = action("postscreen_denylist_action");
	v->dnsbl_action = action("postscreen_dnsbl_action");
	v->pipel_action = action("postscreen_pipelining_action");
	v->nsmtp_action = action("postscreen_non_smtp_command_action");
	v->barlf_action = action("postscreen_bare_newline_action");
	v->smtpd_socket = xasprintf("%s/private/%s",
	    conf_str("queue_directory"), conf_str("smtpd_service_name"));
	v->forbidden = psc_forbidden_parse(
	    conf_str("postscreen_forbidden_commands"));
}

/* tls_init - STARTTLS in the dummy engine, from smtpd's certificate */
static void
tls_init(void)
{
	const char *name = conf_str("postscreen_tls_security_level");
	char	 err[300];
	int	 level = *name ? tls_level_parse(name) : TLS_LEV_NONE;

	if (level < 0) {
		log_warn("postscreen_tls_security_level: unsupported level "
		    "\"%s\"; using may", log_safe(name));
		level = TLS_LEV_MAY;
	}
	if (level > TLS_LEV_ENCRYPT)
		level = TLS_LEV_ENCRYPT;
	psc_var.tls_level = level;
	if (level == TLS_LEV_NONE)
		return;
	/* smtpd owns the session cache; postscreen does not resume. */
	conf_set("smtpd_tls_session_cache_database", "");
	if ((psc_tls = tls_server_ctx_new("smtpd", err, sizeof(err))) == NULL) {
		log_warn("postscreen: no STARTTLS: %s", err);
		psc_var.tls_level = TLS_LEV_NONE;
	}
}

/*
 * raise_nofile - every idle client is a descriptor: take the hard limit
 * (a shell's or systemd's soft limit of 1024 would hold ~1,000 sessions)
 */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_debug("cannot raise the open file limit: %m");
}

/* pre_init - tables, DNS and the TLS key, before the privilege drop */
static void
pre_init(void)
{
	struct strv *nets;
	char	 err[256];

	raise_nofile();
	read_params();
	tls_init();
	nets = conf_mynetworks();
	psc_acl = psc_access_open(conf_str("postscreen_access_list"), nets);
	strv_free(nets);
	psc_sites = psc_dnsbl_parse(conf_str("postscreen_dnsbl_sites"), NULL,
	    NULL);
	if (psc_sites->nsite > 0 &&
	    dns_init(conf_str("resolver_nameservers"), err, sizeof(err)) < 0)
		log_fatal("DNS resolver: %s", err);
}

/* cleanup_event - the periodic cache cleanup */
static void
cleanup_event(evutil_socket_t fd, short what, void *arg)
{
	long	 n, kept = 0;

	(void)fd;
	(void)what;
	(void)arg;
	n = psc_cache_cleanup(psc_cache, time(NULL),
	    psc_var.cache_retention_time, &kept);
	if (n >= 0)
		log_info("cache %s full cleanup: retained=%ld dropped=%ld "
		    "entries", psc_var.cache_map, kept, n);
}

/* post_init - the cache (as mail_owner), the DNS pool, the timer */
static void
post_init(struct event_base *base)
{
	struct timeval tv;
	char	*path, err[300];

	psc_base = base;
	if ((path = psc_cache_path(conf_str("postscreen_cache_map"))) != NULL) {
		if ((psc_cache = psc_cache_open(path, err, sizeof(err))) == NULL)
			log_warn("postscreen_cache_map: %s; clients are not "
			    "remembered", err);
		free(path);
	} else if (*conf_str("postscreen_cache_map"))
		log_warn("postscreen_cache_map: unsupported table \"%s\"; "
		    "clients are not remembered",
		    conf_str("postscreen_cache_map"));
	if (psc_sites->nsite > 0)
		psc_workq = workq_new(base, PSC_DNS_THREADS, NULL, NULL);
	if (psc_cache && psc_var.cache_cleanup_interval > 0) {
		psc_cleanup_ev = event_new(base, -1, EV_PERSIST, cleanup_event,
		    NULL);
		tv.tv_sec = psc_var.cache_cleanup_interval;
		tv.tv_usec = 0;
		event_add(psc_cleanup_ev, &tv);
	}
}

/* set_todo - which tests this client must (re)take; 1 if any */
static int
set_todo(struct psc_state *s)
{
	long	 now = (long)time(NULL);
	int	 i, any = 0;
	int	 enabled[PSC_NTESTS] = {1, psc_sites->nsite > 0,
	    psc_var.pipel_enable, psc_var.nsmtp_enable, psc_var.barlf_enable};

	for (i = 0; i < PSC_NTESTS; i++)
		s->stamps[i] = PSC_STAMP_NEW;
	if (psc_cache)
		(void)psc_cache_get(psc_cache, s->addr, s->stamps);
	for (i = 0; i < PSC_NTESTS; i++) {
		s->todo[i] = enabled[i] && s->stamps[i] <= now;
		any |= s->todo[i];
	}
	return (any);
}

/* psc_accept - a new client */
static void
psc_accept(const struct server_conn *c)
{
	struct psc_state *s;
	int	 acl;

	log_info("CONNECT from [%s]:%s to [%s]:%s", c->client_addr,
	    c->client_port, c->server_addr, c->server_port);
	s = psc_state_new(c->fd, c->client_addr, c->client_port,
	    c->server_addr, c->server_port);
	/*
	 * Every connection counts, allow-listed and PASS OLD ones too, as
	 * in Postfix: the count is checked before the access list, and a
	 * connection leaves it when it is handed to smtpd or closed.
	 */
	s->counted_client = 1;
	if (psc_count_add(s->addr, 1) > psc_var.client_conn_limit &&
	    psc_var.client_conn_limit > 0) {
		log_info("NOQUEUE: reject: CONNECT from %s: too many "
		    "connections", psc_client(s));
		psc_drop(s, "421 4.7.0 Error: too many connections\r\n");
		return;
	}
	acl = psc_access_check(psc_acl, s->addr);
	if (acl == PSC_ACL_PERMIT) {
		log_info("WHITELISTED %s", psc_client(s));
		psc_send_socket(s);
		return;
	}
	if (acl == PSC_ACL_REJECT) {
		log_info("BLACKLISTED %s", psc_client(s));
		if (psc_var.blacklist_action == PSC_ACT_DROP) {
			psc_drop(s, "521 5.3.2 Service currently unavailable"
			    "\r\n");
			return;
		}
		if (psc_var.blacklist_action == PSC_ACT_IGNORE)
			acl = PSC_ACL_DUNNO;
		else {
			s->denylisted = 1;
			s->enforce_reply = xstrdup("550 5.3.2 Service currently "
			    "unavailable\r\n");
		}
	}
	if (!set_todo(s) && acl != PSC_ACL_REJECT) {
		log_info("PASS OLD %s", psc_client(s));
		psc_send_socket(s);
		return;
	}
	if (psc_pre_count >= psc_var.pre_queue_limit) {
		log_info("NOQUEUE: reject: CONNECT from %s: all screening "
		    "ports busy", psc_client(s));
		psc_drop(s, "421 4.3.2 All screening ports are busy\r\n");
		return;
	}
	s->counted_pre = 1;
	psc_pre_count++;
	if (acl == PSC_ACL_REJECT) {
		/* Denylisted, enforce: straight to the RCPT rejection. */
		memset(s->todo, 0, sizeof(s->todo));
		psc_smtp_tests(s);
		return;
	}
	psc_early_tests(s);
}

/* pre_exit - release what valgrind/ASan would report */
static void
pre_exit(void)
{
	if (psc_workq)
		workq_free(psc_workq);
	psc_workq = NULL;
	psc_dnsbl_shutdown();
	if (psc_cleanup_ev)
		event_free(psc_cleanup_ev);
	psc_cache_close(psc_cache);
	psc_cache = NULL;
	tls_ctx_free(psc_tls);
	psc_tls = NULL;
}

/* main - hand the callbacks to the server skeleton */
int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
		.program = "postscreen",
		.pre_init = pre_init,
		.post_init = post_init,
		.accept = psc_accept,
		.pre_exit = pre_exit,
		.long_lived = 1,
	};

	return (server_main(argc, argv, &spec));
}
