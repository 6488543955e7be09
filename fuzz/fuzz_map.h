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
