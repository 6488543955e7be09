/*
 * NAME
 *	fuzz_mastercf - libFuzzer target: master.cf (lib/mastercf)
 * DESCRIPTION
 *	The input is a master.cf. mastercf_load() parses it (eight fields,
 *	'-' defaults, wakeup '?', continuation lines, "{ ... }" arguments,
 *	-o options); every service it keeps is formatted as "postconf -M"
 *	prints it, looked up by name and type, and the values of its -o
 *	options are expanded as the child expands them. (mastercf_apply()
 *	is left out: it only calls conf_set(), and its overrides would
 *	carry over from one input to the next.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"
#include "mastercf.h"
#include "str.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct mastercf *m;
	char	 err[512], *line, *x;
	size_t	 i, j;

	if (!init) {
		fuzz_quiet();
		init = 1;
	}
	if ((m = mastercf_load(fuzz_file("master.cf", data, size), err,
	    sizeof(err))) == NULL)
		return (0);
	for (i = 0; i < m->nsvc; i++) {
		const struct mastercf_service *s = &m->svc[i];

		line = mastercf_format(s);
		free(line);
		if (mastercf_find(m, s->name, s->type) == NULL)
			abort();	/* a kept service cannot be found */
		for (j = 0; s->options && j < s->options->argc; j++) {
			const char *eq = strchr(s->options->argv[j], '=');

			x = conf_expand(eq ? eq + 1 : "");
			free(x);
		}
	}
	mastercf_free(m);
	return (0);
}
