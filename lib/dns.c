/*
 * NAME
 *	dns - DNS lookups for every daemon, through one configurable resolver
 * SYNOPSIS
 *	See dns.h.
 * DESCRIPTION
 *	Each thread has its own resolver state (res_ninit() on first use,
 *	freed by a thread-specific destructor). When resolver_nameservers
 *	was given to dns_init(), the state's server list is replaced by
 *	those servers (IPv4 in nsaddr_list, IPv6 through _u._ext.nsaddrs,
 *	as glibc's res_send() reads them), so no query ever goes to the
 *	servers of /etc/resolv.conf. Queries use res_nquery() (no search
 *	list), with short timeouts (retrans 2s, retry 2) so a dead server
 *	becomes DNS_RETRY within seconds.
 *
 *	Answers are parsed with ns_initparse()/ns_parserr(); records of
 *	other types in the answer section (CNAME chains) are skipped.
 *	A null MX (RFC 7505, "0 .") is returned as one MX with host "".
 *
 *	dns_init() may be called again (reload); each thread notices the
 *	new server list on its next lookup. dns_initialized() tells a
 *	module whether the daemon called dns_init() at all.
 *
 *	dns_last_nxdomain() tells whether the last DNS_NOTFOUND of this
 *	thread was NXDOMAIN (the name does not exist) rather than NODATA
 *	(the name exists without records of that type).
 * DIAGNOSTICS
 *	DNS_RETRY for timeouts, SERVFAIL, REFUSED and malformed replies;
 *	DNS_NOTFOUND for NXDOMAIN, NODATA and names that cannot be
 *	queried (malformed, too long).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "xalloc.h"

#define DNS_ANSWER_MAX	65536

struct dns_server {
	int	 family;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

static struct dns_server dns_servers[MAXNS];
static int dns_nservers;
static int dns_generation;	/* bumped by dns_init() */
static int dns_inited;
static int dns_dnssec;		/* dns_set_dnssec(): DO and AD bits */
static pthread_mutex_t dns_lock = PTHREAD_MUTEX_INITIALIZER;

static pthread_key_t dns_key;
static pthread_once_t dns_key_once = PTHREAD_ONCE_INIT;

struct dns_thread {
	struct __res_state res;
	int	 generation;
	int	 nxdomain;
	int	 ad;		/* the last answer's AD bit (dns_last_ad) */
};

/* dns_thread_free - thread exit: close sockets, free glibc's copies */
static void
dns_thread_free(void *arg)
{
	struct dns_thread *t = arg;

	res_nclose(&t->res);
	free(t);
}

/* dns_key_init - the thread-specific key, once */
static void
dns_key_init(void)
{
	if (pthread_key_create(&dns_key, dns_thread_free) != 0)
		abort();
}

/* dns_parse_server - "ip", "ip:port", "[ipv6]:port", "[ipv6]", "ipv6" */
static int
dns_parse_server(const char *spec, struct dns_server *s)
{
	char	 host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL, *end;
	long	 p = 53;
	char	*ep;
	size_t	 hlen;

	if (*spec == '[') {
		if ((end = strchr(spec, ']')) == NULL)
			return (-1);
		hlen = (size_t)(end - spec - 1);
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != 0)
			return (-1);
		spec++;
	} else if ((end = strchr(spec, ':')) != NULL
	    && strchr(end + 1, ':') == NULL) {
		hlen = (size_t)(end - spec);
		port = end + 1;
	} else
		hlen = strlen(spec);
	if (hlen == 0 || hlen >= sizeof(host))
		return (-1);
	memcpy(host, spec, hlen);
	host[hlen] = 0;
	if (port) {
		p = strtol(port, &ep, 10);
		if (*port == 0 || *ep != 0 || p <= 0 || p > 65535)
			return (-1);
	}
	memset(s, 0, sizeof(*s));
	if (inet_pton(AF_INET, host, &s->sin.sin_addr) == 1) {
		s->family = AF_INET;
		s->sin.sin_family = AF_INET;
		s->sin.sin_port = htons((unsigned short)p);
	} else if (inet_pton(AF_INET6, host, &s->sin6.sin6_addr) == 1) {
		s->family = AF_INET6;
		s->sin6.sin6_family = AF_INET6;
		s->sin6.sin6_port = htons((unsigned short)p);
	} else
		return (-1);
	return (0);
}

