/*
 * NAME
 *	master - the postern process supervisor
 * SYNOPSIS
 *	master [-c config_dir] [-d | -f] [-v]
 * DESCRIPTION
 *	master reads main.cf and master.cf, creates the queue directories,
 *	takes the pid lock $queue_directory/pid/master.pid, opens every
 *	listener and runs each service's program from daemon_directory
 *	(master_svc.c, master_listen.c, master_spawn.c).
 *
 *	Without -d it detaches before it starts any child (a new session,
 *	stdin, stdout and stderr to /dev/null, so that no process holds
 *	the caller's terminal or pipe: "postern start | cat" ends), and
 *	the invoking process exits 0 once master is ready, or 1 if start
 *	failed, so "postern start" can report the result. With -d it
 *	stays in the foreground and also logs to stderr (make run). With
 *	-f it stays in the foreground and logs as a detached master does
 *	(syslog, or maillog_file): for a service manager such as
 *	systemd (Type=exec, etc/postern.service), which supervises the
 *	process it started and reads its syslog lines.
 *
 *	Signals: SIGHUP rereads main.cf and master.cf, keeps the
 *	listeners of unchanged services, opens new ones, closes removed
 *	ones, sends SIGHUP to every child (it stops accepting, finishes
 *	its sessions and exits) and starts new processes: established
 *	sessions survive. SIGTERM and SIGINT send SIGTERM to every child,
 *	wait for them (SIGKILL after MASTER_STOP_WAIT seconds), remove
 *	the pid file and exit.
 *
 *	As root, the queue directories are owned by mail_owner and the
 *	children drop to mail_owner themselves (lib/server.c), except
 *	daemons that keep root for their own reasons (virtual, unpriv=n).
 * DIAGNOSTICS
 *	A second master: "fatal: the postern mail system is already
 *	running". Unreadable configuration, a malformed master.cf entry, a
 *	service with no listener at start: fatal. On SIGHUP master first
 *	runs the fatal part of "postern check" (postern_check_fatal(), in
 *	a child so that its own configuration is untouched); if it fails,
 *	or main.cf/master.cf cannot be read, it logs a warning and keeps
 *	the old configuration, as Postfix's master does.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "anvil_shm.h"
#include "check.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "master.h"
#include "mastercf.h"
#include "queue.h"
#include "str.h"
#include "xalloc.h"

#define MASTER_STOP_WAIT	20	/* seconds before SIGKILL */

struct event_base *master_base;
const char *master_confdir;
int	 master_stopping;
int	 master_anvil_fd = -1;		/* smtpd's and anvil's counts */

static int master_fg;
static int master_stderr;		/* -d: log to stderr as well */
static int master_pid_fd = -1;
static char *master_pid_path;
static time_t master_stop_time;
static struct event *master_stop_ev;

/* master_logging - "$syslog_name/master" */
static void
master_logging(void)
{
	const char *sname = conf_str("syslog_name");
	const char *file = conf_str("maillog_file");
	char	*ident = xasprintf("%s/master", *sname ? sname : "postern");
	int	 flags = master_stderr ? LOG_TO_STDERR : 0;

	/*
	 * maillog_file on the terminal: with -d once (stderr); detached
	 * there is no terminal (postern start refuses it): syslog.
	 */
	if ((master_stderr || !master_fg) && (strcmp(file, "/dev/stdout") == 0
	    || strcmp(file, "/dev/stderr") == 0))
		file = "";
	if (*file == 0 && !master_stderr)
		flags |= LOG_TO_SYSLOG;
	log_init(ident, flags);
	free(ident);
	if (*file && log_set_file(file) < 0)
		log_warn("cannot open maillog_file %s: %m", file);
}

/* master_owner - mail_owner's uid/gid when root, else -1 */
static void
master_owner(uid_t *uid, gid_t *gid)
{
	const char *user = conf_str("mail_owner");
	struct passwd *pw;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (geteuid() != 0)
		return;
	if ((pw = getpwnam(user)) == NULL)
		log_fatal("mail_owner %s: no such user (tools/install-deps "
		    "creates it)", user);
	if (pw->pw_uid == 0)
		log_fatal("mail_owner %s must not be root", user);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
}

