#!/usr/bin/python3
"""55-smtp.t - the smtp(8) delivery agent against an independent server.

aiosmtpd (Debian's python3-aiosmtpd) runs in this process on loopback
ports keyed on the test: one server with STARTTLS (a certificate made
with openssl req) and AUTH PLAIN/LOGIN, one without STARTTLS, and a
port nothing listens on. A temporary queue gets a message through our
sendmail; `smtp -d -l <queue>/private/smtp` gets lib/deliver.h requests
with nexthop "[127.0.0.1]:PORT" (the relayhost form). Checks: the bytes
the server received (dot-stuffing undone by the server, headers and
envelope rewritten by smtp_generic_maps), AUTH PLAIN with the password
from smtp_sasl_password_maps, AUTH LOGIN with the mechanism filter,
TLS used (smtp_tls_security_level=encrypt) and logged, a server
without STARTTLS deferred 4.7.4, a 550 recipient bounced with
Postfix's reason, a 450 recipient deferred, a dead port deferred,
verify level with a certificate name mismatch deferred, the Postfix
to= log lines, and the seed's foreign smtp_bind_address only warned.
KEEP55=1 keeps the temporary directory (config, queue, smtp.log).
"""
import os
import pwd
import shutil
import socket
import logging
import ssl
import subprocess
import sys
import tempfile
import threading
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from ptap import ok, read  # noqa: E402
from qvtest import start_agent, stop  # noqa: E402

from aiosmtpd.controller import Controller, UnixSocketController
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import AuthResult

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
PROCS = []
BASE = 20550 + (os.getpid() % 7) * 7    # ports 20550-20598


def request(sock_path, qid, rcpts, nexthop, sender='s@example.org',
            notify=0):
    """rcpts: list of (addr, index). Returns the answer as a dict."""
    try:
        return request1(sock_path, qid, rcpts, nexthop, sender, notify)
    except OSError as e:
        return {'error': str(e)}


def request1(sock_path, qid, rcpts, nexthop, sender, notify):
    return ptap.agent_request(sock_path, qid, rcpts, sender,
                              transport='relay', nexthop=nexthop,
                              timeout=60, notify=notify)


class Handler:
    """Records every message; 550/450 for the special recipients."""

    def __init__(self):
        self.messages = []
        self.auth = []
        self.tls = []

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        if address.startswith('bad@'):
            return '550 5.1.1 <%s>: Recipient address rejected' % address
        if address.startswith('tmp@'):
            return '450 4.2.0 <%s>: try again later' % address
        envelope.rcpt_tos.append(address)
        return '250 2.1.5 Ok'

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({
            'from': envelope.mail_from, 'to': list(envelope.rcpt_tos),
            'data': envelope.original_content or envelope.content,
            'tls': session.ssl is not None,
            })
        return '250 2.0.0 Ok: queued as TEST%d' % len(self.messages)


class LMTPHandler:
    """One reply per recipient after DATA: the second one is refused."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(list(envelope.rcpt_tos))
        replies = []
        for r in envelope.rcpt_tos:
            if r.startswith('full@'):
                replies.append('552 5.2.2 <%s>: mailbox full' % r)
            else:
                replies.append('250 2.0.0 <%s> delivered' % r)
        return '\r\n'.join(replies)


class LMTPController(UnixSocketController):
    def factory(self):
        return LMTP(self.handler)


def raw_server(port, script):
    """Accept connections on port; script(conn) talks to each one."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', port))
    ls.listen(5)

    def loop():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            try:
                c.settimeout(10)
                script(c)
            except OSError:
                pass
            c.close()
    threading.Thread(target=loop, daemon=True).start()
    return ls


def hostile(c):
    """Bare LF greeting, then an EHLO reply whose lines disagree."""
    c.sendall(b'220 hostile.example ESMTP\n')
    c.recv(1000)
    c.sendall(b'250-hostile.example\r\n251 PIPELINING\r\n')
    c.recv(1000)


DSN_LINES = []


