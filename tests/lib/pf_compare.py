#!/usr/bin/python3
"""pf_compare.py - what postern and Postfix wrote, side by side.

usage: pf_compare.py send PORT FROM-PARAMS RCPT-LINE... < message
       pf_compare.py wire SINKDIR HELO RCPT-ADDR
       pf_compare.py dsns MAILDIR
       pf_compare.py log MAILLOG
       pf_compare.py queue LISTING

Every command prints a normalized text on stdout; the test compares
postern's with Postfix's (is "$(pt ...)" "$(pf ...)") so that a diff
shows the difference, and says in a comment where they differ on
purpose.

send     one SMTP session to 127.0.0.1:PORT: EHLO, MAIL FROM:<...> with
         FROM-PARAMS (the text after "MAIL FROM:"), RCPT TO: each line,
         DATA, the message's bytes as given, "."; prints the replies.
wire     the session of SINKDIR/*.raw (tests/lib/raw_sink.py) whose EHLO
         names HELO and which has "RCPT TO:<RCPT-ADDR>": its EHLO line
         masked to "EHLO HELO", the MAIL and the RCPT lines (sorted:
         Postfix's qmgr sorts a message's recipients, postern keeps the
         client's order; the SIZE=
         value checked against the DATA octets and printed as "SIZE=ok"
         or "SIZE=N!=M"), then the DATA content (CRLF as \\r\\n, every
         other byte below 32 or above 126 as \\xNN) without its
         Received: headers (each MTA writes its own).
dsns     every delivery status notification in MAILDIR/new, sorted (an
         smtpd postmaster notice as described at notice()): its
         Subject, its From, then per recipient the RFC 3464 fields
         Final-Recipient, Original-Recipient, Action, Status,
         Remote-MTA and Diagnostic-Code ("queued as X" masked), and
         the content type of the returned part.
log      the delivery lines of MAILLOG (to=<...>), sorted: to=, orig_to=,
         relay=, dsn=, status= and the text in parentheses ("queued as"
         ids masked).
queue    a postqueue -p listing: every row must be exactly Postfix's
         long-queue-id layout ("%-17s %8ld %19.19s %s", showq_compat.c),
         else "BAD LAYOUT: <row>"; then queue id, size and arrival time
         are masked, rows sorted by their recipients, and the Kbytes
         total masked.
"""
import email
import email.policy
import glob
import os
import re
import sys

import smtp_dialog


def send(argv):
    smtp_dialog.send(int(argv[0]), argv[1], argv[2:],
                     sys.stdin.buffer.read())


def show(data):
    out = []
    for ch in data:
        if ch == 13:
            out.append('\\r')
        elif ch == 10:
            out.append('\\n\n')
        elif ch < 32 or ch > 126:
            out.append('\\x%02x' % ch)
        else:
            out.append(chr(ch))
    return ''.join(out)


def wire(argv):
    sinkdir, helo, rcpt = argv
    for path in sorted(glob.glob(os.path.join(sinkdir, '*.raw'))):
        raw = open(path, 'rb').read()
        if not re.search(rb'^EHLO ' + re.escape(helo.encode()) + rb'\r\n',
                         raw, re.M):
            continue
        if not re.search(rb'^RCPT TO:<' + re.escape(rcpt.encode()) + rb'>',
                         raw, re.M | re.I):
            continue
        head, _, rest = raw.partition(b'\r\nDATA\r\n')
        data = rest[:rest.find(b'\r\n.\r\n') + 2] if rest else b''
        unstuffed = re.sub(rb'(?m)^\.', b'', data)
        out, rcpts = [], []
        for line in head.split(b'\r\n'):
            if line.startswith(b'EHLO') or line.startswith(b'HELO'):
                out.append(line[:4].decode() + ' HELO')
            elif line.startswith(b'MAIL FROM:'):
                def size(m):
                    n = int(m.group(1))
                    return (b'SIZE=ok' if n == len(unstuffed) else
                            b'SIZE=%d!=%d' % (n, len(unstuffed)))
                out.append(re.sub(rb'SIZE=(\d+)', size, line)
                           .decode('latin-1'))
            elif line.startswith(b'RCPT TO:'):
                rcpts.append(line.decode('latin-1'))
        out.extend(sorted(rcpts))
        # drop the Received: headers (with their continuation lines)
        lines = data.split(b'\r\n')
        kept, skip, in_head = [], False, True
        for line in lines:
            if in_head and line == b'':
                in_head = False
            if in_head and line.lower().startswith(b'received:'):
                skip = True
                continue
            if skip and in_head and line[:1] in (b' ', b'\t'):
                continue
            skip = False
            kept.append(line)
        out.append('DATA')
        print('\n'.join(out))
        print(show(b'\r\n'.join(kept)))
        return
    print('no session from %s for %s' % (helo, rcpt))


