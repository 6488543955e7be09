/*
 * NAME
 *	postqueue - Postfix-compatible queue listing and flush (and mailq)
 * SYNOPSIS
 *	postqueue [-c confdir] -p
 *	postqueue [-c confdir] -f
 *	postqueue [-c confdir] -i queue_id
 *	mailq [-c confdir]
 * DESCRIPTION
 *	-p (and mailq) lists the queue in Postfix's mailq format: for
 *	each message in maildrop/, incoming/, active/ ('*' after the id),
 *	deferred/ and hold/ ('!') the id, size, arrival time and sender,
 *	then its pending recipients; recipients with a deferral reason in
 *	defer/<id> are listed under "(reason)". The last line is "-- N
 *	Kbytes in M Requests." or "Mail queue is empty".
 *
 *	-f asks qmgr to retry every deferred message now ("F" on
 *	public/qmgr); -i id asks for one message ("I<id>").
 *
 *	The listing reads the queue directly, so it needs read access to
 *	the queue directories (root or mail_owner).
 * DIAGNOSTICS
 *	EX_USAGE for bad options, EX_UNAVAILABLE when qmgr cannot be
 *	reached for -f/-i, EX_NOPERM/EX_OSERR when the queue is unreadable.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "queue.h"
#include "queue_cmd.h"
#include "str.h"
#include "xalloc.h"

static const struct {
	const char *dir;
	char	 mark;
} queues[] = {
	{"maildrop", ' '}, {"incoming", ' '}, {"active", '*'},
	{"deferred", ' '}, {"hold", '!'},
};

/* reason_of - the deferral reason logged for recipient index, or NULL */
static const char *
reason_of(const struct queue_log_entry *v, size_t n, size_t index)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (v[i].index == (long)index && v[i].reason && *v[i].reason)
			return (v[i].reason);
	return (NULL);
}

/* put_text - the whole text, each non-printable byte as '?' */
static void
put_text(const char *s)
{
	for (; *s; s++)
		putchar((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f
		    ? *s : '?');
}

/* show_message - one message in mailq format; its size or -1 */
static long
show_message(const char *dir, char mark, const char *id)
{
	char	*path = queue_path(queue_cmd_dir(), dir, id), err[256];
	struct queue_file *qf = queue_file_open(path, 0, err, sizeof(err));
	struct queue_log_entry *log;
	size_t	 nlog, i, j;
	time_t	 t;
	char	 when[64];
	const char *r, *rj;
	int	*shown, pad, any_reason = 0;
	char	 idmark[64];
	struct tm tm;

	free(path);
	if (qf == NULL)		/* gone meanwhile, or corrupt: not listed */
		return (-1);
	t = (time_t)qf->arrival;
	if (asctime_r(localtime_r(&t, &tm), when) == NULL)
		strcpy(when, "??");
	/* Postfix's long-queue-id layout (showq_compat.c): id and mark
	 * in 17 columns (ours, 19 characters, overflow as long ids do) */
	snprintf(idmark, sizeof(idmark), "%s%s", qf->id, mark == ' ' ? ""
	    : mark == '*' ? "*" : "!");
	printf("%-17s %8lld %19.19s ", idmark, (long long)qf->msg_len, when);
	put_text(*qf->sender ? qf->sender : "MAILER-DAEMON");
	printf("\n");
	log = queue_log_read(queue_cmd_dir(), "defer", qf->id, &nlog);
	shown = xcalloc(qf->nrcpts + 1, sizeof(*shown));
	for (i = 0; i < qf->nrcpts; i++) {
		if (qf->rcpts[i].done || shown[i])
			continue;
		r = reason_of(log, nlog, i);
		if (r != NULL || any_reason) {
			/* the whole reason, as Postfix prints it */
			rj = r ? r : "reason unavailable";
			pad = 76 - (int)strlen(rj);
			printf("%*s(", pad > 0 ? pad : 0, "");
			put_text(rj);
			printf(")\n");
			any_reason = r != NULL;
		}
		for (j = i; j < qf->nrcpts; j++) {
			if (qf->rcpts[j].done || shown[j])
				continue;
			rj = reason_of(log, nlog, j);
			if ((r == NULL) != (rj == NULL)
			    || (r && strcmp(r, rj) != 0))
				continue;
			printf("%-17s %8s %-19s ", "", "", "");
			put_text(qf->rcpts[j].addr);
			printf("\n");
			shown[j] = 1;
		}
	}
	printf("\n");
	free(shown);
	queue_log_free(log, nlog);
	i = (size_t)qf->msg_len;
	queue_file_close(qf);
	return ((long)i);
}

/* list_queue - postqueue -p */
static int
list_queue(void)
{
	struct strv *ids;
	long	 total = 0, size;
	int	 count = 0;
	size_t	 q, i;

	for (q = 0; q < sizeof(queues) / sizeof(queues[0]); q++) {
		if ((ids = queue_scan(queue_cmd_dir(), queues[q].dir)) == NULL) {
			if (errno == ENOENT)
				continue;
			fprintf(stderr, "postqueue: fatal: open %s/%s: %s\n",
			    queue_cmd_dir(), queues[q].dir, strerror(errno));
			return (errno == EACCES ? EX_NOPERM : EX_OSERR);
		}
		for (i = 0; i < ids->argc; i++) {
			if (count == 0 && total == 0)
				printf("%-17s %8s %-19s %s\n",
				    "----Queue ID-----", "--Size--",
				    "---Arrival Time----",
				    "--Sender/Recipient------");
			if ((size = show_message(queues[q].dir,
			    queues[q].mark, ids->argv[i])) >= 0) {
				total += size;
				count++;
			}
		}
		strv_free(ids);
	}
	if (count == 0)
		printf("Mail queue is empty\n");
	else
		printf("-- %ld Kbytes in %d Request%s.\n", total / 1024,
		    count, count == 1 ? "" : "s");
	return (EX_OK);
}

/* usage - bad invocation */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: postqueue [-c confdir] -p | -f | -i "
	    "queue_id\n");
	exit(EX_USAGE);
}

int
main(int argc, char **argv)
{
	const char *confdir = NULL, *id = NULL, *base;
	char	 req[QUEUE_ID_MAX + 2];
	int	 c, mode = 0;

	base = (base = strrchr(argv[0], '/')) ? base + 1 : argv[0];
	if (strcmp(base, "mailq") == 0)
		mode = 'p';
	while ((c = getopt(argc, argv, "c:fi:pvs:")) != -1) {
		switch (c) {
		case 'c': confdir = optarg; break;
		case 'f': mode = 'f'; break;
		case 'i': mode = 'i'; id = optarg; break;
		case 'p': mode = 'p'; break;
		case 'v': log_verbose++; break;
		case 's': mode = 'f'; break;	/* per site: flush all */
		default: usage();
		}
	}
	if (mode == 0 || optind != argc)
		usage();
	queue_cmd_init(strcmp(base, "mailq") == 0 ? "mailq" : "postqueue",
	    confdir);
	if (mode == 'p')
		return (list_queue());
	if (mode == 'i' && !queue_id_valid(id)) {
		fprintf(stderr, "postqueue: fatal: invalid queue id: %s\n",
		    log_safe(id));
		return (EX_USAGE);
	}
	snprintf(req, sizeof(req), "%s%s", mode == 'f' ? "F" : "I",
	    mode == 'f' ? "" : id);
	if (queue_cmd_trigger(req) < 0) {
		fprintf(stderr, "postqueue: fatal: Cannot flush mail queue - "
		    "mail system is down\n");
		return (EX_UNAVAILABLE);
	}
	return (EX_OK);
}
