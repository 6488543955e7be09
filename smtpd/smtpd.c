/*
 * NAME
 *	smtpd - the postern SMTP server
 * SYNOPSIS
 *	smtpd [-c confdir] [-o name=value] [-d] [-v] [-S] [-l addr]
 * DESCRIPTION
 *	main() only: the parameters smtpd reads, and the callbacks for the
 *	server skeleton (lib/server.h). The work is in smtpd_session.c,
 *	smtpd_cmd.c, smtpd_data.c and smtpd_queue.c.
 *
 *	-S serves one session on stdin/stdout (transcript tests, and
 *	sendmail -bs); -d -l 127.0.0.1:PORT runs alone without master.
 *	TLS (smtpd_tls_*) is set up by smtpd_tls.c in pre_init, before
 *	the privilege drop, so the key can be read; AUTH (smtpd_sasl_*) by
 *	smtpd_auth.c, its backends per worker thread (smtpd_sasl.c).
 *
 *	smtpd_forbid_bare_newline takes Postfix 3.9's values: "normalize"
 *	(our default, as Postfix 3.9), "no", and "yes" or "reject"; see
 *	smtpd_data.c. smtpd_worker_threads (postern only) sizes the pool
 *	that runs policy lookups and queue file writes; smtpd_queue_sync
 *	(postern only: "journal", the default, "syncfs" or "fsync")
 *	chooses how a group commit makes its batch durable
 *	(smtpd_queue.c).
 * DIAGNOSTICS
 *	A bad parameter value is fatal at start, with Postfix's wording
 *	(conf_table.h): smtpd_timeout and the recipient, error and junk
 *	command limits at least 1, line_length_limit at least 512,
 *	message_size_limit at least 0 (0: no limit).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "conf_table.h"
#include "log.h"
#include "queue.h"
#include "server.h"
#include "smtpd.h"
#include "smtpd_anvil.h"
#include "str.h"
#include "xalloc.h"

struct smtpd_params smtpd_params;

/* smtpd_bare_mode - smtpd_forbid_bare_newline */
static int
smtpd_bare_mode(const char *v)
{
	if (strcasecmp(v, "normalize") == 0)
		return (SMTPD_BARE_NORMALIZE);
	if (strcasecmp(v, "no") == 0)
		return (SMTPD_BARE_NO);
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "reject") == 0)
		return (SMTPD_BARE_REJECT);
	log_warn("smtpd_forbid_bare_newline: unknown value \"%s\"; "
	    "using \"normalize\"", log_safe(v));
	return (SMTPD_BARE_NORMALIZE);
}

/* The parameters smtpd reads as they are; defaults are lib/params.c's. */
static const struct conf_table smtpd_table[] = {
	CONF_STR("myhostname", &smtpd_params.myhostname),
	CONF_STR("smtpd_banner", &smtpd_params.banner),
	CONF_STR("queue_directory", &smtpd_params.queue_dir),
	CONF_TIME("smtpd_timeout", &smtpd_params.timeout, 1, CONF_NOMAX),
	CONF_LONG("line_length_limit", &smtpd_params.line_limit, 512,
	    CONF_NOMAX),
	CONF_LONG("message_size_limit", &smtpd_params.size_limit, 0,
	    CONF_NOMAX),
	CONF_LONG("smtpd_recipient_limit", &smtpd_params.rcpt_limit, 1,
	    CONF_NOMAX),
	CONF_BOOL("smtpd_helo_required", &smtpd_params.helo_required),
	CONF_LONG("smtpd_soft_error_limit", &smtpd_params.soft_errors, 1,
	    CONF_NOMAX),
	CONF_LONG("smtpd_hard_error_limit", &smtpd_params.hard_errors, 1,
	    CONF_NOMAX),
	CONF_TIME("smtpd_error_sleep_time", &smtpd_params.error_sleep, 0,
	    CONF_NOMAX),
	CONF_LONG("smtpd_junk_command_limit", &smtpd_params.junk_limit, 1,
	    CONF_NOMAX),
	CONF_BOOL("disable_vrfy_command", &smtpd_params.disable_vrfy),
	CONF_BOOL("smtpd_forbid_unauth_pipelining",
	    &smtpd_params.forbid_unauth_pipe),
	CONF_BOOL("smtpd_delay_reject", &smtpd_params.delay_reject),
	CONF_BOOL("smtpd_peername_lookup", &smtpd_params.peername_lookup),
	CONF_BOOL("smtpd_tls_received_header", &smtpd_params.tls_received),
	CONF_INT("smtpd_dns_worker_threads", &smtpd_params.dns_workers, 1,
	    1024),
	CONF_INT("smtpd_worker_threads_max", &smtpd_params.workers_max, 1,
	    1024),
	CONF_INT("smtpd_worker_threads", &smtpd_params.workers, 1,
	    CONF_NOMAX),
	CONF_END,
};

