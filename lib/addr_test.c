/*
 * NAME
 *	addr_test - table-driven tests for addr.c
 * DESCRIPTION
 *	Every parser vector set includes hostile input: empty, overlong,
 *	control characters, bare LF, 8-bit, unbalanced <>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "tap.h"
#include "xalloc.h"

#define LONG64	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LABEL63	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static const struct {
	const char *name;
	const char *in;
	int	 ret;
	const char *addr;	/* when ret == 0 */
	const char *params;
} path_vec[] = {
	{"plain", "<user@example.com>", 0, "user@example.com", ""},
	{"space after colon", " <user@example.com>", 0, "user@example.com", ""},
	{"two spaces after colon", "  <a@b.example>", 0, "a@b.example", ""},
	{"null sender", "<>", 0, "", ""},
	{"null sender with params", "<> SIZE=100", 0, "", "SIZE=100"},
	{"params", "<a@b.example> SIZE=1000 BODY=8BITMIME", 0, "a@b.example",
	    "SIZE=1000 BODY=8BITMIME"},
	{"params after two spaces", "<a@b.example>  SIZE=1", 0, "a@b.example",
	    "SIZE=1"},
	{"postmaster without domain", "<postmaster>", 0, "postmaster", ""},
	{"source route dropped", "<@relay.example,@r2.example:u@d.example>",
	    0, "u@d.example", ""},
	{"source route without colon", "<@relay.example>", -1, NULL, NULL},
	{"needless quotes dropped", "<\"user\"@example.com>", 0,
	    "user@example.com", ""},
	{"needed quotes kept", "<\"john doe\"@example.com>", 0,
	    "\"john doe\"@example.com", ""},
	{"quoted '>' inside", "<\"a>b\"@example.com>", 0,
	    "\"a>b\"@example.com", ""},
	{"quoted escaped quote", "<\"a\\\"b\"@example.com>", 0,
	    "\"a\\\"b\"@example.com", ""},
	{"unterminated quote", "<\"abc@example.com>", -1, NULL, NULL},
	{"text after quoted local", "<\"abc\"x@example.com>", -1, NULL, NULL},
	{"ip literal domain", "<u@[192.0.2.1]>", 0, "u@[192.0.2.1]", ""},
	{"ipv6 literal domain", "<u@[IPv6:2001:db8::1]>", 0,
	    "u@[IPv6:2001:db8::1]", ""},
	{"bad ip literal", "<u@[999.1.1.1]>", -1, NULL, NULL},
	{"plus extension", "<u+tag@example.com>", 0, "u+tag@example.com", ""},
	{"trailing dot in domain", "<u@example.com.>", -1, NULL, NULL},
	{"empty", "", -1, NULL, NULL},
	{"only spaces", "   ", -1, NULL, NULL},
	{"missing brackets", "user@example.com", -1, NULL, NULL},
	{"missing close", "<user@example.com", -1, NULL, NULL},
	{"missing open", "user@example.com>", -1, NULL, NULL},
	{"nested open", "<<user@example.com>>", -1, NULL, NULL},
	{"two opens", "<a<b@example.com>", -1, NULL, NULL},
	{"garbage after >", "<a@example.com>x", -1, NULL, NULL},
	{"space inside", "<a b@example.com>", -1, NULL, NULL},
	{"CR inside", "<a\r@example.com>", -1, NULL, NULL},
	{"bare LF inside", "<a@example.com\n>", -1, NULL, NULL},
	{"bare LF after", "<a@example.com>\n", -1, NULL, NULL},
	{"NUL truncates to unbalanced", "<a@exam\0ple.com>", -1, NULL, NULL},
	{"control char", "<a\001@example.com>", -1, NULL, NULL},
	{"DEL char", "<a\177@example.com>", -1, NULL, NULL},
	{"UTF-8 local part (RFC 6531)", "<j\xc3\xb6rg@example.com>", 0,
	    "j\xc3\xb6rg@example.com", ""},
	{"UTF-8 domain (U-label)", "<u@b\xc3\xbcro.example> SMTPUTF8", 0,
	    "u@b\xc3\xbcro.example", "SMTPUTF8"},
	{"UTF-8 CJK both parts", "<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe"
	    "\x8b\xe5\xad\x90.test>", 0, "\xe7\x94\xa8\xe6\x88\xb7@"
	    "\xe4\xbe\x8b\xe5\xad\x90.test", ""},
	{"UTF-8 quoted local part", "<\"j\xc3\xb6 rg\"@example.com>", 0,
	    "\"j\xc3\xb6 rg\"@example.com", ""},
	{"latin-1 byte (malformed UTF-8)", "<j\xf6rg@example.com>", -1, NULL,
	    NULL},
	{"overlong UTF-8", "<a\xc0\xaf" "b@example.com>", -1, NULL, NULL},
	{"surrogate in UTF-8", "<a\xed\xa0\x80@example.com>", -1, NULL,
	    NULL},
	{"truncated UTF-8 in domain", "<a@b\xc3.example>", -1, NULL, NULL},
	{"malformed UTF-8 in params", "<a@b.example> X=\xff", -1, NULL,
	    NULL},
	{"UTF-8 domain label hyphen edge", "<a@\xc3\xbc-.example>", -1,
	    NULL, NULL},
	{"empty domain", "<user@>", -1, NULL, NULL},
	{"empty quoted local part is legal", "<\"\"@example.com>", 0,
	    "\"\"@example.com", ""},
	{"double dot local", "<a..b@example.com>", -1, NULL, NULL},
	{"leading dot local", "<.a@example.com>", -1, NULL, NULL},
	{"double at", "<a@@example.com>", -1, NULL, NULL},
	{"bad domain chars", "<a@exa mple.com>", -1, NULL, NULL},
	{"domain label hyphen edge", "<a@-x.example>", -1, NULL, NULL},
	{"local part 64 ok", "<" LONG64 "@example.com>", 0,
	    LONG64 "@example.com", ""},
	{"local part 65 too long", "<" LONG64 "a@example.com>", -1, NULL, NULL},
	{"label 64 too long", "<a@" LABEL63 "b.example>", -1, NULL, NULL},
	{"address over 254", "<a@" LABEL63 "." LABEL63 "." LABEL63 "."
	    LABEL63 ".example>", -1, NULL, NULL},
};

