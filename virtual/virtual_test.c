/*
 * NAME
 *	virtual_test - the virtual agent's delivery rules, without a socket
 * DESCRIPTION
 *	Writes queue files with lib/queue.h into a temporary queue, builds
 *	lib/deliver.h requests, runs virtual_request() and checks the
 *	answers and the Maildir bytes: exact content, idempotence (new/
 *	and cur/), map paths, extensions, unknown user, loop, size limit,
 *	uid floor, map down, unsafe paths, malformed requests; the group
 *	commit through a syncfs hook (2 syncs per request, the file in tmp/
 *	at the first and in new/ at the second, no answer before them, EIO
 *	at either defers and removes the file), rcpt.N.retry=0/1/absent,
 *	rcpt.N.exactly_once, a Maildir removed under the agent; messages
 *	of 200 KB (read into the thread's buffer) and 300 KB (mapped)
 *	byte-exact; as root, one request for two owners (uid 5000 and
 *	5001): each file its owner's, the thread root again afterwards.
 */
#include <sys/fsuid.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "conf.h"
#include "gsync.h"
#include "log.h"
#include "queue.h"
#include "tap.h"
#include "virtual.h"
#include "xalloc.h"

static char top[128];
static int req_retry = -1;	/* rcpt.N.retry to send; -1: none (old qmgr) */
static struct buf *cur_resp;	/* the answer being built, for the hook */
static struct sync_seen {
	int	 calls;
	int	 fail_at;	/* this call fails with EIO (1-based); 0 none */
	int	 answered;	/* a recipient answer was in resp at a sync */
	int	 tmp_files[4];	/* files in the watched tmp/ at each call */
	int	 new_files[4];	/* and in new/ */
	const char *watch;	/* Maildir (relative) to count, or NULL */
} seen;
static struct buf *logged;	/* every log line, for assertions */
static struct virtual_cfg cfg;

static const char msg1[] = "Subject: hi\nFrom: <s@example.org>\n\n"
    "body line\n.dot line\n\xc3\xa9\n";

/* capture - the log hook: keep the lines */
static void
capture(int level, const char *text, void *ctx)
{
	buf_puts(logged, text);
	buf_putc(logged, '\n');
}

/* queue_msg - write a message to active/, return its id (static) */
static const char *
queue_msg(const char *sender, const char *msg, const char **rcpts)
{
	static char id[QUEUE_ID_MAX + 1];
	struct queue_writer *w;
	char	 err[256];

	w = queue_writer_new(cfg.queue_dir, "active", err, sizeof(err));
	if (w == NULL)
		abort();
	snprintf(id, sizeof(id), "%s", queue_writer_id(w));
	queue_writer_sender(w, sender);
	for (; *rcpts; rcpts++)
		queue_writer_rcpt(w, *rcpts, NULL, 0);
	queue_writer_body(w, msg, strlen(msg));
	if (queue_writer_commit(w, err, sizeof(err)) < 0)
		abort();
	return (id);
}

/* request - run one request for (addr, index) pairs, return the answer */
static struct attr_list *
request(struct virtual_maps *m, const char *id, int n, const char **addrs,
    const long *idx)
{
	struct buf *b = buf_new(0), *resp = buf_new(0);
	struct attr_list *req, *ans;
	char	 name[64], err[128];
	size_t	 used;
	int	 i;

	attr_put(b, "version", "1");
	attr_put(b, "queue_name", "active");
	attr_put(b, "queue_id", id);
	attr_put(b, "transport", "virtual");
	attr_put(b, "nexthop", "example.com");
	attr_put(b, "sender", "s@example.org");
	attr_put_long(b, "rcpt_count", n);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "rcpt.%d.addr", i);
		attr_put(b, name, addrs[i]);
		snprintf(name, sizeof(name), "rcpt.%d.index", i);
		attr_put_long(b, name, idx[i]);
		snprintf(name, sizeof(name), "rcpt.%d.retry", i);
		if (req_retry >= 0)
			attr_put_long(b, name, req_retry);
	}
	attr_end(b);
	req = attr_parse(BUF_STR(b), BUF_LEN(b), &used, err, sizeof(err));
	cur_resp = resp;
	virtual_request(&cfg, m, req, resp);
	cur_resp = NULL;
	ans = attr_parse(BUF_STR(resp), BUF_LEN(resp), &used, err,
	    sizeof(err));
	attr_list_free(req);
	buf_free(b);
	buf_free(resp);
	return (ans);
}

