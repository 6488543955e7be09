/*
 * NAME
 *	smtpd_dns - the client's name at connect, on DNS workers of its own
 * SYNOPSIS
 *	#include "smtpd_dns.h"
 *
 *	void	smtpd_dns_init(struct event_base *base, int threads);
 *	void	smtpd_dns_client_name(struct smtpd_check_state *st,
 *	    smtpd_dns_done_fn *done, void *arg);
 *	void	smtpd_dns_fini(void);
 * DESCRIPTION
 *	The PTR and forward lookups of a new client can take as long as
 *	the slowest DNS server of its reverse zone (seconds, each retry),
 *	and the client chooses that server. Run on the policy workers,
 *	a few clients from a zone that never answers held every policy
 *	thread and every other client's HELO, RCPT and AUTH waited behind
 *	them. So the connect-time name lookup has a pool of its own
 *	(smtpd_dns_worker_threads; its threads hold no maps and no
 *	database connection, so they are cheap), and the work in flight
 *	per client is bounded: while a lookup for an address runs, later
 *	sessions from the same address wait for its result instead of
 *	starting another, so one address never holds more than one DNS
 *	thread however many connections it opens.
 *
 *	smtpd_dns_client_name() fills st's client_name,
 *	reverse_client_name and client_name_status as
 *	smtpd_check_name_lookup() does, then calls done(arg) on the event
 *	loop. st must stay valid until then.
 *
 *	Only the connect stage with smtpd_delay_reject=yes comes here
 *	(the default: the client list is evaluated at RCPT, where the
 *	name is already known). DNS work inside restrictions
 *	(reject_unknown_helo_hostname, reject_rbl_client...) still runs
 *	on the policy workers.
 * DIAGNOSTICS
 *	None: a lookup that fails leaves the name "unknown" (or
 *	SMTPD_NAME_TEMPFAIL), as smtpd_check_name_lookup() says.
 */
#include <stdlib.h>
#include <string.h>

#include "smtpd_check.h"
#include "smtpd_dns.h"
#include "workq.h"
#include "xalloc.h"

#define DNS_BUCKETS	1024

struct dns_wait {
	struct smtpd_check_state *st;
	smtpd_dns_done_fn *done;
	void	*arg;
	struct dns_wait *next;
};

/* One lookup in flight for one client address. */
struct dns_name {
	char	*addr;
	struct smtpd_check_state result;	/* written by the worker */
	struct dns_wait *waiters;		/* oldest first */
	struct dns_wait **tail;
	struct dns_name *next;			/* hash chain */
};

static struct workq *dns_wq;
static struct dns_name *dns_table[DNS_BUCKETS];

/* dns_worker - a DNS thread needs no context of its own */
static void *
dns_worker(void)
{
	smtpd_check_dns_init();
	return (NULL);
}

/* dns_hash - bucket of an address */
static unsigned
dns_hash(const char *s)
{
	unsigned h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return (h % DNS_BUCKETS);
}

/* dns_job - on a DNS worker: the lookup */
static void
dns_job(void *arg, void *thread_ctx)
{
	struct dns_name *n = arg;

	smtpd_check_name_lookup(&n->result);
}

/* dns_free - a finished (or dropped) lookup */
static void
dns_free(struct dns_name *n)
{
	struct dns_wait *w;

	while ((w = n->waiters) != NULL) {
		n->waiters = w->next;
		free(w);
	}
	free(n->addr);
	free(n);
}

/* dns_done - on the loop: every session waiting for this address */
static void
dns_done(void *arg)
{
	struct dns_name *n = arg, **pp;
	struct dns_wait *w, *next;

	for (pp = &dns_table[dns_hash(n->addr)]; *pp != n; pp = &(*pp)->next)
		;
	*pp = n->next;
	w = n->waiters;
	n->waiters = NULL;
	for (; w != NULL; w = next) {
		next = w->next;
		memcpy(w->st->client_name, n->result.client_name,
		    sizeof(w->st->client_name));
		memcpy(w->st->reverse_client_name,
		    n->result.reverse_client_name,
		    sizeof(w->st->reverse_client_name));
		w->st->client_name_status = n->result.client_name_status;
		w->done(w->arg);
		free(w);
	}
	dns_free(n);
}

/* smtpd_dns_init - the DNS workers */
void
smtpd_dns_init(struct event_base *base, int threads)
{
	dns_wq = workq_new(base, threads, dns_worker, NULL);
}

/* smtpd_dns_client_name - join the lookup for st's address, or start it */
void
smtpd_dns_client_name(struct smtpd_check_state *st, smtpd_dns_done_fn *done,
    void *arg)
{
	const char *addr = st->client_addr ? st->client_addr : "";
	struct dns_name *n;
	struct dns_wait *w = xcalloc(1, sizeof(*w));
	unsigned h = dns_hash(addr);

	w->st = st;
	w->done = done;
	w->arg = arg;
	for (n = dns_table[h]; n != NULL; n = n->next)
		if (strcmp(n->addr, addr) == 0)
			break;
	if (n == NULL) {
		n = xcalloc(1, sizeof(*n));
		n->addr = xstrdup(addr);
		n->result.client_addr = st->client_addr ? n->addr : NULL;
		n->tail = &n->waiters;
		n->next = dns_table[h];
		dns_table[h] = n;
		workq_submit(dns_wq, dns_job, dns_done, n);
	}
	*n->tail = w;
	n->tail = &w->next;
}

/*
 * smtpd_dns_fini - stop the workers (exit only). Lookups that did not
 * finish stay in the table, and with them the sessions waiting for
 * them, which no longer have a way back to the loop: still reachable,
 * as every live session is at exit.
 */
void
smtpd_dns_fini(void)
{
	workq_free(dns_wq);
	dns_wq = NULL;
}
