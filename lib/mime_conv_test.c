/*
 * NAME
 *	mime_conv_test - table-driven tests for mime_conv_downgrade()
 * DESCRIPTION
 *	Each vector is a message, the text Postfix's smtp client sends
 *	for it to a server without 8BITMIME (worked out from its
 *	mime_state rules: labels, not content, decide), and the number of
 *	entities converted. Hostile input: NUL, bare CR, no final LF,
 *	unterminated comments and quotes, 200 nested multiparts.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "mime_conv.h"
#include "tap.h"

#define CT8	"Content-Transfer-Encoding: 8bit\n"
#define CTQP	"Content-Transfer-Encoding: quoted-printable\n"
#define CT7	"Content-Transfer-Encoding: 7bit\n"
#define A10	"aaaaaaaaaa"
#define CTL	CT8 "\na\0b\rc\x7f\n"

static const struct {
	const char *name;
	const char *in;
	size_t	 len;		/* 0: strlen(in) */
	const char *want;
	int	 conv;
} vec[] = {
	{"empty", "", 0, "", 0},
	{"no label: 8-bit passes as it is", "Subject: x\n\ncaf\xc3\xa9\n", 0,
	    "Subject: x\n\ncaf\xc3\xa9\n", 0},
	{"7bit label: unchanged", CT7 "\n\xe9\n", 0, CT7 "\n\xe9\n", 0},
	{"base64 label kept", "Content-Transfer-Encoding: base64\n\naGk=\n",
	    0, "Content-Transfer-Encoding: base64\n\naGk=\n", 0},
	{"unknown label kept, no conversion",
	    "Content-Transfer-Encoding: x-uue\n\n\xe9\n", 0,
	    "Content-Transfer-Encoding: x-uue\n\n\xe9\n", 0},
	{"8bit text/plain",
	    "Content-Type: text/plain; charset=utf-8\n" CT8 "\n"
	    "caf\xc3\xa9 = ok \n", 0,
	    "Content-Type: text/plain; charset=utf-8\n" CTQP "\n"
	    "caf=C3=A9 =3D ok=20\n", 1},
	{"CRLF line ends become LF",
	    "Subject: s\r\n" CT8 "\r\n\xe9\r\nb\r\n", 0,
	    "Subject: s\n" CTQP "\n=E9\nb\n", 1},
	{"binary label is 8-bit too",
	    "Content-Transfer-Encoding: BINARY\n\n\xff\n", 0,
	    CTQP "\n=FF\n", 1},
	{"label with a comment",
	    "Content-Transfer-Encoding: (was) 8bit (really)\n\n\xe9\n", 0,
	    CTQP "\n=E9\n", 1},
	{"soft break after 73 octets",
	    CT8 "\n" A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 "\n", 0,
	    CTQP "\n" A10 A10 A10 A10 A10 A10 A10 "aaa=\n"
	    A10 A10 "aaaaaaa\n", 1},
	{"an encoded octet may take a line to 75",
	    CT8 "\n" A10 A10 A10 A10 A10 A10 A10 "aa\xe9\xe9\n", 0,
	    CTQP "\n" A10 A10 A10 A10 A10 A10 A10 "aa=E9=\n=E9\n", 1},
	{"trailing tab and space encoded, inner kept",
	    CT8 "\na\tb\t\nc d \n", 0, CTQP "\na\tb=09\nc d=20\n", 1},
	{"control octets, NUL and CR encoded",
	    CTL, sizeof(CTL) - 1, CTQP "\na=00b=0Dc=7F\n", 1},
	{"dot lines stay text (SMTP dot-stuffs them later)",
	    CT8 "\n.\n..\xe9\n", 0, CTQP "\n.\n..=E9\n", 1},
	{"no final LF", CT8 "\nx\xe9", 0, CTQP "\nx=E9\n", 1},
	{"headers only", CT8 "Subject: x", 0,
	    "Subject: x\n" CTQP, 1},
	{"obsolete 'Name :' becomes 'Name:'",
	    "Subject : x\nX-A\t:\ty\n\nb\n", 0, "Subject: x\nX-A:\ty\n\nb\n", 0},
	{"a non-header line ends the primary headers after an empty line",
	    CT8 "Subject: x\nnot a header \xe9\n", 0,
	    "Subject: x\n" CTQP "\nnot a header =E9\n", 1},
	{"folded header kept whole",
	    "Subject: a\n\tb\n" CT8 "\n\xe9\n", 0,
	    "Subject: a\n\tb\n" CTQP "\n=E9\n", 1},
	{"multipart: 7bit on the container, each 8bit leaf QP",
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed;\n\tboundary=\"b1\"\n" CT8
	    "\npreamble \xe9\n"
	    "--b1\nContent-Type: text/plain\n" CT8 "\nh\xe9\n"
	    "--b1\nContent-Type: application/octet-stream\n"
	    "Content-Transfer-Encoding: base64\n\naGk=\n"
	    "--b1\nContent-Type: text/html\n\n\xe9 unlabelled\n"
	    "--b1--\nepilogue \xe9\n", 0,
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed;\n\tboundary=\"b1\"\n" CT7
	    "\npreamble \xe9\n"
	    "--b1\nContent-Type: text/plain\n" CTQP "\nh=E9\n"
	    "--b1\nContent-Type: application/octet-stream\n"
	    "Content-Transfer-Encoding: base64\n\naGk=\n"
	    "--b1\nContent-Type: text/html\n\n\xe9 unlabelled\n"
	    "--b1--\nepilogue \xe9\n", 2},
	{"message/rfc822: 7bit, the inner message converted",
	    "Content-Type: multipart/mixed; boundary=z\n\n"
	    "--z\nContent-Type: message/rfc822\n" CT8 "\n"
	    "Subject: inner\n" CT8 "\n\xe9\n"
	    "--z--\n", 0,
	    "Content-Type: multipart/mixed; boundary=z\n\n"
	    "--z\nContent-Type: message/rfc822\n" CT7 "\n"
	    "Subject: inner\n" CTQP "\n=E9\n"
	    "--z--\n", 2},
	{"multipart/digest: parts default to message/rfc822",
	    "Content-Type: multipart/digest; boundary=d\n\n"
	    "--d\n\nSubject: i\n" CT8 "\n\xe9\n--d--\n", 0,
	    "Content-Type: multipart/digest; boundary=d\n\n"
	    "--d\n\nSubject: i\n" CTQP "\n=E9\n--d--\n", 1},
	{"nested multipart: the outer boundary closes the inner",
	    "Content-Type: multipart/mixed; boundary=o\n\n"
	    "--o\nContent-Type: multipart/alternative; boundary=i\n\n"
	    "--i\n" CT8 "\n\xe9\n"
	    "--o\n" CT8 "\n\xea\n--o--\n", 0,
	    "Content-Type: multipart/mixed; boundary=o\n\n"
	    "--o\nContent-Type: multipart/alternative; boundary=i\n\n"
	    "--i\n" CTQP "\n=E9\n"
	    "--o\n" CTQP "\n=EA\n--o--\n", 2},
	{"message/partial: Postfix labels it 7bit, encodes the body",
	    "Content-Type: message/partial; id=x\n" CT8 "\n\xe9\n", 0,
	    "Content-Type: message/partial; id=x\n" CT7 "\n=E9\n", 1},
	{"message/global 8bit: quoted-printable, not parsed",
	    "Content-Type: message/global\n" CT8 "\nSubject: \xe9\n", 0,
	    "Content-Type: message/global\n" CTQP "\nSubject: =E9\n", 1},
	{"boundary in a comment-laden, quoted value",
	    "Content-Type: (c) multipart/mixed (d); charset=x;"
	    " boundary=\"a\\\"b\"\n\n--a\"b\n" CT8 "\n\xe9\n--a\"b--\n", 0,
	    "Content-Type: (c) multipart/mixed (d); charset=x;"
	    " boundary=\"a\\\"b\"\n\n--a\"b\n" CTQP "\n=E9\n--a\"b--\n", 1},
	{"unterminated comment and quote",
	    "Content-Type: multipart/mixed; boundary=\"x\n"
	    "Content-Transfer-Encoding: (8bit\n\n\xe9\n", 0,
	    "Content-Type: multipart/mixed; boundary=\"x\n"
	    "Content-Transfer-Encoding: (8bit\n\n\xe9\n", 0},
	{"continuation line first: not a header, body starts",
	    " x\nSubject: y\n", 0, "\n x\nSubject: y\n", 0},
};

