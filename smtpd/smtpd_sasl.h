/*
 * NAME
 *	smtpd_sasl - the server side of SMTP AUTH (RFC 4954): PLAIN, LOGIN
 * SYNOPSIS
 *	#include "smtpd_sasl.h"
 *
 *	const char *smtpd_sasl_mechs(int tls);
 *
 *	struct smtpd_sasl_backend *smtpd_sasl_backend_new(void);
 *	void	smtpd_sasl_backend_free(struct smtpd_sasl_backend *be);
 *
 *	struct smtpd_sasl *smtpd_sasl_new(const char *client_name,
 *	    const char *client_addr, const char *server_addr, int tls);
 *	int	smtpd_sasl_start(struct smtpd_sasl *sa,
 *	    struct smtpd_sasl_backend *be, const char *mech,
 *	    const char *initial, struct buf *reply);
 *	int	smtpd_sasl_step(struct smtpd_sasl *sa,
 *	    struct smtpd_sasl_backend *be, const char *line,
 *	    struct buf *reply);
 *	const char *smtpd_sasl_username(const struct smtpd_sasl *sa);
 *	const char *smtpd_sasl_method(const struct smtpd_sasl *sa);
 *	void	smtpd_sasl_limits(const struct smtpd_sasl *sa, long *msg,
 *	    long *rcpt);
 *	void	smtpd_sasl_free(struct smtpd_sasl *sa);
 *
 *	int	smtpd_sasl_pw_verify(const char *stored, const char *password,
 *	    void **crypt_ctx);
 *	int	smtpd_sasl_b64_decode(const char *in, struct buf *out);
 *	void	smtpd_sasl_b64_encode(const void *in, size_t len,
 *	    struct buf *out);
 * DESCRIPTION
 *	No sockets of the session, no event loop: the session reads the
 *	lines and writes the replies, this module decides them. The
 *	backend calls block (a map query, a password hash, a round trip to
 *	Dovecot), so smtpd_sasl_start() and smtpd_sasl_step() run on a
 *	worker thread (lib/workq.h) with that thread's backend.
 *
 *	smtpd_sasl_mechs() is what EHLO advertises after "250-AUTH ": "PLAIN
 *	LOGIN", or "" when smtpd_sasl_security_options (without TLS) or
 *	smtpd_sasl_tls_security_options (with TLS) contain noplaintext.
 *	Whether to advertise at all (smtpd_sasl_auth_enable,
 *	smtpd_tls_auth_only) is the session's decision.
 *
 *	smtpd_sasl_backend_new() is called once per worker thread (the
 *	workq init callback) and reads smtpd_sasl_type:
 *	.IP postern
 *	(the default) the built-in backend: the password hash is looked
 *	up by the login name in smtpd_sasl_password_maps (e.g. mysql: with
 *	"SELECT password FROM virtual_users WHERE email='%s'"; a result
 *	"user,hash" as from Dovecot's password_query shape is accepted
 *	too) and checked by scheme (see smtpd_sasl_pw_verify()).
 *	.IP dovecot
 *	Dovecot's auth protocol 1.1 on smtpd_sasl_path: relative to
 *	queue_directory (Postfix: "private/auth"), an absolute UNIX socket
 *	path, or inet:host:port. One connection per backend (thread),
 *	opened on first use and again after any failure. Both mechanisms
 *	reach Dovecot as a single PLAIN request, so Dovecot's
 *	auth_mechanisms = plain (the seed's) is enough.
 *	.IP cyrus
 *	not available: a warning, then the built-in backend.
 *	.PP
 *	smtpd_sasl_new() starts one AUTH exchange state for a session
 *	(client_name "unknown" when not verified; strings are copied).
 *	smtpd_sasl_start() takes the AUTH command's mechanism and optional
 *	initial response ("=" is the empty response); smtpd_sasl_step()
 *	takes each following client line (without CRLF). Both put one
 *	reply line (without CRLF) in reply and return:
 *	.IP SMTPD_SASL_MORE
 *	reply is a "334 ..." challenge: read a line, call smtpd_sasl_step().
 *	.IP SMTPD_SASL_OK
 *	"235 2.7.0 Authentication successful"; smtpd_sasl_username() is
 *	the login (put it in smtpd_check_state.sasl_username).
 *	.IP SMTPD_SASL_FAIL
 *	"535 5.7.8 Error: authentication failed: ..." (wrong password,
 *	unknown user, "Invalid authentication mechanism", "Invalid
 *	authentication data" for a malformed PLAIN or LOGIN field, an
 *	authzid that is not the login): count it toward the client's
 *	failure limit and delay.
 *	.IP SMTPD_SASL_TEMP
 *	"454 4.7.0 Temporary authentication failure: ..." (map or Dovecot
 *	unavailable, timeout).
 *	.IP SMTPD_SASL_ERROR
 *	"501 5.5.2 Cannot decode response" (bad base64), "501 5.7.0
 *	Authentication aborted" (the client sent "*"), "500 5.5.6 SASL
 *	response limit exceeded" (over SMTPD_SASL_LINE_MAX).
 *	.PP
 *	After any result other than MORE the exchange is over; the same
 *	struct may start another one. smtpd_sasl_method() is "PLAIN" or
 *	"LOGIN" (static strings) after SMTPD_SASL_OK. Failures are logged as Postfix does,
 *	so fail2ban's postfix-sasl filter matches: "warning:
 *	name[addr]: SASL LOGIN authentication failed: authentication
 *	failure, sasl_username=user". Passwords are never logged.
 *
 *	smtpd_sasl_limits() gives the login's sending limits after
 *	SMTPD_SASL_OK (postern's own, counted by anvil per login):
 *	smtpd_sasl_rate_limit_maps is looked up by the login, then by
 *	"@domain" of a login with one; its value is "MESSAGES
 *	[RECIPIENTS]" per smtpd_sasl_rate_time_unit (0 = no limit; a
 *	missing RECIPIENTS keeps smtpd_sasl_recipient_rate_limit);
 *	without an entry the limits are smtpd_sasl_message_rate_limit
 *	and smtpd_sasl_recipient_rate_limit. A table that cannot be read
 *	gives SMTPD_SASL_LIMIT_UNKNOWN for both (the caller answers MAIL
 *	with a 4xx); a malformed value is logged and the defaults apply.
 *
 *	smtpd_sasl_pw_verify() checks a password against a stored value
 *	(1 match, 0 mismatch, -1 unknown or unsupported scheme).
 *	*crypt_ctx caches crypt_r()'s work area (free() it). Schemes, in
 *	this order: a Dovecot "{SCHEME}" prefix: SHA512-CRYPT,
 *	SHA256-CRYPT, BLF-CRYPT, MD5-CRYPT, CRYPT (crypt(3) form),
 *	PLAIN-MD5 and LDAP-MD5, SHA/SHA1, SHA256, SHA512, SSHA, SSHA256,
 *	SSHA512 (hex or base64, as Dovecot), PLAIN/CLEARTEXT; then an
 *	unprefixed crypt(3) value ($6$, $5$, $2y$/$2b$/$2a$ when libcrypt
 *	has bcrypt, $y$, $1$); then 32 hex digits, the seed database
 *	page's MD5('...') (Dovecot's PLAIN-MD5). Anything else, plain text
 *	included, matches nothing. Comparisons are constant-time.
 *
 *	smtpd_sasl_b64_decode() is strict RFC 4648 base64 (no whitespace,
 *	padding only at the end); -1 on malformed input.
 * DIAGNOSTICS
 *	Backend trouble is logged as a warning (map_error(), Dovecot's
 *	reason) and answered with TEMP, never FAIL.
 * SEE ALSO
 *	smtpd_check(3) for permit_sasl_authenticated and
 *	reject_sender_login_mismatch.
 */
