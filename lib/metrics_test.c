/*
 * metrics_test - the shared counters: create, attach, count, format
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "metrics.h"
#include "tap.h"

/* has - the exposition holds this exact line */
static int
has(const struct buf *out, const char *line)
{
	const char *p = BUF_STR(out);
	size_t	 n = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == BUF_STR(out) || p[-1] == '\n') && p[n] == '\n')
			return (1);
		p += n;
	}
	return (0);
}

/* reply vectors for metrics_reject(): the series each one counts */
static const struct {
	const char *stage, *reply, *series;
} rejects[] = {
	{"RCPT", "550 5.1.1 <x@y>: Recipient address rejected",
	    "postern_smtpd_rejects_total{service=\"smtp\",stage=\"RCPT\","
	    "code=\"550\",status=\"5.1.1\"} 2"},
	{"RCPT", "550 5.1.1 <z@y>: Recipient address rejected", NULL},
	{"CONNECT", "554 5.7.1 Client host rejected",
	    "postern_smtpd_rejects_total{service=\"smtp\",stage=\"CONNECT\","
	    "code=\"554\",status=\"5.7.1\"} 1"},
	{"DATA", "552 5.3.4",
	    "postern_smtpd_rejects_total{service=\"smtp\",stage=\"DATA\","
	    "code=\"552\",status=\"5.3.4\"} 1"},
	{"HELO", "504 Helo command rejected",
	    "postern_smtpd_rejects_total{service=\"smtp\",stage=\"HELO\","
	    "code=\"504\",status=\"\"} 1"},
	{"MA\"IL", "450 4.7.1x odd",
	    "postern_smtpd_rejects_total{service=\"smtp\",stage=\"MA\\\"IL\","
	    "code=\"450\",status=\"\"} 1"},
};

