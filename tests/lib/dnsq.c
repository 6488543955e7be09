/*
 * NAME
 *	dnsq - query DNS through lib/dns.c (test helper)
 * SYNOPSIS
 *	dnsq -n nameservers {a|mx|ptr|txt} name
 *	dnsq rev address zone
 * DESCRIPTION
 *	Prints one line per record ("pref host" for MX), then
 *	"status=OK|NOTFOUND|RETRY nxdomain=0|1". tests/25-dns.t drives it
 *	against a private dnsmasq; -n is resolver_nameservers.
 * DIAGNOSTICS
 *	Exit 0 when a lookup ran (whatever its status), 2 on usage or
 *	dns_init() errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "str.h"

/* usage - complain and exit */
static void
usage(void)
{
	fprintf(stderr, "usage: dnsq -n servers {a|mx|ptr|txt} name\n"
	    "       dnsq rev address zone\n");
	exit(2);
}

/* run_lookup - one lookup, printed */
static int
run_lookup(const char *type, const char *name, char *err, size_t errlen)
{
	struct strv *v = strv_new();
	struct dns_mx *mx = NULL;
	size_t	 nmx = 0, i;
	int	 st;

	if (strcmp(type, "a") == 0)
		st = dns_lookup_addr(name, v, err, errlen);
	else if (strcmp(type, "ptr") == 0)
		st = dns_lookup_ptr(name, v, err, errlen);
	else if (strcmp(type, "txt") == 0)
		st = dns_lookup_txt(name, v, err, errlen);
	else if (strcmp(type, "mx") == 0) {
		st = dns_lookup_mx(name, &mx, &nmx, err, errlen);
		for (i = 0; i < nmx; i++)
			printf("%d %s\n", mx[i].pref, mx[i].host);
		dns_mx_free(mx, nmx);
	} else {
		strv_free(v);
		usage();
	}
	for (i = 0; i < v->argc; i++)
		printf("%s\n", v->argv[i]);
	strv_free(v);
	return (st);
}

int
main(int argc, char **argv)
{
	const char *servers = "";
	char	 err[256] = "";
	char	*rev;
	int	 ch, st;

	if (argc == 4 && strcmp(argv[1], "rev") == 0) {
		rev = dns_reverse_name(argv[2], argv[3]);
		printf("%s\n", rev ? rev : "(null)");
		free(rev);
		return (0);
	}
	while ((ch = getopt(argc, argv, "n:")) != -1) {
		if (ch == 'n')
			servers = optarg;
		else
			usage();
	}
	if (argc - optind != 2)
		usage();
	if (dns_init(servers, err, sizeof(err)) < 0) {
		fprintf(stderr, "dnsq: %s\n", err);
		return (2);
	}
	st = run_lookup(argv[optind], argv[optind + 1], err, sizeof(err));
	printf("status=%s nxdomain=%d\n", st == DNS_OK ? "OK"
	    : st == DNS_NOTFOUND ? "NOTFOUND" : "RETRY", dns_last_nxdomain());
	return (0);
}
