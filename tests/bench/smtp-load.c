/*
 * NAME
 *	smtp-load - SMTP load generator for the benchmarks (not a test)
 * SYNOPSIS
 *	smtp-load send -p port [-a addr] [-c sessions] [-n messages]
 *	    [-s size] [-f sender] [-r rcpt[,rcpt...]] [-l acklog] [-T]
 *	    [-S prefix -k sources] [-j threads] [-P]
 *	smtp-load idle -p port [-a addr] [-n connections] [-t seconds]
 *	    [-w window] [-S prefix -k sources]
 *	smtp-load sink -p port [-a addr] [-j threads]
 * DESCRIPTION
 *	send: -c sessions at once, each sending messages one per
 *	connection (EHLO, MAIL, RCPT, DATA of about -s bytes, QUIT; no
 *	pipelining without -P) until -n messages were tried in all (each
 *	once: a failed one is counted, not retried). Prints "accepted N in S
 *	seconds: R msg/s" and the count of failures; a message counts as
 *	accepted only on a 250 after DATA. The sessions are state machines
 *	on non-blocking sockets (epoll), in one thread (-j: that many,
 *	the sessions shared out), so that the load generator takes as
 *	little of the machine's CPU as it can from the server it
 *	measures: no thread switch per reply, no timeout options per
 *	socket, the message text in one writev(). Against postern on 2
 *	cores one thread took 0.11-0.12 ms of CPU per message, two
 *	0.13-0.15, the former thread per session 0.20-0.23. Each message
 *	carries a unique Message-ID <bench.N@smtp-load> so deliveries can
 *	be counted; with -l, the N of every message answered 250 is
 *	appended (and flushed) to acklog, one per line.
 *	With SMTP_LOAD_STEPS set in the environment, send also prints the
 *	mean wait for each reply ("steps (ms, mean): greet .. ehlo .. mail
 *	.. rcpt .. data .. dot .. quit .."), from the command (the connect,
 *	for the greeting) to its reply, as the loop's clock saw them: where
 *	a message's time goes, e.g. the dot's wait for the durable commit
 *	against a plain command's round trip.
 *	-r takes a comma-separated list: one RCPT per address. A session
 *	whose server does not answer a read or take a write within 60 s
 *	fails (checked once a second).
 *
 *	-P: pipelining as Postfix's SMTP client sends (RFC 2920), when
 *	the EHLO reply offers PIPELINING: MAIL, the RCPTs and DATA in one
 *	write, then the message, the dot and QUIT in one write; the
 *	replies are read as they come. Without PIPELINING in the EHLO
 *	reply, one command at a time as without -P. The steps of
 *	SMTP_LOAD_STEPS then count from the write that carried the
 *	command.
 *
 *	-T: STARTTLS on every connection (after the first EHLO; OpenSSL
 *	on the same non-blocking socket, a full handshake each time, the
 *	certificate not checked), then EHLO again and the message over
 *	TLS.
 *
 *	-S prefix -k sources: bind each connection to one of -k source
 *	addresses prefix.X.Y (prefix is two octets, e.g. 127.1; X.Y run
 *	0.1, 0.2, ... 0.250, 1.1, ...), so that postscreen sees -k
 *	clients as a public MX sees many: send gives session i source
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
 *	sink: a minimal SMTP server on -a:-p (one thread per core, or -j,
 *	each with its own epoll) for the bench's machine figures: 220,
 *	EHLO/HELO 250, MAIL/RCPT/RSET/NOOP 250, DATA 354, the dot 250,
 *	QUIT 221, anything else 502; no disk, no checks, no STARTTLS.
 *	send against it measures what the TCP connections and the client
 *	cost alone. It runs until SIGTERM or SIGINT, then prints "sink:
 *	C connections, M messages".
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
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
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
static int opt_pipe;
static const char *opt_prefix;
static int opt_sources = 1;
static long opt_window = 500;
static SSL_CTX *tls_ctx;

static int opt_loops;
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

/* dial - start a non-blocking connect to the server (loopback), from k */
/* server_addr - -a and -p as an address; -1: not on loopback (said) */
static int
server_addr(struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((unsigned short)opt_port);
	if (inet_pton(AF_INET, opt_addr, &sin->sin_addr) != 1
	    || (ntohl(sin->sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "smtp-load: %s is not a loopback address\n",
		    opt_addr);
		return (-1);
	}
	return (0);
}

static int
dial(long k)
{
	struct sockaddr_in sin;
	int	 fd, one = 1;

	if (server_addr(&sin) < 0)
		exit(1);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0)
		return (-1);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind_source(fd, k) < 0) {
		close(fd);
		return (-1);
	}
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0
	    && errno != EINPROGRESS) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* loop - one thread's event loop and its share of the sessions */
