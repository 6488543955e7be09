/*
 * NAME
 *	server - the skeleton every postern daemon runs in
 * DESCRIPTION
 *	See server.h for the contract. Postfix's event_server.c is the
 *	model: options, configuration, pre_init as the invoking user,
 *	privilege drop, then the accept loop on libevent. Everything that
 *	ends the process goes through one exit path (server_exit), so
 *	pre_exit runs exactly once.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "conf.h"
#include "conf_table.h"
#include "fdpass.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "sock.h"
#include "str.h"
#include "xalloc.h"

#define SERVER_KIND_INET	1
#define SERVER_KIND_UNIX	2
#define SERVER_KIND_PASS	3

#define SERVER_PASS_TIMEOUT	10	/* seconds for a hand-off to arrive */
#define SERVER_BACKLOG		1024

/*
 * Memory after a burst: glibc keeps what a burst freed (the main heap
 * below its top chunk, and every worker thread's arena) for reuse, so
 * a daemon that served 8,000 messages stayed twice its resting size.
 * Once per SERVER_TRIM_TICK the loop reads the process's CPU clock;
 * SERVER_TRIM_TICKS ticks in a row that used less than
 * SERVER_TRIM_IDLE_NS each, after at least SERVER_TRIM_WORK_NS of work
 * since the last trim, mean the process fell idle: malloc_trim(0)
 * gives the free pages of every arena back. A busy process is not
 * trimmed (with one tick under 10 ms as the mark, qmgr was trimmed in
 * the middle of bursts, in seconds it spent waiting for the others),
 * an idle one once.
 */
#define SERVER_TRIM_TICK	1		/* seconds */
#define SERVER_TRIM_TICKS	2		/* idle ticks in a row */
#define SERVER_TRIM_IDLE_NS	2000000LL	/* 2 ms: 0.2% of a tick */
#define SERVER_TRIM_WORK_NS	10000000LL

struct server_pass {
	int	 sock;
	struct fdpass_rx *rx;
	struct event *ev;
};

static const struct server_spec *server_spec;
static struct event_base *server_ev_base;
#define SERVER_MAX_LISTEN	64

static struct evconnlistener *server_listener[SERVER_MAX_LISTEN];
/*
 * A listener's own address when it is bound to one (not a wildcard):
 * every connection it accepts has it as its local address, so no
 * getsockname() per connection (postscreen's accept loop).
 */
struct server_local {
	int	 fixed;
	char	 addr[64];
	char	 port[8];
};
static struct server_local server_local[SERVER_MAX_LISTEN];
static struct event *server_dgram_ev[SERVER_MAX_LISTEN];	/* pass */
static int server_listen_fds[SERVER_MAX_LISTEN];
static int server_nlisten;
static struct event *server_idle_ev;
static struct event *server_resume_ev;
static struct event *server_trim_ev;
static long long server_trim_cpu;	/* CPU ns at the last tick */
static long long server_trim_done;	/* CPU ns after the last trim */
static int server_trim_idle;		/* idle ticks in a row */
static char *server_service_name;
static int server_kind;
static int server_under_master;
static int server_status_fd = -1;
static int server_procnum;
static int server_fg;
static int server_stdin_mode;
static int server_draining;
static int server_sessions;
static int server_pending;	/* pass hand-offs in progress */
static long server_uses;
static long server_max_use;
static long server_max_idle;
static time_t server_last_active;

/* server_base - the daemon's event base */
struct event_base *
server_base(void)
{
	return (server_ev_base);
}

/* server_service - the master.cf service name (or the program name) */
const char *
server_service(void)
{
	return (server_service_name ? server_service_name : "");
}

/* server_process_number - the -n value from master, 0 otherwise */
int
server_process_number(void)
{
	return (server_procnum);
}

/* server_foreground - 1 with -d */
int
server_foreground(void)
{
	return (server_fg);
}

