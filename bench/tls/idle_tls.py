#!/usr/bin/env python3
"""TLS variant of bench/kit/idle_conns.py, for bench/tls.sh.

Usage: idle_tls.py HOST PORT N PATH PID[,PID...]

Opens N TLS keep-alive connections to HOST:PORT (full handshakes, HTTP/1.1 by ALPN, the
certificate not checked), sends one GET PATH on each and reads the whole response, so every
connection has completed its handshake and one request; then holds them all idle and reads the
server's memory (all PIDs given: VmRSS from /proc/PID/status and Pss from
/proc/PID/smaps_rollup) before and after. At most 256 handshakes are in flight at once
(asyncio, one thread), so 10,000 connections open within seconds, well inside every server's
keep-alive timeout; after the reading it checks that every connection is still open and says
how many are. Prints one line:
  conns=N ok=OK alive=A rss_before=B rss_after=A bytes_per_conn=X pss_bytes_per_conn=Y secs=T
"""
import asyncio
import ssl
import sys
import time

host, port, n, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
pids = [int(p) for p in sys.argv[5].split(",")]


def mem():
    rss = pss = 0
    for p in pids:
        for line in open(f"/proc/{p}/status"):
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1]) * 1024
        for line in open(f"/proc/{p}/smaps_rollup"):
            if line.startswith("Pss:"):
                pss += int(line.split()[1]) * 1024
    return rss, pss


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ctx.set_alpn_protocols(["http/1.1"])
request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()


async def one(sem, conns):
    async with sem:
        try:
            r, w = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=ctx, server_hostname="localhost"), 20)
            w.write(request)
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 20)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await asyncio.wait_for(r.readexactly(length), 20)
            conns.append((r, w))
            return head.startswith(b"HTTP/1.1 200")
        except Exception as e:  # counted as not ok; the first few are shown
            if one.errors < 3:
                print(f"idle_tls: {type(e).__name__}: {e}", file=sys.stderr)
            one.errors += 1
            return False


one.errors = 0


async def main():
    before = mem()
    t0 = time.monotonic()
    sem = asyncio.Semaphore(256)
    conns = []
    oks = await asyncio.gather(*(one(sem, conns) for _ in range(n)))
    secs = time.monotonic() - t0
    await asyncio.sleep(1)
    after = mem()
    await asyncio.sleep(0.2)
    alive = sum(1 for r, w in conns if not r.at_eof() and not w.is_closing())
    print(f"conns={n} ok={sum(oks)} alive={alive} rss_before={before[0]} rss_after={after[0]} "
          f"bytes_per_conn={(after[0] - before[0]) / n:.0f} "
          f"pss_bytes_per_conn={(after[1] - before[1]) / n:.0f} secs={secs:.1f}")
    for _, w in conns:
        w.transport.abort()


asyncio.run(main())
