/*
 * NAME
 *	fuzz_dovecot - libFuzzer target: replies of Dovecot's auth server
 * DESCRIPTION
 *	The input is everything the Dovecot auth server sends: the
 *	handshake (VERSION, MECH, SPID, CUID, COOKIE, DONE) and the
 *	answer to the request (OK/FAIL/CONT with its fields and \001
 *	escapes). smtpd_sasl_dovecot_auth() asks for "user"/"pw" and reads
 *	it. The connection is a socketpair whose other end already holds
 *	the input and is shut for writing: sock_connect_unix() is wrapped
 *	(--wrap, see mk/fuzz.mk), so no server runs and EOF ends each
 *	read at once. A reconnect (the module retries once) gets the same
 *	input again.
 */
#include <sys/socket.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fuzz.h"
#include "smtpd_sasl.h"

static const uint8_t *in_data;
static size_t in_size;
static int peers[4];
static int npeers;

/* __wrap_sock_connect_unix - a socketpair that holds the input */
int
__wrap_sock_connect_unix(const char *path, char *err, size_t errlen)
{
	int	 sv[2];
	size_t	 off = 0;
	ssize_t	 n;

	if (npeers >= 4 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	while (off < in_size) {
		if ((n = write(sv[1], in_data + off, in_size - off)) <= 0)
			abort();	/* input larger than the socket buffer */
		off += (size_t)n;
	}
	shutdown(sv[1], SHUT_WR);
	peers[npeers++] = sv[1];
	return (sv[0]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct smtpd_sasl_dovecot *dc;
	struct buf *reason = buf_new(0);
	char	*user = NULL;
	int	 rc, i;

	if (size > 65536)
		return (0);
	if (!init) {
		fuzz_quiet();
		signal(SIGPIPE, SIG_IGN);
		init = 1;
	}
	in_data = data;
	in_size = size;
	npeers = 0;
	dc = smtpd_sasl_dovecot_new("/nonexistent/auth-client", 5);
	rc = smtpd_sasl_dovecot_auth(dc, "smtp", "user", "pw", "192.0.2.25",
	    "192.0.2.1", 1, &user, reason);
	if (rc == SMTPD_SASL_OK && user == NULL)
		abort();
	if (rc != SMTPD_SASL_OK && BUF_LEN(reason) == 0)
		abort();	/* a failure without a reason */
	free(user);
	smtpd_sasl_dovecot_free(dc);
	for (i = 0; i < npeers; i++)
		close(peers[i]);
	buf_free(reason);
	return (0);
}
