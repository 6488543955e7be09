/*
 * NAME
 *	postscreen_dnsbl_test - the DNSBL site parser and scoring
 * DESCRIPTION
 *	Parses the seed's exact postscreen_dnsbl_sites (as conf hands it
 *	over: the indented comment lines removed) and checks the entries,
 *	the warnings for what Postfix refuses, and the score of reply sets
 *	table-driven; then hostile filters and entries; then the query
 *	names for IPv4 and IPv6.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "postscreen.h"
#include "str.h"
#include "tap.h"
#include "xalloc.h"

/* The seed's value after conf's comment removal. */
static const char *seed_sites =
    "zen.spamhaus.org*3 \n"
    "    b.barracudacentral.org*2\n"
    "    bl.spamcop.net*2\n"
    "    ix.dnsbl.manitu.net*2\n"
    "    dnsrbl.swinog.ch=127.0.0.3*2\n"
    "    spamrbl.imp.ch==127.0.0.5*2\n"
    "    uribl.swinog.ch*1\n"
    "    wormrbl.imp.ch=127.0.0.5*2\n"
    "    dnsbl-1.uceprotect.net*1\n"
    "    dnsbl.sorbs.net=127.0.0.[2;3;6;7;10]*1\n"
    "    list.dnswl.org=127.0.[0..255].0*-1\n"
    "    list.dnswl.org=127.0.[0..255].1*-2\n"
    "    list.dnswl.org=127.0.[0..255].[2..3]*-3\n"
    "    iadb.isipp.com=127.0.[0..255].[0..255]*-2\n"
    "    iadb.isipp.com=127.3.100.[6..200]*-2\n"
    "    wl.mailspike.net=127.0.0.[17;18]*-1\n"
    "    wl.mailspike.net=127.0.0.[19;20]*-2\n";

static struct strv *warnings;

/* collect - warning hook */
static void
collect(const char *msg, void *ctx)
{
	(void)ctx;
	strv_add(warnings, msg);
}

struct score_case {
	const char *name;
	const char *domain;
	const char *replies;		/* space-separated */
	long	 want;
	const char *want_best;
};

static const struct score_case score_cases[] = {
	{"zen any reply", "zen.spamhaus.org", "127.0.0.2", 3,
	    "zen.spamhaus.org"},
	{"zen several replies count once", "zen.spamhaus.org",
	    "127.0.0.2 127.0.0.4 127.0.0.10", 3, "zen.spamhaus.org"},
	{"zen no reply", "zen.spamhaus.org", "", 0, NULL},
	{"swinog filter match", "dnsrbl.swinog.ch", "127.0.0.3", 2,
	    "dnsrbl.swinog.ch"},
	{"swinog filter miss", "dnsrbl.swinog.ch", "127.0.0.2", 0, NULL},
	{"== entry was dropped", "spamrbl.imp.ch", "127.0.0.5", 0, NULL},
	{"wormrbl match", "wormrbl.imp.ch", "127.0.0.5", 2,
	    "wormrbl.imp.ch"},
	{"sorbs list member 10", "dnsbl.sorbs.net", "127.0.0.10", 1,
	    "dnsbl.sorbs.net"},
	{"sorbs list non-member 4", "dnsbl.sorbs.net", "127.0.0.4", 0, NULL},
	{"sorbs list non-member 8", "dnsbl.sorbs.net", "127.0.0.8", 0, NULL},
	{"dnswl .0 low trust", "list.dnswl.org", "127.0.15.0", -1,
	    "list.dnswl.org"},
	{"dnswl .1", "list.dnswl.org", "127.0.15.1", -2, "list.dnswl.org"},
	{"dnswl .3 high trust", "list.dnswl.org", "127.0.15.3", -3,
	    "list.dnswl.org"},
	{"dnswl two entries add up", "list.dnswl.org", "127.0.9.0 127.0.9.2",
	    -4, "list.dnswl.org"},
	{"dnswl one entry once", "list.dnswl.org", "127.0.9.2 127.0.9.3", -3,
	    "list.dnswl.org"},
	{"dnswl .4 no entry", "list.dnswl.org", "127.0.9.4", 0, NULL},
	{"iadb first entry", "iadb.isipp.com", "127.0.1.1", -2,
	    "iadb.isipp.com"},
	{"iadb second entry", "iadb.isipp.com", "127.3.100.10", -2,
	    "iadb.isipp.com"},
	{"iadb below range", "iadb.isipp.com", "127.3.100.5", 0, NULL},
	{"iadb both entries", "iadb.isipp.com", "127.0.0.1 127.3.100.200",
	    -4, "iadb.isipp.com"},
	{"mailspike 18", "wl.mailspike.net", "127.0.0.18", -1,
	    "wl.mailspike.net"},
	{"mailspike 20", "wl.mailspike.net", "127.0.0.20", -2,
	    "wl.mailspike.net"},
	{"mailspike 21", "wl.mailspike.net", "127.0.0.21", 0, NULL},
	{"AAAA replies ignored", "zen.spamhaus.org", "::1", 0, NULL},
	{"garbage reply ignored", "zen.spamhaus.org", "not-an-ip", 0, NULL},
	{"unknown zone", "example.org", "127.0.0.2", 0, NULL},
};

