/*
 * NAME
 *	fuzz_addr - libFuzzer target: envelope address parsing (lib/addr)
 * DESCRIPTION
 *	The input is what follows "MAIL FROM:" or "RCPT TO:".
 *	addr_parse_path() must accept or refuse it without touching memory
 *	it does not own; an accepted address then goes through every
 *	helper smtpd and the resolver apply to it (domain, local part,
 *	extension split, hostname and literal checks, CIDR match against
 *	the input itself), and a refused one must come with a reason.
 *	Invariants checked: an accepted address holds no CR, LF or NUL
 *	and is at most 254 bytes (RFC 5321) unless it is "".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	char	*arg, *addr = NULL, *params = NULL, *lp, *base, *ext;
	char	 err[256];
	const char *dom;

	if (!init) {
		fuzz_quiet();
		init = 1;
	}
	arg = fuzz_str(data, size);
	err[0] = 0;
	if (addr_parse_path(arg, &addr, &params, err, sizeof(err)) == 0) {
		if (addr == NULL || strpbrk(addr, "\r\n") || strlen(addr) > 254)
			abort();
		addr_valid_mailbox(addr);
		dom = addr_domain(addr);
		addr_valid_hostname(dom);
		addr_is_fqdn(dom);
		addr_is_ip_literal(dom);
		lp = addr_localpart(addr);
		free(lp);
		base = ext = NULL;
		addr_split_ext(addr, "+-", &base, &ext);
		free(base);
		free(ext);
		if (*dom == '[') {
			char	*lit = strdup(dom + 1), *e;

			if ((e = strchr(lit, ']')) != NULL)
				*e = 0;
			addr_match_cidr(strncmp(lit, "IPv6:", 5) == 0
			    ? lit + 5 : lit, "192.0.2.0/24");
			free(lit);
		}
	} else if (err[0] == 0)
		abort();	/* refused without a reason */
	free(addr);
	free(params);
	/* The helpers take any text too (mynetworks, hostnames). */
	addr_valid_hostname(arg);
	addr_is_ip_literal(arg);
	addr_match_cidr("192.0.2.1", arg);
	addr_match_cidr(arg, "2001:db8::/32");
	free(arg);
	return (0);
}
