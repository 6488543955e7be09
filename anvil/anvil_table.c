/*
 * NAME
 *	anvil_table - client connection counts and event rates
 * SYNOPSIS
 *	#include "anvil_table.h"
 *
 *	struct anvil_table *anvil_table_new(long unit);
 *	void	anvil_table_connect(struct anvil_table *t, const char *ident,
 *	    time_t now, int *count, int *rate);
 *	void	anvil_table_disconnect(struct anvil_table *t,
 *	    const char *ident, time_t now);
 *	int	anvil_table_event(struct anvil_table *t, const char *ident,
 *	    int ev, time_t now);
 *	int	anvil_table_count(struct anvil_table *t, const char *ident);
 *	size_t	anvil_table_expire(struct anvil_table *t, time_t now);
 *	void	anvil_table_stats(struct anvil_table *t, anvil_stat_fn *fn,
 *	    void *ctx);
 *	void	anvil_table_free(struct anvil_table *t);
 * DESCRIPTION
 *	The bookkeeping of Postfix's anvil(8), without the I/O: per
 *	ident ("service:client_address") the number of open connections
 *	and, per rate window of unit seconds (anvil_rate_time_unit), the
 *	number of connections, MAIL, RCPT, new TLS sessions and AUTH
 *	commands. A window starts at the first event of an ident and
 *	ends unit seconds later; the next event after it starts a new
 *	window with all rates at zero, as Postfix's anvil does.
 *
 *	anvil_table_connect() counts one more connection and one more
 *	connection in the window and returns both. anvil_table_event()
 *	counts one ANVIL_EV_* event and returns the rate so far.
 *	anvil_table_expire() drops idents with no open connection whose
 *	window has ended (what remains is bounded by the clients seen in
 *	one window), returning how many remain.
 *
 *	anvil_table_stats() reports, then forgets, the maxima seen since
 *	the last call (Postfix's "statistics: max connection rate 5/60s
 *	for (smtp:1.2.3.4) at Dec 28 13:19:23" lines): fn(what, value,
 *	ident, when, ctx) for each maximum that is not zero, with what
 *	one of "connection count", "connection rate", "message rate",
 *	"recipient rate", "newtls rate", "auth rate".
 * DIAGNOSTICS
 *	None: a disconnect for an ident with no open connection is
 *	ignored.
 */
#include <stdlib.h>
#include <string.h>

#include "anvil_table.h"
#include "xalloc.h"

#define ANVIL_BUCKETS	4096

struct anvil_entry {
	char	*ident;
	int	 count;				/* open connections */
	int	 rate[ANVIL_EV_COUNT];		/* in this window */
	time_t	 start;				/* of the window */
	struct anvil_entry *next;
};

struct anvil_max {
	int	 value;
	char	*ident;
	time_t	 when;
};

struct anvil_table {
	long	 unit;
	struct anvil_entry *bucket[ANVIL_BUCKETS];
	struct anvil_max max_count;
	struct anvil_max max_rate[ANVIL_EV_COUNT];
};

static const char *const anvil_rate_name[ANVIL_EV_COUNT] = {
	"connection rate", "message rate", "recipient rate", "newtls rate",
	"auth rate",
};

/* anvil_hash - bucket of an ident */
static unsigned
anvil_hash(const char *s)
{
	unsigned h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return (h % ANVIL_BUCKETS);
}

/* anvil_find - the entry of ident, created if create */
static struct anvil_entry *
anvil_find(struct anvil_table *t, const char *ident, int create, time_t now)
{
	struct anvil_entry *e;
	unsigned h = anvil_hash(ident);

	for (e = t->bucket[h]; e != NULL; e = e->next)
		if (strcmp(e->ident, ident) == 0)
			break;
	if (e == NULL && create) {
		e = xcalloc(1, sizeof(*e));
		e->ident = xstrdup(ident);
		e->start = now;
		e->next = t->bucket[h];
		t->bucket[h] = e;
	}
	if (e != NULL && now - e->start >= t->unit) {
		memset(e->rate, 0, sizeof(e->rate));
		e->start = now;
	}
	return (e);
}