static const struct {
	const char *name;
	const char *in;
	int	 valid;
	int	 fqdn;
} host_vec[] = {
	{"simple fqdn", "mail.example.com", 1, 1},
	{"single label", "localhost", 1, 0},
	{"underscore allowed", "a_b.example", 1, 1},
	{"hyphen inside", "a-b.example", 1, 1},
	{"leading hyphen", "-ab.example", 0, 0},
	{"trailing hyphen", "ab-.example", 0, 0},
	{"trailing dot", "mail.example.", 0, 0},
	{"leading dot", ".example", 0, 0},
	{"double dot", "a..example", 0, 0},
	{"numeric", "192.0.2.1", 0, 0},
	{"numeric single", "12345", 0, 0},
	{"empty", "", 0, 0},
	{"space", "a b.example", 0, 0},
	{"8-bit", "b\xc3\xbcro.example", 0, 0},
	{"literal is not a hostname", "[192.0.2.1]", 0, 0},
	{"label 63 ok", LABEL63 ".example", 1, 1},
	{"label 64 too long", LABEL63 "b.example", 0, 0},
};

static const struct {
	const char *name;
	const char *in;
	int	 want;
} lit_vec[] = {
	{"ipv4", "[192.0.2.1]", 1},
	{"ipv6", "[IPv6:2001:db8::1]", 1},
	{"ipv6 lower case tag", "[ipv6:::1]", 1},
	{"ipv6 without tag", "[2001:db8::1]", 0},
	{"bad ipv4", "[192.0.2.256]", 0},
	{"no brackets", "192.0.2.1", 0},
	{"unbalanced", "[192.0.2.1", 0},
	{"empty", "[]", 0},
	{"hostname", "[mail.example]", 0},
};

static const struct {
	const char *name;
	const char *in;
	const char *delims;
	int	 ret;
	const char *base;
	const char *ext;
} ext_vec[] = {
	{"plus", "user+tag@example.com", "+", 1, "user@example.com", "tag"},
	{"no ext", "user@example.com", "+", 0, NULL, NULL},
	{"two delims first wins", "user-a+b@example.com", "+-", 1,
	    "user@example.com", "a+b"},
	{"delimiter first char", "+tag@example.com", "+", 0, NULL, NULL},
	{"delimiter in domain only", "user@ex+ample.com", "+", 0, NULL, NULL},
	{"empty ext", "user+@example.com", "+", 1, "user@example.com", ""},
	{"no domain", "user+tag", "+", 1, "user", "tag"},
	{"empty delims", "user+tag@example.com", "", 0, NULL, NULL},
	{"empty address", "", "+", 0, NULL, NULL},
};

static const struct {
	const char *name;
	const char *in;
	int	 want;
} mbox_vec[] = {
	{"mailbox", "u@example.com", 1},
	{"no domain", "postmaster", 0},
	{"empty", "", 0},
	{"empty local", "@example.com", 0},
	{"literal", "u@[192.0.2.1]", 1},
	{"bad domain", "u@exa_mple..com", 0},
};

