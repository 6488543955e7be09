#!/usr/bin/python3
"""crash_load.py - an SMTP client that records what happened to each message.

    crash_load.py stream PORT OUT STOPFILE THREADS MAX PREFIX
    crash_load.py probe PORT OUT ID

stream: THREADS sessions in parallel, one message per connection (EHLO,
MAIL, two RCPTs, DATA sent in four pieces, QUIT) to 127.0.0.1:PORT,
until STOPFILE exists or MAX messages were tried. Message i carries
"Message-ID: <crash.PREFIXi@61>" and goes to a@example.org and
b@example.org. probe: one message ID whose DATA stops half-way: it
prints "in-data" on stdout once half of the body was sent, then waits
(up to 30 s) for the server to close the connection and records the
outcome; the final dot is never sent.

Each attempt appends one line to OUT:
    ID START END OUTCOME STAGE DETAIL...
START and END are time.time() seconds; OUTCOME is
    acked    a 250 after the final dot (what a client takes as accepted)
    refused  the server said no: a 4xx/5xx reply at STAGE, or the
             connection was refused (STAGE connect)
    lost     the connection broke (EOF, reset, timeout) at STAGE without
             a reply: before the final dot ("body" or earlier) the
             message was incomplete; at "dot" the client cannot know
STAGE is the step that failed: connect greeting ehlo mail rcpt data body
dot. DETAIL is the reply or the error. A stream session waits 0.05 s
before its next message, 0.1 s after a failure.
"""
import os
import socket
import sys
import threading
import time

TIMEOUT = 15


class Broken(Exception):
    pass


class Refused(Exception):
    pass


def reply(f):
    """Read one (multi-line) reply: (code, text); Broken on EOF.

    Not lib/smtp_dialog.py's reply(): a reply cut by the crash, even in
    the middle of a line, must raise Broken, never pass for a reply."""
    text = []
    while True:
        line = f.readline()
        if not line.endswith(b'\n'):
            raise Broken('connection closed')
        text.append(line.decode('latin-1').rstrip('\r\n'))
        if len(line) < 4 or line[3:4] != b'-':
            return int(line[:3]) if line[:3].isdigit() else 0, text[-1]


def message(mid):
    head = ('From: crash@example.net\r\nTo: a@example.org, b@example.org\r\n'
            'Subject: crash %s\r\nMessage-ID: <crash.%s@61>\r\n\r\n'
            % (mid, mid)).encode()
    body = b''.join(b'line %04d of message %s\r\n' % (i, mid.encode())
                    for i in range(80))
    return head + body


def one(port, mid, probe=False):
    """Send one message; return (outcome, stage, detail)."""
    stage = 'connect'
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
    except ConnectionRefusedError as e:
        return 'refused', stage, 'connect: %s' % e.strerror
    except OSError as e:
        return 'lost', stage, 'connect: %s' % e
    f = s.makefile('rb')
    try:
        def step(name, line, want):
            nonlocal stage
            stage = name
            if line is not None:
                s.sendall(line)
            code, text = reply(f)
            if code != want:
                raise Refused(text)
        step('greeting', None, 220)
        step('ehlo', b'EHLO client.example.net\r\n', 250)
        step('mail', b'MAIL FROM:<crash@example.net>\r\n', 250)
        step('rcpt', b'RCPT TO:<a@example.org>\r\n', 250)
        step('rcpt', b'RCPT TO:<b@example.org>\r\n', 250)
        step('data', b'DATA\r\n', 354)
        stage = 'body'
        msg = message(mid)
        n = len(msg) // 4 + 1
        for i in range(4):
            s.sendall(msg[i * n:(i + 1) * n])
            if probe and i == 1:
                print('in-data', flush=True)
                s.settimeout(30)
                # Nothing more is sent: wait for the server's end.
                if s.recv(4096) == b'':
                    raise Broken('connection closed')
                raise Refused('unexpected data in DATA')
            time.sleep(0.002)
        step('dot', b'.\r\n', 250)
        try:
            s.sendall(b'QUIT\r\n')
            reply(f)
        except (OSError, Broken):
            pass    # after the 250 the message is the server's
        return 'acked', 'dot', ''
    except Refused as e:
        return 'refused', stage, str(e)
    except (OSError, Broken) as e:
        return 'lost', stage, '%s: %s' % (type(e).__name__, e)
    finally:
        f.close()
        s.close()


def record(out, lock, mid, t0, res):
    line = '%s %.3f %.3f %s %s %s\n' % (mid, t0, time.time(), res[0], res[1],
                                        res[2].replace('\n', ' '))
    with lock:
        out.write(line)
        out.flush()


def stream(port, path, stopfile, threads, limit, prefix):
    lock = threading.Lock()
    counter = [0]
    out = open(path, 'a')

    def worker():
        while not os.path.exists(stopfile):
            with lock:
                if counter[0] >= limit:
                    return
                counter[0] += 1
                mid = '%s%d' % (prefix, counter[0])
            t0 = time.time()
            res = one(port, mid)
            record(out, lock, mid, t0, res)
            time.sleep(0.05 if res[0] == 'acked' else 0.1)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.close()
    return 0


def main(argv):
    if len(argv) == 8 and argv[1] == 'stream':
        return stream(int(argv[2]), argv[3], argv[4], int(argv[5]),
                      int(argv[6]), argv[7])
    if len(argv) == 5 and argv[1] == 'probe':
        t0 = time.time()
        res = one(int(argv[2]), argv[4], probe=True)
        with open(argv[3], 'a') as out:
            record(out, threading.Lock(), argv[4], t0, res)
        print('%s %s %s' % res, flush=True)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
