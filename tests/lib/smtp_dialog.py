"""smtp_dialog.py - the tests' SMTP client dialogue: connect, read a reply,
send a command; send one message and print the replies.

usage: smtp_dialog.py send PORT FROM-PARAMS RCPT-LINE... < message

    sys.path.insert(0, os.path.join(os.environ['POSTERN_TOP'], 'tests',
                                    'lib'))
    from smtp_dialog import connect, reply, last, cmd

connect(port, host='127.0.0.1', timeout=10) opens a TCP connection and
returns (sock, f), f being sock.makefile('rb').

wait_accepts(where, proc=None, seconds=5) waits until a connection to
where succeeds (a server the test started; where is a port on
127.0.0.1, int or digits, or the path of a UNIX-domain socket), trying
every 0.05 s, and returns True; False after seconds, or as soon as proc
(a Popen) has exited. Wait for this, not for a socket file: the file
exists from bind(), before the server listens (connection refused).

accepts(where) is one such try: True when the connect succeeds.
unix_listening(path) says whether a UNIX socket bound to path listens,
from /proc/net/unix, without a connection (for servers that count or
log each one).

wait_served(where, proc=None, seconds=5) is wait_accepts, then the
connection is half-closed and True comes once the server answers it
(any bytes, or its own close): its event loop runs, past what it does
between listen() and the loop (the privilege drop). For servers that
take an empty connection quietly (the delivery agents, qmgr) or greet.

reply(f, sep='\\r\\n', eof='', enc='latin-1') reads one reply from f (any
binary file: a socket's makefile('rb'), a pipe): the lines "ddd-text" up
to the final "ddd text" (a line shorter than 4 bytes ends it too). It
returns the lines, each without its CR LF, joined by sep, with white
space stripped at both ends; eof if the connection closed before any
line came (a reply cut short by the close is returned as far as it
came). sep=' | ' and eof='<eof>' give one printable line.

lines(f, enc='latin-1') is the same reply as a list of lines (empty at
EOF). last(f, enc='latin-1') is its final line only, stripped (the one
whose code counts; '' at EOF).

cmd(sock, f, command, sep='\\r\\n', eof='', enc='latin-1') sends command
(str, encoded with enc, or bytes) and CR LF, then returns reply(f, sep,
eof, enc).

session(port, commands, timeout=10) is one session to 127.0.0.1:PORT:
the greeting, then each command and its reply; it returns the replies
(the greeting's first) as reply() gives them and closes.

send(port, params, rcpts, body, timeout=60) is one session to
127.0.0.1:PORT: the greeting, EHLO client.test, "MAIL FROM:" + params,
"RCPT TO:" + each of rcpts, DATA, body as given (bytes, its own
dot-stuffing) and ".", QUIT; it prints every reply (reply()'s text:
a multi-line reply keeps its CR LF between lines). The command line
"send" does it with the message on stdin.

Raw(port, timeout=8) is a client that reads the socket itself (recv
into a buffer of its own, no file object), for the tests that pipeline,
cut sessions and wait for a close: send(data) sends bytes as they are;
reply() returns one reply's bytes, CR LF included, b'' at EOF, with
b'<timeout>' appended when nothing more came within timeout; code() is
the reply's first 9 characters ("250 2.0.0"), '<timeout>' or '<eof>';
closed() is true once the server closed the connection. The connect
itself waits up to 5 s.

Readers that are not these, each saying why where it is: 70-submission's
inject.py (a byte at a time, so that what follows the 220 to STARTTLS
stays in the socket for the TLS handshake), lib/crash_load.py (a reply
cut by a crash raises, even mid-line) and lib/stream_load.py (asyncio
streams).
"""
import socket
import time


def _open(where, timeout):
    """a connection to port where on 127.0.0.1 or UNIX socket where"""
    if isinstance(where, str) and not where.isdigit():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(where)
        except OSError:
            s.close()
            raise
        return s
    return socket.create_connection(('127.0.0.1', int(where)), timeout)


def _accepted(where, proc, end):
    """an open connection to where, None after end or once proc exited"""
    while True:
        try:
            return _open(where, 1)
        except OSError:
            if (proc is not None and proc.poll() is not None
                    or time.monotonic() > end):
                return None
            time.sleep(0.05)


def accepts(where):
    """where (port or UNIX socket path) accepts a connection now"""
    try:
        _open(where, 1).close()
        return True
    except OSError:
        return False


