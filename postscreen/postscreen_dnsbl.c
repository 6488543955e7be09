/*
 * NAME
 *	postscreen_dnsbl - weighted DNSBL/DNSWL scoring for postscreen
 * SYNOPSIS
 *	#include "postscreen.h"
 *
 *	struct psc_dnsbl_sites *psc_dnsbl_parse(const char *sites,
 *	    psc_dnsbl_warn_fn *warn, void *ctx);
 *	void	psc_dnsbl_sites_free(struct psc_dnsbl_sites *s);
 *	int	psc_dnsbl_filter_parse(const char *filter,
 *	    struct psc_dnsbl_site *site, char *err, size_t errlen);
 *	long	psc_dnsbl_score_domain(const struct psc_dnsbl_sites *s,
 *	    const char *domain, const struct strv *replies,
 *	    const char **best_name, long *best_weight);
 *
 *	struct psc_dnsbl_req *psc_dnsbl_request(
 *	    const struct psc_dnsbl_sites *s, struct workq *q,
 *	    const char *client_addr, psc_dnsbl_done_fn *done, void *ctx);
 *	long	psc_dnsbl_result(const struct psc_dnsbl_req *r,
 *	    const char **name, int *complete);
 *	int	psc_dnsbl_errors(const struct psc_dnsbl_req *r);
 *	void	psc_dnsbl_release(struct psc_dnsbl_req *r);
 *	void	psc_dnsbl_shutdown(void);
 *	char	*psc_dnsbl_query_name(const char *addr, const char *zone);
 * DESCRIPTION
 *	postscreen_dnsbl_sites is parsed as Postfix parses it: a list of
 *	entries "domain[=filter][*weight]" separated by commas or white
 *	space. The weight follows the first '*' and must be an integer
 *	(negative for allow-lists; default 1). The filter follows the
 *	first '=' and has four dot-separated octet patterns, each a number
 *	or "[a;b..c;...]" with numbers and ranges (Postfix ip_match).
 *	A domain may appear in several entries, each with its own filter
 *	and weight; the zone is queried once.
 *
 *	Scoring (postconf(5)): an entry contributes its weight at most
 *	once, however many of the zone's replies match it; every matching
 *	entry contributes, so entries for one zone add up. Without a
 *	filter any A reply matches. The entry with the largest weight
 *	names the list in the logs and reject replies.
 *
 *	An entry Postfix refuses (for instance the seed's
 *	"spamrbl.imp.ch==127.0.0.5*2": Postfix splits at the first '='
 *	and the filter "=127.0.0.5" is not valid ip_match syntax, which
 *	makes Postfix's postscreen exit with "bad DNSBL filter syntax")
 *	is reported through warn() and skipped: postern keeps screening
 *	with the valid entries instead of refusing to start.
 *
 *	psc_dnsbl_request() queries every distinct zone in parallel on
 *	the worker pool (blocking lib/dns.h lookups), adds up the score
 *	as replies return on the loop, and calls done(ctx) once all are
 *	in. Sessions of one client whose queries overlap share them: a
 *	request for an address whose queries are still running joins
 *	them (done() is called for each waiter) instead of asking again. psc_dnsbl_result() reads the score so far;
 *	psc_dnsbl_errors() says how many zones gave a temporary error
 *	(those count as "not listed", as in Postfix). The caller must
 *	call psc_dnsbl_release() exactly once; after that done() is never
 *	called, and jobs still running finish harmlessly.
 *	psc_dnsbl_shutdown(), at exit after workq_free(), frees the jobs
 *	whose done() the pool dropped.
 * DIAGNOSTICS
 *	psc_dnsbl_parse() never fails: bad entries are warned about and
 *	skipped. A DNS error (timeout, SERVFAIL) counts as "not listed".
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dns.h"
#include "log.h"
#include "postscreen.h"
#include "str.h"
#include "workq.h"
#include "xalloc.h"

/*
 * One score per client address while its queries run; every session of
 * that client waits on it (Postfix shares DNSBL work the same way: bots
 * open parallel connections). A score is referenced by its running jobs
 * and by its waiters.
 */
struct psc_dnsbl_score {
	struct psc_dnsbl_score *next;	/* in-flight list */
	char	*addr;
	int	 refcount;
	int	 pending;
	int	 errors;			/* zones in temporary error */
	long	 total;
	long	 best_weight;
	const char *best_name;
	const struct psc_dnsbl_sites *sites;
	struct psc_dnsbl_req *waiters;
};

/* What a session holds: one waiter on a score. */
struct psc_dnsbl_req {
	struct psc_dnsbl_req *next;
	struct psc_dnsbl_score *score;
	psc_dnsbl_done_fn *done;
	void	*ctx;
};

