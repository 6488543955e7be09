/*
 * NAME
 *	smtp_sts_test - table-driven tests for smtp_sts.c: the MTA-STS
 *	policy parser, the mx pattern rule and the TXT record's id
 * DESCRIPTION
 *	Each policy vector is a policy file and what RFC 8461 3.2 makes of
 *	it (mode, max_age, the number of mx patterns, or a parse error);
 *	each match vector a policy's patterns, a host and whether it
 *	matches (4.1: "*." stands for exactly one label); each TXT vector
 *	a record set and the id (3.1: one v=STSv1 record, id 1-32
 *	alphanumerics). Each address vector is a policy, an MX host, the
 *	level the nexthop has (and whether DANE authenticated the host)
 *	and what smtp_sts_dest() does: defer (4.7.5, no session), or the
 *	level and certificate names the session gets; smtp_sts_after()
 *	must give the level back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"
#include "smtp_sts.h"
#include "str.h"
#include "tap.h"
#include "tls.h"

static const struct {
	const char *name;
	const char *text;
	int	 ok;
	int	 mode;
	long	 max_age;
	size_t	 nmx;
} pvec[] = {
	{"RFC 8461 example", "version: STSv1\r\nmode: enforce\r\n"
	    "mx: mail.example.com\r\nmx: *.example.net\r\n"
	    "mx: backupmx.example.com\r\nmax_age: 604800\r\n", 1,
	    STS_MODE_ENFORCE, 604800, 3},
	{"LF line ends, blanks around values", "version:STSv1\nmode:  "
	    "testing \nmx: mx.example.net\nmax_age: 86400", 1,
	    STS_MODE_TESTING, 86400, 1},
	{"mode none needs no mx", "version: STSv1\nmode: none\n"
	    "max_age: 0\n", 1, STS_MODE_NONE, 0, 0},
	{"unknown keys are ignored", "version: STSv1\nmode: enforce\n"
	    "foo: bar\nmx: a.example\nmax_age: 1\n", 1, STS_MODE_ENFORCE, 1,
	    1},
	{"largest max_age", "version: STSv1\nmode: enforce\nmx: a.example\n"
	    "max_age: 31557600\n", 1, STS_MODE_ENFORCE, 31557600, 1},
	{"max_age too large", "version: STSv1\nmode: enforce\nmx: a.example"
	    "\nmax_age: 31557601\n", 0, 0, 0, 0},
	{"max_age negative", "version: STSv1\nmode: enforce\nmx: a.example\n"
	    "max_age: -1\n", 0, 0, 0, 0},
	{"max_age not a number", "version: STSv1\nmode: enforce\n"
	    "mx: a.example\nmax_age: 1d\n", 0, 0, 0, 0},
	{"no version", "mode: enforce\nmx: a.example\nmax_age: 1\n", 0, 0,
	    0, 0},
	{"wrong version", "version: STSv2\nmode: enforce\nmx: a.example\n"
	    "max_age: 1\n", 0, 0, 0, 0},
	{"no mode", "version: STSv1\nmx: a.example\nmax_age: 1\n", 0, 0, 0,
	    0},
	{"unknown mode", "version: STSv1\nmode: strict\nmx: a.example\n"
	    "max_age: 1\n", 0, 0, 0, 0},
	{"no max_age", "version: STSv1\nmode: enforce\nmx: a.example\n", 0,
	    0, 0, 0},
	{"enforce without mx", "version: STSv1\nmode: enforce\nmax_age: 1\n",
	    0, 0, 0, 0},
	{"a line without a colon", "version: STSv1\nmode enforce\n"
	    "mx: a.example\nmax_age: 1\n", 0, 0, 0, 0},
	{"bad mx pattern", "version: STSv1\nmode: enforce\nmx: a b\n"
	    "max_age: 1\n", 0, 0, 0, 0},
	{"wildcard not leftmost", "version: STSv1\nmode: enforce\n"
	    "mx: a.*.example\nmax_age: 1\n", 0, 0, 0, 0},
	{"an HTML error page", "<html><body>Not Found</body></html>\n", 0,
	    0, 0, 0},
};

static const struct {
	const char *patterns;	/* space-separated */
	const char *host;
	int	 match;
} mvec[] = {
	{"mail.example.com", "mail.example.com", 1},
	{"mail.example.com", "MAIL.Example.COM", 1},
	{"mail.example.com", "mail.example.com.", 1},
	{"mail.example.com", "mail2.example.com", 0},
	{"mail.example.com", "x.mail.example.com", 0},
	{"*.example.net", "mx1.example.net", 1},
	{"*.example.net", "MX1.EXAMPLE.NET.", 1},
	{"*.example.net", "example.net", 0},
	{"*.example.net", "a.b.example.net", 0},
	{"*.example.net", "mx1.example.network", 0},
	{"*.example.net", "mx1.other.net", 0},
	{"a.example *.example.net", "mx.example.net", 1},
	{"a.example *.example.net", "b.example", 0},
};

