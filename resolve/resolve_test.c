/*
 * NAME
 *	resolve_test - table-driven tests of the one address resolver
 * DESCRIPTION
 *	Each case is a configuration (the four domain lists, the
 *	interfaces, parent_domain_matches_subdomains) and a domain with
 *	the class it must get. memory: tables stand in for MySQL; a table
 *	that cannot be opened stands in for a database that is down
 *	(RESOLVE_RETRY, never "not mine"). /file patterns use files this
 *	test writes. Hostile domains (empty, dots only, 8-bit, overlong,
 *	broken literals) must get an answer, not a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "map.h"
#include "resolve.h"
#include "tap.h"
#include "xalloc.h"

#define L	RESOLVE_CLASS_LOCAL
#define A	RESOLVE_CLASS_ALIAS
#define V	RESOLVE_CLASS_VIRTUAL
#define R	RESOLVE_CLASS_RELAY
#define D	RESOLVE_CLASS_DEFAULT
#define T	RESOLVE_RETRY

static char file_ok[64], file_missing[80], file_re[80];
static int warned_missing;		/* "cannot open" warnings logged */

struct rcase {
	const char *name;
	char	*mydest, *valias, *vmbox, *relay;	/* resolve_conf's */
	char	*inet, *parent;		/* NULL: Postfix's default */
	const char *domain;
	int	 want;
};

