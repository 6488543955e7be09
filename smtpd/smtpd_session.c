/*
 * NAME
 *	smtpd_session - one SMTP session as an explicit state machine
 * SYNOPSIS
 *	#include "smtpd.h"
 *
 *	void	smtpd_session_init(struct event_base *base);
 *	void	smtpd_session_accept(const struct server_conn *conn);
 *	void	smtpd_session_stdin(int infd, int outfd);
 *	void	smtpd_session_fini(void);
 *
 *	void	smtpd_reply(struct smtpd_session *s, int status,
 *	    const char *arg);
 *	void	smtpd_reply_text(struct smtpd_session *s, const char *line);
 *	void	smtpd_session_check(struct smtpd_session *s, int stage,
 *	    smtpd_cont_fn *cont);
 *	void	smtpd_session_start_data(struct smtpd_session *s);
 *	void	smtpd_session_close(struct smtpd_session *s);
 *	void	smtpd_session_resume(struct smtpd_session *s);
 * DESCRIPTION
 *	Every session is a pair of bufferevents (one socket, or stdin and
 *	stdout with -S) and a small struct; one process holds thousands.
 *	States: CONNECT (the client name lookup runs, no greeting yet),
 *	CMD (reading command lines), DATA (the message, through the DATA
 *	reader), CLOSING (flushing the last reply, then free).
 *
 *	While a job runs on the worker pool (a policy check, the queue
 *	file) the session is "busy": it stops reading, so pipelined
 *	commands wait in the socket, in order, and a slow database stalls
 *	only the sessions that wait for it. Each entry point from the loop
 *	(read, job done, timer, event) ends in session_tail(), which
 *	applies the error limits, flushes the replies and frees a finished
 *	session; nothing touches a session after that.
 *
 *	A plaintext socket session reads with an event of its own into
 *	the bufferevent's input buffer, up to SESSION_READ_MAX bytes per
 *	read(), and the bufferevent only writes: libevent 2.1's bufferevent
 *	reads at most 4,096 bytes at a time, each after a FIONREAD ioctl
 *	(31 reads and 31 ioctls for a 100 KB message). STARTTLS hands
 *	reading back to the bufferevent, under the TLS filter.
 *
 *	Replies collect in a per-session buffer that exists only while it
 *	holds something. Memory per idle session: the struct, libevent's
 *	bufferevent and whatever the kernel buffers. The replies to
 *	pipelined commands go out together once the client's pipelined
 *	lines are read (session_reply_due()): one write, and one TCP
 *	segment, for MAIL, RCPT and DATA's replies, as with Postfix.
 *
 *	Error counting (Postfix): every 4xx/5xx reply counts. From
 *	smtpd_soft_error_limit on, replies are delayed by
 *	smtpd_error_sleep_time on a timer (the loop never sleeps); at
 *	smtpd_hard_error_limit the session gets "421 4.7.0" and is closed.
 *
 *	Command lines longer than line_length_limit are consumed to their
 *	end and answered "500 5.5.2 Error: line too long". A client that
 *	sends ahead without PIPELINING (before or without EHLO) is marked
 *	for reject_unauth_pipelining; with smtpd_forbid_unauth_pipelining
 *	(and after a command that must end a group: EHLO, DATA, STARTTLS,
 *	...) it gets "554 5.5.0" and is disconnected, as Postfix 3.9 does.
 *	A client that leaves 64 KB of replies unread is not read from
 *	until it catches up.
 *
 *	STARTTLS (and smtpd_tls_wrappermode) slide an OpenSSL filter
 *	bufferevent under the session (smtpd_tls.c); plaintext pipelined
 *	after STARTTLS is discarded and the session forgets HELO, the
 *	transaction and any AUTH. AUTH exchanges run on the workers
 *	(smtpd_auth.c, smtpd_sasl.c). A session is freed only from a timer
 *	callback of its own, never inside a libevent call chain.
 *
 *	smtpd_session_reset() (forget the mail transaction) has a file
 *	of its own, smtpd_session_reset.c, which the unit tests link.
 * DIAGNOSTICS
 *	Logs "connect from", "disconnect from ... commands=N", "lost
 *	connection after CMD from", "timeout after CMD from" as Postfix.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <openssl/crypto.h>

#include "addr.h"
#include "buf.h"
#include "cleanup.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "server.h"
#include "str.h"
#include "smtpd.h"
#include "smtpd_anvil.h"
#include "smtpd_check.h"
#include "smtpd_check_inline.h"
#include "smtpd_check_tls.h"
#include "smtpd_dns.h"
#include "smtpd_milter.h"
#include "smtpd_sasl.h"
#include "workq.h"
#include "xalloc.h"

/* Replies a client may leave unread before we stop reading from it. */
#define SESSION_OUT_MAX	(64 * 1024)
#define SESSION_PENDING_MAX 4096	/* replies kept for one write */

/* Bytes per read() of a plaintext session (session_raw_read). */
#define SESSION_READ_MAX	(64 * 1024)

static struct event_base *session_base;
static struct workq *session_wq;	/* policy: checks, AUTH */
static struct workq *session_qwq;	/* queue files, group commit */
static char *session_line_buf;		/* one command line, shared */
/*
 * Every session until it is freed. A session waiting for a worker when
 * the daemon exits (a check stuck on DNS) has no other reference left
 * once the pools are gone; this keeps it reachable, as every live
 * session is at exit, instead of a leak report.
 */
static struct smtpd_session *session_live;

static void session_tail(struct smtpd_session *);
static void session_reading(struct smtpd_session *, int);
static void session_rev_update(struct smtpd_session *);
static size_t session_input_max(void);
static void session_input(struct smtpd_session *);
static void session_tls_done(struct smtpd_session *, short);
static void session_begin(struct smtpd_session *);
static int session_check_needed(int);

/* smtpd_session_worker - policy thread: a checker (and SASL backend) */
void   *
smtpd_session_worker(void)
{
	struct smtpd_worker *w = xcalloc(1, sizeof(*w));

	w->checker = smtpd_check_new();
	if (smtpd_params.sasl_enable)
		w->sasl = smtpd_sasl_backend_new();
	return (w);
}

/* session_queue_worker - queue thread: cleanup's maps */
static void *
session_queue_worker(void)
{
	struct smtpd_worker *w = xcalloc(1, sizeof(*w));

	w->cleanup = cleanup_maps_new();
	return (w);
}

/* session_worker_free - at exit */
static void
session_worker_free(void *ctx)
{
	struct smtpd_worker *w = ctx;

	if (w->checker)
		smtpd_check_free(w->checker);
	if (w->cleanup)
		cleanup_maps_free(w->cleanup);
	if (w->sasl)
		smtpd_sasl_backend_free(w->sasl);
	free(w);
}

