/*
 * NAME
 *	smtpd_override - receive_override_options
 * SYNOPSIS
 *	#include "smtpd_override.h"
 *
 *	int	smtpd_receive_override(const char *name);
 *	int	smtpd_override_cleanup_flags(void);
 * DESCRIPTION
 *	Postfix's receive_override_options for the mail this smtpd
 *	receives, typically set with -o on the port where an after-queue
 *	content filter re-injects (FILTER_README):
 *	  no_unknown_recipient_checks  no reject_unlisted_recipient or
 *	                               reject_unlisted_sender (explicit or
 *	                               implicit; smtpd_check.c);
 *	  no_address_mappings          no canonical_maps rewriting and no
 *	                               always_bcc, *_bcc_maps (cleanup);
 *	                               virtual_alias_maps are expanded by
 *	                               qmgr, after any filter, in any case;
 *	  no_header_body_checks        no header_checks, no body_checks;
 *	  no_milters                   for the milter code to ask.
 *	(no_header_address_rewrite and no_8bit_mime_conversion are
 *	accepted; postern does neither anyway.)
 *	smtpd_receive_override() is 1 when the named option is set.
 *	smtpd_override_cleanup_flags() gives the cleanup flags
 *	(cleanup.h CLEANUP_FLAG_NO_MAPS, CLEANUP_FLAG_NO_HBC) to pass.
 *	The parameter is read once per process (smtpd processes restart
 *	on reload).
 * DIAGNOSTICS
 *	An unknown option is logged once as a warning and ignored.
 */
#include <pthread.h>
#include <string.h>

#include "cleanup.h"
#include "conf.h"
#include "log.h"
#include "smtpd_override.h"
#include "str.h"

static const char *override_names[] = {
	"no_unknown_recipient_checks", "no_address_mappings",
	"no_header_body_checks", "no_milters", "no_header_address_rewrite",
	"no_8bit_mime_conversion", NULL
};

static pthread_mutex_t override_lock = PTHREAD_MUTEX_INITIALIZER;
static int override_loaded;
static int override_mask;

/* override_load - parse the parameter once */
static int
override_load(void)
{
	struct strv *v;
	size_t	 i, k;

	pthread_mutex_lock(&override_lock);
	if (!override_loaded) {
		v = conf_list("receive_override_options");
		for (i = 0; v && i < v->argc; i++) {
			for (k = 0; override_names[k]; k++)
				if (!strcmp(v->argv[i], override_names[k]))
					break;
			if (override_names[k])
				override_mask |= 1 << k;
			else
				log_warn("receive_override_options: unknown "
				    "option \"%s\" ignored",
				    log_safe(v->argv[i]));
		}
		strv_free(v);
		override_loaded = 1;
	}
	pthread_mutex_unlock(&override_lock);
	return (override_mask);
}

/* smtpd_receive_override - is this receive_override_options value set */
int
smtpd_receive_override(const char *name)
{
	int	 mask = override_load();
	size_t	 k;

	for (k = 0; override_names[k]; k++)
		if (!strcmp(name, override_names[k]))
			return ((mask >> k) & 1);
	return (0);
}

/* smtpd_override_cleanup_flags - what cleanup must skip */
int
smtpd_override_cleanup_flags(void)
{
	return ((smtpd_receive_override("no_address_mappings")
	    ? CLEANUP_FLAG_NO_MAPS : 0)
	    | (smtpd_receive_override("no_header_body_checks")
	    ? CLEANUP_FLAG_NO_HBC : 0));
}
