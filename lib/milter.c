/*
 * NAME
 *	milter - MTA side of the Sendmail 8 milter protocol (versions 2..6)
 * SYNOPSIS
 *	See milter.h.
 * DESCRIPTION
 *	Every read and write waits at most the timeout of its kind:
 *	milter_connect_timeout for the connection and the negotiation,
 *	milter_command_timeout for the SMTP events, milter_content_timeout
 *	for headers, body and end of message. A reply packet is at most
 *	MILTER_PACKET_MAX bytes.
 * DIAGNOSTICS
 *	See milter.h.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "milter.h"
#include "sock.h"
#include "xalloc.h"

#define MILTER_PACKET_MAX	(2 * 1024 * 1024)
#define MILTER_BODY_MAX		(64 * 1024 * 1024)	/* replaced body */

/* SMFIF_* actions we can do */
#define SMFIF_ADDHDRS	0x01
#define SMFIF_CHGBODY	0x02
#define SMFIF_ADDRCPT	0x04
#define SMFIF_DELRCPT	0x08
#define SMFIF_CHGHDRS	0x10
#define SMFIF_QUARANTINE 0x20
#define SMFIF_CHGFROM	0x40
#define SMFIF_ADDRCPT_PAR 0x80
#define SMFIF_SETSYMLIST 0x100

/* SMFIP_* protocol steps */
#define SMFIP_NOCONNECT	0x01
#define SMFIP_NOHELO	0x02
#define SMFIP_NOMAIL	0x04
#define SMFIP_NORCPT	0x08
#define SMFIP_NOBODY	0x10
#define SMFIP_NOHDRS	0x20
#define SMFIP_NOEOH	0x40
#define SMFIP_NR_HDR	0x80
#define SMFIP_NOUNKNOWN	0x100
#define SMFIP_NODATA	0x200
#define SMFIP_SKIP	0x400
#define SMFIP_NR_CONN	0x1000
#define SMFIP_NR_HELO	0x2000
#define SMFIP_NR_MAIL	0x4000
#define SMFIP_NR_RCPT	0x8000
#define SMFIP_NR_DATA	0x10000
#define SMFIP_NR_EOH	0x40000
#define SMFIP_NR_BODY	0x80000
#define SMFIP_HDR_LEADSPC 0x100000

#define REPLY_REJECT_TEXT	"550 5.7.1 Command rejected"
#define REPLY_TEMPFAIL_TEXT	"451 4.7.1 Service unavailable - try again later"

struct milter {
	char	*name;
	int	 fd;
	struct milter_conf conf;
	unsigned version;
	unsigned actions;		/* SMFIF_* the milter asked for */
	unsigned steps;			/* SMFIP_* it chose */
	char	*macros[MILTER_MAC_COUNT];	/* its own lists (v6) */
	struct buf *pkt;		/* the last packet read */
};

/* milter_new - wrap a connected descriptor */
struct milter *
milter_new(const char *name, int fd, const struct milter_conf *conf)
{
	struct milter *m = xcalloc(1, sizeof(*m));

	m->name = xstrdup(name);
	m->fd = fd;
	m->conf = *conf;
	m->pkt = buf_new(256);
	return (m);
}

/* milter_name - the endpoint, for logs */
const char *
milter_name(const struct milter *m)
{
	return (m->name);
}

/* milter_free - close and forget */
void
milter_free(struct milter *m)
{
	int	 i;

	if (m == NULL)
		return;
	if (m->fd >= 0)
		close(m->fd);
	for (i = 0; i < MILTER_MAC_COUNT; i++)
		free(m->macros[i]);
	buf_free(m->pkt);
	free(m->name);
	free(m);
}

/* connect_wait - a non-blocking connect, finished within the deadline */
static int
connect_wait(int fd, const struct sockaddr *sa, socklen_t len,
    time_t deadline)
{
	int	 err = 0;
	socklen_t elen = sizeof(err);

	if (connect(fd, sa, len) == 0)
		return (0);
	if (errno != EINPROGRESS)
		return (-1);
	if (sock_wait(fd, POLLOUT, deadline) < 0)
		return (-1);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return (-1);
	if (err) {
		errno = err;
		return (-1);
	}
	return (0);
}

