/*
 * NAME
 *	smtpd_sasl - the server side of SMTP AUTH: PLAIN and LOGIN
 * SYNOPSIS
 *	See smtpd_sasl.h.
 * DESCRIPTION
 *	The exchange is a small state machine: IDLE, then for PLAIN
 *	without an initial response one "334 " challenge, for LOGIN
 *	"334 VXNlcm5hbWU6" (Username:) unless the AUTH command carried
 *	the name, then "334 UGFzc3dvcmQ6" (Password:). Both mechanisms end
 *	with a login name and a password, which the backend checks: the
 *	built-in one (smtpd_sasl_password_maps and smtpd_sasl_pw.c) or
 *	Dovecot (smtpd_sasl_dovecot.c).
 *
 *	Decoded fields are checked before any backend sees them: PLAIN is
 *	exactly authzid NUL authcid NUL password; the authzid must be
 *	empty or equal the authcid (postern has no proxy logins); a login
 *	name is 1..SMTPD_SASL_USER_MAX bytes without control characters
 *	(so it can reach logs, SQL and Dovecot's tab protocol safely), a
 *	password 1..SMTPD_SASL_PASS_MAX bytes without NUL.
 *
 *	An unknown login costs as much time as a wrong password (a crypt
 *	of a dummy SHA512-CRYPT hash), so replies do not tell which logins
 *	exist.
 * DIAGNOSTICS
 *	Failures are logged in Postfix's form, "warning: name[addr]: SASL
 *	PLAIN authentication failed: authentication failure,
 *	sasl_username=user"; aborts as "SASL LOGIN authentication
 *	aborted". Map and Dovecot trouble as warnings with the reason.
 *	Passwords are never logged.
 */
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "map.h"
#include "str.h"
#include "xalloc.h"
#include "smtpd_sasl.h"

#define BE_BUILTIN	1
#define BE_DOVECOT	2

#define ST_IDLE		0
#define ST_PLAIN	1	/* waiting for the PLAIN response */
#define ST_LOGIN_USER	2	/* waiting for the LOGIN name */
#define ST_LOGIN_PASS	3	/* waiting for the LOGIN password */

/* A SHA512-CRYPT hash of a random string: unknown logins cost a crypt. */
#define DUMMY_HASH	"$6$pOsTeRnDuMmY$3hM0qVq2yqQ6F4m9PzVvM0c8m6mF2gP1h8b" \
	"0m9nJ7R2mS6Pj7u8q9vQzXkqf7w2sDk1oQm0c3Hq5vUu7GiW3F0"

struct smtpd_sasl_backend {
	int	 type;
	struct maplist *maps;		/* built-in: password hashes */
	void	*crypt_ctx;		/* crypt_r() work area */
	struct smtpd_sasl_dovecot *dc;	/* dovecot */
	char	*service;		/* smtpd_sasl_service */
	struct maplist *limit_maps;	/* smtpd_sasl_rate_limit_maps */
	long	 def_msg, def_rcpt;	/* smtpd_sasl_*_rate_limit */
};

struct smtpd_sasl {
	char	*client_name;
	char	*client_addr;
	char	*server_addr;
	int	 tls;
	int	 state;
	const char *mech;		/* "PLAIN", "LOGIN", or the attempt */
	char	 mech_buf[32];
	char	*login;			/* LOGIN: the name, before the password */
	char	*username;		/* after SMTPD_SASL_OK */
	struct buf *dec;
	long	 lim_msg, lim_rcpt;	/* the login's sending limits */
};

/* smtpd_sasl_mechs - the mechanisms to advertise */
const char *
smtpd_sasl_mechs(int tls)
{
	struct strv *opts;
	const char *mechs = "PLAIN LOGIN";
	size_t	 i;

	opts = conf_list(tls ? "smtpd_sasl_tls_security_options"
	    : "smtpd_sasl_security_options");
	for (i = 0; i < opts->argc; i++)
		if (strcasecmp(opts->argv[i], "noplaintext") == 0)
			mechs = "";
	strv_free(opts);
	return (mechs);
}

