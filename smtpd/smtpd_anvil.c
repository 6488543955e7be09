/*
 * NAME
 *	smtpd_anvil - client connection and rate limits (anvil service)
 * SYNOPSIS
 *	#include "smtpd_anvil.h"
 *
 *	void	smtpd_anvil_init(void);
 *	void	smtpd_anvil_early(struct smtpd_session *s);
 *	int	smtpd_anvil_connect(struct smtpd_session *s);
 *	void	smtpd_anvil_disconnect(struct smtpd_session *s);
 *	int	smtpd_anvil_event(struct smtpd_session *s, int what);
 * DESCRIPTION
 *	Postfix's smtpd_client_connection_count_limit,
 *	smtpd_client_connection_rate_limit, smtpd_client_message_rate_limit,
 *	smtpd_client_recipient_rate_limit,
 *	smtpd_client_new_tls_session_rate_limit and
 *	smtpd_client_auth_rate_limit, counted by the anvil daemon
 *	(anvil/anvil.c) so that a limit holds across every smtpd process
 *	of a service; clients in smtpd_client_event_limit_exceptions
 *	(default $mynetworks) are not counted. As in Postfix, connect and
 *	disconnect go to anvil even when no connection limit applies, and
 *	the replies and warnings are Postfix's:
 *	  connect: "421 4.7.0 HOST Error: too many connections from ADDR",
 *	    "warning: Connection concurrency limit exceeded: N from
 *	    NAME[ADDR] for service SERVICE" (or "Connection rate limit")
 *	  MAIL: "450 4.7.1 Error: too much mail from ADDR", "Message
 *	    delivery request rate limit exceeded"
 *	  RCPT: "450 4.7.1 Error: too many recipients from ADDR",
 *	    "Recipient address rate limit exceeded"
 *	  STARTTLS: "454 4.7.0 Error: too many new TLS sessions from
 *	    ADDR", "New TLS session rate limit exceeded" (counted when
 *	    STARTTLS is given; Postfix counts after the handshake and does
 *	    not count resumed sessions)
 *	  AUTH: "450 4.7.1 Error: too many AUTH commands from ADDR",
 *	    "AUTH command rate limit exceeded".
 *	After AUTH, the login's own sending limits (postern's: see
 *	smtpd_sasl_limits()) are counted too, per login across every
 *	service and client address, in windows of
 *	smtpd_sasl_rate_time_unit (anvil's ident "sasl:LOGIN"); client
 *	exceptions do not exempt a login:
 *	  MAIL: "450 4.7.1 Error: too much mail from LOGIN", "warning: SASL
 *	    message rate limit exceeded: N from NAME[ADDR]
 *	    sasl_username=LOGIN for service SERVICE"
 *	  RCPT: "450 4.7.1 Error: too many recipients from LOGIN", "SASL
 *	    recipient rate limit exceeded"
 *	  a limit table that could not be read: MAIL gets "451 4.3.0 Error:
 *	    cannot read the sending limits of LOGIN".
 *	smtpd_anvil_early(), when the client connects, sends the connect
 *	request; smtpd_anvil_connect(), before the greeting (after the
 *	client name lookup), reads its answer (or sends the request itself
 *	if early did not). Before that the session asks
 *	smtpd_anvil_pending(): when the answer has not come yet,
 *	smtpd_anvil_wait() calls the session's function back from the
 *	event loop once it has (or after ANVIL_TIMEOUT), so that a busy
 *	anvil holds up that one client, not every session of the process;
 *	when that wait times out, smtpd sends anvil nothing for the next
 *	ANVIL_TIMEOUT seconds (the limits are not enforced meanwhile, as
 *	when anvil cannot be reached) instead of asking again, blocking,
 *	for each waiting session
 *	(the bench's held acceptance at 20 sessions, where anvil is one
 *	more process waiting for a CPU: 3,059-3,271 -> 3,675-3,921 msg/s,
 *	every command's reply waiting 0.38-0.48 ms instead of 0.50-0.58,
 *	context switches per message 13.7-14.8 -> 12.4-12.8).
 *	smtpd_anvil_connect() and smtpd_anvil_event() return 0 to go on,
 *	-1 when they have replied (the caller stops; after connect it
 *	closes the session).
 *
 *	One connection to $queue_directory/private/anvil per smtpd
 *	process, used from the event loop. A request whose answer
 *	matters (connect when smtpd_client_connection_count_limit or
 *	smtpd_client_connection_rate_limit is set for the service; MAIL,
 *	RCPT, STARTTLS and AUTH, sent only when their limit is set) waits
 *	for it (up to 2 s; a local request takes tens of microseconds).
 *	Connect without a connection limit, and every disconnect, are
 *	sent without waiting: anvil still counts them (the limits of
 *	other services and its statistics), smtpd does not block on them.
 *	anvil answers every request in order: the requests whose answer
 *	is wanted are listed in the order sent, each with the number of
 *	replies nobody waits for sent just before it; a reply read goes
 *	to the first one unanswered or is thrown away. After every
 *	ANVIL_DRAIN_AT requests sent, the next one first takes the
 *	replies already readable (without waiting: one recv() for 32
 *	requests). A stale connection (anvil restarted: EPIPE,
 *	ECONNRESET, EOF) is reopened once per request; the replies still
 *	to come die with it (a connect sent early is sent again). Not
 *	used by a daemon run by hand (-l or -S) or for -S sessions:
 *	there is no master and no anvil, as Postfix's stand-alone smtpd.
 * DIAGNOSTICS
 *	When anvil cannot be reached the limit is not enforced for that
 *	request (as Postfix), with one warning a minute:
 *	"anvil service unavailable: client limits not enforced (...)".
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/event.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "attr.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "server.h"
#include "smtpd.h"
#include "smtpd_anvil.h"
#include "smtpd_sasl.h"
#include "sock.h"
#include "str.h"
#include "xalloc.h"

#define ANVIL_TIMEOUT	2		/* seconds per request */
#define ANVIL_DRAIN_AT	32		/* sent unread, then a drain */

