/*
 * NAME
 *	qmgr_resolve_test - table-driven tests of expansion and routing
 * DESCRIPTION
 *	memory: maps stand in for virtual_alias_maps, alias_maps,
 *	transport_maps and a virtual_mailbox_domains table; a map that
 *	cannot be opened stands in for a database that is down (every
 *	lookup MAP_RETRY).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "map.h"
#include "qmgr_resolve.h"
#include "str.h"
#include "tap.h"
#include "xalloc.h"

static void
conf_init(struct qmgr_resolve_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->myhostname = "mx.example.com";
	c->myorigin = "example.com";
	c->res.mydestination = "mx.example.com, localhost";
	c->res.virtual_alias_domains = "alias.example";
	c->res.virtual_mailbox_domains = "example.com, memory:vdom";
	c->res.relay_domains = "relay.example";
	c->res.inet_interfaces = "127.0.0.1, [::1]";
	c->res.proxy_interfaces = "";
	c->virtual_alias_maps = "memory:valias";
	c->alias_maps = "memory:aliases";
	c->transport_maps = "memory:transport";
	c->virtual_transport = "virtual";
	c->relay_transport = "relay";
	c->default_transport = "smtp";
	c->relayhost = "";
	c->recipient_delimiter = "+";
	c->recursion_limit = 1000;
	c->expansion_limit = 1000;
}

static void
fill(const char *spec, const char *const *kv)
{
	struct map *m = map_open(spec, 0);

	for (; kv[0]; kv += 2)
		map_update(m, kv[0], kv[1]);
	map_close(m);
}

struct expand_case {
	const char *name;
	const char *addr;
	int	 want;
	const char *leaves;	/* joined with " " or the status prefix */
};

static const struct expand_case expand_cases[] = {
	{"plain virtual address is a leaf", "user1@example.com",
	QMGR_EXPAND_NONE, "user1@example.com"},
	{"alias fans out", "list@example.com", QMGR_EXPAND_LIST,
	"a@example.com b@example.com"},
	{"nested alias", "nested@example.com", QMGR_EXPAND_LIST,
	"a@example.com b@example.com"},
	{"self plus copy", "self@example.com", QMGR_EXPAND_LIST,
	"self@example.com copy@example.com"},
	{"loop defers 4.4.6", "loop1@example.com", QMGR_EXPAND_DEFER,
	"4.4.6"},
	{"local alias to virtual address", "root@localhost",
	QMGR_EXPAND_LIST, "admin@example.com"},
	{"local alias to a bare name gets myorigin",
	"postmaster@mx.example.com", QMGR_EXPAND_LIST, "root@example.com"},
	{"alias with extension", "root+cron@localhost", QMGR_EXPAND_LIST,
	"admin@example.com"},
	{"unqualified gets myorigin", "someone", QMGR_EXPAND_LIST,
	"someone@example.com"},
	{"pipe alias kept as leaf", "pipe@localhost", QMGR_EXPAND_LIST,
	"|/bin/cat"},
	{"quoted alias list", "quoted@localhost", QMGR_EXPAND_LIST,
	"x@example.com y@example.com"},
	{"unknown local name is a leaf", "nobody@localhost",
	QMGR_EXPAND_NONE, "nobody@localhost"},
	{"virtual alias on local domain by user", "valuser@localhost",
	QMGR_EXPAND_LIST, "v@example.com"},
	{"case folded", "LIST@Example.COM", QMGR_EXPAND_LIST,
	"a@example.com b@example.com"},
	{"empty address", "", QMGR_EXPAND_NONE, ""},
	{"8-bit address", "j\xc3\xb6rg@example.com", QMGR_EXPAND_NONE,
	"j\xc3\xb6rg@example.com"},
	{"unbalanced brackets", "<a@example.com", QMGR_EXPAND_NONE,
	"<a@example.com"},
	{"two at signs", "a@b@example.com", QMGR_EXPAND_NONE,
	"a@b@example.com"},
	{NULL},
};

struct leaf_case {
	const char *name;
	const char *addr;
	const char *relayhost;
	int	 want;
	const char *transport;
	const char *nexthop_or_status;
};

