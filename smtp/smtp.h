/*
 * NAME
 *	smtp.h - the smtp/lmtp delivery agent's private interface
 * SYNOPSIS
 *	#include "smtp.h"
 *
 *	smtp_deliver.c:
 *	void	smtp_cfg_load(struct smtp_cfg *cfg, const char *service);
 *	void	smtp_cfg_free(struct smtp_cfg *cfg);
 *	struct smtp_maps *smtp_maps_open(const struct smtp_cfg *cfg);
 *	void	smtp_maps_close(struct smtp_maps *m);
 *	void	smtp_request(const struct smtp_cfg *cfg, struct smtp_maps *m,
 *	    const struct attr_list *req, struct buf *resp);
 *
 *	smtp_addr.c:
 *	int	smtp_nexthop_parse(const char *nexthop, int lmtp,
 *	    struct smtp_nexthop *nh, char *err, size_t errlen);
 *	int	smtp_addr_resolve(const struct smtp_cfg *cfg,
 *	    const struct smtp_nexthop *nh, struct smtp_dest **dests,
 *	    size_t *count, char *status, char *err, size_t errlen);
 *	int	smtp_connect(const struct smtp_cfg *cfg,
 *	    const struct smtp_dest *d, char *err, size_t errlen);
 *	int	smtp_bind_usable(const char *addr);
 *
 *	smtp_proto.c:
 *	int	smtp_reply_parse(const char *data, size_t len, size_t *used,
 *	    struct smtp_reply *r);
 *	void	smtp_session(struct smtp_sess *s);
 *
 *	smtp_policy.c:
 *	int	smtp_tls_policy(const struct smtp_cfg *cfg,
 *	    struct smtp_maps *m, const char *nexthop,
 *	    struct tls_policy *p, char *status, char *err, size_t errlen);
 *
 *	smtp_dane.c (DANE, RFC 7672):
 *	int	smtp_dane_dest(struct smtp_sess *s,
 *	    const struct smtp_nexthop *nh);
 *	int	smtp_dane_ssl(struct smtp_sess *s, SSL *ssl);
 *	int	smtp_dane_check(struct smtp_sess *s, SSL *ssl,
 *	    const char *name);
 *	void	smtp_dane_done(struct smtp_sess *s);
 *
 *	smtp_sasl.c:
 *	int	smtp_sasl_lookup(struct smtp_maps *m, const char *nexthop,
 *	    const char *host, char **user, char **pass, char *err,
 *	    size_t errlen);
 *	const char *smtp_sasl_choose(const struct smtp_cfg *cfg,
 *	    const char *offered, int tls);
 *	char	*smtp_sasl_plain(const char *user, const char *pass);
 *	char	*smtp_base64(const char *data, size_t len);
 *	char	*smtp_unbase64(const char *text);
 *
 *	smtp_generic.c:
 *	int	smtp_generic_addr(struct maplist *maps, const char *addr,
 *	    char **out);
 *	int	smtp_generic_headers(struct maplist *maps, const char *hdrs,
 *	    size_t len, struct buf *out, char *err, size_t errlen);
 * DESCRIPTION
 *	One request (lib/deliver.h) is served by smtp_request() on a
 *	worker thread: it opens the queue file, rewrites the sender
 *	through smtp_generic_maps, resolves the nexthop into addresses
 *	(MX, then A/AAAA; "[host]" skips MX), and runs one blocking SMTP
 *	or LMTP session per address until one reaches the MAIL stage.
 *	Each recipient ends delivered, deferred or bounced; the log line
 *	and the answer are written by smtp_request().
 *
 *	smtp_reply_parse() takes one complete reply (multi-line too) from
 *	data: 1 with *used set, 0 when more bytes are needed, -1 when the
 *	reply is malformed (no 3-digit code, a continuation line with a
 *	different code, more than SMTP_REPLY_LINES lines; the session also
 *	gives up on a reply over SMTP_REPLY_BYTES). Lines may end
 *	in CRLF or a bare LF; text beyond SMTP_REPLY_MAX is truncated.
 * DIAGNOSTICS
 *	Every failure becomes a recipient result; nothing here exits.
 */