#define ANVIL_COUNTED	1		/* s->anvil_counted: counted */
#define ANVIL_PENDING	2		/* connect sent, answer unread */

static int anvil_on;			/* under master */
static int anvil_fd = -1;
static struct buf *anvil_in;		/* replies read, not yet taken */
static int anvil_tail;			/* unwanted replies, at the end */
static int anvil_unread;		/* sent without a read since */

/*
 * A request whose answer somebody wants, in the order sent; skip is the
 * number of replies nobody waits for sent just before it.
 */
struct anvil_wait {
	struct smtpd_session *s;	/* an early connect, or NULL */
	smtpd_anvil_fn *resume;		/* smtpd_anvil_wait()'s, or NULL */
	int	 want;			/* 0: the asker is gone */
	int	 skip;
	int	 answered, failed;
	long	 count, rate;
	struct anvil_wait *next;
};
static struct anvil_wait *anvil_waits;
static struct event *anvil_rev;		/* anvil_fd readable: resume */
static struct event *anvil_kick;	/* resume after anvil_close() */
static time_t anvil_stuck_until;	/* a wait timed out: not before */
static time_t anvil_warned;
static long lim_count, lim_rate, lim_mail, lim_rcpt, lim_ntls, lim_auth;
static struct strv *anvil_exceptions;

/* anvil_exception_list - smtpd_client_event_limit_exceptions */
static struct strv *
anvil_exception_list(void)
{
	const char *name = "smtpd_client_event_limit_exceptions";
	const char *raw = conf_raw(name);
	const char *legacy = conf_raw("smtpd_client_connection_limit_exceptions");

	/* Its default names the old parameter; unset, that is $mynetworks. */
	if (raw && strstr(raw, "smtpd_client_connection_limit_exceptions")
	    && (legacy == NULL || *legacy == 0))
		return (conf_mynetworks());
	return (conf_netlist(name));
}

