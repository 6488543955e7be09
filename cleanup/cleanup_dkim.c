/*
 * NAME
 *	cleanup_dkim - DKIM signing of the queue file cleanup writes
 * SYNOPSIS
 *	See cleanup_dkim.h.
 * DESCRIPTION
 *	The message streams into the queue file, so the signature cannot
 *	be known when the header block is written. Where the header block
 *	ends, a DKIM-Signature header goes into the file with the bh= and
 *	b= values as placeholders of their exact final length (the key
 *	fixes the signature's size); the body hash is computed from the
 *	bytes as they are written; when the file is complete (and before
 *	its rename, the commit) the two values are written in place. The
 *	message as stored is what is signed: after header_checks,
 *	body_checks, canonical rewriting, the added headers, and after the
 *	milters (cleanup_milter.c streams their result through here), so
 *	an OpenDKIM milter's signature comes first and is kept.
 *
 *	The new header is the last one of the header block; RFC 6376 5.6
 *	asks for it above other DKIM-Signature fields, which this cannot
 *	do without holding the message: verifiers find it anywhere.
 * DIAGNOSTICS
 *	See cleanup_dkim.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "cleanup_dkim.h"
#include "conf.h"
#include "dkim.h"
#include "log.h"
#include "map.h"
#include "str.h"
#include "xalloc.h"

#define DKIM_LOG	"cleanup"
#define DKIM_HDR_MAX	(1024 * 1024)	/* a longer header block: unsigned */

struct cleanup_dkim_maps {
	struct maplist *signing;	/* dkim_signing_table */
	struct maplist *keys;		/* dkim_key_table */
	struct strv *names;		/* dkim_signed_headers, lower case */
	struct strv *mynet;		/* mynetworks networks */
	struct maplist *mynet_maps;	/* mynetworks tables */
};

struct cleanup_dkim {
	struct cleanup_dkim_maps *m;
	const char *log_prefix;		/* the queue id */
	struct buf *hdrs;		/* the header block, as written */
	size_t	 off;			/* message bytes seen */
	size_t	 sig_off;		/* where the DKIM-Signature header is */
	size_t	 body_off;		/* where the body starts; 0: headers */
	int	 skip_sep;		/* the empty line is not body */
	int	 off_state;		/* 1: not signing this one */
	int	 too_big;		/* header block over DKIM_HDR_MAX */
	struct dkim_sign *sign;
	char	 domain[256], selector[128];
};

/* dk_is_table - "type:name" rather than an IPv6 network (smtpd_check) */
static int
dk_is_table(const char *t)
{
	size_t	 n = strcspn(t, ":");

	return (t[n] == ':' && n > 0 && *t != '['
	    && strspn(t, "0123456789abcdefABCDEF") < n);
}

/* dk_list - open a table parameter, NULL when empty */
static struct maplist *
dk_list(const char *param)
{
	const char *v = conf_str(param);

	if (v == NULL || v[strspn(v, STR_LIST_DELIMS)] == 0)
		return (NULL);
	return (maplist_open(v, 0));
}

/* cleanup_dkim_maps_new - this thread's tables (call with conf locked) */
struct cleanup_dkim_maps *
cleanup_dkim_maps_new(void)
{
	struct cleanup_dkim_maps *m;
	struct buf *maps;
	struct strv *v;
	size_t	 i;

	struct maplist *signing;

	if (!conf_bool("dkim_signing")
	    || (signing = dk_list("dkim_signing_table")) == NULL)
		return (NULL);
	m = xcalloc(1, sizeof(*m));
	m->signing = signing;
	m->keys = dk_list("dkim_key_table");
	m->names = conf_list("dkim_signed_headers");
	if (m->names == NULL)
		m->names = strv_new();
	for (i = 0; i < m->names->argc; i++)
		str_lower(m->names->argv[i]);
	m->mynet = strv_new();
	maps = buf_new(64);
	v = conf_mynetworks();
	for (i = 0; v && i < v->argc; i++) {
		if (dk_is_table(v->argv[i]))
			buf_printf(maps, "%s%s", BUF_LEN(maps) ? " " : "",
			    v->argv[i]);
		else
			strv_add(m->mynet, v->argv[i]);
	}
	strv_free(v);
	if (BUF_LEN(maps))
		m->mynet_maps = maplist_open(BUF_STR(maps), 0);
	buf_free(maps);
	return (m);
}

