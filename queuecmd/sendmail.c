/*
 * NAME
 *	sendmail - Postfix-compatible sendmail(1): local submission
 * SYNOPSIS
 *	sendmail [-t] [-i] [-f sender] [-F fullname] [-N dsn] [-R ret]
 *	    [-V envid] [-C confdir] [-o x] [-bm|-bs|-bp|-bi|-bv] [-q]
 *	    [recipient ...]
 * DESCRIPTION
 *	Reads a message from stdin and drops it into maildrop/ as a queue
 *	file (QUEUE.md): sender = -f, else the invoking user's login name
 *	(stored as given: qmgr's pickup appends @$myorigin), recipients =
 *	the arguments (comma lists allowed), plus with -t the To:, Cc: and
 *	Bcc: headers (Bcc: is removed from the message). The file is
 *	fsync'd and renamed, the directory synced, then qmgr is woken
 *	through public/qmgr (best effort). Exit status 0 means the
 *	message is safe in the queue.
 *
 *	Without -i (or -oi) a line with a single "." ends the message.
 *	CRLF becomes LF. -odb, -odi, -oem and other -o options, -m, -n,
 *	-v, -U, -G, -B, -h, -L, -X, -O are accepted and ignored.
 *
 *	-bs runs "smtpd -S" (SMTP on stdin/stdout), -bp is "postqueue
 *	-p", -q is "postqueue -f", -bi (and -I) run newaliases.
 *	-bv reads no message: the file (A verify_report=1) makes qmgr
 *	verify each recipient as an address probe (nothing is delivered)
 *	and mail the sender a "Mail Delivery Status Report".
 *	-C dir (or $MAIL_CONFIG) chooses the configuration directory.
 * DIAGNOSTICS
 *	sysexits(3): EX_USAGE (bad options, no recipients), EX_DATAERR
 *	(message larger than message_size_limit), EX_TEMPFAIL (the queue
 *	cannot be written), EX_CONFIG (main.cf unreadable), EX_OSERR.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "queue.h"
#include "queue_cmd.h"
#include "str.h"
#include "xalloc.h"

struct opts {
	const char *sender;
	const char *fullname;
	const char *ret;
	const char *envid;
	const char *confdir;
	int	 notify;
	int	 extract;	/* -t */
	int	 ignore_dots;	/* -i */
	int	 verify;	/* -bv */
};

/* fatal - message on stderr and exit */
static void __attribute__((noreturn, format(printf, 2, 3)))
fatal(int status, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "sendmail: fatal: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(status);
}

/* has_ctrl - a control character (header injection); NULL is fine */
static int
has_ctrl(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return (1);
	return (0);
}

/* addr_strip - "<a@b>" -> "a@b", trimmed (in place) */
static char *
addr_strip(char *s)
{
	size_t	 n;

	s = str_trim(s);
	n = strlen(s);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s[n - 1] = 0;
		s = str_trim(s + 1);
	}
	return (s);
}

/* list_emit - finish one address of a header list */
static void
list_emit(struct strv *out, struct buf *plain, struct buf *angle,
    int *have_angle)
{
	char	*a = xstrdup(*have_angle ? BUF_STR(angle) : BUF_STR(plain));
	char	*s = str_trim(a);

	if (*s)
		strv_add(out, s);
	free(a);
	buf_reset(plain);
	buf_reset(angle);
	*have_angle = 0;
}

