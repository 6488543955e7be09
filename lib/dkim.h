/*
 * NAME
 *	dkim - DKIM signatures (RFC 6376 relaxed/relaxed; rsa-sha256 and
 *	ed25519-sha256, RFC 8463) with OpenSSL's EVP API
 * SYNOPSIS
 *	#include "dkim.h"
 *
 *	void	dkim_canon_header(struct buf *out, const char *h, size_t len);
 *	struct dkim_body *dkim_body_new(void);
 *	void	dkim_body_update(struct dkim_body *b, const char *p,
 *	    size_t len);
 *	void	dkim_body_canon(struct dkim_body *b, struct buf *out);
 *	void	dkim_body_final(struct dkim_body *b, char bh[45]);
 *	void	dkim_body_free(struct dkim_body *b);
 *
 *	EVP_PKEY *dkim_key_load(const char *path, int check_mode,
 *	    char *err, size_t errlen);
 *	const char *dkim_key_alg(EVP_PKEY *k);
 *	int	dkim_key_txt(EVP_PKEY *k, struct buf *out);
 *
 *	struct dkim_sign *dkim_sign_new(EVP_PKEY *k, const char *domain,
 *	    const char *selector, long t, const struct strv *names,
 *	    const char *hdrs, size_t len);
 *	const char *dkim_sign_header(struct dkim_sign *s);
 *	void	dkim_sign_body(struct dkim_sign *s, const char *p, size_t len);
 *	int	dkim_sign_final(struct dkim_sign *s, char *err, size_t errlen);
 *	void	dkim_sign_free(struct dkim_sign *s);
 *
 *	int	dkim_tag(const char *hdr, const char *tag, char *out,
 *	    size_t outlen);
 * DESCRIPTION
 *	dkim_canon_header(): one header field ("Name: value", continuation
 *	lines joined by LF, no final LF) in relaxed form: the name lower
 *	case, unfolded, runs of WSP one SP, no WSP at the end or around
 *	the colon, then CRLF (RFC 6376 3.4.2).
 *	dkim_body_*: the relaxed body canonicalization (3.4.4) of a body
 *	with LF line ends, fed in pieces cut anywhere, and its SHA-256 in
 *	base64 (the bh= value); dkim_body_canon() also keeps the canonical
 *	bytes in out (tests; NULL: none).
 *	dkim_key_load(): a PEM private key (RSA of at least 1024 bits, or
 *	Ed25519). With check_mode, a file that is group- or
 *	world-accessible is refused, as OpenDKIM refuses an unsafe key.
 *	dkim_key_alg(): "rsa-sha256" or "ed25519-sha256".
 *	dkim_key_txt(): the DNS TXT value "v=DKIM1; k=rsa; p=...".
 *	dkim_sign_new(): begins a signature of the message whose header
 *	block (logical headers, LF line ends, without the empty line) is
 *	hdrs: h= lists each name of names (lower case) once for each
 *	occurrence, selected bottom-up as 5.4.2 says, and "from" one more
 *	time than it occurs (oversigning: no From can be added). The
 *	header it will add, with placeholders for bh= and b= of the exact
 *	final length, is dkim_sign_header() ("DKIM-Signature: ...\n").
 *	dkim_sign_body() feeds the body (after the empty line);
 *	dkim_sign_final() rewrites dkim_sign_header() in place with the
 *	body hash and the signature, same length.
 *	dkim_tag(): the value of one tag of a DKIM-Signature header (its
 *	whitespace removed); 1 found, 0 not.
 * DIAGNOSTICS
 *	dkim_key_load() returns NULL and dkim_sign_final() -1 with err set;
 *	dkim_sign_new() returns NULL for a key it cannot use.
 * SEE ALSO
 *	RFC 6376, RFC 8463; cleanup/cleanup_dkim.c (where it is used).
 */
#ifndef DKIM_H
#define DKIM_H

#include <stddef.h>

#include <openssl/evp.h>

#include "buf.h"
#include "str.h"

#define DKIM_BH_LEN	44		/* base64 of a SHA-256 digest */

struct dkim_body;
struct dkim_sign;

void	 dkim_canon_header(struct buf *, const char *, size_t);
struct dkim_body *dkim_body_new(void);
void	 dkim_body_update(struct dkim_body *, const char *, size_t);
void	 dkim_body_canon(struct dkim_body *, struct buf *);
void	 dkim_body_final(struct dkim_body *, char *);
void	 dkim_body_free(struct dkim_body *);

EVP_PKEY *dkim_key_load(const char *, int, char *, size_t);
const char *dkim_key_alg(EVP_PKEY *);
int	 dkim_key_txt(EVP_PKEY *, struct buf *);

struct dkim_sign *dkim_sign_new(EVP_PKEY *, const char *, const char *,
	    long, const struct strv *, const char *, size_t);
const char *dkim_sign_header(struct dkim_sign *);
void	 dkim_sign_body(struct dkim_sign *, const char *, size_t);
int	 dkim_sign_final(struct dkim_sign *, char *, size_t);
void	 dkim_sign_free(struct dkim_sign *);

int	 dkim_tag(const char *, const char *, char *, size_t);

#endif