/* one - deliver one recipient; "action status" of the answer */
static const char *
one(struct virtual_maps *m, const char *id, const char *addr, long idx)
{
	static char out[600];
	struct attr_list *a = request(m, id, 1, &addr, &idx);

	snprintf(out, sizeof(out), "%s %s", a && attr_get(a, "rcpt.0.action")
	    ? attr_get(a, "rcpt.0.action") : "(none)",
	    a && attr_get(a, "rcpt.0.status") ? attr_get(a, "rcpt.0.status")
	    : "");
	attr_list_free(a);
	return (out);
}

/* count_files - regular entries in a directory, -1 if missing */
static int
count_files(const char *rel, char *first, size_t flen)
{
	char	*p = xasprintf("%s/mail/%s", top, rel);
	DIR	*d = opendir(p);
	struct dirent *de;
	int	 n = 0;

	free(p);
	if (d == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			if (n++ == 0 && first)
				snprintf(first, flen, "%s", de->d_name);
		}
	closedir(d);
	return (n);
}

/* slurp - a Maildir file's content */
static char *
slurp(const char *rel, const char *name)
{
	char	*p = xasprintf("%s/mail/%s/%s", top, rel, name), buf[8192];
	int	 fd = open(p, O_RDONLY);
	ssize_t	 n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	free(p);
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return (xstrdup(buf));
}

/* test_deliver - byte-exact delivery and idempotence */
static void
test_deliver(struct virtual_maps *m)
{
	const char *rcpts[] = {"User1@Example.com", "u2@example.com", NULL};
	const char *id = queue_msg("s@example.org", msg1, rcpts);
	char	 name[256], *got, *want, *from, *to;

	tap_is_str(one(m, id, "User1@Example.com", 0), "delivered 2.0.0",
	    "deliver to user1");
	tap_is_int(count_files("example.com/user1/new", name, sizeof(name)),
	    1, "one file in new/");
	got = slurp("example.com/user1/new", name);
	want = xasprintf("Return-Path: <s@example.org>\n"
	    "Delivered-To: user1@example.com\n%s", msg1);
	tap_is_str(got, want, "Maildir bytes exact");
	free(got);
	free(want);
	want = xasprintf(".%s_0.%s", id, cfg.hostname);
	tap_ok(strstr(name, want) != NULL && strchr(name, ':') == NULL,
	    "file name holds queue id and index (%s)", name);
	free(want);
	tap_is_int(count_files("example.com/user1/tmp", NULL, 0), 0,
	    "tmp/ empty");
	want = xasprintf("%s: to=<User1@Example.com>, relay=virtual, delay=",
	    id);
	tap_ok(strstr(BUF_STR(logged), want) != NULL
	    && strstr(BUF_STR(logged), ", dsn=2.0.0, status=sent (delivered "
	    "to maildir)") != NULL, "Postfix-style delivery log line");
	free(want);
	if (geteuid() == 0) {
		struct stat st;

		from = xasprintf("%s/mail/example.com/user1/new/%s", top, name);
		tap_ok(stat(from, &st) == 0 && st.st_uid == 5000
		    && st.st_gid == 5000 && (st.st_mode & 0777) == 0600,
		    "as root: file owned by the virtual uid/gid, mode 0600");
		free(from);
	}

	tap_is_str(one(m, id, "User1@Example.com", 0), "delivered 2.0.0",
	    "same request again");
	tap_is_int(count_files("example.com/user1/new", NULL, 0), 1,
	    "still one file (idempotent)");
	from = xasprintf("%s/mail/example.com/user1/new/%s", top, name);
	to = xasprintf("%s/mail/example.com/user1/cur/%s:2,S", top, name);
	tap_ok(rename(from, to) == 0, "user reads it (cur/, :2,S)");
	tap_is_str(one(m, id, "User1@Example.com", 0), "delivered 2.0.0",
	    "request after the move to cur/");
	tap_is_int(count_files("example.com/user1/new", NULL, 0), 0,
	    "no new copy in new/");
	free(from);
	free(to);
	from = xasprintf("%s/mail/example.com/user1/cur/%s:2,S", top, name);
	to = xasprintf("%s/mail/example.com/user1/cur/%s,S=123,W=130:2,RS", top,
	    name);
	tap_ok(rename(from, to) == 0, "Dovecot adds size fields and flags");
	tap_is_str(one(m, id, "User1@Example.com", 0), "delivered 2.0.0",
	    "request after Dovecot's rename");
	tap_is_int(count_files("example.com/user1/new", NULL, 0), 0,
	    "still no new copy");
	free(from);
	free(to);

	tap_is_str(one(m, id, "u2@example.com", 1), "delivered 2.0.0",
	    "map value with '/' is the Maildir path");
	tap_is_int(count_files("custom/u2/new", NULL, 0), 1,
	    "delivered under the mapped path");
}

