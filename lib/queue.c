/*
 * NAME
 *	queue - queue files: ids, the record format, writer and reader
 * SYNOPSIS
 *	See queue.h.
 * DESCRIPTION
 *	The implementation of QUEUE.md (top of the tree), which specifies
 *	the record format parsed and written here. Everything blocks on
 *	the disk; daemons call it from worker threads. The id generator
 *	is the only shared state and is guarded by a mutex.
 * DIAGNOSTICS
 *	0 / -1 with errno, and a reason in err where the API has one.
 *	A file that does not parse is reported, never crashed on.
 * SEE ALSO
 *	QUEUE.md, attr(3) for the bounce/defer log entries.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "queue.h"
#include "str.h"
#include "xalloc.h"

#define QUEUE_VERSION	"1"
#define QUEUE_NUM_WIDTH	20
#define QUEUE_WBUF	65536

struct queue_writer {
	char	*dir;		/* queue_dir/subdir */
	char	*tmp;		/* dir/.ID */
	char	*final;		/* dir/ID */
	char	 id[QUEUE_ID_MAX + 1];
	int	 fd;
	long	 sec, usec;
	long	 warn;
	char	*sender;
	struct buf *attrs;	/* encoded A records */
	struct buf *rcpts;	/* encoded R records */
	struct buf *trailer;	/* encoded A records after the message */
	struct buf *wbuf;	/* pending output */
	off_t	 off;		/* file offset of wbuf start */
	off_t	 len_off;	/* of the M digits */
	off_t	 body_len;
	int	 started;	/* envelope written */
	int	 finished;
	int	 failed;	/* errno of the first failure, 0 = none */
	int	 nosync;	/* the caller syncs the file system */
	int	 reused;	/* a pool file: truncated when finished */
	off_t	 reused_size;	/* ... if longer than the new content */
	struct queue_rename *later;	/* queue_writer_later(), or NULL */
	int	 want_copy;	/* queue_writer_copy() */
	char	*copy;		/* for later->data: the file in one write */
	size_t	 copy_len;
};

/*
 * Queue ids.
 */
static const char b32[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long id_last_us;
static unsigned id_host;
static int id_host_done;
/* put_b32 - write v as width base-32 digits */
static void
put_b32(char *out, unsigned long long v, int width)
{
	while (width-- > 0) {
		out[width] = b32[v & 31];
		v >>= 5;
	}
}

/* queue_id_new - a fresh id; arrival time (strictly increasing) out */
static void
queue_id_new(char *id, long *sec, long *usec)
{
	struct timeval tv;
	unsigned long long us;
	char	 host[256];
	const unsigned char *p;
	unsigned h = 2166136261u;
	pid_t	 pid;

	pid = log_getpid();	/* not getpid(): a system call a message */
	gettimeofday(&tv, NULL);
	us = (unsigned long long)tv.tv_sec * 1000000ULL
	    + (unsigned long long)tv.tv_usec;
	pthread_mutex_lock(&id_lock);
	if (!id_host_done) {
		if (gethostname(host, sizeof(host)) < 0)
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = 0;
		for (p = (const unsigned char *)host; *p; p++)
			h = (h ^ *p) * 16777619u;
		id_host = (h ^ (h >> 15)) & 0x7fff;
		id_host_done = 1;
	}
	if (us <= id_last_us)
		us = id_last_us + 1;
	id_last_us = us;
	pthread_mutex_unlock(&id_lock);
	put_b32(id, us, 11);
	put_b32(id + 11, (unsigned long long)pid & 0x1ffffff, 5);
	put_b32(id + 16, id_host, 3);
	id[19] = 0;
	*sec = (long)(us / 1000000ULL);
	*usec = (long)(us % 1000000ULL);
}

/* queue_id_valid - 1..QUEUE_ID_MAX alphanumerics */
int
queue_id_valid(const char *id)
{
	size_t	 n;

	if (id == NULL)
		return (0);
	for (n = 0; id[n]; n++)
		if (n >= QUEUE_ID_MAX || !((id[n] >= '0' && id[n] <= '9')
		    || (id[n] >= 'A' && id[n] <= 'Z')
		    || (id[n] >= 'a' && id[n] <= 'z')))
			return (0);
	return (n > 0);
}

/* queue_path - queue_dir/subdir/id (caller frees) */
char *
queue_path(const char *queue_dir, const char *subdir, const char *id)
{
	return (xasprintf("%s/%s/%s", queue_dir, subdir, id));
}

/*
 * String encoding of QUEUE.md: %, CR, LF, NUL, space, TAB and '='.
 */

/* enc_put - append s encoded */
static void
enc_put(struct buf *b, const char *s)
{
	str_pct_put(b, s, "\r\n \t=");
}

/* enc_get - decode len bytes; NULL on a bad escape or an encoded NUL */
static char *
enc_get(const char *s, size_t len)
{
	size_t	 n;
	char	*out = str_pct_get(s, len, &n);

	if (out != NULL && strlen(out) != n) {
		free(out);
		return (NULL);
	}
	return (out);
}

/* parse_num - strict decimal (optionally negative); -1 if malformed */
static int
parse_num(const char *s, size_t len, long long *out)
{
	long long v = 0;
	size_t	 i = 0;
	int	 neg = 0;

	if (len > 0 && s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i >= len || len - i > QUEUE_NUM_WIDTH)
		return (-1);
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		if (v > (LLONG_MAX - (s[i] - '0')) / 10)
			return (-1);
		v = v * 10 + (s[i] - '0');
	}
	*out = neg ? -v : v;
	return (0);
}

/*
 * The writer.
 */

/* default_warn - arrival + delay_warning_time, or 0 (none) */
static long
default_warn(long arrival)
{
	const char *v = conf_str("delay_warning_time");
	long	 secs;

	if (v == NULL || *v == 0 || str_parse_time(v, 'h', &secs) < 0
	    || secs <= 0)
		return (0);
	return (arrival + secs);
}

/* queue_writer_new - create subdir/.ID for a new message */
struct queue_writer *
queue_writer_new(const char *queue_dir, const char *subdir, char *err,
    size_t errlen)
{
	struct queue_writer *w = xcalloc(1, sizeof(*w));
	mode_t	 mode = strcmp(subdir, "maildrop") == 0 ? 0644 : 0600;
	int	 tries, exists = 0;

	w->dir = xasprintf("%s/%s", queue_dir, subdir);
	for (tries = 0; tries < 10; tries++) {
		queue_id_new(w->id, &w->sec, &w->usec);
		free(w->tmp);
		w->tmp = xasprintf("%s/.%s", w->dir, w->id);
		/* a delivered message's file if the pool has one (0600) */
		if (mode == 0600 && (w->fd = queue_pool_claim(queue_dir,
		    w->tmp, &exists, &w->reused_size)) >= 0) {
			w->reused = 1;
			break;
		}
		if (mode == 0600 && exists)
			continue;
		w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    mode);
		if (w->fd >= 0 || errno != EEXIST)
			break;
	}
	if (w->fd < 0) {
		int	 saved = errno;

		snprintf(err, errlen, "create %s: %s", w->tmp,
		    strerror(saved));
		free(w->dir);
		free(w->tmp);
		free(w);
		errno = saved;
		return (NULL);
	}
	if (mode == 0644)
		(void)fchmod(w->fd, mode);	/* despite the umask */
	w->final = xasprintf("%s/%s", w->dir, w->id);
	w->warn = default_warn(w->sec);
	w->sender = xstrdup("");
	w->attrs = buf_new(256);
	w->rcpts = buf_new(256);
	w->trailer = buf_new(0);
	w->wbuf = buf_new(QUEUE_WBUF);
	return (w);
}

