/*
 * NAME
 *	postscreen_early - the tests before the SMTP greeting
 * SYNOPSIS
 *	#include "postscreen.h"
 *
 *	void	psc_early_tests(struct psc_state *s);
 *	void	psc_early_cancel(struct psc_state *s);
 * DESCRIPTION
 *	psc_early_tests() sends the teaser "220-$postscreen_greet_banner"
 *	(the first line of a multi-line greeting: a real client waits for
 *	the last line, a bot that does not read talks too early), starts
 *	the DNSBL queries of every site in parallel, and waits
 *	postscreen_greet_wait. A client that sends anything during the
 *	wait fails the pregreet test ("PREGREET n after t from
 *	[addr]:port: text"; postscreen_greet_action). The data is only
 *	peeked at, so an ignored pregreet still reaches smtpd intact.
 *
 *	The DNSBL score is final when every zone has answered, or at
 *	postscreen_dnsbl_timeout (then the test is neither passed nor
 *	failed: it runs again next time). A score at or above
 *	postscreen_dnsbl_threshold fails the test ("DNSBL rank N for
 *	[addr]:port"; postscreen_dnsbl_action). When
 *	postscreen_dnsbl_allowlist_threshold is negative and the score is
 *	at or below it, the client skips every other test at once (the
 *	greet wait ends early) and all tests count as passed for the DNSBL
 *	time to live.
 *
 *	Then the client goes to the dummy SMTP engine (an after-220 test
 *	is due or an "enforce" action must reject it) or to smtpd.
 *
 *	The DNSBL pass lives postscreen_dnsbl_max_ttl when every zone
 *	answered and none listed the client, postscreen_dnsbl_min_ttl
 *	when some listed it (below the threshold) or a zone could not be
 *	asked (DNS error: counted as not listed, but retried soon):
 *	lib/dns.h does not return the records' TTLs, so the two bounds
 *	stand in for Postfix's TTL-from-the-reply.
 * DIAGNOSTICS
 *	EOF during the wait: "HANGUP after t from [addr]:port in tests
 *	before SMTP handshake". DNSBL timeout: a warning.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "log.h"
#include "postscreen.h"
#include "xalloc.h"

static void early_finish(struct psc_state *);

/* set_timer - (re)arm a timer in seconds */
static void
set_timer(struct event *ev, long sec)
{
	struct timeval tv;

	tv.tv_sec = sec;
	tv.tv_usec = 0;
	evtimer_add(ev, &tv);
}

/* free_event - delete and free */
static void
free_event(struct event **ev)
{
	if (*ev) {
		event_free(*ev);
		*ev = NULL;
	}
}

/* psc_early_cancel - forget every early event */
void
psc_early_cancel(struct psc_state *s)
{
	free_event(&s->read_ev);
	free_event(&s->greet_timer);
	free_event(&s->dnsbl_timer);
}

/* maybe_finish - all early tests known? */
static void
maybe_finish(struct psc_state *s)
{
	if (s->early_finished)
		return;
	if (s->allowlisted || (s->greet_done && s->dnsbl_done))
		early_finish(s);
}

/* early_read - the client talked during the greet wait */
static void
early_read(evutil_socket_t fd, short what, void *arg)
{
	struct psc_state *s = arg;
	char	 data[1024], text[400];
	ssize_t	 n;

	(void)what;
	n = recv(fd, data, sizeof(data), MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		psc_hangup(s, "HANGUP");
		return;
	}
	log_info("PREGREET %zd after %s from %s: %s", n, psc_elapsed(s),
	    psc_client(s), psc_escape(data, (size_t)n, text, sizeof(text)));
	free_event(&s->read_ev);
	if (psc_fail(s, PSC_TEST_PREGR, psc_var.greet_action,
	    "550 5.5.1 Protocol error\r\n", "521 5.5.1 Protocol error\r\n"))
		return;
	/* The pregreet verdict is in; the wait is over. */
	evtimer_del(s->greet_timer);
	s->greet_done = 1;
	maybe_finish(s);
}

/* greet_timeout - the client kept quiet for the whole wait */
static void
greet_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct psc_state *s = arg;

	(void)fd;
	(void)what;
	free_event(&s->read_ev);
	if (!s->fail[PSC_TEST_PREGR] && s->todo[PSC_TEST_PREGR]) {
		s->pass[PSC_TEST_PREGR] = 1;
		s->todo[PSC_TEST_PREGR] = 0;
	}
	s->greet_done = 1;
	maybe_finish(s);
}

/* dnsbl_timer_event - timeout, or the deferred "all answers in" */
static void
dnsbl_timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct psc_state *s = arg;

	(void)fd;
	(void)what;
	if (!s->dnsbl_done) {
		log_warn("dnsbl reply timeout %lds for %s", psc_var.dnsbl_timeout,
		    psc_client(s));
		s->dnsbl_done = 1;
	}
	maybe_finish(s);
}

