/*
 * NAME
 *	utf8_test - table-driven tests for utf8.c
 */
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "utf8.h"

static const struct {
	const char *name;
	const char *in;
	int	 valid;
	int	 ascii;
} valid_vec[] = {
	{"empty", "", 1, 1},
	{"ascii", "user@example.com", 1, 1},
	{"two bytes (U+00E9)", "jos\xc3\xa9", 1, 0},
	{"three bytes (U+4F8B)", "\xe4\xbe\x8b", 1, 0},
	{"four bytes (U+1F600)", "\xf0\x9f\x98\x80", 1, 0},
	{"latin-1 byte alone", "jos\xe9", 0, 0},
	{"stray continuation", "a\x80", 0, 0},
	{"overlong slash C0 AF", "\xc0\xaf", 0, 0},
	{"overlong C1 BF", "\xc1\xbf", 0, 0},
	{"overlong E0 80 AF", "\xe0\x80\xaf", 0, 0},
	{"overlong F0 80 80 AF", "\xf0\x80\x80\xaf", 0, 0},
	{"surrogate ED A0 80", "\xed\xa0\x80", 0, 0},
	{"last before surrogates ED 9F BF", "\xed\x9f\xbf", 1, 0},
	{"past U+10FFFF F4 90 80 80", "\xf4\x90\x80\x80", 0, 0},
	{"U+10FFFF", "\xf4\x8f\xbf\xbf", 1, 0},
	{"F5 lead", "\xf5\x80\x80\x80", 0, 0},
	{"FF byte", "\xff", 0, 0},
	{"truncated three", "\xe4\xbe", 0, 0},
	{"truncated four at end", "ok\xf0\x9f\x98", 0, 0},
	{"lead then ascii", "\xc3" "a", 0, 0},
};

static const struct {
	const char *name;
	const char *in;
	size_t	 max;
	const char *want;
} print_vec[] = {
	{"ascii kept", "a@b", 100, "a@b"},
	{"utf-8 kept", "jos\xc3\xa9@\xe4\xbe\x8b.test", 100,
	    "jos\xc3\xa9@\xe4\xbe\x8b.test"},
	{"control characters", "a\r\nb\tc\x1b[0m\x7f", 100, "a??b?c?[0m?"},
	{"C1 control U+0085", "a\xc2\x85z", 100, "a??z"},
	{"NBSP U+00A0 kept", "a\xc2\xa0z", 100, "a\xc2\xa0z"},
	{"invalid bytes", "jos\xe9 \xc0\xaf \xed\xa0\x80", 100,
	    "jos? ?? ???"},
	{"cut before a sequence that does not fit", "ab\xe4\xbe\x8b", 4,
	    "ab"},
	{"truncated at max", "abcdef", 3, "abc"},
};

int
main(void)
{
	size_t	 i;
	char	 out[128];

	for (i = 0; i < sizeof(valid_vec) / sizeof(valid_vec[0]); i++) {
		tap_is_int(utf8_valid(valid_vec[i].in, strlen(valid_vec[i].in)),
		    valid_vec[i].valid, valid_vec[i].name);
		tap_is_int(utf8_allascii(valid_vec[i].in,
		    strlen(valid_vec[i].in)), valid_vec[i].ascii,
		    valid_vec[i].name);
	}
	tap_is_int(utf8_valid("a\0\xc3\xa9", 4), 1, "NUL is ASCII");
	for (i = 0; i < sizeof(print_vec) / sizeof(print_vec[0]); i++)
		tap_is_str(utf8_printable(print_vec[i].in,
		    strlen(print_vec[i].in), print_vec[i].max, out),
		    print_vec[i].want, print_vec[i].name);
	return (tap_done());
}
