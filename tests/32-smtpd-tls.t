#!/usr/bin/python3
"""32-smtpd-tls.t - smtpd STARTTLS on loopback with a test certificate.

Three smtpd instances (no master): smtpd_tls_security_level=may (port 25
style), =encrypt (submission style), and =may with
smtpd_forbid_unauth_pipelining=no (to see the CVE-2011-0411 defence
itself rather than the pipelining disconnect). Checks STARTTLS in EHLO,
plaintext delivery at "may", 530 5.7.0 before STARTTLS at "encrypt",
TLS 1.2+ only, a second STARTTLS refused, the EHLO after TLS, the
injection "STARTTLS\\r\\nRSET\\r\\n", the Received: header and the logs,
and a missing key: fatal at encrypt, STARTTLS just not offered at may.
Ports 23800-24399.
"""
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import warnings
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from ptap import ok  # noqa: E402
import procs  # noqa: E402
from smtp_dialog import wait_accepts  # noqa: E402

warnings.simplefilter("ignore", DeprecationWarning)

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
BASE = 23800 + (os.getpid() % 150) * 4
PROCS = []


cleanup = procs.killer(PROCS)
TMP = tempfile.mkdtemp(prefix='postern-32-')
CONF = os.path.join(TMP, 'conf')
os.makedirs(CONF)
CERT, KEY = procs.self_signed(TMP)
with open(os.path.join(CONF, 'main.cf'), 'w') as f:
    f.write('''myhostname = mx.example.com
mydestination = localhost
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
alias_maps =
virtual_mailbox_domains = example.com
virtual_mailbox_maps = inline:{ user1@example.com=example.com/user1/ }
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_tls_cert_file = %s
smtpd_tls_key_file = %s
smtpd_tls_received_header = yes
smtpd_tls_mandatory_protocols = !SSLv2, !SSLv3
tls_high_cipherlist = kEDH+aRSA+AES128:kEECDH+aRSA+AES128:+SSLv3
smtpd_tls_mandatory_ciphers = high
smtpd_tls_session_cache_database = btree:%s/scache
''' % (CERT, KEY, TMP))


def make_queue(name):
    q = os.path.join(TMP, name)
    ptap.queue_dirs(q)
    return q


def own():
    if os.geteuid() == 0:
        os.chmod(TMP, 0o755)
        os.chmod(KEY, 0o644)
        pw = pwd.getpwnam('postern')
        for root, dirs, files in os.walk(TMP):
            os.chown(root, pw.pw_uid, pw.pw_gid)


def start(port, queue, log, *opts):
    own()
    p = subprocess.Popen([os.path.join(BIN, 'smtpd'), '-d', '-l',
                          '127.0.0.1:%d' % port, '-c', CONF, '-o',
                          'queue_directory=' + queue] + list(opts),
                         stdin=subprocess.DEVNULL,
                         stdout=open(log, 'w'), stderr=subprocess.STDOUT)
    PROCS.append(p)
    if not wait_accepts(port, p, 5):
        print('# smtpd on port %d: no connection accepted' % port)
    return p


def ctx(**kw):
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    for k, v in kw.items():
        setattr(c, k, v)
    return c


def lines(f):
    out = []
    while True:
        line = f.readline()
        out.append(line)
        if len(line) < 4 or line[3:4] != b'-':
            return out