/* test_failures - every failure has its status */
static void
test_failures(struct virtual_maps *m)
{
	const char *r1[] = {"user1@example.com", "nobody@example.com",
	    "evil@example.com", "user1+tag@example.com", NULL};
	char	 id[QUEUE_ID_MAX + 1], loopid[QUEUE_ID_MAX + 1];
	const char *loop_rcpts[] = {"user1@example.com", NULL};
	struct attr_list *a;
	struct buf *b;
	const char *addrs[2] = {"user1@example.com", "nobody@example.com"};
	long	 idx[2] = {0, 1};

	snprintf(id, sizeof(id), "%s", queue_msg("", msg1, r1));
	snprintf(loopid, sizeof(loopid), "%s", queue_msg("s@x", "Received: x\n"
	    "Delivered-To: USER1@example.com \nSubject: l\n\nbody\n",
	    loop_rcpts));

	tap_is_str(one(m, id, "nobody@example.com", 1), "bounced 5.1.1",
	    "unknown user bounces 5.1.1");
	tap_is_str(one(m, id, "evil@example.com", 2), "bounced 5.1.3",
	    "'..' in the mapped path refused");
	tap_is_str(one(m, id, "user1+tag@example.com", 3), "delivered 2.0.0",
	    "extension delivered");
	tap_is_int(count_files("example.com/user1/new", NULL, 0), 1,
	    "extension lands in the user's Maildir");
	tap_is_str(one(m, loopid, "user1@example.com", 0), "bounced 5.4.6",
	    "Delivered-To loop bounces 5.4.6");
	{
		const char *r2[] = {"user2x@example.com", NULL};
		char	 hid[QUEUE_ID_MAX + 1], nm[256], *got;

		snprintf(hid, sizeof(hid), "%s", queue_msg("evil\r\nX-Injected: "
		    "1@x", "Subject: s\n\nb\n", r2));
		tap_is_str(one(m, hid, "user2x@example.com", 0),
		    "delivered 2.0.0", "sender with CR LF delivered");
		count_files("example.com/user2x/new", nm, sizeof(nm));
		got = slurp("example.com/user2x/new", nm);
		tap_ok(strncmp(got, "Return-Path: <evil??X-Injected: 1@x>\n"
		    "Delivered-To: user2x@example.com\nSubject: s\n", 80) == 0,
		    "no header injection through the sender");
		free(got);
	}
	tap_is_str(one(m, id, "user1@example.com", 9), "deferred 4.3.0",
	    "index beyond the file defers");
	tap_is_str(one(m, "NOSUCHFILE123", "user1@example.com", 0),
	    "deferred 4.3.0", "missing queue file defers");

	a = request(m, id, 2, addrs, idx);
	tap_ok(a && strcmp(attr_get(a, "rcpt.0.action"), "delivered") == 0
	    && strcmp(attr_get(a, "rcpt.1.action"), "bounced") == 0,
	    "two recipients, two answers");
	attr_list_free(a);

	cfg.mailbox_limit = 20;
	tap_is_str(one(m, id, "user1@example.com", 0), "bounced 5.2.2",
	    "virtual_mailbox_limit bounces 5.2.2");
	cfg.mailbox_limit = 0;
	cfg.minimum_uid = 100000;
	tap_is_str(one(m, id, "user1@example.com", 0), "deferred 4.3.0",
	    "uid below virtual_minimum_uid defers");
	cfg.minimum_uid = 100;
	free(cfg.base);
	cfg.base = xstrdup("relative/path");
	tap_is_str(one(m, id, "user1@example.com", 0), "deferred 4.3.0",
	    "relative virtual_mailbox_base defers");
	free(cfg.base);
	cfg.base = xasprintf("%s/mail", top);

	/* malformed request: an answer without recipients */
	{
		struct buf *resp = buf_new(0);
		struct attr_list *req;
		char	 err[100];
		size_t	 used;
		long	 n = -1;

		b = buf_new(0);
		attr_put(b, "version", "1");
		attr_put(b, "queue_name", "../active");
		attr_put(b, "queue_id", id);
		attr_end(b);
		req = attr_parse(BUF_STR(b), BUF_LEN(b), &used, err,
		    sizeof(err));
		virtual_request(&cfg, m, req, resp);
		a = attr_parse(BUF_STR(resp), BUF_LEN(resp), &used, err,
		    sizeof(err));
		tap_ok(a && attr_get_long(a, "rcpt_count", &n) == 0 && n == 0,
		    "malformed request: rcpt_count=0");
		attr_list_free(a);
		attr_list_free(req);
		buf_free(b);
		buf_free(resp);
	}
}

