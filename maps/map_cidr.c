/*
 * NAME
 *	map_cidr - cidr: tables (cidr_table(5))
 * SYNOPSIS
 *	map_cidr_ops (map_int.h)
 * DESCRIPTION
 *	Each logical line is "network/prefix result" or "address result"
 *	(a host), IPv4 or IPv6 (optionally in [brackets]). Rules are
 *	tried in file order; the first network that contains the key
 *	wins. A key that is not an IP address is not found. An IPv4-
 *	mapped IPv6 key (::ffff:192.0.2.1) is looked up as IPv4.
 * DIAGNOSTICS
 *	Bad lines (bad address, prefix out of range, host bits set
 *	beyond the prefix, no result) are logged with file, line and
 *	skipped, as Postfix does. An unreadable file fails the open.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "map_int.h"
#include "str.h"
#include "xalloc.h"

struct map_cidr_rule {
	int	 family;
	unsigned char net[16];
	int	 prefix;
	char	*result;
};

struct map_cidr {
	struct map_cidr_rule *rules;
	size_t	 count;
};

/* map_cidr_parse_addr - text to bytes; strips [] and v4-mapped */
static int
map_cidr_parse_addr(const char *text, unsigned char *out, int *family)
{
	char	 tmp[INET6_ADDRSTRLEN + 4];
	size_t	 len = strlen(text);
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0xff, 0xff};

	if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
		text++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(tmp))
		return (-1);
	memcpy(tmp, text, len);
	tmp[len] = 0;
	if (inet_pton(AF_INET, tmp, out) == 1) {
		*family = AF_INET;
		return (0);
	}
	if (inet_pton(AF_INET6, tmp, out) == 1) {
		*family = AF_INET6;
		if (memcmp(out, mapped, 12) == 0) {
			memmove(out, out + 12, 4);
			*family = AF_INET;
		}
		return (0);
	}
	return (-1);
}

/* map_cidr_match - does addr fall in net/prefix? */
static int
map_cidr_match(const unsigned char *net, int prefix,
    const unsigned char *addr)
{
	int	 full = prefix / 8, rest = prefix % 8;

	if (memcmp(net, addr, full) != 0)
		return (0);
	if (rest == 0)
		return (1);
	return (((net[full] ^ addr[full]) & (0xff << (8 - rest)) & 0xff)
	    == 0);
}

/* map_cidr_rule - parse "net[/prefix] result"; NULL message if ok */
static const char *
map_cidr_rule(char *line, struct map_cidr_rule *r)
{
	char	*net, *result, *slash;
	long	 prefix;
	int	 max;

	net = str_trim(line);
	result = net + strcspn(net, " \t");
	if (*result == 0)
		return ("expected: network/prefix result");
	*result++ = 0;
	result = str_trim(result);
	if (*result == 0)
		return ("expected: network/prefix result");
	if ((slash = strchr(net, '/')) != NULL)
		*slash++ = 0;
	if (strchr(net, ':') && !(net[0] == '[')) {
		/* Keep "::ffff:1.2.3.4/120" an IPv6 rule, not mapped. */
		if (inet_pton(AF_INET6, net, r->net) != 1)
			return ("bad network address");
		r->family = AF_INET6;
	} else if (map_cidr_parse_addr(net, r->net, &r->family) < 0)
		return ("bad network address");
	max = r->family == AF_INET ? 32 : 128;
	if (slash == NULL)
		prefix = max;
	else if (str_parse_long(slash, &prefix) < 0 || prefix < 0
	    || prefix > max)
		return ("bad network prefix");
	r->prefix = (int) prefix;
	/* Host bits beyond the prefix must be zero (Postfix skips such). */
	{
		unsigned char masked[16];
		int	 i;

		memcpy(masked, r->net, 16);
		for (i = r->prefix; i < max; i++)
			masked[i / 8] &= ~(0x80 >> (i % 8));
		if (memcmp(masked, r->net, max / 8) != 0)
			return ("non-null host address bits");
	}
	r->result = xstrdup(result);
	return (NULL);
}

/* map_cidr_open - read all rules */
static int
map_cidr_open(struct map *m)
{
	struct map_cidr *t;
	struct buf *b;
	FILE	*fp;
	int	 lineno = 0, first;
	size_t	 cap = 0;
	const char *why;

	if ((fp = fopen(m->name, "r")) == NULL) {
		map_set_error(m, "%s: open %s: %s", m->spec, m->name,
		    strerror(errno));
		return (-1);
	}
	t = xcalloc(1, sizeof(*t));
	b = buf_new(128);
	while (map_text_logical(fp, b, &lineno, &first)) {
		struct map_cidr_rule r;

		memset(&r, 0, sizeof(r));
		if (BUF_LEN(b) == 1 && BUF_STR(b)[0] == 0)
			why = "NUL byte in line";
		else
			why = map_cidr_rule(BUF_STR(b), &r);
		if (why) {
			log_warn("%s, line %d: %s, skipping this rule", m->name,
			    first, why);
			continue;
		}
		if (t->count == cap) {
			cap = cap ? cap * 2 : 16;
			t->rules = xrealloc(t->rules, cap * sizeof(*t->rules));
		}
		t->rules[t->count++] = r;
	}
	buf_free(b);
	fclose(fp);
	m->priv = t;
	return (0);
}

/* map_cidr_lookup - first containing network wins */
static int
map_cidr_lookup(struct map *m, const char *key, char **value)
{
	struct map_cidr *t = m->priv;
	unsigned char addr[16];
	int	 family;
	size_t	 i;

	if (map_cidr_parse_addr(key, addr, &family) < 0)
		return (MAP_NOTFOUND);
	for (i = 0; i < t->count; i++)
		if (t->rules[i].family == family
		    && map_cidr_match(t->rules[i].net, t->rules[i].prefix,
		    addr)) {
			*value = xstrdup(t->rules[i].result);
			return (MAP_FOUND);
		}
	return (MAP_NOTFOUND);
}

/* map_cidr_close - free the rules */
static void
map_cidr_close(struct map *m)
{
	struct map_cidr *t = m->priv;
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->count; i++)
		free(t->rules[i].result);
	free(t->rules);
	free(t);
	m->priv = NULL;
}

const struct map_ops map_cidr_ops = {
	"cidr", MAP_OPS_FILE | MAP_OPS_PATTERN, NULL, map_cidr_open,
	map_cidr_lookup, NULL, map_cidr_close,
};