struct loop {
	int	 ep;			/* epoll fd */
	double	 t_now;			/* after the last epoll_wait */
	int	 active;		/* sessions with a connection */
	int	 first;			/* its sessions: first.. */
	int	 count;			/* ..first + count - 1 */
	pthread_t tid;
	double	 step_sum[9];		/* per send state: seconds waited */
	long	 step_n[9];		/* replies counted */
};

/* sess - one send session: a state machine on a non-blocking socket */
struct sess {
	struct loop *lp;		/* the thread that runs it */
	int	 fd;			/* -1 between messages */
	int	 src;			/* -S/-k source index */
	SSL	*ssl;			/* after STARTTLS */
	int	 state;			/* what the reply awaited answers */
	int	 io;			/* IO_WRITE, IO_READ or IO_HANDSHAKE */
	int	 events;		/* the epoll mask now registered */
	int	 rcpt;			/* RCPT commands answered so far */
	int	 ok;			/* the 250 after DATA came */
	int	 pipe;			/* EHLO offered PIPELINING (-P) */
	long	 id;			/* message number */
	double	 deadline;		/* of the read or write under way */
	double	 t_step;		/* the state's command went out */
	struct iovec out[3];		/* what is left to write */
	int	 nout;
	size_t	 have;			/* reply bytes in buf */
	char	 hdr[512];		/* the message header */
	char	 buf[8192];
};

/* send states: the reply each waits for */
#define S_GREET		0
#define S_EHLO		1
#define S_STARTTLS	2
#define S_EHLO2		3
#define S_MAIL		4
#define S_RCPT		5
#define S_DATA		6
#define S_DOT		7
#define S_QUIT		8

#define IO_WRITE	0
#define IO_READ		1
#define IO_HANDSHAKE	2

static struct sess *sessions;
static char mail_cmd[512];
static char *pipe_cmd;			/* -P: MAIL, RCPTs and DATA at once */
static char **rcpt_cmd;
static int nrcpt;

static void sess_start(struct sess *);

/* sess_watch - register the epoll mask the session waits for */
static void
sess_watch(struct sess *s, int events)
{
	struct epoll_event e;

	s->deadline = s->lp->t_now + IO_TIMEOUT;
	if (events == s->events)
		return;
	e.events = (uint32_t)events;
	e.data.ptr = s;
	if (epoll_ctl(s->lp->ep, EPOLL_CTL_MOD, s->fd, &e) < 0) {
		perror("smtp-load: epoll_ctl");
		exit(1);
	}
	s->events = events;
}

/* sess_end - close the connection, count a failure, start the next */
static void
sess_end(struct sess *s)
{
	if (!s->ok)
		failed++;
	if (s->ssl) {
		SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
		s->ssl = NULL;
		/* SSL_get_error() would see a stale error as the next one's */
		ERR_clear_error();
	}
	close(s->fd);
	s->fd = -1;
	s->lp->active--;
	sess_start(s);
}

/* sess_send - write cmd (and with DATA the message), then read a reply */
static void
sess_send(struct sess *s, int state, const char *cmd)
{
	s->state = state;
	s->t_step = s->lp->t_now;
	s->io = IO_WRITE;
	s->out[0].iov_base = (void *)cmd;
	s->out[0].iov_len = strlen(cmd);
	s->nout = 1;
}

/* PIPED - -P given and this session's EHLO offered PIPELINING */
#define PIPED(s)	(opt_pipe && (s)->pipe)