/* connect_inet - "host:port", numeric or from /etc/hosts */
static int
connect_inet(const char *hp, time_t deadline, char *err, size_t errlen)
{
	char	 host[256], port[32];
	struct addrinfo hints, *res = NULL, *ai;
	int	 fd = -1, rc;

	if (sock_split_hostport(hp, host, sizeof(host), port,
	    sizeof(port)) < 0 || !host[0] || !port[0]) {
		snprintf(err, errlen, "bad milter endpoint: %s", hp);
		return (-1);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", hp, gai_strerror(rc));
		return (-1);
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK
		    | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect_wait(fd, ai->ai_addr, ai->ai_addrlen, deadline) == 0)
			break;
		snprintf(err, errlen, "connect to %s: %s", hp, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return (fd);
}

/* milter_connect_fd - connect to "unix:path" or "inet:host:port" */
int
milter_connect_fd(const char *spec, const char *queue_dir, int timeout,
    char *err, size_t errlen)
{
	time_t	 deadline = time(NULL) + (timeout > 0 ? timeout : 1);
	struct sockaddr_un sun;
	const char *path;
	int	 fd;

	if (strncmp(spec, "inet:", 5) == 0)
		return (connect_inet(spec + 5, deadline, err, errlen));
	if (strncmp(spec, "unix:", 5) != 0) {
		snprintf(err, errlen, "unsupported milter endpoint: %s", spec);
		return (-1);
	}
	path = spec + 5;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s%s%s",
	    path[0] == '/' ? "" : queue_dir, path[0] == '/' ? "" : "/",
	    path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "milter socket path too long: %s", path);
		return (-1);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return (-1);
	}
	if (connect_wait(fd, (struct sockaddr *)&sun, sizeof(sun),
	    deadline) < 0) {
		snprintf(err, errlen, "connect to %s: %s", spec,
		    strerror(errno));
		close(fd);
		return (-1);
	}
	return (fd);
}

/* io_write - all of it, within the deadline */
static int
io_write(int fd, const char *p, size_t len, time_t deadline)
{
	ssize_t	 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (sock_wait(fd, POLLOUT, deadline) < 0)
				return (-1);
			continue;
		}
		return (-1);
	}
	return (0);
}

/* io_read - exactly len bytes, within the deadline */
static int
io_read(int fd, char *p, size_t len, time_t deadline)
{
	ssize_t	 n;

	while (len > 0) {
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0) {
			errno = ECONNRESET;
			return (-1);
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (sock_wait(fd, POLLIN, deadline) < 0)
				return (-1);
			continue;
		}
		return (-1);
	}
	return (0);
}

/* send_packet - one command with its data */
static int
send_packet(struct milter *m, int cmd, const char *data, size_t len,
    int timeout)
{
	char	 hdr[5];
	uint32_t n = htonl((uint32_t)len + 1);
	time_t	 deadline = time(NULL) + timeout;

	memcpy(hdr, &n, 4);
	hdr[4] = (char)cmd;
	if (io_write(m->fd, hdr, 5, deadline) < 0
	    || (len && io_write(m->fd, data, len, deadline) < 0))
		return (-1);
	return (0);
}

/* read_packet - one reply into m->pkt; returns its command or -1 */
static int
read_packet(struct milter *m, int timeout, char *err, size_t errlen)
{
	char	 hdr[5];
	uint32_t n;
	time_t	 deadline = time(NULL) + timeout;

	if (io_read(m->fd, hdr, 4, deadline) < 0) {
		snprintf(err, errlen, "read error: %s", errno == ETIMEDOUT
		    ? "timeout" : strerror(errno));
		return (-1);
	}
	memcpy(&n, hdr, 4);
	n = ntohl(n);
	if (n < 1 || n > MILTER_PACKET_MAX) {
		snprintf(err, errlen, "bad packet length %u", (unsigned)n);
		return (-1);
	}
	buf_reset(m->pkt);
	buf_truncate(m->pkt, 0);
	if (io_read(m->fd, hdr + 4, 1, deadline) < 0)
		goto fail;
	if (n > 1) {
		buf_append(m->pkt, "", 0);
		while (BUF_LEN(m->pkt) < n - 1) {
			char	 tmp[8192];
			size_t	 want = n - 1 - BUF_LEN(m->pkt);

			if (want > sizeof(tmp))
				want = sizeof(tmp);
			if (io_read(m->fd, tmp, want, deadline) < 0)
				goto fail;
			buf_append(m->pkt, tmp, want);
		}
	}
	return ((unsigned char)hdr[4]);
fail:
	snprintf(err, errlen, "read error: %s", errno == ETIMEDOUT
	    ? "timeout" : strerror(errno));
	return (-1);
}

