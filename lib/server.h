/*
 * NAME
 *	server - the skeleton every postern daemon runs in
 * SYNOPSIS
 *	#include "server.h"
 *
 *	int	server_main(int argc, char **argv,
 *	    const struct server_spec *spec);
 *	struct event_base *server_base(void);
 *	const char *server_service(void);
 *	void	server_session_begin(void);
 *	void	server_session_end(void);
 *	int	server_use(int uses);
 *	void	server_stop(void);
 *	int	server_process_number(void);
 *	int	server_foreground(void);
 * DESCRIPTION
 *	A daemon's main() fills a struct server_spec and calls
 *	server_main(), which does everything that is the same for every
 *	daemon, in this order:
 *	  1. options: -c confdir, -o name=value (repeatable; later wins),
 *	     -d (foreground, log to stderr too), -v (verbose, repeatable),
 *	     -S (serve one session on stdin/stdout, if spec->stdin_session),
 *	     -l addr (listen by itself: "host:port" for inet, a path for
 *	     unix; how a daemon runs without master), -s service and
 *	     -t type (set by master: the master.cf service name and type),
 *	     -n count (master: the process number, for logs),
 *	     -L count (master: number of listener fds, see below).
 *	  2. config: conf_load(confdir), then the -o overrides; logging
 *	     as "$syslog_name/<program>" to syslog, or maillog_file if set.
 *	  3. pre_init() as the invoking user (root under master): open
 *	     maps, read keys.
 *	  4. privilege drop: as root, setgroups/setgid/setuid to
 *	     mail_owner unless spec->keep_root (virtual: unpriv=n); the
 *	     drop is verified. As a normal user: nothing, one warning with -v.
 *	  5. post_init(base) on a fresh libevent event_base.
 *	  6. the listener: fd 3 from master, or -l. For inet and unix
 *	     listeners every accepted connection calls accept(fd, conn);
 *	     for pass listeners (postscreen -> smtpd) the skeleton accepts
 *	     the unix connection, receives each client socket with
 *	     SCM_RIGHTS plus its attribute list (lib/fdpass.h) and calls
 *	     accept() with the client's real addresses.
 *	  7. the loop, until SIGTERM, or until max_idle passes with no
 *	     session (server_session_begin/end keep the count), or
 *	     max_use sessions were served; on SIGHUP it stops accepting,
 *	     lets sessions finish, and exits (master starts a new process
 *	     with the new config: established sessions are not dropped).
 *	With -S, steps 6-7 are replaced by stdin_session(0, 1) and the
 *	loop runs until the session calls server_stop().
 *
 *	Details (master engineer):
 *	- max_idle and max_use apply only under master (-t given, no -l);
 *	  a daemon run by hand with -l stays up. A spec with long_lived
 *	  set (qmgr) ignores both, as Postfix's qmgr does. max_use counts
 *	  accepted connections (event-driven: sessions, not processes),
 *	  and the uses a daemon adds with server_use(uses): a delivery
 *	  agent counts each request after the first on a connection it
 *	  keeps (lib/agent.c). server_use() counts nothing and returns 0
 *	  once the daemon drains (SIGHUP, max_use, max_idle, master gone),
 *	  1 otherwise; server_use(0) only asks.
 *	- Accepted connections (conn->fd) are non-blocking and
 *	  close-on-exec; the daemon owns and closes them.
 *	- Under master, fd SERVER_LISTEN_FD (3) is the listener (with
 *	  -L n, n listeners: fd 3, then fds 5, 6, ..., one per address of
 *	  an inet service, all served alike) and fd
 *	  SERVER_STATUS_FD (4), when open, is master's status pipe: when a
 *	  process stops accepting (SIGHUP, max_use, max_idle) it writes a
 *	  struct server_status there, so master starts a replacement at
 *	  once while this one drains its sessions. When master goes away
 *	  (the pipe's read end closes), the daemon drains and exits too,
 *	  so a killed master leaves no orphans holding its ports.
 *	- master turns fifo and unix-dgram services into unix stream
 *	  sockets, so a daemon sees only -t inet, unix or pass. A wakeup
 *	  from master is a connection that sends "W" (or "F" for flush).
 *	- SIGTERM and SIGINT: pre_exit(), then exit 0. server_stop()
 *	  does the same from inside the daemon.
 *	- -l for an inet listener accepts "host:port", "[v6]:port" or
 *	  "port"; a path containing '/' is a unix socket (mode 0666). With
 *	  -t pass and -l path, the skeleton serves a pass listener there.
 *	- server_foreground() is 1 with -d; server_process_number() is -n.
 *	- Memory: once a second the loop reads the process's CPU clock;
 *	  when two seconds in a row used under 2 ms each, after some work
 *	  since the last time, the daemon fell idle and malloc_trim(0)
 *	  returns what the burst freed (main heap and every worker
 *	  thread's arena) to the kernel.
 *	- Logging also goes to stderr with -d and whenever the daemon was
 *	  not started by master (-l, -S), so errors reach the terminal.
 * DIAGNOSTICS
 *	Bad options and a failed privilege drop are fatal, and so are
 *	max_use below 0 and max_idle below 1 s (Postfix's wording,
 *	conf_table.h).
 */
#ifndef SERVER_H
#define SERVER_H

#include <sys/socket.h>

struct event_base;

struct server_conn {
	int	 fd;			/* non-blocking, close-on-exec */
	char	 client_addr[64];	/* numeric, "" for unix */
	char	 client_port[8];
	char	 server_addr[64];
	char	 server_port[8];
	int	 passed;		/* came through a pass service */
};

struct server_spec {
	const char *program;		/* "smtpd" */
	int	 keep_root;
	int	 stdin_session;		/* supports -S */
	void	(*pre_init)(void);
	void	(*post_init)(struct event_base *);
	void	(*accept)(const struct server_conn *);
	void	(*session_stdin)(int infd, int outfd);
	void	(*pre_exit)(void);
	int	 long_lived;		/* ignore max_idle/max_use (qmgr) */
};

#define SERVER_LISTEN_FD	3
#define SERVER_STATUS_FD	4

#define SERVER_STATUS_DRAINING	1	/* stopped accepting, will exit */

struct server_status {
	int	 pid;
	int	 status;
};

int	 server_main(int, char **, const struct server_spec *);
struct event_base *server_base(void);
const char *server_service(void);
void	 server_session_begin(void);
void	 server_session_end(void);
int	 server_use(int);
void	 server_stop(void);
int	 server_process_number(void);
int	 server_foreground(void);

#endif