/* dns_init - remember resolver_nameservers (call before threads run) */
int
dns_init(const char *nameservers, char *err, size_t errlen)
{
	struct dns_server tmp[MAXNS];
	char	*copy, *cp, *tok;
	int	 n = 0;

	pthread_once(&dns_key_once, dns_key_init);
	copy = xstrdup(nameservers ? nameservers : "");
	cp = copy;
	while ((tok = str_token(&cp, STR_LIST_DELIMS)) != NULL) {
		if (n == MAXNS) {
			snprintf(err, errlen, "resolver_nameservers: more than "
			    "%d servers", MAXNS);
			free(copy);
			return (-1);
		}
		if (dns_parse_server(tok, &tmp[n]) < 0) {
			snprintf(err, errlen, "resolver_nameservers: bad "
			    "server \"%.100s\"", tok);
			free(copy);
			return (-1);
		}
		n++;
	}
	free(copy);
	pthread_mutex_lock(&dns_lock);
	memcpy(dns_servers, tmp, sizeof(tmp));
	dns_nservers = n;
	__atomic_add_fetch(&dns_generation, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&dns_inited, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&dns_lock);
	return (0);
}

/* dns_initialized - has dns_init() been called in this process? */
int
dns_initialized(void)
{
	return (__atomic_load_n(&dns_inited, __ATOMIC_SEQ_CST));
}

/* dns_apply_servers - replace the resolv.conf servers in a fresh state */
static void
dns_apply_servers(struct __res_state *res)
{
	int	 i;

	if (dns_nservers == 0)
		return;
	for (i = 0; i < MAXNS; i++) {
		free(res->_u._ext.nsaddrs[i]);
		res->_u._ext.nsaddrs[i] = NULL;
		memset(&res->nsaddr_list[i], 0, sizeof(res->nsaddr_list[i]));
	}
	for (i = 0; i < dns_nservers; i++) {
		if (dns_servers[i].family == AF_INET) {
			res->nsaddr_list[i] = dns_servers[i].sin;
		} else {
			res->_u._ext.nsaddrs[i] = xmalloc(sizeof(struct
			    sockaddr_in6));
			memcpy(res->_u._ext.nsaddrs[i], &dns_servers[i].sin6,
			    sizeof(struct sockaddr_in6));
		}
	}
	res->nscount = dns_nservers;
	res->_u._ext.nscount = 0;	/* make res_send() copy them */
}

/* dns_state - this thread's resolver, initialised on first use */
static struct dns_thread *
dns_state(char *err, size_t errlen)
{
	struct dns_thread *t;

	pthread_once(&dns_key_once, dns_key_init);
	t = pthread_getspecific(dns_key);
	if (t != NULL && t->generation == __atomic_load_n(&dns_generation,
	    __ATOMIC_SEQ_CST))
		return (t);
	pthread_mutex_lock(&dns_lock);
	if (t != NULL) {
		res_nclose(&t->res);
		memset(&t->res, 0, sizeof(t->res));
	} else {
		t = xcalloc(1, sizeof(*t));
		pthread_setspecific(dns_key, t);
	}
	if (res_ninit(&t->res) < 0 && dns_nservers == 0) {
		pthread_mutex_unlock(&dns_lock);
		snprintf(err, errlen, "resolver initialisation failed");
		return (NULL);
	}
	dns_apply_servers(&t->res);
	t->res.retrans = 2;
	t->res.retry = 2;
	t->res.options &= ~(RES_DNSRCH | RES_DEFNAMES);
	if (dns_dnssec)	/* trust-ad: glibc keeps the AD bit only then */
		t->res.options |= RES_USE_EDNS0 | RES_USE_DNSSEC | RES_TRUSTAD;
	t->res.options |= RES_INIT;
	t->generation = dns_generation;
	pthread_mutex_unlock(&dns_lock);
	return (t);
}

