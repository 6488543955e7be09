/*
 * NAME
 *	dkim - DKIM signatures (RFC 6376 relaxed/relaxed; rsa-sha256 and
 *	ed25519-sha256, RFC 8463) with OpenSSL's EVP API
 * SYNOPSIS
 *	See dkim.h.
 * DESCRIPTION
 *	No hand-written cryptography: digests, signatures and base64 are
 *	OpenSSL's (EVP_DigestSign*, EVP_EncodeBlock). This file does the
 *	canonicalization, the choice of headers and the tag list.
 * DIAGNOSTICS
 *	See dkim.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "buf.h"
#include "dkim.h"
#include "log.h"
#include "str.h"
#include "xalloc.h"

#define IS_WSP(c)	((c) == ' ' || (c) == '\t')

/* dkim_canon_header - one header field, relaxed (RFC 6376 3.4.2) */
void
dkim_canon_header(struct buf *out, const char *h, size_t len)
{
	size_t	 i = 0, nlen, k;
	int	 wsp = 0;

	while (i < len && h[i] != ':')
		i++;
	nlen = i;
	while (nlen > 0 && (IS_WSP(h[nlen - 1]) || h[nlen - 1] == '\r'
	    || h[nlen - 1] == '\n'))
		nlen--;
	for (k = 0; k < nlen; k++) {
		char	 c = h[k];

		if (c == '\r' || c == '\n')
			continue;
		buf_putc(out, c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	buf_putc(out, ':');
	if (i < len)
		i++;			/* the colon */
	/* the value: unfolded, WSP runs one SP, none at either end */
	while (i < len && (IS_WSP(h[i]) || h[i] == '\r' || h[i] == '\n'))
		i++;
	for (; i < len; i++) {
		char	 c = h[i];

		if (c == '\r' || c == '\n')
			continue;	/* unfold */
		if (IS_WSP(c)) {
			wsp = 1;
			continue;
		}
		if (wsp)
			buf_putc(out, ' ');
		wsp = 0;
		buf_putc(out, c);
	}
	buf_append(out, "\r\n", 2);
}

struct dkim_body {
	EVP_MD_CTX *md;
	struct buf *keep;		/* canonical bytes, for tests */
	size_t	 blanks;		/* empty lines not yet written */
	int	 wsp;			/* a WSP run is pending */
	int	 nonempty;		/* this line has text */
	char	 out[4096];
	size_t	 olen;
};

/* body_flush - the collected canonical bytes into the digest */
static void
body_flush(struct dkim_body *b)
{
	if (b->olen == 0)
		return;
	EVP_DigestUpdate(b->md, b->out, b->olen);
	if (b->keep)
		buf_append(b->keep, b->out, b->olen);
	b->olen = 0;
}

/* body_emit - one canonical byte */
static void
body_emit(struct dkim_body *b, char c)
{
	if (b->olen == sizeof(b->out))
		body_flush(b);
	b->out[b->olen++] = c;
}

/* dkim_body_new - a relaxed body hash, SHA-256 */
struct dkim_body *
dkim_body_new(void)
{
	struct dkim_body *b = xcalloc(1, sizeof(*b));

	if ((b->md = EVP_MD_CTX_new()) == NULL
	    || EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1)
		log_fatal("dkim: cannot set up SHA-256 (out of memory?)");
	return (b);
}

/* dkim_body_canon - keep the canonical bytes too (tests) */
void
dkim_body_canon(struct dkim_body *b, struct buf *out)
{
	b->keep = out;
}

/*
 * dkim_body_update - relaxed body (3.4.4): WSP runs one SP, no WSP at
 * a line end, empty lines at the end dropped (so they are held until
 * text follows), CRLF line ends
 */
void
dkim_body_update(struct dkim_body *b, const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		char	 c = p[i];

		if (c == '\n') {
			if (b->nonempty) {
				body_emit(b, '\r');
				body_emit(b, '\n');
			} else
				b->blanks++;
			b->wsp = b->nonempty = 0;
		} else if (IS_WSP(c))
			b->wsp = 1;
		else {
			if (!b->nonempty)
				for (; b->blanks > 0; b->blanks--) {
					body_emit(b, '\r');
					body_emit(b, '\n');
				}
			if (b->wsp)
				body_emit(b, ' ');
			b->wsp = 0;
			b->nonempty = 1;
			body_emit(b, c);
		}
	}
}

/* dkim_body_final - end the body (a last line without LF gets CRLF) */
void
dkim_body_final(struct dkim_body *b, char *bh)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (b->nonempty) {
		body_emit(b, '\r');
		body_emit(b, '\n');
		b->nonempty = 0;
	}
	b->blanks = 0;
	body_flush(b);
	EVP_DigestFinal_ex(b->md, d, &dlen);
	EVP_EncodeBlock((unsigned char *)bh, d, (int)dlen);
}

