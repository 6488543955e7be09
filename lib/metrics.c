/*
 * NAME
 *	metrics - counters every daemon shares with the metrics service
 * DESCRIPTION
 *	See metrics.h. The file is a struct metrics_shm; a series slot is
 *	found by hashing family and labels and probing linearly. A writer
 *	claims a free slot with a compare-and-swap of its state (0 -> 1),
 *	fills in the names, then publishes it (state 2); readers and other
 *	writers use only published slots.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

/* The families: help text, type, and the buckets of a histogram. */
static const double delay_buckets[] = {
	0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 86400, 0
};
static const double latency_buckets[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 0
};

static const struct family {
	const char *name;
	const char *type;
	const char *help;
	const double *buckets;		/* histograms, 0-terminated */
} families[] = {
	{"postern_smtpd_connects_total", "counter",
	    "SMTP sessions started, per master.cf service.", NULL},
	{"postern_smtpd_messages_received_total", "counter",
	    "Messages accepted (250 after the message), per service.", NULL},
	{"postern_smtpd_rejects_total", "counter",
	    "Commands refused by policy or limits, per service, SMTP stage, "
	    "reply code and enhanced status.", NULL},
	{"postern_smtpd_sasl_authentications_total", "counter",
	    "AUTH outcomes, per service.", NULL},
	{"postern_smtpd_tls_handshakes_total", "counter",
	    "STARTTLS handshakes, per service and outcome.", NULL},
	{"postern_deliveries_total", "counter",
	    "Delivery attempts per recipient, by the status= of the log line "
	    "(sent, deferred, bounced, expired, ...).", NULL},
	{"postern_delivery_delay_seconds", "histogram",
	    "Time from arrival to the delivery attempt (delay= of the log "
	    "line), by status.", delay_buckets},
	{"postern_map_lookup_seconds", "histogram",
	    "Table lookup latency, by map type (mysql).", latency_buckets},
	{NULL, NULL, NULL, NULL},
};

static struct metrics_shm *shm;		/* NULL: metrics off */
static struct metrics_proc *self;
static char service_label[64];		/* service="..." of this process */

/* family_of - the registry entry of a family name, or NULL */
static const struct family *
family_of(const char *name)
{
	const struct family *f;

	for (f = families; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return (f);
	return (NULL);
}

/*
 * The counters live on tmpfs: a MAP_SHARED page of a disk file is made
 * read-only again each time the kernel writes it back, and smtpd's
 * group commit (syncfs of the queue file system, where data_directory
 * usually is) did that several times a second: a page fault (ext4's
 * page_mkwrite) on the next add, and the metrics pages written to disk
 * with every commit. So $data_directory/metrics is a symbolic link to
 * METRICS_SHM_DIR/postern-metrics.<the path, '/' as '%'>; readers and
 * writers open the path as before. Without a usable tmpfs it is the
 * regular file it always was.
 */
#define METRICS_SHM_DIR		"/dev/shm"
#define METRICS_SHM_PREFIX	"postern-metrics."
#define METRICS_SHM_GC_AGE	60	/* an unlinked file this old: gone */

/* shm_name - the tmpfs file for path; -1: keep a regular file */
static int
shm_name(char *out, size_t len, const char *path)
{
	struct stat st;
	size_t	 o;

	if (*path != '/' || strchr(path, '%') != NULL
	    || stat(METRICS_SHM_DIR, &st) < 0 || !S_ISDIR(st.st_mode)
	    || (size_t)snprintf(out, len, "%s/%s", METRICS_SHM_DIR,
	    METRICS_SHM_PREFIX) >= len)
		return (-1);
	for (o = strlen(out); *path && o + 1 < len; path++)
		out[o++] = *path == '/' ? '%' : *path;
	out[o] = 0;
	return (*path ? -1 : 0);
}

/*
 * shm_gc - remove the tmpfs files no data_directory links to any more
 * (an instance directory deleted, a data_directory moved); a file
 * younger than METRICS_SHM_GC_AGE may be another master's, not yet
 * linked.
 */
static void
shm_gc(void)
{
	char	 file[4096], path[4096], link[4096], *p;
	struct dirent *e;
	struct stat st;
	DIR	*d;
	ssize_t	 n;

	if ((d = opendir(METRICS_SHM_DIR)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, METRICS_SHM_PREFIX,
		    strlen(METRICS_SHM_PREFIX)) != 0)
			continue;
		snprintf(file, sizeof(file), "%s/%s", METRICS_SHM_DIR,
		    e->d_name);
		snprintf(path, sizeof(path), "%s",
		    e->d_name + strlen(METRICS_SHM_PREFIX));
		for (p = path; *p; p++)
			if (*p == '%')
				*p = '/';
		if (lstat(file, &st) < 0
		    || st.st_mtime > time(NULL) - METRICS_SHM_GC_AGE)
			continue;
		n = readlink(path, link, sizeof(link) - 1);
		if (n >= 0) {
			link[n] = 0;
			if (strcmp(link, file) == 0)
				continue;	/* still in use */
		}
		(void)unlink(file);
	}
	closedir(d);
}

