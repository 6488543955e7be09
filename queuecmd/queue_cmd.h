/*
 * NAME
 *	queue_cmd - what sendmail, postqueue and postsuper share
 * SYNOPSIS
 *	#include "queue_cmd.h"
 *
 *	void	queue_cmd_init(const char *program, const char *confdir);
 *	void	queue_cmd_override(const char *program,
 *		    const char *name_eq_value);
 *	const char *queue_cmd_dir(void);
 *	int	queue_cmd_trigger(const char *request);
 *	char	*queue_cmd_sibling(const char *program);
 * DESCRIPTION
 *	queue_cmd_init() sets up logging as "$syslog_name/<program>" on
 *	stderr, then loads main.cf from confdir (NULL: $MAIL_CONFIG, else
 *	/etc/postern); a configuration that cannot be read is fatal
 *	(EX_CONFIG). queue_cmd_override() applies one -o name=value after
 *	it (fatal, EX_USAGE, without '='). queue_cmd_dir() is
 *	queue_directory.
 *
 *	queue_cmd_trigger() writes request ("W", "F", "I<id>") to
 *	public/qmgr, best effort, with a short timeout: 0 if delivered to
 *	the socket, -1 if qmgr is not listening (the queue file is safe
 *	either way; qmgr's periodic scan finds it).
 *
 *	queue_cmd_sibling() is the path of another postern program in the
 *	directory of the running one (for sendmail -bs, -bp, -q).
 * DIAGNOSTICS
 *	Fatal errors exit with a sysexits(3) code.
 */
#ifndef QUEUE_CMD_H
#define QUEUE_CMD_H

void	 queue_cmd_init(const char *, const char *);
void	 queue_cmd_override(const char *, const char *);
const char *queue_cmd_dir(void);
const char *queue_cmd_confdir(void);
int	 queue_cmd_trigger(const char *);
char	*queue_cmd_sibling(const char *);

#endif
