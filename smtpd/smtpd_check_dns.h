/* smtpd_check_dns - DNS helpers of the server-access restrictions */
#ifndef SMTPD_CHECK_DNS_H
#define SMTPD_CHECK_DNS_H

#include "str.h"

#define SMTPD_DNS_MX	'M'
#define SMTPD_DNS_NS	'N'
#define SMTPD_DNS_A	'A'

int	 smtpd_check_dns_servers(const char *, int, struct strv *, char *,
	    size_t);
int	 smtpd_check_dns_own_addr(const char *);
int	 smtpd_check_dns_in_nets(const char *, const char *);

#endif
