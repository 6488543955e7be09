/*
 * NAME
 *	tls - OpenSSL 3 contexts from Postfix parameters (server and client)
 * SYNOPSIS
 *	See tls.h.
 * DESCRIPTION
 *	One SSL_CTX per role, configured from main.cf through conf(3);
 *	the LMDB session cache lives here too (tls_scache_*), written with
 *	liblmdb directly: key = session id (server) or the client's
 *	cache key, value = 8-byte expiry time + DER session. Expired
 *	entries are dropped whenever a context opens the cache.
 * DIAGNOSTICS
 *	Library code: errors go back to the caller in err; only warnings
 *	about configuration that we work around are logged.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <lmdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "str.h"
#include "tls.h"
#include "xalloc.h"

#define TLS_SCACHE_MAPSIZE	(64UL * 1024 * 1024)

struct tls_scache {
	MDB_env	*env;
	MDB_dbi	 dbi;
	long	 timeout;
	char	*path;
};

struct tls_ctx {
	SSL_CTX	*ssl_ctx;
	int	 server;
	int	 level;
	int	 loglevel;
	struct tls_scache *scache;
};

static void tls_scache_purge(struct tls_scache *);

static int ssl_key_idx = -1;	/* SSL ex_data: client cache key */
static pthread_once_t idx_once = PTHREAD_ONCE_INIT;

static const struct {
	const char *name;
	int	 version;
} proto_tab[] = {
	{"SSLv2", 0x0002},
	{"SSLv3", SSL3_VERSION},
	{"TLSv1", TLS1_VERSION},
	{"TLSv1.1", TLS1_1_VERSION},
	{"TLSv1.2", TLS1_2_VERSION},
	{"TLSv1.3", TLS1_3_VERSION},
};
#define PROTO_COUNT	(int)(sizeof(proto_tab) / sizeof(proto_tab[0]))
#define PROTO_FLOOR_IDX	4	/* TLSv1.2 */

static const struct {
	const char *name;
	long	 op;
} option_tab[] = {
	{"NO_COMPRESSION", SSL_OP_NO_COMPRESSION},
	{"NO_TICKET", SSL_OP_NO_TICKET},
	{"NO_RENEGOTIATION", SSL_OP_NO_RENEGOTIATION},
	{"ENABLE_MIDDLEBOX_COMPAT", SSL_OP_ENABLE_MIDDLEBOX_COMPAT},
	{"PRIORITIZE_CHACHA", SSL_OP_PRIORITIZE_CHACHA},
	{"LEGACY_SERVER_CONNECT", SSL_OP_LEGACY_SERVER_CONNECT},
	{"NO_ANTI_REPLAY", SSL_OP_NO_ANTI_REPLAY},
	{"CIPHER_SERVER_PREFERENCE", SSL_OP_CIPHER_SERVER_PREFERENCE},
	{"NO_QUERY_MTU", SSL_OP_NO_QUERY_MTU},
	{"ENABLE_KTLS", SSL_OP_ENABLE_KTLS},
	{"IGNORE_UNEXPECTED_EOF", SSL_OP_IGNORE_UNEXPECTED_EOF},
};

static const char *const level_tab[] = {
	"none", "may", "encrypt", "verify", "secure", "fingerprint", "dane",
	"dane-only",
};

/* ex_key_free - free a client cache key with its SSL */
static void
ex_key_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	free(ptr);
}

/* idx_init - the ex_data index, once */
static void
idx_init(void)
{
	ssl_key_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, ex_key_free);
}

/* ssl_errstr - the last OpenSSL error as text, queue cleared */
static const char *
ssl_errstr(char *out, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(out, len, "unknown error");
	else
		ERR_error_string_n(e, out, len);
	ERR_clear_error();
	return (out);
}

/* tls_level_parse - security level name to TLS_LEV_*, -1 unknown */
int
tls_level_parse(const char *name)
{
	int	 i;

	for (i = 0; i < (int)(sizeof(level_tab) / sizeof(level_tab[0])); i++)
		if (strcasecmp(name, level_tab[i]) == 0)
			return (i);
	return (-1);
}

/* tls_level_name - TLS_LEV_* to name */
const char *
tls_level_name(int level)
{
	if (level < 0 || level >= (int)(sizeof(level_tab) /
	    sizeof(level_tab[0])))
		return ("unknown");
	return (level_tab[level]);
}

/* proto_index - version name to table index, -1 unknown */
static int
proto_index(const char *name)
{
	int	 i;

	for (i = 0; i < PROTO_COUNT; i++)
		if (strcasecmp(name, proto_tab[i].name) == 0)
			return (i);
	return (-1);
}