/* put32 - a network-order word */
static void
put32(struct buf *b, uint32_t v)
{
	v = htonl(v);
	buf_append(b, &v, 4);
}

/* get32 - a network-order word */
static uint32_t
get32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return (ntohl(v));
}

/* offer - what postern offers for a protocol version */
static void
offer(unsigned version, unsigned *actions, unsigned *steps)
{
	*actions = SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT
	    | SMFIF_DELRCPT | SMFIF_CHGHDRS | SMFIF_QUARANTINE;
	*steps = 0x7f;			/* SMFIP_NOCONNECT .. NOEOH */
	if (version >= 3)
		*steps |= SMFIP_NR_HDR;
	if (version >= 4)
		*steps |= SMFIP_NOUNKNOWN | SMFIP_NODATA;
	if (version >= 6) {
		*actions |= SMFIF_CHGFROM | SMFIF_ADDRCPT_PAR
		    | SMFIF_SETSYMLIST;
		*steps |= SMFIP_SKIP | SMFIP_NR_CONN | SMFIP_NR_HELO
		    | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_DATA
		    | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_HDR_LEADSPC;
	}
}

/* negotiate_macros - version 6: the lists the milter asks for */
static int
negotiate_macros(struct milter *m, const char *p, size_t len)
{
	uint32_t stage;
	size_t	 slen;

	while (len >= 4) {
		stage = get32(p);
		p += 4;
		len -= 4;
		slen = strnlen(p, len);
		if (slen == len)
			return (-1);
		if (stage < MILTER_MAC_COUNT) {
			free(m->macros[stage]);
			m->macros[stage] = xstrdup(p);
		}
		p += slen + 1;
		len -= slen + 1;
	}
	return (len == 0 ? 0 : -1);
}

/* milter_negotiate - SMFIC_OPTNEG, the milter's choice */
int
milter_negotiate(struct milter *m, char *err, size_t errlen)
{
	struct buf *b = buf_new(16);
	unsigned version = (unsigned)m->conf.protocol, actions, steps;
	int	 cmd;
	const char *p;

	if (version < 2 || version > 6)
		version = 6;
	offer(version, &actions, &steps);
	put32(b, version);
	put32(b, actions);
	put32(b, steps);
	if (send_packet(m, MILTER_CMD_OPTNEG, BUF_STR(b), BUF_LEN(b),
	    m->conf.connect_timeout) < 0) {
		snprintf(err, errlen, "write error: %s", strerror(errno));
		buf_free(b);
		return (-1);
	}
	buf_free(b);
	if ((cmd = read_packet(m, m->conf.connect_timeout, err, errlen)) < 0)
		return (-1);
	p = BUF_STR(m->pkt);
	if (cmd != MILTER_CMD_OPTNEG || BUF_LEN(m->pkt) < 12) {
		snprintf(err, errlen, "bad negotiation reply");
		return (-1);
	}
	m->version = get32(p);
	if (m->version < 2) {
		snprintf(err, errlen, "protocol version %u too old",
		    m->version);
		return (-1);
	}
	if ((get32(p + 4) & ~actions) != 0 || (get32(p + 8) & ~steps) != 0) {
		snprintf(err, errlen, "requested actions 0x%x or steps 0x%x "
		    "not offered (0x%x, 0x%x)", get32(p + 4), get32(p + 8),
		    actions, steps);
		return (-1);
	}
	m->actions = get32(p + 4);
	m->steps = get32(p + 8);
	if (BUF_LEN(m->pkt) > 12 && negotiate_macros(m, p + 12,
	    BUF_LEN(m->pkt) - 12) < 0) {
		snprintf(err, errlen, "bad macro list in negotiation");
		return (-1);
	}
	return (0);
}

/* cmd_info - for a command: SMFIP no-send bit, no-reply bit, macro
 * stage (-1: none) */