/* dkim_body_free - release it */
void
dkim_body_free(struct dkim_body *b)
{
	if (b == NULL)
		return;
	EVP_MD_CTX_free(b->md);
	free(b);
}

/* dkim_key_load - a private key from a PEM file nobody else can read */
EVP_PKEY *
dkim_key_load(const char *path, int check_mode, char *err, size_t errlen)
{
	struct stat st;
	EVP_PKEY *k;
	FILE	*fp;
	int	 id;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return (NULL);
	}
	if (fstat(fileno(fp), &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		fclose(fp);
		return (NULL);
	}
	if (check_mode && (st.st_mode & 077)) {
		snprintf(err, errlen, "%s: key file is accessible by group or "
		    "others (mode %04o): not used", path,
		    (unsigned)(st.st_mode & 07777));
		fclose(fp);
		return (NULL);
	}
	k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (k == NULL) {
		snprintf(err, errlen, "%s: not a PEM private key", path);
		ERR_clear_error();
		return (NULL);
	}
	id = EVP_PKEY_get_base_id(k);
	if (!(id == EVP_PKEY_ED25519 || (id == EVP_PKEY_RSA
	    && EVP_PKEY_get_bits(k) >= 1024))) {
		snprintf(err, errlen, "%s: neither RSA (1024 bits or more) "
		    "nor Ed25519", path);
		EVP_PKEY_free(k);
		return (NULL);
	}
	return (k);
}

/* dkim_key_alg - the a= value for this key */
const char *
dkim_key_alg(EVP_PKEY *k)
{
	return (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519
	    ? "ed25519-sha256" : "rsa-sha256");
}

/* b64 - base64 of len bytes into out (EVP_EncodeBlock, no newlines) */
static void
b64(struct buf *out, const unsigned char *p, size_t len)
{
	char	*t = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)t, p, (int)len);
	buf_puts(out, t);
	free(t);
}

/*
 * dkim_key_txt - the DNS TXT value: RSA's p= is the DER
 * SubjectPublicKeyInfo (RFC 6376 3.6.1), Ed25519's the raw 32-byte key
 * (RFC 8463 4.2)
 */
int
dkim_key_txt(EVP_PKEY *k, struct buf *out)
{
	unsigned char raw[64], *der = NULL;
	size_t	 rlen = sizeof(raw);
	int	 n;

	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519) {
		if (EVP_PKEY_get_raw_public_key(k, raw, &rlen) != 1)
			return (-1);
		buf_puts(out, "v=DKIM1; k=ed25519; p=");
		b64(out, raw, rlen);
		return (0);
	}
	if ((n = i2d_PUBKEY(k, &der)) <= 0)
		return (-1);
	buf_puts(out, "v=DKIM1; k=rsa; p=");
	b64(out, der, (size_t)n);
	OPENSSL_free(der);
	return (0);
}

struct dkim_sign {
	EVP_PKEY *key;
	struct dkim_body *body;
	struct buf *hcanon;		/* the signed headers, canonical */
	struct buf *hdr;		/* DKIM-Signature: ... \n */
	size_t	 bh_off, b_off, b_len;	/* placeholders in hdr */
};

