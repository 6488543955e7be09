/*
 * NAME
 *	mastercf - master.cf service table
 * SYNOPSIS
 *	#include "mastercf.h"
 *
 *	struct mastercf *mastercf_load(const char *path, char *err,
 *	    size_t errlen);
 *	void	mastercf_free(struct mastercf *m);
 *	const struct mastercf_service *mastercf_find(const struct mastercf *m,
 *	    const char *service, const char *type);
 *	char	*mastercf_format(const struct mastercf_service *s);
 *	void	mastercf_apply(const struct mastercf_service *s);
 * DESCRIPTION
 *	Parses master(5): eight fields (service, type, private, unpriv,
 *	chroot, wakeup, maxproc, command + args), '#' comments,
 *	continuation lines starting with whitespace, '-' for a field's
 *	default (private=y, unpriv=y, chroot=n as in Postfix >= 3.0,
 *	wakeup=0, maxproc=
 *	$default_process_limit which is 100), a '?' after wakeup (wake
 *	only when used). Arguments are kept as given; "-o name=value"
 *	pairs are also collected in options (value unexpanded; the
 *	program expands it in its own parameter view), and "-o name=" is
 *	an empty override. Types: inet, unix, unix-dgram, fifo, pass.
 *	An argument written "{ text }" is one argument (Postfix 3), so
 *	"-o { name = value }" works. raw[] holds the first seven fields
 *	as written. mastercf_format() returns the entry on one line
 *	with Postfix's column layout, as "postconf -M" prints it (caller
 *	frees). mastercf_find() with type NULL matches any type.
 *	mastercf_apply() installs the service's -o options as conf
 *	overrides (conf_set()), giving the service's parameter view:
 *	values stay raw and expand lazily in that view.
 * DIAGNOSTICS
 *	mastercf_load() returns NULL with err set if the file cannot be
 *	read. A malformed line (too few fields, bad type, bad number) is
 *	logged as a warning with file:line naming the field and skipped;
 *	nbad counts them and bad holds the first message: master (start,
 *	reload) and "postern check" treat any as fatal, as Postfix's
 *	master does.
 */
#ifndef MASTERCF_H
#define MASTERCF_H

#include <stddef.h>

#include "str.h"

struct mastercf_service {
	char	*name;		/* service name, e.g. "smtp", "127.0.0.1:25" */
	char	*type;		/* inet, unix, unix-dgram, fifo, pass */
	int	 private_;	/* 1 = private/ (unix, pass, fifo) */
	int	 unpriv;	/* 1 = run as mail_owner */
	int	 chroot;
	long	 wakeup;	/* seconds, 0 = never */
	int	 wakeup_if_used;	/* '?' suffix */
	int	 maxproc;	/* 0 = no limit */
	char	*command;	/* program name, e.g. "smtpd" */
	struct strv *args;	/* everything after command, as written */
	struct strv *options;	/* "name=value" from -o, in order */
	char	*file;
	int	 line;
	char	*raw[7];	/* service..maxproc as written */
};

struct mastercf {
	struct mastercf_service *svc;
	size_t	 nsvc;
	size_t	 nbad;		/* malformed entries (skipped) */
	char	*bad;		/* the first one's message */
};

struct mastercf *mastercf_load(const char *, char *, size_t);
void	 mastercf_free(struct mastercf *);
const struct mastercf_service *mastercf_find(const struct mastercf *,
	    const char *, const char *);
char	*mastercf_format(const struct mastercf_service *);
void	 mastercf_apply(const struct mastercf_service *);

#endif
