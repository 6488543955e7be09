/*
 * NAME
 *	milter - MTA side of the Sendmail 8 milter protocol (versions 2..6)
 * SYNOPSIS
 *	#include "milter.h"
 *
 *	struct milter *milter_new(const char *name, int fd,
 *	    const struct milter_conf *conf);
 *	int	milter_connect_fd(const char *spec, const char *queue_dir,
 *	    int timeout, char *err, size_t errlen);
 *	void	milter_free(struct milter *m);
 *	int	milter_negotiate(struct milter *m, char *err, size_t errlen);
 *	int	milter_event(struct milter *m, int cmd, const char *data,
 *	    size_t len, struct milter_reply *r);
 *	int	milter_eom(struct milter *m, struct milter_reply *r,
 *	    struct milter_mods *mods);
 *	int	milter_header(struct milter *m, const char *name,
 *	    const char *value, struct milter_reply *r);
 *	int	milter_wants(const struct milter *m, int cmd);
 *	void	milter_abort(struct milter *m);
 *	void	milter_quit(struct milter *m);
 *	void	milter_mods_free(struct milter_mods *mods);
 * DESCRIPTION
 *	Blocking code for a worker thread. One struct milter is one
 *	connection to one milter application: a packet is a 4-byte length
 *	in network order, a command byte and its data.
 *
 *	milter_connect_fd() connects to "unix:/path" (a relative path is
 *	taken from queue_dir) or "inet:host:port" (numeric host or a name
 *	from /etc/hosts) within timeout seconds and returns the fd.
 *	milter_new() wraps a connected fd (a socketpair in the unit test).
 *	milter_negotiate() sends SMFIC_OPTNEG for conf->protocol (2..6)
 *	with the actions and protocol steps postern implements and reads
 *	the milter's choice: the steps it does not want (SMFIP_NO*), those
 *	it does not answer (SMFIP_NR_*), and (version 6) the macro lists it
 *	asks for per stage, which then replace conf's lists.
 *
 *	milter_event() sends one SMTP or content event (MILTER_CMD_*)
 *	after its macros (SMFIC_MACRO, values from conf->macro()), unless
 *	the milter asked not to get it, and reads the reply unless it asked
 *	not to answer it (then MILTER_CONTINUE). For SMFIC_CONNECT, MAIL,
 *	RCPT, HELO, BODY the caller builds the data; milter_header()
 *	builds SMFIC_HEADER's. milter_wants() tells whether the milter
 *	takes a command at all (SMFIP_NO* not set).
 *	milter_eom() sends SMFIC_BODYEOB and collects the modification
 *	requests up to the final verdict into mods.
 *	milter_abort() (SMFIC_ABORT: the transaction ends without EOM) and
 *	milter_quit() (SMFIC_QUIT) expect no reply.
 * DIAGNOSTICS
 *	milter_event() and milter_eom() return MILTER_CONTINUE, ACCEPT,
 *	REJECT, TEMPFAIL, DISCARD, SKIP (body only), or MILTER_ERROR (I/O
 *	error, timeout, protocol violation: r->text says which; the caller
 *	applies milter_default_action). For REJECT and TEMPFAIL r->text is
 *	the complete SMTP reply: the milter's own SMFIR_REPLYCODE text, or
 *	Postfix's "550 5.7.1 Command rejected" / "451 4.7.1 Service
 *	unavailable - try again later".
 *
 *	milter_edit.c: the header list the modifications apply to (see
 *	there).
 * SEE ALSO
 *	Postfix's MILTER_README and milter8.c; sendmail's mfdef.h.
 */
#ifndef MILTER_H
#define MILTER_H

#include <stddef.h>

/* commands (MTA to milter) */
#define MILTER_CMD_ABORT	'A'
#define MILTER_CMD_BODY		'B'
#define MILTER_CMD_CONNECT	'C'
#define MILTER_CMD_MACRO	'D'
#define MILTER_CMD_BODYEOB	'E'
#define MILTER_CMD_HELO		'H'
#define MILTER_CMD_HEADER	'L'
#define MILTER_CMD_MAIL		'M'
#define MILTER_CMD_EOH		'N'
#define MILTER_CMD_OPTNEG	'O'
#define MILTER_CMD_QUIT		'Q'
#define MILTER_CMD_RCPT		'R'
#define MILTER_CMD_DATA		'T'

