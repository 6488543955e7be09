/*
 * NAME
 *	dsn_test - table-driven tests for dsn_split()
 */
#include <stdio.h>
#include <string.h>

#include "dsn.h"
#include "tap.h"

static const struct {
	const char *name;
	const char *in;
	const char *def;
	const char *want_dsn;
	const char *want_text;
} vec[] = {
	{"code and text", "5.7.1 go away", "4.7.1", "5.7.1", "go away"},
	{"4xx code", "4.2.0 later", "5.7.1", "4.2.0", "later"},
	{"code alone", "5.1.1", "4.7.1", "5.1.1", ""},
	{"code and trailing space", "4.7.1 ", "5.7.1", "4.7.1", ""},
	{"spaces after the code skipped", "5.7.1    x y", "4.7.1", "5.7.1",
	    "x y"},
	{"three-digit parts", "5.123.456 x", "4.7.1", "5.123.456", "x"},
	{"no code", "go away", "5.7.1", "5.7.1", "go away"},
	{"empty text", "", "4.7.1", "4.7.1", ""},
	{"2xx is not a reject code", "2.0.0 ok", "5.7.1", "5.7.1",
	    "2.0.0 ok"},
	{"too short", "5.7 x", "4.7.1", "4.7.1", "5.7 x"},
	{"glued to the text", "5.7.1go", "4.7.1", "4.7.1", "5.7.1go"},
	{"tab after the code is text", "5.7.1\tx", "4.7.1", "4.7.1",
	    "5.7.1\tx"},
	{"no dot after the class", "55.7.1 x", "4.7.1", "4.7.1",
	    "55.7.1 x"},
	{"16 bytes do not fit dsn[16]", "5.7.111111111111 x", "4.7.1",
	    "4.7.1", "5.7.111111111111 x"},
	{"15 bytes fit dsn[16]", "5.7.11111111111 x", "4.7.1",
	    "5.7.11111111111", "x"},
	{"leading space: no code", " 5.7.1 x", "4.7.1", "4.7.1", " 5.7.1 x"},
	{"8-bit text kept", "5.7.1 \xc3\xa9\xff", "4.7.1", "5.7.1",
	    "\xc3\xa9\xff"},
	{"reply code is not a dsn", "550 5.7.1 x", "5.7.1", "5.7.1",
	    "550 5.7.1 x"},
};

int
main(void)
{
	size_t	 i;
	char	 dsn[16];
	const char *t;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		memset(dsn, 'x', sizeof(dsn));
		t = dsn_split(vec[i].in, dsn, sizeof(dsn), vec[i].def);
		tap_is_str(dsn, vec[i].want_dsn, vec[i].name);
		tap_is_str(t, vec[i].want_text, vec[i].name);
	}
	return (tap_done());
}
