/*
 * NAME
 *	conf_table_test - vectors for the typed parameter table loader
 * DESCRIPTION
 *	Each vector sets one parameter (or leaves it at lib/params.c's
 *	default), loads a one-entry table in a child process and compares
 *	what the child says with the expected text: "= VALUE" when the
 *	table loaded, the fatal message (Postfix's wording) when it did
 *	not. Numbers in range, at and beyond each bound, malformed, too
 *	big for an int; times with every unit Postfix accepts and the
 *	parameter's default unit; booleans; strings with $name expansion;
 *	an unknown name (a panic).
 */
#include <sys/wait.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_table.h"
#include "log.h"
#include "tap.h"
#include "xalloc.h"

#define NO	NULL			/* leave the parameter at its default */

static const struct vec {
	int	 type;
	const char *name;
	const char *value;		/* NO: the default */
	long	 min, max;
	const char *want;		/* "= v", or the start of the fatal */
} vecs[] = {
	/* int */
	{ CONF_T_INT, "smtpd_recipient_limit", NO, 1, CONF_NOMAX, "= 1000" },
	{ CONF_T_INT, "smtpd_recipient_limit", "5", 1, CONF_NOMAX, "= 5" },
	{ CONF_T_INT, "smtpd_recipient_limit", "1", 1, 10, "= 1" },
	{ CONF_T_INT, "smtpd_recipient_limit", "10", 1, 10, "= 10" },
	{ CONF_T_INT, "smtpd_recipient_limit", "0", 1, CONF_NOMAX,
	    "fatal: invalid smtpd_recipient_limit parameter value 0 < 1" },
	{ CONF_T_INT, "smtpd_recipient_limit", "-5", 1, CONF_NOMAX,
	    "fatal: invalid smtpd_recipient_limit parameter value -5 < 1" },
	{ CONF_T_INT, "smtp_worker_threads", "257", 1, 256,
	    "fatal: invalid smtp_worker_threads parameter value 257 > 256" },
	{ CONF_T_INT, "smtpd_recipient_limit", "10x", 1, CONF_NOMAX,
	    "fatal: bad numerical configuration: smtpd_recipient_limit = 10x" },
	{ CONF_T_INT, "smtpd_recipient_limit", "", 1, CONF_NOMAX,
	    "fatal: bad numerical configuration: smtpd_recipient_limit = " },
	{ CONF_T_INT, "smtpd_recipient_limit", "3000000000", 1, CONF_NOMAX,
	    "fatal: bad numerical configuration: smtpd_recipient_limit = "
	    "3000000000" },
	{ CONF_T_INT, "smtpd_recipient_limit", "99999999999999999999", 1,
	    CONF_NOMAX, "fatal: bad numerical configuration: "
	    "smtpd_recipient_limit = 99999999999999999999" },
	{ CONF_T_INT, "postscreen_dnsbl_whitelist_threshold", "-2", INT_MIN,
	    CONF_NOMAX, "= -2" },
	/* long */
	{ CONF_T_LONG, "message_size_limit", NO, 0, CONF_NOMAX, "= 10240000" },
	{ CONF_T_LONG, "message_size_limit", "0", 0, CONF_NOMAX, "= 0" },
	{ CONF_T_LONG, "message_size_limit", "3000000000", 0, CONF_NOMAX,
	    "= 3000000000" },
	{ CONF_T_LONG, "message_size_limit", "-1", 0, CONF_NOMAX,
	    "fatal: invalid message_size_limit parameter value -1 < 0" },
	/* time */
	{ CONF_T_TIME, "smtpd_timeout", NO, 1, CONF_NOMAX, "= 300" },
	{ CONF_T_TIME, "smtpd_timeout", "10s", 1, CONF_NOMAX, "= 10" },
	{ CONF_T_TIME, "smtpd_timeout", "5m", 1, CONF_NOMAX, "= 300" },
	{ CONF_T_TIME, "smtpd_timeout", "1h", 1, CONF_NOMAX, "= 3600" },
	{ CONF_T_TIME, "smtpd_timeout", "1d", 1, CONF_NOMAX, "= 86400" },
	{ CONF_T_TIME, "smtpd_timeout", "1w", 1, CONF_NOMAX, "= 604800" },
	{ CONF_T_TIME, "smtpd_timeout", "60", 1, CONF_NOMAX, "= 60" },
	{ CONF_T_TIME, "maximal_queue_lifetime", "2", 1, CONF_NOMAX,
	    "= 172800" },
	{ CONF_T_TIME, "smtpd_timeout", "0s", 1, CONF_NOMAX,
	    "fatal: invalid smtpd_timeout: 0 (min 1)" },
	{ CONF_T_TIME, "smtpd_timeout", "2h", 1, 3600,
	    "fatal: invalid smtpd_timeout: 7200 (max 3600)" },
	{ CONF_T_TIME, "smtpd_timeout", "1h", 1, 3600, "= 3600" },
	{ CONF_T_TIME, "smtpd_timeout", "5x", 1, CONF_NOMAX,
	    "fatal: bad time configuration: smtpd_timeout = 5x" },
	{ CONF_T_TIME, "smtpd_timeout", "", 1, CONF_NOMAX,
	    "fatal: bad time configuration: smtpd_timeout = " },
	/* bool */
	{ CONF_T_BOOL, "smtpd_helo_required", NO, 0, 1, "= 0" },
	{ CONF_T_BOOL, "smtpd_helo_required", "yes", 0, 1, "= 1" },
	{ CONF_T_BOOL, "smtpd_helo_required", "No", 0, 1, "= 0" },
	{ CONF_T_BOOL, "smtpd_helo_required", "maybe", 0, 1,
	    "fatal: bad boolean configuration: smtpd_helo_required = maybe" },
	/* string */
	{ CONF_T_STR, "myhostname", "mx.example", 0, 0, "= mx.example" },
	{ CONF_T_STR, "smtpd_banner", "$myhostname ESMTP", 0, 0,
	    "= mx.example ESMTP" },
	{ CONF_T_STR, "recipient_delimiter", NO, 0, 0, "= " },
	/* our bug */
	{ CONF_T_INT, "smtpd_recipent_limit", "5", 1, CONF_NOMAX,
	    "panic: conf_table_load: unknown parameter \"smtpd_recipent_limit\"" },
};

