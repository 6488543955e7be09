/*
 * NAME
 *	queue_journal - acknowledged messages made durable by one append
 * SYNOPSIS
 *	See queue_journal.h.
 * DESCRIPTION
 *	QUEUE.md, "The journal". A journal file is QUEUE_JOURNAL_SIZE
 *	bytes, written full of zeros once when it is made (so that a
 *	later append changes no metadata and fdatasync() is one data
 *	write and one flush): a header block, then records from
 *	JHDR_SIZE on, each a struct jrec, the temporary name and the
 *	final name of the file (relative to the queue directory), the
 *	file's bytes, padded to 8. The header holds the generation and
 *	the mark; a record counts when its magic, generation, length and
 *	checksum are right, and the first that is not ends the journal
 *	(a torn append, or an older generation's record). Integers are
 *	the host's: a journal is read only on the host that wrote it.
 *	The checksum (FNV-1a over 64-bit words, mixed) finds torn
 *	writes; nothing here is guarded against a forger, who would need
 *	the queue owner's rights.
 *
 *	Order of a checkpoint, and of a recovery, so that a crash at any
 *	instant leaves a journal whose next recovery is right:
 *	  1. every record's temporary file durable (syncfs; a recovery
 *	     writes each record after the mark again and fsyncs it);
 *	  2. the mark (the end of the records) written and synced;
 *	  3. renames to the final names;
 *	  4. syncfs (the renames durable);
 *	  5. a new generation: the records are dead.
 *	A record below the mark whose temporary file is gone was renamed
 *	in 3 (and may be delivered and gone since): it is left alone. A
 *	record at or after the mark cannot have been renamed: its file is
 *	written again from the journal, whatever the disk kept of it.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "queue.h"
#include "queue_journal.h"
#include "xalloc.h"

#define JHDR_SIZE	4096
#define JHDR_MAGIC	"postern-journal1"	/* 16 bytes, no NUL */
#define JREC_MAGIC	0x31524a50u		/* "PJR1" */
#define JSUM_SEED	0xcbf29ce484222325ULL

struct jhdr {
	char	 magic[16];
	uint64_t gen;
	uint64_t mark;		/* records below: files durable; 0: none */
	uint64_t sum;
};

struct jrec {
	uint32_t magic;
	uint32_t len;		/* the whole record, a multiple of 8 */
	uint64_t gen;
	uint64_t sum;		/* of the record, this field 0 */
	uint16_t tmplen;
	uint16_t finlen;
	uint32_t datalen;
};

struct jpend {
	char	*tmp;
	char	*final;
};

struct queue_journal {
	char	*queue_dir;
	char	*path;
	int	 fd;
	uint64_t gen;
	off_t	 end;		/* where the next record goes */
	char	*buf;		/* staged records */
	size_t	 buflen;
	size_t	 bufsize;
	size_t	 staged;
	struct jpend *pend;	/* written, not yet renamed */
	size_t	 npend;
	size_t	 pendsize;
	struct timespec first;	/* when the oldest pending was written */
};

int	(*queue_journal_sync_fn)(const char *) = queue_sync_fs;

/* jsum - FNV-1a over 64-bit words, mixed; the tail byte by byte */
static uint64_t
jsum(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	for (; len > 0; s++, len--)
		h = (h ^ *s) * 0x100000001b3ULL;
	return (h);
}

/* pio - pread or pwrite all of len at off */
static int
pio(int fd, void *p, size_t len, off_t off, int wr)
{
	ssize_t	 n;

	while (len > 0) {
		n = wr ? pwrite(fd, p, len, off) : pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return (-1);
		}
		p = (char *)p + n;
		len -= n;
		off += n;
	}
	return (0);
}

/* hdr_write - the header block, synced */
static int
hdr_write(int fd, uint64_t gen, uint64_t mark)
{
	char	 block[JHDR_SIZE];
	struct jhdr h;

	memset(block, 0, sizeof(block));
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, JHDR_MAGIC, sizeof(h.magic));
	h.gen = gen;
	h.mark = mark;
	h.sum = jsum(JSUM_SEED, &h, sizeof(h));
	memcpy(block, &h, sizeof(h));
	if (pio(fd, block, sizeof(block), 0, 1) < 0 || fdatasync(fd) < 0)
		return (-1);
	return (0);
}