#ifndef SMTP_H
#define SMTP_H

#include <stddef.h>

#include "attr.h"
#include "buf.h"
#include "map.h"
#include "str.h"

#define SMTP_REPLY_MAX		2048	/* kept reply text */
#define SMTP_REPLY_LINES	1000	/* lines in one reply */
#define SMTP_LINE_MAX		(64 * 1024)	/* one line before giving up */
#define SMTP_REPLY_BYTES	(1024 * 1024)	/* one reply, all lines */

struct tls_ctx;

struct smtp_cfg {
	char	*service;	/* master.cf name: smtp, relay, lmtp */
	int	 lmtp;
	char	*queue_dir;
	char	*helo_name;
	long	 connect_timeout;
	long	 helo_timeout;
	long	 mail_timeout;
	long	 rcpt_timeout;
	long	 data_init_timeout;
	long	 data_xfer_timeout;
	long	 data_done_timeout;
	long	 quit_timeout;
	long	 conn_cache_limit;	/* lmtp_connection_cache_time_limit;
					 * 0: no cache (smtp_cache.c) */
	long	 starttls_timeout;
	long	 mx_address_limit;
	int	 skip_5xx_greeting;
	int	 use_bdat;	/* smtp_use_bdat (postern's own) */
	long	 line_limit;	/* smtp_line_length_limit, 0: none */
	int	 mime_oconv_off;	/* disable_mime_output_conversion */
	char	*bind4;		/* NULL: not set or not ours */
	char	*bind6;
	int	 sasl_enable;
	char	*sasl_maps;
	char	*sasl_filter;
	int	 sasl_noplain;		/* noplaintext without TLS */
	int	 sasl_tls_noplain;	/* noplaintext with TLS */
	char	*generic_maps;
	struct tls_ctx *tls;	/* NULL: no TLS (level none or broken) */
	int	 tls_level;
	char	*tls_error;	/* why tls is NULL when level > none */
	char	*verify_match;	/* smtp_tls_verify_cert_match */
	char	*secure_match;	/* smtp_tls_secure_cert_match */
	char	*policy_maps;	/* smtp_tls_policy_maps */
};

struct smtp_maps {
	struct maplist *generic;	/* NULL if none */
	struct maplist *sasl;
	struct maplist *tls_policy;	/* NULL if none */
};

struct smtp_reply {
	int	 code;
	char	 esc[16];		/* enhanced status or "" */
	char	 text[SMTP_REPLY_MAX];	/* "550 5.1.1 text text2" */
	struct strv *lines;		/* each line's text after the code */
};

struct smtp_nexthop {
	char	 host[256];
	int	 port;
	int	 no_mx;		/* [host] or an address literal */
	char	 unix_path[256];	/* lmtp unix: */
};

struct smtp_dest {
	char	 host[256];	/* name for logs and TLS verify */
	char	 addr[64];	/* numeric */
	int	 port;
	char	 unix_path[256];
};

struct smtp_rcpt {
	const char *addr;	/* as queued */
	const char *orig;
	char	*sent;		/* after smtp_generic_maps */
	long	 notify;
	const char *action;	/* NULL: not decided yet */
	char	 status[16];
	char	 reason[1024];
	char	 relay[320];
	int	 accepted;	/* this session: RCPT 2xx */
	const char *dsn_action;	/* delivered: "relayed", "delivered" (lmtp),
				 * or "none" (the next hop offered DSN and
				 * took NOTIFY: no success DSN here) */
};

