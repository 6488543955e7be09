/* anvil_shm - client counts and rates in memory shared by smtpd and anvil */
#ifndef ANVIL_SHM_H
#define ANVIL_SHM_H

#include <stddef.h>
#include <time.h>

#define ANVIL_EV_CONN	0	/* connection rate */
#define ANVIL_EV_MAIL	1
#define ANVIL_EV_RCPT	2
#define ANVIL_EV_NTLS	3
#define ANVIL_EV_AUTH	4
#define ANVIL_EV_COUNT	5

/* master passes the table's fd to its children under this name */
#define ANVIL_SHM_ENV	"POSTERN_ANVIL_FD"

struct anvil_shm;

typedef void anvil_stat_fn(const char *what, int value, const char *ident,
	    time_t when, void *ctx);

int	 anvil_shm_create(long, long);
struct anvil_shm *anvil_shm_attach(int, char *, size_t);
struct anvil_shm *anvil_shm_from_env(char *, size_t);
int	 anvil_shm_claim(struct anvil_shm *);
void	 anvil_shm_units(struct anvil_shm *, long, long);
int	 anvil_shm_connect(struct anvil_shm *, const char *, time_t, int *,
	    int *, unsigned *);
void	 anvil_shm_disconnect(struct anvil_shm *, const char *, unsigned,
	    time_t);
int	 anvil_shm_event(struct anvil_shm *, const char *, int, time_t);
int	 anvil_shm_count(struct anvil_shm *, const char *);
int	 anvil_shm_reap(struct anvil_shm *);
void	 anvil_shm_stats(struct anvil_shm *, anvil_stat_fn *, void *);
void	 anvil_shm_detach(struct anvil_shm *);
int	 anvil_shm_hold(struct anvil_shm *);

#endif
