/*
 * NAME
 *	anvil_shm_test - counts, rate windows, statistics, and the
 *	counts of processes that die
 * DESCRIPTION
 *	A table of steps (time, request, ident) with the count and rate
 *	each must return, then the statistics report; a table shared
 *	through master's memfd seen by two processes; a child killed while
 *	it holds counted connections (reaped, and by the next claim), one
 *	killed holding the table's lock, one stopped holding it (the
 *	caller gives up within about a second), and a table full near a
 *	hash (not counted, then taken again once the entries are dead).
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "anvil_shm.h"
#include "tap.h"

#define C	100	/* connect */
#define D	101	/* disconnect */

struct step {
	time_t	 now;
	int	 req;		/* C, D or ANVIL_EV_* */
	const char *ident;
	int	 count;		/* open connections after the step */
	int	 rate;		/* returned rate (connect/event) */
};

static const struct step steps[] = {
	{1000, C, "smtp:192.0.2.1", 1, 1},
	{1001, C, "smtp:192.0.2.1", 2, 2},
	{1002, C, "submission:192.0.2.1", 1, 1},	/* per service */
	{1003, C, "smtp:192.0.2.2", 1, 1},		/* per address */
	{1004, D, "smtp:192.0.2.1", 1, 0},
	{1005, ANVIL_EV_MAIL, "smtp:192.0.2.1", 1, 1},
	{1006, ANVIL_EV_MAIL, "smtp:192.0.2.1", 1, 2},
	{1007, ANVIL_EV_RCPT, "smtp:192.0.2.1", 1, 1},
	{1008, ANVIL_EV_AUTH, "smtp:192.0.2.1", 1, 1},
	{1009, ANVIL_EV_NTLS, "smtp:192.0.2.1", 1, 1},
	/* the window (60 s from 1000) ends: rates restart, counts stay */
	{1060, C, "smtp:192.0.2.1", 2, 1},
	{1061, ANVIL_EV_MAIL, "smtp:192.0.2.1", 2, 1},
	{1062, D, "smtp:192.0.2.1", 1, 0},
	{1063, D, "smtp:192.0.2.1", 0, 0},
	{1064, D, "smtp:192.0.2.1", 0, 0},		/* never below 0 */
	{1065, D, "smtp:198.51.100.9", 0, 0},		/* unknown */
	/* a login's window is smtpd_sasl_rate_time_unit (3600 here) */
	{1000, ANVIL_EV_MAIL, "sasl:alice@example.org", 0, 1},
	{1100, ANVIL_EV_MAIL, "sasl:alice@example.org", 0, 2},
	{4600, ANVIL_EV_MAIL, "sasl:alice@example.org", 0, 1},
	/* idents past the stored length differ by their hash */
	{1000, ANVIL_EV_RCPT, "sasl:a-very-long-login-name-that-goes-past-"
	    "the-stored-key-length-of-the-table-1", 0, 1},
	{1001, ANVIL_EV_RCPT, "sasl:a-very-long-login-name-that-goes-past-"
	    "the-stored-key-length-of-the-table-2", 0, 1},
	{1002, ANVIL_EV_RCPT, "sasl:a-very-long-login-name-that-goes-past-"
	    "the-stored-key-length-of-the-table-1", 0, 2},
};

struct stats {
	char	 text[1024];
};

static void
stat_fn(const char *what, int value, const char *ident, time_t when,
    void *ctx)
{
	struct stats *s = ctx;
	size_t	 n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%s=%d %s@%ld;", what,
	    value, ident, (long)when);
}

