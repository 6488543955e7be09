/*
 * NAME
 *	cleanup_milter - the queue file with the milters' changes applied
 * SYNOPSIS
 *	See cleanup_milter.c.
 */
#ifndef CLEANUP_MILTER_H
#define CLEANUP_MILTER_H

#include <stdio.h>

#include "cleanup.h"
#include "milter.h"

int	 cleanup_milter_queue(struct cleanup_maps *,
	    const struct cleanup_input *, struct cleanup_result *,
	    struct milter_mods *const *, size_t, FILE *);

#endif
