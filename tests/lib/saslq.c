/*
 * NAME
 *	saslq - run one SMTP AUTH exchange through smtpd_sasl (test helper)
 * SYNOPSIS
 *	saslq [-c config_dir] [-o name=value]... [-n count] [-t]
 *	    mechanism initial|- [response...]
 *	saslq [-c config_dir] [-o name=value]... [-t] -i
 * DESCRIPTION
 *	Loads config_dir/main.cf (if given) and the -o overrides, opens a
 *	backend as an smtpd worker thread would (smtpd_sasl_type,
 *	smtpd_sasl_password_maps, smtpd_sasl_path), then runs
 *	smtpd_sasl_start(mechanism, initial) ("-": no initial response)
 *	and smtpd_sasl_step() with each response while the server asks
 *	for more. Every server reply is printed on its own line; after
 *	SMTPD_SASL_OK a last line "user=LOGIN". -t marks the client as
 *	TLS-protected ("secured" for Dovecot). With -n the whole exchange
 *	runs count times on the same backend (one Dovecot connection),
 *	printing only the last run. With -i the exchanges come from stdin,
 *	one per line ("mechanism initial|- response..." separated by
 *	spaces), all on the same backend, each answered by its replies
 *	and a line "." (flushed): a test can restart the server between
 *	two exchanges. Logs go to stderr.
 * DIAGNOSTICS
 *	Exit 0 after SMTPD_SASL_OK, 1 after FAIL or ERROR, 75 after TEMP
 *	(EX_TEMPFAIL), 2 on usage or configuration errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "str.h"
#include "../../smtpd/smtpd_sasl.h"

/* usage - complain and exit */
static void
usage(void)
{
	fprintf(stderr, "usage: saslq [-c dir] [-o name=value] [-n count] "
	    "[-t] mechanism initial|- [response...]\n");
	exit(2);
}

/* run - one exchange; returns the smtpd_sasl result */
static int
run(struct smtpd_sasl_backend *be, int tls, int argc, char **argv,
    struct buf *out)
{
	struct smtpd_sasl *sa = smtpd_sasl_new("unknown", "127.0.0.1",
	    "127.0.0.1", tls);
	struct buf *reply = buf_new(64);
	int	 rc, i = 2;

	buf_reset(out);
	rc = smtpd_sasl_start(sa, be, argv[0],
	    strcmp(argv[1], "-") ? argv[1] : NULL, reply);
	buf_printf(out, "%s\n", BUF_STR(reply));
	while (rc == SMTPD_SASL_MORE && i < argc) {
		rc = smtpd_sasl_step(sa, be, argv[i++], reply);
		buf_printf(out, "%s\n", BUF_STR(reply));
	}
	if (rc == SMTPD_SASL_OK)
		buf_printf(out, "user=%s\n", smtpd_sasl_username(sa));
	smtpd_sasl_free(sa);
	buf_free(reply);
	return (rc);
}

/* run_stdin - one exchange per input line */
static int
run_stdin(int tls)
{
	struct smtpd_sasl_backend *be = smtpd_sasl_backend_new();
	struct buf *out = buf_new(256);
	struct strv *words;
	char	 line[SMTPD_SASL_LINE_MAX + 100];

	while (fgets(line, sizeof(line), stdin) != NULL) {
		words = strv_split(line, " \t\r\n");
		if (words->argc >= 2) {
			(void)run(be, tls, (int)words->argc, words->argv, out);
			fputs(BUF_STR(out), stdout);
		}
		strv_free(words);
		fputs(".\n", stdout);
		fflush(stdout);
	}
	smtpd_sasl_backend_free(be);
	buf_free(out);
	return (0);
}

int
main(int argc, char **argv)
{
	struct smtpd_sasl_backend *be;
	struct buf *out;
	char	 err[256];
	int	 ch, tls = 0, rc = SMTPD_SASL_ERROR;
	long	 count = 1, n;
	int	 interactive = 0;

	log_init("saslq", LOG_TO_STDERR);
	while ((ch = getopt(argc, argv, "c:o:n:ti")) != -1) {
		switch (ch) {
		case 'c':
			if (conf_load(optarg, err, sizeof(err)) < 0) {
				fprintf(stderr, "saslq: %s\n", err);
				return (2);
			}
			break;
		case 'o':
			if (conf_set_option(optarg) < 0)
				usage();
			break;
		case 'n':
			if ((count = atol(optarg)) < 1)
				usage();
			break;
		case 't':
			tls = 1;
			break;
		case 'i':
			interactive = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (interactive)
		return (run_stdin(tls));
	if (argc < 2)
		usage();
	out = buf_new(256);
	be = smtpd_sasl_backend_new();
	for (n = 0; n < count; n++)
		rc = run(be, tls, argc, argv, out);
	fputs(BUF_STR(out), stdout);
	smtpd_sasl_backend_free(be);
	buf_free(out);
	return (rc == SMTPD_SASL_OK ? 0 : rc == SMTPD_SASL_TEMP ? 75 : 1);
}
