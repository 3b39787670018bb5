"""Interop smoke for pollux-h2 through its h2c_server example, with Python's `h2` package:
each flood or abuse ends in GOAWAY with the right code (11 ENHANCE_YOUR_CALM, 9
COMPRESSION_ERROR) and a normal client on another connection is served right after.

    python3 -m venv /tmp/h2venv && /tmp/h2venv/bin/pip install h2
    cargo build --release -p pollux-h2 --example h2c_server
    target/release/examples/h2c_server 127.0.0.1:18090 &
    /tmp/h2venv/bin/python crates/h2/examples/floods.py 18090
"""
import socket, sys, struct, time
import h2.connection, h2.config, h2.events, h2.settings

ADDR = ("127.0.0.1", int(sys.argv[1]))

def conn():
    s = socket.create_connection(ADDR)
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    c.initiate_connection()
    s.sendall(c.data_to_send())
    return s, c

def raw_frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload

def goaway_code(s, c, timeout=3.0):
    s.settimeout(timeout)
    end = time.time() + timeout
    try:
        while time.time() < end:
            data = s.recv(65536)
            if not data:
                return "closed"
            try:
                events = c.receive_data(data)
            except Exception as e:
                return f"client-error {e!r}"
            for e in events:
                if isinstance(e, h2.events.ConnectionTerminated):
                    return e.error_code
    except socket.timeout:
        return "timeout"
    except ConnectionResetError:
        return "reset"
    return "timeout"

HEADERS = [(":method", "GET"), (":scheme", "http"), (":authority", "localhost"), (":path", "/")]

def normal_request():
    s, c = conn()
    c.send_headers(1, HEADERS, end_stream=True)
    s.sendall(c.data_to_send())
    s.settimeout(3)
    body = b""
    while True:
        data = s.recv(65536)
        for e in c.receive_data(data):
            if isinstance(e, h2.events.DataReceived):
                body += e.data
                c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            if isinstance(e, h2.events.StreamEnded):
                s.close()
                return body
        s.sendall(c.data_to_send())

def rapid_reset():
    s, c = conn()
    out = b""
    for i in range(2000):
        sid = 1 + 2 * i
        c.send_headers(sid, HEADERS, end_stream=True)
        c.reset_stream(sid)
        out += c.data_to_send()
    try:
        s.sendall(out)
    except OSError:
        pass
    return goaway_code(s, c)

def ping_flood():
    s, c = conn()
    try:
        for i in range(3000):
            s.sendall(raw_frame(6, 0, 0, b"12345678"))
    except OSError:
        pass
    return goaway_code(s, c)

def settings_flood():
    s, c = conn()
    try:
        for i in range(3000):
            s.sendall(raw_frame(4, 0, 0, b""))
    except OSError:
        pass
    return goaway_code(s, c)

def continuation_flood():
    s, c = conn()
    block = c.encoder.encode(HEADERS)
    try:
        s.sendall(raw_frame(1, 0, 1, block))
        for i in range(100):
            s.sendall(raw_frame(9, 0, 1, b""))
    except OSError:
        pass
    return goaway_code(s, c)

def huge_header_block():
    s, c = conn()
    block = c.encoder.encode(HEADERS)
    try:
        s.sendall(raw_frame(1, 0, 1, block))
        for i in range(10):
            s.sendall(raw_frame(9, 0, 1, b"\x00\x01a\x7f\x81\x7f" + b"a" * 16000))
    except OSError:
        pass
    return goaway_code(s, c)

def table_size_abuse():
    s, c = conn()
    try:
        s.sendall(raw_frame(1, 5, 1, b"\x3f\xe2\x1f\x82"))
    except OSError:
        pass
    return goaway_code(s, c)

def empty_data_flood():
    s, c = conn()
    c.send_headers(1, [(":method", "POST")] + HEADERS[1:], end_stream=False)
    s.sendall(c.data_to_send())
    try:
        for i in range(3000):
            s.sendall(raw_frame(0, 0, 1, b""))
    except OSError:
        pass
    return goaway_code(s, c)

for name, f, want in [
    ("rapid reset", rapid_reset, 11), ("ping flood", ping_flood, 11), ("settings flood", settings_flood, 11),
    ("continuation flood", continuation_flood, 11), ("huge header block", huge_header_block, 11),
    ("hpack table size abuse", table_size_abuse, 9), ("empty data flood", empty_data_flood, 11),
]:
    got = f()
    ok = normal_request() == b"hello from pollux-h2\n"
    print(f"{name}: GOAWAY {got} (want {want}) {'PASS' if got == want else 'FAIL'}; others served: {ok}")