static void
cmd_info(int cmd, unsigned *nosend, unsigned *noreply, int *stage)
{
	*nosend = *noreply = 0;
	*stage = -1;
	switch (cmd) {
	case MILTER_CMD_CONNECT:
		*nosend = SMFIP_NOCONNECT, *noreply = SMFIP_NR_CONN;
		*stage = MILTER_MAC_CONNECT;
		break;
	case MILTER_CMD_HELO:
		*nosend = SMFIP_NOHELO, *noreply = SMFIP_NR_HELO;
		*stage = MILTER_MAC_HELO;
		break;
	case MILTER_CMD_MAIL:
		*nosend = SMFIP_NOMAIL, *noreply = SMFIP_NR_MAIL;
		*stage = MILTER_MAC_MAIL;
		break;
	case MILTER_CMD_RCPT:
		*nosend = SMFIP_NORCPT, *noreply = SMFIP_NR_RCPT;
		*stage = MILTER_MAC_RCPT;
		break;
	case MILTER_CMD_DATA:
		*nosend = SMFIP_NODATA, *noreply = SMFIP_NR_DATA;
		*stage = MILTER_MAC_DATA;
		break;
	case MILTER_CMD_HEADER:
		*nosend = SMFIP_NOHDRS, *noreply = SMFIP_NR_HDR;
		break;
	case MILTER_CMD_EOH:
		*nosend = SMFIP_NOEOH, *noreply = SMFIP_NR_EOH;
		*stage = MILTER_MAC_EOH;
		break;
	case MILTER_CMD_BODY:
		*nosend = SMFIP_NOBODY, *noreply = SMFIP_NR_BODY;
		break;
	case MILTER_CMD_BODYEOB:
		*stage = MILTER_MAC_EOM;
		break;
	}
}

/* milter_wants - does the milter take this command at all? */
int
milter_wants(const struct milter *m, int cmd)
{
	unsigned nosend, noreply;
	int	 stage;

	cmd_info(cmd, &nosend, &noreply, &stage);
	return ((m->steps & nosend) == 0);
}

/* send_macros - SMFIC_MACRO for a stage, the names that have a value */
static int
send_macros(struct milter *m, int cmd, int stage, int timeout)
{
	const char *list = m->macros[stage] ? m->macros[stage]
	    : m->conf.macros[stage];
	struct buf *b;
	char	*copy, *name, *save = NULL;
	const char *val;
	int	 rc;

	if (list == NULL || m->conf.macro == NULL)
		return (0);
	b = buf_new(128);
	buf_putc(b, cmd);
	copy = xstrdup(list);
	for (name = strtok_r(copy, " ,\t", &save); name;
	    name = strtok_r(NULL, " ,\t", &save)) {
		if ((val = m->conf.macro(m->conf.macro_ctx, name)) == NULL)
			continue;
		buf_append(b, name, strlen(name) + 1);
		buf_append(b, val, strlen(val) + 1);
	}
	free(copy);
	rc = BUF_LEN(b) > 1 ? send_packet(m, MILTER_CMD_MACRO, BUF_STR(b),
	    BUF_LEN(b), timeout) : 0;
	buf_free(b);
	return (rc);
}

/* event_timeout - command or content timeout */
static int
event_timeout(const struct milter *m, int cmd)
{
	switch (cmd) {
	case MILTER_CMD_HEADER:
	case MILTER_CMD_EOH:
	case MILTER_CMD_BODY:
	case MILTER_CMD_BODYEOB:
		return (m->conf.content_timeout);
	default:
		return (m->conf.command_timeout);
	}
}

/* reply_code - SMFIR_REPLYCODE: "4xx"/"5xx" text, CRLF between lines */
static int
reply_code(struct milter *m, struct milter_reply *r)
{
	const char *p = BUF_STR(m->pkt);
	char	*q;

	snprintf(r->text, sizeof(r->text), "%s", p);
	/* A multi-line reply comes as one string: keep the last line's
	 * code and join the texts (smtpd writes one line). */
	while ((q = strpbrk(r->text, "\r\n")) != NULL)
		*q = ' ';
	if ((p[0] != '4' && p[0] != '5') || strlen(p) < 3
	    || (p[3] != ' ' && p[3] != '-' && p[3] != 0)) {
		snprintf(r->text, sizeof(r->text), "%s", p[0] == '4'
		    ? REPLY_TEMPFAIL_TEXT : REPLY_REJECT_TEXT);
		return (p[0] == '4' ? MILTER_TEMPFAIL : MILTER_REJECT);
	}
	return (p[0] == '4' ? MILTER_TEMPFAIL : MILTER_REJECT);
}

