/*
 * NAME
 *	qmgr_conf - the queue manager's parameter snapshot
 * SYNOPSIS
 *	#include "qmgr.h"
 *
 *	void	qmgr_conf_load(void);
 *	void	qmgr_conf_fd_limit(void);
 *	long	qmgr_conf_long(const char *name, long def, int is_time);
 *	int	qmgr_move(const char *from, const char *to, const char *id);
 * DESCRIPTION
 *	conf(3) is single-threaded, so qmgr copies what it needs into
 *	qmgr_conf on the loop thread before the worker pools start; the
 *	workers only read the copy.
 *
 *	qmgr_conf_fd_limit() sets qmgr_conf.active_max, the number of
 *	messages qmgr may hold in active/ at once (each keeps its queue
 *	file open): qmgr_message_active_limit, lowered when the soft
 *	RLIMIT_NOFILE (which qmgr raised to the hard limit in pre_init)
 *	could not hold that many files besides a reserve for everything
 *	else: delivery connections (up to each transport's maxproc),
 *	wakeup connections, pickups, the pools' maps and pipes, logs.
 *	The reserve is a quarter of the limit, but at least
 *	QMGR_FD_RESERVE_MIN (512) descriptors or, under a limit below
 *	2 * QMGR_FD_RESERVE_MIN, half of it: 20000 descriptors allow
 *	15000 messages, 4096 allow 3072, 1024 allow 512, 256 allow 128.
 *	Generous, since a transport alone may have 100 connections (its
 *	maxproc) and smtpd processes may keep wakeup connections, while
 *	a few hundred active messages already keep every agent busy; and
 *	a queue file qmgr cannot open is worse than one it opens later.
 *	Call it once at start, after the rlimit is raised.
 *
 *	qmgr_conf_long() reads a numeric or time parameter, or returns
 *	def when no default or setting exists for it (per-transport
 *	names such as smtp_destination_concurrency_limit).
 *
 *	qmgr_move() renames a queue file between two queue directories
 *	without syncing them. That is enough for qmgr's own moves
 *	(incoming or deferred to active, active to deferred): the state that
 *	matters (done flags, logs) lives in the file, which a rename never
 *	loses, and qmgr treats a file found in incoming/, active/ or
 *	deferred/ alike after a crash. A rename undone by a power loss
 *	only makes a message wait in the wrong directory (active/: retried
 *	at once). This saves two directory fsyncs per move on the io
 *	thread.
 * DIAGNOSTICS
 *	When qmgr_conf_fd_limit() lowers the limit it logs one line:
 *	"qmgr_message_active_limit N exceeds what RLIMIT_NOFILE M allows:
 *	using K"; an info line, not a warning: with the default limit
 *	(20000) it is what any host with a hard limit below about 26700
 *	descriptors logs at each start.
 *
 *	A malformed value is fatal (conf(3)), naming the parameter, and so
 *	is a number or time below its minimum (qmgr_table; Postfix's
 *	wording, conf_table.h).
 */
#include <sys/resource.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_table.h"
#include "log.h"
#include "mastercf.h"
#include "qmgr.h"
#include "xalloc.h"

#define QMGR_FD_RESERVE_MIN	512	/* descriptors besides queue files */

struct qmgr_conf qmgr_conf;

/* qmgr_conf_long - numeric parameter with a fallback */
long
qmgr_conf_long(const char *name, long def, int is_time)
{
	const char *raw = conf_raw(name);

	if (raw == NULL || *raw == 0)
		return (def);
	return (is_time ? conf_time(name) : conf_int(name));
}

/* qmgr_move - rename between queue directories (no directory sync) */
int
qmgr_move(const char *from, const char *to, const char *id)
{
	char	*a = queue_path(qmgr_conf.queue_dir, from, id);
	char	*b = queue_path(qmgr_conf.queue_dir, to, id);
	int	 rc = rename(a, b);

	free(a);
	free(b);
	return (rc);
}

/*
 * The numbers qmgr reads, with Postfix's minimums (qmgr used to raise a
 * value below them to the minimum without a word); the concurrency and
 * recipient limits, the command time limit and the process limit have
 * always been at least 1 here. Defaults are lib/params.c's.
 */
