/*
 * NAME
 *	addr - RFC 5321 envelope address parsing and helpers
 * SYNOPSIS
 *	See addr.h.
 * DESCRIPTION
 *	addr_parse_path() is deliberately strict about what it lets into
 *	the queue (no control characters, no 8-bit, RFC 5321 length
 *	limits) and tolerant where Postfix is tolerant (one space after
 *	the colon, source routes, quoting that was not needed).
 *
 *	The address returned is Postfix's "internal" form: quotes are
 *	dropped when the local part is a valid dot-atom without them;
 *	otherwise the local part keeps its quotes (so "a b"@x stays
 *	quoted and can be written back to SMTP unchanged).
 * DIAGNOSTICS
 *	addr_parse_path() returns -1 and a short reason in err.
 * SEE ALSO
 *	RFC 5321 section 4.1.2, Postfix smtpd.c extract_addr()
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "utf8.h"
#include "xalloc.h"

#define ADDR_MAX_PATH	256	/* RFC 5321 4.5.3.1.3, with <> */
#define ADDR_MAX_ADDR	254	/* RFC 3696 errata: 256 - 2 brackets */
#define ADDR_MAX_LOCAL	64
#define ADDR_MAX_DOMAIN	255

/* addr_err - format a parse error */
static int
addr_err(char *err, size_t errlen, const char *text)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", text);
	return (-1);
}

/* addr_is_atext - RFC 5322 atext character, or a byte of RFC 6532's
 * UTF8-non-ascii (the whole address was checked to be valid UTF-8) */
static int
addr_is_atext(int ch)
{
	return (isalnum(ch) || ch >= 0x80
	    || (ch && strchr("!#$%&'*+-/=?^_`{|}~", ch)));
}

/* addr_is_dot_atom - RFC 5322 dot-atom (non-empty, no leading/trailing
 * or double dots) */
static int
addr_is_dot_atom(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return (0);
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return (0);
		} else if (!addr_is_atext((unsigned char)s[i]))
			return (0);
	}
	return (1);
}

/* addr_check_bytes - refuse control characters and malformed UTF-8 */
static int
addr_check_bytes(const char *s, size_t len, char *err, size_t errlen)
{
	size_t	 i;
	unsigned char ch;

	if (!utf8_valid(s, len))
		return (addr_err(err, errlen, "malformed UTF-8 in address"));
	for (i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		if (ch == '\r' || ch == '\n')
			return (addr_err(err, errlen,
			    "CR or LF character in address"));
		if (ch < 0x20 || ch == 0x7f)
			return (addr_err(err, errlen,
			    "control character in address"));
	}
	return (0);
}

/* addr_find_close - find the '>' that closes the path, honouring quotes */
static const char *
addr_find_close(const char *p, char *err, size_t errlen)
{
	int	 quoted = 0;

	for (; *p; p++) {
		if (quoted) {
			if (*p == '\\') {
				if (p[1] == 0)
					break;
				p++;
			} else if (*p == '"')
				quoted = 0;
			continue;
		}
		if (*p == '"')
			quoted = 1;
		else if (*p == '<') {
			addr_err(err, errlen, "unbalanced '<' in address");
			return (NULL);
		} else if (*p == '>')
			return (p);
	}
	addr_err(err, errlen, quoted ? "unterminated quoted string"
	    : "missing '>' after address");
	return (NULL);
}

/* addr_skip_route - drop an RFC 5321 source route "@a,@b:" */
static const char *
addr_skip_route(const char *s, const char *end, char *err, size_t errlen)
{
	const char *colon;

	if (s >= end || *s != '@')
		return (s);
	colon = memchr(s, ':', (size_t)(end - s));
	if (colon == NULL) {
		addr_err(err, errlen, "malformed source route");
		return (NULL);
	}
	return (colon + 1);
}

/* addr_local_part - copy the local part into out, unquoting if possible;
 * returns the pointer past it (at '@' or end) */
static const char *
addr_local_part(const char *s, const char *end, struct buf *out,
    char *err, size_t errlen)
{
	struct buf *raw;
	const char *p = s;

	if (p < end && *p == '"') {
		raw = buf_new(64);
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			buf_putc(raw, *p);
		}
		if (p >= end) {
			buf_free(raw);
			addr_err(err, errlen, "unterminated quoted string");
			return (NULL);
		}
		p++;
		if (addr_is_dot_atom(BUF_STR(raw), BUF_LEN(raw)))
			buf_append(out, BUF_STR(raw), BUF_LEN(raw));
		else
			buf_append(out, s, (size_t)(p - s));
		buf_free(raw);
		if (p < end && *p != '@') {
			addr_err(err, errlen, "text after quoted local part");
			return (NULL);
		}
		return (p);
	}
	/* The rightmost '@' separates the domain, as in Postfix. */
	for (p = end; p > s && p[-1] != '@'; p--)
		;
	p = (p > s) ? p - 1 : end;
	if (p > s && !addr_is_dot_atom(s, (size_t)(p - s))) {
		addr_err(err, errlen, "bad local part syntax");
		return (NULL);
	}
	buf_append(out, s, (size_t)(p - s));
	return (p);
}