/* addr_list - RFC 5322 address list (To:/Cc:/Bcc: value) to addresses */
static void
addr_list(const char *v, struct strv *out)
{
	struct buf *plain = buf_new(64), *angle = buf_new(64), *cur;
	int	 quote = 0, paren = 0, in_angle = 0, have_angle = 0;

	for (; *v; v++) {
		cur = in_angle ? angle : plain;
		if (quote) {
			buf_putc(cur, *v);
			if (*v == '\\' && v[1])
				buf_putc(cur, *++v);
			else if (*v == '"')
				quote = 0;
		} else if (paren) {
			if (*v == '\\' && v[1])
				v++;
			else if (*v == '(')
				paren++;
			else if (*v == ')')
				paren--;
		} else if (*v == '(')
			paren = 1;
		else if (*v == '"') {
			quote = 1;
			buf_putc(cur, *v);
		} else if (*v == '<' && !in_angle) {
			in_angle = have_angle = 1;
			buf_reset(angle);
		} else if (*v == '>' && in_angle)
			in_angle = 0;
		else if (in_angle)
			buf_putc(angle, *v);
		else if (*v == ':')
			buf_reset(plain);	/* group "name:" */
		else if (*v == ',' || *v == ';')
			list_emit(out, plain, angle, &have_angle);
		else
			buf_putc(plain, *v);
	}
	list_emit(out, plain, angle, &have_angle);
	buf_free(plain);
	buf_free(angle);
}

/* header_is - line starts header name (case-insensitive) + ':' */
static int
header_is(const char *line, size_t len, const char *name)
{
	size_t	 n = strlen(name);

	return (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':');
}

/* extract - -t: recipients from To/Cc/Bcc; Bcc removed from msg */
static void
extract(struct buf *msg, struct strv *rcpts)
{
	struct buf *out = buf_new(BUF_LEN(msg) + 1), *hdr = buf_new(256);
	const char *p = BUF_STR(msg), *end = p + BUF_LEN(msg), *nl;
	int	 skip = 0, want = 0;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl ? nl + 1 : end;
		if (*p == '\n') {	/* end of headers */
			buf_append(out, p, (size_t)(end - p));
			break;
		}
		if (*p != ' ' && *p != '\t') {
			if (want)
				addr_list(BUF_STR(hdr), rcpts);
			buf_reset(hdr);
			want = header_is(p, (size_t)(nl - p), "to")
			    || header_is(p, (size_t)(nl - p), "cc")
			    || header_is(p, (size_t)(nl - p), "bcc");
			skip = header_is(p, (size_t)(nl - p), "bcc");
			if (want)
				buf_append(hdr, strchr(p, ':') + 1,
				    (size_t)(nl - strchr(p, ':') - 1));
		} else if (want)
			buf_append(hdr, p, (size_t)(nl - p));
		if (!skip)
			buf_append(out, p, (size_t)(nl - p));
		p = nl;
	}
	if (want)
		addr_list(BUF_STR(hdr), rcpts);
	buf_reset(msg);
	buf_append(msg, BUF_STR(out), BUF_LEN(out));
	buf_free(out);
	buf_free(hdr);
}

/* read_message - stdin to msg: CRLF -> LF, "." ends unless -i */
static void
read_message(struct buf *msg, int ignore_dots, long limit)
{
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n') {
			n--;
			if (n > 0 && line[n - 1] == '\r')
				n--;
		}
		if (!ignore_dots && n == 1 && line[0] == '.')
			break;
		buf_append(msg, line, (size_t)n);
		buf_putc(msg, '\n');
		if (limit > 0 && (long)BUF_LEN(msg) > limit) {
			free(line);
			fatal(EX_DATAERR, "message file too big (more than "
			    "message_size_limit = %ld bytes)", limit);
		}
	}
	free(line);
	if (ferror(stdin))
		fatal(EX_IOERR, "error reading standard input: %s",
		    strerror(errno));
}

/* parse_notify - -N never | success,failure,delay */
static int
parse_notify(const char *s)
{
	char	*copy = xstrdup(s), *cp = copy, *t;
	int	 bits = 0;

	while ((t = str_token(&cp, ", ")) != NULL) {
		if (strcasecmp(t, "never") == 0)
			bits |= QUEUE_NOTIFY_NEVER;
		else if (strcasecmp(t, "success") == 0)
			bits |= QUEUE_NOTIFY_SUCCESS;
		else if (strcasecmp(t, "failure") == 0)
			bits |= QUEUE_NOTIFY_FAILURE;
		else if (strcasecmp(t, "delay") == 0)
			bits |= QUEUE_NOTIFY_DELAY;
		else
			fatal(EX_USAGE, "bad -N option value: %s",
			    log_safe(s));
	}
	free(copy);
	if ((bits & QUEUE_NOTIFY_NEVER) && bits != QUEUE_NOTIFY_NEVER)
		fatal(EX_USAGE, "-N never cannot be combined with others");
	return (bits);
}

