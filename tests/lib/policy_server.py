#!/usr/bin/python3
"""policy_server.py - a delegated SMTPD policy server for the tests.

SYNOPSIS
    policy_server.py --inet PORT | --unix PATH  --log FILE [--silent]

Speaks Postfix's SMTPD_POLICY_README protocol on 127.0.0.1:PORT or a
unix socket (mode 0666), on as many connections as come, and appends one
JSON line per request to FILE: {"conn": N, "attrs": {name: value}}, N
counting connections from 1. The action depends on the recipient's
local part (before "@"):
    reject    REJECT go away
    ok        OK
    dip       DEFER_IF_PERMIT try later
    code      450 4.2.0 custom code
    prepend   PREPEND X-Policy: seen
    noaction  a reply without action= (a broken server)
    anything else, and protocol_state DATA: DUNNO
--silent accepts connections and never answers (a hung server).
--one-shot closes each connection after its first reply.
Runs until killed; prints "ready" on stdout once listening.
"""
import argparse
import json
import os
import socket
import socketserver
import sys
import threading
import time

ACTIONS = {
    "reject": "REJECT go away",
    "ok": "OK",
    "dip": "DEFER_IF_PERMIT try later",
    "code": "450 4.2.0 custom code",
    "prepend": "PREPEND X-Policy: seen",
}

lock = threading.Lock()
conn_count = [0]


def action_for(attrs):
    if attrs.get("protocol_state") == "DATA":
        return "DUNNO"
    local = attrs.get("recipient", "").split("@")[0]
    return ACTIONS.get(local, "DUNNO")


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        with lock:
            conn_count[0] += 1
            conn = conn_count[0]
        if self.server.silent:
            time.sleep(60)
            return
        attrs = {}
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line:
                name, _, value = line.partition("=")
                attrs[name] = value
                continue
            with lock:
                with open(self.server.log, "a") as f:
                    f.write(json.dumps({"conn": conn, "attrs": attrs}) + "\n")
            if attrs.get("recipient", "").startswith("noaction@"):
                reply = "foo=bar\n\n"
            else:
                reply = "action=%s\n\n" % action_for(attrs)
            self.wfile.write(reply.encode())
            self.wfile.flush()
            attrs = {}
            if self.server.one_shot:
                return


class TCP(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


class Unix(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--inet", type=int)
    ap.add_argument("--unix")
    ap.add_argument("--log", required=True)
    ap.add_argument("--silent", action="store_true")
    ap.add_argument("--one-shot", action="store_true")
    a = ap.parse_args()
    if a.unix:
        if os.path.exists(a.unix):
            os.unlink(a.unix)
        srv = Unix(a.unix, Handler)
        os.chmod(a.unix, 0o666)
    else:
        srv = TCP(("127.0.0.1", a.inet), Handler)
    srv.log = a.log
    srv.silent = a.silent
    srv.one_shot = a.one_shot
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
