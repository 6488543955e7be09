/*
 * NAME
 *	master_listen - open the listeners of a master.cf service
 * SYNOPSIS
 *	#include "master.h"
 *
 *	int	master_listen_open(struct master_svc *svc);
 *	void	master_listen_close(struct master_svc *svc);
 *	char	*master_listen_sig(const struct mastercf_service *m);
 *	void	master_listen_take(struct master_svc *svc,
 *	    struct master_svc *old);
 *	int	master_listen_expand(const char *name, char ***addrs,
 *	    int *count);
 * DESCRIPTION
 *	inet: the service field is "port" or a service name from
 *	/etc/services (then every address of inet_interfaces), or
 *	"host:port" / "[v6]:port" (that address only; "localhost" means
 *	the loopback addresses). inet_interfaces is "all" (the wildcard of
 *	each protocol), "loopback-only", or a list of numeric addresses
 *	("[::1]" or "::1"); host names are not resolved (no DNS in
 *	master). inet_protocols (all, ipv4, ipv6) filters the families.
 *	An address that cannot be bound (not on this host, like the
 *	seed's 192.0.2.40) is a warning, as long as one address binds.
 *
 *	unix, fifo, unix-dgram and pass: a unix stream socket, mode 0666,
 *	at $queue_directory/private/NAME (private = y) or public/NAME.
 *	fifo and unix-dgram services are served as unix stream sockets
 *	(postern's daemons only ever see inet, unix and pass). A pass
 *	service also gets a unix datagram socket at NAME.dgram (same mode),
 *	its second listener: postscreen's hand-offs without a connection
 *	each (lib/fdpass.h).
 *
 *	master_listen_sig() describes what the listeners would be, so a
 *	reload keeps the open sockets of an unchanged service (sessions
 *	and the listen queue survive) and reopens changed ones;
 *	master_listen_take() moves the listeners of an inet service whose
 *	address list changed that are still wanted (an address bound
 *	before the reload stays bound: no window where a draining child's
 *	copy makes the new bind fail), and master_listen_open() then binds
 *	only the addresses that are new.
 *	master_listen_expand() returns the "host port" strings an inet
 *	service binds (caller frees).
 * DIAGNOSTICS
 *	master_listen_open() returns -1 (after warnings) when no listener
 *	could be opened.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "mastercf.h"
#include "sock.h"
#include "str.h"
#include "xalloc.h"

#define MASTER_BACKLOG	1024

/* master_listen_protocols - which families inet_protocols enables */
static void
master_listen_protocols(int *v4, int *v6)
{
	struct strv *l = conf_list("inet_protocols");
	size_t	 i;

	*v4 = *v6 = 0;
	for (i = 0; l && i < l->argc; i++) {
		if (strcasecmp(l->argv[i], "all") == 0)
			*v4 = *v6 = 1;
		else if (strcasecmp(l->argv[i], "ipv4") == 0)
			*v4 = 1;
		else if (strcasecmp(l->argv[i], "ipv6") == 0)
			*v6 = 1;
	}
	strv_free(l);
	if (!*v4 && !*v6)
		*v4 = 1;
}

/* master_listen_add - one host (brackets stripped) if its family is on */
static void
master_listen_add(struct strv *out, const char *host, const char *port,
    int v4, int v6)
{
	char	*h = xstrdup(host), *s;
	size_t	 len = strlen(h);

	if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
		h[len - 1] = 0;
		memmove(h, h + 1, len - 1);
	}
	if (strcasecmp(h, "localhost") == 0
	    || strcasecmp(h, "loopback-only") == 0) {
		if (v4)
			master_listen_add(out, "127.0.0.1", port, v4, v6);
		if (v6)
			master_listen_add(out, "::1", port, v4, v6);
	} else if (strcasecmp(h, "all") == 0) {
		if (v4)
			master_listen_add(out, "0.0.0.0", port, v4, v6);
		if (v6)
			master_listen_add(out, "::", port, v4, v6);
	} else if (strchr(h, ':') ? v6 : v4) {
		s = xasprintf("%s %s", h, port);
		strv_add(out, s);
		free(s);
	}
	free(h);
}

