/*
 * NAME
 *	smtp_sts - MTA-STS (RFC 8461) in the smtp client
 * SYNOPSIS
 *	See smtp_sts.h.
 * DESCRIPTION
 *	The policy comes over HTTPS through libcurl (a maintained HTTPS
 *	client rather than hand-written HTTP): HTTPS only, no redirects
 *	(RFC 8461 3.3), the certificate checked against
 *	smtp_mta_sts_CAfile (empty: the system store) for the name
 *	mta-sts.DOMAIN, at most STS_POLICY_MAX bytes, smtp_mta_sts_timeout
 *	for the whole fetch. The name mta-sts.DOMAIN is resolved through
 *	postern's resolver (lib/dns.c, resolver_nameservers) and handed
 *	to libcurl (CURLOPT_RESOLVE), so libcurl never asks the system
 *	resolver.
 *
 *	The cache is one LMDB file (smtp_mta_sts_cache), opened once per
 *	process; key: the domain; value: "id fetched expires\n" and the
 *	policy text as fetched. A cached policy is used while it has not
 *	expired (fetched + max_age) and the TXT id is the same or the TXT
 *	lookup had no answer; otherwise the policy is fetched again, and a
 *	fetch that fails falls back to the unexpired cached policy.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <lmdb.h>
#include <openssl/ssl.h>

#include "conf.h"
#include "dns.h"
#include "log.h"
#include "smtp.h"
#include "smtp_sts.h"
#include "str.h"
#include "tls.h"
#include "xalloc.h"

struct smtp_sts {
	char	 domain[256];
	struct smtp_sts_policy pol;
	int	 enforced;	/* this address: level set by the policy */
	int	 saved_level;
	const char *saved_match;
};

/* fmt - snprintf where truncation is fine (a log reason) */
static void
fmt(char *buf, size_t len, const char *f, ...)
{
	va_list	 ap;

	va_start(ap, f);
	vsnprintf(buf, len, f, ap);
	va_end(ap);
}

/* trim - strip blanks at both ends, in place */
static char *
trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = 0;
	return (s);
}

/* smtp_sts_policy_free - release what parse filled */
void
smtp_sts_policy_free(struct smtp_sts_policy *p)
{
	if (p->mx)
		strv_free(p->mx);
	memset(p, 0, sizeof(*p));
}

/* valid_pattern - a host name, or "*." and one */
static int
valid_pattern(const char *v)
{
	const char *c;

	if (strncmp(v, "*.", 2) == 0)
		v += 2;
	if (*v == 0 || *v == '.' || strlen(v) > 253)
		return (0);
	for (c = v; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.'
		    && *c != '_')
			return (0);
	return (1);
}

/* smtp_sts_policy_parse - RFC 8461 3.2 */
int
smtp_sts_policy_parse(const char *text, size_t len,
    struct smtp_sts_policy *p, char *err, size_t errlen)
{
	char	*copy, *line, *next, *key, *val, *end;
	int	 have_version = 0, have_mode = 0, have_age = 0;

	memset(p, 0, sizeof(*p));
	p->mx = strv_new();
	if (len > STS_POLICY_MAX || memchr(text, 0, len) != NULL) {
		snprintf(err, errlen, "policy too long or not text");
		goto bad;
	}
	copy = xmalloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = 0;
	for (line = copy; line && *line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = 0;
		if (*trim(line) == 0)
			continue;
		if ((val = strchr(line, ':')) == NULL) {
			snprintf(err, errlen, "line without ':': %.60s",
			    log_safe(line));
			free(copy);
			goto bad;
		}
		*val++ = 0;
		key = trim(line);
		val = trim(val);
		if (strcmp(key, "version") == 0) {
			if (strcmp(val, "STSv1") != 0) {
				snprintf(err, errlen, "version is not STSv1");
				free(copy);
				goto bad;
			}
			have_version = 1;
		} else if (strcmp(key, "mode") == 0) {
			if (strcmp(val, "enforce") == 0)
				p->mode = STS_MODE_ENFORCE;
			else if (strcmp(val, "testing") == 0)
				p->mode = STS_MODE_TESTING;
			else if (strcmp(val, "none") == 0)
				p->mode = STS_MODE_NONE;
			else {
				snprintf(err, errlen, "unknown mode: %.40s",
				    log_safe(val));
				free(copy);
				goto bad;
			}
			have_mode = 1;
		} else if (strcmp(key, "max_age") == 0) {
			errno = 0;
			p->max_age = strtol(val, &end, 10);
			if (!isdigit((unsigned char)*val) || *end || errno
			    || strlen(val) > 10 || p->max_age > STS_MAX_AGE_MAX) {
				snprintf(err, errlen, "bad max_age: %.40s",
				    log_safe(val));
				free(copy);
				goto bad;
			}
			have_age = 1;
		} else if (strcmp(key, "mx") == 0) {
			if (!valid_pattern(val)) {
				snprintf(err, errlen, "bad mx pattern: %.60s",
				    log_safe(val));
				free(copy);
				goto bad;
			}
			strv_add(p->mx, val);
		}
		/* other keys: ignored (RFC 8461 3.2) */
	}
	free(copy);
	if (!have_version || !have_mode || !have_age) {
		snprintf(err, errlen, "policy without %s", !have_version
		    ? "version" : !have_mode ? "mode" : "max_age");
		goto bad;
	}
	if (p->mode != STS_MODE_NONE && p->mx->argc == 0) {
		snprintf(err, errlen, "policy without mx");
		goto bad;
	}
	return (0);
bad:
	smtp_sts_policy_free(p);
	return (-1);
}