/* queue_writer_id - the id of the message being written */
const char *
queue_writer_id(const struct queue_writer *w)
{
	return (w->id);
}

/* queue_writer_path - the file being written (its temporary name) */
const char *
queue_writer_path(const struct queue_writer *w)
{
	return (w->tmp);
}

/* queue_writer_sender - set the envelope sender ("" = null sender) */
void
queue_writer_sender(struct queue_writer *w, const char *s)
{
	if (w->started)
		log_panic("queue_writer_sender: called after the body");
	free(w->sender);
	w->sender = xstrdup(s ? s : "");
}

/* queue_writer_warn - set the delay-warning time (0 = none) */
void
queue_writer_warn(struct queue_writer *w, long when)
{
	if (w->started)
		log_panic("queue_writer_warn: called after the body");
	w->warn = when < 0 ? 0 : when;
}

/*
 * queue_writer_subdir - commit into another directory of the same queue
 * (hold/ after a HOLD action found in a message already being written):
 * the rename moves the temporary file there
 */
void
queue_writer_subdir(struct queue_writer *w, const char *subdir)
{
	char	*dir, *slash = strrchr(w->dir, '/');

	dir = xasprintf("%.*s/%s", slash ? (int)(slash - w->dir) : 0, w->dir,
	    subdir);
	free(w->dir);
	free(w->final);
	w->dir = dir;
	w->final = xasprintf("%s/%s", w->dir, w->id);
}

/* queue_writer_nosync - finish without fsync (see queue_sync_fs) */
void
queue_writer_nosync(struct queue_writer *w)
{
	w->nosync = 1;
}

/* queue_writer_attr - add a named attribute */
void
queue_writer_attr(struct queue_writer *w, const char *name,
    const char *value)
{
	if (w->started)
		log_panic("queue_writer_attr: called after the body");
	buf_putc(w->attrs, 'A');
	enc_put(w->attrs, name);
	buf_putc(w->attrs, '=');
	enc_put(w->attrs, value ? value : "");
	buf_putc(w->attrs, '\n');
}

/*
 * queue_writer_trailer - an attribute learned while the message streams
 * (header/body_checks FILTER): written after the message bytes, before
 * E; a reader's queue_file_attr() prefers it to an envelope A record of
 * the same name. Any time before queue_writer_finish().
 */
void
queue_writer_trailer(struct queue_writer *w, const char *name,
    const char *value)
{
	if (w->finished)
		log_panic("queue_writer_trailer: called after finish");
	buf_putc(w->trailer, 'A');
	enc_put(w->trailer, name);
	buf_putc(w->trailer, '=');
	enc_put(w->trailer, value ? value : "");
	buf_putc(w->trailer, '\n');
}

/* rcpt_record - append one R record */
static void
rcpt_record(struct buf *b, const char *addr, const char *orcpt, int notify,
    long parent)
{
	buf_printf(b, "RP %d %ld ", notify, parent);
	enc_put(b, addr);
	if (orcpt != NULL) {
		buf_putc(b, ' ');
		enc_put(b, orcpt);
	}
	buf_putc(b, '\n');
}

/* queue_writer_rcpt - add an original recipient */
void
queue_writer_rcpt(struct queue_writer *w, const char *addr,
    const char *orcpt, int notify)
{
	if (w->started)
		log_panic("queue_writer_rcpt: called after the body");
	rcpt_record(w->rcpts, addr, orcpt, notify, -1);
}

/* writer_flush - write out wbuf; -1 on error (w->failed set) */
static int
writer_flush(struct queue_writer *w)
{
	size_t	 done = 0;
	ssize_t	 n;

	while (done < BUF_LEN(w->wbuf)) {
		n = pwrite(w->fd, BUF_STR(w->wbuf) + done,
		    BUF_LEN(w->wbuf) - done, w->off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			w->failed = n < 0 ? errno : EIO;
			return (-1);
		}
		done += (size_t)n;
	}
	w->off += (off_t)done;
	buf_reset(w->wbuf);
	return (0);
}

/* writer_start - put the envelope records into wbuf */
static void
writer_start(struct queue_writer *w)
{
	struct buf *b = w->wbuf;

	buf_printf(b, "V%s\nI%s\nT%ld.%06ld\nW%0*ld\nS", QUEUE_VERSION,
	    w->id, w->sec, w->usec, QUEUE_NUM_WIDTH, w->warn);
	enc_put(b, w->sender);
	buf_putc(b, '\n');
	buf_append(b, BUF_STR(w->attrs), BUF_LEN(w->attrs));
	buf_append(b, BUF_STR(w->rcpts), BUF_LEN(w->rcpts));
	buf_putc(b, 'M');
	w->len_off = w->off + (off_t)BUF_LEN(b);
	buf_printf(b, "%0*d\n", QUEUE_NUM_WIDTH, 0);
	w->started = 1;
}

/* queue_writer_body - append message bytes (LF line endings) */
int
queue_writer_body(struct queue_writer *w, const void *data, size_t len)
{
	if (w->failed || w->finished) {
		errno = w->failed ? w->failed : EINVAL;
		return (-1);
	}
	if (!w->started)
		writer_start(w);
	if (BUF_LEN(w->wbuf) + len > QUEUE_WBUF && writer_flush(w) < 0) {
		errno = w->failed;
		return (-1);
	}
	buf_append(w->wbuf, data, len);
	w->body_len += (off_t)len;
	return (0);
}

/* writer_fail - record a failure, unlink the temp file */
static int
writer_fail(struct queue_writer *w, char *err, size_t errlen,
    const char *what)
{
	int	 saved = w->failed ? w->failed : errno;

	w->failed = saved ? saved : EIO;
	snprintf(err, errlen, "%s %s: %s", what, w->tmp, strerror(w->failed));
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
		(void)unlink(w->tmp);
	}
	errno = w->failed;
	return (-1);
}

