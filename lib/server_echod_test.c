/*
 * NAME
 *	echod - a tiny line echo daemon on the server skeleton (tests)
 * SYNOPSIS
 *	echod [skeleton options]
 * DESCRIPTION
 *	The test daemon for lib/server.c and master: it answers every
 *	connection with "220 echod <service> <pid> <client_addr>
 *	<passed>\r\n", then echoes each line. "QUIT" closes the session,
 *	"CRASH" aborts the process (to test master's restart and throttle),
 *	"STOP" calls server_stop(). With -S it serves stdin/stdout.
 *	Sessions are counted with server_session_begin/end, so SIGHUP
 *	lets open sessions finish.
 *
 *	Setting the parameter echod_crash_at_start = yes (-o) makes the
 *	daemon exit with status 1 right after start (throttle tests).
 * DIAGNOSTICS
 *	Everything through the skeleton's log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "conf.h"
#include "log.h"
#include "server.h"
#include "xalloc.h"

/* echod_read - echo complete lines */
static void
echod_read(struct bufferevent *bev, void *ctx)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	char	*line;
	size_t	 len;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) != NULL) {
		if (strcmp(line, "QUIT") == 0) {
			free(line);
			bufferevent_free(bev);
			server_session_end();
			return;
		}
		if (strcmp(line, "CRASH") == 0)
			abort();
		if (strcmp(line, "STOP") == 0)
			server_stop();
		bufferevent_write(bev, line, len);
		bufferevent_write(bev, "\r\n", 2);
		free(line);
	}
}

/* echod_event - EOF or error ends the session */
static void
echod_event(struct bufferevent *bev, short what, void *ctx)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		bufferevent_free(bev);
		server_session_end();
	}
}

/* echod_start - greet and start echoing on fd (in and out may differ) */
static void
echod_start(int fd, const char *client, int passed)
{
	struct bufferevent *bev;
	char	 greet[256];

	bev = bufferevent_socket_new(server_base(), fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, echod_read, NULL, echod_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	snprintf(greet, sizeof(greet), "220 echod %s %ld %s %d\r\n",
	    server_service(), (long)getpid(), *client ? client : "-", passed);
	bufferevent_write(bev, greet, strlen(greet));
	server_session_begin();
}

/* echod_accept - a new connection */
static void
echod_accept(const struct server_conn *conn)
{
	log_info("connect from [%s]:%s", conn->client_addr, conn->client_port);
	echod_start(conn->fd, conn->client_addr, conn->passed);
}

/* echod_stdin - -S: one session on stdin/stdout */
static void
echod_stdin(int in, int out)
{
	char	 line[1024];

	printf("220 echod stdin\r\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = 0;
		if (strcmp(line, "QUIT") == 0)
			break;
		printf("%s\r\n", line);
		fflush(stdout);
	}
	server_stop();
}

/* echod_post_init - optional crash at start (throttle tests) */
static void
echod_post_init(struct event_base *base)
{
	const char *v = conf_str("echod_crash_at_start");

	if (v && strcmp(v, "yes") == 0)
		log_fatal("crashing at start as configured");
}

/* main - fill the spec, run the skeleton */
int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
		.program = "echod",
		.stdin_session = 1,
		.post_init = echod_post_init,
		.accept = echod_accept,
		.session_stdin = echod_stdin,
	};

	return (server_main(argc, argv, &spec));
}
