/*
 * NAME
 *	params - the built-in parameter table (Postfix defaults)
 * SYNOPSIS
 *	#include "params.h"
 *
 *	extern const struct conf_param conf_params[];
 *	char	*params_myhostname(void);
 *	char	*params_mydomain(void);
 *	char	*params_exe_directory(void);
 *	char	*params_mynetworks(void);
 * DESCRIPTION
 *	conf_params[] lists every parameter postern knows, one
 *	{ "name", "default" } per line, terminated by { NULL }. A
 *	parameter whose default must be computed at run time (host name,
 *	the directory of the running executable, mynetworks) has a NULL
 *	default and a function that returns it (a new string, caller
 *	frees). The default is the raw text: it may refer to other
 *	parameters as $name and is expanded on use like a main.cf value.
 *
 *	A time parameter's default unit (for a bare number) is the unit
 *	letter of its default value, as in Postfix ("5d": days).
 *
 *	conf.c is the only user of the table; everybody else asks conf.
 * SEE ALSO
 *	conf(3), lib/params.c (the table, grouped by daemon).
 */
#ifndef PARAMS_H
#define PARAMS_H

struct conf_param {
	const char *name;
	const char *def;		/* raw default, NULL if computed */
	char	*(*fn)(void);		/* computes the default */
};

extern const struct conf_param conf_params[];

char	*params_myhostname(void);
char	*params_mydomain(void);
char	*params_exe_directory(void);
char	*params_mynetworks(void);

#endif
