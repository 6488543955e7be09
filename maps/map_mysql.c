/*
 * NAME
 *	map_mysql - mysql: tables with Postfix's mysql_table(5) .cf files
 * SYNOPSIS
 *	map_mysql_ops (map_int.h)
 * DESCRIPTION
 *	"mysql:/etc/postfix/x.cf" reads x.cf ("name = value" lines,
 *	comments, continuation lines) with these parameters:
 *
 *	hosts (default localhost): a list of "unix:/path", "inet:host",
 *	"inet:host:port", "host" or "host:port" ([ipv6]:port too). A
 *	connection is made to the hosts in random order (random() seeded
 *	once per process from the time and pid, so that processes spread
 *	over the hosts as Postfix's do), those that failed in the last
 *	retry_interval (default 60s) last; the first that answers is kept
 *	until it fails. Each host that fails to connect is logged as a
 *	warning naming it, as Postfix's "connect to mysql server" line.
 *	user, password, dbname; option_file, option_group.
 *	query, with %% %s %u %d %1..%9 (each value escaped with
 *	mysql_real_escape_string); or the old form select_field, table,
 *	where_field, additional_conditions.
 *	result_format (default %s): %s %u %d %1..%9 of each result value,
 *	%S %U %D of the key; expansion_limit (0: none); domain: a list of
 *	domain names or maps, to which lookups are restricted (keys
 *	without '@' or outside the list are not looked up).
 *	connect_timeout, read_timeout, write_timeout (postern: seconds,
 *	defaults 5, 10, 10) keep a dead or hung server a quick MAP_RETRY.
 *
 *	Every non-NULL, non-empty column of every result row is one
 *	value; values are joined with ", ". A key that is not valid
 *	UTF-8 cannot be in the utf8 tables and is not found without a
 *	query. A dropped connection (server restarted, timeout) is
 *	reconnected once and the query retried.
 *	Answers are cached by map.c for lookup_cache_time (map_cache.h);
 *	errors never are.
 * DIAGNOSTICS
 *	An unreadable or malformed .cf file, a missing query or dbname,
 *	or an unknown % sequence fails the open (surrogate map: every
 *	lookup MAP_RETRY). Any server or connection error, and a result
 *	beyond expansion_limit, is MAP_RETRY with the reason in
 *	map_error(); never MAP_NOTFOUND.
 */
#include <ctype.h>
#include <errno.h>
#include <errmsg.h>
#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "metrics.h"
#include "map_int.h"
#include "str.h"
#include "xalloc.h"

struct map_mysql_host {
	char	*spec;
	char	*host;			/* NULL: default */
	char	*socket;
	unsigned port;
	time_t	 dead_until;
};

struct map_mysql {
	struct map_mysql_host *hosts;
	size_t	 nhosts;
	char	*user, *password, *dbname, *query, *result_format;
	char	*option_file, *option_group;
	long	 expansion_limit;
	long	 connect_timeout, read_timeout, write_timeout;
	long	 retry_interval;
	struct map_kv *domains;		/* literal domain names */
	struct maplist *domain_maps;	/* domain = type:name ... */
	int	 has_domain;
	MYSQL	*db;
	size_t	 cur;			/* host of db */
};

static pthread_once_t map_mysql_once = PTHREAD_ONCE_INIT;

/* map_mysql_init_lib - mysql_library_init once, before any thread uses it */
static void
map_mysql_init_lib(void)
{
	(void) mysql_library_init(0, NULL, NULL);
}

