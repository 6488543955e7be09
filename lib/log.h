/*
 * NAME
 *	log - Postfix-format logging with a fixed ladder of severities
 * SYNOPSIS
 *	#include "log.h"
 *
 *	void	log_init(const char *name, int flags);
 *	void	log_set_name(const char *name);
 *	void	log_set_base(const char *syslog_name);
 *	int	log_set_file(const char *path);
 *	void	log_set_hook(log_hook_fn *fn, void *ctx);
 *	void	log_batch(int on);
 *	void	log_flush(void);
 *	pid_t	log_getpid(void);
 *	extern int log_verbose;
 *
 *	void	log_debug(const char *fmt, ...);	only with -v
 *	void	log_info(const char *fmt, ...);
 *	void	log_warn(const char *fmt, ...);		"warning: " prefix
 *	void	log_error(const char *fmt, ...);	"error: ", counted
 *	void	log_fatal(const char *fmt, ...);	"fatal: ", exit(1)
 *	void	log_panic(const char *fmt, ...);	"panic: ", abort()
 *
 *	void	log_info_as(const char *program, const char *fmt, ...);
 *	void	log_warn_as(const char *program, const char *fmt, ...);
 *
 *	const char *log_safe(const char *untrusted);
 *	const char *log_safen(const char *untrusted, size_t len);
 *	const char *log_printable(const char *untrusted);
 * DESCRIPTION
 *	Every line has Postfix's shape, "postfix/smtpd[123]: text", so the
 *	log tools people already run on Postfix logs keep working. name is
 *	the syslog_name and program (e.g. "postfix/submission/smtpd").
 *	Destinations are chosen with flags: LOG_TO_SYSLOG (facility mail),
 *	LOG_TO_STDERR (foreground, -d), and log_set_file() for
 *	maillog_file, which gets "Mon DD HH:MM:SS host name[pid]: text"
 *	lines appended atomically (one write() each, O_APPEND).
 *
 *	log_info_as() and log_warn_as() label one line as another
 *	program's: "postfix/cleanup[123]: text" for the queue-file writer
 *	that runs inside smtpd, as Postfix's separate cleanup daemon would
 *	log it (the pid is the caller's). The ident is the log_set_base()
 *	name (main.cf's syslog_name, before a master.cf -o override) and
 *	the program; without a base, our own ident with its last
 *	component replaced.
 *
 *	maillog_file lines carry Postfix's maillog_file stamp,
 *	"Dec 03 20:29:58" (zero-padded day, as postlogd writes it).
 *
 *	log_batch(1) makes the calling thread's maillog_file lines wait in
 *	a buffer (at most 8 KB, one second) until log_flush(), which the
 *	event loop calls once per iteration (lib/server.c): one write()
 *	for all the lines of an iteration instead of one per line. A line
 *	of another thread, a fatal or panic line, a fork, exit() and
 *	log_batch(0) write the buffer first, so the file keeps the order
 *	in which lines were logged. syslog and stderr are not batched.
 *
 *	log_getpid() is the pid the lines show: looked up once per process
 *	image and again in a forked child (getpid() is a system call; queue
 *	ids take it once a message).
 *
 *	log_error() counts; after LOG_ERROR_LIMIT errors it becomes fatal.
 *	log_fatal() is for configuration or resource problems (clean exit,
 *	master backs off); log_panic() is for states our code cannot reach.
 *
 *	Text from clients reaches the log only through log_safe(), which
 *	replaces non-printable bytes by '?' and truncates to 100 bytes
 *	(Postfix's %.100s after printable()); well-formed UTF-8 (an
 *	SMTPUTF8 address) is kept, never a C0/C1 control or a malformed
 *	byte (lib/utf8.h utf8_printable()). It returns a thread-local
 *	ring buffer, valid for the next few calls.
 *	log_printable() is the same without the 100-byte cut (up to
 *	LOG_PRINTABLE_MAX bytes), for values Postfix logs whole: an
 *	envelope address in qmgr's from=<...>, a delivery's to=<...>.
 *
 *	A hook, if set, sees every line after it is formatted (tests
 *	assert on log lines that way).
 * DIAGNOSTICS
 *	log_set_file() returns -1 when the file cannot be opened.
 */
#ifndef LOG_H
#define LOG_H

#include <sys/types.h>

#include <stddef.h>

#define LOG_TO_SYSLOG	1
#define LOG_TO_STDERR	2

#define LOG_LVL_DEBUG	0
#define LOG_LVL_INFO	1
#define LOG_LVL_WARN	2
#define LOG_LVL_ERROR	3
#define LOG_LVL_FATAL	4
#define LOG_LVL_PANIC	5

#define LOG_ERROR_LIMIT	13

typedef void log_hook_fn(int level, const char *text, void *ctx);

extern int log_verbose;

void	 log_init(const char *, int);
void	 log_set_name(const char *);
void	 log_set_base(const char *);
const char *log_name(void);
int	 log_set_file(const char *);
void	 log_set_hook(log_hook_fn *, void *);
void	 log_batch(int);
void	 log_flush(void);
pid_t	 log_getpid(void);

void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info_as(const char *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_warn_as(const char *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 log_panic(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

const char *log_safe(const char *);
const char *log_safen(const char *, size_t);
const char *log_printable(const char *);
#define LOG_PRINTABLE_MAX 2048

#endif