/*
 * smtpd_session_init - two worker pools and shared buffers. Policy
 * lookups (maps, MySQL, DNS, SASL) and queue file work (cleanup, the
 * group commit) have pools of their own, so a slow database cannot
 * hold up the messages that are already accepted, nor a slow disk the
 * lookups.
 */
void
smtpd_session_init(struct event_base *base)
{
	session_base = base;
	session_line_buf = xmalloc(smtpd_params.line_limit + 2);
	session_wq = workq_new(base, smtpd_params.workers,
	    smtpd_session_worker, session_worker_free);
	/* Checks stuck on a slow DNS or database server: more threads. */
	workq_set_max(session_wq, smtpd_params.workers_max);
	session_qwq = workq_new(base, smtpd_params.workers,
	    session_queue_worker, session_worker_free);
	smtpd_dns_init(base, smtpd_params.dns_workers);
	smtpd_queue_init(base);
	smtpd_milter_init();
	/* A slow milter holds a queue thread per message: more threads. */
	if (smtpd_milter_active())
		workq_set_max(session_qwq, smtpd_params.workers_max);
}

/* smtpd_session_fini - stop the workers (exit only) */
void
smtpd_session_fini(void)
{
	workq_free(session_wq);
	workq_free(session_qwq);
	session_wq = session_qwq = NULL;
	smtpd_queue_fini();
	smtpd_dns_fini();
	free(session_line_buf);
	session_line_buf = NULL;
}

/* session_note - a reply: count errors and successes, note, log */
static void
session_note(struct smtpd_session *s, const char *data, size_t len)
{
	int	 code = 0;

	if (len >= 3 && data[0] >= '1' && data[0] <= '5')
		code = (data[0] - '0') * 100 + (data[1] - '0') * 10
		    + (data[2] - '0');
	smtpd_notify_reply(s, data, len);
	if (code >= 400)
		s->errors++;
	else if (code >= 200 && code < 300 && s->cnt_ok[s->cur_verb] < UINT_MAX)
		s->cnt_ok[s->cur_verb]++;
	if (log_verbose)
		log_debug("> %s: %s", s->namaddr, log_safen(data, len - 2));
}

/* session_queue - reply bytes to send (none still makes a reply) */
static void
session_queue(struct smtpd_session *s, const char *data, size_t len)
{
	if (s->pending == NULL)
		s->pending = buf_new(len + 64);
	buf_append(s->pending, data, len);
}

/* session_put - a reply: noted and queued */
static void
session_put(struct smtpd_session *s, const char *data, size_t len)
{
	session_note(s, data, len);
	session_queue(s, data, len);
}

/* smtpd_reply - a reply from the table (lib/reply.c) */
void
smtpd_reply(struct smtpd_session *s, int status, const char *arg)
{
	struct buf *b = buf_new(128);

	reply_build(b, status, arg);
	session_put(s, BUF_STR(b), BUF_LEN(b));
	buf_free(b);
}

/* session_plain_fd - the plaintext socket with nothing buffered for it,
 * which a reply may go to straight, or -1 (TLS, output waiting) */
static evutil_socket_t
session_plain_fd(const struct smtpd_session *s)
{
	if (bufferevent_get_underlying(s->out) != NULL
	    || evbuffer_get_length(bufferevent_get_output(s->out)) != 0)
		return (-1);
	return (bufferevent_getfd(s->out));
}

/*
 * smtpd_reply_sent - smtpd_reply() for a reply whose first "sent" bytes
 * a worker wrote to smtpd_session_direct_fd() already: counted, noted
 * and logged as any reply; only the rest is sent
 */
void
smtpd_reply_sent(struct smtpd_session *s, int status, const char *arg,
    size_t sent)
{
	struct buf *b = buf_new(128);

	reply_build(b, status, arg);
	if (sent > BUF_LEN(b))
		sent = BUF_LEN(b);
	session_note(s, BUF_STR(b), BUF_LEN(b));
	session_queue(s, BUF_STR(b) + sent, BUF_LEN(b) - sent);
	buf_free(b);
}

/*
 * smtpd_session_direct_fd - on the loop, for a session made busy: the
 * socket a worker may write the session's next reply to itself, or -1.
 * Only a plaintext socket with nothing queued before that reply; a busy
 * session gets no other reply until its job is done, so the worker's
 * bytes go out in order.
 */
int
smtpd_session_direct_fd(const struct smtpd_session *s)
{
	if (s->dead || s->out == NULL || s->pending != NULL)
		return (-1);
	return (session_plain_fd(s));
}

/* smtpd_reply_custom - a table status with its own text */
void
smtpd_reply_custom(struct smtpd_session *s, int status, const char *text)
{
	struct buf *b = buf_new(128);

	reply_custom(b, status, text);
	session_put(s, BUF_STR(b), BUF_LEN(b));
	buf_free(b);
}

/* smtpd_reply_multi - a multi-line reply (EHLO) */
void
smtpd_reply_multi(struct smtpd_session *s, int code,
    const char *const *lines, size_t n)
{
	struct buf *b = buf_new(256);

	reply_multiline(b, code, lines, n);
	session_put(s, BUF_STR(b), BUF_LEN(b));
	buf_free(b);
}

/* smtpd_reply_text - a complete reply line made elsewhere (policy) */
void
smtpd_reply_text(struct smtpd_session *s, const char *line)
{
	struct buf *b;

	if (line == NULL || strlen(line) < 4) {
		log_warn("%s: empty policy reply; answering 451",
		    s->namaddr);
		smtpd_reply_custom(s, REPLY_TEMP, "4.3.5 Server configuration"
		    " error");
		return;
	}
	b = buf_new(strlen(line) + 2);
	buf_puts(b, line);
	buf_puts(b, "\r\n");
	session_put(s, BUF_STR(b), BUF_LEN(b));
	buf_free(b);
}

/* session_write_all - -S: blocking write to stdout (file, pipe, tty) */
static int
session_write_all(int fd, const struct buf *b)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < BUF_LEN(b)) {
		if ((n = write(fd, BUF_STR(b) + off, BUF_LEN(b) - off)) < 0) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		off += n;
	}
	return (0);
}

/*
 * session_send - replies to the client: straight to a plaintext socket
 * when nothing waits before them (no write event to arm and disarm, no
 * loop turn: two epoll_ctl and an epoll_wait less per reply); the rest,
 * and everything under TLS, through the bufferevent.
 */
