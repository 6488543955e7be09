/*
 * NAME
 *	verify_cache_test - the address verification cache rules
 * DESCRIPTION
 *	Table-driven: verify_query_decide() (expiry, refresh, the probe
 *	TTL, the negative cache switch), verify_update_decide(), entry
 *	parsing with hostile records; then a real LMDB file: put, get,
 *	persistence across reopen, and the memory-only cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"
#include "verify_cache.h"
#include "xalloc.h"

#define D	86400L
#define H	3600L
#define NOW	1700000000L

/* Postfix's defaults: 31d/7d positive, 3d/3h negative */
static const struct verify_policy pol = {31 * D, 7 * D, 3 * D, 3 * H, 1};
static const struct verify_policy nopol = {31 * D, 7 * D, 3 * D, 3 * H, 0};

struct query_case {
	const char *name;
	const struct verify_policy *p;
	int	 found;
	int	 status;
	long	 probed_ago;		/* -1: never (0) */
	long	 updated_ago;		/* -1: never (0) */
	int	 want_probe;
	int	 want_status;
};

static const struct query_case query_cases[] = {
	{"unknown address: probe, in progress", &pol, 0, 0, -1, -1,
	    1, VERIFY_STAT_TODO},
	{"todo, probe sent 10s ago: no new probe", &pol, 1,
	    VERIFY_STAT_TODO, 10, -1, 0, VERIFY_STAT_TODO},
	{"todo, probe older than the probe TTL: probe again", &pol, 1,
	    VERIFY_STAT_TODO, VERIFY_PROBE_TTL + 1, -1, 1, VERIFY_STAT_TODO},
	{"fresh positive: answered, no probe", &pol, 1, VERIFY_STAT_OK,
	    -1, 1 * D, 0, VERIFY_STAT_OK},
	{"positive past refresh: answered, probe", &pol, 1, VERIFY_STAT_OK,
	    -1, 8 * D, 1, VERIFY_STAT_OK},
	{"positive past refresh, probe pending: no second probe", &pol, 1,
	    VERIFY_STAT_OK, 60, 8 * D, 0, VERIFY_STAT_OK},
	{"positive past expiry: unknown again", &pol, 1, VERIFY_STAT_OK,
	    -1, 32 * D, 1, VERIFY_STAT_TODO},
	{"fresh negative: answered, no probe", &pol, 1, VERIFY_STAT_BOUNCE,
	    -1, 1 * H, 0, VERIFY_STAT_BOUNCE},
	{"negative past refresh: answered, probe", &pol, 1,
	    VERIFY_STAT_BOUNCE, -1, 4 * H, 1, VERIFY_STAT_BOUNCE},
	{"negative past expiry: unknown again", &pol, 1, VERIFY_STAT_BOUNCE,
	    -1, 4 * D, 1, VERIFY_STAT_TODO},
	{"deferred, fresh: answered, no probe", &pol, 1, VERIFY_STAT_DEFER,
	    -1, 60, 0, VERIFY_STAT_DEFER},
	{"negative cache off: negative answered, probe every time", &nopol,
	    1, VERIFY_STAT_BOUNCE, 5, 10, 1, VERIFY_STAT_BOUNCE},
	{"negative cache off: fresh positive, no probe", &nopol, 1,
	    VERIFY_STAT_OK, -1, 10, 0, VERIFY_STAT_OK},
	{"exactly at refresh time: no probe yet", &pol, 1, VERIFY_STAT_OK,
	    -1, 7 * D, 0, VERIFY_STAT_OK},
};

/* test_query - the query rule */
static void
test_query(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(query_cases) / sizeof(query_cases[0]); i++) {
		const struct query_case *c = &query_cases[i];
		struct verify_entry e;
		char	 name[200];
		int	 rc;

		memset(&e, 0, sizeof(e));
		e.status = c->status;
		e.probed = c->probed_ago < 0 ? 0 : NOW - c->probed_ago;
		e.updated = c->updated_ago < 0 ? 0 : NOW - c->updated_ago;
		snprintf(e.text, sizeof(e.text), "old text");
		rc = verify_query_decide(c->p, c->found, &e, NOW);
		snprintf(name, sizeof(name), "%s: probe", c->name);
		tap_is_int(rc, c->want_probe ? VERIFY_PROBE : 0, name);
		snprintf(name, sizeof(name), "%s: status", c->name);
		tap_is_int(e.status, c->want_status, name);
		if (c->want_probe) {
			snprintf(name, sizeof(name), "%s: probed now", c->name);
			tap_is_int(e.probed, NOW, name);
		}
		if (c->want_status == VERIFY_STAT_TODO) {
			snprintf(name, sizeof(name), "%s: text", c->name);
			tap_is_str(e.text, "Address verification in progress",
			    name);
		}
	}
}

