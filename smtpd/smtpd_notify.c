/*
 * NAME
 *	smtpd_notify - postmaster notices of problem sessions
 *	(notify_classes policy, protocol, resource, software, bounce)
 * SYNOPSIS
 *	#include "smtpd.h"
 *
 *	void	smtpd_notify_query(struct smtpd_session *s,
 *		    const char *line, size_t len);
 *	void	smtpd_notify_reply(struct smtpd_session *s,
 *		    const char *data, size_t len);
 *	void	smtpd_notify_end(struct smtpd_session *s);
 * DESCRIPTION
 *	As Postfix's smtpd_chat.c: while notify_classes names one of the
 *	session classes, each session keeps a transcript ("In:  " for a
 *	command, "Out: " for each reply line; an AUTH initial response is
 *	left out, and the answers to AUTH challenges never get here). Each
 *	4xx/5xx reply marks the session with a class, decided from the
 *	reply itself: a restriction's reject ("... rejected: ...",
 *	"... denied") and any reply not listed below is policy; x.5.y
 *	(syntax, sequence, unknown command) is protocol, except 4.5.3 (too
 *	many recipients: policy); x.3.5 (server configuration error) is
 *	software; x.3.0 to x.3.2 (lookup failure, queue file write error,
 *	no space) is resource; 5.3.4 (message too big) is bounce; a 421
 *	(timeout, too many errors, shutdown) marks nothing.
 *
 *	When the session ends with a class that notify_classes names, the
 *	transcript goes to error_notice_recipient (bounce_notice_recipient
 *	for bounce) as Postfix's "<mail_name> SMTP server: errors from
 *	name[addr]" message, from double-bounce@$myorigin (so a failed
 *	notice is never bounced), written to incoming/ by a thread of its
 *	own, off the event loop, and qmgr is woken (a "W" on the
 *	process's kept connection to qmgr, shared with the group commit
 *	under trigger_keep()'s lock, lib/trigger.h). An unqualified
 *	recipient gets @$myorigin and is logged as orig_to=. Sessions of
 *	smtpd -S keep no transcript (Postfix's stand-alone mode sends no
 *	notices either). A transcript keeps its first 100 lines, each cut
 *	at 512 octets, so that thousands of sessions in one process cost
 *	little (Postfix sends a notice every smtpd_history_flush_threshold
 *	= 100 lines, one process per session).
 * DIAGNOSTICS
 *	A notice that cannot be written is logged as a warning and lost.
 * SEE ALSO
 *	Postfix's smtpd_chat.c, postconf(5) notify_classes.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "queue.h"
#include "smtpd.h"
#include "trigger.h"
#include "xalloc.h"

#define N_BOUNCE	(1 << 0)
#define N_POLICY	(1 << 1)
#define N_PROTOCOL	(1 << 2)
#define N_RESOURCE	(1 << 3)
#define N_SOFTWARE	(1 << 4)

#define MAX_LINES	100	/* Postfix's smtpd_history_flush_threshold */
#define MAX_LINE	512	/* octets of one line kept */
#define WRAP		78	/* Postfix's line_wrap() length and indent */
#define INDENT		4

struct smtpd_notify {
	struct buf *chat;
	size_t	 lines;
	int	 mask;
};

struct notice {
	char	*queue_dir, *sender, *rcpt, *orig;
	struct buf *text;
};

/* classes - notify_classes as bits (read once: the event loop's) */
static int
classes(void)
{
	static int mask = -1;
	static const struct {
		const char *name;
		int	 bit;
	} names[] = {
		{"bounce", N_BOUNCE}, {"policy", N_POLICY},
		{"protocol", N_PROTOCOL}, {"resource", N_RESOURCE},
		{"software", N_SOFTWARE},
	};
	char	*list, *cp, *w;
	size_t	 i;

	if (mask >= 0)
		return (mask);
	mask = 0;
	cp = list = xstrdup(conf_str("notify_classes"));
	while ((w = strsep(&cp, ", \t\r\n")) != NULL)
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strcasecmp(w, names[i].name) == 0)
				mask |= names[i].bit;
	free(list);
	return (mask);
}