/* results */
#define MILTER_ERROR		(-1)
#define MILTER_CONTINUE		0
#define MILTER_ACCEPT		1
#define MILTER_REJECT		2
#define MILTER_TEMPFAIL		3
#define MILTER_DISCARD		4
#define MILTER_SKIP		5

/* modifications at end of message */
#define MILTER_MOD_ADDHDR	'h'	/* append header */
#define MILTER_MOD_INSHDR	'i'	/* insert header at index */
#define MILTER_MOD_CHGHDR	'm'	/* change (empty value: delete) the
					 * index'th header of that name */
#define MILTER_MOD_ADDRCPT	'+'
#define MILTER_MOD_DELRCPT	'-'
#define MILTER_MOD_CHGFROM	'e'

/* macro stages (SMFIM_*) */
#define MILTER_MAC_CONNECT	0
#define MILTER_MAC_HELO		1
#define MILTER_MAC_MAIL		2
#define MILTER_MAC_RCPT		3
#define MILTER_MAC_DATA		4
#define MILTER_MAC_EOM		5
#define MILTER_MAC_EOH		6
#define MILTER_MAC_COUNT	7

typedef const char *milter_macro_fn(void *ctx, const char *name);

struct milter_conf {
	int	 protocol;		/* milter_protocol, 2..6 */
	int	 connect_timeout;
	int	 command_timeout;
	int	 content_timeout;
	const char *macros[MILTER_MAC_COUNT];	/* milter_*_macros */
	milter_macro_fn *macro;		/* a macro's value, or NULL */
	void	*macro_ctx;
};

struct milter_reply {
	char	 text[1024];		/* REJECT/TEMPFAIL: SMTP reply */
};

struct milter_mod {
	int	 type;			/* MILTER_MOD_* */
	unsigned index;
	char	*name;			/* header name, or the address */
	char	*value;			/* header value, or ESMTP args */
};

struct milter_mods {
	struct milter_mod *v;
	size_t	 n, cap;
	struct buf *body;		/* replaced body (CRLF), or NULL */
	char	*quarantine;		/* the reason, or NULL */
};

/* a header section under the milters' changes (milter_edit.c) */
struct milter_hdrs {
	char	**v;			/* "Name: value" with folding */
	size_t	 n, cap;
	int	 blank;			/* an empty line ended it */
	char	*first;			/* a non-header line that ended it */
};

int	 milter_hdrs_line(struct milter_hdrs *, const char *, size_t);
void	 milter_hdrs_apply(struct milter_hdrs *, const struct milter_mods *);
void	 milter_hdrs_free(struct milter_hdrs *);
int	 milter_is_header(const char *, size_t);
char	*milter_addr(char *);

/* milter_default_action, and a list entry's default_action= */
#define MILTER_DEF_TEMPFAIL	0
#define MILTER_DEF_ACCEPT	1
#define MILTER_DEF_REJECT	2
#define MILTER_DEF_QUARANTINE	3

struct milter_spec {
	char	*endpoint;		/* unix:..., inet:... */
	int	 def_action;		/* MILTER_DEF_* */
};

int	 milter_default_action(const char *);
size_t	 milter_list_parse(const char *, const char *, int,
	    struct milter_spec *, size_t);

struct milter;

struct milter *milter_new(const char *, int, const struct milter_conf *);
int	 milter_connect_fd(const char *, const char *, int, char *, size_t);
void	 milter_free(struct milter *);
const char *milter_name(const struct milter *);
int	 milter_negotiate(struct milter *, char *, size_t);
int	 milter_event(struct milter *, int, const char *, size_t,
	    struct milter_reply *);
int	 milter_eom(struct milter *, struct milter_reply *,
	    struct milter_mods *);
void	 milter_abort(struct milter *);
void	 milter_quit(struct milter *);
void	 milter_mods_free(struct milter_mods *);
int	 milter_wants(const struct milter *, int);
int	 milter_header(struct milter *, const char *, const char *,
	    struct milter_reply *);

#endif