/* server_close_listeners - stop accepting on every listener */
static void
server_close_listeners(void)
{
	int	 i;

	for (i = 0; i < server_nlisten; i++) {
		if (server_listener[i])
			evconnlistener_free(server_listener[i]);
		server_listener[i] = NULL;
		if (server_dgram_ev[i]) {
			event_free(server_dgram_ev[i]);
			close(server_listen_fds[i]);
		}
		server_dgram_ev[i] = NULL;
	}
}

/* server_exit - the one way out: pre_exit, then exit 0 */
static void __attribute__((noreturn))
server_exit(void)
{
	if (server_spec->pre_exit)
		server_spec->pre_exit();
	server_close_listeners();
	if (server_idle_ev)
		event_free(server_idle_ev);
	if (server_resume_ev)
		event_free(server_resume_ev);
	if (server_trim_ev)
		event_free(server_trim_ev);
	exit(0);
}

/* server_check_drained - exit the loop once a draining daemon is idle */
static void
server_check_drained(void)
{
	if (server_draining && server_sessions == 0 && server_pending == 0)
		event_base_loopexit(server_ev_base, NULL);
}

/* server_drain - stop accepting, tell master, finish open sessions */
static void
server_drain(const char *why)
{
	struct server_status st;

	if (server_draining)
		return;
	server_draining = 1;
	log_debug("%s: stop accepting, %d session(s) open", why,
	    server_sessions);
	server_close_listeners();
	if (server_status_fd >= 0) {
		st.pid = (int)getpid();
		st.status = SERVER_STATUS_DRAINING;
		if (write(server_status_fd, &st, sizeof(st)) < 0)
			log_debug("status pipe: %m");
	}
	server_check_drained();
}

/* server_session_begin - one more session is open */
void
server_session_begin(void)
{
	server_sessions++;
	metrics_sessions(1);
	server_last_active = time(NULL);
}

/* server_session_end - a session is over */
void
server_session_end(void)
{
	if (server_sessions > 0) {
		server_sessions--;
		metrics_sessions(-1);
	}
	server_last_active = time(NULL);
	server_check_drained();
}

/* server_stop - leave the loop and exit (pre_exit runs) */
void
server_stop(void)
{
	if (server_ev_base)
		event_base_loopexit(server_ev_base, NULL);
	else
		server_exit();
}

/* server_signal - SIGTERM/SIGINT: exit; SIGHUP: drain */
static void
server_signal(evutil_socket_t sig, short what, void *ctx)
{
	if (sig == SIGHUP) {
		if (!server_stdin_mode)
			server_drain("reload");
		return;
	}
	event_base_loopexit(server_ev_base, NULL);
}

/* server_idle - max_idle timer */
static void
server_idle(evutil_socket_t fd, short what, void *ctx)
{
	struct timeval tv = {1, 0};
	time_t	 now = time(NULL);

	if (server_sessions == 0 && server_pending == 0
	    && now - server_last_active >= server_max_idle) {
		server_drain("idle timeout");
		return;
	}
	if (server_sessions == 0 && server_pending == 0)
		tv.tv_sec = server_max_idle - (now - server_last_active);
	else
		tv.tv_sec = server_max_idle;
	if (tv.tv_sec < 1)
		tv.tv_sec = 1;
	event_add(server_idle_ev, &tv);
}

