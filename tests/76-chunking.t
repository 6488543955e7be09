#!/bin/bash
# 76-chunking.t - CHUNKING (RFC 3030, issue 18) in and out, byte for byte.
# A full instance (postscreen, smtpd, cleanup, qmgr, virtual, smtp):
#  - EHLO offers CHUNKING (not BINARYMIME);
#  - a message sent in BDAT chunks of 1, 7 and 8192 octets and the rest
#    (LAST) reaches the Maildir byte-exact (CRLF as LF), with its lines
#    that start with "." and a chunk holding "\r\n.\r\n" unchanged (no
#    dot-stuffing, no end of data), and "with ESMTP" in Received:;
#  - BDAT 0 LAST ends a message; commands and chunks pipelined in one
#    write (two transactions and QUIT) get their replies in order;
#  - a chunk series over message_size_limit (300000) gets 552 5.3.4
#    once the announced octets are read, then 551 for the rest, and the
#    session's next transaction is accepted and delivered, the big one
#    is not;
#  - a 290000-octet chunk streams into the queue file before it ends;
#  - the smuggling sequences (<LF>.<LF>, <CR>.<CR>, <LF>.<CR><LF>, ...)
#    inside a BDAT chunk give exactly one message each, the "smuggled"
#    commands are text;
#  - outbound, one message (about 150 KB, a line folded at 998, a stray
#    CR, dot lines) to four next hops (tests/lib/raw_sink.py): one that
#    offers CHUNKING gets BDAT chunks (pipelined, last one LAST, no
#    DATA), one without PIPELINING gets them one at a time, one without
#    CHUNKING and one reached by a service with smtp_use_bdat = no get
#    DATA; the four carry the same octets, those the DATA one carries
#    after un-stuffing, and the body is what Postfix would send.
# Ports 29200-29299; about 25 s (most of it waiting for deliveries).
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

SMTP=$(free_port 29200 29219) SUB=$(free_port 29220 29239)
CHP=$(free_port 29240 29259) PLP=$(free_port 29260 29279)
NPP=$(free_port 29280 29299)
TOP=$(mktemp -d /tmp/postern-76.XXXXXX)
chmod 755 "$TOP"
DIR=$TOP/inst
trap 'instance_cleanup; rm -rf "$TOP"' EXIT

instance_create "$DIR" "$SMTP" "$SUB"
ok $? "instance created (ports $SMTP $SUB; next hops $CHP $PLP $NPP)"
E=$INSTANCE_CONF
printf '%s\n' "chunk.example smtp:[127.0.0.1]:$CHP" \
	"plain.example smtp:[127.0.0.1]:$PLP" \
	"nopipe.example smtp:[127.0.0.1]:$NPP" \
	"off.example nobdat:[127.0.0.1]:$CHP" > "$E/transport"
printf '%s\n' 'nobdat    unix  -       -       -       -       -       smtp' \
	'  -o smtp_use_bdat=no' >> "$E/master.cf"
instance_relay "smtp_tls_security_level=may" "message_size_limit=300000" \
	"virtual_mailbox_domains=example.com" \
	"virtual_mailbox_maps=inline:{user1@example.com=example.com/user1/}"
ok $? "postconf -e: transports to the raw sinks, a local mailbox"

instance_sinks raw_sink.py "$TOP" "raw sink" \
	chunk:$CHP:chunking,watchpipe plain:$PLP:ok \
	nopipe:$NPP:chunking,nopipe,watchpipe

instance_start
ok $? "master starts" || { done_testing; exit 1; }

cat > "$TOP/c.py" <<'PY'
"""The test's SMTP client: c.py PORT MAILDIR SCENARIO [SINKDIR...]."""
import glob
import os
import re
import sys
import time
sys.path.insert(0, os.path.join(os.environ['POSTERN_TOP'], 'tests', 'lib'))
import smtp_dialog  # noqa: E402

PORT, MAILDIR, SCEN = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Client:
    def __init__(self):
        self.s, self.f = smtp_dialog.connect(PORT, timeout=60)
        self.reply()
        self.send(b'EHLO client.test\r\n')
        self.ehlo = self.reply()

    def reply(self):
        return smtp_dialog.reply(self.f, eof='<eof>')

    def code(self):
        return self.reply()[:9]

    def send(self, data):
        self.s.sendall(data)

    def bdat(self, data, last=False):
        self.send(b'BDAT %d%s\r\n' % (len(data), b' LAST' if last else b'')
                  + data)
        return self.code()


def mails(tag):
    """Maildir files whose header block has Subject: TAG."""
    out = []
    for p in glob.glob(os.path.join(MAILDIR, 'new', '*')):
        m = open(p, 'rb').read()
        if (b'\nSubject: ' + tag + b'\n') in m.split(b'\n\n', 1)[0] + b'\n':
            out.append(m)
    return out


