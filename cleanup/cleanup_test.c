/*
 * NAME
 *	cleanup_test - table-driven tests for cleanup_message()
 * DESCRIPTION
 *	Each vector runs one message through cleanup_message() into a
 *	private queue directory and checks the outcome, the reply, and the
 *	queue file as queue_file_open() reads it back: the envelope and
 *	the message after the Received: header, byte for byte. Hostile
 *	messages: folded headers, no body, no final newline, 8-bit, NUL,
 *	bare CR, a huge header, no headers at all.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "buf.h"
#include "cleanup.h"
#include "cleanup_int.h"
#include "conf.h"
#include "log.h"
#include "queue.h"
#include "str.h"
#include "tap.h"
#include "xalloc.h"

static char qdir[256];
static struct buf *logged;

static const char *attrs_v4[] = {
	"client_name", "client.example", "client_address", "192.0.2.1",
	"helo_name", "helo.example", "protocol", "ESMTP", NULL,
};
static const char *attrs_v6[] = {
	"client_name", "unknown", "client_address", "2001:db8::1",
	"helo_name", "[IPv6:2001:db8::1]", "protocol", "ESMTPS", NULL,
};

#define M(s)	s, sizeof(s) - 1

static const struct vec {
	const char *name;
	const char *conf;	/* '|' separated name=value */
	int	 flags;
	const char *sender;
	const char *rcpt1, *rcpt2;
	const char *msg;
	size_t	 len;
	int	 want;
	const char *reply;
	int	 hold;
	const char *out;	/* message after Received:, NULL = unchecked */
	size_t	 outlen;
	const char *want_sender;
	const char *want_rcpt1;
} vecs[] = {
	{"plain message kept byte for byte", "", 0, "a@b.example",
	    "u@example.com", NULL, M("Subject: hi\nFrom: a@b.example\n\nbody\n"),
	    CLEANUP_OK, "", 0, M("Subject: hi\nFrom: a@b.example\n\nbody\n"),
	    "a@b.example", "u@example.com"},
	{"a stray CR becomes a space (Postfix 3.9), in headers and body",
	    "", 0, "a@b.example", "u@example.com", NULL,
	    M("Subject: a\rb\n\nx\r.\ry\n\r.\r\nendcr\r\n\r"), CLEANUP_OK,
	    "", 0, M("Subject: a b\n\nx . y\n . \nendcr \n "), NULL, NULL},
	{"headers only, no body", "", 0, "a@b.example", "u@example.com", NULL,
	    M("Subject: x\n"), CLEANUP_OK, "", 0, M("Subject: x\n"), NULL, NULL},
	{"no final newline", "", 0, "a@b.example", "u@example.com", NULL,
	    M("Subject: x\n\nbody"), CLEANUP_OK, "", 0, M("Subject: x\n\nbody"),
	    NULL, NULL},
	{"header without final newline", "", 0, "a@b.example",
	    "u@example.com", NULL, M("Subject: x"), CLEANUP_OK, "", 0,
	    M("Subject: x"), NULL, NULL},
	{"folded headers kept", "", 0, "a@b.example", "u@example.com", NULL,
	    M("Subject: hello\n\tworld\nTo: x@y.example\n\nb\n"), CLEANUP_OK,
	    "", 0, M("Subject: hello\n\tworld\nTo: x@y.example\n\nb\n"), NULL,
	    NULL},
	{"no headers at all", "", 0, "a@b.example", "u@example.com", NULL,
	    M("just text\n"), CLEANUP_OK, "", 0, M("just text\n"), NULL, NULL},
	{"empty message", "", 0, "a@b.example", "u@example.com", NULL, M(""),
	    CLEANUP_OK, "", 0, M(""), NULL, NULL},
	{"8-bit and NUL kept, a bare CR a space", "", 0, "a@b.example",
	    "u@example.com",
	    NULL, M("Subject: x\n\n\xc3\xa9t\xc3\xa9\n\0nul\na\rb\n"),
	    CLEANUP_OK, "", 0, M("Subject: x\n\n\xc3\xa9t\xc3\xa9\n\0nul\n"
	    "a b\n"), NULL, NULL},
	{"null sender", "", 0, "", "u@example.com", NULL, M("Subject: b\n\nx\n"),
	    CLEANUP_OK, "", 0, M("Subject: b\n\nx\n"), "", "u@example.com"},
	{"header_checks REJECT", "", 0, "a@b.example", "u@example.com", NULL,
	    M("Subject: buy viagra now\n\nx\n"), CLEANUP_REJECT,
	    "550 5.7.1 No spam here", 0, NULL, 0, NULL, NULL},
	{"header_checks sees the unfolded header", "", 0, "a@b.example",
	    "u@example.com", NULL, M("Subject: folded\n two\n\nx\n"),
	    CLEANUP_REJECT, "550 5.7.1 folded matched", 0, NULL, 0, NULL, NULL},
	{"header_checks REJECT with dsn", "", 0, "a@b.example",
	    "u@example.com", NULL, M("X-Bad: 1\n\nx\n"), CLEANUP_REJECT,
	    "550 5.7.0 bad header", 0, NULL, 0, NULL, NULL},
	{"header_checks HOLD", "", 0, "a@b.example", "u@example.com", NULL,
	    M("Subject: hold me\n\nx\n"), CLEANUP_OK, "", 1,
	    M("Subject: hold me\n\nx\n"), NULL, NULL},
	{"header_checks IGNORE drops the header", "", 0, "a@b.example",
	    "u@example.com", NULL, M("X-Drop: yes\n\tmore\nSubject: k\n\nx\n"),
	    CLEANUP_OK, "", 0, M("Subject: k\n\nx\n"), NULL, NULL},
	{"header_checks DISCARD", "", 0, "a@b.example", "u@example.com", NULL,
	    M("Subject: please discard\n\nx\n"), CLEANUP_DISCARD, "", 0, NULL,
	    0, NULL, NULL},
	{"header_checks WARN keeps the message", "", 0, "a@b.example",
	    "u@example.com", NULL, M("X-Warn: 1\n\nx\n"), CLEANUP_OK, "", 0,
	    M("X-Warn: 1\n\nx\n"), NULL, NULL},
	{"header_checks not applied to the body", "", 0, "a@b.example",
	    "u@example.com", NULL, M("Subject: ok\n\nSubject: viagra\n"),
	    CLEANUP_OK, "", 0, M("Subject: ok\n\nSubject: viagra\n"), NULL,
	    NULL},
	{"body_checks REJECT", "", 0, "a@b.example", "u@example.com", NULL,
	    M("Subject: ok\n\nfine\nBADLINE here\n"), CLEANUP_REJECT,
	    "550 5.7.1 body rejected", 0, NULL, 0, NULL, NULL},
	{"body_checks IGNORE", "", 0, "a@b.example", "u@example.com", NULL,
	    M("Subject: ok\n\nkeep\ndropline\nkeep2\n"), CLEANUP_OK, "", 0,
	    M("Subject: ok\n\nkeep\nkeep2\n"), NULL, NULL},
	{"header_checks PREPEND: a header before the matched one", "", 0,
	    "a@b.example", "u@example.com", NULL,
	    M("From: a@b.example\nSubject: prepend me\n\tfolded\n\nbody\n"),
	    CLEANUP_OK, "", 0, M("From: a@b.example\nX-Tag: tagged\n"
	    "Subject: prepend me\n\tfolded\n\nbody\n"), NULL, NULL},
	{"header_checks REPLACE with $1, folds gone", "", 0, "a@b.example",
	    "u@example.com", NULL, M("Subject: replace\n me\nX-A: 1\n\nb\n"),
	    CLEANUP_OK, "", 0, M("Subject: [was] replace me\nX-A: 1\n\nb\n"),
	    NULL, NULL},
	{"header_checks REPLACE: the new header is rewritten",
	    "sender_canonical_maps=inline:{old@example.com=new@example.com}",
	    0, "a@b.example", "u@example.com", NULL,
	    M("X-Replace-From: yes\nSubject: s\n\nb\n"), CLEANUP_OK, "", 0,
	    M("From: Old <new@example.com>\nSubject: s\n\nb\n"), NULL, NULL},
	{"header_checks REPLACE: the new header can be dropped", "", 0,
	    "a@b.example", "u@example.com", NULL,
	    M("X-Replace-Rp: yes\nSubject: s\n\nb\n"), CLEANUP_OK, "", 0,
	    M("Subject: s\n\nb\n"), NULL, NULL},
	{"header_checks PREPEND/REPLACE without header text: kept", "", 0,
	    "a@b.example", "u@example.com", NULL,
	    M("X-Bad-Prepend: 1\nX-Bad-Replace: 2\nX-Empty: 3\n\nb\n"),
	    CLEANUP_OK, "", 0,
	    M("X-Bad-Prepend: 1\nX-Bad-Replace: 2\nX-Empty: 3\n\nb\n"), NULL,
	    NULL},
	{"header_checks PREPEND on the last header, no final newline", "", 0,
	    "a@b.example", "u@example.com", NULL, M("Subject: prepend me"),
	    CLEANUP_OK, "", 0, M("X-Tag: tagged\nSubject: prepend me"), NULL,
	    NULL},
	{"body_checks PREPEND and REPLACE", "", 0, "a@b.example",
	    "u@example.com", NULL, M("Subject: ok\n\nfirst\nprependline\n"
	    "replaceline abc\nlast\n"), CLEANUP_OK, "", 0, M("Subject: ok\n\n"
	    "first\ninserted before\nprependline\nreplaced: abc\nlast\n"),
	    NULL, NULL},
	{"body_checks REPLACE on a last line without newline", "", 0,
	    "a@b.example", "u@example.com", NULL,
	    M("Subject: ok\n\nreplaceline z"), CLEANUP_OK, "", 0,
	    M("Subject: ok\n\nreplaced: z"), NULL, NULL},
	{"body_checks PREPEND/REPLACE without text: line kept", "", 0,
	    "a@b.example", "u@example.com", NULL,
	    M("Subject: ok\n\nemptyprepend\nemptyreplace\n"), CLEANUP_OK, "",
	    0, M("Subject: ok\n\nemptyprepend\nemptyreplace\n"), NULL, NULL},
	{"body_checks beyond body_checks_size_limit: no PREPEND",
	    "body_checks_size_limit=10", 0, "a@b.example", "u@example.com",
	    NULL, M("Subject: ok\n\n0123456789\nprependline\n"), CLEANUP_OK,
	    "", 0, M("Subject: ok\n\n0123456789\nprependline\n"), NULL, NULL},
	{"canonical rewriting: envelope and headers",
	    "sender_canonical_maps=inline:{old@example.com=new@example.com}|"
	    "canonical_maps=inline:{@olddomain.example=@newdomain.example}",
	    0, "old@example.com", "u@olddomain.example", NULL,
	    M("From: Old Name <old@example.com>\nTo: u@olddomain.example, "
	    "\"Q, x\" <v@olddomain.example>\nSubject: old@example.com\n\nb\n"),
	    CLEANUP_OK, "", 0, M("From: Old Name <new@example.com>\n"
	    "To: u@newdomain.example, \"Q, x\" <v@newdomain.example>\n"
	    "Subject: old@example.com\n\nb\n"), "new@example.com",
	    "u@newdomain.example"},
	{"canonical map down: 451", "canonical_maps=lmdb:/nonexistent/canon",
	    0, "a@b.example", "u@example.com", NULL, M("Subject: x\n\nb\n"),
	    CLEANUP_DEFER, "451 4.3.0 Error: temporary lookup failure", 0, NULL,
	    0, NULL, NULL},
	{"header_checks map down: 451",
	    "header_checks=regexp:/nonexistent/header_checks", 0, "a@b.example",
	    "u@example.com", NULL, M("Subject: x\n\nb\n"), CLEANUP_DEFER,
	    "451 4.3.0 Error: temporary lookup failure", 0, NULL, 0, NULL,
	    NULL},
	{"smtpd access HOLD: into hold/", "", CLEANUP_FLAG_HOLD,
	    "a@b.example", "u@example.com", NULL, M("Subject: x\n\nb\n"),
	    CLEANUP_OK, "", 1, M("Subject: x\n\nb\n"), NULL, NULL},
	{"smtpd access DISCARD: nothing queued", "", CLEANUP_FLAG_DISCARD,
	    "a@b.example", "u@example.com", NULL, M("Subject: x\n\nb\n"),
	    CLEANUP_DISCARD, "", 0, NULL, 0, NULL, NULL},
	{"local submission gets Message-ID, Date, From", "", CLEANUP_FLAG_LOCAL,
	    "user1@example.com", "u@example.com", NULL, M("Subject: x\n\nb\n"),
	    CLEANUP_OK, "", 0, NULL, 0, NULL, NULL},
	{"local submission keeps existing headers", "", CLEANUP_FLAG_LOCAL,
	    "user1@example.com", "u@example.com", NULL,
	    M("Message-ID: <a@b>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
	    "From: x@y.example\n\nb\n"), CLEANUP_OK, "", 0,
	    M("Message-ID: <a@b>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
	    "From: x@y.example\n\nb\n"), NULL, NULL},
	{"message_drop_headers: Bcc, Return-Path, Content-Length dropped", "",
	    0, "a@b.example", "u@example.com", NULL,
	    M("Return-Path: <x@y.example>\nSubject: s\nBCC: secret@x.example,\n"
	    "\tother@x.example\nContent-Length: 5\nBccx: kept\n\nb\n"),
	    CLEANUP_OK, "", 0, M("Subject: s\nBccx: kept\n\nb\n"), NULL, NULL},
	{"message_drop_headers empty keeps them", "message_drop_headers=", 0,
	    "a@b.example", "u@example.com", NULL,
	    M("Bcc: secret@x.example\n\nb\n"), CLEANUP_OK, "", 0,
	    M("Bcc: secret@x.example\n\nb\n"), NULL, NULL},
	{"hopcount_limit reached: mail loop", "hopcount_limit=3", 0,
	    "a@b.example", "u@example.com", NULL, M("Received: 1\nReceived: 2\n"
	    "received: 3\n\nb\n"), CLEANUP_REJECT,
	    "554 5.4.0 Error: too many hops", 0, NULL, 0, NULL, NULL},
	{"below hopcount_limit", "hopcount_limit=3", 0, "a@b.example",
	    "u@example.com", NULL, M("Received: 1\nReceived: 2\n\nReceived: "
	    "in the body does not count\n"), CLEANUP_OK, "", 0,
	    M("Received: 1\nReceived: 2\n\nReceived: in the body does not "
	    "count\n"), NULL, NULL},
	{"two recipients", "", 0, "a@b.example", "u@example.com",
	    "v@example.com", M("Subject: two\n\nb\n"), CLEANUP_OK, "", 0,
	    M("Subject: two\n\nb\n"), NULL, NULL},
};