/* sync_hook - stands for syncfs: counts, looks at the Maildir, may fail */
static int
sync_hook(int fd)
{
	char	*p;
	int	 i = seen.calls++;

	(void)fd;
	if (cur_resp && strstr(BUF_STR(cur_resp), "rcpt.0.") != NULL)
		seen.answered = 1;
	if (seen.watch && i < 4) {
		p = xasprintf("%s/tmp", seen.watch);
		seen.tmp_files[i] = count_files(p, NULL, 0);
		free(p);
		p = xasprintf("%s/new", seen.watch);
		seen.new_files[i] = count_files(p, NULL, 0);
		free(p);
	}
	if (seen.calls == seen.fail_at) {
		errno = EIO;
		return (-1);
	}
	return (0);
}

/* seen_reset - a fresh record, watching Maildir rel */
static void
seen_reset(const char *rel, int fail_at)
{
	memset(&seen, 0, sizeof(seen));
	seen.watch = rel;
	seen.fail_at = fail_at;
}

/* test_group_commit - 2 syncs per request, answers after them, EIO */
static void
test_group_commit(struct virtual_maps *m)
{
	const char *rcpts[] = {"gc@example.com", "gc2@example.com",
	    "gc3@example.com", NULL};
	const char *addrs[3] = {"gc@example.com", "gc2@example.com",
	    "gc3@example.com"};
	long	 idx[3] = {0, 1, 2};
	const char *id = queue_msg("s@example.org", msg1, rcpts);
	struct attr_list *a;

	gsync_sync_fn = sync_hook;
	seen_reset("example.com/gc", 0);
	a = request(m, id, 1, addrs, idx);
	tap_ok(a && strcmp(attr_get(a, "rcpt.0.action"), "delivered") == 0
	    && seen.calls == 2, "one delivery: 2 syncs (%d)",
	    seen.calls);
	tap_ok(seen.tmp_files[0] == 1 && seen.new_files[0] == 0
	    && seen.tmp_files[1] == 0 && seen.new_files[1] == 1,
	    "first sync: the file in tmp/; second: renamed into new/");
	tap_ok(!seen.answered, "no answer was written before the syncs");
	tap_ok(a && attr_get(a, "rcpt.0.exactly_once")
	    && strcmp(attr_get(a, "rcpt.0.exactly_once"), "1") == 0,
	    "Maildir delivery answered rcpt.0.exactly_once=1");
	attr_list_free(a);

	seen_reset(NULL, 0);
	a = request(m, id, 3, addrs, idx);
	tap_ok(a && strcmp(attr_get(a, "rcpt.1.action"), "delivered") == 0
	    && strcmp(attr_get(a, "rcpt.2.action"), "delivered") == 0
	    && seen.calls == 2, "three recipients, three Maildirs: still 2 "
	    "syncs (%d)", seen.calls);
	attr_list_free(a);

	/* the first sync fails: deferred, nothing left in tmp/ or new/ */
	seen_reset("example.com/gc2", 1);
	req_retry = 0;
	id = queue_msg("s@example.org", msg1, rcpts);
	tap_is_str(one(m, id, "gc2@example.com", 1), "deferred 4.3.0",
	    "EIO at the sync of the files defers 4.3.0");
	tap_ok(seen.calls == 1 && count_files("example.com/gc2/tmp", NULL, 0)
	    == 0 && count_files("example.com/gc2/new", NULL, 0) == 1,
	    "no rename, tmp/ file removed (new/ holds the earlier one)");
	tap_ok(strstr(BUF_STR(logged), "status=deferred (cannot sync ") !=
	    NULL, "deferral logged as a sync failure");
	/* the second sync fails: the renamed file is removed again */
	seen_reset("example.com/gc2", 2);
	tap_is_str(one(m, id, "gc2@example.com", 1), "deferred 4.3.0",
	    "EIO at the sync of the renames defers 4.3.0");
	tap_ok(seen.calls == 2 && seen.new_files[1] == 2
	    && count_files("example.com/gc2/new", NULL, 0) == 1
	    && count_files("example.com/gc2/tmp", NULL, 0) == 0,
	    "the renamed file was removed from new/ after the failure");
	seen_reset(NULL, 0);
	req_retry = 1;
	tap_is_str(one(m, id, "gc2@example.com", 1), "delivered 2.0.0",
	    "the retry delivers");
	tap_is_int(count_files("example.com/gc2/new", NULL, 0), 2,
	    "one copy of that message");
	req_retry = -1;
	gsync_sync_fn = syncfs;
}

