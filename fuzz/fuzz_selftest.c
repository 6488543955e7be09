/*
 * NAME
 *	fuzz_selftest - a target with a planted bug (tests/90-fuzz.t)
 * DESCRIPTION
 *	An input that starts with "crash" reads one byte past a heap
 *	block: tests/90-fuzz.t feeds it to fuzz/run.sh to prove that a
 *	crash fails the run and leaves the input in build/fuzz/crashes/.
 *	It is not one of make fuzz's targets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*p;
	volatile char c;

	if (size < 5 || memcmp(data, "crash", 5) != 0)
		return (0);
	p = malloc(size);
	memcpy(p, data, size);
	c = p[size];		/* the planted heap overflow */
	(void)c;
	free(p);
	return (0);
}
