/*
 * NAME
 *	qmgr_conf - the queue manager's parameter snapshot
 * SYNOPSIS
 *	#include "qmgr.h"
 *
 *	void	qmgr_conf_load(void);
 *	long	qmgr_conf_long(const char *name, long def, int is_time);
 *	int	qmgr_move(const char *from, const char *to, const char *id);
 * DESCRIPTION
 *	conf(3) is single-threaded, so qmgr copies what it needs into
 *	qmgr_conf on the loop thread before the worker pools start; the
 *	workers only read the copy.
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
 *	A malformed value is fatal (conf(3)), naming the parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "mastercf.h"
#include "qmgr.h"
#include "xalloc.h"

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
	c->active_limit = qmgr_conf_long("qmgr_message_active_limit", 20000,
	    0);
	c->min_backoff = qmgr_conf_long("minimal_backoff_time", 300, 1);
	c->max_backoff = qmgr_conf_long("maximal_backoff_time", 4000, 1);
	c->queue_run_delay = qmgr_conf_long("queue_run_delay", 300, 1);
	c->max_lifetime = qmgr_conf_long("maximal_queue_lifetime", 5 * 86400,
	    1);
	c->bounce_lifetime = qmgr_conf_long("bounce_queue_lifetime",
	    c->max_lifetime, 1);
	c->delay_warning = qmgr_conf_long("delay_warning_time", 0, 1);
	c->bounce_size_limit = qmgr_conf_long("bounce_size_limit", 50000, 0);
	c->message_size_limit = qmgr_conf_long("message_size_limit", 10240000,
	    0);
	c->default_conc = qmgr_conf_long(
	    "default_destination_concurrency_limit", 20, 0);
	c->initial_conc = qmgr_conf_long("initial_destination_concurrency",
	    5, 0);
	c->default_rcpt_limit = qmgr_conf_long(
	    "default_destination_recipient_limit", 50, 0);
	c->default_time_limit = qmgr_conf_long("command_time_limit", 1000, 1);
	c->transport_limit = qmgr_conf_long("default_process_limit", 100, 0);
	c->soft_bounce = conf_raw("soft_bounce") ? conf_bool("soft_bounce") : 0;
	if (c->active_limit < 1)
		c->active_limit = 1;
	if (c->min_backoff < 1)
		c->min_backoff = 1;
	if (c->max_backoff < c->min_backoff)
		c->max_backoff = c->min_backoff;
	if (c->queue_run_delay < 1)
		c->queue_run_delay = 1;
	if (c->default_conc < 1)
		c->default_conc = 1;
	if (c->initial_conc < 1)
		c->initial_conc = 1;
	if (c->default_rcpt_limit < 1)
		c->default_rcpt_limit = 1;
	if (c->default_time_limit < 1)
		c->default_time_limit = 1;
	if (c->transport_limit < 1)
		c->transport_limit = 1;
	qmgr_resolve_conf_load(&c->rc);
	path = xasprintf("%s/master.cf", conf_config_dir() ?
	    conf_config_dir() : conf_str("config_directory"));
	if ((c->mastercf = mastercf_load(path, err, sizeof(err))) == NULL)
		log_warn("%s; transports get default_process_limit", err);
	free(path);
}