/* the steps and the statistics, on a private table */
static void
test_steps(void)
{
	struct anvil_shm *t;
	struct stats st;
	unsigned tickets[sizeof(steps) / sizeof(steps[0])], tk;
	size_t	 i, j;
	int	 count, rate;
	char	 name[160], err[128];

	if ((t = anvil_shm_attach(-1, err, sizeof(err))) == NULL) {
		tap_ok(0, "a private table: %s", err);
		return;
	}
	anvil_shm_units(t, 60, 3600);
	tap_is_int(anvil_shm_claim(t), 0, "a process slot");
	memset(tickets, 0, sizeof(tickets));
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		const struct step *s = &steps[i];

		count = rate = 0;
		if (s->req == C) {
			anvil_shm_connect(t, s->ident, s->now, &count, &rate,
			    &tickets[i]);
		} else if (s->req == D) {
			/* the ticket of the oldest open connect of ident */
			tk = 0;
			for (j = 0; j < i; j++)
				if (steps[j].req == C && tickets[j]
				    && strcmp(steps[j].ident, s->ident) == 0) {
					tk = tickets[j];
					tickets[j] = 0;
					break;
				}
			anvil_shm_disconnect(t, s->ident, tk, s->now);
			count = anvil_shm_count(t, s->ident);
		} else {
			rate = anvil_shm_event(t, s->ident, s->req, s->now);
			count = anvil_shm_count(t, s->ident);
		}
		snprintf(name, sizeof(name), "step %zu (%.40s at %ld): count",
		    i, s->ident, (long)s->now);
		tap_is_int(count, s->count, name);
		snprintf(name, sizeof(name), "step %zu (%.40s at %ld): rate",
		    i, s->ident, (long)s->now);
		tap_is_int(rate, s->rate, name);
	}
	tap_is_int(anvil_shm_event(t, "smtp:x", 99, 1066), 0,
	    "an unknown event kind counts nothing");
	/* a disconnect without a ticket finds the ident */
	anvil_shm_connect(t, "smtp:203.0.113.7", 1070, &count, &rate, &tk);
	anvil_shm_disconnect(t, "smtp:203.0.113.7", 0, 1071);
	tap_is_int(anvil_shm_count(t, "smtp:203.0.113.7"), 0,
	    "a disconnect without a ticket uncounts by ident");
	anvil_shm_disconnect(t, "smtp:203.0.113.7", tk, 1072);
	tap_is_int(anvil_shm_count(t, "smtp:192.0.2.2"), 1,
	    "  and its ticket, given later, takes nothing from another");
	memset(&st, 0, sizeof(st));
	anvil_shm_stats(t, stat_fn, &st);
	tap_is_str(st.text,
	    "connection count=2 smtp:192.0.2.1@1001;"
	    "connection rate=2 smtp:192.0.2.1@1001;"
	    "message rate=2 smtp:192.0.2.1@1006;"
	    "recipient rate=1 smtp:192.0.2.1@1007;"
	    "newtls rate=1 smtp:192.0.2.1@1009;"
	    "auth rate=1 smtp:192.0.2.1@1008;", "statistics: the maxima "
	    "(logins not among them)");
	memset(&st, 0, sizeof(st));
	anvil_shm_stats(t, stat_fn, &st);
	tap_is_str(st.text, "", "statistics are reset after a report");
	anvil_shm_detach(t);
}

/*
 * child - a process that maps master's table and, with hold, takes its
 * lock and keeps it, else claims a slot and counts n connections of
 * ident; it says so on wr and waits to be killed
 */
static pid_t
child(int fd, int wr, int hold, const char *ident, int n)
{
	struct anvil_shm *c;
	char	 err[128];
	unsigned tk;
	int	 count, rate;
	pid_t	 pid;

	if ((pid = fork()) != 0)
		return (pid);
	if ((c = anvil_shm_attach(fd, err, sizeof(err))) == NULL)
		_exit(2);
	if (hold) {
		anvil_shm_units(c, 60, 3600);	/* takes and drops the lock */
		if (anvil_shm_hold(c) < 0)
			_exit(3);
	} else {
		if (anvil_shm_claim(c) < 0)
			_exit(2);
		while (n-- > 0)
			anvil_shm_connect(c, ident, time(NULL), &count, &rate,
			    &tk);
	}
	(void)write(wr, "x", 1);
	pause();
	_exit(0);
}

/* child_ready - wait for the child's word */
static void
child_ready(int rd)
{
	char	 ch;

	(void)read(rd, &ch, 1);
}

/* child_kill - SIGKILL (and SIGCONT, for a stopped one), then reap */
static void
child_kill(pid_t pid)
{
	int	 status;

	kill(pid, SIGKILL);
	kill(pid, SIGCONT);
	while (waitpid(pid, &status, 0) < 0)
		;
}

