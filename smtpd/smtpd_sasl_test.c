/*
 * NAME
 *	smtpd_sasl_test - table-driven tests of the AUTH state machine,
 *	the password schemes and the Dovecot client
 * DESCRIPTION
 *	Exchanges run against the built-in backend with a memory: table
 *	of password hashes (vectors from Python's crypt module and
 *	doveadm pw), and against a fake Dovecot auth server on a UNIX
 *	socket in a thread (scripted replies, a dropped connection, a
 *	silent server for the timeout). Log lines are captured to check
 *	Postfix's failure format and that no password is ever logged.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "map.h"
#include "sock.h"
#include "tap.h"
#include "xalloc.h"
#include "smtpd_sasl.h"

#define H6	"$6$saltsalt$okhm3EgP0nfJFF6RSYaY5vWkP4uIOXupnRPJW8DZXz8ss92x" \
		"mVMA/pqpOqklKHCof1Uje/Z9VsIPOza3Ez2Wf1"
#define H5	"$5$saltsalt$N65o7nICLVaFlHASsGoobnyCd7YyG7inpJGR3celcZC"
#define H1	"$1$saltsalt$sdQOToCWyWmY3.C5XP6wc/"
#define H2B	"$2b$05$abcdefghijklmnopqrstuu0hnHYzFTct00eYx3SYc2OrRNalIFfxG"
#define HY	"$y$j9T$saltsaltsaltsalt$G3DFzMbu8mdMTeY7vnznqKHbZD28BcJJv." \
		"og/kyrhs2"
#define HD6	"{SHA512-CRYPT}$6$plRnIMPRg/XiHbYh$dS4ImSVNW4OnIq9tLXU5kPNG8l" \
		"jvVsM5V/FRUqXh9La3WVdyLlpBzOb0P83O6IQqGuw4Efj5MwkrSQclJjnTV1"
#define HBLF	"{BLF-CRYPT}$2y$05$p4.Kdc.MyyAwp3tOMAh45u315T4zTkIqRKORBKhtaN" \
		"OM5xTU3E0rG"
#define HSSHA512 "{SSHA512}DKe1L3vbMMMvzX0Qxr9f/DGR0ZPPYfUUP4X/FdwMxfSQOmE5" \
		"WX327YN0GQjUoF8KivJBgxYDDA6tjZhS7RpvYkz3PN4="

static struct buf *logged;

/* log_hook - collect log lines */
static void
log_hook(int level, const char *text, void *ctx)
{
	buf_puts(logged, text);
	buf_putc(logged, '\n');
}

/* b64 - base64 of len bytes (a ring of 128 results, tests only) */
static const char *
b64(const char *s, size_t len)
{
	static char out[128][64];
	static int n;
	struct buf *b = buf_new(64);

	smtpd_sasl_b64_encode(s, len, b);
	n = (n + 1) % 128;
	snprintf(out[n], sizeof(out[n]), "%s", BUF_STR(b));
	buf_free(b);
	return (out[n]);
}

#define B64(lit)	b64(lit, sizeof(lit) - 1)

struct vec_pw {
	const char *stored;
	const char *password;
	int	 want;
};

