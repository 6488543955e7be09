/*
 * NAME
 *	queue_test - tests for queue.c: format, crash rules, helpers
 * DESCRIPTION
 *	Round trip of every field with hostile bytes; every truncation of
 *	a valid file is corrupt (never a crash); a garbage table; huge
 *	counts; mark_done/set_warn persistence; add_rcpt with parent found
 *	again after reopen (no duplicate); a torn append is cut off; ids;
 *	queue_move/scan/clean_temp; the bounce/defer logs.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "queue.h"
#include "str.h"
#include "tap.h"
#include "xalloc.h"

static char qdir[128];

static const char body[] = "Subject: t\xc3\xa9st\n\n.leading dot\n"
    "bare\rcr and NUL\0 byte\nno final newline";

/* slurp - whole file into a buf */
static struct buf *
slurp(const char *path)
{
	struct buf *b = buf_new(0);
	char	 chunk[4096];
	ssize_t	 n;
	int	 fd = open(path, O_RDONLY);

	while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(b, chunk, (size_t)n);
	if (fd >= 0)
		close(fd);
	return (b);
}

/* file_is - the file holds exactly these bytes */
static int
file_is(const char *path, const void *data, size_t len)
{
	struct buf *b = slurp(path);
	int	 ok = BUF_LEN(b) == len && memcmp(BUF_STR(b), data, len) == 0;

	buf_free(b);
	return (ok);
}

/* spew - write bytes to a file */
static void
spew(const char *path, const void *data, size_t len)
{
	int	 fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		abort();
	close(fd);
}

