/*
 * NAME
 *	fdpass - hand a live client socket to another process
 * DESCRIPTION
 *	See fdpass.h. The fd rides on the first sendmsg() of the list, so
 *	the receiver sees it no later than the first byte; everything else
 *	is an ordinary attribute list.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "sock.h"
#include "fdpass.h"
#include "xalloc.h"

struct fdpass_rx {
	struct buf *in;
	int	 fd;		/* received, not yet handed out, or -1 */
};

/* fdpass_list - the attribute list that goes with the fd */
static struct buf *
fdpass_list(const struct fdpass_info *info)
{
	struct buf *out = buf_new(256);

	attr_put(out, "version", ATTR_VERSION);
	attr_put(out, "client_addr", info->client_addr);
	attr_put(out, "client_port", info->client_port);
	attr_put(out, "server_addr", info->server_addr);
	attr_put(out, "server_port", info->server_port);
	attr_end(out);
	return (out);
}

/* one message: its header, its one iovec, room for descriptors */
struct fdpass_msg {
	struct msghdr msg;
	struct iovec iov;
	union {
		struct cmsghdr hdr;
		char	 space[CMSG_SPACE(sizeof(int) * 4)];
	}	 cbuf;
};

#define FDPASS_NONE	(-1)	/* fdpass_msg_init(): no descriptor */
#define FDPASS_ROOM	(-2)	/* room for the descriptors received */

