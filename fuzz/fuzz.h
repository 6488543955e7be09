/*
 * NAME
 *	fuzz - what every libFuzzer target in fuzz/ shares
 * SYNOPSIS
 *	#include "fuzz.h"
 *
 *	void	fuzz_quiet(void);
 *	char	*fuzz_str(const uint8_t *data, size_t size);
 *	char	*fuzz_field(const uint8_t **data, size_t *size);
 *	const char *fuzz_file(const char *name, const uint8_t *data,
 *	    size_t size);
 * DESCRIPTION
 *	fuzz_quiet() sends log lines nowhere (a hook that drops them), so
 *	a warning per input costs nothing; call it from
 *	LLVMFuzzerInitialize() or the first input.
 *
 *	fuzz_str() is a NUL-terminated copy of the input (caller frees):
 *	for parsers that take C strings, an embedded NUL simply ends the
 *	string, as it would after the daemon's own read.
 *
 *	fuzz_field() cuts the next field off the input at a NUL byte (or
 *	the end): targets that need several strings (a format and a key)
 *	take them from one input that way. Caller frees.
 *
 *	fuzz_file() writes the input to a file of that name in a private
 *	directory under /dev/shm (made once per process, removed at exit)
 *	and returns its path: for the readers that take a path (main.cf,
 *	master.cf, map files, queue files).
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

void	 fuzz_quiet(void);
char	*fuzz_str(const uint8_t *, size_t);
char	*fuzz_field(const uint8_t **, size_t *);
const char *fuzz_file(const char *, const uint8_t *, size_t);
const char *fuzz_dir(void);

#endif
