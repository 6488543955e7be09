/*
 * NAME
 *	smtp-load - SMTP load generator for the benchmarks (not a test)
 * SYNOPSIS
 *	smtp-load send -p port [-a addr] [-c sessions] [-n messages]
 *	    [-s size] [-f sender] [-r rcpt[,rcpt...]] [-l acklog] [-T]
 *	    [-S prefix -k sources]
 *	smtp-load idle -p port [-a addr] [-n connections] [-t seconds]
 *	    [-w window] [-S prefix -k sources]
 * DESCRIPTION
 *	send: -c threads, each sending messages one per connection (EHLO,
 *	MAIL, RCPT, DATA of about -s bytes, QUIT) until -n messages were
 *	accepted in all. Prints "accepted N in S seconds: R msg/s" and the
 *	count of failures; a message counts as accepted only on a 250
 *	after DATA. Each message carries a unique Message-ID
 *	<bench.N@smtp-load> so deliveries can be counted; with -l, the N of
 *	every message answered 250 is appended to acklog, one per line.
 *	-r takes a comma-separated list: one RCPT per address. A session
 *	whose server does not answer a read or take a write within 60 s
 *	fails.
 *
 *	-T: STARTTLS on every connection (after the first EHLO; OpenSSL,
 *	a full handshake each time, the certificate not checked), then
 *	EHLO again and the message over TLS.
 *
 *	-S prefix -k sources: bind each connection to one of -k source
 *	addresses prefix.X.Y (prefix is two octets, e.g. 127.1; X.Y run
 *	0.1, 0.2, ... 0.250, 1.1, ...), so that postscreen sees -k
 *	clients as a public MX sees many: send gives thread i source
 *	i mod k; idle gives connection i source i mod k.
 *
 *	idle: opens -n connections (non-blocking, at most -w, default 500,
 *	waiting for their greeting at once), waits for each final "220 " line (a
 *	"220-" line that postscreen sends before its greet wait does not
 *	count), prints "idle N established" and "greeting p50 A s p99 B s
 *	max C s (D dropped, E timeouts)" (from connect() to the final 220
 *	line) on stdout, then holds them open for -t seconds (or until
 *	SIGTERM) and exits. A connection without its greeting after 60 s
 *	is a timeout; one closed or reset before it is dropped.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define IO_TIMEOUT 60	/* seconds a send session waits on one read or write */

static const char *opt_addr = "127.0.0.1";
static int opt_port;
static int opt_sessions = 20;
static long opt_count = 1000;
static int opt_size = 1024;
static int opt_seconds = 30;
static const char *opt_from = "bench@example.net";
static const char *opt_rcpt = "bench@example.org";
static FILE *opt_acklog;
static int opt_tls;
static const char *opt_prefix;
static int opt_sources = 1;
static long opt_window = 500;
static SSL_CTX *tls_ctx;
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

/* bind_source - bind fd to source address k of -S/-k (none without -S) */
static int
bind_source(int fd, long k)
{
	struct sockaddr_in src;
	char	 a[64];

	if (opt_prefix == NULL)
		return (0);
	k %= opt_sources;
	snprintf(a, sizeof(a), "%s.%ld.%ld", opt_prefix, k / 250,
	    k % 250 + 1);
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	if (inet_pton(AF_INET, a, &src.sin_addr) != 1
	    || (ntohl(src.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "smtp-load: bad source %s\n", a);
		exit(1);
	}
	return (bind(fd, (struct sockaddr *)&src, sizeof(src)));
}

/* dial - connect to the server (loopback only), from source k */
static int
dial(long k, int nonblock)
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
	if ((fd = socket(AF_INET, SOCK_STREAM
	    | (nonblock ? SOCK_NONBLOCK : 0), 0)) < 0)
		return (-1);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!nonblock) {
		/* a server that stops answering fails the session, not the run */
		struct timeval tv = {IO_TIMEOUT, 0};

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (bind_source(fd, k) < 0) {
		close(fd);
		return (-1);
	}
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0
	    && !(nonblock && errno == EINPROGRESS)) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* conn - a connection, plain or TLS after STARTTLS */
struct conn {
	int	 fd;
	SSL	*ssl;
};