static void
session_send(struct smtpd_session *s, const char *p, size_t len)
{
	evutil_socket_t fd;
	ssize_t	 n = 0;

	if (len == 0)
		return;			/* smtpd_reply_sent(): all sent */
	if ((fd = session_plain_fd(s)) >= 0
	    && (n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0)
		n = 0;			/* the bufferevent finds out why */
	if ((size_t)n < len)
		bufferevent_write(s->out, p + n, len - (size_t)n);
}

/* session_flush - move queued replies to the connection */
static void
session_flush(struct smtpd_session *s)
{
	if (s->pending == NULL)
		return;
	if (!s->dead && s->out)
		session_send(s, BUF_STR(s->pending), BUF_LEN(s->pending));
	else if (!s->dead && session_write_all(s->outfd, s->pending) < 0)
		s->dead = 1;
	buf_free(s->pending);
	s->pending = NULL;
}

/*
 * session_reply_due - send the replies so far, or keep them for the
 * replies to the commands the client pipelined behind this one, as
 * Postfix does: one write, one TCP segment, for MAIL, RCPT and DATA's
 * replies. Written one at a time, the second would wait in the kernel
 * (Nagle) for the client's delayed ACK of the first, some 40 ms each
 * group. They go when no command line is left in the input, when the
 * session leaves the command state (DATA's 354), or once
 * SESSION_PENDING_MAX bytes collected; a check on the workers keeps
 * them until its reply joins them (the client waits for all of them),
 * and every exit from the loop flushes (session_tail()).
 */
static int
session_reply_due(struct smtpd_session *s, struct evbuffer *in)
{
	return (s->state != SMTPD_ST_CMD || s->pending == NULL
	    || BUF_LEN(s->pending) >= SESSION_PENDING_MAX
	    || evbuffer_get_length(in) == 0);
}

/* session_counters - " ehlo=1 mail=1 ... commands=N" (Postfix order) */
static void
session_counters(struct smtpd_session *s, struct buf *b)
{
	static const int order[] = {SMTPD_VERB_HELO, SMTPD_VERB_EHLO,
		SMTPD_VERB_STARTTLS, SMTPD_VERB_AUTH, SMTPD_VERB_MAIL,
		SMTPD_VERB_RCPT, SMTPD_VERB_DATA, SMTPD_VERB_BDAT,
		SMTPD_VERB_RSET,
		SMTPD_VERB_NOOP, SMTPD_VERB_VRFY, SMTPD_VERB_ETRN,
		SMTPD_VERB_QUIT, SMTPD_VERB_HELP, SMTPD_VERB_UNKNOWN};
	unsigned long ok = 0, total = 0;
	size_t	 i;
	int	 v;
	char	 name[16];

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		v = order[i];
		if (s->cnt_total[v] == 0)
			continue;
		snprintf(name, sizeof(name), "%s", smtpd_cmd_name(v));
		str_lower(name);
		if (s->cnt_ok[v] == s->cnt_total[v])
			buf_printf(b, " %s=%u", name, s->cnt_total[v]);
		else
			buf_printf(b, " %s=%u/%u", name, s->cnt_ok[v],
			    s->cnt_total[v]);
		ok += s->cnt_ok[v] > s->cnt_total[v] ? s->cnt_total[v]
		    : s->cnt_ok[v];
		total += s->cnt_total[v];
	}
	if (ok == total)
		buf_printf(b, " commands=%lu", total);
	else
		buf_printf(b, " commands=%lu/%lu", ok, total);
}

/* session_free - log the disconnect and release everything */
static void
session_free(struct smtpd_session *s)
{
	struct buf *b = buf_new(200);
	int	 stdin_mode = s->stdin_mode;

	smtpd_anvil_disconnect(s);
	if (s->greeted) {
		session_counters(s, b);
		log_info("disconnect from %s%s", s->namaddr, BUF_STR(b));
	}
	buf_free(b);
	smtpd_notify_end(s);
	smtpd_session_reset(s);
	smtpd_milter_end(s);
	free(s->helo);
	free(s->denied);
	free(s->tls_info);
	smtpd_auth_reset(s);
	free(s->auth_mech);
	free(s->auth_text);
	free(s->pend_addr);
	free(s->pend_orcpt);
	buf_free(s->pending);
	buf_free(s->job_reply);
	if (s->timer)
		event_free(s->timer);
	if (s->out == NULL)
		close(s->outfd);
	if (s->in && s->tls)
		smtpd_tls_end(s->in, s->last_verb == SMTPD_VERB_QUIT);
	if (s->rev)
		event_free(s->rev);
	if (s->in)
		bufferevent_free(s->in);
	if (s->live_prev)
		s->live_prev->live_next = s->live_next;
	else
		session_live = s->live_next;
	if (s->live_next)
		s->live_next->live_prev = s->live_prev;
	free(s);
	server_session_end();
	if (stdin_mode)
		server_stop();
}

/* smtpd_session_close - send what is queued, then end the session */
void
smtpd_session_close(struct smtpd_session *s)
{
	s->state = SMTPD_ST_CLOSING;
	if (s->in)
		session_reading(s, 0);
}

/* session_lost - the client went away (EOF, error) or timed out */
static void
session_lost(struct smtpd_session *s, int timeout, int error)
{
	const char *after = smtpd_cmd_name(s->last_verb);

	if (s->state == SMTPD_ST_CONNECT || s->last_verb < 0)
		after = "CONNECT";
	else if (s->state == SMTPD_ST_DATA)
		after = "DATA";
	if (timeout) {
		log_info("timeout after %s from %s", after, s->namaddr);
		smtpd_reply(s, REPLY_TIMEOUT, smtpd_params.myhostname);
	} else if (!s->quit)
		log_info("lost connection after %s from %s", after,
		    s->namaddr);
	if (error) {
		s->dead = 1;
		buf_free(s->pending);
		s->pending = NULL;
	}
	smtpd_session_close(s);
}

/* session_check_eof - the client closed its side and nothing is left */
static void
session_check_eof(struct smtpd_session *s)
{
	if (s->eof && !s->busy && !s->out_wait
	    && s->state != SMTPD_ST_CLOSING)
		session_lost(s, 0, 0);
}

/* session_event - EOF, error or timeout on a bufferevent */
static void
session_event(struct bufferevent *bev, short what, void *ctx)
{
	struct smtpd_session *s = ctx;

	if (s->tls_handshake) {
		session_tls_done(s, what);
	} else if (s->state == SMTPD_ST_CLOSING) {
		s->dead = 1;
	} else if (s->busy && !s->sleeping && (what & BEV_EVENT_READING)) {
		/*
		 * Reading stays on while a job runs (no epoll_ctl per job):
		 * a read timeout waits for the job (resume reads on), EOF or
		 * a read error ends the session once the job has answered.
		 */
		if (!(what & BEV_EVENT_TIMEOUT))
			s->eof = 1;
	} else if (what & BEV_EVENT_TIMEOUT) {
		session_lost(s, 1, 0);
	} else if (what & BEV_EVENT_ERROR) {
		session_lost(s, 0, 1);
	} else if (what & BEV_EVENT_EOF) {
		/* Pipelined commands before the EOF still get answers. */
		s->eof = 1;
		session_input(s);
	}
	session_tail(s);
}