static const struct {
	const char *txt;	/* records separated by '|' */
	int	 rc;
	const char *id;
} tvec[] = {
	{"v=STSv1; id=20160831085700Z;", 1, "20160831085700Z"},
	{"v=STSv1;id=abc", 1, "abc"},
	{"v=STSv1; id=abc; ext=1", 1, "abc"},
	{"v=spf1 -all|v=STSv1; id=x1", 1, "x1"},
	{"v=spf1 -all", 0, ""},
	{"", 0, ""},
	{"v=STSv1; id=a|v=STSv1; id=b", -1, ""},
	{"v=STSv1;", -1, ""},
	{"v=STSv1; id=", -1, ""},
	{"v=STSv1; id=has-dash", -1, ""},
	{"v=STSv1; id=0123456789012345678901234567890123", -1, ""},
	{"v=STSv10; id=a", 0, ""},
};

#define ENF	"version: STSv1\nmode: enforce\nmx: *.example.net\nmax_age: 60\n"
#define TST	"version: STSv1\nmode: testing\nmx: *.example.net\nmax_age: 60\n"
#define NON	"version: STSv1\nmode: none\nmax_age: 60\n"

static const struct {
	const char *name;
	const char *policy;
	const char *host;
	int	 level;		/* the nexthop's level before */
	int	 dane;		/* DANE validated TLSA for this host */
	int	 rc;		/* smtp_sts_dest() */
	int	 want_level;	/* during the session */
	const char *want_match;	/* during the session */
} dvec[] = {
	{"enforce, match, level none: verify the MX name", ENF,
	    "mx.example.net", TLS_LEV_NONE, 0, 0, TLS_LEV_VERIFY, "hostname"},
	{"enforce, match, level may: verify", ENF, "mx.example.net",
	    TLS_LEV_MAY, 0, 0, TLS_LEV_VERIFY, "hostname"},
	{"enforce, match, level encrypt: verify", ENF, "mx.example.net",
	    TLS_LEV_ENCRYPT, 0, 0, TLS_LEV_VERIFY, "hostname"},
	{"enforce, match, level secure: kept", ENF, "mx.example.net",
	    TLS_LEV_SECURE, 0, 0, TLS_LEV_SECURE, "configured"},
	{"enforce, no match: deferred", ENF, "mx.other.org", TLS_LEV_MAY, 0,
	    -1, TLS_LEV_MAY, "configured"},
	{"enforce, no match, DANE authenticates: DANE wins", ENF,
	    "mx.other.org", TLS_LEV_DANE, 1, 0, TLS_LEV_DANE, "configured"},
	{"enforce, match, DANE authenticates: DANE level kept", ENF,
	    "mx.example.net", TLS_LEV_DANE, 1, 0, TLS_LEV_DANE, "configured"},
	{"enforce, DANE downgraded to may: MTA-STS applies", ENF,
	    "mx.other.org", TLS_LEV_MAY, 1, -1, TLS_LEV_MAY, "configured"},
	{"testing, no match: delivered as configured", TST, "mx.other.org",
	    TLS_LEV_NONE, 0, 0, TLS_LEV_NONE, "configured"},
	{"testing, match, level none: may", TST, "mx.example.net",
	    TLS_LEV_NONE, 0, 0, TLS_LEV_MAY, "configured"},
	{"testing, match, level encrypt: kept", TST, "mx.example.net",
	    TLS_LEV_ENCRYPT, 0, 0, TLS_LEV_ENCRYPT, "configured"},
	{"none: nothing", NON, "mx.other.org", TLS_LEV_NONE, 0, 0,
	    TLS_LEV_NONE, "configured"},
};

