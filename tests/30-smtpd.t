#!/usr/bin/python3
"""30-smtpd.t - smtpd alone on loopback, driven by real clients.

Starts `smtpd -d -l 127.0.0.1:PORT -c CONF -o queue_directory=TMP` (no
master) twice: a main instance (smtpd_timeout=2s, message_size_limit,
smtpd_recipient_limit=3, smtpd_hard_error_limit=5) and a strict one
(smtpd_forbid_bare_newline=yes, smtpd_soft_error_limit=1 with a 1s error
sleep). Drives them with Python's smtplib, raw sockets and swaks, and
checks what a user would: the replies, the queue files in incoming/
(envelope and exact message bytes), and the log lines. Ports 23000-23799.
"""
import os
import pwd
import re
import shutil
import signal
import smtplib
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
import procs  # noqa: E402
from smtp_dialog import Raw, wait_accepts  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
BASE = 23000 + (os.getpid() % 400) * 2
PROCS = []


cleanup = procs.killer(PROCS)

TMP = tempfile.mkdtemp(prefix='postern-30-')
CONF = os.path.join(TMP, 'conf')
os.makedirs(CONF)
with open(os.path.join(CONF, 'main.cf'), 'w') as f:
    f.write('''myhostname = mx.example.com
mydomain = example.com
mydestination = localhost
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
alias_maps =
virtual_mailbox_domains = example.com
virtual_mailbox_maps = inline:{ user1@example.com=example.com/user1/, user2@example.com=example.com/user2/ }
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_timeout = 2s
message_size_limit = 20000
smtpd_recipient_limit = 3
smtpd_hard_error_limit = 5
smtpd_soft_error_limit = 100
smtpd_error_sleep_time = 1s
''')


def make_queue(name):
    q = os.path.join(TMP, name)
    ptap.queue_dirs(q)
    return q


def start(port, queue, log, *opts):
    if os.geteuid() == 0:
        os.chmod(TMP, 0o755)
        pw = pwd.getpwnam('postern')
        for root, dirs, files in os.walk(TMP):
            os.chown(root, pw.pw_uid, pw.pw_gid)
    p = subprocess.Popen([os.path.join(BIN, 'smtpd'), '-d', '-l',
                          '127.0.0.1:%d' % port, '-c', CONF, '-o',
                          'queue_directory=' + queue] + list(opts),
                         stdin=subprocess.DEVNULL,
                         stdout=open(log, 'w'), stderr=subprocess.STDOUT)
    PROCS.append(p)
    wait_accepts(port)
    return p


def ehlo_session(port):
    """A raw connection past the greeting and EHLO: (socket, its reader)."""
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    f = s.makefile('rb')
    f.readline()
    s.sendall(b'EHLO c.example\r\n')
    while not f.readline().startswith(b'250 '):
        pass
    return s, f


def queue_files(q):
    return sorted(os.listdir(os.path.join(q, 'incoming')))


def read_queue(q, qid):
    with open(os.path.join(q, 'incoming', qid), 'rb') as f:
        data = f.read()
    env, rest = data.split(b'\nM', 1)
    n = int(rest[:20])
    msg = rest[21:21 + n]
    return env.decode('latin-1'), msg


PORT = BASE
PORT2 = BASE + 1
Q1 = make_queue('q1')
Q2 = make_queue('q2')
LOG1 = os.path.join(TMP, 'smtpd1.log')
LOG2 = os.path.join(TMP, 'smtpd2.log')
WAKES = []