static const struct leaf_case leaf_cases[] = {
	{"virtual domain", "user@example.com", "", QMGR_ROUTE_DELIVER,
	"virtual", "example.com"},
	{"virtual domain from a table", "u@vdom.example", "",
	QMGR_ROUTE_DELIVER, "virtual", "vdom.example"},
	{"virtual alias domain without alias", "x@alias.example", "",
	QMGR_ROUTE_BOUNCE, "", "5.1.1"},
	{"relay domain", "x@relay.example", "", QMGR_ROUTE_DELIVER,
	"relay", "relay.example"},
	{"relay subdomain", "x@sub.relay.example", "", QMGR_ROUTE_DELIVER,
	"relay", "sub.relay.example"},
	{"default transport", "x@other.net", "", QMGR_ROUTE_DELIVER, "smtp",
	"other.net"},
	{"relayhost with brackets and port", "x@other.net",
	"[smtp.isp.example]:587", QMGR_ROUTE_DELIVER, "smtp",
	"[smtp.isp.example]:587"},
	{"relayhost with MX lookup and port", "x@other.net",
	"smtp.myisp.com:587", QMGR_ROUTE_DELIVER, "smtp",
	"smtp.myisp.com:587"},
	{"relayhost not for virtual", "x@example.com", "[smtp.isp]:587",
	QMGR_ROUTE_DELIVER, "virtual", "example.com"},
	{"transport_maps error", "x@special.example", "",
	QMGR_ROUTE_DELIVER, "error", "5.7.1 no mail here"},
	{"transport_maps nexthop", "x@smtp-route.example", "",
	QMGR_ROUTE_DELIVER, "smtp", "[10.0.0.1]:2525"},
	{"transport_maps parent domain", "x@a.parent.example", "",
	QMGR_ROUTE_DELIVER, "lmtp", "unix:/run/lmtp"},
	{"transport_maps nexthop only", "x@hop.example", "",
	QMGR_ROUTE_DELIVER, "smtp", "[192.0.2.9]"},
	{"local name without agent", "nobody@localhost", "",
	QMGR_ROUTE_BOUNCE, "", "5.1.1"},
	{"ip literal of this host is local", "x@[127.0.0.1]", "",
	QMGR_ROUTE_BOUNCE, "", "5.1.1"},
	{"foreign ip literal", "x@[192.0.2.1]", "", QMGR_ROUTE_DELIVER,
	"smtp", "[192.0.2.1]"},
	{"pipe alias refused", "|/bin/cat", "", QMGR_ROUTE_BOUNCE, "",
	"5.3.0"},
	{"file alias refused", "/var/log/mail", "", QMGR_ROUTE_BOUNCE, "",
	"5.3.0"},
	{"empty address", "", "", QMGR_ROUTE_BOUNCE, "", "5.1.3"},
	{"no domain", "user", "", QMGR_ROUTE_BOUNCE, "", "5.1.3"},
	{NULL},
};

static void
run_expand(struct qmgr_resolve_maps *m)
{
	const struct expand_case *c;
	char	 why[512], name[200];

	for (c = expand_cases; c->name; c++) {
		struct strv *v = strv_new();
		int	 rc = qmgr_resolve_expand(m, c->addr, v, why,
		    sizeof(why));
		char	*got;

		snprintf(name, sizeof(name), "expand: %s (result)", c->name);
		tap_is_int(rc, c->want, name);
		snprintf(name, sizeof(name), "expand: %s (detail)", c->name);
		if (rc == QMGR_EXPAND_DEFER) {
			why[5] = 0;
			tap_is_str(why, c->leaves, name);
		} else {
			got = strv_join(v, " ");
			tap_is_str(got, c->leaves, name);
			free(got);
		}
		strv_free(v);
	}
}

static void
run_leaf(struct qmgr_resolve_conf *conf)
{
	const struct leaf_case *c;
	char	 name[200];

	for (c = leaf_cases; c->name; c++) {
		struct qmgr_resolve_maps *m;
		struct qmgr_route r;
		int	 rc;

		conf->relayhost = (char *)c->relayhost;
		m = qmgr_resolve_maps_new(conf);
		rc = qmgr_resolve_leaf(m, c->addr, &r);
		snprintf(name, sizeof(name), "leaf: %s (action)", c->name);
		tap_is_int(rc, c->want, name);
		snprintf(name, sizeof(name), "leaf: %s (detail)", c->name);
		if (rc == QMGR_ROUTE_DELIVER) {
			char	 got[600];

			snprintf(got, sizeof(got), "%s %s", r.transport,
			    r.nexthop);
			char	*want = xasprintf("%s %s", c->transport,
			    c->nexthop_or_status);

			tap_is_str(got, want, name);
			free(want);
		} else {
			tap_is_str(r.status, c->nexthop_or_status, name);
		}
		free(r.nexthop);
		qmgr_resolve_maps_free(m);
	}
	conf->relayhost = "";
}

