/*
 * NAME
 *	fdpass_test - pass a socket over a socketpair, good and hostile
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fdpass.h"
#include "tap.h"

/* fill - an info struct */
static void
fill(struct fdpass_info *i, const char *ca, const char *cp, const char *sa,
    const char *sp)
{
	memset(i, 0, sizeof(*i));
	snprintf(i->client_addr, sizeof(i->client_addr), "%s", ca);
	snprintf(i->client_port, sizeof(i->client_port), "%s", cp);
	snprintf(i->server_addr, sizeof(i->server_addr), "%s", sa);
	snprintf(i->server_port, sizeof(i->server_port), "%s", sp);
}

/* test_roundtrip - the passed fd is the same socket, addresses arrive */
static void
test_roundtrip(void)
{
	struct fdpass_info in, out;
	char	 err[256], c = 0;
	int	 sp[2], client[2], fd = -1, rc;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	socketpair(AF_UNIX, SOCK_STREAM, 0, client);
	fill(&in, "2001:db8::1", "54321", "192.0.2.40", "25");
	rc = fdpass_send(sp[0], client[1], &in, 5, err, sizeof(err));
	tap_is_int(rc, 0, "send");
	close(client[1]);
	rc = fdpass_recv(sp[1], 5, &fd, &out, err, sizeof(err));
	tap_is_int(rc, 0, "receive");
	tap_is_str(out.client_addr, "2001:db8::1", "client_addr");
	tap_is_str(out.client_port, "54321", "client_port");
	tap_is_str(out.server_addr, "192.0.2.40", "server_addr");
	tap_is_str(out.server_port, "25", "server_port");
	tap_ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
	    "received fd is close-on-exec");
	if (fd >= 0) {
		tap_ok(write(fd, "x", 1) == 1 && read(client[0], &c, 1) == 1
		    && c == 'x', "received fd reaches the client");
		close(fd);
	}
	close(client[0]);
	close(sp[0]);
	close(sp[1]);
}

struct bad_case {
	const char *name;
	const char *data;	/* raw list written by hand */
	int	 with_fd;
	const char *want;	/* substring of err */
	const char *want_dgram;	/* the same, sent as one datagram */
};

static const struct bad_case bad_cases[] = {
	{"no fd", "version=1\nclient_addr=1.2.3.4\nclient_port=1\n"
	    "server_addr=1.2.3.5\nserver_port=25\n\n", 0, "no socket",
	    "no socket"},
	{"wrong version", "version=9\nclient_addr=1.2.3.4\nclient_port=1\n"
	    "server_addr=1.2.3.5\nserver_port=25\n\n", 1, "version",
	    "version"},
	{"missing attribute", "version=1\nclient_addr=1.2.3.4\n\n", 1,
	    "missing", "missing"},
	{"overlong port", "version=1\nclient_addr=1.2.3.4\n"
	    "client_port=123456789012\nserver_addr=1.2.3.5\nserver_port=25\n\n",
	    1, "too long", "too long"},
	{"EOF before the end", "version=1\nclient_addr=1.2.3.4\n", 1, "EOF",
	    "incomplete"},
	{"empty", "", 0, "EOF", "incomplete"},
	{"NUL in a name", "vers\0ion=1\n\n", 1, "", ""},
	{"bare value", "garbage without equals\n\n", 1, "", ""},
};

/* bad_len - the bytes of a case's list (one has a NUL in it) */
static size_t
bad_len(const struct bad_case *c)
{
	return (strcmp(c->name, "NUL in a name") == 0 ? 13 : strlen(c->data));
}

/* send_raw - write a raw list, with or without an fd */
static void
send_raw(int sock, const char *data, size_t len, int fd)
{
	union {
		struct cmsghdr hdr;
		char	 space[CMSG_SPACE(sizeof(int))];
	}	 cbuf;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *cmsg;
	char	 dummy = 0;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = len ? (void *)data : &dummy;
	iov.iov_len = len ? len : 0;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd >= 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.space;
		msg.msg_controllen = sizeof(cbuf.space);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	if (len || fd >= 0)
		(void)sendmsg(sock, &msg, 0);
}

/* test_bad - hostile hand-offs cost the connection, nothing else */
static void
test_bad(void)
{
	struct fdpass_info out;
	char	 err[256], name[400];
	size_t	 i, len;
	int	 sp[2], fd, rc;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];

		socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
		len = bad_len(c);
		send_raw(sp[0], c->data, len, c->with_fd ? 0 : -1);
		close(sp[0]);
		fd = -1;
		err[0] = 0;
		rc = fdpass_recv(sp[1], 2, &fd, &out, err, sizeof(err));
		snprintf(name, sizeof(name), "%s: refused (%s)", c->name, err);
		tap_ok(rc == -1 && fd == -1 && strstr(err, c->want) != NULL,
		    "%s", name);
		close(sp[1]);
	}
}

/* test_overlong - a list without end beyond the limit */
static void
test_overlong(void)
{
	static char big[FDPASS_MAX_LIST + 100];
	struct fdpass_info out;
	char	 err[256];
	int	 sp[2], fd = -1, rc;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	memset(big, 'a', sizeof(big));
	memcpy(big, "version=1\nx=", 12);
	send_raw(sp[0], big, sizeof(big), 0);
	rc = fdpass_recv(sp[1], 2, &fd, &out, err, sizeof(err));
	tap_ok(rc == -1 && fd == -1, "overlong list refused: %s", err);
	close(sp[0]);
	close(sp[1]);
}