def wait_mail(tag, n=1):
    for _ in range(300):
        got = mails(tag)
        if len(got) >= n:
            return got
        time.sleep(0.1)
    return mails(tag)


def exact(tag, msg):
    got = wait_mail(tag)
    if len(got) != 1:
        return 'count=%d' % len(got)
    want = msg.replace(b'\r\n', b'\n')
    if not got[0].endswith(b'\n' + want):
        sys.stderr.write('got %r\nwant %r\n' % (got[0][-300:], want[-300:]))
        return 'differs'
    recv = re.search(rb'(?m)^Received: .*\n(\s.*\n)*', got[0])
    return 'exact' + (' esmtp' if recv and b'with ESMTP id'
                      in recv.group(0) else ' no-esmtp')


def body(tag, n):
    lines = [b'Subject: ' + tag, b'Message-ID: <%s@client.test>' % tag, b'',
             b'line one', b'.leading dot', b'..two dots', b'', b'.',
             b'after a lone dot line']
    i = 0
    while sum(len(x) + 2 for x in lines) < n:
        lines.append(b'%05d ' % i + b'x' * 64)
        i += 1
    lines += [b'.', b'.last dot line', b'end']
    return b'\r\n'.join(lines) + b'\r\n'


def main():
    out = []
    if SCEN == 'ehlo':
        c = Client()
        out.append('CHUNKING' if '250-CHUNKING' in c.ehlo
                   or '250 CHUNKING' in c.ehlo else 'no CHUNKING')
        out.append('BINARYMIME' if 'BINARYMIME' in c.ehlo else 'no BINARYMIME')
    elif SCEN == 'chunks':
        msg = body(b'chunks', 20000)
        assert b'\r\n.\r\n' in msg[8:8200] and b'\r\n.\r\n' in msg[8200:]
        c = Client()
        c.send(b'MAIL FROM:<a@client.test>\r\n')
        out.append(c.code())
        c.send(b'RCPT TO:<user1@example.com>\r\n')
        out.append(c.code())
        pos = 0
        for n in (1, 7, 8192):
            out.append(c.bdat(msg[pos:pos + n]))
            pos += n
        out.append(c.bdat(msg[pos:], last=True))
        out.append(exact(b'chunks', msg))
    elif SCEN == 'bdat0':
        msg = body(b'bdat0', 100)
        c = Client()
        c.send(b'MAIL FROM:<a@client.test>\r\nRCPT TO:<user1@example.com>'
               b'\r\n')
        out += [c.code(), c.code(), c.bdat(msg), c.bdat(b'', last=True)]
        out.append(exact(b'bdat0', msg))
    elif SCEN == 'pipelined':
        m1, m2 = body(b'pipe1', 3000), body(b'pipe2', 500)
        c = Client()
        c.send(b'MAIL FROM:<a@client.test>\r\nRCPT TO:<user1@example.com>'
               b'\r\nBDAT 1000\r\n' + m1[:1000] +
               b'BDAT %d LAST\r\n' % (len(m1) - 1000) + m1[1000:] +
               b'MAIL FROM:<b@client.test>\r\nRCPT TO:<user1@example.com>'
               b'\r\nBDAT %d LAST\r\n' % len(m2) + m2 + b'QUIT\r\n')
        out += [c.code() for _ in range(8)]
        out += [exact(b'pipe1', m1), exact(b'pipe2', m2)]
    elif SCEN == 'size':
        big = body(b'toobig', 200000)[:200000]
        c = Client()
        c.send(b'MAIL FROM:<a@client.test>\r\nRCPT TO:<user1@example.com>'
               b'\r\n')
        out += [c.code(), c.code(), c.bdat(big), c.bdat(big),
                c.bdat(b'0123456789', last=True)]
        msg = body(b'after552', 100)
        c.send(b'MAIL FROM:<a@client.test>\r\nRCPT TO:<user1@example.com>'
               b'\r\n')
        out += [c.code(), c.code(), c.bdat(msg, last=True)]
        out.append(exact(b'after552', msg))
        out.append('toobig=%d' % len(mails(b'toobig')))
    elif SCEN == 'stream':
        # A big chunk streams into the queue file as it arrives.
        msg = body(b'stream', 290000)
        inc = os.path.join(sys.argv[4], 'incoming')
        c = Client()
        c.send(b'MAIL FROM:<a@client.test>\r\nRCPT TO:<user1@example.com>'
               b'\r\n')
        out += [c.code(), c.code()]
        c.send(b'BDAT %d LAST\r\n' % len(msg) + msg[:250000])
        size = 0
        for _ in range(100):
            for n in os.listdir(inc):
                if n.startswith('.'):
                    try:
                        size = max(size, os.path.getsize(
                            os.path.join(inc, n)))
                    except OSError:
                        pass
            if size > 150000:
                break
            time.sleep(0.1)
        out.append("streamed" if size > 150000 else 'file=%d' % size)
        c.send(msg[250000:])
        out += [c.code(), exact(b'stream', msg)]
    elif SCEN == 'smuggle':
        seqs = [b'\n.\n', b'\n.\r\n', b'\r\n.\n', b'\r.\r\n', b'\r\n.\r',
                b'\r.\r', b'\r\n.\r\n', b'\r\n.\r\r\n']
        for i, seq in enumerate(seqs):
            c = Client()
            msg = (b'Subject: smuggle%d\r\n\r\nbefore' % i + seq +
                   b'MAIL FROM:<evil@client.test>\r\nRCPT TO:<user1@'
                   b'example.com>\r\nDATA\r\nSubject: smuggled%d\r\n\r\n'
                   b'evil\r\n.\r\n' % i)
            c.send(b'MAIL FROM:<a@client.test>\r\nRCPT TO:<user1@example'
                   b'.com>\r\nBDAT %d LAST\r\n' % len(msg) + msg +
                   b'QUIT\r\n')
            got = [c.code() for _ in range(4)]
            if got != ['250 2.1.0', '250 2.1.5', '250 2.0.0', '221 2.0.0']:
                out.append('seq %d: %s' % (i, got))
        for i in range(len(seqs)):
            n = len(wait_mail(b'smuggle%d' % i))
            if n != 1:
                out.append('seq %d: %d messages' % (i, n))
        time.sleep(1)
        out.append('smuggled=%d' % sum(len(mails(b'smuggled%d' % i))
                                       for i in range(len(seqs))))
    print('|'.join(out))


