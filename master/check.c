/*
 * NAME
 *	check - "postern check": what Postfix would warn about
 * SYNOPSIS
 *	#include "check.h"
 *
 *	int	postern_check(const char *config_dir, int verbose);
 * DESCRIPTION
 *	See check.h. The order of the report is Postfix's: main.cf
 *	parameters first, then master.cf (parameters, then commands),
 *	then the lookup tables.
 *
 *	Postfix treats some names as used although no program has them
 *	built in; so does this check: a user-defined parameter that a
 *	main.cf value or a master.cf -o value refers to ($name), the
 *	classes listed in smtpd_restriction_classes, and the per-service
 *	names <service>_destination_concurrency_limit and friends for
 *	every master.cf service.
 * DIAGNOSTICS
 *	Returns the number of fatal problems (see check.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conf.h"
#include "log.h"
#include "map.h"
#include "mastercf.h"
#include "params.h"
#include "str.h"
#include "tls.h"
#include "xalloc.h"

static int check_verbose;	/* postern -v check: one line per finding */

/*
 * Parameters postern knows (Postfix's names and defaults, so a main.cf
 * that sets them loads) but no postern program reads: with -v, a value
 * set for one is reported, as a migration report must.
 */
static const char *check_not_implemented[] = {
	"smtpd_proxy_filter", "mailbox_command", "home_mailbox",
	"luser_relay", "relocated_maps", "smtpd_end_of_data_restrictions",
	"smtpd_etrn_restrictions", "mime_header_checks",
	"nested_header_checks", NULL
};

/* More unavailable tables than this are reported on one line. */
#define CHECK_TABLES_ONE_BY_ONE	3

/* Postfix programs that postern runs inside its own daemons. */
static const char *check_folded[] = {
	"cleanup", "pickup", "trivial-rewrite", "bounce", "defer", "trace",
	"dnsblog", "tlsproxy", "tlsmgr", "proxymap", "scache",
	"showq", "flush", "error", "retry", "discard",
	NULL
};

/* Programs postern has. */
static const char *check_programs[] = {
	"smtpd", "postscreen", "qmgr", "smtp", "lmtp", "virtual", "anvil",
	"verify", "metrics", NULL
};

/* Per-service parameter suffixes Postfix accepts for any service. */
static const char *check_service_suffixes[] = {
	"delivery_slot_cost", "delivery_slot_loan", "delivery_slot_discount",
	"minimum_delivery_slots", "destination_concurrency_limit",
	"destination_recipient_limit", "initial_destination_concurrency",
	"destination_concurrency_failed_cohort_limit",
	"destination_concurrency_negative_feedback",
	"destination_concurrency_positive_feedback",
	"destination_rate_delay", "destination_recipient_limit",
	"recipient_limit", "extra_recipient_limit", "recipient_refill_limit",
	"recipient_refill_delay", "time_limit", "transport_rate_delay",
	NULL
};

/* Lookup table types Postfix knows (others are not table names). */
static const char *check_map_types[] = {
	"btree", "cdb", "cidr", "dbm", "environ", "fail", "hash", "inline",
	"internal", "ldap", "lmdb", "memcache", "memory", "mysql", "nis",
	"nisplus", "pcre", "pgsql", "pipemap", "proxy", "randmap", "regexp",
	"sdbm", "socketmap", "sqlite", "static", "tcp", "texthash",
	"unionmap", "unix", NULL
};

/* check_in - membership in a NULL-terminated list */
static int
check_in(const char **list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return (1);
	return (0);
}

/* check_has - membership in a strv */
static int
check_has(const struct strv *v, const char *s)
{
	size_t	 i;

	for (i = 0; i < v->argc; i++)
		if (strcmp(v->argv[i], s) == 0)
			return (1);
	return (0);
}

/* check_add_refs - add the $names of text to set */
static void
check_add_refs(struct strv *set, const char *text)
{
	struct strv *r = conf_refs(text, 1);
	size_t	 i;

	for (i = 0; i < r->argc; i++)
		if (!check_has(set, r->argv[i]))
			strv_add(set, r->argv[i]);
	strv_free(r);
}

