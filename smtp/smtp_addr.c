/*
 * NAME
 *	smtp_addr - nexthop parsing, MX/address resolution, connecting
 * SYNOPSIS
 *	See smtp.h.
 * DESCRIPTION
 *	smtp_nexthop_parse() reads the nexthop forms qmgr hands out:
 *	"domain", "host:port", "[host]:port", "[host]", "inet:..." and,
 *	for LMTP, "unix:/path" or "unix:path" (relative to
 *	queue_directory, as Postfix's "lmtp:unix:private/dovecot-lmtp";
 *	the caller makes it absolute). "[host]" and address literals skip
 *	the MX lookup. The port may be a service name; the default is 25
 *	(smtp) or 24 (lmtp).
 *
 *	smtp_addr_resolve() turns it into addresses to try in order: the
 *	MX hosts by preference (each host's A and AAAA records), or the
 *	host's own addresses when it has no MX, at most
 *	smtp_mx_address_limit addresses (0: no limit). A name that does
 *	not exist is a bounce (5.4.4), a DNS failure a deferral (4.4.3).
 *
 *	smtp_connect() connects with smtp_connect_timeout, bound to
 *	smtp_bind_address(6) when set and local (smtp_bind_usable()
 *	decides that once at start-up: the seed's 192.0.2.40 is not ours
 *	on a test machine; binding to it would fail every delivery).
 * DIAGNOSTICS
 *	-1 with a Postfix-style reason in err.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "log.h"
#include "smtp.h"
#include "sock.h"
#include "str.h"
#include "xalloc.h"

/* is_literal - a numeric IPv4/IPv6 address */
static int
is_literal(const char *h)
{
	struct in6_addr a;

	return (inet_pton(AF_INET, h, &a) == 1 || inet_pton(AF_INET6, h, &a) == 1);
}

/* smtp_nexthop_parse - nexthop text to host, port, MX flag */
int
smtp_nexthop_parse(const char *nexthop, int lmtp, struct smtp_nexthop *nh,
    char *err, size_t errlen)
{
	const char *p = nexthop, *end, *port = NULL;
	size_t	 hlen;
	int	 n;

	memset(nh, 0, sizeof(*nh));
	nh->port = lmtp ? 24 : 25;
	if (p == NULL || *p == 0) {
		snprintf(err, errlen, "empty nexthop");
		return (-1);
	}
	if (strncmp(p, "unix:", 5) == 0) {
		if (!lmtp || p[5] == 0 || strlen(p + 5) >= sizeof(nh->unix_path)) {
			snprintf(err, errlen, "bad nexthop \"%s\"", log_safe(p));
			return (-1);
		}
		strcpy(nh->unix_path, p + 5);
		return (0);
	}
	if (strncmp(p, "inet:", 5) == 0)
		p += 5;
	if (*p == '[') {
		if ((end = strchr(p, ']')) == NULL) {
			snprintf(err, errlen, "bad nexthop \"%s\": missing ]",
			    log_safe(nexthop));
			return (-1);
		}
		hlen = (size_t)(end - p - 1);
		p++;
		nh->no_mx = 1;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != 0) {
			snprintf(err, errlen, "bad nexthop \"%s\"",
			    log_safe(nexthop));
			return (-1);
		}
	} else {
		end = strrchr(p, ':');
		if (end && strchr(p, ':') != end)	/* bare IPv6 */
			end = NULL;
		hlen = end ? (size_t)(end - p) : strlen(p);
		if (end)
			port = end + 1;
	}
	if (hlen == 0 || hlen >= sizeof(nh->host)) {
		snprintf(err, errlen, "bad nexthop \"%s\"", log_safe(nexthop));
		return (-1);
	}
	memcpy(nh->host, p, hlen);
	nh->host[hlen] = 0;
	if (strncasecmp(nh->host, "ipv6:", 5) == 0)
		memmove(nh->host, nh->host + 5, strlen(nh->host + 5) + 1);
	if (strspn(nh->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-_:") != strlen(nh->host)) {
		snprintf(err, errlen, "bad nexthop host \"%s\"",
		    log_safe(nh->host));
		return (-1);
	}
	if (is_literal(nh->host))
		nh->no_mx = 1;
	if (port) {
		if (*port == 0 || (n = sock_port(port)) <= 0 || n > 65535) {
			snprintf(err, errlen, "bad port in nexthop \"%s\"",
			    log_safe(nexthop));
			return (-1);
		}
		nh->port = n;
	}
	return (0);
}

