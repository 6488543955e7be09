/*
 * NAME
 *	fuzz_sasl - libFuzzer target: AUTH PLAIN and LOGIN, base64
 * DESCRIPTION
 *	The input is the client's side of an AUTH exchange, one line per
 *	LF: the first line is "MECH [initial-response]" as it follows
 *	"AUTH ", each further line a response to a 334 challenge, fed
 *	through smtpd_sasl_start()/smtpd_sasl_step() against the built-in
 *	backend (an inline: table with one user, its password as MD5 hex)
 *	until the exchange ends. Every line is also decoded with
 *	smtpd_sasl_b64_decode() by itself; what decodes must encode to
 *	text of the same length that decodes to the same bytes (non-zero
 *	pad bits are accepted, as RFC 4648 allows).
 *
 *	The unknown-user path verifies a dummy SHA-512 crypt hash to keep
 *	the timing equal; that costs milliseconds and tests nothing the
 *	fuzzer can reach, so it is skipped here (--wrap of
 *	smtpd_sasl_pw_verify, see mk/fuzz.mk); every other hash goes to
 *	the real function.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "conf.h"
#include "fuzz.h"
#include "smtpd_sasl.h"

int	 __real_smtpd_sasl_pw_verify(const char *, const char *, void **);

/* __wrap_smtpd_sasl_pw_verify - skip only the dummy crypt hash */
int
__wrap_smtpd_sasl_pw_verify(const char *stored, const char *pass, void **ctx)
{
	if (strncmp(stored, "$6$pOsTeRnDuMmY$", 16) == 0)
		return (0);
	return (__real_smtpd_sasl_pw_verify(stored, pass, ctx));
}

/* b64 - decode; what decodes survives encode and decode again */
static void
b64(const char *line)
{
	struct buf *dec = buf_new(0), *enc = buf_new(0), *again = buf_new(0);

	if (smtpd_sasl_b64_decode(line, dec) == 0) {
		smtpd_sasl_b64_encode(BUF_STR(dec), BUF_LEN(dec), enc);
		if (BUF_LEN(enc) != strlen(line)
		    || smtpd_sasl_b64_decode(BUF_STR(enc), again) < 0
		    || BUF_LEN(again) != BUF_LEN(dec)
		    || memcmp(BUF_STR(again), BUF_STR(dec), BUF_LEN(dec)))
			abort();	/* lost or changed bytes */
	}
	buf_free(dec);
	buf_free(enc);
	buf_free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtpd_sasl_backend *be;
	struct smtpd_sasl *sa;
	struct buf *reply;
	char	*text, *cp, *line, *mech, *initial;
	int	 rc;

	if (be == NULL) {
		fuzz_quiet();
		conf_set("smtpd_sasl_type", "postern");
		/* user@example.com, password "secret" */
		conf_set("smtpd_sasl_password_maps", "inline:{"
		    "user@example.com=5ebe2294ecd0e0f08eab7690d2a6ee69}");
		be = smtpd_sasl_backend_new();
	}
	text = fuzz_str(data, size);
	reply = buf_new(0);
	sa = smtpd_sasl_new("client.example", "192.0.2.1", "192.0.2.25",
	    size & 1);
	cp = text;
	line = strsep(&cp, "\n");
	b64(line);
	mech = strsep(&line, " ");
	initial = line;
	rc = smtpd_sasl_start(sa, be, mech, initial, reply);
	while (rc == SMTPD_SASL_MORE && (line = strsep(&cp, "\n")) != NULL) {
		b64(line);
		rc = smtpd_sasl_step(sa, be, line, reply);
	}
	/* The table's lookup folds case, so "USER@example.com" logs in
	 * (and keeps its spelling, as with Postfix's own backends). */
	if (rc == SMTPD_SASL_OK && (smtpd_sasl_username(sa) == NULL
	    || strcasecmp(smtpd_sasl_username(sa), "user@example.com") != 0))
		abort();	/* authenticated as somebody else */
	while ((line = strsep(&cp, "\n")) != NULL)
		b64(line);
	smtpd_sasl_free(sa);
	buf_free(reply);
	free(text);
	return (0);
}