static const struct vec_pw pw_vectors[] = {
	{H6, "summersun", 1},
	{H6, "summersuN", 0},
	{H6, "", 0},
	{H5, "summersun", 1},
	{H5, "wintersun", 0},
	{H1, "summersun", 1},
	{H1, "x", 0},
	{H2B, "summersun", 1},
	{H2B, "summersun2", 0},
	{HY, "summersun", 1},
	{HY, "nope", 0},
	{HD6, "summersun", 1},
	{HD6, "summersu", 0},
	{"{sha512-crypt}" H6, "summersun", 1},
	{HBLF, "summersun", 1},
	{HBLF, "Summersun", 0},
	{HSSHA512, "summersun", 1},
	{HSSHA512, "summersun ", 0},
	{"{SHA512-CRYPT}" H5, "summersun", -1},	/* scheme/hash mismatch */
	/* the seed database page: MD5('summersun') */
	{"14cbfb845af1f030e372b1cb9275e6dd", "summersun", 1},
	{"14CBFB845AF1F030E372B1CB9275E6DD", "summersun", 1},
	{"14cbfb845af1f030e372b1cb9275e6dd", "summersan", 0},
	{"{PLAIN-MD5}14cbfb845af1f030e372b1cb9275e6dd", "summersun", 1},
	{"{PLAIN-MD5}FMv7hFrx8DDjcrHLknXm3Q==", "summersun", 1},
	{"{LDAP-MD5}FMv7hFrx8DDjcrHLknXm3Q==", "x", 0},
	{"{SHA512}n/efm01oTCJXNxixfaaoMybEkhdoZ+t/XVUdC4h1+QlNvpYsITRnL7ol"
	    "9Eajrb9L1zEYRPlwpRWd45/1F5iDvg==", "summersun", 1},
	{"{SHA256}5c3dc9a86f219da898bdaa57ce471b7c03a1b95c57d52f4654eb777c"
	    "1875a260", "summersun", 1},
	{"{SSHA512}ZBOWnBdd12eB+eq8CQTOh80T94XikfEAlKP39BpmcldnWMqo+ljyT8OI"
	    "ER1wMwgGtrNTE0FZwO+BjlHnGMbZpU5hQ2w=", "summersun", 1},
	{"{SSHA}afPaSNn91B/hDe/sKXLFVl7sAwdwZXBwZXI=", "summersun", 1},
	{"{SSHA}afPaSNn91B/hDe/sKXLFVl7sAwdwZXBwZXI=", "summersum", 0},
	{"{PLAIN}summersun", "summersun", 1},
	{"{CLEARTEXT}summersun", "summersun", 1},
	{"{PLAIN}summersun", "summersu", 0},
	{"{PLAIN}", "", 1},
	/* plain text without a prefix is never a password */
	{"summersun", "summersun", -1},
	{"", "", -1},
	{"{NOSUCH}abc", "abc", -1},
	{"{SHA512}not*base64", "x", -1},
	{"{SHA256}abcd", "x", -1},		/* too short for a digest */
	{"{SHA512-CRYPT}", "x", -1},
	{"$6$", "x", 0},	/* crypt_r computes something: no match */
	{"14cbfb845af1f030e372b1cb9275e6d", "summersun", -1},	/* 31 hex */
};

/* test_pw - the scheme table */
static void
test_pw(void)
{
	void	*ctx = NULL;
	size_t	 i;

	for (i = 0; i < sizeof(pw_vectors) / sizeof(pw_vectors[0]); i++)
		tap_is_int(smtpd_sasl_pw_verify(pw_vectors[i].stored,
		    pw_vectors[i].password, &ctx), pw_vectors[i].want,
		    pw_vectors[i].stored);
	free(ctx);
}

struct vec_b64 {
	const char *in;
	int	 rc;
	const char *out;
	size_t	 len;
};

static const struct vec_b64 b64_vectors[] = {
	{"", 0, "", 0},
	{"AA==", 0, "\0", 1},
	{"AGpvaG4Ac2VjcmV0", 0, "\0john\0secret", 12},
	{"dXNlcg==", 0, "user", 4},
	{"dXNlcjE=", 0, "user1", 5},
	{"dXNlcjEy", 0, "user12", 6},
	{"dXNlcg=", -1, NULL, 0},		/* length not a multiple of 4 */
	{"dXNl cg==", -1, NULL, 0},		/* whitespace */
	{"dXNlcg==dXNl", -1, NULL, 0},		/* padding in the middle */
	{"dX=lcg==", -1, NULL, 0},
	{"====", -1, NULL, 0},
	{"A===", -1, NULL, 0},
	{"dXNl\ncg==", -1, NULL, 0},
	{"dXNlcg\xc3\xa9", -1, NULL, 0},	/* 8-bit */
	{"*", -1, NULL, 0},
	{"-_==", -1, NULL, 0},			/* base64url is not base64 */
};

/* test_b64 - the strict decoder */
static void
test_b64(void)
{
	struct buf *out = buf_new(16);
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(b64_vectors) / sizeof(b64_vectors[0]); i++) {
		rc = smtpd_sasl_b64_decode(b64_vectors[i].in, out);
		tap_ok(rc == b64_vectors[i].rc && (rc < 0
		    || (BUF_LEN(out) == b64_vectors[i].len
		    && memcmp(BUF_STR(out), b64_vectors[i].out,
		    b64_vectors[i].len) == 0)), "b64 decode '%s'",
		    log_safe(b64_vectors[i].in));
	}
	buf_reset(out);
	smtpd_sasl_b64_encode("\0john\0secret", 12, out);
	tap_is_str(BUF_STR(out), "AGpvaG4Ac2VjcmV0", "b64 encode");
	buf_free(out);
}