/* master_listen_expand - the "host port" pairs of an inet service */
int
master_listen_expand(const char *name, char ***addrs, int *count)
{
	struct strv *out = strv_new(), *ifs;
	char	 host[256], port[64];
	size_t	 i;
	int	 v4, v6;

	master_listen_protocols(&v4, &v6);
	if (sock_split_hostport(name, host, sizeof(host), port,
	    sizeof(port)) < 0) {
		strv_free(out);
		return (-1);
	}
	if (*host) {
		master_listen_add(out, host, port, v4, v6);
	} else {
		ifs = conf_list("inet_interfaces");
		for (i = 0; ifs && i < ifs->argc; i++)
			master_listen_add(out, ifs->argv[i], port, v4, v6);
		strv_free(ifs);
	}
	*count = (int)out->argc;
	*addrs = out->argv;
	out->argv = NULL;
	out->argc = 0;
	strv_free(out);
	return (0);
}

/* master_listen_path - the socket file of a unix-family service */
static char *
master_listen_path(const char *name, int private_)
{
	return (xasprintf("%s/%s/%s", conf_str("queue_directory"),
	    private_ ? "private" : "public", name));
}

/* master_listen_sig - what the listeners of a service would be */
char *
master_listen_sig(const struct mastercf_service *m)
{
	struct buf *b = buf_new(128);
	char	**addrs = NULL, *p;
	int	 n = 0, i;

	buf_printf(b, "%s|", m->type);
	if (strcmp(m->type, "inet") == 0) {
		if (master_listen_expand(m->name, &addrs, &n) < 0)
			buf_puts(b, "bad");
		for (i = 0; i < n; i++) {
			buf_printf(b, "%s,", addrs[i]);
			free(addrs[i]);
		}
		free(addrs);
	} else {
		p = master_listen_path(m->name, m->private_);
		buf_puts(b, p);
		free(p);
	}
	return (buf_steal(b));
}

/* master_listen_same - does fd listen on host port (numeric)? */
static int
master_listen_same(int fd, const char *host, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	unsigned char want[16], got[16];
	char	 addr[64], pbuf[16];
	int	 af = strchr(host, ':') ? AF_INET6 : AF_INET;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0
	    || ss.ss_family != af
	    || sock_addr_str((struct sockaddr *)&ss, len, addr, sizeof(addr),
	    pbuf, sizeof(pbuf)) < 0
	    || atoi(pbuf) != sock_port(port))
		return (0);
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
		return (strcmp(addr, host) == 0);
	return (inet_pton(af, host, want) == 1 && inet_pton(af, addr, got) == 1
	    && memcmp(want, got, af == AF_INET ? 4 : 16) == 0);
}

/* master_listen_take - keep the old listeners that are still wanted */
void
master_listen_take(struct master_svc *svc, struct master_svc *old)
{
	char	**addrs = NULL, *sp;
	int	 n = 0, i, j, keep;

	if (strcmp(svc->type, "inet") != 0 || strcmp(old->type, "inet") != 0
	    || master_listen_expand(svc->name, &addrs, &n) < 0)
		return;
	for (j = 0; j < old->nfds; j++) {
		for (keep = 0, i = 0; i < n && !keep; i++) {
			sp = strchr(addrs[i], ' ');
			*sp = 0;
			keep = master_listen_same(old->fds[j], addrs[i], sp + 1);
			*sp = ' ';
		}
		if (keep && svc->nfds < MASTER_MAX_LISTEN) {
			svc->fds[svc->nfds++] = old->fds[j];
			old->fds[j--] = old->fds[--old->nfds];
		}
	}
	for (i = 0; i < n; i++)
		free(addrs[i]);
	free(addrs);
}

