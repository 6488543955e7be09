/*
 * NAME
 *	resolve - the one address resolver: domain lists, address classes,
 *	"is this literal mine" (Postfix's trivial-rewrite resolve part)
 * SYNOPSIS
 *	#include "resolve.h"
 *
 *	void	resolve_conf_load(struct resolve_conf *c);
 *	void	resolve_conf_free(struct resolve_conf *c);
 *	struct resolve *resolve_new(const struct resolve_conf *c);
 *	void	resolve_free(struct resolve *r);
 *	int	resolve_class(struct resolve *r, const char *domain,
 *	    char *reason, size_t len);
 *	int	resolve_literal_local(const struct resolve *r,
 *	    const char *literal);
 * DESCRIPTION
 *	smtpd (relay control, recipient validation), qmgr (routing, alias
 *	expansion) and address verification ask this module, and only
 *	this module, which class a domain belongs to, so that what smtpd
 *	accepts is what qmgr routes.
 *
 *	resolve_conf_load() fills c with copies of the current parameters
 *	(a snapshot that outlives a reload); resolve_conf_free() frees
 *	them. A caller may fill c itself (a NULL list is empty, a NULL
 *	parent_domain_matches_subdomains is Postfix's default).
 *	resolve_new() parses the lists and opens their tables (a handle
 *	is used by one thread at a time: each worker thread has its own,
 *	and so its own MySQL connection); it copies what it needs from c.
 *
 *	resolve_class() returns the class of domain, in Postfix's order:
 *	RESOLVE_CLASS_LOCAL (mydestination, an address literal of this
 *	host, or no domain at all), RESOLVE_CLASS_ALIAS
 *	(virtual_alias_domains), RESOLVE_CLASS_VIRTUAL
 *	(virtual_mailbox_domains), RESOLVE_CLASS_RELAY (relay_domains),
 *	else RESOLVE_CLASS_DEFAULT. One trailing dot is ignored, case
 *	does not matter. Table trouble is RESOLVE_RETRY with reason set
 *	to "4.3.0 <parameter> lookup error for <domain>: <why>": never
 *	"not mine", never a class.
 *
 *	Domain lists are Postfix match lists (match_list(3),
 *	match_hostname()), first match wins:
 *	  name		the domain itself; with the list's parameter in
 *			parent_domain_matches_subdomains, its subdomains
 *			too
 *	  .name		subdomains of name
 *	  !pattern	a match ends the search with "no"
 *	  type:table	the domain is the key; for string tables (not
 *			regexp:, pcre:, cidr:) with the parameter in
 *			parent_domain_matches_subdomains, the parent
 *			domains too (sub.example.org, example.org, org)
 *	  /file		the patterns in the file (words, # comments), read
 *			by resolve_new(); a file that cannot be read makes
 *			every lookup that reaches it RESOLVE_RETRY
 *	Postfix also looks up ".parent" keys in string tables of a list
 *	without parent matching; postern does not (one SELECT per list
 *	and domain, tests/62-mysql-queries.t).
 *
 *	Nothing is remembered here: a mysql: table's answers come from
 *	the process's lookup cache (maps/map_cache.h, lookup_cache_time,
 *	shared by its threads; the role of Postfix's resolve cache), so
 *	a domain added to or removed from the table is seen within
 *	lookup_cache_time; file tables are asked every time (they are
 *	local and reopened when rebuilt). Errors are never cached.
 *
 *	resolve_literal_local() tells whether "[addr]" or "[IPv6:addr]"
 *	names this host: an address of inet_interfaces (every interface
 *	address with "all", 127.0.0.1 and ::1 with "loopback-only") or
 *	of proxy_interfaces. An IPv4-mapped IPv6 address is its IPv4
 *	address. Host names in those lists are not resolved.
 * DIAGNOSTICS
 *	An unreadable /file is logged by resolve_new(); it, and a table
 *	that cannot be opened or is down, make a lookup that reaches them
 *	RESOLVE_RETRY (patterns before them still answer).
 * SEE ALSO
 *	maps/map_cache.h, maps/map.h, Postfix's trivial-rewrite(8)
 */
#ifndef RESOLVE_H
#define RESOLVE_H

#include <stddef.h>

#define RESOLVE_RETRY		(-1)
#define RESOLVE_CLASS_DEFAULT	0
#define RESOLVE_CLASS_LOCAL	1
#define RESOLVE_CLASS_ALIAS	2
#define RESOLVE_CLASS_VIRTUAL	3
#define RESOLVE_CLASS_RELAY	4

struct resolve_conf {
	char	*mydestination;
	char	*virtual_alias_domains;
	char	*virtual_mailbox_domains;
	char	*relay_domains;
	char	*inet_interfaces;
	char	*proxy_interfaces;
	char	*parent_domain_matches_subdomains;
};

struct resolve;

void	 resolve_conf_load(struct resolve_conf *);
void	 resolve_conf_free(struct resolve_conf *);
struct resolve *resolve_new(const struct resolve_conf *);
void	 resolve_free(struct resolve *);
int	 resolve_class(struct resolve *, const char *, char *, size_t);
int	 resolve_literal_local(const struct resolve *, const char *);

#endif
