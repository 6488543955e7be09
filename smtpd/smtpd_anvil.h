/* smtpd_anvil - client limits in anvil's shared table (smtpd_anvil.c) */
#ifndef SMTPD_ANVIL_H
#define SMTPD_ANVIL_H

struct smtpd_session;
struct event_base;

#define SMTPD_ANVIL_MAIL	1
#define SMTPD_ANVIL_RCPT	2
#define SMTPD_ANVIL_NTLS	3
#define SMTPD_ANVIL_AUTH	4

void	 smtpd_anvil_init(void);
void	 smtpd_anvil_start(struct event_base *);
void	 smtpd_anvil_stop(void);
void	 smtpd_anvil_early(struct smtpd_session *);
int	 smtpd_anvil_connect(struct smtpd_session *);
void	 smtpd_anvil_disconnect(struct smtpd_session *);
int	 smtpd_anvil_event(struct smtpd_session *, int);

#endif
