/*
 * NAME
 *	tls_test - unit tests for tls(3)
 * SYNOPSIS
 *	tls_test
 * DESCRIPTION
 *	Protocol spec parsing (table, hostile specs), security levels,
 *	ssl option names, cipher grades and the fallback for a list
 *	OpenSSL rejects, context creation with a self-signed certificate
 *	made at test time (openssl req), missing key/cert errors, a
 *	handshake over a socketpair, tls_log_info(), tls_verify_peer()
 *	against a CA file, and session resumption: through the server's
 *	LMDB cache (TLSv1.2, no tickets) and through the client's LMDB
 *	cache (TLSv1.3 tickets); one TLSv1.3 ticket per full handshake.
 * DIAGNOSTICS
 *	TAP on stdout.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "conf.h"
#include "log.h"
#include "tap.h"
#include "tls.h"
#include "xalloc.h"

static char tmpdir[] = "/tmp/tls_test.XXXXXX";
static char certfile[256];
static char keyfile[256];

static const struct proto_case {
	const char *spec;
	int	 ok;
	int	 min;
	int	 max;
} proto_cases[] = {
	{"!SSLv2, !SSLv3", 1, TLS1_2_VERSION, TLS1_3_VERSION},
	{">=TLSv1.2", 1, TLS1_2_VERSION, TLS1_3_VERSION},
	{"<=TLSv1.3", 1, TLS1_2_VERSION, TLS1_3_VERSION},
	{">=TLSv1", 1, TLS1_VERSION, TLS1_3_VERSION},
	{"TLSv1.2 TLSv1.3", 1, TLS1_2_VERSION, TLS1_3_VERSION},
	{"TLSv1.3", 1, TLS1_3_VERSION, TLS1_3_VERSION},
	{"<=TLSv1.2", 1, TLS1_2_VERSION, TLS1_2_VERSION},
	{"!TLSv1.3", 1, TLS1_2_VERSION, TLS1_2_VERSION},
	{"", 1, TLS1_2_VERSION, TLS1_3_VERSION},
	{"!SSLv2:!SSLv3:!TLSv1:!TLSv1.1", 1, TLS1_2_VERSION, TLS1_3_VERSION},
	{"TLSv9", 0, 0, 0},
	{">=", 0, 0, 0},
	{"!", 0, 0, 0},
	{"!TLSv1.2, !TLSv1.3", 0, 0, 0},
	{">=TLSv1.3, <=TLSv1.2", 0, 0, 0},
	{"SSLv2", 0, 0, 0},
	{"TLSv1.2\377", 0, 0, 0},
};

/* test_protocols - the protocol table */
static void
test_protocols(void)
{
	size_t	 i;
	int	 min, max, rc;
	long	 ops;
	char	 err[256];

	for (i = 0; i < sizeof(proto_cases) / sizeof(proto_cases[0]); i++) {
		const struct proto_case *c = &proto_cases[i];

		min = max = -1;
		err[0] = 0;
		rc = tls_protocols_parse(c->spec, &min, &max, &ops, err,
		    sizeof(err));
		tap_ok((rc == 0) == c->ok, "protocols \"%s\": %s",
		    log_safe(c->spec), c->ok ? "accepted" : "rejected");
		if (c->ok && rc == 0) {
			tap_is_int(min, c->min, "  min version");
			tap_is_int(max, c->max, "  max version");
		}
		if (!c->ok)
			tap_ok(err[0] != 0, "  with a reason (%s)", err);
	}
	rc = tls_protocols_parse("TLSv1, TLSv1.2", &min, &max, &ops, err,
	    sizeof(err));
	tap_ok(rc == 0 && min == TLS1_VERSION && max == TLS1_2_VERSION
	    && (ops & SSL_OP_NO_TLSv1_1), "hole TLSv1.1 excluded by option");
}

