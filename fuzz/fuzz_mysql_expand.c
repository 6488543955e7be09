/*
 * NAME
 *	fuzz_mysql_expand - libFuzzer target: mysql: query expansion
 * DESCRIPTION
 *	map_mysql_expand() turns the query (and result_format) template
 *	into SQL with the looked-up key: %s, %u, %d, %1..%9, %%, and the
 *	upper-case forms that take the key where the value is the row's
 *	result. It is static in maps/map_mysql.c, so that file is compiled
 *	into this target (and the maps library's copy is not linked).
 *	The input is template NUL key NUL value: a template that
 *	map_mysql_open() would refuse (map_mysql_check_fmt()) is skipped,
 *	as the daemon never expands it; the key and value are anything a
 *	client can send. The expansion runs without a server (no quoting)
 *	and with a connection handle that was never connected (the
 *	mysql_real_escape_string() path, as a lookup quotes the key).
 */
#include "../maps/map_mysql.c"

#include <stdint.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static MYSQL *db;
	struct buf *out;
	char	*fmt, *key, *value;

	if (db == NULL) {
		fuzz_quiet();
		db = mysql_init(NULL);
	}
	fmt = fuzz_field(&data, &size);
	key = fuzz_field(&data, &size);
	value = fuzz_field(&data, &size);
	out = buf_new(0);
	if (map_mysql_check_fmt(fmt, "sud123456789") == 0) {
		map_mysql_expand(NULL, out, fmt, key, NULL);
		buf_reset(out);
		map_mysql_expand(db, out, fmt, key, NULL);
	}
	buf_reset(out);
	if (map_mysql_check_fmt(fmt, "sudSUD123456789") == 0)
		map_mysql_expand(NULL, out, fmt, value, key);
	buf_free(out);
	free(fmt);
	free(key);
	free(value);
	return (0);
}
