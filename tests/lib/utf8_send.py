#!/usr/bin/python3
"""utf8_send.py - one SMTP session with raw UTF-8 commands, for the tests.

usage: utf8_send.py PORT MAIL-ARG RCPT-ARG [MESSAGE-FILE]

Connects to 127.0.0.1:PORT, sends EHLO, "MAIL FROM:" + MAIL-ARG and
"RCPT TO:" + RCPT-ARG as UTF-8 bytes, then, when the RCPT was accepted
and MESSAGE-FILE is given, DATA with that file's bytes (LF becomes CRLF,
dot-stuffed), and QUIT. Prints every reply's last line, one a line.
"""
import sys

from smtp_dialog import connect, last


def main():
    port, mail, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    msg = open(sys.argv[4], 'rb').read() if len(sys.argv) > 4 else None
    s, f = connect(port, timeout=60)

    def reply():
        text = last(f, 'utf-8')
        print(text, flush=True)
        return text

    def cmd(c):
        s.sendall(c.encode('utf-8', 'surrogateescape') + b'\r\n')
        return reply()

    reply()
    cmd('EHLO client.test')
    if cmd('MAIL FROM:' + mail)[:1] == '2' and \
            cmd('RCPT TO:' + rcpt)[:1] == '2' and msg is not None:
        if cmd('DATA')[:3] == '354':
            lines = msg.replace(b'\r\n', b'\n').split(b'\n')
            if lines and lines[-1] == b'':
                lines.pop()
            body = b''.join((b'.' + l if l.startswith(b'.') else l) + b'\r\n'
                            for l in lines)
            s.sendall(body + b'.\r\n')
            reply()
    cmd('QUIT')


if __name__ == '__main__':
    main()
