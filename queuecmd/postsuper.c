/*
 * NAME
 *	postsuper - Postfix-compatible queue maintenance
 * SYNOPSIS
 *	postsuper [-c confdir] [-o name=value] [-v] [-d id|ALL|-]
 *	    [-h id|ALL|-] [-H id|ALL|-] [-r id|ALL|-] [-s] [-p] [queue ...]
 * DESCRIPTION
 *	-d deletes messages (with their defer/ and bounce/ logs); default
 *	queues hold, incoming, active, deferred. -h puts messages on hold
 *	(from incoming, active, deferred); -H releases them from hold to
 *	deferred/ with the retry time set to now; -r requeues messages
 *	(from hold, incoming, active, deferred) into incoming/, where qmgr
 *	resolves their pending recipients again. An id of "ALL" means every
 *	message of those queues, "-" reads ids from stdin, one a line.
 *	Queue names after the options replace the default queues (any of
 *	maildrop, incoming, active, deferred, hold, corrupt).
 *	Options may be repeated and combined, as in Postfix. -o
 *	name=value overrides main.cf as it does for every postern daemon
 *	(Postfix's postsuper has no -o).
 *
 *	-s checks the structure: creates missing queue directories with
 *	the modes of QUEUE.md (owned by mail_owner when run as root),
 *	renames a queue file whose name differs from the id it holds,
 *	removes temporary files older than a day and bounce/ and defer/
 *	logs whose message is gone. -p removes stale temporary files only.
 *
 *	After -H or -r qmgr is woken through public/qmgr.
 *	Each message is acted on and counted once: the queues are
 *	scanned before anything moves (-r ALL does not find again in
 *	incoming/ what it moved there), and an id is looked for in the
 *	queues in order until found.
 * DIAGNOSTICS
 *	Counts on stderr in Postfix's words ("postsuper: Deleted: 2
 *	messages"); an id found in no queue: "postsuper: ID: no such
 *	file", not counted. A log line per message, through syslog or
 *	maillog_file as the daemons log ("postsuper[pid]: ID: removed",
 *	"ID: placed on hold", "ID: released from hold", "ID: requeued"),
 *	on stderr as well when stderr is a terminal. EX_USAGE for bad
 *	arguments, EX_NOPERM/EX_OSERR if the queue cannot be read.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "queue.h"
#include "queue_cmd.h"
#include "str.h"
#include "xalloc.h"

#define OP_DELETE	'd'
#define OP_HOLD		'h'
#define OP_RELEASE	'H'
#define OP_REQUEUE	'r'

static const char *all_queues[] = {"maildrop", "incoming", "active",
    "deferred", "hold", "corrupt", NULL};
static const char *q_delete[] = {"hold", "incoming", "active", "deferred",
    NULL};
static const char *q_hold[] = {"incoming", "active", "deferred", NULL};
static const char *q_release[] = {"hold", NULL};
static const char *q_requeue[] = {"hold", "incoming", "active", "deferred",
    NULL};

static struct strv *stdin_ids;	/* "-": read once */

struct op {
	int	 what;
	const char *arg;
};

/* remove_logs - defer/ID and bounce/ID */
static void
remove_logs(const char *id)
{
	char	*p;

	p = queue_path(queue_cmd_dir(), "defer", id);
	(void)unlink(p);
	free(p);
	p = queue_path(queue_cmd_dir(), "bounce", id);
	(void)unlink(p);
	free(p);
}

/* touch_now - make a deferred file due now (mtime = retry time) */
static void
touch_now(const char *queue, const char *id)
{
	char	*p = queue_path(queue_cmd_dir(), queue, id);

	(void)utimes(p, NULL);
	free(p);
}

/* act - one operation on one message in one queue; 1 if done */
static int
act(int what, const char *queue, const char *id)
{
	char	*p;
	int	 ok;

	switch (what) {
	case OP_DELETE:
		p = queue_path(queue_cmd_dir(), queue, id);
		ok = unlink(p) == 0;
		free(p);
		if (ok) {
			remove_logs(id);
			log_info("%s: removed", id);
		}
		return (ok);
	case OP_HOLD:
		if ((ok = queue_move(queue_cmd_dir(), queue, "hold", id) == 0))
			log_info("%s: placed on hold", id);
		return (ok);
	case OP_RELEASE:
		touch_now(queue, id);
		if ((ok = queue_move(queue_cmd_dir(), queue, "deferred", id)
		    == 0))
			log_info("%s: released from hold", id);
		return (ok);
	default:
		/* Already in incoming/: requeued in place, if it is there. */
		if (strcmp(queue, "incoming") == 0) {
			p = queue_path(queue_cmd_dir(), queue, id);
			ok = utimes(p, NULL) == 0;
			free(p);
		} else {
			touch_now(queue, id);
			ok = queue_move(queue_cmd_dir(), queue, "incoming", id)
			    == 0;
		}
		if (ok)
			log_info("%s: requeued", id);
		return (ok);
	}
}

