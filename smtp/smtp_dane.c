/*
 * NAME
 *	smtp_dane - DANE (RFC 7672) for the levels dane and dane-only
 * SYNOPSIS
 *	#include "smtp.h"
 *
 *	int	smtp_dane_dest(struct smtp_sess *s,
 *	    const struct smtp_nexthop *nh);
 *	int	smtp_dane_ssl(struct smtp_sess *s, SSL *ssl);
 *	int	smtp_dane_check(struct smtp_sess *s, SSL *ssl,
 *	    const char *name);
 *	void	smtp_dane_done(struct smtp_sess *s);
 * DESCRIPTION
 *	smtp_dane_dest() runs before each session of a nexthop whose level
 *	(smtp_tls_security_level or smtp_tls_policy_maps) is dane or
 *	dane-only, and sets s->tls_level for the address s->dest as
 *	Postfix does (RFC 7672 2.2):
 *
 *	TLSA records (_PORT._tcp.HOST, HOST the MX host, or the host of
 *	"[host]") are looked up only when smtp_dns_support_level is dnssec
 *	and both the MX answer (the nexthop's MX RRset, or the validated
 *	denial that makes the domain its own host) and the host's A/AAAA
 *	answer had the AD bit of the validating resolver
 *	(resolver_nameservers). Then: usable records (usage 2 or 3,
 *	tls_dane_usable()) give level dane, checked by OpenSSL; records
 *	that are all unusable give encrypt (TLS without authentication); no
 *	validated TLSA records (an insecure zone, an insecure or validated
 *	denial) give may; a TLSA lookup that fails (SERVFAIL: bogus
 *	signatures or a broken server) defers with 4.7.5. A TLSA record
 *	that does not match the certificate defers too (smtp_dane_check()),
 *	never plaintext.
 *
 *	dane-only never downgrades: where dane would use may or encrypt it
 *	defers with 4.7.5. Without smtp_dns_support_level = dnssec, dane
 *	is may (with a warning, once) and dane-only defers.
 *
 *	smtp_dane_ssl() turns on OpenSSL's DANE verification on the
 *	connection before the handshake (tls/tls_dane.c); smtp_dane_check()
 *	after it logs "Verified TLS connection established" when a TLSA
 *	record authenticated the server, or "Untrusted TLS connection
 *	established" and "server certificate verification failed" and
 *	fails the session with 4.7.5 "Server certificate not trusted".
 *	smtp_dane_done() frees what smtp_dane_dest() kept in s.
 * DIAGNOSTICS
 *	smtp_dane_dest(): 0 to run the session, -1 with s->status and
 *	s->reason set (no connection made). smtp_dane_ssl() 0 or -1,
 *	smtp_dane_check() 1 or -1, with s->status and s->reason.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "dns.h"
#include "log.h"
#include "smtp.h"
#include "str.h"
#include "tls.h"
#include "tls_dane.h"
#include "xalloc.h"

struct smtp_dane {
	int	 level;		/* the nexthop's: dane or dane-only */
	int	 mx_checked;
	int	 mx_secure;	/* the MX answer was validated */
	struct dns_tlsa *tlsa;	/* this address's records */
	size_t	 ntlsa;
};

static int smtp_dane_warned;

/* dane_fail - defer this address; no connection */
static int
dane_fail(struct smtp_sess *s, const char *fmt, ...)
{
	va_list	 ap;

	snprintf(s->status, sizeof(s->status), "4.7.5");
	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
	s->connected = s->reached_mail = s->tls_failed = 0;
	return (-1);
}

/* dane_downgrade - dane: level may or encrypt; dane-only: defer */
static int
dane_downgrade(struct smtp_sess *s, int level, const char *why)
{
	if (s->dane->level == TLS_LEV_DANE_ONLY)
		return (dane_fail(s, "TLS is required, but %s (TLS security "
		    "level dane-only for %s:%d)", why, s->dest->host,
		    s->dest->port));
	s->tls_level = level;
	return (0);
}

/* is_literal - an address, not a name */
static int
is_literal(const char *host)
{
	struct in6_addr a;

	return (inet_pton(AF_INET, host, &a) == 1
	    || inet_pton(AF_INET6, host, &a) == 1);
}

/* mx_secure - was the nexthop's MX answer validated? */
static int
mx_secure(const struct smtp_nexthop *nh)
{
	struct dns_mx *mx = NULL;
	size_t	 nmx = 0;
	char	 err[256];
	int	 rc, ad;

	if (nh->no_mx)
		return (1);	/* "[host]": the host's own answer decides */
	rc = dns_lookup_mx(nh->host, &mx, &nmx, err, sizeof(err));
	ad = dns_last_ad();
	dns_mx_free(mx, nmx);
	/* an MX RRset, or the validated NODATA that makes the domain its
	 * own mail host */
	return (rc != DNS_RETRY && ad);
}

