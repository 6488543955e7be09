/*
 * NAME
 *	tls_dane - OpenSSL's DANE verification for the smtp client
 * SYNOPSIS
 *	See tls_dane.h.
 * DESCRIPTION
 *	A thin layer over OpenSSL's RFC 7671 support; the DNS side (which
 *	records, the downgrade rules) is smtp/smtp_dane.c. The client
 *	context verifies nothing itself (SSL_VERIFY_NONE): OpenSSL still
 *	runs the DANE checks during the handshake and stores the result,
 *	which tls_dane_verified() reads.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "tls_dane.h"

static pthread_mutex_t tls_dane_lock = PTHREAD_MUTEX_INITIALIZER;

/* tls_dane_usable - can SMTP use this TLSA record (RFC 7672 3.1)? */
int
tls_dane_usable(const struct dns_tlsa *t)
{
	if (t->usage != 2 && t->usage != 3)
		return (0);
	if (t->selector != 0 && t->selector != 1)
		return (0);
	switch (t->mtype) {
	case 0:
		return (t->len > 0);
	case 1:
		return (t->len == 32);
	case 2:
		return (t->len == 64);
	default:
		return (0);
	}
}

/* tls_dane_enable - DANE for this connection, with the usable records */
int
tls_dane_enable(SSL *ssl, const char *base, const struct dns_tlsa *t,
    size_t n, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
	size_t	 i;
	int	 added = 0, rc;

	/* idempotent, but it changes the shared context: one thread */
	pthread_mutex_lock(&tls_dane_lock);
	rc = SSL_CTX_dane_enable(ctx);
	pthread_mutex_unlock(&tls_dane_lock);
	if (rc <= 0 || SSL_dane_enable(ssl, base) <= 0) {
		snprintf(err, errlen, "cannot enable DANE: %s",
		    ERR_reason_error_string(ERR_get_error()));
		ERR_clear_error();
		return (-1);
	}
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (i = 0; i < n; i++) {
		if (!tls_dane_usable(&t[i]))
			continue;
		if (SSL_dane_tlsa_add(ssl, (uint8_t)t[i].usage,
		    (uint8_t)t[i].selector, (uint8_t)t[i].mtype,
		    t[i].len ? t[i].data : NULL, t[i].len) > 0)
			added++;
	}
	ERR_clear_error();
	if (added == 0) {
		snprintf(err, errlen, "no usable TLSA records");
		return (-1);
	}
	return (0);
}

/* tls_dane_verified - did a TLSA record authenticate the peer? */
int
tls_dane_verified(SSL *ssl, int *usage, char *err, size_t errlen)
{
	uint8_t	 u = 0, sel = 0, mt = 0;
	long	 vr = SSL_get_verify_result(ssl);
	int	 depth;

	*usage = -1;
	if (SSL_get0_peer_certificate(ssl) == NULL) {
		snprintf(err, errlen, "no server certificate");
		return (0);
	}
	if (vr != X509_V_OK) {
		snprintf(err, errlen, "num=%ld:%s", vr,
		    X509_verify_cert_error_string(vr));
		return (0);
	}
	depth = SSL_get0_dane_tlsa(ssl, &u, &sel, &mt, NULL, NULL);
	if (depth < 0 || SSL_get0_dane_authority(ssl, NULL, NULL) < 0) {
		snprintf(err, errlen, "no TLSA record matched");
		return (0);
	}
	*usage = u;
	return (1);
}
