/*
 * NAME
 *	fuzz_queue - libFuzzer target: the queue file reader (lib/queue)
 * DESCRIPTION
 *	The input is a queue file (QUEUE.md: V I T W S A* R* M msg E R*).
 *	It is written under the name its I record gives (so a file that
 *	is right apart from hostile details gets past the name check) and
 *	opened writable, as qmgr opens it: queue_file_open() must parse
 *	it or call it corrupt (EINVAL with a reason), never crash or read
 *	past the file. A file it accepts is then changed the way qmgr
 *	changes it (first recipient marked done, a recipient appended by
 *	alias expansion), and must open again with one more recipient,
 *	the first one done and the message where it was.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "queue.h"

/* file_name - the id of the I record, if the input has one */
static void
file_name(const uint8_t *data, size_t size, char *name, size_t len)
{
	const uint8_t *p, *nl;
	size_t	 n;

	snprintf(name, len, "NOID");
	if (size < 4 || memcmp(data, "V1\nI", 4) != 0)
		return;
	p = data + 4;
	if ((nl = memchr(p, '\n', size - 4)) == NULL)
		return;
	n = (size_t)(nl - p);
	if (n == 0 || n >= len || memchr(p, '/', n) || memchr(p, 0, n)
	    || (n <= 2 && p[0] == '.'))
		return;
	memcpy(name, p, n);
	name[n] = 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct queue_file *qf, *again;
	char	 name[QUEUE_ID_MAX + 1], err[512];
	const char *path;
	size_t	 nrcpts, want;
	off_t	 off, len;

	if (!init) {
		fuzz_quiet();
		init = 1;
	}
	file_name(data, size, name, sizeof(name));
	path = fuzz_file(name, data, size);
	err[0] = 0;
	if ((qf = queue_file_open(path, 1, err, sizeof(err))) == NULL) {
		if (errno == EINVAL && err[0] == 0)
			abort();	/* corrupt without a reason */
		return (0);
	}
	if (qf->sender == NULL || qf->msg_offset < 0 || qf->msg_len < 0
	    || (size_t)(qf->msg_offset + qf->msg_len) > size)
		abort();	/* the message is not inside the file */
	nrcpts = qf->nrcpts;
	off = qf->msg_offset;
	len = qf->msg_len;
	queue_file_attr(qf, "client_address");
	want = nrcpts;
	if (nrcpts > 0) {
		queue_file_find_rcpt(qf, qf->rcpts[0].addr, -1);
		want += queue_file_find_rcpt(qf, "fuzz-new@example.com", 0) < 0;
		if (queue_file_mark_done(qf, 0) < 0
		    || queue_file_add_rcpt(qf, "fuzz-new@example.com", NULL,
		    0, 0) < 0)
			abort();
	}
	queue_file_close(qf);
	if ((again = queue_file_open(path, 0, err, sizeof(err))) == NULL)
		abort();	/* our own changes made it corrupt */
	if (again->msg_offset != off || again->msg_len != len
	    || again->nrcpts != want
	    || (nrcpts > 0 && !again->rcpts[0].done))
		abort();
	queue_file_close(again);
	return (0);
}