def dsn_server(c):
    """Offers DSN and PIPELINING; records the command lines."""
    c.sendall(b'220 dsn.example ESMTP\r\n')
    f = c.makefile('rb')
    data = False
    while True:
        line = f.readline()
        if not line:
            return
        if data:
            if line == b'.\r\n':
                data = False
                c.sendall(b'250 2.0.0 Ok: queued as DSN1\r\n')
            continue
        DSN_LINES.append(line.decode('latin-1').rstrip('\r\n'))
        verb = line[:4].upper()
        if verb == b'EHLO':
            c.sendall(b'250-dsn.example\r\n250-PIPELINING\r\n'
                      b'250-SIZE 1000000\r\n250 DSN\r\n')
        elif verb == b'DATA':
            data = True
            c.sendall(b'354 go ahead\r\n')
        elif verb == b'QUIT':
            c.sendall(b'221 2.0.0 Bye\r\n')
            return
        else:
            c.sendall(b'250 2.1.0 Ok\r\n')


def silent(c):
    """Greets, then never answers."""
    c.sendall(b'220 silent.example ESMTP\r\n')
    c.recv(1000)
    time.sleep(5)


def authenticator(server, session, envelope, mechanism, auth_data):
    good = (auth_data.login == b'relayuser' and
            auth_data.password == b's3cret pass')
    HANDLER.auth.append((mechanism, good))
    return AuthResult(success=good, handled=False)


HANDLER = Handler()
logging.getLogger('mail.log').setLevel(logging.CRITICAL)


def start_smtp(cf, sock_path, log_path, extra=()):
    return start_agent(BIN, 'smtp', cf, sock_path, log_path, PROCS, extra)


