/*
 * NAME
 *	smtpd_anvil - client connection and rate limits (anvil service)
 * SYNOPSIS
 *	#include "smtpd_anvil.h"
 *
 *	void	smtpd_anvil_init(void);
 *	void	smtpd_anvil_start(struct event_base *base);
 *	void	smtpd_anvil_stop(void);
 *	void	smtpd_anvil_early(struct smtpd_session *s);
 *	int	smtpd_anvil_connect(struct smtpd_session *s);
 *	void	smtpd_anvil_disconnect(struct smtpd_session *s);
 *	int	smtpd_anvil_event(struct smtpd_session *s, int what);
 * DESCRIPTION
 *	Postfix's smtpd_client_connection_count_limit,
 *	smtpd_client_connection_rate_limit, smtpd_client_message_rate_limit,
 *	smtpd_client_recipient_rate_limit,
 *	smtpd_client_new_tls_session_rate_limit and
 *	smtpd_client_auth_rate_limit, counted in anvil's table (see
 *	below) so that a limit holds across every smtpd process of a
 *	service; clients in smtpd_client_event_limit_exceptions (default
 *	$mynetworks) are not counted. As in Postfix, every connection is
 *	counted even when no connection limit applies (anvil's statistics
 *	and its protocol see it), and the replies and warnings are
 *	Postfix's:
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
 *	The counts live in a table in memory that master shares with every
 *	smtpd process and with anvil (lib/anvil_shm.c), so a limit holds
 *	across the processes of a service and across services, and smtpd
 *	counts and checks a client with a lock and a lookup: no request
 *	to anvil, no answer to wait for, no context switch (issue 13: the
 *	requests and anvil's work cost 0.06 ms of CPU per connection,
 *	13 % of the machine in the bench's held acceptance). anvil still
 *	runs: it logs the statistics, answers its protocol from the same
 *	table and uncounts the connections of an smtpd that died. Each
 *	smtpd process keeps one idle connection to private/anvil, so that
 *	master starts anvil and anvil hears when the process dies; when
 *	anvil goes away smtpd connects again a second later.
 *
 *	smtpd_anvil_early(), when the client connects, counts the
 *	connection; smtpd_anvil_connect(), before the greeting (after the
 *	client name lookup, so the warning names the client), refuses it
 *	with 421 when that count was over a limit. smtpd_anvil_disconnect()
 *	uncounts it. smtpd_anvil_event() counts MAIL, RCPT, STARTTLS and
 *	AUTH when their limit is set, and the login's limits.
 *	smtpd_anvil_connect() and smtpd_anvil_event() return 0 to go on,
 *	-1 when they have replied (the caller stops; after connect it
 *	closes the session). Not used by a daemon run by hand (-l or -S)
 *	or for -S sessions: there is no master, as Postfix's stand-alone
 *	smtpd.
 * DIAGNOSTICS
 *	When the table cannot be used (master gave none; full near the
 *	client's hash; its lock not had within a second) the limit is not
 *	enforced for that request (as Postfix when anvil does not answer),
 *	with one warning a minute: "anvil table unavailable: client limits
 *	not enforced (...)".
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/event.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "anvil_shm.h"
#include "conf.h"
#include "log.h"
#include "server.h"
#include "smtpd.h"
#include "smtpd_anvil.h"
#include "smtpd_sasl.h"
#include "str.h"
#include "xalloc.h"

static int anvil_on;			/* under master */
static struct anvil_shm *anvil_tab;	/* master's table, or NULL */
static int anvil_fd = -1;		/* the idle connection to anvil */
static struct event *anvil_ev;		/* its EOF, or the retry timer */
static time_t anvil_warned;
static char anvil_err[200];		/* why the table is not mapped */
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

/* anvil_unavailable - one warning a minute */
static void
anvil_unavailable(const char *why)
{
	time_t	 now = time(NULL);

	if (now - anvil_warned >= 60) {
		log_warn("anvil table unavailable: client limits not "
		    "enforced (%s)", why);
		anvil_warned = now;
	}
}

