/*
 * NAME
 *	cleanup_bcc - always_bcc, sender_bcc_maps, recipient_bcc_maps
 * SYNOPSIS
 *	See cleanup_bcc.c.
 */
#ifndef CLEANUP_BCC_H
#define CLEANUP_BCC_H

#include <stddef.h>

#include "str.h"

struct cleanup_bcc;

struct cleanup_bcc *cleanup_bcc_new(void);
void	 cleanup_bcc_free(struct cleanup_bcc *);
int	 cleanup_bcc_add(struct cleanup_bcc *, const char *, char *const *,
	    size_t, struct strv *);
char	*cleanup_bcc_filter(void);

#endif
