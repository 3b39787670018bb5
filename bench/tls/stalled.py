#!/usr/bin/env python3
"""Memory of abandoned TLS handshakes: opens N connections to a TLS server, sends each the first
half of a real ClientHello (made by Python's ssl module, which is what a browser's hello looks
like to the server: a record header announcing more bytes than arrive), and holds them. Reads
the server processes' memory before and after (VmRSS and Pss, summed over --pids) and prints
one line: conns=N alive=A bytes_per_conn=R pss_bytes_per_conn=P secs=S (R from VmRSS),
as tlsload --hold prints it.

The connections are held for well under the servers' handshake timeouts (10 s for pollux and
h2o, 60 s for nginx): the reading is taken about one second after the last connection opened.

Usage: stalled.py --addr 127.0.0.1:PORT --conns 10000 --pids PID[,PID]
"""
import argparse
import socket
import ssl
import time


def client_hello() -> bytes:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        conn.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def mem(pids):
    rss = pss = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            rss += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) * 1024
        with open(f"/proc/{pid}/smaps_rollup") as f:
            pss += next(int(l.split()[1]) for l in f if l.startswith("Pss:")) * 1024
    return rss, pss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--pids", required=True)
    a = ap.parse_args()
    host, port = a.addr.rsplit(":", 1)
    pids = [int(p) for p in a.pids.split(",")]
    hello = client_hello()
    half = hello[: len(hello) // 2]
    start = time.monotonic()
    before = mem(pids)
    socks = []
    for _ in range(a.conns):
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(half)
        socks.append(s)
    time.sleep(1.0)
    # Alive: the server has not closed it (a non-blocking peek finds nothing to read yet).
    alive = 0
    for s in socks:
        s.setblocking(False)
        try:
            alive += 0 if s.recv(1, socket.MSG_PEEK) == b"" else 1
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    after = mem(pids)
    secs = time.monotonic() - start
    for s in socks:
        s.close()
    n = a.conns
    print(
        f"conns={n} alive={alive} hello_bytes={len(hello)} sent={len(half)} "
        f"bytes_per_conn={(after[0] - before[0]) / n:.0f} "
        f"pss_bytes_per_conn={(after[1] - before[1]) / n:.0f} secs={secs:.1f}"
    )


if __name__ == "__main__":
    main()
