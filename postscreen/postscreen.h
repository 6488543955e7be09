/*
 * NAME
 *	postscreen - private interfaces of the postscreen daemon
 * SYNOPSIS
 *	#include "postscreen.h"
 * DESCRIPTION
 *	postscreen sits on port 25 in front of smtpd. Every connection
 *	goes through, in this order:
 *	  1. postscreen_access_list (postscreen_access.c): permit hands
 *	     the socket to smtpd at once ("WHITELISTED"), reject applies
 *	     postscreen_blacklist_action ("BLACKLISTED"), dunno continues;
 *	  2. the temporary allow-list (postscreen_cache.c): a client whose
 *	     every enabled test is still valid goes to smtpd ("PASS OLD");
 *	     then postscreen_client_connection_count_limit (per address)
 *	     and postscreen_pre_queue_limit (clients in the tests), each
 *	     answered with a 421 when exceeded;
 *	  3. the tests before the greeting (postscreen_early.c): the
 *	     "220-" teaser and the pregreet wait, overlapped with the
 *	     DNSBL/DNSWL queries (postscreen_dnsbl.c, on the worker pool,
 *	     shared by parallel connections of one client);
 *	  4. the tests after the greeting (postscreen_smtp.c: a dummy SMTP
 *	     engine for pipelining, non-SMTP commands and bare newlines,
 *	     and the place where "enforce" actions reject RCPT);
 *	  5. the hand-off of the live socket to smtpd (postscreen_send.c).
 *	postscreen_state.c holds the per-connection state, the replies
 *	and the conclusion (cache update, "PASS NEW", hand-off).
 *
 *	The tests are indexed by enum psc_test. Each has a time stamp in
 *	the cache: its expiry time, PSC_STAMP_NEW (never passed) or
 *	PSC_STAMP_DISABLED (the test was off when the client passed).
 * SEE ALSO
 *	postscreen(8), postconf(5) of Postfix.
 */
#ifndef POSTSCREEN_H
#define POSTSCREEN_H

#include <stddef.h>
#include <sys/time.h>
#include <time.h>

struct event;
struct event_base;
struct buf;
struct strv;
struct workq;
struct tls_ctx;
typedef struct ssl_st SSL;

/* The tests, in cache-record order. */
enum psc_test {
	PSC_TEST_PREGR,			/* pregreet */
	PSC_TEST_DNSBL,			/* DNSBL score */
	PSC_TEST_PIPEL,			/* command pipelining */
	PSC_TEST_NSMTP,			/* non-SMTP command */
	PSC_TEST_BARLF,			/* bare newline */
	PSC_NTESTS
};

#define PSC_STAMP_NEW		0L
#define PSC_STAMP_DISABLED	1L

/* Actions for a failed test. */
#define PSC_ACT_IGNORE	0
#define PSC_ACT_ENFORCE	1
#define PSC_ACT_DROP	2

/* Outcomes of the access list. */
#define PSC_ACL_DUNNO	0
#define PSC_ACL_PERMIT	1
#define PSC_ACL_REJECT	2
#define PSC_ACL_RETRY	3

/*
 * Configuration, read once in post_init (postscreen.c).
 */
struct psc_params {
	long	 greet_wait;
	long	 greet_ttl;
	const char *greet_banner;
	const char *smtpd_banner;	/* the dummy engine's 220 */
	int	 greet_action;
	int	 blacklist_action;
	int	 dnsbl_action;
	long	 dnsbl_threshold;
	long	 dnsbl_allow_threshold;
	long	 dnsbl_min_ttl;
	long	 dnsbl_max_ttl;
	long	 dnsbl_timeout;
	int	 pipel_enable;
	int	 pipel_action;
	long	 pipel_ttl;
	int	 nsmtp_enable;
	int	 nsmtp_action;
	long	 nsmtp_ttl;
	int	 barlf_enable;
	int	 barlf_action;
	long	 barlf_ttl;
	long	 command_time_limit;
	long	 command_count_limit;
	long	 line_length_limit;
	long	 pre_queue_limit;
	long	 client_conn_limit;
	long	 post_queue_limit;
	long	 cache_cleanup_interval;
	long	 cache_retention_time;
	long	 message_size_limit;
	int	 tls_level;		/* postscreen_tls_security_level */
	int	 disable_vrfy;
	const char *myhostname;
	char	*smtpd_socket;		/* $queue_directory/private/smtpd */
	const char *cache_map;		/* postscreen_cache_map */
	struct psc_forbidden *forbidden; /* postscreen_forbidden_commands */
};

extern struct psc_params psc_var;
extern struct event_base *psc_base;
extern struct workq *psc_workq;
extern struct psc_dnsbl_sites *psc_sites;
extern struct psc_access *psc_acl;
extern struct psc_cache *psc_cache;
extern struct tls_ctx *psc_tls;
extern int psc_pre_count;		/* sessions in the tests */

/*
 * Per-connection state.
 */
