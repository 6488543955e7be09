/*
 * NAME
 *	postern - control the postern mail system (Postfix's "postfix")
 * SYNOPSIS
 *	postern [-c config_dir] [-v] command
 *
 *	commands: start, start-fg, stop, reload, status, check, flush,
 *	set-permissions
 * DESCRIPTION
 *	start	run "check", then master in the background; exits when
 *		master is ready (0) or failed to start (1). master
 *		detaches first (own session, stdio on /dev/null): nothing
 *		holds the caller's terminal or pipe. maillog_file =
 *		/dev/stdout or /dev/stderr is refused (start-fg only).
 *	start-fg
 *		master in the foreground (-d), logging to stderr.
 *	stop	SIGTERM to master (pid file), wait until it has stopped
 *		(it stops its children first).
 *	reload	run "check" first and refuse (exit 1) if it finds a
 *		fatal problem, as "postfix reload"; else SIGHUP to
 *		master: reread main.cf and master.cf; established
 *		sessions survive. (master checks again itself.)
 *	status	"is running (PID: N)" and exit 0, or "is not running" and
 *		exit 1.
 *	check	postern_check() (master/check.c): main.cf, master.cf, the
 *		lookup tables; plus the queue directory structure and the
 *		owners and modes of the queue and data_directory
 *		(postern_perms_check(): errors, start and reload refuse).
 *	set-permissions
 *		as root, give the queue directories, data_directory and
 *		the LMDB tables main.cf names their owners and modes
 *		(master/postern_perms.c), as "postfix set-permissions".
 *	flush	an "F" trigger (lib/trigger.h) to
 *		$queue_directory/public/qmgr: qmgr retries the deferred
 *		queue now.
 *
 *	Whether master runs is decided by its pid file lock, never by
 *	the pid alone (a stale pid file is harmless).
 * DIAGNOSTICS
 *	Messages on stderr and in the log as "$syslog_name/postern";
 *	exit status 0 on success, 1 otherwise.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "log.h"
#include "postern_perms.h"
#include "postern_dkim.h"
#include "postern_sandbox.h"
#include "trigger.h"
#include "xalloc.h"

#define POSTERN_STOP_WAIT	60	/* seconds */

static const char *postern_dir;
static int postern_verbose;

/* postern_running - master's pid if its lock is held, else 0 */
static long
postern_running(void)
{
	char	*path, buf[32];
	long	 pid = 0;
	ssize_t	 n;
	int	 fd;

	path = xasprintf("%s/pid/master.pid", conf_str("queue_directory"));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return (0);
	if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = 0;
		pid = strtol(buf, NULL, 10);
		if (pid <= 0)
			pid = -1;	/* locked, pid not written yet */
	}
	close(fd);
	return (pid);
}

