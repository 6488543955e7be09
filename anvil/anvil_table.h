/* anvil_table - client connection counts and event rates (anvil_table.c) */
#ifndef ANVIL_TABLE_H
#define ANVIL_TABLE_H

#include <time.h>

#define ANVIL_EV_CONN	0	/* connection rate */
#define ANVIL_EV_MAIL	1
#define ANVIL_EV_RCPT	2
#define ANVIL_EV_NTLS	3
#define ANVIL_EV_AUTH	4
#define ANVIL_EV_COUNT	5

struct anvil_table;

typedef void anvil_stat_fn(const char *what, int value, const char *ident,
	    time_t when, void *ctx);

struct anvil_table *anvil_table_new(long unit);
void	 anvil_table_free(struct anvil_table *);
void	 anvil_table_connect(struct anvil_table *, const char *, time_t,
	    int *, int *);
void	 anvil_table_disconnect(struct anvil_table *, const char *, time_t);
int	 anvil_table_event(struct anvil_table *, const char *, int, time_t);
int	 anvil_table_count(struct anvil_table *, const char *);
size_t	 anvil_table_expire(struct anvil_table *, time_t);
void	 anvil_table_stats(struct anvil_table *, anvil_stat_fn *, void *);

#endif
