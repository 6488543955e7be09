/*
 * NAME
 *	map_thread_test - handles in worker threads (one per thread), as
 *	the daemons' worker pools use them, while the table is rebuilt
 *	and a shared memory: table is updated. Also run by hand under
 *	-fsanitize=thread (no races reported in maps/).
 */
#include <pthread.h>

#include "map_lmdb.h"
#include "map_testutil.h"

#define NTHREADS	4

struct worker {
	pthread_t tid;
	const char *spec;
	int	*stop;
	long	 found, other, lookups;
};

/* worker_run - look keys up until told to stop */
static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct map *m = map_open(w->spec, 0);
	struct map *mem = map_open("memory:shared", 0);
	char	*v;
	int	 r;

	while (!__atomic_load_n(w->stop, __ATOMIC_ACQUIRE)) {
		r = map_lookup(m, "key77", &v);
		if (r == MAP_FOUND && (strcmp(v, "one") == 0
		    || strcmp(v, "two") == 0))
			w->found++;
		else
			w->other++;
		free(v);
		r = map_lookup(mem, "k", &v);
		if (r != MAP_FOUND)
			w->other++;
		free(v);
		w->lookups++;
	}
	map_close(mem);
	map_close(m);
	return (NULL);
}

/* build - write the table with every value set to val */
static void
build(const char *file, const char *val)
{
	struct strv *k = strv_new(), *v = strv_new();
	char	 err[512], key[32];
	int	 i;

	for (i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "key%d", i);
		strv_add(k, key);
		strv_add(v, val);
	}
	if (map_lmdb_write(file, k, v, err, sizeof(err)) < 0)
		fprintf(stderr, "%s\n", err);
	strv_free(k);
	strv_free(v);
}

int
main(void)
{
	char	*dir = tu_dir(), *file = xasprintf("%s/t", dir);
	char	*spec = xasprintf("lmdb:%s", file);
	struct worker w[NTHREADS];
	int	 stop = 0;
	struct map *mem = map_open("memory:shared", 0);
	long	 found = 0, other = 0;
	int	 i;

	log_init("map_thread_test", 0);
	map_update(mem, "k", "v");
	build(file, "one");
	for (i = 0; i < NTHREADS; i++) {
		w[i].spec = spec;
		w[i].stop = &stop;
		w[i].found = w[i].other = w[i].lookups = 0;
		pthread_create(&w[i].tid, NULL, worker_run, &w[i]);
	}
	for (i = 0; i < 6; i++) {
		usleep(400000);
		build(file, i % 2 ? "one" : "two");
		map_update(mem, "k", i % 2 ? "v" : "w");
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(w[i].tid, NULL);
		found += w[i].found;
		other += w[i].other;
		tap_ok(w[i].lookups > 100, "thread %d did lookups (%ld)", i,
		    w[i].lookups);
	}
	tap_ok(found > 0, "lookups found the key (%ld)", found);
	tap_is_int(other, 0, "no lookup missed or saw a torn value");
	map_close(mem);
	free(spec);
	free(file);
	tu_rmdir(dir);
	free(dir);
	return (tap_done());
}
