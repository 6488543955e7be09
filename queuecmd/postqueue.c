/*
 * NAME
 *	postqueue - Postfix-compatible queue listing and flush (and mailq)
 * SYNOPSIS
 *	postqueue [-c confdir] -p
 *	postqueue [-c confdir] -j
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
 *	-j lists the same messages as JSON, one object per line, in
 *	Postfix's postqueue -j format: queue_name, queue_id, arrival_time,
 *	message_size, forced_expire, sender, and recipients, each with
 *	address and, when one was logged, delay_reason. postern adds
 *	next_retry_time to a deferred message's recipients (the deferred
 *	file's mtime, which qmgr sets to the next retry). Strings are
 *	JSON-escaped; bytes that are not valid UTF-8 become U+FFFD.
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
#include "utf8.h"
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

/* put_text - the whole text: printable ASCII and well-formed UTF-8
 * (an SMTPUTF8 address) kept, every other byte as '?' */
static void
put_text(const char *s)
{
	char	 out[256];
	size_t	 len = strlen(s), n;

	while (len > 0) {
		n = len > 200 ? 200 : len;
		/* never cut a UTF-8 sequence between two pieces */
		while (n < len && n > 196 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		fputs(utf8_printable(s, n, sizeof(out) - 1, out), stdout);
		s += n;
		len -= n;
	}
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

/* utf8_len - length of the valid UTF-8 sequence at s, or 0 */
static int
utf8_len(const unsigned char *s)
{
	int	 n, i;
	unsigned int cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return (0);
	n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	cp = s[0] & (0x3f >> (n - 1));
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
	    || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return (0);
	return (n);
}

/* put_json - a JSON string */
static void
put_json(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	int	 n;

	putchar('"');
	while (*s) {
		if (*s == '"' || *s == '\\') {
			printf("\\%c", *s++);
		} else if (*s < 0x20 || *s == 0x7f) {
			printf("\\u%04x", *s++);
		} else if (*s < 0x80) {
			putchar(*s++);
		} else if ((n = utf8_len(s)) > 0) {
			fwrite(s, 1, (size_t)n, stdout);
			s += n;
		} else {
			fputs("\\ufffd", stdout);
			s++;
		}
	}
	putchar('"');
}

/* show_json - one message as a postqueue -j line; its size or -1 */
static long
show_json(const char *dir, const char *id)
{
	char	*path = queue_path(queue_cmd_dir(), dir, id), err[256];
	struct queue_file *qf = queue_file_open(path, 0, err, sizeof(err));
	struct queue_log_entry *log;
	struct stat st;
	const char *r;
	size_t	 nlog, i;
	long	 retry = -1, size;
	int	 first = 1;

	if (qf != NULL && strcmp(dir, "deferred") == 0
	    && fstat(qf->fd, &st) == 0)
		retry = (long)st.st_mtime;
	free(path);
	if (qf == NULL)		/* gone meanwhile, or corrupt: not listed */
		return (-1);
	printf("{\"queue_name\": ");
	put_json(dir);
	printf(", \"queue_id\": ");
	put_json(qf->id);
	printf(", \"arrival_time\": %ld, \"message_size\": %lld, "
	    "\"forced_expire\": false, \"sender\": ", qf->arrival,
	    (long long)qf->msg_len);
	put_json(qf->sender);
	printf(", \"recipients\": [");
	log = queue_log_read(queue_cmd_dir(), "defer", qf->id, &nlog);
	for (i = 0; i < qf->nrcpts; i++) {
		if (qf->rcpts[i].done)
			continue;
		printf("%s{\"address\": ", first ? "" : ", ");
		first = 0;
		put_json(qf->rcpts[i].addr);
		if ((r = reason_of(log, nlog, i)) != NULL) {
			printf(", \"delay_reason\": ");
			put_json(r);
		}
		if (retry >= 0)
			printf(", \"next_retry_time\": %ld", retry);
		printf("}");
	}
	printf("]}\n");
	queue_log_free(log, nlog);
	size = (long)qf->msg_len;
	queue_file_close(qf);
	return (size);
}

/* list_queue - postqueue -p (json 0) or -j (json 1) */
static int
list_queue(int json)
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
		for (i = 0; json && i < ids->argc; i++)
			(void)show_json(queues[q].dir, ids->argv[i]);
		for (i = 0; !json && i < ids->argc; i++) {
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
	if (json)
		return (fflush(stdout) == 0 ? EX_OK : EX_IOERR);
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
	fprintf(stderr, "usage: postqueue [-c confdir] -p | -j | -f | -i "
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
	while ((c = getopt(argc, argv, "c:fi:jpvs:")) != -1) {
		switch (c) {
		case 'c': confdir = optarg; break;
		case 'f': mode = 'f'; break;
		case 'i': mode = 'i'; id = optarg; break;
		case 'p': mode = 'p'; break;
		case 'j': mode = 'j'; break;
		case 'v': log_verbose++; break;
		case 's': mode = 'f'; break;	/* per site: flush all */
		default: usage();
		}
	}
	if (mode == 0 || optind != argc)
		usage();
	queue_cmd_init(strcmp(base, "mailq") == 0 ? "mailq" : "postqueue",
	    confdir);
	if (mode == 'p' || mode == 'j')
		return (list_queue(mode == 'j'));
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