/* hdr_name_is - the header h (len) is called name */
static int
hdr_name_is(const char *h, size_t len, const char *name)
{
	size_t	 n = strlen(name), i;

	if (len < n || strncasecmp(h, name, n) != 0)
		return (0);
	for (i = n; i < len && IS_WSP(h[i]); i++)
		;
	return (i < len && h[i] == ':');
}

/* hdr_split - the logical headers of a header block: start, length */
static size_t
hdr_split(const char *p, size_t len, size_t **pos)
{
	size_t	 i = 0, n = 0, cap = 16, end;

	*pos = xmalloc(2 * cap * sizeof(size_t));
	while (i < len) {
		end = i;
		do {		/* a line and its continuation lines */
			const char *nl = memchr(p + end, '\n', len - end);

			end = nl ? (size_t)(nl - p) + 1 : len;
		} while (end < len && IS_WSP(p[end]));
		if (n == cap) {
			cap *= 2;
			*pos = xrealloc(*pos, 2 * cap * sizeof(size_t));
		}
		(*pos)[2 * n] = i;
		(*pos)[2 * n + 1] = end - i - (end > i && p[end - 1] == '\n');
		n++;
		i = end;
	}
	return (n);
}

/* dkim_sign_new - choose the headers, write the header with placeholders */
struct dkim_sign *
dkim_sign_new(EVP_PKEY *k, const char *domain, const char *selector,
    long t, const struct strv *names, const char *hdrs, size_t len)
{
	struct dkim_sign *s;
	struct buf *h = buf_new(256);
	size_t	*pos, n, i, j, sigbytes;
	int	 count, first = 1;

	if ((sigbytes = (size_t)EVP_PKEY_get_size(k)) == 0 || sigbytes > 1024)
		return (NULL);
	s = xcalloc(1, sizeof(*s));
	EVP_PKEY_up_ref(k);
	s->key = k;
	s->body = dkim_body_new();
	s->hcanon = buf_new(1024);
	n = hdr_split(hdrs, len, &pos);
	for (i = 0; names && i < names->argc; i++) {
		const char *name = names->argv[i];

		count = 0;
		for (j = n; j-- > 0; )	/* bottom-up (5.4.2) */
			if (hdr_name_is(hdrs + pos[2 * j], pos[2 * j + 1],
			    name)) {
				dkim_canon_header(s->hcanon, hdrs + pos[2 * j],
				    pos[2 * j + 1]);
				buf_printf(h, "%s%s", first ? "" : ":", name);
				first = 0;
				count++;
			}
		if (strcasecmp(name, "from") == 0) {	/* oversign From */
			buf_printf(h, "%s%s", first ? "" : ":", name);
			first = 0;
		}
	}
	free(pos);
	s->hdr = buf_new(512 + BUF_LEN(h) + 2 * sigbytes);
	buf_printf(s->hdr, "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed; "
	    "d=%s; s=%s;\n\tt=%ld; h=%s;\n\tbh=", dkim_key_alg(k), domain,
	    selector, t, BUF_STR(h));
	buf_free(h);
	s->bh_off = BUF_LEN(s->hdr);
	for (i = 0; i < DKIM_BH_LEN; i++)
		buf_putc(s->hdr, '=');
	buf_puts(s->hdr, ";\n\tb=");
	s->b_off = BUF_LEN(s->hdr);
	s->b_len = 4 * ((sigbytes + 2) / 3);
	for (i = 0; i < s->b_len; i++)
		buf_putc(s->hdr, '=');
	buf_putc(s->hdr, '\n');
	return (s);
}

/* dkim_sign_header - the header to add, "DKIM-Signature: ...\n" */
const char *
dkim_sign_header(struct dkim_sign *s)
{
	return (BUF_STR(s->hdr));
}

/* dkim_sign_body - body bytes, LF line ends */
void
dkim_sign_body(struct dkim_sign *s, const char *p, size_t len)
{
	dkim_body_update(s->body, p, len);
}

