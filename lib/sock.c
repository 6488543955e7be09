/*
 * NAME
 *	sock - listening and connecting sockets, host:port parsing
 * DESCRIPTION
 *	See sock.h.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sock.h"

/* sock_split_hostport - "host:port", "[v6]:port", "port" */
int
sock_split_hostport(const char *spec, char *host, size_t hostlen,
    char *port, size_t portlen)
{
	const char *hp, *pp, *end;
	size_t	 hl;

	if (spec == NULL || *spec == 0)
		return (-1);
	if (*spec == '[') {
		if ((end = strchr(spec, ']')) == NULL || end[1] != ':')
			return (-1);
		hp = spec + 1;
		hl = (size_t)(end - hp);
		pp = end + 2;
	} else if ((end = strrchr(spec, ':')) != NULL) {
		if (memchr(spec, ':', (size_t)(end - spec)) != NULL)
			return (-1);	/* bare IPv6 with a port: ambiguous */
		hp = spec;
		hl = (size_t)(end - spec);
		pp = end + 1;
	} else {
		hp = spec;
		hl = 0;
		pp = spec;
	}
	if (hl >= hostlen || *pp == 0 || strlen(pp) >= portlen
	    || strpbrk(pp, "[]: \t/") != NULL)
		return (-1);
	memcpy(host, hp, hl);
	host[hl] = 0;
	strcpy(port, pp);
	return (0);
}

/* sock_port - service name or number to a port number */
int
sock_port(const char *service)
{
	struct servent *se;
	char	*end;
	long	 n;

	if (service == NULL || *service == 0)
		return (-1);
	n = strtol(service, &end, 10);
	if (*end == 0)
		return ((n > 0 && n < 65536) ? (int)n : -1);
	if ((se = getservbyname(service, "tcp")) == NULL)
		return (-1);
	return (ntohs((unsigned short)se->s_port));
}

/* sock_listen_inet - bind and listen on one numeric address */
int
sock_listen_inet(const char *host, const char *port, int backlog,
    char *err, size_t errlen)
{
	struct addrinfo hints, *res;
	char	 pbuf[16];
	int	 fd, on = 1, rc, pn, saved;

	if ((pn = sock_port(port)) < 0) {
		snprintf(err, errlen, "unknown service or bad port: %s", port);
		return (-1);
	}
	snprintf(pbuf, sizeof(pbuf), "%d", pn);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (host && (*host == 0 || strcmp(host, "*") == 0))
		host = NULL;
	if (host == NULL)
		hints.ai_family = AF_INET;
	if ((rc = getaddrinfo(host, pbuf, &hints, &res)) != 0) {
		snprintf(err, errlen, "bad address %s: %s", host ? host : "*",
		    gai_strerror(rc));
		errno = EINVAL;
		return (-1);
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		saved = errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		freeaddrinfo(res);
		errno = saved;
		return (-1);
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/* inherited by every accepted connection: see sock.h */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (res->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0
	    || listen(fd, backlog) < 0) {
		saved = errno;
		snprintf(err, errlen, "bind %s port %s: %s", host ? host : "*",
		    pbuf, strerror(errno));
		close(fd);
		freeaddrinfo(res);
		errno = saved;
		return (-1);
	}
	freeaddrinfo(res);
	return (fd);
}

/* sock_unix_addr - fill a sockaddr_un, checking the length */
static int
sock_unix_addr(struct sockaddr_un *sun, const char *path, char *err,
    size_t errlen)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		errno = ENAMETOOLONG;
		return (-1);
	}
	strcpy(sun->sun_path, path);
	return (0);
}

/* sock_bind_unix - a socket of type bound at path (a stale file removed
 * first) and chmod'ed to mode; a SOCK_STREAM one listening */
static int
sock_bind_unix(const char *path, int type, int mode, int backlog, char *err,
    size_t errlen)
{
	struct sockaddr_un sun;
	int	 fd, saved;

	if (sock_unix_addr(&sun, path, err, errlen) < 0)
		return (-1);
	if ((fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return (-1);
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		saved = errno;
		snprintf(err, errlen, "remove %s: %s", path, strerror(errno));
		close(fd);
		errno = saved;
		return (-1);
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0
	    || chmod(path, (mode_t)mode) < 0
	    || (type == SOCK_STREAM && listen(fd, backlog) < 0)) {
		saved = errno;
		snprintf(err, errlen, "bind %s: %s", path, strerror(errno));
		close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

/* sock_listen_unix - bind and listen on a unix stream socket */
int
sock_listen_unix(const char *path, int mode, int backlog, char *err,
    size_t errlen)
{
	return (sock_bind_unix(path, SOCK_STREAM, mode, backlog, err, errlen));
}

/* sock_bind_unix_dgram - a unix datagram socket bound at path */
int
sock_bind_unix_dgram(const char *path, int mode, char *err, size_t errlen)
{
	return (sock_bind_unix(path, SOCK_DGRAM, mode, 0, err, errlen));
}

/* sock_connect_unix - blocking connect to a unix stream socket */
int
sock_connect_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int	 fd, saved;

	if (sock_unix_addr(&sun, path, err, errlen) < 0)
		return (-1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return (-1);
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		saved = errno;
		snprintf(err, errlen, "connect %s: %s", path, strerror(errno));
		close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

/* sock_addr_str - numeric address and port of a socket address */
int
sock_addr_str(const struct sockaddr *sa, socklen_t len, char *addr,
    size_t addrlen, char *port, size_t portlen)
{
	char	*pct;

	addr[0] = port[0] = 0;
	if (sa->sa_family == AF_UNIX)
		return (0);
	if (getnameinfo(sa, len, addr, (socklen_t)addrlen, port,
	    (socklen_t)portlen, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		addr[0] = port[0] = 0;
		return (-1);
	}
	/* IPv4-mapped IPv6 addresses are logged as IPv4, as Postfix does. */
	if (strncmp(addr, "::ffff:", 7) == 0 && strchr(addr + 7, '.'))
		memmove(addr, addr + 7, strlen(addr + 7) + 1);
	if ((pct = strchr(addr, '%')) != NULL)
		*pct = 0;
	return (0);
}

/* sock_wait - poll one descriptor until a deadline; -1 on timeout */
int
sock_wait(int fd, short events, time_t deadline)
{
	struct pollfd pfd;
	time_t	 now;
	int	 n;

	for (;;) {
		now = time(NULL);
		if (now >= deadline) {
			errno = ETIMEDOUT;
			return (-1);
		}
		pfd.fd = fd;
		pfd.events = events;
		n = poll(&pfd, 1, (int)(deadline - now) * 1000);
		if (n > 0)
			return (0);
		if (n < 0 && errno != EINTR)
			return (-1);
	}
}
