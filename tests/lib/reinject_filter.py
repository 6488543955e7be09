#!/usr/bin/python3
"""reinject_filter.py - an after-queue content filter for tests (aiosmtpd).

usage: reinject_filter.py PORT REINJECT_PORT LOG

Postfix's FILTER_README "advanced" filter in a few lines: listens on
127.0.0.1:PORT until SIGTERM; each message it receives gets the header
"X-Filtered: yes" put first and is sent with the same envelope (sender,
every recipient) to 127.0.0.1:REINJECT_PORT (the smtpd with
-o content_filter=). Its reply to the MTA is the re-injection's: 250
only once the message is queued again, a 4xx when the re-injection
fails, so nothing is lost. Each message appends one line to LOG:
"<sender> rcpt1,rcpt2 -> <code>".
"""
import logging
import signal
import smtplib
import sys
import threading

from aiosmtpd.controller import Controller

logging.getLogger('mail.log').setLevel(logging.CRITICAL)


class Filter:
    def __init__(self, port, log):
        self.port = port
        self.log = log

    async def handle_DATA(self, server, session, envelope):
        data = b'X-Filtered: yes\r\n' + envelope.original_content
        try:
            with smtplib.SMTP('127.0.0.1', self.port,
                              local_hostname='filter.example',
                              timeout=30) as s:
                s.sendmail(envelope.mail_from, envelope.rcpt_tos, data)
            reply = '250 2.0.0 Ok: filtered and re-injected'
        except smtplib.SMTPResponseException as e:
            reply = '451 4.3.0 re-injection failed: %d' % e.smtp_code
        except (OSError, smtplib.SMTPException) as e:
            reply = '451 4.3.0 re-injection failed: %s' % e
        with open(self.log, 'a') as f:
            f.write('<%s> %s -> %s\n' % (envelope.mail_from,
                                        ','.join(envelope.rcpt_tos),
                                        reply[:3]))
        return reply


def main():
    port, rport, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    c = Controller(Filter(rport, log), hostname='127.0.0.1', port=port)
    c.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    done.wait()
    c.stop()


if __name__ == '__main__':
    main()