/* smtpd_anvil_init - the limits, once at start */
void
smtpd_anvil_init(void)
{
	lim_count = conf_int("smtpd_client_connection_count_limit");
	lim_rate = conf_int("smtpd_client_connection_rate_limit");
	lim_mail = conf_int("smtpd_client_message_rate_limit");
	lim_rcpt = conf_int("smtpd_client_recipient_rate_limit");
	lim_ntls = conf_int("smtpd_client_new_tls_session_rate_limit");
	lim_auth = conf_int("smtpd_client_auth_rate_limit");
	anvil_exceptions = anvil_exception_list();
	/* Under master only (it names the service with -s). */
	anvil_on = *server_service() != 0;
}

/* anvil_close - forget the connection and the replies it owed */
static void
anvil_close(void)
{
	struct anvil_wait **w, *e;

	if (anvil_rev) {
		event_free(anvil_rev);
		anvil_rev = NULL;
	}
	if (anvil_fd >= 0)
		close(anvil_fd);
	anvil_fd = -1;
	anvil_tail = anvil_unread = 0;
	if (anvil_in)
		buf_reset(anvil_in);
	/* The replies die with the connection. */
	for (w = &anvil_waits; *w != NULL;) {
		if ((*w)->want && !(*w)->answered) {
			(*w)->answered = (*w)->failed = 1;
			w = &(*w)->next;
		} else if (!(*w)->want) {
			e = *w;
			*w = e->next;
			free(e);
		} else
			w = &(*w)->next;
	}
	/* the sessions smtpd_anvil_wait() holds go on from the loop */
	if (anvil_kick)
		event_active(anvil_kick, EV_TIMEOUT, 0);
}

/* anvil_unavailable - one warning a minute */
static void
anvil_unavailable(const char *why)
{
	time_t	 now = time(NULL);

	if (now - anvil_warned >= 60) {
		log_warn("anvil service unavailable: client limits not "
		    "enforced (%s)", why);
		anvil_warned = now;
	}
	anvil_close();
}

/* anvil_open - the connection to private/anvil */
static int
anvil_open(void)
{
	struct sockaddr_un sun;
	char	*path;
	int	 fd;

	if (anvil_fd >= 0)
		return (0);
	if (anvil_in == NULL)
		anvil_in = buf_new(256);
	path = xasprintf("%s/private/anvil", conf_str("queue_directory"));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		free(path);
		anvil_unavailable("socket path too long");
		return (-1);
	}
	memcpy(sun.sun_path, path, strlen(path));
	free(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0
	    || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (fd >= 0)
			close(fd);
		anvil_unavailable(strerror(errno));
		return (-1);
	}
	anvil_fd = fd;
	return (0);
}

/* anvil_send - the whole request; -1 with errno */
static int
anvil_send(const struct buf *out)
{
	time_t	 deadline = 0;
	size_t	 off = 0;
	ssize_t	 n;

	/* The socket buffer nearly always takes it at once: no poll. */
	while (off < BUF_LEN(out)) {
		n = send(anvil_fd, BUF_STR(out) + off, BUF_LEN(out) - off,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return (-1);
		if (deadline == 0)
			deadline = time(NULL) + ANVIL_TIMEOUT;
		if (sock_wait(anvil_fd, POLLOUT, deadline) < 0)
			return (-1);
	}
	return (0);
}

/* anvil_next - the next reply; deadline 0: NULL, err empty if none yet */
static struct attr_list *
anvil_next(time_t deadline, char *err, size_t errlen)
{
	struct attr_list *l;
	char	 chunk[4096];
	size_t	 used;
	ssize_t	 n;

	for (;;) {
		l = attr_parse(BUF_STR(anvil_in), BUF_LEN(anvil_in), &used,
		    err, errlen);
		if (l != NULL) {
			memmove(BUF_STR(anvil_in), BUF_STR(anvil_in) + used,
			    BUF_LEN(anvil_in) - used);
			buf_truncate(anvil_in, BUF_LEN(anvil_in) - used);
			return (l);
		}
		if (err[0])
			return (NULL);
		if (deadline && sock_wait(anvil_fd, POLLIN, deadline) < 0) {
			snprintf(err, errlen, "%s", errno == ETIMEDOUT ?
			    "timeout reading attribute list" :
			    strerror(errno));
			return (NULL);
		}
		n = recv(anvil_fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || (deadline
			    && (errno == EAGAIN || errno == EWOULDBLOCK)))
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				snprintf(err, errlen, "read: %s",
				    strerror(errno));
			return (NULL);
		}
		if (n == 0) {
			snprintf(err, errlen, "unexpected EOF");
			return (NULL);
		}
		buf_append(anvil_in, chunk, (size_t)n);
	}
}

