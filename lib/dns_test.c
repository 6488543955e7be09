/*
 * NAME
 *	dns_test - table-driven tests for dns.c's TLSA record parsing
 */
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "tap.h"

static const struct {
	const char *name;
	const char *rdata;	/* bytes */
	size_t	 len;
	int	 ret;
	int	 usage, selector, mtype;
	size_t	 dlen;
} tlsa_vec[] = {
	{"3 1 1 with a SHA2-256 digest",
	    "\3\1\1" "0123456789abcdef0123456789abcdef", 35, 0, 3, 1, 1, 32},
	{"2 0 2 with a SHA2-512 digest",
	    "\2\0\2" "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef", 67, 0, 2, 0, 2, 64},
	{"3 0 0 one data byte", "\3\0\0" "x", 4, 0, 3, 0, 0, 1},
	{"usage 1 is parsed (the caller skips it)", "\1\1\1" "ab", 5, 0,
	    1, 1, 1, 2},
	{"no data", "\3\1\1", 3, -1, 0, 0, 0, 0},
	{"empty", "", 0, -1, 0, 0, 0, 0},
	{"two bytes", "\3\1", 2, -1, 0, 0, 0, 0},
};

int
main(void)
{
	struct dns_tlsa t;
	unsigned char *big;
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(tlsa_vec) / sizeof(tlsa_vec[0]); i++) {
		rc = dns_tlsa_parse((const unsigned char *)tlsa_vec[i].rdata,
		    tlsa_vec[i].len, &t);
		tap_is_int(rc, tlsa_vec[i].ret, tlsa_vec[i].name);
		if (rc < 0)
			continue;
		tap_ok(t.usage == tlsa_vec[i].usage
		    && t.selector == tlsa_vec[i].selector
		    && t.mtype == tlsa_vec[i].mtype
		    && t.len == tlsa_vec[i].dlen
		    && memcmp(t.data, tlsa_vec[i].rdata + 3, t.len) == 0,
		    "%s: fields and data", tlsa_vec[i].name);
	}
	big = calloc(1, DNS_TLSA_DATA_MAX + 4);
	big[0] = 2;
	tap_is_int(dns_tlsa_parse(big, DNS_TLSA_DATA_MAX + 3, &t), 0,
	    "data of the largest size kept");
	tap_is_int(dns_tlsa_parse(big, DNS_TLSA_DATA_MAX + 4, &t), -1,
	    "longer data refused");
	free(big);
	tap_is_int(dns_last_ad(), 0, "no query yet: no AD bit");
	return (tap_done());
}
