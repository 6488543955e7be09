/*
 * NAME
 *	tls_dane - OpenSSL's DANE verification for the smtp client
 * SYNOPSIS
 *	#include "tls_dane.h"
 *
 *	int	tls_dane_usable(const struct dns_tlsa *t);
 *	int	tls_dane_enable(SSL *ssl, const char *base,
 *	    const struct dns_tlsa *t, size_t n, char *err, size_t errlen);
 *	int	tls_dane_verified(SSL *ssl, int *usage, char *err,
 *	    size_t errlen);
 * DESCRIPTION
 *	tls_dane_usable() says whether a TLSA record can be used for SMTP
 *	(RFC 7672 3.1): usage 2 (DANE-TA) or 3 (DANE-EE), selector 0 or 1,
 *	matching type 0, 1 (32-byte SHA2-256) or 2 (64-byte SHA2-512).
 *	PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP.
 *
 *	tls_dane_enable() turns on DANE for one client connection before
 *	its handshake: SSL_CTX_dane_enable() on its context (once),
 *	SSL_dane_enable() with base (the TLSA base domain, the MX host:
 *	the reference name for DANE-TA, and the SNI name), no name checks
 *	for DANE-EE (DANE_FLAG_NO_DANE_EE_NAMECHECKS, RFC 7672 3.1.1) and
 *	SSL_dane_tlsa_add() for each usable record. -1 with err when no
 *	record could be added.
 *
 *	tls_dane_verified() after the handshake: 1 when OpenSSL verified
 *	the peer through a TLSA record (SSL_get0_dane_authority(); *usage
 *	is that record's usage), else 0 with OpenSSL's reason in err.
 */
#ifndef TLS_DANE_H
#define TLS_DANE_H

#include <openssl/ssl.h>

#include "dns.h"

int	 tls_dane_usable(const struct dns_tlsa *);
int	 tls_dane_enable(SSL *, const char *, const struct dns_tlsa *, size_t,
	    char *, size_t);
int	 tls_dane_verified(SSL *, int *, char *, size_t);

#endif