/* dns_query - one query; fills msg, or returns NOTFOUND/RETRY */
static int
dns_query(const char *name, int type, unsigned char **answer, ns_msg *msg,
    char *err, size_t errlen)
{
	struct dns_thread *t;
	unsigned char wire[NS_MAXCDNAME];
	int	 len;

	*answer = NULL;
	if ((t = dns_state(err, errlen)) == NULL)
		return (DNS_RETRY);
	t->nxdomain = 0;
	t->ad = 0;
	if (name == NULL || *name == 0 || strlen(name) > 253
	    || ns_name_pton(name, wire, sizeof(wire)) < 0) {
		snprintf(err, errlen, "malformed domain name");
		t->nxdomain = 1;
		return (DNS_NOTFOUND);
	}
	*answer = xmalloc(DNS_ANSWER_MAX);
	memset(*answer, 0, NS_HFIXEDSZ);	/* no reply: no AD bit */
	len = res_nquery(&t->res, name, ns_c_in, type, *answer,
	    DNS_ANSWER_MAX);
	/* NXDOMAIN and NODATA leave the reply's header in answer too */
	t->ad = dns_dnssec && ((HEADER *)*answer)->ad;
	if (len < 0) {
		free(*answer);
		*answer = NULL;
		switch (t->res.res_h_errno) {
		case HOST_NOT_FOUND:
			t->nxdomain = 1;
			snprintf(err, errlen, "Host not found");
			return (DNS_NOTFOUND);
		case NO_DATA:
			snprintf(err, errlen, "No data of the requested type");
			return (DNS_NOTFOUND);
		default:
			snprintf(err, errlen, "Host not found, try again");
			return (DNS_RETRY);
		}
	}
	if (len > DNS_ANSWER_MAX)
		len = DNS_ANSWER_MAX;
	if (ns_initparse(*answer, len, msg) < 0) {
		free(*answer);
		*answer = NULL;
		snprintf(err, errlen, "Malformed DNS server reply");
		return (DNS_RETRY);
	}
	return (DNS_OK);
}

/* dns_last_nxdomain - was the last NOTFOUND of this thread NXDOMAIN? */
int
dns_last_nxdomain(void)
{
	struct dns_thread *t;

	pthread_once(&dns_key_once, dns_key_init);
	t = pthread_getspecific(dns_key);
	return (t ? t->nxdomain : 0);
}

/* dns_last_ad - did this thread's last answer have the AD bit? */
int
dns_last_ad(void)
{
	struct dns_thread *t;

	pthread_once(&dns_key_once, dns_key_init);
	t = pthread_getspecific(dns_key);
	return (t ? t->ad : 0);
}

/* dns_set_dnssec - ask for DNSSEC (DO and AD bits) from now on */
void
dns_set_dnssec(int on)
{
	pthread_mutex_lock(&dns_lock);
	if (dns_dnssec != !!on) {
		dns_dnssec = !!on;
		__atomic_add_fetch(&dns_generation, 1, __ATOMIC_SEQ_CST);
	}
	pthread_mutex_unlock(&dns_lock);
}

/* dns_set_nxdomain - overrule the flag for a combined answer */
static void
dns_set_nxdomain(int value)
{
	struct dns_thread *t = pthread_getspecific(dns_key);

	if (t)
		t->nxdomain = value;
}

/* dns_set_ad - overrule the AD flag for a combined answer */
static void
dns_set_ad(int value)
{
	struct dns_thread *t = pthread_getspecific(dns_key);

	if (t)
		t->ad = value;
}

/* dns_answers - query name for type; a->rr[0..a->n-1] are the answer
 * section's records of that type (they point into a->buf) */
struct dns_answer {
	unsigned char *buf;
	ns_msg	 msg;
	ns_rr	*rr;
	int	 n;
};

static int
dns_answers(const char *name, int type, struct dns_answer *a, char *err,
    size_t errlen)
{
	ns_rr	 rr;
	int	 i, n, st;

	a->rr = NULL;
	a->n = 0;
	if ((st = dns_query(name, type, &a->buf, &a->msg, err, errlen))
	    != DNS_OK)
		return (st);
	n = ns_msg_count(a->msg, ns_s_an);
	a->rr = xcalloc((size_t)n + 1, sizeof(*a->rr));
	for (i = 0; i < n; i++) {
		if (ns_parserr(&a->msg, ns_s_an, i, &rr) < 0)
			break;
		if ((int)ns_rr_type(rr) == type)
			a->rr[a->n++] = rr;
	}
	return (DNS_OK);
}

/* dns_answers_done - free a; DNS_NOTFOUND "No what records" if !found */
static int
dns_answers_done(struct dns_answer *a, size_t found, const char *what,
    char *err, size_t errlen)
{
	free(a->rr);
	free(a->buf);
	if (found == 0) {
		snprintf(err, errlen, "No %s records", what);
		return (DNS_NOTFOUND);
	}
	return (DNS_OK);
}

/* dns_names - the domain names of type (PTR, NS) records into names */
static int
dns_names(const char *qname, int type, const char *what, struct strv *names,
    char *err, size_t errlen)
{
	struct dns_answer a;
	char	 host[NS_MAXDNAME];
	int	 i, st;
	size_t	 found = 0;

	if ((st = dns_answers(qname, type, &a, err, errlen)) != DNS_OK)
		return (st);
	for (i = 0; i < a.n; i++) {
		if (ns_name_uncompress(ns_msg_base(a.msg), ns_msg_end(a.msg),
		    ns_rr_rdata(a.rr[i]), host, sizeof(host)) < 0)
			continue;
		strv_add(names, host);
		found++;
	}
	return (dns_answers_done(&a, found, what, err, errlen));
}