static const struct conf_table qmgr_table[] = {
	CONF_LONG("qmgr_message_active_limit", &qmgr_conf.active_limit, 1,
	    CONF_NOMAX),
	CONF_TIME("minimal_backoff_time", &qmgr_conf.min_backoff, 1,
	    CONF_NOMAX),
	CONF_TIME("maximal_backoff_time", &qmgr_conf.max_backoff, 1,
	    CONF_NOMAX),
	CONF_TIME("queue_run_delay", &qmgr_conf.queue_run_delay, 1,
	    CONF_NOMAX),
	CONF_TIME("maximal_queue_lifetime", &qmgr_conf.max_lifetime, 0,
	    CONF_NOMAX),
	CONF_TIME("bounce_queue_lifetime", &qmgr_conf.bounce_lifetime, 0,
	    CONF_NOMAX),
	CONF_TIME("delay_warning_time", &qmgr_conf.delay_warning, 0,
	    CONF_NOMAX),
	CONF_LONG("bounce_size_limit", &qmgr_conf.bounce_size_limit, 0,
	    CONF_NOMAX),
	CONF_LONG("message_size_limit", &qmgr_conf.message_size_limit, 0,
	    CONF_NOMAX),
	CONF_LONG("default_destination_concurrency_limit",
	    &qmgr_conf.default_conc, 1, CONF_NOMAX),
	CONF_LONG("initial_destination_concurrency", &qmgr_conf.initial_conc,
	    1, CONF_NOMAX),
	CONF_LONG("default_destination_recipient_limit",
	    &qmgr_conf.default_rcpt_limit, 1, CONF_NOMAX),
	CONF_TIME("command_time_limit", &qmgr_conf.default_time_limit, 1,
	    CONF_NOMAX),
	CONF_LONG("default_process_limit", &qmgr_conf.transport_limit, 1,
	    CONF_NOMAX),
	CONF_BOOL("soft_bounce", &qmgr_conf.soft_bounce),
	CONF_LONG("queue_file_pool_limit", &qmgr_conf.pool_limit, 0, 1000000),
	CONF_END,
};

/* qmgr_conf_load - take the snapshot */
void
qmgr_conf_load(void)
{
	struct qmgr_conf *c = &qmgr_conf;
	char	*path, err[256];

	c->queue_dir = xstrdup(conf_str("queue_directory"));
	c->myhostname = xstrdup(conf_str("myhostname"));
	c->mail_name = xstrdup(*conf_str("mail_name") ?
	    conf_str("mail_name") : "Postern");
	conf_table_load(qmgr_table);
	/* A relation between two values, not a range: kept as before. */
	if (c->max_backoff < c->min_backoff)
		c->max_backoff = c->min_backoff;
	queue_pool_set_limit((unsigned)c->pool_limit);
	qmgr_resolve_conf_load(&c->rc);
	path = xasprintf("%s/master.cf", conf_config_dir() ?
	    conf_config_dir() : conf_str("config_directory"));
	if ((c->mastercf = mastercf_load(path, err, sizeof(err))) == NULL)
		log_warn("%s; transports get default_process_limit", err);
	free(path);
}

/* qmgr_conf_fd_limit - the active limit that the descriptors allow */
void
qmgr_conf_fd_limit(void)
{
	struct qmgr_conf *c = &qmgr_conf;
	struct rlimit rl;
	long	 fds, reserve, max;

	c->active_max = c->active_limit;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY
	    || rl.rlim_cur > (rlim_t)(LONG_MAX / 2))
		return;
	fds = (long)rl.rlim_cur;
	reserve = fds / 4;
	if (reserve < QMGR_FD_RESERVE_MIN)
		reserve = fds / 2 < QMGR_FD_RESERVE_MIN ? fds / 2
		    : QMGR_FD_RESERVE_MIN;
	max = fds - reserve > 1 ? fds - reserve : 1;
	if (max >= c->active_limit)
		return;
	c->active_max = max;
	log_info("qmgr_message_active_limit %ld exceeds what RLIMIT_NOFILE "
	    "%ld allows: using %ld", c->active_limit, fds, max);
}
