/*
 * NAME
 *	dnsq - query DNS through lib/dns.c (test helper)
 * SYNOPSIS
 *	dnsq -n nameservers [-t threads] {a|mx|ptr|txt} name
 *	dnsq rev address zone
 * DESCRIPTION
 *	Prints one line per record ("pref host" for MX), then
 *	"status=OK|NOTFOUND|RETRY nxdomain=0|1". tests/25-dns.t drives it
 *	against a private dnsmasq; -n is resolver_nameservers. With -t N
 *	the lookup runs in N threads at once, 20 times each (each thread
 *	has its own resolver state); the output is printed once, after
 *	checking that every thread saw exactly the same answers.
 * DIAGNOSTICS
 *	Exit 0 when a lookup ran (whatever its status), 2 on usage or
 *	dns_init() errors.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
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

/* run_lookup - one lookup, printed into out */
static int
run_lookup(const char *type, const char *name, char *err, size_t errlen,
    struct buf *out)
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
			buf_printf(out, "%d %s\n", mx[i].pref, mx[i].host);
		dns_mx_free(mx, nmx);
	} else {
		strv_free(v);
		usage();
		return (DNS_RETRY);
	}
	for (i = 0; i < v->argc; i++)
		buf_printf(out, "%s\n", v->argv[i]);
	strv_free(v);
	buf_printf(out, "status=%s nxdomain=%d\n", st == DNS_OK ? "OK"
	    : st == DNS_NOTFOUND ? "NOTFOUND" : "RETRY", dns_last_nxdomain());
	return (st);
}

struct job {
	const char *type, *name;
	struct buf *out;
	int	 same;
};

/* thread_main - the same lookup many times; all answers must agree */
static void *
thread_main(void *arg)
{
	struct job *j = arg;
	struct buf *b = buf_new(256);
	char	 err[256];
	int	 i;

	j->same = 1;
	for (i = 0; i < 20; i++) {
		buf_reset(b);
		run_lookup(j->type, j->name, err, sizeof(err), b);
		if (i == 0)
			buf_puts(j->out, BUF_STR(b));
		else if (strcmp(BUF_STR(b), BUF_STR(j->out)) != 0)
			j->same = 0;
	}
	buf_free(b);
	return (NULL);
}

/* run_threads - n threads at once; 0 if they all agree */
static int
run_threads(int n, const char *type, const char *name)
{
	pthread_t *tid = calloc((size_t)n, sizeof(*tid));
	struct job *jobs = calloc((size_t)n, sizeof(*jobs));
	int	 i, bad = 0;

	for (i = 0; i < n; i++) {
		jobs[i].type = type;
		jobs[i].name = name;
		jobs[i].out = buf_new(256);
		if (pthread_create(&tid[i], NULL, thread_main, &jobs[i]) != 0)
			exit(2);
	}
	for (i = 0; i < n; i++) {
		pthread_join(tid[i], NULL);
		if (!jobs[i].same || strcmp(BUF_STR(jobs[i].out),
		    BUF_STR(jobs[0].out)) != 0)
			bad = 1;
	}
	if (bad)
		printf("threads disagree\n");
	else
		fputs(BUF_STR(jobs[0].out), stdout);
	for (i = 0; i < n; i++)
		buf_free(jobs[i].out);
	free(jobs);
	free(tid);
	return (bad);
}

int
main(int argc, char **argv)
{
	const char *servers = "";
	char	 err[256] = "";
	char	*rev;
	struct buf *out;
	int	 ch, threads = 0;

	if (argc == 4 && strcmp(argv[1], "rev") == 0) {
		rev = dns_reverse_name(argv[2], argv[3]);
		printf("%s\n", rev ? rev : "(null)");
		free(rev);
		return (0);
	}
	while ((ch = getopt(argc, argv, "n:t:")) != -1) {
		if (ch == 'n')
			servers = optarg;
		else if (ch == 't')
			threads = atoi(optarg);
		else
			usage();
	}
	if (argc - optind != 2)
		usage();
	if (dns_init(servers, err, sizeof(err)) < 0) {
		fprintf(stderr, "dnsq: %s\n", err);
		return (2);
	}
	if (threads > 0)
		return (run_threads(threads, argv[optind], argv[optind + 1]));
	out = buf_new(256);
	run_lookup(argv[optind], argv[optind + 1], err, sizeof(err), out);
	fputs(BUF_STR(out), stdout);
	buf_free(out);
	return (0);
}
