"""WSGI applications that exercise one rule of PEP 3333 each, for tests/wsgi*.rs.

Every route answers through the raw WSGI interface (no framework), so what the test sees is
what the server did with exactly this behaviour of the application.
"""
import hashlib
import os
import threading
import time

# close() calls seen per route, for the tests that check it happens exactly once.
_lock = threading.Lock()
closes = {}


class Body:
    """An iterable with close(), counting its calls under `name`."""

    def __init__(self, name, items, fail_at=None, delay=0.0):
        self.name, self.items, self.fail_at, self.delay = name, items, fail_at, delay

    def __iter__(self):
        for i, item in enumerate(self.items):
            if self.fail_at == i:
                raise RuntimeError("failing on purpose at item %d" % i)
            if self.delay and i:
                time.sleep(self.delay)
            yield item

    def close(self):
        with _lock:
            closes[self.name] = closes.get(self.name, 0) + 1


def text(start_response, body, status="200 OK", extra=()):
    body = body.encode() if isinstance(body, str) else body
    start_response(status, [("Content-Type", "text/plain")] + list(extra))
    return [body]


def qs(environ):
    out = {}
    for part in environ.get("QUERY_STRING", "").split("&"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out


def application(environ, start_response):
    path = environ["PATH_INFO"]
    q = qs(environ)

    if path == "/hello":
        return text(start_response, "Hello World!\n")

    if path.startswith("/environ"):
        return environ_report(environ, start_response)

    if path == "/hash":
        # Reads the body in pieces of a size the test chooses, as an upload handler does.
        h, n = hashlib.sha256(), 0
        size = int(q.get("piece", "65536"))
        inp = environ["wsgi.input"]
        while True:
            piece = inp.read(size)
            if not piece:
                break
            h.update(piece)
            n += len(piece)
        return text(start_response, "%d %s\n" % (n, h.hexdigest()))

    if path == "/lines":
        # readline, readlines and iteration over wsgi.input.
        inp = environ["wsgi.input"]
        first = inp.readline()
        limited = inp.readline(3)
        rest_of_second = inp.readline()
        two = inp.readlines(1)
        others = list(inp)
        out = repr([first, limited, rest_of_second, two, others])
        return text(start_response, out + "\n")

    if path == "/stream":
        # A line every 100 ms: the client must get each as it is made.
        n = int(q.get("n", "5"))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body("stream", [b"line %d %.3f\n" % (i, time.time()) for i in range(n)], delay=0.1)

    if path == "/close-normal":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body("normal", [b"a", b"b", b"c"])

    if path == "/close-raise":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body("raise", [b"a", b"b", b"c"], fail_at=1)

    if path == "/close-gone":
        # Much more than the server buffers: the client leaves before the end.
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Body("gone", [b"x" * 65536] * 4096)

    if path == "/closes":
        with _lock:
            report = " ".join("%s=%d" % kv for kv in sorted(closes.items()))
        return text(start_response, report + "\n")

    if path == "/exc-before":
        # PEP 3333's error handling before the head: replace the head with exc_info.
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("something broke")
        except ValueError:
            import sys
            start_response("500 Internal Server Error", [("Content-Type", "text/plain"),
                                                         ("X-Replaced", "yes")], sys.exc_info())
            return [b"replaced head\n"]

    if path == "/exc-after":
        # After the head, start_response(exc_info) re-raises: the server must cut the response.
        def gen():
            start_response("200 OK", [("Content-Type", "text/plain")])
            yield b"first part\n"
            try:
                raise ValueError("too late")
            except ValueError:
                import sys
                start_response("500 Internal Server Error", [("Content-Type", "text/plain")],
                               sys.exc_info())
            yield b"never sent\n"
        return gen()

    if path == "/twice":
        start_response("200 OK", [])
        start_response("200 OK", [])
        return [b"unreachable\n"]

    if path == "/lazy":
        # start_response called only when the generator first runs.
        def gen():
            start_response("201 Created", [("Content-Type", "text/plain"), ("X-Lazy", "1")])
            yield b""
            yield b"made lazily\n"
        return gen()

    if path == "/empty-gen":
        def gen():
            start_response("204 No Content", [])
            return
            yield b""
        return gen()

    if path == "/cl-short":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "100")])
        return iter([b"only fifty bytes".ljust(50, b".")])

    if path == "/cl-long":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return iter([b"12345", b"6789-and-more"])

    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        write(b"imperatively\n")
        return [b"then returned\n"]

    if path == "/raise":
        raise RuntimeError("before the head")

    if path == "/hop":
        start_response("200 OK", [("Connection", "close"), ("Content-Type", "text/plain")])
        return [b"hop-by-hop\n"]

    if path == "/not-bytes":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["a str, not bytes"]

    if path == "/file":
        # wsgi.file_wrapper around a real file: the server sends it with sendfile.
        f = open(q["path"], "rb")
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](f, 65536)

    if path == "/block":
        # Holds its thread until the test creates ?file=F; says it entered by creating F.entered.
        f = q["file"]
        open(f + ".entered", "w").close()
        for _ in range(1000):  # at most 10 s
            if os.path.exists(f):
                break
            time.sleep(0.01)
        return text(start_response, "released\n")

    if path == "/sleep":
        time.sleep(int(q.get("ms", "100")) / 1000)
        return text(start_response, "slept\n")

    if path == "/errors":
        environ["wsgi.errors"].write("first line\nsecond ")
        environ["wsgi.errors"].writelines(["line\n"])
        environ["wsgi.errors"].flush()
        return text(start_response, "logged\n")

    if path == "/pid":
        return text(start_response, "%d\n" % os.getpid())

    return text(start_response, "no route %s\n" % path, "404 Not Found")


def environ_report(environ, start_response):
    """Checks every key PEP 3333 and CGI define, with its type, from inside the app."""
    problems = []

    def need(key, kind):
        if key not in environ:
            problems.append("missing %s" % key)
        elif type(environ[key]) is not kind:
            problems.append("%s is %s" % (key, type(environ[key]).__name__))

    for key in ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME",
                "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT", "REQUEST_URI",
                "wsgi.url_scheme"):
        need(key, str)
    for key in ("wsgi.input_terminated", "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"):
        need(key, bool)
    need("wsgi.version", tuple)
    for key, v in environ.items():
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if type(v) is not str:
                problems.append("%s is %s" % (key, type(v).__name__))
    for key in ("wsgi.input", "wsgi.errors", "wsgi.file_wrapper"):
        if key not in environ:
            problems.append("missing %s" % key)
    for name in ("read", "readline", "readlines", "__iter__"):
        if not hasattr(environ["wsgi.input"], name):
            problems.append("wsgi.input has no %s" % name)
    for name in ("write", "writelines", "flush"):
        if not hasattr(environ["wsgi.errors"], name):
            problems.append("wsgi.errors has no %s" % name)
    lines = ["%s=%s" % (k, environ[k]) for k in sorted(environ) if not k.startswith("wsgi.")
             or k in ("wsgi.url_scheme", "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once",
                      "wsgi.input_terminated", "wsgi.version")]
    lines.append("PATH_INFO bytes=%s" % environ["PATH_INFO"].encode("latin-1").hex())
    lines.append("problems=%s" % ("; ".join(problems) or "none"))
    body = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [body]