/* server_cpu_ns - CPU time of the whole process (all threads), in ns */
static long long
server_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
		return (0);
	return ((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

/* server_trim - once per tick: give freed memory back when idle */
static void
server_trim(evutil_socket_t fd, short what, void *ctx)
{
	struct timeval tv = {SERVER_TRIM_TICK, 0};
	long long now = server_cpu_ns();

	if (now - server_trim_cpu < SERVER_TRIM_IDLE_NS)
		server_trim_idle++;
	else
		server_trim_idle = 0;
	if (server_trim_idle >= SERVER_TRIM_TICKS
	    && now - server_trim_done >= SERVER_TRIM_WORK_NS) {
		(void)malloc_trim(0);
		now = server_cpu_ns();	/* the trim itself is not work */
		server_trim_done = now;
	}
	server_trim_cpu = now;
	evtimer_add(server_trim_ev, &tv);
}

/* server_master_gone - the status pipe's reader (master) went away */
static void
server_master_gone(evutil_socket_t fd, short what, void *ctx)
{
	struct event *ev = ctx;

	log_warn("master is gone: finishing %d session(s), then exiting",
	    server_sessions);
	event_free(ev);		/* fires once; nothing else holds it */
	close(server_status_fd);
	server_status_fd = -1;
	server_drain("master exit");
}

/* server_used - count one use; drain after max_use */
static void
server_used(void)
{
	server_uses++;
	server_last_active = time(NULL);
	if (server_under_master && !server_spec->long_lived
	    && server_max_use > 0 && server_uses >= server_max_use)
		server_drain("max_use reached");
}

/*
 * server_use - count uses of a connection that carries several (a
 * delivery agent's kept connection); 0 and nothing counted once the
 * daemon drains
 */
int
server_use(int uses)
{
	if (server_draining)
		return (0);
	while (uses-- > 0)
		server_used();
	return (1);
}

/* server_pass_done - forget one hand-off connection */
static void
server_pass_done(struct server_pass *p)
{
	if (p->ev)
		event_free(p->ev);
	fdpass_rx_free(p->rx);
	close(p->sock);
	free(p);
	server_pending--;
	server_check_drained();
}

/* server_pass_conn - a client handed over: the session starts */
static void
server_pass_conn(int fd, const struct fdpass_info *info)
{
	struct server_conn conn;
	int	 fl;

	/* postscreen's descriptor is non-blocking already: no F_SETFL then */
	if (((fl = fcntl(fd, F_GETFL)) & O_NONBLOCK) == 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	conn.fd = fd;
	memcpy(conn.client_addr, info->client_addr, sizeof(conn.client_addr));
	memcpy(conn.client_port, info->client_port, sizeof(conn.client_port));
	memcpy(conn.server_addr, info->server_addr, sizeof(conn.server_addr));
	memcpy(conn.server_port, info->server_port, sizeof(conn.server_port));
	conn.passed = 1;
	server_spec->accept(&conn);
}

/* server_pass_try - receive the client socket; 0: not all there yet */
static int
server_pass_try(struct server_pass *p)
{
	struct fdpass_info info;
	char	 err[256];
	int	 rc, fd;

	rc = fdpass_rx_read(p->rx, p->sock, &fd, &info, err, sizeof(err));
	if (rc == 0)
		return (0);
	if (rc < 0) {
		log_warn("%s", err);
		server_pass_done(p);
		return (1);
	}
	/*
	 * Accept first: the session must be counted before the hand-off is
	 * forgotten, or a draining daemon (max_use, reload) sees nothing
	 * open, leaves its loop and drops the client it was just given.
	 */
	server_pass_conn(fd, &info);
	server_pass_done(p);
	return (1);
}

/*
 * server_dgram_read - hand-offs queued on the pass service's datagram
 * socket (lib/fdpass.h), a few per wakeup: the other smtpd processes
 * read the same queue, and the one with the least to do gets there
 * first. Reading stops when the daemon starts draining.
 */
#define SERVER_DGRAM_BURST	8

static void
server_dgram_read(evutil_socket_t sock, short what, void *ctx)
{
	struct fdpass_info info;
	char	 err[256];
	int	 i, rc, fd;

	for (i = 0; i < SERVER_DGRAM_BURST && !server_draining; i++) {
		if ((rc = fdpass_recv_dgram(sock, &fd, &info, err,
		    sizeof(err))) == 0)
			break;
		if (rc < 0) {
			log_warn("%s", err);
			continue;
		}
		server_pass_conn(fd, &info);
		server_used();
	}
}

/* server_pass_read - the hand-off connection is readable, or timed out */
static void
server_pass_read(evutil_socket_t fd, short what, void *ctx)
{
	struct server_pass *p = ctx;

	if (what & EV_TIMEOUT) {
		log_warn("client hand-off: timeout");
		server_pass_done(p);
		return;
	}
	(void)server_pass_try(p);
}

/*
 * server_pass_start - a postscreen connection: the hand-off, at once
 * when postscreen has sent it already (nearly always: it sends right
 * after its connect), else from the loop
 */
static void
server_pass_start(int fd)
{
	struct server_pass *p = xcalloc(1, sizeof(*p));
	struct timeval tv = {SERVER_PASS_TIMEOUT, 0};

	p->sock = fd;
	p->rx = fdpass_rx_new();
	server_pending++;
	if (server_pass_try(p))
		return;
	p->ev = event_new(server_ev_base, fd, EV_READ | EV_PERSIST,
	    server_pass_read, p);
	event_add(p->ev, &tv);
}

/* server_local_init - l from listener fd's address, if not a wildcard */
static void
server_local_init(struct server_local *l, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;

	memset(l, 0, sizeof(*l));
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0)
		return;
	if (ss.ss_family == AF_INET)
		l->fixed = sin->sin_addr.s_addr != htonl(INADDR_ANY);
	else if (ss.ss_family == AF_INET6)
		l->fixed = !IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr)
		    && !(IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)
		    && sin6->sin6_addr.s6_addr32[3] == htonl(INADDR_ANY));
	if (l->fixed && sock_addr_str((struct sockaddr *)&ss, sslen,
	    l->addr, sizeof(l->addr), l->port, sizeof(l->port)) < 0)
		l->fixed = 0;
}

