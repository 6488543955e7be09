/*
 * NAME
 *	smtp_capture.h - postern sandbox's capture mode (smtp_capture.c)
 */
#ifndef SMTP_CAPTURE_H
#define SMTP_CAPTURE_H

#include <stddef.h>

struct smtp_cfg;
struct smtp_maps;
struct smtp_sess;

void	 smtp_capture_init(void);
const char *smtp_capture_dir(void);
double	 smtp_capture(const struct smtp_cfg *, struct smtp_maps *,
	    struct smtp_sess *, const char *, char *, size_t);

#endif