/*
 * An exchange: the AUTH arguments, then client lines, each with the
 * expected result and reply prefix; the username at the end; a text
 * the log must contain and one it must not.
 */
struct step {
	const char *line;
	int	 want;
	const char *reply;	/* prefix */
};

struct vec_x {
	const char *name;
	const char *mech;
	const char *initial;
	int	 want;
	const char *reply;
	struct step steps[3];
	const char *user;	/* after the last step */
	const char *log;	/* must appear, or NULL */
};

#define OK235	"235 2.7.0 Authentication successful"
#define F535	"535 5.7.8 Error: authentication failed: authentication failure"

/* run_exchange - one table entry */
static void
run_exchange(struct smtpd_sasl_backend *be, const struct vec_x *v)
{
	struct smtpd_sasl *sa = smtpd_sasl_new("unknown", "127.0.0.1",
	    "127.0.0.1", 0);
	struct buf *reply = buf_new(64);
	char	 name[200];
	int	 rc, i;

	buf_reset(logged);
	rc = smtpd_sasl_start(sa, be, v->mech, v->initial, reply);
	snprintf(name, sizeof(name), "%s: AUTH result", v->name);
	tap_is_int(rc, v->want, name);
	snprintf(name, sizeof(name), "%s: AUTH reply", v->name);
	tap_is_str(strncmp(BUF_STR(reply), v->reply, strlen(v->reply)) ? 
	    BUF_STR(reply) : v->reply, v->reply, name);
	for (i = 0; rc == SMTPD_SASL_MORE && i < 3 && v->steps[i].line; i++) {
		rc = smtpd_sasl_step(sa, be, v->steps[i].line, reply);
		snprintf(name, sizeof(name), "%s: step %d result", v->name, i);
		tap_is_int(rc, v->steps[i].want, name);
		snprintf(name, sizeof(name), "%s: step %d reply", v->name, i);
		tap_is_str(strncmp(BUF_STR(reply), v->steps[i].reply,
		    strlen(v->steps[i].reply)) ? BUF_STR(reply)
		    : v->steps[i].reply, v->steps[i].reply, name);
	}
	snprintf(name, sizeof(name), "%s: username", v->name);
	tap_is_str(smtpd_sasl_username(sa), v->user, name);
	if (v->log)
		tap_ok(strstr(BUF_STR(logged), v->log) != NULL,
		    "%s: logged '%s'", v->name, v->log);
	tap_ok(strstr(BUF_STR(logged), "secret") == NULL,
	    "%s: no password in the log", v->name);
	smtpd_sasl_free(sa);
	buf_free(reply);
}

#define LONG_LINE_LEN	(SMTPD_SASL_LINE_MAX + 4)

