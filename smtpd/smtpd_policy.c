/*
 * NAME
 *	smtpd_policy - client of a delegated SMTPD policy server
 * SYNOPSIS
 *	See smtpd_policy.h.
 * DESCRIPTION
 *	Blocking code for smtpd's policy worker threads: each thread's
 *	checker owns its clients, so a connection carries one query at a
 *	time and is reused by the next query of the same thread, whatever
 *	the session, as Postfix's smtpd process reuses its one connection.
 *	A connection the server closed while idle is seen before writing
 *	(readable or hung up: closed and made again without counting as a
 *	failed attempt, like Postfix's attr_clnt).
 * DIAGNOSTICS
 *	See smtpd_policy.h.
 * SEE ALSO
 *	Postfix's SMTPD_POLICY_README, attr_clnt(3), auto_clnt(3).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "sock.h"
#include "smtpd_policy.h"
#include "xalloc.h"

#define POLICY_LINE_MAX	4096		/* one reply attribute */
#define POLICY_REPLY_MAX (64 * 1024)	/* the whole reply */

struct smtpd_policy {
	char	*endpoint;		/* as logged: "127.0.0.1:9998" */
	int	 is_unix;
	char	*path;			/* unix: absolute */
	char	 host[256], port[32];	/* inet: */
	struct smtpd_policy_conf conf;
	int	 fd;
	time_t	 opened;
	time_t	 used;
	int	 requests;
};

/* smtpd_policy_conf_load - the smtpd_policy_service_* parameters */
void
smtpd_policy_conf_load(struct smtpd_policy_conf *pc)
{
	pc->timeout = (int)conf_time("smtpd_policy_service_timeout");
	pc->max_idle = (int)conf_time("smtpd_policy_service_max_idle");
	pc->max_ttl = (int)conf_time("smtpd_policy_service_max_ttl");
	pc->request_limit = (int)conf_int("smtpd_policy_service_request_limit");
	pc->try_limit = (int)conf_int("smtpd_policy_service_try_limit");
	pc->retry_delay = (int)conf_time("smtpd_policy_service_retry_delay");
	if (pc->timeout < 1)
		pc->timeout = 1;
	if (pc->try_limit < 1)
		pc->try_limit = 1;
	snprintf(pc->queue_dir, sizeof(pc->queue_dir), "%s",
	    conf_str("queue_directory"));
}

/* smtpd_policy_new - a client of "inet:host:port" or "unix:path" */
struct smtpd_policy *
smtpd_policy_new(const char *spec, const struct smtpd_policy_conf *pc)
{
	struct smtpd_policy *p = xcalloc(1, sizeof(*p));
	const char *rest;

	p->conf = *pc;
	p->fd = -1;
	if (strncmp(spec, "unix:", 5) == 0) {
		rest = spec + 5;
		p->is_unix = 1;
		p->path = rest[0] == '/' ? xstrdup(rest)
		    : xasprintf("%s/%s", pc->queue_dir, rest);
	} else {
		rest = strncmp(spec, "inet:", 5) == 0 ? spec + 5 : spec;
		if (sock_split_hostport(rest, p->host, sizeof(p->host),
		    p->port, sizeof(p->port)) < 0 || !p->port[0]) {
			log_warn("check_policy_service: bad endpoint \"%s\"",
			    log_safe(spec));
			p->port[0] = 0;
		}
		if (!p->host[0])
			snprintf(p->host, sizeof(p->host), "localhost");
	}
	p->endpoint = xstrdup(rest);
	return (p);
}

/* policy_close - drop the connection */
static void
policy_close(struct smtpd_policy *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->requests = 0;
}

/* smtpd_policy_free - close and forget */
void
smtpd_policy_free(struct smtpd_policy *p)
{
	if (p == NULL)
		return;
	policy_close(p);
	free(p->endpoint);
	free(p->path);
	free(p);
}

/* smtpd_policy_endpoint - the name used in log lines */
const char *
smtpd_policy_endpoint(const struct smtpd_policy *p)
{
	return (p->endpoint);
}

/* policy_connect_fd - non-blocking connect within the timeout */
static int
policy_connect_fd(int fd, const struct sockaddr *sa, socklen_t len,
    int timeout)
{
	int	 err = 0;
	socklen_t elen = sizeof(err);

	if (connect(fd, sa, len) == 0)
		return (0);
	if (errno != EINPROGRESS)
		return (-1);
	if (sock_wait(fd, POLLOUT, time(NULL) + timeout) < 0)
		return (-1);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return (-1);
	if (err) {
		errno = err;
		return (-1);
	}
	return (0);
}

