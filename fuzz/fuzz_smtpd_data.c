/*
 * NAME
 *	fuzz_smtpd_data - libFuzzer target: the DATA stream reader
 * DESCRIPTION
 *	The input after the first byte is what a client sends after
 *	"354": it is fed to smtpd_data_feed() in pieces whose sizes come
 *	from the first byte (the network cuts anywhere), until the reader
 *	says the end-of-data line was seen; the bytes it leaves are what
 *	the command reader would get next. The first byte also picks
 *	smtpd_forbid_bare_newline (no, normalize, reject) and a small or
 *	no size limit. The reader must never read or write outside what
 *	it was given and its own buffer, must store nothing past the limit
 *	and no more than it counted, and must call the message too big
 *	exactly when the count (octets as transmitted) is over the limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "smtpd.h"

struct smtpd_params smtpd_params;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct smtpd_data d;
	size_t	 pos, chunk, used, step;
	char	*copy;

	if (size < 1)
		return (0);
	if (!init) {
		fuzz_quiet();
		init = 1;
	}
	step = (data[0] & 0x0f) + 1;	/* 1..16, 16 = whole */
	smtpd_data_init(&d, (data[0] & 0x40) ? 0 : 256,
	    ((data[0] >> 4) & 3) % 3);
	/* One heap copy per input, so ASan sees reads past its end. */
	copy = malloc(size - 1 ? size - 1 : 1);
	memcpy(copy, data + 1, size - 1);
	for (pos = 0; pos < size - 1 && !d.done && !d.bare_lf;) {
		chunk = step == 16 ? size - 1 - pos : step;
		if (chunk > size - 1 - pos)
			chunk = size - 1 - pos;
		used = smtpd_data_feed(&d, copy + pos, chunk);
		if (used > chunk)
			abort();	/* consumed more than it was given */
		pos += used;
		if (used < chunk && !d.done && !d.bare_lf)
			abort();	/* left bytes without finishing */
	}
	if (d.limit && d.msg && BUF_LEN(d.msg) > d.limit)
		abort();	/* stored past message_size_limit */
	if (d.msg && BUF_LEN(d.msg) > d.size)
		abort();	/* stored more than was counted (RFC 1870) */
	if (d.limit && d.too_big != (d.size > d.limit))
		abort();	/* 552 decided on another count than SIZE's */
	free(copy);
	smtpd_data_free(&d);
	return (0);
}