/* act_id - one operation on one id over the queues: each message once */
static int
act_id(int what, const char **queues, const char *id)
{
	for (; *queues; queues++) {
		if (what == OP_HOLD && strcmp(*queues, "hold") == 0)
			continue;	/* already on hold */
		if (act(what, *queues, id))
			return (1);
	}
	fprintf(stderr, "postsuper: %s: no such file\n", log_safe(id));
	return (0);
}

/* in_list - is q in the list */
static int
in_list(const char **list, const char *q)
{
	for (; *list; list++)
		if (strcmp(*list, q) == 0)
			return (1);
	return (0);
}

/* do_all - "ALL": every message of the queues, each counted once */
static int
do_all(int what, const char **queues)
{
	struct strv **ids;
	size_t	 i, n, nq;
	int	 count = 0;

	for (nq = 0; queues[nq]; nq++)
		;
	ids = xcalloc(nq + 1, sizeof(*ids));
	/* Scan first: a message moved into a later queue is not seen again. */
	for (n = 0; n < nq; n++)
		if (what != OP_HOLD || strcmp(queues[n], "hold") != 0)
			ids[n] = queue_scan(queue_cmd_dir(), queues[n]);
	for (n = 0; n < nq; n++) {
		for (i = 0; ids[n] && i < ids[n]->argc; i++)
			count += act(what, queues[n], ids[n]->argv[i]);
		strv_free(ids[n]);
	}
	free(ids);
	return (count);
}

/* do_op - one operation over the selected queues; the count */
static int
do_op(const struct op *op, const char **queues)
{
	const char **def = op->what == OP_DELETE ? q_delete
	    : op->what == OP_HOLD ? q_hold : op->what == OP_RELEASE
	    ? q_release : q_requeue;
	char	 line[256];
	size_t	 i;
	int	 count = 0;

	if (queues && op->what != OP_RELEASE)
		def = queues;	/* named queues replace the default list */
	if (strcmp(op->arg, "ALL") == 0)
		return (do_all(op->what, def));
	if (strcmp(op->arg, "-") == 0) {
		if (stdin_ids == NULL) {
			stdin_ids = strv_new();
			while (fgets(line, sizeof(line), stdin) != NULL)
				if (queue_id_valid(str_trim(line)))
					strv_add(stdin_ids, str_trim(line));
		}
		for (i = 0; i < stdin_ids->argc; i++)
			count += act_id(op->what, def, stdin_ids->argv[i]);
		return (count);
	}
	return (act_id(op->what, def, op->arg));
}

/* fix_name - a queue file named other than its I record: rename it */
static int
fix_name(const char *queue, const char *name)
{
	char	*p = queue_path(queue_cmd_dir(), queue, name), head[128];
	char	*id, *nl, *dst;
	ssize_t	 n;
	int	 fd, fixed = 0;
	struct stat st;

	if ((fd = open(p, O_RDONLY | O_NOFOLLOW)) < 0) {
		free(p);
		return (0);
	}
	n = read(fd, head, sizeof(head) - 1);
	close(fd);
	head[n > 0 ? n : 0] = 0;
	if (strncmp(head, "V1\nI", 4) == 0 && (nl = strchr(head + 4, '\n'))) {
		*nl = 0;
		id = head + 4;
		dst = queue_path(queue_cmd_dir(), queue, id);
		if (queue_id_valid(id) && strcmp(id, name) != 0
		    && lstat(dst, &st) < 0 && rename(p, dst) == 0) {
			log_info("%s: renamed misnamed file %s/%s", id, queue,
			    log_safe(name));
			fixed = 1;
		}
		free(dst);
	}
	free(p);
	return (fixed);
}

/* exists_anywhere - a queue file with this id in any queue */
static int
exists_anywhere(const char *id)
{
	const char **q;
	struct stat st;
	char	*p;
	int	 found = 0;

	for (q = all_queues; *q && !found; q++) {
		p = queue_path(queue_cmd_dir(), *q, id);
		found = lstat(p, &st) == 0;
		free(p);
	}
	return (found);
}

/* structure - postsuper -s */
static void
structure(void)
{
	static const char *logs[] = {"bounce", "defer", NULL};
	struct passwd *pw = geteuid() == 0 ? getpwnam(conf_str("mail_owner"))
	    : NULL;
	const char **q;
	struct strv *ids;
	char	 err[512], *p;
	size_t	 i;
	int	 renamed = 0, temps = 0, orphans = 0, n;

	if (queue_dirs_create(queue_cmd_dir(), pw ? pw->pw_uid : (uid_t)-1,
	    pw ? pw->pw_gid : (gid_t)-1, err, sizeof(err)) < 0) {
		fprintf(stderr, "postsuper: fatal: %s\n", err);
		exit(EX_CANTCREAT);
	}
	for (q = all_queues; *q; q++) {
		if ((n = queue_clean_temp(queue_cmd_dir(), *q,
		    QUEUE_TEMP_MAX_AGE)) > 0)
			temps += n;
		if ((ids = queue_scan(queue_cmd_dir(), *q)) == NULL)
			continue;
		for (i = 0; i < ids->argc; i++) {
			renamed += fix_name(*q, ids->argv[i]);
		}
		strv_free(ids);
	}
	for (q = logs; *q; q++) {
		if ((ids = queue_scan(queue_cmd_dir(), *q)) == NULL)
			continue;
		for (i = 0; i < ids->argc; i++)
			if (!exists_anywhere(ids->argv[i])) {
				p = queue_path(queue_cmd_dir(), *q,
				    ids->argv[i]);
				if (unlink(p) == 0)
					orphans++;
				free(p);
			}
		strv_free(ids);
	}
	if (renamed)
		fprintf(stderr, "postsuper: Renamed to match queue id: "
		    "%d message%s\n", renamed, renamed == 1 ? "" : "s");
	if (temps)
		fprintf(stderr, "postsuper: Deleted: %d temporary file%s\n",
		    temps, temps == 1 ? "" : "s");
	if (orphans)
		fprintf(stderr, "postsuper: Deleted: %d orphaned log file%s\n",
		    orphans, orphans == 1 ? "" : "s");
}