/* anvil_wait_add - one more request whose answer is wanted */
static struct anvil_wait *
anvil_wait_add(struct smtpd_session *sess)
{
	struct anvil_wait *e = xcalloc(1, sizeof(*e)), **w;

	e->s = sess;
	e->want = 1;
	e->skip = anvil_tail;
	anvil_tail = 0;
	for (w = &anvil_waits; *w != NULL; w = &(*w)->next)
		;
	*w = e;
	return (e);
}

/* anvil_wait_free - unlink and free one */
static void
anvil_wait_free(struct anvil_wait *e)
{
	struct anvil_wait **w;

	for (w = &anvil_waits; *w != NULL; w = &(*w)->next)
		if (*w == e) {
			*w = e->next;
			break;
		}
	free(e);
}

/* anvil_expected - is a reply still to come? */
static int
anvil_expected(void)
{
	struct anvil_wait *e;

	for (e = anvil_waits; e != NULL; e = e->next)
		if (!e->answered)
			return (1);
	return (anvil_tail > 0);
}

/* anvil_take - one reply to its request, in order; -1 none was owed */
static int
anvil_take(const struct attr_list *l)
{
	struct anvil_wait *e;

	for (e = anvil_waits; e != NULL && e->answered; e = e->next)
		;
	if (e == NULL) {
		if (anvil_tail <= 0)
			return (-1);
		anvil_tail--;
	} else if (e->skip > 0)
		e->skip--;
	else {
		e->answered = 1;
		attr_get_long(l, "count", &e->count);
		attr_get_long(l, "rate", &e->rate);
		if (!e->want)
			anvil_wait_free(e);
	}
	return (0);
}

/* anvil_read - the next reply to its request; -1 (closed) on error */
static int
anvil_read(time_t deadline)
{
	struct attr_list *l;
	char	 err[128];
	int	 rc;

	err[0] = 0;
	if ((l = anvil_next(deadline, err, sizeof(err))) == NULL) {
		if (err[0] == 0)
			return (1);		/* nothing yet */
		anvil_unavailable(err);
		return (-1);
	}
	rc = anvil_take(l);
	attr_list_free(l);
	if (rc < 0) {
		anvil_unavailable("a reply to no request");
		return (-1);
	}
	return (0);
}

/* anvil_drain - take the replies that have come, without waiting */
static int
anvil_drain(void)
{
	int	 rc = 0;

	anvil_unread = 0;
	while (anvil_expected() && (rc = anvil_read(0)) == 0)
		;
	return (rc < 0 ? -1 : 0);
}

/* anvil_wait_for - read until e is answered; -1 no answer */
static int
anvil_wait_for(struct anvil_wait *e)
{
	time_t	 deadline = time(NULL) + ANVIL_TIMEOUT;

	while (!e->answered)
		if (anvil_read(deadline) < 0)
			break;
	return (e->failed ? -1 : 0);
}

/* anvil_request - the request list */
static struct buf *
anvil_request(const char *ident, const char *req)
{
	struct buf *out = buf_new(128);

	attr_put(out, "version", ATTR_VERSION);
	attr_put(out, "request", req);
	attr_put(out, "ident", ident);
	attr_end(out);
	return (out);
}

