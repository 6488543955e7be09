/*
 * NAME
 *	qmgr_resolve - address expansion and routing (trivial-rewrite)
 * SYNOPSIS
 *	#include "qmgr_resolve.h"
 *
 *	void	qmgr_resolve_conf_load(struct qmgr_resolve_conf *c);
 *	void	qmgr_resolve_conf_free(struct qmgr_resolve_conf *c);
 *	struct qmgr_resolve_maps *qmgr_resolve_maps_new(
 *	    const struct qmgr_resolve_conf *c);
 *	void	qmgr_resolve_maps_free(struct qmgr_resolve_maps *m);
 *	int	qmgr_resolve_expand(struct qmgr_resolve_maps *m,
 *	    const char *addr, struct strv *leaves, char *reason,
 *	    size_t len);
 *	int	qmgr_resolve_leaf(struct qmgr_resolve_maps *m,
 *	    const char *addr, struct qmgr_route *r);
 *	char	*qmgr_resolve_qualify(const struct qmgr_resolve_conf *c,
 *	    const char *addr);
 * DESCRIPTION
 *	Postfix's trivial-rewrite and the alias part of local(8), folded
 *	into qmgr. Blocking code: it runs on a worker thread with that
 *	thread's maps (qmgr_resolve_maps_new() opens them); the conf
 *	snapshot is read-only and shared.
 *
 *	qmgr_resolve_expand() expands one recipient through
 *	virtual_alias_maps and, for a local domain (mydestination, an IP
 *	literal of this host), alias_maps, recursively, and appends the
 *	resulting leaf addresses to leaves. It returns QMGR_EXPAND_NONE
 *	when the address is a leaf itself (no alias applies; leaves holds
 *	just addr), QMGR_EXPAND_LIST when it expanded (leaves holds the
 *	final addresses, duplicates removed), or QMGR_EXPAND_DEFER with a
 *	reason "4.x.y text" (a map in temporary error, a loop, the
 *	virtual_alias_recursion_limit or virtual_alias_expansion_limit
 *	exceeded: Postfix defers such mail too). An address that maps to
 *	itself (also inside a list) is a leaf. aliases(5) values "|cmd",
 *	"/file" and ":include:" become leaves as written; leaf resolution
 *	bounces them (no local delivery agent here).
 *
 *	qmgr_resolve_leaf() routes one final address by its domain class
 *	(resolve/resolve.h, the classes smtpd accepts by) in Postfix's
 *	order: local (mydestination, an address literal of this host;
 *	there is no local delivery agent, so a local name that the aliases
 *	did not turn into another address bounces 5.1.1), virtual_alias_domains (bounce
 *	5.1.1), virtual_mailbox_domains ($virtual_transport, nexthop the
 *	domain), relay_domains ($relay_transport), else $default_transport
 *	with nexthop $relayhost or the domain. transport_maps (address,
 *	domain, then parent domains as ".parent") override transport and
 *	nexthop where they give them. "transport:nexthop" values are split
 *	at the first ':'. One trailing dot of the domain is ignored (as
 *	Postfix strips it). An address without a domain, or whose domain is
 *	neither an address literal nor a valid host name (UTF-8 allowed),
 *	bounces 5.1.3 bad address syntax, as Postfix's resolver flags it.
 * DIAGNOSTICS
 *	Temporary map failures become QMGR_ROUTE_DEFER / QMGR_EXPAND_DEFER
 *	with a 4.3.0 reason, never a bounce.
 */
#ifndef QMGR_RESOLVE_H
#define QMGR_RESOLVE_H

#include <stddef.h>

#include "resolve.h"
#include "str.h"

#define QMGR_EXPAND_NONE	0
#define QMGR_EXPAND_LIST	1
#define QMGR_EXPAND_DEFER	(-1)

#define QMGR_ROUTE_DELIVER	0
#define QMGR_ROUTE_BOUNCE	1
#define QMGR_ROUTE_DEFER	2

struct qmgr_resolve_conf {
	char	*myhostname;
	char	*myorigin;
	struct resolve_conf res;	/* domain lists, interfaces */
	char	*virtual_alias_maps;	/* map lists */
	char	*alias_maps;
	char	*transport_maps;
	char	*virtual_transport;
	char	*relay_transport;
	char	*default_transport;
	char	*relayhost;
	char	*recipient_delimiter;
	long	 recursion_limit;
	long	 expansion_limit;
};

struct qmgr_route {
	int	 action;		/* QMGR_ROUTE_* */
	char	 transport[64];
	char	*nexthop;		/* DELIVER; caller frees */
	char	 status[16];		/* BOUNCE/DEFER: "5.1.1" */
	char	 reason[512];		/* BOUNCE/DEFER */
};

struct qmgr_resolve_maps;

void	 qmgr_resolve_conf_load(struct qmgr_resolve_conf *);
void	 qmgr_resolve_conf_free(struct qmgr_resolve_conf *);
struct qmgr_resolve_maps *qmgr_resolve_maps_new(
	    const struct qmgr_resolve_conf *);
void	 qmgr_resolve_maps_free(struct qmgr_resolve_maps *);
int	 qmgr_resolve_expand(struct qmgr_resolve_maps *, const char *,
	    struct strv *, char *, size_t);
int	 qmgr_resolve_leaf(struct qmgr_resolve_maps *, const char *,
	    struct qmgr_route *);
char	*qmgr_resolve_qualify(const struct qmgr_resolve_conf *,
	    const char *);

#endif
