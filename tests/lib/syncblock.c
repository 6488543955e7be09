/*
 * NAME
 *	syncblock - LD_PRELOAD shim that holds syncfs/fsync/fdatasync
 * SYNOPSIS
 *	SYNCBLOCK_DIR=DIR LD_PRELOAD=".../syncblock.so" program ...
 *	(ASan build: LD_PRELOAD="libasan.so.N .../syncblock.so")
 * DESCRIPTION
 *	tests/63-sync-order.t uses it to stop smtpd between writing a
 *	queue file and making it durable. Without SYNCBLOCK_DIR in the
 *	environment every call goes straight to the C library.
 *
 *	With it, every call of syncfs(2), fsync(2) and fdatasync(2)
 *	appends "NAME PID" to DIR/calls. If DIR/block exists at that
 *	moment, the call also appends "NAME PID" to DIR/held and waits
 *	(polling every 10 ms) until DIR/block is removed; then it appends
 *	"NAME PID" to DIR/released and calls the real function. The thread
 *	that called it is held; the rest of the process runs on.
 *
 *	Built without sanitizers (tests/mod.mk): preloaded after libasan,
 *	the ASan runtime still comes first in the library list, as it
 *	demands, and this library's own calls need no instrumentation.
 * DIAGNOSTICS
 *	The real function's result and errno. If the real symbol cannot
 *	be found, -1 with ENOSYS.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int fd_fn(int);

/* note - append "NAME PID" to DIR/file (best effort) */
static void
note(const char *dir, const char *file, const char *name)
{
	char	 path[4096], line[64];
	int	 fd, n;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file)
	    >= sizeof(path))
		return;
	n = snprintf(line, sizeof(line), "%s %ld\n", name, (long)getpid());
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0666)) < 0)
		return;
	if (write(fd, line, (size_t)n) < 0)
		n = 0;
	close(fd);
}

/* hold - the common part: log, and wait while DIR/block exists */
static void
hold(const char *name)
{
	const char *dir = getenv("SYNCBLOCK_DIR");
	char	 block[4096];
	struct timespec ts = {0, 10 * 1000 * 1000};
	int	 saved = errno;

	if (dir == NULL || *dir == 0)
		return;
	note(dir, "calls", name);
	if ((size_t)snprintf(block, sizeof(block), "%s/block", dir)
	    >= sizeof(block))
		return;
	if (access(block, F_OK) == 0) {
		note(dir, "held", name);
		while (access(block, F_OK) == 0)
			nanosleep(&ts, NULL);
		note(dir, "released", name);
	}
	errno = saved;
}

/* call_real - the C library's function of that name */
static int
call_real(const char *name, int fd)
{
	fd_fn	*real = (fd_fn *)dlsym(RTLD_NEXT, name);

	if (real == NULL) {
		errno = ENOSYS;
		return (-1);
	}
	return (real(fd));
}

/* syncfs - held while DIR/block exists */
int
syncfs(int fd)
{
	hold("syncfs");
	return (call_real("syncfs", fd));
}

/* fsync - held while DIR/block exists */
int
fsync(int fd)
{
	hold("fsync");
	return (call_real("fsync", fd));
}

/* fdatasync - held while DIR/block exists */
int
fdatasync(int fd)
{
	hold("fdatasync");
	return (call_real("fdatasync", fd));
}
