/*
 * NAME
 *	smtp_capture - postern sandbox's capture mode of the smtp client
 * SYNOPSIS
 *	#include "smtp_capture.h"
 *
 *	void	smtp_capture_init(void);
 *	const char *smtp_capture_dir(void);
 *	double	smtp_capture(const struct smtp_cfg *cfg, struct smtp_maps *m,
 *	    struct smtp_sess *s, const char *nexthop, char *relay,
 *	    size_t relaylen);
 * DESCRIPTION
 *	smtp_sandbox_capture_directory (postern's own parameter, set by
 *	"postern sandbox") turns the smtp/lmtp agent into a recorder:
 *	nothing is sent anywhere. smtp_capture_init() reads it once (main
 *	thread, from smtp_cfg_load()); smtp_capture_dir() is NULL when it
 *	is empty (normal delivery).
 *
 *	smtp_capture() stands for one delivery attempt after the
 *	nexthop's TLS policy was taken (smtp_deliver.c's deliver()): it
 *	resolves the nexthop as a delivery would (MX, then A/AAAA, with
 *	the configured resolver, which the sandbox points at its fixture
 *	or at nothing) to name the server that would have been used,
 *	looks up the SASL credentials smtp_sasl_password_maps holds for
 *	it (the username is recorded, never the password), and writes
 *	two files in the capture directory:
 *	  QUEUEID.N.eml	the message as it would have been sent: the
 *			header block rewritten by smtp_generic_maps, then
 *			the body (LF line ends, as queued)
 *	  QUEUEID.N.json	{"queue_id", "transport", "nexthop",
 *			"server": {"host","addr","port"} or null,
 *			"resolve_error", "mail_from" (after
 *			smtp_generic_maps), "original_sender", "rcpt_to":
 *			[{"addr","original"}], "tls": {"level",
 *			"required"}, "auth": {"enabled","username"},
 *			"size", "message": "QUEUEID.N.eml", "time"}
 *	(N: the first free number; the .json is renamed into place last,
 *	so a reader never sees half a capture). Every recipient is then
 *	delivered with "250 2.0.0 Ok: captured as QUEUEID.N" and
 *	relay=capture, so the log has Postfix's "status=sent" line and
 *	qmgr removes the queue file.
 * DIAGNOSTICS
 *	A capture file that cannot be written defers every recipient
 *	(4.3.0, with the reason); a failing SASL table defers as a real
 *	delivery would.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "deliver.h"
#include "deliver_log.h"
#include "log.h"
#include "map.h"
#include "smtp.h"
#include "smtp_capture.h"
#include "tls.h"
#include "xalloc.h"

static char *capture_dir;

/* smtp_capture_init - read the parameter (main thread, once) */
void
smtp_capture_init(void)
{
	const char *d = conf_str("smtp_sandbox_capture_directory");

	free(capture_dir);
	capture_dir = *d ? xstrdup(d) : NULL;
}

/* smtp_capture_dir - the capture directory, or NULL */
const char *
smtp_capture_dir(void)
{
	return (capture_dir);
}

/* json_str - a JSON string (or null) */
static void
json_str(struct buf *b, const char *s)
{
	const unsigned char *p;
	char	 tmp[8];

	if (s == NULL) {
		buf_puts(b, "null");
		return;
	}
	buf_puts(b, "\"");
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)*p;
			buf_append(b, tmp, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
			buf_puts(b, tmp);
		} else
			buf_append(b, (const char *)p, 1);
	}
	buf_puts(b, "\"");
}

/* write_file - all of data to a new file; -1 with errno */
static int
write_file(const char *path, const char *data, size_t len, int excl)
{
	int	 fd, saved;
	ssize_t	 n;

	fd = open(path, O_WRONLY | O_CREAT | (excl ? O_EXCL : O_TRUNC), 0644);
	if (fd < 0)
		return (-1);
	while (len > 0) {
		if ((n = write(fd, data, len)) < 0) {
			if (errno == EINTR)
				continue;
			saved = errno;
			(void)close(fd);
			errno = saved;
			return (-1);
		}
		data += n;
		len -= (size_t)n;
	}
	return (close(fd));
}

/* server_json - the server a delivery would have connected to */
static void
server_json(const struct smtp_cfg *cfg, const char *nexthop, struct buf *j,
    char **host)
{
	struct smtp_nexthop nh;
	struct smtp_dest *d = NULL;
	size_t	 n = 0;
	char	 err[512], status[16], port[16];

	*host = NULL;
	if (smtp_nexthop_parse(nexthop, cfg->lmtp, &nh, err,
	    sizeof(err)) == 0 && smtp_addr_resolve(cfg, &nh, &d, &n, status,
	    err, sizeof(err)) == 0 && n > 0) {
		buf_puts(j, "\"server\": {\"host\": ");
		json_str(j, d[0].host);
		buf_puts(j, ", \"addr\": ");
		json_str(j, *d[0].unix_path ? d[0].unix_path : d[0].addr);
		snprintf(port, sizeof(port), "%d", d[0].port);
		buf_puts(j, ", \"port\": ");
		buf_puts(j, port);
		buf_puts(j, "}, \"resolve_error\": null");
		*host = xstrdup(d[0].host);
	} else {
		buf_puts(j, "\"server\": null, \"resolve_error\": ");
		json_str(j, err);
	}
	free(d);
}

