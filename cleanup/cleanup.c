/*
 * NAME
 *	cleanup - Postfix's cleanup(8), folded in: rewrite, check, enqueue
 * SYNOPSIS
 *	See cleanup.h.
 * DESCRIPTION
 *	A message goes through as a stream (cleanup_message() is the
 *	stream with one write):
 *	  1. cleanup_stream_open(): envelope rewriting (sender_canonical_maps,
 *	     then canonical_maps; recipient_canonical_maps, then
 *	     canonical_maps), then the queue file incoming/.ID is begun
 *	     with the envelope and the Received: header;
 *	  2. cleanup_stream_write(), any number of times: lines are cut
 *	     out of the bytes as they come; each logical header (canonical
 *	     rewriting of address headers, header_checks on the unfolded
 *	     header) goes out when the next line shows it complete, the
 *	     end of the headers adds Message-ID:, Date: and From: for
 *	     CLEANUP_FLAG_LOCAL when missing, body lines go through
 *	     body_checks up to body_checks_size_limit bytes and the rest
 *	     of the body straight into the file;
 *	  3. cleanup_stream_close(): the hop count and map trouble decide,
 *	     then the file is committed (renamed into incoming/, or hold/
 *	     after HOLD) or removed.
 *	Log lines about actions (reject, warning, hold, discard, prepend,
 *	replace) are kept until the end and carry the queue id when the
 *	message is queued and otherwise NOQUEUE, in Postfix's form:
 *	"ID: reject: header Subject: x from client[addr]; from=<s> to=<r>
 *	proto=ESMTP helo=<h>: 5.7.1 text".
 *
 *	Headers are only rewritten when a canonical map is configured and
 *	answers: otherwise the message is written byte for byte, except
 *	for message_drop_headers (Bcc:, Content-Length:, Resent-Bcc:,
 *	Return-Path: by default, as Postfix 3). A message with
 *	hopcount_limit or more Received: headers is a mail loop: "554
 *	5.4.0 Error: too many hops".
 *
 *	cleanup_format_received(), cleanup_format_date() and
 *	cleanup_rewrite_header() are exported for the unit tests and for
 *	callers that want the same formats (see cleanup_int.h).
 * DIAGNOSTICS
 *	Map trouble and disk trouble: CLEANUP_DEFER with "451 4.3.0 Error:
 *	temporary lookup failure" or "451 4.3.0 Error: queue file write
 *	error"; nothing is left in the queue. Never exits, except in
 *	cleanup_maps_new() on a malformed or out-of-range parameter
 *	(hopcount_limit below 1, a negative body_checks_size_limit): fatal
 *	with Postfix's wording (conf_table.h).
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "buf.h"
#include "cleanup.h"
#include "cleanup_bcc.h"
#include "cleanup_dkim.h"
#include "cleanup_int.h"
#include "conf.h"
#include "conf_table.h"
#include "dsn.h"
#include "log.h"
#include "map.h"
#include "queue.h"
#include "str.h"
#include "xalloc.h"

/* Postfix's cleanup daemon labels these lines; ours runs in the caller. */
#define CLEANUP_LOG	"cleanup"

#define CANON_ENV_FROM	(1 << 0)
#define CANON_ENV_RCPT	(1 << 1)
#define CANON_HDR_FROM	(1 << 2)
#define CANON_HDR_RCPT	(1 << 3)

struct cleanup_maps {
	struct maplist *canon, *send_canon, *rcpt_canon;
	struct maplist *header_checks, *body_checks;
	int	 canon_flags, send_flags, rcpt_flags;
	long	 body_limit;
	const char *myhostname;
	const char *mydomain;
	struct strv *local_domains;	/* mydestination + myorigin */
	int	 auth_header;		/* smtpd_sasl_authenticated_header */
	struct strv *drop;		/* message_drop_headers, lower case */
	long	 hop_limit;		/* hopcount_limit */
	long	 header_limit;		/* header_size_limit */
	struct strv *warned;
	struct cleanup_bcc *bcc;	/* always_bcc, *_bcc_maps */
	char	*content_filter;	/* "" when unset */
	struct cleanup_dkim_maps *dkim;	/* NULL: no DKIM signing */
};

/* what pass 1 found */
struct cleanup_state {
	struct cleanup_maps *m;
	const struct cleanup_input *in;
	struct cleanup_result *out;
	struct buf *msg;		/* rewritten headers + body */
	struct strv *logs;		/* "what: text", id added later */
	int	 status;		/* CLEANUP_* */
	int	 hold;
	int	 have_msgid, have_date, have_from;
	char	*msgid;
	int	 retry;			/* map trouble */
	long	 hops;			/* Received: headers seen */
	char	*filter;		/* header/body_checks FILTER, last */
};

static pthread_mutex_t cleanup_conf_lock = PTHREAD_MUTEX_INITIALIZER;

/* cleanup_list - open a list parameter, NULL when empty */
static struct maplist *
cleanup_list(const char *param, int flags)
{
	const char *v = conf_str(param);

	if (v == NULL || v[strspn(v, STR_LIST_DELIMS)] == 0)
		return (NULL);
	return (maplist_open(v, flags));
}

/* cleanup_classes - canonical_classes and friends */
static int
cleanup_classes(const char *param)
{
	struct strv *v = conf_list(param);
	size_t	 i;
	int	 f = 0;

	for (i = 0; v && i < v->argc; i++) {
		if (!strcmp(v->argv[i], "envelope_sender"))
			f |= CANON_ENV_FROM;
		else if (!strcmp(v->argv[i], "envelope_recipient"))
			f |= CANON_ENV_RCPT;
		else if (!strcmp(v->argv[i], "header_sender"))
			f |= CANON_HDR_FROM;
		else if (!strcmp(v->argv[i], "header_recipient"))
			f |= CANON_HDR_RCPT;
	}
	strv_free(v);
	return (f);
}

