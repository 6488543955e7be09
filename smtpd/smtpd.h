/*
 * NAME
 *	smtpd - private interfaces between the smtpd modules
 * SYNOPSIS
 *	#include "smtpd.h"
 * DESCRIPTION
 *	smtpd.c		main(): parameters, server_main()
 *	smtpd_session.c	the session state machine on libevent
 *	smtpd_cmd.c	command parsing, check_<cmd>() and do_<cmd>()
 *	smtpd_ext.c	SMTPUTF8 and REQUIRETLS
 *	smtpd_data.c	the DATA stream reader
 *	smtpd_bdat.c	BDAT (RFC 3030 CHUNKING): commands and chunk reader
 *	smtpd_queue.c	cleanup on a worker, group commit, qmgr wake-up
 *	smtpd_tls.c	the STARTTLS context and OpenSSL filter
 *	smtpd_auth.c	the AUTH command over smtpd_sasl.c
 *
 *	Only smtpd_session.c touches libevent. The command and DATA
 *	modules see a session and write replies through smtpd_reply();
 *	work that may block goes through smtpd_session_check() and
 *	smtpd_queue_message(), which continue in a callback.
 */
#ifndef SMTPD_H
#define SMTPD_H

#include <stddef.h>

#include "buf.h"
#include "smtpd_check.h"

struct event_base;
struct server_conn;
struct bufferevent;
struct event;
struct smtpd_session;
struct smtpd_sasl;
struct tls_ctx;

/* smtpd_forbid_bare_newline */
#define SMTPD_BARE_NO		0
#define SMTPD_BARE_NORMALIZE	1
#define SMTPD_BARE_REJECT	2

/* The parameters smtpd uses, read once at start (smtpd.c). */
struct smtpd_params {
	const char *myhostname;
	const char *banner;
	const char *queue_dir;
	long	 timeout;		/* smtpd_timeout, seconds */
	long	 line_limit;		/* line_length_limit */
	long	 size_limit;		/* message_size_limit, 0 = none */
	long	 rcpt_limit;		/* smtpd_recipient_limit */
	int	 helo_required;		/* smtpd_helo_required */
	long	 soft_errors;		/* smtpd_soft_error_limit */
	long	 hard_errors;		/* smtpd_hard_error_limit */
	long	 error_sleep;		/* smtpd_error_sleep_time, seconds */
	long	 junk_limit;		/* smtpd_junk_command_limit */
	int	 disable_vrfy;		/* disable_vrfy_command */
	int	 bare_newline;		/* smtpd_forbid_bare_newline */
	int	 workers;		/* smtpd_worker_threads */
	int	 dns_workers;		/* smtpd_dns_worker_threads */
	int	 workers_max;		/* smtpd_worker_threads_max */
	int	 forbid_unauth_pipe;	/* smtpd_forbid_unauth_pipelining */
	int	 sync_fs;		/* smtpd_queue_sync = syncfs or journal */
	int	 journal;		/* smtpd_queue_sync = journal */
	int	 delay_reject;		/* smtpd_delay_reject */
	int	 peername_lookup;	/* smtpd_peername_lookup */
	int	 data_checks;		/* smtpd_data_restrictions is set */
	int	 tls_level;		/* smtpd_tls_security_level */
	int	 tls_received;		/* smtpd_tls_received_header */
	int	 tls_wrapper;		/* smtpd_tls_wrappermode */
	struct tls_ctx *tls;		/* NULL: no STARTTLS */
	int	 sasl_enable;		/* smtpd_sasl_auth_enable */
	struct strv *bare_exclusions;	/* ..._bare_newline_exclusions */
};

extern struct smtpd_params smtpd_params;