/* tls_protocols_parse - Postfix protocol spec to a version range */
int
tls_protocols_parse(const char *spec, int *min, int *max, long *ssl_ops,
    char *err, size_t errlen)
{
	char	*copy = xstrdup(spec ? spec : ""), *cp = copy, *tok;
	unsigned incl = 0, excl = 0, enabled = 0;
	int	 lo = 0, hi = PROTO_COUNT - 1, named_low = 0, i, first = -1;
	int	 last = -1, idx;

	while ((tok = str_token(&cp, ", \t:")) != NULL) {
		const char *name = tok;
		int	 kind = 0;

		if (*tok == '!') {
			kind = 1;
			name = tok + 1;
		} else if (strncmp(tok, ">=", 2) == 0) {
			kind = 2;
			name = tok + 2;
		} else if (strncmp(tok, "<=", 2) == 0) {
			kind = 3;
			name = tok + 2;
		}
		if ((idx = proto_index(name)) < 0) {
			snprintf(err, errlen, "unknown TLS protocol \"%s\"",
			    log_safe(tok));
			free(copy);
			return (-1);
		}
		switch (kind) {
		case 0:
			incl |= 1u << idx;
			named_low = 1;
			break;
		case 1:
			excl |= 1u << idx;
			break;
		case 2:
			lo = idx;
			named_low = 1;
			break;
		case 3:
			hi = idx;
			break;
		}
	}
	free(copy);
	if (!named_low && lo < PROTO_FLOOR_IDX)
		lo = PROTO_FLOOR_IDX;
	for (i = 1; i < PROTO_COUNT; i++)	/* SSLv2: never */
		if (i >= lo && i <= hi && !(excl & (1u << i))
		    && (incl == 0 || (incl & (1u << i))))
			enabled |= 1u << i;
	for (i = 0; i < PROTO_COUNT; i++)
		if (enabled & (1u << i)) {
			if (first < 0)
				first = i;
			last = i;
		}
	if (first < 0) {
		snprintf(err, errlen, "TLS protocol list \"%s\" enables no "
		    "protocol", log_safe(spec ? spec : ""));
		return (-1);
	}
	*min = proto_tab[first].version;
	*max = proto_tab[last].version;
	*ssl_ops = 0;
	for (i = first; i <= last; i++)
		if (!(enabled & (1u << i))) {
			if (proto_tab[i].version == TLS1_VERSION)
				*ssl_ops |= SSL_OP_NO_TLSv1;
			else if (proto_tab[i].version == TLS1_1_VERSION)
				*ssl_ops |= SSL_OP_NO_TLSv1_1;
			else if (proto_tab[i].version == TLS1_2_VERSION)
				*ssl_ops |= SSL_OP_NO_TLSv1_2;
		}
	return (0);
}

/* tls_ssl_options_parse - tls_ssl_options names to SSL_OP_* bits */
long
tls_ssl_options_parse(const char *names, char *warn, size_t warnlen)
{
	char	*copy = xstrdup(names ? names : ""), *cp = copy, *tok;
	long	 ops = 0;
	size_t	 i;

	if (warnlen)
		*warn = 0;
	while ((tok = str_token(&cp, STR_LIST_DELIMS)) != NULL) {
		for (i = 0; i < sizeof(option_tab) / sizeof(option_tab[0]); i++)
			if (strcasecmp(tok, option_tab[i].name) == 0)
				break;
		if (i < sizeof(option_tab) / sizeof(option_tab[0]))
			ops |= option_tab[i].op;
		else if (warnlen)
			snprintf(warn, warnlen, "unknown tls_ssl_options "
			    "name \"%s\" ignored", log_safe(tok));
	}
	free(copy);
	return (ops);
}

/* tls_groups_first - "first:rest" without a second copy of first
 * (OpenSSL 3 rejects a group list that names a group twice) */
static char *
tls_groups_first(const char *first, const char *rest)
{
	char	*copy = xstrdup(rest), *tok, *save = NULL, *out, *next;

	out = xstrdup(first);
	for (tok = strtok_r(copy, ":", &save); tok;
	    tok = strtok_r(NULL, ":", &save)) {
		if (strcasecmp(tok, first) == 0)
			continue;
		next = xasprintf("%s:%s", out, tok);
		free(out);
		out = next;
	}
	free(copy);
	return (out);
}

/* tls_set_ciphers - grade + exclusions; falls back to a safe list */
int
tls_set_ciphers(SSL_CTX *c, const char *grade, const char *exclude,
    char *warn, size_t warnlen)
{
	char	 pname[64], ebuf[200];
	char	*copy, *cp, *tok, *list;
	struct buf *b = buf_new(256);
	int	 ret = 0;

	if (warnlen)
		*warn = 0;
	if (grade == NULL || *grade == 0)
		grade = "medium";
	if (strcasecmp(grade, "export") == 0)
		grade = "low";
	if (strcasecmp(grade, "high") != 0 && strcasecmp(grade, "medium") != 0
	    && strcasecmp(grade, "low") != 0 && strcasecmp(grade, "null") != 0) {
		snprintf(warn, warnlen, "unknown cipher grade \"%s\": using "
		    "medium", log_safe(grade));
		grade = "medium";
		ret = 1;
	}
	snprintf(pname, sizeof(pname), "tls_%s_cipherlist", grade);
	for (tok = pname; *tok; tok++)
		*tok = (char)tolower((unsigned char)*tok);
	list = xstrdup(conf_str(pname));
	buf_puts(b, list);
	copy = xstrdup(exclude ? exclude : "");
	for (cp = copy; (tok = str_token(&cp, STR_LIST_DELIMS ":")) != NULL;)
		buf_printf(b, ":!%s", tok);
	free(copy);
	if (BUF_LEN(b) == 0 || SSL_CTX_set_cipher_list(c, BUF_STR(b)) != 1) {
		ssl_errstr(ebuf, sizeof(ebuf));
		snprintf(warn, warnlen, "%s = %s: OpenSSL rejects this cipher "
		    "list (%s); using \"%s\" instead", pname, log_safe(list),
		    ebuf, TLS_SAFE_CIPHERS);
		if (SSL_CTX_set_cipher_list(c, TLS_SAFE_CIPHERS) != 1)
			log_panic("safe cipher list rejected");
		ret = 1;
	}
	free(list);
	buf_free(b);
	return (ret);
}

