/*
 * NAME
 *	postern_perms - "postern check"'s ownership checks and
 *	"postern set-permissions" (Postfix's "postfix set-permissions")
 * SYNOPSIS
 *	#include "postern_perms.h"
 *
 *	int	postern_perms_check(void);
 *	int	postern_perms_set(void);
 * DESCRIPTION
 *	The owners and modes are QUEUE.md's (lib/queue.c creates the
 *	directories with them): queue_directory and pid/ belong to root,
 *	every other queue directory and the files in it to mail_owner
 *	(maildrop/ files to whoever submitted them), data_directory and
 *	its files to mail_owner; maildrop/ is 1733, public/ 0755, the
 *	other queue directories 0700.
 *
 *	postern_perms_check() reports, as errors, each directory with
 *	another owner (only when run as root: without root the queue
 *	belongs to the invoking user) or another mode, and the number of
 *	files in a queue directory that mail_owner does not own (not in
 *	data_directory: a daemon may create a cache there as root before
 *	it drops privileges), then says to run "postern set-permissions": with those,
 *	smtpd answers 451 and qmgr cannot move mail, so start and reload
 *	refuse. Missing directories are not reported (master creates
 *	them).
 *
 *	postern_perms_set() (root only) repairs all that, and gives
 *	each LMDB table that main.cf names (hash:, btree:, lmdb:) its
 *	source file's owner and permission bits, as postmap does
 *	(map_lmdb_perms()). Each change is logged.
 * DIAGNOSTICS
 *	postern_perms_check() returns the number of problems.
 *	postern_perms_set() returns 0, or 1 if something could not
 *	be repaired (or not root).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "map_lmdb.h"
#include "postern_perms.h"
#include "str.h"
#include "xalloc.h"

/* QUEUE.md's table of queue directories. */
static const struct perms_dir {
	const char *name;
	mode_t	 mode;
	int	 mail_owned;	/* else root's */
	int	 files_mail_owned;
} perms_dirs[] = {
	{"incoming", 0700, 1, 1}, {"active", 0700, 1, 1},
	{"deferred", 0700, 1, 1}, {"hold", 0700, 1, 1},
	{"corrupt", 0700, 1, 1}, {"maildrop", 01733, 1, 0},
	{"bounce", 0700, 1, 1}, {"defer", 0700, 1, 1},
	{"private", 0700, 1, 0}, {"public", 0755, 1, 0},
	{"pid", 0755, 0, 0}, {"saved", 0700, 1, 1},
};

#define PERMS_NDIRS	(sizeof(perms_dirs) / sizeof(perms_dirs[0]))

static uid_t perms_uid;
static gid_t perms_gid;
static long perms_count;	/* nftw callbacks: files counted or fixed */
static int perms_failed;

/* perms_owner - mail_owner's ids; -1 if unknown */
static int
perms_owner(void)
{
	struct passwd *pw = getpwnam(conf_str("mail_owner"));

	if (pw == NULL)
		return (-1);
	perms_uid = pw->pw_uid;
	perms_gid = pw->pw_gid;
	return (0);
}

/* perms_count_foreign - nftw: count entries not owned by mail_owner */
static int
perms_count_foreign(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	if (ftw->level > 0 && st->st_uid != perms_uid)
		perms_count++;
	return (0);
}

/* perms_tree_foreign - entries below dir that mail_owner does not own */
static long
perms_tree_foreign(const char *dir)
{
	perms_count = 0;
	(void)nftw(dir, perms_count_foreign, 16, FTW_PHYS);
	return (perms_count);
}

/* perms_check_dir - one directory's owner and mode; problems found */
static int
perms_check_dir(const char *path, uid_t uid, const char *owner,
    mode_t mode, int root)
{
	struct stat st;
	int	 bad = 0;

	if (lstat(path, &st) < 0)
		return (0);
	if (!S_ISDIR(st.st_mode)) {
		log_error("not a directory: %s", path);
		return (1);
	}
	if (root && st.st_uid != uid) {
		log_error("not owned by %s: %s", owner, path);
		bad++;
	}
	if (mode != (mode_t)-1 && (st.st_mode & 07777) != mode) {
		log_error("not mode %04o: %s (%04o)", (unsigned)mode, path,
		    (unsigned)(st.st_mode & 07777));
		bad++;
	}
	return (bad);
}

/* perms_check_files - files below path that mail_owner does not own */
static int
perms_check_files(const char *path)
{
	long	 n = perms_tree_foreign(path);

	if (n == 0)
		return (0);
	log_error("%ld file%s not owned by %s in %s", n, n == 1 ? "" : "s",
	    conf_str("mail_owner"), path);
	return (1);
}

