#!/usr/bin/python3
"""stream_load.py - N concurrent SMTP sessions, each sending one big
message slowly, while the memory of a process tree is sampled.

usage: stream_load.py SRC HOST PORT MASTER_PID N SIZE SECONDS RCPT OUT

Opens N sessions from address SRC (all connected and through EHLO before
any DATA starts), then each sends MAIL, RCPT RCPT, DATA and a message of
about SIZE bytes in 64 KB writes paced so that the transfer takes about
SECONDS, all sessions at once. Every 0.25 s it reads Pss and Rss from
/proc/PID/smaps_rollup for MASTER_PID and every process below it, and
keeps the sum over all of them and the largest single smtpd.

The body of session i is a deterministic run of lines (some starting
with '.', dot-stuffed on the wire), Subject "stream-load i". OUT (JSON)
gets: idle (sum of Pss before the first DATA, kB), peak (largest sum
during the transfer), peak_smtpd_pss / peak_smtpd_rss (largest single
smtpd), ok (sessions that got 250 after the dot), codes (a few other
replies), secs (transfer time), bodies {subject: sha256 of the body as
it must be stored: LF line endings, unstuffed} and sizes.
"""
import asyncio
import hashlib
import json
import os
import sys
import time


def tree(root):
    """root and every process below it."""
    kids = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(')') + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def memory(pid):
    """(Pss kB, Rss kB, comm) or None."""
    try:
        with open('/proc/%d/smaps_rollup' % pid) as f:
            text = f.read()
        with open('/proc/%d/comm' % pid) as f:
            comm = f.read().strip()
    except OSError:
        return None
    v = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ('Pss:', 'Rss:'):
            v[parts[0]] = int(parts[1])
    return v.get('Pss:', 0), v.get('Rss:', 0), comm


def sample(root):
    total, smtpd_pss, smtpd_rss = 0, 0, 0
    for p in tree(root):
        m = memory(p)
        if m is None:
            continue
        total += m[0]
        if m[2] == 'smtpd':
            smtpd_pss = max(smtpd_pss, m[0])
            smtpd_rss = max(smtpd_rss, m[1])
    return total, smtpd_pss, smtpd_rss


def body_block(i):
    """About 64 KB of lines for session i (a '.' line every 16)."""
    lines = []
    for n in range(800):
        t = '%06d line %04d of the stream-load body, session %d' % (i, n, i)
        if n % 16 == 5:
            t = '.' + t
        lines.append(t.ljust(78, 'x'))
    return lines


def message(i, size):
    """(wire bytes, sha256 of the stored body, stored body length)."""
    lines = body_block(i)
    block_lf = ''.join(t + '\n' for t in lines).encode()
    block_wire = ''.join(('.' + t if t.startswith('.') else t) + '\r\n'
                         for t in lines).encode()
    k = max(1, size // len(block_wire))
    head = ('From: load%d@example.net\r\nTo: rcpt\r\n'
            'Subject: stream-load %d\r\n\r\n' % (i, i)).encode()
    h = hashlib.sha256()
    for _ in range(k):
        h.update(block_lf)
    return head, block_wire, k, h.hexdigest(), k * len(block_lf)


# asyncio streams: lib/smtp_dialog.py's reader works on blocking files
async def reply(r, timeout=120):
    last = b''
    while True:
        line = await asyncio.wait_for(r.readline(), timeout)
        if not line:
            return last.decode('latin-1').strip() or '<eof>'
        last = line
        if line[3:4] != b'-':
            return line.decode('latin-1').strip()


async def connect(i, a):
    """A session through EHLO. At most 32 connections are being set up
    at once, and a greeting that does not come in 10 s is tried again:
    a burst of connects beyond the listen backlog leaves client sockets
    that look established to a server that never accepted them."""
    for attempt in range(5):
        async with a['sem']:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(
                    a['host'], a['port'], local_addr=(a['src'], 0),
                    limit=1 << 20), 10)
            except (OSError, asyncio.TimeoutError):
                continue
            try:
                if (await reply(r, 10)).startswith('220'):
                    w.write(b'EHLO load%d.example\r\n' % i)
                    if (await reply(r, 30)).startswith('250'):
                        return r, w
            except (OSError, asyncio.TimeoutError):
                pass
            w.close()
    raise RuntimeError('no session after 5 attempts')


async def session(i, a, go, res):
    try:
        r, w = await connect(i, a)
        a['ready'] += 1
        await go.wait()
        w.write(b'MAIL FROM:<load%d@example.net>\r\n' % i)
        w.write(b'RCPT TO:<%s>\r\n' % a['rcpt'].encode())
        w.write(b'DATA\r\n')
        codes = [await reply(r) for _ in range(3)]
        if not codes[2].startswith('354'):
            res[i] = ' / '.join(codes)
            w.close()
            return
        head, block, k, digest, n = message(i, a['size'])
        a['bodies']['stream-load %d' % i] = digest
        a['sizes']['stream-load %d' % i] = n
        w.write(head)
        pause = a['secs'] / k
        for _ in range(k):
            w.write(block)
            await w.drain()
            await asyncio.sleep(pause)
        w.write(b'.\r\n')
        res[i] = await reply(r)
        w.write(b'QUIT\r\n')
        await reply(r)
        w.close()
    except Exception as e:
        res[i] = 'error: %r' % e


async def sampler(a, stop):
    while not stop.is_set():
        t, sp, sr = sample(a['master'])
        a['peak'] = max(a['peak'], t)
        a['peak_smtpd_pss'] = max(a['peak_smtpd_pss'], sp)
        a['peak_smtpd_rss'] = max(a['peak_smtpd_rss'], sr)
        try:
            await asyncio.wait_for(stop.wait(), 0.25)
        except asyncio.TimeoutError:
            pass


async def main():
    src, host, port, master, n, size, secs, rcpt, out = sys.argv[1:10]
    a = {'src': src, 'host': host, 'port': int(port), 'master': int(master),
         'size': int(size), 'secs': float(secs), 'rcpt': rcpt, 'ready': 0,
         'peak': 0, 'peak_smtpd_pss': 0, 'peak_smtpd_rss': 0, 'bodies': {},
         'sizes': {}}
    n = int(n)
    a['sem'] = asyncio.Semaphore(32)
    go, stop = asyncio.Event(), asyncio.Event()
    res = {}
    tasks = [asyncio.create_task(session(i, a, go, res)) for i in range(n)]
    t0 = time.time()
    while a['ready'] + len(res) < n and time.time() - t0 < 120:
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    a['idle'] = sample(a['master'])[0]
    a['idle_smtpd_pss'] = sample(a['master'])[1]
    samp = asyncio.create_task(sampler(a, stop))
    t1 = time.time()
    go.set()
    await asyncio.gather(*tasks)
    a['secs'] = round(time.time() - t1, 1)
    stop.set()
    await samp
    a['ok'] = sum(1 for v in res.values() if v.startswith('250 '))
    a['codes'] = sorted(set(v for v in res.values()
                            if not v.startswith('250 ')))[:5]
    a['sessions'] = n
    del a['master'], a['sem']
    with open(out, 'w') as f:
        json.dump(a, f)


asyncio.run(main())