/* DATA reader (smtpd_data.c) */
struct smtpd_data {
	int	 state;
	int	 mode;
	int	 done;			/* end of data seen */
	int	 bare_lf;		/* stopped at a forbidden bare LF */
	int	 too_big;
	long	 nbare_lf;		/* bare LFs accepted */
	size_t	 size;			/* octets as transmitted, RFC 1870 */
	size_t	 limit;
	struct buf *msg;		/* LF endings, unstuffed; the session
					 * drains it every SMTPD_DATA_CHUNK */
	void	*queue;			/* the queue file being written */
	void	 (*drop)(void *);	/* smtpd_data_free: abandon it */
	/* BDAT (smtpd_bdat.c); bdat 0: a DATA reader */
	int	 bdat;			/* SMTPD_BDAT_* */
	int	 bdat_last;		/* the chunk is BDAT n LAST */
	int	 bdat_skip;		/* discard the chunk, then bdat_reply */
	int	 bdat_cr;		/* a CR ended the previous octets */
	int	 bdat_bol;		/* d->msg is at a line start */
	unsigned long long bdat_chunk;	/* octets the command announced */
	unsigned long long bdat_left;	/* octets of the chunk to come */
	char	*bdat_reply;		/* the reply after a skipped chunk */
};

#define SMTPD_BDAT_NONE		0
#define SMTPD_BDAT_CHECK	1	/* first BDAT: the DATA check runs */
#define SMTPD_BDAT_OK		2	/* accepting chunks */
#define SMTPD_BDAT_ERROR	3	/* skipping chunks until LAST/RSET */

#define SMTPD_DATA_CHUNK	16384	/* bytes per write to the queue */

void	 smtpd_data_init(struct smtpd_data *, size_t, int);
size_t	 smtpd_data_feed(struct smtpd_data *, const char *, size_t);
void	 smtpd_data_free(struct smtpd_data *);

/* BDAT (smtpd_bdat.c) */
void	 smtpd_bdat_cmd(struct smtpd_session *, char *);
size_t	 smtpd_bdat_feed(struct smtpd_data *, const char *, size_t);
int	 smtpd_bdat_end(struct smtpd_session *);

/* Commands (smtpd_cmd.c) */
enum smtpd_verb {
	SMTPD_VERB_HELO,
	SMTPD_VERB_EHLO,
	SMTPD_VERB_MAIL,
	SMTPD_VERB_RCPT,
	SMTPD_VERB_DATA,
	SMTPD_VERB_RSET,
	SMTPD_VERB_NOOP,
	SMTPD_VERB_QUIT,
	SMTPD_VERB_VRFY,
	SMTPD_VERB_HELP,
	SMTPD_VERB_ETRN,
	SMTPD_VERB_STARTTLS,
	SMTPD_VERB_AUTH,
	SMTPD_VERB_BDAT,
	SMTPD_VERB_UNKNOWN,		/* the catch-all; keep last */
	SMTPD_VERB_COUNT
};

int	 smtpd_cmd_parse(const char *, size_t, const char **);
int	 smtpd_cmd_last(int);
const char *smtpd_cmd_name(int);
size_t	 smtpd_cmd_log_len(const char *, size_t);
void	 smtpd_cmd_dispatch(struct smtpd_session *, char *, size_t);
int	 smtpd_cmd_mail_params(struct smtpd_session *, char *, int *,
	    const char **);
int	 smtpd_cmd_rcpt_params(char *, int *, char **, int *, const char **);
int	 smtpd_xtext_decode(const char *, char **);

/* SMTPUTF8 and REQUIRETLS (smtpd_ext.c) */
size_t	 smtpd_ext_ehlo(const struct smtpd_session *, const char **, size_t);
int	 smtpd_ext_line(struct smtpd_session *, const char *, size_t);
int	 smtpd_ext_mail_param(struct smtpd_session *, const char *,
	    const char *);
int	 smtpd_ext_addr(struct smtpd_session *, const char *, int);

