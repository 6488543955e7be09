/*
 * NAME
 *	anvil_shm - client counts and rates in memory shared by smtpd and anvil
 * SYNOPSIS
 *	#include "anvil_shm.h"
 *
 *	int	anvil_shm_create(long unit, long sasl_unit);
 *	struct anvil_shm *anvil_shm_attach(int fd, char *err, size_t len);
 *	struct anvil_shm *anvil_shm_from_env(char *err, size_t len);
 *	int	anvil_shm_claim(struct anvil_shm *a);
 *	void	anvil_shm_units(struct anvil_shm *a, long unit, long sasl_unit);
 *	int	anvil_shm_connect(struct anvil_shm *a, const char *ident,
 *	    time_t now, int *count, int *rate, unsigned *ticket);
 *	void	anvil_shm_disconnect(struct anvil_shm *a, const char *ident,
 *	    unsigned ticket, time_t now);
 *	int	anvil_shm_event(struct anvil_shm *a, const char *ident, int ev,
 *	    time_t now);
 *	int	anvil_shm_count(struct anvil_shm *a, const char *ident);
 *	int	anvil_shm_reap(struct anvil_shm *a);
 *	void	anvil_shm_stats(struct anvil_shm *a, anvil_stat_fn *fn,
 *	    void *ctx);
 *	void	anvil_shm_detach(struct anvil_shm *a);
 *
 *	int	anvil_shm_hold(struct anvil_shm *a);
 * DESCRIPTION
 *	The bookkeeping of Postfix's anvil(8) in one memory table that
 *	every smtpd process and the anvil daemon map: per ident
 *	("service:client_address", or "sasl:LOGIN" for the per-login
 *	sending limits) the number of open connections and, per rate
 *	window, the number of connections, MAIL, RCPT, new TLS sessions
 *	and AUTH commands. A window starts at the first event of an ident
 *	and ends unit seconds later (anvil_rate_time_unit; for sasl:
 *	idents smtpd_sasl_rate_time_unit); the next event after it starts
 *	a new window with every rate at zero, as Postfix's anvil does.
 *	smtpd counts and checks a client with a lock and a lookup instead
 *	of a request to anvil and its answer (issue 13: the round trip,
 *	anvil's own work and the context switches were 0.06 ms of CPU per
 *	connection, 13 % of the machine at the bench's load).
 *
 *	master creates the table once at start (anvil_shm_create(), with
 *	main.cf's windows: a memfd, so it lives in memory only, dies with
 *	the instance and cannot meet a full disk) and gives it to every child as the fd
 *	named in the environment variable ANVIL_SHM_ENV;
 *	anvil_shm_from_env() maps it (and closes the fd). anvil_shm_attach()
 *	maps a given fd, or with fd -1 a private table (a daemon run by
 *	hand). anvil_shm_units() sets the windows (anvil at its start, from
 *	its own view of the configuration, as Postfix's anvil decides them;
 *	smtpd does not).
 *
 *	Connections of a process that dies: each process that counts
 *	connections first takes a slot with anvil_shm_claim(), a robust
 *	process-shared mutex it holds until it exits, and notes every
 *	connection it counts in its slot's ledger (the ticket returned by
 *	anvil_shm_connect(), given back to anvil_shm_disconnect()). When
 *	the process dies, however, the kernel marks its mutex; the next
 *	anvil_shm_reap() (anvil runs it when an smtpd's connection to it
 *	closes and every few seconds) or anvil_shm_claim() that finds the
 *	mark uncounts what the ledger still holds, as Postfix's anvil
 *	uncounts an smtpd whose connection to it closed. A process
 *	without a slot (more than ANVIL_SHM_SLOTS), or whose ledger is
 *	full, counts without a ticket: those counts survive its crash
 *	(a clean exit, anvil_shm_detach(), uncounts its ledger).
 *
 *	anvil_shm_connect() counts one more connection and one more in the
 *	window and returns both; anvil_shm_event() counts one ANVIL_EV_*
 *	event and returns the rate so far; anvil_shm_count() the open
 *	connections. An ident with no open connection whose window has
 *	ended is dead: its entry is taken by the next new ident that
 *	hashes near it. Idents are kept to their first ANVIL_SHM_KEY - 1
 *	bytes and a 64-bit hash (keyed with a random seed) of the whole.
 *
 *	anvil_shm_stats() reports, then forgets, the maxima since the last
 *	call (Postfix's "statistics: max connection rate 5/60s for
 *	(smtp:1.2.3.4) at Dec 28 13:19:23"): fn(what, value, ident, when,
 *	ctx) for each maximum that is not zero, with what one of
 *	"connection count", "connection rate", "message rate", "recipient
 *	rate", "newtls rate", "auth rate". Per-login counts are not in them.
 *
 *	anvil_shm_hold() takes the table's lock and keeps it, for the
 *	tests of a holder that dies or stops (lib/anvil_shm_test.c).
 * DIAGNOSTICS
 *	anvil_shm_connect() and anvil_shm_event() return -1, counting
 *	nothing, when the table is full near the ident's hash or its lock
 *	cannot be had within a second (a holder stopped): the caller does
 *	not enforce that limit then, as Postfix's smtpd when anvil does not
 *	answer. attach returns NULL with the reason in err.
 */
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "anvil_shm.h"
#include "xalloc.h"

