/*
 * NAME
 *	conf_table - typed parameter tables, loaded once, range-checked
 * SYNOPSIS
 *	#include "conf_table.h"
 *
 *	void	conf_table_load(const struct conf_table *table);
 * DESCRIPTION
 *	See conf_table.h. The values come from conf(3) (conf_int,
 *	conf_time, conf_bool, conf_str), so defaults, overrides, $name
 *	expansion and the malformed-value messages are conf's; this file
 *	adds the range checks, with the wording of Postfix's
 *	check_mail_conf_int() and check_mail_conf_time().
 * DIAGNOSTICS
 *	See conf_table.h.
 * SEE ALSO
 *	conf(3), Postfix mail_conf_int(3), mail_conf_time(3)
 */
#include <limits.h>
#include <stdlib.h>

#include "conf.h"
#include "conf_table.h"
#include "log.h"
#include "xalloc.h"

/* conf_table_number - an int or long entry, range-checked */
static long
conf_table_number(const struct conf_table *t)
{
	long	 v = conf_int(t->name);

	if (t->type == CONF_T_INT && (v < INT_MIN || v > INT_MAX))
		log_fatal("bad numerical configuration: %s = %s", t->name,
		    conf_str(t->name));
	if (v < t->min)
		log_fatal("invalid %s parameter value %ld < %ld", t->name, v,
		    t->min);
	if (v > t->max)
		log_fatal("invalid %s parameter value %ld > %ld", t->name, v,
		    t->max);
	return (v);
}

/* conf_table_time - a time entry in seconds, range-checked */
static long
conf_table_time(const struct conf_table *t)
{
	long	 v = conf_time(t->name);

	if (v < t->min)
		log_fatal("invalid %s: %ld (min %ld)", t->name, v, t->min);
	if (v > t->max)
		log_fatal("invalid %s: %ld (max %ld)", t->name, v, t->max);
	return (v);
}

/* conf_table_load - fill every variable of the table */
void
conf_table_load(const struct conf_table *t)
{
	const char **sp;

	for (; t->type != 0; t++) {
		if (!conf_known(t->name))
			log_panic("conf_table_load: unknown parameter \"%s\"",
			    t->name);
		switch (t->type) {
		case CONF_T_INT:
			*(int *)t->target = (int)conf_table_number(t);
			break;
		case CONF_T_LONG:
			*(long *)t->target = conf_table_number(t);
			break;
		case CONF_T_TIME:
			*(long *)t->target = conf_table_time(t);
			break;
		case CONF_T_BOOL:
			*(int *)t->target = conf_bool(t->name);
			break;
		case CONF_T_STR:
			sp = t->target;
			free((void *)*sp);
			*sp = xstrdup(conf_str(t->name));
			break;
		default:
			log_panic("conf_table_load: %s: bad type %d", t->name,
			    t->type);
		}
	}
}