/* sasl_dovecot_path - smtpd_sasl_path as Postfix reads it for dovecot */
static char *
sasl_dovecot_path(void)
{
	const char *path = conf_str("smtpd_sasl_path");

	if (*path == '/' || strncmp(path, "inet:", 5) == 0)
		return (xstrdup(path));
	return (xasprintf("%s/%s", conf_str("queue_directory"), path));
}

/* smtpd_sasl_backend_new - one worker thread's backend */
struct smtpd_sasl_backend *
smtpd_sasl_backend_new(void)
{
	static int warned;
	struct smtpd_sasl_backend *be = xcalloc(1, sizeof(*be));
	const char *type = conf_str("smtpd_sasl_type");
	char	*path;

	be->service = xstrdup(*conf_str("smtpd_sasl_service")
	    ? conf_str("smtpd_sasl_service") : "smtp");
	be->def_msg = conf_int("smtpd_sasl_message_rate_limit");
	be->def_rcpt = conf_int("smtpd_sasl_recipient_rate_limit");
	if (*conf_str("smtpd_sasl_rate_limit_maps"))
		be->limit_maps = maplist_open(
		    conf_str("smtpd_sasl_rate_limit_maps"), 0);
	if (strcasecmp(type, "dovecot") == 0) {
		be->type = BE_DOVECOT;
		path = sasl_dovecot_path();
		be->dc = smtpd_sasl_dovecot_new(path,
		    conf_time("smtpd_sasl_timeout"));
		free(path);
		return (be);
	}
	if (strcasecmp(type, "postern") != 0
	    && !__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
		log_warn("smtpd_sasl_type = %s is not available in postern; "
		    "using the built-in backend (smtpd_sasl_type = postern, "
		    "smtpd_sasl_password_maps)", type);
	be->type = BE_BUILTIN;
	be->maps = maplist_open(conf_str("smtpd_sasl_password_maps"), 0);
	return (be);
}

/* smtpd_sasl_backend_free - close maps and connections */
void
smtpd_sasl_backend_free(struct smtpd_sasl_backend *be)
{
	if (be == NULL)
		return;
	if (be->maps)
		maplist_close(be->maps);
	if (be->limit_maps)
		maplist_close(be->limit_maps);
	smtpd_sasl_dovecot_free(be->dc);
	free(be->crypt_ctx);
	free(be->service);
	free(be);
}

/* smtpd_sasl_new - exchange state for one session */
struct smtpd_sasl *
smtpd_sasl_new(const char *client_name, const char *client_addr,
    const char *server_addr, int tls)
{
	struct smtpd_sasl *sa = xcalloc(1, sizeof(*sa));

	sa->client_name = xstrdup(client_name ? client_name : "unknown");
	sa->client_addr = xstrdup(client_addr ? client_addr : "unknown");
	sa->server_addr = xstrdup(server_addr ? server_addr : "");
	sa->tls = tls;
	sa->dec = buf_new(256);
	sa->mech = "";
	return (sa);
}

/* sasl_wipe - forget the exchange (not the authenticated username) */
static void
sasl_wipe(struct smtpd_sasl *sa)
{
	if (sa->login) {
		free(sa->login);
		sa->login = NULL;
	}
	OPENSSL_cleanse(BUF_STR(sa->dec), BUF_LEN(sa->dec));
	buf_reset(sa->dec);
	sa->state = ST_IDLE;
}

/* smtpd_sasl_free - free the state */
void
smtpd_sasl_free(struct smtpd_sasl *sa)
{
	if (sa == NULL)
		return;
	sasl_wipe(sa);
	buf_free(sa->dec);
	free(sa->username);
	free(sa->client_name);
	free(sa->client_addr);
	free(sa->server_addr);
	free(sa);
}

/* smtpd_sasl_username - the login after SMTPD_SASL_OK, else NULL */
const char *
smtpd_sasl_username(const struct smtpd_sasl *sa)
{
	return (sa->username);
}

/* smtpd_sasl_limits - the login's message and recipient rate limits */
void
smtpd_sasl_limits(const struct smtpd_sasl *sa, long *msg, long *rcpt)
{
	*msg = sa ? sa->lim_msg : 0;
	*rcpt = sa ? sa->lim_rcpt : 0;
}

/* sasl_limits - look up the sending limits of a login (worker) */
static void
sasl_limits(struct smtpd_sasl *sa, struct smtpd_sasl_backend *be)
{
	const char *at = strrchr(sa->username, '@');
	char	*value = NULL, *cp, *w1, *w2, *end;
	long	 m, r = 0;
	int	 rc;

	sa->lim_msg = be->def_msg;
	sa->lim_rcpt = be->def_rcpt;
	if (be->limit_maps == NULL)
		return;
	rc = maplist_lookup(be->limit_maps, sa->username, &value);
	if (rc == MAP_NOTFOUND && at && at[1])
		rc = maplist_lookup(be->limit_maps, at, &value);
	if (rc == MAP_RETRY) {
		log_warn("smtpd_sasl_rate_limit_maps: lookup of %s: %s",
		    log_safe(sa->username), maplist_error(be->limit_maps));
		sa->lim_msg = sa->lim_rcpt = SMTPD_SASL_LIMIT_UNKNOWN;
		return;
	}
	if (rc != MAP_FOUND)
		return;
	cp = value;
	w1 = str_token(&cp, " \t,");
	w2 = str_token(&cp, " \t,");
	m = w1 ? strtol(w1, &end, 10) : -1;
	if (w1 == NULL || *end || m < 0 || (w2 && ((r = strtol(w2, &end,
	    10)) < 0 || *end))) {
		log_warn("smtpd_sasl_rate_limit_maps: %s: bad value \"%s\" "
		    "(need \"messages [recipients]\"); using the defaults",
		    log_safe(sa->username), log_safe(value));
	} else {
		sa->lim_msg = m;
		if (w2)
			sa->lim_rcpt = r;
	}
	free(value);
}

/* smtpd_sasl_method - the mechanism of the last exchange */
const char *
smtpd_sasl_method(const struct smtpd_sasl *sa)
{
	return (sa->mech);
}

/* sasl_fail - log and reply a failure of the given class */
static int
sasl_fail(struct smtpd_sasl *sa, int rc, const char *why, const char *user,
    struct buf *reply)
{
	log_warn("%s[%s]: SASL %s authentication failed: %s%s%s",
	    sa->client_name, sa->client_addr, log_safe(sa->mech), why,
	    user ? ", sasl_username=" : "", user ? log_safe(user) : "");
	buf_reset(reply);
	if (rc == SMTPD_SASL_TEMP)
		buf_printf(reply, "454 4.7.0 Temporary authentication "
		    "failure: %s", why);
	else
		buf_printf(reply, "535 5.7.8 Error: authentication failed: "
		    "%s", why);
	sasl_wipe(sa);
	return (rc);
}

/* sasl_decode_error - undecodable base64: 501 */
static int
sasl_decode_error(struct smtpd_sasl *sa, struct buf *reply)
{
	log_warn("%s[%s]: SASL %s authentication failed: Invalid base64 "
	    "data in continued response", sa->client_name, sa->client_addr,
	    log_safe(sa->mech));
	buf_reset(reply);
	buf_puts(reply, "501 5.5.2 Cannot decode response");
	sasl_wipe(sa);
	return (SMTPD_SASL_ERROR);
}

/* valid_user - a login name we pass on: no controls, sane length */
static int
valid_user(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > SMTPD_SASL_USER_MAX)
		return (0);
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return (0);
	return (1);
}

