/*
 * NAME
 *	metrics - counters every daemon shares with the metrics service
 * SYNOPSIS
 *	#include "metrics.h"
 *
 *	int	metrics_create(const char *path, uid_t uid, gid_t gid);
 *	void	metrics_attach(const char *path, const char *service,
 *	    const char *program);
 *	void	metrics_count(const char *family, const char *labels);
 *	void	metrics_service_count(const char *family, const char *fmt, ...);
 *	void	metrics_reject(const char *stage, const char *reply);
 *	void	metrics_observe(const char *family, const char *labels,
 *	    double seconds);
 *	void	metrics_sessions(long delta);
 *	void	metrics_queue_depth(long delta);
 *	const struct metrics_shm *metrics_map_read(const char *path);
 *	void	metrics_format(struct buf *out, const struct metrics_shm *m);
 * DESCRIPTION
 *	One shared file, $data_directory/metrics, mapped MAP_SHARED by
 *	every daemon: counters are added with atomic instructions, so
 *	smtpd, qmgr, the delivery agents and the map library count without
 *	a message to anybody, and the metrics service (metrics/metrics.c)
 *	reads the same pages when Prometheus scrapes it.
 *
 *	master creates the file at start (metrics_create(): zeroed, owned
 *	by mail_owner, mode 0600): counters start at 0 with each master,
 *	as a Prometheus counter may. The path is a symbolic link to
 *	/dev/shm/postern-metrics.<path, '/' as '%'> (tmpfs: a disk file's
 *	shared page is written back by every syncfs of its file system,
 *	smtpd's group commit, and faults on the next add); a regular file
 *	where there is no /dev/shm. metrics_create() removes the /dev/shm
 *	files older than a minute that no path links to any more. A daemon calls metrics_attach() once
 *	(lib/server.c does it for every daemon); without the file (a
 *	daemon run alone, an unwritable data_directory) every call here
 *	does nothing.
 *
 *	metrics_count() adds one to the counter FAMILY{LABELS} (labels in
 *	Prometheus form, 'service="smtp",result="success"'; the caller
 *	quotes values with metrics_label()); FAMILY is a string constant
 *	(each thread remembers its last few series by the family's address
 *	and the labels, so a repeated count skips the table search).
 *	metrics_observe() adds one
 *	observation to the histogram FAMILY{LABELS}; its buckets come from
 *	the family (delay: 0.1 s to 1 day; latency: 0.5 ms to 1 s). The
 *	table holds METRICS_SERIES counters and METRICS_HISTS histograms;
 *	once full, new series are dropped and counted in
 *	postern_metrics_series_dropped_total.
 *
 *	metrics_sessions() and metrics_queue_depth() move this process's
 *	gauges (sessions held; jobs waiting in its worker pools): each
 *	process has a slot, freed when it exits, and a slot whose process
 *	is gone is skipped by the reader and reused.
 *
 *	metrics_format() writes the Prometheus text format (0.0.4) of a
 *	mapping: HELP and TYPE once per family, the series in table order.
 * BUGS
 *	A counter series is created on first use; two processes that
 *	create the same series at once may each get a slot, and the
 *	reader adds them up.
 */
#ifndef POSTERN_METRICS_H
#define POSTERN_METRICS_H

#include <sys/types.h>
#include <stdint.h>

#include "buf.h"

#define METRICS_MAGIC	0x706d7472u	/* "pmtr" */
#define METRICS_VERSION	2	/* 2: slots on cache lines of their own */
#define METRICS_SERIES	1024
#define METRICS_HISTS	128
#define METRICS_PROCS	512
#define METRICS_NAME	48
#define METRICS_LABELS	160
#define METRICS_BUCKETS	12

/*
 * Every series and process slot starts a 64-byte cache line: a counter
 * one process adds to (smtpd's, qmgr's queue depth) shares no line with
 * another process's, so an add does not pull the line from the other
 * core each time (false sharing).
 */
struct metrics_series {
	uint32_t state;			/* 0 free, 1 claimed, 2 ready */
	char	 family[METRICS_NAME];
	char	 labels[METRICS_LABELS];
	uint64_t value;
} __attribute__((aligned(64)));

struct metrics_hist {
	uint32_t state;
	char	 family[METRICS_NAME];
	char	 labels[METRICS_LABELS];
	uint64_t bucket[METRICS_BUCKETS];	/* not cumulative */
	uint64_t count;
	uint64_t sum_us;
};

struct metrics_proc {
	int32_t	 pid;			/* 0 = free */
	char	 service[32];
	char	 program[16];
	int64_t	 sessions;
	int64_t	 queue_depth;
} __attribute__((aligned(64)));

struct metrics_shm {
	uint32_t magic;
	uint32_t version;
	int64_t	 start_time;
	uint64_t dropped;
	struct metrics_series series[METRICS_SERIES];
	struct metrics_hist hist[METRICS_HISTS];
	struct metrics_proc proc[METRICS_PROCS];
};

int	 metrics_create(const char *, uid_t, gid_t);
void	 metrics_attach(const char *, const char *, const char *);
void	 metrics_count(const char *, const char *);
void	 metrics_service_count(const char *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 metrics_reject(const char *, const char *);
void	 metrics_observe(const char *, const char *, double);
void	 metrics_sessions(long);
void	 metrics_queue_depth(long);
const char *metrics_label(char *, size_t, const char *);
const struct metrics_shm *metrics_map_read(const char *);
void	 metrics_format(struct buf *, const struct metrics_shm *);

#endif