/* cleanup_maps_new - this thread's cleanup tables */
struct cleanup_maps *
cleanup_maps_new(void)
{
	struct cleanup_maps *m = xcalloc(1, sizeof(*m));
	/* Minimums are Postfix's. */
	const struct conf_table table[] = {
		CONF_LONG("body_checks_size_limit", &m->body_limit, 0,
		    CONF_NOMAX),
		CONF_STR("myhostname", &m->myhostname),
		CONF_STR("mydomain", &m->mydomain),
		CONF_BOOL("smtpd_sasl_authenticated_header", &m->auth_header),
		CONF_LONG("hopcount_limit", &m->hop_limit, 1, CONF_NOMAX),
		CONF_LONG("header_size_limit", &m->header_limit, 1,
		    CONF_NOMAX),
		CONF_END,
	};
	struct strv *v;
	size_t	 i;

	pthread_mutex_lock(&cleanup_conf_lock);
	m->canon = cleanup_list("canonical_maps", 0);
	m->send_canon = cleanup_list("sender_canonical_maps", 0);
	m->rcpt_canon = cleanup_list("recipient_canonical_maps", 0);
	m->header_checks = cleanup_list("header_checks", MAP_NO_FOLD);
	m->body_checks = cleanup_list("body_checks", MAP_NO_FOLD);
	m->canon_flags = cleanup_classes("canonical_classes");
	m->send_flags = cleanup_classes("sender_canonical_classes");
	m->rcpt_flags = cleanup_classes("recipient_canonical_classes");
	conf_table_load(table);
	m->drop = conf_list("message_drop_headers");
	for (i = 0; m->drop && i < m->drop->argc; i++)
		str_lower(m->drop->argv[i]);
	m->local_domains = strv_new();
	v = conf_list("mydestination");
	for (i = 0; v && i < v->argc; i++)
		if (strchr(v->argv[i], ':') == NULL)
			strv_add(m->local_domains, v->argv[i]);
	strv_free(v);
	strv_add(m->local_domains, conf_str("myorigin"));
	m->dkim = cleanup_dkim_maps_new();
	pthread_mutex_unlock(&cleanup_conf_lock);
	m->warned = strv_new();
	m->bcc = cleanup_bcc_new();
	m->content_filter = cleanup_bcc_filter();
	return (m);
}

/* cleanup_maps_free - close them */
void
cleanup_maps_free(struct cleanup_maps *m)
{
	if (m == NULL)
		return;
	maplist_close(m->canon);
	maplist_close(m->send_canon);
	maplist_close(m->rcpt_canon);
	maplist_close(m->header_checks);
	maplist_close(m->body_checks);
	free((void *)m->myhostname);
	free((void *)m->mydomain);
	strv_free(m->local_domains);
	strv_free(m->drop);
	strv_free(m->warned);
	cleanup_bcc_free(m->bcc);
	free(m->content_filter);
	cleanup_dkim_maps_free(m->dkim);
	free(m);
}

/* cleanup_is_local - domain in mydestination or myorigin (canonical
 * maps may then answer for the bare user name) */
static int
cleanup_is_local(struct cleanup_maps *m, const char *addr)
{
	const char *d = addr_domain(addr);
	size_t	 i;

	if (*d == 0)
		return (1);
	for (i = 0; i < m->local_domains->argc; i++)
		if (strcasecmp(d, m->local_domains->argv[i]) == 0)
			return (1);
	return (0);
}

/* cleanup_map_addr - one canonical lookup: 1 rewritten, 0 not, -1 retry */
static int
cleanup_map_addr(struct cleanup_maps *m, struct maplist *l,
    const char *addr, char **out)
{
	char	*val, *lp;
	int	 st;

	*out = NULL;
	if (l == NULL || *addr == 0)
		return (0);
	st = maplist_lookup_addr(l, addr, cleanup_is_local(m, addr)
	    ? MAP_ADDR_USER : 0, &val);
	if (st == MAP_RETRY) {
		log_warn_as(CLEANUP_LOG,
		    "canonical map lookup problem for %s: %s", log_safe(addr),
		    maplist_error(l) ? maplist_error(l) : "");
		return (-1);
	}
	if (st == MAP_NOTFOUND)
		return (0);
	str_trim(val);
	if (*val == '@') {		/* @domain -> @other: keep the user */
		lp = addr_localpart(addr);
		*out = xasprintf("%s%s", lp, val);
		free(lp);
		free(val);
	} else
		*out = val;
	return (1);
}

/* cleanup_rewrite_addr - class-specific map, then canonical_maps;
 * returns a new string (possibly unchanged) or NULL on map trouble */
char   *
cleanup_rewrite_addr(struct cleanup_maps *m, const char *addr, int sender,
    int header)
{
	struct maplist *first = sender ? m->send_canon : m->rcpt_canon;
	int	 ff = sender ? m->send_flags : m->rcpt_flags;
	int	 want = header ? (sender ? CANON_HDR_FROM : CANON_HDR_RCPT)
	    : (sender ? CANON_ENV_FROM : CANON_ENV_RCPT);
	char	*cur = xstrdup(addr), *next;
	int	 rc;

	if (ff & want) {
		if ((rc = cleanup_map_addr(m, first, cur, &next)) < 0)
			goto retry;
		if (rc > 0) {
			free(cur);
			cur = next;
		}
	}
	if (m->canon_flags & want) {
		if ((rc = cleanup_map_addr(m, m->canon, cur, &next)) < 0)
			goto retry;
		if (rc > 0) {
			free(cur);
			cur = next;
		}
	}
	return (cur);
retry:
	free(cur);
	return (NULL);
}

/* cleanup_hdr_class - 1 sender header, 2 recipient header, 0 neither */
static int
cleanup_hdr_class(const char *name, size_t len)
{
	static const char *const senders[] = {
		"From", "Sender", "Reply-To", "Return-Path", "Errors-To",
		"Resent-From", "Resent-Sender", "Resent-Reply-To",
		"Return-Receipt-To", "Disposition-Notification-To", NULL,
	};
	static const char *const rcpts[] = {
		"To", "Cc", "Bcc", "Apparently-To", "Resent-To", "Resent-Cc",
		"Resent-Bcc", NULL,
	};
	int	 i;

	for (i = 0; senders[i]; i++)
		if (strlen(senders[i]) == len
		    && strncasecmp(name, senders[i], len) == 0)
			return (1);
	for (i = 0; rcpts[i]; i++)
		if (strlen(rcpts[i]) == len
		    && strncasecmp(name, rcpts[i], len) == 0)
			return (2);
	return (0);
}

/* cleanup_skip_quoted - past a "..." or (...) starting at p */
static const char *
cleanup_skip_quoted(const char *p, const char *end)
{
	int	 depth = 0;
	char	 open = *p, close = open == '(' ? ')' : '"';

	for (p++; p < end; p++) {
		if (*p == '\\' && p + 1 < end) {
			p++;
			continue;
		}
		if (open == '(' && *p == '(')
			depth++;
		else if (*p == close) {
			if (depth == 0)
				return (p + 1);
			depth--;
		}
	}
	return (end);
}

/* cleanup_rewrite_header - rewrite the addresses of one address header
 * (name: value, folded text kept); returns 1 changed, 0 not, -1 retry */