static const struct rcase cases[] = {
	{"mydestination name", "mx.example, localhost", "", "", "",
	    "127.0.0.1", NULL, "mx.example", L},
	{"case and one trailing dot", "mx.example", "", "", "",
	    "127.0.0.1", NULL, "MX.Example.", L},
	{"two trailing dots are not stripped", "mx.example", "", "", "",
	    "127.0.0.1", NULL, "mx.example..", D},
	{"no domain is local", "mx.example", "", "", "", "127.0.0.1",
	    NULL, "", L},
	{"mydestination: no subdomains", "mx.example", "", "", "",
	    "127.0.0.1", NULL, "a.mx.example", D},
	{".name matches subdomains", ".mx.example", "", "", "",
	    "127.0.0.1", NULL, "a.mx.example", L},
	{".name: not the name itself", ".mx.example", "", "", "",
	    "127.0.0.1", NULL, "mx.example", D},
	{"virtual alias domain", "mx.example", "alias.example", "", "",
	    "127.0.0.1", NULL, "alias.example", A},
	{"virtual mailbox domain from a table", "mx.example", "",
	    "memory:vdom", "", "127.0.0.1", NULL, "vmbox.example", V},
	{"table: subdomain of a mailbox domain is not one", "mx.example",
	    "", "memory:vdom", "", "127.0.0.1", NULL, "a.vmbox.example", D},
	{"mydestination before the other lists", "both.example",
	    "both.example", "both.example", "both.example", "127.0.0.1",
	    NULL, "both.example", L},
	{"alias before mailbox", "", "both.example", "both.example", "",
	    "127.0.0.1", NULL, "both.example", A},
	{"relay domain name", "", "", "", "relay.example", "127.0.0.1",
	    NULL, "relay.example", R},
	{"relay domain name: subdomain (parent matching)", "", "", "",
	    "relay.example", "127.0.0.1", NULL, "a.b.relay.example", R},
	{"relay domain name: not a suffix without the dot", "", "", "",
	    "relay.example", "127.0.0.1", NULL, "xrelay.example", D},
	{"relay domain table: subdomain (parent matching)", "", "", "",
	    "memory:relay", "127.0.0.1", NULL, "sub.relay.example", R},
	{"relay domain inline table: subdomain", "", "", "",
	    "inline:{relay.example=ok}", "127.0.0.1", NULL,
	    "deep.sub.relay.example", R},
	{"relay table: no parent matching when not configured", "", "",
	    "", "memory:relay", "127.0.0.1", "mynetworks",
	    "sub.relay.example", D},
	{"relay name: no parent matching when not configured", "", "", "",
	    "relay.example", "127.0.0.1", "", "sub.relay.example", D},
	{"mailbox table: parent matching when configured", "", "",
	    "memory:vdom", "", "127.0.0.1",
	    "relay_domains virtual_mailbox_domains", "a.vmbox.example", V},
	{"regexp table: no parent lookups", "", "", "", "@REGEXP", "127.0.0.1",
	    NULL, "sub.relay.example", D},
	{"regexp table: the domain itself", "", "", "",
	    "@REGEXP", "127.0.0.1", NULL, "relay.example", R},
	{"!name excludes, first match wins", "", "", "",
	    "!sub.relay.example relay.example", "127.0.0.1", NULL,
	    "sub.relay.example", D},
	{"!name after a match does not apply", "", "", "",
	    "relay.example !sub.relay.example", "127.0.0.1", NULL,
	    "sub.relay.example", R},
	{"/file pattern", "", "", "@FILE", "", "127.0.0.1", NULL,
	    "file.example", V},
	{"/file: second line, after a comment", "", "", "@FILE", "",
	    "127.0.0.1", NULL, "other.example", V},
	{"/file: !name inside", "", "", "@FILE", "", "127.0.0.1", NULL,
	    "not.file.example", D},
	{"/file: .name inside", "", "", "@FILE", "", "127.0.0.1", NULL,
	    "x.sub.example", V},
	{"/file: not listed", "", "", "@FILE", "", "127.0.0.1", NULL,
	    "elsewhere.example", D},
	{"/file that cannot be read: retry, not \"not mine\"", "", "",
	    "@MISSING", "", "127.0.0.1", NULL, "file.example", T},
	{"a name before an unreadable /file still matches", "", "",
	    "early.example @MISSING", "", "127.0.0.1", NULL,
	    "early.example", V},
	{"table down: retry", "mx.example", "", "lmdb:/nonexistent/vdom",
	    "", "127.0.0.1", NULL, "vmbox.example", T},
	{"table down after a match: no lookup, class found",
	    "mx.example", "", "lmdb:/nonexistent/vdom", "", "127.0.0.1",
	    NULL, "mx.example", L},
	{"literal of this host", "mx.example", "", "", "",
	    "127.0.0.1, [::1]", NULL, "[127.0.0.1]", L},
	{"IPv6 literal of this host, list with brackets", "", "", "", "",
	    "127.0.0.1, [::1]", NULL, "[IPv6:::1]", L},
	{"IPv6 literal, other spelling", "", "", "", "",
	    "127.0.0.1, [::1]", NULL, "[IPv6:0:0:0:0:0:0:0:1]", L},
	{"v4-mapped literal of this host", "", "", "", "", "127.0.0.1",
	    NULL, "[IPv6:::ffff:127.0.0.1]", L},
	{"foreign literal", "", "", "", "", "127.0.0.1, [::1]", NULL,
	    "[192.0.2.1]", D},
	{"literal not listed in inet_interfaces", "", "", "", "",
	    "192.0.2.40", NULL, "[127.0.0.1]", D},
	{"literal of a listed interface", "", "", "", "", "192.0.2.40",
	    NULL, "[192.0.2.40]", L},
	{"loopback-only", "", "", "", "", "loopback-only", NULL,
	    "[IPv6:::1]", L},
	{"all: loopback is ours", "", "", "", "", "all", NULL,
	    "[127.0.0.1]", L},
	{"literal listed in relay_domains", "", "", "", "[192.0.2.1]",
	    "127.0.0.1", NULL, "[192.0.2.1]", R},
	{"literal without IPv6: prefix", "", "", "", "", "127.0.0.1, ::1",
	    NULL, "[::1]", L},
	{"broken literal [", "", "", "", "", "127.0.0.1", NULL, "[", D},
	{"empty literal", "", "", "", "", "127.0.0.1", NULL, "[]", D},
	{"bad literal", "", "", "", "", "127.0.0.1", NULL, "[300.0.0.1]",
	    D},
	{"literal with a prefix length", "", "", "", "", "127.0.0.0/8",
	    NULL, "[127.0.0.1]", D},
	{"literal IPv6: only", "", "", "", "", "127.0.0.1", NULL,
	    "[IPv6:]", D},
	{"dots only", "", "", "", "relay.example", "127.0.0.1", NULL,
	    "...", D},
	{"one dot", "", "", "", "relay.example", "127.0.0.1", NULL, ".",
	    D},
	{"8-bit domain", "", "", "", "relay.example", "127.0.0.1", NULL,
	    "\xc3\xa9.relay.example", R},
	{"lists made of separators only", " , ,", ",", "\t", "\n",
	    ",", NULL, "x.example", D},
	{"unbalanced { in a list", "", "", "", "inline:{relay.example=ok",
	    "127.0.0.1", NULL, "relay.example", T},
};

/* subst - "@FILE", "@MISSING", "@REGEXP" stand for this test's files */
static char *
subst(const char *s)
{
	static const struct {
		const char *tag;
		const char *path;
	} tags[] = {{"@FILE", file_ok}, {"@MISSING", file_missing},
	    {"@REGEXP", file_re}};
	const char *p;
	size_t	 i;

	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if ((p = strstr(s, tags[i].tag)) != NULL)
			return (xasprintf("%.*s%s%s", (int)(p - s), s,
			    tags[i].path, p + strlen(tags[i].tag)));
	return (xstrdup(s));
}