/* hdr_read - the header, if it is one */
static int
hdr_read(int fd, struct jhdr *h)
{
	uint64_t sum;

	if (pio(fd, h, sizeof(*h), 0, 0) < 0)
		return (-1);
	sum = h->sum;
	h->sum = 0;
	if (memcmp(h->magic, JHDR_MAGIC, sizeof(h->magic)) != 0
	    || jsum(JSUM_SEED, h, sizeof(*h)) != sum) {
		errno = EINVAL;
		return (-1);
	}
	h->sum = sum;
	return (0);
}

/* rel_ok - "incoming/.ID" (tmp) or "incoming/ID", "hold/ID" (final) */
static int
rel_ok(const char *p, size_t len, int tmp)
{
	const char *name;
	size_t	 i, sub;

	if (len > 9 && strncmp(p, "incoming/", 9) == 0)
		sub = 9;
	else if (!tmp && len > 5 && strncmp(p, "hold/", 5) == 0)
		sub = 5;
	else
		return (0);
	name = p + sub;
	len -= sub;
	if (tmp != (name[0] == '.'))
		return (0);
	for (i = tmp; i < len; i++)
		if (!isalnum((unsigned char)name[i]))
			return (0);
	return (len > (size_t)tmp + 1 && len < 128);
}

/* rel - path relative to the queue directory, NULL if not under it */
static const char *
rel(const struct queue_journal *j, const char *path)
{
	size_t	 n = strlen(j->queue_dir);

	if (path == NULL || strncmp(path, j->queue_dir, n) != 0
	    || path[n] != '/')
		return (NULL);
	return (path + n + 1);
}

/* journal_path - DIR/journal[/NAME] */
static char *
journal_path(const char *queue_dir, const char *name)
{
	return (name ? xasprintf("%s/%s/%s", queue_dir, QUEUE_JOURNAL_DIR,
	    name) : xasprintf("%s/%s", queue_dir, QUEUE_JOURNAL_DIR));
}

/* rewrite - a record's file again, from the journal, synced */
static int
rewrite(const char *path, const char *data, size_t len)
{
	int	 fd, saved;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW
	    | O_CLOEXEC, 0600)) < 0)
		return (-1);
	if (pio(fd, (void *)data, len, 0, 1) < 0 || fsync(fd) < 0) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return (-1);
	}
	return (close(fd));
}

/* recover_fd - finish the records of a journal this process holds;
 * *gen is the generation to write next; -1: try again later */
