/*
 * NAME
 *	log - Postfix-format logging with a fixed ladder of severities
 * DESCRIPTION
 *	See log.h. Lines go to maillog_file (O_APPEND) whole, one write()
 *	or writev() each time, so lines from concurrent processes do not
 *	interleave. The event loop's lines are gathered (log_batch()) and
 *	written once per loop iteration: in an end-to-end profile the
 *	write() of each line was 15 % of smtpd's samples, O_APPEND writers
 *	of three daemons taking turns on the file's lock (issue 13).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <sys/uio.h>

#include <unistd.h>

#include "log.h"
#include "utf8.h"

int	 log_verbose;

static char log_ident[128] = "postern";
static char log_base[128];		/* log_set_base(); "": log_ident's */
static char log_other[200];		/* the ident of one log_*_as() line */
static int log_flags = LOG_TO_STDERR;
static int log_fd = -1;
static int log_errors;
static log_hook_fn *log_hook;
static void *log_hook_ctx;
static char log_host[256];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t log_pid;			/* 0: look it up (again) */
static pthread_once_t log_pid_once = PTHREAD_ONCE_INIT;
static time_t log_stamp_time = -1;	/* the second log_stamp shows */
static char log_stamp[32];

/*
 * The loop thread's lines (log_batch()), not yet written: at most
 * LOG_BATCH_MAX bytes, and none older than LOG_BATCH_AGE seconds when the
 * next line comes.
 */
#define LOG_BATCH_MAX	8192
#define LOG_BATCH_AGE	1
static char log_pending[LOG_BATCH_MAX];
static size_t log_pending_len;
static time_t log_pending_since;
static __thread int log_batching;

/* log_flush_locked - write the gathered lines (log_lock held) */
static void
log_flush_locked(void)
{
	if (log_pending_len > 0 && log_fd >= 0
	    && write(log_fd, log_pending, log_pending_len) < 0)
		(void)0;
	log_pending_len = 0;
}

/* log_fork_prepare - no lock held by another thread, nothing gathered */
static void
log_fork_prepare(void)
{
	pthread_mutex_lock(&log_lock);
	log_flush_locked();
}

/* log_fork_parent - the parent goes on */
static void
log_fork_parent(void)
{
	pthread_mutex_unlock(&log_lock);
}

/* log_fork_child - in a forked child: its own pid on its next line */
static void
log_fork_child(void)
{
	log_pid = 0;
	pthread_mutex_unlock(&log_lock);
}

/* log_pid_watch - once per process image: flush and forget on fork */
static void
log_pid_watch(void)
{
	pthread_atfork(log_fork_prepare, log_fork_parent, log_fork_child);
	atexit(log_flush);
}

/* pid_locked - log_pid, looked up when forgotten (log_lock held) */
static pid_t
pid_locked(void)
{
	if (log_pid == 0) {
		pthread_once(&log_pid_once, log_pid_watch);
		log_pid = getpid();
	}
	return (log_pid);
}

/*
 * log_getpid - this process's pid, as its log lines show it: getpid()
 * is a system call, and a forked child looks it up again
 */
pid_t
log_getpid(void)
{
	pid_t	 pid;

	pthread_mutex_lock(&log_lock);
	pid = pid_locked();
	pthread_mutex_unlock(&log_lock);
	return (pid);
}

/* log_flush - write the lines log_batch() gathered */
void
log_flush(void)
{
	pthread_mutex_lock(&log_lock);
	log_flush_locked();
	pthread_mutex_unlock(&log_lock);
}

/* log_batch - gather this thread's maillog_file lines until log_flush() */
void
log_batch(int on)
{
	pthread_once(&log_pid_once, log_pid_watch);
	log_batching = on;
	if (!on)
		log_flush();
}

/* log_put - one line to maillog_file: gathered, or with the gathered ones */
static void
log_put(int level, const char *line, size_t len, time_t now)
{
	struct iovec iov[2];

	if (log_batching && level < LOG_LVL_FATAL) {
		if (log_pending_len + len > sizeof(log_pending)
		    || (log_pending_len > 0
			&& now - log_pending_since >= LOG_BATCH_AGE))
			log_flush_locked();
		if (len <= sizeof(log_pending)) {
			if (log_pending_len == 0)
				log_pending_since = now;
			memcpy(log_pending + log_pending_len, line, len);
			log_pending_len += len;
			return;
		}
	}
	if (log_pending_len == 0) {
		if (write(log_fd, line, len) < 0)
			(void)0;
		return;
	}
	/* another thread's line, or a fatal one: after the gathered ones */
	iov[0].iov_base = log_pending;
	iov[0].iov_len = log_pending_len;
	iov[1].iov_base = (void *)line;
	iov[1].iov_len = len;
	if (writev(log_fd, iov, 2) < 0)
		(void)0;
	log_pending_len = 0;
}

/* log_init - set the syslog name and destinations */
void
log_init(const char *name, int flags)
{
	log_flags = flags;
	log_set_name(name);
}

/* log_set_name - change the syslog name (e.g. after reading -o) */
void
log_set_name(const char *name)
{
	snprintf(log_ident, sizeof(log_ident), "%s", name);
	if (log_flags & LOG_TO_SYSLOG) {
		closelog();
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	}
}

/* log_set_base - the syslog_name that log_*_as() lines start with */
void
log_set_base(const char *name)
{
	snprintf(log_base, sizeof(log_base), "%s", name ? name : "");
}

/* log_name - the current syslog name */
const char *
log_name(void)
{
	return (log_ident);
}

/* log_set_file - append to maillog_file as well (NULL or "" closes it) */
int
log_set_file(const char *path)
{
	int	 fd = -1;

	if (path && *path
	    && (fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		0644)) < 0)
		return (-1);
	pthread_mutex_lock(&log_lock);
	log_flush_locked();
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	pthread_mutex_unlock(&log_lock);
	return (0);
}