/* test_levels - security level names */
static void
test_levels(void)
{
	tap_is_int(tls_level_parse("none"), TLS_LEV_NONE, "level none");
	tap_is_int(tls_level_parse("MAY"), TLS_LEV_MAY, "level MAY");
	tap_is_int(tls_level_parse("encrypt"), TLS_LEV_ENCRYPT, "level encrypt");
	tap_is_int(tls_level_parse("verify"), TLS_LEV_VERIFY, "level verify");
	tap_is_int(tls_level_parse("secure"), TLS_LEV_SECURE, "level secure");
	tap_is_int(tls_level_parse("dane"), TLS_LEV_DANE, "level dane");
	tap_is_int(tls_level_parse("Dane-Only"), TLS_LEV_DANE_ONLY,
	    "level dane-only");
	tap_is_int(tls_level_parse("fingerprint"), TLS_LEV_FPRINT,
	    "level fingerprint");
	tap_is_int(tls_level_parse(""), -1, "level empty: unknown");
	tap_is_int(tls_level_parse("encrypt "), -1, "level trailing space");
	tap_is_int(tls_level_parse("encrpyt"), -1, "level misspelt");
	tap_is_str(tls_level_name(TLS_LEV_ENCRYPT), "encrypt", "level name");
	tap_is_str(tls_level_name(TLS_LEV_DANE_ONLY), "dane-only",
	    "level name dane-only");
	tap_is_str(tls_level_name(99), "unknown", "level name out of range");
}

/* test_level_check - what daemons and postern check accept */
static void
test_level_check(void)
{
	static const struct {
		const char *param, *value;
		int	 want;
		const char *err;
	} v[] = {
		{"smtpd_tls_security_level", "encrpyt", -1,
		    "Invalid TLS level \"encrpyt\""},
		{"smtp_tls_security_level", "encrpyt", -1,
		    "Invalid TLS level \"encrpyt\""},
		{"smtp_tls_security_level", "", -2, ""},
		{"smtpd_tls_security_level", "encrypt", TLS_LEV_ENCRYPT, ""},
		{"smtpd_tls_security_level", "dane", -1,
		    "Invalid TLS level \"dane\""},
		{"smtpd_tls_security_level", "verify", TLS_LEV_VERIFY, ""},
		{"smtp_tls_security_level", "dane-only", TLS_LEV_DANE_ONLY, ""},
		{"lmtp_tls_security_level", "secure", TLS_LEV_SECURE, ""},
		{"smtp_tls_security_level", "may\001", -1,
		    "Invalid TLS level \"may?\""},
	};
	char	 err[200];
	size_t	 i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		err[0] = 0;
		tap_is_int(tls_level_check(v[i].param, v[i].value, err,
		    sizeof(err)), v[i].want, v[i].value);
		if (*v[i].err)
			tap_is_str(err, v[i].err, "its message");
	}
}

/* test_policy - smtp_tls_policy_maps values */
static void
test_policy(void)
{
	static const struct {
		const char *in;
		int	 level;
		const char *match, *protocols;
	} v[] = {
		{"secure", TLS_LEV_SECURE, NULL, NULL},
		{"verify match=hostname:nexthop", TLS_LEV_VERIFY,
		    "hostname:nexthop", NULL},
		{"secure match=.example.com match=mx.example.net",
		    TLS_LEV_SECURE, ".example.com:mx.example.net", NULL},
		{"fingerprint match=AB:CD match=EF:01", TLS_LEV_FPRINT,
		    "AB:CD|EF:01", NULL},
		{"encrypt protocols=!SSLv2:!SSLv3 ciphers=high",
		    TLS_LEV_ENCRYPT, NULL, "!SSLv2:!SSLv3"},
		{"DANE", TLS_LEV_DANE, NULL, NULL},
		{"none", TLS_LEV_NONE, NULL, NULL},
		{"encrpyt", -1, NULL, NULL},
		{"", -1, NULL, NULL},
		{"fingerprint", -1, NULL, NULL},
		{"may match=x", -1, NULL, NULL},
		{"secure mtach=x", -1, NULL, NULL},
		{"secure match", -1, NULL, NULL},
	};
	struct tls_policy p;
	char	 err[200];
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		rc = tls_policy_parse(v[i].in, &p, err, sizeof(err));
		tap_ok(p.level == v[i].level && (rc == 0) == (v[i].level >= 0)
		    && ((p.match == NULL && v[i].match == NULL) || (p.match
		    && v[i].match && strcmp(p.match, v[i].match) == 0))
		    && ((p.protocols == NULL && v[i].protocols == NULL)
		    || (p.protocols && v[i].protocols
		    && strcmp(p.protocols, v[i].protocols) == 0)),
		    v[i].in);
		tls_policy_free(&p);
	}
}

