/*
 * NAME
 *	postscreen_access_test - the permanent allow/deny list
 * DESCRIPTION
 *	psc_cidr_match() table-driven (IPv4, IPv6, brackets, bad
 *	patterns, hostile input); then the list: permit_mynetworks with a
 *	mynetworks list, and a cidr: table holding the seed's
 *	postscreen_access.cidr plus reject and dunno lines, first match
 *	wins, unknown entries ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "postscreen.h"
#include "str.h"
#include "tap.h"
#include "xalloc.h"

struct cidr_case {
	const char *pattern;
	const char *addr;
	int	 want;
};

static const struct cidr_case cidr_cases[] = {
	{"127.0.0.0/8", "127.0.0.2", 1},
	{"127.0.0.0/8", "128.0.0.1", 0},
	{"192.0.2.40", "192.0.2.40", 1},
	{"192.0.2.40", "192.0.2.41", 0},
	{"192.0.2.40/32", "192.0.2.40", 1},
	{"172.16.0.0/12", "172.31.255.255", 1},
	{"172.16.0.0/12", "172.32.0.0", 0},
	{"169.254.0.0/16", "169.254.9.9", 1},
	{"0.0.0.0/0", "203.0.113.9", 1},
	{"0.0.0.0/0", "::1", 0},
	{"[::1]/128", "::1", 1},
	{"[::1]/128", "::2", 0},
	{"[::1]", "::1", 1},
	{"::1/128", "::1", 1},
	{"fc00::/7", "fd12:3456::1", 1},
	{"fc00::/7", "fe80::1", 0},
	{"fe80::/10", "fe80::1", 1},
	{"2001:db8::/64", "2001:db8::40", 1},
	{"2001:db8::/64", "2001:db8:0:1::40", 0},
	{"2001:db8::/64", "192.0.2.40", 0},
	{"127.0.0.0/8", "::ffff:127.0.0.1", 0},
	{"127.0.0.0/33", "127.0.0.1", -1},
	{"127.0.0.0/-1", "127.0.0.1", -1},
	{"127.0.0.0/", "127.0.0.1", -1},
	{"127.0.0.0/8x", "127.0.0.1", -1},
	{"[::1/128", "::1", -1},
	{"[::1]x/128", "::1", -1},
	{"::1/129", "::1", -1},
	{"", "127.0.0.1", -1},
	{"localhost", "127.0.0.1", -1},
	{"127.0.0.\xff/8", "127.0.0.1", -1},
	{"127.0.0.0/8", "", 0},
	{"127.0.0.0/8", "garbage", 0},
	{"127.0.0.0/8", "127.0.0.1\n", 0},
};

/* test_cidr - psc_cidr_match */
static void
test_cidr(void)
{
	char	 name[200], longpat[300];
	size_t	 i;

	for (i = 0; i < sizeof(cidr_cases) / sizeof(cidr_cases[0]); i++) {
		const struct cidr_case *c = &cidr_cases[i];

		snprintf(name, sizeof(name), "cidr %s vs %s",
		    log_safe(c->pattern), log_safe(c->addr));
		tap_is_int(psc_cidr_match(c->pattern, c->addr), c->want, name);
	}
	memset(longpat, '1', sizeof(longpat) - 1);
	longpat[sizeof(longpat) - 1] = '\0';
	tap_is_int(psc_cidr_match(longpat, "127.0.0.1"), -1,
	    "overlong pattern");
}

static const char *cidr_table =
    "# Rules are evaluated in the order as specified.\n"
    "# Private IPv4 addresses (RFC 1918)\n"
    "10.0.0.0/8 permit\n"
    "172.16.0.0/12 permit\n"
    "192.168.0.0/16 permit\n"
    "\n"
    "# Private IPv6 addresses (RFC 4193)\n"
    "fc00::/7 permit\n"
    "169.254.0.0/24 permit\n"
    "169.254.255.0/24 permit\n"
    "169.254.0.0/16 permit\n"
    "fe80::/10 permit\n"
    "2001:db8::/64 permit\n"
    "127.0.0.66 dunno\n"
    "127.0.0.0/26 reject\n"
    "127.0.0.64/26 PERMIT\n"
    "127.0.0.200 frobnicate\n";

struct acl_case {
	const char *addr;
	int	 want;
};

