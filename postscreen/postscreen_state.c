/*
 * NAME
 *	postscreen_state - per-connection state, replies and conclusion
 * SYNOPSIS
 *	#include <event2/event.h>

#include "postscreen.h"
 *
 *	struct psc_state *psc_state_new(int fd, const char *addr,
 *	    const char *port, const char *saddr, const char *sport);
 *	void	psc_state_free(struct psc_state *s);
 *	const char *psc_client(const struct psc_state *s);
 *	const char *psc_elapsed(const struct psc_state *s);
 *	int	psc_send_reply(struct psc_state *s, const char *text);
 *	int	psc_fail(struct psc_state *s, enum psc_test t, int action,
 *	    const char *enforce_reply, const char *drop_reply);
 *	void	psc_hangup(struct psc_state *s, const char *why);
 *	void	psc_drop(struct psc_state *s, const char *reply);
 *	void	psc_conclude(struct psc_state *s);
 *	void	psc_finish_after_smtp(struct psc_state *s);
 *	void	psc_pass_rcpt(struct psc_state *s);
 *	int	psc_any_todo(const struct psc_state *s);
 *	int	psc_parse_action(const char *param, const char *value);
 *	int	psc_count_add(const char *addr, int delta);
 *	const char *psc_escape(const char *data, size_t len, char *out,
 *	    size_t outlen);
 * DESCRIPTION
 *	This module also holds the globals of postscreen.h (psc_var and
 *	the shared handles), so that tests can link every module but main.
 *
 *	psc_state_new() takes ownership of the client socket and counts
 *	the session (server_session_begin); psc_state_free() cancels
 *	every pending event and DNS request, closes the socket unless it
 *	was handed off (fd < 0), and ends the session.
 *
 *	Replies go out with one non-blocking write (SSL_write after
 *	STARTTLS), as Postfix's
 *	postscreen does: replies are small, and a client that does not
 *	read them is not worth waiting for (psc_send_reply() returns -1
 *	and the caller hangs up).
 *
 *	psc_fail() records a failed test and applies its action: drop
 *	sends drop_reply and closes (returns 1: the state is gone);
 *	enforce remembers enforce_reply for RCPT in the dummy SMTP engine;
 *	ignore only logs (the test is repeated next time).
 *
 *	psc_count_add() keeps the number of connections each client
 *	address has open in postscreen (for postscreen_client_connection_
 *	count_limit) and returns the new count.
 *
 *	psc_conclude() ends the tests of a client that may talk to smtpd:
 *	passed tests get their expiry time in the cache, "PASS NEW" is
 *	logged when nothing failed, and the socket goes to smtpd.
 *	psc_pass_rcpt() stores the passes of a client that reached RCPT
 *	in the dummy SMTP engine without failing a test, and logs "PASS
 *	NEW", BEFORE the engine answers the 450 that makes the client
 *	reconnect: a client that reconnects at once (while this session
 *	is still open) is then PASS OLD and goes to smtpd, instead of
 *	taking the tests again. psc_finish_after_smtp() does the cache
 *	part when the dummy engine is done with the client: nothing more
 *	after psc_pass_rcpt() unless a test failed since (then that
 *	test's stamp is cleared again, so it runs next time).
 * DIAGNOSTICS
 *	Write errors hang up the session; cache errors are logged by
 *	postscreen_cache and ignored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "log.h"
#include <event2/event.h>

#include "postscreen.h"
#include "server.h"
#include "tls.h"
#include "xalloc.h"

/* The daemon's configuration and shared handles (set up by main). */
struct psc_params psc_var;
struct event_base *psc_base;
struct workq *psc_workq;
struct psc_dnsbl_sites *psc_sites;
struct psc_access *psc_acl;
struct psc_cache *psc_cache;
struct tls_ctx *psc_tls;
int	 psc_pre_count;

/*
 * Concurrent connections per client address (postscreen_client_
 * connection_count_limit): a small chained hash table.
 */
#define PSC_COUNT_BUCKETS	1024

struct psc_count {
	struct psc_count *next;
	int	 n;
	char	 addr[64];
};

static struct psc_count *psc_counts[PSC_COUNT_BUCKETS];

/* count_slot - the bucket of an address */
static struct psc_count **
count_slot(const char *addr)
{
	unsigned int h = 5381;

	while (*addr)
		h = h * 33 + (unsigned char)*addr++;
	return (&psc_counts[h % PSC_COUNT_BUCKETS]);
}