#define ANVIL_SHM_MAGIC		0x706e766c	/* "pnvl" */
#define ANVIL_SHM_VERSION	1
#define ANVIL_SHM_ENTRIES	65536		/* a power of two */
#define ANVIL_SHM_PROBE		32		/* entries looked at */
#define ANVIL_SHM_SLOTS		128		/* counting processes */
#define ANVIL_SHM_LEDGER	8192		/* tickets per process */
#define ANVIL_SHM_KEY		64

struct ashm_entry {
	uint64_t hash;			/* 0: never used */
	int64_t	 start;			/* of the window */
	int32_t	 count;			/* open connections */
	int32_t	 rate[ANVIL_EV_COUNT];	/* in this window */
	int32_t	 sasl;			/* a sasl: ident */
	char	 key[ANVIL_SHM_KEY];	/* the ident's start */
};

struct ashm_max {
	int32_t	 value;
	int64_t	 when;
	char	 key[ANVIL_SHM_KEY];
};

struct ashm_slot {
	pthread_mutex_t owner;		/* held by the live process */
	uint32_t used;			/* ledger high-water mark */
};

struct ashm_hdr {
	uint32_t magic, version;
	uint64_t size;
	uint64_t seed;
	int64_t	 unit, sasl_unit;
	pthread_mutex_t lock;		/* the entries, ledgers and maxima */
	struct ashm_max max_count;
	struct ashm_max max_rate[ANVIL_EV_COUNT];
	struct ashm_slot slot[ANVIL_SHM_SLOTS];
};

struct anvil_shm {
	void	*map;
	size_t	 size;
	struct ashm_hdr *h;
	struct ashm_entry *e;		/* ANVIL_SHM_ENTRIES */
	uint32_t *ledgers;		/* ANVIL_SHM_SLOTS x ANVIL_SHM_LEDGER */
	int	 slot;			/* ours, or -1 */
	uint32_t *free_pos;		/* our ledger's free positions */
	size_t	 nfree;
};

static const char *const ashm_rate_name[ANVIL_EV_COUNT] = {
	"connection rate", "message rate", "recipient rate", "newtls rate",
	"auth rate",
};

/* ashm_size - the size of the whole table */
static size_t
ashm_size(void)
{
	size_t	 hdr = (sizeof(struct ashm_hdr) + 63) & ~(size_t)63;

	return (hdr + sizeof(struct ashm_entry) * ANVIL_SHM_ENTRIES
	    + sizeof(uint32_t) * ANVIL_SHM_SLOTS * ANVIL_SHM_LEDGER);
}