int
cleanup_rewrite_header(struct cleanup_maps *m, const char *hdr, size_t len,
    int sender, struct buf *out)
{
	const char *p = memchr(hdr, ':', len), *end = hdr + len, *s;
	char	*addr, *new;
	int	 changed = 0;

	if (p == NULL)
		return (0);
	buf_append(out, hdr, (size_t)(++p - hdr));
	while (p < end) {
		if (*p == '"' || *p == '(') {
			s = cleanup_skip_quoted(p, end);
			buf_append(out, p, (size_t)(s - p));
			p = s;
			continue;
		}
		if (*p == '<') {
			s = memchr(p, '>', (size_t)(end - p));
			if (s == NULL) {
				buf_append(out, p, (size_t)(end - p));
				break;
			}
			s++;
			addr = xstrndup(p + 1, (size_t)(s - p - 2));
		} else if (!isspace((unsigned char)*p)
		    && !strchr(",:;<>", *p)) {
			s = p;
			while (s < end && !isspace((unsigned char)*s)
			    && !strchr(",;<>()\"", *s))
				s++;
			addr = xstrndup(p, (size_t)(s - p));
			if (strchr(addr, '@') == NULL || *s == ':'
			    || (s < end && *s == '<')) {
				/* a phrase word or a group name */
				buf_append(out, p, (size_t)(s - p));
				free(addr);
				p = s;
				continue;
			}
		} else {
			buf_putc(out, *p++);
			continue;
		}
		new = *addr ? cleanup_rewrite_addr(m, addr, sender, 1)
		    : xstrdup(addr);
		if (new == NULL) {
			free(addr);
			return (-1);
		}
		if (strcmp(new, addr) != 0)
			changed = 1;
		if (*p == '<')
			buf_printf(out, "<%s>", new);
		else
			buf_puts(out, new);
		free(new);
		free(addr);
		p = s;
	}
	return (changed);
}

/* cleanup_format_date - RFC 5322 date, local time with numeric zone */
void
cleanup_format_date(time_t when, char *out, size_t len)
{
	struct tm tm;
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	long	 off;
	char	 zone[16];

	localtime_r(&when, &tm);
	off = tm.tm_gmtoff / 60;
	strftime(zone, sizeof(zone), "%Z", &tm);
	snprintf(out, len, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld (%s)",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
	    labs(off) / 60, labs(off) % 60, zone);
}

/* cleanup_attr - a value from the name/value list, or NULL */
static const char *
cleanup_attr(const char *const *attrs, const char *name)
{
	size_t	 i;

	for (i = 0; attrs && attrs[i] && attrs[i + 1]; i += 2)
		if (strcmp(attrs[i], name) == 0)
			return (attrs[i + 1]);
	return (NULL);
}

/* cleanup_printable - a copy of untrusted text fit for a header */
static char *
cleanup_printable(const char *s)
{
	char	*c = xstrdup(s ? s : ""), *p;

	for (p = c; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			*p = '?';
	return (c);
}

/* cleanup_format_received - Postfix's Received: header (no final LF) */
void
cleanup_format_received(struct buf *out, const char *const *attrs,
    const char *myhostname, const char *queue_id, const char *rcpt,
    const char *date, int auth_header)
{
	const char *addr = cleanup_attr(attrs, "client_address");
	const char *name = cleanup_attr(attrs, "client_name");
	const char *helo = cleanup_attr(attrs, "helo_name");
	const char *proto = cleanup_attr(attrs, "protocol");
	const char *user = cleanup_attr(attrs, "sasl_username");
	const char *uid = cleanup_attr(attrs, "uid");
	const char *tls = cleanup_attr(attrs, "tls_info");
	char	*h, *n, *r;

	if (addr == NULL) {
		if (uid)
			buf_printf(out, "Received: by %s (postern, from userid "
			    "%s)\n\tid %s", myhostname, uid, queue_id);
		else
			buf_printf(out, "Received: by %s (postern)\n\tid %s",
			    myhostname, queue_id);
	} else {
		n = cleanup_printable(name && *name ? name : "unknown");
		h = cleanup_printable(helo && *helo ? helo : n);
		buf_printf(out, "Received: from %s (%s [%s%s])\n", h, n,
		    strchr(addr, ':') ? "IPv6:" : "", addr);
		if (tls && *tls)
			buf_printf(out, "\t(using %s)\n", tls);
		if (auth_header && user && *user) {
			char	*u = cleanup_printable(user);

			buf_printf(out, "\t(Authenticated sender: %s)\n", u);
			free(u);
		}
		buf_printf(out, "\tby %s (postern) with %s id %s", myhostname,
		    proto && *proto ? proto : "SMTP", queue_id);
		free(h);
		free(n);
	}
	if (rcpt) {
		r = cleanup_printable(rcpt);
		buf_printf(out, "\n\tfor <%s>; %s", r, date);
		free(r);
	} else
		buf_printf(out, ";\n\t%s", date);
}

/* cleanup_log_action - remember an action for the log (id added later) */
static void __attribute__((format(printf, 3, 4)))
cleanup_log_action(struct cleanup_state *s, const char *tail,
    const char *fmt, ...)
{
	struct buf *b = buf_new(256);
	const struct cleanup_input *in = s->in;
	const char *helo = cleanup_attr(in->attrs, "helo_name");
	const char *proto = cleanup_attr(in->attrs, "protocol");
	va_list	 ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
	buf_printf(b, "%s%s; from=<%s> to=<%s>", in->log_prefix ? " from " : "",
	    in->log_prefix ? log_safe(in->log_prefix) : "",
	    log_safe(in->sender ? in->sender : ""), in->nrcpts
	    ? log_safe(in->rcpts[0].addr) : "");
	if (proto)
		buf_printf(b, " proto=%s", proto);
	if (helo)
		buf_printf(b, " helo=<%s>", log_safe(helo));
	if (tail)
		buf_printf(b, ": %s", tail);
	strv_add(s->logs, BUF_STR(b));
	buf_free(b);
}

/* cleanup_is_header_start - "name:" with a printable name */
static int
cleanup_is_header_start(const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == ':')
			return (i > 0);
		if (ch <= 32 || ch >= 127)
			return (0);
	}
	return (0);
}

#define ACT_KEEP	0
#define ACT_DROP	1	/* IGNORE: drop the header or line */
#define ACT_STOP	2	/* REJECT/DISCARD/DEFER: stop here */
#define ACT_REPLACE	3	/* REPLACE: the new text instead */

/*
 * cleanup_edit - PREPEND and REPLACE as Postfix's cleanup_act(): the
 * text is required, and in a header it must be "name: value"; either
 * mistake is a warning and the header or line is kept. PREPEND puts
 * the text (a header, or a body line) into pre, before the matched
 * one; REPLACE returns ACT_REPLACE with the text in *repl. Both are
 * logged: "ID: prepend: header Subject: x from client[addr]; from=<s>
 * to=<r> proto=ESMTP helo=<h>: X-Tag: text".
 */