/* The session (smtpd_session.c) */
#define SMTPD_ST_CONNECT	0	/* client name lookup, no greeting */
#define SMTPD_ST_CMD		1	/* reading commands */
#define SMTPD_ST_DATA		2	/* reading the message */
#define SMTPD_ST_CLOSING	3	/* flushing, then free */
#define SMTPD_ST_BDAT		4	/* reading a BDAT chunk */

struct smtpd_rcpt {
	char	*addr;
	char	*orcpt;			/* decoded ORCPT "type;addr" */
	int	 notify;		/* QUEUE_NOTIFY_* */
};

typedef void smtpd_cont_fn(struct smtpd_session *, int result,
	    const char *reply);

struct smtpd_session {
	struct bufferevent *in;		/* == out except with -S */
	struct bufferevent *out;	/* NULL with -S: outfd */
	int	 outfd;
	struct event *rev;		/* plaintext socket: our own reads */
	int	 rev_want;		/* reading on (session's choice) */
	int	 rev_full;		/* input at its high mark: paused */
	int	 rev_on;		/* rev is added */
	struct event *timer;		/* error sleep */
	int	 state;
	int	 busy;			/* a job runs: read nothing */
	int	 sleeping;		/* error delay timer runs */
	int	 greeted;		/* "connect from" was logged */
	int	 anvil_counted;		/* anvil counts this connection */
	unsigned anvil_ticket;		/* its place in our ledger */
	int	 anvil_count, anvil_rate;	/* counted at accept */
	struct smtpd_session *live_next;	/* every live session */
	struct smtpd_session *live_prev;
	int	 eof;			/* the client closed its side */
	int	 out_wait;		/* too many unread replies: wait */
	int	 freeing;		/* session_free() is scheduled */
	int	 bare_mode;		/* smtpd_forbid_bare_newline, per client */
	char	*denied;		/* client rejected at connect time */
	int	 tls;			/* STARTTLS done */
	int	 tls_handshake;		/* the handshake runs */
	char	*tls_info;		/* "TLSv1.3 with cipher ..." */
	struct smtpd_sasl *sasl;	/* AUTH exchange state */
	char	*sasl_user;		/* after a successful AUTH */
	const char *sasl_method;
	long	 sasl_lim_msg;		/* the login's sending limits, */
	long	 sasl_lim_rcpt;		/* smtpd_sasl_limits() */
	int	 auth_wait;		/* next line is an AUTH response */
	int	 auth_failures;
	char	*auth_mech;		/* for the worker */
	char	*auth_text;
	struct buf *pending;		/* replies not yet written */
	int	 dead;			/* connection gone during a job */
	int	 stdin_mode;
	struct smtpd_notify *notify;	/* smtpd_notify.c: transcript */
	int	 skipping;		/* discarding an overlong line */
	int	 esmtp;			/* EHLO given */
	int	 quit;
	int	 errors;
	int	 junk;			/* NOOP/VRFY/... count */
	int	 cur_verb;		/* for counters and log lines */
	int	 last_verb;
	unsigned int cnt_total[SMTPD_VERB_COUNT];
	unsigned int cnt_ok[SMTPD_VERB_COUNT];
	char	 client_addr[64];
	char	 client_port[8];
	char	 server_addr[64];
	char	 server_port[8];
	char	 namaddr[330];		/* "name[addr]" for logs */
	char	*helo;
	/* transaction */
	char	*sender;		/* NULL: no MAIL yet */
	char	*dsn_envid;
	int	 dsn_ret;		/* 0, 1 FULL, 2 HDRS */
	int	 body_8bit;
	int	 smtputf8;		/* MAIL ... SMTPUTF8 (smtpd_ext.c) */
	int	 requiretls;		/* MAIL ... REQUIRETLS (smtpd_ext.c) */
	long	 size_hint;
	struct smtpd_rcpt *rcpts;
	size_t	 nrcpts;
	size_t	 rcpts_cap;
	int	 rcpt_tried;		/* RCPTs tried in this transaction */
	struct smtpd_data *data;
	/* pending check */
	char	*pend_addr;
	char	*pend_orcpt;
	int	 pend_notify;
	smtpd_cont_fn *cont;
	int	 stage;
	int	 result;
	struct buf *job_reply;
	char	 queue_id[40];
	struct smtpd_session *next;	/* group commit list */
	int	 queue_hold;
	int	 commit_fd;		/* the 250 straight from the commit job */
	size_t	 commit_sent;		/* bytes of it the job sent */
	struct smtpd_check_state cs;
	struct smtpd_milter *milter;	/* smtpd_milters (smtpd_milter.c) */
};