/* test_builtin - exchanges against the built-in backend */
static void
test_builtin(void)
{
	static char longline[LONG_LINE_LEN + 1];
	struct map *m;
	struct smtpd_sasl_backend *be;
	size_t	 i;
	const struct vec_x vx[] = {
	{"PLAIN initial", "PLAIN", B64("\0john@example.org\0secret"),
	    SMTPD_SASL_OK, OK235, {{0}}, "john@example.org", NULL},
	{"plain lower-case mech", "plain", B64("\0john@example.org\0secret"),
	    SMTPD_SASL_OK, OK235, {{0}}, "john@example.org", NULL},
	{"PLAIN login case folds", "PLAIN", B64("\0John@Example.ORG\0secret"),
	    SMTPD_SASL_OK, OK235, {{0}}, "John@Example.ORG", NULL},
	{"PLAIN authzid = authcid", "PLAIN",
	    B64("john@example.org\0john@example.org\0secret"),
	    SMTPD_SASL_OK, OK235, {{0}}, "john@example.org", NULL},
	{"PLAIN authzid other user", "PLAIN",
	    B64("jane@example.org\0john@example.org\0secret"),
	    SMTPD_SASL_FAIL, "535 5.7.8 Error: authentication failed: "
	    "authorization identity", {{0}}, NULL,
	    "SASL PLAIN authentication failed: authorization identity "
	    "differs from the login, sasl_username=john@example.org"},
	{"PLAIN challenge", "PLAIN", NULL, SMTPD_SASL_MORE, "334 ",
	    {{B64("\0john@example.org\0secret"), SMTPD_SASL_OK, OK235}},
	    "john@example.org", NULL},
	{"PLAIN wrong password", "PLAIN", B64("\0john@example.org\0secreT"),
	    SMTPD_SASL_FAIL, F535, {{0}}, NULL,
	    "warning: unknown[127.0.0.1]: SASL PLAIN authentication failed: "
	    "authentication failure, sasl_username=john@example.org"},
	{"PLAIN unknown user", "PLAIN", B64("\0nobody@example.org\0secret"),
	    SMTPD_SASL_FAIL, F535, {{0}}, NULL,
	    "sasl_username=nobody@example.org"},
	{"PLAIN empty initial response", "PLAIN", "=", SMTPD_SASL_FAIL,
	    "535 5.7.8 Error: authentication failed: Invalid authentication "
	    "data", {{0}}, NULL, NULL},
	{"PLAIN one NUL", "PLAIN", B64("\0john@example.org"),
	    SMTPD_SASL_FAIL, "535 5.7.8", {{0}}, NULL, NULL},
	{"PLAIN NUL in the password", "PLAIN",
	    B64("\0john@example.org\0sec\0ret"), SMTPD_SASL_FAIL, "535 5.7.8",
	    {{0}}, NULL, "Invalid authentication data"},
	{"PLAIN empty login", "PLAIN", B64("\0\0secret"), SMTPD_SASL_FAIL,
	    "535 5.7.8", {{0}}, NULL, NULL},
	{"PLAIN empty password", "PLAIN", B64("\0john@example.org\0"),
	    SMTPD_SASL_FAIL, "535 5.7.8", {{0}}, NULL, NULL},
	{"PLAIN CR LF in login", "PLAIN", B64("\0john\r\nQUIT\0secret"),
	    SMTPD_SASL_FAIL, "535 5.7.8", {{0}}, NULL, NULL},
	{"PLAIN tab in login", "PLAIN", B64("\0john\texample\0secret"),
	    SMTPD_SASL_FAIL, "535 5.7.8", {{0}}, NULL, NULL},
	{"PLAIN bad base64", "PLAIN", "AGpvaG4Ac2VjcmV0=", SMTPD_SASL_ERROR,
	    "501 5.5.2 Cannot decode response", {{0}}, NULL,
	    "SASL PLAIN authentication failed: Invalid base64 data"},
	{"PLAIN challenge, bad base64", "PLAIN", NULL, SMTPD_SASL_MORE,
	    "334 ", {{"not base64!", SMTPD_SASL_ERROR, "501 5.5.2"}}, NULL,
	    NULL},
	{"PLAIN cancel", "PLAIN", NULL, SMTPD_SASL_MORE, "334 ",
	    {{"*", SMTPD_SASL_ERROR, "501 5.7.0 Authentication aborted"}},
	    NULL, "warning: unknown[127.0.0.1]: SASL PLAIN authentication "
	    "aborted"},
	{"PLAIN overlong response", "PLAIN", NULL, SMTPD_SASL_MORE, "334 ",
	    {{longline, SMTPD_SASL_ERROR, "500 5.5.6"}}, NULL, NULL},
	{"PLAIN overlong initial", "PLAIN", longline, SMTPD_SASL_ERROR,
	    "500 5.5.6", {{0}}, NULL, NULL},
	{"PLAIN 8-bit login", "PLAIN", B64("\0j\xc3\xb6rg@example.org\0x"),
	    SMTPD_SASL_FAIL, F535, {{0}}, NULL,
	    "sasl_username=j\xc3\xb6rg@example.org"},	/* UTF-8 kept */
	{"LOGIN", "LOGIN", NULL, SMTPD_SASL_MORE, "334 VXNlcm5hbWU6",
	    {{B64("john@example.org"), SMTPD_SASL_MORE, "334 UGFzc3dvcmQ6"},
	    {B64("secret"), SMTPD_SASL_OK, OK235}}, "john@example.org", NULL},
	{"LOGIN initial response", "LOGIN", B64("john@example.org"),
	    SMTPD_SASL_MORE, "334 UGFzc3dvcmQ6",
	    {{B64("secret"), SMTPD_SASL_OK, OK235}}, "john@example.org", NULL},
	{"LOGIN wrong password", "LOGIN", NULL, SMTPD_SASL_MORE, "334 ",
	    {{B64("john@example.org"), SMTPD_SASL_MORE, "334 UGFzc3dvcmQ6"},
	    {B64("wrong"), SMTPD_SASL_FAIL, F535}}, NULL,
	    "warning: unknown[127.0.0.1]: SASL LOGIN authentication failed: "
	    "authentication failure, sasl_username=john@example.org"},
	{"LOGIN cancel at the password", "LOGIN", NULL, SMTPD_SASL_MORE,
	    "334 ", {{B64("john@example.org"), SMTPD_SASL_MORE, "334 "},
	    {"*", SMTPD_SASL_ERROR, "501 5.7.0"}}, NULL,
	    "SASL LOGIN authentication aborted"},
	{"LOGIN NUL in the name", "LOGIN", NULL, SMTPD_SASL_MORE, "334 ",
	    {{B64("john\0x"), SMTPD_SASL_FAIL, "535 5.7.8"}}, NULL, NULL},
	{"LOGIN empty name", "LOGIN", "=", SMTPD_SASL_FAIL, "535 5.7.8",
	    {{0}}, NULL, NULL},
	{"LOGIN empty password", "LOGIN", B64("john@example.org"),
	    SMTPD_SASL_MORE, "334 ", {{"", SMTPD_SASL_FAIL, "535 5.7.8"}},
	    NULL, NULL},
	{"LOGIN bad base64 name", "LOGIN", "am9obg", SMTPD_SASL_ERROR,
	    "501 5.5.2", {{0}}, NULL, NULL},
	{"CRAM-MD5 not offered", "CRAM-MD5", NULL, SMTPD_SASL_FAIL,
	    "535 5.7.8 Error: authentication failed: Invalid authentication "
	    "mechanism", {{0}}, NULL, "SASL CRAM-MD5 authentication failed: "
	    "Invalid authentication mechanism"},
	{"hostile mechanism", "X\r\n\x01", NULL, SMTPD_SASL_FAIL, "535 5.7.8",
	    {{0}}, NULL, "SASL X??? authentication failed"},
	{"seed MD5 hex", "PLAIN", B64("\0md5@example.org\0summersun"),
	    SMTPD_SASL_OK, OK235, {{0}}, "md5@example.org", NULL},
	{"user,hash result", "PLAIN", B64("\0pair@example.org\0summersun"),
	    SMTPD_SASL_OK, OK235, {{0}}, "pair@example.org", NULL},
	{"two rows", "PLAIN", B64("\0rows@example.org\0summersun"),
	    SMTPD_SASL_FAIL, F535, {{0}}, NULL, "more than one value"},
	{"plain text stored", "PLAIN", B64("\0clear@example.org\0summersun"),
	    SMTPD_SASL_FAIL, F535, {{0}}, NULL,
	    "unsupported password scheme"},
	{"bcrypt", "LOGIN", B64("blf@example.org"), SMTPD_SASL_MORE, "334 ",
	    {{B64("summersun"), SMTPD_SASL_OK, OK235}}, "blf@example.org",
	    NULL},
	};

	memset(longline, 'A', LONG_LINE_LEN);
	m = map_open("memory:sasl_pw", 0);
	map_update(m, "md5@example.org", "14cbfb845af1f030e372b1cb9275e6dd");
	map_update(m, "pair@example.org", "pair@example.org," HD6);
	map_update(m, "rows@example.org", H6 "," H5);
	map_update(m, "clear@example.org", "summersun");
	map_update(m, "blf@example.org", HBLF);
	map_update(m, "j\xc3\xb6rg@example.org", H6);
	/* crypt.crypt("secret", "$6$abc$") */
	map_update(m, "john@example.org", "$6$abc$IdWKNKTJEb8LxY7CGg8YBXlvt"
	    "fZzFw7Mp/r6niK9YB2mdvgY..TKjv1T..8RadRt2qvUHYRLr/TsVArtr91iR1");
	conf_set("smtpd_sasl_type", "postern");
	conf_set("smtpd_sasl_password_maps", "memory:sasl_pw");
	be = smtpd_sasl_backend_new();
	for (i = 0; i < sizeof(vx) / sizeof(vx[0]); i++)
		run_exchange(be, &vx[i]);
	smtpd_sasl_backend_free(be);

	/* A table that is down: 454, never 535. */
	{
		const struct vec_x down = {"map down", "PLAIN",
		    B64("\0john@example.org\0secret"), SMTPD_SASL_TEMP,
		    "454 4.7.0 Temporary authentication failure", {{0}}, NULL,
		    "lookup error"};

		conf_set("smtpd_sasl_password_maps",
		    "mysql:/nonexistent/postern-sasl.cf");
		be = smtpd_sasl_backend_new();
		run_exchange(be, &down);
		smtpd_sasl_backend_free(be);
	}
	/* cyrus: a warning, then the built-in backend. */
	conf_set("smtpd_sasl_type", "cyrus");
	conf_set("smtpd_sasl_password_maps", "memory:sasl_pw");
	buf_reset(logged);
	be = smtpd_sasl_backend_new();
	tap_ok(strstr(BUF_STR(logged), "smtpd_sasl_type = cyrus is not "
	    "available") != NULL, "cyrus: warning");
	{
		const struct vec_x cy = {"cyrus falls back", "PLAIN",
		    B64("\0md5@example.org\0summersun"), SMTPD_SASL_OK, OK235,
		    {{0}}, "md5@example.org", NULL};

		run_exchange(be, &cy);
	}
	smtpd_sasl_backend_free(be);
	map_close(m);
}