/*
 * logging - the per-message lines go where the daemons' go (Postfix's
 * postsuper logs them): maillog_file, else syslog; a maillog_file on the
 * terminal (/dev/stdout) is the foreground master's, syslog then. The
 * terminal sees them too, as Postfix's does.
 */
static void
logging(void)
{
	const char *file = conf_str("maillog_file");
	int	 flags = isatty(2) ? LOG_TO_STDERR : 0;
	char	*ident;

	if (strcmp(file, "/dev/stdout") == 0 || strcmp(file, "/dev/stderr")
	    == 0)
		file = "";
	if (*file == 0)
		flags |= LOG_TO_SYSLOG;
	ident = xasprintf("%s/postsuper", conf_str("syslog_name"));
	log_init(ident, flags);
	free(ident);
	if (*file && log_set_file(file) < 0) {
		log_init(log_name(), flags | LOG_TO_SYSLOG);
		log_warn("cannot open maillog_file %s: %m", file);
	}
}

/* usage - bad invocation */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: postsuper [-c confdir] [-o name=value] "
	    "[-d id|ALL] "
	    "[-h id|ALL] [-H id|ALL] [-r id|ALL] [-s] [-p] [queue ...]\n");
	exit(EX_USAGE);
}

int
main(int argc, char **argv)
{
	struct op ops[64];
	const char *confdir = NULL, **queues = NULL, *over[64];
	int	 nover = 0;
	int	 nops = 0, c, i, n, check = 0, purge = 0, wake = 0;
	static const char *word[] = {"Deleted", "Placed on hold",
	    "Released from hold", "Requeued"};
	const char *q;

	while ((c = getopt(argc, argv, "c:d:h:H:o:r:spv")) != -1) {
		switch (c) {
		case 'c': confdir = optarg; break;
		case 'd': case 'h': case 'H': case 'r':
			if (nops == (int)(sizeof(ops) / sizeof(ops[0])))
				usage();
			if (strcmp(optarg, "ALL") && strcmp(optarg, "-")
			    && !queue_id_valid(optarg)) {
				fprintf(stderr, "postsuper: fatal: invalid "
				    "queue id: %s\n", log_safe(optarg));
				exit(EX_USAGE);
			}
			ops[nops].what = c;
			ops[nops++].arg = optarg;
			break;
		case 'o':
			if (nover == (int)(sizeof(over) / sizeof(over[0])))
				usage();
			over[nover++] = optarg;
			break;
		case 's': check = 1; break;
		case 'p': purge = 1; break;
		case 'v': log_verbose++; break;
		default: usage();
		}
	}
	if (nops == 0 && !check && !purge)
		usage();
	queue_cmd_init("postsuper", confdir);
	for (i = 0; i < nover; i++)
		queue_cmd_override("postsuper", over[i]);
	logging();
	if (optind < argc) {
		queues = (const char **)&argv[optind];	/* NULL-ended */
		for (i = optind; i < argc; i++)
			if (!in_list(all_queues, argv[i])) {
				fprintf(stderr, "postsuper: fatal: invalid "
				    "directory name: %s\n", log_safe(argv[i]));
				exit(EX_USAGE);
			}
	}
	if (check)
		structure();
	else if (purge)
		for (i = 0; all_queues[i]; i++)
			(void)queue_clean_temp(queue_cmd_dir(), all_queues[i],
			    QUEUE_TEMP_MAX_AGE);
	for (i = 0; i < nops; i++) {
		n = do_op(&ops[i], queues);
		q = word[ops[i].what == OP_DELETE ? 0 : ops[i].what == OP_HOLD
		    ? 1 : ops[i].what == OP_RELEASE ? 2 : 3];
		if (n > 0)
			fprintf(stderr, "postsuper: %s: %d message%s\n", q, n,
			    n == 1 ? "" : "s");
		wake |= n > 0 && (ops[i].what == OP_RELEASE
		    || ops[i].what == OP_REQUEUE);
	}
	if (wake)
		(void)queue_cmd_trigger("W");
	return (EX_OK);
}
