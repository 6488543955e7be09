/*
 * NAME
 *	master_spawn - the processes of each service
 * SYNOPSIS
 *	#include "master.h"
 *
 *	void	master_spawn_start(struct master_svc *svc);
 *	void	master_spawn_fill(struct master_svc *svc);
 *	void	master_spawn_reap(void);
 *	void	master_spawn_signal_all(int sig, int drain);
 *	int	master_spawn_count(void);
 *	void	master_spawn_detach(struct master_svc *svc);
 * DESCRIPTION
 *	master_spawn_start() sets up a service's status pipe and wakeup
 *	timer and starts its processes. A child gets the listeners as
 *	fds 3, 5, 6, ... (-L n when more than one), the status pipe as
 *	fd 4 (lib/server.h), and the arguments
 *	    argv0 -c CONFDIR -s SERVICE -t TYPE [-L N] -n NUMBER ARGS...
 *	where ARGS are master.cf's arguments as written (the -o pairs are
 *	expanded by the child in its own parameter view). The table of
 *	client counts that smtpd and anvil share (master_anvil_fd,
 *	lib/anvil_shm.c) follows the listeners, its fd named in the
 *	environment (ANVIL_SHM_ENV).
 *
 *	master_spawn_fill() starts processes until the service has
 *	svc->want of them that accept (draining ones do not count, except
 *	for a solitary service). master_spawn_reap() collects exited
 *	children: an exit with a failure status, or a crash signal (SEGV,
 *	BUS, ABRT, ILL, FPE, SYS, TRAP), within MASTER_QUICK_EXIT seconds
 *	of the start throttles the service (1s, doubling up to 60s, as
 *	Postfix's "bad command startup -- throttling"); anything else,
 *	including a child killed by a signal sent from outside (KILL,
 *	TERM, ...: unlike Postfix, which throttles those too, so a kill
 *	every 0.2 s stalled a service for minutes), is replaced at once. A death by signal or a non-zero exit is logged
 *	as a warning, except a child killed by master's own SIGTERM at
 *	stop or SIGHUP at reload (one started just before, without its
 *	handler yet). Signals are blocked across fork() and reset to their
 *	defaults in the child before exec, so none meant for a child is
 *	swallowed by master's inherited handlers.
 *
 *	Wakeup timers: every svc->wakeup seconds master sends a "W"
 *	trigger (lib/trigger.h) to the service's socket, for unix, fifo
 *	and pass services.
 *
 *	master_spawn_signal_all() sends a signal to every child (drain:
 *	also mark them draining, for a reload). master_spawn_detach()
 *	stops a service's timers and status pipe.
 * DIAGNOSTICS
 *	A failed fork or exec is logged and counts as a quick failure
 *	(throttled).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "anvil_shm.h"
#include "log.h"
#include "master.h"
#include "server.h"
#include "str.h"
#include "trigger.h"
#include "xalloc.h"

struct master_svc *master_services;
struct master_proc *master_procs;

/* master_spawn_find - the process with this pid */
static struct master_proc *
master_spawn_find(pid_t pid)
{
	struct master_proc *p;

	for (p = master_procs; p; p = p->next)
		if (p->pid == pid)
			return (p);
	return (NULL);
}

/* master_spawn_count - running children */
int
master_spawn_count(void)
{
	struct master_proc *p;
	int	 n = 0;

	for (p = master_procs; p; p = p->next)
		n++;
	return (n);
}

/* master_spawn_status - a child reports that it stopped accepting */
static void
master_spawn_status(evutil_socket_t fd, short what, void *ctx)
{
	struct server_status st;
	struct master_proc *p;
	ssize_t	 n;

	while ((n = read(fd, &st, sizeof(st))) == (ssize_t)sizeof(st)) {
		if ((p = master_spawn_find((pid_t)st.pid)) == NULL
		    || st.status != SERVER_STATUS_DRAINING || p->draining)
			continue;
		p->draining = 1;
		p->svc->nproc--;
		log_debug("service %s: pid %ld stopped accepting",
		    p->svc->name, (long)p->pid);
		master_spawn_fill(p->svc);
	}
}

