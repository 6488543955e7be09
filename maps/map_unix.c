/*
 * NAME
 *	map_unix - unix:passwd.byname and unix:group.byname tables
 * SYNOPSIS
 *	map_unix_ops (map_int.h)
 * DESCRIPTION
 *	Postfix's default local_recipient_maps names
 *	unix:passwd.byname: the key is a login name, the value the
 *	passwd(5) line. group.byname answers "name:passwd:gid:members".
 *	Lookups use getpwnam_r()/getgrnam_r() (thread-safe).
 * DIAGNOSTICS
 *	Any other table name fails the open. A lookup error other than
 *	"no such entry" is MAP_RETRY.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "map_int.h"
#include "xalloc.h"

/* map_unix_open - which table */
static int
map_unix_open(struct map *m)
{
	if (strcmp(m->name, "passwd.byname") != 0
	    && strcmp(m->name, "group.byname") != 0) {
		map_set_error(m, "%s: unknown unix: table (passwd.byname, "
		    "group.byname)", m->spec);
		return (-1);
	}
	return (0);
}

/* map_unix_lookup - getpwnam_r / getgrnam_r */
static int
map_unix_lookup(struct map *m, const char *key, char **value)
{
	char	 buf[16384];
	int	 rc;

	if (*key == 0)
		return (MAP_NOTFOUND);
	if (m->name[0] == 'p') {
		struct passwd pw, *pp = NULL;

		rc = getpwnam_r(key, &pw, buf, sizeof(buf), &pp);
		if (pp)
			*value = xasprintf("%s:%s:%ld:%ld:%s:%s:%s", pw.pw_name,
			    pw.pw_passwd, (long) pw.pw_uid, (long) pw.pw_gid,
			    pw.pw_gecos, pw.pw_dir, pw.pw_shell);
	} else {
		struct group gr, *gp = NULL;
		struct buf *b;
		char	**mem;

		rc = getgrnam_r(key, &gr, buf, sizeof(buf), &gp);
		if (gp) {
			b = buf_new(64);
			buf_printf(b, "%s:%s:%ld:", gr.gr_name, gr.gr_passwd,
			    (long) gr.gr_gid);
			for (mem = gr.gr_mem; *mem; mem++)
				buf_printf(b, "%s%s",
				    mem == gr.gr_mem ? "" : ",", *mem);
			*value = buf_steal(b);
		}
	}
	if (*value)
		return (MAP_FOUND);
	if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF
	    || rc == EPERM)
		return (MAP_NOTFOUND);
	map_set_error(m, "%s: %s", m->spec, strerror(rc));
	return (MAP_RETRY);
}

/* map_unix_close - nothing to free */
static void
map_unix_close(struct map *m)
{
}

const struct map_ops map_unix_ops = {
	"unix", 0, NULL, map_unix_open, map_unix_lookup, NULL,
	map_unix_close,
};