/* child - load one vector's table, say the value; exit status 0 */
static void
child(const struct vec *v)
{
	struct conf_table t[2] = { { v->type, v->name, NULL, v->min, v->max },
	    CONF_END };
	long	 l = 0;
	int	 i = 0;
	const char *s = NULL;

	conf_reset();
	conf_set("myhostname", "mx.example");
	if (v->value)
		conf_set(v->name, v->value);
	t[0].target = v->type == CONF_T_LONG || v->type == CONF_T_TIME ?
	    (void *)&l : v->type == CONF_T_STR ? (void *)&s : (void *)&i;
	conf_table_load(t);
	if (v->type == CONF_T_STR) {
		conf_table_load(t);	/* a reload frees the first copy */
		fprintf(stderr, "= %s\n", s);
	} else
		fprintf(stderr, "= %ld\n", v->type == CONF_T_LONG
		    || v->type == CONF_T_TIME ? l : (long)i);
	free((void *)s);
}

/* run - the child's first line and exit status */
static int
run(const struct vec *v, char *msg, size_t len)
{
	int	 p[2], st;
	pid_t	 pid;
	ssize_t	 n;
	char	*nl, *p0;

	if (pipe(p) < 0 || (pid = fork()) < 0)
		log_fatal("fork: %m");
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 2);
		signal(SIGABRT, SIG_DFL);
		log_init("conf_table_test", LOG_TO_STDERR);
		child(v);
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], msg, len - 1);
	msg[n > 0 ? n : 0] = 0;
	close(p[0]);
	waitpid(pid, &st, 0);
	if ((nl = strchr(msg, '\n')) != NULL)
		*nl = 0;
	/* "DATE HOST conf_table_test[PID]: fatal: ..." -> "fatal: ..." */
	if ((p0 = strstr(msg, "]: ")) != NULL)
		memmove(msg, p0 + 3, strlen(p0 + 3) + 1);
	return (WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

/* a table the compiler checks: every macro, a real daemon's shape */
static int t_int, t_bool;
static long t_long, t_time;
static const char *t_str;
static const struct conf_table typed[] = {
	CONF_INT("smtpd_recipient_limit", &t_int, 1, CONF_NOMAX),
	CONF_LONG("message_size_limit", &t_long, 0, CONF_NOMAX),
	CONF_TIME("smtpd_timeout", &t_time, 1, CONF_NOMAX),
	CONF_BOOL("smtpd_helo_required", &t_bool),
	CONF_STR("smtpd_banner", &t_str),
	CONF_END,
};

int
main(void)
{
	char	 msg[1024];
	size_t	 i;
	int	 st, want_st;

	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];

		st = run(v, msg, sizeof(msg));
		want_st = strncmp(v->want, "= ", 2) == 0 ? 0
		    : strncmp(v->want, "fatal: ", 7) == 0 ? 1 : 128 + SIGABRT;
		tap_ok(st == want_st && strcmp(msg, v->want) == 0,
		    "%s = %s [%ld, %ld]: %s (exit %d)", v->name, v->value ?
		    v->value : "(default)", v->min, v->max, msg, st);
		if (st != want_st || strcmp(msg, v->want) != 0)
			printf("#   want \"%s\", exit %d\n", v->want, want_st);
		fflush(stdout);		/* a child's exit() must not repeat it */
	}

	conf_reset();
	conf_set("myhostname", "mx.example");
	conf_set("smtpd_recipient_limit", "7");
	conf_set("smtpd_helo_required", "yes");
	conf_table_load(typed);
	tap_ok(t_int == 7 && t_long == 10240000 && t_time == 300 && t_bool == 1
	    && strcmp(t_str, "mx.example ESMTP postern") == 0,
	    "a mixed table fills every variable (%d %ld %ld %d \"%s\")", t_int,
	    t_long, t_time, t_bool, t_str);
	free((void *)t_str);
	conf_reset();
	return (tap_done());
}
