/*
 * NAME
 *	resolve - the one address resolver (trivial-rewrite's resolve part)
 * SYNOPSIS
 *	See resolve.h.
 * DESCRIPTION
 *	A struct resolve holds four domain lists and the addresses of
 *	this host. A list is an array of patterns, each a name, a table
 *	or a pattern that stands for a /file that could not be read; the
 *	patterns of a readable /file are spliced into the array in place.
 * DIAGNOSTICS
 *	See resolve.h.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "map.h"
#include "resolve.h"
#include "str.h"
#include "xalloc.h"

/* Postfix's default parent_domain_matches_subdomains (lib/params.c) */
#define RESOLVE_DEF_PARENT	"debug_peer_list,fast_flush_domains," \
	"mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients," \
	"relay_domains,smtpd_access_maps"

struct resolve_pat {
	int	 neg;
	char	*name;			/* a name, lower case */
	struct map *map;		/* or a table */
	int	 fixed;			/* a string table: parents apply */
	char	*broken;		/* or an unreadable /file: why */
};

struct resolve_list {
	const char *param;
	struct resolve_pat *pat;
	size_t	 n;
	int	 parent;		/* parent_domain_matches_subdomains */
};

struct resolve {
	struct resolve_list mydest, valias, vmbox, relay;
	struct strv *addrs;		/* this host's addresses */
};

/* resolve_is_table - "type:name" rather than a name, literal or file */
static int
resolve_is_table(const char *s)
{
	const char *cp;

	for (cp = s; *cp && (isalnum((unsigned char)*cp) || *cp == '_'); cp++)
		;
	return (cp > s && *cp == ':');
}

/* resolve_fixed - a string table (Postfix's DICT_FLAG_FIXED) */
static int
resolve_fixed(const char *spec)
{
	static const char *const pattern_types[] = {"regexp:", "pcre:",
	    "cidr:", NULL};
	int	 i;

	if (strncmp(spec, "proxy:", 6) == 0)
		spec += 6;
	for (i = 0; pattern_types[i]; i++)
		if (strncmp(spec, pattern_types[i], strlen(pattern_types[i]))
		    == 0)
			return (0);
	return (1);
}

/* resolve_pat_new - room for one more pattern */
static struct resolve_pat *
resolve_pat_new(struct resolve_list *l, int neg)
{
	struct resolve_pat *p;

	l->pat = xrealloc(l->pat, (l->n + 1) * sizeof(*l->pat));
	p = &l->pat[l->n++];
	memset(p, 0, sizeof(*p));
	p->neg = neg;
	return (p);
}

static void resolve_list_add(struct resolve_list *, const char *, int, int);

/* resolve_list_file - the patterns of a /file, in place */
static void
resolve_list_file(struct resolve_list *l, const char *path, int neg)
{
	FILE	*fp = fopen(path, "r");
	char	 line[1024], *cp, *tok;

	if (fp == NULL) {
		log_warn("%s: cannot open %s: %m", l->param, path);
		resolve_pat_new(l, neg)->broken = xasprintf("cannot open %s: %s",
		    path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), fp)) {
		cp = line;
		if (*str_trim(line) == '#')
			continue;
		while ((tok = str_token(&cp, STR_LIST_DELIMS)) != NULL)
			resolve_list_add(l, tok, neg, 1);
	}
	fclose(fp);
}

/* resolve_list_add - one pattern; a file's patterns do not nest */
static void
resolve_list_add(struct resolve_list *l, const char *pat, int neg,
    int in_file)
{
	struct resolve_pat *p;

	for (; *pat == '!'; pat++)
		neg = !neg;
	if (*pat == 0)
		return;
	if (*pat == '/' && !in_file) {
		resolve_list_file(l, pat, neg);
	} else if (resolve_is_table(pat)) {
		p = resolve_pat_new(l, neg);
		p->map = map_open(pat, 0);
		p->fixed = resolve_fixed(pat);
	} else {
		resolve_pat_new(l, neg)->name = str_lower(xstrdup(pat));
	}
}

/* resolve_list_init - parse one domain list parameter */
static void
resolve_list_init(struct resolve_list *l, const char *param,
    const char *value, const char *parent_params)
{
	struct strv *v = strv_splitq(parent_params, STR_LIST_DELIMS);
	size_t	 i;

	memset(l, 0, sizeof(*l));
	l->param = param;
	for (i = 0; i < v->argc; i++)
		if (strcasecmp(v->argv[i], param) == 0)
			l->parent = 1;
	strv_free(v);
	v = strv_splitq(value, STR_LIST_DELIMS);
	for (i = 0; i < v->argc; i++)
		resolve_list_add(l, v->argv[i], 0, 0);
	strv_free(v);
}