/* tls_scache_open - the LMDB file behind "type:path", NULL if none */
static struct tls_scache *
tls_scache_open(const char *spec, long timeout)
{
	struct tls_scache *sc;
	const char *colon = strchr(spec, ':');
	MDB_txn	*txn;
	int	 rc;

	if (*spec == 0)
		return (NULL);
	if (colon == NULL || (strncmp(spec, "btree:", 6) != 0
	    && strncmp(spec, "hash:", 5) != 0 && strncmp(spec, "lmdb:", 5) != 0)) {
		log_warn("TLS session cache \"%s\": only btree:, hash: and "
		    "lmdb: are supported; no session cache", log_safe(spec));
		return (NULL);
	}
	sc = xcalloc(1, sizeof(*sc));
	sc->timeout = timeout > 0 ? timeout : 3600;
	sc->path = xasprintf("%s.lmdb", colon + 1);
	if ((rc = mdb_env_create(&sc->env)) != 0
	    || (rc = mdb_env_set_mapsize(sc->env, TLS_SCACHE_MAPSIZE)) != 0
	    || (rc = mdb_env_open(sc->env, sc->path, MDB_NOSUBDIR | MDB_NOTLS
	    | MDB_NOSYNC, 0600)) != 0
	    || (rc = mdb_txn_begin(sc->env, NULL, 0, &txn)) != 0) {
		log_warn("TLS session cache %s: %s; no session cache",
		    sc->path, mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_dbi_open(txn, NULL, 0, &sc->dbi)) != 0
	    || (rc = mdb_txn_commit(txn)) != 0) {
		log_warn("TLS session cache %s: %s; no session cache",
		    sc->path, mdb_strerror(rc));
		goto fail;
	}
	tls_scache_purge(sc);
	return (sc);
fail:
	if (sc->env)
		mdb_env_close(sc->env);
	free(sc->path);
	free(sc);
	return (NULL);
}

/* tls_scache_purge - drop expired entries (at open; bounded map size) */
static void
tls_scache_purge(struct tls_scache *sc)
{
	MDB_txn	*txn;
	MDB_cursor *cur;
	MDB_val	 k, v;
	int64_t	 expiry, now = (int64_t)time(NULL);
	int	 rc;

	if (mdb_txn_begin(sc->env, NULL, 0, &txn) != 0)
		return;
	if (mdb_cursor_open(txn, sc->dbi, &cur) != 0) {
		mdb_txn_abort(txn);
		return;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (v.mv_size >= 8)
			memcpy(&expiry, v.mv_data, 8);
		if (v.mv_size < 8 || expiry <= now)
			(void)mdb_cursor_del(cur, 0);
	}
	mdb_cursor_close(cur);
	(void)mdb_txn_commit(txn);
}

/* tls_scache_close - close the cache */
static void
tls_scache_close(struct tls_scache *sc)
{
	if (sc == NULL)
		return;
	mdb_env_close(sc->env);
	free(sc->path);
	free(sc);
}