/* sess_expect - -P: the next reply answers a command already sent */
static void
sess_expect(struct sess *s, int state)
{
	s->state = state;
	s->io = IO_READ;
}

/* tls_want - what an OpenSSL call that returned r waits for; 0: failure */
static int
tls_want(struct sess *s, int r)
{
	switch (SSL_get_error(s->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return (EPOLLIN);
	case SSL_ERROR_WANT_WRITE:
		return (EPOLLOUT);
	default:
		return (0);
	}
}

/* sess_flush - write what is left; 1 done, 0 wait (mask in *want), -1 */
static int
sess_flush(struct sess *s, int *want)
{
	while (s->nout > 0) {
		ssize_t	 n;

		if (s->ssl && s->out[0].iov_len == 0)
			n = 0;
		else if (s->ssl) {
			int	 r = SSL_write(s->ssl, s->out[0].iov_base,
			    (int)s->out[0].iov_len);

			if (r <= 0)
				return ((*want = tls_want(s, r)) ? 0 : -1);
			n = r;
		} else if ((n = writev(s->fd, s->out, s->nout)) < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				*want = EPOLLOUT;
				return (0);
			}
			return (-1);
		}
		while (s->nout > 0 && (size_t)n >= s->out[0].iov_len) {
			n -= (ssize_t)s->out[0].iov_len;
			s->nout--;
			memmove(s->out, s->out + 1,
			    (size_t)s->nout * sizeof(s->out[0]));
		}
		if (s->nout > 0) {
			s->out[0].iov_base = (char *)s->out[0].iov_base + n;
			s->out[0].iov_len -= (size_t)n;
		}
	}
	return (1);
}

/* sess_fill - one read; 1 read something, 0 wait (mask in *want), -1 */
static int
sess_fill(struct sess *s, int *want)
{
	size_t	 room = sizeof(s->buf) - 1 - s->have;
	ssize_t	 n;

	if (room == 0)
		return (-1);
	if (s->ssl) {
		int	 r = SSL_read(s->ssl, s->buf + s->have, (int)room);

		if (r <= 0)
			return ((*want = tls_want(s, r)) ? 0 : -1);
		n = r;
	} else if ((n = read(s->fd, s->buf + s->have, room)) < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			*want = EPOLLIN;
			return (0);
		}
		return (-1);
	} else if (n == 0)
		return (-1);
	s->have += (size_t)n;
	return (1);
}

/* sess_reply - a complete reply in buf: its code, or -1 for not yet */
static int
sess_reply(struct sess *s)
{
	char	*line = s->buf, *nl;

	/* look for a final line "ddd " in what we have */
	while ((nl = memchr(line, '\n', s->have - (size_t)(line - s->buf)))) {
		if ((s->state == S_EHLO || s->state == S_EHLO2)
		    && nl - line >= 14 && strncasecmp(line + 4, "PIPELINING",
		    10) == 0)
			s->pipe = 1;
		if (nl - line >= 3 && line[3] != '-') {
			int	 code = atoi(line);
			size_t	 used = (size_t)(nl + 1 - s->buf);

			memmove(s->buf, nl + 1, s->have - used);
			s->have -= used;
			return (code);
		}
		line = nl + 1;
	}
	return (-1);
}

