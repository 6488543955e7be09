/*
 * NAME
 *	cleanup_bcc_test - always_bcc, sender_bcc_maps, recipient_bcc_maps
 * DESCRIPTION
 *	Table-driven: the parameters (inline: tables), the envelope, and
 *	the BCC recipients cleanup_bcc_add() must add, in order: always_bcc,
 *	then the sender's, then each recipient's; each address once, none
 *	that is already a recipient (case-insensitive); the null sender
 *	looks nothing up; Postfix's @domain fallback; and content_filter
 *	as cleanup_bcc_filter() reads it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup_bcc.h"
#include "conf.h"
#include "str.h"
#include "tap.h"
#include "xalloc.h"

static const struct {
	const char *name;
	const char *always, *sender_maps, *rcpt_maps;
	const char *sender;
	const char *rcpts;		/* comma-separated */
	const char *want;		/* comma-separated, "" = none */
} cases[] = {
	{ "nothing set: no tables, nothing added", "", "", "",
	    "s@example.net", "u@example.com", "" },
	{ "always_bcc (spaces around it)", "  archive@example.com ", "", "",
	    "s@example.net", "u@example.com", "archive@example.com" },
	{ "sender_bcc_maps", "", "inline:{s@example.net=sb@example.com}", "",
	    "s@example.net", "u@example.com", "sb@example.com" },
	{ "null sender: no sender_bcc_maps lookup", "",
	    "inline:{@=x@example.com}", "", "", "u@example.com", "" },
	{ "recipient_bcc_maps for each recipient, in order", "", "",
	    "inline:{u@example.com=ub@example.com, v@example.com=vb@example.com}",
	    "s@example.net", "u@example.com,v@example.com",
	    "ub@example.com,vb@example.com" },
	{ "@domain fallback", "", "", "inline:{@example.com=dom@example.org}",
	    "s@example.net", "u@example.com", "dom@example.org" },
	{ "order: always, sender, recipients",
	    "archive@example.com", "inline:{s@example.net=sb@example.com}",
	    "inline:{u@example.com=ub@example.com}", "s@example.net",
	    "u@example.com", "archive@example.com,sb@example.com,ub@example.com" },
	{ "each address once (always = sender's = recipient's)",
	    "copy@example.com", "inline:{s@example.net=COPY@example.com}",
	    "inline:{u@example.com=copy@example.com}", "s@example.net",
	    "u@example.com", "copy@example.com" },
	{ "an address that is a recipient already is not added",
	    "U@example.com", "", "inline:{u@example.com=v@example.com}",
	    "s@example.net", "u@example.com,v@example.com", "" },
};

int
main(void)
{
	struct cleanup_bcc *b;
	struct strv *rcpts, *out;
	char	*got, *f;
	size_t	 i, k;
	int	 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		conf_reset();
		conf_set("always_bcc", cases[i].always);
		conf_set("sender_bcc_maps", cases[i].sender_maps);
		conf_set("recipient_bcc_maps", cases[i].rcpt_maps);
		b = cleanup_bcc_new();
		rcpts = conf_split(cases[i].rcpts);
		out = strv_new();
		rc = cleanup_bcc_add(b, cases[i].sender, rcpts->argv,
		    rcpts->argc, out);
		got = xstrdup("");
		for (k = 0; k < out->argc; k++) {
			char	*n = xasprintf("%s%s%s", got, k ? "," : "",
			    out->argv[k]);

			free(got);
			got = n;
		}
		tap_ok(rc == 0, "%s: no trouble", cases[i].name);
		tap_is_str(got, cases[i].want, cases[i].name);
		if (!*cases[i].always && !*cases[i].sender_maps
		    && !*cases[i].rcpt_maps)
			tap_ok(b == NULL, "%s: no BCC state", cases[i].name);
		free(got);
		strv_free(out);
		strv_free(rcpts);
		cleanup_bcc_free(b);
	}
	conf_reset();
	conf_set("content_filter", " smtp:[127.0.0.1]:10025 ");
	f = cleanup_bcc_filter();
	tap_is_str(f, "smtp:[127.0.0.1]:10025", "content_filter, trimmed");
	free(f);
	conf_set("content_filter", "");
	f = cleanup_bcc_filter();
	tap_is_str(f, "", "content_filter unset");
	free(f);
	conf_reset();
	return (tap_done());
}
