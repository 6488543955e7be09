/*
 * NAME
 *	sock_test - table-driven tests for sock_split_hostport and friends
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sock.h"
#include "tap.h"

struct split_case {
	const char *name;
	const char *in;
	int	 rc;
	const char *host;
	const char *port;
};

static const struct split_case split_cases[] = {
	{"host:port", "127.0.0.1:2525", 0, "127.0.0.1", "2525"},
	{"v6 in brackets", "[::1]:25", 0, "::1", "25"},
	{"port only", "2525", 0, "", "2525"},
	{"service name", "smtp", 0, "", "smtp"},
	{"empty host", ":25", 0, "", "25"},
	{"empty", "", -1, NULL, NULL},
	{"no port", "127.0.0.1:", -1, NULL, NULL},
	{"bare v6 with port", "::1:25", -1, NULL, NULL},
	{"unbalanced [", "[::1:25", -1, NULL, NULL},
	{"v6 without port", "[::1]", -1, NULL, NULL},
	{"junk after ]", "[::1]x25", -1, NULL, NULL},
	{"space in port", "1.2.3.4:2 5", -1, NULL, NULL},
	{"slash in port", "1.2.3.4:/x", -1, NULL, NULL},
	{"overlong host", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:25", -1, NULL, NULL},
	{"8-bit host", "h\xe9st:25", 0, "h\xe9st", "25"},
};

/* test_split - the table */
static void
test_split(void)
{
	char	 host[64], port[16], name[128];
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		const struct split_case *c = &split_cases[i];

		rc = sock_split_hostport(c->in, host, sizeof(host), port,
		    sizeof(port));
		snprintf(name, sizeof(name), "split %s: rc", c->name);
		tap_is_int(rc, c->rc, name);
		if (rc == 0 && c->rc == 0) {
			snprintf(name, sizeof(name), "split %s: host", c->name);
			tap_is_str(host, c->host, name);
			snprintf(name, sizeof(name), "split %s: port", c->name);
			tap_is_str(port, c->port, name);
		}
	}
}

/* test_port - numbers and names */
static void
test_port(void)
{
	tap_is_int(sock_port("2525"), 2525, "port number");
	tap_is_int(sock_port("0"), -1, "port 0 refused");
	tap_is_int(sock_port("65536"), -1, "port too big");
	tap_is_int(sock_port("-1"), -1, "negative port");
	tap_is_int(sock_port(""), -1, "empty port");
	tap_is_int(sock_port("no-such-service-xyz"), -1, "unknown service");
	tap_is_int(sock_port("smtp"), 25, "smtp from /etc/services");
}

/* test_listen - bind loopback, connect, format addresses */
/* test_dgram - a bound datagram socket: its type, mode, a stale file */
static void
test_dgram(const char *path)
{
	struct stat st;
	char	 err[256], c = 0;
	int	 fd, type = 0, s;
	socklen_t tl = sizeof(type);

	fd = sock_bind_unix_dgram(path, 0620, err, sizeof(err));
	tap_ok(fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0
	    && type == SOCK_DGRAM, "dgram: bound, SOCK_DGRAM");
	tap_ok(stat(path, &st) == 0 && S_ISSOCK(st.st_mode)
	    && (st.st_mode & 07777) == 0620, "dgram: a socket file, mode 0620");
	tap_ok(fcntl(fd, F_GETFD) & FD_CLOEXEC, "dgram: close-on-exec");
	close(fd);
	fd = sock_bind_unix_dgram(path, 0600, err, sizeof(err));
	tap_ok(fd >= 0, "dgram: a stale socket file is replaced");
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	{
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		tap_ok(sendto(s, "d", 1, 0, (struct sockaddr *)&sun,
		    sizeof(sun)) == 1 && recv(fd, &c, 1, 0) == 1 && c == 'd',
		    "dgram: a datagram sent to the path arrives");
	}
	close(s);
	close(fd);
	unlink(path);
}

/* test_nodelay - the listener and what it accepts have TCP_NODELAY */
static void
test_nodelay(int fd, const struct sockaddr *sa, socklen_t len)
{
	int	 c, a, on = 0;
	socklen_t olen = sizeof(on);

	getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &olen);
	tap_is_int(on, 1, "the listener has TCP_NODELAY");
	c = socket(sa->sa_family, SOCK_STREAM, 0);
	tap_ok(c >= 0 && connect(c, sa, len) == 0, "connect to it");
	a = accept(fd, NULL, NULL);
	on = 0;
	olen = sizeof(on);
	if (a >= 0)
		getsockopt(a, IPPROTO_TCP, TCP_NODELAY, &on, &olen);
	tap_is_int(on, 1, "an accepted connection inherits TCP_NODELAY");
	if (a >= 0)
		close(a);
	if (c >= 0)
		close(c);
}

static void
test_listen(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char	 err[256], addr[64], port[8], path[64];
	int	 fd, c;

	fd = sock_listen_inet("127.0.0.1", "0", 5, err, sizeof(err));
	tap_is_int(fd, -1, "port 0 is refused by sock_port");
	fd = sock_listen_inet("localhost", "2525", 5, err, sizeof(err));
	tap_ok(fd < 0 && strstr(err, "bad address") != NULL,
	    "a host name is refused (no DNS): %s", err);
	fd = sock_listen_inet("192.0.2.40", "25999", 5, err, sizeof(err));
	tap_ok(fd < 0 && strstr(err, "bind") != NULL,
	    "an address not on this host fails with a message: %s", err);
	fd = sock_listen_inet("127.0.0.1", "23817", 5, err, sizeof(err));
	tap_ok(fd >= 0, "listen on 127.0.0.1:23817");
	if (fd >= 0) {
		getsockname(fd, (struct sockaddr *)&ss, &len);
		sock_addr_str((struct sockaddr *)&ss, len, addr, sizeof(addr),
		    port, sizeof(port));
		tap_is_str(addr, "127.0.0.1", "numeric address");
		tap_is_str(port, "23817", "numeric port");
		test_nodelay(fd, (struct sockaddr *)&ss, len);
		close(fd);
	}
	fd = sock_listen_inet("::1", "23817", 5, err, sizeof(err));
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "/tmp/sock_test.%ld", (long)getpid());
	fd = sock_listen_unix(path, 0600, 5, err, sizeof(err));
	tap_ok(fd >= 0, "listen on a unix socket");
	c = sock_connect_unix(path, err, sizeof(err));
	tap_ok(c >= 0, "connect to it");
	if (c >= 0)
		close(c);
	if (fd >= 0)
		close(fd);
	fd = sock_listen_unix(path, 0600, 5, err, sizeof(err));
	tap_ok(fd >= 0, "a stale socket file is replaced");
	if (fd >= 0)
		close(fd);
	unlink(path);
	c = sock_connect_unix(path, err, sizeof(err));
	tap_ok(c < 0 && strstr(err, "connect") != NULL,
	    "connect to a missing socket fails: %s", err);
	test_dgram(path);
	memset(path, 'x', sizeof(path) - 1);
	path[sizeof(path) - 1] = 0;
	fd = sock_listen_unix("/tmp/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0600, 5, err, sizeof(err));
	tap_ok(fd < 0 && strstr(err, "too long") != NULL,
	    "overlong socket path refused");
}

int
main(void)
{
	test_split();
	test_port();
	test_listen();
	return (tap_done());
}
