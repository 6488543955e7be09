/*
 * NAME
 *	deliver - helpers for the qmgr <-> delivery agent protocol
 * DESCRIPTION
 *	See deliver.h: request validation and the queue file's message,
 *	shared by every agent.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "deliver.h"
#include "deliver_log.h"
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

/* deliver_msg_open - the request's queue file, read-only and mapped */
int
deliver_msg_open(struct deliver_msg *msg, const char *queue_dir,
    const struct attr_list *req, char *err, size_t errlen)
{
	char	*path = queue_path(queue_dir, attr_get(req, "queue_name"),
	    attr_get(req, "queue_id"));
	struct queue_file *qf;
	void	*map;

	memset(msg, 0, sizeof(*msg));
	msg->arrival = deliver_log_now();
	if ((qf = msg->qf = queue_file_open(path, 0, err, errlen)) != NULL) {
		msg->arrival = (double)qf->arrival
		    + (double)qf->arrival_usec / 1e6;
		msg->maplen = (size_t)(qf->msg_offset + qf->msg_len);
		map = mmap(NULL, msg->maplen ? msg->maplen : 1, PROT_READ,
		    MAP_PRIVATE, qf->fd, 0);
		if (map == MAP_FAILED)
			snprintf(err, errlen, "mmap %s: %m", path);
		else {
			msg->map = map;
			msg->text = (const char *)map + qf->msg_offset;
			msg->len = (size_t)qf->msg_len;
		}
	}
	free(path);
	return (msg->text ? 0 : -1);
}

/* deliver_msg_close - unmap and close */
void
deliver_msg_close(struct deliver_msg *msg)
{
	if (msg->map)
		munmap(msg->map, msg->maplen ? msg->maplen : 1);
	queue_file_close(msg->qf);
	memset(msg, 0, sizeof(*msg));
}