/* make_msg - write a valid message, return its id (static) */
static const char *
make_msg(const char *subdir)
{
	static char id[QUEUE_ID_MAX + 1];
	struct queue_writer *w;
	char	 err[256];

	w = queue_writer_new(qdir, subdir, err, sizeof(err));
	if (w == NULL) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	snprintf(id, sizeof(id), "%s", queue_writer_id(w));
	queue_writer_sender(w, "sender with space@example.org");
	queue_writer_attr(w, "client_name", "a=b %41 \r\n\t\xff");
	queue_writer_attr(w, "empty", "");
	queue_writer_rcpt(w, "one@example.com", NULL, 0);
	queue_writer_rcpt(w, "\"two x\"@example.com", "rfc822;two@x", 6);
	queue_writer_warn(w, 1234567);
	queue_writer_attr(w, "content_filter", "envelope:x");
	queue_writer_body(w, body, sizeof(body) - 1);
	queue_writer_trailer(w, "content_filter", "smtp:[127.0.0.1]:1 %=");
	if (queue_writer_commit(w, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	return (id);
}

/* has - the bytes of b hold the text s */
static int
has(const struct buf *b, const char *s)
{
	return (memmem(BUF_STR(b), BUF_LEN(b), s, strlen(s)) != NULL);
}

/* test_roundtrip - what was written is read back */
static void
test_roundtrip(void)
{
	char	 err[256], *path, *msg;
	const char *id = make_msg("incoming");
	struct queue_file *qf;
	struct buf *disk;

	path = queue_path(qdir, "incoming", id);
	qf = queue_file_open(path, 0, err, sizeof(err));
	tap_ok(qf != NULL, "valid file opens (%s)", qf ? "" : err);
	if (qf == NULL)
		return;
	tap_is_str(qf->id, id, "id");
	tap_is_str(qf->sender, "sender with space@example.org", "sender");
	tap_is_str(queue_file_attr(qf, "client_name"),
	    "a=b %41 \r\n\t\xff", "attribute with hostile bytes");
	tap_is_str(queue_file_attr(qf, "empty"), "", "empty attribute");
	tap_ok(queue_file_attr(qf, "nope") == NULL, "missing attribute");
	tap_is_str(queue_file_attr(qf, "content_filter"),
	    "smtp:[127.0.0.1]:1 %=", "a trailer attribute wins over the "
	    "envelope's");
	tap_is_int((long)qf->nrcpts, 2, "two recipients");
	tap_is_str(qf->rcpts[1].addr, "\"two x\"@example.com", "rcpt addr");
	tap_is_str(qf->rcpts[1].orcpt, "rfc822;two@x", "rcpt orcpt");
	tap_ok(qf->rcpts[0].orcpt == NULL, "no orcpt");
	tap_is_int(qf->rcpts[1].notify, 6, "notify bits");
	tap_is_int(qf->rcpts[0].parent, -1, "original rcpt has no parent");
	tap_is_int(qf->warn_time, 1234567, "warn time");
	tap_ok(qf->arrival > 1700000000, "arrival time");
	tap_is_int((long)qf->msg_len, (long)sizeof(body) - 1, "msg_len");
	msg = xmalloc(sizeof(body));
	tap_ok(pread(qf->fd, msg, sizeof(body) - 1, qf->msg_offset)
	    == (ssize_t)sizeof(body) - 1
	    && memcmp(msg, body, sizeof(body) - 1) == 0,
	    "message bytes exact (NUL, CR, no final LF)");
	free(msg);
	tap_ok(queue_file_msg(qf) != NULL && memcmp(queue_file_msg(qf),
	    body, sizeof(body) - 1) == 0, "small file read whole: "
	    "queue_file_msg() gives the exact message bytes");
	tap_ok(queue_file_mark_done(qf, 0) < 0, "read-only: mark_done fails");
	queue_file_close(qf);
	qf = queue_file_open(path, 1, err, sizeof(err));
	tap_ok(qf != NULL && queue_file_msg(qf) == NULL,
	    "opened writable: no message kept (queue_file_msg() NULL)");
	queue_file_close(qf);
	disk = slurp(path);
	tap_ok(has(disk, "\nSsender%20with%20space@example.org\n"),
	    "on disk: sender %%XX-encoded as QUEUE.md says");
	tap_ok(has(disk, "\nAclient_name=a%3Db%20%2541%20%0D%0A%09\xff\n"),
	    "on disk: attribute %%XX-encoded, 8-bit raw");
	tap_ok(has(disk, "\nRP 6 -1 \"two%20x\"@example.com rfc822;two@x\n"),
	    "on disk: recipient and orcpt %%XX-encoded");
	tap_ok(has(disk, "Acontent_filter=smtp:[127.0.0.1]:1%20%25%3D\nE\n")
	    && !has(disk, "E\nAcontent_filter"),
	    "on disk: the trailer A record between the message and E");
	buf_free(disk);
	free(path);
}

/*
 * test_large_msg - a file larger than the reader's buffer parses (its
 * trailer read after the message) and keeps no message in memory
 */
static void
test_large_msg(void)
{
	struct queue_writer *w;
	struct queue_file *qf;
	char	 err[256], *path, *big, *got;
	size_t	 len = QUEUE_LINE_MAX + 5000, i;

	big = xmalloc(len);
	for (i = 0; i < len; i++)
		big[i] = i % 80 == 79 ? '\n' : 'a' + (char)(i % 26);
	w = queue_writer_new(qdir, "incoming", err, sizeof(err));
	if (w == NULL)
		abort();
	queue_writer_sender(w, "big@example.org");
	queue_writer_rcpt(w, "one@example.com", NULL, 0);
	queue_writer_body(w, big, len);
	queue_writer_trailer(w, "after", "the message");
	path = queue_path(qdir, "incoming", queue_writer_id(w));
	if (queue_writer_commit(w, err, sizeof(err)) < 0)
		abort();
	qf = queue_file_open(path, 0, err, sizeof(err));
	tap_ok(qf != NULL, "large file opens (%s)", qf ? "" : err);
	if (qf != NULL) {
		tap_is_str(queue_file_attr(qf, "after"), "the message",
		    "large file: trailer after the message read");
		tap_ok(queue_file_msg(qf) == NULL,
		    "large file: no message kept (queue_file_msg() NULL)");
		got = xmalloc(len);
		tap_ok(qf->msg_len == (off_t)len && pread(qf->fd, got, len,
		    qf->msg_offset) == (ssize_t)len
		    && memcmp(got, big, len) == 0,
		    "large file: message bytes exact on disk");
		free(got);
	}
	queue_file_close(qf);
	unlink(path);
	free(path);

	/* an envelope longer than one read chunk (16 KB) in a large file */
	w = queue_writer_new(qdir, "incoming", err, sizeof(err));
	if (w == NULL)
		abort();
	for (i = 0; i < 1000; i++) {
		char	 rc[64];

		snprintf(rc, sizeof(rc), "recipient-number-%zu@example.com", i);
		queue_writer_rcpt(w, rc, NULL, 0);
	}
	queue_writer_body(w, big, len);
	queue_writer_trailer(w, "after", "the message");
	path = queue_path(qdir, "incoming", queue_writer_id(w));
	if (queue_writer_commit(w, err, sizeof(err)) < 0)
		abort();
	qf = queue_file_open(path, 1, err, sizeof(err));
	tap_ok(qf != NULL && qf->nrcpts == 1000
	    && strcmp(qf->rcpts[999].addr, "recipient-number-999@example.com")
	    == 0 && qf->msg_len == (off_t)len
	    && queue_file_attr(qf, "after") != NULL,
	    "large file, 1000 recipients (envelope over 16 KB): all read "
	    "(%s)", qf ? "" : err);
	queue_file_close(qf);
	unlink(path);
	free(path);
	free(big);
}

/* test_truncations - every proper prefix is corrupt, never a crash */
static void
test_truncations(void)
{
	const char *id = make_msg("incoming");
	char	*path = queue_path(qdir, "incoming", id);
	char	*tpath = queue_path(qdir, "corrupt", id);
	struct buf *b = slurp(path);
	struct queue_file *qf;
	char	 err[256];
	size_t	 len;
	int	 opened = 0;

	for (len = 0; len < BUF_LEN(b); len++) {
		spew(tpath, BUF_STR(b), len);
		if ((qf = queue_file_open(tpath, 0, err, sizeof(err))) != NULL)
			opened++;
		queue_file_close(qf);
	}
	tap_is_int(opened, 0, "every truncation is rejected");
	spew(tpath, BUF_STR(b), BUF_LEN(b));
	qf = queue_file_open(tpath, 0, err, sizeof(err));
	tap_ok(qf != NULL, "the full copy opens");
	queue_file_close(qf);
	unlink(tpath);
	buf_free(b);
	free(path);
	free(tpath);
}

static const struct {
	const char *name;
	const char *text;	/* %s = id; \x01 stands for a NUL byte */
} garbage_vec[] = {
	{"empty", ""},
	{"just LF", "\n"},
	{"binary", "\xff\xfe\x00\x01"},
	{"wrong version", "V2\nI%s\nT1.000000\nW00000000000000000000\nS\n"
	    "M00000000000000000000\nE\n"},
	{"missing I", "V1\nT1.000000\nW00000000000000000000\nS\n"
	    "M00000000000000000000\nE\n"},
	{"bad time", "V1\nI%s\nT1\nW00000000000000000000\nS\n"
	    "M00000000000000000000\nE\n"},
	{"negative time", "V1\nI%s\nT-1.000000\nW00000000000000000000\nS\n"
	    "M00000000000000000000\nE\n"},
	{"short W", "V1\nI%s\nT1.000000\nW0\nS\n"
	    "M00000000000000000000\nE\n"},
	{"huge M", "V1\nI%s\nT1.000000\nW00000000000000000000\nS\n"
	    "M09223372036854775807\nE\n"},
	{"M overflows", "V1\nI%s\nT1.000000\nW00000000000000000000\nS\n"
	    "M99999999999999999999\nE\n"},
	{"M longer than file", "V1\nI%s\nT1.000000\nW00000000000000000000\n"
	    "S\nM00000000000000000100\nE\n"},
	{"no E", "V1\nI%s\nT1.000000\nW00000000000000000000\nS\n"
	    "M00000000000000000000\n"},
	{"R between message and E", "V1\nI%s\nT1.000000\n"
	    "W00000000000000000000\nS\nM00000000000000000000\nRP 0 -1 a@b\nE\n"},
	{"A after E", "V1\nI%s\nT1.000000\nW00000000000000000000\nS\n"
	    "M00000000000000000000\nE\nAx=y\n"},
	{"trailer A without E", "V1\nI%s\nT1.000000\nW00000000000000000000\n"
	    "S\nM00000000000000000000\nAx=y\n"},
	{"bad trailer A", "V1\nI%s\nT1.000000\nW00000000000000000000\nS\n"
	    "M00000000000000000000\nAxy\nE\n"},
	{"junk after E", "V1\nI%s\nT1.000000\nW00000000000000000000\nS\n"
	    "M00000000000000000000\nE\nX\n"},
	{"bad status byte", "V1\nI%s\nT1.000000\nW00000000000000000000\nS\n"
	    "RX 0 -1 a@b\nM00000000000000000000\nE\n"},
	{"huge notify", "V1\nI%s\nT1.000000\nW00000000000000000000\nS\n"
	    "RP 99999999999999999999999 -1 a@b\nM00000000000000000000\nE\n"},
	{"parent not before", "V1\nI%s\nT1.000000\nW00000000000000000000\nS\n"
	    "RP 0 0 a@b\nM00000000000000000000\nE\n"},
	{"huge parent", "V1\nI%s\nT1.000000\nW00000000000000000000\nS\n"
	    "RP 0 -1 a@b\nRP 0 4294967296 c@d\nM00000000000000000000\nE\n"},
	{"too many fields", "V1\nI%s\nT1.000000\nW00000000000000000000\nS\n"
	    "RP 0 -1 a@b c d\nM00000000000000000000\nE\n"},
	{"missing address", "V1\nI%s\nT1.000000\nW00000000000000000000\nS\n"
	    "RP 0 -1\nM00000000000000000000\nE\n"},
	{"bad escape", "V1\nI%s\nT1.000000\nW00000000000000000000\nSa%%zz\n"
	    "M00000000000000000000\nE\n"},
	{"encoded NUL", "V1\nI%s\nT1.000000\nW00000000000000000000\nSa%%00\n"
	    "M00000000000000000000\nE\n"},
	{"raw NUL in sender", "V1\nI%s\nT1.000000\nW00000000000000000000\n"
	    "Sa\x01z\nM00000000000000000000\nE\n"},
	{"A after R", "V1\nI%s\nT1.000000\nW00000000000000000000\nS\n"
	    "RP 0 -1 a@b\nAx=y\nM00000000000000000000\nE\n"},
	{"id differs", "V1\nIAAAA\nT1.000000\nW00000000000000000000\nS\n"
	    "M00000000000000000000\nE\n"},
	{"bare CR records", "V1\rI%s\rT1.000000\rW00000000000000000000\rS\r"
	    "M00000000000000000000\rE\r"},
	{"CRLF records", "V1\r\nI%s\r\nT1.000000\r\nW00000000000000000000\r\n"
	    "S\r\nM00000000000000000000\r\nE\r\n"},
};

/* test_mutations - random byte changes: parsed or refused, never a crash */
static void
test_mutations(void)
{
	const char *id = make_msg("incoming");
	char	*path = queue_path(qdir, "incoming", id);
	char	*tpath = queue_path(qdir, "corrupt", id), err[256];
	struct buf *b = slurp(path), *m = buf_new(0);
	struct queue_file *qf;
	static const char bytes[] = "\n\r\0 %=-0123456789RPDEMVITWSA\xff";
	unsigned long seed = 12345;
	int	 i, j, opened = 0, refused = 0;

	for (i = 0; i < 3000; i++) {
		buf_reset(m);
		buf_append(m, BUF_STR(b), BUF_LEN(b));
		for (j = 0; j < 1 + i % 4; j++) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			BUF_STR(m)[(seed >> 33) % BUF_LEN(m)] =
			    bytes[(seed >> 17) % (sizeof(bytes) - 1)];
		}
		spew(tpath, BUF_STR(m), BUF_LEN(m));
		err[0] = 0;
		if ((qf = queue_file_open(tpath, i % 2, err, sizeof(err))))
			opened++;
		else if (err[0])
			refused++;
		queue_file_close(qf);
	}
	tap_is_int(opened + refused, 3000,
	    "3000 mutated files: each parsed or refused with a reason");
	unlink(tpath);
	buf_free(b);
	buf_free(m);
	free(path);
	free(tpath);
}

/* test_garbage - hostile files are corrupt, not crashes */
static void
test_garbage(void)
{
	const char *id = "GARBAGE0001";
	char	*path = queue_path(qdir, "corrupt", id), err[256];
	struct buf *b = buf_new(0);
	struct queue_file *qf;
	size_t	 i, j;

	for (i = 0; i < sizeof(garbage_vec) / sizeof(garbage_vec[0]); i++) {
		buf_reset(b);
		buf_printf(b, garbage_vec[i].text, id);
		for (j = 0; j < BUF_LEN(b); j++)
			if (BUF_STR(b)[j] == '\x01')
				BUF_STR(b)[j] = 0;
		spew(path, BUF_STR(b), BUF_LEN(b));
		err[0] = 0;
		qf = queue_file_open(path, 0, err, sizeof(err));
		tap_ok(qf == NULL && err[0], "garbage: %s (%s)",
		    garbage_vec[i].name, err);
		queue_file_close(qf);
	}
	/* an overlong record */
	buf_reset(b);
	buf_printf(b, "V1\nI%s\nT1.000000\nW00000000000000000000\nS", id);
	for (j = 0; j < QUEUE_LINE_MAX + 10; j++)
		buf_putc(b, 'x');
	buf_puts(b, "\nM00000000000000000000\nE\n");
	spew(path, BUF_STR(b), BUF_LEN(b));
	qf = queue_file_open(path, 0, err, sizeof(err));
	tap_ok(qf == NULL && strstr(err, "too long"), "overlong record (%s)",
	    err);
	/* the minimal valid file, to show the table is not vacuous */
	buf_reset(b);
	buf_printf(b, "V1\nI%s\nT1.000000\nW00000000000000000000\nS\n"
	    "M00000000000000000000\nE\n", id);
	spew(path, BUF_STR(b), BUF_LEN(b));
	qf = queue_file_open(path, 0, err, sizeof(err));
	tap_ok(qf != NULL && qf->nrcpts == 0 && *qf->sender == 0,
	    "minimal valid file opens");
	queue_file_close(qf);
	unlink(path);
	buf_free(b);
	free(path);
}

/*
 * test_nosync_flips - the flips qmgr batches: mark_done_nosync writes
 * the byte (a reopen sees it: the page cache is the file) without a
 * sync, queue_file_sync is one fdatasync for all of them, and the
 * durable mark_done is still one sync per call
 */
static void
test_nosync_flips(void)
{
	const char *id = make_msg("active");
	char	*path = queue_path(qdir, "active", id), err[256];
	struct queue_file *qf, *again;
	unsigned long before;

	qf = queue_file_open(path, 1, err, sizeof(err));
	tap_ok(qf != NULL, "nosync: open (%s)", qf ? "" : err);
	if (qf == NULL) {
		free(path);
		return;
	}
	before = queue_file_syncs;
	tap_ok(queue_file_mark_done_nosync(qf, 0) == 0
	    && queue_file_mark_done_nosync(qf, 1) == 0, "nosync: two flips");
	tap_is_int((long)(queue_file_syncs - before), 0,
	    "nosync: no fdatasync for them");
	tap_ok(queue_file_mark_done_nosync(qf, 9) < 0,
	    "nosync: out of range refused");
	again = queue_file_open(path, 0, err, sizeof(err));
	tap_ok(again && again->rcpts[0].done && again->rcpts[1].done,
	    "nosync: a reopen sees both flips");
	queue_file_close(again);
	tap_ok(queue_file_sync(qf) == 0, "nosync: queue_file_sync");
	tap_is_int((long)(queue_file_syncs - before), 1,
	    "nosync: one fdatasync for the batch");
	before = queue_file_syncs;
	tap_ok(queue_file_add_rcpt(qf, "c@x", NULL, 0, 0) == 0
	    && queue_file_mark_done(qf, qf->nrcpts - 1) == 0,
	    "durable flip of an appended child");
	tap_is_int((long)(queue_file_syncs - before), 2,
	    "append and durable flip: one fdatasync each");
	queue_file_close(qf);
	again = queue_file_open(path, 0, err, sizeof(err));
	tap_ok(queue_file_mark_done_nosync(again, 0) < 0
	    && queue_file_sync(again) < 0, "nosync: read-only refused");
	queue_file_close(again);
	unlink(path);
	free(path);
}

/* test_updates - mark_done, set_warn, add_rcpt survive a reopen */
static void
test_updates(void)
{
	const char *id = make_msg("active");
	char	*path = queue_path(qdir, "active", id), err[256];
	struct queue_file *qf;
	struct stat st1, st2;
	int	 fd;

	qf = queue_file_open(path, 1, err, sizeof(err));
	tap_ok(qf && queue_file_mark_done(qf, 1) == 0, "mark_done");
	tap_ok(queue_file_mark_done(qf, 7) < 0, "mark_done out of range");
	tap_ok(queue_file_set_warn(qf, 0) == 0, "set_warn 0");
	tap_ok(queue_file_add_rcpt(qf, "child1@x", NULL, 0, 0) == 0,
	    "add child of 0");
	tap_ok(queue_file_add_rcpt(qf, "grandchild@x", "orig", 2, 2) == 0,
	    "add child of 2");
	tap_ok(queue_file_add_rcpt(qf, "bad@x", NULL, 0, 9) < 0,
	    "parent out of range refused");
	tap_ok(queue_file_mark_done(qf, 2) == 0, "mark appended child done");
	queue_file_close(qf);

	qf = queue_file_open(path, 1, err, sizeof(err));
	tap_ok(qf != NULL, "reopen after updates (%s)", qf ? "" : err);
	if (qf == NULL)
		return;
	tap_ok(!qf->rcpts[0].done && qf->rcpts[1].done, "done persisted");
	tap_is_int(qf->warn_time, 0, "warn persisted");
	tap_is_int((long)qf->nrcpts, 4, "appended recipients found");
	tap_ok(qf->rcpts[2].done && qf->rcpts[2].parent == 0,
	    "child 2: parent 0, done");
	tap_is_str(qf->rcpts[3].orcpt, "orig", "child orcpt");
	tap_is_int(queue_file_find_rcpt(qf, "grandchild@x", 2), 3,
	    "find_rcpt");
	tap_is_int(queue_file_find_rcpt(qf, "grandchild@x", 0), -1,
	    "find_rcpt other parent");
	fstat(qf->fd, &st1);
	tap_ok(queue_file_add_rcpt(qf, "child1@x", NULL, 0, 0) == 0,
	    "re-expansion after crash");
	fstat(qf->fd, &st2);
	tap_ok(st1.st_size == st2.st_size && qf->nrcpts == 4,
	    "re-expansion appends nothing");
	tap_ok(qf->rcpts[2].done, "existing child keeps done status");
	queue_file_close(qf);

	/* torn append: a partial record is ignored, cut off when writable */
	fd = open(path, O_WRONLY | O_APPEND);
	(void)write(fd, "RP 0 0 tor", 10);
	close(fd);
	qf = queue_file_open(path, 0, err, sizeof(err));
	tap_ok(qf && qf->nrcpts == 4, "torn append ignored read-only");
	queue_file_close(qf);
	qf = queue_file_open(path, 1, err, sizeof(err));
	tap_ok(qf && queue_file_add_rcpt(qf, "after@x", NULL, 0, 1) == 0,
	    "append after a torn record");
	queue_file_close(qf);
	qf = queue_file_open(path, 0, err, sizeof(err));
	tap_ok(qf && qf->nrcpts == 5
	    && strcmp(qf->rcpts[4].addr, "after@x") == 0,
	    "torn record was cut off");
	queue_file_close(qf);
	free(path);
}

/* test_warn_default - W = arrival + delay_warning_time */
static void
test_warn_default(void)
{
	struct queue_writer *w;
	struct queue_file *qf;
	char	 err[256], id[QUEUE_ID_MAX + 1], *p;

	conf_set("delay_warning_time", "4h");
	w = queue_writer_new(qdir, "incoming", err, sizeof(err));
	snprintf(id, sizeof(id), "%s", queue_writer_id(w));
	queue_writer_commit(w, err, sizeof(err));
	conf_set("delay_warning_time", "0h");
	p = queue_path(qdir, "incoming", id);
	qf = queue_file_open(p, 0, err, sizeof(err));
	tap_ok(qf && qf->warn_time == qf->arrival + 4 * 3600,
	    "warn time defaults to arrival + delay_warning_time");
	queue_file_close(qf);
	free(p);
	w = queue_writer_new(qdir, "incoming", err, sizeof(err));
	snprintf(id, sizeof(id), "%s", queue_writer_id(w));
	queue_writer_commit(w, err, sizeof(err));
	p = queue_path(qdir, "incoming", id);
	qf = queue_file_open(p, 0, err, sizeof(err));
	tap_ok(qf && qf->warn_time == 0, "delay_warning_time 0: no warning");
	queue_file_close(qf);
	free(p);
}

/*
 * test_id_fork - a forked child's ids carry its own pid, not the one
 * its parent looked up once (queue.c keeps it): parent and child,
 * writing in the same microsecond, must not make the same id
 */
static void
test_id_fork(const char *parent_id)
{
	struct queue_writer *w;
	char	 err[256], child_id[64] = "";
	int	 fds[2], status = -1;
	ssize_t	 n;
	pid_t	 pid;

	if (pipe(fds) < 0 || (pid = fork()) < 0) {
		tap_ok(0, "fork for the id check: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		close(fds[0]);
		w = queue_writer_new(qdir, "incoming", err, sizeof(err));
		if (w != NULL && write(fds[1], queue_writer_id(w),
		    strlen(queue_writer_id(w))) < 0)
			_exit(2);
		if (w != NULL)
			queue_writer_abort(w);
		_exit(w == NULL);
	}
	close(fds[1]);
	n = read(fds[0], child_id, sizeof(child_id) - 1);
	close(fds[0]);
	child_id[n > 0 ? n : 0] = 0;
	(void)waitpid(pid, &status, 0);
	/* characters 11-15: the pid, base 32 */
	tap_ok(status == 0 && strlen(child_id) == 19
	    && strlen(parent_id) == 19
	    && memcmp(child_id + 11, parent_id + 11, 5) != 0,
	    "a forked child's queue id has its own pid (%s, parent %s)",
	    child_id, parent_id);
}

/* test_ids - valid, unique, sorted by time */
static void
test_ids(void)
{
	static const struct {
		const char *id;
		int	 want;
	} vec[] = {
		{"ABC123", 1}, {"", 0}, {"../x", 0}, {"a/b", 0}, {".AB", 0},
		{"AB CD", 0}, {"0123456789ABCDEF0123456789ABCDEF", 1},
		{"0123456789ABCDEF0123456789ABCDEF0", 0}, {"\xc3\xa9", 0},
	};
	struct queue_writer *w;
	struct strv *ids = strv_new();
	char	 err[256];
	size_t	 i;
	int	 dup = 0, unsorted = 0, bad = 0;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++)
		tap_is_int(queue_id_valid(vec[i].id), vec[i].want,
		    "queue_id_valid");
	tap_is_int(queue_id_valid(NULL), 0, "queue_id_valid NULL");
	for (i = 0; i < 2000; i++) {
		w = queue_writer_new(qdir, "incoming", err, sizeof(err));
		if (w == NULL) {
			bad++;
			break;
		}
		strv_add(ids, queue_writer_id(w));
		if (!queue_id_valid(queue_writer_id(w))
		    || strlen(queue_writer_id(w)) != 19)
			bad++;
		queue_writer_abort(w);
	}
	for (i = 1; i < ids->argc; i++) {
		int	 c = strcmp(ids->argv[i - 1], ids->argv[i]);

		dup += c == 0;
		unsorted += c > 0;
	}
	tap_ok(bad == 0 && dup == 0 && unsorted == 0,
	    "2000 ids: valid, unique, increasing");
	test_id_fork(ids->argv[ids->argc - 1]);
	strv_free(ids);
	w = queue_writer_new(qdir, "nonexistent", err, sizeof(err));
	tap_ok(w == NULL && err[0], "writer in a missing directory fails");
}

/* fd_open_on - some descriptor of this process is open on path */
static int
fd_open_on(const char *path)
{
	char	 want[PATH_MAX], got[PATH_MAX], name[300];
	struct dirent *de;
	DIR	*d;
	ssize_t	 n;
	int	 found = 0;

	if (realpath(path, want) == NULL || (d = opendir("/proc/self/fd"))
	    == NULL)
		return (0);
	while (!found && (de = readdir(d)) != NULL) {
		snprintf(name, sizeof(name), "/proc/self/fd/%s", de->d_name);
		if ((n = readlink(name, got, sizeof(got) - 1)) > 0) {
			got[n] = 0;
			found = strcmp(got, want) == 0;
		}
	}
	closedir(d);
	return (found);
}

/* test_dirs - move, scan, temp files, abort */
static void
test_dirs(void)
{
	struct queue_writer *w;
	struct strv *v;
	char	 err[256], id[QUEUE_ID_MAX + 1], *p;
	struct timeval old[2] = {{1000, 0}, {1000, 0}};
	struct stat st;

	v = queue_scan(qdir, "deferred");
	tap_ok(v && v->argc == 0, "empty deferred");
	strv_free(v);
	w = queue_writer_new(qdir, "deferred", err, sizeof(err));
	snprintf(id, sizeof(id), "%s", queue_writer_id(w));
	queue_writer_rcpt(w, "x@y", NULL, 0);
	tap_ok(queue_writer_finish(w, err, sizeof(err)) == 0, "finish");
	v = queue_scan(qdir, "deferred");
	tap_ok(v && v->argc == 0, "temp file not listed by scan");
	strv_free(v);
	p = xasprintf("%s/deferred/.%s", qdir, id);
	utimes(p, old);
	tap_is_int(queue_clean_temp(qdir, "deferred", 3600), 1,
	    "old temp file removed");
	tap_ok(queue_writer_commit(w, err, sizeof(err)) < 0,
	    "commit after the temp file vanished fails");

	free(p);

	/* queue_sync_fs_keep: the descriptor, open before any write */
	tap_ok(!fd_open_on(qdir) && queue_sync_fs_keep("/nonexistent-queue")
	    < 0 && errno == ENOENT, "sync_fs_keep: a missing path fails");
	tap_ok(queue_sync_fs_keep(qdir) == 0 && fd_open_on(qdir),
	    "sync_fs_keep: a descriptor stays open on the queue directory");
	tap_ok(queue_sync_fs_keep(qdir) == 0, "sync_fs_keep: the same path "
	    "again: 0");
	p = xasprintf("%s/incoming", qdir);
	tap_ok(queue_sync_fs_keep(p) < 0 && errno == EEXIST,
	    "sync_fs_keep: another path once one is kept: EEXIST");
	free(p);

	/* the nosync variant: same file, durable through queue_sync_fs */
	w = queue_writer_new(qdir, "incoming", err, sizeof(err));
	queue_writer_nosync(w);
	snprintf(id, sizeof(id), "%s", queue_writer_id(w));
	queue_writer_rcpt(w, "x@y", NULL, 0);
	queue_writer_body(w, "hi\n", 3);
	tap_ok(queue_writer_commit(w, err, sizeof(err)) == 0
	    && queue_sync_fs(qdir) == 0, "nosync commit + queue_sync_fs");
	p = queue_path(qdir, "incoming", id);
	{
		struct queue_file *qf = queue_file_open(p, 0, err,
		    sizeof(err));

		tap_ok(qf && qf->msg_len == 3, "nosync file reads back");
		queue_file_close(qf);
	}
	free(p);

	/* the rename left to the caller's group commit (queue_writer_later) */
	{
		struct queue_rename r = {NULL, NULL, NULL, 0};
		struct queue_rename r2 = {NULL, NULL, NULL, 0};
		struct queue_file *qf;
		struct strv *listed;
		char	 id2[QUEUE_ID_MAX + 1], *p2;
		int	 seen = 0;
		size_t	 i;

		w = queue_writer_new(qdir, "incoming", err, sizeof(err));
		queue_writer_nosync(w);
		snprintf(id, sizeof(id), "%s", queue_writer_id(w));
		queue_writer_rcpt(w, "x@y", NULL, 0);
		queue_writer_body(w, "later\n", 6);
		queue_writer_later(w, &r);
		queue_writer_copy(w);
		tap_ok(queue_writer_commit(w, err, sizeof(err)) == 0
		    && r.tmp != NULL, "commit later: finished, rename left");
		p = queue_path(qdir, "incoming", id);
		tap_ok(r.final && strcmp(r.final, p) == 0,
		    "commit later: the final name is incoming/ID");
		tap_ok(stat(p, &st) < 0 && errno == ENOENT
		    && stat(r.tmp, &st) == 0,
		    "commit later: the file is still under its temp name");
		tap_ok(r.data != NULL && (off_t)r.len == st.st_size
		    && file_is(r.tmp, r.data, r.len),
		    "commit later: the writer's copy is the file's bytes");
		listed = queue_scan(qdir, "incoming");
		for (i = 0; listed && i < listed->argc; i++)
			seen |= strcmp(listed->argv[i], id) == 0;
		strv_free(listed);
		tap_ok(!seen, "commit later: not listed by scan before the "
		    "rename");
		/* one commit only: the next one renames as usual */
		w = queue_writer_new(qdir, "incoming", err, sizeof(err));
		snprintf(id2, sizeof(id2), "%s", queue_writer_id(w));
		queue_writer_rcpt(w, "x@y", NULL, 0);
		tap_ok(queue_writer_commit(w, err, sizeof(err)) == 0,
		    "commit later: the next commit");
		p2 = queue_path(qdir, "incoming", id2);
		tap_ok(stat(p2, &st) == 0, "commit later: used by one commit "
		    "only");
		unlink(p2);
		free(p2);
		tap_ok(queue_rename_commit(&r) == 0 && r.tmp == NULL
		    && r.final == NULL && r.data == NULL && stat(p, &st) == 0,
		    "queue_rename_commit: renamed into incoming/");
		qf = queue_file_open(p, 0, err, sizeof(err));
		tap_ok(qf && qf->msg_len == 6, "commit later: file reads back");
		queue_file_close(qf);
		unlink(p);
		free(p);

		/* a file over the writer's buffer: written in pieces, no
		 * copy (a journal reads it back), the length in place */
		{
			char	*big = xmalloc(100000);

			memset(big, 'x', 100000);
			big[99999] = '\n';
			w = queue_writer_new(qdir, "incoming", err,
			    sizeof(err));
			queue_writer_rcpt(w, "x@y", NULL, 0);
			queue_writer_body(w, big, 100000);
			queue_writer_later(w, &r2);
			queue_writer_copy(w);
			tap_ok(queue_writer_commit(w, err, sizeof(err)) == 0
			    && r2.tmp != NULL && r2.data == NULL,
			    "commit later, 100 KB: no copy of the bytes");
			qf = queue_file_open(r2.tmp, 0, err, sizeof(err));
			tap_ok(qf && qf->msg_len == 100000,
			    "commit later, 100 KB: its length in place");
			queue_file_close(qf);
			queue_rename_abort(&r2);
			free(big);
		}

		/* abort: the temp file goes, nothing appears */
		w = queue_writer_new(qdir, "incoming", err, sizeof(err));
		snprintf(id, sizeof(id), "%s", queue_writer_id(w));
		queue_writer_rcpt(w, "x@y", NULL, 0);
		queue_writer_later(w, &r2);
		tap_ok(queue_writer_commit(w, err, sizeof(err)) == 0
		    && r2.tmp != NULL && r2.data == NULL,
		    "commit later: second file (no copy unless asked for)");
		p = xstrdup(r2.tmp);
		queue_rename_abort(&r2);
		p2 = queue_path(qdir, "incoming", id);
		tap_ok(r2.tmp == NULL && stat(p, &st) < 0 && stat(p2, &st) < 0,
		    "queue_rename_abort: temp file removed, nothing committed");
		free(p);
		free(p2);

		/* a rename that fails: -1, the temp file removed */
		w = queue_writer_new(qdir, "incoming", err, sizeof(err));
		queue_writer_rcpt(w, "x@y", NULL, 0);
		queue_writer_later(w, &r2);
		queue_writer_commit(w, err, sizeof(err));
		free(r2.final);
		r2.final = xasprintf("%s/no-such-dir/x", qdir);
		p = xstrdup(r2.tmp);
		tap_ok(queue_rename_commit(&r2) < 0 && stat(p, &st) < 0
		    && r2.tmp == NULL, "queue_rename_commit: a failed rename "
		    "removes the temp file");
		free(p);
	}

	p = queue_path(qdir, "deferred", "BADNAME");
	spew(p, "x", 1);
	free(p);
	p = queue_path(qdir, "deferred", "bad-name");
	spew(p, "x", 1);
	free(p);
	snprintf(id, sizeof(id), "%s", make_msg("deferred"));
	v = queue_scan(qdir, "deferred");
	tap_ok(v && v->argc == 2 && strcmp(v->argv[0], id) == 0
	    && strcmp(v->argv[1], "BADNAME") == 0,
	    "scan: sorted, invalid names skipped");
	strv_free(v);
	tap_ok(queue_move(qdir, "deferred", "hold", id) == 0, "queue_move");
	p = queue_path(qdir, "hold", id);
	tap_ok(stat(p, &st) == 0, "moved file exists");
	free(p);
	tap_ok(queue_move(qdir, "deferred", "hold", id) < 0,
	    "moving a missing file fails");
	tap_ok(queue_move(qdir, "hold", "active", "../../etc") < 0,
	    "invalid id refused");

	w = queue_writer_new(qdir, "incoming", err, sizeof(err));
	p = xasprintf("%s/incoming/.%s", qdir, queue_writer_id(w));
	queue_writer_abort(w);
	tap_ok(stat(p, &st) < 0 && errno == ENOENT, "abort unlinks");
	free(p);
	queue_writer_abort(NULL);
}

/* test_logs - bounce/defer logs: last entry per index wins */
static void
test_logs(void)
{
	struct queue_log_entry e = {2, "b@x", NULL, "4.4.1", "delayed",
	    "connect to x[1.2.3.4]:25: Connection refused\nline2", 0};
	struct queue_log_entry *v;
	const char *id = "LOGTEST1";
	size_t	 n;
	char	*p;
	int	 fd;

	v = queue_log_read(qdir, "defer", id, &n);
	tap_ok(v == NULL && n == 0, "no log");
	queue_log_append(qdir, "defer", id, &e);
	e.index = 0;
	e.recipient = "a@x";
	e.orig_rcpt = "alias@x";
	queue_log_append(qdir, "defer", id, &e);
	e.index = 2;
	e.recipient = "b@x";
	e.orig_rcpt = NULL;
	e.reason = "later reason";
	queue_log_append(qdir, "defer", id, &e);
	p = queue_path(qdir, "defer", id);
	fd = open(p, O_WRONLY | O_APPEND);
	(void)write(fd, "index=5\nrecipient=partial\n", 26);
	close(fd);
	free(p);
	v = queue_log_read(qdir, "defer", id, &n);
	tap_is_int((long)n, 2, "two indexes, partial entry ignored");
	if (n == 2) {
		tap_ok(v[0].index == 0 && strcmp(v[0].orig_rcpt, "alias@x")
		    == 0, "entry 0");
		tap_is_str(v[1].reason, "later reason", "last entry wins");
		tap_ok(v[1].time > 0 && v[1].orig_rcpt == NULL,
		    "time filled in, no orig_rcpt");
	}
	queue_log_free(v, n);
	tap_ok(queue_log_append(qdir, "defer", "../x", &e) < 0,
	    "log with invalid id refused");
}

/* pickup_write - a finished pickup file for maildrop id drop */
static char *
pickup_write(const char *drop, char *id)
{
	struct queue_writer *w;
	char	 err[256];

	w = queue_writer_new(qdir, "incoming", err, sizeof(err));
	if (w == NULL)
		abort();
	snprintf(id, QUEUE_ID_MAX + 1, "%s", queue_writer_id(w));
	queue_writer_sender(w, "s@x");
	queue_writer_rcpt(w, "r@x", NULL, 0);
	queue_writer_body(w, body, sizeof(body) - 1);
	tap_ok(queue_writer_commit_pickup(w, drop, err, sizeof(err)) == 0,
	    "commit_pickup %s (%s)", drop, err);
	return (xasprintf("%s/incoming/.pickup.%s.%s", qdir, drop, id));
}

/* test_pickup - the S1 commit protocol and its recovery decision */
static void
test_pickup(void)
{
	static const struct {
		const char *name;
		int	 ok;
		const char *drop, *id;
	} names[] = {
		{".pickup.ABC.DEF", 1, "ABC", "DEF"},
		{".pickup.A1.B2", 1, "A1", "B2"},
		{".pickup.ABC", 0, NULL, NULL},
		{".pickup..DEF", 0, NULL, NULL},
		{".pickup.ABC.", 0, NULL, NULL},
		{".pickup.A/B.DEF", 0, NULL, NULL},
		{".pickup.ABC.D.E", 0, NULL, NULL},
		{".pickup.ABC.../x", 0, NULL, NULL},
		{".pickup.\xff.DEF", 0, NULL, NULL},
		{".ABC", 0, NULL, NULL},
		{"ABC", 0, NULL, NULL},
		{"", 0, NULL, NULL},
		{".pickup.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.B", 0, NULL, NULL},
		{".pickup.A.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", 0, NULL, NULL},
	};
	char	 d[QUEUE_ID_MAX + 1], i[QUEUE_ID_MAX + 1];
	char	 id1[QUEUE_ID_MAX + 1], id2[QUEUE_ID_MAX + 1];
	char	 err[256], *p1, *p2, *m, *f;
	struct queue_writer *w;
	struct queue_file *qf;
	struct strv *v;
	struct stat st;
	size_t	 k;

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		int	 r = queue_pickup_parse(names[k].name, d, i) == 0;

		tap_ok(r == names[k].ok && (!r || (strcmp(d, names[k].drop)
		    == 0 && strcmp(i, names[k].id) == 0)), "pickup_parse %s",
		    log_safe(names[k].name));
	}
	w = queue_writer_new(qdir, "incoming", err, sizeof(err));
	tap_ok(w && queue_writer_commit_pickup(w, "../x", err, sizeof(err))
	    < 0, "commit_pickup refuses an invalid maildrop id");

	/* DROP1 still in maildrop/: undo; DROP2 gone: finish */
	m = xasprintf("%s/maildrop/DROP1", qdir);
	spew(m, "x", 1);
	p1 = pickup_write("DROP1", id1);
	p2 = pickup_write("DROP2", id2);
	v = queue_scan(qdir, "incoming");
	for (k = 0; v && k < v->argc; k++)
		if (strcmp(v->argv[k], id1) == 0
		    || strcmp(v->argv[k], id2) == 0)
			break;
	tap_ok(v && k == v->argc, "pickup files are invisible to scans");
	if (v)
		strv_free(v);
	tap_is_int(queue_clean_temp(qdir, "incoming", -1), 0,
	    "clean_temp leaves pickup files alone");
	tap_is_int(queue_pickup_recover(qdir, "incoming"), 1,
	    "recover finishes one");
	tap_ok(stat(p1, &st) < 0 && errno == ENOENT,
	    "maildrop file present: pickup file removed");
	f = queue_path(qdir, "incoming", id1);
	tap_ok(stat(f, &st) < 0, "... and not committed");
	free(f);
	f = queue_path(qdir, "incoming", id2);
	tap_ok(stat(p2, &st) < 0 && stat(f, &st) == 0,
	    "maildrop file gone: renamed to its id");
	qf = queue_file_open(f, 0, err, sizeof(err));
	tap_ok(qf != NULL && strcmp(qf->id, id2) == 0,
	    "the finished file parses (%s)", qf ? "" : err);
	if (qf)
		queue_file_close(qf);
	unlink(f);
	free(f);
	tap_is_int(queue_pickup_recover(qdir, "incoming"), 0,
	    "recover again: nothing to do");

	/* the normal path: unlink maildrop, then finish */
	free(p1);
	p1 = pickup_write("DROP1", id1);
	unlink(m);
	tap_ok(queue_pickup_finish(qdir, "incoming", "DROP1", id1) == 0,
	    "pickup_finish");
	f = queue_path(qdir, "incoming", id1);
	tap_ok(stat(f, &st) == 0 && stat(p1, &st) < 0, "finished file");
	unlink(f);
	free(f);
	tap_ok(queue_pickup_finish(qdir, "incoming", "DROP1", id1) < 0
	    && errno == ENOENT, "finish twice: ENOENT");
	tap_is_int(queue_pickup_recover(qdir, "nonexistent"), -1,
	    "recover of a missing directory");
	free(p1);
	free(p2);
	free(m);
}