/* log_hook - keep every line */
static void
log_hook(int level, const char *text, void *ctx)
{
	buf_puts(logged, text);
	buf_putc(logged, '\n');
}

/* write_file - a small fixture file */
static void
write_file(const char *path, const char *text)
{
	FILE	*fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
}

/* apply_conf - base configuration plus overrides */
static void
apply_conf(const char *extra)
{
	char	*copy, *cp, *tok, *p;

	conf_reset();
	conf_set("myhostname", "server.example.com");
	conf_set("mydomain", "example.com");
	conf_set("mydestination", "server.example.com, localhost");
	p = xasprintf("regexp:%s/header_checks", qdir);
	conf_set("header_checks", p);
	free(p);
	p = xasprintf("regexp:%s/body_checks", qdir);
	conf_set("body_checks", p);
	free(p);
	copy = xstrdup(extra);
	cp = copy;
	while ((tok = str_token(&cp, "|")) != NULL)
		conf_set_option(tok);
	free(copy);
}

/* read_message - the message part of a queue file */
static char *
read_message(struct queue_file *qf, size_t *len)
{
	char	*b = xmalloc((size_t)qf->msg_len + 1);
	ssize_t	 n = pread(qf->fd, b, (size_t)qf->msg_len, qf->msg_offset);

	*len = n < 0 ? 0 : (size_t)n;
	b[*len] = 0;
	return (b);
}

