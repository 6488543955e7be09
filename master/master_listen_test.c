/*
 * NAME
 *	master_listen_test - which addresses an inet service binds
 * DESCRIPTION
 *	Table-driven: inet_interfaces, inet_protocols and the master.cf
 *	service field in, the "host port" list out; hostile service
 *	fields are refused, never a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "master.h"
#include "tap.h"

struct expand_case {
	const char *name;
	const char *interfaces;
	const char *protocols;
	const char *service;
	const char *want;	/* "host port;..." or NULL for an error */
};

static const struct expand_case cases[] = {
	{"all, both families", "all", "all", "smtp",
	    "0.0.0.0 smtp;:: smtp"},
	{"all, ipv4", "all", "ipv4", "25", "0.0.0.0 25"},
	{"all, ipv6", "all", "ipv6", "25", ":: 25"},
	{"the seed's list", "127.0.0.1, [::1], 192.0.2.40, 2001:db8::40",
	    "all", "smtp",
	    "127.0.0.1 smtp;::1 smtp;192.0.2.40 smtp;2001:db8::40 smtp"},
	{"the seed's list, ipv4 only",
	    "127.0.0.1, [::1], 192.0.2.40, 2001:db8::40", "ipv4", "smtp",
	    "127.0.0.1 smtp;192.0.2.40 smtp"},
	{"loopback-only", "loopback-only", "all", "2525",
	    "127.0.0.1 2525;::1 2525"},
	{"host:port ignores inet_interfaces", "all", "all", "127.0.0.1:2525",
	    "127.0.0.1 2525"},
	{"[v6]:port", "all", "all", "[::1]:25", "::1 25"},
	{"localhost:port", "all", "ipv4", "localhost:25", "127.0.0.1 25"},
	{":port means all interfaces", "127.0.0.1", "all", ":2525",
	    "127.0.0.1 2525"},
	{"family filtered away", "[::1]", "ipv4", "25", ""},
	{"unknown protocol word: ipv4", "all", "bogus", "25", "0.0.0.0 25"},
	{"empty service", "all", "all", "", NULL},
	{"unbalanced [", "all", "all", "[::1:25", NULL},
	{"bare v6 with port", "all", "all", "::1:25", NULL},
	{"colon only", "all", "all", ":", NULL},
	{"space in port", "all", "all", "127.0.0.1:2 5", NULL},
	{"8-bit host kept for bind to refuse", "all", "all", "h\xe9st:25",
	    "h\xe9st 25"},
};

/* expand - run one case, join the result */
static char *
expand(const struct expand_case *c)
{
	struct buf *b = buf_new(64);
	char	**addrs = NULL;
	int	 n = 0, i;

	conf_set("inet_interfaces", c->interfaces);
	conf_set("inet_protocols", c->protocols);
	if (master_listen_expand(c->service, &addrs, &n) < 0) {
		buf_free(b);
		return (NULL);
	}
	for (i = 0; i < n; i++) {
		buf_printf(b, "%s%s", i ? ";" : "", addrs[i]);
		free(addrs[i]);
	}
	free(addrs);
	return (buf_steal(b));
}

int
main(void)
{
	char	 dir[] = "/tmp/master_listen_test.XXXXXX", path[128], err[256];
	char	*got, longname[400];
	const struct expand_case big = {"overlong host", "all", "all",
	    longname, NULL};
	FILE	*fp;
	size_t	 i;

	if (mkdtemp(dir) == NULL)
		return (1);
	snprintf(path, sizeof(path), "%s/main.cf", dir);
	if ((fp = fopen(path, "w")) == NULL)
		return (1);
	fclose(fp);
	if (conf_load(dir, err, sizeof(err)) < 0) {
		printf("Bail out! %s\n", err);
		return (1);
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = expand(&cases[i]);
		tap_is_str(got, cases[i].want, cases[i].name);
		free(got);
	}
	memset(longname, 'a', sizeof(longname) - 4);
	strcpy(longname + sizeof(longname) - 4, ":25");
	got = expand(&big);
	tap_is_str(got, NULL, big.name);
	free(got);
	unlink(path);
	rmdir(dir);
	return (tap_done());
}