/* session_read - data arrived */
static void
session_read(struct bufferevent *bev, void *ctx)
{
	struct smtpd_session *s = ctx;

	session_input(s);
	session_tail(s);
}

/* session_rev_update - rev added iff reading is wanted and not paused */
static void
session_rev_update(struct smtpd_session *s)
{
	struct timeval tv = {smtpd_params.timeout, 0};
	int	 on = s->rev_want && !s->rev_full;

	if (on && !s->rev_on)
		event_add(s->rev, &tv);
	else if (!on && s->rev_on)
		event_del(s->rev);
	s->rev_on = on;
}

/* session_reading - start or stop reading from the client */
static void
session_reading(struct smtpd_session *s, int on)
{
	if (s->rev == NULL) {
		if (on)
			bufferevent_enable(s->in, EV_READ);
		else
			bufferevent_disable(s->in, EV_READ);
		return;
	}
	s->rev_want = on;
	session_rev_update(s);
}

/* session_input_max - read no more while this much input waits */
static size_t
session_input_max(void)
{
	return ((size_t)smtpd_params.line_limit + 65536);
}

/*
 * session_raw_read - a plaintext socket is readable (or timed out): one
 * read() of up to SESSION_READ_MAX bytes into the bufferevent's input,
 * then on as session_read() and session_event() do. The read timeout
 * starts again with every callback (EV_PERSIST with a timeout).
 */
