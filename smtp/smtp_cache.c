/*
 * NAME
 *	smtp_cache - idle LMTP connections kept for the next message
 * SYNOPSIS
 *	#include "smtp_cache.h"
 *
 *	void	smtp_cache_init(long time_limit);
 *	int	smtp_cache_take(const char *dest, void *state, size_t len);
 *	void	smtp_cache_put(const char *dest, int fd, const void *state,
 *	    size_t len);
 * DESCRIPTION
 *	Postfix's connection cache for lmtp(8), inside the one process
 *	(Postfix keeps it in scache(8)): after a transaction that ended
 *	cleanly, the connection to dest (the server's name as the log
 *	shows it, e.g. "mx[/var/spool/postfix/private/dovecot-lmtp]") is
 *	kept instead of QUIT, with the caller's state (what the LHLO reply
 *	offered) copied along; the next delivery to dest takes it.
 *	smtp_cache_init() sets lmtp_connection_cache_time_limit; 0 keeps
 *	nothing (smtp_cache_put() then closes the connection). A
 *	connection idle longer than that is closed by a reaper thread (so
 *	that an idle Dovecot lmtp process is released within a second
 *	past the limit), and at most SMTP_CACHE_SLOTS are kept (the oldest
 *	one is closed to make room).
 *	smtp_cache_take() returns a cached descriptor for dest (the state
 *	copied into state) or -1. The caller checks that it still works
 *	(RSET) before it sends MAIL: a server may have closed it.
 * DIAGNOSTICS
 *	None: a connection that cannot be cached is closed.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtp_cache.h"

#define SMTP_CACHE_SLOTS	16
#define SMTP_CACHE_STATE	512	/* bytes of caller state per slot */

struct slot {
	char	 dest[512];
	int	 fd;			/* -1: free */
	time_t	 since;
	unsigned char state[SMTP_CACHE_STATE];
	size_t	 len;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[SMTP_CACHE_SLOTS];
static long cache_limit;
static int cache_started;

/* cache_expire - close what waited too long (locked) */
static void
cache_expire(time_t now)
{
	size_t	 i;

	for (i = 0; i < SMTP_CACHE_SLOTS; i++)
		if (slots[i].fd >= 0 && now - slots[i].since >= cache_limit) {
			close(slots[i].fd);
			slots[i].fd = -1;
		}
}

/* cache_reaper - once a second, close expired connections */
static void *
cache_reaper(void *arg)
{
	for (;;) {
		sleep(1);
		pthread_mutex_lock(&cache_lock);
		cache_expire(time(NULL));
		pthread_mutex_unlock(&cache_lock);
	}
	return (NULL);
}

/* smtp_cache_init - the time limit; start the reaper once */
void
smtp_cache_init(long time_limit)
{
	pthread_t t;
	size_t	 i;

	pthread_mutex_lock(&cache_lock);
	cache_limit = time_limit;
	if (!cache_started) {
		for (i = 0; i < SMTP_CACHE_SLOTS; i++)
			slots[i].fd = -1;
		if (time_limit > 0 && pthread_create(&t, NULL, cache_reaper,
		    NULL) == 0) {
			pthread_detach(t);
			cache_started = 1;
		} else
			cache_limit = 0;	/* no reaper, no cache */
	}
	pthread_mutex_unlock(&cache_lock);
}

/* smtp_cache_take - an idle connection to dest, or -1 */
int
smtp_cache_take(const char *dest, void *state, size_t len)
{
	size_t	 i;
	int	 fd = -1;

	pthread_mutex_lock(&cache_lock);
	if (cache_limit > 0) {
		cache_expire(time(NULL));
		for (i = 0; i < SMTP_CACHE_SLOTS; i++)
			if (slots[i].fd >= 0 && slots[i].len == len
			    && strcmp(slots[i].dest, dest) == 0) {
				fd = slots[i].fd;
				memcpy(state, slots[i].state, len);
				slots[i].fd = -1;
				break;
			}
	}
	pthread_mutex_unlock(&cache_lock);
	return (fd);
}

/* smtp_cache_put - keep fd for dest, or close it */
void
smtp_cache_put(const char *dest, int fd, const void *state, size_t len)
{
	size_t	 i, pick = SMTP_CACHE_SLOTS;
	time_t	 now = time(NULL);

	pthread_mutex_lock(&cache_lock);
	if (cache_limit <= 0 || len > SMTP_CACHE_STATE
	    || strlen(dest) >= sizeof(slots[0].dest)) {
		pthread_mutex_unlock(&cache_lock);
		close(fd);
		return;
	}
	for (i = 0; i < SMTP_CACHE_SLOTS; i++) {
		if (slots[i].fd < 0) {
			pick = i;
			break;
		}
		if (pick == SMTP_CACHE_SLOTS
		    || slots[i].since < slots[pick].since)
			pick = i;
	}
	if (slots[pick].fd >= 0)	/* full: the oldest makes room */
		close(slots[pick].fd);
	snprintf(slots[pick].dest, sizeof(slots[pick].dest), "%s", dest);
	slots[pick].fd = fd;
	slots[pick].since = now;
	memcpy(slots[pick].state, state, len);
	slots[pick].len = len;
	pthread_mutex_unlock(&cache_lock);
}