/* smtpd_exclusions - smtpd_forbid_bare_newline_exclusions as CIDRs */
static struct strv *
smtpd_exclusions(void)
{
	struct strv *v, *out = strv_new();
	size_t	 i;

	v = conf_netlist("smtpd_forbid_bare_newline_exclusions");
	for (i = 0; v && i < v->argc; i++) {
		if (strchr(v->argv[i], ':') && v->argv[i][0] != '['
		    && strchr(v->argv[i], '/') == NULL
		    && strspn(v->argv[i], "0123456789abcdefABCDEF:.") !=
		    strlen(v->argv[i])) {
			log_warn("smtpd_forbid_bare_newline_exclusions: "
			    "table %s is not supported; ignored",
			    log_safe(v->argv[i]));
			continue;
		}
		strv_add(out, v->argv[i]);
	}
	strv_free(v);
	return (out);
}

/* smtpd_pre_init - read the parameters (conf is loaded, -o applied) */
static void
smtpd_pre_init(void)
{
	struct smtpd_params *p = &smtpd_params;
	struct strv *v;
	const char *w;

	conf_table_load(smtpd_table);
	p->bare_newline = smtpd_bare_mode(conf_str(
	    "smtpd_forbid_bare_newline"));
	v = conf_list("smtpd_data_restrictions");
	p->data_checks = v->argc > 0;
	strv_free(v);
	w = conf_str("smtpd_queue_sync");
	if (strcmp(w, "fsync") != 0 && strcmp(w, "syncfs") != 0
	    && strcmp(w, "journal") != 0 && *w)
		log_warn("smtpd_queue_sync: unknown value \"%s\"; using "
		    "\"syncfs\"", log_safe(w));
	p->sync_fs = strcmp(w, "fsync") != 0;
	p->journal = strcmp(w, "journal") == 0;
	/* the group commit's descriptor, before any queue file is written
	 * (a queue directory that cannot be opened fails the first commit,
	 * which says so) */
	if (p->sync_fs)
		(void)queue_sync_fs_keep(p->queue_dir);
	p->bare_exclusions = smtpd_exclusions();
	smtpd_tls_init();
	smtpd_auth_init();
	smtpd_anvil_init();
}

/* smtpd_post_init - the worker pool, on the skeleton's event base */
static void
smtpd_post_init(struct event_base *base)
{
	smtpd_session_init(base);
	smtpd_anvil_start(base);
}

/* smtpd_pre_exit - stop the workers */
static void
smtpd_pre_exit(void)
{
	smtpd_session_fini();
	smtpd_anvil_stop();
}

int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
		.program = "smtpd",
		.stdin_session = 1,
		.pre_init = smtpd_pre_init,
		.post_init = smtpd_post_init,
		.accept = smtpd_session_accept,
		.session_stdin = smtpd_session_stdin,
		.pre_exit = smtpd_pre_exit,
	};

	return (server_main(argc, argv, &spec));
}
