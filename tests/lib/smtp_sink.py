#!/usr/bin/python3
"""smtp_sink.py - an independent SMTP server for tests (aiosmtpd).

usage: smtp_sink.py PORT OUTDIR [CERT KEY USER PASSWORD]

Listens on 127.0.0.1:PORT until SIGTERM. With CERT and KEY it offers
STARTTLS; with USER and PASSWORD it offers AUTH PLAIN/LOGIN (after TLS
only) and refuses MAIL before a successful AUTH. Each message becomes
OUTDIR/N.eml: the received bytes after a small envelope block:
  X-Sink-From: <sender>
  X-Sink-To: <rcpt>       (one per recipient)
  X-Sink-TLS: yes|no
  X-Sink-Auth: <login or "">
  X-Sink-Resumed: yes|no  (the TLS session was resumed)
  (empty line)
A file is written to a temporary name and renamed, so a test that sees
N.eml sees all of it.
"""
import logging
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

logging.getLogger('mail.log').setLevel(logging.CRITICAL)


class Sink:
    def __init__(self, out, need_auth):
        self.out = out
        self.count = 0
        self.need_auth = need_auth

    async def handle_MAIL(self, server, session, envelope, address, opts):
        if self.need_auth and not session.authenticated:
            return '530 5.7.0 Authentication required'
        envelope.mail_from = address
        envelope.mail_options.extend(opts)
        return '250 2.1.0 Ok'

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        login = getattr(session, 'auth_data', None)
        login = getattr(login, 'login', b'') or b''
        head = 'X-Sink-From: <%s>\r\n' % envelope.mail_from
        for r in envelope.rcpt_tos:
            head += 'X-Sink-To: <%s>\r\n' % r
        head += 'X-Sink-TLS: %s\r\n' % ('yes' if session.ssl else 'no')
        head += 'X-Sink-Auth: %s\r\n' % login.decode('latin-1')
        tls = session.ssl.get('ssl_object') if session.ssl else None
        head += 'X-Sink-Resumed: %s\r\n\r\n' % (
            'yes' if tls is not None and tls.session_reused else 'no')
        path = os.path.join(self.out, '%d.eml' % self.count)
        with open(path + '.tmp', 'wb') as f:
            f.write(head.encode('latin-1') + envelope.original_content)
        os.rename(path + '.tmp', path)
        return '250 2.0.0 Ok: queued as SINK%d' % self.count


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    kw = {}
    user = password = None
    if len(sys.argv) >= 5:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        kw['tls_context'] = ctx
    if len(sys.argv) >= 7:
        user, password = sys.argv[5].encode(), sys.argv[6].encode()

        def auth(server, session, envelope, mechanism, data):
            good = data.login == user and data.password == password
            return AuthResult(success=good, handled=False, auth_data=data)
        kw['authenticator'] = auth
        kw['auth_require_tls'] = True
    ctl = Controller(Sink(out, user is not None), hostname='127.0.0.1',
                     port=port, **kw)
    ctl.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    print('listening', flush=True)
    stop.wait()
    ctl.stop()


if __name__ == '__main__':
    main()
