/*
 * NAME
 *	anvil_table_test - counts, rate windows, expiry and statistics
 * DESCRIPTION
 *	A table of steps (time, request, ident) with the count and rate
 *	each must return, then expiry and the statistics report.
 */
#include <stdio.h>
#include <string.h>

#include "anvil_table.h"
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

int
main(void)
{
	struct anvil_table *t = anvil_table_new(60);
	struct stats st;
	size_t	 i;
	int	 count, rate;
	char	 name[128];

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		const struct step *s = &steps[i];

		count = rate = 0;
		if (s->req == C)
			anvil_table_connect(t, s->ident, s->now, &count, &rate);
		else if (s->req == D) {
			anvil_table_disconnect(t, s->ident, s->now);
			count = anvil_table_count(t, s->ident);
		} else {
			rate = anvil_table_event(t, s->ident, s->req, s->now);
			count = anvil_table_count(t, s->ident);
		}
		snprintf(name, sizeof(name), "step %zu (%s at %ld): count",
		    i, s->ident, (long)s->now);
		tap_is_int(count, s->count, name);
		snprintf(name, sizeof(name), "step %zu (%s at %ld): rate",
		    i, s->ident, (long)s->now);
		tap_is_int(rate, s->rate, name);
	}
	tap_is_int(anvil_table_event(t, "smtp:x", 99, 1066), 0,
	    "an unknown event kind counts nothing");
	/* 192.0.2.1's window began at 1060; 192.0.2.2 is still open */
	tap_is_int((long)anvil_table_expire(t, 1100), 3,
	    "expire before the window ends keeps all three");
	tap_is_int((long)anvil_table_expire(t, 1200), 2,
	    "expire keeps only idents with open connections");
	tap_is_int(anvil_table_count(t, "smtp:192.0.2.2"), 1,
	    "an open connection survives expiry");
	memset(&st, 0, sizeof(st));
	anvil_table_stats(t, stat_fn, &st);
	tap_is_str(st.text,
	    "connection count=2 smtp:192.0.2.1@1001;"
	    "connection rate=2 smtp:192.0.2.1@1001;"
	    "message rate=2 smtp:192.0.2.1@1006;"
	    "recipient rate=1 smtp:192.0.2.1@1007;"
	    "newtls rate=1 smtp:192.0.2.1@1009;"
	    "auth rate=1 smtp:192.0.2.1@1008;", "statistics: the maxima");
	memset(&st, 0, sizeof(st));
	anvil_table_stats(t, stat_fn, &st);
	tap_is_str(st.text, "", "statistics are reset after a report");
	anvil_table_free(t);
	return (tap_done());
}