/* resolve_list_free - close a list's tables */
static void
resolve_list_free(struct resolve_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++) {
		free(l->pat[i].name);
		free(l->pat[i].broken);
		if (l->pat[i].map)
			map_close(l->pat[i].map);
	}
	free(l->pat);
	memset(l, 0, sizeof(*l));
}

/* resolve_name_match - Postfix's match_hostname() for a name pattern */
static int
resolve_name_match(const char *pat, const char *dom, int parent)
{
	size_t	 pl = strlen(pat), dl = strlen(dom);

	if (strcmp(pat, dom) == 0)
		return (1);
	if (pat[0] == '.')
		return (dl > pl && strcmp(dom + dl - pl, pat) == 0);
	return (parent && dl > pl + 1 && dom[dl - pl - 1] == '.'
	    && strcmp(dom + dl - pl, pat) == 0);
}

/* resolve_table_match - the domain, and its parents where they apply */
static int
resolve_table_match(struct resolve_list *l, struct resolve_pat *p,
    const char *dom, char *reason, size_t len)
{
	const char *key;
	char	*val;
	int	 r;

	for (key = dom; key != NULL; key = strchr(key, '.')) {
		if (*key == '.')
			key++;
		if (*key == 0)
			break;
		r = map_lookup(p->map, key, &val);
		if (r == MAP_RETRY) {
			snprintf(reason, len, "4.3.0 %s lookup error for %s: %s",
			    l->param, log_safe(dom), map_error(p->map));
			return (RESOLVE_RETRY);
		}
		if (r == MAP_FOUND) {
			free(val);
			return (1);
		}
		if (!l->parent || !p->fixed)
			break;
	}
	return (0);
}

/* resolve_pat_match - one pattern: 1 match, 0 none, RESOLVE_RETRY */
static int
resolve_pat_match(struct resolve_list *l, struct resolve_pat *p,
    const char *dom, char *reason, size_t len)
{
	if (p->broken) {
		snprintf(reason, len, "4.3.0 %s lookup error for %s: %s",
		    l->param, log_safe(dom), p->broken);
		return (RESOLVE_RETRY);
	}
	if (p->name)
		return (resolve_name_match(p->name, dom, l->parent));
	return (resolve_table_match(l, p, dom, reason, len));
}

/*
 * resolve_list_match - 1 match, 0 none, RESOLVE_RETRY (reason set); the
 * first pattern that matches decides. A mysql: table's answers come from
 * the process's lookup cache (maps/map_cache.h) for lookup_cache_time:
 * that is what keeps a domain's class from costing a SELECT per
 * recipient and stage, and it bounds how stale an answer can be.
 */
static int
resolve_list_match(struct resolve_list *l, const char *dom, char *reason,
    size_t len)
{
	size_t	 i;
	int	 r = 0;

	for (i = 0, r = 0; i < l->n && r == 0; i++)
		r = resolve_pat_match(l, &l->pat[i], dom, reason, len);
	if (r > 0 && l->pat[i - 1].neg)
		r = 0;			/* a !pattern matched: not in the list */
	return (r);
}

/* resolve_add_ifaddrs - every address of every interface ("all") */
static void
resolve_add_ifaddrs(struct strv *addrs)
{
	struct ifaddrs *ifa, *i;
	char	 buf[INET6_ADDRSTRLEN];
	const void *a;

	strv_add(addrs, "127.0.0.1");
	strv_add(addrs, "::1");
	if (getifaddrs(&ifa) < 0) {
		log_warn("inet_interfaces = all: getifaddrs: %m");
		return;
	}
	for (i = ifa; i; i = i->ifa_next) {
		if (i->ifa_addr == NULL)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			a = &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr;
		else if (i->ifa_addr->sa_family == AF_INET6)
			a = &((struct sockaddr_in6 *)(void *)
			    i->ifa_addr)->sin6_addr;
		else
			continue;
		if (inet_ntop(i->ifa_addr->sa_family, a, buf, sizeof(buf)))
			strv_add(addrs, buf);
	}
	freeifaddrs(ifa);
}

/* resolve_init_addrs - inet_interfaces and proxy_interfaces */
static struct strv *
resolve_init_addrs(const char *inet, const char *proxy)
{
	struct strv *addrs = strv_new(), *v;
	size_t	 i;

	v = strv_splitq(inet, STR_LIST_DELIMS);
	for (i = 0; i < v->argc; i++) {
		if (strcasecmp(v->argv[i], "all") == 0)
			resolve_add_ifaddrs(addrs);
		else if (strcasecmp(v->argv[i], "loopback-only") == 0) {
			strv_add(addrs, "127.0.0.1");
			strv_add(addrs, "::1");
		} else
			strv_add(addrs, v->argv[i]);
	}
	strv_free(v);
	v = strv_splitq(proxy, STR_LIST_DELIMS);
	for (i = 0; i < v->argc; i++)
		strv_add(addrs, v->argv[i]);
	strv_free(v);
	return (addrs);
}

