/*
 * NAME
 *	qmgr_resolve - address expansion and routing (trivial-rewrite)
 * SYNOPSIS
 *	See qmgr_resolve.h.
 * DESCRIPTION
 *	A domain's class (local, virtual alias, virtual mailbox, relay,
 *	default) comes from resolve/resolve.h, the resolver smtpd checks
 *	with: its domain lists, its parent-domain rules, its 5-second
 *	cache, its "is this address literal mine". Per-address lookups
 *	(aliases, transport_maps) are never cached.
 *
 *	Expansion is a depth-first walk. The ancestry of the current
 *	address is kept: an address that comes back to one of its
 *	ancestors is a loop (Postfix would run into the recursion limit
 *	and defer; we defer at once with 4.4.6), an address that maps to
 *	itself is a leaf (Postfix's "a -> a, b" idiom).
 * DIAGNOSTICS
 *	See qmgr_resolve.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "map.h"
#include "qmgr_resolve.h"
#include "resolve.h"
#include "str.h"
#include "xalloc.h"

struct qmgr_resolve_maps {
	const struct qmgr_resolve_conf *conf;
	struct resolve *resolve;	/* domain classes (resolve/) */
	struct maplist *valias;
	struct maplist *alias;
	struct maplist *transport;
};

/* split_list - split at separators outside {} and "" */
static struct strv *
split_list(const char *s, const char *seps)
{
	struct strv *v = strv_new();
	struct buf *b = buf_new(64);
	int	 depth = 0, quote = 0;

	for (; s && *s; s++) {
		if (*s == '"' && depth == 0)
			quote = !quote;
		else if (*s == '{' && !quote)
			depth++;
		else if (*s == '}' && !quote && depth > 0)
			depth--;
		if (!quote && depth == 0 && strchr(seps, *s)) {
			if (BUF_LEN(b))
				strv_add(v, BUF_STR(b));
			buf_reset(b);
			continue;
		}
		buf_putc(b, *s);
	}
	if (BUF_LEN(b))
		strv_add(v, BUF_STR(b));
	buf_free(b);
	return (v);
}

/* dupstr - strdup of a conf value */
static char *
dupstr(const char *name)
{
	return (xstrdup(conf_str(name)));
}

/* qmgr_resolve_conf_load - snapshot the parameters (loop thread) */
void
qmgr_resolve_conf_load(struct qmgr_resolve_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->myhostname = dupstr("myhostname");
	c->myorigin = dupstr("myorigin");
	resolve_conf_load(&c->res);
	c->virtual_alias_maps = dupstr("virtual_alias_maps");
	c->alias_maps = dupstr("alias_maps");
	c->transport_maps = dupstr("transport_maps");
	c->virtual_transport = dupstr("virtual_transport");
	c->relay_transport = dupstr("relay_transport");
	c->default_transport = dupstr("default_transport");
	c->relayhost = dupstr("relayhost");
	c->recipient_delimiter = dupstr("recipient_delimiter");
	c->recursion_limit = conf_int("virtual_alias_recursion_limit");
	c->expansion_limit = conf_int("virtual_alias_expansion_limit");
	if (*c->myorigin == 0) {
		free(c->myorigin);
		c->myorigin = xstrdup(c->myhostname);
	}
}

/* qmgr_resolve_conf_free - release a snapshot */
void
qmgr_resolve_conf_free(struct qmgr_resolve_conf *c)
{
	free(c->myhostname);
	free(c->myorigin);
	resolve_conf_free(&c->res);
	free(c->virtual_alias_maps);
	free(c->alias_maps);
	free(c->transport_maps);
	free(c->virtual_transport);
	free(c->relay_transport);
	free(c->default_transport);
	free(c->relayhost);
	free(c->recipient_delimiter);
	memset(c, 0, sizeof(*c));
}

/* open_maplist - NULL for an empty parameter */
static struct maplist *
open_maplist(const char *spec)
{
	const char *cp;

	for (cp = spec; *cp && strchr(STR_LIST_DELIMS, *cp); cp++)
		;
	return (*cp ? maplist_open(spec, 0) : NULL);
}

/* qmgr_resolve_maps_new - one thread's tables */
struct qmgr_resolve_maps *
qmgr_resolve_maps_new(const struct qmgr_resolve_conf *c)
{
	struct qmgr_resolve_maps *m = xcalloc(1, sizeof(*m));

	m->conf = c;
	m->resolve = resolve_new(&c->res);
	m->valias = open_maplist(c->virtual_alias_maps);
	m->alias = open_maplist(c->alias_maps);
	m->transport = open_maplist(c->transport_maps);
	return (m);
}