static int
cleanup_edit(struct cleanup_state *s, int replace, const char *where,
    const char *safe, const char *arg, struct buf *pre, char **repl)
{
	const char *act = replace ? "REPLACE" : "PREPEND";
	const char *map = strcmp(where, "header") == 0 ? "header_checks"
	    : "body_checks";
	char	*shown;

	if (*arg == 0) {
		log_warn_as(CLEANUP_LOG, "%s action without text in %s map",
		    act, map);
		return (ACT_KEEP);
	}
	if (strcmp(where, "header") == 0
	    && !cleanup_is_header_start(arg, strlen(arg))) {
		log_warn_as(CLEANUP_LOG, "bad %s header text \"%s\" in %s "
		    "map -- need \"headername: headervalue\"", act,
		    log_safe(arg), map);
		return (ACT_KEEP);
	}
	shown = xstrdup(log_safe(arg));	/* log_safe's ring is reused */
	cleanup_log_action(s, shown, "%s: %s %s", replace ? "replace"
	    : "prepend", where, safe);
	free(shown);
	if (replace) {
		*repl = xstrdup(arg);
		return (ACT_REPLACE);
	}
	buf_printf(pre, "%s\n", arg);
	return (ACT_KEEP);
}

/*
 * cleanup_filter - FILTER transport:destination as Postfix's
 * cleanup_act(): the last one wins; it reaches the queue file as a
 * trailer "A content_filter=" record (QUEUE.md) that overrides the
 * envelope's (smtpd access FILTER, content_filter)
 */
static void
cleanup_filter(struct cleanup_state *s, const char *where, const char *safe,
    const char *arg)
{
	const char *map = strcmp(where, "header") == 0 ? "header_checks"
	    : "body_checks";

	if (*arg == 0) {
		log_warn_as(CLEANUP_LOG, "missing FILTER command argument in "
		    "%s map", map);
		return;
	}
	if (strchr(arg, ':') == NULL) {
		log_warn_as(CLEANUP_LOG, "bad FILTER command %s in %s -- need "
		    "transport:destination", log_safe(arg), map);
		return;
	}
	free(s->filter);
	s->filter = xstrdup(arg);
	cleanup_log_action(s, arg, "filter: %s %s", where, safe);
}

/* cleanup_action - act on a header_checks/body_checks result; PREPEND
 * text goes into pre, REPLACE text into *repl (ACT_REPLACE) */
static int
cleanup_action(struct cleanup_state *s, const char *where,
    const char *text, size_t tlen, const char *value, struct buf *pre,
    char **repl)
{
	char	 word[32], dsn[16];
	const char *arg;
	size_t	 n;
	char	*shown = xstrndup(text, tlen > 200 ? 200 : tlen);
	char	*safe = xstrdup(log_safe(shown));
	int	 ret = ACT_KEEP;

	free(shown);
	value += strspn(value, " \t");
	n = strcspn(value, " \t");
	snprintf(word, sizeof(word), "%.*s", (int)(n < 31 ? n : 31), value);
	arg = value + n + strspn(value + n, " \t");
	if (!strcasecmp(word, "REJECT")) {
		arg = dsn_split(arg, dsn, sizeof(dsn), "5.7.1");
		if (*dsn == '4')
			dsn[0] = '5';
		snprintf(s->out->reply, sizeof(s->out->reply), "550 %s %s", dsn,
		    *arg ? arg : "Message content rejected");
		cleanup_log_action(s, s->out->reply + 4, "reject: %s %s", where,
		    safe);
		s->status = CLEANUP_REJECT;
		ret = ACT_STOP;
	} else if (!strcasecmp(word, "DEFER")) {
		arg = dsn_split(arg, dsn, sizeof(dsn), "4.7.1");
		dsn[0] = '4';
		snprintf(s->out->reply, sizeof(s->out->reply), "450 %s %s", dsn,
		    *arg ? arg : "Error: message content deferred");
		cleanup_log_action(s, s->out->reply + 4, "defer: %s %s", where,
		    safe);
		s->status = CLEANUP_DEFER;
		ret = ACT_STOP;
	} else if (!strcasecmp(word, "DISCARD")) {
		cleanup_log_action(s, *arg ? arg : NULL, "discard: %s %s",
		    where, safe);
		s->status = CLEANUP_DISCARD;
		ret = ACT_STOP;
	} else if (!strcasecmp(word, "HOLD")) {
		cleanup_log_action(s, *arg ? arg : NULL, "hold: %s %s", where,
		    safe);
		s->hold = 1;
	} else if (!strcasecmp(word, "WARN") || !strcasecmp(word, "INFO")) {
		cleanup_log_action(s, *arg ? arg : NULL, "%s: %s %s",
		    !strcasecmp(word, "WARN") ? "warning" : "info", where,
		    safe);
	} else if (!strcasecmp(word, "IGNORE")) {
		ret = ACT_DROP;
	} else if (!strcasecmp(word, "PREPEND")
	    || !strcasecmp(word, "REPLACE")) {
		ret = cleanup_edit(s, toupper((unsigned char)*word) == 'R',
		    where, safe, arg, pre, repl);
	} else if (!strcasecmp(word, "FILTER")) {
		cleanup_filter(s, where, safe, arg);
	} else if (strcasecmp(word, "DUNNO") && strcasecmp(word, "OK")) {
		if (!strcasecmp(word, "REDIRECT")
		    || !strcasecmp(word, "BCC")) {
			size_t	 i;

			for (i = 0; i < s->m->warned->argc; i++)
				if (!strcmp(s->m->warned->argv[i], word))
					break;
			if (i == s->m->warned->argc) {
				strv_add(s->m->warned, word);
				log_warn_as(CLEANUP_LOG, "header/body_checks "
				    "action %s is not supported by postern; "
				    "ignored", word);
			}
		} else
			log_warn_as(CLEANUP_LOG,
			    "unknown header/body_checks action: %s",
			    log_safe(value));
	}
	free(safe);
	return (ret);
}

/* cleanup_note_header - remember Message-ID/Date/From for LOCAL */
static void
cleanup_note_header(struct cleanup_state *s, const char *h, size_t len)
{
	size_t	 nl = strcspn(h, ":");
	const char *v;
	size_t	 vl;

	if (nl >= len)
		return;
	if (nl == 10 && strncasecmp(h, "Message-ID", 10) == 0) {
		s->have_msgid = 1;
		v = h + nl + 1;
		vl = len - nl - 1;
		while (vl && isspace((unsigned char)*v)) {
			v++;
			vl--;
		}
		while (vl && isspace((unsigned char)v[vl - 1]))
			vl--;
		if (s->msgid == NULL) {
			char	*id = xstrndup(v, vl);

			s->msgid = xstrdup(log_safe(id));
			free(id);
		}
	} else if (nl == 4 && strncasecmp(h, "Date", 4) == 0)
		s->have_date = 1;
	else if (nl == 4 && strncasecmp(h, "From", 4) == 0)
		s->have_from = 1;
}

