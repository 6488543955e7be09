/*
 * NAME
 *	str_test - table-driven tests for str.c and buf.c
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "str.h"
#include "tap.h"
#include "xalloc.h"

static const struct {
	const char *name;
	const char *in;
	int	 unit;
	int	 ret;
	long	 want;
} time_vec[] = {
	{"bare number uses default unit", "300", 's', 0, 300},
	{"seconds", "300s", 's', 0, 300},
	{"minutes", "5m", 's', 0, 300},
	{"hours", "6h", 's', 0, 21600},
	{"days", "5d", 's', 0, 432000},
	{"weeks", "1w", 's', 0, 604800},
	{"default unit days", "5", 'd', 0, 432000},
	{"empty", "", 's', -1, 0},
	{"unit only", "s", 's', -1, 0},
	{"bad unit", "5x", 's', -1, 0},
	{"trailing junk", "5ss", 's', -1, 0},
	{"negative", "-5", 's', -1, 0},
	{"overflow", "99999999999999999999w", 's', -1, 0},
};

static const struct {
	const char *name;
	const char *in;
	const char *want;	/* joined with | */
} split_vec[] = {
	{"commas and spaces", "a, b,c  d", "a|b|c|d"},
	{"newlines and tabs", "\n\ta\n\tb\n", "a|b"},
	{"empty", "", ""},
	{"only separators", " , ,\t", ""},
	{"8-bit bytes kept", "\xc3\xa9t\xc3\xa9, x", "\xc3\xa9t\xc3\xa9|x"},
};

int
main(void)
{
	size_t	 i;
	long	 v;
	int	 b;

	for (i = 0; i < sizeof(time_vec) / sizeof(time_vec[0]); i++) {
		v = 0;
		tap_is_int(str_parse_time(time_vec[i].in, time_vec[i].unit, &v),
		    time_vec[i].ret, time_vec[i].name);
		if (time_vec[i].ret == 0)
			tap_is_int(v, time_vec[i].want, time_vec[i].name);
	}
	for (i = 0; i < sizeof(split_vec) / sizeof(split_vec[0]); i++) {
		struct strv *sv = strv_split(split_vec[i].in, STR_LIST_DELIMS);
		char	*j = strv_join(sv, "|");

		tap_is_str(j, split_vec[i].want, split_vec[i].name);
		free(j);
		strv_free(sv);
	}
	tap_ok(str_parse_bool("Yes", &b) == 0 && b == 1, "bool yes");
	tap_ok(str_parse_bool("off", &b) == 0 && b == 0, "bool off");
	tap_ok(str_parse_bool("maybe", &b) == -1, "bool rejects maybe");
	{
		struct buf *bf = buf_new(1);
		char	 big[5000];

		memset(big, 'x', sizeof(big));
		buf_append(bf, "a\0b", 3);
		tap_is_int((long)BUF_LEN(bf), 3, "buf keeps NUL bytes");
		buf_append(bf, big, sizeof(big));
		buf_printf(bf, "%d-%s", 42, "z");
		tap_is_int((long)BUF_LEN(bf), 3 + 5000 + 4, "buf grows");
		tap_is_str(BUF_STR(bf) + 5003, "42-z", "buf_printf appends");
		buf_free(bf);
	}
	{
		char	 s[] = "  hello world \t\n";

		tap_is_str(str_trim(s), "hello world", "trim");
	}
	return (tap_done());
}