/* queue_writer_finish - length, end record, fsync */
int
queue_writer_finish(struct queue_writer *w, char *err, size_t errlen)
{
	char	 num[QUEUE_NUM_WIDTH + 2];

	if (w->failed)
		return (writer_fail(w, err, errlen, "write"));
	if (w->finished)
		return (0);
	if (!w->started)
		writer_start(w);
	/* right after the msg_len bytes: trailer A records, then E */
	buf_append(w->wbuf, BUF_STR(w->trailer), BUF_LEN(w->trailer));
	buf_puts(w->wbuf, "E\n");
	snprintf(num, sizeof(num), "%0*lld", QUEUE_NUM_WIDTH,
	    (long long)w->body_len);
	if (w->off == 0) {
		/* the whole file is in the buffer: one write, the length
		 * in place, and a copy for a journal (queue_writer_later) */
		memcpy(BUF_STR(w->wbuf) + w->len_off, num, QUEUE_NUM_WIDTH);
		if (w->later != NULL && w->want_copy) {
			w->copy_len = BUF_LEN(w->wbuf);
			w->copy = xmalloc(w->copy_len);
			memcpy(w->copy, BUF_STR(w->wbuf), w->copy_len);
		}
		if (writer_flush(w) < 0)
			return (writer_fail(w, err, errlen, "write"));
	} else if (writer_flush(w) < 0 || pwrite(w->fd, num, QUEUE_NUM_WIDTH,
	    w->len_off) != QUEUE_NUM_WIDTH)
		return (writer_fail(w, err, errlen, "write"));
	/* a pool file may be longer: cut what the last message left (an
	 * ftruncate to the same length is not free on ext4: 8.6 % of
	 * smtpd's samples with 100 KB messages) */
	if (w->reused && w->off < w->reused_size
	    && ftruncate(w->fd, w->off) < 0)
		return (writer_fail(w, err, errlen, "truncate"));
	if (!w->nosync && fsync(w->fd) < 0)
		return (writer_fail(w, err, errlen, "fsync"));
	w->finished = 1;
	return (0);
}

/* writer_free - release memory and the descriptor */
static void
writer_free(struct queue_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->dir);
	free(w->tmp);
	free(w->final);
	free(w->sender);
	buf_free(w->attrs);
	buf_free(w->rcpts);
	buf_free(w->trailer);
	buf_free(w->wbuf);
	free(w->copy);
	free(w);
}

/* queue_writer_later - leave the commit's rename to r (group commit) */
void
queue_writer_later(struct queue_writer *w, struct queue_rename *r)
{
	w->later = r;
}

/* queue_writer_copy - keep the file's bytes for later->data: the caller
 * does not change the file after queue_writer_finish() */
void
queue_writer_copy(struct queue_writer *w)
{
	w->want_copy = 1;
}

/* rename_clear - free r's strings and copy; errno is kept */
static void
rename_clear(struct queue_rename *r)
{
	int	 saved = errno;

	free(r->tmp);
	free(r->final);
	free(r->data);
	r->tmp = r->final = r->data = NULL;
	r->len = 0;
	errno = saved;
}

/* queue_rename_commit - the rename queue_writer_later() left: commit */
int
queue_rename_commit(struct queue_rename *r)
{
	int	 ret = 0, saved;

	if (r->tmp == NULL)
		return (0);
	if ((ret = rename(r->tmp, r->final)) < 0) {
		saved = errno;
		(void)unlink(r->tmp);
		errno = saved;
	}
	rename_clear(r);
	return (ret);
}

/* queue_rename_abort - remove a file whose rename was left to the caller */
void
queue_rename_abort(struct queue_rename *r)
{
	if (r->tmp == NULL)
		return;
	(void)unlink(r->tmp);
	rename_clear(r);
}

/* queue_writer_commit - rename .ID to ID: the commit point; frees w */
int
queue_writer_commit(struct queue_writer *w, char *err, size_t errlen)
{
	struct queue_rename *later = w->later;
	int	 ret = 0, saved;

	if (!w->finished && queue_writer_finish(w, err, errlen) < 0)
		ret = -1;
	else if (later != NULL) {
		/* the caller's group commit renames (queue_rename_commit) */
		later->tmp = w->tmp;
		later->final = w->final;
		later->data = w->copy;
		later->len = w->copy_len;
		w->tmp = w->final = w->copy = NULL;
	} else if (rename(w->tmp, w->final) < 0)
		ret = writer_fail(w, err, errlen, "rename");
	saved = errno;
	writer_free(w);
	errno = saved;
	return (ret);
}

static int sync_path(const char *);

/*
 * queue_writer_commit_pickup - the pickup commit: rename the finished
 * temp file to .pickup.DROPID.ID (still a temporary name: no reader
 * sees it) and sync the directory; frees w. QUEUE.md, state S1.
 */
int
queue_writer_commit_pickup(struct queue_writer *w, const char *drop_id,
    char *err, size_t errlen)
{
	char	*name;
	int	 ret = 0, saved;

	if (!queue_id_valid(drop_id)) {
		snprintf(err, errlen, "invalid maildrop id");
		queue_writer_abort(w);
		errno = EINVAL;
		return (-1);
	}
	name = xasprintf("%s/" QUEUE_PICKUP_PREFIX "%s.%s", w->dir, drop_id,
	    w->id);
	if (!w->finished && queue_writer_finish(w, err, errlen) < 0)
		ret = -1;
	else if (rename(w->tmp, name) < 0)
		ret = writer_fail(w, err, errlen, "rename");
	else if (sync_path(w->dir) < 0) {
		snprintf(err, errlen, "sync %s: %s", w->dir, strerror(errno));
		saved = errno;
		(void)unlink(name);
		errno = saved;
		ret = -1;
	}
	saved = errno;
	free(name);
	writer_free(w);
	errno = saved;
	return (ret);
}

/* queue_writer_abort - drop the message; frees w */
void
queue_writer_abort(struct queue_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		(void)unlink(w->tmp);
	writer_free(w);
}

/* sync_path - fsync a directory by path */
static int
sync_path(const char *path)
{
	int	 fd, ret, saved;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return (-1);
	ret = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return (ret);
}

static pthread_mutex_t sync_fs_lock = PTHREAD_MUTEX_INITIALIZER;
static char *sync_fs_path;		/* queue_sync_fs()'s first path */
static int sync_fs_fd = -1;		/* kept open: never closed */

/*
 * queue_sync_fs - one flush for every file and rename of a batch: syncfs
 * of the file system holding path (the queue directory or a file in it).
 * The first path's descriptor is kept for the life of the process (as
 * Postfix's daemons keep their working directory in the queue), so a
 * daemon's group commit is one syncfs(), not open, syncfs, close; any
 * other path is opened and closed each time.
 */
int
queue_sync_fs(const char *path)
{
	int	 fd, ret, saved, keep;

	pthread_mutex_lock(&sync_fs_lock);
	if (sync_fs_path != NULL && strcmp(sync_fs_path, path) == 0)
		fd = sync_fs_fd;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0
	    && sync_fs_path == NULL) {
		sync_fs_path = xstrdup(path);
		sync_fs_fd = fd;
	}
	keep = fd >= 0 && fd == sync_fs_fd;
	pthread_mutex_unlock(&sync_fs_lock);
	if (fd < 0)
		return (-1);
	/* The kept descriptor is never closed: no lock held while it syncs. */
	ret = syncfs(fd);
	saved = errno;
	if (!keep)
		close(fd);
	errno = saved;
	return (ret);
}

