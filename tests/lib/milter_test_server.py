#!/usr/bin/python3
"""milter_test_server.py - a small milter (Sendmail milter protocol 6).

SYNOPSIS
    milter_test_server.py --port PORT --log FILE [--reject STAGE]
        [--tempfail STAGE] [--replycode TEXT] [--discard STAGE]
        [--add-header 'Name: value'] [--insert-header 'Name: value']
        [--delete-header NAME] [--change-header 'Name: value']
        [--add-rcpt ADDR] [--del-rcpt ADDR] [--replace-body TEXT]
        [--quarantine REASON] [--chgfrom ADDR] [--down-after STAGE]

Listens on 127.0.0.1:PORT, one thread per connection, prints "ready".
Appends one JSON line per event to FILE: {"conn": N, "cmd": "M",
"args": [...], "macros": {...}} (macros: those sent just before it).
STAGE is connect, helo, mail, rcpt, data, header, eoh, body or eom.
--reject answers SMFIR_REJECT at STAGE (or, with --replycode, the
SMFIR_REPLYCODE TEXT); --tempfail SMFIR_TEMPFAIL; --discard
SMFIR_DISCARD. At eom the modifications are sent before the verdict.
--down-after closes the connection instead of answering STAGE.
A recipient whose local part is "rcptreject" is refused with
REPLYCODE "550 5.7.1 milter says no to <addr>".
"""
import argparse
import json
import socket
import socketserver
import struct
import threading

lock = threading.Lock()
count = [0]
STAGES = {b"C": "connect", b"H": "helo", b"M": "mail", b"R": "rcpt",
          b"T": "data", b"L": "header", b"N": "eoh", b"B": "body",
          b"E": "eom"}


def pkt(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def z(s):
    return s.encode() + b"\0"


class Handler(socketserver.BaseRequestHandler):
    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def log(self, rec):
        with lock, open(self.server.opts.log, "a") as f:
            f.write(json.dumps(rec) + "\n")

    def handle(self):
        o = self.server.opts
        with lock:
            count[0] += 1
            conn = count[0]
        macros = {}
        try:
            while True:
                (n,) = struct.unpack(">I", self.recv_exact(4))
                body = self.recv_exact(n)
                cmd, data = body[:1], body[1:]
                if cmd == b"O":
                    ver, act, proto = struct.unpack(">III", data[:12])
                    self.log({"conn": conn, "cmd": "O",
                              "args": [ver, act, proto]})
                    # all actions offered; every step, replies to all
                    self.request.sendall(pkt(b"O", struct.pack(
                        ">III", 6, act, 0)))
                    continue
                if cmd == b"D":
                    parts = data[1:].split(b"\0")
                    macros = {parts[i].decode(): parts[i + 1].decode()
                              for i in range(0, len(parts) - 1, 2)}
                    continue
                if cmd in (b"Q",):
                    self.log({"conn": conn, "cmd": "Q"})
                    return
                if cmd == b"A":
                    self.log({"conn": conn, "cmd": "A"})
                    macros = {}
                    continue
                args = [a.decode("latin-1") for a in data.split(b"\0")]
                self.log({"conn": conn, "cmd": cmd.decode(), "args": args,
                          "macros": macros})
                macros = {}
                stage = STAGES.get(cmd, "?")
                if o.down_after == stage:
                    return
                if stage == "rcpt" and args[0].startswith("<rcptreject@"):
                    self.request.sendall(pkt(b"y", z(
                        "550 5.7.1 milter says no to %s" % args[0])))
                    continue
                if stage == "eom":
                    self.modifications()
                self.request.sendall(self.verdict(stage))
        except (EOFError, ConnectionError):
            return

    def verdict(self, stage):
        o = self.server.opts
        if o.reject == stage:
            if o.replycode:
                return pkt(b"y", z(o.replycode))
            return pkt(b"r")
        if o.tempfail == stage:
            return pkt(b"t")
        if o.discard == stage:
            return pkt(b"d")
        return pkt(b"c")

    def modifications(self):
        o = self.server.opts
        out = b""
        for h in o.add_header:
            name, value = h.split(":", 1)
            out += pkt(b"h", z(name) + z(value.strip()))
        for h in o.insert_header:
            name, value = h.split(":", 1)
            out += pkt(b"i", struct.pack(">I", 0) + z(name) +
                       z(value.strip()))
        for h in o.change_header:
            name, value = h.split(":", 1)
            out += pkt(b"m", struct.pack(">I", 1) + z(name) +
                       z(value.strip()))
        for name in o.delete_header:
            out += pkt(b"m", struct.pack(">I", 1) + z(name) + z(""))
        for a in o.add_rcpt:
            out += pkt(b"+", z("<%s>" % a))
        for a in o.del_rcpt:
            out += pkt(b"-", z("<%s>" % a))
        if o.chgfrom:
            out += pkt(b"e", z("<%s>" % o.chgfrom))
        if o.replace_body is not None:
            out += pkt(b"b", o.replace_body.encode().replace(b"\\n",
                                                            b"\r\n"))
        if o.quarantine:
            out += pkt(b"q", z(o.quarantine))
        if out:
            self.request.sendall(out)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    for s in ("reject", "tempfail", "discard", "replycode", "chgfrom",
              "replace-body", "quarantine", "down-after"):
        ap.add_argument("--" + s)
    for s in ("add-header", "insert-header", "change-header",
              "delete-header", "add-rcpt", "del-rcpt"):
        ap.add_argument("--" + s, action="append", default=[])
    opts = ap.parse_args()
    srv = Server(("127.0.0.1", opts.port), Handler)
    srv.opts = opts
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