/* anvil_note - remember a new maximum */
static void
anvil_note(struct anvil_max *m, int value, const char *ident, time_t now)
{
	if (value <= m->value)
		return;
	m->value = value;
	free(m->ident);
	m->ident = xstrdup(ident);
	m->when = now;
}

/* anvil_table_new - an empty table; rates per unit seconds */
struct anvil_table *
anvil_table_new(long unit)
{
	struct anvil_table *t = xcalloc(1, sizeof(*t));

	t->unit = unit > 0 ? unit : 1;
	return (t);
}

/* anvil_table_connect - one more open connection */
void
anvil_table_connect(struct anvil_table *t, const char *ident, time_t now,
    int *count, int *rate)
{
	struct anvil_entry *e = anvil_find(t, ident, 1, now);

	e->count++;
	e->rate[ANVIL_EV_CONN]++;
	anvil_note(&t->max_count, e->count, ident, now);
	anvil_note(&t->max_rate[ANVIL_EV_CONN], e->rate[ANVIL_EV_CONN],
	    ident, now);
	*count = e->count;
	*rate = e->rate[ANVIL_EV_CONN];
}

/* anvil_table_disconnect - one connection fewer */
void
anvil_table_disconnect(struct anvil_table *t, const char *ident, time_t now)
{
	struct anvil_entry *e = anvil_find(t, ident, 0, now);

	if (e != NULL && e->count > 0)
		e->count--;
}

/* anvil_table_event - count one event; its rate in this window */
int
anvil_table_event(struct anvil_table *t, const char *ident, int ev,
    time_t now)
{
	struct anvil_entry *e;

	if (ev < 0 || ev >= ANVIL_EV_COUNT)
		return (0);
	e = anvil_find(t, ident, 1, now);
	e->rate[ev]++;
	anvil_note(&t->max_rate[ev], e->rate[ev], ident, now);
	return (e->rate[ev]);
}

/* anvil_table_count - open connections of ident */
int
anvil_table_count(struct anvil_table *t, const char *ident)
{
	struct anvil_entry *e;

	for (e = t->bucket[anvil_hash(ident)]; e != NULL; e = e->next)
		if (strcmp(e->ident, ident) == 0)
			return (e->count);
	return (0);
}

/* anvil_table_expire - forget idle idents whose window ended */
size_t
anvil_table_expire(struct anvil_table *t, time_t now)
{
	struct anvil_entry **pp, *e;
	size_t	 left = 0;
	int	 i;

	for (i = 0; i < ANVIL_BUCKETS; i++)
		for (pp = &t->bucket[i]; (e = *pp) != NULL;) {
			if (e->count == 0 && now - e->start >= t->unit) {
				*pp = e->next;
				free(e->ident);
				free(e);
			} else {
				left++;
				pp = &e->next;
			}
		}
	return (left);
}

/* anvil_stat_one - report one maximum and forget it */
static void
anvil_stat_one(struct anvil_max *m, const char *what, anvil_stat_fn *fn,
    void *ctx)
{
	if (m->value > 0 && m->ident)
		fn(what, m->value, m->ident, m->when, ctx);
	free(m->ident);
	memset(m, 0, sizeof(*m));
}

/* anvil_table_stats - the maxima since the last call */
void
anvil_table_stats(struct anvil_table *t, anvil_stat_fn *fn, void *ctx)
{
	int	 i;

	anvil_stat_one(&t->max_count, "connection count", fn, ctx);
	for (i = 0; i < ANVIL_EV_COUNT; i++)
		anvil_stat_one(&t->max_rate[i], anvil_rate_name[i], fn, ctx);
}

/* anvil_table_free - everything */
void
anvil_table_free(struct anvil_table *t)
{
	int	 i;

	if (t == NULL)
		return;
	for (i = 0; i < ANVIL_BUCKETS; i++) {
		while (t->bucket[i]) {
			struct anvil_entry *e = t->bucket[i];

			t->bucket[i] = e->next;
			free(e->ident);
			free(e);
		}
	}
	free(t->max_count.ident);
	for (i = 0; i < ANVIL_EV_COUNT; i++)
		free(t->max_rate[i].ident);
	free(t);
}