/* fdpass_msg_init - len bytes at data, with fd (or none, or room) */
static struct msghdr *
fdpass_msg_init(struct fdpass_msg *m, void *data, size_t len, int fd)
{
	struct cmsghdr *cmsg;

	memset(m, 0, sizeof(*m));
	m->iov.iov_base = data;
	m->iov.iov_len = len;
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
	if (fd == FDPASS_NONE)
		return (&m->msg);
	m->msg.msg_control = m->cbuf.space;
	if (fd == FDPASS_ROOM) {
		m->msg.msg_controllen = sizeof(m->cbuf.space);
		return (&m->msg);
	}
	m->msg.msg_controllen = CMSG_SPACE(sizeof(int));
	cmsg = CMSG_FIRSTHDR(&m->msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return (&m->msg);
}

/* fdpass_send - send fd plus the address attributes */
int
fdpass_send(int sock, int fd, const struct fdpass_info *info, int timeout,
    char *err, size_t errlen)
{
	struct fdpass_msg m;
	struct buf *out = fdpass_list(info);
	time_t	 deadline = time(NULL) + (timeout > 0 ? timeout : 1);
	size_t	 off = 0;
	ssize_t	 n;
	int	 first = 1;

	while (off < BUF_LEN(out)) {
		n = sendmsg(sock, fdpass_msg_init(&m, BUF_STR(out) + off,
		    BUF_LEN(out) - off, first ? fd : FDPASS_NONE), MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (errno == EAGAIN && sock_wait(sock, POLLOUT,
			    deadline) < 0)
				goto fail;
			continue;
		}
		if (n < 0)
			goto fail;
		first = 0;
		off += (size_t)n;
	}
	buf_free(out);
	return (0);

fail:
	snprintf(err, errlen, "send client socket: %s", strerror(errno));
	buf_free(out);
	return (-1);
}

/* fdpass_rx_new - receiver state for one connection */
struct fdpass_rx *
fdpass_rx_new(void)
{
	struct fdpass_rx *rx = xcalloc(1, sizeof(*rx));

	rx->in = buf_new(256);
	rx->fd = -1;
	return (rx);
}

/* fdpass_rx_free - forget the state, close an undelivered fd */
void
fdpass_rx_free(struct fdpass_rx *rx)
{
	if (rx == NULL)
		return;
	if (rx->fd >= 0)
		close(rx->fd);
	buf_free(rx->in);
	free(rx);
}

/* fdpass_take_fds - keep the first passed fd, close any others */
static int
fdpass_take_fds(struct fdpass_rx *rx, struct msghdr *msg)
{
	struct cmsghdr *cmsg;
	int	 bad = 0, fd;
	size_t	 i, nfd;

	for (cmsg = CMSG_FIRSTHDR(msg); cmsg; cmsg = CMSG_NXTHDR(msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET
		    || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			if (rx->fd < 0)
				rx->fd = fd;
			else {
				close(fd);
				bad = 1;
			}
		}
	}
	if (msg->msg_flags & MSG_CTRUNC)
		bad = 1;
	return (bad ? -1 : 0);
}

/* fdpass_copy - copy one attribute into a fixed field, checking size */
static int
fdpass_copy(const struct attr_list *l, const char *name, char *dst,
    size_t len, char *err, size_t errlen)
{
	const char *v = attr_get(l, name);

	if (v == NULL || strlen(v) >= len) {
		snprintf(err, errlen, "client hand-off: %s attribute %s", name,
		    v == NULL ? "missing" : "too long");
		return (-1);
	}
	strcpy(dst, v);
	return (0);
}

/* fdpass_finish - parse a complete list into info */
static int
fdpass_finish(struct fdpass_rx *rx, struct attr_list *l, int *fd,
    struct fdpass_info *info, char *err, size_t errlen)
{
	const char *v = attr_get(l, "version");

	if (v == NULL || strcmp(v, ATTR_VERSION) != 0) {
		snprintf(err, errlen, "client hand-off: bad version");
		return (-1);
	}
	if (rx->fd < 0) {
		snprintf(err, errlen, "client hand-off: no socket received");
		return (-1);
	}
	if (fdpass_copy(l, "client_addr", info->client_addr,
	    sizeof(info->client_addr), err, errlen) < 0
	    || fdpass_copy(l, "client_port", info->client_port,
	    sizeof(info->client_port), err, errlen) < 0
	    || fdpass_copy(l, "server_addr", info->server_addr,
	    sizeof(info->server_addr), err, errlen) < 0
	    || fdpass_copy(l, "server_port", info->server_port,
	    sizeof(info->server_port), err, errlen) < 0)
		return (-1);
	*fd = rx->fd;
	rx->fd = -1;
	return (1);
}

/* fdpass_rx_read - one non-blocking step of the receiver */
int
fdpass_rx_read(struct fdpass_rx *rx, int sock, int *fd,
    struct fdpass_info *info, char *err, size_t errlen)
{
	char	 data[FDPASS_MAX_LIST];
	struct fdpass_msg m;
	struct msghdr *msg;
	struct attr_list *l;
	size_t	 used, room = sizeof(data) - BUF_LEN(rx->in);
	ssize_t	 n;
	int	 rc;

	err[0] = 0;
	if (room == 0) {
		snprintf(err, errlen, "client hand-off: list too long");
		return (-1);
	}
	msg = fdpass_msg_init(&m, data, room, FDPASS_ROOM);
	n = recvmsg(sock, msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return (0);
	if (n <= 0) {
		snprintf(err, errlen, "client hand-off: %s",
		    n == 0 ? "unexpected EOF" : strerror(errno));
		return (-1);
	}
	if (fdpass_take_fds(rx, msg) < 0) {
		snprintf(err, errlen, "client hand-off: extra or truncated "
		    "descriptors");
		return (-1);
	}
	buf_append(rx->in, data, (size_t)n);
	l = attr_parse(BUF_STR(rx->in), BUF_LEN(rx->in), &used, err, errlen);
	if (l == NULL)
		return (err[0] ? -1 : 0);
	rc = fdpass_finish(rx, l, fd, info, err, errlen);
	attr_list_free(l);
	return (rc);
}

/* fdpass_recv - blocking receive with a timeout in seconds */
int
fdpass_recv(int sock, int timeout, int *fd, struct fdpass_info *info,
    char *err, size_t errlen)
{
	struct fdpass_rx *rx = fdpass_rx_new();
	time_t	 deadline = time(NULL) + (timeout > 0 ? timeout : 1);
	int	 rc;

	while ((rc = fdpass_rx_read(rx, sock, fd, info, err, errlen)) == 0) {
		if (sock_wait(sock, POLLIN, deadline) < 0) {
			snprintf(err, errlen, "client hand-off: %s",
			    strerror(errno));
			rc = -1;
			break;
		}
	}
	fdpass_rx_free(rx);
	return (rc == 1 ? 0 : -1);
}

/*
 * fdpass_send_dgram - the whole hand-off in one datagram; never waits:
 * -1 with errno (EAGAIN: the receiver's queue is full) and err set
 */
int
fdpass_send_dgram(int sock, int fd, const struct fdpass_info *info,
    char *err, size_t errlen)
{
	struct fdpass_msg m;
	struct msghdr *msg;
	struct buf *out = fdpass_list(info);
	ssize_t	 n;
	int	 saved;

	msg = fdpass_msg_init(&m, BUF_STR(out), BUF_LEN(out), fd);
	do
		n = sendmsg(sock, msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	saved = errno;
	if (n >= 0 && (size_t)n != BUF_LEN(out)) {
		saved = EMSGSIZE;
		n = -1;
	}
	buf_free(out);
	if (n < 0) {
		snprintf(err, errlen, "send client socket: %s",
		    strerror(saved));
		errno = saved;
		return (-1);
	}
	return (0);
}

/*
 * fdpass_recv_dgram - one datagram's hand-off, without waiting: 1 with
 * *fd and info, 0 when none is queued, -1 when the datagram was bad
 * (err set; it is consumed and any descriptor in it closed)
 */
int
fdpass_recv_dgram(int sock, int *fd, struct fdpass_info *info, char *err,
    size_t errlen)
{
	char	 data[FDPASS_MAX_LIST];
	struct fdpass_rx rx = {NULL, -1};
	struct fdpass_msg m;
	struct msghdr *msg;
	struct attr_list *l;
	size_t	 used;
	ssize_t	 n;
	int	 rc = -1;

	err[0] = 0;
	*fd = -1;
	msg = fdpass_msg_init(&m, data, sizeof(data), FDPASS_ROOM);
	do
		n = recvmsg(sock, msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return (0);
	if (n < 0) {
		snprintf(err, errlen, "client hand-off: %s", strerror(errno));
		return (-1);
	}
	if (fdpass_take_fds(&rx, msg) < 0)
		snprintf(err, errlen, "client hand-off: extra or truncated "
		    "descriptors");
	else if (msg->msg_flags & MSG_TRUNC)
		snprintf(err, errlen, "client hand-off: list too long");
	else if ((l = attr_parse(data, (size_t)n, &used, err,
	    errlen)) == NULL) {
		if (err[0] == 0)
			snprintf(err, errlen, "client hand-off: "
			    "incomplete list");
	} else {
		rc = fdpass_finish(&rx, l, fd, info, err, errlen);
		attr_list_free(l);
	}
	if (rx.fd >= 0)
		close(rx.fd);
	return (rc);
}
