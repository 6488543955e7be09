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
 *	void	server_stop(void);
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
 *	     -n count (master: the process number, for logs).
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
 * DIAGNOSTICS
 *	Bad options and a failed privilege drop are fatal.
 */
#ifndef SERVER_H
#define SERVER_H

#include <sys/socket.h>

struct event_base;

struct server_conn {
	int	 fd;
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
};

int	 server_main(int, char **, const struct server_spec *);
struct event_base *server_base(void);
const char *server_service(void);
void	 server_session_begin(void);
void	 server_session_end(void);
void	 server_stop(void);

#endif
