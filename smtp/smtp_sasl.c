/*
 * NAME
 *	smtp_sasl - client AUTH: password lookup, mechanism choice, encoding
 * SYNOPSIS
 *	See smtp.h.
 * DESCRIPTION
 *	smtp_sasl_lookup() searches smtp_sasl_password_maps for the
 *	nexthop as qmgr gave it ("[smtp.isp.example]:587"), then the
 *	remote host name, then the nexthop's bare host/domain, as
 *	Postfix does; the value is "user:password" (the first ':'
 *	splits). Returns MAP_FOUND, MAP_NOTFOUND or MAP_RETRY.
 *
 *	smtp_sasl_choose() picks PLAIN, then LOGIN, from the server's
 *	AUTH list, after smtp_sasl_mechanism_filter; both are plaintext
 *	mechanisms, so a "noplaintext" in smtp_sasl_security_options
 *	(without TLS) or smtp_sasl_tls_security_options (with TLS) leaves
 *	none (NULL).
 *
 *	smtp_sasl_plain() is the base64 of "\0user\0pass".
 * DIAGNOSTICS
 *	smtp_unbase64() returns NULL for malformed input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "map.h"
#include "smtp.h"
#include "str.h"
#include "xalloc.h"

/* split - "user:pass" */
static int
split(const char *value, char **user, char **pass)
{
	const char *c = strchr(value, ':');

	if (c == NULL || c == value)
		return (-1);
	*user = xstrndup(value, (size_t)(c - value));
	*pass = xstrdup(c + 1);
	return (0);
}

/* smtp_sasl_lookup - credentials for this nexthop/host */
int
smtp_sasl_lookup(struct smtp_maps *m, const char *nexthop, const char *host,
    char **user, char **pass, char *err, size_t errlen)
{
	char	 bare[300], *value = NULL;
	const char *keys[3];
	const char *p = nexthop;
	size_t	 i, n;
	int	 rc = MAP_NOTFOUND;

	*user = *pass = NULL;
	if (m->sasl == NULL)
		return (MAP_NOTFOUND);
	if (strncmp(p, "inet:", 5) == 0)
		p += 5;
	if (*p == '[') {
		n = strcspn(p + 1, "]");
		snprintf(bare, sizeof(bare), "%.*s", (int)n, p + 1);
	} else {
		n = strcspn(p, ":");
		snprintf(bare, sizeof(bare), "%.*s", (int)n, p);
	}
	keys[0] = nexthop;
	keys[1] = host;
	keys[2] = bare;
	for (i = 0; i < 3; i++) {
		if (keys[i] == NULL || *keys[i] == 0)
			continue;
		rc = maplist_lookup(m->sasl, keys[i], &value);
		if (rc == MAP_RETRY) {
			snprintf(err, errlen, "smtp_sasl_password_maps: %s",
			    maplist_error(m->sasl));
			return (MAP_RETRY);
		}
		if (rc == MAP_FOUND)
			break;
	}
	if (rc != MAP_FOUND)
		return (MAP_NOTFOUND);
	if (split(value, user, pass) < 0) {
		snprintf(err, errlen, "smtp_sasl_password_maps: value for %s "
		    "is not user:password", keys[i]);
		free(value);
		return (MAP_RETRY);
	}
	free(value);
	return (MAP_FOUND);
}

/* offered_has - is mech in the space-separated list? */
static int
offered_has(const char *list, const char *mech)
{
	char	*copy = xstrdup(list), *cp = copy, *tok;
	int	 found = 0;

	while (!found && (tok = str_token(&cp, " \t")) != NULL)
		found = strcasecmp(tok, mech) == 0;
	free(copy);
	return (found);
}

/* smtp_sasl_choose - PLAIN or LOGIN, or NULL */
const char *
smtp_sasl_choose(const struct smtp_cfg *cfg, const char *offered, int tls)
{
	static const char *const mechs[] = {"PLAIN", "LOGIN"};
	size_t	 i;

	if (tls ? cfg->sasl_tls_noplain : cfg->sasl_noplain)
		return (NULL);
	for (i = 0; i < 2; i++) {
		if (!offered_has(offered, mechs[i]))
			continue;
		if (cfg->sasl_filter && *cfg->sasl_filter
		    && !offered_has(cfg->sasl_filter, mechs[i]))
			continue;
		return (mechs[i]);
	}
	return (NULL);
}

/* smtp_base64 - encode */
char *
smtp_base64(const char *data, size_t len)
{
	char	*out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data,
	    (int)len);
	return (out);
}

/* smtp_unbase64 - decode; NULL when malformed */
char *
smtp_unbase64(const char *text)
{
	size_t	 len = strlen(text), pad = 0;
	char	*out;
	int	 n;

	if (len % 4 != 0)
		return (NULL);
	out = xmalloc(len / 4 * 3 + 1);
	if ((n = EVP_DecodeBlock((unsigned char *)out,
	    (const unsigned char *)text, (int)len)) < 0) {
		free(out);
		return (NULL);
	}
	if (len >= 1 && text[len - 1] == '=')
		pad++;
	if (len >= 2 && text[len - 2] == '=')
		pad++;
	out[n - (int)pad] = 0;
	return (out);
}

/* smtp_sasl_plain - base64("\0user\0pass") */
char *
smtp_sasl_plain(const char *user, const char *pass)
{
	size_t	 ul = strlen(user), pl = strlen(pass);
	char	*raw = xmalloc(ul + pl + 2), *out;

	raw[0] = 0;
	memcpy(raw + 1, user, ul);
	raw[ul + 1] = 0;
	memcpy(raw + ul + 2, pass, pl);
	out = smtp_base64(raw, ul + pl + 2);
	free(raw);
	return (out);
}