/* check_opt_split - "name=value" into its two halves (caller frees) */
static char *
check_opt_split(const char *opt, const char **value)
{
	const char *eq = strchr(opt, '=');

	*value = eq ? eq + 1 : "";
	return (xstrndup(opt, eq ? (size_t)(eq - opt) : strlen(opt)));
}

/* check_register - make dynamic and referenced names known */
static void
check_register(const struct mastercf *m, struct strv *refs)
{
	const char **sfx;
	struct strv *classes;
	size_t	 i, j;
	char	*name;

	for (i = 0; i < m->nsvc; i++) {
		for (sfx = check_service_suffixes; *sfx; sfx++) {
			name = xasprintf("%s_%s", m->svc[i].name, *sfx);
			conf_register(name);
			free(name);
		}
		for (j = 0; j < m->svc[i].options->argc; j++)
			check_add_refs(refs, m->svc[i].options->argv[j]);
	}
	classes = conf_list("smtpd_restriction_classes");
	for (i = 0; i < classes->argc; i++)
		conf_register(classes->argv[i]);
	strv_free(classes);
	for (i = 0; i < refs->argc; i++)
		if (conf_file_value(refs->argv[i], NULL) != NULL)
			conf_register(refs->argv[i]);
}

/* check_master_params - -o names and $references in master.cf */
static void
check_master_params(const struct mastercf *m, const char *path,
    const struct strv *refs)
{
	struct strv *said = strv_new(), *local, *r;
	const struct mastercf_service *s;
	const char *value;
	size_t	 i, j, k;
	char	*name, *norm;

	for (i = 0; i < m->nsvc; i++) {
		s = &m->svc[i];
		local = strv_new();
		for (j = 0; j < s->options->argc; j++) {
			name = check_opt_split(s->options->argv[j], &value);
			strv_add(local, name);
			if (!conf_known(name) && conf_file_value(name, NULL)
			    == NULL && !check_has(refs, name)) {
				norm = conf_normalize(value);
				log_warn("%s: unused parameter: %s=%s", path,
				    name, norm);
				free(norm);
			}
			free(name);
		}
		for (j = 0; j < s->options->argc; j++) {
			value = strchr(s->options->argv[j], '=');
			r = conf_refs(value ? value + 1 : "", 1);
			for (k = 0; k < r->argc; k++) {
				if (conf_raw(r->argv[k]) != NULL
				    || check_has(local, r->argv[k])
				    || check_has(said, r->argv[k]))
					continue;
				strv_add(said, r->argv[k]);
				log_warn("%s: undefined parameter: %s", path,
				    r->argv[k]);
			}
			strv_free(r);
		}
		strv_free(local);
	}
	strv_free(said);
}

/* check_commands - folded and unknown master.cf commands, summarized */
static void
check_commands(const struct mastercf *m, const char *path, int verbose)
{
	struct strv *folded = strv_new(), *unknown = strv_new();
	const struct mastercf_service *s;
	const char *cmd, *slash;
	char	*item, *list;
	size_t	 i;

	for (i = 0; i < m->nsvc; i++) {
		s = &m->svc[i];
		slash = strrchr(s->command, '/');
		cmd = slash ? slash + 1 : s->command;
		if (check_in(check_programs, cmd)) {
			if (verbose)
				log_info("%s, line %d: service %s/%s: runs %s",
				    s->file, s->line, s->name, s->type, cmd);
		} else if (check_in(check_folded, cmd)) {
			if (!check_has(folded, cmd))
				strv_add(folded, cmd);
		} else if (verbose) {
			/* -v, a migration report: one line per service. */
			log_warn("%s, line %d: service %s/%s will not run: "
			    "postern has no program \"%s\"", s->file,
			    s->line, s->name, s->type, log_safe(cmd));
		} else {
			item = xasprintf("%s/%s (%s, line %d)", s->name,
			    s->type, log_safe(cmd), s->line);
			strv_add(unknown, item);
			free(item);
		}
	}
	/* One line each: the folded ones need nothing from anybody. */
	if (folded->argc && (list = strv_join(folded, ", ")) != NULL) {
		log_info("%s: %zu commands built into postern, nothing to "
		    "run: %s", path, folded->argc, list);
		free(list);
	}
	if (unknown->argc && (list = strv_join(unknown, ", ")) != NULL) {
		log_warn("%s: %zu service%s with a command postern does not "
		    "have will not run (mail routed to %s is deferred): %s",
		    path, unknown->argc, unknown->argc == 1 ? "" : "s",
		    unknown->argc == 1 ? "it" : "them", list);
		free(list);
	}
	strv_free(folded);
	strv_free(unknown);
}