def fake_qmgr(path):
    """public/qmgr: record the wakeup bytes smtpd writes."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o666)
    srv.listen(64)

    def loop():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            c.settimeout(2)
            try:
                WAKES.append(c.recv(100))
            except OSError:
                pass
            c.close()
    threading.Thread(target=loop, daemon=True).start()
    return srv


try:
    QMGR = fake_qmgr(os.path.join(Q1, 'public', 'qmgr'))
    P1 = start(PORT, Q1, LOG1)
    P2 = start(PORT2, Q2, LOG2, '-o', 'smtpd_forbid_bare_newline=yes',
               '-o', 'smtpd_forbid_bare_newline_exclusions=',
               '-o', 'smtpd_soft_error_limit=1')

    # EHLO keywords
    c = smtplib.SMTP('127.0.0.1', PORT, timeout=10)
    code, _ = c.ehlo('client.example.org')
    ok(code == 250, 'EHLO answers 250')
    for kw in ('pipelining', 'size', '8bitmime', 'enhancedstatuscodes',
               'dsn'):
        ok(c.has_extn(kw), 'EHLO advertises %s' % kw.upper())
    ok(c.esmtp_features.get('size') == '20000',
       'SIZE shows message_size_limit', c.esmtp_features)
    ok(not c.has_extn('starttls') and not c.has_extn('auth'),
       'no STARTTLS/AUTH advertised before TLS exists')

    # A message, byte-exact in the queue with the right envelope
    body = (b'From: <sender@example.org>\r\nTo: <user1@example.com>\r\n'
            b'Subject: exact\r\n\r\nline 1\r\n.leading dot\r\n'
            b'\xc3\xa9 8-bit\r\n\r\nlast line\r\n')
    c.mail('sender@example.org', ['BODY=8BITMIME', 'RET=HDRS'])
    code, _ = c.rcpt('user1@example.com', ['NOTIFY=FAILURE'])
    ok(code == 250, 'RCPT to a virtual user: 250')
    code, _ = c.rcpt('nobody@example.com')
    ok(code == 550, 'RCPT to an unknown virtual user: 550')
    code, text = c.data(body)
    m = re.match(rb'2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$', text)
    ok(code == 250 and m, '250 after DATA carries the queue id', text)
    qid = m.group(1).decode() if m else ''
    ok(qid in queue_files(Q1), 'queue file %s is in incoming/' % qid,
       queue_files(Q1))
    if qid in queue_files(Q1):
        env, msg = read_queue(Q1, qid)
        ok('\nSsender@example.org\n' in env, 'envelope sender', env)
        ok(re.search(r'\nRP 4 -1 user1@example\.com$', env),
           'one recipient with NOTIFY=FAILURE', env)
        ok('nobody' not in env, 'the rejected recipient is not queued')
        ok('\nAdsn_ret=HDRS\n' in env and '\nAbody_type=8BITMIME\n' in env,
           'RET and BODY kept as attributes', env)
        want = body.replace(b'\r\n', b'\n')
        ok(msg.startswith(b'Received: from client.example.org '
                          b'(unknown [127.0.0.1])\n'),
           'Received: header first', msg[:200])
        ok(msg.endswith(want), 'message bytes exact (CRLF to LF, '
           'dot-stuffing undone by smtplib and smtpd)', msg)
    c.quit()
    for _ in range(50):
        if WAKES:
            break
        time.sleep(0.05)
    ok(b'W' in WAKES, 'qmgr woken through public/qmgr with "W"', WAKES)

    # Pipelining after EHLO: replies come in order, one per command
    r = Raw(PORT)
    r.reply()
    r.send(b'EHLO c.example\r\n')
    r.reply()
    r.send(b'MAIL FROM:<a@example.org>\r\nRCPT TO:<user1@example.com>\r\n'
           b'RCPT TO:<nobody@example.com>\r\nRCPT TO:<user2@example.com>\r\n'
           b'DATA\r\n')
    codes = [r.code() for _ in range(5)]
    ok(codes == ['250 2.1.0', '250 2.1.5', '550 5.1.1', '250 2.1.5',
                 '354 End d'], 'pipelined MAIL/RCPT/DATA in order', codes)
    r.send(b'Subject: p\r\n\r\nx\r\n.\r\nQUIT\r\n')
    ok(r.code() == '250 2.0.0', 'pipelined end of data and QUIT: 250')
    ok(r.code() == '221 2.0.0', '... then 221')

    # ... and the replies to one pipelined group leave in one write, so
    # one segment: the first recv() has them all. Sent one at a time, the
    # second waited in the kernel (Nagle) for the client's delayed ACK of
    # the first, some 40 ms per group.
    s, f = ehlo_session(PORT)
    s.sendall(b'MAIL FROM:<a@example.org>\r\nRCPT TO:<user1@example.com>\r\n'
              b'RCPT TO:<user2@example.com>\r\nDATA\r\n')
    first = s.recv(65536)
    ok(re.fullmatch(rb'250 2\.1\.0 .*\r\n250 2\.1\.5 .*\r\n'
                    rb'250 2\.1\.5 .*\r\n354 .*\r\n', first) is not None,
       'pipelined MAIL/RCPT/RCPT/DATA: the four replies in one segment',
       first)
    s.sendall(b'.\r\nQUIT\r\n')
    f.close()
    s.close()

    # The 250 after the dot is sent by the commit job itself (smtpd_queue.c,
    # commit_reply_early()); the loop still counts it. Two messages in one
    # connection, each dot pipelined with what follows: every reply once,
    # in order, and nothing else on the wire.
    r = Raw(PORT)
    r.reply()

    def upto_354(r):
        got = b''
        while True:
            one = r.reply()
            got += one
            if not one or one.endswith(b'<timeout>') or one[:3] == b'354':
                return got
    r.send(b'EHLO c.example\r\n')
    wire = r.reply()
    r.send(b'MAIL FROM:<a@example.org>\r\nRCPT TO:<user1@example.com>\r\n'
           b'DATA\r\n')
    wire += upto_354(r)
    r.send(b'Subject: e1\r\n\r\nx\r\n.\r\nMAIL FROM:<b@example.org>\r\n'
           b'RCPT TO:<user2@example.com>\r\nDATA\r\n')
    wire += upto_354(r)
    r.send(b'Subject: e2\r\n\r\ny\r\n.\r\nQUIT\r\n')
    while True:
        one = r.reply()
        wire += one
        if not one or one.endswith(b'<timeout>'):
            break
    codes = re.findall(rb'^(\d{3})[ -]', wire, re.M)
    ok(re.fullmatch(rb'(250-.*\r\n)+250 .*\r\n250 2\.1\.0 .*\r\n'
                    rb'250 2\.1\.5 .*\r\n354 .*\r\n250 2\.0\.0 Ok: queued as'
                    rb' \w+\r\n250 2\.1\.0 .*\r\n250 2\.1\.5 .*\r\n354 .*\r\n'
                    rb'250 2\.0\.0 Ok: queued as \w+\r\n221 2\.0\.0 .*\r\n',
                    wire) is not None,
       'two pipelined messages: each reply once, in order', codes)

    # The commands pipelined behind a message's end are answered without
    # waiting for the client's ACK of the dot's 250 (which the commit
    # writes first): the listener's TCP_NODELAY, which the connection
    # inherits. With Nagle the three replies waited for the client's
    # delayed ACK, 40 ms or more each time; the best of five gaps from
    # the 250 to the 354 stays far below that.
    gaps = []
    for _ in range(5):
        s, f = ehlo_session(PORT)
        s.sendall(b'MAIL FROM:<a@example.org>\r\n'
                  b'RCPT TO:<user1@example.com>\r\nDATA\r\n')
        while not f.readline().startswith(b'354'):
            pass
        s.sendall(b'x\r\n.\r\nMAIL FROM:<b@example.org>\r\n'
                  b'RCPT TO:<user2@example.com>\r\nDATA\r\n')
        first = f.readline()
        t1 = time.monotonic()
        while True:
            line = f.readline()
            if not line or line.startswith(b'354'):
                break
        gaps.append(time.monotonic() - t1 if line and
                    first.startswith(b'250 2.0.0') else 99)
        s.sendall(b'y\r\n.\r\nQUIT\r\n')
        f.read()
        s.close()
    ok(min(gaps) < 0.025, 'MAIL, RCPT, DATA pipelined behind the dot: '
       'answered without waiting for an ACK (best gap after the 250 '
       'under 25 ms)', ['%.1f ms' % (g * 1000) for g in gaps])

    # Recipient limit
    r = Raw(PORT)
    r.reply()
    r.send(b'EHLO c.example\r\n')
    r.reply()
    r.send(b'MAIL FROM:<a@example.org>\r\n')
    r.reply()
    got = []
    for i in range(4):
        r.send(b'RCPT TO:<user1@example.com>\r\n')
        got.append(r.code())
    ok(got[:3] == ['250 2.1.5'] * 3 and got[3] == '452 4.5.3',
       'smtpd_recipient_limit=3: the 4th gets 452 4.5.3', got)

    # Size limit: SIZE= at MAIL, and real size after the final dot
    r.send(b'RSET\r\nMAIL FROM:<a@example.org> SIZE=30000\r\n')
    r.reply()
    ok(r.code() == '552 5.3.4', 'MAIL SIZE= over the limit: 552 5.3.4')
    before = queue_files(Q1)
    r.send(b'MAIL FROM:<a@example.org>\r\nRCPT TO:<user1@example.com>\r\n'
           b'DATA\r\n')
    r.reply()
    r.reply()
    r.reply()
    r.send(b'Subject: big\r\n\r\n' + (b'x' * 998 + b'\r\n') * 30
           + b'.\r\n')
    ok(r.code() == '552 5.3.4', 'message over the limit: 552 5.3.4 after '
       'the final dot')
    r.send(b'NOOP\r\n')
    ok(r.code() == '250 2.0.0', 'the session goes on after a 552')
    ok(queue_files(Q1) == before, 'nothing queued for the big message')

    # SMTP smuggling: one message, the smuggled text is content
    before = set(queue_files(Q1))
    r = Raw(PORT)
    r.reply()
    r.send(b'EHLO c.example\r\n')
    r.reply()
    r.send(b'MAIL FROM:<a@example.org>\r\n')
    r.reply()
    r.send(b'RCPT TO:<user1@example.com>\r\n')
    r.reply()
    r.send(b'DATA\r\n')
    r.reply()
    r.send(b'Subject: smuggle\r\n\r\nhello\n.\nMAIL FROM:<evil@x>\r\n'
           b'RCPT TO:<user2@example.com>\r\nDATA\r\nevil\r\n.\r\n')
    first = r.code()
    r.send(b'QUIT\r\n')
    second = r.code()
    ok(first == '250 2.0.0' and second == '221 2.0.0',
       '<LF>.<LF> does not end DATA: one 250, then QUIT', [first, second])
    new = sorted(set(queue_files(Q1)) - before)
    ok(len(new) == 1, 'exactly one message queued', new)
    if len(new) == 1:
        env, msg = read_queue(Q1, new[0])
        ok(b'\nMAIL FROM:<evil@x>\nRCPT TO:<user2@example.com>\nDATA\n'
           b'evil\n' in msg and 'user2' not in env,
           'the smuggled commands are message text', msg)

    # Overlong command line and NUL
    r = Raw(PORT)
    r.reply()
    r.send(b'NOOP ' + b'x' * 5000 + b'\r\nNOOP\r\n')
    ok(r.code() == '500 5.5.2', 'overlong command: 500 5.5.2')
    ok(r.code() == '250 2.0.0', 'the rest of the line is consumed')
    r.send(b'NO\0OP\r\n')
    ok(r.code() == '500 5.5.2', 'NUL in a command: 500 5.5.2')

    # Hard error limit (5)
    r = Raw(PORT)
    r.reply()
    codes = []
    for i in range(5):
        r.send(b'BOGUS\r\n')
        codes.append(r.code())
    last = r.code()
    ok(codes == ['500 5.5.2'] * 5 and last == '421 4.7.0',
       'smtpd_hard_error_limit=5: 421 4.7.0 after the 5th error',
       codes + [last])
    ok(r.closed(), '... and the connection is closed')

    # Unauthorized pipelining (no EHLO): 554 5.5.0 and disconnect
    r = Raw(PORT)
    r.reply()
    r.send(b'HELO c.example\r\nMAIL FROM:<a@example.org>\r\n')
    got = r.code()
    ok(got == '554 5.5.0', 'pipelining without EHLO: 554 5.5.0', got)
    ok(r.closed(), '... and the connection is closed')

    # Timeout (smtpd_timeout=2s)
    r = Raw(PORT)
    r.reply()
    t = time.time()
    got = r.code()
    dt = time.time() - t
    ok(got == '421 4.4.2' and 1.5 < dt < 6,
       'idle client: 421 4.4.2 after smtpd_timeout', (got, dt))
    ok(r.closed(), '... and the connection is closed')

    # swaks, as an administrator would test
    sw = shutil.which('swaks')
    ok(sw is not None, 'swaks is installed')
    if sw:
        p = subprocess.run([sw, '--server', '127.0.0.1:%d' % PORT,
                            '--from', 'a@example.org', '--to',
                            'user2@example.com', '--pipeline',
                            '--timeout', '10'],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
        out = p.stdout.decode('latin-1')
        ok(p.returncode == 0 and re.search(r'<-  250 2\.0\.0 Ok: queued as',
                                           out), 'swaks --pipeline', out)
        p = subprocess.run([sw, '--server', '127.0.0.1:%d' % PORT,
                            '--from', 'a@example.org', '--to',
                            'someone@elsewhere.example', '--timeout', '10',
                            '--helo', 'c.example'],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
        out = p.stdout.decode('latin-1')
        ok(re.search(r'<-  250 2\.1\.5', out),
           'relay from mynetworks accepted (permit_mynetworks)', out)

    # Many concurrent sessions in one process, messages in parallel
    conns = []
    try:
        for i in range(300):
            conns.append(Raw(PORT))
        greets = sum(1 for c in conns if c.reply().startswith(b'220 '))
    except OSError as e:
        greets = -1
    ok(greets == 300, '300 concurrent sessions greeted', greets)
    for c in conns:
        c.s.close()
    before = set(queue_files(Q1))
    results = []

    def send_one(i):
        try:
            s = smtplib.SMTP('127.0.0.1', PORT, timeout=20)
            s.ehlo('c%d.example' % i)
            s.sendmail('a@example.org', ['user1@example.com'],
                       b'Subject: %d\r\n\r\nbody %d\r\n' % (i, i))
            s.quit()
            results.append(True)
        except Exception as e:
            results.append(e)
    threads = [threading.Thread(target=send_one, args=(i,))
               for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok(results.count(True) == 40, '40 parallel messages accepted',
       [r for r in results if r is not True][:3])
    ok(len(set(queue_files(Q1)) - before) == 40,
       '40 queue files, one per 250')

    # Strict instance: bare LF refused; error sleep delays replies
    r = Raw(PORT2)
    r.reply()
    r.send(b'EHLO c.example\r\n')
    r.reply()
    r.send(b'MAIL FROM:<a@example.org>\r\n')
    r.reply()
    r.send(b'RCPT TO:<user1@example.com>\r\n')
    r.reply()
    r.send(b'DATA\r\n')
    r.reply()
    r.send(b'Subject: x\r\n\r\nbare\nLF\r\n.\r\n')
    ok(r.code() == '521 5.5.2', 'smtpd_forbid_bare_newline=yes: 521 5.5.2')
    ok(r.closed(), '... and the connection is closed')
    ok(queue_files(Q2) == [], '... and nothing is queued')
    r = Raw(PORT2)
    r.reply()
    r.send(b'BOGUS\r\n')
    t = time.time()
    first = r.code()
    r2 = Raw(PORT2)
    t2 = time.time()
    greet = r2.code()
    dt2 = time.time() - t2
    r.send(b'NOOP\r\n')
    second = r.code()
    dt = time.time() - t
    ok(first == '500 5.5.2' and second == '250 2.0.0' and dt >= 0.9,
       'smtpd_soft_error_limit: replies delayed by smtpd_error_sleep_time',
       (first, second, dt))
    ok(greet.startswith('220') and dt2 < 0.8,
       'the delay does not block other sessions', (greet, dt2))

    # -S with a regular file on stdin (sendmail -bs < file)
    inp = os.path.join(TMP, 'session.txt')
    with open(inp, 'wb') as f:
        f.write(b'HELO c.example\r\nMAIL FROM:<a@example.org>\r\n'
                b'RCPT TO:<user2@example.com>\r\nDATA\r\nSubject: file\r\n'
                b'\r\nfrom a file\r\n.\r\nQUIT\r\n')
    before = set(queue_files(Q1))
    with open(inp, 'rb') as f:
        p = subprocess.run([os.path.join(BIN, 'smtpd'), '-S', '-c', CONF,
                            '-o', 'queue_directory=' + Q1], stdin=f,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
    out = p.stdout.decode('latin-1')
    ok(p.returncode == 0 and '\r\n250 2.0.0 Ok: queued as ' in out
       and out.endswith('221 2.0.0 Bye\r\n'),
       'smtpd -S reads a session from a regular file', out + 
       p.stderr.decode('latin-1'))
    new = sorted(set(queue_files(Q1)) - before)
    if len(new) == 1:
        env, msg = read_queue(Q1, new[0])
        ok(b'\nMessage-ID: <' in msg and b'\nDate: ' in msg,
           '-S is a local submission: Message-ID: and Date: added', msg)
    else:
        ok(False, 'one message from the -S session', new)

    # Logs in Postfix's form
    time.sleep(0.3)
    log = open(LOG1, encoding='latin-1').read()
    ok(re.search(r'postfix/smtpd\[\d+\]: connect from unknown\[127\.0\.0\.1\]',
                 log), 'log: connect from', log[-2000:])
    ok(re.search(r': %s: client=unknown\[127\.0\.0\.1\]' % qid, log),
       'log: QUEUEID: client=')
    ok(re.search(r'disconnect from unknown\[127\.0\.0\.1\] ehlo=1 mail=1 '
                 r'rcpt=1/2 data=1 quit=1 commands=5/6', log),
       'log: disconnect with command counters')
    ok(re.search(r'disconnect from unknown\[127\.0\.0\.1\] ehlo=1 mail=2 '
                 r'rcpt=2 data=2 quit=1 commands=8\n', log),
       'log: the 250s the commit job sent are counted (data=2)')
    ok(re.search(r'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 550 '
                 r'5\.1\.1 <nobody@example\.com>', log), 'log: NOQUEUE reject')
    ok(re.search(r'timeout after CONNECT from unknown\[127\.0\.0\.1\]', log),
       'log: timeout after CONNECT')
    ok(re.search(r'improper command pipelining after HELO from', log),
       'log: improper command pipelining')
    for p, name in ((P1, 'main'), (P2, 'strict')):
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(10)
        except subprocess.TimeoutExpired:
            rc = 'hung'
        ok(rc == 0, 'smtpd (%s) exits 0 on SIGTERM' % name, rc)
    logs = open(LOG1, encoding='latin-1').read() + \
        open(LOG2, encoding='latin-1').read()
    # ASan/LSan: files in POSTERN_SAN_DIR (tests/lib/runtest); UBSan, and
    # everything without runtest: the daemons' stderr logs.
    ptap.sanitizer_ok(logs)
finally:
    cleanup()
    shutil.rmtree(TMP, ignore_errors=True)
sys.exit(ptap.done())