/* cleanup_dkim_maps_free - close them */
void
cleanup_dkim_maps_free(struct cleanup_dkim_maps *m)
{
	if (m == NULL)
		return;
	maplist_close(m->signing);
	maplist_close(m->keys);
	maplist_close(m->mynet_maps);
	strv_free(m->names);
	strv_free(m->mynet);
	free(m);
}

/* dk_attr - an envelope attribute, NULL when absent */
static const char *
dk_attr(const char *const *attrs, const char *name)
{
	size_t	 i;

	for (i = 0; attrs && attrs[i] && attrs[i + 1]; i += 2)
		if (strcmp(attrs[i], name) == 0)
			return (attrs[i + 1]);
	return (NULL);
}

/* dk_mynetworks - 1 when the client is in mynetworks (first match wins) */
static int
dk_mynetworks(struct cleanup_dkim_maps *m, const char *a)
{
	char	*val;
	size_t	 i;

	for (i = 0; i < m->mynet->argc; i++) {
		const char *n = m->mynet->argv[i];

		if (addr_match_cidr(a, n + (*n == '!')) == 1)
			return (*n != '!');
	}
	if (m->mynet_maps && maplist_lookup(m->mynet_maps, a, &val)
	    == MAP_FOUND) {
		free(val);
		return (1);
	}
	return (0);
}

/* cleanup_dkim_new - a signer for this message, or NULL: not signed */
struct cleanup_dkim *
cleanup_dkim_new(struct cleanup_dkim_maps *m, const struct cleanup_input *in)
{
	struct cleanup_dkim *d;
	const char *user = dk_attr(in->attrs, "sasl_username");
	const char *client = dk_attr(in->attrs, "client_address");

	if (m == NULL)
		return (NULL);
	if (!(user && *user) && client && *client && !dk_mynetworks(m, client))
		return (NULL);		/* relayed in from outside */
	d = xcalloc(1, sizeof(*d));
	d->m = m;
	d->hdrs = buf_new(1024);
	return (d);
}

/* cleanup_dkim_data - message bytes on their way into the file */
void
cleanup_dkim_data(struct cleanup_dkim *d, const char *p, size_t len)
{
	size_t	 n;

	if (d == NULL || d->off_state)
		return;
	if (d->body_off == 0 && d->sign == NULL) {	/* still headers */
		if (BUF_LEN(d->hdrs) + len > DKIM_HDR_MAX)
			d->off_state = d->too_big = 1;
		else
			buf_append(d->hdrs, p, len);
		d->off += len;
		return;
	}
	if (d->off < d->body_off) {	/* the rest of the header block */
		n = d->body_off - d->off < len ? d->body_off - d->off : len;
		d->off += n;
		p += n;
		len -= n;
	}
	if (len > 0 && d->skip_sep) {	/* the empty line after headers */
		d->skip_sep = 0;
		if (*p == '\n') {
			p++;
			len--;
			d->off++;
		}
	}
	if (len > 0 && d->sign)
		dkim_sign_body(d->sign, p, len);
	d->off += len;
}

/* dk_from - the From: address of the header block, lower case */
static char *
dk_from(const char *h, size_t len)
{
	const char *p = h, *end = h + len, *v = NULL, *e;
	char	*a, *lt;
	int	 n = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (strncasecmp(p, "from:", 5) == 0) {
			n++;
			v = p + 5;
		}
		p = nl ? nl + 1 : end;
	}
	if (n != 1)			/* none, or ambiguous: OpenDKIM too */
		return (NULL);
	for (e = v; e < end && !(*e == '\n' && (e + 1 == end
	    || (e[1] != ' ' && e[1] != '\t'))); e++)
		;
	a = xstrndup(v, (size_t)(e - v));
	if ((lt = strrchr(a, '<')) != NULL) {
		memmove(a, lt + 1, strlen(lt + 1) + 1);
		a[strcspn(a, ">")] = 0;
	} else {
		char	*c = strchr(a, '(');	/* drop a trailing comment */

		if (c)
			*c = 0;
	}
	lt = xstrdup(str_trim(a));	/* str_trim moves the start */
	free(a);
	lt[strcspn(lt, " \t\n\r,")] = 0;
	str_lower(lt);
	if (strchr(lt, '@') == NULL) {
		free(lt);
		return (NULL);
	}
	return (lt);
}