struct psc_dnsbl_job {
	struct psc_dnsbl_job *prev, *next;	/* outstanding jobs */
	struct psc_dnsbl_score *score;
	const char *domain;
	char	*query;
	struct strv *replies;
	int	 status;
};

static struct psc_dnsbl_score *psc_inflight;
static struct psc_dnsbl_job *psc_jobs;		/* done() not yet run */

/* warn - report through the caller's hook */
static void
warn(psc_dnsbl_warn_fn *fn, void *ctx, const char *fmt, const char *a,
    const char *b)
{
	char	 msg[512];

	snprintf(msg, sizeof(msg), fmt, a, b);
	if (fn)
		fn(msg, ctx);
	else
		log_warn("%s", msg);
}

/* valid_domain - letters, digits, '-', '.', labels of 1-63 */
static int
valid_domain(const char *s)
{
	size_t	 label = 0, len = strlen(s);

	if (len == 0 || len > 253)
		return (0);
	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0)
				return (0);
			label = 0;
		} else if (isalnum((unsigned char)*s) || *s == '-' ||
		    *s == '_') {
			if (++label > 63)
				return (0);
		} else
			return (0);
	}
	return (label > 0);
}

/* parse_num - a decimal octet value, advancing *cp */
static int
parse_num(const char **cp)
{
	long	 v = 0;
	const char *s = *cp;

	if (!isdigit((unsigned char)*s))
		return (-1);
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (*s++ - '0');
		if (v > 255)
			return (-1);
	}
	*cp = s;
	return ((int)v);
}

/* parse_octet - one octet pattern: number or [list] */
static const char *
parse_octet(const char *s, unsigned char *set, char *err, size_t errlen)
{
	int	 lo, hi, i;

	if (*s != '[') {
		if ((lo = parse_num(&s)) < 0) {
			snprintf(err, errlen, "bad octet value");
			return (NULL);
		}
		set[lo] = 1;
		return (s);
	}
	for (s++;;) {
		if ((lo = parse_num(&s)) < 0) {
			snprintf(err, errlen, "bad octet value in [...]");
			return (NULL);
		}
		hi = lo;
		if (s[0] == '.' && s[1] == '.') {
			s += 2;
			if ((hi = parse_num(&s)) < 0 || hi < lo) {
				snprintf(err, errlen, "bad octet range");
				return (NULL);
			}
		}
		for (i = lo; i <= hi; i++)
			set[i] = 1;
		if (*s == ';') {
			s++;
			continue;
		}
		if (*s == ']')
			return (s + 1);
		snprintf(err, errlen, "expected ';' or ']'");
		return (NULL);
	}
}

/* psc_dnsbl_filter_parse - parse "d.d.d.d" with [..] patterns */
int
psc_dnsbl_filter_parse(const char *filter, struct psc_dnsbl_site *site,
    char *err, size_t errlen)
{
	const char *s = filter;
	int	 i;

	memset(site->pattern, 0, sizeof(site->pattern));
	for (i = 0; i < 4; i++) {
		if ((s = parse_octet(s, site->pattern[i], err, errlen)) == NULL)
			return (-1);
		if (i < 3 && *s++ != '.') {
			snprintf(err, errlen, "expected '.' after octet %d",
			    i + 1);
			return (-1);
		}
	}
	if (*s != '\0') {
		snprintf(err, errlen, "garbage after the fourth octet");
		return (-1);
	}
	return (0);
}

/* add_domain - remember a zone once */
static void
add_domain(struct psc_dnsbl_sites *s, const char *domain)
{
	size_t	 i;

	for (i = 0; i < s->ndomain; i++)
		if (strcmp(s->domain[i], domain) == 0)
			return;
	s->domain = xrealloc(s->domain, (s->ndomain + 1) * sizeof(char *));
	s->domain[s->ndomain++] = xstrdup(domain);
}