/* shm_init - a fresh, zeroed metrics file on fd */
static int
shm_init(int fd, uid_t uid, gid_t gid)
{
	struct metrics_shm head;

	memset(&head, 0, sizeof(head));
	head.magic = METRICS_MAGIC;
	head.version = METRICS_VERSION;
	head.start_time = (int64_t)time(NULL);
	if (ftruncate(fd, (off_t)sizeof(struct metrics_shm)) < 0
	    || pwrite(fd, &head, sizeof(head.magic) + sizeof(head.version)
	    + sizeof(head.start_time), 0) < 0
	    || (geteuid() == 0 && fchown(fd, uid, gid) < 0))
		return (-1);
	return (0);
}

/* metrics_create - a fresh, zeroed file for this master's lifetime */
int
metrics_create(const char *path, uid_t uid, gid_t gid)
{
	char	 tmp[4096], file[4096];
	int	 fd, e;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
		return (-1);
	shm_gc();
	(void)unlink(tmp);
	if (shm_name(file, sizeof(file), path) == 0) {
		(void)unlink(file);
		if ((fd = open(file, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW
		    | O_CLOEXEC, 0600)) >= 0) {
			if (shm_init(fd, uid, gid) == 0
			    && symlink(file, tmp) == 0 && rename(tmp, path) == 0) {
				close(fd);
				return (0);
			}
			close(fd);
			(void)unlink(tmp);
			(void)unlink(file);
		}
		/* no tmpfs file: a regular one, as without /dev/shm */
	}
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return (-1);
	if (shm_init(fd, uid, gid) < 0 || rename(tmp, path) < 0) {
		e = errno;
		close(fd);
		(void)unlink(tmp);
		errno = e;
		return (-1);
	}
	close(fd);
	return (0);
}

/* map_file - map the file, or NULL */
static struct metrics_shm *
map_file(const char *path, int writable)
{
	struct metrics_shm *m;
	struct stat st;
	int	 fd;

	if ((fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC)) < 0)
		return (NULL);
	if (fstat(fd, &st) < 0 || st.st_size != sizeof(struct metrics_shm)) {
		close(fd);
		return (NULL);
	}
	m = mmap(NULL, sizeof(*m), PROT_READ | (writable ? PROT_WRITE : 0),
	    MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return (NULL);
	if (m->magic != METRICS_MAGIC || m->version != METRICS_VERSION) {
		munmap(m, sizeof(*m));
		return (NULL);
	}
	return (m);
}

/* proc_alive - is the process of a slot still there */
static int
proc_alive(int32_t pid)
{
	return (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM));
}

