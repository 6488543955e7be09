#!/usr/bin/python3
"""verify_sink.py - an SMTP destination for address verification tests.

usage: verify_sink.py PORT OUTDIR

An aiosmtpd server on 127.0.0.1:PORT until SIGTERM. RCPT TO an address
whose local part starts with "good" gets "250 2.1.5 Ok", any other
"550 5.1.1 <addr>: Recipient address rejected: User unknown in virtual
mailbox table" (Postfix's words at the far end). Every command is
appended to OUTDIR/commands ("MAIL <from>", "RCPT <to> 250|550",
"DATA", "RSET", "QUIT"), and each message that gets through DATA
becomes OUTDIR/N.eml (the envelope recipients, an empty line, the
bytes), so a test can tell probes (RCPT, never DATA) from mail.
"""
import logging
import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller

logging.getLogger('mail.log').setLevel(logging.CRITICAL)


class Sink:
    def __init__(self, out):
        self.out = out
        self.count = 0
        self.lock = threading.Lock()

    def note(self, line):
        with self.lock:
            with open(os.path.join(self.out, 'commands'), 'a') as f:
                f.write(line + '\n')

    async def handle_MAIL(self, server, session, envelope, address, opts):
        self.note('MAIL <%s>' % address)
        envelope.mail_from = address
        envelope.mail_options.extend(opts)
        return '250 2.1.0 Ok'

    async def handle_RCPT(self, server, session, envelope, address, opts):
        if address.lower().startswith('good'):
            self.note('RCPT <%s> 250' % address)
            envelope.rcpt_tos.append(address)
            return '250 2.1.5 Ok'
        self.note('RCPT <%s> 550' % address)
        return ('550 5.1.1 <%s>: Recipient address rejected: User unknown '
                'in virtual mailbox table' % address)

    async def handle_DATA(self, server, session, envelope):
        self.note('DATA')
        with self.lock:
            self.count += 1
            n = self.count
        head = ''.join('X-Sink-To: <%s>\r\n' % r for r in envelope.rcpt_tos)
        path = os.path.join(self.out, '%d.eml' % n)
        with open(path + '.tmp', 'wb') as f:
            f.write(head.encode() + b'\r\n' + envelope.original_content)
        os.rename(path + '.tmp', path)
        return '250 2.0.0 Ok: queued as SINK%d' % n

    async def handle_RSET(self, server, session, envelope):
        self.note('RSET')
        return '250 2.0.0 Ok'

    async def handle_QUIT(self, server, session, envelope):
        self.note('QUIT')
        return '221 2.0.0 Bye'


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    ctl = Controller(Sink(out), hostname='127.0.0.1', port=port)
    ctl.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    done.wait()
    ctl.stop()


if __name__ == '__main__':
    main()
