#!/usr/bin/python3
"""smtp_send.py - send one message with smtplib and print the outcome.

usage: smtp_send.py SRC_ADDR HOST PORT HELO FROM TO[,TO...] FILE|-

Binds to SRC_ADDR (a loopback address) so that tests can be distinct
clients. Prints "accepted <reply text>" after a 250 to DATA, or
"refused <code> <text>" for the first refusal (connect, RCPT, DATA), one
line, and exits 0 either way; exits 2 on a connection failure. smtplib
dot-stuffs and sends CRLF line ends, as a real client does.
"""
import smtplib
import sys


def main():
    src, host, port, helo, sender, rcpts, path = sys.argv[1:8]
    data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    try:
        s = smtplib.SMTP(host, int(port), local_hostname=helo,
                         source_address=(src, 0), timeout=30)
    except (OSError, smtplib.SMTPException) as e:
        print("connect-failed %s" % e)
        return 2
    try:
        code, _ = s.ehlo()
        s.mail(sender)
        for r in rcpts.split(","):
            code, msg = s.rcpt(r)
            if code >= 300:
                print("refused %d %s" % (code, msg.decode("utf-8", "replace")))
                s.quit()
                return 0
        code, msg = s.data(data)
        print("accepted %d %s" % (code, msg.decode("utf-8", "replace")))
        s.quit()
    except smtplib.SMTPResponseException as e:
        print("refused %d %s" % (e.smtp_code,
                                 e.smtp_error.decode("utf-8", "replace")))
    except (OSError, smtplib.SMTPException) as e:
        print("error %s" % e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