/* master_mkdirs - queue directories (QUEUE.md) and data_directory */
static void
master_mkdirs(void)
{
	const char *qdir = conf_str("queue_directory");
	const char *ddir = conf_str("data_directory");
	char	 err[512];
	uid_t	 uid;
	gid_t	 gid;

	master_owner(&uid, &gid);
	if (mkdir(qdir, 0755) < 0 && errno != EEXIST)
		log_fatal("create queue_directory %s: %m", qdir);
	if (queue_dirs_create(qdir, uid, gid, err, sizeof(err)) < 0)
		log_fatal("%s", err);
	if (*ddir && mkdir(ddir, 0700) < 0 && errno != EEXIST)
		log_fatal("create data_directory %s: %m", ddir);
	if (*ddir && uid != (uid_t)-1 && chown(ddir, uid, gid) < 0)
		log_warn("chown data_directory %s: %m", ddir);
}

/* master_metrics - fresh shared counters for this run (lib/metrics.h) */
static void
master_metrics(void)
{
	const char *ddir = conf_str("data_directory");
	char	*path;
	uid_t	 uid;
	gid_t	 gid;

	if (*ddir == 0)
		return;
	master_owner(&uid, &gid);
	path = xasprintf("%s/metrics", ddir);
	if (metrics_create(path, uid, gid) < 0)
		log_warn("create %s: %m (the metrics service has no counters)",
		    path);
	free(path);
}

