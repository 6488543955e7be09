/*
 * queue_journal_test - the journal's promise, crash by crash
 *
 * A child process writes records and dies (_exit, its lock goes with
 * it) at a chosen point; the test then does to the files what a power
 * loss could have done (a temporary file never written, half written,
 * a rename undone, a delivered file gone) and checks what
 * queue_journal_recover() makes of it: every acknowledged message in
 * its final name with its bytes, none twice, nothing unacknowledged.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue.h"
#include "queue_journal.h"
#include "tap.h"
#include "xalloc.h"

static char qd[] = "/tmp/queue_journal_test.XXXXXX";
static int sync_calls;
static int sync_die_at;		/* the child dies in this sync call */

static int
sync_count(const char *dir)
{
	if (++sync_calls == sync_die_at)
		_exit(0);
	return (queue_sync_fs(dir));
}

/* put - a finished temporary file incoming/.ID; its rename */
static struct queue_rename *
put(const char *id, const char *sub, const char *data)
{
	struct queue_rename *r = xcalloc(1, sizeof(*r));
	FILE	*f;

	r->tmp = xasprintf("%s/incoming/.%s", qd, id);
	r->final = xasprintf("%s/%s/%s", qd, sub, id);
	f = fopen(r->tmp, "w");
	fputs(data, f);
	fclose(f);
	return (r);
}

/* slurp - a file's content, or NULL */
static char *
slurp(const char *sub, const char *name)
{
	char	*p = xasprintf("%s/%s/%s", qd, sub, name), *s;
	FILE	*f = fopen(p, "r");
	long	 n;

	free(p);
	if (f == NULL)
		return (NULL);
	s = xcalloc(1, 1 << 20);
	n = fread(s, 1, (1 << 20) - 1, f);
	s[n] = 0;
	fclose(f);
	return (s);
}

static int
has(const char *sub, const char *name, const char *want)
{
	char	*s = slurp(sub, name);
	int	 ok = s && (want == NULL || strcmp(s, want) == 0);

	free(s);
	return (ok);
}

static void
rm(const char *sub, const char *name)
{
	char	*p = xasprintf("%s/%s/%s", qd, sub, name);

	(void)unlink(p);
	free(p);
}

static void
free_r(struct queue_rename *r)
{
	free(r->tmp);
	free(r->final);
	free(r);
}

/* child_batch - in a child: one batch per string of ids ("A B|C") */
static void
child_batches(const char *spec, int die_sync)
{
	struct queue_journal *j;
	struct queue_rename *rv[16];
	char	 err[256], *copy = xstrdup(spec), *batch, *id, *sb, *si;
	size_t	 n;

	j = queue_journal_open(qd, err, sizeof(err));
	if (j == NULL)
		_exit(3);
	for (batch = strtok_r(copy, "|", &sb); batch;
	    batch = strtok_r(NULL, "|", &sb)) {
		n = 0;
		for (id = strtok_r(batch, " ", &si); id;
		    id = strtok_r(NULL, " ", &si)) {
			char	*data = xasprintf("message %s\nbody\n", id);

			/* K: the writer's copy of the bytes goes with the
			 * rename, and the file on disk is left empty, so
			 * that only a record made from the copy brings the
			 * message back */
			rv[n] = put(id, id[0] == 'H' ? "hold" : "incoming",
			    id[0] == 'K' ? "" : data);
			if (id[0] == 'K') {
				rv[n]->data = data;
				rv[n]->len = strlen(data);
			} else
				free(data);
			if (queue_journal_add(j, rv[n++]) < 0)
				_exit(4);
		}
		if (queue_journal_write(j, rv, n) < 0)
			_exit(5);
	}
	if (die_sync > 0) {
		sync_calls = 0;
		sync_die_at = die_sync;
		(void)queue_journal_checkpoint(j);
	}
	_exit(0);
}

static void
run_child(const char *spec, int die_sync)
{
	pid_t	 pid = fork();
	int	 status;

	if (pid == 0)
		child_batches(spec, die_sync);
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child wrote \"%s\" (dies in sync %d)", spec, die_sync);
}

/* corrupt_second_record - a byte of the second record (every record
 * here is 72 bytes: header 32, names 12 and 11, data 16, padding) */
static void
corrupt_second_record(void)
{
	char	*p = xasprintf("%s/journal/0", qd);
	char	 c;
	int	 fd = open(p, O_RDWR);

	if (pread(fd, &c, 1, 4096 + 72 + 50) == 1) {
		c ^= 0x55;
		(void)!pwrite(fd, &c, 1, 4096 + 72 + 50);
	}
	close(fd);
	free(p);
}