/* test_seed - the seed's list */
static void
test_seed(void)
{
	struct psc_dnsbl_sites *s;
	struct strv *replies;
	const char *best;
	long	 bw, got;
	size_t	 i;

	warnings = strv_new();
	s = psc_dnsbl_parse(seed_sites, collect, NULL);
	tap_is_int((long)s->nsite, 16, "seed: 16 of 17 entries accepted");
	tap_is_int((long)s->ndomain, 12, "seed: 12 distinct zones queried");
	tap_is_int((long)warnings->argc, 1, "seed: one warning");
	tap_ok(warnings->argc == 1 && strstr(warnings->argv[0],
	    "bad DNSBL filter syntax") && strstr(warnings->argv[0],
	    "spamrbl.imp.ch==127.0.0.5*2"), "seed: warning names the == entry");
	tap_is_str(s->site[0].domain, "zen.spamhaus.org", "seed: first zone");
	tap_is_int(s->site[0].weight, 3, "seed: first weight");
	tap_ok(s->site[0].filter == NULL, "seed: no filter on zen");
	tap_is_str(s->site[4].filter, "127.0.0.3", "seed: filter kept");
	tap_is_int(s->site[9].weight, -1, "seed: negative weight");

	for (i = 0; i < sizeof(score_cases) / sizeof(score_cases[0]); i++) {
		const struct score_case *c = &score_cases[i];

		replies = strv_split(c->replies, " ");
		best = NULL;
		bw = 0;
		got = psc_dnsbl_score_domain(s, c->domain, replies, &best, &bw);
		tap_is_int(got, c->want, c->name);
		tap_is_str(best, c->want_best, c->name);
		strv_free(replies);
	}
	psc_dnsbl_sites_free(s);
	strv_free(warnings);
}

struct parse_case {
	const char *name;
	const char *text;
	long	 nsite;
	long	 nwarn;
	long	 weight;		/* of the first site, if any */
};

static const struct parse_case parse_cases[] = {
	{"empty", "", 0, 0, 0},
	{"only separators", " ,\t,\n ", 0, 0, 0},
	{"default weight", "bl.example", 1, 0, 1},
	{"explicit weight", "bl.example*7", 1, 0, 7},
	{"negative weight", "wl.example*-5", 1, 0, -5},
	{"plus weight", "bl.example*+2", 1, 0, 2},
	{"empty weight", "bl.example*", 0, 1, 0},
	{"weight with junk", "bl.example*2x", 0, 1, 0},
	{"two stars", "bl.example*2*3", 0, 1, 0},
	{"empty filter", "bl.example=*2", 0, 1, 0},
	{"three octets", "bl.example=127.0.0*2", 0, 1, 0},
	{"five octets", "bl.example=127.0.0.1.1", 0, 1, 0},
	{"octet 256", "bl.example=127.0.0.256", 0, 1, 0},
	{"unbalanced [", "bl.example=127.0.0.[2;3", 0, 1, 0},
	{"unbalanced ]", "bl.example=127.0.0.2]", 0, 1, 0},
	{"reversed range", "bl.example=127.0.0.[9..2]", 0, 1, 0},
	{"empty list", "bl.example=127.0.0.[]", 0, 1, 0},
	{"range and list", "bl.example=127.0.[0..3;9].[1;2..4]*2", 1, 0, 2},
	{"no domain", "=127.0.0.2", 0, 1, 0},
	{"bad domain char", "bl.exa!mple", 0, 1, 0},
	{"8-bit domain", "bl.\xe9xample", 0, 1, 0},
	{"empty label", "bl..example", 0, 1, 0},
	{"overlong label", "bl.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaa.example", 0, 1, 0},
	{"comma list", "a.example*2,b.example*3", 2, 0, 2},
	{"one bad one good", "a..example b.example*4", 1, 1, 4},
	{"case folded", "BL.Example*2", 1, 0, 2},
};

