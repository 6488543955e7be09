/*
 * NAME
 *	canary - a program with a one-byte heap overflow, for the harness
 * SYNOPSIS
 *	canary [MASTER ARGS] [overflow | ubsan] [now]
 * DESCRIPTION
 *	tests/01-harness.t uses it to prove that the test harness can fail:
 *	that a sanitizer report of a process a test started (directly, or
 *	as a child of master) fails that test file.
 *
 *	With "now" it runs once: it copies a 16-byte string into a heap
 *	buffer one byte too short when "overflow" is given too (ASan:
 *	heap-buffer-overflow, abort), into one of the right size otherwise,
 *	and exits 0. With "ubsan" instead of "overflow" the copy's length
 *	goes through a signed int overflow (UBSan: runtime error, fatal
 *	under -fno-sanitize-recover).
 *
 *	Without "now" it is a master.cf service (master's arguments -c -s
 *	-t -n are ignored): it accepts connections on fd 3
 *	(SERVER_LISTEN_FD), reads one line of each, copies it into a heap
 *	buffer (one byte too short when "overflow" is given), answers
 *	"ok LENGTH" and closes. SIGTERM ends it with status 0, as master's
 *	stop expects of every child.
 * DIAGNOSTICS
 *	Exit status 0; a sanitizer report and SIGABRT when it overflows
 *	under ASan; 1 when fd 3 is not a listening socket.
 */
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t canary_stop;
static volatile int canary_big = INT_MAX;

/* canary_term - SIGTERM: leave the accept loop */
static void
canary_term(int sig)
{
	(void)sig;
	canary_stop = 1;
}

/* canary_copy - copy text into a heap buffer; short by one if asked */
static size_t
canary_copy(const char *text, size_t len, int overflow)
{
	char	*volatile buf;
	size_t	 n;

	if (overflow == 2)	/* UBSan: signed overflow */
		len = (size_t)(canary_big + (int)len) - (size_t)INT_MAX;
	buf = malloc(len + (overflow == 1 ? 0 : 1));
	if (buf == NULL)
		return (0);
	memcpy(buf, text, len);
	buf[len] = 0;		/* one past the end when overflow */
	n = strlen(buf);
	free(buf);
	return (n);
}

/* canary_serve - one connection: read a line, copy it, answer */
static void
canary_serve(int fd, int overflow)
{
	char	 line[256], reply[64];
	ssize_t	 n;
	size_t	 len;

	n = read(fd, line, sizeof(line) - 1);
	if (n <= 0)
		return;
	len = (size_t)n;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	len = canary_copy(line, len, overflow);
	snprintf(reply, sizeof(reply), "ok %zu\n", len);
	(void)write(fd, reply, strlen(reply));
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	int	 i, overflow = 0, now = 0, fd;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "overflow") == 0)
			overflow = 1;
		else if (strcmp(argv[i], "ubsan") == 0)
			overflow = 2;
		else if (strcmp(argv[i], "now") == 0)
			now = 1;
	}
	if (now) {
		printf("copied %zu bytes\n",
		    canary_copy("sixteen bytes!!!", 16, overflow));
		return (0);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = canary_term;
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	while (!canary_stop) {
		struct pollfd pfd = {.fd = 3, .events = POLLIN};

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			perror("canary: poll on fd 3");
			return (1);
		}
		if (canary_stop)
			break;
		if ((fd = accept(3, NULL, NULL)) < 0) {
			if (errno == EAGAIN || errno == EINTR
			    || errno == ECONNABORTED)
				continue;
			perror("canary: accept on fd 3");
			return (1);
		}
		canary_serve(fd, overflow);
		close(fd);
	}
	return (0);
}