/* skip_received - past the first header (Received:) and its folds */
static const char *
skip_received(const char *m, size_t len, size_t *rlen)
{
	const char *p = m, *end = m + len, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		p = nl + 1;
		if (p >= end || (*p != '\t' && *p != ' '))
			break;
	}
	*rlen = (size_t)(p - m);
	return (p);
}

/* check_file - the queue file of a CLEANUP_OK vector */
static void
check_file(const struct vec *v, const struct cleanup_result *res)
{
	char	 err[256], name[300];
	char	*path, *msg, *want;
	struct queue_file *qf;
	const char *rest;
	size_t	 len, rlen;

	path = queue_path(qdir, v->hold ? "hold" : "incoming", res->queue_id);
	qf = queue_file_open(path, 0, err, sizeof(err));
	snprintf(name, sizeof(name), "%s: queue file opens", v->name);
	tap_ok(qf != NULL, "%s (%s)", name, qf ? "" : err);
	free(path);
	if (qf == NULL)
		return;
	msg = read_message(qf, &len);
	rest = skip_received(msg, len, &rlen);
	if (v->out) {
		snprintf(name, sizeof(name), "%s: message after Received:",
		    v->name);
		tap_ok(len - rlen == v->outlen && memcmp(rest, v->out,
		    v->outlen) == 0, "%s", name);
	}
	want = v->rcpt2 ? xasprintf("Received: from helo.example "
	    "(client.example [192.0.2.1])\n\tby server.example.com (postern) "
	    "with ESMTP id %s;\n\t", res->queue_id) : xasprintf("Received: "
	    "from helo.example (client.example [192.0.2.1])\n\tby "
	    "server.example.com (postern) with ESMTP id %s\n\tfor <%s>; ",
	    res->queue_id, v->rcpt1);
	snprintf(name, sizeof(name), "%s: Received: header", v->name);
	tap_ok(strncmp(msg, want, strlen(want)) == 0 && rlen > strlen(want)
	    + 25, "%s", name);
	free(want);
	if (v->want_sender) {
		snprintf(name, sizeof(name), "%s: envelope sender", v->name);
		tap_is_str(qf->sender, v->want_sender, name);
	}
	if (v->want_rcpt1) {
		snprintf(name, sizeof(name), "%s: envelope recipient", v->name);
		tap_is_str(qf->nrcpts ? qf->rcpts[0].addr : NULL, v->want_rcpt1,
		    name);
		if (strcmp(v->want_rcpt1, v->rcpt1) != 0) {
			snprintf(name, sizeof(name), "%s: original recipient "
			    "kept", v->name);
			tap_is_str(qf->rcpts[0].orcpt, v->rcpt1, name);
		}
	}
	if (v->flags & CLEANUP_FLAG_LOCAL && v->out == NULL) {
		char	*mid = xasprintf("Message-ID: <");

		tap_ok(strstr(rest, mid) && strstr(rest, res->queue_id)
		    && strstr(rest, "@server.example.com>\nDate: ")
		    && strstr(rest, "\nFrom: user1@example.com\n\nb\n")
		    && strncmp(rest, "Subject: x\nMessage-ID: <", 24) == 0,
		    "%s: added headers at the end of the header block",
		    v->name);
		free(mid);
	}
	free(msg);
	queue_file_close(qf);
}