/* cleanup_drop_header - count Received:, drop message_drop_headers */
static int
cleanup_drop_header(struct cleanup_state *s, const char *h, size_t len)
{
	size_t	 nl = 0, i;

	while (nl < len && h[nl] != ':' && h[nl] != ' ' && h[nl] != '\t')
		nl++;
	if (nl == 8 && strncasecmp(h, "Received", 8) == 0)
		s->hops++;
	for (i = 0; s->m->drop && i < s->m->drop->argc; i++)
		if (strlen(s->m->drop->argv[i]) == nl
		    && strncasecmp(h, s->m->drop->argv[i], nl) == 0)
			return (1);
	return (0);
}

/* cleanup_header_out - drop, rewrite or copy one logical header */
static void
cleanup_header_out(struct cleanup_state *s, const char *h, size_t len)
{
	struct cleanup_maps *m = s->m;
	struct buf *rw;
	int	 st, cls, f;

	if (cleanup_drop_header(s, h, len))
		return;
	cls = cleanup_hdr_class(h, strcspn(h, ":"));
	f = cls == 1 ? CANON_HDR_FROM : CANON_HDR_RCPT;
	if (cls && !(s->in->flags & CLEANUP_FLAG_NO_MAPS) && ((m->canon && (m->canon_flags & f))
	    || (cls == 1 && m->send_canon && (m->send_flags & f))
	    || (cls == 2 && m->rcpt_canon && (m->rcpt_flags & f)))) {
		rw = buf_new(len + 32);
		st = cleanup_rewrite_header(m, h, len, cls == 1, rw);
		if (st < 0)
			s->retry = 1;
		if (st > 0) {
			cleanup_note_header(s, BUF_STR(rw), BUF_LEN(rw));
			buf_append(s->msg, BUF_STR(rw), BUF_LEN(rw));
			buf_putc(s->msg, '\n');
			buf_free(rw);
			return;
		}
		buf_free(rw);
	}
	cleanup_note_header(s, h, len);
	buf_append(s->msg, h, len);
	buf_putc(s->msg, '\n');
}

/*
 * cleanup_header - header_checks, then the header (or, after REPLACE,
 * its replacement: dropped, counted and rewritten like any header, as
 * Postfix does) goes out after any PREPEND text
 */
static void
cleanup_header(struct cleanup_state *s, const char *h, size_t len)
{
	struct cleanup_maps *m = s->m;
	struct buf *pre = buf_new(0);
	char	*val, *flat, *d, *repl = NULL;
	size_t	 i;
	int	 st, act = ACT_KEEP;

	if (m->header_checks && !(s->in->flags & CLEANUP_FLAG_NO_HBC)) {
		flat = xmalloc(len + 1);
		for (i = 0, d = flat; i < len; i++)
			if (h[i] != '\n' && h[i] != 0)
				*d++ = h[i];
		*d = 0;
		st = maplist_lookup(m->header_checks, flat, &val);
		if (st == MAP_RETRY) {
			log_warn_as(CLEANUP_LOG,
			    "header_checks lookup problem: %s",
			    maplist_error(m->header_checks));
			s->retry = 1;
		} else if (st == MAP_FOUND) {
			act = cleanup_action(s, "header", flat, strlen(flat),
			    val, pre, &repl);
			free(val);
		}
		free(flat);
	}
	buf_append(s->msg, BUF_STR(pre), BUF_LEN(pre));
	buf_free(pre);
	if (act == ACT_REPLACE)
		cleanup_header_out(s, repl, strlen(repl));
	else if (act == ACT_KEEP)
		cleanup_header_out(s, h, len);
	free(repl);
}

/* cleanup_body_line - body_checks for one line; PREPEND text goes
 * straight into the message, REPLACE text into *repl */
static int
cleanup_body_line(struct cleanup_state *s, const char *l, size_t len,
    char **repl)
{
	char	*line, *val;
	int	 st, act = ACT_KEEP;

	line = xstrndup(l, len);
	st = maplist_lookup(s->m->body_checks, line, &val);
	if (st == MAP_RETRY) {
		log_warn_as(CLEANUP_LOG, "body_checks lookup problem: %s",
		    maplist_error(s->m->body_checks));
		s->retry = 1;
	} else if (st == MAP_FOUND) {
		act = cleanup_action(s, "body", line, strlen(line), val, s->msg,
		    repl);
		free(val);
	}
	free(line);
	return (act);
}

/* cleanup_flush_logs - the remembered action lines, with the id */
static void
cleanup_flush_logs(struct cleanup_state *s, const char *id)
{
	size_t	 i;

	for (i = 0; i < s->logs->argc; i++)
		log_info_as(CLEANUP_LOG, "%s: %s", id && *id ? id : "NOQUEUE",
		    s->logs->argv[i]);
}

/* cleanup_defer - a temporary failure reply */
static int
cleanup_defer(struct cleanup_state *s, const char *text)
{
	snprintf(s->out->reply, sizeof(s->out->reply), "451 4.3.0 Error: %s",
	    text);
	return (CLEANUP_DEFER);
}

/*
 * cleanup_from_phrase - the display name of an added From: header, from
 * sendmail -F (the full_name attribute), as Postfix's cleanup writes it
 * with header_from_format = standard: "From: phrase <address>". A name
 * with RFC 822 specials (or Postfix's "%!") becomes a quoted string
 * with '"' and '\' escaped; otherwise its words are joined by single
 * spaces. CR and LF are spaces. Nothing is written for an empty name.
 */
static void
cleanup_from_phrase(struct buf *out, const char *name)
{
	const char *cp;
	int	 words = 0;

	if (name[strcspn(name, "%!()<>@,;:\\\".[]")] != 0) {
		buf_putc(out, '"');
		for (cp = name; *cp; cp++) {
			if (*cp == '"' || *cp == '\\')
				buf_putc(out, '\\');
			buf_putc(out, *cp == '\r' || *cp == '\n' ? ' ' : *cp);
		}
		buf_append(out, "\" ", 2);
		return;
	}
	for (cp = name; *cp; ) {
		size_t	 n;

		cp += strspn(cp, " \t\r\n");
		if ((n = strcspn(cp, " \t\r\n")) == 0)
			break;
		if (words++)
			buf_putc(out, ' ');
		buf_append(out, cp, n);
		cp += n;
	}
	if (words)
		buf_putc(out, ' ');
}

