/*
 * NAME
 *	smtpd_override - receive_override_options
 * SYNOPSIS
 *	See smtpd_override.c.
 */
#ifndef SMTPD_OVERRIDE_H
#define SMTPD_OVERRIDE_H

int	 smtpd_receive_override(const char *);
int	 smtpd_override_cleanup_flags(void);

#endif
