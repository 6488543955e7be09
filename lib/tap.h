/*
 * NAME
 *	tap - a tiny TAP producer for table-driven unit tests
 * SYNOPSIS
 *	#include "tap.h"
 *
 *	void	tap_ok(int cond, const char *fmt, ...);
 *	void	tap_is_str(const char *got, const char *want, const char *name);
 *	void	tap_is_int(long got, long want, const char *name);
 *	int	tap_done(void);
 * DESCRIPTION
 *	Each check prints "ok N - name" or "not ok N - name # got ..., want
 *	...". tap_done() prints the plan "1..N" (TAP allows the plan last)
 *	and returns the exit status: 0 only if every check passed and at
 *	least one ran. Header-only: each test program includes it once.
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

/* tap_vok - one check */
static void
tap_vok(int cond, const char *diag, const char *fmt, va_list ap)
{
	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	vprintf(fmt, ap);
	if (!cond && diag)
		printf(" # %s", diag);
	printf("\n");
	fflush(stdout);
}

/* tap_ok - check a condition */
static inline void __attribute__((format(printf, 2, 3), unused))
tap_ok(int cond, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	tap_vok(cond, NULL, fmt, ap);
	va_end(ap);
}

/* tap_wrap - call tap_vok with a fixed format */
static void
tap_named(int cond, const char *diag, const char *name, ...)
{
	va_list	 ap;

	va_start(ap, name);
	tap_vok(cond, diag, "%s", ap);
	va_end(ap);
}

/* tap_is_str - compare strings (NULL-safe) */
static inline void __attribute__((unused))
tap_is_str(const char *got, const char *want, const char *name)
{
	char	 diag[600];
	int	 same = (got == NULL || want == NULL) ? got == want
	    : strcmp(got, want) == 0;

	snprintf(diag, sizeof(diag), "got '%.250s', want '%.250s'",
	    got ? got : "(null)", want ? want : "(null)");
	tap_named(same, diag, name, name);
}

/* tap_is_int - compare integers */
static inline void __attribute__((unused))
tap_is_int(long got, long want, const char *name)
{
	char	 diag[100];

	snprintf(diag, sizeof(diag), "got %ld, want %ld", got, want);
	tap_named(got == want, diag, name, name);
}

/* tap_done - print the plan, return the exit status */
static inline int __attribute__((unused))
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return (tap_failed || tap_count == 0);
}

#endif