/* test_mechs - what EHLO advertises */
static void
test_mechs(void)
{
	conf_set("smtpd_sasl_security_options", "noanonymous");
	conf_set("smtpd_sasl_tls_security_options",
	    "$smtpd_sasl_security_options");
	tap_is_str(smtpd_sasl_mechs(0), "PLAIN LOGIN", "mechs: noanonymous");
	conf_set("smtpd_sasl_security_options", "noanonymous, noplaintext");
	conf_set("smtpd_sasl_tls_security_options", "noanonymous");
	tap_is_str(smtpd_sasl_mechs(0), "", "mechs: noplaintext");
	tap_is_str(smtpd_sasl_mechs(1), "PLAIN LOGIN",
	    "mechs: noplaintext only without TLS");
}

/*
 * A fake Dovecot auth server: one thread, one listening socket; for
 * each connection it sends the handshake, then answers AUTH requests
 * with the scripted line (%u is the request id). Mode "silent" never
 * answers; "drop" closes after reading the first AUTH.
 */
struct fake {
	int	 lfd;
	const char *answer;	/* printf format with %u */
	const char *mech;	/* offered mechanism */
	int	 drop_first;	/* close after the first AUTH, once */
	int	 silent;
	int	 stop;
	char	 last[4200];	/* last AUTH line seen */
	pthread_mutex_t lock;
};