/* anvil_send_req - send one request; -1 not sent */
static int
anvil_send_req(const char *ident, const char *req)
{
	struct buf *out;
	int	 tries;

	/* anvil did not answer a wait in time: fail open for a while
	 * rather than block the loop on every session that follows */
	if (anvil_stuck_until && time(NULL) < anvil_stuck_until)
		return (-1);
	out = anvil_request(ident, req);
	/* A stale connection (anvil restarted) gets one retry. */
	for (tries = 0; tries < 2; tries++) {
		if (anvil_open() < 0)
			break;
		if (anvil_unread >= ANVIL_DRAIN_AT && anvil_drain() < 0)
			continue;
		if (anvil_send(out) < 0) {
			anvil_unavailable(strerror(errno));
			continue;
		}
		anvil_unread++;
		buf_free(out);
		return (0);
	}
	buf_free(out);
	return (-1);
}

/* anvil_tell - one request whose answer nobody needs; -1 not sent */
static int
anvil_tell(const char *ident, const char *req)
{
	if (anvil_send_req(ident, req) < 0)
		return (-1);
	anvil_tail++;
	return (0);
}

/* anvil_ask - one request; 0 with count and rate, -1 no answer */
static int
anvil_ask(const char *ident, const char *req, long *count, long *rate)
{
	struct anvil_wait *e;
	int	 tries, rc;

	/* An answer lost with a stale connection: one retry. */
	for (tries = 0; tries < 2; tries++) {
		if (anvil_send_req(ident, req) < 0)
			break;
		e = anvil_wait_add(NULL);
		rc = anvil_wait_for(e);
		*count = e->count;
		*rate = e->rate;
		anvil_wait_free(e);
		if (rc == 0)
			return (0);
	}
	return (-1);
}

/* anvil_ident - SERVICE:ADDRESS, the session's client in anvil */
static void
anvil_ident(struct smtpd_session *s, char *ident, size_t len)
{
	snprintf(ident, len, "%s:%s", server_service(), s->client_addr);
}

/* anvil_query - one request about the session's client */
static int
anvil_query(struct smtpd_session *s, const char *req, long *count,
    long *rate)
{
	char	 ident[200];

	anvil_ident(s, ident, sizeof(ident));
	return (anvil_ask(ident, req, count, rate));
}

/* anvil_sasl - the login's message or recipient rate limit */
static int
anvil_sasl(struct smtpd_session *s, int what)
{
	long	 lim, count, rate;
	char	 ident[300], reply[400];

	if (s->sasl_user == NULL || (what != SMTPD_ANVIL_MAIL
	    && what != SMTPD_ANVIL_RCPT))
		return (0);
	if (what == SMTPD_ANVIL_MAIL
	    && s->sasl_lim_msg == SMTPD_SASL_LIMIT_UNKNOWN) {
		snprintf(reply, sizeof(reply), "451 4.3.0 Error: cannot read "
		    "the sending limits of %s", log_safe(s->sasl_user));
		smtpd_reply_text(s, reply);
		return (-1);
	}
	lim = what == SMTPD_ANVIL_MAIL ? s->sasl_lim_msg : s->sasl_lim_rcpt;
	if (lim <= 0 || !anvil_on || s->stdin_mode)
		return (0);
	snprintf(ident, sizeof(ident), "sasl:%s", s->sasl_user);
	if (anvil_ask(ident, what == SMTPD_ANVIL_MAIL ? "sasl_message"
	    : "sasl_recipient", &count, &rate) < 0 || rate <= lim)
		return (0);
	log_warn("SASL %s rate limit exceeded: %ld from %s sasl_username=%s "
	    "for service %s", what == SMTPD_ANVIL_MAIL ? "message"
	    : "recipient", rate, s->namaddr, log_safe(s->sasl_user),
	    server_service());
	snprintf(reply, sizeof(reply), what == SMTPD_ANVIL_MAIL
	    ? "450 4.7.1 Error: too much mail from %s"
	    : "450 4.7.1 Error: too many recipients from %s",
	    log_safe(s->sasl_user));
	smtpd_reply_text(s, reply);
	return (-1);
}

