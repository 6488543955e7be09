/*
 * NAME
 *	master_svc - from a master.cf line to a runnable service
 * SYNOPSIS
 *	#include "master.h"
 *
 *	struct master_svc *master_svc_build(const struct mastercf_service *m,
 *	    char *err, size_t errlen);
 *	void	master_svc_free(struct master_svc *svc);
 *	void	master_svc_forget_logged(void);
 * DESCRIPTION
 *	master_svc_build() decides how a master.cf line runs:
 *	  - a Postfix program that postern folds into another (cleanup,
 *	    pickup, trivial-rewrite, bounce, ...) is accepted; with -v it
 *	    is logged once: "service X: program Y is folded into
 *	    postern's Z; not started". svc->path is NULL. Postfix's
 *	    master says nothing about the services it runs, and an info
 *	    line for each was some 20 "Unmatched Entries" in logwatch's
 *	    report per start; "postern check" lists them in one line.
 *	  - a program present in daemon_directory runs from there (an
 *	    absolute command path runs as is); "lmtp" runs the smtp
 *	    binary when there is no lmtp binary (the service name tells
 *	    smtp which protocol to speak).
 *	  - anything else (pipe, local, a postern program not built) is
 *	    one warning and the service is not started.
 *	The process count: inet and pass services run min(maxproc,
 *	cores) processes (maxproc 0: cores), every other service one
 *	(event-driven daemons). A unix service with maxproc 1 (qmgr) is
 *	solitary: a new process starts only after the old one has exited.
 *	Messages are logged once per service and command for the life of
 *	master (a reload does not repeat them).
 * DIAGNOSTICS
 *	Never fatal; a service that cannot run has path NULL.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "master.h"
#include "mastercf.h"
#include "str.h"
#include "xalloc.h"

static const struct {
	const char *program;
	const char *into;
} master_folded[] = {
	{"cleanup", "smtpd and qmgr (the queue writer)"},
	{"pickup", "qmgr (maildrop pickup)"},
	{"trivial-rewrite", "qmgr (address resolution)"},
	{"bounce", "qmgr (DSNs)"},
	{"defer", "qmgr (DSNs)"},
	{"trace", "qmgr (DSNs)"},
	{"dnsblog", "postscreen (DNSBL lookups)"},
	{"tlsproxy", "smtpd (TLS)"},
	{"tlsmgr", "TLS library (session cache)"},
	{"proxymap", "map library"},
	{"scache", "smtp (connection reuse)"},
	{"showq", "postqueue"},
	{"flush", "qmgr"},
	{"error", "qmgr"},
	{"retry", "qmgr"},
	{"discard", "qmgr"},
	{"oqmgr", "qmgr"},
	{"postlogd", "logging (maillog_file)"},
};

/* the programs postern builds that master can run */
static const char *master_own[] = {
	"smtpd", "postscreen", "qmgr", "virtual", "smtp", "lmtp", "anvil",
	"verify", "metrics", NULL
};

static struct strv *master_logged;

/* master_svc_forget_logged - let messages be logged again (tests) */
void
master_svc_forget_logged(void)
{
	strv_free(master_logged);
	master_logged = NULL;
}

/* master_svc_first_time - true once per service and command */
static int
master_svc_first_time(const char *name, const char *command)
{
	char	*key = xasprintf("%s\t%s", name, command);
	size_t	 i;

	if (master_logged == NULL)
		master_logged = strv_new();
	for (i = 0; i < master_logged->argc; i++) {
		if (strcmp(master_logged->argv[i], key) == 0) {
			free(key);
			return (0);
		}
	}
	strv_add(master_logged, key);
	free(key);
	return (1);
}

/* master_svc_exec_path - daemon_directory/prog if executable */
static char *
master_svc_exec_path(const char *prog)
{
	const char *dir = conf_str("daemon_directory");
	struct stat st;
	char	*path;

	if (strchr(prog, '/'))
		path = xstrdup(prog);
	else
		path = xasprintf("%s/%s", dir, prog);
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode)
	    && access(path, X_OK) == 0)
		return (path);
	free(path);
	return (NULL);
}

/* master_svc_resolve - which binary runs this command, or NULL */
static void
master_svc_resolve(struct master_svc *svc, const char *command)
{
	const char *base = strrchr(command, '/') ? strrchr(command, '/') + 1
	    : command;
	size_t	 i;

	for (i = 0; i < sizeof(master_folded) / sizeof(master_folded[0]); i++)
		if (strcmp(base, master_folded[i].program) == 0) {
			if (master_svc_first_time(svc->name, command))
				log_debug("service %s: program %s is folded "
				    "into postern's %s; not started",
				    svc->name, base, master_folded[i].into);
			return;
		}
	if ((svc->path = master_svc_exec_path(command)) != NULL) {
		svc->argv0 = xstrdup(base);
		return;
	}
	if (strcmp(base, "lmtp") == 0
	    && (svc->path = master_svc_exec_path("smtp")) != NULL) {
		svc->argv0 = xstrdup("smtp");
		return;
	}
	for (i = 0; master_own[i]; i++)
		if (strcmp(base, master_own[i]) == 0)
			break;
	if (!master_svc_first_time(svc->name, command))
		return;
	if (master_own[i])
		log_warn("service %s: program %s not found in "
		    "daemon_directory %s; not started", svc->name, base,
		    conf_str("daemon_directory"));
	else
		log_warn("service %s: unknown command %s (not a postern "
		    "program); this service will not run", svc->name,
		    log_safe(command));
}

/* master_svc_cores - online processors, at least 1 */
static int
master_svc_cores(void)
{
	long	 n = sysconf(_SC_NPROCESSORS_ONLN);

	return (n < 1 ? 1 : (int)n);
}

/* master_svc_build - a service from one master.cf line */
struct master_svc *
master_svc_build(const struct mastercf_service *m, char *err, size_t errlen)
{
	struct master_svc *svc = xcalloc(1, sizeof(*svc));
	int	 cores = master_svc_cores();
	size_t	 i;

	svc->name = xstrdup(m->name);
	svc->type = xstrdup(m->type);
	svc->key = xasprintf("%s/%s", m->name, m->type);
	svc->private_ = m->private_;
	svc->wakeup = m->wakeup;
	svc->maxproc = m->maxproc;
	svc->status_pipe[0] = svc->status_pipe[1] = -1;
	svc->throttle_delay = MASTER_THROTTLE_MIN;
	svc->next_procnum = 1;
	svc->args = strv_new();
	for (i = 0; m->args && i < m->args->argc; i++)
		strv_add(svc->args, m->args->argv[i]);
	if (strcmp(m->type, "inet") == 0 || strcmp(m->type, "pass") == 0) {
		svc->want = m->maxproc == 0 ? cores
		    : (m->maxproc < cores ? m->maxproc : cores);
	} else {
		svc->want = 1;
		svc->solitary = m->maxproc == 1;
	}
	svc->listen_sig = master_listen_sig(m);
	master_svc_resolve(svc, m->command);
	(void)err;
	(void)errlen;
	return (svc);
}

/* master_svc_free - release a service (listeners closed by the caller) */
void
master_svc_free(struct master_svc *svc)
{
	if (svc == NULL)
		return;
	free(svc->name);
	free(svc->type);
	free(svc->key);
	free(svc->listen_sig);
	free(svc->path);
	free(svc->argv0);
	free(svc->sock_path);
	strv_free(svc->args);
	free(svc);
}