/* test_options - tls_ssl_options */
static void
test_options(void)
{
	char	 warn[256];
	long	 ops;

	ops = tls_ssl_options_parse("NO_COMPRESSION", warn, sizeof(warn));
	tap_ok(ops == (long)SSL_OP_NO_COMPRESSION && warn[0] == 0,
	    "NO_COMPRESSION");
	ops = tls_ssl_options_parse("no_ticket, NO_RENEGOTIATION", warn,
	    sizeof(warn));
	tap_ok(ops == (long)(SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION),
	    "two names, case-insensitive");
	ops = tls_ssl_options_parse("NO_SUCH_THING", warn, sizeof(warn));
	tap_ok(ops == 0 && strstr(warn, "NO_SUCH_THING") != NULL,
	    "unknown name warned (%s)", warn);
	ops = tls_ssl_options_parse("", warn, sizeof(warn));
	tap_ok(ops == 0 && warn[0] == 0, "empty");
}

/* test_ciphers - grades and the fallback */
static void
test_ciphers(void)
{
	SSL_CTX	*c = SSL_CTX_new(TLS_server_method());
	char	 warn[512];
	int	 rc;

	conf_set("tls_high_cipherlist", "aNULL:-aNULL:HIGH:@STRENGTH");
	rc = tls_set_ciphers(c, "high", "", warn, sizeof(warn));
	tap_ok(rc == 0 && warn[0] == 0, "grade high accepted");
	rc = tls_set_ciphers(c, "medium", "aNULL, MD5", warn, sizeof(warn));
	tap_ok(rc == 0, "grade medium with exclusions");
	conf_set("tls_high_cipherlist", "NOSUCHCIPHER:ALSONOT");
	rc = tls_set_ciphers(c, "high", "", warn, sizeof(warn));
	tap_ok(rc == 1 && strstr(warn, "instead") != NULL,
	    "unknown list falls back (%s)", warn);
	tap_ok(SSL_CTX_get_ciphers(c) != NULL
	    && sk_SSL_CIPHER_num(SSL_CTX_get_ciphers(c)) > 0,
	    "fallback list has ciphers");
	conf_set("tls_high_cipherlist",
	    "kEDH+aRSA+AES128:kEECDH+aRSA+AES128:+SSLv3");
	rc = tls_set_ciphers(c, "high", "", warn, sizeof(warn));
	tap_ok(sk_SSL_CIPHER_num(SSL_CTX_get_ciphers(c)) > 0,
	    "the seed's 2014 list leaves a usable context (%s)",
	    rc ? "fell back" : "accepted");
	rc = tls_set_ciphers(c, "bogus", "", warn, sizeof(warn));
	tap_ok(rc == 1 && strstr(warn, "bogus") != NULL, "unknown grade");
	rc = tls_set_ciphers(c, "high", "ALL", warn, sizeof(warn));
	tap_ok(rc == 1, "excluding everything falls back");
	conf_set("tls_high_cipherlist", "aNULL:-aNULL:HIGH:@STRENGTH");
	SSL_CTX_free(c);
}

/* make_cert - a self-signed certificate with openssl req */
static int
make_cert(void)
{
	char	 cmd[1024];

	snprintf(certfile, sizeof(certfile), "%s/cert.pem", tmpdir);
	snprintf(keyfile, sizeof(keyfile), "%s/key.pem", tmpdir);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "
	    "/CN=mx.example.test -addext subjectAltName=DNS:mx.example.test "
	    "-keyout %s -out %s >/dev/null 2>&1", keyfile, certfile);
	return (system(cmd) == 0 ? 0 : -1);
}