/* test_retry_flag - rcpt.N.retry=0 skips the look in new/ and cur/ */
static void
test_retry_flag(struct virtual_maps *m)
{
	const char *rcpts[] = {"rf@example.com", NULL};
	const char *id = queue_msg("s@example.org", msg1, rcpts);
	char	 name[256], *from, *to;
	struct attr_list *a;
	long	 idx = 0;
	const char *addr = "rf@example.com";

	tap_is_str(one(m, id, addr, 0), "delivered 2.0.0", "first delivery");
	count_files("example.com/rf/new", name, sizeof(name));
	from = xasprintf("%s/mail/example.com/rf/new/%s", top, name);
	to = xasprintf("%s/mail/example.com/rf/cur/%s:2,S", top, name);
	tap_ok(rename(from, to) == 0, "read: moved to cur/");
	free(from);
	free(to);
	/*
	 * In practice qmgr never sends retry=0 for a recipient whose file
	 * is in the Maildir: retry=0 means this qmgr never handed it to an
	 * agent and the message was not found in the queue at its start,
	 * so no earlier attempt can have written it. Here the file is
	 * planted to show the look is really skipped (a second copy).
	 */
	req_retry = 1;
	a = request(m, id, 1, &addr, &idx);
	tap_ok(a && strcmp(attr_get(a, "rcpt.0.action"), "delivered") == 0
	    && strcmp(attr_get(a, "rcpt.0.reason"), "delivered to maildir "
	    "(already delivered)") == 0 && attr_get(a, "rcpt.0.exactly_once"),
	    "retry=1: the copy in cur/ is found (exactly_once=1)");
	attr_list_free(a);
	tap_is_int(count_files("example.com/rf/new", NULL, 0), 0,
	    "retry=1: nothing written");
	req_retry = 0;
	tap_is_str(one(m, id, addr, 0), "delivered 2.0.0",
	    "retry=0: delivered");
	tap_is_int(count_files("example.com/rf/new", NULL, 0), 1,
	    "retry=0: cur/ was not read (a second copy in new/)");
	req_retry = -1;
	tap_is_str(one(m, id, addr, 0), "delivered 2.0.0",
	    "no retry attribute (older qmgr): full look");
	tap_is_int(count_files("example.com/rf/new", NULL, 0), 1,
	    "no retry attribute: found, no third copy");
}

