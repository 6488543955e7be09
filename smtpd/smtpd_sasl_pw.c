/*
 * NAME
 *	smtpd_sasl_pw - password hash schemes and base64 for smtpd_sasl
 * SYNOPSIS
 *	See smtpd_sasl.h: smtpd_sasl_pw_verify(), smtpd_sasl_b64_decode(),
 *	smtpd_sasl_b64_encode().
 * DESCRIPTION
 *	The stored value decides the scheme: a Dovecot "{SCHEME}" prefix
 *	first, then a crypt(3) "$id$" prefix, then 32 hex digits (MySQL's
 *	MD5(), the seed database page's form). crypt(3) schemes go through
 *	crypt_r() (libxcrypt): whatever it does not support (bcrypt on some
 *	systems) returns a failure token, which is "unsupported", never a
 *	match. Digest schemes use libcrypto; every final comparison is
 *	CRYPTO_memcmp() on equal lengths.
 * DIAGNOSTICS
 *	-1 for an unknown or unsupported scheme; the caller logs it.
 */
#include <sys/types.h>
#include <crypt.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "buf.h"
#include "xalloc.h"
#include "smtpd_sasl.h"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* smtpd_sasl_b64_encode - append base64 of in to out */
void
smtpd_sasl_b64_encode(const void *in, size_t len, struct buf *out)
{
	const unsigned char *p = in;
	size_t	 i;

	for (i = 0; i + 2 < len; i += 3) {
		buf_putc(out, b64chars[p[i] >> 2]);
		buf_putc(out, b64chars[((p[i] & 3) << 4) | (p[i + 1] >> 4)]);
		buf_putc(out, b64chars[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)]);
		buf_putc(out, b64chars[p[i + 2] & 63]);
	}
	if (len - i == 1) {
		buf_putc(out, b64chars[p[i] >> 2]);
		buf_putc(out, b64chars[(p[i] & 3) << 4]);
		buf_puts(out, "==");
	} else if (len - i == 2) {
		buf_putc(out, b64chars[p[i] >> 2]);
		buf_putc(out, b64chars[((p[i] & 3) << 4) | (p[i + 1] >> 4)]);
		buf_putc(out, b64chars[(p[i + 1] & 15) << 2]);
		buf_putc(out, '=');
	}
}

/* b64_value - the 6-bit value of a base64 character, -1 if none */
static int
b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '+')
		return (62);
	if (c == '/')
		return (63);
	return (-1);
}

/* smtpd_sasl_b64_decode - strict base64 into out (reset first) */
int
smtpd_sasl_b64_decode(const char *in, struct buf *out)
{
	size_t	 len = strlen(in), i, pad = 0;
	int	 v[4], k;

	buf_reset(out);
	if (len % 4 != 0)
		return (-1);
	if (len > 0 && in[len - 1] == '=')
		pad++;
	if (len > 1 && in[len - 2] == '=')
		pad++;
	for (i = 0; i < len; i += 4) {
		for (k = 0; k < 4; k++) {
			if (i + k >= len - pad) {
				v[k] = 0;
				continue;
			}
			if ((v[k] = b64_value((unsigned char)in[i + k])) < 0)
				return (-1);
		}
		buf_putc(out, (v[0] << 2) | (v[1] >> 4));
		if (i + 4 < len || pad < 2)
			buf_putc(out, ((v[1] & 15) << 4) | (v[2] >> 2));
		if (i + 4 < len || pad < 1)
			buf_putc(out, ((v[2] & 3) << 6) | v[3]);
	}
	return (0);
}

/* pw_crypt - crypt_r() comparison: 1, 0, or -1 when unsupported */
static int
pw_crypt(const char *hash, const char *password, void **ctx)
{
	const char *got;
	size_t	 hlen = strlen(hash);

	if (*ctx == NULL)
		*ctx = xcalloc(1, sizeof(struct crypt_data));
	got = crypt_r(password, hash, (struct crypt_data *)*ctx);
	if (got == NULL || *got == '*' || *got == 0)
		return (-1);
	if (strlen(got) != hlen)
		return (0);
	return (CRYPTO_memcmp(got, hash, hlen) == 0);
}

/* hex_decode - hex digits into out; -1 unless all hex and even */
static int
hex_decode(const char *in, struct buf *out)
{
	size_t	 i, len = strlen(in);
	char	 pair[3] = {0, 0, 0};

	buf_reset(out);
	if (len % 2)
		return (-1);
	for (i = 0; i < len; i += 2) {
		if (!isxdigit((unsigned char)in[i])
		    || !isxdigit((unsigned char)in[i + 1]))
			return (-1);
		pair[0] = in[i];
		pair[1] = in[i + 1];
		buf_putc(out, (int)strtol(pair, NULL, 16));
	}
	return (0);
}

/*
 * pw_digest - Dovecot's digest schemes: stored is hex or base64 of
 * H(password) (salted: H(password + salt) followed by the salt).
 */