/* parse_entry - one "domain[=filter][*weight]" entry */
static int
parse_entry(struct psc_dnsbl_sites *s, const char *entry,
    psc_dnsbl_warn_fn *wfn, void *wctx)
{
	struct psc_dnsbl_site site;
	char	*copy = xstrdup(entry), *wtext, *ftext, junk, err[128];
	int	 weight;

	memset(&site, 0, sizeof(site));
	site.weight = 1;
	if ((wtext = strchr(copy, '*')) != NULL) {
		*wtext++ = '\0';
		if (sscanf(wtext, "%d%c", &weight, &junk) != 1) {
			warn(wfn, wctx, "bad DNSBL weight factor \"%s\" in "
			    "\"%s\"; entry ignored", wtext, entry);
			goto bad;
		}
		site.weight = weight;
	}
	if ((ftext = strchr(copy, '=')) != NULL) {
		*ftext++ = '\0';
		if (psc_dnsbl_filter_parse(ftext, &site, err,
		    sizeof(err)) < 0) {
			char	 msg[300];

			snprintf(msg, sizeof(msg), "%s: \"%s\"", err, ftext);
			warn(wfn, wctx, "bad DNSBL filter syntax: %s in "
			    "\"%s\"; entry ignored", msg, entry);
			goto bad;
		}
		site.filter = xstrdup(ftext);
	}
	if (!valid_domain(copy)) {
		warn(wfn, wctx, "bad DNSBL domain name \"%s\" in \"%s\"; "
		    "entry ignored", copy, entry);
		free(site.filter);
		goto bad;
	}
	site.domain = str_lower(xstrdup(copy));
	s->site = xrealloc(s->site, (s->nsite + 1) * sizeof(site));
	s->site[s->nsite++] = site;
	add_domain(s, site.domain);
	free(copy);
	return (0);
bad:
	free(copy);
	return (-1);
}

/* psc_dnsbl_parse - parse postscreen_dnsbl_sites */
struct psc_dnsbl_sites *
psc_dnsbl_parse(const char *text, psc_dnsbl_warn_fn *wfn, void *wctx)
{
	struct psc_dnsbl_sites *s = xcalloc(1, sizeof(*s));
	char	*copy = xstrdup(text ? text : ""), *cp = copy, *tok;

	while ((tok = str_token(&cp, STR_LIST_DELIMS)) != NULL)
		(void)parse_entry(s, tok, wfn, wctx);
	free(copy);
	return (s);
}

/* psc_dnsbl_sites_free - release a parsed list */
void
psc_dnsbl_sites_free(struct psc_dnsbl_sites *s)
{
	size_t	 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nsite; i++) {
		free(s->site[i].domain);
		free(s->site[i].filter);
	}
	for (i = 0; i < s->ndomain; i++)
		free(s->domain[i]);
	free(s->site);
	free(s->domain);
	free(s);
}

/* site_match - does one of the replies match the entry's filter? */
static int
site_match(const struct psc_dnsbl_site *site, const struct strv *replies)
{
	struct in_addr in;
	const unsigned char *b;
	size_t	 i;

	for (i = 0; i < replies->argc; i++) {
		if (inet_pton(AF_INET, replies->argv[i], &in) != 1)
			continue;		/* AAAA: not a DNSBL code */
		if (site->filter == NULL)
			return (1);
		b = (const unsigned char *)&in.s_addr;
		if (site->pattern[0][b[0]] && site->pattern[1][b[1]] &&
		    site->pattern[2][b[2]] && site->pattern[3][b[3]])
			return (1);
	}
	return (0);
}

/* psc_dnsbl_score_domain - the score one zone's replies contribute */
long
psc_dnsbl_score_domain(const struct psc_dnsbl_sites *s, const char *domain,
    const struct strv *replies, const char **best_name, long *best_weight)
{
	long	 total = 0;
	size_t	 i;

	for (i = 0; i < s->nsite; i++) {
		if (strcmp(s->site[i].domain, domain) != 0 ||
		    !site_match(&s->site[i], replies))
			continue;
		total += s->site[i].weight;
		if (best_name && (*best_name == NULL ||
		    *best_weight < s->site[i].weight)) {
			*best_name = s->site[i].domain;
			*best_weight = s->site[i].weight;
		}
	}
	return (total);
}

/* psc_dnsbl_query_name - "4.3.2.1.zone", or nibbles for IPv6 */
char *
psc_dnsbl_query_name(const char *addr, const char *zone)
{
	unsigned char b[16];
	struct buf *out;
	int	 i;

	if (inet_pton(AF_INET, addr, b) == 1)
		return (xasprintf("%u.%u.%u.%u.%s", b[3], b[2], b[1], b[0],
		    zone));
	if (inet_pton(AF_INET6, addr, b) != 1)
		return (NULL);
	out = buf_new(80);
	for (i = 15; i >= 0; i--)
		buf_printf(out, "%x.%x.", b[i] & 0xf, b[i] >> 4);
	buf_puts(out, zone);
	return (buf_steal(out));
}

/* job_run - worker thread: one zone's A query */
static void
job_run(void *arg, void *thread_ctx)
{
	struct psc_dnsbl_job *job = arg;
	char	 err[256];

	(void)thread_ctx;
	job->status = dns_lookup_addr(job->query, job->replies, err,
	    sizeof(err));
	if (job->status == DNS_RETRY)
		log_debug("dnsbl query %s: %s", job->query, err);
}

