#!/usr/bin/python3
"""33-smtpd-auth.t - smtpd AUTH (PLAIN, LOGIN) with STARTTLS, built-in backend.

smtpd alone on loopback as the submission service is configured in the
seed's master.cf (smtpd_tls_security_level=encrypt, smtpd_tls_auth_only,
smtpd_sasl_auth_enable=yes, smtpd_relay_restrictions=
permit_sasl_authenticated,reject), with the password hashes
(SHA512-CRYPT) in a texthash: smtpd_sasl_password_maps. Checks: AUTH
not advertised before STARTTLS and 530 5.7.0 if tried; PLAIN (initial
response and challenge forms) and LOGIN after STARTTLS; relay only when
authenticated; a wrong password gets 535 5.7.8 after a growing delay
and the Postfix log line fail2ban matches; '*' cancels; the per-client
failure limit ends in 421; the login is in the queue file and the log;
no password ever reaches the log (smtpd runs with -v).
"""
import warnings
warnings.simplefilter('ignore', DeprecationWarning)
import base64
import crypt  # noqa: E402 (deprecated in 3.11, present in Debian 12)
import os
import pwd
import re
import shutil
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from ptap import ok  # noqa: E402
import procs  # noqa: E402
from smtp_dialog import wait_accepts  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
BASE = 24700 + (os.getpid() % 150) * 2  # Ports 24700-24999.
PROCS = []
PASSWORD = 'Secr3t-pw'
LOGIN_PW = 'l0gin-Pass'


cleanup = procs.killer(PROCS)
TMP = tempfile.mkdtemp(prefix='postern-33-')
CONF = os.path.join(TMP, 'conf')
os.makedirs(CONF)
CERT, KEY = procs.self_signed(TMP)
with open(os.path.join(CONF, 'sasl_passwd'), 'w') as f:
    f.write('user1@example.com %s\n' % crypt.crypt(PASSWORD,
                                                    '$6$abcdefgh$'))
    f.write('user2@example.com %s\n' % crypt.crypt(LOGIN_PW,
                                                    '$6$ijklmnop$'))
with open(os.path.join(CONF, 'main.cf'), 'w') as f:
    f.write('''myhostname = mx.example.com
mydestination = localhost
mynetworks = 192.0.2.0/24
smtpd_peername_lookup = no
alias_maps =
virtual_mailbox_domains = example.com
virtual_mailbox_maps = inline:{ user1@example.com=x, user2@example.com=x }
smtpd_tls_cert_file = %s
smtpd_tls_key_file = %s
smtpd_tls_security_level = encrypt
smtpd_tls_auth_only = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = postern
smtpd_sasl_password_maps = texthash:%s/sasl_passwd
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_sasl_failure_limit = 4
smtpd_error_sleep_time = 0
''' % (CERT, KEY, CONF))

Q = os.path.join(TMP, 'queue')
ptap.queue_dirs(Q)
if os.geteuid() == 0:
    os.chmod(TMP, 0o755)
    os.chmod(KEY, 0o644)
    pw = pwd.getpwnam('postern')
    for root, dirs, files in os.walk(TMP):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for fn in files:
            os.chown(os.path.join(root, fn), pw.pw_uid, pw.pw_gid)
LOG = os.path.join(TMP, 'smtpd.log')


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def tls_session():
    c = smtplib.SMTP('127.0.0.1', BASE, timeout=20)
    c.ehlo('c.example')
    c.starttls(context=ctx())
    c.ehlo('c.example')
    return c