/* smtp_sts_mx_match - does host match a policy pattern? */
int
smtp_sts_mx_match(const struct smtp_sts_policy *p, const char *host)
{
	char	 h[256];
	const char *pat, *rest;
	size_t	 i, n;

	snprintf(h, sizeof(h), "%s", host);
	n = strlen(h);
	if (n > 0 && h[n - 1] == '.')
		h[--n] = 0;
	for (i = 0; p->mx && i < p->mx->argc; i++) {
		pat = p->mx->argv[i];
		if (strncmp(pat, "*.", 2) == 0) {
			/* exactly one label in place of the "*" */
			if ((rest = strchr(h, '.')) == NULL || rest == h)
				continue;
			if (strcasecmp(rest + 1, pat + 2) == 0)
				return (1);
		} else if (strcasecmp(h, pat) == 0)
			return (1);
	}
	return (0);
}

/* smtp_sts_txt_id - the id of the one v=STSv1 record */
int
smtp_sts_txt_id(const struct strv *txt, char *id, size_t idlen)
{
	const char *t, *f;
	size_t	 i, n, found = 0;

	for (i = 0; txt && i < txt->argc; i++) {
		t = txt->argv[i];
		if (strncmp(t, "v=STSv1", 7) != 0 || (t[7] != ';' && t[7]
		    && t[7] != ' ' && t[7] != '\t'))
			continue;
		if (found++)
			return (-1);	/* several: no policy (RFC 8461 3.1) */
		*id = 0;
		for (f = t; (f = strstr(f, "id=")) != NULL; f += 3) {
			if (f != t && f[-1] != ';' && f[-1] != ' '
			    && f[-1] != '\t')
				continue;
			n = strspn(f + 3, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
			if (n == 0 || n > 32 || n >= idlen || (f[3 + n]
			    && f[3 + n] != ';' && f[3 + n] != ' '
			    && f[3 + n] != '\t'))
				return (-1);
			memcpy(id, f + 3, n);
			id[n] = 0;
			break;
		}
		if (*id == 0)
			return (-1);
	}
	return (found ? 1 : 0);
}

/* -- the cache ------------------------------------------------------ */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static MDB_env *cache_env;
static int cache_failed;

/* cache_open - the process's LMDB environment, or NULL */
static MDB_env *
cache_open(void)
{
	const char *path = conf_str("smtp_mta_sts_cache");
	MDB_env *env = NULL;
	int	 rc;

	pthread_mutex_lock(&cache_lock);
	if (cache_env || cache_failed || path == NULL || *path == 0)
		goto out;
	if ((rc = mdb_env_create(&env)) == 0
	    && (rc = mdb_env_set_mapsize(env, 16 * 1024 * 1024)) == 0
	    && (rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOTLS,
	    0600)) == 0)
		cache_env = env;
	else {
		log_warn("MTA-STS policy cache %s: %s: policies are not "
		    "cached", log_safe(path), mdb_strerror(rc));
		if (env)
			mdb_env_close(env);
		cache_failed = 1;
	}
out:
	pthread_mutex_unlock(&cache_lock);
	return (cache_env);
}

