/*
 * NAME
 *	qmgr_filter - the after-queue content filter's route
 * SYNOPSIS
 *	#include "qmgr_filter.h"
 *
 *	void	qmgr_filter_route(const char *filter,
 *	    const char *myhostname, struct qmgr_route *r);
 * DESCRIPTION
 *	A queue file with an "A content_filter=transport:nexthop" record
 *	(cleanup: smtpd's access FILTER action or the content_filter
 *	parameter; QUEUE.md) goes, every recipient of it, to that
 *	transport instead of its normal route: no virtual_alias_maps or
 *	alias expansion, no transport_maps, as Postfix's qmgr does. The
 *	filter re-injects the message (through an smtpd with
 *	"-o content_filter=") and the new queue file is routed normally.
 *	qmgr_filter_route() fills r for one recipient: transport is the
 *	part before the first ':', nexthop the rest, or myhostname when
 *	the rest is empty or missing (as Postfix's qmgr does). Address
 *	verification probes are not filtered (the caller's test).
 * DIAGNOSTICS
 *	A value without a transport, or one longer than a transport name
 *	may be, defers the recipient (4.3.5, "bad content_filter"),
 *	logged, so that a typo never bypasses the filter.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "qmgr_filter.h"
#include "xalloc.h"

/* qmgr_filter_route - one recipient of a filtered message */
void
qmgr_filter_route(const char *filter, const char *myhostname,
    struct qmgr_route *r)
{
	size_t	 n = strcspn(filter, ":");
	const char *next = filter[n] == ':' ? filter + n + 1 : "";

	memset(r, 0, sizeof(*r));
	if (n == 0 || n >= sizeof(r->transport)) {
		log_warn("bad content_filter value \"%s\": want "
		    "transport:nexthop", log_safe(filter));
		r->action = QMGR_ROUTE_DEFER;
		snprintf(r->status, sizeof(r->status), "4.3.5");
		snprintf(r->reason, sizeof(r->reason), "mail system "
		    "configuration error: bad content_filter");
		return;
	}
	r->action = QMGR_ROUTE_DELIVER;
	memcpy(r->transport, filter, n);
	r->transport[n] = 0;
	r->nexthop = xstrdup(*next ? next : myhostname);
}