/* test_maildir_removed - the Maildir deleted under a running agent */
static void
test_maildir_removed(struct virtual_maps *m)
{
	const char *rcpts[] = {"rm@example.com", NULL};
	const char *id = queue_msg("s@example.org", msg1, rcpts);
	char	*cmd;
	int	 rc;

	tap_is_str(one(m, id, "rm@example.com", 0), "delivered 2.0.0",
	    "delivery creates the Maildir");
	cmd = xasprintf("rm -rf %s/mail/example.com/rm", top);
	rc = system(cmd);
	free(cmd);
	tap_ok(rc == 0 && count_files("example.com/rm/new", NULL, 0) < 0,
	    "administrator removes the Maildir");
	tap_is_str(one(m, id, "rm@example.com", 0), "delivered 2.0.0",
	    "next delivery makes it again");
	tap_ok(count_files("example.com/rm/new", NULL, 0) == 1
	    && count_files("example.com/rm/cur", NULL, 0) == 0
	    && count_files("example.com/rm/tmp", NULL, 0) == 0,
	    "tmp/ new/ cur/ recreated, the message in new/");
}

/* slurp_file - a whole Maildir file (the only one in rel), or NULL */
static char *
slurp_file(const char *rel)
{
	char	 name[256], *p, *data;
	struct stat st;
	ssize_t	 n = -1;
	int	 fd;

	if (count_files(rel, name, sizeof(name)) != 1)
		return (NULL);
	p = xasprintf("%s/mail/%s/%s", top, rel, name);
	fd = open(p, O_RDONLY);
	free(p);
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return (NULL);
	}
	data = xmalloc((size_t)st.st_size + 1);
	n = read(fd, data, (size_t)st.st_size);
	close(fd);
	data[n > 0 ? n : 0] = 0;
	return (data);
}

/* test_sizes - a message read into the buffer, one mapped: exact */
static void
test_sizes(struct virtual_maps *m)
{
	static const size_t sizes[] = {200 * 1024, 300 * 1024, 20};
	static const char *who[] = {"sz1@example.com", "sz2@example.com",
	    "sz3@example.com"};
	const char *r[2] = {NULL, NULL};
	char	*msg, *got, *want, *rel;
	size_t	 i, j;

	for (i = 0; i < 3; i++) {
		msg = xmalloc(sizes[i] + 1);
		memcpy(msg, "Subject: big\n\n", 14);
		for (j = 14; j < sizes[i]; j++)
			msg[j] = j % 64 == 63 ? '\n'
			    : (char)('a' + (i + j) % 26);
		msg[sizes[i]] = 0;
		r[0] = who[i];
		tap_ok(strcmp(one(m, queue_msg("s@x", msg, r), who[i], 0),
		    "delivered 2.0.0") == 0, "a %zu-byte message delivered",
		    sizes[i]);
		rel = xasprintf("example.com/sz%zu/new", i + 1);
		got = slurp_file(rel);
		want = xasprintf("Return-Path: <s@x>\nDelivered-To: %s\n%s",
		    who[i], msg);
		tap_ok(got && strcmp(got, want) == 0, "its %zu bytes exact in "
		    "new/ (%s)", sizes[i], i == 1 ? "mapped" : "read");
		free(got);
		free(want);
		free(rel);
		free(msg);
	}
}

/* test_two_owners - as root: one request, two uids, each file its own */
static void
test_two_owners(void)
{
	struct virtual_cfg save = cfg;
	struct virtual_maps *m;
	const char *r[] = {"own1@example.com", "own2@example.com", NULL};
	const char *id;
	long	 idx[2] = {0, 1};
	struct attr_list *a;
	static const char *sub[] = {"", "tmp", "new", "cur"};
	char	*p, name[256];
	struct stat st1, st2;
	int	 i, u, ok = 1;

	if (geteuid() != 0)
		return;		/* one owner only: nothing to tell apart */
	/* each Maildir made beforehand, owned by its user, mode 0700,
	 * below directories 5000 made that 5001 may pass through */
	p = xasprintf("%s/mail", top);
	ok &= chmod(p, 0711) == 0;
	free(p);
	p = xasprintf("%s/mail/example.com", top);
	ok &= chmod(p, 0711) == 0;
	free(p);
	for (u = 0; u < 2; u++)
		for (i = 0; i < 4; i++) {
			p = xasprintf("%s/mail/example.com/own%d/%s", top,
			    u + 1, sub[i]);
			ok &= mkdir(p, 0700) == 0
			    && chown(p, 5000 + u, 5000 + u) == 0;
			free(p);
		}
	cfg.uid_maps = "inline:{own1@example.com=5000, own2@example.com=5001}";
	cfg.gid_maps = "inline:{own1@example.com=5000, own2@example.com=5001}";
	m = virtual_maps_open(&cfg);
	id = queue_msg("s@x", msg1, r);
	a = request(m, id, 2, r, idx);
	tap_ok(ok && a && attr_get(a, "rcpt.0.action")
	    && strcmp(attr_get(a, "rcpt.0.action"), "delivered") == 0
	    && attr_get(a, "rcpt.1.action")
	    && strcmp(attr_get(a, "rcpt.1.action"), "delivered") == 0,
	    "one request, owners 5000 and 5001: both delivered");
	attr_list_free(a);
	ok = count_files("example.com/own1/new", name, sizeof(name)) == 1;
	p = xasprintf("%s/mail/example.com/own1/new/%s", top, name);
	ok &= stat(p, &st1) == 0;
	free(p);
	ok &= count_files("example.com/own2/new", name, sizeof(name)) == 1;
	p = xasprintf("%s/mail/example.com/own2/new/%s", top, name);
	ok &= stat(p, &st2) == 0;
	free(p);
	tap_ok(ok && st1.st_uid == 5000 && st1.st_gid == 5000
	    && st2.st_uid == 5001 && st2.st_gid == 5001, "each file in new/ "
	    "owned by its own user");
	tap_ok(setfsuid((uid_t)-1) == 0 && setfsgid((gid_t)-1) == 0,
	    "the thread is root again after the request");
	virtual_maps_close(m);
	cfg = save;
}