/* check_unimplemented - -v: set parameters postern does not implement */
static void
check_unimplemented(const struct mastercf *m, const char *config_dir)
{
	const char **n, *value;
	size_t	 i, j;
	char	*name;
	int	 line;

	for (n = check_not_implemented; *n; n++)
		if ((value = conf_file_value(*n, &line)) != NULL && *value)
			log_warn("%s/main.cf, line %d: %s is not implemented "
			    "by postern (ignored)", config_dir, line, *n);
	for (i = 0; m && i < m->nsvc; i++)
		for (j = 0; j < m->svc[i].options->argc; j++) {
			name = check_opt_split(m->svc[i].options->argv[j],
			    &value);
			if (*value && check_in(check_not_implemented, name))
				log_warn("%s, line %d: service %s/%s: -o %s is "
				    "not implemented by postern (ignored)",
				    m->svc[i].file, m->svc[i].line,
				    m->svc[i].name, m->svc[i].type, name);
			free(name);
		}
}

/* check_type_of - 'b'ool, 'i'nt, 't'ime, or 0, from the default */
static int
check_type_of(const char *def)
{
	size_t	 n;

	if (def == NULL || *def == 0)
		return (0);
	if (strcmp(def, "yes") == 0 || strcmp(def, "no") == 0)
		return ('b');
	n = strspn(def + (*def == '-'), "0123456789") + (*def == '-');
	if (n > (size_t)(*def == '-') && def[n] == 0)
		return ('i');
	if (n > 0 && def[n] && strchr("smhdw", def[n]) && def[n + 1] == 0)
		return ('t');
	return (0);
}

/* check_value - is value good for a parameter of this type? */
static int
check_value(int type, const char *value)
{
	long	 l;
	int	 b;

	switch (type) {
	case 'b':
		return (str_parse_bool(value, &b) == 0);
	case 'i':
		return (str_parse_long(value, &l) == 0);
	case 't':
		return (str_parse_time(value, 's', &l) == 0);
	}
	return (1);
}

static const char *check_untyped[] = {
	"compatibility_level", "mail_version", NULL
};
static const char *check_what[] = {"boolean", "numerical", "time"};

/* check_param_type - 'b', 'i', 't' or 0 for a built-in parameter */
static int
check_param_type(const struct conf_param *p)
{
	char	*def;
	int	 type;

	if (check_in(check_untyped, p->name) || p->def == NULL)
		return (0);
	/* The type shows in the default: "${stress?{10}:{300}}s". */
	def = conf_expand(p->def);
	type = check_type_of(def);
	free(def);
	return (type);
}

/* check_typed - malformed boolean, integer and time values in main.cf */
static int
check_typed(const char *path)
{
	const struct conf_param *p;
	int	 type, bad = 0;

	for (p = conf_params; p->name; p++) {
		if (conf_file_value(p->name, NULL) == NULL
		    || (type = check_param_type(p)) == 0)
			continue;
		if (!check_value(type, conf_str(p->name))) {
			log_error("%s: bad %s configuration: %s = %s", path,
			    check_what[type == 'b' ? 0 : type == 'i' ? 1 : 2],
			    p->name, log_safe(conf_str(p->name)));
			bad++;
		}
	}
	return (bad);
}

/* check_typed_master - the same for master.cf -o values */
static int
check_typed_master(const struct mastercf *m)
{
	const struct mastercf_service *s;
	const struct conf_param *p;
	const char *value;
	size_t	 i, j;
	int	 type, bad = 0;
	char	*name, *exp;

	for (i = 0; i < m->nsvc; i++) {
		s = &m->svc[i];
		for (j = 0; j < s->options->argc; j++) {
			name = check_opt_split(s->options->argv[j], &value);
			for (p = conf_params; p->name; p++)
				if (strcmp(p->name, name) == 0)
					break;
			/* Expanded in the global view: good enough here. */
			exp = conf_expand(value);
			if (p->name && (type = check_param_type(p)) != 0
			    && !check_value(type, exp)) {
				log_error("%s, line %d: service %s/%s: bad %s "
				    "configuration: %s = %s", s->file, s->line,
				    s->name, s->type, check_what[type == 'b'
				    ? 0 : type == 'i' ? 1 : 2], name,
				    log_safe(exp));
				bad++;
			}
			free(exp);
			free(name);
		}
	}
	return (bad);
}

