/*
 * NAME
 *	qmgr_filter - the after-queue content filter's route
 * SYNOPSIS
 *	See qmgr_filter.c.
 */
#ifndef QMGR_FILTER_H
#define QMGR_FILTER_H

#include "qmgr_resolve.h"

void	 qmgr_filter_route(const char *, const char *, struct qmgr_route *);

#endif