/* anvil_exempt - not counted: no anvil, -S, or an exception */
static int
anvil_exempt(struct smtpd_session *s)
{
	size_t	 i;

	if (!anvil_on || s->stdin_mode)
		return (1);
	for (i = 0; anvil_exceptions && i < anvil_exceptions->argc; i++)
		if (addr_match_cidr(s->client_addr,
		    anvil_exceptions->argv[i]) == 1)
			return (1);
	return (0);
}

/* anvil_refuse - the warning and the reply */
static int
anvil_refuse(struct smtpd_session *s, const char *what, long n,
    const char *reply)
{
	log_warn("%s limit exceeded: %ld from %s for service %s", what, n,
	    s->namaddr, server_service());
	smtpd_reply_text(s, reply);
	return (-1);
}

/* anvil_wait_find - the early connect of a session */
static struct anvil_wait *
anvil_wait_find(struct smtpd_session *s)
{
	struct anvil_wait *e;

	for (e = anvil_waits; e != NULL; e = e->next)
		if (e->s == s)
			return (e);
	return (NULL);
}

/* anvil_resume - each session smtpd_anvil_wait() holds whose answer came */
static void
anvil_resume(evutil_socket_t fd, short what, void *arg)
{
	struct anvil_wait *e;
	smtpd_anvil_fn *fn;
	int	 left;

	/* a failure closes anvil: its waits are answered, failed */
	if ((what & EV_TIMEOUT) && arg != NULL) {
		anvil_unavailable("timeout waiting for a connect answer");
		anvil_stuck_until = time(NULL) + ANVIL_TIMEOUT;
	}
	else if (what & EV_READ)
		(void)anvil_drain();
	for (;;) {
		left = 0;
		for (e = anvil_waits; e != NULL; e = e->next) {
			if (e->resume == NULL || e->s == NULL || !e->want)
				continue;
			if (e->answered)
				break;
			left = 1;
		}
		if (e == NULL)
			break;
		/* the function takes the answer: e may be freed */
		fn = e->resume;
		e->resume = NULL;
		fn(e->s);
	}
	if (!left && anvil_rev)
		event_del(anvil_rev);
}

/* smtpd_anvil_pending - the early connect's answer is yet to come */
int
smtpd_anvil_pending(struct smtpd_session *s)
{
	struct anvil_wait *e;

	if (s->anvil_counted != ANVIL_PENDING
	    || (e = anvil_wait_find(s)) == NULL)
		return (0);
	if (!e->answered)
		(void)anvil_drain();	/* a failure: answered, failed */
	return (!e->answered);
}

/*
 * smtpd_anvil_wait - fn(s) from the loop once the early connect's answer
 * is in (after smtpd_anvil_pending() said it is not); -1: no wait, the
 * caller goes on at once
 */
int
smtpd_anvil_wait(struct event_base *base, struct smtpd_session *s,
    smtpd_anvil_fn *fn)
{
	struct anvil_wait *e = anvil_wait_find(s);
	struct timeval tv = {ANVIL_TIMEOUT, 0};

	if (e == NULL || e->answered || anvil_fd < 0)
		return (-1);
	if (anvil_kick == NULL
	    && (anvil_kick = evtimer_new(base, anvil_resume, NULL)) == NULL)
		return (-1);
	if (anvil_rev == NULL && (anvil_rev = event_new(base, anvil_fd,
	    EV_READ | EV_PERSIST, anvil_resume, base)) == NULL)
		return (-1);
	/* the timeout runs from the first wait: anvil owes the oldest */
	if (!event_pending(anvil_rev, EV_READ, NULL)
	    && event_add(anvil_rev, &tv) < 0)
		return (-1);
	e->resume = fn;
	return (0);
}

/* smtpd_anvil_early - send the connect at accept; answer read later */
void
smtpd_anvil_early(struct smtpd_session *s)
{
	char	 ident[200];

	if (anvil_exempt(s))
		return;
	anvil_ident(s, ident, sizeof(ident));
	/* No connection limit: anvil counts, nobody waits for its answer. */
	if (lim_count <= 0 && lim_rate <= 0) {
		if (anvil_tell(ident, "connect") == 0)
			s->anvil_counted = ANVIL_COUNTED;
		return;
	}
	if (anvil_send_req(ident, "connect") == 0) {
		(void)anvil_wait_add(s);
		s->anvil_counted = ANVIL_PENDING;
	}
}