/* server_accept - one new connection on the listener */
static void
server_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *ctx)
{
	struct server_conn conn;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	const struct server_local *local = ctx;

	if (server_kind == SERVER_KIND_PASS) {
		server_pass_start(fd);
		server_used();
		return;
	}
	memset(&conn, 0, sizeof(conn));
	conn.fd = fd;
	if (sa && salen > 0)
		(void)sock_addr_str(sa, (socklen_t)salen, conn.client_addr,
		    sizeof(conn.client_addr), conn.client_port,
		    sizeof(conn.client_port));
	/*
	 * The local address of an AF_UNIX connection (the peer's family is
	 * the socket's) would be "" anyway: no getsockname() per delivery
	 * request in the agents, only on inet listeners; and only there
	 * when the listener's own address is a wildcard.
	 */
	if (local != NULL && local->fixed) {
		memcpy(conn.server_addr, local->addr, sizeof(local->addr));
		memcpy(conn.server_port, local->port, sizeof(local->port));
	} else if ((sa == NULL || salen <= 0 || sa->sa_family != AF_UNIX)
	    && getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0)
		(void)sock_addr_str((struct sockaddr *)&ss, sslen,
		    conn.server_addr, sizeof(conn.server_addr),
		    conn.server_port, sizeof(conn.server_port));
	/* After accept: a max_use drain must see this session counted. */
	server_spec->accept(&conn);
	server_used();
}

/* server_resume - re-enable accepting after a resource error */
static void
server_resume(evutil_socket_t fd, short what, void *ctx)
{
	int	 i;

	for (i = 0; i < server_nlisten; i++)
		if (server_listener[i])
			evconnlistener_enable(server_listener[i]);
}

