/*
 * NAME
 *	log_test - the syslog ident of each line, maillog_file's format,
 *	and whole lines from concurrent writers
 * DESCRIPTION
 *	openlog() and syslog() are defined here, so log.c's calls land in
 *	this program (the executable's symbols come before libc's) and the
 *	ident each line was sent with can be checked without a /dev/log:
 *	log_info_as("cleanup") goes out as "postfix/cleanup" (the base) or
 *	"postfix/submission/cleanup" (no base), and the next ordinary line
 *	is back on the process's own ident.
 *
 *	maillog_file: "Mon DD HH:MM:SS host ident[pid]: text", the day
 *	zero-padded as Postfix's postlogd writes it, the label of
 *	log_info_as() and the "warning: " prefix in place.
 *
 *	Four processes append 2,000 lines of about 300 bytes each to one
 *	maillog_file at once: every line of the file is whole and well
 *	formed, and all 8,000 are there (one O_APPEND write() per line).
 */
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

static char cur_ident[256];
static char got_ident[256];
static char got_text[2048];
static int got_prio = -1;
static int syslog_calls;

/* openlog - log.c's calls come here: remember the ident */
void
openlog(const char *ident, int option, int facility)
{
	snprintf(cur_ident, sizeof(cur_ident), "%s", ident ? ident : "");
}

/* closelog - nothing to close */
void
closelog(void)
{
}

/* syslog - record the line and the ident it was sent with */
void
syslog(int prio, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(got_text, sizeof(got_text), fmt, ap);
	va_end(ap);
	snprintf(got_ident, sizeof(got_ident), "%s", cur_ident);
	got_prio = prio;
	syslog_calls++;
}

/* check_syslog_idents - log_info_as() switches the ident for one line */
static void
check_syslog_idents(void)
{
	log_init("postfix/submission/smtpd", LOG_TO_SYSLOG);
	log_set_base("postfix");
	log_info("connect from x[192.0.2.1]");
	tap_is_str(got_ident, "postfix/submission/smtpd", "own ident");
	tap_is_int(got_prio, LOG_INFO, "  at LOG_INFO");
	log_info_as("cleanup", "%s: message-id=<%s>", "ID", "a@b");
	tap_is_str(got_ident, "postfix/cleanup",
	    "log_info_as(cleanup): main.cf's syslog_name/cleanup");
	tap_is_str(got_text, "ID: message-id=<a@b>", "  the text");
	tap_is_str(cur_ident, "postfix/submission/smtpd",
	    "  the ident is restored after the line");
	log_warn_as("cleanup", "header_checks lookup problem");
	tap_is_str(got_ident, "postfix/cleanup", "log_warn_as(cleanup)");
	tap_is_str(got_text, "warning: header_checks lookup problem",
	    "  with the warning: prefix");
	tap_is_int(got_prio, LOG_WARNING, "  at LOG_WARNING");
	log_info("disconnect from x[192.0.2.1]");
	tap_is_str(got_ident, "postfix/submission/smtpd",
	    "the next ordinary line: own ident");
	log_set_base("");
	log_info_as("cleanup", "x");
	tap_is_str(got_ident, "postfix/submission/cleanup",
	    "no base: own ident with the program replaced");
	log_init("smtpd", LOG_TO_SYSLOG);
	log_info_as("cleanup", "x");
	tap_is_str(got_ident, "smtpd/cleanup", "no base, no slash");
}

/* check_line - one maillog_file line against the expected ident/text */
static int
check_line(const char *line, const char *ident, const char *text)
{
	char	 re_src[512];
	regex_t	 re;
	int	 rc;

	snprintf(re_src, sizeof(re_src), "^[A-Z][a-z]{2} [0-3][0-9] "
	    "[0-2][0-9]:[0-5][0-9]:[0-5][0-9] [^ ]+ %s\\[%ld\\]: %s\n$",
	    ident, (long)getpid(), text);
	if (regcomp(&re, re_src, REG_EXTENDED | REG_NOSUB) != 0)
		return (0);
	rc = regexec(&re, line, 0, NULL, 0) == 0;
	regfree(&re);
	return (rc);
}

/* check_file_format - postlogd's format, the label, the prefix */
static void
check_file_format(const char *path)
{
	char	 line[1024] = "", line2[1024] = "";
	int	 ok1, ok2;
	FILE	*fp;

	log_init("postfix/smtpd", 0);
	log_set_base("postfix");
	tap_is_int(log_set_file(path), 0, "maillog_file opens");
	syslog_calls = 0;
	log_info_as("cleanup", "ID: message-id=<m@x>");
	log_warn("bad thing");
	log_set_file(NULL);
	tap_is_int(syslog_calls, 0, "maillog_file alone: nothing to syslog");
	fp = fopen(path, "r");
	if (fp) {
		(void)!fgets(line, sizeof(line), fp);
		(void)!fgets(line2, sizeof(line2), fp);
		fclose(fp);
	}
	ok1 = check_line(line, "postfix/cleanup", "ID: message-id=<m@x>");
	ok2 = check_line(line2, "postfix/smtpd", "warning: bad thing");
	line[strcspn(line, "\n")] = 0;
	line2[strcspn(line2, "\n")] = 0;
	tap_ok(ok1, "file: 'Mon DD HH:MM:SS host postfix/cleanup[pid]: "
	    "text' (%s)", line);
	tap_ok(ok2, "file: then 'postfix/smtpd[pid]: warning: ...' (%s)",
	    line2);
	unlink(path);
}

#define WRITERS		4
#define LINES		2000