static int
recover_fd(const char *queue_dir, const char *path, int fd, uint64_t *gen)
{
	struct jhdr h;
	struct jrec r;
	struct stat st;
	char	*buf = NULL, *tmp, *fin;
	size_t	 bufsize = 0, n = 0, again = 0, nrec = 0;
	off_t	 off, end;
	uint64_t sum;
	int	 pass, ret = 0;

	*gen = 1;
	if (fstat(fd, &st) < 0 || hdr_read(fd, &h) < 0)
		return (0);			/* new or never written */
	*gen = h.gen;
	/* pass 0: files of records after the mark written again; pass 1:
	 * mark, renames */
	for (pass = 0; pass < 2; pass++) {
		for (off = JHDR_SIZE; off + (off_t)sizeof(r) <= st.st_size;
		    off += r.len) {
			if (pio(fd, &r, sizeof(r), off, 0) < 0
			    || r.magic != JREC_MAGIC || r.gen != h.gen
			    || r.len < sizeof(r) || r.len % 8
			    || r.len > st.st_size - off
			    || sizeof(r) + (size_t)r.tmplen + r.finlen
			    + r.datalen > r.len)
				break;
			if (bufsize < r.len)
				buf = xrealloc(buf, bufsize = r.len);
			if (pio(fd, buf, r.len, off, 0) < 0)
				break;
			sum = r.sum;
			memset(buf + offsetof(struct jrec, sum), 0, 8);
			if (jsum(JSUM_SEED, buf, r.len) != sum)
				break;
			tmp = buf + sizeof(r);
			fin = tmp + r.tmplen;
			if (!rel_ok(tmp, r.tmplen, 1)
			    || !rel_ok(fin, r.finlen, 0)) {
				log_warn("%s: record at %lld names no queue "
				    "file; skipped", path, (long long)off);
				continue;
			}
			tmp = xasprintf("%s/%.*s", queue_dir, (int)r.tmplen,
			    tmp);
			fin = xasprintf("%s/%.*s", queue_dir, (int)r.finlen,
			    fin);
			if (pass == 0) {
				nrec++;
				/* below the mark: its file is on disk */
				if (h.mark != 0 && (uint64_t)off < h.mark)
					;
				else if (rewrite(tmp, buf + sizeof(r)
				    + r.tmplen + r.finlen, r.datalen) < 0) {
					log_warn("%s: cannot write %s again: "
					    "%m", path, tmp);
					ret = -1;
				} else
					again++;
			} else if (rename(tmp, fin) == 0)
				n++;
			else if (errno != ENOENT) {
				log_warn("%s: cannot rename %s: %m", path,
				    tmp);
				ret = -1;
			}
			free(tmp);
			free(fin);
		}
		end = off;
		if (ret < 0)
			break;
		/* every file durable: the mark says so */
		if (pass == 0 && nrec > 0 && (uint64_t)end != h.mark) {
			if (hdr_write(fd, h.gen, end) < 0) {
				ret = -1;
				break;
			}
			h.mark = end;
		}
	}
	free(buf);
	if (ret == 0 && (nrec > 0 || h.mark != 0)) {
		if (queue_journal_sync_fn(queue_dir) < 0
		    || hdr_write(fd, h.gen + 1, 0) < 0) {
			log_warn("%s: cannot finish recovery: %m", path);
			return (-1);
		}
		*gen = h.gen + 1;
	}
	if (nrec > 0)
		log_info("journal %s: %zu messages committed (%zu written "
		    "again from the journal)", path, n, again);
	return (ret < 0 ? -1 : (int)n);
}

/* slot_name - a journal's file name: a slot number */
static int
slot_name(const char *name)
{
	char	*end;
	long	 n;

	if (!isdigit((unsigned char)name[0]))
		return (-1);
	n = strtol(name, &end, 10);
	return (*end == 0 && n >= 0 && n < QUEUE_JOURNAL_SLOTS ? (int)n : -1);
}

