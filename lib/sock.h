/*
 * NAME
 *	sock - listening and connecting sockets, host:port parsing
 * SYNOPSIS
 *	#include "sock.h"
 *
 *	int	sock_split_hostport(const char *spec, char *host,
 *	    size_t hostlen, char *port, size_t portlen);
 *	int	sock_port(const char *service);
 *	int	sock_listen_inet(const char *host, const char *port,
 *	    int backlog, char *err, size_t errlen);
 *	int	sock_listen_unix(const char *path, int mode, int backlog,
 *	    char *err, size_t errlen);
 *	int	sock_connect_unix(const char *path, char *err, size_t errlen);
 *	int	sock_bind_unix_dgram(const char *path, int mode, char *err,
 *	    size_t errlen);
 *	int	sock_addr_str(const struct sockaddr *sa, socklen_t len,
 *	    char *addr, size_t addrlen, char *port, size_t portlen);
 *	int	sock_wait(int fd, short events, time_t deadline);
 * DESCRIPTION
 *	sock_split_hostport() splits the master.cf/-l forms "host:port",
 *	"[v6addr]:port", "v6addr" is not accepted without brackets when a
 *	port follows; a bare "port" (no ':') gives an empty host (all
 *	addresses). Brackets are removed from the host.
 *
 *	sock_port() turns a service name ("smtp") or a number into a
 *	port number, from /etc/services (getservbyname, no DNS).
 *
 *	sock_listen_inet() binds one numeric address (AI_NUMERICHOST: no
 *	DNS lookup ever happens here; an empty host or "*" means the
 *	wildcard of the address family given by the host, IPv4 0.0.0.0
 *	when empty) with SO_REUSEADDR, IPV6_V6ONLY for IPv6, close-on-exec,
 *	and TCP_NODELAY, which every connection accepted on it inherits
 *	(also through postscreen's hand-off to smtpd): postern's servers
 *	write whole replies (smtpd the replies to a pipelined group in one
 *	write), so Nagle could only hold a reply back until the client's
 *	delayed ACK of the one before, some 40 ms: when a client pipelines
 *	the next MAIL, RCPT and DATA behind a message's end, the 250 to its
 *	dot leaves first (smtpd's commit writes it) and their replies
 *	waited.
 *	sock_listen_unix() removes a stale socket file, binds, chmods to
 *	mode and listens. Both return the fd. sock_bind_unix_dgram() is
 *	the same for a datagram socket (bound, not listening).
 *
 *	sock_addr_str() formats a socket address numerically
 *	(NI_NUMERICHOST | NI_NUMERICSERV); unix addresses give "" "".
 *
 *	sock_wait() polls one descriptor for events (POLLIN, POLLOUT)
 *	until the absolute time deadline, across EINTR: 0 when ready, -1
 *	with errno ETIMEDOUT (or poll's) otherwise. The blocking helpers
 *	of attr and fdpass use it.
 * DIAGNOSTICS
 *	Library code: -1 with a message in err (and errno kept), no
 *	logging. sock_split_hostport() and sock_port() return -1 on a
 *	malformed spec or unknown service.
 */
#ifndef SOCK_H
#define SOCK_H

#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

int	 sock_split_hostport(const char *, char *, size_t, char *, size_t);
int	 sock_port(const char *);
int	 sock_listen_inet(const char *, const char *, int, char *, size_t);
int	 sock_listen_unix(const char *, int, int, char *, size_t);
int	 sock_connect_unix(const char *, char *, size_t);
int	 sock_bind_unix_dgram(const char *, int, char *, size_t);
int	 sock_wait(int, short, time_t);
int	 sock_addr_str(const struct sockaddr *, socklen_t, char *, size_t,
	    char *, size_t);

#endif