int
main(void)
{
	char	 dir[] = "/tmp/metrics_test.XXXXXX", path[256], l[64], line[160];
	const struct metrics_shm *m;
	struct buf *out = buf_new(4096);
	struct stat st;
	char	 link[4096] = "";
	size_t	 i;
	pid_t	 pid;
	int	 status;

	if (mkdtemp(dir) == NULL)
		return (1);
	snprintf(path, sizeof(path), "%s/metrics", dir);

	/* Without the file every call is a no-op. */
	metrics_count("postern_deliveries_total", "status=\"sent\"");
	metrics_sessions(1);
	tap_ok(metrics_map_read(path) == NULL, "no file: nothing to read");

	tap_ok(metrics_create(path, (uid_t)-1, (gid_t)-1) == 0,
	    "metrics_create");
	tap_ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600
	    && st.st_size == sizeof(struct metrics_shm), "file 0600, sized");
	/* on tmpfs (no write-back, no page_mkwrite fault after a sync) */
	if (stat("/dev/shm", &st) == 0) {
		ssize_t	 n = readlink(path, link, sizeof(link) - 1);

		link[n > 0 ? n : 0] = 0;
		tap_ok(strncmp(link, "/dev/shm/postern-metrics.", 25) == 0
		    && strchr(link + 25, '/') == NULL,
		    "a link to /dev/shm/postern-metrics.<path> (%s)", link);
	}
	metrics_attach(path, "smtp", "smtpd");

	for (i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++)
		metrics_reject(rejects[i].stage, rejects[i].reply);
	metrics_service_count("postern_smtpd_connects_total", NULL);
	metrics_service_count("postern_smtpd_connects_total", NULL);
	metrics_service_count("postern_smtpd_sasl_authentications_total",
	    "result=\"failure\"");
	metrics_observe("postern_delivery_delay_seconds", "status=\"sent\"",
	    0.05);
	metrics_observe("postern_delivery_delay_seconds", "status=\"sent\"",
	    7);
	metrics_observe("postern_delivery_delay_seconds", "status=\"sent\"",
	    1e6);
	metrics_observe("no_such_family", "", 1);
	metrics_sessions(3);
	metrics_sessions(-1);
	metrics_queue_depth(5);

	/* A child process adds to the same counters. */
	if ((pid = fork()) == 0) {
		metrics_service_count("postern_smtpd_connects_total", NULL);
		_exit(0);
	}
	waitpid(pid, &status, 0);

	m = metrics_map_read(path);
	tap_ok(m != NULL, "the reader maps it");
	if (m == NULL)
		return (tap_done());
	metrics_format(out, m);
	for (i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++)
		if (rejects[i].series)
			tap_ok(has(out, rejects[i].series), "reject %s %s",
			    rejects[i].stage, rejects[i].reply);
	tap_ok(has(out, "postern_smtpd_connects_total{service=\"smtp\"} 3"),
	    "connects: 2 here + 1 from a child");
	tap_ok(has(out, "postern_smtpd_sasl_authentications_total{service="
	    "\"smtp\",result=\"failure\"} 1"), "labels after service");
	tap_ok(has(out, "postern_delivery_delay_seconds_bucket{status="
	    "\"sent\",le=\"0.1\"} 1"), "histogram: 0.05 in le=0.1");
	tap_ok(has(out, "postern_delivery_delay_seconds_bucket{status="
	    "\"sent\",le=\"5\"} 1")
	    && has(out, "postern_delivery_delay_seconds_bucket{status="
	    "\"sent\",le=\"10\"} 2"), "histogram buckets are cumulative");
	tap_ok(has(out, "postern_delivery_delay_seconds_bucket{status="
	    "\"sent\",le=\"86400\"} 2")
	    && has(out, "postern_delivery_delay_seconds_bucket{status="
	    "\"sent\",le=\"+Inf\"} 3")
	    && has(out, "postern_delivery_delay_seconds_count{status="
	    "\"sent\"} 3"), "beyond the last bucket: +Inf and count only");
	tap_ok(has(out, "postern_delivery_delay_seconds_sum{status="
	    "\"sent\"} 1000007.050000"), "histogram sum");
	/* whole lines: two loose strstr() calls could match two series */
	snprintf(line, sizeof(line), "postern_process_sessions{service="
	    "\"smtp\",program=\"smtpd\",pid=\"%d\"} 2", (int)getpid());
	tap_ok(has(out, line), "this process's sessions: 2");
	snprintf(line, sizeof(line), "postern_process_queue_depth{service="
	    "\"smtp\",program=\"smtpd\",pid=\"%d\"} 5", (int)getpid());
	tap_ok(has(out, line), "queue depth 5");
	tap_ok(has(out, "# TYPE postern_delivery_delay_seconds histogram")
	    && has(out, "# TYPE postern_smtpd_rejects_total counter"),
	    "TYPE lines");
	tap_ok(has(out, "postern_metrics_series_dropped_total 0"),
	    "nothing dropped");

	/* A full table drops and counts. */
	for (i = 0; i < METRICS_SERIES + 10; i++) {
		snprintf(l, sizeof(l), "n=\"%zu\"", i);
		metrics_count("postern_deliveries_total", l);
	}
	buf_reset(out);
	metrics_format(out, m);
	{
		/* the line must be there and count the ten extra series */
		const char *d = strstr(BUF_STR(out),
		    "\npostern_metrics_series_dropped_total ");
		unsigned long dropped = 0;
		int	 got = d != NULL && sscanf(d, "\npostern_metrics_"
		    "series_dropped_total %lu", &dropped) == 1;

		tap_ok(got && dropped >= 10,
		    "a full table counts what it drops (%lu)", dropped);
	}

	tap_is_str(metrics_label(l, sizeof(l), "a\"b\\c\nd\x01"),
	    "a\\\"b\\\\c\\nd", "label quoting");
	munmap((void *)m, sizeof(*m));
	unlink(path);
	if (link[0])
		unlink(link);
	rmdir(dir);
	buf_free(out);
	return (tap_done());
}
