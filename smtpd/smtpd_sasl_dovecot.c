/*
 * NAME
 *	smtpd_sasl_dovecot - a blocking client of Dovecot's auth protocol
 * SYNOPSIS
 *	See smtpd_sasl.h.
 *
 *	struct smtpd_sasl_dovecot *smtpd_sasl_dovecot_new(const char *path,
 *	    long timeout);
 *	int	smtpd_sasl_dovecot_auth(struct smtpd_sasl_dovecot *dc,
 *	    const char *service, const char *user, const char *password,
 *	    const char *lip, const char *rip, int secured,
 *	    char **username, struct buf *reason);
 *	void	smtpd_sasl_dovecot_free(struct smtpd_sasl_dovecot *dc);
 * DESCRIPTION
 *	Dovecot's authentication client protocol 1.1, as Postfix's
 *	xsasl_dovecot_server.c speaks it: "VERSION 1 1" and "CPID pid",
 *	then the server's handshake (VERSION, MECH..., SPID, CUID, COOKIE,
 *	DONE); each request is "AUTH id PLAIN service=smtp nologin lip=
 *	rip= [secured] resp=base64(NUL user NUL password)" and the answer
 *	"OK id user=...", "FAIL id [reason=...] [temp]" or "CONT id ...".
 *
 *	path is an absolute UNIX socket path or inet:host:port. The
 *	connection is opened on first use; after a write or read error or
 *	an early EOF (Dovecot restarted) it is opened again and the request
 *	repeated once. Every read waits at most timeout seconds.
 *
 *	smtpd_sasl_dovecot_auth() returns SMTPD_SASL_OK (with *username,
 *	caller frees: Dovecot's user= or the login as given), SMTPD_SASL_FAIL
 *	(reason set from reason= or "authentication failure") or
 *	SMTPD_SASL_TEMP (connection trouble, timeout, Dovecot's "temp";
 *	reason set).
 * DIAGNOSTICS
 *	Connection trouble is logged as a warning, naming the path.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "log.h"
#include "sock.h"
#include "xalloc.h"
#include "smtpd_sasl.h"

#define DC_LINE_MAX	16384	/* longest line from the server */
#define DC_LINES_MAX	1000	/* lines per handshake or reply */

struct smtpd_sasl_dovecot {
	char	*path;
	long	 timeout;
	int	 fd;
	int	 has_plain;
	unsigned int next_id;
	struct buf *in;		/* bytes read, not yet consumed */
};

/* dc_close - drop the connection */
static void
dc_close(struct smtpd_sasl_dovecot *dc)
{
	if (dc->fd >= 0)
		close(dc->fd);
	dc->fd = -1;
	buf_reset(dc->in);
}