/* pool_count - files in qdir/pool */
static int
pool_count(void)
{
	char	*p = xasprintf("%s/pool", qdir), *cmd;
	int	 n;
	FILE	*f;

	cmd = xasprintf("ls -A %s | wc -l", p);
	f = popen(cmd, "r");
	if (f == NULL || fscanf(f, "%d", &n) != 1)
		n = -1;
	if (f)
		pclose(f);
	free(cmd);
	free(p);
	return (n);
}

/* small_msg - a message of len body bytes; its path */
static char *
small_msg(size_t len, char *id)
{
	struct queue_writer *w;
	char	 err[256], *b = xmalloc(len);

	memset(b, 'x', len);
	w = queue_writer_new(qdir, "incoming", err, sizeof(err));
	if (w == NULL)
		abort();
	snprintf(id, QUEUE_ID_MAX + 1, "%s", queue_writer_id(w));
	queue_writer_rcpt(w, "one@example.com", NULL, 0);
	queue_writer_body(w, b, len);
	free(b);
	if (queue_writer_commit(w, err, sizeof(err)) < 0)
		abort();
	return (queue_path(qdir, "incoming", id));
}

/* remove_path - queue_remove() of a file, as qmgr does, then the close */
static int
remove_path(const char *path)
{
	char	 err[256];
	struct queue_file *qf = queue_file_open(path, 1, err, sizeof(err));
	int	 rc;

	if (qf == NULL)
		return (unlink(path));	/* not a queue file: as unlink */
	rc = queue_remove(qdir, qf);
	queue_file_close(qf);
	return (rc);
}

