/*
 * NAME
 *	smtp_sts - MTA-STS (RFC 8461) in the smtp client
 * SYNOPSIS
 *	#include "smtp_sts.h"
 *
 *	int	smtp_sts_policy_parse(const char *text, size_t len,
 *	    struct smtp_sts_policy *p, char *err, size_t errlen);
 *	void	smtp_sts_policy_free(struct smtp_sts_policy *p);
 *	int	smtp_sts_mx_match(const struct smtp_sts_policy *p,
 *	    const char *host);
 *	int	smtp_sts_txt_id(const struct strv *txt, char *id,
 *	    size_t idlen);
 *
 *	int	smtp_sts_nexthop(struct smtp_sess *s,
 *	    const struct smtp_nexthop *nh);
 *	int	smtp_sts_set(struct smtp_sess *s, const char *domain,
 *	    const char *text);
 *	int	smtp_sts_dest(struct smtp_sess *s);
 *	void	smtp_sts_tls_testing(struct smtp_sess *s, SSL *ssl);
 *	void	smtp_sts_after(struct smtp_sess *s);
 *	void	smtp_sts_done(struct smtp_sess *s);
 * DESCRIPTION
 *	smtp_sts_policy_parse() parses a policy file (RFC 8461 3.2):
 *	"key: value" lines ending in LF or CRLF, version STSv1 required,
 *	mode enforce, testing or none, one mx line a pattern (at least
 *	one unless mode is none), max_age 0..31557600; unknown keys are
 *	ignored. smtp_sts_mx_match() says whether host matches one of
 *	the policy's mx patterns (case-insensitive, a trailing dot
 *	ignored; "*.example.com" matches exactly one more label).
 *	smtp_sts_txt_id() takes the id of the one TXT record that starts
 *	with "v=STSv1" (RFC 8461 3.1): 1 and id, 0 when there is none,
 *	-1 when there are several or it is malformed (no policy, as the
 *	RFC says).
 *
 *	smtp_sts_nexthop() runs once per delivery to a domain (not a
 *	[host], not LMTP) when smtp_mta_sts_enable = yes: the
 *	_mta-sts.DOMAIN TXT record, the cached policy
 *	(smtp_mta_sts_cache, an LMDB file keyed by domain), a fetch of
 *	https://mta-sts.DOMAIN/.well-known/mta-sts.txt with libcurl when
 *	the id changed or nothing usable is cached, and the policy kept
 *	in s. A fetch that fails keeps an unexpired cached policy.
 *	smtp_sts_set() parses text as domain's policy into s (what
 *	smtp_sts_nexthop() does with a policy it has; the unit test uses
 *	it directly), logging a policy that does not parse.
 *	smtp_sts_dest() runs before each address's session: nothing for
 *	mode none, or when DANE authenticates that address (DANE wins);
 *	enforce: an MX host that matches no pattern is deferred (4.7.5,
 *	no connection), a matching one gets level verify with the MX
 *	name as the certificate name; testing: logs a mismatch and
 *	delivers as usual, and smtp_sts_tls_testing() (after a handshake)
 *	logs a certificate that would not verify for the MX name. smtp_sts_after() names the policy in the
 *	reason of an enforced session that failed its TLS check;
 *	smtp_sts_done() forgets the nexthop's policy.
 * DIAGNOSTICS
 *	smtp_sts_policy_parse() 0, or -1 with err. smtp_sts_nexthop()
 *	always 0 (a policy that cannot be had is no policy, logged).
 *	smtp_sts_dest() 0, or -1 with s->status and s->reason set.
 */
#ifndef SMTP_STS_H
#define SMTP_STS_H

#include <stddef.h>

#include "str.h"

#define STS_MODE_NONE		0
#define STS_MODE_TESTING	1
#define STS_MODE_ENFORCE	2

#define STS_MAX_AGE_MAX		31557600L
#define STS_POLICY_MAX		(64 * 1024)

struct smtp_sts_policy {
	int	 mode;
	long	 max_age;
	struct strv *mx;
};

struct smtp_sess;
struct smtp_nexthop;

int	 smtp_sts_policy_parse(const char *, size_t, struct smtp_sts_policy *,
	    char *, size_t);
void	 smtp_sts_policy_free(struct smtp_sts_policy *);
int	 smtp_sts_mx_match(const struct smtp_sts_policy *, const char *);
int	 smtp_sts_txt_id(const struct strv *, char *, size_t);

int	 smtp_sts_nexthop(struct smtp_sess *, const struct smtp_nexthop *);
int	 smtp_sts_set(struct smtp_sess *, const char *, const char *);
int	 smtp_sts_dest(struct smtp_sess *);
struct ssl_st;
void	 smtp_sts_tls_testing(struct smtp_sess *, struct ssl_st *);
void	 smtp_sts_after(struct smtp_sess *);
void	 smtp_sts_done(struct smtp_sess *);

#endif