/* dns_addr_type - A or AAAA records into addrs */
static int
dns_addr_type(const char *name, int type, struct strv *addrs, char *err,
    size_t errlen)
{
	struct dns_answer a;
	char	 text[INET6_ADDRSTRLEN];
	int	 i, st;
	size_t	 found = 0;
	size_t	 want = type == ns_t_a ? 4 : 16;

	if ((st = dns_answers(name, type, &a, err, errlen)) != DNS_OK)
		return (st);
	for (i = 0; i < a.n; i++) {
		if (ns_rr_rdlen(a.rr[i]) != want)
			continue;
		if (inet_ntop(type == ns_t_a ? AF_INET : AF_INET6,
		    ns_rr_rdata(a.rr[i]), text, sizeof(text)) == NULL)
			continue;
		strv_add(addrs, text);
		found++;
	}
	return (dns_answers_done(&a, found, "address", err, errlen));
}

/* dns_lookup_addr - A and AAAA records as numeric strings */
int
dns_lookup_addr(const char *name, struct strv *addrs, char *err,
    size_t errlen)
{
	int	 st4, st6, nx4, ad4;

	st4 = dns_addr_type(name, ns_t_a, addrs, err, errlen);
	nx4 = dns_last_nxdomain();
	if (nx4 && st4 == DNS_NOTFOUND)
		return (DNS_NOTFOUND);	/* the name does not exist at all */
	if (st4 == DNS_RETRY)
		return (DNS_RETRY);	/* don't wait for a second timeout */
	ad4 = dns_last_ad();
	st6 = dns_addr_type(name, ns_t_aaaa, addrs, err, errlen);
	dns_set_ad(ad4 && dns_last_ad());	/* validated: both answers */
	if (st4 == DNS_OK || st6 == DNS_OK) {
		dns_set_nxdomain(0);
		return (DNS_OK);
	}
	if (st4 == DNS_RETRY || st6 == DNS_RETRY) {
		snprintf(err, errlen, "Host not found, try again");
		return (DNS_RETRY);
	}
	return (DNS_NOTFOUND);
}

/* dns_mx_cmp - order by preference, then by position (stable) */
static int
dns_mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	return (x->pref - y->pref);
}

/* dns_lookup_mx - MX records sorted by preference */
int
dns_lookup_mx(const char *name, struct dns_mx **mxp, size_t *nmx, char *err,
    size_t errlen)
{
	struct dns_answer a;
	char	 host[NS_MAXDNAME];
	struct dns_mx *mx;
	int	 i, st;
	size_t	 count = 0;

	*mxp = NULL;
	*nmx = 0;
	if ((st = dns_answers(name, ns_t_mx, &a, err, errlen)) != DNS_OK)
		return (st);
	mx = xcalloc((size_t)a.n + 1, sizeof(*mx));
	for (i = 0; i < a.n; i++) {
		if (ns_rr_rdlen(a.rr[i]) < 3)
			continue;
		if (ns_name_uncompress(ns_msg_base(a.msg), ns_msg_end(a.msg),
		    ns_rr_rdata(a.rr[i]) + 2, host, sizeof(host)) < 0)
			continue;
		mx[count].pref = ns_get16(ns_rr_rdata(a.rr[i]));
		mx[count].host = xstrdup(strcmp(host, ".") == 0 ? "" : host);
		count++;
	}
	if ((st = dns_answers_done(&a, count, "MX", err, errlen)) != DNS_OK) {
		free(mx);
		return (st);
	}
	/* qsort is not stable; insertion sort keeps equal preferences in
	 * answer order (lists are short). */
	for (size_t a = 1; a < count; a++) {
		struct dns_mx key = mx[a];
		size_t	 b = a;

		while (b > 0 && dns_mx_cmp(&mx[b - 1], &key) > 0) {
			mx[b] = mx[b - 1];
			b--;
		}
		mx[b] = key;
	}
	*mxp = mx;
	*nmx = count;
	return (DNS_OK);
}

/* dns_mx_free - free what dns_lookup_mx() returned */
void
dns_mx_free(struct dns_mx *mx, size_t n)
{
	size_t	 i;

	if (mx == NULL)
		return;
	for (i = 0; i < n; i++)
		free(mx[i].host);
	free(mx);
}

