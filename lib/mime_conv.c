/*
 * NAME
 *	mime_conv - 8-bit MIME to 7-bit (quoted-printable) for a next hop
 *	without 8BITMIME
 * SYNOPSIS
 *	#include "mime_conv.h"
 *
 *	int	mime_conv_downgrade(const char *text, size_t len,
 *		    struct buf *out);
 * DESCRIPTION
 *	A line-at-a-time state machine over the message: header blocks
 *	(the primary one, one after each multipart boundary, one at the
 *	start of a message/rfc822 body) and bodies. Each entity has a
 *	content type (what its body holds: text, message, multipart,
 *	other) and an encoding domain (7bit, 8bit, binary). A header
 *	block ends with an empty line or with the first line that is not
 *	a header (in the primary block that line is put after an empty
 *	line, as Postfix does); that is where the replacement
 *	Content-Transfer-Encoding goes. See mime_conv.h for the rules.
 * DIAGNOSTICS
 *	None: any input gives some output (malformed MIME degrades to
 *	copying, as in Postfix).
 * SEE ALSO
 *	RFC 2045, RFC 2046, RFC 6152.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime_conv.h"
#include "xalloc.h"

#define MAX_DEPTH	100	/* Postfix's mime_nesting_limit */
#define MAX_BOUND	2048	/* Postfix's mime_boundary_length_limit */
#define QP_SOFT		72	/* a soft break once a line is longer */

enum { ST_PRIMARY, ST_MULTIPART, ST_NESTED, ST_BODY };
enum { CT_TEXT, CT_MESSAGE, CT_MULTIPART, CT_OTHER };
enum { SUB_PLAIN, SUB_OTHER, SUB_RFC822, SUB_PARTIAL, SUB_EXTERN,
	SUB_GLOBAL };
enum { DOM_7BIT = 7, DOM_8BIT = 8, DOM_BINARY = 9 };

struct bound {
	char	*text;
	size_t	 len;
	int	 def_ctype, def_stype;	/* of the parts it separates */
	struct bound *next;
};

struct conv {
	int	 state, ctype, stype, domain;
	struct bound *stack;
	int	 depth;		/* -1: no multipart */
	struct buf *hdr;	/* the header being collected */
	struct buf *qp;		/* the quoted-printable line being built */
	struct buf *out;
	int	 converted;
};

struct tok {
	int	 type;		/* 'a' atom, 'q' quoted string, or a special */
	char	*val;
};

/* set - the whole entity state at once (Postfix's SET_MIME_STATE) */
static void
set(struct conv *c, int state, int ctype, int stype)
{
	c->state = state;
	c->ctype = ctype;
	c->stype = stype;
	c->domain = DOM_7BIT;
}

/* emit - one output line */
static void
emit(struct conv *c, const char *s, size_t len)
{
	buf_append(c->out, s, len);
	buf_putc(c->out, '\n');
}

/* header_name_len - "Name:" or obsolete "Name :" gives strlen("Name") */
static size_t
header_name_len(const char *s, size_t len)
{
	size_t	 i, n = 0;
	int	 space = 0;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == ':')
			return (n);
		if (ch == ' ' || ch == '\t') {
			if (n == 0)
				return (0);
			space = 1;
		} else if (ch == 0 || ch > 126 || ch < 33 || space)
			return (0);
		else
			n++;
	}
	return (0);
}

/* tokenize - RFC 822 tokens of a header value; comments dropped */
static size_t
tokenize(const char *s, const char *specials, struct tok *t, size_t max)
{
	size_t	 n = 0, i;
	struct buf *b;

	while (*s && n < max) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
			s++;
		} else if (*s == '(') {
			int	 level = 0;

			for (; *s; s++) {
				if (*s == '\\' && s[1])
					s++;
				else if (*s == '(')
					level++;
				else if (*s == ')' && --level == 0) {
					s++;
					break;
				}
			}
		} else if (*s == '"') {
			b = buf_new(32);
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1])
					s++;
				buf_putc(b, *s);
			}
			if (*s == '"')
				s++;
			t[n].type = 'q';
			t[n++].val = buf_steal(b);
		} else if (strchr(specials, *s) != NULL) {
			t[n].type = (unsigned char)*s++;
			t[n++].val = NULL;
		} else {
			for (i = 0; s[i] && !strchr(" \t\r\n(\"", s[i])
			    && !strchr(specials, s[i])
			    && (unsigned char)s[i] > 31; i++)
				;
			if (i == 0) {	/* a control character */
				s++;
				continue;
			}
			t[n].type = 'a';
			t[n++].val = xstrndup(s, i);
			s += i;
		}
	}
	return (n);
}

/* tok_is - an atom equal to word */
static int
tok_is(const struct tok *t, size_t n, size_t i, const char *word)
{
	return (i < n && t[i].type == 'a' && strcasecmp(t[i].val, word) == 0);
}