/* deep - 200 nested multiparts, each with an 8bit leaf at the end */
static void
deep(void)
{
	struct buf *in = buf_new(1024), *out = buf_new(1024);
	int	 i, n;

	for (i = 0; i < 200; i++)
		buf_printf(in, "Content-Type: multipart/mixed; boundary=b%03d\n"
		    "\n--b%03d\n", i, i);
	buf_puts(in, CT8 "\n\xe9\n");
	for (i = 199; i >= 0; i--)
		buf_printf(in, "--b%03d--\n", i);
	n = mime_conv_downgrade(BUF_STR(in), BUF_LEN(in), out);
	/* past mime_nesting_limit the boundaries are not followed: the
	 * innermost 8bit leaf is body text of an unconverted part */
	tap_is_int(n, 0, "200 nested multiparts: no conversion past 100");
	tap_ok(BUF_LEN(out) == BUF_LEN(in) && memcmp(BUF_STR(out), BUF_STR(in),
	    BUF_LEN(in)) == 0, "200 nested multiparts: copied unchanged");
	buf_free(in);
	buf_free(out);
}

int
main(void)
{
	size_t	 i;
	struct buf *out = buf_new(256);
	int	 n;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		buf_reset(out);
		n = mime_conv_downgrade(vec[i].in, vec[i].len ? vec[i].len
		    : strlen(vec[i].in), out);
		tap_is_str(BUF_STR(out), vec[i].want, vec[i].name);
		tap_is_int(n, vec[i].conv, vec[i].name);
	}
	deep();
	buf_free(out);
	return (tap_done());
}
