/*
 * NAME
 *	fuzz - helpers of the fuzz targets (see fuzz.h)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"
#include "xalloc.h"

static char fuzz_tmp[PATH_MAX];

/* drop - the log hook that keeps nothing */
static void
drop(int level, const char *text, void *ctx)
{
	(void)level;
	(void)text;
	(void)ctx;
}

/* fuzz_quiet - no log output at all */
void
fuzz_quiet(void)
{
	log_init("fuzz", 0);
	log_set_hook(drop, NULL);
}

/* fuzz_str - NUL-terminated copy */
char *
fuzz_str(const uint8_t *data, size_t size)
{
	char	*s = xmalloc(size + 1);

	memcpy(s, data, size);
	s[size] = 0;
	return (s);
}

/* fuzz_field - the next NUL-separated field */
char *
fuzz_field(const uint8_t **data, size_t *size)
{
	const uint8_t *nul = memchr(*data, 0, *size);
	size_t	 n = nul ? (size_t)(nul - *data) : *size;
	char	*s = fuzz_str(*data, n);

	*data += nul ? n + 1 : n;
	*size -= nul ? n + 1 : n;
	return (s);
}

/* fuzz_cleanup - remove the private directory at exit */
static void
fuzz_cleanup(void)
{
	char	 cmd[PATH_MAX + 16];

	if (fuzz_tmp[0] == 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fuzz_tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz: cannot remove %s\n", fuzz_tmp);
}

/* fuzz_dir - the private directory, made on first use */
const char *
fuzz_dir(void)
{
	if (fuzz_tmp[0] == 0) {
		snprintf(fuzz_tmp, sizeof(fuzz_tmp), "/dev/shm/postern-fuzz.XXXXXX");
		if (mkdtemp(fuzz_tmp) == NULL) {
			snprintf(fuzz_tmp, sizeof(fuzz_tmp),
			    "/tmp/postern-fuzz.XXXXXX");
			if (mkdtemp(fuzz_tmp) == NULL) {
				perror("mkdtemp");
				abort();
			}
		}
		atexit(fuzz_cleanup);
	}
	return (fuzz_tmp);
}

/* fuzz_file - the input as a file; returns its path */
const char *
fuzz_file(const char *name, const uint8_t *data, size_t size)
{
	static char path[PATH_MAX];
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0
	    || (size > 0 && write(fd, data, size) != (ssize_t)size)
	    || close(fd) < 0) {
		perror(path);
		abort();
	}
	return (path);
}
