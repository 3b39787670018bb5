"""A well-behaved HTTP/2 client (the `h2` package's H2Connection, both ways) for the tests that
watch what the server does to a normal connection; prints one JSON line at the end.

Usage: client.py MODE HOST:PORT PATH [options]

MODE:
  download   GET PATH; prints {"event": "headers"} as soon as the response head is in (the test
             may then signal the server), then reads the body no faster than --kib-per-step
             KiB per --step-ms, and after its end waits for the server to close. Reports the
             status, the body's length and SHA-256, the GOAWAY (code, last stream id) and
             whether the server closed.
  headers    GET PATH once per --sizes entry, one after the other on the same connection, each
             with an `x-big` field of that many characters (0: none). Reports each status.
  idle       GET PATH, then sends nothing: reports how long after the response the server's
             GOAWAY and its close came (within --seconds).
"""
import argparse
import hashlib
import json
import random
import socket
import sys
import time

import h2.events
import h2.exceptions

from peer import ERROR_NAMES, SettingCodes, address, client, request_headers


class Session:
    def __init__(self, addr, timeout, window=None):
        """`window`: our INITIAL_WINDOW_SIZE, and as much again added to the connection's
        window; left to the default (65,535) when None."""
        self.authority = "%s:%d" % addr
        self.sock = socket.create_connection(addr, timeout=timeout)
        self.conn = client({SettingCodes.INITIAL_WINDOW_SIZE: window} if window else None)
        self.streams = {}
        self.goaway = None
        self.goaway_at = None
        self.closed = None
        self.closed_at = None
        self.violations = []
        self.on_data = None  # (stream, bytes) -> None; the default acknowledges at once
        self.on_headers = None
        self.conn.initiate_connection()
        if window:
            self.conn.increment_flow_control_window(window)
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data and self.closed is None:
            try:
                self.sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                self.closed, self.closed_at = "reset", time.monotonic()

    def get(self, path, extra=()):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, request_headers(self.authority, path, extra=extra), end_stream=True)
        self.streams[sid] = {"status": None, "bytes": 0, "sha": hashlib.sha256(), "ended": False, "reset": None}
        self.flush()
        return sid

    def step(self, wait):
        """One read of at most `wait` seconds; False once the connection is closed."""
        if self.closed is not None:
            return False
        self.sock.settimeout(max(wait, 0.001))
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            return True
        except ConnectionResetError:
            self.closed, self.closed_at = "reset", time.monotonic()
            return False
        if not data:
            self.closed, self.closed_at = "eof", time.monotonic()
            return False
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            self.violations.append("%s: %s" % (type(e).__name__, e))
            self.closed, self.closed_at = "client-error", time.monotonic()
            return False
        for ev in events:
            self.take(ev)
        self.flush()
        return True

    def take(self, ev):
        s = self.streams.get(getattr(ev, "stream_id", None) or 0)
        if isinstance(ev, h2.events.ResponseReceived) and s is not None:
            s["status"] = int(dict(ev.headers)[":status"])
            if self.on_headers:
                self.on_headers(ev.stream_id)
        elif isinstance(ev, h2.events.DataReceived) and s is not None:
            s["bytes"] += len(ev.data)
            s["sha"].update(ev.data)
            if self.on_data:
                self.on_data(ev.stream_id, ev.flow_controlled_length)
            else:
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded) and s is not None:
            s["ended"] = True
        elif isinstance(ev, h2.events.StreamReset) and s is not None:
            s["reset"] = ERROR_NAMES.get(ev.error_code, str(ev.error_code))
        elif isinstance(ev, h2.events.ConnectionTerminated) and self.goaway is None:
            self.goaway = {"code": int(ev.error_code), "name": ERROR_NAMES.get(int(ev.error_code), "?"),
                           "last_stream": ev.last_stream_id}
            self.goaway_at = time.monotonic()

    def run_until(self, cond, seconds):
        deadline = time.monotonic() + seconds
        while not cond() and time.monotonic() < deadline:
            if not self.step(min(0.2, max(deadline - time.monotonic(), 0.001))):
                break
        return cond()

    def stream_report(self, sid):
        s = self.streams[sid]
        return {"stream": sid, "status": s["status"], "bytes": s["bytes"], "sha256": s["sha"].hexdigest(),
                "ended": s["ended"], "reset": s["reset"]}

    def report(self, **extra):
        out = {"goaway": self.goaway, "closed": self.closed, "violations": self.violations}
        out.update(extra)
        sys.stdout.write(json.dumps(out, sort_keys=True) + "\n")
        sys.stdout.flush()


def download(s, args):
    acked = {"pending": 0}
    step_bytes = args.kib_per_step * 1024

    def on_headers(_sid):
        sys.stdout.write(json.dumps({"event": "headers"}) + "\n")
        sys.stdout.flush()

    def on_data(sid, n):
        # Open the windows (let the server send more) a step's worth at a time, pausing between
        # steps: the transfer lasts long enough for the test to act in the middle of it.
        acked["pending"] += n
        if acked["pending"] >= step_bytes:
            time.sleep(args.step_ms / 1000.0)
            give(sid)

    def give(sid):
        if acked["pending"]:
            s.conn.increment_flow_control_window(acked["pending"])
            try:
                s.conn.increment_flow_control_window(acked["pending"], stream_id=sid)
            except h2.exceptions.StreamClosedError:
                pass  # that was the last DATA frame
        acked["pending"] = 0

    s.on_headers, s.on_data = on_headers, on_data
    sid = s.get(args.path)
    t0 = time.monotonic()
    s.run_until(lambda: s.streams[sid]["ended"] or s.streams[sid]["reset"], args.seconds)
    took = time.monotonic() - t0
    s.run_until(lambda: s.closed is not None, args.seconds)
    s.report(mode="download", seconds=round(took, 3), **s.stream_report(sid))


def headers(s, args):
    results = []
    for size in [int(x) for x in args.sizes.split(",")]:
        rng = random.Random(size)
        extra = [("x-big", "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(size)))] if size else []
        sid = s.get(args.path, extra)
        s.run_until(lambda: s.streams[sid]["ended"] or s.streams[sid]["reset"], args.seconds)
        r = s.stream_report(sid)
        r["size"] = size
        results.append(r)
        if s.closed is not None or s.goaway is not None:
            break
    s.report(mode="headers", results=results)


def idle(s, args):
    sid = s.get(args.path)
    s.run_until(lambda: s.streams[sid]["ended"] or s.streams[sid]["reset"], 10)
    t0 = time.monotonic()
    s.run_until(lambda: s.closed is not None, args.seconds)
    after = lambda t: None if t is None else round(t - t0, 3)
    s.report(mode="idle", goaway_after_s=after(s.goaway_at), closed_after_s=after(s.closed_at),
             **s.stream_report(sid))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["download", "headers", "idle"])
    p.add_argument("addr", type=address)
    p.add_argument("path")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--kib-per-step", type=int, default=256)
    p.add_argument("--step-ms", type=int, default=20)
    p.add_argument("--sizes", default="0")
    args = p.parse_args()
    window = 2 * args.kib_per_step * 1024 if args.mode == "download" else None
    s = Session(args.addr, timeout=10, window=window)
    {"download": download, "headers": headers, "idle": idle}[args.mode](s, args)


if __name__ == "__main__":
    main()