/* pump - drive both handshakes over a socketpair (non-blocking) */
static int
pump(SSL *srv, SSL *cli)
{
	int	 i, a = 0, b = 0;

	for (i = 0; i < 10000 && !(a == 1 && b == 1); i++) {
		if (a != 1)
			a = SSL_do_handshake(srv);
		if (b != 1)
			b = SSL_do_handshake(cli);
		if (a <= 0 && SSL_get_error(srv, a) != SSL_ERROR_WANT_READ
		    && SSL_get_error(srv, a) != SSL_ERROR_WANT_WRITE)
			return (-1);
		if (b <= 0 && SSL_get_error(cli, b) != SSL_ERROR_WANT_READ
		    && SSL_get_error(cli, b) != SSL_ERROR_WANT_WRITE)
			return (-1);
	}
	return (a == 1 && b == 1 ? 0 : -1);
}

/* exchange - a few bytes both ways (TLSv1.3 tickets arrive here) */
static int
exchange(SSL *srv, SSL *cli)
{
	char	 buf[16];
	size_t	 n;
	int	 i, got_s = 0, got_c = 0;

	if (SSL_write_ex(cli, "ping", 4, &n) != 1
	    || SSL_write_ex(srv, "pong", 4, &n) != 1)
		return (-1);
	for (i = 0; i < 1000 && !(got_s && got_c); i++) {
		if (!got_s && SSL_read_ex(srv, buf, sizeof(buf), &n) == 1)
			got_s = n == 4 && memcmp(buf, "ping", 4) == 0;
		if (!got_c && SSL_read_ex(cli, buf, sizeof(buf), &n) == 1)
			got_c = n == 4 && memcmp(buf, "pong", 4) == 0;
	}
	return (got_s && got_c ? 0 : -1);
}

static int tickets_seen;	/* tickets_cb() */

/* tickets_cb - a plain OpenSSL client counts the tickets it receives */
static int
tickets_cb(SSL *ssl, SSL_SESSION *sess)
{
	tickets_seen++;
	return (0);
}