/*
 * Hostile addresses, each with the one answer Postfix's resolver gives:
 * an address expands to itself (no table has it); a domain that is
 * empty, not a host name (empty label, 9999-byte label, not UTF-8) or a
 * broken address literal is bad address syntax (5.1.3); a good domain
 * routes by its class whatever the local part holds.
 */
static const struct leaf_case hostile_cases[] = {
	{"CR LF in the local part", "a\r\nb@example.com", "",
	QMGR_ROUTE_DELIVER, "virtual", "example.com"},
	{"only an at sign", "@", "", QMGR_ROUTE_BOUNCE, "", "5.1.3"},
	{"two at signs", "@@", "", QMGR_ROUTE_BOUNCE, "", "5.1.3"},
	{"empty domain", "a@", "", QMGR_ROUTE_BOUNCE, "", "5.1.3"},
	{"empty local part", "@example.com", "", QMGR_ROUTE_DELIVER,
	"virtual", "example.com"},
	{"open bracket", "a@[", "", QMGR_ROUTE_BOUNCE, "", "5.1.3"},
	{"empty literal", "a@[]", "", QMGR_ROUTE_BOUNCE, "", "5.1.3"},
	{"unclosed literal", "a@[127.0.0.1", "", QMGR_ROUTE_BOUNCE, "",
	"5.1.3"},
	{"bad literal", "a@[300.1.2.3]", "", QMGR_ROUTE_BOUNCE, "", "5.1.3"},
	{"IPv6 literal", "a@[IPv6:2001:db8::1]", "", QMGR_ROUTE_DELIVER,
	"smtp", "[IPv6:2001:db8::1]"},
	{"quoted local part with space", "\"q u\"@example.com", "",
	QMGR_ROUTE_DELIVER, "virtual", "example.com"},
	{"domain is a dot", "a@.", "", QMGR_ROUTE_BOUNCE, "", "5.1.3"},
	{"empty label", "a@..example.com", "", QMGR_ROUTE_BOUNCE, "",
	"5.1.3"},
	{"one trailing dot is dropped", "a@example.com.", "",
	QMGR_ROUTE_DELIVER, "virtual", "example.com"},
	{"two trailing dots", "a@other.net..", "", QMGR_ROUTE_BOUNCE, "",
	"5.1.3"},
	{"space in domain", "a@oth er.net", "", QMGR_ROUTE_BOUNCE, "",
	"5.1.3"},
	{"domain case folded: local", "x@LOCALHOST", "", QMGR_ROUTE_BOUNCE,
	"", "5.1.1"},
	{"bytes that are not UTF-8", "\x80\xff@\xfe", "", QMGR_ROUTE_BOUNCE,
	"", "5.1.3"},
	{"UTF-8 domain (SMTPUTF8)", "a@\xc3\xa9t\xc3\xa9.example", "",
	QMGR_ROUTE_DELIVER, "smtp", "\xc3\xa9t\xc3\xa9.example"},
	{NULL},
};

