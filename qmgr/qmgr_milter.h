/*
 * NAME
 *	qmgr_milter - non_smtpd_milters for mail from sendmail (pickup)
 * SYNOPSIS
 *	See qmgr_milter.c.
 */
#ifndef QMGR_MILTER_H
#define QMGR_MILTER_H

#include "cleanup.h"

int	 qmgr_milter_message(struct cleanup_maps *,
	    const struct cleanup_input *, struct cleanup_result *);

#endif