/* server_accept_error - EMFILE and friends: pause for a second */
static void
server_accept_error(struct evconnlistener *l, void *ctx)
{
	struct timeval tv = {1, 0};

	log_warn("accept connection: %s",
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	evconnlistener_disable(l);
	if (server_resume_ev == NULL)
		server_resume_ev = evtimer_new(server_ev_base, server_resume,
		    NULL);
	evtimer_add(server_resume_ev, &tv);
}

/* Every daemon's own limits (Postfix's max_idle minimum; max_use 0: none). */
static const struct conf_table server_table[] = {
	CONF_LONG("max_use", &server_max_use, 0, CONF_NOMAX),
	CONF_TIME("max_idle", &server_max_idle, 1, CONF_NOMAX),
	CONF_END,
};

/*
 * server_logging - "$syslog_name/program" to syslog or maillog_file; base
 * is main.cf's syslog_name, before a master.cf -o override, for the lines
 * logged as another program's (cleanup's inside smtpd: log_info_as()).
 */
static void
server_logging(const char *program, const char *base)
{
	const char *sname = conf_str("syslog_name");
	const char *file = conf_str("maillog_file");
	char	*ident;
	int	 flags = 0;

	/* Run by hand (not by master): the terminal sees the log too. */
	if (server_fg || !server_under_master)
		flags |= LOG_TO_STDERR;
	ident = xasprintf("%s/%s", (sname && *sname) ? sname : "postern",
	    program);
	if ((file == NULL || *file == 0) && !server_fg)
		flags |= LOG_TO_SYSLOG;
	log_init(ident, flags);
	log_set_base(base);
	free(ident);
	if (file && *file && log_set_file(file) < 0) {
		log_init(log_name(), flags | LOG_TO_SYSLOG);
		log_warn("cannot open maillog_file %s: %m", file);
	}
}

/* server_drop_privileges - become mail_owner when started as root */
static void
server_drop_privileges(void)
{
	const char *user = conf_str("mail_owner");
	struct passwd *pw;

	if (geteuid() != 0) {
		log_debug("running as uid %ld: no privilege change",
		    (long)getuid());
		return;
	}
	if (server_spec->keep_root)
		return;
	if (user == NULL || *user == 0)
		user = "postern";
	if ((pw = getpwnam(user)) == NULL)
		log_fatal("mail_owner %s: no such user", user);
	if (pw->pw_uid == 0)
		log_fatal("mail_owner %s must not be root", user);
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0
	    || setuid(pw->pw_uid) < 0)
		log_fatal("change to user %s: %m", user);
	if (setuid(0) == 0 || geteuid() != pw->pw_uid
	    || getegid() != pw->pw_gid)
		log_fatal("privilege drop to %s did not stick", user);
}

/* server_kind_of - listener kind from -t (and -l) */
static int
server_kind_of(const char *type, const char *laddr)
{
	if (type == NULL)
		return (strchr(laddr, '/') ? SERVER_KIND_UNIX
		    : SERVER_KIND_INET);
	if (strcmp(type, "inet") == 0)
		return (SERVER_KIND_INET);
	if (strcmp(type, "unix") == 0 || strcmp(type, "fifo") == 0
	    || strcmp(type, "unix-dgram") == 0)
		return (SERVER_KIND_UNIX);
	if (strcmp(type, "pass") == 0)
		return (SERVER_KIND_PASS);
	log_fatal("unsupported service type: %s", log_safe(type));
}

/* server_open_listen - the -l listener (before the privilege drop) */
static int
server_open_listen(const char *laddr)
{
	char	 host[256], port[32], err[512];
	int	 fd;

	if (server_kind == SERVER_KIND_INET) {
		if (sock_split_hostport(laddr, host, sizeof(host), port,
		    sizeof(port)) < 0)
			log_fatal("bad -l address: %s", log_safe(laddr));
		fd = sock_listen_inet(host, port, SERVER_BACKLOG, err,
		    sizeof(err));
	} else
		fd = sock_listen_unix(laddr, 0666, SERVER_BACKLOG, err,
		    sizeof(err));
	if (fd < 0)
		log_fatal("%s", err);
	return (fd);
}

