/*
 * NAME
 *	smtp-load - SMTP load generator for the benchmarks (not a test)
 * SYNOPSIS
 *	smtp-load send -p port [-a addr] [-c sessions] [-n messages]
 *	    [-s size] [-f sender] [-r rcpt[,rcpt...]] [-l acklog]
 *	smtp-load idle -p port [-a addr] [-n connections] [-t seconds]
 * DESCRIPTION
 *	send: -c threads, each sending messages one per connection (EHLO,
 *	MAIL, RCPT, DATA of about -s bytes, QUIT) until -n messages were
 *	accepted in all. Prints "accepted N in S seconds: R msg/s" and the
 *	count of failures; a message counts as accepted only on a 250
 *	after DATA. Each message carries a unique Message-ID
 *	<bench.N@smtp-load> so deliveries can be counted; with -l, the N of
 *	every message answered 250 is appended to acklog, one per line.
 *	-r takes a comma-separated list: one RCPT per address.
 *
 *	idle: opens -n connections (non-blocking, bounded in flight),
 *	reads each 220 greeting, prints "idle N established" on stdout,
 *	then holds them open for -t seconds (or until SIGTERM) and exits.
 *
 *	Loopback only: the address must be in 127.0.0.0/8 or ::1.
 * DIAGNOSTICS
 *	Exit 1 on usage errors or when nothing could be sent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *opt_addr = "127.0.0.1";
static int opt_port;
static int opt_sessions = 20;
static long opt_count = 1000;
static int opt_size = 1024;
static int opt_seconds = 30;
static const char *opt_from = "bench@example.net";
static const char *opt_rcpt = "bench@example.org";
static FILE *opt_acklog;
static pthread_mutex_t acklock = PTHREAD_MUTEX_INITIALIZER;

static atomic_long next_msg;
static atomic_long accepted;
static atomic_long failed;
static char *body;

/* now - monotonic seconds */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* dial - connect to the server (loopback only) */
static int
dial(void)
{
	struct sockaddr_in sin;
	int	 fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)opt_port);
	if (inet_pton(AF_INET, opt_addr, &sin.sin_addr) != 1
	    || (ntohl(sin.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "smtp-load: %s is not a loopback address\n",
		    opt_addr);
		exit(1);
	}
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return (-1);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* reply - read one complete (possibly multi-line) reply, return code */
static int
reply(int fd, char *buf, size_t len, size_t *have)
{
	for (;;) {
		char	*line = buf, *nl;

		/* look for a final line "ddd " in what we have */
		while ((nl = memchr(line, '\n', *have - (size_t)(line - buf)))) {
			if (nl - line >= 3 && line[3] != '-') {
				int	 code = atoi(line);
				size_t	 used = (size_t)(nl + 1 - buf);

				memmove(buf, nl + 1, *have - used);
				*have -= used;
				return (code);
			}
			line = nl + 1;
		}
		if (*have >= len - 1)
			return (-1);
		ssize_t	 n = read(fd, buf + *have, len - 1 - *have);

		if (n <= 0)
			return (-1);
		*have += (size_t)n;
	}
}

/* say - send a command and wait for its reply */
static int
say(int fd, const char *cmd, char *buf, size_t len, size_t *have)
{
	size_t	 n = strlen(cmd);

	if (write(fd, cmd, n) != (ssize_t)n)
		return (-1);
	return (reply(fd, buf, len, have));
}

/* send_one - one message on one connection */
static int
send_one(long id)
{
	char	 buf[8192], cmd[512];
	size_t	 have = 0;
	int	 fd, ok = 0;

	if ((fd = dial()) < 0)
		return (0);
	if (reply(fd, buf, sizeof(buf), &have) != 220)
		goto out;
	if (say(fd, "EHLO load.example.net\r\n", buf, sizeof(buf), &have)
	    != 250)
		goto out;
	snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>\r\n", opt_from);
	if (say(fd, cmd, buf, sizeof(buf), &have) != 250)
		goto out;
	{
		char	 list[400], *r, *save = NULL;

		snprintf(list, sizeof(list), "%s", opt_rcpt);
		for (r = strtok_r(list, ",", &save); r;
		    r = strtok_r(NULL, ",", &save)) {
			snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>\r\n", r);
			if (say(fd, cmd, buf, sizeof(buf), &have) != 250)
				goto out;
		}
	}
	if (say(fd, "DATA\r\n", buf, sizeof(buf), &have) != 354)
		goto out;
	snprintf(cmd, sizeof(cmd), "From: <%s>\r\nTo: <%s>\r\n"
	    "Subject: bench %ld\r\nMessage-ID: <bench.%ld@smtp-load>\r\n\r\n",
	    opt_from, opt_rcpt, id, id);
	if (write(fd, cmd, strlen(cmd)) < 0
	    || write(fd, body, strlen(body)) < 0)
		goto out;
	if (say(fd, ".\r\n", buf, sizeof(buf), &have) != 250)
		goto out;
	ok = 1;
	if (opt_acklog) {
		pthread_mutex_lock(&acklock);
		fprintf(opt_acklog, "%ld\n", id);
		fflush(opt_acklog);
		pthread_mutex_unlock(&acklock);
	}
	(void)say(fd, "QUIT\r\n", buf, sizeof(buf), &have);
out:
	close(fd);
	return (ok);
}

/* sender - one thread: messages until the total is reached */
static void *
sender(void *arg)
{
	long	 id;

	(void)arg;
	while ((id = atomic_fetch_add(&next_msg, 1)) < opt_count) {
		if (send_one(id))
			atomic_fetch_add(&accepted, 1);
		else
			atomic_fetch_add(&failed, 1);
	}
	return (NULL);
}

/* make_body - about opt_size bytes of 72-column text, CRLF lines */
static void
make_body(void)
{
	size_t	 n = 0, cap = (size_t)opt_size + 100;

	body = malloc(cap);
	while (n + 74 < (size_t)opt_size) {
		memset(body + n, 'x', 72);
		memcpy(body + n + 72, "\r\n", 2);
		n += 74;
	}
	body[n] = 0;
}

/* run_send - the throughput benchmark */
static int
run_send(void)
{
	pthread_t *t = calloc((size_t)opt_sessions, sizeof(*t));
	double	 t0, dt;
	int	 i;

	make_body();
	t0 = now();
	for (i = 0; i < opt_sessions; i++)
		pthread_create(&t[i], NULL, sender, NULL);
	for (i = 0; i < opt_sessions; i++)
		pthread_join(t[i], NULL);
	dt = now() - t0;
	printf("accepted %ld in %.2f seconds: %.0f msg/s (%ld failed)\n",
	    (long)accepted, dt, accepted / dt, (long)failed);
	free(t);
	return (accepted ? 0 : 1);
}

static volatile sig_atomic_t stop;

/* on_term - end the idle hold */
static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* run_idle - hold many idle sessions after their greeting */
static int
run_idle(void)
{
	struct rlimit rl = {opt_count + 100, opt_count + 100};
	int	*fds = calloc((size_t)opt_count, sizeof(int));
	long	 i, up = 0;
	char	 buf[512];
	double	 until;

	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		perror("smtp-load: setrlimit");
		return (1);
	}
	signal(SIGTERM, on_term);
	for (i = 0; i < opt_count && !stop; i++) {
		struct pollfd pfd;

		if ((fds[i] = dial()) < 0) {
			fprintf(stderr, "smtp-load: connect %ld: %s\n", i,
			    strerror(errno));
			break;
		}
		pfd.fd = fds[i];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 10000) != 1 || read(fds[i], buf,
		    sizeof(buf)) <= 0 || strncmp(buf, "220", 3) != 0) {
			fprintf(stderr, "smtp-load: no greeting on %ld\n", i);
			close(fds[i]);
			break;
		}
		up++;
	}
	printf("idle %ld established\n", up);
	fflush(stdout);
	until = now() + opt_seconds;
	while (!stop && now() < until)
		usleep(100000);
	for (i = 0; i < up; i++)
		close(fds[i]);
	free(fds);
	return (up == opt_count ? 0 : 1);
}

int
main(int argc, char **argv)
{
	const char *mode;
	int	 c;

	if (argc < 2) {
		fprintf(stderr, "usage: smtp-load send|idle -p port ...\n");
		return (1);
	}
	mode = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "a:c:f:l:n:p:r:s:t:")) != -1) {
		switch (c) {
		case 'a': opt_addr = optarg; break;
		case 'c': opt_sessions = atoi(optarg); break;
		case 'f': opt_from = optarg; break;
		case 'l':
			if ((opt_acklog = fopen(optarg, "a")) == NULL) {
				perror(optarg);
				return (1);
			}
			break;
		case 'n': opt_count = atol(optarg); break;
		case 'p': opt_port = atoi(optarg); break;
		case 'r': opt_rcpt = optarg; break;
		case 's': opt_size = atoi(optarg); break;
		case 't': opt_seconds = atoi(optarg); break;
		default: return (1);
		}
	}
	if (opt_port <= 0 || opt_sessions <= 0 || opt_count <= 0)
		return (1);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "send") == 0)
		return (run_send());
	if (strcmp(mode, "idle") == 0)
		return (run_idle());
	fprintf(stderr, "smtp-load: unknown mode %s\n", mode);
	return (1);
}