/* ashm_init - a fresh header in a zeroed mapping */
static int
ashm_init(struct ashm_hdr *h, size_t size, long unit, long sasl_unit)
{
	pthread_mutexattr_t ma;
	int	 i, rc = 0;

	h->size = size;
	if (getrandom(&h->seed, sizeof(h->seed), 0) != sizeof(h->seed))
		h->seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
	h->unit = unit > 0 ? unit : 1;
	h->sasl_unit = sasl_unit > 0 ? sasl_unit : 3600;
	if (pthread_mutexattr_init(&ma) != 0)
		return (-1);
	if (pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) != 0
	    || pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST) != 0
	    || pthread_mutex_init(&h->lock, &ma) != 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ANVIL_SHM_SLOTS; i++)
		if (pthread_mutex_init(&h->slot[i].owner, &ma) != 0)
			rc = -1;
	pthread_mutexattr_destroy(&ma);
	h->version = ANVIL_SHM_VERSION;
	h->magic = ANVIL_SHM_MAGIC;
	return (rc);
}

/* ashm_map - the process's view of a mapping */
static struct anvil_shm *
ashm_map(void *map, size_t size)
{
	struct anvil_shm *a = xcalloc(1, sizeof(*a));
	size_t	 hdr = (sizeof(struct ashm_hdr) + 63) & ~(size_t)63;

	a->map = map;
	a->size = size;
	a->h = map;
	a->e = (struct ashm_entry *)((char *)map + hdr);
	a->ledgers = (uint32_t *)(a->e + ANVIL_SHM_ENTRIES);
	a->slot = -1;
	return (a);
}

/* anvil_shm_create - master: a new table in a memfd; -1 with errno */
int
anvil_shm_create(long unit, long sasl_unit)
{
	size_t	 size = ashm_size();
	void	*map;
	int	 fd, saved;

	if ((fd = memfd_create("postern-anvil", MFD_CLOEXEC)) < 0)
		return (-1);
	if (ftruncate(fd, (off_t)size) < 0
	    || (map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0)) == MAP_FAILED)
		goto fail;
	if (ashm_init(map, size, unit, sasl_unit) < 0) {
		munmap(map, size);
		errno = EINVAL;
		goto fail;
	}
	munmap(map, size);
	return (fd);
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return (-1);
}

/* anvil_shm_attach - map master's table (fd), or a private one (-1) */
struct anvil_shm *
anvil_shm_attach(int fd, char *err, size_t len)
{
	size_t	 size = ashm_size();
	struct ashm_hdr *h;
	struct stat st;
	void	*map;

	if (fd < 0) {
		map = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (map == MAP_FAILED) {
			snprintf(err, len, "mmap: %s", strerror(errno));
			return (NULL);
		}
		if (ashm_init(map, size, 60, 3600) < 0) {
			munmap(map, size);
			snprintf(err, len, "cannot set up its locks");
			return (NULL);
		}
		return (ashm_map(map, size));
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, len, "fstat: %s", strerror(errno));
		return (NULL);
	}
	if ((size_t)st.st_size != size) {
		snprintf(err, len, "size %lld, not %zu (another version?)",
		    (long long)st.st_size, size);
		return (NULL);
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		snprintf(err, len, "mmap: %s", strerror(errno));
		return (NULL);
	}
	h = map;
	if (h->magic != ANVIL_SHM_MAGIC || h->version != ANVIL_SHM_VERSION
	    || h->size != size) {
		munmap(map, size);
		snprintf(err, len, "not a table of this version");
		return (NULL);
	}
	return (ashm_map(map, size));
}