/* verdict - a final reply packet's meaning; -2: not final */
static int
verdict(struct milter *m, int cmd, struct milter_reply *r)
{
	switch (cmd) {
	case 'c':			/* SMFIR_CONTINUE */
		return (MILTER_CONTINUE);
	case 'a':			/* SMFIR_ACCEPT */
		return (MILTER_ACCEPT);
	case 'r':			/* SMFIR_REJECT */
		snprintf(r->text, sizeof(r->text), REPLY_REJECT_TEXT);
		return (MILTER_REJECT);
	case 't':			/* SMFIR_TEMPFAIL */
		snprintf(r->text, sizeof(r->text), REPLY_TEMPFAIL_TEXT);
		return (MILTER_TEMPFAIL);
	case 'd':			/* SMFIR_DISCARD */
		return (MILTER_DISCARD);
	case 's':			/* SMFIR_SKIP */
		return (MILTER_SKIP);
	case 'y':			/* SMFIR_REPLYCODE */
		return (reply_code(m, r));
	case '4':			/* SMFIR_SHUTDOWN */
	case 'f':			/* SMFIR_CONN_FAIL */
		snprintf(r->text, sizeof(r->text), REPLY_TEMPFAIL_TEXT);
		return (MILTER_TEMPFAIL);
	default:
		return (-2);
	}
}

/* milter_event - send one event (after its macros), read the verdict */
int
milter_event(struct milter *m, int cmd, const char *data, size_t len,
    struct milter_reply *r)
{
	unsigned nosend, noreply;
	int	 stage, timeout = event_timeout(m, cmd), rc, got;

	r->text[0] = 0;
	cmd_info(cmd, &nosend, &noreply, &stage);
	if (m->steps & nosend)
		return (MILTER_CONTINUE);
	if ((stage >= 0 && send_macros(m, cmd, stage, timeout) < 0)
	    || send_packet(m, cmd, data, len, timeout) < 0) {
		snprintf(r->text, sizeof(r->text), "write error: %s",
		    strerror(errno));
		return (MILTER_ERROR);
	}
	if (m->steps & noreply)
		return (MILTER_CONTINUE);
	for (;;) {
		if ((got = read_packet(m, timeout, r->text,
		    sizeof(r->text))) < 0)
			return (MILTER_ERROR);
		if (got == 'p')		/* SMFIR_PROGRESS: wait on */
			continue;
		if ((rc = verdict(m, got, r)) == -2) {
			snprintf(r->text, sizeof(r->text),
			    "unexpected reply '%c' to '%c'", isprint(got)
			    ? got : '?', cmd);
			return (MILTER_ERROR);
		}
		if (rc == MILTER_SKIP && cmd != MILTER_CMD_BODY)
			rc = MILTER_CONTINUE;
		return (rc);
	}
}

/* milter_header - SMFIC_HEADER: "name\0value\0"; one space after the
 * colon is eaten unless the milter asked for SMFIP_HDR_LEADSPC */
int
milter_header(struct milter *m, const char *name, const char *value,
    struct milter_reply *r)
{
	struct buf *b = buf_new(strlen(name) + strlen(value) + 2);
	int	 rc;

	if (!(m->steps & SMFIP_HDR_LEADSPC) && *value == ' ')
		value++;
	buf_append(b, name, strlen(name) + 1);
	buf_append(b, value, strlen(value) + 1);
	rc = milter_event(m, MILTER_CMD_HEADER, BUF_STR(b), BUF_LEN(b), r);
	buf_free(b);
	return (rc);
}

/* mods_add - one modification request */
static void
mods_add(struct milter_mods *mods, int type, unsigned index,
    const char *name, const char *value)
{
	struct milter_mod *d;

	if (mods->n == mods->cap) {
		mods->cap = mods->cap ? 2 * mods->cap : 8;
		mods->v = xrealloc(mods->v, mods->cap * sizeof(*mods->v));
	}
	d = mods->v + mods->n++;
	d->type = type;
	d->index = index;
	d->name = xstrdup(name);
	d->value = value ? xstrdup(value) : NULL;
}

/* strings - split "a\0b\0" into at most two strings; -1: malformed */
static int
strings(const char *p, size_t len, const char **a, const char **b)
{
	size_t	 l1;

	*a = *b = NULL;
	if (len == 0 || p[len - 1] != 0)
		return (-1);
	*a = p;
	l1 = strlen(p) + 1;
	if (l1 < len)
		*b = p + l1;
	return (0);
}

