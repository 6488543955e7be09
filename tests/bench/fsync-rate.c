/*
 * NAME
 *	fsync-rate - the machine's own bound for durable 1 KB files
 * SYNOPSIS
 *	fsync-rate [-n files] [-b batch] [-s size] dir
 * DESCRIPTION
 *	Creates -n files (default 2000) of -s bytes (default 1024) in dir,
 *	one at a time from one thread (open O_CREAT|O_EXCL, write, close):
 *	with -b 1 (the default) each file is fsync'd before the next is
 *	created (single stream); with -b B, B files are written and then
 *	one syncfs(2) on dir's file system makes the batch durable. The
 *	files are unlinked afterwards (not timed). Prints
 *	"fsync-rate: N files of S bytes, batch B: R files/s (T s)".
 *	Not a test: make bench runs it beside the MTAs, in the same
 *	directory's file system as their queues and Maildirs.
 * DIAGNOSTICS
 *	Exit 1 on a usage or system call error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static void
die(const char *what, const char *path)
{
	fprintf(stderr, "fsync-rate: %s %s: %s\n", what, path,
	    strerror(errno));
	exit(1);
}

int
main(int argc, char **argv)
{
	long	 n = 2000, batch = 1, size = 1024, i;
	char	 path[4096], *buf;
	double	 t0, dt;
	int	 c, dfd;

	while ((c = getopt(argc, argv, "b:n:s:")) != -1) {
		switch (c) {
		case 'b': batch = atol(optarg); break;
		case 'n': n = atol(optarg); break;
		case 's': size = atol(optarg); break;
		default: return (1);
		}
	}
	if (optind != argc - 1 || n <= 0 || batch <= 0 || size <= 0) {
		fprintf(stderr, "usage: fsync-rate [-n files] [-b batch]"
		    " [-s size] dir\n");
		return (1);
	}
	if ((dfd = open(argv[optind], O_RDONLY | O_DIRECTORY)) < 0)
		die("open", argv[optind]);
	if ((buf = malloc((size_t)size)) == NULL)
		return (1);
	memset(buf, 'x', (size_t)size);
	t0 = now();
	for (i = 0; i < n; i++) {
		int	 fd;

		snprintf(path, sizeof(path), "f.%ld", i);
		if ((fd = openat(dfd, path, O_WRONLY | O_CREAT | O_EXCL,
		    0600)) < 0)
			die("create", path);
		if (write(fd, buf, (size_t)size) != size)
			die("write", path);
		if (batch == 1 && fsync(fd) < 0)
			die("fsync", path);
		if (close(fd) < 0)
			die("close", path);
		if (batch > 1 && ((i + 1) % batch == 0 || i == n - 1)
		    && syncfs(dfd) < 0)
			die("syncfs", argv[optind]);
	}
	dt = now() - t0;
	printf("fsync-rate: %ld files of %ld bytes, batch %ld: %.0f files/s"
	    " (%.2f s)\n", n, size, batch, n / dt, dt);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "f.%ld", i);
		(void)unlinkat(dfd, path, 0);
	}
	return (0);
}