/* qmgr_resolve_maps_free - close one thread's tables */
void
qmgr_resolve_maps_free(struct qmgr_resolve_maps *m)
{
	if (m == NULL)
		return;
	resolve_free(m->resolve);
	if (m->valias)
		maplist_close(m->valias);
	if (m->alias)
		maplist_close(m->alias);
	if (m->transport)
		maplist_close(m->transport);
	free(m);
}

/* qmgr_resolve_qualify - append @$myorigin to a bare local part */
char *
qmgr_resolve_qualify(const struct qmgr_resolve_conf *c, const char *addr)
{
	if (*addr == 0 || strchr(addr, '@') != NULL)
		return (xstrdup(addr));
	return (xasprintf("%s@%s", addr, c->myorigin));
}

/* is_local - 1 local domain, 0 not, -1 temporary error (reason set) */
static int
is_local(struct qmgr_resolve_maps *m, const char *dom, char *reason,
    size_t len)
{
	int	 cls = resolve_class(m->resolve, dom, reason, len);

	return (cls == RESOLVE_RETRY ? -1 : cls == RESOLVE_CLASS_LOCAL);
}

/* same_addr - case-insensitive address comparison */
static int
same_addr(const char *a, const char *b)
{
	return (strcasecmp(a, b) == 0);
}

/* strv_has - case-insensitive membership */
static int
strv_has(const struct strv *v, const char *s)
{
	size_t	 i;

	for (i = 0; i < v->argc; i++)
		if (same_addr(v->argv[i], s))
			return (1);
	return (0);
}

/* special_alias - "|cmd", "/file", ":include:" */
static int
special_alias(const char *a)
{
	return (*a == '|' || *a == '/' || strncasecmp(a, ":include:", 9) == 0);
}

struct expand_state {
	struct qmgr_resolve_maps *m;
	struct strv *leaves;
	struct strv *ancestry;
	char	*reason;
	size_t	 len;
};

static int expand_one(struct expand_state *, const char *, long);

/* expand_list - walk the result of one lookup */
static int
expand_list(struct expand_state *st, const char *addr, const char *value,
    const char *seps, const char *table, long depth)
{
	const struct qmgr_resolve_conf *c = st->m->conf;
	struct strv *v = split_list(value, seps);
	size_t	 i;
	int	 rc = 0;

	if ((long)v->argc > c->expansion_limit) {
		snprintf(st->reason, st->len, "4.3.0 unreasonable %s"
		    " expansion size for %s", table, log_safe(addr));
		strv_free(v);
		return (-1);
	}
	strv_add(st->ancestry, addr);
	for (i = 0; i < v->argc && rc == 0; i++) {
		char	*elem = str_trim(v->argv[i]), *q;
		size_t	 el = strlen(elem);

		if (el >= 2 && elem[0] == '"' && elem[el - 1] == '"') {
			memmove(elem, elem + 1, el - 2);
			elem[el - 2] = 0;
		}
		if (*elem == 0)
			continue;
		if (special_alias(elem)) {
			if (!strv_has(st->leaves, elem))
				strv_add(st->leaves, elem);
			continue;
		}
		q = qmgr_resolve_qualify(c, elem);
		if (same_addr(q, addr)) {
			if (!strv_has(st->leaves, q))
				strv_add(st->leaves, q);
		} else if (strv_has(st->ancestry, q)) {
			snprintf(st->reason, st->len, "4.4.6 mail forwarding"
			    " loop for %s in %s", log_safe(q), table);
			rc = -1;
		} else {
			rc = expand_one(st, q, depth + 1);
		}
		free(q);
		if ((long)st->leaves->argc > c->expansion_limit && rc == 0) {
			snprintf(st->reason, st->len, "4.3.0 unreasonable %s"
			    " expansion size for %s", table, log_safe(addr));
			rc = -1;
		}
	}
	free(st->ancestry->argv[--st->ancestry->argc]);
	st->ancestry->argv[st->ancestry->argc] = NULL;
	strv_free(v);
	return (rc);
}

/* alias_lookup - aliases(5) lookup of a local name: user+ext, user */
static int
alias_lookup(struct qmgr_resolve_maps *m, const char *addr, char **value)
{
	char	*local = addr_localpart(addr), *base, *ext;
	int	 r;

	r = maplist_lookup(m->alias, local, value);
	if (r == MAP_NOTFOUND && *m->conf->recipient_delimiter
	    && addr_split_ext(local, m->conf->recipient_delimiter, &base,
	    &ext) == 1) {
		r = maplist_lookup(m->alias, base, value);
		free(base);
		free(ext);
	}
	free(local);
	return (r);
}