/* log_set_hook - see every formatted line (tests) */
void
log_set_hook(log_hook_fn *fn, void *ctx)
{
	log_hook = fn;
	log_hook_ctx = ctx;
}

/* log_label - the ident of a line logged for program (NULL: our own) */
static const char *
log_label(const char *program)
{
	const char *slash;
	int	 len;

	if (program == NULL)
		return (log_ident);
	if (log_base[0])
		snprintf(log_other, sizeof(log_other), "%.127s/%.63s",
		    log_base, program);
	else {
		/* "postfix/submission/smtpd" -> "postfix/submission/cleanup" */
		slash = strrchr(log_ident, '/');
		len = slash ? (int)(slash - log_ident) : (int)strlen(log_ident);
		snprintf(log_other, sizeof(log_other), "%.*s/%.63s", len,
		    log_ident, program);
	}
	return (log_other);
}

/* log_emit - format once, send to every destination */
static void
log_emit(int level, const char *program, const char *fmt, va_list ap)
{
	static const char *prefix[] = {
		"", "", "warning: ", "error: ", "fatal: ", "panic: "
	};
	static const int prio[] = {
		LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT, LOG_CRIT
	};
	char	 text[2048], line[2400];
	const char *ident;
	int	 saved = errno;
	time_t	 now;
	struct tm tm;
	int	 n;

	n = snprintf(text, sizeof(text), "%s", prefix[level]);
	vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
	pthread_mutex_lock(&log_lock);
	ident = log_label(program);
	if (log_flags & LOG_TO_SYSLOG) {
		/*
		 * openlog() on an open connection only changes the tag (glibc
		 * keeps the pointer: both buffers are static); the lock keeps
		 * other threads' lines on our own ident.
		 */
		if (ident != log_ident)
			openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
		syslog(prio[level], "%s", text);
		if (ident != log_ident)
			openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	}
	if ((log_flags & LOG_TO_STDERR) || log_fd >= 0) {
		if (log_host[0] == 0 && gethostname(log_host,
		    sizeof(log_host) - 1) < 0)
			strcpy(log_host, "localhost");
		/* Postfix's maillog_file stamp: "Dec 03 20:29:58" (%d) */
		if ((now = time(NULL)) != log_stamp_time) {
			localtime_r(&now, &tm);
			strftime(log_stamp, sizeof(log_stamp),
			    "%b %d %H:%M:%S", &tm);
			log_stamp_time = now;
		}
		n = snprintf(line, sizeof(line), "%s %s %s[%ld]: %s\n",
		    log_stamp, log_host, ident, (long)pid_locked(), text);
		if (n >= (int)sizeof(line))
			n = sizeof(line) - 1, line[n - 1] = '\n';
		if (log_fd >= 0)
			log_put(level, line, (size_t)n, now);
		if ((log_flags & LOG_TO_STDERR)
		    && write(STDERR_FILENO, line, (size_t)n) < 0)
			(void)0;
	}
	if (log_hook)
		log_hook(level, text, log_hook_ctx);
	pthread_mutex_unlock(&log_lock);
	errno = saved;
}

#define LOG_BODY(level) LOG_BODY_AS((level), NULL)
#define LOG_BODY_AS(level, program) do { \
	va_list ap; \
	va_start(ap, fmt); \
	log_emit((level), (program), fmt, ap); \
	va_end(ap); \
} while (0)

/* log_debug - verbose detail, only with -v */
void
log_debug(const char *fmt, ...)
{
	if (log_verbose)
		LOG_BODY(LOG_LVL_DEBUG);
}

/* log_info - ordinary events */
void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_INFO);
}

/* log_warn - something is wrong, we continue */
void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_WARN);
}

/* log_info_as - an ordinary event, labelled as another program's */
void
log_info_as(const char *program, const char *fmt, ...)
{
	LOG_BODY_AS(LOG_LVL_INFO, program);
}

/* log_warn_as - a warning, labelled as another program's */
void
log_warn_as(const char *program, const char *fmt, ...)
{
	LOG_BODY_AS(LOG_LVL_WARN, program);
}

/* log_error - counted; too many become fatal */
void
log_error(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR);
	if (++log_errors >= LOG_ERROR_LIMIT)
		log_fatal("too many errors - program terminated");
}

/* log_fatal - configuration or resource problem: clean exit */
void
log_fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_FATAL);
	exit(1);
}

/* log_panic - our own bug: abort for a core dump */
void
log_panic(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_PANIC);
	abort();
}

/* log_safen - printable, truncated copy of untrusted bytes */
const char *
log_safen(const char *s, size_t len)
{
	static __thread char ring[4][101];
	static __thread unsigned slot;
	char	*out = ring[slot++ % 4];

	if (s == NULL)
		return ("(null)");
	/* well-formed UTF-8 (SMTPUTF8 addresses) stays readable */
	return (utf8_printable(s, strnlen(s, len < 104 ? len : 104), 100,
	    out));
}

/* log_printable - printable copy, whole (up to LOG_PRINTABLE_MAX) */
const char *
log_printable(const char *s)
{
	static __thread char ring[2][LOG_PRINTABLE_MAX + 1];
	static __thread unsigned slot;
	char	*out = ring[slot++ % 2];

	if (s == NULL)
		return ("(null)");
	return (utf8_printable(s, strnlen(s, LOG_PRINTABLE_MAX + 4),
	    LOG_PRINTABLE_MAX, out));
}

/* log_safe - printable, truncated copy of an untrusted string */
const char *
log_safe(const char *s)
{
	return (log_safen(s, (size_t)-1));
}