/* eom_mod - one modification packet; 0 ok, -1 malformed or not allowed */
static int
eom_mod(struct milter *m, int cmd, struct milter_mods *mods)
{
	const char *p = BUF_STR(m->pkt), *a, *b;
	size_t	 len = BUF_LEN(m->pkt);
	unsigned idx = 0;

	switch (cmd) {
	case 'h':			/* SMFIR_ADDHEADER */
	case 'i':			/* SMFIR_INSHEADER */
	case 'm':			/* SMFIR_CHGHEADER */
		if (!(m->actions & (cmd == 'h' || cmd == 'i' ? SMFIF_ADDHDRS
		    : SMFIF_CHGHDRS)))
			return (-1);
		if (cmd != 'h') {
			if (len < 4)
				return (-1);
			idx = get32(p);
			p += 4, len -= 4;
		}
		if (strings(p, len, &a, &b) < 0 || b == NULL || !*a)
			return (-1);
		mods_add(mods, cmd, idx, a, b);
		return (0);
	case '+':			/* SMFIR_ADDRCPT */
	case '2':			/* SMFIR_ADDRCPT_PAR */
	case '-':			/* SMFIR_DELRCPT */
	case 'e':			/* SMFIR_CHGFROM */
		if (strings(p, len, &a, &b) < 0)
			return (-1);
		mods_add(mods, cmd == '2' ? '+' : cmd, 0, a, b);
		return (0);
	case 'b':			/* SMFIR_REPLBODY */
		if (!(m->actions & SMFIF_CHGBODY))
			return (-1);
		if (mods->body == NULL)
			mods->body = buf_new(len + 1);
		if (BUF_LEN(mods->body) + len > MILTER_BODY_MAX)
			return (-1);
		buf_append(mods->body, p, len);
		return (0);
	case 'q':			/* SMFIR_QUARANTINE */
		if (strings(p, len, &a, &b) < 0)
			return (-1);
		free(mods->quarantine);
		mods->quarantine = xstrdup(a);
		return (0);
	default:
		return (-1);
	}
}

/* milter_eom - end of message: modifications, then the verdict */
int
milter_eom(struct milter *m, struct milter_reply *r,
    struct milter_mods *mods)
{
	int	 timeout = m->conf.content_timeout, cmd, rc;

	r->text[0] = 0;
	if (send_macros(m, MILTER_CMD_BODYEOB, MILTER_MAC_EOM, timeout) < 0
	    || send_packet(m, MILTER_CMD_BODYEOB, NULL, 0, timeout) < 0) {
		snprintf(r->text, sizeof(r->text), "write error: %s",
		    strerror(errno));
		return (MILTER_ERROR);
	}
	for (;;) {
		if ((cmd = read_packet(m, timeout, r->text,
		    sizeof(r->text))) < 0)
			return (MILTER_ERROR);
		if (cmd == 'p')
			continue;
		if ((rc = verdict(m, cmd, r)) != -2)
			return (rc == MILTER_SKIP ? MILTER_CONTINUE : rc);
		if (eom_mod(m, cmd, mods) < 0) {
			snprintf(r->text, sizeof(r->text),
			    "bad or unrequested modification '%c'",
			    isprint(cmd) ? cmd : '?');
			return (MILTER_ERROR);
		}
	}
}

/* milter_abort - the transaction ends without end of message */
void
milter_abort(struct milter *m)
{
	(void)send_packet(m, MILTER_CMD_ABORT, NULL, 0,
	    m->conf.command_timeout);
}

/* milter_quit - the session ends (one try, never waits: smtpd calls
 * it on its event loop) */
void
milter_quit(struct milter *m)
{
	static const char pkt[5] = { 0, 0, 0, 1, MILTER_CMD_QUIT };

	if (m->fd >= 0)
		(void)send(m->fd, pkt, sizeof(pkt), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* milter_mods_free - release collected modifications */
void
milter_mods_free(struct milter_mods *mods)
{
	size_t	 i;

	for (i = 0; i < mods->n; i++) {
		free(mods->v[i].name);
		free(mods->v[i].value);
	}
	free(mods->v);
	buf_free(mods->body);
	free(mods->quarantine);
	memset(mods, 0, sizeof(*mods));
}