/* map_mysql_host_parse - one hosts entry */
static void
map_mysql_host_parse(struct map_mysql_host *h, const char *spec)
{
	char	*s = xstrdup(spec), *cp = s, *port = NULL;

	h->spec = xstrdup(spec);
	if (strncmp(cp, "unix:", 5) == 0) {
		h->socket = xstrdup(cp + 5);
		h->host = xstrdup("localhost");
		free(s);
		return;
	}
	if (strncmp(cp, "inet:", 5) == 0)
		cp += 5;
	if (*cp == '[' && strchr(cp, ']')) {
		char	*end = strchr(cp, ']');

		*end = 0;
		cp++;
		if (end[1] == ':')
			port = end + 2;
	} else if ((port = strrchr(cp, ':')) != NULL && strchr(cp, ':')
	    == port)
		*port++ = 0;
	else
		port = NULL;
	h->host = xstrdup(cp);
	h->port = port ? (unsigned) strtoul(port, NULL, 10) : 0;
	free(s);
}

/* map_mysql_check_fmt - is every % sequence one we know? */
static int
map_mysql_check_fmt(const char *fmt, const char *allowed)
{
	for (; *fmt; fmt++)
		if (*fmt == '%') {
			fmt++;
			if (*fmt == 0 || (*fmt != '%'
			    && !strchr(allowed, *fmt)))
				return (-1);
		}
	return (0);
}

/* map_mysql_set - store one "name = value" parameter */
static void
map_mysql_set(struct map_mysql *t, struct strv *old, const char *name,
    const char *value)
{
	static const char *olds[] = {"select_field", "table", "where_field",
	"additional_conditions"};
	char	**slot = NULL;
	long	*num = NULL;
	size_t	 i;

	if (strcmp(name, "user") == 0) slot = &t->user;
	else if (strcmp(name, "password") == 0) slot = &t->password;
	else if (strcmp(name, "dbname") == 0) slot = &t->dbname;
	else if (strcmp(name, "query") == 0) slot = &t->query;
	else if (strcmp(name, "result_format") == 0) slot = &t->result_format;
	else if (strcmp(name, "option_file") == 0) slot = &t->option_file;
	else if (strcmp(name, "option_group") == 0) slot = &t->option_group;
	else if (strcmp(name, "expansion_limit") == 0)
		num = &t->expansion_limit;
	else if (strcmp(name, "connect_timeout") == 0)
		num = &t->connect_timeout;
	else if (strcmp(name, "read_timeout") == 0) num = &t->read_timeout;
	else if (strcmp(name, "write_timeout") == 0) num = &t->write_timeout;
	else if (strcmp(name, "retry_interval") == 0)
		num = &t->retry_interval;
	if (slot) {
		free(*slot);
		*slot = xstrdup(value);
	} else if (num)
		(void) str_parse_time(value, 's', num);
	for (i = 0; i < 4; i++)
		if (strcmp(name, olds[i]) == 0) {
			free(old->argv[i]);
			old->argv[i] = xstrdup(value);
		}
}

/* map_mysql_read_cf - parse the .cf file; -1 with map error */
static int
map_mysql_read_cf(struct map *m, struct map_mysql *t, struct strv *hosts,
    struct strv *old, char **domain)
{
	struct buf *b = buf_new(256);
	FILE	*fp;
	int	 lineno = 0, first, ret = 0;

	if ((fp = fopen(m->name, "r")) == NULL) {
		map_set_error(m, "%s: open %s: %s", m->spec, m->name,
		    strerror(errno));
		buf_free(b);
		return (-1);
	}
	while (ret == 0 && map_text_logical(fp, b, &lineno, &first)) {
		char	*eq = strchr(BUF_STR(b), '='), *name, *value;

		if (eq == NULL || BUF_LEN(b) != strlen(BUF_STR(b))) {
			map_set_error(m, "%s: %s, line %d: expected \"name = "
			    "value\"", m->spec, m->name, first);
			ret = -1;
			break;
		}
		*eq = 0;
		name = str_trim(BUF_STR(b));
		value = str_trim(eq + 1);
		if (strcmp(name, "hosts") == 0) {
			struct strv *v = strv_split(value, STR_LIST_DELIMS);
			size_t	 i;

			for (i = 0; i < v->argc; i++)
				strv_add(hosts, v->argv[i]);
			strv_free(v);
		} else if (strcmp(name, "domain") == 0) {
			free(*domain);
			*domain = xstrdup(value);
		} else
			map_mysql_set(t, old, name, value);
	}
	fclose(fp);
	buf_free(b);
	return (ret);
}

