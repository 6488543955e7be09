#!/usr/bin/python3
"""48-slow-dns.t - one slow DNS zone does not stall other clients.

Issue 9 item 3: clients whose reverse zone is served by a DNS server
that never answers must not delay a normal client's HELO, MAIL and RCPT.
A private dnsmasq answers 127.0.0.1's PTR and A records itself and
forwards every other 127.0.0.x reverse name to a UDP "black hole" that
reads queries and never replies (both on loopback; nothing leaves the
machine). smtpd runs alone (no master) with smtpd_peername_lookup=yes
and the default smtpd_delay_reject=yes.

Case 1: 20 clients from 127.0.0.2..21 (20 hanging PTR lookups, more than
the 8 policy workers) connect and wait; a normal client from 127.0.0.1
then gets its banner, EHLO, MAIL and RCPT (a local mailbox: 250) within
1 s in all. Before smtpd_dns.c the 20 lookups held all policy threads
and the normal client waited for the resolver's timeouts (~10 s).

Case 2: the work in flight per client is bounded: with
smtpd_dns_worker_threads=2, 30 connections from one slow address hold
one DNS thread, not all of them, and the normal client is as quick.
The test also checks that smtpd asked the black hole (the slow path was
really taken) and that the normal client's name was verified.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from ptap import ok  # noqa: E402
from smtp_dialog import last, wait_accepts  # noqa: E402
import procs  # noqa: E402
import need  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
PROCS = []
TMP = tempfile.mkdtemp(prefix='postern-48-')
DNSMASQ = '/usr/sbin/dnsmasq'
if not need.need_prog(14, DNSMASQ, 'slow DNS cases'):
    sys.exit(ptap.done())


cleanup = procs.killer(PROCS)


def free_port():
    """A port free for TCP and UDP on 127.0.0.1."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
        s.close()
        try:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind(('127.0.0.1', port))
            u.close()
            return port
        except OSError:
            continue
    raise SystemExit('no free port')


# The black hole: reads DNS queries, never answers, counts them.
HOLE = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
HOLE.bind(('127.0.0.1', 0))
HOLE_PORT = HOLE.getsockname()[1]
HOLE_QUERIES = []


def hole():
    while True:
        try:
            data, _ = HOLE.recvfrom(4096)
        except OSError:
            return
        HOLE_QUERIES.append(data)


threading.Thread(target=hole, daemon=True).start()

DNS_PORT = free_port()
with open(os.path.join(TMP, 'dnsmasq.conf'), 'w') as f:
    f.write('''no-resolv
no-hosts
no-poll
bind-interfaces
listen-address=127.0.0.1
except-interface=nonexistent0
port=%d
log-queries
log-facility=%s/dnsmasq.log
pid-file=
user=%s
ptr-record=1.0.0.127.in-addr.arpa,mx.client.test
address=/mx.client.test/127.0.0.1
server=/0.0.127.in-addr.arpa/127.0.0.1#%d
server=/slow.test/127.0.0.1#%d
''' % (DNS_PORT, TMP, pwd.getpwuid(os.getuid()).pw_name, HOLE_PORT,
       HOLE_PORT))
