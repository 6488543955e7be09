/*
 * NAME
 *	tls_dane_test - which TLSA records SMTP can use (RFC 7672 3.1)
 */
#include <string.h>

#include "tap.h"
#include "tls_dane.h"

static const struct {
	const char *name;
	int	 usage, selector, mtype;
	size_t	 len;
	int	 usable;
} vec[] = {
	{"3 1 1 DANE-EE SPKI SHA2-256", 3, 1, 1, 32, 1},
	{"3 0 1 DANE-EE certificate SHA2-256", 3, 0, 1, 32, 1},
	{"2 0 1 DANE-TA certificate SHA2-256", 2, 0, 1, 32, 1},
	{"2 1 2 DANE-TA SPKI SHA2-512", 2, 1, 2, 64, 1},
	{"3 1 0 DANE-EE full SPKI", 3, 1, 0, 91, 1},
	{"0 0 1 PKIX-TA: unusable for SMTP", 0, 0, 1, 32, 0},
	{"1 1 1 PKIX-EE: unusable for SMTP", 1, 1, 1, 32, 0},
	{"4 1 1 unknown usage", 4, 1, 1, 32, 0},
	{"3 2 1 unknown selector", 3, 2, 1, 32, 0},
	{"3 1 3 unknown matching type", 3, 1, 3, 32, 0},
	{"3 1 1 with a 31-byte digest", 3, 1, 1, 31, 0},
	{"3 1 2 with a 32-byte digest", 3, 1, 2, 32, 0},
	{"3 1 0 without data", 3, 1, 0, 0, 0},
};

int
main(void)
{
	struct dns_tlsa t;
	size_t	 i;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		memset(&t, 0, sizeof(t));
		t.usage = vec[i].usage;
		t.selector = vec[i].selector;
		t.mtype = vec[i].mtype;
		t.len = vec[i].len;
		tap_is_int(tls_dane_usable(&t), vec[i].usable, vec[i].name);
	}
	return (tap_done());
}