/* map_mysql_domains - the domain restriction list */
static void
map_mysql_domains(struct map_mysql *t, const char *domain, int flags)
{
	struct strv *v = strv_split(domain, STR_LIST_DELIMS);
	struct buf *maps = buf_new(64);
	size_t	 i;

	t->domains = map_kv_new();
	for (i = 0; i < v->argc; i++) {
		if (strchr(v->argv[i], ':')) {
			buf_puts(maps, v->argv[i]);
			buf_putc(maps, ' ');
		} else
			(void) map_kv_put(t->domains, str_lower(v->argv[i]),
			    "", 0);
	}
	if (BUF_LEN(maps))
		t->domain_maps = maplist_open(BUF_STR(maps), flags);
	t->has_domain = v->argc > 0;
	buf_free(maps);
	strv_free(v);
}

/* map_mysql_free - release everything */
static void
map_mysql_free(struct map_mysql *t)
{
	size_t	 i;

	if (t->db)
		mysql_close(t->db);
	for (i = 0; i < t->nhosts; i++) {
		free(t->hosts[i].spec);
		free(t->hosts[i].host);
		free(t->hosts[i].socket);
	}
	free(t->hosts);
	free(t->user);
	free(t->password);
	free(t->dbname);
	free(t->query);
	free(t->result_format);
	free(t->option_file);
	free(t->option_group);
	map_kv_free(t->domains);
	maplist_close(t->domain_maps);
	free(t);
}

/* map_mysql_open - read the .cf file; connect lazily */
static int
map_mysql_open(struct map *m)
{
	struct map_mysql *t = xcalloc(1, sizeof(*t));
	struct strv *hosts = strv_new(), *old = strv_new();
	char	*domain = NULL;
	size_t	 i;
	int	 ret;

	pthread_once(&map_mysql_once, map_mysql_init_lib);
	for (i = 0; i < 4; i++)
		strv_add(old, "");
	t->connect_timeout = 5;
	t->read_timeout = t->write_timeout = 10;
	t->retry_interval = 60;
	ret = map_mysql_read_cf(m, t, hosts, old, &domain);
	if (ret == 0 && t->query == NULL && *old->argv[0] && *old->argv[1]
	    && *old->argv[2])
		t->query = xasprintf("SELECT %s FROM %s WHERE %s='%%s' %s",
		    old->argv[0], old->argv[1], old->argv[2], old->argv[3]);
	if (ret == 0 && t->query == NULL) {
		map_set_error(m, "%s: %s: no query (or table, select_field, "
		    "where_field)", m->spec, m->name);
		ret = -1;
	}
	if (ret == 0 && t->dbname == NULL) {
		map_set_error(m, "%s: %s: no dbname", m->spec, m->name);
		ret = -1;
	}
	if (t->result_format == NULL)
		t->result_format = xstrdup("%s");
	if (ret == 0 && (map_mysql_check_fmt(t->query, "sud123456789") < 0
	    || map_mysql_check_fmt(t->result_format,
	    "sudSUD123456789") < 0)) {
		map_set_error(m, "%s: %s: unknown %% sequence in query or "
		    "result_format", m->spec, m->name);
		ret = -1;
	}
	if (hosts->argc == 0)
		strv_add(hosts, "localhost");
	t->hosts = xcalloc(hosts->argc, sizeof(*t->hosts));
	for (i = 0; i < hosts->argc; i++)
		map_mysql_host_parse(&t->hosts[t->nhosts++], hosts->argv[i]);
	if (ret == 0 && domain)
		map_mysql_domains(t, domain, m->flags);
	free(domain);
	strv_free(hosts);
	strv_free(old);
	if (ret < 0) {
		map_mysql_free(t);
		return (-1);
	}
	m->priv = t;
	return (0);
}

