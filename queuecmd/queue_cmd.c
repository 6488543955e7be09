/*
 * NAME
 *	queue_cmd - what sendmail, postqueue and postsuper share
 * SYNOPSIS
 *	See queue_cmd.h.
 * DESCRIPTION
 *	Configuration, logging, the qmgr wakeup and finding sibling
 *	programs for the queue commands in queuecmd/.
 * DIAGNOSTICS
 *	See queue_cmd.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "queue_cmd.h"
#include "trigger.h"
#include "xalloc.h"

static char *cmd_queue_dir;
static char *cmd_confdir;

/* queue_cmd_init - logging and main.cf */
void
queue_cmd_init(const char *program, const char *confdir)
{
	char	 err[512], *name;

	log_init(program, LOG_TO_STDERR);
	if (confdir == NULL || *confdir == 0)
		confdir = getenv("MAIL_CONFIG");
	if (confdir == NULL || *confdir == 0)
		confdir = "/etc/postern";
	cmd_confdir = xstrdup(confdir);
	if (conf_load(confdir, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: fatal: %s\n", program, err);
		exit(EX_CONFIG);
	}
	name = xasprintf("%s/%s", conf_str("syslog_name"), program);
	log_set_name(name);
	free(name);
	cmd_queue_dir = xstrdup(conf_str("queue_directory"));
}

/* queue_cmd_override - -o name=value after queue_cmd_init() */
void
queue_cmd_override(const char *program, const char *name_eq_value)
{
	if (conf_set_option(name_eq_value) < 0) {
		fprintf(stderr, "%s: fatal: -o %s: expected name=value\n",
		    program, log_safe(name_eq_value));
		exit(EX_USAGE);
	}
	free(cmd_queue_dir);
	cmd_queue_dir = xstrdup(conf_str("queue_directory"));
}

/* queue_cmd_dir - queue_directory */
const char *
queue_cmd_dir(void)
{
	return (cmd_queue_dir);
}

/* queue_cmd_confdir - the configuration directory in use */
const char *
queue_cmd_confdir(void)
{
	return (cmd_confdir);
}

/* queue_cmd_trigger - write a wakeup request to public/qmgr */
int
queue_cmd_trigger(const char *request)
{
	char	 err[512];

	if (trigger_qmgr(cmd_queue_dir, request, 2000, err, sizeof(err)) < 0) {
		log_debug("cannot trigger qmgr: %s", err);
		return (-1);
	}
	return (0);
}

/* queue_cmd_sibling - path of another program beside this one */
char *
queue_cmd_sibling(const char *program)
{
	char	 exe[PATH_MAX];
	ssize_t	 n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char	*slash;

	if (n > 0) {
		exe[n] = 0;
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = 0;
			return (xasprintf("%s/%s", exe, program));
		}
	}
	return (xasprintf("%s/%s", conf_str("command_directory"), program));
}