struct psc_state {
	int	 fd;
	char	 addr[64];
	char	 port[8];
	char	 saddr[64];
	char	 sport[8];
	struct timeval start;
	int	 todo[PSC_NTESTS];	/* test must run */
	int	 pass[PSC_NTESTS];	/* test passed this session */
	int	 fail[PSC_NTESTS];	/* test failed this session */
	long	 stamps[PSC_NTESTS];	/* from the cache, updated on pass */
	int	 counted_pre;		/* counts in psc_pre_count */
	int	 counted_client;	/* counts in psc_count_add() */
	int	 teaser_sent;		/* "220-" went out */
	int	 allowlisted;		/* DNSWL score: skip the rest */
	int	 denylisted;		/* postscreen_access_list reject */
	int	 cached;		/* passes stored at RCPT (psc_pass_rcpt) */
	char	*enforce_reply;		/* reply to RCPT after enforce */
	const char *test_phase;		/* for HANGUP logs */
	/* early tests */
	struct event *read_ev;
	struct event *greet_timer;
	struct event *dnsbl_timer;
	int	 greet_done;
	int	 dnsbl_done;
	int	 early_finished;
	struct psc_dnsbl_req *dnsbl_req;
	long	 dnsbl_score;
	long	 dnsbl_ttl;
	char	*dnsbl_name;
	/* dummy SMTP engine */
	char	*helo;
	char	*sender;
	char	 last_cmd[16];
	long	 ncmds;
	int	 closing;
	int	 esmtp;
	struct buf *in;
	SSL	*ssl;			/* after STARTTLS */
	int	 tls_state;		/* 0 plain, 1 handshake, 2 up */
	/* hand-off to smtpd, retried while its backlog is full */
	struct event *pass_timer;
	long	 pass_waited_ms;
	long	 pass_delay_ms;
};

/* postscreen_state.c */
struct psc_state *psc_state_new(int, const char *, const char *,
	    const char *, const char *);
void	 psc_state_free(struct psc_state *);
const char *psc_client(const struct psc_state *);
const char *psc_elapsed(const struct psc_state *);
int	 psc_send_reply(struct psc_state *, const char *);
int	 psc_fail(struct psc_state *, enum psc_test, int, const char *,
	    const char *);
void	 psc_hangup(struct psc_state *, const char *);
void	 psc_drop(struct psc_state *, const char *);
void	 psc_conclude(struct psc_state *);
void	 psc_finish_after_smtp(struct psc_state *);
void	 psc_pass_rcpt(struct psc_state *);
int	 psc_any_todo(const struct psc_state *);
int	 psc_parse_action(const char *, const char *);
int	 psc_count_add(const char *, int);
const char *psc_escape(const char *, size_t, char *, size_t);

/* postscreen_access.c */
struct psc_access *psc_access_open(const char *, const struct strv *);
int	 psc_access_check(struct psc_access *, const char *);
void	 psc_access_close(struct psc_access *);
int	 psc_cidr_match(const char *, const char *);

/* postscreen_dnsbl.c */
struct psc_dnsbl_site {
	char	*domain;		/* DNSBL zone */
	char	*filter;		/* printable filter or NULL */
	unsigned char pattern[4][256];	/* octet sets, if filter */
	long	 weight;
};

struct psc_dnsbl_sites {
	struct psc_dnsbl_site *site;
	size_t	 nsite;
	char	**domain;		/* distinct zones, query order */
	size_t	 ndomain;
};

typedef void psc_dnsbl_warn_fn(const char *, void *);
typedef void psc_dnsbl_done_fn(void *ctx);

struct psc_dnsbl_sites *psc_dnsbl_parse(const char *, psc_dnsbl_warn_fn *,
	    void *);
void	 psc_dnsbl_sites_free(struct psc_dnsbl_sites *);
int	 psc_dnsbl_filter_parse(const char *, struct psc_dnsbl_site *,
	    char *, size_t);
long	 psc_dnsbl_score_domain(const struct psc_dnsbl_sites *, const char *,
	    const struct strv *, const char **, long *);
struct psc_dnsbl_req *psc_dnsbl_request(const struct psc_dnsbl_sites *,
	    struct workq *, const char *, psc_dnsbl_done_fn *, void *);
long	 psc_dnsbl_result(const struct psc_dnsbl_req *, const char **,
	    int *);
int	 psc_dnsbl_errors(const struct psc_dnsbl_req *);
void	 psc_dnsbl_release(struct psc_dnsbl_req *);
void	 psc_dnsbl_shutdown(void);
char	*psc_dnsbl_query_name(const char *, const char *);

/* postscreen_cache.c */
struct psc_cache *psc_cache_open(const char *, char *, size_t);
int	 psc_cache_get(struct psc_cache *, const char *, long *);
int	 psc_cache_put(struct psc_cache *, const char *, const long *);
long	 psc_cache_cleanup(struct psc_cache *, time_t, long, long *);
void	 psc_cache_close(struct psc_cache *);
void	 psc_stamps_format(const long *, char *, size_t);
int	 psc_stamps_parse(const char *, long *);
char	*psc_cache_path(const char *);

/* postscreen_early.c */
void	 psc_early_tests(struct psc_state *);
void	 psc_early_cancel(struct psc_state *);

/* postscreen_smtp.c */
void	 psc_smtp_tests(struct psc_state *);
void	 psc_smtp_cancel(struct psc_state *);
struct psc_forbidden *psc_forbidden_parse(const char *);
int	 psc_forbidden_match(const struct psc_forbidden *, const char *);
void	 psc_forbidden_free(struct psc_forbidden *);

/* postscreen_send.c */
void	 psc_send_socket(struct psc_state *);

#endif
