#!/usr/bin/python3
"""raw_sink.py - an SMTP server that records the exact bytes it receives.

usage: raw_sink.py PORT OUTDIR [MODE [CERT KEY]]

Listens on 127.0.0.1:PORT until SIGTERM; one thread per connection.
Each session becomes OUTDIR/N.raw (written to a temporary name and
renamed when the session ends): every byte the client sent, commands
and message data alike, nothing rewritten, so a test sees bare CR, LF,
dot-stuffing, line folding and ESMTP parameters exactly as they went
over the wire; after STARTTLS (mode tls) the decrypted bytes, with a
line "--STARTTLS--" where the handshake happened.

EHLO offers PIPELINING, SIZE 10240000, 8BITMIME and DSN. A recipient
whose local part starts with "reject" gets
"550 5.1.1 <addr>: Recipient address rejected: no such user"; one starting with "defer" gets a 450 4.2.2 reply whose
text is over 100 characters; every
other command gets 250 (354 for DATA). DATA ends at CRLF.CRLF only.

MODE (default "ok"):
  greet421   the greeting is "421 4.3.2 sink busy", then close
  silent     no greeting at all: the client's smtp_helo_timeout ends it
  tls454     EHLO also offers STARTTLS; STARTTLS gets
             "454 4.7.0 TLS not available due to local problem"
  nodsn      EHLO does not offer DSN (a next hop without RFC 3461)
  no8bit     EHLO does not offer 8BITMIME (the client must convert
             8-bit MIME, RFC 6152 section 3)
  chunking   EHLO also offers CHUNKING (RFC 3030); "BDAT n [LAST]" is
             recorded with exactly the n octets that follow it and gets
             "250 2.0.0 Ok: n bytes" (LAST: "... queued as RAWn")
  nopipe     EHLO does not offer PIPELINING
  utf8       EHLO also offers SMTPUTF8
  tls        EHLO also offers STARTTLS (CERT and KEY: PEM files), and
             STARTTLS starts it; after it EHLO no longer offers STARTTLS
  reqtls     EHLO also offers REQUIRETLS, after STARTTLS only
  plain      (and "ok") none of these
  watchpipe  count the replies the sink was about to send while the
             client had already sent more (waiting up to 0.1 s for it):
             written to OUTDIR/N.early when the session ends. A client
             that honours a missing PIPELINING leaves it at 0; one that
             pipelines makes it non-zero. Input is read unbuffered.
Modes combine with commas: "nodsn,no8bit".
"""
import os
import re
import select
import signal
import socket
import ssl
import sys
import threading


def session(conn, out, n, mode, ctx):
    got = bytearray()
    modes = mode.split(',')
    watch = 'watchpipe' in modes
    sock = conn
    tls = False
    # unbuffered when watching: pending input is then in the socket only
    f = conn.makefile('rb', buffering=0 if watch else -1)
    early = [0, False]      # replies sent with input pending; greeted

    def readn(k):
        data = b''
        while len(data) < k:
            more = f.read(k - len(data))
            if not more:
                break
            data += more
        return data

    def say(text):
        if watch and early[1] and select.select([conn], [], [], 0.1)[0]:
            early[0] += 1
        early[1] = True
        sock.sendall(text.encode() + b'\r\n')

    try:
        if mode == 'silent':
            f.read()            # until the client gives up and closes
            return
        if mode == 'greet421':
            say('421 4.3.2 sink busy')
            return
        say('220 sink.test ESMTP raw_sink')
        while True:
            line = f.readline()
            if not line:
                return
            got += line
            verb = line[:4].upper()
            if verb in (b'EHLO', b'HELO'):
                ext = ['PIPELINING', 'SIZE 10240000', '8BITMIME', 'DSN']
                if 'utf8' in modes:
                    ext.append('SMTPUTF8')
                if 'tls454' in modes or ('tls' in modes and not tls):
                    ext.append('STARTTLS')
                if 'reqtls' in modes and tls:
                    ext.append('REQUIRETLS')
                if 'nodsn' in modes:
                    ext.remove('DSN')
                if 'no8bit' in modes:
                    ext.remove('8BITMIME')
                if 'chunking' in modes:
                    ext.append('CHUNKING')
                if 'nopipe' in modes:
                    ext.remove('PIPELINING')
                say('\r\n'.join(['250-sink.test'] +
                                ['250-' + e for e in ext[:-1]] +
                                ['250 ' + ext[-1]]))
            elif verb == b'STAR' and ctx is not None and not tls:
                say('220 2.0.0 Ready to start TLS')
                sock = ctx.wrap_socket(conn, server_side=True)
                f = sock.makefile('rb')
                tls = True
                got += b'--STARTTLS--\r\n'
            elif verb == b'STAR':
                say('454 4.7.0 TLS not available due to local problem')
            elif verb == b'RCPT':
                m = re.match(rb'RCPT TO:<([^>]*)>', line, re.I)
                addr = m.group(1).decode('latin-1') if m else ''
                if addr.lower().startswith('defer'):
                    say('450 4.2.2 Recipient address temporarily '
                        'rejected: the mailbox of this recipient is over '
                        'its quota, please try again later')
                elif addr.lower().startswith('reject'):
                    say('550 5.1.1 <%s>: Recipient address rejected: '
                        'no such user' % addr)
                else:
                    say('250 2.1.5 Ok')
            elif verb == b'DATA':
                say('354 End data with <CR><LF>.<CR><LF>')
                data = bytearray()
                while not (data.endswith(b'\r\n.\r\n') or data == b'.\r\n'):
                    chunk = f.readline()
                    if not chunk:
                        return
                    data += chunk
                got += data
                say('250 2.0.0 Ok: queued as RAW%d' % n)
            elif verb == b'BDAT':
                m = re.match(rb'BDAT (\d+)( LAST)?\r\n$', line, re.I)
                if not m:
                    say('501 5.5.4 Syntax: BDAT count [LAST]')
                    continue
                data = readn(int(m.group(1)))
                got += data
                if len(data) < int(m.group(1)):
                    return
                say('250 2.0.0 Ok: %d bytes%s' % (
                    len(data), ' queued as RAW%d' % n if m.group(2) else ''))
            elif verb == b'QUIT':
                say('221 2.0.0 Bye')
                return
            else:
                say('250 2.0.0 Ok')
    except OSError:
        pass
    finally:
        path = os.path.join(out, '%d.raw' % n)
        if watch:
            with open(os.path.join(out, '%d.early' % n), 'w') as w:
                w.write('%d\n' % early[0])
        with open(path + '.tmp', 'wb') as w:
            w.write(bytes(got))
        os.rename(path + '.tmp', path)
        try:
            sock.close()
        except OSError:
            pass


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    mode = sys.argv[3] if len(sys.argv) > 3 else 'ok'
    ctx = None
    if len(sys.argv) > 5:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', port))
    s.listen(16)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    print('listening', flush=True)
    n = 0
    while True:
        conn, _ = s.accept()
        conn.settimeout(120)
        n += 1
        threading.Thread(target=session, args=(conn, out, n, mode, ctx),
                         daemon=True).start()


if __name__ == '__main__':
    main()