/* sess_next - act on the reply code to the current state; 0 to stop */
static int
sess_next(struct sess *s, int code)
{
	s->lp->step_sum[s->state] += s->lp->t_now - s->t_step;
	s->lp->step_n[s->state]++;
	switch (s->state) {
	case S_GREET:
		if (code != 220)
			break;
		sess_send(s, S_EHLO, "EHLO load.example.net\r\n");
		return (1);
	case S_EHLO:
	case S_EHLO2:
		if (code != 250)
			break;
		if (s->state == S_EHLO && opt_tls)
			sess_send(s, S_STARTTLS, "STARTTLS\r\n");
		else if (PIPED(s))
			sess_send(s, S_MAIL, pipe_cmd);
		else
			sess_send(s, S_MAIL, mail_cmd);
		return (1);
	case S_STARTTLS:
		if (code != 220 || s->have != 0)
			break;
		s->pipe = 0;			/* the EHLO after TLS says again */
		if ((s->ssl = SSL_new(tls_ctx)) == NULL
		    || SSL_set_fd(s->ssl, s->fd) != 1)
			break;
		s->io = IO_HANDSHAKE;
		return (1);
	case S_MAIL:
	case S_RCPT:
		if (code != 250)
			break;
		s->rcpt = s->state == S_MAIL ? 0 : s->rcpt + 1;
		if (s->rcpt < nrcpt && PIPED(s))
			sess_expect(s, S_RCPT);
		else if (s->rcpt < nrcpt)
			sess_send(s, S_RCPT, rcpt_cmd[s->rcpt]);
		else if (PIPED(s))
			sess_expect(s, S_DATA);
		else
			sess_send(s, S_DATA, "DATA\r\n");
		return (1);
	case S_DATA:
		if (code != 354)
			break;
		snprintf(s->hdr, sizeof(s->hdr), "From: <%s>\r\nTo: <%s>\r\n"
		    "Subject: bench %ld\r\n"
		    "Message-ID: <bench.%ld@smtp-load>\r\n\r\n",
		    opt_from, opt_rcpt, s->id, s->id);
		sess_send(s, S_DOT, s->hdr);
		s->out[1].iov_base = body;
		s->out[1].iov_len = strlen(body);
		/* -P: QUIT goes with the dot, as Postfix's client sends it */
		s->out[2].iov_base = (void *)(PIPED(s) ?
		    ".\r\nQUIT\r\n" : ".\r\n");
		s->out[2].iov_len = strlen(s->out[2].iov_base);
		s->nout = 3;
		return (1);
	case S_DOT:
		if (code != 250)
			break;
		s->ok = 1;
		accepted++;
		if (opt_acklog) {
			fprintf(opt_acklog, "%ld\n", s->id);
			fflush(opt_acklog);
		}
		if (PIPED(s))
			sess_expect(s, S_QUIT);
		else
			sess_send(s, S_QUIT, "QUIT\r\n");
		return (1);
	case S_QUIT:
		break;
	}
	sess_end(s);
	return (0);
}

/* sess_io - make progress; ev: called for an epoll event on the fd */
static void
sess_io(struct sess *s, int ev)
{
	int	 want = EPOLLIN, r, code;

	for (;;) {
		switch (s->io) {
		case IO_WRITE:
			if ((r = sess_flush(s, &want)) < 0)
				goto fail;
			if (r == 0)
				goto wait;
			/* the reply is not there yet: no read before epoll */
			s->io = IO_READ;
			ev = 0;
			break;
		case IO_HANDSHAKE:
			if ((r = SSL_connect(s->ssl)) != 1) {
				if ((want = tls_want(s, r)) == 0)
					goto fail;
				goto wait;
			}
			sess_send(s, S_EHLO2, "EHLO load.example.net\r\n");
			break;
		case IO_READ:
			if ((code = sess_reply(s)) < 0) {
				/* one read per event; OpenSSL's buffer too */
				if (!ev && (s->ssl == NULL
				    || SSL_pending(s->ssl) == 0)) {
					want = EPOLLIN;
					goto wait;
				}
				ev = 0;
				if ((r = sess_fill(s, &want)) < 0)
					goto fail;
				if (r == 0)
					goto wait;
				break;
			}
			if (!sess_next(s, code))
				return;
			break;
		}
	}
wait:
	sess_watch(s, want);
	return;
fail:
	sess_end(s);
}