static void
session_raw_read(evutil_socket_t fd, short what, void *ctx)
{
	struct smtpd_session *s = ctx;
	struct evbuffer *in = bufferevent_get_input(s->in);
	struct evbuffer_iovec v[2];
	struct iovec iov[2];
	size_t	 have = evbuffer_get_length(in), max = session_input_max();
	ssize_t	 n;
	int	 nv, i;

	if (what & EV_TIMEOUT) {
		s->rev_want = 0;
		session_rev_update(s);
		session_event(s->in, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, s);
		return;
	}
	if (have >= max) {
		/* as the bufferevent's high watermark: until it is drained */
		s->rev_full = 1;
		session_rev_update(s);
		return;
	}
	/* a socket bufferevent keeps its input's end frozen but to read */
	evbuffer_unfreeze(in, 0);
	nv = evbuffer_reserve_space(in, (ev_ssize_t)(max - have <
	    SESSION_READ_MAX ? max - have : SESSION_READ_MAX), v, 2);
	for (i = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	if (nv <= 0) {
		errno = ENOMEM;
		n = -1;
	} else
		while ((n = readv(fd, iov, nv)) < 0 && errno == EINTR)
			;
	if (n <= 0) {
		if (nv > 0)
			evbuffer_commit_space(in, v, 0);
		evbuffer_freeze(in, 0);
		if (n < 0 && errno == EAGAIN)
			return;
		s->rev_want = 0;
		session_rev_update(s);
		session_event(s->in, BEV_EVENT_READING | (n == 0 ?
		    BEV_EVENT_EOF : BEV_EVENT_ERROR), s);
		return;
	}
	if ((size_t)n <= v[0].iov_len) {
		v[0].iov_len = (size_t)n;
		nv = 1;
	} else
		v[1].iov_len = (size_t)n - v[0].iov_len;
	evbuffer_commit_space(in, v, nv);
	evbuffer_freeze(in, 0);
	session_input(s);
	session_tail(s);
}

/* session_written - the output buffer drained */
static void
session_written(struct bufferevent *bev, void *ctx)
{
	struct smtpd_session *s = ctx;

	if (s->state == SMTPD_ST_CLOSING)
		session_tail(s);
	else if (s->out_wait && !s->busy) {
		s->out_wait = 0;
		smtpd_session_resume(s);
	}
}

/* session_sleep_done - the error delay is over */
static void
session_sleep_done(evutil_socket_t fd, short what, void *ctx)
{
	struct smtpd_session *s = ctx;

	s->sleeping = 0;
	s->busy = 0;
	session_flush(s);
	smtpd_session_resume(s);
}

/* smtpd_session_resume - continue with buffered input after a wait */
void
smtpd_session_resume(struct smtpd_session *s)
{
	if (s->state == SMTPD_ST_CMD || s->state == SMTPD_ST_DATA
	    || s->state == SMTPD_ST_BDAT) {
		if (!s->dead)
			session_reading(s, 1);
		session_input(s);
	}
	session_tail(s);
}

/* session_limits - after a command: hard limit, soft limit delay */
static void
session_limits(struct smtpd_session *s)
{
	struct timeval tv;

	if (s->state == SMTPD_ST_CLOSING || s->busy || s->pending == NULL)
		return;
	if (s->errors >= smtpd_params.hard_errors) {
		log_info("too many errors after %s from %s",
		    smtpd_cmd_name(s->last_verb), s->namaddr);
		smtpd_reply(s, REPLY_TOO_MANY_ERR, smtpd_params.myhostname);
		smtpd_session_close(s);
		return;
	}
	if (s->errors >= smtpd_params.soft_errors
	    && smtpd_params.error_sleep > 0) {
		if (s->timer == NULL)
			s->timer = evtimer_new(session_base, session_sleep_done,
			    s);
		tv.tv_sec = smtpd_params.error_sleep;
		tv.tv_usec = 0;
		evtimer_add(s->timer, &tv);
		s->busy = 1;
		s->sleeping = 1;
		session_reading(s, 0);
	}
}

/* session_unsent - reply bytes not yet handed to the kernel */
static size_t
session_unsent(struct smtpd_session *s)
{
	struct bufferevent *under;
	size_t	 n;

	if (s->out == NULL)
		return (0);
	n = evbuffer_get_length(bufferevent_get_output(s->out));
	/* Under TLS the records wait in the plaintext bufferevent. */
	if ((under = bufferevent_get_underlying(s->out)) != NULL)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return (n);
}

/* session_close_poll - TLS: look again whether the last reply left */
static void
session_close_poll(evutil_socket_t fd, short what, void *ctx)
{
	session_tail(ctx);
}

/* session_close_later - TLS: the filter has no "underlying drained" */
static void
session_close_later(struct smtpd_session *s)
{
	struct timeval tv = {0, 20000};

	if (s->timer)
		event_free(s->timer);
	s->timer = evtimer_new(session_base, session_close_poll, s);
	evtimer_add(s->timer, &tv);
}

/* session_free_cb - the top-level free (no caller holds the session) */
static void
session_free_cb(evutil_socket_t fd, short what, void *ctx)
{
	session_free(ctx);
}

/*
 * session_free_later - free from the loop, never from inside a callback
 * chain: libevent may call back into the session from within its own
 * calls (a filter finding EOF while we drain input, say).
 */
static void
session_free_later(struct smtpd_session *s)
{
	struct timeval tv = {0, 0};

	if (s->freeing)
		return;
	s->freeing = 1;
	if (s->in)
		bufferevent_setcb(s->in, NULL, NULL, NULL, NULL);
	if (s->rev)
		session_reading(s, 0);
	if (s->timer)
		event_free(s->timer);
	s->timer = evtimer_new(session_base, session_free_cb, s);
	evtimer_add(s->timer, &tv);
}

/* session_tail - end of every loop callback: limits, flush, free */
static void
session_tail(struct smtpd_session *s)
{
	/* input paused at its high mark, drained since: read again */
	if (s->rev && s->rev_full && evbuffer_get_length(
	    bufferevent_get_input(s->in)) < session_input_max()) {
		s->rev_full = 0;
		session_rev_update(s);
	}
	if (s->busy || s->freeing)
		return;
	session_limits(s);
	if (s->sleeping)
		return;
	session_flush(s);
	if (s->state != SMTPD_ST_CLOSING)
		return;
	if (s->dead || session_unsent(s) == 0)
		session_free_later(s);
	else if (s->tls)
		session_close_later(s);
}

/* session_pipe_check - the client sent more before our reply */
static int
session_pipe_check(struct smtpd_session *s, struct evbuffer *in,
    const char *line, size_t len)
{
	const char *arg;
	unsigned char *next;
	size_t	 n;
	int	 verb = smtpd_cmd_parse(line, len, &arg);

	if (s->esmtp && !smtpd_cmd_last(verb))
		return (0);			/* PIPELINING as agreed */
	if (!s->esmtp)
		s->cs.unauth_pipelining = 1;	/* reject_unauth_pipelining */
	if (!smtpd_params.forbid_unauth_pipe || s->stdin_mode)
		return (0);
	n = evbuffer_get_length(in);
	next = evbuffer_pullup(in, n > 100 ? 100 : n);
	/* after AUTH the next line is a SASL response: never logged */
	n = verb == SMTPD_VERB_AUTH ? 0 : smtpd_cmd_log_len((const char *)
	    next, n > 100 ? 100 : n);
	log_info("improper command pipelining after %s from %s: %s",
	    smtpd_cmd_name(verb), s->namaddr, verb == SMTPD_VERB_AUTH ?
	    "(AUTH data not logged)" : log_safen((const char *)next, n));
	s->cur_verb = s->last_verb = verb;
	s->cnt_total[verb]++;
	smtpd_reply(s, REPLY_SYNC, NULL);
	smtpd_session_close(s);
	return (-1);
}

/* session_line - take one command line from the input; 0: need more */
static int
session_line(struct smtpd_session *s, struct evbuffer *in)
{
	struct evbuffer_ptr p;
	size_t	 eol_len, avail, len;
	char	*line = session_line_buf;
	int	 bare;

	p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	avail = evbuffer_get_length(in);
	if (p.pos < 0) {
		if (avail > (size_t)smtpd_params.line_limit) {
			evbuffer_drain(in, avail);
			s->skipping = 1;
		}
		return (0);
	}
	len = (size_t)p.pos;
	if (s->skipping || len > (size_t)smtpd_params.line_limit + 1) {
		evbuffer_drain(in, len + 1);
		s->skipping = 0;
		s->cur_verb = s->last_verb = SMTPD_VERB_UNKNOWN;
		s->cnt_total[SMTPD_VERB_UNKNOWN]++;
		smtpd_reply(s, REPLY_TOO_LONG, NULL);
		return (1);
	}
	evbuffer_remove(in, line, len + 1);
	bare = !(len > 0 && line[len - 1] == '\r');
	if (!bare)
		len--;
	line[len] = 0;
	if (bare && s->bare_mode == SMTPD_BARE_REJECT) {
		log_info("disconnect: bare <LF> received from %s",
		    s->namaddr);
		smtpd_reply(s, REPLY_BARE_LF, smtpd_params.myhostname);
		smtpd_session_close(s);
		return (0);
	}
	if (s->auth_wait) {
		/* Not a command: the answer to a "334" challenge. */
		if (log_verbose)
			log_debug("< %s: (AUTH response)", s->namaddr);
		if (memchr(line, 0, len) != NULL)
			line[0] = 0;		/* undecodable: let sasl say so */
		smtpd_auth_response(s, line);
		OPENSSL_cleanse(line, len);
		return (1);
	}
	if (evbuffer_get_length(in) > 0 && session_pipe_check(s, in, line,
	    len) < 0)
		return (0);
	/* An AUTH initial response is a password: never logged. */
	if (log_verbose)
		log_debug("< %s: %s", s->namaddr, log_safen(line,
		    smtpd_cmd_log_len(line, len)));
	smtpd_notify_query(s, line, smtpd_cmd_log_len(line, len));
	if (memchr(line, 0, len) != NULL) {
		s->cur_verb = s->last_verb = SMTPD_VERB_UNKNOWN;
		s->cnt_total[SMTPD_VERB_UNKNOWN]++;
		smtpd_reply(s, REPLY_NUL, NULL);
		return (1);
	}
	smtpd_cmd_dispatch(s, line, len);
	if (len > 5 && strncasecmp(line, "AUTH", 4) == 0
	    && (line[4] == ' ' || line[4] == '\t'))
		OPENSSL_cleanse(line, len);
	return (1);
}

/* session_data_end - the final dot: size check, then the queue */
static void
session_data_end(struct smtpd_session *s)
{
	s->state = SMTPD_ST_CMD;
	if (s->data->too_big) {
		log_info("NOQUEUE: reject: DATA from %s: 552 5.3.4 Message "
		    "size exceeds fixed limit; from=<%s> proto=%s helo=<%s>",
		    s->namaddr, log_safe(s->sender), s->cs.protocol,
		    log_safe(s->helo ? s->helo : ""));
		metrics_reject("DATA", "552 5.3.4");
		smtpd_reply(s, REPLY_TOO_BIG, NULL);
		smtpd_session_reset(s);
		return;
	}
	s->busy = 1;
	smtpd_queue_message(s, session_qwq);
}

/* session_bare_lf - smtpd_forbid_bare_newline = yes: 521, disconnect */
static void
session_bare_lf(struct smtpd_session *s)
{
	log_info("disconnect: bare <LF> received from %s", s->namaddr);
	smtpd_reply(s, REPLY_BARE_LF, smtpd_params.myhostname);
	smtpd_session_reset(s);
	smtpd_session_close(s);
}

/* session_data - feed the DATA reader; 0: need more or stop */
static int
session_data(struct smtpd_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v[16];
	size_t	 used, total = 0;
	int	 i, n;

	n = evbuffer_peek(in, -1, NULL, v, 16);
	if (n > 16)
		n = 16;
	for (i = 0; i < n; i++) {
		used = smtpd_data_feed(s->data, v[i].iov_base, v[i].iov_len);
		total += used;
		if (used < v[i].iov_len || s->data->done || s->data->bare_lf
		    || (s->data->msg
		    && BUF_LEN(s->data->msg) >= SMTPD_DATA_CHUNK))
			break;
	}
	evbuffer_drain(in, total);
	if (s->data->too_big) {
		/* Over message_size_limit: no file to keep (552 at the dot). */
		if (s->data->queue)
			s->data->drop(s->data->queue);
		s->data->queue = NULL;
		if (s->data->msg)
			buf_reset(s->data->msg);
	}
	if (s->data->bare_lf) {
		session_bare_lf(s);
		return (0);
	}
	if (s->data->done) {
		session_data_end(s);
		return (!s->busy);
	}
	if (s->data->msg && BUF_LEN(s->data->msg) >= SMTPD_DATA_CHUNK) {
		/* A chunk into the queue file; read on when it is written. */
		smtpd_queue_chunk(s, session_qwq);
		return (0);
	}
	return (total > 0 && evbuffer_get_length(in) > 0);
}

/* session_bdat - feed a BDAT chunk (smtpd_bdat.c); 0: need more or stop */
static int
session_bdat(struct smtpd_session *s, struct evbuffer *in)
{
	struct smtpd_data *d = s->data;
	struct evbuffer_iovec v[16];
	size_t	 used, total = 0;
	int	 i, n;

	n = evbuffer_peek(in, -1, NULL, v, 16);
	for (i = 0; i < n && i < 16 && d->bdat_left > 0; i++) {
		used = smtpd_bdat_feed(d, v[i].iov_base, v[i].iov_len);
		total += used;
		if (used < v[i].iov_len || d->bare_lf
		    || (d->msg && BUF_LEN(d->msg) >= SMTPD_DATA_CHUNK))
			break;
	}
	evbuffer_drain(in, total);
	if (d->bare_lf) {
		session_bare_lf(s);
		return (0);
	}
	if (d->msg && BUF_LEN(d->msg) >= SMTPD_DATA_CHUNK) {
		/* Into the queue file; read on when it is written. */
		smtpd_queue_chunk(s, session_qwq);
		return (0);
	}
	if (d->bdat_left > 0)
		return (total > 0 && evbuffer_get_length(in) > 0);
	s->state = SMTPD_ST_CMD;
	if (smtpd_bdat_end(s)) {	/* BDAT LAST: the message is whole */
		s->busy = 1;
		smtpd_queue_message(s, session_qwq);
		return (0);
	}
	return (1);
}

/* session_input - process what the client sent, until a wait */
static void
session_input(struct smtpd_session *s)
{
	struct evbuffer *in;

	if (s->dead || s->in == NULL)
		return;
	in = bufferevent_get_input(s->in);
	if (s->state == SMTPD_ST_CONNECT)
		return;
	while (!s->busy && !s->dead) {
		if (s->state == SMTPD_ST_DATA) {
			if (!session_data(s, in))
				break;
		} else if (s->state == SMTPD_ST_BDAT) {
			if (!session_bdat(s, in))
				break;
		} else if (s->state == SMTPD_ST_CMD) {
			if (!session_line(s, in))
				break;
			/* Error limits apply between commands. */
			session_limits(s);
			if (!s->sleeping && session_reply_due(s, in))
				session_flush(s);
			/*
			 * A client that does not read its replies stalls.
			 * Under TLS the records wait below the filter:
			 * session_unsent() counts both buffers.
			 */
			if (!s->busy && session_unsent(s) > SESSION_OUT_MAX) {
				s->out_wait = 1;
				session_reading(s, 0);
				break;
			}
		} else
			break;
	}
	session_check_eof(s);
}

/* session_wrap - slide the TLS filter under the session, handshake */
static int
session_wrap(struct smtpd_session *s)
{
	struct bufferevent *bev;
	struct timeval tv;
	char	 err[256];

	if (s->rev) {
		/* the filter reads through the socket's bufferevent */
		event_free(s->rev);
		s->rev = NULL;
		s->rev_on = 0;
		bufferevent_enable(s->in, EV_READ);
	}
	if ((bev = smtpd_tls_wrap(session_base, s->in, err,
	    sizeof(err))) == NULL) {
		log_warn("%s: %s", s->namaddr, err);
		return (-1);
	}
	s->in = s->out = bev;
	tv.tv_sec = smtpd_params.timeout;
	tv.tv_usec = 0;
	bufferevent_setcb(bev, session_read, session_written, session_event,
	    s);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_setwatermark(bev, EV_READ, 0, session_input_max());
	/* The socket's bufferevent, below the filter, must stop too. */
	bufferevent_setwatermark(bufferevent_get_underlying(bev), EV_READ, 0,
	    session_input_max());
	s->tls_handshake = 1;
	s->busy = 1;
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	return (0);
}

/* smtpd_session_starttls - 220, forget everything, TLS handshake */
void
smtpd_session_starttls(struct smtpd_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->in);
	size_t	 n;

	/* The 220 goes out in plaintext, ahead of the handshake. */
	smtpd_reply(s, REPLY_STARTTLS, NULL);
	session_flush(s);
	/* CVE-2011-0411: plaintext sent after STARTTLS is not a command. */
	if ((n = evbuffer_get_length(in)) > 0) {
		log_info("%s: discarding %zu bytes of plaintext sent after "
		    "STARTTLS", s->namaddr, n);
		evbuffer_drain(in, n);
	}
	if (session_wrap(s) < 0) {
		smtpd_reply(s, REPLY_TLS_UNAVAIL, NULL);
		return;
	}
	/* RFC 3207: all knowledge from before TLS is discarded. */
	smtpd_session_reset(s);
	smtpd_auth_reset(s);
	free(s->helo);
	s->helo = NULL;
	s->cs.helo_name = NULL;
	s->esmtp = 0;
	s->cs.protocol = "SMTP";
}