#ifndef SMTPD_SASL_H
#define SMTPD_SASL_H

#include <stddef.h>

#include "buf.h"

#define SMTPD_SASL_MORE		0
#define SMTPD_SASL_OK		1
#define SMTPD_SASL_FAIL		2
#define SMTPD_SASL_TEMP		3
#define SMTPD_SASL_ERROR	4

/* Longest client response line (Postfix's smtpd_sasl_response_limit). */
#define SMTPD_SASL_LINE_MAX	12288
/* Longest decoded login name and password. */
#define SMTPD_SASL_USER_MAX	256
#define SMTPD_SASL_PASS_MAX	1024
/* smtpd_sasl_limits(): the limit table could not be read */
#define SMTPD_SASL_LIMIT_UNKNOWN	(-1)

struct smtpd_sasl;
struct smtpd_sasl_backend;

const char *smtpd_sasl_mechs(int);

struct smtpd_sasl_backend *smtpd_sasl_backend_new(void);
void	 smtpd_sasl_backend_free(struct smtpd_sasl_backend *);

struct smtpd_sasl *smtpd_sasl_new(const char *, const char *, const char *,
	    int);
int	 smtpd_sasl_start(struct smtpd_sasl *, struct smtpd_sasl_backend *,
	    const char *, const char *, struct buf *);
int	 smtpd_sasl_step(struct smtpd_sasl *, struct smtpd_sasl_backend *,
	    const char *, struct buf *);
const char *smtpd_sasl_username(const struct smtpd_sasl *);
const char *smtpd_sasl_method(const struct smtpd_sasl *);
void	 smtpd_sasl_limits(const struct smtpd_sasl *, long *, long *);
void	 smtpd_sasl_free(struct smtpd_sasl *);

int	 smtpd_sasl_pw_verify(const char *, const char *, void **);
int	 smtpd_sasl_b64_decode(const char *, struct buf *);
void	 smtpd_sasl_b64_encode(const void *, size_t, struct buf *);

/* Dovecot client (smtpd_sasl_dovecot.c), used by smtpd_sasl.c. */
struct smtpd_sasl_dovecot;
struct smtpd_sasl_dovecot *smtpd_sasl_dovecot_new(const char *, long);
void	 smtpd_sasl_dovecot_free(struct smtpd_sasl_dovecot *);
int	 smtpd_sasl_dovecot_auth(struct smtpd_sasl_dovecot *, const char *,
	    const char *, const char *, const char *, const char *, int,
	    char **, struct buf *);

#endif