/* anvil_shm_from_env - master's table, from ANVIL_SHM_ENV; NULL: none */
struct anvil_shm *
anvil_shm_from_env(char *err, size_t len)
{
	const char *v = getenv(ANVIL_SHM_ENV);
	struct anvil_shm *a;
	char	*end;
	long	 fd;

	if (v == NULL || *v == 0) {
		snprintf(err, len, "master gave no table (%s)", ANVIL_SHM_ENV);
		return (NULL);
	}
	fd = strtol(v, &end, 10);
	if (*end != 0 || fd < 0 || fd > 1024) {
		snprintf(err, len, "bad %s: %s", ANVIL_SHM_ENV, v);
		return (NULL);
	}
	a = anvil_shm_attach((int)fd, err, len);
	/* the mapping stays; the fd is not needed (nor passed on) */
	close((int)fd);
	unsetenv(ANVIL_SHM_ENV);
	return (a);
}

/* ashm_lock - the table's lock; -1 not within a second */
static int
ashm_lock(struct anvil_shm *a)
{
	struct timespec ts;
	int	 rc;

	if ((rc = pthread_mutex_trylock(&a->h->lock)) == EBUSY) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		rc = pthread_mutex_timedlock(&a->h->lock, &ts);
	}
	/* its holder died: what it was changing is as it left it */
	if (rc == EOWNERDEAD)
		rc = pthread_mutex_consistent(&a->h->lock);
	return (rc == 0 ? 0 : -1);
}

/* anvil_shm_hold - the lock, kept (tests) */
int
anvil_shm_hold(struct anvil_shm *a)
{
	return (ashm_lock(a));
}

static void
ashm_unlock(struct anvil_shm *a)
{
	pthread_mutex_unlock(&a->h->lock);
}

/* ashm_hash - FNV-1a from the seed, then a finalizer; never 0 */
static uint64_t
ashm_hash(uint64_t seed, const char *s)
{
	uint64_t h = seed ^ 0xcbf29ce484222325ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (h ? h : 1);
}

/* ashm_unit - the window of an entry */
static int64_t
ashm_unit(struct anvil_shm *a, const struct ashm_entry *e)
{
	int64_t	 u = e->sasl ? a->h->sasl_unit : a->h->unit;

	return (u > 0 ? u : 1);
}

/* ashm_dead - no open connection and the window is over */
static int
ashm_dead(struct anvil_shm *a, const struct ashm_entry *e, time_t now)
{
	return (e->count <= 0 && now - e->start >= ashm_unit(a, e));
}

/*
 * ashm_find - the entry of ident; create: made if new (NULL: full) and
 * its window renewed when over, to count in it
 */
static struct ashm_entry *
ashm_find(struct anvil_shm *a, const char *ident, time_t now, int create)
{
	uint64_t h = ashm_hash(a->h->seed, ident);
	struct ashm_entry *e, *reuse = NULL, *empty = NULL;
	unsigned i;

	for (i = 0; i < ANVIL_SHM_PROBE; i++) {
		e = &a->e[(h + i) & (ANVIL_SHM_ENTRIES - 1)];
		if (e->hash == 0) {
			empty = e;		/* the chain ends here */
			break;
		}
		if (e->hash == h
		    && strncmp(e->key, ident, ANVIL_SHM_KEY - 1) == 0)
			break;
		if (reuse == NULL && ashm_dead(a, e, now))
			reuse = e;
		e = NULL;
	}
	if (i == ANVIL_SHM_PROBE)
		e = NULL;
	if (e == NULL || e == empty) {
		if (!create || (e = reuse ? reuse : empty) == NULL)
			return (NULL);
		memset(e, 0, sizeof(*e));
		e->hash = h;
		snprintf(e->key, sizeof(e->key), "%s", ident);
		e->sasl = strncmp(ident, "sasl:", 5) == 0;
		e->start = now;
	}
	if (create && now - e->start >= ashm_unit(a, e)) {
		memset(e->rate, 0, sizeof(e->rate));
		e->start = now;
	}
	return (e);
}

