/*
 * NAME
 *	postscreen_access - the permanent allow/deny list
 * SYNOPSIS
 *	#include "postscreen.h"
 *
 *	struct psc_access *psc_access_open(const char *list,
 *	    const struct strv *mynetworks);
 *	int	psc_access_check(struct psc_access *acl, const char *addr);
 *	void	psc_access_close(struct psc_access *acl);
 *	int	psc_cidr_match(const char *pattern, const char *addr);
 * DESCRIPTION
 *	postscreen_access_list is a list, evaluated left to right, of
 *	"permit_mynetworks" (the client matches mynetworks: the list from
 *	conf_mynetworks(), CIDR blocks, bare addresses, "[v6]/len" and
 *	type:table lookups) and type:table lookups keyed by the client
 *	address (cidr: above all) whose result is "permit", "reject" or
 *	"dunno" (case does not matter). The first permit or reject wins;
 *	the default is dunno (run the tests).
 *
 *	psc_cidr_match() matches one address against "net/len", "addr",
 *	"[v6]" or "[v6]/len"; IPv4 never matches an IPv6 block.
 *
 *	Lookups run on the event loop: fine for cidr: and other
 *	in-memory or LMDB tables (what postscreen's access list is for),
 *	not for mysql:, which would stall the loop.
 * DIAGNOSTICS
 *	Unknown list entries and unknown table results are logged once
 *	and act as dunno. psc_access_check() returns PSC_ACL_RETRY when a
 *	table is in temporary error (logged); the caller treats it like
 *	dunno (the client is tested, not refused). psc_cidr_match()
 *	returns -1 for a malformed pattern.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "map.h"
#include "postscreen.h"
#include "str.h"
#include "xalloc.h"

#define ACL_MYNETWORKS	1
#define ACL_MAP		2

struct acl_entry {
	int	 type;
	struct map *map;
};

struct psc_access {
	struct acl_entry *e;
	size_t	 n;
	struct strv *nets;		/* CIDR patterns of mynetworks */
	struct map **netmaps;		/* type:table parts of mynetworks */
	size_t	 nnetmaps;
};

/* is_map_spec - "type:name" (not an IPv6 address: type has a non-hex) */
static int
is_map_spec(const char *s)
{
	const char *p;
	int	 nonhex = 0;

	for (p = s; *p >= 'a' && *p <= 'z'; p++)
		if (*p > 'f')
			nonhex = 1;
	return (p > s && *p == ':' && nonhex);
}

/* parse_addr - numeric IPv4/IPv6 into 16 bytes; returns family or 0 */
static int
parse_addr(const char *s, unsigned char *b)
{
	if (inet_pton(AF_INET, s, b) == 1)
		return (AF_INET);
	if (inet_pton(AF_INET6, s, b) == 1)
		return (AF_INET6);
	return (0);
}