/* cache_get - the cached entry of domain: id, times, policy text */
static int
cache_get(const char *domain, char *id, size_t idlen, long *fetched,
    long *expires, char **text)
{
	MDB_env *env = cache_open();
	MDB_txn *txn;
	MDB_dbi	 dbi;
	MDB_val	 k, v;
	char	 head[128], *nl;
	size_t	 hl;
	int	 ok = 0;

	if (env == NULL || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
		return (0);
	k.mv_data = (void *)domain;
	k.mv_size = strlen(domain);
	if (mdb_dbi_open(txn, NULL, 0, &dbi) == 0
	    && mdb_get(txn, dbi, &k, &v) == 0
	    && (nl = memchr(v.mv_data, '\n', v.mv_size)) != NULL
	    && (hl = (size_t)(nl - (char *)v.mv_data)) < sizeof(head)) {
		memcpy(head, v.mv_data, hl);
		head[hl] = 0;
		if (idlen > 40 && sscanf(head, "%40s %ld %ld", id, fetched,
		    expires) == 3) {
			*text = xmalloc(v.mv_size - hl);
			memcpy(*text, nl + 1, v.mv_size - hl - 1);
			(*text)[v.mv_size - hl - 1] = 0;
			ok = 1;
		}
	}
	mdb_txn_abort(txn);
	return (ok);
}

/* cache_put - remember domain's policy */
static void
cache_put(const char *domain, const char *id, long fetched, long expires,
    const char *text)
{
	MDB_env *env = cache_open();
	MDB_txn *txn;
	MDB_dbi	 dbi;
	MDB_val	 k, v;
	char	*val;
	int	 rc;

	if (env == NULL)
		return;
	val = xasprintf("%s %ld %ld\n%s", id, fetched, expires, text);
	k.mv_data = (void *)domain;
	k.mv_size = strlen(domain);
	v.mv_data = val;
	v.mv_size = strlen(val);
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) == 0) {
		if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi)) == 0
		    && (rc = mdb_put(txn, dbi, &k, &v, 0)) == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	if (rc != 0)
		log_warn("MTA-STS policy cache: cannot store the policy of "
		    "%s: %s", log_safe(domain), mdb_strerror(rc));
	free(val);
}

/* -- the fetch ------------------------------------------------------ */

struct body {
	char	*data;
	size_t	 len;
	int	 too_long;
};

/* body_write - libcurl's write callback, STS_POLICY_MAX at most */
static size_t
body_write(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct body *b = ctx;
	size_t	 n = size * nmemb;

	if (b->len + n > STS_POLICY_MAX) {
		b->too_long = 1;
		return (0);	/* stops the transfer */
	}
	b->data = xrealloc(b->data, b->len + n + 1);
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = 0;
	return (n);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

/* curl_init_once - libcurl's global init (not thread-safe itself) */
static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* fetch - the policy text of domain over HTTPS; NULL with err */
static char *
fetch(const char *domain, char *err, size_t errlen)
{
	struct strv *addrs = strv_new();
	struct curl_slist *resolve = NULL;
	struct body b = {0};
	char	 host[300], url[400], cerr[CURL_ERROR_SIZE] = "";
	char	*entry;
	const char *ca = conf_str("smtp_mta_sts_CAfile");
	long	 code = 0, timeout = conf_time("smtp_mta_sts_timeout");
	CURL	*c;
	CURLcode rc;
	size_t	 i;

	snprintf(host, sizeof(host), "mta-sts.%s", domain);
	if (dns_lookup_addr(host, addrs, err, errlen) != DNS_OK
	    || addrs->argc == 0) {
		strv_free(addrs);
		return (NULL);
	}
	/* postern's resolver, never the system's */
	for (i = 0; i < addrs->argc; i++) {
		entry = xasprintf(strchr(addrs->argv[i], ':') ? "%s:443:[%s]"
		    : "%s:443:%s", host, addrs->argv[i]);
		resolve = curl_slist_append(resolve, entry);
		free(entry);
	}
	strv_free(addrs);
	snprintf(url, sizeof(url), "https://%s/.well-known/mta-sts.txt",
	    host);
	pthread_once(&curl_once, curl_init_once);
	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "libcurl: cannot initialize");
		curl_slist_free_all(resolve);
		return (NULL);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca && *ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout > 0 ? timeout : 10L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout > 0 ? timeout
	    : 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)STS_POLICY_MAX);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "postern MTA-STS");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	curl_slist_free_all(resolve);
	if (b.too_long)
		snprintf(err, errlen, "%s: policy longer than %d bytes", url,
		    STS_POLICY_MAX);
	else if (rc != CURLE_OK)
		fmt(err, errlen, "%s: %s", url, *cerr ? cerr
		    : curl_easy_strerror(rc));
	else if (code != 200)
		snprintf(err, errlen, "%s: HTTP status %ld", url, code);
	else {
		if (b.data == NULL)
			b.data = xstrdup("");
		return (b.data);
	}
	free(b.data);
	return (NULL);
}