/* dk_key_name - the signing table's key name for this From: address */
static int
dk_key_name(struct cleanup_dkim *d, const char *from, char **key)
{
	struct maplist *t = d->m->signing;
	const char *dom = strrchr(from, '@') + 1;
	char	*k;
	int	 st;

	st = maplist_lookup_addr(t, from, MAP_ADDR_NO_EXT_APPEND, key);
	if (st != MAP_NOTFOUND)
		return (st);
	k = xasprintf("*@%s", dom);
	st = maplist_lookup(t, k, key);
	free(k);
	if (st != MAP_NOTFOUND)
		return (st);
	return (maplist_lookup(t, dom, key));
}

/* dk_signed_already - a DKIM-Signature with our d= and s= is there */
static int
dk_signed_already(struct cleanup_dkim *d, const char *h, size_t len)
{
	const char *p = h, *end = h + len, *e;
	char	 dv[256], sv[128], *one;
	int	 found = 0;

	while (p < end && !found) {
		for (e = p; e < end && !(*e == '\n' && (e + 1 == end
		    || (e[1] != ' ' && e[1] != '\t'))); e++)
			;
		if (strncasecmp(p, "dkim-signature:", 15) == 0) {
			one = xstrndup(p, (size_t)(e - p));
			found = dkim_tag(one, "d", dv, sizeof(dv))
			    && dkim_tag(one, "s", sv, sizeof(sv))
			    && strcasecmp(dv, d->domain) == 0
			    && strcmp(sv, d->selector) == 0;
			free(one);
		}
		p = e < end ? e + 1 : end;
	}
	return (found);
}

/* dk_key - key table value domain:selector:path into d; the key */
static int
dk_key(struct cleanup_dkim *d, const char *from, const char *name,
    EVP_PKEY **key)
{
	char	*val, *path, *sel, err[512];
	int	 st;

	if ((st = maplist_lookup(d->m->keys, name, &val)) != MAP_FOUND) {
		log_warn_as(DKIM_LOG, "%s: dkim_key_table: %s for key name %s",
		    d->log_prefix, st == MAP_RETRY ? maplist_error(d->m->keys)
		    : "no entry", name);
		return (-1);
	}
	sel = strchr(val, ':');
	path = sel ? strchr(sel + 1, ':') : NULL;
	if (path == NULL) {
		log_warn_as(DKIM_LOG, "%s: dkim_key_table: %s: not "
		    "domain:selector:/path/to/key.pem", d->log_prefix, name);
		free(val);
		return (-1);
	}
	*sel++ = 0;
	*path++ = 0;
	snprintf(d->domain, sizeof(d->domain), "%s", strcmp(val, "%") == 0
	    ? strrchr(from, '@') + 1 : val);
	snprintf(d->selector, sizeof(d->selector), "%s", sel);
	*key = dkim_key_load(path, 1, err, sizeof(err));
	free(val);
	if (*key == NULL) {
		log_warn_as(DKIM_LOG, "%s: DKIM key: %s", d->log_prefix, err);
		return (-1);
	}
	return (0);
}