/*
 * sign_data - rsa-sha256 signs the data with SHA-256; ed25519-sha256
 * signs the SHA-256 digest of it with PureEdDSA (RFC 8463 3)
 */
static int
sign_data(EVP_PKEY *k, const struct buf *data, unsigned char *sig,
    size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char d[32];
	int	 ok;

	if (ctx == NULL)
		return (-1);
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519) {
		ok = EVP_Digest(BUF_STR(data), BUF_LEN(data), d, NULL,
		    EVP_sha256(), NULL) == 1
		    && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1
		    && EVP_DigestSign(ctx, sig, siglen, d, sizeof(d)) == 1;
	} else
		ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) == 1
		    && EVP_DigestSign(ctx, sig, siglen,
		    (const unsigned char *)BUF_STR(data), BUF_LEN(data)) == 1;
	EVP_MD_CTX_free(ctx);
	return (ok ? 0 : -1);
}

/* dkim_sign_final - body hash and signature into the header */
int
dkim_sign_final(struct dkim_sign *s, char *err, size_t errlen)
{
	char	 bh[DKIM_BH_LEN + 1];
	unsigned char sig[1024];
	size_t	 siglen = sizeof(sig);
	struct buf *data, *b;
	char	*hdr = (char *)BUF_STR(s->hdr);

	dkim_body_final(s->body, bh);
	memcpy(hdr + s->bh_off, bh, DKIM_BH_LEN);
	/* the signed data: the headers, then this one with b= empty */
	data = buf_new(BUF_LEN(s->hcanon) + BUF_LEN(s->hdr));
	buf_append(data, BUF_STR(s->hcanon), BUF_LEN(s->hcanon));
	dkim_canon_header(data, hdr, s->b_off);
	buf_truncate(data, BUF_LEN(data) - 2);		/* no CRLF */
	if (sign_data(s->key, data, sig, &siglen) < 0) {
		snprintf(err, errlen, "signing failed: %s",
		    ERR_reason_error_string(ERR_get_error()));
		ERR_clear_error();
		buf_free(data);
		return (-1);
	}
	buf_free(data);
	b = buf_new(2 * siglen);
	b64(b, sig, siglen);
	if (BUF_LEN(b) != s->b_len) {
		snprintf(err, errlen, "signature of %zu bytes, %zu expected",
		    BUF_LEN(b), s->b_len);
		buf_free(b);
		return (-1);
	}
	memcpy(hdr + s->b_off, BUF_STR(b), s->b_len);
	buf_free(b);
	return (0);
}

/* dkim_sign_free - release it */
void
dkim_sign_free(struct dkim_sign *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_free(s->key);
	dkim_body_free(s->body);
	buf_free(s->hcanon);
	buf_free(s->hdr);
	free(s);
}

/* dkim_tag - one tag's value of a DKIM-Signature header, no whitespace */
int
dkim_tag(const char *hdr, const char *tag, char *out, size_t outlen)
{
	const char *p = strchr(hdr, ':'), *e, *eq;
	size_t	 o;

	if (p == NULL || outlen == 0)
		return (0);
	for (p++; *p; p = *e ? e + 1 : e) {
		e = p + strcspn(p, ";");
		while (p < e && (IS_WSP(*p) || *p == '\r' || *p == '\n'))
			p++;
		if ((eq = memchr(p, '=', (size_t)(e - p))) == NULL)
			continue;
		o = (size_t)(eq - p);
		while (o > 0 && (IS_WSP(p[o - 1]) || p[o - 1] == '\n'
		    || p[o - 1] == '\r'))
			o--;
		if (o != strlen(tag) || strncmp(p, tag, o) != 0)
			continue;
		for (o = 0, eq++; eq < e; eq++)
			if (!IS_WSP(*eq) && *eq != '\r' && *eq != '\n'
			    && o + 1 < outlen)
				out[o++] = *eq;
		out[o] = 0;
		return (1);
	}
	return (0);
}
