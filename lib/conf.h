/*
 * NAME
 *	conf - main.cf parameters: parsing, defaults, overrides, expansion
 * SYNOPSIS
 *	#include "conf.h"
 *
 *	int	conf_load(const char *config_dir, char *err, size_t errlen);
 *	void	conf_set(const char *name, const char *value);
 *	int	conf_set_option(const char *name_eq_value);
 *	const char *conf_raw(const char *name);
 *	const char *conf_str(const char *name);
 *	long	conf_int(const char *name);
 *	long	conf_time(const char *name);
 *	int	conf_bool(const char *name);
 *	struct strv *conf_list(const char *name);
 *	struct strv *conf_split(const char *text);
 *	char	*conf_expand(const char *text);
 *	const char *conf_default(const char *name);
 *	int	conf_known(const char *name);
 *	void	conf_walk(int which, conf_walk_fn *fn, void *ctx);
 *	void	conf_check(conf_warn_fn *fn, void *ctx);
 *
 *	void	conf_reset(void);
 *	void	conf_register(const char *name);
 *	const char *conf_file_value(const char *name, int *line);
 *	const char *conf_config_dir(void);
 *	struct strv *conf_refs(const char *text, int with_conditional);
 *	char	*conf_normalize(const char *text);
 *	int	conf_macro_check(const char *text, char *err, size_t errlen);
 *	struct strv *conf_mynetworks(void);
 *	struct strv *conf_netlist(const char *name);
 *	void	conf_logical_lines(const char *path, const char *text,
 *	    size_t len, conf_line_fn *fn, void *ctx);
 *	char	*conf_read_file(const char *path, size_t *len, char *err,
 *	    size_t errlen);
 * DESCRIPTION
 *	conf_load() reads config_dir/main.cf in Postfix syntax: "name =
 *	value" lines, '#' comments (only at the start of a line, after
 *	optional whitespace), continuation lines that start with
 *	whitespace (an indented '#' line inside a continued value is a
 *	comment and is skipped, as Postfix does), later definitions win.
 *	config_directory is set to config_dir. The previous state is
 *	replaced (reload).
 *
 *	Values are stored raw and expanded lazily on use: $name, ${name},
 *	${name?value} (value if name is non-empty), ${name:value} (value
 *	if name is empty), and $$ for a literal dollar. A name without a
 *	definition takes its built-in default (lib/params.c: Postfix's
 *	defaults for every parameter postern uses). conf_set() installs an
 *	override (-o name=value) that wins over main.cf; conf_set_option()
 *	parses "name=value" and returns -1 if there is no '='.
 *
 *	conf_str() returns the expanded value, or "" for an unknown name
 *	(tests/02-param-names.t fails on a literal name in the code that
 *	lib/params.c does not know);
 *	the pointer stays valid until the next conf_load()/conf_set().
 *	Every function takes one internal lock, so worker threads may
 *	read parameters; daemons still copy what they need at start-up,
 *	through a typed table with minimums and maximums (conf_table.h),
 *	and must not conf_set() while other threads hold pointers.
 *	conf_int/time/bool log a fatal error on a malformed value, naming
 *	the parameter.
 *	conf_list() splits on commas and whitespace (caller frees); as in
 *	Postfix, a {...} group stays one element with its braces, so
 *	"check_sender_access inline:{ a=REJECT, b=OK }" gives two.
 *	conf_split() does the same to any text.
 *
 *	conf_walk() calls fn(name, raw_value, ctx) in name order for the
 *	explicitly set parameters (CONF_EXPLICIT, "postconf -n") or for
 *	all known parameters with their defaults (CONF_DEFAULTS,
 *	"postconf -d"), or both merged (CONF_ALL, "postconf"). With
 *	CONF_EXPLICIT | CONF_USED it leaves out the parameters conf_check()
 *	calls unused, as Postfix's postconf -n does (call it after the
 *	names master.cf uses are registered).
 *
 *	conf_check() reports what Postfix reports: a parameter set in
 *	main.cf that no postern program knows ("unused parameter"), a
 *	$name reference (also ${name?...}) that is not defined anywhere
 *	("undefined parameter"), once each, and malformed $ syntax,
 *	through fn.
 *
 *	conf_raw() returns the unexpanded value (override, else main.cf,
 *	else default), NULL when the name is defined nowhere.
 *	Overrides survive conf_load() (they are the process's -o
 *	arguments); conf_reset() forgets everything (tests).
 *	conf_register() makes a name known at run time (Postfix's
 *	dynamic names such as <service>_destination_recipient_limit).
 *	conf_file_value() is the main.cf text of a name (NULL if main.cf
 *	does not set it) and its first line number. conf_refs() lists the
 *	names text refers to as $name/${name}/$(name) (and, if asked, the
 *	tests of ${name?..} and ${name:..}); caller frees.
 *	conf_normalize() collapses whitespace runs to single spaces, as
 *	postconf prints values (caller frees). conf_macro_check() returns
 *	-1 with a reason when text has a malformed $ reference ("x$",
 *	"${b", "${a?{x} junk}"): Postfix refuses such values; postern
 *	keeps the text as written and conf_check() reports it.
 *
 *	conf_mynetworks() returns the effective mynetworks list (caller
 *	frees): main.cf's value if set, otherwise computed from
 *	mynetworks_style: "host" (default): this machine's addresses
 *	(a.b.c.d/32, [v6]/128) plus 127.0.0.0/8 and [::1]/128; "subnet":
 *	the networks of its interfaces; "class": the classful IPv4 network
 *	(IPv6 as subnet). Elements may be CIDRs, [v6]/len, or type:table.
 *	conf_netlist() is a list parameter whose default is $mynetworks
 *	(smtpd_client_event_limit_exceptions, ..._bare_newline_exclusions):
 *	conf_mynetworks() when it is unset or exactly "$mynetworks", else
 *	its own list.
 *
 *	conf_logical_lines() splits a file image the way Postfix's
 *	readlline() does (main.cf, master.cf, map files): it calls
 *	fn(path, first_line_number, text, len, ctx) once per logical line
 *	(continuations joined without their newline; blank and '#' lines
 *	skipped anywhere; text is NUL-terminated and may contain NULs).
 *	Indented text that continues nothing is ignored with a warning.
 *	conf_read_file() returns a file's bytes (NUL-terminated, NULs
 *	kept, caller frees) and their count in *len, for
 *	conf_logical_lines().
 * DIAGNOSTICS
 *	conf_load() returns -1 with a message in err if main.cf cannot
 *	be read; a syntax error on one line is a warning naming
 *	file:line, and the rest of the file still loads.
 *	conf_read_file() returns NULL with "open PATH: reason" or "read
 *	PATH: reason" in err.
 */
