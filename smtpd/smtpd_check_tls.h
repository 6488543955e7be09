/* smtpd_check_tls - the client certificate for the restrictions */
#ifndef SMTPD_CHECK_TLS_H
#define SMTPD_CHECK_TLS_H

struct bufferevent;
struct smtpd_check_state;

const char *smtpd_check_tls_peer(struct bufferevent *,
	    struct smtpd_check_state *);

#endif