/* master_spawn_argv - the child's argument vector */
static char **
master_spawn_argv(struct master_svc *svc, int procnum)
{
	struct strv *v = strv_new();
	const char *type = svc->type;
	char	 num[32];
	char	**argv;
	size_t	 i;

	if (strcmp(type, "fifo") == 0 || strcmp(type, "unix-dgram") == 0)
		type = "unix";
	strv_add(v, svc->argv0);
	strv_add(v, "-c");
	strv_add(v, master_confdir);
	strv_add(v, "-s");
	strv_add(v, svc->name);
	strv_add(v, "-t");
	strv_add(v, type);
	if (svc->nfds > 1) {
		snprintf(num, sizeof(num), "%d", svc->nfds);
		strv_add(v, "-L");
		strv_add(v, num);
	}
	snprintf(num, sizeof(num), "%d", procnum);
	strv_add(v, "-n");
	strv_add(v, num);
	for (i = 0; i < svc->args->argc; i++)
		strv_add(v, svc->args->argv[i]);
	argv = v->argv;
	v->argv = NULL;
	v->argc = 0;
	strv_free(v);
	return (argv);
}

/* master_spawn_child - in the child: arrange fds, exec */
static void __attribute__((noreturn))
master_spawn_child(struct master_svc *svc, char **argv)
{
	static const int caught[] = {SIGCHLD, SIGHUP, SIGTERM, SIGINT};
	int	 high[MASTER_MAX_LISTEN + 1];
	sigset_t none;
	size_t	 k;
	int	 i, n = svc->nfds, anvil, next;
	char	 env[64];

	/*
	 * Signals are blocked since before the fork. Until exec, master's
	 * handlers are still installed here: a SIGTERM (stop) or SIGHUP
	 * (reload) for this child would run master's handler and be lost
	 * (the child then ran on, and a stop waited for the SIGKILL).
	 * Default actions first, then unblock: a pending one acts now.
	 */
	for (k = 0; k < sizeof(caught) / sizeof(caught[0]); k++)
		signal(caught[k], SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Move everything out of the way first, then into place. */
	for (i = 0; i < n; i++)
		high[i] = fcntl(svc->fds[i], F_DUPFD, 100);
	high[n] = fcntl(svc->status_pipe[1], F_DUPFD, 100);
	for (i = 0; i <= n; i++)
		if (high[i] < 0)
			_exit(126);
	anvil = master_anvil_fd >= 0 ? fcntl(master_anvil_fd, F_DUPFD, 100)
	    : -1;
	if (dup2(high[0], SERVER_LISTEN_FD) < 0
	    || dup2(high[n], SERVER_STATUS_FD) < 0)
		_exit(126);
	for (i = 1; i < n; i++)
		if (dup2(high[i], SERVER_STATUS_FD + i) < 0)
			_exit(126);
	for (i = 0; i <= n; i++)
		close(high[i]);
	/* anvil's table (lib/anvil_shm.c) after the listeners */
	next = SERVER_STATUS_FD + (n > 1 ? n : 1);
	if (anvil >= 0 && dup2(anvil, next) == next) {
		snprintf(env, sizeof(env), "%s=%d", ANVIL_SHM_ENV, next++);
		putenv(env);
	}
	closefrom(next);
	execv(svc->path, argv);
	fprintf(stderr, "master: exec %s: %s\n", svc->path, strerror(errno));
	_exit(127);
}

/* master_spawn_one - fork one process of a service */
static int
master_spawn_one(struct master_svc *svc)
{
	struct master_proc *p;
	char	**argv;
	sigset_t all, old;
	int	 procnum = svc->next_procnum++;
	pid_t	 pid;
	size_t	 i;

	argv = master_spawn_argv(svc, procnum);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0)
		master_spawn_child(svc, argv);
	sigprocmask(SIG_SETMASK, &old, NULL);
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
	if (pid < 0) {
		log_warn("service %s: fork: %m", svc->name);
		return (-1);
	}
	p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->svc = svc;
	p->started = time(NULL);
	p->procnum = procnum;
	p->next = master_procs;
	master_procs = p;
	svc->nproc++;
	svc->nall++;
	log_debug("service %s: started %s pid %ld", svc->name, svc->path,
	    (long)pid);
	return (0);
}

