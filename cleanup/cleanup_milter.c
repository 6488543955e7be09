/*
 * NAME
 *	cleanup_milter - the queue file with the milters' changes applied
 * SYNOPSIS
 *	#include "cleanup_milter.h"
 *
 *	int	cleanup_milter_queue(struct cleanup_maps *m,
 *	    const struct cleanup_input *in, struct cleanup_result *out,
 *	    struct milter_mods *const *mods, size_t nmods, FILE *fp);
 * DESCRIPTION
 *	For smtpd_milters (smtpd/smtpd_milter.c: the spooled message) and
 *	non_smtpd_milters (qmgr/qmgr_milter.c: a maildrop file in memory):
 *	fp holds the message as received (LF line ends); every milter's
 *	modification requests are applied in order (lib/milter_edit.c for
 *	the headers; ADDRCPT, DELRCPT, CHGFROM to the envelope in in; the
 *	last replaced body; a quarantine request: CLEANUP_FLAG_HOLD) and
 *	the result goes through cleanup's stream like any message
 *	(cleanup_stream_open/write/close with in's flags).
 * DIAGNOSTICS
 *	cleanup_stream_close()'s result; out->hold tells a quarantine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "cleanup_milter.h"
#include "xalloc.h"

/* the envelope after the milters' changes */
struct cm_env {
	struct cleanup_rcpt *rcpts;
	size_t	 n, cap;
	const char *sender;
};

/* env_apply - one envelope change */
static void
env_apply(struct cm_env *e, struct milter_mod *d)
{
	const char *a = milter_addr(d->name);
	size_t	 i;

	switch (d->type) {
	case MILTER_MOD_CHGFROM:
		e->sender = a;
		break;
	case MILTER_MOD_DELRCPT:
		for (i = 0; i < e->n; i++)
			if (strcasecmp(e->rcpts[i].addr, a) == 0) {
				memmove(e->rcpts + i, e->rcpts + i + 1,
				    (e->n - i - 1) * sizeof(*e->rcpts));
				e->n--;
				i--;
			}
		break;
	case MILTER_MOD_ADDRCPT:
		if (e->n == e->cap) {
			e->cap = 2 * e->cap + 4;
			e->rcpts = xrealloc(e->rcpts, e->cap
			    * sizeof(*e->rcpts));
		}
		memset(e->rcpts + e->n, 0, sizeof(*e->rcpts));
		e->rcpts[e->n].addr = a;
		e->rcpts[e->n++].notify = 0;
		break;
	}
}


/* body_write - the body into the stream: spooled or replaced */
static void
body_write(struct cleanup_stream *st, struct cleanup_maps *maps,
    FILE *fp, const struct buf *body)
{
	char	 tmp[16384];
	size_t	 n, i, o;
	const char *p;

	if (body == NULL) {
		while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
			cleanup_stream_write(st, maps, tmp, n);
		return;
	}
	p = BUF_STR(body);
	for (i = 0, o = 0; i < BUF_LEN(body); i++) {
		if (p[i] == '\r' && i + 1 < BUF_LEN(body) && p[i + 1] == '\n')
			continue;	/* CRLF: the LF stays */
		tmp[o++] = p[i];
		if (o == sizeof(tmp)) {
			cleanup_stream_write(st, maps, tmp, o);
			o = 0;
		}
	}
	if (o)
		cleanup_stream_write(st, maps, tmp, o);
	if (BUF_LEN(body) && p[BUF_LEN(body) - 1] != '\n')
		cleanup_stream_write(st, maps, "\n", 1);
}


/* hdrs_read - the spooled headers; leaves fp at the body */
static void
hdrs_read(FILE *fp, struct milter_hdrs *h)
{
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;

	while ((n = getline(&line, &cap, fp)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = 0;
		if (milter_hdrs_line(h, line, (size_t)n) != 0)
			break;
	}
	free(line);
}

/* cleanup_milter_queue - the message in fp, changed, into the queue */
int
cleanup_milter_queue(struct cleanup_maps *maps,
    const struct cleanup_input *in, struct cleanup_result *res,
    struct milter_mods *const *mods, size_t nmods, FILE *fp)
{
	struct cleanup_input in2 = *in;
	struct cleanup_stream *st;
	struct milter_hdrs h;
	struct cm_env e;
	struct buf *body = NULL;
	size_t	 i, j;
	int	 rc;

	memset(&h, 0, sizeof(h));
	memset(&e, 0, sizeof(e));
	hdrs_read(fp, &h);
	e.sender = in->sender;
	e.cap = in->nrcpts + 4;
	e.rcpts = xcalloc(e.cap, sizeof(*e.rcpts));
	memcpy(e.rcpts, in->rcpts, in->nrcpts * sizeof(*e.rcpts));
	e.n = in->nrcpts;
	for (i = 0; i < nmods; i++) {
		milter_hdrs_apply(&h, mods[i]);
		for (j = 0; j < mods[i]->n; j++)
			env_apply(&e, &mods[i]->v[j]);
		if (mods[i]->body)
			body = mods[i]->body;
		if (mods[i]->quarantine)
			in2.flags |= CLEANUP_FLAG_HOLD;
	}
	in2.sender = e.sender;
	in2.rcpts = e.rcpts;
	in2.nrcpts = e.n;
	in2.message = NULL;
	in2.message_len = 0;
	st = cleanup_stream_open(maps, &in2, res);
	for (i = 0; i < h.n; i++) {
		cleanup_stream_write(st, maps, h.v[i], strlen(h.v[i]));
		cleanup_stream_write(st, maps, "\n", 1);
	}
	if (h.blank || body)
		cleanup_stream_write(st, maps, "\n", 1);
	if (h.first && body == NULL) {
		cleanup_stream_write(st, maps, h.first, strlen(h.first));
		cleanup_stream_write(st, maps, "\n", 1);
	}
	body_write(st, maps, fp, body);
	rc = cleanup_stream_close(st, maps);
	milter_hdrs_free(&h);
	free(e.rcpts);
	return (rc);
}