def unix_listening(path):
    """a UNIX socket bound to path listens (no connection made)"""
    with open('/proc/net/unix') as f:
        for line in f:
            v = line.split()
            # flags 00010000: __SO_ACCEPTCON, set by listen()
            if len(v) >= 8 and v[3] == '00010000' and v[7] == path:
                return True
    return False


def wait_accepts(where, proc=None, seconds=5):
    """True once where (port or UNIX socket path) accepts a connection"""
    s = _accepted(where, proc, time.monotonic() + seconds)
    if s is None:
        return False
    s.close()
    return True


def wait_served(where, proc=None, seconds=5):
    """True once the server at where answers or closes a connection"""
    end = time.monotonic() + seconds
    s = _accepted(where, proc, end)
    if s is None:
        return False
    try:
        s.shutdown(socket.SHUT_WR)
        s.settimeout(max(end - time.monotonic(), 0.1))
        s.recv(1)
        return True
    except ConnectionError:
        return True
    except OSError:
        return False
    finally:
        s.close()


def connect(port, host='127.0.0.1', timeout=10):
    """a connection to host:port and its binary file"""
    s = socket.create_connection((host, int(port)), timeout)
    return s, s.makefile('rb')


def lines(f, enc='latin-1'):
    """one reply's lines, CR LF removed; those that came before EOF"""
    out = []
    while True:
        line = f.readline()
        if not line:
            return out
        out.append(line.decode(enc, 'replace').rstrip('\r\n'))
        if len(line) < 4 or line[3:4] != b'-':
            return out


def reply(f, sep='\r\n', eof='', enc='latin-1'):
    """one reply as text: its lines joined by sep; eof if none came"""
    got = lines(f, enc)
    return sep.join(got).strip() if got else eof


def last(f, enc='latin-1'):
    """the final line of one reply ('' at EOF)"""
    got = lines(f, enc)
    return got[-1].strip() if got else ''


def cmd(s, f, c, sep='\r\n', eof='', enc='latin-1'):
    """send command c and CR LF; its reply as reply() gives it"""
    s.sendall((c if isinstance(c, bytes) else c.encode(enc)) + b'\r\n')
    return reply(f, sep, eof, enc)


class Raw:
    """A line-oriented raw SMTP client on the socket itself."""

    def __init__(self, port, timeout=8):
        self.s = socket.create_connection(('127.0.0.1', int(port)), 5)
        self.s.settimeout(timeout)
        self.buf = b''

    def send(self, data):
        self.s.sendall(data)

    def reply(self):
        """One complete (possibly multi-line) reply, or b'' at EOF."""
        out = b''
        while True:
            while b'\r\n' not in self.buf:
                try:
                    d = self.s.recv(65536)
                except socket.timeout:
                    return out + b'<timeout>'
                if not d:
                    return out
                self.buf += d
            line, self.buf = self.buf.split(b'\r\n', 1)
            out += line + b'\r\n'
            if len(line) < 4 or line[3:4] != b'-':
                return out

    def code(self):
        """code and enhanced code of one reply: '250 2.0.0'"""
        return self.reply()[:9].decode('latin-1').strip() or '<eof>'

    def closed(self):
        try:
            return self.s.recv(1) == b''
        except OSError:
            return True


def session(port, commands, timeout=10):
    """greeting, then each command; the replies"""
    s, f = connect(port, timeout=timeout)
    out = [reply(f)] + [cmd(s, f, c) for c in commands]
    s.close()
    return out


def send(port, params, rcpts, body, timeout=60):
    """one message in one session; prints each reply"""
    s, f = connect(port, timeout=timeout)
    print(reply(f))
    print(cmd(s, f, 'EHLO client.test'))
    print(cmd(s, f, 'MAIL FROM:' + params))
    for r in rcpts:
        print(cmd(s, f, 'RCPT TO:' + r))
    print(cmd(s, f, 'DATA'))
    s.sendall(body + b'.\r\n')
    print(reply(f))
    print(cmd(s, f, 'QUIT'))
    s.close()


if __name__ == '__main__':
    import sys
    if len(sys.argv) < 4 or sys.argv[1] != 'send':
        sys.exit('usage: smtp_dialog.py send PORT FROM-PARAMS RCPT-LINE...'
                 ' < message')
    send(int(sys.argv[2]), sys.argv[3], sys.argv[4:],
         sys.stdin.buffer.read())