int
main(void)
{
	struct queue_journal *j;
	struct queue_rename *r1, *r2, *big, *bad, *rv[2];
	char	 err[256], *p;
	FILE	*f;
	int	 i;

	if (mkdtemp(qd) == NULL
	    || queue_dirs_create(qd, (uid_t)-1, (gid_t)-1, err,
	    sizeof(err)) < 0) {
		printf("Bail out! %s\n", qd);
		return (1);
	}
	queue_journal_sync_fn = sync_count;

	/* 1. the normal life: journaled, invisible, then renamed */
	j = queue_journal_open(qd, err, sizeof(err));
	tap_ok(j != NULL, "open: %s", j ? "ok" : err);
	r1 = put("A1", "incoming", "a1\n");
	r2 = put("A2", "hold", "a2\n");
	tap_ok(queue_journal_add(j, r1) == 0 && queue_journal_add(j, r2) == 0,
	    "two files staged");
	rv[0] = r1;
	rv[1] = r2;
	tap_ok(queue_journal_write(j, rv, 2) == 0, "written and synced");
	tap_ok(r1->tmp == NULL && r1->final == NULL && r1->data == NULL,
	    "the journal took the rename");
	tap_is_int(queue_journal_pending(j), 2, "two pending");
	tap_ok(has("incoming", ".A1", "a1\n") && !has("incoming", "A1", NULL),
	    "journaled file not yet visible to qmgr");
	tap_is_int(queue_journal_due(j), 0, "not due at once");
	tap_ok(queue_journal_wait(j) > 0, "due later");
	tap_is_int(queue_journal_recover(qd), 0,
	    "a held journal is left alone");
	tap_ok(queue_journal_checkpoint(j) == 0, "checkpoint");
	tap_ok(has("incoming", "A1", "a1\n") && has("hold", "A2", "a2\n")
	    && !has("incoming", ".A1", NULL), "renamed at the checkpoint");
	tap_is_int(queue_journal_pending(j), 0, "nothing pending");
	tap_is_int(queue_journal_wait(j), -1, "nothing to wait for");
	free_r(r1);
	free_r(r2);

	/* 2. refused: too big, not a queue temporary file */
	big = put("B1", "incoming", "");
	f = fopen(big->tmp, "w");
	for (i = 0; i <= QUEUE_JOURNAL_MSG_MAX / 8; i++)
		fputs("01234567", f);
	fclose(f);
	errno = 0;
	tap_ok(queue_journal_add(j, big) < 0 && errno == EFBIG,
	    "a file over QUEUE_JOURNAL_MSG_MAX is refused (EFBIG)");
	bad = xcalloc(1, sizeof(*bad));
	bad->tmp = xasprintf("%s/active/.X1", qd);
	bad->final = xasprintf("%s/active/X1", qd);
	errno = 0;
	tap_ok(queue_journal_add(j, bad) < 0 && errno == EINVAL,
	    "a file outside incoming/ is refused (EINVAL)");
	free_r(big);
	free_r(bad);
	queue_journal_close(j);

	/* 3. killed before any checkpoint; power loss took one file and
	 * half of another: both written again from the journal */
	run_child("C1 C2|H3", 0);
	rm("incoming", ".C1");
	p = xasprintf("%s/incoming/.C2", qd);
	(void)!truncate(p, 3);
	free(p);
	tap_is_int(queue_journal_recover(qd), 3, "recovery: 3 committed");
	tap_ok(has("incoming", "C1", "message C1\nbody\n")
	    && has("incoming", "C2", "message C2\nbody\n")
	    && has("hold", "H3", "message H3\nbody\n"),
	    "lost and torn files written again, in incoming/ and hold/");
	tap_ok(!has("incoming", ".C1", NULL) && !has("incoming", ".C2", NULL),
	    "no temporary file left");
	tap_is_int(queue_journal_recover(qd), 0,
	    "a second recovery finds nothing (new generation)");

	/* 4. killed after the mark and the renames, before the renames
	 * were synced: one file delivered and removed since, one rename
	 * undone by the power loss */
	run_child("D1 D2 D3", 2);
	tap_ok(has("incoming", "D1", NULL) && has("incoming", "D2", NULL),
	    "the checkpoint renamed before it died");
	rm("incoming", "D1");			/* delivered, removed */
	p = xasprintf("%s/incoming/D2", qd);
	{
		char	*t = xasprintf("%s/incoming/.D2", qd);

		(void)rename(p, t);		/* the rename undone */
		free(t);
	}
	free(p);
	tap_is_int(queue_journal_recover(qd), 1, "recovery: 1 renamed");
	tap_ok(!has("incoming", "D1", NULL) && !has("incoming", ".D1", NULL),
	    "a delivered message is not brought back (no duplicate)");
	tap_ok(has("incoming", "D2", "message D2\nbody\n")
	    && has("incoming", "D3", "message D3\nbody\n"),
	    "the others in their final names");
	rm("incoming", "D2");
	rm("incoming", "D3");

	/* 5. killed in the checkpoint's first sync (no mark): every file
	 * written again, whatever the disk kept */
	run_child("E1 E2", 1);
	p = xasprintf("%s/incoming/.E2", qd);
	(void)!truncate(p, 0);
	free(p);
	tap_is_int(queue_journal_recover(qd), 2, "recovery: 2 committed");
	tap_ok(has("incoming", "E1", "message E1\nbody\n")
	    && has("incoming", "E2", "message E2\nbody\n"),
	    "an emptied file written again");

	/* 6. a torn append: the last batch's record is damaged; it was
	 * never acknowledged and is not committed */
	run_child("F1|F2", 0);
	corrupt_second_record();
	tap_is_int(queue_journal_recover(qd), 1,
	    "recovery stops at the torn record");
	tap_ok(has("incoming", "F1", NULL) && !has("incoming", "F2", NULL),
	    "the acknowledged message committed, the torn one not");
	rm("incoming", ".F2");

	/* 7. records made from the writer's copy (r->data), not read back:
	 * the journal holds the copy's bytes */
	run_child("K1 K2", 0);
	tap_ok(has("incoming", ".K1", "") && has("incoming", ".K2", ""),
	    "the copy's files were left empty on disk");
	tap_is_int(queue_journal_recover(qd), 2, "recovery: 2 committed");
	tap_ok(has("incoming", "K1", "message K1\nbody\n")
	    && has("incoming", "K2", "message K2\nbody\n"),
	    "written again from the records of the copies");
	rm("incoming", "K1");
	rm("incoming", "K2");

	/* 8. the records of older generations never come back */
	tap_is_int(queue_journal_recover(qd), 0, "nothing left to recover");
	run_child("G1", 0);
	tap_is_int(queue_journal_recover(qd), 1,
	    "a new generation's one record, none of the old ones");

	p = xasprintf("rm -rf %s", qd);
	(void)!system(p);
	free(p);
	return (tap_done());
}
