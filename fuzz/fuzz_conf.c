/*
 * NAME
 *	fuzz_conf - libFuzzer target: main.cf (lib/conf)
 * DESCRIPTION
 *	The input is a main.cf. conf_load() reads it (logical lines,
 *	comments, continuations, "name = value"); then every explicit
 *	parameter is read the way the daemons read them: raw, expanded
 *	($name, ${name}, $(name), ${name?x}, ${name:x}, with the loops a
 *	hostile file can build), as a list, as a number, time and boolean
 *	where the name is one (parsed as the typed tables parse them:
 *	conf_int() is fatal on a bad number by design), and, for one
 *	input in 8, conf_check() runs what "postern check" reports and
 *	mynetworks is computed.
 *	Each input is loaded over the last one, the way a
 *	reload reads main.cf again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"
#include "str.h"

/* each - read one parameter every way */
static void
each(const char *name, const char *value, void *ctx)
{
	struct strv *l;
	char	*x, err[256];

	(void)value;
	(void)ctx;
	conf_raw(name);
	if ((x = conf_expand(conf_raw(name) ? conf_raw(name) : "")) != NULL)
		free(x);
	conf_str(name);
	l = conf_list(name);
	strv_free(l);
	conf_macro_check(conf_raw(name) ? conf_raw(name) : "", err,
	    sizeof(err));
}

/* warn - conf_check()'s messages, dropped */
static void
warn(const char *message, void *ctx)
{
	(void)message;
	(void)ctx;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	static unsigned count;
	char	 err[512];
	struct strv *l;
	long	 n;
	int	 b;

	if (!init) {
		fuzz_quiet();
		init = 1;
	}
	/* conf_load() replaces what the last main.cf set, as master's
	 * reload does; a full conf_reset() (every known parameter made
	 * again) costs 2 ms, so it is done every 256 inputs only, to
	 * bound the names hostile files leave behind. Names without a
	 * value expand as if absent, so no input depends on another. */
	if (++count % 256 == 0)
		conf_reset();
	fuzz_file("main.cf", data, size);
	if (conf_load(fuzz_dir(), err, sizeof(err)) < 0)
		return (0);
	conf_walk(CONF_EXPLICIT, each, NULL);
	/* conf_check() sorts and cross-references every known parameter
	 * (1 ms), mynetworks' default lists the interfaces: one input in
	 * 8, chosen by its length, gets them. */
	if (size % 8 == 0) {
		conf_check(warn, NULL);
		l = conf_mynetworks();
		strv_free(l);
	}
	/* conf_int() and friends are fatal on a bad number (a config
	 * error stops the daemon): parse as the typed tables do. */
	str_parse_long(conf_str("message_size_limit"), &n);
	str_parse_time(conf_str("smtpd_timeout"), 's', &n);
	str_parse_bool(conf_str("smtpd_helo_required"), &b);
	return (0);
}