/* check_is_map - does a token name a lookup table? */
static int
check_is_map(const char *tok)
{
	size_t	 n = 0;
	char	*type;
	int	 yes;

	while (islower((unsigned char)tok[n]) || isdigit((unsigned char)tok[n]))
		n++;
	if (n == 0 || tok[n] != ':' || tok[n + 1] == 0)
		return (0);
	type = xstrndup(tok, n);
	yes = check_in(check_map_types, type);
	free(type);
	return (yes);
}

/* check_collect - add the table names of one value */
static void
check_collect(struct strv *specs, struct strv *where, const char *value,
    const char *origin)
{
	struct strv *t = conf_split(value);
	size_t	 i;

	for (i = 0; i < t->argc; i++) {
		/* A policy server address is not a table. */
		if (i > 0 && strcmp(t->argv[i - 1], "check_policy_service")
		    == 0)
			continue;
		if (!check_is_map(t->argv[i]) || check_has(specs, t->argv[i]))
			continue;
		strv_add(specs, t->argv[i]);
		strv_add(where, origin);
	}
	strv_free(t);
}

/* check_skip_param - caches and databases programs create themselves */
static int
check_skip_param(const char *name)
{
	return (str_ends_with(name, "_database")
	    || str_ends_with(name, "_cache_map")
	    || strcmp(name, "address_verify_map") == 0
	    || str_ends_with(name, "_milters")	/* unix:/inet: sockets */
	    || strcmp(name, "smtpd_forbidden_commands") == 0
	    || strcmp(name, "postscreen_forbidden_commands") == 0);
}

/* check_walk_ctx - conf_walk callback context */
struct check_walk_ctx {
	struct strv *specs;
	struct strv *where;
};

/* check_walk_maps - collect the tables of one main.cf parameter */
static void
check_walk_maps(const char *name, const char *raw, void *ctx)
{
	struct check_walk_ctx *c = ctx;
	char	*origin;

	/* An unused parameter's value is never evaluated (Postfix). */
	if (check_skip_param(name) || !conf_known(name))
		return;
	origin = xasprintf("main.cf parameter %s", name);
	check_collect(c->specs, c->where, conf_str(name), origin);
	free(origin);
}

/* check_report_tables - each unavailable table, or one line for many */
static void
check_report_tables(const struct strv *bad)
{
	char	*list;
	size_t	 i;

	if (bad->argc <= CHECK_TABLES_ONE_BY_ONE) {
		for (i = 0; i < bad->argc; i++)
			log_warn("%s", bad->argv[i]);
		return;
	}
	list = strv_join(bad, "; ");
	log_warn("%zu lookup tables are unavailable (mail that needs one "
	    "is deferred): %s", bad->argc, list);
	free(list);
}

/* check_maps - open every table the configuration names */
static void
check_maps(const struct mastercf *m, int verbose)
{
	struct strv *bad;
	struct check_walk_ctx c;
	const char *value, *err;
	struct map *map;
	size_t	 i, j, n;
	char	*name, *exp, *origin;

	c.specs = strv_new();
	c.where = strv_new();
	bad = strv_new();
	conf_walk(CONF_EXPLICIT, check_walk_maps, &c);
	for (i = 0; m && i < m->nsvc; i++)
		for (j = 0; j < m->svc[i].options->argc; j++) {
			name = check_opt_split(m->svc[i].options->argv[j],
			    &value);
			if (!check_skip_param(name)) {
				exp = conf_expand(value);
				origin = xasprintf("master.cf service %s -o %s",
				    m->svc[i].name, name);
				check_collect(c.specs, c.where, exp, origin);
				free(origin);
				free(exp);
			}
			free(name);
		}
	for (i = 0; i < c.specs->argc; i++) {
		map = map_open(c.specs->argv[i], 0);
		if ((err = map_error(map)) != NULL) {
			/* Postfix's words: "hash:/x is unavailable. why". */
			n = strlen(c.specs->argv[i]);
			if (strncmp(err, c.specs->argv[i], n) == 0
			    && strncmp(err + n, ": ", 2) == 0)
				err += n + 2;
			origin = xasprintf("%s is unavailable. %s (%s)",
			    c.specs->argv[i], err, c.where->argv[i]);
			strv_add(bad, origin);
			free(origin);
		}
		else if (verbose)
			log_info("%s: table %s: opened", c.where->argv[i],
			    c.specs->argv[i]);
		map_close(map);
	}
	check_report_tables(bad);
	strv_free(bad);
	strv_free(c.specs);
	strv_free(c.where);
}