/* master_lock - the pid file lock: one master per queue */
static void
master_lock(void)
{
	master_pid_path = xasprintf("%s/pid/master.pid",
	    conf_str("queue_directory"));
	master_pid_fd = open(master_pid_path, O_RDWR | O_CREAT | O_CLOEXEC,
	    0644);
	if (master_pid_fd < 0)
		log_fatal("open lock file %s: %m", master_pid_path);
	if (flock(master_pid_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			log_fatal("the postern mail system is already running");
		log_fatal("lock %s: %m", master_pid_path);
	}
}

/* master_write_pid - Postfix's format: the pid, right-aligned */
static void
master_write_pid(void)
{
	char	 buf[32];
	int	 n = snprintf(buf, sizeof(buf), "%10ld\n", (long)getpid());

	if (ftruncate(master_pid_fd, 0) < 0
	    || pwrite(master_pid_fd, buf, (size_t)n, 0) != n)
		log_fatal("write %s: %m", master_pid_path);
}

/* master_services_load - read master.cf, open listeners, start */
static int
master_services_load(int at_start)
{
	struct mastercf *m;
	struct master_svc *svc, **tail = &master_services;
	char	*path, err[512];
	size_t	 i;

	path = xasprintf("%s/master.cf", master_confdir);
	m = mastercf_load(path, err, sizeof(err));
	free(path);
	if (m == NULL || m->nbad) {
		/* A malformed entry is fatal, as in Postfix's master. */
		if (m)
			snprintf(err, sizeof(err), "%s", m->bad);
		mastercf_free(m);
		if (at_start)
			log_fatal("%s", err);
		log_warn("%s; keeping the old configuration", err);
		return (-1);
	}
	for (i = 0; i < m->nsvc; i++) {
		svc = master_svc_build(&m->svc[i], err, sizeof(err));
		*tail = svc;
		tail = &svc->next;
	}
	mastercf_free(m);
	return (0);
}

/* master_open_all - listeners of every runnable service without any */
static void
master_open_all(int at_start)
{
	struct master_svc *svc;

	for (svc = master_services; svc; svc = svc->next) {
		if (svc->removed || svc->path == NULL)
			continue;
		/* inet: bind what a reload added; the rest is kept open. */
		if (svc->nfds > 0 && strcmp(svc->type, "inet") != 0)
			continue;
		if (master_listen_open(svc) < 0) {
			if (at_start)
				log_fatal("service %s: no listener could be "
				    "opened", svc->name);
			log_warn("service %s: no listener; not started",
			    svc->name);
		}
	}
}

/* master_find_old - an unmatched old service with the same identity */
static struct master_svc *
master_find_old(struct master_svc *old, const struct master_svc *svc)
{
	for (; old; old = old->next)
		if (!old->removed && old->key && strcmp(old->key, svc->key) == 0
		    && old->path && svc->path)
			return (old);
	return (NULL);
}

/* master_adopt - move listeners (if unchanged) and processes over */
static void
master_adopt(struct master_svc *svc, struct master_svc *old)
{
	struct master_proc *p;
	int	 i;

	if (strcmp(old->listen_sig, svc->listen_sig) == 0) {
		for (i = 0; i < old->nfds; i++)
			svc->fds[i] = old->fds[i];
		svc->nfds = old->nfds;
		svc->sock_path = old->sock_path;
		old->sock_path = NULL;
		old->nfds = 0;
	} else
		master_listen_take(svc, old);
	for (p = master_procs; p; p = p->next)
		if (p->svc == old) {
			p->svc = svc;
			svc->nall++;
			if (!p->draining)
				svc->nproc++;
		}
	/* The adopted processes report to (and watch) the old pipe. */
	if (old->status_pipe[0] >= 0 && svc->status_pipe[0] < 0) {
		svc->status_pipe[0] = old->status_pipe[0];
		svc->status_pipe[1] = old->status_pipe[1];
		svc->status_ev = old->status_ev;
		old->status_pipe[0] = old->status_pipe[1] = -1;
		old->status_ev = NULL;
	}
	svc->next_procnum = old->next_procnum;
	old->nall = old->nproc = 0;
	old->removed = 1;
}

/* master_reap_removed - free removed services without processes */
static void
master_reap_removed(void)
{
	struct master_svc **pp = &master_services, *svc;

	while ((svc = *pp) != NULL) {
		if (svc->removed && svc->nall == 0) {
			*pp = svc->next;
			master_spawn_detach(svc);
			master_listen_close(svc);
			master_svc_free(svc);
		} else
			pp = &svc->next;
	}
}

/* master_reload_check - "postern check"'s fatal part, in a child */
static int
master_reload_check(void)
{
	pid_t	 pid, got;
	int	 status;

	/* A child: our own configuration stays as it is if it fails. */
	if ((pid = fork()) < 0) {
		log_warn("fork: %m");
		return (-1);
	}
	if (pid == 0)
		_exit(postern_check_fatal(master_confdir) ? 1 : 0);
	while ((got = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (got != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return (-1);
	return (0);
}

/* master_reload - SIGHUP: new configuration, sessions survive */
static void
master_reload(void)
{
	struct master_svc *old = master_services, *svc;
	char	 err[512];

	log_info("reload -- version %s, configuration %s", POSTERN_VERSION,
	    master_confdir);
	if (master_reload_check() < 0) {
		log_warn("%s: configuration check failed; keeping the old "
		    "configuration", master_confdir);
		return;
	}
	if (conf_load(master_confdir, err, sizeof(err)) < 0) {
		log_warn("%s; keeping the old configuration", err);
		return;
	}
	master_logging();
	master_services = NULL;
	if (master_services_load(0) < 0) {
		master_services = old;
		return;
	}
	master_spawn_signal_all(SIGHUP, 1);
	for (svc = master_services; svc; svc = svc->next) {
		struct master_svc *o = master_find_old(old, svc);

		if (o)
			master_adopt(svc, o);
	}
	/* Old services: removed from master.cf or replaced. */
	for (svc = old; svc; svc = svc->next) {
		svc->removed = 1;
		master_listen_close(svc);
	}
	master_open_all(0);
	/* Append the old ones; they go once their processes are gone. */
	if (old) {
		struct master_svc **tail = &master_services;

		while (*tail)
			tail = &(*tail)->next;
		*tail = old;
	}
	master_reap_removed();
	for (svc = master_services; svc; svc = svc->next)
		if (!svc->removed)
			master_spawn_start(svc);
}

/* master_finish - every child is gone: remove the pid file, exit */
static void __attribute__((noreturn))
master_finish(void)
{
	(void)unlink(master_pid_path);
	log_info("terminating");
	exit(0);
}

/* master_stop_tick - wait for children, SIGKILL stragglers */
static void
master_stop_tick(evutil_socket_t fd, short what, void *ctx)
{
	struct timeval tv = {0, 100000};

	master_spawn_reap();
	if (master_spawn_count() == 0)
		master_finish();
	if (time(NULL) - master_stop_time >= MASTER_STOP_WAIT) {
		log_warn("%d process(es) did not stop in %d seconds: SIGKILL",
		    master_spawn_count(), MASTER_STOP_WAIT);
		master_spawn_signal_all(SIGKILL, 0);
		master_stop_time = time(NULL);
	}
	evtimer_add(master_stop_ev, &tv);
}

/* master_signal - SIGCHLD, SIGHUP, SIGTERM, SIGINT */
static void
master_signal(evutil_socket_t sig, short what, void *ctx)
{
	switch (sig) {
	case SIGCHLD:
		master_spawn_reap();
		master_reap_removed();
		if (master_stopping && master_spawn_count() == 0)
			master_finish();
		break;
	case SIGHUP:
		if (!master_stopping)
			master_reload();
		break;
	default:
		if (master_stopping)
			break;
		log_info("terminating on signal %d", (int)sig);
		master_stopping = 1;
		master_spawn_signal_all(SIGTERM, 0);
		master_stop_time = time(NULL);
		master_stop_ev = evtimer_new(master_base, master_stop_tick,
		    NULL);
		master_stop_tick(-1, 0, NULL);
		break;
	}
}

/* master_stdio_null - stdin, stdout, stderr to /dev/null */
static void
master_stdio_null(void)
{
	int	 null;

	if ((null = open("/dev/null", O_RDWR)) < 0)
		return;
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	if (null > 2)
		close(null);
}

/* master_detach - background: parent waits for "ready" from the child */
static int
master_detach(void)
{
	int	 fds[2];
	char	 c;
	pid_t	 pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		log_fatal("pipe: %m");
	if ((pid = fork()) < 0)
		log_fatal("fork: %m");
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &c, 1) == 1)
			_exit(0);
		fprintf(stderr, "master: fatal: the postern mail system did "
		    "not start; its log (maillog_file or syslog) says why\n");
		_exit(1);
	}
	close(fds[0]);
	(void)setsid();
	master_stdio_null();
	return (fds[1]);
}

/* master_ready - detached: tell the parent it may exit */
static void
master_ready(int fd)
{
	if (fd < 0)
		return;
	if (write(fd, "k", 1) != 1)
		log_warn("ready pipe: %m");
	close(fd);
}

/* master_absdir - the config dir as an absolute path (we chdir) */
static const char *
master_absdir(const char *dir)
{
	char	 buf[PATH_MAX];

	if (realpath(dir, buf) == NULL)
		log_fatal("config directory %s: %m", dir);
	return (xstrdup(buf));
}

/* master_signals - install the signal events */
static void
master_signals(void)
{
	static const int sigs[] = {SIGCHLD, SIGHUP, SIGTERM, SIGINT};
	struct event *ev;
	size_t	 i;

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		ev = evsignal_new(master_base, sigs[i], master_signal, NULL);
		if (ev == NULL || evsignal_add(ev, NULL) < 0)
			log_fatal("cannot install signal handler");
	}
}

