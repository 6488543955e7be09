/*
 * NAME
 *	virtual - the virtual(8) Maildir delivery agent
 * SYNOPSIS
 *	virtual [-c confdir] [-o name=value] [-d] [-v] [-l path]
 * DESCRIPTION
 *	A unix service (master.cf: "virtual unix - n n - - virtual", as
 *	root: unpriv=n) speaking lib/deliver.h: each connection carries one
 *	request; the agent answers with one status per recipient and
 *	closes. The event loop only moves bytes: parsing the queue file,
 *	map lookups and all Maildir file work run on a worker pool
 *	(lib/workq.h), each thread with its own map handles, so many
 *	deliveries proceed at once and a slow database stalls only the
 *	requests waiting on it.
 *
 *	Durability is shared between those threads (group commit): each
 *	writes its Maildir files without fsync; one thread then calls
 *	syncfs(2) for every file system the waiting requests wrote on
 *	while the others wait for that sync; then the renames into new/,
 *	a second shared sync, and only then the answers. Under load a
 *	sync waits until 1 ms has passed since the last one ended, and
 *	covers everything written meanwhile (virtual_deliver.c). A failed
 *	sync defers every delivery of that batch (4.3.0) and removes its
 *	files. virtual keeps one descriptor per file system it delivered
 *	on (to learn of write-back errors), so such a file system cannot
 *	be unmounted while virtual runs. A recipient qmgr marks
 *	rcpt.N.retry=0 skips the look for an earlier copy in new/ and
 *	cur/; a Maildir delivery is answered rcpt.N.exactly_once=1.
 *
 *	Parameters: queue_directory, virtual_mailbox_base,
 *	virtual_mailbox_maps, virtual_uid_maps, virtual_gid_maps,
 *	virtual_minimum_uid, virtual_mailbox_limit, myhostname,
 *	recipient_delimiter, ipc_timeout (per request read/write).
 *	Run as root, it drops the supplementary groups it inherited from
 *	master at start: under setfsuid/setfsgid only the mailbox owner's
 *	uid and gid may count.
 * DIAGNOSTICS
 *	Configuration problems defer mail (never bounce) and are logged.
 * SEE ALSO
 *	virtual_deliver.c (the delivery rules), QUEUE.md, deliver.h.
 */
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "agent.h"
#include "attr.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "server.h"
#include "virtual.h"
#include "workq.h"
#include "xalloc.h"

#define VIRTUAL_THREADS	16

static struct virtual_cfg cfg;

/* virtual_job - worker thread: the whole delivery of one request */
static void
virtual_job(void *thread_ctx, const struct attr_list *req, struct buf *resp)
{
	virtual_request(&cfg, thread_ctx, req, resp);
}

/* thread_init - per-thread map handles */
static void *
thread_init(void)
{
	return (virtual_maps_open(&cfg));
}

/* thread_fini - close them */
static void
thread_fini(void *ctx)
{
	virtual_maps_close(ctx);
}

static struct agent_spec agent = {
	.thread_init = thread_init,
	.thread_fini = thread_fini,
	.request = virtual_job,
};

/* virtual_post_init - configuration and the pool */
static void
virtual_post_init(struct event_base *base)
{
	/*
	 * virtual keeps root to take each mailbox owner's identity with
	 * setfsuid/setfsgid; the supplementary groups master ran with would
	 * still count in permission checks: drop them all.
	 */
	if (geteuid() == 0 && setgroups(0, NULL) < 0)
		log_fatal("setgroups: %m");
	virtual_cfg_load(&cfg);
	if (*cfg.base == 0)
		log_warn("virtual_mailbox_base is not set: all deliveries "
		    "will be deferred");
	agent.threads = VIRTUAL_THREADS;
	agent_start(base, &agent);
}

/* virtual_pre_exit - stop the pool */
static void
virtual_pre_exit(void)
{
	agent_stop();
	virtual_cfg_free(&cfg);
}

int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
		.program = "virtual",
		.keep_root = 1,
		.post_init = virtual_post_init,
		.accept = agent_accept,
		.pre_exit = virtual_pre_exit,
	};

	return (server_main(argc, argv, &spec));
}