/* add_host - the addresses of one host, up to the limit */
static int
add_host(const char *host, int port, struct smtp_dest **v, size_t *n,
    size_t limit, char *err, size_t errlen)
{
	struct strv *addrs;
	size_t	 i;
	int	 rc;

	if (is_literal(host)) {
		addrs = strv_new();
		strv_add(addrs, host);
		rc = DNS_OK;
	} else {
		addrs = strv_new();
		rc = dns_lookup_addr(host, addrs, err, errlen);
	}
	for (i = 0; rc == DNS_OK && i < addrs->argc; i++) {
		if (limit && *n >= limit)
			break;
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		memset(&(*v)[*n], 0, sizeof(**v));
		snprintf((*v)[*n].host, sizeof((*v)[*n].host), "%s", host);
		snprintf((*v)[*n].addr, sizeof((*v)[*n].addr), "%s",
		    addrs->argv[i]);
		(*v)[*n].port = port;
		(*n)++;
	}
	strv_free(addrs);
	return (rc);
}

/* smtp_addr_resolve - nexthop to an ordered address list */
int
smtp_addr_resolve(const struct smtp_cfg *cfg, const struct smtp_nexthop *nh,
    struct smtp_dest **dests, size_t *count, char *status, char *err,
    size_t errlen)
{
	struct dns_mx *mx = NULL;
	size_t	 nmx = 0, i, limit = cfg->mx_address_limit > 0
	    ? (size_t)cfg->mx_address_limit : 0;
	int	 rc, retry = 0;
	char	 e2[256];

	*dests = NULL;
	*count = 0;
	if (*nh->unix_path) {
		*dests = xcalloc(1, sizeof(**dests));
		/* Postfix: relay=myhostname[path] for a local socket. */
		snprintf((*dests)->host, sizeof((*dests)->host), "%s",
		    cfg->helo_name);
		snprintf((*dests)->unix_path, sizeof((*dests)->unix_path), "%s",
		    nh->unix_path);
		*count = 1;
		return (0);
	}
	if (!nh->no_mx) {
		rc = dns_lookup_mx(nh->host, &mx, &nmx, e2, sizeof(e2));
		if (rc == DNS_RETRY) {
			strcpy(status, "4.4.3");
			snprintf(err, errlen, "Host or domain name not found. "
			    "Name service error for name=%s type=MX: Host not "
			    "found, try again", nh->host);
			return (-1);
		}
		for (i = 0; rc == DNS_OK && i < nmx; i++) {
			if (strcmp(mx[i].host, ".") == 0 || *mx[i].host == 0)
				continue;	/* null MX */
			if (add_host(mx[i].host, nh->port, dests, count, limit,
			    e2, sizeof(e2)) == DNS_RETRY)
				retry = 1;
		}
		dns_mx_free(mx, nmx);
		if (rc == DNS_OK) {
			if (*count > 0)
				return (0);
			strcpy(status, retry ? "4.4.3" : "5.4.4");
			snprintf(err, errlen, "%s: MX hosts of %s have no "
			    "usable address", retry ? "Host or domain name "
			    "not found, try again" : "Host or domain name not "
			    "found", nh->host);
			return (-1);
		}
	}
	rc = add_host(nh->host, nh->port, dests, count, limit, e2, sizeof(e2));
	if (rc == DNS_OK && *count > 0)
		return (0);
	strcpy(status, rc == DNS_RETRY ? "4.4.3" : "5.4.4");
	snprintf(err, errlen, "Host or domain name not found. Name service "
	    "error for name=%s type=A: Host not found%s", nh->host,
	    rc == DNS_RETRY ? ", try again" : "");
	return (-1);
}