/* append - one transcript line, non-printables as '?' */
static void
append(struct smtpd_session *s, const char *dir, const char *text,
    size_t len)
{
	struct smtpd_notify *n;
	size_t	 i;

	if (s->stdin_mode || classes() == 0)
		return;
	if ((n = s->notify) == NULL) {
		n = s->notify = xcalloc(1, sizeof(*n));
		n->chat = buf_new(1024);
	}
	if (n->lines >= MAX_LINES)
		return;
	n->lines++;
	buf_puts(n->chat, dir);
	if (len > MAX_LINE)
		len = MAX_LINE;
	for (i = 0; i < len; i++)
		buf_putc(n->chat, (unsigned char)text[i] < 32
		    || (unsigned char)text[i] > 126 ? '?' : text[i]);
	buf_putc(n->chat, '\n');
}

/* classify - the class a 4xx/5xx reply line marks the session with */
static int
classify(const char *line, size_t len)
{
	char	 es[8];
	size_t	 i;

	if (len < 3 || (line[0] != '4' && line[0] != '5'))
		return (0);
	if (strncmp(line, "421", 3) == 0)
		return (0);
	if (memmem(line, len, "rejected: ", 10) != NULL
	    || memmem(line, len, " denied", 7) != NULL)
		return (N_POLICY);
	for (i = 0; i + 4 < len && i < sizeof(es) - 1
	    && line[4 + i] != ' '; i++)
		es[i] = line[4 + i];
	es[i] = 0;
	if (es[0] != line[0] || es[1] != '.' || es[3] != '.')
		return (N_POLICY);
	if (strcmp(es, "4.5.3") == 0)
		return (N_POLICY);
	if (es[2] == '5')
		return (N_PROTOCOL);
	if (strcmp(es + 1, ".3.5") == 0)
		return (N_SOFTWARE);
	if (strcmp(es, "5.3.4") == 0)
		return (N_BOUNCE);
	if (es[2] == '3' && es[4] >= '0' && es[4] <= '2' && es[5] == 0)
		return (N_RESOURCE);
	return (N_POLICY);
}

/* smtpd_notify_query - a command line */
void
smtpd_notify_query(struct smtpd_session *s, const char *line, size_t len)
{
	append(s, "In:  ", line, len);
}

/* smtpd_notify_reply - reply lines (CRLF each), their class */
void
smtpd_notify_reply(struct smtpd_session *s, const char *data, size_t len)
{
	const char *p = data, *end = data + len, *nl;
	size_t	 n;

	if (s->stdin_mode || classes() == 0)
		return;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		append(s, "Out: ", p, n);
		if (p == data && s->notify)
			s->notify->mask |= classify(p, n);
		p = nl ? nl + 1 : end;
	}
}

/* wrap - Postfix's line_wrap() and print_line(): 78 columns, the rest
 * indented by 4, every line after one space */
static void
wrap(struct buf *out, const char *s, size_t len)
{
	size_t	 width = WRAP, cut, i;
	int	 indent = 0;

	for (;;) {
		while (indent && len > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			len--;
		}
		if (len <= width) {
			buf_printf(out, " %*s%.*s\n", indent, "", (int)len, s);
			return;
		}
		for (cut = 0, i = width; i > 0; i--)
			if (s[i] == ' ' || s[i] == '\t') {
				cut = i;
				break;
			}
		if (cut == 0)
			cut = width;
		buf_printf(out, " %*s%.*s\n", indent, "", (int)cut, s);
		s += cut;
		len -= cut;
		indent = INDENT;
		width = WRAP - INDENT;
	}
}