def wire(raw, rcpt):
    """(verbs, content) of the session that carried RCPT TO:<rcpt>."""
    verbs, content, pos = [], b'', 0
    while pos < len(raw):
        eol = raw.index(b'\r\n', pos)
        line = raw[pos:eol]
        pos = eol + 2
        m = re.match(rb'BDAT (\d+)( LAST)?$', line)
        if m:
            verbs.append('BDAT LAST' if m.group(2) else 'BDAT')
            content += raw[pos:pos + int(m.group(1))]
            pos += int(m.group(1))
        elif line == b'DATA':
            verbs.append('DATA')
            end = raw.index(b'\r\n.\r\n', pos)
            content = re.sub(rb'(?m)^\.', b'', raw[pos:end + 2])
            pos = end + 5
        else:
            verbs.append(line.split(b' ')[0].decode('latin-1').upper())
    return verbs, content


def fold(line, limit=998):   # Postfix smtp_text_out(): CRLF SP
    out, col = b'', 0
    for ch in line:
        if col >= limit:
            out += b'\r\n '
            col = 1
        out += bytes([ch])
        col += 1
    return out


def outbound():
    lines = [b'.dot line', b'..two', b'x\r.\ry', b'B' * 2500]
    lines += [b'%06d ' % i + b'y' * 72 for i in range(2000)]
    msg = b'Subject: outbound\r\n\r\n' + b''.join(
        (b'.' + x if x.startswith(b'.') else x) + b'\r\n' for x in lines)
    c = Client()
    c.send(b'MAIL FROM:<a@client.test>\r\n')
    got = [c.code()]
    for r in ('x@chunk.example', 'y@plain.example', 'z@nopipe.example',
              'w@off.example'):
        c.send(b'RCPT TO:<%s>\r\n' % r.encode())
        got.append(c.code())
    c.send(b'DATA\r\n')
    got.append(c.code())
    c.send(msg + b'.\r\n')
    got.append(c.code())
    print('|'.join(got))
    want = b''.join(fold(x.replace(b'\r', b' ')) + b'\r\n' for x in lines)
    sinks = sys.argv[4:]
    res = {}
    for r in ('x@chunk.example', 'y@plain.example', 'z@nopipe.example',
              'w@off.example'):
        raw = None
        for _ in range(600):
            for p in sorted(glob.glob(os.path.join(TOP_SINKS, '*', '*.raw'))):
                d = open(p, 'rb').read()
                if b'RCPT TO:<%s>' % r.encode() in d:
                    raw = d
                    early = p[:-4] + '.early'
                    if os.path.exists(early):
                        print('%s: early %s' % (r, open(early).read().strip()))
            if raw:
                break
            time.sleep(0.1)
        if raw is None:
            print('%s: nothing' % r)
            continue
        verbs, content = wire(raw, r)
        res[r] = content
        nb = verbs.count('BDAT') + verbs.count('BDAT LAST')
        kind = ('DATA' if verbs.count('DATA') == 1 and nb == 0 else
                'BDAT x%d LAST no-DATA' % nb if 'DATA' not in verbs
                and verbs.count('BDAT LAST') == 1 and verbs[-2:-1] ==
                ['BDAT LAST'] else ','.join(verbs))
        ok = content.split(b'\r\n\r\n', 1)[-1] == want
        print('%s: %s %s' % (r, kind, 'body-ok' if ok else 'body-differs'))
    same = len(set(res.values())) == 1 and len(res) == 4
    print('same octets' if same else 'octets differ')