/* smtpd_anvil_init - the limits and master's table, once at start */
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
	/* Under master only: it names the service (-s) and gives the
	 * table; a daemon run by hand (-l) counts nothing */
	anvil_on = *server_service() != 0 && getenv(ANVIL_SHM_ENV) != NULL;
	if (!anvil_on)
		return;
	if ((anvil_tab = anvil_shm_from_env(anvil_err, sizeof(anvil_err)))
	    == NULL) {
		anvil_unavailable(anvil_err);
		return;
	}
	/* counted connections die with us: anvil uncounts them */
	if (anvil_shm_claim(anvil_tab) < 0)
		log_warn("anvil table: no process slot free; this process's "
		    "connections stay counted if it crashes");
}

static void anvil_hello(evutil_socket_t, short, void *);

/* anvil_retry - the connection to anvil again in a second */
static void
anvil_retry(struct event_base *base)
{
	struct timeval tv = {1, 0};

	if (anvil_ev)
		event_free(anvil_ev);
	anvil_ev = evtimer_new(base, anvil_hello, base);
	if (anvil_ev)
		evtimer_add(anvil_ev, &tv);
}

/* anvil_hello - keep an idle connection to anvil (see above) */
static void
anvil_hello(evutil_socket_t fd, short what, void *ctx)
{
	struct event_base *base = ctx;
	struct sockaddr_un sun;
	char	 buf[64];
	char	*path;
	ssize_t	 n;

	if (fd >= 0 && anvil_fd >= 0) {
		/* anvil sends nothing: this is its EOF */
		if ((n = recv(anvil_fd, buf, sizeof(buf), MSG_DONTWAIT)) < 0
		    && (errno == EAGAIN || errno == EINTR))
			return;
		close(anvil_fd);
		anvil_fd = -1;
		anvil_retry(base);
		return;
	}
	path = xasprintf("%s/private/anvil", conf_str("queue_directory"));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) < sizeof(sun.sun_path)) {
		memcpy(sun.sun_path, path, strlen(path));
		if ((anvil_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC
		    | SOCK_NONBLOCK, 0)) >= 0 && connect(anvil_fd,
		    (struct sockaddr *)&sun, sizeof(sun)) < 0
		    && errno != EINPROGRESS && errno != EAGAIN) {
			close(anvil_fd);
			anvil_fd = -1;
		}
	}
	free(path);
	if (anvil_fd < 0) {
		anvil_retry(base);
		return;
	}
	if (anvil_ev)
		event_free(anvil_ev);
	anvil_ev = event_new(base, anvil_fd, EV_READ | EV_PERSIST, anvil_hello,
	    base);
	if (anvil_ev)
		event_add(anvil_ev, NULL);
}

/* smtpd_anvil_start - the idle connection to anvil, on the event loop */
void
smtpd_anvil_start(struct event_base *base)
{
	if (anvil_tab != NULL)
		anvil_hello(-1, 0, base);
}

/* smtpd_anvil_stop - give the table back (uncounts what is still held) */
void
smtpd_anvil_stop(void)
{
	if (anvil_ev)
		event_free(anvil_ev);
	anvil_ev = NULL;
	if (anvil_fd >= 0)
		close(anvil_fd);
	anvil_fd = -1;
	anvil_shm_detach(anvil_tab);
	anvil_tab = NULL;
	strv_free(anvil_exceptions);
	anvil_exceptions = NULL;
}

/* anvil_ident - SERVICE:ADDRESS, the session's client in anvil */
static void
anvil_ident(struct smtpd_session *s, char *ident, size_t len)
{
	snprintf(ident, len, "%s:%s", server_service(), s->client_addr);
}

/* anvil_rate - count one event of ident; -1 not counted */
static int
anvil_rate(const char *ident, int ev)
{
	int	 rate;

	if (anvil_tab == NULL)
		return (-1);
	if ((rate = anvil_shm_event(anvil_tab, ident, ev, time(NULL))) < 0)
		anvil_unavailable("table full or locked");
	return (rate);
}

