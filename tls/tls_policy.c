/*
 * NAME
 *	tls_policy - TLS security levels, smtp_tls_policy_maps entries,
 *	certificate fingerprints
 * SYNOPSIS
 *	#include "tls.h"
 *
 *	int	tls_level_check(const char *param, const char *value,
 *	    char *err, size_t errlen);
 *	int	tls_level_conf_errors(const struct mastercf *m);
 *	int	tls_policy_parse(const char *value, struct tls_policy *p,
 *	    char *err, size_t errlen);
 *	void	tls_policy_free(struct tls_policy *p);
 *	int	tls_fingerprint_match(SSL *ssl, const char *match,
 *	    char *err, size_t errlen);
 * DESCRIPTION
 *	The one reader of a TLS security level for every daemon and for
 *	"postern check". Postfix's names: none, may, encrypt, dane,
 *	dane-only, fingerprint, verify, secure (case-insensitive).
 *
 *	tls_level_check() returns the TLS_LEV_* of value for parameter
 *	param (smtpd_tls_security_level, smtp_tls_security_level,
 *	lmtp_tls_security_level), -2 for an empty value (the legacy
 *	use_tls and enforce_tls decide), or -1 with Postfix's message
 *	'Invalid TLS level "X"' in err: an unknown name, and for the
 *	server (smtpd_*) the client-only dane and dane-only, as Postfix's
 *	smtpd does.
 *
 *	tls_level_conf_errors() checks those three parameters in main.cf
 *	and in every master.cf -o override (m may be NULL), logs each
 *	error with log_error() and returns how many; "postern check",
 *	start and reload refuse the configuration when it is not 0.
 *
 *	tls_policy_parse() reads one smtp_tls_policy_maps value as
 *	Postfix writes it: "level [name=value ...]", attributes match=
 *	(verify, secure: names separated by ':'; fingerprint: digests
 *	separated by '|'), protocols= (':' separated, Postfix syntax),
 *	ciphers= (a grade; accepted, the context's list is used) and
 *	exclude= (accepted, ignored). An unknown level or attribute
 *	returns -1 with the reason (the caller defers: a policy that
 *	cannot be read never becomes plaintext).
 *
 *	tls_fingerprint_match() returns 1 when the SHA-256 digest of the
 *	peer's certificate or of its public key equals one of the
 *	'|'-separated match values (hex, colons optional, any case),
 *	else 0 with the certificate's digest in err.
 * DIAGNOSTICS
 *	See above; nothing here exits.
 * SEE ALSO
 *	Postfix's postconf(5) smtp_tls_policy_maps, TLS_README.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "conf.h"
#include "log.h"
#include "mastercf.h"
#include "str.h"
#include "tls.h"
#include "xalloc.h"

static const char *const level_params[] = {
	"smtpd_tls_security_level", "smtp_tls_security_level",
	"lmtp_tls_security_level", NULL,
};

/* tls_level_check - a level parameter's value, Postfix's verdict */
int
tls_level_check(const char *param, const char *value, char *err,
    size_t errlen)
{
	int	 lev;

	if (value == NULL || *value == 0)
		return (-2);
	lev = tls_level_parse(value);
	if (lev >= 0 && strncmp(param, "smtpd_", 6) == 0
	    && (lev == TLS_LEV_DANE || lev == TLS_LEV_DANE_ONLY))
		lev = -1;
	if (lev < 0)
		snprintf(err, errlen, "Invalid TLS level \"%s\"",
		    log_safe(value));
	return (lev);
}

/* level_param - one of level_params, or NULL */
static const char *
level_param(const char *opt, const char **value)
{
	size_t	 i, n;

	for (i = 0; level_params[i]; i++) {
		n = strlen(level_params[i]);
		if (strncmp(opt, level_params[i], n) == 0 && opt[n] == '=') {
			*value = opt + n + 1;
			return (level_params[i]);
		}
	}
	return (NULL);
}

/* tls_level_conf_errors - bad levels in main.cf and master.cf -o */
int
tls_level_conf_errors(const struct mastercf *m)
{
	const struct mastercf_service *s;
	const char *name, *value;
	char	 err[300], *exp;
	size_t	 i, j;
	int	 bad = 0;

	for (i = 0; level_params[i]; i++)
		if (tls_level_check(level_params[i], conf_str(level_params[i]),
		    err, sizeof(err)) == -1) {
			log_error("main.cf: %s: %s", level_params[i], err);
			bad++;
		}
	for (i = 0; m && i < m->nsvc; i++) {
		s = &m->svc[i];
		for (j = 0; j < s->options->argc; j++) {
			if ((name = level_param(s->options->argv[j],
			    &value)) == NULL)
				continue;
			exp = conf_expand(value);
			if (tls_level_check(name, exp, err, sizeof(err)) == -1) {
				log_error("%s, line %d: service %s/%s: %s: %s",
				    s->file, s->line, s->name, s->type, name,
				    err);
				bad++;
			}
			free(exp);
		}
	}
	return (bad);
}