/* valid_pass - a password we pass on: no NUL, no line ends */
static int
valid_pass(const char *s, size_t len)
{
	return (len > 0 && len <= SMTPD_SASL_PASS_MAX
	    && memchr(s, 0, len) == NULL && memchr(s, '\n', len) == NULL
	    && memchr(s, '\r', len) == NULL);
}

/* builtin_check - the built-in backend: map lookup, hash check */
static int
builtin_check(struct smtpd_sasl_backend *be, const char *user,
    const char *pass, struct buf *why)
{
	char	*value = NULL, *hash, *comma;
	int	 rc, v;

	rc = maplist_lookup(be->maps, user, &value);
	if (rc == MAP_RETRY) {
		log_warn("SASL authentication: %s lookup error for \"%s\": "
		    "%s", "smtpd_sasl_password_maps", log_safe(user),
		    maplist_error(be->maps));
		buf_puts(why, "Temporary lookup failure");
		return (SMTPD_SASL_TEMP);
	}
	if (rc == MAP_NOTFOUND) {
		(void)smtpd_sasl_pw_verify(DUMMY_HASH, pass, &be->crypt_ctx);
		buf_puts(why, "authentication failure");
		return (SMTPD_SASL_FAIL);
	}
	hash = value;
	/* Dovecot's password_query shape: "user,password". */
	if ((comma = strchr(hash, ',')) != NULL) {
		if ((size_t)(comma - hash) == strlen(user)
		    && strncasecmp(hash, user, strlen(user)) == 0
		    && strchr(comma + 1, ',') == NULL)
			hash = comma + 1;
		else {
			log_warn("SASL authentication: smtpd_sasl_password_maps "
			    "returned more than one value for \"%s\"",
			    log_safe(user));
			hash = NULL;
		}
	}
	v = hash ? smtpd_sasl_pw_verify(str_trim(hash), pass,
	    &be->crypt_ctx) : 0;
	if (v < 0)
		log_warn("SASL authentication: unsupported password scheme "
		    "for \"%s\" in smtpd_sasl_password_maps", log_safe(user));
	OPENSSL_cleanse(value, strlen(value));
	free(value);
	if (v == 1)
		return (SMTPD_SASL_OK);
	buf_puts(why, "authentication failure");
	return (SMTPD_SASL_FAIL);
}