/* notice_job - write the notice into incoming/ and wake qmgr */
static void *
notice_job(void *arg)
{
	struct notice *n = arg;
	struct queue_writer *w;
	char	 err[256];

	if ((w = queue_writer_new(n->queue_dir, "incoming", err,
	    sizeof(err))) == NULL) {
		log_warn("postmaster notify: %s", err);
		goto out;
	}
	queue_writer_sender(w, n->sender);
	queue_writer_rcpt(w, n->rcpt, n->orig, QUEUE_NOTIFY_NEVER);
	if (queue_writer_body(w, BUF_STR(n->text), BUF_LEN(n->text)) < 0
	    || queue_writer_finish(w, err, sizeof(err)) < 0) {
		log_warn("postmaster notify: %s", err);
		queue_writer_abort(w);
		goto out;
	}
	if (queue_writer_commit(w, err, sizeof(err)) < 0
	    || queue_sync_dir(n->queue_dir, "incoming") < 0) {
		log_warn("postmaster notify: cannot commit: %s", err);
		goto out;
	}
	if (trigger_qmgr_keep(n->queue_dir, TRIGGER_REQ_WAKEUP, err,
	    sizeof(err)) < 0)
		log_debug("cannot wake qmgr: %s", err);
out:
	free(n->queue_dir);
	free(n->sender);
	free(n->rcpt);
	free(n->orig);
	buf_free(n->text);
	free(n);
	return (NULL);
}

/* notice_text - Postfix's smtpd_chat_notify() message */
static struct buf *
notice_text(struct smtpd_session *s, const struct smtpd_notify *sn,
    const char *to)
{
	struct buf *b = buf_new(BUF_LEN(sn->chat) + 512);
	const char *p = BUF_STR(sn->chat), *nl;
	char	 date[64];
	time_t	 now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	buf_printf(b, "Date: %s\n", date);
	/* Postfix's cleanup qualifies this MAILER-DAEMON with
	 * $myhostname (a DSN's with $myorigin) */
	buf_printf(b, "From: Mail Delivery System <MAILER-DAEMON@%s>\n",
	    smtpd_params.myhostname);
	buf_printf(b, "To: Postmaster <%s>\n", to);
	buf_printf(b, "Subject: %s SMTP server: errors from %s\n",
	    conf_str("mail_name"), s->namaddr);
	buf_printf(b, "Message-Id: <%lld.%p@%s>\n", (long long)now,
	    (void *)s, smtpd_params.myhostname);
	buf_puts(b, "\nTranscript of session follows.\n\n");
	for (; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		wrap(b, p, (size_t)(nl - p));
	}
	buf_puts(b, "\n\nFor other details, see the local mail logfile\n");
	return (b);
}

/* smtpd_notify_end - the session is over: send the notice if due */
void
smtpd_notify_end(struct smtpd_session *s)
{
	struct smtpd_notify *sn = s->notify;
	struct notice *n;
	const char *param, *origin = conf_str("myorigin"), *to;
	pthread_attr_t attr;
	pthread_t tid;

	if (sn == NULL)
		return;
	s->notify = NULL;
	if ((sn->mask & classes()) == 0)
		goto out;
	param = (sn->mask & classes()) == N_BOUNCE ?
	    "bounce_notice_recipient" : "error_notice_recipient";
	to = conf_str(param);
	n = xcalloc(1, sizeof(*n));
	n->queue_dir = xstrdup(smtpd_params.queue_dir);
	n->sender = xasprintf("double-bounce@%s", origin);
	if (strchr(to, '@') == NULL) {
		n->rcpt = xasprintf("%s@%s", to, origin);
		n->orig = xstrdup(to);
	} else
		n->rcpt = xstrdup(to);
	n->text = notice_text(s, sn, n->rcpt);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, notice_job, n) != 0) {
		log_warn("postmaster notify: cannot start a thread; "
		    "writing the notice in line");
		notice_job(n);
	}
	pthread_attr_destroy(&attr);
out:
	buf_free(sn->chat);
	free(sn);
}