/* fake_main - the fake server thread */
static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	char	 buf[4096], out[512], *nl;
	size_t	 have;
	ssize_t	 n;
	unsigned int id;
	int	 fd;

	while ((fd = accept(f->lfd, NULL, NULL)) >= 0) {
		pthread_mutex_lock(&f->lock);
		if (f->stop) {
			pthread_mutex_unlock(&f->lock);
			close(fd);
			break;
		}
		snprintf(out, sizeof(out), "VERSION\t1\t2\nMECH\t%s\tplaintext\n"
		    "SPID\t1\nCUID\t1\nCOOKIE\t00\nDONE\n", f->mech);
		pthread_mutex_unlock(&f->lock);
		if (write(fd, out, strlen(out)) < 0)
			goto next;
		have = 0;
		for (;;) {
			n = read(fd, buf + have, sizeof(buf) - have - 1);
			if (n <= 0)
				break;
			have += (size_t)n;
			buf[have] = 0;
			while ((nl = strchr(buf, '\n')) != NULL) {
				*nl = 0;
				if (strncmp(buf, "AUTH\t", 5) == 0) {
					pthread_mutex_lock(&f->lock);
					snprintf(f->last, sizeof(f->last), "%s",
					    buf);
					id = (unsigned)strtoul(buf + 5, NULL, 10);
					if (f->drop_first) {
						f->drop_first = 0;
						pthread_mutex_unlock(&f->lock);
						goto next;
					}
					snprintf(out, sizeof(out), f->answer, id);
					pthread_mutex_unlock(&f->lock);
					if (!f->silent && write(fd, out,
					    strlen(out)) < 0)
						goto next;
				}
				have -= (size_t)(nl + 1 - buf);
				memmove(buf, nl + 1, have + 1);
			}
		}
next:
		close(fd);
	}
	return (NULL);
}