/* sess_start - the next message on a new connection, if any is left */
static void
sess_start(struct sess *s)
{
	struct epoll_event e;

	while ((s->id = atomic_fetch_add(&next_msg, 1)) < opt_count) {
		s->ok = 0;
		s->pipe = 0;
		s->have = 0;
		s->nout = 0;
		if ((s->fd = dial(s->src)) < 0) {
			failed++;
			continue;
		}
		e.events = EPOLLIN;
		e.data.ptr = s;
		if (epoll_ctl(s->lp->ep, EPOLL_CTL_ADD, s->fd, &e) < 0) {
			perror("smtp-load: epoll_ctl");
			exit(1);
		}
		s->events = EPOLLIN;
		s->state = S_GREET;
		s->t_step = s->lp->t_now;
		s->io = IO_READ;
		s->deadline = s->lp->t_now + IO_TIMEOUT;
		s->lp->active++;
		return;
	}
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

/* send_loop - one thread: its sessions until no message is left */
static void *
send_loop(void *arg)
{
	struct loop *lp = arg;
	double	 last_sweep;
	int	 i;

	last_sweep = lp->t_now = now();
	for (i = lp->first; i < lp->first + lp->count; i++)
		sess_start(&sessions[i]);
	while (lp->active > 0) {
		struct epoll_event ev[64];
		int	 n, j;

		n = epoll_wait(lp->ep, ev, 64, 1000);
		lp->t_now = now();
		for (j = 0; j < n; j++)
			sess_io(ev[j].data.ptr, 1);
		if (lp->t_now - last_sweep >= 1) {
			/* a server that stops answering fails the session */
			last_sweep = lp->t_now;
			for (i = lp->first; i < lp->first + lp->count; i++)
				if (sessions[i].fd >= 0
				    && lp->t_now > sessions[i].deadline)
					sess_end(&sessions[i]);
		}
	}
	return (NULL);
}

/*
 * print_steps - SMTP_LOAD_STEPS set: the mean wait for each reply, from
 * the command (the connect for the greeting) to the reply, as the loop
 * saw them (its clock is read once per epoll_wait)
 */
static void
print_steps(const struct loop *loops, int nloops)
{
	static const char *name[9] = { "greet", "ehlo", "starttls", "ehlo2",
	    "mail", "rcpt", "data", "dot", "quit" };
	double	 sum;
	long	 n;
	int	 i, j;

	printf("steps (ms, mean):");
	for (j = 0; j < 9; j++) {
		for (sum = 0, n = 0, i = 0; i < nloops; i++) {
			sum += loops[i].step_sum[j];
			n += loops[i].step_n[j];
		}
		if (n > 0)
			printf(" %s %.3f", name[j], 1000 * sum / (double)n);
	}
	printf("\n");
}

/* run_send - the throughput benchmark */
static int
run_send(void)
{
	struct loop *loops;
	char	 list[400], *r, *save = NULL;
	double	 t0, dt;
	size_t	 len;
	int	 i, nloops, first = 0;

	make_body();
	if (opt_tls) {
		if ((tls_ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
			ERR_print_errors_fp(stderr);
			return (1);
		}
		SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
		    | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	}
	snprintf(mail_cmd, sizeof(mail_cmd), "MAIL FROM:<%s>\r\n", opt_from);
	snprintf(list, sizeof(list), "%s", opt_rcpt);
	rcpt_cmd = calloc(sizeof(list) / 2 + 1, sizeof(*rcpt_cmd));
	for (r = strtok_r(list, ",", &save); r;
	    r = strtok_r(NULL, ",", &save)) {
		rcpt_cmd[nrcpt] = malloc(strlen(r) + 16);
		sprintf(rcpt_cmd[nrcpt++], "RCPT TO:<%s>\r\n", r);
	}
	for (len = strlen(mail_cmd) + sizeof("DATA\r\n"), i = 0; i < nrcpt;
	    i++)
		len += strlen(rcpt_cmd[i]);
	pipe_cmd = malloc(len);
	strcpy(pipe_cmd, mail_cmd);
	for (i = 0; i < nrcpt; i++)
		strcat(pipe_cmd, rcpt_cmd[i]);
	strcat(pipe_cmd, "DATA\r\n");
	nloops = opt_loops < opt_sessions ? opt_loops : opt_sessions;
	loops = calloc((size_t)nloops, sizeof(*loops));
	sessions = calloc((size_t)opt_sessions, sizeof(*sessions));
	for (i = 0; i < nloops; i++) {
		if ((loops[i].ep = epoll_create1(0)) < 0) {
			perror("smtp-load: epoll_create1");
			return (1);
		}
		loops[i].first = first;
		loops[i].count = opt_sessions / nloops
		    + (i < opt_sessions % nloops);
		for (; first < loops[i].first + loops[i].count; first++) {
			sessions[first].fd = -1;
			sessions[first].src = first;
			sessions[first].lp = &loops[i];
		}
	}
	t0 = now();
	for (i = 0; i < nloops; i++)
		pthread_create(&loops[i].tid, NULL, send_loop, &loops[i]);
	for (i = 0; i < nloops; i++)
		pthread_join(loops[i].tid, NULL);
	dt = now() - t0;
	printf("accepted %ld in %.2f seconds: %.0f msg/s (%ld failed)\n",
	    (long)accepted, dt, accepted / dt, (long)failed);
	if (getenv("SMTP_LOAD_STEPS"))
		print_steps(loops, nloops);
	return (accepted ? 0 : 1);
}

static atomic_int stop;

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
			if ((c->fd = dial(next)) < 0) {
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

/* sink_conn - one sink session: its input and whether in DATA */
struct sink_conn {
	int	 fd;
	int	 data;			/* between 354 and the dot */
	int	 midline;		/* buf starts inside a line */
	size_t	 have;
	char	 buf[4096];
};

static atomic_long sink_msgs;
static atomic_long sink_conns;
static int sink_lfd;

/* sink_line - one input line; append the reply, 1 after QUIT */
static int
sink_line(struct sink_conn *c, const char *p, size_t len, char *out,
	  size_t *olen)
{
	const char *r = NULL;
	int	 quit = 0;

	if (c->midline) {
		c->midline = 0;
		if (c->data)
			return (0);
		r = "500 5.5.2 line too long\r\n";
	} else if (c->data) {
		if (p[0] != '.' || (len != 2 && !(len == 3 && p[1] == '\r')))
			return (0);
		c->data = 0;
		sink_msgs++;
		r = "250 2.0.0 Ok: queued\r\n";
	} else if (len >= 4 && (strncasecmp(p, "EHLO", 4) == 0
	    || strncasecmp(p, "HELO", 4) == 0))
		r = "250 sink\r\n";
	else if (len >= 4 && (strncasecmp(p, "MAIL", 4) == 0
	    || strncasecmp(p, "RCPT", 4) == 0
	    || strncasecmp(p, "RSET", 4) == 0
	    || strncasecmp(p, "NOOP", 4) == 0))
		r = "250 2.0.0 Ok\r\n";
	else if (len >= 4 && strncasecmp(p, "DATA", 4) == 0) {
		c->data = 1;
		r = "354 End data with <CR><LF>.<CR><LF>\r\n";
	} else if (len >= 4 && strncasecmp(p, "QUIT", 4) == 0) {
		quit = 1;
		r = "221 2.0.0 Bye\r\n";
	} else
		r = "502 5.5.2 Error: command not recognized\r\n";
	/* replies are short; a client that does not read loses them */
	if (*olen + strlen(r) < 1024) {
		memcpy(out + *olen, r, strlen(r));
		*olen += strlen(r);
	}
	return (quit);
}

/* sink_read - what came on one connection; 0 when it is over */
static int
sink_read(struct sink_conn *c)
{
	char	 out[1024], *p, *nl;
	size_t	 olen = 0;
	ssize_t	 n;
	int	 quit = 0;

	n = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return (1);
	if (n <= 0)
		return (0);
	c->have += (size_t)n;
	p = c->buf;
	while (!quit && (nl = memchr(p, '\n', c->have
	    - (size_t)(p - c->buf)))) {
		quit = sink_line(c, p, (size_t)(nl + 1 - p), out, &olen);
		p = nl + 1;
	}
	c->have -= (size_t)(p - c->buf);
	memmove(c->buf, p, c->have);
	if (c->have == sizeof(c->buf)) {
		/* a line longer than buf: drop what we have of it */
		c->have = 0;
		c->midline = 1;
	}
	if (olen > 0 && write(c->fd, out, olen) != (ssize_t)olen)
		return (0);
	return (!quit);
}

/* sink_loop - one thread: accept and serve until SIGTERM */
static void *
sink_loop(void *arg)
{
	struct epoll_event e;
	int	 ep;

	(void)arg;
	if ((ep = epoll_create1(0)) < 0) {
		perror("smtp-load: epoll_create1");
		exit(1);
	}
	/* every thread waits on the listener; one is woken per connection */
	e.events = EPOLLIN | EPOLLEXCLUSIVE;
	e.data.ptr = NULL;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sink_lfd, &e) < 0) {
		perror("smtp-load: epoll_ctl");
		exit(1);
	}
	while (!stop) {
		struct epoll_event ev[64];
		int	 n, j;

		n = epoll_wait(ep, ev, 64, 1000);
		for (j = 0; j < n; j++) {
			struct sink_conn *c = ev[j].data.ptr;
			int	 fd;

			if (c != NULL) {
				if (!sink_read(c)) {
					close(c->fd);
					free(c);
				}
				continue;
			}
			if ((fd = accept4(sink_lfd, NULL, NULL,
			    SOCK_NONBLOCK)) < 0)
				continue;
			if ((c = calloc(1, sizeof(*c))) != NULL)
				c->fd = fd;
			e.events = EPOLLIN;
			e.data.ptr = c;
			if (c == NULL || epoll_ctl(ep, EPOLL_CTL_ADD, fd,
			    &e) < 0 || write(fd, "220 sink ESMTP\r\n", 16)
			    != 16) {
				close(fd);
				free(c);
				continue;
			}
			sink_conns++;
		}
	}
	return (NULL);
}

/* run_sink - a minimal SMTP server: no disk, no checks */
static int
run_sink(void)
{
	struct sockaddr_in sin;
	pthread_t *t;
	sigset_t mask;
	int	 i, one = 1;

	if (server_addr(&sin) < 0)
		return (1);
	if ((sink_lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0
	    || setsockopt(sink_lfd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) < 0
	    || bind(sink_lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0
	    || listen(sink_lfd, 1024) < 0) {
		fprintf(stderr, "smtp-load: sink on %s:%d: %s\n", opt_addr,
		    opt_port, strerror(errno));
		return (1);
	}
	/* the threads block the signals; the main thread waits for one */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	t = calloc((size_t)opt_loops, sizeof(*t));
	for (i = 0; i < opt_loops; i++)
		pthread_create(&t[i], NULL, sink_loop, NULL);
	while (sigwait(&mask, &i) != 0)
		continue;
	stop = 1;
	for (i = 0; i < opt_loops; i++)
		pthread_join(t[i], NULL);
	printf("sink: %ld connections, %ld messages\n", (long)sink_conns,
	    (long)sink_msgs);
	free(t);
	return (0);
}

int
main(int argc, char **argv)
{
	const char *mode;
	int	 c;

	if (argc < 2) {
		fprintf(stderr,
		    "usage: smtp-load send|idle|sink -p port ...\n");
		return (1);
	}
	mode = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "a:c:f:j:k:l:n:p:Pr:s:S:t:Tw:")) != -1) {
		switch (c) {
		case 'a': opt_addr = optarg; break;
		case 'c': opt_sessions = atoi(optarg); break;
		case 'f': opt_from = optarg; break;
		case 'j': opt_loops = atoi(optarg); break;
		case 'k': opt_sources = atoi(optarg); break;
		case 'S': opt_prefix = optarg; break;
		case 'T': opt_tls = 1; break;
		case 'P': opt_pipe = 1; break;
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
	    || opt_sources <= 0 || opt_window <= 0 || opt_loops < 0)
		return (1);
	/* send: one thread measured cheapest; sink: one per core */
	if (opt_loops == 0 && strcmp(mode, "sink") == 0
	    && (opt_loops = (int)sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		opt_loops = 1;
	if (opt_loops == 0)
		opt_loops = 1;
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "send") == 0)
		return (run_send());
	if (strcmp(mode, "idle") == 0)
		return (run_idle());
	if (strcmp(mode, "sink") == 0)
		return (run_sink());
	fprintf(stderr, "smtp-load: unknown mode %s\n", mode);
	return (1);
}
