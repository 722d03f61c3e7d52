#!/usr/bin/env python3
"""A TCP relay between popvault and a real POP3 server (plain POP3 only),
to see how the client pipelines and to cut a session mid-pipeline; with
--up-rate alone, a slow link to any TCP server (s3_migrate.t: an S3 store).

    pipeproxy.py --port P --to-port Q --log FILE [--strip-pipelining] [--down-rate B]
                 [--up-rate B] [--check-dele | --cut-at-dele] [--data DIR]

Prints "ready" once listening, then relays connection after connection.
The log has one line per chunk the client wrote:
    CONN SEQ cmds RETR 1|RETR 2|...
and, with --check-dele, for every chunk holding DELEs a line
    CONN SEQ check committed=N deles=1,2,...
where N is the number of messages in the catalog of the archive DIR
(either engine: lib/pvcatalog.py), read before
the chunk is passed on: every message DELEd must be among them.
--cut-at-dele: the first such chunk is logged as "cut" instead, passed on
to the server, and both sides are closed at once, with RETRs still in
flight and no QUIT; later connections are refused (closed at once).
--strip-pipelining removes PIPELINING from the server's CAPA replies.
--down-rate B: the server's bytes reach the client at about B bytes/s.
--up-rate B: the client's bytes reach the server at about B bytes/s.
"""
import argparse
import socket
import os
import sys
import threading
import time

lock = threading.Lock()
state = {"conn": 0, "cut": False}


def log(f, line):
    with lock:
        f.write(line + "\n")
        f.flush()


sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvcatalog  # noqa: E402


def committed(data):
    c = pvcatalog.connect(data, readonly=True)
    try:
        return int(c.value("SELECT count(*) FROM messages"))
    finally:
        c.close()


def relay(a, cli, logf):
    with lock:
        state["conn"] += 1
        conn = state["conn"]
        refused = state["cut"]
    if refused:
        cli.close()
        return
    srv = socket.create_connection(("127.0.0.1", a.to_port))
    done = threading.Event()

    def down():     # server -> client
        try:
            while True:
                d = srv.recv(65536)
                if not d:
                    break
                if a.strip_pipelining:
                    d = d.replace(b"\r\nPIPELINING\r\n", b"\r\n")
                cli.sendall(d)
                if a.down_rate:
                    time.sleep(len(d) / a.down_rate)
        except OSError:
            pass
        done.set()
        try:
            cli.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    t = threading.Thread(target=down, daemon=True)
    t.start()
    seq = 0
    pending = b""
    try:
        while True:
            d = cli.recv(65536)
            if not d:
                break
            seq += 1
            pending += d
            lines = pending.split(b"\r\n")
            pending = lines.pop()
            cmds = [l.decode("ascii", "replace") for l in lines]
            log(logf, "%d %d cmds %s" % (conn, seq, "|".join(cmds)))
            deles = [c.split()[1] for c in cmds if c.startswith("DELE ")]
            if deles and (a.check_dele or a.cut_at_dele):
                cut = a.cut_at_dele and not state["cut"]
                log(logf, "%d %d %s committed=%d deles=%s" % (
                    conn, seq, "cut" if cut else "check", committed(a.data),
                    ",".join(deles)))
                if cut:
                    with lock:
                        state["cut"] = True
                    srv.sendall(d)
                    break
            srv.sendall(d)
            if a.up_rate:
                time.sleep(len(d) / a.up_rate)
    except OSError:
        pass
    for s in (cli, srv):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    done.wait(5)
    cli.close()
    srv.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--to-port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--strip-pipelining", action="store_true")
    ap.add_argument("--down-rate", type=float, default=0)
    ap.add_argument("--up-rate", type=float, default=0)
    ap.add_argument("--check-dele", action="store_true")
    ap.add_argument("--cut-at-dele", action="store_true")
    ap.add_argument("--data")
    a = ap.parse_args()
    if (a.check_dele or a.cut_at_dele) and not a.data:
        ap.error("--check-dele and --cut-at-dele need --data")
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(8)
    logf = open(a.log, "a")
    print("ready", flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=relay, args=(a, c, logf), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
