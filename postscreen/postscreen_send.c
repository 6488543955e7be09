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
 *	The connect is non-blocking: a pass service whose listen backlog
 *	is full (smtpd cannot keep up) refuses at once, and so does one
 *	that is not running. Either way the client gets "421 4.3.2 All
 *	server ports are busy" and is closed - Postfix's
 *	postscreen_post_queue_limit reply. Hand-offs are synchronous on a
 *	local socket, so postscreen itself never holds a queue of clients
 *	waiting for smtpd: the kernel's backlog is that queue.
 * DIAGNOSTICS
 *	"warning: cannot pass connection from [addr]:port to
 *	private/smtpd: reason" and the 421 reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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
		snprintf(err, errlen, "connect: %s", strerror(errno));
		close(fd);
		return (-1);
	}
	return (fd);
}

/* psc_send_socket - pass the client to smtpd, or turn it away */
void
psc_send_socket(struct psc_state *s)
{
	struct fdpass_info info;
	char	 err[256];
	int	 sock;

	if ((sock = connect_smtpd(psc_var.smtpd_socket, err,
	    sizeof(err))) >= 0) {
		memset(&info, 0, sizeof(info));
		snprintf(info.client_addr, sizeof(info.client_addr), "%s",
		    s->addr);
		snprintf(info.client_port, sizeof(info.client_port), "%s",
		    s->port);
		snprintf(info.server_addr, sizeof(info.server_addr), "%s",
		    s->saddr);
		snprintf(info.server_port, sizeof(info.server_port), "%s",
		    s->sport);
		if (fdpass_send(sock, s->fd, &info, 10, err,
		    sizeof(err)) == 0) {
			close(sock);
			close(s->fd);
			s->fd = -1;
			psc_state_free(s);
			return;
		}
		close(sock);
	}
	log_warn("cannot pass connection from %s to %s: %s", psc_client(s),
	    psc_var.smtpd_socket, err);
	log_info("NOQUEUE: reject: CONNECT from %s: all server ports busy",
	    psc_client(s));
	psc_drop(s, "421 4.3.2 All server ports are busy\r\n");
}