/* session_tls_done - the handshake ended: log, then read commands */
static void
session_tls_done(struct smtpd_session *s, short what)
{
	char	 info[256];

	s->tls_handshake = 0;
	s->busy = 0;
	if (!(what & BEV_EVENT_CONNECTED)) {
		log_info("SSL_accept error from %s: %s", s->namaddr,
		    smtpd_tls_error(s->in, info, sizeof(info)));
		metrics_service_count("postern_smtpd_tls_handshakes_total",
		    "result=\"failure\"");
		session_lost(s, (what & BEV_EVENT_TIMEOUT) != 0, 1);
		return;
	}
	smtpd_tls_info(s->in, info, sizeof(info));
	log_info("%s TLS connection established from %s: %s",
	    smtpd_check_tls_peer(s->in, &s->cs), s->namaddr, info);
	metrics_service_count("postern_smtpd_tls_handshakes_total",
	    "result=\"success\"");
	free(s->tls_info);
	s->tls_info = xstrdup(info);
	s->tls = 1;
	s->cs.tls = 1;
	if (s->state == SMTPD_ST_CONNECT) {
		session_begin(s);	/* smtpd_tls_wrappermode: now greet */
		return;
	}
	smtpd_session_resume(s);
}

/* smtpd_session_start_data - the 354 went out: read the message */
void
smtpd_session_start_data(struct smtpd_session *s)
{
	if (s->data == NULL) {		/* BDAT made its reader already */
		s->data = xmalloc(sizeof(*s->data));
		smtpd_data_init(s->data, smtpd_params.size_limit,
		    s->bare_mode);
	}
	s->state = s->data->bdat ? SMTPD_ST_BDAT : SMTPD_ST_DATA;
	/* The queue file is begun now; the message streams into it. */
	smtpd_queue_begin(s, session_qwq);
}