/* cleanup_added_headers - Message-ID, Date, From for local mail */
static void
cleanup_added_headers(struct cleanup_state *s, const char *id, time_t now,
    const char *date, struct buf *out)
{
	const char *full = cleanup_attr(s->in->attrs, "full_name");
	struct tm tm;
	char	 stamp[32];

	if (!(s->in->flags & CLEANUP_FLAG_LOCAL))
		return;
	if (!s->have_msgid) {
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
		free(s->msgid);
		s->msgid = xasprintf("<%s.%s@%s>", stamp, id, s->m->myhostname);
		buf_printf(out, "Message-ID: %s\n", s->msgid);
	}
	if (!s->have_date)
		buf_printf(out, "Date: %s\n", date);
	if (!s->have_from) {
		if (s->in->sender && *s->in->sender && full && *full) {
			buf_printf(out, "From: ");
			cleanup_from_phrase(out, full);
			buf_printf(out, "<%s>\n", s->in->sender);
		} else if (s->in->sender && *s->in->sender)
			buf_printf(out, "From: %s\n", s->in->sender);
		else
			buf_printf(out, "From: MAILER-DAEMON@%s\n",
			    s->m->myhostname);
	}
}

/*
 * The stream: one message arriving in pieces (cleanup_stream_write()).
 * Only one physical line (while it must be seen whole: headers, lines
 * body_checks still reads) and one logical header are held, each at
 * most header_size_limit bytes (Postfix discards the excess of a longer
 * header; a longer body line is checked in pieces, as Postfix checks
 * its line_length_limit records); everything else goes to the queue
 * file as it arrives.
 */
struct cleanup_stream {
	struct cleanup_state s;
	struct queue_writer *w;
	char	*sender, **rcpts;
	struct strv *bcc;		/* always_bcc and *_bcc_maps */
	struct cleanup_dkim *dkim;	/* signing it (cleanup_dkim.c) */
	struct buf *line;		/* physical line being assembled */
	struct buf *hdr;		/* logical header being assembled */
	int	 have_hdr;		/* hdr holds a header (maybe "") */
	int	 hdr_no_lf;		/* the message ended inside it */
	int	 in_headers;
	int	 skip_eol;		/* drop the rest of a long header line */
	size_t	 checked;		/* body bytes body_checks saw */
	time_t	 now;
	char	 date[80];
	char	 err[256];		/* first write error */
};

#define STREAM_OUT	16384		/* flush s->msg past this */

/* stream_out - hand the pending output to the queue file */
static void
stream_out(struct cleanup_stream *st)
{
	struct cleanup_state *s = &st->s;

	if (BUF_LEN(s->msg) == 0)
		return;
	cleanup_dkim_data(st->dkim, BUF_STR(s->msg), BUF_LEN(s->msg));
	if (st->w && !st->err[0]
	    && queue_writer_body(st->w, BUF_STR(s->msg), BUF_LEN(s->msg)) < 0)
		snprintf(st->err, sizeof(st->err), "write: %s",
		    strerror(errno));
	buf_reset(s->msg);
}

/* stream_hdr_add - add to the logical header, up to the limit */
static void
stream_hdr_add(struct cleanup_stream *st, const char *p, size_t len)
{
	size_t	 room, have = BUF_LEN(st->hdr);

	room = have < (size_t)st->s.m->header_limit
	    ? (size_t)st->s.m->header_limit - have : 0;
	buf_append(st->hdr, p, len < room ? len : room);
	st->have_hdr = 1;
}

/* stream_header_done - the pending logical header goes out */
static void
stream_header_done(struct cleanup_stream *st)
{
	struct cleanup_state *s = &st->s;
	size_t	 before = BUF_LEN(s->msg);

	if (!st->have_hdr)
		return;
	cleanup_header(s, BUF_STR(st->hdr), BUF_LEN(st->hdr));
	if (st->hdr_no_lf && BUF_LEN(s->msg) > before)
		buf_truncate(s->msg, BUF_LEN(s->msg) - 1); /* keep it missing */
	buf_reset(st->hdr);
	st->have_hdr = st->hdr_no_lf = 0;
}

/* stream_headers_end - the header block ended: added headers follow */
static void
stream_headers_end(struct cleanup_stream *st)
{
	st->in_headers = 0;
	if (st->w)
		cleanup_added_headers(&st->s, queue_writer_id(st->w), st->now,
		    st->date, st->s.msg);
	if (st->w && cleanup_dkim_headers(st->dkim, st->s.msg,
	    queue_writer_id(st->w)) < 0)
		st->s.retry = 1;	/* DKIM table or key trouble: 451 */
}

/* stream_body_line - body_checks (while in the checked part), copy */
static void
stream_body_line(struct cleanup_stream *st, const char *l, size_t llen,
    int nl)
{
	struct cleanup_state *s = &st->s;
	char	*repl = NULL;
	int	 act = ACT_KEEP;

	if (s->m->body_checks && !(s->in->flags & CLEANUP_FLAG_NO_HBC)
	    && st->checked < (size_t)s->m->body_limit)
		act = cleanup_body_line(s, l, llen, &repl);
	st->checked += llen + 1;
	if (act == ACT_KEEP)
		buf_append(s->msg, l, llen + (nl != 0));
	else if (act == ACT_REPLACE) {
		buf_puts(s->msg, repl);
		if (nl)
			buf_putc(s->msg, '\n');
	}
	free(repl);
}

/*
 * stream_line - one physical line (without its LF; nl: it had one) in
 * the order the whole-message pass used to see it: continuation lines
 * join the header, the first line that is neither ends the header block
 * and is the first body line
 */
static void
stream_line(struct cleanup_stream *st, const char *l, size_t llen, int nl)
{
	if (st->in_headers) {
		if (st->have_hdr && llen > 0 && (*l == ' ' || *l == '\t')) {
			stream_hdr_add(st, "\n", 1);
			stream_hdr_add(st, l, llen);
			st->hdr_no_lf = !nl;
			return;
		}
		stream_header_done(st);
		if (st->s.status != CLEANUP_OK)
			return;
		if (llen > 0 && cleanup_is_header_start(l, llen)) {
			stream_hdr_add(st, l, llen);
			st->hdr_no_lf = !nl;
			return;
		}
		stream_headers_end(st);
	}
	stream_body_line(st, l, llen, nl);
}

/*
 * stream_long_line - the physical line passed header_size_limit before
 * its LF: a header (or continuation) keeps what it has and drops the
 * rest of the line; a body line is checked (or copied) as a piece
 */
