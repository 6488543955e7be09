/*
 * NAME
 *	virtual_test - the virtual agent's delivery rules, without a socket
 * DESCRIPTION
 *	Writes queue files with lib/queue.h into a temporary queue, builds
 *	lib/deliver.h requests, runs virtual_request() and checks the
 *	answers and the Maildir bytes: exact content, idempotence (new/
 *	and cur/), map paths, extensions, unknown user, loop, size limit,
 *	uid floor, map down, unsafe paths, malformed requests.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "queue.h"
#include "tap.h"
#include "virtual.h"
#include "xalloc.h"

static char top[128];
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
	}
	attr_end(b);
	req = attr_parse(BUF_STR(b), BUF_LEN(b), &used, err, sizeof(err));
	virtual_request(&cfg, m, req, resp);
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
	    "u2@example.com=custom/u2/, evil@example.com=../../etc/}";
	cfg.uid_maps = "static:5000";
	cfg.gid_maps = "static:5000";
	cfg.hostname = "host.example";
	cfg.delimiter = "+";
	cfg.minimum_uid = 100;
	m = virtual_maps_open(&cfg);
	test_deliver(m);
	test_failures(m);
	virtual_maps_close(m);
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