/* master_spawn_unthrottle - the throttle delay is over */
static void
master_spawn_unthrottle(evutil_socket_t fd, short what, void *ctx)
{
	struct master_svc *svc = ctx;

	svc->throttled = 0;
	master_spawn_fill(svc);
}

/* master_spawn_throttle - hold a crashing service back */
static void
master_spawn_throttle(struct master_svc *svc)
{
	struct timeval tv;

	log_warn("%s: bad command startup -- throttling for %d seconds "
	    "(service %s)", svc->path, svc->throttle_delay, svc->name);
	svc->throttled = 1;
	tv.tv_sec = svc->throttle_delay;
	tv.tv_usec = 0;
	if (svc->throttle_ev == NULL)
		svc->throttle_ev = evtimer_new(master_base,
		    master_spawn_unthrottle, svc);
	evtimer_add(svc->throttle_ev, &tv);
	svc->throttle_delay *= 2;
	if (svc->throttle_delay > MASTER_THROTTLE_MAX)
		svc->throttle_delay = MASTER_THROTTLE_MAX;
}

/* master_spawn_fill - start processes up to the wanted count */
void
master_spawn_fill(struct master_svc *svc)
{
	if (master_stopping || svc->removed || svc->path == NULL
	    || svc->nfds == 0 || svc->throttled)
		return;
	while ((svc->solitary ? svc->nall : svc->nproc) < svc->want)
		if (master_spawn_one(svc) < 0) {
			master_spawn_throttle(svc);
			return;
		}
}

/* master_spawn_wakeup - Postfix's trigger: connect, write "W" */
static void
master_spawn_wakeup(evutil_socket_t unused, short what, void *ctx)
{
	struct master_svc *svc = ctx;
	char	 err[512];

	if (svc->sock_path == NULL || svc->nall == 0)
		return;
	/* master's event loop must never wait: wait_ms 0 */
	if (trigger_send(svc->sock_path, TRIGGER_REQ_WAKEUP, 0, err,
	    sizeof(err)) < 0)
		log_debug("service %s: wakeup: %s", svc->name, err);
}

/* master_spawn_start - status pipe, wakeup timer, first processes */
void
master_spawn_start(struct master_svc *svc)
{
	struct timeval tv;

	if (svc->path == NULL || svc->nfds == 0)
		return;
	if (svc->status_pipe[0] < 0) {
		if (pipe2(svc->status_pipe, O_CLOEXEC) < 0)
			log_fatal("pipe: %m");
		(void)fcntl(svc->status_pipe[0], F_SETFL, O_NONBLOCK);
		svc->status_ev = event_new(master_base, svc->status_pipe[0],
		    EV_READ | EV_PERSIST, master_spawn_status, NULL);
		event_add(svc->status_ev, NULL);
	}
	if (svc->wakeup > 0 && strcmp(svc->type, "inet") != 0
	    && svc->wakeup_ev == NULL) {
		svc->wakeup_ev = event_new(master_base, -1, EV_PERSIST,
		    master_spawn_wakeup, svc);
		tv.tv_sec = svc->wakeup;
		tv.tv_usec = 0;
		event_add(svc->wakeup_ev, &tv);
	}
	master_spawn_fill(svc);
}