/* server_usage - bad command line */
static void __attribute__((noreturn))
server_usage(const char *program)
{
	log_fatal("usage: %s [-c config_dir] [-o name=value]... [-d] [-v] "
	    "[-S | -l address] [-s service -t type -n number]", program);
}

/* server_sock_type - SO_TYPE of a listener from master */
static int
server_sock_type(int fd)
{
	int	 type = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return (-1);
	return (type);
}

/* server_setup_loop - event base, signals, listener, idle timer */
static void
server_setup_loop(void)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	struct event *ev;
	struct timeval tv;
	size_t	 i;

	if ((server_ev_base = event_base_new()) == NULL)
		log_fatal("cannot create event base");
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		ev = evsignal_new(server_ev_base, sigs[i], server_signal, NULL);
		if (ev == NULL || evsignal_add(ev, NULL) < 0)
			log_fatal("cannot install signal handler");
	}
	if (server_spec->post_init)
		server_spec->post_init(server_ev_base);
	if (server_stdin_mode)
		return;
	for (i = 0; i < (size_t)server_nlisten; i++) {
		/* evconnlistener accepts until EAGAIN: non-blocking. */
		if (evutil_make_socket_nonblocking(server_listen_fds[i]) < 0)
			log_fatal("cannot make listener non-blocking: %m");
		if (server_kind == SERVER_KIND_PASS
		    && server_sock_type(server_listen_fds[i]) == SOCK_DGRAM) {
			server_dgram_ev[i] = event_new(server_ev_base,
			    server_listen_fds[i], EV_READ | EV_PERSIST,
			    server_dgram_read, NULL);
			if (server_dgram_ev[i] == NULL
			    || event_add(server_dgram_ev[i], NULL) < 0)
				log_fatal("cannot read fd %d",
				    server_listen_fds[i]);
			continue;
		}
		/*
		 * Backlog 0: the socket already listens (master's or
		 * SERVER_BACKLOG); -1 made libevent call listen(fd, 128),
		 * and a burst of 500 connects overflowed the accept queue
		 * (SYN-ACK retransmitted after 1 s: greeting p99 +1 s).
		 */
		server_local_init(&server_local[i], server_listen_fds[i]);
		server_listener[i] = evconnlistener_new(server_ev_base,
		    server_accept, &server_local[i],
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
		    server_listen_fds[i]);
		if (server_listener[i] == NULL)
			log_fatal("cannot listen on fd %d: %m",
			    server_listen_fds[i]);
		evconnlistener_set_error_cb(server_listener[i],
		    server_accept_error);
	}
	/* A pipe's write end polls as an error once its reader is gone. */
	if (server_status_fd >= 0) {
		ev = event_new(server_ev_base, server_status_fd, EV_READ,
		    server_master_gone, event_self_cbarg());
		event_add(ev, NULL);
	}
	server_last_active = time(NULL);
	if (server_under_master && !server_spec->long_lived
	    && server_max_idle > 0) {
		server_idle_ev = evtimer_new(server_ev_base, server_idle, NULL);
		tv.tv_sec = server_max_idle;
		tv.tv_usec = 0;
		evtimer_add(server_idle_ev, &tv);
	}
	server_trim_cpu = server_cpu_ns();
	if ((server_trim_ev = evtimer_new(server_ev_base, server_trim,
	    NULL)) == NULL)
		log_fatal("cannot create the memory trim timer");
	tv.tv_sec = SERVER_TRIM_TICK;
	tv.tv_usec = 0;
	evtimer_add(server_trim_ev, &tv);
}