/* count_files - queue files in a subdirectory */
static int
count_files(const char *sub)
{
	char	*p = xasprintf("%s/%s", qdir, sub);
	DIR	*d = opendir(p);
	struct dirent *e;
	int	 n = 0;

	free(p);
	if (d == NULL)
		return (-1);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;	/* a temporary .ID left behind counts too */
	closedir(d);
	return (n);
}

/*
 * The stream API, cut into pieces of stream_step bytes (0: the whole
 * message through cleanup_message()), must give the same file.
 */
static size_t stream_step;
static char step_name[32];

/* run_stream - open, write in pieces, close */
static int
run_stream(struct cleanup_maps *m, const struct cleanup_input *in,
    struct cleanup_result *res, const char *msg, size_t len)
{
	struct cleanup_stream *st = cleanup_stream_open(m, in, res);
	size_t	 off, n;

	for (off = 0; off < len; off += n) {
		n = len - off < stream_step ? len - off : stream_step;
		cleanup_stream_write(st, m, msg + off, n);
	}
	return (cleanup_stream_close(st, m));
}

/* run_vec - one message */
static void
run_vec(const struct vec *v)
{
	struct cleanup_maps *m;
	struct cleanup_input in;
	struct cleanup_result res;
	struct cleanup_rcpt r[2];
	char	 name[300];
	int	 before = count_files("incoming") + count_files("hold"), rc;

	apply_conf(v->conf);
	m = cleanup_maps_new();
	memset(&in, 0, sizeof(in));
	memset(r, 0, sizeof(r));
	r[0].addr = v->rcpt1;
	r[1].addr = v->rcpt2;
	in.queue_dir = qdir;
	in.sender = v->sender;
	in.rcpts = r;
	in.nrcpts = v->rcpt2 ? 2 : 1;
	in.attrs = attrs_v4;
	in.message = v->msg;
	in.message_len = v->len;
	in.flags = v->flags;
	in.log_prefix = "client.example[192.0.2.1]";
	if (stream_step == 0)
		rc = cleanup_message(m, &in, &res);
	else
		rc = run_stream(m, &in, &res, v->msg, v->len);
	snprintf(name, sizeof(name), "%s%s: result", v->name, step_name);
	tap_is_int(rc, v->want, name);
	snprintf(name, sizeof(name), "%s%s: reply", v->name,
		    step_name);
	tap_is_str(rc == CLEANUP_REJECT || rc == CLEANUP_DEFER ? res.reply : "",
	    v->reply, name);
	snprintf(name, sizeof(name), "%s%s: hold", v->name,
		    step_name);
	tap_is_int(res.hold, v->hold, name);
	if (rc == CLEANUP_OK)
		check_file(v, &res);
	else {
		snprintf(name, sizeof(name), "%s%s: nothing queued", v->name,
		    step_name);
		tap_is_int(count_files("incoming") + count_files("hold"), before,
		    name);
	}
	cleanup_maps_free(m);
}

