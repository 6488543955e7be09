/*
 * NAME
 *	smtpd_check_dns - DNS helpers of the server-access restrictions
 * SYNOPSIS
 *	#include "smtpd_check_dns.h"
 *
 *	int	smtpd_check_dns_servers(const char *domain, int type,
 *	    struct strv *hosts, char *err, size_t errlen);
 *	int	smtpd_check_dns_own_addr(const char *addr);
 *	int	smtpd_check_dns_in_nets(const char *addr, const char *nets);
 * DESCRIPTION
 *	What Postfix's check_server_access() and permit_mx_backup() ask
 *	DNS, through lib/dns.c (resolver_nameservers). Blocking: the
 *	restrictions run on smtpd's policy workers, never on the loop.
 *
 *	smtpd_check_dns_servers() appends to hosts the servers of domain
 *	for check_*_mx_access (SMTPD_DNS_MX: the MX hosts, or the domain
 *	itself when it has no MX record, as Postfix treats a name without
 *	MX as its own MX; nothing for a null MX), check_*_ns_access
 *	(SMTPD_DNS_NS: the NS hosts of the domain or, when it has none,
 *	of its nearest parent that has some) and check_*_a_access
 *	(SMTPD_DNS_A: the domain itself; the caller looks up its
 *	addresses). Returns DNS_OK, DNS_NOTFOUND or DNS_RETRY (err set).
 *
 *	smtpd_check_dns_own_addr() says whether addr is one of this
 *	machine's addresses as permit_mx_backup counts them: those of
 *	inet_interfaces ("all": every interface address; "loopback-only"
 *	and "localhost": 127.0.0.1 and ::1) and of proxy_interfaces.
 *
 *	smtpd_check_dns_in_nets() says whether addr matches one of the
 *	address/prefix entries of nets (permit_mx_backup_networks).
 *	Table entries (type:name) are not supported there: they never
 *	match, with a warning.
 * DIAGNOSTICS
 *	None beyond the return values (and the warning above).
 * SEE ALSO
 *	smtpd_check.c, lib/dns.h.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "conf.h"
#include "dns.h"
#include "log.h"
#include "smtpd_check_dns.h"
#include "str.h"

/* smtpd_check_dns_servers - MX, NS or the name itself */
int
smtpd_check_dns_servers(const char *domain, int type, struct strv *hosts,
    char *err, size_t errlen)
{
	struct dns_mx *mx = NULL;
	size_t	 nmx = 0, i;
	int	 st;

	if (type == SMTPD_DNS_A) {
		strv_add(hosts, domain);
		return (DNS_OK);
	}
	if (type == SMTPD_DNS_MX) {
		st = dns_lookup_mx(domain, &mx, &nmx, err, errlen);
		if (st == DNS_NOTFOUND) {
			strv_add(hosts, domain);	/* its own MX */
			return (DNS_OK);
		}
		for (i = 0; st == DNS_OK && i < nmx; i++)
			if (*mx[i].host)		/* not a null MX */
				strv_add(hosts, mx[i].host);
		dns_mx_free(mx, nmx);
		return (st);
	}
	/* NS: the domain's, or its nearest parent's with NS records */
	for (;;) {
		st = dns_lookup_ns(domain, hosts, err, errlen);
		if (st != DNS_NOTFOUND)
			return (st);
		if ((domain = strchr(domain, '.')) == NULL || domain[1] == 0)
			return (st);
		domain++;
	}
}

/* own_iface - addr is an address of a local interface */
static int
own_iface(const char *addr)
{
	struct ifaddrs *ifs, *i;
	char	 host[NI_MAXHOST];
	int	 found = 0;

	if (getifaddrs(&ifs) < 0)
		return (0);
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET
		    && i->ifa_addr->sa_family != AF_INET6))
			continue;
		if (getnameinfo(i->ifa_addr, i->ifa_addr->sa_family == AF_INET
		    ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6),
		    host, sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
			continue;
		host[strcspn(host, "%")] = 0;	/* fe80::1%eth0 */
		found = addr_match_cidr(addr, host) == 1;
	}
	freeifaddrs(ifs);
	return (found);
}

/* own_list - addr in one inet_interfaces-style list */
static int
own_list(const char *addr, const char *list)
{
	struct strv *v = strv_split(list, STR_LIST_DELIMS);
	char	 ip[128];
	size_t	 i, n;
	int	 found = 0;

	for (i = 0; v && i < v->argc && !found; i++) {
		const char *t = v->argv[i];

		if (strcasecmp(t, "all") == 0)
			found = own_iface(addr);
		else if (strcasecmp(t, "loopback-only") == 0
		    || strcasecmp(t, "localhost") == 0)
			found = addr_match_cidr(addr, "127.0.0.1") == 1
			    || addr_match_cidr(addr, "::1") == 1;
		else {
			n = strlen(t);
			if (*t == '[' && n > 2 && t[n - 1] == ']')
				snprintf(ip, sizeof(ip), "%.*s", (int)(n - 2),
				    t + 1);
			else
				snprintf(ip, sizeof(ip), "%s", t);
			found = addr_match_cidr(addr, ip) == 1;
		}
	}
	strv_free(v);
	return (found);
}

/* smtpd_check_dns_own_addr - inet_interfaces or proxy_interfaces */
int
smtpd_check_dns_own_addr(const char *addr)
{
	return (own_list(addr, conf_str("inet_interfaces"))
	    || own_list(addr, conf_str("proxy_interfaces")));
}

/* smtpd_check_dns_in_nets - addr in a permit_mx_backup_networks list */
int
smtpd_check_dns_in_nets(const char *addr, const char *nets)
{
	struct strv *v = strv_split(nets, STR_LIST_DELIMS);
	size_t	 i;
	int	 found = 0;

	for (i = 0; v && i < v->argc && !found; i++) {
		const char *t = v->argv[i];

		if (strchr(t, ':') && *t != '[' && strchr(t, '/') == NULL
		    && strspn(t, "0123456789abcdefABCDEF:.") != strlen(t)) {
			log_warn("permit_mx_backup_networks: table %s is not "
			    "supported by postern; it never matches",
			    log_safe(t));
			continue;
		}
		found = addr_match_cidr(addr, t) == 1;
	}
	strv_free(v);
	return (found);
}