/* smtp_bind_usable - is addr one of this machine's addresses? */
int
smtp_bind_usable(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int	 fd, ok;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr)
	    == 1) {
		ss.ss_family = AF_INET;
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		len = sizeof(struct sockaddr_in6);
	} else
		return (0);
	if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) < 0)
		return (0);
	ok = bind(fd, (struct sockaddr *)&ss, len) == 0;
	close(fd);
	return (ok);
}

/* smtp_connect - a connected socket (blocking mode), or -1 and why */
int
smtp_connect(const struct smtp_cfg *cfg, const struct smtp_dest *d,
    char *err, size_t errlen)
{
	struct sockaddr_storage ss, bs;
	socklen_t len, blen = 0;
	struct pollfd pfd;
	const char *bind_to = NULL;
	int	 fd, rc, soerr = 0, ms;
	socklen_t sl = sizeof(soerr);

	memset(&ss, 0, sizeof(ss));
	memset(&bs, 0, sizeof(bs));
	if (*d->unix_path) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;

		un->sun_family = AF_UNIX;
		if (strlen(d->unix_path) >= sizeof(un->sun_path)) {
			snprintf(err, errlen, "connect to %s: path too long",
			    d->unix_path);
			return (-1);
		}
		memcpy(un->sun_path, d->unix_path, strlen(d->unix_path) + 1);
		len = sizeof(*un);
	} else if (inet_pton(AF_INET, d->addr,
	    &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)d->port);
		len = sizeof(struct sockaddr_in);
		if ((bind_to = cfg->bind4) != NULL) {
			bs.ss_family = AF_INET;
			inet_pton(AF_INET, bind_to,
			    &((struct sockaddr_in *)&bs)->sin_addr);
			blen = sizeof(struct sockaddr_in);
		}
	} else if (inet_pton(AF_INET6, d->addr,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)d->port);
		len = sizeof(struct sockaddr_in6);
		if ((bind_to = cfg->bind6) != NULL) {
			bs.ss_family = AF_INET6;
			inet_pton(AF_INET6, bind_to,
			    &((struct sockaddr_in6 *)&bs)->sin6_addr);
			blen = sizeof(struct sockaddr_in6);
		}
	} else {
		snprintf(err, errlen, "bad address %s", log_safe(d->addr));
		return (-1);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC
	    | SOCK_NONBLOCK, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return (-1);
	}
	if (blen && bind(fd, (struct sockaddr *)&bs, blen) < 0) {
		snprintf(err, errlen, "bind %s: %s", bind_to, strerror(errno));
		close(fd);
		return (-1);
	}
	rc = connect(fd, (struct sockaddr *)&ss, len);
	if (rc < 0 && errno == EINPROGRESS) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		ms = cfg->connect_timeout > 0 ? (int)cfg->connect_timeout * 1000
		    : 30000;
		do
			rc = poll(&pfd, 1, ms);
		while (rc < 0 && errno == EINTR);
		if (rc == 0) {
			errno = ETIMEDOUT;
			rc = -1;
		} else if (rc > 0) {
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
				soerr = errno;
			errno = soerr;
			rc = soerr ? -1 : 0;
		}
	}
	if (rc < 0) {
		if (*d->unix_path)
			snprintf(err, errlen, "connect to %s: %s", d->unix_path,
			    strerror(errno));
		else
			snprintf(err, errlen, "connect to %s[%s]:%d: %s",
			    d->host, d->addr, d->port, errno == ETIMEDOUT
			    ? "Connection timed out" : strerror(errno));
		close(fd);
		return (-1);
	}
	return (fd);
}