/* cleanup_dkim_headers - the header block is complete: sign it or not */
int
cleanup_dkim_headers(struct cleanup_dkim *d, struct buf *pending,
    const char *id)
{
	char	*from, *name = NULL;
	EVP_PKEY *key = NULL;
	int	 st, rc = -1;

	if (d != NULL && d->too_big && d->sign == NULL) {
		log_info_as(DKIM_LOG, "%s: header block over %d bytes: not "
		    "DKIM-signed", id, DKIM_HDR_MAX);
		d->too_big = 0;
	}
	if (d == NULL || d->off_state || d->sign)
		return (0);
	d->off_state = 1;		/* unless all goes well below */
	d->log_prefix = id;
	buf_append(d->hdrs, BUF_STR(pending), BUF_LEN(pending));
	if ((from = dk_from(BUF_STR(d->hdrs), BUF_LEN(d->hdrs))) == NULL) {
		log_info_as(DKIM_LOG, "%s: no single From: address: "
		    "not DKIM-signed", id);
		return (0);
	}
	st = dk_key_name(d, from, &name);
	if (st == MAP_NOTFOUND) {
		free(from);
		return (0);		/* not a domain of ours */
	}
	if (st == MAP_RETRY) {
		log_warn_as(DKIM_LOG, "%s: dkim_signing_table lookup problem: "
		    "%s", id, maplist_error(d->m->signing));
		free(from);
		return (-1);
	}
	if (d->m->keys == NULL || dk_key(d, from, str_trim(name), &key) < 0)
		goto out;
	rc = 0;
	if (dk_signed_already(d, BUF_STR(d->hdrs), BUF_LEN(d->hdrs))) {
		log_info_as(DKIM_LOG, "%s: DKIM-Signature with d=%s s=%s "
		    "already present: not signed again", id, d->domain,
		    d->selector);
		goto out;
	}
	if (BUF_LEN(d->hdrs) && BUF_STR(d->hdrs)[BUF_LEN(d->hdrs) - 1] != '\n') {
		/* the message ended inside its last header (sendmail input
		 * without a final newline): end that line before ours */
		buf_putc(d->hdrs, '\n');
		buf_putc(pending, '\n');
	}
	d->sign = dkim_sign_new(key, d->domain, d->selector, (long)time(NULL),
	    d->m->names, BUF_STR(d->hdrs), BUF_LEN(d->hdrs));
	if (d->sign == NULL)
		goto out;
	d->off_state = 0;
	d->sig_off = d->off + BUF_LEN(pending);
	buf_puts(pending, dkim_sign_header(d->sign));
	d->body_off = d->off + BUF_LEN(pending);
	d->skip_sep = 1;
out:
	EVP_PKEY_free(key);
	free(name);
	free(from);
	return (rc);
}

/* dk_msg_start - the file offset of the message (after the M record) */
static long
dk_msg_start(FILE *fp)
{
	char	*line = NULL;
	size_t	 cap = 0;
	long	 off = -1;

	while (getline(&line, &cap, fp) > 0)
		if (line[0] == 'M') {
			off = ftell(fp);
			break;
		}
	free(line);
	return (off);
}

/* cleanup_dkim_signs - cleanup_dkim_commit() will write into the file */
int
cleanup_dkim_signs(const struct cleanup_dkim *d)
{
	return (d != NULL && d->sign != NULL && !d->off_state);
}

/* cleanup_dkim_commit - the signature over the placeholders, in place */
int
cleanup_dkim_commit(struct cleanup_dkim *d, const char *path,
    const char *id, int sync, char *err, size_t errlen)
{
	const char *h;
	char	*old;
	size_t	 len;
	FILE	*fp;
	long	 start;
	int	 ok;

	if (d == NULL || d->sign == NULL || d->off_state)
		return (0);
	if (dkim_sign_final(d->sign, err, errlen) < 0)
		return (-1);
	h = dkim_sign_header(d->sign);
	len = strlen(h);
	if ((fp = fopen(path, "r+")) == NULL) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return (-1);
	}
	old = xmalloc(len);
	errno = 0;
	ok = (start = dk_msg_start(fp)) >= 0
	    && fseek(fp, start + (long)d->sig_off, SEEK_SET) == 0
	    && fread(old, 1, len, fp) == len
	    && memcmp(old, "DKIM-Signature: ", 16) == 0
	    && fseek(fp, start + (long)d->sig_off, SEEK_SET) == 0
	    && fwrite(h, 1, len, fp) == len && fflush(fp) == 0
	    && (!sync || fsync(fileno(fp)) == 0);
	if (!ok)
		snprintf(err, errlen, "DKIM-Signature into %s: %s", path,
		    errno ? strerror(errno) : "placeholder not found");
	free(old);
	if (fclose(fp) != 0)
		ok = 0;
	if (!ok)
		return (-1);
	log_info_as(DKIM_LOG, "%s: DKIM-Signature field added (s=%s, d=%s)",
	    id, d->selector, d->domain);
	return (0);
}

/* cleanup_dkim_free - release it */
void
cleanup_dkim_free(struct cleanup_dkim *d)
{
	if (d == NULL)
		return;
	dkim_sign_free(d->sign);
	buf_free(d->hdrs);
	free(d);
}
