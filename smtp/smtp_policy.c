/*
 * NAME
 *	smtp_policy - the TLS policy of one nexthop (smtp_tls_policy_maps)
 * SYNOPSIS
 *	#include "smtp.h"
 *
 *	int	smtp_tls_policy(const struct smtp_cfg *cfg,
 *	    struct smtp_maps *m, const char *nexthop,
 *	    struct tls_policy *p, char *status, char *err, size_t errlen);
 * DESCRIPTION
 *	smtp_tls_policy() decides the TLS level (and match=, protocols=)
 *	for a delivery to nexthop, as Postfix's smtp_tls_policy_maps
 *	does: the table is looked up with the nexthop as qmgr gives it
 *	("example.com", "[192.0.2.1]:587", "[mx.example.com]"), then
 *	without a ":port", then, for a domain, each parent domain with a
 *	leading dot (".example.com" covers its subdomains). The first
 *	entry found decides ("level [match=...] [protocols=...]
 *	[ciphers=...]", tls/tls_policy.c); none found: the service's
 *	smtp_tls_security_level (cfg->tls_level) with the configured
 *	cert match lists.
 *
 *	dane and dane-only (from the table or from
 *	smtp_tls_security_level) are kept: smtp_dane.c decides each
 *	address's level from its TLSA records. A table that fails
 *	(MAP_RETRY, 4.3.0) or an entry that does not parse (4.7.5) defers
 *	every recipient before any connection. Only level may ever falls
 *	back to plaintext (smtp_deliver.c).
 * DIAGNOSTICS
 *	0, or -1 with the DSN status in status (16 bytes) and the reason
 *	in err; p then holds nothing to free.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "map.h"
#include "smtp.h"
#include "tls.h"
#include "xalloc.h"

/* policy_lookup - the table's entry for nexthop; MAP_* */
static int
policy_lookup(struct maplist *t, const char *nexthop, char **value,
    char *key, size_t keylen)
{
	const char *p = nexthop, *dot;
	size_t	 n;
	int	 rc;

	if (strncmp(p, "inet:", 5) == 0)
		p += 5;
	snprintf(key, keylen, "%s", p);
	if ((rc = maplist_lookup(t, key, value)) != MAP_NOTFOUND)
		return (rc);
	if (*p == '[') {
		/* "[host]:port" -> "[host]" */
		n = strcspn(p, "]");
		if (p[n] != ']' || p[n + 1] == 0)
			return (MAP_NOTFOUND);
		snprintf(key, keylen, "%.*s", (int)n + 1, p);
		return (maplist_lookup(t, key, value));
	}
	n = strcspn(p, ":");
	if (p[n]) {
		snprintf(key, keylen, "%.*s", (int)n, p);
		if ((rc = maplist_lookup(t, key, value)) != MAP_NOTFOUND)
			return (rc);
	}
	/* parent domains: ".example.com" */
	for (dot = memchr(p, '.', n); dot; dot = memchr(dot + 1, '.',
	    n - (size_t)(dot + 1 - p))) {
		snprintf(key, keylen, "%.*s", (int)(n - (size_t)(dot - p)),
		    dot);
		if ((rc = maplist_lookup(t, key, value)) != MAP_NOTFOUND)
			return (rc);
	}
	return (MAP_NOTFOUND);
}

/* smtp_tls_policy - the level and match for one nexthop */
int
smtp_tls_policy(const struct smtp_cfg *cfg, struct smtp_maps *m,
    const char *nexthop, struct tls_policy *p, char *status, char *err,
    size_t errlen)
{
	char	 key[300], why[300], *value = NULL;
	int	 rc;

	memset(p, 0, sizeof(*p));
	p->level = cfg->tls_level;
	if (m && m->tls_policy) {
		rc = policy_lookup(m->tls_policy, nexthop, &value, key,
		    sizeof(key));
		if (rc == MAP_RETRY) {
			snprintf(status, 16, "4.3.0");
			snprintf(err, errlen, "TLS policy lookup for %s: "
			    "smtp_tls_policy_maps: %s", log_safe(nexthop),
			    maplist_error(m->tls_policy));
			return (-1);
		}
		if (rc == MAP_FOUND) {
			rc = tls_policy_parse(value, p, why, sizeof(why));
			free(value);
			if (rc < 0) {
				snprintf(status, 16, "4.7.5");
				snprintf(err, errlen, "TLS policy lookup for "
				    "%s: smtp_tls_policy_maps entry %s: %s",
				    log_safe(nexthop), log_safe(key), why);
				return (-1);
			}
		}
	}
	return (0);
}