/* expand_one - expand one address, appending leaves */
static int
expand_one(struct expand_state *st, const char *addr, long depth)
{
	struct qmgr_resolve_maps *m = st->m;
	const char *dom = addr_domain(addr);
	char	*value = NULL;
	int	 local, r, rc;

	if (depth > m->conf->recursion_limit) {
		snprintf(st->reason, st->len, "4.3.0 unreasonable"
		    " virtual_alias_maps map nesting for %s", log_safe(addr));
		return (-1);
	}
	if ((local = is_local(m, dom, st->reason, st->len)) < 0)
		return (-1);
	r = m->valias ? maplist_lookup_addr(m->valias, addr,
	    local ? MAP_ADDR_USER : 0, &value) : MAP_NOTFOUND;
	if (r == MAP_RETRY) {
		snprintf(st->reason, st->len, "4.3.0 virtual_alias_maps lookup"
		    " error for %s: %s", log_safe(addr),
		    maplist_error(m->valias));
		return (-1);
	}
	if (r == MAP_FOUND) {
		rc = expand_list(st, addr, value, ", \t\r\n",
		    "virtual_alias_maps", depth);
		free(value);
		return (rc);
	}
	if (local && m->alias) {
		r = alias_lookup(m, addr, &value);
		if (r == MAP_RETRY) {
			snprintf(st->reason, st->len, "4.3.0 alias_maps lookup"
			    " error for %s: %s", log_safe(addr),
			    maplist_error(m->alias));
			return (-1);
		}
		if (r == MAP_FOUND) {
			rc = expand_list(st, addr, value, ",\r\n",
			    "alias_maps", depth);
			free(value);
			return (rc);
		}
	}
	if (!strv_has(st->leaves, addr))
		strv_add(st->leaves, addr);
	return (0);
}

/* qmgr_resolve_expand - expand a recipient into its final addresses */
int
qmgr_resolve_expand(struct qmgr_resolve_maps *m, const char *addr,
    struct strv *leaves, char *reason, size_t len)
{
	struct expand_state st;
	size_t	 start = leaves->argc;
	char	*q = qmgr_resolve_qualify(m->conf, addr);
	int	 rc;

	st.m = m;
	st.leaves = leaves;
	st.ancestry = strv_new();
	st.reason = reason;
	st.len = len;
	*reason = 0;
	rc = expand_one(&st, q, 0);
	strv_free(st.ancestry);
	if (rc < 0) {
		while (leaves->argc > start) {
			free(leaves->argv[--leaves->argc]);
			leaves->argv[leaves->argc] = NULL;
		}
		free(q);
		return (QMGR_EXPAND_DEFER);
	}
	rc = (leaves->argc == start + 1 && same_addr(leaves->argv[start], q)
	    && strcmp(q, addr) == 0) ? QMGR_EXPAND_NONE : QMGR_EXPAND_LIST;
	free(q);
	return (rc);
}

/* route_set - fill in a route */
static int
route_set(struct qmgr_route *r, int action, const char *status,
    const char *fmt, const char *arg)
{
	r->action = action;
	snprintf(r->status, sizeof(r->status), "%s", status);
	snprintf(r->reason, sizeof(r->reason), fmt, arg);
	return (action);
}

/* transport_lookup - transport_maps: address, domain, .parents */
static int
transport_lookup(struct qmgr_resolve_maps *m, const char *addr,
    const char *dom, char **value)
{
	char	*key;
	const char *cp;
	int	 r;

	if ((r = maplist_lookup(m->transport, addr, value)) != MAP_NOTFOUND)
		return (r);
	if ((r = maplist_lookup(m->transport, dom, value)) != MAP_NOTFOUND)
		return (r);
	for (cp = dom; (cp = strchr(cp, '.')) != NULL; cp++) {
		key = xstrdup(cp);
		r = maplist_lookup(m->transport, key, value);
		free(key);
		if (r != MAP_NOTFOUND)
			return (r);
	}
	return (MAP_NOTFOUND);
}

/* split_transport - "transport:nexthop" into a route */
static void
split_transport(struct qmgr_route *r, const char *value, int override)
{
	const char *colon = strchr(value, ':');
	size_t	 tl = colon ? (size_t)(colon - value) : strlen(value);

	if (tl > 0 || !override) {
		if (tl >= sizeof(r->transport))
			tl = sizeof(r->transport) - 1;
		memcpy(r->transport, value, tl);
		r->transport[tl] = 0;
	}
	if (colon && colon[1]) {
		free(r->nexthop);
		r->nexthop = xstrdup(colon + 1);
	}
}

