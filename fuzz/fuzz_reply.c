/*
 * NAME
 *	fuzz_reply - libFuzzer target: the smtp client's reply parser
 * DESCRIPTION
 *	The input is what a remote SMTP server sends. smtp_reply_parse()
 *	is called as smtp_proto.c calls it: on the bytes read so far, and
 *	again after each complete reply on what is left, until it wants
 *	more or says malformed. A complete reply must have a code of
 *	three digits and text that fits its buffer; it must never use
 *	more bytes than it was given. Every reply line is also fed to
 *	smtp_unbase64() (AUTH challenges are base64 after "334 ").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "smtp.h"
#include "str.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct smtp_reply r;
	char	*copy, *dec;
	size_t	 pos = 0, used, i;
	int	 rc;

	if (!init) {
		fuzz_quiet();
		init = 1;
	}
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	memset(&r, 0, sizeof(r));
	r.lines = strv_new();
	while (pos < size) {
		used = 0;
		rc = smtp_reply_parse(copy + pos, size - pos, &used, &r);
		if (rc != 1)
			break;
		if (used == 0 || used > size - pos || r.code < 100
		    || r.code > 999 || strlen(r.text) >= sizeof(r.text)
		    || strlen(r.esc) >= sizeof(r.esc))
			abort();
		for (i = 0; i < r.lines->argc; i++) {
			dec = smtp_unbase64(r.lines->argv[i]);
			free(dec);
		}
		pos += used;
	}
	strv_free(r.lines);
	free(copy);
	return (0);
}