/* test_parse - hostile and edge-case entries */
static void
test_parse(void)
{
	struct psc_dnsbl_sites *s;
	size_t	 i;
	char	 name[160];

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];

		warnings = strv_new();
		s = psc_dnsbl_parse(c->text, collect, NULL);
		snprintf(name, sizeof(name), "parse %s: sites", c->name);
		tap_is_int((long)s->nsite, c->nsite, name);
		snprintf(name, sizeof(name), "parse %s: warnings", c->name);
		tap_is_int((long)warnings->argc, c->nwarn, name);
		if (s->nsite > 0) {
			snprintf(name, sizeof(name), "parse %s: weight",
			    c->name);
			tap_is_int(s->site[0].weight, c->weight, name);
		}
		psc_dnsbl_sites_free(s);
		strv_free(warnings);
	}
	s = psc_dnsbl_parse("BL.Example*2", NULL, NULL);
	tap_is_str(s->site[0].domain, "bl.example", "domain lower-cased");
	psc_dnsbl_sites_free(s);
	s = psc_dnsbl_parse(NULL, NULL, NULL);
	tap_is_int((long)s->nsite, 0, "NULL list");
	psc_dnsbl_sites_free(s);
}

/* test_query_name - reversed query names */
static void
test_query_name(void)
{
	char	*n;

	n = psc_dnsbl_query_name("127.0.0.2", "zen.spamhaus.org");
	tap_is_str(n, "2.0.0.127.zen.spamhaus.org", "IPv4 query name");
	free(n);
	n = psc_dnsbl_query_name("2001:db8::1", "bl.example");
	tap_is_str(n, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "8.b.d.0.1.0.0.2.bl.example", "IPv6 query name");
	free(n);
	n = psc_dnsbl_query_name("not-an-address", "bl.example");
	tap_ok(n == NULL, "bad address gives no query");
	n = psc_dnsbl_query_name("", "bl.example");
	tap_ok(n == NULL, "empty address gives no query");
}

/* test_seed_file - the list as conf reads it from etc/seed/main.cf */
static void
test_seed_file(void)
{
	struct psc_dnsbl_sites *s;
	char	 err[256];
	const char *dir = getenv("POSTERN_TOP") ? getenv("POSTERN_TOP") : ".";
	char	 path[1024];

	snprintf(path, sizeof(path), "%s/etc/seed", dir);
	if (conf_load(path, err, sizeof(err)) < 0) {
		tap_ok(0, "load the seed's main.cf: %s", err);
		return;
	}
	warnings = strv_new();
	s = psc_dnsbl_parse(conf_str("postscreen_dnsbl_sites"), collect, NULL);
	tap_is_int((long)s->nsite, 16, "seed main.cf: 16 entries, comments "
	    "skipped");
	tap_is_int((long)warnings->argc, 1, "seed main.cf: one warning");
	tap_is_int(conf_int("postscreen_dnsbl_threshold"), 3,
	    "seed main.cf: threshold 3");
	tap_is_int(conf_int("postscreen_dnsbl_allowlist_threshold"), -2,
	    "seed main.cf: whitelist threshold -2 via the 3.6 name");
	tap_is_str(conf_str("postscreen_denylist_action"), "enforce",
	    "seed main.cf: blacklist action via the 3.6 name");
	psc_dnsbl_sites_free(s);
	strv_free(warnings);
}

/* test_random - random entries never crash the parser */
static void
test_random(void)
{
	static const char alphabet[] = "abz09.-=*[];..;+-_ \t,\n#\xff";
	struct psc_dnsbl_sites *s;
	struct strv *replies = strv_split("127.0.0.2 127.0.1.3", " ");
	char	 text[200];
	size_t	 i, j, n, total = 0;

	srand(4711);
	for (i = 0; i < 2000; i++) {
		n = (size_t)rand() % (sizeof(text) - 1);
		for (j = 0; j < n; j++)
			text[j] = alphabet[(size_t)rand() % (sizeof(alphabet) - 1)];
		text[n] = '\0';
		s = psc_dnsbl_parse(text, collect, NULL);
		for (j = 0; j < s->ndomain; j++)
			(void)psc_dnsbl_score_domain(s, s->domain[j], replies,
			    NULL, NULL);
		total += s->nsite;
		psc_dnsbl_sites_free(s);
	}
	strv_free(replies);
	tap_ok(1, "2000 random lists parsed (%zu entries accepted)", total);
}

/* main - run the tables */
int
main(void)
{
	test_seed();
	test_seed_file();
	warnings = strv_new();
	test_random();
	strv_free(warnings);
	test_parse();
	test_query_name();
	return (tap_done());
}
