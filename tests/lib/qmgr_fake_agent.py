#!/usr/bin/python3
"""A fake delivery agent for qmgr tests, speaking lib/deliver.h.

usage: qmgr_fake_agent.py QUEUE_DIR LOG OUTDIR TRANSPORT...

Listens on QUEUE_DIR/private/<transport> for each transport. The local
part of a recipient decides the answer: defer* -> deferred 4.4.1,
bounce* -> bounced 5.1.1, hang* -> no answer while OUTDIR/hang exists,
slow* -> answer after 0.5 s, garble* -> a malformed answer, eof* ->
no answer (connection closed), once* -> delivered with exactly_once=1
(as virtual's Maildir answers: a recipient already delivered is not
delivered again, unless the request says retry=0, which qmgr must only
say when no agent had it: such a request is appended to
OUTDIR/violations and delivered again; oncew* waits 0.1 s between
delivering and answering, a window for a kill; oncep* waits while
OUTDIR/pause exists),
anything else -> delivered. Each request's rcpt.N.retry values are
appended to OUTDIR/retry.log as "transport queue_id index retry"
("-" when absent). Each delivered recipient is appended to LOG as
"transport queue_id index address <sender>", and the message bytes are copied to
OUTDIR/<queue_id>.msg (so a test can read a DSN qmgr queued).
OUTDIR/max.<transport>.<nexthop> holds the most requests seen at once
for that destination, OUTDIR/sizes.<transport>.<nexthop> the recipient
count of each request; OUTDIR/max.all.<transport> the most requests at
once over all destinations of the transport.
"""
import os
import socket
import sys
import threading
import time


def dec(v):
    out, i = bytearray(), 0
    while i < len(v):
        if v[i] == '%' and i + 2 < len(v) + 1:
            out.append(int(v[i + 1:i + 3], 16))
            i += 3
        else:
            out += v[i].encode('latin-1')
            i += 1
    return out.decode('latin-1')


def enc(v):
    return (v.replace('%', '%25').replace('\r', '%0D').replace('\n', '%0A')
            .replace('\0', '%00'))


def message_bytes(path):
    data = open(path, 'rb').read()
    pos = 0
    while True:
        nl = data.index(b'\n', pos)
        line = data[pos:nl]
        if line.startswith(b'M'):
            n = int(line[1:])
            return data[nl + 1:nl + 1 + n]
        pos = nl + 1


LOCK = threading.Lock()
INFLIGHT = {}
ONCE = set()    # (queue_id, index) delivered by once*


def track(outdir, transport, delta, nrcpt=0):
    """max concurrent requests and request sizes, for the scheduler tests"""
    with LOCK:
        cur = INFLIGHT.get(transport, 0) + delta
        INFLIGHT[transport] = cur
        path = os.path.join(outdir, 'max.' + transport)
        old = int(open(path).read()) if os.path.exists(path) else 0
        if cur > old:
            open(path, 'w').write('%d' % cur)
        if nrcpt:
            with open(os.path.join(outdir, 'sizes.' + transport), 'a') as f:
                f.write('%d\n' % nrcpt)


def serve(conn, qdir, log, outdir, transport):
    key = []
    try:
        serve1(conn, qdir, log, outdir, transport, key)
    finally:
        if len(key) == 1:
            track(outdir, key[0], -1)
            track(outdir, 'all.' + transport, -1)