/* push - a multipart boundary */
static void
push(struct conv *c, int def_ctype, int def_stype, const char *text)
{
	struct bound *b;

	if (c->depth > MAX_DEPTH)
		return;	/* Postfix's count: 102 levels */
	c->depth++;
	b = xmalloc(sizeof(*b));
	b->len = strlen(text);
	if (b->len > MAX_BOUND)
		b->len = MAX_BOUND;
	b->text = xstrndup(text, b->len);
	b->def_ctype = def_ctype;
	b->def_stype = def_stype;
	b->next = c->stack;
	c->stack = b;
}

/* pop - the innermost boundary */
static void
pop(struct conv *c)
{
	struct bound *b = c->stack;

	c->stack = b->next;
	c->depth--;
	free(b->text);
	free(b);
}

/* content_type - type, subtype and boundaries of a Content-Type value */
static void
content_type(struct conv *c, const char *value)
{
	struct tok t[64];
	size_t	 n, i, seg;
	int	 dct = CT_TEXT, dst = SUB_PLAIN;

	n = tokenize(value, "()<>@,;:\\\"/[]?=", t, 64);
	if (n == 0 || t[0].type == ';')
		goto out;
	if (tok_is(t, n, 0, "text")) {
		c->ctype = CT_TEXT;
		c->stype = n >= 3 && t[1].type == '/' && tok_is(t, n, 2, "plain")
		    ? SUB_PLAIN : SUB_OTHER;
	} else if (tok_is(t, n, 0, "message")) {
		c->ctype = CT_MESSAGE;
		c->stype = SUB_OTHER;
		if (n >= 3 && t[1].type == '/') {
			if (tok_is(t, n, 2, "rfc822"))
				c->stype = SUB_RFC822;
			else if (tok_is(t, n, 2, "partial"))
				c->stype = SUB_PARTIAL;
			else if (tok_is(t, n, 2, "external-body"))
				c->stype = SUB_EXTERN;
			else if (tok_is(t, n, 2, "global"))
				c->stype = SUB_GLOBAL;
		}
	} else if (tok_is(t, n, 0, "multipart")) {
		c->ctype = CT_MULTIPART;
		if (n >= 3 && t[1].type == '/' && tok_is(t, n, 2, "digest")) {
			dct = CT_MESSAGE;
			dst = SUB_RFC822;
		}
		/* every "boundary=" parameter: more than one is illegal,
		 * and following each keeps content from hiding */
		for (i = 0; i < n; i++) {
			if (t[i].type != ';')
				continue;
			seg = i + 1;
			if (tok_is(t, n, seg, "boundary") && seg + 2 < n
			    && t[seg + 1].type == '='
			    && (t[seg + 2].type == 'a'
			    || t[seg + 2].type == 'q'))
				push(c, dct, dst, t[seg + 2].val);
		}
	} else
		c->ctype = CT_OTHER;
out:
	for (i = 0; i < n; i++)
		free(t[i].val);
}

/* content_encoding - the domain of a Content-Transfer-Encoding value */
static void
content_encoding(struct conv *c, const char *value)
{
	struct tok t[1];
	size_t	 n = tokenize(value, "", t, 1);

	if (n == 1 && t[0].type == 'a') {
		if (strcasecmp(t[0].val, "8bit") == 0)
			c->domain = DOM_8BIT;
		else if (strcasecmp(t[0].val, "binary") == 0)
			c->domain = DOM_BINARY;
		else if (strcasecmp(t[0].val, "7bit") == 0
		    || strcasecmp(t[0].val, "base64") == 0
		    || strcasecmp(t[0].val, "quoted-printable") == 0)
			c->domain = DOM_7BIT;
	}
	if (n == 1)
		free(t[0].val);
}

/* flush_header - act on and output the collected header */
static void
flush_header(struct conv *c)
{
	const char *h = BUF_STR(c->hdr), *colon = strchr(h, ':');
	size_t	 nlen = (size_t)(colon - h);
	int	 cte = 0;

	if (nlen == 12 && strncasecmp(h, "Content-Type", 12) == 0)
		content_type(c, colon + 1);
	else if (nlen == 25
	    && strncasecmp(h, "Content-Transfer-Encoding", 25) == 0) {
		content_encoding(c, colon + 1);
		cte = 1;
	}
	/* an 8-bit label is replaced at the end of the header block */
	if (!cte || c->domain == DOM_7BIT)
		emit(c, BUF_STR(c->hdr), BUF_LEN(c->hdr));
	buf_reset(c->hdr);
}