/* test_map_down - a map in error defers, never bounces */
static void
test_map_down(void)
{
	struct virtual_cfg save = cfg;
	struct virtual_maps *m;
	const char *r[] = {"user1@example.com", NULL};
	const char *id = queue_msg("s@x", msg1, r);

	cfg.mailbox_maps = "texthash:/nonexistent/virtual_mailbox";
	m = virtual_maps_open(&cfg);
	tap_is_str(one(m, id, "user1@example.com", 0), "deferred 4.3.0",
	    "mailbox map down defers 4.3.0");
	virtual_maps_close(m);
	cfg = save;
	cfg.uid_maps = "texthash:/nonexistent/uids";
	m = virtual_maps_open(&cfg);
	tap_is_str(one(m, id, "user1@example.com", 0), "deferred 4.3.0",
	    "uid map down defers 4.3.0");
	virtual_maps_close(m);
	cfg = save;
}

int
main(void)
{
	struct virtual_maps *m;
	char	 err[256], *p;
	int	 rc;

	logged = buf_new(4096);
	log_init("postern/virtual", 0);
	log_set_hook(capture, NULL);
	snprintf(top, sizeof(top), "/tmp/virtual_test.%d", (int)getpid());
	p = xasprintf("%s/queue", top);
	mkdir(top, 0755);
	if (queue_dirs_create(p, (uid_t)-1, (gid_t)-1, err, sizeof(err)) < 0)
		return (1);
	conf_set("recipient_delimiter", "+");
	cfg.queue_dir = p;
	cfg.base = xasprintf("%s/mail", top);
	mkdir(cfg.base, 0700);
	if (geteuid() == 0 && chown(cfg.base, 5000, 5000) < 0)
		return (1);	/* as root, deliveries run as uid 5000 */
	cfg.mailbox_maps = "inline:{user1@example.com=1, user2x@example.com=1, "
	    "u2@example.com=custom/u2/, evil@example.com=../../etc/, "
	    "gc@example.com=1, gc2@example.com=1, gc3@example.com=1, "
	    "rf@example.com=1, rm@example.com=1, sz1@example.com=1, "
	    "sz2@example.com=1, sz3@example.com=1, own1@example.com=1, "
	    "own2@example.com=1}";
	cfg.uid_maps = "static:5000";
	cfg.gid_maps = "static:5000";
	cfg.hostname = "host.example";
	cfg.delimiter = "+";
	cfg.minimum_uid = 100;
	m = virtual_maps_open(&cfg);
	test_deliver(m);
	test_failures(m);
	test_group_commit(m);
	test_retry_flag(m);
	test_maildir_removed(m);
	test_sizes(m);
	virtual_maps_close(m);
	test_two_owners();
	test_map_down();
	free(cfg.base);
	free(p);
	p = xasprintf("rm -rf %s", top);
	rc = system(p);
	free(p);
	(void)rc;
	buf_free(logged);
	return (tap_done());
}
