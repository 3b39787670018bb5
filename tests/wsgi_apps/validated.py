"""An application wrapped in wsgiref.validate.validator, which checks both sides of PEP 3333
and raises or warns at the first breach. Every warning is counted; /warnings reports them."""
import hashlib
import threading
import warnings
from wsgiref.validate import validator

_lock = threading.Lock()
seen = []


def _record(message, category, filename, lineno, file=None, line=None):
    with _lock:
        seen.append("%s: %s" % (category.__name__, message))


warnings.showwarning = _record
warnings.simplefilter("always")


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/warnings":
        with _lock:
            body = ("%d\n" % len(seen) + "".join(s + "\n" for s in seen[:20])).encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    method = environ["REQUEST_METHOD"]
    if method == "POST":
        # The validator allows read(size) only (PEP 3333's first edition had no read()).
        parts = []
        while True:
            piece = environ["wsgi.input"].read(8192)
            if not piece:
                break
            parts.append(piece)
        data = b"".join(parts)
        body = ("%d %s\n" % (len(data), hashlib.sha256(data).hexdigest())).encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]
    if path == "/gen":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"one\n", b"two\n"])
    body = ("%s %s\n" % (method, path)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


application = validator(app)