/* tls_scache_put - store a session under key */
static void
tls_scache_put(struct tls_scache *sc, const void *key, size_t klen,
    SSL_SESSION *sess)
{
	MDB_txn	*txn;
	MDB_val	 k, v;
	unsigned char *der, *p;
	int	 len = i2d_SSL_SESSION(sess, NULL);
	int64_t	 expiry = (int64_t)time(NULL) + sc->timeout;

	if (len <= 0 || klen == 0 || klen > 511)
		return;
	der = xmalloc((size_t)len + 8);
	memcpy(der, &expiry, 8);
	p = der + 8;
	i2d_SSL_SESSION(sess, &p);
	k.mv_data = (void *)key;
	k.mv_size = klen;
	v.mv_data = der;
	v.mv_size = (size_t)len + 8;
	if (mdb_txn_begin(sc->env, NULL, 0, &txn) == 0) {
		if (mdb_put(txn, sc->dbi, &k, &v, 0) == 0)
			(void)mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	free(der);
}

/* tls_scache_get - a live session for key, or NULL */
static SSL_SESSION *
tls_scache_get(struct tls_scache *sc, const void *key, size_t klen)
{
	MDB_txn	*txn;
	MDB_val	 k, v;
	SSL_SESSION *sess = NULL;
	const unsigned char *p;
	int64_t	 expiry;

	if (klen == 0 || klen > 511
	    || mdb_txn_begin(sc->env, NULL, MDB_RDONLY, &txn) != 0)
		return (NULL);
	k.mv_data = (void *)key;
	k.mv_size = klen;
	if (mdb_get(txn, sc->dbi, &k, &v) == 0 && v.mv_size > 8) {
		memcpy(&expiry, v.mv_data, 8);
		p = (const unsigned char *)v.mv_data + 8;
		if (expiry > (int64_t)time(NULL))
			sess = d2i_SSL_SESSION(NULL, &p, (long)v.mv_size - 8);
	}
	mdb_txn_abort(txn);
	return (sess);
}

/* tls_scache_del - forget key */
static void
tls_scache_del(struct tls_scache *sc, const void *key, size_t klen)
{
	MDB_txn	*txn;
	MDB_val	 k;

	if (klen == 0 || klen > 511
	    || mdb_txn_begin(sc->env, NULL, 0, &txn) != 0)
		return;
	k.mv_data = (void *)key;
	k.mv_size = klen;
	if (mdb_del(txn, sc->dbi, &k, NULL) == 0)
		(void)mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
}

/* srv_new_cb - server: a new session goes to the cache */
static int
srv_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_ctx *tc = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	unsigned int len;
	const unsigned char *id = SSL_SESSION_get_id(sess, &len);

	/*
	 * TLS 1.3 with tickets: the ticket is the session (stateless) and
	 * its id a dummy; OpenSSL still reports each ticket it sends (two
	 * per handshake), but a resumption never asks srv_get_cb() for
	 * it: storing it was two cache writes per connection for nothing.
	 */
	if (SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION
	    && (SSL_get_options(ssl) & SSL_OP_NO_TICKET) == 0)
		return (0);
	if (tc && tc->scache)
		tls_scache_put(tc->scache, id, len, sess);
	return (0);
}

/* srv_get_cb - server: a session by id from the cache */
static SSL_SESSION *
srv_get_cb(SSL *ssl, const unsigned char *id, int len, int *copy)
{
	struct tls_ctx *tc = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	*copy = 0;
	if (tc == NULL || tc->scache == NULL || len <= 0)
		return (NULL);
	return (tls_scache_get(tc->scache, id, (size_t)len));
}

/* srv_remove_cb - server: OpenSSL dropped a session */
static void
srv_remove_cb(SSL_CTX *c, SSL_SESSION *sess)
{
	struct tls_ctx *tc = SSL_CTX_get_app_data(c);
	unsigned int len;
	const unsigned char *id = SSL_SESSION_get_id(sess, &len);

	if (tc && tc->scache)
		tls_scache_del(tc->scache, id, len);
}

/* cli_new_cb - client: remember the session under the SSL's key */
static int
cli_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_ctx *tc = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	const char *key = SSL_get_ex_data(ssl, ssl_key_idx);

	if (tc && tc->scache && key)
		tls_scache_put(tc->scache, key, strlen(key), sess);
	return (0);
}

/* param - "<prefix>_<name>" expanded (copy: conf pointers are short-lived) */
static char *
param(const char *prefix, const char *name)
{
	char	 full[128];

	snprintf(full, sizeof(full), "%s_%s", prefix, name);
	return (xstrdup(conf_str(full)));
}

/* param_bool - a yes/no parameter, "no" when unknown or malformed */
static int
param_bool(const char *prefix, const char *name)
{
	char	*v = param(prefix, name);
	int	 b = 0;

	if (str_parse_bool(v, &b) < 0)
		b = 0;
	free(v);
	return (b);
}

/* level_from_conf - <prefix>_tls_security_level, legacy fallbacks */
static int
level_from_conf(const char *prefix, int server)
{
	char	*v = param(prefix, "tls_security_level");
	int	 lev;

	if (*v == 0)
		lev = param_bool(prefix, "enforce_tls") ? TLS_LEV_ENCRYPT
		    : param_bool(prefix, "use_tls") ? TLS_LEV_MAY : TLS_LEV_NONE;
	else if ((lev = tls_level_parse(v)) < 0) {
		/* the daemons refuse it first (tls_level_check) */
		log_warn("%s_tls_security_level = %s is unknown: using "
		    "\"%s\"", prefix, log_safe(v), server ? "none" : "may");
		lev = server ? TLS_LEV_NONE : TLS_LEV_MAY;
	} else if (server && lev > TLS_LEV_ENCRYPT)
		lev = TLS_LEV_ENCRYPT;
	free(v);
	return (lev);
}