Q = make_queue('q')
LOG = os.path.join(TMP, 'may.log')
LOGE = os.path.join(TMP, 'encrypt.log')
LOGN = os.path.join(TMP, 'nopipe.log')
try:
    P = start(BASE, Q, LOG, '-o', 'smtpd_tls_security_level=may')
    PE = start(BASE + 1, Q, LOGE, '-o', 'smtpd_tls_security_level=encrypt')
    PN = start(BASE + 2, Q, LOGN, '-o', 'smtpd_tls_security_level=may',
               '-o', 'smtpd_forbid_unauth_pipelining=no')

    # may: STARTTLS offered, plaintext still works
    c = smtplib.SMTP('127.0.0.1', BASE, timeout=10)
    c.ehlo('c.example')
    ok(c.has_extn('starttls'), 'may: EHLO offers STARTTLS')
    code, text = c.mail('a@example.org')
    ok(code == 250, 'may: plaintext MAIL FROM 250', (code, text))
    code, text = c.rcpt('user1@example.com')
    ok(code == 250, 'may: plaintext RCPT TO 250', (code, text))
    code, text = c.data(b'Subject: plain\r\n\r\nplain\r\n')
    m = re.search(rb'queued as ([0-9A-Za-z]+)', text)
    ok(code == 250 and m, 'may: plaintext message queued (250 queued as)',
       (code, text))
    c.quit()
    qf = os.path.join(Q, 'incoming', m.group(1).decode()) if m else None
    data = open(qf, 'rb').read() if qf and os.path.exists(qf) else b''
    ok(b'\n\nplain\n' in data and re.search(
        rb'\n\tby mx\.example\.com \(postern\) with ESMTP id ', data)
       and b'using TLS' not in data,
       'may: the queue file holds the plaintext message, received with '
       'ESMTP (no TLS)', data[-600:])

    # may: STARTTLS, then a message over TLS
    c = smtplib.SMTP('127.0.0.1', BASE, timeout=10)
    c.ehlo('c.example')
    code, text = c.starttls(context=ctx())
    ok(code == 220 and text == b'2.0.0 Ready to start TLS',
       'STARTTLS: 220 2.0.0 Ready to start TLS', (code, text))
    ok(c.sock.version() in ('TLSv1.2', 'TLSv1.3'), 'TLS 1.2 or newer',
       c.sock.version())
    c.ehlo('c.example')
    ok(not c.has_extn('starttls'), 'EHLO after TLS does not offer STARTTLS')
    code, text = c.docmd('STARTTLS')
    ok(code == 554 and text.startswith(b'5.5.1'),
       'a second STARTTLS: 554 5.5.1', (code, text))
    c.mail('a@example.org')
    c.rcpt('user1@example.com')
    code, text = c.data(b'Subject: tls\r\n\r\nover TLS\r\n')
    m = re.search(rb'queued as ([0-9A-Za-z]+)', text)
    ok(code == 250 and m, 'message over TLS queued', text)
    c.quit()
    if m:
        with open(os.path.join(Q, 'incoming', m.group(1).decode()),
                  'rb') as f:
            data = f.read()
        ok(re.search(rb'\n\t\(using TLSv1\.[23] with cipher [A-Z0-9_-]+ '
                     rb'\(\d+/\d+ bits\)\)\n\tby mx\.example\.com \(postern\) '
                     rb'with ESMTPS id', data),
           'Received: shows the TLS protocol and cipher, with ESMTPS', data)

    # TLS 1.1 is refused
    s = socket.create_connection(('127.0.0.1', BASE), 5)
    f = s.makefile('rb')
    f.readline()
    s.sendall(b'EHLO c.example\r\n')
    lines(f)
    s.sendall(b'STARTTLS\r\n')
    f.readline()
    old = ctx(minimum_version=ssl.TLSVersion.TLSv1,
              maximum_version=ssl.TLSVersion.TLSv1_1)
    try:
        old.set_ciphers('ALL:@SECLEVEL=0')
    except ssl.SSLError:
        pass
    try:
        old.wrap_socket(s).close()
        refused = False
    except (ssl.SSLError, OSError):
        refused = True
    ok(refused, 'a TLSv1.1-only client cannot complete the handshake')

    # Session resumption through the cache (openssl s_client, TLS 1.2)
    sess = os.path.join(TMP, 'sess.pem')
    outs = []
    for opt in ('-sess_out', '-sess_in'):
        r = subprocess.run(['openssl', 's_client', '-starttls', 'smtp',
                            '-connect', '127.0.0.1:%d' % BASE, '-tls1_2',
                            opt, sess], input=b'NOOP\r\n',
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=20)
        outs.append(r.stdout.decode('latin-1'))
    ok(re.search(r'(?m)^New, TLSv1\.2', outs[0])
       and 'subject=CN = mx.example.com' in outs[0],
       'openssl s_client: TLSv1.2 with the configured certificate',
       outs[0][-1500:])
    ok(re.search(r'(?m)^Reused, TLSv1\.2', outs[1]),
       'a second connection resumes the session', outs[1][-1500:])

    # CVE-2011-0411: plaintext pipelined after STARTTLS
    for port, name, want in ((BASE, 'default', '554 5.5.0'),
                             (BASE + 2, 'forbid_unauth_pipelining=no',
                              '220 2.0.0')):
        s = socket.create_connection(('127.0.0.1', port), 5)
        s.settimeout(5)
        f = s.makefile('rb')
        f.readline()
        s.sendall(b'EHLO c.example\r\n')
        lines(f)
        s.sendall(b'STARTTLS\r\nRSET\r\n')
        first = f.readline().decode('latin-1')
        ok(first.startswith(want), 'STARTTLS+RSET in one write (%s): %s'
           % (name, want), first)
        if want.startswith('220'):
            t = ctx().wrap_socket(s)
            t.settimeout(2)
            try:
                extra = t.recv(100)
            except (socket.timeout, ssl.SSLError):
                extra = b''
            ok(extra == b'', 'the injected RSET is not answered after the '
               'handshake', extra)
            t.sendall(b'NOOP\r\n')
            t.settimeout(5)
            got = t.recv(100)
            ok(got.startswith(b'250 2.0.0'), 'the TLS session works', got)
            t.close()
        else:
            s.close()

    # encrypt: no mail before STARTTLS
    c = smtplib.SMTP('127.0.0.1', BASE + 1, timeout=10)
    c.ehlo('c.example')
    ok(c.has_extn('starttls'), 'encrypt: EHLO offers STARTTLS')
    code, text = c.mail('a@example.org')
    ok(code == 530 and text.startswith(b'5.7.0'),
       'encrypt: MAIL before STARTTLS gets 530 5.7.0', (code, text))
    c.starttls(context=ctx())
    c.ehlo('c.example')
    code, text = c.mail('a@example.org')
    ok(code == 250, 'encrypt: MAIL after STARTTLS accepted', (code, text))
    c.quit()

    # A TLS client that sends a command and closes at once, 30 times
    # (once freed the session under its own input handler)
    for i in range(30):
        s = socket.create_connection(('127.0.0.1', BASE), 5)
        f = s.makefile('rb')
        f.readline()
        s.sendall(b'EHLO c.example\r\n')
        lines(f)
        s.sendall(b'STARTTLS\r\n')
        f.readline()
        try:
            t = ctx().wrap_socket(s)
            t.sendall(b'NOOP\r\nNOOP\r\n')
            t.close()
        except (ssl.SSLError, OSError):
            pass
    time.sleep(0.5)
    ok(P.poll() is None, 'smtpd survives TLS clients that close at once')

    # smtpd_tls_wrappermode=yes (port 465): TLS first, then the greeting
    PW = start(BASE + 3, Q, os.path.join(TMP, 'wrapper.log'), '-o',
               'smtpd_tls_wrappermode=yes')
    try:
        c = smtplib.SMTP_SSL('127.0.0.1', BASE + 3, timeout=10,
                             context=ctx())
        code, _ = c.ehlo('c.example')
        ok(code == 250 and not c.has_extn('starttls'),
           'wrappermode: greeting and EHLO over TLS, no STARTTLS offered')
        c.mail('a@example.org')
        c.rcpt('user1@example.com')
        code, text = c.data(b'Subject: smtps\r\n\r\nx\r\n')
        ok(code == 250, 'wrappermode: message accepted', (code, text))
        c.quit()
    except (OSError, smtplib.SMTPException) as e:
        ok(False, 'wrappermode session', e)
    s = socket.create_connection(('127.0.0.1', BASE + 3), 5)
    s.settimeout(3)
    try:
        s.sendall(b'EHLO plain\r\n')
        got = s.recv(100)
    except OSError:
        got = b''
    ok(not got.startswith(b'220') and not got.startswith(b'250'),
       'wrappermode: a plaintext client gets no SMTP', got)
    s.close()
    PW.send_signal(signal.SIGTERM)
    PW.wait(10)

    # Logs
    time.sleep(0.3)
    log = open(LOG, encoding='latin-1').read()
    ok(re.search(r'Anonymous TLS connection established from '
                 r'unknown\[127\.0\.0\.1\]: TLSv1\.[23] with cipher', log),
       'log: TLS connection established', log[-1500:])
    ok(re.search(r'improper command pipelining after STARTTLS', log),
       'log: improper pipelining after STARTTLS')
    logn = open(LOGN, encoding='latin-1').read()
    ok(re.search(r'discarding 6 bytes of plaintext sent after STARTTLS',
                 logn), 'log: plaintext after STARTTLS discarded', logn)
    ok('SSL_accept error from unknown[127.0.0.1]' in log,
       'log: the failed TLSv1.1 handshake')

    # A missing key
    missing = ['-o', 'smtpd_tls_key_file=' + os.path.join(TMP, 'nokey.pem')]
    pf = start(BASE + 3, Q, os.path.join(TMP, 'fatal.log'), '-o',
               'smtpd_tls_security_level=encrypt', *missing)
    try:
        rc = pf.wait(10)
    except subprocess.TimeoutExpired:
        rc = 'running'
    flog = open(os.path.join(TMP, 'fatal.log'), encoding='latin-1').read()
    ok(rc not in (0, 'running') and 'fatal:' in flog,
       'encrypt with a missing key: a clear startup error', (rc, flog))
    pw = start(BASE + 3, Q, os.path.join(TMP, 'warn.log'), '-o',
               'smtpd_tls_security_level=may', *missing)
    c = smtplib.SMTP('127.0.0.1', BASE + 3, timeout=10)
    c.ehlo('c.example')
    ok(not c.has_extn('starttls') and pw.poll() is None,
       'may with a missing key: runs, without STARTTLS')
    c.quit()
    wlog = open(os.path.join(TMP, 'warn.log'), encoding='latin-1').read()
    ok('disabling TLS support' in wlog, 'may with a missing key: warning',
       wlog)

    for p in PROCS:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
    # every smtpd but the one that must refuse to start exits 0 on SIGTERM
    # (a crash or a sanitizer abort on the way shows here)
    rcs = [p.returncode for p in PROCS if p is not pf]
    ok(all(rc == 0 for rc in rcs), 'every smtpd exits 0 on SIGTERM', rcs)
    logs = ''.join(open(os.path.join(TMP, n), encoding='latin-1').read()
                   for n in ('may.log', 'encrypt.log', 'nopipe.log',
                             'wrapper.log', 'fatal.log', 'warn.log'))
    # ASan/LSan: files in POSTERN_SAN_DIR (tests/lib/runtest); UBSan, and
    # everything without runtest: the daemons' stderr logs.
    ptap.sanitizer_ok(logs)
finally:
    cleanup()
    shutil.rmtree(TMP, ignore_errors=True)
sys.exit(ptap.done())