/* psc_count_add - one more (delta 1) or one less (-1); the new count */
int
psc_count_add(const char *addr, int delta)
{
	struct psc_count **pp, *c;

	for (pp = count_slot(addr); (c = *pp) != NULL; pp = &c->next)
		if (strcmp(c->addr, addr) == 0)
			break;
	if (c == NULL) {
		if (delta <= 0)
			return (0);
		c = xcalloc(1, sizeof(*c));
		snprintf(c->addr, sizeof(c->addr), "%s", addr);
		*pp = c;
	}
	c->n += delta;
	if (c->n <= 0) {
		*pp = c->next;
		free(c);
		return (0);
	}
	return (c->n);
}

/* psc_state_new - a new connection */
struct psc_state *
psc_state_new(int fd, const char *addr, const char *port, const char *saddr,
    const char *sport)
{
	struct psc_state *s = xcalloc(1, sizeof(*s));

	s->fd = fd;
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	snprintf(s->port, sizeof(s->port), "%s", port);
	snprintf(s->saddr, sizeof(s->saddr), "%s", saddr);
	snprintf(s->sport, sizeof(s->sport), "%s", sport);
	gettimeofday(&s->start, NULL);
	snprintf(s->last_cmd, sizeof(s->last_cmd), "CONNECT");
	s->test_phase = "tests before SMTP handshake";
	server_session_begin();
	return (s);
}

/* psc_state_free - end of a session */
void
psc_state_free(struct psc_state *s)
{
	psc_early_cancel(s);
	psc_smtp_cancel(s);
	if (s->pass_timer) {
		event_free(s->pass_timer);
		s->pass_timer = NULL;
	}
	if (s->dnsbl_req) {
		psc_dnsbl_release(s->dnsbl_req);
		s->dnsbl_req = NULL;
	}
	if (s->ssl)
		tls_ssl_free(s->ssl);
	if (s->fd >= 0)
		close(s->fd);
	if (s->counted_pre)
		psc_pre_count--;
	if (s->counted_client)
		(void)psc_count_add(s->addr, -1);
	free(s->enforce_reply);
	free(s->helo);
	free(s->sender);
	free(s);
	server_session_end();
}

/* psc_client - "[addr]:port" for logs */
const char *
psc_client(const struct psc_state *s)
{
	static char buf[2][96];
	static int i;

	i = !i;
	snprintf(buf[i], sizeof(buf[i]), "[%s]:%s", s->addr, s->port);
	return (buf[i]);
}

/* psc_elapsed - seconds since connect, for logs */
const char *
psc_elapsed(const struct psc_state *s)
{
	static char buf[32];
	struct timeval now;
	double	 d;

	gettimeofday(&now, NULL);
	d = (now.tv_sec - s->start.tv_sec) +
	    (now.tv_usec - s->start.tv_usec) / 1e6;
	snprintf(buf, sizeof(buf), "%.2f", d < 0 ? 0.0 : d);
	return (buf);
}

