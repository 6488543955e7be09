/*
 * NAME
 *	smtpd_milter - smtpd_milters: the milters of an SMTP session
 * SYNOPSIS
 *	#include "smtpd_milter.h"
 *
 *	void	smtpd_milter_init(void);
 *	int	smtpd_milter_active(void);
 *	int	smtpd_milter_stage(struct smtpd_session *s, int stage,
 *	    int result, struct buf *reply);
 *	int	smtpd_milter_message(struct smtpd_session *s);
 *	void	smtpd_milter_open_job(struct smtpd_session *s);
 *	void	smtpd_milter_chunk_job(struct smtpd_session *s,
 *	    const char *p, size_t len);
 *	int	smtpd_milter_eom_job(struct smtpd_session *s,
 *	    struct cleanup_maps *maps, const struct cleanup_input *in,
 *	    struct cleanup_result *res);
 *	void	smtpd_milter_end(struct smtpd_session *s);
 * DESCRIPTION
 *	See smtpd_milter.c.
 */
#ifndef SMTPD_MILTER_H
#define SMTPD_MILTER_H

#include <stddef.h>

struct smtpd_session;
struct buf;
struct cleanup_maps;
struct cleanup_input;
struct cleanup_result;

void	 smtpd_milter_init(void);
int	 smtpd_milter_active(void);
int	 smtpd_milter_stage(struct smtpd_session *, int, int, struct buf *);
int	 smtpd_milter_message(struct smtpd_session *);
void	 smtpd_milter_open_job(struct smtpd_session *);
void	 smtpd_milter_chunk_job(struct smtpd_session *, const char *, size_t);
int	 smtpd_milter_eom_job(struct smtpd_session *, struct cleanup_maps *,
	    const struct cleanup_input *, struct cleanup_result *);
void	 smtpd_milter_end(struct smtpd_session *);

#endif