/* -- per delivery --------------------------------------------------- */

/* mode_name - for the log */
static const char *
mode_name(int mode)
{
	return (mode == STS_MODE_ENFORCE ? "enforce" : mode == STS_MODE_TESTING
	    ? "testing" : "none");
}

/* smtp_sts_set - parse text into s->sts; 0 or -1 */
int
smtp_sts_set(struct smtp_sess *s, const char *domain, const char *text)
{
	struct smtp_sts *st;
	struct smtp_sts_policy p;
	char	 err[200];

	if (smtp_sts_policy_parse(text, strlen(text), &p, err,
	    sizeof(err)) < 0) {
		log_warn("%s: MTA-STS policy of %s: %s", s->queue_id,
		    log_safe(domain), err);
		return (-1);
	}
	st = xcalloc(1, sizeof(*st));
	snprintf(st->domain, sizeof(st->domain), "%s", domain);
	st->pol = p;
	s->sts = st;
	return (0);
}

/* smtp_sts_nexthop - the domain's policy into s->sts, if any */
int
smtp_sts_nexthop(struct smtp_sess *s, const struct smtp_nexthop *nh)
{
	struct strv *txt;
	struct smtp_sts_policy p;
	char	 qname[300], err[600], id[64] = "", cid[64] = "", *ctext = NULL,
		*text, perr[200];
	long	 fetched = 0, expires = 0, now = (long)time(NULL);
	int	 rc, tid, cached;

	s->sts = NULL;
	if (s->cfg->lmtp || nh->no_mx || *nh->unix_path
	    || !conf_bool("smtp_mta_sts_enable"))
		return (0);
	/* a relayhost is not the recipient domain's MX (RFC 8461 4) */
	if (s->nexthop && strcasecmp(s->nexthop, conf_str("relayhost")) == 0)
		return (0);
	snprintf(qname, sizeof(qname), "_mta-sts.%s", nh->host);
	txt = strv_new();
	rc = dns_lookup_txt(qname, txt, err, sizeof(err));
	tid = rc == DNS_OK ? smtp_sts_txt_id(txt, id, sizeof(id)) : 0;
	strv_free(txt);
	cached = cache_get(nh->host, cid, sizeof(cid), &fetched, &expires,
	    &ctext) && expires > now;
	if (tid < 0)
		log_warn("%s: MTA-STS: %s TXT record is malformed or not "
		    "unique", s->queue_id, log_safe(qname));
	/* the cached policy while it lives, unless the id changed */
	if (cached && (tid <= 0 || strcmp(id, cid) == 0)) {
		(void)smtp_sts_set(s, nh->host, ctext);
		free(ctext);
		return (0);
	}
	if (tid <= 0) {
		free(ctext);
		return (0);	/* no policy */
	}
	if ((text = fetch(nh->host, err, sizeof(err))) == NULL
	    || smtp_sts_policy_parse(text, strlen(text), &p, perr,
	    sizeof(perr)) < 0) {
		if (text) {
			snprintf(err, sizeof(err), "https://mta-sts.%s/"
			    ".well-known/mta-sts.txt: %s", nh->host, perr);
			free(text);
		}
		if (cached) {
			log_warn("%s: MTA-STS policy fetch for %s failed: %s; "
			    "using the cached policy", s->queue_id,
			    log_safe(nh->host), err);
			(void)smtp_sts_set(s, nh->host, ctext);
		} else
			log_warn("%s: MTA-STS policy fetch for %s failed: %s; "
			    "no policy", s->queue_id, log_safe(nh->host), err);
		free(ctext);
		return (0);
	}
	free(ctext);
	log_info("%s: MTA-STS policy for %s: id %s, mode %s, max_age %ld",
	    s->queue_id, log_safe(nh->host), id, mode_name(p.mode), p.max_age);
	cache_put(nh->host, id, now, now + p.max_age, text);
	smtp_sts_policy_free(&p);
	(void)smtp_sts_set(s, nh->host, text);
	free(text);
	return (0);
}