/* run - exec a sibling program (-bs, -bp, -q, -bi) */
static void __attribute__((noreturn))
run(const char *confdir, const char *program, const char *arg)
{
	char	*path = queue_cmd_sibling(program);
	const char *dir = confdir ? confdir : getenv("MAIL_CONFIG");
	char	*argv[6];
	int	 i = 0;

	argv[i++] = (char *)program;
	if (arg)
		argv[i++] = (char *)arg;
	if (dir && *dir) {
		argv[i++] = (char *)"-c";
		argv[i++] = (char *)dir;
	}
	argv[i] = NULL;
	execv(path, argv);
	fatal(EX_OSERR, "execute %s: %s", path, strerror(errno));
}

/*
 * sync_fs - make the rename durable without read access to maildrop/
 * (mode 1733: users may not open it to fsync it): sync the file system
 * through the queue directory, else through the file itself. The file
 * may be gone already: qmgr picked it up (and made its copy durable),
 * which is success, not a reason for EX_TEMPFAIL and a duplicate when
 * the caller tries again.
 */
static int
sync_fs(const char *id)
{
	char	*path;
	int	 ret, saved;

	if (queue_sync_fs(queue_cmd_dir()) == 0)
		return (0);
	path = queue_path(queue_cmd_dir(), "maildrop", id);
	ret = queue_sync_fs(path);
	saved = errno;
	free(path);
	if (ret < 0 && saved == ENOENT)
		return (0);
	errno = saved;
	return (ret);
}

/* queue_it - write maildrop/ID, commit, sync, wake qmgr */
static void
queue_it(const struct opts *o, const char *sender, struct strv *rcpts,
    struct buf *msg)
{
	struct queue_writer *w;
	struct passwd *pw = getpwuid(getuid());
	char	 err[512], uid[32], id[QUEUE_ID_MAX + 1];
	size_t	 i;

	if ((w = queue_writer_new(queue_cmd_dir(), "maildrop", err,
	    sizeof(err))) == NULL)
		fatal(EX_TEMPFAIL, "%s", err);
	snprintf(id, sizeof(id), "%s", queue_writer_id(w));
	queue_writer_sender(w, sender);
	snprintf(uid, sizeof(uid), "%ld", (long)getuid());
	queue_writer_attr(w, "uid", uid);
	if (pw)
		queue_writer_attr(w, "login", pw->pw_name);
	if (o->fullname)
		queue_writer_attr(w, "full_name", o->fullname);
	if (o->ret)
		queue_writer_attr(w, "dsn_ret", o->ret);
	if (o->envid)
		queue_writer_attr(w, "dsn_envid", o->envid);
	queue_writer_attr(w, "origin", "sendmail");
	if (o->verify)
		queue_writer_attr(w, "verify_report", "1");
	for (i = 0; i < rcpts->argc; i++)
		queue_writer_rcpt(w, rcpts->argv[i], NULL, o->notify);
	if (queue_writer_body(w, BUF_STR(msg), BUF_LEN(msg)) < 0) {
		snprintf(err, sizeof(err), "%s", strerror(errno));
		queue_writer_abort(w);
		fatal(EX_TEMPFAIL, "cannot queue the message: %s", err);
	}
	if (queue_writer_commit(w, err, sizeof(err)) < 0)
		fatal(EX_TEMPFAIL, "cannot queue the message: %s", err);
	if (queue_sync_dir(queue_cmd_dir(), "maildrop") < 0
	    && (errno != EACCES || sync_fs(id) < 0))
		fatal(EX_TEMPFAIL, "sync %s/maildrop: %s", queue_cmd_dir(),
		    strerror(errno));
	log_debug("%s: queued in maildrop", id);
	(void)queue_cmd_trigger("W");
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct strv *rcpts = strv_new(), *args;
	struct buf *msg = buf_new(8192);
	struct passwd *pw;
	char	*sender, uidname[32];
	const char *mode = "m";
	int	 c, i;
	size_t	 j;