/* ctx_common - protocols, ciphers, options, groups, cache */
static int
ctx_common(struct tls_ctx *tc, const char *prefix, char *err, size_t errlen)
{
	int	 mand = tc->level >= TLS_LEV_ENCRYPT, min, max;
	long	 ops, timeout = 3600;
	char	*protos = param(prefix, mand ? "tls_mandatory_protocols"
	    : "tls_protocols");
	char	*grade = param(prefix, mand ? "tls_mandatory_ciphers"
	    : "tls_ciphers");
	char	*excl = param(prefix, mand ? "tls_mandatory_exclude_ciphers"
	    : "tls_exclude_ciphers");
	char	*eecdh, *cache, *loglevel, *to, warn[512], full[128];
	const char *groups = "X25519:prime256v1:secp384r1:X448:secp521r1";
	char	*gbuf = NULL;

	if (tls_protocols_parse(protos, &min, &max, &ops, err, errlen) < 0) {
		free(protos);
		free(grade);
		free(excl);
		return (-1);
	}
	free(protos);
	SSL_CTX_set_min_proto_version(tc->ssl_ctx, min);
	SSL_CTX_set_max_proto_version(tc->ssl_ctx, max);
	SSL_CTX_set_options(tc->ssl_ctx, (uint64_t)ops);
	if (tls_set_ciphers(tc->ssl_ctx, grade, excl, warn, sizeof(warn)))
		log_warn("%s", warn);
	free(grade);
	free(excl);
	ops = tls_ssl_options_parse(conf_str("tls_ssl_options"), warn,
	    sizeof(warn));
	if (*warn)
		log_warn("%s", warn);
	SSL_CTX_set_options(tc->ssl_ctx, (uint64_t)ops);
	if (tc->server && conf_bool("tls_preempt_cipherlist"))
		SSL_CTX_set_options(tc->ssl_ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (tc->server) {
		eecdh = param(prefix, "tls_eecdh_grade");
		if (strcasecmp(eecdh, "strong") == 0)
			groups = gbuf = tls_groups_first(
			    conf_str("tls_eecdh_strong_curve"), groups);
		else if (strcasecmp(eecdh, "ultra") == 0)
			groups = gbuf = tls_groups_first(
			    conf_str("tls_eecdh_ultra_curve"), groups);
		else if (*eecdh && strcasecmp(eecdh, "auto") != 0
		    && strcasecmp(eecdh, "none") != 0)
			log_warn("%s_tls_eecdh_grade = %s is unknown: using "
			    "auto", prefix, log_safe(eecdh));
		free(eecdh);
	}
	if (SSL_CTX_set1_groups_list(tc->ssl_ctx, groups) != 1) {
		ssl_errstr(warn, sizeof(warn));
		log_warn("TLS groups \"%s\": %s; using OpenSSL's defaults",
		    log_safe(groups), warn);
	}
	free(gbuf);
	loglevel = param(prefix, "tls_loglevel");
	tc->loglevel = atoi(loglevel);
	free(loglevel);
	to = param(prefix, "tls_session_cache_timeout");
	if (str_parse_time(to, 's', &timeout) < 0 || timeout <= 0)
		timeout = 3600;
	free(to);
	cache = param(prefix, "tls_session_cache_database");
	tc->scache = tls_scache_open(cache, timeout);
	free(cache);
	SSL_CTX_set_timeout(tc->ssl_ctx, timeout);
	snprintf(full, sizeof(full), "postern-%s", prefix);
	SSL_CTX_set_session_id_context(tc->ssl_ctx, (unsigned char *)full,
	    (unsigned)strlen(full));
	return (0);
}

/* load_key_cert - one key and certificate (chain) pair */
static int
load_key_cert(SSL_CTX *c, const char *cert, const char *key, char *err,
    size_t errlen)
{
	char	 ebuf[200];

	if (access(cert, R_OK) < 0) {
		snprintf(err, errlen, "cannot read TLS certificate file %s: %s",
		    cert, strerror(errno));
		return (-1);
	}
	if (access(key, R_OK) < 0) {
		snprintf(err, errlen, "cannot read TLS key file %s: %s",
		    key, strerror(errno));
		return (-1);
	}
	if (SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
		snprintf(err, errlen, "cannot load TLS certificate from %s: %s",
		    cert, ssl_errstr(ebuf, sizeof(ebuf)));
		return (-1);
	}
	if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "cannot load TLS key from %s: %s",
		    key, ssl_errstr(ebuf, sizeof(ebuf)));
		return (-1);
	}
	if (SSL_CTX_check_private_key(c) != 1) {
		snprintf(err, errlen, "TLS key %s does not match certificate "
		    "%s: %s", key, cert, ssl_errstr(ebuf, sizeof(ebuf)));
		return (-1);
	}
	return (0);
}