/* master's table: two processes, a child killed holding counts */
static void
test_shared(void)
{
	struct anvil_shm *t, *c;
	int	 fd, p[2], count, rate;
	unsigned tk;
	pid_t	 pid;
	char	 err[128];
	time_t	 now = time(NULL);
	struct timespec t0, t1;
	double	 secs;

	if ((fd = anvil_shm_create(60, 3600)) < 0) {
		tap_ok(0, "anvil_shm_create: %m");
		return;
	}
	t = anvil_shm_attach(fd, err, sizeof(err));
	tap_ok(t != NULL, "the parent maps master's table");
	if (t == NULL || pipe(p) < 0)
		return;
	anvil_shm_claim(t);

	/* a child counts three connections of one client, then is killed */
	pid = child(fd, p[1], 0, "smtp:192.0.2.9", 3);
	child_ready(p[0]);
	tap_is_int(anvil_shm_count(t, "smtp:192.0.2.9"), 3,
	    "the parent sees the child's three connections");
	tap_is_int(anvil_shm_reap(t), 0,
	    "reap while the child lives uncounts nothing");
	child_kill(pid);
	tap_is_int(anvil_shm_reap(t), 3,
	    "after SIGKILL, reap uncounts the child's three");
	tap_is_int(anvil_shm_count(t, "smtp:192.0.2.9"), 0,
	    "  and the client has none open");
	tap_is_int(anvil_shm_reap(t), 0, "  a second reap finds nothing");

	/* a child killed again: the next claim (a new smtpd) uncounts */
	pid = child(fd, p[1], 0, "smtp:192.0.2.11", 1);
	child_ready(p[0]);
	child_kill(pid);
	tap_is_int(anvil_shm_count(t, "smtp:192.0.2.11"), 1,
	    "a killed child's count stays until somebody looks");
	if ((c = anvil_shm_attach(fd, err, sizeof(err))) != NULL) {
		anvil_shm_claim(c);
		tap_is_int(anvil_shm_count(t, "smtp:192.0.2.11"), 0,
		    "  the next process's claim uncounts it");
		anvil_shm_connect(c, "smtp:192.0.2.12", now, &count, &rate,
		    &tk);
		anvil_shm_detach(c);
		tap_is_int(anvil_shm_count(t, "smtp:192.0.2.12"), 0,
		    "a clean detach uncounts what the process held");
	}

	/* a child killed holding the table's lock */
	pid = child(fd, p[1], 1, NULL, 0);
	child_ready(p[0]);
	child_kill(pid);
	tap_is_int(anvil_shm_connect(t, "smtp:192.0.2.13", now, &count,
	    &rate, &tk), 0, "a lock whose holder was killed is taken over");
	anvil_shm_disconnect(t, "smtp:192.0.2.13", tk, now);

	/* a child stopped holding it: give up within about a second */
	pid = child(fd, p[1], 1, NULL, 0);
	child_ready(p[0]);
	kill(pid, SIGSTOP);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tap_is_int(anvil_shm_connect(t, "smtp:192.0.2.14", now, &count,
	    &rate, &tk), -1, "a lock held by a stopped process: not counted");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec)
	    + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	tap_ok(secs > 0.5 && secs < 3, "  after about a second (%.2f s)",
	    secs);
	child_kill(pid);
	tap_is_int(anvil_shm_connect(t, "smtp:192.0.2.14", now, &count,
	    &rate, &tk), 0, "  counted again once the holder is gone");
	close(p[0]);
	close(p[1]);
	anvil_shm_detach(t);
	close(fd);
}

/* a table full near a hash, and its entries taken again when dead */
static void
test_full(void)
{
	struct anvil_shm *t;
	char	 ident[64], err[128];
	int	 i, count, rate, failed = 0, first = -1;
	unsigned tk;

	if ((t = anvil_shm_attach(-1, err, sizeof(err))) == NULL)
		return;
	anvil_shm_units(t, 60, 3600);
	/* more idents than entries: some must find their place taken */
	for (i = 0; i < 70000; i++) {
		snprintf(ident, sizeof(ident), "smtp:10.%d.%d.%d", i >> 16,
		    (i >> 8) & 255, i & 255);
		if (anvil_shm_connect(t, ident, 1000, &count, &rate, &tk) < 0) {
			failed++;
			if (first < 0)
				first = i;
		}
	}
	tap_ok(failed >= 70000 - 65536, "a full table counts no more "
	    "(%d of 70000 not counted)", failed);
	for (i = 0; i < 70000; i++) {
		snprintf(ident, sizeof(ident), "smtp:10.%d.%d.%d", i >> 16,
		    (i >> 8) & 255, i & 255);
		anvil_shm_disconnect(t, ident, 0, 1001);
	}
	snprintf(ident, sizeof(ident), "smtp:10.%d.%d.%d", first >> 16,
	    (first >> 8) & 255, first & 255);
	tap_is_int(anvil_shm_connect(t, ident, 1030, &count, &rate, &tk), -1,
	    "  entries whose window runs are not taken");
	tap_is_int(anvil_shm_connect(t, ident, 1060, &count, &rate, &tk), 0,
	    "  once it ended, a new ident takes a dead entry");
	tap_is_int(count, 1, "  and starts at one");
	anvil_shm_detach(t);
}

int
main(void)
{
	test_steps();
	test_shared();
	test_full();
	return (tap_done());
}