/* resolve_conf_load - copies of the resolver's parameters */
void
resolve_conf_load(struct resolve_conf *c)
{
	static const char *const names[] = {"mydestination",
	    "virtual_alias_domains", "virtual_mailbox_domains",
	    "relay_domains", "inet_interfaces", "proxy_interfaces",
	    "parent_domain_matches_subdomains"};
	char	**fields[] = {&c->mydestination, &c->virtual_alias_domains,
	    &c->virtual_mailbox_domains, &c->relay_domains,
	    &c->inet_interfaces, &c->proxy_interfaces,
	    &c->parent_domain_matches_subdomains};
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		*fields[i] = xstrdup(conf_str(names[i]));
}

/* resolve_conf_free - free what resolve_conf_load() copied */
void
resolve_conf_free(struct resolve_conf *c)
{
	free(c->mydestination);
	free(c->virtual_alias_domains);
	free(c->virtual_mailbox_domains);
	free(c->relay_domains);
	free(c->inet_interfaces);
	free(c->proxy_interfaces);
	free(c->parent_domain_matches_subdomains);
	memset(c, 0, sizeof(*c));
}

/* resolve_new - parse the lists, open this thread's tables */
struct resolve *
resolve_new(const struct resolve_conf *c)
{
	struct resolve *r = xcalloc(1, sizeof(*r));
	const char *parent = c->parent_domain_matches_subdomains;

	if (parent == NULL)
		parent = RESOLVE_DEF_PARENT;
	resolve_list_init(&r->mydest, "mydestination", c->mydestination,
	    parent);
	resolve_list_init(&r->valias, "virtual_alias_domains",
	    c->virtual_alias_domains, parent);
	resolve_list_init(&r->vmbox, "virtual_mailbox_domains",
	    c->virtual_mailbox_domains, parent);
	resolve_list_init(&r->relay, "relay_domains", c->relay_domains,
	    parent);
	r->addrs = resolve_init_addrs(c->inet_interfaces, c->proxy_interfaces);
	return (r);
}

/* resolve_free - close the tables */
void
resolve_free(struct resolve *r)
{
	if (r == NULL)
		return;
	resolve_list_free(&r->mydest);
	resolve_list_free(&r->valias);
	resolve_list_free(&r->vmbox);
	resolve_list_free(&r->relay);
	strv_free(r->addrs);
	free(r);
}

/* resolve_literal_local - "[addr]" or "[IPv6:addr]" of this host */
int
resolve_literal_local(const struct resolve *r, const char *literal)
{
	size_t	 len = strlen(literal), i;
	char	*ip;
	int	 mine = 0;

	if (len < 3 || literal[0] != '[' || literal[len - 1] != ']')
		return (0);
	ip = xstrndup(literal + 1, len - 2);
	if (strncasecmp(ip, "IPv6:", 5) == 0)
		memmove(ip, ip + 5, strlen(ip + 5) + 1);
	/* addr_match_cidr: v4-mapped is IPv4, brackets allowed in the list */
	for (i = 0; i < r->addrs->argc && !mine; i++)
		mine = addr_match_cidr(ip, r->addrs->argv[i]) == 1
		    && strchr(r->addrs->argv[i], '/') == NULL;
	free(ip);
	return (mine);
}

/* resolve_class - the address class of a domain */
int
resolve_class(struct resolve *r, const char *domain, char *reason,
    size_t len)
{
	size_t	 dl = strlen(domain);
	char	*dom;
	int	 m, cls = RESOLVE_CLASS_DEFAULT;

	if (len > 0)
		*reason = 0;
	/* As Postfix's resolver: one trailing dot goes ("a@b.example."). */
	if (dl > 1 && domain[dl - 1] == '.' && domain[dl - 2] != '.')
		dl--;
	if (dl == 0)
		return (RESOLVE_CLASS_LOCAL);	/* unqualified: our own user */
	dom = str_lower(xstrndup(domain, dl));
	if ((m = resolve_list_match(&r->mydest, dom, reason, len)) > 0
	    || (m == 0 && *dom == '[' && resolve_literal_local(r, dom)))
		cls = RESOLVE_CLASS_LOCAL;
	else if (m == 0 && (m = resolve_list_match(&r->valias, dom, reason,
	    len)) > 0)
		cls = RESOLVE_CLASS_ALIAS;
	else if (m == 0 && (m = resolve_list_match(&r->vmbox, dom, reason,
	    len)) > 0)
		cls = RESOLVE_CLASS_VIRTUAL;
	else if (m == 0 && (m = resolve_list_match(&r->relay, dom, reason,
	    len)) > 0)
		cls = RESOLVE_CLASS_RELAY;
	free(dom);
	return (m < 0 ? RESOLVE_RETRY : cls);
}
