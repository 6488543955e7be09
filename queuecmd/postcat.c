/*
 * NAME
 *	postcat - show the contents of queue files (Postfix's postcat)
 * SYNOPSIS
 *	postcat [-c confdir] [-e] [-h] [-b] [-q] file|queue_id ...
 * DESCRIPTION
 *	Prints a queue file in the style of Postfix's postcat: the
 *	envelope records ("*** ENVELOPE RECORDS queue/ID ***": arrival
 *	time, sender, named attributes, recipients, done recipients with
 *	"done_recipient:", expansions with their parent), then the message
 *	("*** MESSAGE CONTENTS queue/ID ***") exactly as stored, then
 *	"*** MESSAGE FILE END queue/ID ***".
 *
 *	-e shows only the envelope, -h only the primary headers, -b only
 *	the body (combinations add up). -q takes queue ids and looks for
 *	them in maildrop, incoming, active, deferred, hold and corrupt.
 *	Untrusted envelope text is printed through log_safe().
 * DIAGNOSTICS
 *	Exit 1 if a file cannot be found or does not parse (the reason on
 *	stderr); the other files are still shown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "queue.h"
#include "queue_cmd.h"
#include "xalloc.h"

#define SHOW_ENV	1
#define SHOW_HDR	2
#define SHOW_BODY	4

static const char *queues[] = {"maildrop", "incoming", "active", "deferred",
    "hold", "corrupt", NULL};

/* show_time - one time record */
static void
show_time(const char *label, long t)
{
	time_t	 tt = (time_t)t;
	char	 buf[64];
	struct tm tm;

	if (asctime_r(localtime_r(&tt, &tm), buf) == NULL)
		snprintf(buf, sizeof(buf), "%ld\n", t);
	printf("%s: %s", label, buf);
}

/* show_envelope - the envelope records */
static void
show_envelope(const struct queue_file *qf)
{
	size_t	 i;

	show_time("message_arrival_time", qf->arrival);
	if (qf->warn_time)
		show_time("delay_warning_time", qf->warn_time);
	printf("sender: %s\n", log_safe(qf->sender));
	for (i = 0; i < qf->nattrs; i++)
		printf("named_attribute: %s=%s\n", log_safe(qf->attrs[i].name),
		    log_safe(qf->attrs[i].value));
	for (i = 0; i < qf->nrcpts; i++) {
		if (qf->rcpts[i].orcpt)
			printf("original_recipient: %s\n",
			    log_safe(qf->rcpts[i].orcpt));
		if (qf->rcpts[i].parent >= 0)
			printf("expanded_from: %ld\n", qf->rcpts[i].parent);
		printf("%s: %s\n", qf->rcpts[i].done ? "done_recipient"
		    : "recipient", log_safe(qf->rcpts[i].addr));
	}
}

/* show_message - headers and/or body as stored */
static int
show_message(const struct queue_file *qf, int what)
{
	char	*msg = xmalloc((size_t)qf->msg_len + 1), *sep;
	size_t	 hlen;

	if (pread(qf->fd, msg, (size_t)qf->msg_len, qf->msg_offset)
	    != (ssize_t)qf->msg_len) {
		free(msg);
		return (-1);
	}
	msg[qf->msg_len] = 0;
	if (qf->msg_len > 0 && msg[0] == '\n')
		sep = msg;		/* no headers */
	else if ((sep = memmem(msg, (size_t)qf->msg_len, "\n\n", 2)))
		sep++;			/* the empty line */
	else
		sep = msg + qf->msg_len;	/* headers only */
	hlen = (size_t)(sep - msg);
	if ((what & (SHOW_HDR | SHOW_BODY)) == (SHOW_HDR | SHOW_BODY))
		fwrite(msg, 1, (size_t)qf->msg_len, stdout);
	else if (what & SHOW_HDR)
		fwrite(msg, 1, hlen, stdout);
	else if (what & SHOW_BODY && hlen < (size_t)qf->msg_len)
		fwrite(sep + 1, 1, (size_t)qf->msg_len - hlen - 1, stdout);
	free(msg);
	return (0);
}

/* show - one file */
static int
show(const char *path, const char *label, int what)
{
	char	 err[256];
	struct queue_file *qf = queue_file_open(path, 0, err, sizeof(err));

	if (qf == NULL) {
		fprintf(stderr, "postcat: %s\n", err);
		return (-1);
	}
	if (what & SHOW_ENV) {
		printf("*** ENVELOPE RECORDS %s ***\n", label);
		show_envelope(qf);
	}
	if (what & (SHOW_HDR | SHOW_BODY)) {
		printf("*** %s %s ***\n", (what & SHOW_HDR) && (what & SHOW_BODY)
		    ? "MESSAGE CONTENTS" : (what & SHOW_HDR)
		    ? "PRIMARY HEADER" : "MESSAGE BODY", label);
		if (show_message(qf, what) < 0) {
			fprintf(stderr, "postcat: %s: read error\n", path);
			queue_file_close(qf);
			return (-1);
		}
	}
	printf("*** MESSAGE FILE END %s ***\n", label);
	queue_file_close(qf);
	return (0);
}

/* find - queue/ID of a queue id, or NULL */
static char *
find(const char *id, char **label)
{
	struct stat st;
	char	*p;
	int	 i;

	for (i = 0; queues[i]; i++) {
		p = queue_path(queue_cmd_dir(), queues[i], id);
		if (stat(p, &st) == 0) {
			*label = xasprintf("%s/%s", queues[i], id);
			return (p);
		}
		free(p);
	}
	return (NULL);
}

int
main(int argc, char **argv)
{
	const char *confdir = NULL;
	char	*path, *label;
	int	 c, what = 0, byid = 0, i, status = 0;

	while ((c = getopt(argc, argv, "bc:ehqv")) != -1) {
		switch (c) {
		case 'b': what |= SHOW_BODY; break;
		case 'c': confdir = optarg; break;
		case 'e': what |= SHOW_ENV; break;
		case 'h': what |= SHOW_HDR; break;
		case 'q': byid = 1; break;
		case 'v': log_verbose++; break;
		default:
			fprintf(stderr, "usage: postcat [-c confdir] [-e] [-h] "
			    "[-b] [-q] file|queue_id ...\n");
			return (EX_USAGE);
		}
	}
	if (what == 0)
		what = SHOW_ENV | SHOW_HDR | SHOW_BODY;
	if (byid)
		queue_cmd_init("postcat", confdir);
	for (i = optind; i < argc; i++) {
		if (!byid)
			status |= show(argv[i], argv[i], what);
		else if (!queue_id_valid(argv[i])
		    || (path = find(argv[i], &label)) == NULL) {
			fprintf(stderr, "postcat: no message %s in the queue\n",
			    log_safe(argv[i]));
			status = -1;
		} else {
			status |= show(path, label, what);
			free(path);
			free(label);
		}
	}
	return (status ? 1 : 0);
}