/* map_mysql_try_host - connect to one host; NULL on failure */
static MYSQL *
map_mysql_try_host(struct map_mysql *t, struct map_mysql_host *h,
    struct buf *why)
{
	MYSQL	*db = mysql_init(NULL);
	unsigned int ct = t->connect_timeout, rt = t->read_timeout,
		 wt = t->write_timeout;
	my_bool	 no = 0;

	if (db == NULL) {
		buf_printf(why, "%s: mysql_init failed; ", h->spec);
		return (NULL);
	}
	mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &rt);
	mysql_options(db, MYSQL_OPT_WRITE_TIMEOUT, &wt);
	mysql_options(db, MYSQL_OPT_RECONNECT, &no);
	mysql_options(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (t->option_file)
		mysql_options(db, MYSQL_READ_DEFAULT_FILE, t->option_file);
	if (t->option_group)
		mysql_options(db, MYSQL_READ_DEFAULT_GROUP, t->option_group);
	if (mysql_real_connect(db, h->host, t->user, t->password, t->dbname,
	    h->port, h->socket, 0) == NULL) {
		buf_printf(why, "%s: %s; ", h->spec, mysql_error(db));
		mysql_close(db);
		return (NULL);
	}
	return (db);
}

static pthread_once_t map_mysql_seeded = PTHREAD_ONCE_INIT;

/* map_mysql_seed - seed random() once: unseeded, every process agrees */
static void
map_mysql_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	srandom((unsigned) ts.tv_sec ^ (unsigned) ts.tv_nsec
	    ^ ((unsigned) getpid() << 16));
}

/* map_mysql_connect - random order, recently failed hosts last */
static int
map_mysql_connect(struct map *m, struct map_mysql *t)
{
	size_t	*order = xcalloc(t->nhosts, sizeof(*order)), n = 0, i, j, tmp;
	time_t	 now = time(NULL);
	struct buf *why = buf_new(128);
	int	 pass;

	pthread_once(&map_mysql_seeded, map_mysql_seed);
	for (pass = 0; pass < 2; pass++) {
		size_t	 start = n;

		for (i = 0; i < t->nhosts; i++)
			if ((t->hosts[i].dead_until <= now) == (pass == 0))
				order[n++] = i;
		for (i = n; i > start + 1; i--) {
			j = start + (size_t) random() % (i - start);
			tmp = order[i - 1];
			order[i - 1] = order[j];
			order[j] = tmp;
		}
	}
	for (i = 0; i < n && t->db == NULL; i++) {
		struct map_mysql_host *h = &t->hosts[order[i]];

		size_t	 before = BUF_LEN(why);

		if ((t->db = map_mysql_try_host(t, h, why)) != NULL) {
			t->cur = order[i];
			h->dead_until = 0;
		} else {
			h->dead_until = now + t->retry_interval;
			/* "spec: error; " as map_mysql_try_host wrote it */
			log_warn("%s: connect to mysql server %s", m->spec,
			    log_safen(BUF_STR(why) + before,
			    BUF_LEN(why) - before - 2));
		}
	}
	if (t->db == NULL) {
		if (BUF_LEN(why) >= 2)
			buf_truncate(why, BUF_LEN(why) - 2);
		map_set_error(m, "%s: no database server available: %s",
		    m->spec, BUF_STR(why));
	}
	buf_free(why);
	free(order);
	return (t->db ? 0 : -1);
}

/* map_mysql_quote - append escaped text */
static void
map_mysql_quote(MYSQL *db, struct buf *out, const char *s, size_t len)
{
	char	*esc;

	if (db == NULL) {
		buf_append(out, s, len);
		return;
	}
	esc = xmalloc(2 * len + 1);
	len = mysql_real_escape_string(db, esc, s, len);
	buf_append(out, esc, len);
	free(esc);
}

