#!/usr/bin/env python3
"""Loopback OAuth2 token-introspection stub for Dovecot's oauth2 passdb.

Dovecot (introspection_mode = auth) sends
    GET /introspect  with  Authorization: Bearer TOKEN
and expects a JSON object.  A token listed in the tokens file (JSON object
token -> username, re-read on every request so tests can add or revoke
tokens while running) gets {"username": U, "active": "true"}; any other
token gets HTTP 401 {"active": "false"}.  Every request is appended to the
log file as one JSON line {"path", "token", "valid"} so tests can assert
which token the client presented.

Usage: oauth_stub.py --tokens FILE --log FILE --port-file FILE
Binds 127.0.0.1 on a kernel-chosen port and writes it to --port-file.
"""
import argparse
import http.server
import json
import os
import threading


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            auth = self.headers.get("Authorization", "")
            token = auth[7:].strip() \
                if auth.lower().startswith("bearer ") else ""
            try:
                with open(args.tokens, encoding="utf-8") as f:
                    tokens = json.load(f)
            except (OSError, ValueError):
                tokens = {}
            user = tokens.get(token) if token else None
            with lock, open(args.log, "a", encoding="utf-8") as f:
                f.write(json.dumps({"path": self.path, "token": token,
                                    "valid": user is not None}) + "\n")
            if user is not None:
                code, body = 200, {"username": user, "active": "true"}
            else:
                code, body = 401, {"active": "false", "error": "invalid_token"}
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _answer
        do_POST = _answer

        def log_message(self, *a):  # keep stderr quiet
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