/*
 * queue_sync_fs_keep - open and keep queue_sync_fs()'s descriptor for path
 * now, before the writes its syncs must vouch for: syncfs() reports a
 * write-back error to a descriptor opened before it happened, or opened
 * after it while no one has seen it yet; opened at the first sync, after
 * another process's syncfs had reported it, the descriptor would not.
 * 0, or -1 with errno (the first path is kept already: 0 if it is path).
 */
int
queue_sync_fs_keep(const char *path)
{
	int	 fd, ret = 0;

	pthread_mutex_lock(&sync_fs_lock);
	if (sync_fs_path != NULL) {
		if (strcmp(sync_fs_path, path) != 0) {
			errno = EEXIST;
			ret = -1;
		}
	} else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		ret = -1;
	else {
		sync_fs_path = xstrdup(path);
		sync_fs_fd = fd;
	}
	pthread_mutex_unlock(&sync_fs_lock);
	return (ret);
}

/* queue_sync_dir - make renames in queue_dir/subdir durable */
int
queue_sync_dir(const char *queue_dir, const char *subdir)
{
	char	*path = xasprintf("%s/%s", queue_dir, subdir);
	int	 ret = sync_path(path);
	int	 saved = errno;

	free(path);
	errno = saved;
	return (ret);
}

/*
 * The reader: a small line reader over pread(), so the message of a
 * large file is skipped, not read. A file that fits in the buffer is
 * read whole by the first pread: its short count is the end of the
 * file (a regular file's pread is short only there), so no second
 * pread looks for it, and the message is served from the buffer
 * (queue_file_msg()). A file larger than the buffer is read in chunks
 * of QR_CHUNK: its envelope is at the start and its tail after the
 * message, so a first pread of the whole buffer would copy 64 KB of a
 * message nobody reads here (qmgr, 100 KB messages).
 */
struct qreader {
	int	 fd;
	off_t	 base;		/* file offset of buf[0] */
	char	*buf;
	size_t	 len, pos, cap;
	size_t	 chunk;		/* most bytes per pread, 0 = cap */
	int	 eof;		/* a pread ended short at base + len */
};

#define QR_CHUNK	16384

#define QR_LINE		1
#define QR_EOF		0
#define QR_PARTIAL	(-2)
#define QR_ERROR	(-1)

/* qr_line - next line (NUL-terminated in place), its offset and length */
static int
qr_line(struct qreader *r, char **line, size_t *llen, off_t *loff)
{
	char	*nl;
	ssize_t	 n;
	size_t	 want;

	for (;;) {
		if ((nl = memchr(r->buf + r->pos, '\n', r->len - r->pos))) {
			*line = r->buf + r->pos;
			*llen = (size_t)(nl - *line);
			*loff = r->base + (off_t)r->pos;
			*nl = 0;
			r->pos += *llen + 1;
			return (QR_LINE);
		}
		if (r->len - r->pos > QUEUE_LINE_MAX) {
			errno = EFBIG;
			return (QR_ERROR);
		}
		if (r->eof)
			return (r->len > r->pos ? QR_PARTIAL : QR_EOF);
		if (r->pos > 0) {
			memmove(r->buf, r->buf + r->pos, r->len - r->pos);
			r->base += (off_t)r->pos;
			r->len -= r->pos;
			r->pos = 0;
		}
		want = r->cap - r->len;
		if (r->chunk > 0 && want > r->chunk)
			want = r->chunk;
		n = pread(r->fd, r->buf + r->len, want,
		    r->base + (off_t)r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return (QR_ERROR);
		if ((size_t)n < want)
			r->eof = 1;
		r->len += (size_t)n;
	}
}

/* qr_seek - continue reading at off (in the buffer when it is there) */
static void
qr_seek(struct qreader *r, off_t off)
{
	/* forward only: lines before pos had their '\n' replaced by NUL */
	if (off >= r->base + (off_t)r->pos
	    && off <= r->base + (off_t)r->len) {
		r->pos = (size_t)(off - r->base);
		return;
	}
	r->base = off;
	r->len = r->pos = 0;
	r->eof = 0;
}

/* qf_fail - set err from a format, return -1 */
static int
qf_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	errno = EINVAL;
	return (-1);
}

/* fixed_num - a fixed-width non-negative number field */
static int
fixed_num(const char *s, size_t len, long long *v)
{
	return (len == QUEUE_NUM_WIDTH && parse_num(s, len, v) == 0
	    && *v >= 0 ? 0 : -1);
}

/* qf_rcpt - parse an R record "R<st> <notify> <parent> <addr>[ <orcpt>]" */
static int
qf_rcpt(struct queue_file *qf, char *line, size_t len, off_t off,
    char *err, size_t errlen)
{
	char	*f[4], *p, *sp;
	size_t	 n = 0;
	long long notify, parent;
	struct queue_rcpt *r;
	char	*addr, *orcpt = NULL;

	if (len < 3 || (line[1] != 'P' && line[1] != 'D') || line[2] != ' ')
		return (qf_fail(err, errlen, "bad recipient record"));
	if (qf->nrcpts >= QUEUE_RCPT_MAX)
		return (qf_fail(err, errlen, "too many recipients"));
	for (p = line + 3;; p = sp + 1) {
		if (n == 4)
			return (qf_fail(err, errlen, "bad recipient record"));
		f[n++] = p;
		if ((sp = strchr(p, ' ')) == NULL)
			break;
		*sp = 0;
	}
	if (n < 3 || parse_num(f[0], strlen(f[0]), &notify) < 0
	    || notify < 0 || notify > 15
	    || parse_num(f[1], strlen(f[1]), &parent) < 0 || parent < -1
	    || parent >= (long long)qf->nrcpts)
		return (qf_fail(err, errlen, "bad recipient record"));
	if ((addr = enc_get(f[2], strlen(f[2]))) == NULL
	    || (n == 4 && (orcpt = enc_get(f[3], strlen(f[3]))) == NULL)) {
		free(addr);
		return (qf_fail(err, errlen, "bad recipient encoding"));
	}
	if (qf->nrcpts % 64 == 0)
		qf->rcpts = xrealloc(qf->rcpts,
		    (qf->nrcpts + 64) * sizeof(*r));
	r = &qf->rcpts[qf->nrcpts++];
	r->addr = addr;
	r->orcpt = orcpt;
	r->notify = (int)notify;
	r->done = line[1] == 'D';
	r->parent = (long)parent;
	r->offset = off + 1;
	return (0);
}

/* qf_attr - parse an A record */
static int
qf_attr(struct queue_file *qf, const char *line, char *err, size_t errlen)
{
	const char *eq = strchr(line + 1, '=');
	char	*name, *value;

	if (eq == NULL || eq == line + 1)
		return (qf_fail(err, errlen, "bad attribute record"));
	name = enc_get(line + 1, (size_t)(eq - line - 1));
	value = enc_get(eq + 1, strlen(eq + 1));
	if (name == NULL || value == NULL) {
		free(name);
		free(value);
		return (qf_fail(err, errlen, "bad attribute encoding"));
	}
	if (qf->nattrs % 16 == 0)
		qf->attrs = xrealloc(qf->attrs,
		    (qf->nattrs + 16) * sizeof(*qf->attrs));
	qf->attrs[qf->nattrs].name = name;
	qf->attrs[qf->nattrs].value = value;
	qf->nattrs++;
	return (0);
}