/* anvil_sasl - the login's message or recipient rate limit */
static int
anvil_sasl(struct smtpd_session *s, int what)
{
	long	 lim, rate;
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
	if ((rate = anvil_rate(ident, what == SMTPD_ANVIL_MAIL ? ANVIL_EV_MAIL
	    : ANVIL_EV_RCPT)) <= lim)
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

/* smtpd_anvil_early - count the connection at accept; checked later */
void
smtpd_anvil_early(struct smtpd_session *s)
{
	char	 ident[200];
	int	 count, rate;

	if (anvil_exempt(s) || s->anvil_counted)
		return;
	if (anvil_tab == NULL) {
		anvil_unavailable(anvil_err);
		return;
	}
	anvil_ident(s, ident, sizeof(ident));
	if (anvil_shm_connect(anvil_tab, ident, time(NULL), &count, &rate,
	    &s->anvil_ticket) < 0) {
		anvil_unavailable("table full or locked");
		return;
	}
	s->anvil_counted = 1;
	s->anvil_count = count;
	s->anvil_rate = rate;
}

/* smtpd_anvil_connect - the counts taken at accept; 421 over a limit */
int
smtpd_anvil_connect(struct smtpd_session *s)
{
	char	 reply[400];

	if (!s->anvil_counted)
		return (0);
	snprintf(reply, sizeof(reply), "421 4.7.0 %s Error: too many "
	    "connections from %s", conf_str("myhostname"), s->client_addr);
	if (lim_count > 0 && s->anvil_count > lim_count)
		return (anvil_refuse(s, "Connection concurrency",
		    s->anvil_count, reply));
	if (lim_rate > 0 && s->anvil_rate > lim_rate)
		return (anvil_refuse(s, "Connection rate", s->anvil_rate,
		    reply));
	return (0);
}

/* smtpd_anvil_disconnect - the session ends */
void
smtpd_anvil_disconnect(struct smtpd_session *s)
{
	char	 ident[200];

	if (!s->anvil_counted || anvil_tab == NULL)
		return;
	s->anvil_counted = 0;
	/* the ticket finds the entry; the ident only without one */
	ident[0] = 0;
	if (s->anvil_ticket == 0)
		anvil_ident(s, ident, sizeof(ident));
	anvil_shm_disconnect(anvil_tab, ident, s->anvil_ticket, time(NULL));
}

/* smtpd_anvil_event - count MAIL, RCPT, STARTTLS or AUTH */
int
smtpd_anvil_event(struct smtpd_session *s, int what)
{
	static const struct {
		const char *log, *fmt;
		int	 ev;
		long	*limit;
	} ev[] = {
		[SMTPD_ANVIL_MAIL] = {"Message delivery request rate",
		    "450 4.7.1 Error: too much mail from %s", ANVIL_EV_MAIL,
		    &lim_mail},
		[SMTPD_ANVIL_RCPT] = {"Recipient address rate",
		    "450 4.7.1 Error: too many recipients from %s",
		    ANVIL_EV_RCPT, &lim_rcpt},
		[SMTPD_ANVIL_NTLS] = {"New TLS session rate",
		    "454 4.7.0 Error: too many new TLS sessions from %s",
		    ANVIL_EV_NTLS, &lim_ntls},
		[SMTPD_ANVIL_AUTH] = {"AUTH command rate",
		    "450 4.7.1 Error: too many AUTH commands from %s",
		    ANVIL_EV_AUTH, &lim_auth},
	};
	char	 ident[200], reply[300];
	int	 rate;

	if (anvil_sasl(s, what) < 0)
		return (-1);
	if (what < SMTPD_ANVIL_MAIL || what > SMTPD_ANVIL_AUTH
	    || *ev[what].limit <= 0 || anvil_exempt(s))
		return (0);
	anvil_ident(s, ident, sizeof(ident));
	if ((rate = anvil_rate(ident, ev[what].ev)) <= *ev[what].limit)
		return (0);
	snprintf(reply, sizeof(reply), ev[what].fmt, s->client_addr);
	return (anvil_refuse(s, ev[what].log, rate, reply));
}