/* policy_connect_inet - the first address of host that answers */
static int
policy_connect_inet(struct smtpd_policy *p)
{
	struct addrinfo hints, *res = NULL, *ai;
	int	 fd = -1, rc, saved = ECONNREFUSED;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (!p->port[0] || (rc = getaddrinfo(p->host, p->port, &hints,
	    &res)) != 0) {
		errno = EADDRNOTAVAIL;
		return (-1);
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK
		    | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (policy_connect_fd(fd, ai->ai_addr, ai->ai_addrlen,
		    p->conf.timeout) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		errno = saved;
	return (fd);
}

/* policy_connect - a new connection, Postfix's warning on failure */
static int
policy_connect(struct smtpd_policy *p)
{
	struct sockaddr_un sun;
	int	 fd;

	if (p->is_unix) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(p->path) >= sizeof(sun.sun_path)) {
			errno = ENAMETOOLONG;
			fd = -1;
		} else if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK
		    | SOCK_CLOEXEC, 0)) >= 0) {
			memcpy(sun.sun_path, p->path, strlen(p->path));
			if (policy_connect_fd(fd, (struct sockaddr *)&sun,
			    sizeof(sun), p->conf.timeout) < 0) {
				int	 e = errno;

				close(fd);
				fd = -1;
				errno = e;
			}
		}
	} else
		fd = policy_connect_inet(p);
	if (fd < 0) {
		int	 e = errno;

		log_warn("connect to %s: %m", log_safe(p->endpoint));
		errno = e;
		return (-1);
	}
	p->fd = fd;
	p->opened = time(NULL);
	p->requests = 0;
	return (0);
}

/* policy_stale - should the kept connection be closed before use? */
static int
policy_stale(struct smtpd_policy *p, time_t now)
{
	struct pollfd pfd;

	if (p->conf.max_idle > 0 && now - p->used > p->conf.max_idle)
		return (1);
	if (p->conf.max_ttl > 0 && now - p->opened > p->conf.max_ttl)
		return (1);
	if (p->conf.request_limit > 0 && p->requests >= p->conf.request_limit)
		return (1);
	/* Readable before we asked: the server closed it (or is confused). */
	pfd.fd = p->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return (poll(&pfd, 1, 0) != 0);
}

/* policy_write - the whole request within the timeout */
static int
policy_write(struct smtpd_policy *p, const char *data, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if (sock_wait(p->fd, POLLOUT, time(NULL) + p->conf.timeout) < 0)
			return (-1);
		n = send(p->fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return (-1);
		data += n;
		len -= (size_t)n;
	}
	return (0);
}

/* policy_read - the reply up to its empty line; the action's value */
static int
policy_read(struct smtpd_policy *p, char *action, size_t len)
{
	struct buf *b = buf_new(256);
	char	 chunk[1024], *line, *nl;
	ssize_t	 n;
	int	 found = 0, rc = -1;
	size_t	 off = 0;

	for (;;) {
		/* whole lines first */
		while ((nl = memchr(BUF_STR(b) + off, '\n', BUF_LEN(b) - off))) {
			*nl = 0;
			line = BUF_STR(b) + off;
			off = (size_t)(nl - BUF_STR(b)) + 1;
			if (*line == 0) {
				if (!found) {
					errno = EPROTO;
					goto out;
				}
				rc = 0;
				goto out;
			}
			if (strlen(line) > POLICY_LINE_MAX) {
				errno = EMSGSIZE;
				goto out;
			}
			if (!found && strncmp(line, "action=", 7) == 0) {
				snprintf(action, len, "%s", line + 7);
				found = 1;
			}
		}
		if (BUF_LEN(b) > POLICY_REPLY_MAX) {
			errno = EMSGSIZE;
			goto out;
		}
		if (sock_wait(p->fd, POLLIN, time(NULL) + p->conf.timeout) < 0)
			goto out;
		n = recv(p->fd, chunk, sizeof(chunk), 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ECONNRESET;
			goto out;
		}
		buf_append(b, chunk, (size_t)n);
	}
out:
	buf_free(b);
	return (rc);
}

/* policy_attempt - one request on the kept or a new connection */
static int
policy_attempt(struct smtpd_policy *p, const char *request, char *action,
    size_t len)
{
	time_t	 now = time(NULL);
	size_t	 rlen = strlen(request);

	if (p->fd >= 0 && policy_stale(p, now))
		policy_close(p);
	if (p->fd < 0 && policy_connect(p) < 0)
		return (-1);
	errno = 0;
	if (policy_write(p, request, rlen) < 0
	    || policy_write(p, "\n", 1) < 0
	    || policy_read(p, action, len) < 0)
		return (-1);
	p->used = time(NULL);
	p->requests++;
	return (0);
}

/* smtpd_policy_query - one query, with Postfix's retries */
int
smtpd_policy_query(struct smtpd_policy *p, const char *request,
    char *action, size_t len)
{
	int	 count = 0, e;

	for (;;) {
		if (policy_attempt(p, request, action, len) == 0)
			return (0);
		e = errno;
		policy_close(p);
		errno = e;
		/* attr_clnt: quiet for the first plain disconnect */
		if (++count >= p->conf.try_limit || (errno && errno != EPIPE
		    && errno != ENOENT && errno != ECONNRESET))
			log_warn("problem talking to server %s: %m",
			    log_safe(p->endpoint));
		if (count >= p->conf.try_limit)
			return (-1);
		if (p->conf.retry_delay > 0)
			sleep((unsigned)p->conf.retry_delay);
	}
}