/* qf_head - the fixed records V I T W S, in this order */
static int
qf_head(struct queue_file *qf, int stage, char *line, size_t len,
    off_t off, char *err, size_t errlen)
{
	long long v, us;
	char	*dot;

	switch (stage) {
	case 0:
		if (strcmp(line + 1, QUEUE_VERSION) != 0)
			return (qf_fail(err, errlen, "unsupported version"));
		return (0);
	case 1:
		if (!queue_id_valid(line + 1))
			return (qf_fail(err, errlen, "bad queue id record"));
		strcpy(qf->id, line + 1);
		return (0);
	case 2:
		if ((dot = strchr(line + 1, '.')) == NULL
		    || parse_num(line + 1, (size_t)(dot - line - 1), &v) < 0
		    || v < 0 || v > LONG_MAX || strlen(dot + 1) != 6
		    || parse_num(dot + 1, 6, &us) < 0 || us < 0)
			return (qf_fail(err, errlen, "bad arrival time"));
		qf->arrival = (long)v;
		qf->arrival_usec = (long)us;
		return (0);
	case 3:
		if (fixed_num(line + 1, len - 1, &v) < 0 || v > LONG_MAX)
			return (qf_fail(err, errlen, "bad warning time"));
		qf->warn_time = (long)v;
		qf->warn_offset = off + 1;
		return (0);
	default:
		if ((qf->sender = enc_get(line + 1, len - 1)) == NULL)
			return (qf_fail(err, errlen, "bad sender encoding"));
		return (0);
	}
}

/* qf_envelope - parse records up to M; *msg_off set */
static int
qf_envelope(struct queue_file *qf, struct qreader *r, char *err,
    size_t errlen)
{
	static const char order[] = "VITWS";
	char	*line;
	size_t	 len;
	off_t	 off;
	int	 rc, stage = 0;
	long long v;

	for (;;) {
		if ((rc = qr_line(r, &line, &len, &off)) == QR_ERROR)
			return (qf_fail(err, errlen, "%s", errno == EFBIG ?
			    "record too long" : strerror(errno)));
		if (rc != QR_LINE)
			return (qf_fail(err, errlen, "truncated envelope"));
		if (strlen(line) != len)
			return (qf_fail(err, errlen, "NUL byte in record"));
		if (stage < 5) {
			if (line[0] != order[stage])
				return (qf_fail(err, errlen,
				    "missing %c record", order[stage]));
			if (qf_head(qf, stage++, line, len, off, err,
			    errlen) < 0)
				return (-1);
		} else if (line[0] == 'A' && stage == 5) {
			if (qf_attr(qf, line, err, errlen) < 0)
				return (-1);
		} else if (line[0] == 'R') {
			stage = 6;
			if (qf_rcpt(qf, line, len, off, err, errlen) < 0)
				return (-1);
		} else if (line[0] == 'M') {
			if (fixed_num(line + 1, len - 1, &v) < 0)
				return (qf_fail(err, errlen,
				    "bad message length"));
			qf->msg_offset = off + (off_t)len + 1;
			qf->msg_len = (off_t)v;
			return (0);
		} else
			return (qf_fail(err, errlen,
			    "unexpected record type 0x%02x",
			    (unsigned char)line[0]));
	}
}

/* qf_tail - the E record and appended recipients */
static int
qf_tail(struct queue_file *qf, struct qreader *r, off_t size, char *err,
    size_t errlen)
{
	char	*line;
	size_t	 len;
	off_t	 off;
	int	 rc;

	if (qf->msg_len > size - qf->msg_offset)
		return (qf_fail(err, errlen, "message length beyond end"));
	qr_seek(r, qf->msg_offset + qf->msg_len);
	for (;;) {			/* trailer A records, then E */
		if (qr_line(r, &line, &len, &off) != QR_LINE
		    || strlen(line) != len)
			return (qf_fail(err, errlen, "missing end record"));
		if (line[0] != 'A')
			break;
		if (qf_attr(qf, line, err, errlen) < 0)
			return (-1);
	}
	if (strcmp(line, "E"))
		return (qf_fail(err, errlen, "missing end record"));
	for (;;) {
		if ((rc = qr_line(r, &line, &len, &off)) == QR_ERROR
		    && errno != EFBIG)
			return (qf_fail(err, errlen, "%s", strerror(errno)));
		if (rc == QR_EOF) {
			qf->end_offset = r->base + (off_t)r->pos;
			return (0);
		}
		if (rc == QR_PARTIAL || rc == QR_ERROR) {
			/* a torn append: never durable, so never relied on */
			qf->end_offset = r->base + (off_t)r->pos;
			if (qf->writable && ftruncate(qf->fd, qf->end_offset))
				return (qf_fail(err, errlen, "truncate: %s",
				    strerror(errno)));
			return (0);
		}
		if (strlen(line) != len || line[0] != 'R')
			return (qf_fail(err, errlen,
			    "bad record after end record"));
		if (qf_rcpt(qf, line, len, off, err, errlen) < 0)
			return (-1);
	}
}

/*
 * qf_open_regular - open path without blocking and without following a
 * symbolic link, and only if it is a regular file. A FIFO dropped into
 * the world-writable maildrop/ would otherwise block open() (and the
 * thread that called it) until somebody opens its other end. -1 with
 * errno EINVAL (not a queue file: the caller moves it to corrupt/) or
 * the open error.
 */
static int
qf_open_regular(struct queue_file *qf, const char *path, char *err,
    size_t errlen, struct stat *stp)
{
	struct stat st;
	int	 saved;

	qf->fd = open(path, (qf->writable ? O_RDWR : O_RDONLY) | O_CLOEXEC
	    | O_NONBLOCK | O_NOFOLLOW);
	if (qf->fd < 0 && errno == ELOOP) {
		snprintf(err, errlen, "%s: is a symbolic link", path);
		errno = EINVAL;
		return (-1);
	}
	if (qf->fd < 0 && errno == EISDIR) {
		snprintf(err, errlen, "%s: not a regular file", path);
		errno = EINVAL;
		return (-1);
	}
	if (qf->fd < 0 || fstat(qf->fd, &st) < 0) {
		saved = errno;
		snprintf(err, errlen, "open %s: %s", path, strerror(saved));
		errno = saved;
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file (%s)", path,
		    S_ISFIFO(st.st_mode) ? "fifo" : S_ISDIR(st.st_mode) ?
		    "directory" : S_ISSOCK(st.st_mode) ? "socket" :
		    "device");
		errno = EINVAL;
		return (-1);
	}
	/*
	 * O_NONBLOCK stays: it only matters for what the open refused
	 * above (a fifo, a device); reads and writes of a regular file
	 * ignore it (two fcntl calls less per open: qmgr and every agent
	 * open each message once).
	 */
	*stp = st;
	return (0);
}