/* addr_valid_domain_part - hostname, UTF-8 hostname or address literal */
static int
addr_valid_domain_part(const char *d)
{
	char	*copy, *p;
	int	 ok;

	if (*d == '[')
		return (addr_is_ip_literal(d));
	if (utf8_allascii(d, strlen(d)))
		return (addr_valid_hostname(d));
	/* RFC 6531 U-labels: the hostname rules, each UTF-8 byte a letter
	 * (IDNA conversion is the next hop's resolver's business). */
	if (!utf8_valid(d, strlen(d)))
		return (0);
	copy = xstrdup(d);
	for (p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = 'x';
	ok = addr_valid_hostname(copy);
	free(copy);
	return (ok);
}

/* addr_parse_inner - the part between '<' and '>' */
static int
addr_parse_inner(const char *s, const char *end, char **addr,
    char *err, size_t errlen)
{
	struct buf *out;
	const char *p, *domain;

	if ((s = addr_skip_route(s, end, err, errlen)) == NULL)
		return (-1);
	if (s == end) {
		*addr = xstrdup("");
		return (0);
	}
	out = buf_new(64);
	if ((p = addr_local_part(s, end, out, err, errlen)) == NULL)
		goto bad;
	if (BUF_LEN(out) == 0) {
		addr_err(err, errlen, "empty local part");
		goto bad;
	}
	if (BUF_LEN(out) > ADDR_MAX_LOCAL) {
		addr_err(err, errlen, "local part too long");
		goto bad;
	}
	if (p < end) {				/* at '@' */
		domain = p + 1;
		if (domain == end) {
			addr_err(err, errlen, "empty domain");
			goto bad;
		}
		if ((size_t)(end - domain) > ADDR_MAX_DOMAIN) {
			addr_err(err, errlen, "domain too long");
			goto bad;
		}
		buf_putc(out, '@');
		buf_append(out, domain, (size_t)(end - domain));
		if (!addr_valid_domain_part(BUF_STR(out) + BUF_LEN(out)
		    - (size_t)(end - domain))) {
			addr_err(err, errlen, "bad domain syntax");
			goto bad;
		}
	}
	if (BUF_LEN(out) > ADDR_MAX_ADDR) {
		addr_err(err, errlen, "address too long");
		goto bad;
	}
	*addr = buf_steal(out);
	return (0);
bad:
	buf_free(out);
	return (-1);
}

/* addr_parse_path - "<addr> PARAMS" from MAIL FROM:/RCPT TO: */
int
addr_parse_path(const char *arg, char **addr, char **params,
    char *err, size_t errlen)
{
	const char *open, *close, *rest;

	*addr = NULL;
	if (params)
		*params = NULL;
	if (arg == NULL)
		return (addr_err(err, errlen, "missing address"));
	if (addr_check_bytes(arg, strlen(arg), err, errlen) < 0)
		return (-1);
	open = arg;
	while (*open == ' ')
		open++;
	if (*open != '<')
		return (addr_err(err, errlen, *open
		    ? "missing '<' before address" : "missing address"));
	if ((close = addr_find_close(open + 1, err, errlen)) == NULL)
		return (-1);
	if ((size_t)(close - open + 1) > ADDR_MAX_PATH)
		return (addr_err(err, errlen, "address too long"));
	rest = close + 1;
	if (*rest && *rest != ' ')
		return (addr_err(err, errlen, "garbage after '>'"));
	if (addr_parse_inner(open + 1, close, addr, err, errlen) < 0)
		return (-1);
	while (*rest == ' ')
		rest++;
	if (params)
		*params = xstrdup(rest);
	return (0);
}

/* addr_valid_mailbox - "local@domain" with a valid domain */
int
addr_valid_mailbox(const char *addr)
{
	const char *at;

	if (addr == NULL || (at = strrchr(addr, '@')) == NULL || at == addr)
		return (0);
	if (strlen(addr) > ADDR_MAX_ADDR
	    || (size_t)(at - addr) > ADDR_MAX_LOCAL)
		return (0);
	return (addr_valid_domain_part(at + 1));
}

/* addr_domain - the part after the last '@', or "" */
const char *
addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return (at ? at + 1 : "");
}