/* unlink_inflight - no new session may join this score */
static void
unlink_inflight(struct psc_dnsbl_score *sc)
{
	struct psc_dnsbl_score **pp;

	for (pp = &psc_inflight; *pp; pp = &(*pp)->next)
		if (*pp == sc) {
			*pp = sc->next;
			break;
		}
	sc->next = NULL;
}

/* score_unref - drop one reference */
static void
score_unref(struct psc_dnsbl_score *sc)
{
	if (--sc->refcount > 0)
		return;
	unlink_inflight(sc);
	free(sc->addr);
	free(sc);
}

/* job_forget - off the outstanding list, freed */
static void
job_forget(struct psc_dnsbl_job *job)
{
	if (job->prev)
		job->prev->next = job->next;
	else
		psc_jobs = job->next;
	if (job->next)
		job->next->prev = job->prev;
	strv_free(job->replies);
	free(job->query);
	free(job);
}

/* job_done - loop thread: add the zone's score, notify when complete */
static void
job_done(void *arg)
{
	struct psc_dnsbl_job *job = arg;
	struct psc_dnsbl_score *sc = job->score;
	struct psc_dnsbl_req *w;

	if (job->status == DNS_OK)
		sc->total += psc_dnsbl_score_domain(sc->sites, job->domain,
		    job->replies, &sc->best_name, &sc->best_weight);
	else if (job->status == DNS_RETRY)
		sc->errors++;
	if (--sc->pending == 0) {
		unlink_inflight(sc);
		/* Callbacks only note the result; none releases here. */
		for (w = sc->waiters; w; w = w->next)
			if (w->done)
				w->done(w->ctx);
	}
	job_forget(job);
	score_unref(sc);
}

/* score_new - start the queries of every zone */
static struct psc_dnsbl_score *
score_new(const struct psc_dnsbl_sites *s, struct workq *q, const char *addr)
{
	struct psc_dnsbl_score *sc = xcalloc(1, sizeof(*sc));
	struct psc_dnsbl_job *job;
	size_t	 i;
	char	*name;

	sc->addr = xstrdup(addr);
	sc->sites = s;
	for (i = 0; i < s->ndomain; i++) {
		if ((name = psc_dnsbl_query_name(addr, s->domain[i])) == NULL)
			continue;
		job = xcalloc(1, sizeof(*job));
		job->score = sc;
		job->domain = s->domain[i];
		job->query = name;
		job->replies = strv_new();
		job->next = psc_jobs;
		if (psc_jobs)
			psc_jobs->prev = job;
		psc_jobs = job;
		sc->refcount++;
		sc->pending++;
		workq_submit(q, job_run, job_done, job);
	}
	if (sc->pending > 0) {
		sc->next = psc_inflight;
		psc_inflight = sc;
	}
	return (sc);
}

/* psc_dnsbl_request - query every zone for a client, or join its queries */
struct psc_dnsbl_req *
psc_dnsbl_request(const struct psc_dnsbl_sites *s, struct workq *q,
    const char *addr, psc_dnsbl_done_fn *done, void *ctx)
{
	struct psc_dnsbl_req *w = xcalloc(1, sizeof(*w));
	struct psc_dnsbl_score *sc;

	for (sc = psc_inflight; sc; sc = sc->next)
		if (sc->sites == s && strcmp(sc->addr, addr) == 0)
			break;
	if (sc == NULL)
		sc = score_new(s, q, addr);
	sc->refcount++;
	w->score = sc;
	w->done = done;
	w->ctx = ctx;
	w->next = sc->waiters;
	sc->waiters = w;
	return (w);
}

/* psc_dnsbl_result - the score so far */
long
psc_dnsbl_result(const struct psc_dnsbl_req *r, const char **name,
    int *complete)
{
	if (name)
		*name = r->score->best_name;
	if (complete)
		*complete = (r->score->pending == 0);
	return (r->score->total);
}

/* psc_dnsbl_errors - how many zones could not be asked */
int
psc_dnsbl_errors(const struct psc_dnsbl_req *r)
{
	return (r->score->errors);
}

/* psc_dnsbl_shutdown - after workq_free(): free the jobs it dropped */
void
psc_dnsbl_shutdown(void)
{
	struct psc_dnsbl_score *sc;

	while (psc_jobs) {
		sc = psc_jobs->score;
		job_forget(psc_jobs);
		score_unref(sc);
	}
}

/* psc_dnsbl_release - the session no longer wants the result */
void
psc_dnsbl_release(struct psc_dnsbl_req *r)
{
	struct psc_dnsbl_req **pp;
	struct psc_dnsbl_score *sc;

	if (r == NULL)
		return;
	sc = r->score;
	for (pp = &sc->waiters; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	free(r);
	score_unref(sc);
}