/* input_one - one recipient, u@example.com, from sender; client attrs_v4 */
static void
input_one(struct cleanup_input *in, struct cleanup_rcpt *r,
    const char *sender)
{
	memset(in, 0, sizeof(*in));
	memset(r, 0, sizeof(*r));
	r->addr = "u@example.com";
	in->queue_dir = qdir;
	in->sender = sender;
	in->rcpts = r;
	in->nrcpts = 1;
	in->attrs = attrs_v4;
}

/*
 * later_test - smtpd's group commit (in.later): the writer's copy of the
 * file's bytes, which goes into the journal instead of the file read
 * back (lib/queue.h queue_writer_copy), is the file; a message DKIM
 * signs has no copy, because the signature is written into the file
 * after it is finished
 */
static void
later_test(void)
{
	static const char *attrs_auth[] = {
		"client_name", "client.example", "client_address", "192.0.2.1",
		"sasl_username", "a", NULL,
	};
	static const char msg[] = "From: a@example.org\nSubject: later\n\n"
	    "body\n";
	struct cleanup_maps *m;
	struct cleanup_input in;
	struct cleanup_result res;
	struct cleanup_rcpt r;
	struct cleanup_stream *st;
	struct queue_rename later;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_PKEY *k = NULL;
	struct buf *file;
	char	*key = xasprintf("%s/dkim.pem", qdir), *p, *conf;
	FILE	*fp;
	int	 i, rc;

	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0
	    || EVP_PKEY_keygen(ctx, &k) <= 0 || (fp = fopen(key, "w")) == NULL
	    || !PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL)
	    || fclose(fp) != 0 || chmod(key, 0600) < 0) {
		printf("Bail out! cannot make a DKIM key\n");
		exit(1);
	}
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(ctx);
	p = xasprintf("%s/signing", qdir);
	write_file(p, "*@example.org k\n");
	free(p);
	p = xasprintf("%s/keys", qdir);
	conf = xasprintf("k example.org:s1:%s\n", key);
	write_file(p, conf);
	free(conf);
	free(p);
	conf = xasprintf("dkim_signing=yes|dkim_signing_table=texthash:%s/"
	    "signing|dkim_key_table=texthash:%s/keys", qdir, qdir);
	for (i = 0; i < 3; i++) {
		apply_conf(conf);
		m = cleanup_maps_new();
		input_one(&in, &r, "a@example.org");
		memset(&later, 0, sizeof(later));
		if (i)
			in.attrs = attrs_auth;
		/* the third: signed and held (smtpd's HOLD action): the
		 * signature goes into the file under its temporary name */
		in.flags = CLEANUP_FLAG_NOSYNC | (i == 2 ? CLEANUP_FLAG_HOLD
		    : 0);
		in.later = &later;
		in.log_prefix = "client.example[192.0.2.1]";
		st = cleanup_stream_open(m, &in, &res);
		cleanup_stream_write(st, m, msg, sizeof(msg) - 1);
		rc = cleanup_stream_close(st, m);
		p = xasprintf("%s/incoming/.%s", qdir, res.queue_id);
		tap_ok(rc == CLEANUP_OK && later.tmp != NULL
		    && strcmp(later.tmp, p) == 0, "later, %s: finished in %s, "
		    "the rename left to the caller", i == 2 ? "signed, held" :
		    i ? "signed" : "not signed", p + strlen(qdir) + 1);
		free(p);
		file = buf_new(0);
		if (later.tmp && (fp = fopen(later.tmp, "r")) != NULL) {
			char	 chunk[4096];
			size_t	 n;

			while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
				buf_append(file, chunk, n);
			fclose(fp);
		}
		buf_putc(file, 0);
		if (i == 0)
			tap_ok(later.data != NULL && later.len + 1
			    == BUF_LEN(file) && memcmp(later.data,
			    BUF_STR(file), later.len) == 0,
			    "later, not signed: the copy is the file's bytes");
		else
			tap_ok(later.data == NULL && strstr(BUF_STR(file),
			    "DKIM-Signature: v=1; a=ed25519-sha256;") != NULL
			    && strstr(BUF_STR(file), "d=example.org") != NULL,
			    "later, %s: no copy (the file was signed after "
			    "it was finished)", i == 2 ? "signed, held" :
			    "signed");
		buf_free(file);
		queue_rename_abort(&later);
		cleanup_maps_free(m);
	}
	free(conf);
	free(key);
}