/* dest_checks - smtp_sts_dest() and smtp_sts_after() per vector */
static void
dest_checks(void)
{
	struct smtp_sess s;
	struct smtp_dest d;
	char	 name[300];
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(dvec) / sizeof(dvec[0]); i++) {
		memset(&s, 0, sizeof(s));
		memset(&d, 0, sizeof(d));
		snprintf(d.host, sizeof(d.host), "%s", dvec[i].host);
		d.port = 25;
		s.dest = &d;
		s.queue_id = "TESTID";
		s.tls_level = dvec[i].level;
		s.tls_match = "configured";
		/* smtp_sts_dest() only asks whether DANE state exists */
		s.dane = dvec[i].dane ? (struct smtp_dane *)&d : NULL;
		tap_ok(smtp_sts_set(&s, "example.net", dvec[i].policy) == 0
		    && s.sts != NULL, "%s: policy set", dvec[i].name);
		rc = smtp_sts_dest(&s);
		snprintf(name, sizeof(name), "%s: smtp_sts_dest", dvec[i].name);
		tap_is_int(rc, dvec[i].rc, name);
		if (rc < 0) {
			tap_is_str(s.status, "4.7.5", dvec[i].name);
			snprintf(name, sizeof(name), "MTA-STS policy for "
			    "example.net: MX host %s does not match",
			    dvec[i].host);
			tap_is_str(s.reason, name, dvec[i].name);
		}
		snprintf(name, sizeof(name), "%s: level", dvec[i].name);
		tap_is_int(s.tls_level, dvec[i].want_level, name);
		snprintf(name, sizeof(name), "%s: match", dvec[i].name);
		tap_is_str(s.tls_match, dvec[i].want_match, name);
		/* a session that failed verification at enforce */
		if (rc == 0) {
			snprintf(s.status, sizeof(s.status), "4.7.5");
			snprintf(s.reason, sizeof(s.reason), "Server "
			    "certificate not verified");
		}
		smtp_sts_after(&s);
		snprintf(name, sizeof(name), "%s: level back after", dvec[i].name);
		tap_is_int(s.tls_level, dvec[i].level, name);
		if (rc == 0 && dvec[i].want_level == TLS_LEV_VERIFY)
			tap_is_str(s.reason, "MTA-STS policy for example.net: "
			    "certificate verification failed: Server "
			    "certificate not verified", name);
		smtp_sts_done(&s);
		tap_ok(s.sts == NULL, "%s: done", dvec[i].name);
	}
}

int
main(void)
{
	struct smtp_sts_policy p;
	char	 err[200], id[64], name[300], *copy, *cp, *tok;
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(pvec) / sizeof(pvec[0]); i++) {
		rc = smtp_sts_policy_parse(pvec[i].text, strlen(pvec[i].text),
		    &p, err, sizeof(err));
		tap_is_int(rc == 0, pvec[i].ok, pvec[i].name);
		if (rc == 0 && pvec[i].ok) {
			snprintf(name, sizeof(name), "%s: mode", pvec[i].name);
			tap_is_int(p.mode, pvec[i].mode, name);
			snprintf(name, sizeof(name), "%s: max_age",
			    pvec[i].name);
			tap_is_int(p.max_age, pvec[i].max_age, name);
			snprintf(name, sizeof(name), "%s: mx count",
			    pvec[i].name);
			tap_is_int((long)p.mx->argc, (long)pvec[i].nmx, name);
		}
		if (rc == 0)
			smtp_sts_policy_free(&p);
		else
			tap_ok(*err != 0 && p.mx == NULL, "%s: an error and "
			    "nothing to free (%s)", pvec[i].name, err);
	}
	for (i = 0; i < sizeof(mvec) / sizeof(mvec[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.mode = STS_MODE_ENFORCE;
		p.mx = strv_new();
		copy = cp = strdup(mvec[i].patterns);
		while ((tok = strsep(&cp, " ")) != NULL)
			strv_add(p.mx, tok);
		free(copy);
		snprintf(name, sizeof(name), "%s %s %s", mvec[i].host,
		    mvec[i].match ? "matches" : "does not match",
		    mvec[i].patterns);
		tap_is_int(smtp_sts_mx_match(&p, mvec[i].host), mvec[i].match,
		    name);
		smtp_sts_policy_free(&p);
	}
	for (i = 0; i < sizeof(tvec) / sizeof(tvec[0]); i++) {
		struct strv *v = strv_new();

		copy = cp = strdup(tvec[i].txt);
		while (*tvec[i].txt && (tok = strsep(&cp, "|")) != NULL)
			strv_add(v, tok);
		free(copy);
		*id = 0;
		rc = smtp_sts_txt_id(v, id, sizeof(id));
		snprintf(name, sizeof(name), "TXT \"%s\"", tvec[i].txt);
		tap_is_int(rc, tvec[i].rc, name);
		if (rc == 1)
			tap_is_str(id, tvec[i].id, name);
		strv_free(v);
	}
	dest_checks();
	return (tap_done());
}