/* smtp_sts_dest - this address under the policy; -1: deferred */
int
smtp_sts_dest(struct smtp_sess *s)
{
	struct smtp_sts *st = s->sts;

	if (st == NULL)
		return (0);
	if (st->pol.mode == STS_MODE_NONE || *s->dest->unix_path)
		return (0);
	/* DANE wins (RFC 8461 2): TLSA records authenticate this one */
	if (s->dane != NULL && s->tls_level == TLS_LEV_DANE)
		return (0);
	if (!smtp_sts_mx_match(&st->pol, s->dest->host)) {
		if (st->pol.mode == STS_MODE_TESTING) {
			log_info("%s: MTA-STS policy (testing) for %s: MX host "
			    "%s does not match; delivering anyway",
			    s->queue_id, st->domain, s->dest->host);
			return (0);
		}
		snprintf(s->status, sizeof(s->status), "4.7.5");
		snprintf(s->reason, sizeof(s->reason), "MTA-STS policy for "
		    "%s: MX host %s does not match", st->domain,
		    s->dest->host);
		s->connected = s->reached_mail = s->tls_failed = 0;
		return (-1);
	}
	st->saved_level = s->tls_level;
	st->saved_match = s->tls_match;
	st->enforced = 1;	/* restored by smtp_sts_after() */
	if (st->pol.mode == STS_MODE_TESTING) {
		/* at least opportunistic TLS, so that a certificate that
		 * would fail can be logged (smtp_sts_tls_testing) */
		if (s->tls_level < TLS_LEV_MAY)
			s->tls_level = TLS_LEV_MAY;
		return (0);
	}
	/* enforce: TLS verified for the MX name (RFC 8461 4.2) */
	if (s->tls_level < TLS_LEV_VERIFY || s->tls_level == TLS_LEV_DANE
	    || s->tls_level == TLS_LEV_DANE_ONLY) {
		s->tls_level = TLS_LEV_VERIFY;
		s->tls_match = "hostname";
	}
	return (0);
}

/* smtp_sts_tls_testing - mode testing: would the certificate verify? */
void
smtp_sts_tls_testing(struct smtp_sess *s, SSL *ssl)
{
	struct smtp_sts *st = s->sts;
	const char *names[2];
	char	 err[256];

	if (st == NULL || st->pol.mode != STS_MODE_TESTING)
		return;
	names[0] = s->dest->host;
	names[1] = NULL;
	if (tls_verify_peer(ssl, names, err, sizeof(err)))
		return;
	log_info("%s: MTA-STS policy (testing) for %s: certificate "
	    "verification failed for %s: %s; delivering anyway", s->queue_id,
	    st->domain, s->dest->host, err);
}

/* smtp_sts_after - the address's level back; name the policy in a
 * failed enforced session's reason */
void
smtp_sts_after(struct smtp_sess *s)
{
	struct smtp_sts *st = s->sts;
	char	 why[sizeof(s->reason)];

	if (st == NULL || !st->enforced)
		return;
	s->tls_level = st->saved_level;
	s->tls_match = st->saved_match;
	st->enforced = 0;
	if (st->pol.mode != STS_MODE_ENFORCE || s->status[0] == 0
	    || s->reached_mail || strncmp(s->status, "4.7.", 4) != 0)
		return;
	snprintf(why, sizeof(why), "%s", s->reason);
	fmt(s->reason, sizeof(s->reason), "MTA-STS policy for %s: %s%s",
	    st->domain, strstr(why, "certificate") ? "certificate "
	    "verification failed: " : "", why);
}

/* smtp_sts_done - forget the nexthop's policy */
void
smtp_sts_done(struct smtp_sess *s)
{
	struct smtp_sts *st = s->sts;

	if (st == NULL)
		return;
	smtp_sts_after(s);
	smtp_sts_policy_free(&st->pol);
	free(st);
	s->sts = NULL;
}