/* dc_connect_inet - connect to host:port */
static int
dc_connect_inet(const char *spec, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char	 host[256], port[32];
	int	 fd = -1, rc;

	if (sock_split_hostport(spec, host, sizeof(host), port,
	    sizeof(port)) < 0 || *host == 0) {
		snprintf(err, errlen, "malformed address: %s", spec);
		return (-1);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", spec, gai_strerror(rc));
		return (-1);
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		snprintf(err, errlen, "connect %s: %s", spec, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return (fd);
}

/* dc_write - write all of s; -1 on error */
static int
dc_write(struct smtpd_sasl_dovecot *dc, const char *s, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = send(dc->fd, s, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (-1);
		s += n;
		len -= (size_t)n;
	}
	return (0);
}

/*
 * dc_read_line - next line into line (without LF): 0, or -1 with err
 * (EOF, error, timeout: *timedout set), or -2 when too long.
 */
static int
dc_read_line(struct smtpd_sasl_dovecot *dc, struct buf *line, int *timedout,
    char *err, size_t errlen)
{
	struct pollfd pfd;
	struct timespec start, now;
	char	 tmp[4096], *nl;
	ssize_t	 n;
	long	 left_ms;
	size_t	 used;
	int	 rc;

	*timedout = 0;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if ((nl = memchr(BUF_STR(dc->in), '\n', BUF_LEN(dc->in)))) {
			used = (size_t)(nl - BUF_STR(dc->in));
			buf_reset(line);
			buf_append(line, BUF_STR(dc->in), used);
			memmove(BUF_STR(dc->in), nl + 1,
			    BUF_LEN(dc->in) - used - 1);
			buf_truncate(dc->in, BUF_LEN(dc->in) - used - 1);
			return (0);
		}
		if (BUF_LEN(dc->in) > DC_LINE_MAX) {
			snprintf(err, errlen, "line from server too long");
			return (-2);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		left_ms = dc->timeout * 1000
		    - ((now.tv_sec - start.tv_sec) * 1000
		    + (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left_ms <= 0) {
			*timedout = 1;
			snprintf(err, errlen, "timeout after %lds",
			    dc->timeout);
			return (-1);
		}
		pfd.fd = dc->fd;
		pfd.events = POLLIN;
		rc = poll(&pfd, 1, (int)(left_ms > 1000000 ? 1000000
		    : left_ms));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return (-1);
		}
		if (rc == 0)
			continue;
		n = read(dc->fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			return (-1);
		}
		if (n == 0) {
			snprintf(err, errlen, "connection closed by server");
			return (-1);
		}
		buf_append(dc->in, tmp, (size_t)n);
	}
}

/* dc_unescape - undo Dovecot's tab escaping (\001 x) in place */
static void
dc_unescape(char *s)
{
	char	*d = s;

	for (; *s; s++) {
		if (*s == '\001' && s[1]) {
			s++;
			*d++ = *s == '1' ? '\001' : *s == 't' ? '\t'
			    : *s == 'r' ? '\r' : *s == 'n' ? '\n' : *s;
		} else
			*d++ = *s;
	}
	*d = 0;
}

/* dc_field - next tab-separated field ("" at the end) */
static char *
dc_field(char **cp)
{
	char	*start = *cp, *tab;

	if ((tab = strchr(start, '\t')) != NULL) {
		*tab = 0;
		*cp = tab + 1;
	} else
		*cp = start + strlen(start);
	return (start);
}

/* dc_open - connect and read the handshake; -1 with err */
static int
dc_open(struct smtpd_sasl_dovecot *dc, int *timedout, char *err,
    size_t errlen)
{
	struct buf *line = buf_new(256), *out = buf_new(64);
	char	*cp, *tok;
	int	 rc = -1, version_ok = 0, lines;

	*timedout = 0;
	dc_close(dc);
	if (strncmp(dc->path, "inet:", 5) == 0)
		dc->fd = dc_connect_inet(dc->path + 5, err, errlen);
	else
		dc->fd = sock_connect_unix(dc->path, err, errlen);
	if (dc->fd < 0)
		goto out;
	buf_printf(out, "VERSION\t1\t1\nCPID\t%ld\n", (long)getpid());
	if (dc_write(dc, BUF_STR(out), BUF_LEN(out)) < 0) {
		snprintf(err, errlen, "write: %s", strerror(errno));
		goto out;
	}
	dc->has_plain = 0;
	for (lines = 0;; lines++) {
		if (lines >= DC_LINES_MAX) {
			snprintf(err, errlen, "handshake without DONE");
			goto out;
		}
		if (dc_read_line(dc, line, timedout, err, errlen) < 0)
			goto out;
		cp = BUF_STR(line);
		tok = dc_field(&cp);
		if (strcmp(tok, "VERSION") == 0) {
			tok = dc_field(&cp);
			if (strcmp(tok, "1") != 0) {
				snprintf(err, errlen, "unsupported protocol "
				    "version %s", log_safe(tok));
				goto out;
			}
			version_ok = 1;
		} else if (strcmp(tok, "MECH") == 0) {
			tok = dc_field(&cp);
			if (strcasecmp(tok, "PLAIN") == 0)
				dc->has_plain = 1;
		} else if (strcmp(tok, "DONE") == 0)
			break;
	}
	if (!version_ok) {
		snprintf(err, errlen, "no VERSION in the handshake");
		goto out;
	}
	if (!dc->has_plain) {
		snprintf(err, errlen, "the server does not offer PLAIN "
		    "(auth_mechanisms)");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		dc_close(dc);
	buf_free(line);
	buf_free(out);
	return (rc);
}

/* smtpd_sasl_dovecot_new - a client for path (not connected yet) */
struct smtpd_sasl_dovecot *
smtpd_sasl_dovecot_new(const char *path, long timeout)
{
	struct smtpd_sasl_dovecot *dc = xcalloc(1, sizeof(*dc));

	dc->path = xstrdup(path);
	dc->timeout = timeout > 0 ? timeout : 1;
	dc->fd = -1;
	dc->in = buf_new(512);
	return (dc);
}

/* smtpd_sasl_dovecot_free - close and free */
void
smtpd_sasl_dovecot_free(struct smtpd_sasl_dovecot *dc)
{
	if (dc == NULL)
		return;
	dc_close(dc);
	buf_free(dc->in);
	free(dc->path);
	free(dc);
}

/* dc_clean_ip - an address as a protocol field (no tabs, no LF) */
static const char *
dc_clean_ip(const char *ip)
{
	if (ip == NULL || *ip == 0 || strpbrk(ip, "\t\n\r\001"))
		return (NULL);
	return (ip);
}

/*
 * dc_request - one AUTH round trip on an open connection: a result, or
 * -1 (connection trouble; err, *timedout).
 */
static int
dc_request(struct smtpd_sasl_dovecot *dc, const char *req, unsigned int id,
    char **username, struct buf *reason, int *timedout, char *err,
    size_t errlen)
{
	struct buf *line = buf_new(256);
	char	*cp, *tok, *user = NULL, *why = NULL;
	char	 idstr[32];
	int	 rc = -1, temp = 0, lines;

	if (dc_write(dc, req, strlen(req)) < 0) {
		snprintf(err, errlen, "write: %s", strerror(errno));
		goto out;
	}
	snprintf(idstr, sizeof(idstr), "%u", id);
	for (lines = 0;; lines++) {
		if (lines >= DC_LINES_MAX) {
			snprintf(err, errlen, "no reply to request %u", id);
			goto out;
		}
		if (dc_read_line(dc, line, timedout, err, errlen) < 0)
			goto out;
		cp = BUF_STR(line);
		tok = dc_field(&cp);
		if (strcmp(dc_field(&cp), idstr) != 0)
			continue;		/* not ours (stale) */
		break;
	}
	if (strcmp(tok, "CONT") == 0) {
		/* PLAIN with the whole response needs no challenge. */
		snprintf(err, errlen, "unexpected CONT for a PLAIN request");
		goto out;
	}
	if (strcmp(tok, "OK") != 0 && strcmp(tok, "FAIL") != 0) {
		snprintf(err, errlen, "unexpected reply \"%s\"",
		    log_safe(tok));
		goto out;
	}
	while (*cp) {
		char	*f = dc_field(&cp);

		if (strncmp(f, "user=", 5) == 0)
			user = f + 5;
		else if (strncmp(f, "reason=", 7) == 0)
			why = f + 7;
		else if (strcmp(f, "temp") == 0)
			temp = 1;
	}
	if (strcmp(tok, "OK") == 0) {
		if (user && *user) {
			dc_unescape(user);
			*username = xstrdup(user);
		}
		rc = SMTPD_SASL_OK;
	} else {
		if (why)
			dc_unescape(why);
		buf_reset(reason);
		buf_puts(reason, why && *why ? log_safe(why) : temp
		    ? "Temporary authentication failure"
		    : "authentication failure");
		rc = temp ? SMTPD_SASL_TEMP : SMTPD_SASL_FAIL;
	}
out:
	buf_free(line);
	return (rc);
}

/* smtpd_sasl_dovecot_auth - check user/password with Dovecot */
int
smtpd_sasl_dovecot_auth(struct smtpd_sasl_dovecot *dc, const char *service,
    const char *user, const char *password, const char *lip,
    const char *rip, int secured, char **username, struct buf *reason)
{
	struct buf *plain = buf_new(256), *req = buf_new(512);
	char	 err[256];
	int	 attempt, rc = SMTPD_SASL_TEMP, timedout = 0;
	unsigned int id;

	*username = NULL;
	buf_reset(reason);
	buf_putc(plain, 0);
	buf_puts(plain, user);
	buf_putc(plain, 0);
	buf_puts(plain, password);
	for (attempt = 0; attempt < 2; attempt++) {
		if (dc->fd < 0 && dc_open(dc, &timedout, err,
		    sizeof(err)) < 0) {
			log_warn("SASL: cannot connect to Dovecot auth server "
			    "%s: %s", dc->path, err);
			break;
		}
		id = ++dc->next_id;
		buf_reset(req);
		buf_printf(req, "AUTH\t%u\tPLAIN\tservice=%s\tnologin", id,
		    service);
		if (dc_clean_ip(lip))
			buf_printf(req, "\tlip=%s", lip);
		if (dc_clean_ip(rip))
			buf_printf(req, "\trip=%s", rip);
		if (secured)
			buf_puts(req, "\tsecured");
		buf_puts(req, "\tresp=");
		smtpd_sasl_b64_encode(BUF_STR(plain), BUF_LEN(plain), req);
		buf_putc(req, '\n');
		rc = dc_request(dc, BUF_STR(req), id, username, reason,
		    &timedout, err, sizeof(err));
		OPENSSL_cleanse(BUF_STR(req), BUF_LEN(req));
		if (rc >= 0)
			break;
		log_warn("SASL: Dovecot auth server %s: %s", dc->path, err);
		dc_close(dc);
		rc = SMTPD_SASL_TEMP;
		if (timedout)
			break;		/* do not wait twice */
	}
	if (rc == SMTPD_SASL_TEMP && BUF_LEN(reason) == 0)
		buf_puts(reason, timedout ? "Authentication server timeout"
		    : "Connection lost to authentication server");
	if (rc == SMTPD_SASL_OK && *username == NULL)
		*username = xstrdup(user);
	OPENSSL_cleanse(BUF_STR(plain), BUF_LEN(plain));
	buf_free(plain);
	buf_free(req);
	return (rc);
}