struct smtp_sess {
	const struct smtp_cfg *cfg;
	struct smtp_maps *maps;
	const struct smtp_dest *dest;
	const char *nexthop;
	const char *queue_id;
	const char *sender;	/* rewritten */
	const char *envid;	/* dsn_envid or NULL */
	const char *ret;	/* dsn_ret or NULL */
	const char *headers;	/* rewritten header block (with the empty line) */
	size_t	 headers_len;
	const char *body;	/* the rest of the message */
	size_t	 body_len;
	struct smtp_rcpt *rcpts;
	size_t	 nrcpt;
	double	 conn_done;	/* time the session was set up */
	int	 reached_mail;	/* result: MAIL was sent, do not retry */
	int	 tls_failed;	/* result: the handshake failed */
	int	 connected;	/* result: the TCP connection was made */
	int	 dsn_offered;	/* this session's EHLO named DSN */
	int	 probe;		/* verify_probe: end after RCPT TO */
	int	 no_tls;	/* level may: plaintext after a failed handshake */
	int	 tls_level;	/* this nexthop's: smtp_tls_policy_maps or
				 * the service's level */
	const char *tls_match;	/* names (verify, secure) or digests
				 * (fingerprint) */
	const char *tls_protocols;	/* policy protocols=, or NULL */
	int	 smtputf8;	/* SMTPUTF8 requested (smtp_ext.c) */
	int	 needs_smtputf8;	/* ... and the message is not ASCII */
	int	 requiretls;	/* MAIL FROM had REQUIRETLS */
	int	 tls_required_no;	/* "TLS-Required: no" (RFC 8689 5) */
	struct smtp_dane *dane;	/* level dane/dane-only: smtp_dane.c */
	struct smtp_sts *sts;	/* MTA-STS policy: smtp_sts.c */
	char	 status[16];	/* session-level failure */
	char	 reason[1024];
};

void	 smtp_cfg_load(struct smtp_cfg *, const char *);
void	 smtp_cfg_free(struct smtp_cfg *);
struct smtp_maps *smtp_maps_open(const struct smtp_cfg *);
void	 smtp_maps_close(struct smtp_maps *);
void	 smtp_request(const struct smtp_cfg *, struct smtp_maps *,
	    const struct attr_list *, struct buf *);

int	 smtp_nexthop_parse(const char *, int, struct smtp_nexthop *, char *,
	    size_t);
int	 smtp_addr_resolve(const struct smtp_cfg *, const struct smtp_nexthop *,
	    struct smtp_dest **, size_t *, char *, char *, size_t);
int	 smtp_connect(const struct smtp_cfg *, const struct smtp_dest *, char *,
	    size_t);
int	 smtp_bind_usable(const char *);

int	 smtp_reply_parse(const char *, size_t, size_t *, struct smtp_reply *);
void	 smtp_session(struct smtp_sess *);

int	 smtp_sasl_lookup(struct smtp_maps *, const char *, const char *,
	    char **, char **, char *, size_t);
const char *smtp_sasl_choose(const struct smtp_cfg *, const char *, int);
char	*smtp_sasl_plain(const char *, const char *);
char	*smtp_base64(const char *, size_t);
char	*smtp_unbase64(const char *);

struct tls_policy;
int	 smtp_tls_policy(const struct smtp_cfg *, struct smtp_maps *,
	    const char *, struct tls_policy *, char *, char *, size_t);

struct ssl_st;
int	 smtp_dane_dest(struct smtp_sess *, const struct smtp_nexthop *);
int	 smtp_dane_ssl(struct smtp_sess *, struct ssl_st *);
int	 smtp_dane_check(struct smtp_sess *, struct ssl_st *, const char *);
void	 smtp_dane_done(struct smtp_sess *);

struct queue_file;
void	 smtp_ext_init(struct smtp_sess *, const struct queue_file *);
void	 smtp_ext_level(struct smtp_sess *);
void	 smtp_ext_tls_failed(struct smtp_sess *, const char *);
int	 smtp_ext_check(struct smtp_sess *, int, int, const char *);

int	 smtp_generic_addr(struct maplist *, const char *, char **);
int	 smtp_generic_headers(struct maplist *, const char *, size_t,
	    struct buf *, char *, size_t);

#endif