/* check_concurrent - whole lines from several processes at once */
static void
check_concurrent(const char *path)
{
	char	 pad[281], line[1024];
	int	 i, n, status, ok_lines = 0, bad = 0;
	pid_t	 kids[WRITERS];
	regex_t	 re;
	FILE	*fp;

	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = 0;
	for (i = 0; i < WRITERS; i++) {
		if ((kids[i] = fork()) == 0) {
			log_init("postfix/smtpd", 0);
			if (log_set_file(path) < 0)
				_exit(1);
			/* writers 2 and 3 gather lines as the event loop does */
			if (i >= 2)
				log_batch(1);
			for (n = 0; n < LINES; n++) {
				log_info("writer %d line %d %s end", i, n, pad);
				if (i == 2 && n % 7 == 6)
					log_flush();
			}
			if (i == 3)
				exit(0);	/* atexit writes what is left */
			log_batch(0);
			_exit(0);
		}
	}
	for (i = 0; i < WRITERS; i++)
		if (kids[i] < 0 || waitpid(kids[i], &status, 0) < 0
		    || status != 0)
			bad++;
	tap_is_int(bad, 0, "the writers finished");
	if (regcomp(&re, "^[A-Z][a-z]{2} [0-3][0-9] [0-2][0-9]:[0-5][0-9]:"
	    "[0-5][0-9] [^ ]+ postfix/smtpd\\[[0-9]+\\]: writer [0-3] line "
	    "[0-9]+ x{280} end\n$", REG_EXTENDED | REG_NOSUB) != 0
	    || (fp = fopen(path, "r")) == NULL) {
		tap_ok(0, "read the file back");
		return;
	}
	while (fgets(line, sizeof(line), fp))
		if (regexec(&re, line, 0, NULL, 0) == 0)
			ok_lines++;
		else
			bad++;
	fclose(fp);
	regfree(&re);
	unlink(path);
	tap_is_int(ok_lines, WRITERS * LINES,
	    "every line there, whole (one O_APPEND write per line or per batch)");
	tap_is_int(bad, 0, "no torn or interleaved line");
}

/* batch_thread - a worker thread's line while the loop gathers its own */
static void *
batch_thread(void *arg)
{
	(void)arg;
	log_info("line c");
	return (NULL);
}

/* file_text - the file's contents, the stamps cut off */
static void
file_text(const char *path, char *out, size_t len)
{
	char	 line[1024], *p;
	FILE	*fp;

	*out = 0;
	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp))
		if ((p = strstr(line, "]: ")) != NULL)
			snprintf(out + strlen(out), len - strlen(out), "%s", p + 3);
	fclose(fp);
}

/* check_batch - gathered until log_flush(), other threads' lines in order */
static void
check_batch(const char *path)
{
	char	 text[1024];
	pthread_t t;

	log_init("postfix/smtpd", 0);
	unlink(path);
	tap_is_int(log_set_file(path), 0, "maillog_file opens");
	log_batch(1);
	log_info("line a");
	log_info("line b");
	file_text(path, text, sizeof(text));
	tap_is_str(text, "", "batch: the loop's lines wait");
	if (pthread_create(&t, NULL, batch_thread, NULL) == 0)
		pthread_join(t, NULL);
	file_text(path, text, sizeof(text));
	tap_is_str(text, "line a\nline b\nline c\n",
	    "batch: a worker's line is written at once, after the waiting ones");
	log_info("line d");
	log_flush();
	file_text(path, text, sizeof(text));
	tap_is_str(text, "line a\nline b\nline c\nline d\n",
	    "batch: log_flush() writes the rest");
	log_info("line e");
	log_batch(0);
	log_info("line f");
	file_text(path, text, sizeof(text));
	tap_is_str(text, "line a\nline b\nline c\nline d\nline e\nline f\n",
	    "batch: log_batch(0) writes what waits; then a line a write");
	log_set_file(NULL);
	unlink(path);
}

/* check_printable - log_safe cuts at 100, log_printable keeps all */
static void
check_printable(void)
{
	char	 addr[301];

	memset(addr, 'a', 300);
	addr[300] = 0;
	addr[5] = '\n';
	tap_is_int((long)strlen(log_safe(addr)), 100,
	    "log_safe: client text cut at 100 bytes");
	tap_is_int((long)strlen(log_printable(addr)), 300,
	    "log_printable: a 300-byte address whole");
	tap_ok(log_printable(addr)[5] == '?', "  its LF shown as '?'");
	tap_is_str(log_safe("m\xc3\xbcller@\xe4\xbe\x8b.test"),
	    "m\xc3\xbcller@\xe4\xbe\x8b.test",
	    "log_safe: a UTF-8 (SMTPUTF8) address kept readable");
	tap_is_str(log_printable("j\xf6rg\x1b[2J\xc2\x9b\r"), "j?rg?[2J???",
	    "log_printable: latin-1 byte, ESC, C1 CSI, CR as '?'");
	memset(addr, 'a', 99);
	memcpy(addr + 99, "\xc3\xbc", 3);
	tap_is_int((long)strlen(log_safe(addr)), 99,
	    "log_safe: a UTF-8 sequence across byte 100 is cut whole");
}

int
main(void)
{
	char	 path[] = "/tmp/log_test.XXXXXX";
	int	 fd;

	check_syslog_idents();
	check_printable();
	if ((fd = mkstemp(path)) < 0) {
		tap_ok(0, "mkstemp");
		return (tap_done());
	}
	close(fd);
	check_file_format(path);
	check_concurrent(path);
	check_batch(path);
	return (tap_done());
}
