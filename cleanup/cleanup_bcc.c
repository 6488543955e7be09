/*
 * NAME
 *	cleanup_bcc - always_bcc, sender_bcc_maps, recipient_bcc_maps
 * SYNOPSIS
 *	#include "cleanup_bcc.h"
 *
 *	struct cleanup_bcc *cleanup_bcc_new(void);
 *	void	cleanup_bcc_free(struct cleanup_bcc *b);
 *	int	cleanup_bcc_add(struct cleanup_bcc *b, const char *sender,
 *	    char *const *rcpts, size_t nrcpts, struct strv *out);
 *	char	*cleanup_bcc_filter(void);
 * DESCRIPTION
 *	Postfix's automatic BCC recipients (cleanup(8)), opened from the
 *	current parameters by cleanup_bcc_new() (one per worker thread,
 *	like the other cleanup maps; NULL when none of the three is set).
 *	cleanup_bcc_add() appends to out the addresses to add for a
 *	message whose envelope (after canonical rewriting) is sender and
 *	rcpts: always_bcc, the sender_bcc_maps result for a non-null
 *	sender, the recipient_bcc_maps result for each recipient, in
 *	that order, each address once and none that is already a
 *	recipient. Lookups use Postfix's address order (user+ext@domain,
 *	user@domain, @domain; maps/map.h). The caller adds them with
 *	NOTIFY=NEVER (Postfix 2.3 and later: no DSN to the sender for a
 *	BCC recipient) and not at all with receive_override_options
 *	no_address_mappings (CLEANUP_FLAG_NO_MAPS).
 *	cleanup_bcc_filter() returns content_filter's current value
 *	(a new string, "" when unset).
 * DIAGNOSTICS
 *	cleanup_bcc_add() returns -1 when a map is in temporary trouble
 *	(logged; the caller defers the message), else 0.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup_bcc.h"
#include "conf.h"
#include "log.h"
#include "map.h"
#include "str.h"
#include "xalloc.h"

struct cleanup_bcc {
	char	*always;		/* always_bcc, or NULL */
	struct maplist *sender_maps;
	struct maplist *rcpt_maps;
};

static pthread_mutex_t bcc_conf_lock = PTHREAD_MUTEX_INITIALIZER;

/* bcc_trimmed - a trimmed copy (str_trim() may move the start) */
static char *
bcc_trimmed(const char *v)
{
	char	*tmp = xstrdup(v), *s = xstrdup(str_trim(tmp));

	free(tmp);
	return (s);
}

/* bcc_list - open a map list parameter, NULL when empty */
static struct maplist *
bcc_list(const char *param)
{
	const char *v = conf_str(param);

	if (v == NULL || v[strspn(v, STR_LIST_DELIMS)] == 0)
		return (NULL);
	return (maplist_open(v, 0));
}

/* cleanup_bcc_new - this thread's BCC tables, NULL when none is set */
struct cleanup_bcc *
cleanup_bcc_new(void)
{
	struct cleanup_bcc *b = xcalloc(1, sizeof(*b));
	const char *a;

	pthread_mutex_lock(&bcc_conf_lock);
	a = conf_str("always_bcc");
	if (a && a[strspn(a, " \t")])
		b->always = bcc_trimmed(a);
	b->sender_maps = bcc_list("sender_bcc_maps");
	b->rcpt_maps = bcc_list("recipient_bcc_maps");
	pthread_mutex_unlock(&bcc_conf_lock);
	if (!b->always && !b->sender_maps && !b->rcpt_maps) {
		free(b);
		return (NULL);
	}
	return (b);
}

/* cleanup_bcc_free - close them */
void
cleanup_bcc_free(struct cleanup_bcc *b)
{
	if (b == NULL)
		return;
	free(b->always);
	maplist_close(b->sender_maps);
	maplist_close(b->rcpt_maps);
	free(b);
}

/* bcc_put - add addr to out unless it is there or a recipient */
static void
bcc_put(struct strv *out, const char *addr, char *const *rcpts, size_t n)
{
	size_t	 i;

	if (*addr == 0)
		return;
	for (i = 0; i < n; i++)
		if (strcasecmp(rcpts[i], addr) == 0)
			return;
	for (i = 0; i < out->argc; i++)
		if (strcasecmp(out->argv[i], addr) == 0)
			return;
	strv_add(out, addr);
}

/* bcc_lookup - one map lookup into out; -1 on trouble */
static int
bcc_lookup(struct maplist *l, const char *param, const char *key,
    char *const *rcpts, size_t n, struct strv *out)
{
	char	*val;
	int	 st;

	if (l == NULL || *key == 0)
		return (0);
	st = maplist_lookup_addr(l, key, MAP_ADDR_NO_EXT_APPEND, &val);
	if (st == MAP_RETRY) {
		log_warn_as("cleanup", "%s lookup problem for %s: %s", param,
		    log_safe(key), maplist_error(l) ? maplist_error(l) : "");
		return (-1);
	}
	if (st == MAP_FOUND) {
		bcc_put(out, str_trim(val), rcpts, n);
		free(val);
	}
	return (0);
}

/* cleanup_bcc_add - the BCC recipients of one message */
int
cleanup_bcc_add(struct cleanup_bcc *b, const char *sender,
    char *const *rcpts, size_t n, struct strv *out)
{
	size_t	 i;

	if (b == NULL)
		return (0);
	if (b->always)
		bcc_put(out, b->always, rcpts, n);
	if (bcc_lookup(b->sender_maps, "sender_bcc_maps", sender, rcpts, n,
	    out) < 0)
		return (-1);
	for (i = 0; i < n; i++)
		if (bcc_lookup(b->rcpt_maps, "recipient_bcc_maps", rcpts[i],
		    rcpts, n, out) < 0)
			return (-1);
	return (0);
}

/* cleanup_bcc_filter - content_filter now (a new string) */
char   *
cleanup_bcc_filter(void)
{
	const char *v;
	char	*s;

	pthread_mutex_lock(&bcc_conf_lock);
	v = conf_str("content_filter");
	s = bcc_trimmed(v ? v : "");
	pthread_mutex_unlock(&bcc_conf_lock);
	return (s);
}