/* session_check_job - on a worker: the policy engine for one stage */
static void
session_check_job(void *arg, void *thread_ctx)
{
	struct smtpd_session *s = arg;
	struct smtpd_worker *w = thread_ctx;

	if (s->stage == SMTPD_STAGE_CONNECT) {
		smtpd_check_client_name(w->checker, &s->cs);
		s->result = SMTPD_CHECK_OK;
		/* smtpd_delay_reject=no: the client list now. */
		if (!smtpd_params.delay_reject)
			s->result = smtpd_check(w->checker, SMTPD_STAGE_CONNECT,
			    &s->cs, s->job_reply);
	} else if (session_check_needed(s->stage))
		s->result = smtpd_check(w->checker, s->stage, &s->cs,
		    s->job_reply);
	else
		s->result = SMTPD_CHECK_OK;	/* only for the milters */
	s->result = smtpd_milter_stage(s, s->stage, s->result, s->job_reply);
}

/* session_wait_over - a wait's continuation ran: the input, or the end */
static void
session_wait_over(struct smtpd_session *s)
{
	if (s->busy)
		return;
	if (s->dead) {
		session_tail(s);
		return;
	}
	smtpd_session_resume(s);
}

/* session_check_done - on the loop: continue the command */
static void
session_check_done(void *arg)
{
	struct smtpd_session *s = arg;
	smtpd_cont_fn *cont = s->cont;

	s->busy = 0;
	s->cont = NULL;
	if (!s->dead)
		cont(s, s->result, BUF_STR(s->job_reply));
	buf_free(s->job_reply);
	s->job_reply = NULL;
	session_wait_over(s);
}

/* session_check_needed - would the policy engine do anything here? */
static int
session_check_needed(int stage)
{
	/*
	 * smtpd_check.h: the connect stage is the name lookup (unless
	 * smtpd_peername_lookup=no) and, with smtpd_delay_reject=no, the
	 * client list; HELO only with smtpd_delay_reject=no; DATA is
	 * smtpd_data_restrictions. Skipping a stage with nothing to do
	 * saves two thread hops per command.
	 */
	switch (stage) {
	case SMTPD_STAGE_CONNECT:
		return (smtpd_params.peername_lookup
		    || !smtpd_params.delay_reject);
	case SMTPD_STAGE_HELO:
		return (!smtpd_params.delay_reject);
	case SMTPD_STAGE_DATA:
		return (smtpd_params.data_checks);
	default:
		return (1);
	}
}

/* smtpd_session_check - run a policy stage on a worker, then cont() */
void
smtpd_session_check(struct smtpd_session *s, int stage, smtpd_cont_fn *cont)
{
	if (!session_check_needed(stage) && !smtpd_milter_active()) {
		cont(s, SMTPD_CHECK_OK, "");
		return;
	}
	if (!smtpd_milter_active()) {
		struct buf *r = buf_new(128);
		int	 rc;

		/* Every lookup answered from the lookup cache: no worker hop. */
		if (smtpd_check_inline(stage, &s->cs, r, &rc)) {
			cont(s, rc, BUF_STR(r));
			buf_free(r);
			return;
		}
		buf_free(r);
	}
	s->busy = 1;
	s->stage = stage;
	s->cont = cont;
	s->job_reply = buf_new(128);
	/* Only the client's name: on the DNS workers (smtpd_dns.c). */
	if (stage == SMTPD_STAGE_CONNECT && smtpd_params.delay_reject
	    && !smtpd_milter_active()) {
		s->result = SMTPD_CHECK_OK;
		smtpd_dns_client_name(&s->cs, session_check_done, s);
		return;
	}
	workq_submit(session_wq, session_check_job, session_check_done, s);
}

/* session_auth_job - on a worker: one step of the SASL exchange */
static void
session_auth_job(void *arg, void *thread_ctx)
{
	struct smtpd_session *s = arg;
	struct smtpd_worker *w = thread_ctx;

	if (w->sasl == NULL) {
		buf_puts(s->job_reply, "454 4.7.0 Temporary authentication "
		    "failure: no backend");
		s->result = SMTPD_SASL_TEMP;
	} else if (s->auth_mech)
		s->result = smtpd_sasl_start(s->sasl, w->sasl, s->auth_mech,
		    s->auth_text, s->job_reply);
	else
		s->result = smtpd_sasl_step(s->sasl, w->sasl, s->auth_text,
		    s->job_reply);
}

/* session_auth_wipe - the client's response may hold a password */
static void
session_auth_wipe(struct smtpd_session *s)
{
	if (s->auth_text) {
		OPENSSL_cleanse(s->auth_text, strlen(s->auth_text));
		free(s->auth_text);
		s->auth_text = NULL;
	}
	free(s->auth_mech);
	s->auth_mech = NULL;
}

/* session_auth_done - on the loop: continue in smtpd_auth.c */
static void
session_auth_done(void *arg)
{
	struct smtpd_session *s = arg;

	session_auth_wipe(s);
	session_check_done(arg);
}

/* smtpd_session_auth - start (mech set) or continue an AUTH exchange */
void
smtpd_session_auth(struct smtpd_session *s, const char *mech,
    const char *text, smtpd_cont_fn *cont)
{
	s->busy = 1;
	s->cont = cont;
	s->job_reply = buf_new(128);
	s->auth_mech = mech ? xstrdup(mech) : NULL;
	s->auth_text = text ? xstrdup(text) : NULL;
	workq_submit(session_wq, session_auth_job, session_auth_done, s);
}

/* smtpd_session_delay - hold the queued replies for secs seconds */
void
smtpd_session_delay(struct smtpd_session *s, long secs)
{
	struct timeval tv;

	if (secs <= 0 || s->state == SMTPD_ST_CLOSING)
		return;
	if (s->timer == NULL)
		s->timer = evtimer_new(session_base, session_sleep_done, s);
	tv.tv_sec = secs;
	tv.tv_usec = 0;
	evtimer_add(s->timer, &tv);
	s->busy = 1;
	s->sleeping = 1;
	if (s->in)
		session_reading(s, 0);
}