/* server_main - run a daemon; see server.h */
int
server_main(int argc, char **argv, const struct server_spec *spec)
{
	const char *confdir = getenv("MAIL_CONFIG");
	const char *type = NULL, *laddr = NULL;
	struct strv *opts = strv_new();
	char	 err[512], *base;
	size_t	 i;
	int	 c, nlisten = 1, fd;

	server_spec = spec;
	log_init(spec->program, LOG_TO_STDERR);
	signal(SIGPIPE, SIG_IGN);
	if (confdir == NULL || *confdir == 0)
		confdir = "/etc/postern";
	opterr = 0;
	while ((c = getopt(argc, argv, "c:o:dvSl:s:t:n:L:")) != -1) {
		switch (c) {
		case 'c': confdir = optarg; break;
		case 'o': strv_add(opts, optarg); break;
		case 'd': server_fg = 1; break;
		case 'v': log_verbose++; break;
		case 'S': server_stdin_mode = 1; break;
		case 'l': laddr = optarg; break;
		case 's': server_service_name = xstrdup(optarg); break;
		case 't': type = optarg; break;
		case 'n': server_procnum = atoi(optarg); break;
		case 'L': nlisten = atoi(optarg); break;
		default: server_usage(spec->program);
		}
	}
	if (optind != argc)
		server_usage(spec->program);
	if (server_stdin_mode && !(spec->stdin_session && spec->session_stdin))
		log_fatal("%s does not support -S", spec->program);

	/* Under master, fds 3 and 4 are ours: check before opening more. */
	if (!server_stdin_mode && laddr == NULL) {
		if (type == NULL)
			log_fatal("no listener: use -l address or -S, or run "
			    "%s under master", spec->program);
		if (nlisten < 1 || nlisten > SERVER_MAX_LISTEN)
			log_fatal("bad -L count: %d", nlisten);
		server_under_master = 1;
		for (c = 0; c < nlisten; c++) {
			fd = c == 0 ? SERVER_LISTEN_FD : SERVER_STATUS_FD + c;
			if (fcntl(fd, F_GETFD) < 0)
				log_fatal("-t %s: no listener on fd %d",
				    log_safe(type), fd);
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
			server_listen_fds[server_nlisten++] = fd;
		}
		if (fcntl(SERVER_STATUS_FD, F_GETFD) >= 0) {
			server_status_fd = SERVER_STATUS_FD;
			(void)fcntl(server_status_fd, F_SETFD, FD_CLOEXEC);
		}
	}
	if (server_service_name == NULL)
		server_service_name = xstrdup(spec->program);

	if (conf_load(confdir, err, sizeof(err)) < 0)
		log_fatal("%s", err);
	base = xstrdup(conf_str("syslog_name"));
	/*
	 * Postfix's read-only pseudo-parameters, for master.cf -o values
	 * such as "syslog_name=postfix/$service_name".
	 */
	conf_set("service_name", server_service_name);
	conf_set("process_name", spec->program);
	snprintf(err, sizeof(err), "%ld", (long)getpid());
	conf_set("process_id", err);
	for (i = 0; i < opts->argc; i++)
		if (conf_set_option(opts->argv[i]) < 0)
			log_fatal("bad -o option (need name=value): %s",
			    log_safe(opts->argv[i]));
	strv_free(opts);
	server_logging(spec->program, base);
	free(base);
	conf_table_load(server_table);

	if (!server_stdin_mode) {
		server_kind = server_kind_of(type, laddr ? laddr : "");
		if (laddr)
			server_listen_fds[server_nlisten++] =
			    server_open_listen(laddr);
	}
	/* the shared counters, when master made them (lib/metrics.h) */
	base = xasprintf("%s/metrics", conf_str("data_directory"));
	metrics_attach(base, server_service_name, spec->program);
	free(base);
	if (spec->pre_init)
		spec->pre_init();
	server_drop_privileges();
	server_setup_loop();
	if (server_stdin_mode)
		spec->session_stdin(0, 1);
	/* the loop's log lines: one write per iteration (lib/log.h) */
	log_batch(1);
	while (event_base_loop(server_ev_base, EVLOOP_ONCE) == 0) {
		log_flush();
		if (event_base_got_exit(server_ev_base)
		    || event_base_got_break(server_ev_base))
			break;
	}
	log_batch(0);
	server_exit();
}
