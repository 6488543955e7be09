/*
 * NAME
 *	dns - DNS lookups for every daemon, through one configurable resolver
 * SYNOPSIS
 *	#include "dns.h"
 *
 *	int	dns_init(const char *nameservers, char *err, size_t errlen);
 *	int	dns_lookup_addr(const char *name, struct strv *addrs,
 *	    char *err, size_t errlen);
 *	int	dns_lookup_mx(const char *name, struct dns_mx **mx,
 *	    size_t *nmx, char *err, size_t errlen);
 *	int	dns_lookup_ptr(const char *addr, struct strv *names,
 *	    char *err, size_t errlen);
 *	int	dns_lookup_ns(const char *name, struct strv *names,
 *	    char *err, size_t errlen);
 *	int	dns_lookup_txt(const char *name, struct strv *txt,
 *	    char *err, size_t errlen);
 *	char	*dns_reverse_name(const char *addr, const char *zone);
 *	int	dns_last_nxdomain(void);
 *	void	dns_set_dnssec(int on);
 *	int	dns_last_ad(void);
 *	int	dns_lookup_tlsa(const char *name, struct dns_tlsa **tlsa,
 *	    size_t *ntlsa, int *ad, char *err, size_t errlen);
 *	int	dns_tlsa_parse(const unsigned char *rdata, size_t len,
 *	    struct dns_tlsa *t);
 *	int	dns_initialized(void);
 * DESCRIPTION
 *	Blocking lookups with libresolv's thread-safe res_n* interface:
 *	call them from a worker thread (workq), never on the event loop.
 *	dns_init() is called once, before threads start, with the value
 *	of resolver_nameservers (postern's own parameter: a list of
 *	"ip" or "ip:port" or "[ipv6]:port"; empty means /etc/resolv.conf).
 *	Tests point it at their dnsmasq on loopback, so no test ever
 *	queries the machine's resolver.
 *
 *	dns_lookup_addr() returns A and AAAA records as numeric strings.
 *	dns_lookup_mx() returns MX records sorted by preference (caller
 *	frees with dns_mx_free()). dns_lookup_ptr() returns the names of
 *	an IPv4/IPv6 address, dns_lookup_ns() the NS hosts of a domain.
 *	dns_reverse_name() builds the DNSBL query
 *	name ("4.3.2.1.zone", nibbles for IPv6).
 *
 *	dns_initialized() says whether dns_init() ran; modules that do
 *	lookups (smtpd_check) call dns_init() with resolver_nameservers
 *	themselves when the daemon did not, so that a test's resolver
 *	setting is never ignored in favour of /etc/resolv.conf.
 *
 *	dns_last_nxdomain() says whether this thread's last DNS_NOTFOUND
 *	meant NXDOMAIN (the name does not exist) rather than NODATA (it
 *	exists, without records of that type); Postfix answers 550 for
 *	the first and unknown_address_reject_code for the second.
 *
 *	dns_set_dnssec(1) (smtp_dns_support_level = dnssec) makes every
 *	later query of the process ask for DNSSEC: EDNS0 with the DO bit
 *	and the AD bit (glibc's trust-ad, which also keeps the AD bit of
 *	the reply). dns_last_ad() then says whether this thread's last
 *	answer (an A+AAAA pair for dns_lookup_addr(): both) had the AD
 *	bit, i.e. the configured resolver validated it; like Postfix with
 *	its local resolver, postern trusts resolver_nameservers for that.
 *	Without dns_set_dnssec() it is always 0.
 *
 *	dns_lookup_tlsa() returns the TLSA records (RFC 6698) of name
 *	(_25._tcp.host) and sets *ad for the answer, also when it is
 *	DNS_NOTFOUND (a validated NODATA or NXDOMAIN); free *tlsa.
 *	dns_tlsa_parse() decodes one TLSA RDATA.
 * DIAGNOSTICS
 *	Lookups return DNS_OK, DNS_NOTFOUND (NXDOMAIN or no data of that
 *	type) or DNS_RETRY (timeout, SERVFAIL, bad reply) with err set.
 */
#ifndef DNS_H
#define DNS_H

#include <stddef.h>

#include "str.h"

#define DNS_OK		0
#define DNS_NOTFOUND	1
#define DNS_RETRY	2

#define DNS_T_TLSA	52
#define DNS_TLSA_DATA_MAX	4096	/* a longer record is skipped */

struct dns_tlsa {
	int	 usage;		/* 0-3; 2 DANE-TA, 3 DANE-EE */
	int	 selector;	/* 0 full certificate, 1 SubjectPublicKeyInfo */
	int	 mtype;		/* 0 full, 1 SHA2-256, 2 SHA2-512 */
	size_t	 len;
	unsigned char data[DNS_TLSA_DATA_MAX];
};

struct dns_mx {
	int	 pref;
	char	*host;
};

int	 dns_init(const char *, char *, size_t);
int	 dns_lookup_addr(const char *, struct strv *, char *, size_t);
int	 dns_lookup_mx(const char *, struct dns_mx **, size_t *, char *,
	    size_t);
void	 dns_mx_free(struct dns_mx *, size_t);
int	 dns_lookup_ptr(const char *, struct strv *, char *, size_t);
int	 dns_lookup_ns(const char *, struct strv *, char *, size_t);
int	 dns_lookup_txt(const char *, struct strv *, char *, size_t);
char	*dns_reverse_name(const char *, const char *);
int	 dns_last_nxdomain(void);
int	 dns_initialized(void);
void	 dns_set_dnssec(int);
int	 dns_last_ad(void);
int	 dns_lookup_tlsa(const char *, struct dns_tlsa **, size_t *, int *,
	    char *, size_t);
int	 dns_tlsa_parse(const unsigned char *, size_t, struct dns_tlsa *);

#endif