/* master_spawn_detach - stop timers and the status pipe */
void
master_spawn_detach(struct master_svc *svc)
{
	if (svc->status_ev)
		event_free(svc->status_ev);
	if (svc->wakeup_ev)
		event_free(svc->wakeup_ev);
	if (svc->throttle_ev)
		event_free(svc->throttle_ev);
	svc->status_ev = svc->wakeup_ev = svc->throttle_ev = NULL;
	if (svc->status_pipe[0] >= 0) {
		close(svc->status_pipe[0]);
		close(svc->status_pipe[1]);
	}
	svc->status_pipe[0] = svc->status_pipe[1] = -1;
}

/*
 * crash_signal - a signal a program raises on itself when it fails
 * (a fault, abort()); any other one was sent from outside (kill -9, the
 * OOM killer, an administrator's TERM) and says nothing about whether
 * the command can start.
 */
static int
crash_signal(int sig)
{
	return (sig == SIGSEGV || sig == SIGBUS || sig == SIGABRT
	    || sig == SIGILL || sig == SIGFPE || sig == SIGSYS
	    || sig == SIGTRAP);
}

/* master_spawn_exited - log one exit; 1 if it was a failure */
static int
master_spawn_exited(struct master_proc *p, int status)
{
	const char *path = p->svc->path ? p->svc->path : p->svc->name;

	/*
	 * master's own SIGTERM (stop) or SIGHUP (reload: drain) may arrive
	 * before a child that was just started has its handler (under
	 * ASan, start-up takes a while): that death is the stop or drain
	 * working, not a failure to report.
	 */
	if (WIFSIGNALED(status)
	    && ((master_stopping && WTERMSIG(status) == SIGTERM)
	    || (p->draining && WTERMSIG(status) == SIGHUP))) {
		log_debug("process %s pid %ld stopped by signal %d", path,
		    (long)p->pid, WTERMSIG(status));
		return (0);
	}
	if (WIFSIGNALED(status)) {
		log_warn("process %s pid %ld killed by signal %d", path,
		    (long)p->pid, WTERMSIG(status));
		return (1);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		log_warn("process %s pid %ld exit status %d", path,
		    (long)p->pid, WEXITSTATUS(status));
		return (1);
	}
	log_debug("process %s pid %ld exited", path, (long)p->pid);
	return (0);
}

/* master_spawn_unlink - remove a process from the list */
static void
master_spawn_unlink(struct master_proc *p)
{
	struct master_proc **pp;

	for (pp = &master_procs; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
}

/* master_spawn_reap - collect children, replace or throttle */
void
master_spawn_reap(void)
{
	struct master_proc *p;
	struct master_svc *svc;
	int	 status, failed;
	pid_t	 pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((p = master_spawn_find(pid)) == NULL)
			continue;
		svc = p->svc;
		master_spawn_unlink(p);
		svc->nall--;
		if (!p->draining)
			svc->nproc--;
		failed = master_spawn_exited(p, status);
		if (!master_stopping && !svc->removed) {
			/* killed from outside: replaced, never throttled */
			if (failed && !p->draining
			    && time(NULL) - p->started < MASTER_QUICK_EXIT
			    && !(WIFSIGNALED(status)
			    && !crash_signal(WTERMSIG(status))))
				master_spawn_throttle(svc);
			else if (time(NULL) - p->started >= MASTER_QUICK_EXIT)
				svc->throttle_delay = MASTER_THROTTLE_MIN;
			if (failed && !svc->throttled)
				log_info("service %s: restarting %s",
				    svc->name, svc->argv0);
			master_spawn_fill(svc);
		}
		free(p);
	}
}

/* master_spawn_signal_all - signal every child */
void
master_spawn_signal_all(int sig, int drain)
{
	struct master_proc *p;

	for (p = master_procs; p; p = p->next) {
		(void)kill(p->pid, sig);
		if (drain && !p->draining) {
			p->draining = 1;
			p->svc->nproc--;
		}
	}
}
