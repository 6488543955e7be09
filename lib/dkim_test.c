/*
 * NAME
 *	dkim_test - table-driven tests for lib/dkim.c
 * DESCRIPTION
 *	Relaxed header and body canonicalization vectors (RFC 6376 3.4.5's
 *	example among them), each body also fed one byte at a time; the
 *	body hash of an empty body; tag parsing; then a signature with a
 *	fresh RSA and Ed25519 key over a message, checked by an
 *	independent verifier here (EVP_DigestVerify over the data rebuilt
 *	from the header as written): it must verify, and must not once a
 *	signed header or the body changes. h= lists From once more than it
 *	occurs; the header has the same length before and after signing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "buf.h"
#include "dkim.h"
#include "str.h"
#include "tap.h"

#define M(s)	s, sizeof(s) - 1

static const struct {
	const char *name, *in, *want;
} hvec[] = {
	{"RFC 6376 3.4.5 A", "A: X", "a:X\r\n"},
	{"RFC 6376 3.4.5 B folded", "B : Y\t\n\tZ  ", "b:Y Z\r\n"},
	{"name case folded, value kept", "SUBJECT: Hello World",
	    "subject:Hello World\r\n"},
	{"WSP runs one SP", "To:  a \t b\t\tc", "to:a b c\r\n"},
	{"empty value", "X-Empty:", "x-empty:\r\n"},
	{"only WSP value", "X-Empty:   \t", "x-empty:\r\n"},
	{"fold with CRLF", "From: a\r\n b", "from:a b\r\n"},
};

static const struct {
	const char *name;
	const char *in;
	size_t	 len;
	const char *want;
	size_t	 wlen;
} bvec[] = {
	{"RFC 6376 3.4.5 body", M(" C \nD \t E\n\n\n"), M(" C\r\nD E\r\n")},
	{"empty body", M(""), M("")},
	{"only empty lines", M("\n\n\n"), M("")},
	{"WSP-only lines at the end are empty", M("a\n \t\n\n"), M("a\r\n")},
	{"no final LF", M("abc"), M("abc\r\n")},
	{"inner empty lines kept", M("a\n\n\nb\n"), M("a\r\n\r\n\r\nb\r\n")},
	{"leading WSP one SP", M("\t\tx\n"), M(" x\r\n")},
	{"8-bit and NUL bytes kept", M("\xe9\0z\n"), M("\xe9\0z\r\n")},
};

/* canon_body - the canonical form, fed whole or byte by byte */
static void
canon_body(const char *in, size_t len, int bytewise, struct buf *out,
    char *bh)
{
	struct dkim_body *b = dkim_body_new();
	size_t	 i;

	dkim_body_canon(b, out);
	if (bytewise)
		for (i = 0; i < len; i++)
			dkim_body_update(b, in + i, 1);
	else
		dkim_body_update(b, in, len);
	dkim_body_final(b, bh);
	dkim_body_free(b);
}

/* keygen - a fresh key of this type */
static EVP_PKEY *
keygen(int id)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(id, NULL);
	EVP_PKEY *k = NULL;

	EVP_PKEY_keygen_init(ctx);
	if (id == EVP_PKEY_RSA)
		EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048);
	EVP_PKEY_keygen(ctx, &k);
	EVP_PKEY_CTX_free(ctx);
	return (k);
}

/* find_hdr - the idx-th (from the bottom) header named name */
static int
find_hdr(const char *h, const char *name, int idx, struct buf *out)
{
	const char *p = h, *e;
	const char *starts[64];
	size_t	 lens[64];
	int	 n = 0;

	while (*p && n < 64) {
		for (e = p; *e && !(*e == '\n' && e[1] != ' ' && e[1] != '\t');
		    e++)
			;
		if (strncasecmp(p, name, strlen(name)) == 0
		    && p[strlen(name)] == ':') {
			starts[n] = p;
			lens[n++] = (size_t)(e - p);
		}
		p = *e ? e + 1 : e;
	}
	if (idx >= n)
		return (0);
	dkim_canon_header(out, starts[n - 1 - idx], lens[n - 1 - idx]);
	return (1);
}

/*
 * verify - an independent check: rebuild the signed data from the
 * headers (hdrs), the DKIM-Signature header sig and the body
 */