/* metrics_attach - map the file and take a process slot */
void
metrics_attach(const char *path, const char *service, const char *program)
{
	int32_t	 old, me = (int32_t)getpid();
	int	 i;

	char	 q[32];

	if (shm != NULL || (shm = map_file(path, 1)) == NULL)
		return;
	snprintf(service_label, sizeof(service_label), "service=\"%s\"",
	    metrics_label(q, sizeof(q), service));
	for (i = 0; i < METRICS_PROCS; i++) {
		old = __atomic_load_n(&shm->proc[i].pid, __ATOMIC_ACQUIRE);
		if (old == me || (old != 0 && proc_alive(old)))
			continue;
		if (!__atomic_compare_exchange_n(&shm->proc[i].pid, &old, me,
		    0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			continue;
		self = &shm->proc[i];
		snprintf(self->service, sizeof(self->service), "%s", service);
		snprintf(self->program, sizeof(self->program), "%s", program);
		__atomic_store_n(&self->sessions, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&self->queue_depth, 0, __ATOMIC_RELAXED);
		break;
	}
}

/* hash - FNV-1a of family and labels */
static uint32_t
hash(const char *family, const char *labels)
{
	uint32_t h = 2166136261u;
	const char *p;

	for (p = family; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ '{') * 16777619u;
	for (p = labels; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return (h);
}

/*
 * slot_find - the published slot of (family, labels), claiming one if
 * there is none; -1 when the table is full. The slots are laid out as
 * n records of size bytes starting at base; each starts with the state
 * word and the two names (struct slot_head: the prefix that struct
 * metrics_series and struct metrics_hist share, without the former's
 * cache-line alignment, which a histogram slot does not have).
 */
struct slot_head {
	uint32_t state;
	char	 family[METRICS_NAME];
	char	 labels[METRICS_LABELS];
};

_Static_assert(offsetof(struct metrics_series, labels)
    == offsetof(struct slot_head, labels)
    && offsetof(struct metrics_hist, labels)
    == offsetof(struct slot_head, labels), "slot prefixes differ");

static int
slot_find(void *base, size_t size, int n, const char *family,
    const char *labels)
{
	uint32_t start = hash(family, labels) % (uint32_t)n, st, zero;
	struct slot_head *s;
	int	 i, k;

	if (strlen(family) >= METRICS_NAME || strlen(labels) >= METRICS_LABELS)
		return (-1);
	for (k = 0; k < n; k++) {
		i = (int)((start + (uint32_t)k) % (uint32_t)n);
		s = (struct slot_head *)((char *)base + (size_t)i * size);
		st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		if (st == 0) {
			zero = 0;
			if (!__atomic_compare_exchange_n(&s->state, &zero, 1,
			    0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				k--;		/* look at it again */
				continue;
			}
			strcpy(s->family, family);
			strcpy(s->labels, labels);
			__atomic_store_n(&s->state, 2, __ATOMIC_RELEASE);
			return (i);
		}
		if (st == 2 && strcmp(s->family, family) == 0
		    && strcmp(s->labels, labels) == 0)
			return (i);
		/* st == 1: being filled in by someone; it is not ours yet */
	}
	return (-1);
}

/*
 * The slots this thread counted in lately, by family (the caller's
 * string constant: compared by address) and labels: a count in a hot
 * path (a message received, a connection) is a few compares and one
 * atomic add, no hash and no walk of the table. A slot, once published,
 * keeps its series for the life of the file, and the mapping is made
 * once per process, so a remembered slot never goes stale.
 */
#define MEMO_SLOTS	8
static __thread struct {
	const char *family;
	int	 slot;
	char	 labels[METRICS_LABELS];
} memo[MEMO_SLOTS];
static __thread unsigned memo_next;

/* metrics_count - one more of family{labels} */
void
metrics_count(const char *family, const char *labels)
{
	unsigned m;
	int	 i;

	if (shm == NULL)
		return;
	for (m = 0; m < MEMO_SLOTS; m++)
		if (memo[m].family == family
		    && strcmp(memo[m].labels, labels) == 0) {
			__atomic_add_fetch(&shm->series[memo[m].slot].value, 1,
			    __ATOMIC_RELAXED);
			return;
		}
	if ((i = slot_find(shm->series, sizeof(shm->series[0]),
	    METRICS_SERIES, family, labels)) >= 0) {
		/* slot_find() took only labels shorter than METRICS_LABELS */
		m = memo_next++ % MEMO_SLOTS;
		memo[m].family = family;
		memo[m].slot = i;
		strcpy(memo[m].labels, labels);
	}
	if (i < 0) {
		__atomic_add_fetch(&shm->dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_add_fetch(&shm->series[i].value, 1, __ATOMIC_RELAXED);
}

/* metrics_service_count - metrics_count() with this process's service */
void
metrics_service_count(const char *family, const char *fmt, ...)
{
	char	 labels[METRICS_LABELS];
	size_t	 n;
	va_list	 ap;

	if (shm == NULL)
		return;
	if (fmt == NULL || *fmt == 0) {	/* no formatting: the hot case */
		metrics_count(family, service_label);
		return;
	}
	n = (size_t)snprintf(labels, sizeof(labels), "%s%s", service_label,
	    fmt && *fmt ? "," : "");
	if (fmt && *fmt && n < sizeof(labels)) {
		va_start(ap, fmt);
		vsnprintf(labels + n, sizeof(labels) - n, fmt, ap);
		va_end(ap);
	}
	metrics_count(family, labels);
}

/* metrics_reject - a refused command, from its reply line */
void
metrics_reject(const char *stage, const char *reply)
{
	char	 code[4] = "", status[16] = "", st[32];
	const char *p = reply;
	size_t	 n;

	if (shm == NULL || reply == NULL)
		return;
	for (n = 0; n < 3 && isdigit((unsigned char)p[n]); n++)
		code[n] = p[n];
	code[n] = 0;
	if (n == 3 && (p[3] == ' ' || p[3] == '-')) {
		p += 4;
		for (n = 0; n + 1 < sizeof(status) && (isdigit((unsigned char)
		    p[n]) || p[n] == '.'); n++)
			status[n] = p[n];
		status[n] = 0;
		if (p[n] != ' ' && p[n] != 0)
			status[0] = 0;
	}
	metrics_service_count("postern_smtpd_rejects_total", "stage=\"%s\","
	    "code=\"%s\",status=\"%s\"", metrics_label(st, sizeof(st), stage),
	    code, status);
}

/* metrics_observe - one observation of the histogram family{labels} */
void
metrics_observe(const char *family, const char *labels, double seconds)
{
	const struct family *f = family_of(family);
	struct metrics_hist *h;
	int	 i, b;

	if (shm == NULL || f == NULL || f->buckets == NULL)
		return;
	if ((i = slot_find(shm->hist, sizeof(shm->hist[0]), METRICS_HISTS,
	    family, labels)) < 0) {
		__atomic_add_fetch(&shm->dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	h = &shm->hist[i];
	if (seconds < 0)
		seconds = 0;
	for (b = 0; f->buckets[b] && seconds > f->buckets[b]; b++)
		;
	/* b is the first bucket that holds it; b == count: +Inf only */
	if (f->buckets[b])
		__atomic_add_fetch(&h->bucket[b], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->count, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->sum_us, (uint64_t)(seconds * 1e6 + 0.5),
	    __ATOMIC_RELAXED);
}

/* metrics_sessions - this process holds delta more sessions */
void
metrics_sessions(long delta)
{
	if (self)
		__atomic_add_fetch(&self->sessions, delta, __ATOMIC_RELAXED);
}

/* metrics_queue_depth - delta more jobs wait in this process's pools */
void
metrics_queue_depth(long delta)
{
	if (self)
		__atomic_add_fetch(&self->queue_depth, delta, __ATOMIC_RELAXED);
}

/* metrics_label - a label value quoted for the text format */
const char *
metrics_label(char *out, size_t len, const char *value)
{
	size_t	 o = 0;

	for (; *value && o + 3 < len; value++) {
		if (*value == '\\' || *value == '"') {
			out[o++] = '\\';
			out[o++] = *value;
		} else if (*value == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if ((unsigned char)*value >= 0x20)
			out[o++] = *value;
	}
	out[o] = 0;
	return (out);
}

/* metrics_map_read - the file, mapped read-only for the reader */
const struct metrics_shm *
metrics_map_read(const char *path)
{
	return (map_file(path, 0));
}

/* put_le - a bucket bound as Prometheus prints it */
static void
put_le(struct buf *out, double le)
{
	char	 num[32];

	snprintf(num, sizeof(num), "%g", le);
	buf_puts(out, num);
}

/* format_hist - the series of one histogram slot */
static void
format_hist(struct buf *out, const struct family *f,
    const struct metrics_hist *h)
{
	uint64_t cum = 0;
	const char *sep = *h->labels ? "," : "";
	int	 b;

	for (b = 0; f->buckets[b]; b++) {
		cum += __atomic_load_n(&h->bucket[b], __ATOMIC_RELAXED);
		buf_printf(out, "%s_bucket{%s%sle=\"", f->name, h->labels, sep);
		put_le(out, f->buckets[b]);
		buf_printf(out, "\"} %llu\n", (unsigned long long)cum);
	}
	buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", f->name,
	    h->labels, sep, (unsigned long long)h->count);
	buf_printf(out, "%s_sum%s%s%s %.6f\n", f->name, *h->labels ? "{" : "",
	    h->labels, *h->labels ? "}" : "", (double)h->sum_us / 1e6);
	buf_printf(out, "%s_count%s%s%s %llu\n", f->name,
	    *h->labels ? "{" : "", h->labels, *h->labels ? "}" : "",
	    (unsigned long long)h->count);
}

/* format_procs - one per-process gauge: sessions (0) or pool depth (1) */
static void
format_procs(struct buf *out, const struct metrics_shm *m, const char *name,
    const char *help, int depth)
{
	char	 l1[64], l2[64];
	int	 i;

	buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	for (i = 0; i < METRICS_PROCS; i++)
		if (proc_alive(m->proc[i].pid))
			buf_printf(out, "%s{service=\"%s\",program=\"%s\","
			    "pid=\"%d\"} %lld\n", name,
			    metrics_label(l1, sizeof(l1), m->proc[i].service),
			    metrics_label(l2, sizeof(l2), m->proc[i].program),
			    (int)m->proc[i].pid, (long long)(depth
			    ? m->proc[i].queue_depth : m->proc[i].sessions));
}

/* metrics_format - the Prometheus text format of the shared counters */
void
metrics_format(struct buf *out, const struct metrics_shm *m)
{
	const struct family *f;
	int	 i, j, dup;

	for (f = families; f->name; f++) {
		buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name,
		    f->help, f->name, f->type);
		for (i = 0; f->buckets == NULL && i < METRICS_SERIES; i++) {
			const struct metrics_series *s = &m->series[i];
			uint64_t v;

			if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != 2
			    || strcmp(s->family, f->name) != 0)
				continue;
			/* a series claimed twice at once: print it once */
			for (dup = 0, j = 0; j < i && !dup; j++)
				dup = m->series[j].state == 2
				    && strcmp(m->series[j].family, f->name) == 0
				    && strcmp(m->series[j].labels,
				    s->labels) == 0;
			if (dup)
				continue;
			v = s->value;
			for (j = i + 1; j < METRICS_SERIES; j++)
				if (m->series[j].state == 2
				    && strcmp(m->series[j].family, f->name) == 0
				    && strcmp(m->series[j].labels, s->labels) == 0)
					v += m->series[j].value;
			buf_printf(out, "%s%s%s%s %llu\n", f->name,
			    *s->labels ? "{" : "", s->labels,
			    *s->labels ? "}" : "", (unsigned long long)v);
		}
		for (i = 0; f->buckets && i < METRICS_HISTS; i++)
			if (__atomic_load_n(&m->hist[i].state,
			    __ATOMIC_ACQUIRE) == 2
			    && strcmp(m->hist[i].family, f->name) == 0)
				format_hist(out, f, &m->hist[i]);
	}
	format_procs(out, m, "postern_process_sessions", "Sessions each "
	    "daemon process holds now.", 0);
	format_procs(out, m, "postern_process_queue_depth", "Jobs waiting "
	    "in each daemon process's worker pools.", 1);
	buf_printf(out, "# HELP postern_start_time_seconds When master "
	    "started (the counters count from then).\n# TYPE "
	    "postern_start_time_seconds gauge\npostern_start_time_seconds "
	    "%lld\n", (long long)m->start_time);
	buf_printf(out, "# HELP postern_metrics_series_dropped_total Events "
	    "not counted because the series table was full.\n# TYPE "
	    "postern_metrics_series_dropped_total counter\n"
	    "postern_metrics_series_dropped_total %llu\n",
	    (unsigned long long)m->dropped);
}