static const struct {
	const char *name;
	const char *addr;
	const char *net;
	int	 want;
} cidr_vec[] = {
	{"v4 inside /8", "127.0.0.1", "127.0.0.0/8", 1},
	{"v4 outside /24", "192.0.3.1", "192.0.2.0/24", 0},
	{"v4 /0 matches all", "203.0.113.9", "0.0.0.0/0", 1},
	{"v4 host", "192.0.2.1", "192.0.2.1", 1},
	{"v4 host other", "192.0.2.2", "192.0.2.1", 0},
	{"v4 /31 odd bits", "192.0.2.3", "192.0.2.2/31", 1},
	{"v4 /25 boundary", "192.0.2.128", "192.0.2.0/25", 0},
	{"v6 bracketed", "::1", "[::1]/128", 1},
	{"v6 bare", "2001:db8::5", "2001:db8::/32", 1},
	{"v6 outside", "2001:db9::5", "2001:db8::/32", 0},
	{"v6 bracket host", "fe80::1", "[fe80::1]", 1},
	{"v4-mapped client", "::ffff:192.0.2.1", "192.0.2.0/24", 1},
	{"family mismatch", "192.0.2.1", "::/0", 0},
	{"bad prefix", "192.0.2.1", "192.0.2.0/33", -1},
	{"empty prefix", "192.0.2.1", "192.0.2.0/", -1},
	{"junk prefix", "192.0.2.1", "192.0.2.0/2x", -1},
	{"bad net", "192.0.2.1", "example.com", -1},
	{"bad addr", "unknown", "0.0.0.0/0", -1},
	{"empty addr", "", "0.0.0.0/0", -1},
};

int
main(void)
{
	size_t	 i;
	char	 err[256], name[300];
	char	*addr, *params, *base, *ext, *lp;
	int	 ret;

	for (i = 0; i < sizeof(path_vec) / sizeof(path_vec[0]); i++) {
		err[0] = 0;
		ret = addr_parse_path(path_vec[i].in, &addr, &params, err,
		    sizeof(err));
		snprintf(name, sizeof(name), "parse_path %s", path_vec[i].name);
		tap_is_int(ret, path_vec[i].ret, name);
		if (ret == 0 && path_vec[i].ret == 0) {
			tap_is_str(addr, path_vec[i].addr, name);
			tap_is_str(params, path_vec[i].params, name);
		} else if (ret < 0) {
			tap_ok(err[0] != 0 && addr == NULL,
			    "%s: has reason (%s)", name, err);
		}
		free(addr);
		free(params);
	}
	for (i = 0; i < sizeof(host_vec) / sizeof(host_vec[0]); i++) {
		snprintf(name, sizeof(name), "valid_hostname %s",
		    host_vec[i].name);
		tap_is_int(addr_valid_hostname(host_vec[i].in),
		    host_vec[i].valid, name);
		snprintf(name, sizeof(name), "is_fqdn %s", host_vec[i].name);
		tap_is_int(addr_is_fqdn(host_vec[i].in), host_vec[i].fqdn, name);
	}
	for (i = 0; i < sizeof(lit_vec) / sizeof(lit_vec[0]); i++) {
		snprintf(name, sizeof(name), "ip_literal %s", lit_vec[i].name);
		tap_is_int(addr_is_ip_literal(lit_vec[i].in), lit_vec[i].want,
		    name);
	}
	for (i = 0; i < sizeof(ext_vec) / sizeof(ext_vec[0]); i++) {
		snprintf(name, sizeof(name), "split_ext %s", ext_vec[i].name);
		ret = addr_split_ext(ext_vec[i].in, ext_vec[i].delims, &base,
		    &ext);
		tap_is_int(ret, ext_vec[i].ret, name);
		tap_is_str(base, ext_vec[i].base, name);
		tap_is_str(ext, ext_vec[i].ext, name);
		free(base);
		free(ext);
	}
	for (i = 0; i < sizeof(mbox_vec) / sizeof(mbox_vec[0]); i++) {
		snprintf(name, sizeof(name), "valid_mailbox %s",
		    mbox_vec[i].name);
		tap_is_int(addr_valid_mailbox(mbox_vec[i].in), mbox_vec[i].want,
		    name);
	}
	for (i = 0; i < sizeof(cidr_vec) / sizeof(cidr_vec[0]); i++) {
		snprintf(name, sizeof(name), "match_cidr %s", cidr_vec[i].name);
		tap_is_int(addr_match_cidr(cidr_vec[i].addr, cidr_vec[i].net),
		    cidr_vec[i].want, name);
	}
	tap_is_str(addr_domain("a@b@c.example"), "c.example", "domain last @");
	tap_is_str(addr_domain("postmaster"), "", "domain none");
	lp = addr_localpart("u@example.com");
	tap_is_str(lp, "u", "localpart");
	free(lp);
	lp = addr_localpart("postmaster");
	tap_is_str(lp, "postmaster", "localpart without domain");
	free(lp);
	return (tap_done());
}