/* sasl_check - hand user/password to the backend, finish the exchange */
static int
sasl_check(struct smtpd_sasl *sa, struct smtpd_sasl_backend *be,
    const char *user, const char *pass, struct buf *reply)
{
	struct buf *why = buf_new(64);
	char	*username = NULL, *u = xstrdup(user);
	int	 rc;

	if (be->type == BE_DOVECOT)
		rc = smtpd_sasl_dovecot_auth(be->dc, be->service, user, pass,
		    sa->server_addr, sa->client_addr, sa->tls, &username,
		    why);
	else
		rc = builtin_check(be, user, pass, why);
	if (rc == SMTPD_SASL_OK) {
		free(sa->username);
		sa->username = username ? username : xstrdup(user);
		sasl_limits(sa, be);
		sasl_wipe(sa);
		buf_reset(reply);
		buf_puts(reply, "235 2.7.0 Authentication successful");
	} else {
		free(username);
		rc = sasl_fail(sa, rc, BUF_STR(why), u, reply);
	}
	free(u);
	buf_free(why);
	return (rc);
}

/* sasl_plain - a decoded PLAIN response */
static int
sasl_plain(struct smtpd_sasl *sa, struct smtpd_sasl_backend *be,
    struct buf *reply)
{
	const char *p = BUF_STR(sa->dec), *end = p + BUF_LEN(sa->dec);
	const char *authz, *authc, *pass, *nul1, *nul2;
	size_t	 zlen, clen;

	if ((nul1 = memchr(p, 0, BUF_LEN(sa->dec))) == NULL
	    || (nul2 = memchr(nul1 + 1, 0, (size_t)(end - nul1 - 1))) == NULL)
		return (sasl_fail(sa, SMTPD_SASL_FAIL,
		    "Invalid authentication data", NULL, reply));
	authz = p;
	zlen = (size_t)(nul1 - p);
	authc = nul1 + 1;
	clen = (size_t)(nul2 - authc);
	pass = nul2 + 1;
	if (!valid_user(authc, clen) || !valid_pass(pass, (size_t)(end - pass)))
		return (sasl_fail(sa, SMTPD_SASL_FAIL,
		    "Invalid authentication data", NULL, reply));
	if (zlen != 0 && (zlen != clen || memcmp(authz, authc, clen) != 0))
		return (sasl_fail(sa, SMTPD_SASL_FAIL,
		    "authorization identity differs from the login",
		    authc, reply));
	return (sasl_check(sa, be, authc, pass, reply));
}