/* run_hostile - overlong and odd addresses: exact answers, no crash */
static void
run_hostile(struct qmgr_resolve_conf *conf)
{
	const struct leaf_case *c;
	struct qmgr_resolve_maps *m = qmgr_resolve_maps_new(conf);
	struct qmgr_route r;
	struct strv *v;
	char	 why[512], name[200], got[600], *big, *want;
	int	 rc;

	big = malloc(70000);
	memset(big, 'a', 69999);
	big[69999] = 0;
	big[60000] = '@';
	v = strv_new();
	rc = qmgr_resolve_expand(m, big, v, why, sizeof(why));
	tap_ok(rc == QMGR_EXPAND_NONE && v->argc == 1 && strcmp(v->argv[0],
	    big) == 0, "hostile: 70 KB address expands to itself");
	rc = qmgr_resolve_leaf(m, big, &r);
	tap_ok(rc == QMGR_ROUTE_BOUNCE && strcmp(r.status, "5.1.3") == 0,
	    "hostile: 70 KB address (9999-byte domain): 5.1.3 bad syntax");
	free(r.nexthop);
	strv_free(v);
	free(big);
	for (c = hostile_cases; c->name; c++) {
		v = strv_new();
		rc = qmgr_resolve_expand(m, c->addr, v, why, sizeof(why));
		snprintf(name, sizeof(name), "hostile: %s: expands to itself",
		    c->name);
		tap_ok(rc == QMGR_EXPAND_NONE && v->argc == 1
		    && strcmp(v->argv[0], c->addr) == 0, "%s", name);
		strv_free(v);
		rc = qmgr_resolve_leaf(m, c->addr, &r);
		snprintf(name, sizeof(name), "hostile: %s (action)", c->name);
		tap_is_int(rc, c->want, name);
		snprintf(name, sizeof(name), "hostile: %s (detail)", c->name);
		if (rc == QMGR_ROUTE_DELIVER) {
			snprintf(got, sizeof(got), "%s %s", r.transport,
			    r.nexthop ? r.nexthop : "(null)");
			want = xasprintf("%s %s", c->transport,
			    c->nexthop_or_status);
			tap_is_str(got, want, name);
			free(want);
		} else
			tap_is_str(r.status, c->nexthop_or_status, name);
		free(r.nexthop);
	}
	qmgr_resolve_maps_free(m);
}

/* run_failures - a map that is down, limits */
static void
run_failures(struct qmgr_resolve_conf *conf)
{
	struct qmgr_resolve_maps *m;
	struct qmgr_route r;
	struct strv *v = strv_new();
	char	 why[512];
	int	 rc;

	conf->virtual_alias_maps = "texthash:/nonexistent/valias";
	m = qmgr_resolve_maps_new(conf);
	rc = qmgr_resolve_expand(m, "user@example.com", v, why, sizeof(why));
	tap_is_int(rc, QMGR_EXPAND_DEFER, "valias down: defer");
	tap_ok(strncmp(why, "4.3.0 ", 6) == 0, "valias down: 4.3.0 (%s)",
	    why);
	tap_is_int((long)v->argc, 0, "valias down: no leaves");
	qmgr_resolve_maps_free(m);
	conf->virtual_alias_maps = "memory:valias";

	conf->alias_maps = "texthash:/nonexistent/aliases";
	m = qmgr_resolve_maps_new(conf);
	rc = qmgr_resolve_expand(m, "root@localhost", v, why, sizeof(why));
	tap_is_int(rc, QMGR_EXPAND_DEFER, "aliases down: defer");
	rc = qmgr_resolve_expand(m, "user@example.com", v, why, sizeof(why));
	tap_is_int(rc, QMGR_EXPAND_NONE, "aliases down: virtual unaffected");
	qmgr_resolve_maps_free(m);
	conf->alias_maps = "memory:aliases";
	strv_free(v);

	conf->res.virtual_mailbox_domains = "texthash:/nonexistent/vdom";
	m = qmgr_resolve_maps_new(conf);
	rc = qmgr_resolve_leaf(m, "x@example.com", &r);
	tap_is_int(rc, QMGR_ROUTE_DEFER, "vmbox domains down: defer");
	tap_is_str(r.status, "4.3.0", "vmbox domains down: 4.3.0");
	qmgr_resolve_maps_free(m);
	conf->res.virtual_mailbox_domains = "example.com, memory:vdom";

	conf->transport_maps = "texthash:/nonexistent/transport";
	m = qmgr_resolve_maps_new(conf);
	rc = qmgr_resolve_leaf(m, "x@example.com", &r);
	tap_is_int(rc, QMGR_ROUTE_DEFER, "transport_maps down: defer");
	tap_ok(r.nexthop == NULL, "transport_maps down: no nexthop");
	qmgr_resolve_maps_free(m);
	conf->transport_maps = "memory:transport";

	v = strv_new();
	conf->expansion_limit = 1;
	m = qmgr_resolve_maps_new(conf);
	rc = qmgr_resolve_expand(m, "list@example.com", v, why, sizeof(why));
	tap_is_int(rc, QMGR_EXPAND_DEFER, "expansion limit: defer");
	qmgr_resolve_maps_free(m);
	conf->expansion_limit = 1000;
	conf->recursion_limit = 1;
	m = qmgr_resolve_maps_new(conf);
	rc = qmgr_resolve_expand(m, "deep@example.com", v, why, sizeof(why));
	tap_is_int(rc, QMGR_EXPAND_DEFER, "recursion limit: defer");
	qmgr_resolve_maps_free(m);
	conf->recursion_limit = 1000;
	strv_free(v);
}