/* test_timeout - nothing arrives */
static void
test_timeout(void)
{
	struct fdpass_info out;
	char	 err[256];
	int	 sp[2], fd = -1, rc;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	rc = fdpass_recv(sp[1], 1, &fd, &out, err, sizeof(err));
	tap_ok(rc == -1 && strstr(err, "timed out") != NULL,
	    "silence times out: %s", err);
	close(sp[0]);
	close(sp[1]);
}

/*
 * The datagram hand-off: one datagram each, good and hostile (the cases
 * above); a bad one is consumed with its descriptor closed, the next
 * read as usual.
 */
/* dgram_pair - a datagram socketpair, the receiving end non-blocking */
static void
dgram_pair(int sp[2])
{
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sp);
	(void)fcntl(sp[1], F_SETFL, O_NONBLOCK);
}

/* test_dgram - good and bad datagrams, and a full queue */
static void
test_dgram(void)
{
	static char big[FDPASS_MAX_LIST + 100];
	struct fdpass_info in, out;
	char	 err[256], c = 0;
	size_t	 i;
	int	 sp[2], client[2], fd, rc, sent, got, ok;

	dgram_pair(sp);
	fd = 7;
	tap_is_int(fdpass_recv_dgram(sp[1], &fd, &out, err, sizeof(err)), 0,
	    "dgram: nothing queued: 0");
	tap_is_int(fd, -1, "dgram: nothing queued: no fd");
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];

		socketpair(AF_UNIX, SOCK_STREAM, 0, client);
		(void)fcntl(client[0], F_SETFL, O_NONBLOCK);
		if (bad_len(bc) == 0 && !bc->with_fd)
			(void)send(sp[0], "", 0, 0);	/* an empty datagram */
		send_raw(sp[0], bc->data, bad_len(bc),
		    bc->with_fd ? client[1] : -1);
		close(client[1]);
		err[0] = 0;
		rc = fdpass_recv_dgram(sp[1], &fd, &out, err, sizeof(err));
		tap_ok(rc == -1 && fd == -1
		    && strstr(err, bc->want_dgram) != NULL,
		    "dgram: %s: refused (%s)", bc->name, err);
		/* the passed socket was closed: its peer sees EOF */
		if (bc->with_fd)
			tap_ok(read(client[0], &c, 1) == 0, "dgram: %s: the "
			    "descriptor in it was closed", bc->name);
		close(client[0]);
	}
	memset(big, 'a', sizeof(big));
	memcpy(big, "version=1\nx=", 12);
	send_raw(sp[0], big, sizeof(big), 0);
	rc = fdpass_recv_dgram(sp[1], &fd, &out, err, sizeof(err));
	tap_ok(rc == -1 && fd == -1 && strstr(err, "too long") != NULL,
	    "dgram: a datagram over the limit: refused (%s)", err);

	/* after all that, a good one */
	socketpair(AF_UNIX, SOCK_STREAM, 0, client);
	fill(&in, "192.0.2.7", "40000", "192.0.2.40", "25");
	tap_is_int(fdpass_send_dgram(sp[0], client[1], &in, err, sizeof(err)),
	    0, "dgram: send");
	close(client[1]);
	rc = fdpass_recv_dgram(sp[1], &fd, &out, err, sizeof(err));
	tap_is_int(rc, 1, "dgram: the next good one is received");
	tap_is_str(out.client_addr, "192.0.2.7", "dgram: client_addr");
	tap_is_str(out.client_port, "40000", "dgram: client_port");
	tap_is_str(out.server_addr, "192.0.2.40", "dgram: server_addr");
	tap_is_str(out.server_port, "25", "dgram: server_port");
	tap_ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC)
	    && write(fd, "y", 1) == 1 && read(client[0], &c, 1) == 1
	    && c == 'y', "dgram: the fd is the client's, close-on-exec");
	if (fd >= 0)
		close(fd);
	close(client[0]);

	/* a full queue: EAGAIN at once, and every queued one arrives */
	socketpair(AF_UNIX, SOCK_STREAM, 0, client);
	(void)fcntl(sp[0], F_SETFL, O_NONBLOCK);
	for (sent = 0; sent < 10000; sent++)
		if (fdpass_send_dgram(sp[0], client[1], &in, err,
		    sizeof(err)) < 0)
			break;
	tap_ok(sent > 0 && sent < 10000 && errno == EAGAIN
	    && strstr(err, "send client socket") != NULL,
	    "dgram: a full queue refuses at once with EAGAIN (after %d): %s",
	    sent, err);
	for (got = 0, ok = 1; (rc = fdpass_recv_dgram(sp[1], &fd, &out, err,
	    sizeof(err))) == 1; got++) {
		ok &= fd >= 0 && strcmp(out.client_addr, "192.0.2.7") == 0;
		close(fd);
	}
	tap_ok(rc == 0 && got == sent && ok,
	    "dgram: all %d queued hand-offs are received, then none", got);
	close(client[0]);
	close(client[1]);
	close(sp[0]);
	close(sp[1]);
}

int
main(void)
{
	test_roundtrip();
	test_bad();
	test_overlong();
	test_timeout();
	test_dgram();
	return (tap_done());
}