#ifndef CONF_H
#define CONF_H

#include <stddef.h>

#include "str.h"

#define CONF_EXPLICIT	1
#define CONF_DEFAULTS	2
#define CONF_ALL	3
#define CONF_USED	4	/* with CONF_EXPLICIT: not the unused ones */

typedef void conf_walk_fn(const char *name, const char *value, void *ctx);
typedef void conf_warn_fn(const char *message, void *ctx);
typedef void conf_line_fn(const char *path, int lineno, char *text,
	    size_t len, void *ctx);

int	 conf_load(const char *, char *, size_t);
void	 conf_set(const char *, const char *);
int	 conf_set_option(const char *);
const char *conf_raw(const char *);
const char *conf_str(const char *);
long	 conf_int(const char *);
long	 conf_time(const char *);
int	 conf_bool(const char *);
struct strv *conf_list(const char *);
struct strv *conf_split(const char *);
char	*conf_expand(const char *);
const char *conf_default(const char *);
int	 conf_known(const char *);
void	 conf_walk(int, conf_walk_fn *, void *);
void	 conf_check(conf_warn_fn *, void *);

void	 conf_reset(void);
void	 conf_register(const char *);
const char *conf_file_value(const char *, int *);
const char *conf_config_dir(void);
struct strv *conf_refs(const char *, int);
char	*conf_normalize(const char *);
int	 conf_macro_check(const char *, char *, size_t);
struct strv *conf_mynetworks(void);
struct strv *conf_netlist(const char *);
void	 conf_logical_lines(const char *, const char *, size_t,
	    conf_line_fn *, void *);
char	*conf_read_file(const char *, size_t *, char *, size_t);

#endif