static void
stream_long_line(struct cleanup_stream *st)
{
	const char *l = BUF_STR(st->line);
	size_t	 llen = BUF_LEN(st->line);

	if (st->in_headers && ((st->have_hdr && (*l == ' ' || *l == '\t'))
	    || cleanup_is_header_start(l, llen))) {
		stream_line(st, l, llen, 1);
		st->skip_eol = 1;
	} else {
		if (st->in_headers) {
			stream_header_done(st);
			if (st->s.status != CLEANUP_OK)
				return;
			stream_headers_end(st);
		}
		stream_body_line(st, l, llen, 0);
	}
	buf_reset(st->line);
}

/* stream_whole_lines - lines must be seen whole: headers, body_checks */
static int
stream_whole_lines(struct cleanup_stream *st)
{
	return (st->in_headers || (st->s.m->body_checks
	    && st->checked < (size_t)st->s.m->body_limit));
}

/* stream_write - message bytes (LF endings), any cut */
static void
stream_write(struct cleanup_stream *st, struct cleanup_maps *m,
    const char *p, size_t len)
{
	const char *nl;
	size_t	 n;

	st->s.m = m;
	while (len > 0 && st->s.status == CLEANUP_OK && st->w) {
		nl = memchr(p, '\n', len);
		n = nl ? (size_t)(nl - p) + 1 : len;
		if (st->skip_eol) {
			st->skip_eol = nl == NULL;
		} else if (BUF_LEN(st->line) == 0 && !stream_whole_lines(st)) {
			stream_out(st);		/* the body, straight through */
			cleanup_dkim_data(st->dkim, p, n);
			if (!st->err[0] && queue_writer_body(st->w, p, n) < 0)
				snprintf(st->err, sizeof(st->err), "write: %s",
				    strerror(errno));
		} else {
			buf_append(st->line, p, n);
			if (nl) {
				stream_line(st, BUF_STR(st->line),
				    BUF_LEN(st->line) - 1, 1);
				buf_reset(st->line);
			} else if (BUF_LEN(st->line) >= (size_t)m->header_limit)
				stream_long_line(st);
		}
		p += n;
		len -= n;
		if (BUF_LEN(st->s.msg) >= STREAM_OUT)
			stream_out(st);
	}
	stream_out(st);
}

/*
 * cleanup_stream_write - message bytes (LF endings), any cut. Line ends
 * arrive as LF alone (smtpd and sendmail take the CR of CRLF), so every
 * CR left is stray: it becomes a space, as Postfix 3.9's cleanup does
 * (cleanup_replace_stray_cr_lf), so "<CR>.<CR>" can never reach a next
 * hop that takes a CR for a line end (outbound SMTP smuggling)
 */
void
cleanup_stream_write(struct cleanup_stream *st, struct cleanup_maps *m,
    const char *p, size_t len)
{
	const char *cr;

	while (len > 0 && (cr = memchr(p, '\r', len)) != NULL) {
		stream_write(st, m, p, (size_t)(cr - p));
		stream_write(st, m, " ", 1);
		len -= (size_t)(cr - p) + 1;
		p = cr + 1;
	}
	if (len > 0)
		stream_write(st, m, p, len);
}

/*
 * cleanup_envelope - rewrite sender and recipients, find the BCC
 * recipients (none of it with CLEANUP_FLAG_NO_MAPS:
 * receive_override_options no_address_mappings); -1 on map trouble
 */
static int
cleanup_envelope(struct cleanup_state *s, char **sender, char **rcpts,
    struct strv *bcc)
{
	const struct cleanup_input *in = s->in;
	int	 maps = !(in->flags & CLEANUP_FLAG_NO_MAPS);
	size_t	 i;

	*sender = in->sender && *in->sender && maps
	    ? cleanup_rewrite_addr(s->m, in->sender, 1, 0)
	    : xstrdup(in->sender ? in->sender : "");
	if (*sender == NULL)
		return (-1);
	for (i = 0; i < in->nrcpts; i++)
		if ((rcpts[i] = maps ? cleanup_rewrite_addr(s->m,
		    in->rcpts[i].addr, 0, 0) : xstrdup(in->rcpts[i].addr))
		    == NULL)
			return (-1);
	return (maps ? cleanup_bcc_add(s->m->bcc, *sender, rcpts,
	    in->nrcpts, bcc) : 0);
}

/* stream_begin - the queue file: envelope, then the Received: header */
static int
stream_begin(struct cleanup_stream *st)
{
	struct cleanup_state *s = &st->s;
	const struct cleanup_input *in = s->in;
	const char *id;
	char	 err[256];
	size_t	 i;

	st->w = queue_writer_new(in->queue_dir, "incoming", err, sizeof(err));
	if (st->w == NULL) {
		log_warn_as(CLEANUP_LOG, "%s: %s", in->log_prefix
		    ? in->log_prefix : "cleanup", err);
		return (-1);
	}
	if (in->flags & CLEANUP_FLAG_NOSYNC)
		queue_writer_nosync(st->w);	/* smtpd's group commit syncs */
	if (in->later)			/* ... and renames */
		queue_writer_later(st->w, in->later);
	id = queue_writer_id(st->w);
	snprintf(s->out->queue_id, sizeof(s->out->queue_id), "%s", id);
	if (in->begun)			/* smtpd logs "ID: client=" */
		in->begun(in->begun_ctx, id);
	st->now = time(NULL);
	cleanup_format_date(st->now, st->date, sizeof(st->date));
	queue_writer_sender(st->w, st->sender);
	for (i = 0; in->attrs && in->attrs[i] && in->attrs[i + 1]; i += 2)
		queue_writer_attr(st->w, in->attrs[i], in->attrs[i + 1]);
	for (i = 0; i < in->nrcpts; i++)
		queue_writer_rcpt(st->w, st->rcpts[i], in->rcpts[i].orcpt
		    ? in->rcpts[i].orcpt : strcmp(st->rcpts[i],
		    in->rcpts[i].addr) ? in->rcpts[i].addr : NULL,
		    in->rcpts[i].notify);
	for (i = 0; i < st->bcc->argc; i++)	/* no DSN for a BCC copy */
		queue_writer_rcpt(st->w, st->bcc->argv[i], NULL,
		    QUEUE_NOTIFY_NEVER);
	/* FILTER action, else content_filter: qmgr_filter.c routes it */
	if (*(in->filter ? in->filter : s->m->content_filter))
		queue_writer_attr(st->w, "content_filter", in->filter
		    ? in->filter : s->m->content_filter);
	if (in->prepend)		/* smtpd access PREPEND */
		buf_puts(s->msg, in->prepend);
	if (in->received)
		buf_printf(s->msg, "%s\n", in->received);
	else if (!(in->flags & CLEANUP_FLAG_NO_RECEIVED)) {
		cleanup_format_received(s->msg, in->attrs, s->m->myhostname,
		    id, in->nrcpts == 1 ? in->rcpts[0].addr : NULL, st->date,
		    s->m->auth_header);
		buf_putc(s->msg, '\n');
	}
	return (0);
}

