#!/usr/bin/python3
"""smtp_sessions.py - hold many concurrent SMTP sessions (tests).

    smtp_sessions.py SRC_ADDR HOST PORT COUNT SECONDS < control

Opens COUNT connections from SRC_ADDR to HOST:PORT (one thread, epoll,
at most 200 connections between connect() and the end of their EHLO
reply at a time), reads each greeting, sends "EHLO client.example.org"
and reads the reply to its last line. Every session stays open. Then
it prints one line

    open N greeted G ehlo E pipelining P seconds S [first bad reply]

(G: greetings starting "220 "; E: EHLO replies ending in a "250 "
line; P: of those, how many offered PIPELINING, which smtpd does and
postscreen's dummy engine never does), flushes, and waits for a line
on stdin. Then it sends QUIT on every session, reads the replies and
prints

    quit Q closed C seconds S [first bad reply]

(Q: "221 " replies; C: sessions the server then closed), and exits.
The whole first phase gives up after SECONDS; a session that fails is
counted as not greeted / no EHLO and reported. Raises RLIMIT_NOFILE's
soft limit to the hard one and exits 2 if that is not enough.
Loopback only: HOST must be 127.0.0.0/8 or ::1.
"""
import errno
import resource
import select
import socket
import sys
import time

INFLIGHT = 200


class Session:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b''
        self.state = 'connect'    # connect, greet, ehlo, idle, quit, done
        self.greeting = b''
        self.reply = b''


def lines_done(buf):
    """True when buf ends with a last reply line ("NNN " + CRLF)."""
    if not buf.endswith(b'\r\n'):
        return False
    last = buf[:-2].split(b'\r\n')[-1]
    return len(last) >= 4 and last[3:4] == b' '


def main():
    src, host, port, count, secs = (sys.argv[1], sys.argv[2],
                                    int(sys.argv[3]), int(sys.argv[4]),
                                    float(sys.argv[5]))
    if not (host.startswith('127.') or host == '::1'):
        sys.exit('loopback only')
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < count + 100:
        print('RLIMIT_NOFILE hard limit %d < %d' % (hard, count + 100))
        sys.exit(2)

    ep = select.epoll()
    sess = {}
    started = 0
    inflight = 0
    bad = []
    t0 = time.time()
    end = t0 + secs

    def start_one():
        s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
        s.bind((src, 0))
        s.setblocking(False)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        x = Session(s)
        sess[s.fileno()] = x
        ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLIN)

    def fail(x, why):
        nonlocal inflight
        bad.append(why)
        x.state = 'done'
        inflight -= 1
        ep.unregister(x.sock.fileno())
        del sess[x.sock.fileno()]
        x.sock.close()

    while time.time() < end:
        while started < count and inflight < INFLIGHT:
            start_one()
            started += 1
            inflight += 1
        if inflight == 0:
            break
        for fd, ev in ep.poll(1.0):
            x = sess.get(fd)
            if x is None:
                continue
            if x.state == 'connect':
                err = x.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    fail(x, 'connect: ' + errno.errorcode.get(err, str(err)))
                    continue
                x.state = 'greet'
                ep.modify(fd, select.EPOLLIN)
                if not ev & select.EPOLLIN:
                    continue
            try:
                data = x.sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                fail(x, '%s: %s' % (x.state, e))
                continue
            if not data:
                fail(x, '%s: closed after %r' % (x.state, x.buf[-200:]))
                continue
            x.buf += data
            if not lines_done(x.buf):
                continue
            if x.state == 'greet':
                x.greeting, x.buf = x.buf, b''
                x.state = 'ehlo'
                x.sock.send(b'EHLO client.example.org\r\n')
            elif x.state == 'ehlo':
                x.reply, x.buf = x.buf, b''
                x.state = 'idle'
                inflight -= 1
    elapsed = time.time() - t0
    for x in list(sess.values()):
        if x.state not in ('idle', 'done'):
            bad.append('%s: timeout after %r' % (x.state, x.buf[-200:]))
    good = [x for x in sess.values() if x.state == 'idle']
    greeted = sum(1 for x in sess.values() if x.greeting.startswith(b'220 '))
    ehlo = [x for x in good if x.reply.split(b'\r\n')[-2].startswith(b'250 ')]
    pipe = sum(1 for x in ehlo if b'250-PIPELINING\r\n' in x.reply)
    odd = [x.greeting for x in sess.values()
           if x.greeting and not x.greeting.startswith(b'220 ')]
    print('open %d greeted %d ehlo %d pipelining %d seconds %.1f %s' %
          (len(good), greeted, len(ehlo), pipe, elapsed,
           (bad + [repr(o) for o in odd] + [''])[0]))
    sys.stdout.flush()

    sys.stdin.readline()

    t0 = time.time()
    for x in good:
        x.buf = b''
        x.state = 'quit'
        try:
            x.sock.send(b'QUIT\r\n')
        except OSError as e:
            x.state = 'done'
            bad.append('quit: %s' % e)
    quit_ok = closed = 0
    bad = []
    pending = {x.sock.fileno(): x for x in good if x.state == 'quit'}
    for fd in pending:
        ep.modify(fd, select.EPOLLIN)
    end = time.time() + secs
    while pending and time.time() < end:
        for fd, ev in ep.poll(1.0):
            x = pending.get(fd)
            if x is None:
                continue
            try:
                data = x.sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                data = b''
                bad.append('quit: %s' % e)
            if data:
                x.buf += data
                continue
            # EOF: the server closed the session
            closed += 1
            if x.buf.startswith(b'221 '):
                quit_ok += 1
            elif not bad:
                bad.append('quit reply %r' % x.buf[:200])
            del pending[fd]
            ep.unregister(fd)
            x.sock.close()
    print('quit %d closed %d seconds %.1f %s' %
          (quit_ok, closed, time.time() - t0, (bad + [''])[0]))
    sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
