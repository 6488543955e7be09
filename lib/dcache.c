/*
 * NAME
 *	dcache - short-lived cache of domain-class answers (per list, locked)
 * SYNOPSIS
 *	See dcache.h.
 * DESCRIPTION
 *	A small array searched linearly (a handful of domains per list is
 *	the common case), one mutex per cache.
 * DIAGNOSTICS
 *	None.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dcache.h"
#include "xalloc.h"

struct dcache_ent {
	char	*key;			/* NULL: free slot */
	time_t	 stamp;			/* when stored */
	int	 hit;
};

struct dcache {
	pthread_mutex_t lock;
	char	*id;			/* dcache_shared() name, or NULL */
	int	 refs;			/* dcache_shared() users */
	struct dcache *next;		/* dcache_shared() registry */
	int	 ttl;
	size_t	 n;
	struct dcache_ent *ent;
};

/* dcache_create - an empty cache of size entries, answers live ttl s */
struct dcache *
dcache_create(int ttl, size_t size)
{
	struct dcache *dc = xcalloc(1, sizeof(*dc));

	pthread_mutex_init(&dc->lock, NULL);
	dc->ttl = ttl;
	dc->n = size ? size : 1;
	dc->ent = xcalloc(dc->n, sizeof(*dc->ent));
	return (dc);
}

static pthread_mutex_t dcache_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dcache *dcache_reg;

/* dcache_shared - the process's cache named id, created on first use */
struct dcache *
dcache_shared(const char *id, int ttl, size_t size)
{
	struct dcache *dc;

	pthread_mutex_lock(&dcache_reg_lock);
	for (dc = dcache_reg; dc; dc = dc->next)
		if (strcmp(dc->id, id) == 0 && dc->ttl == ttl)
			break;
	if (dc == NULL) {
		dc = dcache_create(ttl, size);
		dc->id = xstrdup(id);
		dc->next = dcache_reg;
		dcache_reg = dc;
	}
	dc->refs++;
	pthread_mutex_unlock(&dcache_reg_lock);
	return (dc);
}

/* dcache_find - slot holding key, or NULL (lock held) */
static struct dcache_ent *
dcache_find(struct dcache *dc, const char *key)
{
	size_t	 i;

	for (i = 0; i < dc->n; i++)
		if (dc->ent[i].key && strcasecmp(dc->ent[i].key, key) == 0)
			return (&dc->ent[i]);
	return (NULL);
}

/* dcache_fresh - entry stored within ttl of now (clock steps: stale) */
static int
dcache_fresh(const struct dcache *dc, const struct dcache_ent *e, time_t now)
{
	return (now >= e->stamp && now - e->stamp < dc->ttl);
}

/* dcache_get - 1/0 cached answer, -1 none or expired */
int
dcache_get(struct dcache *dc, const char *key, time_t now)
{
	struct dcache_ent *e;
	int	 r = -1;

	if (dc == NULL || dc->ttl <= 0 || key == NULL)
		return (-1);
	pthread_mutex_lock(&dc->lock);
	if ((e = dcache_find(dc, key)) != NULL && dcache_fresh(dc, e, now))
		r = e->hit;
	pthread_mutex_unlock(&dc->lock);
	return (r);
}

/* dcache_put - remember hit (0/1) for key; anything else forgets key */
void
dcache_put(struct dcache *dc, const char *key, int hit, time_t now)
{
	struct dcache_ent *e, *old;
	size_t	 i;

	if (dc == NULL || dc->ttl <= 0 || key == NULL)
		return;
	pthread_mutex_lock(&dc->lock);
	e = dcache_find(dc, key);
	if (hit != 0 && hit != 1) {
		if (e) {
			free(e->key);
			e->key = NULL;
		}
		pthread_mutex_unlock(&dc->lock);
		return;
	}
	if (strlen(key) > DCACHE_MAXKEY) {
		pthread_mutex_unlock(&dc->lock);
		return;
	}
	if (e == NULL) {
		old = &dc->ent[0];
		for (i = 0; i < dc->n; i++) {
			if (dc->ent[i].key == NULL) {
				old = &dc->ent[i];
				break;
			}
			if (dc->ent[i].stamp < old->stamp)
				old = &dc->ent[i];
		}
		e = old;
		free(e->key);
		e->key = xstrdup(key);
	}
	e->stamp = now;
	e->hit = hit;
	pthread_mutex_unlock(&dc->lock);
}

/* dcache_free - release the cache */
void
dcache_free(struct dcache *dc)
{
	size_t	 i;

	if (dc == NULL)
		return;
	if (dc->id) {
		struct dcache **pp;

		pthread_mutex_lock(&dcache_reg_lock);
		if (--dc->refs > 0) {
			pthread_mutex_unlock(&dcache_reg_lock);
			return;
		}
		for (pp = &dcache_reg; *pp; pp = &(*pp)->next)
			if (*pp == dc) {
				*pp = dc->next;
				break;
			}
		pthread_mutex_unlock(&dcache_reg_lock);
		free(dc->id);
	}
	for (i = 0; i < dc->n; i++)
		free(dc->ent[i].key);
	free(dc->ent);
	pthread_mutex_destroy(&dc->lock);
	free(dc);
}