/* fake_set - change the script */
static void
fake_set(struct fake *f, const char *answer, int drop, int silent)
{
	pthread_mutex_lock(&f->lock);
	f->answer = answer;
	f->drop_first = drop;
	f->silent = silent;
	pthread_mutex_unlock(&f->lock);
}

/* test_dovecot - the Dovecot client against the fake server */
static void
test_dovecot(void)
{
	char	 dir[] = "/tmp/postern-sasl-test.XXXXXX", path[200], err[200];
	struct fake f;
	struct smtpd_sasl_backend *be;
	pthread_t tid;
	int	 fd;
	const struct vec_x ok = {"dovecot OK", "PLAIN",
	    B64("\0john@example.org\0secret"), SMTPD_SASL_OK, OK235, {{0}},
	    "John@Example.org", NULL};
	const struct vec_x okesc = {"dovecot OK, escaped user=", "LOGIN",
	    B64("x"), SMTPD_SASL_MORE, "334 ",
	    {{B64("secret"), SMTPD_SASL_OK, OK235}}, "a\tb", NULL};
	const struct vec_x fail = {"dovecot FAIL", "LOGIN", NULL,
	    SMTPD_SASL_MORE, "334 ",
	    {{B64("john@example.org"), SMTPD_SASL_MORE, "334 "},
	    {B64("secret"), SMTPD_SASL_FAIL, F535}}, NULL,
	    "SASL LOGIN authentication failed: authentication failure, "
	    "sasl_username=john@example.org"};
	const struct vec_x reason = {"dovecot FAIL reason=", "PLAIN",
	    B64("\0john@example.org\0secret"), SMTPD_SASL_FAIL,
	    "535 5.7.8 Error: authentication failed: Password expired",
	    {{0}}, NULL, NULL};
	const struct vec_x temp = {"dovecot FAIL temp", "PLAIN",
	    B64("\0john@example.org\0secret"), SMTPD_SASL_TEMP,
	    "454 4.7.0 Temporary authentication failure", {{0}}, NULL, NULL};
	const struct vec_x drop = {"dovecot drops, reconnect", "PLAIN",
	    B64("\0john@example.org\0secret"), SMTPD_SASL_OK, OK235, {{0}},
	    "john@example.org", NULL};
	const struct vec_x silent = {"dovecot silent: timeout", "PLAIN",
	    B64("\0john@example.org\0secret"), SMTPD_SASL_TEMP,
	    "454 4.7.0 Temporary authentication failure", {{0}}, NULL,
	    "timeout"};
	const struct vec_x noplain = {"dovecot without PLAIN", "PLAIN",
	    B64("\0john@example.org\0secret"), SMTPD_SASL_TEMP,
	    "454 4.7.0", {{0}}, NULL, "does not offer PLAIN"};
	const struct vec_x down = {"dovecot down", "PLAIN",
	    B64("\0john@example.org\0secret"), SMTPD_SASL_TEMP,
	    "454 4.7.0", {{0}}, NULL, "cannot connect"};

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/auth", dir);
	memset(&f, 0, sizeof(f));
	pthread_mutex_init(&f.lock, NULL);
	f.mech = "PLAIN";
	if ((f.lfd = sock_listen_unix(path, 0600, 16, err, sizeof(err))) < 0) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	pthread_create(&tid, NULL, fake_main, &f);

	conf_set("smtpd_sasl_type", "dovecot");
	conf_set("smtpd_sasl_path", path);
	conf_set("smtpd_sasl_timeout", "1s");
	be = smtpd_sasl_backend_new();

	fake_set(&f, "OK\t%u\tuser=John@Example.org\n", 0, 0);
	run_exchange(be, &ok);
	pthread_mutex_lock(&f.lock);
	tap_ok(strstr(f.last, "\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1"
	    "\trip=127.0.0.1\tresp=AGpvaG5AZXhhbXBsZS5vcmcAc2VjcmV0") != NULL,
	    "dovecot: AUTH request fields");
	pthread_mutex_unlock(&f.lock);
	fake_set(&f, "OK\t%u\tuser=a\001tb\n", 0, 0);
	run_exchange(be, &okesc);
	fake_set(&f, "FAIL\t%u\tuser=john@example.org\n", 0, 0);
	run_exchange(be, &fail);
	fake_set(&f, "FAIL\t%u\treason=Password expired\n", 0, 0);
	run_exchange(be, &reason);
	fake_set(&f, "FAIL\t%u\ttemp\n", 0, 0);
	run_exchange(be, &temp);
	fake_set(&f, "OK\t%u\n", 1, 0);
	run_exchange(be, &drop);
	fake_set(&f, "OK\t%u\n", 0, 1);
	run_exchange(be, &silent);
	smtpd_sasl_backend_free(be);

	pthread_mutex_lock(&f.lock);
	f.mech = "LOGIN";
	pthread_mutex_unlock(&f.lock);
	fake_set(&f, "OK\t%u\n", 0, 0);
	be = smtpd_sasl_backend_new();
	run_exchange(be, &noplain);
	smtpd_sasl_backend_free(be);

	/* Stop the fake: a last connection wakes accept(). */
	pthread_mutex_lock(&f.lock);
	f.stop = 1;
	pthread_mutex_unlock(&f.lock);
	if ((fd = sock_connect_unix(path, err, sizeof(err))) >= 0)
		close(fd);
	pthread_join(tid, NULL);
	close(f.lfd);
	unlink(path);

	be = smtpd_sasl_backend_new();
	run_exchange(be, &down);
	smtpd_sasl_backend_free(be);
	rmdir(dir);
	pthread_mutex_destroy(&f.lock);
}