/* test_pool - QUEUE.md "The file pool": reuse, limits, fallbacks */
static void
test_pool(void)
{
	char	 id[QUEUE_ID_MAX + 1], err[256], *a, *b, *p;
	struct queue_file *qf;
	struct stat st, st2;
	struct strv *v;
	int	 i, n;

	tap_is_int(pool_count(), 0, "pool: empty at first");
	a = small_msg(3000, id);
	tap_ok(stat(a, &st) == 0, "pool: a 3000-byte message");
	tap_ok(remove_path(a) == 0 && stat(a, &st2) < 0 && errno == ENOENT,
	    "pool: queue_remove takes it away");
	tap_is_int(pool_count(), 1, "pool: ... into pool/");
	sleep(2);	/* an empty pool is listed again after a second */
	b = small_msg(10, id);
	tap_ok(stat(b, &st2) == 0 && st2.st_ino == st.st_ino,
	    "pool: the next message reuses its inode");
	tap_is_int(pool_count(), 0, "pool: ... and pool/ is empty again");
	qf = queue_file_open(b, 0, err, sizeof(err));
	tap_ok(qf && qf->msg_len == 10 && strcmp(qf->id, id) == 0
	    && st2.st_size < 200, "pool: the shorter message parses, "
	    "nothing of the longer one is left (%lld bytes; %s)",
	    (long long)st2.st_size, qf ? "" : err);
	queue_file_close(qf);
	tap_ok(stat(b, &st2) == 0 && (st2.st_mode & 07777) == 0600,
	    "pool: mode 0600");
	chmod(b, 0644);
	tap_ok(remove_path(b) == 0 && pool_count() == 0 && stat(b, &st) < 0,
	    "pool: a file of another mode is unlinked");
	free(a);
	free(b);
	a = small_msg(QUEUE_POOL_FILE_MAX + 1, id);
	{
		char	 e2[256];
		struct queue_file *qf = queue_file_open(a, 1, e2, sizeof(e2));

		tap_ok(qf && queue_remove(qdir, qf) == 0 && stat(a, &st) < 0
		    && qf->pool_tmp && strstr(qf->pool_tmp, "/pool/.")
		    && pool_count() == 1, "pool: a file over "
		    "QUEUE_POOL_FILE_MAX goes under a hidden name first");
		queue_file_close(qf);
		p = xasprintf("cd %s/pool && test \"$(ls -A)\" -ge 0 "
		    "&& test ! -s \"$(ls -A)\"", qdir);
		tap_ok(system(p) == 0 && pool_count() == 1, "pool: ... and "
		    "is emptied and given a slot name by queue_file_close");
		free(p);
	}
	sleep(2);	/* an empty pool is listed again after a second */
	b = small_msg(10, id);
	tap_is_int(pool_count(), 0, "pool: the emptied file is reused");
	tap_ok(remove_path(b) == 0, "pool: back into the pool");
	free(b);
	tap_ok(remove_path(a) < 0 && errno == ENOENT,
	    "pool: a file that is gone: ENOENT");
	free(a);
	sleep(2);
	b = small_msg(10, id);
	tap_is_int(pool_count(), 0, "pool: taken again");
	unlink(b);
	free(b);

	/* the claim touches the mtime (the temp file cleaner removes a
	 * temporary file older than a day) only of a file unused for an
	 * hour */
	for (i = 0; i < 2; i++) {
		struct queue_writer *w;
		time_t	 t = time(NULL) - (i ? 600 : 2 * 86400);
		char	*tmp;

		b = small_msg(10, id);
		p = xasprintf("touch -m -d @%lld %s/pool/*", (long long)t,
		    qdir);
		tap_ok(remove_path(b) == 0 && pool_count() == 1
		    && system(p) == 0, "pool: a file %s old",
		    i ? "10 minutes" : "two days");
		free(p);
		free(b);
		sleep(2);
		w = queue_writer_new(qdir, "incoming", err, sizeof(err));
		tmp = xasprintf("%s/incoming/.%s", qdir,
		    w ? queue_writer_id(w) : "");
		tap_ok(w && pool_count() == 0 && stat(tmp, &st) == 0
		    && (i ? st.st_mtime == t : st.st_mtime > time(NULL) - 60),
		    i ? "pool: claimed without a touch" :
		    "pool: touched when claimed");
		free(tmp);
		queue_writer_abort(w);
	}

	/* bounded: slot names are reused, the file under one replaced */
	queue_pool_set_limit(64);
	v = strv_new();
	for (i = 0; i < 69; i++) {
		a = small_msg(10, id);
		strv_add(v, a);
		free(a);
	}
	for (i = 0; i < (int)v->argc; i++)
		if (remove_path(v->argv[i]) < 0)
			break;
	strv_free(v);
	tap_is_int(i, 69, "pool: 69 removals");
	n = pool_count();
	tap_is_int(n, 64, "pool: never more files than the limit (64)");
	sleep(2);	/* the last listing found the pool empty */
	v = strv_new();
	for (i = 0; i < 60; i++) {
		a = small_msg(10, id);
		strv_add(v, a);
		free(a);
	}
	tap_is_int(pool_count(), 4, "pool: 60 of its 64 files claimed");
	for (i = 0; i < (int)v->argc; i++)
		if (remove_path(v->argv[i]) < 0)
			break;
	strv_free(v);
	tap_is_int(pool_count(), 64, "pool: each removal takes a free slot, "
	    "not one still holding a file");

	/* prune: files unused for max_age go, and slots over the limit */
	p = xasprintf("%s/pool", qdir);
	tap_is_int(queue_pool_prune(qdir, 3600), 0,
	    "pool: prune keeps recent files");
	a = xasprintf("%s/.7.99", p);
	spew(a, "x", 1);
	tap_ok(queue_pool_prune(qdir, 3600) == 1 && stat(a, &st) < 0,
	    "pool: prune removes a big file left unsettled (.SLOT.SEQ)");
	free(a);
	queue_pool_set_limit(60);
	tap_is_int(queue_pool_prune(qdir, 3600), 4,
	    "pool: prune removes the slots over a lowered limit");
	a = xasprintf("cd %s && for f in *; do touch -d @1000000 $f; done",
	    p);
	i = system(a);
	free(a);
	tap_is_int(queue_pool_prune(qdir, 3600), 60,
	    "pool: prune removes old ones");

	/* limit 0: no pool */
	queue_pool_set_limit(0);
	a = small_msg(10, id);
	tap_ok(remove_path(a) == 0 && stat(a, &st) < 0 && pool_count() == 0,
	    "pool: limit 0: queue_remove unlinks");
	free(a);
	queue_pool_set_limit(QUEUE_POOL_SLOTS);

	/* no pool/ (a queue made before it): unlink, create */
	rmdir(p);
	a = small_msg(10, id);
	tap_ok(remove_path(a) == 0 && stat(a, &st) < 0,
	    "pool: without pool/, queue_remove unlinks");
	free(a);
	free(p);
}

int
main(void)
{
	static const char *dirs[] = {"incoming", "active", "deferred", "hold",
	    "corrupt", "bounce", "defer", NULL};
	char	 err[256];
	struct stat st;
	char	*p;
	int	 i;

	snprintf(qdir, sizeof(qdir), "/tmp/queue_test.%d", (int)getpid());
	tap_ok(queue_dirs_create(qdir, (uid_t)-1, (gid_t)-1, err,
	    sizeof(err)) == 0, "queue_dirs_create");
	p = xasprintf("%s/maildrop", qdir);
	tap_ok(stat(p, &st) == 0 && (st.st_mode & 07777) == 01733,
	    "maildrop mode 1733");
	free(p);
	test_roundtrip();
	test_truncations();
	test_large_msg();
	test_garbage();
	test_mutations();
	test_updates();
	test_nosync_flips();
	test_warn_default();
	test_ids();
	test_dirs();
	test_logs();
	test_pickup();
	test_pool();
	p = xasprintf("rm -rf %s", qdir);
	i = system(p);
	free(p);
	(void)dirs;
	(void)i;
	return (tap_done());
}