/* log_hook - count the unreadable-file warnings (and keep stderr quiet) */
static void
log_hook(int level, const char *text, void *ctx)
{
	if (strstr(text, "virtual_mailbox_domains: cannot open ")
	    && strstr(text, file_missing))
		warned_missing++;
}

/* run_case - one configuration, one domain */
static void
run_case(const struct rcase *t)
{
	struct resolve_conf c;
	struct resolve *r;
	char	 reason[512];
	char	*vmbox = subst(t->vmbox), *relay = subst(t->relay);
	int	 got;

	memset(&c, 0, sizeof(c));
	c.mydestination = t->mydest;
	c.virtual_alias_domains = t->valias;
	c.virtual_mailbox_domains = vmbox;
	c.relay_domains = relay;
	c.inet_interfaces = t->inet;
	c.proxy_interfaces = "";
	c.parent_domain_matches_subdomains = t->parent;
	r = resolve_new(&c);
	got = resolve_class(r, t->domain, reason, sizeof(reason));
	tap_is_int(got, t->want, t->name);
	if (t->want == T)
		tap_ok(strncmp(reason, "4.3.0 ", 6) == 0 && strstr(reason,
		    "lookup error for") != NULL, "%s: reason \"%s\"", t->name,
		    reason);
	resolve_free(r);
	free(vmbox);
	free(relay);
}

/* test_overlong - a huge domain gets an answer */
static void
test_overlong(void)
{
	struct resolve_conf c = {"mx.example", "", "memory:vdom",
	    "relay.example", "127.0.0.1", "", NULL};
	struct resolve *r = resolve_new(&c);
	char	 reason[64];
	char	*big = xmalloc(100001);

	memset(big, 'a', 100000);
	big[100000] = 0;
	memcpy(big + 100000 - 14, ".relay.example", 14);
	tap_is_int(resolve_class(r, big, reason, sizeof(reason)),
	    RESOLVE_CLASS_RELAY, "overlong subdomain of a relay domain");
	big[0] = '[';
	big[100000 - 1] = ']';
	tap_is_int(resolve_class(r, big, reason, sizeof(reason)),
	    RESOLVE_CLASS_DEFAULT, "overlong literal");
	free(big);
	resolve_free(r);
}

/* test_cache - a local table's answer is never remembered here */
static void
test_cache(void)
{
	struct resolve_conf c = {"", "", "memory:cachedom", "", "127.0.0.1",
	    "", NULL};
	struct resolve *r = resolve_new(&c), *r2;
	struct map *m = map_open("memory:cachedom", 0);
	char	 reason[256];

	tap_is_int(resolve_class(r, "new.example", reason, sizeof(reason)),
	    D, "no cache: not yet a mailbox domain");
	map_update(m, "new.example", "ok");
	tap_is_int(resolve_class(r, "new.example", reason, sizeof(reason)),
	    RESOLVE_CLASS_VIRTUAL, "no cache: a local table's new entry is "
	    "seen at once (only mysql: answers are cached, in maps/)");
	r2 = resolve_new(&c);
	tap_is_int(resolve_class(r2, "new.example", reason, sizeof(reason)),
	    RESOLVE_CLASS_VIRTUAL, "no cache: another resolver sees it too");
	resolve_free(r2);
	resolve_free(r);
	map_close(m);
}

/* write_file - the /file pattern file */
static int
write_file(void)
{
	FILE	*fp;
	int	 fd;

	snprintf(file_ok, sizeof(file_ok), "/tmp/resolve_test.XXXXXX");
	if ((fd = mkstemp(file_ok)) < 0 || (fp = fdopen(fd, "w")) == NULL)
		return (-1);
	fprintf(fp, "!not.file.example file.example\n# other.example is"
	    " on the next line\n  other.example,.sub.example\n");
	fclose(fp);
	snprintf(file_missing, sizeof(file_missing), "%s.missing", file_ok);
	snprintf(file_re, sizeof(file_re), "regexp:%s.re", file_ok);
	if ((fp = fopen(file_re + 7, "w")) == NULL)
		return (-1);
	fprintf(fp, "/^relay\\.example$/ ok\n");
	fclose(fp);
	return (0);
}

int
main(void)
{
	struct map *m;
	size_t	 i;

	log_init("resolve_test", 0);
	log_set_hook(log_hook, NULL);
	if (write_file() < 0) {
		perror("resolve_test: temporary file");
		return (1);
	}
	m = map_open("memory:vdom", 0);
	map_update(m, "vmbox.example", "ok");
	map_close(m);
	m = map_open("memory:relay", 0);
	map_update(m, "relay.example", "ok");
	map_close(m);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	tap_is_int(warned_missing, 2, "an unreadable /file is logged once per"
	    " resolver (two cases name one)");
	test_overlong();
	test_cache();
	unlink(file_ok);
	unlink(file_re + 7);
	return (tap_done());
}
