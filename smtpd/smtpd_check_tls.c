/*
 * NAME
 *	smtpd_check_tls - the client certificate, for the restrictions
 * SYNOPSIS
 *	#include "smtpd_check_tls.h"
 *
 *	const char *smtpd_check_tls_peer(struct bufferevent *bev,
 *	    struct smtpd_check_state *st);
 * DESCRIPTION
 *	After a STARTTLS (or wrapper-mode) handshake, records in st what
 *	permit_tls_clientcerts, permit_tls_all_clientcerts and
 *	check_ccert_access look at: whether the client presented a
 *	certificate (smtpd requests one only with smtpd_tls_ask_ccert =
 *	yes, as Postfix does), whether it verified against
 *	smtpd_tls_CAfile/CApath, its fingerprint and public-key
 *	fingerprint under smtpd_tls_fingerprint_digest in Postfix's form
 *	("AB:CD:..."), and its CommonName. Returns the word Postfix puts
 *	in front of "TLS connection established from": "Trusted",
 *	"Untrusted" or "Anonymous".
 * DIAGNOSTICS
 *	An unknown digest name is logged and sha256 used (tls/tls.c).
 * SEE ALSO
 *	tls_peer_ccert() in tls/tls.c; smtpd_check.c.
 */
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

#include "conf.h"
#include "log.h"
#include "smtpd_check.h"
#include "smtpd_check_tls.h"
#include "tls.h"

/* smtpd_check_tls_peer - fingerprints of the client certificate */
const char *
smtpd_check_tls_peer(struct bufferevent *bev, struct smtpd_check_state *st)
{
	SSL	*ssl = bufferevent_openssl_get_ssl(bev);
	int	 rc;

	st->ccert_present = st->ccert_trusted = 0;
	st->ccert_fprint[0] = st->ccert_pkey_fprint[0] = st->ccert_cn[0] = 0;
	if (ssl == NULL)
		return ("Anonymous");
	rc = tls_peer_ccert(ssl, conf_str("smtpd_tls_fingerprint_digest"),
	    st->ccert_fprint, sizeof(st->ccert_fprint), st->ccert_pkey_fprint,
	    sizeof(st->ccert_pkey_fprint), st->ccert_cn, sizeof(st->ccert_cn));
	if (rc < 0)
		return ("Anonymous");
	st->ccert_present = 1;
	st->ccert_trusted = rc;
	log_info("client certificate: CN=%s fingerprint=%s pkey_fingerprint=%s",
	    log_safe(st->ccert_cn), st->ccert_fprint, st->ccert_pkey_fprint);
	return (rc ? "Trusted" : "Untrusted");
}