/* master_listen_have - one of svc's listeners already serves this */
static int
master_listen_have(const struct master_svc *svc, const char *host,
    const char *port)
{
	int	 i;

	for (i = 0; i < svc->nfds; i++)
		if (master_listen_same(svc->fds[i], host, port))
			return (1);
	return (0);
}

/* master_listen_inet - bind every address of an inet service */
static int
master_listen_inet(struct master_svc *svc)
{
	char	**addrs = NULL, *sp, err[512];
	int	 n = 0, i, fd;

	if (master_listen_expand(svc->name, &addrs, &n) < 0) {
		log_warn("service %s: bad inet service name (want port, "
		    "host:port or [v6]:port)", log_safe(svc->name));
		return (-1);
	}
	if (n == 0)
		log_warn("service %s: no address to listen on (check "
		    "inet_interfaces and inet_protocols)", svc->name);
	for (i = 0; i < n; i++) {
		sp = strchr(addrs[i], ' ');
		*sp++ = 0;
		if (master_listen_have(svc, addrs[i], sp))
			;	/* kept from before the reload */
		else if (svc->nfds >= MASTER_MAX_LISTEN)
			log_warn("service %s: more than %d addresses; %s "
			    "ignored", svc->name, MASTER_MAX_LISTEN, addrs[i]);
		else if ((fd = sock_listen_inet(addrs[i], sp, MASTER_BACKLOG,
		    err, sizeof(err))) < 0)
			log_warn("service %s: %s", svc->name, err);
		else
			svc->fds[svc->nfds++] = fd;
		free(addrs[i]);
	}
	free(addrs);
	return (svc->nfds > 0 ? 0 : -1);
}

/*
 * master_listen_dgram - a pass service's datagram socket, NAME.dgram
 * beside its stream socket: postscreen hands a client over in one
 * datagram there, and over the stream socket when its queue is full
 * (lib/fdpass.h). The queue belongs to this socket, which master keeps
 * open: hand-offs queued there wait for the next smtpd if one exits.
 * Without it (a warning) the stream socket carries every hand-off.
 */
static void
master_listen_dgram(struct master_svc *svc)
{
	char	 err[512], *path = xasprintf("%s.dgram", svc->sock_path);
	int	 fd;

	if (svc->nfds >= MASTER_MAX_LISTEN)
		;
	else if ((fd = sock_bind_unix_dgram(path, 0666, err,
	    sizeof(err))) < 0)
		log_warn("service %s: %s (hand-offs use the stream socket "
		    "only)", svc->name, err);
	else
		svc->fds[svc->nfds++] = fd;
	free(path);
}

/* master_listen_open - open the listeners of one service */
int
master_listen_open(struct master_svc *svc)
{
	char	 err[512];
	int	 fd;

	if (strcmp(svc->type, "inet") == 0)
		return (master_listen_inet(svc));
	svc->sock_path = master_listen_path(svc->name, svc->private_);
	if ((fd = sock_listen_unix(svc->sock_path, 0666, MASTER_BACKLOG, err,
	    sizeof(err))) < 0) {
		log_warn("service %s: %s", svc->name, err);
		free(svc->sock_path);
		svc->sock_path = NULL;
		return (-1);
	}
	svc->fds[svc->nfds++] = fd;
	if (strcmp(svc->type, "pass") == 0)
		master_listen_dgram(svc);
	return (0);
}

/* master_listen_close - close the listeners, remove a socket file */
void
master_listen_close(struct master_svc *svc)
{
	int	 i;

	for (i = 0; i < svc->nfds; i++)
		close(svc->fds[i]);
	svc->nfds = 0;
	if (svc->sock_path) {
		(void)unlink(svc->sock_path);
		if (strcmp(svc->type, "pass") == 0) {
			char	*path = xasprintf("%s.dgram", svc->sock_path);

			(void)unlink(path);
			free(path);
		}
		free(svc->sock_path);
		svc->sock_path = NULL;
	}
}