try:
    P = subprocess.Popen([os.path.join(BIN, 'smtpd'), '-d', '-v', '-l',
                          '127.0.0.1:%d' % BASE, '-c', CONF, '-o',
                          'queue_directory=' + Q],
                         stdin=subprocess.DEVNULL, stdout=open(LOG, 'w'),
                         stderr=subprocess.STDOUT)
    PROCS.append(P)
    if not wait_accepts(BASE, P, 5):
        print('# smtpd on port %d: no connection accepted' % BASE)

    # Before STARTTLS
    c = smtplib.SMTP('127.0.0.1', BASE, timeout=10)
    c.ehlo('c.example')
    ok(not c.has_extn('auth'), 'AUTH not advertised before STARTTLS')
    code, text = c.docmd('AUTH', 'PLAIN ' + base64.b64encode(
        b'\0user1@example.com\0' + PASSWORD.encode()).decode())
    ok(code == 530 and text.startswith(b'5.7.0'),
       'AUTH before STARTTLS: 530 5.7.0', (code, text))
    c.quit()

    # PLAIN with an initial response
    c = tls_session()
    ok(c.has_extn('auth') and 'PLAIN' in c.esmtp_features['auth']
       and 'LOGIN' in c.esmtp_features['auth'],
       'AUTH PLAIN LOGIN advertised after STARTTLS', c.esmtp_features)
    code, text = c.mail('user1@example.com')
    code, text = c.rcpt('someone@elsewhere.example')
    ok(code == 554, 'relay refused before AUTH', (code, text))
    c.rset()
    code, text = c.docmd('AUTH', 'PLAIN ' + base64.b64encode(
        b'\0user1@example.com\0' + PASSWORD.encode()).decode())
    ok(code == 235 and text.startswith(b'2.7.0'),
       'AUTH PLAIN (initial response): 235 2.7.0', (code, text))
    code, text = c.docmd('AUTH', 'PLAIN')
    ok(code == 503, 'a second AUTH: 503', (code, text))
    c.mail('user1@example.com')
    code, text = c.rcpt('someone@elsewhere.example')
    ok(code == 250, 'relay allowed after AUTH', (code, text))
    code, text = c.data(b'Subject: authed\r\n\r\nhi\r\n')
    m = re.search(rb'queued as ([0-9A-Za-z]+)', text)
    ok(code == 250 and m, 'message queued', text)
    c.quit()
    if m:
        with open(os.path.join(Q, 'incoming', m.group(1).decode()),
                  'rb') as f:
            data = f.read()
        ok(b'\nAsasl_username=user1@example.com\n' in data
           and b'\nAsasl_method=PLAIN\n' in data
           and b'with ESMTPSA id' in data,
           'queue file: sasl_username, sasl_method, ESMTPSA', data[:800])

    # PLAIN with a challenge, LOGIN
    c = tls_session()
    code, text = c.docmd('AUTH', 'PLAIN')
    ok(code == 334, 'AUTH PLAIN without initial response: 334', (code, text))
    code, text = c.docmd(base64.b64encode(
        b'\0user1@example.com\0' + PASSWORD.encode()).decode())
    ok(code == 235, '... then 235', (code, text))
    c.quit()
    c = tls_session()
    try:
        c.login('user2@example.com', LOGIN_PW)
        # smtplib prefers CRAM-MD5/PLAIN; force LOGIN too:
        logged = True
    except smtplib.SMTPException as e:
        logged = e
    ok(logged is True, 'smtplib login', logged)
    c.quit()
    c = tls_session()
    code, text = c.docmd('AUTH', 'LOGIN')
    ok(code == 334 and text == b'VXNlcm5hbWU6', 'AUTH LOGIN: Username:',
       (code, text))
    code, text = c.docmd(base64.b64encode(b'user2@example.com').decode())
    ok(code == 334 and text == b'UGFzc3dvcmQ6', '... Password:', (code, text))
    code, text = c.docmd(base64.b64encode(LOGIN_PW.encode()).decode())
    ok(code == 235, '... 235', (code, text))
    c.quit()

    # Cancel, bad base64
    c = tls_session()
    c.docmd('AUTH', 'LOGIN')
    code, text = c.docmd('*')
    ok(code == 501, "'*' cancels: 501", (code, text))
    code, text = c.docmd('AUTH', 'PLAIN !!!notbase64')
    ok(code == 501, 'bad base64: 501', (code, text))
    code, text = c.docmd('NOOP')
    ok(code == 250, 'the session goes on', (code, text))
    c.quit()

    # Wrong passwords: 535, growing delay, then the failure limit (4)
    c = tls_session()
    times = []
    codes = []
    for i in range(3):
        t = time.time()
        code, text = c.docmd('AUTH', 'PLAIN ' + base64.b64encode(
            b'\0user1@example.com\0wrong-password').decode())
        times.append(time.time() - t)
        codes.append((code, text[:5]))
    ok(all(cd == (535, b'5.7.8') for cd in codes),
       'wrong password: 535 5.7.8', codes)
    ok(times[0] >= 0.9 and times[1] >= 1.9 and times[2] >= 2.9,
       'the delay grows with each failure', times)
    code, text = c.docmd('AUTH', 'PLAIN ' + base64.b64encode(
        b'\0user1@example.com\0wrong-again').decode())
    ok(code == 535, '4th failure: 535', (code, text))
    # The limit: smtpd sends 421 4.7.0 (too many errors) on its own, then
    # closes. A disconnect without the 421 fails the first check.
    try:
        reply = c.getreply()
    except smtplib.SMTPServerDisconnected:
        reply = 'closed without a reply'
    ok(isinstance(reply, tuple) and reply[0] == 421
       and reply[1].startswith(b'4.7.0 ')
       and b'too many errors' in reply[1],
       'failure limit: 421 4.7.0 too many errors', reply)
    if c.sock is None:
        rest = b''              # smtplib saw the close (and no 421)
    else:
        try:
            c.sock.settimeout(5)
            rest = c.file.read()
        except OSError as e:
            rest = 'still open: %r' % e
    ok(rest == b'', 'failure limit: then the connection is closed', rest)
    c.close()
    c = tls_session()
    code, text = c.docmd('AUTH', 'PLAIN ' + base64.b64encode(
        b'\0user1@example.com\0' + PASSWORD.encode()).decode())
    ok(code == 421, 'the client is refused while over the limit',
       (code, text))
    c.close()

    # Logs
    time.sleep(0.3)
    log = open(LOG, encoding='latin-1').read()
    ok(re.search(r'warning: unknown\[127\.0\.0\.1\]: SASL PLAIN '
                 r'authentication failed: authentication failure, '
                 r'sasl_username=user1@example\.com', log),
       "log: Postfix's SASL failure line (fail2ban)", log[-2000:])
    ok(re.search(r': client=unknown\[127\.0\.0\.1\], sasl_method=PLAIN, '
                 r'sasl_username=user1@example\.com', log),
       'log: client= with sasl_method and sasl_username')
    secrets = [PASSWORD, LOGIN_PW, base64.b64encode(LOGIN_PW.encode())
               .decode(), base64.b64encode(b'\0user1@example.com\0'
                                           + PASSWORD.encode()).decode()]
    ok(not any(sec in log for sec in secrets) and 'wrong-password' not in
       log, 'no password in the log, even with -v')
    P.send_signal(signal.SIGTERM)
    try:
        rc = P.wait(10)
    except subprocess.TimeoutExpired:
        rc = 'hung'
    ok(rc == 0, 'smtpd exits 0 on SIGTERM', rc)
    log = open(LOG, encoding='latin-1').read()
    # ASan/LSan: files in POSTERN_SAN_DIR (tests/lib/runtest); UBSan, and
    # everything without runtest: smtpd's stderr log.
    ptap.sanitizer_ok(log)
finally:
    cleanup()
    shutil.rmtree(TMP, ignore_errors=True)
sys.exit(ptap.done())