static int
verify(EVP_PKEY *k, const char *hdrs, const char *sig, const char *body)
{
	char	 hl[1024], bv[2048], bh[64], mybh[64], *name, *cp, *lst;
	unsigned char raw[1024], d[32];
	struct buf *data = buf_new(1024), *tmp = buf_new(64);
	int	 counts[64] = {0}, i, n, ok, rawlen;
	const char *names[64];
	int	 nn = 0;
	EVP_MD_CTX *ctx;
	const char *b;

	ok = dkim_tag(sig, "h", hl, sizeof(hl)) && dkim_tag(sig, "b", bv,
	    sizeof(bv)) && dkim_tag(sig, "bh", bh, sizeof(bh));
	if (ok)
		canon_body(body, strlen(body), 0, tmp, mybh);
	buf_free(tmp);
	if (!ok || strcmp(bh, mybh) != 0) {
		buf_free(data);
		return (0);
	}
	lst = hl;
	while ((name = strsep(&lst, ":")) != NULL) {
		for (i = 0; i < nn && strcasecmp(names[i], name); i++)
			;
		if (i == nn)
			names[nn++] = name;
		find_hdr(hdrs, name, counts[i]++, data);
	}
	b = strstr(sig, "b=");
	while (b && b > sig && b[-1] != '\t' && b[-1] != ' ' && b[-1] != ';')
		b = strstr(b + 1, "b=");
	cp = strndup(sig, (size_t)(b - sig) + 2);
	dkim_canon_header(data, cp, strlen(cp));
	free(cp);
	buf_truncate(data, BUF_LEN(data) - 2);
	rawlen = EVP_DecodeBlock(raw, (unsigned char *)bv, (int)strlen(bv));
	n = rawlen - (bv[strlen(bv) - 1] == '=') - (bv[strlen(bv) - 2] == '=');
	ctx = EVP_MD_CTX_new();
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519) {
		EVP_Digest(BUF_STR(data), BUF_LEN(data), d, NULL, EVP_sha256(),
		    NULL);
		ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1
		    && EVP_DigestVerify(ctx, raw, (size_t)n, d, 32) == 1;
	} else
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k) == 1
		    && EVP_DigestVerify(ctx, raw, (size_t)n,
		    (unsigned char *)BUF_STR(data), BUF_LEN(data)) == 1;
	EVP_MD_CTX_free(ctx);
	buf_free(data);
	return (ok);
}

#define HDRS	"Received: from x by y; Thu, 3 Dec 2026 10:00:00 +0000\n" \
		"From: Alice <alice@example.org>\n" \
		"To: bob@example.net,\n  carol@example.net\n" \
		"Subject:  Hello\tthere \n" \
		"Date: Thu, 3 Dec 2026 10:00:00 +0000\n" \
		"Message-ID: <1@example.org>\n" \
		"X-Unsigned: x\n"
#define BODY	"Hi Bob,\n\n  this  is a test.  \n\n\n"

/* sign_check - sign HDRS+BODY with k, verify, tamper */
static void
sign_check(EVP_PKEY *k, const char *what)
{
	struct strv *names = strv_split("from,to,cc,subject,date,"
	    "message-id", ",");
	struct dkim_sign *s;
	char	 err[256], hl[512], a[64], *before, *sig, *t;
	size_t	 i;

	s = dkim_sign_new(k, "example.org", "sel1", 1764756000L, names,
	    M(HDRS));
	tap_ok(s != NULL, "%s: signer", what);
	before = strdup(dkim_sign_header(s));
	for (i = 0; i < strlen(BODY); i += 7)	/* pieces cut anywhere */
		dkim_sign_body(s, BODY + i, strlen(BODY) - i < 7
		    ? strlen(BODY) - i : 7);
	tap_ok(dkim_sign_final(s, err, sizeof(err)) == 0, "%s: signed %s",
	    what, err);
	sig = strdup(dkim_sign_header(s));
	tap_is_int((long)strlen(sig), (long)strlen(before),
	    "placeholder length is final length");
	tap_ok(strncmp(sig, "DKIM-Signature: v=1; a=", 23) == 0
	    && sig[strlen(sig) - 1] == '\n', "%s: header form", what);
	dkim_tag(sig, "h", hl, sizeof(hl));
	tap_is_str(hl, "from:from:to:subject:date:message-id",
	    "h= lists present headers, From oversigned");
	dkim_tag(sig, "a", a, sizeof(a));
	tap_is_str(a, dkim_key_alg(k), "a= tag");
	tap_ok(verify(k, HDRS, sig, BODY), "%s: verifies", what);
	tap_ok(!verify(k, HDRS, sig, BODY "x\n"), "%s: body changed: fails",
	    what);
	t = strdup(HDRS);
	t[strstr(t, "Hello") - t] = 'J';
	tap_ok(!verify(k, t, sig, BODY), "%s: Subject changed: fails", what);
	free(t);
	t = strdup(HDRS);
	t[strstr(t, "X-Unsigned: x") - t + 12] = 'y';
	tap_ok(verify(k, t, sig, BODY), "%s: unsigned header changed: "
	    "verifies", what);
	free(t);
	tap_ok(verify(k, HDRS, sig, "Hi Bob,\n\n this is a test.\n"),
	    "%s: whitespace-only body change verifies (relaxed)", what);
	free(before);
	free(sig);
	dkim_sign_free(s);
	strv_free(names);
}

