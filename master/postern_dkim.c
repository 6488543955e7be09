/*
 * NAME
 *	postern_dkim - "postern dkim-keygen": a DKIM key and its DNS record
 * SYNOPSIS
 *	#include "postern_dkim.h"
 *
 *	int	postern_dkim_main(int argc, char **argv);
 * DESCRIPTION
 *	postern dkim-keygen -d DOMAIN -s SELECTOR [-t rsa|ed25519]
 *	[-b BITS] -D DIR [-u USER] writes DIR/SELECTOR.private (a PEM
 *	private key, mode 0600, made with OpenSSL's EVP_PKEY keygen) and
 *	prints the DNS TXT record of its public key:
 *
 *	    SELECTOR._domainkey.DOMAIN IN TXT "v=DKIM1; k=rsa; p=..."
 *
 *	in the file DIR/SELECTOR.txt too, as opendkim-genkey names them.
 *	RSA keys are 2048 bits unless -b says otherwise (1024..4096).
 *	A long value is split into quoted strings of at most 255 bytes
 *	(one TXT record, as zone files need). Run as root, the key file
 *	is given to USER (default: mail_owner), which the signing smtpd
 *	runs as: signing refuses a key file that group or others may read.
 *	An existing key file is never overwritten.
 * DIAGNOSTICS
 *	Exit 0, or 1 with a message on stderr.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "buf.h"
#include "conf.h"
#include "dkim.h"
#include "postern_dkim.h"
#include "xalloc.h"

/* dk_usage - bad command line */
static int
dk_usage(void)
{
	fprintf(stderr, "usage: postern dkim-keygen -d domain -s selector "
	    "[-t rsa|ed25519] [-b bits] -D directory [-u user]\n");
	return (1);
}

/* dk_keygen - a fresh key */
static EVP_PKEY *
dk_keygen(int ed25519, int bits)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *k = NULL;

	ctx = EVP_PKEY_CTX_new_id(ed25519 ? EVP_PKEY_ED25519 : EVP_PKEY_RSA,
	    NULL);
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1
	    || (!ed25519 && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) != 1)
	    || EVP_PKEY_keygen(ctx, &k) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	return (k);
}

/* dk_write_key - the PEM file, 0600, never over an existing one */
static int
dk_write_key(const char *path, EVP_PKEY *k, const char *user)
{
	struct passwd *pw;
	FILE	*fp;
	int	 fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "postern: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return (-1);
	}
	ok = fchmod(fd, 0600) == 0
	    && PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL) == 1
	    && fflush(fp) == 0 && fsync(fd) == 0;
	if (ok && geteuid() == 0 && user && *user) {
		if ((pw = getpwnam(user)) == NULL) {
			fprintf(stderr, "postern: unknown user %s\n", user);
			ok = 0;
		} else if (fchown(fd, pw->pw_uid, pw->pw_gid) < 0)
			ok = 0;
	}
	if (fclose(fp) != 0)
		ok = 0;
	if (!ok) {
		fprintf(stderr, "postern: cannot write %s\n", path);
		unlink(path);
		return (-1);
	}
	return (0);
}

/* dk_record - NAME IN TXT "..." "...", strings of at most 255 bytes */
static void
dk_record(struct buf *out, const char *sel, const char *dom,
    const char *txt)
{
	size_t	 n = strlen(txt), i;

	buf_printf(out, "%s._domainkey.%s IN TXT", sel, dom);
	for (i = 0; i < n; i += 255)
		buf_printf(out, " \"%.*s\"", (int)(n - i < 255 ? n - i : 255),
		    txt + i);
	buf_putc(out, '\n');
}

/* postern_dkim_main - postern dkim-keygen ... */
int
postern_dkim_main(int argc, char **argv)
{
	const char *dom = NULL, *sel = NULL, *dir = NULL, *user = NULL;
	int	 c, ed = 0, bits = 2048, rc = 1;
	struct buf *txt, *rec;
	char	*path, *tpath;
	EVP_PKEY *k;
	FILE	*fp;

	optind = 1;
	while ((c = getopt(argc, argv, "b:d:D:s:t:u:")) != -1) {
		switch (c) {
		case 'b': bits = atoi(optarg); break;
		case 'd': dom = optarg; break;
		case 'D': dir = optarg; break;
		case 's': sel = optarg; break;
		case 't':
			if (strcmp(optarg, "ed25519") == 0)
				ed = 1;
			else if (strcmp(optarg, "rsa") != 0)
				return (dk_usage());
			break;
		case 'u': user = optarg; break;
		default: return (dk_usage());
		}
	}
	if (optind != argc || !dom || !sel || !dir || bits < 1024
	    || bits > 4096 || strchr(sel, '/') || *sel == '.')
		return (dk_usage());
	if (user == NULL && geteuid() == 0) {
		char	 err[512];
		const char *cd = getenv("MAIL_CONFIG");

		if (conf_load(cd && *cd ? cd : "/etc/postern", err,
		    sizeof(err)) == 0)
			user = conf_str("mail_owner");
	}
	if ((k = dk_keygen(ed, bits)) == NULL) {
		fprintf(stderr, "postern: key generation failed\n");
		return (1);
	}
	txt = buf_new(512);
	rec = buf_new(512);
	path = xasprintf("%s/%s.private", dir, sel);
	tpath = xasprintf("%s/%s.txt", dir, sel);
	if (dkim_key_txt(k, txt) == 0 && dk_write_key(path, k, user) == 0) {
		dk_record(rec, sel, dom, BUF_STR(txt));
		fputs(BUF_STR(rec), stdout);
		if ((fp = fopen(tpath, "w")) != NULL) {
			fputs(BUF_STR(rec), fp);
			rc = fclose(fp) != 0;
		} else
			fprintf(stderr, "postern: %s: %s\n", tpath,
			    strerror(errno));
	}
	EVP_PKEY_free(k);
	buf_free(txt);
	buf_free(rec);
	free(path);
	free(tpath);
	return (rc);
}