struct update_case {
	const char *name;
	int	 found;
	int	 old_status;
	int	 status;
	int	 want;
};

static const struct update_case update_cases[] = {
	{"new positive", 0, 0, VERIFY_STAT_OK, 1},
	{"new negative", 0, 0, VERIFY_STAT_BOUNCE, 1},
	{"todo becomes negative", 1, VERIFY_STAT_TODO, VERIFY_STAT_BOUNCE, 1},
	{"negative becomes positive", 1, VERIFY_STAT_BOUNCE, VERIFY_STAT_OK,
	    1},
	{"positive not clobbered by a bounce", 1, VERIFY_STAT_OK,
	    VERIFY_STAT_BOUNCE, 0},
	{"positive not clobbered by a deferral", 1, VERIFY_STAT_OK,
	    VERIFY_STAT_DEFER, 0},
	{"positive refreshed", 1, VERIFY_STAT_OK, VERIFY_STAT_OK, 1},
};

/* test_update - the update rule */
static void
test_update(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(update_cases) / sizeof(update_cases[0]); i++) {
		const struct update_case *c = &update_cases[i];
		struct verify_entry old;

		memset(&old, 0, sizeof(old));
		old.status = c->old_status;
		tap_is_int(verify_update_decide(c->found, &old, c->status),
		    c->want, c->name);
	}
}

struct parse_case {
	const char *name;
	const char *raw;
	int	 want_rc;
	const char *want_text;
};

static const struct parse_case parse_cases[] = {
	{"plain", "2:0:1700000000:host x said: 550 5.1.1 no", 0,
	    "host x said: 550 5.1.1 no"},
	{"colons in text", "0:0:1:250 2.1.5 a:b", 0, "250 2.1.5 a:b"},
	{"empty text", "3:1:0:", 0, ""},
	{"empty", "", -1, NULL},
	{"status too big", "4:0:0:x", -1, NULL},
	{"negative", "-1:0:0:x", -1, NULL},
	{"too few fields", "0:1", -1, NULL},
	{"letters", "0:x:0:y", -1, NULL},
	{"overflow", "0:99999999999999999999999:0:x", -1, NULL},
	{"8-bit", "\xff:0:0:x", -1, NULL},
};

/* test_parse - stored entries */
static void
test_parse(void)
{
	struct verify_entry e, back;
	char	 raw[2048];
	size_t	 i;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		int	 rc = verify_entry_parse(c->raw, &e);

		tap_is_int(rc, c->want_rc, c->name);
		if (rc == 0 && c->want_text)
			tap_is_str(e.text, c->want_text, c->name);
	}
	e.status = VERIFY_STAT_BOUNCE;
	e.probed = 0;
	e.updated = NOW;
	snprintf(e.text, sizeof(e.text), "x:y");
	verify_entry_format(&e, raw, sizeof(raw));
	tap_is_str(raw, "2:0:1700000000:x:y", "format");
	tap_ok(verify_entry_parse(raw, &back) == 0 && back.status == e.status
	    && back.updated == e.updated && !strcmp(back.text, e.text),
	    "round trip");
}