/* load_identity - cert/key or chain_files; need: 1 = must have one */
static int
load_identity(struct tls_ctx *tc, const char *prefix, int need, char *err,
    size_t errlen)
{
	char	*cert = param(prefix, "tls_cert_file");
	char	*key = param(prefix, "tls_key_file");
	char	*chain = param(prefix, "tls_chain_files");
	char	*cp = chain, *tok;
	int	 ret = 0, any = 0;

	while (ret == 0 && (tok = str_token(&cp, STR_LIST_DELIMS)) != NULL) {
		any = 1;
		ret = load_key_cert(tc->ssl_ctx, tok, tok, err, errlen);
	}
	if (ret == 0 && !any && *cert) {
		any = 1;
		ret = load_key_cert(tc->ssl_ctx, cert, *key ? key : cert, err,
		    errlen);
	}
	if (ret == 0 && !any && need) {
		snprintf(err, errlen, "no TLS certificate configured "
		    "(%s_tls_cert_file or %s_tls_chain_files)", prefix, prefix);
		ret = -1;
	}
	free(cert);
	free(key);
	free(chain);
	return (ret);
}

/* ctx_new - common allocation */
static struct tls_ctx *
ctx_new(int server, char *err, size_t errlen)
{
	struct tls_ctx *tc = xcalloc(1, sizeof(*tc));
	char	 ebuf[200];

	pthread_once(&idx_once, idx_init);
	tc->server = server;
	tc->ssl_ctx = SSL_CTX_new(server ? TLS_server_method()
	    : TLS_client_method());
	if (tc->ssl_ctx == NULL) {
		snprintf(err, errlen, "SSL_CTX_new: %s",
		    ssl_errstr(ebuf, sizeof(ebuf)));
		free(tc);
		return (NULL);
	}
	SSL_CTX_set_app_data(tc->ssl_ctx, tc);
	return (tc);
}

/* ccert_verify_cb - a client certificate never fails the handshake:
 * the restrictions decide (SSL_get_verify_result() says if it is
 * trusted), as Postfix's smtpd does */
static int
ccert_verify_cb(int ok, X509_STORE_CTX *store)
{
	(void)ok;
	(void)store;
	return (1);
}

/*
 * ask_ccert - <prefix>_tls_ask_ccert (or _req_ccert): request a client
 * certificate, offering the CA names of <prefix>_tls_CAfile. The
 * session id context lets OpenSSL resume sessions with a peer
 * certificate.
 */
static void
ask_ccert(struct tls_ctx *tc, const char *prefix)
{
	char	*cafile, *capath, ebuf[200];
	STACK_OF(X509_NAME) *names;
	int	 req = param_bool(prefix, "tls_req_ccert");

	if (!req && !param_bool(prefix, "tls_ask_ccert"))
		return;
	cafile = param(prefix, "tls_CAfile");
	capath = param(prefix, "tls_CApath");
	if ((*cafile || *capath) && SSL_CTX_load_verify_locations(tc->ssl_ctx,
	    *cafile ? cafile : NULL, *capath ? capath : NULL) != 1)
		log_warn("%s_tls_CAfile/CApath (%s %s): %s: client "
		    "certificates will not verify", prefix, cafile, capath,
		    ssl_errstr(ebuf, sizeof(ebuf)));
	if (*cafile && (names = SSL_load_client_CA_file(cafile)) != NULL)
		SSL_CTX_set_client_CA_list(tc->ssl_ctx, names);
	ERR_clear_error();
	free(cafile);
	free(capath);
	SSL_CTX_set_session_id_context(tc->ssl_ctx,
	    (const unsigned char *)prefix, (unsigned int)strlen(prefix));
	SSL_CTX_set_verify(tc->ssl_ctx, SSL_VERIFY_PEER | (req
	    ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), ccert_verify_cb);
}