if __name__ == '__main__':
    if SCEN == 'outbound':
        TOP_SINKS = sys.argv[4]
        outbound()
    else:
        main()
PY
c() { /usr/bin/python3 "$TOP/c.py" "$SMTP" "$INSTANCE_MAIL/example.com/user1" "$@"; }

is "$(c ehlo)" "CHUNKING|no BINARYMIME" "EHLO offers CHUNKING, not BINARYMIME"
is "$(c chunks)" "250 2.1.0|250 2.1.5|250 2.0.0|250 2.0.0|250 2.0.0|250 2.0.0|exact esmtp" \
	"BDAT 1, 7, 8192, rest LAST: 250 each; the Maildir has the message byte-exact (dot lines, a \\r\\n.\\r\\n chunk), Received: with ESMTP"
is "$(c bdat0)" "250 2.1.0|250 2.1.5|250 2.0.0|250 2.0.0|exact esmtp" \
	"BDAT n, then BDAT 0 LAST: delivered byte-exact"
is "$(c pipelined)" "250 2.1.0|250 2.1.5|250 2.0.0|250 2.0.0|250 2.1.0|250 2.1.5|250 2.0.0|221 2.0.0|exact esmtp|exact esmtp" \
	"two transactions of pipelined BDATs and QUIT in one write: replies in order, both delivered byte-exact"
is "$(c size)" "250 2.1.0|250 2.1.5|250 2.0.0|552 5.3.4|551 5.0.0|250 2.1.0|250 2.1.5|250 2.0.0|exact esmtp|toobig=0" \
	"over message_size_limit: 552 5.3.4 after the chunk, 551 for the rest, the next transaction is delivered, the big one is not"
is "$(c stream "$INSTANCE_QUEUE")" "250 2.1.0|250 2.1.5|streamed|250 2.0.0|exact esmtp" \
	"a 290000-octet chunk is in the queue file (incoming/.ID over 150000 octets after 250000 sent) before its last octets arrive, then delivered byte-exact"
is "$(c smuggle)" "smuggled=0" \
	"8 smuggling sequences inside BDAT chunks: one message each, nothing smuggled"
like "$(instance_log_grep 'BDAT request from .* exceeds message size limit')" \
	'warning: NOQUEUE: BDAT request from' "log: Postfix's warning for the chunk over the limit"

out=$(c outbound "$TOP")
is "${out%%$'\n'*}" '250 2.1.0|250 2.1.5|250 2.1.5|250 2.1.5|250 2.1.5|354 End d|250 2.0.0' \
	"the outbound message is accepted (DATA)"
like "$out" $'\nx@chunk.example: BDAT x[3-9] LAST no-DATA body-ok' \
	"next hop with CHUNKING and PIPELINING: pipelined BDAT chunks, one LAST, no DATA, body as Postfix would send it"
like "$out" $'\nz@nopipe.example: BDAT x[3-9] LAST no-DATA body-ok' \
	"next hop with CHUNKING without PIPELINING: BDAT chunks, no DATA"
like "$out" $'\nz@nopipe.example: early 0\n' \
	"... one at a time: the sink never had the next command or chunk before it replied"
like "$out" $'\nx@chunk.example: early [1-9]' \
	"with PIPELINING the chunks are pipelined: the sink had more input before it replied"
like "$out" $'\ny@plain.example: DATA body-ok' \
	"next hop without CHUNKING: DATA"
like "$out" $'\nw@off.example: DATA body-ok' \
	"smtp_use_bdat = no: DATA to the next hop that offers CHUNKING"
like "$out" $'\nsame octets$' "the four next hops got the same octets (BDAT = DATA un-stuffed)"
like "$(instance_log_grep 'to=<x@chunk.example>.*status=sent')" \
	'status=sent \(250 2\.0\.0 Ok: [0-9]+ bytes queued as RAW' \
	"log: x@chunk.example sent, the next hop's reply to BDAT LAST"

instance_stop
done_testing
