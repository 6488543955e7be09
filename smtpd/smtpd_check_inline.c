/*
 * NAME
 *	smtpd_check_inline - a policy stage answered on the event loop
 * SYNOPSIS
 *	See smtpd_check_inline.h.
 * DESCRIPTION
 *	The loop's checker is made on first use, on the loop thread, and
 *	is only used there (a checker is one thread's: its map handles).
 *	A lookup that misses in cache-only mode makes the stage's result
 *	a temporary failure that nobody sees: the copy of st is dropped,
 *	and the worker runs the stage again from the start. What the try
 *	would log (a reject, HOLD, WARN ..., with its metrics_reject) is
 *	kept in order by smtpd_check.c until the try ends: logged here
 *	when it stands, dropped when it missed (the worker logs it).
 * DIAGNOSTICS
 *	None.
 */
#include <string.h>

#include "buf.h"
#include "map_cache.h"
#include "smtpd_check.h"
#include "smtpd_check_inline.h"

static struct smtpd_checker *inline_checker;

/* smtpd_check_inline - 1: answered here from the cache; 0: use a worker */
int
smtpd_check_inline(int stage, struct smtpd_check_state *st,
    struct buf *reply, int *result)
{
	struct smtpd_check_state copy;
	int	 rc, missed;

	if (inline_checker == NULL)
		inline_checker = smtpd_check_new();
	if (!smtpd_check_inline_ok(inline_checker, stage))
		return (0);
	memcpy(&copy, st, sizeof(copy));
	map_cache_only(1);
	rc = smtpd_check(inline_checker, stage, &copy, reply);
	missed = map_cache_missed();
	map_cache_only(0);
	smtpd_check_inline_log(!missed);
	if (missed) {
		buf_reset(reply);
		return (0);
	}
	memcpy(st, &copy, sizeof(copy));
	*result = rc;
	return (1);
}

/* smtpd_check_inline_reset - a new loop checker on next use (tests) */
void
smtpd_check_inline_reset(void)
{
	if (inline_checker != NULL)
		smtpd_check_free(inline_checker);
	inline_checker = NULL;
}