	memset(&o, 0, sizeof(o));
	opterr = 0;
	while ((c = getopt(argc, argv,
	    "B:b:C:c:dF:f:GIh:iL:mN:nO:o:q::R:r:tUvV:X:")) != -1) {
		switch (c) {
		case 'b': mode = optarg; break;
		case 'C': case 'c': o.confdir = optarg; break;
		case 'F': o.fullname = optarg; break;
		case 'f': case 'r': o.sender = optarg; break;
		case 'I': mode = "i"; break;
		case 'i': o.ignore_dots = 1; break;
		case 'N': o.notify = parse_notify(optarg); break;
		case 'o':
			if (strcmp(optarg, "i") == 0)
				o.ignore_dots = 1;
			break;
		case 'q': mode = "q"; break;
		case 'R': o.ret = optarg; break;
		case 't': o.extract = 1; break;
		case 'V': o.envid = optarg; break;
		case '?':
			fatal(EX_USAGE, "usage: sendmail [-t] [-i] [-f sender]"
			    " [-C confdir] [-bs|-bp] [recipient ...]");
		default: break;	/* accepted, ignored */
		}
	}
	if (o.confdir) {	/* -C may name main.cf itself */
		struct stat st;
		char	*slash;

		if (stat(o.confdir, &st) == 0 && S_ISREG(st.st_mode)
		    && (slash = strrchr(o.confdir, '/')) != NULL)
			*slash = 0;
	}
	if (strcmp(mode, "s") == 0)
		run(o.confdir, "smtpd", "-S");
	if (strcmp(mode, "p") == 0)
		run(o.confdir, "postqueue", "-p");
	if (strcmp(mode, "q") == 0)
		run(o.confdir, "postqueue", "-f");
	if (strcmp(mode, "i") == 0)
		run(o.confdir, "newaliases", NULL);
	o.verify = strcmp(mode, "v") == 0;
	if (strcmp(mode, "m") != 0 && !o.verify)
		fatal(EX_USAGE, "unsupported mode: -b%s", log_safe(mode));
	queue_cmd_init("sendmail", o.confdir);

	for (i = optind; i < argc; i++) {
		args = strv_split(argv[i], ",");
		for (j = 0; j < args->argc; j++)
			strv_add(rcpts, addr_strip(args->argv[j]));
		strv_free(args);
	}
	if (o.verify)		/* -bv: no message, a report of the routes */
		buf_puts(msg, "Subject: address verification (sendmail -bv)\n"
		    "\n");
	else
		read_message(msg, o.ignore_dots,
		    conf_int("message_size_limit"));
	if (o.extract)
		extract(msg, rcpts);
	for (j = 0; j < rcpts->argc; j++)
		if (*rcpts->argv[j] == 0 || has_ctrl(rcpts->argv[j]))
			fatal(EX_USAGE, "bad recipient address: %s",
			    log_safe(rcpts->argv[j]));
	if (has_ctrl(o.sender) || has_ctrl(o.fullname) || has_ctrl(o.envid)
	    || has_ctrl(o.ret))
		fatal(EX_USAGE, "control characters in -f, -F, -V or -R");
	if (rcpts->argc == 0)
		fatal(EX_USAGE, o.extract ? "No recipient addresses found in "
		    "message header" : "Recipient addresses must be "
		    "specified on the command line or via the -t option");
	if (o.sender) {
		char	*tmp = xstrdup(o.sender);

		sender = xstrdup(addr_strip(tmp));
		free(tmp);
	} else if ((pw = getpwuid(getuid())) != NULL)
		sender = xstrdup(pw->pw_name);
	else {
		snprintf(uidname, sizeof(uidname), "#%ld", (long)getuid());
		sender = xstrdup(uidname);
	}
	queue_it(&o, sender, rcpts, msg);
	free(sender);
	strv_free(rcpts);
	buf_free(msg);
	return (EX_OK);
}