void	 smtpd_reply(struct smtpd_session *, int, const char *);
void	 smtpd_reply_sent(struct smtpd_session *, int, const char *, size_t);
int	 smtpd_session_direct_fd(const struct smtpd_session *);
/* smtpd_notify.c: notify_classes policy, protocol, resource, software */
void	 smtpd_notify_query(struct smtpd_session *, const char *, size_t);
void	 smtpd_notify_reply(struct smtpd_session *, const char *, size_t);
void	 smtpd_notify_end(struct smtpd_session *);
void	 smtpd_reply_text(struct smtpd_session *, const char *);
void	 smtpd_reply_custom(struct smtpd_session *, int, const char *);
void	 smtpd_reply_multi(struct smtpd_session *, int, const char *const *,
	    size_t);
void	 smtpd_session_check(struct smtpd_session *, int, smtpd_cont_fn *);
void	 smtpd_data_recipient(struct smtpd_session *);
void	 smtpd_session_close(struct smtpd_session *);
void	 smtpd_session_reset(struct smtpd_session *);
void	 smtpd_session_start_data(struct smtpd_session *);
void	 smtpd_session_resume(struct smtpd_session *);
void	 smtpd_session_init(struct event_base *);
void	 smtpd_session_accept(const struct server_conn *);
void	 smtpd_session_stdin(int, int);
void	 smtpd_session_fini(void);
void	*smtpd_session_worker(void);	/* per policy thread: checker */

void	 smtpd_session_starttls(struct smtpd_session *);
void	 smtpd_session_auth(struct smtpd_session *, const char *,
	    const char *, smtpd_cont_fn *);
void	 smtpd_session_delay(struct smtpd_session *, long);

/* AUTH (smtpd_auth.c) */
void	 smtpd_auth_init(void);
const char *smtpd_auth_offer(const struct smtpd_session *);
int	 smtpd_auth_broken(void);
void	 smtpd_auth_cmd(struct smtpd_session *, char *);
void	 smtpd_auth_response(struct smtpd_session *, char *);
void	 smtpd_auth_reset(struct smtpd_session *);

/* STARTTLS (smtpd_tls.c) */
void	 smtpd_tls_init(void);
struct bufferevent *smtpd_tls_wrap(struct event_base *, struct bufferevent *,
	    char *, size_t);
void	 smtpd_tls_info(struct bufferevent *, char *, size_t);
void	 smtpd_tls_end(struct bufferevent *, int);
const char *smtpd_tls_error(struct bufferevent *, char *, size_t);

/* Queueing (smtpd_queue.c) */
struct workq;
void	 smtpd_queue_begin(struct smtpd_session *, struct workq *);
void	 smtpd_queue_chunk(struct smtpd_session *, struct workq *);
void	 smtpd_queue_message(struct smtpd_session *, struct workq *);
void	 smtpd_queue_init(struct event_base *);
void	 smtpd_queue_fini(void);
void	 smtpd_queue_done_reply(struct smtpd_session *, int, const char *);

/* The per-thread worker context */
struct cleanup_maps;
struct smtpd_sasl_backend;
struct smtpd_worker {
	struct smtpd_checker *checker;
	struct cleanup_maps *cleanup;
	struct smtpd_sasl_backend *sasl;	/* NULL without AUTH */
};

#endif
