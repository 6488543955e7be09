/*
 * NAME
 *	fuzz_attr - libFuzzer target: the attribute-list IPC (lib/attr)
 * DESCRIPTION
 *	The input is what a peer daemon wrote on the socket: attr_parse()
 *	is called the way the readers call it, on the growing prefix
 *	first (it must say "incomplete" or parse), then on the whole data,
 *	list after list, until it reports incomplete or malformed. A
 *	parsed list is looked up by the names the daemons use and written
 *	back with attr_put(): that text must parse again to the same
 *	values (%-quoting round trip).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "buf.h"
#include "fuzz.h"

static const char *const names[] = {"version", "queue_id", "sender",
	"recipient", "nrcpt", "status", "reason", "offset", "flags", ""};

/* roundtrip - write l's known names and parse them again */
static void
roundtrip(const struct attr_list *l)
{
	struct buf *b = buf_new(0);
	struct attr_list *again;
	size_t	 i, used;
	char	 err[256];
	const char *v, *w;

	for (i = 0; i < sizeof(names) / sizeof(names[0]) - 1; i++)
		if ((v = attr_get(l, names[i])) != NULL)
			attr_put(b, names[i], v);
	attr_end(b);
	err[0] = 0;
	again = attr_parse(BUF_STR(b), BUF_LEN(b), &used, err, sizeof(err));
	if (again == NULL || used != BUF_LEN(b))
		abort();	/* our own output does not parse */
	for (i = 0; i < sizeof(names) / sizeof(names[0]) - 1; i++) {
		v = attr_get(l, names[i]);
		w = attr_get(again, names[i]);
		if ((v == NULL) != (w == NULL) || (v && strcmp(v, w) != 0))
			abort();	/* value changed on the way */
	}
	attr_list_free(again);
	buf_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct attr_list *l;
	char	*copy, err[256];
	size_t	 pos = 0, used;
	long	 n;

	if (!init) {
		fuzz_quiet();
		init = 1;
	}
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	/* A prefix: incomplete or a list, never beyond its length. */
	err[0] = 0;
	used = 0;
	l = attr_parse(copy, size / 2, &used, err, sizeof(err));
	if (used > size / 2)
		abort();
	attr_list_free(l);
	while (pos < size) {
		err[0] = 0;
		used = 0;
		l = attr_parse(copy + pos, size - pos, &used, err, sizeof(err));
		if (l == NULL)
			break;
		if (used == 0 || used > size - pos)
			abort();
		attr_get_long(l, "nrcpt", &n);
		attr_get_long(l, "offset", &n);
		roundtrip(l);
		attr_list_free(l);
		pos += used;
	}
	free(copy);
	return (0);
}