/* psc_escape - client bytes for a log line: \r \n visible, rest safe */
const char *
psc_escape(const char *data, size_t len, char *out, size_t outlen)
{
	size_t	 i, o = 0;
	unsigned char c;

	for (i = 0; i < len && o + 3 < outlen && i < 100; i++) {
		c = (unsigned char)data[i];
		if (c == '\r' || c == '\n') {
			out[o++] = '\\';
			out[o++] = (c == '\r') ? 'r' : 'n';
		} else
			out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[o] = '\0';
	return (out);
}

/* psc_send_reply - one non-blocking write of a whole reply */
int
psc_send_reply(struct psc_state *s, const char *text)
{
	size_t	 len = strlen(text);
	ssize_t	 n;

	if (s->tls_state == 2) {
		/* Small replies fit the socket buffer: one SSL_write. */
		if (SSL_write(s->ssl, text, (int)len) == (int)len)
			return (0);
		log_debug("TLS write reply to %s failed", psc_client(s));
		return (-1);
	}
	do
		n = send(s->fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len)
		return (0);
	log_debug("write reply to %s: %s", psc_client(s),
	    n < 0 ? strerror(errno) : "short write");
	return (-1);
}

/* psc_hangup - the client went away (or must go) */
void
psc_hangup(struct psc_state *s, const char *why)
{
	if (why)
		log_info("HANGUP after %s from %s in %s", psc_elapsed(s),
		    psc_client(s), s->test_phase);
	log_info("DISCONNECT %s", psc_client(s));
	psc_state_free(s);
}

/* psc_drop - send the reply and close */
void
psc_drop(struct psc_state *s, const char *reply)
{
	(void)psc_send_reply(s, reply);
	log_info("DISCONNECT %s", psc_client(s));
	psc_state_free(s);
}

/* psc_fail - a test failed: apply its action; 1 if the state is gone */
int
psc_fail(struct psc_state *s, enum psc_test t, int action,
    const char *enforce_reply, const char *drop_reply)
{
	s->fail[t] = 1;
	s->todo[t] = 0;
	switch (action) {
	case PSC_ACT_DROP:
		psc_drop(s, drop_reply);
		return (1);
	case PSC_ACT_ENFORCE:
		if (s->enforce_reply == NULL)
			s->enforce_reply = xstrdup(enforce_reply);
		return (0);
	default:
		return (0);
	}
}

/* psc_any_todo - an after-220 test still has to run? */
int
psc_any_todo(const struct psc_state *s)
{
	return (s->todo[PSC_TEST_PIPEL] || s->todo[PSC_TEST_NSMTP] ||
	    s->todo[PSC_TEST_BARLF]);
}

/* test_enabled - is the test configured on? */
static int
test_enabled(enum psc_test t)
{
	switch (t) {
	case PSC_TEST_PREGR:
		return (1);
	case PSC_TEST_DNSBL:
		return (psc_sites && psc_sites->nsite > 0);
	case PSC_TEST_PIPEL:
		return (psc_var.pipel_enable);
	case PSC_TEST_NSMTP:
		return (psc_var.nsmtp_enable);
	case PSC_TEST_BARLF:
		return (psc_var.barlf_enable);
	default:
		return (0);
	}
}

/* test_ttl - how long a pass is valid */
static long
test_ttl(const struct psc_state *s, enum psc_test t)
{
	if (s->allowlisted)
		return (s->dnsbl_ttl);
	switch (t) {
	case PSC_TEST_PREGR:
		return (psc_var.greet_ttl);
	case PSC_TEST_DNSBL:
		return (s->dnsbl_ttl);
	case PSC_TEST_PIPEL:
		return (psc_var.pipel_ttl);
	case PSC_TEST_NSMTP:
		return (psc_var.nsmtp_ttl);
	default:
		return (psc_var.barlf_ttl);
	}
}

/* update_cache - record passed tests; 1 if every enabled test is valid */
static int
update_cache(struct psc_state *s)
{
	long	 now = (long)time(NULL);
	int	 i, complete = 1;

	for (i = 0; i < PSC_NTESTS; i++) {
		if (s->fail[i])
			return (0);
		if (s->pass[i])
			s->stamps[i] = now + test_ttl(s, (enum psc_test)i);
		else if (!test_enabled((enum psc_test)i))
			s->stamps[i] = PSC_STAMP_DISABLED;
		if (test_enabled((enum psc_test)i) && s->stamps[i] <= now)
			complete = 0;
	}
	if (psc_cache)
		(void)psc_cache_put(psc_cache, s->addr, s->stamps);
	return (complete);
}

/* psc_conclude - the client may talk to smtpd */
void
psc_conclude(struct psc_state *s)
{
	int	 i, failed = 0;

	for (i = 0; i < PSC_NTESTS; i++)
		failed |= s->fail[i];
	if (!failed && !s->denylisted) {
		(void)update_cache(s);
		log_info("PASS NEW %s", psc_client(s));
	}
	psc_send_socket(s);
}

/* psc_pass_rcpt - RCPT without a failure: store and log it now */
void
psc_pass_rcpt(struct psc_state *s)
{
	int	 i, failed = 0;

	for (i = 0; i < PSC_NTESTS; i++)
		failed |= s->fail[i];
	if (failed || s->denylisted || s->cached)
		return;
	s->cached = 1;
	if (update_cache(s))
		log_info("PASS NEW %s", psc_client(s));
}

/* psc_finish_after_smtp - the dummy engine is done with the client */
void
psc_finish_after_smtp(struct psc_state *s)
{
	int	 i, failed = 0;

	for (i = 0; i < PSC_NTESTS; i++)
		failed |= s->fail[i];
	if (s->cached) {
		/* Stored at RCPT; undo a pass a later failure contradicts. */
		if (!failed || psc_cache == NULL)
			return;
		for (i = 0; i < PSC_NTESTS; i++)
			if (s->fail[i])
				s->stamps[i] = PSC_STAMP_NEW;
		(void)psc_cache_put(psc_cache, s->addr, s->stamps);
		return;
	}
	if (!failed && !s->denylisted && update_cache(s))
		log_info("PASS NEW %s", psc_client(s));
}

/* psc_parse_action - ignore, enforce or drop */
int
psc_parse_action(const char *param, const char *value)
{
	if (strcasecmp(value, "ignore") == 0)
		return (PSC_ACT_IGNORE);
	if (strcasecmp(value, "enforce") == 0)
		return (PSC_ACT_ENFORCE);
	if (strcasecmp(value, "drop") == 0)
		return (PSC_ACT_DROP);
	log_fatal("bad %s value \"%s\": specify ignore, enforce or drop",
	    param, log_safe(value));
}