/* psc_cidr_match - does addr fall in pattern? */
int
psc_cidr_match(const char *pattern, const char *addr)
{
	unsigned char net[16], a[16];
	char	 buf[128], *slash, *host = buf, *end;
	long	 len;
	int	 fam, afam, bits, i;

	if (strlen(pattern) >= sizeof(buf))
		return (-1);
	strcpy(buf, pattern);
	if ((slash = strrchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (*host == '[') {
		host++;
		if ((end = strchr(host, ']')) == NULL || end[1] != '\0')
			return (-1);
		*end = '\0';
	}
	if ((fam = parse_addr(host, net)) == 0)
		return (-1);
	bits = (fam == AF_INET) ? 32 : 128;
	len = bits;
	if (slash && (str_parse_long(slash, &len) < 0 || len < 0 ||
	    len > bits))
		return (-1);
	if ((afam = parse_addr(addr, a)) != fam)
		return (0);
	for (i = 0; i < len / 8; i++)
		if (a[i] != net[i])
			return (0);
	if (len % 8) {
		unsigned char mask = (unsigned char)(0xff << (8 - len % 8));

		if ((a[i] & mask) != (net[i] & mask))
			return (0);
	}
	return (1);
}

/* psc_access_open - parse the list and open its tables */
struct psc_access *
psc_access_open(const char *list, const struct strv *mynetworks)
{
	struct psc_access *acl = xcalloc(1, sizeof(*acl));
	char	*copy = xstrdup(list ? list : ""), *cp = copy, *tok;
	size_t	 i;

	acl->nets = strv_new();
	for (i = 0; mynetworks && i < mynetworks->argc; i++) {
		const char *n = mynetworks->argv[i];

		if (is_map_spec(n)) {
			acl->netmaps = xrealloc(acl->netmaps,
			    (acl->nnetmaps + 1) * sizeof(struct map *));
			acl->netmaps[acl->nnetmaps++] = map_open(n, 0);
		} else if (psc_cidr_match(n, "0.0.0.0") < 0)
			log_warn("mynetworks: bad network \"%s\"; ignored",
			    log_safe(n));
		else
			strv_add(acl->nets, n);
	}
	while ((tok = str_token(&cp, STR_LIST_DELIMS)) != NULL) {
		struct acl_entry e = {0, NULL};

		if (strcasecmp(tok, "permit_mynetworks") == 0)
			e.type = ACL_MYNETWORKS;
		else if (is_map_spec(tok)) {
			e.type = ACL_MAP;
			e.map = map_open(tok, 0);
		} else {
			log_warn("postscreen_access_list: unknown entry "
			    "\"%s\"; ignored", log_safe(tok));
			continue;
		}
		acl->e = xrealloc(acl->e, (acl->n + 1) * sizeof(e));
		acl->e[acl->n++] = e;
	}
	free(copy);
	return (acl);
}

/* in_mynetworks - 1 match, 0 not, -1 a table is down */
static int
in_mynetworks(struct psc_access *acl, const char *addr)
{
	char	*value;
	size_t	 i;
	int	 rc;

	for (i = 0; i < acl->nets->argc; i++)
		if (psc_cidr_match(acl->nets->argv[i], addr) == 1)
			return (1);
	for (i = 0; i < acl->nnetmaps; i++) {
		rc = map_lookup(acl->netmaps[i], addr, &value);
		if (rc == MAP_FOUND) {
			free(value);
			return (1);
		}
		if (rc == MAP_RETRY) {
			log_warn("mynetworks: %s: lookup of %s: %s",
			    map_spec(acl->netmaps[i]), addr,
			    map_error(acl->netmaps[i]));
			return (-1);
		}
	}
	return (0);
}

/* map_action - a table's answer */
static int
map_action(struct map *m, const char *addr)
{
	char	*value, *word, *cp;
	int	 rc, act = PSC_ACL_DUNNO;

	rc = map_lookup(m, addr, &value);
	if (rc == MAP_NOTFOUND)
		return (PSC_ACL_DUNNO);
	if (rc == MAP_RETRY) {
		log_warn("postscreen_access_list: %s: lookup of %s: %s",
		    map_spec(m), addr, map_error(m));
		return (PSC_ACL_RETRY);
	}
	cp = value;
	word = str_token(&cp, " \t");
	if (word == NULL || strcasecmp(word, "dunno") == 0)
		act = PSC_ACL_DUNNO;
	else if (strcasecmp(word, "permit") == 0)
		act = PSC_ACL_PERMIT;
	else if (strcasecmp(word, "reject") == 0)
		act = PSC_ACL_REJECT;
	else
		log_warn("postscreen_access_list: %s: unknown result \"%s\" "
		    "for %s; dunno", map_spec(m), log_safe(word), addr);
	free(value);
	return (act);
}

/* psc_access_check - evaluate the list for a client */
int
psc_access_check(struct psc_access *acl, const char *addr)
{
	size_t	 i;
	int	 act;

	for (i = 0; i < acl->n; i++) {
		if (acl->e[i].type == ACL_MYNETWORKS) {
			if ((act = in_mynetworks(acl, addr)) == 1)
				return (PSC_ACL_PERMIT);
			if (act < 0)
				return (PSC_ACL_RETRY);
			continue;
		}
		act = map_action(acl->e[i].map, addr);
		if (act != PSC_ACL_DUNNO)
			return (act);
	}
	return (PSC_ACL_DUNNO);
}

/* psc_access_close - release everything */
void
psc_access_close(struct psc_access *acl)
{
	size_t	 i;

	if (acl == NULL)
		return;
	for (i = 0; i < acl->n; i++)
		if (acl->e[i].map)
			map_close(acl->e[i].map);
	for (i = 0; i < acl->nnetmaps; i++)
		map_close(acl->netmaps[i]);
	strv_free(acl->nets);
	free(acl->netmaps);
	free(acl->e);
	free(acl);
}
