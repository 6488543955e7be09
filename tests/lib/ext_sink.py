#!/usr/bin/python3
"""ext_sink.py - a byte-recording SMTP server with SMTPUTF8, STARTTLS and
REQUIRETLS, for tests/77-smtputf8.t and tests/78-requiretls.t.

usage: ext_sink.py PORT OUTDIR MODES [CERT KEY]

Listens on 127.0.0.1:PORT until SIGTERM; one thread per connection.
Each session becomes OUTDIR/N.raw (a temporary name renamed when the
session ends): every byte the client sent, commands and message data,
after STARTTLS the decrypted bytes, with a line "--STARTTLS--" where
the handshake happened.

EHLO offers PIPELINING, SIZE 10240000, 8BITMIME, DSN and, per MODES (a
comma-separated list; "plain" for none of them):
  utf8       SMTPUTF8
  tls        STARTTLS (CERT and KEY: PEM files); after it EHLO no longer
             offers STARTTLS
  reqtls     REQUIRETLS, in the EHLO reply after STARTTLS only
Every other command gets 250 (354 for DATA, 221 for QUIT). DATA ends at
CRLF.CRLF only.
"""
import os
import signal
import socket
import ssl
import sys
import threading


def session(conn, out, n, modes, ctx):
    got = bytearray()
    sock = conn
    tls = False

    def say(text):
        sock.sendall(text.encode() + b'\r\n')

    try:
        f = sock.makefile('rb')
        say('220 sink.test ESMTP ext_sink')
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
                if 'tls' in modes and not tls:
                    ext.append('STARTTLS')
                if 'reqtls' in modes and tls:
                    ext.append('REQUIRETLS')
                say('\r\n'.join(['250-sink.test'] +
                                ['250-' + e for e in ext[:-1]] +
                                ['250 ' + ext[-1]]))
            elif verb == b'STAR' and ctx is not None and not tls:
                say('220 2.0.0 Ready to start TLS')
                sock = ctx.wrap_socket(conn, server_side=True)
                f = sock.makefile('rb')
                tls = True
                got += b'--STARTTLS--\r\n'
            elif verb == b'DATA':
                say('354 End data with <CR><LF>.<CR><LF>')
                data = bytearray()
                while not (data.endswith(b'\r\n.\r\n') or data == b'.\r\n'):
                    chunk = f.readline()
                    if not chunk:
                        return
                    data += chunk
                got += data
                say('250 2.0.0 Ok: queued as EXT%d' % n)
            elif verb == b'QUIT':
                say('221 2.0.0 Bye')
                return
            else:
                say('250 2.0.0 Ok')
    except (OSError, ssl.SSLError):
        pass
    finally:
        path = os.path.join(out, '%d.raw' % n)
        with open(path + '.tmp', 'wb') as w:
            w.write(bytes(got))
        os.rename(path + '.tmp', path)
        try:
            sock.close()
        except OSError:
            pass


def main():
    port, out, modes = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(',')
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
        threading.Thread(target=session, args=(conn, out, n, modes, ctx),
                         daemon=True).start()


if __name__ == '__main__':
    main()