/*
 * run_drift - the answers smtpd gives too (resolve/): a subdomain of a
 * relay_domains table entry is relayed, a /file pattern is read, an
 * address literal of this host in any spelling is local.
 */
static void
run_drift(struct qmgr_resolve_conf *conf)
{
	static const char *const relaydom[] = {"relay.example", "1", NULL};
	struct qmgr_resolve_maps *m;
	struct qmgr_route r;
	struct strv *v = strv_new();
	char	 path[] = "/tmp/qmgr_resolve_test.XXXXXX", why[512];
	FILE	*fp;
	int	 fd, rc;

	fill("memory:relaydom", relaydom);
	if ((fd = mkstemp(path)) < 0 || (fp = fdopen(fd, "w")) == NULL) {
		printf("Bail out! %s\n", path);
		exit(1);
	}
	fputs("# virtual_mailbox_domains\nexample.com filemail.example\n", fp);
	fclose(fp);
	conf->res.relay_domains = "memory:relaydom";
	conf->res.virtual_mailbox_domains = path;
	m = qmgr_resolve_maps_new(conf);
	rc = qmgr_resolve_leaf(m, "x@sub.relay.example", &r);
	tap_ok(rc == QMGR_ROUTE_DELIVER && strcmp(r.transport, "relay") == 0,
	    "relay_domains table: a subdomain goes to relay_transport (%s)",
	    r.transport);
	free(r.nexthop);
	rc = qmgr_resolve_leaf(m, "x@filemail.example", &r);
	tap_ok(rc == QMGR_ROUTE_DELIVER && strcmp(r.transport, "virtual") == 0,
	    "/file pattern: a domain of the file is a mailbox domain (%s)",
	    r.transport);
	free(r.nexthop);
	rc = qmgr_resolve_leaf(m, "x@[IPv6:::ffff:127.0.0.1]", &r);
	tap_ok(rc == QMGR_ROUTE_BOUNCE && strcmp(r.status, "5.1.1") == 0,
	    "v4-mapped literal of this host is local (%s %s)", r.transport,
	    r.status);
	free(r.nexthop);
	rc = qmgr_resolve_expand(m, "postmaster@[IPv6:::ffff:127.0.0.1]", v,
	    why, sizeof(why));
	tap_ok(rc == QMGR_EXPAND_LIST && v->argc == 1
	    && strcmp(v->argv[0], "root@example.com") == 0,
	    "v4-mapped literal of this host: alias_maps apply (%s)",
	    v->argc ? v->argv[0] : why);
	qmgr_resolve_maps_free(m);
	unlink(path);
	strv_free(v);
	conf->res.relay_domains = "relay.example";
	conf->res.virtual_mailbox_domains = "example.com, memory:vdom";
}

int
main(void)
{
	static const char *const valias[] = {
		"list@example.com", "a@example.com, b@example.com",
		"nested@example.com", "list@example.com",
		"self@example.com", "self@example.com copy@example.com",
		"loop1@example.com", "loop2@example.com",
		"loop2@example.com", "loop1@example.com",
		"valuser", "v@example.com",
		"deep@example.com", "deeper@example.com",
		"deeper@example.com", "deepest@example.com",
		NULL,
	};
	static const char *const aliases[] = {
		"root", "admin",
		"postmaster", "root",
		"pipe", "\"|/bin/cat\"",
		"quoted", "\"x@example.com\", y@example.com",
		NULL,
	};
	static const char *const transport[] = {
		"special.example", "error:5.7.1 no mail here",
		"smtp-route.example", "smtp:[10.0.0.1]:2525",
		".parent.example", "lmtp:unix:/run/lmtp",
		"hop.example", ":[192.0.2.9]",
		NULL,
	};
	static const char *const vdom[] = {"vdom.example", "1", NULL};
	struct qmgr_resolve_conf conf;
	struct qmgr_resolve_maps *m;

	fill("memory:valias", valias);
	fill("memory:aliases", aliases);
	fill("memory:transport", transport);
	fill("memory:vdom", vdom);
	conf_init(&conf);
	m = qmgr_resolve_maps_new(&conf);
	run_expand(m);
	qmgr_resolve_maps_free(m);
	run_leaf(&conf);
	run_failures(&conf);
	run_hostile(&conf);
	run_drift(&conf);
	return (tap_done());
}