/* postern_perms_check - queue and data_directory owners and modes */
int
postern_perms_check(void)
{
	const char *q = conf_str("queue_directory");
	const char *d = conf_str("data_directory");
	const char *mo = conf_str("mail_owner");
	int	 root = geteuid() == 0, bad = 0;
	size_t	 i;
	char	*p;

	if (root && perms_owner() < 0)
		return (0);	/* master says so at start */
	bad += perms_check_dir(q, 0, "root", (mode_t)-1, root);
	for (i = 0; i < PERMS_NDIRS; i++) {
		p = xasprintf("%s/%s", q, perms_dirs[i].name);
		bad += perms_check_dir(p, perms_dirs[i].mail_owned ?
		    perms_uid : 0, perms_dirs[i].mail_owned ? mo : "root",
		    perms_dirs[i].mode, root);
		if (root && perms_dirs[i].files_mail_owned)
			bad += perms_check_files(p);
		free(p);
	}
	/* Its files: daemons may make some as root before they drop. */
	if (*d)
		bad += perms_check_dir(d, perms_uid, mo, (mode_t)-1, root);
	if (bad)
		log_error("%d ownership or permission problem%s: run "
		    "\"postern set-permissions\" (as root) to repair", bad,
		    bad == 1 ? "" : "s");
	return (bad);
}

/* perms_chown_one - nftw: give an entry to mail_owner */
static int
perms_chown_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	if (st->st_uid == perms_uid && st->st_gid == perms_gid)
		return (0);
	if (lchown(path, perms_uid, perms_gid) < 0) {
		log_warn("chown %s: %m", path);
		perms_failed = 1;
	} else
		perms_count++;
	return (0);
}

/* perms_fix_dir - owner and mode of one directory (and its files) */
static void
perms_fix_dir(const char *path, uid_t uid, gid_t gid, mode_t mode,
    int tree)
{
	struct stat st;

	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	if (tree) {
		perms_count = 0;
		(void)nftw(path, perms_chown_one, 16, FTW_PHYS);
		if (perms_count)
			log_info("%s: %ld entr%s given to %s", path,
			    perms_count, perms_count == 1 ? "y" : "ies",
			    conf_str("mail_owner"));
	} else if ((st.st_uid != uid || st.st_gid != gid)
	    && chown(path, uid, gid) < 0) {
		log_warn("chown %s: %m", path);
		perms_failed = 1;
	} else if (st.st_uid != uid || st.st_gid != gid)
		log_info("%s: owner set", path);
	if (mode != (mode_t)-1 && (st.st_mode & 07777) != mode) {
		if (chmod(path, mode) < 0) {
			log_warn("chmod %s: %m", path);
			perms_failed = 1;
		} else
			log_info("%s: mode %04o", path, (unsigned)mode);
	}
}

/* perms_fix_table - one main.cf table token: the source's owner, mode */
static void
perms_fix_table(const char *tok)
{
	static const char *types[] = {"hash:", "btree:", "lmdb:", NULL};
	const char **t;
	char	*path, err[512];
	struct stat before, after;

	for (t = types; *t; t++)
		if (strncmp(tok, *t, strlen(*t)) == 0)
			break;
	if (*t == NULL || tok[strlen(*t)] != '/')
		return;
	tok += strlen(*t);
	path = xasprintf("%s.lmdb", tok);
	if (stat(path, &before) == 0 && access(tok, F_OK) == 0) {
		if (map_lmdb_perms(tok, path, path, err, sizeof(err)) < 0) {
			log_warn("%s", err);
			perms_failed = 1;
		} else if (stat(path, &after) == 0
		    && (after.st_mode != before.st_mode
		    || after.st_uid != before.st_uid
		    || after.st_gid != before.st_gid))
			log_info("%s: owner and mode of its source %s", path,
			    tok);
	}
	free(path);
}

/* perms_walk_tables - conf_walk: the tables of one used parameter */
static void
perms_walk_tables(const char *name, const char *raw, void *ctx)
{
	struct strv *t;
	size_t	 i;

	if (!conf_known(name))
		return;		/* an unused parameter is not evaluated */
	t = conf_split(conf_str(name));
	for (i = 0; i < t->argc; i++)
		perms_fix_table(t->argv[i]);
	strv_free(t);
}

/* postern_perms_set - repair queue, data_directory and tables */
int
postern_perms_set(void)
{
	const char *q = conf_str("queue_directory");
	const char *d = conf_str("data_directory");
	size_t	 i;
	char	*p;

	if (geteuid() != 0) {
		log_error("set-permissions must be run as root");
		return (1);
	}
	if (perms_owner() < 0) {
		log_error("mail_owner %s: no such user", conf_str("mail_owner"));
		return (1);
	}
	perms_failed = 0;
	perms_fix_dir(q, 0, 0, (mode_t)-1, 0);
	for (i = 0; i < PERMS_NDIRS; i++) {
		p = xasprintf("%s/%s", q, perms_dirs[i].name);
		/* maildrop/ and the socket directories: not their files. */
		if (perms_dirs[i].mail_owned)
			perms_fix_dir(p, perms_uid, perms_gid,
			    perms_dirs[i].mode, perms_dirs[i].files_mail_owned);
		else
			perms_fix_dir(p, 0, 0, perms_dirs[i].mode, 0);
		free(p);
	}
	if (*d)
		perms_fix_dir(d, perms_uid, perms_gid, (mode_t)-1, 1);
	conf_walk(CONF_EXPLICIT, perms_walk_tables, NULL);
	return (perms_failed);
}
