#!/usr/bin/python3
"""sts_https.py - an MTA-STS policy server for tests (RFC 8461 3.3).

    sts_https.py ADDR PORT CERT KEY DOCROOT LOG

Serves GET /.well-known/mta-sts.txt over HTTPS (TLS only) on ADDR:PORT
with the certificate CERT/KEY; the body is the file DOCROOT/HOST, HOST
the request's Host header without a port (mta-sts.example.net), as
text/plain; no file: 404. Every request is appended to LOG as
"HOST PATH STATUS". Started by a test and stopped by its PID.
"""
import http.server
import os
import ssl
import sys

addr, port, cert, key, root, log = sys.argv[1:7]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get('Host') or '').split(':')[0].lower()
        path = os.path.join(root, os.path.basename(host))
        body = None
        if self.path == '/.well-known/mta-sts.txt' and host \
                and os.path.isfile(path):
            with open(path, 'rb') as f:
                body = f.read()
        with open(log, 'a') as f:
            f.write('%s %s %d\n' % (host, self.path, 200 if body else 404))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer((addr, int(port)), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print('listening', flush=True)
srv.serve_forever()