/* prepend_test - smtpd access PREPEND: headers before Received: */
static void
prepend_test(void)
{
	struct cleanup_maps *m;
	struct cleanup_input in;
	struct cleanup_result res;
	struct cleanup_rcpt r;
	struct queue_file *qf;
	char	 err[256], *path, *msg;
	const char *want = "X-Greylist: delayed\nX-Two: 2\nReceived: from "
	    "helo.example ";
	size_t	 len;
	int	 rc;

	apply_conf("");
	m = cleanup_maps_new();
	input_one(&in, &r, "a@b.example");
	in.message = "Subject: x\n\nb\n";
	in.message_len = strlen(in.message);
	in.prepend = "X-Greylist: delayed\nX-Two: 2\n";
	rc = cleanup_message(m, &in, &res);
	tap_is_int(rc, CLEANUP_OK, "PREPEND: queued");
	path = queue_path(qdir, "incoming", res.queue_id);
	qf = queue_file_open(path, 0, err, sizeof(err));
	free(path);
	msg = qf ? read_message(qf, &len) : xstrdup("");
	tap_ok(strncmp(msg, want, strlen(want)) == 0
	    && strstr(msg, "\nSubject: x\n\nb\n"),
	    "PREPEND: the headers before Received:, the message after");
	free(msg);
	if (qf)
		queue_file_close(qf);
	cleanup_maps_free(m);
}

/*
 * filter_one - header/body_checks FILTER: the queue file's
 * content_filter (a trailer record overriding the envelope's)
 */
static void
filter_one(const char *message, const char *access_filter, const char *want,
    const char *name)
{
	struct cleanup_maps *m;
	struct cleanup_input in;
	struct cleanup_result res;
	struct cleanup_rcpt r;
	struct queue_file *qf;
	char	 err[256], *path;
	int	 rc;

	apply_conf("");
	m = cleanup_maps_new();
	input_one(&in, &r, "a@b.example");
	in.log_prefix = "client.example[192.0.2.1]";
	in.message = message;
	in.message_len = strlen(message);
	in.filter = access_filter;
	rc = cleanup_message(m, &in, &res);
	path = queue_path(qdir, "incoming", res.queue_id);
	qf = rc == CLEANUP_OK ? queue_file_open(path, 0, err, sizeof(err))
	    : NULL;
	free(path);
	tap_is_str(qf ? queue_file_attr(qf, "content_filter") : "(none)",
	    want, name);
	if (qf)
		queue_file_close(qf);
	cleanup_maps_free(m);
}

/* pure_tests - Received: and Date: formats */
static void
pure_tests(void)
{
	struct buf *b = buf_new(256);
	char	 date[80];

	setenv("TZ", "UTC", 1);
	tzset();
	cleanup_format_date(0, date, sizeof(date));
	tap_is_str(date, "Thu, 1 Jan 1970 00:00:00 +0000 (UTC)", "date UTC");
	setenv("TZ", "EST5", 1);
	tzset();
	cleanup_format_date(86400 * 40, date, sizeof(date));
	tap_is_str(date, "Mon, 9 Feb 1970 19:00:00 -0500 (EST)", "date -0500");
	setenv("TZ", "UTC", 1);
	tzset();
	cleanup_format_received(b, attrs_v6, "mx.example", "ABC123", NULL,
	    "DATE", 0);
	tap_is_str(BUF_STR(b), "Received: from [IPv6:2001:db8::1] (unknown "
	    "[IPv6:2001:db8::1])\n\tby mx.example (postern) with ESMTPS id "
	    "ABC123;\n\tDATE", "Received: IPv6, several recipients");
	buf_reset(b);
	cleanup_format_received(b, NULL, "mx.example", "ABC123", "u@x.example",
	    "DATE", 0);
	tap_is_str(BUF_STR(b), "Received: by mx.example (postern)\n\tid ABC123"
	    "\n\tfor <u@x.example>; DATE", "Received: local submission");
	buf_reset(b);
	{
		const char *evil[] = {"client_address", "192.0.2.1",
		    "helo_name", "a b\r\nX-Injected: 1", "sasl_username",
		    "user1", NULL};

		cleanup_format_received(b, evil, "mx.example", "ID", NULL, "D",
		    1);
		tap_is_str(BUF_STR(b), "Received: from a?b??X-Injected:?1 "
		    "(unknown [192.0.2.1])\n\t(Authenticated sender: user1)\n"
		    "\tby mx.example (postern) with SMTP id ID;\n\tD",
		    "Received: hostile HELO cannot inject headers");
	}
	buf_free(b);
}

