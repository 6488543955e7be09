/*
 * NAME
 *	fdpass - hand a live client socket to another process
 * SYNOPSIS
 *	#include "fdpass.h"
 *
 *	int	fdpass_send(int sock, int fd, const struct fdpass_info *info,
 *	    int timeout, char *err, size_t errlen);
 *
 *	struct fdpass_rx *fdpass_rx_new(void);
 *	int	fdpass_rx_read(struct fdpass_rx *rx, int sock, int *fd,
 *	    struct fdpass_info *info, char *err, size_t errlen);
 *	void	fdpass_rx_free(struct fdpass_rx *rx);
 *
 *	int	fdpass_recv(int sock, int timeout, int *fd,
 *	    struct fdpass_info *info, char *err, size_t errlen);
 *
 *	int	fdpass_send_dgram(int sock, int fd,
 *	    const struct fdpass_info *info, char *err, size_t errlen);
 *	int	fdpass_recv_dgram(int sock, int *fd,
 *	    struct fdpass_info *info, char *err, size_t errlen);
 * DESCRIPTION
 *	The postscreen -> smtpd hand-off (Postfix's pass service). Over a
 *	connected unix stream socket the sender writes one attribute list
 *	(lib/attr.h):
 *
 *	    version=1
 *	    client_addr=192.0.2.1
 *	    client_port=54321
 *	    server_addr=192.0.2.40
 *	    server_port=25
 *	    (empty line)
 *
 *	and the client socket travels as SCM_RIGHTS ancillary data on the
 *	first byte of that list. One connection carries one client; the
 *	sender closes its copy of the fd and the connection afterwards.
 *
 *	fdpass_send() is blocking (timeout in seconds; the socket may be
 *	non-blocking). fdpass_rx_read() is the event-loop receiver: call
 *	it whenever sock is readable; it returns 1 when the fd and a
 *	complete list have arrived (*fd is the client socket, close-on-
 *	exec, owned by the caller), 0 when more data is needed, -1 on
 *	error or EOF. fdpass_rx_free() closes a received fd that was never
 *	handed out. fdpass_recv() is the blocking receiver (tests, simple
 *	clients).
 *
 *	Over a unix datagram socket (master's $NAME.dgram beside a pass
 *	service's stream socket) one datagram carries the whole list and
 *	the fd: no connection per client. fdpass_send_dgram() never waits:
 *	-1 with errno EAGAIN when the receiver's queue is full
 *	(net.unix.max_dgram_qlen datagrams, 10 by default) and the sender
 *	uses the stream socket instead. fdpass_recv_dgram() returns 1 with
 *	a hand-off, 0 when nothing is queued, -1 for a bad datagram (it is
 *	consumed, any descriptor in it closed: the next one is read as if
 *	nothing happened).
 * DIAGNOSTICS
 *	-1 with a message in err: short or malformed list (over
 *	FDPASS_MAX_LIST bytes, no fd, more than one fd, wrong version,
 *	missing attribute), EOF, timeout. A malformed hand-off costs one
 *	connection, never the process.
 */
#ifndef FDPASS_H
#define FDPASS_H

#include <stddef.h>

#define FDPASS_MAX_LIST	4096

struct fdpass_info {
	char	 client_addr[64];
	char	 client_port[8];
	char	 server_addr[64];
	char	 server_port[8];
};

struct fdpass_rx;

int	 fdpass_send(int, int, const struct fdpass_info *, int, char *,
	    size_t);
struct fdpass_rx *fdpass_rx_new(void);
int	 fdpass_rx_read(struct fdpass_rx *, int, int *, struct fdpass_info *,
	    char *, size_t);
void	 fdpass_rx_free(struct fdpass_rx *);
int	 fdpass_recv(int, int, int *, struct fdpass_info *, char *, size_t);
int	 fdpass_send_dgram(int, int, const struct fdpass_info *, char *,
	    size_t);
int	 fdpass_recv_dgram(int, int *, struct fdpass_info *, char *, size_t);

#endif
