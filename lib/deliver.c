/*
 * NAME
 *	deliver - helpers for the qmgr <-> delivery agent protocol
 * DESCRIPTION
 *	See deliver.h: request validation shared by every agent.
 */
#include <stdio.h>
#include <string.h>

#include "attr.h"
#include "deliver.h"
#include "queue.h"

/* deliver_rcpt_attr - rcpt.<i>.<what> */
const char *
deliver_rcpt_attr(const struct attr_list *req, long i, const char *what)
{
	char	 name[64];

	snprintf(name, sizeof(name), "rcpt.%ld.%s", i, what);
	return (attr_get(req, name));
}

/* deliver_request_check - version, queue, id, sender, count; NULL or why */
const char *
deliver_request_check(const struct attr_list *req, int need_nexthop,
    long *count)
{
	const char *v = attr_get(req, "version");
	const char *q = attr_get(req, "queue_name");
	const char *p;
	long	 i, idx;
	char	 name[64];

	if (v == NULL || strcmp(v, ATTR_VERSION) != 0)
		return ("unsupported protocol version");
	if (q == NULL || *q == 0)
		return ("missing queue_name");
	for (p = q; *p; p++)
		if (*p < 'a' || *p > 'z')
			return ("bad queue_name");
	if (!queue_id_valid(attr_get(req, "queue_id")))
		return ("bad queue_id");
	if (attr_get(req, "sender") == NULL)
		return ("missing sender");
	if (need_nexthop && attr_get(req, "nexthop") == NULL)
		return ("missing nexthop");
	if (attr_get_long(req, "rcpt_count", count) < 0 || *count < 1
	    || *count > DELIVER_RCPT_MAX)
		return ("bad rcpt_count");
	for (i = 0; i < *count; i++) {
		snprintf(name, sizeof(name), "rcpt.%ld.index", i);
		if (deliver_rcpt_attr(req, i, "addr") == NULL
		    || attr_get_long(req, name, &idx) < 0 || idx < 0)
			return ("bad recipient attributes");
	}
	return (NULL);
}