def main():
    top = tempfile.mkdtemp(prefix='55-smtp.', dir='/tmp')
    os.chmod(top, 0o755)
    cf = os.path.join(top, 'etc')
    q = os.path.join(top, 'queue')
    data_dir = os.path.join(top, 'data')
    os.makedirs(cf)
    os.makedirs(data_dir)
    if os.geteuid() == 0:
        # smtp drops to mail_owner: the TLS session cache is its own.
        pw = pwd.getpwnam('postern')
        os.chown(data_dir, pw.pw_uid, pw.pw_gid)
    cert = os.path.join(cf, 'cert.pem')
    key = os.path.join(cf, 'key.pem')
    r = subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048',
                        '-nodes', '-days', '2', '-subj',
                        '/CN=mx.example.test', '-addext',
                        'subjectAltName=DNS:mx.example.test',
                        '-keyout', key, '-out', cert], capture_output=True)
    ok(r.returncode == 0, 'test certificate made', r.stderr)
    tls_port, plain_port, dead_port = BASE, BASE + 1, BASE + 2
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    tls_srv = Controller(HANDLER, hostname='127.0.0.1', port=tls_port,
                         tls_context=ctx, authenticator=authenticator,
                         auth_require_tls=True)
    plain_srv = Controller(HANDLER, hostname='127.0.0.1', port=plain_port)
    # A server that speaks TLSv1.3 only: smtp limited to TLSv1.2 fails
    # the handshake (level may: falls back to plaintext).
    ctx13 = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx13.load_cert_chain(cert, key)
    ctx13.minimum_version = ssl.TLSVersion.TLSv1_3
    tls13_srv = Controller(HANDLER, hostname='127.0.0.1', port=BASE + 3,
                           tls_context=ctx13)
    lmtp_handler = LMTPHandler()
    lmtp_path = os.path.join(top, 'lmtp.sock')
    lmtp_srv = LMTPController(lmtp_handler, unix_socket=lmtp_path)
    small_srv = Controller(HANDLER, hostname='127.0.0.1', port=BASE + 4,
                           data_size_limit=100)
    small_srv.start()
    raw1 = raw_server(BASE + 5, hostile)
    raw2 = raw_server(BASE + 6, silent)
    raw3 = raw_server(BASE + 7, dsn_server)
    tls_srv.start()
    plain_srv.start()
    tls13_srv.start()
    lmtp_srv.start()
    os.chmod(lmtp_path, 0o666)   # smtp runs as mail_owner
    with open(os.path.join(cf, 'sasl_passwd'), 'w') as f:
        f.write('[127.0.0.1]:%d relayuser:s3cret pass\n' % tls_port)
    with open(os.path.join(cf, 'generic'), 'w') as f:
        f.write('s@example.org sender@public.example\n'
                'user1@example.com public1@public.example\n')
    with open(os.path.join(cf, 'main.cf'), 'w') as f:
        f.write('queue_directory = %s\nmyhostname = mx.example.net\n'
                'data_directory = %s\n'
                'smtp_bind_address = 192.0.2.40\n'
                'smtp_sasl_auth_enable = yes\n'
                'smtp_sasl_password_maps = texthash:%s/sasl_passwd\n'
                'smtp_sasl_security_options = noanonymous\n'
                'smtp_generic_maps = texthash:%s/generic\n'
                'smtp_tls_security_level = encrypt\n'
                'smtp_tls_CAfile = %s\n'
                'smtp_tls_session_cache_database = '
                'btree:${data_directory}/smtp_scache\n'
                'tls_high_cipherlist = kEDH+aRSA+AES128:kEECDH+aRSA+AES128:'
                '+SSLv3\n'
                'smtp_connect_timeout = 5s\n'
                'resolver_nameservers = 127.0.0.1:9\n'
                % (q, data_dir, cf, cf, cert))
    log_path = os.path.join(top, 'smtp.log')
    try:
        r = subprocess.run([os.path.join(BIN, 'postsuper'), '-c', cf, '-s'],
                           capture_output=True)
        ok(r.returncode == 0, 'postsuper -s creates the queue', r.stderr)
        msg = (b'From: Sender <s@example.org>\r\n'
               b'To: user1@example.com, "Other, Name" <bad@example.net>\r\n'
               b'Cc: (comment) user1@example.com\r\n'
               b'Subject: smtp test\r\n\r\nline one\r\n.dot line\r\n'
               b'..two dots\r\nlast\r\n')
        r = subprocess.run([os.path.join(BIN, 'sendmail'), '-C', cf, '-i',
                            '-f', 's@example.org', 'user1@example.com',
                            'bad@example.net', 'tmp@example.net',
                            'user2@example.com'],
                           input=msg, capture_output=True)
        ids = sorted(os.listdir(os.path.join(q, 'maildrop')))
        ok(r.returncode == 0 and len(ids) == 1, 'sendmail queued one file',
           r.stderr)
        qid = ids[0]
        os.rename(os.path.join(q, 'maildrop', qid),
                  os.path.join(q, 'active', qid))
        sock = os.path.join(q, 'private', 'smtp')
        p = start_smtp(cf, sock, log_path)
        ok(os.path.exists(sock), 'smtp listens on private/smtp')
        log, end = '', time.time() + 10
        while time.time() < end and 'smtp_bind_address' not in log:
            time.sleep(0.1)
            log = read(log_path)
        ok('smtp_bind_address = 192.0.2.40 is not an address of this host'
           in log, 'foreign smtp_bind_address: a warning, no failure', log)

        nh = '[127.0.0.1]:%d' % tls_port
        a = request(sock, qid, [('user1@example.com', 0),
                                ('bad@example.net', 1),
                                ('tmp@example.net', 2)], nh)
        ok(a.get('rcpt_count') == '3', 'three answers', a)
        ok(a.get('rcpt.0.action') == 'delivered' and
           a.get('rcpt.0.status') == '2.0.0' and
           a.get('rcpt.0.relay') == '127.0.0.1[127.0.0.1]:%d' % tls_port,
           'user1 delivered 2.0.0, relay=127.0.0.1[127.0.0.1]:port', a)
        ok(a.get('rcpt.1.action') == 'bounced' and
           a.get('rcpt.1.status') == '5.1.1' and
           a.get('rcpt.1.reason', '').startswith(
               'host 127.0.0.1[127.0.0.1] said: 550 5.1.1 '
               '<bad@example.net>: Recipient address rejected') and
           a.get('rcpt.1.reason', '').endswith(
               '(in reply to RCPT TO command)'),
           '550 recipient bounced with Postfix\'s reason', a)
        ok(a.get('rcpt.2.action') == 'deferred' and
           a.get('rcpt.2.status') == '4.2.0', '450 recipient deferred', a)
        m = HANDLER.messages[-1] if HANDLER.messages else {}
        ok(m.get('tls') is True, 'the message went over TLS', m)
        ok(HANDLER.auth and HANDLER.auth[-1] == ('PLAIN', True),
           'AUTH PLAIN with the password from the map', HANDLER.auth)
        ok(m.get('from') == 'sender@public.example' and
           m.get('to') == ['public1@public.example'],
           'envelope rewritten by smtp_generic_maps', m)
        want = (b'From: Sender <sender@public.example>\r\n'
                b'To: public1@public.example, "Other, Name" '
                b'<bad@example.net>\r\n'
                b'Cc: (comment) public1@public.example\r\n'
                b'Subject: smtp test\r\n\r\nline one\r\n.dot line\r\n'
                b'..two dots\r\nlast\r\n')
        got = m.get('data', b'')
        # sendmail may add headers (Message-ID, Date, Received):
        # compare the headers we wrote and the body exactly.
        ok(all(h in got for h in want.split(b'\r\n\r\n')[0].split(b'\r\n'))
           and got.endswith(want.split(b'\r\n\r\n', 1)[1]) and
           b'\r\n\r\nline one\r\n.dot line\r\n..two dots\r\n' in got,
           'bytes at the server: headers rewritten, dots and CRLF intact',
           repr(got))
        time.sleep(0.3)
        log = read(log_path)
        ok(('%s: to=<user1@example.com>, relay=127.0.0.1[127.0.0.1]:%d, '
            % (qid, tls_port)) in log and
           'dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as TEST' in log,
           'Postfix to= line for the delivery', log)
        ok('status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1' in log
           and 'dsn=4.2.0, status=deferred' in log,
           'log lines for the bounce and the deferral', log)
        ok('TLS connection established to 127.0.0.1[127.0.0.1]:%d: TLSv1.3 '
           'with cipher ' % tls_port in log, 'TLS connection logged', log)

        a = request(sock, qid, [('user2@example.com', 3)],
                    '[127.0.0.1]:%d' % plain_port)
        ok(a.get('rcpt.0.action') == 'deferred' and
           a.get('rcpt.0.status') == '4.7.4' and
           a.get('rcpt.0.reason') == 'TLS is required, but was not offered '
           'by host 127.0.0.1[127.0.0.1]',
           'encrypt: server without STARTTLS deferred 4.7.4', a)
        n_before = len(HANDLER.messages)
        a = request(sock, qid, [('user2@example.com', 3)],
                    '[127.0.0.1]:%d' % dead_port)
        ok(a.get('rcpt.0.action') == 'deferred' and
           a.get('rcpt.0.status') == '4.4.1' and
           'Connection refused' in a.get('rcpt.0.reason', '') and
           a.get('rcpt.0.relay') == 'none',
           'dead port: deferred 4.4.1, relay=none', a)
        ok(len(HANDLER.messages) == n_before, 'nothing delivered there')
        a = request(sock, 'NOSUCHID123', [('user2@example.com', 0)],
                    '[127.0.0.1]:%d' % tls_port)
        ok(a.get('rcpt.0.action') == 'deferred' and
           a.get('rcpt.0.status') == '4.3.0' and
           a.get('rcpt.0.reason', '').startswith('cannot read queue file: '),
           'missing queue file: deferred 4.3.0, "cannot read queue file"', a)
        a = request(sock, qid, [('user2@example.com', 99)],
                    '[127.0.0.1]:%d' % tls_port)
        ok(a.get('rcpt.0.action') == 'deferred' and
           a.get('rcpt.0.status') == '4.3.0' and
           a.get('rcpt.0.reason') == 'recipient index 99 not in queue file',
           'recipient index beyond the queue file: deferred 4.3.0', a)
        ok(len(HANDLER.messages) == n_before, 'nothing delivered for either')
        stop(p)

        # AUTH LOGIN through the mechanism filter; TLS session reuse.
        sock2 = os.path.join(q, 'private', 'relay')
        p = start_smtp(cf, sock2, log_path,
                       ['-o', 'smtp_sasl_mechanism_filter=login'])
        a = request(sock2, qid, [('user2@example.com', 3)], nh)
        ok(a.get('rcpt.0.action') == 'delivered' and HANDLER.auth and
           HANDLER.auth[-1] == ('LOGIN', True),
           'AUTH LOGIN with smtp_sasl_mechanism_filter=login',
           (a, HANDLER.auth))
        stop(p)

        # Plaintext level none: no TLS at all, AUTH over plaintext refused
        # by this server (auth_require_tls): the map's credentials are for
        # the TLS port only, so the plain port gets no AUTH.
        sock3 = os.path.join(q, 'private', 'smtpnone')
        p = start_smtp(cf, sock3, log_path,
                       ['-o', 'smtp_tls_security_level=none'])
        a = request(sock3, qid, [('user2@example.com', 3)],
                    '[127.0.0.1]:%d' % plain_port)
        m = HANDLER.messages[-1] if HANDLER.messages else {}
        ok(a.get('rcpt.0.action') == 'delivered' and m.get('tls') is False,
           'level none: plaintext delivery', a)
        a = request(sock3, qid, [('user2@example.com', 3)],
                    '[127.0.0.1]:%d' % (BASE + 4))
        ok(a.get('rcpt.0.action') == 'bounced' and
           a.get('rcpt.0.status') == '5.3.4' and
           'exceeds size limit 100 of server' in a.get('rcpt.0.reason', ''),
           'server SIZE 100: bounced 5.3.4 before MAIL', a)
        a = request(sock3, qid, [('user2@example.com', 3)],
                    '[127.0.0.1]:%d' % (BASE + 5))
        ok(a.get('rcpt.0.action') == 'deferred' and
           a.get('rcpt.0.status') == '4.4.2' and
           a.get('rcpt.0.reason') == 'host 127.0.0.1[127.0.0.1] sent a '
           'malformed reply while performing the EHLO handshake',
           'multi-line reply with mismatched codes: deferred 4.4.2', a)
        stop(p)
        p = start_smtp(cf, sock3 + 't', log_path,
                       ['-o', 'smtp_tls_security_level=none',
                        '-o', 'smtp_helo_timeout=2s'])
        t0 = time.time()
        a = request(sock3 + 't', qid, [('user2@example.com', 3)],
                    '[127.0.0.1]:%d' % (BASE + 6))
        ok(a.get('rcpt.0.action') == 'deferred' and
           a.get('rcpt.0.reason') == 'conversation with 127.0.0.1[127.0.0.1] '
           'timed out while performing the EHLO handshake' and
           time.time() - t0 < 4.5,
           'silent server: smtp_helo_timeout=2s, deferred', a)

        # DSN: RET/ENVID from the queue file (sendmail -R/-V), NOTIFY and
        # ORCPT per recipient, all pipelined.
        r = subprocess.run([os.path.join(BIN, 'sendmail'), '-C', cf, '-i',
                            '-f', 'other@example.org', '-R', 'hdrs', '-V',
                            'env+id=1', 'user2@example.com'],
                           input=b'Subject: dsn\r\n\r\nbody\r\n',
                           capture_output=True)
        ids2 = [i for i in sorted(os.listdir(os.path.join(q, 'maildrop')))]
        ok(r.returncode == 0 and len(ids2) == 1, 'second message queued',
           r.stderr)
        qid2 = ids2[0] if ids2 else 'X'
        if ids2:
            os.rename(os.path.join(q, 'maildrop', qid2),
                      os.path.join(q, 'active', qid2))
        a = request(sock3 + 't', qid2, [('user2@example.com', 0)],
                    '[127.0.0.1]:%d' % (BASE + 7), sender='other@example.org',
                    notify=2 | 4)
        mail = [x for x in DSN_LINES if x.upper().startswith('MAIL')]
        rcpt = [x for x in DSN_LINES if x.upper().startswith('RCPT')]
        ok(a.get('rcpt.0.action') == 'delivered' and mail and
           mail[-1].startswith('MAIL FROM:<other@example.org> SIZE=') and
           mail[-1].endswith(' RET=HDRS ENVID=env+2Bid+3D1'),
           'MAIL FROM with SIZE, RET and ENVID (xtext)', (a, mail))
        ok(rcpt and rcpt[-1] == 'RCPT TO:<user2@example.com> '
           'ORCPT=rfc822;user2@example.com NOTIFY=SUCCESS,FAILURE',
           'RCPT TO with NOTIFY and ORCPT', rcpt)
        stop(p)

        # verify: the certificate names mx.example.test, we connect to
        # 127.0.0.1: not verified, deferred.
        sock4 = os.path.join(q, 'private', 'smtpverify')
        p = start_smtp(cf, sock4, log_path,
                       ['-o', 'smtp_tls_security_level=verify'])
        a = request(sock4, qid, [('user2@example.com', 3)], nh)
        ok(a.get('rcpt.0.action') == 'deferred' and
           a.get('rcpt.0.status') == '4.7.5' and
           'not verified' in a.get('rcpt.0.reason', ''),
           'verify with a name mismatch: deferred 4.7.5', a)
        stop(p)

        # may: a failed handshake, then plaintext on a new connection.
        sock5 = os.path.join(q, 'private', 'smtpmay')
        p = start_smtp(cf, sock5, log_path,
                       ['-o', 'smtp_tls_security_level=may',
                        '-o', 'smtp_tls_protocols=<=TLSv1.2',
                        '-o', 'smtp_sasl_auth_enable=no'])
        a = request(sock5, qid, [('user2@example.com', 3)],
                    '[127.0.0.1]:%d' % (BASE + 3))
        m = HANDLER.messages[-1] if HANDLER.messages else {}
        ok(a.get('rcpt.0.action') == 'delivered' and m.get('tls') is False,
           'may: failed TLS handshake, delivered in plaintext', a)
        ok('trying again without TLS' in read(log_path),
           'the fallback is logged')
        stop(p)

        # LMTP over a unix socket: one reply per recipient after DATA.
        sock6 = os.path.join(q, 'private', 'lmtp')
        p = start_smtp(cf, sock6, log_path, ['-s', 'lmtp'])
        a = request(sock6, qid, [('user2@example.com', 3),
                                 ('full@example.com', 2)],
                    'unix:' + lmtp_path)
        ok(a.get('rcpt.0.action') == 'delivered' and
           a.get('rcpt.1.action') == 'bounced' and
           a.get('rcpt.1.status') == '5.2.2' and
           '(in reply to end of DATA command)' in a.get('rcpt.1.reason', '')
           and a.get('rcpt.0.relay') == 'mx.example.net[%s]' % lmtp_path
           and lmtp_handler.messages and len(lmtp_handler.messages[-1]) == 2,
           'LMTP: per-recipient replies after DATA',
           (a, read(log_path)))
        stop(p)

        ok(os.path.exists(os.path.join(data_dir, 'smtp_scache.lmdb')),
           'client TLS session cache file written')
        log = read(log_path)
        ok('panic' not in log, 'no panic', log)
        ptap.delivery_log_ok(log, 'smtp', "every to= line smtp logged has "
                             "lib/deliver_log.h's fields and Postfix's delay "
                             "format", least=3)
        # ASan/LSan: files in POSTERN_SAN_DIR (tests/lib/runtest); UBSan,
        # and everything without runtest: smtp's stderr log.
        ptap.sanitizer_ok(log)
    finally:
        for p in PROCS:
            stop(p)
        tls_srv.stop()
        plain_srv.stop()
        small_srv.stop()
        raw1.close()
        raw2.close()
        raw3.close()
        tls13_srv.stop()
        lmtp_srv.stop()
        if not os.environ.get("KEEP55"):
            shutil.rmtree(top, ignore_errors=True)
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