int
main(int argc, char **argv)
{
	const char *dir = getenv("MAIL_CONFIG");
	struct master_svc *svc;
	char	 err[512];
	int	 c, ready = -1;

	log_init("postern/master", LOG_TO_STDERR);
	while ((c = getopt(argc, argv, "c:dfv")) != -1) {
		switch (c) {
		case 'c': dir = optarg; break;
		case 'd': master_fg = master_stderr = 1; break;
		case 'f': master_fg = 1; break;
		case 'v': log_verbose++; break;
		default: log_fatal("usage: master [-c config_dir] [-d | -f] [-v]");
		}
	}
	if (optind != argc)
		log_fatal("usage: master [-c config_dir] [-d | -f] [-v]");
	master_confdir = master_absdir(dir && *dir ? dir : "/etc/postern");
	if (conf_load(master_confdir, err, sizeof(err)) < 0)
		log_fatal("%s", err);
	master_logging();
	master_mkdirs();
	master_lock();
	master_metrics();
	if (chdir(conf_str("queue_directory")) < 0)
		log_fatal("chdir %s: %m", conf_str("queue_directory"));
	if (!master_fg)
		ready = master_detach();
	master_write_pid();
	if ((master_base = event_base_new()) == NULL)
		log_fatal("cannot create event base");
	master_signals();
	/* one table of client counts for the life of this master */
	if ((master_anvil_fd = anvil_shm_create(conf_time("anvil_rate_time_unit"),
	    conf_time("smtpd_sasl_rate_time_unit"))) < 0)
		log_warn("cannot make anvil's table: %m; smtpd's client "
		    "limits are not enforced");
	master_services_load(1);
	master_open_all(1);
	for (svc = master_services; svc; svc = svc->next)
		master_spawn_start(svc);
	log_info("daemon started -- version %s, configuration %s",
	    POSTERN_VERSION, master_confdir);
	master_ready(ready);
	event_base_dispatch(master_base);
	return (0);
}
