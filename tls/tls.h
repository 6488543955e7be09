/*
 * NAME
 *	tls - OpenSSL 3 contexts from Postfix parameters (server and client)
 * SYNOPSIS
 *	#include "tls.h"
 *
 *	struct tls_ctx *tls_server_ctx_new(const char *prefix, char *err,
 *	    size_t errlen);
 *	struct tls_ctx *tls_client_ctx_new(const char *prefix, char *err,
 *	    size_t errlen);
 *	void	tls_ctx_free(struct tls_ctx *ctx);
 *	SSL_CTX *tls_ctx_ssl(const struct tls_ctx *ctx);
 *	int	tls_ctx_level(const struct tls_ctx *ctx);
 *	int	tls_ctx_loglevel(const struct tls_ctx *ctx);
 *
 *	SSL	*tls_ssl_new(struct tls_ctx *ctx, int fd, const char *peer,
 *	    const char *cache_key);
 *	int	tls_handshake(SSL *ssl, int timeout, char *err, size_t errlen);
 *	ssize_t	tls_read(SSL *ssl, void *buf, size_t len, int timeout);
 *	int	tls_write(SSL *ssl, const void *buf, size_t len, int timeout);
 *	void	tls_ssl_free(SSL *ssl);
 *
 *	char	*tls_log_info(SSL *ssl, char *out, size_t len);
 *	int	tls_verify_peer(SSL *ssl, const char *const *names,
 *	    char *err, size_t errlen);
 *	int	tls_peer_ccert(SSL *ssl, const char *digest, char *cfp,
 *	    size_t cfplen, char *kfp, size_t kfplen, char *cn,
 *	    size_t cnlen);
 *
 *	int	tls_level_parse(const char *name);
 *	const char *tls_level_name(int level);
 *	int	tls_protocols_parse(const char *spec, int *min, int *max,
 *	    long *ssl_ops, char *err, size_t errlen);
 *	int	tls_set_ciphers(SSL_CTX *c, const char *grade,
 *	    const char *exclude, char *warn, size_t warnlen);
 *	long	tls_ssl_options_parse(const char *names, char *warn,
 *	    size_t warnlen);
 *
 *	tls_policy.c: tls_level_check(), tls_level_conf_errors(),
 *	tls_policy_parse(), tls_policy_free(), tls_fingerprint_match()
 * DESCRIPTION
 *	tls_peer_ccert() gives the peer certificate's fingerprint and
 *	public-key fingerprint ("AB:CD:..." under a digest name) and its
 *	CommonName, and whether it verified: a server asks for one when
 *	<prefix>_tls_ask_ccert (or _req_ccert) is yes, offering the CA
 *	names of <prefix>_tls_CAfile; an unverified certificate never
 *	fails the handshake (the restrictions decide).
 *
 *	tls_server_ctx_new(prefix) builds a server context from
 *	<prefix>_tls_cert_file, _key_file, _chain_files, _security_level,
 *	_mandatory_protocols (level encrypt and up) or _protocols,
 *	_mandatory_ciphers or _ciphers (grade high, medium, low, null:
 *	tls_<grade>_cipherlist), _mandatory_exclude_ciphers or
 *	_exclude_ciphers, _eecdh_grade (auto, strong, ultra: preferred
 *	groups), _loglevel, _session_cache_database and
 *	_session_cache_timeout, plus tls_preempt_cipherlist and
 *	tls_ssl_options. prefix is "smtpd" (or "lmtp"/"smtp" for clients).
 *	tls_client_ctx_new(prefix) does the same for a client:
 *	<prefix>_tls_security_level (none, may, encrypt, fingerprint,
 *	verify, secure, dane, dane-only: the context only records it, the
 *	smtp client enforces it and fails closed on the dane levels; an
 *	empty level follows the legacy <prefix>_use_tls/_enforce_tls; an
 *	unknown name is refused by the daemons before this, see
 *	tls_level_check()),
 *	_CAfile/_CApath (else OpenSSL's default paths), optional
 *	_cert_file/_key_file, protocols, ciphers, and the session cache.
 *
 *	Protocols use Postfix syntax: "!SSLv2, !SSLv3", ">=TLSv1.2",
 *	"<=TLSv1.3", "TLSv1.2 TLSv1.3". A spec that only excludes
 *	versions gets a floor of TLSv1.2 (documented postern default); a
 *	lower version is allowed only when named ("TLSv1", ">=TLSv1").
 *	A cipher list that OpenSSL rejects (the 2014 seed list, or a list
 *	that leaves no cipher) is not fatal: tls_set_ciphers() installs
 *	TLS_SAFE_CIPHERS and returns 1 with a warning text; TLSv1.3 suites
 *	are OpenSSL's defaults either way.
 *
 *	Session cache: "btree:/path", "hash:/path", "lmdb:/path" all mean
 *	an LMDB file /path.lmdb written directly with liblmdb (entries
 *	expire after _session_cache_timeout). A server caches sessions by
 *	id (TLSv1.2, or TLSv1.3 clients without tickets); session tickets
 *	stay enabled (SSL_OP_NO_TICKET is off unless tls_ssl_options asks
 *	for it); a server sends one TLSv1.3 ticket per full handshake
 *	(Postfix's choice; OpenSSL would send two). A client stores its
 *	session under cache_key (the nexthop and address), also when the
 *	ticket arrives after the handshake (TLSv1.3). One context per
 *	process per cache file.
 *
 *	For an event-driven server (smtpd with libevent):
 *	  ssl = tls_ssl_new(ctx, -1, NULL, NULL);
 *	  bev = bufferevent_openssl_socket_new(base, fd, ssl,
 *	      BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
 *	then tls_log_info(ssl, ...) when the handshake is done. The
 *	blocking helpers tls_handshake/tls_read/tls_write serve blocking
 *	clients (smtp) and tests: fd may be non-blocking, they poll with
 *	timeout seconds. tls_ssl_new() with fd >= 0 attaches it, for a
 *	client also sets SNI (peer, when it is a name) and resumes a
 *	cached session for cache_key.
 *
 *	tls_log_info() formats "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384
 *	(256/256 bits)" as Postfix logs it. tls_verify_peer() checks the
 *	chain result and that the certificate matches one of names
 *	(X509_check_host; a name starting with "." matches subdomains):
 *	returns 1 (verified), 0 (untrusted or mismatch; reason in err).
 * DIAGNOSTICS
 *	Constructors return NULL with a message in err (unreadable key or
 *	certificate, key mismatch, bad protocol spec): the calling service
 *	decides whether that is fatal. Warnings (cipher fallback, unknown
 *	option names, unusable cache) are logged with log_warn().
 *	tls_handshake() returns 0 or -1 with err; tls_read() returns bytes,
 *	0 at EOF, -1 on error or timeout; tls_write() 0 or -1.
 */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#define TLS_LEV_NONE	0