/* envelope_json - sender, recipients, TLS and AUTH; -1: SASL map error */
static int
envelope_json(const struct smtp_cfg *cfg, struct smtp_maps *m,
    struct smtp_sess *s, const char *nexthop, const char *host,
    struct buf *j, char *err, size_t errlen)
{
	char	*user = NULL, *pass = NULL;
	size_t	 i;
	int	 rc = MAP_NOTFOUND;

	buf_puts(j, ", \"mail_from\": ");
	json_str(j, s->sender);
	buf_puts(j, ", \"rcpt_to\": [");
	for (i = 0; i < s->nrcpt; i++) {
		buf_puts(j, i ? ", {\"addr\": " : "{\"addr\": ");
		json_str(j, s->rcpts[i].sent ? s->rcpts[i].sent
		    : s->rcpts[i].addr);
		buf_puts(j, ", \"original\": ");
		json_str(j, s->rcpts[i].addr);
		buf_puts(j, "}");
	}
	buf_puts(j, "], \"tls\": {\"level\": ");
	json_str(j, tls_level_name(s->tls_level));
	buf_puts(j, TLS_REQUIRED(s->tls_level) ? ", \"required\": true}"
	    : ", \"required\": false}");
	if (cfg->sasl_enable && (rc = smtp_sasl_lookup(m, nexthop,
	    host ? host : "", &user, &pass, err, errlen)) == MAP_RETRY)
		return (-1);
	buf_puts(j, cfg->sasl_enable ? ", \"auth\": {\"enabled\": true"
	    : ", \"auth\": {\"enabled\": false");
	buf_puts(j, ", \"username\": ");
	json_str(j, rc == MAP_FOUND ? user : NULL);
	buf_puts(j, "}");
	free(user);
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		free(pass);
	}
	return (0);
}

/* capture_write - the .eml, then the .json; the base name or -1 */
static int
capture_write(struct smtp_sess *s, struct buf *j, char *base, size_t len,
    char *err, size_t errlen)
{
	char	 path[1024], tmp[1024], num[64];
	struct buf *msg = buf_new(s->headers_len + s->body_len + 1);
	int	 i;

	buf_append(msg, s->headers, s->headers_len);
	buf_append(msg, s->body, s->body_len);
	for (i = 1; i < 100000; i++) {
		snprintf(base, len, "%s.%d", s->queue_id, i);
		snprintf(path, sizeof(path), "%s/%s.eml", capture_dir, base);
		if (write_file(path, BUF_STR(msg), BUF_LEN(msg), 1) == 0)
			break;
		if (errno != EEXIST) {
			snprintf(err, errlen, "cannot write %.300s: %m", path);
			buf_free(msg);
			return (-1);
		}
	}
	snprintf(num, sizeof(num), "%zu", BUF_LEN(msg));
	buf_free(msg);
	buf_puts(j, ", \"size\": ");
	buf_puts(j, num);
	buf_puts(j, ", \"message\": ");
	snprintf(tmp, sizeof(tmp), "%s.eml", base);
	json_str(j, tmp);
	snprintf(num, sizeof(num), "%ld", (long)time(NULL));
	buf_puts(j, ", \"time\": ");
	buf_puts(j, num);
	buf_puts(j, "}\n");
	snprintf(tmp, sizeof(tmp), "%s/.%s.json.tmp", capture_dir, base);
	snprintf(path, sizeof(path), "%s/%s.json", capture_dir, base);
	if (write_file(tmp, BUF_STR(j), BUF_LEN(j), 0) < 0
	    || rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot write %.300s: %m", path);
		(void)unlink(tmp);
		return (-1);
	}
	return (0);
}

/* smtp_capture - record the delivery instead of making it */
double
smtp_capture(const struct smtp_cfg *cfg, struct smtp_maps *m,
    struct smtp_sess *s, const char *nexthop, char *relay, size_t relaylen)
{
	struct buf *j = buf_new(1024);
	char	*host = NULL, err[700], base[300], reason[400];
	size_t	 i;
	int	 rc;

	snprintf(relay, relaylen, "capture");
	buf_puts(j, "{\"queue_id\": ");
	json_str(j, s->queue_id);
	buf_puts(j, ", \"transport\": ");
	json_str(j, cfg->service);
	buf_puts(j, ", \"nexthop\": ");
	json_str(j, nexthop);
	buf_puts(j, ", ");
	server_json(cfg, nexthop, j, &host);
	err[0] = 0;
	rc = envelope_json(cfg, m, s, nexthop, host, j, err, sizeof(err));
	free(host);
	if (rc == 0)
		rc = capture_write(s, j, base, sizeof(base), err, sizeof(err));
	buf_free(j);
	for (i = 0; i < s->nrcpt; i++) {
		struct smtp_rcpt *r = &s->rcpts[i];

		if (r->action != NULL)
			continue;
		if (rc < 0) {
			r->action = DELIVER_ACTION_DEFERRED;
			snprintf(r->status, sizeof(r->status), "4.3.0");
			snprintf(r->reason, sizeof(r->reason), "%s", err);
			continue;
		}
		r->action = DELIVER_ACTION_DELIVERED;
		r->dsn_action = "relayed";
		snprintf(r->status, sizeof(r->status), "2.0.0");
		snprintf(reason, sizeof(reason), "250 2.0.0 Ok: captured as %s",
		    base);
		snprintf(r->reason, sizeof(r->reason), "%s", reason);
	}
	if (rc < 0)
		log_warn("%s: sandbox capture: %s", s->queue_id, err);
	return (0);
}