/* key_files - a key file others can read is refused, 0600 is used */
static void
key_files(EVP_PKEY *k)
{
	char	 path[] = "/tmp/dkim_test.XXXXXX", err[512];
	EVP_PKEY *got;
	FILE	*fp;
	int	 fd = mkstemp(path);

	fp = fdopen(fd, "w");
	PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL);
	fclose(fp);
	chmod(path, 0640);
	got = dkim_key_load(path, 1, err, sizeof(err));
	tap_ok(got == NULL && strstr(err, "accessible by group or others"),
	    "mode 0640 key refused: %s", err);
	got = dkim_key_load(path, 0, err, sizeof(err));
	tap_ok(got != NULL, "mode 0640 key loads without the check");
	EVP_PKEY_free(got);
	chmod(path, 0600);
	got = dkim_key_load(path, 1, err, sizeof(err));
	tap_ok(got != NULL && EVP_PKEY_eq(got, k) == 1, "mode 0600 key used");
	EVP_PKEY_free(got);
	unlink(path);
	got = dkim_key_load(path, 1, err, sizeof(err));
	tap_ok(got == NULL && strstr(err, "No such file"), "missing key: %s",
	    err);
}

/* key_txt - the DNS record value: its start, the length of p= */
static void
key_txt(EVP_PKEY *k, const char *start, size_t plen, const char *name)
{
	struct buf *b = buf_new(64);
	const char *p;

	tap_ok(dkim_key_txt(k, b) == 0, "%s: record made", name);
	p = strstr(BUF_STR(b), "p=");
	tap_ok(strncmp(BUF_STR(b), start, strlen(start)) == 0 && p
	    && strlen(p + 2) == plen, "%s (%s)", name, BUF_STR(b));
	buf_free(b);
}

int
main(void)
{
	struct buf *out = buf_new(64);
	char	 bh[64], v[128];
	size_t	 i;
	EVP_PKEY *k;

	for (i = 0; i < sizeof(hvec) / sizeof(hvec[0]); i++) {
		buf_reset(out);
		dkim_canon_header(out, hvec[i].in, strlen(hvec[i].in));
		tap_is_str(BUF_STR(out), hvec[i].want, hvec[i].name);
	}
	for (i = 0; i < sizeof(bvec) / sizeof(bvec[0]); i++) {
		buf_reset(out);
		canon_body(bvec[i].in, bvec[i].len, 0, out, bh);
		tap_ok(BUF_LEN(out) == bvec[i].wlen
		    && memcmp(BUF_STR(out), bvec[i].want, BUF_LEN(out)) == 0,
		    "%s", bvec[i].name);
		buf_reset(out);
		canon_body(bvec[i].in, bvec[i].len, 1, out, bh);
		tap_ok(BUF_LEN(out) == bvec[i].wlen
		    && memcmp(BUF_STR(out), bvec[i].want, BUF_LEN(out)) == 0,
		    "%s, byte by byte", bvec[i].name);
	}
	canon_body("", 0, 0, NULL, bh);
	tap_is_str(bh, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
	    "bh= of the empty body (RFC 6376 3.4.4)");
	canon_body(M("\n\n"), 0, NULL, bh);
	tap_is_str(bh, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
	    "bh= of empty lines only");

	tap_ok(dkim_tag("DKIM-Signature: v=1; d = example.org ;\n\ts=x; "
	    "b=ab\n\t cd", "b", v, sizeof(v)) && strcmp(v, "abcd") == 0,
	    "b= tag, folded");
	tap_ok(dkim_tag("DKIM-Signature: v=1; d = example.org ;\n\ts=x",
	    "d", v, sizeof(v)) && strcmp(v, "example.org") == 0, "d= tag");
	tap_ok(!dkim_tag("DKIM-Signature: v=1; bh=x", "b", v, sizeof(v)),
	    "bh= is not b=");

	k = keygen(EVP_PKEY_RSA);
	key_files(k);
	key_txt(k, "v=DKIM1; k=rsa; p=MIIBIjAN", 392, "RSA 2048: p= is the "
	    "DER SubjectPublicKeyInfo");
	sign_check(k, "rsa-sha256");
	EVP_PKEY_free(k);
	k = keygen(EVP_PKEY_ED25519);
	key_txt(k, "v=DKIM1; k=ed25519; p=", 44, "Ed25519: p= is the raw "
	    "32-byte key");
	sign_check(k, "ed25519-sha256");
	EVP_PKEY_free(k);
	buf_free(out);
	return (tap_done());
}