/* ashm_note - remember a new maximum */
static void
ashm_note(struct ashm_max *m, int value, const struct ashm_entry *e,
    time_t now)
{
	if (e->sasl || value <= m->value)
		return;
	m->value = value;
	m->when = now;
	memcpy(m->key, e->key, sizeof(m->key));
}

/* ashm_undo - uncount what slot i's ledger holds; how many */
static int
ashm_undo(struct anvil_shm *a, int i)
{
	uint32_t *led = a->ledgers + (size_t)i * ANVIL_SHM_LEDGER;
	struct ashm_entry *e;
	uint32_t p, used;
	int	 n = 0;

	if (ashm_lock(a) < 0)
		return (0);
	used = a->h->slot[i].used;
	for (p = 0; p < used && p < ANVIL_SHM_LEDGER; p++) {
		if (led[p] == 0 || led[p] > ANVIL_SHM_ENTRIES)
			continue;
		e = &a->e[led[p] - 1];
		if (e->count > 0)
			e->count--;
		led[p] = 0;
		n++;
	}
	a->h->slot[i].used = 0;
	ashm_unlock(a);
	return (n);
}

/* ashm_try_slot - lock slot i if nobody holds it; 0 locked, -1 busy */
static int
ashm_try_slot(struct anvil_shm *a, int i)
{
	int	 rc = pthread_mutex_trylock(&a->h->slot[i].owner);

	if (rc == EOWNERDEAD)
		rc = pthread_mutex_consistent(&a->h->slot[i].owner);
	if (rc != 0)
		return (-1);
	/* a previous owner's leftovers: a dead one's, or a tidy one's none */
	if (a->h->slot[i].used)
		return (ashm_undo(a, i));
	return (0);
}

/* anvil_shm_claim - a ledger slot for this process; -1 none free */
int
anvil_shm_claim(struct anvil_shm *a)
{
	int	 i;

	if (a->slot >= 0)
		return (0);
	for (i = 0; i < ANVIL_SHM_SLOTS; i++) {
		if (ashm_try_slot(a, i) < 0)
			continue;
		a->slot = i;
		a->nfree = 0;
		a->free_pos = xcalloc(ANVIL_SHM_LEDGER, sizeof(uint32_t));
		return (0);
	}
	return (-1);
}

/* anvil_shm_units - the windows, from the caller's configuration */
void
anvil_shm_units(struct anvil_shm *a, long unit, long sasl_unit)
{
	if (ashm_lock(a) < 0)
		return;
	a->h->unit = unit > 0 ? unit : 1;
	a->h->sasl_unit = sasl_unit > 0 ? sasl_unit : 3600;
	ashm_unlock(a);
}

/* anvil_shm_connect - one more open connection; -1 not counted */
int
anvil_shm_connect(struct anvil_shm *a, const char *ident, time_t now,
    int *count, int *rate, unsigned *ticket)
{
	struct ashm_slot *sl;
	struct ashm_entry *e;
	uint32_t pos;

	*ticket = 0;
	if (ashm_lock(a) < 0)
		return (-1);
	if ((e = ashm_find(a, ident, now, 1)) == NULL) {
		ashm_unlock(a);
		return (-1);
	}
	e->count++;
	e->rate[ANVIL_EV_CONN]++;
	ashm_note(&a->h->max_count, e->count, e, now);
	ashm_note(&a->h->max_rate[ANVIL_EV_CONN], e->rate[ANVIL_EV_CONN], e,
	    now);
	*count = e->count;
	*rate = e->rate[ANVIL_EV_CONN];
	if (a->slot >= 0) {
		sl = &a->h->slot[a->slot];
		pos = UINT32_MAX;
		if (a->nfree > 0)
			pos = a->free_pos[--a->nfree];
		else if (sl->used < ANVIL_SHM_LEDGER)
			pos = sl->used++;
		if (pos != UINT32_MAX) {
			a->ledgers[(size_t)a->slot * ANVIL_SHM_LEDGER + pos] =
			    (uint32_t)(e - a->e) + 1;
			*ticket = pos + 1;
		}
	}
	ashm_unlock(a);
	return (0);
}

