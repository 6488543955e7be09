/*
 * NAME
 *	smtpd_tls - STARTTLS for smtpd: the server context and the wrap
 * SYNOPSIS
 *	#include "smtpd.h"
 *
 *	void	smtpd_tls_init(void);
 *	struct bufferevent *smtpd_tls_wrap(struct event_base *base,
 *	    struct bufferevent *plain, char *err, size_t errlen);
 *	void	smtpd_tls_info(struct bufferevent *bev, char *out,
 *	    size_t len);
 *	const char *smtpd_tls_error(struct bufferevent *bev, char *out,
 *	    size_t len);
 *
 *	void	smtpd_tls_end(struct bufferevent *bev, int clean);
 * DESCRIPTION
 *	smtpd_tls_init() runs in pre_init (as root under master, so the
 *	key can be read before the privilege drop). It reads
 *	smtpd_tls_security_level (empty: the legacy smtpd_use_tls and
 *	smtpd_enforce_tls; a name that is no level, or dane/dane-only,
 *	is fatal: 'Invalid TLS level "X"', as Postfix; verify, secure
 *	and fingerprint mean encrypt, with a warning) and, unless the
 *	level is none, builds the
 *	server context (tls/tls.h, from the smtpd_tls_* parameters) into
 *	smtpd_params.tls. A context that cannot be built (missing or
 *	unreadable key or certificate) is fatal at level encrypt, where
 *	no mail could be accepted; at level may it is a warning and
 *	STARTTLS is not offered (Postfix: "disabling TLS support").
 *	smtpd_tls_wrappermode=yes (port 465, "smtps") means level encrypt
 *	and a handshake before the greeting (smtpd_session.c).
 *
 *	smtpd_tls_wrap() slides an OpenSSL filter under the session: the
 *	plaintext bufferevent keeps the socket (and the "220 Ready to
 *	start TLS" already queued on it), the returned bufferevent is what
 *	the session reads and writes from now on. The handshake runs in
 *	the loop and ends with BEV_EVENT_CONNECTED or an error event.
 *
 *	smtpd_tls_info() gives Postfix's "TLSv1.3 with cipher ... (256/256
 *	bits)" text; smtpd_tls_error() the OpenSSL reason of a failure.
 *	smtpd_tls_end() runs before the session frees its filter: after
 *	a clean end (clean: QUIT, or the client's close_notify) the TLS
 *	session stays in the cache for resumption by session id.
 * DIAGNOSTICS
 *	As above; smtpd_tls_wrap() returns NULL with err set.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "conf.h"
#include "log.h"
#include "smtpd.h"
#include "str.h"
#include "tls.h"

/* smtpd_tls_init - the server context per smtpd_tls_security_level */
void
smtpd_tls_init(void)
{
	const char *name = conf_str("smtpd_tls_security_level");
	struct tls_ctx *ctx;
	char	 err[512];
	int	 level, b;

	if (*name == 0) {
		level = TLS_LEV_NONE;
		if (str_parse_bool(conf_str("smtpd_enforce_tls"), &b) == 0 && b)
			level = TLS_LEV_ENCRYPT;
		else if (str_parse_bool(conf_str("smtpd_use_tls"), &b) == 0
		    && b)
			level = TLS_LEV_MAY;
	} else if ((level = tls_level_check("smtpd_tls_security_level",
	    name, err, sizeof(err))) < 0) {
		log_fatal("%s", err);	/* Postfix's words; postern check */
	} else if (level > TLS_LEV_ENCRYPT) {
		/* verify, secure, fingerprint: client levels, as Postfix */
		log_warn("smtpd_tls_security_level: unsupported TLS level "
		    "\"%s\", using \"encrypt\"", log_safe(name));
		level = TLS_LEV_ENCRYPT;
	}
	smtpd_params.tls_wrapper = conf_bool("smtpd_tls_wrappermode");
	if (smtpd_params.tls_wrapper && level < TLS_LEV_ENCRYPT)
		level = TLS_LEV_ENCRYPT;	/* nothing is plaintext */
	smtpd_params.tls_level = level;
	smtpd_params.tls = NULL;
	if (level == TLS_LEV_NONE)
		return;
	if ((ctx = tls_server_ctx_new("smtpd", err, sizeof(err))) == NULL) {
		if (level >= TLS_LEV_ENCRYPT)
			log_fatal("smtpd_tls_security_level = encrypt, but TLS "
			    "is unusable: %s", err);
		log_warn("%s: disabling TLS support", err);
		smtpd_params.tls_level = TLS_LEV_NONE;
		return;
	}
	smtpd_params.tls = ctx;
}

/* smtpd_tls_wrap - an accepting OpenSSL filter over the plain session */
struct bufferevent *
smtpd_tls_wrap(struct event_base *base, struct bufferevent *plain,
    char *err, size_t errlen)
{
	struct bufferevent *bev;
	SSL	*ssl;

	if (smtpd_params.tls == NULL
	    || (ssl = tls_ssl_new(smtpd_params.tls, -1, NULL, NULL)) == NULL) {
		snprintf(err, errlen, "cannot create a TLS session");
		return (NULL);
	}
	/*
	 * Deferred callbacks: the filter would otherwise run the session's
	 * event callback from inside evbuffer_remove()/bufferevent_write()
	 * (EOF found while refilling), freeing the session under its caller.
	 */
	bev = bufferevent_openssl_filter_new(base, plain, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE
	    | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		SSL_free(ssl);
		snprintf(err, errlen, "cannot create a TLS filter");
		return (NULL);
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return (bev);
}

/*
 * smtpd_tls_end - before the filter is freed: OpenSSL drops a session
 * from the cache when SSL_free() finds no shutdown, so a clean end (QUIT,
 * or the client's close_notify) marks it shut down and the session stays
 * resumable; an error or a timeout leaves it to be dropped (as Postfix).
 */
void
smtpd_tls_end(struct bufferevent *bev, int clean)
{
	SSL	*ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl == NULL || !SSL_is_init_finished(ssl))
		return;
	if (clean || (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN))
		SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN
		    | SSL_RECEIVED_SHUTDOWN);
}

/* smtpd_tls_info - protocol and cipher, as Postfix logs them */
void
smtpd_tls_info(struct bufferevent *bev, char *out, size_t len)
{
	SSL	*ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl == NULL || tls_log_info(ssl, out, len) == NULL)
		snprintf(out, len, "unknown");
}

/* smtpd_tls_error - the OpenSSL reason for a failed handshake */
const char *
smtpd_tls_error(struct bufferevent *bev, char *out, size_t len)
{
	unsigned long e = bufferevent_get_openssl_error(bev);

	if (e == 0)
		snprintf(out, len, "lost connection");
	else
		ERR_error_string_n(e, out, len);
	return (out);
}