/* test_dovecot_inet - smtpd_sasl_path = inet:127.0.0.1:port */
static void
test_dovecot_inet(void)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct fake f;
	struct smtpd_sasl_backend *be;
	pthread_t tid;
	char	 spec[64];
	int	 fd;
	const struct vec_x ok = {"dovecot inet: OK", "PLAIN",
	    B64("\0john@example.org\0secret"), SMTPD_SASL_OK, OK235, {{0}},
	    "john@example.org", NULL};

	memset(&f, 0, sizeof(f));
	pthread_mutex_init(&f.lock, NULL);
	f.mech = "PLAIN";
	f.answer = "OK\t%u\n";
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((f.lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0
	    || bind(f.lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0
	    || listen(f.lfd, 16) < 0
	    || getsockname(f.lfd, (struct sockaddr *)&sin, &slen) < 0) {
		printf("Bail out! listen on 127.0.0.1: %s\n", strerror(errno));
		exit(1);
	}
	pthread_create(&tid, NULL, fake_main, &f);
	snprintf(spec, sizeof(spec), "inet:127.0.0.1:%d", ntohs(sin.sin_port));
	conf_set("smtpd_sasl_type", "dovecot");
	conf_set("smtpd_sasl_path", spec);
	be = smtpd_sasl_backend_new();
	run_exchange(be, &ok);
	smtpd_sasl_backend_free(be);

	pthread_mutex_lock(&f.lock);
	f.stop = 1;
	pthread_mutex_unlock(&f.lock);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0) {
		(void)connect(fd, (struct sockaddr *)&sin, slen);
		close(fd);
	}
	pthread_join(tid, NULL);
	close(f.lfd);
	pthread_mutex_destroy(&f.lock);
}

int
main(void)
{
	logged = buf_new(1024);
	log_init("smtpd_sasl_test", 0);
	log_set_hook(log_hook, NULL);
	test_b64();
	test_pw();
	test_mechs();
	test_builtin();
	test_dovecot();
	test_dovecot_inet();
	buf_free(logged);
	return (tap_done());
}