/* anvil_shm_disconnect - one connection fewer (its ticket, or ident) */
void
anvil_shm_disconnect(struct anvil_shm *a, const char *ident,
    unsigned ticket, time_t now)
{
	struct ashm_entry *e = NULL;
	uint32_t *led;

	if (ashm_lock(a) < 0)
		return;
	if (ticket > 0 && ticket <= ANVIL_SHM_LEDGER && a->slot >= 0) {
		led = a->ledgers + (size_t)a->slot * ANVIL_SHM_LEDGER
		    + ticket - 1;
		if (*led > 0 && *led <= ANVIL_SHM_ENTRIES) {
			e = &a->e[*led - 1];
			*led = 0;
			a->free_pos[a->nfree++] = ticket - 1;
		}
	} else
		e = ashm_find(a, ident, now, 0);
	if (e != NULL && e->count > 0)
		e->count--;
	ashm_unlock(a);
}

/* anvil_shm_event - count one event; its rate in this window, -1 */
int
anvil_shm_event(struct anvil_shm *a, const char *ident, int ev, time_t now)
{
	struct ashm_entry *e;
	int	 rate;

	if (ev < 0 || ev >= ANVIL_EV_COUNT)
		return (0);
	if (ashm_lock(a) < 0)
		return (-1);
	if ((e = ashm_find(a, ident, now, 1)) == NULL) {
		ashm_unlock(a);
		return (-1);
	}
	rate = ++e->rate[ev];
	ashm_note(&a->h->max_rate[ev], rate, e, now);
	ashm_unlock(a);
	return (rate);
}

/* anvil_shm_count - open connections of ident */
int
anvil_shm_count(struct anvil_shm *a, const char *ident)
{
	struct ashm_entry *e;
	int	 n = 0;

	if (ashm_lock(a) < 0)
		return (0);
	if ((e = ashm_find(a, ident, time(NULL), 0)) != NULL)
		n = e->count;
	ashm_unlock(a);
	return (n);
}

/* anvil_shm_reap - uncount the connections of dead processes */
int
anvil_shm_reap(struct anvil_shm *a)
{
	int	 i, n = 0, k;

	for (i = 0; i < ANVIL_SHM_SLOTS; i++) {
		if (i == a->slot || (k = ashm_try_slot(a, i)) < 0)
			continue;
		n += k;
		pthread_mutex_unlock(&a->h->slot[i].owner);
	}
	return (n);
}

/* anvil_shm_stats - the maxima since the last call */
void
anvil_shm_stats(struct anvil_shm *a, anvil_stat_fn *fn, void *ctx)
{
	struct ashm_max m[1 + ANVIL_EV_COUNT];
	int	 i;

	if (ashm_lock(a) < 0)
		return;
	m[0] = a->h->max_count;
	memcpy(m + 1, a->h->max_rate, sizeof(a->h->max_rate));
	memset(&a->h->max_count, 0, sizeof(a->h->max_count));
	memset(a->h->max_rate, 0, sizeof(a->h->max_rate));
	ashm_unlock(a);
	for (i = 0; i <= ANVIL_EV_COUNT; i++)
		if (m[i].value > 0)
			fn(i ? ashm_rate_name[i - 1] : "connection count",
			    m[i].value, m[i].key, (time_t)m[i].when, ctx);
}

/* anvil_shm_detach - uncount what we hold, give the slot back, unmap */
void
anvil_shm_detach(struct anvil_shm *a)
{
	if (a == NULL)
		return;
	if (a->slot >= 0) {
		(void)ashm_undo(a, a->slot);
		pthread_mutex_unlock(&a->h->slot[a->slot].owner);
	}
	munmap(a->map, a->size);
	free(a->free_pos);
	free(a);
}
