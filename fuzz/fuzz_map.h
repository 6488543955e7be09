/*
 * NAME
 *	fuzz_map - the body of the map-file targets (cidr, regexp, pcre,
 *	texthash)
 * DESCRIPTION
 *	Each fuzz_map_TYPE.c defines FUZZ_MAP_TYPE and includes this file.
 *	The input is a table file, then lookup keys, separated by NUL
 *	bytes. The table is written to a file and opened as TYPE:file
 *	exactly as a daemon opens it (malformed lines are warned about
 *	and skipped); each key is looked up (and, for regexp/pcre, the
 *	$n substitutions of a matching rule expanded). A FOUND result
 *	must come with a value, NOTFOUND and RETRY without one.
 *
 *	FUZZ_MAP_REGCOMP (regexp:) skips tables with more than 12
 *	repetition operators or 2 bounds: see below.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "map.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct map *m;
	char	*table, *key, *value, spec[4200];
	int	 rc, n;

	if (!init) {
		fuzz_quiet();
		init = 1;
	}
	table = fuzz_field(&data, &size);
#ifdef FUZZ_MAP_REGCOMP
	/* glibc's regcomp() copies the tree for each repetition operator
	 * ("e+" is "ee*"), so "e++++...+" (40 of them) takes it minutes
	 * and memory without end: a property of the C library on a
	 * table only the administrator writes (Postfix calls the same
	 * regcomp()). Tables with many operators are left out, so the
	 * fuzzer spends its time on postern's own line parsing. */
	{
		size_t	 reps = 0, braces = 0;
		const char *cp;

		for (cp = table; *cp; cp++) {
			reps += (*cp == '+' || *cp == '*' || *cp == '?');
			braces += (*cp == '{');
		}
		if (reps > 12 || braces > 2) {
			free(table);
			return (0);
		}
	}
#endif
	snprintf(spec, sizeof(spec), "%s:%s", FUZZ_MAP_TYPE,
	    fuzz_file("table", (const uint8_t *)table, strlen(table)));
	free(table);
	m = map_open(spec, 0);
	for (n = 0; n < 8 && (size > 0 || n == 0); n++) {
		key = fuzz_field(&data, &size);
		value = NULL;
		rc = map_lookup(m, key, &value);
		if ((rc == MAP_FOUND) != (value != NULL))
			abort();
		free(value);
		free(key);
	}
	map_error(m);
	map_close(m);
	return (0);
}