/* cleanup_stream_open - rewrite the envelope, begin the queue file */
struct cleanup_stream *
cleanup_stream_open(struct cleanup_maps *m, const struct cleanup_input *in,
    struct cleanup_result *out)
{
	struct cleanup_stream *st = xcalloc(1, sizeof(*st));
	struct cleanup_state *s = &st->s;

	memset(out, 0, sizeof(*out));
	s->m = m;
	s->in = in;
	s->out = out;
	s->status = CLEANUP_OK;
	s->logs = strv_new();
	s->msg = buf_new(1024);
	st->line = buf_new(256);
	st->hdr = buf_new(256);
	st->in_headers = 1;
	st->rcpts = xcalloc(in->nrcpts + 1, sizeof(*st->rcpts));
	st->bcc = strv_new();
	if (cleanup_envelope(s, &st->sender, st->rcpts, st->bcc) < 0)
		s->status = cleanup_defer(s, "temporary lookup failure");
	else if (stream_begin(st) < 0)
		s->status = cleanup_defer(s, "queue file write error");
	else if (in->flags & CLEANUP_FLAG_DISCARD)
		s->status = CLEANUP_DISCARD;	/* smtpd logged it */
	if (in->flags & CLEANUP_FLAG_HOLD)
		s->hold = 1;
	if (s->status == CLEANUP_OK)
		st->dkim = cleanup_dkim_new(m->dkim, in);
	return (st);
}

/* stream_free - release everything, remove an uncommitted file */
static void
stream_free(struct cleanup_stream *st)
{
	size_t	 i;

	queue_writer_abort(st->w);
	for (i = 0; i < st->s.in->nrcpts; i++)
		free(st->rcpts[i]);
	free(st->rcpts);
	strv_free(st->bcc);
	cleanup_dkim_free(st->dkim);
	free(st->sender);
	free(st->s.msgid);
	free(st->s.filter);
	buf_free(st->s.msg);
	buf_free(st->line);
	buf_free(st->hdr);
	strv_free(st->s.logs);
	free(st);
}

/* cleanup_stream_abort - drop the message (client gone, size, ...) */
void
cleanup_stream_abort(struct cleanup_stream *st)
{
	if (st == NULL)
		return;
	st->s.out->queue_id[0] = 0;
	stream_free(st);
}

/* stream_commit - finish, fsync (unless NOSYNC), rename: the commit */
static int
stream_commit(struct cleanup_stream *st)
{
	struct cleanup_state *s = &st->s;
	const struct cleanup_input *in = s->in;
	struct queue_writer *w = st->w;
	char	 err[256];

	st->w = NULL;			/* commit and abort free it */
	if (s->hold)
		queue_writer_subdir(w, "hold");
	if (s->filter)			/* header/body_checks FILTER */
		queue_writer_trailer(w, "content_filter", s->filter);
	if (!cleanup_dkim_signs(st->dkim))	/* the file as finished */
		queue_writer_copy(w);
	if (st->err[0] || queue_writer_finish(w, err, sizeof(err)) < 0
	    || cleanup_dkim_commit(st->dkim, queue_writer_path(w),
	    s->out->queue_id, !(in->flags & CLEANUP_FLAG_NOSYNC), err,
	    sizeof(err)) < 0) {
		if (st->err[0])
			snprintf(err, sizeof(err), "%s", st->err);
		queue_writer_abort(w);
	} else if ((in->flags & CLEANUP_FLAG_PICKUP)
	    ? queue_writer_commit_pickup(w, in->pickup_id ? in->pickup_id : "",
	    err, sizeof(err)) == 0
	    : queue_writer_commit(w, err, sizeof(err)) == 0)
		return (CLEANUP_OK);
	log_warn_as(CLEANUP_LOG, "%s: queue file write error: %s",
	    s->out->queue_id, err);
	s->out->queue_id[0] = 0;
	return (cleanup_defer(s, "queue file write error"));
}

/* cleanup_stream_close - the end of the message: checks, commit */
int
cleanup_stream_close(struct cleanup_stream *st, struct cleanup_maps *m)
{
	struct cleanup_state *s = &st->s;
	struct cleanup_result *out = s->out;
	int	 rc;

	s->m = m;
	if (s->status == CLEANUP_OK && st->w) {
		if (BUF_LEN(st->line) && !st->skip_eol)	/* no final LF */
			stream_line(st, BUF_STR(st->line), BUF_LEN(st->line),
			    0);
		if (s->status == CLEANUP_OK && st->in_headers) {
			stream_header_done(st);
			if (s->status == CLEANUP_OK)
				stream_headers_end(st);
		}
		stream_out(st);
	}
	if (s->status == CLEANUP_DEFER && st->w == NULL) {
		rc = CLEANUP_DEFER;	/* envelope map or file trouble */
		goto done;
	}
	if (s->retry && s->status != CLEANUP_REJECT) {
		cleanup_flush_logs(s, NULL);
		rc = cleanup_defer(s, "temporary lookup failure");
		goto done;
	}
	if (s->status == CLEANUP_OK && m->hop_limit > 0
	    && s->hops >= m->hop_limit) {
		snprintf(out->reply, sizeof(out->reply),
		    "554 5.4.0 Error: too many hops");
		cleanup_log_action(s, "5.4.0 Error: too many hops",
		    "reject: %ld Received: headers", s->hops);
		s->status = CLEANUP_REJECT;
	}
	if (s->status != CLEANUP_OK) {
		/* a discarded message keeps its id, as in Postfix */
		cleanup_flush_logs(s, s->status == CLEANUP_DISCARD
		    ? out->queue_id : NULL);
		rc = s->status;
		goto done;
	}
	rc = stream_commit(st);
	if (rc == CLEANUP_OK) {
		out->hold = s->hold;
		cleanup_flush_logs(s, out->queue_id);
		if (s->msgid)
			log_info_as(CLEANUP_LOG, "%s: message-id=%s",
			    out->queue_id, s->msgid);
	} else
		cleanup_flush_logs(s, NULL);
done:
	if (rc != CLEANUP_OK && rc != CLEANUP_DISCARD)
		out->queue_id[0] = 0;
	stream_free(st);
	return (rc);
}

/* cleanup_message - rewrite, check and enqueue one whole message */
int
cleanup_message(struct cleanup_maps *m, const struct cleanup_input *in,
    struct cleanup_result *out)
{
	struct cleanup_stream *st = cleanup_stream_open(m, in, out);

	cleanup_stream_write(st, m, in->message ? in->message : "",
	    in->message_len);
	return (cleanup_stream_close(st, m));
}