/* utf8_ok - well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF) */
static int
utf8_ok(const unsigned char *s)
{
	unsigned int cp;
	int	 n, i;

	while (*s) {
		if (*s < 0x80) {
			s++;
			continue;
		}
		if (*s >= 0xc2 && *s <= 0xdf)
			n = 1, cp = *s & 0x1f;
		else if (*s >= 0xe0 && *s <= 0xef)
			n = 2, cp = *s & 0x0f;
		else if (*s >= 0xf0 && *s <= 0xf4)
			n = 3, cp = *s & 0x07;
		else
			return (0);
		for (i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return (0);
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
		    || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return (0);
		s += n + 1;
	}
	return (1);
}

/*
 * domain_ok - what Postfix's resolver accepts as a domain: an address
 * literal, or a host name (with SMTPUTF8, UTF-8 letters count as
 * letters). Anything else is its RESOLVE_FLAG_ERROR: 5.1.3.
 */
static int
domain_ok(const char *dom)
{
	char	*copy, *cp;
	int	 ok;

	if (*dom == '[')
		return (addr_is_ip_literal(dom));
	if (!utf8_ok((const unsigned char *)dom))
		return (0);
	copy = xstrdup(dom);
	for (cp = copy; *cp; cp++)
		if ((unsigned char)*cp >= 0x80)
			*cp = 'u';
	ok = addr_valid_hostname(copy);
	free(copy);
	return (ok);
}

/* resolve_leaf - route one final address whose domain is dom */
static int
resolve_leaf(struct qmgr_resolve_maps *m, const char *addr,
    const char *dom, struct qmgr_route *r)
{
	const struct qmgr_resolve_conf *c = m->conf;
	char	 why[512], *value = NULL;
	int	 rc;

	if (special_alias(addr))
		return (route_set(r, QMGR_ROUTE_BOUNCE, "5.3.0", "unsupported"
		    " alias destination %s: no local delivery agent",
		    log_safe(addr)));
	if (*dom == 0 || !domain_ok(dom))
		return (route_set(r, QMGR_ROUTE_BOUNCE, "5.1.3",
		    "bad address syntax: %s", log_safe(addr)));
	switch (resolve_class(m->resolve, dom, why, sizeof(why))) {
	case RESOLVE_RETRY:
		return (route_set(r, QMGR_ROUTE_DEFER, "4.3.0", "%s", why + 6));
	case RESOLVE_CLASS_LOCAL:
		route_set(r, QMGR_ROUTE_BOUNCE, "5.1.1", "unknown user: \"%s\"",
		    log_safe(addr));
		break;
	case RESOLVE_CLASS_ALIAS:
		route_set(r, QMGR_ROUTE_BOUNCE, "5.1.1", "User unknown in"
		    " virtual alias table%s", "");
		break;
	case RESOLVE_CLASS_VIRTUAL:
		split_transport(r, c->virtual_transport, 0);
		break;
	case RESOLVE_CLASS_RELAY:
		split_transport(r, c->relay_transport, 0);
		break;
	default:
		split_transport(r, c->default_transport, 0);
		if (r->nexthop == NULL && *c->relayhost)
			r->nexthop = xstrdup(c->relayhost);
		break;
	}
	if (m->transport) {
		rc = transport_lookup(m, addr, dom, &value);
		if (rc == MAP_RETRY) {
			free(r->nexthop);
			r->nexthop = NULL;
			return (route_set(r, QMGR_ROUTE_DEFER, "4.3.0",
			    "transport_maps lookup error: %s",
			    maplist_error(m->transport)));
		}
		if (rc == MAP_FOUND) {
			r->action = QMGR_ROUTE_DELIVER;
			split_transport(r, value, 1);
			free(value);
		}
	}
	if (r->action == QMGR_ROUTE_DELIVER && r->nexthop == NULL)
		r->nexthop = xstrdup(dom);
	if (r->action != QMGR_ROUTE_DELIVER) {
		free(r->nexthop);
		r->nexthop = NULL;
	}
	return (r->action);
}

/* qmgr_resolve_leaf - route one final address */
int
qmgr_resolve_leaf(struct qmgr_resolve_maps *m, const char *addr,
    struct qmgr_route *r)
{
	const char *dom = addr_domain(addr);
	size_t	 len = strlen(dom);
	char	*stripped = NULL;
	int	 rc;

	memset(r, 0, sizeof(*r));
	/* As Postfix's resolver: one trailing dot goes ("a@b.example."). */
	if (len > 1 && dom[len - 1] == '.' && dom[len - 2] != '.')
		dom = stripped = xstrndup(dom, len - 1);
	rc = resolve_leaf(m, addr, dom, r);
	free(stripped);
	return (rc);
}