/* tls_server_ctx_new - a server context from <prefix>_tls_* */
struct tls_ctx *
tls_server_ctx_new(const char *prefix, char *err, size_t errlen)
{
	struct tls_ctx *tc;

	if ((tc = ctx_new(1, err, errlen)) == NULL)
		return (NULL);
	tc->level = level_from_conf(prefix, 1);
	if (load_identity(tc, prefix, 1, err, errlen) < 0
	    || ctx_common(tc, prefix, err, errlen) < 0) {
		tls_ctx_free(tc);
		return (NULL);
	}
	ask_ccert(tc, prefix);
	if (tc->scache) {
		SSL_CTX_set_session_cache_mode(tc->ssl_ctx,
		    SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
		SSL_CTX_sess_set_new_cb(tc->ssl_ctx, srv_new_cb);
		SSL_CTX_sess_set_get_cb(tc->ssl_ctx, srv_get_cb);
		SSL_CTX_sess_set_remove_cb(tc->ssl_ctx, srv_remove_cb);
	} else
		SSL_CTX_set_session_cache_mode(tc->ssl_ctx,
		    SSL_SESS_CACHE_SERVER);
	/*
	 * One TLSv1.3 ticket per full handshake, as Postfix: OpenSSL's
	 * default of two costs a second session encoding, encryption and
	 * record per connection, and an SMTP client keeps one session per
	 * destination anyway.
	 */
	SSL_CTX_set_num_tickets(tc->ssl_ctx, 1);
	return (tc);
}

/* tls_client_ctx_new - a client context from <prefix>_tls_* */
struct tls_ctx *
tls_client_ctx_new(const char *prefix, char *err, size_t errlen)
{
	struct tls_ctx *tc;
	char	*cafile, *capath, ebuf[200];

	if ((tc = ctx_new(0, err, errlen)) == NULL)
		return (NULL);
	tc->level = level_from_conf(prefix, 0);
	if (load_identity(tc, prefix, 0, err, errlen) < 0
	    || ctx_common(tc, prefix, err, errlen) < 0) {
		tls_ctx_free(tc);
		return (NULL);
	}
	cafile = param(prefix, "tls_CAfile");
	capath = param(prefix, "tls_CApath");
	if (*cafile || *capath) {
		if (SSL_CTX_load_verify_locations(tc->ssl_ctx,
		    *cafile ? cafile : NULL, *capath ? capath : NULL) != 1)
			log_warn("%s_tls_CAfile/CApath (%s %s): %s: peer "
			    "certificates will not verify", prefix, cafile,
			    capath, ssl_errstr(ebuf, sizeof(ebuf)));
	} else
		SSL_CTX_set_default_verify_paths(tc->ssl_ctx);
	free(cafile);
	free(capath);
	SSL_CTX_set_verify(tc->ssl_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(tc->ssl_ctx, tc->scache
	    ? SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE
	    : SSL_SESS_CACHE_OFF);
	if (tc->scache)
		SSL_CTX_sess_set_new_cb(tc->ssl_ctx, cli_new_cb);
	return (tc);
}

/* tls_ctx_free - free a context */
void
tls_ctx_free(struct tls_ctx *tc)
{
	if (tc == NULL)
		return;
	SSL_CTX_free(tc->ssl_ctx);
	tls_scache_close(tc->scache);
	free(tc);
}

/* tls_ctx_ssl - the OpenSSL context */
SSL_CTX *
tls_ctx_ssl(const struct tls_ctx *tc)
{
	return (tc->ssl_ctx);
}

/* tls_ctx_level - TLS_LEV_* from the configuration */
int
tls_ctx_level(const struct tls_ctx *tc)
{
	return (tc->level);
}

/* tls_ctx_loglevel - <prefix>_tls_loglevel */
int
tls_ctx_loglevel(const struct tls_ctx *tc)
{
	return (tc->loglevel);
}

/* tls_ssl_new - a connection object; client: SNI and cached session */
SSL *
tls_ssl_new(struct tls_ctx *tc, int fd, const char *peer,
    const char *cache_key)
{
	SSL	*ssl = SSL_new(tc->ssl_ctx);
	SSL_SESSION *sess;
	struct in6_addr a6;

	if (ssl == NULL)
		log_fatal("SSL_new: out of memory");
	if (fd >= 0)
		SSL_set_fd(ssl, fd);
	if (tc->server) {
		SSL_set_accept_state(ssl);
		return (ssl);
	}
	SSL_set_connect_state(ssl);
	if (peer && *peer && inet_pton(AF_INET, peer, &a6) != 1
	    && inet_pton(AF_INET6, peer, &a6) != 1)
		SSL_set_tlsext_host_name(ssl, peer);
	if (cache_key && tc->scache) {
		SSL_set_ex_data(ssl, ssl_key_idx, xstrdup(cache_key));
		if ((sess = tls_scache_get(tc->scache, cache_key,
		    strlen(cache_key))) != NULL) {
			SSL_set_session(ssl, sess);
			SSL_SESSION_free(sess);
		}
	}
	return (ssl);
}

/* tls_wait - poll for what OpenSSL wants, until deadline */
static int
tls_wait(SSL *ssl, int rc, time_t deadline)
{
	struct pollfd pfd;
	int	 e = SSL_get_error(ssl, rc), ms;

	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
		return (-1);
	pfd.fd = SSL_get_fd(ssl);
	pfd.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
	for (;;) {
		ms = (int)(deadline - time(NULL)) * 1000;
		if (ms <= 0) {
			errno = ETIMEDOUT;
			return (-2);
		}
		rc = poll(&pfd, 1, ms);
		if (rc > 0)
			return (0);
		if (rc == 0) {
			errno = ETIMEDOUT;
			return (-2);
		}
		if (errno != EINTR)
			return (-1);
	}
}

/* tls_handshake - blocking handshake with a timeout */
int
tls_handshake(SSL *ssl, int timeout, char *err, size_t errlen)
{
	time_t	 deadline = time(NULL) + (timeout > 0 ? timeout : 300);
	char	 ebuf[200];
	int	 rc, w;

	for (;;) {
		ERR_clear_error();
		if ((rc = SSL_do_handshake(ssl)) == 1)
			return (0);
		if ((w = tls_wait(ssl, rc, deadline)) == 0)
			continue;
		if (w == -2)
			snprintf(err, errlen, "TLS handshake timeout");
		else if (ERR_peek_last_error())
			snprintf(err, errlen, "TLS handshake failed: %s",
			    ssl_errstr(ebuf, sizeof(ebuf)));
		else
			snprintf(err, errlen, "TLS handshake failed: %s",
			    rc == 0 ? "lost connection" : strerror(errno));
		return (-1);
	}
}

/* tls_read - blocking read: bytes, 0 at EOF, -1 on error/timeout */
ssize_t
tls_read(SSL *ssl, void *buf, size_t len, int timeout)
{
	time_t	 deadline = time(NULL) + (timeout > 0 ? timeout : 300);
	size_t	 got;
	int	 rc, e;

	for (;;) {
		ERR_clear_error();
		if ((rc = SSL_read_ex(ssl, buf, len, &got)) == 1)
			return ((ssize_t)got);
		e = SSL_get_error(ssl, rc);
		if (e == SSL_ERROR_ZERO_RETURN)
			return (0);
		if (tls_wait(ssl, rc, deadline) < 0) {
			ERR_clear_error();
			return (-1);
		}
	}
}

/* tls_write - blocking write of everything */
int
tls_write(SSL *ssl, const void *buf, size_t len, int timeout)
{
	time_t	 deadline = time(NULL) + (timeout > 0 ? timeout : 300);
	size_t	 done = 0, n;
	int	 rc;

	while (done < len) {
		ERR_clear_error();
		if ((rc = SSL_write_ex(ssl, (const char *)buf + done,
		    len - done, &n)) == 1) {
			done += n;
			continue;
		}
		if (tls_wait(ssl, rc, deadline) < 0) {
			ERR_clear_error();
			return (-1);
		}
	}
	return (0);
}

/* tls_ssl_free - shut down (no waiting) and free */
void
tls_ssl_free(SSL *ssl)
{
	if (ssl == NULL)
		return;
	if (SSL_is_init_finished(ssl))
		(void)SSL_shutdown(ssl);
	ERR_clear_error();
	SSL_free(ssl);
}

/* tls_log_info - "TLSv1.3 with cipher X (256/256 bits)" */
char *
tls_log_info(SSL *ssl, char *out, size_t len)
{
	int	 alg = 0, bits = SSL_get_cipher_bits(ssl, &alg);

	snprintf(out, len, "%s with cipher %s (%d/%d bits)",
	    SSL_get_version(ssl), SSL_get_cipher_name(ssl), bits, alg);
	return (out);
}

/* fprint - Postfix's fingerprint form: "AB:CD:..." of der under md */
static void
fprint(const unsigned char *der, int len, const EVP_MD *md, char *out,
    size_t outlen)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0, i;
	size_t	 at = 0;

	out[0] = 0;
	if (len <= 0 || !EVP_Digest(der, (size_t)len, d, &dlen, md, NULL))
		return;
	for (i = 0; i < dlen && at + 4 <= outlen; i++)
		at += (size_t)snprintf(out + at, outlen - at, "%s%02X",
		    i ? ":" : "", d[i]);
}

/*
 * tls_peer_ccert - the peer certificate's fingerprint and public-key
 * fingerprint under digest (md5, sha1, sha256...; Postfix's
 * smtpd_tls_fingerprint_digest) and its CommonName: -1 no certificate,
 * 0 present but not trusted, 1 trusted (verified against the CAs).
 */
int
tls_peer_ccert(SSL *ssl, const char *digest, char *cfp, size_t cfplen,
    char *kfp, size_t kfplen, char *cn, size_t cnlen)
{
	X509	*cert = SSL_get0_peer_certificate(ssl);
	const EVP_MD *md = EVP_get_digestbyname(digest && *digest ? digest
	    : "sha256");
	unsigned char *der = NULL;
	int	 len;

	cfp[0] = kfp[0] = cn[0] = 0;
	if (cert == NULL)
		return (-1);
	if (md == NULL) {
		log_warn("unknown smtpd_tls_fingerprint_digest \"%s\": using "
		    "sha256", log_safe(digest));
		md = EVP_sha256();
	}
	len = i2d_X509(cert, &der);
	fprint(der, len, md, cfp, cfplen);
	OPENSSL_free(der);
	der = NULL;
	len = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
	fprint(der, len, md, kfp, kfplen);
	OPENSSL_free(der);
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
	    NID_commonName, cn, (int)cnlen) < 0)
		cn[0] = 0;
	ERR_clear_error();
	return (SSL_get_verify_result(ssl) == X509_V_OK);
}

/* tls_verify_peer - trusted chain and a matching name */
int
tls_verify_peer(SSL *ssl, const char *const *names, char *err, size_t errlen)
{
	X509	*cert = SSL_get1_peer_certificate(ssl);
	long	 res;
	int	 i;

	if (cert == NULL) {
		snprintf(err, errlen, "no peer certificate");
		return (0);
	}
	if ((res = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(err, errlen, "untrusted peer certificate: %s",
		    X509_verify_cert_error_string(res));
		X509_free(cert);
		return (0);
	}
	for (i = 0; names && names[i]; i++)
		if (*names[i] && X509_check_host(cert, names[i], 0, 0,
		    NULL) == 1) {
			X509_free(cert);
			return (1);
		}
	snprintf(err, errlen, "server certificate name does not match %s",
	    names && names[0] ? log_safe(names[0]) : "(nothing)");
	X509_free(cert);
	return (0);
}
