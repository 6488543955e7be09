/*
 * NAME
 *	fuzz_dns - libFuzzer target: DNS answer packets (lib/dns.c)
 * DESCRIPTION
 *	lib/dns.c sends queries with res_nquery() and parses the answer
 *	itself (ns_initparse(), ns_parserr(), ns_name_uncompress(), its
 *	own walk over A/AAAA rdata lengths, MX preference and exchange,
 *	PTR names and TXT character-strings). Here res_nquery() is
 *	wrapped (--wrap, see mk/fuzz.mk): no packet leaves the process,
 *	the answer is the input after its first byte. The first byte
 *	picks the lookup (A+AAAA, MX, PTR of an IPv4 or IPv6 address,
 *	TXT), so every parsing path of the module sees hostile packets:
 *	counts that lie, rdata lengths past the end, compression loops,
 *	character-strings longer than the record.
 */
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "fuzz.h"
#include "str.h"

static const uint8_t *answer;
static size_t answer_len;

/* __wrap_res_nquery - the input is the server's answer */
int
__wrap_res_nquery(res_state res, const char *name, int class, int type,
    unsigned char *buf, int anslen)
{
	size_t	 n = answer_len;

	(void)name;
	(void)class;
	(void)type;
	if (n == 0) {
		res->res_h_errno = TRY_AGAIN;
		return (-1);
	}
	if (n > (size_t)anslen)
		n = (size_t)anslen;
	memcpy(buf, answer, n);
	return ((int)n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct strv *v;
	struct dns_mx *mx = NULL;
	size_t	 nmx = 0, i;
	char	 err[256];

	if (size < 1)
		return (0);
	if (!init) {
		fuzz_quiet();
		init = 1;
	}
	answer = data + 1;
	answer_len = size - 1;
	v = strv_new();
	switch (data[0] % 5) {
	case 0:
		dns_lookup_addr("mx.example.com", v, err, sizeof(err));
		break;
	case 1:
		if (dns_lookup_mx("example.com", &mx, &nmx, err,
		    sizeof(err)) == DNS_OK)
			for (i = 0; i < nmx; i++)
				if (mx[i].host == NULL)
					abort();
		dns_mx_free(mx, nmx);
		break;
	case 2:
		dns_lookup_ptr("192.0.2.1", v, err, sizeof(err));
		break;
	case 3:
		dns_lookup_ptr("2001:db8::1", v, err, sizeof(err));
		break;
	default:
		dns_lookup_txt("2.0.0.127.zen.example", v, err, sizeof(err));
		break;
	}
	strv_free(v);
	return (0);
}
