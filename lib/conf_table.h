/*
 * NAME
 *	conf_table - typed parameter tables, loaded once, range-checked
 * SYNOPSIS
 *	#include "conf_table.h"
 *
 *	static const struct conf_table table[] = {
 *		CONF_INT("name", &int_var, min, max),
 *		CONF_LONG("name", &long_var, min, max),
 *		CONF_TIME("name", &long_seconds, min, max),
 *		CONF_BOOL("name", &int_var),
 *		CONF_STR("name", &const_char_ptr),
 *		CONF_END,
 *	};
 *
 *	void	conf_table_load(const struct conf_table *table);
 * DESCRIPTION
 *	A daemon lists the parameters it reads in one table, as Postfix's
 *	CONFIG_INT_TABLE, CONFIG_TIME_TABLE, ... do, and loads it once at
 *	start (conf is loaded, -o applied). An entry names the parameter
 *	and the variable it fills, and for numbers the smallest and the
 *	largest value allowed. There is no default in the table: the one
 *	default is lib/params.c's, as conf(3) gives it.
 *
 *	CONF_INT fills an int, CONF_LONG a long, CONF_TIME a long in
 *	seconds (a bare number is in the unit of the parameter's default,
 *	conf_time()), CONF_BOOL an int (0 or 1), CONF_STR a const char *
 *	with a copy of the expanded value that the table owns (the
 *	previous value is freed, so the variable must start NULL or hold
 *	an earlier copy). The macros
 *	check the variable's type at compile time.
 *
 *	min and max are both always checked (unlike Postfix, where 0
 *	means "no limit"): write CONF_NOMAX for "no upper limit"; a
 *	CONF_INT's value must also fit in an int.
 *
 *	tests/02-param-names.t checks that every CONF_* name is one
 *	lib/params.c knows.
 * DIAGNOSTICS
 *	Fatal, with Postfix's wording: a malformed number "bad numerical
 *	configuration: NAME = VALUE" (also for an int that does not fit),
 *	a malformed time or boolean as conf(3) says; a number out of
 *	range "invalid NAME parameter value V < MIN" (or "> MAX"), a time
 *	out of range "invalid NAME: V (min MIN)" (or "(max MAX)"), values
 *	in seconds. A name lib/params.c does not know is our bug:
 *	log_panic.
 * SEE ALSO
 *	conf(3), lib/params.c, Postfix mail_conf_int(3), mail_conf_time(3)
 */
#ifndef CONF_TABLE_H
#define CONF_TABLE_H

#include <limits.h>

#define CONF_T_INT	1
#define CONF_T_LONG	2
#define CONF_T_TIME	3
#define CONF_T_BOOL	4
#define CONF_T_STR	5

#define CONF_NOMAX	LONG_MAX

struct conf_table {
	int	 type;			/* CONF_T_*; 0 ends the table */
	const char *name;		/* parameter name (lib/params.c) */
	void	*target;		/* the variable to fill */
	long	 min;			/* smallest value allowed */
	long	 max;			/* largest value allowed */
};

/* The "1 ? (v) : (type *)0" makes the compiler check the variable's type. */
#define CONF_INT(n, v, lo, hi) \
	{ CONF_T_INT, (n), 1 ? (v) : (int *)0, (lo), (hi) }
#define CONF_LONG(n, v, lo, hi) \
	{ CONF_T_LONG, (n), 1 ? (v) : (long *)0, (lo), (hi) }
#define CONF_TIME(n, v, lo, hi) \
	{ CONF_T_TIME, (n), 1 ? (v) : (long *)0, (lo), (hi) }
#define CONF_BOOL(n, v) \
	{ CONF_T_BOOL, (n), 1 ? (v) : (int *)0, 0, 1 }
#define CONF_STR(n, v) \
	{ CONF_T_STR, (n), 1 ? (v) : (const char **)0, 0, 0 }
#define CONF_END	{ 0, NULL, NULL, 0, 0 }

void	 conf_table_load(const struct conf_table *);

#endif