/* map_mysql_label - the n-th domain label from the right */
static int
map_mysql_label(const char *domain, int n, const char **start,
    size_t *len)
{
	const char *end = domain + strlen(domain), *cp;

	for (; n > 0; n--) {
		if (end <= domain)
			return (-1);
		for (cp = end; cp > domain && cp[-1] != '.'; cp--)
			;
		*start = cp;
		*len = end - cp;
		end = cp > domain ? cp - 1 : domain;
		if (*len == 0)
			return (-1);
	}
	return (0);
}

/*
 * map_mysql_expand - Postfix's db_common_expand(): 0 done, 1 suppressed
 * (no domain for %d, not enough labels, empty local part for %u).
 */
static int
map_mysql_expand(MYSQL *db, struct buf *out, const char *fmt,
    const char *value, const char *key)
{
	const char *at, *src, *start = NULL;
	size_t	 len = 0;

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			buf_putc(out, *fmt);
			continue;
		}
		fmt++;
		src = isupper((unsigned char) *fmt) && key ? key : value;
		at = strrchr(src, '@');
		switch (*fmt) {
		case '%':
			buf_putc(out, '%');
			break;
		case 's': case 'S':
			map_mysql_quote(db, out, src, strlen(src));
			break;
		case 'u': case 'U':
			len = at ? (size_t) (at - src) : strlen(src);
			if (at && len == 0)
				return (1);
			map_mysql_quote(db, out, src, len);
			break;
		case 'd': case 'D':
			if (at == NULL || at[1] == 0)
				return (1);
			map_mysql_quote(db, out, at + 1, strlen(at + 1));
			break;
		default:
			if (at == NULL || map_mysql_label(at + 1, *fmt - '0',
			    &start, &len) < 0)
				return (1);
			map_mysql_quote(db, out, start, len);
			break;
		}
	}
	return (0);
}

/* map_mysql_utf8 - is s valid UTF-8? */
static int
map_mysql_utf8(const unsigned char *s)
{
	int	 n;

	while (*s) {
		if (*s < 0x80) {
			s++;
			continue;
		}
		if (*s >= 0xc2 && *s <= 0xdf)
			n = 1;
		else if (*s >= 0xe0 && *s <= 0xef)
			n = 2;
		else if (*s >= 0xf0 && *s <= 0xf4)
			n = 3;
		else
			return (0);
		for (s++; n > 0; n--, s++)
			if ((*s & 0xc0) != 0x80)
				return (0);
	}
	return (1);
}

/* map_mysql_domain_ok - the domain restriction: FOUND, NOTFOUND, RETRY */
static int
map_mysql_domain_ok(struct map *m, struct map_mysql *t, const char *key)
{
	const char *at = strrchr(key, '@');
	char	*dom, *v;
	int	 ret;

	if (!t->has_domain)
		return (MAP_FOUND);
	if (at == NULL || at[1] == 0)
		return (MAP_NOTFOUND);
	dom = xstrdup(at + 1);
	str_lower(dom);
	if (map_kv_get(t->domains, dom))
		ret = MAP_FOUND;
	else if (t->domain_maps == NULL)
		ret = MAP_NOTFOUND;
	else if ((ret = maplist_lookup(t->domain_maps, dom, &v)) == MAP_FOUND)
		free(v);
	else if (ret == MAP_RETRY)
		map_set_error(m, "%s: domain restriction: %s", m->spec,
		    maplist_error(t->domain_maps));
	free(dom);
	return (ret);
}