/* smtpd_anvil_connect - count the connection; 421 over a limit */
int
smtpd_anvil_connect(struct smtpd_session *s)
{
	struct anvil_wait *e;
	long	 count = 0, rate = 0;
	char	 reply[400], ident[200];
	int	 rc = -1;

	if (anvil_exempt(s) || s->anvil_counted == ANVIL_COUNTED)
		return (0);
	/* The early connect's answer: mostly read already, or readable. */
	if (s->anvil_counted == ANVIL_PENDING
	    && (e = anvil_wait_find(s)) != NULL) {
		rc = anvil_wait_for(e);
		count = e->count;
		rate = e->rate;
		anvil_wait_free(e);
	}
	s->anvil_counted = 0;
	if (rc < 0 && lim_count <= 0 && lim_rate <= 0) {
		anvil_ident(s, ident, sizeof(ident));
		if (anvil_tell(ident, "connect") == 0)
			s->anvil_counted = ANVIL_COUNTED;
		return (0);
	}
	if (rc < 0 && anvil_query(s, "connect", &count, &rate) < 0)
		return (0);
	s->anvil_counted = ANVIL_COUNTED;
	snprintf(reply, sizeof(reply), "421 4.7.0 %s Error: too many "
	    "connections from %s", conf_str("myhostname"), s->client_addr);
	if (lim_count > 0 && count > lim_count)
		return (anvil_refuse(s, "Connection concurrency", count,
		    reply));
	if (lim_rate > 0 && rate > lim_rate)
		return (anvil_refuse(s, "Connection rate", rate, reply));
	return (0);
}

/* smtpd_anvil_disconnect - the session ends */
void
smtpd_anvil_disconnect(struct smtpd_session *s)
{
	struct anvil_wait *e;
	char	 ident[200];

	if (!s->anvil_counted)
		return;
	/* Gone before its greeting: nobody wants the early answer. */
	if (s->anvil_counted == ANVIL_PENDING
	    && (e = anvil_wait_find(s)) != NULL) {
		if (e->answered)
			anvil_wait_free(e);
		else {
			e->s = NULL;
			e->want = 0;
		}
	}
	s->anvil_counted = 0;
	anvil_ident(s, ident, sizeof(ident));
	(void)anvil_tell(ident, "disconnect");
}

/* smtpd_anvil_event - count MAIL, RCPT, STARTTLS or AUTH */
int
smtpd_anvil_event(struct smtpd_session *s, int what)
{
	static const struct {
		const char *req, *log, *fmt;
		long	*limit;
	} ev[] = {
		[SMTPD_ANVIL_MAIL] = {"message", "Message delivery request "
		    "rate", "450 4.7.1 Error: too much mail from %s", &lim_mail},
		[SMTPD_ANVIL_RCPT] = {"recipient", "Recipient address rate",
		    "450 4.7.1 Error: too many recipients from %s", &lim_rcpt},
		[SMTPD_ANVIL_NTLS] = {"newtls", "New TLS session rate",
		    "454 4.7.0 Error: too many new TLS sessions from %s",
		    &lim_ntls},
		[SMTPD_ANVIL_AUTH] = {"auth", "AUTH command rate",
		    "450 4.7.1 Error: too many AUTH commands from %s",
		    &lim_auth},
	};
	long	 count, rate;
	char	 reply[300];

	if (anvil_sasl(s, what) < 0)
		return (-1);
	if (what < SMTPD_ANVIL_MAIL || what > SMTPD_ANVIL_AUTH
	    || *ev[what].limit <= 0 || anvil_exempt(s)
	    || anvil_query(s, ev[what].req, &count, &rate) < 0
	    || rate <= *ev[what].limit)
		return (0);
	snprintf(reply, sizeof(reply), ev[what].fmt, s->client_addr);
	return (anvil_refuse(s, ev[what].log, rate, reply));
}