PROCS.append(subprocess.Popen(
    [DNSMASQ, '--keep-in-foreground',
     '--conf-file=' + os.path.join(TMP, 'dnsmasq.conf')],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
for _ in range(50):
    if 'started, version' in ptap.read(os.path.join(TMP, 'dnsmasq.log')):
        break
    time.sleep(0.1)

CONF = os.path.join(TMP, 'conf')
os.makedirs(CONF)
with open(os.path.join(CONF, 'main.cf'), 'w') as f:
    f.write('''myhostname = mx.example.com
mydomain = example.com
mydestination = localhost
mynetworks = 127.0.0.1/32
smtpd_peername_lookup = yes
resolver_nameservers = 127.0.0.1:%d
alias_maps =
virtual_mailbox_domains = example.com
virtual_mailbox_maps = inline:{ user1@example.com=example.com/user1/ }
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_timeout = 30s
''' % DNS_PORT)


def start(name, *opts):
    q = os.path.join(TMP, name)
    ptap.queue_dirs(q)
    if os.geteuid() == 0:
        os.chmod(TMP, 0o755)
        pw = pwd.getpwnam('postern')
        for root, dirs, files in os.walk(TMP):
            os.chown(root, pw.pw_uid, pw.pw_gid)
    port = free_port()
    log = os.path.join(TMP, name + '.log')
    p = subprocess.Popen([os.path.join(BIN, 'smtpd'), '-d', '-l',
                          '127.0.0.1:%d' % port, '-c', CONF, '-o',
                          'queue_directory=' + q] + list(opts),
                         stdin=subprocess.DEVNULL,
                         stdout=open(log, 'w'), stderr=subprocess.STDOUT)
    PROCS.append(p)
    wait_accepts(port)
    return p, port, log


def slow_clients(port, sources, helo=False):
    """Connections that wait (their PTR hangs); kept open. With helo,
    each greets with a name in the black-hole zone and sends MAIL and
    RCPT without waiting: its RCPT check hangs on that name."""
    socks = []
    for i, src in enumerate(sources):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.settimeout(5)
        s.connect(('127.0.0.1', port))
        if helo:
            f = s.makefile('rb')
            last(f)  # the banner: nothing may come before it
            s.sendall(b'EHLO h%d.slow.test\r\n' % i)
            last(f)  # PIPELINING is offered: MAIL, RCPT at once
            s.sendall(b'MAIL FROM:<a@client.test>\r\n'
                      b'RCPT TO:<user1@example.com>\r\n')
        socks.append(s)
    return socks


def normal_client(port):
    """Banner..RCPT from 127.0.0.1: (seconds, replies)."""
    t0 = time.monotonic()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    s.settimeout(20)
    s.connect(('127.0.0.1', port))
    f = s.makefile('rb')
    out = [last(f)]
    for cmd in (b'EHLO mx.client.test', b'MAIL FROM:<a@client.test>',
                b'RCPT TO:<user1@example.com>'):
        s.sendall(cmd + b'\r\n')
        out.append(last(f))
    took = time.monotonic() - t0
    s.sendall(b'QUIT\r\n')
    last(f)
    s.close()
    return took, out


def case(title, name, sources, opts, helo=False, settle=0.5, named=True):
    p, port, log = start(name, *opts)
    before = len(HOLE_QUERIES)
    socks = slow_clients(port, sources, helo)
    time.sleep(settle)  # their lookups are now in flight
    took, out = normal_client(port)
    codes = [r[:3] for r in out]
    ok(codes == ['220', '250', '250', '250'],
       '%s: the normal client gets 220, 250, 250, 250' % title,
       repr(out))
    ok(took < 1.0, '%s: banner to RCPT reply in %.2f s (< 1 s)'
       % (title, took))
    held = len(HOLE_QUERIES) - before
    for s in socks:
        s.close()
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    text = ptap.read(log)
    ok(held > 0, '%s: the slow lookups reached the black hole (%d queries)'
       % (title, held), text[-3000:])
    if named:
        ok('connect from mx.client.test[127.0.0.1]' in text,
           '%s: the normal client\'s name was verified' % title,
           text[-1500:])
    ptap.sanitizer_ok(text, '%s: no sanitizer report, no panic' % title)
    return text


try:
    case('20 slow addresses', 'q1',
         ['127.0.0.%d' % i for i in range(2, 22)], [])
    text = case('30 connections from one slow address', 'q2',
                ['127.0.0.40'] * 30, ['-o', 'smtpd_dns_worker_threads=2'])
    # Case 3: the DNS wait is inside a restriction, on the policy
    # workers: 20 clients whose HELO name (reject_unknown_helo_hostname,
    # evaluated at RCPT) is in the zone that never answers hold 20
    # policy jobs, more than the 8 threads; the pool grows
    # (smtpd_worker_threads_max) and the normal client's checks run.
    case('20 RCPT checks stuck on a HELO name', 'q3',
         ['127.0.0.1'] * 20,
         ['-o', 'smtpd_peername_lookup=no',
          '-o', 'smtpd_helo_restrictions=reject_unknown_helo_hostname'],
         helo=True, settle=3.0, named=False)
finally:
    cleanup()
    HOLE.close()
    shutil.rmtree(TMP, ignore_errors=True)
sys.exit(ptap.done())