/* allowlist - a DNSWL score: every test counts as passed */
static void
allowlist(struct psc_state *s)
{
	int	 i;

	s->allowlisted = 1;
	s->dnsbl_ttl = psc_var.dnsbl_max_ttl;
	for (i = 0; i < PSC_NTESTS; i++) {
		if (s->todo[i] && !s->fail[i])
			s->pass[i] = 1;
		s->todo[i] = 0;
	}
	free_event(&s->read_ev);
	if (s->greet_timer)
		evtimer_del(s->greet_timer);
}

/* dnsbl_complete - every zone answered (called from the worker's done) */
static void
dnsbl_complete(void *ctx)
{
	struct psc_state *s = ctx;
	long	 score;
	int	 i, failed = 0;

	s->dnsbl_done = 1;
	score = psc_dnsbl_result(s->dnsbl_req, NULL, NULL);
	for (i = 0; i < PSC_NTESTS; i++)
		failed |= s->fail[i];
	if (psc_var.dnsbl_allow_threshold < 0 && !failed &&
	    score <= psc_var.dnsbl_allow_threshold)
		allowlist(s);
	/* Not from inside the worker pool's callback: defer. */
	set_timer(s->dnsbl_timer, 0);
}

/* dnsbl_verdict - score against the threshold; 1 if the state is gone */
static int
dnsbl_verdict(struct psc_state *s)
{
	const char *name = NULL;
	char	 reply[300];
	long	 score;
	int	 complete;

	if (!s->todo[PSC_TEST_DNSBL] || s->dnsbl_req == NULL)
		return (0);
	score = psc_dnsbl_result(s->dnsbl_req, &name, &complete);
	if (score < psc_var.dnsbl_threshold) {
		if (complete) {
			s->pass[PSC_TEST_DNSBL] = 1;
			s->todo[PSC_TEST_DNSBL] = 0;
			s->dnsbl_ttl = (name || psc_dnsbl_errors(s->dnsbl_req))
			    ? psc_var.dnsbl_min_ttl : psc_var.dnsbl_max_ttl;
		}
		return (0);
	}
	log_info("DNSBL rank %ld for %s", score, psc_client(s));
	snprintf(reply, sizeof(reply), "550 5.7.1 Service unavailable; "
	    "client [%s] blocked using %s\r\n", s->addr, name ? name : "?");
	if (psc_var.dnsbl_action == PSC_ACT_DROP) {
		reply[0] = '5', reply[1] = '2', reply[2] = '1';
		psc_fail(s, PSC_TEST_DNSBL, PSC_ACT_DROP, NULL, reply);
		return (1);
	}
	return (psc_fail(s, PSC_TEST_DNSBL, psc_var.dnsbl_action, reply,
	    NULL));
}

/* early_finish - decide: dummy SMTP engine or smtpd */
static void
early_finish(struct psc_state *s)
{
	s->early_finished = 1;
	psc_early_cancel(s);
	if (!s->allowlisted && dnsbl_verdict(s))
		return;
	psc_dnsbl_release(s->dnsbl_req);
	s->dnsbl_req = NULL;
	if (s->enforce_reply || psc_any_todo(s))
		psc_smtp_tests(s);
	else
		psc_conclude(s);
}

/* psc_early_tests - start the tests before the greeting */
void
psc_early_tests(struct psc_state *s)
{
	char	*teaser;

	s->greet_timer = evtimer_new(psc_base, greet_timeout, s);
	s->dnsbl_timer = evtimer_new(psc_base, dnsbl_timer_event, s);
	if (s->todo[PSC_TEST_PREGR] && *psc_var.greet_banner) {
		teaser = xasprintf("220-%s\r\n", psc_var.greet_banner);
		if (psc_send_reply(s, teaser) < 0) {
			free(teaser);
			psc_hangup(s, "HANGUP");
			return;
		}
		free(teaser);
		s->teaser_sent = 1;
	}
	if (s->todo[PSC_TEST_DNSBL] && psc_workq) {
		s->dnsbl_req = psc_dnsbl_request(psc_sites, psc_workq, s->addr,
		    dnsbl_complete, s);
		set_timer(s->dnsbl_timer, psc_var.dnsbl_timeout);
	} else {
		s->todo[PSC_TEST_DNSBL] = 0;
		s->dnsbl_done = 1;
	}
	if (s->todo[PSC_TEST_PREGR]) {
		s->read_ev = event_new(psc_base, s->fd, EV_READ | EV_PERSIST,
		    early_read, s);
		event_add(s->read_ev, NULL);
		set_timer(s->greet_timer, psc_var.greet_wait);
	} else {
		s->greet_done = 1;
		set_timer(s->dnsbl_timer, s->dnsbl_done ? 0 :
		    psc_var.dnsbl_timeout);
	}
}