/* smtp_dane_dest - this address's level: dane, encrypt, may, or defer */
int
smtp_dane_dest(struct smtp_sess *s, const struct smtp_nexthop *nh)
{
	struct smtp_dane *d = s->dane;
	struct strv *addrs;
	char	 qname[300], err[256];
	size_t	 i, usable = 0;
	int	 rc, ad;

	if (d == NULL) {
		if (s->tls_level != TLS_LEV_DANE
		    && s->tls_level != TLS_LEV_DANE_ONLY)
			return (0);
		d = s->dane = xcalloc(1, sizeof(*d));
		d->level = s->tls_level;
	}
	free(d->tlsa);
	d->tlsa = NULL;
	d->ntlsa = 0;
	s->tls_level = d->level;
	if (*s->dest->unix_path)
		return (dane_downgrade(s, TLS_LEV_MAY, "DANE does not apply "
		    "to a local socket"));
	if (strcasecmp(conf_str("smtp_dns_support_level"), "dnssec") != 0) {
		if (d->level == TLS_LEV_DANE
		    && !__atomic_exchange_n(&smtp_dane_warned, 1,
		    __ATOMIC_SEQ_CST)) {
			log_warn("TLS security level dane requires "
			    "smtp_dns_support_level = dnssec: using may");
		}
		return (dane_downgrade(s, TLS_LEV_MAY, "DANE requires "
		    "smtp_dns_support_level = dnssec"));
	}
	dns_set_dnssec(1);
	if (!d->mx_checked) {
		d->mx_checked = 1;
		d->mx_secure = mx_secure(nh);
	}
	if (!d->mx_secure)
		return (dane_downgrade(s, TLS_LEV_MAY, "the MX records of "
		    "the nexthop are not DNSSEC-validated"));
	if (is_literal(s->dest->host))
		return (dane_downgrade(s, TLS_LEV_MAY, "an address literal "
		    "has no TLSA records"));
	addrs = strv_new();
	rc = dns_lookup_addr(s->dest->host, addrs, err, sizeof(err));
	ad = dns_last_ad();
	strv_free(addrs);
	if (rc != DNS_OK || !ad)
		return (dane_downgrade(s, TLS_LEV_MAY, "the address records "
		    "of the MX host are not DNSSEC-validated"));
	snprintf(qname, sizeof(qname), "_%d._tcp.%s", s->dest->port,
	    s->dest->host);
	rc = dns_lookup_tlsa(qname, &d->tlsa, &d->ntlsa, &ad, err,
	    sizeof(err));
	if (rc == DNS_RETRY)
		return (dane_fail(s, "TLSA lookup error for %s:%d: %s",
		    s->dest->host, s->dest->port, err));
	if (rc != DNS_OK || !ad)
		return (dane_downgrade(s, TLS_LEV_MAY, "no DNSSEC-validated "
		    "TLSA records were found"));
	for (i = 0; i < d->ntlsa; i++)
		if (tls_dane_usable(&d->tlsa[i]))
			usable++;
	if (usable == 0)
		return (dane_downgrade(s, TLS_LEV_ENCRYPT, "all TLSA records "
		    "are unusable"));
	s->tls_level = TLS_LEV_DANE;
	return (0);
}

/* smtp_dane_ssl - OpenSSL's DANE with this address's records */
int
smtp_dane_ssl(struct smtp_sess *s, SSL *ssl)
{
	char	 err[256];

	if (tls_dane_enable(ssl, s->dest->host, s->dane->tlsa,
	    s->dane->ntlsa, err, sizeof(err)) < 0) {
		snprintf(s->status, sizeof(s->status), "4.7.5");
		snprintf(s->reason, sizeof(s->reason), "TLS is required, "
		    "but DANE could not be set up for %s: %s", s->dest->host,
		    err);
		return (-1);
	}
	return (0);
}

/* smtp_dane_check - after the handshake: did a TLSA record match? */
int
smtp_dane_check(struct smtp_sess *s, SSL *ssl, const char *name)
{
	char	 err[256], info[200];
	int	 usage, ok;

	ok = tls_dane_verified(ssl, &usage, err, sizeof(err));
	log_info("%s TLS connection established to %s:%d: %s",
	    ok ? "Verified" : "Untrusted", name, s->dest->port,
	    tls_log_info(ssl, info, sizeof(info)));
	if (ok)
		return (1);
	log_info("server certificate verification failed for %s:%d: %s",
	    name, s->dest->port, err);
	snprintf(s->status, sizeof(s->status), "4.7.5");
	snprintf(s->reason, sizeof(s->reason), "Server certificate not "
	    "trusted");
	return (-1);
}

/* smtp_dane_done - forget the nexthop's DANE state */
void
smtp_dane_done(struct smtp_sess *s)
{
	if (s->dane == NULL)
		return;
	s->tls_level = s->dane->level;
	free(s->dane->tlsa);
	free(s->dane);
	s->dane = NULL;
}