/* check_warn - conf_check() callback */
static void
check_warn(const char *msg, void *ctx)
{
	const char *p = strstr(msg, ": unused parameter: ");
	char	*name;
	int	 line = 0;

	/* -v: "main.cf, line N: unused parameter: ..." (Postfix: no N) */
	if (check_verbose && p != NULL) {
		name = xstrndup(p + 20, strcspn(p + 20, "="));
		if (conf_file_value(name, &line) != NULL && line > 0) {
			log_warn("%.*s, line %d%s", (int)(p - msg), msg, line,
			    p);
			free(name);
			return;
		}
		free(name);
	}
	log_warn("%s", msg);
}

/* postern_check_params - unused and undefined parameters only */
struct mastercf *
postern_check_params(const char *config_dir, int *fatal)
{
	char	 err[512], *mpath;
	struct mastercf *m;
	struct strv *refs = strv_new();

	mpath = xasprintf("%s/master.cf", config_dir);
	if ((m = mastercf_load(mpath, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		if (fatal)
			(*fatal)++;
	} else
		check_register(m, refs);
	conf_check(check_warn, NULL);
	if (m)
		check_master_params(m, mpath, refs);
	strv_free(refs);
	free(mpath);
	return (m);
}

/* check_fatal - what stops master or a daemon: errors, counted */
static int
check_fatal(const struct mastercf *m, const char *config_dir)
{
	char	*path;
	int	 fatal = 0;

	if (m && m->nbad) {
		log_error("%s/master.cf: %zu malformed entr%s (first: %s); "
		    "master does not start or reload with it", config_dir,
		    m->nbad, m->nbad == 1 ? "y" : "ies", m->bad);
		fatal++;
	}
	if (m)
		fatal += check_typed_master(m);
	fatal += tls_level_conf_errors(m);	/* Invalid TLS level "X" */
	path = xasprintf("%s/main.cf", config_dir);
	fatal += check_typed(path);
	free(path);
	return (fatal);
}

/* postern_check_fatal - only the fatal problems, quietly (reload) */
int
postern_check_fatal(const char *config_dir)
{
	char	 err[512], *mpath;
	struct mastercf *m;
	int	 fatal;

	if (conf_load(config_dir, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return (1);
	}
	mpath = xasprintf("%s/master.cf", config_dir);
	if ((m = mastercf_load(mpath, err, sizeof(err))) == NULL)
		log_error("%s", err);
	free(mpath);
	fatal = (m == NULL) + check_fatal(m, config_dir);
	mastercf_free(m);
	return (fatal);
}

/* postern_check - check main.cf, master.cf and the tables they name */
int
postern_check(const char *config_dir, int verbose)
{
	char	 err[512], *mpath;
	struct mastercf *m;
	int	 fatal = 0;

	if (conf_load(config_dir, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return (1);
	}
	check_verbose = verbose;
	if ((m = postern_check_params(config_dir, &fatal)) != NULL) {
		mpath = xasprintf("%s/master.cf", config_dir);
		check_commands(m, mpath, verbose);
		free(mpath);
	}
	if (verbose)
		check_unimplemented(m, config_dir);
	fatal += check_fatal(m, config_dir);
	check_maps(m, verbose);
	if (verbose)
		log_info("%s: %d fatal problem%s", config_dir, fatal,
		    fatal == 1 ? "" : "s");
	mastercf_free(m);
	return (fatal);
}