def serve1(conn, qdir, log, outdir, transport, key):
    buf = b''
    while b'\n\n' not in buf and not buf.startswith(b'\n'):
        chunk = conn.recv(65536)
        if not chunk:
            conn.close()
            return
        buf += chunk
    attrs = {}
    for line in buf.split(b'\n\n')[0].decode('latin-1').split('\n'):
        k, _, v = line.partition('=')
        attrs[k] = dec(v)
    n = int(attrs['rcpt_count'])
    key.append(transport + '.' + attrs['nexthop'])
    track(outdir, key[0], 1, n)
    track(outdir, 'all.' + transport, 1)
    qid = attrs['queue_id']
    path = os.path.join(qdir, attrs['queue_name'], qid)
    out = ['version=1', 'rcpt_count=%d' % n]
    first = attrs['rcpt.0.addr'].split('@')[0] if n else ''
    if first.startswith('garble'):
        # a broken agent: a list with the wrong count, then garbage
        track(outdir, key[0], -1)
        track(outdir, 'all.' + transport, -1)
        key.append(None)
        conn.sendall(b'version=1\nrcpt_count=99\n\n')
        conn.close()
        return
    if first.startswith('eof'):
        track(outdir, key[0], -1)
        track(outdir, 'all.' + transport, -1)
        key.append(None)
        conn.close()
        return
    with open(os.path.join(outdir, 'retry.log'), 'a') as f:
        for i in range(n):
            f.write('%s %s %s %s\n' % (transport, qid,
                    attrs['rcpt.%d.index' % i],
                    attrs.get('rcpt.%d.retry' % i, '-')))
    for i in range(n):
        addr = attrs['rcpt.%d.addr' % i]
        local = addr.split('@')[0]
        if local.startswith('slow'):
            time.sleep(0.5)
        if local.startswith('hang'):
            while os.path.exists(os.path.join(outdir, 'hang')):
                time.sleep(0.1)
            conn.setblocking(False)
            try:
                if conn.recv(1, socket.MSG_PEEK) == b'':
                    conn.close()    # qmgr is gone: deliver nothing
                    return
            except BlockingIOError:
                pass
            conn.setblocking(True)
        if local.startswith('defer'):
            act, st, why = 'deferred', '4.4.1', 'connect to x: Connection refused'
        elif local.startswith('bounce'):
            act, st, why = 'bounced', '5.1.1', 'host x said: 550 5.1.1 no such user'
        else:
            act, st, why = 'delivered', '2.0.0', 'delivered via fake'
            key1 = (qid, attrs['rcpt.%d.index' % i])
            if local.startswith('once'):
                with LOCK:
                    again = key1 in ONCE
                    ONCE.add(key1)
                retry = attrs.get('rcpt.%d.retry' % i, '1')
                if again and retry == '0':
                    with open(os.path.join(outdir, 'violations'), 'a') as f:
                        f.write('%s %s retry=0 but delivered before\n' % key1)
                elif again:
                    out += ['rcpt.%d.action=delivered' % i,
                            'rcpt.%d.status=2.0.0' % i,
                            'rcpt.%d.reason=already there' % i,
                            'rcpt.%d.relay=fake' % i,
                            'rcpt.%d.exactly_once=1' % i]
                    continue
            with open(log, 'a') as f:
                f.write('%s %s %s %s <%s>\n' % (transport, qid,
                        attrs['rcpt.%d.index' % i], addr, attrs['sender']))
            with open(os.path.join(outdir, qid + '.msg'), 'wb') as f:
                f.write(message_bytes(path))
        out += ['rcpt.%d.action=%s' % (i, act), 'rcpt.%d.status=%s' % (i, st),
                'rcpt.%d.reason=%s' % (i, enc(why)),
                'rcpt.%d.relay=fake' % i]
        if local.startswith('once') and act == 'delivered':
            out.append('rcpt.%d.exactly_once=1' % i)
    if first.startswith('oncew'):
        time.sleep(0.1)     # delivered, not yet answered
    if first.startswith('oncep'):
        while os.path.exists(os.path.join(outdir, 'pause')):
            time.sleep(0.05)
    # the request ends here for qmgr: count it out before answering
    track(outdir, key[0], -1)
    track(outdir, 'all.' + transport, -1)
    key.append(None)
    try:
        conn.sendall(('\n'.join(out) + '\n\n').encode('latin-1'))
    except OSError:
        pass
    conn.close()


def listen(qdir, log, outdir, transport):
    path = os.path.join(qdir, 'private', transport)
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    os.chmod(path, 0o666)
    s.listen(64)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, qdir, log, outdir, transport),
                         daemon=True).start()


def main():
    qdir, log, outdir = sys.argv[1:4]
    for t in sys.argv[4:]:
        threading.Thread(target=listen, args=(qdir, log, outdir, t),
                         daemon=True).start()
    while True:
        time.sleep(3600)


if __name__ == '__main__':
    main()
