/*
 * NAME
 *	postern_perms - ownership checks and "postern set-permissions"
 * SYNOPSIS
 *	#include "postern_perms.h"
 *
 *	int	postern_perms_check(void);
 *	int	postern_perms_set(void);
 * DESCRIPTION
 *	See postern_perms.c. Both work on the configuration conf holds.
 * DIAGNOSTICS
 *	postern_perms_check(): the number of problems (logged as errors).
 *	postern_perms_set(): 0, or 1 if not everything was repaired.
 */
#ifndef POSTERN_PERMS_H
#define POSTERN_PERMS_H

int	 postern_perms_check(void);
int	 postern_perms_set(void);

#endif
