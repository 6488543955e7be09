#!/usr/bin/python3
"""67-size-wire.t - message_size_limit counts the message as transmitted.

RFC 1870: the size is the number of octets, CR-LF pairs included, but
not the terminating dot nor the doubled quoting dots, sent after the
354. Postfix's smtpd counts the same (len + 2 per line, after the
stuffing dot is removed). With message_size_limit = SIZE = 2000 (smtpd
alone on loopback, no master: `smtpd -d -l 127.0.0.1:PORT`):
  - MAIL FROM with SIZE=2001 is refused at MAIL (552 5.3.4);
  - a message of exactly 2000 octets gets 250 and its queue file holds
    the message (LF endings); one of 2001 octets (SIZE=2000 declared)
    gets 552 5.3.4 after the final dot and leaves no file, temporary or
    not, in incoming/;
  - the same with dot-stuffed lines: 2000 octets after unstuffing (more
    on the wire) pass, 2001 do not;
  - a bare LF line end counts as the CRLF it stands for.
The old count (after CRLF -> LF) accepted the 2001-octet message (its
40 line ends counted 1 each). A client lost in the middle of DATA
leaves no file (a message under 16 KB has none before its final dot;
tests/87 loses one whose file was begun). Ports 26640-26659;
about 4 s.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from ptap import ok  # noqa: E402
import procs  # noqa: E402
from smtp_dialog import Raw, wait_accepts  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
LIMIT = 2000
PROCS = []


cleanup = procs.killer(PROCS)


def free_port(first, last):
    n = last - first + 1
    for i in range(n):
        port = first + (os.getpid() + i) % n
        try:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(('127.0.0.1', port))
            s.close()
            return port
        except OSError:
            continue
    ptap.bail_out('no free port in %d-%d' % (first, last))


TMP = tempfile.mkdtemp(prefix='postern-67-')
CONF = os.path.join(TMP, 'conf')
Q = os.path.join(TMP, 'q')
LOG = os.path.join(TMP, 'smtpd.log')
os.makedirs(CONF)
with open(os.path.join(CONF, 'main.cf'), 'w') as f:
    f.write('''myhostname = mx.example.com
mydomain = example.com
mydestination = localhost
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
alias_maps =
virtual_mailbox_domains = example.com
virtual_mailbox_maps = inline:{ user1@example.com=example.com/user1/ }
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
message_size_limit = %d
''' % LIMIT)
ptap.queue_dirs(Q)
if os.geteuid() == 0:
    os.chmod(TMP, 0o755)
    pw = pwd.getpwnam('postern')
    for root, dirs, files in os.walk(TMP):
        os.chown(root, pw.pw_uid, pw.pw_gid)


def incoming():
    return sorted(os.listdir(os.path.join(Q, 'incoming')))


def queued_message(qid):
    with open(os.path.join(Q, 'incoming', qid), 'rb') as f:
        data = f.read()
    rest = data.split(b'\nM', 1)[1]
    return rest[21:21 + int(rest[:20])]


def message(octets, stuffed=False, bare_lf=False):
    """(wire bytes, stored bytes): octets as RFC 1870 counts them."""
    lines = [(('.%d' if stuffed and i % 2 else 'l%d') % i + 'x' * 48)[:48]
             for i in range(octets // 50)]
    extra = octets % 50
    if extra >= 3:
        lines.append('e' * (extra - 2))
    else:
        lines[-1] += 'y' * extra
    wire = b''
    for n, t in enumerate(lines):
        t = t.encode()
        if t.startswith(b'.'):
            t = b'.' + t
        wire += t + (b'\n' if bare_lf and n == 1 else b'\r\n')
    stored = b''.join(t.encode() + b'\n' for t in lines)
    assert sum(len(t) + 2 for t in lines) == octets
    return wire, stored


def transaction(port, wire, declared):
    """Reply codes to MAIL, RCPT, DATA, the final dot; the new files."""
    before = set(incoming())
    r = Raw(port)
    r.code()
    r.send(b'EHLO client.example\r\n')
    r.code()
    r.send(b'MAIL FROM:<a@example.org> SIZE=%d\r\n' % declared)
    codes = [r.code()]
    if codes[0].startswith('250'):
        r.send(b'RCPT TO:<user1@example.com>\r\n')
        codes.append(r.code())
        r.send(b'DATA\r\n')
        codes.append(r.code())
        r.send(wire + b'.\r\n')
        codes.append(r.code())
    r.send(b'QUIT\r\n')
    r.code()
    return codes, sorted(set(incoming()) - before)


try:
    PORT = free_port(26640, 26659)
    p = subprocess.Popen([os.path.join(BIN, 'smtpd'), '-d', '-l',
                          '127.0.0.1:%d' % PORT, '-c', CONF, '-o',
                          'queue_directory=' + Q],
                         stdin=subprocess.DEVNULL, stdout=open(LOG, 'w'),
                         stderr=subprocess.STDOUT)
    PROCS.append(p)
    wait_accepts(PORT)

    codes, new = transaction(PORT, b'x\r\n', LIMIT + 1)
    ok(codes == ['552 5.3.4'] and new == [],
       'MAIL SIZE=%d over the limit: 552 5.3.4 at MAIL' % (LIMIT + 1), codes)

    for what, kw in (('plain lines', {}), ('dot-stuffed lines',
                                           {'stuffed': True}),
                     ('a bare LF line end', {'bare_lf': True})):
        wire, stored = message(LIMIT, **kw)
        codes, new = transaction(PORT, wire, LIMIT)
        ok(codes[-1] == '250 2.0.0' and len(new) == 1,
           '%s: exactly SIZE=%d octets (%d on the wire): 250'
           % (what, LIMIT, len(wire)), [codes, new])
        got = queued_message(new[0]) if len(new) == 1 else b''
        ok(got.endswith(b'\n' + stored) or got == stored,
           '... the queue file ends with the message, LF endings, '
           'unstuffed', got[-200:])
        wire, stored = message(LIMIT + 1, **kw)
        codes, new = transaction(PORT, wire, LIMIT)
        ok(codes[-1] == '552 5.3.4',
           '%s: SIZE=%d declared, one octet more (%d on the wire): '
           '552 5.3.4 after the final dot' % (what, LIMIT, len(wire)),
           codes)
        ok(new == [] and not [n for n in incoming() if n.startswith('.')],
           '... nothing left in incoming/, no temporary file either',
           incoming())

    # A client that goes away mid-DATA: a message under smtpd's 16 KB
    # chunk has no queue file before its final dot, and none is left.
    before = set(incoming())
    r = Raw(PORT)
    r.code()
    r.send(b'EHLO client.example\r\n')
    r.code()
    r.send(b'MAIL FROM:<a@example.org>\r\nRCPT TO:<user1@example.com>\r\n'
           b'DATA\r\n')
    for _ in range(3):
        r.code()
    r.send(b'Subject: cut\r\n\r\n' + (b'z' * 78 + b'\r\n') * 15)
    time.sleep(0.5)
    during = [n for n in incoming() if n.startswith('.')]
    r.s.close()
    for _ in range(50):
        if not [n for n in incoming() if n.startswith('.')]:
            break
        time.sleep(0.1)
    ok(during == [] and set(incoming()) == before,
       'a client lost mid-DATA (1 KB sent): no file begun, none left',
       [during, incoming()])

    r = Raw(PORT)
    r.code()
    r.send(b'NOOP\r\n')
    ok(r.code() == '250 2.0.0', 'smtpd still answers')
    r.send(b'QUIT\r\n')
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        rc = 'hung'
    ok(rc == 0, 'smtpd exits 0 on SIGTERM', rc)
    log = open(LOG, encoding='latin-1').read()
    ok(log.count('552 5.3.4 Message size exceeds fixed limit') == 3,
       'log: the three 552 rejects', log[-1500:])
    ptap.sanitizer_ok(log)
finally:
    cleanup()
    shutil.rmtree(TMP, ignore_errors=True)
sys.exit(ptap.done())