static const struct acl_case acl_cases[] = {
	{"192.0.2.7", PSC_ACL_PERMIT},		/* mynetworks */
	{"198.51.100.1", PSC_ACL_PERMIT},	/* mynetworks, second */
	{"10.1.2.3", PSC_ACL_PERMIT},		/* seed table */
	{"192.168.77.1", PSC_ACL_PERMIT},
	{"fd00::5", PSC_ACL_PERMIT},
	{"2001:db8::40", PSC_ACL_PERMIT},
	{"127.0.0.2", PSC_ACL_REJECT},
	{"127.0.0.66", PSC_ACL_DUNNO},		/* first match: dunno */
	{"127.0.0.70", PSC_ACL_PERMIT},		/* case-insensitive */
	{"127.0.0.200", PSC_ACL_DUNNO},		/* unknown result */
	{"203.0.113.5", PSC_ACL_DUNNO},
	{"2001:db8:1::1", PSC_ACL_DUNNO},
	{"", PSC_ACL_DUNNO},
	{"not-an-address", PSC_ACL_DUNNO},
};

/* test_list - the list with a real cidr: table */
static void
test_list(void)
{
	char	 dir[] = "/tmp/psc_access_test.XXXXXX", path[256], spec[300];
	char	 list[400];
	struct strv *nets;
	struct psc_access *acl;
	FILE	*fp;
	size_t	 i;

	tap_ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/postscreen_access.cidr", dir);
	if ((fp = fopen(path, "w")) == NULL) {
		tap_ok(0, "write cidr table");
		return;
	}
	fputs(cidr_table, fp);
	fclose(fp);
	snprintf(spec, sizeof(spec), "cidr:%s", path);

	nets = strv_split("192.0.2.0/24 [2001:db8:ffff::]/48 198.51.100.1 "
	    "bogus/99", " ");
	snprintf(list, sizeof(list), "permit_mynetworks, no_such_thing\n %s",
	    spec);
	acl = psc_access_open(list, nets);
	for (i = 0; i < sizeof(acl_cases) / sizeof(acl_cases[0]); i++) {
		char	 name[100];

		snprintf(name, sizeof(name), "list: %s", acl_cases[i].addr);
		tap_is_int(psc_access_check(acl, acl_cases[i].addr),
		    acl_cases[i].want, name);
	}
	tap_is_int(psc_access_check(acl, "2001:db8:ffff::9"), PSC_ACL_PERMIT,
	    "list: IPv6 mynetworks");
	psc_access_close(acl);

	/* Without permit_mynetworks, mynetworks does not count. */
	acl = psc_access_open(spec, nets);
	tap_is_int(psc_access_check(acl, "192.0.2.7"), PSC_ACL_DUNNO,
	    "no permit_mynetworks: mynetworks ignored");
	psc_access_close(acl);

	/* mynetworks may name tables too (cidr: here). */
	{
		struct strv *tnets = strv_new();
		char	 netspec[300];

		snprintf(netspec, sizeof(netspec), "cidr:%s", path);
		strv_add(tnets, netspec);
		acl = psc_access_open("permit_mynetworks", tnets);
		tap_is_int(psc_access_check(acl, "10.9.9.9"), PSC_ACL_PERMIT,
		    "mynetworks table: listed network permitted");
		tap_is_int(psc_access_check(acl, "127.0.0.2"), PSC_ACL_PERMIT,
		    "mynetworks table: any answer counts as a match");
		tap_is_int(psc_access_check(acl, "203.0.113.1"), PSC_ACL_DUNNO,
		    "mynetworks table: unlisted");
		psc_access_close(acl);
		strv_free(tnets);
	}

	/* Empty list: everything is tested. */
	acl = psc_access_open("", nets);
	tap_is_int(psc_access_check(acl, "10.0.0.1"), PSC_ACL_DUNNO,
	    "empty list");
	psc_access_close(acl);

	/* A table that cannot be opened is a temporary error. */
	acl = psc_access_open("cidr:/nonexistent/postscreen_access.cidr",
	    NULL);
	tap_is_int(psc_access_check(acl, "10.0.0.1"), PSC_ACL_RETRY,
	    "missing table: retry, not dunno");
	psc_access_close(acl);
	strv_free(nets);

	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	log_init("postscreen_access_test", 0);
	test_cidr();
	test_list();
	return (tap_done());
}