/* sasl_login_user - the LOGIN name: ask for the password */
static int
sasl_login_user(struct smtpd_sasl *sa, struct buf *reply)
{
	if (!valid_user(BUF_STR(sa->dec), BUF_LEN(sa->dec)))
		return (sasl_fail(sa, SMTPD_SASL_FAIL,
		    "Invalid authentication data", NULL, reply));
	free(sa->login);
	sa->login = xstrdup(BUF_STR(sa->dec));
	sa->state = ST_LOGIN_PASS;
	buf_reset(reply);
	buf_puts(reply, "334 UGFzc3dvcmQ6");
	return (SMTPD_SASL_MORE);
}

/* smtpd_sasl_start - the AUTH command */
int
smtpd_sasl_start(struct smtpd_sasl *sa, struct smtpd_sasl_backend *be,
    const char *mech, const char *initial, struct buf *reply)
{
	sasl_wipe(sa);
	if (strcasecmp(mech, "PLAIN") == 0)
		sa->mech = "PLAIN";
	else if (strcasecmp(mech, "LOGIN") == 0)
		sa->mech = "LOGIN";
	else {
		snprintf(sa->mech_buf, sizeof(sa->mech_buf), "%s", mech);
		sa->mech = sa->mech_buf;
		return (sasl_fail(sa, SMTPD_SASL_FAIL,
		    "Invalid authentication mechanism", NULL, reply));
	}
	if (initial && strlen(initial) > SMTPD_SASL_LINE_MAX) {
		buf_reset(reply);
		buf_puts(reply, "500 5.5.6 SASL response limit exceeded");
		return (SMTPD_SASL_ERROR);
	}
	if (initial && strcmp(initial, "=") == 0)
		initial = "";			/* RFC 4954: empty response */
	if (initial && smtpd_sasl_b64_decode(initial, sa->dec) < 0)
		return (sasl_decode_error(sa, reply));
	if (*sa->mech == 'P') {
		if (initial == NULL) {
			sa->state = ST_PLAIN;
			buf_reset(reply);
			buf_puts(reply, "334 ");
			return (SMTPD_SASL_MORE);
		}
		return (sasl_plain(sa, be, reply));
	}
	if (initial == NULL) {
		sa->state = ST_LOGIN_USER;
		buf_reset(reply);
		buf_puts(reply, "334 VXNlcm5hbWU6");
		return (SMTPD_SASL_MORE);
	}
	return (sasl_login_user(sa, reply));
}

/* smtpd_sasl_step - a client response line */
int
smtpd_sasl_step(struct smtpd_sasl *sa, struct smtpd_sasl_backend *be,
    const char *line, struct buf *reply)
{
	char	*user;
	int	 rc;

	if (sa->state == ST_IDLE)
		log_panic("smtpd_sasl_step: no exchange in progress");
	if (strcmp(line, "*") == 0) {
		log_warn("%s[%s]: SASL %s authentication aborted",
		    sa->client_name, sa->client_addr, sa->mech);
		sasl_wipe(sa);
		buf_reset(reply);
		buf_puts(reply, "501 5.7.0 Authentication aborted");
		return (SMTPD_SASL_ERROR);
	}
	if (strlen(line) > SMTPD_SASL_LINE_MAX) {
		log_warn("%s[%s]: SASL %s authentication failed: "
		    "response limit exceeded", sa->client_name,
		    sa->client_addr, sa->mech);
		sasl_wipe(sa);
		buf_reset(reply);
		buf_puts(reply, "500 5.5.6 SASL response limit exceeded");
		return (SMTPD_SASL_ERROR);
	}
	if (smtpd_sasl_b64_decode(line, sa->dec) < 0)
		return (sasl_decode_error(sa, reply));
	switch (sa->state) {
	case ST_PLAIN:
		return (sasl_plain(sa, be, reply));
	case ST_LOGIN_USER:
		return (sasl_login_user(sa, reply));
	default:
		if (!valid_pass(BUF_STR(sa->dec), BUF_LEN(sa->dec)))
			return (sasl_fail(sa, SMTPD_SASL_FAIL,
			    "Invalid authentication data", sa->login, reply));
		user = xstrdup(sa->login);
		rc = sasl_check(sa, be, user, BUF_STR(sa->dec), reply);
		free(user);
		return (rc);
	}
}