/* addr_localpart - a copy of the part before the last '@' */
char *
addr_localpart(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return (at ? xstrndup(addr, (size_t)(at - addr)) : xstrdup(addr));
}

/* addr_split_ext - "user+ext@dom" -> "user@dom", "ext" */
int
addr_split_ext(const char *addr, const char *delims, char **base,
    char **ext)
{
	const char *at, *d;
	size_t	 llen, pos;

	*base = NULL;
	*ext = NULL;
	if (addr == NULL || delims == NULL || *delims == 0 || *addr == 0)
		return (0);
	at = strrchr(addr, '@');
	llen = at ? (size_t)(at - addr) : strlen(addr);
	pos = strcspn(addr, delims);
	/* No split at the first character or outside the local part. */
	if (pos == 0 || pos >= llen)
		return (0);
	d = addr + pos;
	*ext = xstrndup(d + 1, llen - pos - 1);
	*base = xasprintf("%.*s%s", (int)pos, addr, at ? at : "");
	return (1);
}

/* addr_valid_hostname - Postfix valid_hostname() */
int
addr_valid_hostname(const char *name)
{
	const char *p;
	size_t	 label = 0;
	int	 non_numeric = 0;

	if (name == NULL || *name == 0 || strlen(name) > 255)
		return (0);
	for (p = name; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (isalnum(ch) || ch == '_') {
			if (++label > 63)
				return (0);
			if (!isdigit(ch))
				non_numeric = 1;
		} else if (ch == '-') {
			if (label == 0 || p[1] == '.' || p[1] == 0)
				return (0);
			label++;
			non_numeric = 1;
		} else if (ch == '.') {
			if (label == 0 || p[1] == 0)
				return (0);
			label = 0;
		} else
			return (0);
	}
	return (non_numeric);
}

/* addr_is_fqdn - a valid hostname with at least one dot */
int
addr_is_fqdn(const char *name)
{
	return (name && strchr(name, '.') != NULL && addr_valid_hostname(name));
}

/* addr_is_ip_literal - "[1.2.3.4]" or "[IPv6:...]" */
int
addr_is_ip_literal(const char *name)
{
	size_t	 len;
	char	 tmp[64];
	unsigned char bin[16];

	if (name == NULL || *name != '[')
		return (0);
	len = strlen(name);
	if (len < 3 || name[len - 1] != ']' || len - 2 >= sizeof(tmp))
		return (0);
	memcpy(tmp, name + 1, len - 2);
	tmp[len - 2] = 0;
	if (strncasecmp(tmp, "IPv6:", 5) == 0)
		return (inet_pton(AF_INET6, tmp + 5, bin));
	return (inet_pton(AF_INET, tmp, bin));
}

/* addr_parse_ip - numeric IPv4/IPv6 (brackets allowed, v4-mapped -> v4) */
static int
addr_parse_ip(const char *s, size_t len, unsigned char *bin, int *family)
{
	char	 tmp[INET6_ADDRSTRLEN + 2];

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(tmp))
		return (-1);
	memcpy(tmp, s, len);
	tmp[len] = 0;
	if (inet_pton(AF_INET, tmp, bin) == 1) {
		*family = 4;
		return (0);
	}
	if (inet_pton(AF_INET6, tmp, bin) != 1)
		return (-1);
	if (memcmp(bin, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		memmove(bin, bin + 12, 4);
		*family = 4;
	} else
		*family = 6;
	return (0);
}

/* addr_match_cidr - is addr inside net ("a.b.c.d/n", "[v6]/n", "addr")? */
int
addr_match_cidr(const char *addr, const char *net)
{
	unsigned char a[16], n[16];
	int	 fa, fn;
	const char *slash;
	long	 bits, max;
	char	*end;
	int	 i;

	if (addr == NULL || net == NULL
	    || addr_parse_ip(addr, strlen(addr), a, &fa) < 0)
		return (-1);
	slash = strchr(net, '/');
	if (addr_parse_ip(net, slash ? (size_t)(slash - net) : strlen(net),
	    n, &fn) < 0)
		return (-1);
	max = fn == 4 ? 32 : 128;
	if (slash) {
		bits = strtol(slash + 1, &end, 10);
		if (slash[1] == 0 || *end != 0 || bits < 0 || bits > max)
			return (-1);
	} else
		bits = max;
	if (fa != fn)
		return (0);
	for (i = 0; bits > 0; i++, bits -= 8) {
		unsigned char mask = bits >= 8 ? 0xff
		    : (unsigned char)(0xff << (8 - bits));

		if ((a[i] & mask) != (n[i] & mask))
			return (0);
	}
	return (1);
}
