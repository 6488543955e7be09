/*
 * NAME
 *	smtp_generic - smtp_generic_maps: envelope and header addresses
 * SYNOPSIS
 *	See smtp.h.
 * DESCRIPTION
 *	As Postfix's smtp does on the way out: the envelope sender, each
 *	envelope recipient and the addresses in From:, Sender:,
 *	Reply-To:, To:, Cc:, Bcc:, Resent-*:, Return-Receipt-To:,
 *	Errors-To:, Disposition-Notification-To: and Mail-Followup-To:
 *	are looked up (user@domain, then @domain: lib map.h address
 *	order) and replaced by the result. The null sender is never
 *	rewritten.
 *
 *	Header values are scanned RFC 5322 style: quoted strings and
 *	(comments) are copied untouched, "<addr>" is rewritten inside the
 *	brackets, and a bare addr-spec between commas is rewritten in
 *	place; everything else (display names, folding, spacing) stays
 *	byte for byte. An unbalanced '<' or quote ends the rewriting of
 *	that header; the rest is copied as it is.
 * DIAGNOSTICS
 *	smtp_generic_addr() returns MAP_FOUND (out set, caller frees),
 *	MAP_NOTFOUND or MAP_RETRY. smtp_generic_headers() returns -1 with
 *	err when a lookup is MAP_RETRY (the message is deferred).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "map.h"
#include "smtp.h"
#include "xalloc.h"

static const char *const addr_headers[] = {
	"From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Resent-From",
	"Resent-Sender", "Resent-To", "Resent-Cc", "Resent-Bcc",
	"Resent-Reply-To", "Return-Receipt-To", "Errors-To",
	"Disposition-Notification-To", "Mail-Followup-To", "Mail-Reply-To",
	NULL,
};

/* smtp_generic_addr - one address through the maps */
int
smtp_generic_addr(struct maplist *maps, const char *addr, char **out)
{
	char	*v = NULL, *comma;
	int	 rc;

	*out = NULL;
	if (maps == NULL || addr == NULL || *addr == 0)
		return (MAP_NOTFOUND);
	rc = maplist_lookup_addr(maps, addr, 0, &v);
	if (rc != MAP_FOUND)
		return (rc);
	if ((comma = strchr(v, ',')) != NULL)
		*comma = 0;
	*out = v;
	return (MAP_FOUND);
}

/* rewrite_span - look up [a, b) and append the result or the original */
static int
rewrite_span(struct maplist *maps, const char *a, const char *b,
    struct buf *out)
{
	char	*key = xstrndup(a, (size_t)(b - a)), *res = NULL;
	int	 rc = MAP_NOTFOUND;

	if (*key && strlen(key) < 1000)
		rc = smtp_generic_addr(maps, key, &res);
	if (rc == MAP_FOUND)
		buf_puts(out, res);
	else
		buf_append(out, a, (size_t)(b - a));
	free(res);
	free(key);
	return (rc == MAP_RETRY ? -1 : 0);
}

/* skip_special - past a quoted string or comment at p; NULL if open */
static const char *
skip_special(const char *p, const char *end)
{
	int	 depth = 0;

	if (*p == '"') {
		for (p++; p < end; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '"')
				return (p + 1);
		}
		return (NULL);
	}
	for (; p < end; p++) {	/* comment, may nest */
		if (*p == '\\' && p + 1 < end)
			p++;
		else if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return (p + 1);
	}
	return (NULL);
}

/* skip_cfws - past whitespace and (comments) */
static const char *
skip_cfws(const char *p, const char *end)
{
	const char *n;

	while (p < end) {
		if (isspace((unsigned char)*p))
			p++;
		else if (*p == '(' && (n = skip_special(p, end)) != NULL)
			p = n;
		else
			break;
	}
	return (p);
}

/* rewrite_value - one header value [p, end) */
static int
rewrite_value(struct maplist *maps, const char *p, const char *end,
    struct buf *out)
{
	const char *seg = p, *q, *a, *b, *gt;
	int	 angle;

	while (seg < end) {
		/* Find the segment end (top-level ',' or ';') and any '<'. */
		angle = 0;
		for (q = seg; q < end && *q != ',' && *q != ';';) {
			if (*q == '"' || *q == '(') {
				if ((q = skip_special(q, end)) == NULL)
					goto verbatim;
				continue;
			}
			if (*q == '<')
				angle = 1;
			if (*q == '<' && (q = memchr(q, '>', (size_t)(end - q)))
			    == NULL)
				goto verbatim;
			q++;
		}
		if (angle) {
			/* Copy up to '<', rewrite inside, copy the rest. */
			for (a = seg; a < q;) {
				if (*a == '"' || *a == '(') {
					b = skip_special(a, q);
					buf_append(out, a, (size_t)(b - a));
					a = b;
					continue;
				}
				if (*a != '<') {
					buf_putc(out, *a++);
					continue;
				}
				gt = memchr(a, '>', (size_t)(q - a));
				buf_putc(out, '<');
				if (rewrite_span(maps, a + 1, gt, out) < 0)
					return (-1);
				buf_putc(out, '>');
				a = gt + 1;
			}
		} else {
			/* A bare addr-spec: one token, comments around it. */
			a = skip_cfws(seg, q);
			for (b = a; b < q && !isspace((unsigned char)*b)
			    && *b != '(' && *b != '"'; b++)
				;
			buf_append(out, seg, (size_t)(a - seg));
			if (b > a && skip_cfws(b, q) == q
			    && memchr(a, ':', (size_t)(b - a)) == NULL) {
				if (rewrite_span(maps, a, b, out) < 0)
					return (-1);
			} else
				buf_append(out, a, (size_t)(b - a));
			buf_append(out, b, (size_t)(q - b));
		}
		if (q < end)
			buf_putc(out, *q++);
		seg = q;
	}
	return (0);
verbatim:
	buf_append(out, seg, (size_t)(end - seg));
	return (0);
}

/* is_addr_header - name [p, p+len) is one we rewrite */
static int
is_addr_header(const char *p, size_t len)
{
	int	 i;

	for (i = 0; addr_headers[i]; i++)
		if (strlen(addr_headers[i]) == len
		    && strncasecmp(addr_headers[i], p, len) == 0)
			return (1);
	return (0);
}

/* smtp_generic_headers - rewrite the header block into out */
int
smtp_generic_headers(struct maplist *maps, const char *hdrs, size_t len,
    struct buf *out, char *err, size_t errlen)
{
	const char *p = hdrs, *end = hdrs + len, *h, *colon, *nl;
	struct buf *val;

	while (p < end) {
		/* One logical header: the line plus continuation lines. */
		h = p;
		for (;;) {
			nl = memchr(p, '\n', (size_t)(end - p));
			p = nl ? nl + 1 : end;
			if (p >= end || (*p != ' ' && *p != '\t'))
				break;
		}
		colon = memchr(h, ':', (size_t)(p - h));
		if (maps == NULL || colon == NULL
		    || !is_addr_header(h, (size_t)(colon - h))) {
			buf_append(out, h, (size_t)(p - h));
			continue;
		}
		buf_append(out, h, (size_t)(colon + 1 - h));
		val = buf_new(256);
		if (rewrite_value(maps, colon + 1, p, val) < 0) {
			snprintf(err, errlen, "smtp_generic_maps lookup "
			    "failed: %s", maplist_error(maps));
			buf_free(val);
			return (-1);
		}
		buf_append(out, BUF_STR(val), BUF_LEN(val));
		buf_free(val);
	}
	return (0);
}