/* queue_file_open - open and parse a queue file */
struct queue_file *
queue_file_open(const char *path, int writable, char *err, size_t errlen)
{
	struct queue_file *qf = xcalloc(1, sizeof(*qf));
	struct qreader r;
	struct stat st;
	const char *base;
	int	 ret = -1, saved;

	memset(&r, 0, sizeof(r));
	qf->path = xstrdup(path);
	qf->writable = writable;
	if (qf_open_regular(qf, path, err, errlen, &st) < 0) {
		saved = errno;
		queue_file_close(qf);
		errno = saved;
		return (NULL);
	}
	r.fd = qf->fd;
	r.cap = QUEUE_LINE_MAX + 2;
	r.buf = xmalloc(r.cap);
	if (st.st_size > (off_t)r.cap)
		r.chunk = QR_CHUNK;	/* envelope and tail, not the message */
	if (qf_envelope(qf, &r, err, errlen) == 0
	    && qf_tail(qf, &r, st.st_size, err, errlen) == 0)
		ret = 0;
	/*
	 * A reader keeps a small file's bytes for its message; a writer
	 * (qmgr, holding many files open) does not.
	 */
	if (ret == 0 && !writable && r.base == 0 && r.eof
	    && qf->msg_offset + qf->msg_len <= (off_t)r.len)
		qf->data = r.buf;
	else
		free(r.buf);
	base = (base = strrchr(path, '/')) ? base + 1 : path;
	if (ret == 0 && strcmp(base + (*base == '.'), qf->id) != 0)
		ret = qf_fail(err, errlen, "queue id %s differs from file name",
		    qf->id);
	if (ret < 0) {
		queue_file_close(qf);
		errno = EINVAL;
		return (NULL);
	}
	if (qf->sender == NULL)
		qf->sender = xstrdup("");
	return (qf);
}

/* queue_file_attr - value of a named attribute, or NULL */
const char *
queue_file_attr(const struct queue_file *qf, const char *name)
{
	size_t	 i;

	for (i = qf->nattrs; i-- > 0;)	/* the last one: a trailer's */
		if (strcmp(qf->attrs[i].name, name) == 0)
			return (qf->attrs[i].value);
	return (NULL);
}

/* fdatasyncs of queue files done by this process (for tests) */
unsigned long queue_file_syncs;

/* pwrite_only - write bytes in place, no sync */
static int
pwrite_only(int fd, const char *data, size_t len, off_t off)
{
	ssize_t	 n;

	if ((n = pwrite(fd, data, len, off)) < 0)
		return (-1);
	if ((size_t)n != len) {
		errno = EIO;
		return (-1);
	}
	return (0);
}

/* pwrite_sync - write bytes in place and make them durable */
static int
pwrite_sync(int fd, const char *data, size_t len, off_t off)
{
	if (pwrite_only(fd, data, len, off) < 0)
		return (-1);
	__atomic_add_fetch(&queue_file_syncs, 1, __ATOMIC_RELAXED);
	return (fdatasync(fd));
}

/* mark_done - flip one status byte; sync or leave it for the caller */
static int
mark_done(struct queue_file *qf, size_t rcpt, int sync)
{
	if (rcpt >= qf->nrcpts || !qf->writable) {
		errno = EINVAL;
		return (-1);
	}
	if (qf->rcpts[rcpt].done)
		return (0);
	if ((sync ? pwrite_sync : pwrite_only)(qf->fd, "D", 1,
	    qf->rcpts[rcpt].offset) < 0)
		return (-1);
	qf->rcpts[rcpt].done = 1;
	return (0);
}

/* queue_file_mark_done - flip one recipient's status to done, durably */
int
queue_file_mark_done(struct queue_file *qf, size_t rcpt)
{
	return (mark_done(qf, rcpt, 1));
}

/* queue_file_mark_done_nosync - flip it; queue_file_sync() makes it durable */
int
queue_file_mark_done_nosync(struct queue_file *qf, size_t rcpt)
{
	return (mark_done(qf, rcpt, 0));
}

/* queue_file_sync - fdatasync the flips written so far */
int
queue_file_sync(struct queue_file *qf)
{
	if (!qf->writable) {
		errno = EINVAL;
		return (-1);
	}
	__atomic_add_fetch(&queue_file_syncs, 1, __ATOMIC_RELAXED);
	return (fdatasync(qf->fd));
}

/* queue_file_set_warn - rewrite the delay-warning time in place */
int
queue_file_set_warn(struct queue_file *qf, long when)
{
	char	 num[QUEUE_NUM_WIDTH + 1];

	if (!qf->writable || when < 0) {
		errno = EINVAL;
		return (-1);
	}
	snprintf(num, sizeof(num), "%0*ld", QUEUE_NUM_WIDTH, when);
	if (pwrite_sync(qf->fd, num, QUEUE_NUM_WIDTH, qf->warn_offset) < 0)
		return (-1);
	qf->warn_time = when;
	return (0);
}

/* queue_file_find_rcpt - index of (addr, parent), or -1 */
long
queue_file_find_rcpt(const struct queue_file *qf, const char *addr,
    long parent)
{
	size_t	 i;

	for (i = 0; i < qf->nrcpts; i++)
		if (qf->rcpts[i].parent == parent
		    && strcmp(qf->rcpts[i].addr, addr) == 0)
			return ((long)i);
	return (-1);
}

/* queue_file_add_rcpt - append an expanded recipient, durably */
int
queue_file_add_rcpt(struct queue_file *qf, const char *addr,
    const char *orcpt, int notify, size_t parent)
{
	struct buf *b;
	struct queue_rcpt *r;
	int	 ret;

	if (!qf->writable || parent >= qf->nrcpts || addr == NULL
	    || notify < 0 || notify > 15 || qf->nrcpts >= QUEUE_RCPT_MAX) {
		errno = EINVAL;
		return (-1);
	}
	if (queue_file_find_rcpt(qf, addr, (long)parent) >= 0)
		return (0);
	b = buf_new(128);
	rcpt_record(b, addr, orcpt, notify, (long)parent);
	if (BUF_LEN(b) > QUEUE_LINE_MAX) {
		buf_free(b);
		errno = E2BIG;
		return (-1);
	}
	if ((ret = pwrite_sync(qf->fd, BUF_STR(b), BUF_LEN(b),
	    qf->end_offset)) < 0) {
		int	 saved = errno;

		(void)ftruncate(qf->fd, qf->end_offset);
		buf_free(b);
		errno = saved;
		return (-1);
	}
	if (qf->nrcpts % 64 == 0)
		qf->rcpts = xrealloc(qf->rcpts,
		    (qf->nrcpts + 64) * sizeof(*r));
	r = &qf->rcpts[qf->nrcpts++];
	r->addr = xstrdup(addr);
	r->orcpt = xstrdup(orcpt);
	r->notify = notify;
	r->done = 0;
	r->parent = (long)parent;
	r->offset = qf->end_offset + 1;
	qf->end_offset += (off_t)BUF_LEN(b);
	buf_free(b);
	return (0);
}

