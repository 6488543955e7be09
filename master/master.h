/*
 * NAME
 *	master - private interfaces of the master daemon
 * SYNOPSIS
 *	#include "master.h"
 * DESCRIPTION
 *	master.c: main, pid lock, signals, reload and stop.
 *	master_svc.c: services from master.cf: which program runs a
 *	    service (folded, unknown), how many processes, the argv.
 *	master_listen.c: the listeners of a service (inet addresses from
 *	    inet_interfaces/inet_protocols, unix sockets under the queue).
 *	master_spawn.c: processes: start, reap, restart with a throttle,
 *	    status pipe, wakeup timers, signals to children.
 */
#ifndef MASTER_H
#define MASTER_H

#include <sys/types.h>

#include <time.h>

struct event;
struct event_base;
struct mastercf_service;

#define MASTER_MAX_LISTEN	16	/* addresses of one inet service */
#define MASTER_THROTTLE_MIN	1	/* seconds */
#define MASTER_THROTTLE_MAX	60
#define MASTER_QUICK_EXIT	3	/* a failure sooner than this throttles */

struct master_proc {
	pid_t	 pid;
	struct master_svc *svc;
	time_t	 started;
	int	 draining;		/* stopped accepting; will exit */
	int	 procnum;
	struct master_proc *next;	/* global list */
};

struct master_svc {
	char	*name;			/* master.cf service field */
	char	*type;			/* as written */
	char	*key;			/* "name/type": identity on reload */
	char	*listen_sig;		/* what the listeners are (reload) */
	int	 private_;
	long	 wakeup;
	int	 maxproc;		/* master.cf; 0 = no limit */
	int	 want;			/* processes to keep running */
	int	 solitary;		/* never two at once (qmgr) */
	char	*path;			/* program to exec; NULL: not started */
	char	*argv0;
	struct strv *args;		/* master.cf args as written */
	int	 fds[MASTER_MAX_LISTEN];
	int	 nfds;
	char	*sock_path;		/* unix: the socket file */
	int	 status_pipe[2];
	struct event *status_ev;
	struct event *wakeup_ev;
	struct event *throttle_ev;
	int	 throttled;
	int	 throttle_delay;
	int	 nproc;			/* running, not draining */
	int	 nall;			/* running, draining included */
	int	 next_procnum;
	int	 removed;		/* gone from master.cf (reload) */
	struct master_svc *next;
};

extern struct event_base *master_base;
extern const char *master_confdir;
extern int master_stopping;
extern int master_anvil_fd;

/* master_svc.c */
struct master_svc *master_svc_build(const struct mastercf_service *, char *,
	    size_t);
void	 master_svc_free(struct master_svc *);
void	 master_svc_forget_logged(void);

/* master_listen.c */
int	 master_listen_open(struct master_svc *);
void	 master_listen_close(struct master_svc *);
char	*master_listen_sig(const struct mastercf_service *);
void	 master_listen_take(struct master_svc *, struct master_svc *);
int	 master_listen_expand(const char *, char ***, int *);

/* master_spawn.c */
extern struct master_svc *master_services;
extern struct master_proc *master_procs;
void	 master_spawn_start(struct master_svc *);
void	 master_spawn_fill(struct master_svc *);
void	 master_spawn_reap(void);
void	 master_spawn_signal_all(int, int);
int	 master_spawn_count(void);
void	 master_spawn_detach(struct master_svc *);

#endif
