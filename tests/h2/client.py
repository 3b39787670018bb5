"""A well-behaved HTTP/2 client for the tests that watch what the server does to a normal
connection (the `h2` package's H2Connection both ways; peer.Wire for `download`, see there);
prints one JSON line at the end.

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
  upload     POST PATH with --bytes bytes of body (a `content-length` field unless
             --no-length), sent as the windows allow, until the whole body is out or the
             server answered or reset the stream. Reports the status, the response body's
             length, how many body bytes went, and the stream's reset code.
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

from hyperframe.frame import WindowUpdateFrame

from peer import ERROR_NAMES, SettingCodes, Wire, address, client, report, request_headers


class Session:
    def __init__(self, addr, timeout):
        self.authority = "%s:%d" % addr
        self.sock = socket.create_connection(addr, timeout=timeout)
        self.conn = client()
        self.streams = {}
        self.goaway = None
        self.goaway_at = None
        self.closed = None
        self.closed_at = None
        self.violations = []
        self.conn.initiate_connection()
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
        elif isinstance(ev, h2.events.DataReceived) and s is not None:
            s["bytes"] += len(ev.data)
            s["sha"].update(ev.data)
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


def download(args):
    """On a Wire, not an H2Connection: the `h2` package closes its connection state when a
    GOAWAY arrives and refuses the DATA that RFC 9113 §6.8 lets the server go on sending for
    the streams it kept, which is what this mode is here to watch."""
    step = args.kib_per_step * 1024
    wire = Wire(args.addr)
    conn = client({SettingCodes.INITIAL_WINDOW_SIZE: 2 * step})
    if not wire.handshake(conn):
        wire_report(wire, mode="download", error="no SETTINGS from the server")
        return
    sha = hashlib.sha256()
    wire.on_data = lambda _sid, payload: sha.update(payload)
    deadline = time.monotonic() + args.seconds
    # The connection window as large as the stream's (it starts at 65,535 whatever SETTINGS say).
    wire.send(WindowUpdateFrame(0, window_increment=2 * step - 65535).serialize(), deadline)
    conn.send_headers(1, request_headers(wire.authority, args.path), end_stream=True)
    wire.send(conn.data_to_send(), deadline)
    t0 = time.monotonic()
    done = lambda: 1 in wire.ended or 1 in wire.resets
    told, given = False, 0
    while not done() and wire.ending is None and time.monotonic() < deadline:
        wire.read(0.05)
        if not told and 1 in wire.statuses:
            told = True
            sys.stdout.write(json.dumps({"event": "headers"}) + "\n")
            sys.stdout.flush()
        # Open the windows (let the server send more) a step's worth at a time, pausing between
        # steps: the transfer lasts long enough for the test to act in the middle of it.
        got = wire.data.get(1, 0)
        if got - given >= step and not done():
            time.sleep(args.step_ms / 1000.0)
            n = got - given
            given = got
            wire.send(WindowUpdateFrame(0, window_increment=n).serialize()
                      + WindowUpdateFrame(1, window_increment=n).serialize(), deadline)
    took = time.monotonic() - t0
    if args.wait_close:
        wire.read_until(lambda: wire.ending is not None, max(deadline - time.monotonic(), 1))
    wire_report(wire, mode="download", seconds=round(took, 3), stream=1, status=wire.statuses.get(1),
                bytes=wire.data.get(1, 0), sha256=sha.hexdigest(), ended=1 in wire.ended,
                reset=wire.resets.get(1))


def wire_report(wire, **extra):
    s = wire.summary(**extra)
    s["closed"] = wire.ending
    report(s)


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


def upload(s, args):
    extra = [] if args.no_length else [("content-length", str(args.bytes))]
    sid = s.conn.get_next_available_stream_id()
    s.conn.send_headers(sid, request_headers(s.authority, args.path, method="POST", extra=extra))
    s.streams[sid] = {"status": None, "bytes": 0, "sha": hashlib.sha256(), "ended": False, "reset": None}
    s.flush()
    sent, chunk = 0, b"u" * 16384
    deadline = time.monotonic() + args.seconds
    over = lambda: s.streams[sid]["reset"] or s.streams[sid]["ended"] or s.closed is not None
    while sent < args.bytes and not over() and time.monotonic() < deadline:
        room = min(s.conn.local_flow_control_window(sid), args.bytes - sent, len(chunk))
        if room > 0:
            end = sent + room == args.bytes
            s.conn.send_data(sid, chunk[:room], end_stream=end)
            sent += room
            s.flush()
            s.step(0.001)
        else:
            s.step(0.2)
    s.run_until(lambda: over(), max(deadline - time.monotonic(), 0.5))
    s.report(mode="upload", sent=sent, **s.stream_report(sid))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["download", "headers", "idle", "upload"])
    p.add_argument("addr", type=address)
    p.add_argument("path")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--kib-per-step", type=int, default=256)
    p.add_argument("--step-ms", type=int, default=20)
    p.add_argument("--sizes", default="0")
    p.add_argument("--wait-close", action="store_true", help="download: then wait for the server to close")
    p.add_argument("--bytes", type=int, default=0, help="upload: body length")
    p.add_argument("--no-length", action="store_true", help="upload: no content-length field")
    args = p.parse_args()
    if args.mode == "download":
        download(args)
        return
    s = Session(args.addr, timeout=10)
    {"headers": headers, "idle": idle, "upload": upload}[args.mode](s, args)


if __name__ == "__main__":
    main()