/* policy_attr - one name=value of a policy entry */
static int
policy_attr(struct tls_policy *p, const char *tok, char *err,
    size_t errlen)
{
	const char *eq = strchr(tok, '=');
	size_t	 n = eq ? (size_t)(eq - tok) : 0;

	if (eq == NULL) {
		snprintf(err, errlen, "invalid attribute \"%s\" (not "
		    "name=value)", log_safe(tok));
		return (-1);
	}
	if (n == 5 && strncasecmp(tok, "match", 5) == 0) {
		char	*m = p->match ? xasprintf("%s%c%s", p->match,
		    p->level == TLS_LEV_FPRINT ? '|' : ':', eq + 1)
		    : xstrdup(eq + 1);

		free(p->match);
		p->match = m;
	} else if (n == 9 && strncasecmp(tok, "protocols", 9) == 0) {
		free(p->protocols);
		p->protocols = xstrdup(eq + 1);
	} else if (n == 7 && strncasecmp(tok, "ciphers", 7) == 0) {
		free(p->ciphers);
		p->ciphers = xstrdup(eq + 1);
	} else if (!(n == 7 && strncasecmp(tok, "exclude", 7) == 0)) {
		snprintf(err, errlen, "invalid attribute name \"%.*s\"",
		    (int)(n > 64 ? 64 : n), log_safe(tok));
		return (-1);
	}
	return (0);
}

/* tls_policy_parse - "level [name=value ...]" */
int
tls_policy_parse(const char *value, struct tls_policy *p, char *err,
    size_t errlen)
{
	char	*copy = xstrdup(value ? value : ""), *cp = copy, *tok;
	int	 rc = 0;

	memset(p, 0, sizeof(*p));
	if ((tok = str_token(&cp, " \t\r\n,")) == NULL
	    || (p->level = tls_level_parse(tok)) < 0) {
		snprintf(err, errlen, "invalid TLS security level \"%s\"",
		    log_safe(tok ? tok : ""));
		p->level = -1;
		free(copy);
		return (-1);
	}
	while (rc == 0 && (tok = str_token(&cp, " \t\r\n,")) != NULL)
		rc = policy_attr(p, tok, err, errlen);
	if (rc == 0 && p->match && p->level != TLS_LEV_FPRINT
	    && p->level != TLS_LEV_VERIFY && p->level != TLS_LEV_SECURE) {
		snprintf(err, errlen, "match= is not allowed at level %s",
		    tls_level_name(p->level));
		rc = -1;
	}
	if (rc == 0 && p->level == TLS_LEV_FPRINT && p->match == NULL) {
		snprintf(err, errlen, "level fingerprint without match=");
		rc = -1;
	}
	free(copy);
	if (rc < 0) {
		tls_policy_free(p);
		p->level = -1;
	}
	return (rc);
}

/* tls_policy_free - release the strings */
void
tls_policy_free(struct tls_policy *p)
{
	free(p->match);
	free(p->protocols);
	free(p->ciphers);
	p->match = p->protocols = p->ciphers = NULL;
}

/* hex_norm - lower-case hex without colons into out; 0 if not hex */
static int
hex_norm(const char *in, size_t len, char *out, size_t outlen)
{
	size_t	 i, n = 0;

	for (i = 0; i < len; i++) {
		if (in[i] == ':' || isspace((unsigned char)in[i]))
			continue;
		if (!isxdigit((unsigned char)in[i]) || n + 1 >= outlen)
			return (0);
		out[n++] = (char)tolower((unsigned char)in[i]);
	}
	out[n] = 0;
	return (n > 0);
}

/* digest_hex - SHA-256 of der as lower-case hex */
static void
digest_hex(const unsigned char *der, int len, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	out[0] = 0;
	if (len <= 0 || !EVP_Digest(der, (size_t)len, md, &mdlen,
	    EVP_sha256(), NULL))
		return;
	for (i = 0; i < mdlen && 2 * i + 2 < outlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* tls_fingerprint_match - cert or public-key SHA-256 in match */
int
tls_fingerprint_match(SSL *ssl, const char *match, char *err, size_t errlen)
{
	X509	*cert = SSL_get0_peer_certificate(ssl);
	unsigned char *der = NULL;
	char	 cfp[2 * EVP_MAX_MD_SIZE + 1], kfp[2 * EVP_MAX_MD_SIZE + 1];
	char	 want[2 * EVP_MAX_MD_SIZE + 1];
	const char *cp = match ? match : "", *bar;
	int	 len;

	if (cert == NULL) {
		snprintf(err, errlen, "no server certificate");
		return (0);
	}
	len = i2d_X509(cert, &der);
	digest_hex(der, len, cfp, sizeof(cfp));
	OPENSSL_free(der);
	der = NULL;
	len = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
	digest_hex(der, len, kfp, sizeof(kfp));
	OPENSSL_free(der);
	for (; *cp; cp = *bar ? bar + 1 : bar) {
		bar = cp + strcspn(cp, "|");
		if (hex_norm(cp, (size_t)(bar - cp), want, sizeof(want))
		    && (strcmp(want, cfp) == 0 || strcmp(want, kfp) == 0))
			return (1);
	}
	snprintf(err, errlen, "certificate fingerprint sha256 %s does not "
	    "match", cfp);
	return (0);
}