/* queue_file_close - release a queue file; NULL is fine */
void
queue_file_close(struct queue_file *qf)
{
	size_t	 i;

	if (qf == NULL)
		return;
	if (qf->pool_tmp != NULL)
		queue_pool_settle(qf);	/* queue_remove() of a big file */
	if (qf->fd >= 0)
		close(qf->fd);
	for (i = 0; i < qf->nattrs; i++) {
		free(qf->attrs[i].name);
		free(qf->attrs[i].value);
	}
	for (i = 0; i < qf->nrcpts; i++) {
		free(qf->rcpts[i].addr);
		free(qf->rcpts[i].orcpt);
	}
	free(qf->attrs);
	free(qf->rcpts);
	free(qf->sender);
	free(qf->path);
	free(qf->data);
	free(qf);
}

/* queue_file_msg - the message bytes when read with the file, or NULL */
const char *
queue_file_msg(const struct queue_file *qf)
{
	return (qf->data ? qf->data + qf->msg_offset : NULL);
}

/*
 * Directory helpers.
 */

/* queue_move - rename id from one queue directory to another, durably */
int
queue_move(const char *queue_dir, const char *from, const char *to,
    const char *id)
{
	char	*src, *dst;
	int	 ret;

	if (!queue_id_valid(id)) {
		errno = EINVAL;
		return (-1);
	}
	src = queue_path(queue_dir, from, id);
	dst = queue_path(queue_dir, to, id);
	ret = rename(src, dst);
	free(src);
	free(dst);
	if (ret < 0)
		return (-1);
	if (queue_sync_dir(queue_dir, to) < 0)
		return (-1);
	return (strcmp(from, to) ? queue_sync_dir(queue_dir, from) : 0);
}

/* name_cmp - qsort by string */
static int
name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* queue_scan - complete queue files of one directory, sorted */
struct strv *
queue_scan(const char *queue_dir, const char *subdir)
{
	char	*path = xasprintf("%s/%s", queue_dir, subdir);
	DIR	*d = opendir(path);
	struct dirent *de;
	struct strv *v;
	int	 saved;

	free(path);
	if (d == NULL)
		return (NULL);
	v = strv_new();
	errno = 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && queue_id_valid(de->d_name))
			strv_add(v, de->d_name);
	saved = errno;
	closedir(d);
	if (saved) {
		strv_free(v);
		errno = saved;
		return (NULL);
	}
	if (v->argc > 1)
		qsort(v->argv, v->argc, sizeof(*v->argv), name_cmp);
	return (v);
}

/*
 * queue_unlink_if - unlink each regular file of queue_dir/subdir whose
 * entry doomed(name, st, ctx) accepts (never "." or ".."; doomed may
 * refuse by name before the lstat: st is NULL then, and it is asked
 * again with st); the number unlinked, -1 when the directory cannot be
 * read. The walk of queue_clean_temp() and queue_pool_prune().
 */
int
queue_unlink_if(const char *queue_dir, const char *subdir,
    int (*doomed)(const char *, const struct stat *, void *), void *ctx)
{
	char	*path = xasprintf("%s/%s", queue_dir, subdir), *f;
	DIR	*d = opendir(path);
	struct dirent *de;
	struct stat st;
	int	 count = 0;

	if (d == NULL) {
		free(path);
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0
		    || !doomed(de->d_name, NULL, ctx))
			continue;
		f = xasprintf("%s/%s", path, de->d_name);
		if (lstat(f, &st) == 0 && S_ISREG(st.st_mode)
		    && doomed(de->d_name, &st, ctx) && unlink(f) == 0)
			count++;
		free(f);
	}
	closedir(d);
	free(path);
	return (count);
}

struct clean_temp {
	const char *subdir;
	time_t	 now;
	long	 max_age;
};

/* clean_temp_doomed - a temporary file older than max_age */
static int
clean_temp_doomed(const char *name, const struct stat *st, void *ctx)
{
	const struct clean_temp *c = ctx;

	if (name[0] != '.')
		return (0);
	/* an interrupted pickup: queue_pickup_recover() decides */
	if (strcmp(c->subdir, "maildrop") != 0 && strncmp(name,
	    QUEUE_PICKUP_PREFIX, strlen(QUEUE_PICKUP_PREFIX)) == 0)
		return (0);
	return (st == NULL || c->now - st->st_mtime > c->max_age);
}

/* queue_clean_temp - remove temporary files older than max_age */
int
queue_clean_temp(const char *queue_dir, const char *subdir, long max_age)
{
	struct clean_temp c = {subdir, time(NULL), max_age};

	return (queue_unlink_if(queue_dir, subdir, clean_temp_doomed, &c));
}

/*
 * queue_pickup_parse - split ".pickup.DROPID.ID"; 0 when name is one
 */
int
queue_pickup_parse(const char *name, char *drop_id, char *id)
{
	size_t	 plen = strlen(QUEUE_PICKUP_PREFIX);
	const char *dot;

	if (strncmp(name, QUEUE_PICKUP_PREFIX, plen) != 0)
		return (-1);
	name += plen;
	if ((dot = strchr(name, '.')) == NULL
	    || (size_t)(dot - name) > QUEUE_ID_MAX)
		return (-1);
	memcpy(drop_id, name, (size_t)(dot - name));
	drop_id[dot - name] = 0;
	if (strlen(dot + 1) > QUEUE_ID_MAX)
		return (-1);
	strcpy(id, dot + 1);
	if (!queue_id_valid(drop_id) || !queue_id_valid(id))
		return (-1);
	return (0);
}

/*
 * queue_pickup_finish - the last pickup step, after maildrop/DROPID
 * was unlinked and maildrop/ synced: .pickup.DROPID.ID becomes ID.
 */
int
queue_pickup_finish(const char *queue_dir, const char *subdir,
    const char *drop_id, const char *id)
{
	char	*from = xasprintf("%s/%s/" QUEUE_PICKUP_PREFIX "%s.%s",
	    queue_dir, subdir, drop_id, id);
	char	*to = queue_path(queue_dir, subdir, id);
	int	 ret, saved;

	ret = rename(from, to);
	saved = errno;
	free(from);
	free(to);
	if (ret == 0)
		ret = queue_sync_dir(queue_dir, subdir);
	else
		errno = saved;
	return (ret);
}

/*
 * queue_pickup_recover - complete or undo interrupted pickups in
 * subdir: a .pickup.DROPID.ID whose maildrop/DROPID still exists is
 * removed (the pickup is done again); one whose maildrop file is gone
 * is renamed to ID. Only while no pickup runs. Returns how many were
 * committed, -1 when subdir cannot be read.
 */