/* postern_alive - the process exists and is not a zombie */
static int
postern_alive(long pid)
{
	char	 path[64], buf[256], *p;
	ssize_t	 n;
	int	 fd;

	if (kill((pid_t)pid, 0) < 0)
		return (0);
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return (1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	/* "pid (comm) S ...": the state follows the last ')'. */
	if ((p = strrchr(buf, ')')) != NULL && p[1] == ' ' && p[2] == 'Z')
		return (0);
	return (1);
}

/* postern_master - exec master */
static int
postern_master(int foreground)
{
	char	*path = xasprintf("%s/master", conf_str("daemon_directory"));
	char	*argv[6];
	int	 i = 0;

	argv[i++] = "master";
	argv[i++] = "-c";
	argv[i++] = (char *)postern_dir;
	if (foreground)
		argv[i++] = "-d";
	if (postern_verbose)
		argv[i++] = "-v";
	argv[i] = NULL;
	execv(path, argv);
	log_error("exec %s: %m", path);
	return (1);
}

/* postern_queue_check - the queue directories QUEUE.md lists */
static int
postern_queue_check(void)
{
	static const char *dirs[] = {"incoming", "active", "deferred", "hold",
	    "corrupt", "maildrop", "bounce", "defer", "private", "public",
	    "pid", NULL};
	const char *q = conf_str("queue_directory");
	struct stat st;
	char	*p;
	int	 i;

	/* Missing ones are no news: master creates them at start. */
	if (stat(q, &st) < 0)
		return (0);
	for (i = 0; dirs[i]; i++) {
		p = xasprintf("%s/%s", q, dirs[i]);
		if (lstat(p, &st) == 0 && !S_ISDIR(st.st_mode))
			log_warn("%s is not a directory", p);
		free(p);
	}
	return (0);
}

/* postern_check_all - "postern check" */
static int
postern_check_all(void)
{
	char	 err[512];
	int	 fatal = postern_check(postern_dir, postern_verbose);

	/* postern_check loads the config itself; reload ours. */
	if (conf_load(postern_dir, err, sizeof(err)) < 0)
		log_fatal("%s", err);
	fatal += postern_queue_check();
	fatal += postern_perms_check();
	return (fatal ? 1 : 0);
}

/* postern_log_terminal - maillog_file is /dev/stdout or /dev/stderr */
static int
postern_log_terminal(void)
{
	const char *file = conf_str("maillog_file");

	return (strcmp(file, "/dev/stdout") == 0
	    || strcmp(file, "/dev/stderr") == 0);
}

/* postern_stop - SIGTERM, then wait until the lock is free */
static int
postern_stop(void)
{
	long	 pid = postern_running();
	time_t	 deadline = time(NULL) + POSTERN_STOP_WAIT;

	if (pid == 0) {
		log_error("the postern mail system is not running");
		return (1);
	}
	if (pid < 0 || kill((pid_t)pid, SIGTERM) < 0) {
		log_error("cannot signal master pid %ld: %m", pid);
		return (1);
	}
	log_info("stopping the postern mail system");
	/* The lock goes first; wait for the process itself too. */
	while (postern_running() != 0 || postern_alive(pid)) {
		if (time(NULL) > deadline) {
			log_error("master pid %ld did not stop in %d seconds",
			    pid, POSTERN_STOP_WAIT);
			return (1);
		}
		usleep(50000);
	}
	return (0);
}

/* postern_reload - check, then SIGHUP */
static int
postern_reload(void)
{
	long	 pid = postern_running();

	if (pid <= 0) {
		log_error("the postern mail system is not running");
		return (1);
	}
	/* As postfix reload: never apply what check rejects. */
	if (postern_check_all() != 0) {
		log_error("configuration check failed; not reloading (the "
		    "running system keeps its configuration)");
		return (1);
	}
	if (kill((pid_t)pid, SIGHUP) < 0) {
		log_error("cannot signal master pid %ld: %m", pid);
		return (1);
	}
	log_info("refreshing the postern mail system");
	return (0);
}

/* postern_flush - wake qmgr with "F" */
static int
postern_flush(void)
{
	char	 err[512];

	if (trigger_qmgr(conf_str("queue_directory"), TRIGGER_REQ_FLUSH, 2000,
	    err, sizeof(err)) < 0) {
		log_error("cannot flush the queue: %s", err);
		return (1);
	}
	return (0);
}

/* postern_usage - bad command line */
static void __attribute__((noreturn))
postern_usage(void)
{
	log_fatal("usage: postern [-c config_dir] [-v] start|start-fg|stop|"
	    "reload|status|check|flush|set-permissions|dkim-keygen");
}

int
main(int argc, char **argv)
{
	const char *cmd, *sname;
	char	 err[512], *ident;
	long	 pid;
	int	 c;

	if (argc > 1 && strcmp(argv[1], "sandbox") == 0)	/* issue 19 */
		return (postern_sandbox_main(argc - 1, argv + 1));
	if (argc > 1 && strcmp(argv[1], "dkim-keygen") == 0)	/* issue 14 */
		return (postern_dkim_main(argc - 1, argv + 1));
	postern_dir = getenv("MAIL_CONFIG");
	log_init("postern/postern", LOG_TO_STDERR);
	while ((c = getopt(argc, argv, "c:v")) != -1) {
		switch (c) {
		case 'c': postern_dir = optarg; break;
		case 'v': postern_verbose++; log_verbose++; break;
		default: postern_usage();
		}
	}
	if (optind != argc - 1)
		postern_usage();
	cmd = argv[optind];
	if (postern_dir == NULL || *postern_dir == 0)
		postern_dir = "/etc/postern";
	if (conf_load(postern_dir, err, sizeof(err)) < 0)
		log_fatal("%s", err);
	sname = conf_str("syslog_name");
	ident = xasprintf("%s/postern", *sname ? sname : "postern");
	log_init(ident, LOG_TO_STDERR
	    | (*conf_str("maillog_file") ? 0 : LOG_TO_SYSLOG));
	free(ident);
	if (*conf_str("maillog_file")
	    && strcmp(conf_str("maillog_file"), "/dev/stdout") != 0
	    && strcmp(conf_str("maillog_file"), "/dev/stderr") != 0)
		(void)log_set_file(conf_str("maillog_file"));

	if (strcmp(cmd, "check") == 0)
		return (postern_check_all());
	if (strcmp(cmd, "status") == 0) {
		if ((pid = postern_running()) == 0) {
			log_info("the postern mail system is not running");
			return (1);
		}
		log_info("the postern mail system is running: PID: %ld", pid);
		return (0);
	}
	if (strcmp(cmd, "start") == 0 || strcmp(cmd, "start-fg") == 0) {
		if (postern_running() != 0) {
			log_error("the postern mail system is already running");
			return (1);
		}
		if (postern_check_all() != 0) {
			log_error("configuration check failed; not starting");
			return (1);
		}
		if (strcmp(cmd, "start") == 0 && postern_log_terminal()) {
			log_error("maillog_file = %s needs \"postern "
			    "start-fg\": a background start has no terminal "
			    "to log to (set maillog_file to a file, or empty "
			    "for syslog); not starting",
			    conf_str("maillog_file"));
			return (1);
		}
		log_info("starting the postern mail system");
		return (postern_master(strcmp(cmd, "start-fg") == 0));
	}
	if (strcmp(cmd, "stop") == 0)
		return (postern_stop());
	if (strcmp(cmd, "reload") == 0)
		return (postern_reload());
	if (strcmp(cmd, "flush") == 0)
		return (postern_flush());
	if (strcmp(cmd, "set-permissions") == 0)
		return (postern_perms_set());
	postern_usage();
}