/* count_tickets - TLSv1.3 tickets the server sends per full handshake */
static int
count_tickets(struct tls_ctx *s)
{
	SSL_CTX	*cc = SSL_CTX_new(TLS_client_method());
	SSL	*srv, *cli;
	int	 sv[2], r = -1;

	if (cc == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return (-1);
	SSL_CTX_set_min_proto_version(cc, TLS1_3_VERSION);
	SSL_CTX_set_session_cache_mode(cc, SSL_SESS_CACHE_CLIENT
	    | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(cc, tickets_cb);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	srv = tls_ssl_new(s, sv[0], NULL, NULL);
	cli = SSL_new(cc);
	SSL_set_fd(cli, sv[1]);
	SSL_set_connect_state(cli);
	tickets_seen = 0;
	if (pump(srv, cli) == 0 && exchange(srv, cli) == 0)
		r = tickets_seen;
	SSL_free(cli);
	tls_ssl_free(srv);
	SSL_CTX_free(cc);
	close(sv[0]);
	close(sv[1]);
	return (r);
}

/* one_session - a full handshake; returns reused flag or -1 */
static int
one_session(struct tls_ctx *s, struct tls_ctx *c, const char *key,
    char *info, size_t infolen, int verify_names)
{
	int	 sv[2], reused;
	SSL	*srv, *cli;
	char	 err[256];
	const char *names[] = {"mx.example.test", NULL};
	const char *bad[] = {"other.example.test", NULL};

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return (-1);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	srv = tls_ssl_new(s, sv[0], NULL, NULL);
	cli = tls_ssl_new(c, sv[1], "mx.example.test", key);
	if (pump(srv, cli) < 0 || exchange(srv, cli) < 0)
		reused = -1;
	else {
		reused = SSL_session_reused(cli);
		if (info)
			tls_log_info(cli, info, infolen);
		if (verify_names) {
			tap_ok(tls_verify_peer(cli, names, err, sizeof(err)) == 1,
			    "peer verified against the CA file");
			tap_ok(tls_verify_peer(cli, bad, err, sizeof(err)) == 0
			    && strstr(err, "does not match"),
			    "wrong name refused (%s)", err);
		}
	}
	tls_ssl_free(cli);
	tls_ssl_free(srv);
	close(sv[0]);
	close(sv[1]);
	return (reused);
}

/* test_contexts - key/cert errors, handshake, resumption */
static void
test_contexts(void)
{
	struct tls_ctx *s, *c;
	char	 err[512], info[256], path[300], cache[300];
	int	 r;
	struct stat st;

	/* Missing files: an error for the caller, no exit. */
	conf_set("smtpd_tls_cert_file", "/nonexistent/cert.pem");
	conf_set("smtpd_tls_key_file", "/nonexistent/key.pem");
	s = tls_server_ctx_new("smtpd", err, sizeof(err));
	tap_ok(s == NULL && strstr(err, "/nonexistent/cert.pem") != NULL,
	    "missing certificate: error returned (%s)", err);
	conf_set("smtpd_tls_cert_file", certfile);
	s = tls_server_ctx_new("smtpd", err, sizeof(err));
	tap_ok(s == NULL && strstr(err, "/nonexistent/key.pem") != NULL,
	    "missing key: error returned (%s)", err);
	conf_set("smtpd_tls_key_file", certfile);
	s = tls_server_ctx_new("smtpd", err, sizeof(err));
	tap_ok(s == NULL && strstr(err, "key") != NULL,
	    "certificate file without a key: error (%s)", err);
	conf_set("smtpd_tls_cert_file", "");
	conf_set("smtpd_tls_key_file", "");
	s = tls_server_ctx_new("smtpd", err, sizeof(err));
	tap_ok(s == NULL && strstr(err, "no TLS certificate") != NULL,
	    "nothing configured: error (%s)", err);

	/* The seed's settings. */
	snprintf(cache, sizeof(cache), "btree:%s/smtpd_scache", tmpdir);
	conf_set("smtpd_tls_cert_file", certfile);
	conf_set("smtpd_tls_key_file", keyfile);
	conf_set("smtpd_tls_security_level", "encrypt");
	conf_set("smtpd_tls_mandatory_protocols", "!SSLv2, !SSLv3");
	conf_set("smtpd_tls_mandatory_ciphers", "high");
	conf_set("tls_high_cipherlist",
	    "kEDH+aRSA+AES128:kEECDH+aRSA+AES128:+SSLv3");
	conf_set("tls_preempt_cipherlist", "yes");
	conf_set("tls_ssl_options", "NO_COMPRESSION");
	conf_set("smtpd_tls_eecdh_grade", "ultra");
	conf_set("smtpd_tls_session_cache_database", cache);
	s = tls_server_ctx_new("smtpd", err, sizeof(err));
	tap_ok(s != NULL, "server context with the seed's settings%s%s",
	    s ? "" : ": ", s ? "" : err);
	if (s == NULL)
		return;
	tap_is_int(tls_ctx_level(s), TLS_LEV_ENCRYPT, "server level");
	snprintf(path, sizeof(path), "%s/smtpd_scache.lmdb", tmpdir);
	tap_ok(stat(path, &st) == 0, "session cache file created");
	tap_ok(SSL_CTX_get_min_proto_version(tls_ctx_ssl(s)) == TLS1_2_VERSION,
	    "server minimum TLSv1.2");

	conf_set("smtp_tls_security_level", "encrypt");
	conf_set("smtp_tls_CAfile", certfile);
	c = tls_client_ctx_new("smtp", err, sizeof(err));
	tap_ok(c != NULL, "client context");
	if (c == NULL) {
		tls_ctx_free(s);
		return;
	}
	r = one_session(s, c, NULL, info, sizeof(info), 1);
	tap_ok(r == 0, "handshake over a socketpair");
	tap_ok(strncmp(info, "TLSv1.3 with cipher TLS_", 24) == 0
	    && strstr(info, " bits)") != NULL, "log info: %s", info);

	/* Server-side LMDB cache: TLSv1.2 without tickets. */
	tls_ctx_free(c);
	conf_set("smtp_tls_mandatory_protocols", "<=TLSv1.2");
	conf_set("tls_ssl_options", "NO_TICKET");
	/* The seed's list has only aRSA ciphers: our key is ECDSA. */
	conf_set("tls_high_cipherlist", "aNULL:-aNULL:HIGH:@STRENGTH");
	snprintf(cache, sizeof(cache), "btree:%s/smtp_scache", tmpdir);
	conf_set("smtp_tls_session_cache_database", cache);
	c = tls_client_ctx_new("smtp", err, sizeof(err));
	tls_ctx_free(s);
	s = tls_server_ctx_new("smtpd", err, sizeof(err));
	r = one_session(s, c, "[mx.example.test]:25", info, sizeof(info), 0);
	tap_ok(r == 0 && strncmp(info, "TLSv1.2 ", 8) == 0,
	    "TLSv1.2 first handshake: full (%s)", info);
	/* A new server context: only the LMDB file can resume. */
	tls_ctx_free(s);
	conf_set("tls_ssl_options", "");
	s = tls_server_ctx_new("smtpd", err, sizeof(err));
	r = one_session(s, c, "[mx.example.test]:25", NULL, 0, 0);
	tap_ok(r == 1, "TLSv1.2 second handshake resumed from the LMDB "
	    "caches (new server context)");
	r = one_session(s, c, "[other.example.test]:25", NULL, 0, 0);
	tap_ok(r == 0, "another cache key: full handshake");
	tls_ctx_free(c);

	/* TLSv1.3 with tickets: the client's cache. */
	conf_set("smtp_tls_mandatory_protocols", ">=TLSv1.3");
	conf_set("tls_ssl_options", "");
	c = tls_client_ctx_new("smtp", err, sizeof(err));
	r = one_session(s, c, "[t13.example.test]:25", NULL, 0, 0);
	tap_ok(r == 0, "TLSv1.3 first handshake: full");
	r = one_session(s, c, "[t13.example.test]:25", info, sizeof(info), 0);
	tap_ok(r == 1 && strncmp(info, "TLSv1.3", 7) == 0,
	    "TLSv1.3 second handshake resumed with a ticket");
	tls_ctx_free(c);
	r = count_tickets(s);
	tap_ok(r == 1, "one TLSv1.3 ticket per full handshake, as Postfix "
	    "(got %d)", r);

	/* Expiry: a 1s cache timeout, 2s later a full handshake. */
	conf_set("smtp_tls_session_cache_timeout", "1s");
	c = tls_client_ctx_new("smtp", err, sizeof(err));
	r = one_session(s, c, "[exp.example.test]:25", NULL, 0, 0);
	sleep(2);
	tls_ctx_free(c);
	c = tls_client_ctx_new("smtp", err, sizeof(err));	/* purges */
	r = one_session(s, c, "[exp.example.test]:25", NULL, 0, 0);
	tap_ok(r == 0, "expired cache entry: full handshake");
	tls_ctx_free(c);
	conf_set("smtp_tls_session_cache_timeout", "3600s");

	/* Protocol mismatch: the handshake fails, nothing crashes. */
	conf_set("smtpd_tls_mandatory_protocols", ">=TLSv1.3");
	conf_set("smtp_tls_mandatory_protocols", "<=TLSv1.2");
	conf_set("smtp_tls_session_cache_database", "");
	tls_ctx_free(s);
	s = tls_server_ctx_new("smtpd", err, sizeof(err));
	c = tls_client_ctx_new("smtp", err, sizeof(err));
	r = one_session(s, c, NULL, NULL, 0, 0);
	tap_ok(r == -1, "no common protocol: handshake fails");
	tls_ctx_free(c);
	tls_ctx_free(s);

	conf_set("smtp_tls_mandatory_protocols", "TLSv9");
	c = tls_client_ctx_new("smtp", err, sizeof(err));
	tap_ok(c == NULL && strstr(err, "TLSv9") != NULL,
	    "bad protocol spec: error (%s)", err);
	conf_set("smtp_tls_mandatory_protocols", ">=TLSv1");
	conf_set("smtp_tls_security_level", "dane");
	c = tls_client_ctx_new("smtp", err, sizeof(err));
	tap_ok(c != NULL && tls_ctx_level(c) == TLS_LEV_DANE,
	    "dane kept as dane (smtp_dane.c decides per address)");
	tls_ctx_free(c);
}

int
main(void)
{
	char	 cmd[300];

	log_init("tls_test", 0);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return (1);
	}
	test_protocols();
	test_levels();
	test_level_check();
	test_policy();
	test_options();
	test_ciphers();
	tap_ok(make_cert() == 0, "self-signed certificate made");
	test_contexts();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		tap_ok(0, "cleanup");
	return (tap_done());
}