int
main(void)
{
	char	*p;
	struct buf *huge;
	size_t	 i;

	logged = buf_new(4096);
	log_init("cleanup_test", 0);
	log_set_hook(log_hook, NULL);
	snprintf(qdir, sizeof(qdir), "/tmp/postern-cleanup-test.XXXXXX");
	if (mkdtemp(qdir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return (1);
	}
	p = xasprintf("%s/incoming", qdir);
	mkdir(p, 0700);
	free(p);
	p = xasprintf("%s/hold", qdir);
	mkdir(p, 0700);
	free(p);
	p = xasprintf("%s/header_checks", qdir);
	write_file(p, "/^Subject:.*viagra/ REJECT No spam here\n"
	    "/^Subject: folded two$/ REJECT folded matched\n"
	    "/^X-Bad:/ REJECT 5.7.0 bad header\n"
	    "/^Subject:.*hold me/ HOLD\n"
	    "/^Subject:.*discard/ DISCARD\n"
	    "/^X-Drop:/ IGNORE\n"
	    "/^X-Warn:/ WARN watched\n"
	    "/^Subject: prepend me/ PREPEND X-Tag: tagged\n"
	    "/^Subject: (replace me)$/ REPLACE Subject: [was] $1\n"
	    "/^X-Replace-From:/ REPLACE From: Old <old@example.com>\n"
	    "/^X-Replace-Rp:/ REPLACE Return-Path: <x@y.example>\n"
	    "/^X-Bad-Prepend:/ PREPEND not a header\n"
	    "/^X-Bad-Replace:/ REPLACE : no name\n"
	    "/^X-Empty:/ PREPEND\n"
	    "/^Subject: filter me/ FILTER smtp:[127.0.0.1]:10025\n"
	    "/^X-Filter-Bad:/ FILTER nocolon\n"
	    "/^X-Filter-Empty:/ FILTER\n");
	free(p);
	p = xasprintf("%s/body_checks", qdir);
	write_file(p, "/^BADLINE/ REJECT body rejected\n/^dropline$/ IGNORE\n"
	    "/^prependline$/ PREPEND inserted before\n"
	    "/^replaceline (.*)$/ REPLACE replaced: $1\n"
	    "/^emptyprepend$/ PREPEND\n/^emptyreplace$/ REPLACE\n"
	    "/^filterline$/ FILTER scan:[::1]:10026\n");
	free(p);
	pure_tests();
	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++)
		run_vec(&vecs[i]);
	stream_step = 1;
	snprintf(step_name, sizeof(step_name), " (stream, 1 byte)");
	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++)
		run_vec(&vecs[i]);
	stream_step = 7;
	snprintf(step_name, sizeof(step_name), " (stream, 7 bytes)");
	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++)
		run_vec(&vecs[i]);
	stream_step = 0;
	step_name[0] = 0;
	prepend_test();
	later_test();
	filter_one("Subject: filter me\n\nb\n", NULL,
	    "smtp:[127.0.0.1]:10025", "header_checks FILTER");
	filter_one("Subject: filter me\n\nfilterline\n", "env:[x]",
	    "scan:[::1]:10026", "body_checks FILTER after a header one: the "
	    "last wins, over smtpd's access FILTER");
	filter_one("X-Filter-Bad: 1\nX-Filter-Empty: 1\n\nb\n", "env:[x]",
	    "env:[x]", "FILTER without transport:destination ignored");
	tap_ok(strstr(BUF_STR(logged), ": filter: header Subject: filter me "
	    "from client.example[192.0.2.1]; from=<a@b.example> "
	    "to=<u@example.com> proto=ESMTP helo=<helo.example>: "
	    "smtp:[127.0.0.1]:10025\n") != NULL && strstr(BUF_STR(logged),
	    ": filter: body filterline from client.example[192.0.2.1]; "
	    "from=<a@b.example> to=<u@example.com> proto=ESMTP "
	    "helo=<helo.example>: scan:[::1]:10026\n") != NULL,
	    "FILTER logged in Postfix's form");
	tap_ok(strstr(BUF_STR(logged), "bad FILTER command nocolon in "
	    "header_checks -- need transport:destination\n") != NULL
	    && strstr(BUF_STR(logged), "missing FILTER command argument in "
	    "header_checks map\n") != NULL, "bad FILTER: Postfix's warnings");

	/*
	 * A huge folded header goes through unchanged up to
	 * header_size_limit; past it the excess is discarded, as Postfix
	 * does (the stream holds one header at most that long).
	 */
	huge = buf_new(300000);
	buf_puts(huge, "Subject: start");
	for (i = 0; i < 5000; i++)
		buf_puts(huge, "\n\tfold fold fold fold fold fold fold fold");
	buf_puts(huge, "\n\nbody\n");
	{
		struct vec hv = {"huge folded header",
		    "header_size_limit=300000", 0, "a@b.example",
		    "u@example.com", NULL, BUF_STR(huge), BUF_LEN(huge),
		    CLEANUP_OK, "", 0, BUF_STR(huge), BUF_LEN(huge), NULL,
		    NULL};
		struct buf *cut = buf_new(110000);
		struct vec cv = {"header past header_size_limit cut",
		    "header_size_limit=102400", 0, "a@b.example",
		    "u@example.com", NULL, BUF_STR(huge), BUF_LEN(huge),
		    CLEANUP_OK, "", 0, NULL, 0, NULL, NULL};

		run_vec(&hv);
		buf_append(cut, BUF_STR(huge), 102400);
		buf_puts(cut, "\n\nbody\n");
		cv.out = BUF_STR(cut);
		cv.outlen = BUF_LEN(cut);
		run_vec(&cv);
		buf_free(cut);
	}
	buf_free(huge);

	/* Missing queue directory: 451, nothing claimed. */
	{
		struct vec qv = {"queue directory missing",
		    "header_checks=|body_checks=", 0, "a@b.example",
		    "u@example.com", NULL, M("Subject: x\n\nb\n"), CLEANUP_DEFER,
		    "451 4.3.0 Error: queue file write error", 0, NULL, 0, NULL,
		    NULL};
		char	 saved[256];

		snprintf(saved, sizeof(saved), "%s", qdir);
		snprintf(qdir, sizeof(qdir), "/nonexistent/postern-queue");
		run_vec(&qv);
		snprintf(qdir, sizeof(qdir), "%s", saved);
	}

	tap_ok(strstr(BUF_STR(logged), "NOQUEUE: reject: header Subject: buy "
	    "viagra now from client.example[192.0.2.1]; from=<a@b.example> "
	    "to=<u@example.com> proto=ESMTP helo=<helo.example>: 5.7.1 No spam "
	    "here\n") != NULL, "header reject logged in Postfix form");
	tap_ok(strstr(BUF_STR(logged), ": hold: header Subject: hold me from "
	    "client.example[192.0.2.1]; from=<a@b.example>") != NULL,
	    "hold logged with the queue id");
	tap_ok(strstr(BUF_STR(logged), ": discard: header Subject: please "
	    "discard from client.example[192.0.2.1]; from=<a@b.example>")
	    != NULL && strstr(BUF_STR(logged), "NOQUEUE: discard: header")
	    == NULL, "discard logged with the queue id, as Postfix does");
	tap_ok(strstr(BUF_STR(logged), ": warning: header X-Warn: 1 from ")
	    != NULL && strstr(BUF_STR(logged), "helo=<helo.example>: "
	    "watched\n") != NULL, "warning logged");
	tap_ok(strstr(BUF_STR(logged), ": message-id=<a@b>\n") != NULL,
	    "message-id logged");
	tap_ok(strstr(BUF_STR(logged), ": prepend: header Subject: prepend me"
	    "?folded from client.example[192.0.2.1]; from=<a@b.example> "
	    "to=<u@example.com> proto=ESMTP helo=<helo.example>: X-Tag: "
	    "tagged\n") != NULL, "header PREPEND logged in Postfix form");
	tap_ok(strstr(BUF_STR(logged), ": replace: header Subject: replace me "
	    "from client.example[192.0.2.1]; from=<a@b.example> "
	    "to=<u@example.com> proto=ESMTP helo=<helo.example>: Subject: "
	    "[was] replace me\n") != NULL, "header REPLACE logged");
	tap_ok(strstr(BUF_STR(logged), ": prepend: body prependline from "
	    "client.example[192.0.2.1]; from=<a@b.example> to=<u@example.com> "
	    "proto=ESMTP helo=<helo.example>: inserted before\n") != NULL,
	    "body PREPEND logged");
	tap_ok(strstr(BUF_STR(logged), ": replace: body replaceline abc from "
	    "client.example[192.0.2.1]; from=<a@b.example> to=<u@example.com> "
	    "proto=ESMTP helo=<helo.example>: replaced: abc\n") != NULL,
	    "body REPLACE logged");
	tap_ok(strstr(BUF_STR(logged), "bad PREPEND header text \"not a "
	    "header\" in header_checks map -- need \"headername: "
	    "headervalue\"\n") != NULL && strstr(BUF_STR(logged), "bad REPLACE "
	    "header text \": no name\" in header_checks map") != NULL,
	    "header text that is not a header: Postfix's warning");
	tap_ok(strstr(BUF_STR(logged), "PREPEND action without text in "
	    "header_checks map\n") != NULL && strstr(BUF_STR(logged),
	    "PREPEND action without text in body_checks map\n") != NULL
	    && strstr(BUF_STR(logged), "REPLACE action without text in "
	    "body_checks map\n") != NULL, "action without text: warned");
	tap_ok(strstr(BUF_STR(logged), "not supported by postern") == NULL
	    && strstr(BUF_STR(logged), "unknown header/body_checks action")
	    == NULL, "PREPEND and REPLACE are known actions");
	conf_reset();
	p = xasprintf("rm -rf '%s'", qdir);
	if (system(p) != 0)
		printf("# could not remove %s\n", qdir);
	free(p);
	buf_free(logged);
	return (tap_done());
}