/* queue_journal_recover - finish every journal no process holds */
int
queue_journal_recover(const char *queue_dir)
{
	char	*dir = journal_path(queue_dir, NULL), *p;
	struct dirent *e;
	uint64_t gen;
	DIR	*d;
	int	 fd, n, total = 0;

	if ((d = opendir(dir)) == NULL) {
		free(dir);
		return (0);
	}
	while ((e = readdir(d)) != NULL) {
		if (slot_name(e->d_name) < 0)
			continue;
		p = journal_path(queue_dir, e->d_name);
		if ((fd = open(p, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			if (flock(fd, LOCK_EX | LOCK_NB) == 0
			    && (n = recover_fd(queue_dir, p, fd, &gen)) > 0)
				total += n;
			(void)close(fd);
		}
		free(p);
	}
	closedir(d);
	free(dir);
	return (total);
}

/* journal_init - a new journal file: zeros, then the header */
static int
journal_init(int fd)
{
	static const char zero[1 << 16];
	off_t	 off;

	if (ftruncate(fd, 0) < 0)
		return (-1);
	for (off = 0; off < QUEUE_JOURNAL_SIZE; off += sizeof(zero))
		if (pio(fd, (void *)zero, sizeof(zero), off, 1) < 0)
			return (-1);
	if (fsync(fd) < 0)
		return (-1);
	return (hdr_write(fd, 1, 0));
}

/* queue_journal_open - recover the orphans, take a journal */
struct queue_journal *
queue_journal_open(const char *queue_dir, char *err, size_t errlen)
{
	struct queue_journal *j;
	struct stat st;
	struct jhdr h;
	char	*dir = journal_path(queue_dir, NULL), *p, name[16];
	uint64_t gen;
	int	 fd, i;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
		free(dir);
		return (NULL);
	}
	free(dir);
	(void)queue_journal_recover(queue_dir);
	for (i = 0; i < QUEUE_JOURNAL_SLOTS; i++) {
		snprintf(name, sizeof(name), "%d", i);
		p = journal_path(queue_dir, name);
		if ((fd = open(p, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    0600)) < 0) {
			snprintf(err, errlen, "open %s: %s", p,
			    strerror(errno));
			free(p);
			return (NULL);
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			(void)close(fd);
			free(p);
			continue;
		}
		if (fstat(fd, &st) < 0 || st.st_size != QUEUE_JOURNAL_SIZE
		    || hdr_read(fd, &h) < 0) {
			if (journal_init(fd) < 0
			    || queue_sync_dir(queue_dir, QUEUE_JOURNAL_DIR) < 0) {
				snprintf(err, errlen, "initialize %s: %s", p,
				    strerror(errno));
				(void)close(fd);
				free(p);
				return (NULL);
			}
			gen = 1;
		} else if (recover_fd(queue_dir, p, fd, &gen) < 0) {
			/* its records wait for the next recovery */
			(void)close(fd);
			free(p);
			continue;
		}
		j = xcalloc(1, sizeof(*j));
		j->queue_dir = xstrdup(queue_dir);
		j->path = p;
		j->fd = fd;
		j->gen = gen;
		j->end = JHDR_SIZE;
		return (j);
	}
	snprintf(err, errlen, "all %d journals of %s/%s are held",
	    QUEUE_JOURNAL_SLOTS, queue_dir, QUEUE_JOURNAL_DIR);
	return (NULL);
}

/* queue_journal_add - stage a finished file's record */
int
queue_journal_add(struct queue_journal *j, const struct queue_rename *qr)
{
	const char *tmp = rel(j, qr->tmp), *fin = rel(j, qr->final);
	struct jrec r;
	struct stat st;
	size_t	 need, at;
	int	 fd = -1, saved;

	if (tmp == NULL || fin == NULL || !rel_ok(tmp, strlen(tmp), 1)
	    || !rel_ok(fin, strlen(fin), 0)) {
		errno = EINVAL;
		goto fail;
	}
	/* the writer's copy of the bytes, else the file read back */
	if (qr->data != NULL)
		st.st_size = (off_t)qr->len;
	else if ((fd = open(qr->tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0
	    || fstat(fd, &st) < 0)
		goto fail;
	if (st.st_size > QUEUE_JOURNAL_MSG_MAX) {
		errno = EFBIG;
		goto fail;
	}
	memset(&r, 0, sizeof(r));
	r.magic = JREC_MAGIC;
	r.gen = j->gen;
	r.tmplen = strlen(tmp);
	r.finlen = strlen(fin);
	r.datalen = st.st_size;
	need = (sizeof(r) + r.tmplen + r.finlen + r.datalen + 7) & ~(size_t)7;
	if ((size_t)j->end + j->buflen + need > (size_t)QUEUE_JOURNAL_SIZE) {
		errno = ENOSPC;
		goto fail;
	}
	r.len = need;
	if (j->buflen + need > j->bufsize)
		j->buf = xrealloc(j->buf, j->bufsize = 2 * (j->buflen + need));
	at = j->buflen;
	memset(j->buf + at, 0, need);
	memcpy(j->buf + at, &r, sizeof(r));
	memcpy(j->buf + at + sizeof(r), tmp, r.tmplen);
	memcpy(j->buf + at + sizeof(r) + r.tmplen, fin, r.finlen);
	if (qr->data != NULL)
		memcpy(j->buf + at + sizeof(r) + r.tmplen + r.finlen,
		    qr->data, r.datalen);
	else if (pio(fd, j->buf + at + sizeof(r) + r.tmplen + r.finlen,
	    r.datalen, 0, 0) < 0)
		goto fail;
	if (fd >= 0)
		(void)close(fd);
	r.sum = jsum(JSUM_SEED, j->buf + at, need);
	memcpy(j->buf + at + offsetof(struct jrec, sum), &r.sum, 8);
	j->buflen += need;
	j->staged++;
	return (0);

fail:
	saved = errno;
	if (fd >= 0)
		(void)close(fd);
	j->buflen = j->staged = 0;
	errno = saved;
	return (-1);
}

/* queue_journal_write - the staged records, durable; renames pending */
int
queue_journal_write(struct queue_journal *j, struct queue_rename **qr,
    size_t n)
{
	size_t	 i;

	if (n != j->staged) {
		j->buflen = j->staged = 0;
		errno = EINVAL;
		return (-1);
	}
	if (pio(j->fd, j->buf, j->buflen, j->end, 1) < 0
	    || fdatasync(j->fd) < 0) {
		j->buflen = j->staged = 0;
		return (-1);
	}
	if (j->npend == 0)
		clock_gettime(CLOCK_MONOTONIC, &j->first);
	if (j->npend + n > j->pendsize)
		j->pend = xrealloc(j->pend, (j->pendsize = 2 * (j->npend + n))
		    * sizeof(*j->pend));
	for (i = 0; i < n; i++) {
		j->pend[j->npend].tmp = qr[i]->tmp;
		j->pend[j->npend++].final = qr[i]->final;
		free(qr[i]->data);
		qr[i]->tmp = qr[i]->final = qr[i]->data = NULL;
		qr[i]->len = 0;
	}
	j->end += j->buflen;
	j->buflen = j->staged = 0;
	return (0);
}

/* queue_journal_pending - files written, not yet renamed */
size_t
queue_journal_pending(const struct queue_journal *j)
{
	return (j ? j->npend : 0);
}

/* queue_journal_wait - microseconds until a checkpoint is due: 0 now,
 * -1 never (nothing pending) */
long
queue_journal_wait(const struct queue_journal *j)
{
	struct timespec now;
	long	 usec;

	if (j == NULL || j->npend == 0)
		return (-1);
	if (j->npend >= QUEUE_JOURNAL_CKPT_FILES
	    || j->end > QUEUE_JOURNAL_SIZE / 4 * 3)
		return (0);
	clock_gettime(CLOCK_MONOTONIC, &now);
	usec = (now.tv_sec - j->first.tv_sec) * 1000000L
	    + (now.tv_nsec - j->first.tv_nsec) / 1000;
	return (usec >= QUEUE_JOURNAL_CKPT_USEC ? 0
	    : QUEUE_JOURNAL_CKPT_USEC - usec);
}

/* queue_journal_due - a checkpoint should run now */
int
queue_journal_due(const struct queue_journal *j)
{
	return (queue_journal_wait(j) == 0);
}

/* queue_journal_checkpoint - the pending files durable and renamed */
int
queue_journal_checkpoint(struct queue_journal *j)
{
	size_t	 i, kept = 0;

	/* 1, 2: the files durable, and the journal says so */
	if (queue_journal_sync_fn(j->queue_dir) < 0)
		return (-1);
	if (j->npend > 0 && hdr_write(j->fd, j->gen, j->end) < 0)
		return (-1);
	/* 3: renames; one that fails waits for the next checkpoint */
	for (i = 0; i < j->npend; i++) {
		if (rename(j->pend[i].tmp, j->pend[i].final) < 0) {
			log_warn("%s: cannot rename to %s: %m",
			    j->pend[i].tmp, j->pend[i].final);
			j->pend[kept++] = j->pend[i];
			continue;
		}
		free(j->pend[i].tmp);
		free(j->pend[i].final);
	}
	j->npend = kept;
	/* 4, 5 */
	if (queue_journal_sync_fn(j->queue_dir) < 0)
		return (-1);
	if (j->npend == 0 && j->end > JHDR_SIZE) {
		if (hdr_write(j->fd, j->gen + 1, 0) < 0)
			log_warn("%s: cannot start a new generation: %m",
			    j->path);
		else {
			j->gen++;
			j->end = JHDR_SIZE;
		}
	}
	return (0);
}

/* queue_journal_close - checkpoint what is pending, let the file go */
void
queue_journal_close(struct queue_journal *j)
{
	size_t	 i;

	if (j == NULL)
		return;
	if (j->npend > 0 && queue_journal_checkpoint(j) < 0)
		log_warn("%s: checkpoint at exit: %m (the next recovery "
		    "commits its messages)", j->path);
	(void)close(j->fd);
	for (i = 0; i < j->npend; i++) {
		free(j->pend[i].tmp);
		free(j->pend[i].final);
	}
	free(j->pend);
	free(j->buf);
	free(j->path);
	free(j->queue_dir);
	free(j);
}
