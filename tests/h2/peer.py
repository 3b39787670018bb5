"""A raw HTTP/2 peer for the scripts in tests/h2: one TCP connection, frames out as bytes (from
the `h2` package's H2Connection where it will send them, built with hyperframe where it would
refuse), frames in parsed with hyperframe and header blocks decoded with hpack, and a summary of
how the connection ended that the Rust tests read as JSON.

Every wait here has a deadline and every loop a count: a server that neither answers nor closes
makes a script end with `"ending": "open"`, never hang.
"""
import json
import selectors
import socket
import sys
import time

import hpack
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.settings import SettingCodes, Settings
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame,
                              PingFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame)

# RFC 9113 §7.
ERROR_NAMES = {0x0: "NO_ERROR", 0x1: "PROTOCOL_ERROR", 0x2: "INTERNAL_ERROR", 0x3: "FLOW_CONTROL_ERROR",
               0x4: "SETTINGS_TIMEOUT", 0x5: "STREAM_CLOSED", 0x6: "FRAME_SIZE_ERROR",
               0x7: "REFUSED_STREAM", 0x8: "CANCEL", 0x9: "COMPRESSION_ERROR", 0xa: "CONNECT_ERROR",
               0xb: "ENHANCE_YOUR_CALM", 0xc: "INADEQUATE_SECURITY", 0xd: "HTTP_1_1_REQUIRED"}


