/*
 * NAME
 *	smtpd_policy - client of a delegated SMTPD policy server
 * SYNOPSIS
 *	#include "smtpd_policy.h"
 *
 *	struct smtpd_policy_conf {...};
 *	void	smtpd_policy_conf_load(struct smtpd_policy_conf *pc);
 *	struct smtpd_policy *smtpd_policy_new(const char *endpoint,
 *	    const struct smtpd_policy_conf *pc);
 *	void	smtpd_policy_free(struct smtpd_policy *p);
 *	const char *smtpd_policy_endpoint(const struct smtpd_policy *p);
 *	int	smtpd_policy_query(struct smtpd_policy *p,
 *	    const char *request, char *action, size_t len);
 * DESCRIPTION
 *	Postfix's SMTPD_POLICY_README protocol: the request is
 *	"name=value\n" lines ending with an empty line, the reply the
 *	same, of which "action=" counts.
 *
 *	smtpd_policy_conf_load() reads smtpd_policy_service_timeout,
 *	_max_idle, _max_ttl, _request_limit, _try_limit and _retry_delay
 *	(call it where conf may be read, e.g. under the checker's lock).
 *
 *	smtpd_policy_new() makes the client of one endpoint, "inet:host:
 *	port" or "unix:path" (a relative path is taken from
 *	queue_directory, as Postfix's "unix:private/policy"). It does not
 *	connect; the first query does. One client belongs to one thread
 *	(a checker): the connection is kept across queries and sessions
 *	and closed when it was idle longer than max_idle, is older than
 *	max_ttl, has answered request_limit queries (0: no limit), or the
 *	server closed it.
 *
 *	smtpd_policy_query() sends request (the attribute lines without
 *	the final empty line) and copies the action's value to action.
 *	Each connect, write and read has smtpd_policy_service_timeout. A
 *	failed attempt is retried after retry_delay on a new connection,
 *	up to try_limit attempts in all.
 * DIAGNOSTICS
 *	smtpd_policy_query() returns 0, or -1 when every attempt failed.
 *	Postfix's warnings: "connect to ENDPOINT: error" and "problem
 *	talking to server ENDPOINT: error" (ENDPOINT without "inet:" or
 *	"unix:").
 */
#ifndef SMTPD_POLICY_H
#define SMTPD_POLICY_H

#include <stddef.h>

struct smtpd_policy_conf {
	int	 timeout;		/* seconds, per connect/write/read */
	int	 max_idle;
	int	 max_ttl;
	int	 request_limit;		/* 0: unlimited */
	int	 try_limit;
	int	 retry_delay;
	char	 queue_dir[256];	/* base of relative unix: paths */
};

struct smtpd_policy;

void	 smtpd_policy_conf_load(struct smtpd_policy_conf *);
struct smtpd_policy *smtpd_policy_new(const char *,
	    const struct smtpd_policy_conf *);
void	 smtpd_policy_free(struct smtpd_policy *);
const char *smtpd_policy_endpoint(const struct smtpd_policy *);
int	 smtpd_policy_query(struct smtpd_policy *, const char *, char *,
	    size_t);

#endif