/* session_greet - anvil's count taken: the greeting, or a 421 */
static void
session_greet(struct smtpd_session *s)
{
	if (smtpd_anvil_connect(s) < 0) {	/* replied 421 */
		smtpd_session_close(s);
		return;
	}
	s->state = SMTPD_ST_CMD;
	smtpd_reply(s, REPLY_GREETING, smtpd_params.banner);
}

/* session_connected - the client name is known: log, greet, read */
static void
session_connected(struct smtpd_session *s, int result, const char *reply)
{
	snprintf(s->namaddr, sizeof(s->namaddr), "%s[%s]",
	    s->cs.client_name[0] ? s->cs.client_name : "unknown",
	    s->client_addr);
	log_info("connect from %s", s->namaddr);
	metrics_service_count("postern_smtpd_connects_total", NULL);
	s->greeted = 1;
	if (result != SMTPD_CHECK_OK && reply && *reply)
		s->denied = xstrdup(reply);	/* answers every command */
	session_greet(s);
}

/* session_bare_mode - smtpd_forbid_bare_newline with its exclusions */
static int
session_bare_mode(const char *addr)
{
	struct strv *ex = smtpd_params.bare_exclusions;
	size_t	 i;

	if (smtpd_params.bare_newline != SMTPD_BARE_REJECT || ex == NULL)
		return (smtpd_params.bare_newline);
	for (i = 0; i < ex->argc; i++)
		if (addr_match_cidr(addr, ex->argv[i]) == 1)
			return (SMTPD_BARE_NORMALIZE);
	return (SMTPD_BARE_REJECT);
}

/* session_begin - the client name lookup, then the greeting */
static void
session_begin(struct smtpd_session *s)
{
	smtpd_session_check(s, SMTPD_STAGE_CONNECT, session_connected);
	if (!s->busy)
		smtpd_session_resume(s);	/* greeted already */
}

/* session_new - set up the buffers, start the client name lookup */
static struct smtpd_session *
session_new(int infd, int outfd, const char *addr, const char *port,
    const char *saddr, const char *sport, int stdin_mode)
{
	struct smtpd_session *s = xcalloc(1, sizeof(*s));
	struct timeval tv;

	server_session_begin();
	if ((s->live_next = session_live) != NULL)
		session_live->live_prev = s;
	session_live = s;
	s->stdin_mode = stdin_mode;
	snprintf(s->client_addr, sizeof(s->client_addr), "%s", addr);
	snprintf(s->client_port, sizeof(s->client_port), "%s", port);
	snprintf(s->server_addr, sizeof(s->server_addr), "%s", saddr);
	snprintf(s->server_port, sizeof(s->server_port), "%s", sport);
	snprintf(s->namaddr, sizeof(s->namaddr), "unknown[%s]", addr);
	snprintf(s->cs.client_name, sizeof(s->cs.client_name), "unknown");
	snprintf(s->cs.reverse_client_name,
	    sizeof(s->cs.reverse_client_name), "unknown");
	s->cs.client_addr = s->client_addr;
	s->cs.client_port = s->client_port;
	s->cs.server_addr = s->server_addr;
	s->cs.server_port = s->server_port;
	s->cs.protocol = "SMTP";
	s->cs.size_hint = &s->size_hint;	/* check_policy_service */
	s->cs.sasl_method = &s->sasl_method;
	s->cs.tls_info = &s->tls_info;
	s->cur_verb = SMTPD_VERB_UNKNOWN;
	s->last_verb = -1;		/* "after CONNECT" */
	s->bare_mode = session_bare_mode(addr);
	/* a client socket comes non-blocking from the server skeleton
	 * (lib/server.c): the F_GETFL was a system call a message */
	if (stdin_mode)
		evutil_make_socket_nonblocking(infd);
	s->in = bufferevent_socket_new(session_base, infd,
	    BEV_OPT_CLOSE_ON_FREE);
	/* -S writes stdout with blocking writes: it may be a file. */
	s->outfd = outfd;
	s->out = outfd == infd ? s->in : NULL;
	if (s->in == NULL)
		log_fatal("cannot create a bufferevent");
	tv.tv_sec = smtpd_params.timeout;
	tv.tv_usec = 0;
	bufferevent_setcb(s->in, session_read, session_written,
	    session_event, s);
	bufferevent_set_timeouts(s->in, &tv, &tv);
	bufferevent_setwatermark(s->in, EV_READ, 0, session_input_max());
	/* a socket (not -S): our own reads, the bufferevent writes */
	if (!stdin_mode && infd == outfd
	    && (s->rev = event_new(session_base, infd, EV_READ | EV_PERSIST,
	    session_raw_read, s)) == NULL)
		log_fatal("cannot create a read event");
	smtpd_anvil_early(s);	/* checked before the 220 */
	/* smtpd_tls_wrappermode (port 465): TLS before anything else. */
	if (smtpd_params.tls_wrapper && !stdin_mode && session_wrap(s) == 0)
		return (s);
	session_begin(s);
	return (s);
}

/* smtpd_session_accept - a client connected (server skeleton) */
void
smtpd_session_accept(const struct server_conn *conn)
{
	session_new(conn->fd, conn->fd, conn->client_addr[0] ?
	    conn->client_addr : "127.0.0.1", conn->client_port,
	    conn->server_addr, conn->server_port, 0);
}

/* session_copier - -S with a file on stdin: feed it through a pipe */
static void *
session_copier(void *ctx)
{
	int	*fds = ctx;
	char	 b[65536];
	ssize_t	 n, off, w;

	while ((n = read(fds[0], b, sizeof(b))) > 0 || (n < 0
	    && errno == EINTR))
		for (off = 0; n > 0 && off < n; off += w)
			if ((w = write(fds[1], b + off, n - off)) < 0) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				n = -1;
				break;
			}
	close(fds[1]);
	free(fds);
	return (NULL);
}

/* smtpd_session_stdin - -S: one session on stdin/stdout */
void
smtpd_session_stdin(int infd, int outfd)
{
	struct stat st;
	pthread_t t;
	int	 p[2], *fds;

	/* epoll cannot watch a regular file ("sendmail -bs < file"). */
	if (fstat(infd, &st) == 0 && S_ISREG(st.st_mode)) {
		if (pipe(p) < 0)
			log_fatal("pipe: %s", strerror(errno));
		fds = xmalloc(2 * sizeof(*fds));
		fds[0] = infd;
		fds[1] = p[1];
		if (pthread_create(&t, NULL, session_copier, fds) != 0)
			log_fatal("cannot start the stdin copier");
		pthread_detach(t);
		infd = p[0];
	}
	(void)session_new(infd, outfd, "127.0.0.1", "0", "127.0.0.1", "0",
	    1);
}
