/*
 * NAME
 *	smtpd-check - drive the restriction engine from a script (tests)
 * SYNOPSIS
 *	smtpd-check < script
 * DESCRIPTION
 *	Postfix's smtpd_check.in/.ref idea: each input line is a command,
 *	echoed as "> line", followed by what the policy engine answered:
 *
 *	load DIR	read DIR/main.cf (conf_load), keeping overrides
 *	conf name=value	set a parameter (the checker is rebuilt, and
 *			dns_init() rereads resolver_nameservers)
 *	client ADDR	a new client: runs smtpd_check_client_name() and
 *			prints "name=... reverse=... status=N", then the
 *			CONNECT stage
 *	helo NAME	HELO stage
 *	sasl USER	authenticated as USER ("sasl -" logs out)
 *	pipelining 0|1	unauth_pipelining flag for the DATA stage
 *	mail ADDR	MAIL stage ("<>" is the null sender)
 *	rcpt ADDR	RCPT stage
 *	data		DATA stage
 *	Results: "OK", or "REJECT reply" / "DEFER reply".
 *	Lines starting with '#' and empty lines are copied.
 * DIAGNOSTICS
 *	Exit 2 on an unknown command or a dns_init() error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "dns.h"
#include "log.h"
#include "smtpd_check.h"
#include "str.h"
#include "xalloc.h"

struct driver {
	struct smtpd_checker *c;
	struct smtpd_check_state st;
	char	*addr, *helo, *sender, *rcpt, *sasl;
	struct buf *reply;
};

/* driver_set - replace an owned string */
static void
driver_set(char **slot, const char *value)
{
	free(*slot);
	*slot = value ? xstrdup(value) : NULL;
}

/* driver_checker - (re)build the checker after conf changes */
static void
driver_checker(struct driver *d)
{
	char	 err[256];

	if (d->c)
		return;
	if (dns_init(conf_str("resolver_nameservers"), err, sizeof(err)) < 0) {
		fprintf(stderr, "smtpd-check: %s\n", err);
		exit(2);
	}
	d->c = smtpd_check_new();
}

/* driver_stage - run one stage and print the result */
static void
driver_stage(struct driver *d, int stage)
{
	int	 rc;

	driver_checker(d);
	d->st.client_addr = d->addr;
	d->st.helo_name = d->helo;
	d->st.sender = d->sender;
	d->st.recipient = d->rcpt;
	d->st.sasl_username = d->sasl;
	d->st.protocol = "ESMTP";
	d->st.server_addr = "127.0.0.1";
	rc = smtpd_check(d->c, stage, &d->st, d->reply);
	if (rc == SMTPD_CHECK_OK)
		printf("OK\n");
	else
		printf("%s %s\n", rc == SMTPD_CHECK_REJECT ? "REJECT" : "DEFER",
		    BUF_STR(d->reply));
}

/* driver_client - a new client */
static void
driver_client(struct driver *d, const char *addr)
{
	driver_checker(d);
	driver_set(&d->addr, addr);
	driver_set(&d->helo, NULL);
	driver_set(&d->sender, NULL);
	driver_set(&d->rcpt, NULL);
	memset(&d->st, 0, sizeof(d->st));
	d->st.client_addr = d->addr;
	smtpd_check_client_name(d->c, &d->st);
	printf("name=%s reverse=%s status=%d\n", d->st.client_name,
	    d->st.reverse_client_name, d->st.client_name_status);
	driver_stage(d, SMTPD_STAGE_CONNECT);
}

/* driver_line - one command */
static void
driver_line(struct driver *d, char *line)
{
	char	*cmd, *arg;

	printf("> %s\n", line);
	cmd = line;
	arg = line + strcspn(line, " ");
	if (*arg)
		*arg++ = 0;
	if (!strcmp(cmd, "conf")) {
		if (conf_set_option(arg) < 0) {
			fprintf(stderr, "smtpd-check: bad conf line\n");
			exit(2);
		}
		smtpd_check_free(d->c);
		d->c = NULL;
	} else if (!strcmp(cmd, "load")) {
		char	 err[256];

		if (conf_load(arg, err, sizeof(err)) < 0) {
			fprintf(stderr, "smtpd-check: %s\n", err);
			exit(2);
		}
		smtpd_check_free(d->c);
		d->c = NULL;
	} else if (!strcmp(cmd, "client"))
		driver_client(d, arg);
	else if (!strcmp(cmd, "helo")) {
		driver_set(&d->helo, arg);
		driver_stage(d, SMTPD_STAGE_HELO);
	} else if (!strcmp(cmd, "sasl"))
		driver_set(&d->sasl, strcmp(arg, "-") ? arg : NULL);
	else if (!strcmp(cmd, "pipelining"))
		d->st.unauth_pipelining = atoi(arg);
	else if (!strcmp(cmd, "mail")) {
		driver_set(&d->sender, strcmp(arg, "<>") ? arg : "");
		driver_set(&d->rcpt, NULL);
		driver_stage(d, SMTPD_STAGE_MAIL);
	} else if (!strcmp(cmd, "rcpt")) {
		driver_set(&d->rcpt, arg);
		driver_stage(d, SMTPD_STAGE_RCPT);
	} else if (!strcmp(cmd, "data"))
		driver_stage(d, SMTPD_STAGE_DATA);
	else {
		fprintf(stderr, "smtpd-check: unknown command: %s\n", cmd);
		exit(2);
	}
}

int
main(void)
{
	struct driver d;
	char	 line[4096];
	size_t	 len;

	memset(&d, 0, sizeof(d));
	d.reply = buf_new(256);
	log_init("smtpd-check", LOG_TO_STDERR);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		len = strcspn(line, "\n");
		line[len] = 0;
		if (line[0] == 0 || line[0] == '#') {
			printf("%s\n", line);
			continue;
		}
		driver_line(&d, line);
		fflush(stdout);
	}
	smtpd_check_free(d.c);
	free(d.addr);
	free(d.helo);
	free(d.sender);
	free(d.rcpt);
	free(d.sasl);
	buf_free(d.reply);
	conf_reset();
	return (0);
}
