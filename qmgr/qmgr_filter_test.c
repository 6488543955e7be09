/*
 * NAME
 *	qmgr_filter_test - the content filter's route, table-driven
 * DESCRIPTION
 *	qmgr_filter_route() for the content_filter values an administrator
 *	writes (Postfix's FILTER_README forms) and broken ones: a broken
 *	value defers (4.3.5) with a warning, never delivers elsewhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "qmgr_filter.h"
#include "tap.h"

static int warnings;

/* hook - count warnings */
static void
hook(int level, const char *text, void *ctx)
{
	if (strstr(text, "bad content_filter"))
		warnings++;
}

static const struct {
	const char *name, *filter, *myhostname;
	int	 action;
	const char *transport, *nexthop;
} cases[] = {
	{ "smtp:[127.0.0.1]:10025", "smtp:[127.0.0.1]:10025", "mx.example.com",
	    QMGR_ROUTE_DELIVER, "smtp", "[127.0.0.1]:10025" },
	{ "scan:localhost:10025 (master.cf transport)",
	    "scan:localhost:10025", "mx.example.com",
	    QMGR_ROUTE_DELIVER, "scan", "localhost:10025" },
	{ "lmtp:unix:private/filter", "lmtp:unix:private/filter", "mx.example.com",
	    QMGR_ROUTE_DELIVER, "lmtp", "unix:private/filter" },
	{ "transport: (empty nexthop: $myhostname, as Postfix)", "scan:",
	    "mx.example.com", QMGR_ROUTE_DELIVER, "scan", "mx.example.com" },
	{ "transport alone", "scan", "mx.example.com",
	    QMGR_ROUTE_DELIVER, "scan", "mx.example.com" },
	{ "no transport defers", ":[127.0.0.1]:10025", "mx.example.com",
	    QMGR_ROUTE_DEFER, NULL, NULL },
	{ "overlong transport defers",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ":x", "mx.example.com", QMGR_ROUTE_DEFER, NULL, NULL },
};

int
main(void)
{
	struct qmgr_route r;
	size_t	 i;
	int	 want_warn = 0;

	log_set_hook(hook, NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		qmgr_filter_route(cases[i].filter, cases[i].myhostname, &r);
		tap_is_int(r.action, cases[i].action, cases[i].name);
		if (cases[i].action == QMGR_ROUTE_DELIVER) {
			tap_is_str(r.transport, cases[i].transport,
			    cases[i].name);
			tap_is_str(r.nexthop, cases[i].nexthop, cases[i].name);
		} else {
			want_warn++;
			tap_ok(strcmp(r.status, "4.3.5") == 0
			    && r.nexthop == NULL, "%s: 4.3.5, no route",
			    cases[i].name);
		}
		free(r.nexthop);
	}
	tap_is_int(warnings, want_warn, "each bad value is logged");
	return (tap_done());
}