int
queue_pickup_recover(const char *queue_dir, const char *subdir)
{
	char	*path = xasprintf("%s/%s", queue_dir, subdir), *f, *m;
	char	 drop[QUEUE_ID_MAX + 1], id[QUEUE_ID_MAX + 1];
	DIR	*d = opendir(path);
	struct dirent *de;
	struct stat st;
	int	 count = 0, changed = 0;

	if (d == NULL) {
		free(path);
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		if (queue_pickup_parse(de->d_name, drop, id) < 0)
			continue;
		f = xasprintf("%s/%s", path, de->d_name);
		m = queue_path(queue_dir, "maildrop", drop);
		if (lstat(m, &st) == 0) {
			if (unlink(f) == 0) {
				log_info("maildrop %s: interrupted pickup"
				    " undone (%s removed)", drop, id);
				changed = 1;
			} else
				log_warn("%s: remove: %m", f);
		} else if (errno != ENOENT)
			log_warn("%s: %m", m);
		else if (queue_pickup_finish(queue_dir, subdir, drop, id)
		    == 0) {
			log_info("maildrop %s: interrupted pickup completed:"
			    " %s", drop, id);
			count++;
		} else
			log_warn("%s: commit: %m", f);
		free(m);
		free(f);
	}
	closedir(d);
	if (changed && queue_sync_dir(queue_dir, subdir) < 0)
		log_warn("%s: sync: %m", path);
	free(path);
	return (count);
}

static const struct {
	const char *name;
	mode_t	 mode;
	int	 mail_owned;
} queue_dirs[] = {
	{"incoming", 0700, 1}, {"active", 0700, 1}, {"deferred", 0700, 1},
	{"hold", 0700, 1}, {"corrupt", 0700, 1}, {"maildrop", 01733, 1},
	{"bounce", 0700, 1}, {"defer", 0700, 1}, {"private", 0700, 1},
	{"public", 0755, 1}, {"pid", 0755, 0}, {"saved", 0700, 1},
	{"pool", 0700, 1}, {"journal", 0700, 1},
};

/* queue_dirs_create - create missing queue directories (QUEUE.md) */
int
queue_dirs_create(const char *queue_dir, uid_t uid, gid_t gid, char *err,
    size_t errlen)
{
	size_t	 i;
	char	*p;

	if (mkdir(queue_dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", queue_dir,
		    strerror(errno));
		return (-1);
	}
	for (i = 0; i < sizeof(queue_dirs) / sizeof(queue_dirs[0]); i++) {
		p = xasprintf("%s/%s", queue_dir, queue_dirs[i].name);
		if (mkdir(p, queue_dirs[i].mode) == 0) {
			if (chmod(p, queue_dirs[i].mode) < 0
			    || (uid != (uid_t)-1 && queue_dirs[i].mail_owned
			    && chown(p, uid, gid) < 0)) {
				snprintf(err, errlen, "chmod/chown %s: %s", p,
				    strerror(errno));
				free(p);
				return (-1);
			}
		} else if (errno != EEXIST) {
			snprintf(err, errlen, "mkdir %s: %s", p,
			    strerror(errno));
			free(p);
			return (-1);
		}
		free(p);
	}
	return (0);
}

/*
 * bounce/ and defer/ logs.
 */

/* queue_log_append - append one outcome entry, durably */
int
queue_log_append(const char *queue_dir, const char *log, const char *id,
    const struct queue_log_entry *e)
{
	struct buf *b;
	char	*path;
	int	 fd, ret, saved;

	if (!queue_id_valid(id)) {
		errno = EINVAL;
		return (-1);
	}
	path = queue_path(queue_dir, log, id);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	if (fd < 0)
		return (-1);
	b = buf_new(256);
	attr_put_long(b, "index", e->index);
	attr_put(b, "recipient", e->recipient ? e->recipient : "");
	if (e->orig_rcpt)
		attr_put(b, "orig_rcpt", e->orig_rcpt);
	attr_put(b, "status", e->status ? e->status : "");
	attr_put(b, "action", e->action ? e->action : "");
	attr_put(b, "reason", e->reason ? e->reason : "");
	attr_put_long(b, "time", e->time ? e->time : (long)time(NULL));
	attr_end(b);
	ret = write(fd, BUF_STR(b), BUF_LEN(b)) == (ssize_t)BUF_LEN(b)
	    ? fdatasync(fd) : -1;
	if (ret < 0 && errno == 0)
		errno = EIO;
	saved = errno;
	close(fd);
	buf_free(b);
	errno = saved;
	return (ret);
}

/* log_entry_cmp - by index */
static int
log_entry_cmp(const void *a, const void *b)
{
	const struct queue_log_entry *x = a, *y = b;

	return (x->index < y->index ? -1 : x->index > y->index);
}

/* log_entry_set - fill e from one parsed list; -1 if unusable */
static int
log_entry_set(struct queue_log_entry *e, const struct attr_list *l)
{
	const char *o = attr_get(l, "orig_rcpt");

	memset(e, 0, sizeof(*e));
	if (attr_get_long(l, "index", &e->index) < 0 || e->index < 0
	    || attr_get(l, "recipient") == NULL)
		return (-1);
	(void)attr_get_long(l, "time", &e->time);
	e->recipient = xstrdup(attr_get(l, "recipient"));
	e->orig_rcpt = xstrdup(o);
	e->status = xstrdup(attr_get(l, "status") ? attr_get(l, "status") : "");
	e->action = xstrdup(attr_get(l, "action") ? attr_get(l, "action") : "");
	e->reason = xstrdup(attr_get(l, "reason") ? attr_get(l, "reason") : "");
	return (0);
}

/* log_entry_clear - free the strings of one entry */
static void
log_entry_clear(struct queue_log_entry *e)
{
	free(e->recipient);
	free(e->orig_rcpt);
	free(e->status);
	free(e->action);
	free(e->reason);
}

/* queue_log_read - the entries of a log, last one per index, by index */
struct queue_log_entry *
queue_log_read(const char *queue_dir, const char *log, const char *id,
    size_t *count)
{
	struct queue_log_entry *v = NULL, e;
	struct attr_list *l;
	struct buf *data;
	char	*path, chunk[8192], err[128];
	size_t	 n = 0, pos = 0, used, i;
	ssize_t	 got;
	int	 fd;

	*count = 0;
	if (!queue_id_valid(id))
		return (NULL);
	path = queue_path(queue_dir, log, id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return (NULL);
	data = buf_new(8192);
	while ((got = read(fd, chunk, sizeof(chunk))) > 0
	    && BUF_LEN(data) < 64 * 1024 * 1024)
		buf_append(data, chunk, (size_t)got);
	close(fd);
	while (pos < BUF_LEN(data) && (l = attr_parse(BUF_STR(data) + pos,
	    BUF_LEN(data) - pos, &used, err, sizeof(err))) != NULL) {
		pos += used;
		if (log_entry_set(&e, l) == 0) {
			for (i = 0; i < n && v[i].index != e.index; i++)
				;
			if (i < n)
				log_entry_clear(&v[i]);
			else
				v = xrealloc(v, (++n) * sizeof(*v));
			v[i] = e;
		}
		attr_list_free(l);
	}
	buf_free(data);
	if (n > 1)
		qsort(v, n, sizeof(*v), log_entry_cmp);
	*count = n;
	return (v);
}

/* queue_log_free - release what queue_log_read() returned */
void
queue_log_free(struct queue_log_entry *v, size_t count)
{
	size_t	 i;

	for (i = 0; i < count; i++)
		log_entry_clear(&v[i]);
	free(v);
}