def address(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def client(settings=None):
    """An H2Connection for a client whose first SETTINGS carry `settings` ({SettingCodes: value});
    header names and values are str."""
    conn = H2Connection(H2Configuration(client_side=True, header_encoding="utf-8"))
    if settings:
        values = dict(conn.local_settings.items())
        values.update(settings)
        conn.local_settings = Settings(client=True, initial_values=values)
        conn.max_inbound_frame_size = conn.local_settings.max_frame_size
    return conn


def request_headers(authority, path, method="GET", extra=()):
    return [(":method", method), (":scheme", "http"), (":authority", authority), (":path", path)] + list(extra)


class Wire:
    """The socket and what came back on it.

    `counts` has a count per received frame type (`"PING"`, `"RST_STREAM"`…, acks counted
    apart as `"PING_ACK"`/`"SETTINGS_ACK"`), `goaway` the first GOAWAY (code and last stream
    id), `statuses` each stream's `:status`, `data` the DATA payload bytes per stream, and
    `ending` how the connection ended: `"eof"` (the server closed), `"reset"` (ECONNRESET or
    EPIPE), or `None` while it is open.
    """

    def __init__(self, addr, decoder_table=4096, timeout=5.0):
        self.authority = "%s:%d" % addr
        self.sock = socket.create_connection(addr, timeout=timeout)
        self.sock.setblocking(False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ)
        self.inbox = bytearray()
        self.decoder = hpack.Decoder(max_header_list_size=1 << 24)
        self.decoder.max_allowed_table_size = decoder_table
        self.block = None  # (stream, bytes so far, END_STREAM) while a header block is incomplete
        self.counts = {}
        self.goaway = None
        self.statuses = {}
        self.headers = {}
        self.data = {}
        self.ended = set()  # streams the server ended (END_STREAM)
        self.resets = {}  # stream -> error code of the server's RST_STREAM
        self.ending = None
        self.received = 0
        self.sent = 0
        self.violations = []
        self.on_data = None  # (stream, payload) for every DATA frame, when set

    # ---- out ----

    def handshake(self, conn, wait=5.0):
        """Sends the preface and the SETTINGS of `conn`, waits (at most `wait` seconds) for the
        server's SETTINGS and acknowledges them, and says so on stdout (`{"event": "connected"}`:
        a test may start something else then, knowing the attack is under way). False if the
        SETTINGS did not come."""
        conn.initiate_connection()
        self.send(conn.data_to_send(), time.monotonic() + wait)
        if not self.read_until(lambda: self.counts.get("SETTINGS", 0) > 0, wait):
            return False
        ok = self.send(SettingsFrame(0, flags=["ACK"]).serialize(), time.monotonic() + wait)
        sys.stdout.write(json.dumps({"event": "connected"}) + "\n")
        sys.stdout.flush()
        return ok

    def send(self, data, deadline, read_meanwhile=True):
        """Writes all of `data` unless the connection ends or `deadline` passes first (the server
        stopped reading). True if it was all written."""
        view = memoryview(data)
        while view:
            if self.ending is not None:
                return False
            try:
                n = self.sock.send(view)
                view = view[n:]
                self.sent += n
                continue
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                # What the server sent before it reset the connection (its GOAWAY) may still
                # be waiting to be read.
                self._recv_available()
                self.ending = self.ending or "reset"
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            events = selectors.EVENT_WRITE | (selectors.EVENT_READ if read_meanwhile else 0)
            self.sel.modify(self.sock, events)
            for key, mask in self.sel.select(min(left, 0.5)):
                if mask & selectors.EVENT_READ:
                    self._recv_available()
            self.sel.modify(self.sock, selectors.EVENT_READ)
        return True

    # ---- in ----

    def read(self, wait):
        """Takes in whatever is there, then whatever arrives within `wait` seconds (0: only
        what is there already)."""
        deadline = time.monotonic() + wait
        while self.ending is None:
            left = max(deadline - time.monotonic(), 0)
            if self.sel.select(left):
                self._recv_available()
            elif left == 0:
                return

    def read_until(self, done, wait):
        """Reads until `done()` holds, the connection ends or `wait` seconds pass; `done()`."""
        deadline = time.monotonic() + wait
        while not done() and self.ending is None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if self.sel.select(min(left, 0.2)):
                self._recv_available()
        return done()

    def drain(self, wait):
        """Reads until the server closes or nothing comes for `wait` seconds."""
        while self.ending is None:
            before = self.received
            self.read(wait)
            if self.received == before:
                return

    def _recv_available(self):
        for _ in range(1024):
            try:
                chunk = self.sock.recv(1 << 16)
            except BlockingIOError:
                return
            except ConnectionResetError:
                self.ending = "reset"
                return
            if not chunk:
                self.ending = "eof"
                return
            self.received += len(chunk)
            self.inbox += chunk
            self._parse()

    def _parse(self):
        while len(self.inbox) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(self.inbox[:9]))
            if len(self.inbox) < 9 + length:
                return
            body = memoryview(bytes(self.inbox[9:9 + length]))
            del self.inbox[:9 + length]
            frame.parse_body(body)
            self._take(frame)

    def _count(self, name):
        self.counts[name] = self.counts.get(name, 0) + 1

    def _take(self, f):
        kind = type(f).__name__.replace("Frame", "").upper()
        kind = {"RSTSTREAM": "RST_STREAM", "GOAWAY": "GOAWAY", "WINDOWUPDATE": "WINDOW_UPDATE"}.get(kind, kind)
        if isinstance(f, (PingFrame, SettingsFrame)) and "ACK" in f.flags:
            kind += "_ACK"
        self._count(kind)
        if isinstance(f, GoAwayFrame):
            if self.goaway is None:
                self.goaway = {"code": f.error_code, "name": ERROR_NAMES.get(f.error_code, "?"),
                               "last_stream": f.last_stream_id}
        elif isinstance(f, RstStreamFrame):
            self.resets[f.stream_id] = f.error_code
        elif isinstance(f, DataFrame):
            self.data[f.stream_id] = self.data.get(f.stream_id, 0) + len(f.data)
            if self.on_data:
                self.on_data(f.stream_id, f.data)
            if "END_STREAM" in f.flags:
                self.ended.add(f.stream_id)
        elif isinstance(f, HeadersFrame):
            self.block = (f.stream_id, bytearray(f.data), "END_STREAM" in f.flags)
            if "END_HEADERS" in f.flags:
                self._block_done()
        elif isinstance(f, ContinuationFrame):
            if self.block is None or self.block[0] != f.stream_id:
                self.violations.append("CONTINUATION on stream %d without its HEADERS" % f.stream_id)
                return
            self.block[1].extend(f.data)
            if "END_HEADERS" in f.flags:
                self._block_done()

    def _block_done(self):
        stream, block, end = self.block
        self.block = None
        try:
            fields = self.decoder.decode(bytes(block), raw=False)
        except Exception as e:  # a block we cannot decode is the server's fault: say so
            self.violations.append("HPACK decode on stream %d: %r" % (stream, e))
            return
        self.headers.setdefault(stream, []).extend(fields)
        for name, value in fields:
            if name == ":status" and stream not in self.statuses:
                self.statuses[stream] = int(value)
        if end:
            self.ended.add(stream)

    # ---- the report ----

    def summary(self, **extra):
        out = {
            "ending": self.ending or ("goaway" if self.goaway else "open"),
            "closed": self.ending,
            "goaway": self.goaway,
            "counts": self.counts,
            "statuses": histogram(self.statuses.values()),
            "streams_ended": len(self.ended),
            "data_total": sum(self.data.values()),
            "data_sizes": histogram(self.data.values()),
            "resets": histogram(ERROR_NAMES.get(c, str(c)) for c in self.resets.values()),
            "bytes_sent": self.sent,
            "bytes_received": self.received,
            "violations": self.violations[:20],
        }
        out.update(extra)
        return out


def histogram(values):
    """{"value": how many times it occurs}, for reports that stay short whatever the count."""
    out = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


def report(summary):
    """Prints the summary as the last line of stdout, for the Rust test."""
    sys.stdout.write(json.dumps(summary, sort_keys=True) + "\n")
    sys.stdout.flush()