def dsn_fields(part):
    text = part.get_payload(decode=False)
    if isinstance(text, list):      # parsed as a list of header blocks
        blocks = [str(b) for b in text]
    else:
        blocks = re.split(r'\r?\n\r?\n', str(text))
    out = []
    for b in blocks[1:]:            # blocks[0]: the per-message fields
        fields = {}
        for m in re.finditer(r'^([A-Za-z-]+):[ \t]*(.*(?:\r?\n[ \t].*)*)',
                             b, re.M):
            fields[m.group(1).lower()] = re.sub(r'\s+', ' ', m.group(2))
        if not fields:
            continue
        row = []
        for k in ('final-recipient', 'original-recipient', 'action',
                  'status', 'remote-mta', 'diagnostic-code'):
            v = fields.get(k, '-')
            v = re.sub(r'queued as \S+', 'queued as X', v)
            row.append('  %s: %s' % (k, v))
        out.append('\n'.join(row))
    return sorted(out)


def notice(msg):
    """an smtpd postmaster notice: Subject (mail_name and client name
    masked), From, To, the transcript: "In:" lines whole, "Out:" lines
    as the code of each reply's last line"""
    subj = re.sub(r'^\S+ SMTP server: errors from \S*\[',
                  'MAIL_NAME SMTP server: errors from NAME[',
                  str(msg.get('Subject')))
    text = ['notice: Subject: ' + subj, 'From: %s' % msg.get('From'),
            'To: %s' % msg.get('To')]
    body = msg.get_payload(decode=True).decode('latin-1')
    for line in body.split('\n'):
        if line.startswith(' In:  '):
            text.append(line)
        elif re.match(r' Out: \d{3} ', line):
            text.append(line[:9])
        elif line.strip() and not line.startswith(' Out: '):
            text.append(line)
    return '\n'.join(text)


def dsns(argv):
    out = []
    for path in glob.glob(os.path.join(argv[0], 'new', '*')):
        msg = email.message_from_binary_file(open(path, 'rb'),
                                              policy=email.policy.compat32)
        if msg.get_content_type() != 'multipart/report':
            out.append(notice(msg))
            continue
        text = ['Subject: %s' % msg.get('Subject'),
                'From: %s' % msg.get('From'),
                'report-type: %s' % msg.get_param('report-type')]
        parts = msg.get_payload()
        for p in parts:
            if p.get_content_type() == 'message/delivery-status':
                text.extend(dsn_fields(p))
        text.append('returned: %s' % (parts[2].get_content_type()
                                      if len(parts) > 2 else 'none'))
        out.append('\n'.join(text))
    print('\n--\n'.join(sorted(out)))


def log(argv):
    rows = []
    for line in open(argv[0], encoding='latin-1'):
        m = re.search(r': (to=<[^>]*>.*)$', line)
        if not m or ' status=' not in line:
            continue
        rest = m.group(1)
        fields = []
        for k in ('to', 'orig_to', 'relay', 'dsn', 'status'):
            f = re.search(r'(?:^|, )%s=(<[^>]*>|[^,( ]+)' % k, rest)
            fields.append('%s=%s' % (k, f.group(1) if f else '-'))
        why = re.search(r'status=\w+ \((.*)\)$', rest)
        text = why.group(1) if why else ''
        text = re.sub(r'queued as \S+\)?', 'queued as X', text)
        text = re.sub(r'maildir has overflowed', '', text)
        fields.append('(%s)' % text)
        rows.append(', '.join(fields))
    print('\n'.join(sorted(rows)))


ROW = re.compile(r'^([0-9A-Za-z]+)([*!]?) +(\d+) '
                 r'(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d) (.*)$')


def queue(argv):
    text = open(argv[0], encoding='latin-1').read()
    out, entries, cur = [], [], None
    for line in text.split('\n'):
        m = ROW.match(line)
        if m:
            qid, mark, size, date, sender = m.groups()
            want = '%-17s %8d %19.19s %s' % (qid + mark, int(size), date,
                                              sender)
            if want != line:
                out.append('BAD LAYOUT: ' + line)
            cur = ['QID%s SIZE DATE %s' % (mark, sender)]
            entries.append(cur)
        elif cur is not None and line.strip():
            cur.append(line)
        elif line.startswith('--') or line.startswith('-Queue'):
            out.append(re.sub(r'-- \d+ Kbytes', '-- N Kbytes', line))
        elif not line.strip():
            cur = None
    body = ['\n'.join(e) for e in sorted(entries, key=lambda e: e[1:])]
    print('\n'.join(out[:1] + body + out[1:]))


if __name__ == '__main__':
    {'send': send, 'wire': wire, 'dsns': dsns, 'log': log,
     'queue': queue}[sys.argv[1]](sys.argv[2:])
