/*
 * NAME
 *	postscreen_send - hand the live client socket to smtpd
 * SYNOPSIS
 *	#include "postscreen.h"
 *
 *	void	psc_send_socket(struct psc_state *s);
 * DESCRIPTION
 *	Connects to smtpd's pass service ($queue_directory/private/
 *	$smtpd_service_name: the "smtpd pass" line of master.cf) and sends
 *	the client socket with SCM_RIGHTS plus the client and server
 *	addresses (lib/fdpass.h), then closes postscreen's copies; smtpd
 *	carries on with the client (it sends the final "220 " line, which
 *	completes the "220-" teaser the client may have seen).
 *
 *	First in one datagram on the service's datagram socket
 *	(private/$smtpd_service_name.dgram, master's; connected once and
 *	kept): no connection per client. When its queue is full
 *	(net.unix.max_dgram_qlen, 10 by default: every smtpd busy) or it
 *	does not exist, over the stream socket as follows.
 *
 *	The connect is non-blocking. A pass service whose listen backlog
 *	is full (EAGAIN: smtpd takes hand-offs more slowly than clients
 *	pass) is retried from a timer, 5 ms doubling to 200 ms, for up to
 *	PSC_PASS_WAIT seconds while the client holds: a client that
 *	passed the tests is never dropped because of a burst (a client
 *	that leaves meanwhile is passed anyway, and smtpd sees its EOF).
 *	Any other failure (no listener, a send error), or a backlog still
 *	full after the wait, gets "421 4.3.2 All server ports are busy"
 *	and the client is closed - Postfix's postscreen_post_queue_limit
 *	reply.
 * DIAGNOSTICS
 *	"warning: cannot pass connection from [addr]:port to
 *	private/smtpd: reason" and the 421 reply; "warning: private/smtpd:
 *	pass backlog full: N clients waiting" at most once a minute.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "fdpass.h"
#include "log.h"
#include "postscreen.h"

/* connect_smtpd - non-blocking connect to the pass service */
static int
connect_smtpd(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int	 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long");
		return (-1);
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return (-1);
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int	 e = errno;

		snprintf(err, errlen, "connect: %s", strerror(e));
		close(fd);
		errno = e;
		return (-1);
	}
	return (fd);
}

/*
 * The datagram socket beside the pass service's (lib/fdpass.h): one
 * sendmsg() per client, no connect, accept and close on both sides.
 * Connected once and kept; after a failed connect (no such socket: a
 * master without it) tried again PSC_DGRAM_RETRY seconds later.
 */
#define PSC_DGRAM_RETRY	10

static int psc_dgram = -1;
static time_t psc_dgram_tried;

/* dgram_open - the connected datagram socket, or -1 */
static int
dgram_open(void)
{
	struct sockaddr_un sun;
	time_t	 now;
	int	 fd;

	if (psc_dgram >= 0)
		return (psc_dgram);
	if ((now = time(NULL)) - psc_dgram_tried < PSC_DGRAM_RETRY
	    && psc_dgram_tried != 0)
		return (-1);
	psc_dgram_tried = now;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s.dgram",
	    psc_var.smtpd_socket) >= (int)sizeof(sun.sun_path))
		return (-1);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return (-1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return (-1);
	}
	return (psc_dgram = fd);
}

/*
 * send_dgram - the hand-off in one datagram: 0 when sent; -1 when the
 * stream socket must take it (the queue is full, or the socket is gone:
 * master recreated it at a restart, then the next client reconnects)
 */
static int
send_dgram(struct psc_state *s, const struct fdpass_info *info)
{
	char	 err[256];
	int	 sock;

	if ((sock = dgram_open()) < 0)
		return (-1);
	if (fdpass_send_dgram(sock, s->fd, info, err, sizeof(err)) == 0)
		return (0);
	if (errno != EAGAIN) {
		close(psc_dgram);
		psc_dgram = -1;
		psc_dgram_tried = 0;
	}
	return (-1);
}

#define PSC_PASS_WAIT	60		/* seconds a passed client may wait */

static long psc_pass_waiting;		/* clients in pass_retry() */
static time_t psc_pass_warned;

static void pass_retry(evutil_socket_t, short, void *);

/* pass_wait - the backlog is full: try again soon, or give up */
static int
pass_wait(struct psc_state *s)
{
	struct timeval tv;
	time_t	 now;

	if (s->pass_waited_ms >= PSC_PASS_WAIT * 1000L)
		return (-1);
	if (s->pass_timer == NULL) {
		if ((s->pass_timer = evtimer_new(psc_base, pass_retry,
		    s)) == NULL)
			return (-1);
		s->pass_delay_ms = 5;
		psc_pass_waiting++;
		if ((now = time(NULL)) - psc_pass_warned >= 60) {
			log_warn("%s: pass backlog full: %ld client%s waiting",
			    psc_var.smtpd_socket, psc_pass_waiting,
			    psc_pass_waiting == 1 ? "" : "s");
			psc_pass_warned = now;
		}
	} else if ((s->pass_delay_ms *= 2) > 200)
		s->pass_delay_ms = 200;
	s->pass_waited_ms += s->pass_delay_ms;
	tv.tv_sec = s->pass_delay_ms / 1000;
	tv.tv_usec = (s->pass_delay_ms % 1000) * 1000;
	evtimer_add(s->pass_timer, &tv);
	return (0);
}

/* pass_retry - the timer: try the hand-off again */
static void
pass_retry(evutil_socket_t fd, short what, void *ctx)
{
	psc_send_socket(ctx);
}

/* psc_send_socket - pass the client to smtpd, or turn it away */
void
psc_send_socket(struct psc_state *s)
{
	struct fdpass_info info;
	char	 err[256];
	int	 sock, busy, sent = 0;

	memset(&info, 0, sizeof(info));
	snprintf(info.client_addr, sizeof(info.client_addr), "%s", s->addr);
	snprintf(info.client_port, sizeof(info.client_port), "%s", s->port);
	snprintf(info.server_addr, sizeof(info.server_addr), "%s", s->saddr);
	snprintf(info.server_port, sizeof(info.server_port), "%s", s->sport);
	if (send_dgram(s, &info) == 0) {
		sock = -1;
		sent = 1;
	} else {
		sock = connect_smtpd(psc_var.smtpd_socket, err, sizeof(err));
		busy = sock < 0 && errno == EAGAIN;
		if (busy && pass_wait(s) == 0)
			return;
	}
	if (s->pass_timer) {
		psc_pass_waiting--;
		event_free(s->pass_timer);
		s->pass_timer = NULL;
	}
	if (sock >= 0) {
		sent = fdpass_send(sock, s->fd, &info, 10, err,
		    sizeof(err)) == 0;
		close(sock);
	}
	if (sent) {
		close(s->fd);
		s->fd = -1;
		psc_state_free(s);
		return;
	}
	log_warn("cannot pass connection from %s to %s: %s", psc_client(s),
	    psc_var.smtpd_socket, err);
	log_info("NOQUEUE: reject: CONNECT from %s: all server ports busy",
	    psc_client(s));
	psc_drop(s, "421 4.3.2 All server ports are busy\r\n");
}
