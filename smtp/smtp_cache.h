/*
 * NAME
 *	smtp_cache - idle LMTP connections kept for the next message
 * SYNOPSIS
 *	See smtp_cache.c.
 */
#ifndef SMTP_CACHE_H
#define SMTP_CACHE_H

#include <stddef.h>

void	 smtp_cache_init(long);
int	 smtp_cache_take(const char *, void *, size_t);
void	 smtp_cache_put(const char *, int, const void *, size_t);

#endif