static int
pw_digest(const EVP_MD *md, int salted, const char *stored,
    const char *password)
{
	struct buf *raw = buf_new(128), *in = buf_new(256);
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	size_t	 mdlen;
	int	 rc = -1;

	if (md == NULL)
		goto out;
	mdlen = (size_t)EVP_MD_get_size(md);
	if (!salted && strlen(stored) == 2 * mdlen) {
		if (hex_decode(stored, raw) < 0)
			goto out;
	} else if (smtpd_sasl_b64_decode(stored, raw) < 0)
		goto out;
	if (BUF_LEN(raw) < mdlen || (!salted && BUF_LEN(raw) != mdlen))
		goto out;
	buf_puts(in, password);
	buf_append(in, BUF_STR(raw) + mdlen, BUF_LEN(raw) - mdlen);
	if (!EVP_Digest(BUF_STR(in), BUF_LEN(in), dig, &dlen, md, NULL)
	    || dlen != mdlen)
		goto out;
	rc = CRYPTO_memcmp(dig, BUF_STR(raw), mdlen) == 0;
out:
	OPENSSL_cleanse(BUF_STR(in), BUF_LEN(in));
	buf_free(in);
	buf_free(raw);
	return (rc);
}

/* pw_plain - constant-time comparison with a cleartext value */
static int
pw_plain(const char *stored, const char *password)
{
	size_t	 a = strlen(stored), b = strlen(password);

	return (a == b && CRYPTO_memcmp(stored, password, a) == 0);
}

/* md5_hex - 32 hex digits? */
static int
md5_hex(const char *s)
{
	size_t	 i;

	for (i = 0; i < 32; i++)
		if (!isxdigit((unsigned char)s[i]))
			return (0);
	return (s[32] == 0);
}

/* crypt_form - an unprefixed crypt(3) value with a known $id$ */
static int
crypt_form(const char *s)
{
	static const char *ids[] = {"$6$", "$5$", "$2y$", "$2b$", "$2a$",
	    "$y$", "$gy$", "$7$", "$1$", NULL};
	int	 i;

	for (i = 0; ids[i]; i++)
		if (strncmp(s, ids[i], strlen(ids[i])) == 0)
			return (1);
	return (0);
}

/* smtpd_sasl_pw_verify - check a password against a stored value */
int
smtpd_sasl_pw_verify(const char *stored, const char *password, void **ctx)
{
	static const struct {
		const char *name;
		const char *prefix;	/* crypt schemes: required $id$ */
		const char *digest;	/* digest schemes: EVP name */
		int	 salted;
	} schemes[] = {
		{"SHA512-CRYPT", "$6$", NULL, 0},
		{"SHA256-CRYPT", "$5$", NULL, 0},
		{"BLF-CRYPT", "$2", NULL, 0},
		{"MD5-CRYPT", "$1$", NULL, 0},
		{"CRYPT", "", NULL, 0},
		{"DES-CRYPT", "", NULL, 0},
		{"PLAIN-MD5", NULL, "MD5", 0},
		{"LDAP-MD5", NULL, "MD5", 0},
		{"SHA", NULL, "SHA1", 0},
		{"SHA1", NULL, "SHA1", 0},
		{"SHA256", NULL, "SHA256", 0},
		{"SHA512", NULL, "SHA512", 0},
		{"SMD5", NULL, "MD5", 1},
		{"SSHA", NULL, "SHA1", 1},
		{"SSHA256", NULL, "SHA256", 1},
		{"SSHA512", NULL, "SHA512", 1},
		{NULL, NULL, NULL, 0},
	};
	const char *end, *value;
	size_t	 nlen;
	int	 i;

	if (stored == NULL || password == NULL)
		return (-1);
	if (*stored == '{' && (end = strchr(stored, '}')) != NULL) {
		nlen = (size_t)(end - stored - 1);
		value = end + 1;
		if ((nlen == 5 && strncasecmp(stored + 1, "PLAIN", 5) == 0)
		    || (nlen == 9
		    && strncasecmp(stored + 1, "CLEARTEXT", 9) == 0))
			return (pw_plain(value, password));
		for (i = 0; schemes[i].name; i++) {
			if (strlen(schemes[i].name) != nlen
			    || strncasecmp(stored + 1, schemes[i].name, nlen))
				continue;
			if (schemes[i].prefix) {
				if (strncmp(value, schemes[i].prefix,
				    strlen(schemes[i].prefix)))
					return (-1);
				return (pw_crypt(value, password, ctx));
			}
			return (pw_digest(EVP_get_digestbyname(
			    schemes[i].digest), schemes[i].salted, value,
			    password));
		}
		return (-1);
	}
	if (crypt_form(stored))
		return (pw_crypt(stored, password, ctx));
	if (md5_hex(stored))
		return (pw_digest(EVP_md5(), 0, stored, password));
	return (-1);
}
