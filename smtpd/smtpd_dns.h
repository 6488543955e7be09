/* smtpd_dns - the client's name at connect (see smtpd_dns.c) */
#ifndef SMTPD_DNS_H
#define SMTPD_DNS_H

struct event_base;
struct smtpd_check_state;

typedef void smtpd_dns_done_fn(void *arg);

void	 smtpd_dns_init(struct event_base *, int);
void	 smtpd_dns_client_name(struct smtpd_check_state *,
	    smtpd_dns_done_fn *, void *);
void	 smtpd_dns_fini(void);

#endif