/* test_store - LMDB and memory */
static void
test_store(void)
{
	char	 dir[] = "/tmp/verify_cache_test.XXXXXX", err[256];
	char	*path, *lock;
	struct verify_cache *c;
	struct verify_entry e, got;

	tap_ok(verify_cache_path("") == NULL, "empty spec: memory");
	tap_ok(verify_cache_path("proxy:mysql:x") == NULL, "other type");
	path = verify_cache_path("btree:/x/verify_cache");
	tap_is_str(path, "/x/verify_cache.lmdb", "btree: path");
	free(path);
	if (mkdtemp(dir) == NULL) {
		tap_ok(0, "mkdtemp");
		return;
	}
	path = xasprintf("%s/verify_cache.lmdb", dir);
	lock = xasprintf("%s-lock", path);
	c = verify_cache_open(path, err, sizeof(err));
	tap_ok(c != NULL, "open %s", c ? "" : err);
	if (c == NULL)
		goto out;
	memset(&e, 0, sizeof(e));
	e.status = VERIFY_STAT_OK;
	e.updated = NOW;
	snprintf(e.text, sizeof(e.text), "250 2.1.5 Ok");
	tap_is_int(verify_cache_get(c, "a@example.com", &got), 0, "absent");
	tap_is_int(verify_cache_put(c, "a@example.com", &e), 0, "put");
	verify_cache_close(c);
	c = verify_cache_open(path, err, sizeof(err));
	tap_ok(c != NULL && verify_cache_get(c, "a@example.com", &got) == 1
	    && got.status == VERIFY_STAT_OK && got.updated == NOW
	    && !strcmp(got.text, "250 2.1.5 Ok"), "survives reopen");
	verify_cache_close(c);
	c = verify_cache_open(NULL, err, sizeof(err));
	tap_is_int(verify_cache_put(c, "b@x", &e), 0, "memory put");
	e.status = VERIFY_STAT_BOUNCE;
	tap_is_int(verify_cache_put(c, "b@x", &e), 0, "memory replace");
	tap_ok(verify_cache_get(c, "b@x", &got) == 1
	    && got.status == VERIFY_STAT_BOUNCE, "memory get");
	tap_is_int(verify_cache_get(c, "c@x", &got), 0, "memory absent");
	verify_cache_close(c);
out:
	unlink(path);
	unlink(lock);
	rmdir(dir);
	free(path);
	free(lock);
}

struct clean_case {
	const char *addr;
	int	 status;
	long	 probed_ago, updated_ago;	/* -1: 0 */
	int	 dropped;
};

static const struct clean_case clean_cases[] = {
	{"ok-fresh@x", VERIFY_STAT_OK, -1, 1 * D, 0},
	{"ok-old@x", VERIFY_STAT_OK, -1, 32 * D, 1},
	{"bounce-fresh@x", VERIFY_STAT_BOUNCE, -1, 1 * H, 0},
	{"bounce-old@x", VERIFY_STAT_BOUNCE, -1, 4 * D, 1},
	{"defer-old@x", VERIFY_STAT_DEFER, -1, 4 * D, 1},
	{"todo-pending@x", VERIFY_STAT_TODO, 60, -1, 0},
	{"todo-lost@x", VERIFY_STAT_TODO, VERIFY_PROBE_TTL + 1, -1, 1},
};

/* clean_one - fill c with the cases, clean, check what is left */
static void
clean_one(struct verify_cache *c, const char *what)
{
	size_t	 i, n = sizeof(clean_cases) / sizeof(clean_cases[0]);
	long	 dropped, retained = -1, want = 0;
	struct verify_entry e;

	for (i = 0; i < n; i++) {
		const struct clean_case *k = &clean_cases[i];

		memset(&e, 0, sizeof(e));
		e.status = k->status;
		e.probed = k->probed_ago < 0 ? 0 : NOW - k->probed_ago;
		e.updated = k->updated_ago < 0 ? 0 : NOW - k->updated_ago;
		(void)verify_cache_put(c, k->addr, &e);
		want += k->dropped;
	}
	dropped = verify_cache_cleanup(c, &pol, NOW, &retained);
	tap_is_int(dropped, want, what);
	tap_is_int(retained, (long)n - want, what);
	for (i = 0; i < n; i++) {
		char	 name[200];

		snprintf(name, sizeof(name), "%s: %s %s", what,
		    clean_cases[i].addr, clean_cases[i].dropped ? "dropped"
		    : "kept");
		tap_is_int(verify_cache_get(c, clean_cases[i].addr, &e),
		    !clean_cases[i].dropped, name);
	}
}

/* test_cleanup - address_verify_cache_cleanup_interval's pass */
static void
test_cleanup(void)
{
	char	 dir[] = "/tmp/verify_cache_test.XXXXXX", err[256];
	char	*path, *lock;
	struct verify_cache *c;

	c = verify_cache_open(NULL, err, sizeof(err));
	clean_one(c, "memory cleanup");
	verify_cache_close(c);
	if (mkdtemp(dir) == NULL) {
		tap_ok(0, "mkdtemp");
		return;
	}
	path = xasprintf("%s/verify_cache.lmdb", dir);
	lock = xasprintf("%s-lock", path);
	if ((c = verify_cache_open(path, err, sizeof(err))) != NULL) {
		clean_one(c, "LMDB cleanup");
		verify_cache_close(c);
	} else
		tap_ok(0, "open %s", err);
	unlink(path);
	unlink(lock);
	rmdir(dir);
	free(path);
	free(lock);
}

int
main(void)
{
	log_init("verify_cache_test", 0);
	test_query();
	test_update();
	test_parse();
	test_store();
	test_cleanup();
	return (tap_done());
}