static ssize_t
conn_read(struct conn *c, char *buf, size_t len)
{
	if (c->ssl) {
		int	 n = SSL_read(c->ssl, buf, (int)len);

		return (n > 0 ? n : -1);
	}
	return (read(c->fd, buf, len));
}

static int
conn_write(struct conn *c, const char *buf, size_t len)
{
	if (c->ssl)
		return (len == 0 || SSL_write(c->ssl, buf, (int)len)
		    == (int)len ? 0 : -1);
	while (len > 0) {
		ssize_t	 n = write(c->fd, buf, len);

		if (n <= 0)
			return (-1);
		buf += n;
		len -= (size_t)n;
	}
	return (0);
}

/* reply - read one complete (possibly multi-line) reply, return code */
static int
reply(struct conn *fd, char *buf, size_t len, size_t *have)
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
		ssize_t	 n = conn_read(fd, buf + *have, len - 1 - *have);

		if (n <= 0)
			return (-1);
		*have += (size_t)n;
	}
}

/* say - send a command and wait for its reply */
static int
say(struct conn *fd, const char *cmd, char *buf, size_t len, size_t *have)
{
	if (conn_write(fd, cmd, strlen(cmd)) < 0)
		return (-1);
	return (reply(fd, buf, len, have));
}

/* send_one - one message on one connection */
static int
send_one(long id, long src)
{
	char	 buf[8192], cmd[512];
	size_t	 have = 0;
	int	 ok = 0;
	struct conn c = {-1, NULL}, *fd = &c;

	if ((c.fd = dial(src, 0)) < 0)
		return (0);
	if (reply(fd, buf, sizeof(buf), &have) != 220)
		goto out;
	if (say(fd, "EHLO load.example.net\r\n", buf, sizeof(buf), &have)
	    != 250)
		goto out;
	if (opt_tls) {
		if (say(fd, "STARTTLS\r\n", buf, sizeof(buf), &have) != 220
		    || have != 0)
			goto out;
		if ((c.ssl = SSL_new(tls_ctx)) == NULL
		    || SSL_set_fd(c.ssl, c.fd) != 1
		    || SSL_connect(c.ssl) != 1)
			goto out;
		if (say(fd, "EHLO load.example.net\r\n", buf, sizeof(buf),
		    &have) != 250)
			goto out;
	}
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
	if (conn_write(fd, cmd, strlen(cmd)) < 0
	    || conn_write(fd, body, strlen(body)) < 0)
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
	if (c.ssl) {
		SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	close(c.fd);
	return (ok);
}

/* sender - one thread: messages until the total is reached */
static void *
sender(void *arg)
{
	long	 id, src = (long)(intptr_t)arg;

	while ((id = atomic_fetch_add(&next_msg, 1)) < opt_count) {
		if (send_one(id, src))
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
	if (opt_tls) {
		if ((tls_ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
			ERR_print_errors_fp(stderr);
			return (1);
		}
		SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF);
	}
	t0 = now();
	for (i = 0; i < opt_sessions; i++)
		pthread_create(&t[i], NULL, sender, (void *)(intptr_t)i);
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

/* dcmp - qsort order of doubles */
static int
dcmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return ((x > y) - (x < y));
}

/* idle_conn - one idle connection: start time, what it read so far */
struct idle_conn {
	int	 fd;
	int	 state;		/* 0 waiting, 1 greeted, 2 failed */
	double	 t0;
	size_t	 have;
	char	 buf[256];
};

/* idle_read - read what came; 1 on the final 220 line, -1 on failure */
static int
idle_read(struct idle_conn *c)
{
	for (;;) {
		ssize_t	 n = read(c->fd, c->buf + c->have,
		    sizeof(c->buf) - 1 - c->have);
		char	*line, *nl;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return (0);
		if (n <= 0)
			return (-1);
		c->have += (size_t)n;
		line = c->buf;
		while ((nl = memchr(line, '\n', c->have
		    - (size_t)(line - c->buf)))) {
			if (nl - line < 3 || strncmp(line, "220", 3) != 0)
				return (-1);
			if (line[3] == ' ' || line[3] == '\r')
				return (1);
			line = nl + 1;
		}
		/* keep the unfinished line only */
		c->have -= (size_t)(line - c->buf);
		memmove(c->buf, line, c->have);
		if (c->have >= sizeof(c->buf) - 1)
			c->have = 0;
	}
}

/* run_idle - hold many idle sessions after their greeting */
static int
run_idle(void)
{
	struct rlimit rl = {opt_count + 100, opt_count + 100};
	struct idle_conn *conns = calloc((size_t)opt_count, sizeof(*conns));
	double	*lat = calloc((size_t)opt_count, sizeof(double));
	long	 i, next = 0, waiting = 0, up = 0, dropped = 0, timeouts = 0;
	double	 until, last_sweep = 0;
	int	 ep;

	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		perror("smtp-load: setrlimit");
		return (1);
	}
	signal(SIGTERM, on_term);
	if ((ep = epoll_create1(0)) < 0) {
		perror("smtp-load: epoll_create1");
		return (1);
	}
	while (!stop && (next < opt_count || waiting > 0)) {
		struct epoll_event ev[256];
		int	 n, j;

		while (next < opt_count && waiting < opt_window) {
			struct idle_conn *c = &conns[next];
			struct epoll_event e = {.events = EPOLLIN};

			c->t0 = now();
			if ((c->fd = dial(next, 1)) < 0) {
				fprintf(stderr, "smtp-load: connect %ld: %s\n",
				    next, strerror(errno));
				c->state = 2;
				dropped++;
				next++;
				continue;
			}
			e.data.u64 = (uint64_t)next;
			epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
			waiting++;
			next++;
		}
		n = epoll_wait(ep, ev, 256, 200);
		for (j = 0; j < n; j++) {
			struct idle_conn *c = &conns[ev[j].data.u64];
			int	 r;

			if (c->state != 0)
				continue;
			if ((r = idle_read(c)) == 0)
				continue;
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			waiting--;
			if (r > 0) {
				c->state = 1;
				lat[up++] = now() - c->t0;
			} else {
				c->state = 2;
				dropped++;
				close(c->fd);
			}
		}
		if (now() - last_sweep > 1) {
			last_sweep = now();
			for (i = 0; i < next; i++)
				if (conns[i].state == 0
				    && last_sweep - conns[i].t0 > 60) {
					epoll_ctl(ep, EPOLL_CTL_DEL,
					    conns[i].fd, NULL);
					close(conns[i].fd);
					conns[i].state = 2;
					waiting--;
					timeouts++;
				}
		}
	}
	printf("idle %ld established\n", up);
	if (up > 0) {
		qsort(lat, (size_t)up, sizeof(double), dcmp);
		printf("greeting p50 %.2f s p99 %.2f s max %.2f s"
		    " (%ld dropped, %ld timeouts)\n", lat[(up - 1) / 2],
		    lat[(long)((up - 1) * 0.99)], lat[up - 1], dropped,
		    timeouts);
	} else
		printf("greeting none (%ld dropped, %ld timeouts)\n",
		    dropped, timeouts);
	fflush(stdout);
	until = now() + opt_seconds;
	while (!stop && now() < until)
		usleep(100000);
	for (i = 0; i < opt_count; i++)
		if (conns[i].state == 1)
			close(conns[i].fd);
	free(conns);
	free(lat);
	close(ep);
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
	while ((c = getopt(argc, argv, "a:c:f:k:l:n:p:r:s:S:t:Tw:")) != -1) {
		switch (c) {
		case 'a': opt_addr = optarg; break;
		case 'c': opt_sessions = atoi(optarg); break;
		case 'f': opt_from = optarg; break;
		case 'k': opt_sources = atoi(optarg); break;
		case 'S': opt_prefix = optarg; break;
		case 'T': opt_tls = 1; break;
		case 'w': opt_window = atol(optarg); break;
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
	if (opt_port <= 0 || opt_sessions <= 0 || opt_count <= 0
	    || opt_sources <= 0 || opt_window <= 0)
		return (1);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "send") == 0)
		return (run_send());
	if (strcmp(mode, "idle") == 0)
		return (run_idle());
	fprintf(stderr, "smtp-load: unknown mode %s\n", mode);
	return (1);
}