/* end_headers - the replacement label of a converted entity */
static void
end_headers(struct conv *c)
{
	if (c->domain == DOM_7BIT)
		return;
	if ((c->ctype == CT_MESSAGE && c->stype != SUB_GLOBAL)
	    || c->ctype == CT_MULTIPART)
		emit(c, "Content-Transfer-Encoding: 7bit", 31);
	else
		emit(c, "Content-Transfer-Encoding: quoted-printable", 43);
	c->converted++;
}

/* qp_line - one body line as quoted-printable lines */
static void
qp_line(struct conv *c, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t	 i;
	unsigned char ch;
	struct buf *q = c->qp;

	for (i = 0; i < len; i++) {
		if (BUF_LEN(q) > QP_SOFT) {
			buf_putc(q, '=');
			emit(c, BUF_STR(q), BUF_LEN(q));
			buf_reset(q);
		}
		ch = (unsigned char)s[i];
		if ((ch < 32 && ch != '\t') || ch == '=' || ch > 126)
			buf_printf(q, "=%c%c", hex[ch >> 4], hex[ch & 15]);
		else
			buf_putc(q, ch);
	}
	/* RFC 2045 6.7 (3): no white space before a hard line break */
	if (BUF_LEN(q) > 0 && ((ch = (unsigned char)BUF_STR(q)[BUF_LEN(q)
	    - 1]) == ' ' || ch == '\t')) {
		buf_truncate(q, BUF_LEN(q) - 1);
		buf_printf(q, "=%c%c", hex[ch >> 4], hex[ch & 15]);
	}
	emit(c, BUF_STR(q), BUF_LEN(q));
	buf_reset(q);
}

/* boundary - a "--boundary" line changes the entity */
static void
boundary(struct conv *c, const char *s, size_t len)
{
	struct bound *b;

	if (c->stack == NULL || len <= 2 || s[0] != '-' || s[1] != '-')
		return;
	for (b = c->stack; b != NULL; b = b->next) {
		if (len < 2 + b->len || memcmp(s + 2, b->text, b->len) != 0)
			continue;
		while (c->stack != b)
			pop(c);
		if (len >= 4 + b->len && memcmp(s + 2 + b->len, "--", 2) == 0) {
			pop(c);
			set(c, ST_BODY, CT_OTHER, SUB_OTHER);
		} else
			set(c, ST_MULTIPART, b->def_ctype, b->def_stype);
		return;
	}
}

/* header_end_line - the line that ended a header block */
static void
header_end_line(struct conv *c, size_t len)
{
	if (len > 0) {
		/* not a header: the body starts here */
		if (c->state == ST_PRIMARY)
			emit(c, "", 0);
		c->state = ST_BODY;
	} else if (c->ctype == CT_MESSAGE && (c->stype == SUB_RFC822
	    || (c->stype == SUB_GLOBAL && c->domain == DOM_7BIT)))
		set(c, ST_NESTED, CT_TEXT, SUB_PLAIN);
	else if (c->ctype == CT_MULTIPART)
		set(c, ST_BODY, CT_OTHER, SUB_OTHER);
	else
		c->state = ST_BODY;
}

/* line - one input line without its line end */
static void
line(struct conv *c, const char *s, size_t len)
{
	size_t	 n;

	if (c->state != ST_BODY) {
		if (BUF_LEN(c->hdr) > 0) {
			if (len > 0 && (s[0] == ' ' || s[0] == '\t')) {
				buf_putc(c->hdr, '\n');
				buf_append(c->hdr, s, len);
				return;
			}
			flush_header(c);
		}
		if ((n = header_name_len(s, len)) > 0) {
			buf_append(c->hdr, s, n);
			for (s += n, len -= n; len > 0 && (*s == ' '
			    || *s == '\t'); s++, len--)
				;
			buf_append(c->hdr, s, len);
			return;
		}
		end_headers(c);
		header_end_line(c, len);
	}
	boundary(c, s, len);
	if (c->domain != DOM_7BIT)
		qp_line(c, s, len);
	else
		emit(c, s, len);
}

/* mime_conv_downgrade - see mime_conv.h */
int
mime_conv_downgrade(const char *text, size_t len, struct buf *out)
{
	struct conv c = {.depth = -1, .out = out};
	const char *p = text, *end = text + len, *nl;
	size_t	 n;

	set(&c, ST_PRIMARY, CT_TEXT, SUB_PLAIN);
	c.hdr = buf_new(256);
	c.qp = buf_new(128);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		line(&c, p, n > 0 && nl && p[n - 1] == '\r' ? n - 1 : n);
		p += n + (nl != NULL);
	}
	/* the text ended inside a header block */
	if (c.state != ST_BODY) {
		if (BUF_LEN(c.hdr) > 0)
			flush_header(&c);
		end_headers(&c);
	}
	while (c.stack)
		pop(&c);
	buf_free(c.hdr);
	buf_free(c.qp);
	return (c.converted);
}
