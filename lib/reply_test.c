/*
 * NAME
 *	reply_test - the reply table gives the agreed replies
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "reply.h"
#include "tap.h"

static const struct {
	const char *name;
	int	 status;
	const char *arg;
	const char *want;
} vec[] = {
	{"ok", REPLY_OK, NULL, "250 2.0.0 Ok\r\n"},
	{"mail ok", REPLY_MAIL_OK, NULL, "250 2.1.0 Ok\r\n"},
	{"rcpt ok", REPLY_RCPT_OK, NULL, "250 2.1.5 Ok\r\n"},
	{"queued", REPLY_QUEUED, "4F2A1B3C", "250 2.0.0 Ok: queued as 4F2A1B3C\r\n"},
	{"greeting", REPLY_GREETING, "mx.example.com ESMTP postern",
	    "220 mx.example.com ESMTP postern\r\n"},
	{"bye", REPLY_BYE, NULL, "221 2.0.0 Bye\r\n"},
	{"data", REPLY_DATA, NULL, "354 End data with <CR><LF>.<CR><LF>\r\n"},
	{"unknown command (Postfix smtpd's 500; postscreen says 502)",
	    REPLY_UNKNOWN_CMD, NULL,
	    "500 5.5.2 Error: command not recognized\r\n"},
	{"too long", REPLY_TOO_LONG, NULL, "500 5.5.2 Error: line too long\r\n"},
	{"syntax", REPLY_SYNTAX, "MAIL FROM:<address>",
	    "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"},
	{"sequence", REPLY_NEED_RCPT, NULL,
	    "503 5.5.1 Error: need RCPT command\r\n"},
	{"helo required", REPLY_NEED_HELO, NULL,
	    "503 5.5.1 Error: send HELO/EHLO first\r\n"},
	{"no valid recipients", REPLY_NO_VALID_RCPT, NULL,
	    "554 5.5.1 Error: no valid recipients\r\n"},
	{"temporary", REPLY_TEMP, "map lookup failed",
	    "451 4.3.0 Error: map lookup failed\r\n"},
	{"too big", REPLY_TOO_BIG, NULL,
	    "552 5.3.4 Error: message file too big\r\n"},
	{"timeout", REPLY_TIMEOUT, "mx.example.com",
	    "421 4.4.2 mx.example.com Error: timeout exceeded\r\n"},
	{"too many errors", REPLY_TOO_MANY_ERR, "mx.example.com",
	    "421 4.7.0 mx.example.com Error: too many errors\r\n"},
	{"too many recipients", REPLY_TOO_MANY_RCPT, NULL,
	    "452 4.5.3 Error: too many recipients\r\n"},
	{"bare LF", REPLY_BARE_LF, "mx", "521 5.5.2 mx Error: bare <LF> received\r\n"},
	{"arg with percent signs is not a format", REPLY_SYNTAX, "%s%n%d",
	    "501 5.5.4 Syntax: %s%n%d\r\n"},
	{"NULL arg", REPLY_TEMP, NULL, "451 4.3.0 Error: \r\n"},
};

int
main(void)
{
	static const char *const ehlo[] = {"mx.example.com", "PIPELINING",
	    "8BITMIME"};
	struct buf *b = buf_new(0);
	size_t	 i;
	int	 s, all = 1;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		buf_reset(b);
		reply_build(b, vec[i].status, vec[i].arg);
		tap_is_str(BUF_STR(b), vec[i].want, vec[i].name);
	}
	for (s = 0; s < REPLY_COUNT; s++) {
		int	 c = reply_code(s);
		const char *e = reply_esc(s);

		if (c < 200 || c > 599 || (e && e[0] - '0' != c / 100))
			all = 0;
	}
	tap_ok(all, "every entry has a code whose class matches its esc");
	buf_reset(b);
	reply_custom(b, REPLY_TEMP, "Server configuration error");
	tap_is_str(BUF_STR(b), "451 4.3.0 Server configuration error\r\n",
	    "custom text keeps code and esc");
	buf_reset(b);
	reply_multiline(b, 250, ehlo, 3);
	tap_is_str(BUF_STR(b), "250-mx.example.com\r\n250-PIPELINING\r\n"
	    "250 8BITMIME\r\n", "multiline");
	buf_free(b);
	return (tap_done());
}
