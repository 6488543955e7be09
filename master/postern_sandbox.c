/*
 * NAME
 *	postern_sandbox - "postern sandbox": a configuration, unchanged, in
 *	a throwaway directory where nothing leaves the machine
 * SYNOPSIS
 *	int	postern_sandbox_main(int argc, char **argv);
 *
 *	postern sandbox -c CONFIG_DIR [--dir DIR] [--keep] [--dns FIXTURE]
 *	    [--sql FILE]... [--json FILE] [-o name=value]...
 *	postern sandbox stop DIR
 *	postern sandbox queue DIR
 *	postern sandbox mailbox DIR [ADDR]
 *	postern sandbox captured DIR
 *	postern sandbox log DIR QUEUEID
 * DESCRIPTION
 *	start (the first form) copies CONFIG_DIR's main.cf and master.cf
 *	to DIR/etc (default: a new /tmp/postern-sandbox.XXXXXX; an
 *	existing DIR must be empty) and changes the copies only so:
 *	  - each TYPE:/path map the two files name (hash, btree, lmdb,
 *	    texthash, cidr, pcre, regexp, mysql, ...) is copied to
 *	    DIR/etc/maps (from CONFIG_DIR/basename when that exists: a
 *	    configuration written for /etc/postfix can be tested from its
 *	    checkout; else from the path itself) and the reference is
 *	    rewritten ($config_directory/NAME: copied to DIR/etc/NAME, the
 *	    sandbox's config_directory, reference unchanged);
 *	    hash/btree/lmdb/cdb/dbm ones are rebuilt with postmap
 *	    (postalias for alias_maps and alias_database); a map found
 *	    nowhere is left as it is (postern check says so);
 *	  - every inet service of master.cf listens on 127.0.0.1:PORT,
 *	    a port free at start;
 *	  - appended to main.cf, after the administrator's lines: the
 *	    directories (queue, data, Maildirs, log = DIR/maillog,
 *	    daemons = this program's), inet_interfaces = 127.0.0.1, no
 *	    smtp_bind_address, resolver_nameservers (the fixture's
 *	    dnsmasq, or 127.0.0.1:9 where nothing answers), the smtp
 *	    client's capture mode (smtp_sandbox_capture_directory =
 *	    DIR/capture: smtp/smtp_capture.c), virtual_uid/gid_maps =
 *	    the caller (unprivileged; as root: the configuration's, else
 *	    vmail), mynetworks when main.cf does not set it (what Postfix
 *	    derives from inet_interfaces = 127.0.0.1: 127.0.0.1/32 for
 *	    mynetworks_style = host, else 127.0.0.0/8; so 127.0.0.2 and
 *	    up are Internet clients), a certificate (DIR/etc/cert.pem, self-signed, which
 *	    is its own CA) when smtpd_tls_cert_file or key_file names a
 *	    file the caller cannot read, then each -o name=value.
 *	--dns FIXTURE: a private dnsmasq answers from lines "name TYPE
 *	value" (A, AAAA, MX "pref host", TXT, PTR (name or address),
 *	CNAME); every other name is NXDOMAIN.
 *	--sql FILE (repeatable): a private MariaDB in DIR/db; each
 *	dbname the mysql: tables name is created and every FILE loaded
 *	into it, in order; the table copies get hosts, user, password
 *	of a sandbox account.
 *	Then "postern -c DIR/etc start" (its check warnings on stderr),
 *	and a wait until every port accepts. The services, paths, PIDs
 *	and the stop command go to stdout, DIR/sandbox.json and --json
 *	FILE.
 *
 *	stop: SIGTERM to master, dnsmasq and mariadbd (by the PIDs the
 *	start recorded), SIGKILL to any of them or their children still
 *	alive after 1 s (POSTERN_SANDBOX_STOP_WAIT seconds if set: the
 *	sanitizer build's processes take longer to exit); then DIR is
 *	removed unless --keep was given.
 *
 *	queue: {"count", "messages": postqueue -j's objects}; mailbox:
 *	{"count", "messages": [{"maildir", "file", "size",
 *	"delivered_to", "subject"}]}, only ADDR's (Delivered-To) when
 *	given; captured: {"count", "messages": the capture records of
 *	smtp_capture.c}; log: {"queue_id", "count", "lines": [...]}.
 * DIAGNOSTICS
 *	Exit status: 0 success; 1 the configuration did not start (master
 *	failed, a port does not accept: whatever was started is stopped,
 *	DIR is kept for a look) or stop found a process it had to kill
 *	with SIGKILL, or log found no line; 2 usage, or DIR is not a
 *	sandbox; 3 a helper program (openssl, dnsmasq, MariaDB, postmap)
 *	is missing or failed.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <mysql.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "postern_sandbox.h"
#include "str.h"
#include "xalloc.h"

#define SB_MAX_SVC	64
#define SB_MAX_MAPS	128

struct sb_svc {
	char	*name;		/* master.cf's first field, as written */
	char	*command;
	int	 port;
};

struct sb_map {
	char	*type;
	char	*path;		/* as written */
	char	*dest;		/* NULL: left as it is */
	int	 alias;
};

struct sb {
	char	*conf;		/* CONFIG_DIR, absolute */
	int	 conf_owned;
	char	*dir;
	char	*etc;
	char	*bin;
	int	 keep;
	int	 made_dir;
	const char *dns;
	struct strv *sql;
	const char *json;
	struct strv *over;	/* -o */
	struct sb_svc svc[SB_MAX_SVC];
	int	 nsvc;
	struct sb_map map[SB_MAX_MAPS];
	int	 nmap;
	long	 master_pid, dns_pid, db_pid;
	int	 dns_port, db_port;
	char	 db_pass[24];
	struct strv *dbnames;
	char	*cert;
	double	 start_time;
};

static char *sb_garbage[16];	/* strings sb_free() frees */
static int sb_ngarbage;

/* sb_keep - a string to free at the end */
static char *
sb_keep(char *s)
{
	if (sb_ngarbage < (int)(sizeof(sb_garbage) / sizeof(*sb_garbage)))
		sb_garbage[sb_ngarbage++] = s;
	return (s);
}

/* now - monotonic seconds */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* slurp - a whole file, NUL-terminated; NULL with errno */
static char *
slurp(const char *path, size_t *lenp)
{
	struct buf *b = buf_new(4096);
	char	 tmp[8192];
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		buf_free(b);
		return (NULL);
	}
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_append(b, tmp, (size_t)n);
	close(fd);
	if (lenp)
		*lenp = BUF_LEN(b);
	return (buf_steal(b));
}

/* spit - write a whole file */
static int
spit(const char *path, const char *data, size_t len, int mode)
{
	FILE	*fp;
	int	 ok;

	if ((fp = fopen(path, "w")) == NULL)
		return (-1);
	ok = fwrite(data, 1, len, fp) == len;
	if (fclose(fp) != 0 || !ok)
		return (-1);
	return (chmod(path, (mode_t)mode));
}

/* json_str - a JSON string */
static void
json_str(struct buf *b, const char *s)
{
	const unsigned char *p;

	if (s == NULL) {
		buf_puts(b, "null");
		return;
	}
	buf_putc(b, '"');
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, *p);
		} else if (*p < 0x20 || *p == 0x7f)
			buf_printf(b, "\\u%04x", *p);
		else
			buf_putc(b, *p);
	}
	buf_putc(b, '"');
}