/* map_mysql_results - collect the values of a result set */
static int
map_mysql_results(struct map *m, struct map_mysql *t, MYSQL_RES *res,
    const char *key, char **value)
{
	struct buf *out = buf_new(128), *one = buf_new(64);
	unsigned int nf = mysql_num_fields(res), i;
	MYSQL_ROW row;
	long	 count = 0;

	while ((row = mysql_fetch_row(res)) != NULL) {
		for (i = 0; i < nf; i++) {
			if (row[i] == NULL || row[i][0] == 0)
				continue;
			buf_reset(one);
			if (map_mysql_expand(NULL, one, t->result_format,
			    row[i], key) != 0)
				continue;
			if (t->expansion_limit > 0
			    && ++count > t->expansion_limit) {
				map_set_error(m, "%s: expansion limit %ld "
				    "exceeded for key \"%s\"", m->spec,
				    t->expansion_limit, log_safe(key));
				buf_free(out);
				buf_free(one);
				return (MAP_RETRY);
			}
			if (BUF_LEN(out))
				buf_puts(out, ", ");
			buf_append(out, BUF_STR(one), BUF_LEN(one));
		}
	}
	buf_free(one);
	if (BUF_LEN(out) == 0) {
		buf_free(out);
		return (MAP_NOTFOUND);
	}
	*value = buf_steal(out);
	return (MAP_FOUND);
}

/* map_mysql_lost - is this error a broken connection (reconnect)? */
static int
map_mysql_lost(unsigned int err)
{
	return (err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST
	    || err == CR_CONNECTION_ERROR || err == CR_CONN_HOST_ERROR
	    || err == CR_COMMANDS_OUT_OF_SYNC || err == 1927 /* killed */
	    || err == 1053 /* shutdown in progress */
	    || err == 4031 /* disconnected: inactivity (wait_timeout) */ );
}

/* map_mysql_lookup - query, reconnecting once after a lost connection */
static int
map_mysql_lookup(struct map *m, const char *key, char **value)
{
	struct map_mysql *t = m->priv;
	struct buf *q;
	MYSQL_RES *res;
	unsigned int err;
	struct timespec t0, t1;
	int	 attempt, ret;

	if ((ret = map_mysql_domain_ok(m, t, key)) != MAP_FOUND)
		return (ret);
	if (!map_mysql_utf8((const unsigned char *) key))
		return (MAP_NOTFOUND);
	q = buf_new(256);
	/* %d of a key without a domain etc.: no query, as Postfix. */
	if (map_mysql_expand(NULL, q, t->query, key, NULL) != 0) {
		buf_free(q);
		return (MAP_NOTFOUND);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (attempt = 0; attempt < 2; attempt++) {
		if (t->db == NULL && map_mysql_connect(m, t) < 0) {
			ret = MAP_RETRY;
			break;
		}
		buf_reset(q);
		if (map_mysql_expand(t->db, q, t->query, key, NULL) != 0) {
			ret = MAP_NOTFOUND;
			break;
		}
		if (mysql_real_query(t->db, BUF_STR(q), BUF_LEN(q)) == 0
		    && ((res = mysql_store_result(t->db)) != NULL
		    || mysql_field_count(t->db) == 0)) {
			ret = res ? map_mysql_results(m, t, res, key, value)
			    : MAP_NOTFOUND;
			if (res)
				mysql_free_result(res);
			break;
		}
		err = mysql_errno(t->db);
		map_set_error(m, "%s: query failed on %s: %s", m->spec,
		    t->hosts[t->cur].spec, mysql_error(t->db));
		ret = MAP_RETRY;
		if (!map_mysql_lost(err))
			break;
		mysql_close(t->db);
		t->db = NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_observe("postern_map_lookup_seconds", "type=\"mysql\"",
	    (double)(t1.tv_sec - t0.tv_sec)
	    + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	buf_free(q);
	return (ret);
}

/* map_mysql_close - disconnect and free */
static void
map_mysql_close(struct map *m)
{
	if (m->priv)
		map_mysql_free(m->priv);
	m->priv = NULL;
}

const struct map_ops map_mysql_ops = {
	"mysql", MAP_OPS_FOLD | MAP_OPS_NET, NULL, map_mysql_open, map_mysql_lookup, NULL,
	map_mysql_close,
};