#define TLS_LEV_MAY	1
#define TLS_LEV_ENCRYPT	2
#define TLS_LEV_VERIFY	3
#define TLS_LEV_SECURE	4
#define TLS_LEV_FPRINT	5	/* fingerprint: match= digests */
#define TLS_LEV_DANE	6	/* TLSA per address: smtp_dane.c */
#define TLS_LEV_DANE_ONLY 7	/* dane, never downgraded */

/* TLS required: anything but none and may (dane included) */
#define TLS_REQUIRED(lev)	((lev) >= TLS_LEV_ENCRYPT)
/* The certificate's names are checked (verify, secure) */
#define TLS_NAMES_CHECKED(lev)	((lev) == TLS_LEV_VERIFY \
				 || (lev) == TLS_LEV_SECURE)

/* One smtp_tls_policy_maps entry (tls_policy.c) */
struct tls_policy {
	int	 level;		/* TLS_LEV_*, -1 invalid */
	char	*match;		/* match=, NULL if none */
	char	*protocols;	/* protocols= ("!SSLv2:!SSLv3"), or NULL */
	char	*ciphers;	/* ciphers= grade, or NULL */
};

struct mastercf;

#define TLS_SAFE_CIPHERS	"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:" \
	"ECDHE+AES:!aNULL:!eNULL:!MD5:!RC4:!3DES"
#define TLS_FLOOR_VERSION	TLS1_2_VERSION

struct tls_ctx;

struct tls_ctx *tls_server_ctx_new(const char *, char *, size_t);
struct tls_ctx *tls_client_ctx_new(const char *, char *, size_t);
void	 tls_ctx_free(struct tls_ctx *);
SSL_CTX	*tls_ctx_ssl(const struct tls_ctx *);
int	 tls_ctx_level(const struct tls_ctx *);
int	 tls_ctx_loglevel(const struct tls_ctx *);

SSL	*tls_ssl_new(struct tls_ctx *, int, const char *, const char *);
int	 tls_handshake(SSL *, int, char *, size_t);
ssize_t	 tls_read(SSL *, void *, size_t, int);
int	 tls_write(SSL *, const void *, size_t, int);
void	 tls_ssl_free(SSL *);

char	*tls_log_info(SSL *, char *, size_t);
int	 tls_verify_peer(SSL *, const char *const *, char *, size_t);
int	 tls_peer_ccert(SSL *, const char *, char *, size_t, char *, size_t,
	    char *, size_t);

int	 tls_level_parse(const char *);
const char *tls_level_name(int);
int	 tls_protocols_parse(const char *, int *, int *, long *, char *,
	    size_t);
int	 tls_set_ciphers(SSL_CTX *, const char *, const char *, char *,
	    size_t);
long	 tls_ssl_options_parse(const char *, char *, size_t);

int	 tls_level_check(const char *, const char *, char *, size_t);
int	 tls_level_conf_errors(const struct mastercf *);
int	 tls_policy_parse(const char *, struct tls_policy *, char *, size_t);
void	 tls_policy_free(struct tls_policy *);
int	 tls_fingerprint_match(SSL *, const char *, char *, size_t);

#endif