/* dns_lookup_ptr - the names of an IPv4/IPv6 address */
int
dns_lookup_ptr(const char *addr, struct strv *names, char *err,
    size_t errlen)
{
	char	*qname;
	int	 st;

	qname = dns_reverse_name(addr, strchr(addr, ':') ? "ip6.arpa"
	    : "in-addr.arpa");
	if (qname == NULL) {
		snprintf(err, errlen, "not an IP address");
		return (DNS_NOTFOUND);
	}
	st = dns_names(qname, ns_t_ptr, "PTR", names, err, errlen);
	free(qname);
	return (st);
}

/* dns_lookup_ns - the NS host names of a domain (check_*_ns_access) */
int
dns_lookup_ns(const char *name, struct strv *names, char *err, size_t errlen)
{
	return (dns_names(name, ns_t_ns, "NS", names, err, errlen));
}

/* dns_lookup_txt - TXT records, character-strings concatenated */
int
dns_lookup_txt(const char *name, struct strv *txt, char *err, size_t errlen)
{
	struct dns_answer a;
	const unsigned char *p, *end;
	char	*text;
	size_t	 tlen, found = 0;
	int	 i, st;

	if ((st = dns_answers(name, ns_t_txt, &a, err, errlen)) != DNS_OK)
		return (st);
	for (i = 0; i < a.n; i++) {
		p = ns_rr_rdata(a.rr[i]);
		end = p + ns_rr_rdlen(a.rr[i]);
		text = xmalloc((size_t)ns_rr_rdlen(a.rr[i]) + 1);
		tlen = 0;
		while (p < end && p + 1 + *p <= end) {
			memcpy(text + tlen, p + 1, *p);
			tlen += *p;
			p += 1 + *p;
		}
		text[tlen] = 0;
		strv_add(txt, text);
		free(text);
		found++;
	}
	return (dns_answers_done(&a, found, "TXT", err, errlen));
}

/* dns_reverse_name - "4.3.2.1.zone" or IPv6 nibbles; NULL if not an IP */
char *
dns_reverse_name(const char *addr, const char *zone)
{
	unsigned char b[16];
	char	 out[16 * 4 + 1];
	char	*p = out;
	int	 i;

	if (addr == NULL || zone == NULL)
		return (NULL);
	if (inet_pton(AF_INET, addr, b) == 1)
		return (xasprintf("%u.%u.%u.%u.%s", b[3], b[2], b[1], b[0],
		    zone));
	if (inet_pton(AF_INET6, addr, b) != 1)
		return (NULL);
	for (i = 15; i >= 0; i--) {
		*p++ = "0123456789abcdef"[b[i] & 0xf];
		*p++ = '.';
		*p++ = "0123456789abcdef"[b[i] >> 4];
		*p++ = '.';
	}
	*p = 0;
	return (xasprintf("%s%s", out, zone));
}


/* dns_tlsa_parse - one TLSA RDATA (RFC 6698 2.1); 0, or -1 malformed */
int
dns_tlsa_parse(const unsigned char *rdata, size_t len, struct dns_tlsa *t)
{
	memset(t, 0, sizeof(*t));
	if (len < 4 || len - 3 > DNS_TLSA_DATA_MAX)
		return (-1);
	t->usage = rdata[0];
	t->selector = rdata[1];
	t->mtype = rdata[2];
	t->len = len - 3;
	memcpy(t->data, rdata + 3, t->len);
	return (0);
}

/* dns_lookup_tlsa - TLSA records of name, and the answer's AD bit */
int
dns_lookup_tlsa(const char *name, struct dns_tlsa **tlsa, size_t *ntlsa,
    int *ad, char *err, size_t errlen)
{
	struct dns_answer a;
	int	 i, st;
	size_t	 count = 0;

	*tlsa = NULL;
	*ntlsa = 0;
	st = dns_answers(name, DNS_T_TLSA, &a, err, errlen);
	*ad = dns_last_ad();
	if (st != DNS_OK)
		return (st);
	*tlsa = xcalloc((size_t)a.n + 1, sizeof(**tlsa));
	for (i = 0; i < a.n; i++)
		if (dns_tlsa_parse(ns_rr_rdata(a.rr[i]), ns_rr_rdlen(a.rr[i]),
		    &(*tlsa)[count]) == 0)
			count++;
	if ((st = dns_answers_done(&a, count, "TLSA", err, errlen))
	    != DNS_OK) {
		free(*tlsa);
		*tlsa = NULL;
		return (st);
	}
	*ntlsa = count;
	return (DNS_OK);
}