/* run - a program, waited for; its exit status (127: not run) */
static int
run(char *const argv[], const char *out)
{
	pid_t	 pid;
	int	 st, fd;

	if ((pid = fork()) < 0)
		return (127);
	if (pid == 0) {
		if (out != NULL && (fd = open(out, O_WRONLY | O_CREAT
		    | O_APPEND, 0644)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return (127);
	return (WIFEXITED(st) ? WEXITSTATUS(st) : 128);
}

/* spawn - a server in its own session, stdio to a file; its pid */
static long
spawn(char *const argv[], const char *out)
{
	pid_t	 pid;
	int	 fd;

	if ((pid = fork()) < 0)
		return (-1);
	if (pid == 0) {
		setsid();
		if ((fd = open("/dev/null", O_RDONLY)) >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		if ((fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644))
		    >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return ((long)pid);
}

/* free_port - a TCP port free on 127.0.0.1 now */
static int
free_port(int type)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int	 fd, port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, type, 0)) < 0)
		return (-1);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0
	    && getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return (port);
}

/* accepts - a connect to 127.0.0.1:port succeeds */
static int
accepts(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int	 fd, ok;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return (0);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return (ok);
}

/* alive - the process exists and is not a zombie */
static int
alive(long pid)
{
	char	 path[64], *s, *p;
	int	 zombie;

	if (pid <= 0 || kill((pid_t)pid, 0) < 0)
		return (0);
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((s = slurp(path, NULL)) == NULL)
		return (0);
	p = strrchr(s, ')');
	zombie = p != NULL && p[1] == ' ' && p[2] == 'Z';
	free(s);
	if (zombie)
		(void)waitpid((pid_t)pid, NULL, WNOHANG);
	return (!zombie);
}


static const char *sb_map_types[] = {
	"hash", "btree", "lmdb", "cdb", "dbm", "sdbm", "texthash", "cidr",
	"pcre", "regexp", "mysql", NULL,
};

/* confrel - the path after "$config_directory/", or NULL */
static const char *
confrel(const char *path)
{
	if (strncmp(path, "$config_directory/", 18) == 0)
		return (path + 18);
	if (strncmp(path, "${config_directory}/", 20) == 0)
		return (path + 20);
	return (NULL);
}

/* map_type - length of "TYPE:" at p when TYPE is a file map type */
static size_t
map_type(const char *p)
{
	size_t	 i, n;

	for (i = 0; sb_map_types[i]; i++) {
		n = strlen(sb_map_types[i]);
		if (strncmp(p, sb_map_types[i], n) == 0 && p[n] == ':'
		    && (p[n + 1] == '/' || confrel(p + n + 1) != NULL))
			return (n + 1);
	}
	return (0);
}

/* map_find - the map entry for type:path, added when new */
static struct sb_map *
map_find(struct sb *sb, const char *type, size_t tlen, const char *path,
    size_t plen)
{
	struct sb_map *m;
	int	 i;

	for (i = 0; i < sb->nmap; i++) {
		m = &sb->map[i];
		if (strlen(m->type) == tlen && strncmp(m->type, type, tlen) == 0
		    && strlen(m->path) == plen
		    && strncmp(m->path, path, plen) == 0)
			return (m);
	}
	if (sb->nmap == SB_MAX_MAPS)
		return (NULL);
	m = &sb->map[sb->nmap++];
	m->type = xstrndup(type, tlen);
	m->path = xstrndup(path, plen);
	return (m);
}

/* line_param - the parameter a main.cf line (or its continuation) sets */
static int
is_alias_param(const char *text, const char *at)
{
	const char *l = at;

	/* back to the start of the logical line */
	for (;;) {
		while (l > text && l[-1] != '\n')
			l--;
		if (l == text || (*l != ' ' && *l != '\t'))
			break;
		l--;
	}
	return (strncmp(l, "alias_maps", 10) == 0
	    || strncmp(l, "alias_database", 14) == 0);
}

/* maps_rewrite - collect (first pass) or rewrite the map references */
static char *
maps_rewrite(struct sb *sb, const char *text, int collect)
{
	struct buf *out = buf_new(strlen(text) + 256);
	const char *p = text, *path;
	struct sb_map *m;
	size_t	 t, n;

	while (*p) {
		if ((p == text || p[-1] == '\n') && *p == '#') {
			n = strcspn(p, "\n");
			buf_append(out, p, n);
			p += n;
			continue;
		}
		if ((p == text || strchr(" \t\n,=:{", p[-1]) != NULL)
		    && (t = map_type(p)) > 0) {
			path = p + t;
			n = strcspn(path, " \t\n,}");
			m = strchr(path, '$') && strchr(path, '$') < path + n
			    && confrel(path) == NULL ? NULL
			    : map_find(sb, p, t - 1, path, n);
			if (m && collect && is_alias_param(text, p))
				m->alias = 1;
			if (m && !collect && m->dest && !confrel(m->path)) {
				buf_append(out, p, t);
				buf_puts(out, m->dest);
				p = path + n;
				continue;
			}
			buf_append(out, p, t + n);
			p = path + n;
			continue;
		}
		buf_putc(out, *p++);
	}
	return (buf_steal(out));
}

/* map_source - where a map's source file is, or NULL */
static char *
map_source(struct sb *sb, const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char	*alt;

	/* the configuration's own directory first: a configuration made
	 * for /etc/postfix is tested from where it is written */
	alt = xasprintf("%s/%s", sb->conf, base);
	if (access(alt, R_OK) == 0)
		return (alt);
	free(alt);
	if (access(path, R_OK) == 0)
		return (xstrdup(path));
	return (NULL);
}

/* maps_copy - each map's file into DIR/etc/maps; 0 or 3 */
static int
maps_copy(struct sb *sb)
{
	struct sb_map *m;
	char	*src, *data, *dest, *spec, *argv[6];
	const char *base;
	size_t	 len;
	int	 i, j, rc;

	for (i = 0; i < sb->nmap; i++) {
		m = &sb->map[i];
		if (confrel(m->path) != NULL) {
			/* DIR/etc is the sandbox's $config_directory */
			src = xasprintf("%s/%s", sb->conf, confrel(m->path));
			if (access(src, R_OK) < 0) {
				free(src);
				src = NULL;
			}
		} else
			src = map_source(sb, m->path);
		if (src == NULL) {
			fprintf(stderr, "postern sandbox: %s:%s: no such file "
			    "(nor in %s); left as it is\n", m->type, m->path,
			    sb->conf);
			continue;
		}
		base = strrchr(m->path, '/') + 1;
		dest = confrel(m->path) ? xasprintf("%s/%s", sb->etc,
		    confrel(m->path)) : xasprintf("%s/maps/%s", sb->etc, base);
		for (j = 2; !confrel(m->path) && access(dest, F_OK) == 0; j++) {
			free(dest);
			dest = xasprintf("%s/maps/%d-%s", sb->etc, j, base);
		}
		data = slurp(src, &len);
		if (data == NULL || spit(dest, data, len, 0644) < 0) {
			fprintf(stderr, "postern sandbox: cannot copy %s to "
			    "%s: %m\n", src, dest);
			free(data);
			free(src);
			free(dest);
			return (3);
		}
		free(data);
		free(src);
		m->dest = dest;
		if (strcmp(m->type, "hash") && strcmp(m->type, "btree")
		    && strcmp(m->type, "lmdb") && strcmp(m->type, "cdb")
		    && strcmp(m->type, "dbm") && strcmp(m->type, "sdbm"))
			continue;
		spec = xasprintf("%s:%s", m->type, dest);
		argv[0] = xasprintf("%s/%s", sb->bin,
		    m->alias ? "postalias" : "postmap");
		argv[1] = "-c";
		argv[2] = sb->conf;	/* DIR/etc/main.cf comes later */
		argv[3] = spec;
		argv[4] = NULL;
		rc = run(argv, NULL);
		free(argv[0]);
		free(spec);
		if (rc != 0) {
			fprintf(stderr, "postern sandbox: %s %s:%s failed\n",
			    m->alias ? "postalias" : "postmap", m->type, dest);
			return (3);
		}
	}
	return (0);
}

/* mastercf_ports - every inet service to 127.0.0.1:PORT */
static char *
mastercf_ports(struct sb *sb, const char *text)
{
	struct buf *out = buf_new(strlen(text) + 256);
	struct strv *f;
	const char *p = text, *e;
	char	*line;
	int	 port;

	for (; *p; p = *e ? e + 1 : e) {
		e = p + strcspn(p, "\n");
		line = xstrndup(p, (size_t)(e - p));
		f = strv_split(line, " \t");
		if (*line != '#' && *line != ' ' && *line != '\t'
		    && f->argc >= 8 && strcmp(f->argv[1], "inet") == 0
		    && sb->nsvc < SB_MAX_SVC
		    && (port = free_port(SOCK_STREAM)) > 0) {
			sb->svc[sb->nsvc].name = xstrdup(f->argv[0]);
			sb->svc[sb->nsvc].command = xstrdup(f->argv[7]);
			sb->svc[sb->nsvc++].port = port;
			buf_printf(out, "127.0.0.1:%d%s", port,
			    line + strlen(f->argv[0]));
		} else
			buf_puts(out, line);
		if (*e)
			buf_putc(out, '\n');
		strv_free(f);
		free(line);
	}
	return (buf_steal(out));
}

/* cert_make - DIR/etc/cert.pem and key.pem (RSA: the seed's TLS 1.2
 * ciphers are RSA-only); 0 or 3 */
static int
cert_make(struct sb *sb)
{
	char	*subj, *san, *key, *argv[20];
	int	 i = 0, rc;

	subj = xasprintf("/O=postern sandbox/CN=%s", conf_str("myhostname"));
	san = xasprintf("subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1",
	    conf_str("myhostname"));
	sb->cert = xasprintf("%s/cert.pem", sb->etc);
	key = xasprintf("%s/key.pem", sb->etc);
	argv[i++] = "openssl";
	argv[i++] = "req";
	argv[i++] = "-x509";
	argv[i++] = "-newkey";
	argv[i++] = "rsa:2048";
	argv[i++] = "-nodes";
	argv[i++] = "-days";
	argv[i++] = "30";
	argv[i++] = "-subj";
	argv[i++] = subj;
	argv[i++] = "-addext";
	argv[i++] = san;
	argv[i++] = "-addext";
	argv[i++] = "basicConstraints=critical,CA:TRUE";
	argv[i++] = "-keyout";
	argv[i++] = key;
	argv[i++] = "-out";
	argv[i++] = sb->cert;
	argv[i] = NULL;
	rc = run(argv, "/dev/null");
	if (rc == 0)
		(void)chmod(sb->cert, 0644);
	if (rc == 0 && getuid() == 0)
		(void)chmod(key, 0644);	/* the postern user's smtpd */
	free(subj);
	free(san);
	free(key);
	if (rc != 0)
		fprintf(stderr, "postern sandbox: openssl req failed (%d)\n",
		    rc);
	return (rc ? 3 : 0);
}

/* dns_line - one fixture line as dnsmasq configuration */
static int
dns_line(struct buf *out, char *line)
{
	struct strv *f = strv_split(line, " \t");
	unsigned a, b, c, d;
	int	 ok = 1;
	char	*rest;

	if (f->argc < 3) {
		ok = f->argc == 0 || f->argv[0][0] == '#';
		strv_free(f);
		return (ok ? 0 : -1);
	}
	if (f->argv[0][0] == '#')
		;
	else if (strcasecmp(f->argv[1], "A") == 0
	    || strcasecmp(f->argv[1], "AAAA") == 0)
		buf_printf(out, "address=/%s/%s\n", f->argv[0], f->argv[2]);
	else if (strcasecmp(f->argv[1], "MX") == 0 && f->argc >= 4)
		buf_printf(out, "mx-host=%s,%s,%s\n", f->argv[0], f->argv[3],
		    f->argv[2]);
	else if (strcasecmp(f->argv[1], "TXT") == 0) {
		rest = strstr(line, f->argv[1]) + strlen(f->argv[1]);
		rest += strspn(rest, " \t");
		if (*rest == '"')
			buf_printf(out, "txt-record=%s,%s\n", f->argv[0],
			    rest);
		else
			buf_printf(out, "txt-record=%s,\"%s\"\n", f->argv[0],
			    rest);
	} else if (strcasecmp(f->argv[1], "PTR") == 0) {
		if (sscanf(f->argv[0], "%u.%u.%u.%u", &a, &b, &c, &d) == 4
		    && strspn(f->argv[0], "0123456789.")
		    == strlen(f->argv[0]))
			buf_printf(out, "ptr-record=%u.%u.%u.%u.in-addr.arpa,"
			    "%s\n", d, c, b, a, f->argv[2]);
		else
			buf_printf(out, "ptr-record=%s,%s\n", f->argv[0],
			    f->argv[2]);
	} else if (strcasecmp(f->argv[1], "CNAME") == 0)
		buf_printf(out, "cname=%s,%s\n", f->argv[0], f->argv[2]);
	else
		ok = 0;
	strv_free(f);
	return (ok ? 0 : -1);
}

/*
 * dns_start - dnsmasq answering from the fixture; 0, 2 or 3. The port
 * is only probed free (free_port) before dnsmasq binds it, so a
 * dnsmasq that exits at once (the port taken meanwhile) is started
 * again on another port, up to DNS_START_TRIES times; one that lives
 * gets DNS_START_WAIT seconds to log its start (a busy machine).
 */
#define DNS_START_TRIES	3
#define DNS_START_WAIT	15
static int
dns_start(struct sb *sb)
{
	struct buf *c = buf_new(4096), *lines = buf_new(4096);
	char	*text, *line, *save = NULL, *conf, *log, *out, *arg, *argv[4];
	int	 n = 0, i, try, tries = 0, started = 0;

	if ((text = slurp(sb->dns, NULL)) == NULL) {
		fprintf(stderr, "postern sandbox: %s: %m\n", sb->dns);
		buf_free(c);
		buf_free(lines);
		return (2);
	}
	for (line = strtok_r(text, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		n++;
		if (dns_line(lines, line) < 0) {
			fprintf(stderr, "postern sandbox: %s:%d: not \"name "
			    "A|AAAA|MX|TXT|PTR|CNAME value\": %s\n", sb->dns,
			    n, line);
			free(text);
			buf_free(c);
			buf_free(lines);
			return (2);
		}
	}
	free(text);
	log = xasprintf("%s/dns/dnsmasq.log", sb->dir);
	conf = xasprintf("%s/dns/dnsmasq.conf", sb->dir);
	out = xasprintf("%s/dns/dnsmasq.out", sb->dir);
	arg = xasprintf("--conf-file=%s", conf);
	for (try = 0; try < DNS_START_TRIES && !started; try++) {
		sb->dns_port = free_port(SOCK_DGRAM);
		buf_reset(c);
		buf_printf(c, "no-resolv\nno-hosts\nno-poll\nbind-interfaces\n"
		    "listen-address=127.0.0.1\nexcept-interface=nonexistent0\n"
		    "port=%d\nlog-queries\nlog-facility=%s\npid-file=\n"
		    "user=%s\nlocal=/#/\n", sb->dns_port, log,
		    getpwuid(getuid()) ? getpwuid(getuid())->pw_name
		    : "nobody");
		buf_append(c, BUF_STR(lines), BUF_LEN(lines));
		(void)spit(conf, BUF_STR(c), BUF_LEN(c), 0644);
		(void)spit(log, "", 0, 0644);
		argv[0] = "dnsmasq";
		argv[1] = "--keep-in-foreground";
		argv[2] = arg;
		argv[3] = NULL;
		sb->dns_pid = spawn(argv, out);
		tries++;
		for (i = 0; i < DNS_START_WAIT * 100; i++) {
			text = slurp(log, NULL);
			started = text && strstr(text, "started, version")
			    != NULL;
			free(text);
			if (started || !alive(sb->dns_pid))
				break;
			usleep(10000);
		}
		if (!started && alive(sb->dns_pid))
			break;			/* alive but silent: no retry */
	}
	free(arg);
	free(conf);
	free(log);
	buf_free(c);
	buf_free(lines);
	if (!started) {
		text = slurp(out, NULL);
		fprintf(stderr, "postern sandbox: dnsmasq did not start "
		    "(%d tries): see %s/dns/%s%s\n", tries, sb->dir,
		    text && *text ? ": " : "", text ? text : "");
		free(text);
		free(out);
		return (3);
	}
	free(out);
	return (0);
}

/* db_query - statements on the sandbox's MariaDB; 0 or -1 */
static int
db_query(struct sb *sb, const char *db, const char *sql)
{
	MYSQL	*my = mysql_init(NULL);
	char	*sock = xasprintf("%s/db/mysql.sock", sb->dir);
	MYSQL_RES *res;
	int	 rc = -1;

	if (my != NULL && mysql_real_connect(my, NULL, "root", NULL, db, 0,
	    sock, CLIENT_MULTI_STATEMENTS) != NULL) {
		rc = mysql_real_query(my, sql, strlen(sql)) == 0 ? 0 : -1;
		while (rc == 0) {
			if ((res = mysql_store_result(my)) != NULL)
				mysql_free_result(res);
			if (mysql_next_result(my) != 0)
				break;
		}
		if (mysql_errno(my) != 0) {
			if (sql[0] != '-')	/* not the wait probe */
				fprintf(stderr, "postern sandbox: MariaDB: "
				    "%s\n", mysql_error(my));
			rc = -1;
		}
	}
	if (my)
		mysql_close(my);
	free(sock);
	return (rc);
}

/* db_cf - a mysql: table copy pointed at the sandbox's MariaDB */
static void
db_cf(struct sb *sb, const char *path)
{
	char	*text = slurp(path, NULL), *line, *save = NULL, *name, *db;
	struct buf *out = buf_new(1024);
	size_t	 n;

	if (text == NULL)
		return;
	db = NULL;
	for (line = strtok_r(text, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		name = line + strspn(line, " \t");
		n = strcspn(name, " \t=");
		if ((n == 5 && strncmp(name, "hosts", 5) == 0)
		    || (n == 4 && strncmp(name, "user", 4) == 0)
		    || (n == 8 && strncmp(name, "password", 8) == 0)) {
			buf_printf(out, "#sandbox# %s\n", line);
			continue;
		}
		if (n == 6 && strncmp(name, "dbname", 6) == 0) {
			db = name + n + strspn(name + n, " \t=");
			db = xstrndup(db, strcspn(db, " \t\r"));
		}
		buf_printf(out, "%s\n", line);
	}
	buf_printf(out, "# postern sandbox: its MariaDB\nhosts = "
	    "inet:127.0.0.1:%d\nuser = sandbox\npassword = %s\n",
	    sb->db_port, sb->db_pass);
	if (db == NULL)
		buf_puts(out, "dbname = mailserver\n");
	for (n = 0; n < sb->dbnames->argc; n++)
		if (strcmp(sb->dbnames->argv[n], db ? db : "mailserver") == 0)
			break;
	if (n == sb->dbnames->argc)
		strv_add(sb->dbnames, db ? db : "mailserver");
	free(db);
	(void)spit(path, BUF_STR(out), BUF_LEN(out), 0644);
	buf_free(out);
	free(text);
}

/* db_start - mariadbd in DIR/db, each dbname loaded; 0 or 3 */
static int
db_start(struct sb *sb)
{
	char	*dd, *out, *a[12], *sql;
	int	 i, j, rc;

	dd = sb_keep(xasprintf("--datadir=%s/db/data", sb->dir));
	out = sb_keep(xasprintf("%s/db/mariadb.out", sb->dir));
	a[0] = "mariadb-install-db";
	a[1] = "--no-defaults";
	a[2] = "--auth-root-authentication-method=normal";
	a[3] = sb_keep(xasprintf("--user=%s", getpwuid(getuid())->pw_name));
	a[4] = dd;
	a[5] = "--skip-test-db";
	a[6] = "--skip-name-resolve";
	a[7] = "--innodb-log-file-size=8M";
	a[8] = NULL;
	if ((rc = run(a, out)) != 0) {
		fprintf(stderr, "postern sandbox: mariadb-install-db failed "
		    "(%d): see %s\n", rc, out);
		return (3);
	}
	sb->db_port = free_port(SOCK_STREAM);
	a[0] = "mariadbd";
	a[2] = a[3];
	a[3] = dd;
	a[4] = sb_keep(xasprintf("--socket=%s/db/mysql.sock", sb->dir));
	a[5] = sb_keep(xasprintf("--port=%d", sb->db_port));
	a[6] = "--bind-address=127.0.0.1";
	a[7] = "--skip-name-resolve";
	a[8] = "--innodb-buffer-pool-size=32M";
	a[9] = "--skip-log-bin";
	a[10] = sb_keep(xasprintf("--log-error=%s/db/mariadb.err", sb->dir));
	a[11] = NULL;
	sb->db_pid = spawn(a, out);
	for (i = 0; i < 600 && alive(sb->db_pid); i++) {
		if (db_query(sb, NULL, "-- probe\nSELECT 1") == 0)
			break;
		usleep(50000);
	}
	if (!alive(sb->db_pid) || i == 600) {
		fprintf(stderr, "postern sandbox: MariaDB did not start: see "
		    "%s/db/mariadb.err\n", sb->dir);
		return (3);
	}
	for (i = 0; i < sb->nmap; i++)
		if (strcmp(sb->map[i].type, "mysql") == 0 && sb->map[i].dest)
			db_cf(sb, sb->map[i].dest);
	if (sb->dbnames->argc == 0)
		strv_add(sb->dbnames, "mailserver");
	for (i = 0; i < (int)sb->dbnames->argc; i++) {
		sql = xasprintf("CREATE DATABASE IF NOT EXISTS `%s`; "
		    "CREATE USER IF NOT EXISTS 'sandbox'@'127.0.0.1' "
		    "IDENTIFIED BY '%s'; GRANT ALL ON `%s`.* TO "
		    "'sandbox'@'127.0.0.1';", sb->dbnames->argv[i],
		    sb->db_pass, sb->dbnames->argv[i]);
		rc = db_query(sb, NULL, sql);
		free(sql);
		for (j = 0; rc == 0 && j < (int)sb->sql->argc; j++) {
			if ((sql = slurp(sb->sql->argv[j], NULL)) == NULL) {
				fprintf(stderr, "postern sandbox: %s: %m\n",
				    sb->sql->argv[j]);
				return (2);
			}
			rc = db_query(sb, sb->dbnames->argv[i], sql);
			if (rc != 0)
				fprintf(stderr, "postern sandbox: loading %s "
				    "failed\n", sb->sql->argv[j]);
			free(sql);
		}
		if (rc != 0)
			return (3);
	}
	return (0);
}

/* overrides - what the sandbox appends to main.cf */
static void
overrides(struct sb *sb, struct buf *b)
{
	const char *cert = conf_str("smtpd_tls_cert_file");
	const char *key = conf_str("smtpd_tls_key_file");
	struct passwd *pw;
	long	 uid = getuid(), gid = getgid();
	char	*mail;
	size_t	 i;

	buf_printf(b, "\n# --- postern sandbox: the settings above are the "
	    "configuration's (%s),\n# unchanged but for map paths; these "
	    "keep the sandbox in %s ---\n", sb->conf, sb->dir);
	buf_printf(b, "queue_directory = %s/queue\ndata_directory = "
	    "%s/data\ndaemon_directory = %s\ncommand_directory = %s\n"
	    "maillog_file = %s/maillog\nvirtual_mailbox_base = %s/mail\n"
	    "inet_interfaces = 127.0.0.1\nsmtp_bind_address =\n"
	    "smtp_bind_address6 =\nsmtp_sandbox_capture_directory = "
	    "%s/capture\n", sb->dir, sb->dir, sb->bin, sb->bin, sb->dir,
	    sb->dir, sb->dir);
	if (sb->dns_port > 0)
		buf_printf(b, "resolver_nameservers = 127.0.0.1:%d\n",
		    sb->dns_port);
	else
		buf_puts(b, "resolver_nameservers = 127.0.0.1:9\n");
	/* Postfix derives mynetworks from inet_interfaces: "host" is then
	 * 127.0.0.1/32, and 127.0.0.2... are strangers (Internet clients) */
	if (conf_file_value("mynetworks", NULL) == NULL)
		buf_printf(b, "mynetworks = %s\n", strcmp(conf_str(
		    "mynetworks_style"), "host") == 0 ? "127.0.0.1/32"
		    : "127.0.0.0/8");
	if (uid == 0 && *conf_str("virtual_uid_maps") == 0
	    && (pw = getpwnam("vmail")) != NULL) {
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (uid != 0 || *conf_str("virtual_uid_maps") == 0) {
		buf_printf(b, "virtual_uid_maps = static:%ld\n"
		    "virtual_gid_maps = static:%ld\n", uid, gid);
		mail = xasprintf("%s/mail", sb->dir);
		(void)chown(mail, (uid_t)uid, (gid_t)gid);
		free(mail);
	}
	if (sb->cert != NULL || !*cert || access(cert, R_OK) < 0
	    || access(*key ? key : cert, R_OK) < 0) {
		if (sb->cert == NULL)
			(void)cert_make(sb);
		buf_printf(b, "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = "
		    "%s/key.pem\n", sb->cert, sb->etc);
	}
	for (i = 0; i < sb->over->argc; i++)
		buf_printf(b, "%s\n", sb->over->argv[i]);
}

/* sb_json - the sandbox's description */
static char *
sb_json(struct sb *sb)
{
	struct buf *b = buf_new(2048);
	int	 i;

	buf_puts(b, "{\n  \"dir\": ");
	json_str(b, sb->dir);
	buf_puts(b, ",\n  \"config\": ");
	json_str(b, sb->conf);
	buf_puts(b, ",\n  \"services\": [");
	for (i = 0; i < sb->nsvc; i++) {
		buf_puts(b, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
		json_str(b, sb->svc[i].name);
		buf_puts(b, ", \"command\": ");
		json_str(b, sb->svc[i].command);
		buf_printf(b, ", \"address\": \"127.0.0.1\", \"port\": %d}",
		    sb->svc[i].port);
	}
	buf_printf(b, "\n  ],\n  \"paths\": {\"etc\": \"%s\", \"queue\": "
	    "\"%s/queue\", \"data\": \"%s/data\", \"mail\": \"%s/mail\", "
	    "\"capture\": \"%s/capture\", \"log\": \"%s/maillog\"",
	    sb->etc, sb->dir, sb->dir, sb->dir, sb->dir, sb->dir);
	if (sb->cert)
		buf_printf(b, ", \"cert\": \"%s\", \"ca\": \"%s\", \"key\": "
		    "\"%s/key.pem\"", sb->cert, sb->cert, sb->etc);
	buf_printf(b, "},\n  \"pids\": {\"master\": %ld", sb->master_pid);
	if (sb->dns_pid > 0)
		buf_printf(b, ", \"dnsmasq\": %ld", sb->dns_pid);
	if (sb->db_pid > 0)
		buf_printf(b, ", \"mariadb\": %ld", sb->db_pid);
	buf_puts(b, "},\n  \"dns\": ");
	if (sb->dns_port > 0)
		buf_printf(b, "\"127.0.0.1:%d\"", sb->dns_port);
	else
		buf_puts(b, "null");
	buf_puts(b, ",\n  \"mariadb\": ");
	if (sb->db_pid > 0) {
		buf_printf(b, "{\"host\": \"127.0.0.1\", \"port\": %d, "
		    "\"socket\": \"%s/db/mysql.sock\", \"user\": \"sandbox\", "
		    "\"password\": \"%s\", \"databases\": [", sb->db_port,
		    sb->dir, sb->db_pass);
		for (i = 0; i < (int)sb->dbnames->argc; i++) {
			buf_puts(b, i ? ", " : "");
			json_str(b, sb->dbnames->argv[i]);
		}
		buf_puts(b, "]}");
	} else
		buf_puts(b, "null");
	buf_printf(b, ",\n  \"keep\": %s,\n  \"start_seconds\": %.3f,\n"
	    "  \"stop\": \"postern sandbox stop %s\"\n}\n",
	    sb->keep ? "true" : "false", now() - sb->start_time, sb->dir);
	return (buf_steal(b));
}

/* sb_state - DIR/.sandbox: what stop needs, one "key value" a line */
static void
sb_state(struct sb *sb)
{
	char	*path = xasprintf("%s/.sandbox", sb->dir);
	struct buf *b = buf_new(256);

	buf_printf(b, "master %ld\ndnsmasq %ld\nmariadb %ld\nkeep %d\n"
	    "bin %s\n", sb->master_pid, sb->dns_pid, sb->db_pid, sb->keep,
	    sb->bin);
	(void)spit(path, BUF_STR(b), BUF_LEN(b), 0644);
	buf_free(b);
	free(path);
}

static int sb_stop_pids(const char *dir, long *pids, int n);

/* sb_fail - stop what was started; the exit status */
static int
sb_fail(struct sb *sb, int rc)
{
	long	 pids[3] = { sb->master_pid, sb->dns_pid, sb->db_pid };

	(void)sb_stop_pids(sb->dir, pids, 3);
	if (sb->dir)
		fprintf(stderr, "postern sandbox: not started (exit %d); "
		    "%s is kept for a look\n", rc, sb->dir);
	return (rc);
}

/* sb_dirs - DIR and its parts; 0 or 2 */
static int
sb_dirs(struct sb *sb, const char *dir)
{
	/* queue and data: master makes them, with their owners */
	static const char *parts[] = { "etc", "etc/maps", "mail", "capture",
	    "dns", "db", NULL };
	char	*p, tmpl[] = "/tmp/postern-sandbox.XXXXXX";
	char	 real[PATH_MAX];
	DIR	*d;
	struct dirent *e;
	int	 i, n = 0;

	if (dir == NULL) {
		if (mkdtemp(tmpl) == NULL)
			return (2);
		dir = tmpl;
	} else if (mkdir(dir, 0755) < 0) {
		if ((d = opendir(dir)) == NULL) {
			fprintf(stderr, "postern sandbox: %s: %m\n", dir);
			return (2);
		}
		while ((e = readdir(d)) != NULL)
			n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
		closedir(d);
		if (n) {
			fprintf(stderr, "postern sandbox: %s is not empty\n",
			    dir);
			return (2);
		}
	}
	if (realpath(dir, real) == NULL)
		return (2);
	sb->dir = xstrdup(real);
	sb->etc = xasprintf("%s/etc", sb->dir);
	(void)chmod(sb->dir, 0755);
	for (i = 0; parts[i]; i++) {
		p = xasprintf("%s/%s", sb->dir, parts[i]);
		(void)mkdir(p, 0755);
		free(p);
	}
	/* the Maildirs' owner: vmail when root (virtual_uid_maps) */
	p = xasprintf("%s/capture", sb->dir);
	if (getuid() == 0)
		(void)chmod(p, 0777);
	free(p);
	return (0);
}

/* sb_files - main.cf and master.cf in DIR/etc; 0 or an exit status */
static int
sb_files(struct sb *sb)
{
	char	*mc, *mf, *a, *b, *path;
	struct buf *tail = buf_new(1024);
	int	 rc;

	path = xasprintf("%s/main.cf", sb->conf);
	mc = slurp(path, NULL);
	free(path);
	path = xasprintf("%s/master.cf", sb->conf);
	mf = slurp(path, NULL);
	free(path);
	if (mc == NULL || mf == NULL) {
		fprintf(stderr, "postern sandbox: %s: no readable main.cf "
		    "and master.cf\n", sb->conf);
		rc = 2;
		goto fail;
	}
	free(maps_rewrite(sb, mc, 1));
	free(maps_rewrite(sb, mf, 1));
	if ((rc = maps_copy(sb)) != 0
	    || (sb->dns && (rc = dns_start(sb)) != 0)
	    || (sb->sql->argc && (rc = db_start(sb)) != 0))
		goto fail;
	a = maps_rewrite(sb, mc, 0);
	b = mastercf_ports(sb, mf);
	free(mc);
	free(mf);
	mc = maps_rewrite(sb, b, 0);
	free(b);
	overrides(sb, tail);
	b = xasprintf("%s%s%s", a, a[0] && a[strlen(a) - 1] != '\n' ? "\n"
	    : "", BUF_STR(tail));
	buf_free(tail);
	path = xasprintf("%s/main.cf", sb->etc);
	rc = spit(path, b, strlen(b), 0644);
	free(path);
	path = xasprintf("%s/master.cf", sb->etc);
	if (rc == 0)
		rc = spit(path, mc, strlen(mc), 0644);
	free(path);
	free(a);
	free(b);
	free(mc);
	return (rc < 0 ? 2 : 0);

fail:
	free(mc);
	free(mf);
	buf_free(tail);
	return (rc);
}

/* sb_master - "postern -c DIR/etc start", then every port; 0 or 1 */
static int
sb_master(struct sb *sb)
{
	char	*argv[5], *pidf, *s, *out;
	double	 deadline;
	int	 i, rc;

	argv[0] = xasprintf("%s/postern", sb->bin);
	argv[1] = "-c";
	argv[2] = sb->etc;
	argv[3] = "start";
	argv[4] = NULL;
	rc = run(argv, NULL);
	free(argv[0]);
	pidf = xasprintf("%s/queue/pid/master.pid", sb->dir);
	s = slurp(pidf, NULL);
	free(pidf);
	sb->master_pid = s ? strtol(s, NULL, 10) : 0;
	free(s);
	if (rc != 0 || !alive(sb->master_pid)) {
		out = xasprintf("%s/maillog", sb->dir);
		fprintf(stderr, "postern sandbox: the configuration did not "
		    "start: see %s\n", out);
		free(out);
		return (1);
	}
	deadline = now() + 10;
	for (i = 0; i < sb->nsvc; i++)
		while (!accepts(sb->svc[i].port)) {
			if (now() > deadline || !alive(sb->master_pid)) {
				fprintf(stderr, "postern sandbox: service %s "
				    "does not accept on 127.0.0.1:%d\n",
				    sb->svc[i].name, sb->svc[i].port);
				return (1);
			}
			usleep(5000);
		}
	return (0);
}

/* sb_print - the human summary */
static void
sb_print(struct sb *sb)
{
	int	 i;

	printf("postern sandbox %s (configuration %s) started in %.3f s\n",
	    sb->dir, sb->conf, now() - sb->start_time);
	for (i = 0; i < sb->nsvc; i++)
		printf("  %-20s %-12s 127.0.0.1:%d\n", sb->svc[i].name,
		    sb->svc[i].command, sb->svc[i].port);
	printf("  Maildirs %s/mail, captured mail %s/capture, log "
	    "%s/maillog\n", sb->dir, sb->dir, sb->dir);
	if (sb->dns_port > 0)
		printf("  DNS from %s on 127.0.0.1:%d\n", sb->dns,
		    sb->dns_port);
	if (sb->db_pid > 0)
		printf("  MariaDB 127.0.0.1:%d user sandbox password %s\n",
		    sb->db_port, sb->db_pass);
	printf("  description %s/sandbox.json\n  stop: %s/postern sandbox "
	    "stop %s\n", sb->dir, sb->bin, sb->dir);
}

/* sb_start - the start command */
static int
sb_start(struct sb *sb, const char *dir)
{
	char	 err[512], real[PATH_MAX], *j, *path;
	unsigned char r[12];
	int	 rc, i, fd;

	sb->start_time = now();
	if (realpath(sb->conf, real) == NULL) {
		fprintf(stderr, "postern sandbox: %s: %m\n", sb->conf);
		return (2);
	}
	sb->conf = xstrdup(real);
	sb->conf_owned = 1;
	if (conf_load(sb->conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "postern sandbox: %s\n", err);
		return (2);
	}
	if ((fd = open("/dev/urandom", O_RDONLY)) < 0
	    || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r))
		return (3);
	close(fd);
	for (i = 0; i < (int)sizeof(r); i++)
		sb->db_pass[i] = "abcdefghijkmnpqrstuvwxyzACDEFGHJ2345679"[r[i]
		    % 39];
	if ((rc = sb_dirs(sb, dir)) != 0)
		return (rc);
	if ((rc = sb_files(sb)) != 0 || (rc = sb_master(sb)) != 0) {
		sb_state(sb);
		return (sb_fail(sb, rc));
	}
	sb_state(sb);
	j = sb_json(sb);
	path = xasprintf("%s/sandbox.json", sb->dir);
	(void)spit(path, j, strlen(j), 0644);
	if (sb->json)
		(void)spit(sb->json, j, strlen(j), 0644);
	free(path);
	free(j);
	sb_print(sb);
	return (0);
}

/* descendants - add every descendant of the pids in v[0..*n) */
static void
descendants(long *v, int *n, int max)
{
	DIR	*d;
	struct dirent *e;
	char	 path[64], *s, *p;
	long	 pid, ppid;
	int	 i, grew = 1;

	while (grew) {
		grew = 0;
		if ((d = opendir("/proc")) == NULL)
			return;
		while ((e = readdir(d)) != NULL && *n < max) {
			if ((pid = strtol(e->d_name, &p, 10)) <= 0 || *p)
				continue;
			snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
			if ((s = slurp(path, NULL)) == NULL)
				continue;
			p = strrchr(s, ')');
			ppid = p ? strtol(p + 4, NULL, 10) : 0;
			free(s);
			for (i = 0; i < *n && v[i] != pid; i++)
				;
			if (i < *n)
				continue;
			for (i = 0; i < *n; i++)
				if (v[i] > 0 && v[i] == ppid) {
					v[(*n)++] = pid;
					grew = 1;
					break;
				}
		}
		closedir(d);
	}
}

/* sb_stop_pids - SIGTERM, 1 s, SIGKILL; 0 when nothing is left */
static int
sb_stop_pids(const char *dir, long *pids, int n)
{
	long	 all[512];
	int	 i, k = 0, left;
	double	 deadline, wait;

	for (i = 0; i < n; i++)
		if (pids[i] > 0 && alive(pids[i]))
			all[k++] = pids[i];
	descendants(all, &k, 512);
	for (i = 0; i < n; i++)
		if (pids[i] > 0 && alive(pids[i]))
			(void)kill((pid_t)pids[i], SIGTERM);
	/* 1 s; a sanitizer build's processes need longer to exit */
	wait = getenv("POSTERN_SANDBOX_STOP_WAIT") ? atof(getenv(
	    "POSTERN_SANDBOX_STOP_WAIT")) : 1;
	deadline = now() + (wait > 0 ? wait : 1);
	do {
		for (left = i = 0; i < k; i++)
			left += alive(all[i]);
		if (left)
			usleep(5000);
	} while (left && now() < deadline);
	for (i = 0; i < k; i++)
		if (alive(all[i])) {
			fprintf(stderr, "postern sandbox: %s: pid %ld did not "
			    "stop in %g s: SIGKILL\n", dir ? dir : "", all[i],
			    wait);
			(void)kill((pid_t)all[i], SIGKILL);
		}
	deadline = now() + 1;
	do {
		for (left = i = 0; i < k; i++)
			left += alive(all[i]);
		if (left)
			usleep(5000);
	} while (left && now() < deadline);
	return (left ? 1 : 0);
}

/* sb_state_get - one value of DIR/.sandbox, or NULL */
static char *
sb_state_get(const char *dir, const char *key)
{
	char	*path = xasprintf("%s/.sandbox", dir), *s, *p, *v = NULL;
	size_t	 n = strlen(key);

	s = slurp(path, NULL);
	free(path);
	for (p = s; p && *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")]
	    ? 1 : 0))
		if (strncmp(p, key, n) == 0 && p[n] == ' ') {
			v = xstrndup(p + n + 1, strcspn(p + n + 1, "\n"));
			break;
		}
	free(s);
	return (v);
}

/* sb_stop - the stop command */
static int
sb_stop(const char *dir)
{
	static const char *keys[] = { "master", "dnsmasq", "mariadb" };
	long	 pids[3];
	char	*v, *argv[4];
	int	 i, rc, keep;
	double	 t0 = now();

	if ((v = sb_state_get(dir, "keep")) == NULL) {
		fprintf(stderr, "postern sandbox: %s is not a sandbox\n", dir);
		return (2);
	}
	keep = atoi(v);
	free(v);
	for (i = 0; i < 3; i++) {
		v = sb_state_get(dir, keys[i]);
		pids[i] = v ? strtol(v, NULL, 10) : 0;
		free(v);
	}
	rc = sb_stop_pids(dir, pids, 3);
	printf("postern sandbox %s stopped in %.3f s\n", dir, now() - t0);
	if (!keep && rc == 0) {
		argv[0] = "rm";
		argv[1] = "-rf";
		argv[2] = (char *)dir;
		argv[3] = NULL;
		(void)run(argv, NULL);
	}
	return (rc);
}

/* names - the sorted entries of a directory ending in suffix */
static struct strv *
names(const char *dir, const char *suffix)
{
	struct strv *v = strv_new();
	struct dirent **e;
	size_t	 sl = strlen(suffix), l;
	int	 n, i;

	if ((n = scandir(dir, &e, NULL, alphasort)) < 0)
		return (v);
	for (i = 0; i < n; i++) {
		l = strlen(e[i]->d_name);
		if (e[i]->d_name[0] != '.' && l >= sl
		    && strcmp(e[i]->d_name + l - sl, suffix) == 0)
			strv_add(v, e[i]->d_name);
		free(e[i]);
	}
	free(e);
	return (v);
}

/* header - one header's value (first line), or NULL */
static char *
header(const char *msg, const char *name)
{
	const char *p = msg;
	size_t	 n = strlen(name);

	while (*p && *p != '\n') {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			p += strspn(p, " \t");
			return (xstrndup(p, strcspn(p, "\n")));
		}
		p += strcspn(p, "\n");
		if (*p)
			p++;
	}
	return (NULL);
}

/* maildir_scan - the messages of every Maildir under path */
static void
maildir_scan(const char *base, const char *rel, const char *addr,
    struct buf *b, int *count)
{
	static const char *sub[] = { "new", "cur" };
	char	*path = xasprintf("%s/%s", base, rel), *d, *f, *msg, *dt, *su;
	struct strv *v;
	struct stat st;
	size_t	 i, j, len;

	if (path[strlen(path) - 1] == '/')
		path[strlen(path) - 1] = 0;
	v = names(path, "");
	for (i = 0; i < v->argc; i++) {
		f = xasprintf("%s/%s", path, v->argv[i]);
		if (stat(f, &st) == 0 && S_ISDIR(st.st_mode)
		    && strcmp(v->argv[i], "tmp") && strcmp(v->argv[i], "new")
		    && strcmp(v->argv[i], "cur")) {
			d = xasprintf("%s%s/", rel, v->argv[i]);
			maildir_scan(base, d, addr, b, count);
			free(d);
		}
		free(f);
	}
	strv_free(v);
	for (j = 0; j < 2; j++) {
		d = xasprintf("%s/%s", path, sub[j]);
		v = names(d, "");
		for (i = 0; i < v->argc; i++) {
			f = xasprintf("%s/%s", d, v->argv[i]);
			msg = slurp(f, &len);
			dt = msg ? header(msg, "Delivered-To") : NULL;
			su = msg ? header(msg, "Subject") : NULL;
			if (msg && (addr == NULL || (dt
			    && strcasecmp(dt, addr) == 0))) {
				buf_puts(b, (*count)++ ? ",\n  {\"maildir\": "
				    : "\n  {\"maildir\": ");
				json_str(b, rel);
				buf_printf(b, ", \"file\": \"%s/%s\", \"path\": ",
				    sub[j], v->argv[i]);
				json_str(b, f);
				buf_printf(b, ", \"size\": %zu, "
				    "\"delivered_to\": ", len);
				json_str(b, dt);
				buf_puts(b, ", \"subject\": ");
				json_str(b, su);
				buf_puts(b, "}");
			}
			free(dt);
			free(su);
			free(msg);
			free(f);
		}
		strv_free(v);
		free(d);
	}
	free(path);
}

/* sb_mailbox - the mailbox command */
static int
sb_mailbox(const char *dir, const char *addr)
{
	struct buf *b = buf_new(4096);
	char	*base = xasprintf("%s/mail", dir);
	int	 count = 0;

	maildir_scan(base, "", addr, b, &count);
	printf("{\"count\": %d, \"messages\": [%s%s]}\n", count, BUF_STR(b),
	    count ? "\n" : "");
	buf_free(b);
	free(base);
	return (0);
}

/* sb_captured - the captured command */
static int
sb_captured(const char *dir)
{
	char	*cd = xasprintf("%s/capture", dir), *f, *s;
	struct strv *v = names(cd, ".json");
	size_t	 i;

	printf("{\"count\": %zu, \"messages\": [", v->argc);
	for (i = 0; i < v->argc; i++) {
		f = xasprintf("%s/%s", cd, v->argv[i]);
		s = slurp(f, NULL);
		if (s && *s && s[strlen(s) - 1] == '\n')
			s[strlen(s) - 1] = 0;
		printf("%s\n  %s", i ? "," : "", s ? s : "null");
		free(s);
		free(f);
	}
	printf("%s]}\n", v->argc ? "\n" : "");
	strv_free(v);
	free(cd);
	return (0);
}

/* sb_log - the log command */
static int
sb_log(const char *dir, const char *id)
{
	char	*path = xasprintf("%s/maillog", dir), *s, *p, *line, *pat;
	struct buf *b = buf_new(4096);
	int	 n = 0;

	s = slurp(path, NULL);
	pat = xasprintf(" %s: ", id);
	for (p = s; p && *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")]
	    ? 1 : 0)) {
		line = xstrndup(p, strcspn(p, "\n"));
		if (strstr(line, pat) != NULL) {
			buf_puts(b, n++ ? ",\n  " : "\n  ");
			json_str(b, line);
		}
		free(line);
	}
	{
		struct buf *q = buf_new(64);

		json_str(q, id);
		printf("{\"queue_id\": %s, \"count\": %d, \"lines\": [%s%s]}\n",
		    BUF_STR(q), n, BUF_STR(b), n ? "\n" : "");
		buf_free(q);
	}
	free(s);
	free(pat);
	free(path);
	buf_free(b);
	return (n ? 0 : 1);
}

/* sb_queue - the queue command: postqueue -j's objects */
static int
sb_queue(const char *dir)
{
	char	*bin = sb_state_get(dir, "bin"), *etc, *out, *s, *p, *argv[5];
	int	 n = 0, rc;
	size_t	 l;

	if (bin == NULL) {
		fprintf(stderr, "postern sandbox: %s is not a sandbox\n", dir);
		return (2);
	}
	etc = xasprintf("%s/etc", dir);
	out = xasprintf("%s/.queue.json", dir);
	(void)unlink(out);
	argv[0] = xasprintf("%s/postqueue", bin);
	argv[1] = "-c";
	argv[2] = etc;
	argv[3] = "-j";
	argv[4] = NULL;
	rc = run(argv, out);
	s = slurp(out, NULL);
	(void)unlink(out);
	printf("{\"messages\": [");
	for (p = s; rc == 0 && p && *p; p += l + (p[l] ? 1 : 0)) {
		l = strcspn(p, "\n");
		if (*p != '{')
			continue;
		printf("%s\n  %.*s", n++ ? "," : "", (int)l, p);
	}
	printf("%s], \"count\": %d}\n", n ? "\n" : "", n);
	free(s);
	free(argv[0]);
	free(etc);
	free(out);
	free(bin);
	return (rc ? 1 : 0);
}

/* sb_free - what sb_start() allocated */
static void
sb_free(struct sb *sb)
{
	int	 i;

	for (i = 0; i < sb->nmap; i++) {
		free(sb->map[i].type);
		free(sb->map[i].path);
		free(sb->map[i].dest);
	}
	for (i = 0; i < sb->nsvc; i++) {
		free(sb->svc[i].name);
		free(sb->svc[i].command);
	}
	if (sb->conf_owned)
		free(sb->conf);
	free(sb->dir);
	free(sb->etc);
	free(sb->cert);
	strv_free(sb->sql);
	strv_free(sb->over);
	strv_free(sb->dbnames);
	for (i = 0; i < sb_ngarbage; i++)
		free(sb_garbage[i]);
	sb_ngarbage = 0;
}

/* sb_usage - bad command line */
static int
sb_usage(void)
{
	fprintf(stderr, "usage: postern sandbox -c CONFIG_DIR [--dir DIR] "
	    "[--keep] [--dns FIXTURE] [--sql FILE]... [--json FILE] "
	    "[-o name=value]...\n"
	    "       postern sandbox stop|queue|captured DIR\n"
	    "       postern sandbox mailbox DIR [ADDR]\n"
	    "       postern sandbox log DIR QUEUEID\n");
	return (2);
}

/* postern_sandbox_main - "postern sandbox ..." (argv[0] is "sandbox") */
int
postern_sandbox_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "keep", no_argument, NULL, 'k' },
		{ "dns", required_argument, NULL, 'n' },
		{ "sql", required_argument, NULL, 's' },
		{ "json", required_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct sb sb;
	const char *dir = NULL, *cmd = argc > 1 ? argv[1] : "";
	char	 bin[PATH_MAX];
	ssize_t	 n;
	int	 c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cmd, "stop") == 0 && argc == 3)
		return (sb_stop(argv[2]));
	if (strcmp(cmd, "queue") == 0 && argc == 3)
		return (sb_queue(argv[2]));
	if (strcmp(cmd, "captured") == 0 && argc == 3)
		return (sb_captured(argv[2]));
	if (strcmp(cmd, "mailbox") == 0 && (argc == 3 || argc == 4))
		return (sb_mailbox(argv[2], argc == 4 ? argv[3] : NULL));
	if (strcmp(cmd, "log") == 0 && argc == 4)
		return (sb_log(argv[2], argv[3]));
	memset(&sb, 0, sizeof(sb));
	sb.sql = strv_new();
	sb.over = strv_new();
	sb.dbnames = strv_new();
	while ((c = getopt_long(argc, argv, "c:o:", lo, NULL)) != -1) {
		switch (c) {
		case 'c': sb.conf = optarg; break;
		case 'o': strv_add(sb.over, optarg); break;
		case 'd': dir = optarg; break;
		case 'k': sb.keep = 1; break;
		case 'n': sb.dns = optarg; break;
		case 's': strv_add(sb.sql, optarg); break;
		case 'j': sb.json = optarg; break;
		default: c = -2; break;
		}
		if (c == -2)
			break;
	}
	if (c == -2 || sb.conf == NULL || optind != argc)
		c = sb_usage();
	else if ((n = readlink("/proc/self/exe", bin, sizeof(bin) - 1)) <= 0)
		c = 3;
	else {
		bin[n] = 0;
		*strrchr(bin, '/') = 0;
		sb.bin = bin;
		c = sb_start(&sb, dir);
	}
	sb_free(&sb);
	return (c);
}
