/*
 * NAME
 *	check - "postern check": what Postfix would warn about
 * SYNOPSIS
 *	#include "check.h"
 *
 *	int	postern_check(const char *config_dir, int verbose);
 *	int	postern_check_fatal(const char *config_dir);
 *	struct mastercf *postern_check_params(const char *config_dir,
 *	    int *fatal);
 * DESCRIPTION
 *	postern_check() loads config_dir/main.cf and master.cf and
 *	reports, through log_warn()/log_info(), in Postfix's words:
 *	  - "DIR/main.cf: unused parameter: name=value" for a main.cf
 *	    parameter no postern program knows and nothing refers to;
 *	  - "DIR/main.cf: undefined parameter: name" and
 *	    "DIR/master.cf: undefined parameter: name" for a $name
 *	    reference (main.cf values, master.cf -o values) that is
 *	    defined nowhere; "DIR/master.cf: unused parameter: name=value"
 *	    for an unknown -o name;
 *	  - master.cf commands postern folds into its own programs
 *	    (cleanup, pickup, trivial-rewrite, bounce, ...): one info
 *	    line naming them all; services with a command postern does
 *	    not have (pipe, local, ...): one warning naming them all with
 *	    their lines ("will not run");
 *	  - a malformed master.cf entry (mastercf.h): error;
 *	  - a boolean, integer or time parameter with a malformed value,
 *	    in main.cf or as a master.cf -o (a daemon would refuse to
 *	    start): error;
 *	  - every lookup table named in main.cf or in a -o value
 *	    (type:name tokens, also inside restriction lists) is opened
 *	    with map_open(); a table that cannot be opened is a warning
 *	    (daemons run with a surrogate that defers mail); more than
 *	    three are reported on one line. The value
 *	    of an unused parameter is not evaluated: its tables are not
 *	    opened.
 *	With verbose, it also says what it checked, and reports line by
 *	line with file and line number (a migration report, "postern -v
 *	check -c /etc/postfix"): each unused parameter, each service that
 *	will not run, and each parameter postern knows but does not
 *	implement (smtpd_milters, always_bcc, ...) that has a value.
 *
 *	postern_check_fatal() reports only what check counts as fatal
 *	(no warnings, no tables opened): master runs it, in a child, on
 *	SIGHUP before it applies a new configuration.
 *
 *	postern_check_params() does only the parameter part (unused and
 *	undefined names) on the configuration conf already holds, as
 *	Postfix's postconf does on every run; it returns the master.cf
 *	table (caller frees with mastercf_free()), or NULL and counts a
 *	fatal problem when master.cf cannot be read.
 * DIAGNOSTICS
 *	Returns the number of fatal problems: main.cf or master.cf
 *	unreadable, a malformed master.cf entry, malformed typed values.
 *	Warnings do not count.
 */
#ifndef CHECK_H
#define CHECK_H

struct mastercf;

int	 postern_check(const char *, int);
int	 postern_check_fatal(const char *);
struct mastercf *postern_check_params(const char *, int *);

#endif
